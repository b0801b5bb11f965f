//! The running server: [`Application::build`] opens the database, brings its schema up to
//! date, bootstraps it, and binds (port 0 works); [`Application::run_until_stopped`] serves.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

pub use actix_web::dev::ServerHandle;

use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use latchkey_domain::Timestamp;
use latchkey_lifecycle::{notifier, reaper};
use latchkey_store::{Store, StoreError};
use tokio::sync::watch;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::AppExt;

use crate::bootstrap::{self, BootstrapError};
use crate::config::Config;
use crate::{console, fallback, headers, health, metrics, openapi};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

/// Shared, read-only facts about this server, available to every handler.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// The URL clients reach this server at, without a trailing slash.
    pub public_url: String,
}

pub struct Application {
    address: SocketAddr,
    public_url: String,
    server: Server,
    /// The metrics server, when `metrics_listen` is set: its address, its handle, its task.
    metrics: Option<(SocketAddr, ServerHandle, tokio::task::JoinHandle<std::io::Result<()>>)>,
    life: Arc<latchkey_lifecycle::Lifecycle>,
    stop_workers: watch::Sender<bool>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

/// Cross-origin calls from the configured origins only (none by default): bearer tokens, no
/// cookies, so credentials are not allowed; the list total and `Location` are readable.
fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "DELETE"])
        .allowed_headers([actix_web::http::header::AUTHORIZATION, actix_web::http::header::CONTENT_TYPE])
        .expose_headers(["X-Total-Count", "Location"])
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Registers every route; the OpenAPI document is collected from the same calls.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(health::live).service(health::ready).configure(latchkey_admin::routes);
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let store = Store::connect(&config.database_url).await?;
        if config.admin.is_none() && store.is_empty().await? {
            return Err(BootstrapError::NoAdministrator.into());
        }
        let applied = store.migrate().await?;
        if applied > 0 {
            tracing::info!(applied, "applied database migrations");
        }
        let now = Timestamp::now();
        bootstrap::ensure_master(&store, config.admin.as_ref(), now).await?;
        if config.demo {
            bootstrap::ensure_demo(&store, now).await?;
        }

        let listener =
            TcpListener::bind(config.listen).map_err(|source| StartError::Bind { addr: config.listen, source })?;
        let address = listener.local_addr().map_err(|source| StartError::Bind { addr: config.listen, source })?;
        let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{address}"));
        let info = ServerInfo { public_url: public_url.clone() };

        if config.allow_private_targets {
            tracing::warn!(
                "notifications may go to loopback and private addresses (allow_private_targets{})",
                if config.demo { ", on for --demo" } else { "" }
            );
        }
        let life = Arc::new(latchkey_lifecycle::Lifecycle::new(
            store.clone(),
            latchkey_lifecycle::Settings {
                public_url: public_url.clone(),
                trusted_proxies: config.trusted_proxies.clone(),
                targets: latchkey_domain::uri::TargetPolicy { allow_private: config.allow_private_targets },
                notification_proxy: config.notification_proxy.clone(),
                event_retention: config.event_retention,
                max_concurrent_hashes: config.max_concurrent_hashes,
                failure_window: config.failure_window,
                failure_wait: config.failure_wait,
            },
        ));
        let (stop_workers, stopped) = watch::channel(false);
        let workers = vec![
            tokio::spawn(notifier::run_notifier(life.clone(), stopped.clone())),
            tokio::spawn(reaper::run_reaper(life.clone(), config.reaper_interval, stopped.clone())),
            tokio::spawn(life.clone().keep_catalog(stopped.clone())),
            tokio::spawn({
                let store = store.clone();
                async move { store.keep_checkpointed(stopped).await }
            }),
        ];
        let life_data = web::Data::from(life.clone());
        let store = web::Data::new(store);
        let info = web::Data::new(info);
        let hsts = web::Data::new(headers::Hsts(public_url.starts_with("https://")));
        let console_dir = config.console_dir.clone();
        let cors_origins = config.cors_origins.clone();
        let paths = web::Data::new(fallback::Paths::of(&openapi::document()));
        let server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(latchkey_admin::auth::admin_calls_need_a_token))
                .wrap(actix_web::middleware::from_fn(latchkey_admin::audit::record_refusals))
                .wrap(actix_web::middleware::from_fn(headers::security_headers))
                .wrap(actix_web::middleware::NormalizePath::trim())
                .wrap(headers::request_log())
                .wrap(actix_web::middleware::from_fn(headers::request_span))
                // A preflight is answered before any authentication; a refused one in JSON.
                .wrap(cors(&cors_origins))
                .wrap(actix_web::middleware::from_fn(fallback::cors_refusals_as_json))
                .wrap(actix_web::middleware::from_fn(metrics::measure))
                .app_data(store.clone())
                .app_data(info.clone())
                .app_data(hsts.clone())
                .app_data(life_data.clone())
                .app_data(paths.clone())
                .app_data(extractor_errors::form())
                .app_data(extractor_errors::query())
                .app_data(latchkey_admin::error::json_config())
                .configure(latchkey_oidc::routes)
                .into_utoipa_app()
                .openapi(openapi::base())
                .configure(routes)
                // The document at /openapi.json, and a docs page that needs no internet access.
                .openapi_service(|doc| {
                    utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi::finish(doc))
                })
                .into_app()
                .route("/docs", web::get().to(docs_index))
                .configure(|cfg| console::configure(cfg, console_dir.as_deref()))
                .default_service(web::to(fallback::not_found_or_not_allowed))
        })
        .workers(config.workers)
        .shutdown_timeout(30)
        .disable_signals()
        .listen(listener)
        .map_err(|source| StartError::Bind { addr: address, source })?
        .run();

        let metrics = match config.metrics_listen {
            Some(addr) => {
                let (server, bound) = metrics::serve(addr, life.clone())?;
                tracing::info!(address = %bound, "metrics are served at /metrics");
                Some((bound, server.handle(), tokio::spawn(server)))
            }
            None => None,
        };
        tracing::info!(%address, %public_url, database = %config.database_url, "latchkey is listening");
        Ok(Application { address, public_url, server, metrics, life, stop_workers, workers })
    }

    /// The address the server is bound to (with the real port when 0 was asked for).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Where `/metrics` is served, when it is.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(address, _, _)| *address)
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The session lifecycle, with the session operations (ending, logout-all, revocation) that the
    /// admin API and tests call.
    pub fn life(&self) -> Arc<latchkey_lifecycle::Lifecycle> {
        self.life.clone()
    }

    /// A handle that stops the server (gracefully or not) from elsewhere.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped through [`Application::handle`]; then stops the background workers
    /// (a delivery in flight is finished or, if cut short, retried by the next claim).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        if let Some((_, handle, task)) = self.metrics {
            handle.stop(false).await;
            let _ = task.await;
        }
        let _ = self.stop_workers.send(true);
        for worker in self.workers {
            let _ = tokio::time::timeout(Duration::from_secs(10), worker).await;
        }
        // Closed, SQLite's last connection copies the write-ahead log into the file and removes
        // it: the next start does not begin on a long log.
        if let Err(error) = self.life.store.clone().close().await {
            tracing::warn!(%error, "the database was not closed cleanly");
        }
        result
    }

    /// Serves until SIGTERM or SIGINT, then stops taking connections and lets requests in
    /// flight finish (up to 30 seconds).
    pub async fn run_until_signalled(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let server = tokio::spawn(self.run_until_stopped());
        let signal = shutdown_signal().await;
        tracing::info!(signal, "shutting down gracefully");
        let stopping = handle.stop(true);
        tokio::time::timeout(Duration::from_secs(35), stopping).await.ok();
        let result = server.await.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        tracing::info!("stopped");
        result
    }
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}

async fn docs_index() -> HttpResponse {
    HttpResponse::Found().insert_header(("Location", "/docs/index.html")).finish()
}

/// Malformed bodies and query strings are answered with the OAuth-shaped JSON error every
/// endpoint uses, never actix's plain text.
mod extractor_errors {
    use actix_web::web;
    use latchkey_oidc::OAuthError;

    /// Form bodies: at most 64 KiB.
    pub fn form() -> web::FormConfig {
        web::FormConfig::default()
            .limit(64 * 1024)
            .error_handler(|err, _| OAuthError::invalid_request(format!("the form body cannot be read: {err}")).into())
    }

    pub fn query() -> web::QueryConfig {
        web::QueryConfig::default().error_handler(|err, _| {
            OAuthError::invalid_request(format!("the query string cannot be read: {err}")).into()
        })
    }
}
