//! Service-aware cross-sell campaigns: call lists cut from a scoring run's deciles, suppressed
//! by the customers' service experience in the case store, with a sticky holdout; call
//! attempts and their outcomes; RPC KPIs and the incremental conversion of calling.
//!
//! `rules` names the suppression rules, `holdout` the sticky hash, `intervals` Wilson and
//! Newcombe intervals, `kpis` the KPI arithmetic, `window` the local calling window (all pure);
//! `store` holds the SQL (creation runs entirely in PostgreSQL), `handlers` the endpoints
//! (`agent_time` the logged-time upload).

pub mod agent_time;
pub mod handlers;
pub mod holdout;
pub mod intervals;
pub mod kpis;
pub mod rules;
pub mod store;
pub mod window;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::post_account_links))
        .routes(routes!(handlers::post_campaigns, handlers::get_campaigns))
        .routes(routes!(handlers::get_campaign))
        .routes(routes!(handlers::get_call_list))
        .routes(routes!(handlers::get_exclusions))
        .routes(routes!(handlers::get_campaign_account))
        .routes(routes!(handlers::post_attempts))
        .routes(routes!(agent_time::post_agent_time))
        .routes(routes!(handlers::get_campaign_kpis))
}
