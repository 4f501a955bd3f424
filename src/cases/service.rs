//! The case services, callable from the API handlers, the member pages and the console.
//!
//! - [`file_dispute`]: a member files a dispute (one open per target; a closed year refuses).
//! - [`list_inbox`], [`get`]: staff read the cases their scope covers (others are 404).
//! - [`accept`], [`propose`], [`reject`]: staff answer; accepting records the correction
//!   through `checkin::manual` with the dispute's reason.
//! - [`list_for_member`], [`get_for_member`], [`escalate`]: the member's side.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};

use super::{CaseState, Target};
use crate::audit::{Actor, Entry};
use crate::auth::{Perm, Principal, Role};
use crate::checkin::manual::{self, Correction, CorrectionAction, EntryMethod, NewEntries};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::OrgId;
use crate::ledger::inputs::{tz_of, year_of};
use crate::state::AppState;
use crate::uploads::{self, CleanImage, Owner};

const DISPUTE: &str = "dispute";
const MAX_REASON_CHARS: usize = 500;

/// What accepting a dispute records. Secretaries may record a 补签 or an item; the other
/// actions correct recorded facts and are for admins (a secretary proposes them).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Remedy {
    /// 补签: recorded, earns nothing.
    Backfill,
    /// A missing check-in, at the time it happened.
    Add { at: DateTime<FixedOffset> },
    /// The check-in happened at another time: annul + add.
    Reclassify { at: DateTime<FixedOffset> },
    /// The check-in (or, for a disputed ledger line without an activity, the fact
    /// behind the line) does not count.
    Annul,
    /// An item of the member's policy (a bonus, a deduction, a record), as the items
    /// endpoint records it; `at` defaults to the activity's start, else now.
    Item {
        item: String,
        #[schema(value_type = Option<Object>)]
        fields: Option<serde_json::Value>,
        at: Option<DateTime<FixedOffset>>,
    },
}

impl Remedy {
    fn secretary_may_record(&self) -> bool {
        matches!(self, Self::Backfill | Self::Item { .. })
    }

    /// Whether the remedy applies to the case at all (before anything is claimed).
    fn check(&self, case: &entity::case::Model) -> AppResult<()> {
        let needs_activity = match self {
            Self::Backfill | Self::Add { .. } | Self::Reclassify { .. } => true,
            Self::Annul => case.target_kind != "ledger_entry",
            Self::Item { .. } => false,
        };
        if needs_activity && case.activity_id.is_none() {
            return Err(AppError::field(
                "remedy",
                "该异议不涉及活动签到，无法以签到更正采纳；可记录事项，或写明理由后答复",
            ));
        }
        Ok(())
    }

    pub fn label(&self) -> &'static str {
        match self {
            Self::Backfill => "补签",
            Self::Add { .. } => "补录签到",
            Self::Reclassify { .. } => "更正签到时间",
            Self::Annul => "作废记录",
            Self::Item { .. } => "记录事项",
        }
    }
}

pub struct NewDispute {
    pub target: Target,
    pub reason: String,
    /// Already checked and cleaned (`uploads::clean_image`).
    pub photo: Option<CleanImage>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageView {
    pub action: String,
    pub author: String,
    pub body: String,
    pub at: DateTime<Utc>,
}

/// What each side of the queue may do with the case now.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Allowed {
    pub accept: bool,
    /// Accept with a correction of recorded facts (admins).
    pub correct: bool,
    pub propose: bool,
    pub reject: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseView {
    pub id: i64,
    pub kind: String,
    pub state: CaseState,
    pub state_label: &'static str,
    pub target_kind: String,
    pub target_id: i64,
    /// What the dispute is about, in words.
    pub target_label: String,
    pub activity_id: Option<i64>,
    pub year: i32,
    pub person_id: Option<i64>,
    pub person_name: String,
    pub filed_org_id: i64,
    /// The organization answering it now.
    pub org_id: i64,
    pub org_name: String,
    pub reason: String,
    /// What is recorded now (the member's attendance at the activity).
    pub current: Option<String>,
    /// A secretary's proposed correction, waiting for an admin.
    #[schema(value_type = Option<Object>)]
    pub proposal: Option<serde_json::Value>,
    pub outcome: Option<String>,
    pub outcome_fact_id: Option<i64>,
    pub deadline: DateTime<Utc>,
    pub overdue: bool,
    pub escalations: i32,
    pub filed_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Upload ids of the attached photos.
    pub attachments: Vec<i64>,
    pub messages: Vec<MessageView>,
    pub allowed: Allowed,
}

pub(crate) fn state_of(c: &entity::case::Model) -> CaseState {
    CaseState::parse(&c.state).unwrap_or(CaseState::Open)
}

fn open_key(person_id: i64, target: Target) -> String {
    format!("{DISPUTE}:{person_id}:{}", target.key())
}

/// The organization answering a member's dispute first: the branch (a party group's
/// branch is its parent).
async fn answering_org(
    db: &impl ConnectionTrait,
    org: &entity::organization::Model,
) -> AppResult<entity::organization::Model> {
    match (org.kind.as_str(), org.parent_id) {
        ("group", Some(parent)) => crate::org::service::find(db, OrgId(parent)).await,
        _ => Ok(org.clone()),
    }
}

/// (activity, year) of a target that belongs to `person`; 404 for anyone else's.
async fn resolve(
    state: &AppState,
    person: &entity::person::Model,
    org: &entity::organization::Model,
    target: Target,
) -> AppResult<(Option<entity::activity::Model>, i32)> {
    let db = &state.db;
    let not_found = || AppError::not_found("没有找到这条记录");
    let activity = |id: Option<i64>| async move {
        match id {
            Some(id) => Ok::<_, AppError>(Some(
                entity::activity::Entity::find_by_id(id)
                    .one(db)
                    .await?
                    .ok_or_else(not_found)?,
            )),
            None => Ok(None),
        }
    };
    let tz = tz_of(org);
    match target {
        Target::LedgerEntry(id) => {
            let e = entity::ledger_entry::Entity::find_by_id(id)
                .one(db)
                .await?
                .filter(|e| e.subject_kind == "person" && e.subject_id == person.id)
                .ok_or_else(not_found)?;
            let activity_id = match (e.source_kind.as_str(), e.source_id) {
                ("activity", id) => id,
                ("fact", Some(f)) => entity::fact::Entity::find_by_id(f)
                    .one(db)
                    .await?
                    .and_then(|f| f.activity_id),
                _ => None,
            };
            Ok((activity(activity_id).await?, e.year))
        }
        Target::CheckIn(id) => {
            let f = entity::fact::Entity::find_by_id(id)
                .one(db)
                .await?
                .filter(|f| f.kind == "checkin" && f.person_id == Some(person.id))
                .ok_or_else(not_found)?;
            Ok((activity(f.activity_id).await?, f.year))
        }
        Target::Refusal(id) => {
            let r = entity::checkin_refusal::Entity::find_by_id(id)
                .one(db)
                .await?
                .filter(|r| r.person_id == Some(person.id))
                .ok_or_else(not_found)?;
            let a = activity(r.activity_id).await?;
            let year = year_of(a.as_ref().map_or(r.at, |a| a.starts_at), tz);
            Ok((a, year))
        }
        Target::Missing(id) => {
            let a = activity(Some(id)).await?.ok_or_else(not_found)?;
            if !crate::checkin::activities::takes_part(db, &a, &org.path).await? {
                return Err(not_found());
            }
            if a.starts_at > state.clock.now() {
                return Err(AppError::field("target", "活动尚未开始，不能提出异议"));
            }
            let year = year_of(a.starts_at, tz);
            Ok((Some(a), year))
        }
    }
}

/// A member files a dispute. One open dispute per target per member
/// ([`ErrorCode::DisputeOpen`]); a closed year refuses ([`ErrorCode::YearClosed`]).
pub async fn file_dispute(
    state: &AppState,
    person: &entity::person::Model,
    input: NewDispute,
    ip: Option<String>,
) -> AppResult<entity::case::Model> {
    let actor = Actor::member(person.id, ip);
    file(state, person, input, &actor, &person.name, None).await
}

/// Staff open a dispute on a member's behalf (a member without a smartphone, one who
/// asked in person): the same rules as the member's own filing, the member in the
/// staff's scope (else 404), the filing recorded as theirs. The member is notified.
pub async fn file_for_member(
    state: &AppState,
    principal: &Principal,
    person_id: i64,
    input: NewDispute,
) -> AppResult<entity::case::Model> {
    principal.require(Perm::ScoresWrite)?;
    let person = crate::org::people::scoped(
        &state.db,
        principal,
        Perm::ScoresWrite,
        crate::ids::PersonId(person_id),
    )
    .await
    .map_err(|e| match e.code {
        ErrorCode::Forbidden => AppError::not_found("没有找到该党员，或不在您的管辖范围内"),
        _ => e,
    })?;
    let name = actor_name(principal);
    file(
        state,
        &person,
        input,
        &principal.actor(),
        &name,
        Some(principal.account_id.0),
    )
    .await
}

/// Files a dispute as `actor` (the member, or staff on the member's behalf).
async fn file(
    state: &AppState,
    person: &entity::person::Model,
    input: NewDispute,
    actor: &Actor,
    author_name: &str,
    on_behalf_of_staff: Option<i64>,
) -> AppResult<entity::case::Model> {
    let reason = input.reason.trim().to_owned();
    if reason.is_empty() {
        return Err(AppError::field("reason", "请写明异议的理由"));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(AppError::field(
            "reason",
            format!("理由不能超过 {MAX_REASON_CHARS} 字"),
        ));
    }
    let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
    let (activity, year) = resolve(state, person, &org, input.target).await?;
    if crate::ledger::post::year_closed(&state.db, &org.path, year).await? {
        return Err(AppError::new(
            ErrorCode::YearClosed,
            format!("{year} 年度已结转，积分不再更改，不能再提出异议；如有问题请联系支部书记"),
        ));
    }
    let answering = answering_org(&state.db, &org).await?;
    let now = state.clock.now();
    let key = open_key(person.id, input.target);
    let txn = crate::db::begin(&state.db).await?;
    let taken = || {
        AppError::new(
            ErrorCode::DisputeOpen,
            "您对这条记录的异议还在处理中，请等待答复后再提出",
        )
    };
    let case = open_case(
        &txn,
        Opening {
            kind: DISPUTE,
            subject_person_id: Some(person.id),
            target_kind: input.target.kind(),
            target_id: input.target.id(),
            activity_id: activity.as_ref().map(|a| a.id),
            year,
            filed_org_id: org.id,
            org_id: answering.id,
            open_key: Some(key),
            reason: &reason,
            deadline: now + Duration::days(state.settings.disputes.answer_days),
        },
        now,
        taken,
    )
    .await?;
    let body = match on_behalf_of_staff {
        Some(_) => format!("代{}提出：{reason}", person.name),
        None => reason.clone(),
    };
    message(&txn, case.id, "filed", actor, author_name, &body, now).await?;
    let mut photo = None;
    if let Some(img) = &input.photo {
        let owner = match on_behalf_of_staff {
            Some(account) => Owner::Account(account),
            None => Owner::Member(person.id),
        };
        let u = uploads::store(&txn, img, owner, Some(case.id), now).await?;
        entity::case_attachment::ActiveModel {
            id: NotSet,
            case_id: Set(case.id),
            upload_id: Set(u.id),
            added_at: Set(now),
        }
        .insert(&txn)
        .await?;
        photo = Some(u.id);
    }
    crate::audit::record(
        &txn,
        actor,
        Entry::new("file_dispute", "case", case.id)
            .org(OrgId(org.id))
            .after(serde_json::json!({"target": input.target.key(), "reason": reason, "photo": photo, "answering_org": answering.id, "deadline": case.deadline, "person": person.id, "on_behalf": on_behalf_of_staff.is_some()})),
    )
    .await?;
    txn.commit().await?;
    notify(state, person, &case, "已收到您的异议").await;
    Ok(case)
}

/// What a new case is about; it opens in state `open`, unanswered.
pub(crate) struct Opening<'a> {
    pub kind: &'a str,
    pub subject_person_id: Option<i64>,
    pub target_kind: &'a str,
    pub target_id: i64,
    pub activity_id: Option<i64>,
    pub year: i32,
    /// The subject's organization: who may see the case.
    pub filed_org_id: i64,
    /// The organization answering it.
    pub org_id: i64,
    /// One open case per key (none: no limit).
    pub open_key: Option<String>,
    pub reason: &'a str,
    pub deadline: DateTime<Utc>,
}

/// Opens a case (disputes, objections, investigations) in the caller's transaction. A
/// case already open under its key is `taken()`; two filings at once are settled by the
/// unique open key, the loser getting `taken()` too.
pub(crate) async fn open_case(
    txn: &impl ConnectionTrait,
    o: Opening<'_>,
    now: DateTime<Utc>,
    taken: impl Fn() -> AppError,
) -> AppResult<entity::case::Model> {
    if let Some(k) = &o.open_key
        && entity::case::Entity::find()
            .filter(entity::case::Column::OpenKey.eq(k.clone()))
            .one(txn)
            .await?
            .is_some()
    {
        return Err(taken());
    }
    entity::case::ActiveModel {
        id: NotSet,
        kind: Set(o.kind.to_owned()),
        subject_person_id: Set(o.subject_person_id),
        target_kind: Set(o.target_kind.to_owned()),
        target_id: Set(o.target_id),
        activity_id: Set(o.activity_id),
        year: Set(o.year),
        filed_org_id: Set(o.filed_org_id),
        org_id: Set(o.org_id),
        state: Set(CaseState::Open.as_str().to_owned()),
        open_key: Set(o.open_key),
        reason: Set(o.reason.to_owned()),
        proposal: Set(None),
        outcome: Set(None),
        outcome_fact_id: Set(None),
        deadline: Set(o.deadline),
        escalations: Set(0),
        filed_at: Set(now),
        decided_by: Set(None),
        closed_at: Set(None),
        updated_at: Set(now),
    }
    .insert(txn)
    .await
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => taken(),
        _ => AppError::from(e),
    })
}

pub(crate) async fn message(
    db: &impl ConnectionTrait,
    case_id: i64,
    action: &str,
    actor: &Actor,
    author_name: &str,
    body: &str,
    at: DateTime<Utc>,
) -> AppResult<()> {
    entity::case_message::ActiveModel {
        id: NotSet,
        case_id: Set(case_id),
        action: Set(action.to_owned()),
        author_kind: Set(actor.kind.to_owned()),
        author_id: Set(actor.id),
        author_name: Set(author_name.to_owned()),
        body: Set(body.to_owned()),
        at: Set(at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Tells the member by template message (the simulator's inbox in the sandbox); a
/// failure is logged, the step stands.
async fn notify(
    state: &AppState,
    person: &entity::person::Model,
    case: &entity::case::Model,
    what: &str,
) {
    let data = serde_json::json!({
        "thing1": {"value": format!("异议 #{}", case.id)},
        "thing2": {"value": state_of(case).label()},
        "thing3": {"value": what.chars().take(20).collect::<String>()},
    });
    // One message per step: the step's state and time make the id.
    let msg_id = format!(
        "case-{}-{}-{}",
        case.id,
        case.state,
        case.updated_at.timestamp_millis()
    );
    crate::notify::template(
        state,
        person.openid.as_deref(),
        "dispute",
        &data,
        &format!("/m/disputes/{}", case.id),
        &msg_id,
    )
    .await;
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    /// `waiting` (default: what waits for the caller), `all` (every case in scope).
    pub view: Option<String>,
    /// Only cases in this state.
    pub state: Option<CaseState>,
    /// Cursor: the smallest id of the previous page.
    pub before: Option<i64>,
    /// At most 200 (default 50).
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseSummary {
    pub id: i64,
    pub kind: String,
    pub state: CaseState,
    pub state_label: &'static str,
    pub target_kind: String,
    pub person_id: Option<i64>,
    pub person_name: String,
    pub org_id: i64,
    pub reason: String,
    pub deadline: DateTime<Utc>,
    pub overdue: bool,
    pub filed_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Inbox {
    pub items: Vec<CaseSummary>,
    /// Pass as `before` for the next page.
    pub next: Option<i64>,
}

/// The states that wait for this role.
fn waiting_states(role: Role) -> Vec<&'static str> {
    match role {
        Role::Secretary => vec![CaseState::Open.as_str()],
        _ => vec![
            CaseState::Open.as_str(),
            CaseState::Proposed.as_str(),
            CaseState::Escalated.as_str(),
        ],
    }
}

/// Ids of the organizations inside the principal's scope, as a subquery.
fn scope_orgs(principal: &Principal) -> sea_orm::sea_query::SelectStatement {
    use entity::organization::{Column, Entity};
    let mut q = Query::select();
    q.column(Column::Id).from(Entity);
    if let Some(scope) = &principal.scope_path {
        q.and_where(Expr::col(Column::Path).like(format!("{scope}%")));
    }
    q.to_owned()
}

/// The cases waiting for the principal (`view=waiting`: answerable by their role in
/// their scope) or every case filed in their scope (`view=all`), newest first.
pub async fn list_inbox(
    state: &AppState,
    principal: &Principal,
    q: InboxQuery,
) -> AppResult<Inbox> {
    use entity::case::{Column, Entity};
    let db = &state.db;
    principal.require(Perm::ScoresRead)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let mut find = Entity::find();
    match q.view.as_deref().unwrap_or("waiting") {
        "waiting" => {
            find = find
                .filter(Column::OrgId.in_subquery(scope_orgs(principal)))
                .filter(Column::State.is_in(waiting_states(principal.role)));
        }
        "all" => find = find.filter(Column::FiledOrgId.in_subquery(scope_orgs(principal))),
        _ => return Err(AppError::field("view", "view 只能是 waiting 或 all")),
    }
    if let Some(s) = q.state {
        find = find.filter(Column::State.eq(s.as_str()));
    }
    if let Some(b) = q.before {
        find = find.filter(Column::Id.lt(b));
    }
    let rows = find
        .order_by_desc(Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let names = person_names(db, rows.iter().filter_map(|c| c.subject_person_id)).await?;
    let now = state.clock.now();
    let items: Vec<CaseSummary> = rows
        .iter()
        .map(|c| {
            let state = state_of(c);
            CaseSummary {
                id: c.id,
                kind: c.kind.clone(),
                state,
                state_label: state.label(),
                target_kind: c.target_kind.clone(),
                person_id: c.subject_person_id,
                person_name: c
                    .subject_person_id
                    .and_then(|p| names.get(&p).cloned())
                    .unwrap_or_default(),
                org_id: c.org_id,
                reason: c.reason.clone(),
                deadline: c.deadline,
                overdue: state.is_open() && c.deadline < now,
                filed_at: c.filed_at,
            }
        })
        .collect();
    Ok(Inbox {
        next: more.then(|| items.last().map(|i| i.id)).flatten(),
        items,
    })
}

async fn person_names(
    db: &impl ConnectionTrait,
    ids: impl Iterator<Item = i64>,
) -> AppResult<std::collections::HashMap<i64, String>> {
    let ids: Vec<i64> = ids.collect();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(entity::person::Entity::find()
        .filter(entity::person::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect())
}

pub(crate) async fn find_case(
    db: &impl ConnectionTrait,
    id: i64,
) -> AppResult<entity::case::Model> {
    entity::case::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(format!("异议 {id} 不存在")))
}

/// The case, if the principal may read it: its subject's organization lies in their
/// scope. Otherwise 404, as for an id that does not exist.
async fn scoped_case(
    db: &impl ConnectionTrait,
    principal: &Principal,
    id: i64,
) -> AppResult<(entity::case::Model, entity::organization::Model)> {
    principal.require(Perm::ScoresRead)?;
    let case = find_case(db, id).await?;
    let filed = crate::org::service::find(db, OrgId(case.filed_org_id)).await?;
    if !principal.covers(&filed.path) {
        return Err(AppError::not_found(format!("异议 {id} 不存在")));
    }
    Ok((case, filed))
}

/// What the principal may do with the case now.
async fn allowed(
    db: &impl ConnectionTrait,
    principal: &Principal,
    case: &entity::case::Model,
) -> AppResult<Allowed> {
    let state = state_of(case);
    if !state.is_open() || !principal.role.allows(Perm::ScoresWrite) {
        return Ok(Allowed::default());
    }
    let answering = crate::org::service::find(db, OrgId(case.org_id)).await?;
    if !principal.covers(&answering.path) {
        return Ok(Allowed::default());
    }
    let admin = principal.role.allows(Perm::Correct);
    Ok(Allowed {
        accept: admin || state == CaseState::Open,
        correct: admin,
        propose: !admin && state == CaseState::Open,
        reject: admin || state == CaseState::Open,
    })
}

async fn view(
    state: &AppState,
    case: entity::case::Model,
    allowed: Allowed,
) -> AppResult<CaseView> {
    let db = &state.db;
    let person = match case.subject_person_id {
        Some(p) => entity::person::Entity::find_by_id(p).one(db).await?,
        None => None,
    };
    let filed = crate::org::service::find(db, OrgId(case.filed_org_id)).await?;
    let answering = crate::org::service::find(db, OrgId(case.org_id)).await?;
    let activity = match case.activity_id {
        Some(a) => entity::activity::Entity::find_by_id(a).one(db).await?,
        None => None,
    };
    let when = |a: &entity::activity::Model| {
        a.starts_at
            .with_timezone(&tz_of(&filed))
            .format("%m月%d日 %H:%M")
            .to_string()
    };
    let target_label = match (case.target_kind.as_str(), &activity) {
        ("missing", Some(a)) => format!("未记签到：{}（{}）", a.title, when(a)),
        ("refusal", Some(a)) => format!("签到未成功：{}（{}）", a.title, when(a)),
        ("checkin", Some(a)) => format!("签到记录：{}（{}）", a.title, when(a)),
        ("ledger_entry", _) => {
            let note = entity::ledger_entry::Entity::find_by_id(case.target_id)
                .one(db)
                .await?
                .map(|e| e.note)
                .unwrap_or_default();
            format!("积分记录：{note}")
        }
        _ => format!("记录 {}", case.target_id),
    };
    let current = match (&person, &activity) {
        (Some(p), Some(a)) => {
            // The member's check-ins are classed by their own organization's policy.
            let org = crate::org::service::find(db, OrgId(p.org_id)).await?;
            let tz = tz_of(&org);
            let year = crate::ledger::inputs::year_of(a.starts_at.with_timezone(&chrono::Utc), tz);
            let terms = crate::checkin::scan::terms_for(db, &state.scoring, &org, year).await?;
            let marks =
                crate::checkin::makeup::marks(db, p.id, std::slice::from_ref(a), terms, tz).await?;
            Some(match marks.get(&a.id) {
                Some(m) => {
                    let label = crate::checkin::makeup::status_label(m.status);
                    match m.at {
                        Some(at) => format!(
                            "{label}（{}）",
                            at.with_timezone(&tz_of(&filed)).format("%m月%d日 %H:%M:%S")
                        ),
                        None => label.to_owned(),
                    }
                }
                None => crate::checkin::makeup::status_label(
                    crate::checkin::attendance::Status::Missing,
                )
                .to_owned(),
            })
        }
        _ => None,
    };
    let messages = entity::case_message::Entity::find()
        .filter(entity::case_message::Column::CaseId.eq(case.id))
        .order_by_asc(entity::case_message::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|m| MessageView {
            action: m.action,
            author: m.author_name,
            body: m.body,
            at: m.at,
        })
        .collect();
    let attachments = entity::case_attachment::Entity::find()
        .filter(entity::case_attachment::Column::CaseId.eq(case.id))
        .order_by_asc(entity::case_attachment::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|a| a.upload_id)
        .collect();
    let st = state_of(&case);
    Ok(CaseView {
        id: case.id,
        kind: case.kind,
        state: st,
        state_label: st.label(),
        target_kind: case.target_kind,
        target_id: case.target_id,
        target_label,
        activity_id: case.activity_id,
        year: case.year,
        person_id: case.subject_person_id,
        person_name: person.map(|p| p.name).unwrap_or_default(),
        filed_org_id: case.filed_org_id,
        org_id: case.org_id,
        org_name: answering.name,
        reason: case.reason,
        current,
        proposal: case
            .proposal
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok()),
        outcome: case.outcome,
        outcome_fact_id: case.outcome_fact_id,
        deadline: case.deadline,
        overdue: st.is_open() && case.deadline < state.clock.now(),
        escalations: case.escalations,
        filed_at: case.filed_at,
        closed_at: case.closed_at,
        attachments,
        messages,
        allowed,
    })
}

/// One case for staff (404 outside their scope), with what they may do with it.
pub async fn get(state: &AppState, principal: &Principal, id: i64) -> AppResult<CaseView> {
    let (case, _) = scoped_case(&state.db, principal, id).await?;
    let allowed = allowed(&state.db, principal, &case).await?;
    view(state, case, allowed).await
}

/// The case, readable and answerable by the principal now, or why not.
async fn answerable(
    state: &AppState,
    principal: &Principal,
    id: i64,
) -> AppResult<(entity::case::Model, entity::organization::Model, Allowed)> {
    principal.require(Perm::ScoresWrite)?;
    let (case, filed) = scoped_case(&state.db, principal, id).await?;
    if case.kind != DISPUTE {
        // Objections and investigations are answered on their own pages (with their rules).
        return Err(AppError::new(
            ErrorCode::CaseState,
            "该事项请在公示或调查页面处理",
        ));
    }
    if !state_of(&case).is_open() {
        return Err(AppError::new(
            ErrorCode::CaseState,
            format!("该异议已{}，不能再处理", state_of(&case).label()),
        ));
    }
    let allowed = allowed(&state.db, principal, &case).await?;
    if !(allowed.accept || allowed.reject) {
        return Err(AppError::new(
            ErrorCode::CaseState,
            match state_of(&case) {
                CaseState::Proposed => "已提交上级管理员审核，请等待答复",
                CaseState::Escalated => "该异议已提交上级组织处理",
                _ => "该异议不由您处理",
            },
        ));
    }
    Ok((case, filed, allowed))
}

/// Moves the case from the state it was read in to `to`, or fails if someone else moved
/// it meanwhile (two answers at once: one wins).
pub(crate) async fn transition(
    db: &impl ConnectionTrait,
    case: &entity::case::Model,
    to: CaseState,
    set: impl FnOnce(&mut entity::case::ActiveModel),
) -> AppResult<entity::case::Model> {
    use entity::case::{Column, Entity};
    let mut active: entity::case::ActiveModel = case.clone().into();
    active.state = Set(to.as_str().to_owned());
    set(&mut active);
    let res = Entity::update_many()
        .set(active.clone())
        .filter(Column::Id.eq(case.id))
        .filter(Column::State.eq(case.state.clone()))
        .filter(Column::UpdatedAt.eq(case.updated_at))
        .exec(db)
        .await?;
    if res.rows_affected != 1 {
        return Err(AppError::new(
            ErrorCode::CaseState,
            "该异议刚被他人处理，请刷新后查看",
        ));
    }
    find_case(db, case.id).await
}

pub(crate) fn actor_name(principal: &Principal) -> String {
    format!("{}（{}）", principal.username, principal.role.label())
}

/// Accepts the dispute, recording `remedy` (or, for a proposed case, the secretary's
/// proposal when `remedy` is none) through the check-in services with the dispute's
/// reason. Secretaries may only record a 补签.
pub async fn accept(
    state: &AppState,
    principal: &Principal,
    id: i64,
    remedy: Option<Remedy>,
    note: Option<String>,
) -> AppResult<CaseView> {
    let (case, filed, allowed) = answerable(state, principal, id).await?;
    if !allowed.accept {
        return Err(AppError::new(ErrorCode::CaseState, "该异议不由您处理"));
    }
    let remedy = match remedy {
        Some(r) => r,
        None => case
            .proposal
            .as_deref()
            .and_then(|p| serde_json::from_str::<Remedy>(p).ok())
            .ok_or_else(|| AppError::field("remedy", "请选择采纳后的处理方式"))?,
    };
    if !remedy.secretary_may_record() && !allowed.correct {
        return Err(AppError::forbidden(
            "支部书记只能以补签或记录事项采纳；作废、补录或更正签到请提交上级管理员审核",
        ));
    }
    let person = match case.subject_person_id {
        Some(p) => crate::org::people::find(&state.db, crate::ids::PersonId(p)).await?,
        None => return Err(AppError::field("remedy", "该异议没有当事人")),
    };
    remedy.check(&case)?;
    let activity = match case.activity_id {
        Some(a) => Some(crate::checkin::attendance::activity(&state.db, a).await?),
        None => None,
    };
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    let now = state.clock.now();
    let outcome = match &note {
        Some(n) => format!("已采纳：{}。{n}", remedy.label()),
        None => format!("已采纳：{}", remedy.label()),
    };
    // Claim the case first, so two staff accepting at once record one correction.
    let actor = principal.actor();
    let txn = crate::db::begin(&state.db).await?;
    let claimed = transition(&txn, &case, CaseState::Accepted, |a| {
        a.open_key = Set(None);
        a.outcome = Set(Some(outcome.clone()));
        a.decided_by = Set(Some(principal.account_id.0));
        a.closed_at = Set(Some(now));
        a.updated_at = Set(now);
    })
    .await?;
    message(
        &txn,
        case.id,
        "accepted",
        &actor,
        &actor_name(principal),
        &outcome,
        now,
    )
    .await?;
    crate::audit::record(
        &txn,
        &actor,
        Entry::new("accept_dispute", "case", case.id)
            .org(OrgId(filed.id))
            .before(serde_json::json!({"state": case.state}))
            .after(serde_json::json!({"state": "accepted", "remedy": remedy, "note": note})),
    )
    .await?;
    txn.commit().await?;
    // The correction itself: the existing services, each audited in its own transaction.
    let reason = format!("异议 #{}：{}", case.id, case.reason)
        .chars()
        .take(200)
        .collect::<String>();
    let applied = apply(
        state,
        principal,
        &case,
        &filed,
        &person,
        activity.as_ref(),
        &remedy,
        reason,
    )
    .await;
    let fact_id = match applied {
        Ok(f) => f,
        Err(e) => {
            // Put the case back as it was; the correction was not recorded.
            let back = async {
                let txn = crate::db::begin(&state.db).await?;
                transition(&txn, &claimed, state_of(&case), |a| {
                    a.open_key = Set(case.open_key.clone());
                    a.outcome = Set(case.outcome.clone());
                    a.decided_by = Set(case.decided_by);
                    a.closed_at = Set(None);
                    a.updated_at = Set(state.clock.now());
                })
                .await?;
                message(
                    &txn,
                    case.id,
                    "reopened",
                    &Actor::system(),
                    "系统",
                    &format!("更正未能记录：{}", e.detail),
                    state.clock.now(),
                )
                .await?;
                crate::audit::record(
                    &txn,
                    &Actor::system(),
                    Entry::new("reopen_dispute", "case", case.id)
                        .org(OrgId(filed.id))
                        .after(serde_json::json!({"state": case.state, "why": e.detail})),
                )
                .await?;
                txn.commit().await?;
                Ok::<_, AppError>(())
            };
            if let Err(again) = back.await {
                tracing::error!(case = case.id, error = %again.detail, "dispute not reopened after a failed correction");
            }
            return Err(e);
        }
    };
    let txn = crate::db::begin(&state.db).await?;
    let done = transition(&txn, &claimed, CaseState::Accepted, |a| {
        a.outcome_fact_id = Set(fact_id);
    })
    .await?;
    crate::audit::record(
        &txn,
        &actor,
        Entry::new("link_dispute_correction", "case", case.id)
            .org(OrgId(filed.id))
            .after(serde_json::json!({"fact": fact_id})),
    )
    .await?;
    txn.commit().await?;
    notify(state, &person, &done, &outcome).await;
    let allowed = allowed_after(state, principal, &done).await?;
    view(state, done, allowed).await
}

async fn allowed_after(
    state: &AppState,
    principal: &Principal,
    case: &entity::case::Model,
) -> AppResult<Allowed> {
    allowed(&state.db, principal, case).await
}

/// Records the remedy through the existing services (check-in entries and corrections,
/// items, annulments); the new fact's id.
#[allow(clippy::too_many_arguments)]
async fn apply(
    state: &AppState,
    principal: &Principal,
    case: &entity::case::Model,
    filed: &entity::organization::Model,
    person: &entity::person::Model,
    activity: Option<&entity::activity::Model>,
    remedy: &Remedy,
    reason: String,
) -> AppResult<Option<i64>> {
    let evidence = Some(format!("异议 #{}", case.id));
    if let Remedy::Item { item, fields, at } = remedy {
        let at = at.unwrap_or_else(|| {
            activity
                .map_or_else(|| state.clock.now(), |a| a.starts_at)
                .fixed_offset()
        });
        let fields = match fields {
            Some(v) => Some(
                serde_json::value::RawValue::from_string(v.to_string())
                    .map_err(AppError::internal)?,
            ),
            None => None,
        };
        let r = crate::ledger::routes::record_item_as(
            state,
            principal,
            crate::ledger::routes::NewItem {
                person_id: Some(crate::ids::PersonId(person.id)),
                org_id: None,
                item: item.clone(),
                at,
                fields,
                reason: Some(reason),
                evidence,
            },
        )
        .await?;
        return Ok(Some(r.fact_id));
    }
    let Some(activity) = activity else {
        // A disputed ledger line without an activity: annul the fact behind it.
        principal.require_in(Perm::Correct, &filed.path)?;
        let line = entity::ledger_entry::Entity::find_by_id(case.target_id)
            .one(&state.db)
            .await?
            .filter(|l| l.source_kind == "fact");
        let fact = match line.and_then(|l| l.source_id) {
            Some(f) => entity::fact::Entity::find_by_id(f).one(&state.db).await?,
            None => None,
        }
        .ok_or_else(|| AppError::field("remedy", "这条积分记录不能作废，请写明理由后答复"))?;
        let r =
            crate::ledger::routes::annul(state, principal, &fact, filed, reason, evidence).await?;
        return Ok(Some(r.fact_id));
    };
    let action = match remedy {
        Remedy::Item { .. } => return Err(AppError::field("remedy", "无法识别的处理方式")),
        Remedy::Backfill => {
            principal.require_in(Perm::ActivityWrite, &filed.path)?;
            let out = manual::enter(
                state,
                principal,
                activity,
                NewEntries {
                    person_ids: vec![person.id],
                    method: EntryMethod::Backfill,
                    reason,
                },
            )
            .await?;
            let first = out.into_iter().next();
            return match first {
                Some(r) if r.result == "recorded" => Ok(r.fact_id),
                Some(r) if r.result == "duplicate" => {
                    Err(AppError::conflict("该党员本次活动已有补签记录"))
                }
                _ => Err(AppError::field("remedy", "该党员不在本次活动的参加范围内")),
            };
        }
        Remedy::Add { .. } => CorrectionAction::Add,
        Remedy::Reclassify { .. } => CorrectionAction::Reclassify,
        Remedy::Annul => CorrectionAction::Annul,
    };
    let at = match remedy {
        Remedy::Add { at } | Remedy::Reclassify { at } => Some(*at),
        _ => None,
    };
    let r = manual::correct(
        state,
        principal,
        activity,
        Correction {
            person_id: person.id,
            action,
            at,
            reason,
            evidence,
        },
    )
    .await?;
    Ok(r.added.or_else(|| r.annulled.first().copied()))
}

/// A secretary proposes a correction only admins may record; the admins above answer.
pub async fn propose(
    state: &AppState,
    principal: &Principal,
    id: i64,
    remedy: Remedy,
    note: Option<String>,
) -> AppResult<CaseView> {
    let (case, filed, allowed) = answerable(state, principal, id).await?;
    if !allowed.propose {
        return Err(AppError::new(
            ErrorCode::CaseState,
            "管理员可直接采纳或驳回，无需提议",
        ));
    }
    remedy.check(&case)?;
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    let now = state.clock.now();
    let body = match &note {
        Some(n) => format!("提请上级管理员{}：{n}", remedy.label()),
        None => format!("提请上级管理员{}", remedy.label()),
    };
    let proposal = serde_json::to_string(&remedy).map_err(AppError::internal)?;
    let actor = principal.actor();
    let txn = crate::db::begin(&state.db).await?;
    let done = transition(&txn, &case, CaseState::Proposed, |a| {
        a.proposal = Set(Some(proposal));
        a.updated_at = Set(now);
    })
    .await?;
    message(
        &txn,
        case.id,
        "proposed",
        &actor,
        &actor_name(principal),
        &body,
        now,
    )
    .await?;
    crate::audit::record(
        &txn,
        &actor,
        Entry::new("propose_dispute", "case", case.id)
            .org(OrgId(filed.id))
            .after(serde_json::json!({"remedy": remedy, "note": note})),
    )
    .await?;
    txn.commit().await?;
    if let Some(p) = done.subject_person_id {
        let person = crate::org::people::find(&state.db, crate::ids::PersonId(p)).await?;
        notify(state, &person, &done, "已提交上级管理员审核").await;
    }
    let allowed = allowed_after(state, principal, &done).await?;
    view(state, done, allowed).await
}

/// Rejects the dispute with a written reason.
pub async fn reject(
    state: &AppState,
    principal: &Principal,
    id: i64,
    reason: &str,
) -> AppResult<CaseView> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::field("reason", "驳回须写明理由"));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(AppError::field(
            "reason",
            format!("理由不能超过 {MAX_REASON_CHARS} 字"),
        ));
    }
    let (case, filed, allowed) = answerable(state, principal, id).await?;
    if !allowed.reject {
        return Err(AppError::new(ErrorCode::CaseState, "该异议不由您处理"));
    }
    let now = state.clock.now();
    let outcome = format!("未采纳：{reason}");
    let actor = principal.actor();
    let txn = crate::db::begin(&state.db).await?;
    let done = transition(&txn, &case, CaseState::Rejected, |a| {
        a.open_key = Set(None);
        a.outcome = Set(Some(outcome.clone()));
        a.decided_by = Set(Some(principal.account_id.0));
        a.closed_at = Set(Some(now));
        a.updated_at = Set(now);
    })
    .await?;
    message(
        &txn,
        case.id,
        "rejected",
        &actor,
        &actor_name(principal),
        reason,
        now,
    )
    .await?;
    crate::audit::record(
        &txn,
        &actor,
        Entry::new("reject_dispute", "case", case.id)
            .org(OrgId(filed.id))
            .before(serde_json::json!({"state": case.state}))
            .after(serde_json::json!({"state": "rejected", "reason": reason})),
    )
    .await?;
    txn.commit().await?;
    if let Some(p) = done.subject_person_id {
        let person = crate::org::people::find(&state.db, crate::ids::PersonId(p)).await?;
        notify(state, &person, &done, &outcome).await;
    }
    let allowed = allowed_after(state, principal, &done).await?;
    view(state, done, allowed).await
}

/// Staff comment on a case in their scope, in any state, without changing it (a
/// closed case stays closed: a comment is not a reopening). Audited; the member is
/// notified and sees it on `/m/`.
pub async fn comment(
    state: &AppState,
    principal: &Principal,
    id: i64,
    body: &str,
) -> AppResult<CaseView> {
    principal.require(Perm::ScoresWrite)?;
    let body = body.trim();
    if body.is_empty() {
        return Err(AppError::field("body", "请填写留言内容"));
    }
    if body.chars().count() > MAX_REASON_CHARS {
        return Err(AppError::field(
            "body",
            format!("留言不能超过 {MAX_REASON_CHARS} 字"),
        ));
    }
    let (case, filed) = scoped_case(&state.db, principal, id).await?;
    let now = state.clock.now();
    let actor = principal.actor();
    let txn = crate::db::begin(&state.db).await?;
    message(
        &txn,
        case.id,
        "comment",
        &actor,
        &actor_name(principal),
        body,
        now,
    )
    .await?;
    crate::audit::record(
        &txn,
        &actor,
        Entry::new("comment_case", "case", case.id)
            .org(OrgId(filed.id))
            .after(serde_json::json!({"state": case.state, "body": body})),
    )
    .await?;
    txn.commit().await?;
    if let Some(p) = case.subject_person_id {
        let person = crate::org::people::find(&state.db, crate::ids::PersonId(p)).await?;
        // One notice per comment: the comment's time makes the message id.
        let mut shown = case.clone();
        shown.updated_at = now;
        notify(state, &person, &shown, &format!("留言：{body}")).await;
    }
    let allowed = allowed(&state.db, principal, &case).await?;
    view(state, case, allowed).await
}

/// The member's own disputes, newest first.
pub async fn list_for_member(
    db: &impl ConnectionTrait,
    person_id: i64,
) -> AppResult<Vec<entity::case::Model>> {
    Ok(entity::case::Entity::find()
        .filter(entity::case::Column::SubjectPersonId.eq(person_id))
        .filter(entity::case::Column::Kind.eq(DISPUTE))
        .order_by_desc(entity::case::Column::Id)
        .limit(100)
        .all(db)
        .await?)
}

/// One of the member's own disputes (anyone else's is 404).
pub async fn get_for_member(state: &AppState, person_id: i64, id: i64) -> AppResult<CaseView> {
    let case = find_case(&state.db, id).await?.clone();
    if case.subject_person_id != Some(person_id) {
        return Err(AppError::not_found(format!("异议 {id} 不存在")));
    }
    view(state, case, Allowed::default()).await
}

/// Whether the member may escalate now, and if not, why.
pub fn escalation_refusal(case: &entity::case::Model, now: DateTime<Utc>) -> Option<String> {
    match state_of(case) {
        CaseState::Accepted => Some("该异议已采纳，无需提交上级".to_owned()),
        CaseState::Rejected => None,
        _ if now <= case.deadline => Some(format!(
            "答复期限未到（{}），到期未答复可提交上级组织",
            case.deadline
                .with_timezone(&chrono_tz::Asia::Shanghai)
                .format("%m月%d日 %H:%M")
        )),
        _ => None,
    }
}

/// The member escalates a rejected or unanswered (past `disputes.answer_days`) dispute
/// to the organization above the one answering it.
pub async fn escalate(
    state: &AppState,
    person: &entity::person::Model,
    id: i64,
    ip: Option<String>,
) -> AppResult<entity::case::Model> {
    let case = find_case(&state.db, id).await?;
    if case.subject_person_id != Some(person.id) {
        return Err(AppError::not_found(format!("异议 {id} 不存在")));
    }
    let now = state.clock.now();
    if let Some(why) = escalation_refusal(&case, now) {
        return Err(AppError::new(ErrorCode::CaseState, why));
    }
    let answering = crate::org::service::find(&state.db, OrgId(case.org_id)).await?;
    let Some(parent) = answering.parent_id else {
        return Err(AppError::new(
            ErrorCode::CaseState,
            "已是最高一级组织，不能再提交上级",
        ));
    };
    let parent = crate::org::service::find(&state.db, OrgId(parent)).await?;
    let filed = crate::org::service::find(&state.db, OrgId(case.filed_org_id)).await?;
    if crate::ledger::post::year_closed(&state.db, &filed.path, case.year).await? {
        return Err(AppError::new(
            ErrorCode::YearClosed,
            format!("{} 年度已结转，不能再提交上级", case.year),
        ));
    }
    let target = Target::parse(&format!("{}:{}", case.target_kind, case.target_id));
    let key = target.map(|t| open_key(person.id, t));
    let actor = Actor::member(person.id, ip);
    let body = format!("提交上级组织（{}）处理", parent.name);
    let txn = crate::db::begin(&state.db).await?;
    let done = transition(&txn, &case, CaseState::Escalated, |a| {
        a.org_id = Set(parent.id);
        a.open_key = Set(key);
        a.outcome = Set(None);
        a.proposal = Set(None);
        a.closed_at = Set(None);
        a.deadline = Set(now + Duration::days(state.settings.disputes.answer_days));
        a.escalations = Set(case.escalations + 1);
        a.updated_at = Set(now);
    })
    .await
    .map_err(|e| match e.code {
        // The open key is taken: the member filed a new dispute about it meanwhile.
        ErrorCode::Conflict => {
            AppError::new(ErrorCode::DisputeOpen, "您对这条记录已有处理中的异议")
        }
        _ => e,
    })?;
    message(&txn, case.id, "escalated", &actor, &person.name, &body, now).await?;
    crate::audit::record(
        &txn,
        &actor,
        Entry::new("escalate_dispute", "case", case.id)
            .org(OrgId(filed.id))
            .before(serde_json::json!({"state": case.state, "org": case.org_id}))
            .after(serde_json::json!({"state": "escalated", "org": parent.id})),
    )
    .await?;
    txn.commit().await?;
    notify(state, person, &done, &body).await;
    Ok(done)
}

/// Reasons staff gave for facts (corrections, entries), for ledger lines that show why.
pub async fn fact_reasons(
    db: &impl ConnectionTrait,
    fact_ids: impl Iterator<Item = i64>,
) -> AppResult<std::collections::HashMap<i64, String>> {
    let ids: Vec<i64> = fact_ids.collect();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(entity::fact::Entity::find()
        .filter(entity::fact::Column::Id.is_in(ids))
        .filter(entity::fact::Column::ActorKind.eq("account"))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|f| f.reason.map(|r| (f.id, r)))
        .collect())
}

/// May the member see this upload (it belongs to one of their cases)?
pub async fn upload_for_member(
    db: &impl ConnectionTrait,
    person_id: i64,
    upload_id: i64,
) -> AppResult<entity::upload::Model> {
    let u = uploads::find(db, upload_id).await?;
    let case = match u.case_id {
        Some(c) => find_case(db, c).await.ok(),
        None => None,
    };
    match case {
        Some(c) if c.subject_person_id == Some(person_id) => Ok(u),
        _ => Err(AppError::not_found("文件不存在")),
    }
}

/// May staff see this upload (its case lies in their scope)?
pub async fn upload_for_staff(
    db: &impl ConnectionTrait,
    principal: &Principal,
    upload_id: i64,
) -> AppResult<entity::upload::Model> {
    principal.require(Perm::ScoresRead)?;
    let u = uploads::find(db, upload_id).await?;
    let Some(case_id) = u.case_id else {
        return Err(AppError::not_found("文件不存在"));
    };
    scoped_case(db, principal, case_id)
        .await
        .map_err(|e| match e.code {
            ErrorCode::NotFound => AppError::not_found("文件不存在"),
            _ => e,
        })?;
    Ok(u)
}
