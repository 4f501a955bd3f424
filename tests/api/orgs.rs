use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

/// The "done when" walk: admin creates a branch, a secretary and a member.
#[tokio::test]
async fn admin_builds_a_branch_with_a_secretary_and_a_member() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let committee = app.org(&admin, "XH", "committee", None).await;
    let branch = app.org(&admin, "ZB001", "branch", Some(committee)).await;
    let (_, secretary) = app
        .account(&admin, "zhang.sec", "secretary", Some(branch))
        .await;
    let member = app
        .person(&admin, "王小明", "13800138000", branch, "member")
        .await;
    let r = app
        .get(&format!("/api/v1/people/{member}"), &secretary)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["name"], "王小明");
    assert_eq!(r.body["phone_masked"], "138****8000");
    assert_eq!(r.body["role_label"], "正式党员");
    let r = app.get(&format!("/api/v1/orgs/{branch}"), &admin).await;
    assert_eq!(r.body["timezone"], "Asia/Shanghai");
    assert_eq!(r.body["show_rank_to_members"], false, "off by default");
}

#[tokio::test]
async fn the_tree_keeps_its_shape() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let c = app.org(&admin, "C", "committee", None).await;
    let gb = app.org(&admin, "GB", "general_branch", Some(c)).await;
    let b = app.org(&admin, "B", "branch", Some(gb)).await;
    app.org(&admin, "G", "group", Some(b)).await;
    let r = app
        .post(
            "/api/v1/orgs",
            &admin,
            json!({"name": "x", "code": "X", "kind": "general_branch", "parent_id": b}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "no general branch under a branch: {}",
        r.text
    );
    let r = app
        .post(
            "/api/v1/orgs",
            &admin,
            json!({"name": "x", "code": "B", "kind": "branch", "parent_id": c}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app.post("/api/v1/orgs", &admin, json!({"name": "x", "code": "T", "kind": "branch", "parent_id": c, "timezone": "Mars/Olympus"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("时区")
    );
    let r = app
        .post(
            "/api/v1/orgs",
            &admin,
            json!({"name": "x", "code": "U", "kind": "branch", "parent_id": 9999}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .get(&format!("/api/v1/orgs?parent_id={c}"), &admin)
        .await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_secretary_sees_only_their_branch() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let c = app.org(&admin, "C", "committee", None).await;
    let a = app.org(&admin, "A", "branch", Some(c)).await;
    let b = app.org(&admin, "B", "branch", Some(c)).await;
    let group = app.org(&admin, "A-G1", "group", Some(a)).await;
    let (_, sec) = app.account(&admin, "sec-a", "secretary", Some(a)).await;
    let r = app.get("/api/v1/orgs", &sec).await;
    let ids: Vec<i64> = r
        .body
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|o| o["id"].as_i64())
        .collect();
    assert_eq!(ids, vec![a, group]);
    assert_eq!(
        app.get(&format!("/api/v1/orgs/{b}"), &sec).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&format!("/api/v1/orgs/{c}"), &sec).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn org_settings_change_and_are_audited() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let c = app.org(&admin, "C", "committee", None).await;
    let r = app
        .patch(
            &format!("/api/v1/orgs/{c}"),
            &admin,
            json!({"show_rank_to_members": true, "timezone": "Asia/Urumqi"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["timezone"], "Asia/Urumqi");
    let rows = vanguard::audit::list(
        &app.state.db,
        None,
        vanguard::audit::Filter {
            entity: Some("organization".into()),
            action: Some("update".into()),
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .expect("audit");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].before.as_ref().expect("before")["timezone"],
        "Asia/Shanghai"
    );
    assert_eq!(
        rows[0].after.as_ref().expect("after")["timezone"],
        "Asia/Urumqi"
    );
    assert_eq!(rows[0].ip.as_deref(), Some("127.0.0.1"));
}
