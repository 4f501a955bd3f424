//! A local stand-in for the WeChat API endpoints the client uses, served under
//! `/sandbox/wechat-api/…`: in sandbox mode the client talks to it, and tests
//! start it on its own server. It counts token fetches and keeps what was "sent".

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::types::OpenId;

/// A message the mock accepted for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub to: String,
    /// `text` (customer service) or `template`.
    pub kind: &'static str,
    /// Text content, or the template id.
    pub content: String,
    pub client_msg_id: Option<String>,
}

#[derive(Default)]
struct State {
    current: Option<String>,
    generation: u64,
    valid: HashSet<String>,
    codes: HashMap<String, (String, bool)>,
    outbox: Vec<SentMessage>,
    client_msg_ids: HashMap<String, u64>,
    busy_next: u32,
    reject_all: bool,
    qr_created: Vec<(String, u64)>,
}

/// Shared state of the mock (register it as `web::Data<MockWechat>`).
pub struct MockWechat {
    token_fetches: AtomicUsize,
    state: Mutex<State>,
    /// Base URL of the phone simulator, put into QR `url`s so a scan opens it.
    phone_base: String,
    token_delay: Duration,
}

impl MockWechat {
    /// `local_base_url` is where this service listens (QR urls point at its phone simulator).
    pub fn new(local_base_url: &str) -> Self {
        Self {
            token_fetches: AtomicUsize::new(0),
            state: Mutex::new(State::default()),
            phone_base: format!("{}/sandbox/phone", local_base_url.trim_end_matches('/')),
            // A little latency so concurrent callers really overlap.
            token_delay: Duration::from_millis(30),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many times `/cgi-bin/stable_token` was called.
    pub fn token_fetches(&self) -> usize {
        self.token_fetches.load(Ordering::SeqCst)
    }

    /// Make the current token invalid (as if it expired); the next fetch gets a new one.
    pub fn revoke_current_token(&self) {
        let mut s = self.state();
        if let Some(t) = s.current.take() {
            s.valid.remove(&t);
        }
    }

    /// Answer every call with 40001, whatever the token (tests of the retry-once rule).
    pub fn reject_all_tokens(&self, on: bool) {
        self.state().reject_all = on;
    }

    /// Answer the next `n` API calls with errcode -1 (system busy).
    pub fn fail_next_with_busy(&self, n: u32) {
        self.state().busy_next = n;
    }

    /// An OAuth code for `openid`, as WeChat's authorize step would issue it.
    pub fn issue_code(&self, openid: &OpenId) -> String {
        let code = uuid::Uuid::new_v4().simple().to_string();
        self.state()
            .codes
            .insert(code.clone(), (openid.as_str().to_owned(), false));
        code
    }

    pub fn outbox(&self) -> Vec<SentMessage> {
        self.state().outbox.clone()
    }

    /// Messages sent to `openid`, oldest first.
    pub fn outbox_for(&self, openid: &str) -> Vec<SentMessage> {
        self.state()
            .outbox
            .iter()
            .filter(|m| m.to == openid)
            .cloned()
            .collect()
    }

    /// (scene_str, expire_seconds) of each QR code created.
    pub fn qr_created(&self) -> Vec<(String, u64)> {
        self.state().qr_created.clone()
    }

    fn take_busy(&self) -> bool {
        let mut s = self.state();
        if s.busy_next > 0 {
            s.busy_next -= 1;
            true
        } else {
            false
        }
    }

    fn token_ok(&self, token: Option<&str>) -> bool {
        let s = self.state();
        !s.reject_all && token.is_some_and(|t| s.valid.contains(t))
    }
}

fn err(code: i64, msg: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "errcode": code, "errmsg": msg }))
}

#[derive(Deserialize)]
struct TokenQuery {
    access_token: Option<String>,
}

async fn stable_token(mock: web::Data<MockWechat>, body: web::Json<Value>) -> HttpResponse {
    mock.token_fetches.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(mock.token_delay).await;
    if mock.take_busy() {
        return err(-1, "system error");
    }
    if body.get("grant_type").and_then(Value::as_str) != Some("client_credential")
        || body
            .get("appid")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        return err(40002, "invalid grant_type");
    }
    let mut s = mock.state();
    let token = match &s.current {
        Some(t) => t.clone(),
        None => {
            s.generation += 1;
            let t = format!(
                "mock-token-{}-{}",
                s.generation,
                uuid::Uuid::new_v4().simple()
            );
            s.current = Some(t.clone());
            s.valid.insert(t.clone());
            t
        }
    };
    HttpResponse::Ok().json(json!({ "access_token": token, "expires_in": 7200 }))
}

async fn qrcode_create(
    mock: web::Data<MockWechat>,
    q: web::Query<TokenQuery>,
    body: web::Json<Value>,
) -> HttpResponse {
    if mock.take_busy() {
        return err(-1, "system error");
    }
    if !mock.token_ok(q.access_token.as_deref()) {
        return err(
            40001,
            "invalid credential, access_token is invalid or not latest",
        );
    }
    let scene = body
        .pointer("/action_info/scene/scene_str")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let expire = body.get("expire_seconds").and_then(Value::as_u64);
    let (Some(expire), "QR_STR_SCENE", 1..=64) = (
        expire,
        body.get("action_name")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        scene.len(),
    ) else {
        return err(40053, "invalid action info");
    };
    mock.state().qr_created.push((scene.clone(), expire));
    // Like WeChat's `http://weixin.qq.com/q/…`, every code made has its own URL.
    let ticket = format!("mock-ticket-{}", uuid::Uuid::new_v4().simple());
    let url = format!(
        "{}?{}",
        mock.phone_base,
        serde_urlencoded::to_string([("scene", scene.as_str()), ("ticket", ticket.as_str())])
            .unwrap_or_default()
    );
    HttpResponse::Ok().json(json!({
        "ticket": ticket,
        "expire_seconds": expire,
        "url": url,
    }))
}

#[derive(Deserialize)]
struct OauthQuery {
    code: Option<String>,
    grant_type: Option<String>,
}

async fn oauth_access_token(
    mock: web::Data<MockWechat>,
    q: web::Query<OauthQuery>,
) -> HttpResponse {
    if q.grant_type.as_deref() != Some("authorization_code") {
        return err(40002, "invalid grant_type");
    }
    let mut s = mock.state();
    match q.code.as_deref().and_then(|c| s.codes.get_mut(c)) {
        Some((_, true)) => err(40163, "code been used"),
        Some((openid, used)) => {
            *used = true;
            HttpResponse::Ok().json(json!({
                "access_token": "mock-user-token",
                "expires_in": 7200,
                "refresh_token": "mock-refresh",
                "openid": openid,
                "scope": "snsapi_base",
            }))
        }
        None => err(40029, "invalid code"),
    }
}

async fn template_send(
    mock: web::Data<MockWechat>,
    q: web::Query<TokenQuery>,
    body: web::Json<Value>,
) -> HttpResponse {
    if mock.take_busy() {
        return err(-1, "system error");
    }
    if !mock.token_ok(q.access_token.as_deref()) {
        return err(40001, "invalid credential");
    }
    let to = body
        .get("touser")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let tpl = body
        .get("template_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if to.is_empty() || tpl.is_empty() {
        return err(40037, "invalid template_id");
    }
    let client_msg_id = body
        .get("client_msg_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut s = mock.state();
    // Same client_msg_id → same msgid, nothing sent twice (WeChat's 防重入).
    if let Some(id) = client_msg_id.as_ref().and_then(|c| s.client_msg_ids.get(c)) {
        return HttpResponse::Ok().json(json!({ "errcode": 0, "errmsg": "ok", "msgid": id }));
    }
    let msgid = 1000 + s.outbox.len() as u64;
    if let Some(c) = &client_msg_id {
        s.client_msg_ids.insert(c.clone(), msgid);
    }
    s.outbox.push(SentMessage {
        to: to.to_owned(),
        kind: "template",
        content: tpl.to_owned(),
        client_msg_id,
    });
    HttpResponse::Ok().json(json!({ "errcode": 0, "errmsg": "ok", "msgid": msgid }))
}

async fn custom_send(
    mock: web::Data<MockWechat>,
    q: web::Query<TokenQuery>,
    body: web::Json<Value>,
) -> HttpResponse {
    if mock.take_busy() {
        return err(-1, "system error");
    }
    if !mock.token_ok(q.access_token.as_deref()) {
        return err(40001, "invalid credential");
    }
    let to = body
        .get("touser")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let content = body
        .pointer("/text/content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if to.is_empty() || content.is_empty() {
        return err(44002, "empty post data");
    }
    mock.state().outbox.push(SentMessage {
        to: to.to_owned(),
        kind: "text",
        content: content.to_owned(),
        client_msg_id: None,
    });
    err(0, "ok")
}

/// Register the mock under `/sandbox/wechat-api`; it answers only while
/// `web::Data<MockWechat>` is registered (sandbox mode, tests).
pub fn configure_mock(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/sandbox/wechat-api")
            .guard(actix_web::guard::fn_guard(|ctx| {
                ctx.app_data::<web::Data<MockWechat>>().is_some()
            }))
            .route("/cgi-bin/stable_token", web::post().to(stable_token))
            .route("/cgi-bin/qrcode/create", web::post().to(qrcode_create))
            .route(
                "/sns/oauth2/access_token",
                web::get().to(oauth_access_token),
            )
            .route(
                "/cgi-bin/message/template/send",
                web::post().to(template_send),
            )
            .route("/cgi-bin/message/custom/send", web::post().to(custom_send)),
    );
}
