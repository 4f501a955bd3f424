//! Check-ins a secretary enters (manual and batch at the activity, back-filled 补签
//! afterwards) and an admin's corrections. Every entry carries who and why.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult};
use crate::ids::OrgId;
use crate::ledger::facts::{NewFact, NewFactKind, record};
use crate::ledger::inputs::{tz_of, year_of};
use crate::policy::Method;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryMethod {
    /// At the activity, one person (a member without a smartphone).
    Manual,
    /// At the activity, a list of people.
    Batch,
    /// 补签 after the activity: recorded, earns nothing (XH-8.1, XH-8.2, XH-13).
    Backfill,
}

impl EntryMethod {
    fn engine(self) -> Method {
        match self {
            Self::Manual => Method::Manual,
            Self::Batch => Method::Batch,
            Self::Backfill => Method::Backfill,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEntries {
    pub person_ids: Vec<i64>,
    pub method: EntryMethod,
    /// Why a secretary entered it (e.g. "无智能手机", "现场网络故障").
    pub reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntryResult {
    pub person_id: i64,
    /// `recorded`, `duplicate`, `not_expected`.
    pub result: String,
    pub fact_id: Option<i64>,
    pub points: Option<crate::ledger::queries::Points>,
}

/// Who may take part: active people of the activity's organization or an invited one.
async fn expected(
    state: &AppState,
    activity: &entity::activity::Model,
    person: &entity::person::Model,
) -> AppResult<bool> {
    if person.status != "active" {
        return Ok(false);
    }
    let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
    super::activities::takes_part(&state.db, activity, &org.path).await
}

pub async fn enter(
    state: &AppState,
    principal: &Principal,
    activity: &entity::activity::Model,
    input: NewEntries,
) -> AppResult<Vec<EntryResult>> {
    if input.reason.trim().is_empty() {
        return Err(AppError::field("reason", "代为签到须说明原因"));
    }
    if input.person_ids.is_empty() || input.person_ids.len() > 5000 {
        return Err(AppError::field("person_ids", "须列出 1 至 5000 人"));
    }
    if input.method == EntryMethod::Manual && input.person_ids.len() != 1 {
        return Err(AppError::field(
            "person_ids",
            "手工签到一次一人；多人请用批量签到",
        ));
    }
    let now = state.clock.now();
    // At the activity: until the latest check-in window of the taking-part policies.
    let window_end = super::sessions::window(&state.db, &state.scoring, activity, 0)
        .await?
        .1
        .max(activity.ends_at);
    let at = match input.method {
        EntryMethod::Manual | EntryMethod::Batch => {
            // At the activity: the entry's own time decides the class, like a scan.
            if now < activity.starts_at - Duration::hours(2) || now > window_end {
                return Err(AppError::field(
                    "method",
                    "活动现场之外请使用补签（backfill）",
                ));
            }
            now
        }
        EntryMethod::Backfill => {
            if now < activity.starts_at {
                return Err(AppError::field("method", "活动尚未开始，不能补签"));
            }
            activity.starts_at
        }
    };
    let org = crate::org::service::find(&state.db, OrgId(activity.org_id)).await?;
    let year = year_of(activity.starts_at, tz_of(&org));
    let actor = principal.actor();
    let mut out = Vec::with_capacity(input.person_ids.len());
    for pid in input.person_ids {
        let Some(person) = entity::person::Entity::find_by_id(pid)
            .one(&state.db)
            .await?
        else {
            out.push(EntryResult {
                person_id: pid,
                result: "not_found".into(),
                fact_id: None,
                points: None,
            });
            continue;
        };
        if !expected(state, activity, &person).await? {
            out.push(EntryResult {
                person_id: pid,
                result: "not_expected".into(),
                fact_id: None,
                points: None,
            });
            continue;
        }
        let txn = crate::db::begin(&state.db).await?;
        let recorded = record(
            &txn,
            &state.scoring,
            &actor,
            NewFact {
                kind: NewFactKind::CheckIn {
                    person: pid,
                    activity: activity.id,
                    method: input.method.engine(),
                },
                at,
                received_at: now,
                session_id: None,
                reason: Some(input.reason.trim().to_owned()),
                evidence: None,
                dedup_key: Some(super::checkin_key(activity.id, pid)),
                source_event: None,
            },
            year,
        )
        .await?;
        match recorded {
            Some(r) => {
                let points = r.granted();
                crate::audit::record(
                    &txn,
                    &actor,
                    crate::audit::Entry::new("enter_checkin", "fact", r.fact.id)
                        .org(OrgId(activity.org_id))
                        .after(serde_json::json!({"person": pid, "activity": activity.id, "method": input.method, "reason": r.fact.reason})),
                )
                .await?;
                txn.commit().await?;
                out.push(EntryResult {
                    person_id: pid,
                    result: "recorded".into(),
                    fact_id: Some(r.fact.id),
                    points: Some(crate::ledger::queries::Points(points)),
                });
            }
            None => out.push(EntryResult {
                person_id: pid,
                result: "duplicate".into(),
                fact_id: None,
                points: None,
            }),
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CorrectionAction {
    /// The check-in does not count.
    Annul,
    /// A missing check-in, at the time it happened.
    Add,
    /// The check-in happened at another time (changes its class): annul + add.
    Reclassify,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    pub person_id: i64,
    pub action: CorrectionAction,
    /// For `add` and `reclassify`: when the person actually checked in.
    pub at: Option<DateTime<chrono::FixedOffset>>,
    pub reason: String,
    /// Evidence: a document number, a photo reference, witnesses.
    pub evidence: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CorrectionResult {
    pub annulled: Vec<i64>,
    pub added: Option<i64>,
    pub score: crate::ledger::queries::ScoreView,
}

/// Admin corrections: each is a new, audited fact; the ledger re-derives what it touches.
pub async fn correct(
    state: &AppState,
    principal: &Principal,
    activity: &entity::activity::Model,
    c: Correction,
) -> AppResult<CorrectionResult> {
    principal.require(Perm::Correct)?;
    if c.reason.trim().is_empty() {
        return Err(AppError::field("reason", "更正须说明原因"));
    }
    let person = crate::org::people::find(&state.db, crate::ids::PersonId(c.person_id)).await?;
    let porg = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
    principal.require_in(Perm::Correct, &porg.path)?;
    let org = crate::org::service::find(&state.db, OrgId(activity.org_id)).await?;
    let year = year_of(activity.starts_at, tz_of(&org));
    let facts = entity::fact::Entity::find()
        .filter(entity::fact::Column::ActivityId.eq(activity.id))
        .filter(entity::fact::Column::PersonId.eq(person.id))
        .all(&state.db)
        .await?;
    let annulled: std::collections::HashSet<i64> = facts
        .iter()
        .filter(|f| f.kind == "annul")
        .filter_map(|f| f.target_id)
        .collect();
    let live: Vec<&entity::fact::Model> = facts
        .iter()
        .filter(|f| f.kind == "checkin" && !annulled.contains(&f.id))
        .collect();
    let mut result = CorrectionResult {
        annulled: Vec::new(),
        added: None,
        score: crate::ledger::queries::score_view(
            &state.db,
            crate::ledger::SubjectRef::Person(person.id),
            year,
        )
        .await?,
    };
    if matches!(
        c.action,
        CorrectionAction::Annul | CorrectionAction::Reclassify
    ) && live.is_empty()
    {
        return Err(AppError::field("person_id", "该人员没有可更正的签到记录"));
    }
    let at = match c.action {
        CorrectionAction::Annul => None,
        _ => Some(
            c.at.ok_or_else(|| AppError::field("at", "请填写实际签到时间"))?
                .with_timezone(&Utc),
        ),
    };
    if let Some(at) = at
        && (at < activity.starts_at - Duration::hours(12)
            || at > activity.ends_at + Duration::hours(12))
    {
        return Err(AppError::field("at", "签到时间须在活动当天"));
    }
    let actor = principal.actor();
    let txn = crate::db::begin(&state.db).await?;
    if matches!(
        c.action,
        CorrectionAction::Annul | CorrectionAction::Reclassify
    ) {
        for f in &live {
            let r = record(
                &txn,
                &state.scoring,
                &actor,
                NewFact {
                    kind: NewFactKind::Annul { target: f.id },
                    at: state.clock.now(),
                    received_at: state.clock.now(),
                    session_id: None,
                    reason: Some(c.reason.trim().to_owned()),
                    evidence: c.evidence.clone(),
                    dedup_key: Some(format!("annul:{}", f.id)),
                    source_event: None,
                },
                year,
            )
            .await?;
            if r.is_some() {
                result.annulled.push(f.id);
            }
        }
    }
    if let Some(at) = at {
        let r = record(
            &txn,
            &state.scoring,
            &actor,
            NewFact {
                kind: NewFactKind::CheckIn {
                    person: person.id,
                    activity: activity.id,
                    method: Method::Manual,
                },
                at,
                received_at: state.clock.now(),
                session_id: None,
                reason: Some(c.reason.trim().to_owned()),
                evidence: c.evidence.clone(),
                dedup_key: None,
                source_event: None,
            },
            year,
        )
        .await?;
        result.added = r.map(|r| r.fact.id);
    }
    crate::audit::record(
        &txn,
        &actor,
        crate::audit::Entry::new("correct_checkin", "person", person.id)
            .org(OrgId(person.org_id))
            .after(serde_json::json!({"activity": activity.id, "action": c.action, "reason": c.reason, "evidence": c.evidence, "annulled": result.annulled, "added": result.added})),
    )
    .await?;
    result.score = crate::ledger::queries::score_view(
        &txn,
        crate::ledger::SubjectRef::Person(person.id),
        year,
    )
    .await?;
    txn.commit().await?;
    notify(state, &person, activity, &c).await;
    Ok(result)
}

/// Tells the member by template message; a failure is logged, the correction stands.
async fn notify(
    state: &AppState,
    person: &entity::person::Model,
    activity: &entity::activity::Model,
    c: &Correction,
) {
    let Some(openid) = person.openid.as_deref() else {
        return;
    };
    let client = &state.wechat_client;
    let Ok(openid) = crate::wechat::OpenId::parse(openid) else {
        return;
    };
    let action = match c.action {
        CorrectionAction::Annul => "作废签到",
        CorrectionAction::Add => "补录签到",
        CorrectionAction::Reclassify => "更正签到时间",
    };
    let data = serde_json::json!({
        "thing1": {"value": activity.title.chars().take(20).collect::<String>()},
        "thing2": {"value": action},
        "thing3": {"value": c.reason.chars().take(20).collect::<String>()},
    });
    let msg_id = format!(
        "correction-{}-{}-{}",
        activity.id,
        person.id,
        state.clock.now().timestamp()
    );
    if let Err(e) = client
        .send_named_template(&openid, "correction", None, &data, &msg_id)
        .await
    {
        tracing::warn!(error = %e, person = person.id, "correction notice not sent");
    }
}
