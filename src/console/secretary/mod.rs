//! The secretary's jobs, phone first. Admins and auditors use the same pages across
//! their subtree (auditors read-only).
//!
//! - [`today`]: today's activities and the next one, for the home page.
//! - [`activities`]: the month's activities with the fixed day proposed from the
//!   branch's rule, creating an activity, one activity, setting the rule.
//! - [`live`]: 开始签到 / 结束签到 and the check-in scene (QR on this phone, projector
//!   link, live count, the missing list).
//! - [`entries`]: 手工签到 and 补签, one person, with a required reason.
//! - [`attendance`]: the attendance sheet with its filters.
//! - [`scores`]: 积分: scores and stars, a member's ledger, items previewed then saved.
//! - [`members`]: 党员: binding, waiting scans, unbind and rebind with a reason.
//! - [`materials`]: 补学资料 of the fixed days.
//! - [`todo`]: 待办: disputes (and what the review cycle adds), filing on a member's
//!   behalf, comments.

mod activities;
mod attendance;
mod entries;
mod live;
pub mod materials;
mod members;
mod scores;
mod today;
mod todo;

pub use today::today;

use actix_web::web;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use minijinja::{Value, context};
use serde::Deserialize;

use super::{ConsoleUser, hide, when};
use crate::auth::{Perm, Principal};
use crate::checkin::activities::kind_label;
use crate::checkin::attendance::Counts;
use crate::checkin::routes::scoped_activity;
use crate::checkin::sessions;
use crate::error::AppResult;
use crate::ids::OrgId;
use crate::policy::ActivityKind;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/activities", web::get().to(activities::list))
        .route("/console/activities", web::post().to(activities::create))
        .route("/console/activities/{id}", web::get().to(activities::show))
        .route("/console/activities/{id}/open", web::post().to(live::open))
        .route(
            "/console/activities/{id}/close",
            web::post().to(live::close),
        )
        .route("/console/activities/{id}/live", web::get().to(live::live))
        .route(
            "/console/activities/{id}/live/part",
            web::get().to(live::live_part),
        )
        .route(
            "/console/activities/{id}/checkins",
            web::post().to(entries::enter),
        )
        .route(
            "/console/activities/{id}/attendance",
            web::get().to(attendance::attendance_page),
        )
        .route("/console/sessions/{id}/qr.svg", web::get().to(live::qr_svg))
        .route(
            "/console/orgs/{id}/rule",
            web::post().to(activities::set_rule),
        );
    cfg.route("/console/scores", web::get().to(scores::list))
        .route("/console/scores/{id}", web::get().to(scores::ledger))
        .route(
            "/console/scores/{id}/item",
            web::get().to(scores::item_form),
        )
        .route(
            "/console/scores/{id}/item",
            web::post().to(scores::item_save),
        )
        .route(
            "/console/scores/{id}/item/preview",
            web::post().to(scores::item_preview),
        )
        .route(
            "/console/scores/{id}/item/edit",
            web::post().to(scores::item_edit),
        )
        .route("/console/members", web::get().to(members::list))
        .route("/console/members/bind", web::get().to(members::bind_form))
        .route("/console/members/bind", web::post().to(members::bind))
        .route(
            "/console/members/{id}/unbind",
            web::get().to(members::unbind_form),
        )
        .route(
            "/console/members/{id}/unbind",
            web::post().to(members::unbind),
        )
        .route("/console/materials", web::get().to(materials::list))
        .route(
            "/console/materials/activity/{id}",
            web::get().to(materials::day),
        )
        .route(
            "/console/materials/activity/{id}",
            web::post().to(materials::add),
        )
        .route("/console/materials/{id}", web::get().to(materials::edit))
        .route("/console/materials/{id}", web::post().to(materials::update))
        .route(
            "/console/materials/{id}/retire",
            web::post().to(materials::retire),
        )
        .route("/console/todo", web::get().to(todo::todo))
        .route("/console/todo/file", web::get().to(todo::file_form))
        .route("/console/todo/file", web::post().to(todo::file))
        .route(
            "/console/disputes/{id}/comment",
            web::post().to(todo::comment),
        );
}

/// Organizations in the user's scope, in tree order.
pub async fn scope_orgs(
    state: &AppState,
    principal: &Principal,
) -> AppResult<Vec<entity::organization::Model>> {
    use entity::organization::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let mut q = Entity::find().order_by_asc(Column::Path);
    if let Some(scope) = &principal.scope_path {
        q = q.filter(Column::Path.starts_with(scope.as_str()));
    }
    Ok(q.all(&state.db).await?)
}

/// The time zone of the organization the user works from (lists across their scope).
async fn page_tz(state: &AppState, user: &ConsoleUser) -> AppResult<Tz> {
    let orgs = scope_orgs(state, &user.principal).await?;
    Ok(
        home_org(&user.principal, &orgs).map_or(chrono_tz::Asia::Shanghai, |o| {
            crate::ledger::inputs::tz_of(&o)
        }),
    )
}

/// The organization a user works from: their own, or the first one in scope.
fn home_org(
    principal: &Principal,
    orgs: &[entity::organization::Model],
) -> Option<entity::organization::Model> {
    principal
        .org_id
        .and_then(|id| orgs.iter().find(|o| o.id == id.0))
        .or_else(|| orgs.first())
        .cloned()
}

fn kind_name(kind: &str) -> &'static str {
    kind.parse::<ActivityKind>()
        .map(kind_label)
        .unwrap_or("活动")
}

/// An activity's state for its buttons: (label, open session id).
async fn state_of(
    state: &AppState,
    a: &entity::activity::Model,
    now: DateTime<Utc>,
) -> AppResult<(&'static str, Option<i64>, bool)> {
    let open = sessions::current_for_activity(&state.db, a.id).await?;
    let (_, closes) = sessions::window(
        &state.db,
        &state.scoring,
        a,
        state.settings.checkin.open_before_minutes,
    )
    .await?;
    Ok(match open {
        Some(s) if s.closes_at > now => ("签到中", Some(s.id), false),
        Some(s) => ("签到时段已过", Some(s.id), false),
        None if now > closes => ("已结束", None, false),
        None => ("未开始签到", None, true),
    })
}

async fn activity_row(
    state: &AppState,
    a: &entity::activity::Model,
    tz: Tz,
    now: DateTime<Utc>,
) -> AppResult<Value> {
    let (label, session, can_open) = state_of(state, a, now).await?;
    Ok(context! {
        id => a.id,
        title => a.title.clone(),
        kind => kind_name(&a.kind),
        when => when(a.starts_at, tz),
        place => a.place.clone(),
        state => label,
        session => session,
        can_open => can_open,
    })
}

/// The activity, if the user may read it; out of scope is 404.
async fn readable(
    state: &AppState,
    user: &ConsoleUser,
    id: i64,
) -> AppResult<(entity::activity::Model, entity::organization::Model)> {
    let a = scoped_activity(state, &user.principal, Perm::ActivityRead, id)
        .await
        .map_err(hide)?;
    let org = crate::org::service::find(&state.db, OrgId(a.org_id)).await?;
    Ok((a, org))
}

#[derive(Deserialize)]
struct ShowQuery {
    created: Option<String>,
    entered: Option<String>,
}

fn counts_value(c: &Counts) -> Value {
    context! {
        arrived => c.on_time + c.late + c.present,
        on_time => c.on_time, late => c.late, too_late => c.too_late, present => c.present,
        makeup => c.makeup, leave => c.leave, refused => c.refused, missing => c.missing,
        expected => c.expected,
    }
}
