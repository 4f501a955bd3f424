//! The fixed activity day end to end: sessions, rotating QR codes, classification to
//! the second, retries and double scans, refusals kept with their reasons, binding
//! while the session is open, secretary entries, attendance and corrections.

use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

struct Day {
    admin: String,
    secretary: String,
    branch: i64,
    other_branch: i64,
    activity: i64,
    session: i64,
    start: DateTime<Utc>,
    secret: String,
}

/// A branch with a fixed day starting `minutes` from now and its session open.
async fn fixed_day(app: &TestApp, minutes: i64) -> Day {
    let admin = app.admin_token().await;
    let c = app.org(&admin, "C", "committee", None).await;
    let branch = app.org(&admin, "B", "branch", Some(c)).await;
    let other_branch = app.org(&admin, "B2", "branch", Some(c)).await;
    let (_, secretary) = app
        .account(&admin, "sec-b", "secretary", Some(branch))
        .await;
    let start = Utc::now() + Duration::minutes(minutes);
    let r = app
        .post(
            "/api/v1/activities",
            &secretary,
            json!({"org_id": branch, "kind": "fixed_day", "title": "11月主题党日", "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(2)).to_rfc3339()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let activity = r.body["id"].as_i64().expect("id");
    let (session, secret) = open_session(app, &secretary, activity).await;
    Day {
        admin,
        secretary,
        branch,
        other_branch,
        activity,
        session,
        start,
        secret,
    }
}

/// Opens a check-in session for the activity: its id and its QR secret.
async fn open_session(app: &TestApp, token: &str, activity: i64) -> (i64, String) {
    let r = app
        .request(
            Method::POST,
            &format!("/api/v1/activities/{activity}/sessions"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let session = r.body["id"].as_i64().expect("session");
    use sea_orm::EntityTrait;
    let secret = entity::checkin_session::Entity::find_by_id(session)
        .one(&app.state.db)
        .await
        .expect("db")
        .expect("row")
        .secret;
    (session, secret)
}

fn scene_at(day: &Day, t: DateTime<Utc>) -> String {
    let slot = vanguard::checkin::qr::slot_at(t.timestamp(), 60);
    vanguard::checkin::qr::payload(&day.secret, day.session, slot)
}

async fn member(app: &TestApp, day: &Day, name: &str, phone: &str, openid: &str) -> i64 {
    let p = app
        .person(&day.admin, name, phone, day.branch, "member")
        .await;
    app.bind(p, openid).await;
    p
}

async fn score(app: &TestApp, day: &Day, person: i64) -> Value {
    app.get(&format!("/api/v1/people/{person}/score"), &day.admin)
        .await
        .body["score"]["score"]
        .clone()
}

/// XH-8.1: at or before the start on time (+5), up to 15:00 after late (+3), 15:01 after not attendance.
#[tokio::test]
async fn xh_8_1_classifies_each_boundary_to_the_second() {
    let app = spawn_app().await;
    let day = fixed_day(&app, 5).await;
    let a = member(&app, &day, "按时", "13800000001", "o-ontime").await;
    let b = member(&app, &day, "迟到", "13800000002", "o-late").await;
    let c = member(&app, &day, "太迟", "13800000003", "o-toolate").await;
    // WeChat's CreateTime decides, judged to the second; the QR slot is the one shown then.
    let cases = [
        (
            "o-ontime",
            day.start,
            "签到成功：11月主题党日，按时签到，+5 分",
        ),
        (
            "o-late",
            day.start + Duration::minutes(15),
            "签到成功：11月主题党日，迟到签到（开始后 15 分钟内），+3 分",
        ),
        (
            "o-toolate",
            day.start + Duration::minutes(15) + Duration::seconds(1),
            "已超过签到时间",
        ),
    ];
    for (openid, t, want) in cases {
        let reply = app
            .scan(openid, &scene_at(&day, t), t.timestamp())
            .await
            .expect("reply");
        assert!(reply.starts_with(want), "{openid}: {reply}");
    }
    assert_eq!(score(&app, &day, a).await, json!(5));
    assert_eq!(score(&app, &day, b).await, json!(3));
    assert_eq!(score(&app, &day, c).await, json!(0));
    let r = app
        .get(
            &format!("/api/v1/sessions/{}/attendance", day.session),
            &day.secretary,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let counts = &r.body["counts"];
    assert_eq!(
        (
            counts["on_time"].as_i64(),
            counts["late"].as_i64(),
            counts["too_late"].as_i64()
        ),
        (Some(1), Some(1), Some(1)),
        "{counts}"
    );
}

/// A resend (same event, fresh timestamp and nonce) gets the same reply; a second scan is "already".
#[tokio::test]
async fn retries_and_double_scans_count_once() {
    let app = spawn_app().await;
    let day = fixed_day(&app, 5).await;
    let p = member(&app, &day, "张三", "13800000011", "o-zhang").await;
    let t = Utc::now();
    let first = app
        .scan("o-zhang", &scene_at(&day, t), t.timestamp())
        .await
        .expect("reply");
    assert!(first.starts_with("签到成功"), "{first}");
    let resend = app
        .scan("o-zhang", &scene_at(&day, t), t.timestamp())
        .await
        .expect("reply");
    assert_eq!(resend, first, "a WeChat resend gets the same reply");
    let again = app
        .scan("o-zhang", &scene_at(&day, t), t.timestamp() + 3)
        .await
        .expect("reply");
    assert!(
        again.starts_with("您已签到过") && !again.contains('+'),
        "{again}"
    );
    assert_eq!(score(&app, &day, p).await, json!(5));
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let n = entity::fact::Entity::find()
        .filter(entity::fact::Column::Kind.eq("checkin"))
        .count(&app.state.db)
        .await
        .expect("count");
    assert_eq!(n, 1);
}

#[tokio::test]
async fn an_expired_code_a_forged_code_and_a_closed_session_are_refused_and_kept() {
    let app = spawn_app().await;
    let day = fixed_day(&app, 5).await;
    member(&app, &day, "李四", "13800000021", "o-li").await;
    let now = Utc::now();
    let old = scene_at(&day, now - Duration::seconds(125));
    let reply = app
        .scan("o-li", &old, now.timestamp())
        .await
        .expect("reply");
    assert_eq!(reply, "二维码已过期，请扫描现场最新二维码");
    let previous = scene_at(&day, now - Duration::seconds(60));
    let ok = app
        .scan("o-li", &previous, now.timestamp())
        .await
        .expect("reply");
    assert!(
        ok.starts_with("签到成功"),
        "the previous slot is still accepted: {ok}"
    );
    let forged = format!(
        "ci.{}.{}.0123456789abcdef",
        day.session,
        vanguard::checkin::qr::slot_at(now.timestamp(), 60)
    );
    let reply = app
        .scan("o-li", &forged, now.timestamp())
        .await
        .expect("reply");
    assert!(reply.starts_with("二维码无效"), "{reply}");
    let r = app
        .request(
            Method::POST,
            &format!("/api/v1/sessions/{}/close", day.session),
            Some(&day.secretary),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    member(&app, &day, "王五", "13800000022", "o-wang").await;
    let after = Utc::now() + Duration::seconds(2);
    let reply = app
        .scan("o-wang", &scene_at(&day, after), after.timestamp())
        .await
        .expect("reply");
    assert!(
        reply.starts_with("签到已结束") && !reply.starts_with("签到成功"),
        "{reply}"
    );
    use sea_orm::{EntityTrait, QueryOrder};
    let reasons: Vec<String> = entity::checkin_refusal::Entity::find()
        .order_by_asc(entity::checkin_refusal::Column::Id)
        .all(&app.state.db)
        .await
        .expect("db")
        .into_iter()
        .map(|r| r.reason)
        .collect();
    assert_eq!(
        reasons,
        vec!["expired_code", "invalid_code", "session_closed"]
    );
}

/// XH-20: an exempt person's attendance is recorded with no points, and the reply says so.
#[tokio::test]
async fn xh_20_an_exempt_member_is_recorded_without_points() {
    let app = spawn_app().await;
    let day = fixed_day(&app, 5).await;
    let p = member(&app, &day, "老同志", "13800000031", "o-old").await;
    let year = Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y")
        .to_string();
    app.post(&format!("/api/v1/people/{p}/exemptions"), &day.admin, json!({"year": year.parse::<i32>().unwrap_or(2026), "reason": "年老体弱", "approver": "区委组织部", "approved_on": "2026-01-05"})).await;
    let reply = app
        .scan("o-old", &scene_at(&day, Utc::now()), Utc::now().timestamp())
        .await
        .expect("reply");
    assert!(
        reply.starts_with("已记录出席") && reply.contains("不计积分") && !reply.contains('+'),
        "{reply}"
    );
    let s = app
        .get(&format!("/api/v1/people/{p}/score"), &day.admin)
        .await;
    assert_eq!(s.body["score"]["status"], "exempt");
}

#[tokio::test]
async fn members_of_other_branches_are_refused_unless_invited() {
    let app = spawn_app().await;
    let day = fixed_day(&app, 5).await;
    let outsider = app
        .person(
            &day.admin,
            "外支部",
            "13800000041",
            day.other_branch,
            "member",
        )
        .await;
    app.bind(outsider, "o-outsider").await;
    let reply = app
        .scan(
            "o-outsider",
            &scene_at(&day, Utc::now()),
            Utc::now().timestamp(),
        )
        .await
        .expect("reply");
    assert!(reply.starts_with("您所在的组织未受邀参加"), "{reply}");
    // A committee activity inviting the other branch: its members check in like the host's.
    let start = Utc::now() + Duration::minutes(5);
    let r = app.post("/api/v1/activities", &day.admin, json!({"org_id": day.branch, "kind": "fixed_day", "title": "联合党日", "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(1)).to_rfc3339(), "invite_org_ids": [day.other_branch]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let act = r.body["id"].as_i64().expect("id");
    let s = app
        .request(
            Method::POST,
            &format!("/api/v1/activities/{act}/sessions"),
            Some(&day.admin),
            None,
        )
        .await;
    let session = s.body["id"].as_i64().expect("session");
    let qr = app
        .get(&format!("/api/v1/sessions/{session}/qr"), &day.admin)
        .await;
    assert_eq!(qr.status, StatusCode::OK, "{}", qr.text);
    assert!(
        qr.body["url"]
            .as_str()
            .unwrap_or_default()
            .contains("/sandbox/phone?scene=ci."),
        "{}",
        qr.text
    );
    let scene = qr.body["scene"].as_str().expect("scene").to_owned();
    let reply = app
        .scan("o-outsider", &scene, Utc::now().timestamp())
        .await
        .expect("reply");
    assert!(reply.starts_with("签到成功：联合党日"), "{reply}");
}

/// An unbound openid gets the binding link; binding while the session is open counts the scan.
#[tokio::test]
async fn a_scan_before_binding_counts_once_the_binding_completes_in_time() {
    let app = spawn_app().await;
    let day = fixed_day(&app, 5).await;
    let p = app
        .person(&day.admin, "新同志", "13800000051", day.branch, "member")
        .await;
    let t = Utc::now();
    let reply = app
        .scan("o-new", &scene_at(&day, t), t.timestamp())
        .await
        .expect("reply");
    assert!(
        reply.contains("/wechat/oauth/start") && !reply.starts_with("签到成功"),
        "{reply}"
    );
    assert_eq!(score(&app, &day, p).await, json!(0));
    app.bind(p, "o-new").await;
    assert_eq!(
        score(&app, &day, p).await,
        json!(5),
        "counted at its scan time, on time"
    );
    // A new scan (not WeChat resending the first one, which would get the first reply).
    let later = Utc::now() + Duration::seconds(2);
    let again = app
        .scan("o-new", &scene_at(&day, later), later.timestamp())
        .await
        .expect("reply");
    assert!(again.starts_with("您已签到过"), "{again}");
}

/// XH-8.1 / XH-13: a manual entry at the activity counts by its time; 补签 earns nothing.
#[tokio::test]
async fn xh_8_1_secretary_entries_carry_method_identity_and_reason() {
    let app = spawn_app().await;
    let day = fixed_day(&app, 5).await;
    let p = app
        .person(&day.admin, "无手机", "13800000061", day.branch, "member")
        .await;
    let q = app
        .person(&day.admin, "请假", "13800000062", day.branch, "member")
        .await;
    let r = app
        .post(
            &format!("/api/v1/activities/{}/checkins", day.activity),
            &day.secretary,
            json!({"person_ids": [p], "method": "manual", "reason": ""}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "a proxy entry needs a reason"
    );
    let r = app
        .post(
            &format!("/api/v1/activities/{}/checkins", day.activity),
            &day.secretary,
            json!({"person_ids": [p], "method": "manual", "reason": "无智能手机"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body[0]["result"], "recorded");
    assert_eq!(
        r.body[0]["points"],
        json!(5),
        "entered before the start: on time"
    );
    let r = app
        .post(
            &format!("/api/v1/activities/{}/checkins", day.activity),
            &day.secretary,
            json!({"person_ids": [q], "method": "backfill", "reason": "会后补登"}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "no back-filling before the activity: {}",
        r.text
    );
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let f = entity::fact::Entity::find()
        .filter(entity::fact::Column::PersonId.eq(p))
        .one(&app.state.db)
        .await
        .expect("db")
        .expect("fact");
    assert_eq!(
        (
            f.method.as_deref(),
            f.actor_name.as_str(),
            f.reason.as_deref()
        ),
        (Some("manual"), "sec-b", Some("无智能手机"))
    );
}

/// XH-8.1 (one result per member per activity day): a hand entry and a scan for the
/// same person and activity are one check-in whichever comes first: the second is
/// "already checked in" and stores no second fact.
#[tokio::test]
async fn xh_8_1_hand_entry_and_scan_are_one_check_in() {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let app = spawn_app().await;
    let day = fixed_day(&app, 5).await;
    let entered = member(&app, &day, "先登记", "13800000063", "o-hand-1").await;
    let scanned = member(&app, &day, "先扫码", "13800000064", "o-hand-2").await;
    let path = format!("/api/v1/activities/{}/checkins", day.activity);
    let r = app
        .post(
            &path,
            &day.secretary,
            json!({"person_ids": [entered], "method": "manual", "reason": "手机没电"}),
        )
        .await;
    assert_eq!(r.body[0]["result"], "recorded", "{}", r.text);
    let t = Utc::now();
    let reply = app
        .scan("o-hand-1", &scene_at(&day, t), t.timestamp())
        .await
        .expect("reply");
    assert!(reply.starts_with("您已签到过"), "{reply}");
    app.scan("o-hand-2", &scene_at(&day, t), t.timestamp())
        .await;
    let r = app
        .post(
            &path,
            &day.secretary,
            json!({"person_ids": [scanned], "method": "batch", "reason": "现场名单"}),
        )
        .await;
    assert_eq!(r.body[0]["result"], "duplicate", "{}", r.text);
    for p in [entered, scanned] {
        let facts = entity::fact::Entity::find()
            .filter(entity::fact::Column::PersonId.eq(p))
            .filter(entity::fact::Column::ActivityId.eq(day.activity))
            .count(&app.state.db)
            .await
            .expect("db");
        assert_eq!(facts, 1, "person {p}: one check-in");
        assert_eq!(score(&app, &day, p).await, json!(5));
    }
}

/// XH-19: corrections are new, audited facts; the ledger re-derives; the member is notified.
#[tokio::test]
async fn xh_19_admin_corrections_annul_add_and_reclassify() {
    let app = spawn_app().await;
    let day = fixed_day(&app, 5).await;
    let p = member(&app, &day, "更正", "13800000071", "o-fix").await;
    let t = Utc::now();
    app.scan("o-fix", &scene_at(&day, t), t.timestamp()).await;
    assert_eq!(score(&app, &day, p).await, json!(5));
    let path = format!("/api/v1/activities/{}/corrections", day.activity);
    let r = app
        .post(
            &path,
            &day.secretary,
            json!({"person_id": p, "action": "annul", "reason": "代签"}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "secretaries do not correct"
    );
    let late = day.start + Duration::minutes(10);
    let r = app.post(&path, &day.admin, json!({"person_id": p, "action": "reclassify", "at": late.to_rfc3339(), "reason": "现场核实为迟到", "evidence": "签到表照片"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["score"]["score"], json!(3));
    let r = app
        .post(
            &path,
            &day.admin,
            json!({"person_id": p, "action": "annul", "reason": "代人扫码"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["score"]["score"], json!(0));
    let r = app.post(&path, &day.admin, json!({"person_id": p, "action": "add", "at": day.start.to_rfc3339(), "reason": "申诉成立"})).await;
    assert_eq!(r.body["score"]["score"], json!(5));
    let audit = vanguard::audit::list(
        &app.state.db,
        None,
        vanguard::audit::Filter {
            action: Some("correct_checkin".into()),
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .expect("audit");
    assert_eq!(audit.len(), 3);
    assert_eq!(
        audit[2].after.as_ref().expect("after")["evidence"],
        "签到表照片"
    );
}

/// A fixed day on 2026-03-10 at 09:00 (Shanghai) in a branch under `policy`, its session
/// opened at 08:55 by the clock.
async fn fixed_day_under(app: &TestApp, policy: &str) -> Day {
    activity_under(app, policy, "fixed_day", "3月主题党日").await
}

/// An activity of `kind` on 2026-03-10 at 09:00 (Shanghai), two hours long, in a branch
/// under `policy`, its session opened at 08:55 by the clock.
async fn activity_under(app: &TestApp, policy: &str, kind: &str, title: &str) -> Day {
    use chrono::TimeZone;
    let admin = app.admin_token().await;
    let c = app.org(&admin, "C", "committee", None).await;
    let branch = app.org(&admin, "B", "branch", Some(c)).await;
    let other_branch = app.org(&admin, "B2", "branch", Some(c)).await;
    let r = app
        .request(
            Method::PUT,
            &format!("/api/v1/orgs/{branch}/policy"),
            Some(&admin),
            Some(json!({"year": 2026, "policy": policy})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let (_, secretary) = app
        .account(&admin, "sec-b", "secretary", Some(branch))
        .await;
    let start = chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, 3, 10, 9, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    app.state.clock.set(start - Duration::minutes(5));
    let r = app
        .post(
            "/api/v1/activities",
            &secretary,
            json!({"org_id": branch, "kind": kind, "title": title, "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(2)).to_rfc3339()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let activity = r.body["id"].as_i64().expect("id");
    let (session, secret) = open_session(app, &secretary, activity).await;
    Day {
        admin,
        secretary,
        branch,
        other_branch,
        activity,
        session,
        start,
        secret,
    }
}

/// TW-2: under town-2019 any time of the activity's day counts: a scan 40 minutes after
/// the start is the month's activity-day line (+1), through the WeChat callback.
#[tokio::test]
async fn tw_2_a_scan_forty_minutes_late_counts_and_scores_under_town() {
    let app = spawn_app().await;
    let day = fixed_day_under(&app, "town-2019").await;
    let p = member(&app, &day, "镇党员", "13800000081", "o-town-late").await;
    let t = day.start + Duration::minutes(40);
    app.state.clock.set(t);
    let reply = app
        .scan("o-town-late", &scene_at(&day, t), t.timestamp())
        .await
        .expect("reply");
    assert!(
        reply.contains("签到成功：3月主题党日，签到，+1 分"),
        "{reply}"
    );
    assert!(!reply.contains("补学"), "{reply}");
    assert_eq!(score(&app, &day, p).await, json!(1));
    // The window each preset reads, and its reading where the document is silent.
    for (name, late, makeup) in [
        ("town-2019", json!(null), false),
        ("erqi-2021", json!(null), false),
        ("xihu-2017", json!(900), true),
    ] {
        let r = app
            .get(&format!("/api/v1/policies/{name}"), &day.admin)
            .await;
        assert_eq!(r.body["checkin"]["late_seconds"], late, "{name}");
        assert_eq!(r.body["makeup_scores"], json!(makeup), "{name}");
    }
    let erqi = app.get("/api/v1/policies/erqi-2021", &day.admin).await;
    assert!(erqi.text.contains("党员活动日签到的时限"), "{}", erqi.text);
}

/// TW-2, EQ-1: a 党课 and a 党员大会 are activity kinds a scan scores: under town-2019 the
/// quarter's lecture line (+3), under erqi-2021 the month's general-meeting line (+1),
/// through the WeChat callback, 30 minutes after the start (neither sets a time limit).
#[tokio::test]
async fn tw_2_eq_1_scans_at_a_party_lecture_and_a_general_meeting_score_their_lines() {
    for (policy, kind, title, points) in [
        ("town-2019", "lecture", "一季度党课", 3),
        ("erqi-2021", "general_meeting", "3月支部党员大会", 1),
    ] {
        let app = spawn_app().await;
        let day = activity_under(&app, policy, kind, title).await;
        let p = member(&app, &day, "党员甲", "13800000082", "o-meeting").await;
        let t = day.start + Duration::minutes(30);
        app.state.clock.set(t);
        let reply = app
            .scan("o-meeting", &scene_at(&day, t), t.timestamp())
            .await
            .expect("reply");
        assert!(
            reply.contains(&format!("签到成功：{title}"))
                && reply.contains(&format!("+{points} 分")),
            "{policy}: {reply}"
        );
        assert_eq!(score(&app, &day, p).await, json!(points), "{policy}");
    }
}

/// XH-8.1: under xihu-2017 the same scan is too late: refused, with the make-up offer
/// (make-up study scores 2 there), and no points.
#[tokio::test]
async fn xh_8_1_a_scan_forty_minutes_late_is_refused_with_make_up_under_xihu() {
    let app = spawn_app().await;
    let day = fixed_day_under(&app, "xihu-2017").await;
    let p = member(&app, &day, "西湖党员", "13800000082", "o-xihu-late").await;
    let t = day.start + Duration::minutes(40);
    app.state.clock.set(t);
    let reply = app
        .scan("o-xihu-late", &scene_at(&day, t), t.timestamp())
        .await
        .expect("reply");
    assert!(
        reply.contains("已超过签到时间（开始后 15 分钟）") && reply.contains("网上补学"),
        "{reply}"
    );
    assert_eq!(score(&app, &day, p).await, json!(0));
}

/// XH-15.1 (corrected): a member the secretary back-filled (补签) attended that day,
/// though it earns nothing (XH-8.1): make-up study is not offered for it, and at year
/// end the day counts, so two days attended are not docked; a member with one day is.
#[tokio::test]
async fn xh_15_1_a_backfilled_member_is_offered_no_make_up_and_not_docked() {
    use chrono::TimeZone;
    let app = spawn_app().await;
    let day = fixed_day_under(&app, "xihu-2017").await;
    let a = member(&app, &day, "补签者", "13800000083", "o-backfilled-a").await;
    let b = member(&app, &day, "一次者", "13800000084", "o-once-b").await;
    for openid in ["o-backfilled-a", "o-once-b"] {
        let reply = app
            .scan(openid, &scene_at(&day, day.start), day.start.timestamp())
            .await
            .expect("reply");
        assert!(reply.contains("按时签到，+5 分"), "{reply}");
    }
    let second = chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, 4, 14, 9, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    app.state.clock.set(second - Duration::hours(1));
    let r = app
        .post(
            "/api/v1/activities",
            &day.secretary,
            json!({"org_id": day.branch, "kind": "fixed_day", "title": "4月主题党日", "starts_at": second.to_rfc3339(), "ends_at": (second + Duration::hours(2)).to_rfc3339()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let day2 = r.body["id"].as_i64().expect("id");
    app.state.clock.set(second + Duration::hours(3));
    let r = app
        .post(
            &format!("/api/v1/activities/{day2}/checkins"),
            &day.secretary,
            json!({"person_ids": [a], "method": "backfill", "reason": "会后补登"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/activities/{day2}/materials"),
            &day.secretary,
            json!({"title": "补学材料", "body": "内容"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    // The back-filled member: attended, nothing to make up.
    let phone = crate::pages::Phone::new(&app);
    phone.sign_in("o-backfilled-a", "/m/").await;
    let view = phone.get(&format!("/m/makeup/{day2}")).await;
    assert!(view.text.contains("无需补学"), "{}", view.text);
    let other = crate::pages::Phone::new(&app);
    other.sign_in("o-once-b", "/m/").await;
    let view = other.get(&format!("/m/makeup/{day2}")).await;
    assert!(!view.text.contains("无需补学"), "{}", view.text);
    // Year end: the back-filled member attended two days, the other one.
    app.state.clock.set(
        chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(2027, 1, 5, 9, 0, 0)
            .unwrap()
            .with_timezone(&Utc),
    );
    let r = app
        .post(
            &format!("/api/v1/orgs/{}/years/2026/close", day.branch),
            &day.admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let year_score = |p: i64| {
        let app = &app;
        let admin = day.admin.clone();
        async move {
            app.get(&format!("/api/v1/people/{p}/score?year=2026"), &admin)
                .await
                .body["score"]["score"]
                .clone()
        }
    };
    assert_eq!(year_score(a).await, json!(5), "5 + 0 (补签), no XH-15.1");
    assert_eq!(year_score(b).await, json!(0), "5 − 5 (XH-15.1)");
}

/// XH-8.1 with XH-19: an annulled check-in leaves every period's ranking, not only the
/// year's: the reversal is dated by the check-in it reverses, so month, quarter and
/// half-year sums agree with the year.
#[tokio::test]
async fn xh_8_1_an_annulled_checkin_leaves_every_period_ranking() {
    use chrono::Datelike;
    let app = spawn_app().await;
    let day = fixed_day(&app, 5).await;
    let p = member(&app, &day, "撤销", "13800000072", "o-annul-period").await;
    let t = Utc::now();
    app.scan("o-annul-period", &scene_at(&day, t), t.timestamp())
        .await;
    let local = day.start.with_timezone(&chrono_tz::Asia::Shanghai);
    let month = local.month();
    let periods = [
        ("year", 1),
        ("half_year", (month - 1) / 6 + 1),
        ("quarter", (month - 1) / 3 + 1),
        ("month", month),
    ];
    let ranked = |period: &'static str, n: u32| {
        let app = &app;
        let day = &day;
        async move {
            let r = app
                .get(
                    &format!(
                        "/api/v1/orgs/{}/rankings?year={}&period={period}&n={n}",
                        day.branch,
                        local.year()
                    ),
                    &day.admin,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            r.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .find(|i| i["subject_id"] == json!(p))
                .map(|i| i["score"].clone())
                .expect("ranked")
        }
    };
    for (period, n) in periods {
        assert_eq!(ranked(period, n).await, json!(5), "{period} before");
    }
    let r = app
        .post(
            &format!("/api/v1/activities/{}/corrections", day.activity),
            &day.admin,
            json!({"person_id": p, "action": "annul", "reason": "代人扫码"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for (period, n) in periods {
        assert_eq!(
            ranked(period, n).await,
            json!(0),
            "{period} after the annulment"
        );
    }
    // A reversal written undated (before this fix) is dated by the line it reverses.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let undated = entity::ledger_entry::Entity::update_many()
        .col_expr(
            entity::ledger_entry::Column::At,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .filter(entity::ledger_entry::Column::SubjectId.eq(p))
        .filter(entity::ledger_entry::Column::PointsE4.lt(0))
        .exec(&app.state.db)
        .await
        .expect("db");
    assert_eq!(undated.rows_affected, 1);
    for (period, n) in periods {
        assert_eq!(
            ranked(period, n).await,
            json!(0),
            "{period} with an undated reversal"
        );
    }
}

/// With WeChat credentials each slot's temporary QR is made through the API once across
/// instances (both show the same code), and the next slot's code is made ahead while a
/// projector is asking.
#[tokio::test]
async fn with_wechat_credentials_each_slot_code_is_made_once_and_ahead() {
    use crate::helpers::{Spawn, spawn_app_with, spawn_beside};
    // This instance is only WeChat's stand-in: its sandbox mock answers the API.
    let wechat = spawn_app().await;
    let extra = format!(
        "[server]\npublic_url = \"http://127.0.0.1\"\n[wechat]\nsandbox = false\napp_id = \"wxvanguardtest01\"\napp_secret = \"test-secret\"\ntoken = \"testtoken123\"\napi_base = \"{}/sandbox/wechat-api\"\n",
        wechat.address
    );
    let a = spawn_app_with(Spawn { extra }).await;
    let b = spawn_beside(&a).await;
    let day = fixed_day(&a, 10).await;
    let path = format!("/api/v1/sessions/{}/qr", day.session);
    let (ra, rb) = tokio::join!(a.get(&path, &day.secretary), b.get(&path, &day.secretary));
    assert_eq!(ra.status, StatusCode::OK, "{}", ra.text);
    assert_eq!(rb.status, StatusCode::OK, "{}", rb.text);
    let url = ra.body["url"].as_str().expect("url");
    assert!(url.contains("ticket=mock-ticket-"), "a WeChat QR: {url}");
    // Several instances share the live store only on Redis (the in-process store is for
    // a single instance): then both show the one code made for the slot.
    let shared = std::env::var("VANGUARD_TEST_REDIS_URL").is_ok();
    if shared && ra.body["scene"] == rb.body["scene"] {
        assert_eq!(
            ra.body["url"], rb.body["url"],
            "one code per slot across instances"
        );
    }
    let again = a.get(&path, &day.secretary).await;
    if again.body["scene"] == ra.body["scene"] {
        assert_eq!(
            again.body["url"], ra.body["url"],
            "asked again, the same code"
        );
    }
    // The next slot's code is already being made.
    let expires = chrono::DateTime::parse_from_rfc3339(ra.body["expires_at"].as_str().expect("t"))
        .expect("time")
        .timestamp();
    let next = vanguard::checkin::qr::payload(&day.secret, day.session, expires / 60);
    let mut ready = None;
    for _ in 0..50 {
        ready = a
            .state
            .live
            .get(&format!("qr:url:{next}"))
            .await
            .expect("live store");
        if ready.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let ready = String::from_utf8(ready.expect("next slot prepared")).expect("utf-8");
    assert!(ready.contains(&next), "{ready}");
}

/// XH-8.1 across time zones: the start is an instant, whatever offset it was given in;
/// classification compares instants, and replies speak the branch's own time zone.
#[tokio::test]
async fn xh_8_1_classification_compares_instants_and_replies_use_the_branchs_time_zone() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let r = app.post("/api/v1/orgs", &admin, json!({"name": "海外支部", "code": "LDN", "kind": "branch", "timezone": "Europe/London"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let london = r.body["id"].as_i64().expect("id");
    let p = app
        .person(&admin, "伦敦", "13800000051", london, "member")
        .await;
    app.bind(p, "o-london").await;
    let q = app
        .person(&admin, "伦敦二", "13800000052", london, "member")
        .await;
    app.bind(q, "o-london2").await;
    // Given in Beijing time; the session opens 30 minutes before it.
    let start = (Utc::now() + Duration::minutes(90))
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset"));
    let start = start - Duration::nanoseconds(i64::from(start.timestamp_subsec_nanos()));
    let r = app.post("/api/v1/activities", &admin, json!({"org_id": london, "kind": "fixed_day", "title": "12月主题党日", "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(2)).to_rfc3339()})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let activity = r.body["id"].as_i64().expect("id");
    let stored: DateTime<Utc> = r.body["starts_at"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .expect("starts_at")
        .with_timezone(&Utc);
    assert_eq!(stored, start.with_timezone(&Utc), "{}", r.text);
    let (session, secret) = open_session(&app, &admin, activity).await;
    let scene = |t: DateTime<Utc>| {
        vanguard::checkin::qr::payload(
            &secret,
            session,
            vanguard::checkin::qr::slot_at(t.timestamp(), 60),
        )
    };
    // Too early: the reply names the opening time on the branch's (London) clock.
    let now = Utc::now();
    let reply = app
        .scan("o-london", &scene(now), now.timestamp())
        .await
        .expect("reply");
    let opens = start.with_timezone(&Utc) - Duration::minutes(30);
    let london_clock = opens
        .with_timezone(&chrono_tz::Europe::London)
        .format("%H:%M")
        .to_string();
    let beijing_clock = opens
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%H:%M")
        .to_string();
    assert!(
        reply.starts_with("签到尚未开始") && reply.contains(&london_clock),
        "{reply}"
    );
    assert!(!reply.contains(&beijing_clock), "{reply}");
    // At the start instant exactly (sent in UTC by WeChat): on time; one second past 15 minutes: too late.
    let at = start.with_timezone(&Utc);
    let reply = app
        .scan("o-london", &scene(at), at.timestamp())
        .await
        .expect("reply");
    assert!(
        reply.starts_with("签到成功：12月主题党日，按时签到，+5 分"),
        "{reply}"
    );
    let at = start.with_timezone(&Utc) + Duration::seconds(15 * 60 + 1);
    let reply = app
        .scan("o-london2", &scene(at), at.timestamp())
        .await
        .expect("reply");
    assert!(reply.starts_with("已超过签到时间"), "{reply}");
}
