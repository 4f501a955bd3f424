//! Who was expected at an activity, who came, who was late, who is missing.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};

use super::judge::{Class, Held, Terms, classify};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub on_time: u64,
    pub late: u64,
    /// Scanned more than 15 minutes after the start: not attendance.
    pub too_late: u64,
    pub makeup: u64,
    /// Absent with approved leave (请假).
    pub leave: u64,
    /// Other refused scans (expired code, closed session …) of people with no attendance.
    pub refused: u64,
    pub missing: u64,
    /// Attended activities other than the fixed day, or by a secretary's entry after the fact.
    pub present: u64,
    /// Active, non-exempt people of the organizations taking part.
    pub expected: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    OnTime,
    Late,
    Present,
    /// 补签: recorded after the fact; earns nothing (XH-8.2, XH-13).
    Backfilled,
    Makeup,
    /// 请假: absent with approved leave (`cycle::leave`).
    Leave,
    TooLate,
    Refused,
    Missing,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Item {
    pub person_id: i64,
    pub name: String,
    pub org_id: i64,
    pub status: Status,
    pub at: Option<DateTime<Utc>>,
    /// `qr`, `card`, `manual`, `batch`, `backfill`.
    pub method: Option<String>,
    pub fact_id: Option<i64>,
    /// Approved leave from this activity (shown in its own column, whatever the status).
    pub leave: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page {
    pub counts: Counts,
    pub items: Vec<Item>,
    /// Pass as `after` for the next page.
    pub next: Option<i64>,
}

/// (id, kind, person, method, target, at) of a fact of the activity.
type FactRow = (
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<i64>,
    DateTime<Utc>,
);

/// A person's best status for the activity: (status, when, method, fact).
type Mark = (Status, Option<DateTime<Utc>>, Option<String>, Option<i64>);

struct Sheet {
    people: Vec<(i64, String, i64)>,
    status: HashMap<i64, Mark>,
    /// People with approved leave.
    leave: HashSet<i64>,
}

/// How long the pages after the first read the first page's snapshot.
const SNAPSHOT: Duration = Duration::from_secs(30);

type Snapshots = HashMap<i64, (Instant, Arc<Sheet>)>;

/// Per-process snapshots of attendance sheets: the first page of a listing computes the
/// sheet (every expected person, every record) and the following pages (`after` set)
/// read the same snapshot for a while, so paging through 100,000 people is consistent
/// and each later page is instant. A page served by another instance recomputes.
#[derive(Clone, Default)]
pub struct SheetCache {
    inner: Arc<Mutex<Snapshots>>,
}

impl SheetCache {
    fn get(&self, activity: i64) -> Option<Arc<Sheet>> {
        let map = self.inner.lock().ok()?;
        map.get(&activity)
            .filter(|(at, _)| at.elapsed() < SNAPSHOT)
            .map(|(_, s)| s.clone())
    }

    fn put(&self, activity: i64, sheet: Arc<Sheet>) {
        if let Ok(mut map) = self.inner.lock() {
            map.retain(|_, (at, _)| at.elapsed() < SNAPSHOT);
            map.insert(activity, (Instant::now(), sheet));
        }
    }
}

pub(crate) async fn expected_orgs(
    db: &impl ConnectionTrait,
    activity: &entity::activity::Model,
) -> AppResult<Vec<i64>> {
    let roots = super::activities::participant_roots(db, activity.id, activity.org_id).await?;
    let mut ids = HashSet::new();
    for r in roots {
        let org = crate::org::service::find(db, crate::ids::OrgId(r)).await?;
        ids.extend(crate::org::service::subtree_ids(db, &org).await?);
    }
    let mut v: Vec<i64> = ids.into_iter().collect();
    v.sort_unstable();
    Ok(v)
}

/// How good a status is: the best of a person's records for an activity wins.
pub fn rank(s: Status) -> u8 {
    match s {
        Status::OnTime => 8,
        Status::Late => 7,
        Status::Present => 6,
        Status::Makeup => 5,
        Status::Backfilled => 4,
        Status::Leave => 3,
        Status::TooLate => 2,
        Status::Refused => 1,
        Status::Missing => 0,
    }
}

/// `terms`: the host organization's policy's, which classes the sheet's check-ins.
async fn sheet(
    db: &impl ConnectionTrait,
    activity: &entity::activity::Model,
    terms: Terms,
    tz: chrono_tz::Tz,
) -> AppResult<Sheet> {
    let orgs = expected_orgs(db, activity).await?;
    let mut people: Vec<(i64, String, i64)> = Vec::new();
    for chunk in orgs.chunks(500) {
        people.extend(
            entity::person::Entity::find()
                .select_only()
                .columns([
                    entity::person::Column::Id,
                    entity::person::Column::Name,
                    entity::person::Column::OrgId,
                ])
                .filter(entity::person::Column::OrgId.is_in(chunk.to_vec()))
                .filter(entity::person::Column::Status.eq("active"))
                .into_tuple::<(i64, String, i64)>()
                .all(db)
                .await?,
        );
    }
    // Exempt people are not expected (XH-20).
    let year = crate::ledger::inputs::year_of(activity.starts_at, chrono_tz::Asia::Shanghai);
    // One query for the exemptions of everyone in those organizations.
    let mut ex_rows: HashMap<i64, Vec<entity::exemption::Model>> = HashMap::new();
    for chunk in orgs.chunks(500) {
        let members = sea_orm::sea_query::Query::select()
            .column(entity::person::Column::Id)
            .from(entity::person::Entity)
            .and_where(entity::person::Column::OrgId.is_in(chunk.to_vec()))
            .to_owned();
        for e in entity::exemption::Entity::find()
            .filter(entity::exemption::Column::PersonId.in_subquery(members))
            .all(db)
            .await?
        {
            ex_rows.entry(e.person_id).or_default().push(e);
        }
    }
    people.retain(|p| {
        ex_rows.get_mut(&p.0).is_none_or(|rows| {
            rows.sort_by_key(|r| r.id);
            !crate::org::people::exempt_in(rows, year)
        })
    });
    people.sort_by_key(|p| p.0);

    use entity::fact::Column as F;
    // Only the columns the sheet needs: an activity may have 100,000 check-ins.
    let facts: Vec<FactRow> = entity::fact::Entity::find()
        .select_only()
        .columns([F::Id, F::Kind, F::PersonId, F::Method, F::TargetId, F::At])
        .filter(F::ActivityId.eq(activity.id))
        .into_tuple()
        .all(db)
        .await?;
    let annulled: HashSet<i64> = facts
        .iter()
        .filter(|f| f.1 == "annul")
        .filter_map(|f| f.4)
        .collect();
    let mut status: HashMap<i64, Mark> = HashMap::new();
    let mut put = |person: i64,
                   s: Status,
                   at: Option<DateTime<Utc>>,
                   method: Option<String>,
                   fact: Option<i64>| {
        let better = status.get(&person).is_none_or(|cur| rank(s) > rank(cur.0));
        if better {
            status.insert(person, (s, at, method, fact));
        }
    };
    for (id, kind, person, method, _, at) in facts.into_iter().filter(|f| !annulled.contains(&f.0))
    {
        let Some(p) = person else { continue };
        match kind.as_str() {
            "checkin" => {
                let s = if method.as_deref() == Some("backfill") {
                    Status::Backfilled
                } else {
                    match classify(&Held::of(activity, tz), terms, at) {
                        Some(Class::OnTime) => Status::OnTime,
                        Some(Class::Late { .. }) => Status::Late,
                        Some(Class::Present) => Status::Present,
                        None => Status::TooLate,
                    }
                };
                put(p, s, Some(at), method, Some(id));
            }
            "makeup_study" => put(p, Status::Makeup, Some(at), None, Some(id)),
            _ => {}
        }
    }
    let refusals = entity::checkin_refusal::Entity::find()
        .filter(entity::checkin_refusal::Column::ActivityId.eq(activity.id))
        .filter(entity::checkin_refusal::Column::PersonId.is_not_null())
        .all(db)
        .await?;
    for r in refusals {
        if let Some(p) = r.person_id {
            let s = if r.reason == "too_late" {
                Status::TooLate
            } else {
                Status::Refused
            };
            put(p, s, Some(r.at), None, None);
        }
    }
    let leave = crate::cycle::leave::approved_for(db, activity.id).await?;
    for p in &leave {
        put(*p, Status::Leave, None, None, None);
    }
    Ok(Sheet {
        people,
        status,
        leave,
    })
}

fn tally(sheet: &Sheet) -> Counts {
    let mut c = Counts {
        expected: sheet.people.len() as u64,
        ..Counts::default()
    };
    for (id, _, _) in &sheet.people {
        match sheet.status.get(id).map(|s| s.0).unwrap_or(Status::Missing) {
            Status::OnTime => c.on_time += 1,
            Status::Late => c.late += 1,
            Status::Present | Status::Backfilled => c.present += 1,
            Status::Makeup => c.makeup += 1,
            Status::Leave => c.leave += 1,
            Status::TooLate => c.too_late += 1,
            Status::Refused => c.refused += 1,
            Status::Missing => c.missing += 1,
        }
    }
    c
}

pub async fn activity(db: &impl ConnectionTrait, id: i64) -> AppResult<entity::activity::Model> {
    entity::activity::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(format!("活动 {id} 不存在")))
}

/// The last `n` arrivals (attended, by their time), oldest first: what the projector's
/// "最新签到" shows after a reload.
pub async fn recent(
    state: &AppState,
    activity: &entity::activity::Model,
    n: usize,
) -> AppResult<Vec<Item>> {
    let (terms, tz) = host_terms(state, activity).await?;
    let sheet = sheet(&state.db, activity, terms, tz).await?;
    let people: HashMap<i64, (&String, i64)> = sheet
        .people
        .iter()
        .map(|(id, name, org)| (*id, (name, *org)))
        .collect();
    let mut arrived: Vec<Item> = sheet
        .status
        .iter()
        .filter(|(_, (s, at, _, _))| {
            at.is_some() && matches!(s, Status::OnTime | Status::Late | Status::Present)
        })
        .filter_map(|(id, (status, at, method, fact))| {
            let (name, org) = people.get(id)?;
            Some(Item {
                person_id: *id,
                name: (*name).clone(),
                org_id: *org,
                status: *status,
                at: *at,
                method: method.clone(),
                fact_id: *fact,
                leave: sheet.leave.contains(id),
            })
        })
        .collect();
    arrived.sort_by_key(|i| (i.at, i.person_id));
    let skip = arrived.len().saturating_sub(n);
    Ok(arrived.split_off(skip))
}

pub async fn counts(state: &AppState, activity_id: i64) -> AppResult<Counts> {
    let a = activity(&state.db, activity_id).await?;
    let (terms, tz) = host_terms(state, &a).await?;
    Ok(tally(&sheet(&state.db, &a, terms, tz).await?))
}

/// The host organization's policy terms and time zone for the activity's year.
async fn host_terms(
    state: &AppState,
    a: &entity::activity::Model,
) -> AppResult<(Terms, chrono_tz::Tz)> {
    let host = crate::org::service::find(&state.db, crate::ids::OrgId(a.org_id)).await?;
    let tz = crate::ledger::inputs::tz_of(&host);
    let year = crate::ledger::inputs::year_of(a.starts_at, tz);
    Ok((
        super::scan::terms_for(&state.db, &state.scoring, &host, year).await?,
        tz,
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Cursor: the last person id of the previous page.
    pub after: Option<i64>,
    /// At most 1000 (default 200).
    pub limit: Option<usize>,
    /// Only people with this status.
    pub status: Option<Status>,
}

pub async fn page(
    state: &AppState,
    activity: &entity::activity::Model,
    q: PageQuery,
) -> AppResult<Page> {
    let cached = q.after.and_then(|_| state.sheets.get(activity.id));
    let sheet = match cached {
        Some(s) => s,
        None => {
            let (terms, tz) = host_terms(state, activity).await?;
            let s = Arc::new(sheet(&state.db, activity, terms, tz).await?);
            state.sheets.put(activity.id, s.clone());
            s
        }
    };
    let counts = tally(&sheet);
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    let mut items = Vec::with_capacity(limit);
    let mut next = None;
    for (id, name, org) in sheet
        .people
        .iter()
        .filter(|p| q.after.is_none_or(|a| p.0 > a))
    {
        let (status, at, method, fact) =
            sheet
                .status
                .get(id)
                .cloned()
                .unwrap_or((Status::Missing, None, None, None));
        if q.status.is_some_and(|s| s != status) {
            continue;
        }
        if items.len() == limit {
            next = items.last().map(|i: &Item| i.person_id);
            break;
        }
        items.push(Item {
            person_id: *id,
            name: name.clone(),
            org_id: *org,
            status,
            at,
            method,
            fact_id: fact,
            leave: sheet.leave.contains(id),
        });
    }
    Ok(Page {
        counts,
        items,
        next,
    })
}
