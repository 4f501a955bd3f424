//! Desktop pages: roster import (upload → dry run with row-by-row errors → confirm)
//! and the dispute queue (争议与更正: the current record beside the member's reason,
//! accept with a correction, reject with a written reason), on the existing services.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use minijinja::{Value, context};
use serde::Deserialize;

use super::session::see_other;
use super::{
    ConsoleUser, Fields, error, hide, input_time, page, parse_input_time, refuse_cross_site, when,
};
use crate::auth::Perm;
use crate::cases::service::{self as cases, InboxQuery, Remedy};
use crate::error::{AppError, AppResult};
use crate::ids::OrgId;
use crate::ledger::inputs::tz_of;
use crate::org::import;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/import", web::get().to(import_form))
        .route("/console/import", web::post().to(import_upload))
        .route("/console/import/confirm", web::post().to(import_confirm))
        .route("/console/disputes", web::get().to(queue))
        .route("/console/disputes/{id}", web::get().to(case_page))
        .route("/console/disputes/{id}/accept", web::post().to(accept))
        .route("/console/disputes/{id}/reject", web::post().to(reject))
        .route("/console/audit", web::get().to(audit_log))
        .route(
            "/console/activities/{id}/attendance.xlsx",
            web::get().to(attendance_xlsx),
        );
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
            let token = super::new_form_id();
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
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = refuse_cross_site(&req) {
        return r;
    }
    let f = Fields::parse(&body);
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

#[derive(Deserialize)]
struct QueueQuery {
    view: Option<String>,
    before: Option<i64>,
}

async fn queue(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<QueueQuery>,
) -> HttpResponse {
    let run = async {
        let view = match q.view.as_deref() {
            Some("all") => "all",
            _ => "waiting",
        };
        let inbox = cases::list_inbox(
            &state,
            &user.principal,
            InboxQuery {
                view: Some(view.to_owned()),
                state: None,
                before: q.before,
                limit: Some(50),
            },
        )
        .await?;
        let tz = chrono_tz::Asia::Shanghai;
        let items: Vec<Value> = inbox
            .items
            .iter()
            .map(|c| {
                context! {
                    id => c.id, name => c.person_name.clone(), state => c.state_label,
                    reason => c.reason.clone(), when => when(c.filed_at, tz),
                    deadline => when(c.deadline, tz), overdue => c.overdue,
                }
            })
            .collect();
        Ok::<_, AppError>(page(
            &req,
            &user,
            StatusCode::OK,
            "console/disputes.html",
            context! { title => "争议与更正", items => items, view => view, next => inbox.next },
        ))
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

async fn case_page_with(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    status: StatusCode,
    errors: Value,
    values: Value,
) -> AppResult<HttpResponse> {
    let c = cases::get(state, &user.principal, id).await.map_err(hide)?;
    let org = crate::org::service::find(&state.db, OrgId(c.org_id)).await?;
    let tz = tz_of(&org);
    let activity = match c.activity_id {
        Some(a) => Some(crate::checkin::attendance::activity(&state.db, a).await?),
        None => None,
    };
    // A missing or refused check-in is most often "I was there at …": start + 10 min offered.
    let suggested_at = activity
        .as_ref()
        .map(|a| input_time(a.starts_at + chrono::Duration::minutes(10), tz));
    Ok(page(
        req,
        user,
        status,
        "console/dispute.html",
        context! {
            title => format!("异议 #{}", c.id),
            case => context! {
                id => c.id, name => c.person_name.clone(), state => c.state_label,
                target => c.target_label.clone(), reason => c.reason.clone(),
                current => c.current.clone(), org => c.org_name.clone(),
                filed => when(c.filed_at, tz), deadline => when(c.deadline, tz),
                outcome => c.outcome.clone(), attachments => c.attachments.clone(),
                activity => activity.as_ref().map(|a| context! { id => a.id, title => a.title.clone(), when => when(a.starts_at, tz) }),
                messages => c.messages.iter().map(|m| context! {
                    author => m.author.clone(), body => m.body.clone(), when => when(m.at, tz), action => m.action.clone(),
                }).collect::<Vec<_>>(),
            },
            allowed => context! {
                accept => c.allowed.accept, correct => c.allowed.correct,
                propose => c.allowed.propose, reject => c.allowed.reject,
            },
            suggested_at => suggested_at,
            errors => errors,
            form => values,
            // Staff may comment in any state (console::secretary::todo).
            can_comment => user.can(Perm::ScoresWrite),
            comment_form_id => super::new_form_id(),
        },
    ))
}

async fn case_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    case_page_with(
        &state,
        &req,
        &user,
        *path,
        StatusCode::OK,
        context! {},
        context! {},
    )
    .await
    .unwrap_or_else(|e| error(&req, &user, &e))
}

/// The remedy the form asks for: (remedy, field error).
fn remedy_of(f: &Fields, tz: chrono_tz::Tz) -> Result<Remedy, (&'static str, &'static str)> {
    let at = || {
        parse_input_time(&f.get("at"), tz)
            .map(|t| t.fixed_offset())
            .ok_or(("at", "请填写签到时间"))
    };
    match f.get("remedy").as_str() {
        "backfill" => Ok(Remedy::Backfill),
        "add" => Ok(Remedy::Add { at: at()? }),
        "reclassify" => Ok(Remedy::Reclassify { at: at()? }),
        "annul" => Ok(Remedy::Annul),
        _ => Err(("remedy", "请选择采纳方式")),
    }
}

async fn accept(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = refuse_cross_site(&req) {
        return r;
    }
    let f = Fields::parse(&body);
    let id = *path;
    let run = async {
        let c = cases::get(&state, &user.principal, id)
            .await
            .map_err(hide)?;
        let org = crate::org::service::find(&state.db, OrgId(c.org_id)).await?;
        let field_error = |field: &'static str, msg: String| {
            case_page_with(
                &state,
                &req,
                &user,
                id,
                StatusCode::BAD_REQUEST,
                Value::from(std::collections::BTreeMap::from([(field, msg)])),
                f.values(),
            )
        };
        let remedy = match remedy_of(&f, tz_of(&org)) {
            Ok(r) => r,
            Err((field, msg)) => return field_error(field, msg.to_owned()).await,
        };
        let note = Some(f.get("note")).filter(|n| !n.is_empty());
        match cases::accept(&state, &user.principal, id, Some(remedy), note).await {
            Ok(_) => Ok(see_other(&format!("/console/disputes/{id}?done=accepted"))),
            Err(e) if e.code.status().is_client_error() => {
                let msg = e
                    .errors
                    .first()
                    .map_or(e.detail.clone(), |x| x.message.clone());
                field_error("remedy", msg).await
            }
            Err(e) => Err(e),
        }
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

async fn reject(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = refuse_cross_site(&req) {
        return r;
    }
    let f = Fields::parse(&body);
    let id = *path;
    let run = async {
        match cases::reject(&state, &user.principal, id, &f.get("reason")).await {
            Ok(_) => Ok(see_other(&format!("/console/disputes/{id}?done=rejected"))),
            Err(e) if e.code.status().is_client_error() && !e.errors.is_empty() => {
                case_page_with(
                    &state,
                    &req,
                    &user,
                    id,
                    StatusCode::BAD_REQUEST,
                    Value::from(std::collections::BTreeMap::from([(
                        "reason",
                        e.errors[0].message.clone(),
                    )])),
                    f.values(),
                )
                .await
            }
            Err(e) => Err(hide(e)),
        }
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

#[derive(Deserialize)]
struct AuditQuery {
    /// Who: the account id (as the audit log records it).
    actor: Option<String>,
    /// What: the action, e.g. `accept_case`.
    action: Option<String>,
    /// Subject: the entity kind and id.
    entity: Option<String>,
    entity_id: Option<String>,
    /// When: a day (YYYY-MM-DD, Asia/Shanghai) or a range.
    from: Option<String>,
    to: Option<String>,
    before: Option<i64>,
}

fn day_start(s: &str, tz: chrono_tz::Tz) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()?
        .and_hms_opt(0, 0, 0)?
        .and_local_timezone(tz)
        .earliest()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// 审计日志: who, what, when, subject, with before/after; filters live in the URL.
async fn audit_log(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<AuditQuery>,
) -> HttpResponse {
    let run = async {
        user.principal.require(Perm::AuditRead)?;
        let tz = chrono_tz::Asia::Shanghai;
        let nonempty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let actor_id = match nonempty(&q.actor) {
            Some(a) => Some(
                a.parse::<i64>()
                    .map_err(|_| AppError::field("actor", "操作人应填写账号编号（数字）"))?,
            ),
            None => None,
        };
        let from = nonempty(&q.from).and_then(|d| day_start(&d, tz));
        let to = nonempty(&q.to)
            .and_then(|d| day_start(&d, tz))
            .map(|t| t + chrono::Duration::days(1));
        let rows = crate::audit::list_between(
            &state.db,
            user.principal.scope_path.as_deref(),
            crate::audit::Filter {
                entity: nonempty(&q.entity),
                entity_id: nonempty(&q.entity_id),
                action: nonempty(&q.action),
                actor_id,
                before_id: q.before,
                limit: 100,
            },
            from,
            to,
        )
        .await?;
        let next = (rows.len() == 100)
            .then(|| rows.last().map(|r| r.id))
            .flatten();
        let show =
            |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
        let items: Vec<Value> = rows
            .iter()
            .map(|r| {
                context! {
                    id => r.id, when => r.at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string(),
                    who => format!("{}（{}{}）", r.actor_name, r.actor_kind, r.actor_id.map(|i| format!(" #{i}")).unwrap_or_default()),
                    ip => r.ip.clone(), action => r.action.clone(),
                    subject => format!("{} {}", r.entity, r.entity_id.clone().unwrap_or_default()),
                    before => show(&r.before), after => show(&r.after),
                }
            })
            .collect();
        let keep = |k: &str, v: &Option<String>| nonempty(v).map(|v| (k.to_owned(), v));
        let query: Vec<(String, String)> = [
            keep("actor", &q.actor),
            keep("action", &q.action),
            keep("entity", &q.entity),
            keep("entity_id", &q.entity_id),
            keep("from", &q.from),
            keep("to", &q.to),
        ]
        .into_iter()
        .flatten()
        .collect();
        Ok::<_, AppError>(page(
            &req,
            &user,
            StatusCode::OK,
            "console/audit.html",
            context! {
                title => "审计日志",
                items => items,
                form => context! {
                    actor => q.actor.clone(), action => q.action.clone(), entity => q.entity.clone(),
                    entity_id => q.entity_id.clone(), from => q.from.clone(), to => q.to.clone(),
                },
                next => next.map(|n| {
                    let mut qs = query.clone();
                    qs.push(("before".to_owned(), n.to_string()));
                    serde_urlencoded::to_string(qs).unwrap_or_default()
                }),
            },
        ))
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

/// The activity's attendance sheet as XLSX (the export writer of `reports`), audited.
async fn attendance_xlsx(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    let run = async {
        let a = crate::checkin::routes::scoped_activity(
            &state,
            &user.principal,
            Perm::ActivityRead,
            *path,
        )
        .await
        .map_err(hide)?;
        crate::reports::routes::attendance_download(
            &state,
            &user.principal,
            &a,
            crate::reports::export::ExportFormat::Xlsx,
        )
        .await
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}
