//! SD-6 star rating within the quota (proposal, confirmation with departures, 备案,
//! publication, follow-up of 2★ and below), SD-3's archive and SD-7's 免评, over HTTP.

use chrono::{TimeZone, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::console::{Desk, PASSWORD};
use crate::helpers::{TestApp, spawn_app};
use crate::pages::Phone;

pub struct Sd {
    pub admin: String,
    pub c: i64,
    pub b: i64,
    pub b2: i64,
    /// Secretary of B (Perm::Review).
    pub sec_b: String,
    /// Secretary of B2: outside B.
    pub sec_b2: String,
    /// Secretary of the general branch G above B (files 备案).
    pub sec_g: String,
    /// (person, score) in B.
    pub people: Vec<(i64, i64)>,
}

/// C (committee) → G (general branch) → B, B2 under `policy` for 2025, the clock in
/// March 2026 (2025 can be closed).
pub async fn world(app: &TestApp, policy: &str) -> Sd {
    app.state.clock.set(
        Utc.with_ymd_and_hms(2026, 3, 1, 2, 0, 0)
            .single()
            .expect("time"),
    );
    let admin = app.admin_token().await;
    let c = app.org(&admin, "C", "committee", None).await;
    let g = app.org(&admin, "G", "general_branch", Some(c)).await;
    let b = app.org(&admin, "B", "branch", Some(g)).await;
    let b2 = app.org(&admin, "B2", "branch", Some(g)).await;
    for year in [2025, 2026] {
        let r = app
            .request(
                Method::PUT,
                &format!("/api/v1/orgs/{c}/policy"),
                Some(&admin),
                Some(json!({"year": year, "policy": policy})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let (_, sec_b) = app.account(&admin, "sec-b", "secretary", Some(b)).await;
    let (_, sec_b2) = app.account(&admin, "sec-b2", "secretary", Some(b2)).await;
    let (_, sec_g) = app.account(&admin, "sec-g", "secretary", Some(g)).await;
    Sd {
        admin,
        c,
        b,
        b2,
        sec_b,
        sec_b2,
        sec_g,
        people: Vec::new(),
    }
}

/// A member of `org` scoring `score` in 2025 under sdtbu-2018 (base up to 70, then
/// contribution).
pub async fn sd_member(
    app: &TestApp,
    admin: &str,
    org: i64,
    name: &str,
    n: usize,
    score: i64,
) -> i64 {
    let p = app
        .person(admin, name, &format!("139{:08}", 1000 + n), org, "member")
        .await;
    let base = score.min(70);
    let contribution = score - base;
    for (item, points, at) in [
        ("base_life", base, "2025-03-01T10:00:00+08:00"),
        ("contribution", contribution, "2025-06-01T10:00:00+08:00"),
    ] {
        if points == 0 {
            continue;
        }
        let r = app
            .post(
                "/api/v1/items",
                admin,
                json!({"person_id": p, "item": item, "at": at, "fields": {"points": points}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    p
}

pub const TWELVE: [i64; 12] = [98, 95, 93, 91, 90, 85, 75, 65, 55, 45, 35, 20];

/// The twelve-member sdtbu-2018 branch of the issue, 2025 closed.
async fn twelve(app: &TestApp) -> Sd {
    let mut w = world(app, "sdtbu-2018").await;
    for (n, score) in TWELVE.iter().enumerate() {
        let p = sd_member(app, &w.admin, w.b, &format!("党员{n:02}"), n, *score).await;
        w.people.push((p, *score));
    }
    close(app, &w, 2025).await;
    w
}

pub async fn close(app: &TestApp, w: &Sd, year: i32) {
    app.confirmed_year_publicity(w.c, year).await;
    let r = app
        .post(
            &format!("/api/v1/orgs/{}/years/{year}/close", w.c),
            &w.admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

fn person_of(w: &Sd, score: i64) -> i64 {
    w.people
        .iter()
        .find(|(_, s)| *s == score)
        .map(|(p, _)| *p)
        .expect("person with that score")
}

fn line(v: &Value, person: i64) -> &Value {
    v["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["person_id"] == json!(person))
        .expect("line")
}

fn stars_by_score(v: &Value) -> Vec<(i64, Option<i64>)> {
    v["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| (l["score"].as_i64().unwrap_or(-1), l["stars"].as_i64()))
        .collect()
}

async fn audit_count(app: &TestApp, action: &str) -> usize {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entity::audit_log::Entity::find()
        .filter(entity::audit_log::Column::Action.eq(action))
        .all(&app.state.db)
        .await
        .expect("audit")
        .len()
}

#[tokio::test]
async fn sd_6_twelve_members_get_two_five_star_proposals() {
    let app = spawn_app().await;
    let mut w = world(&app, "sdtbu-2018").await;
    for (n, score) in TWELVE.iter().enumerate() {
        let p = sd_member(&app, &w.admin, w.b, &format!("党员{n:02}"), n, *score).await;
        w.people.push((p, *score));
    }
    // No proposal for a year that is still open.
    let open = app
        .get(&format!("/api/v1/orgs/{}/stars/2025", w.b), &w.sec_b)
        .await;
    assert_eq!(open.status, StatusCode::CONFLICT, "{}", open.text);
    assert_eq!(open.body["code"], "year_not_closed");
    let confirm_open = app
        .post(
            &format!("/api/v1/orgs/{}/stars/2025/confirm", w.b),
            &w.sec_b,
            json!({}),
        )
        .await;
    assert_eq!(confirm_open.body["code"], "year_not_closed");
    close(&app, &w, 2025).await;
    let v = app
        .get(&format!("/api/v1/orgs/{}/stars/2025", w.b), &w.sec_b)
        .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    assert_eq!(v.body["state"], "proposed");
    assert_eq!(v.body["members"], 12);
    // ⌊20 % × 12⌋ = 2.
    assert_eq!(v.body["quota"], 2);
    assert_eq!(v.body["five_stars"], 2);
    assert_eq!(v.body["min_score"], 90);
    assert_eq!(
        stars_by_score(&v.body),
        vec![
            (98, Some(5)),
            (95, Some(5)),
            (93, Some(4)),
            (91, Some(4)),
            (90, Some(4)),
            (85, Some(4)),
            (75, Some(3)),
            (65, Some(2)),
            (55, Some(1)),
            (45, Some(1)),
            (35, Some(0)),
            (20, Some(0)),
        ]
    );
    assert!(
        v.body["quota_reading"]
            .as_str()
            .is_some_and(|s| s.contains("向下取整")),
        "{}",
        v.text
    );
    // Unknown organization, one that is not a branch, another branch's secretary.
    let r = app.get("/api/v1/orgs/999999/stars/2025", &w.admin).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .get(&format!("/api/v1/orgs/{}/stars/2025", w.c), &w.admin)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app
        .get(&format!("/api/v1/orgs/{}/stars/2025", w.b), &w.sec_b2)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sd_6_departure_needs_a_reason_and_stays_within_quota_or_is_refused() {
    let app = spawn_app().await;
    let w = twelve(&app).await;
    let path = format!("/api/v1/orgs/{}/stars/2025/confirm", w.b);
    let (p98, p95, p93, p85, p75) = (
        person_of(&w, 98),
        person_of(&w, 95),
        person_of(&w, 93),
        person_of(&w, 85),
        person_of(&w, 75),
    );
    // A third five-star is above the quota, reason or not.
    let r = app
        .post(&path, &w.sec_b, json!({"departures": [{"person_id": p93, "stars": 5, "reason": "全年表现突出，群众公认"}]}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["code"], "star_quota_exceeded");
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("五星") && d.contains('2')),
        "{}",
        r.text
    );
    // Any change without a reason.
    let r = app
        .post(
            &path,
            &w.sec_b,
            json!({"departures": [{"person_id": p75, "stars": 4}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["code"], "reason_required");
    let r = app
        .post(
            &path,
            &w.sec_b,
            json!({"departures": [{"person_id": p75, "stars": 4, "reason": "  "}]}),
        )
        .await;
    assert_eq!(r.body["code"], "reason_required");
    // Five stars below 90 points, even within the quota.
    let r = app
        .post(
            &path,
            &w.sec_b,
            json!({"departures": [
            {"person_id": p95, "stars": 4, "reason": "一贯表现一般"},
            {"person_id": p85, "stars": 5, "reason": "抗洪抢险表现突出"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["code"], "validation_failed");
    // Unknown member, another branch's secretary, a recorder-less role: refused.
    let r = app
        .post(
            &path,
            &w.sec_b,
            json!({"departures": [{"person_id": 999999, "stars": 3, "reason": "x"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = app.post(&path, &w.sec_b2, json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post(
            "/api/v1/orgs/999999/stars/2025/confirm",
            &w.admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Nothing was written by any of these.
    let v = app
        .get(&format!("/api/v1/orgs/{}/stars/2025", w.b), &w.sec_b)
        .await;
    assert_eq!(v.body["state"], "proposed");
    assert_eq!(audit_count(&app, "confirm_stars").await, 0);
    // The secretary's phone page refuses the same, with the message beside the list.
    let desk = Desk::new(&app);
    assert_eq!(
        desk.login("sec-b", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let page = desk
        .get(&format!("/console/stars?org={}&year=2025", w.b))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text.contains("系统建议") && page.text.contains("确认星级"),
        "{}",
        page.text
    );
    let (org, s75, p75s) = (
        w.b.to_string(),
        format!("stars_{p75}"),
        format!("proposed_{p75}"),
    );
    let refused = desk
        .post(
            "/console/stars/confirm",
            &[
                ("org", org.as_str()),
                ("year", "2025"),
                (s75.as_str(), "4"),
                (p75s.as_str(), "3"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert!(refused.text.contains("须填写理由"), "{}", refused.text);
    assert_eq!(audit_count(&app, "confirm_stars").await, 0);
    // A swap within the quota, each with its reason: confirmed.
    let r = app
        .post(
            &path,
            &w.sec_b,
            json!({"departures": [
            {"person_id": p95, "stars": 4, "reason": "年内受到通报批评，一贯表现不足"},
            {"person_id": p93, "stars": 5, "reason": "全年表现突出，群众公认"},
            {"person_id": p98, "stars": 5}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["state"], "confirmed");
    assert_eq!(r.body["five_stars"], 2);
    assert_eq!(r.body["confirmed_by"], "sec-b");
    let l95 = line(&r.body, p95);
    assert_eq!(
        (
            l95["proposed_stars"].clone(),
            l95["stars"].clone(),
            l95["departed"].clone()
        ),
        (json!(5), json!(4), json!(true))
    );
    assert_eq!(l95["reason"], "年内受到通报批评，一贯表现不足");
    let l98 = line(&r.body, p98);
    assert_eq!(
        (l98["stars"].clone(), l98["departed"].clone()),
        (json!(5), json!(false))
    );
    assert_eq!(audit_count(&app, "confirm_stars").await, 1);
    // Confirmed once: a second confirmation is refused.
    let r = app.post(&path, &w.sec_b, json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["code"], "star_rating_state");
    // Every view of the closed year shows the confirmed stars: the member's score, the
    // ranking, the result list (the engine's proposal stays in the rating's lines).
    let s = app
        .get(&format!("/api/v1/people/{p95}/score?year=2025"), &w.admin)
        .await;
    assert_eq!(s.body["score"]["stars"], 4, "{}", s.text);
    let rank = app
        .get(
            &format!("/api/v1/orgs/{}/rankings?year=2025&period=year", w.b),
            &w.admin,
        )
        .await;
    let r95 = rank.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["subject_id"] == json!(p95))
        .expect("ranked");
    assert_eq!(r95["stars"], 4, "{}", rank.text);
    let list = app
        .get(&format!("/api/v1/orgs/{}/results/2025", w.b), &w.admin)
        .await;
    let m = list.body["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["person_id"] == json!(p95))
        .expect("member");
    assert_eq!(
        (m["stars"].clone(), m["stars_source"].clone()),
        (json!(4), json!("confirmed"))
    );
}

#[tokio::test]
async fn sd_6_filed_and_published() {
    let app = spawn_app().await;
    let w = twelve(&app).await;
    let base = format!("/api/v1/orgs/{}/stars/2025", w.b);
    // Filing and publishing before confirmation are refused.
    let r = app.post(&format!("{base}/file"), &w.sec_g, json!({})).await;
    assert_eq!(r.body["code"], "star_rating_state", "{}", r.text);
    let r = app
        .post(&format!("{base}/confirm"), &w.sec_b, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .post(&format!("{base}/publish"), &w.sec_b, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "not filed yet: {}", r.text);
    assert_eq!(r.body["code"], "star_rating_state");
    // The branch cannot file its own rating; another branch is out of scope.
    let r = app.post(&format!("{base}/file"), &w.sec_b, json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .post(&format!("{base}/file"), &w.sec_b2, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The general branch files it from its console: who and when.
    let g = Desk::new(&app);
    assert_eq!(
        g.login("sec-g", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let pick = g.get("/console/stars?year=2025").await;
    assert_eq!(pick.status, StatusCode::OK, "{}", pick.text);
    assert!(
        pick.text.contains("选择支部") && pick.text.contains("B 组织"),
        "{}",
        pick.text
    );
    let page = g
        .get(&format!("/console/stars?org={}&year=2025", w.b))
        .await;
    assert!(page.text.contains("id=\"file-stars\""), "{}", page.text);
    let org = w.b.to_string();
    let filed = g
        .post(
            "/console/stars/file",
            &[("org", org.as_str()), ("year", "2025")],
        )
        .await;
    assert_eq!(filed.status, StatusCode::SEE_OTHER, "{}", filed.text);
    let r = app.get(&base, &w.sec_b).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["state"], "filed");
    assert_eq!(r.body["filed_by"], "sec-g");
    assert!(r.body["filed_at"].is_string());
    let again = app.post(&format!("{base}/file"), &w.sec_g, json!({})).await;
    assert_eq!(again.body["code"], "star_rating_state");
    // Published through the publicity: a list of its own kind with the confirmed stars.
    let r = app
        .post(&format!("{base}/publish"), &w.sec_b, json!({"days": 5}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["state"], "published");
    let pid = r.body["publicity_id"].as_i64().expect("publicity");
    use sea_orm::EntityTrait;
    let p = entity::publicity::Entity::find_by_id(pid)
        .one(&app.state.db)
        .await
        .expect("db")
        .expect("publicity row");
    assert_eq!(p.period, "stars");
    assert_eq!(p.rule, "SD-6");
    assert_eq!(p.state, "open");
    assert_eq!(
        vanguard::review::publicity::label_of(&p),
        "2025年度星级评定"
    );
    let rows: Vec<Value> = serde_json::from_str(&p.rows).expect("rows");
    assert_eq!(rows.len(), 12);
    assert_eq!(
        rows.iter().filter(|r| r["stars"] == json!(5)).count(),
        2,
        "{rows:?}"
    );
    let r = app
        .post(&format!("{base}/publish"), &w.sec_b, json!({}))
        .await;
    assert_eq!(r.body["code"], "star_rating_state");
    assert_eq!(audit_count(&app, "file_stars").await, 1);
    assert_eq!(audit_count(&app, "publish_publicity").await, 1);
    // The console page shows the state to the branch.
    app.state.clock.set(
        Utc.with_ymd_and_hms(2026, 3, 2, 2, 0, 0)
            .single()
            .expect("t"),
    );
    let desk = Desk::new(&app);
    let r = desk.login("sec-b", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let page = desk
        .get(&format!("/console/stars?org={}&year=2025", w.b))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text.contains("已公示") && page.text.contains("sec-g"),
        "{}",
        page.text
    );
}

#[tokio::test]
async fn sd_6_two_stars_or_below_listed_for_follow_up() {
    let app = spawn_app().await;
    let w = twelve(&app).await;
    let path = format!("/api/v1/orgs/{}/stars/2025/follow-ups", w.b);
    let r = app.get(&path, &w.sec_b).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let listed: Vec<(i64, i64)> = r
        .body
        .as_array()
        .expect("list")
        .iter()
        .map(|f| {
            (
                f["score"].as_i64().unwrap_or(-1),
                f["stars"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(listed, vec![(65, 2), (55, 1), (45, 1), (35, 0), (20, 0)]);
    let (p65, p98) = (person_of(&w, 65), person_of(&w, 98));
    let talk = json!({"person_id": p65, "kind": "talk", "held_on": "2026-02-20", "partner": "支部书记", "note": "指出全年参加组织生活偏少，本人表示改正"});
    // Refusals: not on the list, unknown member, bad kind, no note, a future date,
    // another branch's secretary.
    let mut off = talk.clone();
    off["person_id"] = json!(p98);
    let r = app.post(&path, &w.sec_b, off).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let mut unknown = talk.clone();
    unknown["person_id"] = json!(999999);
    assert_eq!(
        app.post(&path, &w.sec_b, unknown).await.status,
        StatusCode::NOT_FOUND
    );
    let mut kind = talk.clone();
    kind["kind"] = json!("chat");
    assert_eq!(
        app.post(&path, &w.sec_b, kind).await.status,
        StatusCode::BAD_REQUEST
    );
    let mut note = talk.clone();
    note["note"] = json!(" ");
    assert_eq!(
        app.post(&path, &w.sec_b, note).await.status,
        StatusCode::BAD_REQUEST
    );
    let mut future = talk.clone();
    future["held_on"] = json!("2026-03-05");
    assert_eq!(
        app.post(&path, &w.sec_b, future).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.post(&path, &w.sec_b2, talk.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(audit_count(&app, "record_follow_up").await, 0);
    // Recorded: who, when, the note; audited.
    let r = app.post(&path, &w.sec_b, talk).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["kind_label"], "警示谈话");
    assert_eq!(r.body["recorded_by"], "sec-b");
    let pair = json!({"person_id": p65, "kind": "pairing", "held_on": "2026-02-25", "partner": "党员00", "note": "结对帮教，每月交流一次"});
    let r = app.post(&path, &w.sec_b, pair).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app.get(&path, &w.sec_b).await;
    let first = &r.body[0];
    assert_eq!(first["records"].as_array().map(Vec::len), Some(2));
    assert_eq!(first["records"][1]["kind"], "pairing");
    assert_eq!(audit_count(&app, "record_follow_up").await, 2);
}

#[tokio::test]
async fn sd_3_closed_year_archived_readable_and_new_year_starts_at_zero() {
    let app = spawn_app().await;
    let w = twelve(&app).await;
    let p98 = person_of(&w, 98);
    // A 2026 item does not touch 2025; 2026 starts from zero.
    let s = app
        .get(&format!("/api/v1/people/{p98}/score?year=2026"), &w.admin)
        .await;
    assert_eq!(s.body["score"]["score"], 0, "{}", s.text);
    let s = app
        .get(&format!("/api/v1/people/{p98}/score?year=2025"), &w.admin)
        .await;
    assert_eq!(s.body["score"]["score"], 98);
    assert_eq!(s.body["score"]["closed"], true);
    assert_eq!(s.body["lines"].as_array().map(Vec::len), Some(2));
    // A late item for the closed year is refused; the archive does not change.
    let r = app.post("/api/v1/items", &w.admin, json!({"person_id": p98, "item": "contribution", "at": "2025-12-01T10:00:00+08:00", "fields": {"points": 1}})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app.post("/api/v1/items", &w.admin, json!({"person_id": p98, "item": "base_life", "at": "2026-02-01T10:00:00+08:00", "fields": {"points": 7}})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let s = app
        .get(&format!("/api/v1/people/{p98}/score?year=2026"), &w.admin)
        .await;
    assert_eq!(s.body["score"]["score"], 7);
    // The branch confirms; the member reads the archived year on /m/.
    let r = app
        .post(
            &format!("/api/v1/orgs/{}/stars/2025/confirm", w.b),
            &w.sec_b,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.bind(p98, "o-p98").await;
    let phone = Phone::new(&app);
    phone.sign_in("o-p98", "/m/years").await;
    let list = phone.get("/m/years").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert!(list.text.contains("2025 年"), "{}", list.text);
    let y = phone.get("/m/years/2025").await;
    assert_eq!(y.status, StatusCode::OK, "{}", y.text);
    assert!(
        y.text.contains("98") && y.text.contains("5 星（支部已评定）"),
        "{}",
        y.text
    );
    assert!(y.text.contains("已结转存档"), "{}", y.text);
    assert!(y.text.contains("贡献积分"), "the year's items: {}", y.text);
    // The running year stays on /m/ and starts from its own items.
    let home = phone.get("/m/years/2026").await;
    assert_eq!(home.location.as_deref(), Some("/m/"));
    let none = phone.get("/m/years/2019").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    // Staff read it in the console.
    let desk = Desk::new(&app);
    assert_eq!(
        desk.login("sec-b", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let page = desk
        .get(&format!("/console/results?org={}&year=2025", w.b))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text.contains("已结转") && page.text.contains("党员00"),
        "{}",
        page.text
    );
}

#[tokio::test]
async fn sd_7_excluded_member_gets_no_star() {
    let app = spawn_app().await;
    let mut w = world(&app, "sdtbu-2018").await;
    // Nine taking part and one excluded by decision, who scored highest.
    for (n, score) in [98, 95, 80, 75, 70, 65, 60, 50, 40].iter().enumerate() {
        let p = sd_member(&app, &w.admin, w.b, &format!("党员{n:02}"), n, *score).await;
        w.people.push((p, *score));
    }
    let ex = sd_member(&app, &w.admin, w.b, "免评者", 50, 99).await;
    let r = app
        .post(&format!("/api/v1/people/{ex}/exemptions"), &w.admin, json!({"year": 2025, "reason": "年老体弱", "approver": "党总支", "approved_on": "2025-02-01"}))
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    close(&app, &w, 2025).await;
    let v = app
        .get(&format!("/api/v1/orgs/{}/stars/2025", w.b), &w.sec_b)
        .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    // The preset counts members under points management: 9, not 10 → ⌊1.8⌋ = 1 seat.
    assert_eq!(v.body["members"], 9);
    assert_eq!(v.body["quota"], 1);
    let l = line(&v.body, ex);
    assert_eq!(l["exempt"], true);
    assert_eq!(l["stars"], Value::Null);
    assert_eq!(l["proposed_stars"], Value::Null);
    assert_eq!(line(&v.body, person_of(&w, 98))["stars"], 5);
    assert_eq!(line(&v.body, person_of(&w, 95))["stars"], 4);
    // No star for the excluded member, even with a reason.
    let r = app
        .post(
            &format!("/api/v1/orgs/{}/stars/2025/confirm", w.b),
            &w.sec_b,
            json!({"departures": [{"person_id": ex, "stars": 3, "reason": "照顾"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/orgs/{}/stars/2025/confirm", w.b),
            &w.sec_b,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Listed as 免评 in the result list, without score or stars.
    let list = app
        .get(&format!("/api/v1/orgs/{}/results/2025", w.b), &w.admin)
        .await;
    let m = list.body["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["person_id"] == json!(ex))
        .expect("excluded member");
    assert_eq!(m["exempt"], true);
    assert_eq!(m["status_label"], "免评");
    assert_eq!(
        (m["stars"].clone(), m["score"].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(m["award_eligible"], false);
    // Not on the follow-up list either.
    let f = app
        .get(
            &format!("/api/v1/orgs/{}/stars/2025/follow-ups", w.b),
            &w.sec_b,
        )
        .await;
    assert!(
        !f.body
            .as_array()
            .expect("list")
            .iter()
            .any(|r| r["person_id"] == json!(ex)),
        "{}",
        f.text
    );
}

/// SD-6: once the branch confirmed its stars, the official forms (登记表, 统计表, 年度结果名单)
/// show the confirmed stars, not the engine's proposal.
#[tokio::test]
async fn sd_6_forms_show_the_confirmed_stars() {
    let app = spawn_app().await;
    let w = twelve(&app).await;
    let p75 = person_of(&w, 75);
    let r = app
        .post(
            &format!("/api/v1/orgs/{}/stars/2025/confirm", w.b),
            &w.sec_b,
            json!({"departures": [{"person_id": p75, "stars": 4, "reason": "全年带头参加志愿服务"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let csv = |form: &'static str| {
        let app = &app;
        let admin = w.admin.clone();
        let b = w.b;
        async move {
            let r = app
                .get(
                    &format!("/api/v1/orgs/{b}/forms/{form}/2025/export?format=csv"),
                    &admin,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{form}: {}", r.text);
            r.text.trim_start_matches('\u{feff}').to_owned()
        }
    };
    // 登记表: 党员06 (75 points) has the confirmed 4★ in the 星级 column.
    let reg = csv("registration").await;
    let header: Vec<&str> = reg.lines().next().expect("header").split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "星级")
        .expect("星级 column");
    let row: Vec<&str> = reg
        .lines()
        .find(|l| l.contains("党员06"))
        .expect("row of 党员06")
        .split(',')
        .collect();
    assert_eq!(row[col], "4", "{reg}");
    // 统计表: 4★ counts 5 (93, 91, 90, 85 and the departure), 3★ none.
    let sum = csv("stars").await;
    let header: Vec<&str> = sum.lines().next().expect("header").split(',').collect();
    let row: Vec<&str> = sum
        .lines()
        .find(|l| l.starts_with('B'))
        .expect("row of B")
        .split(',')
        .collect();
    let at = |h: &str| row[header.iter().position(|x| *x == h).expect(h)];
    assert_eq!(
        (at("四星"), at("三星"), at("五星")),
        ("5", "0", "2"),
        "{sum}"
    );
    // 年度结果名单, through the forms' route and its own: the same file.
    let results = csv("results").await;
    let own = app
        .get(
            &format!("/api/v1/orgs/{}/results/2025/export?format=csv", w.b),
            &w.admin,
        )
        .await;
    assert_eq!(results, own.text.trim_start_matches('\u{feff}'));
    let row = results
        .lines()
        .find(|l| l.contains("党员06"))
        .expect("row of 党员06");
    assert!(row.contains(",4,"), "{row}");
}
