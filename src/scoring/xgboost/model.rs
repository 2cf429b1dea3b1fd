//! Reading an XGBoost model (`Booster.save_model` as JSON or UBJSON) into checked trees.
//!
//! Everything a hostile file could use to make evaluation misbehave is refused here: child
//! indices out of range, a node reached twice (a cycle or a shared subtree), split features
//! beyond the model's features, array lengths that disagree, trees deeper than
//! [`MAX_DEPTH`]. The evaluator and TreeSHAP then index without further checks.

use serde_json::Value;

use super::XgbError;

/// Deepest tree accepted (XGBoost's default is 6; `lossguide` trees grow deeper, but a tree
/// of 256 levels is not a model anyone trained on purpose and would only cost stack).
pub const MAX_DEPTH: usize = 256;

/// What the model computes from the summed margin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// `binary:logistic`: the probability is the sigmoid of the margin.
    BinaryLogistic,
    /// `reg:logistic`: the same transform, trained as a regression on [0, 1].
    RegLogistic,
    /// `binary:logitraw`: the margin itself is the output; Switchboard serves its sigmoid
    /// as the probability (what `binary:logistic` would have returned).
    BinaryLogitRaw,
}

impl Objective {
    pub fn name(self) -> &'static str {
        match self {
            Objective::BinaryLogistic => "binary:logistic",
            Objective::RegLogistic => "reg:logistic",
            Objective::BinaryLogitRaw => "binary:logitraw",
        }
    }
}

/// One node of a checked tree, in the file's numbering.
#[derive(Debug, Clone, PartialEq)]
pub struct RawNode {
    /// `None` for a leaf.
    pub children: Option<(u32, u32)>,
    pub feature: u32,
    /// Threshold of a numerical split; the output of a leaf.
    pub value: f32,
    pub default_left: bool,
    /// Categories sent right, for a categorical split (sorted, deduplicated).
    pub categories: Option<Vec<u32>>,
    /// `sum_hessian`: the cover TreeSHAP weighs paths by.
    pub cover: f32,
    /// `loss_changes`: the split's gain.
    pub gain: f32,
}

/// A checked tree: nodes in the file's numbering, root 0.
#[derive(Debug, Clone)]
pub struct RawTree {
    pub nodes: Vec<RawNode>,
    /// Levels of splits on the longest path (0 for a single leaf).
    pub depth: usize,
}

/// A parsed XGBoost model, before it is laid out for evaluation.
#[derive(Debug, Clone)]
pub struct RawModel {
    pub feature_names: Vec<String>,
    /// `feature_types` as written (`q`, `c`, `int`, `float`, `i`), if present.
    pub feature_types: Vec<String>,
    pub objective: Objective,
    /// `base_score` as stored: a probability for the logistic objectives.
    pub base_score: f32,
    /// The starting margin every prediction adds its trees to.
    pub base_margin: f32,
    /// `[major, minor, patch]` of the XGBoost that wrote the file.
    pub version: Option<[u64; 3]>,
    pub trees: Vec<RawTree>,
}

/// The file's format, told from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Ubjson,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Ubjson => "ubjson",
        }
    }
}

/// Tells an XGBoost JSON or UBJSON model from its first bytes; `Err` names what else it is
/// when that is an XGBoost file Switchboard cannot read; `Ok(None)` when it is no XGBoost
/// file at all (a LightGBM text, say).
pub fn detect(bytes: &[u8]) -> Result<Option<Format>, XgbError> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let rest = &bytes[start..];
    match rest {
        [b'{', next, ..] => {
            // JSON: the next non-blank byte opens a key or closes the object. UBJSON: a key
            // length's integer marker, or `$`/`#` of an optimized object.
            let json_next = rest[1..].iter().find(|b| !b.is_ascii_whitespace()).copied();
            if matches!(json_next, Some(b'"' | b'}')) {
                Ok(Some(Format::Json))
            } else if matches!(next, b'i' | b'U' | b'I' | b'l' | b'L' | b'$' | b'#' | b'}') {
                Ok(Some(Format::Ubjson))
            } else {
                Ok(None)
            }
        }
        // Python's pickle starts with PROTO (0x80) and a protocol number.
        [0x80, 2..=5, ..] => Err(XgbError::Legacy(
            "this is a Python pickle (e.g. of an XGBClassifier); Switchboard does not unpickle \
             uploads. Re-save the model with `clf.get_booster().save_model(\"model.json\")` (or \
             `\"model.ubj\"`) and upload that file"
                .into(),
        )),
        [b'b', b'i', b'n', b'f', ..] => Err(legacy_binary()),
        _ if bytes.len() >= 136
            && !rest.starts_with(b"tree")
            && std::str::from_utf8(rest).is_err() =>
        {
            // The deprecated binary format (`.bst`, `.model`) starts with a raw
            // LearnerModelParam struct: not text, not JSON, not UBJSON.
            Err(legacy_binary())
        }
        _ => Ok(None),
    }
}

fn legacy_binary() -> XgbError {
    XgbError::Legacy(
        "this looks like XGBoost's deprecated binary format (.bst / .model / .bin). Load it \
         with the XGBoost that wrote it and re-save it as JSON or UBJSON: \
         `xgb.Booster(model_file=\"model.bst\").save_model(\"model.json\")`"
            .into(),
    )
}

/// Parses a model document (already read from JSON or UBJSON).
pub fn parse_document(doc: &Value, feature_list: Option<&[String]>) -> Result<RawModel, XgbError> {
    let learner = field(doc, "learner", "the document")?;
    let version = doc.get("version").and_then(Value::as_array).and_then(|v| {
        let parts: Option<Vec<u64>> = v.iter().map(Value::as_u64).collect();
        parts.and_then(|p| <[u64; 3]>::try_from(p).ok())
    });
    let param = field(learner, "learner_model_param", "learner")?;
    let num_feature = number_param(param, "num_feature")?;
    let num_class = optional_number_param(param, "num_class")?.unwrap_or(0);
    if num_class > 1 {
        return Err(XgbError::Unsupported(format!(
            "the model has {num_class} classes; only binary classifiers can be served"
        )));
    }
    if let Some(targets) = optional_number_param(param, "num_target")?
        && targets > 1
    {
        return Err(XgbError::Unsupported(format!(
            "the model has {targets} targets; only single-target binary models can be served"
        )));
    }
    let objective_name = field(learner, "objective", "learner")?
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| XgbError::Invalid("learner.objective has no `name`".into()))?;
    let objective = match objective_name {
        "binary:logistic" => Objective::BinaryLogistic,
        "reg:logistic" => Objective::RegLogistic,
        "binary:logitraw" => Objective::BinaryLogitRaw,
        other => {
            return Err(XgbError::Unsupported(format!(
                "the objective `{other}` is not a binary probability; Switchboard serves \
                 binary:logistic, binary:logitraw and reg:logistic"
            )));
        }
    };
    let base_score = base_score(param)?;
    if !base_score.is_finite()
        || (objective != Objective::BinaryLogitRaw && !(base_score > 0.0 && base_score < 1.0))
    {
        return Err(XgbError::Invalid(format!(
            "learner_model_param.base_score {base_score} is not a probability strictly between 0 and 1"
        )));
    }
    if num_feature == 0 {
        return Err(XgbError::Invalid("the model has no features".into()));
    }
    let feature_names = feature_names(learner, num_feature, feature_list)?;
    let feature_types = learner
        .get("feature_types")
        .and_then(Value::as_array)
        .map(|types| {
            types
                .iter()
                .map(|t| t.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();

    let booster = field(learner, "gradient_booster", "learner")?;
    match booster.get("name").and_then(Value::as_str) {
        Some("gbtree") => {}
        Some(other) => {
            return Err(XgbError::Unsupported(format!(
                "the booster is `{other}`; only `gbtree` models can be served (dart's dropout \
                 weights and gblinear's coefficients are not tree sums)"
            )));
        }
        None => return Err(XgbError::Invalid("gradient_booster has no `name`".into())),
    }
    let model = field(booster, "model", "gradient_booster")?;
    let trees_json = field(model, "trees", "gradient_booster.model")?
        .as_array()
        .ok_or_else(|| XgbError::Invalid("gradient_booster.model.trees is not an array".into()))?;
    if trees_json.is_empty() {
        return Err(XgbError::Invalid("the model has no trees".into()));
    }
    if let Some(info) = model.get("tree_info").and_then(Value::as_array)
        && info.iter().any(|g| g.as_i64() != Some(0))
    {
        return Err(XgbError::Unsupported(
            "trees belong to several output groups; only binary models can be served".into(),
        ));
    }
    let trees = trees_json
        .iter()
        .enumerate()
        .map(|(i, t)| parse_tree(i, t, num_feature, &feature_names))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RawModel {
        feature_names,
        feature_types,
        objective,
        base_score,
        base_margin: base_margin(objective, base_score),
        version,
        trees,
    })
}

/// The margin predictions start from (`ObjFunction::ProbToMargin`, in `float`): the logit of
/// `base_score`, clamped to [1e-6, 1 - 1e-6] first as XGBoost 3.1 and later do, for the
/// logistic objectives; `binary:logitraw` keeps its `base_score` as the margin.
fn base_margin(objective: Objective, base_score: f32) -> f32 {
    match objective {
        Objective::BinaryLogitRaw => base_score,
        Objective::BinaryLogistic | Objective::RegLogistic => {
            let b = base_score.clamp(1e-6f32, 1.0f32 - 1e-6f32);
            -(1.0f32 / b - 1.0f32).ln()
        }
    }
}

fn field<'a>(v: &'a Value, key: &str, within: &str) -> Result<&'a Value, XgbError> {
    v.get(key).ok_or_else(|| {
        XgbError::Invalid(format!(
            "not an XGBoost model: {within} has no `{key}` (save it with `Booster.save_model`)"
        ))
    })
}

/// Parameters are written as strings (`"num_feature": "64"`); accept numbers as well.
fn optional_number_param(param: &Value, key: &str) -> Result<Option<usize>, XgbError> {
    let Some(v) = param.get(key) else {
        return Ok(None);
    };
    let parsed = match v {
        Value::String(s) => s.trim().parse::<usize>().ok(),
        Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
        _ => None,
    };
    parsed
        .map(Some)
        .ok_or_else(|| XgbError::Invalid(format!("learner_model_param.{key} `{v}` is not a count")))
}

fn number_param(param: &Value, key: &str) -> Result<usize, XgbError> {
    optional_number_param(param, key)?
        .ok_or_else(|| XgbError::Invalid(format!("learner_model_param has no `{key}`")))
}

/// `base_score`: `"5E-1"` (1.x and 2.x) or `"[5E-1]"` (3.1 and later, one per target).
fn base_score(param: &Value) -> Result<f32, XgbError> {
    let raw = param
        .get("base_score")
        .ok_or_else(|| XgbError::Invalid("learner_model_param has no `base_score`".into()))?;
    let text = match raw {
        Value::String(s) => s
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    if text.contains(',') {
        return Err(XgbError::Unsupported(
            "base_score holds several targets; only single-target models can be served".into(),
        ));
    }
    text.trim()
        .parse::<f32>()
        .map_err(|_| XgbError::Invalid(format!("base_score `{raw}` is not a number")))
}

fn feature_names(
    learner: &Value,
    num_feature: usize,
    feature_list: Option<&[String]>,
) -> Result<Vec<String>, XgbError> {
    let stored: Vec<String> = learner
        .get("feature_names")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let names = match (stored.is_empty(), feature_list) {
        (false, Some(given)) if given != stored.as_slice() => {
            return Err(XgbError::Invalid(format!(
                "the feature list given ({} names) differs from the model's own feature names \
                 ({}); leave it out to use the model's",
                given.len(),
                stored.len()
            )));
        }
        (false, _) => stored,
        (true, Some(given)) => given.to_vec(),
        (true, None) => {
            return Err(XgbError::NoFeatureNames { num_feature });
        }
    };
    if names.len() != num_feature {
        return Err(XgbError::Invalid(format!(
            "the model has {num_feature} features but {} feature names",
            names.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(XgbError::Invalid(format!(
            "the feature name `{dup}` occurs twice"
        )));
    }
    if let Some(bad) = names.iter().find(|n| n.is_empty() || n.contains('\0')) {
        return Err(XgbError::Invalid(format!("invalid feature name {bad:?}")));
    }
    Ok(names)
}

/// A numeric array of a tree, as `f64` (exact for every type XGBoost writes: int32, uint8,
/// float32). Booleans count as 0/1 (1.x wrote `default_left` as booleans).
fn numbers(tree: &Value, index: usize, key: &str, n: usize) -> Result<Vec<f64>, XgbError> {
    let array = tree
        .get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| XgbError::Invalid(format!("tree {index} has no `{key}` array")))?;
    if array.len() != n {
        return Err(XgbError::Invalid(format!(
            "tree {index}: `{key}` has {} values, expected {n}",
            array.len()
        )));
    }
    array
        .iter()
        .map(|v| match v {
            Value::Number(x) => x.as_f64(),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        })
        .map(|x| {
            x.ok_or_else(|| XgbError::Invalid(format!("tree {index}: `{key}` holds a non-number")))
        })
        .collect()
}

fn optional_numbers(tree: &Value, index: usize, key: &str) -> Result<Vec<f64>, XgbError> {
    match tree.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => numbers(tree, index, key, a.len()),
        Some(_) => Err(XgbError::Invalid(format!(
            "tree {index}: `{key}` is not an array"
        ))),
    }
}

fn as_index(x: f64) -> Option<u32> {
    (x.fract() == 0.0 && (0.0..f64::from(u32::MAX)).contains(&x)).then_some(x as u32)
}

fn parse_tree(
    index: usize,
    tree: &Value,
    num_feature: usize,
    feature_names: &[String],
) -> Result<RawTree, XgbError> {
    let invalid = |message: String| XgbError::Invalid(format!("tree {index}: {message}"));
    let left = tree
        .get("left_children")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("no `left_children` array".into()))?;
    let n = left.len();
    if n == 0 {
        return Err(invalid("the tree has no nodes".into()));
    }
    if n > u32::MAX as usize / 2 {
        return Err(invalid("too many nodes".into()));
    }
    let left = numbers(tree, index, "left_children", n)?;
    let right = numbers(tree, index, "right_children", n)?;
    let split_indices = numbers(tree, index, "split_indices", n)?;
    let conditions = numbers(tree, index, "split_conditions", n)?;
    let default_left = numbers(tree, index, "default_left", n)?;
    let cover = numbers(tree, index, "sum_hessian", n)?;
    let gain = numbers(tree, index, "loss_changes", n)?;
    let split_type = optional_numbers(tree, index, "split_type")?;
    if !split_type.is_empty() && split_type.len() != n {
        return Err(invalid(format!(
            "`split_type` has {} values, expected {n}",
            split_type.len()
        )));
    }
    let categorical_nodes = categorical_sets(index, tree, n)?;

    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        let value = conditions[i] as f32;
        let leaf = left[i] == -1.0;
        let children = if leaf {
            if right[i] != -1.0 {
                return Err(invalid(format!(
                    "node {i} has no left child but a right child {}",
                    right[i]
                )));
            }
            None
        } else {
            let (Some(l), Some(r)) = (as_index(left[i]), as_index(right[i])) else {
                return Err(invalid(format!(
                    "node {i} has children {} and {}, which are not node indices",
                    left[i], right[i]
                )));
            };
            if l as usize >= n || r as usize >= n || l == 0 || r != l + 1 {
                // XGBoost itself reads the right child as the left one + 1; a file where it
                // is not would be predicted differently by XGBoost than its arrays say.
                return Err(invalid(format!(
                    "node {i} has children {l} and {r}; children must be adjacent nodes \
                     (right = left + 1) among nodes 1 to {}",
                    n - 1
                )));
            }
            Some((l, r))
        };
        let feature = if leaf {
            0
        } else {
            match as_index(split_indices[i]) {
                Some(f) if (f as usize) < num_feature => f,
                _ => {
                    return Err(invalid(format!(
                        "node {i} splits on feature {}, but the model has {num_feature} features",
                        split_indices[i]
                    )));
                }
            }
        };
        if !value.is_finite() && !leaf {
            return Err(invalid(format!("node {i} has a non-finite threshold")));
        }
        if leaf && !value.is_finite() {
            return Err(invalid(format!("leaf {i} has a non-finite value")));
        }
        let is_categorical = !leaf && split_type.get(i).is_some_and(|&t| t == 1.0);
        let categories = if is_categorical {
            Some(categorical_nodes.get(&i).cloned().ok_or_else(|| {
                invalid(format!(
                    "node {i} is a categorical split on `{}` without categories",
                    feature_names[feature as usize]
                ))
            })?)
        } else {
            None
        };
        nodes.push(RawNode {
            children,
            feature,
            value,
            default_left: default_left[i] != 0.0,
            categories,
            cover: cover[i] as f32,
            gain: gain[i] as f32,
        });
    }
    let depth = check_shape(&nodes).map_err(invalid)?;
    Ok(RawTree { nodes, depth })
}

/// The category set of each categorical node: `categories_nodes[k]`'s categories are
/// `categories[categories_segments[k] .. + categories_sizes[k]]`.
fn categorical_sets(
    index: usize,
    tree: &Value,
    n: usize,
) -> Result<std::collections::HashMap<usize, Vec<u32>>, XgbError> {
    let invalid = |message: String| XgbError::Invalid(format!("tree {index}: {message}"));
    let nodes = optional_numbers(tree, index, "categories_nodes")?;
    let segments = optional_numbers(tree, index, "categories_segments")?;
    let sizes = optional_numbers(tree, index, "categories_sizes")?;
    let categories = optional_numbers(tree, index, "categories")?;
    if nodes.len() != segments.len() || nodes.len() != sizes.len() {
        return Err(invalid(
            "categories_nodes, categories_segments and categories_sizes differ in length".into(),
        ));
    }
    let mut sets = std::collections::HashMap::new();
    for k in 0..nodes.len() {
        let (Some(node), Some(start), Some(size)) = (
            as_index(nodes[k]),
            as_index(segments[k]),
            as_index(sizes[k]),
        ) else {
            return Err(invalid(format!(
                "categorical node entry {k} is not made of indices"
            )));
        };
        let (node, start, size) = (node as usize, start as usize, size as usize);
        if node >= n
            || start
                .checked_add(size)
                .is_none_or(|end| end > categories.len())
        {
            return Err(invalid(format!(
                "categorical node entry {k} points outside the tree or its categories"
            )));
        }
        let mut set = categories[start..start + size]
            .iter()
            .map(|&c| {
                as_index(c)
                    .filter(|&c| c < MAX_CATEGORY)
                    .ok_or_else(|| invalid(format!("category {c} is not a category code")))
            })
            .collect::<Result<Vec<u32>, _>>()?;
        set.sort_unstable();
        set.dedup();
        sets.insert(node, set);
    }
    Ok(sets)
}

/// Largest category code accepted in a split (XGBoost's categories are float-exact integers;
/// a bitset reaching 2^24 would take 2 MB per node).
pub const MAX_CATEGORY: u32 = 1 << 20;

/// Checks that the nodes form one tree from node 0 (every node reached at most once, so no
/// cycle and no shared subtree) and returns its depth. Unreachable nodes (XGBoost's deleted
/// nodes after pruning) are allowed and never evaluated.
fn check_shape(nodes: &[RawNode]) -> Result<usize, String> {
    let mut seen = vec![false; nodes.len()];
    let mut stack = vec![(0u32, 0usize)];
    let mut depth = 0;
    seen[0] = true;
    while let Some((i, d)) = stack.pop() {
        depth = depth.max(d);
        if d > MAX_DEPTH {
            return Err(format!("the tree is deeper than {MAX_DEPTH} levels"));
        }
        if let Some((l, r)) = nodes[i as usize].children {
            for c in [l, r] {
                if std::mem::replace(&mut seen[c as usize], true) {
                    return Err(format!(
                        "node {c} is reached twice (a cycle or a shared subtree)"
                    ));
                }
                stack.push((c, d + 1));
            }
        }
    }
    Ok(depth)
}
