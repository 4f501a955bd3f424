//! The engine over a year already in memory (issue 4: 100,000 members and
//! 3 million facts in under 10 s on one core), and `vanguard score`'s path end
//! to end on a 10,000-member, 300,000-fact scenario file (under 30 s).
//!
//! `cargo bench --bench engine`; set `VG_BENCH_SMALL=1` for a quick run.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use vanguard::policy::{Calendars, Context, PolicySet, evaluate_year};
use vanguard::score::{generate_scenario, generate_year, load_scenario};

fn sizes() -> ((usize, usize), (usize, usize)) {
    if std::env::var_os("VG_BENCH_SMALL").is_some() {
        ((10_000, 300_000), (1_000, 30_000))
    } else {
        ((100_000, 3_000_000), (10_000, 300_000))
    }
}

fn engine(c: &mut Criterion) {
    let ((members, facts), (file_members, file_facts)) = sizes();
    let policies = PolicySet::builtin().expect("presets load");
    let policy = policies.get("xihu-2017").expect("xihu-2017");
    let calendars = Calendars::builtin().expect("calendars load");
    let ctx = Context {
        policy: &policy,
        calendars: &calendars,
        year: 2026,
        year_end: true,
    };

    let data = generate_year(members, facts, 2026);
    let mut g = c.benchmark_group("engine");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(30));
    g.bench_function(
        format!("evaluate_year/{members}_members/{facts}_facts"),
        |b| b.iter(|| black_box(evaluate_year(&ctx, black_box(&data)))),
    );
    g.finish();
    drop(data);

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scenario.json");
    std::fs::write(&path, generate_scenario(file_members, file_facts, 2026))
        .expect("write scenario");
    // What `vanguard score FILE` runs: parse and validate, then the services path (a fresh
    // in-memory SQLite store, roster import, activities, facts, year-end replay).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("score");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));
    g.bench_function(
        format!("vanguard_score/{file_members}_members/{file_facts}_facts"),
        |b| {
            b.iter(|| {
                let scenario = load_scenario(black_box(&path), None, None).expect("valid");
                let out = runtime
                    .block_on(vanguard::ledger::scenario::score(&scenario))
                    .expect("scores");
                black_box(out.to_json())
            })
        },
    );
    g.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
