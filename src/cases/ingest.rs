//! Storing events: batches go in with COPY, then every touched case (and every other case of
//! the same customers, for `fcr_no_repeat`) is recomputed from all of its stored events.
//! A file with more bad rows than allowed stores nothing: small files are stored while they
//! are validated, in one transaction committed only after, large ones after validation.

use std::{
    collections::{BTreeSet, HashMap},
    path::Path,
    sync::Arc,
};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;

use super::{
    activity::{Activity, ActivityResolver},
    import::{self, ImportError, ImportFormat, ImportLimits, ImportOptions},
    input::NewEvent,
    metrics::{self, CaseMetrics, MetricsConfig},
    store,
};
pub use crate::validation::BadRow;
use crate::{replica, sla};

/// Events per transaction of an import.
pub const IMPORT_BATCH: usize = 25_000;
/// Bad rows listed in a report (all are counted).
const LISTED_BAD_ROWS: usize = 1_000;

/// What one batch did.
#[derive(Debug, Default, Clone, PartialEq, Serialize, ToSchema)]
pub struct BatchReport {
    pub events_stored: u64,
    pub duplicates_skipped: u64,
    pub cases_touched: u64,
    /// Stored events whose activity has no canonical role (kept and counted in process views).
    pub unmapped_activities: u64,
}

impl BatchReport {
    /// Adds another batch's events; `cases_touched` is left to the caller, since a case can
    /// span batches.
    fn add(&mut self, other: &BatchReport) {
        self.events_stored += other.events_stored;
        self.duplicates_skipped += other.duplicates_skipped;
        self.unmapped_activities += other.unmapped_activities;
    }
}

/// Stores a batch of valid events in one transaction and recomputes the cases it touched
/// (returned, sorted).
pub async fn store_batch(
    pool: &PgPool,
    config: &MetricsConfig,
    events: Vec<NewEvent>,
    now: DateTime<Utc>,
) -> sqlx::Result<(BatchReport, Vec<String>)> {
    if events.is_empty() {
        return Ok((BatchReport::default(), Vec::new()));
    }
    let mut tx = pool.begin().await?;
    store::lock_ingest(&mut tx).await?;
    let (report, touched, latest) = store_events(&mut tx, config, events, now).await?;
    if !touched.is_empty() {
        store::mark_changed(&mut *tx, latest).await?;
    }
    tx.commit().await?;
    Ok((report, touched))
}

/// Stores events in the caller's transaction (which holds the ingest lock) and recomputes the
/// cases they touched: the report, the touched cases (sorted) and the instant the data is as
/// of (its latest event, or its extraction when the file says when).
async fn store_events(
    conn: &mut PgConnection,
    config: &MetricsConfig,
    events: Vec<NewEvent>,
    now: DateTime<Utc>,
) -> sqlx::Result<(BatchReport, Vec<String>, Option<DateTime<Utc>>)> {
    let received = events.len() as u64;
    // Read under the lock: a remapping cannot slip in between reading roles and storing.
    let resolver = load_resolver(&mut *conn).await?;
    let events: Vec<(NewEvent, Option<Activity>)> = events
        .into_iter()
        .map(|event| {
            let role = resolver.resolve(&event.activity);
            (event, role)
        })
        .collect();
    let (stored_case_ids, unmapped) = store::insert_events(&mut *conn, &events).await?;
    let touched: BTreeSet<String> = stored_case_ids.iter().cloned().collect();
    let touched: Vec<String> = touched.into_iter().collect();
    recompute(&mut *conn, &touched, config, now).await?;
    let latest = events
        .iter()
        .flat_map(|(event, _)| [Some(event.event_time), event.last_data_update])
        .flatten()
        .max();
    let report = BatchReport {
        events_stored: stored_case_ids.len() as u64,
        duplicates_skipped: received - stored_case_ids.len() as u64,
        cases_touched: touched.len() as u64,
        unmapped_activities: unmapped,
    };
    Ok((report, touched, latest))
}

/// Recomputes these cases, and the other cases of their customers (a new case can turn an
/// earlier case's `fcr_no_repeat` false), from all their stored events.
pub async fn recompute(
    conn: &mut PgConnection,
    case_ids: &[String],
    config: &MetricsConfig,
    as_of: DateTime<Utc>,
) -> sqlx::Result<usize> {
    let done = recompute_cases(conn, case_ids, config, as_of, Neighbours::Include).await?;
    Ok(done.cases)
}

/// What a recomputation did: cases computed, and rows written (those whose metrics changed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recomputed {
    pub cases: usize,
    pub rows_written: usize,
}

/// Whether a recomputation also refreshes the other cases of the same customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Neighbours {
    /// New or changed events: a case's creation can change its neighbours' `fcr_no_repeat`.
    Include,
    /// Rules changed, events did not (an SLA recomputation): no creation time moves, so the
    /// neighbours' metrics cannot change through these cases.
    Skip,
}

/// [`recompute`], saying whether the customers' other cases are refreshed too.
pub async fn recompute_cases(
    conn: &mut PgConnection,
    case_ids: &[String],
    config: &MetricsConfig,
    as_of: DateTime<Utc>,
    neighbours: Neighbours,
) -> sqlx::Result<Recomputed> {
    if case_ids.is_empty() {
        return Ok(Recomputed::default());
    }
    // The SLA policies in force now: read in the same transaction, so a policy change and a
    // recomputation never see different versions.
    let config = &MetricsConfig {
        sla: Arc::new(sla::store::load_setup(&mut *conn).await?),
        ..config.clone()
    };
    let keys = config.sla.attribute_keys();
    let mut events = store::case_events(&mut *conn, case_ids, &keys).await?;
    // First pass: the touched cases' own customer, request type, product and creation time.
    let mut computed: HashMap<String, CaseMetrics> = events
        .iter()
        .map(|(case_id, events)| {
            (
                case_id.clone(),
                metrics::compute(events, &[], config, as_of),
            )
        })
        .collect();
    let mut customers: BTreeSet<String> = computed
        .values()
        .filter_map(|m| m.customer.clone())
        .collect();
    // A case that moved to another customer leaves its old customer's cases to refresh too.
    if neighbours == Neighbours::Include {
        customers.extend(store::stored_customers(&mut *conn, case_ids).await?);
    }
    if !customers.is_empty() {
        let customers: Vec<String> = customers.into_iter().collect();
        let stored = store::cases_of_customers(&mut *conn, &customers).await?;
        let others = match neighbours {
            Neighbours::Include => affected_by_repeats(&stored, &computed, config),
            Neighbours::Skip => Vec::new(),
        };
        if !others.is_empty() {
            events.extend(store::case_events(&mut *conn, &others, &keys).await?);
        }
        // Creation times by (customer, request type, product), touched cases with new values.
        let mut creations: CreationsByKey = HashMap::new();
        for candidate in stored.iter().filter(|c| !computed.contains_key(&c.case_id)) {
            creations
                .entry((
                    &candidate.customer,
                    candidate.request_type.as_deref(),
                    candidate.product.as_deref(),
                ))
                .or_default()
                .push((&candidate.case_id, candidate.created_at));
        }
        for (case_id, m) in &computed {
            if let (Some(customer), Some(created_at)) = (&m.customer, m.created_at) {
                creations
                    .entry((customer, m.request_type.as_deref(), m.product.as_deref()))
                    .or_default()
                    .push((case_id, created_at));
            }
        }
        // Metrics that differ from the first pass's: computed again with the repeats, or
        // computed for the first time (the neighbours).
        let mut second_pass = HashMap::new();
        for (case_id, case_events) in &events {
            let neighbour = (!computed.contains_key(case_id))
                .then(|| metrics::compute(case_events, &[], config, as_of));
            let Some(first) = computed.get(case_id).or(neighbour.as_ref()) else {
                continue;
            };
            let repeats: Vec<DateTime<Utc>> = match &first.customer {
                Some(customer) => creations
                    .get(&(
                        customer.as_str(),
                        first.request_type.as_deref(),
                        first.product.as_deref(),
                    ))
                    .into_iter()
                    .flatten()
                    .filter(|(other, _)| other != case_id)
                    .map(|(_, created_at)| *created_at)
                    .collect(),
                None => Vec::new(),
            };
            // Most cases with same-key neighbours are not repeats of them: computed once.
            if metrics::repeats_matter(first, &repeats, config) {
                let again = metrics::compute(case_events, &repeats, config, as_of);
                second_pass.insert(case_id.clone(), again);
            } else if let Some(neighbour) = neighbour {
                second_pass.insert(case_id.clone(), neighbour);
            }
        }
        drop(creations);
        computed.extend(second_pass);
    }
    let recomputed = computed.len();
    // A rules change leaves most stored rows as they are (a holiday touches only the cases
    // open across it): writing only the rows that differ saves most of the cost.
    let write = match neighbours {
        Neighbours::Include => store::Write::All,
        Neighbours::Skip => store::Write::Changed,
    };
    let rows: Vec<(String, CaseMetrics)> = computed.into_iter().collect();
    let rows_written = store::upsert_cases(conn, &rows, as_of, write).await?;
    Ok(Recomputed {
        cases: recomputed,
        rows_written,
    })
}

/// The stored cases (other than those being recomputed) whose `fcr_no_repeat` the recomputed
/// cases can change: same customer, request type and product as a recomputed case's new or
/// previous values, resolved, and with their window (C, R1 + N days] reaching a recomputed
/// case's creation.
fn affected_by_repeats<'a>(
    stored: &'a [store::RepeatCandidate],
    computed: &'a HashMap<String, CaseMetrics>,
    config: &MetricsConfig,
) -> Vec<String> {
    type Key<'k> = (&'k str, Option<&'k str>, Option<&'k str>);
    let mut creations: HashMap<Key<'a>, (DateTime<Utc>, DateTime<Utc>)> = HashMap::new();
    let mut note = |key: Key<'a>, created_at: DateTime<Utc>| {
        let range = creations.entry(key).or_insert((created_at, created_at));
        range.0 = range.0.min(created_at);
        range.1 = range.1.max(created_at);
    };
    for m in computed.values() {
        if let (Some(customer), Some(created_at)) = (&m.customer, m.created_at) {
            note(
                (customer, m.request_type.as_deref(), m.product.as_deref()),
                created_at,
            );
        }
    }
    for c in stored.iter().filter(|c| computed.contains_key(&c.case_id)) {
        note(
            (&c.customer, c.request_type.as_deref(), c.product.as_deref()),
            c.created_at,
        );
    }
    let window = chrono::Duration::days(i64::from(config.fcr_window_days));
    stored
        .iter()
        .filter(|c| !computed.contains_key(&c.case_id))
        .filter(|c| {
            let key = (
                c.customer.as_str(),
                c.request_type.as_deref(),
                c.product.as_deref(),
            );
            creations.get(&key).is_some_and(|(earliest, latest)| {
                c.created_at <= *latest
                    && c.first_resolved_at
                        .is_some_and(|r1| r1 + window >= *earliest)
            })
        })
        .map(|c| c.case_id.clone())
        .collect()
}

/// Case ids with their creation time, by (customer, request type, product).
/// Borrowed from the stored candidates and the first pass.
type CreationsByKey<'a> =
    HashMap<(&'a str, Option<&'a str>, Option<&'a str>), Vec<(&'a str, DateTime<Utc>)>>;

/// Rebuilds the case table's indexes once the rows written since their last rebuild reach
/// [`REBUILD_SHARE`] of the table (imports, live events and recomputations alike); returns the
/// rows the rebuild covered, if it ran. Every case row written is a new entry in every index
/// (the KPI covering indexes include metric columns, so no update is HOT), and vacuum frees
/// space in time-ordered indexes that new entries rarely reuse: at 1M cases the KPI indexes
/// were 1.38x their rebuilt size after a load, 2.6x after a few recomputations (the summary's
/// index scans then slowed threefold).
/// `REINDEX ... CONCURRENTLY` blocks neither reads nor writes; one replica does it at a time.
pub async fn rebuild_indexes_if_bloated(pool: &PgPool) -> sqlx::Result<Option<i64>> {
    let rebuild = async {
        let written = store::rows_written_since_reindex(pool).await?;
        // A table never analyzed estimates -1 rows.
        let rows = store::estimated_case_rows(pool).await?.max(0.0);
        if written == 0 || (written as f64) < REBUILD_SHARE * rows {
            return Ok(None);
        }
        let started = std::time::Instant::now();
        store::rebuild_case_indexes(pool).await?;
        store::reindexed(pool, written).await?;
        tracing::info!(
            rows_written = written,
            seconds = started.elapsed().as_secs_f64(),
            "rebuilt the case indexes: a large part of the table was written since their last rebuild"
        );
        Ok(Some(written))
    };
    Ok(replica::once(pool, replica::locks::CASE_REINDEX, rebuild)
        .await?
        .flatten())
}

/// The share of the case table written since the last rebuild that has its indexes rebuilt.
const REBUILD_SHARE: f64 = 0.25;

/// Recomputes the cases whose metrics changed with time alone (an FCR variant matured, an open
/// SLA neared or breached) or were computed by an older metrics version, in batches; returns
/// how many.
pub async fn refresh_due_cases(
    pool: &PgPool,
    config: &MetricsConfig,
    now: DateTime<Utc>,
) -> sqlx::Result<usize> {
    let mut refreshed = 0;
    loop {
        let mut tx = pool.begin().await?;
        store::lock_ingest(&mut tx).await?;
        let due = store::cases_due(&mut *tx, now, 5_000).await?;
        if due.is_empty() {
            return Ok(refreshed);
        }
        let recomputed = recompute(&mut tx, &due, config, now).await?;
        store::mark_changed(&mut *tx, None).await?;
        tx.commit().await?;
        if recomputed == 0 {
            // Only cases without events could be left; nothing more can change.
            return Ok(refreshed);
        }
        refreshed += recomputed;
    }
}

/// The outcome of importing a file.
#[derive(Debug, Default, Clone, PartialEq, Serialize, ToSchema)]
pub struct ImportReport {
    pub format: Option<ImportFormat>,
    pub rows_read: u64,
    #[serde(flatten)]
    pub stored: BatchReport,
    pub bad_rows_count: u64,
    /// The first bad rows (up to 1,000), with their line numbers.
    pub bad_rows: Vec<BadRow>,
    /// When the data was extracted from its source: the latest `LastDataUpdate` of the file.
    pub data_extracted_at: Option<DateTime<Utc>>,
    /// What to do next, when the import needs it (e.g. most activities have no canonical role).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// The hint of an import most of whose stored events have an activity without a canonical
/// role: such events are kept and counted in process views, but no metric uses them.
pub fn unmapped_hint(stored: &BatchReport) -> Option<String> {
    let (unmapped, events) = (stored.unmapped_activities, stored.events_stored);
    (events > 0 && unmapped * 2 > events).then(|| {
        format!(
            "{unmapped} of the {events} events stored ({:.0} %) have an activity with no canonical role \
             (unmapped_activities): they are kept and counted in process views, but no metric \
             (cycle time, SLA, FCR, ...) uses them. Map the log's activity names to the 13 canonical \
             roles with PUT /v1/activity-mappings, e.g. {{\"mappings\": {{\"Resolve ticket\": \
             \"case_resolved\"}}}}; stored events take their new role at once. GET \
             /v1/process/activities lists the names in use.",
            100.0 * unmapped as f64 / events as f64
        )
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ImportFailure {
    /// The file cannot be read: nothing stored.
    #[error(transparent)]
    Unreadable(#[from] ImportError),
    /// More bad rows than allowed: nothing stored.
    #[error("{} bad row(s), more than the {allowed} allowed; nothing was stored", report.bad_rows_count)]
    TooManyBadRows {
        allowed: u64,
        report: Box<ImportReport>,
    },
    #[error("storing events: {0}")]
    Database(#[from] sqlx::Error),
}

/// Imports a file, all or nothing as to bad rows: a file with more bad rows than allowed
/// stores nothing. `progress` gets (phase, rows so far).
///
/// Pass 1 reads and validates every row. A file of up to `limits.max_streamed_rows` rows
/// (250,000 by default: the ingest lock held a few seconds) is stored as it is read, in one
/// transaction that commits only once the whole file has passed the bad-row check: the parse
/// and the database work side by side instead of one after the other.
/// A larger file leaves that transaction (rolled back) at the first row past the limit, and
/// pass 2 reads it again and stores it in batches of their own transactions, so the ingest
/// lock is never held for a whole large file.
pub async fn import_file(
    pool: &PgPool,
    path: &Path,
    options: &ImportOptions,
    default_zone: Tz,
    limits: ImportLimits,
    config: &MetricsConfig,
    progress: impl Fn(ImportPhase, u64) + Send + Sync + 'static,
) -> Result<ImportReport, ImportFailure> {
    let progress = Arc::new(progress);

    // Pass 1: validate everything, storing what it can as it goes (uncommitted).
    let (sender, receiver) = tokio::sync::mpsc::channel::<Parsed>(2);
    let (path_buf, opts) = (path.to_path_buf(), options.clone());
    let validate_progress = progress.clone();
    let parser = tokio::task::spawn_blocking(move || {
        validate_file(
            &path_buf,
            &opts,
            default_zone,
            limits,
            &*validate_progress,
            sender,
        )
    });
    let streamed = store_while_parsing(pool, config, receiver).await;
    let validated = parser
        .await
        .map_err(|error| ImportError::Options(format!("validation task failed: {error}")))??;
    let streamed = streamed?;
    let mut report = validated.report;
    if report.bad_rows_count > options.max_bad_rows {
        // Dropping the transaction rolls it back.
        return Err(ImportFailure::TooManyBadRows {
            allowed: options.max_bad_rows,
            report: Box::new(report),
        });
    }
    if let Some(streamed) = streamed.filter(|_| validated.streamed_all) {
        let Streamed {
            mut tx,
            stored,
            cases_touched,
            latest,
        } = streamed;
        if cases_touched > 0 {
            store::mark_changed(&mut *tx, latest).await?;
        }
        tx.commit().await?;
        // Rows count as stored once committed.
        progress(
            ImportPhase::Storing,
            stored.events_stored + stored.duplicates_skipped,
        );
        report.stored = stored;
        report.stored.cases_touched = cases_touched;
        report.data_extracted_at = validated.extracted;
        report.hint = unmapped_hint(&report.stored);
        return Ok(report);
    }

    // Pass 2: a large file, parsed again on a blocking thread; batches are stored as they come.
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<NewEvent>>(2);
    let (path_buf, opts) = (path.to_path_buf(), options.clone());
    let reader = tokio::task::spawn_blocking(move || -> Result<(), ImportError> {
        let (_, rows) = import::rows(&path_buf, &opts, default_zone, limits)?;
        let mut batch = Vec::with_capacity(IMPORT_BATCH);
        let mut occurrences = Occurrences::default();
        for row in rows {
            let Some(mut event) = row?.event.ok() else {
                continue;
            };
            occurrences.number(&mut event);
            batch.push(event);
            if batch.len() == IMPORT_BATCH
                && sender.blocking_send(std::mem::take(&mut batch)).is_err()
            {
                return Ok(());
            }
        }
        if !batch.is_empty() {
            let _ = sender.blocking_send(batch);
        }
        Ok(())
    });
    let mut done = 0u64;
    // A case spanning batches is touched once.
    let mut touched = std::collections::HashSet::new();
    while let Some(batch) = receiver.recv().await {
        done += batch.len() as u64;
        let extracted = batch.iter().filter_map(|e| e.last_data_update).max();
        report.data_extracted_at = report.data_extracted_at.max(extracted);
        let (stored, cases) = store_batch(pool, config, batch, Utc::now()).await?;
        report.stored.add(&stored);
        touched.extend(cases);
        progress(ImportPhase::Storing, done);
    }
    report.stored.cases_touched = touched.len() as u64;
    report.hint = unmapped_hint(&report.stored);
    reader
        .await
        .map_err(|error| ImportError::Options(format!("reader task failed: {error}")))??;
    Ok(report)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportPhase {
    Validating,
    Storing,
}

/// What pass 1 sends the storer.
enum Parsed {
    /// Valid events, in file order.
    Batch(Vec<NewEvent>),
    /// The file is too large (or already has too many bad rows) to be stored in one go: roll
    /// back what is stored and stop.
    Abandon,
}

/// Numbers the events without an id that share a natural key (case + key) in one file, in
/// file order, so that repeated identical rows stay distinct events and a re-import is
/// idempotent.
#[derive(Default)]
struct Occurrences(HashMap<(String, [u8; 16]), u32>);

impl Occurrences {
    fn number(&mut self, event: &mut NewEvent) {
        if event.event_id.is_none() {
            let count = self
                .0
                .entry((event.case_id.clone(), event.event_key()))
                .or_insert(0);
            event.occurrence = *count;
            *count += 1;
        }
    }
}

/// What pass 1 learnt of the file.
struct Validated {
    report: ImportReport,
    /// Every valid event was sent to the storer (the file is small enough).
    streamed_all: bool,
    /// The latest `LastDataUpdate` of the file's valid events.
    extracted: Option<DateTime<Utc>>,
}

/// Reads the whole file, counting and listing bad rows, and sends the valid events of a
/// small enough file to the storer in batches.
fn validate_file(
    path: &Path,
    options: &ImportOptions,
    zone: Tz,
    limits: ImportLimits,
    progress: &dyn Fn(ImportPhase, u64),
    storer: tokio::sync::mpsc::Sender<Parsed>,
) -> Result<Validated, ImportError> {
    let (format, rows) = import::rows(path, options, zone, limits)?;
    let mut report = ImportReport {
        format: Some(format),
        ..Default::default()
    };
    let mut extracted = None;
    let mut storer = Some(storer);
    let mut batch = Vec::with_capacity(IMPORT_BATCH);
    let mut occurrences = Occurrences::default();
    for row in rows {
        let row = row?;
        report.rows_read += 1;
        let too_much = report.rows_read > limits.max_streamed_rows
            || report.bad_rows_count > options.max_bad_rows;
        if too_much && let Some(storer) = storer.take() {
            // The storer may have stopped on a database error, reported on its side.
            let _ = storer.blocking_send(Parsed::Abandon);
            batch = Vec::new();
        }
        match row.event {
            Ok(mut event) => {
                extracted = extracted.max(event.last_data_update);
                if let Some(sender) = &storer {
                    occurrences.number(&mut event);
                    batch.push(event);
                    if batch.len() == IMPORT_BATCH
                        && sender
                            .blocking_send(Parsed::Batch(std::mem::take(&mut batch)))
                            .is_err()
                    {
                        // The storer failed: its error is the import's.
                        break;
                    }
                }
            }
            Err(errors) => {
                report.bad_rows_count += 1;
                if report.bad_rows.len() < LISTED_BAD_ROWS {
                    report.bad_rows.push(BadRow {
                        line: row.line,
                        errors,
                    });
                }
            }
        }
        if report.rows_read.is_multiple_of(50_000) {
            progress(ImportPhase::Validating, report.rows_read);
        }
    }
    progress(ImportPhase::Validating, report.rows_read);
    let streamed_all = match storer {
        Some(sender) => batch.is_empty() || sender.blocking_send(Parsed::Batch(batch)).is_ok(),
        None => false,
    };
    Ok(Validated {
        report,
        streamed_all,
        extracted,
    })
}

/// Pass 1's stored events, in a transaction not yet committed.
struct Streamed {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    stored: BatchReport,
    cases_touched: u64,
    latest: Option<DateTime<Utc>>,
}

/// Stores the batches pass 1 sends, all in one transaction holding the ingest lock, until the
/// parse ends (uncommitted: progress counts them once committed); None when pass 1 abandoned
/// it (rolled back).
async fn store_while_parsing(
    pool: &PgPool,
    config: &MetricsConfig,
    mut parsed: tokio::sync::mpsc::Receiver<Parsed>,
) -> sqlx::Result<Option<Streamed>> {
    let mut tx = pool.begin().await?;
    let now = Utc::now();
    let (mut stored, mut touched, mut latest) = (BatchReport::default(), BTreeSet::new(), None);
    let mut locked = false;
    while let Some(message) = parsed.recv().await {
        let Parsed::Batch(batch) = message else {
            return Ok(None);
        };
        // Locked once there is something to store: a file without a valid row takes no lock.
        if !locked {
            store::lock_ingest(&mut tx).await?;
            locked = true;
        }
        let (report, cases, batch_latest) = store_events(&mut tx, config, batch, now).await?;
        stored.add(&report);
        touched.extend(cases);
        latest = latest.max(batch_latest);
    }
    Ok(Some(Streamed {
        tx,
        stored,
        cases_touched: touched.len() as u64,
        latest,
    }))
}

/// The built-in activity names plus the stored mapping.
pub async fn load_resolver(executor: impl sqlx::PgExecutor<'_>) -> sqlx::Result<ActivityResolver> {
    let mapping = store::activity_mappings(executor).await?;
    Ok(ActivityResolver::with_mapping(
        mapping
            .into_iter()
            .filter_map(|(label, code)| Activity::from_code(&code).map(|a| (label, a))),
    ))
}
