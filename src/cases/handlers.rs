//! HTTP handlers of the cases capability: event ingest, file imports, activity mappings and
//! the case read API.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::atomic::{AtomicU64, Ordering},
};

use axum::{
    extract::{Multipart, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{
    activity::{Activity, ActivityResolver, normalise_name},
    import::ImportOptions,
    ingest::{self, BatchReport, ImportFailure, ImportReport},
    input::EventInput,
    metrics::CaseMetrics,
    store::{
        self, CaseFilter, CaseRow, CaseSort, EventRow as EventResponse, ImportRow as ImportResponse,
    },
};
use crate::{
    auth::{AdminAccess, Authorized, ViewerAccess},
    http::{
        error::{ApiError, Json, Path, Query},
        upload,
    },
    state::AppState,
    validation::FieldError,
};

type Problem = crate::http::error::Problem;

// ---------------------------------------------------------------------------------------------
// Events

/// `POST /v1/events` accepts `{"events": [...]}`, an array of events, or one event.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Documents the body; the handler reads it as JSON to name bad fields.
pub enum EventsRequest {
    Wrapped { events: Vec<EventInput> },
    Many(Vec<EventInput>),
    One(Box<EventInput>),
}

/// Store events (admin): one, an array, or `{"events": [...]}`. All or nothing: one invalid
/// event stores none and every offending field is listed. Re-sending is harmless: events
/// already stored (same `event_id`, else same case, activity, time and agent) are skipped.
/// Every touched case is recomputed before the answer.
#[utoipa::path(post, path = "/v1/events", tag = "cases",
    security(("api_key" = [])),
    request_body(content = EventsRequest, description = "One event, an array, or {\"events\": [...]}"),
    responses(
        (status = 200, description = "Stored; counts of what happened", body = BatchReport),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "More than MAX_EVENTS_PER_REQUEST events", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid events; every offending field listed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_events(
    _auth: Authorized<AdminAccess>,
    State(state): State<AppState>,
    Json(body): Json<Value>,
) -> Result<Json<BatchReport>, ApiError> {
    let single = body.is_object() && body.get("events").is_none();
    let (items, pointer) = match body {
        Value::Array(items) => (items, ""),
        Value::Object(mut object) if object.contains_key("events") => match object.remove("events")
        {
            Some(Value::Array(items)) if object.is_empty() => (items, "/events"),
            _ => {
                return Err(ApiError::validation(
                    "invalid events",
                    vec![FieldError::new(
                        "/events",
                        "must be the only key, holding an array of events",
                    )],
                ));
            }
        },
        single @ Value::Object(_) => (vec![single], ""),
        _ => {
            return Err(ApiError::validation(
                "invalid events",
                vec![FieldError::new(
                    "",
                    "expected an event object, an array of events, or {\"events\": [...]}",
                )],
            ));
        }
    };
    let limit = state.config.cases.max_events_per_request as usize;
    if items.len() > limit {
        return Err(ApiError::payload_too_large(format!(
            "{} events in one request; the limit is {limit} (MAX_EVENTS_PER_REQUEST): send batches or use POST /v1/imports",
            items.len()
        )));
    }
    let zone = state.config.cases.event_timezone;
    let mut events = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let prefix = if single {
            "/".to_owned()
        } else {
            format!("{pointer}/{index}/")
        };
        match serde_json::from_value::<EventInput>(item) {
            Err(error) => errors.push(FieldError::new(
                prefix.trim_end_matches('/'),
                error.to_string(),
            )),
            Ok(input) => match input.validate(zone, &prefix) {
                Ok(event) => events.push(event),
                Err(mut bad) => errors.append(&mut bad),
            },
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(
            format!("{} invalid field(s); nothing was stored", errors.len()),
            errors,
        ));
    }
    let config = state.config.cases.metrics();
    let (report, _) = ingest::store_batch(&state.db, &config, events, Utc::now()).await?;
    Ok(Json(report))
}

// ---------------------------------------------------------------------------------------------
// Imports

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Answer when the import has finished (200) instead of at once (202).
    #[serde(default)]
    pub wait: bool,
}

/// The multipart form of `POST /v1/imports`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Documents the form; the handler streams it.
pub struct ImportForm {
    /// The event file: CSV (template columns, or any with `options.mapping`), XES or XES.gz.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// JSON: format, classifier, column mapping, time zone, max_bad_rows.
    pub options: Option<ImportOptions>,
}

/// Import an event file (admin): CSV in the template's columns, CSV with a column mapping, or
/// XES / XES.gz. The whole file is validated first: unless `options.max_bad_rows` allows it, a
/// file with a bad row stores nothing and the bad rows are listed with their line numbers.
/// Runs in the background (202, poll `GET /v1/imports/{id}`), or with `?wait=true` answers
/// when done. Re-importing a file changes nothing.
#[utoipa::path(post, path = "/v1/imports", tag = "cases",
    security(("api_key" = [])),
    params(ImportParams),
    request_body(content = ImportForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Started; poll the Location", body = ImportResponse),
        (status = 200, description = "Finished (wait=true), successfully or not", body = ImportResponse),
        (status = 400, description = "Not a multipart form with a file part", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than IMPORT_LIMIT_BYTES", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid options, or a file whose head cannot be imported (CSV header without the needed columns, XML that is not XES)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_imports(
    auth: Authorized<AdminAccess>,
    State(state): State<AppState>,
    Query(params): Query<ImportParams>,
    form: Multipart,
) -> Result<Response, ApiError> {
    let upload = upload::receive(form).await?;
    let options: ImportOptions = match upload.fields.get("options") {
        None => ImportOptions::default(),
        Some(text) => serde_json::from_str(text).map_err(|error| {
            ApiError::validation(
                "invalid import options",
                vec![FieldError::new("options", error.to_string())],
            )
        })?,
    };
    let (file_name, path) = (upload.file_name, upload.path);
    if let Some(zone) = &options.timezone
        && zone.parse::<chrono_tz::Tz>().is_err()
    {
        return Err(ApiError::validation(
            "invalid import options",
            vec![FieldError::new(
                "options/timezone",
                format!("'{zone}' is not an IANA time zone"),
            )],
        ));
    }
    // The head of the file at once: a CSV header without the needed columns, XML that is not
    // an XES log, or a file that is not text at all is refused now, not as a failed import.
    let (head_path, head_options) = (path.to_path_buf(), options.clone());
    let cases = &state.config.cases;
    let (zone, limits) = (cases.event_timezone, cases.import_limits());
    tokio::task::spawn_blocking(move || {
        crate::cases::import::rows(&head_path, &head_options, zone, limits).map(|_| ())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|error| {
        ApiError::validation(
            "the file cannot be imported",
            vec![FieldError::new("file", error.to_string())],
        )
    })?;
    let format = options
        .format
        .map_or("pending".to_owned(), |f| format!("{f:?}").to_lowercase());
    let id = store::create_import(&state.db, &file_name, &format, &auth.principal.key_name).await?;
    let task_state = state.clone();
    let task =
        tokio::spawn(
            async move { run_import(task_state, id, path.to_path_buf(), options, path).await },
        );
    if params.wait {
        task.await.map_err(ApiError::internal)?;
    }
    let row = store::get_import(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("import vanished"))?;
    let status = if params.wait {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((
        status,
        [(header::LOCATION, format!("/v1/imports/{id}"))],
        Json(row),
    )
        .into_response())
}

/// Runs an import and records its outcome; `_keep` deletes the uploaded file when done.
async fn run_import(
    state: AppState,
    id: i64,
    path: PathBuf,
    options: ImportOptions,
    _keep: tempfile::TempPath,
) {
    let cases = &state.config.cases;
    // Progress for the heartbeat, which tells other replicas this import is alive and, after
    // a crash, what was committed.
    let counts = std::sync::Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let heartbeat = {
        let (db, counts) = (state.db.clone(), counts.clone());
        let every = state.config.serve.job_heartbeat();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let (read, committed) = (
                    counts[0].load(Ordering::Relaxed),
                    counts[1].load(Ordering::Relaxed),
                );
                if let Err(error) = store::import_heartbeat(&db, id, read, committed).await {
                    tracing::warn!(import = id, error = %error, "could not record an import's heartbeat");
                }
            }
        })
    };
    let progress_counts = counts.clone();
    let result = ingest::import_file(
        &state.db,
        &path,
        &options,
        cases.event_timezone,
        cases.import_limits(),
        &cases.metrics(),
        move |phase, rows| {
            let slot = match phase {
                ingest::ImportPhase::Validating => 0,
                ingest::ImportPhase::Storing => 1,
            };
            progress_counts[slot].store(rows, Ordering::Relaxed);
        },
    )
    .await;
    heartbeat.abort();
    // The counts as they ended, kept even when the import failed on the database.
    let _ = store::import_heartbeat(
        &state.db,
        id,
        counts[0].load(Ordering::Relaxed),
        counts[1].load(Ordering::Relaxed),
    )
    .await;
    let (report, error) = match result {
        Ok(report) => (report, None),
        Err(ImportFailure::TooManyBadRows { report, .. }) => {
            let message = format!(
                "{} bad row(s), more than the {} allowed; nothing was stored",
                report.bad_rows_count, options.max_bad_rows
            );
            (*report, Some(message))
        }
        Err(ImportFailure::Unreadable(error)) => (ImportReport::default(), Some(error.to_string())),
        Err(ImportFailure::Database(error)) => {
            tracing::error!(import = id, error = %error, "import failed on the database");
            (ImportReport::default(), Some("the database failed during the import; events stored before the failure are kept, and re-importing the file completes it".to_owned()))
        }
    };
    if let Err(error) = store::finish_import(&state.db, id, &report, error.as_deref()).await {
        tracing::error!(import = id, error = %error, "could not record the outcome of an import");
    }
    // A large import rewrites much of the case table: its indexes are rebuilt now rather than
    // at the next upkeep round (the import is already reported done).
    if let Err(error) = ingest::rebuild_indexes_if_bloated(&state.db).await {
        tracing::warn!(import = id, %error, "could not rebuild the case indexes after an import");
    }
}

/// One import: status, counts and bad rows.
#[utoipa::path(get, path = "/v1/imports/{id}", tag = "cases",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Import id")),
    responses(
        (status = 200, description = "The import", body = ImportResponse),
        (status = 404, description = "No such import", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_import(
    _auth: Authorized<AdminAccess>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<ImportResponse>, ApiError> {
    let row = store::get_import(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no import {id}")))?;
    Ok(Json(row))
}

/// The latest 100 imports, newest first.
#[utoipa::path(get, path = "/v1/imports", tag = "cases",
    security(("api_key" = [])),
    responses((status = 200, description = "Imports", body = Vec<ImportResponse>)))]
pub async fn get_imports(
    _auth: Authorized<AdminAccess>,
    State(state): State<AppState>,
) -> Result<Json<Vec<ImportResponse>>, ApiError> {
    let rows = store::list_imports(&state.db, 100).await?;
    Ok(Json(rows))
}

// ---------------------------------------------------------------------------------------------
// Activity mappings

/// A customer's own activity labels, mapped to canonical codes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityMappings {
    /// Label → canonical code, e.g. `{"Resolve ticket": "case_resolved"}`. Labels match
    /// ignoring case and surrounding spaces.
    #[schema(value_type = Object)]
    pub mappings: BTreeMap<String, Activity>,
}

/// The activity mapping: labels added to the built-in English, Portuguese and code names.
#[utoipa::path(get, path = "/v1/activity-mappings", tag = "cases",
    security(("api_key" = [])),
    responses((status = 200, description = "The mapping", body = ActivityMappings)))]
pub async fn get_activity_mappings(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
) -> Result<Json<ActivityMappings>, ApiError> {
    let rows = store::activity_mappings(&state.db).await?;
    let mappings = rows
        .into_iter()
        .filter_map(|(label, code)| Activity::from_code(&code).map(|a| (label, a)))
        .collect();
    Ok(Json(ActivityMappings { mappings }))
}

/// What replacing the mapping changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityMappingsUpdate {
    pub mappings: usize,
    /// Cases whose events changed role, recomputed before the answer.
    pub cases_recomputed: usize,
}

/// Replace the activity mapping (admin). Stored events carrying a changed label take their
/// new role and their cases are recomputed.
#[utoipa::path(put, path = "/v1/activity-mappings", tag = "cases",
    security(("api_key" = [])),
    request_body = ActivityMappings,
    responses(
        (status = 200, description = "Replaced", body = ActivityMappingsUpdate),
        (status = 422, description = "Unknown code or empty label", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_activity_mappings(
    _auth: Authorized<AdminAccess>,
    State(state): State<AppState>,
    Json(body): Json<ActivityMappings>,
) -> Result<Json<ActivityMappingsUpdate>, ApiError> {
    let mut labels = BTreeMap::new();
    let mut errors = Vec::new();
    for (label, activity) in &body.mappings {
        let normalised = normalise_name(label);
        if normalised.is_empty() || normalised.chars().count() > 500 {
            errors.push(FieldError::new(
                format!("/mappings/{label}"),
                "a label must be 1 to 500 characters",
            ));
        } else {
            labels.insert(normalised, *activity);
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation("invalid activity mapping", errors));
    }
    let pairs: Vec<(String, String)> = labels
        .iter()
        .map(|(l, a)| (l.clone(), a.code().to_owned()))
        .collect();
    let resolver = ActivityResolver::with_mapping(labels.iter().map(|(l, a)| (l.as_str(), *a)));
    let config = state.config.cases.metrics();
    let mut tx = state.db.begin().await?;
    store::lock_ingest(&mut tx).await?;
    let previous = store::replace_activity_mappings(&mut tx, &pairs).await?;
    let changed: Vec<String> = previous.into_iter().chain(labels.keys().cloned()).collect();
    let mut touched = std::collections::BTreeSet::new();
    for activity in store::activities_with_labels(&mut *tx, &changed).await? {
        let code = resolver.resolve(&activity).map(Activity::code);
        touched.extend(store::set_activity_code(&mut tx, &activity, code).await?);
    }
    let touched: Vec<String> = touched.into_iter().collect();
    let recomputed = ingest::recompute(&mut tx, &touched, &config, Utc::now()).await?;
    store::mark_changed(&mut *tx, None).await?;
    tx.commit().await?;
    Ok(Json(ActivityMappingsUpdate {
        mappings: pairs.len(),
        cases_recomputed: recomputed,
    }))
}

// ---------------------------------------------------------------------------------------------
// Cases

/// A case: its current attributes and every metric (durations in seconds; `null` while the
/// end has not happened).
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseResponse {
    pub case_id: String,
    #[serde(flatten)]
    pub metrics: CaseMetrics,
    /// The instant the metrics were computed for (FCR maturity and open SLAs depend on it).
    pub metrics_as_of: DateTime<Utc>,
    pub metrics_version: i32,
}

impl From<CaseRow> for CaseResponse {
    fn from(row: CaseRow) -> Self {
        CaseResponse {
            case_id: row.case_id,
            metrics: row.metrics,
            metrics_as_of: row.metrics_as_of,
            metrics_version: row.metrics_version,
        }
    }
}

/// A case with its events in order (time, then arrival).
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseDetailResponse {
    #[serde(flatten)]
    pub case: CaseResponse,
    pub events: Vec<EventResponse>,
}

/// One case: attributes, metrics and its ordered events.
#[utoipa::path(get, path = "/v1/cases/{case_id}", tag = "cases",
    security(("api_key" = [])),
    params(("case_id" = String, Path, description = "Case id")),
    responses(
        (status = 200, description = "The case", body = CaseDetailResponse),
        (status = 404, description = "No such case", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_case(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    Path(case_id): Path<String>,
) -> Result<Json<CaseDetailResponse>, ApiError> {
    let row = store::get_case(&state.db, &case_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no case '{case_id}'")))?;
    let events = store::events_of_case(&state.db, &case_id).await?;
    Ok(Json(CaseDetailResponse {
        case: row.into(),
        events,
    }))
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CaseSortParam {
    /// By creation time (C).
    #[default]
    Created,
    /// By resolution time (Rn); lists resolved and closed cases only.
    Resolved,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    Asc,
    #[default]
    Desc,
}

/// Filters, sorting and paging of `GET /v1/cases`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CaseListParams {
    /// Created at or after (RFC 3339).
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_to: Option<DateTime<Utc>>,
    /// Resolved at or after.
    pub resolved_from: Option<DateTime<Utc>>,
    /// Resolved before.
    pub resolved_to: Option<DateTime<Utc>>,
    /// open, resolved, closed or canceled.
    pub state: Option<String>,
    pub channel: Option<String>,
    pub priority: Option<String>,
    pub request_type: Option<String>,
    pub product: Option<String>,
    pub owner_team: Option<String>,
    /// Current owner.
    pub agent: Option<String>,
    pub customer: Option<String>,
    #[serde(default)]
    #[param(inline)]
    pub sort: CaseSortParam,
    #[serde(default)]
    #[param(inline)]
    pub order: SortOrder,
    /// 1 to 1000 (default 100).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of cases.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseListResponse {
    pub cases: Vec<CaseResponse>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Cases, filtered, sorted by creation or resolution time, in pages (keyset pagination: stable
/// while new cases arrive).
#[utoipa::path(get, path = "/v1/cases", tag = "cases",
    security(("api_key" = [])),
    params(CaseListParams),
    responses(
        (status = 200, description = "A page of cases", body = CaseListResponse),
        (status = 422, description = "Invalid filter, limit or cursor", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_cases(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    Query(params): Query<CaseListParams>,
) -> Result<Json<CaseListResponse>, ApiError> {
    let mut errors = Vec::new();
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        errors.push(FieldError::new("limit", "must be from 1 to 1000"));
    }
    if let Some(state) = &params.state
        && !["open", "resolved", "closed", "canceled"].contains(&state.as_str())
    {
        errors.push(FieldError::new(
            "state",
            "must be open, resolved, closed or canceled",
        ));
    }
    let after = match params.cursor.as_deref().map(decode_cursor) {
        None => None,
        Some(Some(after)) => Some(after),
        Some(None) => {
            errors.push(FieldError::new(
                "cursor",
                "is not a cursor returned by this endpoint",
            ));
            None
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::validation("invalid case query", errors));
    }
    let attributes = [
        ("channel", params.channel),
        ("priority", params.priority),
        ("request_type", params.request_type),
        ("product", params.product),
        ("owner_team", params.owner_team),
        ("agent", params.agent),
        ("customer", params.customer),
    ]
    .into_iter()
    .filter_map(|(column, value)| value.map(|v| (column, v)))
    .collect();
    let filter = CaseFilter {
        created_from: params.created_from,
        created_to: params.created_to,
        resolved_from: params.resolved_from,
        resolved_to: params.resolved_to,
        state: params.state,
        attributes,
    };
    let sort = match params.sort {
        CaseSortParam::Created => CaseSort::Created,
        CaseSortParam::Resolved => CaseSort::Resolved,
    };
    let rows = store::list_cases(
        &state.db,
        &filter,
        sort,
        params.order == SortOrder::Desc,
        after,
        limit + 1,
    )
    .await?;
    let more = rows.len() as i64 > limit;
    let cases: Vec<CaseResponse> = rows
        .into_iter()
        .take(limit as usize)
        .map(CaseResponse::from)
        .collect();
    let next_cursor = if more {
        cases.last().and_then(|last| {
            let time = match sort {
                CaseSort::Created => last.metrics.created_at,
                CaseSort::Resolved => last.metrics.resolved_at,
            };
            time.map(|t| encode_cursor(t, &last.case_id))
        })
    } else {
        None
    };
    Ok(Json(CaseListResponse { cases, next_cursor }))
}

/// A cursor is the last row's sort key: microseconds and case id, base64url.
fn encode_cursor(time: DateTime<Utc>, case_id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{}|{case_id}", time.timestamp_micros()))
}

fn decode_cursor(cursor: &str) -> Option<(DateTime<Utc>, String)> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (micros, case_id) = text.split_once('|')?;
    Some((
        DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        case_id.to_owned(),
    ))
}
