//! Parsing of the LightGBM text format into the flat node array.

use super::*;

/// A header or tree line: 1-based number, byte offset, text without the line break.
#[derive(Clone, Copy)]
pub(super) struct Line<'a> {
    number: usize,
    offset: usize,
    text: &'a str,
}

pub(super) fn lines(text: &str) -> Vec<Line<'_>> {
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
pub(super) fn split_nonempty(s: &str, delimiter: char) -> impl Iterator<Item = &str> {
    s.split(delimiter).filter(|p| !p.is_empty())
}

/// LightGBM's `Common::Atof`, used for the `sigmoid:` value of the objective. It is not
/// correctly rounded for every input, so it is reproduced operation by operation.
pub(super) fn lightgbm_atof(s: &str) -> Option<f64> {
    pub(super) fn pow10(base: f64, power: u32) -> f64 {
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

pub(super) fn parse_int<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.trim_matches(' ').parse().ok()
}

/// Header fields that matter for prediction.
pub(super) struct Header {
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

pub(super) fn parse_header(header: &[Line<'_>]) -> Result<Header, NativeModelError> {
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
pub(super) struct RawTree {
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

pub(super) fn parse_tree(
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
    pub(super) fn array<T: std::str::FromStr>(
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

pub(super) fn truncate(s: &str) -> String {
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
    pub(super) fn push_tree(
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

    pub(super) fn index(&self, i: usize) -> Result<u32, NativeModelError> {
        u32::try_from(i).map_err(|_| NativeModelError::Unsupported("more than 2^32 nodes".into()))
    }
}
