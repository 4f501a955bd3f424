//! Leave (请假) from the member's phone to the secretary's answer, what it changes on
//! the attendance sheet, and what the platform proposes from attendance: EQ-3
//! absences at a session's close (with leave −0.5, without −1, confirmed by the
//! secretary), TW-5's six months at month end (once across instances); nothing under
//! `xihu-2017` (XH-15.1 counts days attended). Refusals write nothing.

use chrono::{DateTime, Duration, TimeZone, Utc};
use reqwest::{Method, StatusCode, header};
use serde_json::json;

use crate::console::{Desk, PASSWORD, staff};
use crate::helpers::{TestApp, spawn_app, spawn_beside};
use crate::pages::Phone;

pub fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc)
}

pub async fn set_policy(app: &TestApp, admin: &str, org: i64, year: i32, policy: &str) {
    let r = app
        .request(
            Method::PUT,
            &format!("/api/v1/orgs/{org}/policy"),
            Some(admin),
            Some(json!({"year": year, "policy": policy})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
}

pub async fn activity(
    app: &TestApp,
    token: &str,
    org: i64,
    title: &str,
    start: DateTime<Utc>,
) -> i64 {
    let r = app
        .post(
            "/api/v1/activities",
            token,
            json!({"org_id": org, "kind": "fixed_day", "title": title, "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(2)).to_rfc3339()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_i64().expect("activity id")
}

/// A member, bound to `openid` and signed in on a phone.
pub async fn member(
    app: &TestApp,
    admin: &str,
    org: i64,
    name: &str,
    phone_no: &str,
    openid: &str,
    next: &str,
) -> (i64, Phone) {
    let p = app.person(admin, name, phone_no, org, "member").await;
    app.bind(p, openid).await;
    let phone = Phone::new(app);
    phone.sign_in(openid, next).await;
    (p, phone)
}

pub async fn score(app: &TestApp, admin: &str, person: i64, year: i32) -> serde_json::Value {
    let r = app
        .get(&format!("/api/v1/people/{person}/score?year={year}"), admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["score"]["score"].clone()
}

async fn leave_rows(app: &TestApp) -> Vec<entity::leave_request::Model> {
    use sea_orm::EntityTrait;
    entity::leave_request::Entity::find()
        .all(&app.state.db)
        .await
        .expect("leave rows")
}

async fn proposal_rows(app: &TestApp) -> Vec<entity::proposal::Model> {
    use sea_orm::{EntityTrait, QueryOrder};
    entity::proposal::Entity::find()
        .order_by_asc(entity::proposal::Column::Id)
        .all(&app.state.db)
        .await
        .expect("proposals")
}

async fn open_session(app: &TestApp, token: &str, activity: i64) -> i64 {
    let r = app
        .post(
            &format!("/api/v1/activities/{activity}/sessions"),
            token,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_i64().expect("session id")
}

async fn close_session(app: &TestApp, token: &str, session: i64) {
    let r = app
        .post(
            &format!("/api/v1/sessions/{session}/close"),
            token,
            json!({}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
}

#[tokio::test]
async fn leave_requested_on_m_approved_in_console_shows_in_its_column_and_is_told_once() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    app.state.clock.set(at(2026, 3, 10, 8, 0));
    let start = at(2026, 3, 10, 14, 0);
    let a = activity(&app, &s.admin_token, s.branch, "3月主题党日", start).await;
    let (p, phone) = member(
        &app,
        &s.admin_token,
        s.branch,
        "李请假",
        "13800000301",
        "o-leave-1",
        "/m/leave",
    )
    .await;

    let form = phone.get("/m/leave").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text);
    assert!(
        form.text.contains("3月主题党日") && form.text.contains("60 分钟"),
        "{}",
        form.text
    );
    let fid = "leave-form-1";
    let asked = phone
        .post(
            "/m/leave",
            &[
                ("activity", &a.to_string()),
                ("reason", "出差在外"),
                ("form_id", fid),
            ],
        )
        .await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.text);
    // A double submit of the same form stores one request.
    let again = phone
        .post(
            "/m/leave",
            &[
                ("activity", &a.to_string()),
                ("reason", "出差在外"),
                ("form_id", fid),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.text);
    assert_eq!(leave_rows(&app).await.len(), 1);
    let mine = phone.get("/m/leave").await;
    assert!(
        mine.text.contains("待审批") && mine.text.contains("出差在外"),
        "{}",
        mine.text
    );

    // The secretary sees it and approves it on the console.
    let review = s.secretary.get("/console/review").await;
    assert_eq!(review.status, StatusCode::OK, "{}", review.text);
    assert!(
        review.text.contains("李请假") && review.text.contains("出差在外"),
        "{}",
        review.text
    );
    let id = leave_rows(&app).await[0].id;
    let cross = s
        .secretary
        .post_from(
            Some("https://evil.example"),
            &format!("/console/review/leave/{id}"),
            &[("answer", "approve")],
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert_eq!(
        leave_rows(&app).await[0].state,
        "requested",
        "a cross-site post changes nothing"
    );
    let ok = s
        .secretary
        .post(
            &format!("/console/review/leave/{id}"),
            &[("answer", "approve"), ("reason", "")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    let twice = s
        .secretary
        .post(
            &format!("/console/review/leave/{id}"),
            &[("answer", "refuse"), ("reason", "改主意")],
        )
        .await;
    assert_eq!(
        twice.status,
        StatusCode::CONFLICT,
        "one answer: {}",
        twice.text
    );
    assert_eq!(leave_rows(&app).await[0].state, "approved");
    assert!(phone.get("/m/leave").await.text.contains("已准假"));

    // The sheet: 请假 as its own status and column, in the API, the console and the export.
    app.state.clock.set(start + Duration::hours(3));
    let sheet = app
        .get(
            &format!("/api/v1/activities/{a}/attendance"),
            &s.admin_token,
        )
        .await;
    assert_eq!(sheet.status, StatusCode::OK, "{}", sheet.text);
    let me = sheet.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["person_id"] == p)
        .expect("expected at the activity")
        .clone();
    assert_eq!(me["status"], "leave", "{me}");
    assert_eq!(me["leave"], true);
    assert_eq!(sheet.body["counts"]["leave"], 1);
    assert_eq!(sheet.body["counts"]["missing"], 0);
    let console_sheet = s
        .secretary
        .get(&format!("/console/activities/{a}/attendance"))
        .await;
    assert!(
        console_sheet.text.contains("· 请假 1 ·"),
        "the count line has its own 请假: {}",
        console_sheet.text
    );
    let on_leave = s
        .secretary
        .get(&format!("/console/activities/{a}/attendance?status=leave"))
        .await;
    assert_eq!(on_leave.status, StatusCode::OK, "{}", on_leave.text);
    assert!(
        on_leave
            .text
            .contains("aria-current=\"true\" class=\"tag open\">请假</a>"),
        "{}",
        on_leave.text
    );
    let csv = app
        .client
        .get(format!(
            "{}/api/v1/activities/{a}/attendance/export?format=csv",
            app.address
        ))
        .bearer_auth(&s.admin_token)
        .send()
        .await
        .expect("export");
    assert_eq!(csv.status(), StatusCode::OK);
    let text = csv.text().await.expect("csv");
    let header_line = text.lines().next().unwrap_or_default();
    assert!(header_line.ends_with("请假"), "{header_line}");
    assert!(
        text.lines()
            .any(|l| l.contains("李请假") && l.ends_with("请假")),
        "{text}"
    );

    // The member was told once, in the simulator's inbox.
    let inbox = phone.get("/sandbox/phone?openid=o-leave-1").await;
    assert_eq!(
        inbox.text.matches("[模板消息] leave").count(),
        1,
        "{}",
        inbox.text
    );
}

#[tokio::test]
async fn leave_after_the_lead_time_or_the_start_is_refused_in_chinese_and_writes_nothing() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let start = at(2026, 3, 10, 14, 0);
    app.state.clock.set(at(2026, 3, 10, 8, 0));
    let a = activity(&app, &s.admin_token, s.branch, "3月主题党日", start).await;
    let (_, phone) = member(
        &app,
        &s.admin_token,
        s.branch,
        "王迟到",
        "13800000302",
        "o-leave-2",
        "/m/leave",
    )
    .await;

    app.state.clock.set(start - Duration::minutes(30));
    let late = phone
        .post(
            "/m/leave",
            &[("activity", &a.to_string()), ("reason", "临时有事")],
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.text);
    assert!(
        late.text.contains("请假须在活动开始前 60 分钟提出"),
        "{}",
        late.text
    );
    assert!(
        late.text.contains("临时有事"),
        "the form keeps what was typed"
    );

    app.state.clock.set(start + Duration::minutes(5));
    let after = phone
        .post(
            "/m/leave",
            &[("activity", &a.to_string()), ("reason", "临时有事")],
        )
        .await;
    assert_eq!(after.status, StatusCode::CONFLICT, "{}", after.text);
    assert!(
        after.text.contains("活动已于") && after.text.contains("不能再请假"),
        "{}",
        after.text
    );

    // No reason, no activity, another branch's activity: each refused by its field.
    app.state.clock.set(at(2026, 3, 10, 8, 0));
    let empty = phone
        .post("/m/leave", &[("activity", &a.to_string()), ("reason", " ")])
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{}", empty.text);
    assert!(empty.text.contains("请填写请假事由"), "{}", empty.text);
    let other = activity(&app, &s.admin_token, s.other, "别的支部", start).await;
    let foreign = phone
        .post(
            "/m/leave",
            &[("activity", &other.to_string()), ("reason", "出差")],
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.text);
    // A cross-site post is refused before anything is read.
    let cross = phone
        .client
        .post(format!("{}/m/leave", app.address))
        .header(header::ORIGIN, "https://evil.example")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("activity={a}&reason=x"))
        .send()
        .await
        .expect("post");
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    assert!(leave_rows(&app).await.is_empty(), "nothing written");
}

#[tokio::test]
async fn a_member_withdraws_leave_before_the_start_and_may_ask_again() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let start = at(2026, 3, 10, 14, 0);
    app.state.clock.set(at(2026, 3, 10, 8, 0));
    let a = activity(&app, &s.admin_token, s.branch, "3月主题党日", start).await;
    let (_, phone) = member(
        &app,
        &s.admin_token,
        s.branch,
        "赵撤回",
        "13800000303",
        "o-leave-3",
        "/m/leave",
    )
    .await;
    phone
        .post(
            "/m/leave",
            &[("activity", &a.to_string()), ("reason", "出差")],
        )
        .await;
    let dup = phone
        .post(
            "/m/leave",
            &[("activity", &a.to_string()), ("reason", "再请一次")],
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.text);
    assert!(dup.text.contains("已为该活动请过假"), "{}", dup.text);
    let id = leave_rows(&app).await[0].id;
    let w = phone.post(&format!("/m/leave/{id}/withdraw"), &[]).await;
    assert_eq!(w.status, StatusCode::SEE_OTHER, "{}", w.text);
    assert_eq!(leave_rows(&app).await[0].state, "withdrawn");
    let again = phone
        .post(
            "/m/leave",
            &[("activity", &a.to_string()), ("reason", "出差")],
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.text);
    // The secretary cannot answer a withdrawn request.
    let gone = s
        .secretary
        .post(
            &format!("/console/review/leave/{id}"),
            &[("answer", "approve")],
        )
        .await;
    assert_eq!(gone.status, StatusCode::CONFLICT, "{}", gone.text);
    // After the start it can no longer be withdrawn.
    let second = leave_rows(&app)
        .await
        .iter()
        .map(|l| l.id)
        .max()
        .expect("second");
    app.state.clock.set(start + Duration::minutes(1));
    let late = phone
        .post(&format!("/m/leave/{second}/withdraw"), &[])
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.text);
    assert!(late.text.contains("活动已开始"), "{}", late.text);
}

#[tokio::test]
async fn the_secretary_enters_leave_for_a_member_without_a_phone_and_a_recorder_cannot_approve() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let start = at(2026, 3, 10, 14, 0);
    app.state.clock.set(at(2026, 3, 10, 8, 0));
    let a = activity(&app, &s.admin_token, s.branch, "3月主题党日", start).await;
    let p = app
        .person(&s.admin_token, "孙无机", "13800000304", s.branch, "member")
        .await;
    let q = app
        .person(&s.admin_token, "周无机", "13800000305", s.branch, "member")
        .await;
    // Refused by its field, with what was typed kept.
    let bad = s
        .secretary
        .post(
            "/console/review/leave",
            &[
                ("person", "查无此人"),
                ("activity", &a.to_string()),
                ("reason", "住院"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert!(
        bad.text.contains("没有找到") && bad.text.contains("住院"),
        "{}",
        bad.text
    );
    let ok = s
        .secretary
        .post(
            "/console/review/leave",
            &[
                ("person", "孙无机"),
                ("activity", &a.to_string()),
                ("reason", "住院"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    let rows = leave_rows(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].person_id, rows[0].state.as_str()),
        (p, "approved"),
        "the secretary's entry is approved at once"
    );

    // A recorder (组织委员) enters one; it waits for the secretary; they cannot approve it.
    app.account(&s.admin_token, "rec-b", "recorder", Some(s.branch))
        .await;
    let rec = Desk::new(&app);
    rec.login("rec-b", PASSWORD).await;
    let entered = rec
        .post(
            "/console/review/leave",
            &[
                ("person", "周无机"),
                ("activity", &a.to_string()),
                ("reason", "探亲"),
            ],
        )
        .await;
    assert_eq!(entered.status, StatusCode::SEE_OTHER, "{}", entered.text);
    let row = leave_rows(&app)
        .await
        .into_iter()
        .find(|l| l.person_id == q)
        .expect("entered");
    assert_eq!(row.state, "requested");
    let denied = rec
        .post(
            &format!("/console/review/leave/{}", row.id),
            &[("answer", "approve")],
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.text);
    assert_eq!(
        leave_rows(&app)
            .await
            .into_iter()
            .find(|l| l.id == row.id)
            .expect("row")
            .state,
        "requested"
    );

    // Another branch's secretary: no such request.
    let (_, _) = app
        .account(&s.admin_token, "sec-b2", "secretary", Some(s.other))
        .await;
    let other = Desk::new(&app);
    other.login("sec-b2", PASSWORD).await;
    let hidden = other
        .post(
            &format!("/console/review/leave/{}", row.id),
            &[("answer", "approve")],
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.text);
    assert!(!other.get("/console/review").await.text.contains("周无机"));
}

/// Three members at an erqi session: one on approved leave, one absent without leave,
/// one without a smartphone whom the secretary checked in.
#[tokio::test]
async fn eq_3_absence_with_leave_is_minus_half_without_leave_minus_one_only_once_confirmed() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    set_policy(&app, &s.admin_token, s.branch, 2026, "erqi-2021").await;
    let start = at(2026, 3, 10, 14, 0);
    app.state.clock.set(at(2026, 3, 10, 8, 0));
    let a = activity(&app, &s.admin_token, s.branch, "3月党员大会", start).await;
    let (excused, phone) = member(
        &app,
        &s.admin_token,
        s.branch,
        "钱请假",
        "13800000311",
        "o-eq3-1",
        "/m/leave",
    )
    .await;
    let absent = app
        .person(&s.admin_token, "吴缺席", "13800000312", s.branch, "member")
        .await;
    let nophone = app
        .person(&s.admin_token, "郑无机", "13800000313", s.branch, "member")
        .await;
    phone
        .post(
            "/m/leave",
            &[("activity", &a.to_string()), ("reason", "出差")],
        )
        .await;
    let id = leave_rows(&app).await[0].id;
    s.secretary
        .post(
            &format!("/console/review/leave/{id}"),
            &[("answer", "approve")],
        )
        .await;

    app.state.clock.set(start - Duration::minutes(10));
    let (_, sec_token) = (0, app.token("sec-b", PASSWORD).await);
    let session = open_session(&app, &sec_token, a).await;
    app.state.clock.set(start + Duration::minutes(5));
    let r = app
        .post(
            &format!("/api/v1/activities/{a}/checkins"),
            &sec_token,
            json!({"person_ids": [nophone], "method": "manual", "reason": "无智能手机"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let before_excused = score(&app, &s.admin_token, excused, 2026).await;
    let before_absent = score(&app, &s.admin_token, absent, 2026).await;
    app.state.clock.set(start + Duration::hours(2));
    close_session(&app, &sec_token, session).await;

    // Proposed, not deducted: one each, the lighter one for leave, none for the entry.
    let props = proposal_rows(&app).await;
    let of = |p: i64| props.iter().find(|x| x.person_id == p).cloned();
    assert_eq!(of(excused).expect("excused").item, "absence_excused");
    assert_eq!(of(absent).expect("absent").item, "absence_unexcused");
    assert!(
        of(nophone).is_none(),
        "a member the secretary checked in is never proposed"
    );
    assert!(props.iter().all(|x| x.rule == "EQ-3" && x.state == "open"));
    assert_eq!(
        score(&app, &s.admin_token, excused, 2026).await,
        before_excused,
        "nothing deducted silently"
    );
    assert_eq!(
        score(&app, &s.admin_token, absent, 2026).await,
        before_absent
    );
    // Closing again proposes nothing new.
    vanguard::cycle::proposals::at_close(
        &app.state,
        &vanguard::checkin::attendance::activity(&app.state.db, a)
            .await
            .expect("a"),
    )
    .await
    .expect("again");
    assert_eq!(proposal_rows(&app).await.len(), 2);

    // The console lists them; a dismissal needs a reason.
    let page = s.secretary.get("/console/review").await;
    assert!(
        page.text.contains("未参加“3月党员大会”") && page.text.contains("已请假"),
        "{}",
        page.text
    );
    let pa = of(absent).expect("absent").id;
    let pe = of(excused).expect("excused").id;
    let no_reason = s
        .secretary
        .post(
            &format!("/console/review/proposals/{pa}"),
            &[("answer", "dismiss"), ("reason", "")],
        )
        .await;
    assert_eq!(
        no_reason.status,
        StatusCode::BAD_REQUEST,
        "{}",
        no_reason.text
    );
    assert!(
        no_reason.text.contains("请填写驳回的理由"),
        "{}",
        no_reason.text
    );
    for id in [pa, pe] {
        let r = s
            .secretary
            .post(
                &format!("/console/review/proposals/{id}"),
                &[("answer", "confirm"), ("reason", "支委会核实")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    }
    let num = |v: serde_json::Value| v.as_f64().unwrap_or(0.0);
    assert_eq!(
        num(score(&app, &s.admin_token, excused, 2026).await),
        num(before_excused.clone()) - 0.5
    );
    assert_eq!(
        num(score(&app, &s.admin_token, absent, 2026).await),
        num(before_absent.clone()) - 1.0
    );
    // Confirming twice records nothing more.
    let twice = s
        .secretary
        .post(
            &format!("/console/review/proposals/{pa}"),
            &[("answer", "confirm")],
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.text);
    assert_eq!(
        num(score(&app, &s.admin_token, absent, 2026).await),
        num(before_absent.clone()) - 1.0
    );
}

#[tokio::test]
async fn eq_3_a_dismissed_proposal_deducts_nothing_and_keeps_its_reason() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    set_policy(&app, &s.admin_token, s.branch, 2026, "erqi-2021").await;
    let start = at(2026, 3, 10, 14, 0);
    app.state.clock.set(start - Duration::minutes(10));
    let a = activity(&app, &s.admin_token, s.branch, "3月党课", start).await;
    let p = app
        .person(&s.admin_token, "冯缺席", "13800000321", s.branch, "member")
        .await;
    let sec = app.token("sec-b", PASSWORD).await;
    let session = open_session(&app, &sec, a).await;
    app.state.clock.set(start + Duration::hours(2));
    close_session(&app, &sec, session).await;
    let before = score(&app, &s.admin_token, p, 2026).await;
    let id = proposal_rows(&app).await[0].id;
    let r = s
        .secretary
        .post(
            &format!("/console/review/proposals/{id}"),
            &[("answer", "dismiss"), ("reason", "因公外出，书记知情")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let row = proposal_rows(&app).await.remove(0);
    assert_eq!(row.state, "dismissed");
    assert_eq!(row.reason.as_deref(), Some("因公外出，书记知情"));
    assert!(row.fact_id.is_none());
    assert_eq!(score(&app, &s.admin_token, p, 2026).await, before);
}

#[tokio::test]
async fn xh_15_1_leave_changes_nothing_under_xihu() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    // xihu-2017 is the default policy.
    let start = at(2026, 3, 10, 14, 0);
    app.state.clock.set(at(2026, 3, 10, 8, 0));
    let a = activity(&app, &s.admin_token, s.branch, "3月主题党日", start).await;
    let (with_leave, phone) = member(
        &app,
        &s.admin_token,
        s.branch,
        "陈请假",
        "13800000331",
        "o-xh-1",
        "/m/leave",
    )
    .await;
    let without = app
        .person(&s.admin_token, "褚缺席", "13800000332", s.branch, "member")
        .await;
    phone
        .post(
            "/m/leave",
            &[("activity", &a.to_string()), ("reason", "出差")],
        )
        .await;
    let id = leave_rows(&app).await[0].id;
    let ok = s
        .secretary
        .post(
            &format!("/console/review/leave/{id}"),
            &[("answer", "approve")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    let sec = app.token("sec-b", PASSWORD).await;
    app.state.clock.set(start - Duration::minutes(10));
    let session = open_session(&app, &sec, a).await;
    app.state.clock.set(start + Duration::hours(2));
    close_session(&app, &sec, session).await;
    assert!(
        proposal_rows(&app).await.is_empty(),
        "absences do not count under xihu-2017"
    );
    // The year's end: XH-15.1 counts days attended; leave is not attendance, and not a
    // lighter absence either: both members end the same.
    app.state.clock.set(at(2027, 1, 5, 9, 0));
    let r = app
        .post(
            &format!("/api/v1/orgs/{}/years/2026/close", s.branch),
            &s.admin_token,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let a_score = score(&app, &s.admin_token, with_leave, 2026).await;
    let b_score = score(&app, &s.admin_token, without, 2026).await;
    assert_eq!(a_score, b_score, "leave changes nothing under xihu-2017");
    // Make-up study stays open to the member on leave (XH-8.1): the sheet shows 请假,
    // not attendance.
    let sheet = app
        .get(
            &format!("/api/v1/activities/{a}/attendance"),
            &s.admin_token,
        )
        .await;
    assert_eq!(sheet.body["counts"]["leave"], 1, "{}", sheet.text);
}

/// TW-5: a member at none of six months' activities is proposed at month end, once
/// however many instances run the job; one the secretary checked in once is not.
#[tokio::test]
async fn tw_5_six_months_without_attending_are_proposed_at_month_end_once_across_instances() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    set_policy(&app, &s.admin_token, s.branch, 2026, "town-2019").await;
    let idle = app
        .person(&s.admin_token, "蒋不来", "13800000341", s.branch, "member")
        .await;
    let nophone = app
        .person(&s.admin_token, "沈无机", "13800000342", s.branch, "member")
        .await;
    let sec = app.token("sec-b", PASSWORD).await;
    for m in 1..=6 {
        let start = at(2026, m, 15, 14, 0);
        app.state.clock.set(start - Duration::hours(1));
        let a = activity(
            &app,
            &s.admin_token,
            s.branch,
            &format!("{m}月主题党日"),
            start,
        )
        .await;
        if m == 3 {
            app.state.clock.set(start + Duration::minutes(5));
            let r = app
                .post(
                    &format!("/api/v1/activities/{a}/checkins"),
                    &sec,
                    json!({"person_ids": [nophone], "method": "manual", "reason": "无智能手机"}),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        }
    }
    // Before the sixth month ends nothing is proposed.
    app.state.clock.set(at(2026, 6, 20, 9, 0));
    assert_eq!(
        vanguard::cycle::proposals::run_month_end(&app.state)
            .await
            .expect("may"),
        0
    );
    assert!(proposal_rows(&app).await.is_empty());

    app.state.clock.set(at(2026, 7, 1, 0, 30));
    let beside = spawn_beside(&app).await;
    beside.state.clock.set(at(2026, 7, 1, 0, 30));
    let (x, y) = tokio::join!(
        vanguard::cycle::proposals::run_month_end(&app.state),
        vanguard::cycle::proposals::run_month_end(&beside.state),
    );
    assert_eq!(x.expect("first") + y.expect("second"), 1);
    // The job for the month again (the lock lost): still one.
    vanguard::cycle::proposals::month_end(
        &app.state,
        chrono::NaiveDate::from_ymd_opt(2026, 6, 1).expect("d"),
    )
    .await
    .expect("again");
    let props = proposal_rows(&app).await;
    assert_eq!(props.len(), 1, "{props:?}");
    assert_eq!(
        (
            props[0].person_id,
            props[0].rule.as_str(),
            props[0].item.as_str()
        ),
        (idle, "TW-5", "veto")
    );
    assert!(
        props.iter().all(|p| p.person_id != nophone),
        "checked in by the secretary once: not proposed"
    );

    // Confirmed: the veto sets the year's score to 0.
    let r = app
        .post(
            "/api/v1/items",
            &s.admin_token,
            json!({"person_id": idle, "item": "dues", "at": at(2026, 2, 1, 9, 0).to_rfc3339()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_ne!(score(&app, &s.admin_token, idle, 2026).await, json!(0));
    let id = props[0].id;
    let r = s
        .secretary
        .post(
            &format!("/console/review/proposals/{id}"),
            &[
                ("answer", "confirm"),
                ("reason", "连续六个月未参加组织生活，支委会认定"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(score(&app, &s.admin_token, idle, 2026).await, json!(0));
}

#[tokio::test]
async fn eq_3_a_session_that_ended_without_a_close_is_proposed_at_month_end() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    set_policy(&app, &s.admin_token, s.branch, 2026, "erqi-2021").await;
    let start = at(2026, 3, 10, 14, 0);
    app.state.clock.set(start - Duration::minutes(10));
    let a = activity(&app, &s.admin_token, s.branch, "3月党员大会", start).await;
    let p = app
        .person(&s.admin_token, "何未关", "13800000351", s.branch, "member")
        .await;
    let sec = app.token("sec-b", PASSWORD).await;
    open_session(&app, &sec, a).await;
    app.state.clock.set(at(2026, 4, 1, 1, 0));
    assert_eq!(
        vanguard::cycle::proposals::run_month_end(&app.state)
            .await
            .expect("month end"),
        1
    );
    let props = proposal_rows(&app).await;
    assert_eq!(props.len(), 1);
    assert_eq!(
        (
            props[0].person_id,
            props[0].item.as_str(),
            props[0].state.as_str()
        ),
        (p, "absence_unexcused", "open")
    );
}
