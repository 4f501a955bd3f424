//! A correction an answered case records (an accepted publicity objection, a closed
//! investigation): through the existing services only (`ledger::routes::annul`,
//! `ledger::routes::record_item_as`), with the case's reason and evidence, so the fact,
//! the ledger line and the audit log all say why.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult};
use crate::ids::{OrgId, PersonId};

#[derive(Debug, Clone)]
pub enum Fix {
    /// The fact does not count (admins).
    Annul { fact_id: i64 },
    /// An item of the person's policy (a bonus, a deduction), dated `at`.
    Item {
        item: String,
        points: Option<Decimal>,
        at: DateTime<Utc>,
    },
}

impl Fix {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Annul { .. } => "作废记录",
            Self::Item { .. } => "记录事项",
        }
    }
}

/// Records `fix` for `person`; the new fact's id.
pub async fn apply(
    state: &crate::state::AppState,
    principal: &Principal,
    person: &entity::person::Model,
    fix: &Fix,
    reason: String,
    evidence: String,
) -> AppResult<i64> {
    match fix {
        Fix::Annul { fact_id } => {
            let fact = <entity::fact::Entity as sea_orm::EntityTrait>::find_by_id(*fact_id)
                .one(&state.db)
                .await?
                .filter(|f| f.person_id == Some(person.id))
                .ok_or_else(|| AppError::field("fact_id", "没有找到该党员的这条记录"))?;
            let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
            principal
                .require_in(Perm::Correct, &org.path)
                .map_err(|_| AppError::field("fact_id", "作废记录须由上级管理员进行"))?;
            let r =
                crate::ledger::routes::annul(state, principal, &fact, &org, reason, Some(evidence))
                    .await?;
            Ok(r.fact_id)
        }
        Fix::Item { item, points, at } => {
            let fields = match points {
                Some(p) => Some(
                    serde_json::value::RawValue::from_string(format!(
                        "{{\"points\":{}}}",
                        crate::policy::fmt_dec(*p)
                    ))
                    .map_err(AppError::internal)?,
                ),
                None => None,
            };
            let r = crate::ledger::routes::record_item_as(
                state,
                principal,
                crate::ledger::routes::NewItem {
                    person_id: Some(PersonId(person.id)),
                    org_id: None,
                    item: item.clone(),
                    at: at.fixed_offset(),
                    fields,
                    reason: Some(reason),
                    evidence: Some(evidence),
                },
            )
            .await?;
            Ok(r.fact_id)
        }
    }
}

/// The open case a correction is recorded for: how the fact's reason and the ledger
/// name it (`kind` #id, e.g. 调查 #3) and the audit action that links the two.
pub struct ForCase<'a> {
    pub case: &'a entity::case::Model,
    pub org: OrgId,
    pub kind: &'static str,
    pub audit_action: &'static str,
}

/// Records `fix` for `person` as a case's correction: the fact through [`apply`], then,
/// in one transaction, the case's outcome, its history message and the audit entry.
/// The new fact's id.
pub async fn apply_for_case(
    state: &crate::state::AppState,
    principal: &Principal,
    c: ForCase<'_>,
    person: &entity::person::Model,
    fix: &Fix,
    note: &str,
) -> AppResult<i64> {
    use super::service::{actor_name, find_case, message, transition};
    use sea_orm::ActiveValue::Set;
    let tag = format!("{} #{}", c.kind, c.case.id);
    let done = apply(state, principal, person, fix, format!("{tag}：{note}"), tag).await?;
    let target = match fix {
        Fix::Annul { fact_id } => Some(*fact_id),
        Fix::Item { .. } => None,
    };
    let what = match target {
        Some(t) => format!("{}（记录 #{t}，作废 #{done}）：{note}", fix.label()),
        None => format!("{}（记录 #{done}）：{note}", fix.label()),
    };
    let now = state.clock.now();
    let actor = principal.actor();
    let txn = crate::db::begin(&state.db).await?;
    let fresh = find_case(&txn, c.case.id).await?;
    transition(&txn, &fresh, super::CaseState::Open, |a| {
        a.outcome_fact_id = Set(Some(done));
        a.updated_at = Set(now);
    })
    .await?;
    message(
        &txn,
        c.case.id,
        "correction",
        &actor,
        &actor_name(principal),
        &what,
        now,
    )
    .await?;
    crate::audit::record(
        &txn,
        &actor,
        crate::audit::Entry::new(c.audit_action, "case", c.case.id)
            .org(c.org)
            .after(serde_json::json!({
                "fix": fix.label(), "fact": done, "target": target, "note": note,
            })),
    )
    .await?;
    txn.commit().await?;
    Ok(done)
}
