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
