//! The branch scorecard (党支部标准化建设考评, JH-1 … JH-7): a committee opens a yearly
//! assessment (`service::open`), each branch fills its self-assessment (自评) with
//! evidence, the committee reviews each item (JH-6: the review score is the result),
//! records one-vote vetoes and the bottom line (JH-4; the platform proposes the members
//! with 15 or more points deducted from the ledger), draws a random audit sample
//! (`draw`: recorded seed, repeatable by anyone), and reads ratings and the pass rate
//! against the year's target (`rating`, JH-5, JH-7). The items, weights, ratings and
//! targets are the policy's (`model::sheet`): nothing of the document is retyped here.

pub mod draw;
pub mod export;
pub mod model;
pub mod rating;
pub mod routes;
pub mod service;
