//! One SCAN push in safe mode, end to end on one core: verify `signature` and
//! `msg_signature`, decrypt, parse, and build the encrypted text reply.
//! Target: at least 20,000 events per second.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use secrecy::SecretString;
use vanguard::wechat::callback::{CallbackQuery, open_push, render_reply};
use vanguard::wechat::crypto::AesKey;
use vanguard::wechat::settings::WechatSettings;
use vanguard::wechat::signature::sign;
use vanguard::wechat::xml;

const TOKEN: &str = "pamtest";
const APPID: &str = "wxb11529c136998cb6";
const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

fn bench(c: &mut Criterion) {
    let settings = WechatSettings {
        app_id: Some(APPID.into()),
        app_secret: Some(SecretString::from("secret")),
        token: Some(SecretString::from(TOKEN)),
        encoding_aes_key: Some(SecretString::from(KEY)),
        ..Default::default()
    };
    let cfg = Arc::new(
        settings
            .resolve(SecretString::from(TOKEN), "http://127.0.0.1:8080")
            .expect("valid bench settings"),
    );
    let now = 1_714_037_059_i64;
    let ts = now.to_string();
    let nonce = "486452656";
    let inner = xml::push_document(&[
        ("ToUserName", "gh_7f083739789a"),
        ("FromUserName", "oia2TjuEGTNoeX76QEjQNrcURxG8"),
        ("CreateTime", &ts),
        ("MsgType", "event"),
        ("Event", "SCAN"),
        ("EventKey", "ci.01J9Z3V6Q8.2891.k3Jd8s0QpLm2"),
        (
            "Ticket",
            "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw==",
        ),
    ]);
    let encrypt = AesKey::from_encoding_aes_key(KEY)
        .expect("key")
        .encrypt(inner.as_bytes(), APPID);
    let body = format!(
        "<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    );
    let query = format!(
        "signature={}&timestamp={ts}&nonce={nonce}&openid=oia2TjuEGTNoeX76QEjQNrcURxG8&encrypt_type=aes&msg_signature={}",
        sign(&[TOKEN, &ts, nonce]),
        sign(&[TOKEN, &ts, nonce, &encrypt])
    );

    let mut group = c.benchmark_group("wechat");
    group.throughput(Throughput::Elements(1));
    group.bench_function("scan_safe_mode_verify_decrypt_parse_reply", |b| {
        b.iter(|| {
            let q = CallbackQuery::parse(black_box(&query)).expect("query");
            let push = open_push(&cfg, &q, black_box(body.as_bytes()), now).expect("push");
            let reply = render_reply(&cfg, &push, Some("签到成功：按时 +5 分"), now);
            black_box(reply)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
