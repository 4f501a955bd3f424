//! WeChat API client: the shared access token and the few calls we make.
//!
//! The access token comes from `/cgi-bin/stable_token` (normal mode returns the
//! same token to every caller while it is valid, so instances cannot clobber
//! each other). It is cached in the live store under `wx:token:<appid>` with a
//! TTL that ends ahead of its expiry; one instance at a time refreshes it
//! (`wx:token-lock:<appid>`, set_nx + delete_if_eq) while the others wait for
//! the cache, and within a process one task fetches while the rest wait on a
//! mutex. On 40001/40014/42001 the cached token is dropped only if it is still
//! the one that failed, then the call is retried once. `-1` (busy) gets a short,
//! bounded backoff. `errcode` is read on every HTTP 200.

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use super::settings::ResolvedSettings;
use super::types::{OpenId, SceneStr};
use crate::store::SharedStore;

/// Longest temporary QR code WeChat allows (30 days).
pub const MAX_QR_EXPIRE_SECONDS: u64 = 2_592_000;
const TOKEN_BAD: [i64; 3] = [40001, 40014, 42001];
const BUSY_RETRIES: u32 = 3;
const LOCK_TTL: Duration = Duration::from_secs(10);
const LOCK_WAIT: Duration = Duration::from_secs(8);
const OAUTH_CODE_TTL: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// Transport error; the message never contains the URL (it carries secrets).
    #[error("http: {0}")]
    Http(String),
    #[error("unexpected HTTP status {0}")]
    Status(u16),
    #[error("wechat errcode {errcode}: {errmsg}")]
    Api { errcode: i64, errmsg: String },
    #[error("unexpected response shape")]
    Decode,
    #[error("invalid argument: {0}")]
    Invalid(&'static str),
    #[error("no access token available")]
    TokenUnavailable,
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Http(_) => "wechat_http",
            Self::Status(_) => "wechat_status",
            Self::Api { .. } => "wechat_errcode",
            Self::Decode => "wechat_decode",
            Self::Invalid(_) => "wechat_invalid_argument",
            Self::TokenUnavailable => "wechat_token_unavailable",
        }
    }
}

fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    format!(
        "{url}?{}",
        serde_urlencoded::to_string(params).unwrap_or_default()
    )
}

fn http_err(e: reqwest::Error) -> ApiError {
    ApiError::Http(e.without_url().to_string())
}

/// A temporary QR code: encode `url` into the image yourself.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct QrTicket {
    pub ticket: String,
    pub url: String,
    #[serde(default)]
    pub expire_seconds: u64,
}

#[derive(Deserialize)]
struct ErrPart {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct OauthResponse {
    openid: String,
}

#[derive(Deserialize)]
struct MsgIdResponse {
    #[serde(default)]
    msgid: Option<u64>,
}

struct LocalToken {
    token: String,
    valid_until: Instant,
}

struct Inner {
    http: reqwest::Client,
    settings: Arc<ResolvedSettings>,
    store: SharedStore,
    /// In-process copy of the shared token, and the single-flight gate for refreshes.
    local: tokio::sync::Mutex<Option<LocalToken>>,
}

/// Cheap to clone; share one per process.
#[derive(Clone)]
pub struct ApiClient {
    inner: Arc<Inner>,
}

/// Keep the token in the cache until shortly before it expires: stable tokens are
/// renewed by WeChat 5 minutes ahead, with old and new both valid meanwhile.
fn cache_ttl(expires_in: u64) -> Duration {
    Duration::from_secs(expires_in.saturating_sub(300).max(expires_in / 2).max(1))
}

impl ApiClient {
    pub fn new(settings: Arc<ResolvedSettings>, store: SharedStore) -> Result<Self, ApiError> {
        super::tls::install_tls_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(http_err)?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                settings,
                store,
                local: tokio::sync::Mutex::new(None),
            }),
        })
    }

    fn token_key(&self) -> String {
        format!("wx:token:{}", self.inner.settings.app_id)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.inner.settings.api_base, path)
    }

    /// The current access token, fetched at most once at a time across instances.
    pub async fn access_token(&self) -> Result<String, ApiError> {
        let mut local = self.inner.local.lock().await;
        if let Some(t) = local.as_ref().filter(|t| t.valid_until > Instant::now()) {
            return Ok(t.token.clone());
        }
        let (token, ttl) = self.shared_token().await?;
        *local = Some(LocalToken {
            token: token.clone(),
            valid_until: Instant::now() + ttl,
        });
        Ok(token)
    }

    /// Read the shared cache, or refresh it under the live-store lock.
    async fn shared_token(&self) -> Result<(String, Duration), ApiError> {
        let store = &self.inner.store;
        let key = self.token_key();
        let lock_key = format!("wx:token-lock:{}", self.inner.settings.app_id);
        let marker = uuid::Uuid::new_v4().simple().to_string();
        let deadline = Instant::now() + LOCK_WAIT;
        let mut pause = Duration::from_millis(20);
        loop {
            match self.cached_shared(&key).await {
                Ok(Some(hit)) => return Ok(hit),
                Ok(None) => {}
                Err(()) => return self.fetch_without_store().await,
            }
            match store.set_nx(&lock_key, marker.as_bytes(), LOCK_TTL).await {
                Ok(true) => {
                    // Someone may have refreshed between our read and the lock.
                    let result = match self.cached_shared(&key).await {
                        Ok(Some(hit)) => Ok(hit),
                        _ => self.fetch_and_share(&key).await,
                    };
                    let _ = store.delete_if_eq(&lock_key, marker.as_bytes()).await;
                    return result;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(reason = "store_unavailable", error = %e, "token lock unavailable: fetching without it");
                    return self.fetch_without_store().await;
                }
            }
            if Instant::now() + pause > deadline {
                return Err(ApiError::TokenUnavailable);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    async fn cached_shared(&self, key: &str) -> Result<Option<(String, Duration)>, ()> {
        let store = &self.inner.store;
        match store.get(key).await {
            Ok(Some(v)) => {
                let token = String::from_utf8(v).map_err(|_| ())?;
                let ttl = store
                    .ttl(key)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or(Duration::from_secs(60));
                Ok(Some((token, ttl)))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                tracing::error!(reason = "store_unavailable", error = %e, "token cache unavailable");
                Err(())
            }
        }
    }

    async fn fetch_and_share(&self, key: &str) -> Result<(String, Duration), ApiError> {
        let (token, expires_in) = self.fetch_stable_token().await?;
        let ttl = cache_ttl(expires_in);
        if let Err(e) = self.inner.store.set(key, token.as_bytes(), Some(ttl)).await {
            // Keep the token we paid for (silenceper#762): the quota is the scarcer resource.
            tracing::error!(reason = "store_unavailable", error = %e, "token not shared");
        }
        Ok((token, ttl))
    }

    async fn fetch_without_store(&self) -> Result<(String, Duration), ApiError> {
        let (token, expires_in) = self.fetch_stable_token().await?;
        Ok((token, cache_ttl(expires_in)))
    }

    async fn fetch_stable_token(&self) -> Result<(String, u64), ApiError> {
        let s = &self.inner.settings;
        let body = json!({
            "grant_type": "client_credential",
            "appid": s.app_id,
            "secret": s.app_secret.expose_secret(),
            "force_refresh": false,
        });
        let r: TokenResponse = self
            .send_with_busy_retry(|| {
                self.inner
                    .http
                    .post(self.url("/cgi-bin/stable_token"))
                    .json(&body)
            })
            .await?;
        if r.access_token.is_empty() {
            return Err(ApiError::Decode);
        }
        tracing::info!(expires_in = r.expires_in, "fetched a stable access token");
        Ok((r.access_token, r.expires_in))
    }

    /// Drop the cached token, but only if it is still `failed` (another instance may
    /// already have stored a newer one).
    pub async fn invalidate_token(&self, failed: &str) -> bool {
        {
            let mut local = self.inner.local.lock().await;
            if local.as_ref().is_some_and(|t| t.token == failed) {
                *local = None;
            }
        }
        match self
            .inner
            .store
            .delete_if_eq(&self.token_key(), failed.as_bytes())
            .await
        {
            Ok(deleted) => deleted,
            Err(e) => {
                tracing::warn!(reason = "store_unavailable", error = %e, "token not invalidated in the store");
                false
            }
        }
    }

    /// Send a request, retrying WeChat's `-1` (busy) with a short bounded backoff,
    /// and decode it after checking `errcode`.
    async fn send_with_busy_retry<T: DeserializeOwned>(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<T, ApiError> {
        let mut attempt = 0;
        loop {
            let resp = build().send().await.map_err(http_err)?;
            if !resp.status().is_success() {
                return Err(ApiError::Status(resp.status().as_u16()));
            }
            let v: Value = resp.json().await.map_err(|_| ApiError::Decode)?;
            let err: ErrPart = serde_json::from_value(v.clone()).map_err(|_| ApiError::Decode)?;
            match err.errcode {
                0 => return serde_json::from_value(v).map_err(|_| ApiError::Decode),
                -1 if attempt < BUSY_RETRIES => {
                    attempt += 1;
                    let pause = Duration::from_millis(100u64 << attempt);
                    tracing::warn!(attempt, "wechat busy (-1): backing off");
                    tokio::time::sleep(pause).await;
                }
                code => {
                    return Err(ApiError::Api {
                        errcode: code,
                        errmsg: err.errmsg,
                    });
                }
            }
        }
    }

    /// POST JSON to an access-token API; on a stale token, invalidate and retry once.
    pub async fn post_with_token<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<T, ApiError> {
        let mut retried = false;
        loop {
            let token = self.access_token().await?;
            let url = with_query(&self.url(path), &[("access_token", token.as_str())]);
            let result = self
                .send_with_busy_retry(|| self.inner.http.post(&url).json(body))
                .await;
            match result {
                Err(ApiError::Api { errcode, .. }) if TOKEN_BAD.contains(&errcode) && !retried => {
                    retried = true;
                    let dropped = self.invalidate_token(&token).await;
                    tracing::warn!(errcode, dropped, "access token rejected: refreshing once");
                }
                other => return other,
            }
        }
    }

    /// Create a temporary `QR_STR_SCENE` code. `expire_seconds` is always sent
    /// (WeChat's default is 30–60 s) and must be 1..=2592000.
    pub async fn create_temp_qr(
        &self,
        scene: &SceneStr,
        expire_seconds: u64,
    ) -> Result<QrTicket, ApiError> {
        if !(1..=MAX_QR_EXPIRE_SECONDS).contains(&expire_seconds) {
            return Err(ApiError::Invalid("expire_seconds must be 1..=2592000"));
        }
        let body = json!({
            "expire_seconds": expire_seconds,
            "action_name": "QR_STR_SCENE",
            "action_info": { "scene": { "scene_str": scene.as_str() } },
        });
        self.post_with_token("/cgi-bin/qrcode/create", &body).await
    }

    /// Exchange a web-OAuth `snsapi_base` code for the member's openid. Codes are
    /// single-use, and WeChat sometimes calls the redirect twice: the result is
    /// cached per code for a few minutes so a repeat gets the same answer.
    pub async fn oauth_openid(&self, code: &str) -> Result<OpenId, ApiError> {
        if code.is_empty() || code.len() > 512 {
            return Err(ApiError::Invalid("code"));
        }
        let key = format!("wx:oauth:{}", hex::encode(Sha1::digest(code.as_bytes())));
        if let Ok(Some(v)) = self.inner.store.get(&key).await
            && let Some(id) = std::str::from_utf8(&v)
                .ok()
                .and_then(|s| OpenId::parse(s).ok())
        {
            return Ok(id);
        }
        let s = &self.inner.settings;
        let url = with_query(
            &self.url("/sns/oauth2/access_token"),
            &[
                ("appid", s.app_id.as_str()),
                ("secret", s.app_secret.expose_secret()),
                ("code", code),
                ("grant_type", "authorization_code"),
            ],
        );
        let result: Result<OauthResponse, ApiError> = self
            .send_with_busy_retry(|| self.inner.http.get(&url))
            .await;
        match result {
            Ok(r) => {
                let id = OpenId::parse(&r.openid).map_err(|_| ApiError::Decode)?;
                let _ = self
                    .inner
                    .store
                    .set(&key, id.as_str().as_bytes(), Some(OAUTH_CODE_TTL))
                    .await;
                Ok(id)
            }
            // Code already used (40163) by a concurrent twin: its result may be in the cache.
            Err(ApiError::Api { errcode: 40163, .. }) => {
                tokio::time::sleep(Duration::from_millis(300)).await;
                match self.inner.store.get(&key).await {
                    Ok(Some(v)) => std::str::from_utf8(&v)
                        .ok()
                        .and_then(|s| OpenId::parse(s).ok())
                        .ok_or(ApiError::Decode),
                    _ => Err(ApiError::Api {
                        errcode: 40163,
                        errmsg: "code been used".into(),
                    }),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Send a template message; `client_msg_id` makes retries of the same send idempotent.
    pub async fn send_template(
        &self,
        to: &OpenId,
        template_id: &str,
        url: Option<&str>,
        data: &Value,
        client_msg_id: &str,
    ) -> Result<Option<u64>, ApiError> {
        if template_id.is_empty() || client_msg_id.is_empty() || client_msg_id.len() > 64 {
            return Err(ApiError::Invalid("template_id or client_msg_id"));
        }
        let mut body = json!({
            "touser": to.as_str(),
            "template_id": template_id,
            "data": data,
            "client_msg_id": client_msg_id,
        });
        if let (Some(u), Some(obj)) = (url, body.as_object_mut()) {
            obj.insert("url".into(), Value::String(u.to_owned()));
        }
        let r: MsgIdResponse = self
            .post_with_token("/cgi-bin/message/template/send", &body)
            .await?;
        Ok(r.msgid)
    }

    /// Send a template message by its purpose name from `wechat.templates`.
    pub async fn send_named_template(
        &self,
        to: &OpenId,
        purpose: &str,
        url: Option<&str>,
        data: &Value,
        client_msg_id: &str,
    ) -> Result<Option<u64>, ApiError> {
        let id = self
            .inner
            .settings
            .templates
            .get(purpose)
            .ok_or(ApiError::Invalid("unknown template purpose"))?
            .clone();
        self.send_template(to, &id, url, data, client_msg_id).await
    }

    /// Customer-service text message (within 48 h of the member's last interaction).
    pub async fn send_custom_text(&self, to: &OpenId, content: &str) -> Result<(), ApiError> {
        if content.is_empty() {
            return Err(ApiError::Invalid("content"));
        }
        let body = json!({
            "touser": to.as_str(),
            "msgtype": "text",
            "text": { "content": content },
        });
        let _: Value = self
            .post_with_token("/cgi-bin/message/custom/send", &body)
            .await?;
        Ok(())
    }
}
