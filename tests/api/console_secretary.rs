//! The secretary's console pages over HTTP (no browser): 积分 with an item previewed
//! (rule and points) before it is saved, 党员 with unbind and rebind of a waiting scan,
//! 补学资料 as the member's make-up page reads them, 待办 with a dispute filed on a
//! member's behalf and a comment that does not reopen it; and what each refuses.

use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use crate::console::{Staff, staff};
use crate::helpers::{TestApp, spawn_app};
use crate::pages::{Phone, fixed_day};

fn local_input(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// A path as the templates write it into an attribute (slashes escaped).
fn attr(path: &str) -> String {
    path.replace('/', "&#x2f;")
}

fn form_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn member(app: &TestApp, s: &Staff, name: &str, phone: &str, org: i64) -> i64 {
    app.person(&s.admin_token, name, phone, org, "member").await
}

async fn ledger(app: &TestApp, s: &Staff, person: i64) -> Value {
    let r = app
        .get(&format!("/api/v1/people/{person}/score"), &s.admin_token)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

async fn item_facts(app: &TestApp, person: i64) -> usize {
    entity::fact::Entity::find()
        .filter(entity::fact::Column::Kind.eq("item"))
        .filter(entity::fact::Column::PersonId.eq(person))
        .all(&app.state.db)
        .await
        .expect("facts")
        .len()
}

/// XH-14: a city-level 优秀共产党员 is +7. The secretary chooses the item by name, sees
/// the rule (名称, the ID in a tooltip) and the points before anything is written, then
/// saves once, however often the confirmation is sent; the ledger line shows the reason.
#[tokio::test]
async fn xh_14_an_items_rule_and_points_are_shown_before_saving_then_saved_once() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let p = member(&app, &s, "李红", "13900000001", s.branch).await;
    member(&app, &s, "王无", "13900000011", s.branch).await;

    let form = s
        .secretary
        .get(&format!("/console/scores/{p}/item?item=honor_city"))
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text);
    assert!(
        form.text.contains("加分：市级优秀共产党员"),
        "{}",
        form.text
    );
    assert!(form.text.contains("<label for=\"reason\">"));

    let at = local_input(Utc::now() - Duration::hours(1));
    let fields = [
        ("item", "honor_city"),
        ("at", at.as_str()),
        ("reason", "2026年度市级优秀共产党员（市委表彰）"),
    ];
    let preview = s
        .secretary
        .post(&format!("/console/scores/{p}/item/preview"), &fields)
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.text);
    assert!(
        preview
            .text
            .contains("title=\"规则编号 XH-14\">党内荣誉</strong>"),
        "the rule by name, its ID in a tooltip: {}",
        preview.text
    );
    assert!(preview.text.contains("id=\"granted\">+7</strong>"));
    assert!(preview.text.contains("0 → <strong>7</strong>"));
    assert_eq!(item_facts(&app, p).await, 0, "a preview writes nothing");

    let id = form_id();
    let mut confirm: Vec<(&str, &str)> = fields.to_vec();
    confirm.push(("form_id", &id));
    let saved = s
        .secretary
        .post(&format!("/console/scores/{p}/item"), &confirm)
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
    let again = s
        .secretary
        .post(&format!("/console/scores/{p}/item"), &confirm)
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(item_facts(&app, p).await, 1, "a double submit records once");
    let l = ledger(&app, &s, p).await;
    assert_eq!(l["score"]["score"], serde_json::json!(7));

    let page = s
        .secretary
        .get(saved.location.as_deref().expect("to the ledger"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text
            .contains("title=\"规则编号 XH-14\">党内荣誉</strong>")
    );
    assert!(
        page.text
            .contains("事由：2026年度市级优秀共产党员（市委表彰）")
    );
    assert!(page.text.contains("id=\"score\">7 分"));
    let list = s.secretary.get("/console/scores").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.text.contains("李红") && list.text.contains("<strong>7 分</strong>"));
    assert!(
        list.text.contains("王无") && list.text.contains("暂无记录"),
        "members with nothing recorded are listed too"
    );
}

/// XH-15.2: a deduction shows as minus before saving.
#[tokio::test]
async fn xh_15_2_improper_remarks_preview_is_minus_ten() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let p = member(&app, &s, "赵强", "13900000002", s.branch).await;
    let at = local_input(Utc::now() - Duration::hours(1));
    let preview = s
        .secretary
        .post(
            &format!("/console/scores/{p}/item/preview"),
            &[
                ("item", "improper_remarks"),
                ("at", &at),
                ("reason", "在微信群发表不当言论"),
            ],
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.text);
    assert!(preview.text.contains("发表不当言论"));
    assert!(preview.text.contains("id=\"granted\">-10</strong>"));
}

/// Refused items change nothing: not in the policy, no reason, a closed year, a
/// cross-site post, another branch's member (404 with no data).
#[tokio::test]
async fn refused_items_change_nothing_and_say_why_in_chinese() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let p = member(&app, &s, "钱多", "13900000003", s.branch).await;
    let theirs = member(&app, &s, "孙外", "13900000004", s.other).await;
    let at = local_input(Utc::now() - Duration::hours(1));
    let url = format!("/console/scores/{p}/item/preview");

    let r = s
        .secretary
        .post(
            &url,
            &[("item", "no_such_item"), ("at", &at), ("reason", "试")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("没有事项“no_such_item”"), "{}", r.text);

    let r = s
        .secretary
        .post(&url, &[("item", "honor_city"), ("at", &at), ("reason", "")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text.contains("id=\"reason-error\">请填写事由"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains(&format!("value=\"{at}\"")),
        "keeps what was typed"
    );

    let r = s
        .secretary
        .post(
            &url,
            &[
                ("item", "study"),
                ("at", &at),
                ("reason", "网上学习"),
                ("f_points", "很多"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("分值须为不小于 0 的数字"), "{}", r.text);

    // 2025 closed by the admin: an item dated in it is refused by the date.
    let closed = app
        .request(
            Method::POST,
            &format!("/api/v1/orgs/{}/years/2025/close", s.branch),
            Some(&s.admin_token),
            None,
        )
        .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.text);
    let r = s
        .secretary
        .post(
            &url,
            &[
                ("item", "honor_city"),
                ("at", "2025-06-01T10:00"),
                ("reason", "补记"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text.contains("id=\"at-error\">2025 年度已结转"),
        "{}",
        r.text
    );
    let id = form_id();
    let r = s
        .secretary
        .post(
            &format!("/console/scores/{p}/item"),
            &[
                ("item", "honor_city"),
                ("at", "2025-06-01T10:00"),
                ("reason", "补记"),
                ("form_id", &id),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = s
        .secretary
        .post_from(
            Some("https://evil.example"),
            &format!("/console/scores/{p}/item"),
            &[("item", "honor_city"), ("at", &at), ("reason", "跨站")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    for path in [
        format!("/console/scores/{theirs}"),
        format!("/console/scores/{theirs}/item?item=honor_city"),
    ] {
        let r = s.secretary.get(&path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!r.text.contains("孙外"), "{path} leaks the name");
    }
    let r = s
        .secretary
        .post(
            &format!("/console/scores/{theirs}/item/preview"),
            &[("item", "honor_city"), ("at", &at), ("reason", "越权")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(item_facts(&app, p).await, 0);
    assert_eq!(item_facts(&app, theirs).await, 0);
}

/// An open fixed day of the branch and a scan by `openid` at `t`.
async fn scan_now(app: &TestApp, token: &str, org: i64, openid: &str) -> i64 {
    let start = Utc::now() + Duration::minutes(5);
    let day = fixed_day(app, token, org, "十二月主题党日", start).await;
    let s = app
        .request(
            Method::POST,
            &format!("/api/v1/activities/{day}/sessions"),
            Some(token),
            None,
        )
        .await;
    assert!(s.status.is_success(), "{}", s.text);
    let session = s.body["id"].as_i64().expect("session");
    let secret = entity::checkin_session::Entity::find_by_id(session)
        .one(&app.state.db)
        .await
        .expect("db")
        .expect("session row")
        .secret;
    let now = Utc::now();
    let scene = vanguard::checkin::qr::payload(
        &secret,
        session,
        vanguard::checkin::qr::slot_at(now.timestamp(), 60),
    );
    let reply = app.scan(openid, &scene, now.timestamp()).await;
    assert!(reply.is_some(), "a reply to the scan");
    day
}

/// Unbinding needs a reason and says first what happens; a scan by the member's new
/// WeChat waits, and binding it to the member (a rebind) counts it, with the reason in
/// the member's history. Another branch's member is 404; a cross-site post is refused.
#[tokio::test]
async fn unbind_and_rebind_with_a_reason_counts_the_waiting_scan() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let p = member(&app, &s, "周新", "13900000005", s.branch).await;
    let theirs = member(&app, &s, "吴外", "13900000006", s.other).await;
    app.bind(p, "o-old-phone").await;
    app.bind(theirs, "o-theirs").await;

    let list = s.secretary.get("/console/members").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert!(
        list.text
            .contains(&format!("href=\"/console/members/{p}/unbind\""))
    );
    assert!(!list.text.contains("吴外"));

    let confirm = s
        .secretary
        .get(&format!("/console/members/{p}/unbind"))
        .await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(
        confirm.text.contains("已记录的签到和积分不变"),
        "{}",
        confirm.text
    );
    let url = format!("/console/members/{p}/unbind");
    let r = s.secretary.post(&url, &[("reason", "")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("id=\"reason-error\">请填写解绑原因"));
    let r = s
        .secretary
        .post_from(Some("https://evil.example"), &url, &[("reason", "跨站")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let person = vanguard::org::people::find(&app.state.db, vanguard::ids::PersonId(p))
        .await
        .expect("person");
    assert_eq!(person.openid.as_deref(), Some("o-old-phone"), "still bound");
    let r = s.secretary.post(&url, &[("reason", "更换手机")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    for path in [format!("/console/members/{theirs}/unbind")] {
        let r = s.secretary.get(&path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = s.secretary.post(&path, &[("reason", "越权")]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }

    // The new phone's WeChat scans: it waits.
    let day = scan_now(&app, &s.admin_token, s.branch, "o-new-phone").await;
    let list = s.secretary.get("/console/members").await;
    assert!(
        list.text
            .contains("/console/members/bind?openid=o-new-phone"),
        "{}",
        list.text
    );
    let bind = s
        .secretary
        .get("/console/members/bind?openid=o-new-phone")
        .await;
    assert_eq!(bind.status, StatusCode::OK, "{}", bind.text);
    assert!(
        bind.text.contains("1 次扫码将按扫码时间补计"),
        "{}",
        bind.text
    );
    let r = s
        .secretary
        .post(
            "/console/members/bind",
            &[
                ("openid", "o-new-phone"),
                ("person_id", &p.to_string()),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("id=\"reason-error\""));
    let r = s
        .secretary
        .post(
            "/console/members/bind",
            &[
                ("openid", "o-new-phone"),
                ("person_id", &theirs.to_string()),
                ("reason", "越权"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = s
        .secretary
        .post(
            "/console/members/bind",
            &[
                ("openid", "o-new-phone"),
                ("person_id", &p.to_string()),
                ("reason", "更换手机后扫码"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        r.location.as_deref(),
        Some("/console/members?done=bound&counted=1")
    );
    let person = vanguard::org::people::find(&app.state.db, vanguard::ids::PersonId(p))
        .await
        .expect("person");
    assert_eq!(person.openid.as_deref(), Some("o-new-phone"));
    let checkins = entity::fact::Entity::find()
        .filter(entity::fact::Column::Kind.eq("checkin"))
        .filter(entity::fact::Column::PersonId.eq(p))
        .filter(entity::fact::Column::ActivityId.eq(day))
        .all(&app.state.db)
        .await
        .expect("facts");
    assert_eq!(checkins.len(), 1, "the waiting scan counted");
    let history = app
        .get(&format!("/api/v1/people/{p}/history"), &s.admin_token)
        .await;
    let reasons: Vec<&str> = history
        .body
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["reason"].as_str())
        .collect();
    assert!(reasons.contains(&"更换手机"), "{}", history.text);
    assert!(reasons.contains(&"更换手机后扫码"), "{}", history.text);
    let audit = entity::audit_log::Entity::find()
        .filter(entity::audit_log::Column::Action.eq("bind_openid"))
        .all(&app.state.db)
        .await
        .expect("audit");
    assert!(
        audit.iter().any(|a| a.entity_id == Some(p.to_string())),
        "the binding is audited"
    );
}

/// 补学资料: added with a typed quiz, edited, retired, as the member's make-up page
/// shows them; another branch's day is 404; a cross-site post is refused.
#[tokio::test]
async fn materials_are_added_edited_and_retired_as_the_members_makeup_page_reads_them() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let p = member(&app, &s, "郑学", "13900000007", s.branch).await;
    app.bind(p, "o-study").await;
    let day = fixed_day(
        &app,
        &s.admin_token,
        s.branch,
        "十一月主题党日",
        Utc::now() - Duration::hours(3),
    )
    .await;
    let theirs = fixed_day(
        &app,
        &s.admin_token,
        s.other,
        "别的支部主题党日",
        Utc::now() - Duration::hours(3),
    )
    .await;
    let list = s.secretary.get("/console/materials").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.text.contains("十一月主题党日") && list.text.contains("未添加资料"));
    assert!(!list.text.contains("别的支部主题党日"));

    let url = format!("/console/materials/activity/{day}");
    let id = form_id();
    let bad = s
        .secretary
        .post(
            &url,
            &[
                ("form_id", &id),
                ("title", "学习党章"),
                ("body", "内容"),
                ("quiz", "题目\n甲\n乙"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.text
            .contains("id=\"quiz-error\">第 1 题请在正确选项前加 *"),
        "{}",
        bad.text
    );
    assert!(
        bad.text.contains("value=\"学习党章\""),
        "keeps what was typed"
    );
    let added = s
        .secretary
        .post(
            &url,
            &[
                ("form_id", &id),
                ("title", "学习党章"),
                ("body", "党员必须履行下列义务……"),
                ("min_seconds", "60"),
                ("quiz", "党员的义务规定在哪里？\n*党章\n报纸"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text);
    let cross = s
        .secretary
        .post_from(
            Some("https://evil.example"),
            &url,
            &[("title", "跨站"), ("body", "x")],
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    let r = s
        .secretary
        .get(&format!("/console/materials/activity/{theirs}"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.text.contains("别的支部主题党日"));
    let r = s
        .secretary
        .post(
            &format!("/console/materials/activity/{theirs}"),
            &[("form_id", &form_id()), ("title", "越权"), ("body", "x")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let material = vanguard::checkin::materials::all_materials_of(&app.state.db, day)
        .await
        .expect("materials");
    assert_eq!(material.len(), 1);
    let mid = material[0].id;
    let phone = Phone::new(&app);
    phone.sign_in("o-study", "/m/").await;
    let page = phone.get(&format!("/m/makeup/{day}")).await;
    assert!(page.text.contains("学习党章"), "{}", page.text);

    let edit = s.secretary.get(&format!("/console/materials/{mid}")).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(
        edit.text.contains("*党章"),
        "the quiz as typed: {}",
        edit.text
    );
    let r = s
        .secretary
        .post(
            &format!("/console/materials/{mid}"),
            &[
                ("title", "学习党章（修订）"),
                ("body", "党员必须履行下列义务……"),
                ("min_seconds", "60"),
                ("quiz", "党员的义务规定在哪里？\n*党章\n报纸"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let page = phone.get(&format!("/m/makeup/{day}")).await;
    assert!(page.text.contains("学习党章（修订）"));

    let r = s
        .secretary
        .post(
            &format!("/console/materials/{mid}/retire"),
            &[("retire_reason", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("id=\"retire-error\""));
    let r = s
        .secretary
        .post(
            &format!("/console/materials/{mid}/retire"),
            &[("retire_reason", "内容已过时")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let page = phone.get(&format!("/m/makeup/{day}")).await;
    assert!(!page.text.contains("学习党章（修订）"), "{}", page.text);
    let day_page = s.secretary.get(&url).await;
    assert!(day_page.text.contains("已停用"));
}

/// Staff file a dispute on a member's behalf (the member's rules: a target of theirs, a
/// reason), see it in 待办, and comment after it is answered without reopening it.
#[tokio::test]
async fn staff_file_a_dispute_on_a_members_behalf_and_comment_without_reopening_it() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let p = member(&app, &s, "冯老", "13900000008", s.branch).await;
    // His daughter's phone: notices reach it (the member need not file himself).
    app.bind(p, "o-feng").await;
    let theirs = member(&app, &s, "陈外", "13900000009", s.other).await;
    let day = fixed_day(
        &app,
        &s.admin_token,
        s.branch,
        "十一月主题党日",
        Utc::now() - Duration::hours(3),
    )
    .await;
    let form = s
        .secretary
        .get(&format!("/console/todo/file?person={p}"))
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text);
    assert!(
        form.text.contains(&format!("value=\"missing:{day}\"")),
        "{}",
        form.text
    );
    let r = s
        .secretary
        .get(&format!("/console/todo/file?person={theirs}"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.text.contains("陈外"));

    let target = format!("missing:{day}");
    let pid = p.to_string();
    let r = s
        .secretary
        .post(
            "/console/todo/file",
            &[
                ("person_id", &pid),
                ("target", &target),
                ("reason", ""),
                ("form_id", &form_id()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("id=\"reason-error\">请写明异议的理由"));
    let r = s
        .secretary
        .post_from(
            Some("https://evil.example"),
            "/console/todo/file",
            &[("person_id", &pid), ("target", &target), ("reason", "跨站")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = s
        .secretary
        .post(
            "/console/todo/file",
            &[
                ("person_id", &theirs.to_string()),
                ("target", &target),
                ("reason", "越权"),
                ("form_id", &form_id()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let filed = s
        .secretary
        .post(
            "/console/todo/file",
            &[
                ("person_id", &pid),
                ("target", &target),
                ("reason", "冯老没有智能手机，当天在现场，签到表有签名"),
                ("form_id", &form_id()),
            ],
        )
        .await;
    assert_eq!(filed.status, StatusCode::SEE_OTHER, "{}", filed.text);
    let case_url = filed.location.clone().expect("to the case");
    let case_id: i64 = case_url
        .trim_start_matches("/console/disputes/")
        .parse()
        .expect("case id");
    let case = entity::case::Entity::find_by_id(case_id)
        .one(&app.state.db)
        .await
        .expect("db")
        .expect("case");
    assert_eq!(case.subject_person_id, Some(p), "the member's dispute");
    assert_eq!(case.state, "open");

    let todo = s.secretary.get("/console/todo").await;
    assert_eq!(todo.status, StatusCode::OK);
    assert!(
        todo.text
            .contains(&format!("href=\"{}\">冯老</a>", attr(&case_url))),
        "{}",
        todo.text
    );
    let shown = s.secretary.get(&case_url).await;
    assert!(shown.text.contains("代冯老提出"), "{}", shown.text);

    let r = s
        .admin
        .post(
            &format!("{case_url}/reject"),
            &[("reason", "签到表无此人签名")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let url = format!("{case_url}/comment");
    let r = s
        .secretary
        .post_from(Some("https://evil.example"), &url, &[("body", "跨站")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = s.secretary.post(&url, &[("body", "")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = s
        .secretary
        .post(
            &url,
            &[("body", "已请冯老补交现场照片"), ("form_id", &form_id())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let case = entity::case::Entity::find_by_id(case_id)
        .one(&app.state.db)
        .await
        .expect("db")
        .expect("case");
    assert_eq!(case.state, "rejected", "a comment does not reopen");
    let shown = s.secretary.get(&case_url).await;
    assert!(shown.text.contains("已请冯老补交现场照片"));
    assert!(shown.text.contains("未采纳"));
    // The member's side: notified at each step (filed, answered, the comment) and the
    // comment on his dispute page.
    let phone = Phone::new(&app);
    let inbox = phone.get("/sandbox/phone?openid=o-feng").await;
    assert!(
        inbox.text.matches("[模板消息] dispute").count() >= 3,
        "{}",
        inbox.text
    );
    phone.sign_in("o-feng", "/m/").await;
    let mine = phone.get(&format!("/m/disputes/{case_id}")).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    assert!(mine.text.contains("已请冯老补交现场照片") && mine.text.contains("留言"));
}

/// The secretary's navigation reaches every page of the phone map, and each fits a
/// phone: labelled controls, no fixed widths.
#[tokio::test]
async fn the_secretarys_pages_are_in_the_navigation_and_label_every_control() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let p = member(&app, &s, "韩一", "13900000010", s.branch).await;
    let home = s.secretary.get("/console/").await;
    for (href, label) in [
        ("/console/todo", "待办"),
        ("/console/members", "党员"),
        ("/console/scores", "积分"),
        ("/console/materials", "补学资料"),
    ] {
        assert!(
            home.text
                .contains(&format!("<a href=\"{}\">{label}</a>", attr(href))),
            "{label}: {}",
            home.text
        );
    }
    for path in [
        "/console/todo".to_owned(),
        "/console/members".to_owned(),
        "/console/scores".to_owned(),
        "/console/materials".to_owned(),
        format!("/console/scores/{p}"),
        format!("/console/scores/{p}/item?item=study"),
        format!("/console/todo/file?person={p}"),
    ] {
        let r = s.secretary.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        for control in ["<input", "<select", "<textarea"] {
            for (i, _) in r.text.match_indices(control) {
                let tag = &r.text[i..i + r.text[i..].find('>').unwrap_or(0)];
                if tag.contains("type=\"hidden\"") {
                    continue;
                }
                let id = tag
                    .split("id=\"")
                    .nth(1)
                    .and_then(|t| t.split('"').next())
                    .unwrap_or_else(|| panic!("{path}: a control without id: {tag}"));
                assert!(
                    r.text.contains(&format!("for=\"{id}\"")),
                    "{path}: no label for {id}"
                );
            }
        }
        assert!(!r.text.contains("width: 4"), "{path}: a fixed width");
    }
}
