//! The year's result list of an organization (TW-7, XH-17, XH-18, SD-6, SD-7): each
//! member's score, stars, rating, 免评, award eligibility and the flags that bar awards;
//! each organization's fortress stars (XH-17). Read from the engine's results
//! (`subject_scores`) with SD-6's confirmed stars over the engine's proposal
//! ([`confirmed_or_proposed_stars`], the one read every page and form uses) and TW-7's
//! confirmations of a proposed 优秀. As JSON, a console page and the form 年度结果名单.

use std::collections::HashMap;
use std::sync::Arc;

use rust_decimal::Decimal;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::Serialize;

use crate::audit::Entry;
use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::{OrgId, PersonId};
use crate::ledger::queries::Points;
use crate::ledger::{Scoring, inputs};
use crate::policy::{Policy, parse_dec};
use crate::reports::export::{Cell, Table};
use crate::state::AppState;

/// Flags that bar a member from awards (评先评优): TW-7's `no_awards` (below 80),
/// EQ-6's `not_excellent`.
pub const NO_AWARD_FLAGS: [&str; 2] = ["no_awards", "not_excellent"];

/// Where a member's stars come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StarsSource {
    /// The engine's result: a band (XH-18), or SD-6's proposal within the quota while
    /// the branch has not confirmed it.
    Engine,
    /// Confirmed by the branch (SD-6), possibly departing from the proposal.
    Confirmed,
}

/// A member's stars as every page and form shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StarsOf {
    pub stars: Option<i32>,
    pub source: StarsSource,
}

/// SD-6: the stars the branch confirmed for these people in `year` (`None` inside: 免评).
/// The one read of `star_ratings`; every view of a closed year's stars overlays it.
pub async fn confirmed_stars(
    db: &impl ConnectionTrait,
    year: i32,
    persons: &[i64],
) -> AppResult<HashMap<i64, Option<i32>>> {
    let ratings: Vec<i64> = entity::star_rating::Entity::find()
        .filter(entity::star_rating::Column::Year.eq(year))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let mut out = HashMap::new();
    if ratings.is_empty() {
        return Ok(out);
    }
    for chunk in persons.chunks(500) {
        for l in entity::star_rating_line::Entity::find()
            .filter(entity::star_rating_line::Column::RatingId.is_in(ratings.clone()))
            .filter(entity::star_rating_line::Column::PersonId.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            out.insert(l.person_id, l.stars);
        }
    }
    Ok(out)
}

/// SD-6: the stars of every member of `org`'s subtree for `year`: what the branch
/// confirmed (`star_ratings`) where it did, else the engine's stars of `subject_scores`
/// (the proposal). `subject_scores` itself is never rewritten: it stays the engine's
/// result, rebuildable, and the proposal the confirmation departs from.
pub async fn confirmed_or_proposed_stars(
    db: &impl ConnectionTrait,
    org: &entity::organization::Model,
    year: i32,
) -> AppResult<HashMap<i64, StarsOf>> {
    let subtree = crate::org::service::subtree_ids(db, org).await?;
    let mut out = HashMap::new();
    for chunk in subtree.chunks(500) {
        let people: Vec<i64> = entity::person::Entity::find()
            .filter(entity::person::Column::OrgId.is_in(chunk.to_vec()))
            .all(db)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect();
        for ids in people.chunks(500) {
            for s in entity::subject_score::Entity::find()
                .filter(entity::subject_score::Column::SubjectKind.eq("person"))
                .filter(entity::subject_score::Column::Year.eq(year))
                .filter(entity::subject_score::Column::SubjectId.is_in(ids.to_vec()))
                .all(db)
                .await?
            {
                out.insert(
                    s.subject_id,
                    StarsOf {
                        stars: s.stars,
                        source: StarsSource::Engine,
                    },
                );
            }
        }
    }
    let ids: Vec<i64> = out.keys().copied().collect();
    for (person, stars) in confirmed_stars(db, year, &ids).await? {
        out.insert(
            person,
            StarsOf {
                stars,
                source: StarsSource::Confirmed,
            },
        );
    }
    Ok(out)
}

/// One person's stars for a year (the member's own page): confirmed, else the engine's.
pub async fn stars_of_person(
    db: &impl ConnectionTrait,
    person: i64,
    year: i32,
    engine: Option<i32>,
) -> AppResult<StarsOf> {
    Ok(
        match confirmed_stars(db, year, &[person]).await?.get(&person) {
            Some(stars) => StarsOf {
                stars: *stars,
                source: StarsSource::Confirmed,
            },
            None => StarsOf {
                stars: engine,
                source: StarsSource::Engine,
            },
        },
    )
}

/// A rating in words.
pub fn rating_label(rating: &str) -> &str {
    match rating {
        "excellent" => "优秀",
        "qualified" => "合格",
        "unqualified" => "不合格",
        "basically_qualified" => "基本合格",
        other => other,
    }
}

pub fn status_label(status: &str) -> &'static str {
    match status {
        "exempt" => "免评",
        "unqualified" => "不合格",
        "vetoed" => "一票否决",
        "not_covered" => "不在评分范围",
        _ => "正常计分",
    }
}

/// One member's line of the year's result list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberResult {
    pub person_id: i64,
    pub name: String,
    pub org_id: i64,
    pub org_name: String,
    /// `scored`, `exempt`, `unqualified`, `vetoed`, `not_covered`.
    pub status: String,
    pub status_label: String,
    /// 免评 (SD-7, XH-20, TW-8): no score shown, no stars, not in the quota.
    pub exempt: bool,
    pub score: Option<Points>,
    pub stars: Option<i32>,
    pub stars_source: StarsSource,
    /// The engine's rating (TW-7: `unqualified`, `qualified`, `excellent`).
    pub rating: Option<String>,
    /// In words; a proposed 优秀 reads 优秀（待支部确认）.
    pub rating_label: Option<String>,
    /// TW-7: 90 and above is excellent only once the branch confirms it.
    pub excellent_confirmed: bool,
    pub flags: Vec<String>,
    /// Largest reward in yuan (TW-7: at most 5 yuan a point from 60).
    pub reward_max: Option<Points>,
    /// Closed year, scored (not exempt, unqualified or vetoed), and no flag barring awards.
    pub award_eligible: bool,
    /// Why not, in words (the policy's own labels for its flags).
    pub no_award_reasons: Vec<String>,
}

/// One organization's fortress result (XH-17).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrgResult {
    pub org_id: i64,
    pub name: String,
    pub score: Option<Points>,
    pub stars: Option<i32>,
    pub rating: Option<String>,
    /// How the policy reads a gap in its bands (XH-17's 120–149), when it has one.
    pub reading: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct YearResults {
    pub org_id: i64,
    pub org_name: String,
    pub year: i32,
    /// The year is closed: the list is final. Before, it is provisional.
    pub closed: bool,
    /// `星级` where members have stars under the policy, else `等次`.
    pub grade_header: String,
    pub members: Vec<MemberResult>,
    pub orgs: Vec<OrgResult>,
}

fn points_of(text: Option<&str>) -> Option<Points> {
    text.and_then(parse_dec).map(Points)
}

/// The result in force at the end of the year (the last stretch) from the row's detail.
fn last_part(detail: Option<&str>) -> serde_json::Value {
    detail
        .and_then(|d| serde_json::from_str::<Vec<serde_json::Value>>(d).ok())
        .and_then(|v| v.last().cloned())
        .unwrap_or(serde_json::Value::Null)
}

fn flag_label(policy: &Policy, flag: &str) -> String {
    policy
        .indexes
        .iter()
        .flat_map(|i| i.marks.iter())
        .find(|m| &*m.flag == flag)
        .map(|m| m.label.clone())
        .unwrap_or_else(|| match flag {
            "not_excellent" => "不得评先评优（EQ-6）".to_owned(),
            "no_awards" => "不得参加评先评优".to_owned(),
            other => other.to_owned(),
        })
}

struct Line<'a> {
    person: &'a entity::person::Model,
    org_name: String,
    row: Option<&'a entity::subject_score::Model>,
    stars: Option<StarsOf>,
    confirmed_excellent: bool,
    closed: bool,
}

fn member_result(policy: &Policy, l: Line<'_>) -> MemberResult {
    let status = l.row.map_or("scored", |r| r.status.as_str()).to_owned();
    let exempt = status == "exempt";
    let part = last_part(l.row.and_then(|r| r.detail.as_deref()));
    let flags: Vec<String> = part["flags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    // A decimal in the detail is text or a number, depending on how it was written.
    let reward_max = match &part["reward_max"] {
        serde_json::Value::String(s) => parse_dec(s),
        serde_json::Value::Number(n) => parse_dec(&n.to_string()),
        _ => None,
    }
    .map(Points);
    let rating = l.row.and_then(|r| r.rating.clone());
    let rating_text = rating.as_deref().map(|r| {
        if r == "excellent" && !l.confirmed_excellent {
            "优秀（待支部确认）".to_owned()
        } else {
            rating_label(r).to_owned()
        }
    });
    let mut reasons = Vec::new();
    if !l.closed {
        reasons.push("年度尚未结转".to_owned());
    }
    match status.as_str() {
        "exempt" => reasons.push("免评".to_owned()),
        "unqualified" => reasons.push("年度不合格".to_owned()),
        "vetoed" => reasons.push("一票否决".to_owned()),
        "not_covered" => reasons.push("不在评分范围".to_owned()),
        _ => {}
    }
    for f in &flags {
        if NO_AWARD_FLAGS.contains(&f.as_str()) {
            reasons.push(flag_label(policy, f));
        }
    }
    let score = if exempt {
        None
    } else {
        l.row.map_or(Some(Points(Decimal::ZERO)), |r| {
            points_of(r.score.as_deref())
        })
    };
    let stars = if exempt {
        None
    } else {
        l.stars
            .and_then(|s| s.stars)
            .or(l.row.and_then(|r| r.stars))
    };
    MemberResult {
        person_id: l.person.id,
        name: l.person.name.clone(),
        org_id: l.person.org_id,
        org_name: l.org_name,
        status_label: status_label(&status).to_owned(),
        status,
        exempt,
        score,
        stars,
        stars_source: l.stars.map_or(StarsSource::Engine, |s| s.source),
        rating,
        rating_label: rating_text,
        excellent_confirmed: l.confirmed_excellent,
        flags,
        reward_max,
        award_eligible: reasons.is_empty(),
        no_award_reasons: reasons,
    }
}

/// The year's result list of `org`'s subtree: its Party members (正式、预备; applicants
/// are not on it) by branch and name, and its organizations' fortress results.
pub async fn year_results(
    db: &impl ConnectionTrait,
    scoring: &Scoring,
    org: &entity::organization::Model,
    year: i32,
) -> AppResult<YearResults> {
    let closed = crate::ledger::post::year_closed(db, &org.path, year).await?;
    let orgs: HashMap<i64, entity::organization::Model> = entity::organization::Entity::find()
        .filter(entity::organization::Column::Path.starts_with(org.path.as_str()))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let mut people = Vec::new();
    let ids: Vec<i64> = orgs.keys().copied().collect();
    for chunk in ids.chunks(500) {
        people.extend(
            entity::person::Entity::find()
                .filter(entity::person::Column::OrgId.is_in(chunk.to_vec()))
                .filter(entity::person::Column::Role.is_in(["member", "probationary"]))
                .all(db)
                .await?,
        );
    }
    let person_ids: Vec<i64> = people.iter().map(|p| p.id).collect();
    let mut rows: HashMap<(bool, i64), entity::subject_score::Model> = HashMap::new();
    for (kind, list) in [("person", &person_ids), ("org", &ids)] {
        for chunk in list.chunks(500) {
            for r in entity::subject_score::Entity::find()
                .filter(entity::subject_score::Column::SubjectKind.eq(kind))
                .filter(entity::subject_score::Column::Year.eq(year))
                .filter(entity::subject_score::Column::SubjectId.is_in(chunk.to_vec()))
                .all(db)
                .await?
            {
                rows.insert((kind == "person", r.subject_id), r);
            }
        }
    }
    let stars = confirmed_or_proposed_stars(db, org, year).await?;
    let mut excellent = std::collections::HashSet::new();
    for chunk in person_ids.chunks(500) {
        for c in entity::excellent_confirmation::Entity::find()
            .filter(entity::excellent_confirmation::Column::Year.eq(year))
            .filter(entity::excellent_confirmation::Column::PersonId.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            excellent.insert(c.person_id);
        }
    }
    let mut policies: HashMap<i64, Arc<Policy>> = HashMap::new();
    for o in orgs.values() {
        policies.insert(o.id, inputs::policy_for(db, scoring, &o.path, year).await?);
    }
    let policy_of = |id: i64| -> AppResult<Arc<Policy>> {
        match policies.get(&id) {
            Some(p) => Ok(p.clone()),
            None => inputs::resolve_policy(scoring, "xihu-2017", None),
        }
    };
    let mut members = Vec::with_capacity(people.len());
    let mut any_stars = false;
    for p in &people {
        let policy = policy_of(p.org_id)?;
        any_stars |= policy
            .indexes
            .iter()
            .any(|i| !i.orgs && !i.stars.is_empty());
        members.push(member_result(
            &policy,
            Line {
                person: p,
                org_name: orgs
                    .get(&p.org_id)
                    .map(|o| o.name.clone())
                    .unwrap_or_default(),
                row: rows.get(&(true, p.id)),
                stars: stars.get(&p.id).copied(),
                confirmed_excellent: excellent.contains(&p.id),
                closed,
            },
        ));
    }
    members.sort_by(|a, b| {
        a.org_name
            .cmp(&b.org_name)
            .then(a.name.cmp(&b.name))
            .then(a.person_id.cmp(&b.person_id))
    });
    let mut org_rows = Vec::new();
    let mut sorted: Vec<&entity::organization::Model> = orgs.values().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    for o in sorted {
        let Some(r) = rows.get(&(false, o.id)) else {
            continue;
        };
        let policy = policy_of(o.id)?;
        let rule = policy
            .indexes
            .iter()
            .any(|i| i.orgs && !i.stars.is_empty())
            .then(|| {
                policy
                    .choices
                    .iter()
                    .find(|c| c.rule_id == "XH-17")
                    .map(|c| c.choice.clone())
            })
            .flatten();
        org_rows.push(OrgResult {
            org_id: o.id,
            name: o.name.clone(),
            score: points_of(r.score.as_deref()),
            stars: r.stars,
            rating: r.rating.clone(),
            reading: rule,
        });
    }
    Ok(YearResults {
        org_id: org.id,
        org_name: org.name.clone(),
        year,
        closed,
        grade_header: if any_stars { "星级" } else { "等次" }.to_owned(),
        members,
        orgs: org_rows,
    })
}

/// For the rewards ledger: a member's result of a CLOSED year (score, stars, rating,
/// eligibility), refused (`year_not_closed`) while the year is open.
pub async fn closed_member_result(
    db: &impl ConnectionTrait,
    scoring: &Scoring,
    person: PersonId,
    year: i32,
) -> AppResult<MemberResult> {
    let p = crate::org::people::find(db, person).await?;
    let org = crate::org::service::find(db, OrgId(p.org_id)).await?;
    if !crate::ledger::post::year_closed(db, &org.path, year).await? {
        return Err(AppError::new(
            ErrorCode::YearNotClosed,
            format!("{year} 年度尚未结转，年度结果未定"),
        ));
    }
    let row = entity::subject_score::Entity::find()
        .filter(entity::subject_score::Column::SubjectKind.eq("person"))
        .filter(entity::subject_score::Column::SubjectId.eq(p.id))
        .filter(entity::subject_score::Column::Year.eq(year))
        .one(db)
        .await?;
    let stars = stars_of_person(db, p.id, year, row.as_ref().and_then(|r| r.stars)).await?;
    let confirmed = entity::excellent_confirmation::Entity::find()
        .filter(entity::excellent_confirmation::Column::Year.eq(year))
        .filter(entity::excellent_confirmation::Column::PersonId.eq(p.id))
        .one(db)
        .await?
        .is_some();
    let policy = inputs::policy_for(db, scoring, &org.path, year).await?;
    Ok(member_result(
        &policy,
        Line {
            person: &p,
            org_name: org.name.clone(),
            row: row.as_ref(),
            stars: Some(stars),
            confirmed_excellent: confirmed,
            closed: true,
        },
    ))
}

/// The form 年度结果名单: 姓名, 支部, 年度积分, 星级 or 等次, 是否免评.
pub fn result_table(r: &YearResults) -> Table {
    let stars = r.grade_header == "星级";
    Table {
        sheet: format!("{}年度结果名单", r.year),
        headers: vec![
            "姓名",
            "支部",
            "年度积分",
            if stars { "星级" } else { "等次" },
            "是否免评",
        ],
        rows: r
            .members
            .iter()
            .map(|m| {
                vec![
                    Cell::text(m.name.clone()),
                    Cell::text(m.org_name.clone()),
                    m.score.map_or(Cell::Empty, |s| Cell::Number(s.0)),
                    if stars {
                        m.stars
                            .map_or(Cell::Empty, |s| Cell::Number(Decimal::from(s)))
                    } else {
                        m.rating_label.clone().map_or(Cell::Empty, Cell::Text)
                    },
                    Cell::text(if m.exempt { "是" } else { "否" }),
                ]
            })
            .collect(),
    }
}

/// TW-7: the branch confirms a proposed 优秀 (a closed year's `excellent` rating),
/// audited; refused for an open year, a member not proposed, or a second time.
pub async fn confirm_excellent(
    state: &AppState,
    principal: &Principal,
    org_id: OrgId,
    year: i32,
    person: PersonId,
    note: Option<String>,
) -> AppResult<MemberResult> {
    let org = crate::org::service::scoped(&state.db, principal, Perm::Review, org_id).await?;
    let p = crate::org::people::find(&state.db, person).await?;
    let subtree = crate::org::service::subtree_ids(&state.db, &org).await?;
    if !subtree.contains(&p.org_id) {
        return Err(AppError::not_found("该组织下没有这名党员"));
    }
    let row = entity::subject_score::Entity::find()
        .filter(entity::subject_score::Column::SubjectKind.eq("person"))
        .filter(entity::subject_score::Column::SubjectId.eq(p.id))
        .filter(entity::subject_score::Column::Year.eq(year))
        .one(&state.db)
        .await?;
    if !crate::ledger::post::year_closed(&state.db, &org.path, year).await? {
        return Err(AppError::new(
            ErrorCode::YearNotClosed,
            format!("{year} 年度尚未结转，结转后才能确认优秀"),
        ));
    }
    if row.as_ref().and_then(|r| r.rating.as_deref()) != Some("excellent") {
        return Err(AppError::conflict(format!(
            "{} {year} 年度未被建议评为优秀（须达到优秀分数线）",
            p.name
        )));
    }
    let now = state.clock.now();
    let txn = crate::db::begin(&state.db).await?;
    entity::excellent_confirmation::Entity::insert(entity::excellent_confirmation::ActiveModel {
        id: NotSet,
        org_id: Set(org.id),
        year: Set(year),
        person_id: Set(p.id),
        note: Set(note.filter(|n| !n.trim().is_empty())),
        confirmed_by: Set(principal.account_id.0),
        confirmed_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            AppError::conflict(format!("{} {year} 年度的优秀已确认", p.name))
        }
        _ => AppError::from(e),
    })?;
    crate::audit::record(
        &txn,
        &principal.actor(),
        Entry::new("confirm_excellent", "person", p.id)
            .org(OrgId(org.id))
            .after(serde_json::json!({"year": year, "rating": "excellent", "score": row.and_then(|r| r.score)})),
    )
    .await?;
    txn.commit().await?;
    closed_member_result(&state.db, &state.scoring, person, year).await
}
