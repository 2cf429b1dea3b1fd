//! Process views over the events of the filtered cases (created in the period): variants,
//! the directly-follows graph and start / end activities. Events are ordered by time, then
//! arrival, as pm4py orders them after `format_dataframe`; results match pm4py's
//! `get_variants`, `discover_dfg`, `discover_performance_dfg`, `get_start_activities` and
//! `get_end_activities`.

use axum::{
    extract::{OriginalUri, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use base64::Engine as _;
use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use super::{
    handlers::{Freshness, KpiParams, freshness_and_etag, not_modified, parse, with_cache_headers},
    store,
};
use crate::{
    auth::{Authorized, ViewerAccess},
    http::error::{ApiError, FieldError, Json, Query},
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
    params(KpiParams),
    responses(
        (status = 200, description = "Variants", body = VariantsResponse),
        (status = 304, description = "Unchanged"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_process_variants(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(params): Query<KpiParams>,
) -> Result<Response, ApiError> {
    let parsed = parse(&params, false)?;
    let limit = params.limit.unwrap_or(50);
    let mut errors = Vec::new();
    if !(1..=1000).contains(&limit) {
        errors.push(FieldError::new("limit", "must be from 1 to 1000"));
    }
    let after = match params.cursor.as_deref().map(decode_variant_cursor) {
        None => None,
        Some(Some(key)) => Some(key),
        Some(None) => {
            errors.push(FieldError::new(
                "cursor",
                "is not a cursor this endpoint returned",
            ));
            None
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::validation("invalid variants query", errors));
    }
    let (freshness, etag) = freshness_and_etag(&state, &uri).await?;
    if let Some(response) = not_modified(&headers, &etag) {
        return Ok(response);
    }
    let rows = store::process_rows(
        &state.db,
        &parsed.filter,
        "SELECT t.activities, count(*) AS cases,
                avg(t.duration) AS mean_duration, percentile_cont(0.5) WITHIN GROUP (ORDER BY t.duration) AS median_duration,
                avg(c.cycle_time_s) AS mean_cycle, percentile_cont(0.5) WITHIN GROUP (ORDER BY c.cycle_time_s) AS median_cycle
         FROM (SELECT case_id, array_agg(activity ORDER BY event_time, seq) AS activities,
                      extract(epoch FROM max(event_time) - min(event_time))::float8 AS duration
               FROM ordered GROUP BY case_id) t
         JOIN cases c USING (case_id)
         GROUP BY t.activities",
    )
    .await?;
    let mut variants: Vec<Variant> = rows
        .iter()
        .map(|row| Variant {
            activities: row.try_get("activities").unwrap_or_default(),
            cases: row.try_get("cases").unwrap_or(0),
            mean_duration_s: row.try_get("mean_duration").ok().flatten(),
            median_duration_s: row.try_get("median_duration").ok().flatten(),
            mean_cycle_time_s: row.try_get("mean_cycle").ok().flatten(),
            median_cycle_time_s: row.try_get("median_cycle").ok().flatten(),
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
    let response = VariantsResponse {
        freshness,
        cases,
        variant_count,
        variants,
        next_cursor,
    };
    Ok(with_cache_headers(Json(response).into_response(), &etag))
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
    params(KpiParams),
    responses(
        (status = 200, description = "Edges", body = DfgResponse),
        (status = 304, description = "Unchanged"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_process_dfg(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(params): Query<KpiParams>,
) -> Result<Response, ApiError> {
    let parsed = parse(&params, false)?;
    let (freshness, etag) = freshness_and_etag(&state, &uri).await?;
    if let Some(response) = not_modified(&headers, &etag) {
        return Ok(response);
    }
    let rows = store::process_rows(
        &state.db,
        &parsed.filter,
        "SELECT a, b, count(*) AS frequency, avg(d) AS mean_s,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY d) AS median_s, min(d) AS min_s, max(d) AS max_s
         FROM (SELECT activity AS a, lead(activity) OVER w AS b,
                      extract(epoch FROM lead(event_time) OVER w - event_time)::float8 AS d
               FROM ordered WINDOW w AS (PARTITION BY case_id ORDER BY event_time, seq)) pairs
         WHERE b IS NOT NULL GROUP BY a, b",
    )
    .await?;
    let mut edges: Vec<DfgEdge> = rows
        .iter()
        .map(|row| DfgEdge {
            from: row.try_get("a").unwrap_or_default(),
            to: row.try_get("b").unwrap_or_default(),
            frequency: row.try_get("frequency").unwrap_or(0),
            mean_s: row.try_get("mean_s").ok().flatten(),
            median_s: row.try_get("median_s").ok().flatten(),
            min_s: row.try_get("min_s").ok().flatten(),
            max_s: row.try_get("max_s").ok().flatten(),
        })
        .collect();
    edges.sort_by(|x, y| {
        y.frequency
            .cmp(&x.frequency)
            .then_with(|| (&x.from, &x.to).cmp(&(&y.from, &y.to)))
    });
    Ok(with_cache_headers(
        Json(DfgResponse { freshness, edges }).into_response(),
        &etag,
    ))
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
    params(KpiParams),
    responses(
        (status = 200, description = "Activities", body = ActivitiesResponse),
        (status = 304, description = "Unchanged"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_process_activities(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(params): Query<KpiParams>,
) -> Result<Response, ApiError> {
    let parsed = parse(&params, false)?;
    let (freshness, etag) = freshness_and_etag(&state, &uri).await?;
    if let Some(response) = not_modified(&headers, &etag) {
        return Ok(response);
    }
    let rows = store::process_rows(
        &state.db,
        &parsed.filter,
        "SELECT activity, count(*) AS events, count(*) FILTER (WHERE first) AS starts, count(*) FILTER (WHERE last) AS ends
         FROM (SELECT activity,
                      row_number() OVER (PARTITION BY case_id ORDER BY event_time, seq) = 1 AS first,
                      row_number() OVER (PARTITION BY case_id ORDER BY event_time DESC, seq DESC) = 1 AS last
               FROM ordered) positions
         GROUP BY activity",
    )
    .await?;
    let mut activities: Vec<ActivityCounts> = rows
        .iter()
        .map(|row| ActivityCounts {
            activity: row.try_get("activity").unwrap_or_default(),
            events: row.try_get("events").unwrap_or(0),
            starts: row.try_get("starts").unwrap_or(0),
            ends: row.try_get("ends").unwrap_or(0),
        })
        .collect();
    activities.sort_by(|a, b| {
        b.events
            .cmp(&a.events)
            .then_with(|| a.activity.cmp(&b.activity))
    });
    Ok(with_cache_headers(
        Json(ActivitiesResponse {
            freshness,
            activities,
        })
        .into_response(),
        &etag,
    ))
}
