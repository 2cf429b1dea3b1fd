//! The native evaluator against LightGBM's own predictions and hand-made models.

use super::{parse::lightgbm_atof, *};

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
    let msg = parse_err(&model_text(&[T_NONE]).replace("feature_names=a b c", "feature_names=a b"));
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
