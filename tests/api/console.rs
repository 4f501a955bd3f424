//! The staff console over HTTP (no browser): sign-in, the cookie, logout, the forced
//! password change, an expired login, cross-site posts, navigation by role, scope.
//! The browser story lives in `tests/browser`.

use reqwest::{StatusCode, header};
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};
use crate::pages::{Page, Phone};

pub const PASSWORD: &str = "Passw0rd-for-tests";

/// A browser stand-in for the console: a cookie jar; posts carry this origin.
pub struct Desk {
    pub phone: Phone,
    pub address: String,
}

impl Desk {
    pub fn new(app: &TestApp) -> Self {
        Self {
            phone: Phone::new(app),
            address: app.address.clone(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.phone.get(path).await
    }

    /// A form post from a page of `origin` (this server's own unless given).
    pub async fn post_from(&self, origin: Option<&str>, path: &str, form: &[(&str, &str)]) -> Page {
        let res = self
            .phone
            .client
            .post(format!("{}{path}", self.address))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, origin.unwrap_or(&self.address))
            .header(header::REFERER, format!("{}/console/", self.address))
            .body(serde_urlencoded::to_string(form).expect("form"))
            .send()
            .await
            .expect("post");
        let status = res.status();
        let headers = res.headers().clone();
        let location = headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Page {
            status,
            location,
            text: res.text().await.unwrap_or_default(),
            headers,
        }
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.post_from(None, path, form).await
    }

    pub async fn login(&self, username: &str, password: &str) -> Page {
        self.post(
            "/console/login",
            &[
                ("username", username),
                ("password", password),
                ("next", "/console/"),
            ],
        )
        .await
    }
}

/// An admin and a secretary of branch B (with a second branch B2), signed in on the console.
#[allow(dead_code)] // fields used as the console grows
pub struct Staff {
    pub admin_token: String,
    pub branch: i64,
    pub other: i64,
    pub admin: Desk,
    pub secretary: Desk,
}

pub async fn staff(app: &TestApp) -> Staff {
    let b = crate::pages::branch(app).await;
    // The initial admin must change its generated password first: an operator-made admin.
    app.operator_account("chief", vanguard::auth::Role::Admin, None)
        .await;
    let admin = Desk::new(app);
    let r = admin.login("chief", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let secretary = Desk::new(app);
    let r = secretary.login("sec-b", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.location.as_deref(), Some("/console/"));
    Staff {
        admin_token: b.admin,
        branch: b.branch,
        other: b.other,
        admin,
        secretary,
    }
}

#[tokio::test]
async fn root_leads_to_the_console_login_or_to_member_pages_inside_wechat() {
    let app = spawn_app().await;
    let desk = Desk::new(&app);
    let r = desk.get("/").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location.as_deref(), Some("/console/login"));
    let r = desk
        .phone
        .client
        .get(format!("{}/", app.address))
        .header(
            header::USER_AGENT,
            "Mozilla/5.0 (iPhone) AppleWebKit MicroMessenger/8.0.49 NetType/WIFI",
        )
        .send()
        .await
        .expect("get");
    assert_eq!(r.headers()[header::LOCATION], "/m/");
    let login = desk.get("/console/login").await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(
        login
            .text
            .contains("<label for=\"username\">用户名</label>")
    );
    assert!(
        login.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("csp")
            .contains("default-src 'none'")
    );
}

#[tokio::test]
async fn console_login_sets_a_strict_httponly_cookie_and_logout_ends_the_session_on_the_server() {
    let app = spawn_app().await;
    let desk = Desk::new(&app);
    let bad = desk.login("admin", "wrong-password-1").await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert!(bad.text.contains("用户名或密码错误"), "{}", bad.text);
    assert!(bad.text.contains("value=\"admin\""), "keeps what was typed");

    let ok = desk.login("admin", &app.admin_password).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let cookie = ok.headers[header::SET_COOKIE].to_str().expect("cookie");
    assert!(cookie.starts_with("vg_console="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http on loopback: {cookie}"
    );
    let value = cookie
        .split(';')
        .next()
        .and_then(|c| c.strip_prefix("vg_console="))
        .expect("value")
        .to_owned();

    // The first login of the initial admin must change the generated password first.
    let home = desk.get("/console/").await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.location.as_deref(), Some("/console/password"));

    let out = desk.post("/console/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location.as_deref(), Some("/console/login"));
    // The old cookie, replayed, no longer opens anything: the session ended server-side.
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{}/console/password", app.address))
        .header(header::COOKIE, format!("vg_console={value}"))
        .send()
        .await
        .expect("get");
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    assert!(
        replay.headers()[header::LOCATION]
            .to_str()
            .expect("location")
            .starts_with("/console/login?next=")
    );
    // A forged secret for a real session id does not open it either.
    let sid = value.split('.').next().expect("sid");
    let forged = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{}/console/", app.address))
        .header(header::COOKIE, format!("vg_console={sid}.forged"))
        .send()
        .await
        .expect("get");
    assert_eq!(forged.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_reset_password_must_be_changed_before_any_console_page() {
    let app = spawn_app().await;
    let b = crate::pages::branch(&app).await;
    let security = app
        .operator_account("sec-admin", vanguard::auth::Role::SecurityAdmin, None)
        .await;
    let accounts = app.get("/api/v1/accounts", &security).await;
    let id = accounts
        .body
        .as_array()
        .expect("list")
        .iter()
        .find(|a| a["username"] == "sec-b")
        .and_then(|a| a["id"].as_i64())
        .expect("secretary account");
    let reset = app
        .post(
            &format!("/api/v1/accounts/{id}/reset-password"),
            &security,
            json!({}),
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.text);
    let temporary = reset.body["password"]
        .as_str()
        .expect("password")
        .to_owned();
    let _ = b;

    let desk = Desk::new(&app);
    let r = desk
        .post(
            "/console/login",
            &[
                ("username", "sec-b"),
                ("password", &temporary),
                ("next", "/console/activities"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.location.as_deref(),
        Some("/console/password?next=%2Fconsole%2Factivities")
    );
    let blocked = desk.get("/console/?x=1").await;
    assert_eq!(blocked.location.as_deref(), Some("/console/password"));
    let form = desk.get("/console/password").await;
    assert!(form.text.contains("请先设置新密码"), "{}", form.text);

    let mismatch = desk
        .post(
            "/console/password",
            &[
                ("current_password", &temporary),
                ("new_password", "NewPassw0rd-2026"),
                ("confirm_password", "other"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
    assert!(mismatch.text.contains("两次输入的新密码不一致"));
    let weak = desk
        .post(
            "/console/password",
            &[
                ("current_password", &temporary),
                ("new_password", "short"),
                ("confirm_password", "short"),
            ],
        )
        .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert!(weak.text.contains("同时包含字母和数字"), "{}", weak.text);

    let done = desk
        .post(
            "/console/password",
            &[
                ("current_password", &temporary),
                ("new_password", "NewPassw0rd-2026"),
                ("confirm_password", "NewPassw0rd-2026"),
                ("next", "/console/activities"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_eq!(done.location.as_deref(), Some("/console/activities"));
    let home = desk.get("/console/").await;
    assert_eq!(
        home.status,
        StatusCode::OK,
        "this login goes on after the change"
    );
}

#[tokio::test]
async fn an_expired_console_session_returns_to_the_login_and_then_to_where_it_was() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let page = s.secretary.get("/console/").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    // The login session runs out (as after the console's working day).
    {
        use entity::auth_session::{Column, Entity};
        use sea_orm::EntityTrait;
        Entity::update_many()
            .col_expr(
                Column::ExpiresAt,
                sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
            )
            .exec(&app.state.db)
            .await
            .expect("expire sessions");
    }
    let away = s.secretary.get("/console/?tab=x").await;
    assert_eq!(away.status, StatusCode::SEE_OTHER);
    let to = away.location.expect("to the login");
    assert_eq!(to, "/console/login?next=%2Fconsole%2F%3Ftab%3Dx");
    let form = s.secretary.get(&to).await;
    // (minijinja writes `/` as `&#x2f;` inside attributes)
    assert!(
        form.text
            .contains("name=\"next\" value=\"&#x2f;console&#x2f;?tab=x\""),
        "{}",
        form.text
    );
    let back = s
        .secretary
        .post(
            "/console/login",
            &[
                ("username", "sec-b"),
                ("password", PASSWORD),
                ("next", "/console/?tab=x"),
            ],
        )
        .await;
    assert_eq!(back.location.as_deref(), Some("/console/?tab=x"));
    assert_eq!(s.secretary.get("/console/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_cross_site_console_post_is_refused() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let r = s
        .secretary
        .post_from(Some("https://evil.example"), "/console/logout", &[])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text.contains("跨站提交已被拒绝"));
    // Still signed in: the forged logout changed nothing.
    assert_eq!(s.secretary.get("/console/").await.status, StatusCode::OK);
    let login = Desk::new(&app)
        .post_from(
            Some("https://evil.example"),
            "/console/login",
            &[("username", "sec-b"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn console_navigation_shows_what_the_role_may_do_and_nothing_else() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let sec = s.secretary.get("/console/").await;
    assert_eq!(sec.status, StatusCode::OK);
    for shown in ["今日", "活动", "待办"] {
        assert!(
            sec.text.contains(&format!(">{shown}</a>")),
            "secretary: {shown}"
        );
    }
    assert!(!sec.text.contains(">导入</a>"), "secretaries do not import");
    // Auditors are made by a security admin (三员分立).
    let security = app
        .operator_account("secadm", vanguard::auth::Role::SecurityAdmin, None)
        .await;
    let auditor_token = app.account(&security, "aud", "auditor", None).await.1;
    drop(auditor_token);
    let aud = Desk::new(&app);
    aud.login("aud", PASSWORD).await;
    let page = aud.get("/console/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains(">争议与更正</a>"));
    assert!(page.text.contains(">活动与考勤</a>"));
    assert!(!page.text.contains(">导入</a>"), "auditors change nothing");
}

/// The id in a `/console/activities/{id}…` location.
fn activity_id(location: &str) -> i64 {
    location
        .trim_start_matches("/console/activities/")
        .split(['?', '/'])
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no activity id in {location}"))
}

fn local_input(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// Creates an activity through the console form as `desk`; its id.
pub async fn create_activity(
    desk: &Desk,
    org: i64,
    kind: &str,
    title: &str,
    start: chrono::DateTime<chrono::Utc>,
) -> i64 {
    let form_id = uuid::Uuid::new_v4().simple().to_string();
    let r = desk
        .post(
            "/console/activities",
            &[
                ("form_id", &form_id),
                ("org_id", &org.to_string()),
                ("kind", kind),
                ("title", title),
                ("starts_at", &local_input(start)),
                ("ends_at", &local_input(start + chrono::Duration::hours(1))),
                ("place", "党员活动室"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    activity_id(r.location.as_deref().expect("to the activity"))
}

#[tokio::test]
async fn a_secretary_creates_an_activity_opens_check_in_and_sees_scans_arrive() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let zhang = app
        .person(&s.admin_token, "张三", "13800000001", s.branch, "member")
        .await;
    app.person(&s.admin_token, "李四", "13800000002", s.branch, "member")
        .await;
    app.bind(zhang, "o-zhang").await;
    let start = chrono::Utc::now() + chrono::Duration::minutes(5);
    let id = create_activity(&s.secretary, s.branch, "fixed_day", "十二月主题党日", start).await;

    let home = s.secretary.get("/console/").await;
    assert!(home.text.contains("十二月主题党日"), "today lists it");
    assert!(home.text.contains("开始签到"));
    let page = s.secretary.get(&format!("/console/activities/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("未开始签到"));

    let opened = s
        .secretary
        .post(&format!("/console/activities/{id}/open"), &[])
        .await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.text);
    assert_eq!(
        opened.location,
        Some(format!("/console/activities/{id}/live"))
    );
    // A second click does not fail: it leads to the same scene.
    let again = s
        .secretary
        .post(&format!("/console/activities/{id}/open"), &[])
        .await;
    assert_eq!(
        again.location,
        Some(format!("/console/activities/{id}/live"))
    );

    let live = s
        .secretary
        .get(&format!("/console/activities/{id}/live"))
        .await;
    assert_eq!(live.status, StatusCode::OK);
    let session: i64 = live
        .text
        .split("/projector/")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .and_then(|t| t.parse().ok())
        .expect("projector link");
    assert!(
        live.text
            .contains(&format!("/console/sessions/{session}/qr.svg"))
    );
    let svg = s
        .secretary
        .get(&format!("/console/sessions/{session}/qr.svg"))
        .await;
    assert_eq!(svg.status, StatusCode::OK);
    assert!(svg.text.starts_with("<?xml") || svg.text.contains("<svg"));

    let part = s
        .secretary
        .get(&format!("/console/activities/{id}/live/part"))
        .await;
    assert!(
        part.text.contains("<span id=\"arrived-n\">0</span>"),
        "{}",
        part.text
    );
    assert!(part.text.contains("张三") && part.text.contains("李四"));

    use sea_orm::EntityTrait;
    let secret = entity::checkin_session::Entity::find_by_id(session)
        .one(&app.state.db)
        .await
        .expect("db")
        .expect("session")
        .secret;
    let now = chrono::Utc::now();
    let scene = vanguard::checkin::qr::payload(
        &secret,
        session,
        vanguard::checkin::qr::slot_at(now.timestamp(), 60),
    );
    let reply = app.scan("o-zhang", &scene, now.timestamp()).await;
    assert!(reply.unwrap_or_default().contains("签到成功"));
    let part = s
        .secretary
        .get(&format!("/console/activities/{id}/live/part"))
        .await;
    assert!(
        part.text.contains("<span id=\"arrived-n\">1</span>"),
        "{}",
        part.text
    );
    assert!(!part.text.contains("张三"), "no longer missing");

    // 手工签到 needs a reason; the form keeps the choice and says what is missing.
    let li = app
        .get(
            &format!("/api/v1/activities/{id}/attendance?status=missing"),
            &s.admin_token,
        )
        .await
        .body["items"][0]["person_id"]
        .as_i64()
        .expect("li si");
    let no_reason = s
        .secretary
        .post(
            &format!("/console/activities/{id}/checkins"),
            &[
                ("person_id", &li.to_string()),
                ("method", "manual"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST);
    assert!(no_reason.text.contains("请填写原因"));
    let done = s
        .secretary
        .post(
            &format!("/console/activities/{id}/checkins"),
            &[
                ("person_id", &li.to_string()),
                ("method", "manual"),
                ("reason", "无智能手机"),
            ],
        )
        .await;
    assert_eq!(
        done.location,
        Some(format!("/console/activities/{id}/live?entered=recorded"))
    );
    let sheet = s
        .secretary
        .get(&format!("/console/activities/{id}/attendance"))
        .await;
    assert!(sheet.text.contains("手工签到"), "{}", sheet.text);

    let closed = s
        .secretary
        .post(&format!("/console/activities/{id}/close"), &[])
        .await;
    assert_eq!(closed.status, StatusCode::SEE_OTHER);
    let svg = s
        .secretary
        .get(&format!("/console/sessions/{session}/qr.svg"))
        .await;
    assert_eq!(svg.status, StatusCode::CONFLICT, "no QR once closed");
}

#[tokio::test]
async fn console_out_of_scope_activity_is_404_with_no_data() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let start = chrono::Utc::now() + chrono::Duration::hours(1);
    let theirs = create_activity(&s.admin, s.other, "meeting", "别的支部的会议", start).await;
    for path in [
        format!("/console/activities/{theirs}"),
        format!("/console/activities/{theirs}/live"),
        format!("/console/activities/{theirs}/live/part"),
        format!("/console/activities/{theirs}/attendance"),
    ] {
        let r = s.secretary.get(&path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!r.text.contains("别的支部的会议"), "{path} leaks the title");
    }
    let r = s
        .secretary
        .post(&format!("/console/activities/{theirs}/open"), &[])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let list = s.secretary.get("/console/activities").await;
    assert!(!list.text.contains("别的支部的会议"));
    let r = s
        .secretary
        .get(&format!("/console/activities?org={}", s.other))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Creating for another branch by a forged org id changes nothing.
    let form_id = uuid::Uuid::new_v4().simple().to_string();
    let r = s
        .secretary
        .post(
            "/console/activities",
            &[
                ("form_id", &form_id),
                ("org_id", &s.other.to_string()),
                ("kind", "meeting"),
                ("title", "越权"),
                ("starts_at", &local_input(start)),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let all = app
        .get(
            &format!("/api/v1/activities?org_id={}", s.other),
            &s.admin_token,
        )
        .await;
    assert_eq!(all.body.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn the_activity_form_shows_errors_by_the_field_keeps_what_was_typed_and_a_double_submit_creates_one()
 {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let r = s
        .secretary
        .post(
            "/console/activities",
            &[
                ("org_id", &s.branch.to_string()),
                ("kind", "meeting"),
                ("title", ""),
                ("starts_at", "明天下午"),
                ("place", "三楼会议室"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("请填写活动名称"));
    assert!(r.text.contains("请填写开始时间"));
    assert!(
        r.text.contains("value=\"三楼会议室\""),
        "keeps what was typed"
    );

    let start = local_input(chrono::Utc::now() + chrono::Duration::days(1));
    let form = [
        ("form_id", "f0000000000000000000000000000001"),
        ("org_id", &s.branch.to_string()),
        ("kind", "meeting"),
        ("title", "支委会"),
        ("starts_at", &start),
    ];
    let first = s.secretary.post("/console/activities", &form).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let second = s.secretary.post("/console/activities", &form).await;
    assert_eq!(
        second.location.as_deref(),
        Some("/console/activities?dup=1")
    );
    let all = app
        .get(
            &format!("/api/v1/activities?org_id={}", s.branch),
            &s.admin_token,
        )
        .await;
    assert_eq!(all.body.as_array().map(Vec::len), Some(1), "{}", all.text);
}

#[tokio::test]
async fn the_fixed_day_rule_proposes_the_months_day_moved_to_a_working_day() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let bad = s
        .secretary
        .post(
            &format!("/console/orgs/{}/rule", s.branch),
            &[("day_of_month", "32"), ("start_time", "14:00")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("日期须为 1 至 31 的整数"));
    let ok = s
        .secretary
        .post(
            &format!("/console/orgs/{}/rule", s.branch),
            &[
                ("day_of_month", "15"),
                ("start_time", "14:00"),
                ("duration_minutes", "120"),
                ("place", "党员活动室"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    // November 2026: the 15th is a Sunday, so Monday the 16th is proposed.
    let page = s.secretary.get("/console/activities?month=2026-11").await;
    assert!(page.text.contains("每月15日 14:00"), "{}", page.text);
    assert!(page.text.contains("11月16日 14:00"), "{}", page.text);
    assert!(page.text.contains("遇节假日已顺延"));
    assert!(
        page.text.contains("value=\"2026-11-16T14:00\""),
        "the form is filled in"
    );
    let other = s
        .secretary
        .post(
            &format!("/console/orgs/{}/rule", s.other),
            &[("day_of_month", "1"), ("start_time", "09:00")],
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "another branch's rule");
    let audit = app
        .get(
            "/api/v1/audit?action=set_fixed_day_rule",
            &app.operator_account("aud-sec", vanguard::auth::Role::SecurityAdmin, None)
                .await,
        )
        .await;
    assert!(audit.text.contains("set_fixed_day_rule"), "{}", audit.text);
}

#[tokio::test]
async fn vanguard_demo_prints_a_console_login_the_walkthrough_can_use() {
    let app = spawn_app().await;
    let demo = vanguard::demo::run(&app.state, 3, false)
        .await
        .expect("demo seeds");
    let json = serde_json::to_value(&demo).expect("json");
    for key in [
        "session_id",
        "admin_token",
        "console_url",
        "console_username",
        "console_password",
    ] {
        assert!(!json[key].is_null(), "{key} in {json}");
    }
    assert!(demo.console_url.ends_with("/console/login"));
    // The token other tools read still works after the password was set.
    let me = app.get("/api/v1/auth/me", &demo.admin_token).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    let desk = Desk::new(&app);
    let r = desk
        .post(
            "/console/login",
            &[
                ("username", demo.console_username.as_str()),
                ("password", demo.console_password.as_str()),
                ("next", "/console/activities"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let changed = desk
        .post(
            "/console/password",
            &[
                ("current_password", demo.console_password.as_str()),
                ("new_password", "Demo-walkthrough-2026"),
                ("confirm_password", "Demo-walkthrough-2026"),
                ("next", "/console/activities"),
            ],
        )
        .await;
    assert_eq!(changed.location.as_deref(), Some("/console/activities"));
    let list = desk.get("/console/activities").await;
    assert!(list.text.contains("演示主题党日"), "{}", list.text);
}

#[tokio::test]
async fn people_search_by_name_or_number_masks_phones_and_the_contact_read_is_audited() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let zhang = app
        .person(&s.admin_token, "张三", "13800001234", s.branch, "member")
        .await;
    app.person(
        &s.admin_token,
        "别支部的人",
        "13800005678",
        s.other,
        "member",
    )
    .await;
    let list = s.secretary.get("/console/people?q=张").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert!(list.text.contains("张三") && list.text.contains("138****1234"));
    assert!(!list.text.contains("13800001234"), "phones masked in lists");
    assert!(
        !list.text.contains("别支部的人"),
        "only the secretary's branch"
    );
    let other = s
        .secretary
        .get(&format!("/console/people?org={}", s.other))
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);

    let page = s.secretary.get(&format!("/console/people/{zhang}")).await;
    assert!(page.text.contains("查看联系方式") && !page.text.contains("13800001234"));
    let read = s
        .secretary
        .post(&format!("/console/people/{zhang}/contact"), &[])
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert!(read.text.contains("13800001234"));
    let security = app
        .operator_account("sec-admin", vanguard::auth::Role::SecurityAdmin, None)
        .await;
    let audit = app
        .get(
            &format!("/api/v1/audit?action=read_personal&entity_id={zhang}"),
            &security,
        )
        .await;
    assert_eq!(
        audit.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        audit.text
    );
    let forged = s
        .secretary
        .post_from(
            Some("https://evil.example"),
            &format!("/console/people/{zhang}/contact"),
            &[],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}
