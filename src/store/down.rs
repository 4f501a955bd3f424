//! A live store that is always unreachable: what the service must survive (tests and
//! drills use it; nothing in production picks it).

use std::time::Duration;

use async_trait::async_trait;

use super::{Claim, Claimed, LiveStore, StoreError, Subscription, Write};

/// Every call fails with `StoreError::Unavailable`.
pub struct DownStore;

#[async_trait]
impl LiveStore for DownStore {
    async fn get(&self, _: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn set(&self, _: &str, _: &[u8], _: Option<Duration>) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn set_nx(&self, _: &str, _: &[u8], _: Duration) -> Result<bool, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn delete(&self, _: &str) -> Result<bool, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn delete_if_eq(&self, _: &str, _: &[u8]) -> Result<bool, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn incr(&self, _: &str, _: i64, _: Option<Duration>) -> Result<i64, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn expire(&self, _: &str, _: Duration) -> Result<bool, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn ttl(&self, _: &str) -> Result<Option<Duration>, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn publish(&self, _: &str, _: &[u8]) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn subscribe(&self, _: &str) -> Result<Subscription, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn claim(&self, _: Claim<'_>) -> Result<Claimed, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    fn write_behind(&self, _: Write) {}
}
