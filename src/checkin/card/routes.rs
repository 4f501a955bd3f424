//! The member card's API: issue, read, print (SVG), revoke, reissue, issue a branch's
//! missing cards, and take a card at an open session.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::take::{CardBody, CardCheckin};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult, Problem};
use crate::ids::{OrgId, PersonId};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/people/{person_id}/card", web::get().to(get_card))
        .route("/people/{person_id}/card", web::post().to(issue_card))
        .route("/people/{person_id}/card.svg", web::get().to(card_svg))
        .route(
            "/people/{person_id}/card/reissue",
            web::post().to(reissue_card),
        )
        .route(
            "/people/{person_id}/card/revoke",
            web::post().to(revoke_card),
        )
        .route("/orgs/{org_id}/cards", web::post().to(issue_cards))
        .route("/sessions/{session_id}/cards", web::post().to(take_card));
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CardView {
    pub id: i64,
    pub person_id: i64,
    /// 9 digits, the last a check digit.
    pub number: String,
    /// As printed: `1234 5678 9`.
    pub number_display: String,
    pub issued_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoke_reason: Option<String>,
}

impl From<&entity::member_card::Model> for CardView {
    fn from(c: &entity::member_card::Model) -> Self {
        CardView {
            id: c.id,
            person_id: c.person_id,
            number: c.number.clone(),
            number_display: super::display(&c.number),
            issued_at: c.issued_at,
            revoked_at: c.revoked_at,
            revoke_reason: c.revoke_reason.clone(),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardReason {
    /// Why (e.g. 卡片遗失): kept with the revoked card and in the audit log.
    pub reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedCards {
    /// Cards issued now (people who already held a valid card keep theirs).
    pub issued: u64,
}

/// A person's valid member card (its number, not its signed code).
#[utoipa::path(get, path = "/api/v1/people/{person_id}/card", tag = "checkin", params(("person_id" = i64, Path)),
    security(("bearer" = ["people.read"])),
    responses((status = 200, body = CardView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_card(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let person =
        crate::org::people::scoped(&state.db, &principal, Perm::PeopleRead, PersonId(*path))
            .await?;
    let card = super::active(&state.db, person.id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("{} 尚未发党员卡", person.name)))?;
    Ok(HttpResponse::Ok().json(CardView::from(&card)))
}

/// Issue a person's member card (409 `card_exists` while one is valid: reissue instead).
#[utoipa::path(post, path = "/api/v1/people/{person_id}/card", tag = "checkin", params(("person_id" = i64, Path)),
    security(("bearer" = ["activity.write"])),
    responses((status = 201, body = CardView), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn issue_card(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let person = super::manageable(&state.db, &principal, PersonId(*path)).await?;
    let card = super::issue(&state.db, &principal, &person, state.clock.now()).await?;
    Ok(HttpResponse::Created().json(CardView::from(&card)))
}

/// The valid card's QR code as SVG, to print (the signed code: who may check in may print).
#[utoipa::path(get, path = "/api/v1/people/{person_id}/card.svg", tag = "checkin", params(("person_id" = i64, Path)),
    security(("bearer" = ["activity.write"])),
    responses((status = 200, content_type = "image/svg+xml"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn card_svg(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let person = super::manageable(&state.db, &principal, PersonId(*path)).await?;
    let card = super::active(&state.db, person.id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("{} 尚未发党员卡", person.name)))?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("Cache-Control", "no-store"))
        .body(super::svg(&card)?))
}

/// Revoke the valid card and issue a new one: the old card is refused from now on.
#[utoipa::path(post, path = "/api/v1/people/{person_id}/card/reissue", tag = "checkin", params(("person_id" = i64, Path)), request_body = CardReason,
    security(("bearer" = ["activity.write"])),
    responses((status = 201, body = CardView), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn reissue_card(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<CardReason>,
) -> AppResult<HttpResponse> {
    let person = super::manageable(&state.db, &principal, PersonId(*path)).await?;
    let card = super::reissue(
        &state.db,
        &principal,
        &person,
        &body.reason,
        state.clock.now(),
    )
    .await?;
    Ok(HttpResponse::Created().json(CardView::from(&card)))
}

/// Revoke the valid card without a new one.
#[utoipa::path(post, path = "/api/v1/people/{person_id}/card/revoke", tag = "checkin", params(("person_id" = i64, Path)), request_body = CardReason,
    security(("bearer" = ["activity.write"])),
    responses((status = 200, body = CardView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke_card(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<CardReason>,
) -> AppResult<HttpResponse> {
    let person = super::manageable(&state.db, &principal, PersonId(*path)).await?;
    let card = super::revoke(
        &state.db,
        &principal,
        &person,
        &body.reason,
        state.clock.now(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(CardView::from(&card)))
}

/// Issue a card to every active person of the organization's subtree who has none.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/cards", tag = "checkin", params(("org_id" = i64, Path)),
    security(("bearer" = ["activity.write"])),
    responses((status = 200, body = IssuedCards), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn issue_cards(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let org = crate::org::service::scoped(&state.db, &principal, Perm::ActivityWrite, OrgId(*path))
        .await?;
    let issued = super::issue_missing(&state.db, &principal, &org, state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(IssuedCards { issued }))
}

/// Check a member in by card at an open session (typed number or the QR's code): timed
/// now, judged like a scan, recorded as 持卡签到 with the secretary; refusals write nothing.
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/cards", tag = "checkin", params(("session_id" = i64, Path)), request_body = CardBody,
    security(("bearer" = ["activity.write"])),
    responses((status = 200, body = CardCheckin), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn take_card(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<CardBody>,
) -> AppResult<HttpResponse> {
    let (session, _) =
        crate::checkin::routes::scoped_session(&state, &principal, Perm::ActivityWrite, *path)
            .await?;
    let input = body.into_inner().input()?;
    let taken = super::take(&state, &principal, &session, input).await?;
    Ok(HttpResponse::Ok().json(taken))
}
