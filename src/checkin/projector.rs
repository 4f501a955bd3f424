//! Projector credentials. A secretary (or admin) issues a token for one session
//! (`POST /api/v1/sessions/{id}/projector`); it reads that session, its rotating QR and
//! its live count, and nothing else (no names list, no other session, no writes). It is
//! `pj.<id>.<secret>`, stored hashed, valid until an hour after the session's window,
//! and ended on the server by `POST /api/v1/projector/end` with the token itself, so a
//! shared PC can be cleaned up whatever state its other tokens are in.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};
use chrono::{DateTime, Duration, Utc};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ActiveModelTrait, EntityTrait};
use serde::Serialize;
use subtle::ConstantTimeEq;

use crate::auth::token::hash_secret;
use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult};
use crate::ids::OrgId;
use crate::state::AppState;

const PREFIX: &str = "pj.";
/// How long after the session's window the projector may still show its final count.
const GRACE_HOURS: i64 = 1;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProjectorToken {
    /// Send as `Authorization: Bearer <token>` to the session's QR and live endpoints.
    pub token: String,
    pub session_id: i64,
    pub expires_at: DateTime<Utc>,
    /// What the projector shows besides the QR (it cannot read the activity itself).
    pub activity_title: String,
    pub activity_starts_at: DateTime<Utc>,
    pub activity_place: Option<String>,
    /// The organization's time zone: times on the projector are the branch's.
    pub timezone: String,
}

/// Splits `pj.<id>.<secret>`.
fn parse(token: &str) -> Option<(i64, &str)> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('.')?;
    let id: i64 = id.parse().ok()?;
    (!secret.is_empty() && secret.len() <= 128).then_some((id, secret))
}

/// Issues a token for the session (the caller may write the session's activity).
pub async fn issue(
    state: &AppState,
    principal: &Principal,
    session: &entity::checkin_session::Model,
    activity: &entity::activity::Model,
) -> AppResult<ProjectorToken> {
    if session.closed_at.is_some() {
        return Err(AppError::conflict("签到已关闭"));
    }
    let now = state.clock.now();
    let secret = crate::db::random_secret(32);
    let expires_at = session.closes_at.max(now) + Duration::hours(GRACE_HOURS);
    let txn = crate::db::begin(&state.db).await?;
    let row = entity::projector_token::ActiveModel {
        id: NotSet,
        session_id: Set(session.id),
        secret_hash: Set(hash_secret(&secret)),
        created_by: Set(Some(principal.account_id.0)),
        created_at: Set(now),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
    }
    .insert(&txn)
    .await?;
    crate::audit::record(
        &txn,
        &principal.actor(),
        crate::audit::Entry::new("issue_projector_token", "session", session.id)
            .org(OrgId(activity.org_id))
            .after(serde_json::json!({"token": row.id, "expires_at": expires_at})),
    )
    .await?;
    txn.commit().await?;
    Ok(ProjectorToken {
        token: format!("{PREFIX}{}.{secret}", row.id),
        session_id: session.id,
        expires_at,
        activity_title: activity.title.clone(),
        activity_starts_at: activity.starts_at,
        activity_place: activity.place.clone(),
        timezone: crate::org::service::find(&state.db, OrgId(activity.org_id))
            .await?
            .timezone,
    })
}

/// The token row whose secret `token` carries, ended or not; 401 with `message` otherwise.
async fn matching_row(
    state: &AppState,
    token: &str,
    message: &'static str,
) -> AppResult<entity::projector_token::Model> {
    let invalid = || AppError::unauthorized(message);
    let (id, secret) = parse(token).ok_or_else(invalid)?;
    let row = entity::projector_token::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(invalid)?;
    let matches: bool = row
        .secret_hash
        .as_bytes()
        .ct_eq(hash_secret(secret).as_bytes())
        .into();
    if !matches {
        return Err(invalid());
    }
    Ok(row)
}

fn is_live(row: &entity::projector_token::Model) -> bool {
    row.revoked_at.is_none() && row.expires_at > Utc::now()
}

/// The live token row behind `token`, or 401.
async fn live_row(state: &AppState, token: &str) -> AppResult<entity::projector_token::Model> {
    const MESSAGE: &str = "投屏凭证无效或已失效，请重新登录";
    let row = matching_row(state, token, MESSAGE).await?;
    if !is_live(&row) {
        return Err(AppError::unauthorized(MESSAGE));
    }
    Ok(row)
}

/// A live stream's recheck: the token is neither ended nor expired.
pub async fn token_still_valid(state: &AppState, token_id: i64) -> bool {
    matches!(
        entity::projector_token::Entity::find_by_id(token_id).one(&state.db).await,
        Ok(Some(row)) if is_live(&row)
    )
}

/// Ends the token on the server (idempotent for a token already ended).
pub async fn end(state: &AppState, token: &str) -> AppResult<()> {
    let row = matching_row(state, token, "投屏凭证无效或已失效").await?;
    if row.revoked_at.is_some() {
        return Ok(());
    }
    let (id, session) = (row.id, row.session_id);
    let txn = crate::db::begin(&state.db).await?;
    let mut active: entity::projector_token::ActiveModel = row.into();
    active.revoked_at = Set(Some(Utc::now()));
    active.update(&txn).await?;
    crate::audit::record(
        &txn,
        &crate::audit::Actor::system(),
        crate::audit::Entry::new("end_projector_token", "session", session)
            .after(serde_json::json!({"token": id})),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Who reads a session's QR and live count: staff (scope-checked per request) or a
/// projector token for exactly that session.
#[derive(Clone)]
pub enum SessionReader {
    Staff(Principal),
    Projector {
        session_id: i64,
        token_id: i64,
        created_by: Option<i64>,
    },
}

impl SessionReader {
    /// The session and its activity, if this reader may see it.
    pub async fn session(
        &self,
        state: &AppState,
        id: i64,
    ) -> AppResult<(entity::checkin_session::Model, entity::activity::Model)> {
        match self {
            Self::Staff(p) => super::routes::scoped_session(state, p, Perm::ActivityRead, id).await,
            Self::Projector { session_id, .. } => {
                if *session_id != id {
                    return Err(AppError::forbidden("投屏凭证只能用于它所属的签到"));
                }
                let s = entity::checkin_session::Entity::find_by_id(id)
                    .one(&state.db)
                    .await?
                    .ok_or_else(|| AppError::not_found(format!("签到 {id} 不存在")))?;
                let a = super::attendance::activity(&state.db, s.activity_id).await?;
                Ok((s, a))
            }
        }
    }
}

impl FromRequest for SessionReader {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let bearer = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned())
            .filter(|t| t.starts_with(PREFIX));
        let Some(token) = bearer else {
            let staff = Principal::from_request(req, payload);
            return Box::pin(async move { Ok(Self::Staff(staff.await?)) });
        };
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::internal(anyhow::anyhow!("no app state")))?;
            let row = live_row(&state, &token).await?;
            Ok(Self::Projector {
                session_id: row.session_id,
                token_id: row.id,
                created_by: row.created_by,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_projector_tokens() {
        assert_eq!(parse("pj.12.abc"), Some((12, "abc")));
        assert_eq!(parse("pj.12."), None);
        assert_eq!(parse("pj.x.abc"), None);
        assert_eq!(parse("eyJhbGciOi.x.y"), None);
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/sessions/{session_id}/projector",
        web::post().to(issue_token),
    )
    .route("/projector/end", web::post().to(end_token));
}

/// A projector credential for this session: its QR and live count only.
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/projector", tag = "checkin", params(("session_id" = i64, Path)),
    security(("bearer" = ["activity.write"])),
    responses((status = 201, body = ProjectorToken), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn issue_token(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<actix_web::HttpResponse> {
    let (s, a) =
        super::routes::scoped_session(&state, &principal, Perm::ActivityWrite, *path).await?;
    Ok(actix_web::HttpResponse::Created().json(issue(&state, &principal, &s, &a).await?))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndRequest {
    pub token: String,
}

/// End a projector credential on the server (the token authenticates itself).
#[utoipa::path(post, path = "/api/v1/projector/end", tag = "checkin", request_body = EndRequest,
    security(()),
    responses((status = 204), (status = 401, body = crate::error::Problem)))]
pub async fn end_token(
    state: web::Data<AppState>,
    body: web::Json<EndRequest>,
) -> AppResult<actix_web::HttpResponse> {
    end(&state, &body.token).await?;
    Ok(actix_web::HttpResponse::NoContent().finish())
}
