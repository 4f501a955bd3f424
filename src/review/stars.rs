//! SD-6 star rating of a closed year, and the follow-up of members at 2★ or below.
//!
//! The proposal is the engine's: at year close the group stage (`policy::group`) gave
//! each member of a branch the stars of their band, five only within the quota (the
//! preset's share, rounding and ties), and froze them in `subject_scores`. Here the
//! branch (Perm::Review) confirms that proposal or departs from it per member with a
//! recorded reason; a departure that puts more members at five stars than the quota's
//! seats, five stars below the quota's minimum score, or any change without a reason
//! is refused and nothing is written. The organization above (general branch or
//! committee) files it (备案); the branch then publishes the confirmed stars through
//! `review::publicity`. From confirmation on, pages and forms show the confirmed stars
//! (`results::confirmed_or_proposed_stars`); `subject_scores` keeps the engine's.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};

use super::results::{StarsSource, stars_of_person};
use crate::audit::Entry;
use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::{OrgId, PersonId};
use crate::ledger::queries::Points;
use crate::ledger::{Scoring, inputs};
use crate::policy::{GroupKind, Policy, Quota, fmt_dec, parse_dec, quota_seats};
use crate::state::AppState;

pub const CONFIRMED: &str = "confirmed";
pub const FILED: &str = "filed";
pub const PUBLISHED: &str = "published";
/// Not stored: the engine's proposal before the branch confirmed it.
pub const PROPOSED: &str = "proposed";

/// One member of the branch's star rating.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StarLine {
    pub person_id: i64,
    pub name: String,
    pub score: Option<Points>,
    /// `scored`, `exempt`, `unqualified`, `vetoed`.
    pub status: String,
    /// 免评 (SD-7): no stars, not counted in the quota.
    pub exempt: bool,
    /// What the engine proposes (its group stage, within the quota).
    pub proposed_stars: Option<i32>,
    /// What stands: the confirmed stars, or the proposal before confirmation.
    pub stars: Option<i32>,
    pub departed: bool,
    pub reason: Option<String>,
}

/// A branch's star rating of a year: the proposal, or what the branch confirmed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StarRatingView {
    pub org_id: i64,
    pub org_name: String,
    pub year: i32,
    /// `proposed` (nothing confirmed yet), `confirmed`, `filed` (备案), `published`.
    pub state: String,
    pub state_label: String,
    pub rule: String,
    /// Members counted for the quota (exempt and not covered ones are not).
    pub members: usize,
    /// Five-star seats: the preset's share of `members`, rounded as the preset says.
    pub quota: usize,
    /// How the quota is read (the preset's choice), in words.
    pub quota_reading: String,
    pub min_score: Points,
    pub five_stars: usize,
    pub lines: Vec<StarLine>,
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub filed_by: Option<String>,
    pub filed_at: Option<DateTime<Utc>>,
    pub publicity_id: Option<i64>,
    pub published_at: Option<DateTime<Utc>>,
}

/// A departure from the proposal for one member.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Departure {
    pub person_id: i64,
    /// 0–5.
    pub stars: i32,
    /// Required: why the branch departs from the proposal.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmInput {
    /// Members whose stars differ from the proposal; everyone else as proposed.
    #[serde(default)]
    pub departures: Vec<Departure>,
}

pub fn state_label(state: &str) -> &'static str {
    match state {
        CONFIRMED => "支部已确认，待上级备案",
        FILED => "已备案，待公示",
        PUBLISHED => "已公示",
        _ => "系统建议，待支部确认",
    }
}

/// The policy's five-star quota (SD-6) and its index id, or a refusal naming why.
fn quota_of(policy: &Policy) -> AppResult<(&Quota, String)> {
    policy
        .groups
        .iter()
        .find_map(|g| match &g.kind {
            GroupKind::Quota(q) => policy.indexes.get(g.index).map(|i| (q, i.id.to_string())),
            GroupKind::LastPlace(_) => None,
        })
        .ok_or_else(|| {
            AppError::conflict(format!(
                "本组织的积分办法（{}）没有五星名额评定（SD-6），星级按分数段直接评定",
                policy.name
            ))
        })
}

fn quota_reading(policy: &Policy) -> String {
    policy
        .choices
        .iter()
        .filter(|c| c.rule_id == "SD-6" && c.question.contains("取整"))
        .map(|c| c.choice.clone())
        .next()
        .unwrap_or_default()
}

async fn usernames(
    db: &impl ConnectionTrait,
    ids: impl Iterator<Item = i64>,
) -> AppResult<HashMap<i64, String>> {
    let ids: Vec<i64> = ids.collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(entity::account::Entity::find()
        .filter(entity::account::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|a| {
            let name = if a.display_name.is_empty() {
                a.username
            } else {
                a.display_name
            };
            (a.id, name)
        })
        .collect())
}

/// The branch's rating of a closed year: the stored confirmation, else the proposal.
/// Refused: an organization that is not a branch, an open year, a policy without a
/// quota.
pub async fn view(
    db: &impl ConnectionTrait,
    scoring: &Scoring,
    org: &entity::organization::Model,
    year: i32,
) -> AppResult<(StarRatingView, Quota)> {
    if org.kind != "branch" {
        return Err(AppError::field(
            "org_id",
            "星级按支部评定（五星名额按支部党员总数计算），请选择支部",
        ));
    }
    if !crate::ledger::post::year_closed(db, &org.path, year).await? {
        return Err(AppError::new(
            ErrorCode::YearNotClosed,
            format!("{year} 年度尚未结转：结转后系统才按名额提出星级建议"),
        ));
    }
    let policy = inputs::policy_for(db, scoring, &org.path, year).await?;
    let (quota, index) = quota_of(&policy)?;
    let quota = quota.clone();
    let subtree = crate::org::service::subtree_ids(db, org).await?;
    let mut people = Vec::new();
    for chunk in subtree.chunks(500) {
        people.extend(
            entity::person::Entity::find()
                .filter(entity::person::Column::OrgId.is_in(chunk.to_vec()))
                .filter(entity::person::Column::Role.is_in(["member", "probationary"]))
                .all(db)
                .await?,
        );
    }
    let ids: Vec<i64> = people.iter().map(|p| p.id).collect();
    let mut rows: HashMap<i64, entity::subject_score::Model> = HashMap::new();
    for chunk in ids.chunks(500) {
        for r in entity::subject_score::Entity::find()
            .filter(entity::subject_score::Column::SubjectKind.eq("person"))
            .filter(entity::subject_score::Column::Year.eq(year))
            .filter(entity::subject_score::Column::SubjectId.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            rows.insert(r.subject_id, r);
        }
    }
    let rating = entity::star_rating::Entity::find()
        .filter(entity::star_rating::Column::OrgId.eq(org.id))
        .filter(entity::star_rating::Column::Year.eq(year))
        .one(db)
        .await?;
    let stored: HashMap<i64, entity::star_rating_line::Model> = match &rating {
        Some(r) => entity::star_rating_line::Entity::find()
            .filter(entity::star_rating_line::Column::RatingId.eq(r.id))
            .all(db)
            .await?
            .into_iter()
            .map(|l| (l.person_id, l))
            .collect(),
        None => HashMap::new(),
    };
    let mut lines = Vec::new();
    for p in &people {
        let Some(r) = rows.get(&p.id) else { continue };
        let exempt = r.status == "exempt";
        if !exempt && r.index_name != index {
            continue;
        }
        let proposed = if exempt { None } else { r.stars };
        let (stars, reason) = match stored.get(&p.id) {
            Some(l) => (l.stars, l.reason.clone()),
            None => (proposed, None),
        };
        lines.push(StarLine {
            person_id: p.id,
            name: p.name.clone(),
            score: if exempt {
                None
            } else {
                r.score.as_deref().and_then(parse_dec).map(Points)
            },
            status: r.status.clone(),
            exempt,
            proposed_stars: proposed,
            stars,
            departed: stars != proposed,
            reason,
        });
    }
    // Highest score first, as the quota reads them; exempt members last.
    lines.sort_by(|a, b| {
        a.exempt
            .cmp(&b.exempt)
            .then(b.score.cmp(&a.score))
            .then(a.name.cmp(&b.name))
    });
    let members = lines
        .iter()
        .filter(|l| !l.exempt && l.status != "not_covered")
        .count();
    let seats = quota_seats(&quota, members);
    let five = i32::from(quota.stars);
    let who = usernames(
        db,
        rating
            .iter()
            .flat_map(|r| [Some(r.confirmed_by), r.filed_by])
            .flatten(),
    )
    .await?;
    let state = rating.as_ref().map_or(PROPOSED, |r| r.state.as_str());
    Ok((
        StarRatingView {
            org_id: org.id,
            org_name: org.name.clone(),
            year,
            state: state.to_owned(),
            state_label: state_label(state).to_owned(),
            rule: "SD-6".to_owned(),
            members,
            quota: seats,
            quota_reading: quota_reading(&policy),
            min_score: Points(quota.min_score),
            five_stars: lines.iter().filter(|l| l.stars == Some(five)).count(),
            lines,
            confirmed_by: rating
                .as_ref()
                .and_then(|r| who.get(&r.confirmed_by).cloned()),
            confirmed_at: rating.as_ref().map(|r| r.confirmed_at),
            filed_by: rating
                .as_ref()
                .and_then(|r| r.filed_by)
                .and_then(|id| who.get(&id).cloned()),
            filed_at: rating.as_ref().and_then(|r| r.filed_at),
            publicity_id: rating.as_ref().and_then(|r| r.publicity_id),
            published_at: rating.as_ref().and_then(|r| r.published_at),
        },
        quota,
    ))
}

/// The branch confirms the proposal, departing from it for some members with a reason.
pub async fn confirm(
    state: &AppState,
    principal: &Principal,
    org_id: OrgId,
    year: i32,
    input: ConfirmInput,
) -> AppResult<StarRatingView> {
    let org = crate::org::service::scoped(&state.db, principal, Perm::Review, org_id).await?;
    let (mut v, quota) = view(&state.db, &state.scoring, &org, year).await?;
    if v.state != PROPOSED {
        return Err(AppError::new(
            ErrorCode::StarRatingState,
            format!("{year} 年度星级已确认（{}），不能再次确认", v.state_label),
        ));
    }
    let five = i32::from(quota.stars);
    let mut seen = std::collections::HashSet::new();
    for d in &input.departures {
        if !seen.insert(d.person_id) {
            return Err(AppError::field("departures", "同一名党员只能填写一次"));
        }
        let line = v
            .lines
            .iter_mut()
            .find(|l| l.person_id == d.person_id)
            .ok_or_else(|| AppError::not_found("本支部该年度的星级名单中没有这名党员"))?;
        if line.exempt {
            return Err(AppError::field(
                "departures",
                format!("{}为免评党员，不评星级", line.name),
            ));
        }
        if !(0..=five).contains(&d.stars) {
            return Err(AppError::field(
                "departures",
                format!("星级须在 0 至 {five} 星之间"),
            ));
        }
        if Some(d.stars) == line.proposed_stars {
            // Same as proposed: not a departure.
            line.stars = line.proposed_stars;
            line.departed = false;
            line.reason = None;
            continue;
        }
        let reason = d.reason.as_deref().map(str::trim).unwrap_or_default();
        if reason.is_empty() {
            return Err(AppError::new(
                ErrorCode::ReasonRequired,
                format!(
                    "{}的星级与系统建议（{}）不同，须填写理由",
                    line.name,
                    line.proposed_stars
                        .map_or("无星级".to_owned(), |s| format!("{s} 星"))
                ),
            ));
        }
        if reason.chars().count() > 500 {
            return Err(AppError::field("departures", "理由不能超过 500 字"));
        }
        if d.stars == five && line.score.is_none_or(|s| s.0 < quota.min_score) {
            return Err(AppError::field(
                "departures",
                format!(
                    "{}年度积分未达 {} 分，不能评为五星（SD-6）",
                    line.name,
                    fmt_dec(quota.min_score)
                ),
            ));
        }
        line.stars = Some(d.stars);
        line.departed = true;
        line.reason = Some(reason.to_owned());
    }
    let fives = v.lines.iter().filter(|l| l.stars == Some(five)).count();
    if fives > v.quota {
        return Err(AppError::new(
            ErrorCode::StarQuotaExceeded,
            format!(
                "五星级党员 {fives} 名，超出名额：本支部参评 {} 人，五星最多 {} 名（SD-6）",
                v.members, v.quota
            ),
        ));
    }
    let now = state.clock.now();
    let txn = crate::db::begin(&state.db).await?;
    let rating = entity::star_rating::Entity::insert(entity::star_rating::ActiveModel {
        id: NotSet,
        org_id: Set(org.id),
        year: Set(year),
        state: Set(CONFIRMED.to_owned()),
        quota: Set(i32::try_from(v.quota).unwrap_or(i32::MAX)),
        members: Set(i32::try_from(v.members).unwrap_or(i32::MAX)),
        confirmed_by: Set(principal.account_id.0),
        confirmed_at: Set(now),
        filed_by: Set(None),
        filed_at: Set(None),
        publicity_id: Set(None),
        published_at: Set(None),
    })
    .exec(&txn)
    .await
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => AppError::new(
            ErrorCode::StarRatingState,
            format!("{year} 年度星级刚被他人确认，请刷新后查看"),
        ),
        _ => AppError::from(e),
    })?
    .last_insert_id;
    let rows: Vec<entity::star_rating_line::ActiveModel> = v
        .lines
        .iter()
        .map(|l| entity::star_rating_line::ActiveModel {
            id: NotSet,
            rating_id: Set(rating),
            person_id: Set(l.person_id),
            score: Set(l.score.map(|s| fmt_dec(s.0))),
            proposed_stars: Set(l.proposed_stars),
            stars: Set(if l.exempt { None } else { l.stars }),
            exempt: Set(l.exempt),
            reason: Set(l.reason.clone()),
        })
        .collect();
    for chunk in rows.chunks(500) {
        entity::star_rating_line::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    let departures: Vec<serde_json::Value> = v
        .lines
        .iter()
        .filter(|l| l.departed)
        .map(|l| serde_json::json!({"person_id": l.person_id, "proposed": l.proposed_stars, "stars": l.stars, "reason": l.reason}))
        .collect();
    crate::audit::record(
        &txn,
        &principal.actor(),
        Entry::new("confirm_stars", "star_rating", rating)
            .org(OrgId(org.id))
            .after(serde_json::json!({"year": year, "members": v.members, "quota": v.quota, "five_stars": fives, "departures": departures})),
    )
    .await?;
    txn.commit().await?;
    Ok(view(&state.db, &state.scoring, &org, year).await?.0)
}

async fn stored(
    db: &impl ConnectionTrait,
    org: i64,
    year: i32,
) -> AppResult<Option<entity::star_rating::Model>> {
    Ok(entity::star_rating::Entity::find()
        .filter(entity::star_rating::Column::OrgId.eq(org))
        .filter(entity::star_rating::Column::Year.eq(year))
        .one(db)
        .await?)
}

/// 备案: the organization above the branch (a general branch or committee) files the
/// confirmed rating; who and when are recorded. The branch cannot file its own.
pub async fn file(
    state: &AppState,
    principal: &Principal,
    org_id: OrgId,
    year: i32,
) -> AppResult<StarRatingView> {
    let org = crate::org::service::scoped(&state.db, principal, Perm::Review, org_id).await?;
    if principal.scope_path.as_deref() == Some(org.path.as_str()) {
        return Err(AppError::forbidden(
            "星级评定由上级党组织（党总支或党委）备案，支部不能为自己备案",
        ));
    }
    let Some(r) = stored(&state.db, org.id, year).await? else {
        return Err(AppError::new(
            ErrorCode::StarRatingState,
            format!("{}尚未确认 {year} 年度星级，不能备案", org.name),
        ));
    };
    if r.state != CONFIRMED {
        return Err(AppError::new(
            ErrorCode::StarRatingState,
            format!("{year} 年度星级{}，不能再次备案", state_label(&r.state)),
        ));
    }
    let now = state.clock.now();
    let txn = crate::db::begin(&state.db).await?;
    let res = entity::star_rating::Entity::update_many()
        .col_expr(
            entity::star_rating::Column::State,
            sea_orm::sea_query::Expr::value(FILED),
        )
        .col_expr(
            entity::star_rating::Column::FiledBy,
            sea_orm::sea_query::Expr::value(principal.account_id.0),
        )
        .col_expr(
            entity::star_rating::Column::FiledAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(entity::star_rating::Column::Id.eq(r.id))
        .filter(entity::star_rating::Column::State.eq(CONFIRMED))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        return Err(AppError::new(
            ErrorCode::StarRatingState,
            "该星级评定刚被他人处理，请刷新后查看",
        ));
    }
    crate::audit::record(
        &txn,
        &principal.actor(),
        Entry::new("file_stars", "star_rating", r.id)
            .org(OrgId(org.id))
            .before(serde_json::json!({"state": CONFIRMED}))
            .after(serde_json::json!({"state": FILED, "year": year})),
    )
    .await?;
    txn.commit().await?;
    Ok(view(&state.db, &state.scoring, &org, year).await?.0)
}

/// The branch publishes the filed stars through `review::publicity` (a list of its own
/// kind, `stars`: name, branch, score, stars; exempt members have no line).
pub async fn publish(
    state: &AppState,
    principal: &Principal,
    org_id: OrgId,
    year: i32,
    days: Option<i64>,
) -> AppResult<StarRatingView> {
    let org = crate::org::service::scoped(&state.db, principal, Perm::ScoresWrite, org_id).await?;
    let (v, _) = view(&state.db, &state.scoring, &org, year).await?;
    if v.state != FILED {
        return Err(AppError::new(
            ErrorCode::StarRatingState,
            match v.state.as_str() {
                PUBLISHED => format!("{year} 年度星级已公示"),
                _ => format!("{year} 年度星级须经支部确认、上级备案后才能公示"),
            },
        ));
    }
    let Some(r) = stored(&state.db, org.id, year).await? else {
        return Err(AppError::new(ErrorCode::StarRatingState, "星级评定不存在"));
    };
    let rows: Vec<super::publicity::Row> = v
        .lines
        .iter()
        .filter(|l| !l.exempt)
        .map(|l| super::publicity::Row {
            person_id: l.person_id,
            name: l.name.clone(),
            org_id: org.id,
            org_name: org.name.clone(),
            score: l.score.map(|s| fmt_dec(s.0)).unwrap_or_default(),
            stars: l.stars,
            place: None,
        })
        .collect();
    let now = state.clock.now();
    let txn = crate::db::begin(&state.db).await?;
    let p = super::publicity::publish_list(&txn, state, principal, &org, year, &rows, days, "SD-6")
        .await?;
    let res = entity::star_rating::Entity::update_many()
        .col_expr(
            entity::star_rating::Column::State,
            sea_orm::sea_query::Expr::value(PUBLISHED),
        )
        .col_expr(
            entity::star_rating::Column::PublicityId,
            sea_orm::sea_query::Expr::value(p.id),
        )
        .col_expr(
            entity::star_rating::Column::PublishedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(entity::star_rating::Column::Id.eq(r.id))
        .filter(entity::star_rating::Column::State.eq(FILED))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        return Err(AppError::new(
            ErrorCode::StarRatingState,
            "该星级评定刚被他人处理，请刷新后查看",
        ));
    }
    txn.commit().await?;
    super::publicity::notify(state, &p);
    Ok(view(&state.db, &state.scoring, &org, year).await?.0)
}

/// A recorded follow-up.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FollowUpView {
    pub id: i64,
    pub person_id: i64,
    /// `talk` (警示谈话) or `pairing` (结对帮教).
    pub kind: String,
    pub kind_label: String,
    pub held_on: NaiveDate,
    pub partner: Option<String>,
    pub note: String,
    pub recorded_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A member at 2★ or below, with the follow-ups recorded for them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FollowUpRow {
    pub person_id: i64,
    pub name: String,
    pub score: Option<Points>,
    pub stars: Option<i32>,
    /// The stars are the branch's confirmed ones (else the proposal).
    pub confirmed: bool,
    pub records: Vec<FollowUpView>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFollowUp {
    pub person_id: i64,
    /// `talk` (警示谈话) or `pairing` (结对帮教).
    pub kind: String,
    pub held_on: NaiveDate,
    /// Who held the talk, or the paired mentor.
    pub partner: Option<String>,
    pub note: String,
}

pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        "talk" => "警示谈话",
        "pairing" => "结对帮教",
        _ => "",
    }
}

/// Members at 2★ or below are followed up.
pub const FOLLOW_UP_AT_OR_BELOW: i32 = 2;

/// Members of the branch at 2★ or below in the closed year (confirmed stars where the
/// branch confirmed, else the proposal), with their talks and pairings.
pub async fn follow_ups(
    db: &impl ConnectionTrait,
    scoring: &Scoring,
    org: &entity::organization::Model,
    year: i32,
) -> AppResult<Vec<FollowUpRow>> {
    let (v, _) = view(db, scoring, org, year).await?;
    let records = entity::follow_up::Entity::find()
        .filter(entity::follow_up::Column::OrgId.eq(org.id))
        .filter(entity::follow_up::Column::Year.eq(year))
        .order_by_asc(entity::follow_up::Column::HeldOn)
        .order_by_asc(entity::follow_up::Column::Id)
        .all(db)
        .await?;
    let who = usernames(db, records.iter().map(|r| r.recorded_by)).await?;
    let mut out = Vec::new();
    for l in v.lines.iter().filter(|l| !l.exempt) {
        if l.stars.is_some_and(|s| s > FOLLOW_UP_AT_OR_BELOW) {
            continue;
        }
        out.push(FollowUpRow {
            person_id: l.person_id,
            name: l.name.clone(),
            score: l.score,
            stars: l.stars,
            confirmed: v.state != PROPOSED,
            records: records
                .iter()
                .filter(|r| r.person_id == l.person_id)
                .map(|r| follow_up_view(r, &who))
                .collect(),
        });
    }
    Ok(out)
}

fn follow_up_view(r: &entity::follow_up::Model, who: &HashMap<i64, String>) -> FollowUpView {
    FollowUpView {
        id: r.id,
        person_id: r.person_id,
        kind: r.kind.clone(),
        kind_label: kind_label(&r.kind).to_owned(),
        held_on: r.held_on,
        partner: r.partner.clone(),
        note: r.note.clone(),
        recorded_by: who.get(&r.recorded_by).cloned(),
        created_at: r.created_at,
    }
}

/// The branch records a warning talk or a pairing with a member on the follow-up list;
/// audited. Refused: a member not on the list, an unknown kind, no note, a future date.
pub async fn record_follow_up(
    state: &AppState,
    principal: &Principal,
    org_id: OrgId,
    year: i32,
    input: NewFollowUp,
) -> AppResult<FollowUpView> {
    let org = crate::org::service::scoped(&state.db, principal, Perm::Review, org_id).await?;
    let list = follow_ups(&state.db, &state.scoring, &org, year).await?;
    let Some(row) = list.iter().find(|r| r.person_id == input.person_id) else {
        // An id of the branch not on the list, or no such member here: both refused.
        let p = crate::org::people::find(&state.db, PersonId(input.person_id)).await;
        let here = crate::org::service::subtree_ids(&state.db, &org).await?;
        return Err(match p {
            Ok(p) if here.contains(&p.org_id) => {
                AppError::conflict(format!("{}不在 {year} 年度二星及以下的帮扶名单中", p.name))
            }
            _ => AppError::not_found("本支部没有这名党员"),
        });
    };
    if kind_label(&input.kind).is_empty() {
        return Err(AppError::field(
            "kind",
            "方式须为警示谈话（talk）或结对帮教（pairing）",
        ));
    }
    let note = input.note.trim();
    if note.is_empty() {
        return Err(AppError::field("note", "请填写谈话或帮教情况"));
    }
    if note.chars().count() > 2000 {
        return Err(AppError::field("note", "情况说明不能超过 2000 字"));
    }
    let partner = input
        .partner
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned);
    if partner.as_ref().is_some_and(|p| p.chars().count() > 100) {
        return Err(AppError::field("partner", "谈话人或帮教人不能超过 100 字"));
    }
    let now = state.clock.now();
    let today = now.with_timezone(&inputs::tz_of(&org)).date_naive();
    if input.held_on > today {
        return Err(AppError::field("held_on", "日期不能晚于今天"));
    }
    if input.held_on < NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(NaiveDate::MIN) {
        return Err(AppError::field(
            "held_on",
            format!("日期不能早于 {year} 年"),
        ));
    }
    let txn = crate::db::begin(&state.db).await?;
    let id = entity::follow_up::Entity::insert(entity::follow_up::ActiveModel {
        id: NotSet,
        org_id: Set(org.id),
        year: Set(year),
        person_id: Set(row.person_id),
        kind: Set(input.kind.clone()),
        held_on: Set(input.held_on),
        partner: Set(partner.clone()),
        note: Set(note.to_owned()),
        recorded_by: Set(principal.account_id.0),
        created_at: Set(now),
    })
    .exec(&txn)
    .await?
    .last_insert_id;
    crate::audit::record(
        &txn,
        &principal.actor(),
        Entry::new("record_follow_up", "person", row.person_id)
            .org(OrgId(org.id))
            .after(serde_json::json!({"follow_up": id, "year": year, "kind": input.kind, "held_on": input.held_on, "partner": partner, "stars": row.stars})),
    )
    .await?;
    txn.commit().await?;
    let r = entity::follow_up::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::not_found("没有找到该记录"))?;
    let who = usernames(&state.db, std::iter::once(r.recorded_by)).await?;
    Ok(follow_up_view(&r, &who))
}

/// A member's stars of a year as their own page shows them (confirmed, else engine).
pub async fn member_stars(
    db: &impl ConnectionTrait,
    person: i64,
    year: i32,
    engine: Option<i32>,
) -> AppResult<(Option<i32>, bool)> {
    let s = stars_of_person(db, person, year, engine).await?;
    Ok((s.stars, s.source == StarsSource::Confirmed))
}
