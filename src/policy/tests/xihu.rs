//! xihu-2017, rule by rule (RULES.md XH-…).

use super::*;
use ActivityKind::*;

fn xihu() -> Kit {
    Kit::new("xihu-2017")
}

// ---- Fortress index ----

// XH-5.1
#[test]
fn xh_5_1_each_activity_held_is_5_points() {
    let mut k = xihu();
    k.activity(Meeting, "2026-03-10 14:00", None);
    k.activity(FixedDay, "2026-04-16 14:00", None);
    let e = k.eval_org(B1);
    assert_eq!(e.result().unwrap().score, Some(dec("10")));
    assert!(
        e.postings
            .iter()
            .all(|p| &*p.rule_id == "XH-5.1" && p.points_granted == dec("5"))
    );
    assert_eq!(e.result().unwrap().index.as_ref(), "fortress");
}

// XH-5.3
#[test]
fn xh_5_3_several_activities_on_one_day_all_count() {
    let mut k = xihu();
    k.activity(Meeting, "2026-03-10 09:00", None);
    k.activity(Training, "2026-03-10 14:00", None);
    k.activity(Cultural, "2026-03-10 19:00", None);
    assert_eq!(k.org_score(B1), dec("15"));
}

// XH-5.2
#[test]
fn xh_5_2_business_registration_is_2_points() {
    let mut k = xihu();
    k.org_item(B1, "dues_record", "2026-03-02 10:00");
    k.org_item(B1, "condolence_record", "2026-03-03 10:00");
    k.org_item(B1, "care_fund_record", "2026-03-04 10:00");
    assert_eq!(k.org_score(B1), dec("6"));
}

// XH-5.4
#[test]
fn xh_5_4_same_business_again_the_same_day_counts_once() {
    let mut k = xihu();
    let a = k.org_item(B1, "dues_record", "2026-03-02 10:00");
    let b = k.org_item(B1, "dues_record", "2026-03-02 15:00");
    k.org_item(B1, "condolence_record", "2026-03-02 16:00");
    k.org_item(B1, "dues_record", "2026-03-03 09:00");
    let e = k.eval_org(B1);
    assert_eq!(granted(&e, a), dec("2"));
    let lost = posting_of(&e, b);
    assert_eq!((lost.points_granted, &*lost.rule_id), (dec("0"), "XH-5.4"));
    assert_eq!(e.result().unwrap().score, Some(dec("6")));
}

// XH-6
#[test]
fn xh_6_registered_after_two_working_days_is_halved() {
    let mut k = xihu();
    // Ended Tuesday 2026-03-10 16:00: the deadline is the end of Thursday 03-12.
    let start = t("2026-03-10 14:00");
    let end = t("2026-03-10 16:00");
    let on_time = k.activity_full(B1, Meeting, start, end, t("2026-03-12 23:59:59"), Some("2"));
    let late = k.activity_full(B1, Meeting, start, end, t("2026-03-13 00:00"), Some("2"));
    let e = k.eval_org(B1);
    let of = |a: ActivityId| {
        e.postings
            .iter()
            .find(|p| p.source == Source::Activity(a))
            .unwrap()
    };
    assert_eq!(of(on_time).points_granted, dec("5"));
    assert_eq!(of(late).points_granted, dec("2.5"));
    assert!(of(late).applied.iter().any(|r| &**r == "XH-6"));
    assert!(of(late).note.contains("XH-6"), "{}", of(late).note);

    // Members taking part are not affected: XH-8.2 gives the branch's points in full.
    let m = k.member();
    k.qr(m, late, "2026-03-10 13:59");
    assert_eq!(k.running(m).result().unwrap().score, Some(dec("2")));
}

// XH-6
#[test]
fn xh_6_deadline_follows_the_official_calendar() {
    let mut k = xihu();
    // Ended Friday 02-13: Saturday 02-14 is a working day, 02-15..23 are the
    // Spring Festival, so the second working day is Tuesday 02-24.
    let s = t("2026-02-13 14:00");
    let e = t("2026-02-13 16:00");
    let a = k.activity_full(B1, Meeting, s, e, t("2026-02-24 18:00"), None);
    let b = k.activity_full(B1, Meeting, s, e, t("2026-02-25 08:00"), None);
    // Ended Thursday 04-30: May 1–5 off, so Wednesday 05-06 and Thursday 05-07.
    let s2 = t("2026-04-30 14:00");
    let e2 = t("2026-04-30 16:00");
    let c = k.activity_full(B1, Meeting, s2, e2, t("2026-05-07 20:00"), None);
    let d = k.activity_full(B1, Meeting, s2, e2, t("2026-05-08 09:00"), None);
    let ev = k.eval_org(B1);
    let of = |a: ActivityId| {
        ev.postings
            .iter()
            .find(|p| p.source == Source::Activity(a))
            .unwrap()
            .points_granted
    };
    assert_eq!(
        [of(a), of(b), of(c), of(d)],
        [dec("5"), dec("2.5"), dec("5"), dec("2.5")]
    );
    assert!(ev.postings.iter().all(|p| p.flags.is_empty()));
}

// XH-6
#[test]
fn xh_6_year_without_calendar_uses_weekends_and_flags_the_posting() {
    let mut k = xihu();
    k.year = 2027;
    // Ended Friday 2027-01-08: weekends only → Tuesday 01-12 is the second working day.
    let s = t("2027-01-08 14:00");
    let e = t("2027-01-08 16:00");
    let a = k.activity_full(B1, Meeting, s, e, t("2027-01-12 20:00"), None);
    let ev = k.eval_org(B1);
    let p = ev
        .postings
        .iter()
        .find(|p| p.source == Source::Activity(a))
        .unwrap();
    assert_eq!(p.points_granted, dec("5"));
    assert_eq!(p.flags, vec![PostingFlag::CalendarMissing]);
    assert!(!ev.warnings.is_empty());

    // Adding the year's calendar (data, not code) removes the flag and moves the deadline.
    let cal = YearCalendar::parse(
        "2027.toml",
        "year = 2027\nsource = \"test\"\n[[holiday]]\nname = \"x\"\nfrom = \"2027-01-11\"\nto = \"2027-01-11\"\n",
    )
    .unwrap();
    k.calendars.add(cal);
    let ev = k.eval_org(B1);
    let p = ev
        .postings
        .iter()
        .find(|p| p.source == Source::Activity(a))
        .unwrap();
    assert_eq!(p.points_granted, dec("5"));
    assert!(p.flags.is_empty());
    k.activities[0].registered_at = t("2027-01-13 20:00");
    assert_eq!(k.org_score(B1), dec("5"));
    k.activities[0].registered_at = t("2027-01-14 08:00");
    assert_eq!(k.org_score(B1), dec("2.5"));
}

// XH-7.1
#[test]
fn xh_7_1_transfer_completed_is_2_points() {
    let mut k = xihu();
    k.org_item_with(
        B1,
        "transfer",
        "2026-05-06 10:00",
        Fields::new().with("member", text("m1")),
    );
    assert_eq!(k.org_score(B1), dec("2"));
}

// XH-7.3
#[test]
fn xh_7_3_same_members_transfer_again_the_same_day_counts_once() {
    let mut k = xihu();
    let m1 = Fields::new().with("member", text("m1"));
    let m2 = Fields::new().with("member", text("m2"));
    k.org_item_with(B1, "transfer", "2026-05-06 10:00", m1.clone());
    let again = k.org_item_with(B1, "transfer", "2026-05-06 11:00", m1.clone());
    k.org_item_with(B1, "transfer", "2026-05-06 12:00", m2);
    k.org_item_with(B1, "transfer", "2026-05-07 10:00", m1);
    let e = k.eval_org(B1);
    assert_eq!(posting_of(&e, again).rule_id.as_ref(), "XH-7.3");
    assert_eq!(e.result().unwrap().score, Some(dec("6")));
}

// XH-7.2
#[test]
fn xh_7_2_member_data_update_is_1_point() {
    let mut k = xihu();
    k.org_item_with(
        B1,
        "data_update",
        "2026-05-06 10:00",
        Fields::new().with("data", text("phone")),
    );
    k.org_item_with(
        B1,
        "data_update",
        "2026-05-06 10:05",
        Fields::new().with("data", text("education")),
    );
    assert_eq!(k.org_score(B1), dec("2"));
}

// XH-7.4
#[test]
fn xh_7_4_same_kind_of_data_again_the_same_day_counts_once() {
    let mut k = xihu();
    let phone = Fields::new().with("data", text("phone"));
    k.org_item_with(B1, "data_update", "2026-05-06 10:00", phone.clone());
    let again = k.org_item_with(B1, "data_update", "2026-05-06 17:00", phone.clone());
    k.org_item_with(B1, "data_update", "2026-05-07 10:00", phone);
    let e = k.eval_org(B1);
    assert_eq!(posting_of(&e, again).rule_id.as_ref(), "XH-7.4");
    assert_eq!(e.result().unwrap().score, Some(dec("2")));
}

// XH-17
#[test]
fn xh_17_fortress_stars() {
    let k = xihu();
    let stars = &k.policy.index("fortress").unwrap().stars;
    let at = |s: &str| band(stars, dec(s)).copied();
    assert_eq!(at("0"), Some(1));
    assert_eq!(at("59.5"), Some(1));
    assert_eq!(at("60"), Some(2));
    assert_eq!(at("80"), Some(3));
    assert_eq!(at("100"), Some(4));
    assert_eq!(at("119.5"), Some(4));
    // The AMBIGUOUS 120–149 gap: this preset's choice is 4 stars.
    assert_eq!(at("120"), Some(4));
    assert_eq!(at("149.5"), Some(4));
    assert_eq!(at("150"), Some(5));

    // On a real result: 12 activities held → 60 → 2 stars.
    let mut k = xihu();
    for m in 1..=12 {
        k.activity(Meeting, &format!("2026-{m:02}-10 14:00"), None);
    }
    assert_eq!(k.eval_org(B1).result().unwrap().stars, Some(2));
}

// ---- Vanguard index ----

// XH-8.1
#[test]
fn xh_8_1_on_time_is_5_points() {
    let mut k = xihu();
    let d = k.activity(FixedDay, "2026-01-16 14:00", None);
    let m1 = k.member();
    let m2 = k.member();
    let early = k.qr(m1, d, "2026-01-16 13:30");
    let exact = k.qr(m2, d, "2026-01-16 14:00:00");
    assert_eq!(granted(&k.running(m1), early), dec("5"));
    let p = k.running(m2);
    assert_eq!(granted(&p, exact), dec("5"));
    assert_eq!(posting_of(&p, exact).outcome.as_deref(), Some("on_time"));
}

// XH-8.1
#[test]
fn xh_8_1_within_15_minutes_is_3_points_later_is_not_attendance() {
    let mut k = xihu();
    let d = k.activity(FixedDay, "2026-01-16 14:00", None);
    let (a, b, c) = (k.member(), k.member(), k.member());
    let one_second = k.qr(a, d, "2026-01-16 14:00:01");
    let fifteen = k.qr(b, d, "2026-01-16 14:15:00");
    let too_late = k.qr(c, d, "2026-01-16 14:15:01");
    assert_eq!(granted(&k.running(a), one_second), dec("3"));
    assert_eq!(granted(&k.running(b), fifteen), dec("3"));
    let e = k.running(c);
    assert_eq!(granted(&e, too_late), dec("0"));
    assert_eq!(posting_of(&e, too_late).outcome.as_deref(), Some("absent"));
}

// XH-8.1
#[test]
fn xh_8_1_makeup_study_is_2_points_and_the_best_result_counts_once() {
    let mut k = xihu();
    let d = k.activity(FixedDay, "2026-01-16 14:00", None);
    let (a, b, c) = (k.member(), k.member(), k.member());
    k.makeup(a, d, "2026-01-18 20:00");
    // Late (3) and make-up (2): the best, never the sum.
    k.qr(b, d, "2026-01-16 14:05");
    let mk = k.makeup(b, d, "2026-01-18 20:00");
    // Two on-time scans: 5 once.
    k.qr(c, d, "2026-01-16 13:50");
    k.qr(c, d, "2026-01-16 13:55");
    assert_eq!(k.running(a).result().unwrap().score, Some(dec("2")));
    let eb = k.running(b);
    assert_eq!(eb.result().unwrap().score, Some(dec("3")));
    assert_eq!(granted(&eb, mk), dec("0"));
    assert_eq!(k.running(c).result().unwrap().score, Some(dec("5")));
    // A too-late scan is not attendance, so make-up study still earns 2.
    let e = k.member();
    k.qr(e, d, "2026-01-16 14:40");
    k.makeup(e, d, "2026-01-19 20:00");
    assert_eq!(k.running(e).result().unwrap().score, Some(dec("2")));
}

// XH-8.1
#[test]
fn xh_8_1_manual_and_batch_count_by_time_backfill_earns_nothing() {
    let mut k = xihu();
    let d = k.activity(FixedDay, "2026-01-16 14:00", None);
    let (a, b, c) = (k.member(), k.member(), k.member());
    k.checkin(a, d, "2026-01-16 13:59", Method::Manual);
    k.checkin(b, d, "2026-01-16 14:10", Method::Batch);
    let bf = k.checkin(c, d, "2026-01-16 13:59", Method::Backfill);
    assert_eq!(k.running(a).result().unwrap().score, Some(dec("5")));
    assert_eq!(k.running(b).result().unwrap().score, Some(dec("3")));
    let e = k.running(c);
    assert_eq!(granted(&e, bf), dec("0"));
    assert!(posting_of(&e, bf).note.contains("补签"));
}

// XH-8.1
#[test]
fn xh_8_1_makeup_study_is_not_under_the_xh_10_cap() {
    let mut k = xihu();
    let d = k.activity(FixedDay, "2026-01-16 14:00", None);
    let m = k.member();
    k.graded(m, "study", "2026-01-05 10:00", "10");
    k.makeup(m, d, "2026-01-18 20:00");
    assert_eq!(k.running(m).result().unwrap().score, Some(dec("12")));
}

// XH-8.2
#[test]
fn xh_8_2_other_activities_earn_branch_points_at_most_10_a_year() {
    let mut k = xihu();
    let m = k.member();
    let mut last = None;
    for (i, day) in ["03-05", "04-05", "05-05", "06-05"].iter().enumerate() {
        let a = k.activity(Training, &format!("2026-{day} 09:00"), Some("3"));
        last = Some((i, k.qr(m, a, &format!("2026-{day} 09:01"))));
    }
    let e = k.running(m);
    assert_eq!(e.result().unwrap().score, Some(dec("10")));
    let (_, f) = last.unwrap();
    let p = posting_of(&e, f);
    assert_eq!((p.points_asked, p.points_granted), (dec("3"), dec("1")));
    assert!(
        p.note.contains("已达年度上限 10 分，实得 1 分"),
        "{}",
        p.note
    );
}

// XH-8.2
#[test]
fn xh_8_2_backfilled_participation_earns_nothing() {
    let mut k = xihu();
    let m = k.member();
    let a = k.activity(Volunteer, "2026-03-05 09:00", Some("3"));
    let f = k.checkin(m, a, "2026-03-07 09:00", Method::Backfill);
    let e = k.running(m);
    assert_eq!(granted(&e, f), dec("0"));
    let b = k.member();
    k.checkin(b, a, "2026-03-05 09:00", Method::Manual);
    assert_eq!(k.running(b).result().unwrap().score, Some(dec("3")));
}

// XH-8.3
#[test]
fn xh_8_3_several_activities_a_day_all_count() {
    let mut k = xihu();
    let m = k.member();
    let a = k.activity(Meeting, "2026-03-05 09:00", Some("1"));
    let b = k.activity(Cultural, "2026-03-05 14:00", Some("2"));
    k.qr(m, a, "2026-03-05 09:00");
    k.qr(m, b, "2026-03-05 14:00");
    // The same activity twice still counts once.
    k.qr(m, b, "2026-03-05 14:30");
    assert_eq!(k.running(m).result().unwrap().score, Some(dec("3")));
}

// XH-10
#[test]
fn xh_10_online_study_at_most_10_a_year() {
    let mut k = xihu();
    let m = k.member();
    k.graded(m, "study", "2026-02-01 10:00", "4");
    k.graded(m, "study", "2026-03-01 10:00", "4");
    let third = k.graded(m, "study", "2026-04-01 10:00", "4");
    let fourth = k.graded(m, "study", "2026-05-01 10:00", "1");
    let e = k.running(m);
    assert_eq!(e.result().unwrap().score, Some(dec("10")));
    let p = posting_of(&e, third);
    assert_eq!(p.note, "XH-10 网上学习 +4，已达年度上限 10 分，实得 2 分");
    assert_eq!(granted(&e, fourth), dec("0"));
}

// XH-8.2, XH-12
#[test]
fn xh_8_2_and_xh_12_a_general_meeting_lecture_and_life_meeting_are_party_activities() {
    let mut k = xihu();
    let m = k.member();
    let a = k.person(Role::Applicant);
    let meeting = k.activity(ActivityKind::GeneralMeeting, "2026-05-08 14:00", Some("2"));
    let lecture = k.activity(ActivityKind::Lecture, "2026-05-15 14:00", Some("1"));
    let life = k.activity(ActivityKind::LifeMeeting, "2026-05-20 14:00", Some("3"));
    k.qr(m, meeting, "2026-05-08 14:00");
    k.qr(m, lecture, "2026-05-15 14:10");
    k.qr(m, life, "2026-05-20 13:50");
    k.qr(a, meeting, "2026-05-08 14:00");
    k.qr(a, lecture, "2026-05-15 14:00");
    // Branch-set points for members (XH-8.2); a meeting 1 and a lecture (training) 2 for applicants (XH-12).
    assert_eq!(k.running(m).result().unwrap().score, Some(dec("6")));
    assert_eq!(k.score(a), dec("3"));
}

// XH-11
#[test]
fn xh_11_community_service_from_the_second_time_at_most_10() {
    let mut k = xihu();
    let m = k.member();
    let scores: Vec<Decimal> = (1..=13)
        .map(|i| {
            k.item(
                m,
                "community_service",
                &format!("2026-{:02}-10 10:00", i.min(12)),
            );
            k.running(m).result().unwrap().score.unwrap()
        })
        .collect();
    let want: Vec<Decimal> = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10]
        .iter()
        .map(|x| Decimal::from(*x))
        .collect();
    assert_eq!(scores, want);
}

// XH-14
#[test]
fn xh_14_honours_add_up_other_commendation_once_all_at_most_15() {
    let mut k = xihu();
    let a = k.member();
    k.item(a, "honor_district", "2026-06-01 10:00");
    k.item(a, "honor_city", "2026-07-01 10:00");
    assert_eq!(k.running(a).result().unwrap().score, Some(dec("12")));

    let b = k.member();
    k.item(b, "honor_province", "2026-06-01 10:00");
    let city = k.item(b, "honor_city", "2026-07-01 10:00");
    let e = k.running(b);
    assert_eq!(e.result().unwrap().score, Some(dec("15")));
    assert!(
        posting_of(&e, city)
            .note
            .contains("追加积分已达年度上限 15 分")
    );

    // Other commendation: at most 5, and only one counts a year (the highest).
    let c = k.member();
    k.graded(c, "honor_other", "2026-03-01 10:00", "3");
    k.graded(c, "honor_other", "2026-04-01 10:00", "4");
    assert_eq!(k.running(c).result().unwrap().score, Some(dec("4")));
    let d = k.member();
    k.graded(d, "honor_other", "2026-03-01 10:00", "8");
    assert_eq!(k.running(d).result().unwrap().score, Some(dec("5")));
}

fn attend_fixed_days(k: &mut Kit, m: PersonId, n: usize) {
    for i in 0..n {
        let d = k.activity(FixedDay, &format!("2026-{:02}-16 14:00", i + 1), None);
        k.qr(m, d, &format!("2026-{:02}-16 13:59", i + 1));
    }
}

// XH-15.1
#[test]
fn xh_15_1_fewer_than_2_fixed_days_attended_is_minus_5_at_year_end() {
    let mut k = xihu();
    let m = k.member();
    attend_fixed_days(&mut k, m, 1);
    k.graded(m, "study", "2026-02-01 10:00", "6");
    // Running score: no year-end rule yet.
    assert_eq!(k.running(m).result().unwrap().score, Some(dec("11")));
    let e = k.eval(m);
    assert_eq!(e.result().unwrap().score, Some(dec("6")));
    assert!(
        e.postings
            .iter()
            .any(|p| &*p.rule_id == "XH-15.1" && p.points_granted == dec("-5"))
    );

    // Two days attended (late counts as attendance): no deduction.
    let n = k.member();
    attend_fixed_days(&mut k, n, 1);
    let d = k.activity(FixedDay, "2026-05-16 14:00", None);
    k.qr(n, d, "2026-05-16 14:10");
    assert!(k.eval(n).postings.iter().all(|p| &*p.rule_id != "XH-15.1"));
}

// XH-15.1
#[test]
fn xh_15_1_makeup_study_is_not_attendance() {
    let mut k = xihu();
    let m = k.member();
    let d1 = k.activity(FixedDay, "2026-01-16 14:00", None);
    let d2 = k.activity(FixedDay, "2026-02-13 14:00", None);
    k.qr(m, d1, "2026-01-16 14:00");
    k.makeup(m, d2, "2026-02-14 20:00");
    // 5 + 2 − 5: the branch held only two days, the rule applies anyway.
    assert_eq!(k.score(m), dec("2"));
}

// XH-15.1 (corrected), XH-8.1
#[test]
fn xh_15_1_a_backfilled_day_is_attendance_that_earns_nothing() {
    let mut k = xihu();
    let m = k.member();
    let d1 = k.activity(FixedDay, "2026-01-16 14:00", None);
    let d2 = k.activity(FixedDay, "2026-02-13 14:00", None);
    k.qr(m, d1, "2026-01-16 14:00");
    let bf = k.checkin(m, d2, "2026-02-13 14:00", Method::Backfill);
    let e = k.eval(m);
    // Two days attended: no XH-15.1 deduction; the 补签 itself earns 0 (XH-8.1).
    assert_eq!(granted(&e, bf), dec("0"));
    assert!(e.postings.iter().all(|p| &*p.rule_id != "XH-15.1"));
    assert_eq!(k.score(m), dec("5"));
    // A 补签 beside a scan of the same day is still one day: −5.
    let n = k.member();
    k.qr(n, d1, "2026-01-16 14:00");
    k.checkin(n, d1, "2026-01-16 14:00", Method::Backfill);
    assert_eq!(k.score(n), dec("0"));
}

// XH-15.2
#[test]
fn xh_15_2_improper_remarks_is_minus_10() {
    let mut k = xihu();
    let m = k.member();
    attend_fixed_days(&mut k, m, 4);
    let f = k.item(m, "improper_remarks", "2026-06-01 10:00");
    let e = k.eval(m);
    assert_eq!(granted(&e, f), dec("-10"));
    assert_eq!(e.result().unwrap().score, Some(dec("10")));
}

// XH-15.3
#[test]
fn xh_15_3_sanction_makes_the_member_unqualified() {
    let mut k = xihu();
    let m = k.member();
    attend_fixed_days(&mut k, m, 3);
    k.item(m, "sanction", "2026-08-01 10:00");
    let r = k.eval(m).result().unwrap().clone();
    assert_eq!(r.status, Status::Unqualified);
    // This preset's choice for the AMBIGUOUS score: 0, and no stars.
    assert_eq!(r.score, Some(dec("0")));
    assert_eq!(r.stars, None);
}

// XH-15.4
#[test]
fn xh_15_4_deductions_add_up_down_to_0_never_below() {
    let mut k = xihu();
    let m = k.member();
    attend_fixed_days(&mut k, m, 2);
    k.item(m, "improper_remarks", "2026-06-01 10:00");
    k.item(m, "improper_remarks", "2026-07-01 10:00");
    let e = k.eval(m);
    assert_eq!(e.result().unwrap().score, Some(dec("0")));
    let floor = e
        .postings
        .iter()
        .find(|p| &*p.rule_id == "XH-15.4")
        .unwrap();
    assert_eq!(floor.points_granted, dec("10"));
    // The ledger adds up to the score.
    let sum: Decimal = e.postings.iter().map(|p| p.points_granted).sum();
    assert_eq!(sum, dec("0"));

    // Deductions add up: 25 − 10 − 10 = 5.
    let n = k.member();
    attend_fixed_days(&mut k, n, 5);
    k.item(n, "improper_remarks", "2026-07-01 10:00");
    k.item(n, "improper_remarks", "2026-08-01 10:00");
    assert_eq!(k.score(n), dec("5"));
}

// XH-18
#[test]
fn xh_18_vanguard_stars() {
    let k = xihu();
    let stars = &k.policy.index("vanguard").unwrap().stars;
    let at = |s: &str| band(stars, dec(s)).copied();
    assert_eq!(
        [
            "0", "59.5", "60", "69.5", "70", "79.5", "80", "99.5", "100", "130"
        ]
        .map(at),
        [1, 1, 2, 2, 3, 3, 4, 4, 5, 5].map(Some)
    );
    let mut k = xihu();
    let m = k.member();
    attend_fixed_days(&mut k, m, 12);
    k.graded(m, "study", "2026-02-01 10:00", "10");
    assert_eq!(k.eval(m).result().unwrap().stars, Some(3));
}

// XH-20
#[test]
fn xh_20_exempt_member_has_no_score_no_stars_no_rank() {
    let mut k = xihu();
    let m = k.member();
    k.person_mut(m).exempt = true;
    attend_fixed_days(&mut k, m, 3);
    let e = k.eval(m);
    let r = e.result().unwrap();
    assert_eq!((r.status, r.score, r.stars), (Status::Exempt, None, None));
    assert!(e.postings.is_empty());
}

// XH-21
#[test]
fn xh_21_both_indexes_run_by_natural_year_in_local_time() {
    let mut k = xihu();
    let m = k.member();
    k.graded(m, "study", "2025-12-31 23:59:59", "3");
    // 2025-12-31T16:30Z is 2026-01-01 00:30 in Shanghai: it is 2026's.
    k.facts.push(Fact {
        id: FactId(99),
        at: DateTime::parse_from_rfc3339("2025-12-31T16:30:00Z").unwrap(),
        kind: FactKind::Item {
            subject: SubjectId::Person(m),
            item: ItemCode::new("study"),
            fields: Fields::new().with("points", num("2")),
        },
    });
    k.graded(m, "study", "2027-01-01 00:00", "4");
    k.activity(Meeting, "2025-12-30 14:00", None);
    k.activity(Meeting, "2026-12-30 14:00", None);
    assert_eq!(k.running(m).result().unwrap().score, Some(dec("2")));
    assert_eq!(k.org_score(B1), dec("5"));
}

// ---- Applicant index ----

// XH-12.1
#[test]
fn xh_12_1_applicant_attending_a_meeting_is_1_point() {
    let mut k = xihu();
    let p = k.person(Role::Applicant);
    let a = k.activity(Meeting, "2026-03-10 14:00", Some("5"));
    k.qr(p, a, "2026-03-10 14:00");
    let e = k.eval(p);
    let r = e.result().unwrap();
    assert_eq!(
        (r.index.as_ref(), r.score, r.stars),
        ("applicant", Some(dec("1")), None)
    );
}

// XH-12.2
#[test]
fn xh_12_2_applicant_training_volunteering_cultural_is_2_points() {
    let mut k = xihu();
    let p = k.person(Role::Applicant);
    for (kind, day) in [
        (Training, "03-10"),
        (Volunteer, "04-10"),
        (Cultural, "05-10"),
    ] {
        let a = k.activity(kind, &format!("2026-{day} 09:00"), Some("1"));
        k.qr(p, a, &format!("2026-{day} 09:05"));
    }
    assert_eq!(k.score(p), dec("6"));
}

// XH-12.3
#[test]
fn xh_12_3_several_meetings_a_day_all_count() {
    let mut k = xihu();
    let p = k.person(Role::Applicant);
    for h in ["09:00", "11:00", "15:00"] {
        let a = k.activity(Meeting, &format!("2026-03-10 {h}"), None);
        k.qr(p, a, &format!("2026-03-10 {h}"));
    }
    assert_eq!(k.score(p), dec("3"));
}

// XH-12.4
#[test]
fn xh_12_4_several_activities_a_day_all_count() {
    let mut k = xihu();
    let p = k.person(Role::Applicant);
    for (kind, h) in [
        (Training, "09:00"),
        (Volunteer, "13:00"),
        (Cultural, "19:00"),
    ] {
        let a = k.activity(kind, &format!("2026-03-10 {h}"), None);
        k.qr(p, a, &format!("2026-03-10 {h}"));
    }
    assert_eq!(k.score(p), dec("6"));
}

// XH-13
#[test]
fn xh_13_manual_batch_or_backfilled_applicant_earns_nothing() {
    let mut k = xihu();
    let p = k.person(Role::Applicant);
    let mut ids = Vec::new();
    for (i, method) in [Method::Manual, Method::Batch, Method::Backfill]
        .into_iter()
        .enumerate()
    {
        let a = k.activity(Training, &format!("2026-03-1{i} 09:00"), None);
        ids.push(k.checkin(p, a, &format!("2026-03-1{i} 09:00"), method));
    }
    let e = k.eval(p);
    assert_eq!(e.result().unwrap().score, Some(dec("0")));
    for f in ids {
        let posting = posting_of(&e, f);
        assert_eq!(posting.rule_id.as_ref(), "XH-13");
        assert_eq!(posting.points_granted, dec("0"));
    }
}

// XH-13 (this preset's choice): a member card read at the activity counts like a scan,
// for members (XH-8.1 by its time, XH-8.2) and applicants (XH-12) alike.
#[test]
fn xh_13_choice_card_checkins_score_like_scans() {
    let mut k = xihu();
    let d = k.activity(FixedDay, "2026-01-16 14:00", None);
    let (on_time, late) = (k.member(), k.member());
    k.checkin(on_time, d, "2026-01-16 13:58", Method::Card);
    k.checkin(late, d, "2026-01-16 14:09", Method::Card);
    assert_eq!(k.running(on_time).result().unwrap().score, Some(dec("5")));
    assert_eq!(k.running(late).result().unwrap().score, Some(dec("3")));
    let p = k.person(Role::Applicant);
    let a = k.activity(Training, "2026-03-10 09:00", None);
    let f = k.checkin(p, a, "2026-03-10 09:00", Method::Card);
    let e = k.eval(p);
    assert_eq!(granted(&e, f), dec("2"));
    assert!(
        k.policy
            .choices
            .iter()
            .any(|c| c.rule_id == "XH-13" && c.question.contains("持卡签到"))
    );
}
