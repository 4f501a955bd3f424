//! The reminder job (#11 item 12), every minute on every instance; notice claims make
//! each reminder once however many instances run it.
//!
//! - The day before a fixed activity day (from 09:00 in the host's time zone), each
//!   member expected there with WeChat bound and reminders on gets one message.
//! - After a month in which a branch with a fixed-day rule registered no fixed activity
//!   day, its superior organization's staff get one alert in the console inbox.

use std::collections::HashSet;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::Notice;
use crate::error::AppResult;
use crate::ledger::inputs::tz_of;
use crate::state::AppState;

pub const EVERY: StdDuration = StdDuration::from_secs(60);
/// Reminders for tomorrow go out from this local hour (nobody is woken at midnight).
const EVE_FROM_HOUR: u32 = 9;

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub reminded: usize,
    pub alerts: usize,
}

/// One round at the application clock's now.
#[tracing::instrument(skip_all)]
pub async fn run_once(state: &AppState) -> AppResult<Round> {
    let now = state.clock.now();
    Ok(Round {
        reminded: fixed_day_eve(state, now).await?,
        alerts: missed_fixed_days(state, now).await?,
    })
}

async fn fixed_day_eve(state: &AppState, now: DateTime<Utc>) -> AppResult<usize> {
    use entity::activity::{Column, Entity};
    let db = &state.db;
    let soon = Entity::find()
        .filter(Column::Kind.eq("fixed_day"))
        .filter(Column::StartsAt.gt(now))
        .filter(Column::StartsAt.lte(now + Duration::hours(48)))
        .all(db)
        .await?;
    let mut sent = 0;
    for a in soon {
        let host = crate::org::service::find(db, crate::ids::OrgId(a.org_id)).await?;
        let tz = tz_of(&host);
        let local_now = now.with_timezone(&tz);
        let start = a.starts_at.with_timezone(&tz);
        if start.date_naive() != local_now.date_naive() + Duration::days(1)
            || local_now.hour() < EVE_FROM_HOUR
        {
            continue;
        }
        let prefix = format!("fixed-day-eve:{}:", a.id);
        let done = claimed_with_prefix(db, &prefix).await?;
        let orgs = crate::checkin::attendance::expected_orgs(db, &a).await?;
        for chunk in orgs.chunks(500) {
            let people: Vec<(i64, Option<String>)> = entity::person::Entity::find()
                .select_only()
                .columns([entity::person::Column::Id, entity::person::Column::Openid])
                .filter(entity::person::Column::OrgId.is_in(chunk.to_vec()))
                .filter(entity::person::Column::Status.eq("active"))
                .filter(entity::person::Column::Openid.is_not_null())
                .into_tuple()
                .all(db)
                .await?;
            let ids: Vec<i64> = people.iter().map(|p| p.0).collect();
            let off = super::reminders_off(db, &ids).await?;
            for (person, openid) in people {
                let key = format!("{prefix}{person}");
                let Some(openid) = openid else { continue };
                if done.contains(&key) || off.contains(&person) {
                    continue;
                }
                let n = Notice {
                    key,
                    kind: "fixed_day_eve",
                    person_id: Some(person),
                    org_id: Some(a.org_id),
                    title: "明天是主题党日".to_owned(),
                    body: format!("{} {}", a.title, start.format("%m月%d日 %H:%M")),
                    url: Some("/m/".to_owned()),
                };
                if super::to_member(state, &n, &openid).await? {
                    sent += 1;
                }
            }
        }
    }
    Ok(sent)
}

async fn missed_fixed_days(state: &AppState, now: DateTime<Utc>) -> AppResult<usize> {
    let db = &state.db;
    let mut rules = entity::fixed_day_rule::Entity::find().all(db).await?;
    rules.sort_by_key(|r| r.id);
    // Since when each organization has had a rule, and the day its newest rule names.
    let mut since: std::collections::BTreeMap<i64, (DateTime<Utc>, i32)> = Default::default();
    for r in &rules {
        let e = since.entry(r.org_id).or_insert((r.set_at, r.day_of_month));
        e.0 = e.0.min(r.set_at);
        e.1 = r.day_of_month;
    }
    let mut alerts = 0;
    for (org_id, (first_rule, day)) in since {
        let org = crate::org::service::find(db, crate::ids::OrgId(org_id)).await?;
        let tz = tz_of(&org);
        let local = now.with_timezone(&tz);
        let (y, m) = match local.month() {
            1 => (local.year() - 1, 12),
            m => (local.year(), m - 1),
        };
        let (Some(first), Some(next)) = (
            NaiveDate::from_ymd_opt(y, m, 1),
            NaiveDate::from_ymd_opt(local.year(), local.month(), 1),
        ) else {
            continue;
        };
        let midnight = |d: NaiveDate| {
            tz.from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        };
        let (Some(start), Some(end)) = (midnight(first), midnight(next)) else {
            continue;
        };
        // A rule set during the month did not expect that month's day.
        if first_rule >= start {
            continue;
        }
        let key = format!("fixed-day-missed:{org_id}:{y}-{m:02}");
        let held = entity::activity::Entity::find()
            .filter(entity::activity::Column::OrgId.eq(org_id))
            .filter(entity::activity::Column::Kind.eq("fixed_day"))
            .filter(entity::activity::Column::StartsAt.gte(start))
            .filter(entity::activity::Column::StartsAt.lt(end))
            .one(db)
            .await?
            .is_some();
        if held {
            continue;
        }
        let n = Notice {
            key,
            kind: "fixed_day_missed",
            person_id: None,
            org_id: Some(org.parent_id.unwrap_or(org.id)),
            title: format!("{}：{y}年{m}月未开展主题党日", org.name),
            body: format!(
                "按该组织的固定活动日规则（每月{day}日），{m}月应开展主题党日，但没有登记。"
            ),
            url: Some(format!("/console/activities?org={org_id}")),
        };
        if super::claim(db, &n, now).await? {
            alerts += 1;
        }
    }
    Ok(alerts)
}

async fn claimed_with_prefix(
    db: &impl ConnectionTrait,
    prefix: &str,
) -> AppResult<HashSet<String>> {
    use entity::notice::{Column, Entity};
    Ok(Entity::find()
        .filter(Column::Key.starts_with(prefix))
        .select_only()
        .column(Column::Key)
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}
