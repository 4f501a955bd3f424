//! Periodic jobs: one loop for every timer of the service (the pending-scan sweep, the
//! fixed-day reminders, the month-end proposals). The first round runs one period after
//! start, missed ticks are delayed (never bunched), a failed round is logged and the
//! next one tries again, and shutdown ends the loop. Jobs that must run on one instance
//! only take their own lock in the live store.

use std::future::Future;
use std::time::Duration;

use crate::error::AppResult;
use crate::state::AppState;

pub fn every<F, Fut, T>(state: AppState, job: &'static str, period: Duration, round: F)
where
    F: Fn(AppState) -> Fut + Send + 'static,
    Fut: Future<Output = AppResult<T>> + Send,
    T: Send,
{
    tokio::spawn(async move {
        let mut shutdown = state.shutdown.clone();
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = round(state.clone()).await {
                        tracing::warn!(job, error = %e.detail, "periodic job failed");
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    });
}

/// Starts every periodic job of a serving instance.
pub fn start(state: &AppState) {
    every(
        state.clone(),
        "pending_sweep",
        crate::checkin::members::SWEEP_EVERY,
        |s| async move { crate::checkin::members::sweep_pending(&s).await },
    );
    every(
        state.clone(),
        "reminders",
        crate::notify::reminders::EVERY,
        |s| async move { crate::notify::reminders::run_once(&s).await },
    );
    every(
        state.clone(),
        "month_end_proposals",
        crate::cycle::proposals::MONTH_END_EVERY,
        |s| async move { crate::cycle::proposals::run_month_end(&s).await },
    );
}
