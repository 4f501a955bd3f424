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

/// One HTTP/1.1 exchange on a fresh connection; the whole response text.
fn http(port: u16, request: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    s.write_all(request.as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// SIGTERM: no new connections, a request already in flight still gets its answer, and
/// the process exits cleanly (a scan's reply waits for its commit, so nothing answered
/// is lost).
#[test]
fn sigterm_lets_an_in_flight_request_finish_then_exits_cleanly() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = tempfile::tempdir().expect("dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut child = vanguard()
        .current_dir(dir.path())
        .env(
            "VANGUARD__DATABASE__URL",
            format!("sqlite://{}/vg.db?mode=rwc", dir.path().display()),
        )
        .env("VANGUARD__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("VANGUARD__LOG__LEVEL", "warn")
        .arg("serve")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(p) = line.split("initial admin password: ").nth(1) {
                let _ = tx.send(p.trim().to_owned());
            }
        }
    });
    let password = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("initial admin password printed");
    let mut up = false;
    for _ in 0..300 {
        if http(
            port,
            "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        )
        .is_ok_and(|r| r.starts_with("HTTP/1.1 200"))
        {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(up, "server answers /healthz");

    // Half a login request, then the signal, then the rest.
    let body = format!(r#"{{"username":"admin","password":"{password}"}}"#);
    let (head, tail) = body.split_at(body.len() / 2);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
        body.len()
    )
    .expect("send head");
    s.flush().expect("flush");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    std::thread::sleep(std::time::Duration::from_millis(300));
    s.write_all(tail.as_bytes()).expect("send tail");
    let mut reply = String::new();
    s.read_to_string(&mut reply).expect("reply");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("access_token"), "{reply}");

    let mut status = None;
    for _ in 0..600 {
        if let Some(st) = child.try_wait().expect("wait") {
            status = Some(st);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("the server did not stop after SIGTERM");
    };
    assert!(status.success(), "{status}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "no new connections after the stop"
    );
}
