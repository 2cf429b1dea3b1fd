//! What every handler can reach.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;

use crate::{
    auth::Authenticator,
    config::Config,
    scoring::{registry::ModelRegistry, runs::latest::LatestScores},
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
