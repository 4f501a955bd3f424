//! HTTP handlers for items, corrections, scores, ledgers, rankings, policies and
//! year rollover.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::SubjectRef;
use super::facts::{NewFact, NewFactKind};
use super::inputs::{self, tz_of, year_of};
use super::queries::{self, Period, Ranking, SubjectLedger};
use super::year::{ReplaySummary, close_year};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult, Problem};
use crate::ids::{OrgId, PersonId};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/items", web::post().to(record_item))
        .route("/facts/{fact_id}", web::get().to(get_fact))
        .route("/facts/{fact_id}/annul", web::post().to(annul_fact))
        .route("/people/{person_id}/score", web::get().to(person_score))
        .route("/orgs/{org_id}/score", web::get().to(org_score))
        .route("/orgs/{org_id}/rankings", web::get().to(rankings))
        .route("/orgs/{org_id}/policy", web::get().to(get_org_policy))
        .route("/orgs/{org_id}/policy", web::put().to(set_org_policy))
        .route("/orgs/{org_id}/years/{year}/close", web::post().to(close))
        .route("/policies", web::get().to(list_policies))
        .route("/policies/{name}", web::get().to(get_policy));
}

/// Years the ledger can hold: a year outside them is a typo, refused before any query.
const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

pub fn valid_year(year: i32) -> AppResult<i32> {
    if YEARS.contains(&year) {
        Ok(year)
    } else {
        Err(AppError::field(
            "year",
            format!("年份须在 {} 至 {} 之间", YEARS.start(), YEARS.end()),
        ))
    }
}

pub fn current_year(state: &AppState, org: &entity::organization::Model) -> i32 {
    year_of(state.clock.now(), tz_of(org))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    /// The member the item is about (or `org_id` for an organization item).
    pub person_id: Option<PersonId>,
    pub org_id: Option<OrgId>,
    /// An item code of the organization's policy (e.g. `study`, `honor_city`, `dues_record`).
    pub item: String,
    /// When it happened (RFC 3339 with offset).
    pub at: DateTime<FixedOffset>,
    /// The item's own fields (`{"points": 4}`, `{"leading": true}` …).
    #[schema(value_type = Object)]
    pub fields: Option<Box<RawValue>>,
    pub reason: Option<String>,
    pub evidence: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RecordedFact {
    pub fact_id: i64,
    pub year: i32,
    /// Points this fact earns now, after caps.
    pub granted: queries::Points,
    pub notes: Vec<String>,
    pub score: queries::ScoreView,
}

/// Record an item (bonus, deduction, business record) for a member or an organization;
/// it is scored at once.
#[utoipa::path(post, path = "/api/v1/items", tag = "scores", request_body = NewItem,
    security(("bearer" = ["scores.write"])),
    responses((status = 201, body = RecordedFact), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn record_item(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<NewItem>,
) -> AppResult<HttpResponse> {
    // A new item for a date in a confirmed (核定) period is refused; corrections through
    // cases (disputes, objections, investigations) go through `record_item_as`.
    let checked = super::items::check_new(&state, &principal, body.into_inner()).await?;
    let recorded = super::items::record(&state, &principal, checked).await?;
    Ok(HttpResponse::Created().json(recorded))
}

/// Records an item as `principal` (the endpoint, and disputes accepted with an item).
pub async fn record_item_as(
    state: &AppState,
    principal: &Principal,
    body: NewItem,
) -> AppResult<RecordedFact> {
    let checked = super::items::check(state, principal, body).await?;
    super::items::record(state, principal, checked).await
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FactView {
    pub id: i64,
    pub kind: String,
    pub person_id: Option<i64>,
    pub org_id: Option<i64>,
    pub activity_id: Option<i64>,
    pub item: Option<String>,
    #[schema(value_type = Object)]
    pub fields: Option<Box<RawValue>>,
    pub method: Option<String>,
    pub target_id: Option<i64>,
    pub at: DateTime<Utc>,
    pub year: i32,
    pub received_at: DateTime<Utc>,
    pub actor_name: String,
    pub reason: Option<String>,
    pub evidence: Option<String>,
    /// Annulled by this later fact, if any.
    pub annulled_by: Option<i64>,
}

/// The fact's organization (its own, or its person's), after a scope check.
async fn fact_in_scope(
    state: &AppState,
    principal: &Principal,
    perm: Perm,
    id: i64,
) -> AppResult<(entity::fact::Model, entity::organization::Model)> {
    principal.require(perm)?;
    let fact = <entity::fact::Entity as sea_orm::EntityTrait>::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::not_found(format!("记录 {id} 不存在")))?;
    let org_id = match (fact.person_id, fact.org_id) {
        (Some(p), _) => {
            crate::org::people::find(&state.db, PersonId(p))
                .await?
                .org_id
        }
        (None, Some(o)) => o,
        _ => return Err(AppError::not_found(format!("记录 {id} 不存在"))),
    };
    let org = crate::org::service::find(&state.db, OrgId(org_id)).await?;
    principal.require_in(perm, &org.path)?;
    Ok((fact, org))
}

async fn annulled_by(state: &AppState, id: i64) -> AppResult<Option<i64>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    Ok(entity::fact::Entity::find()
        .filter(entity::fact::Column::Kind.eq("annul"))
        .filter(entity::fact::Column::TargetId.eq(id))
        .one(&state.db)
        .await?
        .map(|f| f.id))
}

/// One recorded fact, with who recorded it and whether it was annulled.
#[utoipa::path(get, path = "/api/v1/facts/{fact_id}", tag = "scores", params(("fact_id" = i64, Path)),
    security(("bearer" = ["scores.read"])),
    responses((status = 200, body = FactView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_fact(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (f, _) = fact_in_scope(&state, &principal, Perm::ScoresRead, *path).await?;
    let annulled = annulled_by(&state, f.id).await?;
    Ok(HttpResponse::Ok().json(FactView {
        id: f.id,
        kind: f.kind,
        person_id: f.person_id,
        org_id: f.org_id,
        activity_id: f.activity_id,
        item: f.item,
        fields: f.fields.and_then(|t| RawValue::from_string(t).ok()),
        method: f.method,
        target_id: f.target_id,
        at: f.at,
        year: f.year,
        received_at: f.received_at,
        actor_name: f.actor_name,
        reason: f.reason,
        evidence: f.evidence,
        annulled_by: annulled,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Annul {
    /// Why (required: every correction says why).
    pub reason: String,
    /// Evidence: a document number, a link, a description.
    pub evidence: Option<String>,
}

/// Annul a fact (admins): a new, audited fact; the ledger re-derives what it touches,
/// including caps the annulled fact had used up.
#[utoipa::path(post, path = "/api/v1/facts/{fact_id}/annul", tag = "scores", params(("fact_id" = i64, Path)), request_body = Annul,
    security(("bearer" = ["scores.correct"])),
    responses((status = 201, body = RecordedFact), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn annul_fact(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<Annul>,
) -> AppResult<HttpResponse> {
    let (target, org) = fact_in_scope(&state, &principal, Perm::Correct, *path).await?;
    let body = body.into_inner();
    let recorded = annul(
        &state,
        &principal,
        &target,
        &org,
        body.reason,
        body.evidence,
    )
    .await?;
    Ok(HttpResponse::Created().json(recorded))
}

/// Shared by the annul endpoint and check-in corrections.
pub async fn annul(
    state: &AppState,
    principal: &Principal,
    target: &entity::fact::Model,
    org: &entity::organization::Model,
    reason: String,
    evidence: Option<String>,
) -> AppResult<RecordedFact> {
    if reason.trim().is_empty() {
        return Err(AppError::field("reason", "更正须说明原因"));
    }
    if target.kind == "annul" {
        return Err(AppError::field("fact_id", "不能作废一条作废记录"));
    }
    if annulled_by(state, target.id).await?.is_some() {
        return Err(AppError::conflict("该记录已作废"));
    }
    let actor = principal.actor();
    let txn = crate::db::begin(&state.db).await?;
    let recorded = super::facts::record(
        &txn,
        &state.scoring,
        &actor,
        NewFact {
            kind: NewFactKind::Annul { target: target.id },
            at: state.clock.now(),
            received_at: state.clock.now(),
            session_id: None,
            reason: Some(reason.trim().to_owned()),
            evidence,
            // One annulment per fact, whatever the race.
            dedup_key: Some(format!("annul:{}", target.id)),
            source_event: None,
        },
        target.year,
    )
    .await?
    .ok_or_else(|| AppError::conflict("该记录已作废"))?;
    crate::audit::record(
        &txn,
        &actor,
        crate::audit::Entry::new("annul", "fact", target.id)
            .org(OrgId(org.id))
            .after(
                serde_json::json!({"annulment": recorded.fact.id, "reason": recorded.fact.reason}),
            ),
    )
    .await?;
    let subject = recorded.reposted.subject;
    let score = queries::score_view(&txn, subject, target.year).await?;
    sea_orm::TransactionSession::commit(txn).await?;
    Ok(RecordedFact {
        fact_id: recorded.fact.id,
        year: target.year,
        granted: queries::Points(rust_decimal::Decimal::ZERO),
        notes: Vec::new(),
        score,
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct YearQuery {
    /// Default: the current year in the organization's time zone.
    pub year: Option<i32>,
}

/// A member's running score, stars and ledger with explanations.
#[utoipa::path(get, path = "/api/v1/people/{person_id}/score", tag = "scores", params(("person_id" = i64, Path), YearQuery),
    security(("bearer" = ["scores.read"])),
    responses((status = 200, body = SubjectLedger), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn person_score(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    q: web::Query<YearQuery>,
) -> AppResult<HttpResponse> {
    let person =
        crate::org::people::scoped(&state.db, &principal, Perm::ScoresRead, PersonId(*path))
            .await?;
    let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
    let year = valid_year(q.year.unwrap_or_else(|| current_year(&state, &org)))?;
    Ok(HttpResponse::Ok()
        .json(queries::ledger(&state.db, SubjectRef::Person(person.id), year).await?))
}

/// An organization's fortress score and ledger.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/score", tag = "scores", params(("org_id" = i64, Path), YearQuery),
    security(("bearer" = ["scores.read"])),
    responses((status = 200, body = SubjectLedger), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn org_score(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    q: web::Query<YearQuery>,
) -> AppResult<HttpResponse> {
    let org =
        crate::org::service::scoped(&state.db, &principal, Perm::ScoresRead, OrgId(*path)).await?;
    let year = valid_year(q.year.unwrap_or_else(|| current_year(&state, &org)))?;
    Ok(HttpResponse::Ok().json(queries::ledger(&state.db, SubjectRef::Org(org.id), year).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RankQuery {
    pub year: Option<i32>,
    /// `year` (default), `half_year`, `quarter`, `month`.
    pub period: Option<Period>,
    /// Which half-year (1-2), quarter (1-4) or month (1-12).
    pub n: Option<u32>,
    /// `vanguard` (default) or `applicant`.
    pub index: Option<String>,
}

/// People ranked inside an organization subtree (secretaries and admins; exempt people have no place).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/rankings", tag = "scores", params(("org_id" = i64, Path), RankQuery),
    security(("bearer" = ["scores.read"])),
    responses((status = 200, body = Ranking), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn rankings(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    q: web::Query<RankQuery>,
) -> AppResult<HttpResponse> {
    let org =
        crate::org::service::scoped(&state.db, &principal, Perm::ScoresRead, OrgId(*path)).await?;
    let q = q.into_inner();
    let year = valid_year(q.year.unwrap_or_else(|| current_year(&state, &org)))?;
    let index = q.index.unwrap_or_else(|| "vanguard".to_owned());
    Ok(HttpResponse::Ok().json(
        queries::rankings(
            &state.db,
            &org,
            year,
            q.period.unwrap_or(Period::Year),
            q.n,
            &index,
        )
        .await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OrgPolicy {
    pub org_id: i64,
    pub year: i32,
    pub policy: String,
    pub customized: bool,
    /// Closed years never change.
    pub closed: bool,
}

/// The policy an organization scores a year with (its own choice or its nearest ancestor's).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/policy", tag = "policies", params(("org_id" = i64, Path), YearQuery),
    security(("bearer" = ["org.read"])),
    responses((status = 200, body = OrgPolicy), (status = 403, body = Problem)))]
pub async fn get_org_policy(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    q: web::Query<YearQuery>,
) -> AppResult<HttpResponse> {
    let org =
        crate::org::service::scoped(&state.db, &principal, Perm::OrgRead, OrgId(*path)).await?;
    let year = valid_year(q.year.unwrap_or_else(|| current_year(&state, &org)))?;
    let (name, source) = inputs::policy_choice(&state.db, &org.path, year).await?;
    Ok(HttpResponse::Ok().json(OrgPolicy {
        org_id: org.id,
        year,
        policy: name,
        customized: source.is_some(),
        closed: super::post::year_closed(&state.db, &org.path, year).await?,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPolicy {
    pub year: i32,
    /// A preset name (`xihu-2017` …) or the name of a customized copy.
    pub policy: String,
    /// The customized copy's TOML; omit to use an installed policy by name.
    pub source: Option<String>,
}

/// Choose the policy an organization subtree scores a year with (not for a closed year).
/// Running scores of that year are re-derived under the new policy.
#[utoipa::path(put, path = "/api/v1/orgs/{org_id}/policy", tag = "policies", params(("org_id" = i64, Path)), request_body = SetPolicy,
    security(("bearer" = ["policy.write"])),
    responses((status = 200, body = OrgPolicy), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn set_org_policy(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<SetPolicy>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .json(choose_policy_as(&state, &principal, OrgId(*path), body.into_inner()).await?))
}

/// Chooses an organization subtree's policy for a year, audited, and re-derives the
/// running scores of that year at once (the API's and the console's one path).
pub async fn choose_policy_as(
    state: &AppState,
    principal: &Principal,
    org_id: OrgId,
    body: SetPolicy,
) -> AppResult<OrgPolicy> {
    let org = crate::org::service::scoped(&state.db, principal, Perm::PolicyWrite, org_id).await?;
    match &body.source {
        Some(text) => {
            crate::policy::parse_policy(&format!("{}.toml", body.policy), text)
                .map_err(|e| AppError::field("source", e.to_string()))?;
        }
        None => {
            if state.scoring.policies.get(&body.policy).is_none() {
                let names: Vec<&str> = state.scoring.policies.names().collect();
                return Err(AppError::field(
                    "policy",
                    format!(
                        "没有名为“{}”的政策，可选：{}",
                        body.policy,
                        names.join("、")
                    ),
                ));
            }
        }
    }
    valid_year(body.year)?;
    let txn = crate::db::begin(&state.db).await?;
    if super::post::year_closed(&txn, &org.path, body.year).await? {
        return Err(AppError::conflict(format!(
            "{} 年度已结转，政策不能再改",
            body.year
        )));
    }
    sea_orm::EntityTrait::insert(entity::org_policy::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        org_id: sea_orm::ActiveValue::Set(org.id),
        year: sea_orm::ActiveValue::Set(body.year),
        policy: sea_orm::ActiveValue::Set(body.policy.clone()),
        source: sea_orm::ActiveValue::Set(body.source.clone()),
        chosen_by: sea_orm::ActiveValue::Set(Some(principal.account_id.0)),
        chosen_at: sea_orm::ActiveValue::Set(state.clock.now()),
    })
    .exec_without_returning(&txn)
    .await?;
    // The running scores of the subtree follow the new policy at once.
    super::year::replay_year(&txn, &state.scoring, Some(&org), body.year, false).await?;
    // A policy that ranks members proposes members' own rank; an admin decides (EQ-4).
    let chosen =
        super::inputs::resolve_policy(&state.scoring, &body.policy, body.source.as_deref())?;
    crate::review::rankings::propose_own_rank(
        &txn,
        principal,
        &org,
        body.year,
        &chosen,
        state.clock.now(),
    )
    .await?;
    crate::audit::record(
        &txn,
        &principal.actor(),
        crate::audit::Entry::new("set_policy", "organization", org.id)
            .org(OrgId(org.id))
            .after(serde_json::json!({"year": body.year, "policy": body.policy, "customized": body.source.is_some()})),
    )
    .await?;
    sea_orm::TransactionSession::commit(txn).await?;
    Ok(OrgPolicy {
        org_id: org.id,
        year: body.year,
        policy: body.policy,
        customized: body.source.is_some(),
        closed: false,
    })
}

/// Close a year (year rollover): year-end and group rules are applied, results and ledger
/// are archived and frozen; the new year starts from zero (SD-3).
#[utoipa::path(post, path = "/api/v1/orgs/{org_id}/years/{year}/close", tag = "policies", params(("org_id" = i64, Path), ("year" = i32, Path)),
    security(("bearer" = ["policy.write"])),
    responses((status = 200, body = ReplaySummary), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn close(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(i64, i32)>,
) -> AppResult<HttpResponse> {
    let (org_id, year) = path.into_inner();
    let year = valid_year(year)?;
    let org = crate::org::service::scoped(&state.db, &principal, Perm::PolicyWrite, OrgId(org_id))
        .await?;
    let summary = close_year(
        &state.db,
        &state.scoring,
        &principal.actor(),
        &org,
        year,
        state.clock.now(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(summary))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PolicySummary {
    pub name: String,
    pub title: String,
    pub source: Option<String>,
    /// Every reading of an unclear rule this policy made (RULES.md AMBIGUOUS).
    #[schema(value_type = Vec<Object>)]
    pub choices: Vec<crate::policy::Choice>,
    pub indexes: Vec<IndexSummary>,
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<crate::policy::ItemSpec>,
    pub rules: Vec<RuleSummary>,
    /// The fixed day's check-in window: `late_seconds` after the start, counted late
    /// (XH-8.1), or null for any time of the day (TW-2).
    #[schema(value_type = Object)]
    pub checkin: crate::policy::CheckinWindow,
    /// Whether make-up study of a missed fixed day earns points (offered only then).
    pub makeup_scores: bool,
    /// Leave lead time and what the platform proposes (EQ-3 absences, TW-5).
    #[schema(value_type = Object)]
    pub workflow: crate::policy::Workflow,
    /// What the policy asks of publicity (公示): periods, days, objectors; null: none.
    #[schema(value_type = Option<Object>)]
    pub publicity: Option<crate::policy::PublicitySettings>,
    /// What a closed year's result earns in the rewards ledger (积分超市, TW-7): the
    /// index, the minimum score and the yuan cap per point; null: no rewards.
    #[schema(value_type = Option<Object>)]
    pub rewards: Option<crate::policy::Rewards>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IndexSummary {
    pub id: String,
    pub label: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RuleSummary {
    pub id: String,
    pub label: String,
    pub index: String,
}

fn summary(p: &crate::policy::Policy) -> PolicySummary {
    PolicySummary {
        name: p.name.clone(),
        title: p.title.clone(),
        source: p.source.clone(),
        choices: p.choices.clone(),
        checkin: p.checkin.clone(),
        workflow: p.workflow.clone(),
        makeup_scores: p.makeup_scores(crate::policy::ActivityKind::FixedDay),
        publicity: p.publicity.clone(),
        rewards: p.rewards.clone(),
        indexes: p
            .indexes
            .iter()
            .map(|i| IndexSummary {
                id: i.id.to_string(),
                label: i.label.clone(),
            })
            .collect(),
        items: p.items().into_iter().cloned().collect(),
        rules: p
            .rules
            .iter()
            .map(|r| RuleSummary {
                id: r.id.to_string(),
                label: r.label.clone(),
                index: p
                    .indexes
                    .get(r.index)
                    .map(|i| i.id.to_string())
                    .unwrap_or_default(),
            })
            .collect(),
    }
}

/// The installed policies with their rules, item codes and documented choices.
#[utoipa::path(get, path = "/api/v1/policies", tag = "policies",
    security(("bearer" = ["authenticated"])),
    responses((status = 200, body = Vec<PolicySummary>), (status = 401, body = Problem)))]
pub async fn list_policies(
    state: web::Data<AppState>,
    _principal: Principal,
) -> AppResult<HttpResponse> {
    let list: Vec<PolicySummary> = state
        .scoring
        .policies
        .names()
        .filter_map(|n| state.scoring.policies.get(n))
        .map(|p| summary(&p))
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// One policy.
#[utoipa::path(get, path = "/api/v1/policies/{name}", tag = "policies", params(("name" = String, Path)),
    security(("bearer" = ["authenticated"])),
    responses((status = 200, body = PolicySummary), (status = 404, body = Problem)))]
pub async fn get_policy(
    state: web::Data<AppState>,
    _principal: Principal,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let p = state
        .scoring
        .policies
        .get(&path)
        .ok_or_else(|| AppError::not_found(format!("没有名为“{}”的政策", path.as_str())))?;
    Ok(HttpResponse::Ok().json(summary(&p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the API fuzzing pass: year 0 was taken and answered with dates the
    /// document's date-time format cannot hold.
    #[test]
    fn a_year_outside_the_ledgers_range_is_a_field_error() {
        assert_eq!(valid_year(2026).ok(), Some(2026));
        for bad in [0, -1, 1999, 2101, i32::MAX] {
            let e = valid_year(bad).expect_err("refused");
            assert_eq!(e.code, crate::error::ErrorCode::ValidationFailed, "{bad}");
        }
    }
}
