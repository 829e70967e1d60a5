//! The llm-security server: the engine over HTTP for applications in any language.
//!
//! [`app`] builds the axum `Router` from an [`AppState`]; `llm-security serve` and the
//! serverless entry points run the same router.
//!
//! | route | what |
//! |---|---|
//! | `POST /api/security/analyze` | `{input, user_id?, session_id?}` → `{is_secure, threats, confidence, analysis_time}` (ms) |
//! | `POST /api/security/validate` | `{output, user_id?, session_id?, system_prompt?}` → the same plus `redacted` |
//! | `POST /api/security/analyze/batch`, `/validate/batch` | up to 100 texts → `{results: [...]}` |
//! | `POST /api/security/sanitize` | `{text}` → `{text, changes, hidden}` |
//! | `POST /graphql`, `GET /graphql` | `analyzeInput(input)`, `validateOutput(output)`; GraphiQL |
//! | `GET /metrics` | Prometheus text format |
//! | `POST /webhook` | inbound Standard Webhooks, verified, dispatched by event type |
//! | `GET /healthz`, `GET /readyz` | liveness; readiness (every sink healthy) |
//! | `GET /openapi.json` | the OpenAPI 3.1 document |
//!
//! Bad input gets a JSON error `{"error": {"code", "message"}}` with a 4xx status: malformed
//! JSON and unknown or mistyped fields 400/422, bodies over the limit 413, a missing or wrong API
//! key 401, too many requests 429 with `Retry-After`.

mod api;
mod config;
mod error;
mod graphql;
mod limits;
mod metrics;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use llm_security::{Pipeline, SecurityEngine};
use llm_security_sink_webhook::Verifier;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use config::{
    ConfigError, RateLimit, SemanticSettings, ServerConfig, SinkConfig, SpoolSettings,
    spool_dir_for,
};
pub use metrics::Metrics;
pub use webhooks::WebhookHandler;

/// The OpenAPI document served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    engine: SecurityEngine,
    config: ServerConfig,
    metrics: Metrics,
    limiter: limits::RateLimiter,
    verifier: Option<Verifier>,
    handlers: Vec<(String, WebhookHandler)>,
    schema: graphql::Schema,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State for `engine` (with its pipeline, if any) under `config`.
    pub fn new(engine: SecurityEngine, config: ServerConfig) -> Result<Self, ConfigError> {
        Self::with_webhook_handlers(engine, config, Vec::new())
    }

    /// Like [`new`](Self::new), with handlers for inbound webhooks by event type (for example
    /// `threat.detected`). Events without a handler are accepted and counted.
    pub fn with_webhook_handlers(
        engine: SecurityEngine,
        config: ServerConfig,
        handlers: Vec<(String, WebhookHandler)>,
    ) -> Result<Self, ConfigError> {
        let verifier = if config.webhook_secrets.is_empty() {
            None
        } else {
            Some(
                Verifier::new(&config.webhook_secrets)
                    .map_err(|e| ConfigError::Invalid(format!("webhook_secrets: {e}")))?,
            )
        };
        let metrics = Metrics::new().map_err(|e| ConfigError::Invalid(format!("metrics: {e}")))?;
        let limiter = limits::RateLimiter::new(config.rate_limit);
        let schema = graphql::schema(engine.clone(), metrics.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                config,
                metrics,
                limiter,
                verifier,
                handlers,
                schema,
            }),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &SecurityEngine {
        &self.inner.engine
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The pipeline, if the engine has one.
    pub fn pipeline(&self) -> Option<&Pipeline> {
        self.inner.engine.pipeline()
    }

    /// Drains the pipeline and shuts the sinks down.
    pub async fn shutdown(&self, timeout: Duration) {
        self.inner.engine.shutdown(timeout).await;
    }
}

/// The router: every route above, with request ids, tracing, API-key auth, rate limiting, the
/// body limit, and HTTP metrics.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/security/analyze", post(api::analyze))
        .route("/api/security/validate", post(api::validate))
        .route("/api/security/analyze/batch", post(api::analyze_batch))
        .route("/api/security/validate/batch", post(api::validate_batch))
        .route("/api/security/sanitize", post(api::sanitize))
        .route("/graphql", post(graphql::handler).get(graphql::graphiql))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::guard,
        ));
    Router::new()
        .merge(api)
        .route("/webhook", post(webhooks::receive))
        .route("/metrics", get(metrics::scrape))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/openapi.json", get(api::openapi))
        .fallback(api::not_found)
        .layer(DefaultBodyLimit::max(state.inner.config.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` completes, then drains the sinks (at most
/// `shutdown_timeout_secs`). In-flight requests finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let drain = Duration::from_secs(state.inner.config.shutdown_timeout_secs);
    let router = app(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("Server stopped; draining sinks.");
    state.shutdown(drain).await;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// Adds the semantic tier when the configuration asks for it.
#[cfg(feature = "semantic")]
fn with_semantic(
    engine: SecurityEngine,
    settings: Option<&config::SemanticSettings>,
) -> Result<SecurityEngine, ConfigError> {
    let Some(settings) = settings else {
        return Ok(engine);
    };
    let model = llm_security::semantic::SemanticModel::load(&settings.model_dir)
        .map_err(|e| ConfigError::Invalid(format!("[semantic]: {e}")))?;
    Ok(engine.with_semantic(
        model,
        llm_security::Cascade {
            consult_from: settings.consult_from,
        },
    ))
}

/// Refuses a `[semantic]` section in a server built without the tier.
#[cfg(not(feature = "semantic"))]
fn with_semantic(
    engine: SecurityEngine,
    settings: Option<&config::SemanticSettings>,
) -> Result<SecurityEngine, ConfigError> {
    match settings {
        None => Ok(engine),
        Some(_) => Err(ConfigError::Invalid(
            "[semantic] needs a server built with the `semantic` feature".to_owned(),
        )),
    }
}

/// Builds the engine and pipeline `config` describes (the SQLite store when no sink is
/// configured). Must run inside a tokio runtime.
pub async fn build_state(config: ServerConfig) -> Result<AppState, ConfigError> {
    let engine = SecurityEngine::try_with_config(config.engine.clone())
        .map_err(|e| ConfigError::Invalid(e.to_string()))?;
    let engine = with_semantic(engine, config.semantic.as_ref())?;
    let (pipeline, spools) = config::build_pipeline(&config).await?;
    let state = AppState::new(engine.with_pipeline(pipeline), config)?;
    state.metrics().watch_spools(spools);
    Ok(state)
}
