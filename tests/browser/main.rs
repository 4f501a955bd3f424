//! Browser tests: headless Chromium driven through chromedriver (WebDriver, `fantoccini`),
//! against a real server per test (the API suite's `spawn_app`). They assert on what the
//! pages show, at phone width for the secretary and desktop width for the admin, and save
//! screenshots to `$CARGO_TARGET_DIR/screenshots/` (default `target/screenshots/`).
//!
//! Needs `chromium` and `chromedriver` (Debian: `chromium`, `chromium-driver`,
//! `fonts-noto-cjk`). Without them the tests print a notice and pass locally, and fail
//! under `CI=true`.

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;
mod leave;
mod publicity;
mod scorecard;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use fantoccini::{Client, ClientBuilder, Locator, key::Key};
use serde_json::{Value, json};

use helpers::{TestApp, spawn_app};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const PASSWORD: &str = "Passw0rd-for-tests";

/// chromedriver on a free port, killed when dropped, with its own browser profile dir.
struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts chromedriver, or says why not: `None` means "skip" (never under CI).
async fn driver() -> Option<Driver> {
    let present =
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists();
    if !present {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "browser tests need {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver fonts-noto-cjk)"
            );
        }
        eprintln!("NOTICE: browser tests skipped: {CHROMEDRIVER} or {CHROMIUM} not installed");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let d = Driver {
        child,
        port,
        _profile: tempfile::tempdir().expect("profile dir"),
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(d);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on {port}");
}

impl Driver {
    async fn browser(&self) -> Client {
        self.browser_with(&[]).await
    }

    /// A browser with extra command-line switches (e.g. a fake camera).
    async fn browser_with(&self, extra: &[String]) -> Client {
        let profile = self._profile.path().join(uuid::Uuid::new_v4().to_string());
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--lang=zh-CN",
            "--window-size=390,844",
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.extend(extra.iter().cloned());
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": args }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Chromium session")
    }
}

fn shots_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target")));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

struct Page<'a> {
    c: &'a Client,
    base: String,
}

impl Page<'_> {
    async fn size(&self, w: u32, h: u32) {
        self.c.set_window_size(w, h).await.expect("window size");
    }

    async fn go(&self, path: &str) {
        let url = if path.starts_with("http") || path.starts_with("data:") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        self.c.goto(&url).await.expect("navigate");
    }

    async fn js(&self, script: &str) -> Value {
        self.c.execute(script, vec![]).await.expect("script")
    }

    async fn text(&self) -> String {
        self.js("return document.body.innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn path(&self) -> String {
        self.js("return location.pathname + location.search")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn fill(&self, css: &str, value: &str) {
        let e = self
            .c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no {css}"));
        e.clear().await.ok();
        e.send_keys(value).await.expect("type");
    }

    /// Sets an input's value directly (datetime-local inputs take typed keys by locale).
    async fn set(&self, css: &str, value: &str) {
        self.c
            .execute(
                "document.querySelector(arguments[0]).value = arguments[1];",
                vec![json!(css), json!(value)],
            )
            .await
            .expect("set value");
    }

    async fn click(&self, css: &str) {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no {css}"))
            .click()
            .await
            .expect("click");
    }

    /// Waits (up to 10 s) for the page text to contain `needle`.
    async fn wait_text(&self, needle: &str) -> String {
        let mut last = String::new();
        for _ in 0..100 {
            last = self.text().await;
            if last.contains(needle) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("page never showed {needle:?}; it shows:\n{last}");
    }

    async fn shot(&self, name: &str) {
        let png = self.c.screenshot().await.expect("screenshot");
        std::fs::write(shots_dir().join(format!("{name}.png")), png).expect("save screenshot");
    }

    /// At the current width nothing scrolls sideways.
    async fn assert_no_sideways_scroll(&self, what: &str) {
        let v = self
            .js("return [Math.max(document.documentElement.scrollWidth, document.body.scrollWidth), window.innerWidth]")
            .await;
        let (sw, iw) = (v[0].as_i64().unwrap_or(0), v[1].as_i64().unwrap_or(0));
        assert!(sw <= iw, "{what} scrolls sideways: scrollWidth {sw} > {iw}");
    }

    /// Every visible form control has a label (a <label>, aria-label or
    /// aria-labelledby), every button a name.
    async fn assert_labelled(&self, what: &str) {
        let bad = self
            .js(r#"
                const out = [];
                for (const el of document.querySelectorAll('input, select, textarea, button')) {
                  if (el.type === 'hidden') continue;
                  const named = (el.labels && el.labels.length > 0)
                    || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
                    || (el.tagName === 'BUTTON' && el.innerText.trim() !== '');
                  if (!named) out.push(el.outerHTML.slice(0, 120));
                }
                return out;"#)
            .await;
        assert_eq!(bad, json!([]), "{what}: controls without a label");
    }

    async fn login(&self, username: &str, password: &str) {
        self.go("/console/login").await;
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.click("button[type=submit]").await;
    }

    async fn logout(&self) {
        self.click("header.top form button").await;
        self.wait_text("先锋积分管理台：登录").await;
    }
}

fn local(t: chrono::DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

struct Setup {
    admin: String,
    branch: i64,
    other_activity: i64,
}

/// Committee C with branches B (code B) and B2; a secretary of B, an operator-made
/// admin `chief` (no forced change), an auditor; an activity of B2.
async fn setup(app: &TestApp) -> Setup {
    let admin = app.admin_token().await;
    let committee = app.org(&admin, "C", "committee", None).await;
    let branch = app.org(&admin, "B", "branch", Some(committee)).await;
    let other = app.org(&admin, "B2", "branch", Some(committee)).await;
    app.account(&admin, "sec-b", "secretary", Some(branch))
        .await;
    // Auditors are made by a security admin (三员分立).
    let security = app
        .operator_account("secadm", vanguard::auth::Role::SecurityAdmin, None)
        .await;
    app.account(&security, "aud", "auditor", None).await;
    app.operator_account("chief", vanguard::auth::Role::Admin, None)
        .await;
    let start = Utc::now() + chrono::Duration::hours(3);
    let r = app
        .post(
            "/api/v1/activities",
            &admin,
            json!({"org_id": other, "kind": "meeting", "title": "别的支部的会议",
                   "starts_at": start.to_rfc3339(), "ends_at": (start + chrono::Duration::hours(1)).to_rfc3339()}),
        )
        .await;
    Setup {
        admin,
        branch,
        other_activity: r.body["id"].as_i64().expect("activity"),
    }
}

/// The roster, with one bad row (a phone number of 5 digits) or fixed.
fn roster(fixed: bool) -> String {
    format!(
        "姓名,手机号,支部编码,类别,编号\n赵一,13900000001,B,正式党员,P001\n钱二,13900000002,B,正式党员,P002\n孙三,{},B,正式党员,P003\n李四,13900000004,B,正式党员,P004\n",
        if fixed { "13900000003" } else { "12345" }
    )
}

/// Creates an activity on the console's form as the signed-in secretary; its id.
async fn create_activity(
    p: &Page<'_>,
    kind: &str,
    title: &str,
    start: chrono::DateTime<Utc>,
    minutes: i64,
) -> i64 {
    p.go("/console/activities").await;
    p.c.find(Locator::Css("#kind"))
        .await
        .expect("kind")
        .select_by_value(kind)
        .await
        .expect("select kind");
    p.fill("#title", title).await;
    p.set("#starts_at", &local(start)).await;
    p.set(
        "#ends_at",
        &local(start + chrono::Duration::minutes(minutes)),
    )
    .await;
    p.fill("#place", "党员活动室").await;
    p.click("form[action='/console/activities'] button[type=submit]")
        .await;
    p.wait_text("活动已创建").await;
    let path = p.path().await;
    path.trim_start_matches("/console/activities/")
        .split('?')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not on an activity page: {path}"))
}

/// Opens check-in with the keyboard alone: Tab until "开始签到" has focus, then Enter.
async fn open_with_keyboard(p: &Page<'_>, activity: i64) -> i64 {
    p.go(&format!("/console/activities/{activity}")).await;
    let mut focused = false;
    for _ in 0..40 {
        p.c.active_element()
            .await
            .expect("active element")
            .send_keys(&Key::Tab.to_string())
            .await
            .expect("tab");
        let id = p
            .js("return document.activeElement && document.activeElement.id")
            .await;
        if id == json!("open-checkin") {
            focused = true;
            break;
        }
    }
    assert!(focused, "Tab never reached 开始签到");
    p.c.active_element()
        .await
        .expect("active element")
        .send_keys(&Key::Enter.to_string())
        .await
        .expect("enter");
    p.wait_text("签到二维码").await;
    assert_eq!(
        p.path().await,
        format!("/console/activities/{activity}/live")
    );
    let href = p
        .js("return document.querySelector('a[href^=\"/projector/\"]').getAttribute('href')")
        .await;
    href.as_str()
        .and_then(|h| h.trim_start_matches("/projector/").parse().ok())
        .expect("projector link")
}

/// A member scans the session's current QR in the phone simulator; the reply shown.
async fn scan(p: &Page<'_>, app: &TestApp, token: &str, session: i64, openid: &str) -> String {
    let qr = app
        .get(&format!("/api/v1/sessions/{session}/qr"), token)
        .await;
    let url = qr.body["url"].as_str().expect("QR url").to_owned();
    assert!(url.contains("/sandbox/phone?scene="), "{url}");
    p.go(&url).await;
    p.fill("#openid", openid).await;
    p.click("button[value=scan]").await;
    p.wait_text("已发送").await;
    p.js("const b = document.querySelector('.bubble'); return b ? b.innerText : ''")
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_story_import_activities_check_in_projector_and_scans() {
    let Some(driver) = driver().await else { return };
    let app = spawn_app().await;
    let s = setup(&app).await;
    let c = driver.browser().await;
    let p = Page {
        c: &c,
        base: app.address.clone(),
    };
    let started = std::time::Instant::now();

    // `/` leads to the login.
    p.size(1366, 900).await;
    p.go("/").await;
    assert_eq!(p.path().await, "/console/login");
    p.assert_labelled("login").await;

    // Admin, desktop: a roster with one bad row is shown row by row and nothing is
    // written; fixed, it is checked again and imported on confirmation.
    p.login("chief", PASSWORD).await;
    p.wait_text("今日").await;
    let dir = tempfile::tempdir().expect("dir");
    let bad = dir.path().join("名册.csv");
    std::fs::write(&bad, roster(false)).expect("write roster");
    p.go("/console/import").await;
    p.assert_labelled("import").await;
    p.c.find(Locator::Css("#file"))
        .await
        .expect("file input")
        .send_keys(&bad.display().to_string())
        .await
        .expect("choose file");
    p.click("#check-import").await;
    let text = p.wait_text("有 1 处错误").await;
    assert!(
        text.contains("第 4 行"),
        "the bad row by its number: {text}"
    );
    assert!(text.contains("手机号"), "{text}");
    assert!(
        p.c.find(Locator::Css("#confirm-import")).await.is_err(),
        "no confirmation while a row is wrong"
    );
    let people = app
        .get(&format!("/api/v1/people?org_id={}", s.branch), &s.admin)
        .await;
    assert_eq!(
        people.body["items"].as_array().map(Vec::len),
        Some(0),
        "nothing written"
    );
    let good = dir.path().join("名册-改正.csv");
    std::fs::write(&good, roster(true)).expect("write roster");
    p.c.find(Locator::Css("#file"))
        .await
        .expect("file input")
        .send_keys(&good.display().to_string())
        .await
        .expect("choose file");
    p.click("#check-import").await;
    p.wait_text("检查通过").await;
    p.click("#confirm-import").await;
    p.c.accept_alert().await.expect("confirm dialog");
    let text = p.wait_text("导入完成").await;
    assert!(text.contains("新增 4 人"), "{text}");
    p.shot("admin-import-1366").await;
    p.logout().await;

    // Members bind their WeChat (as the binding page would).
    let people = app
        .get(&format!("/api/v1/people?org_id={}", s.branch), &s.admin)
        .await;
    let items = people.body["items"].as_array().expect("people").clone();
    assert_eq!(items.len(), 4, "{}", people.text);
    let id_of = |name: &str| {
        items
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["id"].as_i64())
            .expect("person")
    };
    for (name, openid) in [("赵一", "o-zhao"), ("钱二", "o-qian"), ("孙三", "o-sun")] {
        app.bind(id_of(name), openid).await;
    }

    // Secretary, phone: three activities at now+5, now−10, now−20 minutes.
    p.size(390, 844).await;
    p.login("sec-b", PASSWORD).await;
    p.wait_text("今日").await;
    p.assert_no_sideways_scroll("home").await;
    let now = Utc::now();
    let a_on_time = create_activity(
        &p,
        "fixed_day",
        "十二月主题党日（一个很长很长的标题，检验手机上不横向滚动）",
        now + chrono::Duration::minutes(5),
        120,
    )
    .await;
    let a_late = create_activity(
        &p,
        "fixed_day",
        "支部党课",
        now - chrono::Duration::minutes(10),
        90,
    )
    .await;
    // Opening check-in works with Tab and Enter alone.
    let s_on_time = open_with_keyboard(&p, a_on_time).await;
    let s_late = open_with_keyboard(&p, a_late).await;
    // The third one's check-in window (until start + 15 min) has passed: the secretary
    // opened it in time, ten minutes ago (the application clock stands back meanwhile).
    app.state.clock.advance(chrono::Duration::minutes(-10));
    let a_too_late = create_activity(
        &p,
        "fixed_day",
        "支委会（主题党日）",
        now - chrono::Duration::minutes(20),
        90,
    )
    .await;
    p.go("/console/activities").await;
    p.assert_no_sideways_scroll("activities").await;
    p.assert_labelled("activities").await;
    p.shot("secretary-activities-390").await;
    let s_too_late = open_with_keyboard(&p, a_too_late).await;
    app.state.clock.advance(chrono::Duration::minutes(10));
    let token = app.token("sec-b", PASSWORD).await;

    // The live page before anyone arrives: 0 of 4, everyone missing.
    p.go(&format!("/console/activities/{a_on_time}/live")).await;
    let text = p.wait_text("实时签到").await;
    assert!(text.contains("应到 4 人"), "{text}");
    assert_eq!(
        p.js("return document.getElementById('arrived-n').innerText")
            .await,
        json!("0")
    );
    p.assert_no_sideways_scroll("live").await;
    p.assert_labelled("live").await;

    // Three members scan through the phone simulator.
    let reply = scan(&p, &app, &token, s_on_time, "o-zhao").await;
    assert!(
        reply.contains("签到成功") && reply.contains("按时"),
        "{reply}"
    );
    // The simulator keeps the chosen member: the next QR's URL opens as them.
    let qr = app
        .get(&format!("/api/v1/sessions/{s_late}/qr"), &token)
        .await;
    p.go(qr.body["url"].as_str().expect("url")).await;
    assert_eq!(
        p.js("return document.getElementById('openid').value").await,
        json!("o-zhao")
    );
    let reply = scan(&p, &app, &token, s_late, "o-qian").await;
    assert!(
        reply.contains("签到成功") && reply.contains("迟到"),
        "{reply}"
    );
    let reply = scan(&p, &app, &token, s_too_late, "o-sun").await;
    assert!(!reply.contains("签到成功"), "too late is refused: {reply}");
    assert!(
        reply.contains("超过") || reply.contains("超时") || reply.contains("迟"),
        "{reply}"
    );
    p.shot("simulator-reply-390").await;
    let reply_in_view = p
        .js("const b = document.querySelector('.bubble'); return !!b && b.getBoundingClientRect().bottom <= window.innerHeight")
        .await;
    assert_eq!(
        reply_in_view,
        json!(true),
        "the reply shows without scrolling on a phone"
    );
    p.assert_no_sideways_scroll("simulator").await;

    // The secretary's live count and missing list update by themselves (polling).
    p.go(&format!("/console/activities/{a_on_time}/live")).await;
    for _ in 0..60 {
        if p.js("return document.getElementById('arrived-n').innerText")
            .await
            == json!("1")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        p.js("return document.getElementById('arrived-n').innerText")
            .await,
        json!("1")
    );
    let missing = p
        .js("return document.getElementById('missing-list').innerText")
        .await;
    let missing = missing.as_str().unwrap_or_default();
    assert!(
        !missing.contains("赵一") && missing.contains("钱二") && missing.contains("李四"),
        "{missing}"
    );
    p.js("document.getElementById('qr-here').open = true; return 1")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    p.shot("secretary-live-390").await;
    // A scan while the page is open shows up without a reload.
    let before_url = p.path().await;
    let qian = app
        .get(&format!("/api/v1/sessions/{s_on_time}/qr"), &token)
        .await;
    let scene = qian.body["scene"].as_str().expect("scene").to_owned();
    app.scan("o-qian", &scene, Utc::now().timestamp()).await;
    for _ in 0..80 {
        if p.js("return document.getElementById('arrived-n').innerText")
            .await
            == json!("2")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        p.js("return document.getElementById('arrived-n').innerText")
            .await,
        json!("2"),
        "polled"
    );
    assert_eq!(p.path().await, before_url, "no reload needed");

    // Refusals: another branch's activity by URL is 404 with no data.
    p.go(&format!("/console/activities/{}", s.other_activity))
        .await;
    let text = p.text().await;
    assert!(
        text.contains("未找到") && !text.contains("别的支部的会议"),
        "{text}"
    );
    // A cross-site form post is refused: a page of another origin posts a form to the console.
    let forged = format!(
        "data:text/html;charset=utf-8,<form method=post action='{}/console/activities/{a_on_time}/close'><input type=hidden name=x value=1><button id=go>go</button></form>",
        app.address
    );
    p.go(&forged).await;
    p.click("#go").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let text = p.text().await;
    assert!(
        !text.contains("签到状态"),
        "the post did not act as the secretary: {text}"
    );
    let session = app
        .get(&format!("/api/v1/sessions/{s_on_time}"), &token)
        .await;
    assert!(
        session.body["closed_at"].is_null(),
        "a cross-site post closed nothing: {}",
        session.text
    );

    // Attendance sheet.
    p.go(&format!("/console/activities/{a_on_time}/attendance"))
        .await;
    let text = p.wait_text("考勤").await;
    assert!(text.contains("赵一") && text.contains("按时签到"), "{text}");
    p.assert_no_sideways_scroll("attendance").await;

    // The projector shows a QR (desktop and phone width).
    p.size(1366, 900).await;
    p.go(&format!("/projector/{s_on_time}")).await;
    p.fill("#username", "sec-b").await;
    p.fill("#password", PASSWORD).await;
    p.click("#login-form button[type=submit]").await;
    for _ in 0..100 {
        let shown = p
            .js("const q = document.getElementById('qr'); return !!q && !q.hidden && q.naturalWidth > 0")
            .await;
        if shown == json!(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        p.js(
            "const q = document.getElementById('qr'); return !!q && !q.hidden && q.naturalWidth > 0"
        )
        .await,
        json!(true),
        "the projector shows a QR"
    );
    // Opened after people arrived, "最新签到" already lists them (names masked), and
    // times are the branch's (Asia/Shanghai), not the browser's (UTC here).
    let mut recent = json!("");
    for _ in 0..100 {
        recent = p
            .js("return document.getElementById('recent').innerText")
            .await;
        if recent.as_str().unwrap_or_default().contains("赵*") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        recent.as_str().unwrap_or_default().contains("赵*"),
        "{recent}"
    );
    let start_local = (now + chrono::Duration::minutes(5))
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%H:%M")
        .to_string();
    let meta = p
        .js("return document.getElementById('meta').innerText")
        .await;
    assert!(
        meta.as_str().unwrap_or_default().contains(&start_local),
        "{meta} vs {start_local}"
    );
    p.shot("projector-1366").await;
    let footer_in_view = p
        .js("return document.querySelector('footer').getBoundingClientRect().bottom <= window.innerHeight")
        .await;
    assert_eq!(
        footer_in_view,
        json!(true),
        "a long title keeps the footer on a 900 px screen"
    );
    p.size(390, 844).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    p.shot("projector-390").await;
    p.assert_no_sideways_scroll("projector").await;
    let count_in_view = p
        .js("const r = document.querySelector('.count').getBoundingClientRect(); return r.right <= window.innerWidth && r.width > 0")
        .await;
    assert_eq!(
        count_in_view,
        json!(true),
        "the count is not cut off at phone width"
    );
    // Closing from the phone takes the QR down within seconds.
    let closed = app
        .post(
            &format!("/api/v1/sessions/{s_on_time}/close"),
            &token,
            json!({}),
        )
        .await;
    assert_eq!(closed.status, reqwest::StatusCode::OK, "{}", closed.text);
    let t0 = std::time::Instant::now();
    for _ in 0..80 {
        if p.js("return document.getElementById('qr').hidden && !document.getElementById('qr-closed').hidden").await == json!(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        p.js("return document.getElementById('qr').hidden && !document.getElementById('qr-closed').hidden").await,
        json!(true),
        "QR still up after the close"
    );
    assert!(
        t0.elapsed() < Duration::from_secs(6),
        "QR down in {:?}",
        t0.elapsed()
    );
    p.shot("projector-closed-390").await;

    // The secretary's pages at desktop width too.
    p.size(1366, 900).await;
    p.go("/console/activities").await;
    p.shot("secretary-activities-1366").await;
    p.go(&format!("/console/activities/{a_on_time}/live")).await;
    p.shot("secretary-live-1366").await;

    // Every page so far at 390 px: nothing sideways.
    p.size(390, 844).await;
    for path in [
        "/console/".to_owned(),
        "/console/activities".to_owned(),
        format!("/console/activities/{a_on_time}"),
        format!("/console/activities/{a_on_time}/live"),
        format!("/console/activities/{a_on_time}/attendance"),
        "/console/disputes".to_owned(),
        "/console/people".to_owned(),
        "/console/password".to_owned(),
    ] {
        p.go(&path).await;
        p.assert_no_sideways_scroll(&path).await;
        p.assert_labelled(&path).await;
    }
    p.logout().await;

    // The refused member files a dispute with a photo from their phone (/m/, signed in
    // through the sandbox's WeChat OAuth).
    p.size(390, 844).await;
    p.go("/wechat/oauth/start?next=/m/disputes/new").await;
    p.wait_text("模拟微信网页授权").await;
    assert_eq!(
        p.js("return document.getElementById('openid').value").await,
        json!("o-sun"),
        "the simulator's member signs in"
    );
    p.fill("#openid", "o-sun").await;
    p.click("button[type=submit]").await;
    let text = p.wait_text("提出异议").await;
    assert!(
        text.contains("支委会"),
        "the refused activity is offered: {text}"
    );
    let target = p
        .js("const r = Array.from(document.querySelectorAll('input[name=target]')).find(i => i.closest('label').innerText.includes('支委会')); r.click(); return r.value")
        .await;
    assert!(target.as_str().is_some_and(|t| !t.is_empty()), "{target}");
    p.fill("#reason", "14:40 已扫码，手机显示签到已结束，我在会场")
        .await;
    let photo = dir.path().join("现场.png");
    std::fs::write(&photo, tiny_png()).expect("photo");
    p.c.find(Locator::Css("#photo"))
        .await
        .expect("photo input")
        .send_keys(&photo.display().to_string())
        .await
        .expect("choose photo");
    p.click("form[action='/m/disputes'] button[type=submit]")
        .await;
    p.wait_text("待处理").await;
    let member_case = p.path().await;
    p.shot("member-dispute-390").await;
    p.assert_no_sideways_scroll("member dispute").await;
    p.size(1366, 900).await;
    p.shot("member-dispute-1366").await;

    // The admin finds it in the queue and accepts by adding the check-in at start + 10 min.
    p.login("chief", PASSWORD).await;
    p.wait_text("今日").await;
    assert!(p.text().await.contains("孙三 的异议"), "the inbox lists it");
    p.go("/console/disputes").await;
    let text = p.wait_text("孙三").await;
    assert!(text.contains("14:40 已扫码"), "{text}");
    p.assert_labelled("dispute queue").await;
    p.shot("admin-disputes-1366").await;
    p.size(390, 844).await;
    p.assert_no_sideways_scroll("dispute queue").await;
    p.shot("admin-disputes-390").await;
    p.size(1366, 900).await;
    p.click("#dispute-queue a").await;
    let text = p.wait_text("党员的理由").await;
    assert!(text.contains("查看照片"), "the photo is attached: {text}");
    let suggested = (now - chrono::Duration::minutes(10))
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    assert_eq!(
        p.js("return document.getElementById('at').value").await,
        json!(suggested),
        "start + 10 min is offered"
    );
    p.assert_labelled("dispute").await;
    p.click("#remedy-add").await;
    p.click("#accept-dispute").await;
    p.wait_text("已采纳").await;
    p.logout().await;

    // The member's /m/ shows +3 分 with the dispute's reason, and the dispute 已采纳.
    p.size(390, 844).await;
    p.go("/m/").await;
    let text = p.wait_text("我的积分").await;
    assert!(text.contains("+3"), "{text}");
    assert!(
        text.contains("14:40 已扫码"),
        "the ledger line carries the dispute's reason: {text}"
    );
    p.go(&member_case).await;
    let text = p.wait_text("已采纳").await;
    assert!(!text.contains("待处理"), "{text}");
    p.shot("member-dispute-accepted-390").await;

    // The auditor finds every step in the audit log.
    p.size(1366, 900).await;
    p.login("aud", PASSWORD).await;
    p.wait_text("今日").await;
    p.go("/console/audit").await;
    let text = p.wait_text("审计日志").await;
    for step in [
        "import_create",
        "create",
        "open_session",
        "file_dispute",
        "accept_dispute",
        "login",
    ] {
        assert!(text.contains(step), "audit log lacks {step}:\n{text}");
    }
    p.go("/console/audit?entity=case").await;
    let text = p.wait_text("审计日志").await;
    assert!(
        text.contains("file_dispute") && text.contains("accept_dispute"),
        "{text}"
    );
    assert!(!text.contains("open_session"), "the subject filter applies");
    p.assert_labelled("audit").await;

    // The attendance sheet downloads as XLSX and reads back with calamine.
    let bytes =
        p.c.execute_async(
            r#"const done = arguments[arguments.length - 1];
               fetch(arguments[0], {credentials: 'same-origin'})
                 .then(r => r.arrayBuffer())
                 .then(b => done(Array.from(new Uint8Array(b))))
                 .catch(e => done(String(e)));"#,
            vec![json!(format!(
                "/console/activities/{a_too_late}/attendance.xlsx"
            ))],
        )
        .await
        .expect("download");
    let bytes: Vec<u8> = serde_json::from_value(bytes).expect("bytes");
    let sheet = read_xlsx(&bytes);
    let header = sheet.first().expect("header row");
    assert!(header.iter().any(|h| h == "姓名"), "{header:?}");
    let sun = sheet
        .iter()
        .find(|r| r.iter().any(|c| c == "孙三"))
        .unwrap_or_else(|| panic!("孙三 in {sheet:?}"));
    assert!(sun.iter().any(|c| c.contains("迟到")), "{sun:?}");
    assert!(sun.iter().any(|c| c == "3"), "points as a number: {sun:?}");
    c.close().await.ok();
    let took = started.elapsed();
    eprintln!("browser story took {took:?}");
    assert!(
        took < Duration::from_secs(600),
        "the browser story must stay under 10 minutes"
    );
}

/// The admin's desktop pages: the organization tree, an organization's policy with its
/// readings, and a ranking, at 1366×900: every control labelled, nothing scrolling
/// sideways, screenshots saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_org_tree_policy_and_rankings_at_desktop_width() {
    let Some(driver) = driver().await else { return };
    let app = spawn_app().await;
    let s = setup(&app).await;
    for (name, phone, points) in [("周五", "13900000011", 4), ("吴六", "13900000012", 2)] {
        let id = app.person(&s.admin, name, phone, s.branch, "member").await;
        let r = app
            .post(
                "/api/v1/items",
                &s.admin,
                json!({"person_id": id, "item": "study", "at": Utc::now().to_rfc3339(), "fields": {"points": points}}),
            )
            .await;
        assert_eq!(r.status, reqwest::StatusCode::CREATED, "{}", r.text);
    }
    let c = driver.browser().await;
    let p = Page {
        c: &c,
        base: app.address.clone(),
    };
    p.size(1366, 900).await;
    p.login("chief", PASSWORD).await;
    p.wait_text("今日").await;

    p.go("/console/orgs").await;
    let text = p.wait_text("B2 组织").await;
    assert!(text.contains("xihu-2017"), "the policy in force: {text}");
    p.assert_no_sideways_scroll("org tree").await;
    p.shot("admin-orgs-1366").await;

    p.go(&format!("/console/orgs/{}", s.branch)).await;
    let text = p.wait_text("本政策的理解").await;
    assert!(text.contains("其他理解"), "{text}");
    p.assert_labelled("org page").await;
    p.assert_no_sideways_scroll("org page").await;
    p.shot("admin-org-policy-1366").await;

    p.go(&format!("/console/rankings?org={}", s.branch)).await;
    let text = p.wait_text("共 2 人").await;
    let (first, second) = (text.find("周五"), text.find("吴六"));
    assert!(first.is_some() && first < second, "ranked by score: {text}");
    p.assert_labelled("rankings").await;
    p.assert_no_sideways_scroll("rankings").await;
    p.shot("admin-rankings-1366").await;
    c.close().await.ok();
}

/// One 640×480 Y4M frame (Chromium's fake camera loops it) showing a QR code of `text`,
/// 8 pixels a module, dark on white.
fn qr_frame(text: &str) -> Vec<u8> {
    let code = qrcode::QrCode::new(text.as_bytes()).expect("a QR code");
    let n = code.width();
    let colors = code.to_colors();
    let (w, h, scale) = (640usize, 480usize, 8usize);
    let side = (n + 8) * scale;
    let (x0, y0) = ((w - side) / 2, (h - side) / 2);
    let mut luma = vec![255u8; w * h];
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (mx, my) = (i % n + 4, i / n + 4);
            for dy in 0..scale {
                let row = (y0 + my * scale + dy) * w + x0 + mx * scale;
                luma[row..row + scale].fill(16);
            }
        }
    }
    let mut out = format!("YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C420jpeg\nFRAME\n").into_bytes();
    out.extend_from_slice(&luma);
    out.extend(std::iter::repeat_n(128u8, w * h / 2));
    out
}

/// A 2×2 PNG (a phone photo stand-in).
fn tiny_png() -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, 2, 2);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().expect("png header");
    w.write_image_data(&[200, 30, 30, 255, 255, 255, 255, 255, 255, 200, 30, 30])
        .expect("png data");
    w.finish().expect("png");
    out
}

/// The first sheet of an XLSX as text cells (numbers written plainly).
fn read_xlsx(bytes: &[u8]) -> Vec<Vec<String>> {
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).expect("an XLSX");
    let range = book
        .worksheet_range_at(0)
        .expect("a sheet")
        .expect("readable sheet");
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Float(f) => format!("{f}"),
                    Data::Int(i) => i.to_string(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

/// Member cards at phone width: the secretary prints the branch's cards (A4 sheet, one
/// card), types a card number on the live page and sees the member counted; then the
/// member's dispute page refuses an oversized and a non-image photo, in Chinese,
/// keeping what was typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_card_typed_on_the_live_page_and_dispute_photo_refusals() {
    let Some(driver) = driver().await else { return };
    let app = spawn_app().await;
    let s = setup(&app).await;
    let started = std::time::Instant::now();
    let zhao = app
        .person(&s.admin, "赵一", "13900000001", s.branch, "member")
        .await;
    app.person(&s.admin, "钱二", "13900000002", s.branch, "member")
        .await;
    let sun = app
        .person(&s.admin, "孙三", "13900000003", s.branch, "member")
        .await;
    app.bind(sun, "o-sun").await;
    let token = app.token("sec-b", PASSWORD).await;
    // A fixed day that started two minutes ago, check-in open.
    let start = Utc::now() - chrono::Duration::minutes(2);
    let r = app
        .post(
            "/api/v1/activities",
            &token,
            json!({"org_id": s.branch, "kind": "fixed_day", "title": "十二月主题党日",
                   "starts_at": start.to_rfc3339(), "ends_at": (start + chrono::Duration::hours(2)).to_rfc3339()}),
        )
        .await;
    let activity = r.body["id"].as_i64().expect("activity");
    let r = app
        .post(
            &format!("/api/v1/activities/{activity}/sessions"),
            &token,
            json!({}),
        )
        .await;
    assert_eq!(r.status, reqwest::StatusCode::CREATED, "{}", r.text);

    let c = driver.browser().await;
    let p = Page {
        c: &c,
        base: app.address.clone(),
    };
    p.size(390, 844).await;
    p.login("sec-b", PASSWORD).await;
    p.wait_text("今日").await;

    // 党员 → 党员卡: nobody has one yet; one click issues the branch's cards.
    p.go("/console/people").await;
    p.click("#member-cards").await;
    p.wait_text("尚未发卡（3 人）").await;
    p.click("#issue-all").await;
    p.wait_text("已发卡 3 张").await;
    assert_eq!(
        p.js("return document.querySelectorAll('.member-card svg').length")
            .await,
        json!(3)
    );
    p.assert_no_sideways_scroll("card sheet").await;
    p.assert_labelled("card sheet").await;
    p.shot("secretary-cards-390").await;
    p.go(&format!("/console/people/{zhao}/card")).await;
    p.wait_text("作废并补发新卡").await;
    p.assert_no_sideways_scroll("one card").await;
    p.assert_labelled("one card").await;
    p.shot("secretary-card-390").await;
    let number = p
        .js("return document.querySelector('.mc-number').innerText")
        .await
        .as_str()
        .expect("the card's number")
        .to_owned();

    // On the live page: a typo is refused next to the field, the number counts 赵一.
    let live = format!("/console/activities/{activity}/live");
    p.go(&live).await;
    p.wait_text("持卡签到").await;
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let last = digits.as_bytes()[8] - b'0';
    let typo = format!("{}{}", &digits[..8], (last + 1) % 10);
    p.fill("#card-number", &typo).await;
    p.click("#card-submit").await;
    let text = p.wait_text("校验位").await;
    assert!(text.contains("卡号有误"), "{text}");
    assert_eq!(
        p.js("return document.getElementById('card-number').value")
            .await,
        json!(typo),
        "what was typed is kept"
    );
    p.assert_no_sideways_scroll("card check-in").await;
    p.assert_labelled("card check-in").await;
    p.go(&live).await;
    p.fill("#card-number", &number).await;
    p.click("#card-submit").await;
    let text = p.wait_text("签到成功：赵一").await;
    assert!(
        text.contains("迟到签到") && text.contains("+3 分"),
        "{text}"
    );
    p.shot("secretary-card-checkin-390").await;
    p.go(&live).await;
    p.wait_text("实时签到").await;
    assert_eq!(
        p.js("return document.getElementById('arrived-n').innerText")
            .await,
        json!("1"),
        "the member is counted"
    );
    let missing = p
        .js("return document.getElementById('missing-list').innerText")
        .await;
    let missing = missing.as_str().unwrap_or_default();
    assert!(
        !missing.contains("赵一") && missing.contains("钱二"),
        "{missing}"
    );
    // By camera: a second phone whose camera sees 钱二's card (Chromium's fake camera
    // plays a still frame of the card's QR); the embedded reader posts it.
    let qian = app
        .get(
            &format!("/api/v1/people?org_id={}&q=钱二", s.branch),
            &s.admin,
        )
        .await
        .body["items"][0]["id"]
        .as_i64()
        .expect("钱二");
    let card = vanguard::checkin::card::active(&app.state.db, qian)
        .await
        .expect("db")
        .expect("a card");
    let camera_file = tempfile::tempdir().expect("dir");
    let y4m = camera_file.path().join("card.y4m");
    std::fs::write(&y4m, qr_frame(&vanguard::checkin::card::code(&card))).expect("y4m");
    let phone = driver
        .browser_with(&[
            "--use-fake-ui-for-media-stream".to_owned(),
            "--use-fake-device-for-media-stream".to_owned(),
            format!("--use-file-for-fake-video-capture={}", y4m.display()),
        ])
        .await;
    let q = Page {
        c: &phone,
        base: app.address.clone(),
    };
    q.login("sec-b", PASSWORD).await;
    q.wait_text("今日").await;
    q.go(&format!("/console/activities/{activity}/cards")).await;
    q.click("#scan-start").await;
    q.wait_text("签到成功：钱二").await;
    assert_eq!(
        q.js("return document.getElementById('card-arrived').innerText")
            .await,
        json!("2")
    );
    phone.close().await.ok();

    p.size(1366, 900).await;
    p.go(&format!("/console/cards?org={}", s.branch)).await;
    p.wait_text("已发卡 3 张").await;
    p.shot("secretary-cards-1366").await;
    p.go(&format!("/console/people/{zhao}/card")).await;
    p.shot("secretary-card-1366").await;
    p.go(&format!("/console/activities/{activity}/cards")).await;
    p.wait_text("扫描党员卡").await;
    p.shot("secretary-card-checkin-1366").await;
    p.logout().await;

    // The member's dispute page refuses an oversized and a non-image photo.
    p.size(390, 844).await;
    p.go("/wechat/oauth/start?next=/m/disputes/new").await;
    p.wait_text("模拟微信网页授权").await;
    p.fill("#openid", "o-sun").await;
    p.click("button[type=submit]").await;
    p.wait_text("提出异议").await;
    let dir = tempfile::tempdir().expect("dir");
    let big = dir.path().join("大照片.png");
    let mut bytes = tiny_png();
    bytes.resize(5 * 1024 * 1024 + 1024, 0);
    std::fs::write(&big, &bytes).expect("big photo");
    let text_file = dir.path().join("说明.png");
    std::fs::write(&text_file, "这不是照片").expect("text file");
    let cases_before = {
        use sea_orm::{EntityTrait, PaginatorTrait};
        entity::case::Entity::find()
            .count(&app.state.db)
            .await
            .expect("db")
    };
    for (file, says) in [
        (&big, "照片不能超过 5 MB"),
        (&text_file, "只能上传 JPEG 或 PNG 格式的照片"),
    ] {
        p.js("const r = Array.from(document.querySelectorAll('input[name=target]')).find(i => i.closest('label').innerText.includes('十二月主题党日')); r.click(); return r.value")
            .await;
        p.fill("#reason", "我在会场，手机没电").await;
        p.c.find(Locator::Css("#photo"))
            .await
            .expect("photo input")
            .send_keys(&file.display().to_string())
            .await
            .expect("choose file");
        p.click("form[action='/m/disputes'] button[type=submit]")
            .await;
        let text = p.wait_text(says).await;
        assert!(!text.contains("待处理"), "{text}");
        assert_eq!(
            p.js("return document.getElementById('reason').value").await,
            json!("我在会场，手机没电"),
            "the reason is kept"
        );
        p.assert_no_sideways_scroll("dispute refused").await;
    }
    p.shot("member-dispute-photo-refused-390").await;
    let cases_after = {
        use sea_orm::{EntityTrait, PaginatorTrait};
        entity::case::Entity::find()
            .count(&app.state.db)
            .await
            .expect("db")
    };
    assert_eq!(cases_before, cases_after, "a refused photo files nothing");
    c.close().await.ok();
    eprintln!("card browser test took {:?}", started.elapsed());
}

/// The secretary's own pages on a phone (390×844): 积分 with an item previewed before it is
/// saved (XH-14: rule and points shown first), 党员, 补学资料 and 待办 — every control
/// labelled, nothing scrolling sideways, screenshots saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secretary_scores_members_materials_and_todo_on_a_phone() {
    let Some(driver) = driver().await else { return };
    let app = spawn_app().await;
    let s = setup(&app).await;
    let member = app
        .person(&s.admin, "郑七", "13900000021", s.branch, "member")
        .await;
    let c = driver.browser().await;
    let p = Page {
        c: &c,
        base: app.address.clone(),
    };
    p.size(390, 844).await;
    p.login("sec-b", PASSWORD).await;
    p.wait_text("今日").await;

    p.go("/console/scores").await;
    p.wait_text("郑七").await;
    p.assert_labelled("scores").await;
    p.assert_no_sideways_scroll("scores").await;
    p.shot("secretary-scores-390").await;

    p.go(&format!("/console/scores/{member}/item?item=honor_city"))
        .await;
    p.wait_text("下一步：查看积分").await;
    p.assert_labelled("item form").await;
    p.assert_no_sideways_scroll("item form").await;
    p.fill("#reason", "市级优秀共产党员（市委表彰）").await;
    p.click("form[action$='/item/preview'] button[type=submit]")
        .await;
    let text = p.wait_text("+7").await;
    assert!(
        text.contains("党内荣誉"),
        "the rule by name before saving: {text}"
    );
    p.assert_no_sideways_scroll("item preview").await;
    p.shot("secretary-item-preview-390").await;

    for (path, needle, shot) in [
        ("/console/members", "郑七", "secretary-members-390"),
        ("/console/materials", "补学资料", "secretary-materials-390"),
        ("/console/todo", "待办", "secretary-todo-390"),
    ] {
        p.go(path).await;
        p.wait_text(needle).await;
        p.assert_labelled(path).await;
        p.assert_no_sideways_scroll(path).await;
        p.shot(shot).await;
    }
    c.close().await.ok();
}
