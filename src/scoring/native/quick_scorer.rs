//! QuickScorer (Lucchese et al., SIGIR 2015) over the native evaluator's trees.
//!
//! Walking a tree is a chain of dependent loads and unpredictable branches, a dozen cycles
//! per node however it is interleaved. QuickScorer replaces the walk by independent,
//! sequential work: each tree keeps a bitvector of its leaves (in left-to-right order), and
//! every node that sends the row right clears the leaves of its left subtree; the exit leaf
//! is then the lowest surviving bit. The nodes of one feature, sorted by threshold, send a
//! value right exactly when `threshold < value`, so they are a prefix of the feature's list,
//! found by a search over the feature's distinct thresholds ([`ThresholdSearch`], all
//! features' searches a level at a time so that their reads overlap) and applied as a
//! straight loop of `and`s.
//!
//! The mirror image holds too: nodes that send the row left clear their right subtree and
//! the exit leaf is the rightmost survivor (numbering leaves from the right for these
//! masks makes it the lowest bit again). Each row takes the direction with fewer
//! nodes (on the demo population about 40 % of the nodes go right, on uniform rows 83 %),
//! which also bounds the work at half the nodes.
//!
//! Values that do not fall in threshold order use lists made at load time by the evaluator's
//! own decision rule ([`NativeModel::go_left`]): NaN, the `kZeroThreshold` band of features
//! with missing-type-Zero nodes, and each category of a categorical feature. Leaf values are
//! summed in tree order, so the result stays bit-identical to LightGBM.
//!
//! Applying masks is bound by stores, one per node per row. A batch therefore scores rows in
//! blocks of four whose bitvectors for a tree sit side by side: an entry in the range of
//! any of them is read once and cleared in all four lanes with one 256-bit `and` (AVX2,
//! chosen at run time). On the demo population that is about 2,500 stores per row instead
//! of 5,700.

#![allow(
    unsafe_code,
    reason = "unchecked indexing and SIMD loads in the hot loop, each bound argued at the block"
)]

use std::cell::RefCell;

use super::{CATEGORICAL, FEATURE_MASK, K_ZERO_THRESHOLD, LEAF, NativeModel, SPECIAL};

/// Leaves per tree a `u64` bitvector holds; models with bigger trees are walked instead.
const MAX_LEAVES: u32 = 64;
/// Largest category a categorical feature may list (its category → class table).
const MAX_CATEGORY: usize = 1 << 20;
/// Bound on the per-category lists (categories × nodes of categorical features).
const MAX_CLASS_ENTRIES: usize = 1 << 22;
/// Rows a batch scores together: their bitvectors for one tree sit side by side, so one
/// (SIMD) `and` applies an entry's mask to every row it concerns.
const LANES: usize = 4;

/// A range of entries, `start | end << 32`: one integer, so that choosing between ranges
/// is a conditional move in registers (a struct of `u32`s went through the stack, and
/// reading back a 16-byte split written in pieces stalls store forwarding).
#[derive(Clone, Copy, Debug, Default)]
struct Entries(u64);

impl Entries {
    fn new(start: u32, end: u32) -> Self {
        Self(u64::from(start) | u64::from(end) << 32)
    }

    fn bounds(self) -> (usize, usize) {
        ((self.0 as u32) as usize, (self.0 >> 32) as usize)
    }

    fn len(self) -> usize {
        let (start, end) = self.bounds();
        end - start
    }

    /// `a` if `condition`, else `b`, without a branch.
    #[inline(always)]
    fn select(condition: bool, a: Self, b: Self) -> Self {
        Self(std::hint::select_unpredictable(condition, a.0, b.0))
    }
}

/// The nodes a value sends right (`right`) and left (`left`).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Split {
    right: Entries,
    left: Entries,
}

impl Split {
    /// The nodes of this split that send the row `direction`.
    #[inline(always)]
    fn towards(self, direction: Direction) -> Entries {
        match direction {
            Direction::Right => self.right,
            Direction::Left => self.left,
        }
    }

    #[inline(always)]
    fn select(condition: bool, a: Self, b: Self) -> Self {
        Split {
            right: Entries::select(condition, a.right, b.right),
            left: Entries::select(condition, a.left, b.left),
        }
    }
}

/// How one used feature's value finds its split (a feature with both categorical and
/// numerical nodes has one of each).
#[derive(Debug)]
struct Feature {
    /// Position of the feature in a row.
    index: usize,
    /// Numerical nodes, sorted by threshold.
    ordered: (u32, u32),
    /// Where in `entries_below` the count of nodes below each distinct threshold starts.
    below: u32,
    /// Split for NaN (and, for a categorical feature, for every value outside its lists).
    nan: Split,
    /// Split for values in `[-kZeroThreshold, kZeroThreshold]`, when a node of the feature
    /// sends them to a default side (`has_zero_band`).
    zero: Split,
    has_zero_band: bool,
    /// Categorical feature: its category → split table, as a range of `category_splits`.
    categories: Option<(usize, usize)>,
}

/// The model's nodes regrouped for QuickScorer. Built by [`QuickScorer::build`].
#[derive(Debug)]
pub(super) struct QuickScorer {
    features: Vec<Feature>,
    /// Per entry: its tree, and the mask that clears the leaves it excludes when it sends
    /// the row right (its left subtree) and when it sends it left (its right subtree, with
    /// the leaves numbered from the right).
    tree: Vec<u32>,
    went_right: Vec<u64>,
    went_left: Vec<u64>,
    /// Each numerical feature's distinct thresholds, as searched.
    thresholds: ThresholdSearch,
    /// The first line of each level of every feature's search, level by level (top level
    /// first) and feature by feature within a level. All features take `depth` levels:
    /// the extra top levels of a shallower search (and all levels of a categorical
    /// feature) are `NO_THRESHOLDS`, where every value is below none and stays in line 0.
    search: Vec<u32>,
    depth: usize,
    /// Per distinct threshold of each numerical feature, the number of the feature's
    /// nodes with a lower threshold (and then all of them).
    entries_below: Vec<u32>,
    /// Split of each category of each categorical feature.
    category_splits: Vec<Split>,
    /// Per tree: all its leaves set; the start of its leaves in `leaf_values`.
    all_leaves: Vec<u64>,
    leaf_base: Vec<u32>,
    /// Leaf outputs, tree by tree, left to right, and right to left: the masks of nodes
    /// going left number leaves from the right, so that in both directions the exit leaf
    /// is the lowest surviving bit.
    leaf_values: Vec<f64>,
    leaf_values_mirrored: Vec<f64>,
}

/// Which nodes a row applies: those that send it right, or those that send it left.
#[derive(Clone, Copy, Debug)]
pub(super) enum Direction {
    Right,
    Left,
}

/// Working memory: splits per used feature and bitvectors per tree, for one row and for
/// the `LANES` rows of a batch block.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    splits: Vec<Split>,
    /// Per used feature, its position in its threshold search.
    positions: Vec<usize>,
    leaves: Vec<u64>,
    /// `LANES` rows' splits, row after row.
    block_splits: Vec<Split>,
    block_leaves: Vec<Lanes>,
}

/// One tree's bitvectors for the rows of a block, aligned so that a 256-bit load or
/// store never straddles cache lines.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(32))]
struct Lanes([u64; LANES]);

/// Thresholds per line of a threshold search.
const LINE: usize = 8;
/// The line of a [`ThresholdSearch`] that holds no threshold (all +inf).
const NO_THRESHOLDS: u32 = 0;

/// Sorted thresholds searched a cache line at a time, a tree with up to nine children per
/// node: a feature with 255 distinct thresholds takes three reads instead of eight.
#[derive(Debug)]
struct ThresholdSearch {
    /// Line `NO_THRESHOLDS`, then each feature's levels.
    lines: Vec<Line>,
}

impl ThresholdSearch {
    fn new() -> Self {
        Self {
            lines: vec![Line([f64::INFINITY; LINE])],
        }
    }

    /// Adds the search over a feature's `distinct` thresholds (ascending, at least one)
    /// and returns the first line of each of its levels, top level first.
    ///
    /// The bottom level is the thresholds, padded with +inf (which no value is below) to
    /// whole lines of eight; each level above holds the first threshold of every line of
    /// the level below but the first, until one line holds a level. A value below `c` of
    /// a level's keys is in line `c` of the level below, so the search reads one line per
    /// level and counts, in it, the keys below the value.
    fn push(&mut self, distinct: Vec<f64>) -> Vec<u32> {
        let mut levels = vec![distinct];
        while levels.last().is_some_and(|keys| keys.len() > LINE) {
            let below = levels.last().expect("checked above");
            levels.push(below.iter().skip(LINE).step_by(LINE).copied().collect());
        }
        let mut firsts = Vec::with_capacity(levels.len());
        for keys in levels.iter().rev() {
            firsts.push(self.lines.len() as u32);
            for chunk in keys.chunks(LINE) {
                let mut line = Line([f64::INFINITY; LINE]);
                line.0[..chunk.len()].copy_from_slice(chunk);
                self.lines.push(line);
            }
        }
        firsts
    }

    /// One level of a search: from the `position` reached in the level above (0 at the
    /// top) to the position in the level whose first line is `first`. At the bottom
    /// level the position is the number of thresholds below `v`.
    #[inline(always)]
    fn step(&self, first: u32, position: usize, v: f64) -> usize {
        position * LINE + self.lines[first as usize + position].count_below(v)
    }
}

/// Eight thresholds in one cache line: a search step compares a value with all of them.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Line([f64; LINE]);

impl Line {
    /// How many of the thresholds are below `v` (none when `v` is NaN). They ascend, so
    /// those below are the first few: the count is the trailing ones of the comparisons.
    #[inline(always)]
    fn count_below(&self, v: f64) -> usize {
        (!self.below_mask(v) | 1 << LINE).trailing_zeros() as usize
    }

    /// Bit `i` set when threshold `i` is below `v`: four SSE2 comparisons (x86-64 always
    /// has SSE2; the portable loop compiled to byte shuffling).
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn below_mask(&self, v: f64) -> u32 {
        use std::arch::x86_64::{_mm_cmplt_pd, _mm_load_pd, _mm_movemask_pd, _mm_set1_pd};
        let keys = self.0.as_ptr();
        // SAFETY: SSE2 is part of x86-64. `Line` is 64 bytes aligned to 64, so each pair of
        // keys is in bounds and 16-byte aligned.
        unsafe {
            let v = _mm_set1_pd(v);
            let pair = |i: usize| _mm_movemask_pd(_mm_cmplt_pd(_mm_load_pd(keys.add(i)), v));
            (pair(0) | pair(2) << 2 | pair(4) << 4 | pair(6) << 6) as u32
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    #[inline(always)]
    fn below_mask(&self, v: f64) -> u32 {
        let mut mask = 0;
        for (i, &t) in self.0.iter().enumerate() {
            mask |= u32::from(t < v) << i;
        }
        mask
    }
}

/// Bits `lo..hi` of a `u64` (`lo < hi <= 64`).
fn bit_range(lo: u32, hi: u32) -> u64 {
    let below_hi = if hi == 64 { u64::MAX } else { (1 << hi) - 1 };
    below_hi & !((1_u64 << lo) - 1)
}

/// A node as QuickScorer sees it.
struct NodeRef {
    node: usize,
    tree: u32,
    went_right: u64,
    went_left: u64,
}

impl QuickScorer {
    /// Regroups the trees of `model`; `None` when QuickScorer cannot take it (several
    /// trees per iteration, a tree with more than 64 leaves, a NaN threshold, too many
    /// categories), and the trees are walked instead.
    pub(super) fn build(model: &NativeModel) -> Option<Self> {
        if model.num_tree_per_iteration != 1 {
            return None;
        }
        let nodes = &model.nodes;
        let mut by_feature: Vec<Vec<NodeRef>> =
            (0..model.num_features()).map(|_| Vec::new()).collect();
        let mut all_leaves = Vec::with_capacity(model.roots.len());
        let mut leaf_base = Vec::with_capacity(model.roots.len());
        let mut leaf_values = Vec::new();
        let mut leaf_values_mirrored = Vec::new();
        for (t, &root) in model.roots.iter().enumerate() {
            let root = root as usize;
            let end = model.roots.get(t + 1).copied().unwrap_or(model.sink) as usize;
            // Pre-order with the left child first: leaves appear left to right.
            let mut leaves_before = Vec::with_capacity(end - root + 1);
            let mut leaves = 0_u32;
            leaf_base.push(u32::try_from(leaf_values.len()).ok()?);
            for (node, &value) in nodes[root..end].iter().zip(&model.leaf_values[root..end]) {
                leaves_before.push(leaves);
                if node.meta & LEAF != 0 {
                    leaves += 1;
                    leaf_values.push(value);
                }
            }
            leaves_before.push(leaves);
            if leaves > MAX_LEAVES {
                return None;
            }
            let first = leaf_values.len() - leaves as usize;
            leaf_values_mirrored.extend(leaf_values[first..].iter().rev());
            all_leaves.push(bit_range(0, leaves));
            // One past the last node of each subtree (children come after their parent).
            let mut subtree_end = vec![0_usize; end - root];
            for k in (root..end).rev() {
                let n = &nodes[k];
                subtree_end[k - root] = if n.meta & LEAF != 0 {
                    k + 1
                } else {
                    subtree_end[n.right as usize - root]
                };
            }
            // Bits of the leaves of nodes `from..to`, numbered from the left and the right.
            let bits = |from: usize, to: usize| {
                bit_range(leaves_before[from - root], leaves_before[to - root])
            };
            let mirrored_bits = |from: usize, to: usize| {
                bit_range(
                    leaves - leaves_before[to - root],
                    leaves - leaves_before[from - root],
                )
            };
            for k in root..end {
                let n = &nodes[k];
                if n.meta & LEAF != 0 {
                    continue;
                }
                let right = n.right as usize;
                by_feature[(n.meta & FEATURE_MASK) as usize].push(NodeRef {
                    node: k,
                    tree: t as u32,
                    went_right: !bits(k + 1, right),
                    went_left: !mirrored_bits(right, subtree_end[k - root]),
                });
            }
        }

        let mut scorer = QuickScorer {
            features: Vec::new(),
            tree: Vec::new(),
            went_right: Vec::new(),
            went_left: Vec::new(),
            thresholds: ThresholdSearch::new(),
            search: Vec::new(),
            depth: 0,
            entries_below: Vec::new(),
            category_splits: Vec::new(),
            all_leaves,
            leaf_base,
            leaf_values,
            leaf_values_mirrored,
        };
        let mut class_entries = 0_usize;
        // Per feature, the first line of each level of its threshold search.
        let mut searches: Vec<Vec<u32>> = Vec::new();
        for (index, refs) in by_feature.into_iter().enumerate() {
            // A feature's categorical and numerical nodes (the latter only in models
            // LightGBM would not write) are looked up separately.
            let (categorical, mut numerical): (Vec<_>, Vec<_>) = refs
                .into_iter()
                .partition(|r| nodes[r.node].meta & CATEGORICAL != 0);
            if !numerical.is_empty() {
                if numerical.iter().any(|r| nodes[r.node].value.is_nan()) {
                    return None;
                }
                let nan = scorer.push_split(model, &numerical, f64::NAN);
                let has_zero_band = numerical.iter().any(|r| nodes[r.node].meta & SPECIAL != 0);
                let zero = if has_zero_band {
                    scorer.push_split(model, &numerical, 0.0)
                } else {
                    Split::default()
                };
                numerical.sort_by(|a, b| nodes[a.node].value.total_cmp(&nodes[b.node].value));
                let start = scorer.tree.len() as u32;
                let below = scorer.entries_below.len() as u32;
                let mut distinct = Vec::new();
                for (i, r) in numerical.iter().enumerate() {
                    let threshold = nodes[r.node].value;
                    if distinct.last() != Some(&threshold) {
                        distinct.push(threshold);
                        scorer.entries_below.push(i as u32);
                    }
                    scorer.push_entry(r);
                }
                scorer.entries_below.push(numerical.len() as u32);
                searches.push(scorer.thresholds.push(distinct));
                scorer.features.push(Feature {
                    index,
                    ordered: (start, scorer.tree.len() as u32),
                    below,
                    nan,
                    zero,
                    has_zero_band,
                    categories: None,
                });
            }
            if !categorical.is_empty() {
                let mut members: Vec<u32> = categorical
                    .iter()
                    .flat_map(|r| model.categories(&nodes[r.node]))
                    .collect();
                members.sort_unstable();
                members.dedup();
                let table_len = members.last().map_or(0, |&m| m as usize + 1);
                class_entries += members.len() * categorical.len();
                if table_len > MAX_CATEGORY || class_entries > MAX_CLASS_ENTRIES {
                    return None;
                }
                // Categories no bitset lists go right everywhere, as NaN does.
                let nan = scorer.push_split(model, &categorical, f64::NAN);
                let start = scorer.category_splits.len();
                scorer.category_splits.resize(start + table_len, nan);
                for &c in &members {
                    let split = scorer.push_split(model, &categorical, f64::from(c));
                    scorer.category_splits[start + c as usize] = split;
                }
                searches.push(Vec::new());
                scorer.features.push(Feature {
                    index,
                    ordered: (0, 0),
                    below: 0,
                    nan,
                    zero: Split::default(),
                    has_zero_band: false,
                    categories: Some((start, table_len)),
                });
            }
        }
        scorer.depth = searches.iter().map(Vec::len).max().unwrap_or(0);
        for level in 0..scorer.depth {
            for levels in &searches {
                let padding = scorer.depth - levels.len();
                let line = level
                    .checked_sub(padding)
                    .map_or(NO_THRESHOLDS, |l| levels[l]);
                scorer.search.push(line);
            }
        }
        u32::try_from(scorer.tree.len()).ok()?;
        // `apply` relies on it to index the bitvectors unchecked.
        if scorer
            .tree
            .iter()
            .any(|&t| t as usize >= scorer.all_leaves.len())
        {
            return None;
        }
        Some(scorer)
    }

    fn push_entry(&mut self, r: &NodeRef) {
        self.tree.push(r.tree);
        self.went_right.push(r.went_right);
        self.went_left.push(r.went_left);
    }

    /// Lists the nodes of `refs` that `value` sends right, then those it sends left.
    fn push_split(&mut self, model: &NativeModel, refs: &[NodeRef], value: f64) -> Split {
        let goes_left = |r: &NodeRef| model.go_left(&model.nodes[r.node], value);
        let start = self.tree.len() as u32;
        for r in refs.iter().filter(|r| !goes_left(r)) {
            self.push_entry(r);
        }
        let middle = self.tree.len() as u32;
        for r in refs.iter().filter(|r| goes_left(r)) {
            self.push_entry(r);
        }
        Split {
            right: Entries::new(start, middle),
            left: Entries::new(middle, self.tree.len() as u32),
        }
    }

    /// Working memory sized for this model.
    pub(super) fn scratch(&self) -> Scratch {
        let mut scratch = Scratch::default();
        self.fit(&mut scratch);
        scratch
    }

    fn fit(&self, scratch: &mut Scratch) {
        scratch.splits.resize(self.features.len(), Split::default());
        scratch.positions.resize(self.features.len(), 0);
        scratch.leaves.resize(self.all_leaves.len(), 0);
        scratch
            .block_splits
            .resize(LANES * self.features.len(), Split::default());
        scratch
            .block_leaves
            .resize(self.all_leaves.len(), Lanes::default());
    }

    /// [`QuickScorer::predict_raw`] with this thread's working memory, so that single-row
    /// predictions allocate nothing.
    pub(super) fn predict_raw_one(&self, row: &[f64]) -> f64 {
        thread_local! {
            static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
        }
        SCRATCH.with_borrow_mut(|scratch| {
            self.fit(scratch);
            self.predict_raw(row, scratch)
        })
    }

    /// The nodes `v` sends right and left, among those of feature `f`; `below` is the
    /// number of its distinct thresholds below `v` (from the search).
    #[inline(always)]
    fn split(&self, f: &Feature, v: f64, below: usize) -> Split {
        if let Some((start, len)) = f.categories {
            // `static_cast<int>` as in `NativeModel::special_left`; NaN and negative
            // categories go right everywhere.
            let c = v as i32;
            return if v.is_nan() || c < 0 || c as usize >= len {
                f.nan
            } else {
                self.category_splits[start + c as usize]
            };
        }
        // Selects for NaN and zero, so that no branch depends on the value (a NaN is below
        // no threshold: `below` is still in range).
        let (start, end) = f.ordered;
        let at = start + self.entries_below[f.below as usize + below];
        let ordered = Split {
            right: Entries::new(start, at),
            left: Entries::new(at, end),
        };
        let in_zero_band = f.has_zero_band & (-K_ZERO_THRESHOLD..=K_ZERO_THRESHOLD).contains(&v);
        let split = Split::select(in_zero_band, f.zero, ordered);
        Split::select(v.is_nan(), f.nan, split)
    }

    /// Nodes whose masks a row applies: the smaller of the right and the left sets.
    pub(super) fn work(&self, row: &[f64]) -> usize {
        let mut scratch = self.scratch();
        let (right, left) = self.resolve(row, &mut scratch.splits, &mut scratch.positions);
        right.min(left)
    }

    /// Resolves the splits of `row` into `splits` (`positions` is working memory); returns
    /// how many nodes send it right and how many left.
    #[inline(always)]
    fn resolve(
        &self,
        row: &[f64],
        splits: &mut [Split],
        positions: &mut [usize],
    ) -> (usize, usize) {
        let used = self.features.len();
        let positions = &mut positions[..used];
        positions.fill(0);
        // The threshold searches go a level at a time across all features: the levels of
        // one feature depend on each other, different features do not, so the reads of
        // many cache lines overlap instead of waiting for each other.
        for level in 0..self.depth {
            let firsts = &self.search[level * used..][..used];
            for ((position, &first), f) in positions.iter_mut().zip(firsts).zip(&self.features) {
                *position = self.thresholds.step(first, *position, row[f.index]);
            }
        }
        let (mut right, mut left) = (0, 0);
        for ((f, s), &below) in self.features.iter().zip(splits.iter_mut()).zip(&*positions) {
            *s = self.split(f, row[f.index], below);
            right += s.right.len();
            left += s.left.len();
        }
        (right, left)
    }

    /// The masks of nodes sending a row `direction`, and the leaf outputs their surviving
    /// bits index.
    fn towards(&self, direction: Direction) -> (&[u64], &[f64]) {
        match direction {
            Direction::Right => (&self.went_right, &self.leaf_values),
            Direction::Left => (&self.went_left, &self.leaf_values_mirrored),
        }
    }

    /// The direction with fewer nodes to apply.
    fn cheaper(right: usize, left: usize) -> Direction {
        if right <= left {
            Direction::Right
        } else {
            Direction::Left
        }
    }

    /// Applies the masks of the nodes that send the row `direction` to fresh bitvectors
    /// in `leaves`, and returns the leaf outputs the surviving bits index.
    #[inline(always)]
    fn apply(&self, splits: &[Split], direction: Direction, leaves: &mut [u64]) -> &[f64] {
        leaves.copy_from_slice(&self.all_leaves);
        let (masks, values) = self.towards(direction);
        for s in splits {
            let (a, b) = s.towards(direction).bounds();
            for (&t, &mask) in self.tree[a..b].iter().zip(&masks[a..b]) {
                // SAFETY: `build` checked that every entry's tree is below the number of
                // trees, and `leaves` has one bitvector per tree (`copy_from_slice` above
                // panics otherwise). The bounds check this skips cost about 10 % of a
                // prediction: this loop runs about 5,700 times per demo-population row.
                unsafe { *leaves.get_unchecked_mut(t as usize) &= mask };
            }
        }
        values
    }

    /// Raw score of `row`: leaf outputs summed in tree order from `0.0`.
    pub(super) fn predict_raw(&self, row: &[f64], scratch: &mut Scratch) -> f64 {
        let (right, left) = self.resolve(row, &mut scratch.splits, &mut scratch.positions);
        self.sum_exit_leaves(scratch, Self::cheaper(right, left))
    }

    /// [`QuickScorer::predict_raw`] in the given direction (both must agree).
    #[cfg(test)]
    pub(super) fn predict_raw_towards(
        &self,
        row: &[f64],
        scratch: &mut Scratch,
        direction: Direction,
    ) -> f64 {
        self.resolve(row, &mut scratch.splits, &mut scratch.positions);
        self.sum_exit_leaves(scratch, direction)
    }

    fn sum_exit_leaves(&self, scratch: &mut Scratch, direction: Direction) -> f64 {
        let leaves = &mut scratch.leaves[..self.all_leaves.len()];
        let values = self.apply(&scratch.splits, direction, leaves);
        let mut sum = 0.0;
        for (&bits, &base) in leaves.iter().zip(&self.leaf_base) {
            sum += values[base as usize + bits.trailing_zeros() as usize];
        }
        sum
    }

    /// Raw scores of row-major `rows`, one per row in `out`, `LANES` rows at a time (the
    /// last few one by one). With AVX2 the lanes of a tree are one 256-bit `and`; the
    /// same code without it still applies a shared mask with fewer stores.
    pub(super) fn predict_raw_batch(
        &self,
        rows: &[f64],
        num_features: usize,
        out: &mut [f64],
        scratch: &mut Scratch,
    ) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: this CPU has AVX2, checked just above.
            return unsafe { self.predict_raw_batch_avx2(rows, num_features, out, scratch) };
        }
        self.predict_raw_blocks::<false>(rows, num_features, out, scratch);
    }

    /// [`QuickScorer::predict_raw_batch`] without AVX2, whatever the CPU.
    #[cfg(test)]
    pub(super) fn predict_raw_batch_portable(
        &self,
        rows: &[f64],
        num_features: usize,
        out: &mut [f64],
        scratch: &mut Scratch,
    ) {
        self.predict_raw_blocks::<false>(rows, num_features, out, scratch);
    }

    /// [`QuickScorer::predict_raw_blocks`] compiled for AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn predict_raw_batch_avx2(
        &self,
        rows: &[f64],
        num_features: usize,
        out: &mut [f64],
        scratch: &mut Scratch,
    ) {
        self.predict_raw_blocks::<true>(rows, num_features, out, scratch);
    }

    /// `AVX2`: compiled where AVX2 is enabled, so its intrinsics may be used.
    #[inline(always)]
    fn predict_raw_blocks<const AVX2: bool>(
        &self,
        rows: &[f64],
        num_features: usize,
        out: &mut [f64],
        scratch: &mut Scratch,
    ) {
        let mut blocks = rows.chunks_exact(LANES * num_features);
        let mut outs = out.chunks_exact_mut(LANES);
        for (block, out) in (&mut blocks).zip(&mut outs) {
            out.copy_from_slice(&self.predict_raw_block::<AVX2>(block, num_features, scratch));
        }
        for (row, o) in blocks
            .remainder()
            .chunks_exact(num_features)
            .zip(outs.into_remainder())
        {
            *o = self.predict_raw(row, scratch);
        }
    }

    /// Raw scores of `LANES` rows. They take one direction, the one with fewer nodes over
    /// all of them; each entry in a range some lane applies is read once for all lanes.
    #[inline(always)]
    fn predict_raw_block<const AVX2: bool>(
        &self,
        rows: &[f64],
        num_features: usize,
        scratch: &mut Scratch,
    ) -> [f64; LANES] {
        let used = self.features.len();
        let (mut right, mut left) = (0, 0);
        for (row, splits) in rows
            .chunks_exact(num_features)
            .zip(scratch.block_splits.chunks_exact_mut(used))
        {
            let (r, l) = self.resolve(row, splits, &mut scratch.positions);
            right += r;
            left += l;
        }
        let direction = Self::cheaper(right, left);
        let (masks, values) = self.towards(direction);
        let splits = &scratch.block_splits;
        let leaves = &mut scratch.block_leaves[..self.all_leaves.len()];
        for (lanes, &all) in leaves.iter_mut().zip(&self.all_leaves) {
            *lanes = Lanes([all; LANES]);
        }
        for f in 0..used {
            let ranges =
                std::array::from_fn(|lane| splits[lane * used + f].towards(direction).bounds());
            self.apply_lanes::<AVX2>(ranges, masks, leaves);
        }
        let mut sums = [0.0; LANES];
        for (lanes, &base) in leaves.iter().zip(&self.leaf_base) {
            for (sum, bits) in sums.iter_mut().zip(&lanes.0) {
                *sum += values[base as usize + bits.trailing_zeros() as usize];
            }
        }
        sums
    }

    /// Applies entries `ranges[lane]` to each lane's bitvectors. Ranges of one ordered list
    /// share their start (nodes going right) or their end (going left), so lanes leave or
    /// join at a few boundaries: between two, the same lanes apply every entry, and lanes
    /// that do not `and` with all ones. Other ranges (NaN, zero, categories) go lane by lane.
    #[inline(always)]
    fn apply_lanes<const AVX2: bool>(
        &self,
        ranges: [(usize, usize); LANES],
        masks: &[u64],
        leaves: &mut [Lanes],
    ) {
        let (start, end) = ranges[0];
        if ranges.iter().all(|r| r.0 == start) {
            // Lanes drop out as their ranges end.
            let mut ends = ranges.map(|r| r.1);
            ends.sort_unstable();
            let mut from = start;
            for to in ends {
                if to > from {
                    let idle = ranges.map(|r| if r.1 >= to { 0 } else { u64::MAX });
                    self.apply_segment::<AVX2>(from..to, idle, masks, leaves);
                    from = to;
                }
            }
        } else if ranges.iter().all(|r| r.1 == end) {
            // Lanes join as their ranges start.
            let mut starts = ranges.map(|r| r.0);
            starts.sort_unstable();
            for (k, &from) in starts.iter().enumerate() {
                let to = starts.get(k + 1).copied().unwrap_or(end);
                if to > from {
                    let idle = ranges.map(|r| if r.0 <= from { 0 } else { u64::MAX });
                    self.apply_segment::<AVX2>(from..to, idle, masks, leaves);
                }
            }
        } else {
            for (lane, (from, to)) in ranges.into_iter().enumerate() {
                let mut idle = [u64::MAX; LANES];
                idle[lane] = 0;
                self.apply_segment::<AVX2>(from..to, idle, masks, leaves);
            }
        }
    }

    /// `and`s the masks of `entries` into every lane whose `idle` is zero.
    #[inline(always)]
    fn apply_segment<const AVX2: bool>(
        &self,
        entries: std::ops::Range<usize>,
        idle: [u64; LANES],
        masks: &[u64],
        leaves: &mut [Lanes],
    ) {
        let (trees, masks) = (&self.tree[entries.clone()], &masks[entries]);
        #[cfg(target_arch = "x86_64")]
        if AVX2 {
            // SAFETY: `AVX2` is set only by `predict_raw_batch_avx2`, which runs where the
            // CPU has AVX2.
            unsafe { and_lanes_avx2(trees, masks, idle, leaves) };
            return;
        }
        for (&t, &mask) in trees.iter().zip(masks) {
            // SAFETY: as in `apply`: every entry's tree is below the number of trees, and
            // `leaves` has one set of lanes per tree (sliced to that length by the caller).
            let lanes = unsafe { leaves.get_unchecked_mut(t as usize) };
            for (bits, idle) in lanes.0.iter_mut().zip(idle) {
                *bits &= mask | idle;
            }
        }
    }
}

/// [`QuickScorer::apply_segment`] as one 256-bit `and` per entry.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn and_lanes_avx2(trees: &[u32], masks: &[u64], idle: [u64; LANES], leaves: &mut [Lanes]) {
    use std::arch::x86_64::{
        __m256i, _mm256_and_si256, _mm256_load_si256, _mm256_loadu_si256, _mm256_or_si256,
        _mm256_set1_epi64x, _mm256_store_si256,
    };
    // SAFETY: `idle` is four `u64`s, read unaligned.
    let idle = unsafe { _mm256_loadu_si256(idle.as_ptr().cast::<__m256i>()) };
    for (&t, &mask) in trees.iter().zip(masks) {
        let keep = _mm256_or_si256(_mm256_set1_epi64x(mask as i64), idle);
        // SAFETY: every entry's tree is below the number of trees (checked by `build`) and
        // `leaves` holds one `Lanes` per tree; `Lanes` is 32 bytes, 32-byte aligned.
        unsafe {
            let lanes = leaves.as_mut_ptr().add(t as usize).cast::<__m256i>();
            _mm256_store_si256(lanes, _mm256_and_si256(_mm256_load_si256(lanes), keep));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_search_counts_the_thresholds_below_a_value() {
        let mut search = ThresholdSearch::new();
        // Sizes around the line and level boundaries, with the levels each takes.
        for (n, depth) in [
            (1, 1),
            (7, 1),
            (8, 1),
            (9, 2),
            (64, 2),
            (72, 2),
            (73, 3),
            (255, 3),
            (584, 3),
            (585, 4),
        ] {
            let distinct: Vec<f64> = (0..n).map(|i| f64::from(i) * 0.25 - 7.0).collect();
            let firsts = search.push(distinct.clone());
            assert_eq!(firsts.len(), depth, "{n} thresholds");
            let mut values = vec![f64::NAN, f64::NEG_INFINITY, f64::INFINITY, 0.0, -0.0];
            for &t in &distinct {
                values.extend([t, t.next_down(), t.next_up()]);
            }
            for v in values {
                let expected = distinct.iter().filter(|&&t| t < v).count();
                let mut position = 0;
                for &first in &firsts {
                    position = search.step(first, position, v);
                }
                assert_eq!(position, expected, "{n} thresholds, value {v}");
                // A level of no thresholds on top (a shallower search padded to the
                // model's depth) leaves the search where it was.
                let mut padded = search.step(NO_THRESHOLDS, 0, v);
                for &first in &firsts {
                    padded = search.step(first, padded, v);
                }
                assert_eq!(padded, expected, "{n} thresholds, value {v}, padded");
            }
        }
    }
}
