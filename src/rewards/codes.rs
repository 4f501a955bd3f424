//! One-time redemption codes and the redemption at a counter.
//!
//! A member asks for a code for one item on `/m/rewards`: 10 digits (9 random and a
//! Damm check digit, so a mistyped digit is refused before any lookup), bound to the
//! member and the item, valid `CODE_MINUTES`. The counter (a `shop` account, a
//! secretary or recorder, an admin, whose scope covers the member's organization) types
//! or scans it; `redeem` runs in ONE transaction: the code is claimed by a conditional
//! update (`used_at IS NULL`), so two counters cannot both redeem it, the member's
//! redemptions are serialized (a row lock on the person on PostgreSQL; SQLite's write
//! transactions are exclusive), the balance and the year's yuan cap are checked, the
//! redemption is appended and audited. Any refusal writes nothing but its audit entry.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder, Statement,
};
use serde::Serialize;

use super::{Balance, REDEMPTION, balance, catalogue, credit_due, pick_year};
use crate::audit::{self, Actor, Entry};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::OrgId;
use crate::ledger::queries::Points;
use crate::policy::{fmt_dec, parse_dec};
use crate::state::AppState;

/// How long a code stays valid.
pub const CODE_MINUTES: i64 = 10;

/// Codes a member may hold unused at once.
pub const MAX_LIVE_CODES: usize = 5;

/// A code as handed to the member.
#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    pub id: i64,
    pub code: String,
    pub item: String,
    pub expires_at: DateTime<Utc>,
}

fn new_code() -> String {
    use rand::Rng;
    let body: u32 = rand::rng().random_range(100_000_000..1_000_000_000);
    let body = body.to_string();
    let check = crate::checkin::card::damm(&body).unwrap_or(0);
    format!("{body}{check}")
}

/// The code as typed: digits only (spaces and dashes dropped), 10 of them with a valid
/// check digit; `None` for anything else.
pub fn normalize(typed: &str) -> Option<String> {
    let digits: String = typed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\u{3000}'))
        .collect();
    (digits.len() == 10
        && digits.bytes().all(|b| b.is_ascii_digit())
        && crate::checkin::card::damm(&digits) == Some(0))
    .then_some(digits)
}

/// Shown as `123 456 789 0` so it reads aloud and types easily.
pub fn spaced(code: &str) -> String {
    let mut out = String::new();
    for (i, c) in code.chars().enumerate() {
        if i > 0 && i % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The code as an inline SVG QR code (the digits themselves: a scanner and a typist
/// read the same thing), for the member to show at the counter.
pub fn qr_svg(code: &str) -> AppResult<String> {
    let svg = crate::checkin::routes::qr_code(code)?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(180, 180)
        .build();
    Ok(match svg.find("<svg") {
        Some(i) => svg[i..].to_owned(),
        None => svg,
    })
}

fn item_value(item: &entity::reward_item::Model) -> (rust_decimal::Decimal, rust_decimal::Decimal) {
    (
        parse_dec(&item.points).unwrap_or_default(),
        parse_dec(&item.yuan).unwrap_or_default(),
    )
}

/// A member asks for a code for `item_id`: the item must be offered to them and their
/// balance must cover it now (checked again at the counter). A refusal is audited.
pub async fn issue(
    state: &AppState,
    person: &entity::person::Model,
    item_id: i64,
    ip: Option<String>,
) -> AppResult<Issued> {
    let actor = Actor::member(person.id, ip);
    let now = state.clock.now();
    match issue_inner(state, person, item_id, &actor, now).await {
        Ok(i) => Ok(i),
        Err(e) => {
            refused(
                state,
                &actor,
                "reward_code_refused",
                person.org_id,
                serde_json::json!({
                    "person_id": person.id, "item_id": item_id, "code": e.code, "detail": e.detail,
                }),
            )
            .await;
            Err(e)
        }
    }
}

async fn issue_inner(
    state: &AppState,
    person: &entity::person::Model,
    item_id: i64,
    actor: &Actor,
    now: DateTime<Utc>,
) -> AppResult<Issued> {
    let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
    let item = catalogue::find(&state.db, item_id).await?;
    if !catalogue::offered_to(&item, &org.path) {
        return Err(AppError::not_found("没有这个兑换物品"));
    }
    if item.retired_at.is_some() {
        return Err(AppError::new(ErrorCode::RewardItemRetired, "该物品已下架"));
    }
    let txn = crate::db::begin(&state.db).await?;
    // A few codes at a time: enough for a basket, not a pile of live codes to guess at.
    if live_codes(&txn, person.id, now).await?.len() >= MAX_LIVE_CODES {
        return Err(AppError::new(
            ErrorCode::RateLimited,
            format!(
                "待使用的兑换码已有 {MAX_LIVE_CODES} 个，请先到兑换点使用，或等待其过期（{CODE_MINUTES} 分钟）"
            ),
        ));
    }
    credit_due(&txn, &state.scoring, person.id, now).await?;
    let bal = balance(&txn, person, now).await?;
    let (points, yuan) = item_value(&item);
    pick_year(&txn, &state.scoring, person, &bal, points, yuan, now).await?;
    let code = new_code();
    let row = entity::reward_code::Entity::insert(entity::reward_code::ActiveModel {
        id: NotSet,
        code: Set(code.clone()),
        person_id: Set(person.id),
        item_id: Set(item.id),
        org_id: Set(person.org_id),
        issued_at: Set(now),
        expires_at: Set(now + Duration::minutes(CODE_MINUTES)),
        used_at: Set(None),
        used_by: Set(None),
    })
    .exec_with_returning(&txn)
    .await?;
    audit::record(
        &txn,
        actor,
        Entry::new("reward_code_issue", "reward_code", row.id)
            .org(OrgId(person.org_id))
            .after(serde_json::json!({
                "person_id": person.id, "item_id": item.id, "expires_at": row.expires_at,
            })),
    )
    .await?;
    txn.commit().await?;
    Ok(Issued {
        id: row.id,
        code,
        item: item.name,
        expires_at: row.expires_at,
    })
}

/// A member's codes still usable now (newest first), with their items.
pub async fn live_codes(
    db: &impl ConnectionTrait,
    person: i64,
    now: DateTime<Utc>,
) -> AppResult<Vec<(entity::reward_code::Model, entity::reward_item::Model)>> {
    let rows = entity::reward_code::Entity::find()
        .filter(entity::reward_code::Column::PersonId.eq(person))
        .filter(entity::reward_code::Column::UsedAt.is_null())
        .filter(entity::reward_code::Column::ExpiresAt.gt(now))
        .order_by_desc(entity::reward_code::Column::Id)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let item = catalogue::find(db, r.item_id).await?;
        out.push((r, item));
    }
    Ok(out)
}

/// What a counter sees before redeeming: the member (masked), the item, the value.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preview {
    pub code_id: i64,
    pub person_id: i64,
    /// Masked (`张*`), as on publicity lists.
    pub member: String,
    pub item_id: i64,
    pub item: String,
    #[schema(value_type = f64)]
    pub points: Points,
    #[schema(value_type = f64)]
    pub yuan: Points,
    pub expires_at: DateTime<Utc>,
}

/// A redemption as answered to the counter.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Redeemed {
    pub id: i64,
    pub person_id: i64,
    pub member: String,
    pub item: String,
    pub year: i32,
    #[schema(value_type = f64)]
    pub points: Points,
    #[schema(value_type = f64)]
    pub yuan: Points,
    /// The member's usable points after it.
    #[schema(value_type = f64)]
    pub balance: Points,
    pub at: DateTime<Utc>,
}

fn invalid() -> AppError {
    AppError::new(
        ErrorCode::RewardCodeInvalid,
        "兑换码无效：请核对后重新输入，或请党员重新获取兑换码",
    )
}

/// The code's row, person and item when the counter may redeem it (else "invalid",
/// the same answer for a forged code and another branch's: it tells nothing).
async fn lookup(
    db: &impl ConnectionTrait,
    principal: &Principal,
    typed: &str,
    now: DateTime<Utc>,
) -> AppResult<(
    entity::reward_code::Model,
    entity::person::Model,
    entity::reward_item::Model,
)> {
    principal.require(Perm::RewardsRedeem)?;
    let code = normalize(typed).ok_or_else(invalid)?;
    let row = entity::reward_code::Entity::find()
        .filter(entity::reward_code::Column::Code.eq(code))
        .one(db)
        .await?
        .ok_or_else(invalid)?;
    let person = crate::org::people::find(db, crate::ids::PersonId(row.person_id)).await?;
    let org = crate::org::service::find(db, OrgId(person.org_id)).await?;
    if !principal.covers(&org.path) {
        return Err(invalid());
    }
    if row.used_at.is_some() {
        return Err(AppError::new(
            ErrorCode::RewardCodeUsed,
            "该兑换码已使用，不能重复兑换",
        ));
    }
    if now >= row.expires_at {
        return Err(AppError::new(
            ErrorCode::RewardCodeExpired,
            format!("兑换码已过期（有效 {CODE_MINUTES} 分钟），请党员重新获取"),
        ));
    }
    let item = catalogue::find(db, row.item_id).await?;
    if item.retired_at.is_some() {
        return Err(AppError::new(
            ErrorCode::RewardItemRetired,
            "该物品已下架，不能兑换",
        ));
    }
    Ok((row, person, item))
}

/// The counter's check before redeeming (writes nothing).
pub async fn preview(state: &AppState, principal: &Principal, typed: &str) -> AppResult<Preview> {
    guard_guessing(state, principal).await?;
    let (row, person, item) = match lookup(&state.db, principal, typed, state.clock.now()).await {
        Ok(found) => found,
        Err(e) => {
            audit_refusal(state, principal, CHECK_REFUSED, typed, &e).await;
            return Err(e);
        }
    };
    let (points, yuan) = item_value(&item);
    Ok(Preview {
        code_id: row.id,
        person_id: person.id,
        member: crate::org::mask_name(&person.name),
        item_id: item.id,
        item: item.name,
        points: Points(points),
        yuan: Points(yuan),
        expires_at: row.expires_at,
    })
}

/// Audit actions of a refused check and a refused redemption: they count towards
/// [`guard_guessing`].
const CHECK_REFUSED: &str = "reward_check_refused";
const REDEEM_REFUSED: &str = "reward_redeem_refused";
/// Refused codes a counter account may type within the window before it has to wait.
/// A code is nine random digits and a check digit, valid 10 minutes: at this pace a
/// guess succeeds about once in 100 million tries.
const MAX_REFUSED: u64 = 10;
const REFUSED_WINDOW_MINUTES: i64 = 10;

/// Refuses a counter account that typed [`MAX_REFUSED`] refused codes (checks or
/// redemptions) in the last [`REFUSED_WINDOW_MINUTES`], before the code is looked up.
/// Counted from the audit log (shared by every instance; its clock is the wall clock);
/// the refusal itself writes nothing, so a guessing script cannot grow the log.
async fn guard_guessing(state: &AppState, principal: &Principal) -> AppResult<()> {
    use entity::audit_log::Column;
    use sea_orm::PaginatorTrait;
    let since = Utc::now() - Duration::minutes(REFUSED_WINDOW_MINUTES);
    let refused = entity::audit_log::Entity::find()
        .filter(Column::At.gte(since))
        .filter(Column::ActorKind.eq("account"))
        .filter(Column::ActorId.eq(principal.account_id.0))
        .filter(Column::Action.is_in([CHECK_REFUSED, REDEEM_REFUSED]))
        .count(&state.db)
        .await?;
    if refused >= MAX_REFUSED {
        tracing::warn!(
            account = principal.account_id.0,
            refused,
            "reward codes: counter locked for guessing"
        );
        return Err(AppError::new(
            ErrorCode::RateLimited,
            format!(
                "{REFUSED_WINDOW_MINUTES} 分钟内输错兑换码已达 {MAX_REFUSED} 次，请稍后再试；如为会员出示的码，请让会员在手机上重新生成"
            ),
        ));
    }
    Ok(())
}

/// Audits a refused check or redemption. Only refusals that reached the rewards rules
/// touch points; a permission refusal is the API's usual 403, and the lock's own
/// refusal is not counted again.
async fn audit_refusal(
    state: &AppState,
    principal: &Principal,
    action: &str,
    typed: &str,
    e: &AppError,
) {
    if matches!(e.code, ErrorCode::Forbidden | ErrorCode::RateLimited) {
        return;
    }
    let org = principal.org_id.map_or(0, |o| o.0);
    let typed: String = typed.chars().take(32).collect();
    refused(
        state,
        &principal.actor(),
        action,
        org,
        serde_json::json!({
            "typed": typed, "code": e.code, "detail": e.detail,
        }),
    )
    .await;
}

/// Redeems a code at a counter: one transaction; refusals audited, nothing else written.
pub async fn redeem(state: &AppState, principal: &Principal, typed: &str) -> AppResult<Redeemed> {
    guard_guessing(state, principal).await?;
    let actor = principal.actor();
    match redeem_inner(state, principal, &actor, typed).await {
        Ok(r) => Ok(r),
        Err(e) => {
            audit_refusal(state, principal, REDEEM_REFUSED, typed, &e).await;
            Err(e)
        }
    }
}

async fn redeem_inner(
    state: &AppState,
    principal: &Principal,
    actor: &Actor,
    typed: &str,
) -> AppResult<Redeemed> {
    let now = state.clock.now();
    let txn = crate::db::begin(&state.db).await?;
    let (row, person, item) = lookup(&txn, principal, typed, now).await?;
    // Claim the code: of two counters, one update finds it unused.
    let claimed = entity::reward_code::Entity::update_many()
        .col_expr(entity::reward_code::Column::UsedAt, Expr::value(now))
        .col_expr(
            entity::reward_code::Column::UsedBy,
            Expr::value(principal.account_id.0),
        )
        .filter(entity::reward_code::Column::Id.eq(row.id))
        .filter(entity::reward_code::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(AppError::new(
            ErrorCode::RewardCodeUsed,
            "该兑换码已使用，不能重复兑换",
        ));
    }
    // One member's redemptions one at a time (their balance is read below).
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT id FROM people WHERE id = $1 FOR NO KEY UPDATE",
            [person.id.into()],
        ))
        .await?;
    }
    credit_due(&txn, &state.scoring, person.id, now).await?;
    let bal: Balance = balance(&txn, &person, now).await?;
    let (points, yuan) = item_value(&item);
    let year = pick_year(&txn, &state.scoring, &person, &bal, points, yuan, now).await?;
    let entry = entity::reward_entry::Entity::insert(entity::reward_entry::ActiveModel {
        id: NotSet,
        person_id: Set(person.id),
        org_id: Set(person.org_id),
        kind: Set(REDEMPTION.to_owned()),
        year: Set(year),
        points: Set(fmt_dec(points)),
        yuan: Set(Some(fmt_dec(yuan))),
        rule: Set(None),
        credit_key: Set(None),
        item_id: Set(Some(item.id)),
        item_name: Set(Some(item.name.clone())),
        code_id: Set(Some(row.id)),
        actor_id: Set(Some(principal.account_id.0)),
        actor_name: Set(principal.username.clone()),
        at: Set(now),
        created_at: Set(Utc::now()),
    })
    .exec_with_returning(&txn)
    .await?;
    let out = Redeemed {
        id: entry.id,
        person_id: person.id,
        member: crate::org::mask_name(&person.name),
        item: item.name.clone(),
        year,
        points: Points(points),
        yuan: Points(yuan),
        balance: Points(bal.points.0 - points),
        at: now,
    };
    audit::record(
        &txn,
        actor,
        Entry::new("reward_redeem", "person", person.id)
            .org(OrgId(person.org_id))
            .after(serde_json::json!({
                "entry_id": entry.id, "code_id": row.id, "item_id": item.id, "item": item.name,
                "year": year, "points": fmt_dec(points), "yuan": fmt_dec(yuan),
                "balance_before": fmt_dec(bal.points.0),
            })),
    )
    .await?;
    txn.commit().await?;
    Ok(out)
}

/// The audit entry of a refused attempt, in its own short transaction (the attempt's
/// own transaction rolled back). A failure to write it is logged, not shown.
async fn refused(
    state: &AppState,
    actor: &Actor,
    action: &str,
    org: i64,
    after: serde_json::Value,
) {
    let mut entry = Entry::new(action, "rewards", "-").after(after);
    if org > 0 {
        entry = entry.org(OrgId(org));
    }
    if let Err(e) = audit::record(&state.db, actor, entry).await {
        tracing::error!(error = %e, action, "could not audit a refused rewards attempt");
    }
}
