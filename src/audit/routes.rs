//! Reading the audit log (security admins and auditors, in their scope).

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{AuditEntry, Filter};
use crate::auth::{Perm, Principal};
use crate::error::{AppResult, Problem};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(list));
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    pub action: Option<String>,
    pub actor_id: Option<i64>,
    /// Cursor: entries older than this id.
    pub before: Option<i64>,
    /// At most 500 (default 100).
    pub limit: Option<u64>,
}

/// Audit entries, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    security(("bearer" = ["audit.read"])),
    responses((status = 200, body = Vec<AuditEntry>), (status = 403, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    q: web::Query<AuditQuery>,
) -> AppResult<HttpResponse> {
    principal.require(Perm::AuditRead)?;
    let q = q.into_inner();
    let entries = super::list(
        &state.db,
        principal.scope_path.as_deref(),
        Filter {
            entity: q.entity,
            entity_id: q.entity_id,
            action: q.action,
            actor_id: q.actor_id,
            before_id: q.before,
            limit: q.limit.unwrap_or(100),
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(entries))
}
