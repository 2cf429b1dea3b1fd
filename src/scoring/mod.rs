//! Propensity scoring: the model registry, the native tree evaluator checked against LightGBM,
//! online scores with deciles and reason codes, and batch scoring runs with outcomes, lift,
//! AUC and stability (`runs`).
//!
//! `native` and `reference` evaluate models; `model` pairs them into a servable model;
//! `registry` keeps the active one; `deciles`, `evaluation` and `features` are pure domain code;
//! `population` generates synthetic accounts and `training` (feature `test-kits`) trains
//! LightGBM models (demo model, tests, benchmarks).

pub mod deciles;
pub mod evaluation;
pub mod features;
pub mod handlers;
pub mod model;
pub mod native;
pub mod population;
pub mod reasons;
pub mod reference;
pub mod registry;
pub mod runs;
pub mod store;
#[cfg(feature = "test-kits")]
pub mod training;
pub mod xgboost;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::post_models, handlers::get_models))
        .routes(routes!(handlers::get_model))
        .routes(routes!(handlers::post_model_activate))
        .routes(routes!(handlers::get_model_importance))
        .routes(routes!(handlers::post_scores))
        .routes(routes!(
            runs::handlers::post_scoring_runs,
            runs::handlers::get_scoring_runs
        ))
        .routes(routes!(runs::handlers::get_scoring_run))
        .routes(routes!(runs::handlers::get_run_deciles))
        .routes(routes!(runs::handlers::post_run_outcomes))
        .routes(routes!(runs::handlers::get_run_lift))
        .routes(routes!(runs::handlers::get_run_stability))
        .routes(routes!(runs::handlers::get_account_score))
}
