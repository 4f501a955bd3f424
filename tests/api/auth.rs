use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{JWT_SECRET, Spawn, spawn_app, spawn_app_with};

#[tokio::test]
async fn initial_admin_logs_in_with_the_printed_password_only() {
    let app = spawn_app().await;
    assert!(
        app.admin_password.len() >= 10,
        "a random password, never a fixed default"
    );
    let ok = app.login("admin", &app.admin_password).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    for key in ["access_token", "refresh_token", "expires_in"] {
        assert!(!ok.body[key].is_null(), "{key} in {}", ok.text);
    }
    assert_eq!(ok.body["must_change_password"], true);
    let bad = app.login("admin", "admin").await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bad.body["code"], "invalid_credentials");
    let unknown = app.login("nobody", "whatever123").await;
    assert_eq!(
        unknown.body["code"], "invalid_credentials",
        "same answer for an unknown user"
    );
}

#[tokio::test]
async fn a_second_start_does_not_create_another_admin() {
    let app = spawn_app().await;
    let again = vanguard::auth::service::ensure_initial_admin(&app.state)
        .await
        .expect("runs");
    assert_eq!(again, None);
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_refresh_token_ends_the_session() {
    let app = spawn_app().await;
    let login = app.login("admin", &app.admin_password).await;
    let refresh1 = login.body["refresh_token"].as_str().expect("rt").to_owned();
    let r = app
        .request(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let refresh2 = r.body["refresh_token"].as_str().expect("rt").to_owned();
    let access2 = r.body["access_token"].as_str().expect("at").to_owned();
    assert_ne!(refresh1, refresh2);
    assert_eq!(
        app.get("/api/v1/auth/me", &access2).await.status,
        StatusCode::OK
    );
    // The old one again: theft is assumed and the whole session ends.
    let reuse = app
        .request(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh1})),
        )
        .await;
    assert_eq!(reuse.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/api/v1/auth/me", &access2).await.status,
        StatusCode::UNAUTHORIZED
    );
    let later = app
        .request(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh2})),
        )
        .await;
    assert_eq!(later.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_revokes_access_and_refresh_tokens() {
    let app = spawn_app().await;
    let login = app.login("admin", &app.admin_password).await;
    let access = login.body["access_token"].as_str().expect("at").to_owned();
    let refresh = login.body["refresh_token"].as_str().expect("rt").to_owned();
    let r = app
        .request(Method::POST, "/api/v1/auth/logout", Some(&access), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
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

#[tokio::test]
async fn expired_and_tampered_tokens_are_refused() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let mut tampered = token.clone();
    let last = tampered.pop().expect("char");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let r = app.get("/api/v1/auth/me", &tampered).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // The same session, signed with the right key, but expired.
    let claims: serde_json::Value = {
        use base64::Engine;
        let payload = token.split('.').nth(1).expect("payload");
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .expect("b64"),
        )
        .expect("json")
    };
    let keys = vanguard::auth::token::TokenKeys::new(JWT_SECRET.as_bytes(), 60, 3600);
    let expired = keys
        .issue(
            claims["sub"].as_str().expect("sub").parse().expect("id"),
            claims["sid"].as_str().expect("sid"),
            chrono::Utc::now() - chrono::Duration::hours(1),
        )
        .expect("issue");
    let r = app.get("/api/v1/auth/me", &expired).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["code"], "token_expired");
    let r = app
        .request(Method::GET, "/api/v1/auth/me", None, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_is_rate_limited_per_account_and_per_ip() {
    let app = spawn_app_with(Spawn {
        extra: "[auth]\nlogin_max_failures_per_account = 3\nlogin_max_failures_per_ip = 5\n"
            .to_owned(),
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            app.login("admin", "wrong-password-1").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = app.login("admin", &app.admin_password).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits: {}",
        r.text
    );
    assert_eq!(r.body["code"], "rate_limited");
    // Other accounts from the same address: the per-IP limit trips at 5 failures.
    for name in ["u1", "u2"] {
        assert_eq!(
            app.login(name, "wrong-password-1").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.login("u3", "wrong-password-1").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn password_change_needs_the_current_password_and_ends_other_logins() {
    let app = spawn_app().await;
    let t1 = app.admin_token().await;
    let t2 = app.admin_token().await;
    let weak = app
        .post(
            "/api/v1/auth/password",
            &t1,
            json!({"current_password": app.admin_password, "new_password": "short"}),
        )
        .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    let wrong = app
        .post(
            "/api/v1/auth/password",
            &t1,
            json!({"current_password": "nope-nope-1", "new_password": "Another-passw0rd"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let ok = app
        .post(
            "/api/v1/auth/password",
            &t1,
            json!({"current_password": app.admin_password, "new_password": "Another-passw0rd"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}", ok.text);
    assert_eq!(app.get("/api/v1/auth/me", &t1).await.status, StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/auth/me", &t2).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("admin", &app.admin_password).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("admin", "Another-passw0rd").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn disabling_an_account_ends_its_logins_and_security_admin_resets_passwords() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let c = app.org(&admin, "C1", "committee", None).await;
    let b = app.org(&admin, "B1", "branch", Some(c)).await;
    let (sid, stoken) = app.account(&admin, "sec-b1", "secretary", Some(b)).await;
    let r = app
        .patch(
            &format!("/api/v1/accounts/{sid}"),
            &admin,
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        app.get("/api/v1/auth/me", &stoken).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = app.login("sec-b1", "Passw0rd-for-tests").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body["code"], "account_disabled");
    app.patch(
        &format!("/api/v1/accounts/{sid}"),
        &admin,
        json!({"disabled": false}),
    )
    .await;

    // Admins do not reset passwords; security admins do.
    let r = app
        .post(
            &format!("/api/v1/accounts/{sid}/reset-password"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let sec = app
        .operator_account("secadmin", vanguard::auth::Role::SecurityAdmin, Some(c))
        .await;
    let r = app
        .request(
            Method::POST,
            &format!("/api/v1/accounts/{sid}/reset-password"),
            Some(&sec),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let new = r.body["password"].as_str().expect("password").to_owned();
    assert_eq!(
        app.login("sec-b1", "Passw0rd-for-tests").await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = app.login("sec-b1", &new).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["must_change_password"], true);
}

#[tokio::test]
async fn admins_create_secretaries_but_not_security_admins() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let c = app.org(&admin, "C1", "committee", None).await;
    let r = app
        .post(
            "/api/v1/accounts",
            &admin,
            json!({"username": "sa2", "role": "security_admin", "org_id": c}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post(
            "/api/v1/accounts",
            &admin,
            json!({"username": "sec9", "role": "secretary", "org_id": c}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "a secretary belongs to a branch: {}",
        r.text
    );
    let b = app.org(&admin, "B1", "branch", Some(c)).await;
    let r = app
        .post(
            "/api/v1/accounts",
            &admin,
            json!({"username": "sec9", "role": "secretary", "org_id": b}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let generated = r.body["initial_password"]
        .as_str()
        .expect("generated password shown once");
    assert!(generated.len() >= 10);
    let r = app
        .post(
            "/api/v1/accounts",
            &admin,
            json!({"username": "SEC9", "role": "secretary", "org_id": b}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "usernames are case-insensitive"
    );
}
