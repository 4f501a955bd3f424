//! actix's own extractor errors (bad path segment, query, JSON or form body) as the
//! project's errors, registered once for the whole app (`configure`). serde's English
//! text never reaches a user: it goes to the debug log. The API (`/api/…`, the sandbox's
//! API mock) answers a problem document; pages (`/m/…`, `/projector/…`, the binding and
//! sandbox pages) answer a Chinese HTML page.

use actix_web::error::{
    InternalError, JsonPayloadError, PathError, QueryPayloadError, UrlencodedError,
};
use actix_web::{HttpRequest, web};

use crate::error::{AppError, ErrorCode, FieldError};

/// Registers the four extractor configurations; `json_limit` bounds JSON bodies.
pub fn configure(cfg: &mut web::ServiceConfig, json_limit: usize) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(json_limit)
            .error_handler(json_error),
    )
    .app_data(web::PathConfig::default().error_handler(path_error))
    .app_data(web::QueryConfig::default().error_handler(query_error))
    .app_data(web::FormConfig::default().error_handler(form_error));
}

/// Machine clients get problems; everything else is a page a person looks at.
fn wants_problem(req: &HttpRequest) -> bool {
    let path = req.path();
    path.starts_with("/api/") || path.starts_with("/sandbox/wechat-api/")
}

fn respond(
    req: &HttpRequest,
    app: AppError,
    cause: impl std::fmt::Debug + std::fmt::Display + 'static,
) -> actix_web::Error {
    tracing::debug!(code = app.code.as_str(), path = req.path(), cause = %cause, "malformed request");
    if wants_problem(req) {
        app.into()
    } else {
        InternalError::from_response(cause, crate::web::error_page(&app, None)).into()
    }
}

/// The field serde names in "missing field `x`" / "unknown field `x`", with a Chinese reason.
fn named_field(serde_text: &str) -> Option<FieldError> {
    let field_in = |prefix: &str| {
        let rest = serde_text.split(prefix).nth(1)?;
        let name = rest.strip_prefix('`')?.split('`').next()?;
        // Only identifiers: nothing of the submitted value is echoed.
        (!name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then(|| name.to_owned())
    };
    let (field, message) = if let Some(f) = field_in("missing field ") {
        (f, "缺少此项")
    } else if let Some(f) = field_in("unknown field ") {
        (f, "不认识的字段")
    } else {
        return None;
    };
    Some(FieldError {
        field,
        message: message.to_owned(),
        row: None,
    })
}

fn with_field(app: AppError, serde_text: &str) -> AppError {
    match named_field(serde_text) {
        Some(f) => {
            let detail = format!("{}：{} {}", app.detail, f.field, f.message);
            AppError::new(app.code, detail).with_errors(vec![f])
        }
        None => app,
    }
}

fn json_error(err: JsonPayloadError, req: &HttpRequest) -> actix_web::Error {
    let app = match &err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            AppError::new(ErrorCode::PayloadTooLarge, "请求体超过大小限制")
        }
        JsonPayloadError::ContentType => AppError::new(
            ErrorCode::UnsupportedMediaType,
            "请求体须为 JSON (Content-Type: application/json)",
        ),
        JsonPayloadError::Deserialize(e) => {
            use serde_json::error::Category;
            let at = format!("（第 {} 行第 {} 列）", e.line(), e.column());
            // validation_failed for every JSON that does not read: the code clients know.
            match e.classify() {
                Category::Syntax => AppError::validation(format!("请求体不是有效的 JSON{at}")),
                Category::Eof => AppError::validation(format!("请求体 JSON 不完整{at}")),
                Category::Data => with_field(
                    AppError::validation(format!("JSON 中的字段或取值不符合要求{at}")),
                    &e.to_string(),
                ),
                Category::Io => AppError::bad_request("无法读取请求体"),
            }
        }
        _ => AppError::bad_request("无法读取请求体"),
    };
    respond(req, app, err)
}

fn path_error(err: PathError, req: &HttpRequest) -> actix_web::Error {
    // A malformed id names nothing that could exist.
    respond(
        req,
        AppError::not_found("地址中的参数格式不对（编号应为数字）"),
        err,
    )
}

fn query_error(err: QueryPayloadError, req: &HttpRequest) -> actix_web::Error {
    let app = with_field(
        AppError::validation("查询参数格式不对（数字、日期或取值不符合要求）"),
        &err.to_string(),
    );
    respond(req, app, err)
}

fn form_error(err: UrlencodedError, req: &HttpRequest) -> actix_web::Error {
    let app = match &err {
        UrlencodedError::Overflow { .. } => {
            AppError::new(ErrorCode::PayloadTooLarge, "提交的内容过大")
        }
        UrlencodedError::ContentType => AppError::new(
            ErrorCode::UnsupportedMediaType,
            "请以表单方式提交 (application/x-www-form-urlencoded)",
        ),
        UrlencodedError::Parse(e) => with_field(
            AppError::validation("表单内容不符合要求，请检查后重新提交"),
            &e.to_string(),
        ),
        _ => AppError::bad_request("无法读取提交的表单"),
    };
    respond(req, app, err)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_identifiers_are_lifted_from_serde_text() {
        let f = named_field("missing field `org_id` at line 1 column 3").unwrap();
        assert_eq!(f.field, "org_id");
        assert_eq!(
            named_field("unknown field `lmit`, expected one of `limit`")
                .unwrap()
                .field,
            "lmit"
        );
        assert!(named_field("invalid digit found in string").is_none());
        assert!(named_field("unknown field `<script>`").is_none());
    }
}
