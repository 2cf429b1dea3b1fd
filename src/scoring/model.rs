//! A model ready to score: LightGBM (the reference) plus, when it proved equal on load, the
//! native evaluator of the same trees.

use std::{collections::HashMap, sync::Arc};

use arc_swap::ArcSwapOption;

use sha2::{Digest, Sha256};

use super::{
    deciles::DecileEdges,
    native::NativeModel,
    reference::{ReferenceBooster, ReferenceError},
};

/// Largest |native − LightGBM| accepted when a model loads.
pub const NATIVE_TOLERANCE: f64 = 1e-12;

/// Below this many rows, rows are predicted one at a time (see `LoadedModel::predict`).
const SMALL_BATCH_ROWS: usize = 8;

/// Seed of the synthetic verification rows (fixed, so a model's check is reproducible).
const VERIFICATION_SEED: u64 = 0x5ee_d0c5;

/// Why a model text was refused.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("not a valid LightGBM model: {0}")]
    Invalid(String),
    #[error("only binary classifiers can be served; this model's objective is `{0}`")]
    NotBinary(String),
    #[error("the model text is not UTF-8")]
    NotUtf8,
}

/// Outcome of comparing the native evaluator with LightGBM at load.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeCheck {
    /// True when the native evaluator serves predictions.
    pub passed: bool,
    /// Rows compared.
    pub rows: usize,
    /// Largest absolute difference in probability (None when the native parser refused).
    pub max_abs_diff: Option<f64>,
    /// Why it failed, in words.
    pub detail: String,
}

/// A model in memory, immutable; swapped as a whole when another model is activated.
pub struct LoadedModel {
    pub id: i64,
    pub name: String,
    pub version_label: String,
    pub sha256: String,
    pub feature_names: Vec<String>,
    pub categorical_features: Vec<String>,
    pub tree_count: usize,
    pub objective: String,
    pub native_check: NativeCheck,
    /// Swappable on its own: a scoring run can become the reference of a serving model.
    pub deciles: ArcSwapOption<DecileReference>,
    feature_index: HashMap<String, usize>,
    reference: ReferenceBooster,
    /// Serves predictions when it proved equal to LightGBM at load; otherwise LightGBM does.
    native: Option<NativeModel>,
}

/// The decile edges online scores are cut with.
#[derive(Debug, Clone, PartialEq)]
pub struct DecileReference {
    pub edges: DecileEdges,
    /// Where the edges came from (a file, a scoring run).
    pub source: String,
    /// Accounts in the population the edges were cut from.
    pub population: Option<i64>,
}

/// What parsing a model text yields before it is stored.
pub struct ParsedModel {
    pub sha256: String,
    pub feature_names: Vec<String>,
    pub categorical_features: Vec<String>,
    pub tree_count: usize,
    pub objective: String,
    pub native_check: NativeCheck,
    reference: ReferenceBooster,
    native: Option<NativeModel>,
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl ParsedModel {
    /// Validates the text with LightGBM, insists on a binary objective, and checks the
    /// native evaluator against LightGBM. CPU-heavy (tens of ms): call off the async threads.
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        let reference = ReferenceBooster::from_string(text).map_err(describe_reference_error)?;
        let header = Header::read(text);
        let objective = header.objective.clone().unwrap_or_default();
        let is_binary = objective.split_whitespace().next() == Some("binary");
        if !is_binary || reference.num_classes() != 1 {
            return Err(ModelError::NotBinary(if objective.is_empty() {
                "(none)".into()
            } else {
                objective
            }));
        }
        let (native, native_check) = match NativeModel::parse(text) {
            Ok(native) => {
                let check = verify_native(&native, &reference);
                (check.passed.then_some(native), check)
            }
            Err(e) => (
                None,
                NativeCheck {
                    passed: false,
                    rows: 0,
                    max_abs_diff: None,
                    detail: format!("the native parser refused the model: {e}"),
                },
            ),
        };
        if !native_check.passed {
            tracing::warn!(detail = %native_check.detail, "native evaluator disabled for this model; LightGBM serves it");
        }
        let feature_names = header.feature_names.unwrap_or_else(|| {
            (0..reference.num_features())
                .map(|i| format!("Column_{i}"))
                .collect()
        });
        let categorical_features = native
            .as_ref()
            .map(|n| {
                n.categorical_features()
                    .into_iter()
                    .filter_map(|i| feature_names.get(i).cloned())
                    .collect()
            })
            .unwrap_or_default();
        Ok(ParsedModel {
            sha256: sha256_hex(text),
            feature_names,
            categorical_features,
            tree_count: header.tree_count,
            objective,
            native_check,
            reference,
            native,
        })
    }

    pub fn into_loaded(
        self,
        id: i64,
        name: String,
        version_label: String,
        deciles: Option<DecileReference>,
    ) -> LoadedModel {
        let feature_index = self
            .feature_names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        LoadedModel {
            id,
            name,
            version_label,
            sha256: self.sha256,
            feature_names: self.feature_names,
            categorical_features: self.categorical_features,
            tree_count: self.tree_count,
            objective: self.objective,
            native_check: self.native_check,
            deciles: ArcSwapOption::from(deciles.map(Arc::new)),
            feature_index,
            reference: self.reference,
            native: self.native,
        }
    }
}

fn describe_reference_error(e: ReferenceError) -> ModelError {
    ModelError::Invalid(e.to_string())
}

/// The few header lines needed before (or without) the native parser.
struct Header {
    objective: Option<String>,
    feature_names: Option<Vec<String>>,
    tree_count: usize,
}

impl Header {
    fn read(text: &str) -> Self {
        let mut header = Header {
            objective: None,
            feature_names: None,
            tree_count: 0,
        };
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("objective=") {
                header.objective.get_or_insert_with(|| v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("feature_names=") {
                header
                    .feature_names
                    .get_or_insert_with(|| v.split_whitespace().map(str::to_owned).collect());
            } else if line.starts_with("Tree=") {
                header.tree_count += 1;
            } else if line.starts_with("end of trees") {
                break;
            }
        }
        header
    }
}

/// Compares native and LightGBM probabilities on rows that exercise every split.
fn verify_native(native: &NativeModel, reference: &ReferenceBooster) -> NativeCheck {
    let ncols = native.num_features();
    if ncols != reference.num_features() {
        return NativeCheck {
            passed: false,
            rows: 0,
            max_abs_diff: None,
            detail: format!(
                "feature count differs: native {ncols}, LightGBM {}",
                reference.num_features()
            ),
        };
    }
    let rows = native.verification_rows(VERIFICATION_SEED);
    let n = rows.len() / ncols.max(1);
    let expected = match reference.predict_proba(&rows, ncols) {
        Ok(p) => p,
        Err(e) => {
            return NativeCheck {
                passed: false,
                rows: 0,
                max_abs_diff: None,
                detail: format!("LightGBM could not predict the verification rows: {e}"),
            };
        }
    };
    let mut actual = vec![0.0; n];
    native.predict_proba_batch(&rows, &mut actual);
    let max_abs_diff = expected
        .iter()
        .zip(&actual)
        .map(|(e, a)| {
            if e.is_nan() && a.is_nan() {
                0.0
            } else {
                (e - a).abs()
            }
        })
        .fold(
            0.0_f64,
            |m, d| if d.is_nan() { f64::INFINITY } else { m.max(d) },
        );
    let passed = max_abs_diff <= NATIVE_TOLERANCE;
    NativeCheck {
        passed,
        rows: n,
        max_abs_diff: Some(max_abs_diff),
        detail: if passed {
            format!("native evaluator equals LightGBM on {n} rows (max |diff| {max_abs_diff:e})")
        } else {
            format!(
                "native evaluator differs from LightGBM by up to {max_abs_diff:e} (> {NATIVE_TOLERANCE:e}) on {n} rows"
            )
        },
    }
}

/// Per-feature importance as LightGBM reports it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ImportanceType {
    /// Times the feature is used in a split.
    Split,
    /// Total gain of the splits on the feature.
    Gain,
}

impl LoadedModel {
    pub fn num_features(&self) -> usize {
        self.feature_names.len()
    }

    /// Index of a feature by name.
    /// `hint`: where the name is expected; CRM callers usually send features in the model's
    /// order, and a string comparison is cheaper than hashing.
    pub fn feature_position(&self, hint: usize, name: &str) -> Option<usize> {
        if self.feature_names.get(hint).is_some_and(|n| n == name) {
            return Some(hint);
        }
        self.feature_index.get(name).copied()
    }

    pub fn uses_native(&self) -> bool {
        self.native.is_some()
    }

    /// Probabilities for row-major rows (NaN = missing).
    pub fn predict(&self, rows: &[f64]) -> Result<Vec<f64>, ReferenceError> {
        let n = rows.len() / self.num_features().max(1);
        match &self.native {
            // A few rows go one by one, on this thread's working memory; a batch allocates
            // its own (and the lockstep walk of models QuickScorer cannot take spreads rows
            // over lanes).
            Some(native) if n < SMALL_BATCH_ROWS => Ok(rows
                .chunks_exact(self.num_features())
                .map(|row| native.predict_proba(row))
                .collect()),
            Some(native) => {
                let mut out = vec![0.0; n];
                native.predict_proba_batch(rows, &mut out);
                Ok(out)
            }
            None => self.reference.predict_proba(rows, self.num_features()),
        }
    }

    /// Raw scores (log-odds) for row-major rows.
    pub fn predict_raw(&self, rows: &[f64]) -> Result<Vec<f64>, ReferenceError> {
        match &self.native {
            Some(native) => Ok(rows
                .chunks_exact(self.num_features())
                .map(|row| native.predict_raw(row))
                .collect()),
            None => self.reference.predict_raw(rows, self.num_features()),
        }
    }

    /// TreeSHAP contributions from LightGBM: per row, one value per feature then the bias.
    pub fn contributions(&self, rows: &[f64]) -> Result<Vec<f64>, ReferenceError> {
        self.reference.predict_contrib(rows, self.num_features())
    }

    /// Importance per feature, sorted descending (ties by feature order).
    pub fn importance(&self, kind: ImportanceType) -> Result<Vec<(String, f64)>, ReferenceError> {
        let values = match kind {
            ImportanceType::Split => self.reference.feature_importance_split()?,
            ImportanceType::Gain => self.reference.feature_importance_gain()?,
        };
        let mut pairs: Vec<(String, f64)> =
            self.feature_names.iter().cloned().zip(values).collect();
        pairs.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(pairs)
    }

    /// The decile of a probability under the model's reference, if it has one.
    pub fn decile(&self, probability: f64) -> Option<u8> {
        self.deciles
            .load()
            .as_ref()
            .map(|d| d.edges.decile(probability))
    }
}
