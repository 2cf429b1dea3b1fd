//! All SQL of SLA policies, calendars and recomputations.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, types::Json};
use uuid::Uuid;

use super::{
    calendar::{ALWAYS_OPEN_ID, Calendar, CalendarDefinition, CalendarVersions},
    policy::{PolicyDefinition, PolicyVersion, SlaSetup},
};

/// A stored calendar version.
#[derive(Debug, Clone)]
pub struct CalendarVersionRow {
    pub calendar_id: String,
    pub version: i32,
    pub effective_from: DateTime<Utc>,
    pub definition: Json<CalendarDefinition>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<String>,
}

/// A stored policy version (`definition` `None`: retired).
#[derive(Debug, Clone)]
pub struct PolicyVersionRow {
    pub policy_id: String,
    pub version: i32,
    pub effective_from: DateTime<Utc>,
    pub definition: Option<Json<PolicyDefinition>>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<String>,
}

pub async fn calendar_versions(
    executor: impl PgExecutor<'_>,
    calendar_id: Option<&str>,
) -> sqlx::Result<Vec<CalendarVersionRow>> {
    sqlx::query_as!(
        CalendarVersionRow,
        r#"SELECT calendar_id, version, effective_from,
                  definition AS "definition: Json<CalendarDefinition>", created_at, created_by
           FROM sla_calendar_versions
           WHERE $1::text IS NULL OR calendar_id = $1
           ORDER BY calendar_id, effective_from, version"#,
        calendar_id
    )
    .fetch_all(executor)
    .await
}

pub async fn policy_versions(
    executor: impl PgExecutor<'_>,
    policy_id: Option<&str>,
) -> sqlx::Result<Vec<PolicyVersionRow>> {
    sqlx::query_as!(
        PolicyVersionRow,
        r#"SELECT policy_id, version, effective_from,
                  definition AS "definition: Json<PolicyDefinition>", created_at, created_by
           FROM sla_policy_versions
           WHERE $1::text IS NULL OR policy_id = $1
           ORDER BY policy_id, effective_from, version"#,
        policy_id
    )
    .fetch_all(executor)
    .await
}

/// Adds a calendar version (the next number); returns it.
pub async fn insert_calendar_version(
    executor: impl PgExecutor<'_>,
    calendar_id: &str,
    effective_from: DateTime<Utc>,
    definition: &CalendarDefinition,
    created_by: Option<&str>,
) -> sqlx::Result<i32> {
    sqlx::query_scalar!(
        r#"INSERT INTO sla_calendar_versions (calendar_id, version, effective_from, definition, created_by)
           SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4
           FROM sla_calendar_versions WHERE calendar_id = $1
           RETURNING version"#,
        calendar_id,
        effective_from,
        Json(definition) as _,
        created_by
    )
    .fetch_one(executor)
    .await
}

/// Adds a policy version (`None`: retire it); returns its number.
pub async fn insert_policy_version(
    executor: impl PgExecutor<'_>,
    policy_id: &str,
    effective_from: DateTime<Utc>,
    definition: Option<&PolicyDefinition>,
    created_by: Option<&str>,
) -> sqlx::Result<i32> {
    sqlx::query_scalar!(
        r#"INSERT INTO sla_policy_versions (policy_id, version, effective_from, definition, created_by)
           SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4
           FROM sla_policy_versions WHERE policy_id = $1
           RETURNING version"#,
        policy_id,
        effective_from,
        definition.map(Json) as _,
        created_by
    )
    .fetch_one(executor)
    .await
}

/// Serialises SLA writes (and recomputations reading them) across replicas.
pub async fn lock_setup(conn: &mut sqlx::PgConnection) -> sqlx::Result<()> {
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtext('switchboard.sla_setup'))")
        .execute(conn)
        .await
        .map(|_| ())
}

/// Every calendar and policy version, ready for the clocks. Versions that no longer parse
/// (impossible through the API) are skipped with a warning rather than stop every ingest.
pub async fn load_setup(conn: &mut sqlx::PgConnection) -> sqlx::Result<SlaSetup> {
    let mut setup = SlaSetup::default();
    setup
        .calendars
        .insert(ALWAYS_OPEN_ID.to_owned(), CalendarVersions::always_open());
    for row in calendar_versions(&mut *conn, None).await? {
        let Ok(calendar) = Calendar::from_definition(&row.definition) else {
            tracing::warn!(
                calendar = row.calendar_id,
                version = row.version,
                "stored calendar no longer validates; skipped"
            );
            continue;
        };
        let entry = setup
            .calendars
            .entry(row.calendar_id.clone())
            .or_insert_with(|| CalendarVersions {
                id: row.calendar_id.clone(),
                versions: Vec::new(),
            });
        entry
            .versions
            .push((row.effective_from, row.version, calendar));
    }
    for row in policy_versions(&mut *conn, None).await? {
        setup
            .policies
            .entry(row.policy_id)
            .or_default()
            .push(PolicyVersion {
                version: row.version,
                effective_from: row.effective_from,
                definition: row.definition.map(|d| d.0),
            });
    }
    Ok(setup)
}

/// A recomputation job.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecomputationRow {
    pub id: i64,
    pub status: String,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub cases_total: Option<i64>,
    pub cases_done: i64,
    pub error: Option<String>,
    pub requested_by: Option<String>,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

pub async fn create_recomputation(
    executor: impl PgExecutor<'_>,
    created_from: Option<DateTime<Utc>>,
    created_to: Option<DateTime<Utc>>,
    owner: Uuid,
    requested_by: Option<&str>,
) -> sqlx::Result<RecomputationRow> {
    sqlx::query_as!(
        RecomputationRow,
        "INSERT INTO sla_recomputations (status, created_from, created_to, owner, requested_by)
         VALUES ('running', $1, $2, $3, $4)
         RETURNING id, status, created_from, created_to, cases_total, cases_done, error,
                   requested_by, started_at, heartbeat_at, finished_at",
        created_from,
        created_to,
        owner,
        requested_by
    )
    .fetch_one(executor)
    .await
}

pub async fn get_recomputation(
    executor: impl PgExecutor<'_>,
    id: i64,
) -> sqlx::Result<Option<RecomputationRow>> {
    sqlx::query_as!(
        RecomputationRow,
        "SELECT id, status, created_from, created_to, cases_total, cases_done, error,
                requested_by, started_at, heartbeat_at, finished_at
         FROM sla_recomputations WHERE id = $1",
        id
    )
    .fetch_optional(executor)
    .await
}

pub async fn recomputation_progress(
    executor: impl PgExecutor<'_>,
    id: i64,
    cases_total: Option<i64>,
    cases_done: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE sla_recomputations
         SET cases_total = coalesce($2, cases_total), cases_done = $3, heartbeat_at = now()
         WHERE id = $1",
        id,
        cases_total,
        cases_done
    )
    .execute(executor)
    .await
    .map(|_| ())
}

pub async fn finish_recomputation(
    executor: impl PgExecutor<'_>,
    id: i64,
    error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE sla_recomputations
         SET status = CASE WHEN $2::text IS NULL THEN 'succeeded' ELSE 'failed' END,
             error = $2, finished_at = now(), heartbeat_at = now()
         WHERE id = $1",
        id,
        error
    )
    .execute(executor)
    .await
    .map(|_| ())
}

/// Marks failed the running recomputations whose heartbeat is older than `stale_s` and
/// whose replica stopped beating, saying how far they got.
pub async fn fail_orphaned_recomputations(
    executor: impl PgExecutor<'_>,
    stale_s: f64,
) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "UPDATE sla_recomputations r SET status = 'failed', finished_at = now(),
             error = format('abandoned: the replica running it stopped; %s of %s cases were recomputed '
                 || '(each batch commits whole): request the period again', r.cases_done,
                 coalesce(r.cases_total::text, '?'))
         WHERE r.status = 'running'
           AND r.heartbeat_at < now() - make_interval(secs => $1)
           AND NOT EXISTS (SELECT 1 FROM replicas p WHERE p.id = r.owner
                           AND p.heartbeat_at >= now() - make_interval(secs => $1))",
        stale_s
    )
    .execute(executor)
    .await?;
    Ok(done.rows_affected())
}

/// How many cases a recomputation of this period covers: created in it, or open.
pub async fn count_cases_in_period(
    executor: impl PgExecutor<'_>,
    created_from: Option<DateTime<Utc>>,
    created_to: Option<DateTime<Utc>>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM cases
           WHERE state = 'open'
              OR (($1::timestamptz IS NULL OR created_at >= $1) AND ($2::timestamptz IS NULL OR created_at < $2))"#,
        created_from,
        created_to
    )
    .fetch_one(executor)
    .await
}

/// The next page of those cases' ids, in id order after `after`.
pub async fn cases_in_period(
    executor: impl PgExecutor<'_>,
    created_from: Option<DateTime<Utc>>,
    created_to: Option<DateTime<Utc>>,
    after: &str,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        "SELECT case_id FROM cases
         WHERE case_id > $3
           AND (state = 'open'
                OR (($1::timestamptz IS NULL OR created_at >= $1) AND ($2::timestamptz IS NULL OR created_at < $2)))
         ORDER BY case_id LIMIT $4",
        created_from,
        created_to,
        after,
        limit
    )
    .fetch_all(executor)
    .await
}
