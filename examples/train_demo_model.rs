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
//! Training goes through `lightgbm3-sys` rather than `lightgbm3::Dataset`: the latter builds
//! the dataset with empty parameters, and LightGBM fixes `categorical_feature` (and the
//! binning) when the dataset is built, silently ignoring it in the booster's parameters.

use std::error::Error;
use std::ffi::{CStr, CString, c_char, c_void};
use std::path::PathBuf;
use std::time::Instant;

use lightgbm3_sys as sys;
use serde::Serialize;
use sha2::{Digest, Sha256};
use switchboard::scoring::deciles::DecileEdges;
use switchboard::scoring::population::{
    AccountGenerator, CATEGORICAL_FEATURES, FEATURE_NAMES, N_FEATURES,
};

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
    let model_text = train(&train_x, &train_y, &dataset_params, &booster_params)?;
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
    let auc = roc_auc(&scores, &holdout_y);
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

/// Fails with LightGBM's last error message when a C API call did not return 0.
fn check(code: i32) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    // SAFETY: LGBM_GetLastError returns a valid NUL-terminated, thread-local string.
    let message = unsafe { CStr::from_ptr(sys::LGBM_GetLastError()) };
    Err(format!("LightGBM: {}", message.to_string_lossy()).into())
}

/// Owns a LightGBM dataset handle.
struct Dataset(sys::DatasetHandle);

impl Drop for Dataset {
    fn drop(&mut self) {
        // SAFETY: the handle came from LGBM_DatasetCreateFromMat and is freed once.
        unsafe { sys::LGBM_DatasetFree(self.0) };
    }
}

/// Owns a LightGBM booster handle; must be dropped before its training dataset.
struct Booster(sys::BoosterHandle);

impl Drop for Booster {
    fn drop(&mut self) {
        // SAFETY: the handle came from LGBM_BoosterCreate and is freed once.
        unsafe { sys::LGBM_BoosterFree(self.0) };
    }
}

/// Trains `NUM_TREES` trees and returns the model as LightGBM's text format.
fn train(x: &[f64], y: &[f32], dataset_params: &str, booster_params: &str) -> Result<String> {
    let rows = i32::try_from(y.len())?;
    let dataset_params = CString::new(dataset_params)?;
    let booster_params = CString::new(booster_params)?;
    let names: Vec<CString> = FEATURE_NAMES
        .iter()
        .map(|n| CString::new(*n))
        .collect::<std::result::Result<_, _>>()?;
    let mut name_ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
    let label_field = CString::new("label")?;

    let mut dataset = Dataset(std::ptr::null_mut());
    // SAFETY: `x` holds `rows * N_FEATURES` f64 values in row-major order; LightGBM copies
    // them into its bins before returning.
    check(unsafe {
        sys::LGBM_DatasetCreateFromMat(
            x.as_ptr().cast::<c_void>(),
            sys::C_API_DTYPE_FLOAT64 as i32,
            rows,
            N_FEATURES as i32,
            1,
            dataset_params.as_ptr(),
            std::ptr::null_mut(),
            &mut dataset.0,
        )
    })?;
    // SAFETY: `y` holds `rows` f32 labels; LightGBM copies them.
    check(unsafe {
        sys::LGBM_DatasetSetField(
            dataset.0,
            label_field.as_ptr(),
            y.as_ptr().cast::<c_void>(),
            rows,
            sys::C_API_DTYPE_FLOAT32 as i32,
        )
    })?;
    // SAFETY: N_FEATURES valid C strings that outlive the call; LightGBM copies them.
    check(unsafe {
        sys::LGBM_DatasetSetFeatureNames(dataset.0, name_ptrs.as_mut_ptr(), N_FEATURES as i32)
    })?;

    let mut booster = Booster(std::ptr::null_mut());
    // SAFETY: a valid dataset handle that outlives the booster (dropped after it).
    check(unsafe { sys::LGBM_BoosterCreate(dataset.0, booster_params.as_ptr(), &mut booster.0) })?;
    for tree in 1..=NUM_TREES {
        let mut finished = 0;
        // SAFETY: a valid booster handle and a valid out pointer.
        check(unsafe { sys::LGBM_BoosterUpdateOneIter(booster.0, &mut finished) })?;
        if finished != 0 {
            return Err(format!("LightGBM could not grow tree {tree}").into());
        }
        if tree % 100 == 0 {
            println!("  {tree} trees");
        }
    }

    let mut len = 0_i64;
    // SAFETY: a zero-length buffer only asks for the needed size.
    check(unsafe {
        sys::LGBM_BoosterSaveModelToString(booster.0, 0, -1, 0, 0, &mut len, std::ptr::null_mut())
    })?;
    let mut buffer = vec![0_u8; usize::try_from(len)?];
    // SAFETY: `buffer` has room for `len` bytes including the terminating NUL.
    check(unsafe {
        sys::LGBM_BoosterSaveModelToString(
            booster.0,
            0,
            -1,
            0,
            len,
            &mut len,
            buffer.as_mut_ptr().cast::<c_char>(),
        )
    })?;
    drop(booster);
    drop(dataset);
    let text = CStr::from_bytes_until_nul(&buffer)?;
    Ok(text.to_str()?.to_owned())
}

/// ROC AUC with ties counted as half (average ranks), as scikit-learn's `roc_auc_score`.
fn roc_auc(scores: &[f64], labels: &[f32]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let positives = labels.iter().filter(|&&y| y > 0.5).count() as f64;
    let negatives = labels.len() as f64 - positives;
    let mut positive_rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        // Ranks are 1-based; a tie group shares the mean of its ranks.
        let average_rank = (start + 1 + end) as f64 / 2.0;
        let group_positives = order[start..end]
            .iter()
            .filter(|&&i| labels[i] > 0.5)
            .count();
        positive_rank_sum += average_rank * group_positives as f64;
        start = end;
    }
    (positive_rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}
