//! The rewards ledger (积分超市, TW-7), kept apart from the score.
//!
//! A closed year's result (`earned`) is credited once per member and year
//! (`reward_entries`, kind `credit`, unique `credit:<person>:<year>`) when the member's
//! policy has `[rewards]` and the score reaches its `min_score`; the credit carries the
//! year's yuan cap (`Rewards::yuan_cap`, TW-7: 5 yuan a point). Members spend it at a
//! counter with one-time codes (`codes`) for catalogue items (`catalogue`); each
//! redemption is a `redemption` entry drawing on one year's credit. Nothing here
//! touches facts, the ledger of points, a score or a star. Balances never expire unless
//! the organization sets an expiry in years (`reward_settings`, append-only, audited).

pub mod catalogue;
pub mod codes;
pub mod routes;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;

use crate::audit::{self, Actor, Entry};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::OrgId;
use crate::ledger::Scoring;
use crate::ledger::queries::Points;
use crate::policy::{fmt_dec, parse_dec};

pub const CREDIT: &str = "credit";
pub const REDEMPTION: &str = "redemption";

/// A closed year's result that may earn rewards.
#[derive(Debug, Clone)]
pub struct Earned {
    pub score: Decimal,
    /// The index the result is under (rewards name one).
    pub index: String,
    /// The organization the result is shown under (its policy decides).
    pub org_id: i64,
}

/// The closed year's result of `person` (the frozen `subject_scores` row), or `None`
/// while the year is open, for 免评/veto/unqualified results and without a score. The
/// one place the rewards ledger reads a year's result: point it elsewhere (e.g. the
/// confirmed year result list) here.
pub async fn earned(
    db: &impl ConnectionTrait,
    person: i64,
    year: i32,
) -> AppResult<Option<Earned>> {
    let row = entity::subject_score::Entity::find()
        .filter(entity::subject_score::Column::SubjectKind.eq("person"))
        .filter(entity::subject_score::Column::SubjectId.eq(person))
        .filter(entity::subject_score::Column::Year.eq(year))
        .one(db)
        .await?;
    Ok(row.and_then(|r| {
        if !r.closed || r.status != "scored" {
            return None;
        }
        let score = parse_dec(r.score.as_deref()?)?;
        Some(Earned {
            score,
            index: r.index_name,
            org_id: r.org_id,
        })
    }))
}

fn dec(text: &str) -> Decimal {
    parse_dec(text).unwrap_or_default()
}

/// Closed years of `person` not credited yet (whether they earn is `credit_due`'s to say).
pub async fn due_years(db: &impl ConnectionTrait, person: i64) -> AppResult<Vec<i32>> {
    let closed: Vec<i32> = entity::subject_score::Entity::find()
        .filter(entity::subject_score::Column::SubjectKind.eq("person"))
        .filter(entity::subject_score::Column::SubjectId.eq(person))
        .filter(entity::subject_score::Column::Closed.eq(true))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.year)
        .collect();
    if closed.is_empty() {
        return Ok(closed);
    }
    let credited: Vec<i32> = entity::reward_entry::Entity::find()
        .filter(entity::reward_entry::Column::PersonId.eq(person))
        .filter(entity::reward_entry::Column::Kind.eq(CREDIT))
        .all(db)
        .await?
        .into_iter()
        .map(|e| e.year)
        .collect();
    Ok(closed
        .into_iter()
        .filter(|y| !credited.contains(y))
        .collect())
}

/// Credits every closed year of `person` not credited yet that earns rewards under the
/// policy its result was scored with. Idempotent (unique credit key); the caller's
/// transaction. Returns how many years were credited.
pub async fn credit_due(
    db: &impl ConnectionTrait,
    scoring: &Scoring,
    person: i64,
    now: DateTime<Utc>,
) -> AppResult<usize> {
    let due = due_years(db, person).await?;
    let mut n = 0;
    for year in due {
        let Some(e) = earned(db, person, year).await? else {
            continue;
        };
        let org = crate::org::service::find(db, OrgId(e.org_id)).await?;
        let policy = crate::ledger::inputs::policy_for(db, scoring, &org.path, year).await?;
        let Some(rules) = policy.rewards.as_ref() else {
            continue;
        };
        if rules.index != e.index || !rules.earns(e.score) {
            continue;
        }
        let yuan = rules.yuan_cap(e.score);
        let res = entity::reward_entry::Entity::insert(entity::reward_entry::ActiveModel {
            id: NotSet,
            person_id: Set(person),
            org_id: Set(e.org_id),
            kind: Set(CREDIT.to_owned()),
            year: Set(year),
            points: Set(fmt_dec(e.score)),
            yuan: Set(yuan.map(fmt_dec)),
            rule: Set(Some(rules.rule.clone())),
            credit_key: Set(Some(format!("credit:{person}:{year}"))),
            item_id: Set(None),
            item_name: Set(None),
            code_id: Set(None),
            actor_id: Set(None),
            actor_name: Set("system".to_owned()),
            at: Set(now),
            created_at: Set(Utc::now()),
        })
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(entity::reward_entry::Column::CreditKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
        if res > 0 {
            audit::record(
                db,
                &Actor::system(),
                Entry::new("reward_credit", "person", person)
                    .org(OrgId(e.org_id))
                    .after(serde_json::json!({
                        "year": year,
                        "points": fmt_dec(e.score),
                        "yuan_cap": yuan.map(fmt_dec),
                        "rule": rules.rule,
                    })),
            )
            .await?;
            n += 1;
        }
    }
    Ok(n)
}

/// The expiry in years in force for an organization path: the deepest organization on
/// the path with a setting wins, its newest row; `None`: balances never expire.
pub async fn expiry_years(db: &impl ConnectionTrait, org_path: &str) -> AppResult<Option<i32>> {
    Ok(setting(db, org_path).await?.and_then(|s| s.expiry_years))
}

async fn setting(
    db: &impl ConnectionTrait,
    org_path: &str,
) -> AppResult<Option<entity::reward_setting::Model>> {
    let ancestors: Vec<i64> = org_path.split('/').filter_map(|s| s.parse().ok()).collect();
    let rows = entity::reward_setting::Entity::find()
        .filter(entity::reward_setting::Column::OrgId.is_in(ancestors.clone()))
        .order_by_asc(entity::reward_setting::Column::Id)
        .all(db)
        .await?;
    Ok(ancestors
        .iter()
        .rev()
        .find_map(|o| rows.iter().rev().find(|r| r.org_id == *o))
        .cloned())
}

/// Sets an organization's expiry (append-only, audited in the same transaction).
pub async fn set_expiry(
    db: &(impl ConnectionTrait + sea_orm::TransactionTrait),
    actor: &Actor,
    org: &entity::organization::Model,
    years: Option<i32>,
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<Settings> {
    use sea_orm::TransactionSession;
    if years.is_some_and(|y| !(1..=50).contains(&y)) {
        return Err(AppError::field(
            "expiry_years",
            "有效期须为 1 至 50 年，或留空表示不过期",
        ));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::field("reason", "请填写设置原因"));
    }
    let txn = crate::db::begin(db).await?;
    let before = expiry_years(&txn, &org.path).await?;
    entity::reward_setting::Entity::insert(entity::reward_setting::ActiveModel {
        id: NotSet,
        org_id: Set(org.id),
        expiry_years: Set(years),
        reason: Set(reason.to_owned()),
        set_by: Set(actor.id.filter(|_| actor.kind == "account")),
        set_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await?;
    audit::record(
        &txn,
        actor,
        Entry::new("reward_expiry_set", "organization", org.id)
            .org(OrgId(org.id))
            .before(serde_json::json!({ "expiry_years": before }))
            .after(serde_json::json!({ "expiry_years": years, "reason": reason })),
    )
    .await?;
    txn.commit().await?;
    Ok(Settings {
        org_id: org.id,
        expiry_years: years,
    })
}

/// An organization's rewards settings as read by the API.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Settings {
    pub org_id: i64,
    /// Years after the end of a result's year until its balance lapses; null: never.
    pub expiry_years: Option<i32>,
}

pub async fn settings_of(
    db: &impl ConnectionTrait,
    org: &entity::organization::Model,
) -> AppResult<Settings> {
    Ok(Settings {
        org_id: org.id,
        expiry_years: expiry_years(db, &org.path).await?,
    })
}

/// One year's credit and what is left of it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct YearBalance {
    pub year: i32,
    #[schema(value_type = f64)]
    pub credited: Points,
    #[schema(value_type = f64)]
    pub spent: Points,
    #[schema(value_type = f64)]
    pub left: Points,
    /// The year's yuan cap (TW-7: 5 yuan a point); null: none.
    #[schema(value_type = Option<f64>)]
    pub yuan_cap: Option<Points>,
    #[schema(value_type = f64)]
    pub yuan_spent: Points,
    #[schema(value_type = Option<f64>)]
    pub yuan_left: Option<Points>,
    pub rule: Option<String>,
    /// When the balance lapses (the organization's expiry); null: never.
    pub expires_at: Option<DateTime<Utc>>,
    pub expired: bool,
}

/// A redemption as listed to the member and staff.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Redemption {
    pub id: i64,
    pub year: i32,
    pub item_id: Option<i64>,
    pub item: String,
    #[schema(value_type = f64)]
    pub points: Points,
    #[schema(value_type = f64)]
    pub yuan: Points,
    /// Who redeemed it at the counter.
    pub counter: String,
    pub at: DateTime<Utc>,
}

/// A member's rewards: credits per year, redemptions, and the usable balance.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Balance {
    pub person_id: i64,
    /// Points left over all unexpired years (credits − redemptions).
    #[schema(value_type = f64)]
    pub points: Points,
    pub years: Vec<YearBalance>,
    pub redemptions: Vec<Redemption>,
}

/// `person`'s rewards as of `now` (reads only; `credit_due` first where it may write).
pub async fn balance(
    db: &impl ConnectionTrait,
    person: &entity::person::Model,
    now: DateTime<Utc>,
) -> AppResult<Balance> {
    let org = crate::org::service::find(db, OrgId(person.org_id)).await?;
    let tz = crate::ledger::inputs::tz_of(&org);
    let expiry = expiry_years(db, &org.path).await?;
    let entries = entity::reward_entry::Entity::find()
        .filter(entity::reward_entry::Column::PersonId.eq(person.id))
        .order_by_asc(entity::reward_entry::Column::Id)
        .all(db)
        .await?;
    let mut years = Vec::new();
    for c in entries.iter().filter(|e| e.kind == CREDIT) {
        let drawn = entries
            .iter()
            .filter(|e| e.kind == REDEMPTION && e.year == c.year);
        let (spent, yuan_spent) = drawn.fold((Decimal::ZERO, Decimal::ZERO), |(p, y), e| {
            (
                p + dec(&e.points),
                y + e.yuan.as_deref().map(dec).unwrap_or_default(),
            )
        });
        let credited = dec(&c.points);
        let cap = c.yuan.as_deref().map(dec);
        // A result of year Y lapses at the start of year Y + 1 + N (org time zone).
        let expires_at = expiry.map(|n| crate::ledger::inputs::year_bounds(c.year + 1 + n, tz).0);
        years.push(YearBalance {
            year: c.year,
            credited: Points(credited),
            spent: Points(spent),
            left: Points(credited - spent),
            yuan_cap: cap.map(Points),
            yuan_spent: Points(yuan_spent),
            yuan_left: cap.map(|c| Points(c - yuan_spent)),
            rule: c.rule.clone(),
            expires_at,
            expired: expires_at.is_some_and(|t| now >= t),
        });
    }
    let points = years.iter().filter(|y| !y.expired).map(|y| y.left.0).sum();
    let redemptions = entries
        .iter()
        .rev()
        .filter(|e| e.kind == REDEMPTION)
        .map(|e| Redemption {
            id: e.id,
            year: e.year,
            item_id: e.item_id,
            item: e.item_name.clone().unwrap_or_default(),
            points: Points(dec(&e.points)),
            yuan: Points(e.yuan.as_deref().map(dec).unwrap_or_default()),
            counter: e.actor_name.clone(),
            at: e.at,
        })
        .collect();
    Ok(Balance {
        person_id: person.id,
        points: Points(points),
        years,
        redemptions,
    })
}

/// The year's credit an item is drawn on: the oldest unexpired year with enough points
/// left and room under its yuan cap. One redemption draws on one year, so each year's
/// cap holds by itself. Refusals name the reason.
pub async fn pick_year(
    db: &impl ConnectionTrait,
    scoring: &Scoring,
    person: &entity::person::Model,
    balance: &Balance,
    points: Decimal,
    yuan: Decimal,
    now: DateTime<Utc>,
) -> AppResult<i32> {
    let live: Vec<&YearBalance> = balance.years.iter().filter(|y| !y.expired).collect();
    if let Some(y) = live
        .iter()
        .find(|y| y.left.0 >= points && y.yuan_left.is_none_or(|l| l.0 >= yuan))
    {
        return Ok(y.year);
    }
    if balance.years.is_empty() {
        // Nothing credited: no policy with rewards, a result below its minimum, or no
        // closed year yet.
        let org = crate::org::service::find(db, OrgId(person.org_id)).await?;
        let this_year = crate::ledger::inputs::year_of(now, crate::ledger::inputs::tz_of(&org));
        let mut rules = None;
        for y in [this_year - 1, this_year] {
            let policy = crate::ledger::inputs::policy_for(db, scoring, &org.path, y).await?;
            if rules.is_none() {
                rules = policy.rewards.clone();
            }
        }
        let Some(r) = rules else {
            return Err(AppError::new(
                ErrorCode::RewardsUnavailable,
                "本组织执行的积分办法没有积分兑换（积分超市）的规定",
            ));
        };
        if let Some(e) = earned(db, person.id, this_year - 1).await? {
            return Err(AppError::new(
                ErrorCode::RewardsBalance,
                format!(
                    "{} 年度积分 {} 分，未达到兑换起点 {} 分，没有可兑换的积分",
                    this_year - 1,
                    fmt_dec(e.score),
                    fmt_dec(r.min_score)
                ),
            ));
        }
        return Err(AppError::new(
            ErrorCode::RewardsYearOpen,
            format!(
                "积分兑换只能使用已结转年度的结果：年度结转后，年度积分达到 {} 分的党员方可兑换",
                fmt_dec(r.min_score)
            ),
        ));
    }
    if live.is_empty() {
        return Err(AppError::new(
            ErrorCode::RewardsExpired,
            "兑换积分已超过本组织规定的有效期",
        ));
    }
    if let Some(y) = live.iter().find(|y| y.left.0 >= points) {
        // The year's cap as the rule states it: N points × at most M yuan a point.
        let cap = y.yuan_cap.map_or(Decimal::ZERO, |c| c.0);
        let per_point = if y.credited.0.is_zero() {
            Decimal::ZERO
        } else {
            cap / y.credited.0
        };
        return Err(AppError::new(
            ErrorCode::RewardsCap,
            format!(
                "该物品价值 {} 元，超出 {} 年度积分兑现上限：{} 分 × 每分不超过 {} 元 = {} 元，已兑现 {} 元，剩余可兑现 {} 元",
                fmt_dec(yuan),
                y.year,
                fmt_dec(y.credited.0),
                fmt_dec(per_point),
                fmt_dec(cap),
                fmt_dec(y.yuan_spent.0),
                fmt_dec(y.yuan_left.map_or(Decimal::ZERO, |l| l.0)),
            ),
        ));
    }
    Err(AppError::new(
        ErrorCode::RewardsBalance,
        format!(
            "兑换需要 {} 分，可用积分为 {} 分",
            fmt_dec(points),
            fmt_dec(balance.points.0)
        ),
    ))
}
