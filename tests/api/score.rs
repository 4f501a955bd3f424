//! `vanguard score FILE`: every scenario in tests/scenarios (copies of
//! ../shared/scenarios) scores exactly to its expected output through the binary,
//! i.e. through the services and the in-memory store; bad input is refused with
//! exit status 2, one line on stderr and nothing on stdout.

use std::path::{Path, PathBuf};
use std::process::Command;

fn vanguard() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vanguard"));
    for (k, _) in std::env::vars() {
        if k.starts_with("VANGUARD__") {
            c.env_remove(k);
        }
    }
    // Run from a directory without config/: the built-in presets and calendars must suffice.
    c.current_dir(std::env::temp_dir());
    c
}

fn scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/scenarios")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p.to_string_lossy().ends_with(".expected.json")
        })
        .collect();
    v.sort();
    v
}

#[test]
fn every_scenario_scores_exactly_through_the_binary() {
    let list = scenarios();
    assert!(list.len() >= 2, "the shared scenarios are here");
    for input in list {
        let out = vanguard().arg("score").arg(&input).output().expect("runs");
        assert!(
            out.status.success(),
            "{}: {}",
            input.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let actual: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("JSON on stdout");
        let expected: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(input.with_extension("expected.json")).expect("expected"),
        )
        .expect("json");
        // As JSON values: 72 and 72.0 differ, key order does not.
        assert_eq!(
            actual,
            expected,
            "{}\n{}",
            input.display(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

fn refused(json: &str, want: &str) {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("s.json");
    std::fs::write(&file, json).expect("write");
    let out = vanguard().arg("score").arg(&file).output().expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty(), "nothing on stdout");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(want), "{err} should mention {want}");
}

#[test]
fn bad_scenarios_are_refused_with_one_line_naming_the_field() {
    let base = |events: &str| {
        format!(
            r#"{{"policy": "xihu-2017", "year": 2026, "orgs": [{{"id": "b1", "name": "一支部"}}],
            "people": [{{"id": "m1", "org": "b1", "role": "member"}}],
            "activities": [{{"id": "d01", "org": "b1", "kind": "fixed_day", "starts_at": "2026-01-16T14:00:00+08:00", "ends_at": "2026-01-16T16:00:00+08:00"}}],
            "events": [{events}]}}"#
        )
    };
    refused(
        &base(
            r#"{"kind": "checkin", "person": "m1", "activity": "d13", "at": "2026-01-16T13:58:00+08:00"}"#,
        ),
        "events[0].activity",
    );
    refused(
        &base(
            r#"{"kind": "checkin", "person": "m7", "activity": "d01", "at": "2026-01-16T13:58:00+08:00"}"#,
        ),
        "events[0].person",
    );
    refused(
        &base(r#"{"kind": "checkin", "person": "m1", "activity": "d01", "at": "yesterday"}"#),
        "events[0].at",
    );
    refused(
        &base(
            r#"{"kind": "annul", "target": "nope", "at": "2026-02-01T10:00:00+08:00", "reason": "x"}"#,
        ),
        "events[0].target",
    );
    refused(
        &base(
            r#"{"id": "e1", "kind": "item", "person": "m1", "item": "juggling", "at": "2026-02-01T10:00:00+08:00"}"#,
        ),
        "events[0].item",
    );
    refused(&base("").replace("xihu-2017", "nowhere-2099"), "policy");
    refused("{\"policy\": ", "line");
}

#[test]
fn an_unreadable_file_is_refused_too() {
    let out = vanguard()
        .arg("score")
        .arg("/nonexistent/scenario.json")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/scenario.json"));
}

/// The services path (database, ledger, year replay) gives exactly what the pure engine
/// gives, on generated years with every kind of fact and annulments.
#[test]
fn the_services_path_equals_the_pure_engine_on_generated_years() {
    for seed in [7u64, 2026] {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("gen.json");
        std::fs::write(&file, vanguard::score::generate_scenario(300, 9_000, seed)).expect("write");
        let pure = vanguard::score::score_file(&file, None, None).expect("pure path");
        let out = vanguard().arg("score").arg(&file).output().expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let services: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let pure: serde_json::Value = serde_json::from_str(&pure.to_json()).expect("json");
        assert_eq!(services, pure, "seed {seed}");
    }
}
