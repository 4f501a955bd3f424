//! Member cards (党员卡) for members without a smartphone: a printed card with a signed
//! QR code and a short card number to type. The secretary's console reads either at
//! an open session ([`take`]); the check-in is then judged and recorded like a scan.
//!
//! - The **card number**: 8 random digits and a Damm check digit (9 digits, shown as
//!   `1234 5678 9`). The check digit refuses every single wrong digit and every swap of
//!   two neighbours, so a typo is refused instead of checking in someone else.
//! - The **code** in the QR: `VGC1:<number>:<mac>`, mac = the first 80 bits of
//!   HMAC-SHA256 under the card's own random secret of `card:<number>:<person>`
//!   (upper-case hex: the whole code fits QR's compact alphanumeric mode). A forged
//!   or altered code fails the MAC.
//! - **Revoking and reissuing**: a card is never deleted; a revoked card keeps its
//!   number (numbers are never reused) and is refused. One valid card per person
//!   (`active_person_id`, unique, NULL once revoked).

pub mod routes;
pub mod take;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, TransactionSession,
    TransactionTrait,
};
use sha2::Sha256;

use crate::audit::{Entry, record};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult};
use crate::ids::{OrgId, PersonId};

pub use take::{CardCheckin, CardInput, take};

/// The reason recorded with every check-in by card.
pub const REASON: &str = "持卡签到";

/// Hex digits of the MAC in the code (80 bits).
const MAC_LEN: usize = 20;
const CODE_PREFIX: &str = "VGC1:";

/// The Damm algorithm's quasigroup of order 10 (totally anti-symmetric).
const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

/// The Damm interim digit of a string of ASCII digits (`None` for anything else).
pub(crate) fn damm(digits: &str) -> Option<u8> {
    digits.bytes().try_fold(0u8, |interim, b| {
        b.is_ascii_digit()
            .then(|| DAMM[usize::from(interim)][usize::from(b - b'0')])
    })
}

/// Whether a 9-digit number carries its right check digit.
pub fn valid_number(number: &str) -> bool {
    number.len() == 9 && damm(number) == Some(0)
}

/// A fresh card number: 8 random digits (no leading 0) and the check digit.
fn new_number() -> String {
    use rand::Rng;
    let body: u32 = rand::rng().random_range(10_000_000..100_000_000);
    let body = body.to_string();
    let check = damm(&body).unwrap_or(0);
    format!("{body}{check}")
}

/// As printed: `1234 5678 9`.
pub fn display(number: &str) -> String {
    if number.len() != 9 || !number.is_ascii() {
        return number.to_owned();
    }
    format!("{} {} {}", &number[..4], &number[4..8], &number[8..])
}

/// A number as typed (spaces, dashes, full-width digits from a Chinese keyboard) made
/// plain; a wrong length or check digit is a field error in Chinese.
pub fn normalize(typed: &str) -> AppResult<String> {
    let mut out = String::new();
    for c in typed.chars() {
        match c {
            '0'..='9' => out.push(c),
            '０'..='９' => out.push(char::from(b'0' + (c as u32 - '０' as u32) as u8)),
            ' ' | '-' | '　' | '－' => {}
            _ => return Err(AppError::field("number", "卡号只能包含数字")),
        }
    }
    if out.is_empty() {
        return Err(AppError::field("number", "请输入卡号"));
    }
    if out.len() != 9 {
        return Err(AppError::field("number", "卡号应为 9 位数字，请核对卡片"));
    }
    if !valid_number(&out) {
        return Err(AppError::field(
            "number",
            "卡号有误（校验位不符），请核对卡片后重新输入",
        ));
    }
    Ok(out)
}

fn mac_bytes(secret: &str, number: &str, person: i64) -> Vec<u8> {
    // HMAC accepts a key of any length: this cannot fail.
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return Vec::new();
    };
    m.update(format!("card:{number}:{person}").as_bytes());
    m.finalize().into_bytes()[..MAC_LEN / 2].to_vec()
}

/// What the card's QR encodes.
pub fn code(card: &entity::member_card::Model) -> String {
    let mac = hex::encode_upper(mac_bytes(&card.secret, &card.number, card.person_id));
    format!("{CODE_PREFIX}{}:{mac}", card.number)
}

/// Splits a code without checking its MAC: (number, mac); `None` unless it is a card's.
pub fn parse_code(text: &str) -> Option<(&str, &str)> {
    let rest = text.trim().strip_prefix(CODE_PREFIX)?;
    let (number, mac) = rest.split_once(':')?;
    (valid_number(number) && mac.len() == MAC_LEN).then_some((number, mac))
}

/// Constant-time check of a code's MAC against the card.
pub fn verify(card: &entity::member_card::Model, mac: &str) -> bool {
    let want = mac_bytes(&card.secret, &card.number, card.person_id);
    let Ok(given) = hex::decode(mac) else {
        return false;
    };
    given.len() == want.len()
        && given
            .iter()
            .zip(&want)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The card's QR as SVG (a light quiet zone of 4 modules, sized by the page).
pub fn svg(card: &entity::member_card::Model) -> AppResult<String> {
    let svg = super::routes::qr_code(&code(card))?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    // Inline in HTML: the XML declaration is not needed.
    Ok(match svg.find("<svg") {
        Some(i) => svg[i..].to_owned(),
        None => svg,
    })
}

/// The person's valid card, if any.
pub async fn active(
    db: &impl ConnectionTrait,
    person: i64,
) -> AppResult<Option<entity::member_card::Model>> {
    use entity::member_card::{Column, Entity};
    Ok(Entity::find()
        .filter(Column::ActivePersonId.eq(person))
        .one(db)
        .await?)
}

/// Every card the person was given, newest first.
pub async fn history(
    db: &impl ConnectionTrait,
    person: i64,
) -> AppResult<Vec<entity::member_card::Model>> {
    use entity::member_card::{Column, Entity};
    Ok(Entity::find()
        .filter(Column::PersonId.eq(person))
        .order_by_desc(Column::Id)
        .all(db)
        .await?)
}

pub async fn by_number(
    db: &impl ConnectionTrait,
    number: &str,
) -> AppResult<Option<entity::member_card::Model>> {
    use entity::member_card::{Column, Entity};
    Ok(Entity::find()
        .filter(Column::Number.eq(number))
        .one(db)
        .await?)
}

/// The person whose cards `principal` may manage: who may check members in may issue,
/// print and revoke their cards.
pub async fn manageable(
    db: &impl ConnectionTrait,
    principal: &Principal,
    person: PersonId,
) -> AppResult<entity::person::Model> {
    crate::org::people::scoped(db, principal, Perm::ActivityWrite, person).await
}

/// Inserts a new valid card (inside the caller's transaction) with its audit entry.
async fn insert(
    txn: &impl ConnectionTrait,
    principal: &Principal,
    person: &entity::person::Model,
    now: DateTime<Utc>,
    action: &str,
    reason: Option<&str>,
) -> AppResult<entity::member_card::Model> {
    if active(txn, person.id).await?.is_some() {
        return Err(AppError::new(
            crate::error::ErrorCode::CardExists,
            format!("{} 已有有效的党员卡；如需更换，请作废并补发", person.name),
        ));
    }
    // 90 million numbers: a clash is rare; try a few before giving up.
    let mut number = new_number();
    for _ in 0..8 {
        if by_number(txn, &number).await?.is_none() {
            break;
        }
        number = new_number();
    }
    let card = entity::member_card::ActiveModel {
        id: NotSet,
        person_id: Set(person.id),
        number: Set(number),
        secret: Set(crate::db::random_secret(16)),
        active_person_id: Set(Some(person.id)),
        issued_at: Set(now),
        issued_by: Set(Some(principal.account_id.0)),
        revoked_at: Set(None),
        revoked_by: Set(None),
        revoke_reason: Set(None),
    }
    .insert(txn)
    .await?;
    record(
        txn,
        &principal.actor(),
        Entry::new(action, "person", person.id)
            .org(OrgId(person.org_id))
            .after(serde_json::json!({"card": card.id, "number": card.number, "reason": reason})),
    )
    .await?;
    Ok(card)
}

/// Marks the valid card revoked (inside the caller's transaction) with its audit entry.
async fn mark_revoked(
    txn: &impl ConnectionTrait,
    principal: &Principal,
    person: &entity::person::Model,
    card: entity::member_card::Model,
    now: DateTime<Utc>,
    reason: &str,
) -> AppResult<entity::member_card::Model> {
    let (id, number) = (card.id, card.number.clone());
    let mut row: entity::member_card::ActiveModel = card.into();
    row.active_person_id = Set(None);
    row.revoked_at = Set(Some(now));
    row.revoked_by = Set(Some(principal.account_id.0));
    row.revoke_reason = Set(Some(reason.to_owned()));
    let revoked = row.update(txn).await?;
    record(
        txn,
        &principal.actor(),
        Entry::new("revoke_card", "person", person.id)
            .org(OrgId(person.org_id))
            .before(serde_json::json!({"card": id, "number": number}))
            .after(serde_json::json!({"card": id, "revoked": true, "reason": reason})),
    )
    .await?;
    Ok(revoked)
}

fn reason_of(reason: &str) -> AppResult<String> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::field("reason", "请填写原因（如：卡片遗失）"));
    }
    if reason.chars().count() > 200 {
        return Err(AppError::field("reason", "原因不超过 200 字"));
    }
    Ok(reason.to_owned())
}

/// Issues the person's first card (or a new one after a revocation).
pub async fn issue(
    db: &(impl ConnectionTrait + TransactionTrait),
    principal: &Principal,
    person: &entity::person::Model,
    now: DateTime<Utc>,
) -> AppResult<entity::member_card::Model> {
    let txn = crate::db::begin(db).await?;
    let card = insert(&txn, principal, person, now, "issue_card", None).await?;
    txn.commit().await?;
    Ok(card)
}

/// Revokes the valid card and issues a new one: the old card is refused from now on.
pub async fn reissue(
    db: &(impl ConnectionTrait + TransactionTrait),
    principal: &Principal,
    person: &entity::person::Model,
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<entity::member_card::Model> {
    let reason = reason_of(reason)?;
    let txn = crate::db::begin(db).await?;
    if let Some(old) = active(&txn, person.id).await? {
        mark_revoked(&txn, principal, person, old, now, &reason).await?;
    }
    let card = insert(&txn, principal, person, now, "reissue_card", Some(&reason)).await?;
    txn.commit().await?;
    Ok(card)
}

/// Revokes the valid card without a new one (e.g. the member left).
pub async fn revoke(
    db: &(impl ConnectionTrait + TransactionTrait),
    principal: &Principal,
    person: &entity::person::Model,
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<entity::member_card::Model> {
    let reason = reason_of(reason)?;
    let txn = crate::db::begin(db).await?;
    let Some(card) = active(&txn, person.id).await? else {
        return Err(AppError::not_found(format!(
            "{} 没有有效的党员卡",
            person.name
        )));
    };
    let revoked = mark_revoked(&txn, principal, person, card, now, &reason).await?;
    txn.commit().await?;
    Ok(revoked)
}

/// The active people of an organization's subtree, by id, after `after` (a page).
pub async fn members(
    db: &impl ConnectionTrait,
    org: &entity::organization::Model,
    after: Option<i64>,
    limit: u64,
) -> AppResult<Vec<(entity::person::Model, String)>> {
    use sea_orm::QuerySelect;
    let orgs = entity::organization::Entity::find()
        .filter(entity::organization::Column::Path.starts_with(org.path.as_str()))
        .all(db)
        .await?;
    let ids: Vec<i64> = orgs.iter().map(|o| o.id).collect();
    let mut q = entity::person::Entity::find()
        .filter(entity::person::Column::OrgId.is_in(ids))
        .filter(entity::person::Column::Status.eq("active"))
        .order_by_asc(entity::person::Column::Id)
        .limit(limit);
    if let Some(after) = after {
        q = q.filter(entity::person::Column::Id.gt(after));
    }
    let name_of = |id: i64| {
        orgs.iter()
            .find(|o| o.id == id)
            .map(|o| o.name.clone())
            .unwrap_or_default()
    };
    Ok(q.all(db)
        .await?
        .into_iter()
        .map(|p| {
            let org = name_of(p.org_id);
            (p, org)
        })
        .collect())
}

/// Issues a card to every active person of the subtree who has none; how many.
pub async fn issue_missing(
    db: &(impl ConnectionTrait + TransactionTrait),
    principal: &Principal,
    org: &entity::organization::Model,
    now: DateTime<Utc>,
) -> AppResult<u64> {
    principal.require_in(Perm::ActivityWrite, &org.path)?;
    let txn = crate::db::begin(db).await?;
    let mut issued = 0;
    let mut after = None;
    loop {
        let page = members(&txn, org, after, 500).await?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.id);
        for (person, _) in &page {
            if active(&txn, person.id).await?.is_none() {
                insert(&txn, principal, person, now, "issue_card", None).await?;
                issued += 1;
            }
        }
    }
    txn.commit().await?;
    Ok(issued)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn damm_matches_the_published_example_and_numbers_check() {
        // 572 → check digit 4 (the algorithm's textbook example).
        assert_eq!(damm("572"), Some(4));
        assert_eq!(damm("5724"), Some(0));
        for _ in 0..200 {
            let n = new_number();
            assert!(valid_number(&n), "{n}");
            assert!(!n.starts_with('0'));
        }
    }

    #[test]
    fn every_single_typo_and_neighbour_swap_is_refused() {
        let n = "123456786";
        assert_eq!(damm("12345678"), Some(6));
        assert!(valid_number(n));
        let b = n.as_bytes();
        for i in 0..9 {
            for d in b'0'..=b'9' {
                if d == b[i] {
                    continue;
                }
                let mut t = b.to_vec();
                t[i] = d;
                assert!(!valid_number(std::str::from_utf8(&t).unwrap()));
            }
            if i < 8 && b[i] != b[i + 1] {
                let mut t = b.to_vec();
                t.swap(i, i + 1);
                assert!(!valid_number(std::str::from_utf8(&t).unwrap()));
            }
        }
    }

    #[test]
    fn typed_numbers_are_normalized_or_refused_in_chinese() {
        assert_eq!(normalize(" 1234 5678-6 ").unwrap(), "123456786");
        assert_eq!(normalize("１２３４５６７８６").unwrap(), "123456786");
        let msg = |t: &str| normalize(t).unwrap_err().errors[0].message.clone();
        assert!(msg("123456785").contains("校验位"));
        assert!(msg("12345").contains("9 位"));
        assert!(msg("12a456786").contains("数字"));
        assert!(msg("").contains("请输入"));
        assert_eq!(display("123456786"), "1234 5678 6");
    }

    #[test]
    fn codes_verify_and_forgeries_do_not() {
        let card = entity::member_card::Model {
            id: 1,
            person_id: 7,
            number: "123456786".into(),
            secret: "s3cret".into(),
            active_person_id: Some(7),
            issued_at: Utc::now(),
            issued_by: None,
            revoked_at: None,
            revoked_by: None,
            revoke_reason: None,
        };
        let c = code(&card);
        assert!(c.starts_with("VGC1:123456786:"));
        let (number, mac) = parse_code(&c).unwrap();
        assert_eq!(number, "123456786");
        assert!(verify(&card, mac));
        // Another secret (a forger's), or the same MAC on another person's card.
        let other = entity::member_card::Model {
            secret: "guess".into(),
            ..card.clone()
        };
        assert!(!verify(&other, mac));
        let moved = entity::member_card::Model {
            person_id: 8,
            ..card.clone()
        };
        assert!(!verify(&moved, mac));
        assert!(parse_code("ci.1.2.abcdef").is_none());
        assert!(parse_code("VGC1:123456785:0000").is_none());
        // QR alphanumeric mode: digits, upper case and ':' only.
        assert!(
            c.chars()
                .all(|ch| ch.is_ascii_digit() || ch.is_ascii_uppercase() || ch == ':')
        );
        assert!(svg(&card).unwrap().starts_with("<svg"));
    }
}
