//! Trains the demo LightGBM model Switchboard ships with, reproducibly.
//!
//! ```text
//! cargo run --release --example train_demo_model [-- --out DIR]
//! ```
//!
//! Generates 200,000 synthetic accounts (seed `TRAIN_SEED`), trains a binary LightGBM model
//! (500 trees, 31 leaves, `infra_type` categorical, one thread, deterministic), writes
//! `DIR/model.txt` (default `models/demo` in this repository), scores a held-out population of
//! 100,000 accounts (seed `HOLDOUT_SEED`) and writes its decile edges (`DecileEdges::from_scores`,
//! as the service computes them), base rate and ROC AUC to `DIR/model.deciles.json` (the decile reference `MODEL_PATH` loads beside the model). Running it
//! again produces byte-identical files.
//!
//! Training goes through `switchboard::scoring::training` (LightGBM's C API), which can set
//! `categorical_feature` where LightGBM reads it: when the dataset is built.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;
use sha2::{Digest, Sha256};
use switchboard::scoring::deciles::DecileEdges;
use switchboard::scoring::evaluation::roc_auc;
use switchboard::scoring::population::{
    AccountGenerator, CATEGORICAL_FEATURES, FEATURE_NAMES, N_FEATURES,
};
use switchboard::scoring::training::train_model;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Seed of the training population.
const TRAIN_SEED: u64 = 20_261_101;
/// Seed of the held-out population the decile edges come from.
const HOLDOUT_SEED: u64 = 20_261_102;
const TRAIN_ROWS: usize = 200_000;
const HOLDOUT_ROWS: usize = 100_000;
const NUM_TREES: usize = 500;
/// LightGBM's own seed (bagging, feature fraction); fixed for reproducibility.
const LGBM_SEED: u64 = 7;

fn main() -> Result<()> {
    let out_dir = output_dir()?;
    std::fs::create_dir_all(&out_dir)?;

    let categorical: Vec<String> = CATEGORICAL_FEATURES
        .iter()
        .map(|name| {
            FEATURE_NAMES
                .iter()
                .position(|n| n == name)
                .map(|i| i.to_string())
                .ok_or_else(|| format!("categorical feature {name} is not a feature"))
        })
        .collect::<std::result::Result<_, _>>()?;
    let categorical = categorical.join(",");

    // Everything that shapes the bins or the trees is pinned, so reruns are byte-identical.
    let dataset_params = format!(
        "categorical_feature={categorical} max_bin=255 bin_construct_sample_cnt={TRAIN_ROWS} \
         data_random_seed={LGBM_SEED} num_threads=1 deterministic=true verbosity=-1"
    );
    let booster_params = format!(
        "objective=binary metric=auc num_iterations={NUM_TREES} num_leaves=31 \
         learning_rate=0.05 min_data_in_leaf=50 lambda_l2=1.0 feature_fraction=0.9 \
         bagging_fraction=0.8 bagging_freq=1 seed={LGBM_SEED} num_threads=1 deterministic=true \
         force_col_wise=true {dataset_params}"
    );

    let started = Instant::now();
    let (train_x, train_y) = generate(TRAIN_SEED, TRAIN_ROWS);
    let train_base_rate = mean(&train_y);
    println!(
        "generated {TRAIN_ROWS} training accounts (seed {TRAIN_SEED}, base rate {:.4}%) in {:.2} s",
        100.0 * train_base_rate,
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let model_text = train_model(
        &train_x,
        &train_y,
        &FEATURE_NAMES,
        &dataset_params,
        &booster_params,
        NUM_TREES,
    )?;
    let train_seconds = started.elapsed().as_secs_f64();
    drop(train_x);

    let model_path = out_dir.join("model.txt");
    std::fs::write(&model_path, &model_text)?;
    let sha256 = hex::encode(Sha256::digest(model_text.as_bytes()));
    let trees = model_text
        .lines()
        .filter(|l| l.starts_with("Tree="))
        .count();
    let categorical_splits = model_text
        .lines()
        .filter(|l| l.starts_with("num_cat=") && l != &"num_cat=0")
        .count();

    let booster = lightgbm3::Booster::from_string(&model_text)?;
    if booster.num_features() != N_FEATURES as i32 || trees != NUM_TREES {
        return Err(format!(
            "model has {} features and {trees} trees, expected {N_FEATURES} and {NUM_TREES}",
            booster.num_features()
        )
        .into());
    }

    let started = Instant::now();
    let (holdout_x, holdout_y) = generate(HOLDOUT_SEED, HOLDOUT_ROWS);
    let scores = booster.predict(&holdout_x, N_FEATURES as i32, true)?;
    let score_seconds = started.elapsed().as_secs_f64();
    let labels: Vec<bool> = holdout_y.iter().map(|&y| y > 0.5).collect();
    let auc = roc_auc(&scores, &labels).ok_or("the held-out population has only one class")?;
    let base_rate = mean(&holdout_y);
    // The same edges the service computes for a population (pandas' qcut).
    let edges = DecileEdges::from_scores(&scores).ok_or("held-out scores are not all finite")?;

    let population = PopulationFile {
        description: "Demo population: held-out synthetic accounts scored by the demo model",
        model_sha256: &sha256,
        n: HOLDOUT_ROWS,
        seed: HOLDOUT_SEED,
        base_rate,
        auc,
        edges: edges.edges,
        degenerate: edges.degenerate,
        train_n: TRAIN_ROWS,
        train_seed: TRAIN_SEED,
        train_base_rate,
    };
    let population_path = out_dir.join("model.deciles.json");
    let mut json = serde_json::to_string_pretty(&population)?;
    json.push('\n');
    std::fs::write(&population_path, json)?;

    println!(
        "trained {trees} trees on {N_FEATURES} features in {train_seconds:.2} s \
         ({categorical_splits} trees with categorical splits)"
    );
    println!(
        "model: {} ({} bytes, sha256 {sha256})",
        model_path.display(),
        model_text.len()
    );
    println!(
        "held-out: {HOLDOUT_ROWS} accounts (seed {HOLDOUT_SEED}) scored in {score_seconds:.2} s, \
         base rate {:.4}%, ROC AUC {auc:.4}",
        100.0 * base_rate
    );
    println!("decile edges: {:?}", edges.edges);
    println!("population: {}", population_path.display());
    Ok(())
}

/// `model.deciles.json`; a struct (not `json!`) so the key order never depends on serde_json's
/// `preserve_order` feature.
#[derive(Serialize)]
struct PopulationFile<'a> {
    description: &'a str,
    model_sha256: &'a str,
    n: usize,
    seed: u64,
    base_rate: f64,
    auc: f64,
    edges: [f64; 11],
    degenerate: bool,
    train_n: usize,
    train_seed: u64,
    train_base_rate: f64,
}

/// `--out DIR` if given, else `models/demo` under the package root.
fn output_dir() -> Result<PathBuf> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (None, _) => Ok(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/demo")),
        (Some("--out"), Some(dir)) => Ok(PathBuf::from(dir)),
        _ => Err("usage: train_demo_model [--out DIR]".into()),
    }
}

/// `rows` accounts of population `seed`: row-major features and 0/1 labels.
fn generate(seed: u64, rows: usize) -> (Vec<f64>, Vec<f32>) {
    let mut generator = AccountGenerator::new(seed);
    let mut x = vec![0.0; rows * N_FEATURES];
    let mut y = Vec::with_capacity(rows);
    for row in x.chunks_exact_mut(N_FEATURES) {
        y.push(if generator.next_account(row) {
            1.0
        } else {
            0.0
        });
    }
    (x, y)
}

fn mean(y: &[f32]) -> f64 {
    y.iter().map(|&v| f64::from(v)).sum::<f64>() / y.len() as f64
}
