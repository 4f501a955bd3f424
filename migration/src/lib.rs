//! Schema migrations, run at start-up (serialized across instances by the caller)
//! or alone with `vanguard migrate`.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_foundation;
mod m20261122_000002_activities_facts_ledger;
mod m20261122_000003_ledger_subject_index;
mod m20261204_000020_account_reset_and_refresh_previous;
mod m20261204_000030_cases_uploads;
mod m20261204_000031_projector_tokens;
mod m20261204_000040_fixed_day_rules;
mod m20261205_000100_member_cards;
mod m20261205_000120_study_material_retired;
mod m20261205_000130_leave_declarations_proposals;
mod m20261205_000140_publicity;
mod m20261205_000150_subject_scores_fillfactor;
mod m20261205_000160_notices;
mod m20261206_000200_scorecards;
mod m20261206_000210_rankings;
mod m20261206_000220_star_ratings;
mod m20261206_000230_rewards;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_foundation::Migration),
            Box::new(m20261122_000002_activities_facts_ledger::Migration),
            Box::new(m20261122_000003_ledger_subject_index::Migration),
            Box::new(m20261204_000020_account_reset_and_refresh_previous::Migration),
            Box::new(m20261204_000030_cases_uploads::Migration),
            Box::new(m20261204_000031_projector_tokens::Migration),
            Box::new(m20261204_000040_fixed_day_rules::Migration),
            Box::new(m20261205_000100_member_cards::Migration),
            Box::new(m20261205_000120_study_material_retired::Migration),
            Box::new(m20261205_000130_leave_declarations_proposals::Migration),
            Box::new(m20261205_000140_publicity::Migration),
            Box::new(m20261205_000150_subject_scores_fillfactor::Migration),
            Box::new(m20261205_000160_notices::Migration),
            Box::new(m20261206_000210_rankings::Migration),
            Box::new(m20261206_000220_star_ratings::Migration),
            Box::new(m20261206_000230_rewards::Migration),
            Box::new(m20261206_000200_scorecards::Migration),
        ]
    }
}
