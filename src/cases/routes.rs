//! The staff's case API: the inbox, one case, and the answers (accept, propose,
//! reject); the photos attached to cases. Members file and follow their disputes on
//! their own pages (`web::disputes`).

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::service::{self, CaseView, Inbox, InboxQuery, Remedy};
use crate::auth::Principal;
use crate::error::{AppResult, Problem};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/cases", web::get().to(list_cases))
        .route("/cases/{case_id}", web::get().to(get_case))
        .route("/cases/{case_id}/accept", web::post().to(accept_case))
        .route("/cases/{case_id}/propose", web::post().to(propose_case))
        .route("/cases/{case_id}/reject", web::post().to(reject_case))
        .route("/uploads/{upload_id}", web::get().to(get_upload));
}

/// The cases waiting for the caller (or, with `view=all`, every case filed in their scope).
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", params(InboxQuery),
    security(("bearer" = ["scores.read"])),
    responses((status = 200, body = Inbox), (status = 403, body = Problem)))]
pub async fn list_cases(
    state: web::Data<AppState>,
    principal: Principal,
    q: web::Query<InboxQuery>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::list_inbox(&state, &principal, q.into_inner()).await?))
}

/// One case: what it is about, what is recorded now, its steps and what the caller may do.
#[utoipa::path(get, path = "/api/v1/cases/{case_id}", tag = "cases", params(("case_id" = i64, Path)),
    security(("bearer" = ["scores.read"])),
    responses((status = 200, body = CaseView), (status = 404, body = Problem)))]
pub async fn get_case(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::get(&state, &principal, *path).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acceptance {
    /// What to record; none accepts a secretary's proposal as proposed.
    pub remedy: Option<Remedy>,
    pub note: Option<String>,
}

/// Accept: records the correction (secretaries: 补签 only) with the dispute's reason.
#[utoipa::path(post, path = "/api/v1/cases/{case_id}/accept", tag = "cases", params(("case_id" = i64, Path)),
    request_body = Acceptance, security(("bearer" = ["scores.write"])),
    responses((status = 200, body = CaseView), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn accept_case(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<Acceptance>,
) -> AppResult<HttpResponse> {
    let b = body.into_inner();
    Ok(
        HttpResponse::Ok()
            .json(service::accept(&state, &principal, *path, b.remedy, b.note).await?),
    )
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalBody {
    pub remedy: Remedy,
    pub note: Option<String>,
}

/// A secretary proposes a correction (annul, add, re-time) to the admins above.
#[utoipa::path(post, path = "/api/v1/cases/{case_id}/propose", tag = "cases", params(("case_id" = i64, Path)),
    request_body = ProposalBody, security(("bearer" = ["scores.write"])),
    responses((status = 200, body = CaseView), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn propose_case(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<ProposalBody>,
) -> AppResult<HttpResponse> {
    let b = body.into_inner();
    Ok(HttpResponse::Ok()
        .json(service::propose(&state, &principal, *path, b.remedy, b.note).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectionBody {
    /// Required: why the dispute is not accepted (the member reads it).
    #[serde(default)]
    pub reason: String,
}

/// Reject, with a written reason.
#[utoipa::path(post, path = "/api/v1/cases/{case_id}/reject", tag = "cases", params(("case_id" = i64, Path)),
    request_body = RejectionBody, security(("bearer" = ["scores.write"])),
    responses((status = 200, body = CaseView), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn reject_case(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<RejectionBody>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::reject(&state, &principal, *path, &body.reason).await?))
}

/// A file attached to a case in the caller's scope.
#[utoipa::path(get, path = "/api/v1/uploads/{upload_id}", tag = "cases", params(("upload_id" = i64, Path)),
    security(("bearer" = ["scores.read"])),
    responses((status = 200, content_type = "image/jpeg"), (status = 404, body = Problem)))]
pub async fn get_upload(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let u = service::upload_for_staff(&state.db, &principal, *path).await?;
    Ok(crate::uploads::respond(&u))
}
