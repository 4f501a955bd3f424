use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn security_admin_and_auditor_read_the_audit_log_in_scope_admins_do_not() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let c = app.org(&admin, "C", "committee", None).await;
    let a = app.org(&admin, "A", "branch", Some(c)).await;
    let other = app.org(&admin, "OTHER", "committee", None).await;
    app.person(&admin, "张三", "13800138000", a, "member").await;
    app.person(&admin, "外人", "13800138001", other, "member")
        .await;
    let sec = app
        .operator_account("secadm", vanguard::auth::Role::SecurityAdmin, Some(c))
        .await;
    let (_, auditor) = app.account(&sec, "aud", "auditor", Some(c)).await;
    assert_eq!(
        app.get("/api/v1/audit", &admin).await.status,
        StatusCode::FORBIDDEN
    );
    for token in [&auditor, &sec] {
        let r = app.get("/api/v1/audit?entity=person", token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let rows = r.body.as_array().expect("rows");
        assert_eq!(rows.len(), 1, "only the person in scope: {}", r.text);
        assert_eq!(rows[0]["action"], "create");
        assert_eq!(rows[0]["actor_name"], "admin");
        assert_eq!(rows[0]["after"]["name"], "张三");
    }
    // The auditor changes nothing.
    let r = app
        .post(
            "/api/v1/people",
            &auditor,
            json!({"name": "x", "phone": "13800138002", "org_id": a, "role": "member"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
