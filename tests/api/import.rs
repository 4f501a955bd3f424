use reqwest::StatusCode;

use crate::helpers::{TestApp, spawn_app};

async fn setup(app: &TestApp) -> (String, i64, i64) {
    let admin = app.admin_token().await;
    let c = app.org(&admin, "XH", "committee", None).await;
    let a = app.org(&admin, "ZB001", "branch", Some(c)).await;
    let b = app.org(&admin, "ZB002", "branch", Some(c)).await;
    (admin, a, b)
}

const GOOD: &str = "姓名,手机号,支部编码,类别,编号\n张三,13800138001,ZB001,正式党员,P001\n李四,13800138002,ZB001,预备党员,\n王五,13800138003,ZB002,入党积极分子,P003\n";

async fn import(app: &TestApp, token: &str, csv: &str, dry_run: bool) -> crate::helpers::Response {
    app.post_bytes(
        &format!("/api/v1/imports/roster?dry_run={dry_run}"),
        token,
        "text/csv",
        csv.as_bytes().to_vec(),
    )
    .await
}

async fn count_people(app: &TestApp, token: &str) -> usize {
    app.get("/api/v1/people?limit=500", token).await.body["items"]
        .as_array()
        .map_or(0, Vec::len)
}

#[tokio::test]
async fn dry_run_lists_every_bad_row_and_changes_nothing() {
    let app = spawn_app().await;
    let (admin, _, _) = setup(&app).await;
    let csv = "姓名,手机号,支部编码,类别,编号\n张三,13800138001,ZB001,正式党员,P001\n,13800138002,ZB001,预备党员,\n王五,1380013800,ZB009,党员,P003\n赵六,13800138001,ZB001,发展对象,P001\n";
    let r = import(&app, &admin, csv, true).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let errors = r.body["errors"].as_array().expect("errors").clone();
    let found: Vec<(i64, &str)> = errors
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap_or(0),
                e["column"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(found.contains(&(3, "姓名")), "{found:?}");
    assert!(found.contains(&(4, "手机号")), "{found:?}");
    assert!(found.contains(&(4, "支部编码")), "{found:?}");
    assert!(found.contains(&(4, "类别")), "{found:?}");
    assert!(
        found.contains(&(5, "编号")) && found.contains(&(5, "手机号")),
        "duplicates of row 2: {found:?}"
    );
    let dup = errors
        .iter()
        .find(|e| e["row"] == 5 && e["column"] == "编号")
        .expect("dup");
    assert!(
        dup["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("第 2 行"),
        "{dup}"
    );
    assert_eq!(count_people(&app, &admin).await, 0);
}

#[tokio::test]
async fn a_real_run_is_all_or_nothing() {
    let app = spawn_app().await;
    let (admin, _, _) = setup(&app).await;
    let csv = format!("{GOOD}坏行,abc,ZB001,正式党员,\n");
    let r = import(&app, &admin, &csv, false).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["errors"][0]["row"], 5);
    assert_eq!(r.body["errors"][0]["field"], "手机号");
    assert_eq!(
        count_people(&app, &admin).await,
        0,
        "the good rows were not written either"
    );
}

#[tokio::test]
async fn reimporting_is_idempotent_and_a_changed_row_updates_that_person() {
    let app = spawn_app().await;
    let (admin, a, b) = setup(&app).await;
    let r = import(&app, &admin, GOOD, false).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        (r.body["created"].as_i64(), r.body["updated"].as_i64()),
        (Some(3), Some(0))
    );
    let r = import(&app, &admin, GOOD, false).await;
    assert_eq!(
        (
            r.body["created"].as_i64(),
            r.body["updated"].as_i64(),
            r.body["unchanged"].as_i64()
        ),
        (Some(0), Some(0), Some(3))
    );
    assert_eq!(count_people(&app, &admin).await, 3);
    // 张三 (P001) moves to ZB002 and becomes probationary... and 李四, known by phone, gets an 编号.
    let changed = "姓名,手机号,支部编码,类别,编号\n张三,13800138009,ZB002,预备党员,P001\n李四,13800138002,ZB001,正式党员,P002\n王五,13800138003,ZB002,入党积极分子,P003\n";
    let r = import(&app, &admin, changed, false).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        (
            r.body["created"].as_i64(),
            r.body["updated"].as_i64(),
            r.body["unchanged"].as_i64()
        ),
        (Some(0), Some(2), Some(1))
    );
    let people = app.get("/api/v1/people?q=张三", &admin).await;
    let zhang = &people.body["items"][0];
    assert_eq!(zhang["org_id"], b);
    assert_eq!(zhang["role"], "probationary");
    assert_eq!(zhang["phone_masked"], "138****8009");
    let id = zhang["id"].as_i64().expect("id");
    let h = app
        .get(&format!("/api/v1/people/{id}/history"), &admin)
        .await;
    let kinds: Vec<&str> = h
        .body
        .as_array()
        .expect("h")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(kinds, vec!["role", "transfer"]);
    let li = app.get("/api/v1/people?q=李四", &admin).await;
    assert_eq!(li.body["items"][0]["external_id"], "P002");
    assert_eq!(li.body["items"][0]["org_id"], a);
}

#[tokio::test]
async fn xlsx_rosters_import_like_csv_and_templates_download() {
    let app = spawn_app().await;
    let (admin, _, _) = setup(&app).await;
    let template = app
        .client
        .get(format!(
            "{}/api/v1/imports/roster/template.xlsx",
            app.address
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("sent");
    assert_eq!(template.status(), StatusCode::OK);
    assert!(template.bytes().await.expect("bytes").starts_with(b"PK"));
    let csv = app
        .client
        .get(format!(
            "{}/api/v1/imports/roster/template.csv",
            app.address
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("sent");
    assert!(
        csv.text()
            .await
            .expect("text")
            .contains("姓名,手机号,支部编码,类别,编号")
    );

    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in (0u16..).zip(["编号", "姓名", "类别", "手机号", "支部编码", "备注"])
    {
        sheet.write_string(0, c, h).expect("write");
    }
    sheet.write_string(1, 0, "X01").expect("w");
    sheet.write_string(1, 1, "孙八").expect("w");
    sheet.write_string(1, 2, "发展对象").expect("w");
    sheet.write_number(1, 3, 13811112222.0).expect("w");
    sheet.write_string(1, 4, "ZB001").expect("w");
    sheet.write_string(2, 1, "周九").expect("w");
    sheet.write_string(2, 2, "正式党员").expect("w");
    sheet.write_string(2, 3, "138").expect("w");
    sheet.write_string(2, 4, "ZB001").expect("w");
    let bytes = book.save_to_buffer().expect("xlsx");
    let r = app
        .post_bytes(
            "/api/v1/imports/roster?dry_run=true",
            &admin,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            bytes.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["errors"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r.text
    );
    assert_eq!(r.body["errors"][0]["row"], 3);
    assert_eq!(r.body["created"], 1);
}

#[tokio::test]
async fn a_secretary_cannot_import_and_scoped_admins_only_into_their_subtree() {
    let app = spawn_app().await;
    let (admin, a, _) = setup(&app).await;
    let (_, sec) = app.account(&admin, "sec-a", "secretary", Some(a)).await;
    let r = import(&app, &sec, GOOD, true).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post_bytes("/api/v1/imports/roster", &admin, "text/csv", Vec::new())
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = import(&app, &admin, "名字,电话\n张三,1\n", true).await;
    assert_eq!(
        r.body["errors"][0]["row"], 1,
        "missing headers are reported on row 1: {}",
        r.text
    );
}
