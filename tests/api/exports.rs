//! Exports read back with another crate (calamine): the attendance sheet and the points
//! register (党员积分台账) carry the right figures, numbers as numbers, times as dates,
//! formula-like text neutralized, and no phone numbers.

use std::io::Cursor;

use calamine::{Data, DataType, Reader, Xlsx};
use chrono::{Duration, Utc};
use reqwest::{StatusCode, header};

use crate::helpers::{TestApp, spawn_app};
use crate::pages::{attended, branch, fixed_day};

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

fn sheet(bytes: &[u8]) -> calamine::Range<Data> {
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("xlsx");
    let name = book.sheet_names().first().cloned().expect("a sheet");
    book.worksheet_range(&name).expect("range")
}

fn row_of<'a>(range: &'a calamine::Range<Data>, name: &str) -> Vec<&'a Data> {
    range
        .rows()
        .find(|r| r.first() == Some(&Data::String(name.to_owned())))
        .unwrap_or_else(|| panic!("no row for {name}"))
        .iter()
        .collect()
}

#[tokio::test]
async fn attendance_and_points_register_xlsx_read_back_with_the_right_figures_xh_8_1() {
    let app = spawn_app().await;
    let b = branch(&app).await;
    let on_time = app
        .person(&b.admin, "李明", "13800000031", b.branch, "member")
        .await;
    let late = app
        .person(&b.admin, "=1+2", "13800000032", b.branch, "member")
        .await;
    app.person(&b.admin, "赵强", "13800000033", b.branch, "member")
        .await;
    let start = Utc::now() - Duration::minutes(30);
    let activity = fixed_day(&app, &b.admin, b.branch, "十二月主题党日", start).await;
    attended(&app, &b.admin, activity, on_time, start).await;
    attended(
        &app,
        &b.admin,
        activity,
        late,
        start + Duration::minutes(10),
    )
    .await;

    let (status, ty, bytes) = download(
        &app,
        &format!("/api/v1/activities/{activity}/attendance/export"),
        &b.secretary,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    assert!(ty.contains("spreadsheetml"), "{ty}");
    let range = sheet(&bytes);
    let header: Vec<String> = range
        .rows()
        .next()
        .expect("header")
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        header,
        [
            "姓名",
            "所在组织",
            "考勤",
            "签到时间",
            "签到方式",
            "积分",
            "请假"
        ]
    );
    assert_eq!(range.height(), 4, "three people and the header");
    let r = row_of(&range, "李明");
    assert_eq!(r[2], &Data::String("按时签到".into()));
    assert!(
        matches!(r[3], Data::DateTime(_)),
        "a date, not text: {:?}",
        r[3]
    );
    assert_eq!(r[5], &Data::Float(5.0));
    // Formula-like names are neutralized; the late one earned 3.
    let r = row_of(&range, "'=1+2");
    assert_eq!(r[2], &Data::String("迟到签到".into()));
    assert_eq!(r[5], &Data::Float(3.0));
    let r = row_of(&range, "赵强");
    assert_eq!(r[2], &Data::String("未签到".into()));
    assert_eq!(r[5], &Data::Empty);
    assert!(!String::from_utf8_lossy(&bytes).contains("13800000031"));

    // CSV: the same figures, exact.
    let (status, ty, csv) = download(
        &app,
        &format!("/api/v1/activities/{activity}/attendance/export?format=csv"),
        &b.secretary,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(ty.starts_with("text/csv"));
    let text = String::from_utf8(csv).expect("utf-8");
    assert!(text.starts_with('\u{feff}'));
    assert!(
        text.lines()
            .any(|l| l.starts_with("李明,B 组织,按时签到,") && l.ends_with(",5,")),
        "{text}"
    );
    assert!(!text.contains("1380000003"), "no phones");

    // The branch's points register (党员积分台账, the official form): a row per member
    // and month, the month's points and the running total.
    let (status, _, bytes) = download(
        &app,
        &format!("/api/v1/orgs/{}/register/export", b.branch),
        &b.secretary,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    let range = sheet(&bytes);
    let header: Vec<String> = range
        .rows()
        .next()
        .expect("header")
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        header,
        [
            "姓名",
            "月份",
            "基础积分",
            "专项积分",
            "扣分",
            "当月合计",
            "累计",
            "季度排名"
        ]
    );
    let month = format!(
        "{}月",
        chrono::Datelike::month(&chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai))
    );
    let r = range
        .rows()
        .find(|r| r[0] == Data::String("李明".into()) && r[1] == Data::String(month.clone()))
        .expect("李明's month");
    assert_eq!(r[2], Data::Float(5.0), "XH-8.1 on time");
    assert_eq!(r[5], Data::Float(5.0));
    assert_eq!(r[6], Data::Float(5.0));
    let total: f64 = range.rows().skip(1).filter_map(|r| r[5].get_float()).sum();
    assert_eq!(total, 8.0);
    assert!(
        range
            .rows()
            .all(|r| !r.iter().any(|c| c.to_string().contains("1380000003"))),
        "no phones"
    );

    // Another branch's secretary gets nothing.
    let (_, other) = app
        .account(&b.admin, "sec-o", "secretary", Some(b.other))
        .await;
    let (status, _, _) = download(
        &app,
        &format!("/api/v1/activities/{activity}/attendance/export"),
        &other,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = download(
        &app,
        &format!("/api/v1/orgs/{}/register/export", b.branch),
        &other,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
