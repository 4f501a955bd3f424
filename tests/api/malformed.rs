//! Issue 13, finding 10: the API's own description and its answers to malformed input.

use reqwest::{StatusCode, header};
use serde_json::Value;

use crate::helpers::spawn_app;
use crate::pages::Phone;

/// Finding 10: every parameter the document declares `in: path` is a `{name}` of the
/// operation's path template (and every `{name}` is declared), so query parameters
/// (`org_id`, `limit`, `year`, …) are `in: query` and generated clients work.
#[tokio::test]
async fn openapi_declares_query_parameters_in_query_not_in_path() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(format!("{}/api/openapi.json", app.address))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let mut wrong = Vec::new();
    let mut queries = 0;
    for (template, item) in doc["paths"].as_object().expect("paths") {
        let placeholders: Vec<&str> = template
            .split('{')
            .skip(1)
            .filter_map(|s| s.split('}').next())
            .collect();
        for (method, op) in item.as_object().expect("operations") {
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            for p in &params {
                let name = p["name"].as_str().expect("name");
                match p["in"].as_str().expect("in") {
                    "path" if !placeholders.contains(&name) => {
                        wrong.push(format!("{method} {template}: `{name}` declared in: path"));
                    }
                    "query" if placeholders.contains(&name) => {
                        wrong.push(format!("{method} {template}: `{name}` is in the path"));
                    }
                    "query" => queries += 1,
                    _ => {}
                }
            }
            for ph in &placeholders {
                if !params.iter().any(|p| p["name"] == *ph && p["in"] == "path") {
                    wrong.push(format!("{method} {template}: `{{{ph}}}` not declared"));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(
        queries >= 20,
        "the query parameters are all there ({queries})"
    );
}

/// serde and actix speak English; none of it may reach a user.
fn assert_no_serde_text(text: &str) {
    for english in [
        "parse",
        "invalid",
        "expected",
        "line ",
        "column",
        "premature",
        "missing field",
        "unknown field",
        "Json",
        "deserialize",
        "i64",
    ] {
        assert!(!text.contains(english), "`{english}` leaked: {text}");
    }
}

fn has_chinese(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// Finding 10: a malformed path segment, query, JSON body or form answers a Chinese RFC
/// 9457 problem with a stable code on the API, and a Chinese HTML page in a browser,
/// never serde's English.
#[tokio::test]
async fn malformed_input_answers_chinese_problems_and_pages_without_serde_text() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let api = |method: reqwest::Method, path: &str| {
        app.client
            .request(method, format!("{}{path}", app.address))
            .bearer_auth(&admin)
    };
    let cases: Vec<(&str, reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            "bad path segment",
            api(reqwest::Method::GET, "/api/v1/people/abc"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "bad query",
            api(reqwest::Method::GET, "/api/v1/people?limit=abc"),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            "unknown query key",
            api(reqwest::Method::GET, "/api/v1/audit?lmit=5"),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            "truncated JSON",
            api(reqwest::Method::POST, "/api/v1/orgs")
                .header(header::CONTENT_TYPE, "application/json")
                .body(r#"{"name": "支部", "code": "#),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            "JSON of the wrong shape",
            api(reqwest::Method::POST, "/api/v1/orgs")
                .header(header::CONTENT_TYPE, "application/json")
                .body(r#"{"name": 5, "code": "X", "kind": "branch"}"#),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            "JSON missing a field",
            api(reqwest::Method::POST, "/api/v1/orgs")
                .header(header::CONTENT_TYPE, "application/json")
                .body(r#"{"code": "X", "kind": "branch"}"#),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
    ];
    for (what, req, status, code) in cases {
        let res = req.send().await.expect("send");
        assert_eq!(res.status(), status, "{what}");
        let ct = res.headers()[header::CONTENT_TYPE]
            .to_str()
            .expect("ct")
            .to_owned();
        let text = res.text().await.expect("text");
        assert_eq!(ct, "application/problem+json", "{what}: {text}");
        let problem: Value = serde_json::from_str(&text).expect("problem");
        assert_eq!(problem["code"], code, "{what}: {text}");
        assert_eq!(problem["status"], status.as_u16(), "{what}");
        let detail = problem["detail"].as_str().expect("detail");
        assert!(has_chinese(detail), "{what}: {text}");
        assert_no_serde_text(&text);
    }
    // The field serde named is lifted, the rest of its text is not.
    let res = api(reqwest::Method::POST, "/api/v1/orgs")
        .header(header::CONTENT_TYPE, "application/json")
        .body(r#"{"code": "X", "kind": "branch"}"#)
        .send()
        .await
        .expect("send");
    let problem: Value = res.json().await.expect("json");
    assert_eq!(problem["errors"][0]["field"], "name", "{problem}");

    // People in a browser get a page.
    let phone = Phone::new(&app);
    let person = {
        let org = app.org(&admin, "B", "branch", None).await;
        app.person(&admin, "张三", "13800000001", org, "member")
            .await
    };
    app.bind(person, "o-malformed").await;
    phone.sign_in("o-malformed", "/m/").await;
    for (what, page) in [
        ("projector", phone.get("/projector/abc").await),
        ("make-up study", phone.get("/m/makeup/abc").await),
        (
            "sandbox form",
            phone.post("/sandbox/oauth", &[("openid", "x")]).await,
        ),
    ] {
        assert!(page.status.is_client_error(), "{what}: {}", page.status);
        let ct = page.headers[header::CONTENT_TYPE].to_str().expect("ct");
        assert!(ct.starts_with("text/html"), "{what}: {ct} {}", page.text);
        assert!(has_chinese(&page.text), "{what}: {}", page.text);
        assert_no_serde_text(&page.text);
    }
}
