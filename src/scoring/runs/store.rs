//! All SQL of scoring runs, stored scores and outcomes.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

/// A scoring run as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub id: i64,
    pub model_id: i64,
    pub source: String,
    pub status: String,
    pub phase: String,
    pub requested_by: String,
    pub make_reference: bool,
    pub max_bad_rows: i64,
    pub explain: i16,
    pub rows_read: i64,
    pub progress: f64,
    pub accounts_scored: i64,
    pub bad_rows_count: i64,
    pub bad_rows: serde_json::Value,
    pub ignored_columns: Vec<String>,
    pub decile_edges: Option<Vec<f64>>,
    pub decile_degenerate: Option<bool>,
    pub decile_counts: Option<Vec<i64>>,
    pub decile_mean_probability: Option<Vec<Option<f64>>>,
    pub timings: Option<serde_json::Value>,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

pub async fn create_run(
    db: impl PgExecutor<'_>,
    model_id: i64,
    source: &str,
    requested_by: &str,
    make_reference: bool,
    max_bad_rows: u64,
    explain: usize,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO scoring_runs (model_id, source, status, requested_by, make_reference, max_bad_rows, explain, owner)
         VALUES ($1, $2, 'running', $3, $4, $5, $6, $7) RETURNING id",
        model_id,
        source,
        requested_by,
        make_reference,
        i64::try_from(max_bad_rows).unwrap_or(i64::MAX),
        i16::try_from(explain).unwrap_or(i16::MAX),
        crate::replica::id()
    )
    .fetch_one(db)
    .await
}

pub async fn record_progress(
    db: impl PgExecutor<'_>,
    id: i64,
    phase: &str,
    rows_read: u64,
    progress: f64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE scoring_runs SET phase = $2, rows_read = $3, progress = $4, heartbeat_at = now()
         WHERE id = $1 AND status = 'running'",
        id,
        phase,
        rows_read as i64,
        progress
    )
    .execute(db)
    .await?;
    Ok(())
}

/// What a finished run (either way) records.
pub struct RunResult<'a> {
    pub status: &'a str,
    pub rows_read: u64,
    pub accounts_scored: u64,
    pub bad_rows_count: u64,
    pub bad_rows: serde_json::Value,
    pub ignored_columns: &'a [String],
    pub decile_edges: Option<&'a [f64]>,
    pub decile_degenerate: Option<bool>,
    pub decile_counts: Option<Vec<i64>>,
    pub decile_mean_probability: Option<Vec<Option<f64>>>,
    pub timings: serde_json::Value,
    pub error: Option<&'a str>,
}

pub async fn finish_run(db: impl PgExecutor<'_>, id: i64, r: &RunResult<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE scoring_runs SET status = $2, phase = 'done', rows_read = $3,
               progress = CASE WHEN $2 = 'succeeded' THEN 1 ELSE progress END,
               accounts_scored = $4, bad_rows_count = $5, bad_rows = $6, ignored_columns = $7,
               decile_edges = $8, decile_degenerate = $9, decile_counts = $10,
               decile_mean_probability = $11, timings = $12, error = $13, finished_at = now()
           WHERE id = $1"#,
        id,
        r.status,
        r.rows_read as i64,
        r.accounts_scored as i64,
        r.bad_rows_count as i64,
        r.bad_rows,
        r.ignored_columns,
        r.decile_edges,
        r.decile_degenerate,
        r.decile_counts.as_deref(),
        r.decile_mean_probability.as_deref() as Option<&[Option<f64>]>,
        r.timings,
        r.error
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Marks a run failed with only its error (when recording the details failed).
pub async fn mark_failed(db: impl PgExecutor<'_>, id: i64, error: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE scoring_runs SET status = 'failed', phase = 'done', error = $2, finished_at = now()
         WHERE id = $1 AND status = 'running'",
        id,
        error
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Fails runs whose process stopped: no progress recorded for `stale_s` seconds (a running run
/// records it every second) and an owner that is not a live replica. Their scores were never
/// committed, so nothing is left behind.
pub async fn fail_abandoned_runs(db: impl PgExecutor<'_>, stale_s: f64) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "UPDATE scoring_runs s SET status = 'failed', phase = 'done', finished_at = now(),
             error = format('abandoned: the process running it stopped (last heartbeat %s, phase %s, '
                 || '%s rows read) before it finished; nothing was stored',
                 to_char(s.heartbeat_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                 s.phase, s.rows_read)
         WHERE s.status = 'running' AND s.heartbeat_at < now() - make_interval(secs => $1)
           AND NOT EXISTS (SELECT 1 FROM replicas r WHERE r.id = s.owner
                           AND r.heartbeat_at >= now() - make_interval(secs => $1))",
        stale_s
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

pub async fn get_run(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<RunRow>> {
    sqlx::query_as!(
        RunRow,
        r#"SELECT id, model_id, source, status, phase, requested_by, make_reference, max_bad_rows,
                  explain, rows_read, progress, accounts_scored, bad_rows_count, bad_rows, ignored_columns,
                  decile_edges, decile_degenerate, decile_counts,
                  decile_mean_probability AS "decile_mean_probability: Vec<Option<f64>>",
                  timings, error, started_at, finished_at
           FROM scoring_runs WHERE id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

pub async fn list_runs(db: impl PgExecutor<'_>, limit: i64) -> sqlx::Result<Vec<RunRow>> {
    sqlx::query_as!(
        RunRow,
        r#"SELECT id, model_id, source, status, phase, requested_by, make_reference, max_bad_rows,
                  explain, rows_read, progress, accounts_scored, bad_rows_count, bad_rows, ignored_columns,
                  decile_edges, decile_degenerate, decile_counts,
                  decile_mean_probability AS "decile_mean_probability: Vec<Option<f64>>",
                  timings, error, started_at, finished_at
           FROM scoring_runs ORDER BY id DESC LIMIT $1"#,
        limit
    )
    .fetch_all(db)
    .await
}

/// Name of a run's partition of `account_scores`.
fn partition(run_id: i64) -> String {
    format!("account_scores_run_{run_id}")
}

/// Creates the run's own table, shaped like `account_scores`; scores are COPYed into it.
pub async fn create_partition(conn: &mut PgConnection, run_id: i64) -> sqlx::Result<String> {
    let table = partition(run_id);
    // The CHECK proves the partition bound, so ATTACH need not scan the rows to validate it
    // (about 60 ms per million).
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {table} (LIKE account_scores INCLUDING CONSTRAINTS, CHECK (run_id = {run_id}))"
    )))
    .execute(&mut *conn)
    .await?;
    Ok(table)
}

/// Indexes the loaded partition (one sort instead of a b-tree insert per row) and attaches it:
/// from the commit on, the run's scores are visible. Fails on an account scored twice.
pub async fn attach_partition(conn: &mut PgConnection, run_id: i64) -> sqlx::Result<()> {
    let table = partition(run_id);
    // The index matches the parent's, so attaching adopts it instead of building another.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE UNIQUE INDEX {table}_account ON {table} (account_id, run_id)"
    )))
    .execute(&mut *conn)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE account_scores ATTACH PARTITION {table} FOR VALUES IN ({run_id})"
    )))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An account's newest stored score.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[schema(as = AccountScoreResponse)]
pub struct LatestScore {
    pub account_id: String,
    pub probability: f64,
    /// 1 (highest scores) to 10, cut with the run's own edges.
    pub decile: i16,
    pub run_id: i64,
    pub model_id: i64,
    /// When the run that scored it finished.
    pub scored_at: DateTime<Utc>,
}

/// The newest succeeded run's score of an account (runs' partitions are attached only when they
/// succeed, so every stored score is from a succeeded run).
pub async fn latest_score(
    db: impl PgExecutor<'_>,
    account_id: &str,
) -> sqlx::Result<Option<LatestScore>> {
    sqlx::query_as!(
        LatestScore,
        r#"SELECT s.account_id, s.probability, s.decile, s.run_id, r.model_id,
                  r.finished_at AS "scored_at!"
           FROM (SELECT * FROM account_scores WHERE account_id = $1
                 ORDER BY run_id DESC LIMIT 1) s
           JOIN scoring_runs r ON r.id = s.run_id"#,
        account_id
    )
    .fetch_optional(db)
    .await
}

/// Every probability a run stored (for its stability against another run).
pub async fn run_probabilities(db: impl PgExecutor<'_>, run_id: i64) -> sqlx::Result<Vec<f64>> {
    sqlx::query_scalar!(
        "SELECT probability FROM account_scores WHERE run_id = $1",
        run_id
    )
    .fetch_all(db)
    .await
}

/// Starts receiving an upload's outcomes in this transaction: rows `(seq, account id,
/// target)` go into a temporary table through [`outcomes_copy`], in any number of pieces.
pub async fn begin_outcomes(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query(
        "CREATE TEMPORARY TABLE incoming_rows (seq bigint, account_id text, target boolean)
         ON COMMIT DROP",
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// COPY into the rows of [`begin_outcomes`] (COPY text: `seq \t account_id \t target`).
pub async fn outcomes_copy(
    conn: &mut PgConnection,
) -> sqlx::Result<sqlx::postgres::PgCopyIn<&mut PgConnection>> {
    conn.copy_in_raw("COPY incoming_rows (seq, account_id, target) FROM STDIN")
        .await
}

/// Merges the received rows (the last `seq` of each account wins, a null target removes an
/// outcome) into a run's outcomes; returns (stored, removed, unknown accounts, accounts).
pub async fn merge_outcomes(
    conn: &mut PgConnection,
    run_id: i64,
    replace: bool,
) -> sqlx::Result<(u64, u64, u64, u64)> {
    // Unchecked queries: the temporary tables exist only in this transaction.
    let accounts = sqlx::query(
        "CREATE TEMPORARY TABLE incoming_outcomes ON COMMIT DROP AS
         SELECT DISTINCT ON (account_id) account_id, target FROM incoming_rows
         ORDER BY account_id, seq DESC",
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let unknown: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM incoming_outcomes i
         WHERE NOT EXISTS (SELECT 1 FROM account_scores s
                           WHERE s.run_id = $1 AND s.account_id = i.account_id)",
    )
    .bind(run_id)
    .fetch_one(&mut *conn)
    .await?;
    if replace {
        sqlx::query!("DELETE FROM run_outcomes WHERE run_id = $1", run_id)
            .execute(&mut *conn)
            .await?;
    }
    let removed = sqlx::query(
        "DELETE FROM run_outcomes o USING incoming_outcomes i
         WHERE o.run_id = $1 AND o.account_id = i.account_id AND i.target IS NULL",
    )
    .bind(run_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let stored = sqlx::query(
        "INSERT INTO run_outcomes (run_id, account_id, target)
         SELECT $1, i.account_id, i.target FROM incoming_outcomes i
         JOIN account_scores s ON s.run_id = $1 AND s.account_id = i.account_id
         WHERE i.target IS NOT NULL
         ON CONFLICT (run_id, account_id)
         DO UPDATE SET target = EXCLUDED.target, uploaded_at = now()",
    )
    .bind(run_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok((stored, removed, unknown as u64, accounts))
}

/// The labelled accounts of a run: `(probability, target)`.
pub async fn labelled(db: impl PgExecutor<'_>, run_id: i64) -> sqlx::Result<(Vec<f64>, Vec<bool>)> {
    let rows = sqlx::query!(
        "SELECT s.probability, o.target FROM run_outcomes o
         JOIN account_scores s ON s.run_id = o.run_id AND s.account_id = o.account_id
         WHERE o.run_id = $1",
        run_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.probability, r.target)).unzip())
}

/// Accounts of a run with an outcome.
pub async fn labelled_count(db: impl PgExecutor<'_>, run_id: i64) -> sqlx::Result<u64> {
    let n = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM run_outcomes WHERE run_id = $1"#,
        run_id
    )
    .fetch_one(db)
    .await?;
    Ok(n as u64)
}
