//! Writes a generated xihu-2017 scenario for timing `vanguard score`:
//! `cargo run --release --example gen_scenario -- 10000 300000 /tmp/scenario.json [seed]`

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = (|| -> Option<(usize, usize, String, u64)> {
        let members = args.first()?.parse().ok()?;
        let facts = args.get(1)?.parse().ok()?;
        let path = args.get(2)?.clone();
        let seed = args.get(3).map_or(Some(2026), |s| s.parse().ok())?;
        Some((members, facts, path, seed))
    })();
    let Some((members, facts, path, seed)) = parsed else {
        eprintln!("usage: gen_scenario MEMBERS FACTS OUT.json [SEED]");
        return ExitCode::from(2);
    };
    let text = vanguard::score::generate_scenario(members, facts, seed);
    if let Err(e) = std::fs::write(&path, text) {
        eprintln!("{path}: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!("wrote {path}: {members} members, {facts} facts (seed {seed})");
    ExitCode::SUCCESS
}
