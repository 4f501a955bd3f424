//! Notices sent once across instances: reminders to members (template messages; the
//! simulator's inbox in the sandbox) and alerts to staff (the console inbox).
//!
//! A notice is claimed by inserting its row under a unique key before anything is
//! sent, so several instances running the same job send it once. A member's message
//! that fails to send is logged and not retried (a late reminder is worse than none).

pub mod reminders;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::auth::Principal;
use crate::error::AppResult;
use crate::state::AppState;

/// What to say, to whom, under which claim key.
#[derive(Debug, Clone)]
pub struct Notice {
    pub key: String,
    pub kind: &'static str,
    pub person_id: Option<i64>,
    pub org_id: Option<i64>,
    pub title: String,
    pub body: String,
    pub url: Option<String>,
}

/// Inserts the notice unless one with its key exists; true when this call claimed it.
pub async fn claim(db: &impl ConnectionTrait, n: &Notice, now: DateTime<Utc>) -> AppResult<bool> {
    use entity::notice::{Column, Entity};
    let insert = Query::insert()
        .into_table(Entity)
        .columns([
            Column::Key,
            Column::Kind,
            Column::PersonId,
            Column::OrgId,
            Column::Title,
            Column::Body,
            Column::Url,
            Column::CreatedAt,
        ])
        .values_panic([
            n.key.clone().into(),
            n.kind.into(),
            n.person_id.into(),
            n.org_id.into(),
            n.title.clone().into(),
            n.body.clone().into(),
            n.url.clone().into(),
            now.into(),
        ])
        .on_conflict(OnConflict::column(Column::Key).do_nothing().to_owned())
        .to_owned();
    Ok(db.execute(&insert).await?.rows_affected() == 1)
}

/// Sends a template message for `purpose` (`wechat.templates.<purpose>`; in the
/// sandbox the purpose names itself and lands in the simulator's inbox) to a member's
/// openid, linking to `path` on this site. `msg_id` (at most 64 characters) makes a
/// repeat WeChat's duplicate. A member without WeChat, a missing template or a failed
/// send is logged and returns false: the step that notifies stands either way.
pub async fn template(
    state: &AppState,
    openid: Option<&str>,
    purpose: &str,
    data: &serde_json::Value,
    path: &str,
    msg_id: &str,
) -> bool {
    let Some(openid) = openid.and_then(|o| crate::wechat::OpenId::parse(o).ok()) else {
        return false;
    };
    let template = state
        .wechat
        .templates
        .get(purpose)
        .cloned()
        .or_else(|| state.wechat.sandbox.then(|| purpose.to_owned()));
    let Some(template) = template else {
        tracing::info!(purpose, "no template configured; member not notified");
        return false;
    };
    let url = format!("{}{path}", state.public_url);
    let msg_id: String = msg_id.chars().take(64).collect();
    match state
        .wechat_client
        .send_template(&openid, &template, Some(&url), data, &msg_id)
        .await
    {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e, purpose, msg_id, "template message not sent");
            false
        }
    }
}

/// Claims and sends a member's notice (purpose `reminder`); true when this call claimed it.
pub async fn to_member(state: &AppState, n: &Notice, openid: &str) -> AppResult<bool> {
    let now = state.clock.now();
    if !claim(&state.db, n, now).await? {
        return Ok(false);
    }
    let data = serde_json::json!({
        "thing1": {"value": n.title.chars().take(20).collect::<String>()},
        "thing2": {"value": n.body.chars().take(20).collect::<String>()},
    });
    let path = n.url.clone().unwrap_or_else(|| "/m/".to_owned());
    // The claim key makes the message id: WeChat drops a repeat too.
    if template(state, Some(openid), "reminder", &data, &path, &n.key).await {
        entity::notice::ActiveModel {
            id: Set(notice_id(&state.db, &n.key).await?),
            sent_at: Set(Some(now)),
            ..Default::default()
        }
        .update(&state.db)
        .await?;
    }
    Ok(true)
}

async fn notice_id(db: &impl ConnectionTrait, key: &str) -> AppResult<i64> {
    use entity::notice::{Column, Entity};
    Ok(Entity::find()
        .filter(Column::Key.eq(key))
        .select_only()
        .column(Column::Id)
        .into_tuple::<i64>()
        .one(db)
        .await?
        .unwrap_or_default())
}

/// Staff notices for the organizations in the principal's scope, newest first.
pub async fn for_staff(
    db: &impl ConnectionTrait,
    principal: &Principal,
    limit: u64,
) -> AppResult<Vec<entity::notice::Model>> {
    use entity::notice::{Column, Entity};
    let mut orgs = Query::select();
    orgs.column(entity::organization::Column::Id)
        .from(entity::organization::Entity);
    if let Some(scope) = &principal.scope_path {
        orgs.and_where(
            sea_orm::sea_query::Expr::col(entity::organization::Column::Path)
                .like(format!("{scope}%")),
        );
    }
    Ok(Entity::find()
        .filter(Column::PersonId.is_null())
        .filter(Column::OrgId.in_subquery(orgs.to_owned()))
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Whether the member wants the reminder the day before a fixed activity day.
pub async fn wants_fixed_day_reminder(db: &impl ConnectionTrait, person: i64) -> AppResult<bool> {
    Ok(entity::member_setting::Entity::find_by_id(person)
        .one(db)
        .await?
        .is_none_or(|s| s.fixed_day_reminder))
}

/// Of `people`, those who switched the fixed-day reminder off (one query).
pub async fn reminders_off(
    db: &impl ConnectionTrait,
    people: &[i64],
) -> AppResult<std::collections::HashSet<i64>> {
    use entity::member_setting::{Column, Entity};
    Ok(Entity::find()
        .filter(Column::PersonId.is_in(people.to_vec()))
        .filter(Column::FixedDayReminder.eq(false))
        .select_only()
        .column(Column::PersonId)
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// Sets the member's choice (their own, from `/m/`).
pub async fn set_fixed_day_reminder(
    db: &impl ConnectionTrait,
    person: i64,
    on: bool,
    now: DateTime<Utc>,
) -> AppResult<()> {
    use entity::member_setting::{Column, Entity};
    let insert = Query::insert()
        .into_table(Entity)
        .columns([
            Column::PersonId,
            Column::FixedDayReminder,
            Column::UpdatedAt,
        ])
        .values_panic([person.into(), on.into(), now.into()])
        .on_conflict(
            OnConflict::column(Column::PersonId)
                .update_columns([Column::FixedDayReminder, Column::UpdatedAt])
                .to_owned(),
        )
        .to_owned();
    db.execute(&insert).await?;
    Ok(())
}
