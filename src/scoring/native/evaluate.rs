//! Decisions and predictions: single rows, batches, QuickScorer or lockstep tree walks.

use super::*;

impl NativeModel {
    /// Whether the node goes left for `v`: LightGBM's `Tree::Decision` on the C API's
    /// filtered value.
    #[inline(always)]
    pub(super) fn go_left(&self, n: &Node, v: f64) -> bool {
        if n.meta & SPECIAL == 0 {
            (v <= n.value) | (v.is_nan() & (n.meta & NAN_LEFT != 0))
        } else {
            self.special_left(n, v)
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn special_left(&self, n: &Node, v: f64) -> bool {
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
    pub(super) fn tree_output(&self, root: u32, row: &[f64]) -> f64 {
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
    pub(super) fn step(&self, i: usize, node: &Node, v: f64) -> usize {
        std::hint::select_unpredictable(self.go_left(node, v), i + 1, node.right as usize)
    }

    /// Sum of the outputs of `roots` for `row`, in tree order. `LANES` trees are walked in
    /// lockstep so their memory accesses overlap instead of forming one long chain of
    /// dependent loads.
    pub(super) fn sum_trees(&self, roots: &[u32], row: &[f64]) -> f64 {
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
    pub(super) fn add_tree(&self, root: usize, block: &[f64], acc: &mut [f64]) {
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

    pub(super) fn check_row(&self, row: &[f64]) {
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
    pub(super) fn predict_raw_simple(&self, row: &[f64]) -> f64 {
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
    pub(super) fn link(&self, raw: f64) -> f64 {
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
}
