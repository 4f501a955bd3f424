//! Investigations of an abnormal score (XH-19: 积分如出现异常情况时，党组织应当…调查研究，
//! 认定事实，作出决定): a case of kind `investigation` about a person and a period. An
//! admin opens it, attaches findings (images through the upload store), records
//! corrections through the existing services (`cases::correction`), each linked to the
//! case, and closes it with a conclusion. Every step is a case message and an audit
//! entry; nothing is overwritten.

use chrono::{DateTime, Duration, Utc};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::CaseState;
use super::correction::{self, Fix};
use super::service::{Opening, actor_name, find_case, message, open_case, state_of, transition};
use crate::audit::Entry;
use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::{CaseId, OrgId, PersonId};
use crate::ledger::inputs::tz_of;
use crate::ledger::queries::{Period, period_bounds};
use crate::review::publicity::{parse_period, period_label, period_str};
use crate::state::AppState;
use crate::uploads::{self, CleanImage, Owner};

pub const KIND: &str = "investigation";
const MAX_TEXT_CHARS: usize = 500;

pub struct NewInvestigation {
    pub person: PersonId,
    pub year: i32,
    pub period: Period,
    pub n: Option<u32>,
    pub reason: String,
}

fn text(field: &'static str, s: &str, what: &str) -> AppResult<String> {
    let s = s.trim();
    if s.is_empty() {
        return Err(AppError::field(field, format!("请填写{what}")));
    }
    if s.chars().count() > MAX_TEXT_CHARS {
        return Err(AppError::field(
            field,
            format!("{what}不能超过 {MAX_TEXT_CHARS} 字"),
        ));
    }
    Ok(s.to_owned())
}

/// Opens an investigation (admins, the person in scope). One open per person and period.
pub async fn open(
    state: &AppState,
    principal: &Principal,
    input: NewInvestigation,
) -> AppResult<entity::case::Model> {
    let person =
        crate::org::people::scoped(&state.db, principal, Perm::Correct, input.person).await?;
    let reason = text("reason", &input.reason, "调查事由")?;
    if !(2000..=2100).contains(&input.year) {
        return Err(AppError::field("year", "年份须在 2000 至 2100 之间"));
    }
    let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
    let n = if input.period == Period::Year {
        None
    } else {
        input.n
    };
    period_bounds(input.year, input.period, n, tz_of(&org))?;
    let now = state.clock.now();
    let key = format!(
        "{KIND}:{}:{}:{}:{}",
        person.id,
        input.year,
        period_str(input.period),
        n.unwrap_or(0)
    );
    let taken = || AppError::conflict("该党员这一期已有进行中的调查");
    let actor = principal.actor();
    let txn = crate::db::begin(&state.db).await?;
    let case = open_case(
        &txn,
        Opening {
            kind: KIND,
            subject_person_id: Some(person.id),
            target_kind: "person_period",
            target_id: person.id,
            activity_id: None,
            year: input.year,
            filed_org_id: org.id,
            org_id: org.id,
            open_key: Some(key),
            reason: &reason,
            deadline: now + Duration::days(state.settings.disputes.answer_days),
        },
        now,
        taken,
    )
    .await?;
    entity::investigation::ActiveModel {
        id: NotSet,
        case_id: Set(case.id),
        person_id: Set(person.id),
        year: Set(input.year),
        period: Set(period_str(input.period).to_owned()),
        n: Set(n.and_then(|n| i32::try_from(n).ok())),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let label = period_label(input.year, input.period, n);
    message(
        &txn,
        case.id,
        "opened",
        &actor,
        &actor_name(principal),
        &format!("立案调查（{label}）：{reason}"),
        now,
    )
    .await?;
    crate::audit::record(
        &txn,
        &actor,
        Entry::new("open_investigation", "case", case.id)
            .org(OrgId(org.id))
            .after(serde_json::json!({"person": person.id, "period": label, "reason": reason})),
    )
    .await?;
    txn.commit().await?;
    Ok(case)
}

/// The investigation, if the principal may act on it (admins whose scope covers the
/// person's organization; others 404).
async fn scoped(
    state: &AppState,
    principal: &Principal,
    perm: Perm,
    id: CaseId,
) -> AppResult<(
    entity::case::Model,
    entity::investigation::Model,
    entity::organization::Model,
)> {
    principal.require(perm)?;
    let not_found = || AppError::not_found("没有找到该调查");
    let case = find_case(&state.db, id.0).await.map_err(|_| not_found())?;
    if case.kind != KIND {
        return Err(not_found());
    }
    let org = crate::org::service::find(&state.db, OrgId(case.filed_org_id)).await?;
    if !principal.covers(&org.path) {
        return Err(not_found());
    }
    let row = entity::investigation::Entity::find()
        .filter(entity::investigation::Column::CaseId.eq(case.id))
        .one(&state.db)
        .await?
        .ok_or_else(not_found)?;
    Ok((case, row, org))
}

fn still_open(case: &entity::case::Model) -> AppResult<()> {
    if !state_of(case).is_open() {
        return Err(AppError::new(
            ErrorCode::CaseState,
            "该调查已结案，不能再更改",
        ));
    }
    Ok(())
}

/// Attaches a finding (an image already checked and cleaned by `uploads::clean_image`).
pub async fn attach(
    state: &AppState,
    principal: &Principal,
    id: CaseId,
    image: &CleanImage,
    note: &str,
) -> AppResult<i64> {
    let (case, _, org) = scoped(state, principal, Perm::Correct, id).await?;
    still_open(&case)?;
    let now = state.clock.now();
    let actor = principal.actor();
    let note = note.trim();
    let txn = crate::db::begin(&state.db).await?;
    let u = uploads::store(
        &txn,
        image,
        Owner::Account(principal.account_id.0),
        Some(case.id),
        now,
    )
    .await?;
    entity::case_attachment::ActiveModel {
        id: NotSet,
        case_id: Set(case.id),
        upload_id: Set(u.id),
        added_at: Set(now),
    }
    .insert(&txn)
    .await?;
    message(
        &txn,
        case.id,
        "finding",
        &actor,
        &actor_name(principal),
        &if note.is_empty() {
            "附调查材料".to_owned()
        } else {
            format!("附调查材料：{note}")
        },
        now,
    )
    .await?;
    crate::audit::record(
        &txn,
        &actor,
        Entry::new("attach_finding", "case", case.id)
            .org(OrgId(org.id))
            .after(serde_json::json!({"upload": u.id, "note": note})),
    )
    .await?;
    txn.commit().await?;
    Ok(u.id)
}

/// Records a correction through the existing services, linked to the case.
pub async fn correct(
    state: &AppState,
    principal: &Principal,
    id: CaseId,
    fix: Fix,
    note: &str,
) -> AppResult<i64> {
    let (case, row, org) = scoped(state, principal, Perm::Correct, id).await?;
    still_open(&case)?;
    let note = text("note", note, "更正理由")?;
    let person = crate::org::people::find(&state.db, PersonId(row.person_id)).await?;
    correction::apply_for_case(
        state,
        principal,
        correction::ForCase {
            case: &case,
            org: OrgId(org.id),
            kind: "调查",
            audit_action: "link_investigation_correction",
        },
        &person,
        &fix,
        &note,
    )
    .await
}

/// Closes the investigation with its conclusion (认定事实，作出决定).
pub async fn close(
    state: &AppState,
    principal: &Principal,
    id: CaseId,
    conclusion: &str,
) -> AppResult<entity::case::Model> {
    let (case, _, org) = scoped(state, principal, Perm::Correct, id).await?;
    still_open(&case)?;
    let conclusion = text("conclusion", conclusion, "调查结论")?;
    let now = state.clock.now();
    let actor = principal.actor();
    let txn = crate::db::begin(&state.db).await?;
    let done = transition(&txn, &case, CaseState::Accepted, |a| {
        a.open_key = Set(None);
        a.outcome = Set(Some(format!("调查结论：{conclusion}")));
        a.decided_by = Set(Some(principal.account_id.0));
        a.closed_at = Set(Some(now));
        a.updated_at = Set(now);
    })
    .await?;
    message(
        &txn,
        case.id,
        "closed",
        &actor,
        &actor_name(principal),
        &format!("结案：{conclusion}"),
        now,
    )
    .await?;
    crate::audit::record(
        &txn,
        &actor,
        Entry::new("close_investigation", "case", case.id)
            .org(OrgId(org.id))
            .before(serde_json::json!({"state": case.state}))
            .after(serde_json::json!({"state": "closed", "conclusion": conclusion})),
    )
    .await?;
    txn.commit().await?;
    Ok(done)
}

/// A ledger line of the period, for the investigator.
#[derive(Debug, Clone)]
pub struct Line {
    pub at: Option<DateTime<Utc>>,
    pub note: String,
    pub points: String,
    /// The fact behind it (what an annulment targets).
    pub fact_id: Option<i64>,
}

pub struct Investigation {
    pub case: entity::case::Model,
    pub row: entity::investigation::Model,
    pub person: entity::person::Model,
    pub org: entity::organization::Model,
    pub label: String,
    pub lines: Vec<Line>,
    pub messages: Vec<entity::case_message::Model>,
    pub attachments: Vec<i64>,
}

/// One investigation with the person's ledger lines of the period.
pub async fn get(state: &AppState, principal: &Principal, id: CaseId) -> AppResult<Investigation> {
    // Admins investigate and auditors read; a branch secretary does neither.
    let perm = if principal.role == crate::auth::Role::Auditor {
        Perm::ScoresRead
    } else {
        Perm::Correct
    };
    let (case, row, org) = scoped(state, principal, perm, id).await?;
    let db = &state.db;
    let person = crate::org::people::find(db, PersonId(row.person_id)).await?;
    let period = parse_period(&row.period).unwrap_or(Period::Year);
    let n = row.n.and_then(|n| u32::try_from(n).ok());
    let (from, until) = period_bounds(row.year, period, n, tz_of(&org))?;
    let lines = entity::ledger_entry::Entity::find()
        .filter(entity::ledger_entry::Column::SubjectKind.eq("person"))
        .filter(entity::ledger_entry::Column::SubjectId.eq(person.id))
        .filter(entity::ledger_entry::Column::Year.eq(row.year))
        .filter(entity::ledger_entry::Column::At.gte(from))
        .filter(entity::ledger_entry::Column::At.lt(until))
        .order_by_asc(entity::ledger_entry::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|l| Line {
            at: l.at,
            note: l.note,
            points: l.points,
            fact_id: (l.source_kind == "fact").then_some(l.source_id).flatten(),
        })
        .collect();
    let messages = entity::case_message::Entity::find()
        .filter(entity::case_message::Column::CaseId.eq(case.id))
        .order_by_asc(entity::case_message::Column::Id)
        .all(db)
        .await?;
    let attachments = entity::case_attachment::Entity::find()
        .filter(entity::case_attachment::Column::CaseId.eq(case.id))
        .order_by_asc(entity::case_attachment::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|a| a.upload_id)
        .collect();
    Ok(Investigation {
        label: period_label(row.year, period, n),
        case,
        row,
        person,
        org,
        lines,
        messages,
        attachments,
    })
}

/// Investigations filed in the principal's scope, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    principal: &Principal,
) -> AppResult<Vec<(entity::case::Model, String)>> {
    if principal.role != crate::auth::Role::Auditor {
        principal.require(Perm::Correct)?;
    }
    let cases = entity::case::Entity::find()
        .filter(entity::case::Column::Kind.eq(KIND))
        .order_by_desc(entity::case::Column::Id)
        .limit(200)
        .all(db)
        .await?;
    let mut out = Vec::new();
    for c in cases {
        let org = crate::org::service::find(db, OrgId(c.filed_org_id)).await?;
        if !principal.covers(&org.path) {
            continue;
        }
        let name = match c.subject_person_id {
            Some(p) => crate::org::people::find(db, PersonId(p)).await?.name,
            None => String::new(),
        };
        out.push((c, name));
    }
    Ok(out)
}
