//! The upload store: files kept in the database (`uploads`), so every instance serves
//! them. Only JPEG and PNG photos are taken, recognized by their content (magic bytes),
//! never by name or declared type; they are decoded under size and memory caps, turned
//! upright by their EXIF orientation and re-encoded, which drops EXIF (GPS, device)
//! and anything hidden after the image data. Who may read a file is decided by the case
//! it belongs to (`cases::service`): staff whose scope covers the case, or the member
//! who filed it.

use std::io::Cursor;

use chrono::{DateTime, Utc};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait};
use sha2::{Digest, Sha256};

use crate::config::UploadSettings;
use crate::error::{AppError, AppResult, ErrorCode};

/// Decoder memory cap: a forged header cannot make the decoder allocate more.
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;
const JPEG_QUALITY: u8 = 85;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Jpeg,
    Png,
}

impl ImageKind {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }

    fn format(self) -> ImageFormat {
        match self {
            Self::Jpeg => ImageFormat::Jpeg,
            Self::Png => ImageFormat::Png,
        }
    }
}

/// What the bytes are, by their first bytes alone.
pub fn sniff(bytes: &[u8]) -> Option<ImageKind> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageKind::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageKind::Png)
    } else {
        None
    }
}

/// A photo ready to store: re-encoded, upright, without metadata.
#[derive(Debug, Clone)]
pub struct CleanImage {
    pub bytes: Vec<u8>,
    pub kind: ImageKind,
}

/// Checks size and type, decodes under caps, applies the EXIF orientation and
/// re-encodes. Any failure is a clear Chinese error and nothing is stored.
pub fn clean_image(bytes: &[u8], settings: &UploadSettings) -> AppResult<CleanImage> {
    if bytes.is_empty() {
        return Err(AppError::field("photo", "文件为空"));
    }
    if bytes.len() > settings.max_bytes {
        return Err(AppError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "照片不能超过 {}，请压缩后再上传",
                size_text(settings.max_bytes)
            ),
        ));
    }
    let kind = sniff(bytes).ok_or_else(|| {
        AppError::new(
            ErrorCode::UnsupportedMediaType,
            "只能上传 JPEG 或 PNG 格式的照片",
        )
    })?;
    let unreadable = || {
        AppError::new(
            ErrorCode::UnsupportedMediaType,
            "照片无法读取，请换一张照片再试",
        )
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), kind.format());
    let mut limits = Limits::default();
    limits.max_image_width = Some(settings.max_pixels_side);
    limits.max_image_height = Some(settings.max_pixels_side);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| {
        tracing::info!(error = %e, "upload refused by the decoder");
        unreadable()
    })?;
    let (w, h) = decoder.dimensions();
    if w > settings.max_pixels_side || h > settings.max_pixels_side {
        return Err(AppError::field(
            "photo",
            format!(
                "照片尺寸过大（不超过 {0}×{0} 像素）",
                settings.max_pixels_side
            ),
        ));
    }
    // A broken EXIF block must not lose the photo: it is shown as stored.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| {
        tracing::info!(error = %e, "upload not decodable");
        unreadable()
    })?;
    img.apply_orientation(orientation);
    let mut out = Vec::new();
    match kind {
        ImageKind::Jpeg => {
            let rgb = img.to_rgb8();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
                .encode_image(&rgb)
                .map_err(AppError::internal)?;
        }
        ImageKind::Png => {
            img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
                .map_err(AppError::internal)?;
        }
    }
    Ok(CleanImage { bytes: out, kind })
}

fn size_text(bytes: usize) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MB", bytes / (1024 * 1024))
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

/// Who put the file there.
#[derive(Debug, Clone, Copy)]
pub enum Owner {
    Member(i64),
    Account(i64),
}

/// Stores a cleaned image (inside the caller's transaction).
pub async fn store(
    db: &impl ConnectionTrait,
    image: &CleanImage,
    owner: Owner,
    case_id: Option<i64>,
    now: DateTime<Utc>,
) -> AppResult<entity::upload::Model> {
    let (owner_kind, owner_id) = match owner {
        Owner::Member(id) => ("member", id),
        Owner::Account(id) => ("account", id),
    };
    Ok(entity::upload::ActiveModel {
        id: NotSet,
        content_type: Set(image.kind.content_type().to_owned()),
        size: Set(i64::try_from(image.bytes.len()).unwrap_or(i64::MAX)),
        sha256: Set(hex::encode(Sha256::digest(&image.bytes))),
        bytes: Set(image.bytes.clone()),
        owner_kind: Set(owner_kind.to_owned()),
        owner_id: Set(Some(owner_id)),
        case_id: Set(case_id),
        created_at: Set(now),
    }
    .insert(db)
    .await?)
}

pub async fn find(db: &impl ConnectionTrait, id: i64) -> AppResult<entity::upload::Model> {
    entity::upload::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("文件不存在"))
}

/// The stored bytes as a response: their own type, never sniffed, never run.
pub fn respond(u: &entity::upload::Model) -> actix_web::HttpResponse {
    use actix_web::http::header;
    actix_web::HttpResponse::Ok()
        .content_type(u.content_type.clone())
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        ))
        .insert_header((header::CONTENT_DISPOSITION, "inline"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(u.bytes.clone())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn settings() -> UploadSettings {
        UploadSettings::default()
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, _| image::Rgb([(x * 10) as u8, 0, 0]));
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn sniffs_by_content_not_by_name() {
        assert_eq!(sniff(&png(2, 2)), Some(ImageKind::Png));
        assert_eq!(sniff(b"GIF89a...."), None);
        assert_eq!(sniff(b"%PDF-1.7"), None);
    }

    #[test]
    fn refuses_oversized_and_non_images() {
        let mut s = settings();
        s.max_bytes = 10;
        assert_eq!(
            clean_image(&png(4, 4), &s).unwrap_err().code,
            ErrorCode::PayloadTooLarge
        );
        assert_eq!(
            clean_image(b"<html>not a photo</html>", &settings())
                .unwrap_err()
                .code,
            ErrorCode::UnsupportedMediaType
        );
        // A PNG signature over garbage: recognized, then refused by the decoder.
        let mut fake = b"\x89PNG\r\n\x1a\n".to_vec();
        fake.extend_from_slice(&[0u8; 64]);
        assert_eq!(
            clean_image(&fake, &settings()).unwrap_err().code,
            ErrorCode::UnsupportedMediaType
        );
    }

    #[test]
    fn refuses_images_larger_than_the_side_cap() {
        let mut s = settings();
        s.max_pixels_side = 16;
        assert!(clean_image(&png(17, 4), &s).is_err());
        assert!(clean_image(&png(16, 4), &s).is_ok());
    }
}
