//! A model ready to score: a LightGBM model (LightGBM as the reference plus, when it proved
//! equal on load, the native evaluator of the same trees) or an XGBoost model (evaluated
//! natively, checked against a plain walk of its trees).

use std::{collections::HashMap, sync::Arc};

use arc_swap::ArcSwapOption;

use sha2::{Digest, Sha256};

use super::{
    deciles::DecileEdges,
    native::NativeModel,
    reference::{ReferenceBooster, ReferenceError},
    xgboost::{XgbError, XgbImportance, XgbModel},
};

/// Largest |native − LightGBM| accepted when a model loads.
pub const NATIVE_TOLERANCE: f64 = 1e-12;

/// Below this many rows, rows are predicted one at a time (see `LoadedModel::predict`).
const SMALL_BATCH_ROWS: usize = 8;

/// Seed of the synthetic verification rows (fixed, so a model's check is reproducible).
const VERIFICATION_SEED: u64 = 0x5ee_d0c5;

/// Why a model file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("not a valid LightGBM model: {0}")]
    Invalid(String),
    #[error("only binary classifiers can be served; this model's objective is `{0}`")]
    NotBinary(String),
    #[error(
        "the model is neither a LightGBM text model (not UTF-8) nor an XGBoost JSON or UBJSON model"
    )]
    NotUtf8,
    #[error(transparent)]
    Xgboost(#[from] XgbError),
}

/// The library a model was trained with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Library {
    LightGbm,
    XgBoost,
}

impl Library {
    pub fn name(self) -> &'static str {
        match self {
            Library::LightGbm => "lightgbm",
            Library::XgBoost => "xgboost",
        }
    }
}

/// Outcome of checking the native evaluator at load.
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

/// What evaluates a model's trees.
enum Engine {
    /// LightGBM is the reference; the native evaluator serves when it proved equal.
    LightGbm {
        reference: ReferenceBooster,
        native: Option<Box<NativeModel>>,
    },
    /// XGBoost models are evaluated natively only (there is no XGBoost library here).
    XgBoost(XgbModel),
}

/// A model in memory, immutable; swapped as a whole when another model is activated.
pub struct LoadedModel {
    pub id: i64,
    pub name: String,
    pub version_label: String,
    pub sha256: String,
    pub library: Library,
    pub feature_names: Vec<String>,
    pub categorical_features: Vec<String>,
    pub tree_count: usize,
    pub objective: String,
    pub native_check: NativeCheck,
    /// Swappable on its own: a scoring run can become the reference of a serving model.
    pub deciles: ArcSwapOption<DecileReference>,
    feature_index: HashMap<String, usize>,
    engine: Engine,
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

/// What parsing a model file yields before it is stored.
pub struct ParsedModel {
    pub sha256: String,
    pub library: Library,
    /// Version of the library that wrote the file, when the file says (XGBoost does).
    pub library_version: Option<String>,
    /// `lightgbm_text`, `xgboost_json` or `xgboost_ubjson`.
    pub format: &'static str,
    pub feature_names: Vec<String>,
    pub categorical_features: Vec<String>,
    pub tree_count: usize,
    pub objective: String,
    pub native_check: NativeCheck,
    engine: Engine,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl ParsedModel {
    /// Reads a model file of either library, told from its content. `feature_list` names
    /// the features of an XGBoost model saved without names. CPU-heavy (tens of ms): call
    /// off the async threads.
    pub fn parse(bytes: &[u8], feature_list: Option<&[String]>) -> Result<Self, ModelError> {
        if let Some((model, check)) = XgbModel::parse(bytes, feature_list)? {
            return Ok(Self::from_xgboost(bytes, model, check.rows));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| ModelError::NotUtf8)?;
        Self::parse_lightgbm(text)
    }

    fn from_xgboost(bytes: &[u8], model: XgbModel, rows: usize) -> Self {
        let categorical_features = model
            .categorical_features()
            .into_iter()
            .map(|i| model.feature_names()[i].clone())
            .collect();
        ParsedModel {
            sha256: sha256_hex(bytes),
            library: Library::XgBoost,
            library_version: model.library_version(),
            format: match model.format() {
                super::xgboost::Format::Json => "xgboost_json",
                super::xgboost::Format::Ubjson => "xgboost_ubjson",
            },
            feature_names: model.feature_names().to_vec(),
            categorical_features,
            tree_count: model.num_trees(),
            objective: model.objective().name().to_owned(),
            native_check: NativeCheck {
                passed: true,
                rows,
                max_abs_diff: Some(0.0),
                detail: format!(
                    "XGBoost model evaluated natively in float32; equal bit for bit to a plain \
                     walk of its trees on {rows} rows taking every split both ways"
                ),
            },
            engine: Engine::XgBoost(model),
        }
    }

    /// Validates a LightGBM text with the native parser first (LightGBM's own parser trusts
    /// its input: a crafted child index or feature index crashes it), then with LightGBM,
    /// insists on a binary objective, and checks the native evaluator against LightGBM.
    fn parse_lightgbm(text: &str) -> Result<Self, ModelError> {
        let native = NativeModel::parse(text).map_err(|e| ModelError::Invalid(e.to_string()))?;
        let header = Header::read(text);
        let objective = header.objective.clone().unwrap_or_default();
        let is_binary = objective.split_whitespace().next() == Some("binary");
        if !is_binary {
            return Err(ModelError::NotBinary(if objective.is_empty() {
                "(none)".into()
            } else {
                objective
            }));
        }
        let reference = ReferenceBooster::from_string(text).map_err(describe_reference_error)?;
        if reference.num_classes() != 1 {
            return Err(ModelError::NotBinary(objective));
        }
        let native_check = verify_native(&native, &reference);
        let native = native_check.passed.then(|| Box::new(native));
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
            sha256: sha256_hex(text.as_bytes()),
            library: Library::LightGbm,
            library_version: None,
            format: "lightgbm_text",
            feature_names,
            categorical_features,
            tree_count: header.tree_count,
            objective,
            native_check,
            engine: Engine::LightGbm { reference, native },
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
            library: self.library,
            feature_names: self.feature_names,
            categorical_features: self.categorical_features,
            tree_count: self.tree_count,
            objective: self.objective,
            native_check: self.native_check,
            deciles: ArcSwapOption::from(deciles.map(Arc::new)),
            feature_index,
            engine: self.engine,
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

/// Per-feature importance, as the model's library reports it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ImportanceType {
    /// Times the feature is used in a split (LightGBM `split`, XGBoost `weight`).
    Split,
    /// LightGBM: total gain of the splits on the feature. XGBoost: `get_score`'s `gain`, the
    /// average gain per split.
    Gain,
    /// XGBoost `weight`: the same count as `split`.
    Weight,
    /// XGBoost `cover`: average cover (hessian sum) per split.
    Cover,
    /// XGBoost `total_gain`.
    TotalGain,
    /// XGBoost `total_cover`.
    TotalCover,
    /// XGBoost's `XGBClassifier.feature_importances_`: gain normalised to sum to 1.
    FeatureImportances,
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

    /// True when Switchboard's own evaluator serves the model (always for XGBoost).
    pub fn uses_native(&self) -> bool {
        match &self.engine {
            Engine::LightGbm { native, .. } => native.is_some(),
            Engine::XgBoost(_) => true,
        }
    }

    /// The evaluator's name for responses: `native`, `lightgbm` or `xgboost-native`.
    pub fn evaluator(&self) -> &'static str {
        match &self.engine {
            Engine::LightGbm {
                native: Some(_), ..
            } => "native",
            Engine::LightGbm { native: None, .. } => "lightgbm",
            Engine::XgBoost(_) => "xgboost-native",
        }
    }

    /// Probabilities for row-major rows (NaN = missing).
    pub fn predict(&self, rows: &[f64]) -> Result<Vec<f64>, ReferenceError> {
        let n = rows.len() / self.num_features().max(1);
        match &self.engine {
            // A few rows go one by one, on this thread's working memory; a batch allocates
            // its own (and the lockstep walk of models QuickScorer cannot take spreads rows
            // over lanes).
            Engine::LightGbm {
                native: Some(native),
                ..
            } if n < SMALL_BATCH_ROWS => Ok(rows
                .chunks_exact(self.num_features())
                .map(|row| native.predict_proba(row))
                .collect()),
            Engine::LightGbm {
                native: Some(native),
                ..
            } => {
                let mut out = vec![0.0; n];
                native.predict_proba_batch(rows, &mut out);
                Ok(out)
            }
            Engine::LightGbm { reference, .. } => {
                reference.predict_proba(rows, self.num_features())
            }
            Engine::XgBoost(model) if n < SMALL_BATCH_ROWS => Ok(rows
                .chunks_exact(self.num_features())
                .map(|row| model.predict_proba(row))
                .collect()),
            Engine::XgBoost(model) => {
                let mut out = vec![0.0; n];
                model.predict_proba_batch(rows, &mut out);
                Ok(out)
            }
        }
    }

    /// Raw scores (log-odds) for row-major rows.
    pub fn predict_raw(&self, rows: &[f64]) -> Result<Vec<f64>, ReferenceError> {
        match &self.engine {
            Engine::LightGbm {
                native: Some(native),
                ..
            } => Ok(rows
                .chunks_exact(self.num_features())
                .map(|row| native.predict_raw(row))
                .collect()),
            Engine::LightGbm { reference, .. } => reference.predict_raw(rows, self.num_features()),
            Engine::XgBoost(model) => Ok(rows
                .chunks_exact(self.num_features())
                .map(|row| f64::from(model.predict_margin(row)))
                .collect()),
        }
    }

    /// TreeSHAP contributions (LightGBM's, or XGBoost's computed natively): per row, one
    /// value per feature then the bias; they sum to the raw score.
    pub fn contributions(&self, rows: &[f64]) -> Result<Vec<f64>, ReferenceError> {
        match &self.engine {
            Engine::LightGbm { reference, .. } => {
                reference.predict_contrib(rows, self.num_features())
            }
            Engine::XgBoost(model) => Ok(rows
                .chunks_exact(self.num_features())
                .flat_map(|row| model.contributions(row))
                .collect()),
        }
    }

    /// Importance per feature, sorted descending (ties by feature order). `None` when the
    /// model's library does not define that kind.
    pub fn importance(
        &self,
        kind: ImportanceType,
    ) -> Result<Option<Vec<(String, f64)>>, ReferenceError> {
        let values = match (&self.engine, kind) {
            (Engine::LightGbm { reference, .. }, ImportanceType::Split) => {
                reference.feature_importance_split()?
            }
            (Engine::LightGbm { reference, .. }, ImportanceType::Gain) => {
                reference.feature_importance_gain()?
            }
            (Engine::LightGbm { .. }, _) => return Ok(None),
            (Engine::XgBoost(model), ImportanceType::FeatureImportances) => {
                model.feature_importances()
            }
            (Engine::XgBoost(model), kind) => {
                let xgb_kind = match kind {
                    ImportanceType::Gain => XgbImportance::Gain,
                    ImportanceType::Cover => XgbImportance::Cover,
                    ImportanceType::TotalGain => XgbImportance::TotalGain,
                    ImportanceType::TotalCover => XgbImportance::TotalCover,
                    // Split and weight (feature_importances was answered above).
                    _ => XgbImportance::Weight,
                };
                let scores = model.importance(xgb_kind);
                (0..self.num_features())
                    .map(|f| scores.get(&f).copied().unwrap_or(0.0))
                    .collect()
            }
        };
        let mut pairs: Vec<(String, f64)> =
            self.feature_names.iter().cloned().zip(values).collect();
        pairs.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(Some(pairs))
    }

    /// The decile of a probability under the model's reference, if it has one.
    pub fn decile(&self, probability: f64) -> Option<u8> {
        self.deciles
            .load()
            .as_ref()
            .map(|d| d.edges.decile(probability))
    }
}

/// Per row, the `k` features that pushed the score up most (largest TreeSHAP contribution
/// first, ties in feature order) as `(feature index, value, contribution)`; a missing value is
/// NaN. `contributions` holds `features + 1` values per row (the bias last), as
/// [`LoadedModel::contributions`] returns them.
pub fn top_reasons(
    contributions: &[f64],
    rows: &[f64],
    features: usize,
    k: usize,
) -> Vec<Vec<(usize, f64, f64)>> {
    contributions
        .chunks_exact(features + 1)
        .zip(rows.chunks_exact(features))
        .map(|(contribution, row)| {
            let mut order: Vec<usize> = (0..features).collect();
            order.sort_by(|&a, &b| contribution[b].total_cmp(&contribution[a]));
            order
                .into_iter()
                .take(k)
                .map(|i| (i, row[i], contribution[i]))
                .collect()
        })
        .collect()
}
