//! All SQL of the cases capability.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::{PgConnection, PgExecutor, Row};

use super::{
    activity::Activity,
    input::NewEvent,
    metrics::{CaseEvent, CaseMetrics, METRICS_VERSION, Reported},
};
use crate::db::copy::CopyBuffer;
use sha2::{Digest, Sha256};

/// Serialises ingest batches across every replica: a batch recomputes its cases from all of
/// their events, so two batches touching one case must not interleave.
const INGEST_LOCK: i64 = 0x5357_4244_4341_5345; // "SWBDCASE"

pub async fn lock_ingest(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", INGEST_LOCK)
        .execute(conn)
        .await?;
    Ok(())
}

/// The ingest lock in shared mode, for work that only rewrites the rows of its own cases from
/// their stored events (SLA recomputation batches): such batches run side by side, and never
/// alongside an import or a refresh, which take the lock exclusively.
pub async fn lock_ingest_shared(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query!("SELECT pg_advisory_xact_lock_shared($1)", INGEST_LOCK)
        .execute(conn)
        .await?;
    Ok(())
}

/// Stores new events, skipping duplicates by idempotence key (already stored, or earlier in
/// the batch), in batch order so `seq` keeps file order; returns the case id of every event
/// stored, and how many of them had no canonical activity. Runs under [`lock_ingest`], so the
/// keys read here cannot change before the COPY: the events go straight into the table.
pub async fn insert_events(
    conn: &mut PgConnection,
    events: &[(NewEvent, Option<Activity>)],
) -> sqlx::Result<(Vec<String>, u64)> {
    let case_ids: Vec<String> = events
        .iter()
        .map(|(event, _)| event.case_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let stored = sqlx::query!(
        "SELECT case_id, event_key FROM events WHERE case_id = ANY($1)",
        &case_ids
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut seen: HashSet<(String, Vec<u8>)> = stored
        .into_iter()
        .map(|row| (row.case_id, row.event_key))
        .collect();
    let mut copy = CopyBuffer::new();
    let mut stored_case_ids = Vec::with_capacity(events.len());
    let mut unmapped = 0;
    for (event, role) in events {
        let key = event.event_key();
        if !seen.insert((event.case_id.clone(), key.to_vec())) {
            continue;
        }
        stored_case_ids.push(event.case_id.clone());
        unmapped += u64::from(role.is_none());
        copy.text(&event.case_id);
        copy.bytea(&key);
        copy.opt_text(event.event_id.as_deref());
        copy.text(&event.activity);
        copy.opt_text(role.map(Activity::code));
        copy.opt_time(Some(event.event_time));
        for value in [
            &event.lifecycle,
            &event.agent,
            &event.customer,
            &event.channel,
            &event.priority,
            &event.request_type,
            &event.product,
            &event.owner_team,
            &event.source_system,
            &event.status_reason,
        ] {
            copy.opt_text(value.as_deref());
        }
        copy.opt_f64(event.sla_target_resolution_s);
        copy.opt_display(event.is_escalated);
        copy.opt_text(event.knowledge_article_id.as_deref());
        copy.opt_display(event.csat);
        if event.attributes.is_empty() {
            copy.null();
        } else {
            copy.text(&serde_json::to_string(&event.attributes).unwrap_or_else(|_| "{}".into()));
        }
        copy.opt_time(event.last_data_update);
        copy.opt_display(event.reported.first_contact_resolution);
        copy.opt_display(event.reported.rework);
        copy.opt_display(event.reported.sla_breached);
        copy.opt_f64(event.reported.cycle_time_s);
        copy.end_row();
    }
    if stored_case_ids.is_empty() {
        return Ok((stored_case_ids, 0));
    }
    let mut sink = conn
        .copy_in_raw(
            "COPY events (case_id, event_key, event_id, activity, activity_code, event_time,
                 lifecycle, agent, customer, channel, priority, request_type, product, owner_team,
                 source_system, status_reason, sla_target_resolution_s, is_escalated,
                 knowledge_article_id, csat, attributes, last_data_update,
                 reported_first_contact_resolution, reported_rework, reported_sla_breached,
                 reported_cycle_time_s) FROM STDIN",
        )
        .await?;
    sink.send(copy.as_bytes()).await?;
    sink.finish().await?;
    Ok((stored_case_ids, unmapped))
}

/// Stored attributes by name, as text.
type ExtraAttributes = sqlx::types::Json<std::collections::BTreeMap<String, String>>;

/// Every event of the given cases, grouped by case, in event order, with the stored
/// attributes named in `attribute_keys` (those SLA policies match on; usually none). The
/// metrics sort a case's events again, but the ORDER BY keeps it: it is what makes PostgreSQL
/// read a batch's 5,000 cases through `events_case_order`; without it, at 10M events, it
/// estimated millions of rows and scanned the whole table (1.2 s a batch instead of ~30 ms).
///
/// Rows are decoded as they stream in, borrowing their text: an attribute equal to the case's
/// previous event's shares that event's string. A case's customer, team or channel repeats on
/// each of its events, and allocating (then freeing) a string per attribute per event was the
/// largest single cost of recomputing a million cases.
pub async fn case_events(
    executor: impl PgExecutor<'_>,
    case_ids: &[String],
    attribute_keys: &[&str],
) -> sqlx::Result<HashMap<String, Vec<CaseEvent>>> {
    let keys: Vec<String> = attribute_keys.iter().map(|k| (*k).to_owned()).collect();
    let mut rows = sqlx::query(
        "SELECT case_id, seq, event_time, activity_code, agent, customer, channel, priority,
                request_type, product, owner_team, source_system, status_reason,
                sla_target_resolution_s, is_escalated, knowledge_article_id, csat,
                reported_first_contact_resolution, reported_rework, reported_sla_breached,
                reported_cycle_time_s,
                CASE WHEN cardinality($2::text[]) > 0 AND attributes IS NOT NULL THEN
                    (SELECT jsonb_object_agg(k, attributes->>k) FROM unnest($2::text[]) k
                     WHERE attributes->>k IS NOT NULL)
                END AS extra
         FROM events WHERE case_id = ANY($1)
         ORDER BY case_id, event_time, seq",
    )
    .bind(case_ids)
    .bind(&keys)
    .fetch(executor);
    let mut by_case: HashMap<String, Vec<CaseEvent>> = HashMap::with_capacity(case_ids.len());
    let mut case: Option<(String, Vec<CaseEvent>)> = None;
    while let Some(row) = rows.try_next().await? {
        let case_id: &str = row.try_get(0)?;
        // Rows come ordered by case: a new id closes the previous case's events.
        if case.as_ref().is_none_or(|(id, _)| id != case_id)
            && let Some((id, events)) = case.replace((case_id.to_owned(), Vec::new()))
        {
            by_case.insert(id, events);
        }
        let Some((_, events)) = case.as_mut() else {
            continue;
        };
        let previous = events.last();
        let text = |index: usize, field: fn(&CaseEvent) -> &Option<Arc<str>>| {
            let value: Option<&str> = row.try_get(index)?;
            Ok::<_, sqlx::Error>(shared_text(value, previous.and_then(|p| field(p).as_ref())))
        };
        let event = CaseEvent {
            seq: row.try_get(1)?,
            event_time: row.try_get(2)?,
            role: row
                .try_get::<Option<&str>, _>(3)?
                .and_then(Activity::from_code),
            agent: text(4, |e| &e.agent)?,
            customer: text(5, |e| &e.customer)?,
            channel: text(6, |e| &e.channel)?,
            priority: text(7, |e| &e.priority)?,
            request_type: text(8, |e| &e.request_type)?,
            product: text(9, |e| &e.product)?,
            owner_team: text(10, |e| &e.owner_team)?,
            source_system: text(11, |e| &e.source_system)?,
            status_reason: text(12, |e| &e.status_reason)?,
            sla_target_resolution_s: row.try_get(13)?,
            is_escalated: row.try_get(14)?,
            knowledge_article_id: row.try_get(15)?,
            csat: row.try_get(16)?,
            reported: Reported {
                first_contact_resolution: row.try_get(17)?,
                rework: row.try_get(18)?,
                sla_breached: row.try_get(19)?,
                cycle_time_s: row.try_get(20)?,
            },
            extra: row
                .try_get::<Option<ExtraAttributes>, _>(21)?
                .map(|extra| extra.0)
                .unwrap_or_default(),
        };
        events.push(event);
    }
    if let Some((id, events)) = case {
        by_case.insert(id, events);
    }
    Ok(by_case)
}

/// `value` as a shared string: the previous event's when they are equal.
fn shared_text(value: Option<&str>, previous: Option<&Arc<str>>) -> Option<Arc<str>> {
    value.map(|value| match previous {
        Some(previous) if **previous == *value => Arc::clone(previous),
        _ => Arc::from(value),
    })
}

/// A stored case as `fcr_no_repeat` sees it.
#[derive(Debug, Clone)]
pub struct RepeatCandidate {
    pub case_id: String,
    pub request_type: Option<String>,
    pub product: Option<String>,
    pub created_at: DateTime<Utc>,
    pub first_resolved_at: Option<DateTime<Utc>>,
    pub customer: String,
}

/// The customers these cases had when last computed (an event may have changed them).
pub async fn stored_customers(
    executor: impl PgExecutor<'_>,
    case_ids: &[String],
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"SELECT DISTINCT customer AS "customer!" FROM cases WHERE case_id = ANY($1) AND customer IS NOT NULL"#,
        case_ids
    )
    .fetch_all(executor)
    .await
}

/// The stored cases of these customers.
pub async fn cases_of_customers(
    executor: impl PgExecutor<'_>,
    customers: &[String],
) -> sqlx::Result<Vec<RepeatCandidate>> {
    sqlx::query_as!(
        RepeatCandidate,
        r#"SELECT case_id, request_type, product, created_at, first_resolved_at, customer AS "customer!"
           FROM cases WHERE customer = ANY($1)"#,
        customers
    )
    .fetch_all(executor)
    .await
}

/// Cases whose metrics change with time alone and are due, or were computed by an older
/// metrics version.
pub async fn cases_due(
    executor: impl PgExecutor<'_>,
    now: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        "SELECT case_id FROM cases WHERE next_change_at <= $1 OR metrics_version <> $2 LIMIT $3",
        now,
        METRICS_VERSION,
        limit
    )
    .fetch_all(executor)
    .await
}

/// The case columns written by [`upsert_cases`], in COPY order: the computed metrics (which
/// `metrics_digest` digests), then the digest and the times of writing.
const CASE_COLUMNS: &[&str] = &[
    "case_id",
    "customer",
    "channel",
    "priority",
    "request_type",
    "product",
    "owner_team",
    "agent",
    "source_system",
    "status_reason",
    "state",
    "event_count",
    "first_event_at",
    "last_event_at",
    "created_at",
    "first_resolved_at",
    "resolved_at",
    "closed_at",
    "resolving_agent",
    "cycle_time_s",
    "first_resolution_s",
    "time_to_close_s",
    "admin_lag_s",
    "first_response_s",
    "first_pickup_s",
    "on_hold_s",
    "queue_wait_s",
    "reactivations",
    "is_rework",
    "escalated",
    "recategorized",
    "kb_used",
    "kb_articles",
    "handoffs",
    "csat",
    "csat_satisfied",
    "sla_target_s",
    "sla_elapsed_s",
    "sla_breached",
    "sla_margin_s",
    "sla_breached_at",
    "sla_status",
    "fcr_no_reactivation",
    "fcr_no_repeat",
    "fcr_single_interaction",
    "next_change_at",
    "metrics_version",
    "priority_level",
    "reported_first_contact_resolution",
    "reported_rework",
    "reported_sla_breached",
    "reported_cycle_time_s",
    "sla_paused_s",
    "sla_calendar_s",
    "sla_warning_at",
    "sla_due_at",
    "sla_policy_id",
    "sla_policy_version",
    "sla_calendar_id",
    "first_response_sla_target_s",
    "first_response_sla_elapsed_s",
    "first_response_sla_paused_s",
    "first_response_sla_margin_s",
    "first_response_sla_warning_at",
    "first_response_sla_due_at",
    "first_response_sla_breached_at",
    "first_response_sla_status",
    // Not part of the digest: written after it.
    "metrics_digest",
    "metrics_as_of",
    "updated_at",
];

fn snake<T: serde::Serialize>(value: Option<T>) -> Option<String> {
    value
        .and_then(|v| serde_json::to_value(v).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
}

/// Writes the computed rows of these cases (insert or replace); returns how many it wrote.
///
/// With [`Write::Changed`], a row whose stored `metrics_digest` equals the computed row's is
/// left as it is: a rules change (a holiday) changes few of the rows it recomputes, and
/// comparing digests spares reading every stored row back to compare it.
pub async fn upsert_cases(
    conn: &mut PgConnection,
    cases: &[(String, CaseMetrics)],
    as_of: DateTime<Utc>,
    write: Write,
) -> sqlx::Result<usize> {
    if cases.is_empty() {
        return Ok(0);
    }
    let stored = match write {
        Write::All => HashMap::new(),
        Write::Changed => {
            let ids: Vec<&str> = cases.iter().map(|(id, _)| id.as_str()).collect();
            stored_digests(&mut *conn, &ids).await?
        }
    };
    let columns = CASE_COLUMNS;
    sqlx::query(
        "CREATE TEMP TABLE IF NOT EXISTS incoming_cases (LIKE cases INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
    )
    .execute(&mut *conn)
    .await?;
    let mut copy = CopyBuffer::new();
    let mut written = 0;
    for (case_id, m) in cases {
        let row_start = copy.len();
        copy.text(case_id);
        write_metrics(&mut copy, m);
        let digest = metrics_digest(copy.since(row_start));
        if stored.get(case_id.as_str()) == Some(&Some(digest)) {
            copy.discard_row(row_start);
            continue;
        }
        copy.display(digest);
        copy.opt_time(Some(as_of));
        copy.opt_time(Some(as_of));
        copy.end_row();
        written += 1;
    }
    if written == 0 {
        return Ok(0);
    }
    let list = columns.join(", ");
    let mut sink = conn
        .copy_in_raw(&format!("COPY incoming_cases ({list}) FROM STDIN"))
        .await?;
    sink.send(copy.as_bytes()).await?;
    sink.finish().await?;
    let updates: Vec<String> = columns[1..]
        .iter()
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO cases ({list}) SELECT {list} FROM incoming_cases
         ON CONFLICT (case_id) DO UPDATE SET {}",
        updates.join(", ")
    )))
    .execute(&mut *conn)
    .await?;
    sqlx::query("TRUNCATE incoming_cases")
        .execute(&mut *conn)
        .await?;
    // Each row written is a new entry in every index: counted for their upkeep.
    sqlx::query!(
        "UPDATE ingest_state SET rows_written_since_reindex = rows_written_since_reindex + $1",
        written as i64
    )
    .execute(&mut *conn)
    .await?;
    Ok(written)
}

/// Which computed rows [`upsert_cases`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    All,
    /// Only those that differ from the stored row.
    Changed,
}

/// The first 8 bytes of the SHA-256 of a row's COPY text (case id and metrics): equal rows
/// have equal digests, and two different rows share one with a chance of 2^-64.
fn metrics_digest(row: &[u8]) -> i64 {
    let hash = Sha256::digest(row);
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    i64::from_be_bytes(first)
}

/// The stored digests of these cases' rows (None: written before digests were).
async fn stored_digests(
    executor: impl PgExecutor<'_>,
    case_ids: &[&str],
) -> sqlx::Result<HashMap<String, Option<i64>>> {
    let rows: Vec<(String, Option<i64>)> =
        sqlx::query_as("SELECT case_id, metrics_digest FROM cases WHERE case_id = ANY($1)")
            .bind(case_ids)
            .fetch_all(executor)
            .await?;
    Ok(rows.into_iter().collect())
}

/// A case's computed columns after its id, in [`CASE_COLUMNS`] order.
fn write_metrics(copy: &mut CopyBuffer, m: &CaseMetrics) {
    for value in [
        &m.customer,
        &m.channel,
        &m.priority,
        &m.request_type,
        &m.product,
        &m.owner_team,
        &m.agent,
        &m.source_system,
        &m.status_reason,
    ] {
        copy.opt_text(value.as_deref());
    }
    copy.opt_text(snake(m.state).as_deref());
    copy.display(m.event_count);
    for time in [
        m.first_event_at,
        m.last_event_at,
        m.created_at,
        m.first_resolved_at,
        m.resolved_at,
        m.closed_at,
    ] {
        copy.opt_time(time);
    }
    copy.opt_text(m.resolving_agent.as_deref());
    for duration in [
        m.cycle_time_s,
        m.first_resolution_s,
        m.time_to_close_s,
        m.admin_lag_s,
        m.first_response_s,
        m.first_pickup_s,
        m.on_hold_s,
        m.queue_wait_s,
    ] {
        copy.opt_f64(duration);
    }
    copy.display(m.reactivations);
    for flag in [m.is_rework, m.escalated, m.recategorized, m.kb_used] {
        copy.display(flag);
    }
    copy.display(m.kb_articles);
    copy.display(m.handoffs);
    copy.opt_display(m.csat);
    copy.opt_display(m.csat_satisfied);
    copy.opt_f64(m.sla_target_s);
    copy.opt_f64(m.sla_elapsed_s);
    copy.opt_display(m.sla_breached);
    copy.opt_f64(m.sla_margin_s);
    copy.opt_time(m.sla_breached_at);
    copy.opt_text(snake(m.sla_status).as_deref());
    for fcr in [
        m.fcr_no_reactivation,
        m.fcr_no_repeat,
        m.fcr_single_interaction,
    ] {
        copy.opt_text(snake(fcr).as_deref());
    }
    copy.opt_time(m.next_change_at);
    copy.display(METRICS_VERSION);
    copy.opt_text(m.priority_level.map(|level| level.code()));
    copy.opt_display(m.reported_first_contact_resolution);
    copy.opt_display(m.reported_rework);
    copy.opt_display(m.reported_sla_breached);
    copy.opt_f64(m.reported_cycle_time_s);
    copy.opt_f64(m.sla_paused_s);
    copy.opt_f64(m.sla_calendar_s);
    copy.opt_time(m.sla_warning_at);
    copy.opt_time(m.sla_due_at);
    copy.opt_text(m.sla_policy_id.as_deref());
    copy.opt_display(m.sla_policy_version);
    copy.opt_text(m.sla_calendar_id.as_deref());
    for seconds in [
        m.first_response_sla_target_s,
        m.first_response_sla_elapsed_s,
        m.first_response_sla_paused_s,
        m.first_response_sla_margin_s,
    ] {
        copy.opt_f64(seconds);
    }
    for time in [
        m.first_response_sla_warning_at,
        m.first_response_sla_due_at,
        m.first_response_sla_breached_at,
    ] {
        copy.opt_time(time);
    }
    copy.opt_text(snake(m.first_response_sla_status).as_deref());
}

/// The stored activity mapping: (normalised label, canonical code).
pub async fn activity_mappings(
    executor: impl PgExecutor<'_>,
) -> sqlx::Result<Vec<(String, String)>> {
    let rows = sqlx::query!("SELECT label, code FROM activity_mappings ORDER BY label")
        .fetch_all(executor)
        .await?;
    Ok(rows.into_iter().map(|row| (row.label, row.code)).collect())
}

/// Replaces the whole mapping; returns the previous labels.
pub async fn replace_activity_mappings(
    conn: &mut PgConnection,
    mappings: &[(String, String)],
) -> sqlx::Result<Vec<String>> {
    let previous = sqlx::query_scalar!("DELETE FROM activity_mappings RETURNING label")
        .fetch_all(&mut *conn)
        .await?;
    let (labels, codes): (Vec<String>, Vec<String>) = mappings.iter().cloned().unzip();
    sqlx::query!(
        "INSERT INTO activity_mappings (label, code) SELECT * FROM UNNEST($1::text[], $2::text[])",
        &labels,
        &codes
    )
    .execute(&mut *conn)
    .await?;
    Ok(previous)
}

/// The distinct activity names stored under these normalised labels.
pub async fn activities_with_labels(
    executor: impl PgExecutor<'_>,
    labels: &[String],
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        "SELECT DISTINCT activity FROM events WHERE lower(btrim(activity)) = ANY($1)",
        labels
    )
    .fetch_all(executor)
    .await
}

/// Sets the canonical code of every event with this activity name; returns the cases touched.
pub async fn set_activity_code(
    conn: &mut PgConnection,
    activity: &str,
    code: Option<&str>,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"WITH changed AS (
               UPDATE events SET activity_code = $2
               WHERE activity = $1 AND activity_code IS DISTINCT FROM $2
               RETURNING case_id)
           SELECT DISTINCT case_id AS "case_id!" FROM changed"#,
        activity,
        code
    )
    .fetch_all(conn)
    .await
}

/// A stored case: its attributes and metrics, and when they were computed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CaseRow {
    pub case_id: String,
    #[sqlx(flatten)]
    pub metrics: CaseMetrics,
    pub metrics_as_of: DateTime<Utc>,
    pub metrics_version: i32,
}

pub async fn get_case(
    executor: impl PgExecutor<'_>,
    case_id: &str,
) -> sqlx::Result<Option<CaseRow>> {
    sqlx::query_as("SELECT * FROM cases WHERE case_id = $1")
        .bind(case_id)
        .fetch_optional(executor)
        .await
}

// Read by the case detail and served as it is.
/// A stored event.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
#[schema(as = EventResponse)]
pub struct EventRow {
    /// Arrival order: the tie-break for equal times.
    pub seq: i64,
    pub event_id: Option<String>,
    pub activity: String,
    /// The canonical role; null for activities without one.
    pub activity_code: Option<String>,
    pub event_time: DateTime<Utc>,
    pub lifecycle: Option<String>,
    pub agent: Option<String>,
    pub customer: Option<String>,
    pub channel: Option<String>,
    pub priority: Option<String>,
    pub request_type: Option<String>,
    pub product: Option<String>,
    pub owner_team: Option<String>,
    pub source_system: Option<String>,
    pub status_reason: Option<String>,
    pub sla_target_resolution_s: Option<f64>,
    pub is_escalated: Option<bool>,
    pub knowledge_article_id: Option<String>,
    pub csat: Option<i16>,
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
    pub ingested_at: DateTime<Utc>,
}

pub async fn events_of_case(
    executor: impl PgExecutor<'_>,
    case_id: &str,
) -> sqlx::Result<Vec<EventRow>> {
    sqlx::query_as!(
        EventRow,
        "SELECT seq, event_id, activity, activity_code, event_time, lifecycle, agent, customer,
                channel, priority, request_type, product, owner_team, source_system, status_reason,
                sla_target_resolution_s, is_escalated, knowledge_article_id, csat, attributes,
                ingested_at
         FROM events WHERE case_id = $1 ORDER BY event_time, seq",
        case_id
    )
    .fetch_all(executor)
    .await
}

/// Filters of the case list; every one optional.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub resolved_from: Option<DateTime<Utc>>,
    pub resolved_to: Option<DateTime<Utc>>,
    pub state: Option<String>,
    /// (column, value) equality filters on case attributes.
    pub attributes: Vec<(&'static str, String)>,
}

/// Which time the list is sorted and paged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseSort {
    Created,
    Resolved,
}

/// A page of cases in keyset order (time, case id); `after` is the last row of the previous
/// page. Sorting by resolution lists resolved cases only.
pub async fn list_cases(
    executor: impl PgExecutor<'_>,
    filter: &CaseFilter,
    sort: CaseSort,
    descending: bool,
    after: Option<(DateTime<Utc>, String)>,
    limit: i64,
) -> sqlx::Result<Vec<CaseRow>> {
    let column = match sort {
        CaseSort::Created => "created_at",
        CaseSort::Resolved => "resolved_at",
    };
    let mut query = sqlx::QueryBuilder::new("SELECT * FROM cases WHERE true");
    if sort == CaseSort::Resolved {
        query.push(" AND resolved_at IS NOT NULL");
    }
    for (bound, sql) in [
        (filter.created_from, " AND created_at >= "),
        (filter.created_to, " AND created_at < "),
        (filter.resolved_from, " AND resolved_at >= "),
        (filter.resolved_to, " AND resolved_at < "),
    ] {
        if let Some(bound) = bound {
            query.push(sql).push_bind(bound);
        }
    }
    if let Some(state) = &filter.state {
        query.push(" AND state = ").push_bind(state.clone());
    }
    for (column, value) in &filter.attributes {
        query
            .push(format_args!(" AND {column} = "))
            .push_bind(value.clone());
    }
    let (compare, order) = if descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    if let Some((time, case_id)) = after {
        query
            .push(format_args!(" AND ({column}, case_id) {compare} ("))
            .push_bind(time)
            .push(", ")
            .push_bind(case_id)
            .push(")");
    }
    query
        .push(format_args!(
            " ORDER BY {column} {order}, case_id {order} LIMIT "
        ))
        .push_bind(limit);
    query.build_query_as().fetch_all(executor).await
}

// Read by the import endpoints and served as it is.
/// An import of an event file.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
#[schema(as = ImportResponse)]
pub struct ImportRow {
    pub id: i64,
    pub file_name: String,
    /// `csv` or `xes` (`pending` until detected).
    pub format: String,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    pub rows_read: i64,
    /// Rows whose events are committed (stored, or skipped as duplicates); after a crash, what
    /// was kept.
    pub rows_committed: i64,
    pub events_stored: i64,
    pub duplicates_skipped: i64,
    pub cases_touched: i64,
    pub unmapped_activities: i64,
    pub bad_rows_count: i64,
    /// The first bad rows (up to 1,000) with line numbers.
    #[schema(value_type = Vec<Object>)]
    pub bad_rows: serde_json::Value,
    pub error: Option<String>,
    pub requested_by: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When the data was extracted from its source (the file's latest `LastDataUpdate`).
    pub data_extracted_at: Option<DateTime<Utc>>,
    /// What to do next, when the import needs it (e.g. most activities are unmapped: map
    /// them with `PUT /v1/activity-mappings`).
    pub hint: Option<String>,
}

pub async fn create_import(
    executor: impl PgExecutor<'_>,
    file_name: &str,
    format: &str,
    requested_by: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO imports (file_name, format, status, requested_by, owner)
         VALUES ($1, $2, 'running', $3, $4) RETURNING id",
        file_name,
        format,
        requested_by,
        crate::replica::id()
    )
    .fetch_one(executor)
    .await
}

/// Records how an import ended.
pub async fn finish_import(
    executor: impl PgExecutor<'_>,
    id: i64,
    report: &super::ingest::ImportReport,
    error: Option<&str>,
) -> sqlx::Result<()> {
    let format = report.format.and_then(|f| snake(Some(f)));
    sqlx::query!(
        "UPDATE imports SET status = $2, format = coalesce($3, format),
             rows_read = greatest(rows_read, $4),
             rows_committed = greatest(rows_committed, $5::bigint + $6::bigint),
             events_stored = $5, duplicates_skipped = $6, cases_touched = $7,
             unmapped_activities = $8, bad_rows_count = $9, bad_rows = $10, error = $11,
             data_extracted_at = $12, hint = $13, finished_at = now()
         WHERE id = $1",
        id,
        if error.is_none() {
            "succeeded"
        } else {
            "failed"
        },
        format,
        report.rows_read as i64,
        report.stored.events_stored as i64,
        report.stored.duplicates_skipped as i64,
        report.stored.cases_touched as i64,
        report.stored.unmapped_activities as i64,
        report.bad_rows_count as i64,
        serde_json::to_value(&report.bad_rows).unwrap_or_default(),
        error,
        report.data_extracted_at,
        report.hint
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// A running import's sign of life and progress: rows read so far, and rows whose events
/// are committed.
pub async fn import_heartbeat(
    executor: impl PgExecutor<'_>,
    id: i64,
    rows_read: u64,
    rows_committed: u64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE imports SET heartbeat_at = now(), rows_read = greatest(rows_read, $2),
             rows_committed = greatest(rows_committed, $3)
         WHERE id = $1 AND status = 'running'",
        id,
        i64::try_from(rows_read).unwrap_or(i64::MAX),
        i64::try_from(rows_committed).unwrap_or(i64::MAX)
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Fails running imports whose heartbeat is older than `stale_s` seconds and whose owner is
/// not a live replica (none with a heartbeat that recent), saying what was committed.
pub async fn fail_orphaned_imports(
    executor: impl PgExecutor<'_>,
    stale_s: f64,
) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "UPDATE imports i SET status = 'failed', finished_at = now(),
             error = format('abandoned: the replica running it stopped (last heartbeat %s); '
                 || '%s rows were read and the events of at least the first %s rows are committed; '
                 || 'importing the file again completes it (stored events are skipped)',
                 to_char(i.heartbeat_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                 i.rows_read, i.rows_committed)
         WHERE i.status = 'running'
           AND i.heartbeat_at < now() - make_interval(secs => $1)
           AND NOT EXISTS (SELECT 1 FROM replicas r WHERE r.id = i.owner
                           AND r.heartbeat_at >= now() - make_interval(secs => $1))",
        stale_s
    )
    .execute(executor)
    .await?;
    Ok(done.rows_affected())
}

pub async fn get_import(executor: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<ImportRow>> {
    sqlx::query_as!(
        ImportRow,
        "SELECT id, file_name, format, status, rows_read, rows_committed, events_stored,
                duplicates_skipped, cases_touched, unmapped_activities, bad_rows_count, bad_rows,
                error, requested_by, started_at, finished_at, data_extracted_at, hint
         FROM imports WHERE id = $1",
        id
    )
    .fetch_optional(executor)
    .await
}

pub async fn list_imports(
    executor: impl PgExecutor<'_>,
    limit: i64,
) -> sqlx::Result<Vec<ImportRow>> {
    sqlx::query_as!(
        ImportRow,
        "SELECT id, file_name, format, status, rows_read, rows_committed, events_stored,
                duplicates_skipped, cases_touched, unmapped_activities, bad_rows_count, bad_rows,
                error, requested_by, started_at, finished_at, data_extracted_at, hint
         FROM imports ORDER BY id DESC LIMIT $1",
        limit
    )
    .fetch_all(executor)
    .await
}

/// Whether any case is stored.
pub async fn any_case(executor: impl PgExecutor<'_>) -> sqlx::Result<bool> {
    let any = sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM cases) AS "any!""#)
        .fetch_one(executor)
        .await?;
    Ok(any)
}

/// Records that case data changed: bumps the version (the KPI ETag) and the freshness times.
pub async fn mark_changed(
    executor: impl PgExecutor<'_>,
    latest_event: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE ingest_state SET version = version + 1, last_ingested_at = now(),
             data_as_of = greatest(data_as_of, $1)",
        latest_event
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// The planner's estimate of the case table's rows (no scan).
pub async fn estimated_case_rows(db: impl PgExecutor<'_>) -> sqlx::Result<f64> {
    sqlx::query_scalar("SELECT reltuples::float8 FROM pg_class WHERE oid = 'cases'::regclass")
        .fetch_one(db)
        .await
}

/// Rows written to the case table since its indexes were last rebuilt.
pub async fn rows_written_since_reindex(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!("SELECT rows_written_since_reindex FROM ingest_state")
        .fetch_one(db)
        .await
}

/// Counts `rows` written rows as covered by a rebuild; those written during it stay counted.
pub async fn reindexed(db: impl PgExecutor<'_>, rows: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE ingest_state SET rows_written_since_reindex = greatest(rows_written_since_reindex - $1, 0)",
        rows
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Rebuilds every index of the case table without blocking reads or writes.
pub async fn rebuild_case_indexes(db: impl PgExecutor<'_>) -> sqlx::Result<()> {
    sqlx::query("REINDEX TABLE CONCURRENTLY cases")
        .execute(db)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::shared_text;

    #[test]
    fn an_attribute_equal_to_the_previous_events_shares_its_string() {
        let previous: Arc<str> = Arc::from("Team A");
        let same = shared_text(Some("Team A"), Some(&previous)).unwrap();
        assert!(Arc::ptr_eq(&same, &previous));
        let other = shared_text(Some("Team B"), Some(&previous)).unwrap();
        assert_eq!(&*other, "Team B");
        assert!(!Arc::ptr_eq(&other, &previous));
        assert_eq!(shared_text(None, Some(&previous)), None);
        assert_eq!(shared_text(Some("x"), None).as_deref(), Some("x"));
    }
}
