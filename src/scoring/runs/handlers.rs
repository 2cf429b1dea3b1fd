//! HTTP handlers of batch scoring: runs, stored scores, outcomes, lift and stability.

use std::sync::Arc;

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    latest::latest_scores_limit,
    outcomes::{self, OutcomesBody},
    pipeline::{self, MAX_EXPLAIN, Progress, RunRequest, Timings},
    store::{self, LatestScore as AccountScoreResponse, RunRow},
};
use crate::{
    auth::{AdminAccess, AnyRole, Authorized, ScorerAccess},
    db::copy::CopyBuffer,
    http::{
        error::{ApiError, Json, Path, Problem, Query},
        upload,
    },
    scoring::{
        deciles::DecileEdges,
        evaluation::{self, LiftRow, PsiDecile},
    },
    state::AppState,
    validation::{BadRow, FieldError},
};

/// How often a running run's progress is written to its row.
const PROGRESS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// A batch scoring run.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScoringRunResponse {
    pub id: i64,
    /// The model that scored it (the active one when it started).
    pub model_id: i64,
    /// The uploaded file's name, or the path given to the CLI.
    pub source: String,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    /// `scoring` (reading, parsing, predicting), `storing`, then `done`.
    pub phase: String,
    /// Fraction done, 0 to 1.
    pub progress: f64,
    pub requested_by: String,
    /// Whether a success makes the run its model's decile reference.
    pub make_reference: bool,
    pub max_bad_rows: i64,
    /// Reason codes kept per account (0: none); campaign call lists show them.
    pub explain: i16,
    /// Records read so far (good and bad).
    pub rows_read: i64,
    /// Accounts stored (0 until the run succeeds).
    pub accounts_scored: i64,
    pub bad_rows_count: i64,
    /// The first 100 bad rows with their line numbers.
    pub bad_rows: Vec<BadRow>,
    /// Header columns that are not model features (not read).
    pub ignored_columns: Vec<String>,
    /// Decile edges and per-decile summary, once scored.
    pub deciles: Option<RunDeciles>,
    /// Seconds per phase, once finished.
    pub timings: Option<Timings>,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A run's deciles: `pd.qcut(p, 10, labels=10..1)` edges of its probabilities.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunDeciles {
    pub run_id: i64,
    /// 11 edges, lowest first.
    pub edges: Vec<f64>,
    /// Two edges are equal (pandas would raise): some deciles are empty.
    pub degenerate: bool,
    /// Deciles 1 (highest scores) to 10.
    pub deciles: Vec<RunDecile>,
}

/// One decile of a run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunDecile {
    pub decile: u8,
    pub accounts: i64,
    /// `null` for an empty decile.
    pub mean_probability: Option<f64>,
}

impl From<RunRow> for ScoringRunResponse {
    fn from(row: RunRow) -> Self {
        let deciles = run_deciles(&row);
        Self {
            id: row.id,
            model_id: row.model_id,
            source: row.source,
            status: row.status,
            phase: row.phase,
            progress: row.progress,
            requested_by: row.requested_by,
            make_reference: row.make_reference,
            max_bad_rows: row.max_bad_rows,
            explain: row.explain,
            rows_read: row.rows_read,
            accounts_scored: row.accounts_scored,
            bad_rows_count: row.bad_rows_count,
            bad_rows: serde_json::from_value(row.bad_rows).unwrap_or_default(),
            ignored_columns: row.ignored_columns,
            deciles,
            timings: row.timings.and_then(|t| serde_json::from_value(t).ok()),
            error: row.error,
            started_at: row.started_at,
            finished_at: row.finished_at,
        }
    }
}

fn run_deciles(row: &RunRow) -> Option<RunDeciles> {
    let edges = row.decile_edges.clone()?;
    let counts = row.decile_counts.as_ref()?;
    let means = row.decile_mean_probability.as_ref()?;
    Some(RunDeciles {
        run_id: row.id,
        edges,
        degenerate: row.decile_degenerate.unwrap_or(false),
        deciles: counts
            .iter()
            .zip(means)
            .enumerate()
            .map(|(k, (&accounts, &mean_probability))| RunDecile {
                decile: k as u8 + 1,
                accounts,
                mean_probability,
            })
            .collect(),
    })
}

/// Options of `POST /v1/scoring-runs`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunParams {
    /// Make the run's edges the active model's decile reference when it succeeds.
    #[serde(default)]
    pub reference: bool,
    /// Bad rows to skip; with more, the run fails and stores nothing.
    #[serde(default)]
    pub max_bad_rows: u64,
    /// Keep each account's top `explain` reason codes (TreeSHAP contributions, as `POST
    /// /v1/scores` with `explain`), shown on campaign call lists as talking points. At most 10
    /// and the model's feature count; 0 (default): none. Expensive: a TreeSHAP evaluation per
    /// account, about 5 ms per account per core for the 500-tree demo model.
    #[serde(default)]
    pub explain: usize,
    /// Answer when the run has finished instead of at once.
    #[serde(default)]
    pub wait: bool,
}

/// The multipart form of `POST /v1/scoring-runs`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Documents the form; the handler streams it.
pub struct PopulationForm {
    /// CSV or gzip CSV: a header, an `account_id` (or `ban`) column and every model feature
    /// by name; an empty cell is a missing value. Other columns are ignored.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// Score a population file with the active model (admin). Runs in the background (202; poll
/// the Location) or, with `wait=true`, answers when done. Every account's probability and
/// decile is stored, or, on a bad row (beyond `max_bad_rows`) or any failure, nothing.
#[utoipa::path(post, path = "/v1/scoring-runs", tag = "scoring runs",
    security(("api_key" = [])),
    params(RunParams),
    request_body(content = PopulationForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Started; poll the Location", body = ScoringRunResponse),
        (status = 200, description = "Finished (wait=true), successfully or not", body = ScoringRunResponse),
        (status = 400, description = "Not a multipart form with a file part", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than IMPORT_LIMIT_BYTES", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The file is empty, unreadable, or its header lacks the account id column or a model feature (the `file` error says which); no run is created", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No active model", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_scoring_runs(
    auth: Authorized<AdminAccess>,
    State(state): State<AppState>,
    Query(params): Query<RunParams>,
    form: axum::extract::Multipart,
) -> Result<Response, ApiError> {
    let upload = upload::receive(form).await?;
    let model = state.models.active().ok_or_else(|| {
        ApiError::unavailable("no model is active: upload and activate one first", 5)
    })?;
    let max_explain = MAX_EXPLAIN.min(model.num_features());
    if params.explain > max_explain {
        return Err(ApiError::validation(
            "invalid explain",
            vec![FieldError::new(
                "explain",
                format!(
                    "at most {max_explain} reason codes per account for the active model, not {}",
                    params.explain
                ),
            )],
        ));
    }
    // A file the model cannot read at all is refused now, not as a failed run later.
    let (checked_model, path) = (model.clone(), upload.path.to_path_buf());
    let header_problem =
        tokio::task::spawn_blocking(move || pipeline::header_problem(&checked_model, &path))
            .await
            .map_err(ApiError::internal)?;
    if let Some(problem) = header_problem {
        return Err(ApiError::validation(
            "the file cannot be scored with the active model",
            vec![FieldError::new("file", problem)],
        ));
    }
    let run_id = store::create_run(
        &state.db,
        model.id,
        &upload.file_name,
        &auth.principal.key_name,
        params.reference,
        params.max_bad_rows,
        params.explain,
    )
    .await?;
    let request = RunRequest {
        run_id,
        input: upload.path.to_path_buf(),
        max_bad_rows: params.max_bad_rows,
        make_reference: params.reference,
        explain: params.explain,
    };
    let task_state = state.clone();
    let task = tokio::spawn(async move {
        let progress = Arc::new(Progress::default());
        let ticker = spawn_progress_ticker(task_state.db.clone(), run_id, progress.clone());
        let (_, failure) = pipeline::execute(
            &task_state.db,
            &task_state.models,
            model,
            &request,
            progress,
        )
        .await;
        ticker.abort();
        let max_accounts = latest_scores_limit(&task_state.config.serve);
        if failure.is_none() && max_accounts > 0 {
            // Look-ups answer from this run at once here, and on other replicas at their refresh.
            if let Err(error) = task_state
                .latest_scores
                .refresh(&task_state.db, max_accounts)
                .await
            {
                tracing::warn!(run = run_id, %error, "could not load the run's scores for look-ups");
            }
        }
        // The uploaded file is deleted once the run is over.
        drop(upload.path);
    });
    if params.wait {
        task.await.map_err(ApiError::internal)?;
    }
    let row = store::get_run(&state.db, run_id)
        .await?
        .ok_or_else(|| ApiError::not_found("the run vanished"))?;
    let status = if params.wait {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((
        status,
        [(header::LOCATION, format!("/v1/scoring-runs/{run_id}"))],
        Json(ScoringRunResponse::from(row)),
    )
        .into_response())
}

/// Writes a running run's progress to its row every second (the CLI shows a bar instead).
pub fn spawn_progress_ticker(
    db: sqlx::PgPool,
    run_id: i64,
    progress: Arc<Progress>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PROGRESS_INTERVAL);
        loop {
            tick.tick().await;
            let rows = progress.rows.load(std::sync::atomic::Ordering::Relaxed);
            let phase = if progress.storing.load(std::sync::atomic::Ordering::Relaxed) {
                "storing"
            } else {
                "scoring"
            };
            let fraction = progress.fraction(rows);
            if let Err(error) = store::record_progress(&db, run_id, phase, rows, fraction).await {
                tracing::warn!(run = run_id, %error, "could not record a run's progress");
            }
        }
    })
}

/// The latest 100 runs, newest first.
#[utoipa::path(get, path = "/v1/scoring-runs", tag = "scoring runs",
    security(("api_key" = [])),
    responses((status = 200, description = "Runs", body = Vec<ScoringRunResponse>)))]
pub async fn get_scoring_runs(
    _auth: Authorized<AnyRole>,
    State(state): State<AppState>,
) -> Result<Json<Vec<ScoringRunResponse>>, ApiError> {
    let rows = store::list_runs(&state.db, 100).await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

/// One run: status, progress, counts, bad rows, deciles and timings.
#[utoipa::path(get, path = "/v1/scoring-runs/{id}", tag = "scoring runs",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run", body = ScoringRunResponse),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_scoring_run(
    _auth: Authorized<AnyRole>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<ScoringRunResponse>, ApiError> {
    Ok(Json(succeeded_or_any(&state, id, false).await?.into()))
}

/// A run's decile edges, accounts and mean probability per decile.
#[utoipa::path(get, path = "/v1/scoring-runs/{id}/deciles", tag = "scoring runs",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run's deciles", body = RunDeciles),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run has not succeeded", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_run_deciles(
    _auth: Authorized<AnyRole>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<RunDeciles>, ApiError> {
    let row = succeeded_or_any(&state, id, true).await?;
    run_deciles(&row)
        .map(Json)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("run {id} succeeded without deciles")))
}

/// The run, 404 when absent; with `succeeded`, 409 unless it succeeded.
async fn succeeded_or_any(state: &AppState, id: i64, succeeded: bool) -> Result<RunRow, ApiError> {
    let row = store::get_run(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no scoring run {id}")))?;
    if succeeded && row.status != "succeeded" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "run-not-succeeded",
            format!(
                "scoring run {id} is {}; it has no stored scores",
                row.status
            ),
        ));
    }
    Ok(row)
}

/// Options of `POST /v1/scoring-runs/{id}/outcomes`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutcomeParams {
    /// Forget the run's earlier outcomes first (by default uploads merge, later ones winning).
    #[serde(default)]
    pub replace: bool,
    /// Bad rows to skip; with more, nothing is stored.
    #[serde(default)]
    pub max_bad_rows: u64,
}

/// What an outcomes upload did.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutcomesReport {
    pub run_id: i64,
    /// Rows read.
    pub rows: u64,
    /// Distinct accounts in the upload.
    pub accounts: u64,
    /// Outcomes stored (set or changed).
    pub stored: u64,
    /// Stored outcomes removed because the account's last row had no target.
    pub removed: u64,
    /// Accounts the run did not score (ignored).
    pub unknown_accounts: u64,
    pub bad_rows_count: u64,
    /// The first 100 bad rows.
    pub bad_rows: Vec<BadRow>,
    /// Accounts of the run with an outcome now.
    pub labelled: u64,
}

/// Upload outcomes of a run's accounts (admin): CSV (`text/csv`, columns `account_id` or `ban`
/// and `target` or `y`) or JSON (`{"outcomes": [{"account_id", "target"}]}`). Per account the
/// last row wins; an empty or null target means no outcome. All or nothing unless
/// `max_bad_rows` allows bad rows.
#[utoipa::path(post, path = "/v1/scoring-runs/{id}/outcomes", tag = "scoring runs",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Run id"), OutcomeParams),
    request_body(content(
        (String = "text/csv"),
        (OutcomesBody = "application/json"),
    )),
    responses(
        (status = 200, description = "Stored", body = OutcomesReport),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run has not succeeded", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad rows (listed with line numbers) or no usable header", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_run_outcomes(
    _auth: Authorized<AdminAccess>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(params): Query<OutcomeParams>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Json<OutcomesReport>, ApiError> {
    succeeded_or_any(&state, id, true).await?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let mut tx = state.db.begin().await?;
    store::begin_outcomes(&mut tx).await?;
    let (rows, bad_rows_count, bad_rows) = if is_json {
        // JSON is parsed whole: it gets BODY_LIMIT_BYTES, not the upload limit (large
        // uploads are CSV, which is streamed).
        let limit = usize::try_from(state.config.serve.body_limit_bytes).unwrap_or(usize::MAX);
        let body = upload::read_small(body, limit).await?;
        let parsed: OutcomesBody = serde_json::from_slice(&body).map_err(|e| {
            ApiError::validation(
                "the body is not an outcomes document",
                vec![FieldError::new("body", e.to_string())],
            )
        })?;
        let outcomes = outcomes::from_json(parsed);
        let bad_rows_count = outcomes.bad_rows.len() as u64;
        if bad_rows_count > params.max_bad_rows {
            return Err(bad_outcome_rows(
                &outcomes.bad_rows,
                bad_rows_count,
                params.max_bad_rows,
            ));
        }
        let mut copy = CopyBuffer::new();
        for (seq, (account_id, target)) in outcomes.accounts.iter().enumerate() {
            copy.display(seq);
            copy.text(account_id);
            copy.opt_display(target.map(|t| if t { "t" } else { "f" }));
            copy.end_row();
        }
        let mut sink = store::outcomes_copy(&mut tx).await?;
        sink.send(copy.as_bytes()).await?;
        sink.finish().await?;
        (outcomes.rows, bad_rows_count, outcomes.bad_rows)
    } else {
        // CSV goes to disk, then is read a record at a time and sent to the database in
        // pieces: memory stays bounded whatever the size of the upload.
        let file = upload::spool(body).await?;
        let (pieces, mut received) = tokio::sync::mpsc::channel::<CopyBuffer>(2);
        let reader = tokio::task::spawn_blocking(move || {
            let input =
                std::io::BufReader::new(std::fs::File::open(&file).map_err(|e| e.to_string())?);
            let mut seq = 0u64;
            let mut copy = CopyBuffer::new();
            let summary =
                outcomes::stream_csv(input, pipeline::LISTED_BAD_ROWS, |account_id, target| {
                    copy.display(seq);
                    copy.text(account_id);
                    copy.opt_display(target.map(|t| if t { "t" } else { "f" }));
                    copy.end_row();
                    seq += 1;
                    if copy.len() >= 1 << 20 {
                        // A closed channel means the database side failed; it reports that.
                        let _ =
                            pieces.blocking_send(std::mem::replace(&mut copy, CopyBuffer::new()));
                    }
                })?;
            if !copy.is_empty() {
                let _ = pieces.blocking_send(copy);
            }
            Ok::<_, String>(summary)
        });
        let mut sink = store::outcomes_copy(&mut tx).await?;
        while let Some(piece) = received.recv().await {
            sink.send(piece.as_bytes()).await?;
        }
        let summary = reader
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| ApiError::validation(e.clone(), vec![FieldError::new("header", e)]));
        let summary = match summary {
            Ok(summary) => summary,
            Err(error) => {
                let _ = sink.abort("the upload was refused").await;
                return Err(error);
            }
        };
        if summary.bad_rows_count > params.max_bad_rows {
            let _ = sink.abort("too many bad rows").await;
            return Err(bad_outcome_rows(
                &summary.bad_rows,
                summary.bad_rows_count,
                params.max_bad_rows,
            ));
        }
        sink.finish().await?;
        (summary.rows, summary.bad_rows_count, summary.bad_rows)
    };
    let (stored, removed, unknown_accounts, accounts) =
        store::merge_outcomes(&mut tx, id, params.replace).await?;
    tx.commit().await?;
    let labelled = store::labelled_count(&state.db, id).await?;
    Ok(Json(OutcomesReport {
        run_id: id,
        rows,
        accounts,
        stored,
        removed,
        unknown_accounts,
        bad_rows_count,
        bad_rows: bad_rows
            .into_iter()
            .take(pipeline::LISTED_BAD_ROWS)
            .collect(),
        labelled,
    }))
}

/// 422 listing the bad rows, each field named `line N: column`.
fn bad_outcome_rows(bad_rows: &[BadRow], count: u64, allowed: u64) -> ApiError {
    let errors = bad_rows
        .iter()
        .take(pipeline::LISTED_BAD_ROWS)
        .flat_map(|row| {
            row.errors.iter().map(move |e| {
                FieldError::new(format!("line {}: {}", row.line, e.field), e.message.clone())
            })
        })
        .collect();
    ApiError::validation(
        format!("{count} bad row(s), more than the {allowed} allowed; nothing was stored"),
        errors,
    )
}

/// The lift table of a run's labelled accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiftResponse {
    pub run_id: i64,
    /// Accounts of the run with an outcome.
    pub labelled: u64,
    pub positives: u64,
    /// `positives / labelled`.
    pub base_rate: f64,
    /// ROC AUC (scikit-learn's `roc_auc_score`, ties averaged); `null` with one class only.
    pub roc_auc: Option<f64>,
    /// Decile edges cut on the labelled accounts' own probabilities (the notebook's get_lift).
    pub edges: Vec<f64>,
    pub degenerate: bool,
    /// Deciles 1 (highest scores) to 10: the notebook's `mean_prob`, `actual_rate`,
    /// `overall_rate` and `lift`, plus counts and cumulative capture and lift.
    pub deciles: Vec<LiftRow>,
}

/// The notebook's lift table (`get_lift(prob, y, 10)`) on the run's labelled accounts, with
/// counts, cumulative capture and lift, and ROC AUC.
#[utoipa::path(get, path = "/v1/scoring-runs/{id}/lift", tag = "scoring runs",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Run id")),
    responses(
        (status = 200, description = "Lift table and AUC", body = LiftResponse),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run has not succeeded, or no account has an outcome yet", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_run_lift(
    _auth: Authorized<AnyRole>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<LiftResponse>, ApiError> {
    succeeded_or_any(&state, id, true).await?;
    let (probabilities, targets) = store::labelled(&state.db, id).await?;
    let (table, auc) = tokio::task::spawn_blocking(move || {
        (
            evaluation::lift_table(&probabilities, &targets),
            evaluation::roc_auc(&probabilities, &targets),
        )
    })
    .await
    .map_err(ApiError::internal)?;
    let table = table.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "no-outcomes",
            format!("no account of scoring run {id} has an outcome; POST /v1/scoring-runs/{id}/outcomes first"),
        )
    })?;
    Ok(Json(LiftResponse {
        run_id: id,
        labelled: table.accounts,
        positives: table.positives,
        base_rate: table.overall_rate,
        roc_auc: auc,
        edges: table.edges.edges.to_vec(),
        degenerate: table.edges.degenerate,
        deciles: table.rows.to_vec(),
    }))
}

/// Query of the stability endpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StabilityParams {
    /// The run whose deciles are the reference.
    pub baseline: i64,
}

/// Population stability of a run against a baseline run.
#[derive(Debug, Serialize, ToSchema)]
pub struct StabilityResponse {
    pub run_id: i64,
    pub baseline_run_id: i64,
    /// Sum of the per-decile terms; above 0.25 is usually read as a shifted population.
    pub psi: f64,
    /// Accounts of the run compared.
    pub accounts: u64,
    /// The baseline's edges the run's scores are placed with.
    pub baseline_edges: Vec<f64>,
    /// Deciles 1 (highest scores) to 10.
    pub deciles: Vec<PsiDecile>,
}

/// PSI of a run's scores against a baseline run's decile edges and shares.
#[utoipa::path(get, path = "/v1/scoring-runs/{id}/stability", tag = "scoring runs",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Run id"), StabilityParams),
    responses(
        (status = 200, description = "PSI with per-decile shares", body = StabilityResponse),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A run has not succeeded", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_run_stability(
    _auth: Authorized<AnyRole>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(params): Query<StabilityParams>,
) -> Result<Json<StabilityResponse>, ApiError> {
    succeeded_or_any(&state, id, true).await?;
    let baseline = succeeded_or_any(&state, params.baseline, true).await?;
    let deciles = run_deciles(&baseline)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("run {} has no deciles", baseline.id)))?;
    let edges = <[f64; 11]>::try_from(deciles.edges.as_slice())
        .ok()
        .and_then(DecileEdges::from_edges)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("run {} has bad edges", baseline.id)))?;
    let total = baseline.accounts_scored.max(1) as f64;
    let shares: [f64; 10] = std::array::from_fn(|k| deciles.deciles[k].accounts as f64 / total);
    let probabilities = store::run_probabilities(&state.db, id).await?;
    let psi = tokio::task::spawn_blocking(move || evaluation::psi(&edges, &shares, &probabilities))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("run {id} has no scores")))?;
    Ok(Json(StabilityResponse {
        run_id: id,
        baseline_run_id: baseline.id,
        psi: psi.psi,
        accounts: psi.total,
        baseline_edges: edges.edges.to_vec(),
        deciles: psi.deciles.to_vec(),
    }))
}

/// An account's latest stored score: the newest succeeded run that scored it (scorer). The
/// CRM's hot path: answered from memory when the newest run scored the account, otherwise by
/// one index probe per run, newest first.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/score", tag = "scoring runs",
    security(("api_key" = [])),
    params(("account_id" = String, Path, description = "Account id")),
    responses(
        (status = 200, description = "The latest stored score", body = AccountScoreResponse),
        (status = 404, description = "No run has scored this account", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_account_score(
    _auth: Authorized<ScorerAccess>,
    State(state): State<AppState>,
    Path(account_id): Path<String>,
) -> Result<Json<AccountScoreResponse>, ApiError> {
    if let Some(score) = state.latest_scores.get(&account_id) {
        return Ok(Json(score));
    }
    store::latest_score(&state.db, &account_id)
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found(format!("no scoring run has scored account `{account_id}`"))
        })
}
