//! Reminders and alerts sent once across instances (#11 item 12): the day before a fixed
//! activity day to members who have not switched it off, and to the superior
//! organization when a branch with a fixed-day rule held no fixed day in a month.

use chrono::{TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use reqwest::StatusCode;

use crate::console::staff;
use crate::helpers::spawn_app;
use crate::pages::{Phone, branch, fixed_day};

fn shanghai(y: i32, m: u32, d: u32, h: u32) -> chrono::DateTime<Utc> {
    Shanghai
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn the_day_before_a_fixed_day_members_are_reminded_once_unless_they_switched_it_off() {
    let app = spawn_app().await;
    let b = branch(&app).await;
    let on = app
        .person(&b.admin, "提醒甲", "13800000301", b.branch, "member")
        .await;
    let off = app
        .person(&b.admin, "提醒乙", "13800000302", b.branch, "member")
        .await;
    app.bind(on, "o-remind-on").await;
    app.bind(off, "o-remind-off").await;
    // Not expected at this branch's day: another branch's member.
    let elsewhere = app
        .person(&b.admin, "提醒丙", "13800000303", b.other, "member")
        .await;
    app.bind(elsewhere, "o-remind-elsewhere").await;

    let phone = Phone::new(&app);
    phone.sign_in("o-remind-off", "/m/").await;
    let home = phone.get("/m/").await;
    assert!(
        home.text.contains("主题党日前一天提醒：已开启"),
        "{}",
        home.text
    );
    let bad = phone
        .post("/m/settings/reminders", &[("fixed_day_reminder", "maybe")])
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let r = phone
        .post("/m/settings/reminders", &[("fixed_day_reminder", "off")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(
        phone
            .get("/m/")
            .await
            .text
            .contains("主题党日前一天提醒：已关闭"),
        "the member sees their choice"
    );

    app.state.clock.set(shanghai(2026, 12, 9, 8));
    fixed_day(
        &app,
        &b.secretary,
        b.branch,
        "十二月主题党日",
        shanghai(2026, 12, 10, 14),
    )
    .await;
    let early = vanguard::notify::reminders::run_once(&app.state)
        .await
        .expect("round");
    assert_eq!(early.reminded, 0, "nobody is reminded before 09:00");

    app.state.clock.set(shanghai(2026, 12, 9, 10));
    // Two instances run the same round at once: one message.
    let (x, y) = tokio::join!(
        vanguard::notify::reminders::run_once(&app.state),
        vanguard::notify::reminders::run_once(&app.state),
    );
    assert_eq!(x.expect("x").reminded + y.expect("y").reminded, 1);
    let again = vanguard::notify::reminders::run_once(&app.state)
        .await
        .expect("round");
    assert_eq!(again.reminded, 0, "once");
    let inbox = |openid: &'static str| {
        let phone = &phone;
        async move {
            phone
                .get(&format!("/sandbox/phone?openid={openid}"))
                .await
                .text
                .matches("[模板消息] reminder")
                .count()
        }
    };
    assert_eq!(inbox("o-remind-on").await, 1);
    assert_eq!(
        inbox("o-remind-off").await,
        0,
        "switched off: no forced notices"
    );
    assert_eq!(inbox("o-remind-elsewhere").await, 0, "not expected there");
}

#[tokio::test]
async fn a_branch_that_held_no_fixed_day_in_a_month_alerts_the_superior_organization_once() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    app.state.clock.set(shanghai(2026, 10, 20, 10));
    let r = s
        .secretary
        .post(
            &format!("/console/orgs/{}/rule", s.branch),
            &[("day_of_month", "15"), ("start_time", "14:00")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);

    // October: the rule was set during the month, so October's day was not expected.
    app.state.clock.set(shanghai(2026, 11, 2, 10));
    let round = vanguard::notify::reminders::run_once(&app.state)
        .await
        .expect("round");
    assert_eq!(round.alerts, 0, "{round:?}");

    // November passed with no fixed day: one alert, however many rounds and instances.
    app.state.clock.set(shanghai(2026, 12, 1, 10));
    let (x, y) = tokio::join!(
        vanguard::notify::reminders::run_once(&app.state),
        vanguard::notify::reminders::run_once(&app.state),
    );
    assert_eq!(x.expect("x").alerts + y.expect("y").alerts, 1);
    let home = s.admin.get("/console/").await;
    assert_eq!(
        home.text.matches("2026年11月未开展主题党日").count(),
        1,
        "{}",
        home.text
    );
    // The alert is for the superior organization, not the branch that missed.
    let own = s.secretary.get("/console/").await;
    assert!(!own.text.contains("未开展主题党日"), "{}", own.text);
}
