//! Posting: re-derive a subject's year and append the difference to the ledger.

use std::collections::BTreeMap;

use chrono::Utc;
use rust_decimal::Decimal;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QuerySelect,
};

use super::inputs::{self, SubjectInputs};
use super::{Scoring, SubjectRef};
use crate::error::{AppError, AppResult};
use crate::policy::{Context, Posting, Source, SubjectEvaluation, evaluate_subject, fmt_dec};

/// Ledger key: one line per (source, rule, part of the year).
type Key = (&'static str, Option<i64>, String, i32);

fn key(p: &Posting) -> Key {
    let (kind, id) = match p.source {
        Source::Fact(f) => ("fact", Some(f.0)),
        Source::Activity(a) => ("activity", Some(a.0)),
        Source::Year => ("year", None),
    };
    (
        kind,
        id,
        p.rule_id.to_string(),
        i32::try_from(p.part).unwrap_or(0),
    )
}

fn source_kind(s: &str) -> &'static str {
    match s {
        "fact" => "fact",
        "activity" => "activity",
        _ => "year",
    }
}

/// Points × 10⁴ for SQL sums; saturates rather than fails on absurd values.
pub fn e4(d: Decimal) -> i64 {
    use rust_decimal::prelude::ToPrimitive;
    (d * Decimal::from(10_000))
        .round()
        .to_i64()
        .unwrap_or(if d.is_sign_negative() {
            i64::MIN
        } else {
            i64::MAX
        })
}

/// What posting changed for one subject.
#[derive(Debug, Clone)]
pub struct Reposted {
    pub subject: SubjectRef,
    pub year: i32,
    pub eval: SubjectEvaluation,
}

impl Reposted {
    /// What a fact is granted now, over all its postings; `None` when no rule took it.
    pub fn granted_for(&self, fact: i64) -> Option<Decimal> {
        let mut any = false;
        let sum = self
            .eval
            .postings
            .iter()
            .filter(|p| p.source == Source::Fact(crate::policy::FactId(fact)))
            .inspect(|_| any = true)
            .map(|p| p.points_granted)
            .sum();
        any.then_some(sum)
    }

    /// The postings of a fact (for replies and explanations).
    pub fn postings_for(&self, fact: i64) -> impl Iterator<Item = &Posting> {
        self.eval
            .postings
            .iter()
            .filter(move |p| p.source == Source::Fact(crate::policy::FactId(fact)))
    }
}

/// Whether `year` is closed for the organization at `org_path` (or an ancestor).
pub async fn year_closed(db: &impl ConnectionTrait, org_path: &str, year: i32) -> AppResult<bool> {
    let ancestors: Vec<i64> = org_path.split('/').filter_map(|s| s.parse().ok()).collect();
    Ok(entity::year_closing::Entity::find()
        .filter(entity::year_closing::Column::OrgId.is_in(ancestors))
        .filter(entity::year_closing::Column::Year.eq(year))
        .one(db)
        .await?
        .is_some())
}

/// The row a subject's result goes into, before the first result is known.
pub fn placeholder_score(
    subject: SubjectRef,
    year: i32,
    org_id: i64,
    now: chrono::DateTime<Utc>,
) -> entity::subject_score::ActiveModel {
    entity::subject_score::ActiveModel {
        id: NotSet,
        subject_kind: Set(subject.kind().to_owned()),
        subject_id: Set(subject.id()),
        year: Set(year),
        org_id: Set(org_id),
        index_name: Set(String::new()),
        status: Set("scored".to_owned()),
        score: Set(None),
        score_sort: Set(None),
        stars: Set(None),
        rating: Set(None),
        detail: Set(None),
        closed: Set(false),
        updated_at: Set(now),
    }
}

/// Serializes posting for one subject: concurrent facts for the same person queue here.
async fn lock_score_row(
    db: &impl ConnectionTrait,
    subject: SubjectRef,
    year: i32,
    org_id: i64,
) -> AppResult<()> {
    use entity::subject_score::{Column, Entity};
    let row = placeholder_score(subject, year, org_id, Utc::now());
    Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::SubjectKind, Column::SubjectId, Column::Year])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    if db.get_database_backend() == DatabaseBackend::Postgres {
        // SQLite needs no row lock: its write transactions are already exclusive (BEGIN IMMEDIATE).
        Entity::find()
            .filter(Column::SubjectKind.eq(subject.kind()))
            .filter(Column::SubjectId.eq(subject.id()))
            .filter(Column::Year.eq(year))
            .lock_exclusive()
            .one(db)
            .await?;
    }
    Ok(())
}

/// Re-derives one subject's running year (no year-end rules) and appends the difference.
pub async fn repost(
    db: &impl ConnectionTrait,
    scoring: &Scoring,
    subject: SubjectRef,
    year: i32,
    cause: Option<i64>,
) -> AppResult<Reposted> {
    let inputs = inputs::subject_inputs(db, scoring, subject, year).await?;
    let org = crate::org::service::find(db, crate::ids::OrgId(inputs.org_id)).await?;
    if year_closed(db, &org.path, year).await? {
        return Err(AppError::conflict(format!(
            "{year} 年度已结转归档，不能再更改"
        )));
    }
    lock_score_row(db, subject, year, inputs.org_id).await?;
    // Read again under the lock: another transaction may have posted meanwhile.
    let inputs = inputs::subject_inputs(db, scoring, subject, year).await?;
    let eval = evaluate(scoring, &inputs, year, false);
    for w in &eval.warnings {
        tracing::warn!(subject = ?subject, year, warning = %w, "engine warning");
    }
    apply(db, subject, year, &eval, inputs.org_id, cause, false).await?;
    Ok(Reposted {
        subject,
        year,
        eval,
    })
}

/// Re-derives a person's running year, and `also` (an earlier year an exemption names),
/// after a change of their history or exemptions (role, transfer, status, 免评), each in
/// its own transaction. A closed year stays as it was closed.
pub async fn repost_person(
    db: &crate::db::Db,
    scoring: &Scoring,
    person_id: i64,
    now: chrono::DateTime<Utc>,
    also: Option<i32>,
) -> AppResult<()> {
    let person = crate::org::people::find(db, crate::ids::PersonId(person_id)).await?;
    let org = crate::org::service::find(db, crate::ids::OrgId(person.org_id)).await?;
    let running = inputs::year_of(now, inputs::tz_of(&org));
    let mut years = vec![running];
    years.extend(also.filter(|y| *y < running));
    for year in years {
        if year_closed(db, &org.path, year).await? {
            continue;
        }
        let txn = crate::db::begin(db).await?;
        repost(&txn, scoring, SubjectRef::Person(person_id), year, None).await?;
        txn.commit().await?;
    }
    Ok(())
}

pub fn evaluate(
    scoring: &Scoring,
    inputs: &SubjectInputs,
    year: i32,
    year_end: bool,
) -> SubjectEvaluation {
    let ctx = Context {
        policy: &inputs.policy,
        calendars: &scoring.calendars,
        year,
        year_end,
    };
    evaluate_subject(
        &ctx,
        &inputs.subject,
        inputs.facts.iter(),
        &inputs.activities,
    )
}

/// The running year of a subject whose inputs were read in bulk.
pub fn evaluate_with(
    scoring: &Scoring,
    policy: &crate::policy::Policy,
    subject: &crate::policy::Subject,
    facts: &[crate::policy::Fact],
    activities: &crate::policy::Activities,
    year: i32,
) -> SubjectEvaluation {
    let ctx = Context {
        policy,
        calendars: &scoring.calendars,
        year,
        year_end: false,
    };
    evaluate_subject(&ctx, subject, facts.iter(), activities)
}

/// Appends what differs between the evaluation and the ledger, and records the result.
pub async fn apply(
    db: &impl ConnectionTrait,
    subject: SubjectRef,
    year: i32,
    eval: &SubjectEvaluation,
    org_id: i64,
    cause: Option<i64>,
    closed: bool,
) -> AppResult<()> {
    use entity::ledger_entry::{Column, Entity};
    let existing = Entity::find()
        .filter(Column::SubjectKind.eq(subject.kind()))
        .filter(Column::SubjectId.eq(subject.id()))
        .filter(Column::Year.eq(year))
        .all(db)
        .await?;
    let rows = diff(subject, year, eval, &existing, cause, Utc::now());
    insert_entries(db, rows).await?;
    save_result(db, subject, year, eval, org_id, closed).await
}

/// The ledger lines that bring `existing` to what `eval` grants: pure, no I/O.
pub fn diff(
    subject: SubjectRef,
    year: i32,
    eval: &SubjectEvaluation,
    existing: &[entity::ledger_entry::Model],
    cause: Option<i64>,
    now: chrono::DateTime<Utc>,
) -> Vec<entity::ledger_entry::ActiveModel> {
    let mut held: BTreeMap<Key, Decimal> = BTreeMap::new();
    // When each held line's fact happened: a reversal is dated by the fact it reverses,
    // so period sums (month, quarter, half-year) see it as the year's sum does.
    let mut dated: BTreeMap<Key, chrono::DateTime<Utc>> = BTreeMap::new();
    for e in existing {
        let k = (
            source_kind(&e.source_kind),
            e.source_id,
            e.rule_id.clone(),
            e.part,
        );
        if let Some(at) = e.at {
            dated.entry(k.clone()).or_insert(at);
        }
        *held.entry(k).or_default() += crate::policy::parse_dec(&e.points).unwrap_or_default();
    }
    let mut derived: BTreeMap<Key, (Decimal, Decimal, &Posting)> = BTreeMap::new();
    for p in &eval.postings {
        let slot = derived
            .entry(key(p))
            .or_insert((Decimal::ZERO, Decimal::ZERO, p));
        slot.0 += p.points_granted;
        slot.1 += p.points_asked;
    }
    let mut rows = Vec::new();
    for (k, (granted, asked, p)) in &derived {
        let before = held.get(k).copied().unwrap_or_default();
        let delta = *granted - before;
        if delta.is_zero() && held.contains_key(k) {
            continue;
        }
        // A new zero line (a cap reached, a method that earns nothing) is still recorded once:
        // the member's ledger shows why a fact earned nothing.
        let note = if held.contains_key(k) {
            format!(
                "重新核算：{}（由 {} 调整为 {}）",
                p.note,
                fmt_dec(before),
                fmt_dec(*granted)
            )
        } else {
            p.note.clone()
        };
        rows.push(entry(
            subject,
            year,
            k,
            p.at.map(|t| t.with_timezone(&Utc)),
            delta,
            *asked,
            note,
            cause,
            now,
        ));
    }
    for (k, before) in &held {
        if !derived.contains_key(k) && !before.is_zero() {
            let note = format!("更正：{} 不再计分，冲减 {}", k.2, fmt_dec(*before));
            rows.push(entry(
                subject,
                year,
                k,
                dated.get(k).copied(),
                -*before,
                Decimal::ZERO,
                note,
                cause,
                now,
            ));
        }
    }
    rows
}

pub async fn insert_entries(
    db: &impl ConnectionTrait,
    rows: Vec<entity::ledger_entry::ActiveModel>,
) -> AppResult<()> {
    for chunk in crate::db::pow2_chunks(rows, 512) {
        entity::ledger_entry::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn entry(
    subject: SubjectRef,
    year: i32,
    k: &Key,
    at: Option<chrono::DateTime<Utc>>,
    delta: Decimal,
    asked: Decimal,
    note: String,
    cause: Option<i64>,
    now: chrono::DateTime<Utc>,
) -> entity::ledger_entry::ActiveModel {
    entity::ledger_entry::ActiveModel {
        id: NotSet,
        subject_kind: Set(subject.kind().to_owned()),
        subject_id: Set(subject.id()),
        year: Set(year),
        source_kind: Set(k.0.to_owned()),
        source_id: Set(k.1),
        rule_id: Set(k.2.clone()),
        part: Set(k.3),
        at: Set(at),
        points: Set(fmt_dec(delta)),
        points_e4: Set(e4(delta)),
        asked: Set(fmt_dec(asked)),
        note: Set(note),
        cause_fact_id: Set(cause),
        created_at: Set(now),
    }
}

async fn save_result(
    db: &impl ConnectionTrait,
    subject: SubjectRef,
    year: i32,
    eval: &SubjectEvaluation,
    org_id: i64,
    closed: bool,
) -> AppResult<()> {
    use entity::subject_score::{Column, Entity};
    let existing = Entity::find()
        .filter(Column::SubjectKind.eq(subject.kind()))
        .filter(Column::SubjectId.eq(subject.id()))
        .filter(Column::Year.eq(year))
        .one(db)
        .await?;
    score_row(existing, subject, year, eval, org_id, closed)
        .save(db)
        .await?;
    Ok(())
}

/// The running result row for a subject: the existing row updated, or a new one.
pub fn score_row(
    existing: Option<entity::subject_score::Model>,
    subject: SubjectRef,
    year: i32,
    eval: &SubjectEvaluation,
    org_id: i64,
    closed: bool,
) -> entity::subject_score::ActiveModel {
    use entity::subject_score::ActiveModel;
    let result = eval.result();
    let mut row: ActiveModel = match existing {
        Some(m) => m.into(),
        None => ActiveModel {
            id: NotSet,
            subject_kind: Set(subject.kind().to_owned()),
            subject_id: Set(subject.id()),
            year: Set(year),
            ..Default::default()
        },
    };
    row.org_id = Set(org_id);
    row.index_name = Set(result.map(|r| r.index.to_string()).unwrap_or_default());
    row.status = Set(result
        .map_or("not_covered", |r| r.status.as_str())
        .to_owned());
    row.score = Set(result.and_then(|r| r.score).map(fmt_dec));
    row.score_sort = Set(result.and_then(|r| r.score).map(e4));
    row.stars = Set(result.and_then(|r| r.stars).map(i32::from));
    row.rating = Set(result.and_then(|r| r.rating.as_deref()).map(str::to_owned));
    row.detail = Set(serde_json::to_string(&eval.results).ok());
    row.closed = Set(closed);
    row.updated_at = Set(Utc::now());
    row
}
