//! Group commits for scans: the hot path of the fixed activity day.
//!
//! A scan whose QR code checked out (MAC, slot, session open) is queued here. A writer
//! takes everything that queued meanwhile (up to `checkin.batch_max`) and, in ONE
//! transaction, looks the openids up, judges each scan (bound, active, invited, class),
//! stores refusals and pending scans, inserts the check-in facts under their unique key
//! (`scan:<activity>:<person>`, ON CONFLICT DO NOTHING) and posts them for all the people
//! at once ([`crate::ledger::batch::repost_people`]). Replies go out only after the
//! commit: durable first, and the commit is shared, so durability does not cost
//! throughput. If a batch fails as a whole, its scans are retried one by one, so one bad
//! scan cannot fail the others.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use rust_decimal::Decimal;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::judge::{Class, Refusal, Scanner, Terms, judge};
use super::scan::{Outcome, Scan, refusal_row};
use super::sessions::CachedSession;
use crate::db::{Db, padded, pow2_chunks};
use crate::error::{AppError, AppResult};
use crate::ledger::SharedScoring;
use crate::ledger::inputs::{choose_policy, resolve_policy, tz_of, year_of};
use crate::policy::Method;

/// What the writer decided for one scan.
#[derive(Debug, Clone)]
pub enum Written {
    /// Final: the outcome, the engine's note for the granted points, and the person
    /// counted (for the live view).
    Done {
        outcome: Outcome,
        note: Option<String>,
        counted: Option<Box<(entity::person::Model, Class)>>,
    },
    /// The person's scan key was already taken (another scan, a resend, another
    /// instance): the caller answers from what is stored.
    Taken { person: i64 },
}

struct Job {
    scan: Scan,
    session: CachedSession,
    done: oneshot::Sender<AppResult<Written>>,
}

/// Handle to this process's writers; cheap to clone.
#[derive(Clone)]
pub struct CheckinWriter {
    tx: mpsc::Sender<Job>,
}

impl CheckinWriter {
    /// Starts `writers` writer tasks over one queue.
    pub fn spawn(db: Db, scoring: SharedScoring, batch_max: usize, writers: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(batch_max.max(1) * 64);
        let rx = Arc::new(Mutex::new(rx));
        // SQLite has one writer at a time anyway.
        let writers = match db.get_database_backend() {
            DatabaseBackend::Sqlite => 1,
            _ => writers.max(1),
        };
        for _ in 0..writers {
            let (db, scoring) = (db.clone(), scoring.clone());
            supervise(rx.clone(), batch_max, move |jobs| {
                let (db, scoring) = (db.clone(), scoring.clone());
                async move { run_batch(&db, &scoring, jobs).await }
            });
        }
        Self { tx }
    }

    /// Queues a scan and waits for its durable outcome.
    pub async fn submit(&self, scan: Scan, session: CachedSession) -> AppResult<Written> {
        let (done, rx) = oneshot::channel();
        self.tx
            .send(Job {
                scan,
                session,
                done,
            })
            .await
            .map_err(|_| AppError::unavailable(anyhow::anyhow!("check-in writer stopped")))?;
        rx.await
            .map_err(|_| AppError::unavailable(anyhow::anyhow!("check-in writer dropped a scan")))?
    }
}

/// One writer: takes what queued meanwhile (up to `batch_max`) and runs `batch` on it,
/// until the queue closes. Each batch runs as its own task, so a panic in it (a bug, a
/// driver fault) fails only that batch — its waiters' reply channels drop, and they
/// answer "unavailable" at once — and the writer goes on with the next batch instead of
/// leaving check-ins stopped until a restart.
pub fn supervise<T, F, Fut>(
    rx: Arc<Mutex<mpsc::Receiver<T>>>,
    batch_max: usize,
    batch: F,
) -> tokio::task::JoinHandle<()>
where
    T: Send + 'static,
    F: Fn(Vec<T>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            let mut jobs = Vec::new();
            {
                let mut rx = rx.lock().await;
                let Some(first) = rx.recv().await else { return };
                jobs.push(first);
                while jobs.len() < batch_max {
                    match rx.try_recv() {
                        Ok(j) => jobs.push(j),
                        Err(_) => break,
                    }
                }
            }
            let size = jobs.len();
            if let Err(e) = tokio::spawn(batch(jobs)).await {
                tracing::error!(size, error = %e, "check-in batch panicked; its scans failed, the writer goes on");
            }
        }
    })
}

async fn run_batch(db: &Db, scoring: &SharedScoring, jobs: Vec<Job>) {
    let size = jobs.len();
    let started = std::time::Instant::now();
    let work: Vec<(&Scan, &CachedSession)> = jobs.iter().map(|j| (&j.scan, &j.session)).collect();
    let mut result = write(db, scoring, &work).await;
    if result.is_err() {
        // A lost race between instances (a deadlock or serialization failure) heals on retry.
        result = write(db, scoring, &work).await;
    }
    match result {
        Ok(outcomes) => {
            tracing::debug!(size, elapsed = ?started.elapsed(), "check-in batch committed");
            for (job, out) in jobs.into_iter().zip(outcomes) {
                let _ = job.done.send(Ok(out));
            }
        }
        Err(e) if size > 1 => {
            tracing::warn!(size, error = %e.detail, "check-in batch failed; writing its scans one by one");
            for job in jobs {
                let one = [(&job.scan, &job.session)];
                let out = write(db, scoring, &one).await.and_then(|mut v| {
                    v.pop()
                        .ok_or_else(|| AppError::internal(anyhow::anyhow!("empty batch result")))
                });
                let _ = job.done.send(out);
            }
        }
        Err(e) => {
            for job in jobs {
                let _ = job.done.send(Err(AppError {
                    code: e.code,
                    detail: e.detail.clone(),
                    errors: e.errors.clone(),
                    source: None,
                }));
            }
        }
    }
}

enum Plan {
    Refuse(Refusal, Option<i64>),
    Pending,
    Count {
        person: i64,
        class: Class,
        key: String,
        year: i32,
    },
    /// A second scan of the same person and activity within this batch.
    Taken {
        person: i64,
        key: String,
    },
}

/// One transaction for the whole batch; outcomes in the order of `work`.
async fn write(
    db: &Db,
    scoring: &SharedScoring,
    work: &[(&Scan, &CachedSession)],
) -> AppResult<Vec<Written>> {
    let t0 = std::time::Instant::now();
    let txn = crate::db::begin(db).await?;
    let openids: Vec<String> = work
        .iter()
        .map(|(s, _)| s.openid.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut people: HashMap<String, entity::person::Model> = HashMap::new();
    for chunk in openids.chunks(500) {
        for p in entity::person::Entity::find()
            .filter(entity::person::Column::Openid.is_in(padded(chunk)))
            .all(&txn)
            .await?
        {
            if let Some(o) = p.openid.clone() {
                people.insert(o, p);
            }
        }
    }
    let org_ids: Vec<i64> = people
        .values()
        .map(|p| p.org_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let orgs: HashMap<i64, entity::organization::Model> = entity::organization::Entity::find()
        .filter(entity::organization::Column::Id.is_in(padded(&org_ids)))
        .all(&txn)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let activity_ids: Vec<i64> = work
        .iter()
        .map(|(_, s)| s.activity_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut invited: HashMap<i64, Vec<i64>> = HashMap::new();
    for (_, s) in work {
        invited
            .entry(s.activity_id)
            .or_insert_with(|| vec![s.org_id]);
    }
    for i in entity::activity_invite::Entity::find()
        .filter(entity::activity_invite::Column::ActivityId.is_in(padded(&activity_ids)))
        .all(&txn)
        .await?
    {
        invited.entry(i.activity_id).or_default().push(i.org_id);
    }

    // Each scan is judged by the policy of the member's organization in the scan's year.
    let years: Vec<i32> = work
        .iter()
        .filter_map(|(scan, _)| {
            let org = orgs.get(&people.get(&scan.openid)?.org_id)?;
            Some(year_of(scan.at, tz_of(org)))
        })
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let ancestors: Vec<i64> = orgs
        .values()
        .flat_map(|o| o.path.split('/').filter_map(|x| x.parse::<i64>().ok()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let choices = if ancestors.is_empty() || years.is_empty() {
        Vec::new()
    } else {
        entity::org_policy::Entity::find()
            .filter(entity::org_policy::Column::OrgId.is_in(padded(&ancestors)))
            .filter(entity::org_policy::Column::Year.is_in(padded(&years)))
            .order_by_asc(entity::org_policy::Column::Id)
            .all(&txn)
            .await?
    };
    let mut terms_by: HashMap<(String, Option<String>), Terms> = HashMap::new();
    let mut terms_of = |org: &entity::organization::Model, year: i32| -> AppResult<Terms> {
        let choice = choose_policy(&choices, &org.path, year);
        if let Some(t) = terms_by.get(&choice) {
            return Ok(*t);
        }
        let t = Terms::of(&*resolve_policy(scoring, &choice.0, choice.1.as_deref())?);
        terms_by.insert(choice, t);
        Ok(t)
    };

    let mut plans = Vec::with_capacity(work.len());
    let mut keys_seen: HashSet<String> = HashSet::new();
    for (scan, s) in work {
        let Some(person) = people.get(&scan.openid) else {
            plans.push(if scan.at > s.ends_at() {
                Plan::Refuse(Refusal::Closed(Terms::UNKNOWN), None)
            } else {
                Plan::Pending
            });
            continue;
        };
        let Some(org) = orgs.get(&person.org_id) else {
            plans.push(Plan::Refuse(Refusal::NotInvited, Some(person.id)));
            continue;
        };
        let year = year_of(scan.at, tz_of(org));
        let who = Scanner {
            status: &person.status,
            org_path: &org.path,
            terms: terms_of(org, year)?,
        };
        let roots = invited
            .get(&s.activity_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let plan = match judge(&s.held(), roots, s.ends_at(), who, scan.at) {
            Err(why) => Plan::Refuse(why, Some(person.id)),
            Ok(class) => {
                let key = super::checkin_key(s.activity_id, person.id);
                if keys_seen.insert(key.clone()) {
                    Plan::Count {
                        person: person.id,
                        class,
                        key,
                        year,
                    }
                } else {
                    Plan::Taken {
                        person: person.id,
                        key,
                    }
                }
            }
        };
        plans.push(plan);
    }

    // Refusals and pending scans: kept, never points. One row per WeChat event.
    let mut refusals: BTreeMap<String, entity::checkin_refusal::ActiveModel> = BTreeMap::new();
    let mut pending: BTreeMap<(String, i64), entity::pending_scan::ActiveModel> = BTreeMap::new();
    let mut facts: BTreeMap<String, entity::fact::ActiveModel> = BTreeMap::new();
    let now = Utc::now();
    for ((scan, s), plan) in work.iter().zip(&plans) {
        match plan {
            Plan::Refuse(why, person) => {
                refusals.insert(
                    scan.event_key.clone(),
                    refusal_row(scan, Some((s.activity_id, s.id)), *person, *why),
                );
            }
            Plan::Pending => {
                pending.insert(
                    (scan.openid.clone(), s.id),
                    entity::pending_scan::ActiveModel {
                        id: NotSet,
                        openid: Set(scan.openid.clone()),
                        session_id: Set(s.id),
                        activity_id: Set(s.activity_id),
                        scene: Set(Some(scan.scene.clone())),
                        at: Set(scan.at),
                        received_at: Set(scan.received_at),
                        resolved_at: Set(None),
                        fact_id: Set(None),
                    },
                );
            }
            Plan::Count {
                person, key, year, ..
            } => {
                facts.insert(
                    key.clone(),
                    entity::fact::ActiveModel {
                        id: NotSet,
                        kind: Set("checkin".to_owned()),
                        person_id: Set(Some(*person)),
                        org_id: Set(None),
                        activity_id: Set(Some(s.activity_id)),
                        item: Set(None),
                        fields: Set(None),
                        method: Set(Some(Method::Qr.as_str().to_owned())),
                        target_id: Set(None),
                        at: Set(scan.at),
                        year: Set(*year),
                        received_at: Set(scan.received_at),
                        session_id: Set(Some(s.id)),
                        actor_kind: Set("member".to_owned()),
                        actor_id: Set(Some(*person)),
                        actor_name: Set(format!("member:{person}")),
                        reason: Set(None),
                        evidence: Set(None),
                        dedup_key: Set(Some(key.clone())),
                        source_event: Set(Some(scan.event_key.clone())),
                        created_at: Set(now),
                    },
                );
            }
            Plan::Taken { .. } => {}
        }
    }
    for chunk in pow2_chunks(refusals.into_values().collect(), 256) {
        entity::checkin_refusal::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::column(entity::checkin_refusal::Column::EventKey)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    for chunk in pow2_chunks(pending.into_values().collect(), 256) {
        entity::pending_scan::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::columns([
                    entity::pending_scan::Column::Openid,
                    entity::pending_scan::Column::SessionId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    let t_judged = t0.elapsed();
    let inserted = insert_facts(&txn, facts).await?;
    let holders = key_holders(&txn, &plans, &inserted).await?;
    let t_inserted = t0.elapsed();

    // Post everyone whose check-in went in, in one pass.
    let mut subjects = Vec::new();
    let mut causes = HashMap::new();
    for plan in &plans {
        if let Plan::Count {
            person, key, year, ..
        } = plan
            && let Some(f) = inserted.get(key)
        {
            subjects.push((*person, *year));
            causes.insert(*person, f.id);
        }
    }
    // The people, organizations and policy choices read above, not read again.
    let people_by_id: HashMap<i64, entity::person::Model> =
        people.values().map(|p| (p.id, p.clone())).collect();
    let known = crate::ledger::batch::Known {
        people: &people_by_id,
        orgs: &orgs,
        choices: &choices,
    };
    let posted =
        crate::ledger::batch::repost_people_known(&txn, scoring, &subjects, &causes, Some(known))
            .await?;
    let t_posted = t0.elapsed();
    txn.commit().await?;
    tracing::debug!(size = work.len(), judged = ?t_judged, inserted = ?t_inserted, posted = ?t_posted, committed = ?t0.elapsed(), "check-in batch stages");

    // A taken key is answered here from its holder's event, not read back by the caller,
    // unless this very event holds it (a resend that missed the gateway's cache): then
    // the caller rebuilds the first reply from the ledger.
    let already_in = |person: i64, key: &str, scan: &Scan| {
        if holders
            .get(key)
            .is_some_and(|e| e.as_deref() == Some(scan.event_key.as_str()))
        {
            Written::Taken { person }
        } else {
            Written::Done {
                outcome: Outcome::AlreadyIn,
                note: None,
                counted: None,
            }
        }
    };
    let mut out = Vec::with_capacity(plans.len());
    for ((scan, _), plan) in work.iter().zip(plans) {
        out.push(match plan {
            Plan::Refuse(why, _) => Written::Done {
                outcome: Outcome::Refused(why),
                note: None,
                counted: None,
            },
            Plan::Pending => Written::Done {
                outcome: Outcome::Pending,
                note: None,
                counted: None,
            },
            Plan::Taken { person, key } => already_in(person, &key, scan),
            Plan::Count {
                person,
                class,
                key,
                year,
            } => match (inserted.get(&key), posted.get(&(person, year))) {
                (Some(f), Some(r)) => {
                    let exempt = r
                        .eval
                        .result()
                        .is_some_and(|x| x.status == crate::policy::Status::Exempt);
                    let points: Decimal = r.granted_for(f.id).unwrap_or_default();
                    let note = r.postings_for(f.id).map(|p| p.note.clone()).next();
                    let counted = people_by_id
                        .get(&person)
                        .map(|p| Box::new((p.clone(), class)));
                    if exempt {
                        Written::Done {
                            outcome: Outcome::Exempt { fact_id: f.id },
                            note,
                            counted,
                        }
                    } else {
                        Written::Done {
                            outcome: Outcome::Counted {
                                fact_id: f.id,
                                class,
                                points,
                            },
                            note,
                            counted,
                        }
                    }
                }
                _ => already_in(person, &key, scan),
            },
        });
    }
    Ok(out)
}

/// The WeChat event holding each check-in key this batch found taken (by an earlier
/// scan in the batch or a stored fact): one read for the whole batch, in its transaction.
async fn key_holders(
    txn: &impl ConnectionTrait,
    plans: &[Plan],
    inserted: &HashMap<String, entity::fact::Model>,
) -> AppResult<HashMap<String, Option<String>>> {
    let mut holders = HashMap::new();
    let mut stored = Vec::new();
    for plan in plans {
        let key = match plan {
            Plan::Count { key, .. } if !inserted.contains_key(key) => key,
            Plan::Taken { key, .. } => key,
            _ => continue,
        };
        match inserted.get(key) {
            Some(f) => {
                holders.insert(key.clone(), f.source_event.clone());
            }
            None => stored.push(key.clone()),
        }
    }
    stored.sort_unstable();
    stored.dedup();
    for chunk in stored.chunks(256) {
        let rows: Vec<(Option<String>, Option<String>)> = entity::fact::Entity::find()
            .select_only()
            .column(entity::fact::Column::DedupKey)
            .column(entity::fact::Column::SourceEvent)
            .filter(entity::fact::Column::DedupKey.is_in(padded(chunk)))
            .into_tuple()
            .all(txn)
            .await?;
        for (key, event) in rows {
            if let Some(k) = key {
                holders.insert(k, event);
            }
        }
    }
    Ok(holders)
}

/// Inserts the facts whose key is free; the inserted rows by key. Sorted by key, so two
/// instances' batches take the unique-index locks in the same order.
async fn insert_facts(
    txn: &impl ConnectionTrait,
    facts: BTreeMap<String, entity::fact::ActiveModel>,
) -> AppResult<HashMap<String, entity::fact::Model>> {
    let mut out = HashMap::new();
    if facts.is_empty() {
        return Ok(out);
    }
    let keys: Vec<String> = facts.keys().cloned().collect();
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        for chunk in pow2_chunks(facts.into_values().collect(), 256) {
            let inserted = entity::fact::Entity::insert_many(chunk)
                .on_conflict(
                    OnConflict::column(entity::fact::Column::DedupKey)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_with_returning(txn)
                .await?;
            for f in inserted {
                if let Some(k) = f.dedup_key.clone() {
                    out.insert(k, f);
                }
            }
        }
        return Ok(out);
    }
    // SQLite: the write transaction is exclusive, so the keys taken now stay taken and
    // the free ones stay free until the commit.
    let mut taken = HashSet::new();
    for chunk in keys.chunks(256) {
        for f in entity::fact::Entity::find()
            .filter(entity::fact::Column::DedupKey.is_in(padded(chunk)))
            .all(txn)
            .await?
        {
            if let Some(k) = f.dedup_key {
                taken.insert(k);
            }
        }
    }
    let fresh: Vec<_> = facts
        .into_iter()
        .filter(|(k, _)| !taken.contains(k))
        .map(|(_, v)| v)
        .collect();
    let fresh_keys: Vec<String> = keys.into_iter().filter(|k| !taken.contains(k)).collect();
    for chunk in pow2_chunks(fresh, 256) {
        entity::fact::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    for chunk in fresh_keys.chunks(256) {
        for f in entity::fact::Entity::find()
            .filter(entity::fact::Column::DedupKey.is_in(padded(chunk)))
            .all(txn)
            .await?
        {
            if let Some(k) = f.dedup_key.clone() {
                out.insert(k, f);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod supervise_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A panic in one batch stopped check-ins until restart: the writer task died with it.
    #[tokio::test]
    async fn checkin_writer_is_supervised_a_panicking_batch_fails_its_waiters_and_the_next_is_written()
     {
        let (tx, rx) = mpsc::channel::<(u32, oneshot::Sender<u32>)>(16);
        supervise(
            Arc::new(Mutex::new(rx)),
            1,
            |jobs: Vec<(u32, oneshot::Sender<u32>)>| async move {
                for (n, done) in jobs {
                    assert!(n != 13, "injected panic");
                    let _ = done.send(n * 2);
                }
            },
        );
        let (first, first_rx) = oneshot::channel();
        tx.send((13, first)).await.unwrap();
        let failed = tokio::time::timeout(std::time::Duration::from_secs(5), first_rx)
            .await
            .expect("the waiter of the panicking batch is answered at once");
        assert!(failed.is_err(), "and answered with a failure");
        let (second, second_rx) = oneshot::channel();
        tx.send((4, second)).await.unwrap();
        let written = tokio::time::timeout(std::time::Duration::from_secs(5), second_rx)
            .await
            .expect("the next batch is written: the writer survived");
        assert_eq!(written.unwrap(), 8);
    }
}
