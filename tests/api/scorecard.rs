//! The branch scorecard (jinhua-2018, JH-1 … JH-7) over HTTP: a committee opens the
//! year's assessment, branches assess themselves, the committee reviews (vetoes, bottom
//! line), draws a random audit sample, reads ratings and the pass rate, downloads the form.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

pub struct Year {
    pub app: TestApp,
    pub admin: String,
    pub branches: Vec<i64>,
    pub secretaries: Vec<String>,
    pub assessment: i64,
    pub cards: Vec<i64>,
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .with_timezone(&Utc)
}

/// A committee with `n` branches and their secretaries, the 2018 assessment opened on
/// 2018-12-01 (自评 until 2019-01-15, review until 2019-02-28).
pub async fn year(n: usize) -> Year {
    let app = spawn_app().await;
    app.state.clock.set(at("2018-12-01T09:00:00+08:00"));
    let admin = app.admin_token().await;
    let committee = app.org(&admin, "JHW", "committee", None).await;
    let mut branches = Vec::new();
    let mut secretaries = Vec::new();
    for i in 0..n {
        let b = app
            .org(&admin, &format!("JH{i}"), "branch", Some(committee))
            .await;
        let (_, sec) = app
            .account(&admin, &format!("sec-jh{i}"), "secretary", Some(b))
            .await;
        branches.push(b);
        secretaries.push(sec);
    }
    let r = app
        .post(
            "/api/v1/assessments",
            &admin,
            json!({"org_id": committee, "year": 2018, "self_until": "2019-01-15", "review_until": "2019-02-28"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let assessment = r.body["id"].as_i64().expect("id");
    assert_eq!(r.body["due"], "2019-02-28");
    let cards: Vec<i64> = branches
        .iter()
        .map(|b| {
            r.body["scorecards"]
                .as_array()
                .expect("cards")
                .iter()
                .find(|c| c["org_id"] == *b)
                .and_then(|c| c["id"].as_i64())
                .expect("a card per branch")
        })
        .collect();
    Year {
        app,
        admin,
        branches,
        secretaries,
        assessment,
        cards,
    }
}

pub fn lines(card: &Value) -> Vec<(String, f64, String)> {
    card["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            (
                l["code"].as_str().expect("code").to_owned(),
                l["weight"].as_f64().expect("weight"),
                l["part"].as_str().expect("part").to_owned(),
            )
        })
        .collect()
}

/// Every item scored at its weight by the branch (base 80 + vanguard 40), submitted.
pub async fn self_assess(y: &Year, i: usize) -> Value {
    let card = y
        .app
        .get(
            &format!("/api/v1/scorecards/{}", y.cards[i]),
            &y.secretaries[i],
        )
        .await;
    assert_eq!(card.status, StatusCode::OK, "{}", card.text);
    let items: Vec<Value> = lines(&card.body)
        .into_iter()
        .map(|(code, w, _)| json!({"code": code, "score": w, "evidence": "见工作记实本"}))
        .collect();
    let r = y
        .app
        .post(
            &format!("/api/v1/scorecards/{}/self", y.cards[i]),
            &y.secretaries[i],
            json!({"items": items}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = y
        .app
        .post(
            &format!("/api/v1/scorecards/{}/submit", y.cards[i]),
            &y.secretaries[i],
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

/// Review scores that add up to `total` with no bottom-line deduction: base items at
/// their weight (or lowered below 80), vanguard items filled up to `total`.
pub fn review_items(card: &Value, total: i64) -> Vec<Value> {
    let mut extra = total - 80;
    let mut missing = (80 - total).max(0);
    let mut out = Vec::new();
    for (code, w, part) in lines(card) {
        let w = w as i64;
        let score = if part == "base" {
            let cut = missing.min(w);
            missing -= cut;
            w - cut
        } else {
            let s = extra.clamp(0, w);
            extra -= s;
            s
        };
        out.push(json!({"code": code, "score": score, "reason": "按工作记实本核定"}));
    }
    out
}

pub async fn review_to(y: &Year, i: usize, total: i64) -> Value {
    let card = y
        .app
        .get(&format!("/api/v1/scorecards/{}", y.cards[i]), &y.admin)
        .await;
    let r = y
        .app
        .post(
            &format!("/api/v1/scorecards/{}/review", y.cards[i]),
            &y.admin,
            json!({"items": review_items(&card.body, total), "members": {"count": 0}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

async fn rated(total: i64) -> Value {
    let y = year(1).await;
    self_assess(&y, 0).await;
    let v = review_to(&y, 0, total).await;
    assert_eq!(v["state"], "reviewed", "{v}");
    assert_eq!(v["outcome"]["total"], json!(total));
    v
}

// JH-5
#[tokio::test]
async fn jh_5_review_112_is_excellent() {
    let v = rated(112).await;
    assert_eq!(v["outcome"]["rating_label"], "优秀");
    assert_eq!(v["outcome"]["rating"], "excellent");
}

// JH-5
#[tokio::test]
async fn jh_5_review_92_is_pass() {
    let v = rated(92).await;
    assert_eq!(v["outcome"]["rating_label"], "达标");
}

// JH-5
#[tokio::test]
async fn jh_5_review_88_fails() {
    let v = rated(88).await;
    assert_eq!(v["outcome"]["rating_label"], "未达标");
}

// JH-5
#[tokio::test]
async fn jh_5_review_79_is_backward_and_80_fails() {
    let v = rated(79).await;
    assert_eq!(v["outcome"]["rating_label"], "后进整转");
    let v = rated(80).await;
    assert_eq!(v["outcome"]["rating_label"], "未达标");
}

// JH-4
#[tokio::test]
async fn jh_4_veto_gives_backward_whatever_the_items() {
    let y = year(1).await;
    self_assess(&y, 0).await;
    let v = review_to(&y, 0, 120).await;
    assert_eq!(v["outcome"]["rating_label"], "优秀");
    let r = y
        .app
        .post(
            &format!("/api/v1/scorecards/{}/vetoes", y.cards[0]),
            &y.admin,
            json!({"item": "veto_ecology", "cause": "支部政治生态不佳，被市纪委通报", "evidence": "市纪委通报〔2018〕12号"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let v = r.body;
    assert_eq!(v["outcome"]["vetoed"], true);
    assert_eq!(v["outcome"]["items_total"], json!(120));
    assert_eq!(v["outcome"]["total"], json!(0));
    assert_eq!(v["outcome"]["rating_label"], "后进整转");
    assert_eq!(v["vetoes"][0]["decided_by"], "admin");
    assert_eq!(v["vetoes"][0]["cause"], "支部政治生态不佳，被市纪委通报");
    let roll = y
        .app
        .get(
            &format!("/api/v1/assessments/{}/rollup", y.assessment),
            &y.admin,
        )
        .await;
    assert_eq!(roll.body["scorecards"][0]["rating_label"], "后进整转");
    assert_eq!(roll.body["vetoed"], 1);
}

async fn member_with(y: &Year, branch: i64, name: &str, phone: &str, gambling: usize) -> i64 {
    let p = y.app.person(&y.admin, name, phone, branch, "member").await;
    for k in 0..gambling {
        let r = y
            .app
            .post(
                "/api/v1/items",
                &y.admin,
                json!({"person_id": p, "item": "gambling", "at": format!("2018-0{}-10T10:00:00+08:00", k + 3), "fields": {}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    p
}

// JH-4
#[tokio::test]
async fn jh_4_member_with_exactly_15_points_of_deductions_counts() {
    let y = year(1).await;
    let b = y.branches[0];
    // town-2019's negative list: −5 per finding; 3 findings = exactly 15.
    let r = y
        .app
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/orgs/{b}/policy"),
            Some(&y.admin),
            Some(json!({"year": 2018, "policy": "town-2019"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let fifteen = member_with(&y, b, "张十五", "13900000015", 3).await;
    member_with(&y, b, "李十分", "13900000010", 2).await;
    self_assess(&y, 0).await;
    let card = y
        .app
        .get(&format!("/api/v1/scorecards/{}", y.cards[0]), &y.admin)
        .await;
    assert_eq!(
        card.body["bottom"]["proposed"], 1,
        "{}",
        card.body["bottom"]
    );
    assert_eq!(
        card.body["bottom"]["proposed_members"][0]["person_id"],
        fifteen
    );
    assert_eq!(
        card.body["bottom"]["proposed_members"][0]["points"],
        json!(15)
    );
    assert!(
        card.body["bottom"]["member_label"]
            .as_str()
            .is_some_and(|l| l.contains("15 分及以上")),
        "{}",
        card.body["bottom"]
    );
    // Changing the proposal needs a reason.
    let items = review_items(&card.body, 112);
    let r = y
        .app
        .post(
            &format!("/api/v1/scorecards/{}/review", y.cards[0]),
            &y.admin,
            json!({"items": items, "members": {"count": 0}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("提议 1 名"))
    );
    let r = y
        .app
        .post(
            &format!("/api/v1/scorecards/{}/review", y.cards[0]),
            &y.admin,
            json!({"items": items, "members": {"count": 1}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["outcome"]["bottom"], json!(1));
    assert_eq!(r.body["outcome"]["total"], json!(111));
    assert_eq!(r.body["bottom"]["member_count"], 1);
}

// JH-2.1
#[tokio::test]
async fn jh_2_1_self_or_review_score_above_the_weight_is_refused() {
    let y = year(1).await;
    let path = format!("/api/v1/scorecards/{}/self", y.cards[0]);
    // 政治建设1 weighs 4.
    let r = y
        .app
        .post(
            &path,
            &y.secretaries[0],
            json!({"items": [{"code": "political_1", "score": 4.5}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("0 到 4 分")),
        "{}",
        r.text
    );
    let r = y
        .app
        .post(
            &path,
            &y.secretaries[0],
            json!({"items": [{"code": "political_1", "score": -1}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let card = y
        .app
        .get(&format!("/api/v1/scorecards/{}", y.cards[0]), &y.admin)
        .await;
    assert_eq!(card.body["lines"][0]["self_score"], Value::Null);
    // The vanguard item 推进中心工作 is capped at 12.
    self_assess(&y, 0).await;
    let r = y
        .app
        .post(
            &format!("/api/v1/scorecards/{}/review", y.cards[0]),
            &y.admin,
            json!({"items": [{"code": "central_work", "score": 13, "reason": "国家级表彰三项"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("0 到 12 分")),
        "{}",
        r.text
    );
    let card = y
        .app
        .get(&format!("/api/v1/scorecards/{}", y.cards[0]), &y.admin)
        .await;
    let central = card.body["lines"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["code"] == "central_work"))
        .cloned()
        .expect("central_work");
    assert_eq!(central["review_score"], Value::Null);
}

// JH-3
#[tokio::test]
async fn jh_3_vanguard_items_weigh_12_10_8_5_5_and_a_review_above_an_items_weight_is_refused() {
    let y = year(1).await;
    let card = y
        .app
        .get(&format!("/api/v1/scorecards/{}", y.cards[0]), &y.admin)
        .await;
    let vanguard: Vec<(String, i64)> = lines(&card.body)
        .into_iter()
        .filter(|l| l.2 == "vanguard")
        .map(|(code, w, _)| (code, w as i64))
        .collect();
    assert_eq!(
        vanguard,
        [
            ("central_work", 12),
            ("key_work", 10),
            ("innovation", 8),
            ("honor", 5),
            ("vanguard_average", 5)
        ]
        .map(|(c, w)| (c.to_owned(), w))
    );
    self_assess(&y, 0).await;
    let r = y
        .app
        .post(
            &format!("/api/v1/scorecards/{}/review", y.cards[0]),
            &y.admin,
            json!({"items": [{"code": "honor", "score": 6, "reason": "省级荣誉两项"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("0 到 5 分")),
        "{}",
        r.text
    );
}

// JH-6
#[tokio::test]
async fn jh_6_review_score_is_the_result() {
    let y = year(1).await;
    let submitted = self_assess(&y, 0).await;
    assert_eq!(submitted["state"], "submitted");
    // Self 120 in all; the reviewer takes 2 off 思想建设4 (two theme days missed).
    let card = y
        .app
        .get(&format!("/api/v1/scorecards/{}", y.cards[0]), &y.admin)
        .await;
    let mut items: Vec<Value> = lines(&card.body)
        .into_iter()
        .map(|(code, w, _)| json!({"code": code, "score": w}))
        .collect();
    for it in &mut items {
        if it["code"] == "ideological_4" {
            it["score"] = json!(1);
        }
    }
    let path = format!("/api/v1/scorecards/{}/review", y.cards[0]);
    let r = y
        .app
        .post(
            &path,
            &y.admin,
            json!({"items": items, "members": {"count": 0}}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "a differing score needs a reason: {}",
        r.text
    );
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("须写明扣分原因"))
    );
    for it in &mut items {
        if it["code"] == "ideological_4" {
            it["reason"] = json!("3 月、7 月未开展主题党日，每少一次扣 1 分");
        }
    }
    let r = y
        .app
        .post(
            &path,
            &y.admin,
            json!({"items": items, "members": {"count": 0}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["outcome"]["base"], json!(78));
    assert_eq!(r.body["outcome"]["total"], json!(118));
    let roll = y
        .app
        .get(
            &format!("/api/v1/assessments/{}/rollup", y.assessment),
            &y.admin,
        )
        .await;
    assert_eq!(roll.body["scorecards"][0]["total"], json!(118));
}

// JH-7
#[tokio::test]
async fn jh_7_results_are_due_by_the_end_of_february_and_late_ones_are_flagged() {
    let y = year(1).await;
    self_assess(&y, 0).await;
    // After the review date: refused until the date is extended, with a reason.
    y.app.state.clock.set(at("2019-03-05T10:00:00+08:00"));
    let card = y
        .app
        .get(&format!("/api/v1/scorecards/{}", y.cards[0]), &y.admin)
        .await;
    assert_eq!(card.body["due"], "2019-02-28");
    let items = review_items(&card.body, 100);
    let path = format!("/api/v1/scorecards/{}/review", y.cards[0]);
    let r = y
        .app
        .post(
            &path,
            &y.admin,
            json!({"items": items, "members": {"count": 0}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["code"], "review_closed");
    let ext = format!("/api/v1/assessments/{}/extend", y.assessment);
    let r = y
        .app
        .post(
            &ext,
            &y.admin,
            json!({"date": "review_until", "until": "2019-03-15", "reason": ""}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = y
        .app
        .post(
            &ext,
            &y.admin,
            json!({"date": "review_until", "until": "2019-03-15", "reason": "机构改革，支部调整"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["review_until"], "2019-03-15");
    assert_eq!(r.body["review_after_due"], true);
    let audit = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        entity::audit_log::Entity::find()
            .filter(entity::audit_log::Column::Action.eq("extend_assessment"))
            .all(&y.app.state.db)
            .await
            .expect("audit")
    };
    assert_eq!(audit.len(), 1);
    assert!(
        audit[0]
            .before
            .as_deref()
            .is_some_and(|b| b.contains("2019-02-28"))
    );
    assert!(
        audit[0]
            .after
            .as_deref()
            .is_some_and(|a| a.contains("机构改革") && a.contains("2019-03-15"))
    );
    assert_eq!(audit[0].actor_name, "admin");
    let r = y
        .app
        .post(
            &path,
            &y.admin,
            json!({"items": items, "members": {"count": 0}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["late"], true);
    let roll = y
        .app
        .get(
            &format!("/api/v1/assessments/{}/rollup", y.assessment),
            &y.admin,
        )
        .await;
    assert_eq!(roll.body["due"], "2019-02-28");
    assert_eq!(roll.body["late"], 1);
}

// JH-1
#[tokio::test]
async fn jh_1_base_80_plus_vanguard_40_plus_bottom_line_adds_up() {
    let y = year(1).await;
    self_assess(&y, 0).await;
    let card = y
        .app
        .get(&format!("/api/v1/scorecards/{}", y.cards[0]), &y.admin)
        .await;
    let total_weight: f64 = lines(&card.body).iter().map(|l| l.1).sum();
    assert_eq!(total_weight, 120.0);
    let r = y
        .app
        .post(
            &format!("/api/v1/scorecards/{}/review", y.cards[0]),
            &y.admin,
            json!({
                "items": review_items(&card.body, 120),
                "members": {"count": 3, "reason": "另有 3 名党员在外单位被扣分，台账未记"},
                "sanctions": [{"name": "王某", "level": "warning"}],
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let o = &r.body["outcome"];
    assert_eq!(o["base"], json!(80));
    assert_eq!(o["vanguard"], json!(40));
    // 3 members: −5 in all (not −3); a warning: −1.
    assert_eq!(o["bottom"], json!(6));
    assert_eq!(o["total"], json!(114));
    assert_eq!(o["rating_label"], "优秀");
}

#[tokio::test]
async fn the_draw_repeated_from_its_seed_gives_the_same_branches_and_the_rollup_counts_the_target()
{
    let y = year(5).await;
    for (i, total) in [112, 92, 88, 79, 100].into_iter().enumerate() {
        self_assess(&y, i).await;
        review_to(&y, i, total).await;
    }
    let r = y
        .app
        .post(
            &format!("/api/v1/scorecards/{}/vetoes", y.cards[4]),
            &y.admin,
            json!({"item": "veto_policy", "cause": "贯彻决策部署不坚决，被市委通报批评", "evidence": "通报文件"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let draws = format!("/api/v1/assessments/{}/draws", y.assessment);
    let r = y.app.post(&draws, &y.admin, json!({"n": 6})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = y.app.post(&draws, &y.admin, json!({"n": 2})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let drawn: Vec<i64> = r.body["result"]
        .as_array()
        .expect("result")
        .iter()
        .map(|d| d["org_id"].as_i64().expect("org"))
        .collect();
    assert_eq!(drawn.len(), 2);
    assert!(drawn.iter().all(|d| y.branches.contains(d)));
    let seed = r.body["seed"].as_str().expect("seed").to_owned();
    // Anyone can repeat it: SHA-256(seed ":" id), ascending.
    let mut keyed: Vec<(String, i64)> = y
        .branches
        .iter()
        .map(|b| {
            use sha2::Digest;
            (hex::encode(sha2::Sha256::digest(format!("{seed}:{b}"))), *b)
        })
        .collect();
    keyed.sort();
    assert_eq!(drawn, keyed.iter().take(2).map(|k| k.1).collect::<Vec<_>>());
    let id = r.body["id"].as_i64().expect("draw id");
    for _ in 0..2 {
        let again = y
            .app
            .get(&format!("/api/v1/draws/{id}/repeat"), &y.admin)
            .await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        assert_eq!(again.body["same"], true);
        assert_eq!(again.body["repeated"], json!(drawn));
        assert_eq!(again.body["draw"]["seed"], seed);
    }
    // Roll-up: 112 优秀, 92 达标 pass; 88, 79 and the veto do not: 2 of 5 = 40 % < 60 %.
    let roll = y
        .app
        .get(
            &format!("/api/v1/assessments/{}/rollup", y.assessment),
            &y.admin,
        )
        .await;
    assert_eq!(roll.status, StatusCode::OK, "{}", roll.text);
    let b = &roll.body;
    assert_eq!(b["branches"], 5);
    assert_eq!(b["reviewed"], 5);
    assert_eq!(b["passing"], 2);
    assert_eq!(b["rate"], json!(0.4));
    assert_eq!(b["target"], json!(0.6));
    assert_eq!(b["met"], false);
    assert_eq!(b["flag"], "取消先进参评资格");
    let count = |label: &str| {
        b["ratings"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["label"] == label))
            .map(|r| r["count"].clone())
    };
    assert_eq!(count("优秀"), Some(json!(1)));
    assert_eq!(count("达标"), Some(json!(1)));
    assert_eq!(count("未达标"), Some(json!(1)));
    assert_eq!(count("后进整转"), Some(json!(2)));
}

#[tokio::test]
async fn a_review_outside_the_reviewers_scope_is_refused_and_writes_nothing() {
    let y = year(1).await;
    self_assess(&y, 0).await;
    let other = y.app.org(&y.admin, "QT", "committee", None).await;
    let other_admin = y
        .app
        .operator_account("admin-qt", vanguard::auth::Role::Admin, Some(other))
        .await;
    let card = y
        .app
        .get(&format!("/api/v1/scorecards/{}", y.cards[0]), &y.admin)
        .await;
    let body = json!({"items": review_items(&card.body, 100), "members": {"count": 0}});
    let path = format!("/api/v1/scorecards/{}/review", y.cards[0]);
    for token in [&other_admin, &y.secretaries[0]] {
        let r = y.app.post(&path, token, body.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert!(
            r.body["detail"]
                .as_str()
                .is_some_and(|d| d.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))),
            "{}",
            r.text
        );
    }
    let r = y
        .app
        .post(
            &format!("/api/v1/scorecards/{}/vetoes", y.cards[0]),
            &other_admin,
            json!({"item": "veto_policy", "cause": "x", "evidence": "y"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let after = y
        .app
        .get(&format!("/api/v1/scorecards/{}", y.cards[0]), &y.admin)
        .await;
    assert_eq!(after.body["state"], "submitted");
    assert!(
        after.body["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .all(|l| l["review_score"].is_null())
    );
    assert_eq!(after.body["vetoes"], json!([]));
}

#[tokio::test]
async fn a_self_assessment_after_its_date_is_refused_and_writes_nothing() {
    let y = year(1).await;
    y.app.state.clock.set(at("2019-01-16T00:00:00+08:00"));
    let r = y
        .app
        .post(
            &format!("/api/v1/scorecards/{}/self", y.cards[0]),
            &y.secretaries[0],
            json!({"items": [{"code": "political_1", "score": 4}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["code"], "self_assessment_closed");
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("自评已于 2019-01-15 截止")),
        "{}",
        r.text
    );
    let r = y
        .app
        .post(
            &format!("/api/v1/scorecards/{}/submit", y.cards[0]),
            &y.secretaries[0],
            json!({}),
        )
        .await;
    assert_eq!(r.body["code"], "self_assessment_closed");
    let card = y
        .app
        .get(&format!("/api/v1/scorecards/{}", y.cards[0]), &y.admin)
        .await;
    assert_eq!(card.body["state"], "draft");
    assert!(
        card.body["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .all(|l| l["self_score"].is_null())
    );
    // The last minute of 15 January still counts.
    y.app.state.clock.set(at("2019-01-15T23:59:00+08:00"));
    let r = y
        .app
        .post(
            &format!("/api/v1/scorecards/{}/self", y.cards[0]),
            &y.secretaries[0],
            json!({"items": [{"code": "political_1", "score": 4}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn a_veto_without_a_cause_is_refused_and_writes_nothing() {
    let y = year(1).await;
    self_assess(&y, 0).await;
    let path = format!("/api/v1/scorecards/{}/vetoes", y.cards[0]);
    for body in [
        json!({"item": "veto_policy", "evidence": "通报文件"}),
        json!({"item": "veto_policy", "cause": "   ", "evidence": "通报文件"}),
    ] {
        let r = y.app.post(&path, &y.admin, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert!(
            r.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("一票否决须写明原因")),
            "{}",
            r.text
        );
    }
    let card = y
        .app
        .get(&format!("/api/v1/scorecards/{}", y.cards[0]), &y.admin)
        .await;
    assert_eq!(card.body["vetoes"], json!([]));
    assert_eq!(card.body["outcome"]["vetoed"], false);
    // The attempts are audited (who tried what, and why it was refused).
    let tried = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        entity::audit_log::Entity::find()
            .filter(entity::audit_log::Column::Action.eq("scorecard_refused"))
            .all(&y.app.state.db)
            .await
            .expect("audit")
    };
    assert_eq!(tried.len(), 2);
    assert!(
        tried[0]
            .after
            .as_deref()
            .is_some_and(|a| a.contains("veto") && a.contains("一票否决须写明原因")),
        "{:?}",
        tried[0].after
    );
    assert_eq!(tried[0].actor_name, "admin");
}

fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(8, 8, |x, y| {
        image::Rgb([(x * 30) as u8, (y * 30) as u8, 90])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("png");
    out
}

#[tokio::test]
async fn the_scorecard_form_reads_back_with_calamine_and_as_csv() {
    let y = year(1).await;
    let up = y
        .app
        .post_bytes(
            &format!(
                "/api/v1/scorecards/{}/lines/ideological_4/files",
                y.cards[0]
            ),
            &y.secretaries[0],
            "image/png",
            png(),
        )
        .await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.text);
    let upload = up.body["upload_id"].as_i64().expect("upload");
    self_assess(&y, 0).await;
    let file = y
        .app
        .client
        .get(format!(
            "{}/api/v1/scorecards/{}/files/{upload}",
            y.app.address, y.cards[0]
        ))
        .bearer_auth(&y.admin)
        .send()
        .await
        .expect("file");
    assert_eq!(file.status(), StatusCode::OK);
    review_to(&y, 0, 112).await;
    let get = |format: &'static str| {
        let y = &y;
        async move {
            let res = y
                .app
                .client
                .get(format!(
                    "{}/api/v1/scorecards/{}/export?format={format}",
                    y.app.address, y.cards[0]
                ))
                .bearer_auth(&y.secretaries[0])
                .send()
                .await
                .expect("export");
            assert_eq!(res.status(), StatusCode::OK);
            res.bytes().await.expect("bytes").to_vec()
        }
    };
    let xlsx = get("xlsx").await;
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(xlsx)).expect("xlsx");
    let name = book.sheet_names().first().cloned().expect("sheet");
    let range = book.worksheet_range(&name).expect("range");
    let rows: Vec<Vec<Data>> = range.rows().map(<[Data]>::to_vec).collect();
    let header: Vec<String> = rows[0].iter().map(ToString::to_string).collect();
    assert_eq!(
        header,
        [
            "项目",
            "分值",
            "自评分",
            "审核分",
            "扣分原因与佐证",
            "合计",
            "等次"
        ]
    );
    let find = |name: &str| {
        rows.iter()
            .find(|r| r[0].to_string().starts_with(name))
            .unwrap_or_else(|| panic!("no row {name}"))
            .clone()
    };
    let first = find("政治建设1");
    assert_eq!(first[1], Data::Float(4.0));
    assert_eq!(first[2], Data::Float(4.0));
    assert_eq!(first[3], Data::Float(4.0));
    let theme = find("思想建设4");
    assert!(theme[4].to_string().contains("附图 1 张"), "{:?}", theme);
    assert_eq!(find("基本分小计")[3], Data::Float(80.0));
    assert_eq!(find("先锋分小计")[3], Data::Float(32.0));
    let total = find("合计");
    assert_eq!(total[2], Data::Float(120.0));
    assert_eq!(total[3], Data::Float(112.0));
    assert_eq!(total[5], Data::Float(112.0));
    assert_eq!(total[6], Data::String("优秀".into()));
    let csv = String::from_utf8(get("csv").await).expect("utf-8");
    let mut reader = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let last = reader
        .records()
        .map(|r| r.expect("row"))
        .find(|r| &r[0] == "合计")
        .expect("合计 row");
    assert_eq!(&last[5], "112");
    assert_eq!(&last[6], "优秀");
}
