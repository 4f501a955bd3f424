//! Publicity (公示; TW-6, SD-4, SD-5, EQ-4).
//!
//! An organization publishes a period's results (month, quarter, half-year, year) once
//! the period is over, for the number of days its policy's `[publicity]` sets (at least
//! `min_days`). The list is a snapshot (name, branch, score, stars; sorted by name
//! unless ranked) stored as it was and never changed; members of the organization's
//! subtree see it on `/m/publicity` and get one template message. During the window
//! anyone the policy names may object (`cases::objection`). When the window has ended
//! and no objection is open, the branch committee confirms (核定): from then on no new
//! item may be recorded for a date in the period (`refuse_if_locked`, code
//! `period_locked`); corrections stay possible and are listed, dated, under the
//! snapshot. A corrected list is published as a new version that says what changed.
//! Closing a year needs the year's last period confirmed where the policy has publicity
//! (`require_confirmed_for_close`).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::audit::Entry;
use crate::auth::{Perm, Principal, Role};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::{OrgId, PublicityId};
use crate::ledger::inputs::{tz_of, year_of};
use crate::ledger::queries::{Period, period_bounds, rankings};
use crate::policy::{PublicitySettings, fmt_dec, parse_dec};
use crate::state::AppState;

pub const OPEN: &str = "open";
pub const CONFIRMED: &str = "confirmed";
pub const SUPERSEDED: &str = "superseded";

/// The `period` of a publicity of SD-6's confirmed stars (`review::stars`): a closed
/// year's list made elsewhere, published here like any other.
pub const STARS: &str = "stars";

/// The longest window anyone may set.
const MAX_DAYS: i64 = 60;

pub fn period_str(p: Period) -> &'static str {
    match p {
        Period::Year => "year",
        Period::HalfYear => "half_year",
        Period::Quarter => "quarter",
        Period::Month => "month",
    }
}

pub fn parse_period(s: &str) -> Option<Period> {
    Some(match s {
        "year" => Period::Year,
        "half_year" => Period::HalfYear,
        "quarter" => Period::Quarter,
        "month" => Period::Month,
        _ => return None,
    })
}

/// The period in words: 2026年上半年, 2026年第3季度, 2026年5月, 2026年度.
pub fn period_label(year: i32, period: Period, n: Option<u32>) -> String {
    match (period, n) {
        (Period::Year, _) => format!("{year}年度"),
        (Period::HalfYear, Some(1)) => format!("{year}年上半年"),
        (Period::HalfYear, _) => format!("{year}年下半年"),
        (Period::Quarter, Some(q)) => format!("{year}年第{q}季度"),
        (Period::Month, Some(m)) => format!("{year}年{m}月"),
        (_, None) => format!("{year}年"),
    }
}

pub fn kind_label(period: &str) -> &'static str {
    match period {
        "year" => "年度",
        "half_year" => "半年",
        "quarter" => "季度",
        "month" => "月度",
        _ => "",
    }
}

fn n_of(p: &entity::publicity::Model) -> Option<u32> {
    p.n.and_then(|n| u32::try_from(n).ok())
}

fn period_of(p: &entity::publicity::Model) -> Period {
    parse_period(&p.period).unwrap_or(Period::Year)
}

pub fn label_of(p: &entity::publicity::Model) -> String {
    if p.period == STARS {
        return format!("{}年度星级评定", p.year);
    }
    period_label(p.year, period_of(p), n_of(p))
}

/// One line of the snapshot: name, branch, score and stars only (DESIGN.md
/// "Compliance and trust"); the person's id stays internal (objections name it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Row {
    pub person_id: i64,
    pub name: String,
    pub org_id: i64,
    pub org_name: String,
    /// Exact decimal text.
    pub score: String,
    pub stars: Option<i32>,
    /// Set when the list is ranked.
    pub place: Option<u32>,
}

/// One difference between two versions of a list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Change {
    pub person_id: i64,
    pub name: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub stars_before: Option<i32>,
    pub stars_after: Option<i32>,
}

pub fn rows_of(p: &entity::publicity::Model) -> Vec<Row> {
    serde_json::from_str(&p.rows).unwrap_or_default()
}

pub fn changes_of(p: &entity::publicity::Model) -> Vec<Change> {
    p.changes
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default()
}

/// The policy's publicity settings for an organization's year, and whether the policy
/// asks for publicity at all (then the year's last period must be confirmed).
pub async fn settings_for(
    state: &AppState,
    org: &entity::organization::Model,
    year: i32,
) -> AppResult<(PublicitySettings, bool)> {
    let policy =
        crate::ledger::inputs::policy_for(&state.db, &state.scoring, &org.path, year).await?;
    Ok(match &policy.publicity {
        Some(p) => (p.clone(), true),
        None => (PublicitySettings::fallback(), false),
    })
}

/// Publishing and confirming are the branch committee's acts: secretaries and admins
/// in scope; a recorder (组织委员) enters items but approves nothing.
fn may_decide(principal: &Principal) -> AppResult<()> {
    principal.require(Perm::ScoresWrite)?;
    if principal.role == Role::Recorder {
        return Err(AppError::forbidden(
            "组织委员可以记录事项，但不能发布公示或核定",
        ));
    }
    Ok(())
}

fn active_key(org: i64, year: i32, period: Period, n: Option<u32>) -> String {
    format!("{org}:{year}:{}:{}", period_str(period), n.unwrap_or(0))
}

/// The list as it stands now: the period's ranking of the organization's subtree
/// (exempt people have no line), sorted by name unless ranked.
async fn snapshot(
    db: &impl ConnectionTrait,
    org: &entity::organization::Model,
    year: i32,
    period: Period,
    n: Option<u32>,
    ranked: bool,
) -> AppResult<Vec<Row>> {
    let ranking = rankings(db, org, year, period, n, "vanguard").await?;
    let org_ids: Vec<i64> = ranking.items.iter().map(|i| i.org_id).collect();
    let names: HashMap<i64, String> = entity::organization::Entity::find()
        .filter(entity::organization::Column::Id.is_in(org_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let mut rows: Vec<Row> = ranking
        .items
        .into_iter()
        .map(|i| Row {
            person_id: i.subject_id,
            name: i.name,
            org_id: i.org_id,
            org_name: names.get(&i.org_id).cloned().unwrap_or_default(),
            score: fmt_dec(i.score.0),
            stars: i.stars,
            place: ranked.then_some(i.place),
        })
        .collect();
    if !ranked {
        rows.sort_by(|a, b| a.name.cmp(&b.name).then(a.person_id.cmp(&b.person_id)));
    }
    Ok(rows)
}

fn diff(before: &[Row], after: &[Row]) -> Vec<Change> {
    let old: BTreeMap<i64, &Row> = before.iter().map(|r| (r.person_id, r)).collect();
    let new: BTreeMap<i64, &Row> = after.iter().map(|r| (r.person_id, r)).collect();
    let mut out = Vec::new();
    for (id, a) in &new {
        match old.get(id) {
            Some(b) if b.score == a.score && b.stars == a.stars => {}
            Some(b) => out.push(Change {
                person_id: *id,
                name: a.name.clone(),
                before: Some(b.score.clone()),
                after: Some(a.score.clone()),
                stars_before: b.stars,
                stars_after: a.stars,
            }),
            None => out.push(Change {
                person_id: *id,
                name: a.name.clone(),
                before: None,
                after: Some(a.score.clone()),
                stars_before: None,
                stars_after: a.stars,
            }),
        }
    }
    for (id, b) in &old {
        if !new.contains_key(id) {
            out.push(Change {
                person_id: *id,
                name: b.name.clone(),
                before: Some(b.score.clone()),
                after: None,
                stars_before: b.stars,
                stars_after: None,
            });
        }
    }
    out
}

/// What a staff member asks to publish.
#[derive(Debug, Clone)]
pub struct NewPublicity {
    pub org_id: OrgId,
    pub year: i32,
    pub period: Period,
    pub n: Option<u32>,
    /// Default: the policy's `days`.
    pub days: Option<i64>,
    /// Default: the policy's `ranking`.
    pub ranked: Option<bool>,
}

fn check_days(settings: &PublicitySettings, days: i64) -> AppResult<()> {
    if days < settings.min_days {
        let why = if settings.rule.is_empty() {
            String::new()
        } else {
            format!("（{}）", settings.rule)
        };
        return Err(AppError::field(
            "days",
            format!("公示时间不得少于 {} 天{why}", settings.min_days),
        ));
    }
    if days > MAX_DAYS {
        return Err(AppError::field(
            "days",
            format!("公示时间不能超过 {MAX_DAYS} 天"),
        ));
    }
    Ok(())
}

/// Publishes a period's results (version 1). Refused: a period not over yet
/// (`period_not_over`), a period the policy does not publish, fewer days than the
/// policy's minimum, a closed year, a period already published, an organization
/// outside the scope.
pub async fn publish(
    state: &AppState,
    principal: &Principal,
    input: NewPublicity,
) -> AppResult<entity::publicity::Model> {
    may_decide(principal)?;
    let db = &state.db;
    let org = crate::org::service::scoped(db, principal, Perm::ScoresWrite, input.org_id).await?;
    if !(2000..=2100).contains(&input.year) {
        return Err(AppError::field("year", "年份须在 2000 至 2100 之间"));
    }
    let tz = tz_of(&org);
    let n = if input.period == Period::Year {
        None
    } else {
        input.n
    };
    let (_, until) = period_bounds(input.year, input.period, n, tz)?;
    let label = period_label(input.year, input.period, n);
    let (settings, _) = settings_for(state, &org, input.year).await?;
    if !settings
        .periods
        .iter()
        .any(|p| p == period_str(input.period))
    {
        let allowed: Vec<&str> = settings.periods.iter().map(|p| kind_label(p)).collect();
        return Err(AppError::field(
            "period",
            format!(
                "本组织的积分办法不公示{}积分，可公示：{}",
                kind_label(period_str(input.period)),
                allowed.join("、")
            ),
        ));
    }
    let days = input.days.unwrap_or(settings.days);
    check_days(&settings, days)?;
    let now = state.clock.now();
    if now < until {
        return Err(AppError::new(
            ErrorCode::PeriodNotOver,
            format!("{label}尚未结束，期满后才能公示"),
        ));
    }
    if crate::ledger::post::year_closed(db, &org.path, input.year).await? {
        return Err(AppError::new(
            ErrorCode::YearClosed,
            format!("{} 年度已结转，不能再公示", input.year),
        ));
    }
    let ranked = input.ranked.unwrap_or(settings.ranking);
    let rows = snapshot(db, &org, input.year, input.period, n, ranked).await?;
    let key = active_key(org.id, input.year, input.period, n);
    let taken = || {
        AppError::conflict(format!(
            "{label}已公示；如名单有更正，请在该公示页面发布新版本"
        ))
    };
    let txn = crate::db::begin(db).await?;
    if entity::publicity::Entity::find()
        .filter(entity::publicity::Column::ActiveKey.eq(key.clone()))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(taken());
    }
    let p = insert(
        &txn,
        principal,
        &org,
        Inserted {
            year: input.year,
            period: input.period,
            kind: None,
            n,
            version: 1,
            previous: None,
            changes: None,
            ranked,
            rule: settings.rule.clone(),
            rows: &rows,
            now,
            days,
            answer_days: settings.answer_days,
            key,
        },
    )
    .await
    .map_err(|e| {
        if e.code == ErrorCode::Conflict {
            taken()
        } else {
            e
        }
    })?;
    crate::audit::record(
        &txn,
        &principal.actor(),
        Entry::new("publish_publicity", "publicity", p.id)
            .org(OrgId(org.id))
            .after(serde_json::json!({"period": label, "version": 1, "days": days, "ranked": ranked, "rows": rows.len()})),
    )
    .await?;
    txn.commit().await?;
    spawn_notices(state, &p);
    Ok(p)
}

struct Inserted<'a> {
    year: i32,
    period: Period,
    /// Stored instead of the period's name (SD-6's star list: [`STARS`]).
    kind: Option<&'static str>,
    n: Option<u32>,
    version: i32,
    previous: Option<i64>,
    changes: Option<String>,
    ranked: bool,
    rule: String,
    rows: &'a [Row],
    now: DateTime<Utc>,
    days: i64,
    answer_days: i64,
    key: String,
}

async fn insert(
    db: &impl ConnectionTrait,
    principal: &Principal,
    org: &entity::organization::Model,
    i: Inserted<'_>,
) -> AppResult<entity::publicity::Model> {
    let closes = i.now + Duration::days(i.days);
    let rows = serde_json::to_string(i.rows).map_err(AppError::internal)?;
    entity::publicity::ActiveModel {
        id: NotSet,
        org_id: Set(org.id),
        year: Set(i.year),
        period: Set(i.kind.unwrap_or(period_str(i.period)).to_owned()),
        n: Set(i.n.and_then(|n| i32::try_from(n).ok())),
        version: Set(i.version),
        previous_id: Set(i.previous),
        changes: Set(i.changes),
        ranked: Set(i.ranked),
        rule: Set(i.rule),
        rows: Set(rows),
        opens_at: Set(i.now),
        closes_at: Set(closes),
        answer_until: Set(closes + Duration::days(i.answer_days)),
        state: Set(OPEN.to_owned()),
        active_key: Set(Some(i.key)),
        public_token: Set(uuid::Uuid::new_v4().simple().to_string()),
        published_by: Set(Some(principal.account_id.0)),
        confirmed_by: Set(None),
        confirmed_at: Set(None),
        notified_at: Set(None),
        created_at: Set(i.now),
    }
    .insert(db)
    .await
    .map_err(|e| match e.sql_err() {
        // Two publications of one period at once: the unique key keeps one.
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => AppError::conflict("该期已公示"),
        _ => AppError::from(e),
    })
}

pub async fn find(
    db: &impl ConnectionTrait,
    id: PublicityId,
) -> AppResult<entity::publicity::Model> {
    entity::publicity::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("没有找到该公示"))
}

/// The publicity and its organization, if the principal's scope covers it (else 404).
pub async fn scoped(
    db: &impl ConnectionTrait,
    principal: &Principal,
    perm: Perm,
    id: PublicityId,
) -> AppResult<(entity::publicity::Model, entity::organization::Model)> {
    principal.require(perm)?;
    let p = find(db, id).await?;
    let org = crate::org::service::find(db, OrgId(p.org_id)).await?;
    if !principal.covers(&org.path) {
        return Err(AppError::not_found("没有找到该公示"));
    }
    Ok((p, org))
}

/// Publicities of organizations in the principal's scope, newest first.
pub async fn list_for_staff(
    db: &impl ConnectionTrait,
    principal: &Principal,
) -> AppResult<Vec<(entity::publicity::Model, entity::organization::Model)>> {
    principal.require(Perm::ScoresRead)?;
    let rows = entity::publicity::Entity::find()
        .order_by_desc(entity::publicity::Column::Id)
        .limit(200)
        .all(db)
        .await?;
    let orgs: HashMap<i64, entity::organization::Model> = entity::organization::Entity::find()
        .filter(
            entity::organization::Column::Id
                .is_in(rows.iter().map(|p| p.org_id).collect::<Vec<_>>()),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    Ok(rows
        .into_iter()
        .filter_map(|p| {
            let o = orgs.get(&p.org_id)?.clone();
            principal.covers(&o.path).then_some((p, o))
        })
        .collect())
}

/// Publicities a member sees: those of their organization and the ones above it,
/// current versions first (superseded ones stay readable from their successor).
pub async fn list_for_member(
    db: &impl ConnectionTrait,
    person: &entity::person::Model,
) -> AppResult<Vec<entity::publicity::Model>> {
    let org = crate::org::service::find(db, OrgId(person.org_id)).await?;
    let ancestors: Vec<i64> = org.path.split('/').filter_map(|s| s.parse().ok()).collect();
    Ok(entity::publicity::Entity::find()
        .filter(entity::publicity::Column::OrgId.is_in(ancestors))
        .filter(entity::publicity::Column::State.ne(SUPERSEDED))
        .order_by_desc(entity::publicity::Column::Id)
        .limit(50)
        .all(db)
        .await?)
}

/// One publicity for a member: their organization must lie in its subtree (else 404).
pub async fn for_member(
    db: &impl ConnectionTrait,
    person: &entity::person::Model,
    id: PublicityId,
) -> AppResult<(entity::publicity::Model, entity::organization::Model)> {
    let p = find(db, id).await?;
    let org = crate::org::service::find(db, OrgId(p.org_id)).await?;
    let own = crate::org::service::find(db, OrgId(person.org_id)).await?;
    if !own.path.starts_with(&org.path) {
        return Err(AppError::not_found("没有找到该公示"));
    }
    Ok((p, org))
}

/// The publicity behind a public link (objections without an account), only where the
/// policy lets the public object.
pub async fn by_token(
    state: &AppState,
    token: &str,
) -> AppResult<(entity::publicity::Model, entity::organization::Model)> {
    let gone = || AppError::not_found("没有找到该公示");
    if token.is_empty() || token.len() > 64 {
        return Err(gone());
    }
    let p = entity::publicity::Entity::find()
        .filter(entity::publicity::Column::PublicToken.eq(token))
        .one(&state.db)
        .await?
        .ok_or_else(gone)?;
    let org = crate::org::service::find(&state.db, OrgId(p.org_id)).await?;
    let (settings, _) = settings_for(state, &org, p.year).await?;
    if !settings.public_objections {
        return Err(gone());
    }
    Ok((p, org))
}

/// Objections to the publicity still waiting for an answer.
pub async fn open_objections(db: &impl ConnectionTrait, publicity: i64) -> AppResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(entity::case::Entity::find()
        .filter(entity::case::Column::Kind.eq(crate::cases::objection::KIND))
        .filter(entity::case::Column::TargetKind.eq("publicity"))
        .filter(entity::case::Column::TargetId.eq(publicity))
        .filter(entity::case::Column::State.is_in(["open", "proposed", "escalated"]))
        .count(db)
        .await?)
}

/// Is the window open for objections now?
pub fn window_open(p: &entity::publicity::Model, now: DateTime<Utc>) -> bool {
    p.state == OPEN && now >= p.opens_at && now < p.closes_at
}

/// The branch committee confirms (核定) the results once the window has ended and no
/// objection is open; the period is locked against new items from then on.
pub async fn confirm(
    state: &AppState,
    principal: &Principal,
    id: PublicityId,
) -> AppResult<entity::publicity::Model> {
    may_decide(principal)?;
    let (p, org) = scoped(&state.db, principal, Perm::ScoresWrite, id).await?;
    let tz = tz_of(&org);
    match p.state.as_str() {
        CONFIRMED => return Err(AppError::conflict(format!("{}已核定", label_of(&p)))),
        SUPERSEDED => {
            return Err(AppError::conflict(
                "该版本已被更正后的新版本替代，请核定最新版本",
            ));
        }
        _ => {}
    }
    let now = state.clock.now();
    if now < p.closes_at {
        return Err(AppError::new(
            ErrorCode::WindowOpen,
            format!(
                "公示期至 {} 结束，期满后才能核定",
                crate::console::when(p.closes_at, tz)
            ),
        ));
    }
    let txn = crate::db::begin(&state.db).await?;
    let open = open_objections(&txn, p.id).await?;
    if open > 0 {
        return Err(AppError::new(
            ErrorCode::ObjectionOpen,
            format!("尚有 {open} 条异议未答复，答复后才能核定"),
        ));
    }
    let res = entity::publicity::Entity::update_many()
        .col_expr(
            entity::publicity::Column::State,
            sea_orm::sea_query::Expr::value(CONFIRMED),
        )
        .col_expr(
            entity::publicity::Column::ConfirmedBy,
            sea_orm::sea_query::Expr::value(principal.account_id.0),
        )
        .col_expr(
            entity::publicity::Column::ConfirmedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(entity::publicity::Column::Id.eq(p.id))
        .filter(entity::publicity::Column::State.eq(OPEN))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        return Err(AppError::conflict("该公示刚被他人处理，请刷新后查看"));
    }
    crate::audit::record(
        &txn,
        &principal.actor(),
        Entry::new("confirm_publicity", "publicity", p.id)
            .org(OrgId(org.id))
            .before(serde_json::json!({"state": OPEN}))
            .after(serde_json::json!({"state": CONFIRMED, "period": label_of(&p), "version": p.version})),
    )
    .await?;
    txn.commit().await?;
    find(&state.db, id).await
}

/// Publishes the corrected list as a new version that says what changed; the old
/// version stays readable (superseded). Refused while an objection is open, or when
/// nothing changed.
pub async fn republish(
    state: &AppState,
    principal: &Principal,
    id: PublicityId,
    days: Option<i64>,
) -> AppResult<entity::publicity::Model> {
    may_decide(principal)?;
    let db = &state.db;
    let (prev, org) = scoped(db, principal, Perm::ScoresWrite, id).await?;
    if prev.state == SUPERSEDED {
        return Err(AppError::conflict(
            "该版本已被新版本替代，请在最新版本上操作",
        ));
    }
    if crate::ledger::post::year_closed(db, &org.path, prev.year).await? {
        return Err(AppError::new(
            ErrorCode::YearClosed,
            format!("{} 年度已结转，不能再公示", prev.year),
        ));
    }
    let open = open_objections(db, prev.id).await?;
    if open > 0 {
        return Err(AppError::new(
            ErrorCode::ObjectionOpen,
            format!("尚有 {open} 条异议未答复，答复后才能发布新版本"),
        ));
    }
    let (settings, _) = settings_for(state, &org, prev.year).await?;
    let days = days.unwrap_or(settings.days);
    check_days(&settings, days)?;
    let period = period_of(&prev);
    let n = n_of(&prev);
    let rows = snapshot(db, &org, prev.year, period, n, prev.ranked).await?;
    let changes = diff(&rows_of(&prev), &rows);
    if changes.is_empty() {
        return Err(AppError::field("days", "名单与上一版本相同，无需重新公示"));
    }
    let now = state.clock.now();
    let key = active_key(org.id, prev.year, period, n);
    let txn = crate::db::begin(db).await?;
    let res = entity::publicity::Entity::update_many()
        .col_expr(
            entity::publicity::Column::State,
            sea_orm::sea_query::Expr::value(SUPERSEDED),
        )
        .col_expr(
            entity::publicity::Column::ActiveKey,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .filter(entity::publicity::Column::Id.eq(prev.id))
        .filter(entity::publicity::Column::State.eq(prev.state.clone()))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        return Err(AppError::conflict("该公示刚被他人处理，请刷新后查看"));
    }
    let p = insert(
        &txn,
        principal,
        &org,
        Inserted {
            year: prev.year,
            period,
            kind: None,
            n,
            version: prev.version + 1,
            previous: Some(prev.id),
            changes: Some(serde_json::to_string(&changes).map_err(AppError::internal)?),
            ranked: prev.ranked,
            rule: prev.rule.clone(),
            rows: &rows,
            now,
            days,
            answer_days: settings.answer_days,
            key,
        },
    )
    .await?;
    crate::audit::record(
        &txn,
        &principal.actor(),
        Entry::new("republish_publicity", "publicity", p.id)
            .org(OrgId(org.id))
            .before(serde_json::json!({"publicity": prev.id, "version": prev.version, "state": prev.state}))
            .after(serde_json::json!({"version": p.version, "changes": changes.len(), "days": days})),
    )
    .await?;
    txn.commit().await?;
    spawn_notices(state, &p);
    Ok(p)
}

/// A correction recorded after the list was published, for a date in its period.
#[derive(Debug, Clone, Serialize)]
pub struct Correction {
    pub fact_id: i64,
    pub person_id: i64,
    pub name: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// What it did, in words.
    pub what: String,
    pub reason: Option<String>,
    /// What it changed in the ledger (exact decimal text, signed).
    pub points: String,
}

/// Staff corrections (annulments, entries, items) recorded since the first version was
/// published, for people on the list and dates inside the period: shown, dated, under
/// the snapshot.
pub async fn corrections(
    db: &impl ConnectionTrait,
    scoring: &crate::ledger::Scoring,
    p: &entity::publicity::Model,
    org: &entity::organization::Model,
) -> AppResult<Vec<Correction>> {
    let rows = rows_of(p);
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let names: HashMap<i64, String> = rows.iter().map(|r| (r.person_id, r.name.clone())).collect();
    let policy = crate::ledger::inputs::policy_for(db, scoring, &org.path, p.year).await?;
    // Since the first version: a correction stays listed under later versions too.
    let mut first = p.clone();
    while let Some(prev) = first.previous_id {
        first = find(db, PublicityId(prev)).await?;
    }
    let (from, until) = period_bounds(p.year, period_of(p), n_of(p), tz_of(org))?;
    let ids: Vec<i64> = names.keys().copied().collect();
    let mut facts = Vec::new();
    for chunk in ids.chunks(500) {
        facts.extend(
            entity::fact::Entity::find()
                .filter(entity::fact::Column::PersonId.is_in(chunk.to_vec()))
                .filter(entity::fact::Column::Year.eq(p.year))
                .filter(entity::fact::Column::ActorKind.eq("account"))
                .filter(entity::fact::Column::ReceivedAt.gte(first.created_at))
                .order_by_asc(entity::fact::Column::Id)
                .all(db)
                .await?,
        );
    }
    let targets: HashMap<i64, entity::fact::Model> = entity::fact::Entity::find()
        .filter(
            entity::fact::Column::Id
                .is_in(facts.iter().filter_map(|f| f.target_id).collect::<Vec<_>>()),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|f| (f.id, f))
        .collect();
    let fact_ids: Vec<i64> = facts.iter().map(|f| f.id).collect();
    let mut points: HashMap<i64, Decimal> = HashMap::new();
    for e in entity::ledger_entry::Entity::find()
        .filter(entity::ledger_entry::Column::CauseFactId.is_in(fact_ids))
        .all(db)
        .await?
    {
        if let Some(c) = e.cause_fact_id {
            *points.entry(c).or_default() += parse_dec(&e.points).unwrap_or_default();
        }
    }
    Ok(facts
        .into_iter()
        .filter_map(|f| {
            let person = f.person_id?;
            let target = f.target_id.and_then(|t| targets.get(&t));
            let dated = target.map_or(f.at, |t| t.at);
            if dated < from || dated >= until {
                return None;
            }
            let what = match (f.kind.as_str(), target) {
                ("annul", Some(t)) => format!("作废：{}", fact_words(&policy, t)),
                ("annul", None) => "作废一条记录".to_owned(),
                _ => format!("补录：{}", fact_words(&policy, &f)),
            };
            let pts = points.get(&f.id).copied().unwrap_or_default();
            Some(Correction {
                fact_id: f.id,
                person_id: person,
                name: names.get(&person).cloned().unwrap_or_default(),
                at: f.received_at,
                what,
                reason: f.reason.clone(),
                points: if pts > Decimal::ZERO {
                    format!("+{}", fmt_dec(pts))
                } else {
                    fmt_dec(pts)
                },
            })
        })
        .collect())
}

fn fact_words(policy: &crate::policy::Policy, f: &entity::fact::Model) -> String {
    match f.kind.as_str() {
        "checkin" => "签到".to_owned(),
        "makeup_study" => "网上补学".to_owned(),
        "item" => item_label(policy, f.item.as_deref().unwrap_or_default()),
        _ => "记录".to_owned(),
    }
}

/// An item in words: the label of the rule that scores it (item codes are not for people).
fn item_label(policy: &crate::policy::Policy, code: &str) -> String {
    policy
        .rules
        .iter()
        .find_map(|r| {
            r.sources.iter().find_map(|s| match &s.on {
                crate::policy::Trigger::Item(codes) if codes.iter().any(|c| c == code) => {
                    Some(s.label.clone().unwrap_or_else(|| r.label.clone()))
                }
                _ => None,
            })
        })
        .unwrap_or_else(|| "事项".to_owned())
}

/// The confirmed publicity whose period holds `at` for an organization (its own or an
/// ancestor's), if any.
pub async fn locking(
    db: &impl ConnectionTrait,
    org: &entity::organization::Model,
    at: DateTime<Utc>,
) -> AppResult<Option<entity::publicity::Model>> {
    let tz = tz_of(org);
    let year = year_of(at, tz);
    let ancestors: Vec<i64> = org.path.split('/').filter_map(|s| s.parse().ok()).collect();
    let rows = entity::publicity::Entity::find()
        .filter(entity::publicity::Column::OrgId.is_in(ancestors))
        .filter(entity::publicity::Column::Year.eq(year))
        .filter(entity::publicity::Column::ConfirmedAt.is_not_null())
        .all(db)
        .await?;
    for p in rows {
        let (from, until) = period_bounds(p.year, period_of(&p), n_of(&p), tz)?;
        if at >= from && at < until {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// New items for a date in a confirmed period are refused (`period_locked`);
/// corrections of recorded facts stay possible.
pub async fn refuse_if_locked(
    db: &impl ConnectionTrait,
    org: &entity::organization::Model,
    at: DateTime<Utc>,
) -> AppResult<()> {
    if let Some(p) = locking(db, org, at).await? {
        let when = p
            .confirmed_at
            .map(|t| crate::console::when(t, tz_of(org)))
            .unwrap_or_default();
        return Err(AppError::new(
            ErrorCode::PeriodLocked,
            format!(
                "{}的积分已于 {when} 核定，不能再新增事项；如记录有误，请由管理员更正原记录",
                label_of(&p)
            ),
        ));
    }
    Ok(())
}

/// Year close needs, for every branch under `org` whose policy has publicity, a
/// confirmed publicity of the year's last period (by the branch or an organization
/// above it).
pub async fn require_confirmed_for_close(
    db: &impl ConnectionTrait,
    scoring: &crate::ledger::Scoring,
    org: &entity::organization::Model,
    year: i32,
) -> AppResult<()> {
    let branches = entity::organization::Entity::find()
        .filter(entity::organization::Column::Path.starts_with(org.path.as_str()))
        .filter(entity::organization::Column::Kind.eq("branch"))
        .all(db)
        .await?;
    let mut missing = Vec::new();
    for b in branches {
        let policy = crate::ledger::inputs::policy_for(db, scoring, &b.path, year).await?;
        let Some(settings) = &policy.publicity else {
            continue;
        };
        let ancestors: Vec<i64> = b.path.split('/').filter_map(|s| s.parse().ok()).collect();
        let confirmed = entity::publicity::Entity::find()
            .filter(entity::publicity::Column::OrgId.is_in(ancestors))
            .filter(entity::publicity::Column::Year.eq(year))
            .filter(entity::publicity::Column::ConfirmedAt.is_not_null())
            .all(db)
            .await?;
        let last = confirmed.iter().any(|p| {
            settings.periods.contains(&p.period)
                && match p.period.as_str() {
                    "year" => true,
                    "half_year" => p.n == Some(2),
                    "quarter" => p.n == Some(4),
                    "month" => p.n == Some(12),
                    _ => false,
                }
        });
        if !last {
            missing.push(b.name);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(AppError::new(
        ErrorCode::PublicityUnconfirmed,
        format!(
            "{year} 年度最后一期积分公示尚未核定，不能结转：{}",
            missing.join("、")
        ),
    ))
}

/// Publishes a list made elsewhere (SD-6's confirmed stars of a closed year) in the
/// caller's transaction: the policy's days, one current list per organization and year
/// (`<org>:<year>:stars:0`), audited. The caller commits, then calls [`notify`].
#[allow(clippy::too_many_arguments)]
pub async fn publish_list(
    db: &impl ConnectionTrait,
    state: &AppState,
    principal: &Principal,
    org: &entity::organization::Model,
    year: i32,
    rows: &[Row],
    days: Option<i64>,
    rule: &str,
) -> AppResult<entity::publicity::Model> {
    may_decide(principal)?;
    let (settings, _) = settings_for(state, org, year).await?;
    let days = days.unwrap_or(settings.days);
    check_days(&settings, days)?;
    let key = format!("{}:{year}:{STARS}:0", org.id);
    let taken = || AppError::conflict(format!("{year}年度星级评定已公示"));
    if entity::publicity::Entity::find()
        .filter(entity::publicity::Column::ActiveKey.eq(key.clone()))
        .one(db)
        .await?
        .is_some()
    {
        return Err(taken());
    }
    let p = insert(
        db,
        principal,
        org,
        Inserted {
            year,
            period: Period::Year,
            kind: Some(STARS),
            n: None,
            version: 1,
            previous: None,
            changes: None,
            ranked: false,
            rule: rule.to_owned(),
            rows,
            now: state.clock.now(),
            days,
            answer_days: settings.answer_days,
            key,
        },
    )
    .await
    .map_err(|e| {
        if e.code == ErrorCode::Conflict {
            taken()
        } else {
            e
        }
    })?;
    crate::audit::record(
        db,
        &principal.actor(),
        Entry::new("publish_publicity", "publicity", p.id)
            .org(OrgId(org.id))
            .after(serde_json::json!({"period": label_of(&p), "version": 1, "days": days, "rows": rows.len()})),
    )
    .await?;
    Ok(p)
}

/// After the caller's commit: the members' notices of a list [`publish_list`] put up.
pub fn notify(state: &AppState, p: &entity::publicity::Model) {
    spawn_notices(state, p);
}

/// Tells the members of the organization's subtree that the list is up, once across
/// instances: the instance whose conditional update sets `notified_at` sends, with one
/// `client_msg_id` per member and version (WeChat drops a repeat). Runs in the
/// background; a failure is logged.
fn spawn_notices(state: &AppState, p: &entity::publicity::Model) {
    let state = state.clone();
    let p = p.clone();
    tokio::spawn(async move {
        if let Err(e) = send_notices(&state, &p).await {
            tracing::warn!(publicity = p.id, error = %e.detail, "publicity notices not sent");
        }
    });
}

pub async fn send_notices(state: &AppState, p: &entity::publicity::Model) -> AppResult<usize> {
    let now = state.clock.now();
    let claimed = entity::publicity::Entity::update_many()
        .col_expr(
            entity::publicity::Column::NotifiedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(entity::publicity::Column::Id.eq(p.id))
        .filter(entity::publicity::Column::NotifiedAt.is_null())
        .exec(&state.db)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(0);
    }
    let org = crate::org::service::find(&state.db, OrgId(p.org_id)).await?;
    let subtree = crate::org::service::subtree_ids(&state.db, &org).await?;
    let mut people = Vec::new();
    for chunk in subtree.chunks(500) {
        people.extend(
            entity::person::Entity::find()
                .filter(entity::person::Column::OrgId.is_in(chunk.to_vec()))
                .filter(entity::person::Column::Openid.is_not_null())
                .all(&state.db)
                .await?,
        );
    }
    let tz = tz_of(&org);
    let data = serde_json::json!({
        "thing1": {"value": format!("{}积分公示", label_of(p)).chars().take(20).collect::<String>()},
        "thing2": {"value": org.name.chars().take(20).collect::<String>()},
        "time3": {"value": crate::console::when(p.closes_at, tz)},
    });
    let path = format!("/m/publicity/{}", p.id);
    let mut sent = 0;
    for person in people {
        let msg_id = format!("pub-{}-{}", p.id, person.id);
        if crate::notify::template(
            state,
            person.openid.as_deref(),
            "publicity",
            &data,
            &path,
            &msg_id,
        )
        .await
        {
            sent += 1;
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn row(id: i64, name: &str, score: &str) -> Row {
        Row {
            person_id: id,
            name: name.to_owned(),
            org_id: 1,
            org_name: "一支部".to_owned(),
            score: score.to_owned(),
            stars: None,
            place: None,
        }
    }

    #[test]
    fn a_new_version_says_what_changed() {
        let before = [
            row(1, "张三", "10"),
            row(2, "李四", "8"),
            row(3, "王五", "1"),
        ];
        let after = [
            row(1, "张三", "10"),
            row(2, "李四", "5"),
            row(4, "赵六", "2"),
        ];
        let d = diff(&before, &after);
        assert_eq!(d.len(), 3);
        assert!(d.iter().any(|c| c.person_id == 2
            && c.before.as_deref() == Some("8")
            && c.after.as_deref() == Some("5")));
        assert!(d.iter().any(|c| c.person_id == 4 && c.before.is_none()));
        assert!(d.iter().any(|c| c.person_id == 3 && c.after.is_none()));
        assert!(diff(&before, &before).is_empty());
    }

    #[test]
    fn periods_read_as_people_write_them() {
        assert_eq!(
            period_label(2026, Period::HalfYear, Some(1)),
            "2026年上半年"
        );
        assert_eq!(
            period_label(2026, Period::Quarter, Some(3)),
            "2026年第3季度"
        );
        assert_eq!(period_label(2026, Period::Year, None), "2026年度");
        for p in [
            Period::Year,
            Period::HalfYear,
            Period::Quarter,
            Period::Month,
        ] {
            assert_eq!(parse_period(period_str(p)), Some(p));
        }
    }
}
