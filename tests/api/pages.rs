//! The member's H5 pages, signed in through the real (sandbox) WeChat OAuth flow,
//! and the projector page with the live stream it reads.

use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, StatusCode, header};
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

/// A phone inside WeChat: a cookie jar, redirects followed by hand.
pub struct Phone {
    pub client: reqwest::Client,
    address: String,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Phone {
    pub fn new(app: &TestApp) -> Self {
        Self {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            address: app.address.clone(),
        }
    }

    async fn page(res: reqwest::Response) -> Page {
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

    pub async fn get(&self, path: &str) -> Page {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.address)
        };
        Self::page(self.client.get(url).send().await.expect("get")).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        Self::page(
            self.client
                .post(format!("{}{path}", self.address))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(serde_urlencoded::to_string(form).expect("form"))
                .send()
                .await
                .expect("post"),
        )
        .await
    }

    /// Follows redirects on this origin (at most 5), returning the last page.
    pub async fn follow(&self, mut page: Page) -> Page {
        for _ in 0..5 {
            match (&page.status, &page.location) {
                (s, Some(to)) if s.is_redirection() => page = self.get(to).await,
                _ => break,
            }
        }
        page
    }

    /// Signs in as `openid` the way WeChat does it: the page sends the member to
    /// OAuth, the sandbox's stand-in for WeChat's authorize page issues a code, the
    /// callback turns it into the session cookie. Returns where the callback sent us.
    pub async fn sign_in(&self, openid: &str, next: &str) -> Page {
        let start = self
            .get(&format!(
                "/wechat/oauth/start?{}",
                serde_urlencoded::to_string([("next", next)]).expect("query")
            ))
            .await;
        assert_eq!(start.status, StatusCode::FOUND);
        let authorize = start.location.expect("to the authorize page");
        assert!(authorize.starts_with("/sandbox/oauth?"), "{authorize}");
        let page = self.get(&authorize).await;
        assert_eq!(page.status, StatusCode::OK, "the sandbox OAuth page");
        let state = url::Url::parse(&format!("http://x{authorize}"))
            .expect("url")
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .expect("state");
        let granted = self
            .post("/sandbox/oauth", &[("state", &state), ("openid", openid)])
            .await;
        assert_eq!(granted.status, StatusCode::FOUND);
        let callback = granted.location.expect("to the callback");
        assert!(
            callback.starts_with("/wechat/oauth/callback?code="),
            "{callback}"
        );
        let back = self.get(&callback).await;
        assert_eq!(back.status, StatusCode::FOUND, "{}", back.text);
        back
    }
}

pub struct Branch {
    pub admin: String,
    pub committee: i64,
    pub branch: i64,
    pub other: i64,
    pub secretary: String,
}

pub async fn branch(app: &TestApp) -> Branch {
    let admin = app.admin_token().await;
    let committee = app.org(&admin, "C", "committee", None).await;
    let branch = app.org(&admin, "B", "branch", Some(committee)).await;
    let other = app.org(&admin, "B2", "branch", Some(committee)).await;
    let (_, secretary) = app
        .account(&admin, "sec-b", "secretary", Some(branch))
        .await;
    Branch {
        admin,
        committee,
        branch,
        other,
        secretary,
    }
}

/// A fixed day of `org` starting at `start`, one hour long; its id.
pub async fn fixed_day(
    app: &TestApp,
    token: &str,
    org: i64,
    title: &str,
    start: DateTime<Utc>,
) -> i64 {
    let r = app
        .post(
            "/api/v1/activities",
            token,
            json!({"org_id": org, "kind": "fixed_day", "title": title, "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(1)).to_rfc3339()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_i64().expect("activity id")
}

/// An admin's correction adding a check-in at the start: attended on time.
pub async fn attended(app: &TestApp, admin: &str, activity: i64, person: i64, at: DateTime<Utc>) {
    let r = app
        .post(
            &format!("/api/v1/activities/{activity}/corrections"),
            admin,
            json!({"person_id": person, "action": "add", "at": at.to_rfc3339(), "reason": "现场签到表核实"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn member_pages_go_through_wechat_sign_in_and_binding() {
    let app = spawn_app().await;
    let b = branch(&app).await;
    let phone = Phone::new(&app);
    let first = phone.get("/m/").await;
    assert_eq!(first.status, StatusCode::FOUND);
    assert_eq!(
        first.location.as_deref(),
        Some("/wechat/oauth/start?next=%2Fm%2F"),
        "no session: through WeChat OAuth and back"
    );
    // An openid not on the roster yet is sent to the binding page, then home.
    let back = phone.sign_in("o-new-member", "/m/").await;
    assert_eq!(back.location.as_deref(), Some("/wechat/bind?next=%2Fm%2F"));
    let again = phone.get("/m/").await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert!(
        again
            .location
            .as_deref()
            .is_some_and(|l| l.starts_with("/wechat/bind")),
        "{:?}",
        again.location
    );
    app.person(&b.admin, "新党员", "13800000009", b.branch, "member")
        .await;
    let bound = phone
        .post(
            "/wechat/bind",
            &[
                ("name", "新党员"),
                ("phone", "13800000009"),
                ("next", "/m/"),
            ],
        )
        .await;
    assert_eq!(bound.location.as_deref(), Some("/m/"), "{}", bound.text);
    let home = phone.get("/m/").await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.text);
    assert!(home.text.contains("新党员") && home.text.contains("B 组织"));
    let csp = home
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
}

/// The member's own score, stars, status, ledger (the engine's Chinese notes) and
/// attendance; no phone numbers, nobody else, and no rank while the branch keeps it off.
#[tokio::test]
async fn a_bound_member_sees_their_own_score_ledger_and_attendance_only() {
    let app = spawn_app().await;
    let b = branch(&app).await;
    let me = app
        .person(&b.admin, "王小明", "13800000001", b.branch, "member")
        .await;
    let other = app
        .person(&b.admin, "李其他", "13800000002", b.branch, "member")
        .await;
    app.bind(me, "o-me").await;
    let start = Utc::now() - Duration::hours(3);
    let day = fixed_day(&app, &b.secretary, b.branch, "十月主题党日", start).await;
    attended(&app, &b.admin, day, me, start).await;
    attended(&app, &b.admin, day, other, start).await;
    let missed = fixed_day(
        &app,
        &b.secretary,
        b.branch,
        "十一月主题党日",
        start + Duration::minutes(30),
    )
    .await;
    let _ = missed;
    let phone = Phone::new(&app);
    let back = phone.sign_in("o-me", "/m/").await;
    assert_eq!(back.location.as_deref(), Some("/m/"));
    let home = phone.get("/m/").await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.text);
    let t = &home.text;
    assert!(
        t.contains("王小明") && t.contains("正式党员") && t.contains("B 组织"),
        "{t}"
    );
    assert!(t.contains("年度积分") && t.contains(">5 <"), "score 5: {t}");
    assert!(
        t.contains("★") && t.contains("1 星"),
        "XH-17: 1 star below 60: {t}"
    );
    assert!(t.contains("状态：正常计分"), "{t}");
    assert!(
        t.contains("XH-8.1") && t.contains("+5"),
        "the ledger with the engine's notes: {t}"
    );
    assert!(
        t.contains("十月主题党日") && t.contains("按时签到"),
        "attendance: {t}"
    );
    assert!(
        t.contains("十一月主题党日") && t.contains("去补学"),
        "a missed day offers make-up: {t}"
    );
    for leak in [
        "13800000001",
        "138****0001",
        "13800000002",
        "李其他",
        "排名",
    ] {
        assert!(!t.contains(leak), "the page shows {leak}");
    }
}

/// Own rank only where the member's branch turns `show_rank_to_members` on; a committee
/// above turning it on does not switch it on for its branches.
#[tokio::test]
async fn own_rank_is_shown_only_when_the_branch_turns_it_on() {
    let app = spawn_app().await;
    let b = branch(&app).await;
    let me = app
        .person(&b.admin, "王小明", "13800000001", b.branch, "member")
        .await;
    let other = app
        .person(&b.admin, "李其他", "13800000002", b.branch, "member")
        .await;
    app.bind(me, "o-me").await;
    let start = Utc::now() - Duration::hours(3);
    let day = fixed_day(&app, &b.secretary, b.branch, "十月主题党日", start).await;
    attended(&app, &b.admin, day, other, start).await;
    attended(&app, &b.admin, day, me, start + Duration::minutes(5)).await;
    let phone = Phone::new(&app);
    phone.sign_in("o-me", "/m/").await;
    assert!(
        !phone.get("/m/").await.text.contains("排名"),
        "off by default"
    );
    let r = app
        .patch(
            &format!("/api/v1/orgs/{}", b.committee),
            &b.admin,
            json!({"show_rank_to_members": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        !phone.get("/m/").await.text.contains("排名"),
        "the branch decides, not the committee above it"
    );
    let r = app
        .patch(
            &format!("/api/v1/orgs/{}", b.branch),
            &b.admin,
            json!({"show_rank_to_members": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let home = phone.get("/m/").await;
    assert!(
        home.text.contains("本支部排名：第 2 名（共 2 人）"),
        "late +3 behind on time +5: {}",
        home.text
    );
    assert!(!home.text.contains("李其他"), "never the others' names");
}

/// XH-20: an exempt member sees 免评, without a score or rank.
#[tokio::test]
async fn xh_20_an_exempt_member_sees_mianping() {
    let app = spawn_app().await;
    let b = branch(&app).await;
    let me = app
        .person(&b.admin, "老同志", "13800000001", b.branch, "member")
        .await;
    app.bind(me, "o-old").await;
    let year: i32 = Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y")
        .to_string()
        .parse()
        .expect("year");
    let r = app
        .post(
            &format!("/api/v1/people/{me}/exemptions"),
            &b.admin,
            json!({"year": year, "reason": "年老体弱", "approver": "区委组织部", "approved_on": format!("{year}-01-05")}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    app.patch(
        &format!("/api/v1/orgs/{}", b.branch),
        &b.admin,
        json!({"show_rank_to_members": true}),
    )
    .await;
    let phone = Phone::new(&app);
    phone.sign_in("o-old", "/m/").await;
    let home = phone.get("/m/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.text.contains("免评"), "{}", home.text);
    assert!(!home.text.contains("本支部排名") && !home.text.contains("状态：正常计分"));
}

/// The projector page is served for the session and loads its script from this
/// origin; the data comes only after signing in (nothing about the activity is in the page).
#[tokio::test]
async fn the_projector_page_is_served_and_references_its_session() {
    let app = spawn_app().await;
    let b = branch(&app).await;
    let start = Utc::now() + Duration::minutes(10);
    let day = fixed_day(&app, &b.secretary, b.branch, "投屏党日", start).await;
    let s = app
        .request(
            Method::POST,
            &format!("/api/v1/activities/{day}/sessions"),
            Some(&b.secretary),
            None,
        )
        .await;
    assert_eq!(s.status, StatusCode::CREATED, "{}", s.text);
    let session = s.body["id"].as_i64().expect("session");
    let projector_url = s.body["projector_url"].as_str().expect("url").to_owned();
    assert!(projector_url.ends_with(&format!("/projector/{session}")));

    let phone = Phone::new(&app);
    let page = phone.get(&projector_url).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains(&format!("data-session=\"{session}\"")));
    assert!(page.text.contains("data-compact=\"0\""));
    assert!(page.text.contains("<script src=\"/assets/projector.js\">"));
    assert!(!page.text.contains("投屏党日"), "no data before signing in");
    assert!(
        !page.text.contains("http://") && !page.text.contains("https://"),
        "no external assets"
    );
    let csp = page
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let compact = phone.get(&format!("/projector/{session}?compact=1")).await;
    assert_eq!(compact.status, StatusCode::OK);
    assert!(compact.text.contains("data-compact=\"1\"") && compact.text.contains("未签到"));

    let js = phone.get("/assets/projector.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(
        js.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/javascript"))
    );
    for needle in [
        "/api/v1/auth/login",
        "sessionStorage",
        "'/live'",
        "getReader()",
        "/qr.svg",
        "expires_at",
        "attendance?status=missing",
    ] {
        assert!(js.text.contains(needle), "the script uses {needle}");
    }
    assert!(
        !js.text.contains("innerHTML"),
        "text is written with textContent only"
    );
    assert_eq!(
        phone.get("/projector/abc").await.status,
        StatusCode::NOT_FOUND
    );
}

/// What the projector reads: the live stream (bearer token, fetch-readable) sends the
/// counts at once and each check-in with a masked name, well within a second.
#[tokio::test]
async fn the_live_stream_the_projector_reads_announces_check_ins_at_once() {
    let app = spawn_app().await;
    let b = branch(&app).await;
    let start = Utc::now() + Duration::minutes(10);
    let day = fixed_day(&app, &b.secretary, b.branch, "投屏党日", start).await;
    let s = app
        .request(
            Method::POST,
            &format!("/api/v1/activities/{day}/sessions"),
            Some(&b.secretary),
            None,
        )
        .await;
    let session = s.body["id"].as_i64().expect("session");
    let me = app
        .person(&b.admin, "王小明", "13800000001", b.branch, "member")
        .await;
    app.bind(me, "o-me").await;
    let mut live = app
        .client
        .get(format!("{}/api/v1/sessions/{session}/live", app.address))
        .bearer_auth(&b.secretary)
        .header(header::ACCEPT, "text/event-stream")
        .send()
        .await
        .expect("live");
    assert_eq!(live.status(), StatusCode::OK);
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !seen.contains("event: counts") && std::time::Instant::now() < deadline {
        if let Ok(Ok(Some(chunk))) =
            tokio::time::timeout(std::time::Duration::from_secs(5), live.chunk()).await
        {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    assert!(
        seen.contains("event: counts") && seen.contains("\"expected\":1"),
        "{seen}"
    );
    let qr = app
        .get(&format!("/api/v1/sessions/{session}/qr"), &b.secretary)
        .await;
    let scene = qr.body["scene"].as_str().expect("scene").to_owned();
    let reply = app
        .scan("o-me", &scene, Utc::now().timestamp())
        .await
        .expect("reply");
    assert!(reply.starts_with("签到成功"), "{reply}");
    let scanned = std::time::Instant::now();
    let mut event = String::new();
    while !event.contains("event: checkin") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(1), live.chunk())
            .await
            .expect("the check-in arrives within a second")
            .expect("stream")
            .expect("chunk");
        event.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(scanned.elapsed() < std::time::Duration::from_secs(1));
    assert!(
        event.contains("\"name\":\"王*明\"") && event.contains("\"class\":\"on_time\""),
        "{event}"
    );
    assert!(!event.contains("王小明"), "masked on the projector");
}
