//! The year's result list (TW-7, XH-17, XH-18): JSON, and the form 年度结果名单 read back
//! with calamine (XLSX) and as text (CSV).

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::{TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};
use crate::stars::{Sd, close, world};

const INCENTIVES: [&str; 10] = [
    "tradition_education",
    "study_notes",
    "council",
    "home_visit",
    "volunteer",
    "history_quiz",
    "pairing_support",
    "governance_project",
    "key_task",
    "commendation",
];

async fn item(app: &TestApp, admin: &str, person: i64, code: &str, at: &str, points: Option<i64>) {
    let fields = points.map_or(json!({}), |p| json!({"points": p}));
    let r = app
        .post(
            "/api/v1/items",
            admin,
            json!({"person_id": person, "item": code, "at": at, "fields": fields}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{code} {at}: {}", r.text);
}

/// A member of `org` scoring exactly `score` in 2025 under town-2019: the ten incentive
/// items (≤ 4 each, TW-3), then the 3-point base lines, then the 1-point ones (TW-2).
async fn town_member(
    app: &TestApp,
    admin: &str,
    org: i64,
    name: &str,
    n: usize,
    score: i64,
) -> i64 {
    let p = app
        .person(admin, name, &format!("137{:08}", 2000 + n), org, "member")
        .await;
    let mut left = score;
    for (i, code) in INCENTIVES.iter().enumerate() {
        let pts = left.min(4);
        if pts == 0 {
            break;
        }
        item(
            app,
            admin,
            p,
            code,
            &format!("2025-0{}-15T10:00:00+08:00", 1 + i % 9),
            Some(pts),
        )
        .await;
        left -= pts;
    }
    let threes = [
        ("lecture", "2025-02-10"),
        ("lecture", "2025-05-10"),
        ("lecture", "2025-08-10"),
        ("lecture", "2025-11-10"),
        ("general_meeting", "2025-02-11"),
        ("general_meeting", "2025-05-11"),
        ("general_meeting", "2025-08-11"),
        ("general_meeting", "2025-11-11"),
        ("life_meeting", "2025-03-12"),
        ("life_meeting", "2025-09-12"),
        ("evaluation", "2025-12-13"),
        ("commitment", "2025-01-13"),
    ];
    for (code, day) in threes {
        if left < 3 {
            break;
        }
        item(app, admin, p, code, &format!("{day}T10:00:00+08:00"), None).await;
        left -= 3;
    }
    for code in ["dues", "activity_day"] {
        for month in 1..=12 {
            if left == 0 {
                break;
            }
            item(
                app,
                admin,
                p,
                code,
                &format!("2025-{month:02}-05T10:00:00+08:00"),
                None,
            )
            .await;
            left -= 1;
        }
    }
    assert_eq!(left, 0, "{score} cannot be made");
    let s = app
        .get(&format!("/api/v1/people/{p}/score?year=2025"), admin)
        .await;
    assert_eq!(s.body["score"]["score"], json!(score), "{}", s.text);
    p
}

async fn town(app: &TestApp, scores: &[i64]) -> (Sd, Vec<i64>) {
    let w = world(app, "town-2019").await;
    let mut people = Vec::new();
    for (n, s) in scores.iter().enumerate() {
        people.push(town_member(app, &w.admin, w.b, &format!("成员{s}"), n, *s).await);
    }
    (w, people)
}

fn member(list: &Value, person: i64) -> &Value {
    list["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["person_id"] == json!(person))
        .expect("member in the list")
}

fn sheet(bytes: &[u8]) -> calamine::Range<Data> {
    let mut wb: Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("xlsx");
    let name = wb.sheet_names().first().cloned().expect("a sheet");
    wb.worksheet_range(&name).expect("sheet")
}

fn row_of(range: &calamine::Range<Data>, name: &str) -> Vec<Data> {
    range
        .rows()
        .find(|r| r.first().is_some_and(|c| *c == name))
        .unwrap_or_else(|| panic!("row {name}"))
        .to_vec()
}

async fn download(app: &TestApp, token: &str, path: &str) -> (StatusCode, Vec<u8>) {
    let r = app
        .client
        .get(format!("{}{path}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .expect("export");
    let status = r.status();
    (status, r.bytes().await.expect("bytes").to_vec())
}

#[tokio::test]
async fn tw_7_sixty_is_qualified_below_sixty_unqualified() {
    let app = spawn_app().await;
    let (w, p) = town(&app, &[59, 60, 90]).await;
    close(&app, &w, 2025).await;
    let list = app
        .get(&format!("/api/v1/orgs/{}/results/2025", w.b), &w.sec_b)
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.body["closed"], true);
    assert_eq!(list.body["grade_header"], "等次");
    let (m59, m60) = (member(&list.body, p[0]), member(&list.body, p[1]));
    assert_eq!(
        (m59["rating"].clone(), m59["rating_label"].clone()),
        (json!("unqualified"), json!("不合格"))
    );
    assert_eq!(
        (m60["rating"].clone(), m60["rating_label"].clone()),
        (json!("qualified"), json!("合格"))
    );
    // TW-7: 60 and above a reward of at most 5 yuan a point; below 80 no awards.
    assert_eq!(m60["reward_max"], 300);
    assert_eq!(m59["reward_max"], Value::Null);
    assert_eq!(m60["award_eligible"], false);
    assert_eq!(m59["award_eligible"], false);
    // The form, read back with another crate.
    let (status, bytes) = download(
        &app,
        &w.sec_b,
        &format!("/api/v1/orgs/{}/results/2025/export?format=xlsx", w.b),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let range = sheet(&bytes);
    let header: Vec<String> = range
        .rows()
        .next()
        .expect("header")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(header, ["姓名", "支部", "年度积分", "等次", "是否免评"]);
    let r59 = row_of(&range, "成员59");
    assert_eq!(r59[1].to_string(), "B 组织");
    assert_eq!(r59[2], Data::Float(59.0));
    assert_eq!(r59[3].to_string(), "不合格");
    assert_eq!(r59[4].to_string(), "否");
    let r60 = row_of(&range, "成员60");
    assert_eq!(
        (r60[2].clone(), r60[3].to_string()),
        (Data::Float(60.0), "合格".to_owned())
    );
    let r90 = row_of(&range, "成员90");
    assert_eq!(r90[3].to_string(), "优秀（待支部确认）");
    let (status, csv) = download(
        &app,
        &w.sec_b,
        &format!("/api/v1/orgs/{}/results/2025/export?format=csv", w.b),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(csv).expect("utf-8");
    assert!(text.contains("姓名,支部,年度积分,等次,是否免评"), "{text}");
    assert!(text.contains("成员59,B 组织,59,不合格,否"), "{text}");
    assert!(text.contains("成员60,B 组织,60,合格,否"), "{text}");
    // Out of scope and unknown organizations.
    let r = app
        .get(&format!("/api/v1/orgs/{}/results/2025", w.b), &w.sec_b2)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let (status, _) = download(
        &app,
        &w.sec_b2,
        &format!("/api/v1/orgs/{}/results/2025/export", w.b),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let r = app.get("/api/v1/orgs/999999/results/2025", &w.admin).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tw_7_below_eighty_no_awards_ninety_proposed_excellent() {
    let app = spawn_app().await;
    let (w, p) = town(&app, &[79, 80, 90]).await;
    let path = format!("/api/v1/orgs/{}/results/2025/excellent", w.b);
    // Not before the year is closed.
    let r = app.post(&path, &w.sec_b, json!({"person_id": p[2]})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["code"], "year_not_closed");
    let open = app
        .get(&format!("/api/v1/orgs/{}/results/2025", w.b), &w.sec_b)
        .await;
    assert_eq!(open.body["closed"], false);
    assert_eq!(
        member(&open.body, p[1])["award_eligible"],
        false,
        "provisional"
    );
    close(&app, &w, 2025).await;
    let list = app
        .get(&format!("/api/v1/orgs/{}/results/2025", w.b), &w.sec_b)
        .await;
    let (m79, m80, m90) = (
        member(&list.body, p[0]),
        member(&list.body, p[1]),
        member(&list.body, p[2]),
    );
    assert_eq!(m79["flags"], json!(["no_awards"]));
    assert_eq!(m79["award_eligible"], false);
    assert!(
        m79["no_award_reasons"][0]
            .as_str()
            .is_some_and(|r| r.contains("80")),
        "{}",
        list.text
    );
    assert_eq!(
        (m80["award_eligible"].clone(), m80["rating"].clone()),
        (json!(true), json!("qualified"))
    );
    assert_eq!(m80["reward_max"], 400);
    assert_eq!(m90["rating"], "excellent");
    assert_eq!(m90["rating_label"], "优秀（待支部确认）");
    assert_eq!(m90["excellent_confirmed"], false);
    // Refusals: not proposed, unknown member, another branch's secretary.
    let r = app.post(&path, &w.sec_b, json!({"person_id": p[1]})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let r = app
        .post(&path, &w.sec_b, json!({"person_id": 999999}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.post(&path, &w.sec_b2, json!({"person_id": p[2]})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The branch confirms 优秀 (audited); once.
    let r = app
        .post(
            &path,
            &w.sec_b,
            json!({"person_id": p[2], "note": "支委会讨论通过"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["rating_label"], "优秀");
    assert_eq!(r.body["excellent_confirmed"], true);
    assert_eq!(r.body["award_eligible"], true);
    let r = app.post(&path, &w.sec_b, json!({"person_id": p[2]})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let n = entity::audit_log::Entity::find()
            .filter(entity::audit_log::Column::Action.eq("confirm_excellent"))
            .all(&app.state.db)
            .await
            .expect("audit")
            .len();
        assert_eq!(n, 1);
    }
    // The rewards ledger's view of a closed year.
    let r = vanguard::review::results::closed_member_result(
        &app.state.db,
        &app.state.scoring,
        vanguard::ids::PersonId(p[2]),
        2025,
    )
    .await
    .expect("closed result");
    assert!(r.award_eligible && r.excellent_confirmed);
    let open = vanguard::review::results::closed_member_result(
        &app.state.db,
        &app.state.scoring,
        vanguard::ids::PersonId(p[2]),
        2026,
    )
    .await;
    assert!(open.is_err_and(|e| e.code == vanguard::error::ErrorCode::YearNotClosed));
}

/// xihu-2017 in 2026: twelve fixed days registered ahead (clock on 1 January), the
/// clock then moved to the end of the year.
async fn xihu(app: &TestApp) -> Sd {
    let w = world(app, "xihu-2017").await;
    app.state.clock.set(
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("t"),
    );
    w
}

async fn activity(
    app: &TestApp,
    admin: &str,
    org: i64,
    kind: &str,
    title: &str,
    start: &str,
    points: Option<i64>,
) -> i64 {
    let starts = chrono::DateTime::parse_from_rfc3339(start).expect("start");
    let r = app
        .post(
            "/api/v1/activities",
            admin,
            json!({"org_id": org, "kind": kind, "title": title, "starts_at": starts.to_rfc3339(),
                "ends_at": (starts + chrono::Duration::hours(2)).to_rfc3339(), "points": points}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_i64().expect("id")
}

async fn attended(app: &TestApp, admin: &str, activity: i64, person: i64, at: &str) {
    let r = app
        .post(
            &format!("/api/v1/activities/{activity}/corrections"),
            admin,
            json!({"person_id": person, "action": "add", "at": at, "reason": "现场签到表核实"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn xh_18_member_stars_in_the_result_list() {
    let app = spawn_app().await;
    let w = xihu(&app).await;
    let mut days = Vec::new();
    for month in 1..=12 {
        let start = format!("2026-{month:02}-10T14:00:00+08:00");
        days.push((
            activity(
                &app,
                &w.admin,
                w.b,
                "fixed_day",
                &format!("{month}月主题党日"),
                &start,
                None,
            )
            .await,
            start,
        ));
    }
    let meeting = activity(
        &app,
        &w.admin,
        w.b,
        "meeting",
        "专题学习会",
        "2026-06-20T09:00:00+08:00",
        Some(10),
    )
    .await;
    app.state.clock.set(
        Utc.with_ymd_and_hms(2026, 12, 20, 2, 0, 0)
            .single()
            .expect("t"),
    );
    let names = ["一星", "二星", "三星", "四星", "五星"];
    let mut p = Vec::new();
    for (n, name) in names.iter().enumerate() {
        p.push(
            app.person(
                &w.admin,
                name,
                &format!("136{:08}", 3000 + n),
                w.b,
                "member",
            )
            .await,
        );
    }
    // 1★: 10 (study only); 2★: 60 (twelve fixed days); 3★: 70; 4★: 80; 5★: exactly 100.
    item(
        &app,
        &w.admin,
        p[0],
        "study",
        "2026-03-01T10:00:00+08:00",
        Some(10),
    )
    .await;
    for person in &p[1..] {
        for (day, start) in &days {
            attended(&app, &w.admin, *day, *person, start).await;
        }
    }
    for person in &p[2..] {
        item(
            &app,
            &w.admin,
            *person,
            "study",
            "2026-03-01T10:00:00+08:00",
            Some(10),
        )
        .await;
    }
    for person in &p[3..] {
        item(
            &app,
            &w.admin,
            *person,
            "honor_province",
            "2026-05-01T10:00:00+08:00",
            None,
        )
        .await;
    }
    item(
        &app,
        &w.admin,
        p[4],
        "honor_city",
        "2026-07-01T10:00:00+08:00",
        None,
    )
    .await;
    attended(&app, &w.admin, meeting, p[4], "2026-06-20T09:00:00+08:00").await;
    for d in 1..=6 {
        item(
            &app,
            &w.admin,
            p[4],
            "community_service",
            &format!("2026-08-{d:02}T10:00:00+08:00"),
            None,
        )
        .await;
    }
    let list = app
        .get(&format!("/api/v1/orgs/{}/results/2026", w.b), &w.sec_b)
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.body["grade_header"], "星级");
    let got: Vec<(Value, Value)> = p
        .iter()
        .map(|id| {
            let m = member(&list.body, *id);
            (m["score"].clone(), m["stars"].clone())
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (json!(10), json!(1)),
            (json!(60), json!(2)),
            (json!(70), json!(3)),
            (json!(80), json!(4)),
            (json!(100), json!(5)),
        ]
    );
    // After the year closes (XH-15.1 takes 5 from the member with no fixed day).
    app.state.clock.set(
        Utc.with_ymd_and_hms(2027, 1, 5, 2, 0, 0)
            .single()
            .expect("t"),
    );
    let r = app
        .post(
            &format!("/api/v1/orgs/{}/years/2026/close", w.c),
            &w.admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (status, bytes) = download(
        &app,
        &w.admin,
        &format!("/api/v1/orgs/{}/results/2026/export?format=xlsx", w.c),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let range = sheet(&bytes);
    let header: Vec<String> = range
        .rows()
        .next()
        .expect("header")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(header, ["姓名", "支部", "年度积分", "星级", "是否免评"]);
    let rows: Vec<(Data, Data)> = names
        .iter()
        .map(|n| {
            let r = row_of(&range, n);
            (r[2].clone(), r[3].clone())
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (Data::Float(5.0), Data::Float(1.0)),
            (Data::Float(60.0), Data::Float(2.0)),
            (Data::Float(70.0), Data::Float(3.0)),
            (Data::Float(80.0), Data::Float(4.0)),
            (Data::Float(100.0), Data::Float(5.0)),
        ]
    );
}

#[tokio::test]
async fn xh_17_organization_stars_in_the_result_list() {
    let app = spawn_app().await;
    let w = xihu(&app).await;
    // Branch B holds 25 activities (125 points: the 120–149 gap), B2 holds 12 (60).
    for (org, n) in [(w.b, 25), (w.b2, 12)] {
        for i in 0..n {
            let start = format!("2026-{:02}-{:02}T14:00:00+08:00", 1 + i % 12, 2 + i / 12);
            activity(
                &app,
                &w.admin,
                org,
                "meeting",
                &format!("学习会{i}"),
                &start,
                None,
            )
            .await;
        }
    }
    let list = app
        .get(&format!("/api/v1/orgs/{}/results/2026", w.c), &w.admin)
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let org = |id: i64| -> Value {
        list.body["orgs"]
            .as_array()
            .expect("orgs")
            .iter()
            .find(|o| o["org_id"] == json!(id))
            .cloned()
            .unwrap_or_else(|| panic!("org {id}: {}", list.text))
    };
    let (b, b2) = (org(w.b), org(w.b2));
    assert_eq!(
        (b["score"].clone(), b["stars"].clone()),
        (json!(125), json!(4))
    );
    assert!(
        b["reading"]
            .as_str()
            .is_some_and(|r| r.contains("120–149 分评为四星级")),
        "{b}"
    );
    assert_eq!(
        (b2["score"].clone(), b2["stars"].clone()),
        (json!(60), json!(2))
    );
    // A branch secretary sees their own branch only.
    let r = app
        .get(&format!("/api/v1/orgs/{}/results/2026", w.c), &w.sec_b)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let own = app
        .get(&format!("/api/v1/orgs/{}/results/2026", w.b), &w.sec_b)
        .await;
    assert_eq!(
        own.body["orgs"].as_array().map(Vec::len),
        Some(1),
        "{}",
        own.text
    );
}
