//! The scorer: output format and bad input (FORMAT.md "Bad input").
#![allow(clippy::unwrap_used)]

use std::path::Path;

use serde_json::{Value, json};

use super::*;

fn base() -> Value {
    json!({
        "policy": "xihu-2017",
        "year": 2026,
        "orgs": [{"id": "b1", "name": "第一支部"}],
        "people": [
            {"id": "m1", "org": "b1", "role": "member"},
            {"id": "p1", "org": "b1", "role": "applicant"},
            {"id": "m9", "org": "b1", "role": "member", "exempt": true}
        ],
        "activities": [
            {"id": "d01", "org": "b1", "kind": "fixed_day",
             "starts_at": "2026-01-16T14:00:00+08:00", "ends_at": "2026-01-16T16:00:00+08:00",
             "registered_at": "2026-01-16T16:30:00+08:00"}
        ],
        "events": [
            {"id": "e1", "kind": "checkin", "person": "m1", "activity": "d01",
             "at": "2026-01-16T13:58:00+08:00", "method": "qr"}
        ]
    })
}

fn score_text(text: &str) -> Result<Output, ScoreError> {
    let policies = PolicySet::builtin().unwrap();
    let calendars = Calendars::builtin().unwrap();
    parse_scenario(text, "s.json", Path::new("."), &policies, &calendars).map(|s| s.score())
}

fn score(v: &Value) -> Result<Output, ScoreError> {
    score_text(&v.to_string())
}

fn refused(v: &Value) -> String {
    match score(v) {
        Ok(out) => panic!("accepted: {}", out.to_json()),
        Err(e) => {
            let s = e.to_string();
            assert!(!s.contains('\n'), "not one line: {s}");
            s
        }
    }
}

#[test]
fn format_md_example_scores_as_documented() {
    let out: Value = serde_json::from_str(&score(&base()).unwrap().to_json()).unwrap();
    assert_eq!(
        out,
        json!({
            "policy": "xihu-2017",
            "year": 2026,
            "subjects": {
                "m1": {"index": "vanguard", "status": "scored", "score": 0, "stars": 1},
                "b1": {"index": "fortress", "status": "scored", "score": 5, "stars": 1},
                "p1": {"index": "applicant", "status": "scored", "score": 0, "stars": null},
                "m9": {"index": "vanguard", "status": "exempt", "score": null, "stars": null}
            }
        })
    );
}

#[test]
fn subjects_come_in_input_order_with_exact_numbers() {
    let mut v = base();
    v["activities"][0]["registered_at"] = json!("2026-01-26T09:00:00+08:00");
    let text = score(&v).unwrap().to_json();
    let order: Vec<usize> = ["\"m1\"", "\"p1\"", "\"m9\"", "\"b1\""]
        .iter()
        .map(|k| text.find(k).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    // Halved by XH-6: 2.5, written exactly; whole numbers without ".0".
    assert!(text.contains("\"score\": 2.5"), "{text}");
    assert!(text.contains("\"score\": 0,"), "{text}");
    assert!(!text.contains(".0,"), "{text}");
}

#[test]
fn decimals_are_read_exactly() {
    let mut v = base();
    v["people"] = json!([{"id": "m1", "org": "b1", "role": "member"}]);
    v["activities"] = json!([]);
    // 0.1 + 0.2 is 0.3 exactly (through f64 it would not be).
    v["events"] = json!([
        {"kind": "item", "person": "m1", "item": "study", "points": 0.1, "at": "2026-02-01T10:00:00+08:00"},
        {"kind": "item", "person": "m1", "item": "study", "points": 0.2, "at": "2026-02-02T10:00:00+08:00"},
    ]);
    let mut s = score(&v).unwrap();
    // Year end takes 5 for missing fixed days; the floor brings it back to 0.
    assert_eq!(s.subjects[0].1.score, Some(rust_decimal::Decimal::ZERO));
    v["events"].as_array_mut().unwrap().push(json!(
        {"kind": "item", "person": "m1", "item": "honor_city", "at": "2026-03-01T10:00:00+08:00"}
    ));
    s = score(&v).unwrap();
    assert_eq!(s.subjects[0].1.score.unwrap().to_string(), "2.3");
}

#[test]
fn unknown_names_are_refused_with_field_and_position() {
    let mut v = base();
    v["events"][0]["activity"] = json!("d13");
    assert_eq!(refused(&v), "events[0].activity: no activity \"d13\"");

    let mut v = base();
    v["events"][0]["person"] = json!("m7");
    assert_eq!(refused(&v), "events[0].person: no person \"m7\"");

    let mut v = base();
    v["people"][1]["org"] = json!("b9");
    assert_eq!(refused(&v), "people[1].org: no org \"b9\"");

    let mut v = base();
    v["activities"][0]["org"] = json!("b2");
    assert_eq!(refused(&v), "activities[0].org: no org \"b2\"");

    let mut v = base();
    v["policy"] = json!("xihu-2099");
    assert_eq!(refused(&v), "policy: no policy \"xihu-2099\"");

    let mut v = base();
    v["events"][0] =
        json!({"kind": "item", "person": "m1", "item": "bonus", "at": "2026-02-01T10:00:00+08:00"});
    assert_eq!(
        refused(&v),
        "events[0].item: no person item \"bonus\" in policy \"xihu-2017\""
    );

    // An org item given to a person is unknown for persons.
    let mut v = base();
    v["events"][0] = json!({"kind": "item", "person": "m1", "item": "dues_record", "at": "2026-02-01T10:00:00+08:00"});
    assert!(refused(&v).starts_with("events[0].item: no person item \"dues_record\""));
}

#[test]
fn malformed_values_are_refused() {
    let mut v = base();
    v["events"][0]["at"] = json!("2026-01-16 13:58");
    assert_eq!(
        refused(&v),
        "events[0].at: malformed timestamp \"2026-01-16 13:58\" (RFC 3339 with offset)"
    );

    let mut v = base();
    v["activities"][0]["starts_at"] = json!("2026-01-16T14:00:00");
    assert!(refused(&v).starts_with("activities[0].starts_at: malformed timestamp"));

    let mut v = base();
    v["events"][0]["method"] = json!("fax");
    assert_eq!(refused(&v), "events[0].method: unknown method \"fax\"");

    let mut v = base();
    v["people"][0]["role"] = json!("secretary");
    assert_eq!(refused(&v), "people[0].role: unknown role \"secretary\"");

    let mut v = base();
    v["events"][0]["kind"] = json!("scan");
    assert!(refused(&v).starts_with("events[0].kind: unknown kind \"scan\""));

    let mut v = base();
    v["events"][0] =
        json!({"kind": "item", "person": "m1", "item": "study", "at": "2026-02-01T10:00:00+08:00"});
    assert_eq!(refused(&v), "events[0].points: missing");

    let mut v = base();
    v["events"][0] = json!({"kind": "item", "person": "m1", "item": "study", "points": "4", "at": "2026-02-01T10:00:00+08:00"});
    assert_eq!(refused(&v), "events[0].points: expected a number");

    let mut v = base();
    v["year"] = json!("2026");
    assert_eq!(refused(&v), "year: expected a number");

    let mut v = base();
    v["calendar"] = json!({"holidays": ["2026-02-30"]});
    assert_eq!(
        refused(&v),
        "calendar.holidays[0]: malformed date \"2026-02-30\" (YYYY-MM-DD)"
    );
}

#[test]
fn duplicate_ids_are_refused() {
    let mut v = base();
    v["events"].as_array_mut().unwrap().push(json!(
        {"id": "e1", "kind": "makeup_study", "person": "m1", "activity": "d01", "at": "2026-01-17T10:00:00+08:00"}
    ));
    assert_eq!(refused(&v), "events[1].id: duplicate id \"e1\"");

    let mut v = base();
    v["people"][2]["id"] = json!("m1");
    assert_eq!(refused(&v), "people[2].id: duplicate id \"m1\"");

    // People and orgs share the output's keys.
    let mut v = base();
    v["people"][0]["id"] = json!("b1");
    assert_eq!(refused(&v), "people[0].id: duplicate id \"b1\"");

    let mut v = base();
    let a = v["activities"][0].clone();
    v["activities"].as_array_mut().unwrap().push(a);
    assert_eq!(refused(&v), "activities[1].id: duplicate id \"d01\"");
}

#[test]
fn annul_of_a_missing_event_is_refused() {
    let mut v = base();
    v["events"].as_array_mut().unwrap().push(json!(
        {"kind": "annul", "target": "e99", "at": "2026-01-20T10:00:00+08:00", "reason": "误签"}
    ));
    assert_eq!(refused(&v), "events[1].target: no event \"e99\"");
}

#[test]
fn an_annul_takes_the_points_away() {
    let mut v = base();
    v["events"].as_array_mut().unwrap().push(json!(
        {"kind": "annul", "target": "e1", "at": "2026-01-20T10:00:00+08:00", "reason": "误签"}
    ));
    let out = score(&v).unwrap();
    assert_eq!(out.subjects[0].1.score, Some(rust_decimal::Decimal::ZERO));
}

#[test]
fn invalid_json_names_the_file_line_and_column() {
    let e = score_text("{\n  \"policy\": \"xihu-2017\",\n  \"year\": 2026,,\n}").unwrap_err();
    let s = e.to_string();
    assert!(s.starts_with("s.json: invalid JSON: "), "{s}");
    assert!(s.contains("line 3 column"), "{s}");
    assert!(!s.contains('\n'));
    let e = score_text("[1, 2]").unwrap_err().to_string();
    assert!(e.starts_with("s.json: invalid JSON"), "{e}");
}

#[test]
fn an_unreadable_file_names_the_file() {
    let e = score_file(Path::new("/nonexistent/scenario.json"), None, None).unwrap_err();
    let s = e.to_string();
    assert!(s.starts_with("/nonexistent/scenario.json: "), "{s}");
    assert!(!s.contains('\n'));
}

#[test]
fn a_policy_file_is_read_relative_to_the_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let text = crate::policy::PRESETS
        .iter()
        .find(|(f, _)| f.ends_with("town-2019.toml"))
        .unwrap()
        .1
        .replace("name = \"town-2019\"", "name = \"our-town\"");
    std::fs::create_dir(dir.path().join("p")).unwrap();
    std::fs::write(dir.path().join("p/our-town.toml"), text).unwrap();
    let v = json!({
        "policy": "p/our-town.toml",
        "year": 2026,
        "orgs": [{"id": "b1"}],
        "people": [{"id": "m1", "org": "b1", "role": "member"}],
        "events": [{"kind": "item", "person": "m1", "item": "dues", "at": "2026-01-10T10:00:00+08:00"}]
    });
    let path = dir.path().join("s.json");
    std::fs::write(&path, v.to_string()).unwrap();
    let out = score_file(&path, None, None).unwrap();
    assert_eq!(out.policy, "our-town");
    let json: Value = serde_json::from_str(&out.to_json()).unwrap();
    assert_eq!(json["subjects"]["m1"]["rating"], json!("unqualified"));

    // A broken policy file is refused with its file and line.
    std::fs::write(
        dir.path().join("p/our-town.toml"),
        "name = \"our-town\"\ntitle = 3\n",
    )
    .unwrap();
    let e = score_file(&path, None, None).unwrap_err().to_string();
    assert!(
        e.starts_with("policy: ") && e.contains("our-town.toml:2:"),
        "{e}"
    );
}

#[test]
fn the_generator_makes_a_valid_scenario_of_the_asked_size() {
    let text = generate_scenario(120, 3000, 7);
    let s = {
        let policies = PolicySet::builtin().unwrap();
        let calendars = Calendars::builtin().unwrap();
        parse_scenario(&text, "gen.json", Path::new("."), &policies, &calendars).unwrap()
    };
    assert_eq!((s.people.len(), s.events.len()), (120, 3000));
    let out = s.score();
    assert_eq!(out.subjects.len(), 123);
    assert_eq!(generate_scenario(120, 3000, 7), text);
}

#[test]
fn erqi_output_carries_the_composite_and_a_group_rating() {
    let events: Vec<Value> = [1, 4, 7, 10]
        .iter()
        .map(|m| json!({"kind": "item", "person": "m2", "item": "dues", "at": format!("2026-{m:02}-05T10:00:00+08:00")}))
        .chain(std::iter::once(json!(
            {"kind": "item", "person": "m2", "item": "democratic_score", "score": 95, "at": "2026-12-20T10:00:00+08:00"}
        )))
        .collect();
    let v = json!({
        "policy": "erqi-2021",
        "year": 2026,
        "orgs": [{"id": "b1"}],
        "people": [
            {"id": "m1", "org": "b1", "role": "member"},
            {"id": "m2", "org": "b1", "role": "member"},
            {"id": "p1", "org": "b1", "role": "applicant"}
        ],
        "events": events
    });
    let out: Value = serde_json::from_str(&score(&v).unwrap().to_json()).unwrap();
    assert_eq!(
        out["subjects"],
        json!({
            "m1": {"index": "vanguard", "status": "unqualified", "score": 0, "stars": null, "rating": "unqualified"},
            "m2": {"index": "vanguard", "status": "scored", "score": 4, "stars": null, "composite": 31.3},
            "p1": {"index": "applicant", "status": "not_covered", "score": null, "stars": null}
        })
    );
}

/// The pure path (parse → engine → output) gives every shared scenario exactly;
/// tests/api/score.rs checks the same through the binary and the services.
#[test]
fn every_scenario_scores_to_its_expected_output() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p.to_string_lossy().ends_with(".expected.json")
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no scenarios in {}", dir.display());
    for input in inputs {
        let expected_path = input.with_extension("expected.json");
        let expected: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&expected_path)
                .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display())),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        let output =
            score_file(&input, None, None).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
        // Compare as JSON values: 72 and 72.0 differ, key order does not.
        let actual: serde_json::Value = serde_json::from_str(&output.to_json())
            .unwrap_or_else(|e| panic!("{}: output is not JSON: {e}", input.display()));
        assert_eq!(
            actual,
            expected,
            "{}\nactual:\n{}",
            input.display(),
            output.to_json()
        );
    }
}

/// Activity kinds beyond FORMAT.md's five (#11): a 党课 check-in scores TW-2's lecture
/// line under town-2019; files with only the original kinds read as before.
#[test]
fn tw_2_a_lecture_activity_in_a_scenario_scores_its_line() {
    let mut v = base();
    v["policy"] = json!("town-2019");
    v["activities"][0]["kind"] = json!("lecture");
    let out: Value = serde_json::from_str(&score(&v).unwrap().to_json()).unwrap();
    assert_eq!(out["subjects"]["m1"]["score"], json!(3), "{out}");
    v["activities"][0]["kind"] = json!("party_lecture");
    let e = refused(&v);
    assert!(e.contains("party_lecture"), "{e}");
}

/// Leave, absence and declaration events (documented in `docs/scenarios.md`).
fn erqi_absences() -> Value {
    json!({
        "policy": "erqi-2021",
        "year": 2026,
        "orgs": [{"id": "b1"}],
        "people": [
            {"id": "m1", "org": "b1", "role": "member"},
            {"id": "m2", "org": "b1", "role": "member"}
        ],
        "activities": [
            {"id": "g1", "org": "b1", "kind": "meeting",
             "starts_at": "2026-03-10T14:00:00+08:00", "ends_at": "2026-03-10T16:00:00+08:00"}
        ],
        "events": [
            {"kind": "absence", "person": "m1", "activity": "g1", "at": "2026-03-10T16:00:00+08:00"},
            {"kind": "absence", "person": "m2", "activity": "g1", "at": "2026-03-10T16:00:00+08:00"},
            {"kind": "leave", "person": "m1", "activity": "g1", "at": "2026-03-09T09:00:00+08:00"}
        ]
    })
}

#[test]
fn eq_3_an_absence_with_leave_is_minus_half_without_minus_one_in_scenarios() {
    let out: Value = serde_json::from_str(&score(&erqi_absences()).unwrap().to_json()).unwrap();
    assert_eq!(out["subjects"]["m1"]["score"], json!(-0.5));
    assert_eq!(out["subjects"]["m2"]["score"], json!(-1));
}

#[test]
fn xh_15_1_leave_and_absence_events_change_nothing_under_xihu_in_scenarios() {
    let plain = score(&base()).unwrap().to_json();
    let mut v = base();
    let events = v["events"].as_array_mut().unwrap();
    events.push(json!({"kind": "leave", "person": "m1", "activity": "d01", "at": "2026-01-15T09:00:00+08:00"}));
    events.push(json!({"kind": "absence", "person": "m1", "activity": "d01", "at": "2026-01-16T16:00:00+08:00"}));
    assert_eq!(score(&v).unwrap().to_json(), plain);
}

#[test]
fn sd_2_only_an_approved_declaration_scores_in_scenarios() {
    let v = json!({
        "policy": "sdtbu-2018",
        "year": 2026,
        "orgs": [{"id": "b1"}],
        "people": [{"id": "m1", "org": "b1", "role": "member"}],
        "events": [
            {"kind": "declaration", "person": "m1", "item": "contribution", "points": 4, "at": "2026-05-18T00:00:00+08:00"},
            {"kind": "declaration", "person": "m1", "item": "contribution", "points": 9, "state": "rejected", "at": "2026-05-19T00:00:00+08:00"},
            {"kind": "declaration", "person": "m1", "item": "contribution", "state": "withdrawn", "at": "2026-05-20T00:00:00+08:00"}
        ]
    });
    let out: Value = serde_json::from_str(&score(&v).unwrap().to_json()).unwrap();
    assert_eq!(out["subjects"]["m1"]["score"], json!(4));
    // A member declares no deduction; an unknown state and an annul of a declaration
    // that recorded nothing are refused.
    let mut bad = v.clone();
    bad["events"][0]["item"] = json!("negative_list");
    assert!(refused(&bad).starts_with("events[0].item: no declarable item"));
    let mut bad = v.clone();
    bad["events"][1]["state"] = json!("maybe");
    assert!(refused(&bad).starts_with("events[1].state: unknown state"));
    let mut bad = erqi_absences();
    bad["events"][2]["id"] = json!("l1");
    bad["events"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kind": "annul", "target": "l1", "at": "2026-03-11T09:00:00+08:00"}));
    assert!(refused(&bad).starts_with("events[3].target:"));
}
