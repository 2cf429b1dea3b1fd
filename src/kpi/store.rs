//! All SQL of the KPI capability: aggregates over the stored case rows (never raw events),
//! and the process views over events of the filtered cases.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool, Postgres, QueryBuilder, error::BoxDynError, postgres::PgRow};

/// Case attributes KPIs can be filtered and grouped by (column names of `cases`).
pub const DIMENSIONS: [&str; 9] = [
    "channel",
    "priority",
    "priority_level",
    "request_type",
    "product",
    "owner_team",
    "agent",
    "customer",
    // The SLA policy that applied (breaches by policy: `group_by=sla_policy_id`).
    "sla_policy_id",
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

/// The unit of a time series bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketUnit {
    Hour,
    Day,
    /// ISO week, from Monday.
    Week,
    Month,
}

impl BucketUnit {
    /// The unit as the API and PostgreSQL (`date_trunc`, `interval`) spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            BucketUnit::Hour => "hour",
            BucketUnit::Day => "day",
            BucketUnit::Week => "week",
            BucketUnit::Month => "month",
        }
    }

    pub fn parse(unit: &str) -> Option<BucketUnit> {
        match unit {
            "hour" => Some(BucketUnit::Hour),
            "day" => Some(BucketUnit::Day),
            "week" => Some(BucketUnit::Week),
            "month" => Some(BucketUnit::Month),
            _ => None,
        }
    }
}

/// A time bucket: a unit cut in the IANA zone `zone`.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub unit: BucketUnit,
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

/// `ARRAY[<groups>]::text[] AS group_key, `: the group's values in `groups` order, one column
/// whatever the grouping, so the row types below stay fixed.
fn push_group_key(query: &mut QueryBuilder<Postgres>, groups: &[&str]) {
    query.push(format_args!(
        "ARRAY[{}]::text[] AS group_key, ",
        groups.join(", ")
    ));
}

fn push_group_by(query: &mut QueryBuilder<Postgres>, groups: &[&str], bucket: bool) {
    let mut group_by: Vec<&str> = groups.to_vec();
    if bucket {
        group_by.push("bucket");
    }
    if !group_by.is_empty() {
        query.push(format_args!(" GROUP BY {}", group_by.join(", ")));
    }
}

/// Count, mean, median and p90 of a group's durations, exactly as PostgreSQL's `count`, `avg`
/// and `percentile_cont(ARRAY[0.5, 0.9])` give them (and pandas: linear interpolation).
/// Taken from the group's [`DurationValues`]: the mean adds them in the order collected, as
/// `avg` does; a percentile, with `x = p * (n - 1)`, takes the values of
/// sorted ranks `floor(x)` and `ceil(x)` to `lo + (x - floor(x)) * (hi - lo)`, found by
/// selection rather than by sorting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DurationStats {
    pub count: i64,
    pub mean: f64,
    pub median: f64,
    pub p90: f64,
}

impl DurationStats {
    /// None for no values.
    pub fn of(values: &mut [f64]) -> Option<DurationStats> {
        if values.is_empty() {
            return None;
        }
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let last = (values.len() - 1) as f64;
        let mut percentile = |p: f64| {
            let x = p * last;
            let (low, high) = (x.floor(), x.ceil());
            let (_, &mut lo, above) = values.select_nth_unstable_by(low as usize, f64::total_cmp);
            if high > low {
                // The next rank is the smallest value above.
                let hi = above.iter().copied().min_by(f64::total_cmp).unwrap_or(lo);
                lo + (x - low) * (hi - lo)
            } else {
                lo
            }
        };
        let (median, p90) = (percentile(0.5), percentile(0.9));
        Some(DurationStats {
            count: values.len() as i64,
            mean,
            median,
            p90,
        })
    }
}

/// One group's values of a duration column, as its aggregate collected them (in scan order):
/// kept raw so that the parts of a split period can be joined before the statistics are taken.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DurationValues(pub Vec<f64>);

impl DurationValues {
    /// Count, mean, median and p90 (None for no values).
    pub fn stats(&self) -> Option<DurationStats> {
        DurationStats::of(&mut self.0.clone())
    }

    /// The values from their big-endian float8 bytes, concatenated (see `durations!`).
    fn from_float8_bytes(bytes: &[u8]) -> Result<Self, BoxDynError> {
        let (values, rest) = bytes.as_chunks::<8>();
        if !rest.is_empty() {
            return Err(format!("{} bytes are not whole float8 values", bytes.len()).into());
        }
        Ok(DurationValues(
            values
                .iter()
                .map(|value| f64::from_be_bytes(*value))
                .collect(),
        ))
    }
}

impl sqlx::Type<Postgres> for DurationValues {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <Vec<u8> as sqlx::Type<Postgres>>::type_info()
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for DurationValues {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let bytes = <&[u8] as sqlx::Decode<Postgres>>::decode(value)?;
        DurationValues::from_float8_bytes(bytes)
    }
}

/// Joins a later part's values to an earlier part's (the statistics do not depend on the
/// order, only the mean's last bit could).
fn append(earlier: &mut Option<DurationValues>, later: Option<DurationValues>) {
    match (earlier.as_mut(), later) {
        (Some(values), Some(later)) => values.0.extend(later.0),
        (None, later) => *earlier = later,
        (_, None) => {}
    }
}

fn add(earlier: &mut Option<i64>, later: Option<i64>) {
    if let Some(later) = later {
        *earlier = Some(earlier.unwrap_or(0) + later);
    }
}

/// A cohort query's row: one group (and bucket) of one part of the period.
pub trait CohortRow: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin {
    fn key(&self) -> (&[Option<String>], Option<DateTime<Utc>>);
    /// Adds the same group's aggregates over a later part of the period.
    fn absorb(&mut self, later: Self);
}

/// The created cohort's aggregates of one group (and bucket).
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct CreatedAggregates {
    /// The group's value per grouping column, in the order asked.
    pub group_key: Vec<Option<String>>,
    /// The bucket's start; None without buckets.
    pub bucket: Option<DateTime<Utc>>,
    pub volume: i64,
    pub escalated: i64,
    pub recategorized: i64,
    pub first_response: Option<DurationValues>,
    pub first_response_sla_succeeded: i64,
    pub first_response_sla_noncompliant: i64,
    /// Business seconds to the first response (its SLA clock), where a response happened.
    pub business_first_response: Option<DurationValues>,
}

/// The resolved cohort's aggregates of one group (and bucket).
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct ResolvedAggregates {
    pub group_key: Vec<Option<String>>,
    pub bucket: Option<DateTime<Utc>>,
    pub resolved: i64,
    pub sla_succeeded: i64,
    pub sla_noncompliant: i64,
    pub fcr_no_reactivation_true: i64,
    pub fcr_no_reactivation_matured: i64,
    pub fcr_no_repeat_true: i64,
    pub fcr_no_repeat_matured: i64,
    pub fcr_single_interaction_true: i64,
    pub fcr_single_interaction_matured: i64,
    pub reactivated: i64,
    pub rework: i64,
    pub kb_used: i64,
    pub csat_responses: i64,
    pub csat_sum: Option<i64>,
    pub csat_satisfied: i64,
    pub handoffs_sum: Option<i64>,
    pub cycle_time: Option<DurationValues>,
    pub on_hold: Option<DurationValues>,
    pub queue_wait: Option<DurationValues>,
    /// Business seconds of the resolution SLA clock, where the case has a target.
    pub business_resolution: Option<DurationValues>,
}

impl ResolvedAggregates {
    /// The mean CSAT of the responses, as pandas takes it (their sum over their count).
    pub fn csat_mean(&self) -> Option<f64> {
        (self.csat_responses > 0)
            .then(|| self.csat_sum.unwrap_or(0) as f64 / self.csat_responses as f64)
    }
}

impl CohortRow for CreatedAggregates {
    fn key(&self) -> (&[Option<String>], Option<DateTime<Utc>>) {
        (&self.group_key, self.bucket)
    }

    fn absorb(&mut self, later: Self) {
        self.volume += later.volume;
        self.escalated += later.escalated;
        self.recategorized += later.recategorized;
        append(&mut self.first_response, later.first_response);
        self.first_response_sla_succeeded += later.first_response_sla_succeeded;
        self.first_response_sla_noncompliant += later.first_response_sla_noncompliant;
        append(
            &mut self.business_first_response,
            later.business_first_response,
        );
    }
}

impl CohortRow for ResolvedAggregates {
    fn key(&self) -> (&[Option<String>], Option<DateTime<Utc>>) {
        (&self.group_key, self.bucket)
    }

    fn absorb(&mut self, later: Self) {
        self.resolved += later.resolved;
        self.sla_succeeded += later.sla_succeeded;
        self.sla_noncompliant += later.sla_noncompliant;
        self.fcr_no_reactivation_true += later.fcr_no_reactivation_true;
        self.fcr_no_reactivation_matured += later.fcr_no_reactivation_matured;
        self.fcr_no_repeat_true += later.fcr_no_repeat_true;
        self.fcr_no_repeat_matured += later.fcr_no_repeat_matured;
        self.fcr_single_interaction_true += later.fcr_single_interaction_true;
        self.fcr_single_interaction_matured += later.fcr_single_interaction_matured;
        self.reactivated += later.reactivated;
        self.rework += later.rework;
        self.kb_used += later.kb_used;
        self.csat_responses += later.csat_responses;
        add(&mut self.csat_sum, later.csat_sum);
        self.csat_satisfied += later.csat_satisfied;
        add(&mut self.handoffs_sum, later.handoffs_sum);
        append(&mut self.cycle_time, later.cycle_time);
        append(&mut self.on_hold, later.on_hold);
        append(&mut self.queue_wait, later.queue_wait);
        append(&mut self.business_resolution, later.business_resolution);
    }
}

/// The created cohort's aggregates, by group (and bucket).
pub async fn created_aggregates(
    pool: &PgPool,
    filter: &Filter,
    groups: &[&str],
    bucket: Option<&Bucket>,
) -> sqlx::Result<Vec<CreatedAggregates>> {
    cohort_aggregates(pool, Cohort::Created, filter, groups, bucket).await
}

/// The resolved cohort's aggregates, by group (and bucket).
pub async fn resolved_aggregates(
    pool: &PgPool,
    filter: &Filter,
    groups: &[&str],
    bucket: Option<&Bucket>,
) -> sqlx::Result<Vec<ResolvedAggregates>> {
    cohort_aggregates(pool, Cohort::Resolved, filter, groups, bucket).await
}

/// Periods at least this long are aggregated in two halves on two connections, side by side:
/// a cohort query is one backend on one core, and at a million cases a month's cohort takes
/// tens of milliseconds of it. The halves' rows are merged exactly (counts add, values join
/// in time order).
const SPLIT_FROM: chrono::TimeDelta = chrono::TimeDelta::days(2);

/// A cohort's aggregates by group (and bucket), over the whole period: in two halves when it
/// is long enough (see [`SPLIT_FROM`]).
async fn cohort_aggregates<T: CohortRow>(
    pool: &PgPool,
    cohort: Cohort,
    filter: &Filter,
    groups: &[&str],
    bucket: Option<&Bucket>,
) -> sqlx::Result<Vec<T>> {
    let (Some(from), Some(to)) = (filter.from, filter.to) else {
        return cohort_part(pool, cohort, filter, groups, bucket).await;
    };
    if to - from < SPLIT_FROM {
        return cohort_part(pool, cohort, filter, groups, bucket).await;
    }
    let middle = from + (to - from) / 2;
    let earlier = Filter {
        to: Some(middle),
        ..filter.clone()
    };
    let later = Filter {
        from: Some(middle),
        ..filter.clone()
    };
    let (earlier, later) = tokio::try_join!(
        cohort_part::<T>(pool, cohort, &earlier, groups, bucket),
        cohort_part::<T>(pool, cohort, &later, groups, bucket),
    )?;
    Ok(merge(earlier, later))
}

/// The rows of two consecutive parts of a period, one per group (and bucket).
fn merge<T: CohortRow>(earlier: Vec<T>, later: Vec<T>) -> Vec<T> {
    let mut merged = earlier;
    type Key = (Vec<Option<String>>, Option<DateTime<Utc>>);
    let mut index: std::collections::HashMap<Key, usize> = merged
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let (group, bucket) = row.key();
            ((group.to_vec(), bucket), i)
        })
        .collect();
    for row in later {
        let (group, bucket) = row.key();
        match index.get(&(group.to_vec(), bucket)) {
            Some(&i) => merged[i].absorb(row),
            None => {
                index.insert((group.to_vec(), bucket), merged.len());
                merged.push(row);
            }
        }
    }
    merged
}

/// `SELECT group_key, bucket, <aggregates> FROM cases WHERE <cohort in period, filters>
/// GROUP BY ...`.
async fn cohort_part<T: CohortRow>(
    pool: &PgPool,
    cohort: Cohort,
    filter: &Filter,
    groups: &[&str],
    bucket: Option<&Bucket>,
) -> sqlx::Result<Vec<T>> {
    let time = cohort.time_column();
    let mut query = QueryBuilder::new("SELECT ");
    push_group_key(&mut query, groups);
    match bucket {
        None => {
            query.push("NULL::timestamptz AS bucket, ");
        }
        Some(bucket) if bucket.unit == BucketUnit::Hour => {
            // Hours are absolute: across a DST change, local wall-clock hours repeat or
            // vanish. Binning from a local midnight keeps half-hour zones aligned.
            query
                .push(format_args!(
                    "date_bin('1 hour', {time}, TIMESTAMP '2000-01-01' AT TIME ZONE "
                ))
                .push_bind(bucket.zone.clone())
                .push(") AS bucket, ");
        }
        Some(bucket) => {
            query
                .push(format_args!(
                    "date_trunc('{}', {time} AT TIME ZONE ",
                    bucket.unit.as_str()
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
    push_group_by(&mut query, groups, bucket.is_some());
    // The hash aggregate holds every group's arrays of durations: 5.4 MB for a 30-day window
    // of a million-case base, more for longer periods, past the default 4 MB (or a sort, had
    // the planner feared it). A transaction scopes the larger budget to this query.
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL work_mem = '64MB'")
        .execute(&mut *tx)
        .await?;
    let rows = query.build_query_as().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows)
}

/// A duration column's non-null values in scan order, for [`DurationStats`]: collecting them
/// hashes by group, where the ordered-set aggregate `percentile_cont` made PostgreSQL sort the
/// cohort by group and then each column's values. Each value's 8 bytes (`float8send`, exact)
/// are concatenated into one `bytea` (`string_agg` skips NULLs): PostgreSQL sends that as one
/// value, where an `array_agg` array went out element by element (a half-month resolved cohort at
/// 1M cases: 17.8 -> 11.6 ms for its four columns).
macro_rules! durations {
    ($column:literal, $name:literal) => {
        concat!(
            "string_agg(float8send(",
            $column,
            "), ''::bytea) AS ",
            $name
        )
    };
}

const CREATED_AGGREGATES: &str = concat!(
    "count(*) AS volume, ",
    "count(*) FILTER (WHERE escalated) AS escalated, ",
    "count(*) FILTER (WHERE recategorized) AS recategorized, ",
    durations!("first_response_s", "first_response"),
    ", count(*) FILTER (WHERE first_response_sla_status = 'succeeded') AS first_response_sla_succeeded, ",
    "count(*) FILTER (WHERE first_response_sla_status = 'noncompliant') AS first_response_sla_noncompliant, ",
    durations!(
        "(CASE WHEN first_response_s IS NOT NULL THEN first_response_sla_elapsed_s END)",
        "business_first_response"
    )
);

// An FCR variant is matured when it is `true` or `false`: `<> 'pending'` says so in one text
// comparison (the column holds nothing else, or NULL), where `IN ('true', 'false')` took two
// and an array test (2.5 ms of a 41 ms half-month cohort at 1M cases).
const RESOLVED_AGGREGATES: &str = concat!(
    "count(*) AS resolved, ",
    "count(*) FILTER (WHERE sla_status = 'succeeded') AS sla_succeeded, ",
    "count(*) FILTER (WHERE sla_status = 'noncompliant') AS sla_noncompliant, ",
    "count(*) FILTER (WHERE fcr_no_reactivation = 'true') AS fcr_no_reactivation_true, ",
    "count(*) FILTER (WHERE fcr_no_reactivation <> 'pending') AS fcr_no_reactivation_matured, ",
    "count(*) FILTER (WHERE fcr_no_repeat = 'true') AS fcr_no_repeat_true, ",
    "count(*) FILTER (WHERE fcr_no_repeat <> 'pending') AS fcr_no_repeat_matured, ",
    "count(*) FILTER (WHERE fcr_single_interaction = 'true') AS fcr_single_interaction_true, ",
    "count(*) FILTER (WHERE fcr_single_interaction <> 'pending') AS fcr_single_interaction_matured, ",
    "count(*) FILTER (WHERE reactivations > 0) AS reactivated, ",
    "count(*) FILTER (WHERE is_rework) AS rework, ",
    "count(*) FILTER (WHERE kb_used) AS kb_used, ",
    "count(csat) AS csat_responses, sum(csat)::bigint AS csat_sum, ",
    "count(*) FILTER (WHERE csat_satisfied) AS csat_satisfied, ",
    "sum(handoffs)::bigint AS handoffs_sum, ",
    durations!("cycle_time_s", "cycle_time"),
    ", ",
    durations!("on_hold_s", "on_hold"),
    ", ",
    durations!("queue_wait_s", "queue_wait"),
    ", ",
    durations!("sla_elapsed_s", "business_resolution")
);

/// Open-case counts now of one group.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct SnapshotCounts {
    pub group_key: Vec<Option<String>>,
    pub active_breaches: i64,
    pub nearing: i64,
    pub first_response_active_breaches: i64,
    pub first_response_nearing: i64,
}

/// Open-case counts now (active breaches, nearing), by group.
pub async fn snapshot_counts(
    executor: impl PgExecutor<'_>,
    filter: &Filter,
    groups: &[&str],
) -> sqlx::Result<Vec<SnapshotCounts>> {
    let mut query = QueryBuilder::new("SELECT ");
    push_group_key(&mut query, groups);
    query.push(
        "count(*) FILTER (WHERE sla_status = 'noncompliant') AS active_breaches, \
         count(*) FILTER (WHERE sla_status = 'nearing') AS nearing, \
         count(*) FILTER (WHERE first_response_sla_status = 'noncompliant' AND first_response_s IS NULL) AS first_response_active_breaches, \
         count(*) FILTER (WHERE first_response_sla_status = 'nearing') AS first_response_nearing \
         FROM cases WHERE state = 'open'",
    );
    push_filters(&mut query, filter, None);
    push_group_by(&mut query, groups, false);
    query.build_query_as().fetch_all(executor).await
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

/// The time-to-due buckets of the backlog, in hours: overdue, [0, 1), [1, 4), [4, 24),
/// [24, ∞), then no due instant (no target, or paused short of it).
pub const DUE_HOURS: [(i32, Option<i32>); 4] =
    [(0, Some(1)), (1, Some(4)), (4, Some(24)), (24, None)];

/// The backlog of one group.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BacklogRow {
    pub group_key: Vec<Option<String>>,
    pub backlog: i64,
    /// Open cases per bucket of [`AGEING_DAYS`], in its order.
    pub ageing: Vec<i64>,
    /// Open cases already past their earliest running SLA due instant.
    pub overdue: i64,
    /// Open cases per bucket of [`DUE_HOURS`] (time from `at` to that instant), in its order.
    pub due_in: Vec<i64>,
    /// Open cases with no running SLA due instant.
    pub no_due: i64,
}

/// Cases open at `at` (created by then, not resolved or closed by then), by group and ageing
/// bucket. A case reactivated later counts as open from creation on.
pub async fn backlog(
    executor: impl PgExecutor<'_>,
    at: DateTime<Utc>,
    filter: &Filter,
    groups: &[&str],
) -> sqlx::Result<Vec<BacklogRow>> {
    let mut query = QueryBuilder::new("SELECT ");
    push_group_key(&mut query, groups);
    query.push("count(*) AS backlog, ARRAY[");
    for (i, (low, high)) in AGEING_DAYS.iter().enumerate() {
        if i > 0 {
            query.push(", ");
        }
        query.push(format_args!(
            "count(*) FILTER (WHERE age >= interval '{low} days'"
        ));
        if let Some(high) = high {
            query.push(format_args!(" AND age < interval '{high} days'"));
        }
        query.push(")");
    }
    query.push("]::bigint[] AS ageing, count(*) FILTER (WHERE due <= 0) AS overdue, ARRAY[");
    for (i, (low, high)) in DUE_HOURS.iter().enumerate() {
        if i > 0 {
            query.push(", ");
        }
        query.push(format_args!("count(*) FILTER (WHERE due > {low} * 3600"));
        if let Some(high) = high {
            query.push(format_args!(" AND due <= {high} * 3600"));
        }
        query.push(")");
    }
    // `due`: seconds from `at` to the earliest due instant of a clock still running (the
    // resolution clock, and the first-response clock until a response).
    query
        .push("]::bigint[] AS due_in, count(*) FILTER (WHERE due IS NULL) AS no_due FROM (SELECT *, ")
        .push_bind(at)
        .push(" - created_at AS age, extract(epoch FROM least(sla_due_at, CASE WHEN first_response_s IS NULL THEN first_response_sla_due_at END) - ")
        .push_bind(at)
        .push(") AS due FROM cases WHERE created_at <= ");
    query
        .push_bind(at)
        .push(" AND (state = 'open' OR coalesce(resolved_at, closed_at) > ")
        .push_bind(at)
        .push(")");
    push_filters(&mut query, filter, None);
    query.push(") open_cases");
    push_group_by(&mut query, groups, false);
    query.build_query_as().fetch_all(executor).await
}

/// The bucket starts covering [from, to) in the zone, so empty buckets are listed too.
pub async fn bucket_starts(
    executor: impl PgExecutor<'_>,
    bucket: &Bucket,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<DateTime<Utc>>> {
    let sql = if bucket.unit == BucketUnit::Hour {
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
            unit = bucket.unit.as_str()
        )
    };
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(from)
        .bind(to)
        .bind(&bucket.zone)
        .fetch_all(executor)
        .await
}

/// The data's freshness and version.
#[derive(Debug, Clone)]
pub struct DataVersion {
    pub data_as_of: Option<DateTime<Utc>>,
    pub last_ingested_at: Option<DateTime<Utc>>,
    /// Bumped by every change of case data; part of every ETag.
    pub version: i64,
}

/// Freshness: latest event time, last change, and the data version.
pub async fn freshness(executor: impl PgExecutor<'_>) -> sqlx::Result<DataVersion> {
    sqlx::query_as!(
        DataVersion,
        "SELECT data_as_of, last_ingested_at, version FROM ingest_state"
    )
    .fetch_one(executor)
    .await
}

/// `WITH selected ..., ordered ... <sql>`: the events of the filtered cases (created in the
/// period) as `ordered (case_id, activity, event_time, seq)`, which `sql` reads in case order:
/// time, then arrival. Process views are computed from these.
fn process_query(filter: &Filter, sql: &str) -> QueryBuilder<Postgres> {
    let mut query = QueryBuilder::new("WITH selected AS (SELECT case_id FROM cases WHERE true");
    push_filters(&mut query, filter, Some("created_at"));
    query.push(format_args!(
        "), ordered AS (SELECT e.case_id, e.activity, e.event_time, e.seq FROM events e JOIN selected USING (case_id)) {sql}"
    ));
    query
}

/// One variant (a distinct activity sequence) of the filtered cases.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VariantRow {
    pub activities: Vec<String>,
    pub cases: i64,
    /// First to last event, seconds.
    pub mean_duration: Option<f64>,
    pub median_duration: Option<f64>,
    /// Creation to resolution of the variant's resolved cases, seconds.
    pub mean_cycle: Option<f64>,
    pub median_cycle: Option<f64>,
}

/// The variants of the filtered cases, unordered.
pub async fn variants(
    executor: impl PgExecutor<'_>,
    filter: &Filter,
) -> sqlx::Result<Vec<VariantRow>> {
    process_query(
        filter,
        "SELECT t.activities, count(*) AS cases,
                avg(t.duration) AS mean_duration, percentile_cont(0.5) WITHIN GROUP (ORDER BY t.duration) AS median_duration,
                avg(c.cycle_time_s) AS mean_cycle, percentile_cont(0.5) WITHIN GROUP (ORDER BY c.cycle_time_s) AS median_cycle
         FROM (SELECT case_id, array_agg(activity ORDER BY event_time, seq) AS activities,
                      extract(epoch FROM max(event_time) - min(event_time))::float8 AS duration
               FROM ordered GROUP BY case_id) t
         JOIN cases c USING (case_id)
         GROUP BY t.activities",
    )
    .build_query_as()
    .fetch_all(executor)
    .await
}

/// One edge of the directly-follows graph: `b` directly follows `a` within a case.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DfgRow {
    pub a: String,
    pub b: String,
    pub frequency: i64,
    /// Time between the two events, seconds.
    pub mean_s: Option<f64>,
    pub median_s: Option<f64>,
    pub min_s: Option<f64>,
    pub max_s: Option<f64>,
}

/// The directly-follows graph of the filtered cases, unordered.
pub async fn dfg(executor: impl PgExecutor<'_>, filter: &Filter) -> sqlx::Result<Vec<DfgRow>> {
    process_query(
        filter,
        "SELECT a, b, count(*) AS frequency, avg(d) AS mean_s,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY d) AS median_s, min(d) AS min_s, max(d) AS max_s
         FROM (SELECT activity AS a, lead(activity) OVER w AS b,
                      extract(epoch FROM lead(event_time) OVER w - event_time)::float8 AS d
               FROM ordered WINDOW w AS (PARTITION BY case_id ORDER BY event_time, seq)) pairs
         WHERE b IS NOT NULL GROUP BY a, b",
    )
    .build_query_as()
    .fetch_all(executor)
    .await
}

/// An activity of the filtered cases: its events, and the cases starting and ending with it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActivityRow {
    pub activity: String,
    pub events: i64,
    pub starts: i64,
    pub ends: i64,
}

/// The activities of the filtered cases, unordered.
pub async fn activities(
    executor: impl PgExecutor<'_>,
    filter: &Filter,
) -> sqlx::Result<Vec<ActivityRow>> {
    process_query(
        filter,
        "SELECT activity, count(*) AS events, count(*) FILTER (WHERE first) AS starts, count(*) FILTER (WHERE last) AS ends
         FROM (SELECT activity,
                      row_number() OVER (PARTITION BY case_id ORDER BY event_time, seq) = 1 AS first,
                      row_number() OVER (PARTITION BY case_id ORDER BY event_time DESC, seq DESC) = 1 AS last
               FROM ordered) positions
         GROUP BY activity",
    )
    .build_query_as()
    .fetch_all(executor)
    .await
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

#[cfg(test)]
mod tests {
    use super::{DurationStats, DurationValues};

    /// PostgreSQL's `percentile_cont` on a full sort (orderedsetaggs.c), the reference.
    fn by_sorting(values: &[f64], p: f64) -> f64 {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let x = p * (sorted.len() - 1) as f64;
        let (first, second) = (x.floor() as usize, x.ceil() as usize);
        let (lo, hi) = (sorted[first], sorted[second]);
        if second > first {
            lo + (x - x.floor()) * (hi - lo)
        } else {
            lo
        }
    }

    #[test]
    fn selection_gives_the_sorted_percentiles_bit_for_bit() {
        assert_eq!(DurationStats::of(&mut []), None);
        let one = DurationStats::of(&mut [7.0]).expect("one value");
        assert_eq!(
            (one.count, one.mean, one.median, one.p90),
            (1, 7.0, 7.0, 7.0)
        );
        let four = DurationStats::of(&mut [4.0, 1.0, 3.0, 2.0]).expect("values");
        assert_eq!((four.count, four.mean, four.median), (4, 2.5, 2.5));
        assert_eq!(four.p90, 3.0 + (2.7 - 2.0) * 1.0);
        // Many sizes, with ties and spread values.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for n in 1..400 {
            let values: Vec<f64> = (0..n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    if state.is_multiple_of(5) {
                        60.0
                    } else {
                        (state % 1_000_000) as f64 / 7.0
                    }
                })
                .collect();
            let got = DurationStats::of(&mut values.clone()).expect("values");
            assert_eq!(
                got.median.to_bits(),
                by_sorting(&values, 0.5).to_bits(),
                "n {n}"
            );
            assert_eq!(
                got.p90.to_bits(),
                by_sorting(&values, 0.9).to_bits(),
                "n {n}"
            );
        }
    }

    #[test]
    fn durations_are_read_bit_for_bit_from_their_float8_bytes() {
        let values = [1.5, -0.25, 3.0e9, f64::MIN_POSITIVE, 0.1 + 0.2];
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
        let read = DurationValues::from_float8_bytes(&bytes).unwrap();
        assert_eq!(
            read.0.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(
            DurationValues::from_float8_bytes(&[]).unwrap().0,
            Vec::<f64>::new()
        );
        let torn = DurationValues::from_float8_bytes(&bytes[..bytes.len() - 3]).unwrap_err();
        assert_eq!(torn.to_string(), "37 bytes are not whole float8 values");
    }
}
