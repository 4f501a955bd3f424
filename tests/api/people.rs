use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

async fn setup(app: &TestApp) -> (String, i64, i64, i64) {
    let admin = app.admin_token().await;
    let c = app.org(&admin, "C", "committee", None).await;
    let a = app.org(&admin, "A", "branch", Some(c)).await;
    let b = app.org(&admin, "B", "branch", Some(c)).await;
    (admin, c, a, b)
}

#[tokio::test]
async fn reading_a_phone_number_is_audited() {
    let app = spawn_app().await;
    let (admin, _, a, _) = setup(&app).await;
    let p = app
        .person(&admin, "李四", "13900139000", a, "probationary")
        .await;
    let list = app.get(&format!("/api/v1/people?org_id={a}"), &admin).await;
    assert!(
        !list.text.contains("13900139000"),
        "lists never carry full phones"
    );
    let r = app
        .get(&format!("/api/v1/people/{p}/contact"), &admin)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["phone"], "13900139000");
    let rows = vanguard::audit::list(
        &app.state.db,
        None,
        vanguard::audit::Filter {
            action: Some("read_personal".into()),
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .expect("audit");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].entity_id.as_deref(), Some(p.to_string().as_str()));
    assert_eq!(rows[0].actor_name, "admin");
    let all = vanguard::audit::list(
        &app.state.db,
        None,
        vanguard::audit::Filter {
            limit: 500,
            ..Default::default()
        },
    )
    .await
    .expect("audit");
    let dump = serde_json::to_string(
        &all.iter()
            .map(|e| (&e.before, &e.after))
            .collect::<Vec<_>>(),
    )
    .expect("json");
    assert!(
        !dump.contains("13900139000"),
        "the audit log keeps masked phones only"
    );
}

#[tokio::test]
async fn role_changes_and_transfers_keep_their_history() {
    let app = spawn_app().await;
    let (admin, _, a, b) = setup(&app).await;
    let p = app
        .person(&admin, "赵六", "13700137000", a, "activist")
        .await;
    let r = app
        .post(
            &format!("/api/v1/people/{p}/role"),
            &admin,
            json!({"role": "probationary", "effective_on": "2026-07-01"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["role"], "probationary");
    let r = app
        .post(
            &format!("/api/v1/people/{p}/transfer"),
            &admin,
            json!({"to_org_id": b, "effective_on": "2026-08-15", "reason": "工作调动"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["org_id"], b);
    let h = app
        .get(&format!("/api/v1/people/{p}/history"), &admin)
        .await;
    let h = h.body.as_array().expect("history").clone();
    assert_eq!(h.len(), 2);
    assert_eq!(
        (
            h[0]["kind"].as_str(),
            h[0]["from_value"].as_str(),
            h[0]["to_value"].as_str()
        ),
        (Some("role"), Some("activist"), Some("probationary"))
    );
    assert_eq!(h[0]["effective_on"], "2026-07-01");
    assert_eq!(h[1]["kind"], "transfer");
    assert_eq!(h[1]["from_value"], a.to_string());
    let r = app
        .post(
            &format!("/api/v1/people/{p}/status"),
            &admin,
            json!({"status": "deceased", "reason": ""}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "a status change needs a reason"
    );
    let r = app
        .post(
            &format!("/api/v1/people/{p}/status"),
            &admin,
            json!({"status": "transferred_out", "reason": "转往外区"}),
        )
        .await;
    assert_eq!(r.body["status_label"], "已转出");
}

/// XH-20 / SD-7 / TW-8: exemptions are recorded with reason, approver and date.
#[tokio::test]
async fn xh_20_exemptions_for_a_year_or_permanently_are_recorded_and_revocable() {
    let app = spawn_app().await;
    let (admin, _, a, _) = setup(&app).await;
    let p = app.person(&admin, "钱七", "13600136000", a, "member").await;
    let r = app.post(&format!("/api/v1/people/{p}/exemptions"), &admin, json!({"year": 2026, "reason": "年老体弱", "approver": "西湖区委组织部", "approved_on": "2026-03-01"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/people/{p}/exemptions"),
            &admin,
            json!({"year": 2026, "reason": "", "approver": "x", "approved_on": "2026-03-01"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    app.post(&format!("/api/v1/people/{p}/exemptions"), &admin, json!({"year": 2026, "reason": "身体恢复", "approver": "西湖区委组织部", "approved_on": "2026-09-01", "revoke": true})).await;
    let rows = vanguard::org::people::exemptions_of(&app.state.db, p)
        .await
        .expect("rows");
    assert_eq!(
        rows.len(),
        2,
        "append-only: the grant is kept beside its revocation"
    );
    assert!(!vanguard::org::people::exempt_in(&rows, 2026));
    app.post(
        &format!("/api/v1/people/{p}/exemptions"),
        &admin,
        json!({"reason": "长期卧病", "approver": "区委组织部", "approved_on": "2026-10-01"}),
    )
    .await;
    let rows = vanguard::org::people::exemptions_of(&app.state.db, p)
        .await
        .expect("rows");
    assert!(
        vanguard::org::people::exempt_in(&rows, 2026)
            && vanguard::org::people::exempt_in(&rows, 2030)
    );
}

#[tokio::test]
async fn phones_and_external_ids_are_unique_and_validated() {
    let app = spawn_app().await;
    let (admin, _, a, _) = setup(&app).await;
    app.person(&admin, "甲", "13500135000", a, "member").await;
    let r = app
        .post(
            "/api/v1/people",
            &admin,
            json!({"name": "乙", "phone": "13500135000", "org_id": a, "role": "member"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let r = app
        .post(
            "/api/v1/people",
            &admin,
            json!({"name": "乙", "phone": "12345", "org_id": a, "role": "member"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["errors"][0]["field"], "phone");
    let r = app
        .post(
            "/api/v1/people",
            &admin,
            json!({"name": "乙", "phone": "13500135001", "org_id": a, "role": "chairman"}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "unknown role: {}",
        r.text
    );
    let r = app.get("/api/v1/people/424242", &admin).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .request(Method::GET, "/api/v1/people/abc", Some(&admin), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn people_pages_follow_a_cursor() {
    let app = spawn_app().await;
    let (admin, _, a, _) = setup(&app).await;
    for i in 0..5 {
        app.person(
            &admin,
            &format!("成员{i}"),
            &format!("1380000000{i}"),
            a,
            "member",
        )
        .await;
    }
    let first = app
        .get(&format!("/api/v1/people?org_id={a}&limit=3"), &admin)
        .await;
    assert_eq!(first.body["items"].as_array().map(Vec::len), Some(3));
    let next = first.body["next"].as_i64().expect("cursor");
    let second = app
        .get(
            &format!("/api/v1/people?org_id={a}&limit=3&after={next}"),
            &admin,
        )
        .await;
    assert_eq!(second.body["items"].as_array().map(Vec::len), Some(2));
    assert!(second.body["next"].is_null());
    let r = app.get("/api/v1/people?q=成员4", &admin).await;
    assert_eq!(r.body["items"].as_array().map(Vec::len), Some(1));
}
