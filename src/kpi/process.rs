//! Process views over the events of the filtered cases (created in the period): variants,
//! the directly-follows graph and start / end activities. Events are ordered by time, then
//! arrival, as pm4py orders them after `format_dataframe`; results match pm4py's
//! `get_variants`, `discover_dfg`, `discover_performance_dfg`, `get_start_activities` and
//! `get_end_activities`.

use axum::{extract::State, response::Response};
use base64::Engine as _;
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    conditional::{Conditional, Freshness, Stop},
    handlers::validated,
    params::{FilterParams, OptionalPeriodParams, PageParams},
    store,
};
use crate::{
    auth::{Authorized, ViewerAccess},
    http::error::Query,
    state::AppState,
};

type Problem = crate::http::error::Problem;

/// One variant: a distinct activity sequence.
#[derive(Debug, Serialize, ToSchema)]
pub struct Variant {
    pub activities: Vec<String>,
    pub cases: i64,
    /// Case duration (first to last event), mean and median in seconds.
    pub mean_duration_s: Option<f64>,
    pub median_duration_s: Option<f64>,
    /// Cycle time (creation to resolution) of the variant's resolved cases.
    pub mean_cycle_time_s: Option<f64>,
    pub median_cycle_time_s: Option<f64>,
}

/// Variants, most frequent first (ties: activity sequence, code-point order).
#[derive(Debug, Serialize, ToSchema)]
pub struct VariantsResponse {
    #[serde(flatten)]
    pub freshness: Freshness,
    pub cases: i64,
    /// Distinct variants in all (each page holds up to `limit`).
    pub variant_count: usize,
    pub variants: Vec<Variant>,
    /// Pass as `cursor` for the next page of variants; null on the last page.
    pub next_cursor: Option<String>,
}

/// A variants cursor: the (cases, activities) of the last variant of a page, the key the list
/// is sorted by.
fn encode_variant_cursor(variant: &Variant) -> String {
    let key = serde_json::json!([variant.cases, variant.activities]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.to_string())
}

fn decode_variant_cursor(cursor: &str) -> Option<(i64, Vec<String>)> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Variants of the filtered cases, most frequent first, in pages of `limit`: pass a page's
/// `next_cursor` as `cursor` for the next one, so every variant of a log can be read.
#[utoipa::path(get, path = "/v1/process/variants", tag = "process",
    security(("api_key" = [])),
    params(OptionalPeriodParams, FilterParams, PageParams),
    responses(
        (status = 200, description = "Variants", body = VariantsResponse),
        (status = 304, description = "Unchanged"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_process_variants(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    conditional: Conditional,
    Query(period): Query<OptionalPeriodParams>,
    Query(filters): Query<FilterParams>,
    Query(page): Query<PageParams>,
) -> Result<Response, Stop> {
    let mut errors = Vec::new();
    let filter = period.filter(&filters, &mut errors);
    let (limit, after) = page.parse(decode_variant_cursor, &mut errors);
    validated("invalid variants query", errors, Some(()))?;
    let (freshness, reply) = conditional.check(&state.db).await?;
    let mut variants: Vec<Variant> = store::variants(&state.db, &filter)
        .await?
        .into_iter()
        .map(|row| Variant {
            activities: row.activities,
            cases: row.cases,
            mean_duration_s: row.mean_duration,
            median_duration_s: row.median_duration,
            mean_cycle_time_s: row.mean_cycle,
            median_cycle_time_s: row.median_cycle,
        })
        .collect();
    // Sorted here: Rust compares strings by code point, whatever the database's collation.
    variants.sort_by(|a, b| {
        b.cases
            .cmp(&a.cases)
            .then_with(|| a.activities.cmp(&b.activities))
    });
    let cases = variants.iter().map(|v| v.cases).sum();
    let variant_count = variants.len();
    if let Some((after_cases, after_activities)) = &after {
        // Everything up to and including the previous page's last key (the sort order).
        let done = variants.partition_point(|v| {
            v.cases > *after_cases || (v.cases == *after_cases && v.activities <= *after_activities)
        });
        variants.drain(..done);
    }
    let more = variants.len() > limit;
    variants.truncate(limit);
    let next_cursor = more
        .then(|| variants.last().map(encode_variant_cursor))
        .flatten();
    Ok(reply.json(VariantsResponse {
        freshness,
        cases,
        variant_count,
        variants,
        next_cursor,
    }))
}

/// One edge of the directly-follows graph.
#[derive(Debug, Serialize, ToSchema)]
pub struct DfgEdge {
    pub from: String,
    pub to: String,
    /// How often `to` directly follows `from` within a case.
    pub frequency: i64,
    /// Time between the two events, in seconds.
    pub mean_s: Option<f64>,
    pub median_s: Option<f64>,
    pub min_s: Option<f64>,
    pub max_s: Option<f64>,
}

/// The directly-follows graph.
#[derive(Debug, Serialize, ToSchema)]
pub struct DfgResponse {
    #[serde(flatten)]
    pub freshness: Freshness,
    /// Most frequent first.
    pub edges: Vec<DfgEdge>,
}

/// The directly-follows graph of the filtered cases, with frequency and performance.
#[utoipa::path(get, path = "/v1/process/dfg", tag = "process",
    security(("api_key" = [])),
    params(OptionalPeriodParams, FilterParams),
    responses(
        (status = 200, description = "Edges", body = DfgResponse),
        (status = 304, description = "Unchanged"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_process_dfg(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    conditional: Conditional,
    Query(period): Query<OptionalPeriodParams>,
    Query(filters): Query<FilterParams>,
) -> Result<Response, Stop> {
    let mut errors = Vec::new();
    let filter = period.filter(&filters, &mut errors);
    validated("invalid KPI query", errors, Some(()))?;
    let (freshness, reply) = conditional.check(&state.db).await?;
    let mut edges: Vec<DfgEdge> = store::dfg(&state.db, &filter)
        .await?
        .into_iter()
        .map(|row| DfgEdge {
            from: row.a,
            to: row.b,
            frequency: row.frequency,
            mean_s: row.mean_s,
            median_s: row.median_s,
            min_s: row.min_s,
            max_s: row.max_s,
        })
        .collect();
    edges.sort_by(|x, y| {
        y.frequency
            .cmp(&x.frequency)
            .then_with(|| (&x.from, &x.to).cmp(&(&y.from, &y.to)))
    });
    Ok(reply.json(DfgResponse { freshness, edges }))
}

/// An activity's counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityCounts {
    pub activity: String,
    pub events: i64,
    /// Cases starting with it.
    pub starts: i64,
    /// Cases ending with it.
    pub ends: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivitiesResponse {
    #[serde(flatten)]
    pub freshness: Freshness,
    pub activities: Vec<ActivityCounts>,
}

/// Activities of the filtered cases with event, start and end counts.
#[utoipa::path(get, path = "/v1/process/activities", tag = "process",
    security(("api_key" = [])),
    params(OptionalPeriodParams, FilterParams),
    responses(
        (status = 200, description = "Activities", body = ActivitiesResponse),
        (status = 304, description = "Unchanged"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_process_activities(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    conditional: Conditional,
    Query(period): Query<OptionalPeriodParams>,
    Query(filters): Query<FilterParams>,
) -> Result<Response, Stop> {
    let mut errors = Vec::new();
    let filter = period.filter(&filters, &mut errors);
    validated("invalid KPI query", errors, Some(()))?;
    let (freshness, reply) = conditional.check(&state.db).await?;
    let mut activities: Vec<ActivityCounts> = store::activities(&state.db, &filter)
        .await?
        .into_iter()
        .map(|row| ActivityCounts {
            activity: row.activity,
            events: row.events,
            starts: row.starts,
            ends: row.ends,
        })
        .collect();
    activities.sort_by(|a, b| {
        b.events
            .cmp(&a.events)
            .then_with(|| a.activity.cmp(&b.activity))
    });
    Ok(reply.json(ActivitiesResponse {
        freshness,
        activities,
    }))
}
