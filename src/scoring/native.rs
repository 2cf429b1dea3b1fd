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

use std::collections::{HashMap, HashSet};
use std::fmt;

mod quick_scorer;

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

/// A header or tree line: 1-based number, byte offset, text without the line break.
#[derive(Clone, Copy)]
struct Line<'a> {
    number: usize,
    offset: usize,
    text: &'a str,
}

fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut offset = 0;
    for (i, raw) in text.split('\n').enumerate() {
        out.push(Line {
            number: i + 1,
            offset,
            text: raw.strip_suffix('\r').unwrap_or(raw),
        });
        offset += raw.len() + 1;
    }
    // `split` yields an empty last piece after a final newline; it is not a line.
    if text.ends_with('\n') {
        out.pop();
    }
    out
}

/// LightGBM's `Common::Split`: pieces between delimiters, empty pieces dropped.
fn split_nonempty(s: &str, delimiter: char) -> impl Iterator<Item = &str> {
    s.split(delimiter).filter(|p| !p.is_empty())
}

/// LightGBM's `Common::Atof`, used for the `sigmoid:` value of the objective. It is not
/// correctly rounded for every input, so it is reproduced operation by operation.
fn lightgbm_atof(s: &str) -> Option<f64> {
    fn pow10(base: f64, power: u32) -> f64 {
        // `Common::Pow`, same recursion so the same roundings.
        if power == 0 {
            1.0
        } else if power.is_multiple_of(2) {
            pow10(base * base, power / 2)
        } else if power.is_multiple_of(3) {
            pow10(base * base * base, power / 3)
        } else {
            base * pow10(base, power - 1)
        }
    }
    let b = s.trim_start_matches(' ').as_bytes();
    let mut p = 0;
    let mut sign = 1.0;
    if b.first() == Some(&b'-') {
        sign = -1.0;
        p += 1;
    } else if b.first() == Some(&b'+') {
        p += 1;
    }
    let starts_number = b
        .get(p)
        .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E'));
    if !starts_number {
        let word = std::str::from_utf8(&b[p..]).ok()?.to_ascii_lowercase();
        return match word.trim_end_matches(' ') {
            "na" | "nan" | "null" => Some(f64::NAN),
            "inf" | "infinity" => Some(sign * 1e308),
            _ => None,
        };
    }
    let mut value = 0.0_f64;
    while let Some(c) = b.get(p).filter(|c| c.is_ascii_digit()) {
        value = value * 10.0 + f64::from(c - b'0');
        p += 1;
    }
    if b.get(p) == Some(&b'.') {
        p += 1;
        let mut right = 0.0_f64;
        let mut digits = 0_u32;
        while let Some(c) = b.get(p).filter(|c| c.is_ascii_digit()) {
            right = f64::from(c - b'0') + right * 10.0;
            digits += 1;
            p += 1;
        }
        value += right / pow10(10.0, digits);
    }
    let mut divide = false;
    let mut scale = 1.0_f64;
    if matches!(b.get(p), Some(b'e' | b'E')) {
        p += 1;
        if b.get(p) == Some(&b'-') {
            divide = true;
            p += 1;
        } else if b.get(p) == Some(&b'+') {
            p += 1;
        }
        let mut expon: u32 = 0;
        while let Some(c) = b.get(p).filter(|c| c.is_ascii_digit()) {
            expon = expon.wrapping_mul(10).wrapping_add(u32::from(c - b'0'));
            p += 1;
        }
        expon = expon.min(308);
        while expon >= 50 {
            scale *= 1e50;
            expon -= 50;
        }
        while expon >= 8 {
            scale *= 1e8;
            expon -= 8;
        }
        while expon > 0 {
            scale *= 10.0;
            expon -= 1;
        }
    }
    if b[p..].iter().any(|&c| c != b' ') {
        return None;
    }
    Some(sign * if divide { value / scale } else { value * scale })
}

fn parse_int<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.trim_matches(' ').parse().ok()
}

/// Header fields that matter for prediction.
struct Header {
    num_class: usize,
    num_tree_per_iteration: usize,
    num_features: usize,
    feature_names: Vec<String>,
    feature_infos: Vec<String>,
    objective: String,
    sigmoid: Option<f64>,
    average_output: bool,
    tree_sizes: Option<Vec<usize>>,
}

fn parse_header(header: &[Line<'_>]) -> Result<Header, NativeModelError> {
    let mut values: Vec<(&str, &str, usize)> = Vec::new();
    for line in header {
        if line.text.is_empty() {
            continue;
        }
        let (key, value) = match line.text.split_once('=') {
            None => (line.text, ""),
            Some((key, value)) => {
                // LightGBM refuses a line with two `=` unless the value may contain them.
                if value.contains('=') && key != "feature_names" && key != "monotone_constraints" {
                    return Err(NativeModelError::BadHeader {
                        line: line.number,
                        key: key.to_string(),
                        message: "more than one `=` on the line".into(),
                    });
                }
                (key, value)
            }
        };
        values.push((key, value, line.number));
    }
    // The last occurrence wins, as in LightGBM's key/value map.
    let get = |key: &str| values.iter().rev().find(|(k, _, _)| *k == key).copied();
    let require = |key: &'static str| get(key).ok_or(NativeModelError::MissingHeader { key });
    let bad = |key: &str, line: usize, message: String| NativeModelError::BadHeader {
        line,
        key: key.to_string(),
        message,
    };
    let positive = |key: &'static str| -> Result<(usize, usize), NativeModelError> {
        let (_, value, line) = require(key)?;
        match parse_int::<i64>(value) {
            Some(n) if n >= 1 => Ok((n as usize, line)),
            _ => Err(bad(
                key,
                line,
                format!("`{value}` is not a positive integer"),
            )),
        }
    };

    let (num_class, _) = positive("num_class")?;
    let num_tree_per_iteration = match get("num_tree_per_iteration") {
        Some(_) => positive("num_tree_per_iteration")?.0,
        None => num_class,
    };
    let (_, label_index, line) = require("label_index")?;
    if parse_int::<i64>(label_index).is_none() {
        return Err(bad(
            "label_index",
            line,
            format!("`{label_index}` is not an integer"),
        ));
    }
    let (_, max_feature_idx, line) = require("max_feature_idx")?;
    let num_features = match parse_int::<i64>(max_feature_idx) {
        Some(n) if n >= 0 => n as usize + 1,
        _ => {
            return Err(bad(
                "max_feature_idx",
                line,
                format!("`{max_feature_idx}` is not a non-negative integer"),
            ));
        }
    };
    if num_features > MAX_FEATURES {
        return Err(NativeModelError::Unsupported(format!(
            "{num_features} features (at most {MAX_FEATURES})"
        )));
    }
    let (_, names, line) = require("feature_names")?;
    let feature_names: Vec<String> = split_nonempty(names, ' ').map(str::to_string).collect();
    if feature_names.len() != num_features {
        return Err(bad(
            "feature_names",
            line,
            format!(
                "{} names for {num_features} features (max_feature_idx + 1)",
                feature_names.len()
            ),
        ));
    }
    let (_, infos, line) = require("feature_infos")?;
    let feature_infos: Vec<String> = split_nonempty(infos, ' ').map(str::to_string).collect();
    if feature_infos.len() != num_features {
        return Err(bad(
            "feature_infos",
            line,
            format!(
                "{} entries for {num_features} features",
                feature_infos.len()
            ),
        ));
    }

    let (objective, sigmoid) = match get("objective") {
        None => (String::new(), None),
        Some((_, value, line)) => {
            let mut tokens = split_nonempty(value, ' ');
            if tokens.next() == Some("binary") {
                // `BinaryLogloss(strs)`: the last `sigmoid:x` token wins; it must be > 0.
                let mut sigmoid = None;
                for token in tokens {
                    let parts: Vec<&str> = split_nonempty(token, ':').collect();
                    if parts.len() == 2 && parts[0] == "sigmoid" {
                        sigmoid = Some(lightgbm_atof(parts[1]).ok_or_else(|| {
                            bad("objective", line, format!("`{}` is not a number", parts[1]))
                        })?);
                    }
                }
                match sigmoid {
                    Some(s) if s > 0.0 && s.is_finite() => (value.to_string(), Some(s)),
                    Some(s) => {
                        return Err(bad(
                            "objective",
                            line,
                            format!("sigmoid parameter {s} should be greater than zero"),
                        ));
                    }
                    None => {
                        return Err(bad(
                            "objective",
                            line,
                            "binary objective without a `sigmoid:` parameter".into(),
                        ));
                    }
                }
            } else {
                (value.to_string(), None)
            }
        }
    };

    let tree_sizes = match get("tree_sizes") {
        None => None,
        Some((_, value, line)) => Some(
            split_nonempty(value, ' ')
                .map(|s| {
                    parse_int::<usize>(s)
                        .ok_or_else(|| bad("tree_sizes", line, format!("`{s}` is not a size")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };

    Ok(Header {
        num_class,
        num_tree_per_iteration,
        num_features,
        feature_names,
        feature_infos,
        objective,
        sigmoid,
        average_output: get("average_output").is_some(),
        tree_sizes,
    })
}

/// One tree block as LightGBM's `Tree(const char*)` reads it.
struct RawTree {
    num_leaves: usize,
    num_cat: usize,
    split_feature: Vec<usize>,
    threshold: Vec<f64>,
    decision_type: Vec<i8>,
    left_child: Vec<i32>,
    right_child: Vec<i32>,
    leaf_value: Vec<f64>,
    cat_boundaries: Vec<usize>,
    cat_threshold: Vec<u32>,
}

fn parse_tree(
    tree: usize,
    block: &[Line<'_>],
    num_features: usize,
) -> Result<RawTree, NativeModelError> {
    let first_line = block.first().map_or(0, |l| l.number);
    let err = |line: usize, message: String| NativeModelError::Tree {
        tree,
        line,
        message,
    };
    let mut fields: Vec<(&str, &str, usize)> = Vec::new();
    for line in block {
        let Some((key, value)) = line.text.split_once('=') else {
            return Err(err(
                line.number,
                format!("expected `key=value`, found `{}`", truncate(line.text)),
            ));
        };
        fields.push((key, value, line.number));
    }
    let get = |key: &str| fields.iter().rev().find(|(k, _, _)| *k == key).copied();
    let require = |key: &str| {
        get(key).ok_or_else(|| {
            err(
                block.last().map_or(first_line, |l| l.number),
                format!("missing `{key}=`"),
            )
        })
    };
    // Every array must have exactly `n` entries; LightGBM's fast parsers would read past
    // the end of a short line or ignore a long one.
    fn array<T: std::str::FromStr>(
        key: &str,
        value: &str,
        n: usize,
        line: usize,
        err: &dyn Fn(usize, String) -> NativeModelError,
    ) -> Result<Vec<T>, NativeModelError> {
        let items: Vec<&str> = split_nonempty(value, ' ').collect();
        if items.len() != n {
            return Err(err(
                line,
                format!("`{key}` has {} values, expected {n}", items.len()),
            ));
        }
        items
            .iter()
            .map(|s| {
                s.parse::<T>()
                    .map_err(|_| err(line, format!("`{key}` has an invalid value `{s}`")))
            })
            .collect()
    }

    let (_, v, line) = require("num_leaves")?;
    let num_leaves = match parse_int::<i64>(v) {
        Some(n) if n >= 1 && n <= i64::from(i32::MAX) => n as usize,
        _ => {
            return Err(err(
                line,
                format!("num_leaves `{v}` is not a positive integer"),
            ));
        }
    };
    let (_, v, line) = require("num_cat")?;
    let num_cat = match parse_int::<i64>(v) {
        Some(n) if n >= 0 && n <= i64::from(i32::MAX) => n as usize,
        _ => {
            return Err(err(
                line,
                format!("num_cat `{v}` is not a non-negative integer"),
            ));
        }
    };
    let (_, v, line) = require("leaf_value")?;
    let leaf_value: Vec<f64> = array("leaf_value", v, num_leaves, line, &err)?;
    if let Some((_, v, line)) = get("is_linear") {
        match parse_int::<i64>(v) {
            Some(0) => {}
            Some(_) => return Err(NativeModelError::LinearTree { tree, line }),
            None => return Err(err(line, format!("is_linear `{v}` is not an integer"))),
        }
    }
    let mut raw = RawTree {
        num_leaves,
        num_cat,
        split_feature: Vec::new(),
        threshold: Vec::new(),
        decision_type: Vec::new(),
        left_child: Vec::new(),
        right_child: Vec::new(),
        leaf_value,
        cat_boundaries: Vec::new(),
        cat_threshold: Vec::new(),
    };
    if num_leaves == 1 {
        // LightGBM returns here: a single-leaf tree is just its leaf value.
        return Ok(raw);
    }
    let internal = num_leaves - 1;
    let (_, v, line) = require("split_feature")?;
    raw.split_feature = array("split_feature", v, internal, line, &err)?;
    if let Some(&f) = raw.split_feature.iter().find(|&&f| f >= num_features) {
        return Err(err(
            line,
            format!(
                "split_feature {f} is beyond max_feature_idx {}",
                num_features - 1
            ),
        ));
    }
    let (_, v, line) = require("threshold")?;
    raw.threshold = array("threshold", v, internal, line, &err)?;
    raw.decision_type = match get("decision_type") {
        Some((_, v, line)) => array("decision_type", v, internal, line, &err)?,
        None => vec![0; internal],
    };
    let (_, v, line) = require("left_child")?;
    raw.left_child = array("left_child", v, internal, line, &err)?;
    let (_, v, line) = require("right_child")?;
    raw.right_child = array("right_child", v, internal, line, &err)?;
    if num_cat > 0 {
        let (_, v, line) = require("cat_boundaries")?;
        raw.cat_boundaries = array("cat_boundaries", v, num_cat + 1, line, &err)?;
        if raw.cat_boundaries.windows(2).any(|w| w[0] > w[1]) {
            return Err(err(line, "cat_boundaries is not non-decreasing".into()));
        }
        let words = raw.cat_boundaries[num_cat];
        let (_, v, line) = require("cat_threshold")?;
        raw.cat_threshold = array("cat_threshold", v, words, line, &err)?;
    }
    Ok(raw)
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

impl NativeModel {
    /// Parses a LightGBM text model. Refuses anything LightGBM would refuse, anything
    /// malformed that LightGBM would read without complaint (wrong array lengths, child
    /// indices out of range, `tree_sizes` that do not match), a text without
    /// `end of trees`, and linear trees.
    pub fn parse(text: &str) -> Result<Self, NativeModelError> {
        if text.trim().is_empty() {
            return Err(NativeModelError::Empty);
        }
        let all = lines(text);
        let first_tree = all.iter().position(|l| l.text.starts_with("Tree="));
        let header_end = all
            .iter()
            .position(|l| {
                l.text.starts_with("Tree=")
                    || l.text == "end of trees"
                    || l.text == "feature_importances:"
                    || l.text == "parameters:"
            })
            .unwrap_or(all.len());
        let header = parse_header(&all[..header_end])?;
        let Some(first_tree) = first_tree else {
            return Err(NativeModelError::NoTrees);
        };

        // Tree blocks: `Tree=i`, then `key=value` lines up to a blank line.
        let mut raw_trees = Vec::new();
        let mut tree_offsets = Vec::new();
        let mut tree_lines = Vec::new();
        let mut i = first_tree;
        let end_of_trees = loop {
            let Some(line) = all.get(i) else {
                return Err(NativeModelError::Truncated {
                    message: format!(
                        "no `end of trees` line after tree {}",
                        raw_trees.len().saturating_sub(1)
                    ),
                });
            };
            if line.text.is_empty() {
                i += 1;
                continue;
            }
            if line.text == "end of trees" {
                break line.offset;
            }
            let Some(number) = line.text.strip_prefix("Tree=") else {
                return Err(NativeModelError::Tree {
                    tree: raw_trees.len(),
                    line: line.number,
                    message: format!(
                        "expected `Tree={}` or `end of trees`, found `{}`",
                        raw_trees.len(),
                        truncate(line.text)
                    ),
                });
            };
            if parse_int::<usize>(number) != Some(raw_trees.len()) {
                return Err(NativeModelError::Tree {
                    tree: raw_trees.len(),
                    line: line.number,
                    message: format!("expected `Tree={}`, found `{}`", raw_trees.len(), line.text),
                });
            }
            tree_offsets.push(line.offset);
            tree_lines.push(line.number);
            let body_start = i + 1;
            let mut body_end = body_start;
            while all.get(body_end).is_some_and(|l| !l.text.is_empty()) {
                body_end += 1;
            }
            if body_end == all.len() {
                return Err(NativeModelError::Truncated {
                    message: format!("the text ends inside tree {}", raw_trees.len()),
                });
            }
            raw_trees.push(parse_tree(
                raw_trees.len(),
                &all[body_start..body_end],
                header.num_features,
            )?);
            i = body_end;
        };

        if let Some(sizes) = &header.tree_sizes {
            // LightGBM locates tree i at `first tree + sum(tree_sizes[..i])` bytes.
            if sizes.len() != raw_trees.len() {
                return Err(NativeModelError::TreeSizes {
                    message: format!(
                        "tree_sizes lists {} trees, the text has {}",
                        sizes.len(),
                        raw_trees.len()
                    ),
                });
            }
            let mut at = tree_offsets[0];
            for (t, (&offset, &size)) in tree_offsets.iter().zip(sizes).enumerate() {
                if offset != at {
                    return Err(NativeModelError::TreeSizes {
                        message: format!(
                            "tree {t} starts at byte {offset}, tree_sizes puts it at {at}"
                        ),
                    });
                }
                at += size;
            }
            if at != end_of_trees {
                return Err(NativeModelError::TreeSizes {
                    message: format!(
                        "the last tree ends at byte {end_of_trees}, tree_sizes says {at}"
                    ),
                });
            }
        }

        let num_trees = raw_trees.len();
        let num_iterations = num_trees / header.num_tree_per_iteration;
        if num_iterations == 0 {
            return Err(NativeModelError::NoTrees);
        }
        let mut model = NativeModel {
            feature_names: header.feature_names,
            feature_infos: header.feature_infos,
            num_class: header.num_class,
            num_tree_per_iteration: header.num_tree_per_iteration,
            objective: header.objective,
            sigmoid: header.sigmoid,
            average_output: header.average_output,
            num_trees,
            num_iterations,
            nodes: Vec::new(),
            roots: Vec::new(),
            leaf_values: Vec::new(),
            sink: 0,
            raw_thresholds: Vec::new(),
            cat_words: Vec::new(),
            categorical: Vec::new(),
            quick: None,
        };
        // `GBDT::PredictRaw` only uses whole iterations.
        let used = num_iterations * header.num_tree_per_iteration;
        let mut categorical: Vec<usize> = Vec::new();
        for (t, (raw, &line)) in raw_trees.iter().zip(&tree_lines).enumerate().take(used) {
            model.push_tree(t, line, raw, &mut categorical)?;
        }
        model.sink = model.index(model.nodes.len())?;
        model.nodes.push(Node {
            value: f64::NAN,
            meta: LEAF,
            right: model.sink,
        });
        model.leaf_values.push(0.0);
        model.raw_thresholds.push(f64::NAN);
        for (f, info) in model.feature_infos.iter().enumerate() {
            // Numerical features are `[min:max]` or `none`, categorical ones `c1:c2:..`.
            if info != "none" && !info.starts_with('[') {
                categorical.push(f);
            }
        }
        categorical.sort_unstable();
        categorical.dedup();
        model.categorical = categorical;
        model.quick = QuickScorer::build(&model);
        Ok(model)
    }

    /// Lays out one tree in pre-order, validating that it is a tree.
    fn push_tree(
        &mut self,
        tree: usize,
        line: usize,
        raw: &RawTree,
        categorical: &mut Vec<usize>,
    ) -> Result<(), NativeModelError> {
        let err = |message: String| NativeModelError::Tree {
            tree,
            line,
            message,
        };
        let root = self.index(self.nodes.len())?;
        self.roots.push(root);
        let internal = raw.num_leaves - 1;
        let mut seen_node = vec![false; internal];
        let mut seen_leaf = vec![false; raw.num_leaves];
        // (LightGBM child reference, node whose `right` to patch)
        let mut stack: Vec<(i32, Option<usize>)> = vec![(if internal == 0 { -1 } else { 0 }, None)];
        while let Some((child, patch)) = stack.pop() {
            let at = self.nodes.len();
            let at32 = self.index(at)?;
            if let Some(parent) = patch {
                self.nodes[parent].right = at32;
            }
            if child < 0 {
                let leaf = (!child) as usize;
                if leaf >= raw.num_leaves {
                    return Err(err(format!("leaf {leaf} does not exist")));
                }
                if std::mem::replace(&mut seen_leaf[leaf], true) {
                    return Err(err(format!("leaf {leaf} is reached twice")));
                }
                self.nodes.push(Node {
                    value: f64::NAN,
                    meta: LEAF,
                    right: at32,
                });
                self.leaf_values.push(raw.leaf_value[leaf]);
                self.raw_thresholds.push(f64::NAN);
                continue;
            }
            let node = child as usize;
            if node >= internal {
                return Err(err(format!("node {node} does not exist")));
            }
            if std::mem::replace(&mut seen_node[node], true) {
                return Err(err(format!("node {node} is reached twice")));
            }
            let feature = raw.split_feature[node];
            let threshold = raw.threshold[node];
            let dt = raw.decision_type[node];
            let default_left = dt & K_DEFAULT_LEFT_MASK != 0;
            let missing = (dt >> 2) & 3;
            let mut meta = feature as u32;
            let value;
            // LightGBM writes only the categorical, default-left and missing-type bits, and
            // the categorical bit only in trees with categorical splits; it trusts them when
            // it reads a model (an inconsistent node crashed it), so anything else is refused.
            if !(0..12).contains(&dt) {
                return Err(err(format!(
                    "node {node}: decision_type {dt} is not one LightGBM writes (0 to 11)"
                )));
            }
            if raw.num_cat == 0 && dt & K_CATEGORICAL_MASK != 0 {
                return Err(err(format!(
                    "node {node}: decision_type {dt} marks a categorical split, but the tree has num_cat=0"
                )));
            }
            if dt & K_CATEGORICAL_MASK != 0 {
                // `static_cast<int>(threshold_[node])` picks the bitset.
                let cat_idx = threshold as i64;
                if !(threshold >= 0.0 && (cat_idx as usize) < raw.num_cat) {
                    return Err(err(format!(
                        "node {node}: categorical threshold {threshold} is not a bitset index below num_cat {}",
                        raw.num_cat
                    )));
                }
                let (lo, hi) = (
                    raw.cat_boundaries[cat_idx as usize],
                    raw.cat_boundaries[cat_idx as usize + 1],
                );
                let offset = self.cat_words.len();
                self.cat_words.extend_from_slice(&raw.cat_threshold[lo..hi]);
                let (offset, len) = (self.index(offset)?, self.index(hi - lo)?);
                value = f64::from_bits((u64::from(offset) << 32) | u64::from(len));
                meta |= SPECIAL | CATEGORICAL;
                categorical.push(feature);
            } else {
                // NaN becomes 0.0 unless the missing type is NaN; Zero sends 0.0 to the
                // default side, so NaN follows it there too.
                let zero_left = if missing == MISSING_ZERO {
                    default_left
                } else {
                    0.0 <= threshold
                };
                let nan_left = if missing == MISSING_NAN || missing == MISSING_ZERO {
                    default_left
                } else {
                    0.0 <= threshold
                };
                // Inputs in [-kZeroThreshold, kZeroThreshold] arrive as 0.0: move a
                // threshold inside that band to where it splits them as 0.0 would go.
                value = if !(-K_ZERO_THRESHOLD..K_ZERO_THRESHOLD).contains(&threshold) {
                    threshold
                } else if 0.0 <= threshold {
                    K_ZERO_THRESHOLD
                } else {
                    (-K_ZERO_THRESHOLD).next_down()
                };
                if nan_left {
                    meta |= NAN_LEFT;
                }
                if missing == MISSING_ZERO && zero_left != (0.0 <= threshold) {
                    meta |= SPECIAL;
                    if default_left {
                        meta |= DEFAULT_LEFT;
                    }
                }
            }
            self.nodes.push(Node {
                value,
                meta,
                right: 0,
            });
            self.leaf_values.push(f64::NAN);
            self.raw_thresholds.push(threshold);
            stack.push((raw.right_child[node], Some(at)));
            stack.push((raw.left_child[node], None));
        }
        if let Some(node) = seen_node.iter().position(|s| !s) {
            return Err(err(format!("node {node} is not reachable from the root")));
        }
        if let Some(leaf) = seen_leaf.iter().position(|s| !s) {
            return Err(err(format!("leaf {leaf} is not reachable from the root")));
        }
        Ok(())
    }

    fn index(&self, i: usize) -> Result<u32, NativeModelError> {
        u32::try_from(i).map_err(|_| NativeModelError::Unsupported("more than 2^32 nodes".into()))
    }

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

    /// Whether the node goes left for `v`: LightGBM's `Tree::Decision` on the C API's
    /// filtered value.
    #[inline(always)]
    fn go_left(&self, n: &Node, v: f64) -> bool {
        if n.meta & SPECIAL == 0 {
            (v <= n.value) | (v.is_nan() & (n.meta & NAN_LEFT != 0))
        } else {
            self.special_left(n, v)
        }
    }

    #[cold]
    #[inline(never)]
    fn special_left(&self, n: &Node, v: f64) -> bool {
        if n.meta & CATEGORICAL != 0 {
            if v.is_nan() {
                return false;
            }
            // C++ `static_cast<int>` truncates toward zero; out-of-range values (UB in
            // C++, INT_MIN on x86) and Rust's saturation both end up going right.
            let c = v as i32;
            if c < 0 {
                return false;
            }
            let bits = n.value.to_bits();
            let (offset, len) = ((bits >> 32) as usize, (bits & 0xffff_ffff) as usize);
            let word = (c / 32) as usize;
            word < len
                && self
                    .cat_words
                    .get(offset + word)
                    .is_some_and(|w| (w >> (c % 32)) & 1 == 1)
        } else if v.is_nan() || (-K_ZERO_THRESHOLD..=K_ZERO_THRESHOLD).contains(&v) {
            n.meta & DEFAULT_LEFT != 0
        } else {
            v <= n.value
        }
    }

    /// Output of the tree rooted at `root`.
    #[inline(always)]
    fn tree_output(&self, root: u32, row: &[f64]) -> f64 {
        let nodes = &self.nodes[..];
        let mut i = root as usize;
        loop {
            let n = &nodes[i];
            if n.meta & LEAF != 0 {
                return self.leaf_values[i];
            }
            let v = row[(n.meta & FEATURE_MASK) as usize];
            i = if self.go_left(n, v) {
                i + 1
            } else {
                n.right as usize
            };
        }
    }

    /// One step of a lane: the next node for value `v` at node `i`. A leaf (NaN threshold,
    /// `right` to itself) stays where it is. Branch-free: which child follows is data,
    /// not something a branch predictor can learn.
    #[inline(always)]
    fn step(&self, i: usize, node: &Node, v: f64) -> usize {
        std::hint::select_unpredictable(self.go_left(node, v), i + 1, node.right as usize)
    }

    /// Sum of the outputs of `roots` for `row`, in tree order. `LANES` trees are walked in
    /// lockstep so their memory accesses overlap instead of forming one long chain of
    /// dependent loads.
    fn sum_trees(&self, roots: &[u32], row: &[f64]) -> f64 {
        let nodes = &self.nodes[..];
        let mut sum = 0.0;
        for group in roots.chunks(LANES) {
            let mut idx = [self.sink as usize; LANES];
            for (i, &root) in idx.iter_mut().zip(group) {
                *i = root as usize;
            }
            loop {
                let mut active = false;
                for i in &mut idx {
                    let node = &nodes[*i];
                    active |= node.meta & LEAF == 0;
                    *i = self.step(*i, node, row[(node.meta & FEATURE_MASK) as usize]);
                }
                if !active {
                    break;
                }
            }
            for &i in &idx[..group.len()] {
                sum += self.leaf_values[i];
            }
        }
        sum
    }

    /// Adds the output of the tree at `root` for each row of `block` to `acc`, walking
    /// `LANES` rows in lockstep.
    #[inline(always)]
    fn add_tree(&self, root: usize, block: &[f64], acc: &mut [f64]) {
        let nf = self.num_features();
        let nodes = &self.nodes[..];
        for (rows, acc) in block.chunks(LANES * nf).zip(acc.chunks_mut(LANES)) {
            // (node, offset of the lane's row); lanes past the last row park on the sink.
            let mut lanes = [(self.sink as usize, 0_usize); LANES];
            for (l, lane) in lanes.iter_mut().enumerate().take(acc.len()) {
                *lane = (root, l * nf);
            }
            loop {
                let mut active = false;
                for (i, b) in &mut lanes {
                    let node = &nodes[*i];
                    active |= node.meta & LEAF == 0;
                    *i = self.step(*i, node, rows[*b + (node.meta & FEATURE_MASK) as usize]);
                }
                if !active {
                    break;
                }
            }
            for (a, &(i, _)) in acc.iter_mut().zip(&lanes) {
                *a += self.leaf_values[i];
            }
        }
    }

    fn check_row(&self, row: &[f64]) {
        assert_eq!(
            row.len(),
            self.num_features(),
            "row has {} values, the model has {} features",
            row.len(),
            self.num_features()
        );
    }

    /// Raw score of output 0 (the only output of a binary model): the sum of the tree
    /// outputs in tree order, as `GBDT::PredictRaw` (no averaging, no link).
    ///
    /// # Panics
    /// If `row.len() != num_features()`.
    pub fn predict_raw(&self, row: &[f64]) -> f64 {
        self.check_row(row);
        if let Some(quick) = &self.quick {
            return quick.predict_raw_one(row);
        }
        if self.num_tree_per_iteration == 1 {
            return self.sum_trees(&self.roots, row);
        }
        let mut sum = 0.0;
        for &root in self.roots.iter().step_by(self.num_tree_per_iteration) {
            sum += self.tree_output(root, row);
        }
        sum
    }

    /// Tree-by-tree `predict_raw`, the plain form of the lockstep walk (for comparisons).
    #[cfg(test)]
    fn predict_raw_simple(&self, row: &[f64]) -> f64 {
        self.check_row(row);
        let mut sum = 0.0;
        for &root in self.roots.iter().step_by(self.num_tree_per_iteration) {
            sum += self.tree_output(root, row);
        }
        sum
    }

    /// Raw scores of all `num_tree_per_iteration()` outputs (multiclass).
    ///
    /// # Panics
    /// If `row.len() != num_features()` or `out.len() != num_tree_per_iteration()`.
    pub fn predict_raw_multi(&self, row: &[f64], out: &mut [f64]) {
        self.check_row(row);
        let k = self.num_tree_per_iteration;
        assert_eq!(out.len(), k, "one output per tree per iteration");
        out.fill(0.0);
        for iteration in self.roots.chunks_exact(k) {
            for (o, &root) in out.iter_mut().zip(iteration) {
                *o += self.tree_output(root, row);
            }
        }
    }

    /// `GBDT::Predict` after `PredictRaw`: averaging for `average_output`, then the
    /// binary objective's `ConvertOutput`. NaN when the model is not binary.
    #[inline]
    fn link(&self, raw: f64) -> f64 {
        let mut x = raw;
        if self.average_output {
            x /= self.num_iterations as f64;
        }
        match self.sigmoid {
            Some(s) => 1.0 / (1.0 + (-s * x).exp()),
            None => f64::NAN,
        }
    }

    /// Probability of the positive class: `1 / (1 + exp(-sigmoid * raw))`, bit-identical
    /// to LightGBM's normal prediction. NaN when the objective is not `binary`.
    ///
    /// # Panics
    /// If `row.len() != num_features()`.
    pub fn predict_proba(&self, row: &[f64]) -> f64 {
        self.link(self.predict_raw(row))
    }

    /// [`NativeModel::predict_proba`] for row-major `rows`, one result per row in `out`.
    /// QuickScorer takes the rows 4 at a time, interleaving their leaf sums; the walk takes
    /// blocks of rows tree by tree, which keeps each tree in cache. Every row still sums
    /// its trees in tree order, so results are bit-identical.
    ///
    /// # Panics
    /// If `rows.len() != out.len() * num_features()`.
    pub fn predict_proba_batch(&self, rows: &[f64], out: &mut [f64]) {
        let nf = self.num_features();
        assert_eq!(
            rows.len(),
            out.len() * nf,
            "{} values are not {} rows of {nf} features",
            rows.len(),
            out.len()
        );
        if let Some(quick) = &self.quick {
            quick.predict_raw_batch(rows, nf, out, &mut quick.scratch());
            for o in out.iter_mut() {
                *o = self.link(*o);
            }
            return;
        }
        for (block, acc) in rows.chunks(BLOCK * nf).zip(out.chunks_mut(BLOCK)) {
            acc.fill(0.0);
            for &root in self.roots.iter().step_by(self.num_tree_per_iteration) {
                self.add_tree(root as usize, block, acc);
            }
            for a in acc.iter_mut() {
                *a = self.link(*a);
            }
        }
    }

    /// Number of internal nodes (decisions) evaluated for `row` over all used trees.
    ///
    /// # Panics
    /// If `row.len() != num_features()`.
    pub fn nodes_visited(&self, row: &[f64]) -> usize {
        self.check_row(row);
        let mut visited = 0;
        for &root in &self.roots {
            self.walk(root, row, |_, _| visited += 1);
        }
        visited
    }

    /// How many node masks QuickScorer applies for `row` (`None` when the model is walked
    /// tree by tree instead).
    pub fn quick_scorer_work(&self, row: &[f64]) -> Option<usize> {
        self.check_row(row);
        self.quick.as_ref().map(|q| q.work(row))
    }

    /// Calls `f(node, went_left)` for each decision on the path of `row` from `root`.
    fn walk(&self, root: u32, row: &[f64], mut f: impl FnMut(usize, bool)) {
        let mut i = root as usize;
        loop {
            let n = &self.nodes[i];
            if n.meta & LEAF != 0 {
                return;
            }
            let left = self.go_left(n, row[(n.meta & FEATURE_MASK) as usize]);
            f(i, left);
            i = if left { i + 1 } else { n.right as usize };
        }
    }

    /// How many of the `2 × internal nodes` split directions of the used trees the
    /// row-major `rows` take: `(taken, total)`.
    ///
    /// # Panics
    /// If `rows.len()` is not a multiple of `num_features()`.
    pub fn split_coverage(&self, rows: &[f64]) -> (usize, usize) {
        let nf = self.num_features();
        assert_eq!(rows.len() % nf, 0, "rows are not whole rows");
        let mut taken = vec![[false; 2]; self.nodes.len()];
        for row in rows.chunks_exact(nf) {
            for &root in &self.roots {
                self.walk(root, row, |i, left| taken[i][usize::from(left)] = true);
            }
        }
        let internal = self.nodes.iter().filter(|n| n.meta & LEAF == 0).count();
        let covered = taken.iter().flatten().filter(|&&t| t).count();
        (covered, 2 * internal)
    }

    /// Members of a categorical node's bitset.
    fn categories(&self, n: &Node) -> Vec<u32> {
        let bits = n.value.to_bits();
        let (offset, len) = ((bits >> 32) as usize, (bits & 0xffff_ffff) as usize);
        let mut out = Vec::new();
        for (w, word) in self.cat_words[offset..offset + len].iter().enumerate() {
            for b in 0..32 {
                if (word >> b) & 1 == 1 {
                    out.push(w as u32 * 32 + b);
                }
            }
        }
        out
    }

    /// Values to try at a node: around the threshold, zero, NaN; or every category of
    /// the bitset and values outside it.
    fn probe_values(&self, i: usize) -> Vec<f64> {
        let n = &self.nodes[i];
        let mut values = vec![f64::NAN, 0.0, -0.0];
        if n.meta & CATEGORICAL != 0 {
            let cats = self.categories(n);
            let words = (n.value.to_bits() & 0xffff_ffff) as u32;
            let mut outside = 0;
            while cats.contains(&outside) {
                outside += 1;
            }
            values.extend(cats.iter().map(|&c| f64::from(c)));
            if let Some(&c) = cats.first() {
                values.push(f64::from(c) + 0.5);
            }
            values.extend([
                f64::from(outside),
                f64::from(cats.last().map_or(0, |c| c + 1)),
                f64::from(words * 32),
                -1.0,
                -0.5,
                -1e10,
                1e10,
                2_147_483_648.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ]);
        } else {
            for t in [self.raw_thresholds[i], n.value] {
                if t.is_finite() {
                    values.extend([t.next_down(), t, t.next_up()]);
                }
            }
            if n.value != self.raw_thresholds[i] || n.meta & SPECIAL != 0 {
                values.extend([K_ZERO_THRESHOLD, -K_ZERO_THRESHOLD, 1e-36, -1e-36]);
            }
        }
        let mut seen = HashSet::new();
        values.retain(|v| seen.insert(v.to_bits()));
        values
    }

    /// Row-major rows for checking this evaluator against LightGBM: for every split, rows
    /// that reach it (where its path allows) with values just below, equal to and just
    /// above the threshold, NaN, `0.0` and `-0.0` — or every category of its bitset, values
    /// outside it, negative and huge ones; then rows of NaN, zeros and other constants;
    /// then random rows. Deterministic for a given `seed`.
    pub fn verification_rows(&self, seed: u64) -> Vec<f64> {
        let nf = self.num_features();
        let mut rng = SplitMix64(seed);
        let pools = self.value_pools();
        let mut rows: Vec<f64> = Vec::new();

        // Targeted rows: a target (split, probed value) needs its split's feature set to
        // the value and the features on its path set so the row reaches the split. Many
        // targets share a row when their requirements agree.
        let mut packer = Packer::new(nf);
        let mut path: Vec<(usize, bool)> = Vec::new();
        for &root in &self.roots {
            // Depth-first over the tree: (node, path length of the parent, edge into node).
            let mut stack: Vec<DfsEntry> = vec![(root as usize, 0, None)];
            while let Some((i, parent_len, edge)) = stack.pop() {
                path.truncate(parent_len);
                path.extend(edge);
                let n = self.nodes[i];
                if n.meta & LEAF != 0 {
                    continue;
                }
                let feature = (n.meta & FEATURE_MASK) as usize;
                if let Some(assign) = self.path_assignment(&path, feature) {
                    for v in self.probe_values(i) {
                        // The probed value must not divert the path on the same feature.
                        let reachable = path.iter().all(|&(a, left)| {
                            let an = &self.nodes[a];
                            (an.meta & FEATURE_MASK) as usize != feature
                                || self.go_left(an, v) == left
                        });
                        if reachable {
                            let fits = |row: &PackedRow| {
                                path.iter().all(|&(a, left)| {
                                    let an = &self.nodes[a];
                                    let f = (an.meta & FEATURE_MASK) as usize;
                                    f == feature
                                        || !row.set[f]
                                        || self.go_left(an, row.values[f]) == left
                                })
                            };
                            packer.place(feature, v, &assign, fits);
                        }
                    }
                }
                let len = path.len();
                stack.push((n.right as usize, len, Some((i, false))));
                stack.push((i + 1, len, Some((i, true))));
            }
        }
        let mut open = packer.rows;
        for row in &mut open {
            for f in 0..nf {
                if !row.set[f] {
                    row.values[f] = pools[f][rng.below(pools[f].len())];
                }
            }
            rows.extend_from_slice(&row.values);
        }

        // Constant rows.
        for v in [
            f64::NAN,
            0.0,
            -0.0,
            K_ZERO_THRESHOLD,
            -K_ZERO_THRESHOLD,
            1e-300,
            -1e-300,
            1.0,
            -1.0,
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            rows.extend(std::iter::repeat_n(v, nf));
        }
        // Random rows from the per-feature pools, with NaN and zeros sprinkled in.
        let random_rows = 256 + 4 * nf;
        for _ in 0..random_rows {
            for pool in &pools {
                let v = match rng.below(10) {
                    0 => f64::NAN,
                    1 => 0.0,
                    2 => -0.0,
                    _ => pool[rng.below(pool.len())],
                };
                rows.push(v);
            }
        }
        rows
    }

    /// Values for the features on `path` (other than `skip`) that send a row along it,
    /// or `None` when no candidate satisfies every split on some feature.
    fn path_assignment(&self, path: &[(usize, bool)], skip: usize) -> Option<Vec<(usize, f64)>> {
        let mut features: Vec<usize> = path
            .iter()
            .map(|&(a, _)| (self.nodes[a].meta & FEATURE_MASK) as usize)
            .filter(|&f| f != skip)
            .collect();
        features.sort_unstable();
        features.dedup();
        let mut out = Vec::with_capacity(features.len());
        for f in features {
            let on_f: Vec<(usize, bool)> = path
                .iter()
                .copied()
                .filter(|&(a, _)| (self.nodes[a].meta & FEATURE_MASK) as usize == f)
                .collect();
            let mut candidates = vec![0.0, f64::NAN];
            for &(a, _) in &on_f {
                let n = &self.nodes[a];
                if n.meta & CATEGORICAL != 0 {
                    candidates.extend(self.categories(n).iter().map(|&c| f64::from(c)));
                    candidates.push(-1.0);
                } else {
                    let t = self.raw_thresholds[a];
                    candidates.extend([t, t.next_up(), t.next_down(), n.value, n.value.next_up()]);
                }
            }
            let value = candidates.into_iter().find(|&v| {
                on_f.iter()
                    .all(|&(a, left)| self.go_left(&self.nodes[a], v) == left)
            })?;
            out.push((f, value));
        }
        Some(out)
    }

    /// Per-feature values for filling rows: thresholds and their neighbours, categories,
    /// the `feature_infos` range, zeros, NaN.
    fn value_pools(&self) -> Vec<Vec<f64>> {
        let nf = self.num_features();
        let mut pools: Vec<Vec<f64>> = vec![vec![0.0, -0.0, f64::NAN, 1.0, -1.0]; nf];
        for (i, n) in self.nodes.iter().enumerate() {
            if n.meta & LEAF != 0 {
                continue;
            }
            let pool = &mut pools[(n.meta & FEATURE_MASK) as usize];
            if n.meta & CATEGORICAL != 0 {
                pool.extend(self.categories(n).iter().map(|&c| f64::from(c)));
                pool.push(-1.0);
            } else {
                let t = self.raw_thresholds[i];
                if t.is_finite() {
                    pool.extend([t.next_down(), t, t.next_up()]);
                }
            }
        }
        for (pool, info) in pools.iter_mut().zip(&self.feature_infos) {
            if let Some(range) = info.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                let bounds = range
                    .split_once(':')
                    .map(|(lo, hi)| (lo.parse::<f64>(), hi.parse::<f64>()));
                if let Some((Ok(lo), Ok(hi))) = bounds {
                    pool.extend([lo, hi, lo - 1.0, hi + 1.0, 0.5 * (lo + hi)]);
                }
            } else if info != "none" {
                pool.extend(split_nonempty(info, ':').filter_map(|c| c.parse::<f64>().ok()));
            }
        }
        for pool in &mut pools {
            let mut seen = HashSet::new();
            pool.retain(|v| seen.insert(v.to_bits()));
        }
        pools
    }
}

/// Depth-first entry: node, path length of its parent, the edge (parent, went left).
type DfsEntry = (usize, usize, Option<(usize, bool)>);

/// A partly filled verification row.
struct PackedRow {
    values: Vec<f64>,
    set: Vec<bool>,
}

/// First-fit packing of verification targets into rows.
struct Packer {
    rows: Vec<PackedRow>,
    /// Per feature, a row before which every row has the feature set.
    unset_from: Vec<usize>,
    /// Rows holding a (feature, value bits) pair.
    by_value: HashMap<(usize, u64), Vec<usize>>,
}

impl Packer {
    /// Candidate rows examined per target and per kind (same value, feature unset).
    const SCAN: usize = 1024;

    fn new(num_features: usize) -> Self {
        Packer {
            rows: Vec::new(),
            unset_from: vec![0; num_features],
            by_value: HashMap::new(),
        }
    }

    /// Puts `feature = v` plus the path values `assign` in the first row that can take
    /// them (`fits` checks the row's values on the path), or in a new row.
    fn place(
        &mut self,
        feature: usize,
        v: f64,
        assign: &[(usize, f64)],
        fits: impl Fn(&PackedRow) -> bool,
    ) {
        let key = (feature, v.to_bits());
        let same = self.by_value.get(&key).and_then(|rows| {
            rows.iter()
                .rev()
                .take(Self::SCAN)
                .copied()
                .find(|&r| fits(&self.rows[r]))
        });
        let slot = same.or_else(|| {
            let mut at = self.unset_from[feature];
            while self.rows.get(at).is_some_and(|r| r.set[feature]) {
                at += 1;
            }
            self.unset_from[feature] = at;
            (at..self.rows.len())
                .filter(|&r| !self.rows[r].set[feature])
                .take(Self::SCAN)
                .find(|&r| fits(&self.rows[r]))
        });
        let slot = slot.unwrap_or_else(|| {
            let nf = self.unset_from.len();
            self.rows.push(PackedRow {
                values: vec![0.0; nf],
                set: vec![false; nf],
            });
            self.rows.len() - 1
        });
        for &(f, value) in std::iter::once(&(feature, v)).chain(assign) {
            let row = &mut self.rows[slot];
            if !row.set[f] {
                row.values[f] = value;
                row.set[f] = true;
                self.by_value
                    .entry((f, value.to_bits()))
                    .or_default()
                    .push(slot);
            }
        }
    }
}

/// A small deterministic generator (SplitMix64) for reproducible test rows.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KZT: f64 = K_ZERO_THRESHOLD;

    /// Numerical, missing None (NaN -> 0.0), `x0 <= 1.5`.
    const T_NONE: &str = "num_leaves=2\nnum_cat=0\nsplit_feature=0\nsplit_gain=1\nthreshold=1.5\ndecision_type=0\nleft_child=-1\nright_child=-2\nleaf_value=0.10000000000000001 0.20000000000000001\nis_linear=0\nshrinkage=1\n";
    /// Missing NaN, default right, `x1 <= 0.5`.
    const T_NAN_RIGHT: &str = "num_leaves=2\nnum_cat=0\nsplit_feature=1\nthreshold=0.5\ndecision_type=8\nleft_child=-1\nright_child=-2\nleaf_value=-0.3 0.4\n";
    /// Missing Zero, default left, `x1 <= -1`: zero and NaN go left although 0 > -1.
    const T_ZERO_LEFT: &str = "num_leaves=2\nnum_cat=0\nsplit_feature=1\nthreshold=-1\ndecision_type=6\nleft_child=-1\nright_child=-2\nleaf_value=1 -1\n";
    /// Categorical on x2, categories {1, 3, 33} go left.
    const T_CAT: &str = "num_leaves=2\nnum_cat=1\nsplit_feature=2\nthreshold=0\ndecision_type=1\nleft_child=-1\nright_child=-2\nleaf_value=5 7\ncat_boundaries=0 2\ncat_threshold=10 2\n";
    /// A single leaf.
    const T_LEAF: &str = "num_leaves=1\nnum_cat=0\nsplit_feature=\nsplit_gain=\nthreshold=\ndecision_type=\nleft_child=\nright_child=\nleaf_value=0.25\nleaf_weight=\nleaf_count=\ninternal_value=\ninternal_weight=\ninternal_count=\nis_linear=0\nshrinkage=1\n";
    /// Threshold exactly 0 on x0 (tiny inputs arrive as 0.0), then NaN-default-left on x1.
    const T_ZERO_THRESHOLD: &str = "num_leaves=3\nnum_cat=0\nsplit_feature=0 1\nthreshold=0 2\ndecision_type=0 10\nleft_child=1 -1\nright_child=-3 -2\nleaf_value=0.01 0.02 0.03\n";
    /// Threshold -kZeroThreshold on x0: -kZeroThreshold itself arrives as 0.0 and goes right.
    const T_MINUS_KZT: &str = "num_leaves=2\nnum_cat=0\nsplit_feature=0\nthreshold=-1.0000000180025095e-35\ndecision_type=0\nleft_child=-1\nright_child=-2\nleaf_value=0.5 -0.5\n";
    /// Categorical bit set but num_cat=0: refused.
    const T_CAT_BIT_NO_CAT: &str = "num_leaves=2\nnum_cat=0\nsplit_feature=2\nthreshold=2.5\ndecision_type=1\nleft_child=-1\nright_child=-2\nleaf_value=0.125 0.375\n";

    fn model_text_with(header_extra: &str, objective: &str, trees: &[&str]) -> String {
        let mut s = format!(
            "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=2\nobjective={objective}\n{header_extra}feature_names=a b c\nfeature_infos=[-5:5] [-5:5] 1:2:3:33\n\n"
        );
        for (i, t) in trees.iter().enumerate() {
            s.push_str(&format!("Tree={i}\n{t}\n\n"));
        }
        s.push_str("end of trees\n\nfeature_importances:\na=1\n\nparameters:\n[boosting: gbdt]\nend of parameters\n\npandas_categorical:null\n");
        s
    }

    fn model_text(trees: &[&str]) -> String {
        model_text_with("", "binary sigmoid:1", trees)
    }

    fn all_trees() -> Vec<&'static str> {
        vec![
            T_NONE,
            T_NAN_RIGHT,
            T_ZERO_LEFT,
            T_CAT,
            T_LEAF,
            T_ZERO_THRESHOLD,
            T_MINUS_KZT,
        ]
    }

    /// The rules written out by hand, per tree, for the model of `all_trees()`.
    fn expected_raw(x: [f64; 3]) -> f64 {
        let tiny = |v: f64| v.abs() <= KZT;
        let filtered = |v: f64| if tiny(v) { 0.0 } else { v };
        let (x0, x1, x2) = (filtered(x[0]), filtered(x[1]), filtered(x[2]));
        let t_none = if x0.is_nan() || x0 <= 1.5 { 0.1 } else { 0.2 };
        let t_nan_right = if x1.is_nan() {
            0.4
        } else if x1 <= 0.5 {
            -0.3
        } else {
            0.4
        };
        let t_zero_left = if x1.is_nan() || x1 == 0.0 || x1 <= -1.0 {
            1.0
        } else {
            -1.0
        };
        let t_cat = if !x2.is_nan() && x2 >= 0.0 && [1, 3, 33].contains(&(x2 as i32)) {
            5.0
        } else {
            7.0
        };
        let t_zero_threshold = if x0.is_nan() || x0 <= 0.0 {
            if x1.is_nan() || x1 <= 2.0 { 0.01 } else { 0.02 }
        } else {
            0.03
        };
        let t_minus_kzt = if !x0.is_nan() && x0 <= -KZT {
            0.5
        } else {
            -0.5
        };
        let mut sum = 0.0;
        for t in [
            t_none,
            t_nan_right,
            t_zero_left,
            t_cat,
            0.25,
            t_zero_threshold,
            t_minus_kzt,
        ] {
            sum += t;
        }
        sum
    }

    fn probe_values() -> Vec<f64> {
        let mut v = vec![
            f64::NAN,
            0.0,
            -0.0,
            KZT,
            -KZT,
            KZT.next_up(),
            (-KZT).next_down(),
            1e-36,
            -1e-36,
            1e-34,
            -1e-34,
            1.5,
            1.5_f64.next_up(),
            0.5,
            0.5_f64.next_up(),
            -1.0,
            -1.0_f64.next_up(),
            -2.0,
            -0.5,
            2.0,
            2.0_f64.next_up(),
            2.5,
            2.5_f64.next_up(),
            1.0,
            1.9,
            3.0,
            33.0,
            32.0,
            64.0,
            1e10,
            -1e10,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        v.sort_by(f64::total_cmp);
        v
    }

    #[test]
    fn hand_written_rules() {
        let m = NativeModel::parse(&model_text(&all_trees())).unwrap();
        assert_eq!(m.num_features(), 3);
        assert_eq!(m.num_trees(), 7);
        assert!(m.is_binary());
        assert_eq!(m.objective(), "binary sigmoid:1");
        assert_eq!(m.feature_names(), ["a", "b", "c"]);
        assert_eq!(m.categorical_features(), vec![2]);
        let values = probe_values();
        let mut rows = Vec::new();
        for &a in &values {
            for &b in &values {
                for &c in &values {
                    let x = [a, b, c];
                    let raw = m.predict_raw(&x);
                    assert_eq!(raw.to_bits(), expected_raw(x).to_bits(), "row {x:?}");
                    let p = m.predict_proba(&x);
                    assert_eq!(p.to_bits(), (1.0 / (1.0 + (-raw).exp())).to_bits());
                    rows.extend_from_slice(&x);
                }
            }
        }
        let mut out = vec![0.0; rows.len() / 3];
        m.predict_proba_batch(&rows, &mut out);
        for (row, p) in rows.chunks(3).zip(&out) {
            assert_eq!(p.to_bits(), m.predict_proba(row).to_bits());
        }
    }

    #[test]
    fn specific_rules() {
        let one = |t: &str, x: [f64; 3]| {
            NativeModel::parse(&model_text(&[t]))
                .unwrap()
                .predict_raw(&x)
        };
        // NaN becomes 0.0 with missing type None: 0.0 <= 1.5 goes left.
        assert_eq!(one(T_NONE, [f64::NAN, 0.0, 0.0]), 0.1);
        assert_eq!(one(T_NONE, [1.5, 0.0, 0.0]), 0.1);
        assert_eq!(one(T_NONE, [1.5_f64.next_up(), 0.0, 0.0]), 0.2);
        // Missing type NaN, default right.
        assert_eq!(one(T_NAN_RIGHT, [0.0, f64::NAN, 0.0]), 0.4);
        assert_eq!(one(T_NAN_RIGHT, [0.0, 0.5, 0.0]), -0.3);
        // Missing type Zero: zero, tiny and NaN take the default (left) side.
        for z in [0.0, -0.0, 1e-36, KZT, -KZT, f64::NAN] {
            assert_eq!(one(T_ZERO_LEFT, [0.0, z, 0.0]), 1.0, "{z}");
        }
        assert_eq!(one(T_ZERO_LEFT, [0.0, -0.5, 0.0]), -1.0);
        assert_eq!(one(T_ZERO_LEFT, [0.0, -1.0, 0.0]), 1.0);
        // Categorical: truncation toward zero, negatives, NaN and out-of-bitset go right.
        for (v, leaf) in [
            (1.0, 5.0),
            (1.9, 5.0),
            (3.0, 5.0),
            (33.0, 5.0),
            (33.99, 5.0),
            (0.0, 7.0),
            (-0.5, 7.0),
            (-1.0, 7.0),
            (2.0, 7.0),
            (64.0, 7.0),
            (1e10, 7.0),
            (f64::INFINITY, 7.0),
            (f64::NAN, 7.0),
        ] {
            assert_eq!(one(T_CAT, [0.0, 0.0, v]), leaf, "{v}");
        }
        assert_eq!(one(T_LEAF, [1.0, 2.0, 3.0]), 0.25);
        // Threshold 0: 1e-36 arrives as 0.0 and goes left, 1e-34 goes right.
        assert_eq!(one(T_ZERO_THRESHOLD, [1e-36, 0.0, 0.0]), 0.01);
        assert_eq!(one(T_ZERO_THRESHOLD, [1e-34, 0.0, 0.0]), 0.03);
        assert_eq!(one(T_ZERO_THRESHOLD, [-1.0, f64::NAN, 0.0]), 0.01);
        assert_eq!(one(T_ZERO_THRESHOLD, [-1.0, 3.0, 0.0]), 0.02);
        // Threshold -kZeroThreshold: the threshold value itself arrives as 0.0.
        assert_eq!(one(T_MINUS_KZT, [-KZT, 0.0, 0.0]), -0.5);
        assert_eq!(one(T_MINUS_KZT, [(-KZT).next_down(), 0.0, 0.0]), 0.5);
        // A categorical bit in a tree with num_cat=0 is refused (LightGBM crashed on such
        // nodes), as is a decision_type with bits LightGBM never writes.
        let msg = parse_err(&model_text(&[T_CAT_BIT_NO_CAT]));
        assert!(msg.contains("num_cat=0"), "{msg}");
        let msg = parse_err(&model_text(&[
            &T_NONE.replace("decision_type=0", "decision_type=21")
        ]));
        assert!(msg.contains("decision_type 21"), "{msg}");
    }

    #[test]
    fn sigmoid_and_average_output() {
        let m = NativeModel::parse(&model_text_with("", "binary sigmoid:2", &[T_NONE])).unwrap();
        assert_eq!(m.sigmoid(), Some(2.0));
        let p = m.predict_proba(&[0.0, 0.0, 0.0]);
        assert_eq!(p, 1.0 / (1.0 + (-2.0 * 0.1_f64).exp()));
        let m = NativeModel::parse(&model_text_with(
            "average_output\n",
            "binary sigmoid:1",
            &[T_NONE, T_LEAF],
        ))
        .unwrap();
        assert!(m.average_output());
        let raw = m.predict_raw(&[0.0, 0.0, 0.0]);
        assert_eq!(raw, 0.1 + 0.25);
        // Averaging applies to the probability only, as in `GBDT::Predict`.
        assert_eq!(
            m.predict_proba(&[0.0, 0.0, 0.0]),
            1.0 / (1.0 + (-(raw / 2.0)).exp())
        );
        // LightGBM's own `Atof` for the sigmoid.
        assert_eq!(lightgbm_atof("1"), Some(1.0));
        assert_eq!(lightgbm_atof("0.5"), Some(0.5));
        assert_eq!(lightgbm_atof("1.25e1"), Some(12.5));
        assert_eq!(lightgbm_atof("x"), None);
    }

    #[test]
    fn multiclass_and_regression_are_not_binary() {
        let mut s = String::from(
            "tree\nversion=v4\nnum_class=3\nnum_tree_per_iteration=3\nlabel_index=0\nmax_feature_idx=2\nobjective=multiclass num_class:3\nfeature_names=a b c\nfeature_infos=[-5:5] [-5:5] [0:1]\n\n",
        );
        for (i, t) in [T_NONE, T_NAN_RIGHT, T_LEAF, T_LEAF, T_NONE, T_NONE]
            .iter()
            .enumerate()
        {
            s.push_str(&format!("Tree={i}\n{t}\n\n"));
        }
        s.push_str("end of trees\n");
        let m = NativeModel::parse(&s).unwrap();
        assert!(!m.is_binary());
        assert_eq!(m.num_class(), 3);
        let mut out = [0.0; 3];
        m.predict_raw_multi(&[2.0, 0.0, 0.0], &mut out);
        assert_eq!(out, [0.2 + 0.25, -0.3 + 0.2, 0.25 + 0.2]);
        assert!(m.predict_proba(&[0.0; 3]).is_nan());

        let m = NativeModel::parse(&model_text_with("", "regression", &[T_NONE])).unwrap();
        assert!(!m.is_binary());
        assert_eq!(m.objective(), "regression");
    }

    fn parse_err(text: &str) -> String {
        match NativeModel::parse(text) {
            Ok(_) => panic!("parsed: {text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parse_errors() {
        assert!(matches!(
            NativeModel::parse(""),
            Err(NativeModelError::Empty)
        ));
        assert!(matches!(
            NativeModel::parse("hello world\nthis is not a model\n"),
            Err(NativeModelError::MissingHeader { key: "num_class" })
        ));
        assert!(matches!(
            NativeModel::parse("{\"json\": true}"),
            Err(NativeModelError::MissingHeader { .. })
        ));
        // No trees.
        let text = model_text(&[]);
        assert!(matches!(
            NativeModel::parse(&text),
            Err(NativeModelError::NoTrees)
        ));
        // Truncated inside a tree and before `end of trees`.
        let full = model_text(&[T_NONE, T_NAN_RIGHT]);
        let cut = &full[..full.find("Tree=1").unwrap() + 20];
        assert!(
            matches!(
                NativeModel::parse(cut),
                Err(NativeModelError::Truncated { .. })
            ),
            "{}",
            parse_err(cut)
        );
        let cut = &full[..full.find("end of trees").unwrap()];
        assert!(matches!(
            NativeModel::parse(cut),
            Err(NativeModelError::Truncated { .. })
        ));
        // A tree's array with a value missing: the error names the tree and the line.
        let bad = model_text(&[
            T_NONE,
            &T_NAN_RIGHT.replace("leaf_value=-0.3 0.4", "leaf_value=-0.3"),
        ]);
        let msg = parse_err(&bad);
        let line = bad.lines().position(|l| l == "leaf_value=-0.3").unwrap() + 1;
        assert!(
            msg.contains("tree 1") && msg.contains(&format!("line {line}")),
            "{msg}"
        );
        assert!(msg.contains("leaf_value"), "{msg}");
        // Garbage in a threshold.
        let msg = parse_err(&model_text(&[
            &T_NONE.replace("threshold=1.5", "threshold=abc")
        ]));
        assert!(msg.contains("tree 0") && msg.contains("threshold"), "{msg}");
        // Feature out of range.
        let msg = parse_err(&model_text(&[
            &T_NONE.replace("split_feature=0", "split_feature=7")
        ]));
        assert!(msg.contains("beyond max_feature_idx"), "{msg}");
        // Child indices that do not form a tree.
        let msg = parse_err(&model_text(&[
            &T_ZERO_THRESHOLD.replace("left_child=1 -1", "left_child=1 0")
        ]));
        assert!(msg.contains("reached twice"), "{msg}");
        let msg = parse_err(&model_text(&[
            &T_NONE.replace("right_child=-2", "right_child=-5")
        ]));
        assert!(msg.contains("leaf 4 does not exist"), "{msg}");
        // Missing field.
        let msg = parse_err(&model_text(&[&T_NONE.replace("num_cat=0\n", "")]));
        assert!(msg.contains("num_cat"), "{msg}");
        // Linear trees are refused so the caller can fall back.
        let linear = model_text(&[&T_NONE.replace("is_linear=0", "is_linear=1")]);
        assert!(matches!(
            NativeModel::parse(&linear),
            Err(NativeModelError::LinearTree { tree: 0, .. })
        ));
        // Binary without a sigmoid, and a non-positive sigmoid, are refused as LightGBM does.
        let msg = parse_err(&model_text_with("", "binary", &[T_NONE]));
        assert!(msg.contains("sigmoid"), "{msg}");
        let msg = parse_err(&model_text_with("", "binary sigmoid:0", &[T_NONE]));
        assert!(msg.contains("greater than zero"), "{msg}");
        // Feature names that do not match max_feature_idx.
        let msg =
            parse_err(&model_text(&[T_NONE]).replace("feature_names=a b c", "feature_names=a b"));
        assert!(msg.contains("feature_names"), "{msg}");
        // Tree numbering.
        let msg = parse_err(&model_text(&[T_NONE, T_NONE]).replace("Tree=1", "Tree=5"));
        assert!(msg.contains("expected `Tree=1`"), "{msg}");
    }

    #[test]
    fn tree_sizes_are_checked() {
        let trees = [T_NONE, T_CAT];
        let sizes: Vec<String> = trees
            .iter()
            .enumerate()
            .map(|(i, t)| format!("Tree={i}\n{t}\n\n").len().to_string())
            .collect();
        let good = model_text_with(
            &format!("tree_sizes={}\n", sizes.join(" ")),
            "binary sigmoid:1",
            &trees,
        );
        assert!(NativeModel::parse(&good).is_ok());
        let bad = model_text_with("tree_sizes=10 20\n", "binary sigmoid:1", &trees);
        assert!(matches!(
            NativeModel::parse(&bad),
            Err(NativeModelError::TreeSizes { .. })
        ));
        let missing = model_text_with(
            &format!("tree_sizes={} 5 5\n", sizes.join(" ")),
            "binary sigmoid:1",
            &trees,
        );
        let msg = parse_err(&missing);
        assert!(msg.contains("lists 4 trees, the text has 2"), "{msg}");
    }

    #[test]
    fn verification_rows_cover_every_split() {
        let m = NativeModel::parse(&model_text(&all_trees())).unwrap();
        let rows = m.verification_rows(7);
        assert_eq!(rows.len() % 3, 0);
        let bits = |r: &[f64]| r.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&rows), bits(&m.verification_rows(7)));
        let (taken, total) = m.split_coverage(&rows);
        assert_eq!(taken, total);
        assert!(rows.iter().any(|v| v.is_nan()));
        assert!(rows.iter().any(|v| v.to_bits() == (-0.0_f64).to_bits()));
        assert!(rows.contains(&-KZT));
        for row in rows.chunks(3) {
            let x = [row[0], row[1], row[2]];
            assert_eq!(
                m.predict_raw(&x).to_bits(),
                expected_raw(x).to_bits(),
                "{x:?}"
            );
        }
    }

    #[test]
    fn lockstep_equals_tree_by_tree() {
        // More trees than lanes, and a count that leaves a partial group.
        let mut trees = all_trees();
        trees.extend(all_trees());
        trees.push(T_CAT);
        let m = NativeModel::parse(&model_text(&trees)).unwrap();
        let rows = m.verification_rows(11);
        let mut batch = vec![0.0; rows.len() / 3];
        m.predict_proba_batch(&rows, &mut batch);
        for (row, b) in rows.chunks(3).zip(&batch) {
            let raw = m.predict_raw_simple(row);
            assert_eq!(m.predict_raw(row).to_bits(), raw.to_bits(), "{row:?}");
            assert_eq!(b.to_bits(), m.link(raw).to_bits(), "{row:?}");
        }
    }

    /// A chain of `leaves - 1` nodes on x0 (`x0 <= i` goes to leaf i), leaf values 1/(i+1).
    fn chain_tree(leaves: usize) -> String {
        let internal = leaves - 1;
        let list = |f: &dyn Fn(usize) -> String| (0..internal).map(f).collect::<Vec<_>>().join(" ");
        let right = |i: usize| {
            if i + 1 < internal {
                (i + 1).to_string()
            } else {
                format!("-{leaves}")
            }
        };
        let values = (0..leaves).map(|i| format!("{}", 1.0 / (i as f64 + 1.0)));
        format!(
            "num_leaves={leaves}\nnum_cat=0\nsplit_feature={}\nthreshold={}\ndecision_type={}\nleft_child={}\nright_child={}\nleaf_value={}\n",
            list(&|_| "0".into()),
            list(&|i| i.to_string()),
            list(&|_| "2".into()),
            list(&|i| format!("-{}", i + 1)),
            list(&right),
            values.collect::<Vec<_>>().join(" "),
        )
    }

    #[test]
    fn quick_scorer_equals_tree_walk() {
        let demo = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/demo/model.txt"
        ))
        .unwrap();
        let mut trees = all_trees();
        trees.extend(all_trees());
        let chain = chain_tree(64);
        trees.push(&chain);
        for text in [model_text(&trees), demo] {
            let quick = NativeModel::parse(&text).unwrap();
            let mut walked = NativeModel::parse(&text).unwrap();
            walked.quick = None;
            let scorer = quick.quick.as_ref().expect("QuickScorer takes the model");
            let nf = quick.num_features();
            let mut rows = quick.verification_rows(3);
            rows.extend((0..nf * 70).map(|i| (i % 67) as f64 - 1.5));
            if (rows.len() / nf).is_multiple_of(4) {
                rows.truncate(rows.len() - nf);
            }
            let n = rows.len() / nf;
            let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
            quick.predict_proba_batch(&rows, &mut a);
            walked.predict_proba_batch(&rows, &mut b);
            let mut scratch = scorer.scratch();
            // The batch's blocks of rows, also without AVX2 (a partial block at the end).
            let mut portable = vec![0.0; n];
            scorer.predict_raw_batch_portable(&rows, nf, &mut portable, &mut scratch);
            for ((row, x), (y, p)) in rows.chunks(nf).zip(&a).zip(b.iter().zip(&portable)) {
                let raw = walked.predict_raw_simple(row);
                assert_eq!(p.to_bits(), raw.to_bits(), "{row:?}");
                assert_eq!(walked.predict_raw(row).to_bits(), raw.to_bits(), "{row:?}");
                assert_eq!(quick.predict_raw(row).to_bits(), raw.to_bits(), "{row:?}");
                for direction in [
                    quick_scorer::Direction::Right,
                    quick_scorer::Direction::Left,
                ] {
                    let towards = scorer.predict_raw_towards(row, &mut scratch, direction);
                    assert_eq!(towards.to_bits(), raw.to_bits(), "{direction:?} {row:?}");
                }
                assert_eq!(x.to_bits(), y.to_bits(), "{row:?}");
            }
        }
    }

    #[test]
    fn trees_beyond_64_leaves_are_walked() {
        let chain = chain_tree(65);
        let m = NativeModel::parse(&model_text(&[&chain, T_CAT])).unwrap();
        assert!(m.quick.is_none());
        for x0 in [-1.0, 0.0, 31.5, 63.0, 63.5, 64.0, f64::NAN] {
            let row = [x0, 0.0, 1.0];
            assert_eq!(
                m.predict_raw(&row).to_bits(),
                m.predict_raw_simple(&row).to_bits()
            );
        }
        assert_eq!(m.predict_raw(&[63.5, 0.0, 1.0]), 1.0 / 65.0 + 5.0);
    }

    #[test]
    fn nodes_visited_counts_decisions() {
        let m = NativeModel::parse(&model_text(&all_trees())).unwrap();
        // One decision per two-leaf tree (5), none for the leaf, two or one for T_ZERO_THRESHOLD.
        assert_eq!(m.nodes_visited(&[-1.0, 0.0, 0.0]), 7);
        assert_eq!(m.nodes_visited(&[1.0, 0.0, 0.0]), 6);
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<NativeModel>();
    }
}
