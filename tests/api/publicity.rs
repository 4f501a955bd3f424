//! Publicity (公示; TW-6, SD-4, SD-5, EQ-4) and investigations (XH-19) through the console,
//! the member's pages and the public objection form: windows, objections, confirmation
//! (核定), the period lock, corrections under the snapshot, new versions, year close.

use chrono::{DateTime, Duration, TimeZone, Utc};
use reqwest::{StatusCode, header};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::console::{Desk, PASSWORD};
use crate::helpers::{TestApp, spawn_app};
use crate::pages::Phone;

fn shanghai(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .expect("a valid local time")
        .with_timezone(&Utc)
}

struct World {
    admin: String,
    committee: i64,
    general: i64,
    branch: i64,
    other: i64,
    /// The secretary of `branch`, on the console.
    sec: Desk,
    /// An admin of the whole installation, on the console.
    chief: Desk,
}

/// C (committee) → G (general branch) → B, B2 (branches) scoring 2026 with `policy`;
/// the clock at `now`.
async fn world(app: &TestApp, policy: &str, now: DateTime<Utc>) -> World {
    app.state.clock.set(now);
    let admin = app.admin_token().await;
    let committee = app.org(&admin, "C", "committee", None).await;
    let general = app
        .org(&admin, "G", "general_branch", Some(committee))
        .await;
    let branch = app.org(&admin, "B", "branch", Some(general)).await;
    let other = app.org(&admin, "B2", "branch", Some(general)).await;
    let r = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/orgs/{committee}/policy"),
            Some(&admin),
            Some(json!({"year": 2026, "policy": policy})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.account(&admin, "sec-b", "secretary", Some(branch))
        .await;
    app.operator_account("chief", vanguard::auth::Role::Admin, None)
        .await;
    let sec = Desk::new(app);
    let r = sec.login("sec-b", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let chief = Desk::new(app);
    let r = chief.login("chief", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    World {
        admin,
        committee,
        general,
        branch,
        other,
        sec,
        chief,
    }
}

async fn item(
    app: &TestApp,
    admin: &str,
    person: i64,
    code: &str,
    at: &str,
    points: Option<i64>,
) -> i64 {
    let mut body = json!({"person_id": person, "item": code, "at": at});
    if let Some(p) = points {
        body["fields"] = json!({"points": p});
    }
    let r = app.post("/api/v1/items", admin, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["fact_id"].as_i64().expect("fact id")
}

async fn publicities(app: &TestApp) -> Vec<entity::publicity::Model> {
    entity::publicity::Entity::find()
        .all(&app.state.db)
        .await
        .expect("publicities")
}

async fn objections(app: &TestApp) -> u64 {
    entity::case::Entity::find()
        .filter(entity::case::Column::Kind.eq("objection"))
        .count(&app.state.db)
        .await
        .expect("cases")
}

async fn audited(app: &TestApp, action: &str) -> Vec<entity::audit_log::Model> {
    entity::audit_log::Entity::find()
        .filter(entity::audit_log::Column::Action.eq(action))
        .all(&app.state.db)
        .await
        .expect("audit")
}

fn publicity_id(location: Option<&str>) -> i64 {
    location
        .and_then(|l| l.strip_prefix("/console/publicity/"))
        .and_then(|i| i.parse().ok())
        .unwrap_or_else(|| panic!("published: {location:?}"))
}

/// Publishes through the console form; the page answered.
async fn publish(desk: &Desk, org: i64, period: &str, n: &str, days: &str) -> crate::pages::Page {
    let org = org.to_string();
    desk.post(
        "/console/publicity",
        &[
            ("org_id", org.as_str()),
            ("year", "2026"),
            ("period", period),
            ("n", n),
            ("days", days),
            ("form_id", &uuid::Uuid::new_v4().simple().to_string()),
        ],
    )
    .await
}

/// Waits for the background notices to reach the simulator's inbox.
async fn inbox_has(phone: &Phone, openid: &str, what: &str) -> bool {
    for _ in 0..50 {
        let page = phone.get(&format!("/sandbox/phone?openid={openid}")).await;
        if page.text.contains(what) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn tw_6_half_year_published_at_least_5_days_objection_answered_then_confirmed_and_locked() {
    let app = spawn_app().await;
    let w = world(&app, "town-2019", shanghai(2026, 6, 20, 10)).await;
    let zhang = app
        .person(&w.admin, "张三丰", "13800000101", w.branch, "member")
        .await;
    let li = app
        .person(&w.admin, "李四", "13800000102", w.branch, "member")
        .await;
    let far = app
        .person(&w.admin, "王外支", "13800000103", w.other, "member")
        .await;
    app.bind(zhang, "o-pub-zhang").await;
    app.bind(li, "o-pub-li").await;
    app.bind(far, "o-pub-far").await;
    let dues = item(
        &app,
        &w.admin,
        zhang,
        "dues",
        "2026-03-10T10:00:00+08:00",
        None,
    )
    .await;
    item(
        &app,
        &w.admin,
        zhang,
        "dues",
        "2026-04-10T10:00:00+08:00",
        None,
    )
    .await;
    item(
        &app,
        &w.admin,
        li,
        "dues",
        "2026-03-10T10:00:00+08:00",
        None,
    )
    .await;

    // The half-year has not ended: refused, nothing written.
    let early = publish(&w.sec, w.branch, "half_year", "1", "5").await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text);
    assert!(early.text.contains("尚未结束"), "{}", early.text);
    app.state.clock.set(shanghai(2026, 7, 2, 9));
    // TW-6: fewer than 5 days is refused next to the field, what was typed kept.
    let short = publish(&w.sec, w.branch, "half_year", "1", "4").await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST, "{}", short.text);
    assert!(
        short.text.contains("公示时间不得少于 5 天"),
        "{}",
        short.text
    );
    assert!(
        short.text.contains("value=\"4\""),
        "typed kept: {}",
        short.text
    );
    // A period the policy does not publish.
    let quarter = publish(&w.sec, w.branch, "quarter", "2", "5").await;
    assert_eq!(quarter.status, StatusCode::BAD_REQUEST, "{}", quarter.text);
    assert!(quarter.text.contains("不公示季度积分"), "{}", quarter.text);
    // Another branch is outside the secretary's scope.
    let foreign = publish(&w.sec, w.other, "half_year", "1", "5").await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.text);
    // A cross-site post is refused before anything is read.
    let cross = w
        .sec
        .post_from(
            Some("https://evil.example"),
            "/console/publicity",
            &[
                ("org_id", &w.branch.to_string()),
                ("year", "2026"),
                ("period", "half_year"),
                ("n", "1"),
                ("days", "5"),
            ],
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    // A recorder (组织委员) enters items but does not publish.
    app.account(&w.admin, "rec-b", "recorder", Some(w.branch))
        .await;
    let recorder = Desk::new(&app);
    recorder.login("rec-b", PASSWORD).await;
    let r = publish(&recorder, w.branch, "half_year", "1", "5").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert!(publicities(&app).await.is_empty(), "refusals write nothing");

    let done = publish(&w.sec, w.branch, "half_year", "1", "5").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    let id = publicity_id(done.location.as_deref());
    let again = publish(&w.sec, w.branch, "half_year", "1", "5").await;
    assert_eq!(
        again.status,
        StatusCode::CONFLICT,
        "one list per period: {}",
        again.text
    );
    assert_eq!(publicities(&app).await.len(), 1);
    let p = &publicities(&app).await[0];
    assert_eq!(p.closes_at - p.opens_at, Duration::days(5));
    let page = w.sec.get(&format!("/console/publicity/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("张三丰") && page.text.contains("李四"),
        "{}",
        page.text
    );
    assert!(!page.text.contains("王外支"), "only the branch");
    // Sorted by name (not ranked): 张三丰 (2) after 李四 (1) by code point, no places.
    assert!(!page.text.contains("名次"));
    // The branch's members are told once; the other branch's are not.
    let phone = Phone::new(&app);
    assert!(inbox_has(&phone, "o-pub-zhang", "[模板消息] publicity").await);
    assert!(!inbox_has(&phone, "o-pub-far", "[模板消息] publicity").await);
    // Sent once: whoever runs the notices again (another instance, a retry) sends nothing.
    let again = vanguard::review::publicity::send_notices(&app.state, p)
        .await
        .expect("notices");
    assert_eq!(again, 0);
    let beside = crate::helpers::spawn_beside(&app).await;
    assert_eq!(
        vanguard::review::publicity::send_notices(&beside.state, p)
            .await
            .expect("notices"),
        0
    );
    // The member sees the list on /m/, names masked, and objects about 李四.
    let member = Phone::new(&app);
    member.sign_in("o-pub-zhang", "/m/publicity").await;
    let list = member.get("/m/publicity").await;
    assert!(list.text.contains("2026年上半年积分公示"), "{}", list.text);
    let view = member.get(&format!("/m/publicity/{id}")).await;
    assert_eq!(view.status, StatusCode::OK);
    assert!(
        view.text.contains("张*丰") && !view.text.contains("张三丰"),
        "{}",
        view.text
    );
    let outsider = Phone::new(&app);
    outsider.sign_in("o-pub-far", "/m/").await;
    let hidden = outsider.get(&format!("/m/publicity/{id}")).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let objected = member
        .post(
            &format!("/m/publicity/{id}/object"),
            &[
                ("about", &li.to_string()),
                ("reason", "李四三月的党费记录重复"),
            ],
        )
        .await;
    assert_eq!(objected.status, StatusCode::SEE_OTHER, "{}", objected.text);
    assert_eq!(objections(&app).await, 1);
    // Confirmation waits for the window's end ...
    let early = w
        .sec
        .post(&format!("/console/publicity/{id}/confirm"), &[])
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text);
    assert!(early.text.contains("期满后才能核定"), "{}", early.text);
    app.state.clock.set(shanghai(2026, 7, 7, 10));
    // ... and for every objection to be answered.
    let open = w
        .sec
        .post(&format!("/console/publicity/{id}/confirm"), &[])
        .await;
    assert_eq!(open.status, StatusCode::CONFLICT, "{}", open.text);
    assert!(open.text.contains("尚有 1 条异议未答复"), "{}", open.text);
    assert_eq!(publicities(&app).await[0].state, "open");
    // After the window nobody may object.
    let late = Phone::new(&app);
    late.sign_in("o-pub-li", "/m/").await;
    let refused = late
        .post(
            &format!("/m/publicity/{id}/object"),
            &[("reason", "迟到的异议")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert!(refused.text.contains("公示期已于"), "{}", refused.text);
    assert_eq!(objections(&app).await, 1);

    // The branch accepts; the admin annuls the duplicated line as the correction.
    let case = entity::case::Entity::find()
        .filter(entity::case::Column::Kind.eq("objection"))
        .one(&app.state.db)
        .await
        .expect("as set up")
        .expect("as set up");
    let li_dues = entity::fact::Entity::find()
        .filter(entity::fact::Column::PersonId.eq(li))
        .one(&app.state.db)
        .await
        .expect("as set up")
        .expect("as set up");
    let accepted = w
        .chief
        .post(
            &format!("/console/objections/{}/accept", case.id),
            &[
                ("fix", "annul"),
                ("fact_id", &li_dues.id.to_string()),
                ("note", "经核实为重复记录"),
            ],
        )
        .await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER, "{}", accepted.text);
    let page = w.sec.get(&format!("/console/publicity/{id}")).await;
    assert!(
        page.text.contains("作废"),
        "the correction under the snapshot: {}",
        page.text
    );
    assert!(page.text.contains("7月7日"), "dated: {}", page.text);
    assert!(inbox_has(&phone, "o-pub-zhang", "[模板消息] objection").await);

    let confirmed = w
        .sec
        .post(&format!("/console/publicity/{id}/confirm"), &[])
        .await;
    assert_eq!(
        confirmed.status,
        StatusCode::SEE_OTHER,
        "{}",
        confirmed.text
    );
    assert_eq!(publicities(&app).await[0].state, "confirmed");
    assert_eq!(audited(&app, "confirm_publicity").await.len(), 1);

    // The period is locked against new items (its own code); July is not.
    let locked = app
        .post(
            "/api/v1/items",
            &w.admin,
            json!({"person_id": zhang, "item": "dues", "at": "2026-05-10T10:00:00+08:00"}),
        )
        .await;
    assert_eq!(locked.status, StatusCode::CONFLICT, "{}", locked.text);
    assert_eq!(locked.body["code"], "period_locked");
    assert!(locked.text.contains("已于"), "{}", locked.text);
    item(
        &app,
        &w.admin,
        zhang,
        "dues",
        "2026-07-05T10:00:00+08:00",
        None,
    )
    .await;
    // Corrections stay possible and show, dated, under the unchanged snapshot.
    let r = app
        .post(
            &format!("/api/v1/facts/{dues}/annul"),
            &w.admin,
            json!({"reason": "核定后发现三月党费为代缴，经支委会研究作废"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let view = member.get(&format!("/m/publicity/{id}")).await;
    assert!(view.text.contains("作废：足额缴纳党费"), "{}", view.text);
    let snapshot: Vec<serde_json::Value> =
        serde_json::from_str(&publicities(&app).await[0].rows).expect("as set up");
    assert_eq!(
        snapshot
            .iter()
            .find(|r| r["person_id"] == zhang)
            .expect("as set up")["score"],
        "2"
    );

    // Year close needs the year's last period confirmed.
    app.state.clock.set(shanghai(2027, 1, 4, 9));
    let close = app
        .post(
            &format!("/api/v1/orgs/{}/years/2026/close", w.committee),
            &w.admin,
            json!({}),
        )
        .await;
    assert_eq!(close.status, StatusCode::CONFLICT, "{}", close.text);
    assert_eq!(close.body["code"], "publicity_unconfirmed");
    assert!(close.text.contains("B 组织"), "{}", close.text);
    for org in [w.branch, w.other] {
        let r = publish(&w.chief, org, "half_year", "2", "5").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    }
    app.state.clock.set(shanghai(2027, 1, 10, 9));
    for p in publicities(&app).await.iter().filter(|p| p.n == Some(2)) {
        let r = w
            .chief
            .post(&format!("/console/publicity/{}/confirm", p.id), &[])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    }
    let close = app
        .post(
            &format!("/api/v1/orgs/{}/years/2026/close", w.committee),
            &w.admin,
            json!({}),
        )
        .await;
    assert_eq!(close.status, StatusCode::OK, "{}", close.text);
}

#[tokio::test]
async fn tw_6_a_corrected_list_is_a_new_version_that_says_what_changed() {
    let app = spawn_app().await;
    let w = world(&app, "town-2019", shanghai(2026, 6, 20, 10)).await;
    let p1 = app
        .person(&w.admin, "赵一", "13800000111", w.branch, "member")
        .await;
    let fact = item(
        &app,
        &w.admin,
        p1,
        "dues",
        "2026-03-10T10:00:00+08:00",
        None,
    )
    .await;
    app.state.clock.set(shanghai(2026, 7, 2, 9));
    let done = publish(&w.sec, w.branch, "half_year", "1", "5").await;
    let id = publicity_id(done.location.as_deref());
    // Nothing changed: no new version.
    let same = w
        .sec
        .post(
            &format!("/console/publicity/{id}/republish"),
            &[("days", "5")],
        )
        .await;
    assert_eq!(same.status, StatusCode::BAD_REQUEST, "{}", same.text);
    assert!(same.text.contains("名单与上一版本相同"), "{}", same.text);
    let r = app
        .post(
            &format!("/api/v1/facts/{fact}/annul"),
            &w.admin,
            json!({"reason": "重复录入"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let v2 = w
        .sec
        .post(
            &format!("/console/publicity/{id}/republish"),
            &[("days", "5")],
        )
        .await;
    assert_eq!(v2.status, StatusCode::SEE_OTHER, "{}", v2.text);
    let id2 = publicity_id(v2.location.as_deref());
    assert_ne!(id, id2);
    let page = w.sec.get(&format!("/console/publicity/{id2}")).await;
    assert!(
        page.text.contains("本版更正了") && page.text.contains("1 → 0"),
        "{}",
        page.text
    );
    assert!(page.text.contains("第 2 版"), "{}", page.text);
    let all = publicities(&app).await;
    assert_eq!(
        all.iter().find(|p| p.id == id).expect("as set up").state,
        "superseded"
    );
    // The old version cannot be confirmed.
    app.state.clock.set(shanghai(2026, 7, 20, 9));
    let old = w
        .sec
        .post(&format!("/console/publicity/{id}/confirm"), &[])
        .await;
    assert_eq!(old.status, StatusCode::CONFLICT, "{}", old.text);
}

#[tokio::test]
async fn sd_5_public_objection_without_an_account_is_rate_limited_and_filed_with_the_general_branch()
 {
    let app = spawn_app().await;
    let w = world(&app, "sdtbu-2018", shanghai(2026, 12, 20, 10)).await;
    let p = app
        .person(&w.admin, "孙五星", "13800000121", w.branch, "member")
        .await;
    item(
        &app,
        &w.admin,
        p,
        "base_dues",
        "2026-03-10T10:00:00+08:00",
        Some(10),
    )
    .await;
    app.state.clock.set(shanghai(2027, 1, 3, 9));
    let done = publish(&w.sec, w.branch, "year", "", "7").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    let id = publicity_id(done.location.as_deref());
    let token = publicities(&app).await[0].public_token.clone();
    let page = w.sec.get(&format!("/console/publicity/{id}")).await;
    assert!(page.text.contains(&token), "the public link: {}", page.text);

    // 师生群众: no account, no cookie.
    let public = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("as set up");
    let url = format!("{}/p/publicity/{token}", app.address);
    let view = public.get(&url).send().await.expect("as set up");
    assert_eq!(view.status(), StatusCode::OK);
    let text = view.text().await.expect("as set up");
    assert!(text.contains("孙*星") && !text.contains("孙五星"), "{text}");
    assert!(text.contains("联系方式"), "{text}");
    let post = |form: Vec<(&'static str, String)>, origin: Option<&'static str>| {
        let public = public.clone();
        let url = url.clone();
        async move {
            let mut req = public
                .post(&url)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(serde_urlencoded::to_string(&form).expect("as set up"));
            if let Some(o) = origin {
                req = req.header(header::ORIGIN, o);
            }
            let res = req.send().await.expect("as set up");
            (res.status(), res.text().await.unwrap_or_default())
        }
    };
    // A contact is required; what was typed is kept.
    let (status, text) = post(
        vec![
            ("name", "王老师".into()),
            ("reason", "孙五星的贡献分有误".into()),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(
        text.contains("请留下联系方式") && text.contains("孙五星的贡献分有误"),
        "{text}"
    );
    // Cross-site and oversized posts are refused.
    let (status, _) = post(
        vec![
            ("name", "x".into()),
            ("contact", "1".into()),
            ("reason", "x".into()),
        ],
        Some("https://evil.example"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post(
        vec![
            ("name", "x".into()),
            ("contact", "1".into()),
            ("reason", "长".repeat(5000)),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(objections(&app).await, 0);
    let (status, text) = post(
        vec![
            ("name", "王老师".into()),
            ("contact", "13900000000".into()),
            ("about", p.to_string()),
            ("reason", "孙五星的贡献分有误".into()),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{text}");
    assert_eq!(objections(&app).await, 1);
    let row = entity::publicity_objection::Entity::find()
        .one(&app.state.db)
        .await
        .expect("as set up")
        .expect("as set up");
    assert_eq!(row.objector_kind, "public");
    assert_eq!(row.contact.as_deref(), Some("13900000000"));
    // Rate limited per source address: five an hour (the refused one above counted).
    for _ in 0..3 {
        let (status, text) = post(
            vec![
                ("name", "学生".into()),
                ("contact", "s@example.cn".into()),
                ("reason", "请核实".into()),
            ],
            None,
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{text}");
    }
    let (status, text) = post(
        vec![
            ("name", "学生".into()),
            ("contact", "s@example.cn".into()),
            ("reason", "再提一次".into()),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{text}");
    assert!(text.contains("提交过于频繁"), "{text}");
    assert_eq!(objections(&app).await, 4);

    // The branch sees the contact; answered objections are filed with the general branch.
    let page = w.sec.get(&format!("/console/publicity/{id}")).await;
    assert!(
        page.text.contains("13900000000") && page.text.contains("群众 王老师"),
        "{}",
        page.text
    );
    let cases: Vec<entity::case::Model> = entity::case::Entity::find()
        .filter(entity::case::Column::Kind.eq("objection"))
        .all(&app.state.db)
        .await
        .expect("as set up");
    let empty_reason = w
        .sec
        .post(
            &format!("/console/objections/{}/reject", cases[1].id),
            &[("reason", "")],
        )
        .await;
    assert_eq!(
        empty_reason.status,
        StatusCode::BAD_REQUEST,
        "{}",
        empty_reason.text
    );
    assert!(
        empty_reason.text.contains("须写明理由"),
        "{}",
        empty_reason.text
    );
    let r = w
        .sec
        .post(
            &format!("/console/objections/{}/accept", cases[0].id),
            &[
                ("fix", "item"),
                ("item", "contribution"),
                ("points", "3"),
                ("note", "补记志愿服务贡献分"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    for c in &cases[1..] {
        let r = w
            .sec
            .post(
                &format!("/console/objections/{}/reject", c.id),
                &[("reason", "经核实积分无误")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    }
    let filed = audited(&app, "file_objection_record").await;
    assert_eq!(filed.len(), 4);
    assert!(
        filed.iter().all(|a| a.org_id == Some(w.general)),
        "filed with the general branch"
    );
    let rows = entity::publicity_objection::Entity::find()
        .all(&app.state.db)
        .await
        .expect("as set up");
    assert!(rows.iter().all(|r| r.filed_with_org_id == Some(w.general)));
    let page = w.sec.get(&format!("/console/publicity/{id}")).await;
    assert!(page.text.contains("已报G 组织备案"), "{}", page.text);
    assert!(
        page.text.contains("补录：贡献积分"),
        "the correction under the list: {}",
        page.text
    );
    // A town publicity has no public form.
    let town_like = public
        .get(format!("{}/p/publicity/nonexistent", app.address))
        .send()
        .await
        .expect("as set up");
    assert_eq!(town_like.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sd_4_the_general_branch_publishes_a_quarterly_notice_its_branches_see_sorted_by_name() {
    let app = spawn_app().await;
    let w = world(&app, "sdtbu-2018", shanghai(2026, 3, 20, 10)).await;
    let a = app
        .person(&w.admin, "周甲", "13800000131", w.branch, "member")
        .await;
    let b = app
        .person(&w.admin, "吴乙", "13800000132", w.other, "member")
        .await;
    app.bind(a, "o-sd4-a").await;
    item(
        &app,
        &w.admin,
        a,
        "base_study",
        "2026-02-10T10:00:00+08:00",
        Some(2),
    )
    .await;
    item(
        &app,
        &w.admin,
        b,
        "base_study",
        "2026-02-10T10:00:00+08:00",
        Some(5),
    )
    .await;
    app.state.clock.set(shanghai(2026, 4, 2, 9));
    // SD-4: no half-year publicity under this policy.
    let half = publish(&w.chief, w.general, "half_year", "1", "5").await;
    assert_eq!(half.status, StatusCode::BAD_REQUEST, "{}", half.text);
    let done = publish(&w.chief, w.general, "quarter", "1", "5").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    let id = publicity_id(done.location.as_deref());
    let page = w.chief.get(&format!("/console/publicity/{id}")).await;
    // Both branches, by name (吴 U+5434 before 周 U+5468), not by score.
    let (wu, zhou) = (
        page.text.find("吴乙").expect("as set up"),
        page.text.find("周甲").expect("as set up"),
    );
    assert!(wu < zhou, "{}", page.text);
    assert!(page.text.contains("B 组织") && page.text.contains("B2 组织"));
    // A member of a branch under it sees it on /m/ and was told.
    let phone = Phone::new(&app);
    phone.sign_in("o-sd4-a", "/m/publicity").await;
    let list = phone.get("/m/publicity").await;
    assert!(list.text.contains("2026年第1季度积分公示"), "{}", list.text);
    assert!(inbox_has(&phone, "o-sd4-a", "[模板消息] publicity").await);
    // The branch's own monthly summary is a separate publicity.
    let month = publish(&w.sec, w.branch, "month", "3", "3").await;
    assert_eq!(month.status, StatusCode::SEE_OTHER, "{}", month.text);
    let month = publicity_id(month.location.as_deref());

    // SD-5: a member still objecting after the branch's answer takes it to the
    // organization above (the general branch), whose admins answer it.
    let r = phone
        .post(
            &format!("/m/publicity/{month}/object"),
            &[("reason", "三月学习培训分漏记")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let case = entity::case::Entity::find()
        .filter(entity::case::Column::Kind.eq("objection"))
        .one(&app.state.db)
        .await
        .expect("db")
        .expect("the objection");
    let early = phone
        .post(
            &format!("/m/publicity/{month}/objections/{}/escalate", case.id),
            &[],
        )
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text);
    assert!(early.text.contains("只有未被采纳的异议"), "{}", early.text);
    let r = w
        .sec
        .post(
            &format!("/console/objections/{}/reject", case.id),
            &[("reason", "经核实无误")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let view = phone.get(&format!("/m/publicity/{month}")).await;
    assert!(
        view.text.contains("仍有异议，提交上级组织"),
        "{}",
        view.text
    );
    let r = phone
        .post(
            &format!("/m/publicity/{month}/objections/{}/escalate", case.id),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let case = entity::case::Entity::find_by_id(case.id)
        .one(&app.state.db)
        .await
        .expect("db")
        .expect("case");
    assert_eq!((case.state.as_str(), case.org_id), ("escalated", w.general));
    // The branch secretary no longer answers it; the general branch's admin does.
    let r = w
        .sec
        .post(
            &format!("/console/objections/{}/reject", case.id),
            &[("reason", "再次驳回")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = w
        .chief
        .post(
            &format!("/console/objections/{}/accept", case.id),
            &[("note", "专项查核：漏记属实")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
}

#[tokio::test]
async fn eq_4_quarterly_ranking_in_the_branch_and_half_year_ranking_across_the_committee() {
    let app = spawn_app().await;
    let w = world(&app, "erqi-2021", shanghai(2026, 3, 20, 10)).await;
    let a = app
        .person(&w.admin, "甲一", "13800000141", w.branch, "member")
        .await;
    let b = app
        .person(&w.admin, "乙二", "13800000142", w.branch, "member")
        .await;
    let c = app
        .person(&w.admin, "丙三", "13800000143", w.other, "member")
        .await;
    item(&app, &w.admin, a, "dues", "2026-01-10T10:00:00+08:00", None).await;
    for code in ["dues", "lecture"] {
        item(&app, &w.admin, b, code, "2026-02-10T10:00:00+08:00", None).await;
    }
    for code in ["dues", "lecture", "general_meeting"] {
        item(&app, &w.admin, c, code, "2026-02-10T10:00:00+08:00", None).await;
    }
    app.state.clock.set(shanghai(2026, 4, 2, 9));
    // EQ-4: the quarter's ranking inside the branch.
    let q = publish(&w.sec, w.branch, "quarter", "1", "5").await;
    assert_eq!(q.status, StatusCode::SEE_OTHER, "{}", q.text);
    let id = publicity_id(q.location.as_deref());
    let page = w.sec.get(&format!("/console/publicity/{id}")).await;
    assert!(page.text.contains("名次"), "ranked: {}", page.text);
    let (first, second) = (
        page.text.find("乙二").expect("as set up"),
        page.text.find("甲一").expect("as set up"),
    );
    assert!(first < second, "by score: {}", page.text);
    assert!(!page.text.contains("丙三"), "inside the branch only");
    // No year publicity under EQ-4.
    app.state.clock.set(shanghai(2027, 1, 2, 9));
    let y = publish(&w.chief, w.committee, "year", "", "5").await;
    assert_eq!(y.status, StatusCode::BAD_REQUEST, "{}", y.text);
    // The half-year ranking across the whole committee.
    let h = publish(&w.chief, w.committee, "half_year", "1", "5").await;
    assert_eq!(h.status, StatusCode::SEE_OTHER, "{}", h.text);
    let id = publicity_id(h.location.as_deref());
    let page = w.chief.get(&format!("/console/publicity/{id}")).await;
    let order: Vec<usize> = ["丙三", "乙二", "甲一"]
        .iter()
        .map(|n| page.text.find(n).expect("as set up"))
        .collect();
    assert!(order[0] < order[1] && order[1] < order[2], "{}", page.text);
    // The secretary of one branch cannot see the committee's list.
    let hidden = w.sec.get(&format!("/console/publicity/{id}")).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
}

fn jpeg() -> Vec<u8> {
    let img = image::RgbImage::from_fn(16, 16, |x, y| {
        image::Rgb([(x * 10) as u8, (y * 10) as u8, 90])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(
            &mut std::io::Cursor::new(&mut out),
            image::ImageFormat::Jpeg,
        )
        .expect("as set up");
    out
}

#[tokio::test]
async fn xh_19_an_investigation_documents_corrects_through_the_services_and_closes_all_audited() {
    let app = spawn_app().await;
    let w = world(&app, "xihu-2017", shanghai(2026, 6, 20, 10)).await;
    let p = app
        .person(&w.admin, "钱异常", "13800000151", w.branch, "member")
        .await;
    let fact = item(
        &app,
        &w.admin,
        p,
        "study",
        "2026-04-10T10:00:00+08:00",
        Some(6),
    )
    .await;
    let score = |r: &crate::helpers::Response| r.body["score"]["score"].as_f64().unwrap_or(-1.0);
    let before = app
        .get(&format!("/api/v1/people/{p}/score?year=2026"), &w.admin)
        .await;
    let bad = w
        .chief
        .post(
            "/console/investigations",
            &[
                ("person_id", &p.to_string()),
                ("year", "2026"),
                ("period", "quarter"),
                ("n", "2"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert!(bad.text.contains("请填写调查事由"), "{}", bad.text);
    let opened = w
        .chief
        .post(
            "/console/investigations",
            &[
                ("person_id", &p.to_string()),
                ("year", "2026"),
                ("period", "quarter"),
                ("n", "2"),
                ("reason", "二季度学习积分异常偏高"),
                ("form_id", "inv-1"),
            ],
        )
        .await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.text);
    let location = opened.location.expect("as set up");
    let id: i64 = location
        .rsplit('/')
        .next()
        .expect("as set up")
        .parse()
        .expect("as set up");
    // A double submit of the same form opens one.
    let twice = w
        .chief
        .post(
            "/console/investigations",
            &[
                ("person_id", &p.to_string()),
                ("year", "2026"),
                ("period", "quarter"),
                ("n", "2"),
                ("reason", "二季度学习积分异常偏高"),
                ("form_id", "inv-1"),
            ],
        )
        .await;
    assert_eq!(twice.status, StatusCode::SEE_OTHER);
    let count = entity::case::Entity::find()
        .filter(entity::case::Column::Kind.eq("investigation"))
        .count(&app.state.db)
        .await
        .expect("as set up");
    assert_eq!(count, 1);
    let page = w.chief.get(&location).await;
    assert!(
        page.text.contains(&format!("记录 #{fact}")),
        "the period's lines: {}",
        page.text
    );
    // Secretaries do not investigate: the page is not theirs.
    let sec = w.sec.get(&location).await;
    assert_eq!(sec.status, StatusCode::NOT_FOUND);

    // Findings: an image through the upload store.
    let boundary = "----vanguard-inv";
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"f.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes());
    body.extend_from_slice(&jpeg());
    body.extend_from_slice(format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n学习平台导出记录\r\n--{boundary}--\r\n").as_bytes());
    let res = w
        .chief
        .phone
        .client
        .post(format!("{}{location}/findings", app.address))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header(header::ORIGIN, &app.address)
        .body(body)
        .send()
        .await
        .expect("as set up");
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let attachments = entity::case_attachment::Entity::find()
        .filter(entity::case_attachment::Column::CaseId.eq(id))
        .count(&app.state.db)
        .await
        .expect("as set up");
    assert_eq!(attachments, 1);

    // The correction goes through the annulment service, linked to the case.
    let fixed = w
        .chief
        .post(
            &format!("{location}/correct"),
            &[
                ("fix", "annul"),
                ("fact_id", &fact.to_string()),
                ("note", "学习时长系代刷"),
                ("form_id", "fix-1"),
            ],
        )
        .await;
    assert_eq!(fixed.status, StatusCode::SEE_OTHER, "{}", fixed.text);
    let after = app
        .get(&format!("/api/v1/people/{p}/score?year=2026"), &w.admin)
        .await;
    assert_eq!(
        score(&before) - score(&after),
        6.0,
        "{} → {}",
        before.text,
        after.text
    );
    let annulment = entity::fact::Entity::find()
        .filter(entity::fact::Column::TargetId.eq(fact))
        .one(&app.state.db)
        .await
        .expect("as set up")
        .expect("as set up");
    assert_eq!(
        annulment.reason.as_deref(),
        Some(format!("调查 #{id}：学习时长系代刷").as_str())
    );
    let case = entity::case::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .expect("as set up")
        .expect("as set up");
    assert_eq!(case.outcome_fact_id, Some(annulment.id));
    // Closing needs a conclusion; then nothing more changes.
    let empty = w
        .chief
        .post(&format!("{location}/close"), &[("conclusion", "")])
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    let closed = w
        .chief
        .post(
            &format!("{location}/close"),
            &[("conclusion", "认定学习积分系他人代刷，已作废")],
        )
        .await;
    assert_eq!(closed.status, StatusCode::SEE_OTHER, "{}", closed.text);
    let again = w
        .chief
        .post(
            &format!("{location}/correct"),
            &[
                ("fix", "annul"),
                ("fact_id", &fact.to_string()),
                ("note", "x"),
                ("form_id", "fix-2"),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    for action in [
        "open_investigation",
        "attach_finding",
        "link_investigation_correction",
        "close_investigation",
        "annul",
    ] {
        assert_eq!(audited(&app, action).await.len(), 1, "{action}");
    }
    let page = w.chief.get(&location).await;
    assert!(
        page.text.contains("已结案") && page.text.contains("认定学习积分系他人代刷"),
        "{}",
        page.text
    );
}
