//! sea-orm entities, one module per table. Rows only: rules live in the main crate.

pub mod account;
pub mod activity;
pub mod activity_invite;
pub mod audit_log;
pub mod auth_session;
pub mod case;
pub mod case_attachment;
pub mod case_message;
pub mod checkin_refusal;
pub mod checkin_session;
pub mod exemption;
pub mod fact;
pub mod fixed_day_rule;
pub mod ledger_entry;
pub mod makeup_attempt;
pub mod org_policy;
pub mod organization;
pub mod pending_scan;
pub mod person;
pub mod person_history;
pub mod projector_token;
pub mod study_material;
pub mod subject_score;
pub mod system_setting;
pub mod upload;
pub mod year_closing;
