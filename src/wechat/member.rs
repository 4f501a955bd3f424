//! Member sign-in: WeChat web OAuth (`snsapi_base`) → openid → a short-lived
//! signed cookie session, and the one-time binding of an openid to the roster.
//!
//! Routes: `GET /wechat/oauth/start?next=/path` (redirect to WeChat's authorize
//! page, or to the sandbox's local stand-in), `GET /wechat/oauth/callback`
//! (code → openid → cookie), `GET|POST /wechat/bind` (roster match by name +
//! phone; a few tries, then a cool-down counted in the live store).
//! Other modules get the signed-in member with the [`MemberSession`] extractor.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use serde::Deserialize;
use sha2::Sha256;

use super::client::ApiClient;
use super::pages;
use super::settings::ResolvedSettings;
use super::types::OpenId;
use crate::store::SharedStore;

pub const SESSION_COOKIE: &str = "vg_member";
const STATE_COOKIE: &str = "vg_oauth";
const SESSION_TTL: Duration = Duration::from_secs(2 * 3600);
const STATE_TTL: i64 = 600;
const BIND_TRIES: i64 = 5;
const BIND_COOL_DOWN: Duration = Duration::from_secs(15 * 60);

/// A roster person, as the org domain identifies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRef {
    /// Opaque id of the person in the org domain.
    pub id: String,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// No roster entry matches this name and phone (counts as a failed try).
    #[error("no roster match")]
    NoMatch,
    /// The roster entry is already bound to another openid.
    #[error("person already bound to another account")]
    AlreadyBound,
    #[error("directory unavailable: {0}")]
    Unavailable(#[from] anyhow::Error),
}

/// What the org domain implements for sign-in.
///
/// Contract: `person_for_openid` is a read; `bind` matches the roster by name and
/// phone (normalise as the roster does) and records openid → person durably and
/// idempotently (binding the same openid to the same person again is `Ok`). The
/// gateway counts failed tries and enforces the cool-down; it never logs the phone.
#[async_trait]
pub trait MemberDirectory: Send + Sync + 'static {
    async fn person_for_openid(&self, openid: &OpenId) -> anyhow::Result<Option<PersonRef>>;
    async fn bind(&self, openid: &OpenId, name: &str, phone: &str) -> Result<PersonRef, BindError>;
}

/// Sign-in service (register as `web::Data<MemberSignIn>`).
pub struct MemberSignIn {
    settings: Arc<ResolvedSettings>,
    client: ApiClient,
    directory: Arc<dyn MemberDirectory>,
    store: SharedStore,
    key: SecretSlice<u8>,
    public_base_url: Option<String>,
    /// Proxies whose `X-Forwarded-Proto` is believed (`server.trusted_proxies`).
    trusted_proxies: Vec<ipnet::IpNet>,
}

type HmacSha256 = Hmac<Sha256>;

impl MemberSignIn {
    /// `cookie_key`: at least 32 secret bytes shared by all instances (the lead keeps
    /// it with the other shared secrets). `public_base_url`: the externally visible
    /// origin for WeChat's `redirect_uri` (must be the account's 网页授权域名); `None`
    /// derives it from the request (`Forwarded`/`X-Forwarded-*` aware).
    pub fn new(
        settings: Arc<ResolvedSettings>,
        client: ApiClient,
        directory: Arc<dyn MemberDirectory>,
        store: SharedStore,
        cookie_key: Vec<u8>,
        public_base_url: Option<String>,
    ) -> Result<Self, &'static str> {
        if cookie_key.len() < 32 {
            return Err("member cookie key must be at least 32 bytes");
        }
        Ok(Self {
            settings,
            client,
            directory,
            store,
            key: SecretSlice::from(cookie_key),
            public_base_url: public_base_url.map(|u| u.trim_end_matches('/').to_owned()),
            trusted_proxies: Vec::new(),
        })
    }

    /// Believe `X-Forwarded-Proto`/`Forwarded` only from these peers.
    pub fn with_trusted_proxies(mut self, trusted: Vec<ipnet::IpNet>) -> Self {
        self.trusted_proxies = trusted;
        self
    }

    fn mac(&self, data: &str) -> String {
        // HMAC accepts keys of any length; the fallback is unreachable.
        let Ok(mut m) = <HmacSha256 as Mac>::new_from_slice(self.key.expose_secret()) else {
            return String::new();
        };
        m.update(data.as_bytes());
        hex::encode(m.finalize().into_bytes())
    }

    fn check_mac(&self, data: &str, mac_hex: &str) -> bool {
        let Ok(tag) = hex::decode(mac_hex) else {
            return false;
        };
        let Ok(mut m) = <HmacSha256 as Mac>::new_from_slice(self.key.expose_secret()) else {
            return false;
        };
        m.update(data.as_bytes());
        m.verify_slice(&tag).is_ok()
    }

    /// Cookie value for a session of `openid` valid until `expires` (unix seconds).
    pub fn session_value(&self, openid: &OpenId, expires: i64) -> String {
        let data = format!("v1.{openid}.{expires}");
        let mac = self.mac(&data);
        format!("{data}.{mac}")
    }

    /// The openid of a valid, unexpired session cookie value.
    pub fn verify_session(&self, value: &str, now: i64) -> Option<OpenId> {
        let (data, mac) = value.rsplit_once('.')?;
        if !self.check_mac(data, mac) {
            return None;
        }
        let mut parts = data.split('.');
        let (Some("v1"), Some(openid), Some(exp), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let exp: i64 = exp.parse().ok()?;
        (exp > now).then(|| OpenId::parse(openid).ok()).flatten()
    }

    fn session_cookie(&self, openid: &OpenId, secure: bool) -> Cookie<'static> {
        let exp = chrono::Utc::now().timestamp() + SESSION_TTL.as_secs() as i64;
        Cookie::build(SESSION_COOKIE, self.session_value(openid, exp))
            .path("/")
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Lax)
            .max_age(CookieDuration::seconds(SESSION_TTL.as_secs() as i64))
            .finish()
    }

    fn state_value(&self, nonce: &str, next: &str, now: i64) -> String {
        let exp = now + STATE_TTL;
        let data = format!("{exp}.{nonce}.{}", URL_SAFE_NO_PAD.encode(next));
        let mac = self.mac(&format!("state|{data}"));
        format!("{data}.{mac}")
    }

    /// (nonce, next) of a valid state.
    fn verify_state(&self, state: &str, now: i64) -> Option<(String, String)> {
        let (data, mac) = state.rsplit_once('.')?;
        if !self.check_mac(&format!("state|{data}"), mac) {
            return None;
        }
        let mut parts = data.split('.');
        let (Some(exp), Some(nonce), Some(next), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        if exp.parse::<i64>().ok()? <= now {
            return None;
        }
        let next = String::from_utf8(URL_SAFE_NO_PAD.decode(next).ok()?).ok()?;
        Some((nonce.to_owned(), safe_next(&next)))
    }

    fn base_url(&self, req: &HttpRequest) -> String {
        match &self.public_base_url {
            Some(u) => u.clone(),
            None => {
                let ci = req.connection_info();
                format!("{}://{}", ci.scheme(), ci.host())
            }
        }
    }

    /// The Secure flag: the configured public URL says it; otherwise the connection's
    /// own scheme, or a forwarded one only when the peer is a trusted proxy (anyone can
    /// send `X-Forwarded-Proto`).
    fn is_secure(&self, req: &HttpRequest) -> bool {
        if let Some(u) = &self.public_base_url {
            return u.starts_with("https://");
        }
        let trusted_peer = req
            .peer_addr()
            .is_some_and(|p| self.trusted_proxies.iter().any(|n| n.contains(&p.ip())));
        if trusted_peer {
            req.connection_info().scheme() == "https"
        } else {
            req.app_config().secure()
        }
    }

    /// WeChat's authorize URL (or the sandbox's local page) for this state.
    pub fn authorize_url(&self, req: &HttpRequest, state: &str) -> String {
        let q = |pairs: &[(&str, &str)]| serde_urlencoded::to_string(pairs).unwrap_or_default();
        if self.settings.sandbox {
            return format!("/sandbox/oauth?{}", q(&[("state", state)]));
        }
        let redirect = format!("{}/wechat/oauth/callback", self.base_url(req));
        format!(
            "https://open.weixin.qq.com/connect/oauth2/authorize?{}&connect_redirect=1#wechat_redirect",
            q(&[
                ("appid", self.settings.app_id.as_str()),
                ("redirect_uri", redirect.as_str()),
                ("response_type", "code"),
                ("scope", "snsapi_base"),
                ("state", state),
            ])
        )
    }

    /// Bind-try counter: Ok(tries left) or Err(()) when cooling down.
    async fn bind_tries_left(&self, openid: &OpenId, consume: bool) -> Result<Option<i64>, ()> {
        let key = format!("wx:bind-tries:{openid}");
        let used = if consume {
            self.store.incr(&key, 1, Some(BIND_COOL_DOWN)).await
        } else {
            self.store.get(&key).await.map(|v| {
                v.and_then(|b| String::from_utf8(b).ok()?.parse().ok())
                    .unwrap_or(0)
            })
        };
        match used {
            Ok(n) if n > BIND_TRIES => Err(()),
            Ok(n) => Ok(Some(BIND_TRIES - n)),
            Err(e) => {
                tracing::warn!(reason = "store_unavailable", error = %e, "bind tries not counted");
                Ok(None)
            }
        }
    }
}

/// Only local absolute paths: no scheme, no `//host`, no backslashes.
fn safe_next(next: &str) -> String {
    if next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && next.len() <= 512
    {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, to.to_owned()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn bind_url(next: &str) -> String {
    format!(
        "/wechat/bind?{}",
        serde_urlencoded::to_string([("next", next)]).unwrap_or_default()
    )
}

fn start_url(next: &str) -> String {
    format!(
        "/wechat/oauth/start?{}",
        serde_urlencoded::to_string([("next", next)]).unwrap_or_default()
    )
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn oauth_start(
    req: HttpRequest,
    q: web::Query<NextQuery>,
    svc: web::Data<MemberSignIn>,
) -> HttpResponse {
    let next = safe_next(q.next.as_deref().unwrap_or("/"));
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let state = svc.state_value(&nonce, &next, chrono::Utc::now().timestamp());
    let cookie = Cookie::build(STATE_COOKIE, nonce)
        .path("/wechat/oauth")
        .http_only(true)
        .secure(svc.is_secure(&req))
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(STATE_TTL))
        .finish();
    let mut resp = redirect(&svc.authorize_url(&req, &state));
    let _ = resp.add_cookie(&cookie);
    resp
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
}

fn notice(status: actix_web::http::StatusCode, title: &str, message: &str) -> HttpResponse {
    pages::render_page(
        status,
        "notice.html",
        minijinja::context! { title => title, message => message, error => true },
    )
}

async fn oauth_callback(
    req: HttpRequest,
    q: web::Query<CallbackQuery>,
    svc: web::Data<MemberSignIn>,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    let now = chrono::Utc::now().timestamp();
    let Some((nonce, next)) = q.state.as_deref().and_then(|s| svc.verify_state(s, now)) else {
        tracing::warn!(reason = "oauth_bad_state", "oauth callback refused");
        return notice(
            StatusCode::BAD_REQUEST,
            "登录失败",
            "登录链接已失效，请返回公众号重新打开。",
        );
    };
    if req.cookie(STATE_COOKIE).is_none_or(|c| c.value() != nonce) {
        tracing::warn!(reason = "oauth_state_mismatch", "oauth callback refused");
        return notice(
            StatusCode::BAD_REQUEST,
            "登录失败",
            "登录链接已失效，请返回公众号重新打开。",
        );
    }
    let Some(code) = q.code.as_deref().filter(|c| !c.is_empty()) else {
        // The member declined (snsapi_base is silent, so this is rare).
        return notice(
            StatusCode::BAD_REQUEST,
            "登录失败",
            "未获得微信授权，请重试。",
        );
    };
    let openid = match svc.client.oauth_openid(code).await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(reason = e.code(), error = %e, "oauth code exchange failed");
            return notice(
                StatusCode::BAD_GATEWAY,
                "登录失败",
                "微信授权暂时不可用，请稍后再试。",
            );
        }
    };
    let target = match svc.directory.person_for_openid(&openid).await {
        Ok(Some(_)) => next,
        Ok(None) => bind_url(&next),
        Err(e) => {
            tracing::error!(reason = "directory_unavailable", error = %e, "person lookup failed");
            return notice(
                StatusCode::SERVICE_UNAVAILABLE,
                "系统繁忙",
                "系统繁忙，请稍后再试。",
            );
        }
    };
    let mut resp = redirect(&target);
    let _ = resp.add_cookie(&svc.session_cookie(&openid, svc.is_secure(&req)));
    let mut gone = Cookie::new(STATE_COOKIE, "");
    gone.set_path("/wechat/oauth");
    gone.make_removal();
    let _ = resp.add_cookie(&gone);
    resp
}

fn bind_page(
    status: actix_web::http::StatusCode,
    next: &str,
    name: &str,
    error: Option<&str>,
    tries_left: Option<i64>,
    locked: bool,
) -> HttpResponse {
    pages::render_page(
        status,
        "bind.html",
        minijinja::context! {
            title => "绑定党员身份",
            next => next,
            name => name,
            error => error,
            tries_left => tries_left,
            locked => locked,
        },
    )
}

async fn bind_form(
    req: HttpRequest,
    q: web::Query<NextQuery>,
    svc: web::Data<MemberSignIn>,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    let next = safe_next(q.next.as_deref().unwrap_or("/"));
    let Some(openid) = session_openid(&req, &svc) else {
        return redirect(&start_url(&bind_url(&next)));
    };
    match svc.bind_tries_left(&openid, false).await {
        Err(()) => bind_page(
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            "",
            Some("尝试次数过多，请 15 分钟后再试。"),
            None,
            true,
        ),
        Ok(left) => bind_page(
            StatusCode::OK,
            &next,
            "",
            None,
            left.filter(|&n| n < BIND_TRIES),
            false,
        ),
    }
}

#[derive(Deserialize)]
struct BindForm {
    name: String,
    phone: String,
    next: Option<String>,
}

async fn bind_submit(
    req: HttpRequest,
    form: web::Form<BindForm>,
    svc: web::Data<MemberSignIn>,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    let next = safe_next(form.next.as_deref().unwrap_or("/"));
    let Some(openid) = session_openid(&req, &svc) else {
        return redirect(&start_url(&bind_url(&next)));
    };
    let name = form.name.trim();
    let phone: String = form
        .phone
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if name.is_empty() || name.chars().count() > 32 || phone.len() < 5 || phone.len() > 20 {
        return bind_page(
            StatusCode::BAD_REQUEST,
            &next,
            name,
            Some("请填写正确的姓名和手机号。"),
            None,
            false,
        );
    }
    let left = match svc.bind_tries_left(&openid, true).await {
        Err(()) => {
            tracing::warn!(reason = "bind_cool_down", "bind refused: too many tries");
            return bind_page(
                StatusCode::TOO_MANY_REQUESTS,
                &next,
                name,
                Some("尝试次数过多，请 15 分钟后再试。"),
                None,
                true,
            );
        }
        Ok(left) => left,
    };
    match svc.directory.bind(&openid, name, &phone).await {
        Ok(person) => {
            let _ = svc.store.delete(&format!("wx:bind-tries:{openid}")).await;
            tracing::info!(person = %person.id, "openid bound to roster person");
            redirect(&next)
        }
        // One answer for both: a different one would tell a stranger that this name
        // and phone are on the roster (and bound to someone).
        Err(e @ (BindError::NoMatch | BindError::AlreadyBound)) => {
            tracing::info!(
                reason = if matches!(e, BindError::NoMatch) {
                    "bind_no_match"
                } else {
                    "bind_already_bound"
                },
                "bind try refused"
            );
            bind_page(
                StatusCode::OK,
                &next,
                name,
                Some("信息不符或已被绑定，请联系支部书记。"),
                left,
                left == Some(0),
            )
        }
        Err(BindError::Unavailable(e)) => {
            tracing::error!(reason = "directory_unavailable", error = %e, "bind failed");
            bind_page(
                StatusCode::SERVICE_UNAVAILABLE,
                &next,
                name,
                Some("系统繁忙，请稍后再试。"),
                None,
                false,
            )
        }
    }
}

fn session_openid(req: &HttpRequest, svc: &MemberSignIn) -> Option<OpenId> {
    let c = req.cookie(SESSION_COOKIE)?;
    svc.verify_session(c.value(), chrono::Utc::now().timestamp())
}

/// The signed-in member of a request; without a valid session the request is
/// redirected through WeChat OAuth and back. Needs `web::Data<MemberSignIn>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSession {
    pub openid: OpenId,
}

/// No valid member session: redirect to sign-in, then back to `next`.
#[derive(Debug, thiserror::Error)]
#[error("sign-in required")]
pub struct SignInRequired {
    next: String,
}

impl ResponseError for SignInRequired {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::FOUND
    }
    fn error_response(&self) -> HttpResponse {
        redirect(&start_url(&self.next))
    }
}

impl FromRequest for MemberSession {
    type Error = SignInRequired;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let next = safe_next(
            req.uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/"),
        );
        let found = req
            .app_data::<web::Data<MemberSignIn>>()
            .and_then(|svc| session_openid(req, svc));
        Box::pin(async move {
            found
                .map(|openid| MemberSession { openid })
                .ok_or(SignInRequired { next })
        })
    }
}

/// Register the sign-in routes (needs `web::Data<MemberSignIn>`).
pub fn configure_member(cfg: &mut web::ServiceConfig) {
    cfg.route("/wechat/oauth/start", web::get().to(oauth_start))
        .route("/wechat/oauth/callback", web::get().to(oauth_callback))
        .service(
            web::resource("/wechat/bind")
                .route(web::get().to(bind_form))
                .route(web::post().to(bind_submit)),
        );
}
