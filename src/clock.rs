//! The one clock domain code reads. Production runs on the system time; tests move it
//! (`Clock::advance`, `Clock::set`) through the `AppState` they hold, so stories with
//! deadlines, windows and make-up days run without waiting. No request can reach it.
//!
//! The WeChat protocol (signature timestamps, replay windows, QR slots) keeps the system
//! time: those timestamps are WeChat's, not the domain's.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Milliseconds added to the system time (0 in production).
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves the clock forward (or back) by `by`; for tests.
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }

    /// Sets the clock to `at` (it keeps running from there); for tests.
    pub fn set(&self, at: DateTime<Utc>) {
        self.offset_ms
            .store((at - Utc::now()).num_milliseconds(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_and_set_move_now() {
        let c = Clock::system();
        let before = c.now();
        c.advance(Duration::days(8));
        assert!(c.now() - before >= Duration::days(8));
        let clone = c.clone();
        let at = DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
            .expect("date")
            .with_timezone(&Utc);
        clone.set(at);
        assert!(
            (c.now() - at).num_seconds().abs() < 5,
            "clones share the clock"
        );
    }
}
