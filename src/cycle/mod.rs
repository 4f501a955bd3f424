//! The members' side of the review cycle: leave (请假, [`leave`]), declarations
//! (申报, SD-2, [`declarations`]) and what the platform proposes to the secretary
//! ([`proposals`]: EQ-3 absences at a session's close, TW-5's six months at month end).
//! Scores change only through the facts an approval or a confirmation records
//! (`ledger::facts`); every answer is audited and told to the member once
//! ([`notify`]). Pages: `web::leave`, `web::declarations`, `console::review`.

pub mod declarations;
pub mod leave;
pub mod notify;
pub mod proposals;

use crate::error::{AppError, AppResult};

/// Who entered a request: the member from `/m/`, or staff for them.
pub fn entered_by(actor: &crate::audit::Actor, member_name: &str) -> (String, Option<i64>, String) {
    let name = if actor.kind == "member" {
        member_name.to_owned()
    } else {
        actor.name.clone()
    };
    (actor.kind.to_owned(), actor.id, name)
}

/// A reason or description as typed: required, at most `max` characters.
pub fn text_field(field: &str, value: &str, what: &str, max: usize) -> AppResult<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(AppError::field(field, format!("请填写{what}")));
    }
    if v.chars().count() > max {
        return Err(AppError::field(field, format!("{what}不能超过 {max} 字")));
    }
    if v.contains('\0') {
        return Err(AppError::field(field, format!("{what}含有无效字符")));
    }
    Ok(v.to_owned())
}
