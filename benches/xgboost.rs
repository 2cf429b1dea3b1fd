//! XGBoost serving against the `xgboost` package, in the same run:
//!
//! 1. `tools/bench/xgboost_reference.py` (run with `BENCH_PYTHON`, default `python3`; needs
//!    `pip install xgboost numpy`) trains a 500-tree, depth-6, 64-feature `binary:logistic`
//!    model, saves it as JSON and UBJSON, writes 100,000 rows and xgboost's predictions for
//!    them, and times xgboost's fastest call, `inplace_predict` with `nthread=1`: one row, and
//!    all rows as one batch.
//! 2. Switchboard loads both files, checks every probability bit for bit against xgboost's,
//!    and times one row (median) and the batch on one thread: the ratios are printed.
//! 3. A scoring run of `SWITCHBOARD_BENCH_ACCOUNTS` (default 1,000,000) synthetic accounts
//!    from a gzip CSV to stored scores and deciles, once with that XGBoost model (its features
//!    renamed to the population's) and once with the demo LightGBM model: the ratio of the
//!    two run times.
//!
//! Run with `cargo bench --bench xgboost`.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod support;

use std::{path::Path, time::Instant};

use support::{
    Settings, bench_accounts, drop_database, population_file, scoring_run, scratch_database,
};
use switchboard::{
    db,
    scoring::{population::FEATURE_NAMES, registry::ModelRegistry, xgboost::XgbModel},
};

const DATABASE: &str = "switchboard_bench_xgboost";

fn read_f32(path: &str) -> Vec<f32> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// CPU time of this thread, in seconds: on a shared machine it is what the work itself cost,
/// however the scheduler sliced the wall time (the Python side reports its CPU time too).
#[allow(unsafe_code, reason = "clock_gettime through libc")]
fn thread_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out_dir = root.join("target/bench-xgb");
    let python = std::env::var("BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = root.join("tools/bench/xgboost_reference.py");
    let model_json = out_dir.join("model.json");
    let mut command = std::process::Command::new(&python);
    command.arg(&script).arg("--out-dir").arg(&out_dir);
    if model_json.exists() {
        // Training takes a minute; the timing of xgboost is redone every run.
        command.arg("--model").arg(&model_json);
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{python}`: {e}"));
    assert!(
        output.status.success(),
        "{} failed (pip install xgboost numpy, or set BENCH_PYTHON): {}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let theirs: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("a JSON line");
    let xgb_single_us = theirs["single_row_us"].as_f64().unwrap();
    let xgb_batch_rows_s = theirs["batch_rows_per_s"].as_f64().unwrap();
    let xgb_single_cpu_us = theirs["single_row_cpu_us"].as_f64().unwrap();
    let xgb_batch_cpu_rows_s = theirs["batch_cpu_rows_per_s"].as_f64().unwrap();
    println!(
        "xgboost {}: inplace_predict nthread=1: one row {xgb_single_us:.1} us (median), batch {xgb_batch_rows_s:.0} rows/s",
        theirs["xgboost_version"]
    );

    let rows_f32 = read_f32(theirs["rows_f32"].as_str().unwrap());
    let expected = read_f32(theirs["predictions_f32"].as_str().unwrap());
    let width = 64;
    let n = expected.len();
    assert_eq!(rows_f32.len(), n * width);
    let rows: Vec<f64> = rows_f32.iter().map(|&v| f64::from(v)).collect();

    let mut model = None;
    for key in ["model_json", "model_ubj"] {
        let path = theirs[key].as_str().unwrap();
        let bytes = std::fs::read(path).unwrap();
        let started = Instant::now();
        let (parsed, check) = XgbModel::parse(&bytes, None)
            .expect("the model loads")
            .expect("detected as XGBoost");
        println!(
            "{key}: {:.1} MB parsed, laid out and self-checked on {} rows in {:.0} ms",
            bytes.len() as f64 / 1e6,
            check.rows,
            started.elapsed().as_secs_f64() * 1e3
        );
        let mut out = vec![0.0; n];
        parsed.predict_proba_batch(&rows, &mut out);
        let differing = out
            .iter()
            .zip(&expected)
            .filter(|(a, e)| (**a as f32).to_bits() != e.to_bits())
            .count();
        println!(
            "{key}: {} of {n} probabilities equal xgboost's bit for bit",
            n - differing
        );
        assert_eq!(differing, 0);
        model = Some(parsed);
    }
    let model = model.unwrap();

    // One row at a time, as a CRM call: the median over many rows.
    let mut times = Vec::with_capacity(20_000);
    let mut cpu_times = Vec::with_capacity(20_000);
    let mut sink = 0.0;
    for r in 0..20_000 {
        let row = &rows[(r % n) * width..(r % n + 1) * width];
        let cpu = thread_cpu_s();
        let started = Instant::now();
        sink += model.predict_proba(row);
        times.push(started.elapsed().as_secs_f64() * 1e6);
        cpu_times.push((thread_cpu_s() - cpu) * 1e6);
    }
    let single_us = median(times);
    let single_cpu_us = median(cpu_times);
    let (mut best_batch, mut best_batch_cpu) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..3 {
        let mut out = vec![0.0; n];
        let cpu = thread_cpu_s();
        let started = Instant::now();
        model.predict_proba_batch(&rows, &mut out);
        best_batch = best_batch.min(started.elapsed().as_secs_f64());
        best_batch_cpu = best_batch_cpu.min(thread_cpu_s() - cpu);
        sink += out[0];
    }
    let batch_rows_s = n as f64 / best_batch;
    let batch_cpu_rows_s = n as f64 / best_batch_cpu;
    println!(
        "switchboard, wall time: one row {single_us:.2} us (median) = {:.1}x xgboost; batch {batch_rows_s:.0} rows/s one thread = {:.1}x xgboost",
        xgb_single_us / single_us,
        batch_rows_s / xgb_batch_rows_s
    );
    println!(
        "switchboard, CPU time: one row {single_cpu_us:.2} us vs xgboost {xgb_single_cpu_us:.1} us = {:.1}x; batch {batch_cpu_rows_s:.0} rows/s vs xgboost {xgb_batch_cpu_rows_s:.0} = {:.1}x (checksum {sink:.3})",
        xgb_single_cpu_us / single_cpu_us,
        batch_cpu_rows_s / xgb_batch_cpu_rows_s
    );

    // A whole scoring run: the XGBoost model against the demo LightGBM model.
    let settings = Settings::from_env();
    let server = db::resolve_url(&settings.database)
        .await
        .expect("a PostgreSQL server");
    let accounts = bench_accounts();
    let (_url, pool) = scratch_database(&server, DATABASE).await;
    let (_dir, input) = population_file(accounts, 20_261_205).await;

    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&model_json).unwrap()).unwrap();
    doc["learner"]["feature_names"] = serde_json::json!(FEATURE_NAMES.as_slice());
    let renamed = serde_json::to_vec(&doc).unwrap();
    let registry = ModelRegistry::new();
    let (xgb_row, _) = registry
        .register(&pool, renamed, None, "xgb-bench", "1", "bench")
        .await
        .expect("xgboost model registers");
    let demo = std::fs::read(root.join("models/demo/model.txt")).unwrap();
    let (demo_row, _) = registry
        .register(&pool, demo, None, "demo", "1", "bench")
        .await
        .expect("demo model registers");

    let mut totals = Vec::new();
    for (label, id) in [("xgboost", xgb_row.id), ("lightgbm demo", demo_row.id)] {
        registry.activate(&pool, id).await.expect("activates");
        let model = registry.active().expect("active");
        let mut best = f64::INFINITY;
        for attempt in 1..=2 {
            let timings = scoring_run(&pool, &registry, model.clone(), &input, accounts, 0).await;
            println!("{label} run {attempt}: {timings}");
            best = best.min(timings.total_s);
        }
        totals.push(best);
    }
    println!(
        "scoring run of {accounts} accounts: xgboost {:.2} s, lightgbm demo {:.2} s (best of 2 each): xgboost takes {:.2}x the LightGBM run",
        totals[0],
        totals[1],
        totals[0] / totals[1]
    );
    drop_database(&server, DATABASE, pool).await;
}
