//! All SQL of the KPI capability: aggregates over the stored case rows (never raw events),
//! and the process views over events of the filtered cases.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool, Postgres, QueryBuilder, Row, postgres::PgRow};

/// Case attributes KPIs can be filtered and grouped by (column names of `cases`).
pub const DIMENSIONS: [&str; 8] = [
    "channel",
    "priority",
    "priority_level",
    "request_type",
    "product",
    "owner_team",
    "agent",
    "customer",
];

/// Which cases a KPI counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cohort {
    /// Created in the period.
    Created,
    /// Resolved (Rn) in the period.
    Resolved,
}

impl Cohort {
    fn time_column(self) -> &'static str {
        match self {
            Cohort::Created => "created_at",
            Cohort::Resolved => "resolved_at",
        }
    }
}

/// The filters every KPI and process view accepts.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// (column of [`DIMENSIONS`], value).
    pub equals: Vec<(&'static str, String)>,
}

/// A time bucket: `unit` is hour, day, week or month, cut in the IANA zone `zone`.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub unit: &'static str,
    pub zone: String,
}

fn push_filters(query: &mut QueryBuilder<Postgres>, filter: &Filter, time_column: Option<&str>) {
    if let Some(column) = time_column {
        if let Some(from) = filter.from {
            query
                .push(format_args!(" AND {column} >= "))
                .push_bind(from);
        }
        if let Some(to) = filter.to {
            query.push(format_args!(" AND {column} < ")).push_bind(to);
        }
    }
    for (column, value) in &filter.equals {
        query
            .push(format_args!(" AND {column} = "))
            .push_bind(value.clone());
    }
}

/// `SELECT <groups>[, bucket], <aggregates> FROM cases WHERE <cohort in period, filters>
/// GROUP BY ...`; group columns come back as `g0, g1, ...` and the bucket as `bucket`.
pub async fn cohort_aggregates(
    pool: &PgPool,
    cohort: Cohort,
    filter: &Filter,
    groups: &[&str],
    bucket: Option<&Bucket>,
) -> sqlx::Result<Vec<PgRow>> {
    let time = cohort.time_column();
    let mut query = QueryBuilder::new("SELECT ");
    for (i, column) in groups.iter().enumerate() {
        query.push(format_args!("{column} AS g{i}, "));
    }
    if let Some(bucket) = bucket {
        if bucket.unit == "hour" {
            // Hours are absolute: across a DST change, local wall-clock hours repeat or
            // vanish. Binning from a local midnight keeps half-hour zones aligned.
            query
                .push(format_args!(
                    "date_bin('1 hour', {time}, TIMESTAMP '2000-01-01' AT TIME ZONE "
                ))
                .push_bind(bucket.zone.clone())
                .push(") AS bucket, ");
        } else {
            query
                .push(format_args!(
                    "date_trunc('{}', {time} AT TIME ZONE ",
                    bucket.unit
                ))
                .push_bind(bucket.zone.clone())
                .push(") AT TIME ZONE ")
                .push_bind(bucket.zone.clone())
                .push(" AS bucket, ");
        }
    }
    query.push(match cohort {
        Cohort::Created => CREATED_AGGREGATES,
        Cohort::Resolved => RESOLVED_AGGREGATES,
    });
    query.push(format_args!(" FROM cases WHERE {time} IS NOT NULL"));
    push_filters(&mut query, filter, Some(time));
    let mut group_by: Vec<String> = (0..groups.len()).map(|i| format!("g{i}")).collect();
    if bucket.is_some() {
        group_by.push("bucket".into());
    }
    if !group_by.is_empty() {
        query.push(format_args!(" GROUP BY {}", group_by.join(", ")));
    }
    // The quantiles sort a cohort's values per group: at the default 4 MB a 30-day window of
    // a million-case base spills to disk. A transaction scopes the larger budget to this query.
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL work_mem = '64MB'")
        .execute(&mut *tx)
        .await?;
    let rows = query.build().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows)
}

/// Duration statistics of a column: count, mean, median and p90 (linear interpolation, as
/// pandas and numpy).
macro_rules! durations {
    ($column:literal, $name:literal) => {
        concat!(
            "count(",
            $column,
            ") AS ",
            $name,
            "_count, avg(",
            $column,
            ") AS ",
            $name,
            "_mean, ",
            // Both quantiles from one sort.
            "percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY ",
            $column,
            ") AS ",
            $name,
            "_quantiles"
        )
    };
}

const CREATED_AGGREGATES: &str = concat!(
    "count(*) AS volume, ",
    "count(*) FILTER (WHERE escalated) AS escalated, ",
    "count(*) FILTER (WHERE recategorized) AS recategorized, ",
    durations!("first_response_s", "first_response")
);

const RESOLVED_AGGREGATES: &str = concat!(
    "count(*) AS resolved, ",
    "count(*) FILTER (WHERE sla_status = 'succeeded') AS sla_succeeded, ",
    "count(*) FILTER (WHERE sla_status = 'noncompliant') AS sla_noncompliant, ",
    "count(*) FILTER (WHERE fcr_no_reactivation = 'true') AS fcr_no_reactivation_true, ",
    "count(*) FILTER (WHERE fcr_no_reactivation IN ('true', 'false')) AS fcr_no_reactivation_matured, ",
    "count(*) FILTER (WHERE fcr_no_repeat = 'true') AS fcr_no_repeat_true, ",
    "count(*) FILTER (WHERE fcr_no_repeat IN ('true', 'false')) AS fcr_no_repeat_matured, ",
    "count(*) FILTER (WHERE fcr_single_interaction = 'true') AS fcr_single_interaction_true, ",
    "count(*) FILTER (WHERE fcr_single_interaction IN ('true', 'false')) AS fcr_single_interaction_matured, ",
    "count(*) FILTER (WHERE reactivations > 0) AS reactivated, ",
    "count(*) FILTER (WHERE is_rework) AS rework, ",
    "count(*) FILTER (WHERE kb_used) AS kb_used, ",
    "count(csat) AS csat_responses, avg(csat)::float8 AS csat_mean, ",
    "count(*) FILTER (WHERE csat_satisfied) AS csat_satisfied, ",
    "sum(handoffs)::bigint AS handoffs_sum, ",
    durations!("cycle_time_s", "cycle_time"),
    ", ",
    durations!("on_hold_s", "on_hold"),
    ", ",
    durations!("queue_wait_s", "queue_wait")
);

/// Open-case counts now (active breaches, nearing), by group.
pub async fn snapshot_counts(
    executor: impl PgExecutor<'_>,
    filter: &Filter,
    groups: &[&str],
) -> sqlx::Result<Vec<PgRow>> {
    let mut query = QueryBuilder::new("SELECT ");
    for (i, column) in groups.iter().enumerate() {
        query.push(format_args!("{column} AS g{i}, "));
    }
    query.push(
        "count(*) AS open_cases, count(*) FILTER (WHERE sla_status = 'noncompliant') AS active_breaches, \
         count(*) FILTER (WHERE sla_status = 'nearing') AS nearing \
         FROM cases WHERE state = 'open'",
    );
    push_filters(&mut query, filter, None);
    if !groups.is_empty() {
        let group_by: Vec<String> = (0..groups.len()).map(|i| format!("g{i}")).collect();
        query.push(format_args!(" GROUP BY {}", group_by.join(", ")));
    }
    query.build().fetch_all(executor).await
}

/// The ageing buckets of the backlog, in days: [0, 1), [1, 3), ... [30, ∞).
pub const AGEING_DAYS: [(i32, Option<i32>); 6] = [
    (0, Some(1)),
    (1, Some(3)),
    (3, Some(7)),
    (7, Some(14)),
    (14, Some(30)),
    (30, None),
];

/// Cases open at `at` (created by then, not resolved or closed by then), by group and ageing
/// bucket. A case reactivated later counts as open from creation on.
pub async fn backlog(
    executor: impl PgExecutor<'_>,
    at: DateTime<Utc>,
    filter: &Filter,
    groups: &[&str],
) -> sqlx::Result<Vec<PgRow>> {
    let mut query = QueryBuilder::new("SELECT ");
    for (i, column) in groups.iter().enumerate() {
        query.push(format_args!("{column} AS g{i}, "));
    }
    query.push("count(*) AS backlog");
    for (i, (low, high)) in AGEING_DAYS.iter().enumerate() {
        query.push(format_args!(
            ", count(*) FILTER (WHERE age >= interval '{low} days'"
        ));
        if let Some(high) = high {
            query.push(format_args!(" AND age < interval '{high} days'"));
        }
        query.push(format_args!(") AS age{i}"));
    }
    query
        .push(" FROM (SELECT *, ")
        .push_bind(at)
        .push(" - created_at AS age FROM cases WHERE created_at <= ");
    query
        .push_bind(at)
        .push(" AND (state = 'open' OR coalesce(resolved_at, closed_at) > ")
        .push_bind(at)
        .push(")");
    push_filters(&mut query, filter, None);
    query.push(") open_cases");
    if !groups.is_empty() {
        let group_by: Vec<String> = (0..groups.len()).map(|i| format!("g{i}")).collect();
        query.push(format_args!(" GROUP BY {}", group_by.join(", ")));
    }
    query.build().fetch_all(executor).await
}

/// The bucket starts covering [from, to) in the zone, so empty buckets are listed too.
pub async fn bucket_starts(
    executor: impl PgExecutor<'_>,
    bucket: &Bucket,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<DateTime<Utc>>> {
    let sql = if bucket.unit == "hour" {
        // Absolute hours (see `cohort_aggregates`).
        "SELECT s AS start FROM generate_series(
             date_bin('1 hour', $1, TIMESTAMP '2000-01-01' AT TIME ZONE $3),
             $2 - interval '1 microsecond', interval '1 hour') s"
            .to_owned()
    } else {
        format!(
            "SELECT s AT TIME ZONE $3 AS start FROM generate_series(
                 date_trunc('{unit}', $1 AT TIME ZONE $3),
                 ($2 AT TIME ZONE $3) - interval '1 microsecond',
                 interval '1 {unit}') s",
            unit = bucket.unit
        )
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(from)
        .bind(to)
        .bind(&bucket.zone)
        .fetch_all(executor)
        .await?;
    rows.iter().map(|row| row.try_get("start")).collect()
}

/// Freshness: latest event time, last change, and the data version.
pub async fn freshness(
    executor: impl PgExecutor<'_>,
) -> sqlx::Result<(Option<DateTime<Utc>>, Option<DateTime<Utc>>, i64)> {
    let row = sqlx::query!("SELECT data_as_of, last_ingested_at, version FROM ingest_state")
        .fetch_one(executor)
        .await?;
    Ok((row.data_as_of, row.last_ingested_at, row.version))
}

/// Events of the filtered cases (created in the period), as (case, activity, time) in case
/// order: time, then arrival. Process views are computed from these.
pub async fn process_rows(
    executor: impl PgExecutor<'_>,
    filter: &Filter,
    sql: &str,
) -> sqlx::Result<Vec<PgRow>> {
    let mut query = QueryBuilder::new("WITH selected AS (SELECT case_id FROM cases WHERE true");
    push_filters(&mut query, filter, Some("created_at"));
    query.push(format_args!(
        "), ordered AS (SELECT e.case_id, e.activity, e.event_time, e.seq FROM events e JOIN selected USING (case_id)) {sql}"
    ));
    query.build().fetch_all(executor).await
}

/// What reconciliation reads of a case: the reported derived columns and the computed facts
/// they are compared with.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct ReconciliationRow {
    pub case_id: String,
    pub created_at: DateTime<Utc>,
    pub first_event_at: DateTime<Utc>,
    pub last_event_at: DateTime<Utc>,
    pub first_resolved_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub sla_target_s: Option<f64>,
    pub sla_elapsed_s: Option<f64>,
    pub sla_breached: Option<bool>,
    pub fcr_single_interaction: Option<String>,
    pub is_rework: bool,
    pub reactivations: i32,
    pub handoffs: i32,
    pub escalated: bool,
    pub reported_first_contact_resolution: Option<bool>,
    pub reported_rework: Option<bool>,
    pub reported_sla_breached: Option<bool>,
    pub reported_cycle_time_s: Option<f64>,
}

/// The filtered cases (created in the period) with at least one reported derived column, in
/// case id order.
pub async fn reconciliation_rows(
    executor: impl PgExecutor<'_>,
    filter: &Filter,
) -> sqlx::Result<Vec<ReconciliationRow>> {
    let mut query = QueryBuilder::new(
        "SELECT case_id, created_at, first_event_at, last_event_at, first_resolved_at, resolved_at,
                closed_at, sla_target_s, sla_elapsed_s, sla_breached, fcr_single_interaction,
                is_rework, reactivations, handoffs, escalated, reported_first_contact_resolution,
                reported_rework, reported_sla_breached, reported_cycle_time_s
         FROM cases
         WHERE num_nonnulls(reported_first_contact_resolution, reported_rework,
                            reported_sla_breached, reported_cycle_time_s) > 0",
    );
    push_filters(&mut query, filter, Some("created_at"));
    // Byte order, whatever the database's collation: the cursor compares the same way.
    query.push(" ORDER BY case_id COLLATE \"C\"");
    query.build_query_as().fetch_all(executor).await
}
