//! Redis live store: shared by every instance in production.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::mpsc;

use super::{Claim, Claimed, LiveStore, StoreError, Subscription, Write};

/// Fail fast: callers degrade (the database is the last guard) rather than wait on Redis.
const TIMEOUT: Duration = Duration::from_millis(800);

/// Writes queued behind at most; past that they are dropped (and logged).
const WRITE_BEHIND_QUEUE: usize = 65_536;
/// Writes sent in one pipeline at most.
const WRITE_BEHIND_BATCH: usize = 1024;

pub struct RedisStore {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
    behind: mpsc::Sender<Write>,
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisStore {
    /// `prefix` namespaces every key and channel (tests use one per test).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(unavailable)?;
        let (behind, rx) = mpsc::channel(WRITE_BEHIND_QUEUE);
        tokio::spawn(write_behind_task(conn.clone(), prefix.to_owned(), rx));
        Ok(Self {
            client,
            conn,
            prefix: prefix.to_owned(),
            behind,
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, StoreError> {
        let mut conn = self.conn.clone();
        cmd.query_async(&mut conn).await.map_err(unavailable)
    }
}

/// Sends what queued meanwhile as one pipeline, until the store is dropped.
async fn write_behind_task(conn: ConnectionManager, prefix: String, mut rx: mpsc::Receiver<Write>) {
    let mut batch = Vec::with_capacity(WRITE_BEHIND_BATCH);
    while rx.recv_many(&mut batch, WRITE_BEHIND_BATCH).await > 0 {
        let mut pipe = redis::pipe();
        for w in batch.drain(..) {
            match w {
                Write::Set { key, value, ttl } => {
                    let cmd = pipe.cmd("SET").arg(format!("{prefix}{key}")).arg(value);
                    if let Some(ttl) = ttl {
                        cmd.arg("PX").arg(millis(ttl));
                    }
                    cmd.ignore();
                }
                Write::Publish { channel, message } => {
                    pipe.cmd("PUBLISH")
                        .arg(format!("{prefix}{channel}"))
                        .arg(message)
                        .ignore();
                }
            }
        }
        let mut conn = conn.clone();
        if let Err(e) = pipe.query_async::<()>(&mut conn).await {
            tracing::warn!(reason = "store_unavailable", error = %e, "live-store writes lost");
        }
    }
}

// Built once: a `Script` hashes its source when made.
static DELETE_IF_EQ: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0",
    )
});

static INCR_WITH_TTL: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 and v == tonumber(ARGV[1]) and redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return v",
    )
});

/// KEYS: guard, claim, reads…; ARGV: guard value, guard ttl (0: no guard), claim value,
/// claim ttl. Returns {0} on a guard mismatch, else {1, held or nil, reads…}.
static CLAIM: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
if ARGV[2] ~= '0' then
  local seen = redis.call('GET', KEYS[1])
  if not seen then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  elseif seen ~= ARGV[1] then
    return {0}
  end
end
local held = redis.call('GET', KEYS[2])
if not held then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
end
local out = {1, held}
for i = 3, #KEYS do
  out[i] = redis.call('GET', KEYS[i])
end
return out",
    )
});

fn bulk(v: redis::Value) -> Result<Option<Vec<u8>>, StoreError> {
    redis::from_redis_value(v).map_err(|e| StoreError::Unavailable(e.to_string()))
}

#[async_trait]
impl LiveStore for RedisStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.query(redis::cmd("GET").arg(self.key(key))).await
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(millis(ttl));
        }
        self.query::<()>(&cmd).await
    }

    async fn set_nx(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError> {
        let reply: Option<String> = self
            .query(
                redis::cmd("SET")
                    .arg(self.key(key))
                    .arg(value)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(ttl)),
            )
            .await?;
        Ok(reply.is_some())
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let n: i64 = self.query(redis::cmd("DEL").arg(self.key(key))).await?;
        Ok(n > 0)
    }

    async fn delete_if_eq(&self, key: &str, expected: &[u8]) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let n: i64 = DELETE_IF_EQ
            .key(self.key(key))
            .arg(expected)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(n > 0)
    }

    async fn incr(&self, key: &str, by: i64, ttl: Option<Duration>) -> Result<i64, StoreError> {
        let mut conn = self.conn.clone();
        INCR_WITH_TTL
            .key(self.key(key))
            .arg(by)
            .arg(ttl.map_or(0, millis))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let n: i64 = self
            .query(redis::cmd("PEXPIRE").arg(self.key(key)).arg(millis(ttl)))
            .await?;
        Ok(n > 0)
    }

    async fn ttl(&self, key: &str) -> Result<Option<Duration>, StoreError> {
        let ms: i64 = self.query(redis::cmd("PTTL").arg(self.key(key))).await?;
        Ok(u64::try_from(ms).ok().map(Duration::from_millis))
    }

    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), StoreError> {
        self.query::<i64>(redis::cmd("PUBLISH").arg(self.key(channel)).arg(message))
            .await
            .map(|_| ())
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError> {
        let mut pubsub = tokio::time::timeout(TIMEOUT, self.client.get_async_pubsub())
            .await
            .map_err(|_| StoreError::Unavailable("connect timed out".into()))?
            .map_err(unavailable)?;
        pubsub
            .subscribe(self.key(channel))
            .await
            .map_err(unavailable)?;
        Ok(pubsub
            .into_on_message()
            .map(|msg| msg.get_payload_bytes().to_vec())
            .boxed())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.query::<String>(&redis::cmd("PING")).await.map(|_| ())
    }

    async fn claim(&self, c: Claim<'_>) -> Result<Claimed, StoreError> {
        let mut call = CLAIM.prepare_invoke();
        match c.guard {
            Some((key, value, ttl)) => call.key(self.key(key)).arg(value).arg(millis(ttl)),
            None => call.key(self.key("-")).arg("").arg(0),
        };
        let (key, value, ttl) = c.claim;
        call.key(self.key(key)).arg(value).arg(millis(ttl));
        for k in c.reads {
            call.key(self.key(k));
        }
        let mut conn = self.conn.clone();
        let reply: Vec<redis::Value> = call.invoke_async(&mut conn).await.map_err(unavailable)?;
        let mut reply = reply.into_iter();
        match reply.next() {
            Some(redis::Value::Int(1)) => {}
            _ => return Ok(Claimed::GuardMismatch),
        }
        let held = bulk(reply.next().unwrap_or(redis::Value::Nil))?;
        let mut reads = Vec::with_capacity(c.reads.len());
        for _ in c.reads {
            reads.push(bulk(reply.next().unwrap_or(redis::Value::Nil))?);
        }
        Ok(Claimed::Done { held, reads })
    }

    fn write_behind(&self, w: Write) {
        if self.behind.try_send(w).is_err() {
            tracing::warn!(
                reason = "store_unavailable",
                "live-store write queue full: write lost"
            );
        }
    }
}
