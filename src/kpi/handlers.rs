//! HTTP handlers of the KPI capability: summaries, time series, backlog, agent and team
//! tables, and process views; every response carries freshness and an ETag.

use std::collections::{BTreeMap, BTreeSet};

use axum::{
    extract::{OriginalUri, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{Row, postgres::PgRow};
use utoipa::{IntoParams, ToSchema};

use super::store::{self, Bucket, Cohort, DIMENSIONS, Filter};
use crate::{
    auth::{Authorized, ViewerAccess},
    http::error::{ApiError, FieldError, Json, Query},
    state::AppState,
};

type Problem = crate::http::error::Problem;

// ---------------------------------------------------------------------------------------------
// Parameters

/// Filters shared by every KPI and process view.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KpiParams {
    /// Start of the period (RFC 3339), included.
    pub from: Option<DateTime<Utc>>,
    /// End of the period, excluded.
    pub to: Option<DateTime<Utc>>,
    pub channel: Option<String>,
    /// The priority as written in the data (`High`, `Alto`, ...).
    pub priority: Option<String>,
    /// The canonical level: low, normal, high or urgent (`High` and `Alto` are both high).
    pub priority_level: Option<String>,
    pub request_type: Option<String>,
    pub product: Option<String>,
    pub owner_team: Option<String>,
    /// Current owner.
    pub agent: Option<String>,
    pub customer: Option<String>,
    /// Comma-separated dimensions to group by: channel, priority, priority_level,
    /// request_type, product, owner_team, agent, customer.
    pub group_by: Option<String>,
    /// Time series: hour, day, week (ISO, Monday) or month.
    pub bucket: Option<String>,
    /// Time series: IANA zone the buckets are cut in (default UTC); DST-correct.
    pub tz: Option<String>,
    /// Backlog: the instant (default now).
    pub at: Option<DateTime<Utc>>,
    /// Variants and reconciliation: the page size (default 50, at most 1000).
    pub limit: Option<usize>,
    /// Variants and reconciliation: the `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

pub(super) struct Parsed {
    pub filter: Filter,
    pub groups: Vec<&'static str>,
}

pub(super) fn parse(params: &KpiParams, need_period: bool) -> Result<Parsed, ApiError> {
    let mut errors = Vec::new();
    if need_period && (params.from.is_none() || params.to.is_none()) {
        errors.push(FieldError::new("from", "from and to are required"));
    }
    if let (Some(from), Some(to)) = (params.from, params.to)
        && to <= from
    {
        errors.push(FieldError::new("to", "must be after from"));
    }
    let mut groups = Vec::new();
    for name in params
        .group_by
        .iter()
        .flat_map(|g| g.split(','))
        .map(str::trim)
        .filter(|g| !g.is_empty())
    {
        match DIMENSIONS.iter().find(|d| **d == name) {
            Some(dimension) if !groups.contains(dimension) => groups.push(*dimension),
            Some(_) => {}
            None => errors.push(FieldError::new(
                "group_by",
                format!("'{name}' is not one of {}", DIMENSIONS.join(", ")),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation("invalid KPI query", errors));
    }
    let equals = [
        ("channel", &params.channel),
        ("priority", &params.priority),
        ("priority_level", &params.priority_level),
        ("request_type", &params.request_type),
        ("product", &params.product),
        ("owner_team", &params.owner_team),
        ("agent", &params.agent),
        ("customer", &params.customer),
    ]
    .into_iter()
    .filter_map(|(column, value)| value.clone().map(|v| (column, v)))
    .collect();
    Ok(Parsed {
        filter: Filter {
            from: params.from,
            to: params.to,
            equals,
        },
        groups,
    })
}

// ---------------------------------------------------------------------------------------------
// Freshness and conditional requests

/// Freshness of the data behind a response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Freshness {
    /// How recent the data is: the latest event time stored, or the latest extraction time
    /// of imported data (the template's `LastDataUpdate`) when that is later.
    pub data_as_of: Option<DateTime<Utc>>,
    /// When case data last changed.
    pub last_ingested_at: Option<DateTime<Utc>>,
}

/// The data version and the request make the ETag: it changes only when data changes.
pub(super) async fn freshness_and_etag(
    state: &AppState,
    uri: &axum::http::Uri,
) -> Result<(Freshness, String), ApiError> {
    let (data_as_of, last_ingested_at, version) = store::freshness(&state.db).await?;
    let digest = Sha256::digest(uri.to_string().as_bytes());
    let etag = format!("\"{version}-{}\"", hex::encode(&digest[..8]));
    Ok((
        Freshness {
            data_as_of,
            last_ingested_at,
        },
        etag,
    ))
}

pub(super) fn not_modified(headers: &HeaderMap, etag: &str) -> Option<Response> {
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim().trim_start_matches("W/") == etag || tag.trim() == "*")
        });
    matches.then(|| with_cache_headers(StatusCode::NOT_MODIFIED.into_response(), etag))
}

pub(super) fn with_cache_headers(mut response: Response, etag: &str) -> Response {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    // Pollers revalidate every time; a 304 costs one indexed row read.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    response
}

// ---------------------------------------------------------------------------------------------
// KPI values

/// A count over a cohort.
#[derive(Debug, Serialize, ToSchema)]
pub struct Count {
    /// `created`, `resolved`, `responded` or `snapshot`.
    pub cohort: &'static str,
    pub value: i64,
}

/// Σ numerator / Σ denominator over the set; null when the denominator is 0.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rate {
    pub cohort: &'static str,
    pub numerator: i64,
    pub denominator: i64,
    pub value: Option<f64>,
}

/// A mean over the cases that have the value.
#[derive(Debug, Serialize, ToSchema)]
pub struct Mean {
    pub cohort: &'static str,
    pub count: i64,
    pub value: Option<f64>,
}

/// Duration statistics in seconds (median and p90 interpolate linearly, as pandas).
#[derive(Debug, Serialize, ToSchema)]
pub struct Durations {
    pub cohort: &'static str,
    pub count: i64,
    pub mean_s: Option<f64>,
    pub median_s: Option<f64>,
    pub p90_s: Option<f64>,
}

/// Every KPI of the spec, each naming its cohort.
#[derive(Debug, Serialize, ToSchema)]
pub struct Kpis {
    pub volume: Count,
    pub escalation_rate: Rate,
    pub recategorization_rate: Rate,
    pub first_response: Durations,
    pub resolved: Count,
    /// succeeded / (succeeded + noncompliant).
    pub sla_compliance: Rate,
    /// true / matured (true or false) resolved cases.
    pub fcr_no_reactivation: Rate,
    pub fcr_no_repeat: Rate,
    pub fcr_single_interaction: Rate,
    pub reactivation_rate: Rate,
    pub rework_rate: Rate,
    pub knowledge_use_rate: Rate,
    /// Mean CSAT of the resolved cases with a response.
    pub csat: Mean,
    /// Satisfied (4 or 5) / responses.
    pub csat_satisfied: Rate,
    /// Mean handoffs per resolved case.
    pub handoffs: Mean,
    pub cycle_time: Durations,
    pub on_hold: Durations,
    pub queue_wait: Durations,
    /// Open cases breaching their SLA now (not limited to the period).
    pub active_breaches: Option<Count>,
    /// Open cases nearing their SLA now.
    pub nearing: Option<Count>,
}

fn int(row: Option<&PgRow>, column: &str) -> i64 {
    row.and_then(|r| r.try_get::<Option<i64>, _>(column).ok().flatten())
        .unwrap_or(0)
}

fn float(row: Option<&PgRow>, column: &str) -> Option<f64> {
    row.and_then(|r| r.try_get::<Option<f64>, _>(column).ok().flatten())
}

fn rate(cohort: &'static str, numerator: i64, denominator: i64) -> Rate {
    let value = (denominator > 0).then(|| numerator as f64 / denominator as f64);
    Rate {
        cohort,
        numerator,
        denominator,
        value,
    }
}

fn durations(row: Option<&PgRow>, name: &str) -> Durations {
    let quantiles: Vec<Option<f64>> = row
        .and_then(|r| {
            r.try_get::<Option<Vec<Option<f64>>>, _>(format!("{name}_quantiles").as_str())
                .ok()
                .flatten()
        })
        .unwrap_or_default();
    Durations {
        cohort: "resolved",
        count: int(row, &format!("{name}_count")),
        mean_s: float(row, &format!("{name}_mean")),
        median_s: quantiles.first().copied().flatten(),
        p90_s: quantiles.get(1).copied().flatten(),
    }
}

impl Kpis {
    fn from_rows(
        created: Option<&PgRow>,
        resolved: Option<&PgRow>,
        snapshot: Option<Option<&PgRow>>,
    ) -> Kpis {
        let (c, r) = (created, resolved);
        let volume = int(c, "volume");
        let resolved_count = int(r, "resolved");
        let responses = int(r, "csat_responses");
        Kpis {
            volume: Count {
                cohort: "created",
                value: volume,
            },
            escalation_rate: rate("created", int(c, "escalated"), volume),
            recategorization_rate: rate("created", int(c, "recategorized"), volume),
            first_response: Durations {
                cohort: "created",
                ..durations(c, "first_response")
            },
            resolved: Count {
                cohort: "resolved",
                value: resolved_count,
            },
            sla_compliance: rate(
                "resolved",
                int(r, "sla_succeeded"),
                int(r, "sla_succeeded") + int(r, "sla_noncompliant"),
            ),
            fcr_no_reactivation: rate(
                "resolved",
                int(r, "fcr_no_reactivation_true"),
                int(r, "fcr_no_reactivation_matured"),
            ),
            fcr_no_repeat: rate(
                "resolved",
                int(r, "fcr_no_repeat_true"),
                int(r, "fcr_no_repeat_matured"),
            ),
            fcr_single_interaction: rate(
                "resolved",
                int(r, "fcr_single_interaction_true"),
                int(r, "fcr_single_interaction_matured"),
            ),
            reactivation_rate: rate("resolved", int(r, "reactivated"), resolved_count),
            rework_rate: rate("resolved", int(r, "rework"), resolved_count),
            knowledge_use_rate: rate("resolved", int(r, "kb_used"), resolved_count),
            csat: Mean {
                cohort: "responded",
                count: responses,
                value: float(r, "csat_mean"),
            },
            csat_satisfied: rate("responded", int(r, "csat_satisfied"), responses),
            handoffs: Mean {
                cohort: "resolved",
                count: resolved_count,
                value: (resolved_count > 0)
                    .then(|| int(r, "handoffs_sum") as f64 / resolved_count as f64),
            },
            cycle_time: durations(r, "cycle_time"),
            on_hold: durations(r, "on_hold"),
            queue_wait: durations(r, "queue_wait"),
            active_breaches: snapshot.map(|s| Count {
                cohort: "snapshot",
                value: int(s, "active_breaches"),
            }),
            nearing: snapshot.map(|s| Count {
                cohort: "snapshot",
                value: int(s, "nearing"),
            }),
        }
    }
}

type GroupKey = Vec<Option<String>>;

fn group_key(row: &PgRow, width: usize) -> GroupKey {
    (0..width)
        .map(|i| {
            row.try_get::<Option<String>, _>(format!("g{i}").as_str())
                .ok()
                .flatten()
        })
        .collect()
}

fn by_group(rows: &[PgRow], width: usize) -> BTreeMap<GroupKey, &PgRow> {
    rows.iter()
        .map(|row| (group_key(row, width), row))
        .collect()
}

fn named(names: &[&str], key: &GroupKey) -> BTreeMap<String, Option<String>> {
    names
        .iter()
        .map(|n| (*n).to_owned())
        .zip(key.iter().cloned())
        .collect()
}

/// One group's KPIs.
#[derive(Debug, Serialize, ToSchema)]
pub struct KpiGroup {
    /// The group's value per `group_by` dimension (empty without grouping).
    #[schema(value_type = Object)]
    pub group: BTreeMap<String, Option<String>>,
    pub kpis: Kpis,
}

/// KPIs over a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryResponse {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group_by: Vec<String>,
    #[serde(flatten)]
    pub freshness: Freshness,
    pub groups: Vec<KpiGroup>,
}

/// Groups from the created and resolved cohorts (and the snapshot), merged by key.
async fn grouped_kpis(
    state: &AppState,
    filter: &Filter,
    created_groups: &[&str],
    resolved_groups: &[&str],
    with_snapshot: bool,
) -> Result<Vec<(GroupKey, Kpis)>, ApiError> {
    let width = created_groups.len();
    // The cohorts are independent queries: run them side by side on pooled connections.
    let (created, resolved, snapshot) = tokio::try_join!(
        store::cohort_aggregates(&state.db, Cohort::Created, filter, created_groups, None),
        store::cohort_aggregates(&state.db, Cohort::Resolved, filter, resolved_groups, None),
        async {
            if with_snapshot {
                store::snapshot_counts(&state.db, filter, created_groups).await
            } else {
                Ok(Vec::new())
            }
        },
    )?;
    let (created, resolved, snapshot) = (
        by_group(&created, width),
        by_group(&resolved, width),
        by_group(&snapshot, width),
    );
    let mut keys: BTreeSet<GroupKey> = created
        .keys()
        .chain(resolved.keys())
        .chain(snapshot.keys())
        .cloned()
        .collect();
    if width == 0 {
        keys.insert(Vec::new());
    }
    Ok(keys
        .into_iter()
        .map(|key| {
            let kpis = Kpis::from_rows(
                created.get(&key).copied(),
                resolved.get(&key).copied(),
                with_snapshot.then(|| snapshot.get(&key).copied()),
            );
            (key, kpis)
        })
        .collect())
}

/// Every KPI over a period (`from`, `to` required), optionally grouped. Created-cohort KPIs
/// count cases created in the period; resolved-cohort ones cases resolved in it; rates are
/// Σ numerator / Σ denominator with both given.
#[utoipa::path(get, path = "/v1/kpis/summary", tag = "kpis",
    security(("api_key" = [])),
    params(KpiParams),
    responses(
        (status = 200, description = "KPIs", body = SummaryResponse),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_kpi_summary(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(params): Query<KpiParams>,
) -> Result<Response, ApiError> {
    let parsed = parse(&params, true)?;
    let (freshness, etag) = freshness_and_etag(&state, &uri).await?;
    if let Some(response) = not_modified(&headers, &etag) {
        return Ok(response);
    }
    let groups = grouped_kpis(&state, &parsed.filter, &parsed.groups, &parsed.groups, true).await?;
    let response = SummaryResponse {
        from: parsed.filter.from.unwrap_or_default(),
        to: parsed.filter.to.unwrap_or_default(),
        group_by: parsed.groups.iter().map(|g| (*g).to_owned()).collect(),
        freshness,
        groups: groups
            .into_iter()
            .map(|(key, kpis)| KpiGroup {
                group: named(&parsed.groups, &key),
                kpis,
            })
            .collect(),
    };
    Ok(with_cache_headers(Json(response).into_response(), &etag))
}

/// A row of the agent or team table.
#[derive(Debug, Serialize, ToSchema)]
pub struct TableRow {
    /// The agent or team; null for cases without one.
    pub name: Option<String>,
    pub kpis: Kpis,
}

/// A table of KPIs per agent or team.
#[derive(Debug, Serialize, ToSchema)]
pub struct TableResponse {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[serde(flatten)]
    pub freshness: Freshness,
    pub rows: Vec<TableRow>,
}

async fn table(
    state: AppState,
    uri: axum::http::Uri,
    headers: HeaderMap,
    params: KpiParams,
    created_column: &'static str,
    resolved_column: &'static str,
) -> Result<Response, ApiError> {
    let parsed = parse(&params, true)?;
    let (freshness, etag) = freshness_and_etag(&state, &uri).await?;
    if let Some(response) = not_modified(&headers, &etag) {
        return Ok(response);
    }
    let groups = grouped_kpis(
        &state,
        &parsed.filter,
        &[created_column],
        &[resolved_column],
        false,
    )
    .await?;
    let response = TableResponse {
        from: parsed.filter.from.unwrap_or_default(),
        to: parsed.filter.to.unwrap_or_default(),
        freshness,
        rows: groups
            .into_iter()
            .map(|(mut key, kpis)| TableRow {
                name: key.pop().flatten(),
                kpis,
            })
            .collect(),
    };
    Ok(with_cache_headers(Json(response).into_response(), &etag))
}

/// KPIs per agent: created-cohort KPIs by the case's current owner, resolved-cohort ones (CSAT
/// included) credited to the agent who resolved the case.
#[utoipa::path(get, path = "/v1/kpis/agents", tag = "kpis",
    security(("api_key" = [])),
    params(KpiParams),
    responses(
        (status = 200, description = "One row per agent", body = TableResponse),
        (status = 304, description = "Unchanged"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_kpi_agents(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(params): Query<KpiParams>,
) -> Result<Response, ApiError> {
    table(state, uri, headers, params, "agent", "resolving_agent").await
}

/// KPIs per owner team.
#[utoipa::path(get, path = "/v1/kpis/teams", tag = "kpis",
    security(("api_key" = [])),
    params(KpiParams),
    responses(
        (status = 200, description = "One row per team", body = TableResponse),
        (status = 304, description = "Unchanged"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_kpi_teams(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(params): Query<KpiParams>,
) -> Result<Response, ApiError> {
    table(state, uri, headers, params, "owner_team", "owner_team").await
}

/// One bucket of a series.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesPoint {
    /// The bucket's start (a local midnight, hour, Monday or first of month in `tz`).
    pub start: DateTime<Utc>,
    pub kpis: Kpis,
}

/// One group's series.
#[derive(Debug, Serialize, ToSchema)]
pub struct Series {
    #[schema(value_type = Object)]
    pub group: BTreeMap<String, Option<String>>,
    pub points: Vec<SeriesPoint>,
}

/// KPIs per time bucket.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimeseriesResponse {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub bucket: String,
    pub tz: String,
    pub group_by: Vec<String>,
    #[serde(flatten)]
    pub freshness: Freshness,
    pub series: Vec<Series>,
}

/// KPIs per hour, day, ISO week or month, cut in an IANA zone (DST-correct: a local day is
/// 23 or 25 hours when the clocks change). Each bucket counts created-cohort KPIs by creation
/// time and resolved-cohort ones by resolution time. Empty buckets are listed (null rates).
#[utoipa::path(get, path = "/v1/kpis/timeseries", tag = "kpis",
    security(("api_key" = [])),
    params(KpiParams),
    responses(
        (status = 200, description = "Series", body = TimeseriesResponse),
        (status = 304, description = "Unchanged"),
        (status = 422, description = "Invalid filter, bucket or zone", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_kpi_timeseries(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(params): Query<KpiParams>,
) -> Result<Response, ApiError> {
    let parsed = parse(&params, true)?;
    let mut errors = Vec::new();
    let unit = match params.bucket.as_deref().unwrap_or("day") {
        unit @ ("hour" | "day" | "week" | "month") => unit,
        _ => {
            errors.push(FieldError::new(
                "bucket",
                "must be hour, day, week or month",
            ));
            "day"
        }
    };
    let unit: &'static str = match unit {
        "hour" => "hour",
        "week" => "week",
        "month" => "month",
        _ => "day",
    };
    let zone = params.tz.clone().unwrap_or_else(|| "UTC".into());
    if zone.parse::<chrono_tz::Tz>().is_err() {
        errors.push(FieldError::new("tz", "is not an IANA time zone"));
    }
    let (from, to) = (
        parsed.filter.from.unwrap_or_default(),
        parsed.filter.to.unwrap_or_default(),
    );
    let limit = match unit {
        "hour" => chrono::Duration::days(400),
        _ => chrono::Duration::days(366 * 20),
    };
    if to - from > limit {
        errors.push(FieldError::new("to", "the period holds too many buckets"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation("invalid time series query", errors));
    }
    let (freshness, etag) = freshness_and_etag(&state, &uri).await?;
    if let Some(response) = not_modified(&headers, &etag) {
        return Ok(response);
    }
    let bucket = Bucket {
        unit,
        zone: zone.clone(),
    };
    let width = parsed.groups.len();
    let (starts, created, resolved) = tokio::try_join!(
        store::bucket_starts(&state.db, &bucket, from, to),
        store::cohort_aggregates(
            &state.db,
            Cohort::Created,
            &parsed.filter,
            &parsed.groups,
            Some(&bucket)
        ),
        store::cohort_aggregates(
            &state.db,
            Cohort::Resolved,
            &parsed.filter,
            &parsed.groups,
            Some(&bucket)
        ),
    )?;
    let keyed = |rows: &[PgRow]| -> BTreeMap<(GroupKey, DateTime<Utc>), usize> {
        rows.iter()
            .enumerate()
            .filter_map(|(i, row)| {
                row.try_get::<DateTime<Utc>, _>("bucket")
                    .ok()
                    .map(|b| ((group_key(row, width), b), i))
            })
            .collect()
    };
    let (created_at, resolved_at) = (keyed(&created), keyed(&resolved));
    let mut groups: BTreeSet<GroupKey> = created_at
        .keys()
        .chain(resolved_at.keys())
        .map(|(g, _)| g.clone())
        .collect();
    if width == 0 {
        groups.insert(Vec::new());
    }
    let series = groups
        .into_iter()
        .map(|group| {
            let points = starts
                .iter()
                .map(|start| {
                    let key = (group.clone(), *start);
                    let c = created_at.get(&key).map(|&i| &created[i]);
                    let r = resolved_at.get(&key).map(|&i| &resolved[i]);
                    SeriesPoint {
                        start: *start,
                        kpis: Kpis::from_rows(c, r, None),
                    }
                })
                .collect();
            Series {
                group: named(&parsed.groups, &group),
                points,
            }
        })
        .collect();
    let response = TimeseriesResponse {
        from,
        to,
        bucket: unit.into(),
        tz: zone,
        group_by: parsed.groups.iter().map(|g| (*g).to_owned()).collect(),
        freshness,
        series,
    };
    Ok(with_cache_headers(Json(response).into_response(), &etag))
}

/// One ageing bucket of the backlog.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgeingBucket {
    /// e.g. `0-1d`, `30d+`.
    pub age: String,
    pub cases: i64,
}

/// The backlog of one group.
#[derive(Debug, Serialize, ToSchema)]
pub struct BacklogGroup {
    #[schema(value_type = Object)]
    pub group: BTreeMap<String, Option<String>>,
    /// Cases open at the instant (cohort `snapshot`).
    pub backlog: i64,
    pub ageing: Vec<AgeingBucket>,
}

/// The backlog at an instant.
#[derive(Debug, Serialize, ToSchema)]
pub struct BacklogResponse {
    pub at: DateTime<Utc>,
    pub group_by: Vec<String>,
    #[serde(flatten)]
    pub freshness: Freshness,
    pub groups: Vec<BacklogGroup>,
}

/// Cases open at `at` (default now): created by then and not resolved or closed by then, with
/// ageing buckets 0-1 d, 1-3 d, 3-7 d, 7-14 d, 14-30 d, > 30 d. The period filters do not apply.
#[utoipa::path(get, path = "/v1/kpis/backlog", tag = "kpis",
    security(("api_key" = [])),
    params(KpiParams),
    responses(
        (status = 200, description = "The backlog", body = BacklogResponse),
        (status = 304, description = "Unchanged"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_kpi_backlog(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(params): Query<KpiParams>,
) -> Result<Response, ApiError> {
    let parsed = parse(&params, false)?;
    let at = params.at.unwrap_or_else(Utc::now);
    let (freshness, etag) = freshness_and_etag(&state, &uri).await?;
    // Without `at`, the answer moves with the clock: no 304.
    if params.at.is_some()
        && let Some(response) = not_modified(&headers, &etag)
    {
        return Ok(response);
    }
    let filter = Filter {
        from: None,
        to: None,
        equals: parsed.filter.equals.clone(),
    };
    let rows = store::backlog(&state.db, at, &filter, &parsed.groups).await?;
    let width = parsed.groups.len();
    let mut groups: Vec<BacklogGroup> = rows
        .iter()
        .map(|row| BacklogGroup {
            group: named(&parsed.groups, &group_key(row, width)),
            backlog: int(Some(row), "backlog"),
            ageing: store::AGEING_DAYS
                .iter()
                .enumerate()
                .map(|(i, (low, high))| AgeingBucket {
                    age: match high {
                        Some(high) => format!("{low}-{high}d"),
                        None => format!("{low}d+"),
                    },
                    cases: int(Some(row), &format!("age{i}")),
                })
                .collect(),
        })
        .collect();
    groups.retain(|g| width == 0 || g.backlog > 0);
    let response = BacklogResponse {
        at,
        group_by: parsed.groups.iter().map(|g| (*g).to_owned()).collect(),
        freshness,
        groups,
    };
    let response = Json(response).into_response();
    Ok(if params.at.is_some() {
        with_cache_headers(response, &etag)
    } else {
        response
    })
}
