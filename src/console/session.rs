//! The console's sign-in: a login session of `auth::service` carried in an HttpOnly,
//! SameSite=Strict cookie (Secure behind TLS). The cookie holds the session's refresh
//! token (`<session>.<secret>`, the secret stored hashed), so every request checks the
//! session row: logout, a disabled account, a password reset end it at once on every
//! instance. A console session lasts at most [`CONSOLE_HOURS`] (a working day).

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};

use crate::auth::{Perm, Principal, service};
use crate::error::AppResult;
use crate::state::AppState;

pub const COOKIE: &str = "vg_console";
/// How long a console login lasts on the server (the cookie itself ends with the browser).
pub const CONSOLE_HOURS: i64 = 12;

/// The signed-in staff member of a console request.
#[derive(Debug, Clone)]
pub struct ConsoleUser {
    pub principal: Principal,
    pub display_name: String,
    pub must_change_password: bool,
}

impl ConsoleUser {
    pub fn can(&self, perm: Perm) -> bool {
        self.principal.role.allows(perm)
    }
}

pub fn is_secure(state: &AppState, req: &HttpRequest) -> bool {
    state.public_url.starts_with("https://") || req.connection_info().scheme() == "https"
}

pub fn session_cookie(value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(COOKIE, value)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish()
}

pub fn removal_cookie(secure: bool) -> Cookie<'static> {
    let mut c = session_cookie(String::new(), secure);
    c.make_removal();
    c
}

/// Shortens a fresh login session to the console's lifetime.
pub async fn limit_session(state: &AppState, refresh_token: &str) -> AppResult<()> {
    let Some((sid, _)) = crate::auth::token::parse_refresh(refresh_token) else {
        return Ok(());
    };
    if let Some(s) = entity::auth_session::Entity::find_by_id(sid.to_owned())
        .one(&state.db)
        .await?
    {
        let until = Utc::now() + chrono::Duration::hours(CONSOLE_HOURS);
        if s.expires_at > until {
            let mut a: entity::auth_session::ActiveModel = s.into();
            a.expires_at = Set(until);
            a.update(&state.db).await?;
        }
    }
    Ok(())
}

/// Where a page may send the user after login: a console path only (no open redirect).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/console/")
                && !n.starts_with("/console/login")
                && !n.contains("//")
                && !n.contains('\\')
                && n.chars().all(|c| !c.is_control()) =>
        {
            n.to_owned()
        }
        _ => "/console/".to_owned(),
    }
}

pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The login page, remembering where the user was going: the page itself for a GET,
/// the page the form was on (same-origin Referer) for a POST.
fn to_login(req: &HttpRequest) -> HttpResponse {
    let next = if req.method() == actix_web::http::Method::GET {
        Some(
            req.uri()
                .path_and_query()
                .map_or("/console/", |p| p.as_str())
                .to_owned(),
        )
    } else {
        req.headers()
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .and_then(|r| url::Url::parse(r).ok())
            .map(|u| match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_owned(),
            })
    };
    let next = safe_next(next.as_deref());
    let mut resp = see_other(&format!(
        "/console/login?{}",
        serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default()
    ));
    // A stale cookie is dropped so the login page starts clean.
    if req.cookie(COOKIE).is_some()
        && let Some(state) = req.app_data::<web::Data<AppState>>()
    {
        let _ = resp.add_cookie(&removal_cookie(is_secure(state, req)));
    }
    resp
}

/// The password page is the only one a user with a reset password may open.
const PASSWORD_PAGE: &str = "/console/password";

impl FromRequest for ConsoleUser {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let redirect = |resp: HttpResponse| {
                actix_web::error::InternalError::from_response("console sign-in", resp).into()
            };
            let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
                return Err(actix_web::error::ErrorInternalServerError("no app state"));
            };
            let Some(cookie) = req.cookie(COOKIE) else {
                return Err(redirect(to_login(&req)));
            };
            let mut principal =
                match service::principal_for_refresh_token(&state.db, cookie.value()).await {
                    Ok(p) => p,
                    Err(e) if e.code.status().is_server_error() => {
                        tracing::error!(error = ?e.source, "console session check failed");
                        return Err(actix_web::error::ErrorServiceUnavailable("系统繁忙"));
                    }
                    Err(_) => return Err(redirect(to_login(&req))),
                };
            principal.ip = crate::http::client_ip(&req, &state.trusted_proxies);
            let account = entity::account::Entity::find_by_id(principal.account_id.0)
                .one(&state.db)
                .await
                .map_err(actix_web::error::ErrorServiceUnavailable)?
                .ok_or_else(|| redirect(to_login(&req)))?;
            if account.must_change_password
                && req.path() != PASSWORD_PAGE
                && req.path() != "/console/logout"
            {
                return Err(redirect(see_other(PASSWORD_PAGE)));
            }
            Ok(ConsoleUser {
                principal,
                display_name: account.display_name,
                must_change_password: account.must_change_password,
            })
        })
    }
}
