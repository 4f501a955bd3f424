//! sdtbu-2018, rule by rule (RULES.md SD-…).

use super::*;

fn sdtbu() -> Kit {
    Kit::new("sdtbu-2018")
}

/// A member of `org` with `base` base points and `contribution` contribution points.
fn scored(k: &mut Kit, org: OrgId, base: &str, contribution: &str) -> PersonId {
    let m = k.person_in(Role::Member, org);
    k.graded(m, "base_life", "2026-03-01 10:00", base);
    k.graded(m, "contribution", "2026-06-01 10:00", contribution);
    m
}

fn stars(y: &YearEvaluation, p: PersonId) -> Option<u8> {
    y.persons
        .iter()
        .find(|e| e.subject == SubjectId::Person(p))
        .and_then(|e| e.result())
        .and_then(|r| r.stars)
}

// SD-1
#[test]
fn sd_1_base_70_plus_contribution_30_negative_list_zeroes_the_year() {
    let mut k = sdtbu();
    let m = k.member();
    k.graded(m, "base_life", "2026-03-01 10:00", "50");
    k.graded(m, "base_study", "2026-04-01 10:00", "30");
    k.graded(m, "contribution", "2026-05-01 10:00", "25");
    k.graded(m, "contribution", "2026-06-01 10:00", "15");
    assert_eq!(k.score(m), dec("100"));
    k.item(m, "negative_list", "2026-07-01 10:00");
    let r = k.eval(m).result().unwrap().clone();
    assert_eq!((r.status, r.score), (Status::Vetoed, Some(dec("0"))));
}

// SD-3
#[test]
fn sd_3_each_year_starts_from_zero() {
    let mut k = sdtbu();
    let m = k.member();
    k.graded(m, "base_life", "2025-11-01 10:00", "40");
    k.graded(m, "contribution", "2025-12-31 23:59", "10");
    k.graded(m, "base_life", "2026-01-01 00:00", "5");
    assert_eq!(k.score(m), dec("5"));
    k.year = 2025;
    assert_eq!(k.score(m), dec("50"));
}

// SD-6
#[test]
fn sd_6_five_stars_need_90_points_and_at_most_20_percent_of_the_branch() {
    let mut k = sdtbu();
    let top = scored(&mut k, B1, "70", "25");
    let second = scored(&mut k, B1, "70", "23");
    let third = scored(&mut k, B1, "70", "21");
    let rest: Vec<PersonId> = (0..7).map(|_| scored(&mut k, B1, "50", "0")).collect();
    let y = k.year_eval();
    // 10 members → 2 seats.
    assert_eq!(stars(&y, top), Some(5));
    assert_eq!(stars(&y, second), Some(5));
    assert_eq!(stars(&y, third), Some(4));
    assert_eq!(stars(&y, rest[0]), Some(1));
    // Without the group stage, a running result shows the band only.
    assert_eq!(k.eval(third).result().unwrap().stars, Some(5));
}

// SD-6
#[test]
fn sd_6_quota_rounds_down_and_ties_across_the_line_stay_out() {
    let mut k = sdtbu();
    let top = scored(&mut k, B1, "70", "25");
    let tie_a = scored(&mut k, B1, "70", "23");
    let tie_b = scored(&mut k, B1, "70", "23");
    for _ in 0..7 {
        scored(&mut k, B1, "50", "0");
    }
    // A small branch: 4 members → 0.8 seats → none.
    let small = k.org();
    let alone = scored(&mut k, small, "70", "30");
    for _ in 0..3 {
        scored(&mut k, small, "60", "0");
    }
    // Exempt members do not count: 5 members + 1 exempt → 1 seat.
    let third = k.org();
    let best = scored(&mut k, third, "70", "30");
    let next = scored(&mut k, third, "70", "29");
    for _ in 0..3 {
        scored(&mut k, third, "60", "0");
    }
    let ex = scored(&mut k, third, "70", "30");
    k.person_mut(ex).exempt = true;
    let y = k.year_eval();
    assert_eq!(stars(&y, top), Some(5));
    assert_eq!((stars(&y, tie_a), stars(&y, tie_b)), (Some(4), Some(4)));
    assert_eq!(stars(&y, alone), Some(4));
    assert_eq!((stars(&y, best), stars(&y, next)), (Some(5), Some(4)));
    assert_eq!(stars(&y, ex), None);
}

// SD-6
#[test]
fn sd_6_below_90_never_has_five_stars() {
    let mut k = sdtbu();
    let m = scored(&mut k, B1, "70", "19.5");
    for _ in 0..9 {
        scored(&mut k, B1, "10", "0");
    }
    let y = k.year_eval();
    assert_eq!(stars(&y, m), Some(4));
}

// SD-7
#[test]
fn sd_7_members_excluded_by_decision_are_not_scored() {
    let mut k = sdtbu();
    let m = scored(&mut k, B1, "70", "30");
    k.person_mut(m).exempt = true;
    let r = k.eval(m).result().unwrap().clone();
    assert_eq!((r.status, r.score, r.stars), (Status::Exempt, None, None));
}
