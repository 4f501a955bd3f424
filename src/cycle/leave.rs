//! Leave (请假): a member asks for leave from one activity at least the policy's lead
//! time before it starts (`[workflow] leave_lead_minutes`, default 60) and may
//! withdraw it until the start; the secretary approves or refuses with a reason, and
//! may enter leave for a member without a phone (approved at once when the one
//! entering it may approve). Leave scores nothing by itself: the attendance sheet
//! shows it (`checkin::attendance`), and where absences count (EQ-3) the proposal at
//! the session's close is the lighter one.

use std::collections::HashSet;

use chrono::Duration;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::audit::Actor;
use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::{OrgId, PersonId};
use crate::ledger::inputs::{tz_of, year_of};
use crate::state::AppState;
use entity::leave_request::{Column as L, Entity as Leaves, Model as Leave};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveState {
    Requested,
    Approved,
    Refused,
    Withdrawn,
}

impl LeaveState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Approved => "approved",
            Self::Refused => "refused",
            Self::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "requested" => Self::Requested,
            "approved" => Self::Approved,
            "refused" => Self::Refused,
            "withdrawn" => Self::Withdrawn,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Requested => "待审批",
            Self::Approved => "已准假",
            Self::Refused => "未准假",
            Self::Withdrawn => "已撤回",
        }
    }
}

pub fn state_of(l: &Leave) -> LeaveState {
    LeaveState::parse(&l.state).unwrap_or(LeaveState::Requested)
}

fn open_key(activity: i64, person: i64) -> String {
    format!("leave:{activity}:{person}")
}

async fn activity(db: &impl ConnectionTrait, id: i64) -> AppResult<entity::activity::Model> {
    entity::activity::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("没有找到该活动"))
}

/// What a member may ask leave for: activities they are expected at that start after
/// the lead time, and the lead time in minutes.
pub async fn open_activities(
    state: &AppState,
    person: &entity::person::Model,
) -> AppResult<(Vec<entity::activity::Model>, i64)> {
    let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
    let now = state.clock.now();
    let policy = crate::ledger::inputs::policy_for(
        &state.db,
        &state.scoring,
        &org.path,
        year_of(now, tz_of(&org)),
    )
    .await?;
    let lead = policy.workflow.leave_lead_minutes;
    let mut list = crate::checkin::makeup::expected_activities(
        &state.db,
        &org.path,
        None,
        now + Duration::minutes(lead),
        now + Duration::days(60),
        30,
    )
    .await?;
    list.reverse();
    Ok((list, lead))
}

/// A member asks for leave from `/m/` (`actor` is the member), or staff enter it for a
/// member (`approve_at_once` when they may approve).
pub async fn request(
    state: &AppState,
    person: &entity::person::Model,
    activity_id: i64,
    reason: &str,
    actor: &Actor,
    approve_at_once: bool,
) -> AppResult<Leave> {
    let reason = super::text_field("reason", reason, "请假事由", 500)?;
    let a = activity(&state.db, activity_id).await?;
    let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
    // Only activities the member is expected at: others do not exist for them.
    if !crate::checkin::activities::takes_part(&state.db, &a, &org.path).await? {
        return Err(AppError::not_found("没有找到该活动"));
    }
    let tz = tz_of(&org);
    let year = year_of(a.starts_at, tz);
    if crate::ledger::post::year_closed(&state.db, &org.path, year).await? {
        return Err(AppError::new(
            ErrorCode::YearClosed,
            format!("{year} 年度已结转归档，不能再请假"),
        ));
    }
    let now = state.clock.now();
    let policy =
        crate::ledger::inputs::policy_for(&state.db, &state.scoring, &org.path, year).await?;
    // A member asks the policy's lead time ahead; staff taking a phone call may enter
    // it until the start.
    let lead = if actor.kind == "member" {
        policy.workflow.leave_lead_minutes
    } else {
        0
    };
    if now + Duration::minutes(lead) > a.starts_at {
        let starts = a.starts_at.with_timezone(&tz).format("%-m月%-d日 %H:%M");
        let detail = if now >= a.starts_at {
            format!("活动已于 {starts} 开始，不能再请假；如有特殊情况请联系支部书记")
        } else {
            format!(
                "请假须在活动开始前 {lead} 分钟提出（活动 {starts} 开始），已过请假时限；请联系支部书记"
            )
        };
        return Err(AppError::new(ErrorCode::LeaveTooLate, detail));
    }
    let (kind, by_id, by_name) = super::entered_by(actor, &person.name);
    let txn = crate::db::begin(&state.db).await?;
    let approved = approve_at_once.then_some(LeaveState::Approved);
    let row = entity::leave_request::ActiveModel {
        person_id: Set(person.id),
        activity_id: Set(a.id),
        org_id: Set(person.org_id),
        reason: Set(reason.clone()),
        state: Set(approved
            .unwrap_or(LeaveState::Requested)
            .as_str()
            .to_owned()),
        open_key: Set(Some(open_key(a.id, person.id))),
        entered_by_kind: Set(kind),
        entered_by_id: Set(by_id),
        entered_by_name: Set(by_name.clone()),
        requested_at: Set(now),
        decided_at: Set(approved.map(|_| now)),
        decided_by_id: Set(approved.and(by_id)),
        decided_by_name: Set(approved.map(|_| by_name)),
        decision_reason: Set(None),
        // A secretary entering it tells the member in person.
        notice_sent_at: Set(approved.map(|_| now)),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let row = match row {
        Ok(r) => r,
        Err(e) if is_unique_violation(&e) => {
            return Err(AppError::new(
                ErrorCode::LeaveExists,
                "已为该活动请过假（待审批或已准假），如需更改请先撤回",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    crate::audit::record(
        &txn,
        actor,
        crate::audit::Entry::new("request_leave", "leave_request", row.id)
            .org(OrgId(person.org_id))
            .after(serde_json::json!({"person": person.id, "activity": a.id, "state": row.state, "reason": reason})),
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

pub(crate) fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// The member withdraws their own request, until the activity starts.
pub async fn withdraw(
    state: &AppState,
    person: &entity::person::Model,
    id: i64,
    ip: Option<String>,
) -> AppResult<Leave> {
    let row = Leaves::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|l| l.person_id == person.id)
        .ok_or_else(|| AppError::not_found("没有找到该请假申请"))?;
    let a = activity(&state.db, row.activity_id).await?;
    if state.clock.now() >= a.starts_at {
        return Err(AppError::new(
            ErrorCode::ReviewState,
            "活动已开始，请假不能再撤回",
        ));
    }
    let txn = crate::db::begin(&state.db).await?;
    let done = Leaves::update_many()
        .col_expr(L::State, Expr::value(LeaveState::Withdrawn.as_str()))
        .col_expr(L::OpenKey, Expr::value(Option::<String>::None))
        .filter(L::Id.eq(id))
        .filter(L::State.is_in([
            LeaveState::Requested.as_str(),
            LeaveState::Approved.as_str(),
        ]))
        .exec(&txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(AppError::new(
            ErrorCode::ReviewState,
            "该请假申请已处理或已撤回",
        ));
    }
    crate::audit::record(
        &txn,
        &Actor::member(person.id, ip),
        crate::audit::Entry::new("withdraw_leave", "leave_request", id)
            .org(OrgId(row.org_id))
            .before(serde_json::json!({"state": row.state})),
    )
    .await?;
    txn.commit().await?;
    find(&state.db, id).await
}

pub async fn find(db: &impl ConnectionTrait, id: i64) -> AppResult<Leave> {
    Leaves::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("没有找到该请假申请"))
}

/// A request the principal may see (`perm`): outside the scope it does not exist.
pub async fn scoped(
    state: &AppState,
    principal: &Principal,
    perm: Perm,
    id: i64,
) -> AppResult<Leave> {
    let row = find(&state.db, id).await?;
    crate::org::service::scoped(&state.db, principal, perm, OrgId(row.org_id))
        .await
        .map_err(|_| AppError::not_found("没有找到该请假申请"))?;
    Ok(row)
}

/// The secretary's answer: approve, or refuse with a reason. One answer wins (a
/// conditional update); the member is told once.
pub async fn decide(
    state: &AppState,
    principal: &Principal,
    id: i64,
    approve: bool,
    reason: &str,
) -> AppResult<Leave> {
    principal.require(Perm::Review)?;
    let row = scoped(state, principal, Perm::Review, id).await?;
    let reason = if approve {
        reason.trim().chars().take(500).collect::<String>()
    } else {
        super::text_field("reason", reason, "不准假的理由", 500)?
    };
    let to = if approve {
        LeaveState::Approved
    } else {
        LeaveState::Refused
    };
    let now = state.clock.now();
    let txn = crate::db::begin(&state.db).await?;
    let mut update = Leaves::update_many()
        .col_expr(L::State, Expr::value(to.as_str()))
        .col_expr(L::DecidedAt, Expr::value(now))
        .col_expr(L::DecidedById, Expr::value(principal.account_id.0))
        .col_expr(L::DecidedByName, Expr::value(principal.username.clone()))
        .col_expr(
            L::DecisionReason,
            Expr::value((!reason.is_empty()).then(|| reason.clone())),
        );
    if !approve {
        update = update.col_expr(L::OpenKey, Expr::value(Option::<String>::None));
    }
    let done = update
        .filter(L::Id.eq(id))
        .filter(L::State.eq(LeaveState::Requested.as_str()))
        .exec(&txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(AppError::new(
            ErrorCode::ReviewState,
            format!("该请假申请{}，不能再审批", state_of(&row).label()),
        ));
    }
    crate::audit::record(
        &txn,
        &principal.actor(),
        crate::audit::Entry::new(
            if approve {
                "approve_leave"
            } else {
                "refuse_leave"
            },
            "leave_request",
            id,
        )
        .org(OrgId(row.org_id))
        .before(serde_json::json!({"state": row.state}))
        .after(serde_json::json!({"state": to.as_str(), "reason": reason})),
    )
    .await?;
    txn.commit().await?;
    let done = find(&state.db, id).await?;
    super::notify::leave_answered(state, &done).await;
    Ok(done)
}

/// Members with approved leave from the activity.
pub async fn approved_for(db: &impl ConnectionTrait, activity_id: i64) -> AppResult<HashSet<i64>> {
    Ok(Leaves::find()
        .select_only()
        .column(L::PersonId)
        .filter(L::ActivityId.eq(activity_id))
        .filter(L::State.eq(LeaveState::Approved.as_str()))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// The member's own requests, newest first.
pub async fn list_for_member(db: &impl ConnectionTrait, person: i64) -> AppResult<Vec<Leave>> {
    Ok(Leaves::find()
        .filter(L::PersonId.eq(person))
        .order_by_desc(L::Id)
        .limit(50)
        .all(db)
        .await?)
}

/// Requests in the principal's scope: waiting ones first, then the latest answers.
pub async fn list_in_scope(
    state: &AppState,
    principal: &Principal,
    waiting_only: bool,
) -> AppResult<Vec<Leave>> {
    principal.require(Perm::ActivityRead)?;
    let orgs = scope_org_ids(&state.db, principal).await?;
    let mut q = Leaves::find();
    if let Some(ids) = orgs {
        q = q.filter(L::OrgId.is_in(ids));
    }
    if waiting_only {
        q = q.filter(L::State.eq(LeaveState::Requested.as_str()));
    }
    Ok(q.order_by_desc(L::Id).limit(100).all(&state.db).await?)
}

/// Organization ids under the principal's scope (`None`: everything).
pub(crate) async fn scope_org_ids(
    db: &impl ConnectionTrait,
    principal: &Principal,
) -> AppResult<Option<Vec<i64>>> {
    let Some(scope) = principal.scope_path.as_deref() else {
        return Ok(None);
    };
    Ok(Some(
        entity::organization::Entity::find()
            .select_only()
            .column(entity::organization::Column::Id)
            .filter(entity::organization::Column::Path.starts_with(scope))
            .into_tuple::<i64>()
            .all(db)
            .await?,
    ))
}

/// Staff enter leave for a member (one without a phone): the person must be in scope.
pub async fn enter_for(
    state: &AppState,
    principal: &Principal,
    person: PersonId,
    activity_id: i64,
    reason: &str,
) -> AppResult<Leave> {
    let p = crate::org::people::scoped(&state.db, principal, Perm::ActivityWrite, person)
        .await
        .map_err(|e| match e.code {
            ErrorCode::Forbidden => AppError::not_found("没有找到该党员"),
            _ => e,
        })?;
    request(
        state,
        &p,
        activity_id,
        reason,
        &principal.actor(),
        principal.role.allows(Perm::Review),
    )
    .await
}

/// When the activity starts, in the member's words.
pub fn starts_label(a: &entity::activity::Model, tz: chrono_tz::Tz) -> String {
    a.starts_at
        .with_timezone(&tz)
        .format("%-m月%-d日 %H:%M")
        .to_string()
}
