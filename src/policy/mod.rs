//! Scoring policies as data, and the pure engine that applies them.
//!
//! `facts of a year + policy + calendar → postings + results`. The engine does
//! no I/O, reads no clock and logs nothing: what the caller should log comes
//! back as `warnings`. Points are exact [`rust_decimal::Decimal`]s. Days,
//! months, quarters, half-years and the year are judged in the subject's time
//! zone (Asia/Shanghai unless the organization says otherwise).
//!
//! # Using the engine
//!
//! - [`evaluate_subject`]`(ctx, subject, facts, activities)` → [`SubjectEvaluation`]:
//!   one person's or organization's year, from its facts (any order; other
//!   subjects' facts are ignored) and the activities they name (and, for an
//!   organization, the activities it held). [`Context::year_end`] switches
//!   year-end rules (XH-15.1) on; leave it off for the running score.
//! - [`evaluate_group`]`(ctx, evaluations)`: rules comparing subjects (SD-6
//!   star quota, EQ-5/EQ-6 last place). Changes results only, never postings;
//!   running it twice changes nothing more.
//! - [`evaluate_year`]`(ctx, data)`: everyone at once (routing facts to their
//!   subjects), then the group stage when `year_end`.
//!
//! Facts are processed in `(at, id)` order whatever the order they are given
//! in, and annulled facts are dropped before anything is counted, so caps and
//! "once" rules always fall on the same facts: evaluating after each new fact
//! equals a full replay (see the property test in `src/policy/tests/props.rs`).
//!
//! A [`SubjectEvaluation`] holds one [`IndexResult`] per stretch of the year
//! under one index (an applicant who becomes a probationary member mid-year
//! has an applicant stretch and a vanguard stretch) and every [`Posting`]:
//! source fact, rule ID, points asked and granted, outcome, zh-CN note and
//! flags. Postings of a stretch add up to its score: openings, floors, vetoes
//! and year-end rules are postings of the whole year ([`Source::Year`]).
//!
//! # Policy files
//!
//! One TOML file per policy, `config/policies/<name>.toml`; the five presets
//! are compiled in ([`PRESETS`]) and [`PolicySet::load`] adds or replaces them
//! from a directory. A malformed file is refused as `file:line:column: reason`.
//!
//! ```toml
//! name = "xihu-2017"            # must match the file name
//! title = "…"                   # shown to users
//! source = "seeds/….txt"        # the regulation
//!
//! [[choice]]                    # every AMBIGUOUS rule: what this policy chose
//! rule = "XH-17"                #   (Policy::choices, for the API)
//! question = "…"
//! choice = "…"
//! alternatives = ["…"]          # optional: the other readings, shown beside it
//!
//! [index.vanguard]              # an index and the subjects it covers:
//! label = "先锋指数"             #   person roles, or ["org"]
//! subjects = ["member", "probationary"]
//! floor = { at = 0, rule = "XH-15.4", label = "…" }   # the year never ends below
//! unqualified = { zero_score = true, stars = false }  # what "unqualified" does
//! stars = [{ below = 60, value = 1 }, …, { value = 5 }]  # bands: below = "< N"
//! ratings = [{ below = 60, value = "unqualified" }, …, { value = "excellent" }]
//! marks = [{ below = 80, flag = "no_awards", label = "…" }]
//! categories = { bonus = { label = "追加积分", cap = 15, rule = "XH-14" } }
//! composite = { rule = "EQ-5", label = "…", points_weight = 0.7,
//!               item = "democratic_score", field = "score", weight = 0.3 }
//!
//! [[rule]]                      # a line of the regulation
//! id = "XH-8.1"                 # RULES.md ID; several rules may share one
//! index = "vanguard"
//! label = "党员固定活动日"        # zh-CN, used in notes
//! category = "bonus"            # optional: counts towards the category's cap
//! effect = "deduct"             # default "award"; points are magnitudes
//! cap = 10                      # yearly maximum of this rule's points
//! opening = 4                   # points granted at the start of the year (JH-2)
//! once = { per = "day", by = ["item"], keep = "first", rule = "XH-5.4", label = "…" }
//!                               # only one fact per period (day, month, quarter,
//!                               # half_year, year) and key (activity, item,
//!                               # field:NAME) counts; keep "first" or "best"
//! schedule = [0, 1]             # points of the 1st, 2nd … counted fact; the last
//! schedule_label = "…"          #   repeats (XH-11 threshold, JH-4 per-case)
//! multiply = [{ field = "leading", factor = 2, rule = "TW-3.1", label = "…" }]
//! outcome = "veto"              # or "unqualified": the fact sets the status
//! [[rule.when]]                 # which facts feed it (one trigger each):
//! checkin = ["fixed_day"]       #   checkin | makeup = [activity kinds],
//!                               #   item = [item codes], held = [kinds] (orgs)
//! methods = ["qr", "card", "manual", "batch"]   # others earn nothing …
//! methods_rule = "XH-13"                # … by this rule
//! unscored_outcome = "backfilled"       # such a check-in is still attendance
//!                                       #   (0 points; year-end counts see it, XH-15.1)
//! tiers = [{ within_minutes = 0, points = 5, outcome = "on_time", label = "…" }]
//! beyond = { outcome = "absent", label = "…" }
//! # or: points = 5 | points = "activity" | graded = { field = "points", max = 5, default = 1 }
//! #     | levels = { field = "level", values = { national = 6, … } }
//! late_registration = { working_days = 2, factor = 0.5, rule = "XH-6", label = "…" }
//! outcome = "makeup"            # tag for year-end counts
//! label = "网上补学"
//!
//! [checkin]                     # the fixed day's check-in window (checkin::judge)
//! rule = "XH-8.1"
//! until = "late"                #   "late": at most late_minutes after the start,
//! late_minutes = 15             #   as late; "day_end": any time of the day (TW-2).
//!                               #   Must agree with the check-in tiers, if any;
//!                               #   without it: the tiers' end, else the whole day.
//!
//! [workflow]                    # the members' side of the cycle (src/cycle/)
//! leave_lead_minutes = 60       #   leave asked at least this long before the start
//! absence = { rule = "EQ-3", without_leave = "absence_unexcused", with_leave = "absence_excused" }
//! inactive = { rule = "TW-5", months = 6, item = "veto" }   # proposed at month end
//!
//! [rewards]                     # 积分超市 (src/rewards/): a closed year's result of
//! rule = "TW-7"                 #   `index` from min_score up is credited; redeemed
//! index = "vanguard"            #   for at most yuan_per_point a point (omitted: no
//! min_score = 60                #   yuan cap). Without [rewards]: no rewards.
//! yuan_per_point = 5
//! [assessment]                  # a branch scorecard's reading (review::scorecard, JH)
//! rule = "JH-5"
//! ratings = { excellent = "优秀", pass = "达标", fail = "未达标", backward = "后进整转" }
//! passing = ["excellent", "pass"]   # ratings counted in the pass rate (达标率)
//! target_rule = "…"
//! targets = [{ from = 2018, share = 0.6 }, { from = 2020, share = 1 }]  # from that year on
//! due = { rule = "JH-7", month = 2 }  # results due by the end of this month, next year
//!
//! [[year_end]]                  # assessed only when Context::year_end
//! id = "XH-15.1"
//! index = "vanguard"
//! label = "…"
//! count = { rules = ["XH-8.1"], outcomes = ["on_time", "late"] }
//! below = 2
//! effect = "deduct"
//! points = 5
//!
//! [[group]]                     # compares subjects (evaluate_group)
//! id = "SD-6"
//! index = "vanguard"
//! label = "…"
//! quota = { stars = 5, min_score = 90, share = 0.2, scope = "org",
//!           rounding = "floor", ties = "exclude" }
//! # or [group.last_place] roles = […], any = [{ period = "quarter",
//! #    scope = "org", times = 4, consecutive = true }], unqualified = true,
//! #    rating = "…", flag = "…"
//! ```
//!
//! Decimals may be written as TOML integers, floats (read by their literal,
//! never rounded through binary) or strings. The item codes a policy accepts,
//! and the fields each reads, come from its rules: [`Policy::item`] and
//! [`ItemSpec::check`] validate a fact before it is recorded.
//!
//! ## Adding a preset
//!
//! Write `config/policies/<name>.toml` (start from the closest preset), add it
//! to [`PRESETS`] if it is to be built in, and prove each rule with a test
//! named after its ID in `src/policy/tests/<preset>.rs`, with the ID in a
//! comment (`// XH-8.1`). Any reading of an unclear rule goes in a `[[choice]]`.
//! An organization's customized copy is the same file under another name in
//! the policy directory; no code changes.
//!
//! # Calendars
//!
//! `config/calendars/<year>.toml` lists the year's public holidays and the
//! weekend days worked instead (`[[holiday]] name, from, to, workdays`), from
//! the State Council's notice. 2026 is built in; adding a year is adding a
//! file to the calendar directory ([`Calendars::load`]), no rebuild. A
//! working-day deadline in a year without a calendar counts weekends only,
//! flags the posting [`PostingFlag::CalendarMissing`] and returns a warning.

mod calendar;
mod decimal;
mod engine;
mod error;
mod facts;
mod group;
mod model;
mod presets;
mod spec;
mod workflow;
mod year;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use calendar::{Calendars, DayInfo, YearCalendar};
pub use decimal::{fmt_dec, parse_dec};
pub use engine::{
    Context, IndexResult, Posting, PostingFlag, Source, Status, SubjectEvaluation, evaluate_subject,
};
pub use error::LoadError;
pub use facts::{
    Activities, Activity, ActivityId, ActivityKind, Fact, FactId, FactKind, FieldValue, Fields,
    ItemCode, Method, Org, OrgId, Person, PersonId, Role, Subject, SubjectId, Timeline,
    UnknownName,
};
pub use group::{
    LastPlaceEvidence, PeriodPlace, RankingEvidence, evaluate_group, last_place_evidence,
    quota_seats,
};
pub use model::*;
pub use presets::{PRESETS, PolicySet, load_policy_file, parse_policy};
pub use workflow::{AbsenceProposal, Declarable, InactiveProposal, Workflow};
pub use year::{Carried, YearData, YearEvaluation, evaluate_year};

/// `(file name, text)` of every `*.toml` in `dir`, sorted by name; a missing
/// directory has none.
pub(crate) fn read_toml_dir(dir: &Path) -> Result<Vec<(String, String)>, LoadError> {
    let shown = dir.display().to_string();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(LoadError::file(&shown, e.to_string())),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| LoadError::file(&shown, e.to_string()))?;
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "toml") {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let file = p.display().to_string();
            std::fs::read_to_string(&p)
                .map(|text| (file.clone(), text))
                .map_err(|e| LoadError::file(&file, e.to_string()))
        })
        .collect()
}
