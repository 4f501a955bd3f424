//! WeChat gateway: everything that talks to WeChat, with no domain logic.
//!
//! Pieces (bottom up):
//! - [`signature`]: SHA1 over sorted token/timestamp/nonce[/Encrypt].
//! - [`crypto`]: the EncodingAESKey AES-256-CBC frame, key rotation ([`crypto::KeyRing`]).
//! - [`xml`]: bounded, DTD-refusing reader for pushes, typed [`xml::InboundMessage`],
//!   passive text replies and encrypted envelopes.
//! - [`settings`]: `[wechat]` settings ([`WechatSettings`]) → [`ResolvedSettings`].
//! - [`callback`]: `/wechat/callback` — [`WechatGateway`] checks signatures and the
//!   replay window, refuses a (timestamp, nonce) seen with another body, answers
//!   WeChat's resends from the live store without re-running the handler (also
//!   across instances), and keeps the 5-second deadline (handler gets 4 s; a late
//!   reply goes out as a customer-service message).
//! - [`client`]: [`ApiClient`] — stable access token shared through the live store
//!   (one refresher at a time across instances, single-flight in process),
//!   QR codes, OAuth code → openid, template and customer-service messages.
//! - [`member`]: web OAuth sign-in ([`MemberSignIn`]), the signed session cookie,
//!   the [`MemberSession`] extractor, and the roster binding page.
//! - [`sandbox`] and [`mock`]: the phone simulator, the local OAuth stand-in and
//!   the API mock used with `wechat.sandbox = true` (never by itself), and by tests.
//!
//! # Contracts for the domains
//! - [`MessageHandler`] (check-in implements it): gets an [`InboundEvent`]
//!   (openid, kind, scene, CreateTime, MsgId, receive time) and returns the reply
//!   text or `None` (`success`). It **must be idempotent per event**
//!   ([`InboundEvent::dedup_key`], or its own unique key such as (session, openid)):
//!   the gateway calls it once per event while the live store is up, but falls
//!   back to calling it again for a resend when the store is down.
//! - [`MemberDirectory`] (org implements it): `person_for_openid` and
//!   `bind(openid, name, phone)`; binding must be durable and idempotent. The
//!   gateway counts failed tries (5, then a 15-minute cool-down) and never logs phones.
//!
//! # Wiring (see [`configure`])
//! ```ignore
//! let resolved = Arc::new(settings.wechat.resolve(token, &local_base_url)?);
//! let client = ApiClient::new(resolved.clone(), store.clone())?;
//! let gateway = web::Data::new(WechatGateway::new(resolved.clone(), store.clone(), handler, client.clone()));
//! let member = web::Data::new(MemberSignIn::new(resolved.clone(), client, directory, store, cookie_key, public_url)?);
//! let mock = resolved.sandbox.then(|| web::Data::new(MockWechat::new(&local_base_url)));
//! App::new().app_data(gateway).app_data(member) /* .app_data(mock) if sandbox */ .configure(wechat::configure)
//! ```

pub mod callback;
pub mod client;
pub mod crypto;
pub mod member;
pub mod mock;
mod pages;
pub mod sandbox;
pub mod settings;
pub mod signature;
pub mod tls;
pub mod types;
pub mod xml;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_member;

pub use callback::{InboundEvent, MessageHandler, WechatGateway};
pub use client::{ApiClient, ApiError, QrTicket};
pub use member::{BindError, MemberDirectory, MemberSession, MemberSignIn, PersonRef};
pub use mock::MockWechat;
pub use settings::{ResolvedSettings, WechatSettings};
pub use tls::install_tls_provider;
pub use types::{OpenId, SceneStr};

use actix_web::web;

/// Register every gateway route: `/wechat/callback` (needs `web::Data<WechatGateway>`),
/// `/wechat/oauth/*` and `/wechat/bind` (need `web::Data<MemberSignIn>`), and the
/// sandbox (`/sandbox/phone`, `/sandbox/oauth`, `/sandbox/wechat-api/*`), which is
/// routed only while `web::Data<MockWechat>` is registered.
pub fn configure(cfg: &mut web::ServiceConfig) {
    callback::configure_callback(cfg);
    member::configure_member(cfg);
    sandbox::configure_sandbox(cfg);
}
