//! Issue 13, findings 1 and 2, against the real binary started with the shipped
//! configuration files (`config/production.toml`, the embedded default), over HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::EntityTrait;
use secrecy::SecretString;
use vanguard::wechat::settings::WechatSettings;
use vanguard::wechat::signature::sign;
use vanguard::wechat::{OpenId, xml};

use crate::helpers::fresh_database;

const PRODUCTION: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/production.toml");
const APP_ID: &str = "wxvanguardtest01";
const TOKEN: &str = "testtoken123";
const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

/// `vanguard` with no VANGUARD__ variables inherited from the test's environment.
fn vanguard() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vanguard"));
    for (k, _) in std::env::vars() {
        if k.starts_with("VANGUARD__") {
            c.env_remove(k);
        }
    }
    c
}

fn free_port(host: &str) -> u16 {
    std::net::TcpListener::bind((host, 0))
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Database and live store of this run (PostgreSQL + Redis when the suite runs on them),
/// as environment variables over whatever the configuration file says.
async fn backend_env(dir: &std::path::Path) -> (String, Vec<(String, String)>) {
    let db = fresh_database(dir).await;
    let mut env = vec![
        ("VANGUARD__DATABASE__URL".to_owned(), db.clone()),
        ("VANGUARD__LOG__LEVEL".to_owned(), "warn".to_owned()),
    ];
    match std::env::var("VANGUARD_TEST_REDIS_URL") {
        Ok(url) => {
            env.push(("VANGUARD__LIVE__BACKEND".into(), "redis".into()));
            env.push(("VANGUARD__LIVE__REDIS_URL".into(), url));
            env.push((
                "VANGUARD__LIVE__KEY_PREFIX".into(),
                format!("vgt:{}:", uuid::Uuid::new_v4().simple()),
            ));
        }
        Err(_) => env.push(("VANGUARD__LIVE__BACKEND".into(), "memory".into())),
    }
    (db, env)
}

/// A `vanguard serve` process, killed when dropped.
struct Server {
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
}

enum Started {
    /// Answers /healthz on this port.
    Up(Server),
    /// Exited; its stderr.
    Refused(String),
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(
    config: Option<&str>,
    env: &[(String, String)],
    port: u16,
    dir: &std::path::Path,
) -> Started {
    let mut cmd = vanguard();
    cmd.current_dir(dir);
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    let child = cmd
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .arg("serve")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("starts");
    let mut server = Server {
        child,
        stderr: Arc::default(),
    };
    let pipe = server.child.stderr.take().expect("stderr");
    let lines = server.stderr.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            lines.lock().expect("lock").push(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        if let Some(_status) = server.child.try_wait().expect("wait") {
            // Let the reader thread drain the pipe.
            tokio::time::sleep(Duration::from_millis(200)).await;
            return Started::Refused(server.stderr.lock().expect("lock").join("\n"));
        }
        if get(port, "/healthz").await.is_ok_and(|(s, _)| s == 200) {
            return Started::Up(server);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("vanguard neither served nor exited within 90 s");
}

async fn request(req: reqwest::RequestBuilder) -> reqwest::Result<(u16, String)> {
    let res = req.timeout(Duration::from_secs(30)).send().await?;
    let status = res.status().as_u16();
    Ok((status, res.text().await?))
}

fn client() -> reqwest::Client {
    vanguard::wechat::install_tls_provider();
    reqwest::Client::new()
}

async fn get(port: u16, path: &str) -> reqwest::Result<(u16, String)> {
    request(client().get(format!("http://127.0.0.1:{port}{path}"))).await
}

/// A one-line refusal naming `key`, and nothing else on stderr.
fn assert_one_line_refusal(stderr: &str, key: &str) {
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with(&format!("configuration error: {key}:")),
        "names {key}: {stderr}"
    );
}

/// Finding 2 (issue 13), the hurried operator: `config/production.toml` on 0.0.0.0 with
/// the WeChat settings left out must not serve a sandbox where anyone can sign in as
/// any member; start-up refuses with one line saying why.
#[tokio::test]
async fn sandbox_does_not_turn_on_by_itself_under_the_production_config() {
    let dir = tempfile::tempdir().expect("dir");
    let (_, mut env) = backend_env(dir.path()).await;
    let port = free_port("0.0.0.0");
    env.push(("VANGUARD__SERVER__LISTEN".into(), format!("0.0.0.0:{port}")));
    match start(Some(PRODUCTION), &env, port, dir.path()).await {
        Started::Up(_server) => {
            let phone = get(port, "/sandbox/phone").await.map(|(s, _)| s);
            panic!(
                "production.toml without wechat settings started on 0.0.0.0:{port}; \
                 /sandbox/phone answered {phone:?}"
            );
        }
        Started::Refused(stderr) => {
            assert_one_line_refusal(&stderr, "wechat.app_id");
            assert!(
                stderr.contains("wechat.sandbox = true"),
                "says how: {stderr}"
            );
        }
    }
}

/// The hurried operator again: `config/production.toml` with its `public_url` line left
/// out and a real account. WeChat's redirect_uri must not come from a request's Host
/// header, so start-up refuses with one line naming the setting.
#[tokio::test]
async fn production_config_without_public_url_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let shipped = std::fs::read_to_string(PRODUCTION).expect("production.toml");
    let cut: String = shipped
        .lines()
        .filter(|l| !l.starts_with("public_url"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(cut, shipped, "the shipped file sets public_url");
    let config = dir.path().join("production.toml");
    std::fs::write(&config, cut).expect("write");
    let (_, mut env) = backend_env(dir.path()).await;
    let port = free_port("127.0.0.1");
    env.extend(
        [
            ("VANGUARD__SERVER__LISTEN", format!("127.0.0.1:{port}")),
            ("VANGUARD__WECHAT__APP_ID", APP_ID.into()),
            ("VANGUARD__WECHAT__APP_SECRET", "test-secret".into()),
            ("VANGUARD__WECHAT__TOKEN", TOKEN.into()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    let path = config.to_str().expect("utf-8 path").to_owned();
    match start(Some(&path), &env, port, dir.path()).await {
        Started::Up(_) => panic!("started without server.public_url"),
        Started::Refused(stderr) => assert_one_line_refusal(&stderr, "server.public_url"),
    }
}

/// Finding 2: a sandbox asked for on a public address is refused unless a second setting
/// allows it (under production.toml and under the embedded default alike); allowed, it serves.
#[tokio::test]
async fn sandbox_on_a_public_address_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().expect("dir");
    let (_, base) = backend_env(dir.path()).await;
    let port = free_port("0.0.0.0");
    let mut env = base.clone();
    env.push(("VANGUARD__SERVER__LISTEN".into(), format!("0.0.0.0:{port}")));
    env.push(("VANGUARD__WECHAT__SANDBOX".into(), "true".into()));
    for config in [Some(PRODUCTION), None] {
        match start(config, &env, port, dir.path()).await {
            Started::Up(_) => panic!("{config:?}: a sandbox on 0.0.0.0 started"),
            Started::Refused(stderr) => {
                assert_one_line_refusal(&stderr, "wechat.sandbox");
                assert!(stderr.contains("sandbox_allow_public"), "{stderr}");
            }
        }
    }
    env.push((
        "VANGUARD__WECHAT__SANDBOX_ALLOW_PUBLIC".into(),
        "true".into(),
    ));
    let Started::Up(_server) = start(Some(PRODUCTION), &env, port, dir.path()).await else {
        panic!("allowed on purpose, the public sandbox starts");
    };
    assert_eq!(get(port, "/sandbox/phone").await.expect("phone").0, 200);
}

/// Finding 1 (issue 13): with `encoding_aes_key` set (and no message_mode: safe), a
/// plaintext push carrying only signature/timestamp/nonce is refused and checks nobody
/// in; the same scan sealed as WeChat seals it in safe mode is counted. The binary runs
/// on `config/production.toml` with the account's settings in the environment.
#[tokio::test]
async fn safe_mode_refuses_plaintext_push() {
    let dir = tempfile::tempdir().expect("dir");
    let (db_url, mut env) = backend_env(dir.path()).await;
    let port = free_port("127.0.0.1");
    env.extend(
        [
            ("VANGUARD__SERVER__LISTEN", format!("127.0.0.1:{port}")),
            (
                "VANGUARD__SERVER__PUBLIC_URL",
                format!("http://127.0.0.1:{port}"),
            ),
            ("VANGUARD__CHECKIN__SLOT_SECONDS", "600".into()),
            ("VANGUARD__WECHAT__APP_ID", APP_ID.into()),
            ("VANGUARD__WECHAT__APP_SECRET", "test-secret".into()),
            ("VANGUARD__WECHAT__TOKEN", TOKEN.into()),
            ("VANGUARD__WECHAT__ENCODING_AES_KEY", KEY.into()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    let Started::Up(_server) = start(Some(PRODUCTION), &env, port, dir.path()).await else {
        panic!("production.toml with the account's settings starts");
    };
    assert_eq!(
        get(port, "/sandbox/phone").await.expect("phone").0,
        404,
        "no sandbox with a real account"
    );
    // Two bound members and an open session, made by the operator's own command.
    let demo = vanguard()
        .current_dir(dir.path())
        .arg("--config")
        .arg(PRODUCTION)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(["demo", "--members", "2"])
        .output()
        .expect("demo runs");
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let demo: serde_json::Value = serde_json::from_slice(&demo.stdout).expect("demo json");
    let session = demo["session_id"].as_i64().expect("session");
    let admin = demo["admin_token"].as_str().expect("token").to_owned();
    let db = sea_orm::Database::connect(&db_url).await.expect("db");
    let secret = entity::checkin_session::Entity::find_by_id(session)
        .one(&db)
        .await
        .expect("read")
        .expect("session row")
        .secret;
    db.close().await.ok();
    let now = chrono::Utc::now().timestamp();
    let scene =
        vanguard::checkin::qr::payload(&secret, session, vanguard::checkin::qr::slot_at(now, 600));
    let scan = |openid: &str| {
        xml::push_document(&[
            ("ToUserName", "gh_vanguardtest"),
            ("FromUserName", openid),
            ("CreateTime", &now.to_string()),
            ("MsgType", "event"),
            ("Event", "SCAN"),
            ("EventKey", &scene),
            ("Ticket", "TICKET"),
        ])
    };
    let client = client();
    let counted = || async {
        let (status, body) = request(
            client
                .get(format!(
                    "http://127.0.0.1:{port}/api/v1/sessions/{session}/attendance"
                ))
                .bearer_auth(&admin),
        )
        .await
        .expect("attendance");
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        v["counts"]["on_time"].as_i64().unwrap_or(0) + v["counts"]["late"].as_i64().unwrap_or(0)
    };

    // Plaintext: the triple any proxy log shows, and a body of the sender's choosing.
    let nonce = "424242";
    let sig = sign(&[TOKEN, &now.to_string(), nonce]);
    let (status, body) = request(
        client
            .post(format!(
                "http://127.0.0.1:{port}/wechat/callback?signature={sig}&timestamp={now}&nonce={nonce}"
            ))
            .body(scan("demo-0000001")),
    )
    .await
    .expect("push");
    assert_eq!(
        (status, body.as_str()),
        (403, "plaintext_refused"),
        "a plaintext push in safe mode: {status} {body}"
    );
    assert_eq!(counted().await, 0, "the refused push checked nobody in");

    // Sealed as WeChat seals it in safe mode: counted.
    let cfg = WechatSettings {
        app_id: Some(APP_ID.into()),
        app_secret: Some(SecretString::from("test-secret")),
        token: Some(SecretString::from(TOKEN)),
        encoding_aes_key: Some(SecretString::from(KEY)),
        ..Default::default()
    }
    .resolve(SecretString::from(TOKEN), "http://127.0.0.1:1")
    .expect("settings");
    let openid = OpenId::parse("demo-0000002").expect("openid");
    let (query, body) =
        vanguard::wechat::sandbox::simulated_push(&cfg, &scan("demo-0000002"), &openid, now);
    let (status, reply) = request(
        client
            .post(format!("http://127.0.0.1:{port}/wechat/callback?{query}"))
            .body(body),
    )
    .await
    .expect("push");
    assert_eq!(status, 200, "{reply}");
    let text = vanguard::wechat::sandbox::read_reply(&cfg, &reply).expect("sealed reply");
    assert!(
        text.as_deref().unwrap_or_default().contains("签到成功"),
        "{text:?}"
    );
    assert_eq!(counted().await, 1);
}
