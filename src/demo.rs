//! `vanguard demo --members N`: a demo branch (演示支部) with N members bound to
//! openids `demo-0000001`…, a fixed-day session that takes scans at once, and an
//! admin token, so the projector, the phone simulator and the load generator have
//! something to work on. Safe beside a running server (it only adds rows).

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};
use serde::Serialize;

use crate::audit::{self, Actor, Entry};
use crate::auth::Role;
use crate::checkin::activities::{self, NewActivity};
use crate::error::{AppError, AppResult};
use crate::ids::OrgId;
use crate::org::OrgKind;
use crate::org::service::NewOrg;
use crate::policy::ActivityKind;
use crate::state::AppState;

pub const DEMO_ORG_CODE: &str = "DEMO";
pub const DEMO_ORG_NAME: &str = "演示支部";
pub const DEMO_ADMIN: &str = "demo-admin";

/// The openid of demo member `n` (1-based).
pub fn openid(n: usize) -> String {
    format!("demo-{n:07}")
}

#[derive(Debug, Serialize)]
pub struct DemoOutput {
    pub session_id: i64,
    pub activity_id: i64,
    pub admin_token: String,
    /// The staff console, with a login for it (a fresh password each run; the console
    /// asks for a new one at first sign-in, as after any reset).
    pub console_url: String,
    pub console_username: String,
    pub console_password: String,
    pub projector_url: String,
    pub simulator_url: String,
}

pub async fn run(state: &AppState, members: usize, force: bool) -> AppResult<DemoOutput> {
    let actor = Actor::cli();
    let others = entity::organization::Entity::find()
        .filter(entity::organization::Column::Code.ne(DEMO_ORG_CODE))
        .count(&state.db)
        .await?;
    if others > 0 && !force {
        return Err(AppError::conflict(format!(
            "the database holds {others} organization(s) besides the demo branch; \
             use --force to seed the demo there anyway"
        )));
    }
    let org = match crate::org::service::find_by_code(&state.db, DEMO_ORG_CODE).await? {
        Some(o) => o,
        None => {
            let view = crate::org::service::create(
                &state.db,
                &actor,
                None,
                NewOrg {
                    name: DEMO_ORG_NAME.to_owned(),
                    code: DEMO_ORG_CODE.to_owned(),
                    kind: OrgKind::Branch,
                    parent_id: None,
                    timezone: None,
                },
            )
            .await?;
            crate::org::service::find(&state.db, view.id).await?
        }
    };
    seed_members(state, &actor, &org, members).await?;

    let account = match entity::account::Entity::find()
        .filter(entity::account::Column::Username.eq(DEMO_ADMIN))
        .one(&state.db)
        .await?
    {
        Some(a) => a,
        None => {
            crate::auth::service::create_account(
                state,
                &actor,
                None,
                crate::auth::service::NewAccount {
                    username: DEMO_ADMIN.to_owned(),
                    display_name: Some("演示管理员".to_owned()),
                    password: None,
                    role: Role::Admin,
                    org_id: Some(OrgId(org.id)),
                },
            )
            .await?;
            crate::auth::service::find_by_username(&state.db, DEMO_ADMIN).await?
        }
    };
    if account.disabled {
        return Err(AppError::conflict("the demo-admin account is disabled"));
    }
    let console_password = crate::auth::service::regenerate_first_password(
        state,
        &actor,
        crate::ids::AccountId(account.id),
    )
    .await?;
    let tokens = crate::auth::service::issue_session(state, &account, None).await?;

    // Starts in 10 minutes; the session opens early enough to take scans at once.
    let now = Utc::now();
    let starts_at = now + Duration::minutes(10);
    let local = starts_at.with_timezone(&crate::ledger::inputs::tz_of(&org));
    let new = NewActivity {
        org_id: org.id,
        kind: ActivityKind::FixedDay,
        title: format!("演示主题党日 {}", local.format("%m月%d日 %H:%M")),
        place: Some("党员活动室".to_owned()),
        starts_at,
        ends_at: starts_at + Duration::hours(1),
        points: None,
        registered_at: now,
    };
    let activity = activities::create(state, &actor, &org, &new, &[]).await?;
    let open_before = state.settings.checkin.open_before_minutes.max(11);
    let session = crate::checkin::sessions::create(
        &state.db,
        &state.scoring,
        &activity,
        Some(account.id),
        open_before,
        state.settings.checkin.slot_seconds,
        now,
    )
    .await?;
    Ok(DemoOutput {
        session_id: session.id,
        activity_id: activity.id,
        admin_token: tokens.access_token,
        console_url: format!("{}/console/login", state.public_url),
        console_username: DEMO_ADMIN.to_owned(),
        console_password,
        projector_url: format!("{}/projector/{}", state.public_url, session.id),
        simulator_url: format!("{}/sandbox/phone?openid={}", state.public_url, openid(1)),
    })
}

/// Adds the demo members that do not exist yet (bulk, one transaction, one audit entry).
async fn seed_members(
    state: &AppState,
    actor: &Actor,
    org: &entity::organization::Model,
    members: usize,
) -> AppResult<()> {
    let existing: Vec<String> = entity::person::Entity::find()
        .select_only()
        .column(entity::person::Column::Openid)
        .filter(entity::person::Column::Openid.like("demo-%"))
        .into_tuple::<Option<String>>()
        .all(&state.db)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let existing: std::collections::HashSet<String> = existing.into_iter().collect();
    let missing: Vec<usize> = (1..=members)
        .filter(|n| !existing.contains(&openid(*n)))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let today = crate::org::people::today();
    let txn = crate::db::begin(&state.db).await?;
    for chunk in missing.chunks(2000) {
        let rows: Vec<entity::person::ActiveModel> = chunk
            .iter()
            .map(|n| entity::person::ActiveModel {
                id: NotSet,
                external_id: Set(Some(format!("DEMO{n:07}"))),
                name: Set(format!("演示党员{n:07}")),
                phone: Set(None),
                org_id: Set(org.id),
                role: Set("member".to_owned()),
                status: Set("active".to_owned()),
                openid: Set(Some(openid(*n))),
                birth_date: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .collect();
        entity::person::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
        let ids: Vec<(i64, Option<String>)> = entity::person::Entity::find()
            .select_only()
            .column(entity::person::Column::Id)
            .column(entity::person::Column::Openid)
            .filter(entity::person::Column::Openid.is_in(chunk.iter().map(|n| openid(*n))))
            .into_tuple()
            .all(&txn)
            .await?;
        // The binding is history like any other (DESIGN.md: bind and unbind recorded).
        let history: Vec<entity::person_history::ActiveModel> = ids
            .into_iter()
            .map(|(id, oid)| entity::person_history::ActiveModel {
                id: NotSet,
                person_id: Set(id),
                kind: Set("openid_bind".to_owned()),
                from_value: Set(None),
                to_value: Set(oid),
                effective_on: Set(today),
                reason: Set(Some("演示数据".to_owned())),
                actor_id: Set(None),
                recorded_at: Set(now),
            })
            .collect();
        entity::person_history::Entity::insert_many(history)
            .exec_without_returning(&txn)
            .await?;
    }
    audit::record(
        &txn,
        actor,
        Entry::new("demo_seed", "organization", org.id)
            .org(OrgId(org.id))
            .after(serde_json::json!({"members_added": missing.len()})),
    )
    .await?;
    txn.commit().await?;
    // Fresh statistics after a bulk load, so the first scans are planned for its size.
    if state.db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        state
            .db
            .execute_unprepared("ANALYZE people, person_history")
            .await?;
    }
    Ok(())
}
