//! What the platform knows is proposed, not typed: at a session's close the members
//! expected and absent are proposed under EQ-3 (with approved leave the lighter item,
//! −0.5; without, −1), and at month end members with `months` consecutive months
//! without attending are proposed under TW-5. Only policies whose `[workflow]` names
//! these items get proposals (under `xihu-2017` absences do not count). The secretary
//! confirms (the item is recorded through `ledger::facts`, with the reason) or
//! dismisses with a reason; nothing is deducted silently. Anyone who attended in any
//! way (a scan, a secretary's manual entry or 补签 for a member without a phone) is
//! never proposed. Each finding has a unique key, so any number of runs and
//! instances propose it once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::auth::{Perm, Principal};
use crate::checkin::attendance::{self, PageQuery, Status};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::{OrgId, PersonId};
use crate::ledger::SubjectRef;
use crate::ledger::facts::{NewFact, NewFactKind};
use crate::ledger::inputs::{self, tz_of, year_of};
use crate::policy::{Fields, Policy};
use crate::state::AppState;
use entity::proposal::{Column as P, Entity as Proposals, Model as Proposal};

pub const OPEN: &str = "open";
pub const CONFIRMED: &str = "confirmed";
pub const DISMISSED: &str = "dismissed";

pub fn state_label(s: &str) -> &'static str {
    match s {
        OPEN => "待确认",
        CONFIRMED => "已确认",
        DISMISSED => "已驳回",
        _ => "未知",
    }
}

/// Whether a sheet status is attendance (any way of being there, 补签 included).
pub fn attended(s: Status) -> bool {
    matches!(
        s,
        Status::OnTime | Status::Late | Status::Present | Status::Backfilled
    )
}

struct Finding {
    kind: &'static str,
    rule: String,
    person: i64,
    org: i64,
    activity: Option<i64>,
    period: String,
    item: String,
    at: DateTime<Utc>,
    note: String,
    key: String,
}

async fn insert(db: &impl ConnectionTrait, f: Finding, now: DateTime<Utc>) -> AppResult<bool> {
    let row = entity::proposal::ActiveModel {
        kind: sea_orm::Set(f.kind.to_owned()),
        rule: sea_orm::Set(f.rule),
        person_id: sea_orm::Set(f.person),
        org_id: sea_orm::Set(f.org),
        activity_id: sea_orm::Set(f.activity),
        period: sea_orm::Set(f.period),
        item: sea_orm::Set(f.item),
        at: sea_orm::Set(f.at),
        note: sea_orm::Set(f.note),
        state: sea_orm::Set(OPEN.to_owned()),
        dedup_key: sea_orm::Set(f.key),
        created_at: sea_orm::Set(now),
        ..Default::default()
    };
    let r = Proposals::insert(row)
        .on_conflict(OnConflict::column(P::DedupKey).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(r > 0)
}

/// Policies by organization, loaded once per run.
struct Policies<'a> {
    state: &'a AppState,
    by_org: HashMap<(i64, i32), (Arc<Policy>, entity::organization::Model)>,
}

impl<'a> Policies<'a> {
    fn new(state: &'a AppState) -> Self {
        Self {
            state,
            by_org: HashMap::new(),
        }
    }

    async fn get(
        &mut self,
        org: i64,
        year: i32,
    ) -> AppResult<(Arc<Policy>, entity::organization::Model)> {
        if let Some(p) = self.by_org.get(&(org, year)) {
            return Ok(p.clone());
        }
        let o = crate::org::service::find(&self.state.db, OrgId(org)).await?;
        let p = inputs::policy_for(&self.state.db, &self.state.scoring, &o.path, year).await?;
        self.by_org.insert((org, year), (p.clone(), o.clone()));
        Ok((p, o))
    }
}

/// EQ-3 at a session's close: every expected member who did not attend, under a
/// policy where absences count. Returns how many proposals were new.
pub async fn at_close(state: &AppState, activity: &entity::activity::Model) -> AppResult<usize> {
    let leave = crate::cycle::leave::approved_for(&state.db, activity.id).await?;
    let mut policies = Policies::new(state);
    let now = state.clock.now();
    let mut after = None;
    let mut new = 0;
    loop {
        let page = attendance::page(
            state,
            activity,
            PageQuery {
                after,
                limit: Some(1000),
                status: None,
            },
        )
        .await?;
        for item in &page.items {
            if attended(item.status) {
                continue;
            }
            let host = crate::org::service::find(&state.db, OrgId(item.org_id)).await?;
            let year = year_of(activity.starts_at, tz_of(&host));
            let (policy, org) = policies.get(item.org_id, year).await?;
            let Some(rule) = policy.workflow.absence.clone() else {
                continue;
            };
            if crate::ledger::post::year_closed(&state.db, &org.path, year).await? {
                continue;
            }
            let tz = tz_of(&org);
            let with_leave = leave.contains(&item.person_id);
            let when = activity
                .starts_at
                .with_timezone(&tz)
                .format("%-m月%-d日 %H:%M");
            let f = Finding {
                kind: "absence",
                rule: rule.rule.clone(),
                person: item.person_id,
                org: item.org_id,
                activity: Some(activity.id),
                period: activity
                    .starts_at
                    .with_timezone(&tz)
                    .date_naive()
                    .to_string(),
                item: if with_leave {
                    rule.with_leave.clone()
                } else {
                    rule.without_leave.clone()
                },
                at: activity.starts_at,
                note: format!(
                    "未参加“{}”（{when}），{}",
                    activity.title,
                    if with_leave { "已请假" } else { "未请假" }
                ),
                key: format!("absence:{}:{}", activity.id, item.person_id),
            };
            if insert(&state.db, f, now).await? {
                new += 1;
            }
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    if new > 0 {
        tracing::info!(activity = activity.id, new, "absences proposed");
    }
    Ok(new)
}

/// The first day of the month `delta` months from `month`'s.
fn add_months(month: NaiveDate, delta: i32) -> NaiveDate {
    let total = month.year() * 12 + i32::try_from(month.month0()).unwrap_or(0) + delta;
    u32::try_from(total.rem_euclid(12))
        .ok()
        .and_then(|m| NaiveDate::from_ymd_opt(total.div_euclid(12), m + 1, 1))
        .unwrap_or(month)
}

fn months_back(month: NaiveDate, back: u32) -> NaiveDate {
    add_months(month, -i32::try_from(back).unwrap_or(0))
}

/// The last complete month before `now` in `tz`: its first day.
pub fn last_month(now: DateTime<Utc>, tz: chrono_tz::Tz) -> NaiveDate {
    let today = now.with_timezone(&tz).date_naive();
    months_back(today.with_day(1).unwrap_or(today), 1)
}

/// Live-store key held by the instance running the month-end job for a month.
fn month_lock(month: NaiveDate) -> String {
    format!("cycle:month-end:{}", month.format("%Y-%m"))
}

/// The month-end job, once across instances: the first instance to claim the month in
/// the live store runs it (with the store down every instance runs it; the proposals'
/// unique keys keep that harmless). Returns how many proposals were new.
pub async fn run_month_end(state: &AppState) -> AppResult<usize> {
    let month = last_month(state.clock.now(), chrono_tz::Asia::Shanghai);
    match state
        .live
        .set_nx(
            &month_lock(month),
            b"1",
            std::time::Duration::from_secs(40 * 24 * 3600),
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => return Ok(0),
        Err(e) => tracing::warn!(error = %e, "month-end lock unavailable; running anyway"),
    }
    let lapsed = lapsed_sessions(state, month).await?;
    Ok(lapsed + month_end(state, month).await?)
}

/// EQ-3 for the month's sessions that ended by their window without a secretary
/// closing them (a closed one was proposed at its close; running again adds nothing).
async fn lapsed_sessions(state: &AppState, month: NaiveDate) -> AppResult<usize> {
    let tz = chrono_tz::Asia::Shanghai;
    let from = inputs::start_of_day(month, tz).with_timezone(&Utc);
    let until = inputs::start_of_day(add_months(month, 1), tz).with_timezone(&Utc);
    let activities: Vec<i64> = entity::checkin_session::Entity::find()
        .select_only()
        .column(entity::checkin_session::Column::ActivityId)
        .distinct()
        .filter(entity::checkin_session::Column::ClosedAt.is_null())
        .filter(entity::checkin_session::Column::ClosesAt.gte(from))
        .filter(entity::checkin_session::Column::ClosesAt.lt(until))
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut new = 0;
    for id in activities {
        let a = attendance::activity(&state.db, id).await?;
        new += at_close(state, &a).await?;
    }
    Ok(new)
}

/// TW-5 for the months ending with `month` (its first day).
pub async fn month_end(state: &AppState, month: NaiveDate) -> AppResult<usize> {
    let now = state.clock.now();
    let mut policies = Policies::new(state);
    let orgs: Vec<entity::organization::Model> =
        entity::organization::Entity::find().all(&state.db).await?;
    let mut new = 0;
    for org in orgs {
        let tz = tz_of(&org);
        let year = month.year();
        let (policy, _) = policies.get(org.id, year).await?;
        let Some(rule) = policy.workflow.inactive.clone() else {
            continue;
        };
        if crate::ledger::post::year_closed(&state.db, &org.path, year).await? {
            continue;
        }
        let first = months_back(month, rule.months - 1);
        let start = inputs::start_of_day(first, tz).with_timezone(&Utc);
        let end = inputs::start_of_day(add_months(month, 1), tz).with_timezone(&Utc);
        let people: Vec<entity::person::Model> = entity::person::Entity::find()
            .filter(entity::person::Column::OrgId.eq(org.id))
            .filter(entity::person::Column::Status.eq("active"))
            .all(&state.db)
            .await?;
        if people.is_empty() {
            continue;
        }
        let activities = crate::checkin::makeup::expected_activities(
            &state.db, &org.path, None, start, end, 1000,
        )
        .await?;
        let month_of = |t: DateTime<Utc>| {
            let d = t.with_timezone(&tz).date_naive();
            (d.year(), d.month())
        };
        let mut held: HashMap<(i32, u32), Vec<i64>> = HashMap::new();
        for a in &activities {
            held.entry(month_of(a.starts_at)).or_default().push(a.id);
        }
        let ids: Vec<i64> = activities.iter().map(|a| a.id).collect();
        for p in people {
            if crate::org::people::exempt_in(
                &crate::org::people::exemptions_of(&state.db, p.id).await?,
                year,
            ) {
                continue;
            }
            let present = present_at(&state.db, p.id, &ids).await?;
            let excused = excused_at(&state.db, p.id, &ids).await?;
            let inactive = (0..rule.months).all(|back| {
                let m = months_back(month, back);
                let Some(acts) = held.get(&(m.year(), m.month())) else {
                    return false;
                };
                !acts.iter().any(|a| present.contains(a))
                    && acts.iter().any(|a| !excused.contains(a))
            });
            if !inactive {
                continue;
            }
            let f = Finding {
                kind: "inactive",
                rule: rule.rule.clone(),
                person: p.id,
                org: org.id,
                activity: None,
                period: month.format("%Y-%m").to_string(),
                item: rule.item.clone(),
                at: end - Duration::seconds(1),
                note: format!(
                    "{} 至 {} 连续 {} 个月未参加组织生活（应参加的活动均未到、且未经批准请假）",
                    first.format("%Y年%-m月"),
                    month.format("%Y年%-m月"),
                    rule.months
                ),
                key: format!("inactive:{}:{year}", p.id),
            };
            if insert(&state.db, f, now).await? {
                new += 1;
            }
        }
    }
    if new > 0 {
        tracing::info!(month = %month, new, "six months without attending proposed");
    }
    Ok(new)
}

/// Activities (of `ids`) the person attended in any way, annulled check-ins aside.
async fn present_at(
    db: &impl ConnectionTrait,
    person: i64,
    ids: &[i64],
) -> AppResult<HashSet<i64>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let facts: Vec<(i64, String, Option<i64>, Option<i64>)> = entity::fact::Entity::find()
        .select_only()
        .columns([
            entity::fact::Column::Id,
            entity::fact::Column::Kind,
            entity::fact::Column::ActivityId,
            entity::fact::Column::TargetId,
        ])
        .filter(entity::fact::Column::PersonId.eq(person))
        .filter(entity::fact::Column::ActivityId.is_in(ids.to_vec()))
        .into_tuple()
        .all(db)
        .await?;
    let annulled: HashSet<i64> = facts
        .iter()
        .filter(|f| f.1 == "annul")
        .filter_map(|f| f.3)
        .collect();
    Ok(facts
        .iter()
        .filter(|f| f.1 == "checkin" && !annulled.contains(&f.0))
        .filter_map(|f| f.2)
        .collect())
}

async fn excused_at(
    db: &impl ConnectionTrait,
    person: i64,
    ids: &[i64],
) -> AppResult<HashSet<i64>> {
    use entity::leave_request::Column as L;
    Ok(entity::leave_request::Entity::find()
        .select_only()
        .column(L::ActivityId)
        .filter(L::PersonId.eq(person))
        .filter(L::State.eq(crate::cycle::leave::LeaveState::Approved.as_str()))
        .filter(L::ActivityId.is_in(ids.to_vec()))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

pub async fn find(db: &impl ConnectionTrait, id: i64) -> AppResult<Proposal> {
    Proposals::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("没有找到该提议"))
}

async fn scoped(
    state: &AppState,
    principal: &Principal,
    perm: Perm,
    id: i64,
) -> AppResult<Proposal> {
    principal.require(perm)?;
    let row = find(&state.db, id).await?;
    crate::org::service::scoped(&state.db, principal, perm, OrgId(row.org_id))
        .await
        .map_err(|_| AppError::not_found("没有找到该提议"))?;
    Ok(row)
}

/// The secretary confirms (the item is recorded and scored) or dismisses with a reason.
pub async fn decide(
    state: &AppState,
    principal: &Principal,
    id: i64,
    confirm: bool,
    reason: &str,
) -> AppResult<Proposal> {
    principal.require(Perm::Review)?;
    let row = scoped(state, principal, Perm::Review, id).await?;
    if row.state != OPEN {
        return Err(AppError::new(
            ErrorCode::ReviewState,
            format!("该提议{}，不能再处理", state_label(&row.state)),
        ));
    }
    let reason = if confirm {
        reason.trim().chars().take(500).collect::<String>()
    } else {
        super::text_field("reason", reason, "驳回的理由", 500)?
    };
    if confirm
        && let Some(a) = row.activity_id
        && !present_at(&state.db, row.person_id, &[a]).await?.is_empty()
    {
        return Err(AppError::new(
            ErrorCode::ReviewState,
            "该党员已有这次活动的签到记录（如补签），不再是缺席：请驳回此提议",
        ));
    }
    let now = state.clock.now();
    let txn = crate::db::begin(&state.db).await?;
    let done = Proposals::update_many()
        .col_expr(
            P::State,
            Expr::value(if confirm { CONFIRMED } else { DISMISSED }),
        )
        .col_expr(P::DecidedAt, Expr::value(now))
        .col_expr(P::DecidedById, Expr::value(principal.account_id.0))
        .col_expr(P::DecidedByName, Expr::value(principal.username.clone()))
        .col_expr(
            P::Reason,
            Expr::value((!reason.is_empty()).then(|| reason.clone())),
        )
        .filter(P::Id.eq(id))
        .filter(P::State.eq(OPEN))
        .exec(&txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(AppError::new(ErrorCode::ReviewState, "该提议已被处理"));
    }
    let mut fact = None;
    if confirm {
        let person = crate::org::people::find(&txn, PersonId(row.person_id)).await?;
        let org = crate::org::service::find(&txn, OrgId(person.org_id)).await?;
        // A confirmed deduction is a new item: not into a confirmed (核定) period.
        crate::review::publicity::refuse_if_locked(&txn, &org, row.at).await?;
        let recorded = crate::ledger::facts::record(
            &txn,
            &state.scoring,
            &principal.actor(),
            NewFact {
                kind: NewFactKind::Item {
                    subject: SubjectRef::Person(row.person_id),
                    item: row.item.clone(),
                    fields: Fields::new(),
                },
                at: row.at,
                received_at: now,
                session_id: None,
                reason: Some(if reason.is_empty() {
                    format!("提议 #{}：{}", row.id, row.note)
                } else {
                    format!("提议 #{}：{}；{reason}", row.id, row.note)
                }),
                evidence: Some(format!("提议 #{}", row.id)),
                dedup_key: Some(format!("proposal:{}", row.id)),
                source_event: None,
            },
            year_of(row.at, tz_of(&org)),
        )
        .await?
        .ok_or_else(|| AppError::conflict("该提议已记录"))?;
        fact = Some(recorded.fact.id);
        Proposals::update_many()
            .col_expr(P::FactId, Expr::value(recorded.fact.id))
            .filter(P::Id.eq(id))
            .exec(&txn)
            .await?;
    }
    crate::audit::record(
        &txn,
        &principal.actor(),
        crate::audit::Entry::new(
            if confirm { "confirm_proposal" } else { "dismiss_proposal" },
            "proposal",
            id,
        )
        .org(OrgId(row.org_id))
        .after(serde_json::json!({"rule": row.rule, "item": row.item, "person": row.person_id, "reason": reason, "fact": fact})),
    )
    .await?;
    txn.commit().await?;
    find(&state.db, id).await
}

pub async fn list_in_scope(
    state: &AppState,
    principal: &Principal,
    open_only: bool,
) -> AppResult<Vec<Proposal>> {
    principal.require(Perm::ScoresRead)?;
    let orgs = super::leave::scope_org_ids(&state.db, principal).await?;
    let mut q = Proposals::find();
    if let Some(ids) = orgs {
        q = q.filter(P::OrgId.is_in(ids));
    }
    if open_only {
        q = q.filter(P::State.eq(OPEN));
    }
    Ok(q.order_by_desc(P::Id).limit(200).all(&state.db).await?)
}

/// How often [`run_month_end`] runs (`jobs::start`); the month's lock makes it work
/// once a month.
pub const MONTH_END_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn months_back_crosses_the_year() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        assert_eq!(
            months_back(d, 5),
            NaiveDate::from_ymd_opt(2025, 10, 1).unwrap()
        );
        assert_eq!(months_back(d, 0), d);
        let now = DateTime::parse_from_rfc3339("2026-07-01T00:30:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            last_month(now, chrono_tz::Asia::Shanghai),
            NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
        );
    }
}
