//! Findings of the security review (issue 13, items 3, 4, 5, 8 and 9), each test named
//! after its finding.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Spawn, TestApp, spawn_app, spawn_app_with};

const PASSWORD: &str = "Passw0rd-for-tests";

/// An account made as the operator makes it (`vanguard admin create`): (id, token).
async fn operator(app: &TestApp, username: &str, role: &str, org: Option<i64>) -> (i64, String) {
    let role = vanguard::auth::Role::parse(role).unwrap_or_else(|| panic!("role {role} exists"));
    let created = vanguard::auth::service::create_account(
        &app.state,
        &vanguard::audit::Actor::cli(),
        None,
        vanguard::auth::service::NewAccount {
            username: username.to_owned(),
            display_name: None,
            password: Some(PASSWORD.to_owned()),
            role,
            org_id: org.map(vanguard::ids::OrgId),
        },
    )
    .await
    .expect("operator creates account");
    (created.account.id.0, app.token(username, PASSWORD).await)
}

const ROLES: [&str; 6] = [
    "security_admin",
    "admin",
    "auditor",
    "secretary",
    "recorder",
    "shop",
];

/// What the role split allows: (actor, target role, action).
fn allowed(actor: &str, target: &str, action: &str) -> bool {
    match actor {
        "security_admin" => target != "security_admin",
        "admin" => matches!(target, "secretary" | "recorder" | "shop") && action != "reset",
        _ => false,
    }
}

/// 三员分立 as a matrix: every actor role × every target role × create/disable/reset.
#[tokio::test]
async fn role_split_matrix_every_actor_target_and_action() {
    let app = spawn_app().await;
    let root = app.admin_token().await;
    let c = app.org(&root, "C", "committee", None).await;
    let b = app.org(&root, "B", "branch", Some(c)).await;
    let org_for = |role: &str| {
        if matches!(role, "secretary" | "recorder" | "shop") {
            b
        } else {
            c
        }
    };
    let mut actors = Vec::new();
    let mut failures = Vec::new();
    for role in ROLES {
        if vanguard::auth::Role::parse(role).is_none() {
            failures.push(format!("no role {role}"));
            continue;
        }
        let (_, token) = operator(&app, &format!("actor-{role}"), role, Some(org_for(role))).await;
        actors.push((role, token));
    }
    for (ai, (actor, token)) in actors.iter().enumerate() {
        for (ti, target) in ROLES.into_iter().enumerate() {
            let org = org_for(target);
            if vanguard::auth::Role::parse(target).is_none() {
                continue;
            }
            // create
            let r = app
                .post(
                    "/api/v1/accounts",
                    token,
                    json!({"username": format!("new-{ai}-{ti}"), "role": target, "org_id": org, "password": PASSWORD}),
                )
                .await;
            let want = allowed(actor, target, "create");
            if (r.status == StatusCode::CREATED) != want
                || (!want && r.status != StatusCode::FORBIDDEN)
            {
                failures.push(format!("{actor} creates {target}: {} {}", r.status, r.text));
            }
            // disable and reset act on an account the operator made.
            let (id, _) = operator(&app, &format!("t-{ai}-{ti}"), target, Some(org)).await;
            let r = app
                .patch(
                    &format!("/api/v1/accounts/{id}"),
                    token,
                    json!({"disabled": true}),
                )
                .await;
            let want = allowed(actor, target, "disable");
            if (r.status == StatusCode::OK) != want || (!want && r.status != StatusCode::FORBIDDEN)
            {
                failures.push(format!(
                    "{actor} disables {target}: {} {}",
                    r.status, r.text
                ));
            }
            let r = app
                .request(
                    Method::POST,
                    &format!("/api/v1/accounts/{id}/reset-password"),
                    Some(token),
                    None,
                )
                .await;
            let want = allowed(actor, target, "reset");
            if (r.status == StatusCode::OK) != want || (!want && r.status != StatusCode::FORBIDDEN)
            {
                failures.push(format!("{actor} resets {target}: {} {}", r.status, r.text));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The confirmed walk-around: an admin made an auditor with a password of its choice
/// and read the audit log through it.
#[tokio::test]
async fn admin_cannot_create_auditor() {
    let app = spawn_app().await;
    let root = app.admin_token().await;
    let c = app.org(&root, "C", "committee", None).await;
    let r = app
        .post(
            "/api/v1/accounts",
            &root,
            json!({"username": "my-auditor", "role": "auditor", "org_id": c, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(
        app.login("my-auditor", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED,
        "no such account"
    );
}

#[tokio::test]
async fn security_admin_sees_no_business_data_and_auditor_changes_nothing() {
    let app = spawn_app().await;
    let root = app.admin_token().await;
    let c = app.org(&root, "C", "committee", None).await;
    let b = app.org(&root, "B", "branch", Some(c)).await;
    let person = app.person(&root, "张三", "13800138000", b, "member").await;
    let (_, sec) = operator(&app, "sadm", "security_admin", Some(c)).await;
    let created = app
        .post(
            "/api/v1/accounts",
            &sec,
            json!({"username": "aud", "role": "auditor", "org_id": c, "password": PASSWORD}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let auditor = app.token("aud", PASSWORD).await;
    for path in [
        "/api/v1/people".to_owned(),
        format!("/api/v1/people/{person}"),
        format!("/api/v1/people/{person}/score"),
        format!("/api/v1/activities?org_id={b}"),
    ] {
        let r = app.get(&path, &sec).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "security admin reads {path}: {}",
            r.text
        );
        let r = app.get(&path, &auditor).await;
        assert_eq!(r.status, StatusCode::OK, "auditor reads {path}: {}", r.text);
    }
    assert_eq!(
        app.get("/api/v1/audit", &auditor).await.status,
        StatusCode::OK
    );
    let accounts = app.get("/api/v1/accounts", &auditor).await;
    assert_eq!(accounts.status, StatusCode::OK, "{}", accounts.text);
    assert!(
        accounts.text.contains("\"sadm\""),
        "auditors read every account in scope: {}",
        accounts.text
    );
    assert_eq!(app.get("/api/v1/audit", &sec).await.status, StatusCode::OK);
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/people".to_owned(),
            Some(json!({"name": "x", "phone": "13800138009", "org_id": b, "role": "member"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/people/{person}"),
            Some(json!({"name": "李四"})),
        ),
        (
            Method::POST,
            "/api/v1/accounts".to_owned(),
            Some(json!({"username": "zz", "role": "secretary", "org_id": b})),
        ),
    ] {
        let r = app
            .request(method.clone(), &path, Some(&auditor), body)
            .await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "auditor {method} {path}: {}",
            r.text
        );
    }
}

#[tokio::test]
async fn after_a_reset_every_call_but_change_password_and_logout_answers_password_change_required()
{
    let app = spawn_app().await;
    let root = app.admin_token().await;
    let c = app.org(&root, "C", "committee", None).await;
    let b = app.org(&root, "B", "branch", Some(c)).await;
    let (_, sec) = operator(&app, "sadm", "security_admin", Some(c)).await;
    let (sid, _) = app.account(&root, "sec-b", "secretary", Some(b)).await;
    let r = app
        .request(
            Method::POST,
            &format!("/api/v1/accounts/{sid}/reset-password"),
            Some(&sec),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let new = r.body["password"].as_str().expect("password").to_owned();
    let login = app.login("sec-b", &new).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    assert_eq!(login.body["must_change_password"], true);
    let token = login.body["access_token"].as_str().expect("at").to_owned();
    for path in [
        "/api/v1/auth/me".to_owned(),
        "/api/v1/people".to_owned(),
        format!("/api/v1/activities?org_id={b}"),
    ] {
        let r = app.get(&path, &token).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.text);
        assert_eq!(r.body["code"], "password_change_required", "{path}");
    }
    let r = app
        .post(
            "/api/v1/people",
            &token,
            json!({"name": "x", "phone": "13800138009", "org_id": b, "role": "member"}),
        )
        .await;
    assert_eq!(r.body["code"], "password_change_required", "{}", r.text);
    // Logout still works.
    let other = app.token("sec-b", &new).await;
    let r = app
        .request(Method::POST, "/api/v1/auth/logout", Some(&other), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    // Change the password: then everything works again.
    let r = app
        .post(
            "/api/v1/auth/password",
            &token,
            json!({"current_password": new, "new_password": "Brand-new-passw0rd"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        app.get("/api/v1/auth/me", &token).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/api/v1/activities?org_id={b}"), &token)
            .await
            .status,
        StatusCode::OK
    );
}

/// The recorder (组织委员) enters what a secretary enters in its branch, and no more.
#[tokio::test]
async fn recorder_enters_items_in_its_branch_and_manages_no_accounts() {
    let app = spawn_app().await;
    let root = app.admin_token().await;
    let c = app.org(&root, "C", "committee", None).await;
    let b = app.org(&root, "B", "branch", Some(c)).await;
    let other = app.org(&root, "B2", "branch", Some(c)).await;
    let mine = app.person(&root, "张三", "13800138000", b, "member").await;
    let theirs = app
        .person(&root, "李四", "13800138001", other, "member")
        .await;
    let (_, rec) = app.account(&root, "rec-b", "recorder", Some(b)).await;
    let item = |p: i64| json!({"person_id": p, "item": "study", "at": "2026-03-01T10:00:00+08:00", "fields": {"points": 2}});
    let r = app.post("/api/v1/items", &rec, item(mine)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app.post("/api/v1/items", &rec, item(theirs)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .post(
            "/api/v1/accounts",
            &rec,
            json!({"username": "x1", "role": "secretary", "org_id": b}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(
        app.get("/api/v1/audit", &rec).await.status,
        StatusCode::FORBIDDEN
    );
}

// ---------------------------------------------------------------- item 4: roster import

async fn import(app: &TestApp, token: &str, csv: &str, dry_run: bool) -> crate::helpers::Response {
    app.post_bytes(
        &format!("/api/v1/imports/roster?dry_run={dry_run}"),
        token,
        "text/csv",
        csv.as_bytes().to_vec(),
    )
    .await
}

fn reasons(r: &crate::helpers::Response) -> Vec<(i64, String)> {
    let list = if r.body["errors"].is_array() {
        &r.body["errors"]
    } else {
        &Value::Null
    };
    list.as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["row"].as_i64().unwrap_or(0),
                e["reason"]
                    .as_str()
                    .or(e["message"].as_str())
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect()
}

/// A scoped admin's roster matched a person of another committee by 编号 or phone and
/// moved and renamed them; a dry run told whether a phone existed anywhere.
#[tokio::test]
async fn import_match_outside_scope_is_a_row_error() {
    let app = spawn_app().await;
    let root = app.admin_token().await;
    let c1 = app.org(&root, "C1", "committee", None).await;
    app.org(&root, "ZB1", "branch", Some(c1)).await;
    let b1 = app.org(&root, "ZB1B", "branch", Some(c1)).await;
    let c2 = app.org(&root, "C2", "committee", None).await;
    let b2 = app.org(&root, "ZB2", "branch", Some(c2)).await;
    let outsider = app.person(&root, "外人", "13900000001", b2, "member").await;
    let r = app
        .patch(
            &format!("/api/v1/people/{outsider}"),
            &root,
            json!({"external_id": "E-OUT"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // In scope, a conflict: this phone belongs to someone with another 编号.
    let insider = app.person(&root, "内人", "13900000002", b1, "member").await;
    app.patch(
        &format!("/api/v1/people/{insider}"),
        &root,
        json!({"external_id": "E-IN"}),
    )
    .await;
    let (_, scoped) = operator(&app, "adm-c1", "admin", Some(c1)).await;
    let csv = "姓名,手机号,支部编码,类别,编号\n\
               张三,13900000001,ZB1,正式党员,\n\
               李四,13900000003,ZB1,正式党员,E-OUT\n\
               王五,13900000002,ZB1,正式党员,E-NEW\n";
    for dry_run in [true, false] {
        let r = import(&app, &scoped, csv, dry_run).await;
        let found = reasons(&r);
        assert_eq!(
            r.status,
            if dry_run {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            },
            "{}",
            r.text
        );
        let reason = |row: i64| {
            found
                .iter()
                .find(|(n, _)| *n == row)
                .map(|(_, m)| m.clone())
                .unwrap_or_else(|| panic!("row {row} is an error (dry run {dry_run}): {}", r.text))
        };
        let (out_phone, out_ext, inside) = (reason(2), reason(3), reason(4));
        assert_eq!(out_phone, inside, "same message as any conflict");
        assert_eq!(out_ext, inside, "same message as any conflict");
        for secret in ["外人", "E-OUT", "E-IN", "内人", "ZB2", "C2"] {
            assert!(!r.text.contains(secret), "{secret} leaks: {}", r.text);
        }
    }
    let p = app.get(&format!("/api/v1/people/{outsider}"), &root).await;
    assert_eq!(p.body["name"], "外人", "{}", p.text);
    assert_eq!(p.body["org_id"], b2, "{}", p.text);
}

// ---------------------------------------------------------------- item 5: login

fn proxied() -> Spawn {
    Spawn {
        extra: "[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n[auth]\nlogin_max_failures_per_account = 3\nlogin_max_failures_per_ip = 100\n".to_owned(),
    }
}

async fn login_from(
    app: &TestApp,
    from: &str,
    username: &str,
    password: &str,
) -> (StatusCode, Value) {
    let r = app
        .client
        .post(format!("{}/api/v1/auth/login", app.address))
        .header("X-Forwarded-For", from)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("login sent");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Concurrent failures all passed the limit check before any was counted (the counter
/// was read before and written after the hash).
#[tokio::test]
async fn login_attempt_is_counted_before_hashing() {
    let app = spawn_app_with(proxied()).await;
    let tries = (0..12).map(|_| login_from(&app, "203.0.113.7", "admin", "wrong-password-1"));
    let results = futures_util::future::join_all(tries).await;
    let hashed = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::UNAUTHORIZED)
        .count();
    let limited = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(hashed + limited, 12, "{results:?}");
    assert!(
        hashed <= 3,
        "{hashed} attempts were checked, the limit is 3"
    );
}

#[tokio::test]
async fn login_lock_per_address_does_not_lock_another_address() {
    let app = spawn_app_with(proxied()).await;
    for _ in 0..3 {
        let (s, _) = login_from(&app, "203.0.113.1", "admin", "wrong-password-1").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, body) = login_from(&app, "203.0.113.1", "admin", &app.admin_password).await;
    assert_eq!(
        s,
        StatusCode::TOO_MANY_REQUESTS,
        "the failing address waits: {body}"
    );
    let (s, body) = login_from(&app, "198.51.100.2", "admin", &app.admin_password).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "another address is not locked out: {body}"
    );
}

#[tokio::test]
async fn login_failures_from_many_addresses_slow_but_allow_the_correct_password() {
    let app = spawn_app_with(proxied()).await;
    for i in 0..12 {
        let (s, _) = login_from(
            &app,
            &format!("203.0.113.{}", 10 + i),
            "admin",
            "wrong-password-1",
        )
        .await;
        assert!(
            matches!(s, StatusCode::UNAUTHORIZED),
            "one failure per address is never locked: {s}"
        );
    }
    let started = Instant::now();
    let (s, body) = login_from(&app, "198.51.100.9", "admin", &app.admin_password).await;
    assert_eq!(s, StatusCode::OK, "the real admin still gets in: {body}");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "but slowed: {:?}",
        started.elapsed()
    );
}

/// Failed logins reached the log with the username but not the audit log.
#[tokio::test]
async fn failed_login_is_audited_without_the_password() {
    let app = spawn_app().await;
    let (_, sec) = operator(&app, "sa-root", "security_admin", None).await;
    let r = app.login("admin", "Wrong-secret-123").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app.login("nobody-here", "Wrong-secret-456").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let audit = app.get("/api/v1/audit?action=login_failed", &sec).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.text);
    let rows = audit.body.as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{}", audit.text);
    assert!(
        audit.text.contains("admin") && audit.text.contains("nobody-here"),
        "{}",
        audit.text
    );
    assert!(
        !audit.text.contains("Wrong-secret-123") && !audit.text.contains("Wrong-secret-456"),
        "never the password: {}",
        audit.text
    );
}

/// A flood of failed logins for one name from many addresses: the first 20 of the
/// window are audited, then one `login_failed_flood` entry, then nothing more (the
/// audit log cannot be filled by an attacker); the attempts are still refused.
#[tokio::test]
async fn failed_logins_flooding_one_name_are_audited_up_to_a_cap() {
    let app = spawn_app_with(proxied()).await;
    let (_, sec) = operator(&app, "sa-root", "security_admin", None).await;
    let tries = (0..30).map(|i| {
        let app = &app;
        async move {
            login_from(
                app,
                &format!("203.0.113.{}", 10 + i),
                "admin",
                "Wrong-secret-1",
            )
            .await
        }
    });
    for (s, _) in futures_util::future::join_all(tries).await {
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let audited = app.get("/api/v1/audit?action=login_failed", &sec).await;
    let flood = app
        .get("/api/v1/audit?action=login_failed_flood", &sec)
        .await;
    assert_eq!(audited.status, StatusCode::OK, "{}", audited.text);
    assert_eq!(
        audited.body.as_array().map(Vec::len),
        Some(20),
        "{}",
        audited.text
    );
    assert_eq!(
        flood.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        flood.text
    );
    assert!(flood.text.contains("admin"), "{}", flood.text);
    // The real owner still gets in.
    let (s, body) = login_from(&app, "198.51.100.9", "admin", &app.admin_password).await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

// ---------------------------------------------------------------- item 9: tokens

async fn refresh(app: &TestApp, token: &str) -> crate::helpers::Response {
    app.request(
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": token})),
    )
    .await
}

/// Two concurrent uses of one refresh token both succeeded on PostgreSQL.
#[tokio::test]
async fn refresh_rotation_is_atomic_concurrent_uses_do_not_both_succeed() {
    let app = spawn_app().await;
    for _ in 0..5 {
        let login = app.login("admin", &app.admin_password).await;
        let rt = login.body["refresh_token"].as_str().expect("rt").to_owned();
        let results = futures_util::future::join_all((0..4).map(|_| refresh(&app, &rt))).await;
        let ok = results
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .count();
        assert!(
            ok <= 1,
            "{ok} concurrent uses of one refresh token succeeded"
        );
    }
}

/// Knowing a session id was enough to end the session: `<sid>.x` revoked it.
#[tokio::test]
async fn a_wrong_refresh_secret_does_not_revoke_the_session() {
    let app = spawn_app().await;
    let login = app.login("admin", &app.admin_password).await;
    let rt = login.body["refresh_token"].as_str().expect("rt").to_owned();
    let access = login.body["access_token"].as_str().expect("at").to_owned();
    let sid = rt.split_once('.').expect("sid").0;
    let r = refresh(&app, &format!("{sid}.x")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/api/v1/auth/me", &access).await.status,
        StatusCode::OK,
        "still signed in"
    );
    let r = refresh(&app, &rt).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the real refresh token still works: {}",
        r.text
    );
}

// ---------------------------------------------------------------- item 9: binding

/// Binding answered 409 for a name and phone on the roster (bound to someone else) and
/// 200 for one that is not: an oracle for who is on the roster.
#[tokio::test]
async fn member_binding_answers_alike_whether_or_not_the_person_is_on_the_roster() {
    let app = spawn_app().await;
    let root = app.admin_token().await;
    let c = app.org(&root, "C", "committee", None).await;
    let b = app.org(&root, "B", "branch", Some(c)).await;
    let p = app
        .person(&root, "已绑定", "13800000001", b, "member")
        .await;
    app.bind(p, "o-owner").await;
    let phone = crate::pages::Phone::new(&app);
    phone.sign_in("o-stranger", "/m/").await;
    let on_roster = phone
        .post(
            "/wechat/bind",
            &[
                ("name", "已绑定"),
                ("phone", "13800000001"),
                ("next", "/m/"),
            ],
        )
        .await;
    let phone2 = crate::pages::Phone::new(&app);
    phone2.sign_in("o-stranger2", "/m/").await;
    let not_on_roster = phone2
        .post(
            "/wechat/bind",
            &[
                ("name", "不存在"),
                ("phone", "13800000099"),
                ("next", "/m/"),
            ],
        )
        .await;
    assert_eq!(on_roster.status, not_on_roster.status);
    for page in [&on_roster, &not_on_roster] {
        assert!(
            page.text.contains("信息不符或已被绑定，请联系支部书记"),
            "{} {}",
            page.status,
            page.text
        );
    }
    let strip = |t: &str| t.replace("已绑定", "").replace("不存在", "");
    assert_eq!(
        strip(&on_roster.text),
        strip(&not_on_roster.text),
        "the same page"
    );
}

// ---------------------------------------------------------------- item 9: cookies

/// The Secure flag of member cookies followed `X-Forwarded-Proto` from anyone.
#[tokio::test]
async fn member_cookie_secure_flag_trusts_forwarded_proto_only_from_trusted_proxies() {
    async fn set_cookie(app: &TestApp) -> String {
        let r = app
            .client
            .get(format!("{}/wechat/oauth/start?next=%2Fm%2F", app.address))
            .header("X-Forwarded-Proto", "https")
            .send()
            .await
            .expect("sent");
        r.headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join("\n")
    }
    let untrusted = spawn_app().await;
    let cookies = set_cookie(&untrusted).await;
    assert!(!cookies.is_empty(), "a state cookie is set");
    assert!(
        !cookies.contains("Secure"),
        "an untrusted peer's X-Forwarded-Proto: {cookies}"
    );
    let trusted = spawn_app_with(Spawn {
        extra: "[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n".to_owned(),
    })
    .await;
    let cookies = set_cookie(&trusted).await;
    assert!(
        cookies.contains("Secure"),
        "a trusted proxy's X-Forwarded-Proto: {cookies}"
    );
}

// ---------------------------------------------------------------- item 9: XLSX

/// A small XLSX whose sheet inflates to hundreds of megabytes.
fn zip_bomb() -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        let files = [
            (
                "[Content_Types].xml",
                r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#,
            ),
            (
                "_rels/.rels",
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
            ),
            (
                "xl/workbook.xml",
                r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="名册" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
            ),
            (
                "xl/_rels/workbook.xml.rels",
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
            ),
        ];
        for (name, body) in files {
            zip.start_file(name, opts).expect("zip");
            zip.write_all(body.as_bytes()).expect("zip");
        }
        zip.start_file("xl/worksheets/sheet1.xml", opts)
            .expect("zip");
        zip.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#)
            .expect("zip");
        // 400 MB of one empty row repeated: inflates ~1000:1.
        let row = b"<row></row>".repeat(100_000);
        let mut written = 0usize;
        while written < 400_000_000 {
            zip.write_all(&row).expect("zip");
            written += row.len();
        }
        zip.write_all(b"</sheetData></worksheet>").expect("zip");
        zip.finish().expect("zip");
    }
    buf.into_inner()
}

#[tokio::test]
async fn xlsx_import_refuses_a_zip_bomb() {
    let app = spawn_app().await;
    let root = app.admin_token().await;
    let bomb = zip_bomb();
    assert!(bomb.len() < 2_000_000, "the bomb is small: {}", bomb.len());
    let started = Instant::now();
    let r = app
        .post_bytes(
            "/api/v1/imports/roster?dry_run=true",
            &root,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            bomb,
        )
        .await;
    assert!(
        r.text.contains("解压后过大"),
        "refused with a clear Chinese error: {} {}",
        r.status,
        r.text
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------- item 8: pending scans

async fn exec(app: &TestApp, sql: &str) {
    use sea_orm::ConnectionTrait;
    app.state.db.execute_unprepared(sql).await.expect(sql);
}

/// Makes inserting a fact fail, as a database fault would.
async fn break_facts(app: &TestApp, broken: bool) {
    let pg = matches!(
        sea_orm::ConnectionTrait::get_database_backend(&app.state.db),
        sea_orm::DatabaseBackend::Postgres
    );
    match (pg, broken) {
        (false, true) => {
            exec(app, "CREATE TRIGGER vg_fail_facts BEFORE INSERT ON facts BEGIN SELECT RAISE(ABORT, 'injected failure'); END;").await;
        }
        (false, false) => exec(app, "DROP TRIGGER vg_fail_facts").await,
        (true, true) => {
            exec(app, "CREATE FUNCTION vg_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql").await;
            exec(app, "CREATE TRIGGER vg_fail_facts BEFORE INSERT ON facts FOR EACH ROW EXECUTE FUNCTION vg_fail()").await;
        }
        (true, false) => exec(app, "DROP TRIGGER vg_fail_facts ON facts").await,
    }
}

struct Pending {
    admin: String,
    person: i64,
}

/// An open fixed day, a person and an unbound scan of theirs waiting as pending.
async fn pending_scan(app: &TestApp) -> Pending {
    let admin = app.admin_token().await;
    let c = app.org(&admin, "C", "committee", None).await;
    let b = app.org(&admin, "B", "branch", Some(c)).await;
    let start = chrono::Utc::now() + chrono::Duration::minutes(5);
    let r = app
        .post(
            "/api/v1/activities",
            &admin,
            json!({"org_id": b, "kind": "fixed_day", "title": "党日", "starts_at": start.to_rfc3339(), "ends_at": (start + chrono::Duration::hours(2)).to_rfc3339()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let activity = r.body["id"].as_i64().expect("id");
    let r = app
        .request(
            Method::POST,
            &format!("/api/v1/activities/{activity}/sessions"),
            Some(&admin),
            None,
        )
        .await;
    let session = r.body["id"].as_i64().expect("session");
    use sea_orm::EntityTrait;
    let secret = entity::checkin_session::Entity::find_by_id(session)
        .one(&app.state.db)
        .await
        .expect("db")
        .expect("row")
        .secret;
    let person = app
        .person(&admin, "新同志", "13800000051", b, "member")
        .await;
    let t = chrono::Utc::now();
    let slot = vanguard::checkin::qr::slot_at(t.timestamp(), 60);
    let scene = vanguard::checkin::qr::payload(&secret, session, slot);
    let reply = app
        .scan("o-new", &scene, t.timestamp())
        .await
        .expect("reply");
    assert!(reply.contains("/wechat/oauth/start"), "{reply}");
    Pending { admin, person }
}

async fn points(app: &TestApp, p: &Pending) -> Value {
    app.get(&format!("/api/v1/people/{}/score", p.person), &p.admin)
        .await
        .body["score"]["score"]
        .clone()
}

/// Counting failed after the binding committed: the scan stayed unresolved and a later
/// binding never retried it, though the reply promised "自动记入".
#[tokio::test]
async fn pending_scan_lost_when_counting_fails_is_retried_on_the_next_binding() {
    let app = spawn_app().await;
    let p = pending_scan(&app).await;
    break_facts(&app, true).await;
    app.bind(p.person, "o-new").await;
    assert_eq!(points(&app, &p).await, json!(0), "the injected failure");
    break_facts(&app, false).await;
    // The member opens the binding page again (already bound): the scan is retried.
    app.bind(p.person, "o-new").await;
    assert_eq!(points(&app, &p).await, json!(5), "counted on the retry");
}

#[tokio::test]
async fn pending_scan_lost_when_counting_fails_is_retried_by_the_sweep() {
    let app = spawn_app().await;
    let p = pending_scan(&app).await;
    break_facts(&app, true).await;
    app.bind(p.person, "o-new").await;
    assert_eq!(points(&app, &p).await, json!(0), "the injected failure");
    break_facts(&app, false).await;
    let resolved = vanguard::checkin::members::sweep_pending(&app.state)
        .await
        .expect("sweep runs");
    assert_eq!(resolved, 1);
    assert_eq!(points(&app, &p).await, json!(5), "counted by the sweep");
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let left = entity::pending_scan::Entity::find()
        .filter(entity::pending_scan::Column::ResolvedAt.is_null())
        .count(&app.state.db)
        .await
        .expect("db");
    assert_eq!(left, 0, "nothing left to retry");
    let again = vanguard::checkin::members::sweep_pending(&app.state)
        .await
        .expect("sweep runs");
    assert_eq!(again, 0, "one sweep a minute across instances");
}

// ---------------------------------------------------------------- the real binary

/// `vanguard` started with the shipped `config/production.toml` and only the overrides a
/// machine without the production hosts needs: where the database and live store are,
/// a loopback address, and WeChat credentials (production has no sandbox).
struct Binary {
    child: std::process::Child,
    env: Vec<(String, String)>,
    base: String,
    admin_password: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PRODUCTION: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/production.toml");

fn vanguard_cmd(env: &[(String, String)]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_vanguard"));
    for (k, _) in std::env::vars() {
        if k.starts_with("VANGUARD__") {
            c.env_remove(k);
        }
    }
    c.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    c.arg("--config").arg(PRODUCTION);
    c
}

impl Binary {
    async fn start() -> Self {
        use std::io::{BufRead, BufReader};
        let dir = tempfile::tempdir().expect("dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut env = vec![
            (
                "VANGUARD__DATABASE__URL".to_owned(),
                crate::helpers::fresh_database(dir.path()).await,
            ),
            (
                "VANGUARD__SERVER__LISTEN".to_owned(),
                format!("127.0.0.1:{port}"),
            ),
            ("VANGUARD__LOG__LEVEL".to_owned(), "warn".to_owned()),
            (
                "VANGUARD__WECHAT__APP_ID".to_owned(),
                "wx0123456789abcdef".to_owned(),
            ),
            (
                "VANGUARD__WECHAT__APP_SECRET".to_owned(),
                "0123456789abcdef0123456789abcdef".to_owned(),
            ),
            (
                "VANGUARD__WECHAT__TOKEN".to_owned(),
                "binarytesttoken".to_owned(),
            ),
        ];
        match std::env::var("VANGUARD_TEST_REDIS_URL") {
            Ok(url) => {
                env.push(("VANGUARD__LIVE__REDIS_URL".to_owned(), url));
                env.push((
                    "VANGUARD__LIVE__KEY_PREFIX".to_owned(),
                    format!("vgb:{}:", uuid::Uuid::new_v4().simple()),
                ));
            }
            Err(_) => env.push(("VANGUARD__LIVE__BACKEND".to_owned(), "memory".to_owned())),
        }
        let mut child = vanguard_cmd(&env)
            .current_dir(dir.path())
            .arg("serve")
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("starts");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                match line.split("initial admin password: ").nth(1) {
                    Some(p) => {
                        let _ = tx.send(Ok(p.trim().to_owned()));
                    }
                    None => {
                        let _ = tx.send(Err(line));
                    }
                }
            }
        });
        let mut seen = Vec::new();
        let admin_password = loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(Ok(p)) => break p,
                Ok(Err(line)) => seen.push(line),
                Err(_) => panic!("no initial admin password; stderr:\n{}", seen.join("\n")),
            }
        };
        let base = format!("http://127.0.0.1:{port}");
        vanguard::wechat::install_tls_provider();
        let client = reqwest::Client::new();
        let mut up = false;
        for _ in 0..300 {
            if client
                .get(format!("{base}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(up, "the server answers /healthz");
        Self {
            child,
            env,
            base,
            admin_password,
            client,
            _dir: dir,
        }
    }

    /// `vanguard admin create …` as the operator runs it: the generated password.
    fn operator_create(&self, username: &str, role: &str, org_code: &str) -> String {
        let out = vanguard_cmd(&self.env)
            .args([
                "admin", "create", username, "--role", role, "--org", org_code,
            ])
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        err.split("initial password: ")
            .nth(1)
            .and_then(|l| l.lines().next())
            .expect("password printed")
            .trim()
            .to_owned()
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("sent");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn token(&self, username: &str, password: &str) -> String {
        let (s, body) = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "login {username}: {body}");
        body["access_token"].as_str().expect("token").to_owned()
    }

    async fn org(&self, token: &str, code: &str, kind: &str, parent: Option<i64>) -> i64 {
        let (s, body) = self
            .call(
                Method::POST,
                "/api/v1/orgs",
                Some(token),
                Some(json!({"name": format!("{code} 组织"), "code": code, "kind": kind, "parent_id": parent})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        body["id"].as_i64().expect("id")
    }
}

#[tokio::test]
async fn real_binary_production_config_admin_cannot_create_auditor() {
    let bin = Binary::start().await;
    let admin = bin.token("admin", &bin.admin_password).await;
    let c = bin.org(&admin, "C", "committee", None).await;
    let b = bin.org(&admin, "B", "branch", Some(c)).await;
    let account = |name: &str, role: &str, org: i64| json!({"username": name, "role": role, "org_id": org, "password": PASSWORD});
    // The initial admin cannot make an auditor (nor a security admin).
    for role in ["auditor", "security_admin", "admin"] {
        let (s, body) = bin
            .call(
                Method::POST,
                "/api/v1/accounts",
                Some(&admin),
                Some(account("x-acct", role, c)),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "admin creates {role}: {body}");
    }
    // The operator's CLI makes the security admin, who makes admins and auditors.
    let password = bin.operator_create("secadm", "security_admin", "C");
    let sec = bin.token("secadm", &password).await;
    for (name, role) in [("adm-c", "admin"), ("aud-c", "auditor")] {
        let (s, body) = bin
            .call(
                Method::POST,
                "/api/v1/accounts",
                Some(&sec),
                Some(account(name, role, c)),
            )
            .await;
        assert_eq!(
            s,
            StatusCode::CREATED,
            "security admin creates {role}: {body}"
        );
    }
    let adm = bin.token("adm-c", PASSWORD).await;
    let (s, body) = bin
        .call(
            Method::POST,
            "/api/v1/accounts",
            Some(&adm),
            Some(account("aud-2", "auditor", c)),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let (s, body) = bin
        .call(
            Method::POST,
            "/api/v1/accounts",
            Some(&adm),
            Some(account("rec-b", "recorder", b)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let aud = bin.token("aud-c", PASSWORD).await;
    let (s, _) = bin
        .call(Method::GET, "/api/v1/audit", Some(&aud), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = bin
        .call(Method::GET, "/api/v1/audit", Some(&adm), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "admins do not read the audit log");
    let (s, _) = bin
        .call(Method::GET, "/api/v1/people", Some(&sec), None)
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "security admins see no business data"
    );
}

#[tokio::test]
async fn real_binary_production_config_import_match_outside_scope_is_a_row_error() {
    let bin = Binary::start().await;
    let admin = bin.token("admin", &bin.admin_password).await;
    let c1 = bin.org(&admin, "C1", "committee", None).await;
    bin.org(&admin, "ZB1", "branch", Some(c1)).await;
    let c2 = bin.org(&admin, "C2", "committee", None).await;
    let b2 = bin.org(&admin, "ZB2", "branch", Some(c2)).await;
    let (s, body) = bin
        .call(
            Method::POST,
            "/api/v1/people",
            Some(&admin),
            Some(json!({"name": "外人", "phone": "13900000001", "org_id": b2, "role": "member"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let outsider = body["id"].as_i64().expect("id");
    let password = bin.operator_create("adm-c1", "admin", "C1");
    let scoped = bin.token("adm-c1", &password).await;
    let csv = "姓名,手机号,支部编码,类别,编号\n张三,13900000001,ZB1,正式党员,\n";
    for dry_run in [true, false] {
        let r = bin
            .client
            .post(format!(
                "{}/api/v1/imports/roster?dry_run={dry_run}",
                bin.base
            ))
            .bearer_auth(&scoped)
            .header("Content-Type", "text/csv")
            .body(csv)
            .send()
            .await
            .expect("sent");
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        assert_eq!(
            status,
            if dry_run {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            },
            "{text}"
        );
        assert!(text.contains("编号或手机号与已有人员冲突"), "{text}");
        assert!(!text.contains("外人") && !text.contains("ZB2"), "{text}");
    }
    let (_, p) = bin
        .call(
            Method::GET,
            &format!("/api/v1/people/{outsider}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(p["name"], "外人", "{p}");
    assert_eq!(p["org_id"], b2, "{p}");
}
