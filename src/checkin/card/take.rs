//! Taking a member card at an open session: the secretary's console reads the card's
//! QR (camera) or its typed number. The check-in is timed when taken and goes through
//! the one-fact path of a scan (`scan::count_by`: the same judge, the same unique key
//! `scan:<activity>:<person>`, the same posting), recorded with the method `card`, the
//! secretary as actor and the reason 持卡签到, and audited with the fact. Every refusal
//! (unknown, forged or revoked card, out of scope, not invited, too late, a second
//! check-in) writes nothing and says why in Chinese.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use super::{REASON, by_number, normalize, parse_code, verify};
use crate::auth::Principal;
use crate::checkin::scan::{Outcome, Refusal, Taker, count_by};
use crate::checkin::sessions::{self, CachedSession};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::OrgId;
use crate::ledger::queries::Points;
use crate::policy::{Method, fmt_dec};
use crate::state::AppState;

/// What the secretary's device read: the QR's text, or the number as typed.
#[derive(Debug, Clone)]
pub enum CardInput {
    Number(String),
    Code(String),
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardBody {
    /// The card number as typed (9 digits; spaces and dashes are ignored).
    pub number: Option<String>,
    /// The text of the card's QR code, as a camera read it.
    pub code: Option<String>,
}

impl CardBody {
    pub fn input(self) -> AppResult<CardInput> {
        let some = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        match (some(self.number), some(self.code)) {
            (Some(n), None) => Ok(CardInput::Number(n)),
            (None, Some(c)) => Ok(CardInput::Code(c)),
            (Some(_), Some(_)) => Err(AppError::field("number", "卡号和二维码只填一项")),
            (None, None) => Err(AppError::field("number", "请输入卡号或扫描党员卡")),
        }
    }
}

/// A check-in taken by card.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CardCheckin {
    pub fact_id: i64,
    pub person_id: i64,
    pub name: String,
    /// `on_time`, `late`, `present`; absent for an exempt member.
    pub class: Option<&'static str>,
    /// As the secretary reads it: 按时签到, 迟到签到（开始后 15 分钟内）…
    pub class_label: String,
    /// What the ledger granted under the member's policy.
    pub points: Points,
    pub exempt: bool,
    /// When it was taken (the application clock).
    pub at: DateTime<Utc>,
    pub method: &'static str,
    /// One line for the secretary, e.g. 签到成功：张三，按时签到，+5 分.
    pub message: String,
}

fn unknown_card() -> AppError {
    AppError::not_found("没有找到这张党员卡，或持卡人不在您的管辖范围内，未记录")
}

fn invalid_code() -> AppError {
    AppError::field(
        "code",
        "党员卡二维码无效（不是本系统的卡或已被改动），请核对卡片或改为输入卡号",
    )
}

/// The card the input names, after its check digit or signature holds.
async fn card_of(state: &AppState, input: &CardInput) -> AppResult<entity::member_card::Model> {
    match input {
        CardInput::Number(typed) => {
            let number = normalize(typed)?;
            by_number(&state.db, &number)
                .await?
                .ok_or_else(unknown_card)
        }
        CardInput::Code(text) => {
            let (number, mac) = parse_code(text).ok_or_else(invalid_code)?;
            let card = by_number(&state.db, number)
                .await?
                .ok_or_else(invalid_code)?;
            if verify(&card, mac) {
                Ok(card)
            } else {
                tracing::warn!(card = card.id, "member card code with a wrong MAC");
                Err(invalid_code())
            }
        }
    }
}

/// Whether the person already holds a check-in for the activity (by any method, not
/// annulled): a second one is refused before anything is written.
async fn checked_in(state: &AppState, activity: i64, person: i64) -> AppResult<bool> {
    use entity::fact::{Column, Entity};
    let facts = Entity::find()
        .filter(Column::ActivityId.eq(activity))
        .filter(Column::PersonId.eq(person))
        .all(&state.db)
        .await?;
    let annulled: Vec<i64> = facts
        .iter()
        .filter(|f| f.kind == "annul")
        .filter_map(|f| f.target_id)
        .collect();
    Ok(facts
        .iter()
        .any(|f| f.kind == "checkin" && !annulled.contains(&f.id)))
}

fn already(name: &str) -> AppError {
    AppError::new(
        ErrorCode::AlreadyCheckedIn,
        format!("{name} 已签到过本活动，未重复记录"),
    )
}

/// What the secretary is told when the judge refuses.
fn refusal(r: Refusal, name: &str, s: &CachedSession) -> AppError {
    let text = match r {
        Refusal::NotInvited => format!("{name} 所在的组织未受邀参加“{}”，未记录", s.title),
        Refusal::Inactive => format!("{name} 的党籍状态不能签到，未记录"),
        Refusal::TooLate(t) => format!(
            "已超过签到时间（{}），{name} 本次不计出席，未记录",
            match t.late_seconds {
                Some(secs) => format!("开始后 {} 分钟", secs / 60),
                None => "活动当日已结束".to_owned(),
            }
        ),
        Refusal::Closed(_) => "签到已结束，未记录".to_owned(),
        Refusal::NotOpen => format!("签到尚未开始（{} 开放），未记录", s.local(s.opens_at)),
        Refusal::InvalidCode | Refusal::ExpiredCode => "党员卡无效，未记录".to_owned(),
    };
    AppError::new(ErrorCode::CheckinRefused, text)
}

/// Takes a card at the session (the caller checked the secretary's write permission
/// over the session's activity).
pub async fn take(
    state: &AppState,
    principal: &Principal,
    session: &entity::checkin_session::Model,
    input: CardInput,
) -> AppResult<CardCheckin> {
    let now = state.clock.now();
    let card = card_of(state, &input).await?;
    let person = entity::person::Entity::find_by_id(card.person_id)
        .one(&state.db)
        .await?
        .ok_or_else(unknown_card)?;
    let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
    // A card outside the secretary's scope looks like no card at all.
    if !principal.covers(&org.path) {
        return Err(unknown_card());
    }
    if card.revoked_at.is_some() {
        return Err(AppError::new(
            ErrorCode::CardRevoked,
            format!(
                "这张党员卡已作废（{}），未记录；请使用补发的新卡",
                card.revoke_reason.as_deref().unwrap_or("已停用")
            ),
        ));
    }
    let s = sessions::load(&state.db, state.live.as_ref(), session.id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("签到 {} 不存在", session.id)))?;
    if now < s.opens_at {
        return Err(refusal(Refusal::NotOpen, &person.name, &s));
    }
    if checked_in(state, s.activity_id, person.id).await? {
        return Err(already(&person.name));
    }
    let taker = Taker {
        method: Method::Card,
        actor: principal.actor(),
        reason: Some(REASON),
        audit: Some((
            "card_checkin",
            serde_json::json!({
                "person": person.id, "activity": s.activity_id, "session": s.id,
                "card": card.id, "method": Method::Card.as_str(), "reason": REASON,
            }),
        )),
    };
    let (outcome, _note) = count_by(state, &s, &person, now, now, None, None, taker).await?;
    let name = person.name.clone();
    match outcome {
        Outcome::Counted {
            fact_id,
            class,
            points,
        } => Ok(CardCheckin {
            fact_id,
            person_id: person.id,
            message: format!(
                "签到成功：{name}，{}，+{} 分",
                class.label(),
                fmt_dec(points)
            ),
            name,
            class: Some(class.code()),
            class_label: class.label(),
            points: Points(points),
            exempt: false,
            at: now,
            method: Method::Card.as_str(),
        }),
        Outcome::Exempt { fact_id } => Ok(CardCheckin {
            fact_id,
            person_id: person.id,
            message: format!("已记录出席：{name}（已批准免于评分，不计积分）"),
            name,
            class: None,
            class_label: "出席（免于评分）".to_owned(),
            points: Points(rust_decimal::Decimal::ZERO),
            exempt: true,
            at: now,
            method: Method::Card.as_str(),
        }),
        Outcome::AlreadyIn => Err(already(&name)),
        Outcome::Refused(r) => Err(refusal(r, &name, &s)),
        Outcome::Pending => Err(AppError::internal(anyhow::anyhow!(
            "a card check-in came back pending"
        ))),
    }
}
