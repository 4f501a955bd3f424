//! Which branches, people and results a form covers.

use std::collections::HashMap;
use std::sync::Arc;

use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::INDEX;
use crate::error::{AppError, AppResult};
use crate::ledger::Scoring;
use crate::ledger::inputs::policy_for;
use crate::policy::{Policy, parse_dec};

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
#[tracing::instrument(level = "debug", skip_all)]
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
pub(super) struct Branch {
    pub(super) org: entity::organization::Model,
    pub(super) policy: Arc<Policy>,
}

/// The subtree's branches in tree order, and for every organization the branch its
/// members are reported under (the nearest branch at or above it; itself otherwise).
#[tracing::instrument(level = "debug", skip_all)]
pub(super) async fn branches(
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

pub(super) fn path_key(path: &str) -> Vec<i64> {
    path.split('/').filter_map(|s| s.parse().ok()).collect()
}

/// (name, role) of the people given.
#[tracing::instrument(level = "debug", skip_all)]
pub(super) async fn people(
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

/// The organizations of the subtree that hold results for `year`, or the Chinese
/// refusal for a year without any.
pub(super) async fn results_or_unknown_year(
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

pub(super) fn status_note(r: &YearResult) -> Option<&'static str> {
    match r.status.as_str() {
        "exempt" => Some("免评"),
        "vetoed" => Some("一票否决，年度积分为零"),
        "unqualified" => Some("不合格"),
        "not_covered" => Some("不在积分管理范围"),
        _ => None,
    }
}
