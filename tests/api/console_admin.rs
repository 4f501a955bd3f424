//! The admin, security-admin and auditor pages of the console over HTTP: 组织 (tree,
//! policy with its readings of unclear rules, choosing a policy), 人员 changes
//! (transfer, role, status, 免评), 账号 (三员分立), 排名与结果 and 年度结账, 固定活动日.
//! Each page for each role, and what must be refused: out of scope (404), an auditor's
//! post (403), a cross-site post, a missing reason (shown by its field), an admin
//! resetting an admin.

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::json;

use crate::console::{Desk, PASSWORD, Staff, staff};
use crate::helpers::{TestApp, spawn_app};

/// The tests' "now": Friday 4 December 2026, 10:00 in Shanghai.
fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-04T10:00:00+08:00")
        .expect("time")
        .with_timezone(&Utc)
}

/// An auditor (made by a security admin) and the security admin, both signed in.
async fn auditor_and_security(app: &TestApp) -> (Desk, Desk, String) {
    let security = app
        .operator_account("secadm", vanguard::auth::Role::SecurityAdmin, None)
        .await;
    app.account(&security, "aud", "auditor", None).await;
    let aud = Desk::new(app);
    assert_eq!(
        aud.login("aud", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let sec = Desk::new(app);
    assert_eq!(
        sec.login("secadm", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    (aud, sec, security)
}

async fn setup() -> (TestApp, Staff) {
    let app = spawn_app().await;
    app.state.clock.set(now());
    let s = staff(&app).await;
    (app, s)
}

async fn study(app: &TestApp, token: &str, person: i64, at: &str, points: u32) {
    let r = app
        .post(
            "/api/v1/items",
            token,
            json!({"person_id": person, "item": "study", "at": at, "fields": {"points": points}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

/// An account's id, as the security admin lists it.
async fn account_id(app: &TestApp, security: &str, username: &str) -> i64 {
    app.get("/api/v1/accounts", security)
        .await
        .body
        .as_array()
        .and_then(|a| a.iter().find(|x| x["username"] == username))
        .and_then(|x| x["id"].as_i64())
        .unwrap_or_else(|| panic!("no account {username}"))
}

async fn org_policy(app: &TestApp, token: &str, org: i64, year: i32) -> String {
    let r = app
        .get(&format!("/api/v1/orgs/{org}/policy?year={year}"), token)
        .await;
    r.body["policy"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn org_tree_and_policy_page_show_every_reading_to_each_role_read_only_for_auditors() {
    let (app, s) = setup().await;
    let tree = s.admin.get("/console/orgs").await;
    assert_eq!(tree.status, StatusCode::OK);
    assert!(tree.text.contains("id=\"org-tree\""), "{}", tree.text);
    for name in ["C 组织", "B 组织", "B2 组织"] {
        assert!(tree.text.contains(name), "tree shows {name}");
    }
    assert!(tree.text.contains("<details open>"), "collapsible");

    let page = s.admin.get(&format!("/console/orgs/{}", s.branch)).await;
    assert_eq!(page.status, StatusCode::OK);
    // xihu-2017's readings: rule name, the reading chosen, the alternatives.
    assert!(page.text.contains("本政策的理解"));
    assert!(page.text.contains("120–149 分评为四星级"), "the reading");
    assert!(page.text.contains("120–149 分不评星级"), "an alternative");
    assert!(page.text.contains("title=\"XH-15.4\""), "ID as a tooltip");
    let policy_form = format!("action=\"/console/orgs/{}/policy\"", s.branch);
    assert!(page.text.contains(&policy_form), "admins choose");
    assert!(page.text.contains("固定活动日规则"));
    assert!(page.text.contains("/settings\""), "admins change settings");

    // The secretary reads its branch, sets the fixed-day rule, chooses no policy.
    let sec = s
        .secretary
        .get(&format!("/console/orgs/{}", s.branch))
        .await;
    assert_eq!(sec.status, StatusCode::OK);
    assert!(!sec.text.contains(&policy_form));
    assert!(sec.text.contains("/rule\""));
    let out = s.secretary.get(&format!("/console/orgs/{}", s.other)).await;
    assert_eq!(out.status, StatusCode::NOT_FOUND);
    assert!(!out.text.contains("B2 组织"), "no data outside the scope");

    let (aud, _, _) = auditor_and_security(&app).await;
    let ro = aud.get(&format!("/console/orgs/{}", s.branch)).await;
    assert_eq!(ro.status, StatusCode::OK);
    assert!(ro.text.contains("120–149 分评为四星级"));
    assert!(!ro.text.contains(&policy_form), "auditors: no forms");
    assert!(!ro.text.contains("/settings\""));
    assert!(!ro.text.contains("/rule\""));
    let nav = aud.get("/console/").await;
    for shown in ["组织", "排名与结果", "账号", "审计日志", "固定活动日"] {
        assert!(
            nav.text.contains(&format!(">{shown}</a>")),
            "auditor nav {shown}"
        );
    }
}

#[tokio::test]
async fn choosing_a_policy_says_the_year_is_re_derived_then_records_it_audited() {
    let (app, s) = setup().await;
    let path = format!("/console/orgs/{}/policy", s.branch);
    let first = s
        .admin
        .post(&path, &[("policy", "town-2019"), ("year", "2026")])
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert!(first.text.contains("id=\"confirm-policy\""));
    assert!(first.text.contains("积分将立即按新政策重新计算"));
    assert_eq!(
        org_policy(&app, &s.admin_token, s.branch, 2026).await,
        "xihu-2017",
        "nothing changes before the confirmation"
    );

    // Refused: a cross-site post, an auditor's post, an unknown policy.
    let cross = s
        .admin
        .post_from(
            Some("https://evil.example"),
            &path,
            &[("policy", "town-2019"), ("year", "2026"), ("confirm", "1")],
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    let (aud, _, _) = auditor_and_security(&app).await;
    let refused = aud
        .post(
            &path,
            &[("policy", "town-2019"), ("year", "2026"), ("confirm", "1")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let bad = s
        .admin
        .post(&path, &[("policy", "no-such"), ("year", "2026")])
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("请选择一项政策"), "{}", bad.text);
    assert_eq!(
        org_policy(&app, &s.admin_token, s.branch, 2026).await,
        "xihu-2017"
    );

    let done = s
        .admin
        .post(
            &path,
            &[
                ("policy", "town-2019"),
                ("year", "2026"),
                ("confirm", "1"),
                ("form_id", "policy-1"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_eq!(
        org_policy(&app, &s.admin_token, s.branch, 2026).await,
        "town-2019"
    );
    let page = s.admin.get(done.location.as_deref().expect("to")).await;
    assert!(page.text.contains("已更换政策"));
    assert!(
        page.text.contains("带头、组织、主导作用"),
        "town-2019's readings"
    );
    let security = app.token("secadm", PASSWORD).await;
    let log = app.get("/api/v1/audit?action=set_policy", &security).await;
    assert!(log.text.contains("town-2019"), "audited: {}", log.text);
}

#[tokio::test]
async fn person_changes_need_a_reason_show_their_consequence_then_record() {
    let (app, s) = setup().await;
    let person = app
        .person(
            &s.admin_token,
            "张三",
            "13800000001",
            s.branch,
            "probationary",
        )
        .await;
    let path = format!("/console/people/{person}/transfer");
    let to = s.other.to_string();

    // A missing reason is shown by its field, what was typed kept, nothing recorded.
    let r = s
        .admin
        .post(&path, &[("to_org_id", &to), ("reason", "")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("请填写原因"), "{}", r.text);
    assert!(r.text.contains(&format!("value=\"{to}\" selected")), "kept");

    // The consequence first, nothing yet.
    let r = s
        .admin
        .post(&path, &[("to_org_id", &to), ("reason", "工作调动")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("id=\"confirm-change\""));
    assert!(r.text.contains("由“B 组织”转至“B2 组织”"), "{}", r.text);
    let api = app
        .get(&format!("/api/v1/people/{person}"), &s.admin_token)
        .await;
    assert_eq!(api.body["org_id"], json!(s.branch));

    // Refused: cross-site, an auditor, a secretary (no people.write), an admin of B2 only.
    let form = [
        ("to_org_id", to.as_str()),
        ("reason", "工作调动"),
        ("confirm", "1"),
        ("form_id", "t-1"),
    ];
    let cross = s
        .admin
        .post_from(Some("https://evil.example"), &path, &form)
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    let (aud, _, _) = auditor_and_security(&app).await;
    assert_eq!(aud.post(&path, &form).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        s.secretary.post(&path, &form).await.status,
        StatusCode::FORBIDDEN
    );
    app.operator_account("admin-b2", vanguard::auth::Role::Admin, Some(s.other))
        .await;
    let b2 = Desk::new(&app);
    b2.login("admin-b2", PASSWORD).await;
    let out = b2.post(&path, &form).await;
    assert_eq!(out.status, StatusCode::NOT_FOUND);
    assert!(!out.text.contains("张三"));
    assert_eq!(
        b2.get(&format!("/console/people/{person}")).await.status,
        StatusCode::NOT_FOUND
    );
    let api = app
        .get(&format!("/api/v1/people/{person}"), &s.admin_token)
        .await;
    assert_eq!(
        api.body["org_id"],
        json!(s.branch),
        "refused changes nothing"
    );

    let done = s.admin.post(&path, &form).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    // A double submit records once.
    let again = s.admin.post(&path, &form).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    let api = app
        .get(&format!("/api/v1/people/{person}"), &s.admin_token)
        .await;
    assert_eq!(api.body["org_id"], json!(s.other));
    let hist = app
        .get(&format!("/api/v1/people/{person}/history"), &s.admin_token)
        .await;
    assert_eq!(hist.body.as_array().map(Vec::len), Some(1), "{}", hist.text);
    let page = s.admin.get(&format!("/console/people/{person}")).await;
    assert!(
        page.text
            .contains("组织关系转接：B 组织 → B2 组织（工作调动）"),
        "{}",
        page.text
    );

    // Role: probationary → member, the index named before it happens.
    let role = format!("/console/people/{person}/role");
    let r = s
        .admin
        .post(&role, &[("role", "member"), ("reason", "按期转正")])
        .await;
    assert!(r.text.contains("由预备党员改为正式党员"), "{}", r.text);
    let r = s
        .admin
        .post(
            &role,
            &[
                ("role", "member"),
                ("reason", "按期转正"),
                ("confirm", "1"),
                ("form_id", "r-1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);

    // 免评 (XH-20): no reason → by the field; confirmed → recorded and scored at once.
    let ex = format!("/console/people/{person}/exemptions");
    let r = s
        .admin
        .post(
            &ex,
            &[
                ("scope", "year"),
                ("year", "2026"),
                ("approver", "区委组织部"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("请填写原因"));
    let r = s
        .admin
        .post(
            &ex,
            &[
                ("scope", "year"),
                ("year", "2026"),
                ("approver", "区委组织部"),
                ("reason", "长期病休"),
            ],
        )
        .await;
    assert!(
        r.text.contains("不计积分、不评星级、不参加排名"),
        "{}",
        r.text
    );
    let r = s
        .admin
        .post(
            &ex,
            &[
                ("scope", "year"),
                ("year", "2026"),
                ("approver", "区委组织部"),
                ("reason", "长期病休"),
                ("confirm", "1"),
                ("form_id", "e-1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let score = app
        .get(
            &format!("/api/v1/people/{person}/score?year=2026"),
            &s.admin_token,
        )
        .await;
    assert!(
        score.text.contains("exempt"),
        "re-derived at once: {}",
        score.text
    );
    let page = s.admin.get(&format!("/console/people/{person}")).await;
    assert!(
        page.text
            .contains("免评 · 2026年度（长期病休；区委组织部审批）")
    );

    // The auditor reads the page without a form.
    let ro = aud.get(&format!("/console/people/{person}")).await;
    assert_eq!(ro.status, StatusCode::OK);
    assert!(!ro.text.contains("/transfer\""));
}

#[tokio::test]
async fn accounts_pages_follow_manages_exactly_and_resets_force_a_new_password() {
    let (app, s) = setup().await;
    let (aud, sec, security) = auditor_and_security(&app).await;
    let (other_admin, _) = app.account(&security, "admin2", "admin", None).await;

    // Admins: secretaries and recorders only; no reset.
    let page = s.admin.get("/console/accounts").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("sec-b"));
    assert!(!page.text.contains("admin2"), "admins do not see admins");
    assert!(page.text.contains("value=\"recorder\""));
    assert!(!page.text.contains("value=\"auditor\""));
    assert!(!page.text.contains("重置密码"));
    let r = s
        .admin
        .post(
            "/console/accounts",
            &[
                ("username", "rec-b"),
                ("role", "recorder"),
                ("org_id", &s.branch.to_string()),
                ("form_id", "a-1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(r.text.contains("id=\"shown-password\""));
    let refused = s
        .admin
        .post(&format!("/console/accounts/{other_admin}/reset"), &[])
        .await;
    assert_eq!(
        refused.status,
        StatusCode::NOT_FOUND,
        "admin cannot reset an admin"
    );
    assert!(!refused.text.contains("admin2"));
    app.token("admin2", PASSWORD).await; // the password still works
    let bad = s
        .admin
        .post(
            "/console/accounts",
            &[
                ("username", "x"),
                ("role", "recorder"),
                ("org_id", &s.branch.to_string()),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("用户名须为"), "by the field");

    // Security admins: every role they manage, resets and ending logins.
    let page = sec.get("/console/accounts").await;
    assert!(page.text.contains("admin2") && page.text.contains("aud"));
    assert!(page.text.contains("重置密码"));
    assert!(page.text.contains("value=\"auditor\""));
    assert!(!page.text.contains("value=\"security_admin\""));
    let sec_id = account_id(&app, &security, "sec-b").await;
    let reset = sec
        .post(&format!("/console/accounts/{sec_id}/reset"), &[])
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.text);
    assert!(reset.text.contains("下次登录时须修改密码"));
    let after = s.secretary.get("/console/").await;
    assert_eq!(
        after.status,
        StatusCode::SEE_OTHER,
        "the reset ended the login"
    );
    // Ending the admin's logins.
    let chief = account_id(&app, &security, "chief").await;
    let end = sec
        .post(&format!("/console/accounts/{chief}/logins/end"), &[])
        .await;
    assert_eq!(end.status, StatusCode::SEE_OTHER, "{}", end.text);
    assert_eq!(
        s.admin.get("/console/orgs").await.status,
        StatusCode::SEE_OTHER
    );

    // Auditors read every account, change none.
    let ro = aud.get("/console/accounts").await;
    assert_eq!(ro.status, StatusCode::OK);
    assert!(ro.text.contains("admin2") && ro.text.contains("secadm"));
    assert!(!ro.text.contains("action=\"/console/accounts\""));
    let r = aud
        .post(
            "/console/accounts",
            &[
                ("username", "rec-x"),
                ("role", "recorder"),
                ("org_id", &s.branch.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let cross = sec
        .post_from(
            Some("https://evil.example"),
            &format!("/console/accounts/{other_admin}/reset"),
            &[],
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    app.token("admin2", PASSWORD).await;
}

#[tokio::test]
async fn rankings_by_period_filter_by_branch_and_page_on_the_server() {
    let (app, s) = setup().await;
    let mut people = Vec::new();
    for i in 0..52 {
        let org = if i < 51 { s.branch } else { s.other };
        let p = app
            .person(
                &s.admin_token,
                &format!("党员{i:02}"),
                &format!("139{i:08}"),
                org,
                "member",
            )
            .await;
        people.push(p);
    }
    for (i, p) in people.iter().enumerate() {
        // November for all, December for the first: the month's ranking differs.
        let points = u32::try_from(i % 5 + 1).expect("points");
        study(
            &app,
            &s.admin_token,
            *p,
            "2026-11-10T10:00:00+08:00",
            points,
        )
        .await;
    }
    study(
        &app,
        &s.admin_token,
        people[51],
        "2026-12-02T10:00:00+08:00",
        3,
    )
    .await;

    let committee = app.get("/api/v1/orgs", &s.admin_token).await.body[0]["id"]
        .as_i64()
        .expect("committee");
    let page = s
        .admin
        .get(&format!(
            "/console/rankings?org={committee}&year=2026&period=year"
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("共 52 人"), "{}", page.text);
    assert!(page.text.contains("第 1 / 2 页"));
    let next = page.text.contains("page=2");
    assert!(next, "a next page link");
    let p2 = s
        .admin
        .get(&format!(
            "/console/rankings?org={committee}&year=2026&period=year&page=2"
        ))
        .await;
    assert!(p2.text.contains("第 2 / 2 页"));
    assert_eq!(
        p2.text.matches("/console/people/").count(),
        2,
        "{}",
        p2.text
    );

    // December: only one person scored; the branch filter leaves B2 out.
    let dec = s
        .admin
        .get(&format!(
            "/console/rankings?org={committee}&year=2026&period=month&n=12"
        ))
        .await;
    assert!(dec.text.contains("党员51"));
    assert!(dec.text.contains("12月"));
    let b = s
        .admin
        .get(&format!(
            "/console/rankings?org={}&year=2026&period=quarter&n=4",
            s.branch
        ))
        .await;
    assert!(b.text.contains("共 51 人"), "{}", b.text);
    assert!(!b.text.contains("党员51"));

    // Out of scope and roles without scores.
    let out = s
        .secretary
        .get(&format!("/console/rankings?org={}", s.other))
        .await;
    assert_eq!(out.status, StatusCode::NOT_FOUND);
    let (aud, sec, _) = auditor_and_security(&app).await;
    let ro = aud
        .get(&format!("/console/rankings?org={committee}&year=2025"))
        .await;
    assert_eq!(ro.status, StatusCode::OK);
    assert!(!ro.text.contains("年度结账…"), "auditors close nothing");
    assert_eq!(
        sec.get("/console/rankings").await.status,
        StatusCode::FORBIDDEN,
        "security admins read no scores"
    );
    assert!(!sec.get("/console/").await.text.contains(">排名与结果</a>"));
}

#[tokio::test]
async fn year_close_confirmation_says_what_freezes_before_the_post() {
    let (app, s) = setup().await;
    let p = app
        .person(&s.admin_token, "李四", "13800000002", s.branch, "member")
        .await;
    study(&app, &s.admin_token, p, "2025-06-01T10:00:00+08:00", 4).await;
    let committee = app.get("/api/v1/orgs", &s.admin_token).await.body[0]["id"]
        .as_i64()
        .expect("committee");

    let running = s
        .admin
        .get(&format!(
            "/console/rankings/close?org={committee}&year=2026"
        ))
        .await;
    assert!(running.text.contains("尚未结束"));
    let ranking = s
        .admin
        .get(&format!("/console/rankings?org={committee}&year=2025"))
        .await;
    assert!(ranking.text.contains("2025 年度结账…"));
    let confirm = s
        .admin
        .get(&format!(
            "/console/rankings/close?org={committee}&year=2025"
        ))
        .await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.text);
    assert!(confirm.text.contains("结账后将冻结"));
    assert!(
        confirm.text.contains("<strong>1</strong> 名人员"),
        "{}",
        confirm.text
    );
    assert!(
        confirm.text.contains("title=\"XH-15.1\""),
        "the year-end rule"
    );

    let (aud, _, _) = auditor_and_security(&app).await;
    assert_eq!(
        aud.get(&format!(
            "/console/rankings/close?org={committee}&year=2025"
        ))
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let form = [
        ("org", committee.to_string()),
        ("year", "2025".to_owned()),
        ("form_id", "close-1".to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        aud.post("/console/rankings/close", &form).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.admin
            .post_from(
                Some("https://evil.example"),
                "/console/rankings/close",
                &form
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = app
        .put_policy(&s.admin_token, s.branch, 2025, "town-2019")
        .await;
    assert_eq!(r, StatusCode::OK, "still open before the close");

    app.confirmed_year_publicity(s.branch, 2025).await;
    let done = s.admin.post("/console/rankings/close", &form).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(done.text.contains("年度已结账"));
    let r = app
        .put_policy(&s.admin_token, s.branch, 2025, "xihu-2017")
        .await;
    assert_eq!(r, StatusCode::CONFLICT, "frozen");
}

#[tokio::test]
async fn fixed_days_page_lists_the_branches_that_missed_their_day() {
    let (app, s) = setup().await;
    // B meets on the 1st; B2 has no rule. November's day (Monday 2 November, moved
    // from Sunday the 1st) has passed without a fixed day.
    let r = s
        .admin
        .post(
            &format!("/console/orgs/{}/rule", s.branch),
            &[
                ("day_of_month", "1"),
                ("start_time", "14:00"),
                ("duration_minutes", "120"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let page = s.admin.get("/console/fixed-days?month=2026-11").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("1 个支部"), "{}", page.text);
    assert!(page.text.contains("未开展"));
    assert!(page.text.contains("未设规则"));
    assert!(page.text.contains("11月2日（顺延）"), "{}", page.text);

    let start = DateTime::parse_from_rfc3339("2026-11-02T14:00:00+08:00")
        .expect("t")
        .with_timezone(&Utc);
    crate::pages::fixed_day(&app, &s.admin_token, s.branch, "十一月主题党日", start).await;
    let page = s.admin.get("/console/fixed-days?month=2026-11").await;
    assert!(page.text.contains("没有逾期未开展的支部"), "{}", page.text);
    assert!(page.text.contains("十一月主题党日"));

    let filtered = s
        .admin
        .get(&format!(
            "/console/fixed-days?month=2026-11&org={}",
            s.other
        ))
        .await;
    assert!(!filtered.text.contains("十一月主题党日"));
    let out = s
        .secretary
        .get(&format!("/console/fixed-days?org={}", s.other))
        .await;
    assert_eq!(out.status, StatusCode::NOT_FOUND);
    let (aud, _, _) = auditor_and_security(&app).await;
    let ro = aud.get("/console/fixed-days?month=2026-11").await;
    assert_eq!(ro.status, StatusCode::OK);
    assert!(ro.text.contains("十一月主题党日"));
}

impl TestApp {
    async fn put_policy(&self, token: &str, org: i64, year: i32, policy: &str) -> StatusCode {
        self.request(
            reqwest::Method::PUT,
            &format!("/api/v1/orgs/{org}/policy"),
            Some(token),
            Some(json!({"year": year, "policy": policy})),
        )
        .await
        .status
    }
}
