//! JSON API of SD-6's star rating (proposal, confirmation, 备案, publication, follow-up)
//! and of the year's result list (TW-7, XH-17, XH-18) with its export 年度结果名单.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::results::{self, MemberResult, YearResults};
use super::stars::{self, ConfirmInput, FollowUpRow, FollowUpView, NewFollowUp, StarRatingView};
use crate::auth::{Perm, Principal};
use crate::error::{AppResult, Problem};
use crate::ids::{OrgId, PersonId};
use crate::ledger::routes::valid_year;
use crate::reports::export::{self, ExportFormat};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org_id}/stars/{year}", web::get().to(get_stars))
        .route(
            "/orgs/{org_id}/stars/{year}/confirm",
            web::post().to(confirm_stars),
        )
        .route(
            "/orgs/{org_id}/stars/{year}/file",
            web::post().to(file_stars),
        )
        .route(
            "/orgs/{org_id}/stars/{year}/publish",
            web::post().to(publish_stars),
        )
        .route(
            "/orgs/{org_id}/stars/{year}/follow-ups",
            web::get().to(list_follow_ups),
        )
        .route(
            "/orgs/{org_id}/stars/{year}/follow-ups",
            web::post().to(record_follow_up),
        )
        .route("/orgs/{org_id}/results/{year}", web::get().to(get_results))
        .route(
            "/orgs/{org_id}/results/{year}/export",
            web::get().to(export_results),
        )
        .route(
            "/orgs/{org_id}/results/{year}/excellent",
            web::post().to(confirm_excellent),
        );
}

type OrgYear = web::Path<(i64, i32)>;

/// SD-6: the branch's star rating of a closed year: the proposal within the five-star
/// quota, or what the branch confirmed (with departures and reasons), filed and published.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/stars/{year}", tag = "results",
    params(("org_id" = i64, Path), ("year" = i32, Path)), security(("bearer" = ["scores.read"])),
    responses((status = 200, body = StarRatingView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn get_stars(
    state: web::Data<AppState>,
    principal: Principal,
    path: OrgYear,
) -> AppResult<HttpResponse> {
    let (org_id, year) = path.into_inner();
    let year = valid_year(year)?;
    let org =
        crate::org::service::scoped(&state.db, &principal, Perm::ScoresRead, OrgId(org_id)).await?;
    let (v, _) = stars::view(&state.db, &state.scoring, &org, year).await?;
    Ok(HttpResponse::Ok().json(v))
}

/// SD-6: the branch confirms the proposal, departing from it per member with a reason
/// (refused: no reason `reason_required`, above the quota `star_quota_exceeded`).
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/stars/{year}/confirm", tag = "results",
    params(("org_id" = i64, Path), ("year" = i32, Path)), request_body = ConfirmInput,
    security(("bearer" = ["review"])),
    responses((status = 200, body = StarRatingView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn confirm_stars(
    state: web::Data<AppState>,
    principal: Principal,
    path: OrgYear,
    body: web::Json<ConfirmInput>,
) -> AppResult<HttpResponse> {
    let (org_id, year) = path.into_inner();
    let year = valid_year(year)?;
    let v = stars::confirm(&state, &principal, OrgId(org_id), year, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(v))
}

/// SD-6 备案: the organization above the branch files the confirmed rating.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/stars/{year}/file", tag = "results",
    params(("org_id" = i64, Path), ("year" = i32, Path)), security(("bearer" = ["review"])),
    responses((status = 200, body = StarRatingView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn file_stars(
    state: web::Data<AppState>,
    principal: Principal,
    path: OrgYear,
) -> AppResult<HttpResponse> {
    let (org_id, year) = path.into_inner();
    let year = valid_year(year)?;
    let v = stars::file(&state, &principal, OrgId(org_id), year).await?;
    Ok(HttpResponse::Ok().json(v))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishStars {
    /// Days of publicity; default: the policy's.
    pub days: Option<i64>,
}

/// SD-6: the branch publishes the filed stars (a publicity, `review::publicity`).
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/stars/{year}/publish", tag = "results",
    params(("org_id" = i64, Path), ("year" = i32, Path)), request_body = PublishStars,
    security(("bearer" = ["scores.write"])),
    responses((status = 200, body = StarRatingView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn publish_stars(
    state: web::Data<AppState>,
    principal: Principal,
    path: OrgYear,
    body: web::Json<PublishStars>,
) -> AppResult<HttpResponse> {
    let (org_id, year) = path.into_inner();
    let year = valid_year(year)?;
    let v = stars::publish(&state, &principal, OrgId(org_id), year, body.days).await?;
    Ok(HttpResponse::Ok().json(v))
}

/// Members at 2★ or below, for warning talks (警示谈话) and pairing (结对帮教).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/stars/{year}/follow-ups", tag = "results",
    params(("org_id" = i64, Path), ("year" = i32, Path)), security(("bearer" = ["scores.read"])),
    responses((status = 200, body = Vec<FollowUpRow>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn list_follow_ups(
    state: web::Data<AppState>,
    principal: Principal,
    path: OrgYear,
) -> AppResult<HttpResponse> {
    let (org_id, year) = path.into_inner();
    let year = valid_year(year)?;
    let org =
        crate::org::service::scoped(&state.db, &principal, Perm::ScoresRead, OrgId(org_id)).await?;
    Ok(HttpResponse::Ok().json(stars::follow_ups(&state.db, &state.scoring, &org, year).await?))
}

/// Records a warning talk or a pairing with a member on the follow-up list (audited).
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/stars/{year}/follow-ups", tag = "results",
    params(("org_id" = i64, Path), ("year" = i32, Path)), request_body = NewFollowUp,
    security(("bearer" = ["review"])),
    responses((status = 201, body = FollowUpView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn record_follow_up(
    state: web::Data<AppState>,
    principal: Principal,
    path: OrgYear,
    body: web::Json<NewFollowUp>,
) -> AppResult<HttpResponse> {
    let (org_id, year) = path.into_inner();
    let year = valid_year(year)?;
    let v =
        stars::record_follow_up(&state, &principal, OrgId(org_id), year, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(v))
}

/// The year's result list: members' scores, stars (confirmed where confirmed), ratings,
/// 免评, award eligibility and no-award flags; organizations' fortress stars.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/results/{year}", tag = "results",
    params(("org_id" = i64, Path), ("year" = i32, Path)), security(("bearer" = ["scores.read"])),
    responses((status = 200, body = YearResults), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_results(
    state: web::Data<AppState>,
    principal: Principal,
    path: OrgYear,
) -> AppResult<HttpResponse> {
    let (org_id, year) = path.into_inner();
    let year = valid_year(year)?;
    let org =
        crate::org::service::scoped(&state.db, &principal, Perm::ScoresRead, OrgId(org_id)).await?;
    Ok(
        HttpResponse::Ok()
            .json(results::year_results(&state.db, &state.scoring, &org, year).await?),
    )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FormatQuery {
    /// `xlsx` (default) or `csv`.
    pub format: Option<ExportFormat>,
}

/// 年度结果名单 (姓名, 支部, 年度积分, 星级 or 等次, 是否免评) as XLSX or CSV; audited.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/results/{year}/export", tag = "exports",
    params(("org_id" = i64, Path), ("year" = i32, Path), FormatQuery), security(("bearer" = ["scores.read"])),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn export_results(
    state: web::Data<AppState>,
    principal: Principal,
    path: OrgYear,
    q: web::Query<FormatQuery>,
) -> AppResult<HttpResponse> {
    let (org_id, year) = path.into_inner();
    let year = valid_year(year)?;
    let org =
        crate::org::service::scoped(&state.db, &principal, Perm::ScoresRead, OrgId(org_id)).await?;
    results_download(
        &state,
        &principal,
        &org,
        year,
        q.format.unwrap_or(ExportFormat::Xlsx),
    )
    .await
}

/// The form as a download, audited (the API and the console).
pub async fn results_download(
    state: &AppState,
    principal: &Principal,
    org: &entity::organization::Model,
    year: i32,
    format: ExportFormat,
) -> AppResult<HttpResponse> {
    let r = results::year_results(&state.db, &state.scoring, org, year).await?;
    let table = results::result_table(&r);
    let (bytes, rows) = export::write_off_worker(table, format).await?;
    crate::audit::record(
        &state.db,
        &principal.actor(),
        crate::audit::Entry::new("export_results", "organization", org.id)
            .org(OrgId(org.id))
            .after(serde_json::json!({"year": year, "format": format.extension(), "rows": rows})),
    )
    .await?;
    Ok(export::download(
        bytes,
        format,
        &format!("{}_{year}年度结果名单", org.name),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmExcellent {
    pub person_id: i64,
    pub note: Option<String>,
}

/// TW-7: the branch confirms a proposed 优秀 (90 points and above) of a closed year.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/results/{year}/excellent", tag = "results",
    params(("org_id" = i64, Path), ("year" = i32, Path)), request_body = ConfirmExcellent,
    security(("bearer" = ["review"])),
    responses((status = 200, body = MemberResult), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn confirm_excellent(
    state: web::Data<AppState>,
    principal: Principal,
    path: OrgYear,
    body: web::Json<ConfirmExcellent>,
) -> AppResult<HttpResponse> {
    let (org_id, year) = path.into_inner();
    let year = valid_year(year)?;
    let body = body.into_inner();
    let r = results::confirm_excellent(
        &state,
        &principal,
        OrgId(org_id),
        year,
        PersonId(body.person_id),
        body.note,
    )
    .await?;
    Ok(HttpResponse::Ok().json(r))
}
