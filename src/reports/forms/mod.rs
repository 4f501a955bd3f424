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

mod monthly;
mod registration;
mod scope;
mod stars;
mod sums;

use serde::Serialize;

pub use monthly::monthly;
pub use registration::registration;
pub use scope::{YearResult, year_results};
pub use stars::star_summary;

use crate::error::{AppError, AppResult};
use crate::ledger::Scoring;
use crate::policy::Policy;

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
