//! SLA policies on business-hours calendars (spec: cases-and-kpis.md, "SLA clocks on
//! business-hours calendars").
//!
//! `calendar` maps opening hours and holidays to instants, `clock` runs one SLA clock as a
//! pure function (`open_time` keeps the arithmetic that makes long windows cheap), `policy`
//! picks the policy of a case; `cases::metrics` calls them. `store`
//! keeps the versions; `handlers` serves `/v1/calendars`, `/v1/sla-policies`, the
//! recomputations and a case's SLA timeline.

pub mod calendar;
pub mod clock;
pub mod handlers;
mod open_time;
pub mod policy;
pub mod store;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::get_calendars))
        .routes(routes!(handlers::get_calendar, handlers::put_calendar))
        .routes(routes!(handlers::get_calendar_versions))
        .routes(routes!(handlers::get_sla_policies))
        .routes(routes!(
            handlers::get_sla_policy,
            handlers::put_sla_policy,
            handlers::delete_sla_policy
        ))
        .routes(routes!(handlers::get_sla_policy_versions))
        .routes(routes!(handlers::post_recomputation))
        .routes(routes!(handlers::get_recomputation))
        .routes(routes!(handlers::get_case_sla))
}
