//! The policy file format: malformed policies are refused with file, line and reason.

use super::*;

const MINIMAL: &str = r#"
name = "mini"
title = "最小策略"

[index.vanguard]
label = "先锋指数"
subjects = ["member"]
stars = [{ below = 10, value = 1 }, { value = 2 }]

[[rule]]
id = "R-1"
index = "vanguard"
label = "学习"
cap = 5
[[rule.when]]
item = ["study"]
graded = { field = "points" }
"#;

fn err(text: &str) -> String {
    match parse_policy("p.toml", text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_minimal_policy_loads_and_scores() {
    let p = parse_policy("p.toml", MINIMAL).unwrap();
    assert_eq!(p.name, "mini");
    let spec = p.item(ItemSubject::Person, "study").unwrap();
    assert!(spec.field("points").unwrap().required);
    assert!(p.item(ItemSubject::Org, "study").is_none());
}

#[test]
fn unknown_keys_are_refused_with_their_line() {
    let text = MINIMAL.replace("cap = 5", "cap = 5\ncapp = 6");
    let e = err(&text);
    assert!(e.starts_with("p.toml:15:1: unknown field `capp`"), "{e}");
    assert!(e.contains("capp"), "{e}");
}

#[test]
fn syntax_errors_name_the_line() {
    let e = err("name = \"x\"\ntitle = \n");
    assert!(e.starts_with("p.toml:2:"), "{e}");
    assert!(!e.contains('\n'));
}

#[test]
fn references_to_unknown_indexes_and_categories_are_refused() {
    let e = err(&MINIMAL.replace("index = \"vanguard\"", "index = \"vangard\""));
    assert!(
        e.starts_with("p.toml:12:") && e.contains("no index \"vangard\""),
        "{e}"
    );
    let e = err(&MINIMAL.replace("cap = 5", "cap = 5\ncategory = \"bonus\""));
    assert!(e.contains("no category \"bonus\""), "{e}");
}

#[test]
fn unknown_activity_kinds_and_methods_are_refused() {
    let text = MINIMAL.replace(
        "item = [\"study\"]\ngraded = { field = \"points\" }",
        "checkin = [\"party\"]\npoints = 1",
    );
    let e = err(&text);
    assert!(e.contains("party"), "{e}");
    let text = MINIMAL.replace(
        "item = [\"study\"]\ngraded = { field = \"points\" }",
        "checkin = [\"meeting\"]\nmethods = [\"fax\"]\npoints = 1",
    );
    assert!(err(&text).contains("fax"));
}

#[test]
fn bands_must_cover_every_score() {
    let e = err(&MINIMAL.replace("{ value = 2 }", "{ below = 20, value = 2 }"));
    assert!(e.contains("last band must omit `below`"), "{e}");
    let e = err(&MINIMAL.replace(
        "{ below = 10, value = 1 }",
        "{ below = 10, value = 1 }, { below = 5, value = 3 }",
    ));
    assert!(e.contains("increase"), "{e}");
}

#[test]
fn a_when_needs_points_of_one_kind() {
    let e = err(&MINIMAL.replace(
        "graded = { field = \"points\" }",
        "graded = { field = \"points\" }\npoints = 3",
    ));
    assert!(e.contains("exactly one of points"), "{e}");
    let e = err(&MINIMAL.replace("graded = { field = \"points\" }", ""));
    assert!(e.contains("exactly one of points"), "{e}");
    let e = err(&MINIMAL.replace("graded = { field = \"points\" }", "points = -2"));
    assert!(e.contains("must not be negative"), "{e}");
}

#[test]
fn a_role_in_two_indexes_is_refused() {
    let text = format!("{MINIMAL}\n[index.other]\nlabel = \"x\"\nsubjects = [\"member\"]\n");
    assert!(err(&text).contains("role member is in two indexes"));
}

#[test]
fn decimals_in_policies_are_exact() {
    let p = parse_policy("p.toml", &MINIMAL.replace("cap = 5", "cap = 0.1")).unwrap();
    assert_eq!(p.rules[0].cap, Some(dec("0.1")));
}

#[test]
fn a_policy_directory_adds_and_overrides_presets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mini.toml"), MINIMAL).unwrap();
    let custom = PRESETS
        .iter()
        .find(|(f, _)| f.ends_with("town-2019.toml"))
        .unwrap()
        .1
        .replace("title = \"XX镇", "title = \"本镇");
    std::fs::write(dir.path().join("town-2019.toml"), custom).unwrap();
    let set = PolicySet::load(Some(dir.path())).unwrap();
    assert!(set.get("mini").is_some());
    assert!(set.get("town-2019").unwrap().title.starts_with("本镇"));
    assert!(set.get("xihu-2017").is_some());

    std::fs::write(dir.path().join("other.toml"), MINIMAL).unwrap();
    let e = PolicySet::load(Some(dir.path())).unwrap_err().to_string();
    assert!(e.contains("other.toml") && e.contains("mini.toml"), "{e}");

    std::fs::write(dir.path().join("other.toml"), "name = ").unwrap();
    let e = PolicySet::load(Some(dir.path())).unwrap_err().to_string();
    assert!(e.contains("other.toml:1:"), "{e}");
}

#[test]
fn a_calendar_directory_adds_years() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("2027.toml"),
        "year = 2027\nsource = \"test\"\n[[holiday]]\nname = \"元旦\"\nfrom = \"2027-01-01\"\nto = \"2027-01-03\"\n",
    )
    .unwrap();
    let c = Calendars::load(Some(dir.path())).unwrap();
    assert!(c.year(2027).is_some() && c.year(2026).is_some());
    let d = chrono::NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
    assert_eq!(
        c.day(d),
        DayInfo {
            working: false,
            known: true
        }
    );
}

// TW-7: `[rewards]` is read here only; the index it names carries it for the engine.
#[test]
fn tw_7_rewards_section_names_a_person_index_and_a_positive_cap() {
    let with = |section: &str| format!("{MINIMAL}\n[rewards]\n{section}\n");
    let p = parse_policy(
        "p.toml",
        &with("rule = \"TW-7\"\nindex = \"vanguard\"\nmin_score = 60\nyuan_per_point = 5"),
    )
    .unwrap();
    let r = p.rewards.clone().unwrap();
    assert_eq!((r.min_score, r.yuan_per_point), (dec("60"), Some(dec("5"))));
    assert!(r.earns(dec("60")) && !r.earns(dec("59.5")));
    assert_eq!(r.yuan_cap(dec("60")), Some(dec("300")));
    assert_eq!(p.indexes[0].reward.as_ref(), Some(&r));
    // No yuan_per_point: rewards without a yuan cap.
    let p = parse_policy(
        "p.toml",
        &with("rule = \"X\"\nindex = \"vanguard\"\nmin_score = 0"),
    )
    .unwrap();
    assert_eq!(p.rewards.unwrap().yuan_cap(dec("80")), None);
    // Without the section: no rewards.
    assert!(parse_policy("p.toml", MINIMAL).unwrap().rewards.is_none());
    let e = err(&with("rule = \"X\"\nindex = \"vangard\"\nmin_score = 60"));
    assert!(e.contains("rewards: index must name a person index"), "{e}");
    let e = err(&with(
        "rule = \"X\"\nindex = \"vanguard\"\nmin_score = 60\nyuan_per_point = 0",
    ));
    assert!(e.contains("yuan_per_point > 0"), "{e}");
    let e = err(&with("rule = \"X\"\nindex = \"vanguard\"\nmin = 60"));
    assert!(e.contains("unknown field `min`"), "{e}");
}

#[test]
fn tw_7_only_town_2019_ships_rewards() {
    for (file, text) in crate::policy::PRESETS {
        let p = parse_policy(file, text).unwrap();
        assert_eq!(p.rewards.is_some(), p.name == "town-2019", "{}", p.name);
    }
}
