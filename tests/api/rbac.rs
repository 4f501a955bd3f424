//! Authorization, endpoint by endpoint. The test walks `/api/openapi.json`: every
//! operation must declare an authorization rule (its `security`) and have a scope
//! case here; each case is then run: no token, a tampered token and an expired
//! token get 401; a secretary reaching into another branch gets 403; an auditor's
//! write gets 403; and the role meant to use it is not refused.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{JWT_SECRET, TestApp, spawn_app};

struct Fixture {
    admin: String,
    /// Secretary of branch A.
    sec_a: String,
    /// Auditor over the committee C (A and B).
    auditor: String,
    /// Security admin over C.
    security: String,
    expired: String,
    c: i64,
    a: i64,
    b: i64,
    person_b: i64,
    account_b: i64,
    fact_b: i64,
    activity_b: i64,
    session_b: i64,
    /// The committee C's assessment, branch B's scorecard and a recorded draw.
    assessment: i64,
    scorecard_b: i64,
    draw: i64,
}

async fn fixture(app: &TestApp) -> Fixture {
    let admin = app.admin_token().await;
    let c = app.org(&admin, "C", "committee", None).await;
    let a = app.org(&admin, "A", "branch", Some(c)).await;
    let b = app.org(&admin, "B", "branch", Some(c)).await;
    let (_, sec_a) = app.account(&admin, "sec-a", "secretary", Some(a)).await;
    let (account_b, _) = app.account(&admin, "sec-b", "secretary", Some(b)).await;
    let security = app
        .operator_account("sec-admin-c", vanguard::auth::Role::SecurityAdmin, Some(c))
        .await;
    // Auditors are the security admin's to create (三员分立).
    let (_, auditor) = app.account(&security, "aud-c", "auditor", Some(c)).await;
    let person_b = app.person(&admin, "乙", "13800138002", b, "member").await;
    app.person(&admin, "甲", "13800138001", a, "member").await;
    let item = app
        .post("/api/v1/items", &admin, json!({"person_id": person_b, "item": "study", "at": "2026-03-01T10:00:00+08:00", "fields": {"points": 2}}))
        .await;
    assert_eq!(item.status, StatusCode::CREATED, "{}", item.text);
    let fact_b = item.body["fact_id"].as_i64().expect("fact id");
    let start = chrono::Utc::now() + chrono::Duration::minutes(5);
    let act = app
        .post("/api/v1/activities", &admin, json!({"org_id": b, "kind": "fixed_day", "title": "党日", "starts_at": start.to_rfc3339(), "ends_at": (start + chrono::Duration::hours(1)).to_rfc3339()}))
        .await;
    assert_eq!(act.status, StatusCode::CREATED, "{}", act.text);
    let activity_b = act.body["id"].as_i64().expect("activity");
    let ses = app
        .request(
            Method::POST,
            &format!("/api/v1/activities/{activity_b}/sessions"),
            Some(&admin),
            None,
        )
        .await;
    let session_b = ses.body["id"].as_i64().expect("session");
    let sid = {
        use base64::Engine;
        let payload = sec_a.split('.').nth(1).unwrap_or_default();
        let v: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap_or_default(),
        )
        .unwrap_or_default();
        (
            v["sub"]
                .as_str()
                .unwrap_or_default()
                .parse::<i64>()
                .unwrap_or_default(),
            v["sid"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let expired = vanguard::auth::token::TokenKeys::new(JWT_SECRET.as_bytes(), 60, 3600)
        .issue(
            sid.0,
            &sid.1,
            chrono::Utc::now() - chrono::Duration::hours(2),
        )
        .expect("issue");
    let (assessment, scorecard_b, draw) = scorecard_fixture(app, &admin, c, b).await;
    Fixture {
        assessment,
        scorecard_b,
        draw,
        admin,
        sec_a,
        auditor,
        security,
        expired,
        c,
        a,
        b,
        person_b,
        account_b,
        fact_b,
        activity_b,
        session_b,
    }
}

/// The committee's assessment (scorecards of A and B) and a recorded draw.
async fn scorecard_fixture(app: &TestApp, admin: &str, c: i64, b: i64) -> (i64, i64, i64) {
    use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, EntityTrait};
    let r = app
        .post(
            "/api/v1/assessments",
            admin,
            json!({"org_id": c, "year": 2026, "self_until": "2027-01-15", "review_until": "2027-02-28"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let assessment = r.body["id"].as_i64().expect("assessment");
    let card = r.body["scorecards"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["org_id"] == b))
        .and_then(|s| s["id"].as_i64())
        .expect("scorecard of B");
    let draw = entity::assessment_draw::Entity::insert(entity::assessment_draw::ActiveModel {
        id: NotSet,
        assessment_id: Set(assessment),
        seed: Set("00".to_owned()),
        n: Set(1),
        candidates: Set(format!("[{b}]")),
        result: Set(format!("[{b}]")),
        drawn_by: Set(None),
        drawn_by_name: Set("admin".to_owned()),
        drawn_at: Set(chrono::Utc::now()),
    })
    .exec(&app.state.db)
    .await
    .expect("draw")
    .last_insert_id;
    (assessment, card, draw)
}

#[derive(Clone, Copy, Debug)]
enum Who {
    Admin,
    SecretaryA,
    Auditor,
    Security,
}

/// One operation's scope case: how to call it, and who must be refused or let through.
struct Case {
    method: Method,
    path: String,
    body: Option<Value>,
    /// Must answer 403 to these.
    refused: Vec<Who>,
    /// Must not answer 401/403 to this one.
    allowed: Option<Who>,
}

fn case(
    method: Method,
    path: String,
    body: Option<Value>,
    refused: Vec<Who>,
    allowed: Option<Who>,
) -> Case {
    Case {
        method,
        path,
        body,
        refused,
        allowed,
    }
}

/// The scope case of every operation, keyed by "METHOD /path/{template}".
fn cases(f: &Fixture) -> BTreeMap<String, Case> {
    use Who::*;
    let (a, b, c, pb, ab, fb) = (f.a, f.b, f.c, f.person_b, f.account_b, f.fact_b);
    let (act, ses) = (f.activity_b, f.session_b);
    let mut m = BTreeMap::new();
    let mut add = |key: &str, c: Case| {
        m.insert(key.to_owned(), c);
    };
    let person_body =
        json!({"name": "新人", "phone": "13800138099", "org_id": b, "role": "member"});
    // Logging out is checked in auth.rs: here it would end the fixture's own session.
    add(
        "POST /api/v1/auth/logout",
        case(
            Method::POST,
            "/api/v1/auth/logout".into(),
            None,
            vec![],
            None,
        ),
    );
    add(
        "GET /api/v1/auth/me",
        case(
            Method::GET,
            "/api/v1/auth/me".into(),
            None,
            vec![],
            Some(SecretaryA),
        ),
    );
    add(
        "POST /api/v1/auth/password",
        case(
            Method::POST,
            "/api/v1/auth/password".into(),
            Some(json!({"current_password": "x", "new_password": "y"})),
            vec![],
            None,
        ),
    );
    add(
        "GET /api/v1/accounts",
        case(
            Method::GET,
            "/api/v1/accounts".into(),
            None,
            vec![SecretaryA],
            Some(Auditor),
        ),
    );
    add(
        "POST /api/v1/accounts",
        case(
            Method::POST,
            "/api/v1/accounts".into(),
            Some(json!({"username": "new-sec", "role": "secretary", "org_id": b})),
            vec![SecretaryA, Auditor],
            Some(Admin),
        ),
    );
    add(
        "GET /api/v1/accounts/{account_id}",
        case(
            Method::GET,
            format!("/api/v1/accounts/{ab}"),
            None,
            vec![SecretaryA],
            Some(Auditor),
        ),
    );
    add(
        "PATCH /api/v1/accounts/{account_id}",
        case(
            Method::PATCH,
            format!("/api/v1/accounts/{ab}"),
            Some(json!({"display_name": "乙书记"})),
            vec![SecretaryA, Auditor],
            Some(Admin),
        ),
    );
    add(
        "POST /api/v1/accounts/{account_id}/reset-password",
        case(
            Method::POST,
            format!("/api/v1/accounts/{ab}/reset-password"),
            None,
            vec![SecretaryA, Auditor, Admin],
            Some(Security),
        ),
    );
    add(
        "GET /api/v1/orgs",
        case(
            Method::GET,
            format!("/api/v1/orgs?parent_id={c}"),
            None,
            vec![SecretaryA],
            Some(Auditor),
        ),
    );
    add(
        "POST /api/v1/orgs",
        case(
            Method::POST,
            "/api/v1/orgs".into(),
            Some(json!({"name": "新支部", "code": "NEW", "kind": "group", "parent_id": b})),
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "GET /api/v1/orgs/{org_id}",
        case(
            Method::GET,
            format!("/api/v1/orgs/{b}"),
            None,
            vec![SecretaryA],
            Some(Auditor),
        ),
    );
    add(
        "PATCH /api/v1/orgs/{org_id}",
        case(
            Method::PATCH,
            format!("/api/v1/orgs/{b}"),
            Some(json!({"name": "改名"})),
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "GET /api/v1/people",
        case(
            Method::GET,
            format!("/api/v1/people?org_id={b}"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    add(
        "POST /api/v1/people",
        case(
            Method::POST,
            "/api/v1/people".into(),
            Some(person_body),
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "GET /api/v1/people/{person_id}",
        case(
            Method::GET,
            format!("/api/v1/people/{pb}"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    add(
        "PATCH /api/v1/people/{person_id}",
        case(
            Method::PATCH,
            format!("/api/v1/people/{pb}"),
            Some(json!({"name": "乙乙"})),
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "GET /api/v1/people/{person_id}/contact",
        case(
            Method::GET,
            format!("/api/v1/people/{pb}/contact"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    add(
        "POST /api/v1/people/{person_id}/role",
        case(
            Method::POST,
            format!("/api/v1/people/{pb}/role"),
            Some(json!({"role": "probationary"})),
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "POST /api/v1/people/{person_id}/transfer",
        case(
            Method::POST,
            format!("/api/v1/people/{pb}/transfer"),
            Some(json!({"to_org_id": a})),
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "POST /api/v1/people/{person_id}/status",
        case(
            Method::POST,
            format!("/api/v1/people/{pb}/status"),
            Some(json!({"status": "deceased", "reason": "病故"})),
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "GET /api/v1/people/{person_id}/history",
        case(
            Method::GET,
            format!("/api/v1/people/{pb}/history"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    add(
        "GET /api/v1/people/{person_id}/exemptions",
        case(
            Method::GET,
            format!("/api/v1/people/{pb}/exemptions"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    add(
        "POST /api/v1/people/{person_id}/exemptions",
        case(
            Method::POST,
            format!("/api/v1/people/{pb}/exemptions"),
            Some(
                json!({"year": 2026, "reason": "病", "approver": "区委", "approved_on": "2026-01-01"}),
            ),
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "DELETE /api/v1/people/{person_id}/wechat",
        case(
            Method::DELETE,
            format!("/api/v1/people/{pb}/wechat"),
            None,
            vec![SecretaryA, Auditor, Security],
            None,
        ),
    );
    add(
        "POST /api/v1/imports/roster",
        case(
            Method::POST,
            "/api/v1/imports/roster?dry_run=true".into(),
            None,
            vec![SecretaryA, Auditor, Security],
            None,
        ),
    );
    add(
        "GET /api/v1/imports/roster/template.csv",
        case(
            Method::GET,
            "/api/v1/imports/roster/template.csv".into(),
            None,
            vec![],
            Some(SecretaryA),
        ),
    );
    add(
        "GET /api/v1/imports/roster/template.xlsx",
        case(
            Method::GET,
            "/api/v1/imports/roster/template.xlsx".into(),
            None,
            vec![],
            Some(Auditor),
        ),
    );
    let when = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339();
    add(
        "GET /api/v1/activities",
        case(
            Method::GET,
            format!("/api/v1/activities?org_id={b}"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    add(
        "POST /api/v1/activities",
        case(
            Method::POST,
            "/api/v1/activities".into(),
            Some(
                json!({"org_id": b, "kind": "meeting", "title": "支委会", "starts_at": when, "ends_at": when, "points": 1}),
            ),
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "GET /api/v1/activities/{activity_id}",
        case(
            Method::GET,
            format!("/api/v1/activities/{act}"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    add(
        "GET /api/v1/activities/{activity_id}/attendance",
        case(
            Method::GET,
            format!("/api/v1/activities/{act}/attendance"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    add(
        "POST /api/v1/activities/{activity_id}/checkins",
        case(
            Method::POST,
            format!("/api/v1/activities/{act}/checkins"),
            Some(json!({"person_ids": [pb], "method": "manual", "reason": "无智能手机"})),
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "POST /api/v1/activities/{activity_id}/corrections",
        case(
            Method::POST,
            format!("/api/v1/activities/{act}/corrections"),
            Some(json!({"person_id": pb, "action": "add", "at": when, "reason": "申诉"})),
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "POST /api/v1/activities/{activity_id}/sessions",
        case(
            Method::POST,
            format!("/api/v1/activities/{act}/sessions"),
            None,
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "GET /api/v1/sessions/{session_id}",
        case(
            Method::GET,
            format!("/api/v1/sessions/{ses}"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    add(
        "GET /api/v1/sessions/{session_id}/attendance",
        case(
            Method::GET,
            format!("/api/v1/sessions/{ses}/attendance"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    add(
        "GET /api/v1/sessions/{session_id}/qr",
        case(
            Method::GET,
            format!("/api/v1/sessions/{ses}/qr"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    add(
        "GET /api/v1/sessions/{session_id}/qr.svg",
        case(
            Method::GET,
            format!("/api/v1/sessions/{ses}/qr.svg"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    add(
        "GET /api/v1/sessions/{session_id}/qr.png",
        case(
            Method::GET,
            format!("/api/v1/sessions/{ses}/qr.png"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    // The stream never ends, so only its refusals are checked here.
    add(
        "GET /api/v1/sessions/{session_id}/live",
        case(
            Method::GET,
            format!("/api/v1/sessions/{ses}/live"),
            None,
            vec![SecretaryA, Security],
            None,
        ),
    );
    add(
        "POST /api/v1/sessions/{session_id}/close",
        case(
            Method::POST,
            format!("/api/v1/sessions/{ses}/close"),
            None,
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "GET /api/v1/activities/{activity_id}/materials",
        case(
            Method::GET,
            format!("/api/v1/activities/{act}/materials"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    add(
        "POST /api/v1/activities/{activity_id}/materials",
        case(
            Method::POST,
            format!("/api/v1/activities/{act}/materials"),
            Some(json!({"title": "补学材料", "body": "学习内容"})),
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "POST /api/v1/items",
        case(
            Method::POST,
            "/api/v1/items".into(),
            Some(
                json!({"person_id": pb, "item": "study", "at": "2026-03-02T10:00:00+08:00", "fields": {"points": 1}}),
            ),
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "GET /api/v1/facts/{fact_id}",
        case(
            Method::GET,
            format!("/api/v1/facts/{fb}"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    add(
        "POST /api/v1/facts/{fact_id}/annul",
        case(
            Method::POST,
            format!("/api/v1/facts/{fb}/annul"),
            Some(json!({"reason": "录入错误"})),
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "GET /api/v1/people/{person_id}/score",
        case(
            Method::GET,
            format!("/api/v1/people/{pb}/score?year=2026"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    add(
        "GET /api/v1/orgs/{org_id}/score",
        case(
            Method::GET,
            format!("/api/v1/orgs/{b}/score?year=2026"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    add(
        "GET /api/v1/orgs/{org_id}/rankings",
        case(
            Method::GET,
            format!("/api/v1/orgs/{b}/rankings?year=2026&period=quarter&n=1"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    add(
        "GET /api/v1/orgs/{org_id}/policy",
        case(
            Method::GET,
            format!("/api/v1/orgs/{b}/policy?year=2026"),
            None,
            vec![SecretaryA],
            Some(Auditor),
        ),
    );
    add(
        "PUT /api/v1/orgs/{org_id}/policy",
        case(
            Method::PUT,
            format!("/api/v1/orgs/{b}/policy"),
            Some(json!({"year": 2026, "policy": "town-2019"})),
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    // 积分超市 (rewards): the catalogue, a member's balance, the counter, the expiry.
    add(
        "GET /api/v1/orgs/{org_id}/rewards/items",
        case(
            Method::GET,
            format!("/api/v1/orgs/{b}/rewards/items"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    add(
        "POST /api/v1/orgs/{org_id}/rewards/items",
        case(
            Method::POST,
            format!("/api/v1/orgs/{b}/rewards/items"),
            Some(json!({"name": "笔记本", "points": 10, "yuan": 50})),
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "POST /api/v1/rewards/items/{item_id}/retire",
        case(
            Method::POST,
            "/api/v1/rewards/items/1/retire".into(),
            Some(json!({"reason": "停产"})),
            vec![Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "GET /api/v1/people/{person_id}/rewards",
        case(
            Method::GET,
            format!("/api/v1/people/{pb}/rewards"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    for key in ["check", "redeem"] {
        add(
            &format!("POST /api/v1/rewards/{key}"),
            case(
                Method::POST,
                format!("/api/v1/rewards/{key}"),
                Some(json!({"code": "0000000000"})),
                vec![Auditor, Security],
                Some(Admin),
            ),
        );
    }
    add(
        "GET /api/v1/orgs/{org_id}/rewards/settings",
        case(
            Method::GET,
            format!("/api/v1/orgs/{b}/rewards/settings"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    add(
        "PUT /api/v1/orgs/{org_id}/rewards/settings",
        case(
            Method::PUT,
            format!("/api/v1/orgs/{b}/rewards/settings"),
            Some(json!({"expiry_years": null, "reason": "测试"})),
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "POST /api/v1/orgs/{org_id}/years/{year}/close",
        case(
            Method::POST,
            format!("/api/v1/orgs/{b}/years/2025/close"),
            None,
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "GET /api/v1/policies",
        case(
            Method::GET,
            "/api/v1/policies".into(),
            None,
            vec![],
            Some(SecretaryA),
        ),
    );
    add(
        "GET /api/v1/policies/{name}",
        case(
            Method::GET,
            "/api/v1/policies/xihu-2017".into(),
            None,
            vec![],
            Some(Auditor),
        ),
    );
    add(
        "GET /api/v1/audit",
        case(
            Method::GET,
            "/api/v1/audit".into(),
            None,
            vec![SecretaryA, Admin],
            Some(Security),
        ),
    );
    // Cases out of a secretary's scope are 404 (tests/api/disputes.rs), like unknown ids.
    add(
        "GET /api/v1/cases",
        case(
            Method::GET,
            "/api/v1/cases".into(),
            None,
            vec![Security],
            Some(SecretaryA),
        ),
    );
    for (key, path, body) in [
        ("GET /api/v1/cases/{case_id}", "/api/v1/cases/1", None),
        ("GET /api/v1/uploads/{upload_id}", "/api/v1/uploads/1", None),
        (
            "POST /api/v1/cases/{case_id}/accept",
            "/api/v1/cases/1/accept",
            Some(json!({"remedy": {"action": "backfill"}})),
        ),
        (
            "POST /api/v1/cases/{case_id}/propose",
            "/api/v1/cases/1/propose",
            Some(json!({"remedy": {"action": "annul"}})),
        ),
        (
            "POST /api/v1/cases/{case_id}/reject",
            "/api/v1/cases/1/reject",
            Some(json!({"reason": "无记录"})),
        ),
    ] {
        let method = if key.starts_with("POST") {
            Method::POST
        } else {
            Method::GET
        };
        let refused = if method == Method::POST {
            vec![Security, Auditor]
        } else {
            vec![Security]
        };
        add(key, case(method, path.into(), body, refused, Some(Admin)));
    }
    add(
        "POST /api/v1/sessions/{session_id}/projector",
        case(
            Method::POST,
            format!("/api/v1/sessions/{ses}/projector"),
            None,
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    add(
        "GET /api/v1/activities/{activity_id}/attendance/export",
        case(
            Method::GET,
            format!("/api/v1/activities/{act}/attendance/export?format=csv"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    add(
        "GET /api/v1/orgs/{org_id}/register/export",
        case(
            Method::GET,
            format!("/api/v1/orgs/{b}/register/export"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    // Member cards: the number is read with people.read; the signed code and every
    // change need activity.write (who checks members in prints their cards).
    add(
        "GET /api/v1/people/{person_id}/card",
        case(
            Method::GET,
            format!("/api/v1/people/{pb}/card"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    for (key, path, body) in [
        (
            "POST /api/v1/people/{person_id}/card",
            format!("/api/v1/people/{pb}/card"),
            None,
        ),
        (
            "POST /api/v1/people/{person_id}/card/reissue",
            format!("/api/v1/people/{pb}/card/reissue"),
            Some(json!({"reason": "卡片遗失"})),
        ),
        (
            "POST /api/v1/people/{person_id}/card/revoke",
            format!("/api/v1/people/{pb}/card/revoke"),
            Some(json!({"reason": "卡片遗失"})),
        ),
        (
            "POST /api/v1/orgs/{org_id}/cards",
            format!("/api/v1/orgs/{b}/cards"),
            None,
        ),
        (
            "POST /api/v1/sessions/{session_id}/cards",
            format!("/api/v1/sessions/{ses}/cards"),
            Some(json!({"number": "123456786"})),
        ),
    ] {
        add(
            key,
            case(
                Method::POST,
                path,
                body,
                vec![SecretaryA, Auditor, Security],
                Some(Admin),
            ),
        );
    }
    scorecard_cases(f, &mut add);
    add(
        "GET /api/v1/people/{person_id}/card.svg",
        case(
            Method::GET,
            format!("/api/v1/people/{pb}/card.svg"),
            None,
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        ),
    );
    // EQ-4 … EQ-7 and the own-rank proposal (src/review/rankings).
    for (key, method, path, body, refused, allowed) in [
        (
            "POST /api/v1/orgs/{org_id}/ranking-publicity",
            Method::POST,
            format!("/api/v1/orgs/{b}/ranking-publicity"),
            Some(json!({"year": 2026, "period": "quarter", "n": 1})),
            vec![SecretaryA, Auditor, Security],
            Admin,
        ),
        (
            "POST /api/v1/orgs/{org_id}/ranking-filings",
            Method::POST,
            format!("/api/v1/orgs/{b}/ranking-filings"),
            Some(json!({"year": 2026, "quarter": 1})),
            vec![SecretaryA, Auditor, Security],
            Admin,
        ),
        (
            "GET /api/v1/orgs/{org_id}/ranking-filings",
            Method::GET,
            format!("/api/v1/orgs/{b}/ranking-filings?year=2026"),
            None,
            vec![SecretaryA, Security],
            Auditor,
        ),
        (
            "GET /api/v1/orgs/{org_id}/rank-evidence",
            Method::GET,
            format!("/api/v1/orgs/{b}/rank-evidence?year=2026"),
            None,
            vec![SecretaryA, Security],
            Auditor,
        ),
        (
            "GET /api/v1/orgs/{org_id}/rank-flags",
            Method::GET,
            format!("/api/v1/orgs/{b}/rank-flags?year=2026"),
            None,
            vec![SecretaryA, Security],
            Auditor,
        ),
        (
            "POST /api/v1/people/{person_id}/rank-flags/handle",
            Method::POST,
            format!("/api/v1/people/{pb}/rank-flags/handle"),
            Some(json!({"year": 2026, "flag": "not_excellent", "action": "谈话"})),
            vec![SecretaryA, Auditor, Security],
            Admin,
        ),
        (
            "POST /api/v1/falsifications",
            Method::POST,
            "/api/v1/falsifications".to_owned(),
            Some(json!({"person_id": pb, "year": 2026, "reason": "虚报学习次数"})),
            vec![SecretaryA, Auditor, Security],
            Admin,
        ),
        (
            "GET /api/v1/orgs/{org_id}/falsifications",
            Method::GET,
            format!("/api/v1/orgs/{b}/falsifications?year=2026"),
            None,
            vec![SecretaryA, Security],
            Auditor,
        ),
        (
            "GET /api/v1/orgs/{org_id}/proposals",
            Method::GET,
            format!("/api/v1/orgs/{b}/proposals"),
            None,
            vec![SecretaryA],
            Auditor,
        ),
        // Cases out of scope are 404 like unknown ids (as for /cases/{case_id}).
        (
            "GET /api/v1/falsifications/{id}",
            Method::GET,
            "/api/v1/falsifications/1".to_owned(),
            None,
            vec![Security],
            Admin,
        ),
        (
            "POST /api/v1/falsifications/{id}/annul",
            Method::POST,
            "/api/v1/falsifications/1/annul".to_owned(),
            Some(json!({"fact_id": fb, "note": "虚报"})),
            vec![SecretaryA, Auditor, Security],
            Admin,
        ),
        (
            "POST /api/v1/falsifications/{id}/conclude",
            Method::POST,
            "/api/v1/falsifications/1/conclude".to_owned(),
            Some(json!({"substantiated": true, "conclusion": "属实"})),
            vec![SecretaryA, Auditor, Security],
            Admin,
        ),
        (
            "POST /api/v1/org-proposals/{id}/confirm",
            Method::POST,
            "/api/v1/org-proposals/1/confirm".to_owned(),
            Some(json!({})),
            vec![SecretaryA, Auditor, Security],
            Admin,
        ),
        (
            "POST /api/v1/org-proposals/{id}/decline",
            Method::POST,
            "/api/v1/org-proposals/1/decline".to_owned(),
            Some(json!({"reason": "暂不开启"})),
            vec![SecretaryA, Auditor, Security],
            Admin,
        ),
    ] {
        add(key, case(method, path, body, refused, Some(allowed)));
    }
    // SD-6 star rating and the year's result list (review::routes): reads need
    // scores.read, the branch's decisions review, publication scores.write.
    for (key, method, path, body, write) in [
        (
            "GET /api/v1/orgs/{org_id}/stars/{year}",
            Method::GET,
            format!("/api/v1/orgs/{b}/stars/2025"),
            None,
            false,
        ),
        (
            "POST /api/v1/orgs/{org_id}/stars/{year}/confirm",
            Method::POST,
            format!("/api/v1/orgs/{b}/stars/2025/confirm"),
            Some(json!({})),
            true,
        ),
        (
            "POST /api/v1/orgs/{org_id}/stars/{year}/file",
            Method::POST,
            format!("/api/v1/orgs/{b}/stars/2025/file"),
            None,
            true,
        ),
        (
            "POST /api/v1/orgs/{org_id}/stars/{year}/publish",
            Method::POST,
            format!("/api/v1/orgs/{b}/stars/2025/publish"),
            Some(json!({})),
            true,
        ),
        (
            "GET /api/v1/orgs/{org_id}/stars/{year}/follow-ups",
            Method::GET,
            format!("/api/v1/orgs/{b}/stars/2025/follow-ups"),
            None,
            false,
        ),
        (
            "POST /api/v1/orgs/{org_id}/stars/{year}/follow-ups",
            Method::POST,
            format!("/api/v1/orgs/{b}/stars/2025/follow-ups"),
            Some(json!({"person_id": pb, "kind": "talk", "held_on": "2026-01-05", "note": "谈话"})),
            true,
        ),
        (
            "GET /api/v1/orgs/{org_id}/results/{year}",
            Method::GET,
            format!("/api/v1/orgs/{b}/results/2025"),
            None,
            false,
        ),
        (
            "GET /api/v1/orgs/{org_id}/results/{year}/export",
            Method::GET,
            format!("/api/v1/orgs/{b}/results/2025/export?format=csv"),
            None,
            false,
        ),
        (
            "POST /api/v1/orgs/{org_id}/results/{year}/excellent",
            Method::POST,
            format!("/api/v1/orgs/{b}/results/2025/excellent"),
            Some(json!({"person_id": pb})),
            true,
        ),
    ] {
        let c = if write {
            case(
                method,
                path,
                body,
                vec![SecretaryA, Auditor, Security],
                Some(Admin),
            )
        } else {
            case(
                method,
                path,
                body,
                vec![SecretaryA, Security],
                Some(Auditor),
            )
        };
        add(key, c);
    }
    // The official forms: the catalogue, and a form of branch B's year.
    add(
        "GET /api/v1/forms",
        case(
            Method::GET,
            "/api/v1/forms".into(),
            None,
            vec![Security],
            Some(SecretaryA),
        ),
    );
    add(
        "GET /api/v1/orgs/{org_id}/forms/{form}/{year}/export",
        case(
            Method::GET,
            format!("/api/v1/orgs/{b}/forms/registration/2026/export?format=csv"),
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        ),
    );
    m
}

/// Assessments and scorecards (JH-1 … JH-7): the committee's writes are admins' in the
/// committee's scope; a branch's secretary reads and fills only the own scorecard.
fn scorecard_cases(f: &Fixture, add: &mut impl FnMut(&str, Case)) {
    use Who::*;
    let (c, asmt, card, draw) = (f.c, f.assessment, f.scorecard_b, f.draw);
    let read = |path: String| {
        case(
            Method::GET,
            path,
            None,
            vec![SecretaryA, Security],
            Some(Auditor),
        )
    };
    let write = |path: String, body: Value| {
        case(
            Method::POST,
            path,
            Some(body),
            vec![SecretaryA, Auditor, Security],
            Some(Admin),
        )
    };
    add(
        "GET /api/v1/assessments",
        case(
            Method::GET,
            "/api/v1/assessments".into(),
            None,
            vec![Security],
            Some(Auditor),
        ),
    );
    add(
        "POST /api/v1/assessments",
        write(
            "/api/v1/assessments".into(),
            json!({"org_id": c, "year": 2027, "self_until": "2028-01-15", "review_until": "2028-02-28"}),
        ),
    );
    add(
        "GET /api/v1/assessments/{assessment_id}",
        read(format!("/api/v1/assessments/{asmt}")),
    );
    add(
        "POST /api/v1/assessments/{assessment_id}/extend",
        write(
            format!("/api/v1/assessments/{asmt}/extend"),
            json!({"date": "review_until", "until": "2027-03-31", "reason": "延期"}),
        ),
    );
    add(
        "GET /api/v1/assessments/{assessment_id}/rollup",
        read(format!("/api/v1/assessments/{asmt}/rollup")),
    );
    add(
        "GET /api/v1/assessments/{assessment_id}/draws",
        read(format!("/api/v1/assessments/{asmt}/draws")),
    );
    add(
        "POST /api/v1/assessments/{assessment_id}/draws",
        write(format!("/api/v1/assessments/{asmt}/draws"), json!({"n": 1})),
    );
    add(
        "GET /api/v1/draws/{draw_id}/repeat",
        read(format!("/api/v1/draws/{draw}/repeat")),
    );
    add(
        "GET /api/v1/scorecards",
        case(
            Method::GET,
            "/api/v1/scorecards".into(),
            None,
            vec![Security],
            Some(SecretaryA),
        ),
    );
    add(
        "GET /api/v1/scorecards/{scorecard_id}",
        read(format!("/api/v1/scorecards/{card}")),
    );
    add(
        "GET /api/v1/scorecards/{scorecard_id}/export",
        read(format!("/api/v1/scorecards/{card}/export")),
    );
    add(
        "GET /api/v1/scorecards/{scorecard_id}/files/{upload_id}",
        read(format!("/api/v1/scorecards/{card}/files/1")),
    );
    add(
        "POST /api/v1/scorecards/{scorecard_id}/self",
        write(
            format!("/api/v1/scorecards/{card}/self"),
            json!({"items": [{"code": "political_1", "score": 4}]}),
        ),
    );
    add(
        "POST /api/v1/scorecards/{scorecard_id}/lines/{code}/files",
        write(
            format!("/api/v1/scorecards/{card}/lines/political_1/files"),
            json!({"not": "an image"}),
        ),
    );
    add(
        "POST /api/v1/scorecards/{scorecard_id}/submit",
        write(format!("/api/v1/scorecards/{card}/submit"), json!({})),
    );
    add(
        "POST /api/v1/scorecards/{scorecard_id}/review",
        write(
            format!("/api/v1/scorecards/{card}/review"),
            json!({"items": [{"code": "political_1", "score": 4, "reason": "核定"}]}),
        ),
    );
    add(
        "POST /api/v1/scorecards/{scorecard_id}/vetoes",
        write(
            format!("/api/v1/scorecards/{card}/vetoes"),
            json!({"item": "veto_policy", "cause": "通报批评", "evidence": "文件"}),
        ),
    );
    add(
        "POST /api/v1/scorecards/{scorecard_id}/veto-files",
        write(
            format!("/api/v1/scorecards/{card}/veto-files"),
            json!({"not": "an image"}),
        ),
    );
}

/// Public by design, each with its reason.
const PUBLIC: &[(&str, &str)] = &[
    ("GET /healthz", "liveness probe"),
    ("GET /readyz", "readiness probe"),
    (
        "GET /metrics",
        "scraped by Prometheus on the internal network",
    ),
    ("GET /api/openapi.json", "the API description"),
    ("POST /api/v1/auth/login", "how one gets a token"),
    ("POST /api/v1/auth/refresh", "carries its own refresh token"),
    (
        "POST /api/v1/projector/end",
        "carries its own projector token (ends it on a shared PC)",
    ),
    (
        "POST /api/v1/auth/end",
        "carries its own refresh token (logout after the access token expired)",
    ),
];

fn operations(doc: &Value) -> Vec<(String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                ops.push((format!("{} {path}", method.to_uppercase()), op.clone()));
            }
        }
    }
    ops
}

async fn call(app: &TestApp, c: &Case, token: Option<&str>) -> crate::helpers::Response {
    app.request(c.method.clone(), &c.path, token, c.body.clone())
        .await
}

#[tokio::test]
async fn every_endpoint_has_an_authorization_rule_and_a_scope_test() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let doc = app
        .request(Method::GET, "/api/openapi.json", None, None)
        .await
        .body;
    let cases = cases(&f);
    let public: BTreeSet<&str> = PUBLIC.iter().map(|(k, _)| *k).collect();
    let mut missing = Vec::new();
    for (key, op) in operations(&doc) {
        let security = op["security"].as_array();
        let Some(security) = security else {
            missing.push(format!(
                "{key}: no authorization rule (security) in the OpenAPI document"
            ));
            continue;
        };
        let is_public = security
            .iter()
            .all(|s| s.as_object().is_some_and(|o| o.is_empty()));
        if is_public {
            if !public.contains(key.as_str()) {
                missing.push(format!(
                    "{key}: public but not listed in PUBLIC with a reason"
                ));
            }
            continue;
        }
        let scopes: Vec<&str> = security
            .iter()
            .filter_map(|s| s["bearer"].as_array())
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if scopes.is_empty() {
            missing.push(format!("{key}: bearer security without a permission scope"));
        }
        if !cases.contains_key(&key) {
            missing.push(format!("{key}: no scope case in tests/api/rbac.rs"));
        }
    }
    assert!(
        missing.is_empty(),
        "endpoints without authorization rules or scope tests:\n{}",
        missing.join("\n")
    );
}

#[tokio::test]
async fn every_endpoint_refuses_missing_tampered_and_expired_tokens_wrong_branches_and_auditor_writes()
 {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let tampered = format!("{}x", f.admin);
    let token = |w: Who| match w {
        Who::Admin => f.admin.as_str(),
        Who::SecretaryA => f.sec_a.as_str(),
        Who::Auditor => f.auditor.as_str(),
        Who::Security => f.security.as_str(),
    };
    let mut failures = Vec::new();
    for (key, c) in cases(&f) {
        for (label, t) in [
            ("no token", None),
            ("tampered token", Some(tampered.as_str())),
            ("expired token", Some(f.expired.as_str())),
        ] {
            let r = call(&app, &c, t).await;
            if r.status != StatusCode::UNAUTHORIZED {
                failures.push(format!("{key} with {label}: {} (want 401)", r.status));
            }
        }
        let is_write = c.method != Method::GET;
        let self_service = key.starts_with("POST /api/v1/auth/");
        if is_write && !self_service && !c.refused.iter().any(|w| matches!(w, Who::Auditor)) {
            failures.push(format!("{key}: a write without an auditor-refused case"));
        }
        for who in &c.refused {
            let r = call(&app, &c, Some(token(*who))).await;
            if r.status != StatusCode::FORBIDDEN {
                failures.push(format!(
                    "{key} as {who:?}: {} (want 403) {}",
                    r.status, r.text
                ));
            }
        }
        if let Some(who) = c.allowed {
            let r = call(&app, &c, Some(token(who))).await;
            if matches!(r.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                failures.push(format!(
                    "{key} as {who:?}: refused with {} {}",
                    r.status, r.text
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
