//! Make-up study (补学) of a missed fixed activity day, end to end: materials set by the
//! branch, the member's attempt through their WeChat session, the quiz, the empty-click
//! guard, the window, who may and may not, and exactly one fact per person and day.

use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};
use crate::pages::{Branch, Phone, attended, branch, fixed_day};

async fn material(app: &TestApp, token: &str, activity: i64, body: Value) -> i64 {
    let r = app
        .post(
            &format!("/api/v1/activities/{activity}/materials"),
            token,
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_i64().expect("material id")
}

fn quiz_material() -> Value {
    json!({
        "title": "学习党章第一章",
        "body": "党员必须履行下列义务……",
        "min_seconds": 60,
        "quiz": {"questions": [
            {"text": "党员的权利和义务规定在哪里？", "options": ["党章", "报纸"], "answers": [0]},
            {"text": "以下哪些是党员义务？", "options": ["认真学习", "遵守纪律", "迟到早退"], "answers": [0, 1]}
        ]}
    })
}

async fn score(app: &TestApp, admin: &str, person: i64) -> Value {
    let r = app
        .get(&format!("/api/v1/people/{person}/score"), admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

/// Instead of waiting: the member's open attempts started `seconds` earlier.
async fn study_for(app: &TestApp, person: i64, seconds: i64) {
    use entity::makeup_attempt::{ActiveModel, Column, Entity};
    for a in Entity::find()
        .filter(Column::PersonId.eq(person))
        .filter(Column::CompletedAt.is_null())
        .all(&app.state.db)
        .await
        .expect("attempts")
    {
        let started = a.started_at - Duration::seconds(seconds);
        let mut row: ActiveModel = a.into();
        row.started_at = Set(started);
        row.update(&app.state.db).await.expect("update");
    }
}

async fn makeup_facts(app: &TestApp, person: i64) -> Vec<entity::fact::Model> {
    entity::fact::Entity::find()
        .filter(entity::fact::Column::Kind.eq("makeup_study"))
        .filter(entity::fact::Column::PersonId.eq(person))
        .all(&app.state.db)
        .await
        .expect("facts")
}

struct Missed {
    b: Branch,
    day: i64,
    person: i64,
    phone: Phone,
}

/// A member of the branch signed in on their phone, and a fixed day that ended an
/// hour ago which they missed.
async fn missed_day(app: &TestApp) -> Missed {
    let b = branch(app).await;
    let person = app
        .person(&b.admin, "王小明", "13800000001", b.branch, "member")
        .await;
    app.bind(person, "o-me").await;
    let day = fixed_day(
        app,
        &b.secretary,
        b.branch,
        "十一月主题党日",
        Utc::now() - Duration::hours(2),
    )
    .await;
    let phone = Phone::new(app);
    phone.sign_in("o-me", "/m/").await;
    Missed {
        b,
        day,
        person,
        phone,
    }
}

/// XH-8.1: a member who missed the day completes make-up study (+2); a failed quiz
/// can be retried; make-up is its own line, not XH-10 online study, and not under
/// XH-10's cap.
#[tokio::test]
async fn xh_8_1_make_up_study_with_a_quiz_failed_then_passed_earns_2_outside_the_xh_10_cap() {
    let app = spawn_app().await;
    let m = missed_day(&app).await;
    let mat = material(&app, &m.b.secretary, m.day, quiz_material()).await;
    let mat_s = mat.to_string();
    let page = format!("/m/makeup/{}", m.day);
    // XH-10 already at its cap of 10.
    for points in [6, 6] {
        let r = app
            .post(
                "/api/v1/items",
                &m.b.secretary,
                json!({"person_id": m.person, "item": "study", "at": (Utc::now() - Duration::hours(1)).to_rfc3339(), "fields": {"points": points}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    assert_eq!(
        score(&app, &m.b.admin, m.person).await["score"]["score"],
        json!(10)
    );

    let list = m.phone.get("/m/makeup").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.text.contains("十一月主题党日") && list.text.contains("可补学"),
        "{}",
        list.text
    );
    let before = m.phone.get(&page).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.text);
    assert!(before.text.contains("学习党章第一章") && before.text.contains("开始学习"));
    assert!(
        !before.text.contains("党员必须履行"),
        "the material opens with the start"
    );

    let started = m
        .phone
        .post(&format!("{page}/start"), &[("material_id", &mat_s)])
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.text);
    let studying = m.phone.get(&page).await;
    assert!(
        studying.text.contains("党员必须履行")
            && studying.text.contains("以下哪些是党员义务？（多选）")
    );
    assert!(
        studying.text.contains("type=\"checkbox\" name=\"q1\""),
        "{}",
        studying.text
    );

    study_for(&app, m.person, 120).await;
    let failed = m
        .phone
        .post(
            &format!("{page}/complete"),
            &[("material_id", &mat_s), ("q0", "0"), ("q1", "0")],
        )
        .await;
    assert_eq!(failed.status, StatusCode::OK);
    assert!(
        failed
            .text
            .contains("测验未通过：答对 1 题（共 2 题，需答对 2 题）"),
        "{}",
        failed.text
    );
    assert!(failed.text.contains("重新学习"));
    assert!(makeup_facts(&app, m.person).await.is_empty());
    // The failed attempt is closed: to retry, study again.
    let again = m
        .phone
        .post(
            &format!("{page}/complete"),
            &[
                ("material_id", &mat_s),
                ("q0", "0"),
                ("q1", "0"),
                ("q1", "1"),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.text.contains("请先点击“开始学习”"), "{}", again.text);
    m.phone
        .post(&format!("{page}/start"), &[("material_id", &mat_s)])
        .await;
    study_for(&app, m.person, 90).await;
    let passed = m
        .phone
        .post(
            &format!("{page}/complete"),
            &[
                ("material_id", &mat_s),
                ("q0", "0"),
                ("q1", "1"),
                ("q1", "0"),
            ],
        )
        .await;
    assert_eq!(passed.status, StatusCode::SEE_OTHER, "{}", passed.text);
    let done = m.phone.follow(passed).await;
    assert!(
        done.text.contains("补学完成：十一月主题党日，+2 分"),
        "{}",
        done.text
    );

    let s = score(&app, &m.b.admin, m.person).await;
    assert_eq!(
        s["score"]["score"],
        json!(12),
        "+2 on top of XH-10's capped 10"
    );
    let line = s["lines"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["rule_id"] == "XH-8.1"))
        .expect("an XH-8.1 line");
    assert_eq!(line["points"], json!(2));
    let facts = makeup_facts(&app, m.person).await;
    assert_eq!(facts.len(), 1);
    assert_eq!(
        facts[0].dedup_key.as_deref(),
        Some(format!("makeup:{}:{}", m.day, m.person).as_str())
    );
    // Both attempts kept: time recorded (never scored), the quiz result, the fact.
    let attempts = entity::makeup_attempt::Entity::find()
        .filter(entity::makeup_attempt::Column::PersonId.eq(m.person))
        .all(&app.state.db)
        .await
        .expect("attempts");
    assert_eq!(
        attempts.iter().map(|a| a.quiz_passed).collect::<Vec<_>>(),
        vec![Some(false), Some(true)]
    );
    assert!(attempts.iter().all(|a| a.seconds.is_some_and(|s| s >= 90)));
    assert_eq!(attempts[1].fact_id, Some(facts[0].id));
    let r = app
        .get(
            &format!("/api/v1/activities/{}/attendance", m.day),
            &m.b.secretary,
        )
        .await;
    assert_eq!(r.body["counts"]["makeup"], json!(1), "{}", r.text);
    let home = m.phone.get("/m/").await;
    assert!(
        home.text.contains("已补学") && home.text.contains("网上补学"),
        "{}",
        home.text
    );
}

/// Completing faster than the material's minimum is an empty click: refused with a
/// clear message, nothing recorded, the attempt stays open.
#[tokio::test]
async fn an_empty_click_is_refused() {
    let app = spawn_app().await;
    let m = missed_day(&app).await;
    let mat = material(
        &app,
        &m.b.secretary,
        m.day,
        json!({"title": "学习材料", "link": "https://www.12371.cn/", "min_seconds": 120}),
    )
    .await
    .to_string();
    let page = format!("/m/makeup/{}", m.day);
    let not_started = m
        .phone
        .post(&format!("{page}/complete"), &[("material_id", &mat)])
        .await;
    assert_eq!(not_started.status, StatusCode::CONFLICT);
    m.phone
        .post(&format!("{page}/start"), &[("material_id", &mat)])
        .await;
    let studying = m.phone.get(&page).await;
    assert!(
        studying.text.contains("打开学习材料") && studying.text.contains("www.12371.cn"),
        "{}",
        studying.text
    );
    let fast = m
        .phone
        .post(&format!("{page}/complete"), &[("material_id", &mat)])
        .await;
    assert_eq!(fast.status, StatusCode::BAD_REQUEST);
    assert!(
        fast.text.contains("学习时间过短") && fast.text.contains("2 分钟"),
        "{}",
        fast.text
    );
    assert!(makeup_facts(&app, m.person).await.is_empty());
    study_for(&app, m.person, 60).await;
    let still = m
        .phone
        .post(&format!("{page}/complete"), &[("material_id", &mat)])
        .await;
    assert_eq!(still.status, StatusCode::BAD_REQUEST, "60 of 120 seconds");
    study_for(&app, m.person, 61).await;
    let ok = m
        .phone
        .post(&format!("{page}/complete"), &[("material_id", &mat)])
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    assert_eq!(
        score(&app, &m.b.admin, m.person).await["score"]["score"],
        json!(2)
    );
}

/// One make-up fact per person and day: a second completion, or two at once, add nothing.
#[tokio::test]
async fn completing_twice_or_at_once_records_one_fact() {
    let app = spawn_app().await;
    let m = missed_day(&app).await;
    let first = material(
        &app,
        &m.b.secretary,
        m.day,
        json!({"title": "材料一", "body": "第一部分"}),
    )
    .await
    .to_string();
    let second = material(
        &app,
        &m.b.secretary,
        m.day,
        json!({"title": "材料二", "body": "第二部分"}),
    )
    .await
    .to_string();
    let page = format!("/m/makeup/{}", m.day);
    m.phone
        .post(&format!("{page}/start"), &[("material_id", &first)])
        .await;
    study_for(&app, m.person, 61).await;
    let one = m
        .phone
        .post(&format!("{page}/complete"), &[("material_id", &first)])
        .await;
    assert_eq!(
        one.location.as_deref(),
        Some(format!("{page}?r=passed").as_str())
    );
    assert!(
        makeup_facts(&app, m.person).await.is_empty(),
        "every material of the day first"
    );
    m.phone
        .post(&format!("{page}/start"), &[("material_id", &second)])
        .await;
    study_for(&app, m.person, 61).await;
    let path = format!("{page}/complete");
    let form = [("material_id", second.as_str())];
    let (a, b) = tokio::join!(m.phone.post(&path, &form), m.phone.post(&path, &form));
    assert!(
        [a.status, b.status].contains(&StatusCode::SEE_OTHER),
        "{} {}",
        a.text,
        b.text
    );
    let again = m.phone.post(&path, &form).await;
    assert_eq!(
        again.status,
        StatusCode::SEE_OTHER,
        "already done: nothing new, no error"
    );
    assert_eq!(makeup_facts(&app, m.person).await.len(), 1);
    assert_eq!(
        score(&app, &m.b.admin, m.person).await["score"]["score"],
        json!(2)
    );
    let start_again = m
        .phone
        .post(&format!("{page}/start"), &[("material_id", &first)])
        .await;
    assert_eq!(start_again.status, StatusCode::CONFLICT);
    assert!(start_again.text.contains("您已完成本次补学"));
}

/// XH-8.1: not for those who attended (on time, late, or back-filled by the secretary).
#[tokio::test]
async fn xh_8_1_make_up_is_not_open_to_those_who_attended() {
    let app = spawn_app().await;
    let m = missed_day(&app).await;
    let mat = material(
        &app,
        &m.b.secretary,
        m.day,
        json!({"title": "材料", "body": "内容"}),
    )
    .await
    .to_string();
    let start = entity::activity::Entity::find_by_id(m.day)
        .one(&app.state.db)
        .await
        .expect("db")
        .expect("activity")
        .starts_at;
    attended(
        &app,
        &m.b.admin,
        m.day,
        m.person,
        start + Duration::minutes(10),
    )
    .await;
    let page = format!("/m/makeup/{}", m.day);
    let view = m.phone.get(&page).await;
    assert_eq!(view.status, StatusCode::OK);
    assert!(
        view.text.contains("您已参加本次活动（迟到签到），无需补学"),
        "{}",
        view.text
    );
    let refused = m
        .phone
        .post(&format!("{page}/start"), &[("material_id", &mat)])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.text.contains("无需补学"));

    let other = app
        .person(&m.b.admin, "补签者", "13800000003", m.b.branch, "member")
        .await;
    app.bind(other, "o-backfilled").await;
    let r = app
        .post(
            &format!("/api/v1/activities/{}/checkins", m.day),
            &m.b.secretary,
            json!({"person_ids": [other], "method": "backfill", "reason": "会后补登"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let phone = Phone::new(&app);
    phone.sign_in("o-backfilled", "/m/").await;
    let refused = phone
        .post(&format!("{page}/start"), &[("material_id", &mat)])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert!(makeup_facts(&app, other).await.is_empty());
}

/// XH-8.1: a scan more than 15 minutes after the start is not attendance, and
/// make-up study is still open to that member.
#[tokio::test]
async fn xh_8_1_a_too_late_scanner_may_make_up() {
    let app = spawn_app().await;
    let b = branch(&app).await;
    let person = app
        .person(&b.admin, "迟到者", "13800000004", b.branch, "member")
        .await;
    app.bind(person, "o-late").await;
    let start = Utc::now() + Duration::minutes(5);
    let day = fixed_day(&app, &b.secretary, b.branch, "十一月主题党日", start).await;
    let s = app
        .request(
            Method::POST,
            &format!("/api/v1/activities/{day}/sessions"),
            Some(&b.secretary),
            None,
        )
        .await;
    let session = s.body["id"].as_i64().expect("session");
    let secret = entity::checkin_session::Entity::find_by_id(session)
        .one(&app.state.db)
        .await
        .expect("db")
        .expect("session row")
        .secret;
    let t = start + Duration::minutes(15) + Duration::seconds(1);
    let scene = vanguard::checkin::qr::payload(
        &secret,
        session,
        vanguard::checkin::qr::slot_at(t.timestamp(), 60),
    );
    let reply = app
        .scan("o-late", &scene, t.timestamp())
        .await
        .expect("reply");
    assert!(reply.starts_with("已超过签到时间"), "{reply}");
    // A day later (the activity moved back a day instead of waiting for it).
    let row = entity::activity::Entity::find_by_id(day)
        .one(&app.state.db)
        .await
        .expect("db")
        .expect("activity");
    let (s0, e0) = (row.starts_at, row.ends_at);
    let mut row: entity::activity::ActiveModel = row.into();
    row.starts_at = Set(s0 - Duration::days(1));
    row.ends_at = Set(e0 - Duration::days(1));
    row.update(&app.state.db).await.expect("update");
    let mat = material(
        &app,
        &b.secretary,
        day,
        json!({"title": "材料", "body": "内容"}),
    )
    .await
    .to_string();
    let phone = Phone::new(&app);
    phone.sign_in("o-late", "/m/").await;
    let page = format!("/m/makeup/{day}");
    let started = phone
        .post(&format!("{page}/start"), &[("material_id", &mat)])
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.text);
    study_for(&app, person, 61).await;
    let done = phone
        .post(&format!("{page}/complete"), &[("material_id", &mat)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_eq!(
        score(&app, &b.admin, person).await["score"]["score"],
        json!(2)
    );
}

/// Open from the end of the activity for `checkin.makeup_days` (30): not before, not after.
#[tokio::test]
async fn make_up_is_open_only_within_the_window_after_the_activity() {
    let app = spawn_app().await;
    let m = missed_day(&app).await;
    let old = fixed_day(
        &app,
        &m.b.secretary,
        m.b.branch,
        "九月主题党日",
        Utc::now() - Duration::days(31) - Duration::hours(2),
    )
    .await;
    let mat = material(
        &app,
        &m.b.secretary,
        old,
        json!({"title": "材料", "body": "内容"}),
    )
    .await
    .to_string();
    let page = format!("/m/makeup/{old}");
    let view = m.phone.get(&page).await;
    assert!(
        view.text
            .contains("补学期限已过：须在活动结束后 30 天内完成"),
        "{}",
        view.text
    );
    let refused = m
        .phone
        .post(&format!("{page}/start"), &[("material_id", &mat)])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.text.contains("补学期限已过"));

    let soon = fixed_day(
        &app,
        &m.b.secretary,
        m.b.branch,
        "十二月主题党日",
        Utc::now() + Duration::days(2),
    )
    .await;
    let mat = material(
        &app,
        &m.b.secretary,
        soon,
        json!({"title": "材料", "body": "内容"}),
    )
    .await
    .to_string();
    let refused = m
        .phone
        .post(&format!("/m/makeup/{soon}/start"), &[("material_id", &mat)])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.text.contains("活动结束后才能补学"),
        "{}",
        refused.text
    );
    let list = m.phone.get("/m/makeup").await;
    assert!(
        list.text.contains("九月主题党日") && list.text.contains("已过补学期限"),
        "{}",
        list.text
    );
}

/// Only people expected at the day (its organization's or an invited one's active
/// members, as at check-in) may make it up.
#[tokio::test]
async fn people_not_expected_at_the_day_cannot_make_it_up() {
    let app = spawn_app().await;
    let m = missed_day(&app).await;
    let mat = material(
        &app,
        &m.b.secretary,
        m.day,
        json!({"title": "材料", "body": "内容"}),
    )
    .await
    .to_string();
    let outsider = app
        .person(&m.b.admin, "外支部", "13800000005", m.b.other, "member")
        .await;
    app.bind(outsider, "o-outsider").await;
    let phone = Phone::new(&app);
    phone.sign_in("o-outsider", "/m/").await;
    let page = format!("/m/makeup/{}", m.day);
    let view = phone.get(&page).await;
    assert_eq!(view.status, StatusCode::FORBIDDEN);
    assert!(view.text.contains("不在您的补学范围内"));
    let refused = phone
        .post(&format!("{page}/start"), &[("material_id", &mat)])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // A committee day inviting the other branch: its members may make it up.
    let r = app
        .post(
            "/api/v1/activities",
            &m.b.admin,
            json!({"org_id": m.b.branch, "kind": "fixed_day", "title": "联合党日", "starts_at": (Utc::now() - Duration::hours(3)).to_rfc3339(), "ends_at": (Utc::now() - Duration::hours(2)).to_rfc3339(), "invite_org_ids": [m.b.other]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let joint = r.body["id"].as_i64().expect("id");
    let mat = material(
        &app,
        &m.b.admin,
        joint,
        json!({"title": "材料", "body": "内容"}),
    )
    .await
    .to_string();
    let ok = phone
        .post(
            &format!("/m/makeup/{joint}/start"),
            &[("material_id", &mat)],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    // Someone who left the Party is not expected either.
    let r = app
        .post(
            &format!("/api/v1/people/{}/status", m.person),
            &m.b.admin,
            json!({"status": "left", "reason": "退党"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let refused = m.phone.get(&format!("/m/makeup/{}", m.day)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert!(refused.text.contains("党籍状态"));
}

/// Materials belong to fixed days; the quiz is checked; staff read it back with the
/// answers, members never see them.
#[tokio::test]
async fn materials_are_checked_and_read_back_by_staff() {
    let app = spawn_app().await;
    let m = missed_day(&app).await;
    let bad = app
        .post(
            &format!("/api/v1/activities/{}/materials", m.day),
            &m.b.secretary,
            json!({"title": "材料", "body": "内容", "quiz": {"questions": [{"text": "题", "options": ["甲", "乙"], "answers": [2]}]}}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["errors"][0]["field"], "quiz.questions[0].answers");
    let empty = app
        .post(
            &format!("/api/v1/activities/{}/materials", m.day),
            &m.b.secretary,
            json!({"title": "材料"}),
        )
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    let meeting = app
        .post(
            "/api/v1/activities",
            &m.b.secretary,
            json!({"org_id": m.b.branch, "kind": "meeting", "title": "支委会", "starts_at": Utc::now().to_rfc3339(), "ends_at": Utc::now().to_rfc3339(), "points": 1}),
        )
        .await;
    let meeting = meeting.body["id"].as_i64().expect("id");
    let r = app
        .post(
            &format!("/api/v1/activities/{meeting}/materials"),
            &m.b.secretary,
            json!({"title": "材料", "body": "内容"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    material(&app, &m.b.secretary, m.day, quiz_material()).await;
    let list = app
        .get(
            &format!("/api/v1/activities/{}/materials", m.day),
            &m.b.secretary,
        )
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        list.body[0]["quiz"]["questions"][1]["answers"],
        json!([0, 1])
    );
    assert_eq!(list.body[0]["quiz"]["pass_mark"], json!(2));
    assert_eq!(list.body[0]["min_seconds"], json!(60));
    let page = m.phone.get(&format!("/m/makeup/{}", m.day)).await;
    assert!(!page.text.contains("answers") && !page.text.contains("pass_mark"));
}

/// A form post naming another site as its Origin is refused; the member's own pages
/// send their real Origin (Referrer-Policy same-origin) and pass.
#[tokio::test]
async fn a_form_post_from_another_site_is_refused() {
    let app = spawn_app().await;
    let m = missed_day(&app).await;
    let mat = material(
        &app,
        &m.b.secretary,
        m.day,
        json!({"title": "材料", "body": "内容"}),
    )
    .await
    .to_string();
    let page = m.phone.get(&format!("/m/makeup/{}", m.day)).await;
    assert_eq!(
        page.headers
            .get(reqwest::header::REFERRER_POLICY)
            .and_then(|v| v.to_str().ok()),
        Some("same-origin")
    );
    let url = format!("{}/m/makeup/{}/start", app.address, m.day);
    let post = |origin: String| {
        m.phone
            .client
            .post(url.clone())
            .header(reqwest::header::ORIGIN, origin)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(format!("material_id={mat}"))
            .send()
    };
    let evil = post("https://evil.example".into()).await.expect("post");
    assert_eq!(evil.status(), StatusCode::FORBIDDEN);
    assert!(
        entity::makeup_attempt::Entity::find()
            .all(&app.state.db)
            .await
            .expect("db")
            .is_empty()
    );
    let own = post(app.address.clone()).await.expect("post");
    assert_eq!(own.status(), StatusCode::SEE_OTHER);
}

/// Found by the long fuzzing pass on PostgreSQL: a NUL character in a material's text
/// was a 500 there (PostgreSQL refuses NUL in text). It is the input's fault: a 400
/// problem that says so; SQLite takes the text as it is.
#[tokio::test]
async fn a_nul_character_in_text_is_a_validation_error_not_a_server_error() {
    let app = spawn_app().await;
    let m = missed_day(&app).await;
    let r = app
        .post(
            &format!("/api/v1/activities/{}/materials", m.day),
            &m.b.secretary,
            json!({"title": "材料", "body": "内容\u{0}含空字符"}),
        )
        .await;
    assert!(
        r.status == StatusCode::CREATED || r.status == StatusCode::BAD_REQUEST,
        "{} {}",
        r.status,
        r.text
    );
    if std::env::var("VANGUARD_TEST_DATABASE_URL").is_ok() {
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "PostgreSQL: {}", r.text);
    }
    if r.status == StatusCode::BAD_REQUEST {
        assert_eq!(r.body["code"], "validation_failed", "{}", r.text);
        assert!(r.text.contains("空字符"), "{}", r.text);
    }
    // The same in a query filter (found on the audit log's).
    let auditor = app
        .operator_account("aud-nul", vanguard::auth::Role::Auditor, None)
        .await;
    let q = app.get("/api/v1/audit?entity_id=%00a", &auditor).await;
    assert!(
        q.status == StatusCode::OK || q.status == StatusCode::BAD_REQUEST,
        "{} {}",
        q.status,
        q.text
    );
    if std::env::var("VANGUARD_TEST_DATABASE_URL").is_ok() {
        assert_eq!(q.status, StatusCode::BAD_REQUEST, "PostgreSQL: {}", q.text);
    }
}
