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

/// Minutes after the start during which a fixed-day scan still counts (late, XH-8.1).
pub const LATE_MINUTES: i64 = 15;

/// What a scan needs to know about its session, cached by id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedSession {
    pub id: i64,
    pub activity_id: i64,
    pub org_id: i64,
    pub kind: String,
    pub title: String,
    pub starts_at: DateTime<Utc>,
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
        let tz: chrono_tz::Tz = self.tz.parse().unwrap_or(chrono_tz::Asia::Shanghai);
        t.with_timezone(&tz).format("%H:%M").to_string()
    }
}

impl CachedSession {
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

fn cache_key(id: i64) -> String {
    format!("session:{id}")
}

/// Cache lifetime: short, so a close made while the store was unreachable is seen soon.
const CACHE_SECONDS: u64 = 30;

pub async fn load(
    db: &impl ConnectionTrait,
    live: &dyn LiveStore,
    id: i64,
) -> AppResult<Option<CachedSession>> {
    if let Ok(Some(bytes)) = live.get(&cache_key(id)).await
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
        .map_or_else(|| "Asia/Shanghai".to_owned(), |o| o.timezone);
    let cached = CachedSession {
        tz,
        id: row.id,
        activity_id: activity.id,
        org_id: activity.org_id,
        kind: activity.kind,
        title: activity.title,
        starts_at: activity.starts_at,
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

/// Opening and closing instants: a fixed day opens `open_before` minutes ahead and
/// stops taking attendance 15 minutes after the start; other activities at their end.
pub fn window(
    activity: &entity::activity::Model,
    open_before_minutes: i64,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let opens = activity.starts_at - Duration::minutes(open_before_minutes);
    let closes = if activity.kind == "fixed_day" {
        activity.starts_at + Duration::minutes(LATE_MINUTES)
    } else {
        activity
            .ends_at
            .max(activity.starts_at + Duration::minutes(LATE_MINUTES))
    };
    (opens, closes)
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

pub async fn create(
    db: &impl ConnectionTrait,
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
    let (opens, closes) = window(activity, open_before_minutes);
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
