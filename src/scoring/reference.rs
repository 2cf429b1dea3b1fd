//! The reference implementation: LightGBM itself through `lightgbm3`, shareable between
//! threads.
//!
//! Only calls that are safe to make concurrently through `&self` are exposed: batch
//! prediction (normal, raw, SHAP contributions), feature importance and the cached feature
//! count. The per-booster fast single-row configuration (`single_row_fast_init`, which needs
//! `&mut Booster`) is deliberately absent; code that wants it must own a private `Booster`.

#![allow(
    unsafe_code,
    reason = "the LightGBM booster handle is shared across threads (Send/Sync, argued below)"
)]

use std::panic::{AssertUnwindSafe, catch_unwind};

use lightgbm3::{Booster, ImportanceType};

/// Why the reference booster could not load a model or predict.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// LightGBM refused the call; its message.
    #[error("LightGBM: {0}")]
    LightGbm(#[from] lightgbm3::Error),
    /// The model text has a NUL byte, which cannot cross the C API.
    #[error("the model text contains a NUL byte at byte {0}")]
    NulByte(usize),
    /// `lightgbm3` panicked (it unwraps LightGBM's error text as UTF-8).
    #[error("lightgbm3 panicked: {0}")]
    Panicked(String),
    /// The row data is not whole rows of the model's features.
    #[error("{values} values are not whole rows of {ncols} features (the model has {expected})")]
    Shape {
        /// Number of values passed.
        values: usize,
        /// Columns per row passed.
        ncols: usize,
        /// Features of the model.
        expected: usize,
    },
    /// SHAP contributions are only offered for single-output models.
    #[error(
        "SHAP contributions need a single-output model (num_tree_per_iteration 1), this one has {0} outputs"
    )]
    MultiOutputContrib(usize),
}

/// A LightGBM booster loaded from model text, safe to share between threads.
pub struct ReferenceBooster {
    booster: Booster,
    num_features: usize,
    num_classes: usize,
    /// `num_tree_per_iteration=` of the text (defaults to `num_class`).
    outputs_per_row: usize,
}

// SAFETY: `lightgbm3::Booster` is a `BoosterHandle` (a pointer to LightGBM's C++ `Booster`,
// `src/c_api.cpp`) plus plain integers and an `Option<FastConfigHandle>`. Checked against
// lightgbm3 1.0.11 `src/booster.rs` and the vendored LightGBM 4.7.0 `src/c_api.cpp`,
// `src/boosting/gbdt.h`, `src/application/predictor.hpp`:
//
// * Send: the C++ object has no thread affinity (no thread-local state is tied to it;
//   `LGBM_GetLastError` is thread-local but per call, read right after the failing call on
//   the same thread by lightgbm3). Freeing it from another thread (`LGBM_BoosterFree` in
//   `Drop`) is fine.
// * Sync: through `&ReferenceBooster` only these C API calls are reachable:
//   - `LGBM_BoosterPredictForMat` (batch, `predict`/`raw_scores`/`predict_contrib` with >= 2
//     rows): `Booster::Predict` takes `SHARED_LOCK(mutex_)`, builds a fresh `Predictor` with
//     its own row buffers, and only reads the trees. The calls that mutate the model
//     (training, `ResetConfig`, `SetLeafValue`, `Refit`, ...) take `UNIQUE_LOCK(mutex_)`
//     and are not reachable from `&self` anyway; loading (`LoadModelFromString`, no lock)
//     happens in `from_string`, before the value exists. `OMP_SET_NUM_THREADS` in the
//     predict calls is a no-op in lightgbm3-sys' default build (no OpenMP).
//   - `LGBM_BoosterPredictForMatSingleRow` (lightgbm3 uses it for a one-row slice):
//     `SetSingleRowPredictorInner` and `PredictSingleRow` both take `UNIQUE_LOCK(mutex_)`,
//     so one-row calls are serialised against everything else.
//   - `LGBM_BoosterFeatureImportance`: reads the trees only (`GBDT::FeatureImportance`).
//   - `num_features()` returns a field cached at load.
//   Two writes happen under the shared lock:
//   - `Predictor`'s constructor calls `GBDT::InitPredict`, which stores
//     `num_iteration_for_pred_` / `start_iteration_for_pred_` (upstream issue #6142, noted
//     in `InitSingleRowPredictor`). lightgbm3 always passes start 0 and the model's full
//     iteration count and we never call `set_max_iterations`, so every concurrent store
//     writes the value that is already there (an aligned `int`). Formally this is still a
//     data race in C++'s memory model, one LightGBM itself accepts for concurrent batch
//     predictions; serialising every call behind a `Mutex` would remove it at the cost
//     of all parallelism.
//   - The first SHAP call runs `RecomputeMaxDepth` on every tree behind a plain-`bool`
//     double-checked flag. `from_string` makes that first call before the value can be
//     shared, so it never runs concurrently.
//   The fast single-row configuration (`single_row_fast_init(&mut self)`, a per-booster
//   `FastConfigHandle` whose calls are not serialised) is never created or used.
unsafe impl Send for ReferenceBooster {}
// SAFETY: as for `Send` above: every call the service makes through a shared handle is
// serialised inside LightGBM or happens before the handle is shared.
unsafe impl Sync for ReferenceBooster {}

impl std::fmt::Debug for ReferenceBooster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReferenceBooster")
            .field("num_features", &self.num_features)
            .field("num_classes", &self.num_classes)
            .finish()
    }
}

/// Runs a lightgbm3 call, turning its panics (`unwrap` on LightGBM's message) into errors.
fn guarded<T>(f: impl FnOnce() -> lightgbm3::Result<T>) -> Result<T, ReferenceError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => Ok(result?),
        Err(panic) => Err(ReferenceError::Panicked(
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into()),
        )),
    }
}

/// `num_tree_per_iteration=` from the header (before the first tree), else `num_class=`.
fn header_outputs(text: &str, num_classes: usize) -> usize {
    text.lines()
        .take_while(|l| !l.starts_with("Tree="))
        .find_map(|l| l.trim_end().strip_prefix("num_tree_per_iteration="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(num_classes)
}

impl ReferenceBooster {
    /// Loads a model from its text (`LGBM_BoosterLoadModelFromString`).
    pub fn from_string(text: &str) -> Result<Self, ReferenceError> {
        if let Some(at) = text.bytes().position(|b| b == 0) {
            return Err(ReferenceError::NulByte(at));
        }
        let booster = guarded(|| Booster::from_string(text))?;
        let num_features = usize::try_from(booster.num_features()).unwrap_or(0);
        let num_classes = usize::try_from(booster.num_classes()).unwrap_or(0);
        let outputs_per_row = header_outputs(text, num_classes);
        let this = ReferenceBooster {
            booster,
            num_features,
            num_classes,
            outputs_per_row,
        };
        if this.contrib_supported() && num_features > 0 {
            // Run SHAP's one-time tree initialisation now, while nothing else can see the
            // booster (see the SAFETY comment).
            let rows = vec![0.0_f64; 2 * num_features];
            this.predict_contrib(&rows, num_features)?;
        }
        Ok(this)
    }

    /// Number of features a row must have (`max_feature_idx + 1`).
    pub fn num_features(&self) -> usize {
        self.num_features
    }

    /// Number of classes (`num_class`); predictions have this many values per row.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn contrib_supported(&self) -> bool {
        self.num_classes == 1 && self.outputs_per_row == 1
    }

    fn check(&self, rows: &[f64], ncols: usize) -> Result<i32, ReferenceError> {
        let shape = || ReferenceError::Shape {
            values: rows.len(),
            ncols,
            expected: self.num_features,
        };
        if ncols != self.num_features || ncols == 0 || !rows.len().is_multiple_of(ncols) {
            return Err(shape());
        }
        i32::try_from(ncols).map_err(|_| shape())
    }

    /// Probabilities (LightGBM's normal prediction) for row-major `rows` of `ncols`
    /// features; `num_classes()` values per row. NaN is missing.
    pub fn predict_proba(&self, rows: &[f64], ncols: usize) -> Result<Vec<f64>, ReferenceError> {
        let n = self.check(rows, ncols)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        guarded(|| self.booster.predict(rows, n, true))
    }

    /// Raw scores (before the link) for row-major `rows`; `num_classes()` values per row.
    pub fn predict_raw(&self, rows: &[f64], ncols: usize) -> Result<Vec<f64>, ReferenceError> {
        let n = self.check(rows, ncols)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        guarded(|| self.booster.raw_scores(rows, n, true))
    }

    /// TreeSHAP contributions for row-major `rows`: per row `ncols + 1` values, the last
    /// being the bias; each row's values sum to its raw score. Single-output models only
    /// (lightgbm3 sizes the buffer for one output, LightGBM would write one per class).
    pub fn predict_contrib(&self, rows: &[f64], ncols: usize) -> Result<Vec<f64>, ReferenceError> {
        let n = self.check(rows, ncols)?;
        if !self.contrib_supported() {
            return Err(ReferenceError::MultiOutputContrib(
                self.outputs_per_row.max(self.num_classes),
            ));
        }
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        guarded(|| self.booster.predict_contrib(rows, n, true))
    }

    /// Times each feature is used in a split (`importance_type=split`).
    pub fn feature_importance_split(&self) -> Result<Vec<f64>, ReferenceError> {
        guarded(|| self.booster.feature_importance(ImportanceType::Split))
    }

    /// Total gain of the splits on each feature (`importance_type=gain`).
    pub fn feature_importance_gain(&self) -> Result<Vec<f64>, ReferenceError> {
        guarded(|| self.booster.feature_importance(ImportanceType::Gain))
    }
}
