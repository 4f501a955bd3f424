//! A member's scan, from the WeChat callback to a durable fact and a reply.
//!
//! Order of checks: the payload is ours and its MAC holds; its slot is current or
//! the previous one (at WeChat's event time); the session is open; the openid is
//! bound (else the scan waits as pending); the person is active and invited; the
//! time classifies as on time / late / too late. Refusals are stored with a reason
//! and never create points. One scan per person per activity: the database's
//! unique key is the last guard, so retries, double scans and several instances
//! cannot count twice.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};

use super::judge::{Scanner, judge};
use super::qr;
use super::sessions::{self, CachedSession};
use super::writer::Written;
use crate::audit::Actor;
use crate::error::AppResult;
use crate::ledger::facts::{NewFact, NewFactKind, record};
use crate::ledger::inputs::{tz_of, year_of};
use crate::policy::{Method, fmt_dec};
use crate::state::AppState;

/// One scan as the callback saw it.
#[derive(Debug, Clone)]
pub struct Scan {
    pub openid: String,
    pub scene: String,
    /// WeChat's event time (CreateTime).
    pub at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// Identity of the WeChat event across resends.
    pub event_key: String,
}

/// How a scan ended, with the reply to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Counted {
        fact_id: i64,
        class: Class,
        points: Decimal,
    },
    Exempt {
        fact_id: i64,
    },
    AlreadyIn,
    Pending,
    Refused(Refusal),
}

pub use super::judge::{Class, Refusal, Terms};

pub fn reply(
    outcome: &Outcome,
    session: Option<&CachedSession>,
    state: &AppState,
    local_time: &str,
    note: Option<&str>,
) -> String {
    let title = session.map(|s| s.title.as_str()).unwrap_or("本次活动");
    match outcome {
        Outcome::Counted { class, points, .. } => {
            let why = note
                .filter(|_| points.is_zero())
                .map(|n| format!("（{n}）"))
                .unwrap_or_default();
            format!(
                "签到成功：{title}，{}，+{} 分{why}",
                class.label(),
                fmt_dec(*points)
            )
        }
        Outcome::Exempt { .. } => {
            format!("已记录出席：{title}。您已经批准免于评分，本次不计积分。")
        }
        Outcome::AlreadyIn => format!("您已签到过：{title}，无需重复扫码。"),
        Outcome::Pending => format!(
            "您的微信尚未绑定党员身份。请打开链接完成绑定，签到结束前绑定的，本次签到自动记入：{}/wechat/oauth/start?next=%2Fm%2F",
            state.public_url
        ),
        Outcome::Refused(r) => match r {
            Refusal::InvalidCode => "二维码无效，请扫描活动现场投影的签到二维码。".to_owned(),
            Refusal::ExpiredCode => "二维码已过期，请扫描现场最新二维码".to_owned(),
            Refusal::NotOpen => format!("签到尚未开始：{title} 于 {local_time} 开放签到。"),
            Refusal::Closed(t) => format!("签到已结束：{title}。{}", makeup_offer(*t, state)),
            Refusal::TooLate(t) => format!(
                "已超过签到时间（{}）：{title} 本次不计出席。{}",
                match t.late_seconds {
                    Some(s) => format!("开始后 {} 分钟", s / 60),
                    None => "活动当日已结束".to_owned(),
                },
                makeup_offer(*t, state)
            ),
            Refusal::NotInvited => format!("您所在的组织未受邀参加：{title}。"),
            Refusal::Inactive => "您的党籍状态不能签到，请联系支部书记。".to_owned(),
        },
    }
}

/// The make-up offer of a refused member, where their policy scores make-up study.
fn makeup_offer(t: Terms, state: &AppState) -> String {
    if t.makeup {
        format!(
            "未能到场的同志可在活动后 {} 天内完成网上补学。",
            state.settings.checkin.makeup_days
        )
    } else {
        String::new()
    }
}

/// The terms of the policy in force for `org` in `year` (XH-8.1, TW-2 …).
pub async fn terms_for(
    db: &impl ConnectionTrait,
    scoring: &crate::ledger::Scoring,
    org: &entity::organization::Model,
    year: i32,
) -> AppResult<Terms> {
    let (name, source) = crate::ledger::inputs::policy_choice(db, &org.path, year).await?;
    let policy = crate::ledger::inputs::resolve_policy(scoring, &name, source.as_deref())?;
    Ok(Terms::of(&policy))
}

/// A refusal as stored: with the reason, the scene and the WeChat event it came from.
pub fn refusal_row(
    scan: &Scan,
    session: Option<(i64, i64)>,
    person: Option<i64>,
    why: Refusal,
) -> entity::checkin_refusal::ActiveModel {
    entity::checkin_refusal::ActiveModel {
        id: NotSet,
        activity_id: Set(session.map(|s| s.0)),
        session_id: Set(session.map(|s| s.1)),
        person_id: Set(person),
        openid: Set(Some(scan.openid.clone())),
        reason: Set(why.code().to_owned()),
        scene: Set(Some(scan.scene.chars().take(64).collect())),
        event_key: Set(Some(scan.event_key.clone())),
        at: Set(scan.at),
        received_at: Set(scan.received_at),
    }
}

async fn refuse(
    db: &impl ConnectionTrait,
    scan: &Scan,
    session: Option<&CachedSession>,
    person: Option<i64>,
    why: Refusal,
) -> AppResult<Outcome> {
    let row = refusal_row(scan, session.map(|s| (s.activity_id, s.id)), person, why);
    entity::checkin_refusal::Entity::insert(row)
        .on_conflict(
            OnConflict::column(entity::checkin_refusal::Column::EventKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    tracing::info!(reason = why.code(), session = ?session.map(|s| s.id), "scan refused");
    Ok(Outcome::Refused(why))
}

/// Handles one scan; the reply text and the outcome.
pub async fn handle(state: &AppState, scan: &Scan) -> AppResult<(Outcome, String)> {
    handle_with(state, scan, None).await
}

/// The live-store key [`handle_with`] reads first for this scene, if any.
pub fn prefetch_key(scene: &str) -> Option<String> {
    qr::parse(scene).map(|(s, _)| sessions::cache_key(s.session))
}

/// [`handle`] given the session's cache entry, when it was read ahead
/// ([`prefetch_key`]): `Some(None)` when it was not cached.
pub async fn handle_with(
    state: &AppState,
    scan: &Scan,
    prefetched: Option<Option<Vec<u8>>>,
) -> AppResult<(Outcome, String)> {
    let db = &state.db;
    let parsed = qr::parse(&scan.scene);
    let session = match (parsed, prefetched) {
        (Some((scene, _)), Some(cached)) => {
            sessions::load_with(db, state.live.as_ref(), scene.session, cached).await?
        }
        (Some((scene, _)), None) => sessions::load(db, state.live.as_ref(), scene.session).await?,
        (None, _) => None,
    };
    let (Some((scene, mac)), Some(session)) = (parsed, session) else {
        let o = refuse(db, scan, None, None, Refusal::InvalidCode).await?;
        return Ok((o.clone(), reply(&o, None, state, "", None)));
    };
    let s = &session;
    let done = |o: Outcome, note: Option<&str>| {
        let text = reply(&o, Some(s), state, &s.local(s.opens_at), note);
        (o, text)
    };
    if !qr::verify(&s.secret, scene, mac) {
        return Ok(done(
            refuse(db, scan, None, None, Refusal::InvalidCode).await?,
            None,
        ));
    }
    if !qr::fresh(scene.slot, scan.at.timestamp(), s.slot_seconds) {
        return Ok(done(
            refuse(db, scan, Some(s), None, Refusal::ExpiredCode).await?,
            None,
        ));
    }
    if scan.at < s.opens_at {
        return Ok(done(
            refuse(db, scan, Some(s), None, Refusal::NotOpen).await?,
            None,
        ));
    }
    // Everything after the code checks is judged and written in a group commit.
    match state.checkins.submit(scan.clone(), s.clone()).await? {
        Written::Done {
            outcome,
            note,
            counted,
        } => {
            if let Some(c) = &counted {
                super::live::counted(state, s, &c.0, c.1.code()).await;
            }
            Ok(done(outcome, note.as_deref()))
        }
        Written::Taken { person } => {
            let (outcome, note) = already_in(state, s, person, Some(&scan.event_key)).await?;
            Ok(done(outcome, note.as_deref()))
        }
    }
}

/// Who takes a check-in on the one-fact path, and how: the member's own scan, or a
/// secretary reading the member's card (`checkin::card`).
pub struct Taker<'a> {
    pub method: Method,
    pub actor: Actor,
    pub reason: Option<&'a str>,
    /// The audit entry written with the fact: its action and details.
    pub audit: Option<(&'a str, serde_json::Value)>,
}

impl Taker<'_> {
    /// The member scanning the session's QR.
    pub fn scan(person: i64) -> Self {
        Taker {
            method: Method::Qr,
            actor: Actor::member(person, None),
            reason: None,
            audit: None,
        }
    }
}

/// Counts a bound person's scan at `at` (also for a pending scan resolved by binding).
pub async fn count(
    state: &AppState,
    s: &CachedSession,
    person: &entity::person::Model,
    at: DateTime<Utc>,
    received_at: DateTime<Utc>,
    event_key: Option<&str>,
    scan: Option<&Scan>,
) -> AppResult<(Outcome, Option<String>)> {
    let taker = Taker::scan(person.id);
    count_by(state, s, person, at, received_at, event_key, scan, taker).await
}

/// The one-fact path: judges a check-in of `person` at `at` like a scan and records it
/// under the scan's key (one per person and activity), as `taker` says.
#[allow(clippy::too_many_arguments)]
pub async fn count_by(
    state: &AppState,
    s: &CachedSession,
    person: &entity::person::Model,
    at: DateTime<Utc>,
    received_at: DateTime<Utc>,
    event_key: Option<&str>,
    scan: Option<&Scan>,
    taker: Taker<'_>,
) -> AppResult<(Outcome, Option<String>)> {
    let db = &state.db;
    let refuse_with = |why: Refusal| async move {
        match scan {
            Some(scan) => refuse(db, scan, Some(s), Some(person.id), why).await,
            None => Ok(Outcome::Refused(why)),
        }
    };
    let org = crate::org::service::find(db, crate::ids::OrgId(person.org_id)).await?;
    let year = year_of(at, tz_of(&org));
    let terms = terms_for(db, &state.scoring, &org, year).await?;
    let roots = super::activities::participant_roots(db, s.activity_id, s.org_id).await?;
    let who = Scanner {
        status: &person.status,
        org_path: &org.path,
        terms,
    };
    let class = match judge(&s.held(), &roots, s.ends_at(), who, at) {
        Ok(class) => class,
        Err(why) => return Ok((refuse_with(why).await?, None)),
    };
    let txn = crate::db::begin(db).await?;
    let recorded = record(
        &txn,
        &state.scoring,
        &taker.actor,
        NewFact {
            kind: NewFactKind::CheckIn {
                person: person.id,
                activity: s.activity_id,
                method: taker.method,
            },
            at,
            received_at,
            session_id: Some(s.id),
            reason: taker.reason.map(str::to_owned),
            evidence: None,
            dedup_key: Some(super::checkin_key(s.activity_id, person.id)),
            source_event: event_key.map(str::to_owned),
        },
        year,
    )
    .await?;
    let Some(recorded) = recorded else {
        drop(txn);
        return already_in(state, s, person.id, event_key).await;
    };
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
    if let Some((action, mut details)) = taker.audit {
        if let Some(d) = details.as_object_mut() {
            d.insert("class".into(), class.code().into());
            d.insert("points".into(), fmt_dec(points).into());
        }
        crate::audit::record(
            &txn,
            &taker.actor,
            crate::audit::Entry::new(action, "fact", recorded.fact.id)
                .org(crate::ids::OrgId(person.org_id))
                .after(details),
        )
        .await?;
    }
    sea_orm::TransactionSession::commit(txn).await?;
    super::live::counted(state, s, person, class.code()).await;
    let outcome = if exempt {
        Outcome::Exempt {
            fact_id: recorded.fact.id,
        }
    } else {
        Outcome::Counted {
            fact_id: recorded.fact.id,
            class,
            points,
        }
    };
    Ok((outcome, note))
}

/// The scan key was taken: a resend of the same event gets the same reply, anything
/// else is "already checked in".
async fn already_in(
    state: &AppState,
    s: &CachedSession,
    person: i64,
    event_key: Option<&str>,
) -> AppResult<(Outcome, Option<String>)> {
    let existing = entity::fact::Entity::find()
        .filter(entity::fact::Column::DedupKey.eq(super::checkin_key(s.activity_id, person)))
        .one(&state.db)
        .await?;
    if let (Some(f), Some(key)) = (existing, event_key)
        && f.source_event.as_deref() == Some(key)
    {
        let lines = crate::ledger::queries::ledger(
            &state.db,
            crate::ledger::SubjectRef::Person(person),
            f.year,
        )
        .await?;
        let points: Decimal = lines
            .lines
            .iter()
            .filter(|l| l.source_kind == "fact" && l.source_id == Some(f.id))
            .map(|l| l.points.0)
            .sum();
        let person_row = entity::person::Entity::find_by_id(person)
            .one(&state.db)
            .await?;
        let terms = match person_row {
            Some(p) => {
                let org = crate::org::service::find(&state.db, crate::ids::OrgId(p.org_id)).await?;
                terms_for(&state.db, &state.scoring, &org, f.year).await?
            }
            None => Terms::UNKNOWN,
        };
        let class = super::judge::classify(&s.held(), terms, f.at).unwrap_or(Class::Present);
        let exempt = lines.score.status == "exempt";
        let note = lines
            .lines
            .iter()
            .find(|l| l.source_id == Some(f.id))
            .map(|l| l.note.clone());
        let outcome = if exempt {
            Outcome::Exempt { fact_id: f.id }
        } else {
            Outcome::Counted {
                fact_id: f.id,
                class,
                points,
            }
        };
        return Ok((outcome, note));
    }
    Ok((Outcome::AlreadyIn, None))
}
