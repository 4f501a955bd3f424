//! Quarterly and half-year rankings and what follows from them (EQ-4 … EQ-7, `erqi-2021`).
//!
//! - EQ-4: a branch's quarterly ranking is a ranked publicity of the quarter
//!   (`review::publicity`, published by the branch) and is then FILED with the committee
//!   (报送备案: `ranking_filings`, one row per published version); the committee sees per
//!   quarter which branches filed. The half-year ranking across the committee (全委) is a
//!   ranked half-year publicity published by the committee itself.
//! - EQ-5/EQ-6: the evidence (each member's quarterly and half-year places, last places,
//!   the run carried from last year) comes from the engine's own last-place rules run as
//!   at year end without writing (`ledger::year::preview_year_end`,
//!   `policy::last_place_evidence`): what the console shows is what the close will do.
//! - EQ-6: consequences that need a Party procedure are flags listed for the committee
//!   with their evidence; nothing changes by itself; whoever handles one records what was
//!   done (`rank_flag_handlings`, audited).
//! - EQ-7: falsification (弄虚作假) is a case (`cases::service::open_case`, kind
//!   `falsification`): the finding, annulments of the falsified facts through
//!   `cases::correction`, a conclusion; substantiated findings count for the branch
//!   ([`falsification_findings`]).
//! - Choosing a policy that ranks members (`[publicity] ranking`, `erqi-2021`) PROPOSES
//!   switching on members' own rank (`org_proposals`); an admin confirms or declines.

pub mod routes;

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use serde::Serialize;

use super::publicity::{self, NewPublicity, SUPERSEDED, label_of, period_label};
use crate::audit::Entry;
use crate::auth::{Perm, Principal, Role};
use crate::cases::CaseState;
use crate::cases::correction::{self, Fix};
use crate::cases::service::{Opening, actor_name, find_case, message, open_case, transition};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::{OrgId, PersonId};
use crate::ledger::inputs::tz_of;
use crate::ledger::queries::{Period, period_bounds};
use crate::policy::{LastPlaceEvidence, PeriodPlace, RankingEvidence, Scope, Status, fmt_dec};
use crate::state::AppState;

pub const FALSIFICATION: &str = "falsification";
pub const SHOW_RANK: &str = "show_rank_to_members";
const MAX_TEXT_CHARS: usize = 500;

fn text(field: &'static str, s: &str, what: &str) -> AppResult<String> {
    let s = s.trim();
    if s.is_empty() {
        return Err(AppError::field(field, format!("请填写{what}")));
    }
    if s.chars().count() > MAX_TEXT_CHARS {
        return Err(AppError::field(
            field,
            format!("{what}不能超过 {MAX_TEXT_CHARS} 字"),
        ));
    }
    Ok(s.to_owned())
}

fn valid_year(year: i32) -> AppResult<i32> {
    crate::ledger::routes::valid_year(year)
}

fn is_branch(org: &entity::organization::Model) -> bool {
    matches!(org.kind.as_str(), "branch" | "general_branch")
}

// ---- EQ-4: publish and file ---------------------------------------------------------

/// Publishes a ranking: a branch's quarter (支部内排名公示) or the committee's half-year
/// (全委排名公示), always ranked (ties share a place), through `review::publicity`.
pub async fn publish(
    state: &AppState,
    principal: &Principal,
    org_id: OrgId,
    year: i32,
    period: Period,
    n: u32,
    days: Option<i64>,
) -> AppResult<entity::publicity::Model> {
    let org = crate::org::service::scoped(&state.db, principal, Perm::ScoresWrite, org_id).await?;
    match period {
        Period::Quarter if !is_branch(&org) => {
            return Err(AppError::field(
                "period",
                "季度排名在支部内进行，请在党支部公示",
            ));
        }
        Period::HalfYear if org.kind != "committee" => {
            return Err(AppError::field(
                "period",
                "半年排名在全委（党委）范围内进行，请由党委公示",
            ));
        }
        Period::Quarter | Period::HalfYear => {}
        _ => {
            return Err(AppError::field(
                "period",
                "排名按季度（支部内）或半年（全委）公示",
            ));
        }
    }
    publicity::publish(
        state,
        principal,
        NewPublicity {
            org_id,
            year: valid_year(year)?,
            period,
            n: Some(n),
            days,
            ranked: Some(true),
        },
    )
    .await
}

/// The current (not superseded) publicity of an organization's period.
async fn current_publicity(
    db: &impl ConnectionTrait,
    org: i64,
    year: i32,
    period: &str,
    n: i32,
) -> AppResult<Option<entity::publicity::Model>> {
    Ok(entity::publicity::Entity::find()
        .filter(entity::publicity::Column::OrgId.eq(org))
        .filter(entity::publicity::Column::Year.eq(year))
        .filter(entity::publicity::Column::Period.eq(period))
        .filter(entity::publicity::Column::N.eq(n))
        .filter(entity::publicity::Column::State.ne(SUPERSEDED))
        .order_by_desc(entity::publicity::Column::Version)
        .one(db)
        .await?)
}

/// Files the branch's published quarterly ranking with the committee (报送备案): who,
/// when, which version. Refused: no current ranked publicity of the quarter
/// (`ranking_not_published`), that version already filed (`ranking_already_filed`),
/// a recorder (组织委员), a branch outside the scope.
pub async fn file(
    state: &AppState,
    principal: &Principal,
    org_id: OrgId,
    year: i32,
    quarter: u32,
    note: Option<String>,
) -> AppResult<entity::ranking_filing::Model> {
    let db = &state.db;
    let org = crate::org::service::scoped(db, principal, Perm::ScoresWrite, org_id).await?;
    if principal.role == Role::Recorder {
        return Err(AppError::forbidden("组织委员可以记录事项，但不能报送排名"));
    }
    let year = valid_year(year)?;
    if !(1..=4).contains(&quarter) {
        return Err(AppError::field("quarter", "季度须为 1 至 4"));
    }
    if !is_branch(&org) {
        return Err(AppError::field("org_id", "季度排名由党支部报送"));
    }
    let label = period_label(year, Period::Quarter, Some(quarter));
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_TEXT_CHARS)
    {
        return Err(AppError::field(
            "note",
            format!("备注不能超过 {MAX_TEXT_CHARS} 字"),
        ));
    }
    let q = i32::try_from(quarter).unwrap_or(1);
    let Some(p) = current_publicity(db, org.id, year, "quarter", q)
        .await?
        .filter(|p| p.ranked)
    else {
        return Err(AppError::new(
            ErrorCode::RankingNotPublished,
            format!("{label}的支部内排名尚未公示，公示后才能报送"),
        ));
    };
    let done = || {
        AppError::new(
            ErrorCode::RankingAlreadyFiled,
            format!("{label}排名（第 {} 版）已报送", p.version),
        )
    };
    let now = state.clock.now();
    let txn = crate::db::begin(db).await?;
    if entity::ranking_filing::Entity::find()
        .filter(entity::ranking_filing::Column::PublicityId.eq(p.id))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(done());
    }
    let row = entity::ranking_filing::ActiveModel {
        id: NotSet,
        org_id: Set(org.id),
        publicity_id: Set(p.id),
        year: Set(year),
        period: Set("quarter".to_owned()),
        n: Set(Some(q)),
        version: Set(p.version),
        filed_by: Set(principal.account_id.0),
        filed_at: Set(now),
        note: Set(note.clone()),
    }
    .insert(&txn)
    .await
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => done(),
        _ => AppError::from(e),
    })?;
    crate::audit::record(
        &txn,
        &principal.actor(),
        Entry::new("file_ranking", "publicity", p.id)
            .org(OrgId(org.id))
            .after(serde_json::json!({"period": label, "version": p.version, "filing": row.id, "note": note})),
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QuarterFiling {
    pub quarter: u32,
    /// `not_over`, `not_published`, `published` (not filed), `filed`, `outdated` (the
    /// filed version was corrected since: file the new one).
    pub status: String,
    pub publicity_id: Option<i64>,
    pub published_version: Option<i32>,
    pub filed_version: Option<i32>,
    pub filed_by: Option<String>,
    pub filed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BranchFilings {
    pub org_id: i64,
    pub name: String,
    pub quarters: Vec<QuarterFiling>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Filings {
    pub org_id: i64,
    pub year: i32,
    pub branches: Vec<BranchFilings>,
}

pub fn filing_status_label(s: &str) -> &'static str {
    match s {
        "not_over" => "未到期",
        "not_published" => "未公示",
        "published" => "已公示未报送",
        "filed" => "已报送",
        "outdated" => "已更正待重报",
        _ => "",
    }
}

/// Per branch under `org_id` and per quarter of `year`: published, filed (by whom, when,
/// which version) or not.
pub async fn filings(
    state: &AppState,
    principal: &Principal,
    org_id: OrgId,
    year: i32,
) -> AppResult<Filings> {
    let db = &state.db;
    let org = crate::org::service::scoped(db, principal, Perm::ScoresRead, org_id).await?;
    let year = valid_year(year)?;
    let branches = entity::organization::Entity::find()
        .filter(entity::organization::Column::Path.starts_with(org.path.as_str()))
        .filter(entity::organization::Column::Kind.is_in(["branch", "general_branch"]))
        .order_by_asc(entity::organization::Column::Path)
        .all(db)
        .await?;
    let ids: Vec<i64> = branches.iter().map(|b| b.id).collect();
    let pubs = entity::publicity::Entity::find()
        .filter(entity::publicity::Column::OrgId.is_in(ids.clone()))
        .filter(entity::publicity::Column::Year.eq(year))
        .filter(entity::publicity::Column::Period.eq("quarter"))
        .filter(entity::publicity::Column::State.ne(SUPERSEDED))
        .all(db)
        .await?;
    let filed = entity::ranking_filing::Entity::find()
        .filter(entity::ranking_filing::Column::OrgId.is_in(ids))
        .filter(entity::ranking_filing::Column::Year.eq(year))
        .order_by_asc(entity::ranking_filing::Column::Id)
        .all(db)
        .await?;
    let names = account_names(db, filed.iter().map(|f| f.filed_by).collect()).await?;
    let now = state.clock.now();
    let mut out = Vec::new();
    for b in branches {
        let tz = tz_of(&b);
        let mut quarters = Vec::new();
        for q in 1..=4u32 {
            let qi = i32::try_from(q).unwrap_or(1);
            let (_, until) = period_bounds(year, Period::Quarter, Some(q), tz)?;
            let current = pubs
                .iter()
                .filter(|p| p.org_id == b.id && p.n == Some(qi))
                .max_by_key(|p| p.version);
            let last_filing = filed.iter().rfind(|f| f.org_id == b.id && f.n == Some(qi));
            let status = match (current, last_filing) {
                (_, _) if now < until && current.is_none() => "not_over",
                (None, _) => "not_published",
                (Some(p), Some(f)) if f.publicity_id == p.id => "filed",
                (Some(_), Some(_)) => "outdated",
                (Some(_), None) => "published",
            };
            quarters.push(QuarterFiling {
                quarter: q,
                status: status.to_owned(),
                publicity_id: current.map(|p| p.id),
                published_version: current.map(|p| p.version),
                filed_version: last_filing.map(|f| f.version),
                filed_by: last_filing.and_then(|f| names.get(&f.filed_by).cloned()),
                filed_at: last_filing.map(|f| f.filed_at),
            });
        }
        out.push(BranchFilings {
            org_id: b.id,
            name: b.name,
            quarters,
        });
    }
    Ok(Filings {
        org_id: org.id,
        year,
        branches: out,
    })
}

async fn account_names(
    db: &impl ConnectionTrait,
    ids: Vec<i64>,
) -> AppResult<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(entity::account::Entity::find()
        .filter(entity::account::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.username))
        .collect())
}

// ---- EQ-5 / EQ-6: the engine's evidence ---------------------------------------------

/// One clause of a last-place rule, in words and numbers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Clause {
    /// `quarter`, `half_year` …
    pub period: String,
    /// `org` (支部内) or `all` (全委).
    pub scope: String,
    pub times: u32,
    pub consecutive: bool,
    #[schema(value_type = Vec<Object>)]
    pub periods: Vec<PeriodPlaceView>,
    /// Last places carried in from the previous year's closing run.
    pub carried: u32,
    pub count: u32,
    pub met: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PeriodPlaceView {
    pub n: u32,
    /// Exact decimal text.
    pub points: String,
    pub place: Option<u32>,
    pub of: u32,
    pub last: bool,
    /// The period has not ended yet (its place may still change).
    pub running: bool,
}

/// What one last-place rule says about one member.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RuleView {
    pub rule: String,
    pub label: String,
    pub met: bool,
    pub applies: bool,
    /// `unqualified`, or the flag (`not_confirmable_on_time`, `not_excellent`).
    pub consequence: String,
    pub clauses: Vec<Clause>,
    /// Why, in Chinese (only when met and applying).
    pub why: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberEvidence {
    pub person_id: i64,
    pub name: String,
    pub org_id: i64,
    pub org_name: String,
    /// Role at the end of the stretch in force (`member`, `probationary`).
    pub role: Option<String>,
    /// Quarterly places inside the branch (EQ-5's ranking).
    #[schema(value_type = Vec<Object>)]
    pub quarters: Vec<PeriodPlaceView>,
    /// Half-year places across the committee (EQ-6's ranking), when the policy has one.
    #[schema(value_type = Vec<Object>)]
    pub half_years: Vec<PeriodPlaceView>,
    /// The run of last places carried in from last year (EQ-5).
    pub carried: u32,
    /// The longest run of consecutive last places counting the carried run (EQ-5).
    pub run: u32,
    /// Rated unqualified at close if nothing changes (the engine's own result).
    pub unqualified_at_close: bool,
    /// Flags the close would set (EQ-6).
    pub flags: Vec<String>,
    pub rules: Vec<RuleView>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Evidence {
    pub org_id: i64,
    pub year: i32,
    /// The year is closed: the evidence is of the frozen results.
    pub closed: bool,
    /// The policy has last-place rules (EQ-5/EQ-6).
    pub ranked: bool,
    /// Substantiated falsification findings of the year under this organization (EQ-7).
    pub falsification_findings: u64,
    pub members: Vec<MemberEvidence>,
}

fn period_word(p: crate::policy::Period) -> &'static str {
    use crate::policy::Period as P;
    match p {
        P::Day => "日",
        P::Month => "月度",
        P::Quarter => "季度",
        P::HalfYear => "半年",
        P::Year => "年度",
    }
}

fn period_key(p: crate::policy::Period) -> &'static str {
    use crate::policy::Period as P;
    match p {
        P::Day => "day",
        P::Month => "month",
        P::Quarter => "quarter",
        P::HalfYear => "half_year",
        P::Year => "year",
    }
}

fn nth(p: crate::policy::Period, n: u32) -> String {
    use crate::policy::Period as P;
    match (p, n) {
        (P::HalfYear, 1) => "上半年".to_owned(),
        (P::HalfYear, _) => "下半年".to_owned(),
        (P::Quarter, q) => format!("第{q}季度"),
        (P::Month, m) => format!("{m}月"),
        (_, k) => format!("第{k}期"),
    }
}

fn scope_word(s: Scope) -> &'static str {
    match s {
        Scope::Org => "支部内",
        Scope::All => "全委",
    }
}

pub fn consequence_label(c: &str) -> &'static str {
    match c {
        "unqualified" => "定为不合格等次",
        "not_confirmable_on_time" => "不得按期转为正式党员，需延长预备期",
        "not_excellent" => "当年年度考核不得评定为优秀，不得纳入表彰评优",
        _ => "",
    }
}

fn places(
    r: &RankingEvidence,
    ended: &dyn Fn(crate::policy::Period, u32) -> bool,
) -> Vec<PeriodPlaceView> {
    r.periods
        .iter()
        .map(|p: &PeriodPlace| PeriodPlaceView {
            n: p.n,
            points: fmt_dec(p.points),
            place: p.place,
            of: p.of,
            last: p.last,
            running: !ended(r.period, p.n),
        })
        .collect()
}

/// The reason a met clause gives, e.g. "支部内季度排名连续 4 次最后（上年第3季度、第4季度
/// 延续 2 次；本年第1季度（12 分，第 3/3 名）…）".
fn why_of(r: &RankingEvidence) -> String {
    let lasts: Vec<String> = r
        .periods
        .iter()
        .filter(|p| p.last)
        .map(|p| {
            format!(
                "{}（{} 分，第 {}/{} 名）",
                nth(r.period, p.n),
                fmt_dec(p.points),
                p.place.unwrap_or(0),
                p.of
            )
        })
        .collect();
    let carried = if r.carried > 0 {
        format!("上年末连续最后 {} 次延续；", r.carried)
    } else {
        String::new()
    };
    format!(
        "{}{}排名{}最后 {} 次（{}{}）",
        scope_word(r.scope),
        period_word(r.period),
        if r.consecutive { "连续" } else { "" },
        r.count,
        carried,
        lasts.join("、")
    )
}

fn rule_view(
    e: &LastPlaceEvidence,
    ended: &dyn Fn(crate::policy::Period, u32) -> bool,
) -> RuleView {
    let consequence = if e.unqualified {
        "unqualified".to_owned()
    } else {
        e.flag
            .clone()
            .or_else(|| e.rating.clone())
            .unwrap_or_default()
    };
    let why = (e.met && e.applies).then(|| {
        e.rankings
            .iter()
            .filter(|r| r.met)
            .map(why_of)
            .collect::<Vec<_>>()
            .join("；")
    });
    RuleView {
        rule: e.rule.clone(),
        label: e.label.clone(),
        met: e.met,
        applies: e.applies,
        consequence,
        clauses: e
            .rankings
            .iter()
            .map(|r| Clause {
                period: period_key(r.period).to_owned(),
                scope: match r.scope {
                    Scope::Org => "org",
                    Scope::All => "all",
                }
                .to_owned(),
                times: r.times,
                consecutive: r.consecutive,
                periods: places(r, ended),
                carried: r.carried,
                count: r.count,
                met: r.met,
            })
            .collect(),
        why,
    }
}

/// Each member's quarterly and half-year places, last places, the carried run, and who
/// the close would rate unqualified or flag, and why: the engine's year-end run, nothing
/// written. Secretaries see their branch, admins their subtree.
pub async fn evidence(
    state: &AppState,
    principal: &Principal,
    org_id: OrgId,
    year: i32,
) -> AppResult<Evidence> {
    let db = &state.db;
    let org = crate::org::service::scoped(db, principal, Perm::ScoresRead, org_id).await?;
    let year = valid_year(year)?;
    evidence_of(state, &org, year).await
}

async fn evidence_of(
    state: &AppState,
    org: &entity::organization::Model,
    year: i32,
) -> AppResult<Evidence> {
    let db = &state.db;
    let policy = crate::ledger::inputs::policy_for(db, &state.scoring, &org.path, year).await?;
    let ranked = policy
        .groups
        .iter()
        .any(|g| matches!(g.kind, crate::policy::GroupKind::LastPlace(_)));
    let closed = crate::ledger::post::year_closed(db, &org.path, year).await?;
    let findings = falsification_findings(db, OrgId(org.id), year).await?;
    let mut out = Evidence {
        org_id: org.id,
        year,
        closed,
        ranked,
        falsification_findings: findings,
        members: Vec::new(),
    };
    if !ranked {
        return Ok(out);
    }
    let preview = crate::ledger::year::preview_year_end(db, &state.scoring, org, year).await?;
    let people: HashMap<i64, entity::person::Model> = {
        let ids: Vec<i64> = preview.iter().map(|p| p.person_id).collect();
        let mut m = HashMap::new();
        for chunk in ids.chunks(500) {
            for p in entity::person::Entity::find()
                .filter(entity::person::Column::Id.is_in(chunk.to_vec()))
                .all(db)
                .await?
            {
                m.insert(p.id, p);
            }
        }
        m
    };
    let orgs: HashMap<i64, String> = entity::organization::Entity::find()
        .filter(entity::organization::Column::Path.starts_with(org.path.as_str()))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let now = state.clock.now();
    let tz = tz_of(org);
    let ended = |p: crate::policy::Period, n: u32| {
        let period = match p {
            crate::policy::Period::Quarter => Period::Quarter,
            crate::policy::Period::HalfYear => Period::HalfYear,
            crate::policy::Period::Month => Period::Month,
            _ => Period::Year,
        };
        period_bounds(year, period, Some(n), tz).is_ok_and(|(_, until)| now >= until)
    };
    for p in preview {
        // Only people the policy ranks (exempt, uncovered: no evidence).
        if p.evidence.is_empty() {
            continue;
        }
        let last_part = p.results.len().saturating_sub(1);
        let of_part = |e: &&LastPlaceEvidence| e.part == last_part;
        let pick = |period: crate::policy::Period, scope: Scope| {
            p.evidence
                .iter()
                .filter(of_part)
                .chain(p.evidence.iter())
                .flat_map(|e| e.rankings.iter())
                .find(|r| r.period == period && r.scope == scope)
        };
        let quarters = pick(crate::policy::Period::Quarter, Scope::Org);
        let halves = pick(crate::policy::Period::HalfYear, Scope::All);
        let run = p
            .evidence
            .iter()
            .flat_map(|e| e.rankings.iter())
            .filter(|r| r.consecutive)
            .max_by_key(|r| r.count);
        let result = p.results.last();
        let person = people.get(&p.person_id);
        out.members.push(MemberEvidence {
            person_id: p.person_id,
            name: person.map(|x| x.name.clone()).unwrap_or_default(),
            org_id: p.org_id,
            org_name: orgs.get(&p.org_id).cloned().unwrap_or_default(),
            role: result.and_then(|r| r.role).map(|r| r.as_str().to_owned()),
            quarters: quarters.map(|r| places(r, &ended)).unwrap_or_default(),
            half_years: halves.map(|r| places(r, &ended)).unwrap_or_default(),
            carried: run.map_or(0, |r| r.carried),
            run: run.map_or(0, |r| r.count),
            unqualified_at_close: p.results.iter().any(|r| r.status == Status::Unqualified),
            flags: p
                .results
                .iter()
                .flat_map(|r| r.flags.iter())
                .filter(|f| p.evidence.iter().any(|e| e.flag.as_deref() == Some(&***f)))
                .map(|f| f.to_string())
                .collect(),
            rules: p.evidence.iter().map(|e| rule_view(e, &ended)).collect(),
        });
    }
    out.members
        .sort_by(|a, b| a.org_name.cmp(&b.org_name).then(a.name.cmp(&b.name)));
    Ok(out)
}

// ---- EQ-6: flags for the committee ----------------------------------------------------

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Flag {
    pub person_id: i64,
    pub name: String,
    pub org_id: i64,
    pub org_name: String,
    pub role: Option<String>,
    pub rule: String,
    /// `not_confirmable_on_time`, `not_excellent`.
    pub flag: String,
    /// The consequence in words (needs a Party procedure; nothing is changed here).
    pub consequence: String,
    /// Which quarters / half-years, the places and scores.
    pub why: String,
    pub evidence: RuleView,
    /// `open` or `handled`.
    pub state: String,
    pub action: Option<String>,
    pub handled_by: Option<String>,
    pub handled_at: Option<DateTime<Utc>>,
}

/// EQ-6 flags under `org_id` for `year`: members the close flags (or flagged, once
/// closed), with the evidence and what was done about each.
pub async fn flags(
    state: &AppState,
    principal: &Principal,
    org_id: OrgId,
    year: i32,
) -> AppResult<Vec<Flag>> {
    let ev = evidence(state, principal, org_id, year).await?;
    flags_of(state, &ev).await
}

async fn flags_of(state: &AppState, ev: &Evidence) -> AppResult<Vec<Flag>> {
    let db = &state.db;
    let handled = entity::rank_flag_handling::Entity::find()
        .filter(entity::rank_flag_handling::Column::Year.eq(ev.year))
        .filter(
            entity::rank_flag_handling::Column::PersonId
                .is_in(ev.members.iter().map(|m| m.person_id).collect::<Vec<_>>()),
        )
        .all(db)
        .await?;
    let names = account_names(db, handled.iter().map(|h| h.handled_by).collect()).await?;
    let mut out = Vec::new();
    for m in &ev.members {
        for r in &m.rules {
            let (true, true) = (r.met, r.applies) else {
                continue;
            };
            if r.consequence == "unqualified" || r.consequence.is_empty() {
                continue;
            }
            let h = handled
                .iter()
                .find(|h| h.person_id == m.person_id && h.flag == r.consequence);
            out.push(Flag {
                person_id: m.person_id,
                name: m.name.clone(),
                org_id: m.org_id,
                org_name: m.org_name.clone(),
                role: m.role.clone(),
                rule: r.rule.clone(),
                flag: r.consequence.clone(),
                consequence: consequence_label(&r.consequence).to_owned(),
                why: r.why.clone().unwrap_or_default(),
                evidence: r.clone(),
                state: if h.is_some() { "handled" } else { "open" }.to_owned(),
                action: h.map(|h| h.action.clone()),
                handled_by: h.and_then(|h| names.get(&h.handled_by).cloned()),
                handled_at: h.map(|h| h.handled_at),
            });
        }
    }
    Ok(out)
}

/// Records what was done about a flag (e.g. 支部大会决定延长预备期一年，报党委审批), with
/// the evidence as it stood. Refused: no such flag now (404), already recorded
/// (`flag_handled`), no action (field), a recorder or auditor (403).
pub async fn handle_flag(
    state: &AppState,
    principal: &Principal,
    person_id: PersonId,
    year: i32,
    flag: &str,
    action: &str,
) -> AppResult<entity::rank_flag_handling::Model> {
    let db = &state.db;
    let person = crate::org::people::scoped(db, principal, Perm::Review, person_id).await?;
    let action = text("action", action, "处理情况")?;
    let year = valid_year(year)?;
    let org = crate::org::service::find(db, OrgId(person.org_id)).await?;
    let ev = evidence_of(state, &org, year).await?;
    let found = flags_of(state, &ev)
        .await?
        .into_iter()
        .find(|f| f.person_id == person.id && f.flag == flag)
        .ok_or_else(|| AppError::not_found("该党员本年度没有这项需处理的标记"))?;
    if found.state == "handled" {
        return Err(AppError::new(
            ErrorCode::FlagHandled,
            "该标记的处理情况已记录，不能重复记录",
        ));
    }
    let now = state.clock.now();
    let evidence = serde_json::to_string(&found.evidence).map_err(AppError::internal)?;
    let taken = || {
        AppError::new(
            ErrorCode::FlagHandled,
            "该标记的处理情况已记录，不能重复记录",
        )
    };
    let txn = crate::db::begin(db).await?;
    let row = entity::rank_flag_handling::ActiveModel {
        id: NotSet,
        person_id: Set(person.id),
        org_id: Set(person.org_id),
        year: Set(year),
        rule: Set(found.rule.clone()),
        flag: Set(found.flag.clone()),
        evidence: Set(evidence),
        action: Set(action.clone()),
        handled_by: Set(principal.account_id.0),
        handled_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => taken(),
        _ => AppError::from(e),
    })?;
    crate::audit::record(
        &txn,
        &principal.actor(),
        Entry::new("handle_rank_flag", "person", person.id)
            .org(OrgId(person.org_id))
            .after(serde_json::json!({"year": year, "rule": found.rule, "flag": found.flag, "why": found.why, "action": action})),
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

// ---- EQ-7: falsification --------------------------------------------------------------

/// Substantiated falsification findings (EQ-7) of `year` about members of `branch` (and
/// the organizations below it): the count the branch's annual assessment takes.
pub async fn falsification_findings(
    db: &impl ConnectionTrait,
    branch: OrgId,
    year: i32,
) -> AppResult<u64> {
    let org = crate::org::service::find(db, branch).await?;
    let ids = crate::org::service::subtree_ids(db, &org).await?;
    Ok(entity::case::Entity::find()
        .filter(entity::case::Column::Kind.eq(FALSIFICATION))
        .filter(entity::case::Column::Year.eq(year))
        .filter(entity::case::Column::State.eq(CaseState::Accepted.as_str()))
        .filter(entity::case::Column::FiledOrgId.is_in(ids))
        .count(db)
        .await?)
}

/// Opens a falsification finding about a member's points of `year` (admins, the member in
/// scope). The reason (the facts found and their basis) is required.
pub async fn open_falsification(
    state: &AppState,
    principal: &Principal,
    person_id: PersonId,
    year: i32,
    reason: &str,
) -> AppResult<entity::case::Model> {
    let db = &state.db;
    let person = crate::org::people::scoped(db, principal, Perm::Correct, person_id).await?;
    let reason = text("reason", reason, "弄虚作假的事实和依据")?;
    let year = valid_year(year)?;
    let org = crate::org::service::find(db, OrgId(person.org_id)).await?;
    let now = state.clock.now();
    let actor = principal.actor();
    let key = format!("{FALSIFICATION}:{}:{year}", person.id);
    let taken = || AppError::conflict("该党员本年度已有进行中的弄虚作假认定，请在该案件中继续处理");
    let txn = crate::db::begin(db).await?;
    let case = open_case(
        &txn,
        Opening {
            kind: FALSIFICATION,
            subject_person_id: Some(person.id),
            target_kind: "person_year",
            target_id: person.id,
            activity_id: None,
            year,
            filed_org_id: org.id,
            org_id: org.id,
            open_key: Some(key),
            reason: &reason,
            deadline: now + Duration::days(state.settings.disputes.answer_days),
        },
        now,
        taken,
    )
    .await?;
    message(
        &txn,
        case.id,
        "opened",
        &actor,
        &actor_name(principal),
        &format!("立案认定弄虚作假（{year}年度）：{reason}"),
        now,
    )
    .await?;
    crate::audit::record(
        &txn,
        &actor,
        Entry::new("open_falsification", "case", case.id)
            .org(OrgId(org.id))
            .after(serde_json::json!({"person": person.id, "year": year, "reason": reason})),
    )
    .await?;
    txn.commit().await?;
    Ok(case)
}

async fn scoped_case(
    state: &AppState,
    principal: &Principal,
    perm: Perm,
    id: i64,
) -> AppResult<(entity::case::Model, entity::organization::Model)> {
    principal.require(perm)?;
    let not_found = || AppError::not_found("没有找到该弄虚作假案件");
    let case = find_case(&state.db, id).await.map_err(|_| not_found())?;
    if case.kind != FALSIFICATION {
        return Err(not_found());
    }
    let org = crate::org::service::find(&state.db, OrgId(case.filed_org_id)).await?;
    if !principal.covers(&org.path) {
        return Err(not_found());
    }
    Ok((case, org))
}

fn still_open(case: &entity::case::Model) -> AppResult<()> {
    if !crate::cases::service::state_of(case).is_open() {
        return Err(AppError::new(
            ErrorCode::CaseState,
            "该案件已结案，不能再更改",
        ));
    }
    Ok(())
}

/// Annuls a falsified fact (the deduction) through `cases::correction`, with the case's
/// reason, linked to the case.
pub async fn annul_falsified(
    state: &AppState,
    principal: &Principal,
    id: i64,
    fact_id: i64,
    note: &str,
) -> AppResult<i64> {
    let (case, org) = scoped_case(state, principal, Perm::Correct, id).await?;
    still_open(&case)?;
    let note = text("note", note, "作废理由")?;
    let person_id = case
        .subject_person_id
        .ok_or_else(|| AppError::not_found("没有找到该党员"))?;
    let person = crate::org::people::find(&state.db, PersonId(person_id)).await?;
    let fact = entity::fact::Entity::find_by_id(fact_id)
        .one(&state.db)
        .await?
        .filter(|f| f.person_id == Some(person.id))
        .ok_or_else(|| AppError::field("fact_id", "没有找到该党员的这条记录"))?;
    if fact.year != case.year {
        return Err(AppError::field(
            "fact_id",
            format!("该记录不属于 {} 年度", case.year),
        ));
    }
    correction::apply_for_case(
        state,
        principal,
        correction::ForCase {
            case: &case,
            org: OrgId(org.id),
            kind: "弄虚作假",
            audit_action: "falsification_annul",
        },
        &person,
        &Fix::Annul { fact_id },
        &note,
    )
    .await
}

/// Concludes the case: substantiated (认定属实: counts for the branch, EQ-7) or not.
pub async fn conclude_falsification(
    state: &AppState,
    principal: &Principal,
    id: i64,
    substantiated: bool,
    conclusion: &str,
) -> AppResult<entity::case::Model> {
    let (case, org) = scoped_case(state, principal, Perm::Correct, id).await?;
    still_open(&case)?;
    let conclusion = text("conclusion", conclusion, "认定结论")?;
    let now = state.clock.now();
    let actor = principal.actor();
    let verdict = if substantiated {
        "认定属实"
    } else {
        "不予认定"
    };
    let to = if substantiated {
        CaseState::Accepted
    } else {
        CaseState::Rejected
    };
    let txn = crate::db::begin(&state.db).await?;
    let done = transition(&txn, &case, to, |a| {
        a.open_key = Set(None);
        a.outcome = Set(Some(format!("{verdict}：{conclusion}")));
        a.decided_by = Set(Some(principal.account_id.0));
        a.closed_at = Set(Some(now));
        a.updated_at = Set(now);
    })
    .await?;
    message(
        &txn,
        case.id,
        "closed",
        &actor,
        &actor_name(principal),
        &format!("结案（{verdict}）：{conclusion}"),
        now,
    )
    .await?;
    crate::audit::record(
        &txn,
        &actor,
        Entry::new("conclude_falsification", "case", case.id)
            .org(OrgId(org.id))
            .before(serde_json::json!({"state": case.state}))
            .after(serde_json::json!({"state": to.as_str(), "substantiated": substantiated, "conclusion": conclusion})),
    )
    .await?;
    txn.commit().await?;
    Ok(done)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FalsificationView {
    pub id: i64,
    pub person_id: Option<i64>,
    pub name: String,
    pub org_id: i64,
    pub year: i32,
    /// `open`, `accepted` (substantiated), `rejected` (not substantiated).
    pub state: String,
    pub reason: String,
    pub outcome: Option<String>,
    pub filed_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<Step>,
}

#[derive(Debug, Serialize)]
pub struct Step {
    pub action: String,
    pub by: String,
    pub at: DateTime<Utc>,
    pub body: String,
}

async fn view(
    db: &impl ConnectionTrait,
    case: entity::case::Model,
) -> AppResult<FalsificationView> {
    let name = match case.subject_person_id {
        Some(p) => crate::org::people::find(db, PersonId(p)).await?.name,
        None => String::new(),
    };
    let steps = entity::case_message::Entity::find()
        .filter(entity::case_message::Column::CaseId.eq(case.id))
        .order_by_asc(entity::case_message::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|m| Step {
            action: m.action,
            by: m.author_name,
            at: m.at,
            body: m.body,
        })
        .collect();
    Ok(FalsificationView {
        id: case.id,
        person_id: case.subject_person_id,
        name,
        org_id: case.filed_org_id,
        year: case.year,
        state: case.state,
        reason: case.reason,
        outcome: case.outcome,
        filed_at: case.filed_at,
        closed_at: case.closed_at,
        steps,
    })
}

pub async fn get_falsification(
    state: &AppState,
    principal: &Principal,
    id: i64,
) -> AppResult<FalsificationView> {
    let (case, _) = scoped_case(state, principal, Perm::ScoresRead, id).await?;
    view(&state.db, case).await
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FalsificationList {
    pub org_id: i64,
    pub year: i32,
    /// Substantiated findings (what the branch's assessment counts).
    pub substantiated: u64,
    pub cases: Vec<FalsificationView>,
}

pub async fn list_falsifications(
    state: &AppState,
    principal: &Principal,
    org_id: OrgId,
    year: i32,
) -> AppResult<FalsificationList> {
    let db = &state.db;
    let org = crate::org::service::scoped(db, principal, Perm::ScoresRead, org_id).await?;
    let year = valid_year(year)?;
    let ids = crate::org::service::subtree_ids(db, &org).await?;
    let cases = entity::case::Entity::find()
        .filter(entity::case::Column::Kind.eq(FALSIFICATION))
        .filter(entity::case::Column::Year.eq(year))
        .filter(entity::case::Column::FiledOrgId.is_in(ids))
        .order_by_desc(entity::case::Column::Id)
        .all(db)
        .await?;
    let mut out = Vec::new();
    for c in cases {
        out.push(view(db, c).await?);
    }
    Ok(FalsificationList {
        org_id: org.id,
        year,
        substantiated: falsification_findings(db, OrgId(org.id), year).await?,
        cases: out,
    })
}

// ---- Own rank: proposed, confirmed by an admin ---------------------------------------------

/// Called in the transaction that chooses a policy: a policy that ranks members
/// (`[publicity] ranking`, the document asks members to see their ranking) proposes
/// switching on members' own rank for the organization's branches that have it off. One
/// pending proposal per organization; nothing switches here.
pub async fn propose_own_rank(
    db: &impl ConnectionTrait,
    principal: &Principal,
    org: &entity::organization::Model,
    year: i32,
    policy: &crate::policy::Policy,
    now: DateTime<Utc>,
) -> AppResult<Option<entity::org_proposal::Model>> {
    let Some(p) = policy.publicity.as_ref().filter(|p| p.ranking) else {
        return Ok(None);
    };
    let off = entity::organization::Entity::find()
        .filter(entity::organization::Column::Path.starts_with(org.path.as_str()))
        .filter(entity::organization::Column::Kind.is_in(["branch", "general_branch"]))
        .filter(entity::organization::Column::ShowRankToMembers.eq(false))
        .count(db)
        .await?;
    if off == 0 {
        return Ok(None);
    }
    let key = format!("{SHOW_RANK}:{}", org.id);
    if entity::org_proposal::Entity::find()
        .filter(entity::org_proposal::Column::OpenKey.eq(key.clone()))
        .one(db)
        .await?
        .is_some()
    {
        return Ok(None);
    }
    let rule = if p.rule.is_empty() {
        String::new()
    } else {
        format!("（{}）", p.rule)
    };
    let reason = format!(
        "{}要求党员随时掌握自己的积分排名情况{rule}：建议为本组织下 {off} 个支部开启“党员查看本人排名”",
        policy.title
    );
    let row = entity::org_proposal::ActiveModel {
        id: NotSet,
        org_id: Set(org.id),
        year: Set(year),
        setting: Set(SHOW_RANK.to_owned()),
        policy: Set(policy.name.clone()),
        reason: Set(reason.clone()),
        state: Set("pending".to_owned()),
        open_key: Set(Some(key)),
        proposed_by: Set(Some(principal.account_id.0)),
        proposed_at: Set(now),
        decided_by: Set(None),
        decided_at: Set(None),
        decision: Set(None),
    }
    .insert(db)
    .await?;
    crate::audit::record(
        db,
        &principal.actor(),
        Entry::new("propose_setting", "org_proposal", row.id)
            .org(OrgId(org.id))
            .after(serde_json::json!({"setting": SHOW_RANK, "policy": policy.name, "branches": off, "reason": reason})),
    )
    .await?;
    Ok(Some(row))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProposalView {
    pub id: i64,
    pub org_id: i64,
    pub year: i32,
    pub setting: String,
    pub policy: String,
    pub reason: String,
    /// `pending`, `confirmed`, `declined`.
    pub state: String,
    pub proposed_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision: Option<String>,
}

async fn proposal_views(
    db: &impl ConnectionTrait,
    rows: Vec<entity::org_proposal::Model>,
) -> AppResult<Vec<ProposalView>> {
    let names = account_names(db, rows.iter().filter_map(|r| r.decided_by).collect()).await?;
    Ok(rows
        .into_iter()
        .map(|r| ProposalView {
            id: r.id,
            org_id: r.org_id,
            year: r.year,
            setting: r.setting,
            policy: r.policy,
            reason: r.reason,
            state: r.state,
            proposed_at: r.proposed_at,
            decided_by: r.decided_by.and_then(|d| names.get(&d).cloned()),
            decided_at: r.decided_at,
            decision: r.decision,
        })
        .collect())
}

/// Proposals for the organization (newest first).
pub async fn proposals(
    db: &impl ConnectionTrait,
    principal: &Principal,
    org_id: OrgId,
) -> AppResult<Vec<ProposalView>> {
    let org = crate::org::service::scoped(db, principal, Perm::OrgRead, org_id).await?;
    let rows = entity::org_proposal::Entity::find()
        .filter(entity::org_proposal::Column::OrgId.eq(org.id))
        .order_by_desc(entity::org_proposal::Column::Id)
        .all(db)
        .await?;
    proposal_views(db, rows).await
}

/// Confirms (switches members' own rank on for every branch under the organization that
/// has it off) or declines (a reason required) a pending proposal, once, audited.
pub async fn decide_proposal(
    state: &AppState,
    principal: &Principal,
    id: i64,
    confirm: bool,
    reason: Option<&str>,
) -> AppResult<ProposalView> {
    let db = &state.db;
    principal.require(Perm::OrgWrite)?;
    let gone = || AppError::not_found("没有找到该提议");
    let p = entity::org_proposal::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(gone)?;
    let org = crate::org::service::find(db, OrgId(p.org_id)).await?;
    if !principal.covers(&org.path) {
        return Err(gone());
    }
    let decided = || {
        AppError::new(
            ErrorCode::ProposalDecided,
            "该提议已处理，不能重复确认或拒绝",
        )
    };
    if p.state != "pending" {
        return Err(decided());
    }
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    let reason = match (confirm, reason) {
        (false, None) => return Err(AppError::field("reason", "请填写不采纳的理由")),
        (_, Some(r)) => Some(text("reason", r, "理由")?),
        (true, None) => None,
    };
    let now = state.clock.now();
    let actor = principal.actor();
    let txn = crate::db::begin(db).await?;
    let res = entity::org_proposal::Entity::update_many()
        .col_expr(
            entity::org_proposal::Column::State,
            sea_orm::sea_query::Expr::value(if confirm { "confirmed" } else { "declined" }),
        )
        .col_expr(
            entity::org_proposal::Column::OpenKey,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .col_expr(
            entity::org_proposal::Column::DecidedBy,
            sea_orm::sea_query::Expr::value(principal.account_id.0),
        )
        .col_expr(
            entity::org_proposal::Column::DecidedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .col_expr(
            entity::org_proposal::Column::Decision,
            sea_orm::sea_query::Expr::value(reason.clone()),
        )
        .filter(entity::org_proposal::Column::Id.eq(p.id))
        .filter(entity::org_proposal::Column::State.eq("pending"))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        return Err(decided());
    }
    let mut switched = Vec::new();
    if confirm {
        let branches = entity::organization::Entity::find()
            .filter(entity::organization::Column::Path.starts_with(org.path.as_str()))
            .filter(entity::organization::Column::Kind.is_in(["branch", "general_branch"]))
            .filter(entity::organization::Column::ShowRankToMembers.eq(false))
            .all(&txn)
            .await?;
        for b in branches {
            entity::organization::Entity::update_many()
                .col_expr(
                    entity::organization::Column::ShowRankToMembers,
                    sea_orm::sea_query::Expr::value(true),
                )
                .filter(entity::organization::Column::Id.eq(b.id))
                .exec(&txn)
                .await?;
            crate::audit::record(
                &txn,
                &actor,
                Entry::new("update", "organization", b.id)
                    .org(OrgId(b.id))
                    .before(serde_json::json!({"show_rank_to_members": false}))
                    .after(serde_json::json!({"show_rank_to_members": true, "proposal": p.id})),
            )
            .await?;
            switched.push(b.id);
        }
    }
    crate::audit::record(
        &txn,
        &actor,
        Entry::new(
            if confirm {
                "confirm_proposal"
            } else {
                "decline_proposal"
            },
            "org_proposal",
            p.id,
        )
        .org(OrgId(org.id))
        .before(serde_json::json!({"state": "pending"}))
        .after(serde_json::json!({"state": if confirm { "confirmed" } else { "declined" }, "setting": p.setting, "branches": switched, "reason": reason})),
    )
    .await?;
    txn.commit().await?;
    let row = entity::org_proposal::Entity::find_by_id(p.id)
        .one(db)
        .await?
        .ok_or_else(gone)?;
    proposal_views(db, vec![row]).await?.pop().ok_or_else(gone)
}

/// The publicity's label, for pages.
pub fn publicity_label(p: &entity::publicity::Model) -> String {
    label_of(p)
}
