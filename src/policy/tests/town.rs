//! town-2019, rule by rule (RULES.md TW-…).

use super::*;

fn town() -> Kit {
    Kit::new("town-2019")
}

/// Every base line at its maximum: 12 + 12 + 12 + 12 + 6 + 3 + 3 = 60.
fn full_base(k: &mut Kit, m: PersonId) {
    for month in 1..=12 {
        k.item(m, "dues", &format!("2026-{month:02}-05 10:00"));
        k.item(m, "activity_day", &format!("2026-{month:02}-15 10:00"));
    }
    for month in [2, 5, 8, 11] {
        k.item(m, "lecture", &format!("2026-{month:02}-06 10:00"));
        k.item(m, "general_meeting", &format!("2026-{month:02}-07 10:00"));
    }
    k.item(m, "life_meeting", "2026-06-20 10:00");
    k.item(m, "life_meeting", "2026-12-20 10:00");
    k.item(m, "evaluation", "2026-12-22 10:00");
    k.item(m, "commitment", "2026-01-08 10:00");
}

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

// TW-1
#[test]
fn tw_1_total_is_base_60_plus_incentive_40() {
    let mut k = town();
    let m = k.member();
    full_base(&mut k, m);
    assert_eq!(k.score(m), dec("60"));
    for code in INCENTIVE {
        k.graded(m, code, "2026-09-01 10:00", "4");
    }
    assert_eq!(k.score(m), dec("100"));
    // Nothing more fits: another base fact or incentive grade adds nothing.
    k.item(m, "dues", "2026-12-28 10:00");
    k.graded(m, "council", "2026-10-01 10:00", "4");
    assert_eq!(k.score(m), dec("100"));
}

// TW-2
#[test]
fn tw_2_each_base_line_counts_once_per_its_period() {
    let mut k = town();
    let m = k.member();
    k.item(m, "dues", "2026-01-05 10:00");
    let second = k.item(m, "dues", "2026-01-25 10:00");
    k.item(m, "lecture", "2026-01-06 10:00");
    k.item(m, "lecture", "2026-03-31 23:00"); // same quarter
    k.item(m, "lecture", "2026-04-01 00:30"); // next quarter
    k.item(m, "life_meeting", "2026-02-01 10:00");
    k.item(m, "life_meeting", "2026-06-30 10:00"); // same half-year
    k.item(m, "evaluation", "2026-03-01 10:00");
    k.item(m, "evaluation", "2026-12-01 10:00"); // once a year
    let e = k.eval(m);
    assert_eq!(granted(&e, second), dec("0"));
    // dues 1 + lecture 3 + 3 + life meeting 3 + evaluation 3
    assert_eq!(e.result().unwrap().score, Some(dec("13")));
}

// TW-2
#[test]
fn tw_2_a_fixed_day_checkin_is_the_months_activity_day() {
    let mut k = town();
    let m = k.member();
    let d = k.activity(ActivityKind::FixedDay, "2026-03-12 14:00", None);
    k.qr(m, d, "2026-03-12 14:30");
    let item = k.item(m, "activity_day", "2026-03-20 10:00");
    let e = k.eval(m);
    assert_eq!(e.result().unwrap().score, Some(dec("1")));
    assert_eq!(granted(&e, item), dec("0"));
}

// TW-2
#[test]
fn tw_2_checkins_at_a_lecture_general_meeting_and_life_meeting_score_their_base_lines() {
    let mut k = town();
    let m = k.member();
    let lecture = k.activity(ActivityKind::Lecture, "2026-02-10 14:00", None);
    let meeting = k.activity(ActivityKind::GeneralMeeting, "2026-02-20 14:00", None);
    let life = k.activity(ActivityKind::LifeMeeting, "2026-03-05 09:00", None);
    // Forty minutes after the start still counts: TW-2 sets no time limit.
    k.qr(m, lecture, "2026-02-10 14:40");
    k.qr(m, meeting, "2026-02-20 14:00");
    k.qr(m, life, "2026-03-05 09:10");
    // The lecture line counts once a quarter, however it was recorded.
    let again = k.item(m, "lecture", "2026-03-20 10:00");
    let e = k.eval(m);
    assert_eq!(e.result().unwrap().score, Some(dec("9")));
    assert_eq!(granted(&e, again), dec("0"));
}

// TW-3
#[test]
fn tw_3_each_incentive_item_is_graded_and_at_most_4() {
    let mut k = town();
    let m = k.member();
    k.graded(m, "volunteer", "2026-04-11 10:00", "3");
    let over = k.graded(m, "volunteer", "2026-05-11 10:00", "3");
    k.graded(m, "study_notes", "2026-06-11 10:00", "2.5");
    let e = k.eval(m);
    assert_eq!(granted(&e, over), dec("1"));
    assert_eq!(e.result().unwrap().score, Some(dec("6.5")));
}

// TW-3.1
#[test]
fn tw_3_1_leading_role_doubles_and_the_cap_applies_after() {
    let mut k = town();
    let m = k.member();
    let lead = Fields::new()
        .with("points", num("1.5"))
        .with("leading", FieldValue::Bool(true));
    let f = k.item_with(m, "home_visit", "2026-07-11 10:00", lead);
    let e = k.eval(m);
    let p = posting_of(&e, f);
    assert_eq!((p.points_asked, p.points_granted), (dec("3"), dec("3")));
    assert!(p.applied.iter().any(|r| &**r == "TW-3.1"));
    // This preset's choice for the AMBIGUOUS cap: 3 × 2 = 6, capped at 4.
    let n = k.member();
    let big = Fields::new()
        .with("points", num("3"))
        .with("leading", FieldValue::Bool(true));
    k.item_with(n, "council", "2026-07-11 10:00", big);
    assert_eq!(k.score(n), dec("4"));
}

// TW-4
#[test]
fn tw_4_negative_list_is_minus_5_each_down_to_0() {
    let mut k = town();
    let m = k.member();
    for month in 1..=12 {
        k.item(m, "dues", &format!("2026-{month:02}-05 10:00"));
    }
    k.item(m, "gambling", "2026-07-02 10:00");
    assert_eq!(k.score(m), dec("7"));
    k.item(m, "rumours", "2026-08-02 10:00");
    assert_eq!(k.score(m), dec("2"));
    k.item(m, "defiance", "2026-09-02 10:00");
    let e = k.eval(m);
    assert_eq!(e.result().unwrap().score, Some(dec("0")));
    assert!(
        e.postings
            .iter()
            .any(|p| &*p.rule_id == "TW-4" && p.source == Source::Year)
    );
}

// TW-5
#[test]
fn tw_5_one_vote_veto_makes_the_year_0() {
    let mut k = town();
    let m = k.member();
    full_base(&mut k, m);
    k.item(m, "veto", "2026-09-01 10:00");
    let r = k.eval(m).result().unwrap().clone();
    assert_eq!((r.status, r.score), (Status::Vetoed, Some(dec("0"))));
    assert_eq!(r.rating.as_deref(), Some("unqualified"));
}

// TW-7
#[test]
fn tw_7_bands_awards_and_rewards() {
    let mut k = town();
    let m = k.member();
    full_base(&mut k, m);
    let r = k.eval(m).result().unwrap().clone();
    // Exactly 60 is qualified; from 60 a reward of at most 5 yuan a point; below 80 no awards.
    assert_eq!(r.rating.as_deref(), Some("qualified"));
    assert_eq!(r.reward_max, Some(dec("300")));
    assert!(r.flags.iter().any(|f| &**f == "no_awards"));
    for code in &INCENTIVE[..5] {
        k.graded(m, code, "2026-09-01 10:00", "4");
    }
    let r = k.eval(m).result().unwrap().clone();
    assert_eq!(
        (r.score, r.rating.as_deref()),
        (Some(dec("80")), Some("qualified"))
    );
    assert!(r.flags.is_empty());
    k.graded(m, INCENTIVE[5], "2026-09-01 10:00", "4");
    k.graded(m, INCENTIVE[6], "2026-09-01 10:00", "4");
    let r = k.eval(m).result().unwrap().clone();
    assert_eq!(
        (r.score, r.rating.as_deref()),
        (Some(dec("88")), Some("qualified"))
    );
    k.graded(m, INCENTIVE[7], "2026-09-01 10:00", "2");
    let r = k.eval(m).result().unwrap().clone();
    assert_eq!(
        (r.score, r.rating.as_deref()),
        (Some(dec("90")), Some("excellent"))
    );

    let n = k.member();
    for code in &INCENTIVE {
        k.graded(n, code, "2026-09-01 10:00", "5.9");
    }
    let r = k.eval(n).result().unwrap().clone();
    assert_eq!(
        (r.score, r.rating.as_deref(), r.reward_max),
        (Some(dec("40")), Some("unqualified"), None)
    );
}

// TW-8
#[test]
fn tw_8_members_excluded_on_application_are_not_scored() {
    let mut k = town();
    let m = k.member();
    k.person_mut(m).exempt = true;
    full_base(&mut k, m);
    let r = k.eval(m).result().unwrap().clone();
    assert_eq!((r.status, r.score, r.rating), (Status::Exempt, None, None));
}
