//! `/`, the console's login, logout, forced password change and home (with the inbox).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::session::{self, ConsoleUser, see_other};
use super::{CONSOLE_CSP, Fields, page, refuse_cross_site};
use crate::auth::service;
use crate::error::ErrorCode;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console", web::get().to(to_home))
        .route("/console/", web::get().to(home))
        .route("/console/login", web::get().to(login_form))
        .route("/console/login", web::post().to(login))
        .route("/console/logout", web::post().to(logout))
        .route("/console/password", web::get().to(password_form))
        .route("/console/password", web::post().to(change_password));
}

/// `/`: members inside WeChat go to their pages, everyone else to the console.
pub async fn root(req: HttpRequest) -> HttpResponse {
    let wechat = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.contains("MicroMessenger"));
    see_other(if wechat { "/m/" } else { "/console/login" })
}

async fn to_home() -> HttpResponse {
    see_other("/console/")
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

fn login_page(status: StatusCode, next: &str, username: &str, error: Option<&str>) -> HttpResponse {
    crate::web::render(
        status,
        "console/login.html",
        CONSOLE_CSP,
        minijinja::context! { title => "登录", next => next, username => username, error => error },
    )
}

async fn login_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<NextQuery>,
) -> HttpResponse {
    let next = session::safe_next(q.next.as_deref());
    // Already signed in: straight on.
    if let Some(c) = req.cookie(session::COOKIE)
        && service::principal_for_refresh_token(&state.db, c.value())
            .await
            .is_ok()
    {
        return see_other(&next);
    }
    login_page(StatusCode::OK, &next, "", None)
}

async fn login(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if let Some(refused) = refuse_cross_site(&req) {
        return refused;
    }
    let f = Fields::parse(&body);
    let next = session::safe_next(Some(&f.get("next")));
    let username = f.get("username");
    let password = f.raw("password");
    if username.is_empty() || password.is_empty() {
        return login_page(
            StatusCode::BAD_REQUEST,
            &next,
            &username,
            Some("请输入用户名和密码"),
        );
    }
    let ip = crate::http::client_ip(&req, &state.trusted_proxies);
    let (tokens, must_change) = match service::login(&state, &username, password, ip).await {
        Ok(ok) => ok,
        Err(e) if e.code.status().is_server_error() => {
            tracing::error!(error = ?e.source, "console login failed");
            return login_page(
                StatusCode::SERVICE_UNAVAILABLE,
                &next,
                &username,
                Some("系统繁忙，请稍后再试"),
            );
        }
        Err(e) => {
            let status = if e.code == ErrorCode::InvalidCredentials {
                StatusCode::UNAUTHORIZED
            } else {
                e.code.status()
            };
            return login_page(status, &next, &username, Some(&e.detail));
        }
    };
    if let Err(e) = session::limit_session(&state, &tokens.refresh_token).await {
        tracing::warn!(error = ?e.source, "console session not shortened");
    }
    let to = if must_change {
        format!(
            "/console/password?{}",
            serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default()
        )
    } else {
        next
    };
    let mut resp = see_other(&to);
    if let Err(e) = resp.add_cookie(&session::session_cookie(
        tokens.refresh_token,
        session::is_secure(&state, &req),
    )) {
        tracing::error!(error = %e, "console cookie not set");
    }
    resp
}

async fn logout(state: web::Data<AppState>, req: HttpRequest, user: ConsoleUser) -> HttpResponse {
    if let Some(refused) = refuse_cross_site(&req) {
        return refused;
    }
    if let Err(e) = service::logout(&state, &user.principal).await {
        return super::error(&req, &user, &e);
    }
    let mut resp = see_other("/console/login");
    let _ = resp.add_cookie(&session::removal_cookie(session::is_secure(&state, &req)));
    resp
}

fn password_page(
    req: &HttpRequest,
    user: &ConsoleUser,
    status: StatusCode,
    next: &str,
    errors: minijinja::Value,
) -> HttpResponse {
    page(
        req,
        user,
        status,
        "console/password.html",
        minijinja::context! {
            title => "修改密码",
            forced => user.must_change_password,
            next => next,
            errors => errors,
        },
    )
}

async fn password_form(
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<NextQuery>,
) -> HttpResponse {
    let next = session::safe_next(q.next.as_deref());
    password_page(&req, &user, StatusCode::OK, &next, minijinja::context! {})
}

async fn change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(refused) = refuse_cross_site(&req) {
        return refused;
    }
    let f = Fields::parse(&body);
    let next = session::safe_next(Some(&f.get("next")));
    let (current, new, confirm) = (
        f.raw("current_password"),
        f.raw("new_password"),
        f.raw("confirm_password"),
    );
    let field_error = |field: &str, msg: &str| {
        password_page(
            &req,
            &user,
            StatusCode::BAD_REQUEST,
            &next,
            minijinja::Value::from(std::collections::BTreeMap::from([(
                field.to_owned(),
                msg.to_owned(),
            )])),
        )
    };
    if current.is_empty() {
        return field_error("current_password", "请输入当前密码");
    }
    if new != confirm {
        return field_error("confirm_password", "两次输入的新密码不一致");
    }
    match service::change_password(&state, &user.principal, current, new).await {
        Ok(()) => see_other(&next),
        Err(e) if e.code.status().is_client_error() => {
            let field = e
                .errors
                .first()
                .map_or("new_password", |f| f.field.as_str())
                .to_owned();
            let msg = e
                .errors
                .first()
                .map_or(e.detail.clone(), |f| f.message.clone());
            let field = if field == "current_password" {
                field
            } else {
                "new_password".to_owned()
            };
            field_error(&field, &msg)
        }
        Err(e) => super::error(&req, &user, &e),
    }
}

/// What waits for the user: disputes their role answers in their scope.
async fn inbox(
    state: &AppState,
    user: &ConsoleUser,
) -> crate::error::AppResult<Vec<minijinja::Value>> {
    if !user.can(crate::auth::Perm::ScoresRead) {
        return Ok(Vec::new());
    }
    let waiting = crate::cases::service::list_inbox(
        state,
        &user.principal,
        crate::cases::service::InboxQuery {
            view: Some("waiting".to_owned()),
            state: None,
            before: None,
            limit: Some(10),
        },
    )
    .await?;
    Ok(waiting
        .items
        .iter()
        .map(|c| {
            minijinja::context! {
                href => format!("/console/disputes/{}", c.id),
                text => format!("{} 的异议：{}", c.person_name, c.reason.chars().take(40).collect::<String>()),
                state => c.state_label,
            }
        })
        .collect())
}

/// Alerts for the organizations in the user's scope (`crate::notify`).
async fn notices(
    state: &AppState,
    user: &ConsoleUser,
) -> crate::error::AppResult<Vec<minijinja::Value>> {
    if !user.can(crate::auth::Perm::ActivityRead) {
        return Ok(Vec::new());
    }
    Ok(crate::notify::for_staff(&state.db, &user.principal, 10)
        .await?
        .into_iter()
        .map(|n| minijinja::context! { title => n.title, body => n.body, href => n.url })
        .collect())
}

async fn home(state: web::Data<AppState>, req: HttpRequest, user: ConsoleUser) -> HttpResponse {
    // A counter account (兑换员) has one job.
    if user.principal.role == crate::auth::Role::Shop {
        return see_other("/console/redeem");
    }
    let both = async {
        Ok::<_, crate::error::AppError>((
            super::secretary::today(&state, &user).await?,
            inbox(&state, &user).await?,
            notices(&state, &user).await?,
        ))
    };
    match both.await {
        Ok((today, inbox, notices)) => page(
            &req,
            &user,
            StatusCode::OK,
            "console/home.html",
            minijinja::context! {
                title => "今日",
                today => today,
                inbox => inbox,
                notices => notices,
                activities => user.can(crate::auth::Perm::ActivityRead),
                can_write => user.can(crate::auth::Perm::ActivityWrite),
            },
        ),
        Err(e) => super::error(&req, &user, &e),
    }
}
