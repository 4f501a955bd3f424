//! Live attendance: a fan-out channel per session in the live store, read by the
//! projector and the secretary's phone over server-sent events. The database stays the
//! truth: counts are re-read from it every few seconds, so a live-store outage only
//! delays them.
//!
//! One **feed** per session per instance ([`Hub`]) does the work for every viewer: one
//! live-store subscription and one attendance computation per tick, fanned out in
//! process. It stops at the first tick with no viewer. Each viewer re-checks its
//! authorization every `checkin.live_recheck_seconds` (logout, disabled account, lost
//! scope, closed session end the stream), and an account has at most
//! `checkin.live_streams_per_account` streams open on an instance.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{HttpResponse, web};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use super::sessions::CachedSession;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::state::AppState;
use crate::store::Subscription;

fn channel(session: i64) -> String {
    format!("live:session:{session}")
}

#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    class: &'a str,
    /// Masked, as on any public display.
    name: String,
    person_id: i64,
}

/// Announces a counted scan; failures only delay the live view.
pub async fn counted(
    state: &AppState,
    s: &CachedSession,
    person: &entity::person::Model,
    class: &str,
) {
    let event = Event {
        kind: "checkin",
        class,
        name: crate::org::mask_name(&person.name),
        person_id: person.id,
    };
    // Written behind: published with the other scans' updates and replies in one trip.
    if let Ok(message) = serde_json::to_vec(&event) {
        state.live.write_behind(crate::store::Write::Publish {
            channel: channel(s.id),
            message,
        });
    }
}

/// The last arrivals as the projector shows them: masked names, class, time.
async fn recent_json(state: &AppState, activity: i64) -> String {
    let items = match super::attendance::activity(&state.db, activity).await {
        Ok(a) => super::attendance::recent(state, &a, 10)
            .await
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let list: Vec<serde_json::Value> = items
        .iter()
        .map(|i| {
            serde_json::json!({
                "name": crate::org::mask_name(&i.name),
                "class": i.status,
                "at": i.at,
            })
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}

/// The running feeds and open streams of this instance.
#[derive(Clone, Default)]
pub struct Hub {
    inner: Arc<HubInner>,
}

#[derive(Default)]
struct HubInner {
    feeds: Mutex<HashMap<i64, Feed>>,
    streams: Mutex<HashMap<i64, usize>>,
    next_id: AtomicU64,
    computations: AtomicU64,
}

#[derive(Clone)]
struct Feed {
    id: u64,
    counts: watch::Receiver<Option<web::Bytes>>,
    events: broadcast::Sender<web::Bytes>,
}

/// One open stream of an account; frees its place when the stream is dropped.
struct Slot {
    hub: Hub,
    account: i64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut streams = lock(&self.hub.inner.streams);
        if let Some(n) = streams.get_mut(&self.account) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                streams.remove(&self.account);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these maps leaves them consistent: keep going.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Hub {
    /// Attendance computations run by the feeds so far (all sessions).
    pub fn computations(&self) -> u64 {
        self.inner.computations.load(Ordering::Relaxed)
    }

    /// Feeds running now.
    pub fn feeds(&self) -> usize {
        lock(&self.inner.feeds).len()
    }

    fn take_slot(&self, account: i64, max: usize) -> AppResult<Slot> {
        let mut streams = lock(&self.inner.streams);
        let n = streams.entry(account).or_insert(0);
        if *n >= max {
            return Err(AppError::new(
                ErrorCode::RateLimited,
                format!("同一账号最多同时打开 {max} 个实时签到画面，请先关闭其他画面再试"),
            ));
        }
        *n += 1;
        Ok(Slot {
            hub: self.clone(),
            account,
        })
    }

    /// The session's feed (started if none runs), subscribed under the lock so the feed
    /// cannot stop between the look-up and the subscription.
    fn join(
        &self,
        state: &AppState,
        session: i64,
        activity: i64,
    ) -> (
        watch::Receiver<Option<web::Bytes>>,
        broadcast::Receiver<web::Bytes>,
    ) {
        let mut feeds = lock(&self.inner.feeds);
        if let Some(f) = feeds.get(&session) {
            return (f.counts.clone(), f.events.subscribe());
        }
        let (counts_tx, counts) = watch::channel(None);
        let (events, rx) = broadcast::channel(256);
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        feeds.insert(
            session,
            Feed {
                id,
                counts: counts.clone(),
                events: events.clone(),
            },
        );
        tokio::spawn(run_feed(
            self.clone(),
            state.clone(),
            FeedJob {
                id,
                session,
                activity,
                counts: counts_tx,
                events,
            },
        ));
        (counts, rx)
    }

    /// Removes the feed when nobody listens; true when it should stop.
    fn release_if_idle(&self, session: i64, id: u64) -> bool {
        let mut feeds = lock(&self.inner.feeds);
        match feeds.get(&session) {
            Some(f) if f.id == id => {
                if f.events.receiver_count() == 0 {
                    feeds.remove(&session);
                    true
                } else {
                    false
                }
            }
            // Replaced or gone: this feed is no longer the session's.
            _ => true,
        }
    }
}

struct FeedJob {
    id: u64,
    session: i64,
    activity: i64,
    counts: watch::Sender<Option<web::Bytes>>,
    events: broadcast::Sender<web::Bytes>,
}

async fn next_message(sub: &mut Option<Subscription>) -> Option<Vec<u8>> {
    match sub {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// The shared work of one session: counts every `live_counts_seconds`, scans as they come.
async fn run_feed(hub: Hub, state: AppState, job: FeedJob) {
    let period = Duration::from_secs(state.settings.checkin.live_counts_seconds.max(1));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sub: Option<Subscription> = None;
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if hub.release_if_idle(job.session, job.id) {
                    return;
                }
                if sub.is_none() {
                    sub = match state.live.subscribe(&channel(job.session)).await {
                        Ok(s) => Some(s),
                        Err(e) => {
                            tracing::warn!(error = %e, session = job.session, "live store unavailable: counts only");
                            None
                        }
                    };
                }
                hub.inner.computations.fetch_add(1, Ordering::Relaxed);
                let counts = super::attendance::counts(&state, job.activity).await.ok();
                let data = serde_json::to_string(&counts).unwrap_or_else(|_| "null".to_owned());
                job.counts.send_replace(Some(web::Bytes::from(format!("event: counts\ndata: {data}\n\n"))));
            }
            msg = next_message(&mut sub) => match msg {
                Some(m) => {
                    let text = String::from_utf8_lossy(&m);
                    let _ = job.events.send(web::Bytes::from(format!("event: checkin\ndata: {text}\n\n")));
                }
                // The subscription ended (store restarted): subscribe again at the next tick.
                None => sub = None,
            },
            _ = stopped(&mut shutdown) => return,
        }
    }
}

/// Resolves once the server starts shutting down (the watch guard is not held across awaits).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|down| *down).await;
}

enum Next {
    Send(web::Bytes),
    Skip,
    End,
    Recheck,
}

/// Whether the viewer may still watch; checked every `live_recheck_seconds`.
pub type Authorize = Arc<dyn Fn() -> BoxFuture<'static, bool> + Send + Sync>;

struct Viewer {
    /// Taken by the first poll: a projector opened (or reloaded) late lists who arrived.
    opening: Option<(AppState, i64)>,
    first: bool,
    counts: watch::Receiver<Option<web::Bytes>>,
    events: broadcast::Receiver<web::Bytes>,
    recheck: tokio::time::Interval,
    authorize: Authorize,
    shutdown: watch::Receiver<bool>,
    _slot: Slot,
}

/// `text/event-stream` for `account`: a `counts` event at once and as the feed recounts,
/// a `checkin` event per scan; ends when `authorize` says no, or on shutdown.
pub fn stream(
    state: &AppState,
    account: i64,
    session: i64,
    activity: i64,
    authorize: Authorize,
) -> AppResult<HttpResponse> {
    let cfg = &state.settings.checkin;
    let slot = state
        .live_streams
        .take_slot(account, cfg.live_streams_per_account)?;
    let (counts, events) = state.live_streams.join(state, session, activity);
    let period = Duration::from_secs(cfg.live_recheck_seconds.max(1));
    let viewer = Viewer {
        opening: Some((state.clone(), activity)),
        first: true,
        counts,
        events,
        recheck: tokio::time::interval_at(tokio::time::Instant::now() + period, period),
        authorize,
        shutdown: state.shutdown.clone(),
        _slot: slot,
    };
    let body = futures_util::stream::unfold(viewer, |mut v| async move {
        if let Some((st, activity)) = v.opening.take() {
            let recent = format!(
                "event: recent\ndata: {}\n\n",
                recent_json(&st, activity).await
            );
            return Some((Ok::<_, actix_web::Error>(web::Bytes::from(recent)), v));
        }
        if v.first {
            v.first = false;
            let ready = v.counts.borrow_and_update().clone();
            if let Some(b) = ready {
                return Some((Ok::<_, actix_web::Error>(b), v));
            }
        }
        loop {
            let next = tokio::select! {
                changed = v.counts.changed() => match changed {
                    Ok(()) => v.counts.borrow_and_update().clone().map_or(Next::Skip, Next::Send),
                    Err(_) => Next::End,
                },
                msg = v.events.recv() => match msg {
                    Ok(b) => Next::Send(b),
                    // A slow viewer misses some arrivals; the next counts catch it up.
                    Err(broadcast::error::RecvError::Lagged(_)) => Next::Skip,
                    Err(broadcast::error::RecvError::Closed) => Next::End,
                },
                _ = v.recheck.tick() => Next::Recheck,
                _ = stopped(&mut v.shutdown) => Next::End,
            };
            match next {
                Next::Send(b) => return Some((Ok(b), v)),
                Next::Skip => {}
                Next::End => return None,
                Next::Recheck => {
                    if !(v.authorize)().await {
                        return None;
                    }
                    // A comment line: keeps proxies from timing the stream out, and a
                    // viewer who left is noticed (the write fails) and frees its place.
                    return Some((Ok(web::Bytes::from_static(b": ok\n\n")), v));
                }
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
