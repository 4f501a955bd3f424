//! Prometheus metrics: request counts and latencies by route, and pool use.
//!
//! Labels are bounded: the route is the matched pattern (`/api/v1/people/{person_id}`,
//! never the raw path; `unmatched` otherwise) and the method one of the standard ones
//! or `other`, so made-up methods and ids cannot grow the series without end.
//!
//! Exposure (`[metrics]`): with `listen` set, metrics are served only there (an address
//! for the internal network) and the main listener answers 404; otherwise the main
//! listener serves them when `public = true`, or to `Authorization: Bearer <token>`
//! when `token` is set; else 404. A set `token` is required on either listener.

use std::net::SocketAddr;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use sea_orm::DatabaseConnection;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::AppError;
use crate::state::AppState;

/// `[metrics]`: where `/metrics` is served (see the module docs).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Own listen address (e.g. `10.0.0.5:9100`); empty: the main listener.
    #[serde(default)]
    pub listen: String,
    /// Serve on the main listener to anyone (only behind a network that keeps it internal).
    #[serde(default)]
    pub public: bool,
    /// Bearer token a scraper presents (secret; also `token_file`).
    #[serde(default)]
    pub token: Option<SecretString>,
}

impl MetricsSettings {
    /// The dedicated address, if any; `Err` names what is wrong.
    pub fn listen_addr(&self) -> Result<Option<SocketAddr>, (&'static str, String)> {
        if self.listen.trim().is_empty() {
            return Ok(None);
        }
        self.listen.trim().parse().map(Some).map_err(|_| {
            (
                "metrics.listen",
                format!("\"{}\" is not an address like 127.0.0.1:9100", self.listen),
            )
        })
    }

    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        self.listen_addr()?;
        if self.token().is_some_and(|t| t.len() < 16) {
            return Err(("metrics.token", "must be at least 16 characters".to_owned()));
        }
        Ok(())
    }

    fn token(&self) -> Option<&str> {
        self.token
            .as_ref()
            .map(|t| t.expose_secret().trim())
            .filter(|t| !t.is_empty())
    }

    /// Whether this request may read the metrics (`own_listener`: it came to `listen`).
    fn allows(&self, req: &HttpRequest, own_listener: bool) -> bool {
        let open = if own_listener {
            true
        } else {
            self.listen.trim().is_empty() && self.public
        };
        match self.token() {
            Some(token) => {
                let given = req
                    .headers()
                    .get(actix_web::http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .unwrap_or_default();
                let matches = bool::from(
                    Sha256::digest(given.trim().as_bytes())
                        .ct_eq(&Sha256::digest(token.as_bytes())),
                );
                // With a token, it is needed everywhere; on the main listener it also
                // opens metrics that are not public.
                matches && (own_listener || self.listen.trim().is_empty())
            }
            None => open,
        }
    }
}

/// The method label: the standard methods by name, anything else `other`.
fn method_label(m: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("vanguard");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ])
        });
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        Self {
            registry,
            requests,
            latency,
        }
    }

    pub fn render(&self, db: &DatabaseConnection) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode_registry(&mut out, &self.registry).is_err() {
            return String::new();
        }
        let (size, idle) = pool_use(db);
        out.push_str("# HELP vanguard_db_pool_connections Open database connections.\n");
        out.push_str("# TYPE vanguard_db_pool_connections gauge\n");
        out.push_str(&format!("vanguard_db_pool_connections {size}\n"));
        out.push_str("# HELP vanguard_db_pool_idle Idle database connections.\n");
        out.push_str("# TYPE vanguard_db_pool_idle gauge\n");
        out.push_str(&format!("vanguard_db_pool_idle {idle}\n"));
        out.push_str("# EOF\n");
        out
    }
}

fn pool_use(db: &DatabaseConnection) -> (u32, usize) {
    // The pool getters panic on the other backend, so dispatch on the backend first.
    match db.get_database_backend() {
        sea_orm::DatabaseBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
        sea_orm::DatabaseBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => (0, 0),
    }
}

/// Counts and times every request, labelled by its route pattern (never the raw path).
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = method_label(req.method()).to_owned();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let res = next.call(req).await?;
    if let Some(metrics) = metrics {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        metrics
            .requests
            .get_or_create(&RequestLabels {
                method,
                route: route.clone(),
                status: res.status().as_u16(),
            })
            .inc();
        metrics
            .latency
            .get_or_create(&RouteLabels { route })
            .observe(start.elapsed().as_secs_f64());
    }
    Ok(res)
}

/// Prometheus text exposition (404 unless `[metrics]` lets this request read it).
#[utoipa::path(get, path = "/metrics", tag = "ops", security(()),
    responses((status = 200, content_type = "application/openmetrics-text"),
        (status = 404, body = crate::error::Problem, description = "not served here: see metrics.public, metrics.token, metrics.listen")))]
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    exposition(&req, &state, false)
}

/// `/metrics` on the dedicated `metrics.listen` address.
pub async fn metrics_own_listener(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    exposition(&req, &state, true)
}

fn exposition(
    req: &HttpRequest,
    state: &AppState,
    own_listener: bool,
) -> Result<HttpResponse, AppError> {
    if !state.settings.metrics.allows(req, own_listener) {
        // As if absent: nothing tells a prober that metrics exist here.
        return Err(AppError::not_found("没有这个地址"));
    }
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render(&state.db)))
}
