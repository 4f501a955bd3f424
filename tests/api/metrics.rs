//! Issue 13, finding 7: `/metrics` is not public by default, and its labels are bounded.

use reqwest::{Method, StatusCode};

use crate::helpers::{Spawn, spawn_app, spawn_app_with};

const TOKEN: &str = "scrape-token-0123456789";

/// Finding 7: under the shipped defaults nobody on the main listener reads `/metrics`
/// (it answers as if absent); a scraper with `metrics.token` does. Thirty made-up HTTP
/// methods and raw ids make no new series: methods fold into `other`, paths into their
/// route pattern.
#[tokio::test]
async fn metrics_are_not_public_and_labels_are_bounded() {
    let app = spawn_app().await;
    let r = app.request(Method::GET, "/metrics", None, None).await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "public metrics: {}",
        r.text
    );
    assert_eq!(r.body["code"], "not_found");

    let app = spawn_app_with(Spawn {
        extra: format!("[metrics]\ntoken = \"{TOKEN}\"\n"),
    })
    .await;
    let r = app.request(Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .request(
            Method::GET,
            "/metrics",
            Some("wrong-token-0123456789"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    for i in 0..30 {
        let m = Method::from_bytes(format!("FOO{i}").as_bytes()).expect("method");
        app.request(m, "/healthz", None, None).await;
    }
    let admin = app.admin_token().await;
    for id in [1, 2, 3, 987_654] {
        app.get(&format!("/api/v1/people/{id}"), &admin).await;
    }
    let r = app
        .request(Method::GET, "/metrics", Some(TOKEN), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let series: Vec<&str> = r
        .text
        .lines()
        .filter(|l| l.starts_with("vanguard_http_requests_total{"))
        .collect();
    assert!(!r.text.contains("FOO"), "{}", r.text);
    assert!(
        series
            .iter()
            .any(|l| l.contains("method=\"other\",route=\"/healthz\"") && l.ends_with(" 30")),
        "{series:#?}"
    );
    assert!(
        !r.text.contains("/api/v1/people/987654") && !r.text.contains("/api/v1/people/1\""),
        "raw paths as labels: {series:#?}"
    );
    assert!(
        r.text.contains("route=\"/api/v1/people/{person_id}\""),
        "{series:#?}"
    );
}

/// Finding 7: with `metrics.listen` the metrics live on their own address only.
#[tokio::test]
async fn metrics_on_their_own_listen_address_only() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let app = spawn_app_with(Spawn {
        extra: format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\npublic = true\n"),
    })
    .await;
    let r = app.request(Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "main listener: {}", r.text);
    let res = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .expect("metrics listener");
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.expect("text");
    assert!(text.contains("vanguard_db_pool_connections"), "{text}");
    let res = app
        .client
        .get(format!("http://127.0.0.1:{port}/api/v1/people"))
        .send()
        .await
        .expect("metrics listener");
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "only /metrics there");
}
