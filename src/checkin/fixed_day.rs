//! A branch's fixed-day rule ("每月15日 14:00", moved to the next working day by the
//! calendar) and the month's fixed activity day it proposes. The rule is append-only
//! (`fixed_day_rules`, newest row wins); the proposal is pure.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::audit::{self, Actor, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::OrgId;
use crate::policy::Calendars;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub day_of_month: u32,
    pub start: NaiveTime,
    pub duration_minutes: u32,
    pub place: Option<String>,
}

impl Rule {
    /// Checks a rule as typed: (field, Chinese message) for the first problem.
    pub fn parse(
        day: &str,
        time: &str,
        duration: &str,
        place: &str,
    ) -> Result<Self, (&'static str, &'static str)> {
        let day_of_month = day
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=31).contains(d))
            .ok_or(("day_of_month", "日期须为 1 至 31 的整数"))?;
        let start = NaiveTime::parse_from_str(time, "%H:%M")
            .map_err(|_| ("start_time", "时间格式应为 14:00"))?;
        let duration_minutes = if duration.is_empty() {
            120
        } else {
            duration
                .parse::<u32>()
                .ok()
                .filter(|m| (15..=24 * 60).contains(m))
                .ok_or(("duration_minutes", "时长须为 15 至 1440 分钟"))?
        };
        let place = (!place.is_empty()).then(|| place.chars().take(100).collect());
        Ok(Self {
            day_of_month,
            start,
            duration_minutes,
            place,
        })
    }

    /// "每月15日 14:00".
    pub fn describe(&self) -> String {
        format!(
            "每月{}日 {}，遇节假日顺延至下一个工作日",
            self.day_of_month,
            self.start.format("%H:%M")
        )
    }
}

/// The rule's day in a month: the day of month (the month's last day when shorter),
/// moved to the next working day when it is not one. (date, moved)
pub fn proposed_day(
    rule: &Rule,
    year: i32,
    month: u32,
    calendars: &Calendars,
) -> Option<(NaiveDate, bool)> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let last = first
        .checked_add_months(chrono::Months::new(1))?
        .pred_opt()?
        .day();
    let day = NaiveDate::from_ymd_opt(year, month, rule.day_of_month.min(last))?;
    if calendars.day(day).working {
        Some((day, false))
    } else {
        Some((calendars.nth_working_day_after(day, 1).0, true))
    }
}

/// The proposed start and end instants in the organization's zone.
pub fn proposed_times(
    rule: &Rule,
    day: NaiveDate,
    tz: Tz,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let start = day
        .and_time(rule.start)
        .and_local_timezone(tz)
        .earliest()?
        .with_timezone(&Utc);
    Some((
        start,
        start + chrono::Duration::minutes(i64::from(rule.duration_minutes)),
    ))
}

/// The rule in force for an organization, if one was set.
pub async fn current(db: &impl ConnectionTrait, org_id: i64) -> AppResult<Option<Rule>> {
    let row = entity::fixed_day_rule::Entity::find()
        .filter(entity::fixed_day_rule::Column::OrgId.eq(org_id))
        .order_by_desc(entity::fixed_day_rule::Column::Id)
        .one(db)
        .await?;
    Ok(row.and_then(|r| {
        Some(Rule {
            day_of_month: u32::try_from(r.day_of_month).ok()?,
            start: NaiveTime::parse_from_str(&r.start_time, "%H:%M").ok()?,
            duration_minutes: u32::try_from(r.duration_minutes).ok()?,
            place: r.place,
        })
    }))
}

/// Sets an organization's rule (a new row; the old one stays as history), audited.
pub async fn set(
    db: &crate::db::Db,
    actor: &Actor,
    org_id: i64,
    rule: &Rule,
    now: chrono::DateTime<Utc>,
) -> AppResult<()> {
    let txn = crate::db::begin(db).await?;
    entity::fixed_day_rule::Entity::insert(entity::fixed_day_rule::ActiveModel {
        id: NotSet,
        org_id: Set(org_id),
        day_of_month: Set(i32::try_from(rule.day_of_month)
            .map_err(|_| AppError::field("day_of_month", "日期须为 1 至 31 的整数"))?),
        start_time: Set(rule.start.format("%H:%M").to_string()),
        duration_minutes: Set(i32::try_from(rule.duration_minutes).unwrap_or(120)),
        place: Set(rule.place.clone()),
        set_by: Set(actor.id.filter(|_| actor.kind == "account")),
        set_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await?;
    audit::record(
        &txn,
        actor,
        Entry::new("set_fixed_day_rule", "organization", org_id)
            .org(OrgId(org_id))
            .after(serde_json::json!({
                "day_of_month": rule.day_of_month,
                "start_time": rule.start.format("%H:%M").to_string(),
                "duration_minutes": rule.duration_minutes,
                "place": rule.place,
            })),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rule(day: &str) -> Rule {
        Rule::parse(day, "14:00", "", "").unwrap()
    }

    #[test]
    fn the_fixed_day_moves_to_the_next_working_day() {
        let cal = Calendars::builtin().unwrap();
        // 2026-11-15 is a Sunday: Monday the 16th.
        assert_eq!(
            proposed_day(&rule("15"), 2026, 11, &cal),
            Some((NaiveDate::from_ymd_opt(2026, 11, 16).unwrap(), true))
        );
        // 2026-12-15 is a Tuesday: kept.
        assert_eq!(
            proposed_day(&rule("15"), 2026, 12, &cal),
            Some((NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(), false))
        );
        // 2026-10-01 is 国庆节 (holiday through the 8th in the 2026 calendar).
        let (oct, moved) = proposed_day(&rule("1"), 2026, 10, &cal).unwrap();
        assert!(moved && oct > NaiveDate::from_ymd_opt(2026, 10, 1).unwrap());
        assert!(cal.day(oct).working);
        // The 31st in a 30-day month is its last day (2026-09-30, a Wednesday).
        assert_eq!(
            proposed_day(&rule("31"), 2026, 9, &cal),
            Some((NaiveDate::from_ymd_opt(2026, 9, 30).unwrap(), false))
        );
    }

    #[test]
    fn proposed_times_are_in_the_organizations_zone() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let (s, e) = proposed_times(
            &rule("15"),
            NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(),
            tz,
        )
        .unwrap();
        assert_eq!(s.to_rfc3339(), "2026-12-15T06:00:00+00:00");
        assert_eq!((e - s).num_minutes(), 120);
    }

    #[test]
    fn a_rule_as_typed_is_checked_field_by_field() {
        assert_eq!(
            Rule::parse("0", "14:00", "", "").unwrap_err().0,
            "day_of_month"
        );
        assert_eq!(
            Rule::parse("15", "2pm", "", "").unwrap_err().0,
            "start_time"
        );
        assert_eq!(
            Rule::parse("15", "14:00", "5", "").unwrap_err().0,
            "duration_minutes"
        );
        assert_eq!(
            rule("15").describe(),
            "每月15日 14:00，遇节假日顺延至下一个工作日"
        );
    }
}
