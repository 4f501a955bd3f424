//! The rewards ledger's API (积分超市): the catalogue, a member's balance, the counter's
//! check and redemption, the organization's expiry setting. The member's own step
//! (asking for a code) is on `/m/rewards` (WeChat session), see `web::rewards`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::catalogue::{self, Item, NewItem};
use super::codes::{self, Preview, Redeemed};
use super::{Balance, Settings};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult, Problem};
use crate::ids::{OrgId, PersonId};
use crate::ledger::queries::Points;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org_id}/rewards/items", web::get().to(list_items))
        .route("/orgs/{org_id}/rewards/items", web::post().to(add_item))
        .route(
            "/rewards/items/{item_id}/retire",
            web::post().to(retire_item),
        )
        .route("/people/{person_id}/rewards", web::get().to(person_rewards))
        .route("/rewards/check", web::post().to(check_code))
        .route("/rewards/redeem", web::post().to(redeem_code))
        .route(
            "/orgs/{org_id}/rewards/settings",
            web::get().to(get_settings),
        )
        .route(
            "/orgs/{org_id}/rewards/settings",
            web::put().to(put_settings),
        );
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemBody {
    /// 物品名称.
    pub name: String,
    /// Price in points (exact decimal).
    #[schema(value_type = f64)]
    pub points: Points,
    /// Value in yuan (exact decimal), counted against the year's yuan cap.
    #[schema(value_type = f64)]
    pub yuan: Points,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    pub reason: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    /// The member's one-time code as typed or scanned (spaces allowed).
    pub code: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    /// Years after the end of a result's year until its balance lapses; null: never.
    pub expiry_years: Option<i32>,
    /// Why (kept in the setting and the audit log).
    pub reason: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Include retired items.
    #[serde(default)]
    pub all: bool,
}

/// The organization's rewards catalogue (its own items).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/rewards/items", tag = "rewards", params(("org_id" = i64, Path), ListQuery),
    security(("bearer" = ["scores.read"])),
    responses((status = 200, body = Vec<Item>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_items(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    query: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    let org =
        crate::org::service::scoped(&state.db, &principal, Perm::ScoresRead, OrgId(*path)).await?;
    let items: Vec<Item> = catalogue::of_org(&state.db, org.id, query.all)
        .await?
        .iter()
        .map(Item::from)
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

/// Add an item to the organization's catalogue: a price in points and a value in yuan.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/rewards/items", tag = "rewards", params(("org_id" = i64, Path)),
    request_body = ItemBody,
    security(("bearer" = ["rewards.catalogue"])),
    responses((status = 201, body = Item), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn add_item(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<ItemBody>,
) -> AppResult<HttpResponse> {
    let org =
        crate::org::service::scoped(&state.db, &principal, Perm::RewardsCatalogue, OrgId(*path))
            .await?;
    let body = body.into_inner();
    let item = catalogue::add(
        &state.db,
        &principal.actor(),
        &org,
        &NewItem {
            name: body.name,
            points: Some(body.points.0),
            yuan: Some(body.yuan.0),
        },
        state.clock.now(),
    )
    .await?;
    Ok(HttpResponse::Created().json(item))
}

/// Retire an item (never deleted): no new codes for it; open codes are refused.
#[utoipa::path(post, path = "/api/v1/rewards/items/{item_id}/retire", tag = "rewards", params(("item_id" = i64, Path)),
    request_body = Reason,
    security(("bearer" = ["rewards.catalogue"])),
    responses((status = 200, body = Item), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn retire_item(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<Reason>,
) -> AppResult<HttpResponse> {
    let item = scoped_item(&state, &principal, *path).await?;
    let item = catalogue::retire(
        &state.db,
        &principal.actor(),
        &item,
        &body.reason,
        state.clock.now(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(item))
}

/// An item the principal may keep (404 outside the scope, like an unknown id).
pub async fn scoped_item(
    state: &AppState,
    principal: &Principal,
    id: i64,
) -> AppResult<entity::reward_item::Model> {
    principal.require(Perm::RewardsCatalogue)?;
    let item = catalogue::find(&state.db, id).await?;
    let org = crate::org::service::find(&state.db, OrgId(item.org_id)).await?;
    if !principal.covers(&org.path) {
        return Err(AppError::not_found("没有这个兑换物品"));
    }
    Ok(item)
}

/// A member's rewards: credits per closed year (with the yuan cap and expiry),
/// redemptions, and the usable balance. Apart from the score.
#[utoipa::path(get, path = "/api/v1/people/{person_id}/rewards", tag = "rewards", params(("person_id" = i64, Path)),
    security(("bearer" = ["scores.read"])),
    responses((status = 200, body = Balance), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn person_rewards(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let person =
        crate::org::people::scoped(&state.db, &principal, Perm::ScoresRead, PersonId(*path))
            .await?;
    let now = state.clock.now();
    credit_then(&state, &person, now).await?;
    Ok(HttpResponse::Ok().json(super::balance(&state.db, &person, now).await?))
}

/// Credits what is due (a short write transaction, only when something is), for readers.
pub async fn credit_then(
    state: &AppState,
    person: &entity::person::Model,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<()> {
    // Most reads find nothing due: no write transaction for them.
    if super::due_years(&state.db, person.id).await?.is_empty() {
        return Ok(());
    }
    let txn = crate::db::begin(&state.db).await?;
    if super::credit_due(&txn, &state.scoring, person.id, now).await? > 0 {
        txn.commit().await?;
    } else {
        txn.rollback().await?;
    }
    Ok(())
}

/// The counter's check of a code before redeeming: member (masked), item, points, yuan.
/// Writes nothing but the audit of a refused check (refused checks and redemptions
/// lock the counter account after 10 in 10 minutes: 429).
#[utoipa::path(post, path = "/api/v1/rewards/check", tag = "rewards",
    request_body = CodeBody,
    security(("bearer" = ["rewards.redeem"])),
    responses((status = 200, body = Preview), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn check_code(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<CodeBody>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(codes::preview(&state, &principal, &body.code).await?))
}

/// Redeem a member's one-time code at a counter (积分超市): once, within its validity,
/// within the balance and the year's yuan cap (TW-7), only against a closed year.
#[utoipa::path(post, path = "/api/v1/rewards/redeem", tag = "rewards",
    request_body = CodeBody,
    security(("bearer" = ["rewards.redeem"])),
    responses((status = 201, body = Redeemed), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn redeem_code(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<CodeBody>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Created().json(codes::redeem(&state, &principal, &body.code).await?))
}

/// The organization's rewards settings in force (its own or inherited).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/rewards/settings", tag = "rewards", params(("org_id" = i64, Path)),
    security(("bearer" = ["scores.read"])),
    responses((status = 200, body = Settings), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_settings(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let org =
        crate::org::service::scoped(&state.db, &principal, Perm::ScoresRead, OrgId(*path)).await?;
    Ok(HttpResponse::Ok().json(super::settings_of(&state.db, &org).await?))
}

/// Set the expiry of rewards balances in years (null: never), with a reason; audited.
#[utoipa::path(put, path = "/api/v1/orgs/{org_id}/rewards/settings", tag = "rewards", params(("org_id" = i64, Path)),
    request_body = SettingsBody,
    security(("bearer" = ["org.write"])),
    responses((status = 200, body = Settings), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn put_settings(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<SettingsBody>,
) -> AppResult<HttpResponse> {
    let org =
        crate::org::service::scoped(&state.db, &principal, Perm::OrgWrite, OrgId(*path)).await?;
    let s = super::set_expiry(
        &state.db,
        &principal.actor(),
        &org,
        body.expiry_years,
        &body.reason,
        state.clock.now(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(s))
}
