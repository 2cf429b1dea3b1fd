//! Escalation accuracy, the call-center KPI vocabulary's quality measure for transfers:
//! escalation rules (which request types may go to which owner teams, optionally within local
//! hours) and the share of escalations they allow, by agent and by team.
//!
//! `rules` judges (pure), `store` holds the SQL, `handlers` the endpoints.

pub mod handlers;
pub mod rules;
pub mod store;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            handlers::put_escalation_rules,
            handlers::get_escalation_rules
        ))
        .routes(routes!(handlers::get_escalation_accuracy))
}
