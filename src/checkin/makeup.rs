//! Make-up study (补学) for a missed fixed activity day: XH-8.1 grants it +2 under
//! xihu-2017, as its own line (not XH-10 online study, not under XH-10's cap).
//!
//! A secretary or admin attaches study materials to a fixed-day activity: a title,
//! a body or a link, and optionally a quiz (questions, options, the correct answers,
//! a pass mark). A member who was expected at the day (same organization or an
//! invited one, active) and did not attend it (no on-time or late check-in, no
//! secretary's 补签; a scan refused as too late is not attendance) may study it
//! from the end of the activity until `checkin.makeup_days` later: start an attempt
//! (its start is recorded), read, answer the quiz, complete. Completion counts;
//! time is recorded only to refuse an empty click (faster than the material's
//! `min_seconds`) and is never scored. A failed quiz closes that attempt; the
//! member starts again. When every material of the day is passed, one
//! `makeup_study` fact is recorded through the ledger (dedup key
//! `makeup:<activity>:<person>`), so a double submission, a retry or a second
//! instance cannot count twice.
//!
//! The fact is dated when it happened (the completion) and scored in that year:
//! a December day made up in January counts in January, and a closed year never
//! reopens.

use std::collections::{HashMap, HashSet};

use actix_web::web;
use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::attendance::Status;
use super::judge::{Class, Held, Terms, classify};
use crate::audit::Actor;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::OrgId;
use crate::ledger::facts::{NewFact, NewFactKind, record};
use crate::ledger::inputs::{tz_of, year_of};
use crate::ledger::queries::Points;
use crate::state::AppState;

pub use super::materials::{Grade, Question, Quiz, materials_of, quiz_of};

pub fn configure(cfg: &mut web::ServiceConfig) {
    super::materials::configure(cfg);
}

// ---------------------------------------------------------------- a member's standing

/// Ids of an organization and its ancestors, from its materialized path.
pub fn path_ids(path: &str) -> Vec<i64> {
    path.split('/').filter_map(|s| s.parse().ok()).collect()
}

/// Activities a person is expected at: held by their organization or an ancestor,
/// or inviting one of those (the check-in rule). Newest first, started in [from, until).
pub async fn expected_activities(
    db: &impl ConnectionTrait,
    org_path: &str,
    kind: Option<&str>,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: usize,
) -> AppResult<Vec<entity::activity::Model>> {
    use entity::activity::Column as A;
    let orgs = path_ids(org_path);
    let invited: Vec<i64> = entity::activity_invite::Entity::find()
        .filter(entity::activity_invite::Column::OrgId.is_in(orgs.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|i| i.activity_id)
        .collect();
    let mut cond = sea_orm::Condition::any().add(A::OrgId.is_in(orgs));
    if !invited.is_empty() {
        cond = cond.add(A::Id.is_in(invited));
    }
    let mut q = entity::activity::Entity::find()
        .filter(cond)
        .filter(A::StartsAt.gte(from))
        .filter(A::StartsAt.lt(until))
        .order_by_desc(A::StartsAt)
        .order_by_desc(A::Id)
        .limit(u64::try_from(limit).unwrap_or(100));
    if let Some(k) = kind {
        q = q.filter(A::Kind.eq(k));
    }
    Ok(q.all(db).await?)
}

/// Whether a person may take part in an activity (as at check-in).
async fn is_expected(
    db: &impl ConnectionTrait,
    activity: &entity::activity::Model,
    org_path: &str,
) -> AppResult<bool> {
    super::activities::takes_part(db, activity, org_path).await
}

/// A recorded make-up study.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MakeupFact {
    pub fact_id: i64,
    pub at: DateTime<Utc>,
    pub year: i32,
    pub annulled: bool,
}

/// What a person's records say about one activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// The best of check-ins, refusals and make-up (as the attendance sheet ranks them).
    pub status: Status,
    pub at: Option<DateTime<Utc>>,
    pub makeup: Option<MakeupFact>,
}

impl Mark {
    const NONE: Mark = Mark {
        status: Status::Missing,
        at: None,
        makeup: None,
    };

    /// Took part: a counted check-in (on time, late, present) or a secretary's 补签.
    pub fn attended(&self) -> bool {
        matches!(
            self.status,
            Status::OnTime | Status::Late | Status::Present | Status::Backfilled
        )
    }
}

pub fn status_label(s: Status) -> &'static str {
    match s {
        Status::OnTime => "按时签到",
        Status::Late => "迟到签到",
        Status::Present => "已参加",
        Status::Backfilled => "补签（不计分）",
        Status::Makeup => "已补学",
        Status::Leave => "请假",
        Status::TooLate => "超时签到，不算出席",
        Status::Refused => "签到未成功",
        Status::Missing => "未签到",
    }
}

/// A person's marks for some activities (one query each for facts and refusals).
/// `terms`: the person's policy's (their check-ins are classed by it), `tz` their
/// organization's time zone.
pub async fn marks(
    db: &impl ConnectionTrait,
    person_id: i64,
    activities: &[entity::activity::Model],
    terms: Terms,
    tz: chrono_tz::Tz,
) -> AppResult<HashMap<i64, Mark>> {
    let ids: Vec<i64> = activities.iter().map(|a| a.id).collect();
    let mut out: HashMap<i64, Mark> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let by_id: HashMap<i64, &entity::activity::Model> =
        activities.iter().map(|a| (a.id, a)).collect();
    let facts = entity::fact::Entity::find()
        .filter(entity::fact::Column::PersonId.eq(person_id))
        .filter(entity::fact::Column::ActivityId.is_in(ids.clone()))
        .order_by_asc(entity::fact::Column::Id)
        .all(db)
        .await?;
    let annulled: HashSet<i64> = facts
        .iter()
        .filter(|f| f.kind == "annul")
        .filter_map(|f| f.target_id)
        .collect();
    fn put(out: &mut HashMap<i64, Mark>, activity: i64, s: Status, at: Option<DateTime<Utc>>) {
        let m = out.entry(activity).or_insert(Mark::NONE);
        if super::attendance::rank(s) > super::attendance::rank(m.status) {
            m.status = s;
            m.at = at;
        }
    }
    for f in &facts {
        let (Some(aid), Some(a)) = (f.activity_id, f.activity_id.and_then(|id| by_id.get(&id)))
        else {
            continue;
        };
        let gone = annulled.contains(&f.id);
        match f.kind.as_str() {
            "checkin" if !gone => {
                let s = if f.method.as_deref() == Some("backfill") {
                    Status::Backfilled
                } else {
                    match classify(&Held::of(a, tz), terms, f.at) {
                        Some(Class::OnTime) => Status::OnTime,
                        Some(Class::Late { .. }) => Status::Late,
                        Some(Class::Present) => Status::Present,
                        None => Status::TooLate,
                    }
                };
                put(&mut out, aid, s, Some(f.at));
            }
            "makeup_study" => {
                if !gone {
                    put(&mut out, aid, Status::Makeup, Some(f.at));
                }
                let m = out.entry(aid).or_insert(Mark::NONE);
                if m.makeup.is_none_or(|x| x.annulled) {
                    m.makeup = Some(MakeupFact {
                        fact_id: f.id,
                        at: f.at,
                        year: f.year,
                        annulled: gone,
                    });
                }
            }
            _ => {}
        }
    }
    let refusals = entity::checkin_refusal::Entity::find()
        .filter(entity::checkin_refusal::Column::PersonId.eq(person_id))
        .filter(entity::checkin_refusal::Column::ActivityId.is_in(ids))
        .all(db)
        .await?;
    for r in refusals {
        if let Some(aid) = r.activity_id {
            let s = if r.reason == "too_late" {
                Status::TooLate
            } else {
                Status::Refused
            };
            put(&mut out, aid, s, Some(r.at));
        }
    }
    Ok(out)
}

/// When make-up study of an activity is open: from the end of the activity (and never
/// before its attendance window closes) until `makeup_days` after that.
pub fn window(held: &Held, terms: Terms, makeup_days: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    let opens = held.ends_at.max(held.window_end(terms));
    (opens, opens + Duration::days(makeup_days))
}

/// Where a member stands with the make-up study of one fixed day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// May study until `deadline`.
    Open {
        deadline: DateTime<Utc>,
    },
    /// Done (the fact may since have been annulled by an admin's correction).
    Done(MakeupFact),
    /// Took part: nothing to make up.
    Attended(Status),
    NotYet {
        opens_at: DateTime<Utc>,
    },
    Closed {
        deadline: DateTime<Utc>,
    },
}

/// `terms` and `tz`: the member's policy and time zone. Where the policy scores
/// make-up study 0 it is never open (nothing to offer).
pub fn standing(
    held: &Held,
    mark: &Mark,
    terms: Terms,
    makeup_days: i64,
    now: DateTime<Utc>,
) -> Standing {
    if let Some(m) = mark.makeup {
        return Standing::Done(m);
    }
    if mark.attended() {
        return Standing::Attended(mark.status);
    }
    let (opens, deadline) = window(held, terms, makeup_days);
    if !terms.makeup {
        return Standing::Closed { deadline: opens };
    }
    if now < opens {
        Standing::NotYet { opens_at: opens }
    } else if now > deadline {
        Standing::Closed { deadline }
    } else {
        Standing::Open { deadline }
    }
}

/// The member, the activity and their standing, after the checks every step makes.
pub struct Context {
    pub person: entity::person::Model,
    pub org: entity::organization::Model,
    pub activity: entity::activity::Model,
    pub mark: Mark,
    pub standing: Standing,
}

/// Loads an activity for a member: a fixed day they were expected at.
pub async fn context(
    state: &AppState,
    person: &entity::person::Model,
    activity_id: i64,
    now: DateTime<Utc>,
) -> AppResult<Context> {
    let db = &state.db;
    let activity = entity::activity::Entity::find_by_id(activity_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("没有这次活动"))?;
    let org = crate::org::service::find(db, OrgId(person.org_id)).await?;
    if activity.kind != "fixed_day" || !is_expected(db, &activity, &org.path).await? {
        return Err(AppError::forbidden("这次活动不在您的补学范围内"));
    }
    if person.status != "active" {
        return Err(AppError::forbidden("您的党籍状态不能补学，请联系支部书记"));
    }
    let tz = crate::ledger::inputs::tz_of(&org);
    let year = crate::ledger::inputs::year_of(activity.starts_at, tz);
    let terms = super::scan::terms_for(db, &state.scoring, &org, year).await?;
    let mark = marks(db, person.id, std::slice::from_ref(&activity), terms, tz)
        .await?
        .remove(&activity.id)
        .unwrap_or(Mark::NONE);
    let standing = standing(
        &Held::of(&activity, tz),
        &mark,
        terms,
        state.settings.checkin.makeup_days,
        now,
    );
    Ok(Context {
        person: person.clone(),
        org,
        activity,
        mark,
        standing,
    })
}

/// Local date and time for messages (`11月22日 14:00`).
pub fn local(t: DateTime<Utc>, org: &entity::organization::Model) -> String {
    t.with_timezone(&tz_of(org))
        .format("%Y年%m月%d日 %H:%M")
        .to_string()
}

/// The refusal for a standing other than `Open`.
fn refusal(ctx: &Context, makeup_days: i64) -> AppError {
    match &ctx.standing {
        Standing::Open { .. } => AppError::internal(anyhow::anyhow!("not a refusal")),
        Standing::Done(m) if m.annulled => {
            AppError::conflict("您本次的补学记录已被更正撤销，如有疑问请联系支部书记")
        }
        Standing::Done(_) => AppError::conflict("您已完成本次补学，无需重复"),
        Standing::Attended(s) => AppError::forbidden(format!(
            "您已参加本次活动（{}），无需补学",
            status_label(*s)
        )),
        Standing::NotYet { opens_at } => AppError::conflict(format!(
            "活动结束后才能补学（{} 起）",
            local(*opens_at, &ctx.org)
        )),
        Standing::Closed { deadline } => AppError::conflict(format!(
            "补学期限已过：须在活动结束后 {makeup_days} 天内完成（截至 {}）",
            local(*deadline, &ctx.org)
        )),
    }
}

// ---------------------------------------------------------------- attempts

/// Where a member is with one material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    NotStarted,
    /// An attempt is open since then.
    Studying {
        attempt_id: i64,
        started_at: DateTime<Utc>,
    },
    Passed,
    /// The last attempt's quiz failed (start again to retry).
    Failed {
        correct: Option<usize>,
    },
}

pub async fn attempts_of(
    db: &impl ConnectionTrait,
    person_id: i64,
    activity_id: i64,
) -> AppResult<Vec<entity::makeup_attempt::Model>> {
    use entity::makeup_attempt::Column as M;
    Ok(entity::makeup_attempt::Entity::find()
        .filter(M::PersonId.eq(person_id))
        .filter(M::ActivityId.eq(activity_id))
        .order_by_asc(M::Id)
        .all(db)
        .await?)
}

fn passed(a: &entity::makeup_attempt::Model) -> bool {
    a.completed_at.is_some() && a.quiz_passed != Some(false)
}

/// Progress per material id, from a person's attempts at an activity.
pub fn progress(attempts: &[entity::makeup_attempt::Model]) -> HashMap<i64, Progress> {
    let mut out: HashMap<i64, Progress> = HashMap::new();
    for a in attempts {
        let cur = out.entry(a.material_id).or_insert(Progress::NotStarted);
        if *cur == Progress::Passed {
            continue;
        }
        *cur = if passed(a) {
            Progress::Passed
        } else if a.completed_at.is_none() {
            Progress::Studying {
                attempt_id: a.id,
                started_at: a.started_at,
            }
        } else {
            Progress::Failed { correct: None }
        };
    }
    out
}

async fn material_of(
    db: &impl ConnectionTrait,
    activity_id: i64,
    material_id: i64,
) -> AppResult<entity::study_material::Model> {
    entity::study_material::Entity::find_by_id(material_id)
        .one(db)
        .await?
        // A retired material is no longer studied.
        .filter(|m| m.activity_id == Some(activity_id) && m.retired_at.is_none())
        .ok_or_else(|| AppError::not_found("没有这份学习材料"))
}

/// Starts studying a material (records the start); an attempt already open is kept.
pub async fn start(
    state: &AppState,
    person: &entity::person::Model,
    activity_id: i64,
    material_id: i64,
    now: DateTime<Utc>,
) -> AppResult<entity::makeup_attempt::Model> {
    let ctx = context(state, person, activity_id, now).await?;
    if !matches!(ctx.standing, Standing::Open { .. }) {
        return Err(refusal(&ctx, state.settings.checkin.makeup_days));
    }
    let material = material_of(&state.db, activity_id, material_id).await?;
    let attempts = attempts_of(&state.db, person.id, activity_id).await?;
    let mine = attempts.iter().filter(|a| a.material_id == material.id);
    if let Some(open) = mine.clone().rev().find(|a| a.completed_at.is_none()) {
        return Ok(open.clone());
    }
    if let Some(done) = mine.clone().find(|a| passed(a)) {
        return Ok(done.clone());
    }
    Ok(
        entity::makeup_attempt::Entity::insert(entity::makeup_attempt::ActiveModel {
            id: NotSet,
            person_id: Set(person.id),
            activity_id: Set(activity_id),
            material_id: Set(material.id),
            started_at: Set(now),
            completed_at: Set(None),
            seconds: Set(None),
            quiz_passed: Set(None),
            fact_id: Set(None),
        })
        .exec_with_returning(&state.db)
        .await?,
    )
}

/// What completing a material did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The make-up study is recorded: a `makeup_study` fact and the points it earns.
    Recorded {
        fact_id: i64,
        points: Decimal,
        /// The engine's explanation when nothing was granted (exempt, cap …).
        note: Option<String>,
        exempt: bool,
    },
    /// This material is passed; others of the day remain.
    MaterialPassed { remaining: usize },
    /// The quiz failed: the attempt is closed; start again to retry.
    QuizFailed(Grade),
    /// Already recorded earlier: nothing new.
    AlreadyDone { fact_id: i64 },
}

pub fn duration_text(seconds: i64) -> String {
    if seconds >= 60 && seconds % 60 == 0 {
        format!("{} 分钟", seconds / 60)
    } else {
        format!("{seconds} 秒")
    }
}

/// Completes the open attempt at a material with the quiz answers (`answers[i]`: the
/// options chosen for question i). Refuses an empty click; records the make-up fact
/// once every material of the day is passed.
pub async fn complete(
    state: &AppState,
    person: &entity::person::Model,
    activity_id: i64,
    material_id: i64,
    answers: &[Vec<usize>],
    now: DateTime<Utc>,
) -> AppResult<Completion> {
    let ctx = context(state, person, activity_id, now).await?;
    match &ctx.standing {
        Standing::Open { .. } => {}
        Standing::Done(m) if !m.annulled => {
            return Ok(Completion::AlreadyDone { fact_id: m.fact_id });
        }
        _ => return Err(refusal(&ctx, state.settings.checkin.makeup_days)),
    }
    let material = material_of(&state.db, activity_id, material_id).await?;
    let attempts = attempts_of(&state.db, person.id, activity_id).await?;
    let already_passed = attempts
        .iter()
        .any(|a| a.material_id == material.id && passed(a));
    // Checked before the write transaction starts, so a refusal never holds a lock.
    let mut closing = None;
    if !already_passed {
        let Some(open) = attempts
            .iter()
            .rev()
            .find(|a| a.material_id == material.id && a.completed_at.is_none())
        else {
            return Err(AppError::new(
                ErrorCode::Conflict,
                "请先点击“开始学习”，认真学习材料后再提交",
            ));
        };
        let seconds = (now - open.started_at).num_seconds();
        if seconds < i64::from(material.min_seconds) {
            return Err(AppError::new(
                ErrorCode::ValidationFailed,
                format!(
                    "学习时间过短：请认真学习材料，开始学习 {} 后再提交（学习时长只用于防止空点，不计分）",
                    duration_text(i64::from(material.min_seconds))
                ),
            ));
        }
        closing = Some((
            open.id,
            seconds,
            quiz_of(&material).map(|q| q.grade(answers)),
        ));
    }
    let txn = crate::db::begin(&state.db).await?;
    if let Some((attempt_id, seconds, grade)) = closing {
        use entity::makeup_attempt::Column as M;
        let updated = entity::makeup_attempt::Entity::update_many()
            .col_expr(M::CompletedAt, Expr::value(now))
            .col_expr(
                M::Seconds,
                Expr::value(i32::try_from(seconds).unwrap_or(i32::MAX)),
            )
            .col_expr(M::QuizPassed, Expr::value(grade.map(|g| g.passed)))
            .filter(M::Id.eq(attempt_id))
            .filter(M::CompletedAt.is_null())
            .exec(&txn)
            .await?;
        if updated.rows_affected == 0 {
            // A second submission of the same attempt, handled by the first.
            return Err(AppError::conflict("本次提交已处理，请返回补学页面查看结果"));
        }
        if let Some(g) = grade.filter(|g| !g.passed) {
            txn.commit().await?;
            return Ok(Completion::QuizFailed(g));
        }
    }
    // Every material of the day passed?
    let materials = materials_of(&txn, activity_id).await?;
    let attempts = attempts_of(&txn, person.id, activity_id).await?;
    let done: HashSet<i64> = attempts
        .iter()
        .filter(|a| passed(a))
        .map(|a| a.material_id)
        .collect();
    let remaining = materials.iter().filter(|m| !done.contains(&m.id)).count();
    if remaining > 0 {
        txn.commit().await?;
        return Ok(Completion::MaterialPassed { remaining });
    }
    let year = year_of(now, tz_of(&ctx.org));
    let recorded = record(
        &txn,
        &state.scoring,
        &Actor::member(person.id, None),
        NewFact {
            kind: NewFactKind::MakeupStudy {
                person: person.id,
                activity: activity_id,
            },
            at: now,
            received_at: now,
            session_id: None,
            reason: None,
            evidence: None,
            dedup_key: Some(format!("makeup:{activity_id}:{}", person.id)),
            source_event: None,
        },
        year,
    )
    .await?;
    let Some(recorded) = recorded else {
        txn.commit().await?;
        return match context(state, person, activity_id, now).await?.standing {
            Standing::Done(m) => Ok(Completion::AlreadyDone { fact_id: m.fact_id }),
            _ => Err(AppError::conflict("您已完成本次补学，无需重复")),
        };
    };
    use entity::makeup_attempt::Column as M;
    entity::makeup_attempt::Entity::update_many()
        .col_expr(M::FactId, Expr::value(recorded.fact.id))
        .filter(M::PersonId.eq(person.id))
        .filter(M::ActivityId.eq(activity_id))
        .filter(M::CompletedAt.is_not_null())
        .filter(M::FactId.is_null())
        .filter(
            sea_orm::Condition::any()
                .add(M::QuizPassed.is_null())
                .add(M::QuizPassed.eq(true)),
        )
        .exec(&txn)
        .await?;
    let exempt = recorded
        .reposted
        .eval
        .result()
        .is_some_and(|r| r.status == crate::policy::Status::Exempt);
    let points = recorded.granted();
    let note = recorded
        .reposted
        .postings_for(recorded.fact.id)
        .map(|p| p.note.clone())
        .next();
    txn.commit().await?;
    tracing::info!(
        activity = activity_id,
        person = person.id,
        fact = recorded.fact.id,
        "make-up study recorded"
    );
    Ok(Completion::Recorded {
        fact_id: recorded.fact.id,
        points,
        note,
        exempt,
    })
}

/// Points a fact earns now, from the subject's ledger of its year.
pub async fn points_of_fact(
    db: &impl ConnectionTrait,
    person_id: i64,
    fact: &MakeupFact,
) -> AppResult<Points> {
    let ledger =
        crate::ledger::queries::ledger(db, crate::ledger::SubjectRef::Person(person_id), fact.year)
            .await?;
    Ok(Points(
        ledger
            .lines
            .iter()
            .filter(|l| l.source_kind == "fact" && l.source_id == Some(fact.fact_id))
            .map(|l| l.points.0)
            .sum(),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn paths_name_the_organization_and_its_ancestors() {
        assert_eq!(path_ids("/1/5/12/"), vec![1, 5, 12]);
    }
}
