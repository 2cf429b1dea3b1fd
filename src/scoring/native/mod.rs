//! A native evaluator for LightGBM text models (the format `Booster.save_model` writes).
//!
//! The decision rules, the parsing and the order of floating-point operations follow
//! LightGBM 4.7.0 exactly, so that the result is bit-identical to what LightGBM's C API
//! returns for a dense `f64` row:
//!
//! * The C API drops every input value with `|v| <= kZeroThreshold` (`1e-35f` widened to
//!   `f64`) from the row before predicting, so such values reach the trees as `+0.0`
//!   (`RowPairFunctionFromDenseMatrix` in `c_api.cpp`). Instead of rewriting each row, the
//!   few thresholds inside `[-kZeroThreshold, kZeroThreshold)` are moved at parse time to a
//!   value that splits every input the same way.
//! * `Tree::NumericalDecision`: a NaN becomes `0.0` unless the missing type is NaN; missing
//!   type Zero sends zero (and therefore NaN) to the default side; missing type NaN sends
//!   NaN to the default side; otherwise `value <= threshold` goes left.
//! * `Tree::CategoricalDecision`: NaN and negative values go right; otherwise the value is
//!   truncated to `int` and looked up in the node's bitset (`cat_boundaries` /
//!   `cat_threshold`); values beyond the bitset go right.
//! * `Tree::GetLeaf` only looks at the categorical bit when the tree's `num_cat > 0`; a
//!   categorical bit in a tree with `num_cat=0`, or a `decision_type` outside 0..=11, is
//!   refused (LightGBM never writes one, and crashed reading one).
//! * `GBDT::PredictRaw` sums tree outputs in tree order starting from `0.0`;
//!   `GBDT::Predict` divides by the number of iterations when `average_output` is set and
//!   then applies `BinaryLogloss::ConvertOutput`, `1 / (1 + exp(-sigmoid * x))`.
//!
//! Trees are stored as one flat array of 16-byte nodes in pre-order (the left child is the
//! next node, the right child an index), leaves included; a leaf has a NaN threshold and
//! itself as right child, so stepping it changes nothing.
//!
//! Prediction uses QuickScorer ([`quick_scorer`]): the nodes regrouped by feature and
//! sorted by threshold, applied as bitmasks on each tree's leaves, which is 2 to 3 times
//! faster than walking the trees. Models it cannot take (trees with more than 64 leaves,
//! several trees per iteration) are walked: 4 trees (one row) or 4 rows (one tree,
//! batch) in lockstep with branch-free steps, so the dependent loads of different trees
//! overlap. Either way leaf values are added in tree order, which keeps the sum
//! bit-identical to LightGBM's loop. Nothing is allocated per single-row prediction.
//!
//! Layout: `parse` (the text format, checked as strictly as LightGBM reads it), `evaluate`
//! (decisions and predictions), `quick_scorer`, `verify` (the load-time check's paths,
//! probe values and verification rows).

use std::fmt;

mod evaluate;
mod parse;
mod quick_scorer;
#[cfg(test)]
mod tests;
mod verify;

use quick_scorer::QuickScorer;

/// LightGBM's `kZeroThreshold`: the `float` literal `1e-35f` widened to `double`.
const K_ZERO_THRESHOLD: f64 = 1e-35_f32 as f64;

/// The node is a leaf; its output is in `leaf_values`.
const LEAF: u32 = 1 << 31;
/// A NaN input goes left (numerical, non-special nodes).
const NAN_LEFT: u32 = 1 << 30;
/// Decided by [`NativeModel::special_left`]: a categorical node, or a missing-type-Zero
/// node whose default side differs from the side `0.0` compares to.
const SPECIAL: u32 = 1 << 29;
/// Categorical node: `value` holds the bitset's offset (high 32 bits) and length in words.
const CATEGORICAL: u32 = 1 << 28;
/// Default side of a special missing-type-Zero node.
const DEFAULT_LEFT: u32 = 1 << 27;
/// Feature index bits of `meta`.
const FEATURE_MASK: u32 = (1 << 24) - 1;
/// Largest feature count the packed node can address.
const MAX_FEATURES: usize = FEATURE_MASK as usize + 1;

/// Trees (single row) or rows (batch) walked in lockstep. Measured on a 500-tree model:
/// 4 beats 8 (more lanes waste more steps waiting for the deepest path of the group).
const LANES: usize = 4;
/// Rows per block in batch prediction.
const BLOCK: usize = 64;

/// LightGBM's `decision_type` bits (`include/LightGBM/tree.h`).
const K_CATEGORICAL_MASK: i8 = 1;
const K_DEFAULT_LEFT_MASK: i8 = 2;
const MISSING_ZERO: i8 = 1;
const MISSING_NAN: i8 = 2;

/// One tree node, packed into 16 bytes so four share a cache line.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(16))]
struct Node {
    /// Threshold of a numerical node (already adjusted for `kZeroThreshold`), bitset
    /// location (as bits) of a categorical node, NaN for a leaf (so every value compares
    /// false and a leaf steps to itself).
    value: f64,
    /// Feature index (low 24 bits) and flags.
    meta: u32,
    /// Index of the right child in the model-wide node array; the left child is the next
    /// node. A leaf points to itself.
    right: u32,
}

/// Why a model text was refused.
#[derive(Debug, thiserror::Error)]
pub enum NativeModelError {
    /// The text is empty or holds only whitespace.
    #[error("the model text is empty")]
    Empty,
    /// A required header line is absent.
    #[error("not a LightGBM text model: the header has no `{key}=` line")]
    MissingHeader {
        /// The missing key.
        key: &'static str,
    },
    /// A header line has an unusable value.
    #[error("line {line}: invalid `{key}`: {message}")]
    BadHeader {
        /// 1-based line number.
        line: usize,
        /// The header key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The model has no `Tree=` blocks.
    #[error("the model has no trees (no `Tree=0` line)")]
    NoTrees,
    /// A tree block is malformed.
    #[error("tree {tree} (line {line}): {message}")]
    Tree {
        /// 0-based tree number.
        tree: usize,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A tree uses linear leaves, which the native evaluator does not implement.
    #[error(
        "tree {tree} (line {line}) is a linear tree (is_linear=1); the native evaluator does not support linear trees"
    )]
    LinearTree {
        /// 0-based tree number.
        tree: usize,
        /// 1-based line number of the `is_linear=` line.
        line: usize,
    },
    /// `tree_sizes=` disagrees with the tree blocks, so LightGBM would read different trees.
    #[error("tree_sizes does not match the tree blocks: {message}")]
    TreeSizes {
        /// What is wrong.
        message: String,
    },
    /// The text ends before `end of trees`.
    #[error("the model text is truncated: {message}")]
    Truncated {
        /// Where it ends.
        message: String,
    },
    /// Something LightGBM would accept but the packed representation cannot hold.
    #[error("unsupported model: {0}")]
    Unsupported(String),
}

/// A parsed LightGBM model, evaluated natively. Immutable after [`NativeModel::parse`].
pub struct NativeModel {
    feature_names: Vec<String>,
    feature_infos: Vec<String>,
    num_class: usize,
    num_tree_per_iteration: usize,
    objective: String,
    /// `Some(sigmoid)` when the objective is `binary`.
    sigmoid: Option<f64>,
    average_output: bool,
    /// Trees in the text.
    num_trees: usize,
    /// `num_trees / num_tree_per_iteration`, as LightGBM computes it.
    num_iterations: usize,
    /// All nodes of the used trees, each tree in pre-order.
    nodes: Vec<Node>,
    /// Root node of each used tree (`num_iterations * num_tree_per_iteration` of them).
    roots: Vec<u32>,
    /// Output of each leaf, by node index (NaN for internal nodes).
    leaf_values: Vec<f64>,
    /// A leaf worth 0.0 at the end of `nodes` where idle lanes park.
    sink: u32,
    /// Threshold as written in the text, per node (NaN for leaves); for test rows.
    raw_thresholds: Vec<f64>,
    /// Categorical bitset words of all categorical nodes.
    cat_words: Vec<u32>,
    categorical: Vec<usize>,
    /// The trees regrouped by feature for QuickScorer; `None` when it cannot take them.
    quick: Option<QuickScorer>,
}

impl fmt::Debug for NativeModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NativeModel")
            .field("num_features", &self.num_features())
            .field("num_trees", &self.num_trees)
            .field("num_class", &self.num_class)
            .field("objective", &self.objective)
            .field("average_output", &self.average_output)
            .field("nodes", &self.nodes.len())
            .finish()
    }
}

impl NativeModel {
    /// Feature names from the `feature_names=` line, in model order, never truncated.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The `feature_infos=` entries: `[min:max]` for numerical features, the categories
    /// joined by `:` for categorical ones, `none` for unused features.
    pub fn feature_infos(&self) -> &[String] {
        &self.feature_infos
    }

    /// Number of features a row must have: `max_feature_idx + 1`.
    pub fn num_features(&self) -> usize {
        self.feature_names.len()
    }

    /// Number of trees in the text.
    pub fn num_trees(&self) -> usize {
        self.num_trees
    }

    /// `num_class=` of the header.
    pub fn num_class(&self) -> usize {
        self.num_class
    }

    /// Trees per boosting iteration (outputs per row).
    pub fn num_tree_per_iteration(&self) -> usize {
        self.num_tree_per_iteration
    }

    /// The whole `objective=` value, e.g. `binary sigmoid:1`; empty when absent.
    pub fn objective(&self) -> &str {
        &self.objective
    }

    /// The `sigmoid:` parameter of a binary objective.
    pub fn sigmoid(&self) -> Option<f64> {
        self.sigmoid
    }

    /// Whether the header says `average_output` (random forest).
    pub fn average_output(&self) -> bool {
        self.average_output
    }

    /// A binary classifier: objective `binary`, one class, one tree per iteration.
    pub fn is_binary(&self) -> bool {
        self.sigmoid.is_some() && self.num_class == 1 && self.num_tree_per_iteration == 1
    }

    /// Features split categorically in some tree or described as categorical in
    /// `feature_infos=`, ascending.
    pub fn categorical_features(&self) -> Vec<usize> {
        self.categorical.clone()
    }
}
