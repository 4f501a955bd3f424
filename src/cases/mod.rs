//! Cases: one model for the matters a member or staff raises and someone must answer
//! by a deadline: disputes (异议), publicity objections (`objection`), investigations
//! (`investigation`, XH-19); falsification cases will reuse it (`kind`). A case names its subject (a person), its
//! target (what it is about), the organization answering it, its state, deadline and
//! outcome; its steps are messages, its files attachments (`uploads`).
//!
//! Disputes: a member files one from `/m/disputes/new` against a ledger line, a
//! check-in, a refused scan or a missing check-in. The member's branch answers: the
//! secretary accepts with what a secretary may record (补签) or proposes a correction
//! (annul, add, re-time) to the admins above, who accept or reject; admins may accept
//! with any correction. Accepting records the correction through the check-in services
//! with the dispute's reason, so the member's ledger line shows why. After
//! `disputes.answer_days` without an answer, or after a rejection, the member may
//! escalate to the superior organization. Every step is audited and notifies the member.

pub mod correction;
pub mod investigation;
pub mod objection;
pub mod routes;
pub mod service;

use serde::{Deserialize, Serialize};

/// What a dispute is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A line of the member's ledger.
    LedgerEntry(i64),
    /// A recorded check-in (fact).
    CheckIn(i64),
    /// A scan that was refused ("我扫了但没记上").
    Refusal(i64),
    /// An activity with no check-in of the member.
    Missing(i64),
}

impl Target {
    pub fn kind(self) -> &'static str {
        match self {
            Self::LedgerEntry(_) => "ledger_entry",
            Self::CheckIn(_) => "checkin",
            Self::Refusal(_) => "refusal",
            Self::Missing(_) => "missing",
        }
    }

    pub fn id(self) -> i64 {
        match self {
            Self::LedgerEntry(i) | Self::CheckIn(i) | Self::Refusal(i) | Self::Missing(i) => i,
        }
    }

    /// `kind:id`, as forms carry it.
    pub fn parse(s: &str) -> Option<Self> {
        let (kind, id) = s.trim().split_once(':')?;
        let id: i64 = id.parse().ok().filter(|i| *i > 0)?;
        Some(match kind {
            "ledger_entry" => Self::LedgerEntry(id),
            "checkin" => Self::CheckIn(id),
            "refusal" => Self::Refusal(id),
            "missing" => Self::Missing(id),
            _ => return None,
        })
    }

    pub fn key(self) -> String {
        format!("{}:{}", self.kind(), self.id())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Waiting for the branch (secretary or admins above).
    Open,
    /// A secretary proposed a correction; waiting for the admins above.
    Proposed,
    /// Escalated by the member; waiting for the superior organization's admins.
    Escalated,
    Accepted,
    Rejected,
}

impl CaseState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Proposed => "proposed",
            Self::Escalated => "escalated",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => Self::Open,
            "proposed" => Self::Proposed,
            "escalated" => Self::Escalated,
            "accepted" => Self::Accepted,
            "rejected" => Self::Rejected,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Open => "待处理",
            Self::Proposed => "待上级审核",
            Self::Escalated => "已提交上级",
            Self::Accepted => "已采纳",
            Self::Rejected => "未采纳",
        }
    }

    pub fn is_open(self) -> bool {
        matches!(self, Self::Open | Self::Proposed | Self::Escalated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_round_trip_and_refuse_junk() {
        for t in [
            Target::LedgerEntry(3),
            Target::CheckIn(4),
            Target::Refusal(5),
            Target::Missing(6),
        ] {
            assert_eq!(Target::parse(&t.key()), Some(t));
        }
        for junk in [
            "",
            "checkin",
            "checkin:",
            "checkin:-1",
            "other:3",
            "missing:x",
        ] {
            assert_eq!(Target::parse(junk), None, "{junk}");
        }
    }
}
