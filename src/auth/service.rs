//! Login sessions and account management.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};

use super::token::{self, Claims};
use super::{Principal, Role, password, scope_path};
use crate::audit::{self, Actor, Entry};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::{AccountId, OrgId};
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub token_type: &'static str,
}

/// The principal of a live session. `reset_exempt`: the call is one of the few an
/// account whose password was reset may make (change it, log out).
pub(crate) async fn principal_for_session(
    db: &impl ConnectionTrait,
    claims: &Claims,
    reset_exempt: bool,
) -> AppResult<Principal> {
    let session = entity::auth_session::Entity::find_by_id(claims.sid.clone())
        .one(db)
        .await?
        .filter(|s| {
            Some(s.account_id) == claims.account_id()
                && s.revoked_at.is_none()
                && s.expires_at > Utc::now()
        })
        .ok_or_else(|| AppError::unauthorized("登录会话已失效，请重新登录"))?;
    principal_of(db, session, reset_exempt).await
}

/// The principal of a login session named by its refresh token `<session>.<secret>`
/// (the staff console keeps it in an HttpOnly cookie): the secret must match the
/// stored hash, the session be neither revoked nor expired.
pub async fn principal_for_refresh_token(
    db: &impl ConnectionTrait,
    refresh_token: &str,
) -> AppResult<Principal> {
    let invalid = || AppError::unauthorized("登录会话已失效，请重新登录");
    let (sid, secret) = token::parse_refresh(refresh_token).ok_or_else(invalid)?;
    let session = entity::auth_session::Entity::find_by_id(sid.to_owned())
        .one(db)
        .await?
        .filter(|s| {
            s.revoked_at.is_none()
                && s.expires_at > Utc::now()
                && s.refresh_hash == token::hash_secret(secret)
        })
        .ok_or_else(invalid)?;
    // The console sends an account that must change its password to that page itself.
    principal_of(db, session, true).await
}

async fn principal_of(
    db: &impl ConnectionTrait,
    session: entity::auth_session::Model,
    reset_exempt: bool,
) -> AppResult<Principal> {
    let account = entity::account::Entity::find_by_id(session.account_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::unauthorized("账号不存在"))?;
    if account.disabled {
        return Err(AppError::new(ErrorCode::AccountDisabled, "账号已停用"));
    }
    if account.reset_pending && !reset_exempt {
        return Err(password_change_required());
    }
    let role = Role::parse(&account.role)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("unknown role {}", account.role)))?;
    Ok(Principal {
        account_id: AccountId(account.id),
        username: account.username,
        role,
        org_id: account.org_id.map(OrgId),
        scope_path: scope_path(db, account.org_id).await?,
        session_id: session.id,
        ip: None,
    })
}

fn password_change_required() -> AppError {
    AppError::new(
        ErrorCode::PasswordChangeRequired,
        "密码已被重置，请先修改密码后再进行其他操作",
    )
}

/// Counts one attempt under `key` before anything is checked; the count including it
/// (None when the live store is down: fail open, logged, so an outage locks nobody out).
async fn count_attempt(state: &AppState, key: &str) -> Option<i64> {
    let window = Duration::from_secs(state.settings.auth.login_window_seconds);
    match state.live.incr(key, 1, Some(window)).await {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "login rate limit unavailable");
            None
        }
    }
}

/// A successful (or refused) attempt is taken back from the counters. With a TTL in
/// case the key expired meanwhile: a stray -1 then lasts one window, not forever.
async fn uncount(state: &AppState, key: &str) {
    let window = Duration::from_secs(state.settings.auth.login_window_seconds);
    let _ = state.live.incr(key, -1, Some(window)).await;
}

/// How long an attempt on an account waits once it has failed more often than one
/// address may (from many addresses): slowed, never locked, so the real owner gets in.
fn slow_down(account_failures: i64, max: i64) -> Duration {
    let over = u64::try_from(account_failures.saturating_sub(max)).unwrap_or(0);
    Duration::from_millis((over * 250).min(2_000))
}

/// Logs in. Every attempt is counted before any hashing (so concurrent attempts cannot
/// all pass the check): per (account, address) — the lock —, per address over all
/// accounts, and per account over all addresses — which only slows attempts down.
/// Hashing itself is bounded by the hasher's per-core semaphore.
pub async fn login(
    state: &AppState,
    username: &str,
    password_text: String,
    ip: Option<String>,
) -> AppResult<(TokenPair, bool)> {
    let auth = &state.settings.auth;
    let username = username.trim().to_lowercase();
    let from = ip.as_deref().unwrap_or("unknown");
    let pair_key = format!("login:fail:acct-ip:{username}:{from}");
    let ip_key = format!("login:fail:ip:{from}");
    let account_key = format!("login:fail:acct:{username}");
    let pair = count_attempt(state, &pair_key).await;
    let per_ip = count_attempt(state, &ip_key).await;
    if pair.is_some_and(|n| n > auth.login_max_failures_per_account)
        || per_ip.is_some_and(|n| n > auth.login_max_failures_per_ip)
    {
        // Not a failure of its own: take it back so waiting ends the lock.
        uncount(state, &pair_key).await;
        uncount(state, &ip_key).await;
        tracing::warn!(username = %username, ip = ?ip, "login rate limited");
        return Err(AppError::new(
            ErrorCode::RateLimited,
            "登录失败次数过多，请稍后再试",
        ));
    }
    let account_wide = count_attempt(state, &account_key).await;
    let wait = slow_down(
        account_wide.unwrap_or(0).saturating_sub(1),
        auth.login_max_failures_per_account,
    );
    if !wait.is_zero() {
        tracing::info!(username = %username, wait = ?wait, "login slowed: failures from many addresses");
        tokio::time::sleep(wait).await;
    }
    let account = entity::account::Entity::find()
        .filter(entity::account::Column::Username.eq(&username))
        .one(&state.db)
        .await?;
    let ok = match &account {
        Some(a) => {
            state
                .passwords
                .verify(password_text, a.password_hash.clone())
                .await?
        }
        None => {
            state.passwords.dummy_verify(password_text).await;
            false
        }
    };
    let known = account.as_ref().map(|a| (a.id, a.org_id));
    let Some(account) = account.filter(|_| ok) else {
        tracing::info!(username = %username, ip = ?ip, "login failed");
        audit_failure(state, &username, known, ip).await;
        return Err(AppError::new(
            ErrorCode::InvalidCredentials,
            "用户名或密码错误",
        ));
    };
    if account.disabled {
        return Err(AppError::new(ErrorCode::AccountDisabled, "账号已停用"));
    }
    let _ = state.live.delete(&pair_key).await;
    uncount(state, &ip_key).await;
    uncount(state, &account_key).await;
    let tokens = issue_session(state, &account, ip).await?;
    Ok((tokens, account.must_change_password))
}

/// Failed logins audited per name (and over all names) in one login window.
const FAILED_LOGINS_AUDITED_PER_NAME: i64 = 20;
const FAILED_LOGINS_AUDITED_OVERALL: i64 = 1000;

/// A failed login in the audit log: the name tried and the address, never the password.
/// Filed under the account when it exists (and its organization, so auditors in scope
/// see it); an unknown name is filed with no organization (installation-wide readers).
async fn audit_failure(
    state: &AppState,
    username: &str,
    known: Option<(i64, Option<i64>)>,
    ip: Option<String>,
) {
    let name: String = username.chars().take(64).collect();
    let actor = Actor {
        kind: "anonymous",
        id: None,
        name: name.clone(),
        ip,
    };
    // A flood (many addresses, many names) must not fill the audit log: per name and
    // over all names, the first failures of a window are audited, then one
    // `login_failed_flood` entry says the rest were only counted (and logged).
    let window = Duration::from_secs(state.settings.auth.login_window_seconds);
    let name_key = format!("login:audited:acct:{name}");
    let (per_name, overall) = tokio::join!(
        state.live.incr(&name_key, 1, Some(window)),
        state.live.incr("login:audited:all", 1, Some(window)),
    );
    // Live store down: audit (the rate limits are down too, and say so in the log).
    let over = |n: Result<i64, _>, cap: i64| n.map_or(0, |n| n - cap);
    let action = match (
        over(overall, FAILED_LOGINS_AUDITED_OVERALL),
        over(per_name, FAILED_LOGINS_AUDITED_PER_NAME),
    ) {
        (..=0, ..=0) => "login_failed",
        (1, _) | (..=0, 1) => "login_failed_flood",
        _ => {
            tracing::warn!(username = %name, "failed login not audited: over the window's cap");
            return;
        }
    };
    let entity_id = known.map_or(String::new(), |(id, _)| id.to_string());
    let mut entry = Entry::new(action, "account", entity_id).after(serde_json::json!({
        "username": name,
        "window_seconds": window.as_secs(),
    }));
    if let Some(org) = known.and_then(|(_, org)| org) {
        entry = entry.org(OrgId(org));
    }
    if let Err(e) = audit::record(&state.db, &actor, entry).await {
        tracing::warn!(error = %e.detail, "failed login not audited");
    }
}

/// Opens a login session for an account (after its password was checked, or for an
/// operator's CLI tool such as `vanguard demo`) and returns its tokens.
pub async fn issue_session(
    state: &AppState,
    account: &entity::account::Model,
    ip: Option<String>,
) -> AppResult<TokenPair> {
    let auth = &state.settings.auth;
    let now = Utc::now();
    let session_id = uuid::Uuid::new_v4().simple().to_string();
    let (secret, hash) = token::new_refresh_secret();
    let txn = crate::db::begin(&state.db).await?;
    entity::auth_session::ActiveModel {
        id: Set(session_id.clone()),
        account_id: Set(account.id),
        refresh_hash: Set(hash),
        previous_refresh_hash: Set(None),
        created_at: Set(now),
        refreshed_at: Set(now),
        expires_at: Set(now + chrono::Duration::seconds(auth.refresh_ttl_seconds)),
        revoked_at: Set(None),
        ip: Set(ip.clone()),
    }
    .insert(&txn)
    .await?;
    let actor = Actor::account(AccountId(account.id), &account.username, ip);
    audit::record(
        &txn,
        &actor,
        Entry::new("login", "account", account.id)
            .after(serde_json::json!({"session": session_id})),
    )
    .await?;
    txn.commit().await?;
    Ok(TokenPair {
        access_token: state.tokens.issue(account.id, &session_id, now)?,
        refresh_token: format!("{session_id}.{secret}"),
        expires_in: state.tokens.access_ttl_seconds,
        token_type: "Bearer",
    })
}

/// Rotates the refresh secret in one conditional UPDATE (only the request that still
/// holds the current secret wins, also on PostgreSQL under concurrency). Presenting
/// the secret the last rotation replaced means it leaked: the whole session is revoked.
/// Any other wrong secret is refused without touching the session, so a session id
/// alone cannot end someone's login.
pub async fn refresh(state: &AppState, refresh_token: &str) -> AppResult<TokenPair> {
    use entity::auth_session::{Column, Entity};
    use sea_orm::sea_query::Expr;
    let invalid = || AppError::unauthorized("刷新令牌无效或已过期");
    let (sid, secret) = token::parse_refresh(refresh_token).ok_or_else(invalid)?;
    let presented = token::hash_secret(secret);
    let now = Utc::now();
    let (new_secret, new_hash) = token::new_refresh_secret();
    let txn = crate::db::begin(&state.db).await?;
    let rotated = Entity::update_many()
        .col_expr(Column::RefreshHash, Expr::value(new_hash))
        .col_expr(Column::PreviousRefreshHash, Expr::value(presented.clone()))
        .col_expr(Column::RefreshedAt, Expr::value(now))
        .filter(Column::Id.eq(sid))
        .filter(Column::RefreshHash.eq(presented.clone()))
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?
        .rows_affected;
    if rotated != 1 {
        let reused = Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::value(now))
            .filter(Column::Id.eq(sid))
            .filter(Column::PreviousRefreshHash.eq(presented))
            .filter(Column::RevokedAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        if reused > 0 {
            tracing::warn!(session = sid, "refresh token reuse: session revoked");
        }
        return Err(invalid());
    }
    let session = Entity::find_by_id(sid.to_owned())
        .one(&txn)
        .await?
        .ok_or_else(invalid)?;
    let account = entity::account::Entity::find_by_id(session.account_id)
        .one(&txn)
        .await?
        .ok_or_else(invalid)?;
    // Dropping the transaction rolls the rotation back.
    if account.disabled {
        return Err(AppError::new(ErrorCode::AccountDisabled, "账号已停用"));
    }
    if account.reset_pending {
        return Err(password_change_required());
    }
    txn.commit().await?;
    Ok(TokenPair {
        access_token: state.tokens.issue(account.id, sid, now)?,
        refresh_token: format!("{sid}.{new_secret}"),
        expires_in: state.tokens.access_ttl_seconds,
        token_type: "Bearer",
    })
}

pub async fn logout(state: &AppState, principal: &Principal) -> AppResult<()> {
    let txn = crate::db::begin(&state.db).await?;
    revoke_sessions(&txn, principal.account_id, Some(&principal.session_id)).await?;
    audit::record(
        &txn,
        &principal.actor(),
        Entry::new("logout", "account", principal.account_id),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Ends the login a refresh token names, with no access token needed (the shared PC
/// whose access token expired). Only the current refresh token does: a session id
/// with a wrong secret changes nothing.
pub async fn end_login(state: &AppState, refresh_token: &str, ip: Option<String>) -> AppResult<()> {
    let invalid = || AppError::unauthorized("刷新令牌无效或已过期");
    let (sid, secret) = token::parse_refresh(refresh_token).ok_or_else(invalid)?;
    let txn = crate::db::begin(&state.db).await?;
    let session = entity::auth_session::Entity::find_by_id(sid.to_owned())
        .one(&txn)
        .await?
        .ok_or_else(invalid)?;
    if session.refresh_hash != token::hash_secret(secret) {
        return Err(invalid());
    }
    if session.revoked_at.is_some() {
        return Ok(());
    }
    let account = entity::account::Entity::find_by_id(session.account_id)
        .one(&txn)
        .await?
        .ok_or_else(invalid)?;
    revoke_sessions(&txn, AccountId(account.id), Some(sid)).await?;
    audit::record(
        &txn,
        &Actor::account(AccountId(account.id), &account.username, ip),
        Entry::new("logout", "account", account.id),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Revokes one session, or every session of the account when `only` is None.
async fn revoke_sessions(
    db: &impl ConnectionTrait,
    account: AccountId,
    only: Option<&str>,
) -> AppResult<()> {
    use entity::auth_session::{Column, Entity};
    let mut q = Entity::update_many()
        .col_expr(
            Column::RevokedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(Column::AccountId.eq(account.0))
        .filter(Column::RevokedAt.is_null());
    if let Some(sid) = only {
        q = q.filter(Column::Id.eq(sid));
    }
    q.exec(db).await?;
    Ok(())
}

pub async fn change_password(
    state: &AppState,
    principal: &Principal,
    current: String,
    new: String,
) -> AppResult<()> {
    password::check_strength(&new)?;
    let account = find(&state.db, principal.account_id).await?;
    if !state
        .passwords
        .verify(current, account.password_hash.clone())
        .await?
    {
        return Err(AppError::field("current_password", "当前密码不正确"));
    }
    let hash = state.passwords.hash(new).await?;
    let txn = crate::db::begin(&state.db).await?;
    let mut active: entity::account::ActiveModel = account.into();
    active.password_hash = Set(hash);
    active.must_change_password = Set(false);
    active.reset_pending = Set(false);
    active.password_changed_at = Set(Utc::now());
    active.updated_at = Set(Utc::now());
    active.update(&txn).await?;
    // Other logins end; this one goes on.
    {
        use entity::auth_session::{Column, Entity};
        Entity::update_many()
            .col_expr(
                Column::RevokedAt,
                sea_orm::sea_query::Expr::value(Utc::now()),
            )
            .filter(Column::AccountId.eq(principal.account_id.0))
            .filter(Column::RevokedAt.is_null())
            .filter(Column::Id.ne(principal.session_id.clone()))
            .exec(&txn)
            .await?;
    }
    audit::record(
        &txn,
        &principal.actor(),
        Entry::new("change_password", "account", principal.account_id),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------- accounts

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    pub id: AccountId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub org_id: Option<OrgId>,
    pub disabled: bool,
    pub must_change_password: bool,
    pub created_at: chrono::DateTime<Utc>,
}

impl TryFrom<entity::account::Model> for AccountView {
    type Error = AppError;
    fn try_from(a: entity::account::Model) -> AppResult<Self> {
        Ok(Self {
            id: AccountId(a.id),
            role: Role::parse(&a.role)
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("unknown role {}", a.role)))?,
            username: a.username,
            display_name: a.display_name,
            org_id: a.org_id.map(OrgId),
            disabled: a.disabled,
            must_change_password: a.must_change_password,
            created_at: a.created_at,
        })
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    pub username: String,
    pub display_name: Option<String>,
    /// Omit to have one generated (returned once, to be changed at first login).
    pub password: Option<String>,
    pub role: Role,
    pub org_id: Option<OrgId>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedAccount {
    pub account: AccountView,
    /// Present only when the password was generated; shown once.
    pub initial_password: Option<String>,
}

fn check_username(username: &str) -> AppResult<String> {
    let u = username.trim().to_lowercase();
    let ok = (3..=32).contains(&u.len())
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(u)
    } else {
        Err(AppError::field(
            "username",
            "用户名须为 3 至 32 位字母、数字或 _ . -",
        ))
    }
}

async fn find(db: &impl ConnectionTrait, id: AccountId) -> AppResult<entity::account::Model> {
    entity::account::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(format!("账号 {id} 不存在")))
}

/// May `principal` manage an account with `role` scoped at `org`?
async fn check_manage(
    db: &impl ConnectionTrait,
    principal: &Principal,
    role: Role,
    org: Option<OrgId>,
) -> AppResult<Option<entity::organization::Model>> {
    principal.require(super::Perm::AccountsManage)?;
    if !principal.manages(role) {
        return Err(AppError::forbidden(match principal.role {
            Role::Admin => "管理员只能管理支部书记、组织委员和兑换员账号；其他账号由安全管理员管理",
            _ => "安全管理员账号只能由运维人员在服务器上创建",
        }));
    }
    let org = match org {
        Some(id) => Some(
            entity::organization::Entity::find_by_id(id.0)
                .one(db)
                .await?
                .ok_or_else(|| AppError::field("org_id", format!("组织 {id} 不存在")))?,
        ),
        None => None,
    };
    match &org {
        Some(o) if !principal.covers(&o.path) => {
            return Err(AppError::forbidden("该组织不在您的管辖范围内"));
        }
        None if principal.scope_path.is_some() => {
            return Err(AppError::forbidden("只能在您的管辖范围内管理账号"));
        }
        _ => {}
    }
    if matches!(role, Role::Secretary | Role::Recorder | Role::Shop) {
        match &org {
            Some(o) if o.kind == "branch" || o.kind == "general_branch" => {}
            _ => {
                return Err(AppError::field(
                    "org_id",
                    format!("{}账号须属于一个支部或党总支", role.label()),
                ));
            }
        }
    }
    Ok(org)
}

pub async fn create_account(
    state: &AppState,
    actor: &Actor,
    principal: Option<&Principal>,
    input: NewAccount,
) -> AppResult<CreatedAccount> {
    // Permission first: someone refused learns nothing about the input's validity.
    if let Some(p) = principal {
        check_manage(&state.db, p, input.role, input.org_id).await?;
    }
    let username = check_username(&input.username)?;
    let generated = input.password.is_none();
    let password_text = input.password.unwrap_or_else(password::generate);
    password::check_strength(&password_text)?;
    let hash = state.passwords.hash(password_text.clone()).await?;
    let now = Utc::now();
    let txn = crate::db::begin(&state.db).await?;
    let exists = entity::account::Entity::find()
        .filter(entity::account::Column::Username.eq(&username))
        .one(&txn)
        .await?;
    if exists.is_some() {
        return Err(AppError::conflict(format!("用户名 {username} 已被使用")));
    }
    let model = entity::account::ActiveModel {
        id: NotSet,
        display_name: Set(input.display_name.unwrap_or_else(|| username.clone())),
        username: Set(username),
        password_hash: Set(hash),
        role: Set(input.role.as_str().to_owned()),
        org_id: Set(input.org_id.map(|o| o.0)),
        disabled: Set(false),
        must_change_password: Set(generated),
        reset_pending: Set(false),
        password_changed_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let view = AccountView::try_from(model)?;
    let mut entry = Entry::new("create", "account", view.id).after(&view);
    if let Some(org) = view.org_id {
        entry = entry.org(org);
    }
    audit::record(&txn, actor, entry).await?;
    txn.commit().await?;
    Ok(CreatedAccount {
        account: view,
        initial_password: generated.then_some(password_text),
    })
}

/// Accounts in scope: those the caller manages and its own; an auditor reads them all.
pub async fn list_accounts(state: &AppState, principal: &Principal) -> AppResult<Vec<AccountView>> {
    principal.require(super::Perm::AccountsRead)?;
    let rows = entity::account::Entity::find()
        .order_by_asc(entity::account::Column::Id)
        .all(&state.db)
        .await?;
    let orgs = org_paths(&state.db).await?;
    rows.into_iter()
        .filter(|a| {
            principal.role == Role::Auditor
                || Role::parse(&a.role).is_some_and(|r| principal.manages(r))
                || a.id == principal.account_id.0
        })
        .filter(|a| match a.org_id {
            None => principal.scope_path.is_none(),
            Some(id) => orgs.get(&id).is_some_and(|p| principal.covers(p)),
        })
        .map(AccountView::try_from)
        .collect()
}

async fn org_paths(db: &impl ConnectionTrait) -> AppResult<std::collections::HashMap<i64, String>> {
    Ok(entity::organization::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.path))
        .collect())
}

async fn managed(
    state: &AppState,
    principal: &Principal,
    id: AccountId,
) -> AppResult<entity::account::Model> {
    let account = find(&state.db, id).await?;
    // An unknown role is managed by nobody over the API.
    let role = Role::parse(&account.role).unwrap_or(Role::SecurityAdmin);
    check_manage(&state.db, principal, role, account.org_id.map(OrgId)).await?;
    Ok(account)
}

pub async fn get_account(
    state: &AppState,
    principal: &Principal,
    id: AccountId,
) -> AppResult<AccountView> {
    if principal.role != Role::Auditor {
        return AccountView::try_from(managed(state, principal, id).await?);
    }
    principal.require(super::Perm::AccountsRead)?;
    let account = find(&state.db, id).await?;
    let in_scope = match account.org_id {
        None => principal.scope_path.is_none(),
        Some(org) => org_paths(&state.db)
            .await?
            .get(&org)
            .is_some_and(|p| principal.covers(p)),
    };
    if !in_scope {
        return Err(AppError::forbidden("该账号不在您的管辖范围内"));
    }
    AccountView::try_from(account)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    pub display_name: Option<String>,
    /// Disabling ends every login of the account at once.
    pub disabled: Option<bool>,
}

pub async fn update_account(
    state: &AppState,
    principal: &Principal,
    id: AccountId,
    patch: AccountPatch,
) -> AppResult<AccountView> {
    let account = managed(state, principal, id).await?;
    if patch.disabled == Some(true) && account.id == principal.account_id.0 {
        return Err(AppError::field("disabled", "不能停用自己的账号"));
    }
    let before = AccountView::try_from(account.clone())?;
    let txn = crate::db::begin(&state.db).await?;
    let mut active: entity::account::ActiveModel = account.into();
    if let Some(name) = patch.display_name {
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 50 {
            return Err(AppError::field("display_name", "姓名须为 1 至 50 个字符"));
        }
        active.display_name = Set(name);
    }
    if let Some(disabled) = patch.disabled {
        active.disabled = Set(disabled);
        if disabled {
            revoke_sessions(&txn, id, None).await?;
        }
    }
    active.updated_at = Set(Utc::now());
    let after = AccountView::try_from(active.update(&txn).await?)?;
    let mut entry = Entry::new("update", "account", id)
        .before(&before)
        .after(&after);
    if let Some(org) = after.org_id {
        entry = entry.org(org);
    }
    audit::record(&txn, &principal.actor(), entry).await?;
    txn.commit().await?;
    Ok(after)
}

/// Security admins reset passwords; the new one is shown once and must be changed.
pub async fn reset_password(
    state: &AppState,
    actor: &Actor,
    principal: Option<&Principal>,
    id: AccountId,
) -> AppResult<String> {
    let account = match principal {
        Some(p) => {
            if p.role != Role::SecurityAdmin {
                return Err(AppError::forbidden("只有安全管理员可以重置密码"));
            }
            managed(state, p, id).await?
        }
        None => find(&state.db, id).await?,
    };
    store_generated(state, actor, account, true).await
}

/// Ends every login of an account (a lost laptop, a shared PC): security admins, for the
/// accounts they manage; audited. The password stays.
pub async fn end_logins(state: &AppState, principal: &Principal, id: AccountId) -> AppResult<()> {
    // As for resets (`Principal::resets`): security admins, then `manages`.
    if principal.role != Role::SecurityAdmin {
        return Err(AppError::forbidden("只有安全管理员可以结束他人的登录"));
    }
    let account = managed(state, principal, id).await?;
    let txn = crate::db::begin(&state.db).await?;
    revoke_sessions(&txn, id, None).await?;
    let mut entry = Entry::new("end_logins", "account", id);
    if let Some(org) = account.org_id {
        entry = entry.org(OrgId(org));
    }
    audit::record(&txn, &principal.actor(), entry).await?;
    txn.commit().await?;
    Ok(())
}

/// Open logins per account (not revoked, not expired), for the accounts page.
pub async fn open_logins(
    db: &impl ConnectionTrait,
) -> AppResult<std::collections::HashMap<i64, u64>> {
    use entity::auth_session::{Column, Entity};
    use sea_orm::QuerySelect;
    let rows: Vec<(i64, i64)> = Entity::find()
        .select_only()
        .column(Column::AccountId)
        .column_as(Column::Id.count(), "n")
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.gt(Utc::now()))
        .group_by(Column::AccountId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(a, n)| (a, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// A fresh generated password, as at an account's creation: the console asks for a new
/// one at the first sign-in, but it is no reset, so the account's API logins go on
/// (`vanguard demo` prints it for the README walkthrough).
pub async fn regenerate_first_password(
    state: &AppState,
    actor: &Actor,
    id: AccountId,
) -> AppResult<String> {
    let account = find(&state.db, id).await?;
    store_generated(state, actor, account, false).await
}

/// Stores a generated password; a reset also ends the account's logins and refuses
/// every other call until the password is changed.
async fn store_generated(
    state: &AppState,
    actor: &Actor,
    account: entity::account::Model,
    reset: bool,
) -> AppResult<String> {
    let id = AccountId(account.id);
    let new = password::generate();
    let hash = state.passwords.hash(new.clone()).await?;
    let txn = crate::db::begin(&state.db).await?;
    let org = account.org_id;
    let mut active: entity::account::ActiveModel = account.into();
    active.password_hash = Set(hash);
    active.must_change_password = Set(true);
    active.reset_pending = Set(reset);
    active.password_changed_at = Set(Utc::now());
    active.updated_at = Set(Utc::now());
    active.update(&txn).await?;
    if reset {
        revoke_sessions(&txn, id, None).await?;
    }
    let mut entry = Entry::new(
        if reset {
            "reset_password"
        } else {
            "generate_password"
        },
        "account",
        id,
    );
    if let Some(org) = org {
        entry = entry.org(OrgId(org));
    }
    audit::record(&txn, actor, entry).await?;
    txn.commit().await?;
    Ok(new)
}

/// The operator's switch (CLI): disabling ends every login of the account.
pub async fn set_disabled(
    state: &AppState,
    actor: &Actor,
    username: &str,
    disabled: bool,
) -> AppResult<()> {
    let account = find_by_username(&state.db, username).await?;
    let id = AccountId(account.id);
    let before = AccountView::try_from(account.clone())?;
    let txn = crate::db::begin(&state.db).await?;
    let mut active: entity::account::ActiveModel = account.into();
    active.disabled = Set(disabled);
    active.updated_at = Set(Utc::now());
    let after = AccountView::try_from(active.update(&txn).await?)?;
    if disabled {
        revoke_sessions(&txn, id, None).await?;
    }
    let mut entry = Entry::new("update", "account", id)
        .before(&before)
        .after(&after);
    if let Some(org) = after.org_id {
        entry = entry.org(org);
    }
    audit::record(&txn, actor, entry).await?;
    txn.commit().await?;
    Ok(())
}

pub async fn find_by_username(
    db: &impl ConnectionTrait,
    username: &str,
) -> AppResult<entity::account::Model> {
    entity::account::Entity::find()
        .filter(entity::account::Column::Username.eq(username.trim().to_lowercase()))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(format!("账号 {username} 不存在")))
}

/// On an empty database: the `admin` account with a random password (returned once).
pub async fn ensure_initial_admin(state: &AppState) -> AppResult<Option<String>> {
    let any = entity::account::Entity::find().one(&state.db).await?;
    if any.is_some() {
        return Ok(None);
    }
    let created = create_account(
        state,
        &Actor::system(),
        None,
        NewAccount {
            username: "admin".to_owned(),
            display_name: Some("系统管理员".to_owned()),
            password: None,
            role: Role::Admin,
            org_id: None,
        },
    )
    .await;
    match created {
        Ok(c) => Ok(c.initial_password),
        // Another instance created it first.
        Err(e) if e.code == ErrorCode::Conflict => Ok(None),
        Err(e) => Err(e),
    }
}
