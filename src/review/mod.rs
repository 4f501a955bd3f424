//! The review cycle around scores: publicity (公示) of a period's results, its window,
//! objections (cases of kind `objection`, `cases::objection`), the branch committee's
//! confirmation (核定) and the lock it puts on the period. Investigations (XH-19) are
//! cases too (`cases::investigation`).

pub mod publicity;
pub mod rankings;
pub mod results;
pub mod routes;
pub mod scorecard;
pub mod stars;
