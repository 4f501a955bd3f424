//! The live store: hot, short-lived state that can always be rebuilt or lost
//! (caches, retry keys, counters, locks, live-update fan-out).
//!
//! Two implementations pass one conformance suite (`conformance.rs`):
//! [`memory::MemoryStore`] (in-process, the embedded default) and
//! [`redis::RedisStore`] (production, shared by several instances).
//! Nothing durable lives here: the database is the source of truth.

pub mod down;
pub mod memory;
pub mod redis;

#[cfg(test)]
pub(crate) mod conformance;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::BoxStream;

/// The first step of a WeChat push, done atomically in one round trip
/// ([`LiveStore::claim`]): the replay guard, the event's in-flight claim and the reads
/// the handler would make next.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// `(key, value, ttl)`: set unless present; present with another value stops the
    /// claim ([`Claimed::GuardMismatch`]), nothing else done.
    pub guard: Option<(&'a str, &'a [u8], Duration)>,
    /// `(key, value, ttl)`: set unless present (`SET NX PX`).
    pub claim: (&'a str, &'a [u8], Duration),
    /// Read in the same trip (caches the handler reads next).
    pub reads: &'a [String],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// The guard key held another value: nothing was claimed or read.
    GuardMismatch,
    /// `held`: `None` when this call set the claim key, else the value already there;
    /// `reads`: the values of [`Claim::reads`], in order.
    Done {
        held: Option<Vec<u8>>,
        reads: Vec<Option<Vec<u8>>>,
    },
}

/// A write whose caller does not wait for it ([`LiveStore::write_behind`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Set {
        key: String,
        value: Vec<u8>,
        ttl: Option<Duration>,
    },
    Publish {
        channel: String,
        message: Vec<u8>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("live store unavailable: {0}")]
    Unavailable(String),
}

/// A stream of messages published on one channel.
pub type Subscription = BoxStream<'static, Vec<u8>>;

/// Shared handle used across the application.
pub type SharedStore = Arc<dyn LiveStore>;

#[async_trait]
pub trait LiveStore: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Set a value; `ttl: None` keeps it until deleted.
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), StoreError>;
    /// Set only if absent (Redis `SET NX PX`); true when this call set it.
    async fn set_nx(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError>;
    /// True when a key was removed.
    async fn delete(&self, key: &str) -> Result<bool, StoreError>;
    /// Delete only while the value is still `expected` (lock release, stale-token invalidation).
    async fn delete_if_eq(&self, key: &str, expected: &[u8]) -> Result<bool, StoreError>;
    /// Atomic increment; a key created by this call gets `ttl` (existing TTLs are kept).
    async fn incr(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64, StoreError>;
    /// Set a key's time to live; false when the key does not exist.
    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool, StoreError>;
    /// Remaining time to live; `None` when the key is missing or has no expiry.
    async fn ttl(&self, key: &str) -> Result<Option<Duration>, StoreError>;
    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), StoreError>;
    /// Messages published after this call returns.
    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError>;
    async fn ping(&self) -> Result<(), StoreError>;
    /// Guard, claim and reads in one atomic round trip (see [`Claim`]).
    async fn claim(&self, c: Claim<'_>) -> Result<Claimed, StoreError>;
    /// Queues a write and returns at once. Writes queued meanwhile by every caller go
    /// out together (one pipeline, one round trip), in the order queued; a write that
    /// fails or does not fit the queue is logged and lost, as a cache write may be.
    fn write_behind(&self, w: Write);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn memory_store_conforms() {
        conformance::run_all(&memory::MemoryStore::new()).await;
    }

    /// Runs when `VANGUARD_TEST_REDIS_URL` is set; an unreachable Redis then fails the run.
    #[tokio::test]
    async fn redis_store_conforms() {
        let Ok(url) = std::env::var("VANGUARD_TEST_REDIS_URL") else {
            return;
        };
        let prefix = format!("vg-test-{}:", uuid::Uuid::new_v4().simple());
        let store = redis::RedisStore::connect(&url, &prefix)
            .await
            .expect("VANGUARD_TEST_REDIS_URL is set but Redis is unreachable");
        conformance::run_all(&store).await;
    }
}
