//! `vanguard score`: a scenario year loaded into a fresh in-memory database through
//! the services the server uses (organizations, roster import, exemptions,
//! activities, facts), then the year-end replay the year-end job runs.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};

use super::Scoring;
use super::facts::fields_to_json;
use super::year::replay_year;
use crate::audit::Actor;
use crate::checkin::activities::{self, NewActivity};
use crate::config::{Settings, Sources};
use crate::error::{AppError, AppResult};
use crate::org::service::{self as orgs, NewOrg};
use crate::org::{OrgKind, import};
use crate::policy::{PolicySet, Role, Status, parse_dec};
use crate::score::{EventBody, Output, Scenario, SubjectOutput, Who};

/// (fact id, person, org, activity) of a loaded fact, so an annulment is filed with its target.
type FactOwner = (i64, Option<i64>, Option<i64>, Option<i64>);

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::internal(anyhow::anyhow!("{e}"))
}

/// Scores a validated scenario through the services, in a fresh in-memory store.
pub async fn score(scenario: &Scenario) -> AppResult<Output> {
    let settings = Settings::load_from(Sources {
        file: None,
        // One connection: an in-memory SQLite database lives in its connection.
        overrides: &[
            "[database]\nurl = \"sqlite::memory:\"\nmax_connections = 1\n[log]\nlevel = \"warn\"\n",
        ],
        env: false,
    })
    .map_err(internal)?;
    let db = crate::db::connect(&settings).await.map_err(internal)?;
    crate::db::migrate(&db, &settings).await.map_err(internal)?;
    // A scratch database thrown away after the run: no rollback journal, and no foreign
    // key probes on every row (the scenario was validated; ids come from the inserts).
    db.execute_unprepared("PRAGMA journal_mode = OFF; PRAGMA foreign_keys = OFF;")
        .await?;
    let mut policies = PolicySet::builtin().map_err(internal)?;
    policies.insert((*scenario.policy).clone());
    let scoring = Scoring {
        policies,
        calendars: scenario.calendars.clone(),
    };
    let t = std::time::Instant::now();
    load(&db, &scenario.policy.name, scenario).await?;
    tracing::debug!(elapsed = ?t.elapsed(), "scenario loaded");
    let t = std::time::Instant::now();
    replay_year(&db, &scoring, None, scenario.year, true).await?;
    tracing::debug!(elapsed = ?t.elapsed(), "year replayed");
    let t = std::time::Instant::now();
    let out = output(&db, scenario).await;
    tracing::debug!(elapsed = ?t.elapsed(), "output read");
    out
}

async fn load(db: &crate::db::Db, policy: &str, s: &Scenario) -> AppResult<()> {
    let t = std::time::Instant::now();
    let actor = Actor::cli();
    let txn = crate::db::begin(db).await?;
    // Organizations, each choosing the scenario's policy for the year.
    let mut org_ids = Vec::with_capacity(s.orgs.len());
    for (i, o) in s.orgs.iter().enumerate() {
        let view = orgs::create(
            &txn,
            &actor,
            None,
            NewOrg {
                name: o.name.clone().unwrap_or_else(|| o.id.clone()),
                code: format!("s{i}"),
                kind: OrgKind::Branch,
                parent_id: None,
                timezone: Some(o.tz.name().to_owned()),
            },
        )
        .await?;
        entity::org_policy::Entity::insert(entity::org_policy::ActiveModel {
            id: NotSet,
            org_id: Set(view.id.0),
            year: Set(s.year),
            policy: Set(policy.to_owned()),
            source: Set(None),
            chosen_by: Set(None),
            chosen_at: Set(Utc::now()),
        })
        .exec_without_returning(&txn)
        .await?;
        org_ids.push(view.id.0);
    }

    // People through the roster import, identified by 编号.
    let mut csv = String::from("姓名,手机号,支部编码,类别,编号\n");
    for (i, p) in s.people.iter().enumerate() {
        let role = match p.role {
            Role::Member => "正式党员",
            Role::Probationary => "预备党员",
            Role::Applicant => "入党申请人",
        };
        csv.push_str(&format!("P{i},,s{},{role},P{i}\n", p.org));
    }
    import::import(&txn, &actor, None, csv.as_bytes(), false, &|_, _, _| {}).await?;
    let people: HashMap<String, i64> = entity::person::Entity::find()
        .select_only()
        .columns([
            entity::person::Column::ExternalId,
            entity::person::Column::Id,
        ])
        .into_tuple::<(Option<String>, i64)>()
        .all(&txn)
        .await?
        .into_iter()
        .filter_map(|(e, id)| e.map(|e| (e, id)))
        .collect();
    let person_ids: Vec<i64> = (0..s.people.len())
        .map(|i| {
            people
                .get(&format!("P{i}"))
                .copied()
                .ok_or_else(|| internal(format!("person P{i} not imported")))
        })
        .collect::<AppResult<_>>()?;
    for (i, p) in s.people.iter().enumerate() {
        if p.exempt {
            crate::org::people::record_exemption(
                &txn,
                &actor,
                person_ids[i],
                Some(s.year),
                "场景数据：已批准免评",
                "场景",
                Utc::now().date_naive(),
            )
            .await?;
        }
    }

    tracing::debug!(elapsed = ?t.elapsed(), "organizations, people and exemptions loaded");
    let mut activity_ids = Vec::with_capacity(s.activities.len());
    for a in &s.activities {
        let row = activities::insert(
            &txn,
            &actor,
            &NewActivity {
                org_id: org_ids[a.org],
                kind: a.kind,
                title: a.id.clone(),
                place: None,
                starts_at: a.starts_at.with_timezone(&Utc),
                ends_at: a.ends_at.with_timezone(&Utc),
                points: a.points,
                registered_at: a.registered_at.with_timezone(&Utc),
            },
        )
        .await?;
        activity_ids.push(row.id);
    }

    tracing::debug!(elapsed = ?t.elapsed(), "activities loaded");
    // Facts in file order (ids follow it, as the engine's tie-break expects); annulments
    // are filed with their target's subject, so they come after.
    let now = Utc::now();
    let mut rows = Vec::with_capacity(s.events.len());
    for (i, e) in s.events.iter().enumerate() {
        let (kind, person, org, activity, item, fields, method) = match &e.body {
            EventBody::CheckIn {
                person,
                activity,
                method,
            } => (
                "checkin",
                Some(person_ids[*person]),
                None,
                Some(activity_ids[*activity]),
                None,
                None,
                Some(method.as_str().to_owned()),
            ),
            EventBody::MakeupStudy { person, activity } => (
                "makeup_study",
                Some(person_ids[*person]),
                None,
                Some(activity_ids[*activity]),
                None,
                None,
                None,
            ),
            EventBody::Item {
                subject,
                item,
                fields,
            } => {
                let (p, o) = match subject {
                    Who::Person(p) => (Some(person_ids[*p]), None),
                    Who::Org(o) => (None, Some(org_ids[*o])),
                };
                (
                    "item",
                    p,
                    o,
                    None,
                    Some(item.clone()),
                    Some(fields_to_json(fields)),
                    None,
                )
            }
            EventBody::Annul { .. } | EventBody::Unscored => continue,
        };
        rows.push(fact_row(
            kind,
            person,
            org,
            activity,
            item,
            fields,
            method,
            None,
            e.at.with_timezone(&Utc),
            s.year,
            &actor,
            None,
            format!("scenario:{i}"),
            now,
        ));
    }
    insert_rows(&txn, rows).await?;
    tracing::debug!(elapsed = ?t.elapsed(), "facts inserted");
    let ids: HashMap<String, FactOwner> = entity::fact::Entity::find()
        .select_only()
        .columns([
            entity::fact::Column::DedupKey,
            entity::fact::Column::Id,
            entity::fact::Column::PersonId,
            entity::fact::Column::OrgId,
            entity::fact::Column::ActivityId,
        ])
        .into_tuple::<(Option<String>, i64, Option<i64>, Option<i64>, Option<i64>)>()
        .all(&txn)
        .await?
        .into_iter()
        .filter_map(|(k, id, p, o, a)| k.map(|k| (k, (id, p, o, a))))
        .collect();
    // An annulment may target another annulment (which restores the first target), so
    // annulments go in as their targets become known, in file order within each pass.
    let mut ids = ids;
    let mut waiting: Vec<usize> = (0..s.events.len())
        .filter(|i| matches!(s.events[*i].body, EventBody::Annul { .. }))
        .collect();
    while !waiting.is_empty() {
        let mut rows = Vec::new();
        let mut keys = Vec::new();
        waiting.retain(|i| {
            let e = &s.events[*i];
            let EventBody::Annul { target, reason } = &e.body else {
                return false;
            };
            let Some((tid, p, o, a)) = ids.get(&format!("scenario:{target}")).copied() else {
                return true;
            };
            let key = format!("scenario:{i}");
            rows.push(fact_row(
                "annul",
                p,
                o,
                a,
                None,
                None,
                None,
                Some(tid),
                e.at.with_timezone(&Utc),
                s.year,
                &actor,
                reason.clone(),
                key.clone(),
                now,
            ));
            keys.push((key, (p, o, a)));
            false
        });
        if rows.is_empty() {
            // Validation guarantees every target exists; nothing left can be placed.
            break;
        }
        insert_rows(&txn, rows).await?;
        let placed: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
        for row in entity::fact::Entity::find()
            .filter(entity::fact::Column::DedupKey.is_in(placed))
            .all(&txn)
            .await?
        {
            if let Some(k) = row.dedup_key {
                ids.insert(k, (row.id, row.person_id, row.org_id, row.activity_id));
            }
        }
    }
    sea_orm::TransactionSession::commit(txn).await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn fact_row(
    kind: &str,
    person: Option<i64>,
    org: Option<i64>,
    activity: Option<i64>,
    item: Option<String>,
    fields: Option<String>,
    method: Option<String>,
    target: Option<i64>,
    at: chrono::DateTime<Utc>,
    year: i32,
    actor: &Actor,
    reason: Option<String>,
    key: String,
    now: chrono::DateTime<Utc>,
) -> entity::fact::ActiveModel {
    entity::fact::ActiveModel {
        id: NotSet,
        kind: Set(kind.to_owned()),
        person_id: Set(person),
        org_id: Set(org),
        activity_id: Set(activity),
        item: Set(item),
        fields: Set(fields),
        method: Set(method),
        target_id: Set(target),
        at: Set(at),
        year: Set(year),
        received_at: Set(now),
        session_id: Set(None),
        actor_kind: Set(actor.kind.to_owned()),
        actor_id: Set(actor.id),
        actor_name: Set(actor.name.clone()),
        reason: Set(reason),
        evidence: Set(None),
        dedup_key: Set(Some(key)),
        source_event: Set(None),
        created_at: Set(now),
    }
}

async fn insert_rows(
    db: &impl ConnectionTrait,
    rows: Vec<entity::fact::ActiveModel>,
) -> AppResult<()> {
    let mut it = rows.into_iter().peekable();
    while it.peek().is_some() {
        let chunk: Vec<_> = it.by_ref().take(1000).collect();
        entity::fact::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

fn status(s: &str) -> Status {
    match s {
        "exempt" => Status::Exempt,
        "unqualified" => Status::Unqualified,
        "vetoed" => Status::Vetoed,
        "not_covered" => Status::NotCovered,
        _ => Status::Scored,
    }
}

async fn output(db: &crate::db::Db, s: &Scenario) -> AppResult<Output> {
    use entity::subject_score::{Column, Entity};
    let rows = Entity::find()
        .filter(Column::Year.eq(s.year))
        .all(db)
        .await?;
    let by: HashMap<(String, i64), entity::subject_score::Model> = rows
        .into_iter()
        .map(|r| ((r.subject_kind.clone(), r.subject_id), r))
        .collect();
    let person_ids: HashMap<String, i64> = entity::person::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .filter_map(|p| p.external_id.map(|e| (e, p.id)))
        .collect();
    let org_ids: HashMap<String, i64> = entity::organization::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.code, o.id))
        .collect();
    let policy = &s.policy;
    let subject_output = |r: &entity::subject_score::Model| {
        let st = status(&r.status);
        let rated = policy
            .index(&r.index_name)
            .is_some_and(|i| !i.ratings.is_empty())
            && !matches!(st, Status::Exempt | Status::NotCovered);
        let composite = r
            .detail
            .as_deref()
            .and_then(|d| {
                serde_json::from_str::<Vec<serde_json::Map<String, serde_json::Value>>>(d).ok()
            })
            .and_then(|parts| {
                parts.last().and_then(|p| {
                    p.get("composite")
                        .and_then(|c| c.as_str().map(str::to_owned))
                })
            })
            .and_then(|c| parse_dec(&c));
        SubjectOutput {
            index: r.index_name.clone(),
            status: st,
            score: r.score.as_deref().and_then(parse_dec),
            stars: r.stars.and_then(|s| u8::try_from(s).ok()),
            rating: rated.then(|| r.rating.clone()),
            composite,
        }
    };
    let mut subjects = Vec::new();
    for (i, p) in s.people.iter().enumerate() {
        let id = person_ids
            .get(&format!("P{i}"))
            .copied()
            .unwrap_or_default();
        if let Some(r) = by.get(&("person".to_owned(), id)) {
            subjects.push((p.id.clone(), subject_output(r)));
        }
    }
    if policy.org_index().is_some() {
        for (i, o) in s.orgs.iter().enumerate() {
            let id = org_ids.get(&format!("s{i}")).copied().unwrap_or_default();
            if let Some(r) = by.get(&("org".to_owned(), id)) {
                subjects.push((o.id.clone(), subject_output(r)));
            }
        }
    }
    Ok(Output {
        policy: policy.name.clone(),
        year: s.year,
        subjects,
    })
}
