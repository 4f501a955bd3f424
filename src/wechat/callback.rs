//! `/wechat/callback`: server verification (GET) and message pushes (POST).
//!
//! The pure half ([`open_push`], [`render_reply`]) checks the query and body and
//! builds replies; [`WechatGateway`] adds what needs the live store: the nonce
//! replay check, de-duplication of WeChat's resends across instances, and the
//! 5-second deadline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha1::{Digest, Sha1};
use tokio::sync::{oneshot, watch};

use super::client::ApiClient;
use super::crypto::{CryptoError, KeySlot};
use super::settings::ResolvedSettings;
use super::signature;
use super::types::{OpenId, SceneStr};
use super::xml::{self, Envelope, InboundMessage, MessageKind, XmlError};
use crate::store::{Claim, Claimed, SharedStore, Write};

/// Largest POST body accepted on the callback (→ 413 above it).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Shown when the handler failed: the member should simply scan again.
const BUSY_TEXT: &str = "系统繁忙，请稍后再试。";

/// A push as the check-in domain sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundEvent {
    pub message: InboundMessage,
    /// When this instance received the first copy of the push.
    pub received_at: DateTime<Utc>,
}

impl InboundEvent {
    pub fn openid(&self) -> &OpenId {
        &self.message.from_user
    }
    pub fn kind(&self) -> &MessageKind {
        &self.message.kind
    }
    /// The QR scene of a `SCAN` or a `subscribe` from a parametric QR code.
    pub fn scene(&self) -> Option<&SceneStr> {
        match &self.message.kind {
            MessageKind::Scan { scene, .. } => Some(scene),
            MessageKind::Subscribe { scene, .. } => scene.as_ref(),
            _ => None,
        }
    }
    /// WeChat's event time (`CreateTime`), unix seconds.
    pub fn create_time(&self) -> i64 {
        self.message.create_time
    }
    pub fn msg_id(&self) -> Option<u64> {
        self.message.msg_id
    }
    /// Stable identity across resends (see [`InboundMessage::dedup_key`]).
    pub fn dedup_key(&self) -> String {
        self.message.dedup_key()
    }
}

/// What the check-in domain implements to answer pushes.
///
/// Contract:
/// - Called for `SCAN`, `subscribe`, `unsubscribe`, text and
///   `TEMPLATESENDJOBFINISH`; other kinds are answered `success` without a call.
/// - Return the reply text (zh-CN, plain text, newlines allowed) or `None` for
///   no reply (`success`).
/// - **Must be idempotent per [`InboundEvent::dedup_key`]** (e.g. a database
///   unique key): the gateway normally calls it once per event, across instances,
///   but when the live store is down de-duplication falls back to the handler.
///   A second call for the same event should return the same reply.
/// - Should finish well under 4 s. If it does not, WeChat gets `success` and
///   the reply text, once ready, goes out as a customer-service message.
/// - An `Err` is logged; the member gets a short "busy" reply and the event is
///   not cached, so a rescan runs the handler again.
#[async_trait]
pub trait MessageHandler: Send + Sync + 'static {
    async fn handle(&self, event: &InboundEvent) -> anyhow::Result<Option<String>>;

    /// Live-store keys the handling of `event` reads first: the gateway reads them in
    /// the round trip that claims the event and hands them to [`Self::handle_prefetched`].
    fn prefetch(&self, _event: &InboundEvent) -> Vec<String> {
        Vec::new()
    }

    /// [`Self::handle`] given the values of [`Self::prefetch`]'s keys, in order (`None`
    /// when they could not be read: the store is down).
    async fn handle_prefetched(
        &self,
        event: &InboundEvent,
        _prefetched: Option<Vec<Option<Vec<u8>>>>,
    ) -> anyhow::Result<Option<String>> {
        self.handle(event).await
    }
}

/// Why a callback request was refused. Each has a stable code for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("body too large")]
    PayloadTooLarge,
    #[error("bad query string")]
    BadQuery,
    #[error("missing query parameter {0}")]
    MissingParam(&'static str),
    #[error("timestamp is not a number")]
    BadTimestamp,
    #[error("timestamp outside the replay window")]
    StaleTimestamp,
    #[error("signature mismatch")]
    BadSignature,
    #[error("msg_signature mismatch")]
    BadMsgSignature,
    #[error("nonce reused with a different body")]
    Replay,
    #[error("unsupported encrypt_type")]
    UnsupportedEncryptType,
    #[error("encrypted push but wechat.message_mode is plaintext")]
    NoAesKey,
    #[error("plaintext push but wechat.message_mode is safe")]
    PlaintextRefused,
    #[error("openid parameter does not match FromUserName")]
    OpenIdMismatch,
    #[error("xml: {0}")]
    Xml(#[from] XmlError),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
}

impl Rejection {
    pub fn code(self) -> &'static str {
        match self {
            Self::PayloadTooLarge => "payload_too_large",
            Self::BadQuery => "bad_query",
            Self::MissingParam(_) => "missing_param",
            Self::BadTimestamp => "bad_timestamp",
            Self::StaleTimestamp => "stale_timestamp",
            Self::BadSignature => "bad_signature",
            Self::BadMsgSignature => "bad_msg_signature",
            Self::Replay => "replayed_nonce",
            Self::UnsupportedEncryptType => "unsupported_encrypt_type",
            Self::NoAesKey => "no_aes_key",
            Self::PlaintextRefused => "plaintext_refused",
            Self::OpenIdMismatch => "openid_mismatch",
            Self::Xml(e) => e.code(),
            Self::Crypto(e) => e.code(),
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadSignature | Self::BadMsgSignature => StatusCode::UNAUTHORIZED,
            Self::StaleTimestamp | Self::Replay | Self::PlaintextRefused => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// The query string WeChat puts on callback requests.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CallbackQuery {
    pub signature: Option<String>,
    pub timestamp: Option<String>,
    pub nonce: Option<String>,
    pub echostr: Option<String>,
    pub openid: Option<String>,
    pub encrypt_type: Option<String>,
    pub msg_signature: Option<String>,
}

impl CallbackQuery {
    pub fn parse(query_string: &str) -> Result<Self, Rejection> {
        serde_urlencoded::from_str(query_string).map_err(|_| Rejection::BadQuery)
    }
}

/// How a push arrived, and so how its reply must go back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plain,
    /// Safe or compatible mode, opened with this key (the reply is sealed with it).
    Encrypted(KeySlot),
}

/// A push that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedPush {
    pub message: InboundMessage,
    pub mode: Mode,
    pub timestamp: i64,
    pub nonce: String,
}

fn required<'a>(v: &'a Option<String>, name: &'static str) -> Result<&'a str, Rejection> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .ok_or(Rejection::MissingParam(name))
}

/// Check `signature` and the timestamp window; returns (timestamp, nonce).
fn check_signature(
    cfg: &ResolvedSettings,
    q: &CallbackQuery,
    now: i64,
    check_window: bool,
) -> Result<(i64, String), Rejection> {
    let sig = required(&q.signature, "signature")?;
    let ts_raw = required(&q.timestamp, "timestamp")?;
    let nonce = required(&q.nonce, "nonce")?;
    let ts: i64 = ts_raw.parse().map_err(|_| Rejection::BadTimestamp)?;
    if check_window {
        let window = i64::try_from(cfg.replay_window.as_secs()).unwrap_or(i64::MAX);
        if now.abs_diff(ts) > window.unsigned_abs() {
            return Err(Rejection::StaleTimestamp);
        }
    }
    if !signature::verify(sig, &[cfg.token.expose_secret(), ts_raw, nonce]) {
        return Err(Rejection::BadSignature);
    }
    Ok((ts, nonce.to_owned()))
}

/// GET verification: the `echostr` to send back verbatim.
pub fn verify_echo(cfg: &ResolvedSettings, q: &CallbackQuery) -> Result<String, Rejection> {
    check_signature(cfg, q, 0, false)?;
    Ok(required(&q.echostr, "echostr")?.to_owned())
}

/// Verify, decrypt and parse a push. Pure: no store, no clock (`now` is passed in).
pub fn open_push(
    cfg: &ResolvedSettings,
    q: &CallbackQuery,
    body: &[u8],
    now: i64,
) -> Result<OpenedPush, Rejection> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Rejection::PayloadTooLarge);
    }
    let (timestamp, nonce) = check_signature(cfg, q, now, true)?;
    let (message, mode) = match q.encrypt_type.as_deref() {
        // Refused before the body is read: in safe mode only msg_signature binds a body.
        None | Some("") | Some("raw") if !cfg.message_mode.takes_plaintext() => {
            return Err(Rejection::PlaintextRefused);
        }
        None | Some("") | Some("raw") => (InboundMessage::parse(body)?, Mode::Plain),
        Some("aes") => {
            // `keys` is set exactly when the mode takes encrypted pushes.
            let keys = cfg.keys.as_ref().ok_or(Rejection::NoAesKey)?;
            let msg_sig = required(&q.msg_signature, "msg_signature")?;
            let envelope = Envelope::parse(body)?;
            let ts_raw = q.timestamp.as_deref().unwrap_or_default();
            if !signature::verify(
                msg_sig,
                &[cfg.token.expose_secret(), ts_raw, &nonce, &envelope.encrypt],
            ) {
                return Err(Rejection::BadMsgSignature);
            }
            let (plain, slot) = keys.decrypt(&envelope.encrypt, &cfg.app_id)?;
            (InboundMessage::parse(&plain)?, Mode::Encrypted(slot))
        }
        Some(_) => return Err(Rejection::UnsupportedEncryptType),
    };
    if let Some(openid) = q.openid.as_deref().filter(|s| !s.is_empty())
        && openid != message.from_user.as_str()
    {
        return Err(Rejection::OpenIdMismatch);
    }
    Ok(OpenedPush {
        message,
        mode,
        timestamp,
        nonce,
    })
}

/// The HTTP body answering `push`: `success`, a text reply, or its encrypted envelope.
pub fn render_reply(
    cfg: &ResolvedSettings,
    push: &OpenedPush,
    text: Option<&str>,
    now: i64,
) -> String {
    let Some(text) = text else {
        return "success".to_owned();
    };
    let m = &push.message;
    let plain = xml::text_reply(m.from_user.as_str(), &m.to_user, now, text);
    match (push.mode, cfg.keys.as_ref()) {
        (Mode::Encrypted(slot), Some(keys)) => {
            let encrypt = keys.key(slot).encrypt(plain.as_bytes(), &cfg.app_id);
            // Fresh nonce: never reuse the request's randomness (reference §A.5).
            let nonce = rand::random::<u32>().to_string();
            let ts = now.to_string();
            let sig = signature::sign(&[cfg.token.expose_secret(), &ts, &nonce, &encrypt]);
            xml::encrypted_envelope(&encrypt, &sig, now, &nonce)
        }
        _ => plain,
    }
}

/// Timings of the deadline and de-duplication; tests shorten them.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// How long the handler may run before WeChat gets `success` (WeChat waits 5 s).
    pub handler_deadline: Duration,
    /// How long a resend waits for the first copy's reply.
    pub inflight_wait: Duration,
    /// Lifetime of the in-flight marker. Its owner replaces it with the reply by the
    /// handler's deadline at the latest, so it outlives that only when the owner's
    /// instance died: then a resend takes the event over once it lapses (the handler
    /// is idempotent per event), instead of WeChat's retries all finding it taken.
    pub inflight_ttl: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            handler_deadline: Duration::from_millis(4000),
            inflight_wait: Duration::from_millis(4200),
            inflight_ttl: Duration::from_millis(6000),
        }
    }
}

/// The callback service: settings, live store, API client and the domain's handler.
pub struct WechatGateway {
    settings: Arc<ResolvedSettings>,
    store: SharedStore,
    handler: Arc<dyn MessageHandler>,
    client: ApiClient,
    timing: Timing,
    local: Local,
}

/// How an event owned by this instance ended: its reply, or `None` when it failed
/// (its marker withdrawn, so a resend takes it over).
type Finished = Option<Option<String>>;

/// This instance's claim on a running event; its drop unregisters it.
struct Running<'a> {
    local: &'a Local,
    key: String,
    tx: watch::Sender<Option<Finished>>,
}

impl Running<'_> {
    fn finish(&self, result: Finished) {
        self.tx.send_replace(Some(result));
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut running = self.local.lock();
        if running
            .get(&self.key)
            .is_some_and(|rx| rx.same_channel(&self.tx.subscribe()))
        {
            running.remove(&self.key);
        }
    }
}

/// The events this instance is running: a resend that lands here waits for the owner
/// in process, woken the moment the reply exists, instead of polling the live store.
#[derive(Default)]
struct Local {
    running: Mutex<HashMap<String, watch::Receiver<Option<Finished>>>>,
}

impl Local {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, watch::Receiver<Option<Finished>>>> {
        // The map stays consistent if a holder panicked: keep going.
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers this instance as the event's owner until the guard is dropped (also
    /// when the request is abandoned midway: waiters then fall back to the store).
    fn start<'a>(&'a self, key: &str) -> Running<'a> {
        let (tx, rx) = watch::channel(None);
        self.lock().insert(key.to_owned(), rx);
        Running {
            local: self,
            key: key.to_owned(),
            tx,
        }
    }

    fn find(&self, key: &str) -> Option<watch::Receiver<Option<Finished>>> {
        self.lock().get(key).cloned()
    }
}

/// A plaintext push's replay guard: the (timestamp, nonce) key, the body's digest.
struct Guard {
    key: String,
    digest: String,
    ttl: Duration,
}

/// What a resend found while it waited on the first copy.
enum Waited {
    Reply(Option<String>),
    StillInFlight,
    /// The marker lapsed or was withdrawn (the first copy failed or its instance died).
    Vanished,
}

enum Outcome {
    Reply(Option<String>),
    Failed,
    TimedOut,
}

const REPLY_NONE: &[u8] = b"-";

fn encode_reply(r: &Option<String>) -> Vec<u8> {
    match r {
        None => REPLY_NONE.to_vec(),
        Some(t) => {
            let mut v = Vec::with_capacity(t.len() + 1);
            v.push(b'T');
            v.extend_from_slice(t.as_bytes());
            v
        }
    }
}

fn decode_reply(v: &[u8]) -> Option<String> {
    match v.split_first() {
        Some((b'T', rest)) => Some(String::from_utf8_lossy(rest).into_owned()),
        _ => None,
    }
}

impl WechatGateway {
    /// `client` is usually `ApiClient::new(settings.clone(), store.clone())`.
    pub fn new(
        settings: Arc<ResolvedSettings>,
        store: SharedStore,
        handler: Arc<dyn MessageHandler>,
        client: ApiClient,
    ) -> Self {
        Self {
            settings,
            store,
            handler,
            client,
            timing: Timing::default(),
            local: Local::default(),
        }
    }

    pub fn with_timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    pub fn settings(&self) -> &Arc<ResolvedSettings> {
        &self.settings
    }

    pub fn client(&self) -> &ApiClient {
        &self.client
    }

    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// Handle one POST: all checks, replay and resend handling, the handler, the reply body.
    pub async fn handle_push(
        &self,
        q: &CallbackQuery,
        body: &[u8],
        received_at: DateTime<Utc>,
    ) -> Result<String, Rejection> {
        let now = received_at.timestamp();
        let push = open_push(&self.settings, q, body, now)?;
        let guard = self.nonce_guard(&push, body, now);
        let reply = match push.message.kind {
            MessageKind::Other { .. } => {
                self.check_nonce(guard).await?;
                None
            }
            _ => {
                let event = InboundEvent {
                    message: push.message.clone(),
                    received_at,
                };
                self.dispatch(event, guard).await?
            }
        };
        Ok(render_reply(
            &self.settings,
            &push,
            reply.as_deref(),
            Utc::now().timestamp(),
        ))
    }

    /// The replay guard of a push: a (timestamp, nonce) already seen with a different
    /// body is refused (checked in [`Self::dispatch`]'s claim). Keyed by the
    /// pair, not the nonce alone: at thousands of pushes a second WeChat's 9–10
    /// digit nonces do collide within a 5-minute window, timestamps make that moot,
    /// and an attacker cannot change the timestamp without the token.
    ///
    /// Only plaintext pushes need it: in the encrypted modes `msg_signature` covers the
    /// ciphertext the message is read from, so another body cannot pass with a reused
    /// pair, while two genuine pushes that happen to share one (busy seconds make that
    /// likely enough) must both be taken: `None` there.
    fn nonce_guard(&self, push: &OpenedPush, body: &[u8], now: i64) -> Option<Guard> {
        if matches!(push.mode, Mode::Encrypted(_)) {
            return None;
        }
        let key = format!(
            "wx:nonce:{}",
            hex::encode(Sha1::digest(format!("{}|{}", push.timestamp, push.nonce)))
        );
        let digest = hex::encode(Sha1::digest(body));
        // Remember it exactly as long as its timestamp stays acceptable (≤ 2 windows).
        let window = i64::try_from(self.settings.replay_window.as_secs()).unwrap_or(i64::MAX);
        let left = push
            .timestamp
            .saturating_add(window)
            .saturating_sub(now)
            .max(0);
        let ttl = Duration::from_secs(left.unsigned_abs() + 1);
        Some(Guard { key, digest, ttl })
    }

    /// The replay guard alone (pushes that claim no event).
    async fn check_nonce(&self, guard: Option<Guard>) -> Result<(), Rejection> {
        let Some(g) = guard else { return Ok(()) };
        match self.store.set_nx(&g.key, g.digest.as_bytes(), g.ttl).await {
            Ok(true) => Ok(()),
            Ok(false) => match self.store.get(&g.key).await {
                Ok(Some(seen)) if seen != g.digest.as_bytes() => Err(Rejection::Replay),
                Ok(_) => Ok(()),
                Err(e) => {
                    tracing::warn!(reason = "store_unavailable", error = %e, "nonce check failed open");
                    Ok(())
                }
            },
            Err(e) => {
                tracing::warn!(reason = "store_unavailable", error = %e, "nonce check failed open");
                Ok(())
            }
        }
    }

    /// Run the handler at most once per event across instances; return the reply.
    ///
    /// One live-store key per event holds either an in-flight marker (`P` + a random
    /// id) or the reply (`T` + text, or `-` for `success`): the first copy claims it
    /// with set-if-absent and overwrites it with the reply; a resend, on any instance,
    /// finds the reply there or waits for it. The claim, the replay guard and the
    /// handler's first reads are one round trip; the reply is written behind.
    async fn dispatch(
        &self,
        event: InboundEvent,
        guard: Option<Guard>,
    ) -> Result<Option<String>, Rejection> {
        let key = format!("wx:event:{}", event.dedup_key());
        let mut marker = b"P".to_vec();
        // The thread's generator: no system call per push, as a v4 uuid would make.
        marker.extend_from_slice(format!("{:032x}", rand::random::<u128>()).as_bytes());
        let reads = self.handler.prefetch(&event);
        // A second claim only after the first copy's marker vanished while we waited.
        for _ in 0..2 {
            let claim = Claim {
                guard: guard
                    .as_ref()
                    .map(|g| (g.key.as_str(), g.digest.as_bytes(), g.ttl)),
                claim: (&key, &marker, self.timing.inflight_ttl),
                reads: &reads,
            };
            match self.store.claim(claim).await {
                Ok(Claimed::GuardMismatch) => return Err(Rejection::Replay),
                Ok(Claimed::Done { held: None, reads }) => {
                    return Ok(self.run_claimed(event, &key, &marker, reads).await);
                }
                Ok(Claimed::Done {
                    held: Some(held), ..
                }) => {
                    tracing::info!(event = event.kind().name(), "resend of a known event");
                    let waited = if held.first() == Some(&b'P') {
                        self.wait_for_reply(&key).await
                    } else {
                        Waited::Reply(decode_reply(&held))
                    };
                    match waited {
                        Waited::Reply(r) => return Ok(r),
                        Waited::StillInFlight => return Ok(None),
                        Waited::Vanished => {
                            tracing::info!(
                                event = event.kind().name(),
                                "first copy's marker lapsed: taking the event over"
                            );
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(reason = "store_unavailable", error = %e, "nonce check failed open; dedup falls back to the handler");
                    return Ok(self.run_uncached(event).await);
                }
            }
        }
        Ok(None)
    }

    /// The owner of an event's marker: run the handler, then leave the reply in its place.
    async fn run_claimed(
        &self,
        event: InboundEvent,
        key: &str,
        marker: &[u8],
        prefetched: Vec<Option<Vec<u8>>>,
    ) -> Option<String> {
        let local = self.local.start(key);
        let outcome = self.run_with_deadline(event, Some(prefetched)).await;
        let cached = match &outcome {
            Outcome::Reply(r) => Some(r.clone()),
            // WeChat got `success` and will not resend; the late result goes out by
            // customer-service message, so a stray resend must not repeat it.
            Outcome::TimedOut => Some(None),
            Outcome::Failed => None,
        };
        match &cached {
            Some(r) => {
                // Behind: a resend finds the marker meanwhile and waits, here in process
                // or by polling elsewhere; were this instance to die first, the marker
                // lapses and the resend takes over (the handler is idempotent).
                let ttl = self.settings.replay_window.max(Duration::from_secs(60));
                self.store.write_behind(Write::Set {
                    key: key.to_owned(),
                    value: encode_reply(r),
                    ttl: Some(ttl),
                });
            }
            // A failure is not remembered: WeChat's resend gets another try. Withdrawn
            // before local waiters hear of it, so their claim finds the key free.
            None => {
                let _ = self.store.delete_if_eq(key, marker).await;
            }
        }
        local.finish(cached);
        outcome_reply(outcome)
    }

    async fn run_uncached(&self, event: InboundEvent) -> Option<String> {
        outcome_reply(self.run_with_deadline(event, None).await)
    }

    /// A resend: its reply if the first copy finished, else wait briefly for it.
    async fn wait_for_reply(&self, key: &str) -> Waited {
        let deadline = tokio::time::Instant::now() + self.timing.inflight_wait;
        if let Some(mut owner) = self.local.find(key) {
            // The first copy runs here: woken by it, no polling.
            match tokio::time::timeout_at(deadline, owner.wait_for(Option::is_some)).await {
                Ok(Ok(done)) => {
                    return match done.clone().flatten() {
                        Some(r) => Waited::Reply(r),
                        None => Waited::Vanished,
                    };
                }
                // The owner was abandoned without a word: the store tells what is left.
                Ok(Err(_)) => {}
                Err(_) => {
                    tracing::info!("resend still in flight: answering success");
                    return Waited::StillInFlight;
                }
            }
        }
        let mut pause = Duration::from_millis(10);
        loop {
            match self.store.get(key).await {
                Ok(Some(v)) if v.first() != Some(&b'P') => return Waited::Reply(decode_reply(&v)),
                Ok(None) => return Waited::Vanished,
                _ => {}
            }
            if tokio::time::Instant::now() + pause > deadline {
                tracing::info!("resend still in flight: answering success");
                return Waited::StillInFlight;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Run the handler in its own task under the deadline. A late result is sent
    /// as a customer-service message when it arrives; a panic is a failure.
    async fn run_with_deadline(
        &self,
        event: InboundEvent,
        prefetched: Option<Vec<Option<Vec<u8>>>>,
    ) -> Outcome {
        let (tx, mut rx) = oneshot::channel::<anyhow::Result<Option<String>>>();
        let handler = self.handler.clone();
        let client = self.client.clone();
        let openid = event.openid().clone();
        let kind = event.kind().name();
        tokio::spawn(async move {
            let result = handler.handle_prefetched(&event, prefetched).await;
            if let Err(Ok(Some(text))) = tx.send(result) {
                match client.send_custom_text(&openid, &text).await {
                    Ok(()) => {
                        tracing::info!(event = kind, "late reply sent as customer-service message")
                    }
                    Err(e) => {
                        tracing::warn!(event = kind, reason = e.code(), error = %e, "late reply not delivered")
                    }
                }
            }
        });
        let result = match tokio::time::timeout(self.timing.handler_deadline, &mut rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => {
                tracing::error!(
                    event = kind,
                    reason = "handler_panicked",
                    "message handler panicked"
                );
                return Outcome::Failed;
            }
            Err(_) => {
                // Close first: a result that lands now is either taken here or sent late, never lost.
                rx.close();
                match rx.try_recv() {
                    Ok(r) => r,
                    Err(_) => {
                        tracing::warn!(
                            event = kind,
                            reason = "handler_deadline",
                            "handler too slow: replied success"
                        );
                        return Outcome::TimedOut;
                    }
                }
            }
        };
        match result {
            Ok(r) => Outcome::Reply(r),
            Err(e) => {
                tracing::error!(event = kind, reason = "handler_failed", error = %e, "message handler failed");
                Outcome::Failed
            }
        }
    }
}

fn outcome_reply(o: Outcome) -> Option<String> {
    match o {
        Outcome::Reply(r) => r,
        Outcome::TimedOut => None,
        Outcome::Failed => Some(BUSY_TEXT.to_owned()),
    }
}

fn refuse(req: &HttpRequest, r: Rejection) -> HttpResponse {
    let peer = req
        .connection_info()
        .realip_remote_addr()
        .map(str::to_owned)
        .unwrap_or_default();
    tracing::warn!(reason = r.code(), status = r.status().as_u16(), peer = %peer, "wechat callback refused");
    HttpResponse::build(r.status())
        .content_type("text/plain; charset=utf-8")
        .body(r.code())
}

/// GET /wechat/callback
pub async fn verify_handler(req: HttpRequest, gw: web::Data<WechatGateway>) -> HttpResponse {
    let result =
        CallbackQuery::parse(req.query_string()).and_then(|q| verify_echo(&gw.settings, &q));
    match result {
        Ok(echo) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(echo),
        Err(r) => refuse(&req, r),
    }
}

/// Read the body, refusing anything above [`MAX_BODY_BYTES`] without buffering it.
async fn read_body(req: &HttpRequest, mut payload: web::Payload) -> Result<Vec<u8>, Rejection> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(Rejection::PayloadTooLarge);
    }
    let mut body = Vec::with_capacity(declared.map_or(1024, |n| n as usize));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| Rejection::Xml(XmlError::Malformed))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(Rejection::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// POST /wechat/callback
pub async fn push_handler(
    req: HttpRequest,
    payload: web::Payload,
    gw: web::Data<WechatGateway>,
) -> HttpResponse {
    let received_at = Utc::now();
    let q = match CallbackQuery::parse(req.query_string()) {
        Ok(q) => q,
        Err(r) => return refuse(&req, r),
    };
    let body = match read_body(&req, payload).await {
        Ok(b) => b,
        Err(r) => return refuse(&req, r),
    };
    match gw.handle_push(&q, &body, received_at).await {
        Ok(reply) => {
            let ct = if reply == "success" {
                "text/plain; charset=utf-8"
            } else {
                "application/xml; charset=utf-8"
            };
            HttpResponse::Ok().content_type(ct).body(reply)
        }
        Err(r) => refuse(&req, r),
    }
}

/// Register `/wechat/callback` (needs `web::Data<WechatGateway>`).
pub fn configure_callback(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/wechat/callback")
            .route(web::get().to(verify_handler))
            .route(web::post().to(push_handler)),
    );
}
