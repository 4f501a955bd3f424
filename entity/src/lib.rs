//! sea-orm entities, one module per table. Rows only: rules live in the main crate.

pub mod account;
pub mod audit_log;
pub mod auth_session;
pub mod exemption;
pub mod organization;
pub mod person;
pub mod person_history;
pub mod system_setting;
