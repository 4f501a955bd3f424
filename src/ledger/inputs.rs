//! Database rows → the engine's plain values.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::facts::fields_from_json;
use super::{DEFAULT_POLICY, Scoring, SubjectRef};
use crate::error::{AppError, AppResult};
use crate::org::PersonRole;
use crate::policy::{
    Activities, Activity, ActivityId, ActivityKind, Fact, FactId, FactKind, ItemCode, Method, Org,
    OrgId, Person, PersonId, Policy, Role, Subject, SubjectId, Timeline, parse_policy,
};

pub fn tz_of(org: &entity::organization::Model) -> Tz {
    crate::org::service::zone(&org.timezone)
}

/// The scoring year of an instant, in a time zone.
pub fn year_of(at: DateTime<Utc>, tz: Tz) -> i32 {
    use chrono::Datelike;
    at.with_timezone(&tz).year()
}

pub fn fixed(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.fixed_offset()
}

/// Local midnight of `day` in `tz`, as the instant a dated change takes effect.
pub fn start_of_day(day: NaiveDate, tz: Tz) -> DateTime<FixedOffset> {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|d| d.fixed_offset())
        .unwrap_or_else(|| Utc.from_utc_datetime(&naive).fixed_offset())
}

/// The instants bounding a year in a time zone: [start, end).
pub fn year_bounds(year: i32, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or_default();
    let end = NaiveDate::from_ymd_opt(year + 1, 1, 1).unwrap_or_default();
    (
        start_of_day(start, tz).with_timezone(&Utc),
        start_of_day(end, tz).with_timezone(&Utc),
    )
}

pub fn engine_role(role: &str) -> Role {
    match PersonRole::parse(role) {
        Some(PersonRole::Member) => Role::Member,
        Some(PersonRole::Probationary) => Role::Probationary,
        _ => Role::Applicant,
    }
}

/// The policy an organization scores `year` with: the newest choice made for it or
/// its nearest ancestor; the default preset when none was made.
pub async fn policy_for(
    db: &impl ConnectionTrait,
    scoring: &Scoring,
    org_path: &str,
    year: i32,
) -> AppResult<Arc<Policy>> {
    let (name, source) = policy_choice(db, org_path, year).await?;
    resolve_policy(scoring, &name, source.as_deref())
}

pub fn resolve_policy(
    scoring: &Scoring,
    name: &str,
    source: Option<&str>,
) -> AppResult<Arc<Policy>> {
    match source {
        Some(text) => parse_policy(&format!("{name}.toml"), text)
            .map(Arc::new)
            .map_err(|e| AppError::internal(anyhow::anyhow!("stored policy {name}: {e}"))),
        None => scoring
            .policies
            .get(name)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("policy {name} is not installed"))),
    }
}

/// (name, customized source) of the policy in force for `org_path` in `year`.
pub async fn policy_choice(
    db: &impl ConnectionTrait,
    org_path: &str,
    year: i32,
) -> AppResult<(String, Option<String>)> {
    let ancestors: Vec<i64> = org_path.split('/').filter_map(|s| s.parse().ok()).collect();
    let rows = entity::org_policy::Entity::find()
        .filter(entity::org_policy::Column::OrgId.is_in(ancestors))
        .filter(entity::org_policy::Column::Year.eq(year))
        .order_by_asc(entity::org_policy::Column::Id)
        .all(db)
        .await?;
    Ok(choose_policy(&rows, org_path, year))
}

/// The choice in force among `rows` (ordered by id) for `org_path` in `year`: the deepest
/// organization on the path wins; among its rows, the newest.
pub fn choose_policy(
    rows: &[entity::org_policy::Model],
    org_path: &str,
    year: i32,
) -> (String, Option<String>) {
    let ancestors = org_path.split('/').filter_map(|s| s.parse::<i64>().ok());
    let best = ancestors.rev().find_map(|org| {
        rows.iter()
            .rev()
            .find(|r| r.org_id == org && r.year == year)
    });
    match best {
        Some(r) => (r.policy.clone(), r.source.clone()),
        None => (DEFAULT_POLICY.to_owned(), None),
    }
}

pub fn activity_kind(kind: &str) -> Option<ActivityKind> {
    kind.parse().ok()
}

pub fn to_activity(a: &entity::activity::Model) -> Option<Activity> {
    Some(Activity {
        id: ActivityId(a.id),
        org: OrgId(a.org_id),
        kind: activity_kind(&a.kind)?,
        starts_at: fixed(a.starts_at),
        ends_at: fixed(a.ends_at),
        registered_at: fixed(a.registered_at),
        points: a.points.as_deref().and_then(crate::policy::parse_dec),
    })
}

pub fn to_fact(f: &entity::fact::Scored) -> Option<Fact> {
    let kind = match f.kind.as_str() {
        "checkin" => FactKind::CheckIn {
            person: PersonId(f.person_id?),
            activity: ActivityId(f.activity_id?),
            method: f
                .method
                .as_deref()
                .and_then(|m| m.parse::<Method>().ok())
                .unwrap_or(Method::Qr),
        },
        "makeup_study" => FactKind::MakeupStudy {
            person: PersonId(f.person_id?),
            activity: ActivityId(f.activity_id?),
        },
        "item" => FactKind::Item {
            subject: match (f.person_id, f.org_id) {
                (Some(p), _) => SubjectId::Person(PersonId(p)),
                (None, Some(o)) => SubjectId::Org(OrgId(o)),
                (None, None) => return None,
            },
            item: ItemCode::new(f.item.clone()?),
            fields: f
                .fields
                .as_deref()
                .map(fields_from_json)
                .unwrap_or_default(),
        },
        "annul" => FactKind::Annul {
            target: FactId(f.target_id?),
        },
        _ => return None,
    };
    Some(Fact {
        id: FactId(f.id),
        at: fixed(f.at),
        kind,
    })
}

/// A person as the engine sees them in `year`: role and branch timelines from the
/// history, the exemption for the year.
pub async fn person_subject(
    db: &impl ConnectionTrait,
    person: &entity::person::Model,
    tz: Tz,
    year: i32,
) -> AppResult<Person> {
    let history = entity::person_history::Entity::find()
        .filter(entity::person_history::Column::PersonId.eq(person.id))
        .order_by_asc(entity::person_history::Column::Id)
        .all(db)
        .await?;
    let exemptions = crate::org::people::exemptions_of(db, person.id).await?;
    Ok(person_from_rows(person, &history, &exemptions, tz, year))
}

pub fn person_from_rows(
    person: &entity::person::Model,
    history: &[entity::person_history::Model],
    exemptions: &[entity::exemption::Model],
    tz: Tz,
    year: i32,
) -> Person {
    let roles_changes: Vec<_> = history.iter().filter(|h| h.kind == "role").collect();
    let initial_role = roles_changes
        .first()
        .and_then(|h| h.from_value.as_deref())
        .unwrap_or(&person.role);
    let mut roles = Timeline::new(engine_role(initial_role));
    for h in &roles_changes {
        if let Some(to) = &h.to_value {
            roles = roles.with_change(start_of_day(h.effective_on, tz), engine_role(to));
        }
    }
    let transfers: Vec<_> = history.iter().filter(|h| h.kind == "transfer").collect();
    let initial_org = transfers
        .first()
        .and_then(|h| h.from_value.as_deref())
        .and_then(|v| v.parse().ok())
        .unwrap_or(person.org_id);
    let mut orgs = Timeline::new(OrgId(initial_org));
    for h in &transfers {
        if let Some(to) = h.to_value.as_deref().and_then(|v| v.parse().ok()) {
            orgs = orgs.with_change(start_of_day(h.effective_on, tz), OrgId(to));
        }
    }
    Person {
        id: PersonId(person.id),
        tz,
        roles,
        orgs,
        exempt: crate::org::people::exempt_in(exemptions, year),
    }
}

/// History and exemption rows grouped by person, each list in recording order.
#[allow(clippy::type_complexity)]
pub fn group_by_person(
    history: Vec<entity::person_history::Model>,
    exemptions: Vec<entity::exemption::Model>,
) -> (
    HashMap<i64, Vec<entity::person_history::Model>>,
    HashMap<i64, Vec<entity::exemption::Model>>,
) {
    let mut hist_by: HashMap<i64, Vec<entity::person_history::Model>> = HashMap::new();
    for h in history {
        hist_by.entry(h.person_id).or_default().push(h);
    }
    let mut ex_by: HashMap<i64, Vec<entity::exemption::Model>> = HashMap::new();
    for e in exemptions {
        ex_by.entry(e.person_id).or_default().push(e);
    }
    for v in hist_by.values_mut() {
        v.sort_by_key(|h| h.id);
    }
    for v in ex_by.values_mut() {
        v.sort_by_key(|e| e.id);
    }
    (hist_by, ex_by)
}

/// Everything needed to evaluate one subject's year.
pub struct SubjectInputs {
    pub subject: Subject,
    pub facts: Vec<Fact>,
    pub activities: Activities,
    pub policy: Arc<Policy>,
    /// The organization the subject's score is shown under.
    pub org_id: i64,
    pub tz: Tz,
}

pub async fn subject_inputs(
    db: &impl ConnectionTrait,
    scoring: &Scoring,
    subject: SubjectRef,
    year: i32,
) -> AppResult<SubjectInputs> {
    use entity::fact::Column as F;
    match subject {
        SubjectRef::Person(pid) => {
            let person = entity::person::Entity::find_by_id(pid)
                .one(db)
                .await?
                .ok_or_else(|| AppError::not_found(format!("人员 {pid} 不存在")))?;
            let org = crate::org::service::find(db, crate::ids::OrgId(person.org_id)).await?;
            let tz = tz_of(&org);
            let policy = policy_for(db, scoring, &org.path, year).await?;
            let rows = entity::fact::Entity::find()
                .filter(F::PersonId.eq(pid))
                .filter(F::Year.eq(year))
                .into_partial_model::<entity::fact::Scored>()
                .all(db)
                .await?;
            let activity_ids: Vec<i64> = rows.iter().filter_map(|f| f.activity_id).collect();
            let activities = load_activities(db, activity_ids).await?;
            Ok(SubjectInputs {
                subject: Subject::Person(person_subject(db, &person, tz, year).await?),
                facts: rows.iter().filter_map(to_fact).collect(),
                activities,
                policy,
                org_id: person.org_id,
                tz,
            })
        }
        SubjectRef::Org(oid) => {
            let org = crate::org::service::find(db, crate::ids::OrgId(oid)).await?;
            let tz = tz_of(&org);
            let policy = policy_for(db, scoring, &org.path, year).await?;
            let rows = entity::fact::Entity::find()
                .filter(F::OrgId.eq(oid))
                .filter(F::PersonId.is_null())
                .filter(F::Year.eq(year))
                .into_partial_model::<entity::fact::Scored>()
                .all(db)
                .await?;
            let (start, end) = year_bounds(year, tz);
            let held = entity::activity::Entity::find()
                .filter(entity::activity::Column::OrgId.eq(oid))
                .filter(entity::activity::Column::StartsAt.gte(start))
                .filter(entity::activity::Column::StartsAt.lt(end))
                .all(db)
                .await?;
            Ok(SubjectInputs {
                subject: Subject::Org(Org { id: OrgId(oid), tz }),
                facts: rows.iter().filter_map(to_fact).collect(),
                activities: Activities::new(held.iter().filter_map(to_activity)),
                policy,
                org_id: oid,
                tz,
            })
        }
    }
}

pub async fn load_activities(
    db: &impl ConnectionTrait,
    mut ids: Vec<i64>,
) -> AppResult<Activities> {
    ids.sort_unstable();
    ids.dedup();
    let mut out = Activities::default();
    for chunk in ids.chunks(500) {
        let rows = entity::activity::Entity::find()
            .filter(entity::activity::Column::Id.is_in(chunk.to_vec()))
            .all(db)
            .await?;
        for a in rows.iter().filter_map(to_activity) {
            out.insert(a);
        }
    }
    Ok(out)
}

/// Organizations by id, for time zones and paths.
pub async fn org_map(
    db: &impl ConnectionTrait,
) -> AppResult<HashMap<i64, entity::organization::Model>> {
    Ok(entity::organization::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect())
}
