//! What every handler and service can reach. Cheap to clone (everything inside is shared).

use std::sync::Arc;

use ipnet::IpNet;

use crate::auth::password::PasswordHasher;
use crate::auth::token::TokenKeys;
use crate::config::Settings;
use crate::db::Db;
use crate::http::metrics::Metrics;
use crate::ledger::SharedScoring;
use crate::store::SharedStore;
use crate::wechat::{ApiClient, ResolvedSettings};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub live: SharedStore,
    pub settings: Arc<Settings>,
    pub tokens: TokenKeys,
    pub passwords: PasswordHasher,
    pub metrics: Arc<Metrics>,
    /// Policies and calendars (built in, plus files under `policy.dir`).
    pub scoring: SharedScoring,
    pub trusted_proxies: Arc<Vec<IpNet>>,
    /// Base URL for links handed out (binding page, projector, simulator).
    pub public_url: String,
    /// WeChat settings in force (sandbox when no app_id is configured).
    pub wechat: Arc<ResolvedSettings>,
    /// The WeChat API client (the local mock in the sandbox).
    pub wechat_client: ApiClient,
    /// Flips to true when the server starts shutting down: long-lived streams end then,
    /// so graceful shutdown is not held up by open projectors.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    pub shutdown_tx: Arc<tokio::sync::watch::Sender<bool>>,
    /// Group commits for scans (`checkin::writer`).
    pub checkins: crate::checkin::writer::CheckinWriter,
    /// Attendance snapshots for paging (`checkin::attendance`).
    pub sheets: crate::checkin::attendance::SheetCache,
    /// The domain's clock (`clock::Clock`): the system time, moved only by tests.
    pub clock: crate::clock::Clock,
}
