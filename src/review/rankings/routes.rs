//! JSON API of EQ-4 … EQ-7 and the own-rank proposal (one call per handler).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{Evidence, FalsificationList, FalsificationView, Filings, Flag, ProposalView};
use crate::auth::Principal;
use crate::error::{AppResult, Problem};
use crate::ids::{OrgId, PersonId};
use crate::ledger::queries::Period;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/orgs/{org_id}/ranking-publicity",
        web::post().to(publish_ranking),
    )
    .route(
        "/orgs/{org_id}/ranking-filings",
        web::post().to(file_ranking),
    )
    .route(
        "/orgs/{org_id}/ranking-filings",
        web::get().to(list_filings),
    )
    .route("/orgs/{org_id}/rank-evidence", web::get().to(rank_evidence))
    .route("/orgs/{org_id}/rank-flags", web::get().to(rank_flags))
    .route(
        "/people/{person_id}/rank-flags/handle",
        web::post().to(handle_rank_flag),
    )
    .route("/falsifications", web::post().to(open_falsification))
    .route("/falsifications/{id}", web::get().to(get_falsification))
    .route(
        "/falsifications/{id}/annul",
        web::post().to(annul_falsified),
    )
    .route(
        "/falsifications/{id}/conclude",
        web::post().to(conclude_falsification),
    )
    .route(
        "/orgs/{org_id}/falsifications",
        web::get().to(list_falsifications),
    )
    .route("/orgs/{org_id}/proposals", web::get().to(list_proposals))
    .route(
        "/org-proposals/{id}/confirm",
        web::post().to(confirm_proposal),
    )
    .route(
        "/org-proposals/{id}/decline",
        web::post().to(decline_proposal),
    );
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRanking {
    pub year: i32,
    /// `quarter` (a branch, 支部内) or `half_year` (the committee, 全委).
    pub period: Period,
    /// Which quarter (1-4) or half-year (1-2).
    pub n: u32,
    /// Days of the window (default: the policy's).
    pub days: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PublishedRanking {
    pub publicity_id: i64,
    pub org_id: i64,
    pub label: String,
    pub version: i32,
    pub closes_at: chrono::DateTime<chrono::Utc>,
    /// Name, branch, score (exact decimal text) and place (ties share a place).
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<crate::review::publicity::Row>,
}

/// Publish a ranking: a branch's quarter or the committee's half-year (EQ-4), as a ranked publicity.
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/ranking-publicity", tag = "rankings", params(("org_id" = i64, Path)), request_body = PublishRanking,
    security(("bearer" = ["scores.write"])),
    responses((status = 201, body = PublishedRanking), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn publish_ranking(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<PublishRanking>,
) -> AppResult<HttpResponse> {
    let b = body.into_inner();
    let p = super::publish(
        &state,
        &principal,
        OrgId(*path),
        b.year,
        b.period,
        b.n,
        b.days,
    )
    .await?;
    Ok(HttpResponse::Created().json(PublishedRanking {
        publicity_id: p.id,
        org_id: p.org_id,
        label: super::publicity_label(&p),
        version: p.version,
        closes_at: p.closes_at,
        rows: crate::review::publicity::rows_of(&p),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileRanking {
    pub year: i32,
    pub quarter: u32,
    pub note: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FilingView {
    pub id: i64,
    pub org_id: i64,
    pub publicity_id: i64,
    pub year: i32,
    pub quarter: Option<i32>,
    pub version: i32,
    pub filed_by: i64,
    pub filed_at: chrono::DateTime<chrono::Utc>,
    pub note: Option<String>,
}

/// File the branch's published quarterly ranking with the committee (EQ-4 报送备案).
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/ranking-filings", tag = "rankings", params(("org_id" = i64, Path)), request_body = FileRanking,
    security(("bearer" = ["scores.write"])),
    responses((status = 201, body = FilingView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn file_ranking(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<FileRanking>,
) -> AppResult<HttpResponse> {
    let b = body.into_inner();
    let f = super::file(&state, &principal, OrgId(*path), b.year, b.quarter, b.note).await?;
    Ok(HttpResponse::Created().json(FilingView {
        id: f.id,
        org_id: f.org_id,
        publicity_id: f.publicity_id,
        year: f.year,
        quarter: f.n,
        version: f.version,
        filed_by: f.filed_by,
        filed_at: f.filed_at,
        note: f.note,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct YearQuery {
    pub year: Option<i32>,
}

async fn year_of(state: &AppState, org: i64, year: Option<i32>) -> AppResult<i32> {
    match year {
        Some(y) => Ok(y),
        None => {
            let org = crate::org::service::find(&state.db, OrgId(org)).await?;
            Ok(crate::ledger::routes::current_year(state, &org))
        }
    }
}

/// Per branch and quarter: published, filed (who, when, which version) or not (EQ-4).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/ranking-filings", tag = "rankings", params(("org_id" = i64, Path), YearQuery),
    security(("bearer" = ["scores.read"])),
    responses((status = 200, body = Filings), (status = 403, body = Problem)))]
pub async fn list_filings(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    q: web::Query<YearQuery>,
) -> AppResult<HttpResponse> {
    let year = year_of(&state, *path, q.year).await?;
    Ok(HttpResponse::Ok().json(super::filings(&state, &principal, OrgId(*path), year).await?))
}

/// Each member's quarterly and half-year places and last places, the run carried from
/// last year, and who the close would rate unqualified or flag, and why (EQ-5, EQ-6).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/rank-evidence", tag = "rankings", params(("org_id" = i64, Path), YearQuery),
    security(("bearer" = ["scores.read"])),
    responses((status = 200, body = Evidence), (status = 403, body = Problem)))]
pub async fn rank_evidence(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    q: web::Query<YearQuery>,
) -> AppResult<HttpResponse> {
    let year = year_of(&state, *path, q.year).await?;
    Ok(HttpResponse::Ok().json(super::evidence(&state, &principal, OrgId(*path), year).await?))
}

/// EQ-6 consequences that need a Party procedure, with their evidence and handling.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/rank-flags", tag = "rankings", params(("org_id" = i64, Path), YearQuery),
    security(("bearer" = ["scores.read"])),
    responses((status = 200, body = Vec<Flag>), (status = 403, body = Problem)))]
pub async fn rank_flags(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    q: web::Query<YearQuery>,
) -> AppResult<HttpResponse> {
    let year = year_of(&state, *path, q.year).await?;
    Ok(HttpResponse::Ok().json(super::flags(&state, &principal, OrgId(*path), year).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandleFlag {
    pub year: i32,
    /// `not_confirmable_on_time` or `not_excellent`.
    pub flag: String,
    /// What was done (e.g. 支部大会决定延长预备期一年，已报党委审批).
    pub action: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HandledFlag {
    pub id: i64,
    pub person_id: i64,
    pub year: i32,
    pub rule: String,
    pub flag: String,
    pub action: String,
    pub handled_by: i64,
    pub handled_at: chrono::DateTime<chrono::Utc>,
}

/// Record what was done about a flag (EQ-6); nothing else changes.
#[utoipa::path(post, path = "/api/v1/people/{person_id}/rank-flags/handle", tag = "rankings", params(("person_id" = i64, Path)), request_body = HandleFlag,
    security(("bearer" = ["review"])),
    responses((status = 201, body = HandledFlag), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn handle_rank_flag(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<HandleFlag>,
) -> AppResult<HttpResponse> {
    let b = body.into_inner();
    let h = super::handle_flag(
        &state,
        &principal,
        PersonId(*path),
        b.year,
        &b.flag,
        &b.action,
    )
    .await?;
    Ok(HttpResponse::Created().json(HandledFlag {
        id: h.id,
        person_id: h.person_id,
        year: h.year,
        rule: h.rule,
        flag: h.flag,
        action: h.action,
        handled_by: h.handled_by,
        handled_at: h.handled_at,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFalsification {
    pub person_id: i64,
    pub year: i32,
    /// The facts found and their basis (required).
    #[serde(default)]
    pub reason: String,
}

/// Open a falsification finding about a member's points of a year (EQ-7; admins).
#[utoipa::path(post, path = "/api/v1/falsifications", tag = "rankings", request_body = NewFalsification,
    security(("bearer" = ["scores.correct"])),
    responses((status = 201, body = FalsificationView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn open_falsification(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<NewFalsification>,
) -> AppResult<HttpResponse> {
    let b = body.into_inner();
    let c = super::open_falsification(&state, &principal, PersonId(b.person_id), b.year, &b.reason)
        .await?;
    Ok(HttpResponse::Created().json(super::get_falsification(&state, &principal, c.id).await?))
}

/// One falsification case with its steps (who, when, what).
#[utoipa::path(get, path = "/api/v1/falsifications/{id}", tag = "rankings", params(("id" = i64, Path)),
    security(("bearer" = ["scores.read"])),
    responses((status = 200, body = FalsificationView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_falsification(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(super::get_falsification(&state, &principal, *path).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnulFalsified {
    pub fact_id: i64,
    #[serde(default)]
    pub note: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Annulled {
    /// The annulment fact recorded.
    pub fact_id: i64,
}

/// Annul a falsified fact (the deduction) through the correction services (EQ-7).
#[utoipa::path(post, path = "/api/v1/falsifications/{id}/annul", tag = "rankings", params(("id" = i64, Path)), request_body = AnnulFalsified,
    security(("bearer" = ["scores.correct"])),
    responses((status = 201, body = Annulled), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn annul_falsified(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<AnnulFalsified>,
) -> AppResult<HttpResponse> {
    let b = body.into_inner();
    let fact_id = super::annul_falsified(&state, &principal, *path, b.fact_id, &b.note).await?;
    Ok(HttpResponse::Created().json(Annulled { fact_id }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Conclude {
    /// True: 认定属实 (counts for the branch); false: 不予认定.
    pub substantiated: bool,
    #[serde(default)]
    pub conclusion: String,
}

/// Conclude a falsification case (EQ-7).
#[utoipa::path(post, path = "/api/v1/falsifications/{id}/conclude", tag = "rankings", params(("id" = i64, Path)), request_body = Conclude,
    security(("bearer" = ["scores.correct"])),
    responses((status = 200, body = FalsificationView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn conclude_falsification(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<Conclude>,
) -> AppResult<HttpResponse> {
    let b = body.into_inner();
    super::conclude_falsification(&state, &principal, *path, b.substantiated, &b.conclusion)
        .await?;
    Ok(HttpResponse::Ok().json(super::get_falsification(&state, &principal, *path).await?))
}

/// Falsification cases of a year under an organization, and the substantiated count the
/// branch's assessment takes (EQ-7).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/falsifications", tag = "rankings", params(("org_id" = i64, Path), YearQuery),
    security(("bearer" = ["scores.read"])),
    responses((status = 200, body = FalsificationList), (status = 403, body = Problem)))]
pub async fn list_falsifications(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    q: web::Query<YearQuery>,
) -> AppResult<HttpResponse> {
    let year = year_of(&state, *path, q.year).await?;
    Ok(HttpResponse::Ok()
        .json(super::list_falsifications(&state, &principal, OrgId(*path), year).await?))
}

/// Settings the platform proposes for an organization (members' own rank), newest first.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/proposals", tag = "rankings", params(("org_id" = i64, Path)),
    security(("bearer" = ["org.read"])),
    responses((status = 200, body = Vec<ProposalView>), (status = 403, body = Problem)))]
pub async fn list_proposals(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(super::proposals(&state.db, &principal, OrgId(*path)).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Optional when confirming, required when declining.
    pub reason: Option<String>,
}

/// Confirm a proposal: members' own rank is switched on for the organization's branches.
#[utoipa::path(post, path = "/api/v1/org-proposals/{id}/confirm", tag = "rankings", params(("id" = i64, Path)), request_body = Decision,
    security(("bearer" = ["org.write"])),
    responses((status = 200, body = ProposalView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn confirm_proposal(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<Decision>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(
        super::decide_proposal(&state, &principal, *path, true, body.reason.as_deref()).await?,
    ))
}

/// Decline a proposal (a reason required); nothing switches.
#[utoipa::path(post, path = "/api/v1/org-proposals/{id}/decline", tag = "rankings", params(("id" = i64, Path)), request_body = Decision,
    security(("bearer" = ["org.write"])),
    responses((status = 200, body = ProposalView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn decline_proposal(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<Decision>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(
        super::decide_proposal(&state, &principal, *path, false, body.reason.as_deref()).await?,
    ))
}
