//! In-process live store: the embedded default for a single process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

use super::{Claim, Claimed, LiveStore, StoreError, Subscription, Write};

struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, Entry>>,
    channels: Mutex<HashMap<String, broadcast::Sender<Vec<u8>>>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with_entries<T>(&self, f: impl FnOnce(&mut HashMap<String, Entry>, Instant) -> T) -> T {
        let now = Instant::now();
        // A poisoned lock only means another thread panicked mid-update of a cache; keep going.
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 4096 && map.len().is_power_of_two() {
            map.retain(|_, e| e.live(now));
        }
        f(&mut map, now)
    }

    fn sender(&self, channel: &str) -> broadcast::Sender<Vec<u8>> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        channels
            .entry(channel.to_owned())
            .or_insert_with(|| broadcast::channel(1024).0)
            .clone()
    }
}

#[async_trait]
impl LiveStore for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.with_entries(|m, now| match m.get(key) {
            Some(e) if e.live(now) => Some(e.value.clone()),
            _ => None,
        }))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), StoreError> {
        self.with_entries(|m, now| {
            m.insert(
                key.to_owned(),
                Entry {
                    value: value.to_vec(),
                    expires: ttl.map(|t| now + t),
                },
            );
        });
        Ok(())
    }

    async fn set_nx(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError> {
        Ok(self.with_entries(|m, now| {
            if m.get(key).is_some_and(|e| e.live(now)) {
                return false;
            }
            m.insert(
                key.to_owned(),
                Entry {
                    value: value.to_vec(),
                    expires: Some(now + ttl),
                },
            );
            true
        }))
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.with_entries(|m, now| m.remove(key).is_some_and(|e| e.live(now))))
    }

    async fn delete_if_eq(&self, key: &str, expected: &[u8]) -> Result<bool, StoreError> {
        Ok(self.with_entries(|m, now| {
            if m.get(key)
                .is_some_and(|e| e.live(now) && e.value == expected)
            {
                m.remove(key);
                true
            } else {
                false
            }
        }))
    }

    async fn incr(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64, StoreError> {
        self.with_entries(|m, now| {
            let current = match m.get(key) {
                Some(e) if e.live(now) => Some(e),
                _ => None,
            };
            let (old, expires) = match current {
                Some(e) => {
                    let text = std::str::from_utf8(&e.value)
                        .map_err(|_| StoreError::Unavailable("value is not an integer".into()))?;
                    let n: i64 = text
                        .parse()
                        .map_err(|_| StoreError::Unavailable("value is not an integer".into()))?;
                    (n, e.expires)
                }
                None => (0, ttl.map(|t| now + t)),
            };
            let new = old
                .checked_add(by)
                .ok_or_else(|| StoreError::Unavailable("increment overflow".into()))?;
            m.insert(
                key.to_owned(),
                Entry {
                    value: new.to_string().into_bytes(),
                    expires,
                },
            );
            Ok(new)
        })
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        Ok(self.with_entries(|m, now| match m.get_mut(key) {
            Some(e) if e.live(now) => {
                e.expires = Some(now + ttl);
                true
            }
            _ => false,
        }))
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>, StoreError> {
        Ok(self.with_entries(|m, now| match m.get(key) {
            Some(e) if e.live(now) => e.expires.map(|at| at.saturating_duration_since(now)),
            _ => None,
        }))
    }

    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), StoreError> {
        // No subscriber is not an error, as in Redis.
        let _ = self.sender(channel).send(message.to_vec());
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError> {
        let rx = self.sender(channel).subscribe();
        // A lagging subscriber skips what it missed; live views re-read the database anyway.
        Ok(BroadcastStream::new(rx)
            .filter_map(|m| async move { m.ok() })
            .boxed())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn claim(&self, c: Claim<'_>) -> Result<Claimed, StoreError> {
        Ok(self.with_entries(|m, now| {
            let mut set_nx = |key: &str, value: &[u8], ttl: Duration| match m.get(key) {
                Some(e) if e.live(now) => Some(e.value.clone()),
                _ => {
                    m.insert(
                        key.to_owned(),
                        Entry {
                            value: value.to_vec(),
                            expires: Some(now + ttl),
                        },
                    );
                    None
                }
            };
            if let Some((key, value, ttl)) = c.guard
                && set_nx(key, value, ttl).is_some_and(|seen| seen != value)
            {
                return Claimed::GuardMismatch;
            }
            let (key, value, ttl) = c.claim;
            let held = set_nx(key, value, ttl);
            let reads = c
                .reads
                .iter()
                .map(|k| match m.get(k.as_str()) {
                    Some(e) if e.live(now) => Some(e.value.clone()),
                    _ => None,
                })
                .collect();
            Claimed::Done { held, reads }
        }))
    }

    /// In process there is no round trip to save: applied at once.
    fn write_behind(&self, w: Write) {
        match w {
            Write::Set { key, value, ttl } => self.with_entries(|m, now| {
                m.insert(
                    key,
                    Entry {
                        value,
                        expires: ttl.map(|t| now + t),
                    },
                );
            }),
            Write::Publish { channel, message } => {
                let _ = self.sender(&channel).send(message);
            }
        }
    }
}
