//! Facts → postings → the ledger and the running scores.
//!
//! Every fact the server records (check-in, make-up study, item, annulment) is
//! posted at once, in the transaction that records it: the subject's year is
//! re-derived by the pure engine (`crate::policy`) and the difference between
//! what the engine now grants and what the ledger already holds is appended as
//! new entries. Nothing is edited: an annulled fact, or a late fact that moves a
//! cap, shows up as adjustments. Because the engine processes facts in (time, id)
//! order whatever their arrival order, the ledger after any sequence of
//! arrivals sums to exactly what a full replay gives.
//!
//! Year-end rules (XH-15.1) and group rules (SD-6 quotas, EQ-5/EQ-6 last
//! places) run when an administrator closes a year (`close_year`), which also
//! freezes that year's scores: later policy changes cannot touch them.

pub mod batch;
pub mod facts;
pub mod inputs;
pub mod items;
pub mod post;
pub mod queries;
pub mod routes;
pub mod scenario;
pub mod year;

use std::path::Path;
use std::sync::Arc;

use crate::policy::{Calendars, LoadError, PolicySet};

/// The default policy of an organization that chose none.
pub const DEFAULT_POLICY: &str = "xihu-2017";

/// Policies and calendars: the built-in ones, plus files from the configured directories.
pub struct Scoring {
    pub policies: PolicySet,
    pub calendars: Calendars,
}

impl Scoring {
    pub fn load(policy_dir: Option<&Path>, calendar_dir: Option<&Path>) -> Result<Self, LoadError> {
        fn existing(d: Option<&Path>) -> Option<&Path> {
            d.filter(|p| p.is_dir())
        }
        Ok(Self {
            policies: PolicySet::load(existing(policy_dir))?,
            calendars: Calendars::load(existing(calendar_dir))?,
        })
    }

    pub fn builtin() -> Result<Self, LoadError> {
        Self::load(None, None)
    }
}

pub type SharedScoring = Arc<Scoring>;

/// Whose ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SubjectRef {
    Person(i64),
    Org(i64),
}

impl SubjectRef {
    pub fn kind(self) -> &'static str {
        match self {
            Self::Person(_) => "person",
            Self::Org(_) => "org",
        }
    }
    pub fn id(self) -> i64 {
        match self {
            Self::Person(id) | Self::Org(id) => id,
        }
    }
}
