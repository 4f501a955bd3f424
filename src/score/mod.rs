//! `vanguard score FILE`: replays one scenario year (../shared/scenarios/FORMAT.md).
//!
//! Three stages, so the middle one can later go through the server's services:
//! 1. [`load_scenario`] / [`parse_scenario`]: read and validate the JSON into a
//!    [`Scenario`] (names resolved, items checked against the policy);
//! 2. [`Scenario::to_year_data`]: the engine's input (numeric ids assigned in order);
//! 3. [`evaluate_year`] then [`Scenario::output`]: the year-end result.
//!
//! [`score_file`] runs all three.

mod generate;
mod json;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

pub use generate::{generate_scenario, generate_year, scenario_json};

use crate::policy::{
    Activities, Activity, ActivityId, ActivityKind, Calendars, Context, Fact, FactId, FactKind,
    FieldValue, Fields, ItemCode, ItemSubject, LoadError, Method, Org, OrgId, Person, PersonId,
    Policy, PolicySet, Role, Status, SubjectId, Timeline, YearData, YearEvaluation, evaluate_year,
    fmt_dec, load_policy_file,
};
use json::{Kind, Obj, field_err};

/// Why a scenario cannot be scored. Display is the one line FORMAT.md asks for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoreError {
    /// The file cannot be read.
    #[error("{file}: {reason}")]
    Read { file: String, reason: String },
    /// The file is not JSON; `reason` carries the line and column.
    #[error("{file}: invalid JSON: {reason}")]
    Json { file: String, reason: String },
    /// A field is wrong: `events[7].activity: no activity "d13"`.
    #[error("{path}: {reason}")]
    Field { path: String, reason: String },
    /// The policy or calendar configuration cannot be loaded.
    #[error("{0}")]
    Config(#[from] LoadError),
}

/// A validated scenario: every name resolved to a position in its list.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub policy: Arc<Policy>,
    pub year: i32,
    /// The official calendars with the scenario's extra days on top.
    pub calendars: Calendars,
    pub orgs: Vec<ScenarioOrg>,
    pub people: Vec<ScenarioPerson>,
    pub activities: Vec<ScenarioActivity>,
    pub events: Vec<ScenarioEvent>,
}

#[derive(Debug, Clone)]
pub struct ScenarioOrg {
    pub id: String,
    pub name: Option<String>,
    pub tz: Tz,
}

#[derive(Debug, Clone)]
pub struct ScenarioPerson {
    pub id: String,
    /// Position in `orgs`.
    pub org: usize,
    pub role: Role,
    pub exempt: bool,
}

#[derive(Debug, Clone)]
pub struct ScenarioActivity {
    pub id: String,
    pub org: usize,
    pub kind: ActivityKind,
    pub starts_at: DateTime<FixedOffset>,
    pub ends_at: DateTime<FixedOffset>,
    pub registered_at: DateTime<FixedOffset>,
    pub points: Option<Decimal>,
}

#[derive(Debug, Clone)]
pub struct ScenarioEvent {
    pub id: Option<String>,
    pub at: DateTime<FixedOffset>,
    pub body: EventBody,
}

#[derive(Debug, Clone)]
pub enum EventBody {
    CheckIn {
        person: usize,
        activity: usize,
        method: Method,
    },
    MakeupStudy {
        person: usize,
        activity: usize,
    },
    Item {
        subject: Who,
        item: String,
        fields: Fields,
    },
    /// `target` is a position in `events`.
    Annul {
        target: usize,
        reason: Option<String>,
    },
    /// History that scores nothing by itself: approved leave (`leave`), an absence
    /// where absences do not count, a declaration not approved.
    Unscored,
}

#[derive(Debug, Clone, Copy)]
pub enum Who {
    Person(usize),
    Org(usize),
}

/// Reads, parses and validates a scenario file. Policies and calendars are the
/// built-in ones plus the files in the given directories.
pub fn load_scenario(
    path: &Path,
    policy_dir: Option<&Path>,
    calendar_dir: Option<&Path>,
) -> Result<Scenario, ScoreError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScoreError::Read {
        file: file.clone(),
        reason: e.to_string(),
    })?;
    let policies = PolicySet::load(policy_dir)?;
    let calendars = Calendars::load(calendar_dir)?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse_scenario(&text, &file, &base, &policies, &calendars)
}

/// Scores a scenario file: the year-end result of every subject.
pub fn score_file(
    path: &Path,
    policy_dir: Option<&Path>,
    calendar_dir: Option<&Path>,
) -> Result<Output, ScoreError> {
    let scenario = load_scenario(path, policy_dir, calendar_dir)?;
    Ok(scenario.score())
}

fn tz_of(name: &str, path: &str) -> Result<Tz, ScoreError> {
    name.parse::<Tz>()
        .map_err(|_| field_err(path, format!("unknown time zone \"{name}\"")))
}

fn dates(list: Vec<&RawValue>, path: &str) -> Result<Vec<NaiveDate>, ScoreError> {
    list.into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let p = format!("{path}[{i}]");
            let s = json::string(raw, &p)?;
            NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .map_err(|_| field_err(&p, format!("malformed date \"{s}\" (YYYY-MM-DD)")))
        })
        .collect()
}

/// Parses and validates scenario text. `file` names it in errors; a policy
/// given as a path is read relative to `base_dir`.
pub fn parse_scenario(
    text: &str,
    file: &str,
    base_dir: &Path,
    policies: &PolicySet,
    calendars: &Calendars,
) -> Result<Scenario, ScoreError> {
    let root: &RawValue = serde_json::from_str(text).map_err(|e| ScoreError::Json {
        file: file.to_owned(),
        reason: e.to_string(),
    })?;
    if json::kind(root) != Kind::Object {
        return Err(ScoreError::Json {
            file: file.to_owned(),
            reason: "the top level must be an object".to_owned(),
        });
    }
    let top = Obj::new(root, String::new())?;

    let policy_name = top.req_str("policy")?;
    let policy = if policy_name.ends_with(".toml") || policy_name.contains(['/', '\\']) {
        let path: PathBuf = base_dir.join(&policy_name);
        Arc::new(load_policy_file(&path).map_err(|e| field_err("policy", e.to_string()))?)
    } else {
        policies
            .get(&policy_name)
            .ok_or_else(|| field_err("policy", format!("no policy \"{policy_name}\"")))?
    };

    let year_raw = top
        .get("year")
        .ok_or_else(|| field_err("year", "missing"))?;
    let year = json::decimal(year_raw, "year")?;
    let year = year
        .to_i32()
        .filter(|y| year.fract().is_zero() && (1900..=9999).contains(y))
        .ok_or_else(|| field_err("year", format!("not a year: {}", year_raw.get())))?;

    let calendars = match top.get("calendar") {
        None => calendars.clone(),
        Some(raw) => {
            let cal = Obj::new(raw, "calendar".to_owned())?;
            let holidays = dates(cal.array("holidays")?, &cal.at("holidays"))?;
            let workdays = dates(cal.array("workdays")?, &cal.at("workdays"))?;
            calendars.with_extra(holidays, workdays)
        }
    };

    // People and orgs share one namespace: they are keys of one output object.
    let mut subject_ids: HashMap<String, ()> = HashMap::new();
    let mut org_ix: HashMap<String, usize> = HashMap::new();
    let mut orgs = Vec::new();
    for (i, raw) in top.array("orgs")?.into_iter().enumerate() {
        let o = Obj::new(raw, format!("orgs[{i}]"))?;
        let id = o.req_str("id")?;
        if subject_ids.insert(id.clone(), ()).is_some() {
            return Err(field_err(&o.at("id"), format!("duplicate id \"{id}\"")));
        }
        let tz = match o.str("tz")? {
            None => crate::org::service::DEFAULT_TZ,
            Some(name) => tz_of(&name, &o.at("tz"))?,
        };
        org_ix.insert(id.clone(), orgs.len());
        orgs.push(ScenarioOrg {
            id,
            name: o.str("name")?,
            tz,
        });
    }
    let org_ref = |o: &Obj, key: &str| -> Result<usize, ScoreError> {
        let name = o.req_str(key)?;
        org_ix
            .get(&name)
            .copied()
            .ok_or_else(|| field_err(&o.at(key), format!("no org \"{name}\"")))
    };

    let mut person_ix: HashMap<String, usize> = HashMap::new();
    let mut people = Vec::new();
    for (i, raw) in top.array("people")?.into_iter().enumerate() {
        let p = Obj::new(raw, format!("people[{i}]"))?;
        let id = p.req_str("id")?;
        if subject_ids.insert(id.clone(), ()).is_some() {
            return Err(field_err(&p.at("id"), format!("duplicate id \"{id}\"")));
        }
        let org = org_ref(&p, "org")?;
        let role_name = p.req_str("role")?;
        let role = role_name
            .parse::<Role>()
            .map_err(|e| field_err(&p.at("role"), e.to_string()))?;
        person_ix.insert(id.clone(), people.len());
        people.push(ScenarioPerson {
            id,
            org,
            role,
            exempt: p.bool("exempt")?.unwrap_or(false),
        });
    }

    let mut activity_ix: HashMap<String, usize> = HashMap::new();
    let mut activities = Vec::new();
    for (i, raw) in top.array("activities")?.into_iter().enumerate() {
        let a = Obj::new(raw, format!("activities[{i}]"))?;
        let id = a.req_str("id")?;
        if activity_ix.contains_key(&id) {
            return Err(field_err(&a.at("id"), format!("duplicate id \"{id}\"")));
        }
        let org = org_ref(&a, "org")?;
        let kind_name = a.req_str("kind")?;
        let kind = kind_name
            .parse::<ActivityKind>()
            .map_err(|e| field_err(&a.at("kind"), e.to_string()))?;
        let starts_at = a.req_time("starts_at")?;
        let ends_at = a.req_time("ends_at")?;
        if ends_at < starts_at {
            return Err(field_err(&a.at("ends_at"), "ends before it starts"));
        }
        let registered_at = a.time("registered_at")?.unwrap_or(ends_at);
        let points = a.decimal("points")?;
        if points.is_some_and(|p| p.is_sign_negative() && !p.is_zero()) {
            return Err(field_err(&a.at("points"), "must not be negative"));
        }
        activity_ix.insert(id.clone(), activities.len());
        activities.push(ScenarioActivity {
            id,
            org,
            kind,
            starts_at,
            ends_at,
            registered_at,
            points,
        });
    }

    let raw_events = top.array("events")?;
    // Ids first, so an annulment may name an event listed after it.
    let mut event_ix: HashMap<String, usize> = HashMap::new();
    let mut objs = Vec::with_capacity(raw_events.len());
    for (i, raw) in raw_events.into_iter().enumerate() {
        let e = Obj::new(raw, format!("events[{i}]"))?;
        if let Some(id) = e.str("id")?
            && event_ix.insert(id.clone(), i).is_some()
        {
            return Err(field_err(&e.at("id"), format!("duplicate id \"{id}\"")));
        }
        objs.push(e);
    }
    // Approved leave (person, activity), wherever it stands in the file: an absence
    // with leave is the lighter item (EQ-3).
    let mut on_leave: std::collections::HashSet<(String, String)> =
        std::collections::HashSet::new();
    for e in &objs {
        if e.str("kind")?.as_deref() == Some("leave") {
            on_leave.insert((e.req_str("person")?, e.req_str("activity")?));
        }
    }
    let mut events = Vec::with_capacity(objs.len());
    for (i, e) in objs.iter().enumerate() {
        let person_ref = |key: &str| -> Result<usize, ScoreError> {
            let name = e.req_str(key)?;
            person_ix
                .get(&name)
                .copied()
                .ok_or_else(|| field_err(&e.at(key), format!("no person \"{name}\"")))
        };
        let activity_ref = |key: &str| -> Result<usize, ScoreError> {
            let name = e.req_str(key)?;
            activity_ix
                .get(&name)
                .copied()
                .ok_or_else(|| field_err(&e.at(key), format!("no activity \"{name}\"")))
        };
        let kind = e.req_str("kind")?;
        let body = match kind.as_str() {
            "checkin" => {
                let person = person_ref("person")?;
                let activity = activity_ref("activity")?;
                let method = match e.str("method")? {
                    None => Method::Qr,
                    Some(m) => m
                        .parse::<Method>()
                        .map_err(|err| field_err(&e.at("method"), err.to_string()))?,
                };
                EventBody::CheckIn {
                    person,
                    activity,
                    method,
                }
            }
            "makeup_study" => EventBody::MakeupStudy {
                person: person_ref("person")?,
                activity: activity_ref("activity")?,
            },
            "leave" => {
                person_ref("person")?;
                activity_ref("activity")?;
                EventBody::Unscored
            }
            "absence" => {
                let person = person_ref("person")?;
                activity_ref("activity")?;
                let key = (e.req_str("person")?, e.req_str("activity")?);
                match &policy.workflow.absence {
                    Some(a) => EventBody::Item {
                        subject: Who::Person(person),
                        item: if on_leave.contains(&key) {
                            a.with_leave.clone()
                        } else {
                            a.without_leave.clone()
                        },
                        fields: Fields::new(),
                    },
                    // Absences do not count under this policy (xihu-2017: XH-15.1).
                    None => EventBody::Unscored,
                }
            }
            "declaration" => {
                let person = person_ref("person")?;
                let code = e.req_str("item")?;
                if !policy.declarable_items().iter().any(|d| d.code == code) {
                    return Err(field_err(
                        &e.at("item"),
                        format!(
                            "no declarable item \"{code}\" in policy \"{}\"",
                            policy.name
                        ),
                    ));
                }
                let state = e.str("state")?.unwrap_or_else(|| "approved".to_owned());
                match state.as_str() {
                    "approved" => {
                        let spec = policy.item(ItemSubject::Person, &code).ok_or_else(|| {
                            field_err(&e.at("item"), format!("no person item \"{code}\""))
                        })?;
                        let fields = item_fields(e, spec, &["state"])?;
                        EventBody::Item {
                            subject: Who::Person(person),
                            item: code,
                            fields,
                        }
                    }
                    "submitted" | "rejected" | "withdrawn" => EventBody::Unscored,
                    other => {
                        return Err(field_err(
                            &e.at("state"),
                            format!(
                                "unknown state \"{other}\" (approved, submitted, rejected, withdrawn)"
                            ),
                        ));
                    }
                }
            }
            "item" => {
                let (subject, item_subject) = match (e.get("person"), e.get("org")) {
                    (Some(_), None) => (Who::Person(person_ref("person")?), ItemSubject::Person),
                    (None, Some(_)) => (Who::Org(org_ref(e, "org")?), ItemSubject::Org),
                    (Some(_), Some(_)) => {
                        return Err(field_err(
                            &e.at("org"),
                            "an item is for a person or an org, not both",
                        ));
                    }
                    (None, None) => return Err(field_err(&e.at("person"), "missing (or org)")),
                };
                let code = e.req_str("item")?;
                let spec = policy.item(item_subject, &code).ok_or_else(|| {
                    let whose = match item_subject {
                        ItemSubject::Person => "person",
                        ItemSubject::Org => "org",
                    };
                    field_err(
                        &e.at("item"),
                        format!("no {whose} item \"{code}\" in policy \"{}\"", policy.name),
                    )
                })?;
                let fields = item_fields(e, spec, &[])?;
                EventBody::Item {
                    subject,
                    item: code,
                    fields,
                }
            }
            "annul" => {
                let name = e.req_str("target")?;
                let target = event_ix
                    .get(&name)
                    .copied()
                    .ok_or_else(|| field_err(&e.at("target"), format!("no event \"{name}\"")))?;
                if target == i {
                    return Err(field_err(&e.at("target"), "an annul cannot annul itself"));
                }
                let scores = |k: Option<String>| {
                    !matches!(k.as_deref(), Some("leave" | "absence" | "declaration"))
                };
                if !scores(objs[target].str("kind")?) {
                    return Err(field_err(
                        &e.at("target"),
                        format!(
                            "event \"{name}\" records no fact to annul (annul checkins, makeup_study, items)"
                        ),
                    ));
                }
                EventBody::Annul {
                    target,
                    reason: e.str("reason")?,
                }
            }
            other => {
                return Err(field_err(
                    &e.at("kind"),
                    format!(
                        "unknown kind \"{other}\" (checkin, makeup_study, item, annul, leave, absence, declaration)"
                    ),
                ));
            }
        };
        events.push(ScenarioEvent {
            id: e.str("id")?,
            at: e.req_time("at")?,
            body,
        });
    }

    Ok(Scenario {
        policy,
        year,
        calendars,
        orgs,
        people,
        activities,
        events,
    })
}

/// An item event's own fields (every key but the event's), checked by the policy.
fn item_fields(
    e: &Obj<'_>,
    spec: &crate::policy::ItemSpec,
    also_skip: &[&str],
) -> Result<Fields, ScoreError> {
    let mut fields = Fields::new();
    for (key, raw) in e.keys() {
        if matches!(key, "kind" | "id" | "person" | "org" | "item" | "at")
            || also_skip.contains(&key)
        {
            continue;
        }
        let path = e.at(key);
        let value = match json::kind(raw) {
            Kind::Null => continue,
            Kind::Bool => FieldValue::Bool(json::boolean(raw, &path)?),
            Kind::Number => FieldValue::Number(json::decimal(raw, &path)?),
            Kind::String => FieldValue::Text(json::string(raw, &path)?),
            Kind::Array | Kind::Object if spec.field(key).is_none() => continue,
            Kind::Array | Kind::Object => {
                return Err(field_err(&path, "expected a string, number or boolean"));
            }
        };
        fields.set(key, value);
    }
    spec.check(&fields)
        .map_err(|p| field_err(&e.at(&p.field), p.reason))?;
    Ok(fields)
}

// Numeric ids are list positions + 1, so the engine's order follows the file.
fn org_id(i: usize) -> OrgId {
    OrgId(i64::try_from(i).unwrap_or(i64::MAX) + 1)
}
fn person_id(i: usize) -> PersonId {
    PersonId(i64::try_from(i).unwrap_or(i64::MAX) + 1)
}
fn activity_id(i: usize) -> ActivityId {
    ActivityId(i64::try_from(i).unwrap_or(i64::MAX) + 1)
}
fn fact_id(i: usize) -> FactId {
    FactId(i64::try_from(i).unwrap_or(i64::MAX) + 1)
}

impl Scenario {
    /// The engine's input; ids are positions in the lists, counting from 1.
    pub fn to_year_data(&self) -> YearData {
        let orgs = self
            .orgs
            .iter()
            .enumerate()
            .map(|(i, o)| Org {
                id: org_id(i),
                tz: o.tz,
            })
            .collect();
        let persons = self
            .people
            .iter()
            .enumerate()
            .map(|(i, p)| Person {
                id: person_id(i),
                tz: self
                    .orgs
                    .get(p.org)
                    .map_or(crate::org::service::DEFAULT_TZ, |o| o.tz),
                roles: Timeline::new(p.role),
                orgs: Timeline::new(org_id(p.org)),
                exempt: p.exempt,
            })
            .collect();
        let activities =
            Activities::new(self.activities.iter().enumerate().map(|(i, a)| Activity {
                id: activity_id(i),
                org: org_id(a.org),
                kind: a.kind,
                starts_at: a.starts_at,
                ends_at: a.ends_at,
                registered_at: a.registered_at,
                points: a.points,
            }));
        let facts = self
            .events
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let kind = match &e.body {
                    EventBody::CheckIn {
                        person,
                        activity,
                        method,
                    } => FactKind::CheckIn {
                        person: person_id(*person),
                        activity: activity_id(*activity),
                        method: *method,
                    },
                    EventBody::MakeupStudy { person, activity } => FactKind::MakeupStudy {
                        person: person_id(*person),
                        activity: activity_id(*activity),
                    },
                    EventBody::Item {
                        subject,
                        item,
                        fields,
                    } => FactKind::Item {
                        subject: match subject {
                            Who::Person(p) => SubjectId::Person(person_id(*p)),
                            Who::Org(o) => SubjectId::Org(org_id(*o)),
                        },
                        item: ItemCode::new(item.clone()),
                        fields: fields.clone(),
                    },
                    EventBody::Annul { target, .. } => FactKind::Annul {
                        target: fact_id(*target),
                    },
                    EventBody::Unscored => return None,
                };
                Some(Fact {
                    id: fact_id(i),
                    at: e.at,
                    kind,
                })
            })
            .collect();
        YearData {
            orgs,
            persons,
            activities,
            facts,
            carried: Default::default(),
        }
    }

    /// The engine context for this scenario's year-end result.
    pub fn context(&self) -> Context<'_> {
        Context {
            policy: &self.policy,
            calendars: &self.calendars,
            year: self.year,
            year_end: true,
        }
    }

    /// Runs the engine over the whole year.
    pub fn score(&self) -> Output {
        let data = self.to_year_data();
        let eval = evaluate_year(&self.context(), &data);
        self.output(&eval)
    }

    /// The FORMAT.md output: people then orgs (where the policy scores orgs), in input order.
    pub fn output(&self, eval: &YearEvaluation) -> Output {
        let policy = &self.policy;
        let mut subjects = Vec::with_capacity(self.people.len() + self.orgs.len());
        for (p, e) in self.people.iter().zip(&eval.persons) {
            if let Some(r) = e.result() {
                subjects.push((p.id.clone(), SubjectOutput::new(policy, r)));
            }
        }
        if policy.org_index().is_some() {
            for (o, e) in self.orgs.iter().zip(&eval.orgs) {
                if let Some(r) = e.result() {
                    subjects.push((o.id.clone(), SubjectOutput::new(policy, r)));
                }
            }
        }
        Output {
            policy: policy.name.clone(),
            year: self.year,
            subjects,
        }
    }
}

/// The year's result, serialized exactly as FORMAT.md shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub policy: String,
    pub year: i32,
    /// In output order: people, then orgs.
    pub subjects: Vec<(String, SubjectOutput)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubjectOutput {
    pub index: String,
    pub status: Status,
    pub score: Option<Decimal>,
    pub stars: Option<u8>,
    /// `Some` where the index has ratings (then the inner value may still be null).
    pub rating: Option<Option<String>>,
    pub composite: Option<Decimal>,
}

impl SubjectOutput {
    fn new(policy: &Policy, r: &crate::policy::IndexResult) -> Self {
        // A rating where the index has bands, or where a group rule gave one (EQ-5).
        let rated = (policy
            .index(&r.index)
            .is_some_and(|i| !i.ratings.is_empty())
            || r.rating.is_some())
            && !matches!(r.status, Status::Exempt | Status::NotCovered);
        Self {
            index: r.index.to_string(),
            status: r.status,
            score: r.score,
            stars: r.stars,
            rating: rated.then(|| r.rating.as_ref().map(|x| x.to_string())),
            composite: r.composite,
        }
    }
}

/// A decimal written as an exact JSON number (`72`, `21.5`).
struct Exact(Decimal);

impl Serialize for Exact {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(fmt_dec(self.0)).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

impl Serialize for SubjectOutput {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = 4 + usize::from(self.rating.is_some()) + usize::from(self.composite.is_some());
        let mut st = s.serialize_struct("SubjectOutput", n)?;
        st.serialize_field("index", &self.index)?;
        st.serialize_field("status", self.status.as_str())?;
        st.serialize_field("score", &self.score.map(Exact))?;
        st.serialize_field("stars", &self.stars)?;
        if let Some(r) = &self.rating {
            st.serialize_field("rating", r)?;
        }
        if let Some(c) = self.composite {
            st.serialize_field("composite", &Exact(c))?;
        }
        st.end()
    }
}

struct Subjects<'a>(&'a [(String, SubjectOutput)]);

impl Serialize for Subjects<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Serialize for Output {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Output", 3)?;
        st.serialize_field("policy", &self.policy)?;
        st.serialize_field("year", &self.year)?;
        st.serialize_field("subjects", &Subjects(&self.subjects))?;
        st.end()
    }
}

impl Output {
    /// Pretty JSON, as `vanguard score` prints it.
    pub fn to_json(&self) -> String {
        // Serializing strings, integers and valid raw numbers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
