//! Desktop pages for admins, security admins and auditors, one module per job:
//! [`orgs`] (tree, policy and its choices, fixed-day rule, settings), [`changes`]
//! (transfer, role, status, exemptions of a person), [`accounts`], [`rankings`]
//! (rankings by period, year close), [`activities`] (across the subtree, missing fixed
//! days), [`import`], [`cases`] (disputes) and [`audit`]. Auditors see every page
//! without its forms; their posts are refused by the same permission checks as the API.

pub mod accounts;
pub mod activities;
pub mod audit;
pub mod cases;
pub mod changes;
pub mod import;
pub mod orgs;
pub mod rankings;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    import::configure(cfg);
    cases::configure(cfg);
    audit::configure(cfg);
    activities::configure(cfg);
    orgs::configure(cfg);
    changes::configure(cfg);
    accounts::configure(cfg);
    rankings::configure(cfg);
}
