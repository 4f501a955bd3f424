//! Synthetic years for benchmarks: branches of about 40, monthly fixed activity
//! days, other activities, and a mix of check-ins, make-up study, items and
//! annulments shaped like a real xihu-2017 year.

use std::fmt::Write as _;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

use crate::policy::{
    Activities, Activity, ActivityId, ActivityKind, Fact, FactId, FactKind, FieldValue, Fields,
    ItemCode, Method, Org, OrgId, Person, PersonId, Role, SubjectId, Timeline, YearData, fmt_dec,
};

const YEAR: i32 = 2026;
const BRANCH_SIZE: usize = 40;

fn at(day: NaiveDate, hour: u32, min: u32) -> DateTime<FixedOffset> {
    let tz = chrono_tz::Asia::Shanghai;
    let naive = day.and_hms_opt(hour, min, 0).unwrap_or_default();
    tz.from_local_datetime(&naive)
        .earliest()
        .unwrap_or_else(|| tz.from_utc_datetime(&naive))
        .fixed_offset()
}

fn day_of_year(rng: &mut StdRng) -> NaiveDate {
    NaiveDate::from_yo_opt(YEAR, rng.random_range(1..=365)).unwrap_or_default()
}

fn id(i: usize) -> i64 {
    i64::try_from(i).unwrap_or(i64::MAX)
}

/// A reproducible year with `members` people and exactly `facts` facts.
pub fn generate_year(members: usize, facts: usize, seed: u64) -> YearData {
    let mut rng = StdRng::seed_from_u64(seed);
    let tz = chrono_tz::Asia::Shanghai;
    let n_orgs = (members / BRANCH_SIZE).max(1);
    let orgs: Vec<Org> = (1..=n_orgs)
        .map(|i| Org {
            id: OrgId(id(i)),
            tz,
        })
        .collect();
    let persons: Vec<Person> = (1..=members)
        .map(|i| {
            let role = match rng.random_range(0..100) {
                0..90 => Role::Member,
                90..95 => Role::Probationary,
                _ => Role::Applicant,
            };
            Person {
                id: PersonId(id(i)),
                tz,
                roles: Timeline::new(role),
                orgs: Timeline::new(OrgId(id(1 + (i - 1) % n_orgs))),
                exempt: rng.random_range(0..100) == 0,
            }
        })
        .collect();

    let mut activities = Vec::new();
    let mut fixed: Vec<Vec<usize>> = vec![Vec::new(); n_orgs];
    let mut other: Vec<Vec<usize>> = vec![Vec::new(); n_orgs];
    for o in 0..n_orgs {
        for month in 1..=12 {
            let day =
                NaiveDate::from_ymd_opt(YEAR, month, rng.random_range(10..=20)).unwrap_or_default();
            let starts_at = at(day, 14, 0);
            let ends_at = at(day, 16, 0);
            let registered_at = if rng.random_range(0..5) == 0 {
                ends_at + Duration::days(rng.random_range(1..8))
            } else {
                ends_at + Duration::minutes(30)
            };
            fixed[o].push(activities.len());
            activities.push(Activity {
                id: ActivityId(id(activities.len() + 1)),
                org: orgs[o].id,
                kind: ActivityKind::FixedDay,
                starts_at,
                ends_at,
                registered_at,
                points: None,
            });
        }
        for _ in 0..12 {
            let day = day_of_year(&mut rng);
            let kind = [
                ActivityKind::Meeting,
                ActivityKind::Training,
                ActivityKind::Volunteer,
                ActivityKind::Cultural,
            ][rng.random_range(0..4)];
            other[o].push(activities.len());
            activities.push(Activity {
                id: ActivityId(id(activities.len() + 1)),
                org: orgs[o].id,
                kind,
                starts_at: at(day, 9, 0),
                ends_at: at(day, 11, 0),
                registered_at: at(day, 12, 0),
                points: Some(Decimal::from(rng.random_range(1..=3))),
            });
        }
    }

    let mut out = Vec::with_capacity(facts);
    for i in 0..facts {
        let fid = FactId(id(i + 1));
        let p = rng.random_range(0..persons.len().max(1));
        let person = persons.get(p).map_or(PersonId(1), |x| x.id);
        let o = p % n_orgs;
        let roll = rng.random_range(0..100);
        let (when, kind) = match roll {
            0..55 => {
                let a = &activities[fixed[o][rng.random_range(0..12)]];
                let method = match rng.random_range(0..100) {
                    0..90 => Method::Qr,
                    90..95 => Method::Manual,
                    95..98 => Method::Batch,
                    _ => Method::Backfill,
                };
                (
                    a.starts_at + Duration::seconds(rng.random_range(-1800..1800)),
                    FactKind::CheckIn {
                        person,
                        activity: a.id,
                        method,
                    },
                )
            }
            55..60 => {
                let a = &activities[fixed[o][rng.random_range(0..12)]];
                (
                    a.ends_at + Duration::hours(rng.random_range(24..120)),
                    FactKind::MakeupStudy {
                        person,
                        activity: a.id,
                    },
                )
            }
            60..80 => {
                let a = &activities[other[o][rng.random_range(0..12)]];
                (
                    a.starts_at + Duration::minutes(rng.random_range(-10..30)),
                    FactKind::CheckIn {
                        person,
                        activity: a.id,
                        method: Method::Qr,
                    },
                )
            }
            80..97 => {
                let (code, fields) = match roll {
                    80..88 => (
                        "study",
                        Fields::new().with(
                            "points",
                            FieldValue::Number(Decimal::from(rng.random_range(1..=3))),
                        ),
                    ),
                    88..92 => ("community_service", Fields::new()),
                    92 => match rng.random_range(0..3) {
                        0 => ("honor_district", Fields::new()),
                        1 => ("honor_city", Fields::new()),
                        _ => (
                            "honor_other",
                            Fields::new().with(
                                "points",
                                FieldValue::Number(Decimal::from(rng.random_range(1..=5))),
                            ),
                        ),
                    },
                    93 => ("improper_remarks", Fields::new()),
                    _ => {
                        let org = OrgId(id(1 + rng.random_range(0..n_orgs)));
                        let (code, fields) = match rng.random_range(0..5) {
                            0 => ("dues_record", Fields::new()),
                            1 => ("condolence_record", Fields::new()),
                            2 => ("care_fund_record", Fields::new()),
                            3 => (
                                "transfer",
                                Fields::new().with(
                                    "member",
                                    FieldValue::Text(format!(
                                        "m{}",
                                        rng.random_range(1..=members.max(1))
                                    )),
                                ),
                            ),
                            _ => (
                                "data_update",
                                Fields::new().with(
                                    "data",
                                    FieldValue::Text(
                                        ["phone", "address", "education"][rng.random_range(0..3)]
                                            .to_owned(),
                                    ),
                                ),
                            ),
                        };
                        out.push(Fact {
                            id: fid,
                            at: at(
                                day_of_year(&mut rng),
                                rng.random_range(8..18),
                                rng.random_range(0..60),
                            ),
                            kind: FactKind::Item {
                                subject: SubjectId::Org(org),
                                item: ItemCode::new(code),
                                fields,
                            },
                        });
                        continue;
                    }
                };
                (
                    at(
                        day_of_year(&mut rng),
                        rng.random_range(8..22),
                        rng.random_range(0..60),
                    ),
                    FactKind::Item {
                        subject: SubjectId::Person(person),
                        item: ItemCode::new(code),
                        fields,
                    },
                )
            }
            _ if i > 0 => (
                at(day_of_year(&mut rng), 10, 0),
                FactKind::Annul {
                    target: FactId(id(rng.random_range(1..=i))),
                },
            ),
            _ => (
                at(day_of_year(&mut rng), 10, 0),
                FactKind::MakeupStudy {
                    person,
                    activity: activities[fixed[o][0]].id,
                },
            ),
        };
        out.push(Fact {
            id: fid,
            at: when,
            kind,
        });
    }
    YearData {
        orgs,
        persons,
        activities: Activities::new(activities),
        facts: out,
        carried: Default::default(),
    }
}

/// A scenario file (FORMAT.md) for generated data: orgs `b<n>`, people
/// `m<n>`, activities `a<n>`, events `e<n>`.
pub fn scenario_json(data: &YearData, policy: &str, year: i32) -> String {
    let mut s = String::with_capacity(data.facts.len() * 140 + data.persons.len() * 60);
    let _ = write!(
        s,
        "{{\n\"policy\": \"{policy}\",\n\"year\": {year},\n\"orgs\": [\n"
    );
    for (i, o) in data.orgs.iter().enumerate() {
        let sep = if i + 1 < data.orgs.len() { "," } else { "" };
        let _ = writeln!(
            s,
            "{{\"id\": \"b{}\", \"name\": \"第{}支部\"}}{sep}",
            o.id, o.id
        );
    }
    s.push_str("],\n\"people\": [\n");
    for (i, p) in data.persons.iter().enumerate() {
        let sep = if i + 1 < data.persons.len() { "," } else { "" };
        let exempt = if p.exempt { ", \"exempt\": true" } else { "" };
        let _ = writeln!(
            s,
            "{{\"id\": \"m{}\", \"org\": \"b{}\", \"role\": \"{}\"{exempt}}}{sep}",
            p.id,
            p.orgs.initial(),
            p.roles.initial()
        );
    }
    s.push_str("],\n\"activities\": [\n");
    let mut acts: Vec<&Activity> = (1..=data.activities.len())
        .filter_map(|i| data.activities.get(ActivityId(id(i))))
        .collect();
    acts.sort_by_key(|a| a.id);
    for (i, a) in acts.iter().enumerate() {
        let sep = if i + 1 < acts.len() { "," } else { "" };
        let points = a
            .points
            .map(|p| format!(", \"points\": {}", fmt_dec(p)))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "{{\"id\": \"a{}\", \"org\": \"b{}\", \"kind\": \"{}\", \"starts_at\": \"{}\", \"ends_at\": \"{}\", \"registered_at\": \"{}\"{points}}}{sep}",
            a.id,
            a.org,
            a.kind,
            a.starts_at.to_rfc3339(),
            a.ends_at.to_rfc3339(),
            a.registered_at.to_rfc3339()
        );
    }
    s.push_str("],\n\"events\": [\n");
    for (i, f) in data.facts.iter().enumerate() {
        let sep = if i + 1 < data.facts.len() { "," } else { "" };
        let _ = write!(
            s,
            "{{\"id\": \"e{}\", \"at\": \"{}\", ",
            f.id,
            f.at.to_rfc3339()
        );
        match &f.kind {
            FactKind::CheckIn {
                person,
                activity,
                method,
            } => {
                let _ = write!(
                    s,
                    "\"kind\": \"checkin\", \"person\": \"m{person}\", \"activity\": \"a{activity}\", \"method\": \"{method}\""
                );
            }
            FactKind::MakeupStudy { person, activity } => {
                let _ = write!(
                    s,
                    "\"kind\": \"makeup_study\", \"person\": \"m{person}\", \"activity\": \"a{activity}\""
                );
            }
            FactKind::Item {
                subject,
                item,
                fields,
            } => {
                let who = match subject {
                    SubjectId::Person(p) => format!("\"person\": \"m{p}\""),
                    SubjectId::Org(o) => format!("\"org\": \"b{o}\""),
                };
                let _ = write!(
                    s,
                    "\"kind\": \"item\", {who}, \"item\": \"{}\"",
                    item.as_str()
                );
                for (k, v) in fields.iter() {
                    let _ = match v {
                        FieldValue::Number(n) => write!(s, ", \"{k}\": {}", fmt_dec(*n)),
                        FieldValue::Text(t) => {
                            write!(s, ", \"{k}\": {}", serde_json::Value::String(t.clone()))
                        }
                        FieldValue::Bool(b) => write!(s, ", \"{k}\": {b}"),
                    };
                }
            }
            FactKind::Annul { target } => {
                let _ = write!(
                    s,
                    "\"kind\": \"annul\", \"target\": \"e{target}\", \"reason\": \"更正\""
                );
            }
        }
        let _ = writeln!(s, "}}{sep}");
    }
    s.push_str("]\n}\n");
    s
}

/// A generated xihu-2017 scenario for 2026 as JSON text.
pub fn generate_scenario(members: usize, facts: usize, seed: u64) -> String {
    scenario_json(&generate_year(members, facts, seed), "xihu-2017", YEAR)
}
