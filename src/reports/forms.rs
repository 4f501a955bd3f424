//! The official forms (issue #12, item 5). The documents give only their titles; the
//! columns are the project's reading, listed once in [`FORMS`] (the console's 报表 page
//! and `GET /api/v1/forms` show it):
//! - 党员积分量化登记表 (sdtbu-2018, 附件一): one sheet per branch, a member a row;
//! - 党员积分量化星级评定情况统计表 (附件二): a branch a row, and a 合计 row;
//! - 党员积分台账 (erqi-2021, monthly): [`monthly`], the one 台账 (also served at the
//!   older path `/orgs/{org_id}/register/export`).
//!
//! Scores and stars come from ONE place, [`year_results`] (the engine's result rows,
//! `subject_scores`): when confirmed stars (SD-6) exist, that function is the one to
//! point at them. Points per column come from the ledger, summed in SQL.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rust_decimal::Decimal;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, JoinType, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;

use super::export::{Cell, Sheet, Table, sheet_name};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ledger::Scoring;
use crate::ledger::inputs::{policy_for, tz_of};
use crate::ledger::queries::{Period, period_bounds, places};
use crate::org::PersonRole;
use crate::policy::{Effect, Policy, Trigger, parse_dec};

/// The index the forms are about (members and probationary members).
const INDEX: &str = "vanguard";

/// One official form as the project reads it.
#[derive(Debug, Clone, Copy)]
pub struct FormInfo {
    pub key: &'static str,
    pub title: &'static str,
    /// Where the title comes from.
    pub source: &'static str,
    /// The preset whose document names the form.
    pub preset: &'static str,
    /// `{categories}` stands for the categories of the preset's member index.
    pub columns: &'static [&'static str],
    /// Sheets and the CSV's shape.
    pub shape: &'static str,
    /// The export's path (`{org_id}`, `{year}`, `{id}` filled in by the caller).
    pub export: &'static str,
    /// Whether the export is served by this build (the others are listed ahead).
    pub available: bool,
}

/// Every official form, in the order the console lists them. The branch scorecard is
/// one per assessment and branch: it is downloaded from its scorecard
/// (`review::scorecard::export`), not for an organization and year (`available: false`).
pub const FORMS: &[FormInfo] = &[
    FormInfo {
        key: "registration",
        title: "党员积分量化登记表",
        source: "seeds/003_d39635d807a8fb0a.txt 附件一",
        preset: "sdtbu-2018",
        columns: &[
            "序号",
            "姓名",
            "党员类别",
            "{categories}",
            "加分",
            "扣分",
            "年度积分",
            "星级",
            "备注",
        ],
        shape: "XLSX 每个支部一页；CSV 为一张表，首列“支部”",
        export: "/api/v1/orgs/{org_id}/forms/registration/{year}/export",
        available: true,
    },
    FormInfo {
        key: "stars",
        title: "党员积分量化星级评定情况统计表",
        source: "seeds/003_d39635d807a8fb0a.txt 附件二",
        preset: "sdtbu-2018",
        columns: &[
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
        shape: "每个支部一行，末行“合计”",
        export: "/api/v1/orgs/{org_id}/forms/stars/{year}/export",
        available: true,
    },
    FormInfo {
        key: "ledger",
        title: "党员积分台账",
        source: "seeds/002_6a770c628eb4fd02.txt（附件原文缺）",
        preset: "erqi-2021",
        columns: &[
            "姓名",
            "月份",
            "基础积分",
            "专项积分",
            "扣分",
            "当月合计",
            "累计",
            "季度排名",
        ],
        shape: "XLSX 每个支部一页，每名党员每月一行；CSV 为一张表，首列“支部”",
        export: "/api/v1/orgs/{org_id}/forms/ledger/{year}/export",
        available: true,
    },
    FormInfo {
        key: "scorecard",
        title: "基层党支部标准化建设考评表",
        source: "seeds/001_2e0941fc9580692b.txt",
        preset: "jinhua-2018",
        columns: &[
            "项目",
            "分值",
            "自评分",
            "审核分",
            "扣分原因与佐证",
            "合计",
            "等次",
        ],
        shape: "每次考评一张表",
        export: "/api/v1/scorecards/{id}/export",
        available: false,
    },
    FormInfo {
        key: "results",
        title: "年度积分结果名单",
        source: "issue #12（各办法的年度结果）",
        preset: "全部预设",
        columns: &["姓名", "支部", "年度积分", "星级或等次", "是否免评"],
        shape: "每名党员一行",
        export: "/api/v1/orgs/{org_id}/results/{year}/export",
        available: true,
    },
];

pub fn form(key: &str) -> AppResult<&'static FormInfo> {
    FORMS
        .iter()
        .find(|f| f.key == key && f.available)
        .ok_or_else(|| AppError::not_found(format!("没有名为“{key}”的报表")))
}

/// A form as the API and the console show it: columns with the categories filled in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FormView {
    pub key: String,
    pub title: String,
    pub source: String,
    pub preset: String,
    pub columns: Vec<String>,
    pub shape: String,
    pub export: String,
    pub available: bool,
}

/// The catalogue, with the category columns of each form's preset.
pub fn catalogue(scoring: &Scoring) -> Vec<FormView> {
    FORMS
        .iter()
        .map(|f| {
            let cats: Vec<String> = scoring
                .policies
                .get(f.preset)
                .map(|p| category_labels(&p))
                .unwrap_or_default();
            FormView {
                key: f.key.to_owned(),
                title: f.title.to_owned(),
                source: f.source.to_owned(),
                preset: f.preset.to_owned(),
                columns: f
                    .columns
                    .iter()
                    .flat_map(|c| {
                        if *c == "{categories}" {
                            cats.clone()
                        } else {
                            vec![(*c).to_owned()]
                        }
                    })
                    .collect(),
                shape: f.shape.to_owned(),
                export: f.export.to_owned(),
                available: f.available,
            }
        })
        .collect()
}

fn member_index(policy: &Policy) -> Option<usize> {
    policy.indexes.iter().position(|i| &*i.id == INDEX)
}

fn category_labels(policy: &Policy) -> Vec<String> {
    member_index(policy)
        .map(|i| {
            policy.indexes[i]
                .categories
                .iter()
                .map(|c| c.label.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// A member's year as the engine left it.
#[derive(Debug, Clone)]
pub struct YearResult {
    pub person_id: i64,
    pub org_id: i64,
    pub status: String,
    pub score: Option<Decimal>,
    pub stars: Option<i32>,
    /// Frozen by the year close.
    pub closed: bool,
}

/// THE place the forms read scores and stars from: the engine's result rows of the
/// member index for the organizations given. Star confirmation (SD-6) replaces the
/// stars here, and only here.
pub async fn year_results(
    db: &impl ConnectionTrait,
    org_ids: &[i64],
    year: i32,
) -> AppResult<Vec<YearResult>> {
    use entity::subject_score::{Column, Entity};
    let mut out = Vec::new();
    for chunk in org_ids.chunks(500) {
        let rows = Entity::find()
            .select_only()
            .columns([
                Column::SubjectId,
                Column::OrgId,
                Column::Status,
                Column::Score,
                Column::Stars,
                Column::Closed,
            ])
            .filter(Column::SubjectKind.eq("person"))
            .filter(Column::Year.eq(year))
            .filter(Column::IndexName.eq(INDEX))
            .filter(Column::OrgId.is_in(chunk.to_vec()))
            .into_tuple::<(i64, i64, String, Option<String>, Option<i32>, bool)>()
            .all(db)
            .await?;
        out.extend(
            rows.into_iter().map(
                |(person_id, org_id, status, score, stars, closed)| YearResult {
                    person_id,
                    org_id,
                    status,
                    score: score.as_deref().and_then(parse_dec),
                    stars,
                    closed,
                },
            ),
        );
    }
    // A closed year shows the stars the branch confirmed (SD-6), through their one read.
    let closed: Vec<i64> = out
        .iter()
        .filter(|r| r.closed)
        .map(|r| r.person_id)
        .collect();
    let confirmed = crate::review::results::confirmed_stars(db, year, &closed).await?;
    for r in &mut out {
        if let Some(stars) = confirmed.get(&r.person_id) {
            r.stars = *stars;
        }
    }
    out.sort_by_key(|r| r.person_id);
    Ok(out)
}

/// A branch of the subtree and the organizations whose members it reports (itself and
/// its groups).
struct Branch {
    org: entity::organization::Model,
    policy: Arc<Policy>,
}

/// The subtree's branches in tree order, and for every organization the branch its
/// members are reported under (the nearest branch at or above it; itself otherwise).
async fn branches(
    db: &impl ConnectionTrait,
    scoring: &Scoring,
    root: &entity::organization::Model,
    year: i32,
) -> AppResult<(Vec<Branch>, HashMap<i64, usize>)> {
    use entity::organization::{Column, Entity};
    let mut orgs = Entity::find()
        .filter(Column::Path.starts_with(root.path.as_str()))
        .all(db)
        .await?;
    orgs.sort_by_key(|o| (o.path.matches('/').count(), o.id));
    let kind_of: HashMap<i64, String> = orgs.iter().map(|o| (o.id, o.kind.clone())).collect();
    // The nearest branch on the path (else the organization itself, e.g. members kept
    // directly in a general branch).
    let report_under = |o: &entity::organization::Model| -> i64 {
        o.path
            .split('/')
            .filter_map(|s| s.parse::<i64>().ok())
            .rev()
            .find(|id| kind_of.get(id).is_some_and(|k| k == "branch"))
            .unwrap_or(o.id)
    };
    let under: HashMap<i64, i64> = orgs.iter().map(|o| (o.id, report_under(o))).collect();
    let mut heads: Vec<&entity::organization::Model> = orgs
        .iter()
        .filter(|o| under.get(&o.id) == Some(&o.id))
        .collect();
    // Tree order: a parent before its children, siblings by creation.
    heads.sort_by_key(|a| path_key(&a.path));
    let mut out = Vec::with_capacity(heads.len());
    let mut pos: HashMap<i64, usize> = HashMap::new();
    let mut policies: HashMap<String, Arc<Policy>> = HashMap::new();
    for h in heads {
        let policy = match policies.get(&h.path) {
            Some(p) => p.clone(),
            None => {
                let p = policy_for(db, scoring, &h.path, year).await?;
                policies.insert(h.path.clone(), p.clone());
                p
            }
        };
        pos.insert(h.id, out.len());
        out.push(Branch {
            org: h.clone(),
            policy,
        });
    }
    let index: HashMap<i64, usize> = under
        .iter()
        .filter_map(|(o, b)| pos.get(b).map(|i| (*o, *i)))
        .collect();
    Ok((out, index))
}

fn path_key(path: &str) -> Vec<i64> {
    path.split('/').filter_map(|s| s.parse().ok()).collect()
}

/// (name, role) of the people given.
async fn people(
    db: &impl ConnectionTrait,
    org_ids: &[i64],
) -> AppResult<HashMap<i64, (String, String)>> {
    use entity::person::{Column, Entity};
    let mut out = HashMap::new();
    for chunk in org_ids.chunks(500) {
        for (id, name, role) in Entity::find()
            .select_only()
            .columns([Column::Id, Column::Name, Column::Role])
            .filter(Column::OrgId.is_in(chunk.to_vec()))
            .into_tuple::<(i64, String, String)>()
            .all(db)
            .await?
        {
            out.insert(id, (name, role));
        }
    }
    Ok(out)
}

/// Where a ledger sum goes on a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// An award in the member index's category of this position.
    Category(usize),
    /// An award outside every category (or a whole-year line raising the score).
    Bonus,
    /// A deduction, a veto's clearing or any whole-year line lowering the score.
    Deduction,
}

/// The slot of a ledger sum: the policy's rule of that ID that reads the fact (by item,
/// or by check-in / make-up for those facts) says award or deduction and its category.
fn slot(
    policy: &Policy,
    source_kind: &str,
    rule_id: &str,
    fact_kind: Option<&str>,
    item: Option<&str>,
    net: Decimal,
) -> Slot {
    let by_sign = if net < Decimal::ZERO {
        Slot::Deduction
    } else {
        Slot::Bonus
    };
    if source_kind != "fact" {
        return by_sign;
    }
    let index = member_index(policy);
    let candidates = policy
        .rules
        .iter()
        .filter(|r| &*r.id == rule_id && Some(r.index) == index);
    let reads = |r: &&crate::policy::Rule| {
        r.sources.iter().any(|s| match (&s.on, fact_kind, item) {
            (Trigger::Item(codes), _, Some(i)) => codes.iter().any(|c| c == i),
            (Trigger::CheckIn(_), Some("checkin"), _) => true,
            (Trigger::Makeup(_), Some("makeup_study"), _) => true,
            _ => false,
        })
    };
    let rule = candidates
        .clone()
        .find(reads)
        .or_else(|| candidates.clone().next());
    match rule {
        Some(r) if r.effect == Effect::Deduct => Slot::Deduction,
        Some(r) if r.outcome.is_some() => by_sign,
        Some(r) => r.category.map_or(by_sign, Slot::Category),
        None => by_sign,
    }
}

/// One summed group of ledger lines.
struct Sum {
    person: i64,
    source_kind: String,
    rule_id: String,
    fact_kind: Option<String>,
    item: Option<String>,
    /// 1–12 when summed by month.
    month: i32,
    points: Decimal,
}

/// Ledger lines of the subtree's people for the year, summed in SQL by person, source
/// kind, rule and the fact's kind and item (and month, when `months` gives the 13
/// bounds of the year's months; lines without a date count in December, the month of
/// the year's result).
async fn sums(
    db: &impl ConnectionTrait,
    org_ids: &[i64],
    year: i32,
    months: Option<&[chrono::DateTime<chrono::Utc>]>,
) -> AppResult<Vec<Sum>> {
    use entity::fact::Column as F;
    use entity::ledger_entry::Column as L;
    let le = Alias::new("le");
    let fa = Alias::new("fa");
    let mut out = Vec::new();
    for chunk in org_ids.chunks(500) {
        let people = Query::select()
            .column(entity::person::Column::Id)
            .from(entity::person::Entity)
            .and_where(Expr::col(entity::person::Column::OrgId).is_in(chunk.to_vec()))
            .to_owned();
        let month_expr: Expr = match months {
            Some(b) if b.len() == 13 => {
                let mut case = Expr::case(Expr::col((le.clone(), L::At)).lt(b[1]), 1);
                for (m, bound) in b.iter().enumerate().take(12).skip(2) {
                    case = case.case(
                        Expr::col((le.clone(), L::At)).lt(*bound),
                        i32::try_from(m).unwrap_or(12),
                    );
                }
                case.finally(12).into()
            }
            _ => Expr::val(12),
        };
        let inner = Query::select()
            .expr_as(Expr::col((le.clone(), L::SubjectId)), Alias::new("person"))
            .expr_as(
                Expr::col((le.clone(), L::SourceKind)),
                Alias::new("source_kind"),
            )
            .expr_as(Expr::col((le.clone(), L::RuleId)), Alias::new("rule_id"))
            .expr_as(Expr::col((fa.clone(), F::Kind)), Alias::new("fact_kind"))
            .expr_as(Expr::col((fa.clone(), F::Item)), Alias::new("item"))
            .expr_as(month_expr, Alias::new("month"))
            .expr_as(Expr::col((le.clone(), L::PointsE4)), Alias::new("e4"))
            .from_as(entity::ledger_entry::Entity, le.clone())
            .join_as(
                JoinType::LeftJoin,
                entity::fact::Entity,
                fa.clone(),
                Expr::col((fa.clone(), F::Id))
                    .equals((le.clone(), L::SourceId))
                    .and(Expr::col((le.clone(), L::SourceKind)).eq("fact")),
            )
            .and_where(Expr::col((le.clone(), L::SubjectKind)).eq("person"))
            .and_where(Expr::col((le.clone(), L::Year)).eq(year))
            .and_where(Expr::col((le.clone(), L::SubjectId)).in_subquery(people))
            .to_owned();
        let t = Alias::new("t");
        let cols = [
            "person",
            "source_kind",
            "rule_id",
            "fact_kind",
            "item",
            "month",
        ];
        let mut q = Query::select();
        for c in cols {
            q.column((t.clone(), Alias::new(c)));
        }
        q.expr_as(
            Func::cast_as(
                Func::sum(Expr::col((t.clone(), Alias::new("e4")))),
                Alias::new("BIGINT"),
            ),
            Alias::new("e4"),
        )
        .from_subquery(inner, t.clone());
        for c in cols {
            q.add_group_by([Expr::col((t.clone(), Alias::new(c)))]);
        }
        for row in db.query_all(&q).await? {
            let e4: i64 = row.try_get("", "e4")?;
            out.push(Sum {
                person: row.try_get("", "person")?,
                source_kind: row.try_get("", "source_kind")?,
                rule_id: row.try_get("", "rule_id")?,
                fact_kind: row.try_get("", "fact_kind")?,
                item: row.try_get("", "item")?,
                month: row.try_get("", "month")?,
                points: Decimal::new(e4, 4),
            });
        }
    }
    Ok(out)
}

/// The organizations of the subtree that hold results for `year`, or the Chinese
/// refusal for a year without any.
async fn results_or_unknown_year(
    db: &impl ConnectionTrait,
    root: &entity::organization::Model,
    org_ids: &[i64],
    year: i32,
) -> AppResult<Vec<YearResult>> {
    let results = year_results(db, org_ids, year).await?;
    if results.is_empty() {
        return Err(AppError::not_found(format!(
            "{}没有 {year} 年度的积分记录",
            root.name
        )));
    }
    Ok(results)
}

fn status_note(r: &YearResult) -> Option<&'static str> {
    match r.status.as_str() {
        "exempt" => Some("免评"),
        "vetoed" => Some("一票否决，年度积分为零"),
        "unqualified" => Some("不合格"),
        "not_covered" => Some("不在积分管理范围"),
        _ => None,
    }
}

/// 党员积分量化登记表 (附件一): one sheet per branch; 序号, 姓名, 党员类别, the points of
/// each category of the member index, 加分, 扣分, 年度积分, 星级, 备注.
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
    let sums = sums(db, &org_ids, year, None).await?;
    let branch_of_person: HashMap<i64, usize> = results
        .iter()
        .filter_map(|r| under.get(&r.org_id).map(|b| (r.person_id, *b)))
        .collect();
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
        match slot(
            bp,
            &s.source_kind,
            &s.rule_id,
            s.fact_kind.as_deref(),
            s.item.as_deref(),
            s.points,
        ) {
            Slot::Category(ci) => {
                // By the category's id, so a branch under a copy of the preset fits.
                let id = member_index(bp)
                    .and_then(|i| bp.indexes[i].categories.get(ci))
                    .map(|c| c.id.as_str());
                match cats.iter().position(|(cid, _)| Some(cid.as_str()) == id) {
                    Some(k) => entry.0[k] += s.points,
                    None => entry.1 += s.points,
                }
            }
            Slot::Bonus => entry.1 += s.points,
            Slot::Deduction => entry.2 -= s.points,
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

/// 党员积分台账 (EQ-4's monthly tally): per branch, every member a row per month up to
/// the current one: 姓名, 月份, 基础积分 (awards in the `base` category or in none),
/// 专项积分 (awards in any other category: erqi's 特色积分), 扣分 (deductions and a
/// veto's clearing, as a positive amount), 当月合计, 累计, and 季度排名 on a quarter's
/// last month once the quarter is over (places within the branch by the quarter's
/// points, ties sharing a place, exempt members unranked).
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
    let sums = sums(db, &org_ids, year, Some(&bounds)).await?;
    let branch_of_person: HashMap<i64, usize> = results
        .iter()
        .filter_map(|r| under.get(&r.org_id).map(|b| (r.person_id, *b)))
        .collect();
    // person → month → (base, special, deduction)
    let mut figures: HashMap<i64, [(Decimal, Decimal, Decimal); 12]> = HashMap::new();
    for s in &sums {
        let Some(b) = branch_of_person.get(&s.person) else {
            continue;
        };
        let bp = &branches[*b].policy;
        let m = usize::try_from(s.month.clamp(1, 12) - 1).unwrap_or(11);
        let cell = &mut figures
            .entry(s.person)
            .or_insert([(Decimal::ZERO, Decimal::ZERO, Decimal::ZERO); 12])[m];
        match slot(
            bp,
            &s.source_kind,
            &s.rule_id,
            s.fact_kind.as_deref(),
            s.item.as_deref(),
            s.points,
        ) {
            Slot::Category(ci) => {
                let base = member_index(bp)
                    .and_then(|i| bp.indexes[i].categories.get(ci))
                    .is_none_or(|c| c.id == "base");
                if base {
                    cell.0 += s.points;
                } else {
                    cell.1 += s.points;
                }
            }
            Slot::Bonus => cell.0 += s.points,
            Slot::Deduction => cell.2 -= s.points,
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
