//! 积分超市 (TW-7): the rewards ledger kept apart from the score. A closed year's result
//! of 60 and above is credited once; a member asks for a one-time code on `/m/rewards`;
//! a counter (a `shop` account or the secretary) redeems it within the balance and the
//! year's yuan cap (5 yuan a point); spending never lowers a score or a star. Every
//! refusal writes nothing but its audit entry.

use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};
use crate::leave::{member, set_policy};
use crate::pages::Phone;

const INCENTIVE: [&str; 10] = [
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

struct Fx {
    app: TestApp,
    admin: String,
    c: i64,
    b: i64,
    o: i64,
    sec_b: String,
    shop_b: String,
    shop_o: String,
}

/// A committee under `town-2019` for 2025 and 2026 with branches B and O, B's secretary, and a
/// counter account (shop) in each branch.
async fn fx() -> Fx {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let c = app.org(&admin, "C", "committee", None).await;
    let b = app.org(&admin, "B", "branch", Some(c)).await;
    let o = app.org(&admin, "O", "branch", Some(c)).await;
    set_policy(&app, &admin, c, 2025, "town-2019").await;
    set_policy(&app, &admin, c, 2026, "town-2019").await;
    let (_, sec_b) = app.account(&admin, "sec-b", "secretary", Some(b)).await;
    let (_, shop_b) = app.account(&admin, "shop-b", "shop", Some(b)).await;
    let (_, shop_o) = app.account(&admin, "shop-o", "shop", Some(o)).await;
    Fx {
        app,
        admin,
        c,
        b,
        o,
        sec_b,
        shop_b,
        shop_o,
    }
}

/// Items giving `person` exactly 60 points in 2025 under town-2019 (TW-2, TW-3), or
/// 59.5 when `short`: ten incentive items graded 4 (one 3.5), four Party lectures, two
/// general meetings, two months of dues.
async fn score_2025(f: &Fx, person: i64, short: bool) {
    let mut posts: Vec<Value> = INCENTIVE
        .iter()
        .enumerate()
        .map(|(i, code)| {
            let points = if short && i == 0 { json!(3.5) } else { json!(4) };
            json!({"person_id": person, "item": code, "at": "2025-06-01T10:00:00+08:00", "fields": {"points": points}})
        })
        .collect();
    for d in ["2025-02-10", "2025-05-10", "2025-08-10", "2025-11-10"] {
        posts.push(
            json!({"person_id": person, "item": "lecture", "at": format!("{d}T10:00:00+08:00")}),
        );
    }
    for d in ["2025-02-11", "2025-05-11"] {
        posts.push(json!({"person_id": person, "item": "general_meeting", "at": format!("{d}T10:00:00+08:00")}));
    }
    for d in ["2025-01-15", "2025-02-15"] {
        posts.push(
            json!({"person_id": person, "item": "dues", "at": format!("{d}T10:00:00+08:00")}),
        );
    }
    for body in posts {
        let r = f.app.post("/api/v1/items", &f.admin, body.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{body}: {}", r.text);
    }
    let s = score(f, person).await;
    let want = if short { json!(59.5) } else { json!(60) };
    assert_eq!(s["score"]["score"], want, "{s}");
}

async fn score(f: &Fx, person: i64) -> Value {
    let r = f
        .app
        .get(
            &format!("/api/v1/people/{person}/score?year=2025"),
            &f.admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

async fn close_2025(f: &Fx) {
    for org in [f.c, f.b, f.o] {
        f.app.confirmed_year_publicity(org, 2025).await;
    }
    let r = f
        .app
        .post(
            &format!("/api/v1/orgs/{}/years/2025/close", f.c),
            &f.admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

async fn item(f: &Fx, token: &str, org: i64, name: &str, points: Value, yuan: Value) -> i64 {
    let r = f
        .app
        .post(
            &format!("/api/v1/orgs/{org}/rewards/items"),
            token,
            json!({"name": name, "points": points, "yuan": yuan}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_i64().expect("item id")
}

/// A refused page: its status and text.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    text: String,
}

/// The member asks for a code on /m/rewards; the newest code shown, or the refusal page.
async fn ask(phone: &Phone, item: i64) -> Result<String, Refusal> {
    let r = phone
        .post("/m/rewards/code", &[("item", &item.to_string())])
        .await;
    if r.status != StatusCode::SEE_OTHER {
        return Err(Refusal {
            status: r.status,
            text: r.text,
        });
    }
    let page = phone.get("/m/rewards").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let at = page.text.find("data-code=\"").expect("a code on the page") + 11;
    Ok(page.text[at..at + 10].to_owned())
}

async fn redeem(f: &Fx, token: &str, code: &str) -> crate::helpers::Response {
    f.app
        .post("/api/v1/rewards/redeem", token, json!({"code": code}))
        .await
}

async fn rewards(f: &Fx, person: i64) -> Value {
    let r = f
        .app
        .get(&format!("/api/v1/people/{person}/rewards"), &f.admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

async fn redemptions(f: &Fx) -> u64 {
    entity::reward_entry::Entity::find()
        .filter(entity::reward_entry::Column::Kind.eq("redemption"))
        .count(&f.app.state.db)
        .await
        .expect("count")
}

async fn audited(f: &Fx, action: &str) -> Vec<entity::audit_log::Model> {
    entity::audit_log::Entity::find()
        .filter(entity::audit_log::Column::Action.eq(action))
        .all(&f.app.state.db)
        .await
        .expect("audit")
}

async fn sixty(f: &Fx, name: &str, phone_no: &str, openid: &str) -> (i64, Phone) {
    let (p, phone) = member(&f.app, &f.admin, f.b, name, phone_no, openid, "/m/rewards").await;
    score_2025(f, p, false).await;
    (p, phone)
}

/// TW-7: exactly 60 points earn rewards of at most 300 yuan (5 yuan a point), and only
/// once the year is closed: before, the code is refused (audited, nothing written).
#[tokio::test]
async fn tw_7_sixty_points_redeem_at_most_300_yuan_only_after_close() {
    let f = fx().await;
    let (p, phone) = sixty(&f, "张兑换", "13800000701", "o-rw-1").await;
    // 10 points for 60 yuan: 6 yuan a point, so the yuan cap binds before the points.
    let gift = item(&f, &f.sec_b, f.b, "慰问品", json!(10), json!(60)).await;

    // A second member with 60 points, for one 300-yuan item after the close.
    let (_, phone2) = sixty(&f, "李兑换", "13800000702", "o-rw-2").await;
    let early = ask(&phone, gift).await.expect_err("refused before close");
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text);
    assert!(early.text.contains("已结转"), "{}", early.text);
    assert_eq!(audited(&f, "reward_code_refused").await.len(), 1);
    assert_eq!(
        entity::reward_code::Entity::find()
            .count(&f.app.state.db)
            .await
            .expect("codes"),
        0
    );
    let before = rewards(&f, p).await;
    assert_eq!(before["points"], json!(0), "{before}");

    close_2025(&f).await;
    let r = rewards(&f, p).await;
    assert_eq!(r["points"], json!(60), "{r}");
    assert_eq!(r["years"][0]["year"], json!(2025));
    assert_eq!(r["years"][0]["yuan_cap"], json!(300), "{r}");
    assert_eq!(r["years"][0]["rule"], json!("TW-7"));

    for _ in 0..4 {
        let code = ask(&phone, gift).await.expect("code");
        let done = redeem(&f, &f.shop_b, &code).await;
        assert_eq!(done.status, StatusCode::CREATED, "{}", done.text);
    }
    // Two codes asked while 60 yuan of the cap are left: the first takes them.
    let fifth = ask(&phone, gift).await.expect("code");
    let sixth = ask(&phone, gift).await.expect("code");
    assert_ne!(fifth, sixth);
    let done = redeem(&f, &f.shop_b, &fifth).await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.text);
    assert_eq!(done.body["yuan"], json!(60));
    assert_eq!(done.body["balance"], json!(10));
    let over = redeem(&f, &f.shop_b, &sixth).await;
    assert_eq!(over.status, StatusCode::CONFLICT, "{}", over.text);
    assert_eq!(over.body["code"], "rewards_cap", "{}", over.text);
    assert!(
        over.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("60 分 × 每分不超过 5 元 = 300 元，已兑现 300 元，剩余可兑现 0 元"),
        "{}",
        over.text
    );
    assert_eq!(redemptions(&f).await, 5);
    let after = rewards(&f, p).await;
    assert_eq!(after["years"][0]["yuan_spent"], json!(300), "{after}");
    assert_eq!(after["years"][0]["yuan_left"], json!(0));
    assert_eq!(after["points"], json!(10));
    assert!(audited(&f, "reward_redeem_refused").await.iter().any(|a| {
        a.after
            .as_deref()
            .unwrap_or_default()
            .contains("rewards_cap")
    }));
    // The refused code was not used up: nothing was written for it.
    let unused = entity::reward_code::Entity::find()
        .filter(entity::reward_code::Column::Code.eq(sixth.clone()))
        .one(&f.app.state.db)
        .await
        .expect("code")
        .expect("row");
    assert!(unused.used_at.is_none());
    // Exactly 300 yuan is reachable: the other member with 60 points takes one 300-yuan item.
    let big = item(&f, &f.admin, f.b, "学习用品套装", json!(60), json!(300)).await;
    let code = ask(&phone2, big).await.expect("code");
    let r = redeem(&f, &f.sec_b, &code).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["balance"], json!(0));
}

/// TW-7: below 60 (59.5) a closed year earns nothing.
#[tokio::test]
async fn tw_7_below_sixty_earns_no_rewards() {
    let f = fx().await;
    let (p, phone) = member(
        &f.app,
        &f.admin,
        f.b,
        "王差半分",
        "13800000711",
        "o-rw-11",
        "/m/rewards",
    )
    .await;
    score_2025(&f, p, true).await;
    let gift = item(&f, &f.sec_b, f.b, "笔记本", json!(1), json!(5)).await;
    close_2025(&f).await;
    let r = rewards(&f, p).await;
    assert_eq!(r["points"], json!(0), "{r}");
    assert_eq!(r["years"], json!([]));
    let refused = ask(&phone, gift).await.expect_err("nothing to redeem");
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert!(refused.text.contains("59.5"), "{}", refused.text);
    assert_eq!(
        entity::reward_entry::Entity::find()
            .count(&f.app.state.db)
            .await
            .expect("entries"),
        0
    );
}

/// The person's points ledger lines, facts and result row, as stored.
async fn points_ledger(
    f: &Fx,
    p: i64,
) -> (
    Vec<entity::ledger_entry::Model>,
    u64,
    Option<entity::subject_score::Model>,
) {
    let db = &f.app.state.db;
    let lines = entity::ledger_entry::Entity::find()
        .filter(entity::ledger_entry::Column::SubjectKind.eq("person"))
        .filter(entity::ledger_entry::Column::SubjectId.eq(p))
        .all(db)
        .await
        .expect("ledger");
    let facts = entity::fact::Entity::find().count(db).await.expect("facts");
    let row = entity::subject_score::Entity::find()
        .filter(entity::subject_score::Column::SubjectKind.eq("person"))
        .filter(entity::subject_score::Column::SubjectId.eq(p))
        .one(db)
        .await
        .expect("score row");
    (lines, facts, row)
}

/// TW-7: spending never lowers an index, a score or a star.
#[tokio::test]
async fn tw_7_spending_never_lowers_score_or_stars() {
    let f = fx().await;
    let (p, phone) = sixty(&f, "赵不减", "13800000721", "o-rw-21").await;
    let gift = item(&f, &f.sec_b, f.b, "保温杯", json!(20), json!(100)).await;
    close_2025(&f).await;
    let score_before = score(&f, p).await;
    let ledger_before = points_ledger(&f, p).await;
    for _ in 0..3 {
        let code = ask(&phone, gift).await.expect("code");
        let r = redeem(&f, &f.shop_b, &code).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    assert_eq!(rewards(&f, p).await["points"], json!(0));
    let score_after = score(&f, p).await;
    assert_eq!(
        score_before, score_after,
        "score, stars and rating unchanged"
    );
    assert_eq!(score_after["score"]["score"], json!(60));
    let ledger_after = points_ledger(&f, p).await;
    assert_eq!(
        ledger_before, ledger_after,
        "the points ledger and facts are untouched"
    );
}

/// A used code is refused the second time (reward_code_used), and the attempt audited.
#[tokio::test]
async fn tw_7_one_time_code_used_twice_refused_and_audited() {
    let f = fx().await;
    let (_, phone) = sixty(&f, "钱一次", "13800000731", "o-rw-31").await;
    let gift = item(&f, &f.sec_b, f.b, "雨伞", json!(5), json!(25)).await;
    close_2025(&f).await;
    let code = ask(&phone, gift).await.expect("code");
    let first = redeem(&f, &f.shop_b, &code).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let second = redeem(&f, &f.sec_b, &code).await;
    assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.text);
    assert_eq!(second.body["code"], "reward_code_used");
    assert_eq!(second.body["title"], "兑换码已使用");
    assert_eq!(redemptions(&f).await, 1);
    let refusals = audited(&f, "reward_redeem_refused").await;
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].actor_name, "sec-b");
    assert!(
        refusals[0]
            .after
            .as_deref()
            .unwrap_or_default()
            .contains("reward_code_used")
    );
    assert_eq!(audited(&f, "reward_redeem").await.len(), 1);
}

/// Two counters typing one code at once: one redemption.
#[tokio::test]
async fn tw_7_concurrent_redemption_of_one_code_counts_once() {
    let f = fx().await;
    let (p, phone) = sixty(&f, "孙并发", "13800000741", "o-rw-41").await;
    let gift = item(&f, &f.sec_b, f.b, "台历", json!(10), json!(50)).await;
    close_2025(&f).await;
    for _ in 0..3 {
        let code = ask(&phone, gift).await.expect("code");
        let (a, b) = tokio::join!(redeem(&f, &f.shop_b, &code), redeem(&f, &f.sec_b, &code));
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::CREATED, StatusCode::CONFLICT],
            "{} / {}",
            a.text,
            b.text
        );
        let loser = if a.status == StatusCode::CONFLICT {
            &a
        } else {
            &b
        };
        assert_eq!(loser.body["code"], "reward_code_used", "{}", loser.text);
    }
    assert_eq!(redemptions(&f).await, 3);
    assert_eq!(rewards(&f, p).await["points"], json!(30));
}

/// Balances never expire unless the organization sets an expiry in years (audited).
#[tokio::test]
async fn tw_7_balance_expires_only_when_org_sets_expiry() {
    let f = fx().await;
    let (p, phone) = sixty(&f, "周有效", "13800000751", "o-rw-51").await;
    let gift = item(&f, &f.sec_b, f.b, "书籍", json!(10), json!(50)).await;
    close_2025(&f).await;
    let shanghai = |y, m, d| {
        use chrono::TimeZone;
        chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(y, m, d, 0, 0, 0)
            .single()
            .expect("time")
            .with_timezone(&chrono::Utc)
    };
    // Years later, with no expiry set: still there.
    f.app.state.clock.set(shanghai(2031, 6, 1));
    assert_eq!(rewards(&f, p).await["points"], json!(60));
    assert!(ask(&phone, gift).await.is_ok());

    // The committee sets 1 year: a 2025 result lapses at the start of 2027.
    let set = f
        .app
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/orgs/{}/rewards/settings", f.c),
            Some(&f.admin),
            Some(json!({"expiry_years": 1, "reason": "镇党委决定兑换积分有效期一年"})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    let audit = audited(&f, "reward_expiry_set").await;
    assert_eq!(audit.len(), 1);
    assert!(
        audit[0]
            .after
            .as_deref()
            .unwrap_or_default()
            .contains("有效期一年")
    );
    let got = f
        .app
        .get(&format!("/api/v1/orgs/{}/rewards/settings", f.b), &f.admin)
        .await;
    assert_eq!(
        got.body["expiry_years"],
        json!(1),
        "inherited: {}",
        got.text
    );

    f.app.state.clock.set(shanghai(2026, 12, 31));
    let r = rewards(&f, p).await;
    assert_eq!(r["points"], json!(60), "{r}");
    assert_eq!(r["years"][0]["expired"], json!(false));
    let code = ask(&phone, gift).await.expect("code before the expiry");

    // (A second past the boundary: the test clock keeps whole milliseconds.)
    f.app
        .state
        .clock
        .set(shanghai(2027, 1, 1) + chrono::Duration::seconds(1));
    let r = rewards(&f, p).await;
    assert_eq!(r["points"], json!(0), "{r}");
    assert_eq!(r["years"][0]["expired"], json!(true));
    let refused = ask(&phone, gift).await.expect_err("expired");
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.text.contains("有效期"), "{}", refused.text);
    // A code asked before the expiry is refused at the counter after it.
    f.app
        .state
        .clock
        .set(shanghai(2026, 12, 31) + chrono::Duration::minutes(5));
    let code2 = ask(&phone, gift).await.expect("code before the expiry");
    f.app
        .state
        .clock
        .set(shanghai(2027, 1, 1) + chrono::Duration::seconds(1));
    let _ = code;
    let late = redeem(&f, &f.shop_b, &code2).await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.text);
    assert_eq!(late.body["code"], "reward_code_expired", "{}", late.text);
    assert_eq!(redemptions(&f).await, 0);

    // An invalid setting is refused and writes nothing.
    let bad = f
        .app
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/orgs/{}/rewards/settings", f.c),
            Some(&f.admin),
            Some(json!({"expiry_years": 0, "reason": "x"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert_eq!(audited(&f, "reward_expiry_set").await.len(), 1);
}

/// A counter of another branch cannot redeem (the same answer as a forged code), a shop
/// account reads nothing else, and the right counter still can.
#[tokio::test]
async fn tw_7_counter_out_of_scope_refused() {
    let f = fx().await;
    let (p, phone) = sixty(&f, "吴范围", "13800000761", "o-rw-61").await;
    let gift = item(&f, &f.sec_b, f.b, "茶杯", json!(10), json!(50)).await;
    close_2025(&f).await;
    let code = ask(&phone, gift).await.expect("code");
    let other = redeem(&f, &f.shop_o, &code).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "{}", other.text);
    assert_eq!(other.body["code"], "reward_code_invalid");
    let check = f
        .app
        .post("/api/v1/rewards/check", &f.shop_o, json!({"code": code}))
        .await;
    assert_eq!(check.status, StatusCode::NOT_FOUND);
    assert_eq!(redemptions(&f).await, 0);
    assert_eq!(audited(&f, "reward_redeem_refused").await.len(), 1);
    // A shop account reads no people, scores or catalogues.
    for path in [
        format!("/api/v1/people/{p}"),
        format!("/api/v1/people/{p}/rewards"),
        format!("/api/v1/orgs/{}/rewards/items", f.b),
    ] {
        let r = f.app.get(&path, &f.shop_b).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.text);
    }
    let add = f
        .app
        .post(
            &format!("/api/v1/orgs/{}/rewards/items", f.b),
            &f.shop_b,
            json!({"name": "x", "points": 1, "yuan": 1}),
        )
        .await;
    assert_eq!(add.status, StatusCode::FORBIDDEN);
    let check = f
        .app
        .post("/api/v1/rewards/check", &f.shop_b, json!({"code": code}))
        .await;
    assert_eq!(check.status, StatusCode::OK, "{}", check.text);
    assert_eq!(check.body["item"], "茶杯");
    assert_eq!(
        check.body["member"],
        vanguard::org::mask_name("吴范围"),
        "masked: {}",
        check.text
    );
    let r = redeem(&f, &f.shop_b, &code).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

/// Beyond the balance: refused when asking and at the counter; nothing written.
#[tokio::test]
async fn tw_7_redemption_beyond_balance_refused() {
    let f = fx().await;
    let (p, phone) = sixty(&f, "郑余额", "13800000771", "o-rw-71").await;
    let half = item(&f, &f.sec_b, f.b, "电饭煲", json!(40), json!(200)).await;
    let too_much = item(&f, &f.sec_b, f.b, "自行车", json!(61), json!(300)).await;
    close_2025(&f).await;
    let refused = ask(&phone, too_much).await.expect_err("beyond the balance");
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.text.contains("61"), "{}", refused.text);
    let first = ask(&phone, half).await.expect("code");
    let second = ask(&phone, half).await.expect("code");
    assert_eq!(
        redeem(&f, &f.shop_b, &first).await.status,
        StatusCode::CREATED
    );
    let r = redeem(&f, &f.shop_b, &second).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["code"], "rewards_balance", "{}", r.text);
    assert_eq!(redemptions(&f).await, 1);
    assert_eq!(rewards(&f, p).await["points"], json!(20));
    // At most five unused codes at once.
    let small = item(&f, &f.sec_b, f.b, "铅笔", json!(1), json!(1)).await;
    for _ in 0..4 {
        ask(&phone, small).await.expect("code");
    }
    let sixth = ask(&phone, small).await.expect_err("too many live codes");
    assert_eq!(
        sixth.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        sixth.text
    );
    assert!(
        sixth.text.contains("待使用的兑换码已有 5 个"),
        "{}",
        sixth.text
    );
    assert!(audited(&f, "reward_redeem_refused").await.iter().any(|a| {
        a.after
            .as_deref()
            .unwrap_or_default()
            .contains("rewards_balance")
    }));
}

/// A forged or mistyped code: refused (reward_code_invalid), audited, nothing written.
#[tokio::test]
async fn tw_7_forged_code_refused() {
    let f = fx().await;
    let (_, phone) = sixty(&f, "冯伪造", "13800000781", "o-rw-81").await;
    let gift = item(&f, &f.sec_b, f.b, "毛巾", json!(5), json!(20)).await;
    close_2025(&f).await;
    let code = ask(&phone, gift).await.expect("code");
    // One digit changed (the check digit catches it), a well-formed code nobody asked
    // for, and garbage.
    let mut wrong: Vec<char> = code.chars().collect();
    wrong[0] = if wrong[0] == '9' { '8' } else { '9' };
    let mistyped: String = wrong.into_iter().collect();
    let mut forged = None;
    for n in 100_000_000u32..100_000_100 {
        let body = n.to_string();
        for check in 0..10 {
            let candidate = format!("{body}{check}");
            if vanguard::rewards::codes::normalize(&candidate).is_some() && candidate != code {
                forged = Some(candidate);
                break;
            }
        }
        if forged.is_some() {
            break;
        }
    }
    let forged = forged.expect("a well-formed code");
    for typed in [mistyped.as_str(), forged.as_str(), "abc", ""] {
        let r = redeem(&f, &f.shop_b, typed).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{typed}: {}", r.text);
        assert_eq!(r.body["code"], "reward_code_invalid");
        assert_eq!(r.body["title"], "兑换码无效");
    }
    assert_eq!(redemptions(&f).await, 0);
    assert_eq!(audited(&f, "reward_redeem_refused").await.len(), 4);
    // Typed with spaces as shown on the phone, the real code works.
    let spaced = vanguard::rewards::codes::spaced(&code);
    let r = redeem(&f, &f.shop_b, &spaced).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

/// A counter guessing codes: ten refused codes (checks and redemptions) in ten minutes
/// lock that account, even for a real code, with 429 and nothing written; another
/// counter still redeems it.
#[tokio::test]
async fn tw_7_counter_guessing_codes_is_locked_after_ten_refusals() {
    let f = fx().await;
    let (_, phone) = sixty(&f, "韩猜码", "13800000791", "o-rw-91").await;
    let gift = item(&f, &f.sec_b, f.b, "茶杯", json!(5), json!(20)).await;
    close_2025(&f).await;
    let code = ask(&phone, gift).await.expect("code");
    let mut wrong: Vec<char> = code.chars().collect();
    wrong[0] = if wrong[0] == '9' { '8' } else { '9' };
    let mistyped: String = wrong.into_iter().collect();
    for n in 0..10 {
        let r = if n % 2 == 0 {
            f.app
                .post(
                    "/api/v1/rewards/check",
                    &f.shop_b,
                    json!({"code": mistyped}),
                )
                .await
        } else {
            redeem(&f, &f.shop_b, &mistyped).await
        };
        assert_eq!(r.status, StatusCode::NOT_FOUND, "attempt {n}: {}", r.text);
        assert_eq!(r.body["code"], "reward_code_invalid");
    }
    assert_eq!(audited(&f, "reward_check_refused").await.len(), 5);
    assert_eq!(audited(&f, "reward_redeem_refused").await.len(), 5);
    // The eleventh attempt, with the real code, is refused before the code is read.
    for r in [
        f.app
            .post("/api/v1/rewards/check", &f.shop_b, json!({"code": code}))
            .await,
        redeem(&f, &f.shop_b, &code).await,
    ] {
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
        assert_eq!(r.body["code"], "rate_limited");
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("输错兑换码已达 10 次"),
            "{}",
            r.text
        );
    }
    assert_eq!(redemptions(&f).await, 0, "nothing redeemed");
    assert_eq!(
        audited(&f, "reward_redeem_refused").await.len(),
        5,
        "the lock's refusals are not logged again"
    );
    // Another counter of the branch redeems the real code.
    let r = redeem(&f, &f.sec_b, &code).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(redemptions(&f).await, 1);
}

/// An unknown item, another branch's item, a retired one, a malformed one: refused.
#[tokio::test]
async fn tw_7_unknown_item_refused() {
    let f = fx().await;
    let (_, phone) = sixty(&f, "陈物品", "13800000791", "o-rw-91").await;
    let mine = item(&f, &f.sec_b, f.b, "围巾", json!(10), json!(50)).await;
    let theirs = item(&f, &f.admin, f.o, "手套", json!(10), json!(50)).await;
    close_2025(&f).await;
    for id in [999_999, theirs] {
        let r = ask(&phone, id).await.expect_err("unknown item");
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{id}: {}", r.text);
    }
    let code = ask(&phone, mine).await.expect("code");
    let retired = f
        .app
        .post(
            &format!("/api/v1/rewards/items/{mine}/retire"),
            &f.sec_b,
            json!({"reason": "库存已无"}),
        )
        .await;
    assert_eq!(retired.status, StatusCode::OK, "{}", retired.text);
    assert_eq!(retired.body["retired"], json!(true));
    let r = ask(&phone, mine).await.expect_err("retired");
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = redeem(&f, &f.shop_b, &code).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["code"], "reward_item_retired");
    // Retired, not deleted: still listed with `all`.
    let list = f
        .app
        .get(
            &format!("/api/v1/orgs/{}/rewards/items?all=true", f.b),
            &f.sec_b,
        )
        .await;
    assert_eq!(list.body.as_array().map(Vec::len), Some(1), "{}", list.text);
    let bad = f
        .app
        .post(
            &format!("/api/v1/orgs/{}/rewards/items", f.b),
            &f.sec_b,
            json!({"name": " ", "points": 0, "yuan": -1}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert_eq!(bad.body["errors"].as_array().map(Vec::len), Some(3));
    // The catalogue is the secretary's (and admins'): a recorder (组织委员) may not add.
    let (_, recorder) = f
        .app
        .account(&f.admin, "rec-b", "recorder", Some(f.b))
        .await;
    let r = f
        .app
        .post(
            &format!("/api/v1/orgs/{}/rewards/items", f.b),
            &recorder,
            json!({"name": "x", "points": 1, "yuan": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // The secretary of B cannot keep O's catalogue.
    let other = f
        .app
        .post(
            &format!("/api/v1/orgs/{}/rewards/items", f.o),
            &f.sec_b,
            json!({"name": "x", "points": 1, "yuan": 1}),
        )
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert_eq!(redemptions(&f).await, 0);
}

/// `/api/v1/policies` shows the `[rewards]` of town-2019 and none for xihu-2017.
#[tokio::test]
async fn tw_7_policy_shows_rewards_section() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let r = app.get("/api/v1/policies/town-2019", &admin).await;
    assert_eq!(r.body["rewards"]["min_score"], json!("60"), "{}", r.text);
    assert_eq!(r.body["rewards"]["yuan_per_point"], json!("5"));
    assert_eq!(r.body["rewards"]["index"], json!("vanguard"));
    let r = app.get("/api/v1/policies/xihu-2017", &admin).await;
    assert_eq!(r.body["rewards"], Value::Null);
}

/// The counter page (phone) and the catalogue page: code → check → confirm → done.
#[tokio::test]
async fn tw_7_console_counter_and_catalogue() {
    let f = fx().await;
    let (_, phone) = sixty(&f, "黄柜台", "13800000801", "o-rw-101").await;
    close_2025(&f).await;
    let desk = crate::console::Desk::new(&f.app);
    let r = desk.login("sec-b", "Passw0rd-for-tests").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let cat = desk.get("/console/rewards").await;
    assert_eq!(cat.status, StatusCode::OK, "{}", cat.text);
    assert!(
        cat.text.contains("60 分") && cat.text.contains("5 元"),
        "{}",
        cat.text
    );
    let fid = "rw-form-1";
    let added = desk
        .post_from(
            None,
            "/console/rewards/items",
            &[
                ("org", &f.b.to_string()),
                ("name", "党史读本"),
                ("points", "10"),
                ("yuan", "30"),
                ("form_id", fid),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text);
    let bad = desk
        .post_from(
            None,
            "/console/rewards/items",
            &[
                ("org", &f.b.to_string()),
                ("name", ""),
                ("points", "x"),
                ("yuan", "1"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("兑换积分须为"), "{}", bad.text);
    let id = entity::reward_item::Entity::find()
        .one(&f.app.state.db)
        .await
        .expect("item")
        .expect("row")
        .id;
    let code = ask(&phone, id).await.expect("code");
    // A shop account lands on the counter.
    let shop = crate::console::Desk::new(&f.app);
    let r = shop.login("shop-b", "Passw0rd-for-tests").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let home = shop.get("/console/").await;
    assert_eq!(home.location.as_deref(), Some("/console/redeem"));
    let counter = shop.get("/console/redeem").await;
    assert_eq!(counter.status, StatusCode::OK, "{}", counter.text);
    assert!(
        !counter.text.contains("/console/people"),
        "a shop sees only its counter"
    );
    // Typed or scanned: the camera reader is served, and the page's policy lets it run.
    assert!(counter.text.contains("/assets/reward-scan.js"));
    let csp = counter
        .headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(csp.contains("worker-src 'self' blob:"), "{csp}");
    assert_eq!(
        shop.get("/assets/reward-scan.js").await.status,
        StatusCode::OK
    );
    let shown = phone.get("/m/rewards").await;
    assert!(
        shown.text.contains("<svg") && shown.text.contains("兑换码二维码"),
        "{}",
        shown.text
    );
    let check = shop
        .post_from(None, "/console/redeem", &[("code", &code)])
        .await;
    assert_eq!(check.status, StatusCode::OK, "{}", check.text);
    assert!(
        check.text.contains("党史读本") && check.text.contains(&vanguard::org::mask_name("黄柜台")),
        "{}",
        check.text
    );
    assert_eq!(redemptions(&f).await, 0, "the check writes nothing");
    let done = shop
        .post_from(
            None,
            "/console/redeem",
            &[("code", &code), ("confirm", "1")],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(
        done.text.contains("兑换完成") && done.text.contains("50"),
        "{}",
        done.text
    );
    let again = shop
        .post_from(
            None,
            "/console/redeem",
            &[("code", &code), ("confirm", "1")],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.text.contains("已使用"), "{}", again.text);
    assert_eq!(redemptions(&f).await, 1);
    let mine = phone.get("/m/rewards").await;
    assert!(
        mine.text.contains("党史读本") && mine.text.contains("50"),
        "{}",
        mine.text
    );
    // The expiry is an admin's setting (with a reason, audited); the secretary sees it.
    let cat = desk.get("/console/rewards").await;
    assert!(cat.text.contains("兑换积分不过期") && !cat.text.contains("/console/rewards/expiry"));
    let admin = crate::console::Desk::new(&f.app);
    f.app
        .operator_account("chief", vanguard::auth::Role::Admin, None)
        .await;
    let r = admin.login("chief", crate::console::PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let pick = admin.get("/console/rewards").await;
    assert!(
        pick.text.contains(&format!("/console/rewards?org={}", f.b)),
        "{}",
        pick.text
    );
    let org = f.b.to_string();
    let bad = admin
        .post(
            "/console/rewards/expiry",
            &[("org", &org), ("expiry_years", "2"), ("reason", "")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("请填写设置原因"), "{}", bad.text);
    let ok = admin
        .post(
            "/console/rewards/expiry",
            &[
                ("org", &org),
                ("expiry_years", "2"),
                ("reason", "支委会决定"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    assert!(
        desk.get("/console/rewards")
            .await
            .text
            .contains("2 年内有效")
    );
    assert_eq!(audited(&f, "reward_expiry_set").await.len(), 1);
}

/// Two counters redeeming two different codes of one member at once: the balance is
/// read under the member's lock, so together they never exceed it.
#[tokio::test]
async fn tw_7_concurrent_redemptions_of_two_codes_stay_within_the_balance() {
    let f = fx().await;
    let (p, phone) = sixty(&f, "何同时", "13800000811", "o-rw-111").await;
    let big = item(&f, &f.sec_b, f.b, "微波炉", json!(40), json!(200)).await;
    close_2025(&f).await;
    let one = ask(&phone, big).await.expect("code");
    let two = ask(&phone, big).await.expect("code");
    let (a, b) = tokio::join!(redeem(&f, &f.shop_b, &one), redeem(&f, &f.sec_b, &two));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{} / {}",
        a.text,
        b.text
    );
    let loser = if a.status == StatusCode::CONFLICT {
        &a
    } else {
        &b
    };
    assert_eq!(loser.body["code"], "rewards_balance", "{}", loser.text);
    assert_eq!(redemptions(&f).await, 1);
    assert_eq!(rewards(&f, p).await["points"], json!(20));
}
