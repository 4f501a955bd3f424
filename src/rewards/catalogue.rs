//! The rewards catalogue (积分超市): items an organization offers, each with a price in
//! points and a value in yuan. Kept by the branch (secretaries, recorders) or admins
//! above it; retired with a reason, never deleted. A member sees the items of their
//! organization and its ancestors.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;

use crate::audit::{self, Actor, Entry};
use crate::error::{AppError, AppResult, FieldError};
use crate::ids::OrgId;
use crate::ledger::queries::Points;
use crate::policy::{fmt_dec, parse_dec};

/// An item as the API and pages show it. Named `RewardItem` in the OpenAPI document
/// (the attendance sheet's rows are `Item`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = RewardItem)]
pub struct Item {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    #[schema(value_type = f64)]
    pub points: Points,
    #[schema(value_type = f64)]
    pub yuan: Points,
    pub retired: bool,
    pub retire_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<&entity::reward_item::Model> for Item {
    fn from(m: &entity::reward_item::Model) -> Self {
        Self {
            id: m.id,
            org_id: m.org_id,
            name: m.name.clone(),
            points: Points(parse_dec(&m.points).unwrap_or_default()),
            yuan: Points(parse_dec(&m.yuan).unwrap_or_default()),
            retired: m.retired_at.is_some(),
            retire_reason: m.retire_reason.clone(),
            created_at: m.created_at,
        }
    }
}

/// A new item as typed: name, points, yuan (exact decimals).
#[derive(Debug, Clone, Default)]
pub struct NewItem {
    pub name: String,
    pub points: Option<Decimal>,
    pub yuan: Option<Decimal>,
}

/// Checks a new item; every problem at once, in Chinese.
pub fn check(input: &NewItem) -> AppResult<(String, Decimal, Decimal)> {
    let mut errors = Vec::new();
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        errors.push(("name", "请填写物品名称（不超过 60 字）"));
    }
    let ok = |d: Option<Decimal>| {
        d.filter(|d| *d > Decimal::ZERO && *d <= Decimal::from(100_000) && d.scale() <= 2)
    };
    let points = ok(input.points);
    if points.is_none() {
        errors.push(("points", "兑换积分须为大于 0 的数，最多两位小数"));
    }
    let yuan = ok(input.yuan);
    if yuan.is_none() {
        errors.push(("yuan", "物品价值（元）须为大于 0 的数，最多两位小数"));
    }
    match (points, yuan) {
        (Some(p), Some(y)) if errors.is_empty() => Ok((name.to_owned(), p, y)),
        _ => Err(AppError::validation("物品信息不完整").with_errors(
            errors
                .into_iter()
                .map(|(f, m)| FieldError {
                    field: f.to_owned(),
                    message: m.to_owned(),
                    row: None,
                })
                .collect(),
        )),
    }
}

/// Adds an item to `org`'s catalogue (audited in the same transaction).
pub async fn add(
    db: &(impl ConnectionTrait + sea_orm::TransactionTrait),
    actor: &Actor,
    org: &entity::organization::Model,
    input: &NewItem,
    now: DateTime<Utc>,
) -> AppResult<Item> {
    use sea_orm::TransactionSession;
    let (name, points, yuan) = check(input)?;
    let txn = crate::db::begin(db).await?;
    let row = entity::reward_item::Entity::insert(entity::reward_item::ActiveModel {
        id: NotSet,
        org_id: Set(org.id),
        name: Set(name),
        points: Set(fmt_dec(points)),
        yuan: Set(fmt_dec(yuan)),
        created_by: Set(actor.id.filter(|_| actor.kind == "account")),
        created_at: Set(now),
        retired_at: Set(None),
        retired_by: Set(None),
        retire_reason: Set(None),
    })
    .exec_with_returning(&txn)
    .await?;
    let item = Item::from(&row);
    audit::record(
        &txn,
        actor,
        Entry::new("reward_item_add", "reward_item", row.id)
            .org(OrgId(org.id))
            .after(&item),
    )
    .await?;
    txn.commit().await?;
    Ok(item)
}

/// Retires an item (no new codes; open codes for it are refused at the counter).
pub async fn retire(
    db: &(impl ConnectionTrait + sea_orm::TransactionTrait),
    actor: &Actor,
    item: &entity::reward_item::Model,
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<Item> {
    use sea_orm::TransactionSession;
    use sea_orm::sea_query::Expr;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::field("reason", "请填写下架原因"));
    }
    let txn = crate::db::begin(db).await?;
    let done = entity::reward_item::Entity::update_many()
        .col_expr(entity::reward_item::Column::RetiredAt, Expr::value(now))
        .col_expr(
            entity::reward_item::Column::RetiredBy,
            Expr::value(actor.id.filter(|_| actor.kind == "account")),
        )
        .col_expr(
            entity::reward_item::Column::RetireReason,
            Expr::value(reason.to_owned()),
        )
        .filter(entity::reward_item::Column::Id.eq(item.id))
        .filter(entity::reward_item::Column::RetiredAt.is_null())
        .exec(&txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(AppError::new(
            crate::error::ErrorCode::RewardItemRetired,
            "该物品已下架",
        ));
    }
    let row = find(&txn, item.id).await?;
    audit::record(
        &txn,
        actor,
        Entry::new("reward_item_retire", "reward_item", item.id)
            .org(OrgId(item.org_id))
            .before(Item::from(item))
            .after(Item::from(&row)),
    )
    .await?;
    txn.commit().await?;
    Ok(Item::from(&row))
}

pub async fn find(db: &impl ConnectionTrait, id: i64) -> AppResult<entity::reward_item::Model> {
    entity::reward_item::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("没有这个兑换物品"))
}

/// Items of one organization (retired ones too when `all`).
pub async fn of_org(
    db: &impl ConnectionTrait,
    org: i64,
    all: bool,
) -> AppResult<Vec<entity::reward_item::Model>> {
    let mut q = entity::reward_item::Entity::find()
        .filter(entity::reward_item::Column::OrgId.eq(org))
        .order_by_asc(entity::reward_item::Column::Id);
    if !all {
        q = q.filter(entity::reward_item::Column::RetiredAt.is_null());
    }
    Ok(q.all(db).await?)
}

/// What a member of `org_path` may ask for: live items of the organization and its
/// ancestors.
pub async fn offered(
    db: &impl ConnectionTrait,
    org_path: &str,
) -> AppResult<Vec<entity::reward_item::Model>> {
    let ancestors: Vec<i64> = org_path.split('/').filter_map(|s| s.parse().ok()).collect();
    Ok(entity::reward_item::Entity::find()
        .filter(entity::reward_item::Column::OrgId.is_in(ancestors))
        .filter(entity::reward_item::Column::RetiredAt.is_null())
        .order_by_asc(entity::reward_item::Column::Id)
        .all(db)
        .await?)
}

/// Whether `item` is offered to a member of `org_path`.
pub fn offered_to(item: &entity::reward_item::Model, org_path: &str) -> bool {
    org_path
        .split('/')
        .filter_map(|s| s.parse::<i64>().ok())
        .any(|o| o == item.org_id)
}
