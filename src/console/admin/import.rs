//! 导入: roster upload → dry run with row-by-row errors → confirm (the file waits in the
//! live store for one confirmation).

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use minijinja::{Value, context};

use crate::auth::Perm;
use crate::console::{ConsoleUser, Posted, error, page, refuse_cross_site};
use crate::error::{AppError, AppResult};
use crate::org::import;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/import", web::get().to(import_form))
        .route("/console/import", web::post().to(import_upload))
        .route("/console/import/confirm", web::post().to(import_confirm));
}

/// How long an uploaded roster waits for its confirmation (kept in the live store:
/// if it is lost, the admin uploads again).
const PENDING_IMPORT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

fn pending_key(account: i64, token: &str) -> String {
    format!("console:import:{account}:{token}")
}

fn import_page(
    req: &HttpRequest,
    user: &ConsoleUser,
    status: StatusCode,
    ctx: Value,
) -> HttpResponse {
    page(
        req,
        user,
        status,
        "console/import.html",
        context! { title => "导入名册", ..ctx },
    )
}

async fn import_form(req: HttpRequest, user: ConsoleUser) -> HttpResponse {
    if let Err(e) = user.principal.require(Perm::PeopleWrite) {
        return error(&req, &user, &e);
    }
    import_page(&req, &user, StatusCode::OK, context! {})
}

/// Reads the uploaded file (one part named `file`) under the upload limit.
async fn read_file(mut payload: Multipart, cap: usize) -> AppResult<(String, Vec<u8>)> {
    let bad = || AppError::bad_request("上传无法读取，请重新选择文件");
    let mut out = None;
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|_| bad())?;
        let is_file = field.name() == Some("file");
        let filename = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .unwrap_or_default()
            .to_owned();
        let mut buf = Vec::new();
        let mut over = false;
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| bad())?;
            if buf.len() + chunk.len() > cap {
                over = true;
                continue;
            }
            buf.extend_from_slice(&chunk);
        }
        if is_file {
            if over {
                return Err(AppError::new(
                    crate::error::ErrorCode::PayloadTooLarge,
                    format!("文件超过 {} MiB", cap / (1024 * 1024)),
                ));
            }
            out = Some((filename, buf));
        }
    }
    match out {
        Some((_, b)) if b.is_empty() => Err(AppError::field("file", "请选择 CSV 或 XLSX 文件")),
        Some(f) => Ok(f),
        None => Err(AppError::field("file", "请选择 CSV 或 XLSX 文件")),
    }
}

fn report_value(r: &import::ImportReport) -> Value {
    context! {
        rows => r.rows, created => r.created, updated => r.updated, unchanged => r.unchanged,
        errors => r.errors.iter().map(|e| context! {
            row => e.row, column => e.column.clone(), reason => e.reason.clone(),
        }).collect::<Vec<_>>(),
    }
}

/// The dry run: every bad row listed, nothing written; a clean file waits for "confirm".
async fn import_upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    payload: Multipart,
) -> HttpResponse {
    if let Some(r) = refuse_cross_site(&req) {
        return r;
    }
    let run = async {
        user.principal.require(Perm::PeopleWrite)?;
        let cap = state.settings.server.upload_limit_bytes;
        let (filename, bytes) = match read_file(payload, cap).await {
            Ok(f) => f,
            Err(e) if e.code.status().is_client_error() => {
                return Ok(import_page(
                    &req,
                    &user,
                    e.code.status(),
                    context! { file_error => e.errors.first().map_or(e.detail.clone(), |f| f.message.clone()) },
                ));
            }
            Err(e) => return Err(e),
        };
        let report = import::import(
            &state.db,
            &user.principal.actor(),
            Some(&user.principal),
            &bytes,
            true,
            &|_, _, _| {},
        )
        .await?;
        let token = if report.errors.is_empty() && report.created + report.updated > 0 {
            let token = crate::console::new_form_id();
            state
                .live
                .set(
                    &pending_key(user.principal.account_id.0, &token),
                    &bytes,
                    Some(PENDING_IMPORT),
                )
                .await
                .map_err(|e| AppError::unavailable(anyhow::anyhow!("{e}")))?;
            Some(token)
        } else {
            None
        };
        let status = if report.errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        Ok::<_, AppError>(import_page(
            &req,
            &user,
            status,
            context! { filename => filename, report => report_value(&report), token => token },
        ))
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

async fn import_confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    Posted(f): Posted,
) -> HttpResponse {
    let run = async {
        user.principal.require(Perm::PeopleWrite)?;
        let key = pending_key(user.principal.account_id.0, &f.get("token"));
        let bytes = state
            .live
            .get(&key)
            .await
            .map_err(|e| AppError::unavailable(anyhow::anyhow!("{e}")))?
            .ok_or_else(|| AppError::conflict("这份文件已导入或已过期，请重新上传"))?;
        // One confirmation per upload: a second click finds nothing to import.
        let _ = state.live.delete(&key).await;
        let report = import::import(
            &state.db,
            &user.principal.actor(),
            Some(&user.principal),
            &bytes,
            false,
            &|_, _, _| {},
        )
        .await?;
        Ok::<_, AppError>(import_page(
            &req,
            &user,
            StatusCode::OK,
            context! { done => true, report => report_value(&report) },
        ))
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}
