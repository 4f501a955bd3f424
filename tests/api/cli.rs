//! The binary itself: settings errors, migrations from two processes at once.

use std::process::Command;

use crate::helpers::{fresh_database, load, spawn_app};

fn vanguard() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vanguard"));
    for (k, _) in std::env::vars() {
        if k.starts_with("VANGUARD__") {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn an_invalid_setting_stops_start_up_with_one_line_naming_the_key() {
    let out = vanguard()
        .env("VANGUARD__SERVER__LISTEN", "not-an-address")
        .arg("migrate")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.starts_with("configuration error: server.listen:"),
        "{err}"
    );

    let out = vanguard()
        .env("VANGUARD__LIVE__BACKEND", "redis")
        .arg("migrate")
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("configuration error: live.redis_url:"),
        "{err}"
    );

    let out = vanguard()
        .env("VANGUARD__DATABASE__URL", "mysql://root:s3cret@db/x")
        .arg("migrate")
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("configuration error: database.url:") && !err.contains("s3cret"),
        "{err}"
    );
}

#[tokio::test]
async fn two_instances_migrating_one_fresh_database_at_once_both_start() {
    let dir = tempfile::tempdir().expect("dir");
    let url = fresh_database(dir.path()).await;
    let toml = format!("[database]\nurl = \"{url}\"\n");
    let (a, b) = tokio::join!(
        vanguard::startup::build_state(load(&[&toml]), String::new()),
        vanguard::startup::build_state(load(&[&toml]), String::new()),
    );
    let a = a.expect("first instance");
    b.expect("second instance");
    let (x, y) = tokio::join!(
        vanguard::auth::service::ensure_initial_admin(&a),
        vanguard::auth::service::ensure_initial_admin(&a),
    );
    let created = [x.expect("x"), y.expect("y")].into_iter().flatten().count();
    assert_eq!(created, 1, "exactly one initial admin");
}

#[tokio::test]
async fn cli_imports_a_roster_file_with_dry_run_and_for_real() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let c = app.org(&admin, "C", "committee", None).await;
    app.org(&admin, "ZB001", "branch", Some(c)).await;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("roster.csv");
    std::fs::write(&file, "姓名,手机号,支部编码,类别,编号\n张三,13800138001,ZB001,正式党员,P1\n李四,999,ZB001,正式党员,\n").expect("write");
    let config = dir.path().join("vanguard.toml");
    std::fs::write(&config, &app.settings_toml).expect("write");
    let out = vanguard()
        .arg("--config")
        .arg(&config)
        .args(["import", "roster"])
        .arg(&file)
        .arg("--dry-run")
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("第 3 行 手机号"), "{err}");
    std::fs::write(
        &file,
        "姓名,手机号,支部编码,类别,编号\n张三,13800138001,ZB001,正式党员,P1\n",
    )
    .expect("write");
    let out = vanguard()
        .arg("--config")
        .arg(&config)
        .args(["import", "roster"])
        .arg(&file)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(report["created"], 1);
    let people = app.get("/api/v1/people", &admin).await;
    assert_eq!(
        people.body["items"][0]["name"], "张三",
        "the running server sees what the CLI wrote"
    );
}
