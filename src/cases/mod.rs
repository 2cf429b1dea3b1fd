//! Cases and events: idempotent ingest, importers (JSON, CSV, XES) and per-case metrics.
//!
//! `activity` resolves activity names to canonical roles; `metrics` is the pure per-case
//! metrics function.

pub mod activity;
pub mod demo;
pub mod handlers;
pub mod import;
pub mod ingest;
pub mod input;
pub mod metrics;
pub mod store;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::post_events))
        .routes(routes!(handlers::post_imports, handlers::get_imports))
        .routes(routes!(handlers::get_import))
        .routes(routes!(
            handlers::get_activity_mappings,
            handlers::put_activity_mappings
        ))
        .routes(routes!(handlers::get_cases))
        .routes(routes!(handlers::get_case))
}
pub mod synthetic;
pub mod values;
