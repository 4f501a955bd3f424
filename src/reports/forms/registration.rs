//! 党员积分量化登记表 (sdtbu-2018, 附件一).

use std::collections::HashMap;

use rust_decimal::Decimal;
use sea_orm::ConnectionTrait;

use super::member_index;
use super::scope::{branches, people, results_or_unknown_year, status_note};
use super::sums::{Slot, Slots, sums};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ledger::Scoring;
use crate::ledger::inputs::policy_for;
use crate::org::PersonRole;
use crate::policy::Policy;
use crate::reports::export::{Cell, Sheet, Table, sheet_name};

/// 党员积分量化登记表 (附件一): one sheet per branch; 序号, 姓名, 党员类别, the points of
/// each category of the member index, 加分, 扣分, 年度积分, 星级, 备注.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn registration(
    db: &impl ConnectionTrait,
    scoring: &Scoring,
    root: &entity::organization::Model,
    year: i32,
) -> AppResult<Vec<Sheet>> {
    let (branches, under) = branches(db, scoring, root, year).await?;
    // The form's policy: the organization's own, else the first branch's that has
    // categories; branches under another policy are not on this form.
    let root_policy = policy_for(db, scoring, &root.path, year).await?;
    let has_categories =
        |p: &Policy| member_index(p).is_some_and(|i| !p.indexes[i].categories.is_empty());
    let Some(policy) = std::iter::once(&root_policy)
        .chain(branches.iter().map(|b| &b.policy))
        .find(|p| has_categories(p))
        .cloned()
    else {
        return Err(AppError::new(
            ErrorCode::FormNotApplicable,
            format!(
                "党员积分量化登记表按积分分类（如 sdtbu-2018 的基础积分、贡献积分）填写；{}{year}年执行的《{}》没有积分分类",
                root.name, root_policy.title
            ),
        ));
    };
    let cats: Vec<(String, String)> = member_index(&policy)
        .map(|i| {
            policy.indexes[i]
                .categories
                .iter()
                .map(|c| (c.id.clone(), c.label.clone()))
                .collect()
        })
        .unwrap_or_default();
    let under: HashMap<i64, usize> = under
        .into_iter()
        .filter(|(_, b)| branches[*b].policy.name == policy.name)
        .collect();
    let org_ids: Vec<i64> = under.keys().copied().collect();
    let results = results_or_unknown_year(db, root, &org_ids, year).await?;
    let names = people(db, &org_ids).await?;
    let branch_of_person: HashMap<i64, usize> = results
        .iter()
        .filter_map(|r| under.get(&r.org_id).map(|b| (r.person_id, *b)))
        .collect();
    let (keys, sums) = sums(db, &org_ids, year, None).await?;
    let mut slots = Slots::default();
    // person → (categories, bonus, deduction)
    let mut figures: HashMap<i64, (Vec<Decimal>, Decimal, Decimal)> = HashMap::new();
    for s in &sums {
        let Some(b) = branch_of_person.get(&s.person) else {
            continue;
        };
        let bp = &branches[*b].policy;
        let entry = figures.entry(s.person).or_insert_with(|| {
            (
                vec![Decimal::ZERO; cats.len()],
                Decimal::ZERO,
                Decimal::ZERO,
            )
        });
        let points = s.total();
        match slots.of(bp, &keys, s.key, points) {
            Slot::Category(ci) => {
                // By the category's id, so a branch under a copy of the preset fits.
                let id = member_index(bp)
                    .and_then(|i| bp.indexes[i].categories.get(ci))
                    .map(|c| c.id.as_str());
                match cats.iter().position(|(cid, _)| Some(cid.as_str()) == id) {
                    Some(k) => entry.0[k] += points,
                    None => entry.1 += points,
                }
            }
            Slot::Bonus => entry.1 += points,
            Slot::Deduction => entry.2 -= points,
        }
    }
    let mut headers: Vec<&'static str> = vec!["序号", "姓名", "党员类别"];
    for (_, label) in &cats {
        headers.push(leak_label(label));
    }
    headers.extend(["加分", "扣分", "年度积分", "星级", "备注"]);
    let mut rows: Vec<Vec<Vec<Cell>>> = vec![Vec::new(); branches.len()];
    for r in &results {
        let Some(b) = branch_of_person.get(&r.person_id) else {
            continue;
        };
        let (name, role) = names.get(&r.person_id).cloned().unwrap_or_default();
        let zero = (
            vec![Decimal::ZERO; cats.len()],
            Decimal::ZERO,
            Decimal::ZERO,
        );
        let (c, bonus, deduction) = figures.get(&r.person_id).unwrap_or(&zero);
        let sheet = &mut rows[*b];
        let mut row = vec![
            Cell::Number(Decimal::from(sheet.len() + 1)),
            Cell::text(name),
            Cell::text(PersonRole::parse(&role).map_or(role.as_str(), |r| r.label())),
        ];
        row.extend(c.iter().map(|d| Cell::Number(*d)));
        row.push(Cell::Number(*bonus));
        row.push(Cell::Number(*deduction));
        row.push(r.score.map_or(Cell::Empty, Cell::Number));
        row.push(match (r.status.as_str(), r.stars) {
            ("exempt", _) | (_, None) => Cell::Empty,
            (_, Some(s)) => Cell::Number(Decimal::from(s)),
        });
        row.push(status_note(r).map_or(Cell::Empty, Cell::text));
        sheet.push(row);
    }
    let mut taken = std::collections::HashSet::new();
    Ok(branches
        .iter()
        .zip(rows)
        .filter(|(b, rows)| {
            b.policy.name == policy.name && (!rows.is_empty() || b.org.kind == "branch")
        })
        .map(|(b, rows)| Sheet {
            title: b.org.name.clone(),
            table: Table {
                sheet: sheet_name(&b.org.name, &mut taken),
                headers: headers.clone(),
                rows,
            },
        })
        .collect())
}

/// Category labels live as long as the policy set (loaded once); headers are
/// `&'static str`, so a label is kept once per distinct text.
fn leak_label(label: &str) -> &'static str {
    use std::sync::Mutex;
    static LABELS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut labels = LABELS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(l) = labels.iter().find(|l| **l == label) {
        return l;
    }
    let l: &'static str = Box::leak(label.to_owned().into_boxed_str());
    labels.push(l);
    l
}
