//! Scoring policies as data, and the pure engine that applies them.

mod calendar;
mod decimal;
mod engine;
mod error;
mod facts;
mod group;
mod model;
mod presets;
mod spec;
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
pub use group::evaluate_group;
pub use model::*;
pub use presets::{PRESETS, PolicySet, load_policy_file, parse_policy};
pub use year::{YearData, YearEvaluation, evaluate_year};

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
