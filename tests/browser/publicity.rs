//! The publicity story (TW-6) in a browser: the secretary publishes the half-year's list at
//! phone width, a member objects from `/m/`, the admin accepts with a correction that shows,
//! dated, under the snapshot, and the period is confirmed (核定).

use chrono::{TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::json;

use super::helpers::spawn_app;
use super::{PASSWORD, Page, driver};

fn shanghai(m: u32, d: u32, h: u32) -> chrono::DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, m, d, h, 0, 0)
        .single()
        .expect("a valid local time")
        .with_timezone(&Utc)
}

#[tokio::test]
async fn tw_6_a_publicity_opens_a_member_objects_the_correction_shows_dated_and_it_is_confirmed() {
    let Some(driver) = driver().await else { return };
    let app = spawn_app().await;
    app.state.clock.set(shanghai(6, 20, 10));
    let admin = app.admin_token().await;
    let committee = app.org(&admin, "C", "committee", None).await;
    let branch = app.org(&admin, "B", "branch", Some(committee)).await;
    let r = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/orgs/{committee}/policy"),
            Some(&admin),
            Some(json!({"year": 2026, "policy": "town-2019"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.account(&admin, "sec-b", "secretary", Some(branch))
        .await;
    app.operator_account("chief", vanguard::auth::Role::Admin, None)
        .await;
    let zhang = app
        .person(&admin, "张三丰", "13800000201", branch, "member")
        .await;
    let li = app
        .person(&admin, "李四", "13800000202", branch, "member")
        .await;
    app.bind(zhang, "o-zhang").await;
    let mut fact = 0;
    for (person, at) in [(zhang, "2026-03-10"), (li, "2026-03-10")] {
        let r = app
            .post(
                "/api/v1/items",
                &admin,
                json!({"person_id": person, "item": "dues", "at": format!("{at}T10:00:00+08:00")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        fact = r.body["fact_id"].as_i64().expect("fact");
    }
    app.state.clock.set(shanghai(7, 2, 9));

    let c = driver.browser().await;
    let p = Page {
        c: &c,
        base: app.address.clone(),
    };
    // The secretary publishes on the phone.
    p.size(390, 844).await;
    p.login("sec-b", PASSWORD).await;
    p.wait_text("今日").await;
    p.go("/console/publicity").await;
    p.wait_text("发布公示").await;
    p.assert_labelled("publicity list").await;
    p.set("#period", "half_year").await;
    p.fill("#n", "1").await;
    p.fill("#days", "5").await;
    p.click("#publish").await;
    let text = p.wait_text("公示名单").await;
    assert!(text.contains("张三丰") && text.contains("公示中"), "{text}");
    let console_path = p.path().await;
    p.assert_no_sideways_scroll("publicity").await;
    p.assert_labelled("publicity").await;
    p.shot("publicity-secretary-390").await;
    p.logout().await;

    // The member reads it (names masked) and objects about 李四.
    p.go("/wechat/oauth/start?next=/m/publicity").await;
    p.wait_text("模拟微信网页授权").await;
    p.fill("#openid", "o-zhang").await;
    p.click("button[type=submit]").await;
    p.wait_text("积分公示").await;
    let id = console_path.rsplit('/').next().expect("id").to_owned();
    p.go(&format!("/m/publicity/{id}")).await;
    let text = p.wait_text("提出异议").await;
    assert!(text.contains("张*丰") && !text.contains("张三丰"), "{text}");
    p.set("#about", &li.to_string()).await;
    p.fill("#reason", "李四三月的党费记录重复").await;
    p.click("#object").await;
    p.wait_text("我的异议").await;
    p.assert_no_sideways_scroll("member publicity").await;
    p.shot("publicity-member-390").await;

    // After the window the admin accepts, annulling the duplicate, then confirms.
    app.state.clock.set(shanghai(7, 8, 10));
    p.size(1366, 900).await;
    p.login("chief", PASSWORD).await;
    p.wait_text("今日").await;
    p.go(&console_path).await;
    p.wait_text("李四三月的党费记录重复").await;
    let case = p
        .js("return document.querySelector('.objection').id.replace('objection-', '')")
        .await;
    let case = case.as_str().expect("case id").to_owned();
    p.click(&format!("#fix-annul-{case}")).await;
    p.fill(&format!("#fact-{case}"), &fact.to_string()).await;
    p.fill(&format!("#note-{case}"), "经核实为重复记录").await;
    p.click(".accept-objection").await;
    let text = p.wait_text("已采纳").await;
    assert!(
        text.contains("作废") && text.contains("7月8日"),
        "dated under the snapshot: {text}"
    );
    p.click("#confirm-publicity").await;
    let text = p.wait_text("已核定").await;
    assert!(
        text.contains("核定后该期不能再新增事项") || text.contains("已于"),
        "{text}"
    );
    p.assert_labelled("publicity confirmed").await;
    p.shot("publicity-confirmed-1366").await;
}
