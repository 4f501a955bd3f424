//! The member's leave page (`/m/leave`): ask for leave from an upcoming activity,
//! see the answers, withdraw before the start. The rules live in `cycle::leave`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::Value;

use super::member::{person_of, see_other};
use super::{MEMBER_CSP, error_page, notice, render, same_origin};
use crate::cycle::leave::{self, LeaveState};
use crate::error::AppError;
use crate::ids::OrgId;
use crate::ledger::inputs::tz_of;
use crate::state::AppState;
use crate::wechat::MemberSession;

pub const TEMPLATES: [(&str, &str); 1] =
    [("leave.html", include_str!("../../templates/web/leave.html"))];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/m/leave")
            .route(web::get().to(show))
            .route(web::post().to(ask)),
    )
    .service(
        web::resource("/m/leave/{id}/withdraw")
            .route(web::post().to(withdraw))
            .route(web::get().to(back)),
    );
}

async fn back() -> HttpResponse {
    see_other("/m/leave")
}

fn cross_site() -> HttpResponse {
    notice(
        StatusCode::FORBIDDEN,
        "无法提交",
        "请从公众号页面提交。",
        Some("/m/leave"),
    )
}

/// What the form showed, to fill it again after an error.
#[derive(Default)]
struct Typed {
    activity: String,
    reason: String,
}

async fn page(
    state: &AppState,
    person: &entity::person::Model,
    status: StatusCode,
    typed: Typed,
    error: Option<(String, &'static str)>,
    flash: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
    let tz = tz_of(&org);
    let (open, lead) = leave::open_activities(state, person).await?;
    let activities: Vec<Value> = open
        .iter()
        .map(|a| minijinja::context! { id => a.id, title => a.title.clone(), when => leave::starts_label(a, tz) })
        .collect();
    let now = state.clock.now();
    let mut rows = Vec::new();
    for l in leave::list_for_member(&state.db, person.id).await? {
        let a = entity::activity::Entity::find_by_id(l.activity_id)
            .one(&state.db)
            .await?;
        let st = leave::state_of(&l);
        let started = a.as_ref().is_none_or(|a| a.starts_at <= now);
        rows.push(minijinja::context! {
            id => l.id,
            title => a.as_ref().map(|a| a.title.clone()).unwrap_or_default(),
            when => a.as_ref().map(|a| leave::starts_label(a, tz)).unwrap_or_default(),
            reason => l.reason.clone(),
            state => st.label(),
            open => st == LeaveState::Requested,
            answer => l.decision_reason.clone(),
            can_withdraw => !started && matches!(st, LeaveState::Requested | LeaveState::Approved),
        });
    }
    let (error, error_field) = match error {
        Some((m, f)) => (Some(m), f),
        None => (None, ""),
    };
    Ok(render(
        status,
        "leave.html",
        MEMBER_CSP,
        minijinja::context! {
            title => "请假",
            activities => activities,
            lead => lead,
            rows => rows,
            activity => typed.activity,
            reason => typed.reason,
            error => error,
            error_field => error_field,
            flash => flash,
            form_id => crate::console::new_form_id(),
        },
    ))
}

use sea_orm::EntityTrait;

async fn show(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
) -> HttpResponse {
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    page(
        &state,
        &person,
        StatusCode::OK,
        Typed::default(),
        None,
        None,
    )
    .await
    .unwrap_or_else(|e| error_page(&e, Some("/m/")))
}

#[derive(serde::Deserialize, Default)]
struct AskForm {
    #[serde(default)]
    activity: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    form_id: String,
}

async fn ask(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if !same_origin(&req) {
        return cross_site();
    }
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let form: AskForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let typed = Typed {
        activity: form.activity.clone(),
        reason: form.reason.clone(),
    };
    let Ok(activity) = form.activity.trim().parse::<i64>() else {
        return page(
            &state,
            &person,
            StatusCode::BAD_REQUEST,
            typed,
            Some(("请选择要请假的活动".to_owned(), "activity")),
            None,
        )
        .await
        .unwrap_or_else(|e| error_page(&e, Some("/m/leave")));
    };
    if !form.form_id.is_empty()
        && !crate::console::first_submit(&state, &format!("m-leave:{}", form.form_id)).await
    {
        return see_other("/m/leave");
    }
    let ip = crate::http::client_ip(&req, &state.trusted_proxies);
    let actor = crate::audit::Actor::member(person.id, ip);
    match leave::request(&state, &person, activity, &form.reason, &actor, false).await {
        Ok(_) => see_other("/m/leave"),
        Err(e) if e.code.status().is_client_error() => {
            let field = match e.errors.first().map(|f| f.field.as_str()) {
                Some("reason") => "reason",
                _ => "activity",
            };
            let msg = e
                .errors
                .first()
                .map_or(e.detail.clone(), |f| f.message.clone());
            page(
                &state,
                &person,
                e.code.status(),
                typed,
                Some((msg, field)),
                None,
            )
            .await
            .unwrap_or_else(|e| error_page(&e, Some("/m/leave")))
        }
        Err(e) => error_page(&e, Some("/m/leave")),
    }
}

async fn withdraw(
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
    match leave::withdraw(&state, &person, *path, ip).await {
        Ok(_) => see_other("/m/leave"),
        Err(e)
            if e.code.status().is_client_error() && e.code != crate::error::ErrorCode::NotFound =>
        {
            page(
                &state,
                &person,
                e.code.status(),
                Typed::default(),
                Some((e.detail, "")),
                None,
            )
            .await
            .unwrap_or_else(|e| error_page(&e, Some("/m/leave")))
        }
        Err(e) => error_page(&e, Some("/m/leave")),
    }
}
