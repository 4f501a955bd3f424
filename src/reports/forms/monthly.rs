//! The monthly 党员积分台账 (erqi-2021).

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;
use sea_orm::ConnectionTrait;

use super::member_index;
use super::scope::{branches, people, results_or_unknown_year};
use super::sums::{Slot, Slots, sums};
use crate::error::AppResult;
use crate::ledger::Scoring;
use crate::ledger::inputs::tz_of;
use crate::ledger::queries::{Period, period_bounds, places};
use crate::reports::export::{Cell, Sheet, Table, sheet_name};

/// 党员积分台账 (EQ-4's monthly tally): per branch, every member a row per month up to
/// the current one: 姓名, 月份, 基础积分 (awards in the `base` category or in none),
/// 专项积分 (awards in any other category: erqi's 特色积分), 扣分 (deductions and a
/// veto's clearing, as a positive amount), 当月合计, 累计, and 季度排名 on a quarter's
/// last month once the quarter is over (places within the branch by the quarter's
/// points, ties sharing a place, exempt members unranked).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn monthly(
    db: &impl ConnectionTrait,
    scoring: &Scoring,
    root: &entity::organization::Model,
    year: i32,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<Vec<Sheet>> {
    let tz = tz_of(root);
    let mut bounds = Vec::with_capacity(13);
    for m in 1..=12 {
        bounds.push(period_bounds(year, Period::Month, Some(m), tz)?.0);
    }
    bounds.push(period_bounds(year, Period::Month, Some(12), tz)?.1);
    // Months shown: the whole year once it is over, else up to the current month.
    let last_month = (1..=12).rev().find(|m| bounds[*m - 1] <= now).unwrap_or(0);
    let (branches, under) = branches(db, scoring, root, year).await?;
    let org_ids: Vec<i64> = under.keys().copied().collect();
    let results = results_or_unknown_year(db, root, &org_ids, year).await?;
    let names = people(db, &org_ids).await?;
    let branch_of_person: HashMap<i64, usize> = results
        .iter()
        .filter_map(|r| under.get(&r.org_id).map(|b| (r.person_id, *b)))
        .collect();
    let (keys, sums) = sums(db, &org_ids, year, Some(&bounds)).await?;
    let mut slots = Slots::default();
    // No await below: the figures and rows are one synchronous stretch.
    let _figures = tracing::debug_span!("figures").entered();
    // person → month → (base, special, deduction)
    let mut figures: HashMap<i64, [(Decimal, Decimal, Decimal); 12]> = HashMap::new();
    for s in &sums {
        let Some(b) = branch_of_person.get(&s.person) else {
            continue;
        };
        let bp = &branches[*b].policy;
        let cells = figures
            .entry(s.person)
            .or_insert([(Decimal::ZERO, Decimal::ZERO, Decimal::ZERO); 12]);
        for (cell, points) in cells.iter_mut().zip(s.months) {
            if points.is_zero() {
                continue;
            }
            match slots.of(bp, &keys, s.key, points) {
                Slot::Category(ci) => {
                    let base = member_index(bp)
                        .and_then(|i| bp.indexes[i].categories.get(ci))
                        .is_none_or(|c| c.id == "base");
                    if base {
                        cell.0 += points;
                    } else {
                        cell.1 += points;
                    }
                }
                Slot::Bonus => cell.0 += points,
                Slot::Deduction => cell.2 -= points,
            }
        }
    }
    let zero = [(Decimal::ZERO, Decimal::ZERO, Decimal::ZERO); 12];
    let month_total = |p: i64, m: usize| -> Decimal {
        let (b, s, d) = figures.get(&p).unwrap_or(&zero)[m];
        b + s - d
    };
    // Quarter places per branch: quarter (0-3) → person → place.
    let mut place: HashMap<(usize, i64), u32> = HashMap::new();
    for q in 0..4usize {
        let end_month = q * 3 + 3;
        if bounds[end_month] > now {
            continue;
        }
        let mut by_branch: BTreeMap<usize, Vec<(Decimal, i64)>> = BTreeMap::new();
        for r in results.iter().filter(|r| r.status != "exempt") {
            if let Some(b) = branch_of_person.get(&r.person_id) {
                let total: Decimal = (q * 3..q * 3 + 3)
                    .map(|m| month_total(r.person_id, m))
                    .sum();
                by_branch.entry(*b).or_default().push((total, r.person_id));
            }
        }
        for (_, mut list) in by_branch {
            list.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            let scores: Vec<Decimal> = list.iter().map(|(s, _)| *s).collect();
            for ((_, p), n) in list.iter().zip(places(&scores)) {
                place.insert((q, *p), n);
            }
        }
    }
    let mut rows: Vec<Vec<Vec<Cell>>> = vec![Vec::new(); branches.len()];
    for r in &results {
        let Some(b) = branch_of_person.get(&r.person_id) else {
            continue;
        };
        let name = names
            .get(&r.person_id)
            .map(|(n, _)| n.clone())
            .unwrap_or_default();
        let f = figures.get(&r.person_id).unwrap_or(&zero);
        let mut running = Decimal::ZERO;
        for (m, (base, special, deduction)) in f.iter().enumerate().take(last_month) {
            let total = base + special - deduction;
            running += total;
            let rank = if m % 3 == 2 {
                place.get(&(m / 3, r.person_id)).copied()
            } else {
                None
            };
            rows[*b].push(vec![
                Cell::text(name.clone()),
                Cell::text(format!("{}月", m + 1)),
                Cell::Number(*base),
                Cell::Number(*special),
                Cell::Number(*deduction),
                Cell::Number(total),
                Cell::Number(running),
                rank.map_or(Cell::Empty, |n| Cell::Number(Decimal::from(n))),
            ]);
        }
    }
    let mut taken = std::collections::HashSet::new();
    Ok(branches
        .iter()
        .zip(rows)
        .filter(|(b, rows)| !rows.is_empty() || b.org.kind == "branch")
        .map(|(b, rows)| Sheet {
            title: b.org.name.clone(),
            table: Table {
                sheet: sheet_name(&b.org.name, &mut taken),
                headers: vec![
                    "姓名",
                    "月份",
                    "基础积分",
                    "专项积分",
                    "扣分",
                    "当月合计",
                    "累计",
                    "季度排名",
                ],
                rows,
            },
        })
        .collect())
}
