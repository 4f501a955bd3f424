//! The ledger over HTTP and through the services: posting at once, caps,
//! corrections re-deriving what they touch, policy choice, year close, rankings,
//! and the incremental-equals-replay property on the database path.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn setup(app: &TestApp) -> (String, i64, i64) {
    let admin = app.admin_token().await;
    let c = app.org(&admin, "C", "committee", None).await;
    let b = app.org(&admin, "B", "branch", Some(c)).await;
    (admin, c, b)
}

async fn study(app: &TestApp, token: &str, person: i64, at: &str, points: u32) -> Value {
    let r = app
        .post(
            "/api/v1/items",
            token,
            json!({"person_id": person, "item": "study", "at": at, "fields": {"points": points}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

async fn score(app: &TestApp, token: &str, person: i64) -> Value {
    let r = app
        .get(&format!("/api/v1/people/{person}/score?year=2026"), token)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

/// XH-10: online study counts up to 10 a year; the note says what the cap kept.
#[tokio::test]
async fn xh_10_study_is_capped_and_the_ledger_explains_it() {
    let app = spawn_app().await;
    let (admin, _, b) = setup(&app).await;
    let (_, secretary) = app.account(&admin, "sec-b", "secretary", Some(b)).await;
    let p = app.person(&admin, "张三", "13800138000", b, "member").await;
    let first = study(&app, &secretary, p, "2026-03-01T10:00:00+08:00", 8).await;
    assert_eq!(first["granted"], json!(8));
    let second = study(&app, &secretary, p, "2026-04-01T10:00:00+08:00", 4).await;
    assert_eq!(second["granted"], json!(2), "{second}");
    assert_eq!(second["score"]["score"], json!(10));
    let note = second["notes"][0].as_str().unwrap_or_default();
    assert!(note.contains("XH-10") && note.contains("上限"), "{note}");
    let s = score(&app, &secretary, p).await;
    assert_eq!(
        s["total"], s["score"]["score"],
        "the ledger adds up to the score"
    );
    assert_eq!(s["lines"].as_array().map(Vec::len), Some(2));
}

/// XH-10 + XH-19: annulling an earlier study frees the cap it used; the later one is re-derived.
#[tokio::test]
async fn xh_10_an_annulment_re_derives_the_caps_it_had_used_up() {
    let app = spawn_app().await;
    let (admin, _, b) = setup(&app).await;
    let p = app.person(&admin, "李四", "13800138001", b, "member").await;
    let first = study(&app, &admin, p, "2026-03-01T10:00:00+08:00", 8).await;
    study(&app, &admin, p, "2026-04-01T10:00:00+08:00", 4).await;
    let fact = first["fact_id"].as_i64().expect("id");
    let r = app
        .post(
            &format!("/api/v1/facts/{fact}/annul"),
            &admin,
            json!({"reason": ""}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "a correction says why");
    let r = app
        .post(
            &format!("/api/v1/facts/{fact}/annul"),
            &admin,
            json!({"reason": "重复录入", "evidence": "支部会议记录"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.body["score"]["score"],
        json!(4),
        "the later study now gets all its 4 points"
    );
    let again = app
        .post(
            &format!("/api/v1/facts/{fact}/annul"),
            &admin,
            json!({"reason": "再次"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let s = score(&app, &admin, p).await;
    let lines: Vec<(String, Value)> = s["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            (
                l["note"].as_str().unwrap_or_default().to_owned(),
                l["points"].clone(),
            )
        })
        .collect();
    assert_eq!(
        lines.len(),
        4,
        "append-only: two postings, a reversal and an adjustment: {lines:?}"
    );
    assert_eq!(s["total"], json!(4));
    let f = app.get(&format!("/api/v1/facts/{fact}"), &admin).await;
    assert!(f.body["annulled_by"].is_i64(), "{}", f.text);
    let audit = vanguard::audit::list(
        &app.state.db,
        None,
        vanguard::audit::Filter {
            action: Some("annul".into()),
            limit: 5,
            ..Default::default()
        },
    )
    .await
    .expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!(
        audit[0].after.as_ref().expect("after")["reason"],
        "重复录入"
    );
}

#[tokio::test]
async fn items_outside_the_policy_or_with_bad_fields_are_refused() {
    let app = spawn_app().await;
    let (admin, _, b) = setup(&app).await;
    let p = app.person(&admin, "王五", "13800138002", b, "member").await;
    let r = app
        .post(
            "/api/v1/items",
            &admin,
            json!({"person_id": p, "item": "juggling", "at": "2026-03-01T10:00:00+08:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("study"),
        "lists the known items: {}",
        r.text
    );
    let r = app.post("/api/v1/items", &admin, json!({"person_id": p, "item": "study", "at": "2026-03-01T10:00:00+08:00", "fields": {"points": "many"}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app.post("/api/v1/items", &admin, json!({"person_id": p, "org_id": b, "item": "study", "at": "2026-03-01T10:00:00+08:00"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app.post("/api/v1/items", &admin, json!({"person_id": p, "item": "study", "at": "2099-03-01T10:00:00+08:00", "fields": {"points": 1}})).await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "no facts from the future"
    );
    let r = app
        .post(
            "/api/v1/items",
            &admin,
            json!({"person_id": 999999, "item": "study", "at": "2026-03-01T10:00:00+08:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// XH-20 + ranking rules: ties share a place, exempt people have none.
#[tokio::test]
async fn xh_20_rankings_share_places_on_ties_and_leave_out_the_exempt() {
    let app = spawn_app().await;
    let (admin, _, b) = setup(&app).await;
    let people = members(&app, &admin, b, 4, "成员", "1390000000").await;
    for (p, pts) in people.iter().zip([5u32, 7, 7, 3]) {
        study(&app, &admin, *p, "2026-02-10T10:00:00+08:00", pts).await;
    }
    app.post(&format!("/api/v1/people/{}/exemptions", people[3]), &admin, json!({"year": 2026, "reason": "病", "approver": "区委组织部", "approved_on": "2026-01-05"})).await;
    // The exemption takes effect when the person's year is next derived.
    study(&app, &admin, people[3], "2026-02-11T10:00:00+08:00", 1).await;
    let r = app
        .get(&format!("/api/v1/orgs/{b}/rankings?year=2026"), &admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let items: Vec<(i64, i64, Value)> = r.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["place"].as_i64().unwrap_or(0),
                i["subject_id"].as_i64().unwrap_or(0),
                i["score"].clone(),
            )
        })
        .collect();
    assert_eq!(
        items,
        vec![
            (1, people[1], json!(7)),
            (1, people[2], json!(7)),
            (3, people[0], json!(5))
        ]
    );
    let q1 = app
        .get(
            &format!("/api/v1/orgs/{b}/rankings?year=2026&period=quarter&n=1"),
            &admin,
        )
        .await;
    assert_eq!(q1.body["items"].as_array().map(Vec::len), Some(3));
    let q2 = app
        .get(
            &format!("/api/v1/orgs/{b}/rankings?year=2026&period=quarter&n=2"),
            &admin,
        )
        .await;
    assert!(
        q2.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["score"] == json!(0)),
        "nothing in Q2: {}",
        q2.text
    );
    let bad = app
        .get(
            &format!("/api/v1/orgs/{b}/rankings?year=2026&period=month&n=13"),
            &admin,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

/// SD-3: a closed year is archived and frozen; policy changes cannot touch it.
#[tokio::test]
async fn sd_3_closing_a_year_applies_year_end_rules_and_freezes_it() {
    let app = spawn_app().await;
    let (admin, c, b) = setup(&app).await;
    let p = app.person(&admin, "赵六", "13800138003", b, "member").await;
    let r = app.post("/api/v1/items", &admin, json!({"person_id": p, "item": "study", "at": "2025-06-01T10:00:00+08:00", "fields": {"points": 6}})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["year"], 2025);
    let r = app
        .post(
            &format!("/api/v1/orgs/{c}/years/2026/close"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "the current year has not ended"
    );
    let r = app
        .post(
            &format!("/api/v1/orgs/{c}/years/2025/close"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let s = app
        .get(&format!("/api/v1/people/{p}/score?year=2025"), &admin)
        .await;
    // XH-15.1: fewer than 2 fixed days attended → −5, floored at 0 (XH-15.4).
    assert_eq!(s.body["score"]["score"], json!(1), "{}", s.text);
    assert_eq!(s.body["score"]["closed"], true);
    let r = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/orgs/{b}/policy"),
            Some(&admin),
            Some(json!({"year": 2025, "policy": "town-2019"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app.post("/api/v1/items", &admin, json!({"person_id": p, "item": "study", "at": "2025-07-01T10:00:00+08:00", "fields": {"points": 1}})).await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "no new facts in a closed year: {}",
        r.text
    );
    let r = app
        .post(
            &format!("/api/v1/orgs/{c}/years/2025/close"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // The new year starts from zero.
    let s = app
        .get(&format!("/api/v1/people/{p}/score?year=2026"), &admin)
        .await;
    assert_eq!(s.body["score"]["score"], json!(0));
}

#[tokio::test]
async fn choosing_another_policy_re_derives_the_running_year() {
    let app = spawn_app().await;
    let (admin, _, b) = setup(&app).await;
    let p = app.person(&admin, "钱七", "13800138004", b, "member").await;
    study(&app, &admin, p, "2026-03-01T10:00:00+08:00", 4).await;
    let r = app
        .get(&format!("/api/v1/orgs/{b}/policy?year=2026"), &admin)
        .await;
    assert_eq!(r.body["policy"], "xihu-2017", "the default");
    let r = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/orgs/{b}/policy"),
            Some(&admin),
            Some(json!({"year": 2026, "policy": "town-2019"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let s = score(&app, &admin, p).await;
    assert_eq!(
        s["score"]["score"],
        json!(0),
        "town-2019 has no study item: {s}"
    );
    assert_eq!(s["total"], json!(0));
    let r = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/orgs/{b}/policy"),
            Some(&admin),
            Some(json!({"year": 2026, "policy": "nope"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/orgs/{b}/policy"),
            Some(&admin),
            Some(json!({"year": 2026, "policy": "custom", "source": "name = 'custom'\n[[rule]\n"})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "a malformed policy names its line: {}",
        r.text
    );
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("custom.toml:"),
        "{}",
        r.text
    );
    let list = app.get("/api/v1/policies", &admin).await;
    let xihu = list
        .body
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["name"] == "xihu-2017")
        .cloned()
        .expect("xihu");
    assert!(
        xihu["choices"]
            .as_array()
            .expect("choices")
            .iter()
            .any(|c| c["rule_id"] == "XH-17"),
        "ambiguous choices are visible"
    );
}

/// Points follow a person who transfers to another branch during the year.
#[tokio::test]
async fn points_follow_a_transferred_member() {
    let app = spawn_app().await;
    let (admin, c, b) = setup(&app).await;
    let b2 = app.org(&admin, "B2", "branch", Some(c)).await;
    let p = app.person(&admin, "孙八", "13800138005", b, "member").await;
    study(&app, &admin, p, "2026-03-01T10:00:00+08:00", 3).await;
    app.post(
        &format!("/api/v1/people/{p}/transfer"),
        &admin,
        json!({"to_org_id": b2, "effective_on": "2026-05-01"}),
    )
    .await;
    study(&app, &admin, p, "2026-06-01T10:00:00+08:00", 2).await;
    let s = score(&app, &admin, p).await;
    assert_eq!(s["score"]["score"], json!(5));
    let r = app
        .get(&format!("/api/v1/orgs/{b2}/rankings?year=2026"), &admin)
        .await;
    assert_eq!(r.body["items"][0]["subject_id"], p);
    assert_eq!(r.body["items"][0]["score"], json!(5));
}

/// Incremental posting equals a full replay, on the database path: facts arrive one at a
/// time in random order, with annulments; replaying the year afterwards changes nothing.
#[tokio::test]
async fn posting_one_fact_at_a_time_in_any_order_equals_a_full_replay() {
    use vanguard::ledger::facts::{NewFact, NewFactKind, record};

    let app = spawn_app().await;
    let (admin, _, b) = setup(&app).await;
    let people: Vec<i64> = futures_util::future::join_all((0..3).map(|i| {
        let (app, admin) = (&app, &admin);
        async move {
            app.person(
                admin,
                &format!("人{i}"),
                &format!("1370000000{i}"),
                b,
                "member",
            )
            .await
        }
    }))
    .await;
    let actor = vanguard::audit::Actor::cli();
    for seed in 0..4u64 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut facts: Vec<(i64, NewFact)> =
            (0..12).map(|_| random_item(&mut rng, &people)).collect();
        facts.shuffle(&mut rng);
        let mut recorded = Vec::new();
        for (_, f) in facts {
            let txn = vanguard::db::begin(&app.state.db).await.expect("txn");
            let r = record(&txn, &app.state.scoring, &actor, f, 2026)
                .await
                .expect("record")
                .expect("new");
            sea_orm::TransactionSession::commit(txn)
                .await
                .expect("commit");
            recorded.push(r.fact.id);
            if rng.random_bool(0.25) {
                let target = recorded[rng.random_range(0..recorded.len())];
                let txn = vanguard::db::begin(&app.state.db).await.expect("txn");
                let annul = NewFact {
                    kind: NewFactKind::Annul { target },
                    at: chrono::Utc::now(),
                    received_at: chrono::Utc::now(),
                    session_id: None,
                    reason: Some("更正".into()),
                    evidence: None,
                    dedup_key: Some(format!("annul:{target}")),
                    source_event: None,
                };
                record(&txn, &app.state.scoring, &actor, annul, 2026)
                    .await
                    .expect("annul");
                sea_orm::TransactionSession::commit(txn)
                    .await
                    .expect("commit");
            }
        }
        assert_replay_appends_nothing(&app, &people, &format!("seed {seed}")).await;
    }
}

/// A random item fact (study, community service, honours, a deduction) for one of `people`.
fn random_item(
    rng: &mut rand::rngs::StdRng,
    people: &[i64],
) -> (i64, vanguard::ledger::facts::NewFact) {
    use rand::Rng;
    use vanguard::ledger::SubjectRef;
    use vanguard::ledger::facts::{NewFact, NewFactKind};
    use vanguard::policy::{FieldValue, Fields};
    let person = people[rng.random_range(0..people.len())];
    let day = rng.random_range(1..28);
    let month = rng.random_range(1..12);
    let item = [
        "study",
        "community_service",
        "honor_other",
        "improper_remarks",
    ][rng.random_range(0..4)];
    let mut fields = Fields::new();
    if item == "study" || item == "honor_other" {
        fields.set("points", FieldValue::Number(rng.random_range(1..6).into()));
    }
    let at =
        chrono::DateTime::parse_from_rfc3339(&format!("2026-{month:02}-{day:02}T10:00:00+08:00"))
            .expect("time")
            .with_timezone(&chrono::Utc);
    (
        person,
        NewFact {
            kind: NewFactKind::Item {
                subject: SubjectRef::Person(person),
                item: item.to_owned(),
                fields,
            },
            at,
            received_at: at,
            session_id: None,
            reason: None,
            evidence: None,
            dedup_key: None,
            source_event: None,
        },
    )
}

/// The check-in writer's bulk posting equals the one-subject path: facts stored in
/// random batches and posted with `repost_people` leave nothing for a full replay to
/// append, and each ledger adds up to its score.
#[tokio::test]
async fn posting_in_batches_equals_a_full_replay() {
    use rand::{Rng, SeedableRng};
    use std::collections::HashMap;
    let app = spawn_app().await;
    let (admin, _, b) = setup(&app).await;
    let people = members(&app, &admin, b, 5, "批", "1360000000").await;
    let actor = vanguard::audit::Actor::cli();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _round in 0..6 {
        let txn = vanguard::db::begin(&app.state.db).await.expect("txn");
        let mut subjects = Vec::new();
        let mut causes = HashMap::new();
        for _ in 0..rng.random_range(1..8) {
            let (person, fact) = random_item(&mut rng, &people);
            let row = vanguard::ledger::facts::insert(&txn, &actor, fact, 2026, None)
                .await
                .expect("insert")
                .expect("new");
            subjects.push((person, 2026));
            causes.insert(person, row.id);
        }
        vanguard::ledger::batch::repost_people(&txn, &app.state.scoring, &subjects, &causes)
            .await
            .expect("posted");
        sea_orm::TransactionSession::commit(txn)
            .await
            .expect("commit");
    }
    assert!(entries(&app).await > 0);
    assert_replay_appends_nothing(&app, &people, "batches").await;
}

/// Replays the year and asserts it appends nothing and every ledger adds up to its score.
async fn assert_replay_appends_nothing(app: &TestApp, people: &[i64], what: &str) {
    use vanguard::ledger::SubjectRef;
    let before = entries(app).await;
    let txn = vanguard::db::begin(&app.state.db).await.expect("txn");
    vanguard::ledger::year::replay_year(&txn, &app.state.scoring, None, 2026, false)
        .await
        .expect("replay");
    sea_orm::TransactionSession::commit(txn)
        .await
        .expect("commit");
    assert_eq!(
        entries(app).await,
        before,
        "{what}: a full replay appends nothing"
    );
    for p in people {
        let l = vanguard::ledger::queries::ledger(&app.state.db, SubjectRef::Person(*p), 2026)
            .await
            .expect("ledger");
        assert_eq!(
            Some(l.total),
            l.score.score,
            "{what}: the ledger adds up to the score"
        );
    }
}

/// `n` members of `org` named `{name}{i}`, phones `{phone}{i}`.
async fn members(
    app: &TestApp,
    admin: &str,
    org: i64,
    n: usize,
    name: &str,
    phone: &str,
) -> Vec<i64> {
    let mut people = Vec::new();
    for i in 0..n {
        people.push(
            app.person(
                admin,
                &format!("{name}{i}"),
                &format!("{phone}{i}"),
                org,
                "member",
            )
            .await,
        );
    }
    people
}

async fn entries(app: &TestApp) -> usize {
    use sea_orm::{EntityTrait, PaginatorTrait};
    entity::ledger_entry::Entity::find()
        .count(&app.state.db)
        .await
        .expect("count") as usize
}

/// The year is judged in the organization's time zone (Asia/Shanghai by default).
#[tokio::test]
async fn the_year_of_a_fact_is_judged_in_the_organizations_time_zone() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let shanghai = app.org(&admin, "SH", "branch", None).await;
    let r = app.post("/api/v1/orgs", &admin, json!({"name": "海外支部", "code": "LDN", "kind": "branch", "timezone": "Europe/London"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let london = r.body["id"].as_i64().expect("id");
    let a = app
        .person(&admin, "上海", "13800138010", shanghai, "member")
        .await;
    let b = app
        .person(&admin, "伦敦", "13800138011", london, "member")
        .await;
    // 2025-12-31 16:30 UTC is already 2026-01-01 00:30 in Shanghai, still 2025 in London.
    let at = "2025-12-31T16:30:00+00:00";
    let r = app
        .post(
            "/api/v1/items",
            &admin,
            json!({"person_id": a, "item": "study", "at": at, "fields": {"points": 1}}),
        )
        .await;
    assert_eq!(r.body["year"], 2026, "{}", r.text);
    let r = app
        .post(
            "/api/v1/items",
            &admin,
            json!({"person_id": b, "item": "study", "at": at, "fields": {"points": 1}}),
        )
        .await;
    assert_eq!(r.body["year"], 2025, "{}", r.text);
}

/// The readings RULES.md marks AMBIGUOUS (XH-8.1 make-up across the year's end, XH-11,
/// EQ-4, TW-7, SD-6 "一般不超过") are choices of their presets, visible to staff.
#[tokio::test]
async fn xh_8_1_xh_11_eq_4_tw_7_sd_6_ambiguous_readings_are_choices_in_their_presets() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let wanted = [
        ("xihu-2017", "XH-8.1", "完成补学的年度"),
        ("xihu-2017", "XH-11", "1 + (n − 2)"),
        ("erqi-2021", "EQ-4", "1 月 1 日"),
        ("town-2019", "TW-7", "恰为 60 分为合格"),
        ("sdtbu-2018", "SD-6", "须记录理由"),
    ];
    for (policy, rule, reading) in wanted {
        let r = app.get(&format!("/api/v1/policies/{policy}"), &admin).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let found = r.body["choices"]
            .as_array()
            .expect("choices")
            .iter()
            .any(|c| {
                c["rule_id"] == rule
                    && c["choice"].as_str().unwrap_or_default().contains(reading)
                    && !c["question"].as_str().unwrap_or_default().is_empty()
            });
        assert!(found, "{policy} states its reading of {rule}: {}", r.text);
    }
}

async fn policy(app: &TestApp, admin: &str, org: i64, year: i32, name: &str) {
    let r = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/orgs/{org}/policy"),
            Some(admin),
            Some(json!({"year": year, "policy": name})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
}

/// Records `item` for `person` on each date (2025 or 2026, Shanghai, 10:00).
async fn items(app: &TestApp, admin: &str, person: i64, item: &str, dates: &[&str]) {
    for d in dates {
        let r = app
            .post(
                "/api/v1/items",
                admin,
                json!({"person_id": person, "item": item, "at": format!("{d}T10:00:00+08:00")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{item} {d}: {}", r.text);
    }
}

async fn close(app: &TestApp, admin: &str, org: i64, year: i32) {
    app.confirmed_year_publicity(org, year).await;
    let r = app
        .post(
            &format!("/api/v1/orgs/{org}/years/{year}/close"),
            admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

async fn result(app: &TestApp, admin: &str, person: i64, year: i32) -> Value {
    let r = app
        .get(&format!("/api/v1/people/{person}/score?year={year}"), admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["score"].clone()
}

/// EQ-6: "last once in the committee-wide ranking" ranks the whole committee even when a
/// branch closes the year first; closing the committee later never rewrites the branch's
/// frozen results.
#[tokio::test]
async fn eq_6_a_branch_closing_first_is_ranked_across_the_committee_and_stays_frozen() {
    let app = spawn_app().await;
    let (admin, c, b1) = setup(&app).await;
    let b2 = app.org(&admin, "B2", "branch", Some(c)).await;
    policy(&app, &admin, c, 2025, "erqi-2021").await;
    let p = app
        .person(&admin, "预备甲", "13800138101", b1, "probationary")
        .await;
    let m1 = app
        .person(&admin, "党员乙", "13800138102", b1, "member")
        .await;
    let m2 = app
        .person(&admin, "党员丙", "13800138103", b2, "member")
        .await;
    // First half: p 3, m1 4 (p last in its branch), m2 1 (last in the committee).
    items(
        &app,
        &admin,
        p,
        "dues",
        &["2025-01-05", "2025-02-05", "2025-03-05"],
    )
    .await;
    items(
        &app,
        &admin,
        m1,
        "dues",
        &["2025-04-05", "2025-05-05", "2025-06-05"],
    )
    .await;
    items(&app, &admin, m1, "lecture", &["2025-04-06"]).await;
    items(&app, &admin, m2, "dues", &["2025-01-05"]).await;
    close(&app, &admin, b1, 2025).await;
    let frozen = result(&app, &admin, p, 2025).await;
    assert_eq!(frozen["closed"], true, "{frozen}");
    assert!(
        !frozen.to_string().contains("not_confirmable_on_time"),
        "m2 in the other branch is the committee's last: {frozen}"
    );
    // The other branch's year is still open: m2 climbs above p.
    items(
        &app,
        &admin,
        m2,
        "dues",
        &["2025-02-05", "2025-03-05", "2025-04-05"],
    )
    .await;
    items(&app, &admin, m2, "lecture", &["2025-02-06"]).await;
    close(&app, &admin, c, 2025).await;
    assert_eq!(
        result(&app, &admin, p, 2025).await,
        frozen,
        "the branch's frozen result is not rewritten"
    );
    let m2_result = result(&app, &admin, m2, 2025).await;
    assert_eq!(m2_result["closed"], true, "{m2_result}");
    assert_eq!(m2_result["score"], json!(5), "{m2_result}");
}

/// EQ-5: "last in the branch in 4 consecutive quarters" looks back into the previous
/// year's frozen quarters under the same policy: last in Q3 and Q4 of 2025 and in Q1 and
/// Q2 of 2026 is four running.
#[tokio::test]
async fn eq_5_last_in_q3_q4_of_a_closed_year_and_q1_q2_of_the_next_is_unqualified() {
    let app = spawn_app().await;
    let (admin, c, b) = setup(&app).await;
    policy(&app, &admin, c, 2025, "erqi-2021").await;
    policy(&app, &admin, c, 2026, "erqi-2021").await;
    let a = app
        .person(&admin, "党员甲", "13800138111", b, "member")
        .await;
    let z = app
        .person(&admin, "党员乙", "13800138112", b, "member")
        .await;
    // 2025: z last in Q1 and Q2, a last in Q3 and Q4.
    items(&app, &admin, a, "dues", &["2025-01-05", "2025-04-05"]).await;
    items(&app, &admin, z, "dues", &["2025-07-05", "2025-10-05"]).await;
    close(&app, &admin, c, 2025).await;
    assert_eq!(result(&app, &admin, a, 2025).await["status"], "scored");
    // 2026: a last in Q1 and Q2, nobody in Q3 and Q4 (a tie names no one).
    items(&app, &admin, z, "dues", &["2026-01-05", "2026-04-05"]).await;
    let at = chrono::DateTime::parse_from_rfc3339("2027-01-04T09:00:00+08:00").expect("t");
    app.state.clock.set(at.with_timezone(&chrono::Utc));
    close(&app, &admin, c, 2026).await;
    let r = result(&app, &admin, a, 2026).await;
    assert_eq!(
        (&r["status"], &r["rating"]),
        (&json!("unqualified"), &json!("unqualified")),
        "{r}"
    );
    // z's run of 2025 (Q1, Q2) ended that year: not carried into 2026.
    assert_eq!(result(&app, &admin, z, 2026).await["status"], "scored");
}
