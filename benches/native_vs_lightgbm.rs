//! Native evaluator vs LightGBM (lightgbm3) on a 500-tree, 64-feature binary model.
//!
//! Run with `cargo bench --bench native_vs_lightgbm`. The model is the shipped demo model,
//! `models/demo/model.txt` (500 trees, 64 features, one categorical), or the file named by
//! `SWITCHBOARD_BENCH_MODEL`. Rows are drawn from each feature's `feature_infos` range
//! (categories from its list), with 5 % NaN.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

use std::hint::black_box;
use std::time::Instant;

use lightgbm3::Booster;
use switchboard::scoring::native::NativeModel;
use switchboard::scoring::population::{AccountGenerator, FEATURE_NAMES, N_FEATURES};
use switchboard::scoring::reference::ReferenceBooster;

const BATCH_ROWS: usize = 100_000;
const SINGLE_ROWS_NATIVE: usize = 20_000;
const SINGLE_ROWS_LIGHTGBM: usize = 2_000;

struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How the rows sample one feature.
enum Sampler {
    Range(f64, f64),
    Values(Vec<f64>),
}

/// Rows drawn from each feature's `feature_infos`: uniform in `[min:max]`, or one of the
/// listed categories; 5 % NaN.
fn sample_rows(model: &NativeModel, n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng(seed);
    let samplers: Vec<Sampler> = model
        .feature_infos()
        .iter()
        .map(|info| {
            if let Some(range) = info.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                let (lo, hi) = range.split_once(':').unwrap();
                Sampler::Range(lo.parse().unwrap(), hi.parse().unwrap())
            } else if info == "none" {
                Sampler::Values(vec![0.0])
            } else {
                Sampler::Values(info.split(':').map(|c| c.parse().unwrap()).collect())
            }
        })
        .collect();
    let mut rows = Vec::with_capacity(n * samplers.len());
    for _ in 0..n {
        for sampler in &samplers {
            let v = if rng.unit() < 0.05 {
                f64::NAN
            } else {
                match sampler {
                    Sampler::Range(lo, hi) => lo + (hi - lo) * rng.unit(),
                    Sampler::Values(values) => {
                        values[(rng.next_u64() % values.len() as u64) as usize]
                    }
                }
            };
            rows.push(v);
        }
    }
    rows
}

/// CPU time of this thread in ns (time while descheduled does not count; the machines are
/// shared, so this is the steadier figure).
#[cfg(target_os = "linux")]
#[allow(unsafe_code, reason = "clock_gettime through its C declaration")]
fn thread_cpu_ns() -> Option<f64> {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `ts` is a valid `struct timespec` (64-bit Linux layout) for the call.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then_some(ts.sec as f64 * 1e9 + ts.nsec as f64)
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_ns() -> Option<f64> {
    None
}

/// Median wall time and median thread CPU time (ns) of `reps` runs of `f`, after one
/// warm-up run.
fn median(reps: usize, mut f: impl FnMut()) -> (f64, f64) {
    f();
    let mut wall = Vec::with_capacity(reps);
    let mut cpu = Vec::with_capacity(reps);
    for _ in 0..reps {
        let (c0, start) = (thread_cpu_ns(), Instant::now());
        f();
        let elapsed = start.elapsed().as_nanos() as f64;
        wall.push(elapsed);
        cpu.push(match (c0, thread_cpu_ns()) {
            (Some(a), Some(b)) => b - a,
            _ => elapsed,
        });
    }
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    (wall[reps / 2], cpu[reps / 2])
}

/// `n` accounts of the synthetic demo population, when the model is the demo model's shape.
fn population_rows(model: &NativeModel, n: usize) -> Option<Vec<f64>> {
    if model.feature_names() != FEATURE_NAMES {
        return None;
    }
    let mut generator = AccountGenerator::new(11);
    let mut rows = vec![0.0; n * N_FEATURES];
    for row in rows.chunks_exact_mut(N_FEATURES) {
        generator.next_account(row);
    }
    Some(rows)
}

fn main() {
    let path = std::env::var("SWITCHBOARD_BENCH_MODEL")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/models/demo/model.txt").into());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let source = path;
    let native = NativeModel::parse(&text).expect("native parse");
    let reference = ReferenceBooster::from_string(&text).expect("lightgbm3 load");
    let mut fast = Booster::from_string(&text).expect("lightgbm3 load");
    fast.single_row_fast_init::<f64>(None).expect("fast init");
    let nf = native.num_features();
    println!(
        "model: {source}\n  {} trees, {nf} features, categorical {:?}, objective `{}`, {} bytes",
        native.num_trees(),
        native.categorical_features(),
        native.objective(),
        text.len()
    );

    let rows = sample_rows(&native, BATCH_ROWS, 7);

    // Agreement first.
    let mut native_out = vec![0.0; BATCH_ROWS];
    native.predict_proba_batch(&rows, &mut native_out);
    let lgbm_out = reference
        .predict_proba(&rows, nf)
        .expect("lightgbm3 predict");
    let max_diff_batch = native_out
        .iter()
        .zip(&lgbm_out)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let identical = native_out
        .iter()
        .zip(&lgbm_out)
        .filter(|(a, b)| a.to_bits() == b.to_bits())
        .count();
    let mut max_diff_single = 0.0_f64;
    for row in rows.chunks(nf).take(SINGLE_ROWS_LIGHTGBM) {
        let l = fast.predict_single_row_fast(row).expect("fast predict")[0];
        max_diff_single = max_diff_single.max((native.predict_proba(row) - l).abs());
    }
    let start = Instant::now();
    let verification = black_box(native.verification_rows(black_box(1)));
    let verification_time = start.elapsed();
    let vn = verification.len() / nf;
    let start = Instant::now();
    let vl = reference
        .predict_proba(&verification, nf)
        .expect("lightgbm3 predict");
    let verification_lgbm = start.elapsed();
    let max_diff_verification = verification
        .chunks(nf)
        .zip(&vl)
        .map(|(row, l)| (native.predict_proba(row) - l).abs())
        .fold(0.0, f64::max);
    let (taken, total) = native.split_coverage(&verification);

    let population = population_rows(&native, BATCH_ROWS);
    measure(
        "uniform over each feature's [min:max] (categories from its list), 5 % NaN",
        &native,
        &reference,
        &mut fast,
        &rows,
    );
    if let Some(population) = &population {
        measure(
            "the demo population (switchboard population), as scored in production",
            &native,
            &reference,
            &mut fast,
            population,
        );
    }

    println!("\nagreement with LightGBM");
    println!(
        "  batch: max |diff| {max_diff_batch:e} over {BATCH_ROWS} rows, {identical} bit-identical"
    );
    println!("  single row fast: max |diff| {max_diff_single:e} over {SINGLE_ROWS_LIGHTGBM} rows");
    println!(
        "  verification rows: {vn} rows built in {:.0} ms, LightGBM scores them in {:.0} ms, \
         max |diff| {max_diff_verification:e}, {taken} of {total} split directions taken",
        verification_time.as_secs_f64() * 1e3,
        verification_lgbm.as_secs_f64() * 1e3
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average while running: {}", load.trim());
    }
}

/// Times single-row and batch prediction of both evaluators on `rows` and prints the table.
fn measure(
    label: &str,
    native: &NativeModel,
    reference: &ReferenceBooster,
    fast: &mut Booster,
    rows: &[f64],
) {
    let nf = native.num_features();
    let mut native_out = vec![0.0; BATCH_ROWS];
    let visited: usize = rows.chunks(nf).map(|r| native.nodes_visited(r)).sum();
    let nodes_per_row = visited as f64 / BATCH_ROWS as f64;
    let masks: Option<usize> = rows.chunks(nf).map(|r| native.quick_scorer_work(r)).sum();
    println!("\n== rows: {label}");
    native.predict_proba_batch(rows, &mut native_out);
    let lgbm_out = reference
        .predict_proba(rows, nf)
        .expect("lightgbm3 predict");
    let identical = native_out
        .iter()
        .zip(&lgbm_out)
        .filter(|(a, b)| a.to_bits() == b.to_bits())
        .count();
    println!("bit-identical to LightGBM: {identical} of {BATCH_ROWS} rows");

    let single_rows = &rows[..SINGLE_ROWS_NATIVE * nf];
    let native_single = median(9, || {
        let mut acc = 0.0;
        for row in single_rows.chunks_exact(nf) {
            acc += native.predict_proba(black_box(row));
        }
        black_box(acc);
    });
    let lgbm_rows = &rows[..SINGLE_ROWS_LIGHTGBM * nf];
    let lgbm_single = median(5, || {
        let mut acc = 0.0;
        for row in lgbm_rows.chunks_exact(nf) {
            acc += fast
                .predict_single_row_fast(black_box(row))
                .expect("fast predict")[0];
        }
        black_box(acc);
    });

    // Batch, one thread.
    let native_batch = median(5, || {
        native.predict_proba_batch(black_box(rows), black_box(&mut native_out));
    });
    let lgbm_batch = median(3, || {
        black_box(
            reference
                .predict_proba(black_box(rows), nf)
                .expect("lightgbm3 predict"),
        );
    });

    // (wall, cpu) pairs.
    let per = |(w, c): (f64, f64), n: usize| (w / n as f64, c / n as f64);
    let ns1 = per(native_single, SINGLE_ROWS_NATIVE);
    let ls1 = per(lgbm_single, SINGLE_ROWS_LIGHTGBM);
    let nsb = per(native_batch, BATCH_ROWS);
    let lsb = per(lgbm_batch, BATCH_ROWS);
    let rps = |ns: f64| 1e9 / ns;
    println!("\n                                        wall clock    thread CPU time");
    println!("single row (median of repetitions)");
    println!(
        "  native predict_proba        ns/row {:>12.0} {:>14.0}",
        ns1.0, ns1.1
    );
    println!(
        "  lightgbm3 single_row_fast   ns/row {:>12.0} {:>14.0}",
        ls1.0, ls1.1
    );
    println!(
        "  speed-up                           {:>11.1}x {:>13.1}x",
        ls1.0 / ns1.0,
        ls1.1 / ns1.1
    );
    println!("batch of {BATCH_ROWS} rows, one thread (median of repetitions)");
    println!(
        "  native predict_proba_batch  rows/s {:>12.0} {:>14.0}",
        rps(nsb.0),
        rps(nsb.1)
    );
    println!(
        "  lightgbm3 predict           rows/s {:>12.0} {:>14.0}",
        rps(lsb.0),
        rps(lsb.1)
    );
    println!(
        "  speed-up                           {:>11.1}x {:>13.1}x",
        lsb.0 / nsb.0,
        lsb.1 / nsb.1
    );
    println!("nodes visited per row: {nodes_per_row:.1} (on the paths LightGBM walks)");
    if let Some(masks) = masks {
        println!(
            "QuickScorer masks applied per row: {:.1}",
            masks as f64 / BATCH_ROWS as f64
        );
    }
    println!(
        "  native ns/node, single row         {:>12.2} {:>14.2}",
        ns1.0 / nodes_per_row,
        ns1.1 / nodes_per_row
    );
    println!(
        "  native ns/node, batch              {:>12.2} {:>14.2}",
        nsb.0 / nodes_per_row,
        nsb.1 / nodes_per_row
    );
    println!(
        "  lightgbm3 ns/node, single row      {:>12.2} {:>14.2}",
        ls1.0 / nodes_per_row,
        ls1.1 / nodes_per_row
    );
    println!(
        "  lightgbm3 ns/node, batch           {:>12.2} {:>14.2}",
        lsb.0 / nodes_per_row,
        lsb.1 / nodes_per_row
    );
}
