//! The roll-up across a committee's branches (JH-5): ratings counted, the pass rate
//! (达标率: branches rated as the policy's `passing`, 达标 or 优秀, over all branches
//! assessed) against the year's target from the policy's `[assessment] targets`, and the
//! flag 取消先进参评资格 when the target is missed; the JH-7 due date and late results.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::service::{self, CardSummary, REVIEWED};
use crate::auth::{Perm, Principal};
use crate::error::AppResult;
use crate::ledger::queries::Points;
use crate::state::AppState;

/// What missing the target costs (六、（三）): 取消当年度先进党组织的参评资格.
pub const FLAG: &str = "取消先进参评资格";

#[derive(Debug, Serialize)]
pub struct RatingCount {
    pub rating: String,
    pub label: String,
    pub count: usize,
}

#[derive(Debug, Serialize)]
pub struct RollUp {
    pub assessment_id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub year: i32,
    pub branches: usize,
    pub reviewed: usize,
    /// Every branch reviewed: the rate is final.
    pub complete: bool,
    pub passing: usize,
    /// passing / branches, as a share (0.75).
    pub rate: Points,
    /// The year's target share (0.6, 0.8, 1).
    pub target: Option<Points>,
    pub target_rule: String,
    pub met: bool,
    /// `取消先进参评资格` when the target is missed.
    pub flag: Option<&'static str>,
    pub ratings: Vec<RatingCount>,
    pub vetoed: usize,
    pub due: NaiveDate,
    pub due_rule: String,
    pub late: usize,
    pub scorecards: Vec<CardSummary>,
}

pub async fn rollup(state: &AppState, principal: &Principal, id: i64) -> AppResult<RollUp> {
    let (a, committee) =
        service::assessment_scoped(&state.db, principal, Perm::ScoresRead, id).await?;
    let sheet = service::sheet_of(state, &a.policy)?;
    let cards = service::summaries(&state.db, &sheet, a.id).await?;
    let branches = cards.len();
    let reviewed = cards.iter().filter(|c| c.state == REVIEWED).count();
    let passing = cards
        .iter()
        .filter(|c| c.state == REVIEWED && c.rating.as_deref().is_some_and(|r| sheet.passing(r)))
        .count();
    let rate = if branches == 0 {
        Decimal::ZERO
    } else {
        (Decimal::from(passing) / Decimal::from(branches)).round_dp(4)
    };
    let target = sheet.settings.target(a.year);
    // Exact: passing ≥ target × branches, never a rounded rate.
    let met = target.is_none_or(|t| Decimal::from(passing) >= t * Decimal::from(branches));
    let ratings: Vec<RatingCount> = sheet
        .rating_order()
        .into_iter()
        .map(|r| RatingCount {
            label: sheet.rating_label(&r).to_owned(),
            count: cards
                .iter()
                .filter(|c| c.state == REVIEWED && c.rating.as_deref() == Some(r.as_str()))
                .count(),
            rating: r,
        })
        .collect();
    Ok(RollUp {
        assessment_id: a.id,
        org_id: committee.id,
        org_name: committee.name.clone(),
        year: a.year,
        branches,
        reviewed,
        complete: reviewed == branches,
        passing,
        rate: Points(rate),
        target: target.map(Points),
        target_rule: sheet.settings.target_rule.clone(),
        met,
        flag: (!met).then_some(FLAG),
        ratings,
        vetoed: cards.iter().filter(|c| c.vetoed).count(),
        due: service::due_day(&sheet, a.year),
        due_rule: sheet.settings.due_rule.clone(),
        late: cards.iter().filter(|c| c.late).count(),
        scorecards: cards,
    })
}
