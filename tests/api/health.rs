use reqwest::{Method, StatusCode};

use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_readyz_and_metrics_answer() {
    let app = crate::helpers::spawn_app_with(crate::helpers::Spawn {
        extra: "[metrics]\npublic = true\n".into(),
    })
    .await;
    let r = app.request(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.request(Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["database"], true);
    assert_eq!(r.body["live_store"], true);
    let r = app.request(Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.text.contains(
            "vanguard_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"
        ),
        "{}",
        r.text
    );
    assert!(r.text.contains("vanguard_db_pool_connections"));
}

#[tokio::test]
async fn unknown_path_is_a_json_problem() {
    let app = spawn_app().await;
    let r = app
        .request(Method::GET, "/api/v1/nothing-here", None, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["code"], "not_found");
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("application/problem+json")
    );
}

#[tokio::test]
async fn oversize_and_malformed_json_bodies_are_refused_clearly() {
    let app = spawn_app().await;
    let big = "x".repeat(300_000);
    let r = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(serde_json::json!({"username": big, "password": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert_eq!(r.body["code"], "payload_too_large");
    let res = app
        .client
        .post(format!("{}/api/v1/auth/login", app.address))
        .header("Content-Type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["code"], "validation_failed");
}

#[tokio::test]
async fn openapi_document_is_served() {
    let app = spawn_app().await;
    let r = app
        .request(Method::GET, "/api/openapi.json", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["paths"]["/api/v1/auth/login"]["post"].is_object());
    assert!(r.body["components"]["securitySchemes"]["bearer"].is_object());
}
