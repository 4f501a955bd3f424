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
/// `local_base_url` is where this process itself answers (the sandbox calls it).
pub async fn build_state(settings: Settings, public_url: String) -> anyhow::Result<AppState> {
    let local = public_url.clone();
    build_state_at(settings, public_url, local).await
}

pub async fn build_state_at(
    settings: Settings,
    public_url: String,
    local_base_url: String,
) -> anyhow::Result<AppState> {
    crate::wechat::install_tls_provider();
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
    let token = match settings
        .wechat
        .token
        .as_ref()
        .map(|t| t.expose_secret().to_owned())
        .filter(|t| !t.is_empty())
    {
        Some(t) => t,
        // One token for every process: the sandbox signs with it, the callback checks it.
        None => {
            db::shared_secret(&db, "wechat.token", crate::wechat::settings::generate_token).await?
        }
    };
    let mut wechat = settings
        .wechat
        .resolve(secrecy::SecretString::from(token), &local_base_url)
        .map_err(|e| anyhow::anyhow!("configuration error: wechat.{}: {}", e.key, e.message))?;
    if wechat.sandbox {
        // The mock accepts any template id; give notices one so the sandbox shows them.
        wechat
            .templates
            .entry("correction".to_owned())
            .or_insert_with(|| "sandbox-correction".to_owned());
    }
    let wechat = Arc::new(wechat);
    let wechat_client = crate::wechat::ApiClient::new(wechat.clone(), live.clone())
        .map_err(|e| anyhow::anyhow!("WeChat client: {e}"))?;
    let scoring = crate::ledger::Scoring::load(
        Some(&settings.policy.dir),
        Some(&settings.policy.calendars_dir),
    )
    .map_err(|e| anyhow::anyhow!("policy files: {e}"))?;
    let (shutdown_tx, shutdown) = tokio::sync::watch::channel(false);
    let scoring = Arc::new(scoring);
    let checkins = crate::checkin::writer::CheckinWriter::spawn(
        db.clone(),
        scoring.clone(),
        settings.checkin.batch_max,
        settings.checkin.writers,
    );
    Ok(AppState {
        checkins,
        clock: crate::clock::Clock::system(),
        sheets: Default::default(),
        live_streams: Default::default(),
        shutdown,
        shutdown_tx: Arc::new(shutdown_tx),
        db,
        live,
        passwords: PasswordHasher::new(&settings.auth)?,
        tokens,
        metrics: Arc::new(Metrics::new()),
        scoring,
        trusted_proxies,
        public_url,
        wechat,
        wechat_client,
        settings: Arc::new(settings),
    })
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.listen_addr()?)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.server.listen))?;
        let bound = listener.local_addr()?;
        let public_url = settings.public_url(bound);
        let local_base_url = format!("http://{bound}");
        let configured_public =
            (!settings.server.public_url.is_empty()).then(|| public_url.clone());
        let state = build_state_at(settings, public_url, local_base_url.clone()).await?;
        let initial_admin_password = crate::auth::service::ensure_initial_admin(&state)
            .await
            .map_err(|e| anyhow::anyhow!("creating the initial admin: {e}"))?;
        crate::jobs::start(&state);
        let handler = Arc::new(crate::checkin::members::CheckinHandler {
            state: state.clone(),
        });
        let gateway = web::Data::new(crate::wechat::WechatGateway::new(
            state.wechat.clone(),
            state.live.clone(),
            handler,
            state.wechat_client.clone(),
        ));
        let cookie_key =
            db::shared_secret(&state.db, "wechat.cookie_key", || db::random_secret(32)).await?;
        let member = web::Data::new(
            crate::wechat::MemberSignIn::new(
                state.wechat.clone(),
                state.wechat_client.clone(),
                Arc::new(crate::checkin::members::Directory {
                    state: state.clone(),
                }),
                state.live.clone(),
                cookie_key.into_bytes(),
                configured_public,
            )
            .map_err(|e| anyhow::anyhow!("member sign-in: {e}"))?
            .with_trusted_proxies(state.trusted_proxies.as_ref().clone()),
        );
        let mock = state
            .wechat
            .sandbox
            .then(|| web::Data::new(crate::wechat::MockWechat::new(&local_base_url)));
        let server_state = state.clone();
        let shutdown = state.settings.server.shutdown_timeout_seconds;
        let server = HttpServer::new(move || {
            let state = server_state.clone();
            let mut app = App::new()
                .app_data(web::Data::new(state.clone()))
                .app_data(gateway.clone())
                .app_data(member.clone());
            if let Some(mock) = &mock {
                app = app.app_data(mock.clone());
            }
            // The callback first: routes are tried in order, and it takes the storms.
            app.wrap(http::default_headers())
                .wrap(from_fn(http::metrics::track))
                .configure(crate::wechat::configure)
                .configure(|cfg| http::configure(cfg, &state))
                .default_service(web::to(http::not_found))
        })
        .shutdown_timeout(shutdown)
        // Signals are handled below, so streams can be told to end first.
        .disable_signals()
        .listen(listener)?
        .run();
        let metrics_server = serve_metrics(&state)?;
        let metrics_handle = metrics_server.as_ref().map(|s| s.handle());
        if let Some(s) = metrics_server {
            tokio::spawn(s);
        }
        let handle = server.handle();
        let tx = state.shutdown_tx.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = tx.send(true);
            if let Some(m) = metrics_handle {
                m.stop(true).await;
            }
            handle.stop(true).await;
        });
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

/// `/metrics` alone on `metrics.listen`, when set (one worker: a scrape is cheap).
fn serve_metrics(state: &AppState) -> anyhow::Result<Option<Server>> {
    let Some(addr) = state
        .settings
        .metrics
        .listen_addr()
        .map_err(|(key, reason)| anyhow::anyhow!("configuration error: {key}: {reason}"))?
    else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr)
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (metrics.listen): {e}"))?;
    let data = web::Data::new(state.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route(
                "/metrics",
                web::get().to(http::metrics::metrics_own_listener),
            )
            .default_service(web::to(http::not_found))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(Some(server))
}

/// SIGINT or SIGTERM (Ctrl-C only where there is no SIGTERM).
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
