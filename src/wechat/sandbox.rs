//! Sandbox: the service plays WeChat for itself when `wechat.sandbox = true` (refused
//! on a non-loopback listen address unless `wechat.sandbox_allow_public = true`).
//!
//! - `GET /sandbox/phone?scene=…&openid=…`: a phone simulator. Choose an openid,
//!   "scan" a QR by its payload, see the reply. It sends exactly what WeChat would
//!   send (signed with `wechat.token`, encrypted in safe mode when a key is set)
//!   over HTTP to this process's own `/wechat/callback`.
//! - `GET /sandbox/oauth?state=…`: the local stand-in for WeChat's OAuth authorize
//!   page; pick an openid and it redirects to `/wechat/oauth/callback` with a code.
//! - `/sandbox/wechat-api/…`: the API mock ([`super::mock`]) the client uses.
//!
//! All of it is only routed while `web::Data<MockWechat>` is registered, which
//! the application does in sandbox mode only.

use std::sync::OnceLock;
use std::time::Duration;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, guard, web};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::callback::WechatGateway;
use super::mock::{MockWechat, configure_mock};

use super::pages::render_page;
use super::settings::{ResolvedSettings, SANDBOX_ACCOUNT};
use super::signature::sign;
use super::types::{OpenId, SceneStr};
use super::xml;

/// Query string (without `?`) and body of a push as WeChat would send `doc`:
/// signed with the token, and sealed with the current key in safe mode.
pub fn simulated_push(
    cfg: &ResolvedSettings,
    doc: &str,
    openid: &OpenId,
    now: i64,
) -> (String, String) {
    let ts = now.to_string();
    // Wide, so thousands of simulated pushes a second do not share one by chance.
    let nonce = rand::random::<u64>().to_string();
    let token = cfg.token.expose_secret();
    let sig = sign(&[token, &ts, &nonce]);
    let mut params = vec![
        ("signature", sig),
        ("timestamp", ts.clone()),
        ("nonce", nonce.clone()),
        ("openid", openid.to_string()),
    ];
    let body = match &cfg.keys {
        Some(keys) => {
            let encrypt = keys.current.encrypt(doc.as_bytes(), &cfg.app_id);
            params.push(("encrypt_type", "aes".into()));
            params.push(("msg_signature", sign(&[token, &ts, &nonce, &encrypt])));
            xml::push_document(&[("ToUserName", SANDBOX_ACCOUNT), ("Encrypt", &encrypt)])
        }
        None => doc.to_owned(),
    };
    (
        serde_urlencoded::to_string(&params).unwrap_or_default(),
        body,
    )
}

/// The text of a callback reply body (`None` for `success`), opening an encrypted
/// envelope with the current key after checking its signature.
pub fn read_reply(cfg: &ResolvedSettings, body: &str) -> Result<Option<String>, String> {
    let body = body.trim();
    if body.is_empty() || body == "success" {
        return Ok(None);
    }
    let f = xml::parse_fields(body.as_bytes()).map_err(|e| e.code().to_owned())?;
    let plain = match (f.get("Encrypt"), &cfg.keys) {
        (Some(enc), Some(keys)) => {
            let ts = f.get("TimeStamp").unwrap_or_default();
            let nonce = f.get("Nonce").unwrap_or_default();
            let expected = sign(&[cfg.token.expose_secret(), ts, nonce, enc]);
            if f.get("MsgSignature") != Some(expected.as_str()) {
                return Err("reply MsgSignature mismatch".into());
            }
            let (msg, _) = keys
                .decrypt(enc, &cfg.app_id)
                .map_err(|e| e.code().to_owned())?;
            let text = String::from_utf8(msg).map_err(|_| "reply is not UTF-8".to_owned())?;
            xml::parse_fields(text.as_bytes()).map_err(|e| e.code().to_owned())?
        }
        _ => f,
    };
    Ok(plain.get("Content").map(str::to_owned))
}

fn http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        super::tls::install_tls_provider();
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new())
    })
}

#[derive(Deserialize, Default)]
struct PhoneQuery {
    scene: Option<String>,
    openid: Option<String>,
}

fn later_messages(mock: &MockWechat, openid: &str) -> Vec<String> {
    mock.outbox_for(openid)
        .into_iter()
        .rev()
        .take(5)
        .map(|m| match m.kind {
            "template" => format!("[模板消息] {}", m.content),
            _ => m.content,
        })
        .collect()
}

/// The simulated member last chosen on this browser: the QR's URL (which names no
/// member) and the OAuth page keep acting as them.
const CHOSEN_COOKIE: &str = "sandbox_openid";

fn chosen(req: &actix_web::HttpRequest, given: Option<&str>) -> String {
    given
        .map(str::to_owned)
        .or_else(|| req.cookie(CHOSEN_COOKIE).map(|c| c.value().to_owned()))
        .filter(|o| OpenId::parse(o).is_ok())
        .unwrap_or_else(|| "sandbox-member-1".into())
}

fn remember(resp: &mut HttpResponse, openid: &str) {
    let cookie = actix_web::cookie::Cookie::build(CHOSEN_COOKIE, openid.to_owned())
        .path("/sandbox")
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Lax)
        .finish();
    let _ = resp.add_cookie(&cookie);
}

async fn phone_page(
    req: actix_web::HttpRequest,
    q: web::Query<PhoneQuery>,
    gw: web::Data<WechatGateway>,
    mock: web::Data<MockWechat>,
) -> HttpResponse {
    let openid = chosen(&req, q.openid.as_deref());
    let mut resp = render_page(
        StatusCode::OK,
        "phone.html",
        minijinja::context! {
            title => "手机模拟器",
            later => later_messages(&mock, &openid),
            openid => openid,
            scene => q.scene.clone().unwrap_or_default(),
            encrypted => gw.settings().keys.is_some(),
        },
    );
    if q.openid.is_some() {
        remember(&mut resp, &chosen(&req, q.openid.as_deref()));
    }
    resp
}

#[derive(Deserialize)]
struct PhoneForm {
    openid: String,
    #[serde(default)]
    scene: String,
    #[serde(default)]
    text: String,
    action: String,
}

async fn phone_submit(
    form: web::Form<PhoneForm>,
    gw: web::Data<WechatGateway>,
    mock: web::Data<MockWechat>,
) -> HttpResponse {
    let cfg = gw.settings();
    let page = |sent: &str, reply: Option<String>, error: Option<String>| {
        render_page(
            if error.is_some() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            },
            "phone.html",
            minijinja::context! {
                title => "手机模拟器",
                openid => form.openid.clone(),
                scene => form.scene.clone(),
                encrypted => cfg.keys.is_some(),
                sent => sent,
                reply => reply,
                error => error,
                later => later_messages(&mock, form.openid.trim()),
            },
        )
    };
    let Ok(openid) = OpenId::parse(form.openid.trim()) else {
        return page(
            "",
            None,
            Some("openid 只能包含字母、数字、下划线和连字符（最多 64 个）。".into()),
        );
    };
    let now = chrono::Utc::now().timestamp();
    let now_s = now.to_string();
    let scene = form.scene.trim();
    let (doc, sent) = match form.action.as_str() {
        "scan" | "subscribe" => {
            if SceneStr::parse(scene).is_err() {
                return page("", None, Some("二维码内容需为 1 到 64 个字符。".into()));
            }
            let subscribe = form.action == "subscribe";
            let key = if subscribe {
                format!("qrscene_{scene}")
            } else {
                scene.to_owned()
            };
            let doc = xml::push_document(&[
                ("ToUserName", SANDBOX_ACCOUNT),
                ("FromUserName", openid.as_str()),
                ("CreateTime", &now_s),
                ("MsgType", "event"),
                ("Event", if subscribe { "subscribe" } else { "SCAN" }),
                ("EventKey", &key),
                ("Ticket", "sandbox-ticket"),
            ]);
            (
                doc,
                format!(
                    "{} {scene}",
                    if subscribe {
                        "关注并扫码"
                    } else {
                        "扫码"
                    }
                ),
            )
        }
        "text" if !form.text.trim().is_empty() => {
            let msg_id = rand::random::<u32>().to_string();
            let doc = xml::push_document(&[
                ("ToUserName", SANDBOX_ACCOUNT),
                ("FromUserName", openid.as_str()),
                ("CreateTime", &now_s),
                ("MsgType", "text"),
                ("Content", form.text.trim()),
                ("MsgId", &msg_id),
            ]);
            (doc, format!("文字：{}", form.text.trim()))
        }
        _ => return page("", None, Some("请选择操作并填写内容。".into())),
    };
    let (query, body) = simulated_push(cfg, &doc, &openid, now);
    let url = format!("{}/wechat/callback?{query}", cfg.local_base_url);
    let resp = http()
        .post(&url)
        .header(header::CONTENT_TYPE.as_str(), "text/xml; charset=utf-8")
        .body(body)
        .send()
        .await;
    let (status, text) = match resp {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(e) => {
            return page(
                &sent,
                None,
                Some(format!("无法连接回调地址：{}", e.without_url())),
            );
        }
    };
    if status != 200 {
        return page(&sent, None, Some(format!("回调返回 HTTP {status}：{text}")));
    }
    let mut resp = match read_reply(cfg, &text) {
        Ok(reply) => page(&sent, reply, None),
        Err(e) => page(&sent, None, Some(format!("无法解析回复：{e}"))),
    };
    remember(&mut resp, openid.as_str());
    resp
}

#[derive(Deserialize)]
struct OauthQuery {
    state: Option<String>,
    openid: Option<String>,
}

async fn oauth_page(req: actix_web::HttpRequest, q: web::Query<OauthQuery>) -> HttpResponse {
    render_page(
        StatusCode::OK,
        "sandbox_oauth.html",
        minijinja::context! {
            title => "模拟网页授权",
            state => q.state.clone().unwrap_or_default(),
            openid => chosen(&req, q.openid.as_deref()),
            recent => vec!["sandbox-member-1", "sandbox-member-2", "sandbox-member-3"],
        },
    )
}

#[derive(Deserialize)]
struct OauthForm {
    state: String,
    openid: String,
}

async fn oauth_submit(form: web::Form<OauthForm>, mock: web::Data<MockWechat>) -> HttpResponse {
    let Ok(openid) = OpenId::parse(form.openid.trim()) else {
        return render_page(
            StatusCode::BAD_REQUEST,
            "notice.html",
            minijinja::context! { title => "模拟网页授权", message => "openid 格式不正确。", error => true },
        );
    };
    let code = mock.issue_code(&openid);
    let q = serde_urlencoded::to_string([("code", code.as_str()), ("state", form.state.as_str())])
        .unwrap_or_default();
    // Relative: the sandbox never redirects off-site.
    HttpResponse::Found()
        .insert_header((header::LOCATION, format!("/wechat/oauth/callback?{q}")))
        .finish()
}

/// Register the sandbox pages and the API mock; they answer only while
/// `web::Data<MockWechat>` is registered (sandbox mode). Needs `web::Data<WechatGateway>`.
pub fn configure_sandbox(cfg: &mut web::ServiceConfig) {
    let in_sandbox = || guard::fn_guard(|ctx| ctx.app_data::<web::Data<MockWechat>>().is_some());
    cfg.service(
        web::resource("/sandbox/phone")
            .guard(in_sandbox())
            .route(web::get().to(phone_page))
            .route(web::post().to(phone_submit)),
    )
    .service(
        web::resource("/sandbox/oauth")
            .guard(in_sandbox())
            .route(web::get().to(oauth_page))
            .route(web::post().to(oauth_submit)),
    );
    configure_mock(cfg);
}
