//! The black-box suite: one binary, a fresh server and database per test.

mod audit;
mod auth;
mod checkin;
mod cli;
mod console;
mod disputes;
mod exports;
mod health;
mod helpers;
mod import;
mod ledger;
mod live;
mod logout;
mod makeup;
mod malformed;
mod metrics;
mod orgs;
mod pages;
mod people;
mod publicity;
mod rbac;
mod score;
mod security;
mod storm;
mod wire;
