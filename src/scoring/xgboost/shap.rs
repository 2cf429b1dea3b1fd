//! Path-dependent TreeSHAP (Lundberg et al., "Consistent individualized feature attribution
//! for tree ensembles", algorithm 2), as XGBoost computes `pred_contribs=True`
//! (`RegTree::CalculateContributions` in `src/tree/tree_model.cc`): `float` throughout, the
//! cover of each node (`sum_hessian`) weighing the paths, and each tree's bias the mean of
//! its leaves weighted by cover.

use super::{goes_left, model::RawTree};

#[derive(Clone, Copy, Default)]
struct PathElement {
    /// `-1` for the root's element.
    feature: i64,
    zero_fraction: f32,
    one_fraction: f32,
    weight: f32,
}

/// Mean leaf value under each node, weighted by cover (XGBoost's `FillNodeMeanValues`).
pub fn mean_values(tree: &RawTree) -> Vec<f32> {
    let mut means = vec![0f32; tree.nodes.len()];
    fill_mean(tree, 0, &mut means);
    means
}

fn fill_mean(tree: &RawTree, i: usize, means: &mut [f32]) -> f32 {
    let node = &tree.nodes[i];
    let value = match node.children {
        None => node.value,
        Some((l, r)) => {
            let left = fill_mean(tree, l as usize, means) * tree.nodes[l as usize].cover;
            let right = fill_mean(tree, r as usize, means) * tree.nodes[r as usize].cover;
            (left + right) / node.cover
        }
    };
    means[i] = value;
    value
}

/// Adds one tree's contributions for `row` to `phi` (one per feature, then the bias).
pub fn tree_contributions(tree: &RawTree, means: &[f32], row: &[f32], phi: &mut [f32]) {
    let bias = phi.len() - 1;
    phi[bias] += means[0];
    // Each level's path follows its parent's in one buffer, as XGBoost lays them out.
    let levels = tree.depth + 3;
    let mut paths = vec![PathElement::default(); levels * (levels + 1) / 2];
    recurse(tree, row, phi, &mut paths, 0, 0, 0, 1.0, 1.0, -1);
}

fn extend(path: &mut [PathElement], depth: usize, zero: f32, one: f32, feature: i64) {
    path[depth] = PathElement {
        feature,
        zero_fraction: zero,
        one_fraction: one,
        weight: if depth == 0 { 1.0 } else { 0.0 },
    };
    let d1 = (depth + 1) as f32;
    for i in (0..depth).rev() {
        path[i + 1].weight += one * path[i].weight * (i + 1) as f32 / d1;
        path[i].weight = zero * path[i].weight * (depth - i) as f32 / d1;
    }
}

fn unwind(path: &mut [PathElement], depth: usize, index: usize) {
    let one = path[index].one_fraction;
    let zero = path[index].zero_fraction;
    let mut next_one_portion = path[depth].weight;
    let d1 = (depth + 1) as f32;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = path[i].weight;
            path[i].weight = next_one_portion * d1 / ((i + 1) as f32 * one);
            next_one_portion = tmp - path[i].weight * zero * (depth - i) as f32 / d1;
        } else {
            path[i].weight = path[i].weight * d1 / (zero * (depth - i) as f32);
        }
    }
    for i in index..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

fn unwound_sum(path: &[PathElement], depth: usize, index: usize) -> f32 {
    let one = path[index].one_fraction;
    let zero = path[index].zero_fraction;
    let mut next_one_portion = path[depth].weight;
    let mut total = 0f32;
    let d1 = (depth + 1) as f32;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = next_one_portion * d1 / ((i + 1) as f32 * one);
            total += tmp;
            next_one_portion = path[i].weight - tmp * zero * ((depth - i) as f32 / d1);
        } else if zero != 0.0 {
            total += (path[i].weight / zero) / ((depth - i) as f32 / d1);
        }
    }
    total
}

/// One node of the recursion. The parent's path is `paths[parent..=parent + depth]`; this
/// node's starts right after it and begins as its copy.
#[allow(clippy::too_many_arguments)]
fn recurse(
    tree: &RawTree,
    row: &[f32],
    phi: &mut [f32],
    paths: &mut [PathElement],
    node_index: usize,
    parent: usize,
    mut depth: usize,
    parent_zero: f32,
    parent_one: f32,
    parent_feature: i64,
) {
    let start = parent + depth + 1;
    paths.copy_within(parent..start, start);
    let path = &mut paths[start..];
    extend(path, depth, parent_zero, parent_one, parent_feature);

    let node = &tree.nodes[node_index];
    let Some((left, right)) = node.children else {
        for i in 1..=depth {
            let w = unwound_sum(path, depth, i);
            let el = path[i];
            phi[el.feature as usize] += w * (el.one_fraction - el.zero_fraction) * node.value;
        }
        return;
    };
    let feature = i64::from(node.feature);
    let (hot, cold) = if goes_left(node, row[node.feature as usize]) {
        (left as usize, right as usize)
    } else {
        (right as usize, left as usize)
    };
    let hot_zero = tree.nodes[hot].cover / node.cover;
    let cold_zero = tree.nodes[cold].cover / node.cover;
    let mut incoming_zero = 1f32;
    let mut incoming_one = 1f32;
    // A feature split on higher up: undo that split and redo it here.
    if let Some(k) = (0..=depth).find(|&k| path[k].feature == feature) {
        incoming_zero = path[k].zero_fraction;
        incoming_one = path[k].one_fraction;
        unwind(path, depth, k);
        depth -= 1;
    }
    recurse(
        tree,
        row,
        phi,
        paths,
        hot,
        start,
        depth + 1,
        hot_zero * incoming_zero,
        incoming_one,
        feature,
    );
    recurse(
        tree,
        row,
        phi,
        paths,
        cold,
        start,
        depth + 1,
        cold_zero * incoming_zero,
        0.0,
        feature,
    );
}
