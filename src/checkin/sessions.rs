//! Check-in sessions: stored in the database, cached in the live store.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};
use crate::store::LiveStore;

/// What a scan needs to know about its session, cached by id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedSession {
    pub id: i64,
    pub activity_id: i64,
    pub org_id: i64,
    pub kind: String,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    /// The activity's end (not the session's).
    pub activity_ends_at: DateTime<Utc>,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub slot_seconds: i64,
    pub secret: String,
    /// The organization's time zone, for replies.
    pub tz: String,
}

impl CachedSession {
    pub fn local(&self, t: DateTime<Utc>) -> String {
        let tz = crate::org::service::zone(&self.tz);
        t.with_timezone(&tz).format("%H:%M").to_string()
    }
}

impl CachedSession {
    /// The activity as the judge sees it (`checkin::judge`).
    pub fn held(&self) -> super::judge::Held {
        super::judge::Held {
            fixed_day: self.kind == crate::policy::ActivityKind::FixedDay.as_str(),
            starts_at: self.starts_at,
            ends_at: self.activity_ends_at,
            tz: crate::org::service::zone(&self.tz),
        }
    }

    /// The instant after which scans no longer count.
    pub fn ends_at(&self) -> DateTime<Utc> {
        match self.closed_at {
            Some(c) if c < self.closes_at => c,
            _ => self.closes_at,
        }
    }

    pub fn open_at(&self, t: DateTime<Utc>) -> bool {
        t >= self.opens_at && t <= self.ends_at()
    }
}

/// The live-store key a session is cached under (read ahead by the WeChat gateway).
pub fn cache_key(id: i64) -> String {
    format!("session:{id}")
}

/// Cache lifetime: short, so a close made while the store was unreachable is seen soon.
const CACHE_SECONDS: u64 = 30;

pub async fn load(
    db: &impl ConnectionTrait,
    live: &dyn LiveStore,
    id: i64,
) -> AppResult<Option<CachedSession>> {
    let cached = live.get(&cache_key(id)).await.ok().flatten();
    load_with(db, live, id, cached).await
}

/// [`load`] given what the cache held, read ahead (`None`: not cached).
pub async fn load_with(
    db: &impl ConnectionTrait,
    live: &dyn LiveStore,
    id: i64,
    cached: Option<Vec<u8>>,
) -> AppResult<Option<CachedSession>> {
    if let Some(bytes) = cached
        && let Ok(s) = serde_json::from_slice::<CachedSession>(&bytes)
    {
        return Ok(Some(s));
    }
    let Some(row) = entity::checkin_session::Entity::find_by_id(id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(activity) = entity::activity::Entity::find_by_id(row.activity_id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let tz = entity::organization::Entity::find_by_id(activity.org_id)
        .one(db)
        .await?
        .map_or_else(
            || crate::org::service::DEFAULT_TIMEZONE.to_owned(),
            |o| o.timezone,
        );
    let cached = CachedSession {
        tz,
        id: row.id,
        activity_id: activity.id,
        org_id: activity.org_id,
        kind: activity.kind,
        title: activity.title,
        starts_at: activity.starts_at,
        activity_ends_at: activity.ends_at,
        opens_at: row.opens_at,
        closes_at: row.closes_at,
        closed_at: row.closed_at,
        slot_seconds: i64::from(row.slot_seconds),
        secret: row.secret,
    };
    if let Ok(bytes) = serde_json::to_vec(&cached) {
        // A failed cache write only costs a database read next time.
        let _ = live
            .set(
                &cache_key(id),
                &bytes,
                Some(std::time::Duration::from_secs(CACHE_SECONDS)),
            )
            .await;
    }
    Ok(Some(cached))
}

pub async fn forget(live: &dyn LiveStore, id: i64) {
    let _ = live.delete(&cache_key(id)).await;
}

/// Opening and closing instants: a session opens `open_before` minutes ahead and stays
/// open until the latest window among the policies of the taking-part organizations
/// ends (XH-8.1: 15 minutes after the start; TW-2: the whole day), and never past the
/// fixed day's end.
pub async fn window(
    db: &impl ConnectionTrait,
    scoring: &crate::ledger::Scoring,
    activity: &entity::activity::Model,
    open_before_minutes: i64,
) -> AppResult<(DateTime<Utc>, DateTime<Utc>)> {
    use crate::ledger::inputs::{choose_policy, resolve_policy, tz_of, year_of};
    let host = crate::org::service::find(db, crate::ids::OrgId(activity.org_id)).await?;
    let tz = tz_of(&host);
    let year = year_of(activity.starts_at, tz);
    let held = super::judge::Held::of(activity, tz);
    let roots = super::activities::participant_roots(db, activity.id, activity.org_id).await?;
    // Every organization that takes part falls under a root: its policy is the one
    // chosen at or above a root, or one chosen inside a root's subtree.
    let choices = entity::org_policy::Entity::find()
        .filter(entity::org_policy::Column::Year.eq(year))
        .order_by_asc(entity::org_policy::Column::Id)
        .all(db)
        .await?;
    let chosen_orgs: Vec<i64> = choices.iter().map(|c| c.org_id).collect();
    let mut paths: Vec<String> = entity::organization::Entity::find()
        .filter(entity::organization::Column::Id.is_in(crate::db::padded(&chosen_orgs)))
        .all(db)
        .await?
        .into_iter()
        .map(|o| o.path)
        .filter(|p| super::judge::invited(&roots, p))
        .collect();
    for root in &roots {
        if let Some(o) = entity::organization::Entity::find_by_id(*root)
            .one(db)
            .await?
        {
            paths.push(o.path);
        }
    }
    let mut closes = held.starts_at;
    let mut seen = std::collections::HashSet::new();
    for path in &paths {
        let choice = choose_policy(&choices, path, year);
        if seen.insert(choice.clone()) {
            let policy = resolve_policy(scoring, &choice.0, choice.1.as_deref())?;
            closes = closes.max(held.window_end(super::judge::Terms::of(&policy)));
        }
    }
    if held.fixed_day {
        closes = closes.min(held.day_end());
    }
    Ok((
        activity.starts_at - Duration::minutes(open_before_minutes),
        closes,
    ))
}

/// The activity's session that is not closed, if any.
pub async fn current_for_activity(
    db: &impl ConnectionTrait,
    activity_id: i64,
) -> AppResult<Option<entity::checkin_session::Model>> {
    Ok(entity::checkin_session::Entity::find()
        .filter(entity::checkin_session::Column::ActivityId.eq(activity_id))
        .filter(entity::checkin_session::Column::ClosedAt.is_null())
        .order_by_desc(entity::checkin_session::Column::Id)
        .one(db)
        .await?)
}

#[allow(clippy::too_many_arguments)]
pub async fn create(
    db: &impl ConnectionTrait,
    scoring: &crate::ledger::Scoring,
    activity: &entity::activity::Model,
    opened_by: Option<i64>,
    open_before_minutes: i64,
    slot_seconds: i64,
    now: DateTime<Utc>,
) -> AppResult<entity::checkin_session::Model> {
    if let Some(existing) = current_for_activity(db, activity.id).await? {
        return Err(AppError::conflict(format!(
            "该活动已有进行中的签到（{}）",
            existing.id
        )));
    }
    let (opens, closes) = window(db, scoring, activity, open_before_minutes).await?;
    if now > closes {
        return Err(AppError::field(
            "activity_id",
            "活动签到时段已过；请使用补签",
        ));
    }
    Ok(entity::checkin_session::ActiveModel {
        id: NotSet,
        activity_id: Set(activity.id),
        opens_at: Set(opens),
        closes_at: Set(closes),
        slot_seconds: Set(i32::try_from(slot_seconds).unwrap_or(60)),
        secret: Set(crate::db::random_secret(32)),
        opened_by: Set(opened_by),
        opened_at: Set(now),
        closed_at: Set(None),
        closed_by: Set(None),
    }
    .insert(db)
    .await?)
}

pub async fn close(
    db: &impl ConnectionTrait,
    session: entity::checkin_session::Model,
    by: Option<i64>,
) -> AppResult<entity::checkin_session::Model> {
    if session.closed_at.is_some() {
        return Err(AppError::conflict("签到已关闭"));
    }
    let mut active: entity::checkin_session::ActiveModel = session.into();
    active.closed_at = Set(Some(Utc::now()));
    active.closed_by = Set(by);
    Ok(active.update(db).await?)
}
