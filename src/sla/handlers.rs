//! HTTP handlers of SLA policies: calendars, policies (both versioned), recomputations and a
//! case's SLA timeline.

use std::collections::HashMap;

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};

use super::{
    calendar::{ALWAYS_OPEN_ID, Calendar, CalendarDefinition},
    clock::SegmentKind,
    policy::PolicyDefinition,
    store::{self, CalendarVersionRow, PolicyVersionRow, RecomputationRow},
};
use crate::{
    auth::{AdminAccess, AnyRole, Authorized, ViewerAccess},
    cases::{
        ingest,
        metrics::{self, MetricsConfig, SlaStatus, SlaTarget},
        store as case_store,
    },
    http::error::{ApiError, Json, Path, Query},
    state::AppState,
    validation::FieldError,
};

type Problem = crate::http::error::Problem;

/// When a write applies.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EffectiveParams {
    /// The instant from which this version applies (RFC 3339; default: now). Policies apply
    /// to cases created from then on; a calendar governs every clock from then on. Stored
    /// cases keep their figures until they change or are recomputed
    /// (`POST /v1/sla/recomputations`).
    pub effective_from: Option<DateTime<Utc>>,
}

fn check_id(id: &str) -> Result<(), ApiError> {
    let valid = !id.is_empty()
        && id.len() <= 64
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(ApiError::validation(
            "invalid id",
            vec![FieldError::new(
                "id",
                "1 to 64 characters: lowercase letters, digits, '_' and '-', starting with a letter or digit",
            )],
        ))
    }
}

const RECOMPUTE_NOTE: &str = "stored cases keep their SLA figures until new events arrive or a recomputation runs: POST /v1/sla/recomputations with the period to apply this change to";

// ---------------------------------------------------------------------------------------------
// Calendars

/// A calendar version.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarResponse {
    pub id: String,
    pub version: i32,
    pub effective_from: DateTime<Utc>,
    /// `true` for the built-in `24x7` calendar (always open, cannot be changed).
    pub built_in: bool,
    #[serde(flatten)]
    pub definition: CalendarDefinition,
    pub created_at: Option<DateTime<Utc>>,
    pub created_by: Option<String>,
    /// What to do for stored cases after a change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
}

impl From<CalendarVersionRow> for CalendarResponse {
    fn from(row: CalendarVersionRow) -> Self {
        CalendarResponse {
            id: row.calendar_id,
            version: row.version,
            effective_from: row.effective_from,
            built_in: false,
            definition: row.definition.0,
            created_at: Some(row.created_at),
            created_by: row.created_by,
            note: None,
        }
    }
}

fn always_open_response() -> CalendarResponse {
    CalendarResponse {
        id: ALWAYS_OPEN_ID.to_owned(),
        version: 1,
        effective_from: DateTime::<Utc>::UNIX_EPOCH,
        built_in: true,
        definition: CalendarDefinition {
            name: "Always open".to_owned(),
            time_zone: "UTC".to_owned(),
            weekly_hours: crate::sla::calendar::WEEKDAYS
                .iter()
                .map(|day| {
                    (
                        (*day).to_owned(),
                        vec![crate::sla::calendar::OpenInterval {
                            start: "00:00".into(),
                            end: "24:00".into(),
                        }],
                    )
                })
                .collect(),
            holidays: Vec::new(),
        },
        created_at: None,
        created_by: None,
        note: None,
    }
}

/// The version of each id in force at `now` (else its earliest, when all are scheduled).
fn in_force<T, K: Eq + std::hash::Hash + Clone>(
    rows: Vec<T>,
    key: impl Fn(&T) -> K,
    effective: impl Fn(&T) -> DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<T> {
    let mut chosen: Vec<T> = Vec::new();
    let mut index: HashMap<K, usize> = HashMap::new();
    // Rows come sorted by (id, effective_from, version).
    for row in rows {
        match index.get(&key(&row)) {
            Some(&i) if effective(&row) <= now => chosen[i] = row,
            Some(_) => {}
            None => {
                index.insert(key(&row), chosen.len());
                chosen.push(row);
            }
        }
    }
    chosen
}

/// Business-hours calendars in force now, the built-in `24x7` first (any role).
#[utoipa::path(get, path = "/v1/calendars", tag = "sla",
    security(("api_key" = [])),
    responses((status = 200, description = "Calendars", body = [CalendarResponse])))]
pub async fn get_calendars(
    _auth: Authorized<AnyRole>,
    State(state): State<AppState>,
) -> Result<Json<Vec<CalendarResponse>>, ApiError> {
    let rows = store::calendar_versions(&state.db, None).await?;
    let current = in_force(
        rows,
        |r| r.calendar_id.clone(),
        |r| r.effective_from,
        Utc::now(),
    );
    let mut list = vec![always_open_response()];
    list.extend(current.into_iter().map(CalendarResponse::from));
    Ok(Json(list))
}

/// One calendar: the version in force now (any role).
#[utoipa::path(get, path = "/v1/calendars/{id}", tag = "sla",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Calendar id")),
    responses(
        (status = 200, description = "The calendar", body = CalendarResponse),
        (status = 404, description = "No such calendar", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_calendar(
    _auth: Authorized<AnyRole>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CalendarResponse>, ApiError> {
    if id == ALWAYS_OPEN_ID {
        return Ok(Json(always_open_response()));
    }
    let rows = store::calendar_versions(&state.db, Some(&id)).await?;
    in_force(
        rows,
        |r| r.calendar_id.clone(),
        |r| r.effective_from,
        Utc::now(),
    )
    .pop()
    .map(|row| Json(row.into()))
    .ok_or_else(|| ApiError::not_found(format!("no calendar '{id}'")))
}

/// Every version of a calendar, in effective order (any role).
#[utoipa::path(get, path = "/v1/calendars/{id}/versions", tag = "sla",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Calendar id")),
    responses(
        (status = 200, description = "Versions", body = [CalendarResponse]),
        (status = 404, description = "No such calendar", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_calendar_versions(
    _auth: Authorized<AnyRole>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<CalendarResponse>>, ApiError> {
    if id == ALWAYS_OPEN_ID {
        return Ok(Json(vec![always_open_response()]));
    }
    let rows = store::calendar_versions(&state.db, Some(&id)).await?;
    if rows.is_empty() {
        return Err(ApiError::not_found(format!("no calendar '{id}'")));
    }
    Ok(Json(rows.into_iter().map(CalendarResponse::from).collect()))
}

/// Create a calendar or add a version of it (admin): an IANA zone, weekly opening hours in
/// local wall time (several intervals a day; `24:00` as an end) and holidays (one-off or
/// yearly). Each local day is mapped to instants on its own, so a 09:00-18:00 day is 9 hours on
/// both DST change days; an opening or closing time inside a DST gap moves to the first
/// instant after it, one that occurs twice takes the first occurrence. Every invalid field is
/// named; nothing is stored unless all are valid.
#[utoipa::path(put, path = "/v1/calendars/{id}", tag = "sla",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Calendar id: lowercase letters, digits, '_' and '-'"), EffectiveParams),
    request_body = CalendarDefinition,
    responses(
        (status = 201, description = "Created (version 1)", body = CalendarResponse),
        (status = 200, description = "A new version", body = CalendarResponse),
        (status = 409, description = "The built-in 24x7 calendar cannot be changed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid calendar; every offending field listed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_calendar(
    auth: Authorized<AdminAccess>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<EffectiveParams>,
    Json(definition): Json<CalendarDefinition>,
) -> Result<Response, ApiError> {
    if id == ALWAYS_OPEN_ID {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "built-in-calendar",
            "the 24x7 calendar is built in and always open; create a calendar with another id",
        ));
    }
    check_id(&id)?;
    Calendar::from_definition(&definition)
        .map_err(|errors| ApiError::validation("invalid calendar", errors))?;
    let effective_from = params.effective_from.unwrap_or_else(Utc::now);
    let mut tx = state.db.begin().await?;
    store::lock_setup(&mut tx).await?;
    let version = store::insert_calendar_version(
        &mut *tx,
        &id,
        effective_from,
        &definition,
        Some(&auth.principal.key_name),
    )
    .await?;
    tx.commit().await?;
    let response = CalendarResponse {
        id,
        version,
        effective_from,
        built_in: false,
        definition,
        created_at: Some(Utc::now()),
        created_by: Some(auth.principal.key_name),
        note: Some(RECOMPUTE_NOTE),
    };
    let status = if version == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(response)).into_response())
}

// ---------------------------------------------------------------------------------------------
// Policies

/// A policy version; `definition` is absent for a retirement.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyResponse {
    pub id: String,
    pub version: i32,
    pub effective_from: DateTime<Utc>,
    /// `false` from a retirement (`DELETE`) on.
    pub active: bool,
    #[serde(flatten)]
    pub definition: Option<PolicyDefinition>,
    pub created_at: Option<DateTime<Utc>>,
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
}

impl From<PolicyVersionRow> for PolicyResponse {
    fn from(row: PolicyVersionRow) -> Self {
        PolicyResponse {
            id: row.policy_id,
            version: row.version,
            effective_from: row.effective_from,
            active: row.definition.is_some(),
            definition: row.definition.map(|d| d.0),
            created_at: Some(row.created_at),
            created_by: row.created_by,
            note: None,
        }
    }
}

/// SLA policies in force now, in evaluation order (rank, the default last; any role).
#[utoipa::path(get, path = "/v1/sla-policies", tag = "sla",
    security(("api_key" = [])),
    responses((status = 200, description = "Policies", body = [PolicyResponse])))]
pub async fn get_sla_policies(
    _auth: Authorized<AnyRole>,
    State(state): State<AppState>,
) -> Result<Json<Vec<PolicyResponse>>, ApiError> {
    let rows = store::policy_versions(&state.db, None).await?;
    let mut current: Vec<PolicyResponse> = in_force(
        rows,
        |r| r.policy_id.clone(),
        |r| r.effective_from,
        Utc::now(),
    )
    .into_iter()
    .map(PolicyResponse::from)
    .collect();
    current.sort_by_key(|p| {
        let def = p.definition.as_ref();
        (
            !p.active,
            def.is_some_and(|d| d.is_default),
            def.map_or(0, |d| d.rank),
            p.id.clone(),
        )
    });
    Ok(Json(current))
}

/// One policy: the version in force now (any role).
#[utoipa::path(get, path = "/v1/sla-policies/{id}", tag = "sla",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Policy id")),
    responses(
        (status = 200, description = "The policy", body = PolicyResponse),
        (status = 404, description = "No such policy", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_sla_policy(
    _auth: Authorized<AnyRole>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PolicyResponse>, ApiError> {
    let rows = store::policy_versions(&state.db, Some(&id)).await?;
    in_force(
        rows,
        |r| r.policy_id.clone(),
        |r| r.effective_from,
        Utc::now(),
    )
    .pop()
    .map(|row| Json(row.into()))
    .ok_or_else(|| ApiError::not_found(format!("no SLA policy '{id}'")))
}

/// Every version of a policy, in effective order (any role).
#[utoipa::path(get, path = "/v1/sla-policies/{id}/versions", tag = "sla",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Policy id")),
    responses(
        (status = 200, description = "Versions", body = [PolicyResponse]),
        (status = 404, description = "No such policy", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_sla_policy_versions(
    _auth: Authorized<AnyRole>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<PolicyResponse>>, ApiError> {
    let rows = store::policy_versions(&state.db, Some(&id)).await?;
    if rows.is_empty() {
        return Err(ApiError::not_found(format!("no SLA policy '{id}'")));
    }
    Ok(Json(rows.into_iter().map(PolicyResponse::from).collect()))
}

/// Create an SLA policy or add a version of it (admin): match rules on case attributes (the
/// lowest `rank` whose rules all hold applies; `is_default` catches the rest), a calendar,
/// targets (`first_response`, `resolution`, each with a warning share) and pause rules. A
/// case's own `sla_target_resolution_s` overrides the resolution target and counts on the
/// policy's calendar. A policy applies to cases created from `effective_from` on.
#[utoipa::path(put, path = "/v1/sla-policies/{id}", tag = "sla",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Policy id: lowercase letters, digits, '_' and '-'"), EffectiveParams),
    request_body = PolicyDefinition,
    responses(
        (status = 201, description = "Created (version 1)", body = PolicyResponse),
        (status = 200, description = "A new version", body = PolicyResponse),
        (status = 422, description = "Invalid policy; every offending field listed (unknown calendar, a rule that matches nothing, a second default policy, bad targets)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_sla_policy(
    auth: Authorized<AdminAccess>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<EffectiveParams>,
    Json(definition): Json<PolicyDefinition>,
) -> Result<Response, ApiError> {
    check_id(&id)?;
    let effective_from = params.effective_from.unwrap_or_else(Utc::now);
    let mut tx = state.db.begin().await?;
    store::lock_setup(&mut tx).await?;
    let setup = store::load_setup(&mut tx).await?;
    let mut errors = definition.validate(|calendar| setup.calendars.contains_key(calendar));
    if definition.is_default {
        let other_default = setup.policies.iter().find(|(other, versions)| {
            *other != &id && in_force_at(versions, effective_from).is_some_and(|d| d.is_default)
        });
        if let Some((other, _)) = other_default {
            errors.push(FieldError::new(
                "/is_default",
                format!("the policy '{other}' is already the default at {effective_from}; retire it or make this one a ranked policy"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation("invalid SLA policy", errors));
    }
    let version = store::insert_policy_version(
        &mut *tx,
        &id,
        effective_from,
        Some(&definition),
        Some(&auth.principal.key_name),
    )
    .await?;
    tx.commit().await?;
    let response = PolicyResponse {
        id,
        version,
        effective_from,
        active: true,
        definition: Some(definition),
        created_at: Some(Utc::now()),
        created_by: Some(auth.principal.key_name),
        note: Some(RECOMPUTE_NOTE),
    };
    let status = if version == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(response)).into_response())
}

fn in_force_at(
    versions: &[crate::sla::policy::PolicyVersion],
    at: DateTime<Utc>,
) -> Option<&PolicyDefinition> {
    let index = versions.partition_point(|v| v.effective_from <= at);
    versions.get(index.checked_sub(1)?)?.definition.as_ref()
}

/// Retire a policy from `effective_from` on (admin): a new version without a definition, so
/// cases created before keep it and its history stays readable.
#[utoipa::path(delete, path = "/v1/sla-policies/{id}", tag = "sla",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Policy id"), EffectiveParams),
    responses(
        (status = 200, description = "Retired", body = PolicyResponse),
        (status = 404, description = "No such policy", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_sla_policy(
    auth: Authorized<AdminAccess>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<EffectiveParams>,
) -> Result<Json<PolicyResponse>, ApiError> {
    let effective_from = params.effective_from.unwrap_or_else(Utc::now);
    let mut tx = state.db.begin().await?;
    store::lock_setup(&mut tx).await?;
    if store::policy_versions(&mut *tx, Some(&id))
        .await?
        .is_empty()
    {
        return Err(ApiError::not_found(format!("no SLA policy '{id}'")));
    }
    let version = store::insert_policy_version(
        &mut *tx,
        &id,
        effective_from,
        None,
        Some(&auth.principal.key_name),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(PolicyResponse {
        id,
        version,
        effective_from,
        active: false,
        definition: None,
        created_at: Some(Utc::now()),
        created_by: Some(auth.principal.key_name),
        note: Some(RECOMPUTE_NOTE),
    }))
}

// ---------------------------------------------------------------------------------------------
// Recomputations

/// Which stored cases to recompute: those created in the period, plus every open case (its
/// clock is still running, so a calendar change affects it whenever it was created).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecomputationRequest {
    /// Created at or after (default: the beginning).
    pub created_from: Option<DateTime<Utc>>,
    /// Created before (default: no end).
    pub created_to: Option<DateTime<Utc>>,
}

/// A recomputation and its progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecomputationResponse {
    pub id: i64,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    /// Cases covered (known once counted).
    pub cases_total: Option<i64>,
    /// Cases recomputed and committed so far.
    pub cases_done: i64,
    pub error: Option<String>,
    pub requested_by: Option<String>,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<RecomputationRow> for RecomputationResponse {
    fn from(r: RecomputationRow) -> Self {
        RecomputationResponse {
            id: r.id,
            status: r.status,
            created_from: r.created_from,
            created_to: r.created_to,
            cases_total: r.cases_total,
            cases_done: r.cases_done,
            error: r.error,
            requested_by: r.requested_by,
            started_at: r.started_at,
            heartbeat_at: r.heartbeat_at,
            finished_at: r.finished_at,
        }
    }
}

/// Cases per transaction of a recomputation.
const RECOMPUTE_BATCH: i64 = 5_000;

/// Recompute stored cases under the policies and calendars now stored (admin), in the
/// background: every metric of each case is computed again from its events, so the result is
/// the same as importing from scratch, and pause time is never lost (it is derived from the
/// events, not accumulated). Poll `GET /v1/sla/recomputations/{id}`.
#[utoipa::path(post, path = "/v1/sla/recomputations", tag = "sla",
    security(("api_key" = [])),
    request_body = RecomputationRequest,
    responses(
        (status = 202, description = "Started", body = RecomputationResponse),
        (status = 422, description = "An inverted period", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_recomputation(
    auth: Authorized<AdminAccess>,
    State(state): State<AppState>,
    Json(body): Json<RecomputationRequest>,
) -> Result<(StatusCode, Json<RecomputationResponse>), ApiError> {
    if let (Some(from), Some(to)) = (body.created_from, body.created_to)
        && to <= from
    {
        return Err(ApiError::validation(
            "invalid period",
            vec![FieldError::new("/created_to", "must be after created_from")],
        ));
    }
    let row = store::create_recomputation(
        &state.db,
        body.created_from,
        body.created_to,
        crate::replica::id(),
        Some(&auth.principal.key_name),
    )
    .await?;
    let task_state = state.clone();
    let id = row.id;
    tokio::spawn(async move {
        let config = task_state.config.cases.metrics();
        let period = (body.created_from, body.created_to);
        let error = run_recomputation(&task_state.db, &config, id, period)
            .await
            .err()
            .map(|e| {
                tracing::error!(recomputation = id, error = %e, "SLA recomputation failed");
                "the database failed during the recomputation; batches committed before stay recomputed: request the period again".to_owned()
            });
        if let Err(e) = store::finish_recomputation(&task_state.db, id, error.as_deref()).await {
            tracing::error!(recomputation = id, error = %e, "could not record a recomputation's outcome");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(row.into())))
}

/// Batches of a recomputation in flight at once, so that both the service and PostgreSQL stay
/// busy: with two, a profile of the 1M-case holiday recomputation on 2 cores showed 20 % idle;
/// three took 65.9 s where two took 85.8-92.6 s on the same database (four: 76.1 s).
const RECOMPUTE_WORKERS: usize = 3;

/// Recomputes the period's cases in batches, each in its own transaction. Batches hold the
/// ingest lock in shared mode: they touch disjoint cases and only their own rows, so they run
/// side by side, while an import (which takes it exclusively) never interleaves with one.
pub async fn run_recomputation(
    db: &PgPool,
    config: &MetricsConfig,
    id: i64,
    (created_from, created_to): (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
) -> sqlx::Result<u64> {
    let total = store::count_cases_in_period(db, created_from, created_to).await?;
    store::recomputation_progress(db, id, Some(total), 0).await?;
    let (mut after, mut done, mut written) = (String::new(), 0u64, 0u64);
    let mut in_flight = tokio::task::JoinSet::new();
    loop {
        let ids =
            store::cases_in_period(db, created_from, created_to, &after, RECOMPUTE_BATCH).await?;
        let exhausted = ids.is_empty();
        if let Some(last) = ids.last() {
            after = last.clone();
            let (db, config) = (db.clone(), config.clone());
            in_flight.spawn(async move { recompute_batch(&db, &config, ids).await });
        }
        while in_flight.len() >= RECOMPUTE_WORKERS || (exhausted && !in_flight.is_empty()) {
            match in_flight.join_next().await {
                Some(Ok(result)) => {
                    let batch = result?;
                    done += batch.cases as u64;
                    written += batch.rows_written as u64;
                }
                Some(Err(join)) => return Err(sqlx::Error::Protocol(join.to_string())),
                None => break,
            }
            store::recomputation_progress(db, id, None, done as i64).await?;
        }
        if exhausted {
            break;
        }
    }
    if written > 0 {
        rebuild_bloated_indexes(db).await;
    }
    Ok(done)
}

/// A recomputation that rewrote a large part of the case table (a policy applied to every
/// case) has its indexes rebuilt at once, not at the next upkeep round. A failure only costs
/// speed, so it is logged, not reported as the job's.
async fn rebuild_bloated_indexes(db: &PgPool) {
    if let Err(error) = ingest::rebuild_indexes_if_bloated(db).await {
        tracing::warn!(%error, "could not rebuild the case indexes after a recomputation");
    }
}

/// One batch: recomputed and committed whole.
async fn recompute_batch(
    db: &PgPool,
    config: &MetricsConfig,
    ids: Vec<String>,
) -> sqlx::Result<ingest::Recomputed> {
    let mut tx = db.begin().await?;
    case_store::lock_ingest_shared(&mut tx).await?;
    let done = ingest::recompute_cases(&mut tx, &ids, config, Utc::now(), ingest::Neighbours::Skip)
        .await?;
    case_store::mark_changed(&mut *tx, None).await?;
    tx.commit().await?;
    Ok(done)
}

/// One recomputation and its progress (admin).
#[utoipa::path(get, path = "/v1/sla/recomputations/{id}", tag = "sla",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Recomputation id")),
    responses(
        (status = 200, description = "The recomputation", body = RecomputationResponse),
        (status = 404, description = "No such recomputation", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_recomputation(
    _auth: Authorized<AdminAccess>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<RecomputationResponse>, ApiError> {
    store::get_recomputation(&state.db, id)
        .await?
        .map(|row| Json(row.into()))
        .ok_or_else(|| ApiError::not_found(format!("no recomputation {id}")))
}

// ---------------------------------------------------------------------------------------------
// A case's SLA

#[derive(Debug, Serialize, ToSchema)]
pub struct AppliedPolicyResponse {
    pub id: String,
    pub name: String,
    pub version: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppliedCalendarResponse {
    pub id: String,
    /// The calendar version in force at the clock's start.
    pub version: Option<i32>,
}

/// One interval of a clock.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineInterval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub kind: SegmentKind,
    /// The holiday's name, the pause's status reason (or `info_requested`), or `resolved`.
    pub reason: Option<String>,
    pub seconds: f64,
}

/// One target's clock: figures and the intervals they are the sums of.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetClockResponse {
    pub target: SlaTarget,
    pub target_s: f64,
    pub warning_s: f64,
    /// Business seconds counted (the `counted` intervals' sum).
    pub elapsed_s: f64,
    /// Business seconds paused (the `paused` intervals' sum).
    pub paused_s: f64,
    /// Wall-clock seconds of the clock's window.
    pub calendar_s: f64,
    pub status: SlaStatus,
    pub warning_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub breached_at: Option<DateTime<Utc>>,
    /// target − elapsed.
    pub margin_s: f64,
    pub timeline: Vec<TimelineInterval>,
}

/// A case's SLA clocks.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseSlaResponse {
    pub case_id: String,
    pub as_of: DateTime<Utc>,
    /// The policy that applied; null: none (the case's own target on 24x7).
    pub policy: Option<AppliedPolicyResponse>,
    pub calendar: AppliedCalendarResponse,
    /// One clock per target (none when the case has no target).
    pub targets: Vec<TargetClockResponse>,
}

/// A case's SLA clocks, computed now from its events: per target the figures and the
/// timeline, ordered intervals tagged `counted`, `paused`, `closed_hours`, `holiday` or
/// `resolved` with their reason, the counted ones summing exactly to `elapsed_s` (viewer).
#[utoipa::path(get, path = "/v1/cases/{case_id}/sla", tag = "sla",
    security(("api_key" = [])),
    params(("case_id" = String, Path, description = "Case id")),
    responses(
        (status = 200, description = "The case's SLA clocks", body = CaseSlaResponse),
        (status = 404, description = "No such case", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_case_sla(
    _auth: Authorized<ViewerAccess>,
    State(state): State<AppState>,
    Path(case_id): Path<String>,
) -> Result<Json<CaseSlaResponse>, ApiError> {
    let mut conn = state.db.acquire().await?;
    let setup = store::load_setup(&mut conn).await?;
    let keys = setup.attribute_keys();
    let mut events =
        case_store::case_events(&mut *conn, std::slice::from_ref(&case_id), &keys).await?;
    drop(keys);
    let events = events
        .remove(&case_id)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| ApiError::not_found(format!("no case '{case_id}'")))?;
    let config = metrics::MetricsConfig {
        sla: std::sync::Arc::new(setup),
        ..state.config.cases.metrics()
    };
    let as_of = Utc::now();
    let clocks = metrics::sla_clocks(&events, &config, as_of)
        .ok_or_else(|| ApiError::not_found(format!("no case '{case_id}'")))?;
    let start = clocks
        .targets
        .iter()
        .find_map(|t| t.clock.timeline.first().map(|s| s.start));
    let response = CaseSlaResponse {
        case_id,
        as_of,
        policy: clocks.policy.map(|p| AppliedPolicyResponse {
            id: p.id.to_owned(),
            name: p.definition.name.clone(),
            version: p.version,
        }),
        calendar: AppliedCalendarResponse {
            id: clocks.calendar.id.clone(),
            version: start.and_then(|t| clocks.calendar.version_at(t)),
        },
        targets: clocks
            .targets
            .iter()
            .map(|t| TargetClockResponse {
                target: t.target,
                target_s: t.target_s,
                warning_s: t.warning_s,
                elapsed_s: t.clock.elapsed.as_seconds_f64(),
                paused_s: t.clock.paused.as_seconds_f64(),
                calendar_s: t.clock.calendar.as_seconds_f64(),
                status: t.status,
                warning_at: t.clock.warning_at,
                due_at: t.clock.due_at,
                breached_at: t.clock.breached_at,
                margin_s: t.target_s - t.clock.elapsed.as_seconds_f64(),
                timeline: t
                    .clock
                    .timeline
                    .iter()
                    .map(|s| TimelineInterval {
                        start: s.start,
                        end: s.end,
                        kind: s.kind,
                        reason: s.reason.map(str::to_owned),
                        seconds: (s.end - s.start).as_seconds_f64(),
                    })
                    .collect(),
            })
            .collect(),
    };
    Ok(Json(response))
}
