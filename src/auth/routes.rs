//! HTTP handlers for login sessions and accounts: extract, call one service, respond.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::service::{self, AccountPatch, AccountView, CreatedAccount, NewAccount, TokenPair};
use super::{Principal, Role};
use crate::error::{AppResult, Problem};
use crate::ids::{AccountId, OrgId};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/login", web::post().to(login))
        .route("/auth/refresh", web::post().to(refresh))
        .route("/auth/logout", web::post().to(logout))
        .route("/auth/end", web::post().to(end_login))
        .route("/auth/me", web::get().to(me))
        .route("/auth/password", web::post().to(change_password))
        .route("/accounts", web::get().to(list_accounts))
        .route("/accounts", web::post().to(create_account))
        .route("/accounts/{account_id}", web::get().to(get_account))
        .route("/accounts/{account_id}", web::patch().to(update_account))
        .route(
            "/accounts/{account_id}/reset-password",
            web::post().to(reset_password),
        );
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    #[serde(flatten)]
    pub tokens: TokenPair,
    /// The password was generated or reset: change it now.
    pub must_change_password: bool,
}

/// Log in with a username and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    security(()),
    responses((status = 200, body = LoginResponse), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> AppResult<HttpResponse> {
    let ip = crate::http::client_ip(&req, &state.trusted_proxies);
    let body = body.into_inner();
    let (tokens, must_change_password) =
        service::login(&state, &body.username, body.password, ip).await?;
    Ok(HttpResponse::Ok().json(LoginResponse {
        tokens,
        must_change_password,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchange a refresh token for a new token pair (the refresh token rotates).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    security(()),
    responses((status = 200, body = TokenPair), (status = 401, body = Problem)))]
pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::refresh(&state, &body.refresh_token).await?))
}

/// End a login by its refresh token, without an access token: logging out on a shared
/// PC works even after the access token expired. Its tokens stop working at once.
#[utoipa::path(post, path = "/api/v1/auth/end", tag = "auth", request_body = RefreshRequest,
    security(()),
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn end_login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<RefreshRequest>,
) -> AppResult<HttpResponse> {
    let ip = crate::http::client_ip(&req, &state.trusted_proxies);
    service::end_login(&state, &body.refresh_token, ip).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// End this login: its access and refresh tokens stop working at once.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    security(("bearer" = ["authenticated"])),
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn logout(state: web::Data<AppState>, principal: Principal) -> AppResult<HttpResponse> {
    service::logout(&state, &principal).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    pub id: AccountId,
    pub username: String,
    pub role: Role,
    pub role_label: &'static str,
    pub org_id: Option<OrgId>,
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    security(("bearer" = ["authenticated"])),
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
pub async fn me(principal: Principal) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(Me {
        id: principal.account_id,
        username: principal.username,
        role: principal.role,
        role_label: principal.role.label(),
        org_id: principal.org_id,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// Change one's own password; other logins of the account end.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", request_body = PasswordChange,
    security(("bearer" = ["authenticated"])),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn change_password(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<PasswordChange>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    service::change_password(&state, &principal, body.current_password, body.new_password).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Accounts in the caller's scope.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts",
    security(("bearer" = ["accounts.manage"])),
    responses((status = 200, body = Vec<AccountView>), (status = 403, body = Problem)))]
pub async fn list_accounts(
    state: web::Data<AppState>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::list_accounts(&state, &principal).await?))
}

/// Create a staff account. Admins create secretaries and auditors in their subtree;
/// security admins any role in theirs.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = NewAccount,
    security(("bearer" = ["accounts.manage"])),
    responses((status = 201, body = CreatedAccount), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create_account(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<NewAccount>,
) -> AppResult<HttpResponse> {
    let created = service::create_account(
        &state,
        &principal.actor(),
        Some(&principal),
        body.into_inner(),
    )
    .await?;
    Ok(HttpResponse::Created().json(created))
}

/// One account.
#[utoipa::path(get, path = "/api/v1/accounts/{account_id}", tag = "accounts",
    params(("account_id" = i64, Path)),
    security(("bearer" = ["accounts.manage"])),
    responses((status = 200, body = AccountView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_account(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::get_account(&state, &principal, AccountId(*path)).await?))
}

/// Rename, disable or enable an account.
#[utoipa::path(patch, path = "/api/v1/accounts/{account_id}", tag = "accounts", request_body = AccountPatch,
    params(("account_id" = i64, Path)),
    security(("bearer" = ["accounts.manage"])),
    responses((status = 200, body = AccountView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn update_account(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<AccountPatch>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(
        service::update_account(&state, &principal, AccountId(*path), body.into_inner()).await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ResetPassword {
    /// Shown once; the account must change it at next login.
    pub password: String,
}

/// Reset an account's password (security admins only); its logins end.
#[utoipa::path(post, path = "/api/v1/accounts/{account_id}/reset-password", tag = "accounts",
    params(("account_id" = i64, Path)),
    security(("bearer" = ["accounts.manage"])),
    responses((status = 200, body = ResetPassword), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn reset_password(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let password = service::reset_password(
        &state,
        &principal.actor(),
        Some(&principal),
        AccountId(*path),
    )
    .await?;
    Ok(HttpResponse::Ok().json(ResetPassword { password }))
}
