//! All SQL of the staffing capability.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

/// Case arrivals of one interval and the handling-time proxy of those cases.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedInterval {
    /// 0-based index of the interval from `from`.
    pub index: i64,
    pub arrivals: i64,
    /// Mean handling-time proxy of the interval's cases that have one, and how many do.
    pub mean_handling_s: Option<f64>,
    pub handled: i64,
}

/// Cases created in `[from, to)`, counted per interval of `step_s` seconds, optionally
/// filtered by channel, owner team and request type.
///
/// The handling-time proxy is an agent's time from picking a case up to its first
/// customer-facing answer (`first_response_s - first_pickup_s`): the event log records no
/// work time, and this is the span an agent demonstrably works on the case.
pub async fn observed_intervals(
    executor: impl PgExecutor<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step_s: f64,
    channel: Option<&str>,
    owner_team: Option<&str>,
    request_type: Option<&str>,
) -> sqlx::Result<Vec<ObservedInterval>> {
    let rows = sqlx::query!(
        r#"SELECT floor(extract(epoch FROM created_at - $1)::float8 / $3::float8)::bigint AS "index!",
                  count(*) AS "arrivals!",
                  avg(first_response_s - first_pickup_s)
                      FILTER (WHERE first_response_s >= first_pickup_s) AS mean_handling_s,
                  count(*) FILTER (WHERE first_response_s >= first_pickup_s) AS "handled!"
           FROM cases
           WHERE created_at >= $1 AND created_at < $2
             AND ($4::text IS NULL OR channel = $4)
             AND ($5::text IS NULL OR owner_team = $5)
             AND ($6::text IS NULL OR request_type = $6)
           GROUP BY 1 ORDER BY 1"#,
        from,
        to,
        step_s,
        channel,
        owner_team,
        request_type
    )
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ObservedInterval {
            index: row.index,
            arrivals: row.arrivals,
            mean_handling_s: row.mean_handling_s,
            handled: row.handled,
        })
        .collect())
}
