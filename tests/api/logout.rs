//! Logging out on a shared PC (the projector) ends the login on the server even when
//! the access token has expired: the refresh token alone ends it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{JWT_SECRET, spawn_app};

#[tokio::test]
async fn shared_pc_logout_ends_the_login_even_when_the_access_token_expired() {
    let app = spawn_app().await;
    let login = app.login("admin", &app.admin_password).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    let access = login.body["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    let refresh = login.body["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    // The same login's access token, expired (as on a projector left overnight).
    let claims: Value = {
        use base64::Engine;
        let payload = access.split('.').nth(1).unwrap_or_default();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .expect("payload"),
        )
        .expect("claims")
    };
    let expired = vanguard::auth::token::TokenKeys::new(JWT_SECRET.as_bytes(), 60, 3600)
        .issue(
            claims["sub"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("sub"),
            claims["sid"].as_str().expect("sid"),
            chrono::Utc::now() - chrono::Duration::hours(2),
        )
        .expect("issue");
    let r = app
        .request(Method::POST, "/api/v1/auth/logout", Some(&expired), None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "the old way cannot end it"
    );
    // A wrong secret for the same session changes nothing.
    let sid = refresh.split('.').next().expect("sid");
    let r = app
        .request(
            Method::POST,
            "/api/v1/auth/end",
            None,
            Some(json!({"refresh_token": format!("{sid}.wrong")})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(
        app.get("/api/v1/auth/me", &access).await.status,
        StatusCode::OK
    );
    // The refresh token ends it: neither token works afterwards.
    let r = app
        .request(
            Method::POST,
            "/api/v1/auth/end",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        app.get("/api/v1/auth/me", &access).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = app
        .request(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// The projector signs in with a token limited to one session's QR and live count,
/// not the secretary's full access; ending it on the server works with the token alone.
#[tokio::test]
async fn projector_token_reads_only_its_sessions_qr_and_live_count_and_ends_on_the_server() {
    let app = spawn_app().await;
    let b = crate::pages::branch(&app).await;
    let start = chrono::Utc::now() + chrono::Duration::minutes(5);
    let act = crate::pages::fixed_day(&app, &b.admin, b.branch, "党日", start).await;
    let other = crate::pages::fixed_day(&app, &b.admin, b.branch, "另一活动", start).await;
    let mut sessions = Vec::new();
    for a in [act, other] {
        let r = app
            .request(
                Method::POST,
                &format!("/api/v1/activities/{a}/sessions"),
                Some(&b.secretary),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        sessions.push(r.body["id"].as_i64().expect("session"));
    }
    let (sid, sid2) = (sessions[0], sessions[1]);
    let r = app
        .request(
            Method::POST,
            &format!("/api/v1/sessions/{sid}/projector"),
            Some(&b.secretary),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["activity_title"], "党日");
    let token = r.body["token"].as_str().expect("token").to_owned();
    let get = |path: String| {
        let app = &app;
        let token = token.clone();
        async move {
            app.client
                .get(format!("{}{path}", app.address))
                .bearer_auth(token)
                .send()
                .await
                .expect("get")
        }
    };
    for path in [
        format!("/api/v1/sessions/{sid}"),
        format!("/api/v1/sessions/{sid}/qr"),
        format!("/api/v1/sessions/{sid}/qr.svg"),
        format!("/api/v1/sessions/{sid}/live"),
    ] {
        let r = get(path.clone()).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
    // Nothing else: another session, the names list, the activity, writes.
    assert_eq!(
        get(format!("/api/v1/sessions/{sid2}/qr")).await.status(),
        StatusCode::FORBIDDEN
    );
    for path in [
        format!("/api/v1/sessions/{sid}/attendance"),
        format!("/api/v1/activities/{act}"),
        "/api/v1/auth/me".to_owned(),
    ] {
        assert_eq!(
            get(path.clone()).await.status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    let r = app
        .request(
            Method::POST,
            &format!("/api/v1/sessions/{sid}/close"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A wrong secret ends nothing; the token itself ends it.
    let (id_part, _) = token.rsplit_once('.').expect("token");
    let r = app
        .request(
            Method::POST,
            "/api/v1/projector/end",
            None,
            Some(json!({"token": format!("{id_part}.wrong")})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(format!("/api/v1/sessions/{sid}/qr")).await.status(),
        StatusCode::OK
    );
    let r = app
        .request(
            Method::POST,
            "/api/v1/projector/end",
            None,
            Some(json!({"token": token})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        get(format!("/api/v1/sessions/{sid}/qr")).await.status(),
        StatusCode::UNAUTHORIZED
    );
}
