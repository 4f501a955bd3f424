//! Posting for many people at once: what `post::repost` does for one subject, in a
//! fixed number of statements for a whole batch (the check-in writer's group commit).
//!
//! Same rules as the single path: score rows are locked first (in person order, so
//! two instances' batches cannot deadlock), inputs are read under the lock, the engine
//! re-derives each running year and only the differences are appended.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
};

use super::inputs::{choose_policy, person_from_rows, resolve_policy, to_activity, to_fact, tz_of};
use super::post::{Reposted, diff, evaluate_with, insert_entries, placeholder_score, score_row};
use super::{Scoring, SubjectRef};
use crate::db::{padded, pow2_chunks};
use crate::error::{AppError, AppResult};
use crate::policy::{Activities, Policy, Subject};

const CHUNK: usize = 500;

/// What a caller already read in its transaction, handed over instead of read again:
/// people by id, their organizations by id, and the policy choices
/// (`entity::org_policy`, by id) of those organizations' ancestors for the years posted.
pub struct Known<'a> {
    pub people: &'a HashMap<i64, entity::person::Model>,
    pub orgs: &'a HashMap<i64, entity::organization::Model>,
    pub choices: &'a [entity::org_policy::Model],
}

/// Re-derives the running year of every (person, year) and appends the differences.
/// `causes` names the fact that caused each person's posting.
pub async fn repost_people(
    db: &impl ConnectionTrait,
    scoring: &Scoring,
    subjects: &[(i64, i32)],
    causes: &HashMap<i64, i64>,
) -> AppResult<HashMap<(i64, i32), Reposted>> {
    repost_people_known(db, scoring, subjects, causes, None).await
}

/// [`repost_people`], given what the caller read already (the check-in writer).
pub async fn repost_people_known(
    db: &impl ConnectionTrait,
    scoring: &Scoring,
    subjects: &[(i64, i32)],
    causes: &HashMap<i64, i64>,
    known: Option<Known<'_>>,
) -> AppResult<HashMap<(i64, i32), Reposted>> {
    let mut subjects = subjects.to_vec();
    subjects.sort_unstable();
    subjects.dedup();
    if subjects.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<i64> = dedup(subjects.iter().map(|s| s.0));
    let years: Vec<i32> = {
        let mut y: Vec<i32> = subjects.iter().map(|s| s.1).collect();
        y.sort_unstable();
        y.dedup();
        y
    };
    let (read_people, read_orgs, read_choices);
    let (people, orgs, choices) = match known {
        Some(k) => (k.people, k.orgs, k.choices),
        None => {
            read_people = by_ids::<entity::person::Entity, _>(db, &ids, entity::person::Column::Id)
                .await?
                .into_iter()
                .map(|p| (p.id, p))
                .collect::<HashMap<_, _>>();
            let org_ids = dedup(read_people.values().map(|p| p.org_id));
            read_orgs = by_ids::<entity::organization::Entity, _>(
                db,
                &org_ids,
                entity::organization::Column::Id,
            )
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect::<HashMap<_, _>>();
            read_choices = entity::org_policy::Entity::find()
                .filter(entity::org_policy::Column::OrgId.is_in(padded(&ancestors_of(&read_orgs))))
                .filter(entity::org_policy::Column::Year.is_in(padded(&years)))
                .order_by_asc(entity::org_policy::Column::Id)
                .all(db)
                .await?;
            (&read_people, &read_orgs, read_choices.as_slice())
        }
    };
    for id in &ids {
        if !people.contains_key(id) {
            return Err(AppError::not_found(format!("人员 {id} 不存在")));
        }
    }
    let closings = entity::year_closing::Entity::find()
        .filter(entity::year_closing::Column::OrgId.is_in(padded(&ancestors_of(orgs))))
        .filter(entity::year_closing::Column::Year.is_in(padded(&years)))
        .all(db)
        .await?;
    let org_of = |pid: i64| -> AppResult<&entity::organization::Model> {
        people
            .get(&pid)
            .and_then(|p| orgs.get(&p.org_id))
            .ok_or_else(|| AppError::not_found(format!("人员 {pid} 的组织不存在")))
    };
    for (pid, year) in &subjects {
        let org = org_of(*pid)?;
        let closed = closings
            .iter()
            .any(|c| c.year == *year && org.path.contains(&format!("/{}/", c.org_id)));
        if closed {
            return Err(AppError::conflict(format!(
                "{year} 年度已结转归档，不能再更改"
            )));
        }
    }

    let t0 = std::time::Instant::now();
    let mut scores = lock_rows(db, &subjects, people).await?;
    let t_locked = t0.elapsed();

    // Read everything under the lock: another transaction may have posted meanwhile.
    let history = by_ids::<entity::person_history::Entity, _>(
        db,
        &ids,
        entity::person_history::Column::PersonId,
    )
    .await?;
    let exemptions =
        by_ids::<entity::exemption::Entity, _>(db, &ids, entity::exemption::Column::PersonId)
            .await?;
    let mut facts: Vec<entity::fact::Scored> = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        facts.extend(
            entity::fact::Entity::find()
                .filter(entity::fact::Column::PersonId.is_in(padded(chunk)))
                .filter(entity::fact::Column::Year.is_in(padded(&years)))
                .into_partial_model::<entity::fact::Scored>()
                .all(db)
                .await?,
        );
    }
    let activity_ids = dedup(facts.iter().filter_map(|f| f.activity_id));
    let activities = Activities::new(
        by_ids::<entity::activity::Entity, _>(db, &activity_ids, entity::activity::Column::Id)
            .await?
            .iter()
            .filter_map(to_activity),
    );
    let mut entries: HashMap<(i64, i32), Vec<entity::ledger_entry::Model>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        for e in entity::ledger_entry::Entity::find()
            .filter(entity::ledger_entry::Column::SubjectKind.eq("person"))
            .filter(entity::ledger_entry::Column::SubjectId.is_in(padded(chunk)))
            .filter(entity::ledger_entry::Column::Year.is_in(padded(&years)))
            .all(db)
            .await?
        {
            entries.entry((e.subject_id, e.year)).or_default().push(e);
        }
    }
    let (hist_by, ex_by) = super::inputs::group_by_person(history, exemptions);
    let mut facts_by: HashMap<(i64, i32), Vec<crate::policy::Fact>> = HashMap::new();
    for f in &facts {
        if let (Some(p), Some(fact)) = (f.person_id, to_fact(f)) {
            facts_by.entry((p, f.year)).or_default().push(fact);
        }
    }

    let t_read = t0.elapsed();
    let mut policies: HashMap<(String, Option<String>), Arc<Policy>> = HashMap::new();
    let now = Utc::now();
    let mut rows = Vec::new();
    let mut results = Vec::new();
    let mut out = HashMap::new();
    for (pid, year) in &subjects {
        let person = &people[pid];
        let org = org_of(*pid)?;
        let tz = tz_of(org);
        let choice = choose_policy(choices, &org.path, *year);
        let policy = match policies.get(&choice) {
            Some(p) => p.clone(),
            None => {
                let p = resolve_policy(scoring, &choice.0, choice.1.as_deref())?;
                policies.insert(choice, p.clone());
                p
            }
        };
        let subject = Subject::Person(person_from_rows(
            person,
            hist_by.get(pid).map(Vec::as_slice).unwrap_or_default(),
            ex_by.get(pid).map(Vec::as_slice).unwrap_or_default(),
            tz,
            *year,
        ));
        let fs = facts_by.remove(&(*pid, *year)).unwrap_or_default();
        let eval = evaluate_with(scoring, &policy, &subject, &fs, &activities, *year);
        for w in &eval.warnings {
            tracing::warn!(person = pid, year, warning = %w, "engine warning");
        }
        let subject_ref = SubjectRef::Person(*pid);
        let held = entries
            .get(&(*pid, *year))
            .map(Vec::as_slice)
            .unwrap_or_default();
        rows.extend(diff(
            subject_ref,
            *year,
            &eval,
            held,
            causes.get(pid).copied(),
            now,
        ));
        results.push(score_row(
            scores.remove(&(*pid, *year)),
            subject_ref,
            *year,
            &eval,
            person.org_id,
            false,
        ));
        out.insert(
            (*pid, *year),
            Reposted {
                subject: subject_ref,
                year: *year,
                eval,
            },
        );
    }
    let t_evaluated = t0.elapsed();
    insert_entries(db, rows).await?;
    save_results(db, results).await?;
    tracing::debug!(subjects = subjects.len(), locked = ?t_locked, read = ?t_read, evaluated = ?t_evaluated, written = ?t0.elapsed(), "bulk posting stages");
    Ok(out)
}

/// Creates missing score rows and locks every row, in person order so two instances'
/// batches cannot deadlock: an upsert locks the rows it touches, probing the unique index
/// row by row, so no query plan (and no stale statistics) decides what gets scanned.
/// Returns the rows as they are under the lock.
async fn lock_rows(
    db: &impl ConnectionTrait,
    subjects: &[(i64, i32)],
    people: &HashMap<i64, entity::person::Model>,
) -> AppResult<HashMap<(i64, i32), entity::subject_score::Model>> {
    use entity::subject_score::{ActiveModel, Column, Entity};
    let now = Utc::now();
    let postgres = db.get_database_backend() == DatabaseBackend::Postgres;
    let mut out = HashMap::new();
    for chunk in pow2_chunks(subjects.to_vec(), CHUNK) {
        let rows: Vec<ActiveModel> = chunk
            .iter()
            .map(|(pid, year)| {
                placeholder_score(
                    SubjectRef::Person(*pid),
                    *year,
                    people.get(pid).map_or(0, |p| p.org_id),
                    now,
                )
            })
            .collect();
        let upsert = Entity::insert_many(rows).on_conflict(
            OnConflict::columns([Column::SubjectKind, Column::SubjectId, Column::Year])
                .update_column(Column::UpdatedAt)
                .to_owned(),
        );
        if postgres {
            for m in upsert.exec_with_returning(db).await? {
                out.insert((m.subject_id, m.year), m);
            }
        } else {
            // A SQLite write transaction is exclusive already; read the rows back.
            upsert.exec_without_returning(db).await?;
            let ids: Vec<i64> = dedup(chunk.iter().map(|s| s.0));
            let years: Vec<i32> = dedup(chunk.iter().map(|s| s.1));
            for m in Entity::find()
                .filter(Column::SubjectKind.eq("person"))
                .filter(Column::SubjectId.is_in(padded(&ids)))
                .filter(Column::Year.is_in(padded(&years)))
                .all(db)
                .await?
            {
                out.insert((m.subject_id, m.year), m);
            }
        }
    }
    Ok(out)
}

/// Every row exists (locked above): one upsert statement per chunk.
async fn save_results(
    db: &impl ConnectionTrait,
    rows: Vec<entity::subject_score::ActiveModel>,
) -> AppResult<()> {
    use entity::subject_score::{Column, Entity};
    let rows: Vec<_> = rows
        .into_iter()
        .map(|mut r| {
            r.id = sea_orm::ActiveValue::NotSet;
            r
        })
        .collect();
    for chunk in pow2_chunks(rows, CHUNK) {
        Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::columns([Column::SubjectKind, Column::SubjectId, Column::Year])
                    .update_columns([
                        Column::OrgId,
                        Column::IndexName,
                        Column::Status,
                        Column::Score,
                        Column::ScoreSort,
                        Column::Stars,
                        Column::Rating,
                        Column::Detail,
                        Column::Closed,
                        Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Every organization on the paths of `orgs` (themselves included).
fn ancestors_of(orgs: &HashMap<i64, entity::organization::Model>) -> Vec<i64> {
    dedup(
        orgs.values()
            .flat_map(|o| o.path.split('/').filter_map(|s| s.parse::<i64>().ok())),
    )
}

fn dedup<T: Ord + Copy>(it: impl Iterator<Item = T>) -> Vec<T> {
    let set: std::collections::BTreeSet<T> = it.collect();
    set.into_iter().collect()
}

async fn by_ids<E, C>(db: &impl ConnectionTrait, ids: &[i64], col: C) -> AppResult<Vec<E::Model>>
where
    E: EntityTrait,
    C: ColumnTrait,
{
    let mut out = Vec::new();
    let unique: HashSet<i64> = ids.iter().copied().collect();
    let unique: Vec<i64> = unique.into_iter().collect();
    for chunk in unique.chunks(CHUNK) {
        out.extend(E::find().filter(col.is_in(padded(chunk))).all(db).await?);
    }
    Ok(out)
}
