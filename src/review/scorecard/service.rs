//! Assessments and scorecards over the database: open an assessment (a committee, a
//! year, its dates), extend a date (audited with the reason), the branch's
//! self-assessment (自评) and its evidence, the committee's review (JH-6), vetoes and the
//! bottom line (JH-4), the result (JH-1, JH-5). Every change writes its audit entry in
//! the same transaction; refusals write nothing.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};

use super::model::{self, MEMBER_THRESHOLD, Outcome, Part, Sheet};
use crate::audit::Entry;
use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::OrgId;
use crate::ledger::inputs::tz_of;
use crate::ledger::queries::Points;
use crate::policy::{fmt_dec, parse_dec};
use crate::state::AppState;

pub const DRAFT: &str = "draft";
pub const SUBMITTED: &str = "submitted";
pub const REVIEWED: &str = "reviewed";

pub fn state_label(state: &str) -> &'static str {
    match state {
        DRAFT => "待自评",
        SUBMITTED => "已自评，待审核",
        REVIEWED => "已审核",
        _ => "未知",
    }
}

/// The policy every new assessment uses unless told otherwise.
pub const DEFAULT_POLICY: &str = "jinhua-2018";

const MAX_TEXT: usize = 2000;

// ---------------------------------------------------------------------------------
// Dates: a committee sets days; a day runs until midnight in the committee's zone.

/// The instant a day ends (the next day's 00:00) in `tz`.
pub fn end_of_day(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let next = day.succ_opt().unwrap_or(day);
    tz.from_local_datetime(&next.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map_or_else(
            || next.and_time(chrono::NaiveTime::MIN).and_utc(),
            |d| d.with_timezone(&Utc),
        )
}

/// The last day before `end` (the day `end_of_day` was given).
pub fn day_of(end: DateTime<Utc>, tz: Tz) -> NaiveDate {
    (end - chrono::Duration::seconds(1))
        .with_timezone(&tz)
        .date_naive()
}

/// JH-7: results are due by the end of the policy's month of the next year.
pub fn due_day(sheet: &Sheet, year: i32) -> NaiveDate {
    let month = sheet.settings.due_month;
    let first_next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 2, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year + 1, month + 1, 1)
    };
    first_next
        .and_then(|d| d.pred_opt())
        .unwrap_or(NaiveDate::MIN)
}

// ---------------------------------------------------------------------------------
// Loading and scope

pub fn sheet_of(state: &AppState, policy: &str) -> AppResult<Sheet> {
    state
        .scoring
        .policies
        .get(policy)
        .and_then(|p| model::sheet(&p))
        .ok_or_else(|| AppError::field("policy", format!("规则“{policy}”没有党支部考评记分卡")))
}

async fn org(db: &impl ConnectionTrait, id: i64) -> AppResult<entity::organization::Model> {
    crate::org::service::find(db, OrgId(id)).await
}

pub struct Card {
    pub card: entity::scorecard::Model,
    pub assessment: entity::assessment::Model,
    pub branch: entity::organization::Model,
    pub committee: entity::organization::Model,
}

async fn load_card(db: &impl ConnectionTrait, id: i64) -> AppResult<Card> {
    let card = entity::scorecard::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("记分卡不存在"))?;
    let assessment = entity::assessment::Entity::find_by_id(card.assessment_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("考评不存在"))?;
    let branch = org(db, card.org_id).await?;
    let committee = org(db, assessment.org_id).await?;
    Ok(Card {
        card,
        assessment,
        branch,
        committee,
    })
}

/// A scorecard the principal may act on for the branch (read, self-assessment).
pub async fn branch_scoped(
    db: &impl ConnectionTrait,
    principal: &Principal,
    perm: Perm,
    id: i64,
) -> AppResult<Card> {
    principal.require(perm)?;
    let c = load_card(db, id).await?;
    principal.require_in(perm, &c.branch.path)?;
    Ok(c)
}

/// A scorecard the principal may review: an admin whose scope covers the committee
/// (the superior organization), never the branch's own secretary.
pub async fn committee_scoped(
    db: &impl ConnectionTrait,
    principal: &Principal,
    id: i64,
) -> AppResult<Card> {
    principal.require(Perm::OrgWrite)?;
    let c = load_card(db, id).await?;
    principal
        .require_in(Perm::OrgWrite, &c.committee.path)
        .map_err(|_| AppError::forbidden("该党支部不在您的考评范围内"))?;
    Ok(c)
}

pub async fn assessment_scoped(
    db: &impl ConnectionTrait,
    principal: &Principal,
    perm: Perm,
    id: i64,
) -> AppResult<(entity::assessment::Model, entity::organization::Model)> {
    principal.require(perm)?;
    let a = entity::assessment::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("考评不存在"))?;
    let committee = org(db, a.org_id).await?;
    principal.require_in(perm, &committee.path)?;
    Ok((a, committee))
}

// ---------------------------------------------------------------------------------
// Views

#[derive(Debug, Serialize)]
pub struct CardSummary {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub state: String,
    pub state_label: &'static str,
    pub total: Option<Points>,
    pub rating: Option<String>,
    pub rating_label: Option<String>,
    pub vetoed: bool,
    pub late: bool,
}

#[derive(Debug, Serialize)]
pub struct AssessmentView {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub year: i32,
    pub policy: String,
    pub title: String,
    pub self_until: NaiveDate,
    pub review_until: NaiveDate,
    /// JH-7: results due by this day.
    pub due: NaiveDate,
    pub due_rule: String,
    /// The review date lies after the due date: results may come late (flagged).
    pub review_after_due: bool,
    pub scorecards: Vec<CardSummary>,
}

async fn vetoed_cards(db: &impl ConnectionTrait, ids: &[i64]) -> AppResult<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(entity::scorecard_veto::Entity::find()
        .filter(entity::scorecard_veto::Column::ScorecardId.is_in(ids.to_vec()))
        .all(db)
        .await?
        .into_iter()
        .map(|v| v.scorecard_id)
        .collect())
}

pub async fn summaries(
    db: &impl ConnectionTrait,
    sheet: &Sheet,
    assessment_id: i64,
) -> AppResult<Vec<CardSummary>> {
    let cards = entity::scorecard::Entity::find()
        .filter(entity::scorecard::Column::AssessmentId.eq(assessment_id))
        .order_by_asc(entity::scorecard::Column::OrgId)
        .all(db)
        .await?;
    let ids: Vec<i64> = cards.iter().map(|c| c.id).collect();
    let vetoed = vetoed_cards(db, &ids).await?;
    let org_ids: Vec<i64> = cards.iter().map(|c| c.org_id).collect();
    let names: HashMap<i64, String> = entity::organization::Entity::find()
        .filter(entity::organization::Column::Id.is_in(org_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    Ok(cards
        .into_iter()
        .map(|c| CardSummary {
            id: c.id,
            org_id: c.org_id,
            org_name: names.get(&c.org_id).cloned().unwrap_or_default(),
            state_label: state_label(&c.state),
            total: c.total.as_deref().and_then(parse_dec).map(Points),
            rating_label: c
                .rating
                .as_deref()
                .map(|r| sheet.rating_label(r).to_owned()),
            rating: c.rating,
            vetoed: vetoed.contains(&c.id),
            late: c.late,
            state: c.state,
        })
        .collect())
}

pub async fn assessment_view(
    state: &AppState,
    a: &entity::assessment::Model,
    committee: &entity::organization::Model,
) -> AppResult<AssessmentView> {
    let sheet = sheet_of(state, &a.policy)?;
    let tz = tz_of(committee);
    let due = due_day(&sheet, a.year);
    let review_until = day_of(a.review_until, tz);
    Ok(AssessmentView {
        id: a.id,
        org_id: a.org_id,
        org_name: committee.name.clone(),
        year: a.year,
        policy: a.policy.clone(),
        title: sheet.title.clone(),
        self_until: day_of(a.self_until, tz),
        review_until,
        due,
        due_rule: sheet.settings.due_rule.clone(),
        review_after_due: review_until > due,
        scorecards: summaries(&state.db, &sheet, a.id).await?,
    })
}

// ---------------------------------------------------------------------------------
// Opening an assessment and extending its dates

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAssessment {
    /// The committee (党委) or general branch whose branches are assessed.
    #[schema(value_type = i64)]
    pub org_id: OrgId,
    pub year: i32,
    /// Last day of the self-assessment (自评), in the committee's time zone.
    #[schema(value_type = String, format = Date)]
    pub self_until: NaiveDate,
    /// Last day of the committee's review.
    #[schema(value_type = String, format = Date)]
    pub review_until: NaiveDate,
    /// Default `jinhua-2018`.
    pub policy: Option<String>,
}

pub async fn open(
    state: &AppState,
    principal: &Principal,
    input: NewAssessment,
) -> AppResult<AssessmentView> {
    let committee =
        crate::org::service::scoped(&state.db, principal, Perm::OrgWrite, input.org_id).await?;
    if !matches!(committee.kind.as_str(), "committee" | "general_branch") {
        return Err(AppError::field(
            "org_id",
            "考评由党委或党总支对所属党支部开展，请选择党委或党总支",
        ));
    }
    let policy = input.policy.as_deref().unwrap_or(DEFAULT_POLICY);
    let sheet = sheet_of(state, policy)?;
    if !(2000..=2100).contains(&input.year) {
        return Err(AppError::field("year", "年度须在 2000–2100 之间"));
    }
    if input.self_until > input.review_until {
        return Err(AppError::field(
            "review_until",
            "审核截止日不能早于自评截止日",
        ));
    }
    if input.self_until.year() < input.year {
        return Err(AppError::field("self_until", "自评截止日不能早于考评年度"));
    }
    let tz = tz_of(&committee);
    let now = state.clock.now();
    let branches: Vec<entity::organization::Model> = entity::organization::Entity::find()
        .filter(entity::organization::Column::Path.starts_with(&committee.path))
        .filter(entity::organization::Column::Kind.eq("branch"))
        .order_by_asc(entity::organization::Column::Id)
        .all(&state.db)
        .await?;
    if branches.is_empty() {
        return Err(AppError::field(
            "org_id",
            "该组织下没有党支部，无法开展考评",
        ));
    }
    let txn = crate::db::begin(&state.db).await?;
    let exists = entity::assessment::Entity::find()
        .filter(entity::assessment::Column::OrgId.eq(committee.id))
        .filter(entity::assessment::Column::Year.eq(input.year))
        .one(&txn)
        .await?;
    if exists.is_some() {
        return Err(AppError::conflict(format!(
            "{}已开展 {} 年度考评",
            committee.name, input.year
        )));
    }
    let a = entity::assessment::ActiveModel {
        id: NotSet,
        org_id: Set(committee.id),
        year: Set(input.year),
        policy: Set(policy.to_owned()),
        self_until: Set(end_of_day(input.self_until, tz)),
        review_until: Set(end_of_day(input.review_until, tz)),
        created_by: Set(Some(principal.account_id.0)),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    for b in &branches {
        let card = entity::scorecard::ActiveModel {
            id: NotSet,
            assessment_id: Set(a.id),
            org_id: Set(b.id),
            state: Set(DRAFT.to_owned()),
            submitted_at: Set(None),
            submitted_by: Set(None),
            reviewed_at: Set(None),
            reviewed_by: Set(None),
            over15_count: Set(None),
            over15_proposed: Set(None),
            over15_members: Set(None),
            sanctions: Set("[]".to_owned()),
            total: Set(None),
            rating: Set(None),
            late: Set(false),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        let lines: Vec<_> = sheet
            .indicators
            .iter()
            .map(|i| entity::scorecard_line::ActiveModel {
                id: NotSet,
                scorecard_id: Set(card.id),
                code: Set(i.code.clone()),
                self_score: Set(None),
                evidence: Set(None),
                files: Set("[]".to_owned()),
                self_by: Set(None),
                self_at: Set(None),
                review_score: Set(None),
                review_reason: Set(None),
                review_by: Set(None),
                review_at: Set(None),
            })
            .collect();
        entity::scorecard_line::Entity::insert_many(lines)
            .exec_without_returning(&txn)
            .await?;
    }
    crate::audit::record(
        &txn,
        &principal.actor(),
        Entry::new("open_assessment", "assessment", a.id)
            .org(OrgId(committee.id))
            .after(serde_json::json!({
                "year": a.year, "policy": a.policy,
                "self_until": input.self_until, "review_until": input.review_until,
                "branches": branches.iter().map(|b| b.id).collect::<Vec<_>>(),
            })),
    )
    .await?;
    txn.commit().await?;
    assessment_view(state, &a, &committee).await
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Deadline {
    SelfUntil,
    ReviewUntil,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    pub date: Deadline,
    #[schema(value_type = String, format = Date)]
    pub until: NaiveDate,
    pub reason: String,
}

/// Extends a date: later only, with a reason; the audit entry keeps who, when, why and
/// the old and new dates.
pub async fn extend(
    state: &AppState,
    principal: &Principal,
    id: i64,
    input: Extension,
) -> AppResult<AssessmentView> {
    let (a, committee) = assessment_scoped(&state.db, principal, Perm::OrgWrite, id).await?;
    let reason = input.reason.trim();
    if reason.is_empty() {
        return Err(AppError::field("reason", "延期须写明原因"));
    }
    if reason.chars().count() > MAX_TEXT {
        return Err(AppError::field("reason", "原因过长"));
    }
    let tz = tz_of(&committee);
    let (old, label) = match input.date {
        Deadline::SelfUntil => (a.self_until, "自评截止日"),
        Deadline::ReviewUntil => (a.review_until, "审核截止日"),
    };
    let new = end_of_day(input.until, tz);
    if new <= old {
        return Err(AppError::field(
            "until",
            format!("只能延后{label}（现为 {}）", day_of(old, tz)),
        ));
    }
    if input.date == Deadline::SelfUntil && new > a.review_until {
        return Err(AppError::field(
            "until",
            "自评截止日不能晚于审核截止日，请先延后审核截止日",
        ));
    }
    let txn = crate::db::begin(&state.db).await?;
    let mut m: entity::assessment::ActiveModel = a.clone().into();
    match input.date {
        Deadline::SelfUntil => m.self_until = Set(new),
        Deadline::ReviewUntil => m.review_until = Set(new),
    }
    let a = m.update(&txn).await?;
    crate::audit::record(
        &txn,
        &principal.actor(),
        Entry::new("extend_assessment", "assessment", a.id)
            .org(OrgId(committee.id))
            .before(serde_json::json!({"date": label, "until": day_of(old, tz)}))
            .after(serde_json::json!({"date": label, "until": input.until, "reason": reason})),
    )
    .await?;
    txn.commit().await?;
    assessment_view(state, &a, &committee).await
}

pub async fn list_assessments(
    state: &AppState,
    principal: &Principal,
) -> AppResult<Vec<AssessmentView>> {
    principal.require(Perm::ScoresRead)?;
    let all = entity::assessment::Entity::find()
        .order_by_desc(entity::assessment::Column::Year)
        .order_by_asc(entity::assessment::Column::Id)
        .all(&state.db)
        .await?;
    let mut out = Vec::new();
    for a in all {
        let committee = org(&state.db, a.org_id).await?;
        if principal.covers(&committee.path) {
            out.push(assessment_view(state, &a, &committee).await?);
        }
    }
    Ok(out)
}

/// The scorecards of the principal's branches (a secretary's list).
pub async fn my_scorecards(
    state: &AppState,
    principal: &Principal,
) -> AppResult<Vec<(AssessmentView, CardSummary)>> {
    principal.require(Perm::ScoresRead)?;
    let cards = entity::scorecard::Entity::find()
        .order_by_desc(entity::scorecard::Column::Id)
        .all(&state.db)
        .await?;
    let mut out = Vec::new();
    for c in cards {
        let branch = org(&state.db, c.org_id).await?;
        if !principal.covers(&branch.path) {
            continue;
        }
        let Some(a) = entity::assessment::Entity::find_by_id(c.assessment_id)
            .one(&state.db)
            .await?
        else {
            continue;
        };
        let committee = org(&state.db, a.org_id).await?;
        let mut view = assessment_view(state, &a, &committee).await?;
        let pos = view.scorecards.iter().position(|s| s.id == c.id);
        if let Some(pos) = pos {
            let s = view.scorecards.swap_remove(pos);
            view.scorecards.clear();
            out.push((view, s));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------
// The scorecard

#[derive(Debug, Serialize)]
pub struct LineView {
    pub code: String,
    pub label: String,
    pub category: String,
    pub part: Part,
    pub part_label: &'static str,
    pub weight: Points,
    pub self_score: Option<Points>,
    pub evidence: Option<String>,
    pub files: Vec<i64>,
    pub review_score: Option<Points>,
    pub review_reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct VetoView {
    pub id: i64,
    pub item: String,
    pub label: String,
    pub cause: String,
    pub evidence: String,
    pub upload_id: Option<i64>,
    pub decided_by: String,
    pub decided_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberDeduction {
    pub person_id: i64,
    pub name: String,
    pub points: Points,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SanctionRow {
    pub name: String,
    pub level: String,
}

#[derive(Debug, Serialize)]
pub struct BottomView {
    pub member_label: Option<String>,
    pub member_rule: Option<String>,
    /// The count the reviewer confirmed (None: not yet).
    pub member_count: Option<i32>,
    /// What the platform proposes now from the ledger.
    pub proposed: i32,
    pub proposed_members: Vec<MemberDeduction>,
    pub sanction_label: Option<String>,
    pub sanction_levels: Vec<(String, Points)>,
    pub sanctions: Vec<SanctionRow>,
    pub veto_items: Vec<model::VetoItem>,
}

#[derive(Debug, Serialize)]
pub struct OutcomeView {
    pub base: Points,
    pub vanguard: Points,
    pub bottom: Points,
    pub items_total: Points,
    pub vetoed: bool,
    pub total: Points,
    pub rating: Option<String>,
    pub rating_label: Option<String>,
    /// Every item reviewed and the bottom line confirmed.
    pub complete: bool,
}

#[derive(Debug, Serialize)]
pub struct ScorecardView {
    pub id: i64,
    pub assessment_id: i64,
    pub year: i32,
    pub committee: String,
    pub org_id: i64,
    pub org_name: String,
    pub state: String,
    pub state_label: &'static str,
    pub self_until: NaiveDate,
    pub review_until: NaiveDate,
    pub due: NaiveDate,
    pub self_open: bool,
    pub review_open: bool,
    pub late: bool,
    pub lines: Vec<LineView>,
    pub vetoes: Vec<VetoView>,
    pub bottom: BottomView,
    pub outcome: OutcomeView,
}

fn dec(s: &Option<String>) -> Option<Decimal> {
    s.as_deref().and_then(parse_dec)
}

async fn lines_of(
    db: &impl ConnectionTrait,
    card: i64,
) -> AppResult<Vec<entity::scorecard_line::Model>> {
    Ok(entity::scorecard_line::Entity::find()
        .filter(entity::scorecard_line::Column::ScorecardId.eq(card))
        .order_by_asc(entity::scorecard_line::Column::Id)
        .all(db)
        .await?)
}

async fn vetoes_of(
    db: &impl ConnectionTrait,
    card: i64,
) -> AppResult<Vec<entity::scorecard_veto::Model>> {
    Ok(entity::scorecard_veto::Entity::find()
        .filter(entity::scorecard_veto::Column::ScorecardId.eq(card))
        .order_by_asc(entity::scorecard_veto::Column::Id)
        .all(db)
        .await?)
}

fn sanctions_of(card: &entity::scorecard::Model) -> Vec<SanctionRow> {
    serde_json::from_str(&card.sanctions).unwrap_or_default()
}

/// The result of a scorecard from its review scores, bottom line and vetoes.
fn outcome(
    sheet: &Sheet,
    card: &entity::scorecard::Model,
    lines: &[entity::scorecard_line::Model],
    vetoed: bool,
) -> (Outcome, bool) {
    let scores: HashMap<String, Decimal> = lines
        .iter()
        .filter_map(|l| dec(&l.review_score).map(|d| (l.code.clone(), d)))
        .collect();
    let levels: Vec<String> = sanctions_of(card).into_iter().map(|s| s.level).collect();
    let count = u32::try_from(card.over15_count.unwrap_or(0)).unwrap_or(0);
    let o = sheet.compute(&scores, count, &levels, vetoed);
    let complete = lines.iter().all(|l| l.review_score.is_some())
        && (sheet.per_member.is_none() || card.over15_count.is_some());
    (o, complete)
}

/// Members of the branch (and its groups) whose deductions in the year add up to 15 or
/// more (JH-4: 以上 includes 15), from the ledger: per source, the net of its postings;
/// the negative nets are the member's deductions.
pub async fn member_deductions(
    db: &impl ConnectionTrait,
    branch: &entity::organization::Model,
    year: i32,
) -> AppResult<Vec<MemberDeduction>> {
    let org_ids: Vec<i64> = entity::organization::Entity::find()
        .filter(entity::organization::Column::Path.starts_with(&branch.path))
        .all(db)
        .await?
        .into_iter()
        .map(|o| o.id)
        .collect();
    let people = entity::person::Entity::find()
        .filter(entity::person::Column::OrgId.is_in(org_ids))
        .all(db)
        .await?;
    if people.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = people.iter().map(|p| p.id).collect();
    let entries = entity::ledger_entry::Entity::find()
        .filter(entity::ledger_entry::Column::SubjectKind.eq("person"))
        .filter(entity::ledger_entry::Column::SubjectId.is_in(ids))
        .filter(entity::ledger_entry::Column::Year.eq(year))
        .all(db)
        .await?;
    let mut nets: BTreeMap<(i64, String, Option<i64>, String), Decimal> = BTreeMap::new();
    for e in entries {
        let p = parse_dec(&e.points).unwrap_or_default();
        *nets
            .entry((e.subject_id, e.source_kind, e.source_id, e.rule_id))
            .or_default() += p;
    }
    let mut per: HashMap<i64, Decimal> = HashMap::new();
    for ((person, ..), net) in nets {
        if net < Decimal::ZERO {
            *per.entry(person).or_default() -= net;
        }
    }
    let mut out: Vec<MemberDeduction> = people
        .into_iter()
        .filter_map(|p| {
            let d = per.get(&p.id).copied()?;
            (d >= MEMBER_THRESHOLD).then_some(MemberDeduction {
                person_id: p.id,
                name: p.name,
                points: Points(d),
            })
        })
        .collect();
    out.sort_by(|a, b| b.points.cmp(&a.points).then(a.person_id.cmp(&b.person_id)));
    Ok(out)
}

pub async fn view(state: &AppState, c: &Card) -> AppResult<ScorecardView> {
    let sheet = sheet_of(state, &c.assessment.policy)?;
    let tz = tz_of(&c.committee);
    let now = state.clock.now();
    let lines = lines_of(&state.db, c.card.id).await?;
    let vetoes = vetoes_of(&state.db, c.card.id).await?;
    let (o, complete) = outcome(&sheet, &c.card, &lines, !vetoes.is_empty());
    let proposed_members = member_deductions(&state.db, &c.branch, c.assessment.year).await?;
    let line_views = sheet
        .indicators
        .iter()
        .map(|i| {
            let l = lines.iter().find(|l| l.code == i.code);
            LineView {
                code: i.code.clone(),
                label: i.label.clone(),
                category: i.category.clone(),
                part: i.part,
                part_label: i.part.label(),
                weight: Points(i.weight),
                self_score: l.and_then(|l| dec(&l.self_score)).map(Points),
                evidence: l.and_then(|l| l.evidence.clone()),
                files: l
                    .and_then(|l| serde_json::from_str(&l.files).ok())
                    .unwrap_or_default(),
                review_score: l.and_then(|l| dec(&l.review_score)).map(Points),
                review_reason: l.and_then(|l| l.review_reason.clone()),
            }
        })
        .collect();
    Ok(ScorecardView {
        id: c.card.id,
        assessment_id: c.assessment.id,
        year: c.assessment.year,
        committee: c.committee.name.clone(),
        org_id: c.branch.id,
        org_name: c.branch.name.clone(),
        state: c.card.state.clone(),
        state_label: state_label(&c.card.state),
        self_until: day_of(c.assessment.self_until, tz),
        review_until: day_of(c.assessment.review_until, tz),
        due: due_day(&sheet, c.assessment.year),
        self_open: now < c.assessment.self_until && c.card.state == DRAFT,
        review_open: now < c.assessment.review_until,
        late: c.card.late,
        lines: line_views,
        vetoes: vetoes
            .into_iter()
            .map(|v| VetoView {
                id: v.id,
                label: sheet
                    .veto(&v.item)
                    .map(|x| x.label.clone())
                    .unwrap_or_default(),
                item: v.item,
                cause: v.cause,
                evidence: v.evidence,
                upload_id: v.upload_id,
                decided_by: v.decided_by_name,
                decided_at: v.decided_at,
            })
            .collect(),
        bottom: BottomView {
            member_label: sheet.per_member.as_ref().map(|p| p.label.clone()),
            member_rule: sheet
                .per_member
                .as_ref()
                .and_then(|p| p.schedule_label.clone()),
            member_count: c.card.over15_count,
            proposed: i32::try_from(proposed_members.len()).unwrap_or(i32::MAX),
            proposed_members,
            sanction_label: sheet.sanctions.as_ref().map(|s| s.label.clone()),
            sanction_levels: sheet
                .sanctions
                .as_ref()
                .map(|s| {
                    s.levels
                        .iter()
                        .map(|(l, p)| (l.clone(), Points(*p)))
                        .collect()
                })
                .unwrap_or_default(),
            sanctions: sanctions_of(&c.card),
            veto_items: sheet.vetoes.clone(),
        },
        outcome: OutcomeView {
            base: Points(o.base),
            vanguard: Points(o.vanguard),
            bottom: Points(o.bottom),
            items_total: Points(o.items_total),
            vetoed: o.vetoed,
            total: Points(o.total),
            rating: o.rating,
            rating_label: o.rating_label,
            complete,
        },
    })
}

/// JH-2.1: a score lies between 0 and the item's weight.
fn check_score(sheet: &Sheet, code: &str, score: Decimal, who: &str) -> AppResult<()> {
    let Some(i) = sheet.indicator(code) else {
        return Err(AppError::field("code", format!("没有这个考评项目：{code}")));
    };
    if score < Decimal::ZERO || score > i.weight {
        return Err(AppError::field(
            code,
            format!(
                "{who}须在 0 到 {} 分之间（{}，分值 {} 分；扣分不超过该项分值）",
                fmt_dec(i.weight),
                i.label,
                fmt_dec(i.weight)
            ),
        ));
    }
    Ok(())
}

fn text(field: &str, s: Option<&str>) -> AppResult<Option<String>> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if s.chars().count() > MAX_TEXT {
        return Err(AppError::field(field, format!("不能超过 {MAX_TEXT} 字")));
    }
    Ok(Some(s.to_owned()))
}

/// A refused attempt to change a scorecard's scores is audited (what was tried, the
/// refusal's code and message) outside the refused transaction, which wrote nothing.
async fn audited<T>(
    state: &AppState,
    principal: &Principal,
    id: i64,
    step: &str,
    r: AppResult<T>,
) -> AppResult<T> {
    if let Err(e) = &r
        && e.code.status().is_client_error()
    {
        let entry = Entry::new("scorecard_refused", "scorecard", id).after(serde_json::json!({
            "step": step, "code": e.code.as_str(), "detail": e.detail,
        }));
        if let Err(a) = crate::audit::record(&state.db, &principal.actor(), entry).await {
            tracing::warn!(error = %a, "refused scorecard attempt not audited");
        }
    }
    r
}

// ---------------------------------------------------------------------------------
// Self-assessment (自评)

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelfItem {
    pub code: String,
    #[schema(value_type = f64)]
    pub score: Points,
    pub evidence: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelfInput {
    pub items: Vec<SelfItem>,
}

fn self_open(c: &Card, now: DateTime<Utc>) -> AppResult<()> {
    if now >= c.assessment.self_until {
        let tz = tz_of(&c.committee);
        return Err(AppError::new(
            ErrorCode::SelfAssessmentClosed,
            format!(
                "自评已于 {} 截止，不能再填写或提交；如需延期请联系{}",
                day_of(c.assessment.self_until, tz),
                c.committee.name
            ),
        ));
    }
    if c.card.state != DRAFT {
        return Err(AppError::new(
            ErrorCode::ScorecardState,
            "自评已提交，不能再修改",
        ));
    }
    Ok(())
}

async fn save_self_inner(
    state: &AppState,
    principal: &Principal,
    id: i64,
    input: SelfInput,
) -> AppResult<ScorecardView> {
    let c = branch_scoped(&state.db, principal, Perm::ScoresWrite, id).await?;
    let now = state.clock.now();
    self_open(&c, now)?;
    let sheet = sheet_of(state, &c.assessment.policy)?;
    let mut checked = Vec::new();
    for item in &input.items {
        check_score(&sheet, &item.code, item.score.0, "自评分")?;
        checked.push((
            item.code.clone(),
            item.score.0,
            text("evidence", item.evidence.as_deref())?,
        ));
    }
    if checked.is_empty() {
        return Err(AppError::field("items", "没有要保存的项目"));
    }
    let txn = crate::db::begin(&state.db).await?;
    let lines = lines_of(&txn, c.card.id).await?;
    let mut changes = Vec::new();
    for (code, score, evidence) in checked {
        let Some(l) = lines.iter().find(|l| l.code == code) else {
            continue;
        };
        changes.push(serde_json::json!({
            "code": code, "before": l.self_score, "after": fmt_dec(score), "evidence": evidence,
        }));
        let mut m: entity::scorecard_line::ActiveModel = l.clone().into();
        m.self_score = Set(Some(fmt_dec(score)));
        m.evidence = Set(evidence);
        m.self_by = Set(Some(principal.account_id.0));
        m.self_at = Set(Some(now));
        m.update(&txn).await?;
    }
    crate::audit::record(
        &txn,
        &principal.actor(),
        Entry::new("scorecard_self", "scorecard", c.card.id)
            .org(OrgId(c.branch.id))
            .after(changes),
    )
    .await?;
    txn.commit().await?;
    view(state, &c).await
}

/// Evidence photo for an item (through `uploads`: type by content, re-encoded).
pub async fn attach_file(
    state: &AppState,
    principal: &Principal,
    id: i64,
    code: &str,
    bytes: &[u8],
) -> AppResult<i64> {
    let c = branch_scoped(&state.db, principal, Perm::ScoresWrite, id).await?;
    let now = state.clock.now();
    self_open(&c, now)?;
    let sheet = sheet_of(state, &c.assessment.policy)?;
    if sheet.indicator(code).is_none() {
        return Err(AppError::not_found(format!("没有这个考评项目：{code}")));
    }
    let img = crate::uploads::clean_image(bytes, &state.settings.uploads)?;
    let txn = crate::db::begin(&state.db).await?;
    let line = entity::scorecard_line::Entity::find()
        .filter(entity::scorecard_line::Column::ScorecardId.eq(c.card.id))
        .filter(entity::scorecard_line::Column::Code.eq(code))
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found("没有这个考评项目"))?;
    let u = crate::uploads::store(
        &txn,
        &img,
        crate::uploads::Owner::Account(principal.account_id.0),
        None,
        now,
    )
    .await?;
    let mut files: Vec<i64> = serde_json::from_str(&line.files).unwrap_or_default();
    files.push(u.id);
    let mut m: entity::scorecard_line::ActiveModel = line.into();
    m.files = Set(serde_json::to_string(&files).unwrap_or_else(|_| "[]".to_owned()));
    m.update(&txn).await?;
    crate::audit::record(
        &txn,
        &principal.actor(),
        Entry::new("scorecard_evidence", "scorecard", c.card.id)
            .org(OrgId(c.branch.id))
            .after(serde_json::json!({"code": code, "upload_id": u.id, "size": u.size})),
    )
    .await?;
    txn.commit().await?;
    Ok(u.id)
}

async fn submit_inner(
    state: &AppState,
    principal: &Principal,
    id: i64,
) -> AppResult<ScorecardView> {
    let c = branch_scoped(&state.db, principal, Perm::Review, id).await?;
    let now = state.clock.now();
    self_open(&c, now)?;
    let txn = crate::db::begin(&state.db).await?;
    let lines = lines_of(&txn, c.card.id).await?;
    let missing = lines.iter().filter(|l| l.self_score.is_none()).count();
    if missing > 0 {
        return Err(AppError::validation(format!(
            "尚有 {missing} 项未自评，全部填写后才能提交"
        )));
    }
    let res = entity::scorecard::Entity::update_many()
        .col_expr(
            entity::scorecard::Column::State,
            sea_orm::sea_query::Expr::value(SUBMITTED),
        )
        .col_expr(
            entity::scorecard::Column::SubmittedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .col_expr(
            entity::scorecard::Column::SubmittedBy,
            sea_orm::sea_query::Expr::value(principal.account_id.0),
        )
        .filter(entity::scorecard::Column::Id.eq(c.card.id))
        .filter(entity::scorecard::Column::State.eq(DRAFT))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        return Err(AppError::new(ErrorCode::ScorecardState, "自评已提交"));
    }
    let total: Decimal = lines.iter().filter_map(|l| dec(&l.self_score)).sum();
    crate::audit::record(
        &txn,
        &principal.actor(),
        Entry::new("scorecard_submit", "scorecard", c.card.id)
            .org(OrgId(c.branch.id))
            .after(serde_json::json!({"self_total": fmt_dec(total)})),
    )
    .await?;
    txn.commit().await?;
    let c = load_card(&state.db, id).await?;
    view(state, &c).await
}

// ---------------------------------------------------------------------------------
// Review (审核) by the committee

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewItem {
    pub code: String,
    #[schema(value_type = f64)]
    pub score: Points,
    /// Required where the review score differs from the self score.
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersInput {
    /// Members with 15 or more bottom-line points deducted, as confirmed.
    pub count: u32,
    /// Required where the count differs from the platform's proposal.
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SanctionInput {
    pub name: String,
    /// `warning`, `serious_warning`, `removal`, `probation`, `expulsion`.
    pub level: String,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    #[serde(default)]
    pub items: Vec<ReviewItem>,
    pub members: Option<MembersInput>,
    pub sanctions: Option<Vec<SanctionInput>>,
}

fn review_open(c: &Card, now: DateTime<Utc>) -> AppResult<()> {
    if now >= c.assessment.review_until {
        let tz = tz_of(&c.committee);
        return Err(AppError::new(
            ErrorCode::ReviewClosed,
            format!(
                "审核已于 {} 截止；如需继续审核，请先延后审核截止日（须写明原因）",
                day_of(c.assessment.review_until, tz)
            ),
        ));
    }
    // A branch that never submitted is reviewed once its self-assessment date passed.
    if c.card.state == DRAFT && now < c.assessment.self_until {
        return Err(AppError::new(
            ErrorCode::ScorecardState,
            "该支部尚未提交自评，自评截止前不能审核",
        ));
    }
    Ok(())
}

async fn review_inner(
    state: &AppState,
    principal: &Principal,
    id: i64,
    input: ReviewInput,
) -> AppResult<ScorecardView> {
    let c = committee_scoped(&state.db, principal, id).await?;
    let now = state.clock.now();
    review_open(&c, now)?;
    let sheet = sheet_of(state, &c.assessment.policy)?;
    let txn = crate::db::begin(&state.db).await?;
    let lines = lines_of(&txn, c.card.id).await?;
    let mut changes = Vec::new();
    let mut updates = Vec::new();
    for item in &input.items {
        check_score(&sheet, &item.code, item.score.0, "审核分")?;
        let Some(l) = lines.iter().find(|l| l.code == item.code) else {
            return Err(AppError::field("code", "没有这个考评项目"));
        };
        let reason = text("reason", item.reason.as_deref())?;
        let differs = dec(&l.self_score) != Some(item.score.0);
        if differs && reason.is_none() {
            return Err(AppError::field(
                &item.code,
                format!(
                    "审核分与自评分不同，须写明扣分原因与佐证（{}）",
                    sheet
                        .indicator(&item.code)
                        .map(|i| i.label.as_str())
                        .unwrap_or_default()
                ),
            ));
        }
        changes.push(serde_json::json!({
            "code": item.code, "before": l.review_score, "after": fmt_dec(item.score.0),
            "self": l.self_score, "reason": reason,
        }));
        let mut m: entity::scorecard_line::ActiveModel = l.clone().into();
        m.review_score = Set(Some(fmt_dec(item.score.0)));
        m.review_reason = Set(reason);
        m.review_by = Set(Some(principal.account_id.0));
        m.review_at = Set(Some(now));
        updates.push(m);
    }
    let mut card: entity::scorecard::ActiveModel = c.card.clone().into();
    let card_changes = input.members.is_some() || input.sanctions.is_some();
    if let Some(members) = &input.members {
        let proposal = member_deductions(&txn, &c.branch, c.assessment.year).await?;
        let proposed = u32::try_from(proposal.len()).unwrap_or(u32::MAX);
        let reason = text("members.reason", members.reason.as_deref())?;
        if members.count != proposed && reason.is_none() {
            return Err(AppError::field(
                "members.reason",
                format!(
                    "平台按积分台账提议 {proposed} 名党员底线分被扣 15 分及以上，确认的人数不同须写明原因"
                ),
            ));
        }
        if members.count > 10_000 {
            return Err(AppError::field("members.count", "人数有误"));
        }
        card.over15_count = Set(Some(i32::try_from(members.count).unwrap_or(i32::MAX)));
        card.over15_proposed = Set(Some(i32::try_from(proposed).unwrap_or(i32::MAX)));
        card.over15_members = Set(serde_json::to_string(&serde_json::json!({
            "proposed": proposal, "reason": reason,
        }))
        .ok());
        changes.push(serde_json::json!({
            "members": {"before": c.card.over15_count, "after": members.count,
                        "proposed": proposed, "reason": reason},
        }));
    }
    if let Some(sanctions) = &input.sanctions {
        let Some(rule) = &sheet.sanctions else {
            return Err(AppError::field("sanctions", "该规则没有党纪处分扣分项"));
        };
        let mut rows = Vec::new();
        for s in sanctions {
            let name = text("sanctions.name", Some(&s.name))?
                .ok_or_else(|| AppError::field("sanctions.name", "请填写受处分党员姓名"))?;
            if rule.points(&s.level).is_none() {
                return Err(AppError::field("sanctions.level", "处分等级有误"));
            }
            rows.push(SanctionRow {
                name,
                level: s.level.clone(),
            });
        }
        changes.push(serde_json::json!({"sanctions": {"before": c.card.sanctions, "after": rows}}));
        card.sanctions = Set(serde_json::to_string(&rows).unwrap_or_else(|_| "[]".to_owned()));
    }
    if changes.is_empty() {
        return Err(AppError::validation("没有要保存的审核内容"));
    }
    for m in updates {
        m.update(&txn).await?;
    }
    let card = if card_changes {
        card.update(&txn).await?
    } else {
        c.card.clone()
    };
    crate::audit::record(
        &txn,
        &principal.actor(),
        Entry::new("scorecard_review", "scorecard", c.card.id)
            .org(OrgId(c.branch.id))
            .after(changes),
    )
    .await?;
    settle(&txn, &sheet, &c, card, principal, now).await?;
    txn.commit().await?;
    let c = load_card(&state.db, id).await?;
    view(state, &c).await
}

/// Stores the result once complete (JH-6: the review scores are the result) and flags
/// a result settled after the JH-7 due date.
async fn settle(
    txn: &impl ConnectionTrait,
    sheet: &Sheet,
    c: &Card,
    card: entity::scorecard::Model,
    principal: &Principal,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let lines = lines_of(txn, card.id).await?;
    let vetoed = !vetoes_of(txn, card.id).await?.is_empty();
    let (o, complete) = outcome(sheet, &card, &lines, vetoed);
    if !complete {
        return Ok(());
    }
    let tz = tz_of(&c.committee);
    let due_end = end_of_day(due_day(sheet, c.assessment.year), tz);
    let mut m: entity::scorecard::ActiveModel = card.into();
    m.state = Set(REVIEWED.to_owned());
    m.reviewed_at = Set(Some(now));
    m.reviewed_by = Set(Some(principal.account_id.0));
    m.total = Set(Some(fmt_dec(o.total)));
    m.rating = Set(o.rating.clone());
    m.late = Set(now >= due_end);
    m.update(txn).await?;
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VetoInput {
    /// `veto_policy`, `veto_accountability`, `veto_weakened`, `veto_ecology`.
    pub item: String,
    pub cause: Option<String>,
    pub evidence: Option<String>,
    /// An evidence photo already attached to the scorecard (`/lines/{code}/files`).
    pub upload_id: Option<i64>,
}

/// A one-vote veto (一票否决): the item, the cause and the evidence are required; who
/// decided is the principal.
async fn veto_inner(
    state: &AppState,
    principal: &Principal,
    id: i64,
    input: VetoInput,
) -> AppResult<ScorecardView> {
    let c = committee_scoped(&state.db, principal, id).await?;
    let now = state.clock.now();
    review_open(&c, now)?;
    let sheet = sheet_of(state, &c.assessment.policy)?;
    let Some(item) = sheet.veto(&input.item) else {
        return Err(AppError::field("item", "没有这个一票否决项目"));
    };
    let Some(cause) = text("cause", input.cause.as_deref())? else {
        return Err(AppError::field("cause", "一票否决须写明原因"));
    };
    let evidence = text("evidence", input.evidence.as_deref())?;
    if evidence.is_none() && input.upload_id.is_none() {
        return Err(AppError::field(
            "evidence",
            "一票否决须附佐证（文字或图片）",
        ));
    }
    if let Some(u) = input.upload_id {
        let owned = lines_of(&state.db, c.card.id)
            .await?
            .iter()
            .any(|l| serde_json::from_str::<Vec<i64>>(&l.files).is_ok_and(|f| f.contains(&u)));
        let by_me = crate::uploads::find(&state.db, u)
            .await
            .is_ok_and(|f| f.owner_kind == "account" && f.owner_id == Some(principal.account_id.0));
        if !owned && !by_me {
            return Err(AppError::field("upload_id", "佐证文件不存在"));
        }
    }
    let txn = crate::db::begin(&state.db).await?;
    let v = entity::scorecard_veto::ActiveModel {
        id: NotSet,
        scorecard_id: Set(c.card.id),
        item: Set(item.code.clone()),
        cause: Set(cause.clone()),
        evidence: Set(evidence.clone().unwrap_or_default()),
        upload_id: Set(input.upload_id),
        decided_by: Set(Some(principal.account_id.0)),
        decided_by_name: Set(principal.username.clone()),
        decided_at: Set(now),
    }
    .insert(&txn)
    .await?;
    crate::audit::record(
        &txn,
        &principal.actor(),
        Entry::new("scorecard_veto", "scorecard", c.card.id)
            .org(OrgId(c.branch.id))
            .after(serde_json::json!({
                "veto_id": v.id, "item": item.code, "label": item.label,
                "cause": cause, "evidence": evidence, "upload_id": input.upload_id,
            })),
    )
    .await?;
    let card = entity::scorecard::Entity::find_by_id(c.card.id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found("记分卡不存在"))?;
    settle(&txn, &sheet, &c, card, principal, now).await?;
    txn.commit().await?;
    let c = load_card(&state.db, id).await?;
    view(state, &c).await
}

/// Evidence photo the reviewer attaches for a veto (owned by the reviewer's account).
pub async fn veto_file(
    state: &AppState,
    principal: &Principal,
    id: i64,
    bytes: &[u8],
) -> AppResult<i64> {
    let c = committee_scoped(&state.db, principal, id).await?;
    let now = state.clock.now();
    review_open(&c, now)?;
    let img = crate::uploads::clean_image(bytes, &state.settings.uploads)?;
    let txn = crate::db::begin(&state.db).await?;
    let u = crate::uploads::store(
        &txn,
        &img,
        crate::uploads::Owner::Account(principal.account_id.0),
        None,
        now,
    )
    .await?;
    crate::audit::record(
        &txn,
        &principal.actor(),
        Entry::new("scorecard_veto_evidence", "scorecard", c.card.id)
            .org(OrgId(c.branch.id))
            .after(serde_json::json!({"upload_id": u.id, "size": u.size})),
    )
    .await?;
    txn.commit().await?;
    Ok(u.id)
}

/// An evidence file of a scorecard, for those who may read the scorecard.
pub async fn file(
    state: &AppState,
    principal: &Principal,
    id: i64,
    upload: i64,
) -> AppResult<entity::upload::Model> {
    let c = branch_scoped(&state.db, principal, Perm::ScoresRead, id).await?;
    let lines = lines_of(&state.db, c.card.id).await?;
    let vetoes = vetoes_of(&state.db, c.card.id).await?;
    let known = lines
        .iter()
        .any(|l| serde_json::from_str::<Vec<i64>>(&l.files).is_ok_and(|f| f.contains(&upload)))
        || vetoes.iter().any(|v| v.upload_id == Some(upload));
    if !known {
        return Err(AppError::not_found("文件不存在"));
    }
    crate::uploads::find(&state.db, upload).await
}

/// For the roll-up and export: a committed scorecard's rows as they stand.
pub async fn parts(
    db: &impl ConnectionTrait,
    card: i64,
) -> AppResult<(
    Vec<entity::scorecard_line::Model>,
    Vec<entity::scorecard_veto::Model>,
)> {
    Ok((lines_of(db, card).await?, vetoes_of(db, card).await?))
}

pub async fn load(db: &impl ConnectionTrait, id: i64) -> AppResult<Card> {
    load_card(db, id).await
}

/// The branch's self scores and evidence (0 … weight, JH-2.1), before the date.
pub async fn save_self(
    state: &AppState,
    principal: &Principal,
    id: i64,
    input: SelfInput,
) -> AppResult<ScorecardView> {
    let r = save_self_inner(state, principal, id, input).await;
    audited(state, principal, id, "self", r).await
}

/// Submits the self-assessment: every item scored, before the date.
pub async fn submit(state: &AppState, principal: &Principal, id: i64) -> AppResult<ScorecardView> {
    let r = submit_inner(state, principal, id).await;
    audited(state, principal, id, "submit", r).await
}

/// The committee's review scores (JH-6) and bottom line (JH-4).
pub async fn review(
    state: &AppState,
    principal: &Principal,
    id: i64,
    input: ReviewInput,
) -> AppResult<ScorecardView> {
    let r = review_inner(state, principal, id, input).await;
    audited(state, principal, id, "review", r).await
}

/// A one-vote veto (一票否决, JH-4) with its cause and evidence.
pub async fn veto(
    state: &AppState,
    principal: &Principal,
    id: i64,
    input: VetoInput,
) -> AppResult<ScorecardView> {
    let r = veto_inner(state, principal, id, input).await;
    audited(state, principal, id, "veto", r).await
}
