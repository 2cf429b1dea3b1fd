//! The `score-batch` and `population` commands.

use std::{
    io::Write,
    path::Path,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use anyhow::Context;
use sqlx::PgPool;

use super::{
    handlers::spawn_progress_ticker,
    pipeline::{self, MAX_EXPLAIN, Progress, RunRequest},
    store,
};
use crate::scoring::{population, registry::ModelRegistry};

/// Scores `input` with the active model (registering `model_path` first when no model is
/// active), with a progress bar; prints the run's summary.
pub async fn score_batch(
    pool: &PgPool,
    input: &Path,
    make_reference: bool,
    max_bad_rows: u64,
    explain: usize,
    model_path: &str,
) -> anyhow::Result<()> {
    let registry = ModelRegistry::new();
    if !model_path.is_empty() && Path::new(model_path).exists() {
        registry
            .bootstrap_from_file(pool, Path::new(model_path))
            .await
            .with_context(|| format!("MODEL_PATH {model_path}"))?;
    }
    registry.sync_with_database(pool).await?;
    let model = registry
        .active()
        .context("no model is active: upload one (POST /v1/models) or set MODEL_PATH")?;
    anyhow::ensure!(input.exists(), "{} does not exist", input.display());
    anyhow::ensure!(
        explain <= MAX_EXPLAIN.min(model.num_features()),
        "--explain {explain}: at most {} reason codes per account for this model",
        MAX_EXPLAIN.min(model.num_features())
    );
    let run_id = store::create_run(
        pool,
        model.id,
        &input.display().to_string(),
        "cli",
        make_reference,
        max_bad_rows,
        explain,
    )
    .await?;
    eprintln!(
        "run {run_id}: scoring {} with model {} ({} {})",
        input.display(),
        model.id,
        model.name,
        model.version_label
    );

    let progress = Arc::new(Progress::default());
    let bar = indicatif::ProgressBar::new(1000);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {prefix:8} [{bar:30}] {percent:>3}% {msg} ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let bar_task = {
        let (bar, progress) = (bar.clone(), progress.clone());
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            loop {
                let rows = progress.rows.load(Ordering::Relaxed);
                let storing = progress.storing.load(Ordering::Relaxed);
                bar.set_prefix(if storing { "storing" } else { "scoring" });
                bar.set_position((progress.fraction(rows) * 1000.0) as u64);
                let rate = rows as f64 / started.elapsed().as_secs_f64().max(1e-3);
                bar.set_message(format!("{rows} rows, {rate:.0} rows/s"));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let db_ticker = spawn_progress_ticker(pool.clone(), run_id, progress.clone());
    let request = RunRequest {
        run_id,
        input: input.to_path_buf(),
        max_bad_rows,
        make_reference,
        explain,
    };
    let (report, failure) = pipeline::execute(pool, &registry, model, &request, progress).await;
    db_ticker.abort();
    bar_task.abort();
    bar.finish_and_clear();

    for bad in report.bad_rows.iter().take(20) {
        for error in &bad.errors {
            eprintln!("line {}: {}: {}", bad.line, error.field, error.message);
        }
    }
    if let Some(failure) = failure {
        anyhow::bail!("run {run_id} failed: {failure}");
    }
    if !report.ignored_columns.is_empty() {
        eprintln!("ignored columns: {}", report.ignored_columns.join(", "));
    }
    if let Some(summary) = &report.summary {
        for d in &summary.deciles {
            let mean = d
                .mean_probability
                .map_or_else(|| "-".to_owned(), |m| format!("{m:.6}"));
            eprintln!(
                "decile {:>2}: {:>10} accounts, mean probability {mean}",
                d.decile, d.count
            );
        }
    }
    eprintln!(
        "run {run_id}: {} accounts scored and stored: {}{}",
        report.accounts_scored,
        report.timings,
        if make_reference {
            "; now the model's decile reference"
        } else {
            ""
        }
    );
    println!("{run_id}");
    Ok(())
}

/// Writes a synthetic population (the demo model's 64 features), gzip when `output` ends in
/// `.gz`.
pub fn write_population(
    output: &Path,
    rows: u64,
    seed: u64,
    with_target: bool,
) -> anyhow::Result<()> {
    let file = std::fs::File::create(output)
        .with_context(|| format!("cannot create {}", output.display()))?;
    let out = std::io::BufWriter::with_capacity(1 << 20, file);
    if output.extension().is_some_and(|e| e == "gz") {
        // Level 1: the file is an input for tests and benchmarks, written once and read many
        // times; level 6 takes several times longer for a file a few percent smaller.
        let mut gzip = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
        population::write_csv(&mut gzip, rows, seed, with_target)?;
        gzip.finish()?.flush()?;
    } else {
        let mut out = out;
        population::write_csv(&mut out, rows, seed, with_target)?;
        out.flush()?;
    }
    Ok(())
}
