//! Objections to a publicity (公示异议; TW-6, SD-5): a case of kind `objection` whose
//! target is the publicity. A member of the publishing organization's subtree objects
//! from `/m/`, anyone else (SD-5 师生群众, no account) from the public form where the
//! policy allows it, with a contact; only while the window is open. The branch answers
//! by `answer_until` (window end + the policy's answer days): accepting records the
//! correction through the existing services (`cases::correction`); either answer is
//! filed (备案) with the organization above where the policy says so.

use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

use super::CaseState;
use super::correction::{self, Fix};
use super::service::{Opening, actor_name, find_case, message, open_case, state_of, transition};
use crate::audit::{Actor, Entry};
use crate::auth::{Perm, Principal, Role};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::{CaseId, OrgId, PersonId, PublicityId};
use crate::review::publicity::{self as publicity, label_of, rows_of, settings_for, window_open};
use crate::state::AppState;

pub const KIND: &str = "objection";
const MAX_REASON_CHARS: usize = 500;
const MAX_NAME_CHARS: usize = 30;
const MAX_CONTACT_CHARS: usize = 60;

pub enum Objector {
    Member(entity::person::Model),
    /// Someone without an account (SD-5 师生群众): a name and a way to reach them.
    Public {
        name: String,
        contact: String,
    },
}

pub struct NewObjection {
    pub publicity: PublicityId,
    pub objector: Objector,
    /// The person on the list it is about (optional).
    pub about: Option<i64>,
    pub reason: String,
    pub ip: Option<String>,
}

fn check_len(field: &'static str, text: &str, max: usize, what: &str) -> AppResult<()> {
    if text.chars().count() > max {
        return Err(AppError::field(field, format!("{what}不能超过 {max} 字")));
    }
    Ok(())
}

/// Files an objection. Refused after (or before) the window (`publicity_closed`), from
/// someone outside the publishing organization, from the public where the policy does
/// not name them; one open objection per member and publicity.
pub async fn file(state: &AppState, input: NewObjection) -> AppResult<entity::case::Model> {
    let db = &state.db;
    let reason = input.reason.trim().to_owned();
    if reason.is_empty() {
        return Err(AppError::field("reason", "请写明异议的内容"));
    }
    check_len("reason", &reason, MAX_REASON_CHARS, "异议内容")?;
    let (p, org) = match &input.objector {
        Objector::Member(person) => publicity::for_member(db, person, input.publicity).await?,
        Objector::Public { .. } => {
            let p = publicity::find(db, input.publicity).await?;
            publicity::by_token(state, &p.public_token).await?
        }
    };
    let now = state.clock.now();
    if !window_open(&p, now) {
        let tz = crate::ledger::inputs::tz_of(&org);
        return Err(AppError::new(
            ErrorCode::PublicityClosed,
            if p.state == publicity::OPEN && now >= p.closes_at {
                format!(
                    "公示期已于 {} 结束，不能再提出异议；如有问题请联系党支部",
                    crate::console::when(p.closes_at, tz)
                )
            } else {
                "该公示不在公示期内，不能提出异议".to_owned()
            },
        ));
    }
    let rows = rows_of(&p);
    if let Some(about) = input.about
        && !rows.iter().any(|r| r.person_id == about)
    {
        return Err(AppError::field("about", "请从公示名单中选择"));
    }
    let (kind, person_id, name, contact, key) = match &input.objector {
        Objector::Member(person) => (
            "member",
            Some(person.id),
            person.name.clone(),
            None,
            Some(format!("{KIND}:{}:{}", p.id, person.id)),
        ),
        Objector::Public { name, contact } => {
            let name = name.trim().to_owned();
            let contact = contact.trim().to_owned();
            if name.is_empty() {
                return Err(AppError::field("name", "请填写姓名或称呼"));
            }
            check_len("name", &name, MAX_NAME_CHARS, "姓名")?;
            if contact.is_empty() {
                return Err(AppError::field(
                    "contact",
                    "请留下联系方式（电话或邮箱），以便党支部答复",
                ));
            }
            check_len("contact", &contact, MAX_CONTACT_CHARS, "联系方式")?;
            ("public", None, name, Some(contact), None)
        }
    };
    let actor = match &input.objector {
        Objector::Member(person) => Actor::member(person.id, input.ip.clone()),
        Objector::Public { .. } => Actor {
            kind: "public",
            id: None,
            name: "public".to_owned(),
            ip: input.ip.clone(),
        },
    };
    let taken = || {
        AppError::new(
            ErrorCode::DisputeOpen,
            "您对这次公示的异议还在处理中，请等待答复",
        )
    };
    let txn = crate::db::begin(db).await?;
    let case = open_case(
        &txn,
        Opening {
            kind: KIND,
            subject_person_id: person_id,
            target_kind: "publicity",
            target_id: p.id,
            activity_id: None,
            year: p.year,
            filed_org_id: org.id,
            org_id: org.id,
            open_key: key,
            reason: &reason,
            deadline: p.answer_until,
        },
        now,
        taken,
    )
    .await?;
    entity::publicity_objection::ActiveModel {
        id: NotSet,
        case_id: Set(case.id),
        publicity_id: Set(p.id),
        objector_kind: Set(kind.to_owned()),
        objector_person_id: Set(person_id),
        objector_name: Set(name.clone()),
        contact: Set(contact),
        about_person_id: Set(input.about),
        ip: Set(input.ip.clone()),
        filed_with_org_id: Set(None),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let author = if kind == "public" {
        format!("群众（{name}）")
    } else {
        name.clone()
    };
    message(&txn, case.id, "filed", &actor, &author, &reason, now).await?;
    crate::audit::record(
        &txn,
        &actor,
        Entry::new("file_objection", "case", case.id)
            .org(OrgId(org.id))
            .after(serde_json::json!({"publicity": p.id, "objector": kind, "about": input.about, "deadline": case.deadline})),
    )
    .await?;
    txn.commit().await?;
    if let Objector::Member(person) = &input.objector {
        notify(state, person, &case, "已收到您对公示的异议").await;
    }
    Ok(case)
}

/// One objection with who filed it.
#[derive(Debug, Clone)]
pub struct Objection {
    pub case: entity::case::Model,
    pub row: entity::publicity_objection::Model,
    pub messages: Vec<entity::case_message::Model>,
}

/// The objections to a publicity (every version of it), oldest first.
pub async fn list(db: &impl ConnectionTrait, publicity_ids: &[i64]) -> AppResult<Vec<Objection>> {
    let rows = entity::publicity_objection::Entity::find()
        .filter(entity::publicity_objection::Column::PublicityId.is_in(publicity_ids.to_vec()))
        .order_by_asc(entity::publicity_objection::Column::Id)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let case = find_case(db, row.case_id).await?;
        let messages = entity::case_message::Entity::find()
            .filter(entity::case_message::Column::CaseId.eq(case.id))
            .order_by_asc(entity::case_message::Column::Id)
            .all(db)
            .await?;
        out.push(Objection {
            case,
            row,
            messages,
        });
    }
    Ok(out)
}

/// The member's own objections to a publicity.
pub async fn for_member(
    db: &impl ConnectionTrait,
    person_id: i64,
    publicity_ids: &[i64],
) -> AppResult<Vec<Objection>> {
    Ok(list(db, publicity_ids)
        .await?
        .into_iter()
        .filter(|o| o.row.objector_person_id == Some(person_id))
        .collect())
}

/// The objection, answerable by the principal now (secretaries and admins in scope;
/// recorders approve nothing).
async fn answerable(
    state: &AppState,
    principal: &Principal,
    id: CaseId,
) -> AppResult<(
    entity::case::Model,
    entity::publicity_objection::Model,
    entity::publicity::Model,
    entity::organization::Model,
)> {
    principal.require(Perm::ScoresWrite)?;
    if principal.role == Role::Recorder {
        return Err(AppError::forbidden("组织委员不能答复异议"));
    }
    let not_found = || AppError::not_found("没有找到该异议");
    let case = find_case(&state.db, id.0).await.map_err(|_| not_found())?;
    if case.kind != KIND {
        return Err(not_found());
    }
    let org = crate::org::service::find(&state.db, OrgId(case.org_id)).await?;
    if !principal.covers(&org.path) {
        return Err(not_found());
    }
    if !state_of(&case).is_open() {
        return Err(AppError::new(
            ErrorCode::CaseState,
            format!("该异议已{}，不能再处理", state_of(&case).label()),
        ));
    }
    let row = entity::publicity_objection::Entity::find()
        .filter(entity::publicity_objection::Column::CaseId.eq(case.id))
        .one(&state.db)
        .await?
        .ok_or_else(not_found)?;
    let p = publicity::find(&state.db, PublicityId(row.publicity_id)).await?;
    Ok((case, row, p, org))
}

/// Accepts the objection; with a correction, records it first through the existing
/// services (the case is claimed before, and put back if the correction fails).
pub async fn accept(
    state: &AppState,
    principal: &Principal,
    id: CaseId,
    fix: Option<Fix>,
    note: &str,
) -> AppResult<entity::case::Model> {
    let note = note.trim();
    check_len("note", note, MAX_REASON_CHARS, "答复")?;
    let (case, row, p, org) = answerable(state, principal, id).await?;
    let about = match (&fix, row.about_person_id) {
        (None, _) => None,
        (Some(_), Some(a)) => Some(crate::org::people::find(&state.db, PersonId(a)).await?),
        (Some(_), None) => {
            return Err(AppError::field(
                "fix",
                "该异议未指明名单中的人员，无法更正；可写明答复后采纳",
            ));
        }
    };
    let now = state.clock.now();
    let outcome = match (&fix, note.is_empty()) {
        (Some(f), true) => format!("已采纳：{}", f.label()),
        (Some(f), false) => format!("已采纳：{}。{note}", f.label()),
        (None, true) => "已采纳".to_owned(),
        (None, false) => format!("已采纳：{note}"),
    };
    let actor = principal.actor();
    // Claim first: two answers at once record one correction.
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
        Entry::new("accept_objection", "case", case.id)
            .org(OrgId(org.id))
            .before(serde_json::json!({"state": case.state}))
            .after(serde_json::json!({"state": "accepted", "fix": fix.as_ref().map(Fix::label), "note": note})),
    )
    .await?;
    txn.commit().await?;
    let mut done = claimed.clone();
    if let (Some(fix), Some(person)) = (&fix, &about) {
        let reason = if note.is_empty() {
            format!("公示异议 #{}：{}", case.id, case.reason)
        } else {
            format!("公示异议 #{}：{note}", case.id)
        };
        let evidence = format!("公示异议 #{}", case.id);
        match correction::apply(state, principal, person, fix, reason, evidence).await {
            Ok(fact_id) => {
                let txn = crate::db::begin(&state.db).await?;
                done = transition(&txn, &claimed, CaseState::Accepted, |a| {
                    a.outcome_fact_id = Set(Some(fact_id));
                })
                .await?;
                crate::audit::record(
                    &txn,
                    &actor,
                    Entry::new("link_objection_correction", "case", case.id)
                        .org(OrgId(org.id))
                        .after(serde_json::json!({"fact": fact_id})),
                )
                .await?;
                txn.commit().await?;
            }
            Err(e) => {
                // Put the case back: the answer did not happen.
                let txn = crate::db::begin(&state.db).await?;
                transition(&txn, &claimed, CaseState::Open, |a| {
                    a.open_key = Set(case.open_key.clone());
                    a.outcome = Set(None);
                    a.decided_by = Set(None);
                    a.closed_at = Set(None);
                    a.updated_at = Set(now);
                })
                .await?;
                message(
                    &txn,
                    case.id,
                    "reopened",
                    &Actor::system(),
                    "系统",
                    &format!("更正未能记录：{}", e.detail),
                    now,
                )
                .await?;
                txn.commit().await?;
                return Err(e);
            }
        }
    }
    file_with_parent(state, &done, &row, &p, &org, principal).await?;
    notify_objector(state, &row, &done, &outcome).await;
    Ok(done)
}

/// Rejects the objection with a written reason.
pub async fn reject(
    state: &AppState,
    principal: &Principal,
    id: CaseId,
    reason: &str,
) -> AppResult<entity::case::Model> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::field("reason", "不予采纳须写明理由"));
    }
    check_len("reason", reason, MAX_REASON_CHARS, "理由")?;
    let (case, row, p, org) = answerable(state, principal, id).await?;
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
        Entry::new("reject_objection", "case", case.id)
            .org(OrgId(org.id))
            .before(serde_json::json!({"state": case.state}))
            .after(serde_json::json!({"state": "rejected", "reason": reason})),
    )
    .await?;
    txn.commit().await?;
    file_with_parent(state, &done, &row, &p, &org, principal).await?;
    notify_objector(state, &row, &done, &outcome).await;
    Ok(done)
}

/// SD-5: the answered objection is filed (备案) with the organization above the branch,
/// where the policy says so: a step of the case, the organization on the record, and an
/// audit entry under that organization.
async fn file_with_parent(
    state: &AppState,
    case: &entity::case::Model,
    row: &entity::publicity_objection::Model,
    p: &entity::publicity::Model,
    org: &entity::organization::Model,
    principal: &Principal,
) -> AppResult<()> {
    let (settings, _) = settings_for(state, org, p.year).await?;
    let Some(parent) = org.parent_id.filter(|_| settings.file_with_parent) else {
        return Ok(());
    };
    let parent = crate::org::service::find(&state.db, OrgId(parent)).await?;
    let now = state.clock.now();
    let actor = principal.actor();
    let txn = crate::db::begin(&state.db).await?;
    entity::publicity_objection::Entity::update_many()
        .col_expr(
            entity::publicity_objection::Column::FiledWithOrgId,
            sea_orm::sea_query::Expr::value(parent.id),
        )
        .filter(entity::publicity_objection::Column::Id.eq(row.id))
        .exec(&txn)
        .await?;
    message(
        &txn,
        case.id,
        "filed_with",
        &actor,
        &actor_name(principal),
        &format!("已报{}备案（{}公示）", parent.name, label_of(p)),
        now,
    )
    .await?;
    crate::audit::record(
        &txn,
        &actor,
        Entry::new("file_objection_record", "case", case.id)
            .org(OrgId(parent.id))
            .after(serde_json::json!({"filed_with": parent.id, "publicity": p.id, "state": case.state, "outcome": case.outcome})),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

async fn notify_objector(
    state: &AppState,
    row: &entity::publicity_objection::Model,
    case: &entity::case::Model,
    what: &str,
) {
    let Some(person) = row.objector_person_id else {
        return;
    };
    match crate::org::people::find(&state.db, PersonId(person)).await {
        Ok(p) => notify(state, &p, case, what).await,
        Err(e) => tracing::warn!(error = %e.detail, case = case.id, "objector not found"),
    }
}

/// A template message to the member objector (the simulator's inbox in the sandbox).
async fn notify(
    state: &AppState,
    person: &entity::person::Model,
    case: &entity::case::Model,
    what: &str,
) {
    let data = serde_json::json!({
        "thing1": {"value": format!("公示异议 #{}", case.id)},
        "thing2": {"value": state_of(case).label()},
        "thing3": {"value": what.chars().take(20).collect::<String>()},
    });
    let msg_id = format!(
        "obj-{}-{}-{}",
        case.id,
        case.state,
        case.updated_at.timestamp_millis()
    );
    crate::notify::template(
        state,
        person.openid.as_deref(),
        "objection",
        &data,
        &format!("/m/publicity/{}", case.target_id),
        &msg_id,
    )
    .await;
}

/// SD-5 (若党员仍有异议，由党总支进行专项查核认定): a member whose objection was not
/// accepted takes it to the organization above the one that answered; that
/// organization's admins answer it (the period cannot be confirmed meanwhile).
pub async fn escalate(
    state: &AppState,
    person: &entity::person::Model,
    id: CaseId,
    ip: Option<String>,
) -> AppResult<entity::case::Model> {
    let not_found = || AppError::not_found("没有找到该异议");
    let case = find_case(&state.db, id.0).await.map_err(|_| not_found())?;
    let row = entity::publicity_objection::Entity::find()
        .filter(entity::publicity_objection::Column::CaseId.eq(case.id))
        .one(&state.db)
        .await?
        .filter(|r| case.kind == KIND && r.objector_person_id == Some(person.id))
        .ok_or_else(not_found)?;
    if state_of(&case) != CaseState::Rejected {
        return Err(AppError::new(
            ErrorCode::CaseState,
            "只有未被采纳的异议才能提交上级组织",
        ));
    }
    let answering = crate::org::service::find(&state.db, OrgId(case.org_id)).await?;
    let Some(parent) = answering.parent_id else {
        return Err(AppError::new(
            ErrorCode::CaseState,
            "已是最高一级组织，不能再提交上级",
        ));
    };
    let parent = crate::org::service::find(&state.db, OrgId(parent)).await?;
    let p = publicity::find(&state.db, PublicityId(row.publicity_id)).await?;
    let (settings, _) = settings_for(state, &answering, p.year).await?;
    let now = state.clock.now();
    let actor = Actor::member(person.id, ip);
    let body = format!("仍有异议，提交{}专项查核", parent.name);
    let txn = crate::db::begin(&state.db).await?;
    let done = transition(&txn, &case, CaseState::Escalated, |a| {
        a.org_id = Set(parent.id);
        a.open_key = Set(Some(format!("{KIND}:{}:{}", p.id, person.id)));
        a.outcome = Set(None);
        a.closed_at = Set(None);
        a.decided_by = Set(None);
        a.deadline = Set(now + chrono::Duration::days(settings.answer_days.max(1)));
        a.escalations = Set(case.escalations + 1);
        a.updated_at = Set(now);
    })
    .await
    .map_err(|e| match e.code {
        ErrorCode::Conflict => {
            AppError::new(ErrorCode::DisputeOpen, "您对这次公示已有处理中的异议")
        }
        _ => e,
    })?;
    message(&txn, case.id, "escalated", &actor, &person.name, &body, now).await?;
    crate::audit::record(
        &txn,
        &actor,
        Entry::new("escalate_objection", "case", case.id)
            .org(OrgId(case.filed_org_id))
            .before(serde_json::json!({"state": case.state, "org": case.org_id}))
            .after(serde_json::json!({"state": "escalated", "org": parent.id})),
    )
    .await?;
    txn.commit().await?;
    notify(state, person, &done, &body).await;
    Ok(done)
}
