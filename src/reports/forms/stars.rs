//! 党员积分量化星级评定情况统计表 (sdtbu-2018, 附件二).

use std::collections::HashMap;

use rust_decimal::Decimal;
use sea_orm::ConnectionTrait;

use super::member_index;
use super::scope::{branches, results_or_unknown_year};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ledger::Scoring;
use crate::ledger::inputs::policy_for;
use crate::policy::Policy;
use crate::reports::export::{Cell, Table};

/// 党员积分量化星级评定情况统计表 (附件二): a branch a row (支部, 党员总数, 参评人数,
/// 免评人数, 五星 … 零星, 五星占比, 备注) and a 合计 row. 参评 = not exempt; a member
/// taking part without stars (vetoed) counts under 零星; 五星占比 = 五星 / 参评人数
/// (SD-6's base, the preset's reading).
pub async fn star_summary(
    db: &impl ConnectionTrait,
    scoring: &Scoring,
    root: &entity::organization::Model,
    year: i32,
) -> AppResult<Table> {
    let (branches, under) = branches(db, scoring, root, year).await?;
    let rates_stars = |p: &Policy| member_index(p).is_some_and(|i| !p.indexes[i].stars.is_empty());
    if !branches.iter().any(|b| rates_stars(&b.policy)) {
        let policy = policy_for(db, scoring, &root.path, year).await?;
        return Err(AppError::new(
            ErrorCode::FormNotApplicable,
            format!(
                "星级评定情况统计表只适用于评定星级的积分办法；{}{year}年执行的《{}》不评星级",
                root.name, policy.title
            ),
        ));
    }
    // Branches under a policy without stars are not on this form.
    let under: HashMap<i64, usize> = under
        .into_iter()
        .filter(|(_, b)| rates_stars(&branches[*b].policy))
        .collect();
    let org_ids: Vec<i64> = under.keys().copied().collect();
    let results = results_or_unknown_year(db, root, &org_ids, year).await?;
    // [total, taking part, exempt, 5★ … 0★], open (not closed) results
    let mut counts = vec![([0u64; 9], false); branches.len()];
    for r in &results {
        let Some(b) = under.get(&r.org_id) else {
            continue;
        };
        let (c, open) = &mut counts[*b];
        c[0] += 1;
        *open |= !r.closed;
        if r.status == "exempt" {
            c[2] += 1;
            continue;
        }
        c[1] += 1;
        let stars = usize::try_from(r.stars.unwrap_or(0).clamp(0, 5)).unwrap_or(0);
        c[3 + (5 - stars)] += 1;
    }
    let quota = Decimal::new(2, 1);
    let row = |name: String, c: &[u64; 9], open: bool| -> Vec<Cell> {
        let mut row = vec![Cell::text(name)];
        row.extend(c.iter().map(|n| Cell::Number(Decimal::from(*n))));
        let share = (c[1] > 0).then(|| Decimal::from(c[3]) / Decimal::from(c[1]));
        row.push(share.map_or(Cell::Empty, |s| Cell::Percent(s.round_dp(4))));
        let mut notes = Vec::new();
        if share.is_some_and(|s| s > quota) {
            notes.push("五星占比超过 20%，须有记录在案的理由");
        }
        if open {
            notes.push("年度未结账，为当前积分");
        }
        row.push(if notes.is_empty() {
            Cell::Empty
        } else {
            Cell::text(notes.join("；"))
        });
        row
    };
    let mut rows = Vec::new();
    let mut total = [0u64; 9];
    let mut any_open = false;
    for (b, (c, open)) in branches.iter().zip(&counts) {
        if !rates_stars(&b.policy) || (c[0] == 0 && b.org.kind != "branch") {
            continue;
        }
        for (t, n) in total.iter_mut().zip(c) {
            *t += n;
        }
        any_open |= *open;
        rows.push(row(b.org.name.clone(), c, *open));
    }
    rows.push(row("合计".to_owned(), &total, any_open));
    Ok(Table {
        sheet: format!("{year}年星级评定统计"),
        headers: vec![
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
            "备注",
        ],
        rows,
    })
}
