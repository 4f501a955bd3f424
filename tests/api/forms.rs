//! The official forms (issue #12, item 5) produced for the demo data (`vanguard demo`),
//! as XLSX read back with calamine (not the writer's crate) and as CSV: the headers
//! exactly, the figures (category sums, counts, 五星占比, 累计, 季度排名 with ties),
//! scope, and the refusals (unknown year, unknown org, a form the policy has no use for).

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::TimeZone;
use reqwest::{StatusCode, header};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::console::{Desk, PASSWORD};
use crate::helpers::{TestApp, spawn_app};

/// The demo on a fixed day: 4 December 2026, noon in Beijing (Q1–Q3 over, Q4 not).
async fn demo(app: &TestApp) -> vanguard::demo::FormsDemo {
    let now = chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, 12, 4, 12, 0, 0)
        .single()
        .expect("time")
        .with_timezone(&chrono::Utc);
    app.state.clock.set(now);
    vanguard::demo::run(&app.state, 2, false)
        .await
        .expect("demo seeds")
        .forms
}

async fn download(app: &TestApp, path: &str, token: &str) -> (StatusCode, String, Vec<u8>) {
    let res = app
        .client
        .get(format!("{}{path}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .expect("download");
    let status = res.status();
    let ty = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, ty, res.bytes().await.expect("bytes").to_vec())
}

fn book(bytes: &[u8]) -> Xlsx<Cursor<Vec<u8>>> {
    calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("xlsx")
}

fn header_of(range: &calamine::Range<Data>) -> Vec<String> {
    range
        .rows()
        .next()
        .expect("header")
        .iter()
        .map(|c| c.to_string())
        .collect()
}

fn row_of<'a>(range: &'a calamine::Range<Data>, col: usize, key: &str) -> &'a [Data] {
    range
        .rows()
        .find(|r| r.get(col) == Some(&Data::String(key.to_owned())))
        .unwrap_or_else(|| panic!("no row for {key}"))
}

fn num(d: &Data) -> f64 {
    match d {
        Data::Float(f) => *f,
        Data::Int(i) => *i as f64,
        other => panic!("not a number: {other:?}"),
    }
}

fn csv_lines(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8(bytes.to_vec()).expect("utf-8");
    assert!(text.starts_with('\u{feff}'), "a BOM");
    text.trim_start_matches('\u{feff}')
        .lines()
        .map(str::to_owned)
        .collect()
}

async fn ok(app: &TestApp, path: &str, token: &str) -> Vec<u8> {
    let (status, ty, bytes) = download(app, path, token).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{path}: {}",
        String::from_utf8_lossy(&bytes)
    );
    if path.ends_with("csv") {
        assert!(ty.starts_with("text/csv"), "{ty}");
    } else {
        assert!(ty.contains("spreadsheetml"), "{ty}");
    }
    bytes
}

const REGISTRATION: [&str; 10] = [
    "序号",
    "姓名",
    "党员类别",
    "基础积分",
    "贡献积分",
    "加分",
    "扣分",
    "年度积分",
    "星级",
    "备注",
];

#[tokio::test]
async fn sd_1_sd_6_sd_7_registration_form_one_sheet_per_branch_with_category_points() {
    let app = spawn_app().await;
    let d = demo(&app).await;
    let admin = app.admin_token().await;
    let path = format!(
        "/api/v1/orgs/{}/forms/registration/{}/export",
        d.general_branch_id, d.year
    );
    let bytes = ok(&app, &path, &admin).await;
    let mut wb = book(&bytes);
    assert_eq!(
        wb.sheet_names(),
        vec!["演示第一党支部".to_owned(), "演示第二党支部".to_owned()]
    );
    let one = wb.worksheet_range("演示第一党支部").expect("sheet");
    assert_eq!(header_of(&one), REGISTRATION);
    assert_eq!(one.rows().count(), 7, "a header and six members");
    // 序号, 姓名, 党员类别, 基础, 贡献, 加分, 扣分, 年度, 星级, 备注
    // 姓名, 党员类别, 基础积分, 贡献积分, 年度积分, 星级
    type Expected<'a> = (&'a str, &'a str, f64, f64, f64, Option<f64>);
    let expect: [Expected; 5] = [
        ("王建国", "正式党员", 70.0, 25.0, 95.0, Some(5.0)),
        // Base asked 72: SD-1's category cap grants 70.
        ("李秀英", "正式党员", 70.0, 18.0, 88.0, Some(4.0)),
        ("张磊", "预备党员", 65.0, 20.0, 85.0, Some(4.0)),
        ("刘洋", "正式党员", 56.0, 16.0, 72.0, Some(3.0)),
        ("陈静", "正式党员", 50.0, 5.0, 55.0, Some(1.0)),
    ];
    for (i, (name, kind, base, contribution, total, stars)) in expect.iter().enumerate() {
        let r = row_of(&one, 1, name);
        assert_eq!(num(&r[0]), (i + 1) as f64, "序号 of {name}");
        assert_eq!(r[2], Data::String((*kind).into()));
        assert_eq!(num(&r[3]), *base, "基础积分 of {name}");
        assert_eq!(num(&r[4]), *contribution, "贡献积分 of {name}");
        assert_eq!(num(&r[7]), *total, "年度积分 of {name}");
        assert_eq!(r.get(8).map(num), *stars, "星级 of {name}");
    }
    // SD-7: the exempt member has no stars and says why.
    let exempt = row_of(&one, 1, "赵德明");
    assert_eq!(exempt[8], Data::Empty);
    assert_eq!(exempt[9], Data::String("免评".into()));
    // Every row adds up: categories + 加分 − 扣分 = 年度积分.
    let two = wb.worksheet_range("演示第二党支部").expect("sheet");
    for sheet in [&one, &two] {
        for r in sheet.rows().skip(1) {
            if r[9] == Data::String("免评".into()) {
                continue;
            }
            assert_eq!(
                num(&r[3]) + num(&r[4]) + num(&r[5]) - num(&r[6]),
                num(&r[7]),
                "{r:?}"
            );
        }
    }
    // SD-1's negative list: the year's score is 0, and the clearing is a deduction.
    let vetoed = row_of(&two, 1, "冯雪");
    assert_eq!(num(&vetoed[7]), 0.0);
    assert_eq!(vetoed[9], Data::String("一票否决，年度积分为零".into()));
    assert_eq!(num(&row_of(&two, 1, "孙丽")[7]), 98.0);

    // CSV: one table, a leading 支部 column.
    let csv = ok(&app, &format!("{path}?format=csv"), &admin).await;
    let lines = csv_lines(&csv);
    assert_eq!(lines[0], format!("支部,{}", REGISTRATION.join(",")));
    assert_eq!(lines.len(), 1 + 6 + 5);
    assert!(
        lines.contains(&"演示第一党支部,1,王建国,正式党员,70,25,0,0,95,5,".to_owned()),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(
            |l| l.starts_with("演示第二党支部,5,冯雪,") && l.contains(",0,,一票否决")
                || l.starts_with("演示第二党支部,5,冯雪,") && l.ends_with("一票否决，年度积分为零")
        ),
        "{lines:?}"
    );
}

#[tokio::test]
async fn sd_6_star_statistics_form_counts_members_stars_and_the_five_star_share() {
    let app = spawn_app().await;
    let d = demo(&app).await;
    let admin = app.admin_token().await;
    let path = format!(
        "/api/v1/orgs/{}/forms/stars/{}/export",
        d.general_branch_id, d.year
    );
    let bytes = ok(&app, &path, &admin).await;
    let mut wb = book(&bytes);
    let name = wb.sheet_names().first().cloned().expect("sheet");
    let range = wb.worksheet_range(&name).expect("range");
    assert_eq!(
        header_of(&range),
        [
            "支部",
            "党员总数",
            "参评人数",
            "免评人数",
            "五星",
            "四星",
            "三星",
            "二星",
            "一星",
            "零星",
            "五星占比",
            "备注"
        ]
    );
    let counts = |r: &[Data]| -> Vec<f64> { r[1..10].iter().map(num).collect() };
    let one = row_of(&range, 0, "演示第一党支部");
    assert_eq!(counts(one), [6.0, 5.0, 1.0, 1.0, 2.0, 1.0, 0.0, 1.0, 0.0]);
    assert_eq!(num(&one[10]), 0.2, "1 of 5 taking part");
    assert_eq!(one[11], Data::String("年度未结账，为当前积分".into()));
    let two = row_of(&range, 0, "演示第二党支部");
    // 孙丽 98 and 周强 91 both at 5★ before the quota; 郑海 0★, 冯雪 vetoed (零星).
    assert_eq!(counts(two), [5.0, 5.0, 0.0, 2.0, 0.0, 0.0, 1.0, 0.0, 2.0]);
    assert_eq!(num(&two[10]), 0.4);
    assert!(
        two[11].to_string().contains("五星占比超过 20%"),
        "{:?}",
        two[11]
    );
    let total = row_of(&range, 0, "合计");
    assert_eq!(
        counts(total),
        [11.0, 10.0, 1.0, 3.0, 2.0, 1.0, 1.0, 1.0, 2.0]
    );
    assert_eq!(num(&total[10]), 0.3);
    // The star counts add up to those taking part, row by row.
    for r in range.rows().skip(1) {
        let c = counts(r);
        assert_eq!(c[3..9].iter().sum::<f64>(), c[1], "{r:?}");
        assert_eq!(c[1] + c[2], c[0], "{r:?}");
    }
    let csv = csv_lines(&ok(&app, &format!("{path}?format=csv"), &admin).await);
    assert_eq!(csv.len(), 4);
    assert!(
        csv.contains(
            &"合计,11,10,1,3,2,1,1,1,2,30.00%,五星占比超过 20%，须有记录在案的理由；年度未结账，为当前积分"
                .to_owned()
        ),
        "{csv:?}"
    );
}

/// The erqi branch's months: 马超 and 黄蓉 tie every quarter (11 each), so both are
/// first and 郭靖 third; 杨过 is fourth.
#[tokio::test]
async fn eq_4_monthly_ledger_form_running_totals_and_quarter_places_with_ties() {
    let app = spawn_app().await;
    let d = demo(&app).await;
    let admin = app.admin_token().await;
    let path = format!(
        "/api/v1/orgs/{}/forms/ledger/{}/export",
        d.erqi_branch_id, d.year
    );
    let bytes = ok(&app, &path, &admin).await;
    let mut wb = book(&bytes);
    assert_eq!(wb.sheet_names(), vec!["演示二七党支部".to_owned()]);
    let range = wb.worksheet_range("演示二七党支部").expect("sheet");
    let headers = [
        "姓名",
        "月份",
        "基础积分",
        "专项积分",
        "扣分",
        "当月合计",
        "累计",
        "季度排名",
    ];
    assert_eq!(header_of(&range), headers);
    assert_eq!(range.rows().count(), 1 + 4 * 12);
    let month = |name: &str, m: u32| -> Vec<Data> {
        range
            .rows()
            .find(|r| r[0] == Data::String(name.into()) && r[1] == Data::String(format!("{m}月")))
            .unwrap_or_else(|| panic!("{name} {m}月"))
            .to_vec()
    };
    // 马超 in February: dues 1 + study 2 (基础), an innovative activity 2 (专项).
    let r = month("马超", 2);
    assert_eq!(
        r[2..7].iter().map(num).collect::<Vec<_>>(),
        [3.0, 2.0, 0.0, 5.0, 8.0]
    );
    // 郭靖 in February: dues 1, an absence without leave −1.
    let r = month("郭靖", 2);
    assert_eq!(
        r[2..7].iter().map(num).collect::<Vec<_>>(),
        [1.0, 0.0, 1.0, 0.0, 3.0]
    );
    // 杨过 in March: dues 1, an absence with leave −0.5.
    let r = month("杨过", 3);
    assert_eq!(
        r[2..8].iter().map(num).collect::<Vec<_>>(),
        [1.0, 0.0, 0.5, 0.5, 2.5, 4.0]
    );
    // Quarter places on each quarter's last month, ties sharing a place (1, 1, 3, 4).
    for m in [3, 6, 9] {
        assert_eq!(num(&month("马超", m)[7]), 1.0, "马超 {m}月");
        assert_eq!(num(&month("黄蓉", m)[7]), 1.0, "黄蓉 {m}月");
        assert_eq!(num(&month("郭靖", m)[7]), 3.0, "郭靖 {m}月");
        assert_eq!(num(&month("杨过", m)[7]), 4.0, "杨过 {m}月");
    }
    // Other months carry no place; the fourth quarter is not over on 4 December.
    assert_eq!(month("马超", 2)[7], Data::Empty);
    assert_eq!(month("马超", 12)[7], Data::Empty);
    // 累计 is the running sum of 当月合计, and December's equals the year's score.
    let scores: std::collections::HashMap<&str, f64> = [
        ("马超", 44.0),
        ("黄蓉", 44.0),
        ("郭靖", 22.0),
        ("杨过", 11.5),
    ]
    .into();
    for (name, year_total) in &scores {
        let mut running = 0.0;
        for m in 1..=12 {
            let r = month(name, m);
            assert_eq!(num(&r[2]) + num(&r[3]) - num(&r[4]), num(&r[5]));
            running += num(&r[5]);
            assert_eq!(num(&r[6]), running, "{name} {m}月");
        }
        assert_eq!(running, *year_total, "{name}");
    }

    // The same file from the register path, and the CSV with a leading 支部 column.
    let csv = csv_lines(
        &ok(
            &app,
            &format!(
                "/api/v1/orgs/{}/register/export?year={}&format=csv",
                d.erqi_branch_id, d.year
            ),
            &admin,
        )
        .await,
    );
    assert_eq!(csv[0], format!("支部,{}", headers.join(",")));
    assert!(
        csv.contains(&"演示二七党支部,马超,3月,3,0,0,3,11,1".to_owned()),
        "{csv:?}"
    );
    assert!(
        csv.contains(&"演示二七党支部,杨过,3月,1,0,0.5,0.5,2.5,4".to_owned()),
        "{csv:?}"
    );
}

#[tokio::test]
async fn forms_are_scoped_and_refuse_unknown_years_orgs_and_unfit_policies() {
    let app = spawn_app().await;
    let d = demo(&app).await;
    let admin = app.admin_token().await;
    let (b1, b2) = (d.branch_ids[0], d.branch_ids[1]);
    let (_, sec) = app.account(&admin, "sec-sd1", "secretary", Some(b1)).await;
    let form = |org: i64, key: &str| format!("/api/v1/orgs/{org}/forms/{key}/{}/export", d.year);

    // The secretary's own branch: one sheet, six members.
    let bytes = ok(&app, &form(b1, "registration"), &sec).await;
    let mut wb = book(&bytes);
    assert_eq!(wb.sheet_names(), vec!["演示第一党支部".to_owned()]);
    assert_eq!(
        wb.worksheet_range("演示第一党支部")
            .expect("sheet")
            .rows()
            .count(),
        7
    );
    // Another branch, the general branch, the committee: refused like the rest of the API.
    for org in [b2, d.general_branch_id, d.committee_id] {
        for key in ["registration", "stars", "ledger"] {
            let (status, _, body) = download(&app, &form(org, key), &sec).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{org} {key}");
            assert!(!String::from_utf8_lossy(&body).contains("王建国"));
        }
    }
    let (status, _, _) = download(
        &app,
        &format!("/api/v1/orgs/{b2}/register/export?year={}", d.year),
        &sec,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // An unknown organization, year or form: a Chinese problem.
    let r = app.get(&form(999_999, "registration"), &admin).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = app
        .get(
            &format!("/api/v1/orgs/{b1}/forms/registration/2019/export"),
            &admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(r.body["code"], "not_found");
    assert_eq!(r.body["detail"], "演示第一党支部没有 2019 年度的积分记录");
    let r = app
        .get(
            &format!("/api/v1/orgs/{b1}/forms/registration/1899/export"),
            &admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("年份须在")
    );
    let r = app
        .get(
            &format!("/api/v1/orgs/{b1}/forms/scorecard/{}/export", d.year),
            &admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("报表")
    );
    let r = app
        .get(
            &format!("/api/v1/orgs/{b1}/forms/registration/abc/export"),
            &admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("参数格式不对")
    );
    // erqi-2021 has neither SD-1's categories… it has base and special, but no stars.
    let r = app.get(&form(d.erqi_branch_id, "stars"), &admin).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["code"], "form_not_applicable");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("不评星级")
    );

    // Each export is audited, with the form and the year.
    let rows = entity::audit_log::Entity::find()
        .filter(entity::audit_log::Column::Action.eq("export_form_registration"))
        .all(&app.state.db)
        .await
        .expect("audit");
    assert_eq!(rows.len(), 1, "only the download that succeeded: {rows:?}");
    assert_eq!(rows[0].actor_name, "sec-sd1");
    assert!(
        rows[0]
            .after
            .as_deref()
            .unwrap_or_default()
            .contains("\"year\":2026")
    );
}

#[tokio::test]
async fn forms_catalogue_lists_every_form_with_its_columns_in_the_api_and_the_console() {
    let app = spawn_app().await;
    let d = demo(&app).await;
    let admin = app.admin_token().await;
    let r = app.get("/api/v1/forms", &admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let list = r.body.as_array().expect("a list");
    let titles: Vec<&str> = list.iter().filter_map(|f| f["title"].as_str()).collect();
    assert_eq!(
        titles,
        [
            "党员积分量化登记表",
            "党员积分量化星级评定情况统计表",
            "党员积分台账",
            "基层党支部标准化建设考评表",
            "年度积分结果名单"
        ]
    );
    assert_eq!(list[0]["columns"], serde_json::json!(REGISTRATION));
    assert_eq!(list[0]["preset"], "sdtbu-2018");
    assert_eq!(list[2]["preset"], "erqi-2021");
    assert_eq!(
        list[4]["columns"],
        serde_json::json!(["姓名", "支部", "年度积分", "星级或等次", "是否免评"])
    );

    // The console's 报表 page, for the demo's forms login.
    let desk = Desk::new(&app);
    app.operator_account("chief", vanguard::auth::Role::Admin, None)
        .await;
    let r = desk.login("chief", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let page = desk
        .get(&format!(
            "/console/reports?org={}&year={}",
            d.general_branch_id, d.year
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    for t in titles {
        assert!(page.text.contains(t), "{t}");
    }
    assert!(page.text.contains("<li>贡献积分</li>"));
    assert!(page.text.contains("<li>季度排名</li>"));
    assert!(page.text.contains("<li>扣分原因与佐证</li>"));
    assert!(page.text.contains("003_d39635d807a8fb0a.txt 附件二"));
    assert!(page.text.contains(&format!(
        "/console/reports/download?form=registration&amp;org={}&amp;year={}&amp;format=csv",
        d.general_branch_id, d.year
    )));
    let file = desk
        .get(&format!(
            "/console/reports/download?form=registration&org={}&year={}&format=csv",
            d.general_branch_id, d.year
        ))
        .await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.text);
    assert!(
        file.text
            .trim_start_matches('\u{feff}')
            .starts_with("支部,序号,姓名,党员类别,基础积分,贡献积分")
    );

    // A secretary of the first branch: the page, their branch only.
    let (_, _) = app
        .account(&admin, "sec-sd1", "secretary", Some(d.branch_ids[0]))
        .await;
    let sec = Desk::new(&app);
    let r = sec.login("sec-sd1", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let page = sec.get("/console/reports").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text.contains("aria-current=\"page\">报表</a>"),
        "in the navigation"
    );
    assert!(page.text.contains("演示第一党支部"));
    assert!(!page.text.contains("演示第二党支部"));
    let other = sec
        .get(&format!(
            "/console/reports/download?form=registration&org={}&year={}&format=csv",
            d.branch_ids[1], d.year
        ))
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert!(!other.text.contains("孙丽"));
}
