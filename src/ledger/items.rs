//! Items (bonuses, deductions, records) on a member or an organization, in three steps
//! the items endpoint and the console share: [`check`] against the subject's policy
//! (refusing an item the policy does not have and a closed year), [`preview`] what it
//! would grant by the pure engine without writing anything, [`record`] and post it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::SubjectRef;
use super::facts::{NewFact, NewFactKind, fields_from_json};
use super::inputs::{self, tz_of, year_of};
use super::queries;
use super::routes::{NewItem, RecordedFact};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::OrgId;
use crate::policy::{
    Fact, FactId, FactKind, FieldKind, FieldProblem, Fields, ItemCode, ItemSpec, ItemSubject,
    OrgId as EngineOrg, PersonId as EnginePerson, Policy, Source, SubjectId,
};
use crate::state::AppState;

/// An item checked against its subject's policy, ready to preview or record.
#[derive(Debug, Clone)]
pub struct Checked {
    pub subject: SubjectRef,
    /// The subject's organization (the member's own).
    pub org: entity::organization::Model,
    pub year: i32,
    pub at: DateTime<Utc>,
    pub item: String,
    pub fields: Fields,
    pub reason: Option<String>,
    pub evidence: Option<String>,
    pub policy: Arc<Policy>,
}

/// Checks an item as `principal` may record it: the subject in scope (else 403, as the
/// API answers; the console hides it as 404), not in the future, the year open, the
/// item one of the policy's, its fields as the policy reads them.
pub async fn check(state: &AppState, principal: &Principal, body: NewItem) -> AppResult<Checked> {
    principal.require(Perm::ScoresWrite)?;
    let (subject, org, item_subject) = match (body.person_id, body.org_id) {
        (Some(p), None) => {
            let person =
                crate::org::people::scoped(&state.db, principal, Perm::ScoresWrite, p).await?;
            let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
            (SubjectRef::Person(p.0), org, ItemSubject::Person)
        }
        (None, Some(o)) => {
            let org =
                crate::org::service::scoped(&state.db, principal, Perm::ScoresWrite, o).await?;
            (SubjectRef::Org(o.0), org, ItemSubject::Org)
        }
        _ => {
            return Err(AppError::field(
                "person_id",
                "person_id 与 org_id 须且只须填写一项",
            ));
        }
    };
    let at = body.at.with_timezone(&Utc);
    if at > state.clock.now() + chrono::Duration::minutes(5) {
        return Err(AppError::field("at", "时间不能晚于现在"));
    }
    let year = year_of(at, tz_of(&org));
    if super::post::year_closed(&state.db, &org.path, year).await? {
        return Err(AppError::new(
            ErrorCode::YearClosed,
            format!("{year} 年度已结转，积分不再更改，不能再记录事项"),
        ));
    }
    let policy = inputs::policy_for(&state.db, &state.scoring, &org.path, year).await?;
    let spec = policy.item(item_subject, &body.item).ok_or_else(|| {
        let known: Vec<String> = policy
            .items()
            .iter()
            .filter(|i| i.subject == item_subject)
            .map(|i| i.code.clone())
            .collect();
        AppError::field(
            "item",
            format!(
                "本组织适用的政策“{}”（{}）没有事项“{}”，可选：{}",
                policy.title,
                policy.name,
                body.item,
                known.join("、")
            ),
        )
    })?;
    let fields = body
        .fields
        .as_deref()
        .map(|r| fields_from_json(r.get()))
        .unwrap_or_default();
    spec.check(&fields)
        .map_err(|p| AppError::field(format!("fields.{}", p.field), field_message(spec, &p)))?;
    let text = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    Ok(Checked {
        subject,
        org,
        year,
        at,
        item: body.item,
        fields,
        reason: text(body.reason),
        evidence: text(body.evidence),
        policy,
    })
}

/// Checks a new item (not a correction): as [`check`], and its date not in a period whose
/// results were confirmed (核定: `review::publicity`). Corrections (accepted disputes,
/// objections, investigations) use [`check`] and stay possible.
pub async fn check_new(
    state: &AppState,
    principal: &Principal,
    body: NewItem,
) -> AppResult<Checked> {
    let c = check(state, principal, body).await?;
    crate::review::publicity::refuse_if_locked(&state.db, &c.org, c.at).await?;
    Ok(c)
}

/// A field's name as people say it.
pub fn field_label(name: &str) -> &str {
    match name {
        "points" => "分值",
        "member" => "涉及党员",
        "data" => "数据类型",
        "level" => "级别",
        "leading" => "是否牵头",
        "count" => "次数",
        "hours" => "时长（小时）",
        other => other,
    }
}

/// A field problem in Chinese (the engine's reasons are for developers).
fn field_message(spec: &ItemSpec, p: &FieldProblem) -> String {
    let label = field_label(&p.field);
    match spec.field(&p.field) {
        Some(_) if p.reason == "missing" => format!("请填写{label}"),
        Some(f) if f.allowed.is_some() => format!(
            "{label}须为以下之一：{}",
            f.allowed.as_deref().unwrap_or_default().join("、")
        ),
        Some(f) => match f.kind {
            FieldKind::Number => format!("{label}须为不小于 0 的数字"),
            FieldKind::Text => format!("{label}须为文字"),
            FieldKind::Bool => format!("{label}须为“是”或“否”"),
        },
        None => format!("{label}填写有误"),
    }
}

/// One rule's part of what an item would grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewLine {
    pub rule_id: String,
    /// The rule's name (`网上学习`).
    pub rule_label: String,
    pub asked: Decimal,
    pub granted: Decimal,
    /// The engine's explanation (caps, once-a-day …).
    pub note: String,
}

/// What recording the item would do now, computed by the engine alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub lines: Vec<PreviewLine>,
    /// Points the item itself would be granted.
    pub granted: Decimal,
    /// The subject's running score now and after (None: not scored, e.g. exempt).
    pub score_before: Option<Decimal>,
    pub score_after: Option<Decimal>,
    /// The status after, when the item changes it (`unqualified` …).
    pub status_after: Option<String>,
}

/// Evaluates the subject's year with the item added, without writing anything: the
/// same inputs and engine posting uses, so what is shown is what saving records
/// (unless someone records for the same person meanwhile).
pub async fn preview(state: &AppState, c: &Checked) -> AppResult<Preview> {
    let mut inputs = inputs::subject_inputs(&state.db, &state.scoring, c.subject, c.year).await?;
    let before = super::post::evaluate(&state.scoring, &inputs, c.year, false);
    // Last in (time, id) order among same-time facts, as a newly inserted fact is.
    let id = FactId(i64::MAX);
    inputs.facts.push(Fact {
        id,
        at: c.at.fixed_offset(),
        kind: FactKind::Item {
            subject: match c.subject {
                SubjectRef::Person(p) => SubjectId::Person(EnginePerson(p)),
                SubjectRef::Org(o) => SubjectId::Org(EngineOrg(o)),
            },
            item: ItemCode::new(c.item.clone()),
            fields: c.fields.clone(),
        },
    });
    let after = super::post::evaluate(&state.scoring, &inputs, c.year, false);
    let lines: Vec<PreviewLine> = after
        .postings
        .iter()
        .filter(|p| p.source == Source::Fact(id))
        .map(|p| PreviewLine {
            rule_id: p.rule_id.to_string(),
            rule_label: c
                .policy
                .rule_label(&p.rule_id)
                .unwrap_or_default()
                .to_owned(),
            asked: p.points_asked,
            granted: p.points_granted,
            note: p.note.clone(),
        })
        .collect();
    let status = |e: &crate::policy::SubjectEvaluation| e.result().map(|r| r.status);
    Ok(Preview {
        granted: lines.iter().map(|l| l.granted).sum(),
        lines,
        score_before: before.result().and_then(|r| r.score),
        score_after: after.result().and_then(|r| r.score),
        status_after: (status(&after) != status(&before))
            .then(|| status(&after).map(|s| s.as_str().to_owned()))
            .flatten(),
    })
}

/// Records a checked item as `principal` and posts it, audited, in one transaction.
pub async fn record(
    state: &AppState,
    principal: &Principal,
    c: Checked,
) -> AppResult<RecordedFact> {
    let actor = principal.actor();
    let txn = crate::db::begin(&state.db).await?;
    let recorded = super::facts::record(
        &txn,
        &state.scoring,
        &actor,
        NewFact {
            kind: NewFactKind::Item {
                subject: c.subject,
                item: c.item.clone(),
                fields: c.fields,
            },
            at: c.at,
            received_at: state.clock.now(),
            session_id: None,
            reason: c.reason,
            evidence: c.evidence,
            dedup_key: None,
            source_event: None,
        },
        c.year,
    )
    .await?
    .ok_or_else(|| AppError::conflict("重复的记录"))?;
    crate::audit::record(
        &txn,
        &actor,
        crate::audit::Entry::new("record_item", "fact", recorded.fact.id)
            .org(OrgId(c.org.id))
            .after(serde_json::json!({"item": c.item, "subject": c.subject.kind(), "subject_id": c.subject.id()})),
    )
    .await?;
    let score = queries::score_view(&txn, c.subject, c.year).await?;
    sea_orm::TransactionSession::commit(txn).await?;
    Ok(RecordedFact {
        fact_id: recorded.fact.id,
        year: c.year,
        granted: queries::Points(recorded.granted()),
        notes: recorded
            .reposted
            .postings_for(recorded.fact.id)
            .map(|p| p.note.clone())
            .collect(),
        score,
    })
}
