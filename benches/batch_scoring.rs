//! Batch scoring: `SWITCHBOARD_BENCH_ACCOUNTS` (default 1,000,000) synthetic accounts x 64
//! features, from a gzip CSV to stored scores and deciles in PostgreSQL, with the demo model
//! (500 trees). Against the notebook's pipeline in Python in the same run: pandas `read_csv` +
//! LightGBM `predict` + `pd.qcut` + COPY through psycopg (`tools/bench/python_batch_scoring.py`,
//! run with `BENCH_PYTHON`, default `python3`; skipped, saying so, when its packages are missing).
//!
//! Run with `cargo bench --bench batch_scoring`.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod support;

use std::{path::Path, time::Instant};

use support::{
    Settings, bench_accounts, database_on, drop_database, population_file, scoring_run,
    scratch_database,
};
use switchboard::{db, scoring::registry::ModelRegistry};

const DATABASE: &str = "switchboard_bench_batch";

/// Peak resident memory of this process so far (VmHWM), in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

#[tokio::main]
async fn main() {
    let settings = Settings::from_env();
    let server = db::resolve_url(&settings.database)
        .await
        .expect("a PostgreSQL server");
    let accounts = bench_accounts();
    let (_url, pool) = scratch_database(&server, DATABASE).await;

    let started = Instant::now();
    let (_dir, input) = population_file(accounts, 20_261_130).await;
    let size = std::fs::metadata(&input).map(|m| m.len()).unwrap_or(0);
    println!(
        "population: {accounts} accounts x 64 features, {:.1} MiB gzip CSV, written in {:.1} s",
        size as f64 / (1 << 20) as f64,
        started.elapsed().as_secs_f64()
    );

    let model_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/demo/model.txt");
    let registry = ModelRegistry::new();
    registry
        .bootstrap_from_file(&pool, &model_path)
        .await
        .expect("demo model");
    let model = registry.active().expect("active model");
    println!(
        "model: {} trees, native evaluator {}",
        model.tree_count,
        if model.uses_native() {
            "serving"
        } else {
            "NOT serving (LightGBM)"
        }
    );

    let rss_before = peak_rss_mib();
    let mut best = f64::INFINITY;
    for attempt in 1..=2 {
        let timings = scoring_run(&pool, &registry, model.clone(), &input, accounts, 0).await;
        let t = &timings;
        println!(
            "switchboard run {attempt}: {t}; {:.0} accounts/s",
            accounts as f64 / t.total_s
        );
        best = best.min(t.total_s);
    }
    println!(
        "peak RSS of the benchmark process: {rss_before:.0} MiB before the runs, {:.0} MiB after (8 bytes per account are kept to cut exact deciles)",
        peak_rss_mib()
    );
    // Keeping reason codes (`explain=3`, for campaign call lists) costs a TreeSHAP evaluation
    // per account: measured once, against the plain run.
    let timings = scoring_run(&pool, &registry, model.clone(), &input, accounts, 3).await;
    println!(
        "switchboard run with explain=3: {timings}; {:.0} accounts/s, {:.1}x the plain run's time",
        accounts as f64 / timings.total_s,
        timings.total_s / best
    );

    let python = std::env::var("BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/bench/python_batch_scoring.py");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .arg("--input")
        .arg(&input)
        .arg("--model")
        .arg(&model_path)
        .arg("--database-url")
        .arg(database_on(&server, DATABASE).expose())
        .output();
    match output {
        Ok(output) if output.status.success() => {
            let stdout = String::from_utf8_lossy(&output.stdout);
            let line = stdout.lines().last().unwrap_or_default();
            match serde_json::from_str::<serde_json::Value>(line) {
                Ok(theirs) => {
                    let total = theirs["total_s"].as_f64().unwrap_or(f64::NAN);
                    println!(
                        "python run: {total:.2} s total = read_csv {:.2} s + predict {:.2} s + qcut {:.2} s + COPY {:.2} s ({})",
                        theirs["parse_s"].as_f64().unwrap_or(f64::NAN),
                        theirs["predict_s"].as_f64().unwrap_or(f64::NAN),
                        theirs["deciles_s"].as_f64().unwrap_or(f64::NAN),
                        theirs["store_s"].as_f64().unwrap_or(f64::NAN),
                        theirs["versions"]
                    );
                    println!(
                        "switchboard (best of 2) is {:.1}x faster than the Python pipeline",
                        total / best
                    );
                }
                Err(_) => println!("python reference printed no result: {stdout}"),
            }
        }
        Ok(output) => println!(
            "python reference skipped: `{python}` failed ({}); install its packages (see {}) or set BENCH_PYTHON",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or_default(),
            script.display()
        ),
        Err(error) => println!("python reference skipped: cannot run `{python}`: {error}"),
    }
    drop_database(&server, DATABASE, pool).await;
}
