//! `/m/settings/…`: the member's own notice settings (no forced notices: DESIGN.md).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::member::{person_of, see_other};
use super::{error_page, notice, same_origin};
use crate::state::AppState;
use crate::wechat::MemberSession;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/m/settings/reminders")
            .route(web::post().to(set_reminders))
            .route(web::get().to(|| async { see_other("/m/") })),
    );
}

/// Turns the reminder the day before a fixed activity day on or off.
async fn set_reminders(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if !same_origin(&req) {
        return notice(
            StatusCode::FORBIDDEN,
            "无法提交",
            "请从公众号页面提交。",
            Some("/m/"),
        );
    }
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let value = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "fixed_day_reminder")
        .map(|(_, v)| v.into_owned());
    let on = match value.as_deref() {
        Some("on") => true,
        Some("off") => false,
        _ => {
            return notice(
                StatusCode::BAD_REQUEST,
                "无法保存",
                "请选择开启或关闭提醒。",
                Some("/m/"),
            );
        }
    };
    match crate::notify::set_fixed_day_reminder(&state.db, person.id, on, state.clock.now()).await {
        Ok(()) => see_other("/m/"),
        Err(e) => error_page(&e, Some("/m/")),
    }
}
