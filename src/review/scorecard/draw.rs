//! The random audit draw (随机抽查, JH-6): N branches out of the reviewed ones. The
//! order is SHA-256(seed ‖ ":" ‖ organization id) ascending (hex digests compared as
//! text), so the same seed and candidates give the same branches on any machine,
//! whatever RNG crate version: anyone can repeat it with `sha256sum`.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::service::{self, REVIEWED};
use crate::audit::Entry;
use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult};
use crate::ids::OrgId;
use crate::state::AppState;

/// How a draw orders the candidates, shown beside every draw.
pub const METHOD: &str = "按 SHA-256(种子 + \":\" + 组织编号) 的十六进制值从小到大排序，取前 N 个";

pub fn key(seed: &str, org_id: i64) -> String {
    hex::encode(Sha256::digest(format!("{seed}:{org_id}").as_bytes()))
}

/// The first `n` candidates in the seed's order.
pub fn draw(seed: &str, candidates: &[i64], n: usize) -> Vec<i64> {
    let mut keyed: Vec<(String, i64)> = candidates.iter().map(|&c| (key(seed, c), c)).collect();
    keyed.sort();
    keyed.into_iter().take(n).map(|(_, c)| c).collect()
}

// ---------------------------------------------------------------------------------
// Recorded draws

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrawInput {
    /// How many branches to audit.
    pub n: u32,
}

#[derive(Debug, Serialize)]
pub struct Drawn {
    pub org_id: i64,
    pub org_name: String,
    pub scorecard_id: Option<i64>,
    /// SHA-256(seed ‖ ":" ‖ org_id), the sort key.
    pub key: String,
}

#[derive(Debug, Serialize)]
pub struct DrawView {
    pub id: i64,
    pub assessment_id: i64,
    pub seed: String,
    pub n: i32,
    pub method: &'static str,
    pub candidates: Vec<i64>,
    pub result: Vec<Drawn>,
    pub drawn_by: String,
    pub drawn_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct Repeat {
    pub draw: DrawView,
    /// The draw run again from the recorded seed and candidates.
    pub repeated: Vec<i64>,
    pub same: bool,
}

async fn view(state: &AppState, d: entity::assessment_draw::Model) -> AppResult<DrawView> {
    let candidates: Vec<i64> = serde_json::from_str(&d.candidates).unwrap_or_default();
    let result: Vec<i64> = serde_json::from_str(&d.result).unwrap_or_default();
    let orgs: std::collections::HashMap<i64, String> = entity::organization::Entity::find()
        .filter(entity::organization::Column::Id.is_in(result.clone()))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let cards: std::collections::HashMap<i64, i64> = entity::scorecard::Entity::find()
        .filter(entity::scorecard::Column::AssessmentId.eq(d.assessment_id))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|c| (c.org_id, c.id))
        .collect();
    Ok(DrawView {
        id: d.id,
        assessment_id: d.assessment_id,
        method: METHOD,
        result: result
            .iter()
            .map(|&o| Drawn {
                org_id: o,
                org_name: orgs.get(&o).cloned().unwrap_or_default(),
                scorecard_id: cards.get(&o).copied(),
                key: key(&d.seed, o),
            })
            .collect(),
        candidates,
        seed: d.seed,
        n: d.n,
        drawn_by: d.drawn_by_name,
        drawn_at: d.drawn_at,
    })
}

/// Draws `n` of the assessment's reviewed branches with a fresh seed and records it.
pub async fn record(
    state: &AppState,
    principal: &Principal,
    assessment: i64,
    input: DrawInput,
) -> AppResult<DrawView> {
    let (a, committee) =
        service::assessment_scoped(&state.db, principal, Perm::OrgWrite, assessment).await?;
    let mut candidates: Vec<i64> = entity::scorecard::Entity::find()
        .filter(entity::scorecard::Column::AssessmentId.eq(a.id))
        .filter(entity::scorecard::Column::State.eq(REVIEWED))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|c| c.org_id)
        .collect();
    candidates.sort_unstable();
    if candidates.is_empty() {
        return Err(AppError::validation("还没有审核完成的党支部，无法抽查"));
    }
    let n = input.n as usize;
    if n == 0 || n > candidates.len() {
        return Err(AppError::field(
            "n",
            format!(
                "抽查数须在 1 到 {} 之间（已审核的党支部数）",
                candidates.len()
            ),
        ));
    }
    let seed = crate::db::random_secret(16);
    let result = draw(&seed, &candidates, n);
    let now = state.clock.now();
    let txn = crate::db::begin(&state.db).await?;
    let d = entity::assessment_draw::ActiveModel {
        id: NotSet,
        assessment_id: Set(a.id),
        seed: Set(seed.clone()),
        n: Set(i32::try_from(n).unwrap_or(i32::MAX)),
        candidates: Set(serde_json::to_string(&candidates).unwrap_or_default()),
        result: Set(serde_json::to_string(&result).unwrap_or_default()),
        drawn_by: Set(Some(principal.account_id.0)),
        drawn_by_name: Set(principal.username.clone()),
        drawn_at: Set(now),
    }
    .insert(&txn)
    .await?;
    crate::audit::record(
        &txn,
        &principal.actor(),
        Entry::new("assessment_draw", "assessment", a.id)
            .org(OrgId(committee.id))
            .after(serde_json::json!({
                "draw_id": d.id, "seed": seed, "n": n,
                "candidates": candidates, "result": result,
            })),
    )
    .await?;
    txn.commit().await?;
    view(state, d).await
}

pub async fn list(
    state: &AppState,
    principal: &Principal,
    assessment: i64,
) -> AppResult<Vec<DrawView>> {
    let (a, _) =
        service::assessment_scoped(&state.db, principal, Perm::ScoresRead, assessment).await?;
    let rows = entity::assessment_draw::Entity::find()
        .filter(entity::assessment_draw::Column::AssessmentId.eq(a.id))
        .order_by_asc(entity::assessment_draw::Column::Id)
        .all(&state.db)
        .await?;
    let mut out = Vec::new();
    for d in rows {
        out.push(view(state, d).await?);
    }
    Ok(out)
}

/// Runs a recorded draw again from its seed and candidates.
pub async fn repeat(state: &AppState, principal: &Principal, id: i64) -> AppResult<Repeat> {
    let d = entity::assessment_draw::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::not_found("抽查记录不存在"))?;
    service::assessment_scoped(&state.db, principal, Perm::ScoresRead, d.assessment_id).await?;
    let candidates: Vec<i64> = serde_json::from_str(&d.candidates).unwrap_or_default();
    let recorded: Vec<i64> = serde_json::from_str(&d.result).unwrap_or_default();
    let repeated = draw(
        &d.seed,
        &candidates,
        usize::try_from(d.n).unwrap_or_default(),
    );
    let same = repeated == recorded;
    Ok(Repeat {
        draw: view(state, d).await?,
        repeated,
        same,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_branches_in_any_candidate_order() {
        let a = draw("00ff", &[5, 9, 12, 40, 41], 2);
        let b = draw("00ff", &[41, 40, 12, 9, 5], 2);
        assert_eq!(a, b);
        assert_eq!(a.len(), 2);
        // Pinned: a change of the method would change past draws.
        assert_eq!(
            key("00ff", 5),
            "704cf98b4c878fe1f7b01d32e2861a2bc6b012447f976a0ef96e295037791a31"
        );
    }
}
