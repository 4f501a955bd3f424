//! Disputes (异议) from the member's phone to the staff's answer: filing with a photo,
//! one open per target, a closed year, the secretary's 补签 and proposal, the admin's
//! correction, rejection, escalation on the settable clock, scope, and uploads
//! (type by content, size, EXIF stripped).

use std::io::Cursor;

use chrono::{Duration, Utc};
use reqwest::{StatusCode, header};
use serde_json::json;

use crate::helpers::{Spawn, TestApp, spawn_app, spawn_app_with};
use crate::pages::{Branch, Phone, branch, fixed_day};

const BOUNDARY: &str = "----vanguard-test-boundary-7d1f";

/// A multipart/form-data body by hand: (name, file name if a file, bytes).
fn multipart(fields: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file, bytes) in fields {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

struct Posted {
    status: StatusCode,
    location: Option<String>,
    text: String,
}

async fn post_dispute(
    app: &TestApp,
    phone: &Phone,
    target: &str,
    reason: &str,
    photo: Option<&[u8]>,
    origin: Option<&str>,
) -> Posted {
    let mut fields: Vec<(&str, Option<&str>, &[u8])> = vec![
        ("target", None, target.as_bytes()),
        ("reason", None, reason.as_bytes()),
    ];
    if let Some(p) = photo {
        fields.push(("photo", Some("photo.jpg"), p));
    }
    let mut req = phone
        .client
        .post(format!("{}/m/disputes", app.address))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(&fields));
    if let Some(o) = origin {
        req = req.header(header::ORIGIN, o);
    }
    let res = req.send().await.expect("post");
    Posted {
        status: res.status(),
        location: res
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        text: res.text().await.unwrap_or_default(),
    }
}

/// A 40×20 JPEG whose EXIF says "rotate 90° clockwise" (orientation 6) and carries a
/// marker string where GPS data would be.
fn jpeg_with_exif() -> Vec<u8> {
    let img = image::RgbImage::from_fn(40, 20, |x, _| image::Rgb([(x * 6) as u8, 80, 160]));
    let mut plain = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut plain), image::ImageFormat::Jpeg)
        .expect("jpeg");
    // TIFF (big endian): one IFD entry, Orientation (0x0112) SHORT = 6; then the marker.
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&[0, 1]);
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(b"GPS-SECRET-31.2304N-121.4737E");
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let len = u16::try_from(app1.len() + 2).expect("short segment");
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

struct Story {
    b: Branch,
    person: i64,
    phone: Phone,
    activity: i64,
    start: chrono::DateTime<Utc>,
}

/// A member of the branch, bound and signed in, and a fixed day that started 20
/// minutes ago without their check-in.
async fn story(app: &TestApp, openid: &str) -> Story {
    let b = branch(app).await;
    let person = app
        .person(&b.admin, "王芳", "13800000021", b.branch, "member")
        .await;
    app.bind(person, openid).await;
    let phone = Phone::new(app);
    phone.sign_in(openid, "/m/disputes").await;
    let start = Utc::now() - Duration::minutes(20);
    let activity = fixed_day(app, &b.admin, b.branch, "十二月主题党日", start).await;
    Story {
        b,
        person,
        phone,
        activity,
        start,
    }
}

async fn case_count(app: &TestApp) -> usize {
    use sea_orm::EntityTrait;
    entity::case::Entity::find()
        .all(&app.state.db)
        .await
        .expect("cases")
        .len()
}

fn case_id(p: &Posted) -> i64 {
    p.location
        .as_deref()
        .and_then(|l| l.strip_prefix("/m/disputes/"))
        .and_then(|i| i.parse().ok())
        .unwrap_or_else(|| panic!("filed: {:?} {}", p.location, p.text))
}

#[tokio::test]
async fn dispute_with_photo_admin_adds_checkin_at_start_plus_10_scores_3_with_the_reason_xh_8_1() {
    let app = spawn_app().await;
    let s = story(&app, "o-dispute-1").await;
    let target = format!("missing:{}", s.activity);
    // The form offers the activity.
    let form = s.phone.get("/m/disputes/new").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text);
    assert!(form.text.contains(&target) && form.text.contains("十二月主题党日"));

    let photo = jpeg_with_exif();
    let filed = post_dispute(
        &app,
        &s.phone,
        &target,
        "我扫了但没记上，14:08 手机显示网络错误",
        Some(&photo),
        None,
    )
    .await;
    assert_eq!(filed.status, StatusCode::SEE_OTHER, "{}", filed.text);
    let id = case_id(&filed);

    // One open dispute per target: a second is refused with its own code, nothing stored.
    let again = post_dispute(&app, &s.phone, &target, "再提一次", None, None).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert!(again.text.contains("还在处理中"), "{}", again.text);
    assert!(
        again.text.contains("再提一次"),
        "the form keeps what was typed"
    );
    assert_eq!(case_count(&app).await, 1);

    // The secretary's inbox holds it; the photo is there without EXIF, upright.
    let inbox = app.get("/api/v1/cases", &s.b.secretary).await;
    assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.text);
    assert_eq!(inbox.body["items"][0]["id"], id);
    let case = app
        .get(&format!("/api/v1/cases/{id}"), &s.b.secretary)
        .await;
    assert_eq!(case.body["state"], "open", "{}", case.text);
    assert_eq!(case.body["current"], "未签到");
    assert_eq!(case.body["allowed"]["correct"], false);
    let upload = case.body["attachments"][0]
        .as_i64()
        .expect("photo attached");
    let stored = app
        .client
        .get(format!("{}/api/v1/uploads/{upload}", app.address))
        .bearer_auth(&s.b.secretary)
        .send()
        .await
        .expect("upload");
    assert_eq!(stored.status(), StatusCode::OK);
    assert_eq!(stored.headers()[header::CONTENT_TYPE], "image/jpeg");
    let bytes = stored.bytes().await.expect("bytes").to_vec();
    assert!(
        photo.windows(4).any(|w| w == b"Exif"),
        "the original had EXIF"
    );
    assert!(!bytes.windows(4).any(|w| w == b"Exif"), "EXIF stripped");
    assert!(
        !bytes.windows(10).any(|w| w == b"GPS-SECRET"),
        "no hidden data kept"
    );
    let img = image::load_from_memory(&bytes).expect("a readable JPEG");
    assert_eq!(
        (img.width(), img.height()),
        (20, 40),
        "turned upright by EXIF first"
    );
    // The member sees their own photo.
    let own = s.phone.get(&format!("/m/uploads/{upload}")).await;
    assert_eq!(own.status, StatusCode::OK);

    // A secretary may not correct recorded facts: they propose; the admin decides.
    let at = (s.start + Duration::minutes(10)).to_rfc3339();
    let r = app
        .post(
            &format!("/api/v1/cases/{id}/accept"),
            &s.b.secretary,
            json!({"remedy": {"action": "add", "at": at}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/cases/{id}/propose"),
            &s.b.secretary,
            json!({"remedy": {"action": "add", "at": at}, "note": "现场签到表上有本人签名"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["state"], "proposed");
    let r = app
        .post(
            &format!("/api/v1/cases/{id}/accept"),
            &s.b.secretary,
            json!({"remedy": {"action": "backfill"}}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "waiting for the admin: {}",
        r.text
    );
    assert_eq!(r.body["code"], "case_state");

    // The admin accepts the proposal: a check-in at start + 10 min, late, +3.
    let r = app
        .post(&format!("/api/v1/cases/{id}/accept"), &s.b.admin, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["state"], "accepted");
    assert!(r.body["outcome_fact_id"].as_i64().is_some());
    let score = app
        .get(&format!("/api/v1/people/{}/score", s.person), &s.b.admin)
        .await;
    assert_eq!(
        score.body["score"]["score"].to_string(),
        "3",
        "{}",
        score.text
    );
    let line = &score.body["lines"][0];
    assert_eq!(line["rule_id"], "XH-8.1", "{}", score.text);
    assert_eq!(line["points"].to_string(), "3");
    // Twice accepted is once recorded.
    let r = app
        .post(&format!("/api/v1/cases/{id}/accept"), &s.b.admin, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // The member's page: +3 with the dispute's reason, and the dispute accepted.
    let home = s.phone.get("/m/").await;
    assert!(home.text.contains("+3"), "{}", home.text);
    assert!(
        home.text.contains(&format!("异议 #{id}：我扫了但没记上")),
        "{}",
        home.text
    );
    let page = s.phone.get(&format!("/m/disputes/{id}")).await;
    assert!(page.text.contains("已采纳"), "{}", page.text);
    assert!(page.text.contains("补录签到"), "{}", page.text);
    // Notified at each step, in the simulator's inbox.
    let inbox = s.phone.get("/sandbox/phone?openid=o-dispute-1").await;
    assert!(
        inbox.text.matches("[模板消息] dispute").count() >= 3,
        "{}",
        inbox.text
    );

    // Every step is in the audit log.
    let (_, auditor) = app
        .account(&s.b.admin, "aud-c", "auditor", Some(s.b.committee))
        .await;
    let audit = app.get("/api/v1/audit?entity=case", &auditor).await;
    let actions: Vec<&str> = audit
        .body
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    for a in [
        "file_dispute",
        "propose_dispute",
        "accept_dispute",
        "link_dispute_correction",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}

#[tokio::test]
async fn secretary_accepts_with_backfill_and_out_of_scope_secretary_gets_404() {
    let app = spawn_app().await;
    let s = story(&app, "o-dispute-2").await;
    let filed = post_dispute(
        &app,
        &s.phone,
        &format!("missing:{}", s.activity),
        "当天在场，忘记扫码",
        None,
        None,
    )
    .await;
    let id = case_id(&filed);
    // Another branch's secretary: no such case, no photo, not in the inbox.
    let (_, other) = app
        .account(&s.b.admin, "sec-o", "secretary", Some(s.b.other))
        .await;
    let r = app.get(&format!("/api/v1/cases/{id}"), &other).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert!(!r.text.contains("忘记扫码"));
    let r = app
        .post(
            &format!("/api/v1/cases/{id}/reject"),
            &other,
            json!({"reason": "不是本支部"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let inbox = app.get("/api/v1/cases?view=all", &other).await;
    assert_eq!(
        inbox.body["items"].as_array().map(Vec::len),
        Some(0),
        "{}",
        inbox.text
    );

    let r = app
        .post(
            &format!("/api/v1/cases/{id}/accept"),
            &s.b.secretary,
            json!({"remedy": {"action": "backfill"}, "note": "核实在场"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["state"], "accepted");
    assert_eq!(
        r.body["current"].as_str().map(|c| c.starts_with("补签")),
        Some(true),
        "{}",
        r.text
    );
    let fact = app
        .get(
            &format!("/api/v1/facts/{}", r.body["outcome_fact_id"]),
            &s.b.admin,
        )
        .await;
    assert_eq!(fact.body["method"], "backfill", "{}", fact.text);
    assert!(
        fact.body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("当天在场，忘记扫码"))
    );
    // Closed: the member may file again about the same activity (a new question).
    let page = s.phone.get(&format!("/m/disputes/{id}")).await;
    assert!(
        page.text.contains("已采纳") && page.text.contains("补签"),
        "{}",
        page.text
    );
}

#[tokio::test]
async fn reject_needs_a_reason_and_escalation_waits_for_answer_days_on_the_clock() {
    let app = spawn_app().await;
    let s = story(&app, "o-dispute-3").await;
    let filed = post_dispute(
        &app,
        &s.phone,
        &format!("missing:{}", s.activity),
        "我扫了但没记上",
        None,
        None,
    )
    .await;
    let id = case_id(&filed);
    // Not yet due: the branch still has 7 days.
    let early = s
        .phone
        .post(&format!("/m/disputes/{id}/escalate"), &[])
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text);
    assert!(early.text.contains("答复期限未到"), "{}", early.text);
    // Eight days later, unanswered: the member escalates to the committee.
    app.state.clock.advance(Duration::days(8));
    let up = s
        .phone
        .post(&format!("/m/disputes/{id}/escalate"), &[])
        .await;
    assert_eq!(up.status, StatusCode::SEE_OTHER, "{}", up.text);
    let page = s.phone.get(&format!("/m/disputes/{id}")).await;
    assert!(
        page.text.contains("已提交上级") && page.text.contains("C 组织"),
        "{}",
        page.text
    );
    // The branch no longer answers it; the committee's admins do.
    let r = app
        .post(
            &format!("/api/v1/cases/{id}/reject"),
            &s.b.secretary,
            json!({"reason": "无记录"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let waiting = app.get("/api/v1/cases", &s.b.secretary).await;
    assert_eq!(waiting.body["items"].as_array().map(Vec::len), Some(0));
    let r = app
        .post(
            &format!("/api/v1/cases/{id}/reject"),
            &s.b.admin,
            json!({"reason": "  "}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["errors"][0]["field"], "reason");
    let r = app
        .post(&format!("/api/v1/cases/{id}/reject"), &s.b.admin, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/cases/{id}/reject"),
            &s.b.admin,
            json!({"reason": "签到时段内无扫码记录，亦无人证"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["state"], "rejected");
    let page = s.phone.get(&format!("/m/disputes/{id}")).await;
    assert!(
        page.text.contains("未采纳") && page.text.contains("亦无人证"),
        "{}",
        page.text
    );
    // The committee is the top: no further escalation.
    let top = s
        .phone
        .post(&format!("/m/disputes/{id}/escalate"), &[])
        .await;
    assert_eq!(top.status, StatusCode::CONFLICT, "{}", top.text);
    assert!(top.text.contains("最高一级"), "{}", top.text);
}

#[tokio::test]
async fn closed_year_refuses_new_disputes_with_a_clear_message() {
    let app = spawn_app().await;
    let s = story(&app, "o-dispute-4").await;
    // The clock moves into next year; the committee closes this one.
    let this_year = s
        .start
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y")
        .to_string();
    let year: i32 = this_year.parse().expect("year");
    app.state.clock.set(
        chrono::DateTime::parse_from_rfc3339(&format!("{}-01-10T10:00:00+08:00", year + 1))
            .expect("date")
            .with_timezone(&Utc),
    );
    let r = app
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{}/years/{year}/close", s.b.committee),
            Some(&s.b.admin),
            None,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let filed = post_dispute(
        &app,
        &s.phone,
        &format!("missing:{}", s.activity),
        "当年漏记",
        None,
        None,
    )
    .await;
    assert_eq!(filed.status, StatusCode::CONFLICT, "{}", filed.text);
    assert!(
        filed.text.contains(&format!("{year} 年度已结转")),
        "{}",
        filed.text
    );
    assert_eq!(case_count(&app).await, 0);
}

#[tokio::test]
async fn oversized_non_image_and_cross_site_dispute_posts_are_refused_and_store_nothing() {
    let app = spawn_app_with(Spawn {
        extra: "[uploads]\nmax_bytes = 20000\n".into(),
    })
    .await;
    let s = story(&app, "o-dispute-5").await;
    let target = format!("missing:{}", s.activity);
    let big = {
        let mut b = jpeg_with_exif();
        b.resize(30_000, 0);
        b
    };
    let r = post_dispute(&app, &s.phone, &target, "照片太大", Some(&big), None).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert!(r.text.contains("照片不能超过"), "{}", r.text);
    let r = post_dispute(
        &app,
        &s.phone,
        &target,
        "不是照片",
        Some(b"<?php echo 1; ?>"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text);
    assert!(r.text.contains("JPEG 或 PNG"), "{}", r.text);
    // A GIF named .jpg: the content decides.
    let r = post_dispute(
        &app,
        &s.phone,
        &target,
        "GIF",
        Some(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text);
    let r = post_dispute(
        &app,
        &s.phone,
        &target,
        "跨站",
        None,
        Some("https://evil.example"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = post_dispute(&app, &s.phone, &target, "  ", None, None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = post_dispute(&app, &s.phone, "missing:999999", "不存在", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(case_count(&app).await, 0);
    // Someone else's dispute page is 404 for this member.
    let r = s.phone.get("/m/disputes/424242").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// The story of the issue: a scan too late is refused; the member disputes the refusal
/// ("我扫了但没记上") and the admin adds the check-in at start + 10 min.
#[tokio::test]
async fn refused_scan_disputed_then_admin_adds_checkin_scores_3_xh_8_1() {
    let app = spawn_app().await;
    let b = branch(&app).await;
    let person = app
        .person(&b.admin, "陈刚", "13800000041", b.branch, "member")
        .await;
    app.bind(person, "o-refused").await;
    let start = Utc::now() + Duration::minutes(5);
    let activity = fixed_day(&app, &b.admin, b.branch, "主题党日", start).await;
    let r = app
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/activities/{activity}/sessions"),
            Some(&b.secretary),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let session = r.body["id"].as_i64().expect("session");
    let secret = {
        use sea_orm::EntityTrait;
        entity::checkin_session::Entity::find_by_id(session)
            .one(&app.state.db)
            .await
            .expect("db")
            .expect("row")
            .secret
    };
    let t = start + Duration::minutes(16);
    let scene = vanguard::checkin::qr::payload(
        &secret,
        session,
        vanguard::checkin::qr::slot_at(t.timestamp(), 60),
    );
    let reply = app
        .scan("o-refused", &scene, t.timestamp())
        .await
        .expect("reply");
    assert!(!reply.starts_with("签到成功"), "{reply}");
    // Half an hour later (on the application's clock) the member disputes the refusal.
    app.state.clock.advance(Duration::minutes(30));
    let phone = Phone::new(&app);
    phone.sign_in("o-refused", "/m/disputes/new").await;
    let form = phone.get("/m/disputes/new").await;
    let target = form
        .text
        .split("value=\"")
        .filter_map(|s| s.split('"').next())
        .find(|v| v.starts_with("refusal:"))
        .unwrap_or_else(|| panic!("the refused scan is offered: {}", form.text))
        .to_owned();
    let filed = post_dispute(&app, &phone, &target, "我扫了但没记上", None, None).await;
    let id = case_id(&filed);
    let case = app.get(&format!("/api/v1/cases/{id}"), &b.admin).await;
    assert_eq!(case.body["target_kind"], "refusal", "{}", case.text);
    assert!(
        case.body["target_label"]
            .as_str()
            .is_some_and(|l| l.starts_with("签到未成功"))
    );
    let at = (start + Duration::minutes(10)).to_rfc3339();
    let r = app
        .post(
            &format!("/api/v1/cases/{id}/accept"),
            &b.admin,
            json!({"remedy": {"action": "add", "at": at}, "note": "签到表有签名"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let score = app
        .get(&format!("/api/v1/people/{person}/score"), &b.admin)
        .await;
    assert_eq!(
        score.body["score"]["score"].to_string(),
        "3",
        "{}",
        score.text
    );
    let home = phone.get("/m/").await;
    assert!(
        home.text.contains("+3") && home.text.contains("我扫了但没记上"),
        "{}",
        home.text
    );
}

/// A disputed ledger line without an activity: the secretary accepts with an item (as
/// the items endpoint records it, with the dispute's reason); a dispute of that item's
/// line is accepted by an admin with an annulment.
#[tokio::test]
async fn ledger_line_dispute_secretary_records_an_item_admin_annuls_a_fact() {
    let app = spawn_app().await;
    let b = branch(&app).await;
    let person = app
        .person(&b.admin, "周敏", "13800000051", b.branch, "member")
        .await;
    app.bind(person, "o-ledger").await;
    let at = (Utc::now() - Duration::days(1)).to_rfc3339();
    let r = app
        .post(
            "/api/v1/items",
            &b.secretary,
            json!({"person_id": person, "item": "study", "at": at, "fields": {"points": 2}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let score = app
        .get(&format!("/api/v1/people/{person}/score"), &b.admin)
        .await;
    let line = score.body["lines"][0]["id"].as_i64().expect("a line");
    let phone = Phone::new(&app);
    phone.sign_in("o-ledger", "/m/disputes").await;
    let filed = post_dispute(
        &app,
        &phone,
        &format!("ledger_entry:{line}"),
        "还有 2 学时未记",
        None,
        None,
    )
    .await;
    let id = case_id(&filed);
    // A 补签 needs an activity: refused before anything changes.
    let r = app
        .post(
            &format!("/api/v1/cases/{id}/accept"),
            &b.secretary,
            json!({"remedy": {"action": "backfill"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/cases/{id}/accept"),
            &b.secretary,
            json!({"remedy": {"action": "item", "item": "study", "fields": {"points": 2}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let score = app
        .get(&format!("/api/v1/people/{person}/score"), &b.admin)
        .await;
    assert_eq!(
        score.body["score"]["score"].to_string(),
        "4",
        "{}",
        score.text
    );
    let fact = app
        .get(
            &format!("/api/v1/facts/{}", r.body["outcome_fact_id"]),
            &b.admin,
        )
        .await;
    assert_eq!(fact.body["item"], "study");
    assert!(
        fact.body["reason"]
            .as_str()
            .is_some_and(|x| x.contains("还有 2 学时未记")),
        "{}",
        fact.text
    );

    // The member disputes the first line again (a new case: the first is closed); the
    // secretary may not annul, the admin may.
    let filed = post_dispute(
        &app,
        &phone,
        &format!("ledger_entry:{line}"),
        "这次学习不是我本人",
        None,
        None,
    )
    .await;
    let id = case_id(&filed);
    let r = app
        .post(
            &format!("/api/v1/cases/{id}/accept"),
            &b.secretary,
            json!({"remedy": {"action": "annul"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/cases/{id}/accept"),
            &b.admin,
            json!({"remedy": {"action": "annul"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let score = app
        .get(&format!("/api/v1/people/{person}/score"), &b.admin)
        .await;
    assert_eq!(
        score.body["score"]["score"].to_string(),
        "2",
        "{}",
        score.text
    );
}

/// Two admins accepting at once record one correction; a correction the check-in
/// service refuses leaves the case open, with nothing recorded.
#[tokio::test]
async fn two_admins_accepting_at_once_record_one_correction_and_a_refused_correction_reopens() {
    let app = spawn_app().await;
    let s = story(&app, "o-dispute-6").await;
    let filed = post_dispute(
        &app,
        &s.phone,
        &format!("missing:{}", s.activity),
        "我扫了但没记上",
        None,
        None,
    )
    .await;
    let id = case_id(&filed);
    // A time on another day: refused by the correction service, the case stays open.
    let wrong = (s.start + Duration::days(2)).to_rfc3339();
    let r = app
        .post(
            &format!("/api/v1/cases/{id}/accept"),
            &s.b.admin,
            json!({"remedy": {"action": "add", "at": wrong}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let case = app.get(&format!("/api/v1/cases/{id}"), &s.b.admin).await;
    assert_eq!(case.body["state"], "open", "{}", case.text);
    assert!(case.body["outcome_fact_id"].is_null());
    let admin2 = app
        .operator_account("admin-2", vanguard::auth::Role::Admin, Some(s.b.committee))
        .await;
    let at = (s.start + Duration::minutes(3)).to_rfc3339();
    let body = json!({"remedy": {"action": "add", "at": at}});
    let path = format!("/api/v1/cases/{id}/accept");
    let (a, b) = tokio::join!(
        app.post(&path, &s.b.admin, body.clone()),
        app.post(&path, &admin2, body.clone())
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{} / {}",
        a.text,
        b.text
    );
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let checkins = entity::fact::Entity::find()
        .filter(entity::fact::Column::PersonId.eq(s.person))
        .filter(entity::fact::Column::Kind.eq("checkin"))
        .all(&app.state.db)
        .await
        .expect("facts");
    assert_eq!(checkins.len(), 1, "one correction recorded");
}
