//! Issue 13, finding 6: the live stream is re-authorized while it runs, shares one
//! computation per session across viewers, and an account holds at most five.

use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Spawn, TestApp, spawn_app_with};

/// Re-checks every second (the default is 15 s, at most 30), one recount a minute.
const FAST: &str = "[checkin]\nlive_recheck_seconds = 1\nlive_counts_seconds = 60\n";

struct Setup {
    app: TestApp,
    admin: String,
    branch: i64,
    session: i64,
}

async fn setup() -> Setup {
    let app = spawn_app_with(Spawn { extra: FAST.into() }).await;
    let admin = app.admin_token().await;
    let c = app.org(&admin, "C", "committee", None).await;
    let branch = app.org(&admin, "B", "branch", Some(c)).await;
    let start = Utc::now() + chrono::Duration::minutes(10);
    let r = app
        .post(
            "/api/v1/activities",
            &admin,
            json!({"org_id": branch, "kind": "fixed_day", "title": "投屏党日", "starts_at": start.to_rfc3339(), "ends_at": (start + chrono::Duration::hours(2)).to_rfc3339()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let activity = r.body["id"].as_i64().expect("id");
    let r = app
        .request(
            Method::POST,
            &format!("/api/v1/activities/{activity}/sessions"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let session = r.body["id"].as_i64().expect("session");
    Setup {
        app,
        admin,
        branch,
        session,
    }
}

async fn open(s: &Setup, token: &str) -> reqwest::Response {
    s.app
        .client
        .get(format!(
            "{}/api/v1/sessions/{}/live",
            s.app.address, s.session
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("live")
}

/// Opens a stream and reads up to its first `counts` event.
async fn watch(s: &Setup, token: &str) -> reqwest::Response {
    let mut live = open(s, token).await;
    assert_eq!(live.status(), StatusCode::OK);
    let mut seen = String::new();
    while !seen.contains("event: counts") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), live.chunk())
            .await
            .expect("counts at once")
            .expect("stream")
            .expect("chunk");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    live
}

/// True when the server ends the stream within `within`.
async fn ends_within(live: &mut reqwest::Response, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        match tokio::time::timeout(deadline - Instant::now(), live.chunk()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) | Ok(Err(_)) => return true,
            Err(_) => return false,
        }
    }
    false
}

/// Finding 6: a stream authorized when it opened ends soon after its viewer logs out,
/// is disabled, or the session closes; other streams go on meanwhile.
#[tokio::test]
async fn live_stream_ends_after_logout_disable_or_session_close() {
    let s = setup().await;
    let (_, sec_a) = s
        .app
        .account(&s.admin, "sec-a", "secretary", Some(s.branch))
        .await;
    let (b_id, sec_b) = s
        .app
        .account(&s.admin, "sec-b", "secretary", Some(s.branch))
        .await;
    let mut by_a = watch(&s, &sec_a).await;
    let mut by_b = watch(&s, &sec_b).await;
    let mut by_admin = watch(&s, &s.admin).await;

    let r = s
        .app
        .request(Method::POST, "/api/v1/auth/logout", Some(&sec_a), None)
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    assert!(
        ends_within(&mut by_a, Duration::from_secs(5)).await,
        "stream still open 5 s after logout"
    );
    assert!(
        !ends_within(&mut by_admin, Duration::from_secs(2)).await,
        "others go on"
    );

    let r = s
        .app
        .patch(
            &format!("/api/v1/accounts/{b_id}"),
            &s.admin,
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        ends_within(&mut by_b, Duration::from_secs(5)).await,
        "stream still open 5 s after the account was disabled"
    );

    let r = s
        .app
        .request(
            Method::POST,
            &format!("/api/v1/sessions/{}/close", s.session),
            Some(&s.admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        ends_within(&mut by_admin, Duration::from_secs(5)).await,
        "stream still open 5 s after the session closed"
    );
}

/// Finding 6: the sixth stream of one account is refused with a Chinese 429; a stream
/// that ends gives its place back.
#[tokio::test]
async fn sixth_live_stream_of_an_account_is_refused() {
    let s = setup().await;
    let mut streams = Vec::new();
    for _ in 0..5 {
        streams.push(watch(&s, &s.admin).await);
    }
    let sixth = open(&s, &s.admin).await;
    assert_eq!(
        sixth.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a sixth stream"
    );
    let problem: serde_json::Value = sixth.json().await.expect("problem");
    assert_eq!(problem["code"], "rate_limited");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("最多同时打开 5 个"),
        "{problem}"
    );
    drop(streams.pop());
    let mut freed = false;
    for _ in 0..50 {
        let again = open(&s, &s.admin).await;
        if again.status() == StatusCode::OK {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(freed, "a closed stream frees its place");
}

/// Finding 6: three viewers of one session are served by one feed and one attendance
/// computation on this instance (not one each every few seconds).
#[tokio::test]
async fn viewers_of_a_session_share_one_attendance_computation() {
    let s = setup().await;
    let (_, sec) = s
        .app
        .account(&s.admin, "sec-a", "secretary", Some(s.branch))
        .await;
    let hub = &s.app.state.live_streams;
    let before = hub.computations();
    let _a = watch(&s, &s.admin).await;
    let _b = watch(&s, &sec).await;
    let _c = watch(&s, &s.admin).await;
    assert_eq!(hub.feeds(), 1, "one feed for the session");
    assert_eq!(
        hub.computations() - before,
        1,
        "one computation for three viewers"
    );
}
