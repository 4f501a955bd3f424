//! erqi-2021, rule by rule (RULES.md EQ-…).

use super::*;

fn erqi() -> Kit {
    Kit::new("erqi-2021")
}

fn result_of(y: &YearEvaluation, p: PersonId) -> IndexResult {
    y.persons
        .iter()
        .find(|e| e.subject == SubjectId::Person(p))
        .and_then(|e| e.result().cloned())
        .unwrap()
}

// EQ-1
#[test]
fn eq_1_checkins_at_a_general_meeting_a_lecture_and_a_life_meeting_score_like_their_items() {
    let mut k = erqi();
    let m = k.member();
    let meeting = k.activity(ActivityKind::GeneralMeeting, "2026-04-08 14:00", None);
    let lecture = k.activity(ActivityKind::Lecture, "2026-04-15 14:00", None);
    let life = k.activity(ActivityKind::LifeMeeting, "2026-06-20 09:00", None);
    k.qr(m, meeting, "2026-04-08 14:20");
    k.qr(m, lecture, "2026-04-15 13:55");
    k.qr(m, life, "2026-06-20 09:00");
    // A second general meeting in April: the line counts once a month.
    let second = k.activity(ActivityKind::GeneralMeeting, "2026-04-28 14:00", None);
    let again = k.qr(m, second, "2026-04-28 14:00");
    let e = k.eval(m);
    // general meeting 1 + lecture 1 + life meeting 3
    assert_eq!(e.result().unwrap().score, Some(dec("5")));
    assert_eq!(granted(&e, again), dec("0"));
}

// EQ-1
#[test]
fn eq_1_base_lines_monthly_each_time_and_capped() {
    let mut k = erqi();
    let m = k.member();
    k.item(m, "dues", "2026-01-05 10:00");
    let again = k.item(m, "dues", "2026-01-20 10:00");
    k.item(m, "general_meeting", "2026-01-06 10:00");
    k.item(m, "lecture", "2026-02-06 10:00");
    let d = k.activity(ActivityKind::FixedDay, "2026-03-12 14:00", None);
    k.qr(m, d, "2026-03-12 14:30");
    for month in 1..=3 {
        k.item(m, "life_meeting", &format!("2026-{month:02}-10 10:00"));
    }
    k.item(m, "evaluation", "2026-12-01 10:00");
    k.item(m, "evaluation", "2026-12-02 10:00");
    let e = k.eval(m);
    assert_eq!(granted(&e, again), dec("0"));
    // 1 + 1 + 1 + 1 (activity day) + 6 (life meetings, cap 6) + 6 (evaluation once)
    assert_eq!(e.result().unwrap().score, Some(dec("16")));

    let n = k.member();
    for i in 0..25 {
        k.item(
            n,
            "study",
            &format!("2026-{:02}-{:02} 10:00", 1 + i % 12, 1 + i / 12),
        );
    }
    assert_eq!(k.score(n), dec("40"));
}

// EQ-2
#[test]
fn eq_2_special_items_2_each_at_most_10_and_competitions_by_result() {
    let mut k = erqi();
    let m = k.member();
    for month in 1..=6 {
        k.item(
            m,
            "innovative_activity",
            &format!("2026-{month:02}-10 10:00"),
        );
    }
    assert_eq!(k.score(m), dec("10"));
    let n = k.member();
    k.item_with(
        n,
        "competition",
        "2026-03-01 10:00",
        Fields::new().with("level", text("participated")),
    );
    k.item_with(
        n,
        "competition",
        "2026-04-01 10:00",
        Fields::new().with("level", text("placed")),
    );
    k.item(n, "city_service", "2026-05-01 10:00");
    k.item(n, "suggestion", "2026-06-01 10:00");
    assert_eq!(k.score(n), dec("7"));
}

// EQ-3
#[test]
fn eq_3_deductions_and_sanction_clears_the_score() {
    let mut k = erqi();
    let m = k.member();
    for month in 1..=12 {
        k.item(m, "dues", &format!("2026-{month:02}-05 10:00"));
    }
    k.item(m, "late_report", "2026-03-01 10:00");
    k.item(m, "absence_unexcused", "2026-04-01 10:00");
    k.item(m, "absence_excused", "2026-05-01 10:00");
    k.item(m, "criticism", "2026-06-01 10:00");
    assert_eq!(k.score(m), dec("4.5"));
    k.item(m, "sanction", "2026-07-01 10:00");
    let r = k.eval(m).result().unwrap().clone();
    assert_eq!((r.status, r.score), (Status::Vetoed, Some(dec("0"))));
}

// EQ-5
#[test]
fn eq_5_democratic_grade_is_70_percent_points_and_30_percent_evaluation() {
    let mut k = erqi();
    let m = k.member();
    for month in 1..=5 {
        k.item(m, "study", &format!("2026-{month:02}-05 10:00"));
    }
    k.item_with(
        m,
        "democratic_score",
        "2026-12-20 10:00",
        Fields::new().with("score", num("90")),
    );
    let r = k.eval(m).result().unwrap().clone();
    assert_eq!(r.score, Some(dec("10")));
    assert_eq!(r.composite, Some(dec("34")));
}

// EQ-5
#[test]
fn eq_5_last_in_the_branch_four_quarters_running_is_unqualified() {
    let mut k = erqi();
    let (a, b, c) = (k.member(), k.member(), k.member());
    for month in [1, 4, 7, 10] {
        k.item(b, "dues", &format!("2026-{month:02}-05 10:00"));
        k.item(c, "dues", &format!("2026-{month:02}-05 10:00"));
        k.item(c, "lecture", &format!("2026-{month:02}-06 10:00"));
    }
    // `a` earns nothing: last in all four quarters.
    let b2 = k.org();
    let (x, y) = (k.person_in(Role::Member, b2), k.person_in(Role::Member, b2));
    for month in [1, 4, 7] {
        k.item(y, "dues", &format!("2026-{month:02}-05 10:00"));
    }
    k.item(x, "study", "2026-10-05 10:00");
    let yr = k.year_eval();
    let ra = result_of(&yr, a);
    assert_eq!(
        (ra.status, ra.rating.as_deref()),
        (Status::Unqualified, Some("unqualified"))
    );
    assert_eq!(result_of(&yr, b).status, Status::Scored);
    // `x` is last in three quarters, then first: not four running.
    assert_eq!(result_of(&yr, x).status, Status::Scored);
}

// EQ-5
#[test]
fn eq_5_last_in_q3_q4_last_year_and_q1_q2_this_year_is_four_running() {
    let mut k = erqi();
    let (a, b) = (k.member(), k.member());
    // `a` is last in Q1 and Q2, first in Q3 and Q4 (b earns nothing then).
    for month in [1, 4] {
        k.item(b, "dues", &format!("2026-{month:02}-05 10:00"));
    }
    for month in [7, 10] {
        k.item(a, "dues", &format!("2026-{month:02}-05 10:00"));
    }
    let key = |p| (p, std::sync::Arc::<str>::from("EQ-5"));
    // Without last year's frozen run: two in a row only.
    let yr = k.year_eval();
    assert_eq!(result_of(&yr, a).status, Status::Scored);
    // Last year ended on two last places: with Q1 and Q2 that is four running.
    k.carried.insert(key(a), 2);
    let yr = k.year_eval();
    assert_eq!(
        (
            result_of(&yr, a).status,
            result_of(&yr, a).rating.as_deref()
        ),
        (Status::Unqualified, Some("unqualified"))
    );
    // `b` ends this year on two last places: frozen at close, carried into next year.
    assert_eq!(
        result_of(&yr, b).trailing_last,
        vec![("EQ-5".to_owned(), 2)]
    );
    assert!(result_of(&yr, a).trailing_last.is_empty());
    // A run that ended last year was judged last year: four carried, none this year.
    k.carried.clear();
    k.carried.insert(key(b), 4);
    let yr = k.year_eval();
    assert_eq!(result_of(&yr, b).status, Status::Scored);
}

// EQ-6
#[test]
fn eq_6_probationary_last_twice_in_branch_quarters_is_not_confirmed_on_time() {
    let mut k = erqi();
    let p = k.person(Role::Probationary);
    let m = k.member();
    for month in [1, 4, 7, 10] {
        k.item(m, "dues", &format!("2026-{month:02}-05 10:00"));
    }
    // p: Q1 0, Q2 0 (last twice), Q3 10 (m last once), Q4 1 (a tie: nobody last).
    for day in 1..=5 {
        k.item(p, "study", &format!("2026-07-{day:02} 10:00"));
    }
    k.item(p, "dues", "2026-10-05 10:00");
    // Another branch's member, always the committee's lowest.
    let b2 = k.org();
    let x = k.person_in(Role::Member, b2);
    k.item(x, "late_report", "2026-02-01 10:00");
    k.item(x, "late_report", "2026-08-01 10:00");
    let yr = k.year_eval();
    let rp = result_of(&yr, p);
    assert!(
        rp.flags.iter().any(|f| &**f == "not_confirmable_on_time"),
        "{rp:?}"
    );
    assert_eq!(rp.status, Status::Scored);
    assert!(result_of(&yr, m).flags.is_empty());
    // The document's second half (not in RULES.md): a full member in the same position is not rated excellent.
    assert!(
        result_of(&yr, x)
            .flags
            .iter()
            .any(|f| &**f == "not_excellent")
    );
}

// EQ-6
#[test]
fn eq_6_probationary_last_once_in_the_committee_ranking_is_not_confirmed_on_time() {
    let mut k = erqi();
    let p = k.person(Role::Probationary);
    let m = k.member();
    // Q1: p 0, m 1 (p last); Q2: p 1.5, m 1 (m last); H1: p 1.5 < m 2.
    k.item(m, "dues", "2026-01-05 10:00");
    k.item(m, "dues", "2026-04-05 10:00");
    k.item(p, "study", "2026-04-06 10:00");
    k.item(p, "absence_excused", "2026-04-07 10:00");
    let b2 = k.org();
    let y = k.person_in(Role::Member, b2);
    for month in 1..=5 {
        k.item(y, "dues", &format!("2026-{month:02}-05 10:00"));
    }
    let yr = k.year_eval();
    assert!(
        result_of(&yr, p)
            .flags
            .iter()
            .any(|f| &**f == "not_confirmable_on_time")
    );
    // A member last once in the branch only keeps a clean result.
    assert!(result_of(&yr, m).flags.is_empty());
    assert!(result_of(&yr, y).flags.is_empty());
}

// EQ-5 / EQ-6: the evidence staff see is the engine's own ranking.
#[test]
fn eq_5_evidence_is_what_the_group_stage_applies() {
    let mut k = erqi();
    let (a, b) = (k.member(), k.member());
    let p = k.person(Role::Probationary);
    for month in [1, 4] {
        k.item(b, "dues", &format!("2026-{month:02}-05 10:00"));
        k.item(b, "lecture", &format!("2026-{month:02}-06 10:00"));
        k.item(p, "dues", &format!("2026-{month:02}-05 10:00"));
    }
    k.carried
        .insert((a, std::sync::Arc::<str>::from("EQ-5")), 2);
    let yr = k.year_eval();
    let ev = crate::policy::last_place_evidence(&k.ctx(true), &yr.persons, &k.carried);
    let of = |s: PersonId, rule: &str, flag: Option<&str>| {
        ev.iter()
            .find(|e| {
                e.subject == SubjectId::Person(s) && e.rule == rule && e.flag.as_deref() == flag
            })
            .unwrap()
            .clone()
    };
    // `a`: last in Q1 and Q2 (0 of 3), after two carried: four running, as the engine rates.
    let ea = of(a, "EQ-5", None);
    let q = &ea.rankings[0];
    assert_eq!((q.carried, q.count, ea.met, ea.applies), (2, 4, true, true));
    assert_eq!(q.periods[0].place, Some(3));
    assert_eq!(q.periods[0].of, 3);
    assert!(q.periods[0].last && q.periods[1].last && !q.periods[2].last);
    assert_eq!(result_of(&yr, a).status, Status::Unqualified);
    // The probationary member: second in Q1 (1 point against 2 and 0), not last.
    let ep = of(p, "EQ-6", Some("not_confirmable_on_time"));
    assert_eq!(ep.rankings[0].periods[0].place, Some(2));
    assert_eq!(ep.rankings[0].periods[0].points, dec("1"));
    assert!(!ep.met);
    assert!(
        !result_of(&yr, p)
            .flags
            .iter()
            .any(|f| &**f == "not_confirmable_on_time")
    );
    // Everyone tied in Q3 (nobody earned anything): a shared place, nobody last.
    assert_eq!(q.periods[2].place, Some(1));
}
