//! Every `tests/scenarios/*.json` must score exactly to its `*.expected.json`
//! (copies of ../shared/scenarios; FORMAT.md defines both).

use std::path::Path;

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
        let output = vanguard::score::score_file(&input, None, None)
            .unwrap_or_else(|e| panic!("{}: {e}", input.display()));
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
