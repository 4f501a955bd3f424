//! 开始签到 / 结束签到 and the check-in scene: the QR on this phone (the projector's
//! code), the projector link, the live count and the missing list, polled as a fragment.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::{Value, context};

use super::{ShowQuery, activity_row, counts_value, readable};
use crate::auth::Perm;
use crate::checkin::attendance::{self, PageQuery, Status};
use crate::checkin::routes::{
    close_audited, current_qr, open_audited, qr_code, scoped_activity, scoped_session,
};
use crate::checkin::sessions;
use crate::console::session::see_other;
use crate::console::{ConsoleUser, error, hide, page, refuse_cross_site, when};
use crate::error::{AppError, AppResult};
use crate::ledger::inputs::tz_of;
use crate::state::AppState;

pub(super) async fn open(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    switch(&state, &req, &user, *path, true).await
}

pub(super) async fn close(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    switch(&state, &req, &user, *path, false).await
}

/// 开始签到 (to the scene) or 结束签到 (to the activity). A second click finds the
/// session already in the wanted state and just goes on, instead of failing.
async fn switch(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    opening: bool,
) -> HttpResponse {
    if let Some(r) = refuse_cross_site(req) {
        return r;
    }
    let run = async {
        let a = scoped_activity(state, &user.principal, Perm::ActivityWrite, id)
            .await
            .map_err(hide)?;
        let current = sessions::current_for_activity(&state.db, a.id).await?;
        match (opening, current) {
            (true, None) => {
                open_audited(state, &user.principal, &a).await?;
            }
            (false, Some(s)) => {
                close_audited(state, &user.principal, s, &a).await?;
            }
            _ => {}
        }
        let to = if opening { "/live" } else { "" };
        Ok::<_, AppError>(see_other(&format!("/console/activities/{}{to}", a.id)))
    };
    run.await.unwrap_or_else(|e| error(req, user, &e))
}

/// Counts and the missing list (first 300 names), for the scene and its polling.
async fn live_data(
    state: &AppState,
    a: &entity::activity::Model,
) -> AppResult<(Value, Vec<Value>, u64)> {
    let p = attendance::page(
        state,
        a,
        PageQuery {
            after: None,
            limit: Some(300),
            status: Some(Status::Missing),
        },
    )
    .await?;
    let missing: Vec<Value> = p
        .items
        .iter()
        .map(|i| context! { id => i.person_id, name => i.name.clone() })
        .collect();
    Ok((counts_value(&p.counts), missing, p.counts.missing))
}

pub(super) async fn live(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    q: web::Query<ShowQuery>,
) -> HttpResponse {
    live_page(&state, &req, &user, *path, q.entered.as_deref(), None)
        .await
        .unwrap_or_else(|e| error(&req, &user, &e))
}

/// The check-in scene; `form` carries a refused entry form (values, errors) back.
pub(super) async fn live_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    entered: Option<&str>,
    form: Option<(Value, Value)>,
) -> AppResult<HttpResponse> {
    let (a, org) = readable(state, user, id).await?;
    let tz = tz_of(&org);
    let now = state.clock.now();
    let row = activity_row(state, &a, tz, now).await?;
    let session = sessions::current_for_activity(&state.db, a.id).await?;
    let (counts, missing, missing_n) = live_data(state, &a).await?;
    let can_write = user
        .principal
        .require_in(Perm::ActivityWrite, &org.path)
        .is_ok();
    let entered_text = match entered {
        Some("recorded") => Some("已记录签到"),
        Some("duplicate") => Some("此人已签到，未重复记录"),
        Some("not_expected") => Some("此人不在本活动的应到名单中，未记录"),
        _ => None,
    };
    let status = if form.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let (values, errors) = form.unwrap_or_else(|| (context! {}, context! {}));
    let started = now >= a.starts_at;
    Ok(page(
        req,
        user,
        status,
        "console/live.html",
        context! {
            title => format!("签到现场：{}", a.title),
            activity => row,
            session => session.as_ref().map(|s| context! {
                id => s.id,
                closes => when(s.closes_at, tz),
                reload_ms => i64::from(s.slot_seconds).max(10) * 1000 / 2,
            }),
            counts => counts,
            missing => missing,
            missing_n => missing_n,
            can_write => can_write,
            entered => entered_text,
            form => values,
            errors => errors,
            // At the activity a secretary checks people in by hand; afterwards it is 补签.
            default_method => if session.is_some() || !started { "manual" } else { "backfill" },
        },
    ))
}

pub(super) async fn live_part(
    state: web::Data<AppState>,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    let run = async {
        let (a, _) = readable(&state, &user, *path).await?;
        let (counts, missing, missing_n) = live_data(&state, &a).await?;
        Ok::<_, AppError>(crate::web::render(
            StatusCode::OK,
            "console/live_part.html",
            crate::console::CONSOLE_CSP,
            context! { counts => counts, missing => missing, missing_n => missing_n },
        ))
    };
    run.await.unwrap_or_else(|e: AppError| {
        HttpResponse::build(e.code.status())
            .content_type("text/plain; charset=utf-8")
            .body(e.detail)
    })
}

/// The session's current QR code for "show on this phone" (the same code the projector shows).
pub(super) async fn qr_svg(
    state: web::Data<AppState>,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    let run = async {
        let (s, _) = scoped_session(&state, &user.principal, Perm::ActivityRead, *path)
            .await
            .map_err(hide)?;
        if s.closed_at.is_some() {
            return Err(AppError::conflict("签到已关闭"));
        }
        let q = current_qr(&state, &s).await?;
        Ok(qr_code(&q.url)?
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(320, 320)
            .build())
    };
    match run.await {
        Ok(svg) => HttpResponse::Ok()
            .content_type("image/svg+xml")
            .insert_header(("Cache-Control", "no-store"))
            .body(svg),
        Err(e) => HttpResponse::build(e.code.status())
            .content_type("text/plain; charset=utf-8")
            .body(e.detail),
    }
}
