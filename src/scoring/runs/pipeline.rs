//! A scoring run end to end, all or nothing:
//!
//! 1. **Score** (every core): one thread un-gzips the file and cuts it into chunks of whole
//!    records; workers parse a chunk and predict it with the model (and, when the run keeps
//!    reason codes, explain it); the collector puts chunks back in file order, keeps each
//!    probability (8 bytes per account, to cut exact deciles) and spills `(account id,
//!    probability, reasons)` to an anonymous temporary file. Features never outlive their
//!    chunk, so memory does not grow with the file beyond those 8 bytes.
//! 2. **Cut deciles** on all probabilities (`pd.qcut` rule).
//! 3. **Store** in one transaction: COPY (binary format) the spilled scores with their deciles
//!    into the run's own table, index it, attach it to `account_scores`, record the run (and,
//!    if asked, make it the model's decile reference), commit. A failure anywhere stores no
//!    score.

use std::{
    collections::BTreeMap,
    fs::File,
    io::{self, BufRead, BufReader, BufWriter, Read, Seek, Write},
    path::{Path, PathBuf},
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc,
    },
    time::{Duration, Instant},
};

use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;

use super::{
    input::{Chunk, ChunkReader, Columns, ParsedChunk, parse_chunk},
    store::{self, RunResult},
};
use crate::{
    db::copy::BinaryRows,
    scoring::{
        deciles::{DecileEdges, DecileSummary},
        model::{DecileReference, LoadedModel, top_reasons},
        reasons::{PACKED_REASON_BYTES, PackedReason},
        registry::ModelRegistry,
        store as model_store,
    },
    validation::BadRow,
};

/// Bad rows listed in a run (all are counted).
pub const LISTED_BAD_ROWS: usize = 100;

/// Reason codes a run keeps per account, at most.
pub const MAX_EXPLAIN: usize = 10;

/// Size of the COPY messages sent to PostgreSQL.
const COPY_MESSAGE_BYTES: usize = 1 << 20;

/// Live counters of a run, read by progress bars and the run's status row.
#[derive(Debug, Default)]
pub struct Progress {
    /// Records read so far.
    pub rows: AtomicU64,
    /// Bytes of the file (as stored, compressed or not) consumed so far.
    pub bytes_read: AtomicU64,
    /// The file's size.
    pub total_bytes: AtomicU64,
    /// Scores sent to PostgreSQL so far.
    pub stored: AtomicU64,
    /// True once scoring is done and storing has begun.
    pub storing: AtomicBool,
}

impl Progress {
    /// Share of the run done: the file consumed while scoring, the scores sent while storing.
    pub fn fraction(&self, accounts: u64) -> f64 {
        if self.storing.load(Ordering::Relaxed) {
            let stored = self.stored.load(Ordering::Relaxed) as f64;
            0.8 + 0.2 * (stored / accounts.max(1) as f64).min(1.0)
        } else {
            let total = self.total_bytes.load(Ordering::Relaxed).max(1) as f64;
            0.8 * (self.bytes_read.load(Ordering::Relaxed) as f64 / total).min(1.0)
        }
    }
}

/// Where a run spent its time, in seconds. The scoring phase runs its parts in parallel: `read`,
/// `parse` and `predict` are thread time summed over threads, `scoring` is wall time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Timings {
    /// Un-gzipping and cutting the file into chunks (one thread).
    pub read_s: f64,
    /// Parsing CSV records into features (all workers).
    pub parse_s: f64,
    /// Predicting (all workers).
    pub predict_s: f64,
    /// Computing reason codes (all workers; 0 when the run keeps none).
    #[serde(default)]
    pub explain_s: f64,
    /// Wall time of reading, parsing and predicting together.
    pub scoring_s: f64,
    /// Cutting the deciles and summarising them.
    pub deciles_s: f64,
    /// COPY, index, attach and commit.
    pub store_s: f64,
    /// The whole run.
    pub total_s: f64,
}

impl std::fmt::Display for Timings {
    /// `6.73 s total = scoring 5.74 s wall (thread time: ...) + deciles ... + store ...`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2} s total = scoring {:.2} s wall (thread time: read+gunzip {:.2} s, parse {:.2} s, predict {:.2} s, explain {:.2} s) + deciles {:.2} s + store {:.2} s (COPY, index, attach, commit)",
            self.total_s,
            self.scoring_s,
            self.read_s,
            self.parse_s,
            self.predict_s,
            self.explain_s,
            self.deciles_s,
            self.store_s
        )
    }
}

/// How a run ended, as recorded.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub rows_read: u64,
    pub accounts_scored: u64,
    pub bad_rows_count: u64,
    pub bad_rows: Vec<BadRow>,
    pub ignored_columns: Vec<String>,
    pub edges: Option<DecileEdges>,
    pub summary: Option<DecileSummary>,
    pub timings: Timings,
}

/// Why a run failed; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum RunFailure {
    /// The file or its header cannot be used.
    #[error("{0}")]
    Input(String),
    #[error("{count} bad row(s), more than the {allowed} allowed; nothing was stored")]
    TooManyBadRows { count: u64, allowed: u64 },
    #[error("the file has no account to score")]
    NoAccounts,
    #[error("{0}")]
    DuplicateAccount(String),
    #[error("prediction failed: {0}")]
    Predict(String),
    #[error("the database failed: {0}")]
    Database(#[from] sqlx::Error),
}

/// What a run is asked to do.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub run_id: i64,
    /// The population file (CSV or gzip CSV).
    pub input: PathBuf,
    /// Bad rows tolerated (skipped); with more, the run fails.
    pub max_bad_rows: u64,
    /// Make the run's edges the model's decile reference.
    pub make_reference: bool,
    /// Reason codes kept per account (0: none), at most the model's feature count.
    pub explain: usize,
}

/// Scores `path` with `model`, stores the scores and records the run, either way. Returns the
/// report (also on failure, with what was learnt before it) and the failure, if any.
pub async fn execute(
    db: &PgPool,
    registry: &ModelRegistry,
    model: std::sync::Arc<LoadedModel>,
    request: &RunRequest,
    progress: std::sync::Arc<Progress>,
) -> (RunReport, Option<RunFailure>) {
    let started = Instant::now();
    let mut report = RunReport::default();
    let failure = run_phases(db, registry, model, request, progress, &mut report, started)
        .await
        .err();
    if let Some(failure) = &failure {
        report.timings.total_s = started.elapsed().as_secs_f64();
        // PostgreSQL cannot store NUL in text: never let one keep a run `running`.
        let message = failure.to_string().replace('\0', "\\0");
        tracing::warn!(run = request.run_id, error = %message, "scoring run failed");
        let recorded =
            store::finish_run(db, request.run_id, &result_row(&report, Some(&message))).await;
        if let Err(error) = recorded {
            tracing::error!(run = request.run_id, %error, "could not record the failed run's details");
            if let Err(error) = store::mark_failed(db, request.run_id, &message).await {
                tracing::error!(run = request.run_id, %error, "could not mark the run failed");
            }
        }
    }
    (report, failure)
}

async fn run_phases(
    db: &PgPool,
    registry: &ModelRegistry,
    model: std::sync::Arc<LoadedModel>,
    request: &RunRequest,
    progress: std::sync::Arc<Progress>,
    report: &mut RunReport,
    started: Instant,
) -> Result<(), RunFailure> {
    let scoring_started = Instant::now();
    let path_owned = request.input.clone();
    let scoring_progress = progress.clone();
    let scoring_model = model.clone();
    let explain = request.explain.min(model.num_features());
    let scored = tokio::task::spawn_blocking(move || {
        score_file(&scoring_model, &path_owned, explain, &scoring_progress)
    })
    .await
    .map_err(|e| RunFailure::Predict(e.to_string()))?;
    let mut scored = match scored {
        Ok(scored) => scored,
        Err(failure) => return Err(failure),
    };
    report.rows_read = scored.records;
    report.accounts_scored = scored.probabilities.len() as u64;
    report.bad_rows_count = scored.bad_rows_count;
    report.bad_rows = std::mem::take(&mut scored.bad_rows);
    report.ignored_columns = std::mem::take(&mut scored.ignored_columns);
    report.timings.read_s = scored.read_time.as_secs_f64();
    report.timings.parse_s = scored.parse_time.as_secs_f64();
    report.timings.predict_s = scored.predict_time.as_secs_f64();
    report.timings.explain_s = scored.explain_time.as_secs_f64();
    report.timings.scoring_s = scoring_started.elapsed().as_secs_f64();
    if report.bad_rows_count > request.max_bad_rows {
        return Err(RunFailure::TooManyBadRows {
            count: report.bad_rows_count,
            allowed: request.max_bad_rows,
        });
    }

    let deciles_started = Instant::now();
    let probabilities = std::mem::take(&mut scored.probabilities);
    let (edges, summary, probabilities) = tokio::task::spawn_blocking(move || {
        let edges = DecileEdges::from_scores(&probabilities);
        let summary = edges.and_then(|e| DecileSummary::from_scores(&e, &probabilities));
        (edges, summary, probabilities)
    })
    .await
    .map_err(|e| RunFailure::Predict(e.to_string()))?;
    drop(probabilities);
    let (Some(edges), Some(summary)) = (edges, summary) else {
        return Err(RunFailure::NoAccounts);
    };
    report.edges = Some(edges);
    report.summary = Some(summary);
    report.timings.deciles_s = deciles_started.elapsed().as_secs_f64();

    let store_started = Instant::now();
    progress.storing.store(true, Ordering::Relaxed);
    let mut tx = db.begin().await?;
    let table = store::create_partition(&mut tx, request.run_id).await?;
    copy_scores(
        &mut tx,
        &table,
        request.run_id,
        scored.spill,
        edges,
        explain,
        &progress,
    )
    .await?;
    store::attach_partition(&mut tx, request.run_id)
        .await
        .map_err(|error| match error.as_database_error() {
            Some(db_error) if db_error.is_unique_violation() => {
                RunFailure::DuplicateAccount(format!(
                    "an account appears more than once in the file ({}); nothing was stored",
                    db_error
                        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                        .and_then(|e| e.detail())
                        .unwrap_or("duplicate account id")
                ))
            }
            _ => RunFailure::Database(error),
        })?;
    // Recorded before the commit, which takes a few milliseconds more.
    report.timings.store_s = store_started.elapsed().as_secs_f64();
    report.timings.total_s = started.elapsed().as_secs_f64();
    store::finish_run(&mut *tx, request.run_id, &result_row(report, None)).await?;
    if request.make_reference {
        model_store::set_decile_reference(
            &mut *tx,
            model.id,
            &edges.edges,
            edges.degenerate,
            &format!("run:{}", request.run_id),
            Some(report.accounts_scored as i64),
        )
        .await?;
    }
    tx.commit().await?;
    report.timings.store_s = store_started.elapsed().as_secs_f64();
    report.timings.total_s = started.elapsed().as_secs_f64();
    if request.make_reference {
        // The serving copy of the model follows at once (replicas on their next sync).
        registry.set_decile_reference(
            model.id,
            DecileReference {
                edges,
                source: format!("run:{}", request.run_id),
                population: Some(report.accounts_scored as i64),
            },
        );
    }
    Ok(())
}

/// The run's row as recorded at the end.
fn result_row<'a>(report: &'a RunReport, error: Option<&'a str>) -> RunResult<'a> {
    RunResult {
        status: if error.is_none() {
            "succeeded"
        } else {
            "failed"
        },
        rows_read: report.rows_read,
        accounts_scored: if error.is_none() {
            report.accounts_scored
        } else {
            0
        },
        bad_rows_count: report.bad_rows_count,
        bad_rows: serde_json::to_value(&report.bad_rows).unwrap_or_default(),
        ignored_columns: &report.ignored_columns,
        decile_edges: report.edges.as_ref().map(|e| e.edges.as_slice()),
        decile_degenerate: report.edges.map(|e| e.degenerate),
        decile_counts: report
            .summary
            .as_ref()
            .map(|s| s.deciles.iter().map(|d| d.count as i64).collect()),
        decile_mean_probability: report
            .summary
            .as_ref()
            .map(|s| s.deciles.iter().map(|d| d.mean_probability).collect()),
        timings: serde_json::to_value(&report.timings).unwrap_or_default(),
        error,
    }
}

/// Streams the spilled scores, with their deciles (and reasons), into the run's table.
async fn copy_scores(
    conn: &mut sqlx::PgConnection,
    table: &str,
    run_id: i64,
    spill: File,
    edges: DecileEdges,
    explain: usize,
    progress: &Progress,
) -> Result<(), RunFailure> {
    let reason_columns = if explain > 0 { ", reasons" } else { "" };
    let mut sink = conn
        .copy_in_raw(&format!(
            "COPY {table} (run_id, account_id, probability, decile{reason_columns}) FROM STDIN (FORMAT binary)"
        ))
        .await?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<io::Result<(Vec<u8>, u64)>>(4);
    let formatter =
        tokio::task::spawn_blocking(move || format_spill(spill, run_id, &edges, explain, &sender));
    while let Some(message) = receiver.recv().await {
        let (bytes, rows) =
            message.map_err(|e| RunFailure::Input(format!("reading the spilled scores: {e}")))?;
        sink.send(bytes).await?;
        progress.stored.fetch_add(rows, Ordering::Relaxed);
    }
    formatter
        .await
        .map_err(|e| RunFailure::Predict(e.to_string()))?;
    sink.finish().await?;
    Ok(())
}

/// Reads the spill file back as binary COPY messages of about `COPY_MESSAGE_BYTES`.
fn format_spill(
    spill: File,
    run_id: i64,
    edges: &DecileEdges,
    explain: usize,
    sender: &tokio::sync::mpsc::Sender<io::Result<(Vec<u8>, u64)>>,
) {
    let result = (|| -> io::Result<()> {
        let mut spill = spill;
        spill.rewind()?;
        let mut reader = BufReader::with_capacity(1 << 20, spill);
        let capacity = COPY_MESSAGE_BYTES + 4096;
        let mut message = BinaryRows::with_header(capacity);
        let mut rows = 0;
        let mut id = Vec::new();
        let mut reasons = vec![0u8; explain * PACKED_REASON_BYTES];
        loop {
            let mut len = [0u8; 4];
            if reader.fill_buf()?.is_empty() {
                break;
            }
            reader.read_exact(&mut len)?;
            id.resize(u32::from_le_bytes(len) as usize, 0);
            reader.read_exact(&mut id)?;
            let mut probability = [0u8; 8];
            reader.read_exact(&mut probability)?;
            let probability = f64::from_le_bytes(probability);
            message.start_row(if explain > 0 { 5 } else { 4 });
            message.int8(run_id);
            message.text(&id);
            message.float8(probability);
            message.int2(i16::from(edges.decile(probability)));
            if explain > 0 {
                // Spilled packed, stored as is.
                reader.read_exact(&mut reasons)?;
                message.bytea(&reasons);
            }
            rows += 1;
            if message.len() >= COPY_MESSAGE_BYTES {
                let full = std::mem::replace(&mut message, BinaryRows::continuing(capacity));
                if sender.blocking_send(Ok((full.into_bytes(), rows))).is_err() {
                    return Ok(());
                }
                rows = 0;
            }
        }
        let _ = sender.blocking_send(Ok((message.finish(), rows)));
        Ok(())
    })();
    if let Err(error) = result {
        let _ = sender.blocking_send(Err(error));
    }
}

/// Result of the scoring phase.
struct Scored {
    records: u64,
    probabilities: Vec<f64>,
    bad_rows: Vec<BadRow>,
    bad_rows_count: u64,
    ignored_columns: Vec<String>,
    /// `(u32 length, account id, f64 probability, packed reasons)` per account, in file order.
    spill: File,
    /// Chunks collected, all in order.
    chunks: u64,
    read_time: Duration,
    parse_time: Duration,
    predict_time: Duration,
    explain_time: Duration,
}

/// A parsed chunk with its probabilities and, when the run keeps them, `explain` reasons per
/// account.
struct ScoredChunk {
    parsed: ParsedChunk,
    probabilities: Vec<f64>,
    reasons: Vec<PackedReason>,
}

/// Counts the bytes read from the file, for progress.
struct CountingReader<'a, R> {
    inner: R,
    counter: &'a AtomicU64,
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The file as bytes, un-gzipped when it starts with gzip's magic number, counting what is
/// read in `counter`; and its size.
fn open_input<'a>(
    path: &Path,
    counter: &'a AtomicU64,
) -> io::Result<(u64, Box<dyn Read + Send + 'a>)> {
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    let mut buffered = BufReader::with_capacity(
        1 << 20,
        CountingReader {
            inner: file,
            counter,
        },
    );
    let gzip = buffered.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let source: Box<dyn Read + Send + 'a> = if gzip {
        Box::new(MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    Ok((size, source))
}

fn unreadable(error: io::Error) -> RunFailure {
    RunFailure::Input(format!("cannot read the file: {error}"))
}

/// Reads the header and finds the model's features among its columns.
fn read_columns<R: Read>(
    chunks: &mut ChunkReader<R>,
    model: &LoadedModel,
) -> Result<Columns, RunFailure> {
    let header = chunks
        .header()
        .map_err(unreadable)?
        .ok_or_else(|| RunFailure::Input("the file is empty: it needs a header row".into()))?;
    Columns::resolve(&header, &model.feature_names).map_err(RunFailure::Input)
}

/// What keeps `model` from scoring the file at `path`, judged by its header alone (reads
/// only the first block), so that an upload can be refused before a run starts.
pub fn header_problem(model: &LoadedModel, path: &Path) -> Option<String> {
    let counter = AtomicU64::new(0);
    let checked = open_input(path, &counter)
        .map_err(unreadable)
        .and_then(|(_, source)| read_columns(&mut ChunkReader::new(source), model));
    checked.err().map(|failure| failure.to_string())
}

/// Phase 1: reads, parses and predicts (and explains) the whole file on every core.
fn score_file(
    model: &LoadedModel,
    path: &Path,
    explain: usize,
    progress: &Progress,
) -> Result<Scored, RunFailure> {
    let (size, source) = open_input(path, &progress.bytes_read).map_err(unreadable)?;
    progress.total_bytes.store(size, Ordering::Relaxed);
    let mut chunks = ChunkReader::new(source);
    let columns = read_columns(&mut chunks, model)?;

    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 16);
    let abort = AtomicBool::new(false);
    let (chunk_sender, chunk_receiver) = mpsc::sync_channel::<Chunk>(workers * 2);
    let chunk_receiver = Mutex::new(chunk_receiver);
    let (done_sender, done_receiver) =
        mpsc::sync_channel::<Result<ScoredChunk, String>>(workers * 2);

    std::thread::scope(|scope| {
        let abort = &abort;
        // Returns the time spent reading and the number of chunks sent.
        let reader = scope.spawn(move || -> Result<(Duration, u64), (io::Error, u64)> {
            let started = Instant::now();
            let mut waiting = Duration::ZERO;
            let mut sent = 0;
            loop {
                if abort.load(Ordering::Relaxed) {
                    break;
                }
                let line = chunks.line();
                let Some(chunk) = chunks.next_chunk().map_err(|e| (e, line))? else {
                    break;
                };
                let before_send = Instant::now();
                if chunk_sender.send(chunk).is_err() {
                    break;
                }
                sent += 1;
                waiting += before_send.elapsed();
            }
            Ok((started.elapsed().saturating_sub(waiting), sent))
        });
        let worker_handles: Vec<_> = (0..workers)
            .map(|_| {
                let done_sender = done_sender.clone();
                let (columns, chunk_receiver) = (&columns, &chunk_receiver);
                scope.spawn(move || {
                    score_chunks(model, columns, explain, chunk_receiver, &done_sender, abort)
                })
            })
            .collect();
        drop(done_sender);

        let collected = collect(done_receiver, progress, abort);
        // Whatever ended the collection (the end, an error, every worker gone), the reader
        // must not stay blocked on a full channel: stop it and drain what it sends.
        if collected.is_err() {
            abort.store(true, Ordering::Relaxed);
        }
        while !reader.is_finished() {
            let receiver = chunk_receiver
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let _ = receiver.recv_timeout(Duration::from_millis(10));
        }
        let thread_failed = || RunFailure::Predict("a scoring thread failed".into());
        let read_result = reader.join().map_err(|_| thread_failed())?;
        let mut times = WorkerTimes::default();
        let mut workers_failed = false;
        for handle in worker_handles {
            match handle.join() {
                Ok(worker) => {
                    times.parse += worker.parse;
                    times.predict += worker.predict;
                    times.explain += worker.explain;
                }
                Err(_) => workers_failed = true,
            }
        }
        let (read_time, sent) = read_result.map_err(|(error, line)| {
            RunFailure::Input(format!("cannot read the file near line {line}: {error}"))
        })?;
        let mut scored = collected?;
        // Every chunk read must have been scored, or accounts would be missing.
        if workers_failed || scored.chunks != sent {
            return Err(thread_failed());
        }
        scored.ignored_columns = columns.ignored.clone();
        scored.read_time = read_time;
        scored.parse_time = times.parse;
        scored.predict_time = times.predict;
        scored.explain_time = times.explain;
        Ok(scored)
    })
}

/// Thread time a worker spent per part.
#[derive(Debug, Default)]
struct WorkerTimes {
    parse: Duration,
    predict: Duration,
    explain: Duration,
}

/// A worker: parses, predicts and explains chunks until the reader is done.
fn score_chunks(
    model: &LoadedModel,
    columns: &Columns,
    explain: usize,
    chunks: &Mutex<mpsc::Receiver<Chunk>>,
    done: &mpsc::SyncSender<Result<ScoredChunk, String>>,
    abort: &AtomicBool,
) -> WorkerTimes {
    let mut times = WorkerTimes::default();
    loop {
        let next = chunks.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(chunk) = next else { break };
        if abort.load(Ordering::Relaxed) {
            // Keep draining so the reader is never stuck on a full channel.
            continue;
        }
        let started = Instant::now();
        let parsed = parse_chunk(columns, &chunk);
        drop(chunk);
        let parsed_at = Instant::now();
        times.parse += parsed_at - started;
        let result = if parsed.is_empty() {
            Ok(Vec::new())
        } else {
            model.predict(&parsed.features).map_err(|e| e.to_string())
        };
        let predicted_at = Instant::now();
        times.predict += predicted_at - parsed_at;
        let reasons = if explain > 0 && !parsed.is_empty() && result.is_ok() {
            explain_chunk(model, &parsed.features, explain)
        } else {
            Ok(Vec::new())
        };
        times.explain += predicted_at.elapsed();
        let message = result.and_then(|probabilities| {
            Ok(ScoredChunk {
                parsed,
                probabilities,
                reasons: reasons?,
            })
        });
        if done.send(message).is_err() {
            abort.store(true, Ordering::Relaxed);
        }
    }
    times
}

/// The top `explain` reasons of every row, flattened.
fn explain_chunk(
    model: &LoadedModel,
    rows: &[f64],
    explain: usize,
) -> Result<Vec<PackedReason>, String> {
    let contributions = model.contributions(rows).map_err(|e| e.to_string())?;
    top_reasons(&contributions, rows, model.num_features(), explain)
        .into_iter()
        .flatten()
        .map(|(feature, value, contribution)| {
            Ok(PackedReason {
                feature: i16::try_from(feature).map_err(|_| {
                    format!(
                        "reason codes are kept for models of at most 32,767 features, not {}",
                        feature + 1
                    )
                })?,
                value,
                contribution,
            })
        })
        .collect()
}

/// Puts scored chunks back in file order, keeps the probabilities, spills the scores and
/// gathers bad rows.
fn collect(
    done: mpsc::Receiver<Result<ScoredChunk, String>>,
    progress: &Progress,
    abort: &AtomicBool,
) -> Result<Scored, RunFailure> {
    let spill_error =
        |e: io::Error| RunFailure::Input(format!("cannot spill scores to a temporary file: {e}"));
    let mut spill = BufWriter::with_capacity(1 << 20, tempfile::tempfile().map_err(spill_error)?);
    let (mut records, mut bad_rows_count) = (0, 0);
    let mut probabilities = Vec::new();
    let mut bad_rows = Vec::new();
    let mut pending = BTreeMap::new();
    let mut next = 0;
    for message in done {
        let chunk = match message {
            Ok(chunk) => chunk,
            Err(error) => {
                abort.store(true, Ordering::Relaxed);
                return Err(RunFailure::Predict(error));
            }
        };
        pending.insert(chunk.parsed.sequence, chunk);
        while let Some(chunk) = pending.remove(&next) {
            next += 1;
            let ScoredChunk {
                mut parsed,
                probabilities: chunk_probabilities,
                reasons,
            } = chunk;
            let per_account = reasons.len() / chunk_probabilities.len().max(1);
            let mut packed = Vec::with_capacity(per_account * PACKED_REASON_BYTES);
            records += parsed.records;
            progress.rows.fetch_add(parsed.records, Ordering::Relaxed);
            bad_rows_count += parsed.bad_rows.len() as u64;
            let room = LISTED_BAD_ROWS.saturating_sub(bad_rows.len());
            bad_rows.extend(parsed.bad_rows.drain(..).take(room));
            for (k, (id, &probability)) in
                parsed.account_ids().zip(&chunk_probabilities).enumerate()
            {
                let account_reasons = &reasons[k * per_account..(k + 1) * per_account];
                let written = spill
                    .write_all(&(id.len() as u32).to_le_bytes())
                    .and_then(|()| spill.write_all(id.as_bytes()))
                    .and_then(|()| spill.write_all(&probability.to_le_bytes()))
                    .and_then(|()| {
                        packed.clear();
                        account_reasons.iter().for_each(|r| r.pack(&mut packed));
                        spill.write_all(&packed)
                    });
                if let Err(error) = written {
                    abort.store(true, Ordering::Relaxed);
                    return Err(spill_error(error));
                }
            }
            probabilities.extend_from_slice(&chunk_probabilities);
        }
    }
    Ok(Scored {
        chunks: next,
        records,
        probabilities,
        bad_rows,
        bad_rows_count,
        ignored_columns: Vec::new(),
        spill: spill
            .into_inner()
            .map_err(|e| spill_error(e.into_error()))?,
        read_time: Duration::ZERO,
        parse_time: Duration::ZERO,
        predict_time: Duration::ZERO,
        explain_time: Duration::ZERO,
    })
}
