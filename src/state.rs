//! What every handler can reach.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;

use crate::{
    auth::{Authenticator, KeyCache},
    config::{Config, ServeConfig},
    scoring::{registry::ModelRegistry, runs::latest::LatestScores},
    telemetry,
};

/// Shared, cheaply cloned application state.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub config: Arc<Config>,
    pub auth: Arc<Authenticator>,
    pub metrics: PrometheusHandle,
    pub models: Arc<ModelRegistry>,
    /// The newest scoring run's scores, for account look-ups.
    pub latest_scores: Arc<LatestScores>,
}

impl AppState {
    /// The one way to assemble the state: `serve`, the tests and the benchmarks all call it,
    /// so their wiring cannot drift apart. Authentication follows `AUTH_DISABLED`; the model
    /// registry and the newest run's scores start empty (`serve` then loads `MODEL_PATH` and
    /// syncs with the database).
    pub fn new(db: PgPool, config: Config) -> AppState {
        AppState {
            auth: Arc::new(authenticator(&config.serve)),
            db,
            config: Arc::new(config),
            metrics: telemetry::metrics_handle(),
            models: Arc::new(ModelRegistry::new()),
            latest_scores: Arc::new(LatestScores::new()),
        }
    }

    /// The complete application (routes, docs, middleware) over this state.
    pub fn router(&self) -> axum::Router {
        crate::http::app(self.clone())
    }
}

fn authenticator(serve: &ServeConfig) -> Authenticator {
    if serve.auth_disabled {
        Authenticator::Disabled
    } else {
        Authenticator::Keys(KeyCache::with_staleness(
            serve.auth_cache_ttl(),
            serve.auth_stale_max(),
        ))
    }
}
