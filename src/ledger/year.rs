//! Whole-year replays: the year-end job (year-end and group rules, then the year is
//! frozen) and `vanguard score`.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};

use super::inputs::{self, org_map, person_from_rows, to_activity, to_fact, tz_of, year_bounds};
use super::post::{diff, insert_entries, score_row};
use super::{Scoring, SubjectRef};
use crate::audit::{self, Actor, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::OrgId;
use crate::policy::{Context, Fact, Org, OrgId as EOrgId, YearData, evaluate_year};

/// (policy name, customized source): subjects sharing one are evaluated together.
type PolicyKey = (String, Option<String>);

/// Summary of a replay.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct ReplaySummary {
    pub year: i32,
    pub persons: usize,
    pub orgs: usize,
    pub facts: usize,
}

/// Replays `year` for every subject under `root` (None: everything) with year-end and
/// group rules, appends the differences to the ledger and, when `close`, freezes the
/// year. The caller holds the transaction.
pub async fn replay_year(
    db: &impl ConnectionTrait,
    scoring: &Scoring,
    root: Option<&entity::organization::Model>,
    year: i32,
    close: bool,
) -> AppResult<ReplaySummary> {
    let t = std::time::Instant::now();
    let orgs = org_map(db).await?;
    let in_scope =
        |o: &entity::organization::Model| root.is_none_or(|r| o.path.starts_with(&r.path));
    let scope_orgs: Vec<&entity::organization::Model> =
        orgs.values().filter(|o| in_scope(o)).collect();
    let org_ids: Vec<i64> = scope_orgs.iter().map(|o| o.id).collect();

    // Group subjects by the policy their organization uses that year.
    let mut policy_of: HashMap<i64, (String, Option<String>)> = HashMap::new();
    for o in &scope_orgs {
        policy_of.insert(o.id, inputs::policy_choice(db, &o.path, year).await?);
    }

    let people: Vec<entity::person::Model> = chunked_people(db, &org_ids).await?;
    let person_ids: Vec<i64> = people.iter().map(|p| p.id).collect();
    let history = load_by_person::<entity::person_history::Entity, _>(
        db,
        &person_ids,
        entity::person_history::Column::PersonId,
    )
    .await?;
    let exemptions = load_by_person::<entity::exemption::Entity, _>(
        db,
        &person_ids,
        entity::exemption::Column::PersonId,
    )
    .await?;
    let (hist_by, ex_by) = inputs::group_by_person(history, exemptions);

    let fact_rows = entity::fact::Entity::find()
        .filter(entity::fact::Column::Year.eq(year))
        .into_partial_model::<entity::fact::Scored>()
        .all(db)
        .await?;
    let person_set: std::collections::HashSet<i64> = person_ids.iter().copied().collect();
    let org_set: std::collections::HashSet<i64> = org_ids.iter().copied().collect();
    let fact_rows: Vec<_> = fact_rows
        .into_iter()
        .filter(|f| match (f.person_id, f.org_id) {
            (Some(p), _) => person_set.contains(&p),
            (None, Some(o)) => org_set.contains(&o),
            _ => false,
        })
        .collect();

    let mut activity_rows = Vec::new();
    if let Some(tz) = scope_orgs.first().map(|o| tz_of(o)) {
        // Held activities of the year (bounds widened a day for organizations in other zones).
        let (start, end) = year_bounds(year, tz);
        let rows = entity::activity::Entity::find()
            .filter(entity::activity::Column::StartsAt.gte(start - chrono::Duration::days(1)))
            .filter(entity::activity::Column::StartsAt.lt(end + chrono::Duration::days(1)))
            .all(db)
            .await?;
        activity_rows.extend(rows);
    }
    let referenced: Vec<i64> = fact_rows.iter().filter_map(|f| f.activity_id).collect();
    let known: std::collections::HashSet<i64> = activity_rows.iter().map(|a| a.id).collect();
    let missing: Vec<i64> = referenced
        .into_iter()
        .filter(|id| !known.contains(id))
        .collect();
    for chunk in missing.chunks(500) {
        activity_rows.extend(
            entity::activity::Entity::find()
                .filter(entity::activity::Column::Id.is_in(chunk.to_vec()))
                .all(db)
                .await?,
        );
    }
    let activities = crate::policy::Activities::new(activity_rows.iter().filter_map(to_activity));
    let facts: Vec<Fact> = fact_rows.iter().filter_map(to_fact).collect();
    tracing::debug!(elapsed = ?t.elapsed(), facts = facts.len(), "year inputs read");

    // One engine run per distinct policy.
    let mut groups: BTreeMap<PolicyKey, (Vec<usize>, Vec<i64>)> = BTreeMap::new();
    for (i, p) in people.iter().enumerate() {
        if let Some(choice) = policy_of.get(&p.org_id) {
            groups.entry(choice.clone()).or_default().0.push(i);
        }
    }
    for o in &scope_orgs {
        if let Some(choice) = policy_of.get(&o.id) {
            groups.entry(choice.clone()).or_default().1.push(o.id);
        }
    }
    let mut summary = ReplaySummary {
        year,
        facts: facts.len(),
        ..Default::default()
    };
    for ((name, source), (person_ix, org_list)) in groups {
        let policy = inputs::resolve_policy(scoring, &name, source.as_deref())?;
        let data = YearData {
            orgs: org_list
                .iter()
                .filter_map(|id| orgs.get(id))
                .map(|o| Org {
                    id: EOrgId(o.id),
                    tz: tz_of(o),
                })
                .collect(),
            persons: person_ix
                .iter()
                .map(|i| {
                    let p = &people[*i];
                    let tz = orgs
                        .get(&p.org_id)
                        .map(tz_of)
                        .unwrap_or(chrono_tz::Asia::Shanghai);
                    person_from_rows(
                        p,
                        hist_by.get(&p.id).map(Vec::as_slice).unwrap_or_default(),
                        ex_by.get(&p.id).map(Vec::as_slice).unwrap_or_default(),
                        tz,
                        year,
                    )
                })
                .collect(),
            activities: activities.clone(),
            facts: facts.clone(),
        };
        let ctx = Context {
            policy: &policy,
            calendars: &scoring.calendars,
            year,
            year_end: close,
        };
        let evals = evaluate_year(&ctx, &data);
        tracing::debug!(elapsed = ?t.elapsed(), policy = %name, "year evaluated");
        // One line per kind of warning, not one per posting (a missing calendar touches many).
        let warnings: Vec<&String> = evals
            .persons
            .iter()
            .chain(evals.orgs.iter())
            .flat_map(|e| e.warnings.iter())
            .collect();
        if let Some(first) = warnings.first() {
            tracing::warn!(year, count = warnings.len(), example = %first, "engine warnings");
        }
        let subjects = evals
            .persons
            .iter()
            .zip(person_ix.iter())
            .map(|(e, i)| (SubjectRef::Person(people[*i].id), people[*i].org_id, e))
            .chain(
                evals
                    .orgs
                    .iter()
                    .zip(org_list.iter())
                    .map(|(e, id)| (SubjectRef::Org(*id), *id, e)),
            );
        write_all(db, year, close, subjects.collect()).await?;
        tracing::debug!(elapsed = ?t.elapsed(), "year written");
        summary.persons += person_ix.len();
        summary.orgs += org_list.len();
    }
    Ok(summary)
}

/// Ledger differences and results for many subjects, in a few bulk statements.
async fn write_all(
    db: &impl ConnectionTrait,
    year: i32,
    close: bool,
    subjects: Vec<(SubjectRef, i64, &crate::policy::SubjectEvaluation)>,
) -> AppResult<()> {
    let mut entries: HashMap<(String, i64), Vec<entity::ledger_entry::Model>> = HashMap::new();
    for e in entity::ledger_entry::Entity::find()
        .filter(entity::ledger_entry::Column::Year.eq(year))
        .all(db)
        .await?
    {
        entries
            .entry((e.subject_kind.clone(), e.subject_id))
            .or_default()
            .push(e);
    }
    let mut scores: HashMap<(String, i64), entity::subject_score::Model> =
        entity::subject_score::Entity::find()
            .filter(entity::subject_score::Column::Year.eq(year))
            .all(db)
            .await?
            .into_iter()
            .map(|s| ((s.subject_kind.clone(), s.subject_id), s))
            .collect();
    let now = Utc::now();
    let mut rows = Vec::new();
    let mut new_scores = Vec::new();
    for (subject, org_id, eval) in subjects {
        let k = (subject.kind().to_owned(), subject.id());
        let held = entries.get(&k).map(Vec::as_slice).unwrap_or_default();
        rows.extend(diff(subject, year, eval, held, None, now));
        match scores.remove(&k) {
            Some(existing) => {
                score_row(Some(existing), subject, year, eval, org_id, close)
                    .save(db)
                    .await?;
            }
            None => new_scores.push(score_row(None, subject, year, eval, org_id, close)),
        }
    }
    insert_entries(db, rows).await?;
    let mut it = new_scores.into_iter().peekable();
    while it.peek().is_some() {
        let chunk: Vec<_> = it.by_ref().take(500).collect();
        entity::subject_score::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

async fn chunked_people(
    db: &impl ConnectionTrait,
    org_ids: &[i64],
) -> AppResult<Vec<entity::person::Model>> {
    let mut out = Vec::new();
    for chunk in org_ids.chunks(500) {
        out.extend(
            entity::person::Entity::find()
                .filter(entity::person::Column::OrgId.is_in(chunk.to_vec()))
                .all(db)
                .await?,
        );
    }
    out.sort_by_key(|p| p.id);
    Ok(out)
}

async fn load_by_person<E, C>(
    db: &impl ConnectionTrait,
    ids: &[i64],
    col: C,
) -> AppResult<Vec<E::Model>>
where
    E: EntityTrait,
    C: ColumnTrait,
{
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        out.extend(E::find().filter(col.is_in(chunk.to_vec())).all(db).await?);
    }
    Ok(out)
}

/// Year rollover: year-end rules, group rules, then the year is archived and frozen
/// (SD-3). The new year starts from zero because every fact belongs to its own year.
pub async fn close_year(
    db: &(impl ConnectionTrait + sea_orm::TransactionTrait),
    scoring: &Scoring,
    actor: &Actor,
    org: &entity::organization::Model,
    year: i32,
    now: chrono::DateTime<Utc>,
) -> AppResult<ReplaySummary> {
    use sea_orm::TransactionSession;
    let current = inputs::year_of(now, tz_of(org));
    if year >= current {
        return Err(AppError::field(
            "year",
            format!("{year} 年尚未结束，不能结转"),
        ));
    }
    let txn = crate::db::begin(db).await?;
    if super::post::year_closed(&txn, &org.path, year).await? {
        return Err(AppError::conflict(format!("{year} 年度已结转")));
    }
    // Where the policy has publicity, the year's last period must be confirmed (核定).
    crate::review::publicity::require_confirmed_for_close(&txn, scoring, org, year).await?;
    // The unique (org, year) key settles two admins closing at once.
    entity::year_closing::Entity::insert(entity::year_closing::ActiveModel {
        id: NotSet,
        org_id: Set(org.id),
        year: Set(year),
        closed_by: Set(actor.id.filter(|_| actor.kind == "account")),
        closed_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await?;
    let summary = replay_year(&txn, scoring, Some(org), year, true).await?;
    audit::record(
        &txn,
        actor,
        Entry::new("close_year", "organization", org.id)
            .org(OrgId(org.id))
            .after(&summary),
    )
    .await?;
    txn.commit().await?;
    Ok(summary)
}
