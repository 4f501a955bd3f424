//! The member's dispute pages (异议): file one against a ledger line, a check-in, a
//! refused scan or a missing check-in, with a reason and an optional photo; follow its
//! state and answer; escalate it when rejected or unanswered. The rules live in
//! `cases::service`; these pages only gather input and show results.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Duration;
use futures_util::StreamExt;
use minijinja::Value;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::member::{person_of, see_other};
use super::{MEMBER_CSP, error_page, notice, render, same_origin};
use crate::cases::service::{self, NewDispute};
use crate::cases::{CaseState, Target};
use crate::checkin::attendance::Status;
use crate::checkin::makeup::{expected_activities, marks, status_label};
use crate::error::{AppError, ErrorCode};
use crate::ids::OrgId;
use crate::ledger::inputs::{tz_of, year_of};
use crate::state::AppState;
use crate::wechat::MemberSession;

pub const TEMPLATES: [(&str, &str); 3] = [
    (
        "dispute_list.html",
        include_str!("../../templates/web/dispute_list.html"),
    ),
    (
        "dispute_new.html",
        include_str!("../../templates/web/dispute_new.html"),
    ),
    (
        "dispute_view.html",
        include_str!("../../templates/web/dispute_view.html"),
    ),
];

/// Text fields of the form are short; anything longer is not a reason but junk.
const MAX_FIELD_BYTES: usize = 16 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/m/disputes")
            .route(web::get().to(list))
            .route(web::post().to(file)),
    )
    .route("/m/disputes/new", web::get().to(new_form))
    .route("/m/disputes/{case_id}", web::get().to(show))
    .service(
        web::resource("/m/disputes/{case_id}/escalate")
            .route(web::post().to(escalate))
            .route(web::get().to(back_to_case)),
    )
    .route("/m/uploads/{upload_id}", web::get().to(upload));
}

fn cross_site() -> HttpResponse {
    notice(
        StatusCode::FORBIDDEN,
        "无法提交",
        "请从公众号页面提交。",
        Some("/m/disputes"),
    )
}

async fn list(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
) -> HttpResponse {
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let cases = match service::list_for_member(&state.db, person.id).await {
        Ok(c) => c,
        Err(e) => return error_page(&e, Some("/m/")),
    };
    let org = match crate::org::service::find(&state.db, OrgId(person.org_id)).await {
        Ok(o) => o,
        Err(e) => return error_page(&e, Some("/m/")),
    };
    let tz = tz_of(&org);
    let rows: Vec<Value> = cases
        .iter()
        .map(|c| {
            let st = CaseState::parse(&c.state).unwrap_or(CaseState::Open);
            minijinja::context! {
                id => c.id,
                reason => c.reason.chars().take(40).collect::<String>(),
                state => st.label(),
                open => st.is_open(),
                date => c.filed_at.with_timezone(&tz).format("%m月%d日").to_string(),
            }
        })
        .collect();
    render(
        StatusCode::OK,
        "dispute_list.html",
        MEMBER_CSP,
        minijinja::context! { title => "我的异议", rows => rows },
    )
}

#[derive(serde::Deserialize, Default)]
struct NewQuery {
    target: Option<String>,
}

/// What the member may dispute: recent activities (with where they stand) and this
/// year's ledger lines.
pub(crate) async fn choices(
    state: &AppState,
    person: &entity::person::Model,
) -> Result<(Vec<Value>, Vec<Value>), AppError> {
    let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
    let tz = tz_of(&org);
    let now = state.clock.now();
    let activities: Vec<entity::activity::Model> = expected_activities(
        &state.db,
        &org.path,
        None,
        now - Duration::days(90),
        now,
        30,
    )
    .await?
    .into_iter()
    .filter(|a| a.starts_at <= now)
    .collect();
    let year = crate::ledger::inputs::year_of(now, tz);
    let terms = crate::checkin::scan::terms_for(&state.db, &state.scoring, &org, year).await?;
    let marks = marks(&state.db, person.id, &activities, terms, tz).await?;
    let ids: Vec<i64> = activities.iter().map(|a| a.id).collect();
    let checkins: std::collections::HashMap<i64, i64> = entity::fact::Entity::find()
        .filter(entity::fact::Column::PersonId.eq(person.id))
        .filter(entity::fact::Column::Kind.eq("checkin"))
        .filter(entity::fact::Column::ActivityId.is_in(ids.clone()))
        .order_by_asc(entity::fact::Column::Id)
        .all(&state.db)
        .await?
        .into_iter()
        .filter_map(|f| f.activity_id.map(|a| (a, f.id)))
        .collect();
    let refusals: std::collections::HashMap<i64, i64> = entity::checkin_refusal::Entity::find()
        .filter(entity::checkin_refusal::Column::PersonId.eq(person.id))
        .filter(entity::checkin_refusal::Column::ActivityId.is_in(ids))
        .order_by_asc(entity::checkin_refusal::Column::Id)
        .all(&state.db)
        .await?
        .into_iter()
        .filter_map(|r| r.activity_id.map(|a| (a, r.id)))
        .collect();
    let acts = activities
        .iter()
        .map(|a| {
            let status = marks.get(&a.id).map_or(Status::Missing, |m| m.status);
            let target = match (checkins.get(&a.id), refusals.get(&a.id)) {
                (Some(f), _) => Target::CheckIn(*f),
                (None, Some(r)) => Target::Refusal(*r),
                (None, None) => Target::Missing(a.id),
            };
            minijinja::context! {
                value => target.key(),
                title => a.title.clone(),
                date => a.starts_at.with_timezone(&tz).format("%m月%d日 %H:%M").to_string(),
                status => status_label(status),
            }
        })
        .collect();
    let year = year_of(now, tz);
    let lines = entity::ledger_entry::Entity::find()
        .filter(entity::ledger_entry::Column::SubjectKind.eq("person"))
        .filter(entity::ledger_entry::Column::SubjectId.eq(person.id))
        .filter(entity::ledger_entry::Column::Year.eq(year))
        .order_by_desc(entity::ledger_entry::Column::Id)
        .limit(30)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|l| {
            minijinja::context! {
                value => Target::LedgerEntry(l.id).key(),
                note => l.note,
                points => l.points,
            }
        })
        .collect();
    Ok((acts, lines))
}

async fn render_form(
    state: &AppState,
    person: &entity::person::Model,
    status: StatusCode,
    target: Option<String>,
    reason: &str,
    error: Option<(String, &'static str)>,
) -> HttpResponse {
    let (activities, lines) = match choices(state, person).await {
        Ok(c) => c,
        Err(e) => return error_page(&e, Some("/m/disputes")),
    };
    let max_mb = state.settings.uploads.max_bytes / (1024 * 1024);
    let (error, error_field) = match error {
        Some((m, f)) => (Some(m), f),
        None => (None, ""),
    };
    render(
        status,
        "dispute_new.html",
        MEMBER_CSP,
        minijinja::context! {
            title => "提出异议",
            activities => activities,
            lines => lines,
            target => target,
            reason => reason,
            error => error,
            error_field => error_field,
            max_mb => max_mb,
        },
    )
}

async fn new_form(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
    q: web::Query<NewQuery>,
) -> HttpResponse {
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let target = q.into_inner().target.filter(|t| Target::parse(t).is_some());
    render_form(&state, &person, StatusCode::OK, target, "", None).await
}

/// The form's fields, read from a multipart body with caps on every part.
#[derive(Default)]
struct Form {
    target: Option<String>,
    reason: String,
    photo: Option<Vec<u8>>,
    /// The photo exceeded the size limit (the rest was not kept).
    photo_too_large: bool,
}

async fn read_form(mut payload: Multipart, max_photo: usize) -> Result<Form, AppError> {
    let mut form = Form::default();
    let bad = || AppError::bad_request("表单无法读取，请重新提交");
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|_| bad())?;
        let name = field.name().unwrap_or_default().to_owned();
        let cap = if name == "photo" {
            max_photo
        } else {
            MAX_FIELD_BYTES
        };
        let mut buf: Vec<u8> = Vec::new();
        let mut over = false;
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| bad())?;
            if buf.len() + chunk.len() > cap {
                // Keep reading (and dropping) so the client gets an answer, not a reset.
                over = true;
                continue;
            }
            buf.extend_from_slice(&chunk);
        }
        match name.as_str() {
            "target" if !over => form.target = Some(String::from_utf8_lossy(&buf).into_owned()),
            "reason" if !over => form.reason = String::from_utf8_lossy(&buf).into_owned(),
            "reason" => return Err(AppError::field("reason", "理由过长")),
            "photo" if over => form.photo_too_large = true,
            // An empty file input: no photo.
            "photo" if !buf.is_empty() => form.photo = Some(buf),
            _ => {}
        }
    }
    Ok(form)
}

async fn file(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
    payload: Multipart,
) -> HttpResponse {
    if !same_origin(&req) {
        return cross_site();
    }
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let settings = &state.settings.uploads;
    let form = match read_form(payload, settings.max_bytes).await {
        Ok(f) => f,
        Err(e) => {
            return render_form(
                &state,
                &person,
                e.code.status(),
                None,
                "",
                Some((e.detail, "reason")),
            )
            .await;
        }
    };
    let again = |status: StatusCode, message: String, field: &'static str| {
        let target = form.target.clone();
        let reason = form.reason.clone();
        let state = state.clone();
        let person = person.clone();
        async move {
            render_form(
                &state,
                &person,
                status,
                target,
                &reason,
                Some((message, field)),
            )
            .await
        }
    };
    let Some(target) = form.target.as_deref().and_then(Target::parse) else {
        return again(
            StatusCode::BAD_REQUEST,
            "请选择对哪条记录有异议".to_owned(),
            "target",
        )
        .await;
    };
    if form.photo_too_large {
        let e = crate::uploads::clean_image(&vec![0; settings.max_bytes + 1], settings)
            .err()
            .unwrap_or_else(|| AppError::new(ErrorCode::PayloadTooLarge, "照片过大"));
        return again(e.code.status(), e.detail, "photo").await;
    }
    let photo = match form.photo.as_deref() {
        Some(bytes) => match crate::uploads::clean_image(bytes, settings) {
            Ok(img) => Some(img),
            Err(e) => return again(e.code.status(), e.detail, "photo").await,
        },
        None => None,
    };
    let ip = crate::http::client_ip(&req, &state.trusted_proxies);
    let input = NewDispute {
        target,
        reason: form.reason.clone(),
        photo,
    };
    match service::file_dispute(&state, &person, input, ip).await {
        Ok(case) => see_other(&format!("/m/disputes/{}", case.id)),
        Err(e) if e.code.status().is_client_error() => {
            let field = e
                .errors
                .first()
                .map(|f| {
                    if f.field == "reason" {
                        "reason"
                    } else {
                        "target"
                    }
                })
                .unwrap_or("target");
            again(e.code.status(), e.detail, field).await
        }
        Err(e) => error_page(&e, Some("/m/disputes")),
    }
}

async fn show(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
    path: web::Path<i64>,
) -> HttpResponse {
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    render_case(&state, &person, *path, StatusCode::OK, None).await
}

async fn render_case(
    state: &AppState,
    person: &entity::person::Model,
    id: i64,
    status: StatusCode,
    flash: Option<String>,
) -> HttpResponse {
    let view = match service::get_for_member(state, person.id, id).await {
        Ok(v) => v,
        Err(e) => return error_page(&e, Some("/m/disputes")),
    };
    let case = match entity::case::Entity::find_by_id(id).one(&state.db).await {
        Ok(Some(c)) => c,
        Ok(None) => return error_page(&AppError::not_found("异议不存在"), Some("/m/disputes")),
        Err(e) => return error_page(&e.into(), Some("/m/disputes")),
    };
    let org = match crate::org::service::find(&state.db, OrgId(person.org_id)).await {
        Ok(o) => o,
        Err(e) => return error_page(&e, Some("/m/disputes")),
    };
    let tz = tz_of(&org);
    let fmt = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&tz).format("%m月%d日 %H:%M").to_string()
    };
    let escalate_block = service::escalation_refusal(&case, state.clock.now());
    let messages: Vec<Value> = view
        .messages
        .iter()
        .map(|m| {
            minijinja::context! {
                at => fmt(m.at),
                author => m.author.clone(),
                body => m.body.clone(),
                action => match m.action.as_str() {
                    "filed" => "提出异议",
                    "proposed" => "提请上级审核",
                    "accepted" => "采纳",
                    "rejected" => "未采纳",
                    "escalated" => "提交上级",
                    "reopened" => "重新处理",
                    _ => "留言",
                },
            }
        })
        .collect();
    render(
        status,
        "dispute_view.html",
        MEMBER_CSP,
        minijinja::context! {
            title => format!("异议 #{}", view.id),
            id => view.id,
            state => view.state_label,
            open => view.state.is_open(),
            accepted => view.state == CaseState::Accepted,
            target => view.target_label,
            current => view.current,
            reason => view.reason,
            outcome => view.outcome,
            org_name => view.org_name,
            deadline => fmt(view.deadline),
            photos => view.attachments,
            messages => messages,
            can_escalate => escalate_block.is_none(),
            escalate_hint => escalate_block,
            flash => flash,
        },
    )
}

async fn escalate(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
    path: web::Path<i64>,
) -> HttpResponse {
    if !same_origin(&req) {
        return cross_site();
    }
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let ip = crate::http::client_ip(&req, &state.trusted_proxies);
    match service::escalate(&state, &person, *path, ip).await {
        Ok(c) => see_other(&format!("/m/disputes/{}", c.id)),
        Err(e) if e.code == ErrorCode::NotFound => error_page(&e, Some("/m/disputes")),
        Err(e) if e.code.status().is_client_error() => {
            render_case(&state, &person, *path, e.code.status(), Some(e.detail)).await
        }
        Err(e) => error_page(&e, Some("/m/disputes")),
    }
}

async fn back_to_case(path: web::Path<i64>) -> HttpResponse {
    see_other(&format!("/m/disputes/{}", *path))
}

/// A photo of one of the member's own disputes.
async fn upload(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
    path: web::Path<i64>,
) -> HttpResponse {
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    match service::upload_for_member(&state.db, person.id, *path).await {
        Ok(u) => crate::uploads::respond(&u),
        Err(e) => error_page(&e, Some("/m/disputes")),
    }
}
