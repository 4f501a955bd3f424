//! spawn_app(): a fresh server per test on a fresh database (SQLite by default;
//! PostgreSQL and Redis when VANGUARD_TEST_DATABASE_URL / VANGUARD_TEST_REDIS_URL
//! are set: then an unreachable service fails the test instead of skipping it).

use std::sync::LazyLock;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use vanguard::config::{Settings, Sources};
use vanguard::startup::Application;
use vanguard::state::AppState;

pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdef0123456789";

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var("TEST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt().with_env_filter("info").try_init();
    }
});

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub admin_password: String,
    pub state: AppState,
    pub settings_toml: String,
    /// The test's own settings over `settings_toml` (a second instance takes both).
    pub extra_toml: String,
    _dir: tempfile::TempDir,
}

pub struct Spawn {
    /// Extra TOML applied after the test settings.
    pub extra: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Spawn {
        extra: String::new(),
    })
    .await
}

/// A database URL for a fresh database, and the TOML to use it.
pub async fn fresh_database(dir: &std::path::Path) -> String {
    match std::env::var("VANGUARD_TEST_DATABASE_URL") {
        Ok(admin_url) => {
            use sea_orm::ConnectionTrait;
            let name = format!("vg_test_{}", uuid::Uuid::new_v4().simple());
            let admin = sea_orm::Database::connect(&admin_url)
                .await
                .expect("VANGUARD_TEST_DATABASE_URL is set but PostgreSQL is unreachable");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            admin.close().await.ok();
            // Same server and options (e.g. `?sslmode=disable`), another database.
            let (path, query) = admin_url
                .split_once('?')
                .map_or((admin_url.as_str(), None), |(p, q)| (p, Some(q)));
            let base = path.rsplit_once('/').map_or(path, |(b, _)| b);
            match query {
                Some(q) => format!("{base}/{name}?{q}"),
                None => format!("{base}/{name}"),
            }
        }
        Err(_) => format!("sqlite://{}/vanguard.db?mode=rwc", dir.display()),
    }
}

pub fn live_toml() -> String {
    match std::env::var("VANGUARD_TEST_REDIS_URL") {
        Ok(url) => format!(
            "[live]\nbackend = \"redis\"\nredis_url = \"{url}\"\nkey_prefix = \"vgt:{}:\"\n",
            uuid::Uuid::new_v4().simple()
        ),
        Err(_) => String::new(),
    }
}

pub async fn spawn_app_with(spawn: Spawn) -> TestApp {
    LazyLock::force(&TRACING);
    let dir = tempfile::tempdir().expect("tempdir");
    let db_url = fresh_database(dir.path()).await;
    let settings_toml = format!(
        "[database]\nurl = \"{db_url}\"\nmax_connections = 8\n[auth]\njwt_secret = \"{JWT_SECRET}\"\n{}",
        live_toml()
    );
    let settings = load(&[&settings_toml, &spawn.extra]);
    let app = Application::build(settings)
        .await
        .expect("application builds");
    let port = app.port();
    let state = app.state.clone();
    let admin_password = app
        .initial_admin_password
        .clone()
        .expect("a fresh database creates the initial admin");
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: test_client(),
        admin_password,
        state,
        settings_toml,
        extra_toml: spawn.extra.clone(),
        _dir: dir,
    }
}

/// A second instance beside `app`: the same database and live store, its own process state.
pub async fn spawn_beside(app: &TestApp) -> TestApp {
    let settings = load(&[&app.settings_toml, &app.extra_toml]);
    let built = Application::build(settings)
        .await
        .expect("second instance builds");
    let port = built.port();
    let state = built.state.clone();
    tokio::spawn(built.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: test_client(),
        admin_password: app.admin_password.clone(),
        state,
        settings_toml: app.settings_toml.clone(),
        extra_toml: app.extra_toml.clone(),
        _dir: tempfile::tempdir().expect("tempdir"),
    }
}

fn test_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub fn load(tomls: &[&str]) -> Settings {
    Settings::load_from(Sources {
        file: Some(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/test.toml"
        ))),
        overrides: tomls,
        env: false,
    })
    .expect("test settings load")
}

pub struct Response {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl TestApp {
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.address, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        Response {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
            headers,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::POST, path, Some(token), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn post_bytes(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Response {
        let res = self
            .client
            .post(format!("{}{}", self.address, path))
            .bearer_auth(token)
            .header("Content-Type", content_type)
            .body(bytes)
            .send()
            .await
            .expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        Response {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
            headers,
        }
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": username, "password": password})),
        )
        .await
    }

    pub async fn token(&self, username: &str, password: &str) -> String {
        let r = self.login(username, password).await;
        assert_eq!(r.status, StatusCode::OK, "login {username}: {}", r.text);
        r.body["access_token"]
            .as_str()
            .expect("access token")
            .to_owned()
    }

    pub async fn admin_token(&self) -> String {
        self.token("admin", &self.admin_password).await
    }

    /// Creates an organization as `token`, returning its id.
    pub async fn org(&self, token: &str, code: &str, kind: &str, parent: Option<i64>) -> i64 {
        let r = self
            .post(
                "/api/v1/orgs",
                token,
                json!({"name": format!("{code} 组织"), "code": code, "kind": kind, "parent_id": parent}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "create org {code}: {}",
            r.text
        );
        r.body["id"].as_i64().expect("org id")
    }

    /// Creates an account and returns (id, token).
    pub async fn account(
        &self,
        token: &str,
        username: &str,
        role: &str,
        org: Option<i64>,
    ) -> (i64, String) {
        let password = "Passw0rd-for-tests";
        let r = self
            .post(
                "/api/v1/accounts",
                token,
                json!({"username": username, "role": role, "org_id": org, "password": password}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "create account {username}: {}",
            r.text
        );
        let id = r.body["account"]["id"].as_i64().expect("account id");
        (id, self.token(username, password).await)
    }

    /// An account the HTTP API does not let admins create (security admin), made as the operator would.
    pub async fn operator_account(
        &self,
        username: &str,
        role: vanguard::auth::Role,
        org: Option<i64>,
    ) -> String {
        let password = "Passw0rd-for-tests";
        vanguard::auth::service::create_account(
            &self.state,
            &vanguard::audit::Actor::cli(),
            None,
            vanguard::auth::service::NewAccount {
                username: username.to_owned(),
                display_name: None,
                password: Some(password.to_owned()),
                role,
                org_id: org.map(vanguard::ids::OrgId),
            },
        )
        .await
        .expect("operator creates account");
        self.token(username, password).await
    }

    pub async fn person(&self, token: &str, name: &str, phone: &str, org: i64, role: &str) -> i64 {
        let r = self
            .post(
                "/api/v1/people",
                token,
                json!({"name": name, "phone": phone, "org_id": org, "role": role}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "create person {name}: {}",
            r.text
        );
        r.body["id"].as_i64().expect("person id")
    }
}

impl TestApp {
    /// Sends a `SCAN` push exactly as WeChat would (signed; sealed in safe mode)
    /// and returns the reply text (`None` for `success`).
    pub async fn scan(&self, openid: &str, scene: &str, create_time: i64) -> Option<String> {
        self.push_event(openid, "SCAN", scene, create_time).await
    }

    pub async fn push_event(
        &self,
        openid: &str,
        event: &str,
        key: &str,
        create_time: i64,
    ) -> Option<String> {
        let cfg = &self.state.wechat;
        let ct = create_time.to_string();
        let doc = vanguard::wechat::xml::push_document(&[
            ("ToUserName", "gh_sandbox"),
            ("FromUserName", openid),
            ("CreateTime", &ct),
            ("MsgType", "event"),
            ("Event", event),
            ("EventKey", key),
        ]);
        let oid = vanguard::wechat::OpenId::parse(openid).expect("openid");
        let (query, body) = vanguard::wechat::sandbox::simulated_push(
            cfg,
            &doc,
            &oid,
            chrono::Utc::now().timestamp(),
        );
        let res = self
            .client
            .post(format!("{}/wechat/callback?{query}", self.address))
            .header("Content-Type", "text/xml")
            .body(body)
            .send()
            .await
            .expect("push sent");
        assert_eq!(res.status(), StatusCode::OK, "callback refused the push");
        let text = res.text().await.expect("body");
        vanguard::wechat::sandbox::read_reply(cfg, &text).expect("reply readable")
    }

    /// Binds an openid to a person as the WeChat binding page would.
    pub async fn bind(&self, person: i64, openid: &str) {
        use vanguard::wechat::MemberDirectory;
        let p = vanguard::org::people::find(&self.state.db, vanguard::ids::PersonId(person))
            .await
            .expect("person");
        let dir = vanguard::checkin::members::Directory {
            state: self.state.clone(),
        };
        dir.bind(
            &vanguard::wechat::OpenId::parse(openid).expect("openid"),
            &p.name,
            p.phone.as_deref().unwrap_or_default(),
        )
        .await
        .expect("bind");
    }
}

impl TestApp {
    /// For tests about something else than publicity: the year's last period of `org`
    /// published and confirmed (核定), as a year close under a policy with publicity needs
    /// (TW-6, SD-5, EQ-4). `tests/api/publicity.rs` walks the real flow.
    pub async fn confirmed_year_publicity(&self, org: i64, year: i32) {
        use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, EntityTrait};
        let now = chrono::Utc::now();
        for (period, n) in [
            ("year", None),
            ("half_year", Some(2)),
            ("quarter", Some(4)),
            ("month", Some(12)),
        ] {
            entity::publicity::Entity::insert(entity::publicity::ActiveModel {
                id: NotSet,
                org_id: Set(org),
                year: Set(year),
                period: Set(period.to_owned()),
                n: Set(n),
                version: Set(1),
                previous_id: Set(None),
                changes: Set(None),
                ranked: Set(false),
                rule: Set("TW-6".to_owned()),
                rows: Set("[]".to_owned()),
                opens_at: Set(now),
                closes_at: Set(now),
                answer_until: Set(now),
                state: Set("confirmed".to_owned()),
                active_key: Set(None),
                public_token: Set(format!("test-{org}-{year}-{period}")),
                published_by: Set(None),
                confirmed_by: Set(None),
                confirmed_at: Set(Some(now)),
                notified_at: Set(None),
                created_at: Set(now),
            })
            .exec_without_returning(&self.state.db)
            .await
            .expect("publicity");
        }
    }
}
