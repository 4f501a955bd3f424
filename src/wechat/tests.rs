//! Gateway and client behaviour over HTTP: the callback through `actix_web::test`,
//! the client against the API mock on its own server, Redis for "two instances".
//!
//! Redis tests use `VANGUARD_TEST_REDIS_URL` (failing if it is unreachable), else
//! try `redis://127.0.0.1:6379` and skip with a note when nothing listens there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::{App, HttpServer, test, web};
use async_trait::async_trait;
use secrecy::SecretString;

use super::callback::{self, InboundEvent, MessageHandler, Timing, WechatGateway};
use super::client::{ApiClient, ApiError};
use super::crypto::AesKey;
use super::mock::{MockWechat, configure_mock};
use super::settings::{ResolvedSettings, WechatSettings};
use super::signature::sign;
use super::types::{OpenId, SceneStr};
use super::xml::{self, MessageKind};
use crate::store::memory::MemoryStore;
use crate::store::redis::RedisStore;
use crate::store::{LiveStore, SharedStore};

pub(crate) const TOKEN: &str = "pamtest";
pub(crate) const APPID: &str = "wxb11529c136998cb6";
pub(crate) const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
pub(crate) const PREV_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

pub(crate) fn settings(api_base: &str, keys: bool) -> Arc<ResolvedSettings> {
    let w = WechatSettings {
        app_id: Some(APPID.into()),
        app_secret: Some(SecretString::from("app-secret")),
        token: Some(SecretString::from(TOKEN)),
        encoding_aes_key: keys.then(|| SecretString::from(KEY)),
        encoding_aes_key_previous: keys.then(|| SecretString::from(PREV_KEY)),
        // With keys: compatible mode, so one gateway takes both kinds of push.
        message_mode: keys.then_some(super::settings::MessageMode::Compatible),
        api_base: api_base.into(),
        ..Default::default()
    };
    Arc::new(
        w.resolve(SecretString::from(TOKEN), "http://127.0.0.1:1")
            .unwrap(),
    )
}

/// Counts calls; replies with the scene, after an optional delay.
#[derive(Default)]
pub(crate) struct CountingHandler {
    pub calls: AtomicUsize,
    pub delay: Duration,
    pub fail: bool,
    pub panic: bool,
}

#[async_trait]
impl MessageHandler for CountingHandler {
    async fn handle(&self, event: &InboundEvent) -> anyhow::Result<Option<String>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        if self.panic {
            panic!("handler bug");
        }
        if self.fail {
            anyhow::bail!("database down");
        }
        Ok(match event.kind() {
            MessageKind::Unsubscribe => None,
            _ => Some(format!(
                "签到成功：{}",
                event.scene().map(SceneStr::as_str).unwrap_or("无")
            )),
        })
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn scan_xml(openid: &str, scene: &str, create_time: i64) -> String {
    xml::push_document(&[
        ("ToUserName", "gh_7f083739789a"),
        ("FromUserName", openid),
        ("CreateTime", &create_time.to_string()),
        ("MsgType", "event"),
        ("Event", "SCAN"),
        ("EventKey", scene),
        ("Ticket", "TICKET"),
    ])
}

/// Query string and body of a plaintext push.
fn plain_push(body: &str, ts: i64, nonce: &str) -> (String, String) {
    let ts = ts.to_string();
    let sig = sign(&[TOKEN, &ts, nonce]);
    (
        format!("/wechat/callback?signature={sig}&timestamp={ts}&nonce={nonce}"),
        body.to_owned(),
    )
}

/// Query string and body of a safe-mode push sealed with `key`.
fn safe_push(inner: &str, key: &str, ts: i64, nonce: &str) -> (String, String) {
    let encrypt = AesKey::from_encoding_aes_key(key)
        .unwrap()
        .encrypt(inner.as_bytes(), APPID);
    safe_push_raw(&encrypt, ts, nonce)
}

fn safe_push_raw(encrypt: &str, ts: i64, nonce: &str) -> (String, String) {
    let ts_s = ts.to_string();
    let sig = sign(&[TOKEN, &ts_s, nonce]);
    let msig = sign(&[TOKEN, &ts_s, nonce, encrypt]);
    let body = format!(
        "<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    );
    (
        format!(
            "/wechat/callback?signature={sig}&timestamp={ts_s}&nonce={nonce}&openid=o1&encrypt_type=aes&msg_signature={msig}"
        ),
        body,
    )
}

fn gateway(
    store: SharedStore,
    handler: Arc<CountingHandler>,
    api_base: &str,
    keys: bool,
) -> WechatGateway {
    let s = settings(api_base, keys);
    let client = ApiClient::new(s.clone(), store.clone()).unwrap();
    WechatGateway::new(s, store, handler, client)
}

macro_rules! app {
    ($gw:expr) => {
        test::init_service(
            App::new()
                .app_data(web::Data::new($gw))
                .configure(callback::configure_callback),
        )
        .await
    };
}

/// POST a (uri, body) pair; returns (status, body text).
macro_rules! post {
    ($app:expr, $req:expr) => {{
        let (uri, body): &(String, String) = $req;
        let req = test::TestRequest::post()
            .uri(uri)
            .set_payload(body.clone())
            .to_request();
        let resp = test::call_service($app, req).await;
        let status = resp.status().as_u16();
        let body = test::read_body(resp).await;
        (status, String::from_utf8_lossy(&body).into_owned())
    }};
}

fn reply_content(body: &str) -> String {
    xml::parse_fields(body.as_bytes())
        .unwrap()
        .get("Content")
        .unwrap()
        .to_owned()
}

/// Open an encrypted reply with `key`, checking its MsgSignature.
fn open_reply(body: &str, key: &str) -> Result<String, String> {
    let f = xml::parse_fields(body.as_bytes()).unwrap();
    let enc = f.get("Encrypt").unwrap();
    let ts = f.get("TimeStamp").unwrap();
    let nonce = f.get("Nonce").unwrap();
    assert_eq!(
        f.get("MsgSignature").unwrap(),
        sign(&[TOKEN, ts, nonce, enc])
    );
    assert!(ts.len() <= 10, "TimeStamp must be seconds");
    AesKey::from_encoding_aes_key(key)
        .unwrap()
        .decrypt(enc, APPID)
        .map(|m| String::from_utf8(m).unwrap())
        .map_err(|e| e.code().to_owned())
}

// ---------------------------------------------------------------- callback

#[actix_web::test]
async fn get_verification_echoes_verbatim() {
    let h = Arc::new(CountingHandler::default());
    let app = app!(gateway(
        Arc::new(MemoryStore::new()),
        h,
        "http://127.0.0.1:1",
        false
    ));
    let sig = sign(&[TOKEN, "1714037059", "486452656"]);
    let req = test::TestRequest::get()
        .uri(&format!(
            "/wechat/callback?signature={sig}&timestamp=1714037059&nonce=486452656&echostr=5927782489442352469"
        ))
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(test::read_body(resp).await, "5927782489442352469");
    let req = test::TestRequest::get()
        .uri("/wechat/callback?signature=00&timestamp=1714037059&nonce=486452656&echostr=x")
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(test::read_body(resp).await, "bad_signature");
}

#[actix_web::test]
async fn plaintext_scan_gets_text_reply() {
    let h = Arc::new(CountingHandler::default());
    let app = app!(gateway(
        Arc::new(MemoryStore::new()),
        h.clone(),
        "http://127.0.0.1:1",
        false
    ));
    let (status, body) = post!(
        &app,
        &plain_push(&scan_xml("o1", "ci.S1.7.abc", now()), now(), "11")
    );
    assert_eq!(status, 200, "{body}");
    let f = xml::parse_fields(body.as_bytes()).unwrap();
    assert_eq!(f.get("ToUserName"), Some("o1"));
    assert_eq!(f.get("FromUserName"), Some("gh_7f083739789a"));
    assert_eq!(f.get("MsgType"), Some("text"));
    assert_eq!(f.get("Content"), Some("签到成功：ci.S1.7.abc"));
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn other_kinds_and_empty_replies_get_success() {
    let h = Arc::new(CountingHandler::default());
    let app = app!(gateway(
        Arc::new(MemoryStore::new()),
        h.clone(),
        "http://127.0.0.1:1",
        false
    ));
    let doc = xml::push_document(&[
        ("ToUserName", "gh"),
        ("FromUserName", "o1"),
        ("CreateTime", &now().to_string()),
        ("MsgType", "image"),
        ("PicUrl", "http://x"),
        ("MsgId", "42"),
    ]);
    assert_eq!(
        post!(&app, &plain_push(&doc, now(), "1")),
        (200, "success".into())
    );
    assert_eq!(
        h.calls.load(Ordering::SeqCst),
        0,
        "Other kinds never reach the handler"
    );
    let doc = xml::push_document(&[
        ("ToUserName", "gh"),
        ("FromUserName", "o1"),
        ("CreateTime", &now().to_string()),
        ("MsgType", "event"),
        ("Event", "unsubscribe"),
    ]);
    assert_eq!(
        post!(&app, &plain_push(&doc, now(), "2")),
        (200, "success".into())
    );
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
}

fn gateway_in(mode: super::settings::MessageMode, handler: Arc<CountingHandler>) -> WechatGateway {
    let w = WechatSettings {
        app_id: Some(APPID.into()),
        app_secret: Some(SecretString::from("app-secret")),
        token: Some(SecretString::from(TOKEN)),
        encoding_aes_key: Some(SecretString::from(KEY)),
        message_mode: Some(mode),
        ..Default::default()
    };
    let s = Arc::new(
        w.resolve(SecretString::from(TOKEN), "http://127.0.0.1:1")
            .unwrap(),
    );
    let store: SharedStore = Arc::new(MemoryStore::new());
    let client = ApiClient::new(s.clone(), store.clone()).unwrap();
    WechatGateway::new(s, store, handler, client)
}

/// Finding 1 (issue 13): with a key set, a plaintext push (whose signature does not
/// cover its body) is refused unless the mode is compatible, and never reaches the handler.
#[actix_web::test]
async fn safe_mode_refuses_plaintext_push_and_each_mode_takes_only_its_pushes() {
    use super::settings::MessageMode::{Compatible, Plaintext, Safe};
    for (mode, plain_ok, sealed_ok) in [
        (Safe, false, true),
        (Compatible, true, true),
        (Plaintext, true, false),
    ] {
        let h = Arc::new(CountingHandler::default());
        let app = app!(gateway_in(mode, h.clone()));
        let (status, body) = post!(
            &app,
            &plain_push(&scan_xml("o1", "ci.P", now()), now(), "31")
        );
        if plain_ok {
            assert_eq!(status, 200, "{mode:?}: {body}");
        } else {
            assert_eq!(
                (status, body.as_str()),
                (403, "plaintext_refused"),
                "{mode:?}"
            );
        }
        let (status, body) = post!(
            &app,
            &safe_push(&scan_xml("o1", "ci.S", now()), KEY, now(), "32")
        );
        if sealed_ok {
            assert_eq!(status, 200, "{mode:?}: {body}");
        } else {
            assert_eq!((status, body.as_str()), (400, "no_aes_key"), "{mode:?}");
        }
        let expected = usize::from(plain_ok) + usize::from(sealed_ok);
        assert_eq!(
            h.calls.load(Ordering::SeqCst),
            expected,
            "{mode:?}: refused pushes change nothing"
        );
    }
}

#[actix_web::test]
async fn safe_mode_round_trip_and_key_rotation() {
    let h = Arc::new(CountingHandler::default());
    let app = app!(gateway(
        Arc::new(MemoryStore::new()),
        h.clone(),
        "http://127.0.0.1:1",
        true
    ));
    let inner = scan_xml("o1", "ci.A", now());
    let (status, body) = post!(&app, &safe_push(&inner, KEY, now(), "21"));
    assert_eq!(status, 200, "{body}");
    let plain = open_reply(&body, KEY).unwrap();
    assert_eq!(reply_content(&plain), "签到成功：ci.A");

    // Sealed with the previous key: accepted, and the reply uses that key.
    let inner = scan_xml("o1", "ci.B", now());
    let (status, body) = post!(&app, &safe_push(&inner, PREV_KEY, now(), "22"));
    assert_eq!(status, 200, "{body}");
    assert!(open_reply(&body, KEY).is_err());
    assert_eq!(
        reply_content(&open_reply(&body, PREV_KEY).unwrap()),
        "签到成功：ci.B"
    );
}

#[actix_web::test]
async fn compatible_mode_body_is_read_from_encrypt() {
    let h = Arc::new(CountingHandler::default());
    let app = app!(gateway(
        Arc::new(MemoryStore::new()),
        h.clone(),
        "http://127.0.0.1:1",
        true
    ));
    let inner = scan_xml("o1", "ci.C", now());
    let encrypt = AesKey::from_encoding_aes_key(KEY)
        .unwrap()
        .encrypt(inner.as_bytes(), APPID);
    let (uri, _) = safe_push_raw(&encrypt, now(), "31");
    // Compatible mode: plain fields (here deliberately different) plus Encrypt.
    let body = inner.replace("ci.C", "ci.FORGED").replace(
        "</xml>",
        &format!("<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"),
    );
    let (status, reply) = post!(&app, &(uri, body));
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply_content(&open_reply(&reply, KEY).unwrap()),
        "签到成功：ci.C"
    );
}

#[actix_web::test]
async fn resends_get_the_same_reply_and_run_once() {
    let h = Arc::new(CountingHandler::default());
    let app = app!(gateway(
        Arc::new(MemoryStore::new()),
        h.clone(),
        "http://127.0.0.1:1",
        false
    ));
    let ct = now() - 3;
    let doc = scan_xml("o1", "ci.R", ct);
    let first = plain_push(&doc, now(), "41");
    let (s1, b1) = post!(&app, &first);
    // Unchanged resend.
    let (s2, b2) = post!(&app, &first);
    // Resend with a fresh timestamp and nonce.
    let (s3, b3) = post!(&app, &plain_push(&doc, now() + 1, "42"));
    assert_eq!((s1, s2, s3), (200, 200, 200));
    assert_eq!(reply_content(&b1), reply_content(&b2));
    assert_eq!(reply_content(&b1), reply_content(&b3));
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
    // A different event (other CreateTime) is new work.
    let (_, b4) = post!(
        &app,
        &plain_push(&scan_xml("o1", "ci.R", ct + 1), now(), "43")
    );
    assert_eq!(reply_content(&b4), "签到成功：ci.R");
    assert_eq!(h.calls.load(Ordering::SeqCst), 2);
}

#[actix_web::test]
async fn replayed_nonce_with_other_body_and_stale_timestamps_are_refused() {
    let h = Arc::new(CountingHandler::default());
    let app = app!(gateway(
        Arc::new(MemoryStore::new()),
        h.clone(),
        "http://127.0.0.1:1",
        false
    ));
    let ts = now();
    let (uri, body) = plain_push(&scan_xml("o1", "ci.X", ts), ts, "51");
    assert_eq!(post!(&app, &(uri.clone(), body)).0, 200);
    let forged = scan_xml("o2", "ci.X", ts);
    assert_eq!(post!(&app, &(uri, forged)), (403, "replayed_nonce".into()));
    let old = now() - 301;
    let (status, body) = post!(&app, &plain_push(&scan_xml("o1", "ci.Y", old), old, "52"));
    assert_eq!((status, body.as_str()), (403, "stale_timestamp"));
    let future = now() + 400;
    assert_eq!(
        post!(
            &app,
            &plain_push(&scan_xml("o1", "ci.Y", future), future, "53")
        )
        .0,
        403
    );
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
}

/// In safe mode the body is signed: two different pushes that share a timestamp and a
/// nonce are both genuine and both handled (a plaintext pair reused with another body is
/// refused, above).
#[actix_web::test]
async fn safe_mode_pushes_sharing_a_nonce_are_both_taken() {
    let h = Arc::new(CountingHandler::default());
    let app = app!(gateway(
        Arc::new(MemoryStore::new()),
        h.clone(),
        "http://127.0.0.1:1",
        true
    ));
    let ts = now();
    let (status, first) = post!(&app, &safe_push(&scan_xml("o1", "ci.N", ts), KEY, ts, "77"));
    assert_eq!(status, 200, "{first}");
    let (status, second) = post!(&app, &safe_push(&scan_xml("o1", "ci.M", ts), KEY, ts, "77"));
    assert_eq!(status, 200, "{second}");
    assert_eq!(h.calls.load(Ordering::SeqCst), 2);
    // A forged body under the first push's msg_signature still fails.
    let (uri, _) = safe_push(&scan_xml("o1", "ci.N", ts), KEY, ts, "78");
    let (_, other_body) = safe_push(&scan_xml("o1", "ci.Z", ts), KEY, ts, "78");
    let (status, _) = post!(&app, &(uri, other_body));
    assert!((400..500).contains(&status), "{status}");
    assert_eq!(h.calls.load(Ordering::SeqCst), 2);
}

#[actix_web::test]
async fn bad_input_is_a_4xx_with_a_reason_and_records_nothing() {
    let h = Arc::new(CountingHandler::default());
    let store: SharedStore = Arc::new(MemoryStore::new());
    let app = app!(gateway(store, h.clone(), "http://127.0.0.1:1", true));
    let ts = now();
    let key = AesKey::from_encoding_aes_key(KEY).unwrap();
    let good_inner = scan_xml("o1", "ci.Z", ts);
    let wrong_appid = key.encrypt(good_inner.as_bytes(), "wx0000000000000000");
    let good_ct = key.encrypt(good_inner.as_bytes(), APPID);
    let raw = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(&good_ct)
            .unwrap()
    };
    let b64 = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    // Flip the last ciphertext byte: the final block decrypts to garbage padding.
    let mut bad_pad = raw.clone();
    *bad_pad.last_mut().unwrap() ^= 0x55;
    let dtd = r#"<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><ToUserName>&x;</ToUserName></xml>"#;

    let cases: Vec<((String, String), u16, &str)> = vec![
        (
            plain_push(&"x".repeat(70 * 1024), ts, "61"),
            413,
            "payload_too_large",
        ),
        (
            plain_push("<xml><ToUserName>", ts, "62"),
            400,
            "malformed_xml",
        ),
        (plain_push(dtd, ts, "63"), 400, "xml_dtd"),
        (
            {
                let (uri, body) = plain_push(&good_inner, ts, "64");
                (uri.replace("signature=", "signature=0"), body)
            },
            401,
            "bad_signature",
        ),
        (
            {
                let (uri, body) = safe_push_raw(&good_ct, ts, "65");
                (uri.replace("msg_signature=", "msg_signature=f"), body)
            },
            401,
            "bad_msg_signature",
        ),
        (safe_push_raw(&wrong_appid, ts, "66"), 400, "appid_mismatch"),
        (safe_push_raw("@@not base64@@", ts, "67"), 400, "bad_base64"),
        (
            safe_push_raw(&b64(&raw[..raw.len() - 32]), ts, "68"),
            400,
            "bad_frame",
        ),
        (
            safe_push_raw(&b64(&raw[..raw.len() - 7]), ts, "69"),
            400,
            "truncated_ciphertext",
        ),
        (safe_push_raw(&b64(&bad_pad), ts, "70"), 400, "bad_padding"),
        (
            {
                let (uri, body) = plain_push(&good_inner, ts, "71");
                (uri.replace("&nonce=71", ""), body)
            },
            400,
            "missing_param",
        ),
        (
            {
                let (uri, body) = plain_push(&good_inner, ts, "72");
                (format!("{uri}&encrypt_type=rot13"), body)
            },
            400,
            "unsupported_encrypt_type",
        ),
        (
            {
                let (uri, body) = plain_push(&good_inner, ts, "73");
                (format!("{uri}&openid=someone_else"), body)
            },
            400,
            "openid_mismatch",
        ),
        (
            plain_push("<xml><ToUserName>a</ToUserName></xml>", ts, "74"),
            400,
            "xml_missing_field",
        ),
    ];
    for (req, status, code) in cases {
        let (got_status, got_body) = post!(&app, &req);
        // A truncated frame may fail at the padding or the frame check depending on bytes.
        let ok_code = got_body == code
            || (code == "bad_frame"
                && ["bad_padding", "appid_mismatch"].contains(&got_body.as_str()));
        assert!(
            got_status == status && ok_code,
            "{code}: got {got_status} {got_body}"
        );
    }
    assert_eq!(h.calls.load(Ordering::SeqCst), 0);
}

#[actix_web::test]
async fn slow_handler_replies_success_then_sends_customer_service_message() {
    let (mock, base) = start_mock().await;
    let h = Arc::new(CountingHandler {
        delay: Duration::from_millis(600),
        ..Default::default()
    });
    let gw = gateway(Arc::new(MemoryStore::new()), h.clone(), &base, false).with_timing(Timing {
        handler_deadline: Duration::from_millis(150),
        inflight_wait: Duration::from_millis(200),
        inflight_ttl: Duration::from_secs(5),
    });
    let app = app!(gw);
    let doc = scan_xml("oslow", "ci.SLOW", now());
    let started = std::time::Instant::now();
    let (status, body) = post!(&app, &plain_push(&doc, now(), "81"));
    assert_eq!((status, body.as_str()), (200, "success"));
    assert!(started.elapsed() < Duration::from_millis(500));
    // A resend after the deadline must not produce a second message.
    assert_eq!(post!(&app, &plain_push(&doc, now(), "82")).1, "success");
    for _ in 0..100 {
        if !mock.outbox_for("oslow").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = mock.outbox_for("oslow");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, "text");
    assert_eq!(sent[0].content, "签到成功：ci.SLOW");
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn resend_while_in_flight_waits_for_the_first_reply() {
    let h = Arc::new(CountingHandler {
        delay: Duration::from_millis(300),
        ..Default::default()
    });
    let gw = Arc::new(gateway(
        Arc::new(MemoryStore::new()),
        h.clone(),
        "http://127.0.0.1:1",
        false,
    ));
    let doc = scan_xml("o1", "ci.W", now());
    let q1 =
        callback::CallbackQuery::parse(plain_push(&doc, now(), "91").0.split_once('?').unwrap().1)
            .unwrap();
    let q2 =
        callback::CallbackQuery::parse(plain_push(&doc, now(), "92").0.split_once('?').unwrap().1)
            .unwrap();
    let (a, b) = tokio::join!(
        gw.handle_push(&q1, doc.as_bytes(), chrono::Utc::now()),
        async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            gw.handle_push(&q2, doc.as_bytes(), chrono::Utc::now())
                .await
        }
    );
    assert_eq!(reply_content(&a.unwrap()), "签到成功：ci.W");
    assert_eq!(reply_content(&b.unwrap()), "签到成功：ci.W");
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
}

/// A resend landing on the instance that runs the first copy is woken when the reply
/// exists, not at its next poll of the live store (polls were 10, 20, 40, 80, 100 ms
/// apart: tens of milliseconds added to every in-flight resend of a storm).
#[actix_web::test]
async fn resend_on_the_owners_instance_is_answered_when_the_first_copy_ends() {
    let h = Arc::new(CountingHandler {
        delay: Duration::from_millis(350),
        ..Default::default()
    });
    let gw = Arc::new(gateway(
        Arc::new(MemoryStore::new()),
        h.clone(),
        "http://127.0.0.1:1",
        false,
    ));
    let doc = scan_xml("o1", "ci.WAKE", now());
    let query = |nonce: &str| {
        callback::CallbackQuery::parse(plain_push(&doc, now(), nonce).0.split_once('?').unwrap().1)
            .unwrap()
    };
    let (q1, q2) = (query("95"), query("96"));
    let (first, resend) = tokio::join!(
        async {
            let r = gw
                .handle_push(&q1, doc.as_bytes(), chrono::Utc::now())
                .await;
            (r, std::time::Instant::now())
        },
        async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let r = gw
                .handle_push(&q2, doc.as_bytes(), chrono::Utc::now())
                .await;
            (r, std::time::Instant::now())
        }
    );
    assert_eq!(reply_content(&first.0.unwrap()), "签到成功：ci.WAKE");
    assert_eq!(reply_content(&resend.0.unwrap()), "签到成功：ci.WAKE");
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
    // Polling would have seen the reply at 400 ms at the earliest (50 ms after it).
    let lag = resend.1.saturating_duration_since(first.1);
    assert!(
        lag < Duration::from_millis(35),
        "resend answered {lag:?} after the first"
    );
}

/// Found by the chaos run (scripts/chaos.sh): an instance killed mid-scan left its
/// in-flight marker for 30 s, so all of WeChat's retries (5 s apart, on the other
/// instance) answered `success` with nothing done. A resend takes the event over once
/// the dead owner's marker lapses.
#[actix_web::test]
async fn resend_takes_over_an_event_whose_first_copy_died_in_flight() {
    let store: SharedStore = Arc::new(MemoryStore::new());
    let h = Arc::new(CountingHandler::default());
    let gw = gateway(store.clone(), h.clone(), "http://127.0.0.1:1", false).with_timing(Timing {
        handler_deadline: Duration::from_millis(400),
        inflight_wait: Duration::from_millis(1500),
        inflight_ttl: Duration::from_millis(300),
    });
    let doc = scan_xml("odead", "ci.DEAD", now());
    // The first copy's instance claimed the event and died before replying.
    let event = xml::InboundMessage::parse(doc.as_bytes()).unwrap();
    let key = format!("wx:event:{}", event.dedup_key());
    assert!(
        store
            .set_nx(&key, b"Pdead-instance", Duration::from_millis(300))
            .await
            .unwrap()
    );
    let app = app!(gw);
    let (status, body) = post!(&app, &plain_push(&doc, now(), "111"));
    assert_eq!(status, 200);
    assert_eq!(reply_content(&body), "签到成功：ci.DEAD");
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
    // Its reply is now the event's: a later resend gets it without another call.
    let (_, again) = post!(&app, &plain_push(&doc, now(), "112"));
    assert_eq!(reply_content(&again), "签到成功：ci.DEAD");
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn the_in_flight_marker_lapses_soon_after_the_handlers_deadline() {
    let t = Timing::default();
    assert!(t.inflight_ttl > t.handler_deadline);
    // WeChat resends 5 s apart: its second retry must find a dead owner's marker gone.
    assert!(t.inflight_ttl < Duration::from_secs(10));
}

#[actix_web::test]
async fn failing_or_panicking_handler_gets_busy_reply_not_500() {
    for (fail, panic) in [(true, false), (false, true)] {
        let h = Arc::new(CountingHandler {
            fail,
            panic,
            ..Default::default()
        });
        let app = app!(gateway(
            Arc::new(MemoryStore::new()),
            h.clone(),
            "http://127.0.0.1:1",
            false
        ));
        let doc = scan_xml("o1", "ci.F", now());
        let (status, body) = post!(&app, &plain_push(&doc, now(), "101"));
        assert_eq!(status, 200);
        assert_eq!(reply_content(&body), "系统繁忙，请稍后再试。");
        // Not cached: the next scan runs the handler again.
        post!(&app, &plain_push(&doc, now(), "102"));
        assert_eq!(h.calls.load(Ordering::SeqCst), 2);
    }
}

use crate::store::down::DownStore;

#[actix_web::test]
async fn store_down_fails_open_to_the_handler() {
    let h = Arc::new(CountingHandler::default());
    let app = app!(gateway(
        Arc::new(DownStore),
        h.clone(),
        "http://127.0.0.1:1",
        false
    ));
    let doc = scan_xml("o1", "ci.D", now());
    let (status, body) = post!(&app, &plain_push(&doc, now(), "111"));
    assert_eq!(status, 200);
    assert_eq!(reply_content(&body), "签到成功：ci.D");
    // Without the store the resend reaches the (idempotent) handler again.
    post!(&app, &plain_push(&doc, now(), "111"));
    assert_eq!(h.calls.load(Ordering::SeqCst), 2);
}

// ---------------------------------------------------------------- redis: two instances

pub(crate) async fn redis_store() -> Option<RedisStore> {
    let prefix = format!("vg-test-wx-{}:", uuid::Uuid::new_v4().simple());
    match std::env::var("VANGUARD_TEST_REDIS_URL") {
        Ok(url) => Some(
            RedisStore::connect(&url, &prefix)
                .await
                .expect("VANGUARD_TEST_REDIS_URL is set but Redis is unreachable"),
        ),
        Err(_) => match RedisStore::connect("redis://127.0.0.1:6379", &prefix).await {
            Ok(s) if s.ping().await.is_ok() => Some(s),
            _ => {
                eprintln!("note: no Redis at 127.0.0.1:6379: skipping a two-instance test");
                None
            }
        },
    }
}

#[actix_web::test]
async fn two_gateways_sharing_redis_run_the_handler_once() {
    let Some(store) = redis_store().await else {
        return;
    };
    let store: SharedStore = Arc::new(store);
    let h = Arc::new(CountingHandler {
        delay: Duration::from_millis(200),
        ..Default::default()
    });
    // Two instances: their own gateway and client, one Redis, one database (the handler).
    let a = Arc::new(gateway(
        store.clone(),
        h.clone(),
        "http://127.0.0.1:1",
        true,
    ));
    let b = Arc::new(gateway(
        store.clone(),
        h.clone(),
        "http://127.0.0.1:1",
        true,
    ));
    let doc = scan_xml("o1", "ci.TWO", now());
    let (u1, body1) = safe_push(&doc, KEY, now(), "121");
    let (u2, body2) = safe_push(&doc, KEY, now(), "122");
    let q1 = callback::CallbackQuery::parse(u1.split_once('?').unwrap().1).unwrap();
    let q2 = callback::CallbackQuery::parse(u2.split_once('?').unwrap().1).unwrap();
    // Concurrent copies on both instances, then a late resend on the second.
    let (r1, r2) = tokio::join!(
        a.handle_push(&q1, body1.as_bytes(), chrono::Utc::now()),
        b.handle_push(&q2, body2.as_bytes(), chrono::Utc::now())
    );
    let r3 = b
        .handle_push(&q1, body1.as_bytes(), chrono::Utc::now())
        .await;
    for r in [r1, r2, r3] {
        assert_eq!(
            reply_content(&open_reply(&r.unwrap(), KEY).unwrap()),
            "签到成功：ci.TWO"
        );
    }
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
    // A plaintext push seen by instance A is a replay on instance B when the body
    // differs (in plaintext mode the signature does not cover the body).
    let ts = now();
    let (uri, body) = plain_push(&scan_xml("o9", "ci.P", ts), ts, "123");
    let q = callback::CallbackQuery::parse(uri.split_once('?').unwrap().1).unwrap();
    a.handle_push(&q, body.as_bytes(), chrono::Utc::now())
        .await
        .unwrap();
    let forged = scan_xml("o9", "ci.FORGED", ts);
    assert_eq!(
        b.handle_push(&q, forged.as_bytes(), chrono::Utc::now())
            .await,
        Err(callback::Rejection::Replay)
    );
    // An encrypted body cannot be swapped at all: msg_signature covers it.
    let other = safe_push(&scan_xml("o1", "ci.OTHER", now()), KEY, now(), "121").1;
    assert_eq!(
        b.handle_push(&q1, other.as_bytes(), chrono::Utc::now())
            .await,
        Err(callback::Rejection::BadMsgSignature)
    );
}

// ---------------------------------------------------------------- API client

pub(crate) async fn start_mock() -> (web::Data<MockWechat>, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mock = web::Data::new(MockWechat::new(&format!("http://127.0.0.1:{port}")));
    let data = mock.clone();
    let server =
        HttpServer::new(move || App::new().app_data(data.clone()).configure(configure_mock))
            .workers(1)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run();
    actix_web::rt::spawn(server);
    (mock, format!("http://127.0.0.1:{port}/sandbox/wechat-api"))
}

fn client(store: SharedStore, base: &str) -> ApiClient {
    ApiClient::new(settings(base, false), store).unwrap()
}

fn scene(s: &str) -> SceneStr {
    SceneStr::parse(s).unwrap()
}

#[actix_web::test]
async fn fifty_concurrent_calls_with_an_expired_token_fetch_once() {
    let (mock, base) = start_mock().await;
    let c = client(Arc::new(MemoryStore::new()), &base);
    let calls = (0..50).map(|i| {
        let c = c.clone();
        async move { c.create_temp_qr(&scene(&format!("ci.S.{i}")), 600).await }
    });
    let results = futures_util::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(mock.token_fetches(), 1);
    assert_eq!(mock.qr_created().len(), 50);
    assert!(mock.qr_created().iter().all(|(_, e)| *e == 600));
}

#[actix_web::test]
async fn two_clients_sharing_redis_fetch_once() {
    let Some(store) = redis_store().await else {
        return;
    };
    let store: SharedStore = Arc::new(store);
    let (mock, base) = start_mock().await;
    let a = client(store.clone(), &base);
    let b = client(store.clone(), &base);
    let calls = (0..50).map(|i| {
        let c = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move {
            c.send_custom_text(&OpenId::parse("o1").unwrap(), "hi")
                .await
        }
    });
    let results = futures_util::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(mock.token_fetches(), 1);
}

#[actix_web::test]
async fn rejected_token_is_invalidated_only_if_still_cached_then_retried_once() {
    let (mock, base) = start_mock().await;
    let store: SharedStore = Arc::new(MemoryStore::new());
    let c = client(store.clone(), &base);
    let key = format!("wx:token:{APPID}");

    // Compare-and-invalidate: a newer token cached by someone else survives.
    store.set(&key, b"newer", None).await.unwrap();
    assert!(!c.invalidate_token("older").await);
    assert_eq!(store.get(&key).await.unwrap().unwrap(), b"newer");
    assert!(c.invalidate_token("newer").await);
    assert!(store.get(&key).await.unwrap().is_none());

    // A cached token WeChat no longer accepts (40001): dropped, refreshed, call retried.
    store.set(&key, b"stale-token", None).await.unwrap();
    c.create_temp_qr(&scene("ci.T"), 60).await.unwrap();
    assert_eq!(mock.token_fetches(), 1);
    let fresh = store.get(&key).await.unwrap().unwrap();
    assert_ne!(fresh, b"stale-token");

    // The token expires at WeChat: next call gets 40001 once, refreshes once.
    mock.revoke_current_token();
    c.send_custom_text(&OpenId::parse("o1").unwrap(), "x")
        .await
        .unwrap();
    assert_eq!(mock.token_fetches(), 2);

    // Retry only once: a token still rejected after the refresh is an error, not a loop.
    mock.reject_all_tokens(true);
    let r = c.send_custom_text(&OpenId::parse("o1").unwrap(), "x").await;
    assert!(
        matches!(r, Err(ApiError::Api { errcode: 40001, .. })),
        "{r:?}"
    );
    assert_eq!(mock.token_fetches(), 3);
}

#[actix_web::test]
async fn busy_is_retried_with_bounded_backoff() {
    let (mock, base) = start_mock().await;
    let c = client(Arc::new(MemoryStore::new()), &base);
    c.access_token().await.unwrap();
    mock.fail_next_with_busy(2);
    c.send_custom_text(&OpenId::parse("o1").unwrap(), "x")
        .await
        .unwrap();
    mock.fail_next_with_busy(10);
    let r = c.send_custom_text(&OpenId::parse("o1").unwrap(), "x").await;
    assert!(matches!(r, Err(ApiError::Api { errcode: -1, .. })), "{r:?}");
}

#[actix_web::test]
async fn qr_oauth_template_and_argument_checks() {
    let (mock, base) = start_mock().await;
    let c = client(Arc::new(MemoryStore::new()), &base);
    let t = c
        .create_temp_qr(&scene("ci.S1.12.a1b2"), 120)
        .await
        .unwrap();
    assert!(
        t.url.contains("/sandbox/phone?scene=ci.S1.12.a1b2"),
        "{}",
        t.url
    );
    assert_eq!(t.expire_seconds, 120);
    assert!(matches!(
        c.create_temp_qr(&scene("x"), 0).await,
        Err(ApiError::Invalid(_))
    ));
    assert!(matches!(
        c.create_temp_qr(&scene("x"), 2_592_001).await,
        Err(ApiError::Invalid(_))
    ));

    let who = OpenId::parse("o_member_1").unwrap();
    let code = mock.issue_code(&who);
    assert_eq!(c.oauth_openid(&code).await.unwrap(), who);
    // WeChat's double redirect: the same code again gets the same openid.
    assert_eq!(c.oauth_openid(&code).await.unwrap(), who);
    assert!(matches!(
        c.oauth_openid("nope").await,
        Err(ApiError::Api { errcode: 40029, .. })
    ));

    let data = serde_json::json!({ "first": { "value": "签到成功" } });
    let m1 = c
        .send_template(&who, "TPL", None, &data, "cm-1")
        .await
        .unwrap();
    let m2 = c
        .send_template(&who, "TPL", Some("https://x/y"), &data, "cm-1")
        .await
        .unwrap();
    assert_eq!(m1, m2);
    assert_eq!(mock.outbox_for("o_member_1").len(), 1);
    assert!(matches!(
        c.send_named_template(&who, "missing", None, &data, "cm-2")
            .await,
        Err(ApiError::Invalid(_))
    ));
}

#[actix_web::test]
async fn api_errors_never_leak_secrets() {
    // Nothing listens on port 1: the transport error must not carry the URL.
    let c = client(Arc::new(MemoryStore::new()), "http://127.0.0.1:1");
    let e = c.oauth_openid("some-code").await.unwrap_err();
    let text = e.to_string();
    assert!(
        !text.contains("app-secret") && !text.contains("some-code"),
        "{text}"
    );
}
