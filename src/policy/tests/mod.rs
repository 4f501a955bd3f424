//! Rule-by-rule tests of the presets (test names carry RULES.md IDs), the
//! policy file format, and the replay property.
#![allow(clippy::unwrap_used)]

mod engine;
mod erqi;
mod format;
mod jinhua;
mod props;
mod sdtbu;
mod town;
mod xihu;

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};
use rust_decimal::Decimal;

use super::*;

pub(crate) fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

pub(crate) fn num(s: &str) -> FieldValue {
    FieldValue::Number(dec(s))
}

pub(crate) fn text(s: &str) -> FieldValue {
    FieldValue::Text(s.to_owned())
}

/// `"2026-01-16 14:00"` or `"2026-01-16 14:00:30"` in Asia/Shanghai.
pub(crate) fn t(s: &str) -> DateTime<FixedOffset> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .unwrap();
    FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .from_local_datetime(&naive)
        .unwrap()
}

/// Builds one year of facts for a preset and evaluates it.
pub(crate) struct Kit {
    pub policy: Arc<Policy>,
    pub calendars: Calendars,
    pub year: i32,
    pub orgs: Vec<Org>,
    pub persons: Vec<Person>,
    pub activities: Vec<Activity>,
    pub facts: Vec<Fact>,
    pub carried: crate::policy::Carried,
}

pub(crate) const B1: OrgId = OrgId(1);

impl Kit {
    pub fn new(preset: &str) -> Self {
        let policy = PolicySet::builtin().unwrap().get(preset).unwrap();
        Self {
            policy,
            calendars: Calendars::builtin().unwrap(),
            year: 2026,
            orgs: vec![Org {
                id: B1,
                tz: chrono_tz::Asia::Shanghai,
            }],
            persons: Vec::new(),
            activities: Vec::new(),
            facts: Vec::new(),
            carried: Default::default(),
        }
    }

    pub fn org(&mut self) -> OrgId {
        let id = OrgId(self.orgs.len() as i64 + 1);
        self.orgs.push(Org {
            id,
            tz: chrono_tz::Asia::Shanghai,
        });
        id
    }

    pub fn person_in(&mut self, role: Role, org: OrgId) -> PersonId {
        let id = PersonId(self.persons.len() as i64 + 1);
        self.persons.push(Person {
            id,
            tz: chrono_tz::Asia::Shanghai,
            roles: Timeline::new(role),
            orgs: Timeline::new(org),
            exempt: false,
        });
        id
    }

    pub fn person(&mut self, role: Role) -> PersonId {
        self.person_in(role, B1)
    }

    pub fn member(&mut self) -> PersonId {
        self.person(Role::Member)
    }

    pub fn person_mut(&mut self, id: PersonId) -> &mut Person {
        self.persons.iter_mut().find(|p| p.id == id).unwrap()
    }

    /// An activity of B1 lasting two hours, registered when it ends.
    pub fn activity(
        &mut self,
        kind: ActivityKind,
        start: &str,
        points: Option<&str>,
    ) -> ActivityId {
        let s = t(start);
        let e = s + chrono::Duration::hours(2);
        self.activity_full(B1, kind, s, e, e, points)
    }

    pub fn activity_full(
        &mut self,
        org: OrgId,
        kind: ActivityKind,
        starts_at: DateTime<FixedOffset>,
        ends_at: DateTime<FixedOffset>,
        registered_at: DateTime<FixedOffset>,
        points: Option<&str>,
    ) -> ActivityId {
        let id = ActivityId(self.activities.len() as i64 + 1);
        self.activities.push(Activity {
            id,
            org,
            kind,
            starts_at,
            ends_at,
            registered_at,
            points: points.map(dec),
        });
        id
    }

    fn fact(&mut self, at: &str, kind: FactKind) -> FactId {
        let id = FactId(self.facts.len() as i64 + 1);
        self.facts.push(Fact {
            id,
            at: t(at),
            kind,
        });
        id
    }

    pub fn checkin(
        &mut self,
        person: PersonId,
        activity: ActivityId,
        at: &str,
        method: Method,
    ) -> FactId {
        self.fact(
            at,
            FactKind::CheckIn {
                person,
                activity,
                method,
            },
        )
    }

    pub fn qr(&mut self, person: PersonId, activity: ActivityId, at: &str) -> FactId {
        self.checkin(person, activity, at, Method::Qr)
    }

    pub fn makeup(&mut self, person: PersonId, activity: ActivityId, at: &str) -> FactId {
        self.fact(at, FactKind::MakeupStudy { person, activity })
    }

    pub fn item_with(&mut self, person: PersonId, code: &str, at: &str, fields: Fields) -> FactId {
        self.fact(
            at,
            FactKind::Item {
                subject: SubjectId::Person(person),
                item: ItemCode::new(code),
                fields,
            },
        )
    }

    pub fn item(&mut self, person: PersonId, code: &str, at: &str) -> FactId {
        self.item_with(person, code, at, Fields::new())
    }

    pub fn graded(&mut self, person: PersonId, code: &str, at: &str, points: &str) -> FactId {
        self.item_with(person, code, at, Fields::new().with("points", num(points)))
    }

    pub fn org_item_with(&mut self, org: OrgId, code: &str, at: &str, fields: Fields) -> FactId {
        self.fact(
            at,
            FactKind::Item {
                subject: SubjectId::Org(org),
                item: ItemCode::new(code),
                fields,
            },
        )
    }

    pub fn org_item(&mut self, org: OrgId, code: &str, at: &str) -> FactId {
        self.org_item_with(org, code, at, Fields::new())
    }

    pub fn annul(&mut self, target: FactId, at: &str) -> FactId {
        self.fact(at, FactKind::Annul { target })
    }

    pub fn ctx(&self, year_end: bool) -> Context<'_> {
        Context {
            policy: &self.policy,
            calendars: &self.calendars,
            year: self.year,
            year_end,
        }
    }

    pub fn data(&self) -> YearData {
        YearData {
            orgs: self.orgs.clone(),
            persons: self.persons.clone(),
            activities: Activities::new(self.activities.clone()),
            facts: self.facts.clone(),
            carried: self.carried.clone(),
        }
    }

    fn subject_eval(&self, subject: Subject, year_end: bool) -> SubjectEvaluation {
        evaluate_subject(
            &self.ctx(year_end),
            &subject,
            &self.facts,
            &Activities::new(self.activities.clone()),
        )
    }

    /// Year-end evaluation of one person (no group stage).
    pub fn eval(&self, p: PersonId) -> SubjectEvaluation {
        let person = self.persons.iter().find(|x| x.id == p).unwrap().clone();
        self.subject_eval(Subject::Person(person), true)
    }

    /// The running evaluation of one person (no year-end rules).
    pub fn running(&self, p: PersonId) -> SubjectEvaluation {
        let person = self.persons.iter().find(|x| x.id == p).unwrap().clone();
        self.subject_eval(Subject::Person(person), false)
    }

    pub fn eval_org(&self, o: OrgId) -> SubjectEvaluation {
        let org = self.orgs.iter().find(|x| x.id == o).unwrap().clone();
        self.subject_eval(Subject::Org(org), true)
    }

    /// Everyone at year end, group stage included.
    pub fn year_eval(&self) -> YearEvaluation {
        evaluate_year(&self.ctx(true), &self.data())
    }

    pub fn score(&self, p: PersonId) -> Decimal {
        self.eval(p).result().unwrap().score.unwrap()
    }

    pub fn org_score(&self, o: OrgId) -> Decimal {
        self.eval_org(o).result().unwrap().score.unwrap()
    }
}

/// The posting made for a fact (the first, if several rules scored it).
pub(crate) fn posting_of(e: &SubjectEvaluation, f: FactId) -> &Posting {
    e.postings
        .iter()
        .find(|p| p.source == Source::Fact(f))
        .unwrap_or_else(|| panic!("no posting for fact {f}: {:#?}", e.postings))
}

pub(crate) fn granted(e: &SubjectEvaluation, f: FactId) -> Decimal {
    posting_of(e, f).points_granted
}

#[test]
fn presets_load() {
    let set = PolicySet::builtin().unwrap();
    let names: Vec<&str> = set.names().collect();
    assert_eq!(
        names,
        [
            "erqi-2021",
            "jinhua-2018",
            "sdtbu-2018",
            "town-2019",
            "xihu-2017"
        ]
    );
}

#[test]
fn every_preset_states_its_choices() {
    let set = PolicySet::builtin().unwrap();
    // RULES.md's AMBIGUOUS rules must each be an explicit choice of their preset.
    for (preset, rule) in [
        ("xihu-2017", "XH-17"),
        ("xihu-2017", "XH-15.3"),
        ("sdtbu-2018", "SD-6"),
        ("town-2019", "TW-3.1"),
    ] {
        let p = set.get(preset).unwrap();
        assert!(
            p.choices
                .iter()
                .any(|c| c.rule_id == rule && !c.choice.is_empty()),
            "{preset} has no choice for {rule}"
        );
    }
}

/// The console shows each reading beside the other readings the document allows.
#[test]
fn every_preset_choice_names_its_alternatives() {
    let set = PolicySet::builtin().unwrap();
    for name in set.names() {
        let p = set.get(name).unwrap();
        for c in &p.choices {
            assert!(
                !c.alternatives.is_empty() && c.alternatives.iter().all(|a| !a.is_empty()),
                "{name}: {} names no alternative reading",
                c.rule_id
            );
        }
    }
}
