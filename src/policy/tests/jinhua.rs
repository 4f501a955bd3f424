//! jinhua-2018 branch scorecard, rule by rule (RULES.md JH-…).

use super::*;

fn jinhua() -> Kit {
    Kit::new("jinhua-2018")
}

fn level(l: &str) -> Fields {
    Fields::new().with("level", text(l))
}

// JH-1
#[test]
fn jh_1_total_is_base_plus_vanguard_plus_bottom_line() {
    let mut k = jinhua();
    assert_eq!(k.org_score(B1), dec("80"));
    k.org_item_with(B1, "central_work", "2026-05-01 10:00", level("national"));
    assert_eq!(k.org_score(B1), dec("86"));
    k.org_item_with(B1, "member_sanction", "2026-06-01 10:00", level("warning"));
    assert_eq!(k.org_score(B1), dec("85"));
    let e = k.eval_org(B1);
    assert_eq!(e.result().unwrap().index.as_ref(), "fortress");
}

// JH-2
#[test]
fn jh_2_base_items_open_at_their_weights_and_lose_their_deductions() {
    let mut k = jinhua();
    let e = k.eval_org(B1);
    let openings: Vec<&Posting> = e
        .postings
        .iter()
        .filter(|p| &*p.rule_id == "JH-2")
        .collect();
    // 5 + 7 + 9 + 7 + 8 + 5 numbered items.
    assert_eq!(openings.len(), 41);
    // Political 15, ideological 15, organizational 20, conduct 10, discipline 10, institutional 10.
    let total: Decimal = openings.iter().map(|p| p.points_granted).sum();
    assert_eq!(total, dec("80"));
    // "Each missing monthly theme day −1": two missing.
    k.org_item(B1, "ideological_4", "2026-03-31 10:00");
    k.org_item(B1, "ideological_4", "2026-04-30 10:00");
    // A graded deduction ("视情扣1－3分").
    k.org_item_with(
        B1,
        "ideological_2",
        "2026-06-30 10:00",
        Fields::new().with("points", num("1.5")),
    );
    assert_eq!(k.org_score(B1), dec("76.5"));
}

// JH-2.1
#[test]
fn jh_2_1_deductions_and_bonuses_never_exceed_the_items_weight() {
    let mut k = jinhua();
    for month in 1..=5 {
        k.org_item(B1, "ideological_4", &format!("2026-{month:02}-28 10:00"));
    }
    // Weight 3: five missing days cost 3, not 5.
    assert_eq!(k.org_score(B1), dec("77"));
    for month in 1..=3 {
        k.org_item_with(
            B1,
            "central_work",
            &format!("2026-{month:02}-10 10:00"),
            level("national"),
        );
    }
    // Weight 12: three national awards give 12, not 18.
    assert_eq!(k.org_score(B1), dec("89"));
}

// JH-3
#[test]
fn jh_3_vanguard_awards_by_level() {
    let levels = [
        "national",
        "provincial",
        "municipal",
        "organs_committee",
        "superior_committee",
    ];
    for (code, points) in [
        ("central_work", ["6", "5", "4", "3", "2"]),
        ("key_work", ["6", "5", "4", "3", "2"]),
        ("innovation", ["6", "5", "4", "3", "2"]),
        ("honor", ["5", "4", "3", "2", "1"]),
    ] {
        for (l, p) in levels.iter().zip(points) {
            let mut k = jinhua();
            k.org_item_with(B1, code, "2026-05-01 10:00", level(l));
            assert_eq!(k.org_score(B1) - dec("80"), dec(p), "{code} {l}");
        }
    }
    let mut k = jinhua();
    k.org_item_with(
        B1,
        "vanguard_average",
        "2026-12-01 10:00",
        Fields::new().with("points", num("3")),
    );
    k.org_item_with(
        B1,
        "vanguard_average",
        "2026-12-02 10:00",
        Fields::new().with("points", num("4")),
    );
    assert_eq!(k.org_score(B1), dec("84"));
}

// JH-4
#[test]
fn jh_4_one_vote_veto() {
    let mut k = jinhua();
    k.org_item_with(B1, "key_work", "2026-05-01 10:00", level("national"));
    k.org_item(B1, "veto_accountability", "2026-09-01 10:00");
    let r = k.eval_org(B1).result().unwrap().clone();
    assert_eq!((r.status, r.score), (Status::Vetoed, Some(dec("0"))));
    assert_eq!(r.rating.as_deref(), Some("backward"));
}

// JH-4
#[test]
fn jh_4_bottom_line_deductions_per_member() {
    let mut k = jinhua();
    let over = |m: &str| Fields::new().with("member", text(m));
    k.org_item_with(B1, "member_over_15", "2026-03-01 10:00", over("m1"));
    assert_eq!(k.org_score(B1), dec("79"));
    // The same member again is one case.
    k.org_item_with(B1, "member_over_15", "2026-04-01 10:00", over("m1"));
    assert_eq!(k.org_score(B1), dec("79"));
    k.org_item_with(B1, "member_over_15", "2026-05-01 10:00", over("m2"));
    assert_eq!(k.org_score(B1), dec("78"));
    // Three or more cases: −5 in all.
    k.org_item_with(B1, "member_over_15", "2026-06-01 10:00", over("m3"));
    assert_eq!(k.org_score(B1), dec("75"));
    k.org_item_with(B1, "member_over_15", "2026-07-01 10:00", over("m4"));
    assert_eq!(k.org_score(B1), dec("75"));

    let mut k = jinhua();
    for (i, l) in [
        "warning",
        "serious_warning",
        "removal",
        "probation",
        "expulsion",
    ]
    .iter()
    .enumerate()
    {
        k.org_item_with(
            B1,
            "member_sanction",
            &format!("2026-0{}-01 10:00", i + 1),
            level(l),
        );
    }
    assert_eq!(k.org_score(B1), dec("65"));
}

// JH-5
#[test]
fn jh_5_ratings() {
    let k = jinhua();
    let ratings = &k.policy.index("fortress").unwrap().ratings;
    let at = |s: &str| band(ratings, dec(s)).map(|r| r.to_string());
    let want = |s: &str| Some(s.to_owned());
    assert_eq!(at("79.5"), want("backward"));
    assert_eq!(at("80"), want("fail"));
    assert_eq!(at("89.5"), want("fail"));
    assert_eq!(at("90"), want("pass"));
    assert_eq!(at("109.5"), want("pass"));
    assert_eq!(at("110"), want("excellent"));

    let mut k = jinhua();
    assert_eq!(
        k.eval_org(B1).result().unwrap().rating.as_deref(),
        Some("fail")
    );
    k.org_item_with(B1, "central_work", "2026-05-01 10:00", level("national"));
    k.org_item_with(B1, "central_work", "2026-06-01 10:00", level("municipal"));
    assert_eq!(
        k.eval_org(B1).result().unwrap().rating.as_deref(),
        Some("pass")
    );
    for code in ["key_work", "innovation"] {
        k.org_item_with(B1, code, "2026-07-01 10:00", level("national"));
        k.org_item_with(B1, code, "2026-08-01 10:00", level("national"));
    }
    // 80 + 10 + 10 (cap) + 8 (cap) = 108, still a pass; an honour makes 113.
    assert_eq!(
        k.eval_org(B1).result().unwrap().rating.as_deref(),
        Some("pass")
    );
    k.org_item_with(B1, "honor", "2026-09-01 10:00", level("national"));
    assert_eq!(k.org_score(B1), dec("113"));
    assert_eq!(
        k.eval_org(B1).result().unwrap().rating.as_deref(),
        Some("excellent")
    );
}
