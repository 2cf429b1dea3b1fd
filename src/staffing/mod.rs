//! Staffing: Erlang C and Erlang A agent requirements, from a forecast or from the case
//! arrivals observed in the case store.
//!
//! `erlang` is pure queueing arithmetic; `store` reads observed arrivals; `handlers` is HTTP.

pub mod erlang;
pub mod handlers;
pub mod store;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::post_erlang_c))
        .routes(routes!(handlers::post_erlang_a))
        .routes(routes!(handlers::get_plan))
}
