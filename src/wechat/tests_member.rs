//! Member sign-in (OAuth in the sandbox, session cookie, binding and its
//! cool-down) and the phone simulator end to end over real HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::cookie::Cookie;
use actix_web::{App, HttpResponse, HttpServer, test, web};
use async_trait::async_trait;
use secrecy::SecretString;

use super::member::{
    BindError, MemberDirectory, MemberSession, MemberSignIn, PersonRef, SESSION_COOKIE,
};
use super::tests::{CountingHandler, start_mock};
use super::{ApiClient, MockWechat, OpenId, WechatGateway, WechatSettings, configure};
use crate::store::SharedStore;
use crate::store::memory::MemoryStore;

#[derive(Default)]
struct Roster {
    bound: Mutex<HashMap<String, String>>,
}

#[async_trait]
impl MemberDirectory for Roster {
    async fn person_for_openid(&self, openid: &OpenId) -> anyhow::Result<Option<PersonRef>> {
        Ok(self
            .bound
            .lock()
            .unwrap()
            .get(openid.as_str())
            .map(|id| PersonRef {
                id: id.clone(),
                name: "张三".into(),
            }))
    }
    async fn bind(&self, openid: &OpenId, name: &str, phone: &str) -> Result<PersonRef, BindError> {
        if name == "张三" && phone == "13800000000" {
            self.bound
                .lock()
                .unwrap()
                .insert(openid.as_str().into(), "P1".into());
            Ok(PersonRef {
                id: "P1".into(),
                name: name.into(),
            })
        } else {
            Err(BindError::NoMatch)
        }
    }
}

fn sandbox_settings(api_base: &str, local: &str, keys: bool) -> Arc<super::ResolvedSettings> {
    let w = WechatSettings {
        sandbox: true,
        api_base: api_base.into(),
        encoding_aes_key: keys.then(|| SecretString::from(super::tests::KEY)),
        ..Default::default()
    };
    Arc::new(
        w.resolve(SecretString::from("sandboxtoken"), local)
            .unwrap(),
    )
}

async fn score(who: MemberSession) -> HttpResponse {
    HttpResponse::Ok().body(format!("score of {}", who.openid))
}

fn location(resp: &actix_web::dev::ServiceResponse) -> String {
    resp.headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

fn set_cookie(resp: &actix_web::dev::ServiceResponse, name: &str) -> Option<Cookie<'static>> {
    resp.response()
        .cookies()
        .find(|c| c.name() == name)
        .map(|c| c.into_owned())
}

#[actix_web::test]
async fn sandbox_oauth_then_bind_then_member_pages() {
    let (mock, base) = start_mock().await;
    let store: SharedStore = Arc::new(MemoryStore::new());
    let settings = sandbox_settings(&base, "http://127.0.0.1:1", false);
    let client = ApiClient::new(settings.clone(), store.clone()).unwrap();
    let roster = Arc::new(Roster::default());
    let member = MemberSignIn::new(
        settings.clone(),
        client.clone(),
        roster.clone(),
        store.clone(),
        vec![7; 32],
        None,
    )
    .unwrap();
    let gateway = WechatGateway::new(
        settings,
        store,
        Arc::new(CountingHandler::default()),
        client,
    );
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(gateway))
            .app_data(web::Data::new(member))
            .app_data(mock.clone())
            .configure(configure)
            .route("/m/score", web::get().to(score)),
    )
    .await;

    // A member page without a session goes through sign-in and back.
    let resp = test::call_service(
        &app,
        test::TestRequest::get().uri("/m/score?y=2026").to_request(),
    )
    .await;
    assert_eq!(resp.status(), 302);
    assert_eq!(
        location(&resp),
        "/wechat/oauth/start?next=%2Fm%2Fscore%3Fy%3D2026"
    );

    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/wechat/oauth/start?next=%2Fm%2Fscore")
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), 302);
    let to = location(&resp);
    assert!(to.starts_with("/sandbox/oauth?state="), "{to}");
    let state_cookie = set_cookie(&resp, "vg_oauth").unwrap();
    assert!(state_cookie.http_only().unwrap());
    let state = url::form_urlencoded::parse(to.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();

    // The local OAuth page, then "agree" as an openid.
    let resp = test::call_service(&app, test::TestRequest::get().uri(&to).to_request()).await;
    assert_eq!(resp.status(), 200);
    let resp = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/sandbox/oauth")
            .set_form([("state", state.as_str()), ("openid", "o_new_member")])
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), 302);
    let callback = location(&resp);
    assert!(callback.starts_with("/wechat/oauth/callback?code="));

    // Without the browser's state cookie the callback is refused (login CSRF).
    let resp = test::call_service(&app, test::TestRequest::get().uri(&callback).to_request()).await;
    assert_eq!(resp.status(), 400);
    // With it: unbound openid → the binding page, session cookie set.
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&callback)
            .cookie(state_cookie.clone())
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), 302);
    assert_eq!(location(&resp), "/wechat/bind?next=%2Fm%2Fscore");
    let session = set_cookie(&resp, SESSION_COOKIE).unwrap();
    assert!(session.http_only().unwrap());
    assert_eq!(session.same_site(), Some(actix_web::cookie::SameSite::Lax));
    assert!(session.max_age().is_some());

    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/wechat/bind?next=%2Fm%2Fscore")
            .cookie(session.clone())
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let html = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
    assert!(html.contains("绑定党员身份") && html.contains("lang=\"zh-CN\""));

    // Wrong phone: counted; the right one binds and goes on to the page.
    let resp = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/wechat/bind")
            .cookie(session.clone())
            .set_form([
                ("name", "张三"),
                ("phone", "13900000000"),
                ("next", "/m/score"),
            ])
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let html = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
    assert!(html.contains("还可尝试 4 次"), "{html}");
    assert!(
        !html.contains("13900000000"),
        "the phone is not echoed back"
    );
    let resp = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/wechat/bind")
            .cookie(session.clone())
            .set_form([
                ("name", "张三"),
                ("phone", "138-0000-0000"),
                ("next", "/m/score"),
            ])
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), 302);
    assert_eq!(location(&resp), "/m/score");
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/m/score")
            .cookie(session.clone())
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(test::read_body(resp).await, "score of o_new_member");

    // Signing in again as a bound member goes straight to the page.
    let code = mock.issue_code(&OpenId::parse("o_new_member").unwrap());
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/wechat/oauth/start?next=/m/score")
            .to_request(),
    )
    .await;
    let st = set_cookie(&resp, "vg_oauth").unwrap();
    let to = location(&resp);
    let state = url::form_urlencoded::parse(to.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let uri = format!(
        "/wechat/oauth/callback?{}",
        serde_urlencoded::to_string([("code", code.as_str()), ("state", state.as_str())]).unwrap()
    );
    let resp = test::call_service(
        &app,
        test::TestRequest::get().uri(&uri).cookie(st).to_request(),
    )
    .await;
    assert_eq!(location(&resp), "/m/score");
}

#[actix_web::test]
async fn bind_tries_cool_down_and_tampered_sessions() {
    let (_mock, base) = start_mock().await;
    let store: SharedStore = Arc::new(MemoryStore::new());
    let settings = sandbox_settings(&base, "http://127.0.0.1:1", false);
    let client = ApiClient::new(settings.clone(), store.clone()).unwrap();
    let member = MemberSignIn::new(
        settings,
        client,
        Arc::new(Roster::default()),
        store,
        vec![9; 32],
        None,
    )
    .unwrap();
    let who = OpenId::parse("o_guess").unwrap();
    let now = chrono::Utc::now().timestamp();
    let value = member.session_value(&who, now + 60);
    assert_eq!(member.verify_session(&value, now), Some(who.clone()));
    assert_eq!(member.verify_session(&value, now + 61), None, "expired");
    assert_eq!(
        member.verify_session(&value.replace("o_guess", "o_other"), now),
        None
    );
    assert_eq!(member.verify_session(&format!("{value}0"), now), None);
    assert_eq!(member.verify_session("garbage", now), None);
    assert!(
        MemberSignIn::new(
            sandbox_settings(&base, "http://x", false),
            ApiClient::new(
                sandbox_settings(&base, "http://x", false),
                Arc::new(MemoryStore::new())
            )
            .unwrap(),
            Arc::new(Roster::default()),
            Arc::new(MemoryStore::new()),
            vec![1; 8],
            None
        )
        .is_err()
    );

    let cookie = Cookie::new(SESSION_COOKIE, value);
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(member))
            .configure(super::member::configure_member),
    )
    .await;
    let mut last = 0;
    for _ in 0..7 {
        let resp = test::call_service(
            &app,
            test::TestRequest::post()
                .uri("/wechat/bind")
                .cookie(cookie.clone())
                .set_form([("name", "李四"), ("phone", "13000000000")])
                .to_request(),
        )
        .await;
        last = resp.status().as_u16();
    }
    assert_eq!(last, 429);
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/wechat/bind")
            .cookie(cookie)
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), 429);
    // Open redirects are neutralised.
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/wechat/oauth/start?next=//evil.example/x")
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), 302);
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/wechat/oauth/callback?code=x&state=1.2.3.4")
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), 400);
}

#[actix_web::test]
async fn production_authorize_url_and_no_sandbox_routes() {
    let store: SharedStore = Arc::new(MemoryStore::new());
    let settings = super::tests::settings("http://127.0.0.1:1", false);
    let client = ApiClient::new(settings.clone(), store.clone()).unwrap();
    let member = MemberSignIn::new(
        settings.clone(),
        client.clone(),
        Arc::new(Roster::default()),
        store.clone(),
        vec![3; 32],
        Some("https://dj.example.gov.cn/".into()),
    )
    .unwrap();
    let gateway = WechatGateway::new(
        settings,
        store,
        Arc::new(CountingHandler::default()),
        client,
    );
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(gateway))
            .app_data(web::Data::new(member))
            .configure(configure),
    )
    .await;
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/wechat/oauth/start?next=/m")
            .to_request(),
    )
    .await;
    let to = location(&resp);
    assert!(to.starts_with("https://open.weixin.qq.com/connect/oauth2/authorize?appid=wxb11529c136998cb6&redirect_uri=https%3A%2F%2Fdj.example.gov.cn%2Fwechat%2Foauth%2Fcallback&response_type=code&scope=snsapi_base&state="), "{to}");
    assert!(to.ends_with("&connect_redirect=1#wechat_redirect"));
    assert!(set_cookie(&resp, "vg_oauth").unwrap().secure().unwrap());
    for uri in [
        "/sandbox/phone",
        "/sandbox/oauth",
        "/sandbox/wechat-api/cgi-bin/stable_token",
    ] {
        let resp = test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(resp.status(), 404, "{uri}");
    }
}

/// The phone simulator sends a real, signed and encrypted push over HTTP to the
/// server's own `/wechat/callback` and shows the decrypted reply.
#[actix_web::test]
async fn phone_simulator_end_to_end_over_http() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let local = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let store: SharedStore = Arc::new(MemoryStore::new());
    let settings = sandbox_settings(super::settings::DEFAULT_API_BASE, &local, true);
    assert_eq!(settings.api_base, format!("{local}/sandbox/wechat-api"));
    let client = ApiClient::new(settings.clone(), store.clone()).unwrap();
    let handler = Arc::new(CountingHandler::default());
    let gateway = web::Data::new(WechatGateway::new(
        settings,
        store,
        handler.clone(),
        client.clone(),
    ));
    let mock = web::Data::new(MockWechat::new(&local));
    let (g, m) = (gateway.clone(), mock.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(g.clone())
            .app_data(m.clone())
            .configure(configure)
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);

    let http = reqwest::Client::new();
    let page = http
        .get(format!("{local}/sandbox/phone?scene=ci.S1.7.abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("value=\"ci.S1.7.abc\""));

    let resp = http
        .post(format!("{local}/sandbox/phone"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            serde_urlencoded::to_string([
                ("openid", "o_phone"),
                ("scene", "ci.S1.7.abc"),
                ("action", "scan"),
            ])
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("签到成功：ci.S1.7.abc"), "{html}");
    let resp = http
        .post(format!("{local}/sandbox/phone"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            serde_urlencoded::to_string([
                ("openid", "o_phone"),
                ("scene", "ci.S1.8.def"),
                ("action", "subscribe"),
            ])
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(resp.text().await.unwrap().contains("签到成功：ci.S1.8.def"));
    assert_eq!(handler.calls.load(std::sync::atomic::Ordering::SeqCst), 2);

    // The sandbox client talks to the local mock: a QR's url opens the simulator.
    let qr = client
        .create_temp_qr(&super::SceneStr::parse("ci.S1.9.x").unwrap(), 300)
        .await
        .unwrap();
    assert!(
        qr.url.starts_with(&format!(
            "{local}/sandbox/phone?scene=ci.S1.9.x&ticket=mock-ticket-"
        )),
        "{}",
        qr.url
    );
    assert_eq!(mock.token_fetches(), 1);
}
