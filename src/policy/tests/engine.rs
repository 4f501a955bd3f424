//! Engine behaviour that is not one preset's rule: annulments, role changes,
//! transfers, ordering, routing and the group stage's idempotence.

use super::*;
use ActivityKind::*;

#[test]
fn annulled_facts_do_not_count_and_free_the_cap_they_used() {
    let mut k = Kit::new("xihu-2017");
    let m = k.member();
    let first = k.graded(m, "study", "2026-02-01 10:00", "6");
    let second = k.graded(m, "study", "2026-03-01 10:00", "6");
    let e = k.running(m);
    assert_eq!(granted(&e, second), dec("4"));
    k.annul(first, "2026-03-05 10:00");
    let e = k.running(m);
    assert_eq!(granted(&e, second), dec("6"));
    assert!(e.postings.iter().all(|p| p.source != Source::Fact(first)));
    // Annulling the annulment restores the fact.
    let annul = FactId(k.facts.len() as i64);
    k.annul(annul, "2026-03-06 10:00");
    let e = k.running(m);
    assert_eq!(
        (granted(&e, first), granted(&e, second)),
        (dec("6"), dec("4"))
    );
}

#[test]
fn an_annulled_check_in_gives_the_make_up_study_back_its_points() {
    let mut k = Kit::new("xihu-2017");
    let m = k.member();
    let d = k.activity(FixedDay, "2026-01-16 14:00", None);
    let scan = k.qr(m, d, "2026-01-16 13:58");
    let mk = k.makeup(m, d, "2026-01-20 20:00");
    assert_eq!(granted(&k.running(m), mk), dec("0"));
    k.annul(scan, "2026-01-21 09:00");
    assert_eq!(granted(&k.running(m), mk), dec("2"));
}

#[test]
fn a_role_change_scores_each_part_of_the_year_under_its_index() {
    let mut k = Kit::new("xihu-2017");
    let p = k.person(Role::Applicant);
    k.person_mut(p).roles =
        Timeline::new(Role::Applicant).with_change(t("2026-07-01 00:00"), Role::Probationary);
    let meeting = k.activity(Meeting, "2026-03-10 14:00", Some("2"));
    k.qr(p, meeting, "2026-03-10 14:00");
    let later = k.activity(Meeting, "2026-08-10 14:00", Some("2"));
    k.qr(p, later, "2026-08-10 14:00");
    let e = k.running(p);
    assert_eq!(e.results.len(), 2);
    let (a, v) = (&e.results[0], &e.results[1]);
    assert_eq!((a.index.as_ref(), a.score), ("applicant", Some(dec("1"))));
    assert_eq!((v.index.as_ref(), v.score), ("vanguard", Some(dec("2"))));
    assert_eq!(v.role, Some(Role::Probationary));
    assert_eq!(a.until, t("2026-07-01 00:00"));
    assert_eq!(e.result().unwrap().index.as_ref(), "vanguard");
    // Probationary → member stays one vanguard stretch.
    k.person_mut(p).roles =
        Timeline::new(Role::Probationary).with_change(t("2026-07-01 00:00"), Role::Member);
    let e = k.running(p);
    assert_eq!(e.results.len(), 1);
    assert_eq!(e.results[0].role, Some(Role::Member));
}

#[test]
fn points_follow_a_person_who_transfers() {
    let mut k = Kit::new("xihu-2017");
    let b2 = k.org();
    let m = k.member();
    k.person_mut(m).orgs = Timeline::new(B1).with_change(t("2026-06-01 00:00"), b2);
    let d1 = k.activity(FixedDay, "2026-01-16 14:00", None);
    let d2 = k.activity_full(
        b2,
        FixedDay,
        t("2026-07-16 14:00"),
        t("2026-07-16 16:00"),
        t("2026-07-16 16:00"),
        None,
    );
    k.qr(m, d1, "2026-01-16 14:00");
    k.qr(m, d2, "2026-07-16 14:00");
    let y = k.year_eval();
    let e = y
        .persons
        .iter()
        .find(|e| e.subject == SubjectId::Person(m))
        .unwrap();
    assert_eq!(e.result().unwrap().score, Some(dec("10")));
    // Each organization keeps its own points.
    assert_eq!(y.orgs[0].result().unwrap().score, Some(dec("5")));
    assert_eq!(y.orgs[1].result().unwrap().score, Some(dec("5")));
}

#[test]
fn caps_fall_on_the_earliest_facts_whatever_the_input_order() {
    let mut k = Kit::new("xihu-2017");
    let m = k.member();
    let late = k.graded(m, "study", "2026-09-01 10:00", "6");
    let early = k.graded(m, "study", "2026-02-01 10:00", "6");
    let e = k.running(m);
    assert_eq!(
        (granted(&e, early), granted(&e, late)),
        (dec("6"), dec("4"))
    );
    k.facts.reverse();
    assert_eq!(k.running(m), e);
}

#[test]
fn facts_of_other_subjects_are_ignored() {
    let mut k = Kit::new("xihu-2017");
    let (a, b) = (k.member(), k.member());
    k.graded(a, "study", "2026-02-01 10:00", "3");
    k.graded(b, "study", "2026-02-01 10:00", "4");
    assert_eq!(k.running(a).result().unwrap().score, Some(dec("3")));
}

#[test]
fn an_unknown_activity_is_a_warning_not_a_panic() {
    let mut k = Kit::new("xihu-2017");
    let m = k.member();
    k.qr(m, ActivityId(42), "2026-02-01 10:00");
    let e = k.running(m);
    assert_eq!(e.result().unwrap().score, Some(dec("0")));
    assert_eq!(e.warnings.len(), 1);
}

#[test]
fn an_item_without_its_field_scores_nothing_and_is_flagged() {
    let mut k = Kit::new("xihu-2017");
    let m = k.member();
    let f = k.item(m, "study", "2026-02-01 10:00");
    let e = k.running(m);
    assert_eq!(granted(&e, f), dec("0"));
    assert_eq!(posting_of(&e, f).flags, vec![PostingFlag::InvalidFact]);
}

#[test]
fn the_ledger_adds_up_to_the_score() {
    let mut k = Kit::new("town-2019");
    let m = k.member();
    for month in 1..=6 {
        k.item(m, "dues", &format!("2026-{month:02}-05 10:00"));
        k.item(m, "dues", &format!("2026-{month:02}-06 10:00"));
    }
    k.graded(m, "volunteer", "2026-04-11 10:00", "3");
    k.graded(m, "volunteer", "2026-05-11 10:00", "3");
    k.item(m, "gambling", "2026-07-02 10:00");
    k.item(m, "religion", "2026-07-03 10:00");
    let e = k.eval(m);
    let sum: Decimal = e.postings.iter().map(|p| p.points_granted).sum();
    assert_eq!(Some(sum), e.result().unwrap().score);
    assert_eq!(sum, dec("0"));
}

#[test]
fn annulments_reach_their_targets_in_a_year_replay() {
    let mut k = Kit::new("xihu-2017");
    let m = k.member();
    let f = k.graded(m, "study", "2026-02-01 10:00", "3");
    let a = k.annul(f, "2026-02-02 10:00");
    let y = k.year_eval();
    assert_eq!(
        y.persons[0]
            .postings
            .iter()
            .filter(|p| p.source == Source::Fact(f))
            .count(),
        0
    );
    assert!(y.unrouted.is_empty());
    k.annul(FactId(77), "2026-02-03 10:00");
    let y = k.year_eval();
    assert_eq!(y.unrouted, vec![FactId(3)]);
    assert_ne!(a, FactId(3));
}

#[test]
fn the_group_stage_is_idempotent() {
    let mut k = Kit::new("sdtbu-2018");
    for i in 0..10 {
        let m = k.member();
        k.graded(m, "base_life", "2026-03-01 10:00", "70");
        k.graded(
            m,
            "contribution",
            "2026-03-01 10:00",
            &format!("{}", 18 + i),
        );
    }
    let once = k.year_eval();
    let mut twice = once.persons.clone();
    evaluate_group(&k.ctx(true), &mut twice, &k.carried);
    assert_eq!(once.persons, twice);
    let five: usize = once
        .persons
        .iter()
        .filter(|e| e.result().unwrap().stars == Some(5))
        .count();
    assert_eq!(five, 2);
}

#[test]
fn a_policy_without_an_applicant_index_leaves_applicants_not_covered() {
    let mut k = Kit::new("town-2019");
    let p = k.person(Role::Applicant);
    k.item(p, "dues", "2026-01-05 10:00");
    let r = k.eval(p).result().unwrap().clone();
    assert_eq!(
        (r.status, r.score, r.index.as_ref()),
        (Status::NotCovered, None, "applicant")
    );
}
