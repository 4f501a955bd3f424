//! The replay property: the engine's answer depends on the set of facts only.
//! Shuffled input, and facts arriving one at a time (annulments included, even
//! before their targets), always give what a full replay of the same facts gives.

use proptest::prelude::*;

use super::*;
use ActivityKind::*;

#[derive(Debug, Clone)]
enum Spec {
    CheckIn {
        person: usize,
        activity: usize,
        offset_s: i64,
        method: u8,
    },
    Makeup {
        person: usize,
        activity: usize,
        days: i64,
    },
    Item {
        person: usize,
        code: u8,
        day: u32,
        points: u8,
    },
    OrgItem {
        code: u8,
        day: u32,
        hour: u32,
    },
    Annul {
        target: usize,
    },
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        4 => (0..3usize, 0..6usize, -1200..1500i64, 0..4u8).prop_map(|(person, activity, offset_s, method)| Spec::CheckIn { person, activity, offset_s, method }),
        1 => (0..3usize, 0..6usize, 1..4i64).prop_map(|(person, activity, days)| Spec::Makeup { person, activity, days }),
        3 => (0..3usize, 0..12u8, 0..400u32, 0..8u8).prop_map(|(person, code, day, points)| Spec::Item { person, code, day, points }),
        2 => (0..4u8, 0..30u32, 8..12u32).prop_map(|(code, day, hour)| Spec::OrgItem { code, day, hour }),
        1 => (0..64usize).prop_map(|target| Spec::Annul { target }),
    ]
}

const PERSON_CODES: [&str; 12] = [
    // xihu-2017
    "study",
    "community_service",
    "honor_other",
    "improper_remarks",
    "honor_city",
    // town-2019
    "dues",
    "lecture",
    "volunteer",
    "gambling",
    "life_meeting",
    "key_task",
    "veto",
];
const ORG_CODES: [&str; 4] = ["dues_record", "transfer", "data_update", "care_fund_record"];

/// Builds the kit and its facts (ids in creation order) from specs.
fn build(preset: &str, specs: &[Spec]) -> Kit {
    let mut k = Kit::new(preset);
    let people = [
        k.member(),
        k.person(Role::Probationary),
        k.person(Role::Applicant),
    ];
    let acts = [
        k.activity(FixedDay, "2026-01-16 14:00", None),
        k.activity(FixedDay, "2026-02-13 14:00", None),
        k.activity(Meeting, "2026-02-13 19:00", Some("4")),
        k.activity(Training, "2026-03-31 22:00", Some("3")),
        k.activity(FixedDay, "2026-12-31 23:50", None),
        k.activity(Volunteer, "2025-12-31 23:00", Some("5")),
    ];
    for s in specs {
        match *s {
            Spec::CheckIn {
                person,
                activity,
                offset_s,
                method,
            } => {
                let a = &k.activities[activity];
                let at = a.starts_at + chrono::Duration::seconds(offset_s);
                let id = FactId(k.facts.len() as i64 + 1);
                k.facts.push(Fact {
                    id,
                    at,
                    kind: FactKind::CheckIn {
                        person: people[person],
                        activity: acts[activity],
                        method: Method::ALL[method as usize],
                    },
                });
            }
            Spec::Makeup {
                person,
                activity,
                days,
            } => {
                let at = k.activities[activity].ends_at + chrono::Duration::days(days);
                let id = FactId(k.facts.len() as i64 + 1);
                k.facts.push(Fact {
                    id,
                    at,
                    kind: FactKind::MakeupStudy {
                        person: people[person],
                        activity: acts[activity],
                    },
                });
            }
            Spec::Item {
                person,
                code,
                day,
                points,
            } => {
                let date = chrono::NaiveDate::from_yo_opt(2025, 300).unwrap()
                    + chrono::Days::new(day.into());
                let at = format!("{} 10:00", date.format("%Y-%m-%d"));
                let fields = Fields::new()
                    .with("points", num(&format!("{}.5", points)))
                    .with("leading", FieldValue::Bool(points % 3 == 0));
                k.item_with(people[person], PERSON_CODES[code as usize], &at, fields);
            }
            Spec::OrgItem { code, day, hour } => {
                let at = format!("2026-03-{:02} {hour:02}:00", 1 + day % 28);
                let fields = Fields::new()
                    .with("member", text(if day % 2 == 0 { "m1" } else { "m2" }))
                    .with("data", text(if day % 3 == 0 { "phone" } else { "address" }));
                k.org_item_with(B1, ORG_CODES[code as usize], &at, fields);
            }
            Spec::Annul { target } => {
                let n = k.facts.len();
                if n > 0 {
                    let target = FactId((target % n) as i64 + 1);
                    k.annul(target, "2026-06-01 10:00");
                }
            }
        }
    }
    k
}

fn replay(k: &Kit, facts: &[Fact]) -> Vec<SubjectEvaluation> {
    let mut data = k.data();
    data.facts = facts.to_vec();
    let y = evaluate_year(&k.ctx(true), &data);
    y.persons.into_iter().chain(y.orgs).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn shuffled_input_gives_the_same_evaluation(
        specs in prop::collection::vec(spec(), 0..40),
        town in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let k = build(if town { "town-2019" } else { "xihu-2017" }, &specs);
        let full = replay(&k, &k.facts);
        let mut shuffled = k.facts.clone();
        shuffle(&mut shuffled, seed);
        prop_assert_eq!(replay(&k, &shuffled), full);
    }

    #[test]
    fn facts_arriving_one_at_a_time_equal_a_full_replay(
        specs in prop::collection::vec(spec(), 1..30),
        town in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let k = build(if town { "town-2019" } else { "xihu-2017" }, &specs);
        let mut arrival = k.facts.clone();
        shuffle(&mut arrival, seed);
        let mut so_far: Vec<Fact> = Vec::new();
        for f in arrival {
            so_far.push(f);
            // What the ledger holds after this arrival must equal a replay of the
            // same facts in their natural order.
            let mut natural = so_far.clone();
            natural.sort_by_key(|f| f.id);
            prop_assert_eq!(replay(&k, &so_far), replay(&k, &natural));
        }
        prop_assert_eq!(replay(&k, &so_far), replay(&k, &k.facts));
    }
}

/// A deterministic Fisher–Yates shuffle (no dependency on proptest's RNG API).
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let j = (seed % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}
