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
    run_year(db, scoring, root, year, close, None).await
}

/// A person's year as the year-end run would leave it, with the evidence of the
/// last-place rules (EQ-5, EQ-6), computed before the close and written nowhere.
#[derive(Debug, Clone)]
pub struct YearPreview {
    pub person_id: i64,
    pub org_id: i64,
    pub results: Vec<crate::policy::IndexResult>,
    pub evidence: Vec<crate::policy::LastPlaceEvidence>,
}

/// The year-end run (year-end and group rules, the run carried from last year, the
/// committee as population) for the people under `root`, without writing anything.
pub async fn preview_year_end(
    db: &impl ConnectionTrait,
    scoring: &Scoring,
    root: &entity::organization::Model,
    year: i32,
) -> AppResult<Vec<YearPreview>> {
    let mut out = Vec::new();
    run_year(db, scoring, Some(root), year, true, Some(&mut out)).await?;
    Ok(out)
}

async fn run_year(
    db: &impl ConnectionTrait,
    scoring: &Scoring,
    root: Option<&entity::organization::Model>,
    year: i32,
    close: bool,
    mut preview: Option<&mut Vec<YearPreview>>,
) -> AppResult<ReplaySummary> {
    let t = std::time::Instant::now();
    let orgs = org_map(db).await?;
    // At year end a ranking across "the whole committee" (EQ-6 全委) needs everyone in
    // it, whichever organization closes first: evaluate the committee, write `root`.
    let population = match (root, close) {
        (Some(r), true) => Some(committee_of(&orgs, r)),
        _ => root,
    };
    let scope_orgs: Vec<&entity::organization::Model> = orgs
        .values()
        .filter(|o| population.is_none_or(|r| o.path.starts_with(&r.path)))
        .collect();
    let org_ids: Vec<i64> = scope_orgs.iter().map(|o| o.id).collect();
    // Results of an organization that closed the year on its own are frozen: closing a
    // parent later never rewrites them.
    let frozen: Vec<String> = entity::year_closing::Entity::find()
        .filter(entity::year_closing::Column::Year.eq(year))
        .all(db)
        .await?
        .into_iter()
        .filter(|c| root.is_none_or(|r| c.org_id != r.id))
        .filter_map(|c| orgs.get(&c.org_id).map(|o| o.path.clone()))
        .collect();
    let written = |org_id: i64| {
        orgs.get(&org_id).is_some_and(|o| {
            root.is_none_or(|r| o.path.starts_with(&r.path))
                && !frozen.iter().any(|f| o.path.starts_with(f.as_str()))
        })
    };

    // Group subjects by the policy their organization uses that year.
    let mut policy_of: HashMap<i64, (String, Option<String>)> = HashMap::new();
    let mut same_as_last_year: std::collections::HashSet<i64> = Default::default();
    for o in &scope_orgs {
        let choice = inputs::policy_choice(db, &o.path, year).await?;
        if close && inputs::policy_choice(db, &o.path, year - 1).await? == choice {
            same_as_last_year.insert(o.id);
        }
        policy_of.insert(o.id, choice);
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
    let carried = if close {
        carried_from(db, year - 1, &people, &same_as_last_year).await?
    } else {
        Default::default()
    };

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
                        .unwrap_or(crate::org::service::DEFAULT_TZ);
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
            carried: carried.clone(),
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
        if let Some(out) = preview.as_deref_mut() {
            let evidence = crate::policy::last_place_evidence(&ctx, &evals.persons, &data.carried);
            for (e, i) in evals.persons.iter().zip(person_ix.iter()) {
                let p = &people[*i];
                let under_root = orgs
                    .get(&p.org_id)
                    .is_some_and(|o| root.is_none_or(|r| o.path.starts_with(&r.path)));
                if !under_root {
                    continue;
                }
                out.push(YearPreview {
                    person_id: p.id,
                    org_id: p.org_id,
                    results: e.results.clone(),
                    evidence: evidence
                        .iter()
                        .filter(|x| x.subject == e.subject)
                        .cloned()
                        .collect(),
                });
            }
            summary.persons += person_ix.len();
            continue;
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
        write_all(
            db,
            year,
            close,
            subjects.filter(|(_, org, _)| written(*org)).collect(),
        )
        .await?;
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

/// The nearest committee at or above `org` (the top of its tree when there is none).
fn committee_of<'a>(
    orgs: &'a HashMap<i64, entity::organization::Model>,
    org: &'a entity::organization::Model,
) -> &'a entity::organization::Model {
    let path: Vec<&entity::organization::Model> = org
        .path
        .split('/')
        .filter_map(|s| s.parse().ok())
        .filter_map(|id: i64| orgs.get(&id))
        .collect();
    path.iter()
        .rev()
        .find(|o| o.kind == "committee")
        .or(path.first())
        .copied()
        .unwrap_or(org)
}

/// EQ-5's runs of last places the previous year ended on, from its frozen results, for
/// people whose organization keeps the same policy (no look-back across a change).
async fn carried_from(
    db: &impl ConnectionTrait,
    previous: i32,
    people: &[entity::person::Model],
    same_policy: &std::collections::HashSet<i64>,
) -> AppResult<crate::policy::Carried> {
    let ids: Vec<i64> = people
        .iter()
        .filter(|p| same_policy.contains(&p.org_id))
        .map(|p| p.id)
        .collect();
    let mut out = crate::policy::Carried::new();
    for chunk in ids.chunks(500) {
        let rows = entity::subject_score::Entity::find()
            .filter(entity::subject_score::Column::Year.eq(previous))
            .filter(entity::subject_score::Column::SubjectKind.eq("person"))
            .filter(entity::subject_score::Column::SubjectId.is_in(chunk.to_vec()))
            .filter(entity::subject_score::Column::Closed.eq(true))
            .all(db)
            .await?;
        for row in rows {
            let Some(detail) = row.detail.as_deref() else {
                continue;
            };
            let results: Vec<serde_json::Value> = serde_json::from_str(detail).unwrap_or_default();
            // The stretch that ends the year carries the run.
            let Some(last) = results.last() else { continue };
            let runs: Vec<(String, u32)> =
                serde_json::from_value(last["trailing_last"].clone()).unwrap_or_default();
            for (rule, run) in runs {
                out.insert((crate::policy::PersonId(row.subject_id), rule.into()), run);
            }
        }
    }
    Ok(out)
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
