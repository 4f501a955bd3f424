//! The scorecard form (党支部标准化建设考评表) as a table for `reports::export`:
//! 项目, 分值, 自评分, 审核分, 扣分原因与佐证, 合计, 等次 — one row per item, subtotals
//! of the base and vanguard parts, the bottom line (members counted, sanctions, vetoes)
//! and the result row.

use rust_decimal::Decimal;

use super::model::Part;
use super::service::ScorecardView;
use crate::reports::export::{Cell, Table};

pub const HEADERS: [&str; 7] = [
    "项目",
    "分值",
    "自评分",
    "审核分",
    "扣分原因与佐证",
    "合计",
    "等次",
];

fn num(d: Decimal) -> Cell {
    Cell::Number(d)
}

fn opt(d: Option<Decimal>) -> Cell {
    d.map_or(Cell::Empty, Cell::Number)
}

pub fn table(v: &ScorecardView) -> Table {
    let mut rows = Vec::new();
    for part in [Part::Base, Part::Vanguard] {
        let lines: Vec<_> = v.lines.iter().filter(|l| l.part == part).collect();
        for l in &lines {
            let mut why = Vec::new();
            if let Some(r) = &l.review_reason {
                why.push(format!("审核：{r}"));
            }
            if let Some(e) = &l.evidence {
                why.push(format!("自评佐证：{e}"));
            }
            if !l.files.is_empty() {
                why.push(format!("附图 {} 张", l.files.len()));
            }
            let name = if part == Part::Vanguard {
                format!("先锋分·{}", l.label)
            } else {
                l.label.clone()
            };
            rows.push(vec![
                Cell::text(name),
                num(l.weight.0),
                opt(l.self_score.map(|p| p.0)),
                opt(l.review_score.map(|p| p.0)),
                Cell::text(why.join("；")),
                Cell::Empty,
                Cell::Empty,
            ]);
        }
        let sum = |f: &dyn Fn(&&&super::service::LineView) -> Option<Decimal>| -> Decimal {
            lines.iter().filter_map(|l| f(&l)).sum()
        };
        rows.push(vec![
            Cell::text(format!("{}小计", part.label())),
            num(sum(&|l| Some(l.weight.0))),
            num(sum(&|l| l.self_score.map(|p| p.0))),
            num(sum(&|l| l.review_score.map(|p| p.0))),
            Cell::Empty,
            Cell::Empty,
            Cell::Empty,
        ]);
    }
    let b = &v.bottom;
    if let Some(label) = &b.member_label {
        let count = b.member_count.unwrap_or(0);
        let names: Vec<String> = b
            .proposed_members
            .iter()
            .map(|m| format!("{}（扣 {} 分）", m.name, crate::policy::fmt_dec(m.points.0)))
            .collect();
        let mut why = format!("确认 {count} 人；平台按积分台账提议 {} 人", b.proposed);
        if !names.is_empty() {
            why.push_str(&format!("：{}", names.join("、")));
        }
        if let Some(r) = &b.member_rule {
            why.push_str(&format!("；{r}"));
        }
        rows.push(vec![
            Cell::text(format!("底线分·{label}")),
            Cell::Empty,
            Cell::Empty,
            num(-member_points(v)),
            Cell::text(why),
            Cell::Empty,
            Cell::Empty,
        ]);
    }
    if let Some(label) = &b.sanction_label {
        let points: Decimal = b
            .sanctions
            .iter()
            .filter_map(|s| {
                b.sanction_levels
                    .iter()
                    .find(|(l, _)| *l == s.level)
                    .map(|(_, p)| p.0)
            })
            .sum();
        let why: Vec<String> = b
            .sanctions
            .iter()
            .map(|s| format!("{}（{}）", s.name, sanction_label(&s.level)))
            .collect();
        rows.push(vec![
            Cell::text(format!("底线分·{label}")),
            Cell::Empty,
            Cell::Empty,
            num(-points),
            Cell::text(why.join("、")),
            Cell::Empty,
            Cell::Empty,
        ]);
    }
    for veto in &v.vetoes {
        rows.push(vec![
            Cell::text(format!("底线分·一票否决：{}", veto.label)),
            Cell::Empty,
            Cell::Empty,
            Cell::Empty,
            Cell::text(format!(
                "原因：{}；佐证：{}；决定人：{}",
                veto.cause, veto.evidence, veto.decided_by
            )),
            Cell::Empty,
            Cell::Empty,
        ]);
    }
    rows.push(vec![
        Cell::text("合计"),
        Cell::Empty,
        num(v
            .lines
            .iter()
            .filter_map(|l| l.self_score.map(|p| p.0))
            .sum()),
        num(v.outcome.items_total.0),
        Cell::text(if v.outcome.vetoed {
            "一票否决：考评分计 0 分，列为后进整转党支部"
        } else {
            ""
        }),
        num(v.outcome.total.0),
        Cell::text(v.outcome.rating_label.clone().unwrap_or_default()),
    ]);
    Table {
        sheet: "考评表".to_owned(),
        headers: HEADERS.to_vec(),
        rows,
    }
}

fn member_points(v: &ScorecardView) -> Decimal {
    let others: Decimal = v
        .bottom
        .sanctions
        .iter()
        .filter_map(|s| {
            v.bottom
                .sanction_levels
                .iter()
                .find(|(l, _)| *l == s.level)
                .map(|(_, p)| p.0)
        })
        .sum();
    v.outcome.bottom.0 - others
}

/// Chinese names of the JH-4 sanction levels.
pub fn sanction_label(level: &str) -> &str {
    match level {
        "warning" => "警告",
        "serious_warning" => "严重警告",
        "removal" => "撤销党内职务",
        "probation" => "留党察看",
        "expulsion" => "开除党籍",
        other => other,
    }
}
