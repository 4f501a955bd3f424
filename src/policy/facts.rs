//! Engine input: subjects, activities and facts of a year.
//!
//! These are plain values: the server builds them from database rows, the
//! scenario scorer from a JSON file. Ids are numeric newtypes so that both can
//! use their own numbering.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::Serialize;

use super::engine::FastMap;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A recorded fact (check-in, make-up study, item, annulment).
    FactId
);
id_type!(
    /// A person: member, probationary member or applicant.
    PersonId
);
id_type!(
    /// An organization (branch, general branch, committee).
    OrgId
);
id_type!(
    /// An activity held by an organization.
    ActivityId
);

/// Error for the small string enums below.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} \"{value}\"")]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
}

macro_rules! name_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal, { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownName { what: $what, value: s.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

name_enum!(
    /// A person's standing in the Party at some time.
    Role, "role", {
        Member = "member",
        Probationary = "probationary",
        Applicant = "applicant",
    }
);

name_enum!(
    /// How a check-in was recorded (`card`: a member card read by the secretary's
    /// console, by camera or typed number).
    Method, "method", {
        Qr = "qr",
        Manual = "manual",
        Batch = "batch",
        Backfill = "backfill",
        Card = "card",
    }
);

name_enum!(
    /// What an activity is.
    ActivityKind, "activity kind", {
        FixedDay = "fixed_day",
        Meeting = "meeting",
        Training = "training",
        Volunteer = "volunteer",
        Cultural = "cultural",
        GeneralMeeting = "general_meeting",
        Lecture = "lecture",
        LifeMeeting = "life_meeting",
    }
);

impl Method {
    /// zh-CN name used in notes.
    pub fn label(self) -> &'static str {
        match self {
            Method::Qr => "扫码签到",
            Method::Manual => "手工签到",
            Method::Batch => "批量签到",
            Method::Backfill => "补签",
            Method::Card => "持卡签到",
        }
    }
}

impl ActivityKind {
    pub(crate) fn slot(self) -> usize {
        self as usize
    }
}

/// A value that changes at known instants: a person's role or organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline<T> {
    initial: T,
    changes: Vec<(DateTime<FixedOffset>, T)>,
}

impl<T> Timeline<T> {
    /// A value that never changes.
    pub fn new(initial: T) -> Self {
        Self {
            initial,
            changes: Vec::new(),
        }
    }

    /// From `at` on, the value is `value`. Changes may be added in any order.
    pub fn with_change(mut self, at: DateTime<FixedOffset>, value: T) -> Self {
        let pos = self.changes.partition_point(|(t, _)| *t <= at);
        self.changes.insert(pos, (at, value));
        self
    }

    /// The value in force at `t` (a change at exactly `t` is in force).
    pub fn at(&self, t: DateTime<FixedOffset>) -> &T {
        let pos = self.changes.partition_point(|(c, _)| *c <= t);
        match pos {
            0 => &self.initial,
            n => &self.changes[n - 1].1,
        }
    }

    pub fn initial(&self) -> &T {
        &self.initial
    }

    /// Changes in time order.
    pub fn changes(&self) -> &[(DateTime<FixedOffset>, T)] {
        &self.changes
    }
}

/// A person scored by the policy.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: PersonId,
    /// Time zone of the person's organization: days, months and years are judged in it.
    pub tz: Tz,
    pub roles: Timeline<Role>,
    /// The person's branch over time; points follow the person on transfer.
    pub orgs: Timeline<OrgId>,
    /// Approved exemption for the year being scored (XH-20, SD-7, TW-8).
    pub exempt: bool,
}

/// An organization scored by the policy (fortress index, branch scorecard).
#[derive(Debug, Clone)]
pub struct Org {
    pub id: OrgId,
    pub tz: Tz,
}

/// Whose score a fact or an evaluation concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum SubjectId {
    Person(PersonId),
    Org(OrgId),
}

/// A subject with what the engine needs to know about it.
#[derive(Debug, Clone)]
pub enum Subject {
    Person(Person),
    Org(Org),
}

impl Subject {
    pub fn id(&self) -> SubjectId {
        match self {
            Subject::Person(p) => SubjectId::Person(p.id),
            Subject::Org(o) => SubjectId::Org(o.id),
        }
    }

    pub fn tz(&self) -> Tz {
        match self {
            Subject::Person(p) => p.tz,
            Subject::Org(o) => o.tz,
        }
    }
}

/// An activity (fixed activity day, meeting, training …) held by an organization.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub id: ActivityId,
    pub org: OrgId,
    pub kind: ActivityKind,
    pub starts_at: DateTime<FixedOffset>,
    pub ends_at: DateTime<FixedOffset>,
    /// When the activity was recorded in the system (XH-6 back-filling deadline).
    pub registered_at: DateTime<FixedOffset>,
    /// Points set by the branch for members taking part (XH-8.2).
    pub points: Option<Decimal>,
}

/// The activities the engine may look up, by id and by organization.
#[derive(Debug, Clone, Default)]
pub struct Activities {
    by_id: FastMap<ActivityId, Activity>,
    by_org: FastMap<OrgId, Vec<ActivityId>>,
}

impl Activities {
    pub fn new(list: impl IntoIterator<Item = Activity>) -> Self {
        let mut out = Self::default();
        for a in list {
            out.insert(a);
        }
        out
    }

    /// Adds or replaces an activity.
    pub fn insert(&mut self, a: Activity) {
        let (id, org) = (a.id, a.org);
        if let Some(old) = self.by_id.insert(id, a)
            && let Some(list) = self.by_org.get_mut(&old.org)
        {
            list.retain(|x| *x != id);
        }
        self.by_org.entry(org).or_default().push(id);
    }

    pub fn get(&self, id: ActivityId) -> Option<&Activity> {
        self.by_id.get(&id)
    }

    /// Activities held by `org`, in no particular order.
    pub fn held_by(&self, org: OrgId) -> impl Iterator<Item = &Activity> {
        self.by_org
            .get(&org)
            .into_iter()
            .flatten()
            .filter_map(|id| self.by_id.get(id))
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// The code of an item in the policy (`study`, `dues_record`, `veto` …).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ItemCode(pub String);

impl ItemCode {
    pub fn new(code: impl Into<String>) -> Self {
        Self(code.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A value of an item's own field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum FieldValue {
    Number(Decimal),
    Text(String),
    Bool(bool),
}

/// An item's own fields (`points`, `leading`, `member`, `data`, `level` …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Fields(Vec<(String, FieldValue)>);

impl Fields {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a field, replacing an earlier value.
    pub fn with(mut self, name: impl Into<String>, value: FieldValue) -> Self {
        self.set(name, value);
        self
    }

    pub fn set(&mut self, name: impl Into<String>, value: FieldValue) {
        let name = name.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    pub fn get(&self, name: &str) -> Option<&FieldValue> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn number(&self, name: &str) -> Option<Decimal> {
        match self.get(name) {
            Some(FieldValue::Number(d)) => Some(*d),
            _ => None,
        }
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(FieldValue::Text(s)) => Some(s),
            _ => None,
        }
    }

    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some(FieldValue::Bool(true)))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &FieldValue)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }
}

/// One recorded fact. Facts are history: never changed, only annulled by later facts.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub id: FactId,
    pub at: DateTime<FixedOffset>,
    pub kind: FactKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FactKind {
    CheckIn {
        person: PersonId,
        activity: ActivityId,
        method: Method,
    },
    MakeupStudy {
        person: PersonId,
        activity: ActivityId,
    },
    Item {
        subject: SubjectId,
        item: ItemCode,
        fields: Fields,
    },
    /// An admin correction: the target no longer counts.
    Annul { target: FactId },
}

impl Fact {
    /// Whose ledger the fact belongs to; `None` for annulments (they follow their target).
    pub fn subject(&self) -> Option<SubjectId> {
        match &self.kind {
            FactKind::CheckIn { person, .. } | FactKind::MakeupStudy { person, .. } => {
                Some(SubjectId::Person(*person))
            }
            FactKind::Item { subject, .. } => Some(*subject),
            FactKind::Annul { .. } => None,
        }
    }
}
