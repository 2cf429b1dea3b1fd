//! Native serving of XGBoost models: `Booster.save_model` as JSON or UBJSON, evaluated with
//! XGBoost's own arithmetic so probabilities are bit-identical to the `xgboost` package's
//! `predict` (float32 throughout).
//!
//! XGBoost's rules, as its CPU predictor applies them (`src/predictor/predict_fn.h`,
//! `cpu_predictor.cc`, `src/common/categorical.h`, `src/common/math.h`):
//!
//! * Inputs are `float`: a `f64` feature is rounded to `f32` first, as a float64 array is
//!   when it becomes a `DMatrix`.
//! * A missing value (NaN) follows the node's default direction. Otherwise a numerical node
//!   sends `value < split_condition` left. A categorical node sends the categories of its
//!   set right and everything else left (negative values, values beyond the largest
//!   category, non-integers truncated first).
//! * The margin starts at the base margin (`ProbToMargin(base_score)`, a logit in `float`)
//!   and each tree's leaf is added in tree order, in `float`.
//! * `binary:logistic` and `reg:logistic` return `Sigmoid(margin)` computed in `float`;
//!   `binary:logitraw` returns the margin (Switchboard serves its sigmoid as the
//!   probability, and the margin as the raw score).
//!
//! There is no XGBoost library in the process to compare with, so a model is checked at
//! load by a second, plain evaluator ([`reference_margin`], a recursive walk of the parsed
//! trees) on rows that take every split both ways, on and next to each threshold, and
//! missing; a model on which they differ is refused.

mod layout;
pub mod model;
mod shap;
pub mod ubjson;

use std::collections::BTreeMap;

use layout::Layout;
pub use model::{Format, Objective, RawModel};

/// Why an XGBoost model was refused.
#[derive(Debug, thiserror::Error)]
pub enum XgbError {
    #[error("not a valid XGBoost model: {0}")]
    Invalid(String),
    #[error("unsupported XGBoost model: {0}")]
    Unsupported(String),
    #[error("{0}")]
    Legacy(String),
    #[error(
        "the model has no feature names (it was trained on a bare array): send the {num_feature} \
         feature names in order as `features=a,b,c` or train on a pandas DataFrame"
    )]
    NoFeatureNames { num_feature: usize },
    #[error("cannot read the UBJSON model: {0}")]
    Ubjson(#[from] ubjson::UbjsonError),
    #[error("cannot read the JSON model: {0}")]
    Json(String),
    #[error("the evaluator check failed on {failed} of {rows} rows; first: {detail}")]
    CheckFailed {
        failed: usize,
        rows: usize,
        detail: String,
    },
}

/// A loaded XGBoost model. Immutable.
pub struct XgbModel {
    raw: RawModel,
    format: Format,
    layout: Layout,
    /// Mean leaf value under each node, per tree (TreeSHAP's expected values).
    mean_values: Vec<Vec<f32>>,
}

impl std::fmt::Debug for XgbModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XgbModel")
            .field("features", &self.raw.feature_names.len())
            .field("trees", &self.raw.trees.len())
            .field("objective", &self.raw.objective)
            .finish()
    }
}

/// How the load-time check went.
#[derive(Debug, Clone)]
pub struct SelfCheck {
    pub rows: usize,
}

/// One kind of `get_score` importance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XgbImportance {
    Weight,
    Gain,
    Cover,
    TotalGain,
    TotalCover,
}

impl XgbModel {
    /// Reads a model file (JSON or UBJSON, told from its content). `feature_list` names the
    /// features of a model saved without names. Returns `Ok(None)` when the bytes are no
    /// XGBoost model at all.
    pub fn parse(
        bytes: &[u8],
        feature_list: Option<&[String]>,
    ) -> Result<Option<(Self, SelfCheck)>, XgbError> {
        let Some(format) = model::detect(bytes)? else {
            return Ok(None);
        };
        let doc = match format {
            Format::Json => serde_json::from_slice::<serde_json::Value>(bytes)
                .map_err(|e| XgbError::Json(e.to_string()))?,
            Format::Ubjson => ubjson::parse(bytes)?,
        };
        let raw = model::parse_document(&doc, feature_list)?;
        drop(doc);
        let layout = Layout::new(&raw);
        let mean_values = raw.trees.iter().map(shap::mean_values).collect();
        let model = XgbModel {
            raw,
            format,
            layout,
            mean_values,
        };
        let check = model.self_check()?;
        Ok(Some((model, check)))
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn feature_names(&self) -> &[String] {
        &self.raw.feature_names
    }

    pub fn num_features(&self) -> usize {
        self.raw.feature_names.len()
    }

    pub fn num_trees(&self) -> usize {
        self.raw.trees.len()
    }

    pub fn objective(&self) -> Objective {
        self.raw.objective
    }

    pub fn base_score(&self) -> f32 {
        self.raw.base_score
    }

    /// `major.minor.patch` of the XGBoost that saved the model, when the file says.
    pub fn library_version(&self) -> Option<String> {
        self.raw.version.map(|[a, b, c]| format!("{a}.{b}.{c}"))
    }

    /// Features with at least one categorical split, by index.
    pub fn categorical_features(&self) -> Vec<usize> {
        let mut features: Vec<usize> = self
            .raw
            .trees
            .iter()
            .flat_map(|t| &t.nodes)
            .filter(|n| n.categories.is_some())
            .map(|n| n.feature as usize)
            .collect();
        features.sort_unstable();
        features.dedup();
        features
    }

    /// The margin (log-odds) of one row, as XGBoost's `output_margin=True` gives it.
    pub fn predict_margin(&self, row: &[f64]) -> f32 {
        let mut buffer = [0f32; 256];
        if row.len() <= buffer.len() {
            let values = &mut buffer[..row.len()];
            to_f32(row, values);
            self.layout.margin(values, self.raw.base_margin)
        } else {
            let mut values = vec![0f32; row.len()];
            to_f32(row, &mut values);
            self.layout.margin(&values, self.raw.base_margin)
        }
    }

    /// The probability of one row: bit-identical to `predict` of the logistic objectives.
    pub fn predict_proba(&self, row: &[f64]) -> f64 {
        f64::from(sigmoid(self.predict_margin(row)))
    }

    /// Probabilities of row-major rows (`out.len()` rows).
    pub fn predict_proba_batch(&self, rows: &[f64], out: &mut [f64]) {
        let mut margins = vec![0f32; out.len()];
        self.layout.margins(
            rows,
            self.num_features(),
            self.raw.base_margin,
            &mut margins,
        );
        for (o, m) in out.iter_mut().zip(margins) {
            *o = f64::from(sigmoid(m));
        }
    }

    /// What XGBoost's `predict` returns for the model's own objective: the probability, or
    /// for `binary:logitraw` the margin.
    pub fn predict_output(&self, row: &[f64]) -> f32 {
        let margin = self.predict_margin(row);
        match self.raw.objective {
            Objective::BinaryLogitRaw => margin,
            Objective::BinaryLogistic | Objective::RegLogistic => sigmoid(margin),
        }
    }

    /// TreeSHAP contributions of one row (path-dependent, as `pred_contribs=True`): one per
    /// feature, then the bias; they sum to the margin.
    pub fn contributions(&self, row: &[f64]) -> Vec<f64> {
        let mut values = vec![0f32; row.len()];
        to_f32(row, &mut values);
        let mut phi = vec![0f32; self.num_features() + 1];
        let mut tree_phi = vec![0f32; self.num_features() + 1];
        for (tree, means) in self.raw.trees.iter().zip(&self.mean_values) {
            tree_phi.fill(0.0);
            shap::tree_contributions(tree, means, &values, &mut tree_phi);
            for (p, t) in phi.iter_mut().zip(&tree_phi) {
                *p += *t;
            }
        }
        phi[self.num_features()] += self.raw.base_margin;
        phi.into_iter().map(f64::from).collect()
    }

    /// `get_score(importance_type=...)`: per used feature (features never split on are
    /// absent, as in XGBoost). Computed as `GBTree::FeatureScore` does: `float` sums over
    /// each tree's nodes in its walk order (root, then right subtree first), `gain` and
    /// `cover` divided by the split count.
    pub fn importance(&self, kind: XgbImportance) -> BTreeMap<usize, f64> {
        let mut stats: BTreeMap<usize, (u32, f32)> = BTreeMap::new();
        for tree in &self.raw.trees {
            let mut stack = vec![0usize];
            while let Some(i) = stack.pop() {
                let node = &tree.nodes[i];
                let Some((l, r)) = node.children else {
                    continue;
                };
                let entry = stats.entry(node.feature as usize).or_default();
                entry.0 += 1;
                entry.1 += match kind {
                    XgbImportance::Weight => 0.0,
                    XgbImportance::Gain | XgbImportance::TotalGain => node.gain,
                    XgbImportance::Cover | XgbImportance::TotalCover => node.cover,
                };
                stack.extend([l as usize, r as usize]);
            }
        }
        stats
            .into_iter()
            .map(|(f, (count, sum))| {
                let value = match kind {
                    XgbImportance::Weight => count as f32,
                    XgbImportance::TotalGain | XgbImportance::TotalCover => sum,
                    XgbImportance::Gain | XgbImportance::Cover => sum / (count as f32).max(1.0),
                };
                (f, f64::from(value))
            })
            .collect()
    }

    /// The classifier's `feature_importances_`: gain per feature (0 when unused), divided by
    /// their total, in `float` with numpy's pairwise sum, as the sklearn wrapper computes it.
    pub fn feature_importances(&self) -> Vec<f64> {
        let gains = self.importance(XgbImportance::Gain);
        let values: Vec<f32> = (0..self.num_features())
            .map(|f| gains.get(&f).copied().unwrap_or(0.0) as f32)
            .collect();
        let total = numpy_pairwise_sum(&values);
        values
            .into_iter()
            .map(|v| f64::from(if total != 0.0 { v / total } else { 0.0 }))
            .collect()
    }

    /// Compares the laid-out evaluator with the plain walk on rows that take every split
    /// both ways; refuses the model when they differ anywhere.
    fn self_check(&self) -> Result<SelfCheck, XgbError> {
        let rows = self.check_rows();
        let width = self.num_features();
        let n = rows.len() / width.max(1);
        let mut batch = vec![0f64; n];
        self.predict_proba_batch(&rows, &mut batch);
        let mut failed = 0;
        let mut first = None;
        for (i, row) in rows.chunks_exact(width).enumerate() {
            let mut values = vec![0f32; width];
            to_f32(row, &mut values);
            let expected = reference_margin(&self.raw, &values);
            let single = self.predict_margin(row);
            let expected_p = f64::from(sigmoid(expected));
            if single.to_bits() != expected.to_bits() || batch[i].to_bits() != expected_p.to_bits()
            {
                failed += 1;
                first.get_or_insert_with(|| {
                    format!(
                        "row {i}: plain walk margin {expected:e}, evaluator {single:e} (batch probability {:e})",
                        batch[i]
                    )
                });
            }
        }
        if let Some(detail) = first {
            return Err(XgbError::CheckFailed {
                failed,
                rows: n,
                detail,
            });
        }
        Ok(SelfCheck { rows: n })
    }

    /// Rows for the load-time check: each numerical split's threshold, the float just below
    /// it, NaN, and each categorical split's categories, mixed by a fixed-seed generator so
    /// every split is taken both ways somewhere.
    fn check_rows(&self) -> Vec<f64> {
        let width = self.num_features();
        let mut candidates: Vec<Vec<f64>> = vec![Vec::new(); width];
        for node in self.raw.trees.iter().flat_map(|t| &t.nodes) {
            if node.children.is_none() {
                continue;
            }
            let values = &mut candidates[node.feature as usize];
            match &node.categories {
                Some(set) => {
                    values.extend(set.iter().take(8).map(|&c| f64::from(c)));
                    values.push(-1.0);
                    values.push(f64::from(set.last().copied().unwrap_or(0)) + 1.0);
                }
                None => {
                    let t = node.value;
                    values.push(f64::from(t));
                    values.push(f64::from(next_down(t)));
                    values.push(f64::from(next_up(t)));
                }
            }
        }
        for values in &mut candidates {
            values.push(f64::NAN);
            values.push(0.0);
            values.sort_by(f64::total_cmp);
            values.dedup_by(|a, b| a.to_bits() == b.to_bits());
        }
        let longest = candidates.iter().map(Vec::len).max().unwrap_or(1);
        let n = (longest * 2).clamp(64, 2048);
        let mut state = 0x05ee_d0c5_u64;
        let mut rows = Vec::with_capacity(n * width);
        for r in 0..n {
            for values in &candidates {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Row r takes the r-th candidate of every feature in turn, then random ones.
                let k = if r < longest {
                    r % values.len()
                } else {
                    (state >> 33) as usize % values.len()
                };
                rows.push(values[k]);
            }
        }
        rows
    }
}

/// numpy's `pairwise_sum` of a contiguous float32 array (`np.sum`): sequential below 8
/// values; up to 128, eight running sums combined as ((0+1)+(2+3))+((4+5)+(6+7)) then the
/// tail; above 128, the halves (at a multiple of 8) summed recursively.
fn numpy_pairwise_sum(a: &[f32]) -> f32 {
    let n = a.len();
    if n < 8 {
        let mut sum = 0f32;
        for &v in a {
            sum += v;
        }
        sum
    } else if n <= 128 {
        let mut r = [0f32; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i + 8 <= n {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[i..] {
            sum += v;
        }
        sum
    } else {
        let half = (n / 2) / 8 * 8;
        numpy_pairwise_sum(&a[..half]) + numpy_pairwise_sum(&a[half..])
    }
}

fn to_f32(row: &[f64], out: &mut [f32]) {
    for (o, v) in out.iter_mut().zip(row) {
        *o = *v as f32;
    }
}

/// XGBoost's `common::Sigmoid` (`src/common/math.h`), in `float`.
pub fn sigmoid(x: f32) -> f32 {
    const EPS: f32 = 1e-16;
    let x = (-x).min(88.7f32);
    let denom = x.exp() + 1.0f32 + EPS;
    1.0f32 / denom
}

fn next_down(x: f32) -> f32 {
    if x.is_nan() || x == f32::NEG_INFINITY {
        return x;
    }
    if x == 0.0 {
        return -f32::from_bits(1);
    }
    let bits = x.to_bits();
    f32::from_bits(if x > 0.0 { bits - 1 } else { bits + 1 })
}

fn next_up(x: f32) -> f32 {
    -next_down(-x)
}

/// Whether a node sends `value` left: XGBoost's decision, written plainly.
pub(crate) fn goes_left(node: &model::RawNode, value: f32) -> bool {
    if value.is_nan() {
        return node.default_left;
    }
    match &node.categories {
        Some(set) => !category_in_set(set, value),
        None => value < node.value,
    }
}

/// `common::Decision`'s test: a category in the node's set goes right. Negative values and
/// values too large to be a category are never in a set.
pub(crate) fn category_in_set(set: &[u32], value: f32) -> bool {
    if value.is_nan() || value < 0.0 || value >= model::MAX_CATEGORY as f32 {
        return false;
    }
    set.binary_search(&(value as u32)).is_ok()
}

/// The margin of one row by walking each parsed tree from its root: the plain evaluator the
/// fast layout is checked against.
pub fn reference_margin(raw: &RawModel, row: &[f32]) -> f32 {
    let mut margin = raw.base_margin;
    for tree in &raw.trees {
        let mut i = 0usize;
        while let Some((l, r)) = tree.nodes[i].children {
            let node = &tree.nodes[i];
            i = if goes_left(node, row[node.feature as usize]) {
                l as usize
            } else {
                r as usize
            };
        }
        margin += tree.nodes[i].value;
    }
    margin
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_of_floats() {
        assert_eq!(next_down(1.0), 0.99999994);
        assert_eq!(next_up(1.0), 1.0000001);
        assert!(next_down(0.0) < 0.0);
        assert!(next_up(0.0) > 0.0);
        assert_eq!(next_down(-1.0), -1.0000001);
    }

    #[test]
    fn categories_in_sets() {
        let set = [1u32, 3, 7];
        assert!(category_in_set(&set, 3.0));
        assert!(category_in_set(&set, 3.9), "non-integers are truncated");
        assert!(!category_in_set(&set, 2.0));
        assert!(!category_in_set(&set, -1.0));
        assert!(!category_in_set(&set, 1e30));
    }
}
