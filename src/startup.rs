//! Application::build(settings) → a bound server. Used by `main` and the tests alike.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use secrecy::ExposeSecret;

use crate::auth::password::PasswordHasher;
use crate::auth::token::TokenKeys;
use crate::config::{LiveBackend, Settings};
use crate::http::metrics::Metrics;
use crate::state::AppState;
use crate::store::SharedStore;
use crate::store::memory::MemoryStore;
use crate::store::redis::RedisStore;
use crate::{db, http};

pub struct Application {
    port: u16,
    server: Server,
    pub state: AppState,
    /// Set on the first start on an empty database; printed once by `main`.
    pub initial_admin_password: Option<String>,
}

pub async fn live_store(settings: &Settings) -> anyhow::Result<SharedStore> {
    Ok(match settings.live.backend {
        LiveBackend::Memory => Arc::new(MemoryStore::new()),
        LiveBackend::Redis => Arc::new(
            RedisStore::connect(
                settings.live.redis_url.expose_secret(),
                &settings.live.key_prefix,
            )
            .await
            .map_err(|e| anyhow::anyhow!("live store: {e}"))?,
        ),
    })
}

/// Connects everything a command needs (the server, or a CLI command beside it).
pub async fn build_state(settings: Settings, public_url: String) -> anyhow::Result<AppState> {
    let db = db::connect(&settings).await?;
    if settings.database.migrate_on_start {
        db::migrate(&db, &settings).await?;
    }
    let live = live_store(&settings).await?;
    let jwt_secret = match settings.auth.jwt_secret.expose_secret() {
        "" => db::shared_secret(&db, "auth.jwt_secret", || db::random_secret(32)).await?,
        configured => configured.to_owned(),
    };
    let tokens = TokenKeys::new(
        jwt_secret.as_bytes(),
        settings.auth.access_ttl_seconds,
        settings.auth.refresh_ttl_seconds,
    );
    let trusted_proxies = Arc::new(settings.trusted_proxies()?);
    Ok(AppState {
        db,
        live,
        passwords: PasswordHasher::new(&settings.auth)?,
        tokens,
        metrics: Arc::new(Metrics::new()),
        trusted_proxies,
        public_url,
        settings: Arc::new(settings),
    })
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.listen_addr()?)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.server.listen))?;
        let bound = listener.local_addr()?;
        let public_url = settings.public_url(bound);
        let state = build_state(settings, public_url).await?;
        let initial_admin_password = crate::auth::service::ensure_initial_admin(&state)
            .await
            .map_err(|e| anyhow::anyhow!("creating the initial admin: {e}"))?;
        let server_state = state.clone();
        let shutdown = state.settings.server.shutdown_timeout_seconds;
        let server = HttpServer::new(move || {
            let state = server_state.clone();
            App::new()
                .app_data(web::Data::new(state.clone()))
                .wrap(http::default_headers())
                .wrap(from_fn(http::metrics::track))
                .configure(|cfg| http::configure(cfg, &state))
                .default_service(web::to(http::not_found))
        })
        .shutdown_timeout(shutdown)
        .listen(listener)?
        .run();
        Ok(Self {
            port: bound.port(),
            server,
            state,
            initial_admin_password,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await?;
        self.state.db.clone().close().await.ok();
        Ok(())
    }
}
