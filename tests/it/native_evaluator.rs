//! The native evaluator against LightGBM itself (through `lightgbm3`), on models trained
//! here so the repository carries no model fixtures.
//!
//! Models are trained through `scoring::training` (LightGBM's C API), which can set
//! `categorical_feature` and `zero_as_missing` where LightGBM reads them.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use switchboard::scoring::native::NativeModel;
use switchboard::scoring::reference::ReferenceBooster;
use switchboard::scoring::training::train_model;

/// Deterministic data for the tests.
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
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn int(&mut self, n: u64) -> f64 {
        (self.next_u64() % n) as f64
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Trains through LightGBM's C API and returns the model text (`save_model` format).
fn train(
    x: &[f64],
    y: &[f32],
    names: &[String],
    dataset_params: &str,
    params: &str,
    iterations: usize,
) -> String {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    train_model(x, y, &names, dataset_params, params, iterations).expect("LightGBM trains")
}

const COMMON: &str = "deterministic=true seed=7 num_threads=1 verbose=-1 force_row_wise=true";
const LONG_NAME: &str =
    "monthly_internet_usage_gigabytes_rolling_three_month_average_excluding_promotional_days";

/// Numerical data: NaN in several features, a zero-heavy feature, a feature with exact
/// zeros between negatives and positives, integers.
fn numerical_data(n: usize, seed: u64) -> (Vec<f64>, Vec<f32>, Vec<String>) {
    let mut rng = Rng(seed);
    let mut names: Vec<String> = (0..12).map(|i| format!("num_{i}")).collect();
    names[11] = LONG_NAME.to_string();
    let mut x = Vec::with_capacity(n * 12);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let f0 = rng.uniform(-3.0, 3.0);
        let f1 = if rng.chance(0.25) {
            f64::NAN
        } else {
            rng.uniform(-3.0, 3.0)
        };
        let f2 = if rng.chance(0.1) {
            f64::NAN
        } else {
            rng.int(11)
        };
        let f3 = if rng.chance(0.7) {
            0.0
        } else {
            rng.uniform(-1.0, 5.0)
        };
        let f4 = match rng.int(3) as u32 {
            0 => rng.uniform(-2.0, -0.001),
            1 => 0.0,
            _ => rng.uniform(0.001, 2.0),
        };
        let mut row = vec![f0, f1, f2, f3, f4];
        for j in 5..12 {
            row.push(if rng.chance(0.05 * (j - 4) as f64) {
                f64::NAN
            } else {
                rng.uniform(-1.0, 1.0)
            });
        }
        let logit = 1.2 * f0 - 0.8 * if f1.is_nan() { 1.0 } else { f1 }
            + 0.3 * if f2.is_nan() { -3.0 } else { f2 - 5.0 }
            + if f3 == 0.0 { 0.7 } else { -0.3 * f3 }
            + 0.8 * f4.signum() * f64::from(f4 != 0.0)
            + 1.5 * row[5] * if row[6].is_nan() { 0.5 } else { row[6] }
            + rng.uniform(-1.0, 1.0);
        y.push(if rng.chance(sigmoid(logit)) { 1.0 } else { 0.0 });
        x.extend(row);
    }
    (x, y, names)
}

/// Three categorical features (12, 70 and 4 categories; NaN and -1 among them) and three
/// numerical ones.
fn categorical_data(n: usize, seed: u64) -> (Vec<f64>, Vec<f32>, Vec<String>) {
    let mut rng = Rng(seed);
    let names: Vec<String> = [
        "product_mix",
        "region",
        "infra_type",
        "bill",
        "usage",
        "tenure",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut x = Vec::with_capacity(n * 6);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let c0 = if rng.chance(0.05) {
            f64::NAN
        } else if rng.chance(0.03) {
            -1.0
        } else {
            rng.int(12)
        };
        let c1 = if rng.chance(0.05) {
            f64::NAN
        } else {
            rng.int(70)
        };
        let c2 = rng.int(4);
        let bill = rng.uniform(10.0, 200.0);
        let usage = if rng.chance(0.2) {
            f64::NAN
        } else {
            rng.uniform(0.0, 500.0)
        };
        let tenure = rng.int(120);
        let logit = if [1.0, 3.0, 5.0, 7.0].contains(&c0) {
            1.0
        } else {
            -0.5
        } + if !c1.is_nan() && (c1 as i64) % 3 == 0 {
            0.8
        } else {
            -0.2
        } + if c2 == 2.0 { 0.9 } else { 0.0 }
            + 0.01 * (bill - 100.0)
            + if usage.is_nan() {
                0.4
            } else {
                0.002 * (usage - 250.0)
            }
            - 0.01 * tenure
            + rng.uniform(-1.0, 1.0);
        y.push(if rng.chance(sigmoid(logit)) { 1.0 } else { 0.0 });
        x.extend([c0, c1, c2, bill, usage, tenure]);
    }
    (x, y, names)
}

struct Models {
    numerical: String,
    zero_as_missing: String,
    random_forest: String,
    categorical: String,
    multiclass: String,
}

fn models() -> &'static Models {
    static MODELS: OnceLock<Models> = OnceLock::new();
    MODELS.get_or_init(|| {
        let (x, y, names) = numerical_data(3000, 1);
        let numerical = train(
            &x,
            &y,
            &names,
            "verbose=-1",
            &format!("objective=binary num_leaves=15 learning_rate=0.05 min_data_in_leaf=10 {COMMON}"),
            320,
        );
        let zero_as_missing = train(
            &x,
            &y,
            &names,
            "verbose=-1 zero_as_missing=true",
            &format!("objective=binary sigmoid=0.7 num_leaves=15 learning_rate=0.1 min_data_in_leaf=10 {COMMON}"),
            120,
        );
        let random_forest = train(
            &x,
            &y,
            &names,
            "verbose=-1",
            &format!("objective=binary boosting=rf bagging_fraction=0.7 bagging_freq=1 feature_fraction=0.8 num_leaves=15 {COMMON}"),
            40,
        );
        let y3: Vec<f32> = x
            .chunks(12)
            .map(|r| if r[0] < -1.0 { 0.0 } else if r[0] < 1.0 { 1.0 } else { 2.0 })
            .collect();
        let multiclass = train(
            &x,
            &y3,
            &names,
            "verbose=-1",
            &format!("objective=multiclass num_class=3 num_leaves=7 {COMMON}"),
            20,
        );
        let (x, y, names) = categorical_data(3000, 2);
        let categorical = train(
            &x,
            &y,
            &names,
            "verbose=-1 categorical_feature=0,1,2",
            &format!("objective=binary num_leaves=15 learning_rate=0.05 min_data_in_leaf=10 min_data_per_group=5 cat_smooth=1 cat_l2=1 max_cat_threshold=48 {COMMON}"),
            200,
        );
        Models {
            numerical,
            zero_as_missing,
            random_forest,
            categorical,
            multiclass,
        }
    })
}

/// `decision_type` values used in a model text.
fn decision_types(text: &str) -> BTreeSet<i32> {
    text.lines()
        .filter_map(|l| l.strip_prefix("decision_type="))
        .flat_map(|l| l.split(' ').filter_map(|v| v.parse().ok()))
        .collect()
}

/// Thresholds used in a model text (numerical splits only would need decision types;
/// all are returned, categorical bitset indices included).
fn thresholds(text: &str) -> Vec<f64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("threshold="))
        .flat_map(|l| l.split(' ').filter_map(|v| v.parse().ok()))
        .collect()
}

struct Agreement {
    rows: usize,
    max_diff_proba: f64,
    max_diff_raw: f64,
    not_bit_identical: usize,
}

/// Native vs LightGBM on `rows`, probabilities and raw scores, plus batch vs single row.
fn agreement(text: &str, rows: &[f64]) -> Agreement {
    let native = NativeModel::parse(text).unwrap();
    let reference = ReferenceBooster::from_string(text).unwrap();
    let nf = native.num_features();
    assert_eq!(reference.num_features(), nf);
    let n = rows.len() / nf;
    let proba = reference.predict_proba(rows, nf).unwrap();
    let raw = reference.predict_raw(rows, nf).unwrap();
    assert_eq!(proba.len(), n);
    let mut batch = vec![0.0; n];
    native.predict_proba_batch(rows, &mut batch);
    let mut result = Agreement {
        rows: n,
        max_diff_proba: 0.0,
        max_diff_raw: 0.0,
        not_bit_identical: 0,
    };
    for (i, row) in rows.chunks(nf).enumerate() {
        let p = native.predict_proba(row);
        let r = native.predict_raw(row);
        assert_eq!(
            p.to_bits(),
            batch[i].to_bits(),
            "batch differs from single row {i}"
        );
        let dp = (p - proba[i]).abs();
        let dr = (r - raw[i]).abs();
        assert!(
            dp <= 1e-12 && dr <= 1e-12,
            "row {i} {row:?}: native {p} / {r}, LightGBM {} / {}",
            proba[i],
            raw[i]
        );
        result.max_diff_proba = result.max_diff_proba.max(dp);
        result.max_diff_raw = result.max_diff_raw.max(dr);
        if p.to_bits() != proba[i].to_bits() || r.to_bits() != raw[i].to_bits() {
            result.not_bit_identical += 1;
        }
    }
    result
}

/// Verification rows, training-like rows, and rows of thresholds with NaN/0/-0 mixed in.
fn test_rows(text: &str, data: &[f64], seed: u64) -> Vec<f64> {
    let native = NativeModel::parse(text).unwrap();
    let nf = native.num_features();
    let mut rows = native.verification_rows(seed);
    rows.extend_from_slice(&data[..1000 * nf]);
    let ts = thresholds(text);
    let mut rng = Rng(seed ^ 0xABCD);
    for _ in 0..2000 {
        for _ in 0..nf {
            let v = match rng.int(6) as u32 {
                0 => f64::NAN,
                1 => 0.0,
                2 => -0.0,
                _ => ts[rng.next_u64() as usize % ts.len()],
            };
            rows.push(v);
        }
    }
    rows
}

fn report(name: &str, a: &Agreement) {
    println!(
        "{name}: {} rows, max |diff| proba {:e}, raw {:e}, {} not bit-identical",
        a.rows, a.max_diff_proba, a.max_diff_raw, a.not_bit_identical
    );
}

#[test]
fn numerical_model_agrees_with_lightgbm() {
    let text = &models().numerical;
    let native = NativeModel::parse(text).unwrap();
    assert!(native.num_trees() >= 300, "{} trees", native.num_trees());
    assert!(native.is_binary());
    assert_eq!(native.objective(), "binary sigmoid:1");
    // Names are never truncated (lightgbm3's `feature_name()` cuts at 64 bytes).
    assert_eq!(native.feature_names()[11], LONG_NAME);
    assert!(native.categorical_features().is_empty());
    // The training data had NaN: missing type NaN occurs, with the default-left bit.
    let types = decision_types(text);
    assert!(types.iter().any(|t| (t >> 2) & 3 == 2), "{types:?}");
    assert!(
        types.iter().any(|t| (t >> 2) & 3 == 2 && t & 2 != 0),
        "{types:?}"
    );
    let ts = thresholds(text);
    println!(
        "numerical decision types {types:?}, |threshold| == kZeroThreshold: {}",
        ts.iter().filter(|t| t.abs() == 1e-35_f32 as f64).count()
    );

    let (data, _, _) = numerical_data(3000, 11);
    let rows = test_rows(text, &data, 3);
    let (taken, total) = native.split_coverage(&native.verification_rows(3));
    println!("numerical: verification rows take {taken} of {total} split directions");
    assert_eq!(taken, total);
    let a = agreement(text, &rows);
    report("numerical", &a);
    assert!(a.rows >= 5000);
}

#[test]
fn zero_as_missing_model_agrees_with_lightgbm() {
    let text = &models().zero_as_missing;
    let native = NativeModel::parse(text).unwrap();
    assert_eq!(native.objective(), "binary sigmoid:0.7");
    let types = decision_types(text);
    println!("zero_as_missing decision types {types:?}");
    assert!(
        types.iter().any(|t| (t >> 2) & 3 == 1),
        "missing type Zero: {types:?}"
    );
    let (data, _, _) = numerical_data(3000, 12);
    let rows = test_rows(text, &data, 4);
    let (taken, total) = native.split_coverage(&native.verification_rows(4));
    println!("zero_as_missing: verification rows take {taken} of {total} split directions");
    assert_eq!(taken, total);
    let a = agreement(text, &rows);
    report("zero_as_missing", &a);
}

#[test]
fn random_forest_average_output_agrees_with_lightgbm() {
    let text = &models().random_forest;
    let native = NativeModel::parse(text).unwrap();
    assert!(native.average_output());
    let (data, _, _) = numerical_data(3000, 13);
    let a = agreement(text, &test_rows(text, &data, 5));
    report("random forest", &a);
}

#[test]
fn categorical_model_agrees_with_lightgbm() {
    let text = &models().categorical;
    let native = NativeModel::parse(text).unwrap();
    assert_eq!(native.categorical_features(), vec![0, 1, 2]);
    let types = decision_types(text);
    assert!(types.iter().any(|t| t & 1 == 1), "{types:?}");
    // The 70-category feature needs bitsets of more than one word.
    assert!(
        text.lines()
            .any(|l| l.starts_with("num_cat=") && l != "num_cat=0")
    );
    let (data, _, _) = categorical_data(3000, 21);
    let mut rows = test_rows(text, &data, 6);
    // Categories beyond anything seen, fractional, negative, huge.
    let mut rng = Rng(99);
    for _ in 0..2000 {
        for j in 0..6 {
            rows.push(if j < 3 {
                match rng.int(8) as u32 {
                    0 => f64::NAN,
                    1 => -rng.int(3) - 0.5,
                    2 => rng.uniform(0.0, 80.0),
                    3 => 1e12,
                    4 => -0.0,
                    _ => rng.int(100),
                }
            } else {
                data[rng.int(3000) as usize * 6 + j]
            });
        }
    }
    let (taken, total) = native.split_coverage(&native.verification_rows(6));
    println!("categorical: verification rows take {taken} of {total} split directions");
    assert_eq!(taken, total);
    let a = agreement(text, &rows);
    report("categorical", &a);
}

#[test]
fn multiclass_parses_and_raw_scores_agree() {
    let text = &models().multiclass;
    let native = NativeModel::parse(text).unwrap();
    assert!(!native.is_binary());
    assert_eq!(native.num_tree_per_iteration(), 3);
    let reference = ReferenceBooster::from_string(text).unwrap();
    assert_eq!(reference.num_classes(), 3);
    let (data, _, _) = numerical_data(500, 14);
    let raw = reference.predict_raw(&data, 12).unwrap();
    let mut out = [0.0; 3];
    for (row, expected) in data.chunks(12).zip(raw.chunks(3)) {
        native.predict_raw_multi(row, &mut out);
        assert_eq!(out, expected);
    }
    // SHAP is refused for multi-output models rather than overflowing lightgbm3's buffer.
    assert!(reference.predict_contrib(&data[..24], 12).is_err());
}

#[test]
fn reference_contributions_importance_and_errors() {
    let text = &models().numerical;
    let reference = ReferenceBooster::from_string(text).unwrap();
    let (data, _, _) = numerical_data(50, 15);
    let contrib = reference.predict_contrib(&data, 12).unwrap();
    assert_eq!(contrib.len(), 50 * 13);
    let raw = reference.predict_raw(&data, 12).unwrap();
    for (c, r) in contrib.chunks(13).zip(&raw) {
        let sum: f64 = c.iter().sum();
        assert!((sum - r).abs() < 1e-9, "{sum} vs {r}");
    }
    let split = reference.feature_importance_split().unwrap();
    let gain = reference.feature_importance_gain().unwrap();
    assert_eq!((split.len(), gain.len()), (12, 12));
    assert!(split.iter().sum::<f64>() > 0.0 && gain.iter().sum::<f64>() > 0.0);
    // One row goes through LightGBM's single-row call; same answer as in a batch.
    let one = reference.predict_proba(&data[..12], 12).unwrap();
    let many = reference.predict_proba(&data, 12).unwrap();
    assert_eq!(one[0].to_bits(), many[0].to_bits());
    assert!(reference.predict_proba(&data[..11], 12).is_err());
    assert!(reference.predict_proba(&data[..24], 11).is_err());
    assert!(ReferenceBooster::from_string("not a model").is_err());
    assert!(ReferenceBooster::from_string("tree\0").is_err());
}

#[test]
fn reference_booster_is_shared_between_threads() {
    fn check<T: Send + Sync>() {}
    check::<ReferenceBooster>();
    let text = &models().numerical;
    let reference = ReferenceBooster::from_string(text).unwrap();
    let (data, _, _) = numerical_data(800, 16);
    let sequential = reference.predict_proba(&data, 12).unwrap();
    let sequential_contrib = reference.predict_contrib(&data[..12 * 40], 12).unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..5 {
                        let p = reference.predict_proba(&data, 12).unwrap();
                        assert!(
                            p.iter()
                                .zip(&sequential)
                                .all(|(a, b)| a.to_bits() == b.to_bits())
                        );
                        let c = reference.predict_contrib(&data[..12 * 40], 12).unwrap();
                        assert!(
                            c.iter()
                                .zip(&sequential_contrib)
                                .all(|(a, b)| a.to_bits() == b.to_bits())
                        );
                        let one = reference.predict_proba(&data[..12], 12).unwrap();
                        assert_eq!(one[0].to_bits(), sequential[0].to_bits());
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
}
