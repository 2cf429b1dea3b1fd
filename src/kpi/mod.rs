//! KPIs for dashboards and process views for analysts, over the stored case rows (KPIs never
//! read raw events at request time) and, for process views, the filtered cases' events.
//!
//! `store` holds the SQL and its typed rows; `params` the query parameters and their parsing;
//! `conditional` the freshness, ETag and 304 every endpoint shares; `handlers` the KPI
//! endpoints; `process` the variants, directly-follows graph and activities; `reconciliation`
//! the template's reported derived columns against Switchboard's own metrics.

pub mod conditional;
pub mod handlers;
pub mod params;
pub mod process;
pub mod reconciliation;
pub mod store;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::get_kpi_summary))
        .routes(routes!(handlers::get_kpi_timeseries))
        .routes(routes!(handlers::get_kpi_backlog))
        .routes(routes!(handlers::get_kpi_agents))
        .routes(routes!(handlers::get_kpi_teams))
        .routes(routes!(process::get_process_variants))
        .routes(routes!(process::get_process_dfg))
        .routes(routes!(process::get_process_activities))
        .routes(routes!(reconciliation::get_reconciliation))
}
