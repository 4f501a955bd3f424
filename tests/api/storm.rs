//! Under load: two instances sharing one database and live store take a scan storm
//! (resends on the other instance, double scans) with no duplicate and no loss; the
//! live store down; `vanguard demo` and the load generator themselves.

use std::collections::HashMap;
use std::process::Command;

use futures_util::future::join_all;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use crate::helpers::{JWT_SECRET, TestApp, spawn_app, spawn_beside};

async fn current_scene(app: &TestApp, session: i64, token: &str) -> String {
    let r = app
        .get(&format!("/api/v1/sessions/{session}/qr"), token)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["scene"].as_str().expect("scene").to_owned()
}

/// (person, points) of every check-in fact of the activity, with the points its ledger
/// lines add up to.
async fn stored(app: &TestApp, activity: i64) -> Vec<(i64, rust_decimal::Decimal)> {
    let facts = entity::fact::Entity::find()
        .filter(entity::fact::Column::ActivityId.eq(activity))
        .filter(entity::fact::Column::Kind.eq("checkin"))
        .all(&app.state.db)
        .await
        .expect("facts");
    let mut out = Vec::new();
    for f in facts {
        let lines = entity::ledger_entry::Entity::find()
            .filter(entity::ledger_entry::Column::SourceKind.eq("fact"))
            .filter(entity::ledger_entry::Column::SourceId.eq(f.id))
            .all(&app.state.db)
            .await
            .expect("ledger");
        let points = lines
            .iter()
            .map(|l| l.points.parse::<rust_decimal::Decimal>().expect("decimal"))
            .sum();
        out.push((f.person_id.expect("person"), points));
    }
    out
}

/// XH-8.1: each of 40 members scans once on instance A while WeChat's resend of the same
/// event lands on instance B at the same moment and the member scans a second time on B:
/// one check-in each, +5 each, posted once.
#[tokio::test]
async fn xh_8_1_two_instances_take_a_scan_storm_with_no_duplicate_and_no_loss() {
    let a = spawn_app().await;
    let b = spawn_beside(&a).await;
    let demo = vanguard::demo::run(&a.state, 40, false)
        .await
        .expect("demo seeds");
    let scene = current_scene(&b, demo.session_id, &demo.admin_token).await;
    let now = chrono::Utc::now().timestamp();
    let scans = (1..=40).map(|n| {
        let openid = vanguard::demo::openid(n);
        let (a, b, scene) = (&a, &b, scene.clone());
        async move {
            let (first, resend, double) = tokio::join!(
                a.scan(&openid, &scene, now),
                b.scan(&openid, &scene, now),
                b.scan(&openid, &scene, now + 1),
            );
            (
                first.expect("reply"),
                resend.expect("reply"),
                double.expect("reply"),
            )
        }
    });
    let replies = join_all(scans).await;
    for (first, resend, double) in &replies {
        assert_eq!(
            first, resend,
            "a resend gets the same reply on any instance"
        );
        let counted = [first, double]
            .iter()
            .filter(|r| r.starts_with("签到成功"))
            .count();
        assert_eq!(
            counted, 1,
            "exactly one of the two scans counts: {first} / {double}"
        );
        let other = if first.starts_with("签到成功") {
            double
        } else {
            first
        };
        assert!(other.starts_with("您已签到过"), "{other}");
        let winner = if first.starts_with("签到成功") {
            first
        } else {
            double
        };
        assert!(winner.contains("+5 分"), "{winner}");
    }
    let facts = stored(&a, demo.activity_id).await;
    assert_eq!(facts.len(), 40, "none lost");
    let mut per_person: HashMap<i64, usize> = HashMap::new();
    for (p, points) in &facts {
        *per_person.entry(*p).or_default() += 1;
        assert_eq!(*points, rust_decimal::Decimal::from(5), "posted once, +5");
    }
    assert_eq!(per_person.len(), 40, "none twice");
}

/// With the live store unreachable (no reply cache, no in-flight markers, no nonces),
/// a scan, its resend and a double scan still record one check-in; the attendance the
/// projector reads comes from the database.
#[tokio::test]
async fn with_the_live_store_down_scans_are_still_recorded_once() {
    let app = spawn_app().await;
    let demo = vanguard::demo::run(&app.state, 3, false)
        .await
        .expect("demo seeds");
    let scene = current_scene(&app, demo.session_id, &demo.admin_token).await;
    let mut down = app.state.clone();
    down.live = std::sync::Arc::new(vanguard::store::down::DownStore);
    let now = chrono::Utc::now();
    let scan = |at: chrono::DateTime<chrono::Utc>, key: &str| vanguard::checkin::scan::Scan {
        openid: vanguard::demo::openid(1),
        scene: scene.clone(),
        at,
        received_at: chrono::Utc::now(),
        event_key: key.to_owned(),
    };
    let (_, first) = vanguard::checkin::scan::handle(&down, &scan(now, "e1"))
        .await
        .expect("handled");
    let (_, resend) = vanguard::checkin::scan::handle(&down, &scan(now, "e1"))
        .await
        .expect("handled");
    let (_, double) =
        vanguard::checkin::scan::handle(&down, &scan(now + chrono::Duration::seconds(2), "e2"))
            .await
            .expect("handled");
    assert!(
        first.starts_with("签到成功") && first.contains("+5 分"),
        "{first}"
    );
    assert_eq!(resend, first);
    assert!(double.starts_with("您已签到过"), "{double}");
    assert_eq!(stored(&app, demo.activity_id).await.len(), 1);
    let r = app
        .get(
            &format!("/api/v1/sessions/{}/attendance", demo.session_id),
            &demo.admin_token,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["counts"]["on_time"], 1, "{}", r.text);
    assert_eq!(r.body["counts"]["missing"], 2, "{}", r.text);
}

/// The load generator sends signed scans with resends and double scans mixed in and
/// checks what was stored; on a healthy server its report says nothing was lost or doubled.
#[tokio::test]
async fn the_load_generator_finds_every_scan_stored_once() {
    let app = spawn_app().await;
    let demo = vanguard::demo::run(&app.state, 30, false)
        .await
        .expect("demo seeds");
    let report = vanguard::loadtest::run(
        &app.state,
        vanguard::loadtest::Options {
            urls: vec![app.address.clone()],
            session_id: demo.session_id,
            admin_token: demo.admin_token.clone(),
            members: 30,
            concurrency: 6,
            resend_percent: 30,
            double_percent: 30,
            retries: 0,
            retry_delay: std::time::Duration::ZERO,
        },
    )
    .await
    .expect("load test runs");
    assert!(report.ok(), "{report}");
    assert_eq!(report.stored_checkins, 30);
    assert_eq!(report.counted_replies, 30);
    assert!(report.resends > 0 && report.double_scans > 0, "{report}");
    assert_eq!(report.requests, 30 + report.resends + report.double_scans);

    // Run again on the same session (a second later, so these are new WeChat events, not
    // resends): every scan is now "already checked in", and the report says so.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let again = vanguard::loadtest::run(
        &app.state,
        vanguard::loadtest::Options {
            urls: vec![app.address.clone()],
            session_id: demo.session_id,
            admin_token: demo.admin_token,
            members: 30,
            concurrency: 6,
            resend_percent: 0,
            double_percent: 0,
            retries: 0,
            retry_delay: std::time::Duration::ZERO,
        },
    )
    .await
    .expect("load test runs");
    assert!(!again.ok());
    assert_eq!(again.counted_replies, 0);
    assert_eq!(again.stored_checkins, 30, "{again}");
    assert_eq!(again.duplicated, 0);
}

/// The chaos mode's accounting on a healthy instance: every member acknowledged, each
/// with one stored check-in; nothing waits for a retry.
#[tokio::test]
async fn the_chaos_load_generator_accounts_for_every_member() {
    let app = spawn_app().await;
    let demo = vanguard::demo::run(&app.state, 20, false)
        .await
        .expect("demo seeds");
    let report = vanguard::loadtest::run(
        &app.state,
        vanguard::loadtest::Options {
            urls: vec![app.address.clone()],
            session_id: demo.session_id,
            admin_token: demo.admin_token.clone(),
            members: 20,
            concurrency: 4,
            resend_percent: 20,
            double_percent: 20,
            retries: 3,
            retry_delay: std::time::Duration::from_millis(50),
        },
    )
    .await
    .expect("load test runs");
    assert!(report.ok(), "{report}");
    let chaos = report.chaos.as_ref().expect("chaos counts");
    assert_eq!(chaos.acknowledged, 20, "{report}");
    assert_eq!(chaos.acknowledged_lost, 0);
    assert_eq!(chaos.unacknowledged_none + chaos.unacknowledged_stored, 0);
    assert_eq!(report.stored_checkins, 20);
    assert_eq!(report.duplicated, 0);
}

fn vanguard_cli(db_url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vanguard"));
    for (k, _) in std::env::vars() {
        if k.starts_with("VANGUARD__") {
            c.env_remove(k);
        }
    }
    c.env("VANGUARD__DATABASE__URL", db_url)
        .env("VANGUARD__AUTH__JWT_SECRET", JWT_SECRET)
        .env("VANGUARD__LOG__LEVEL", "warn");
    c
}

/// `vanguard demo` beside a running server: one JSON object with the five keys; the
/// session takes scans at once; a database holding other organizations is refused
/// unless --force.
#[tokio::test]
async fn demo_seeds_a_branch_beside_a_running_server() {
    let app = spawn_app().await;
    let db_url = app
        .settings_toml
        .lines()
        .find_map(|l| l.strip_prefix("url = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("database url")
        .to_owned();
    let out = tokio::task::spawn_blocking({
        let db_url = db_url.clone();
        move || {
            vanguard_cli(&db_url)
                .args(["demo", "--members", "5"])
                .output()
                .expect("runs")
        }
    })
    .await
    .expect("joined");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.trim().lines().count(), 1, "{stdout}");
    let v: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    let mut keys: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "activity_id",
            "admin_token",
            "console_password",
            "console_url",
            "console_username",
            "forms",
            "projector_url",
            "session_id",
            "simulator_url"
        ]
    );
    // The official forms' organizations and their own login (reports::forms).
    assert_eq!(v["forms"]["console_username"], "demo-forms");
    assert_eq!(v["forms"]["branch_ids"].as_array().map(Vec::len), Some(2));
    let session = v["session_id"].as_i64().expect("session");
    let token = v["admin_token"].as_str().expect("token");
    assert!(
        v["projector_url"]
            .as_str()
            .expect("url")
            .ends_with(&format!("/projector/{session}"))
    );
    // The running server accepts the demo's token and its members' scans at once.
    let scene = current_scene(&app, session, token).await;
    let reply = app
        .scan("demo-0000003", &scene, chrono::Utc::now().timestamp())
        .await
        .expect("reply");
    assert!(reply.starts_with("签到成功"), "{reply}");
    assert!(reply.contains("演示主题党日"), "{reply}");

    // A second run adds a session, not members.
    let people_before = entity::person::Entity::find()
        .all(&app.state.db)
        .await
        .expect("people")
        .len();
    let again = vanguard::demo::run(&app.state, 5, false)
        .await
        .expect("again");
    assert_ne!(again.session_id, session);
    let people_after = entity::person::Entity::find()
        .all(&app.state.db)
        .await
        .expect("people")
        .len();
    assert_eq!(people_before, people_after);

    // Another organization in the database: refused without --force, changing nothing.
    let admin = app.admin_token().await;
    app.org(&admin, "REAL", "committee", None).await;
    let out = tokio::task::spawn_blocking(move || {
        vanguard_cli(&db_url)
            .args(["demo", "--members", "8"])
            .output()
            .expect("runs")
    })
    .await
    .expect("joined");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--force"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let people_now = entity::person::Entity::find()
        .all(&app.state.db)
        .await
        .expect("people")
        .len();
    assert_eq!(people_now, people_after, "a refused demo changes nothing");
    let forced = vanguard::demo::run(&app.state, 8, true)
        .await
        .expect("forced");
    assert!(forced.session_id > again.session_id);
}

/// Attendance pages: every expected person exactly once across the pages; the pages after
/// the first read the first page's snapshot (consistent counts while paging), and a new
/// listing sees the latest scans.
#[tokio::test]
async fn attendance_pages_cover_everyone_once_from_one_snapshot() {
    let app = spawn_app().await;
    let demo = vanguard::demo::run(&app.state, 450, false)
        .await
        .expect("demo seeds");
    let path = format!("/api/v1/sessions/{}/attendance", demo.session_id);
    let scene = current_scene(&app, demo.session_id, &demo.admin_token).await;
    let now = chrono::Utc::now().timestamp();
    for n in 1..=3 {
        let r = app
            .scan(&vanguard::demo::openid(n), &scene, now)
            .await
            .expect("reply");
        assert!(r.starts_with("签到成功"), "{r}");
    }
    let first = app
        .get(&format!("{path}?limit=200"), &demo.admin_token)
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.body["counts"]["on_time"], 3);
    assert_eq!(first.body["counts"]["missing"], 447);
    // Someone scans while the secretary pages on.
    app.scan(&vanguard::demo::openid(400), &scene, now)
        .await
        .expect("reply");
    let mut seen = std::collections::HashSet::new();
    let mut page = first;
    loop {
        assert_eq!(
            page.body["counts"]["on_time"], 3,
            "one snapshot while paging"
        );
        for item in page.body["items"].as_array().expect("items") {
            assert!(
                seen.insert(item["person_id"].as_i64().expect("id")),
                "listed once"
            );
        }
        let Some(next) = page.body["next"].as_i64() else {
            break;
        };
        page = app
            .get(&format!("{path}?limit=200&after={next}"), &demo.admin_token)
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    }
    assert_eq!(seen.len(), 450);
    let fresh = app.get(&path, &demo.admin_token).await;
    assert_eq!(
        fresh.body["counts"]["on_time"], 4,
        "a new listing is current"
    );
}
