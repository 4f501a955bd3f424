//! The leave story in a browser: a member asks for leave on `/m/leave` (phone width,
//! signed in through the sandbox's WeChat OAuth), the secretary approves it on the
//! console's 审核 page, and 请假 shows on the attendance sheet.

use chrono::Utc;
use serde_json::json;

use super::helpers::spawn_app;
use super::{PASSWORD, Page, driver, setup};

#[tokio::test]
async fn leave_is_requested_on_m_approved_in_the_console_and_shows_on_the_sheet() {
    let Some(d) = driver().await else { return };
    let app = spawn_app().await;
    let s = setup(&app).await;
    let start = Utc::now() + chrono::Duration::hours(5);
    let r = app
        .post(
            "/api/v1/activities",
            &s.admin,
            json!({"org_id": s.branch, "kind": "fixed_day", "title": "请假演示主题党日",
                   "starts_at": start.to_rfc3339(), "ends_at": (start + chrono::Duration::hours(2)).to_rfc3339()}),
        )
        .await;
    let activity = r.body["id"].as_i64().expect("activity");
    let person = app
        .person(&s.admin, "林出差", "13800000501", s.branch, "member")
        .await;
    app.bind(person, "o-lin").await;

    let c = d.browser().await;
    let p = Page {
        c: &c,
        base: app.address.clone(),
    };
    p.size(390, 844).await;
    p.go("/wechat/oauth/start?next=/m/leave").await;
    p.wait_text("模拟微信网页授权").await;
    p.fill("#openid", "o-lin").await;
    p.click("button[type=submit]").await;
    p.wait_text("请假演示主题党日").await;
    p.set("#activity", &activity.to_string()).await;
    p.fill("#reason", "外地出差，无法参加").await;
    p.click("form[action='/m/leave'] button[type=submit]").await;
    p.wait_text("待审批").await;
    p.assert_no_sideways_scroll("member leave").await;
    p.assert_labelled("member leave").await;

    p.login("sec-b", PASSWORD).await;
    p.wait_text("今日").await;
    p.go("/console/review").await;
    p.wait_text("外地出差，无法参加").await;
    p.assert_no_sideways_scroll("console review").await;
    p.assert_labelled("console review").await;
    let id = p
        .js("return document.querySelector('[id^=approve-leave-]').id")
        .await;
    let id = id.as_str().expect("an approve button").to_owned();
    p.click(&format!("#{id}")).await;
    p.wait_text("已准假").await;
    p.shot("console-review-leave-390").await;

    p.go(&format!("/console/activities/{activity}/attendance"))
        .await;
    let text = p.wait_text("林出差").await;
    assert!(text.contains("请假"), "{text}");
    p.shot("console-attendance-leave-390").await;
    p.logout().await;
    c.close().await.ok();
}
