//! The HTTP surface: routes, middleware, health, metrics, the OpenAPI document.

pub mod extract;
pub mod health;
pub mod metrics;
pub mod openapi;

use std::net::IpAddr;

use actix_web::{HttpRequest, HttpResponse, middleware, web};
use ipnet::IpNet;

use crate::error::AppError;
use crate::state::AppState;

/// Everything the server answers, used by the server and the tests alike.
pub fn configure(cfg: &mut web::ServiceConfig, state: &AppState) {
    let settings = &state.settings.server;
    extract::configure(cfg, settings.json_limit_bytes);
    cfg.app_data(web::PayloadConfig::new(settings.json_limit_bytes))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(metrics::metrics))
        .route("/api/openapi.json", web::get().to(openapi::document))
        .service(
            web::scope("/api/v1")
                .configure(crate::auth::routes::configure)
                .configure(|c| crate::org::routes::configure(c, settings.upload_limit_bytes))
                .configure(crate::audit::routes::configure)
                .configure(crate::ledger::routes::configure)
                .configure(crate::checkin::routes::configure)
                .configure(crate::checkin::makeup::configure)
                .configure(crate::cases::routes::configure)
                .configure(crate::reports::routes::configure)
                .configure(crate::checkin::projector::configure)
                .configure(crate::checkin::card::routes::configure)
                .configure(crate::review::rankings::routes::configure)
                .configure(crate::review::routes::configure)
                .configure(crate::rewards::routes::configure)
                .configure(|c| {
                    crate::review::scorecard::routes::configure(c, settings.upload_limit_bytes)
                }),
        )
        .configure(crate::web::configure)
        .configure(crate::console::configure);
}

pub fn default_headers() -> middleware::DefaultHeaders {
    middleware::DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
}

pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::not_found("没有这个地址"))
}

/// The client's address: the peer, or the nearest untrusted hop of
/// X-Forwarded-For when the peer is a trusted proxy.
pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> Option<String> {
    let peer = req.peer_addr()?.ip();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer.to_string());
    }
    let forwarded = req
        .headers()
        .get("X-Forwarded-For")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let hops: Vec<IpAddr> = forwarded
        .split(',')
        .filter_map(|h| h.trim().parse().ok())
        .collect();
    // Walk from the nearest hop; the first one we do not trust is the client.
    hops.iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(hops.first())
        .copied()
        .or(Some(peer))
        .map(|ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let via_proxy = TestRequest::default()
            .peer_addr("10.1.2.3:5000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "203.0.113.9, 10.9.9.9"))
            .to_http_request();
        assert_eq!(
            client_ip(&via_proxy, &trusted).as_deref(),
            Some("203.0.113.9")
        );
        let direct = TestRequest::default()
            .peer_addr("198.51.100.7:5000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "203.0.113.9"))
            .to_http_request();
        assert_eq!(
            client_ip(&direct, &trusted).as_deref(),
            Some("198.51.100.7")
        );
    }
}
