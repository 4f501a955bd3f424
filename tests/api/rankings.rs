//! Quarterly and half-year rankings under `erqi-2021` (EQ-4 … EQ-7) over HTTP: the
//! branch's quarterly ranking published and filed with the committee, the committee-wide
//! half-year ranking, EQ-5's evidence before the close and the unqualified rating at it,
//! EQ-6 flags with their evidence and handling, EQ-7 falsification findings, and the
//! own-rank proposal an admin confirms.

use chrono::{DateTime, TimeZone, Utc};
use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::console::{Desk, PASSWORD};
use crate::helpers::{TestApp, spawn_app};

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
    a: i64,
    b: i64,
    /// Secretary of branch A.
    sec_a: String,
}

/// Committee C with branches A and B, scoring `years` with `erqi-2021`; the clock at `now`.
async fn world(app: &TestApp, years: &[i32], now: DateTime<Utc>) -> World {
    app.state.clock.set(now);
    let admin = app.admin_token().await;
    let committee = app.org(&admin, "C", "committee", None).await;
    let a = app.org(&admin, "A", "branch", Some(committee)).await;
    let b = app.org(&admin, "B", "branch", Some(committee)).await;
    for y in years {
        let r = app
            .request(
                Method::PUT,
                &format!("/api/v1/orgs/{committee}/policy"),
                Some(&admin),
                Some(json!({"year": y, "policy": "erqi-2021"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let (_, sec_a) = app.account(&admin, "sec-a", "secretary", Some(a)).await;
    World {
        admin,
        committee,
        a,
        b,
        sec_a,
    }
}

/// `times` study sessions (EQ-1, +2 each) on the given local day.
async fn study(
    app: &TestApp,
    admin: &str,
    person: i64,
    day: (i32, u32, u32),
    times: u32,
) -> Vec<i64> {
    let mut ids = Vec::new();
    for k in 0..times {
        let at = chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(day.0, day.1, day.2, 9 + k, 0, 0)
            .single()
            .expect("time")
            .to_rfc3339();
        let r = app
            .post(
                "/api/v1/items",
                admin,
                json!({"person_id": person, "item": "study", "at": at}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        ids.push(r.body["fact_id"].as_i64().expect("fact id"));
    }
    ids
}

async fn count<E: EntityTrait>(app: &TestApp) -> u64
where
    E::Model: Sync,
{
    E::find().count(&app.state.db).await.expect("count")
}

async fn audited(app: &TestApp, action: &str) -> u64 {
    entity::audit_log::Entity::find()
        .filter(entity::audit_log::Column::Action.eq(action))
        .count(&app.state.db)
        .await
        .expect("audit")
}

fn code(r: &crate::helpers::Response) -> &str {
    r.body["code"].as_str().unwrap_or_default()
}

fn place_of<'a>(rows: &'a [Value], name: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {rows:?}"))
}

fn member<'a>(ev: &'a Value, name: &str) -> &'a Value {
    ev["members"]
        .as_array()
        .and_then(|m| m.iter().find(|x| x["name"] == name))
        .unwrap_or_else(|| panic!("{name} in {ev}"))
}

#[tokio::test]
async fn eq_4_quarterly_ranking_published_and_filed_with_committee() {
    let app = spawn_app().await;
    let w = world(&app, &[2026], shanghai(2026, 4, 2, 10)).await;
    let jia = app
        .person(&w.admin, "甲", "13800000001", w.a, "member")
        .await;
    let yi = app
        .person(&w.admin, "乙", "13800000002", w.a, "member")
        .await;
    let bing = app
        .person(&w.admin, "丙", "13800000003", w.a, "member")
        .await;
    app.person(&w.admin, "丁", "13800000004", w.b, "member")
        .await;
    study(&app, &w.admin, jia, (2026, 2, 10), 2).await;
    study(&app, &w.admin, yi, (2026, 3, 10), 1).await;
    study(&app, &w.admin, bing, (2026, 3, 11), 1).await;

    // Filing before the ranking is published: refused, nothing written.
    let early = app
        .post(
            &format!("/api/v1/orgs/{}/ranking-filings", w.a),
            &w.sec_a,
            json!({"year": 2026, "quarter": 1}),
        )
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text);
    assert_eq!(code(&early), "ranking_not_published");
    assert!(
        early.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("尚未公示")
    );
    assert_eq!(count::<entity::ranking_filing::Entity>(&app).await, 0);

    // The branch publishes its quarter: ranked, ties share a place.
    let r = app
        .post(
            &format!("/api/v1/orgs/{}/ranking-publicity", w.a),
            &w.sec_a,
            json!({"year": 2026, "period": "quarter", "n": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["label"], "2026年第1季度");
    let rows = r.body["rows"].as_array().expect("rows").clone();
    assert_eq!(rows.len(), 3, "only branch A: {rows:?}");
    assert_eq!(place_of(&rows, "甲")["place"], 1);
    assert_eq!(place_of(&rows, "甲")["score"], "4");
    assert_eq!(place_of(&rows, "乙")["place"], 2);
    assert_eq!(place_of(&rows, "丙")["place"], 2);
    assert_eq!(place_of(&rows, "丙")["score"], "2");
    let publicity = r.body["publicity_id"].as_i64().expect("id");

    // A quarter of the committee is not a branch ranking.
    let wrong = app
        .post(
            &format!("/api/v1/orgs/{}/ranking-publicity", w.committee),
            &w.admin,
            json!({"year": 2026, "period": "quarter", "n": 1}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.text);

    // Another branch's filing: out of scope, nothing written.
    let foreign = app
        .post(
            &format!("/api/v1/orgs/{}/ranking-filings", w.b),
            &w.sec_a,
            json!({"year": 2026, "quarter": 1}),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN, "{}", foreign.text);
    assert_eq!(count::<entity::ranking_filing::Entity>(&app).await, 0);

    // Filed: who, when, which version.
    let filed = app
        .post(
            &format!("/api/v1/orgs/{}/ranking-filings", w.a),
            &w.sec_a,
            json!({"year": 2026, "quarter": 1, "note": "已在支部内公示"}),
        )
        .await;
    assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.text);
    assert_eq!(filed.body["publicity_id"], publicity);
    assert_eq!(filed.body["version"], 1);
    assert_eq!(audited(&app, "file_ranking").await, 1);
    let again = app
        .post(
            &format!("/api/v1/orgs/{}/ranking-filings", w.a),
            &w.sec_a,
            json!({"year": 2026, "quarter": 1}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert_eq!(code(&again), "ranking_already_filed");
    assert_eq!(count::<entity::ranking_filing::Entity>(&app).await, 1);

    // The committee sees who filed and who did not.
    let list = app
        .get(
            &format!("/api/v1/orgs/{}/ranking-filings?year=2026", w.committee),
            &w.admin,
        )
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let branches = list.body["branches"].as_array().expect("branches");
    assert_eq!(branches.len(), 2);
    let a = branches.iter().find(|x| x["org_id"] == w.a).expect("A");
    let b = branches.iter().find(|x| x["org_id"] == w.b).expect("B");
    assert_eq!(a["quarters"][0]["status"], "filed");
    assert_eq!(a["quarters"][0]["filed_by"], "sec-a");
    assert_eq!(a["quarters"][0]["filed_version"], 1);
    assert_eq!(b["quarters"][0]["status"], "not_published");
    assert_eq!(a["quarters"][1]["status"], "not_over");
    // A secretary reads only the own branch.
    let peek = app
        .get(
            &format!("/api/v1/orgs/{}/ranking-filings?year=2026", w.b),
            &w.sec_a,
        )
        .await;
    assert_eq!(peek.status, StatusCode::FORBIDDEN, "{}", peek.text);
}

#[tokio::test]
async fn eq_4_half_year_ranking_across_the_committee() {
    let app = spawn_app().await;
    let w = world(&app, &[2026], shanghai(2026, 7, 2, 10)).await;
    let jia = app
        .person(&w.admin, "甲", "13800000001", w.a, "member")
        .await;
    let yi = app
        .person(&w.admin, "乙", "13800000002", w.a, "member")
        .await;
    let ding = app
        .person(&w.admin, "丁", "13800000004", w.b, "member")
        .await;
    let wu = app
        .person(&w.admin, "戊", "13800000005", w.b, "member")
        .await;
    study(&app, &w.admin, jia, (2026, 2, 10), 3).await;
    study(&app, &w.admin, yi, (2026, 5, 10), 1).await;
    study(&app, &w.admin, ding, (2026, 6, 10), 2).await;
    study(&app, &w.admin, wu, (2026, 3, 10), 1).await;

    // A branch does not publish the committee-wide ranking.
    let r = app
        .post(
            &format!("/api/v1/orgs/{}/ranking-publicity", w.a),
            &w.sec_a,
            json!({"year": 2026, "period": "half_year", "n": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(count::<entity::publicity::Entity>(&app).await, 0);

    let r = app
        .post(
            &format!("/api/v1/orgs/{}/ranking-publicity", w.committee),
            &w.admin,
            json!({"year": 2026, "period": "half_year", "n": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["label"], "2026年上半年");
    let rows = r.body["rows"].as_array().expect("rows").clone();
    assert_eq!(rows.len(), 4, "both branches: {rows:?}");
    assert_eq!(place_of(&rows, "甲")["place"], 1);
    assert_eq!(place_of(&rows, "甲")["score"], "6");
    assert_eq!(place_of(&rows, "丁")["place"], 2);
    assert_eq!(place_of(&rows, "丁")["org_id"], w.b);
    assert_eq!(place_of(&rows, "乙")["place"], 3);
    assert_eq!(place_of(&rows, "戊")["place"], 3);
    assert_eq!(place_of(&rows, "戊")["score"], "2");
    // The list is the committee's publicity: members of both branches read it.
    let p = entity::publicity::Entity::find()
        .one(&app.state.db)
        .await
        .expect("read")
        .expect("publicity");
    assert_eq!(p.org_id, w.committee);
    assert!(p.ranked);
}

#[tokio::test]
async fn eq_5_evidence_shown_before_close_and_unqualified_at_close() {
    let app = spawn_app().await;
    let w = world(&app, &[2025, 2026], shanghai(2026, 1, 5, 10)).await;
    let jia = app
        .person(&w.admin, "甲", "13800000001", w.a, "member")
        .await;
    let yi = app
        .person(&w.admin, "乙", "13800000002", w.a, "member")
        .await;
    // 2025: 乙 last in Q3 and Q4.
    study(&app, &w.admin, jia, (2025, 8, 10), 2).await;
    study(&app, &w.admin, yi, (2025, 8, 11), 1).await;
    study(&app, &w.admin, jia, (2025, 11, 10), 2).await;
    study(&app, &w.admin, yi, (2025, 11, 11), 1).await;
    app.confirmed_year_publicity(w.committee, 2025).await;
    let r = app
        .post(
            &format!("/api/v1/orgs/{}/years/2025/close", w.committee),
            &w.admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // 2026: last again in Q1 and Q2: four in a row across the years.
    app.state.clock.set(shanghai(2026, 7, 2, 10));
    study(&app, &w.admin, jia, (2026, 2, 10), 2).await;
    study(&app, &w.admin, yi, (2026, 2, 11), 1).await;
    study(&app, &w.admin, jia, (2026, 5, 10), 3).await;
    study(&app, &w.admin, yi, (2026, 5, 11), 1).await;

    // Before the close the secretary sees the places, the carried run and the outcome.
    let ev = app
        .get(
            &format!("/api/v1/orgs/{}/rank-evidence?year=2026", w.a),
            &w.sec_a,
        )
        .await;
    assert_eq!(ev.status, StatusCode::OK, "{}", ev.text);
    assert_eq!(ev.body["closed"], false);
    let y = member(&ev.body, "乙");
    assert_eq!(y["carried"], 2);
    assert_eq!(y["run"], 4);
    assert_eq!(y["unqualified_at_close"], true);
    assert_eq!(y["quarters"][0]["place"], 2);
    assert_eq!(y["quarters"][0]["of"], 2);
    assert_eq!(y["quarters"][0]["points"], "2");
    assert_eq!(y["quarters"][0]["last"], true);
    assert_eq!(y["quarters"][1]["last"], true);
    assert_eq!(y["quarters"][1]["points"], "2");
    assert_eq!(y["quarters"][2]["running"], true);
    let why = y["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["rule"] == "EQ-5")
        .and_then(|r| r["why"].as_str())
        .expect("why")
        .to_owned();
    assert!(why.contains("连续最后 4 次"), "{why}");
    assert!(why.contains("上年末连续最后 2 次"), "{why}");
    assert!(why.contains("第1季度（2 分，第 2/2 名）"), "{why}");
    let j = member(&ev.body, "甲");
    assert_eq!(j["unqualified_at_close"], false);
    assert_eq!(j["quarters"][0]["place"], 1);
    // Nothing written: the running score is still just scored.
    let s = app
        .get(&format!("/api/v1/people/{yi}/score?year=2026"), &w.admin)
        .await;
    assert_eq!(s.body["score"]["status"], "scored", "{}", s.text);
    // Out of scope.
    let other = app
        .get(
            &format!("/api/v1/orgs/{}/rank-evidence?year=2026", w.b),
            &w.sec_a,
        )
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    // The same evidence on the secretary's branch page.
    let desk = Desk::new(&app);
    let r = desk.login("sec-a", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let page = desk.get("/console/ranks?year=2026").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("将定为不合格"), "{}", page.text);
    assert!(page.text.contains("含上年末 2 次"), "{}", page.text);
    assert!(page.text.contains("2 分 · 第 2/2 名"), "{}", page.text);
    let hidden = desk
        .get(&format!("/console/ranks?org={}&year=2026", w.b))
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    // 乙, a full member last in two quarters, is flagged (EQ-6); the secretary records
    // the talk held, from the page.
    assert!(
        page.text.contains("当年年度考核不得评定为优秀"),
        "{}",
        page.text
    );
    let (org, person) = (w.a.to_string(), yi.to_string());
    let r = desk
        .post(
            "/console/ranks/flag",
            &[
                ("org", org.as_str()),
                ("person", person.as_str()),
                ("year", "2026"),
                ("flag", "not_excellent"),
                ("action", "书记已谈话提醒，年度考核不评优秀"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let page = desk.get(r.location.as_deref().expect("to the page")).await;
    assert!(
        page.text.contains("已处理：书记已谈话提醒"),
        "{}",
        page.text
    );

    // At the close the engine rates 乙 unqualified, as the evidence said.
    app.state.clock.set(shanghai(2027, 1, 5, 10));
    app.confirmed_year_publicity(w.committee, 2026).await;
    let r = app
        .post(
            &format!("/api/v1/orgs/{}/years/2026/close", w.committee),
            &w.admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let s = app
        .get(&format!("/api/v1/people/{yi}/score?year=2026"), &w.admin)
        .await;
    assert_eq!(s.body["score"]["status"], "unqualified", "{}", s.text);
    assert_eq!(s.body["score"]["rating"], "unqualified", "{}", s.text);
    let s = app
        .get(&format!("/api/v1/people/{jia}/score?year=2026"), &w.admin)
        .await;
    assert_eq!(s.body["score"]["status"], "scored", "{}", s.text);
}

#[tokio::test]
async fn eq_6_probationary_last_twice_is_flagged_with_evidence() {
    let app = spawn_app().await;
    let w = world(&app, &[2026], shanghai(2026, 7, 2, 10)).await;
    let jia = app
        .person(&w.admin, "甲", "13800000001", w.a, "member")
        .await;
    let bing = app
        .person(&w.admin, "丙", "13800000003", w.a, "probationary")
        .await;
    let ding = app
        .person(&w.admin, "丁", "13800000004", w.b, "member")
        .await;
    let wu = app
        .person(&w.admin, "戊", "13800000005", w.b, "member")
        .await;
    // A: 甲 4 + 4, 丙 (probationary) 2 + 2: last in Q1 and Q2.
    study(&app, &w.admin, jia, (2026, 2, 10), 2).await;
    study(&app, &w.admin, bing, (2026, 2, 11), 1).await;
    study(&app, &w.admin, jia, (2026, 5, 10), 2).await;
    study(&app, &w.admin, bing, (2026, 5, 11), 1).await;
    // B: 丁 6 + 6, 戊 (full member) 4 + 4: last in B twice, not last committee-wide.
    study(&app, &w.admin, ding, (2026, 2, 10), 3).await;
    study(&app, &w.admin, wu, (2026, 2, 11), 2).await;
    study(&app, &w.admin, ding, (2026, 5, 10), 3).await;
    study(&app, &w.admin, wu, (2026, 5, 11), 2).await;
    let ledger_before = count::<entity::ledger_entry::Entity>(&app).await;

    let r = app
        .get(
            &format!("/api/v1/orgs/{}/rank-flags?year=2026", w.committee),
            &w.admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let flags = r.body.as_array().expect("flags").clone();
    assert_eq!(flags.len(), 2, "{flags:?}");
    let b = flags.iter().find(|f| f["name"] == "丙").expect("丙");
    assert_eq!(b["flag"], "not_confirmable_on_time");
    assert_eq!(b["rule"], "EQ-6");
    assert_eq!(b["role"], "probationary");
    assert_eq!(b["state"], "open");
    let why = b["why"].as_str().unwrap_or_default();
    assert!(why.contains("第1季度（2 分，第 2/2 名）"), "{why}");
    assert!(why.contains("第2季度（2 分，第 2/2 名）"), "{why}");
    // Last in the committee-wide half-year too (4 of 4).
    assert!(
        why.contains("全委半年排名最后 1 次（上半年（4 分，第 4/4 名））"),
        "{why}"
    );
    let w5 = flags.iter().find(|f| f["name"] == "戊").expect("戊");
    assert_eq!(w5["flag"], "not_excellent");

    // Handling needs an account of what was done; nothing written otherwise.
    let bad = app
        .post(
            &format!("/api/v1/people/{bing}/rank-flags/handle"),
            &w.admin,
            json!({"year": 2026, "flag": "not_confirmable_on_time", "action": " "}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert_eq!(count::<entity::rank_flag_handling::Entity>(&app).await, 0);
    // No such flag for 甲.
    let none = app
        .post(
            &format!("/api/v1/people/{jia}/rank-flags/handle"),
            &w.sec_a,
            json!({"year": 2026, "flag": "not_confirmable_on_time", "action": "x"}),
        )
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "{}", none.text);
    // The branch secretary records what the branch did.
    let ok = app
        .post(
            &format!("/api/v1/people/{bing}/rank-flags/handle"),
            &w.sec_a,
            json!({"year": 2026, "flag": "not_confirmable_on_time", "action": "支部大会决定延长预备期一年，已报党委审批"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    let twice = app
        .post(
            &format!("/api/v1/people/{bing}/rank-flags/handle"),
            &w.admin,
            json!({"year": 2026, "flag": "not_confirmable_on_time", "action": "再次记录"}),
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.text);
    assert_eq!(code(&twice), "flag_handled");
    assert_eq!(audited(&app, "handle_rank_flag").await, 1);
    // Another branch's member: out of scope.
    let foreign = app
        .post(
            &format!("/api/v1/people/{wu}/rank-flags/handle"),
            &w.sec_a,
            json!({"year": 2026, "flag": "not_excellent", "action": "谈话"}),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN, "{}", foreign.text);

    let r = app
        .get(
            &format!("/api/v1/orgs/{}/rank-flags?year=2026", w.committee),
            &w.admin,
        )
        .await;
    let flags = r.body.as_array().expect("flags").clone();
    let b = flags.iter().find(|f| f["name"] == "丙").expect("丙");
    assert_eq!(b["state"], "handled");
    assert_eq!(b["handled_by"], "sec-a");
    assert_eq!(b["action"], "支部大会决定延长预备期一年，已报党委审批");
    // Nothing changed by itself: no ledger line, the status still scored.
    assert_eq!(
        count::<entity::ledger_entry::Entity>(&app).await,
        ledger_before
    );
    let s = app
        .get(&format!("/api/v1/people/{bing}/score?year=2026"), &w.admin)
        .await;
    assert_eq!(s.body["score"]["status"], "scored", "{}", s.text);
}

#[tokio::test]
async fn eq_7_falsification_finding_deducts_and_counts_for_the_branch() {
    let app = spawn_app().await;
    let w = world(&app, &[2026], shanghai(2026, 4, 2, 10)).await;
    let jia = app
        .person(&w.admin, "甲", "13800000001", w.a, "member")
        .await;
    let facts = study(&app, &w.admin, jia, (2026, 2, 10), 3).await;
    let score = |s: &crate::helpers::Response| s.body["score"]["score"].clone();
    let s = app
        .get(&format!("/api/v1/people/{jia}/score?year=2026"), &w.admin)
        .await;
    assert_eq!(score(&s), json!(6));

    // A finding without a reason: refused, nothing written.
    let cases_before = count::<entity::case::Entity>(&app).await;
    let r = app
        .post(
            "/api/v1/falsifications",
            &w.admin,
            json!({"person_id": jia, "year": 2026, "reason": "  "}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["errors"][0]["field"], "reason");
    assert_eq!(count::<entity::case::Entity>(&app).await, cases_before);
    // A secretary does not open one.
    let r = app
        .post(
            "/api/v1/falsifications",
            &w.sec_a,
            json!({"person_id": jia, "year": 2026, "reason": "虚报"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

    let r = app
        .post(
            "/api/v1/falsifications",
            &w.admin,
            json!({"person_id": jia, "year": 2026, "reason": "2月10日第三次学习教育无签到记录，系虚报"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_i64().expect("case id");
    assert_eq!(r.body["state"], "open");

    // The deduction: the falsified fact annulled through the correction services.
    let r = app
        .post(
            &format!("/api/v1/falsifications/{id}/annul"),
            &w.admin,
            json!({"fact_id": facts[2], "note": "无签到记录"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let annulment = r.body["fact_id"].as_i64().expect("annulment");
    let s = app
        .get(&format!("/api/v1/people/{jia}/score?year=2026"), &w.admin)
        .await;
    assert_eq!(score(&s), json!(4));
    let fact = entity::fact::Entity::find_by_id(annulment)
        .one(&app.state.db)
        .await
        .expect("read")
        .expect("annulment fact");
    assert!(
        fact.reason
            .as_deref()
            .unwrap_or_default()
            .contains(&format!("弄虚作假 #{id}")),
        "{:?}",
        fact.reason
    );
    // Without a reason: refused.
    let r = app
        .post(
            &format!("/api/v1/falsifications/{id}/annul"),
            &w.admin,
            json!({"fact_id": facts[1], "note": ""}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    // Not counted while open.
    let list = app
        .get(
            &format!("/api/v1/orgs/{}/falsifications?year=2026", w.a),
            &w.admin,
        )
        .await;
    assert_eq!(list.body["substantiated"], 0, "{}", list.text);
    let r = app
        .post(
            &format!("/api/v1/falsifications/{id}/conclude"),
            &w.admin,
            json!({"substantiated": true, "conclusion": "认定虚报学习教育 1 次，予以批评教育"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["state"], "accepted");
    let steps = r.body["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 3, "{steps:?}");
    assert!(
        steps
            .iter()
            .all(|s| s["by"].as_str().is_some_and(|b| !b.is_empty()))
    );

    // Counted for branch A's year, not for B.
    let list = app
        .get(
            &format!("/api/v1/orgs/{}/falsifications?year=2026", w.a),
            &w.sec_a,
        )
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.body["substantiated"], 1);
    let ev = app
        .get(
            &format!("/api/v1/orgs/{}/rank-evidence?year=2026", w.a),
            &w.sec_a,
        )
        .await;
    assert_eq!(ev.body["falsification_findings"], 1, "{}", ev.text);
    let ev = app
        .get(
            &format!("/api/v1/orgs/{}/rank-evidence?year=2026", w.b),
            &w.admin,
        )
        .await;
    assert_eq!(ev.body["falsification_findings"], 0, "{}", ev.text);
    let n = vanguard::review::rankings::falsification_findings(
        &app.state.db,
        vanguard::ids::OrgId(w.a),
        2026,
    )
    .await
    .expect("count");
    assert_eq!(n, 1);
    // Closed: no more steps.
    let r = app
        .post(
            &format!("/api/v1/falsifications/{id}/conclude"),
            &w.admin,
            json!({"substantiated": false, "conclusion": "改判"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(code(&r), "case_state");
    assert!(audited(&app, "open_falsification").await == 1);
    assert!(audited(&app, "falsification_annul").await == 1);
    assert!(audited(&app, "conclude_falsification").await == 1);
}

#[tokio::test]
async fn eq_4_choosing_erqi_proposes_own_rank_admin_confirms() {
    let app = spawn_app().await;
    let w = world(&app, &[2026], shanghai(2026, 4, 2, 10)).await;
    // Proposed, not switched.
    let list = app
        .get(&format!("/api/v1/orgs/{}/proposals", w.committee), &w.admin)
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let proposals = list.body.as_array().expect("proposals");
    assert_eq!(proposals.len(), 1, "{proposals:?}");
    assert_eq!(proposals[0]["setting"], "show_rank_to_members");
    assert_eq!(proposals[0]["state"], "pending");
    assert_eq!(proposals[0]["policy"], "erqi-2021");
    let id = proposals[0]["id"].as_i64().expect("id");
    for org in [w.a, w.b] {
        let o = app.get(&format!("/api/v1/orgs/{org}"), &w.admin).await;
        assert_eq!(o.body["show_rank_to_members"], false, "{}", o.text);
    }
    // Choosing the policy again does not propose twice.
    let r = app
        .request(
            Method::PUT,
            &format!("/api/v1/orgs/{}/policy", w.committee),
            Some(&w.admin),
            Some(json!({"year": 2026, "policy": "erqi-2021"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(count::<entity::org_proposal::Entity>(&app).await, 1);

    // The admin's organization page shows it with its reason.
    app.operator_account("chief", vanguard::auth::Role::Admin, None)
        .await;
    let desk = Desk::new(&app);
    let r = desk.login("chief", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let page = desk.get(&format!("/console/orgs/{}", w.committee)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("党员查看本人排名"), "{}", page.text);
    assert!(page.text.contains("待确认"), "{}", page.text);
    assert!(
        page.text.contains("随时掌握自己的积分排名"),
        "{}",
        page.text
    );
    // A secretary does not decide.
    let r = app
        .post(
            &format!("/api/v1/org-proposals/{id}/confirm"),
            &w.sec_a,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // Declining needs a reason.
    let r = app
        .post(
            &format!("/api/v1/org-proposals/{id}/decline"),
            &w.admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    let r = app
        .post(
            &format!("/api/v1/org-proposals/{id}/confirm"),
            &w.admin,
            json!({"reason": "按办法要求，党员可随时掌握本人排名"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["state"], "confirmed");
    assert_eq!(r.body["decided_by"], "admin");
    for org in [w.a, w.b] {
        let o = app.get(&format!("/api/v1/orgs/{org}"), &w.admin).await;
        assert_eq!(o.body["show_rank_to_members"], true, "{}", o.text);
    }
    let audits = audited(&app, "confirm_proposal").await;
    assert_eq!(audits, 1);

    // Confirming twice: refused, nothing written.
    let updates = audited(&app, "update").await;
    let r = app
        .post(
            &format!("/api/v1/org-proposals/{id}/confirm"),
            &w.admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(code(&r), "proposal_decided");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("已处理")
    );
    assert_eq!(audited(&app, "update").await, updates);
    assert_eq!(audited(&app, "confirm_proposal").await, 1);
    // And on the console: the same refusal as a page.
    let again = desk
        .post(
            &format!("/console/org-proposals/{id}/confirm"),
            &[("reason", "")],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert!(again.text.contains("该提议已处理"), "{}", again.text);
    let page = desk.get(&format!("/console/orgs/{}", w.committee)).await;
    assert!(page.text.contains("已确认开启"), "{}", page.text);
}
