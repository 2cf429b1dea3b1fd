//! The trees laid out for fast evaluation.
//!
//! * **Complete** (every tree at most [`MAX_COMPLETE_DEPTH`] levels, no categorical split;
//!   XGBoost's default `max_depth=6` models): each tree becomes a complete binary tree of the
//!   model's depth D in an array, node i's children at 2i+1 and 2i+2, so a step is one 8-byte
//!   load, a compare and an add, and no child index is stored. A leaf above depth D is
//!   padded with nodes that always go right (threshold NaN, default right) and its value is
//!   copied to every leaf slot below it. Every row takes exactly D steps in every tree, so
//!   several trees (one row) or several rows (a batch) step in lockstep without branches and
//!   their loads overlap.
//! * **Walk** (anything else): nodes in breadth-first order, children adjacent, walked one
//!   node at a time.
//!
//! Leaves are added to the margin in tree order in `f32` in both, as XGBoost does.

#![allow(
    unsafe_code,
    reason = "AVX2 intrinsics for the batch kernel, behind runtime feature detection"
)]

use super::{
    category_in_set,
    model::{RawModel, RawTree},
};

/// Deepest model laid out completely: 2^8 leaves and 255 nodes (3 KB) per tree.
const MAX_COMPLETE_DEPTH: usize = 8;
/// Trees stepped together for one row.
const TREE_LANES: usize = 8;
/// Rows stepped together through one tree in a batch (portable kernel).
const ROW_LANES: usize = 16;
/// Rows per block of the AVX2 batch kernel.
const SIMD_ROWS: usize = 32;

const DEFAULT_LEFT: u32 = 1 << 31;
const FEATURE_BITS: u32 = !DEFAULT_LEFT;

/// A complete-layout split: threshold and feature with the default-left flag.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct Split {
    threshold: f32,
    meta: u32,
}

const ALWAYS_RIGHT: Split = Split {
    threshold: f32::NAN,
    meta: 0,
};

pub enum Layout {
    Complete(Complete),
    Walk(Walk),
}

impl Layout {
    pub fn new(raw: &RawModel) -> Self {
        let depth = raw.trees.iter().map(|t| t.depth).max().unwrap_or(0);
        let categorical = raw
            .trees
            .iter()
            .flat_map(|t| &t.nodes)
            .any(|n| n.categories.is_some());
        if depth <= MAX_COMPLETE_DEPTH
            && !categorical
            && raw.feature_names.len() < FEATURE_BITS as usize
        {
            Layout::Complete(Complete::new(raw, depth.max(1)))
        } else {
            Layout::Walk(Walk::new(raw))
        }
    }

    /// The margin of one row (features already `f32`).
    pub fn margin(&self, row: &[f32], base: f32) -> f32 {
        match self {
            Layout::Complete(c) => c.margin(row, base),
            Layout::Walk(w) => w.margin(row, base),
        }
    }

    /// Margins of row-major `f64` rows of `width` features.
    pub fn margins(&self, rows: &[f64], width: usize, base: f32, out: &mut [f32]) {
        let block_rows = match self {
            Layout::Complete(c) => c.block_rows(),
            Layout::Walk(_) => ROW_LANES,
        };
        let mut block = vec![0f32; block_rows * width];
        for (chunk, out) in rows
            .chunks(block_rows * width)
            .zip(out.chunks_mut(block_rows))
        {
            for (b, v) in block.iter_mut().zip(chunk) {
                *b = *v as f32;
            }
            let block = &block[..chunk.len()];
            match self {
                // A whole block takes the lockstep kernel; the last, short one goes row by row.
                Layout::Complete(c) if out.len() == block_rows => {
                    c.margins_block(block, width, base, out)
                }
                _ => {
                    for (o, row) in out.iter_mut().zip(block.chunks_exact(width)) {
                        *o = self.margin(row, base);
                    }
                }
            }
        }
    }
}

pub struct Complete {
    depth: usize,
    /// `2^depth - 1` splits per tree.
    splits: Vec<Split>,
    /// The same splits as two arrays, for the AVX2 batch kernel's gathers.
    thresholds: Vec<f32>,
    metas: Vec<u32>,
    /// `2^depth` leaf values per tree.
    leaves: Vec<f32>,
    trees: usize,
    /// AVX2 is available (checked once, at load).
    avx2: bool,
}

impl Complete {
    fn new(raw: &RawModel, depth: usize) -> Self {
        let inner = (1usize << depth) - 1;
        let mut splits = vec![ALWAYS_RIGHT; inner * raw.trees.len()];
        let mut leaves = vec![0f32; (inner + 1) * raw.trees.len()];
        for (t, tree) in raw.trees.iter().enumerate() {
            fill(
                tree,
                0,
                0,
                depth,
                inner,
                &mut splits[t * inner..(t + 1) * inner],
                &mut leaves[t * (inner + 1)..(t + 1) * (inner + 1)],
            );
        }
        Complete {
            depth,
            // Padded by a vector so the kernel's 8-wide loads of a shallow tree's first nodes
            // stay inside the arrays.
            thresholds: splits
                .iter()
                .map(|s| s.threshold)
                .chain([f32::NAN; 8])
                .collect(),
            metas: splits.iter().map(|s| s.meta).chain([0; 8]).collect(),
            splits,
            leaves,
            trees: raw.trees.len(),
            avx2: has_avx2(),
        }
    }

    /// Rows per batch block: 32 for the AVX2 kernel (four groups of eight lanes whose
    /// gathers overlap), 16 for the portable one.
    fn block_rows(&self) -> usize {
        if self.avx2 { SIMD_ROWS } else { ROW_LANES }
    }

    #[inline(always)]
    fn step(split: Split, row: &[f32], position: usize) -> usize {
        // The feature was checked against the model's width at parse time; rows have it.
        let x = row[(split.meta & FEATURE_BITS) as usize];
        let below = (x < split.threshold) as usize;
        let nan_left = (x.is_nan() as usize) & (split.meta >> 31) as usize;
        2 * position + 2 - (below | nan_left)
    }

    fn margin(&self, row: &[f32], base: f32) -> f32 {
        let inner = (1usize << self.depth) - 1;
        let mut margin = base;
        let mut t = 0;
        while t + TREE_LANES <= self.trees {
            let mut position = [0usize; TREE_LANES];
            for _ in 0..self.depth {
                for (k, p) in position.iter_mut().enumerate() {
                    let split = self.splits[(t + k) * inner + *p];
                    *p = Self::step(split, row, *p);
                }
            }
            for (k, p) in position.iter().enumerate() {
                margin += self.leaves[(t + k) * (inner + 1) + p - inner];
            }
            t += TREE_LANES;
        }
        for t in t..self.trees {
            let mut p = 0;
            for _ in 0..self.depth {
                p = Self::step(self.splits[t * inner + p], row, p);
            }
            margin += self.leaves[t * (inner + 1) + p - inner];
        }
        margin
    }

    /// Margins of exactly `block_rows()` rows, stepped together through each tree.
    fn margins_block(&self, block: &[f32], width: usize, base: f32, out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            assert_eq!(
                block.len(),
                SIMD_ROWS * width,
                "an AVX2 block is SIMD_ROWS rows"
            );
            // SAFETY: `avx2` is set only where the CPU has AVX2; the block holds SIMD_ROWS
            // rows of `width` features and every split's feature is below `width` (checked
            // at parse time).
            unsafe { self.margins_block_avx2(block, width, base, out) };
            return;
        }
        let inner = (1usize << self.depth) - 1;
        out.fill(base);
        for t in 0..self.trees {
            let splits = &self.splits[t * inner..(t + 1) * inner];
            let leaves = &self.leaves[t * (inner + 1)..(t + 1) * (inner + 1)];
            let mut position = [0usize; ROW_LANES];
            for _ in 0..self.depth {
                for (r, p) in position.iter_mut().enumerate() {
                    *p = Self::step(splits[*p], &block[r * width..(r + 1) * width], *p);
                }
            }
            for (o, p) in out.iter_mut().zip(position) {
                *o += leaves[p - inner];
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl Complete {
    /// The batch kernel with AVX2: eight rows per vector, four vectors in flight.
    ///
    /// The first six levels of a tree (63 splits) are held in registers and looked up with
    /// `vpermps` (levels 0-2 share one register, level 3 has one, level 4 two, level 5
    /// four, blended on the index's high bits); deeper levels are gathered. So a level
    /// costs one gather, of the eight rows' feature values, instead of three. Each
    /// position moves to 2p+1 or 2p+2; the leaves are gathered and added in tree order, in
    /// `f32`, exactly as the portable kernel adds them.
    ///
    /// # Safety
    /// The CPU has AVX2; `block` holds `SIMD_ROWS` rows of `width` features, `out` has
    /// `SIMD_ROWS` values, and every split's feature is below `width`.
    #[target_feature(enable = "avx2")]
    unsafe fn margins_block_avx2(&self, block: &[f32], width: usize, base: f32, out: &mut [f32]) {
        use std::arch::x86_64::*;
        const GROUPS: usize = SIMD_ROWS / 8;
        let inner = (1usize << self.depth) - 1;
        let width_v = _mm256_set1_epi32(width as i32);
        let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let row_offsets: [__m256i; GROUPS] = std::array::from_fn(|g| {
            _mm256_mullo_epi32(
                _mm256_add_epi32(lanes, _mm256_set1_epi32(8 * g as i32)),
                width_v,
            )
        });
        let feature_bits = _mm256_set1_epi32(FEATURE_BITS as i32);
        let two = _mm256_set1_epi32(2);
        let seven = _mm256_set1_epi32(7);
        let fifteen = _mm256_set1_epi32(15);
        let inner_v = _mm256_set1_epi32(inner as i32);
        let mut sums = [_mm256_set1_ps(base); GROUPS];
        for t in 0..self.trees {
            // SAFETY: tree t's splits are `inner` values from t * inner (the arrays carry 8
            // more at the end, so 8-wide loads of nodes 0..63 of a shallower tree stay
            // inside them), its leaves `inner + 1` from t * (inner + 1). Positions stay
            // below `inner` for `depth` levels (a complete tree) and end in
            // [inner, 2 * inner], so leaf indices are in [0, inner]; feature offsets are
            // below SIMD_ROWS * width (see # Safety).
            unsafe {
                let thresholds = self.thresholds.as_ptr().add(t * inner);
                let metas = self.metas.as_ptr().add(t * inner).cast::<i32>();
                let leaves = self.leaves.as_ptr().add(t * (inner + 1));
                let load = |node: usize| {
                    if node < inner {
                        (
                            _mm256_loadu_ps(thresholds.add(node)),
                            _mm256_loadu_si256(metas.add(node).cast::<__m256i>()),
                        )
                    } else {
                        (_mm256_setzero_ps(), _mm256_setzero_si256())
                    }
                };
                // Nodes 0-6 (levels 0-2), 7-14, 15-30, 31-62.
                let top = load(0);
                let level3 = load(7);
                let level4 = [load(15), load(23)];
                let level5 = [load(31), load(39), load(47), load(55)];
                let pick = |table: (__m256, __m256i), index: __m256i| {
                    (
                        _mm256_permutevar8x32_ps(table.0, index),
                        _mm256_permutevar8x32_epi32(table.1, index),
                    )
                };
                let blend = |low: (__m256, __m256i), high: (__m256, __m256i), mask: __m256i| {
                    (
                        _mm256_blendv_ps(low.0, high.0, _mm256_castsi256_ps(mask)),
                        _mm256_blendv_epi8(low.1, high.1, mask),
                    )
                };
                let mut position = [_mm256_setzero_si256(); GROUPS];
                for level in 0..self.depth {
                    for g in 0..GROUPS {
                        let p = position[g];
                        let (threshold, meta) = match level {
                            0..=2 => pick(top, p),
                            3 => pick(level3, _mm256_sub_epi32(p, seven)),
                            4 => {
                                let i = _mm256_sub_epi32(p, fifteen);
                                let high = _mm256_cmpgt_epi32(i, seven);
                                blend(pick(level4[0], i), pick(level4[1], i), high)
                            }
                            5 => {
                                let i = _mm256_sub_epi32(p, _mm256_set1_epi32(31));
                                // All ones where bit 3 is set (blendv_epi8 reads every byte's sign).
                                let bit3 = _mm256_srai_epi32::<31>(_mm256_slli_epi32::<28>(i));
                                let low = blend(pick(level5[0], i), pick(level5[1], i), bit3);
                                let high = blend(pick(level5[2], i), pick(level5[3], i), bit3);
                                blend(low, high, _mm256_cmpgt_epi32(i, fifteen))
                            }
                            _ => (
                                _mm256_i32gather_ps::<4>(thresholds, p),
                                _mm256_i32gather_epi32::<4>(metas, p),
                            ),
                        };
                        let at =
                            _mm256_add_epi32(row_offsets[g], _mm256_and_si256(meta, feature_bits));
                        let x = _mm256_i32gather_ps::<4>(block.as_ptr(), at);
                        let below = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LT_OQ>(x, threshold));
                        let missing = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_UNORD_Q>(x, x));
                        let default_left = _mm256_srai_epi32::<31>(meta);
                        // All ones (-1) to go left, 0 to go right: 2p + 2 + that.
                        let left = _mm256_or_si256(below, _mm256_and_si256(missing, default_left));
                        let doubled = _mm256_add_epi32(p, p);
                        position[g] = _mm256_add_epi32(_mm256_add_epi32(doubled, two), left);
                    }
                }
                for g in 0..GROUPS {
                    let leaf =
                        _mm256_i32gather_ps::<4>(leaves, _mm256_sub_epi32(position[g], inner_v));
                    sums[g] = _mm256_add_ps(sums[g], leaf);
                }
            }
        }
        for (g, sum) in sums.iter().enumerate() {
            // SAFETY: `out` has SIMD_ROWS = 8 * GROUPS values.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(8 * g), *sum) };
        }
    }
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Writes the subtree of `node` at complete-tree `position`, `remaining` levels above the
/// leaves (`inner` splits per tree).
fn fill(
    tree: &RawTree,
    node: usize,
    position: usize,
    remaining: usize,
    inner: usize,
    splits: &mut [Split],
    leaves: &mut [f32],
) {
    let n = &tree.nodes[node];
    if remaining == 0 {
        leaves[position - inner] = n.value;
        return;
    }
    let (left, right) = match n.children {
        Some((l, r)) => {
            splits[position] = Split {
                threshold: n.value,
                meta: n.feature | if n.default_left { DEFAULT_LEFT } else { 0 },
            };
            (l as usize, r as usize)
        }
        // A leaf above the bottom: the padding below it always goes right, and its value
        // fills every leaf slot of its subtree.
        None => (node, node),
    };
    fill(
        tree,
        left,
        2 * position + 1,
        remaining - 1,
        inner,
        splits,
        leaves,
    );
    fill(
        tree,
        right,
        2 * position + 2,
        remaining - 1,
        inner,
        splits,
        leaves,
    );
}

/// A node of the walk layout.
#[derive(Clone, Copy)]
struct WalkNode {
    /// Threshold, or the leaf's value.
    value: f32,
    /// Feature, with `DEFAULT_LEFT`; `LEAF` marks a leaf.
    meta: u32,
    /// Index of the left child (the right one follows it); of the category set for a
    /// categorical split, in `category` + 1 (0: numerical).
    left: u32,
    category: u32,
}

const LEAF: u32 = u32::MAX;

pub struct Walk {
    nodes: Vec<WalkNode>,
    roots: Vec<u32>,
    categories: Vec<Vec<u32>>,
}

impl Walk {
    fn new(raw: &RawModel) -> Self {
        let mut nodes = Vec::new();
        let mut roots = Vec::with_capacity(raw.trees.len());
        let mut categories = Vec::new();
        for tree in &raw.trees {
            let root = nodes.len();
            roots.push(root as u32);
            // Breadth-first: a node's two children are placed next to each other.
            let mut queue = std::collections::VecDeque::from([(0usize, root)]);
            nodes.push(placeholder());
            while let Some((i, at)) = queue.pop_front() {
                let n = &tree.nodes[i];
                nodes[at] = match n.children {
                    None => WalkNode {
                        value: n.value,
                        meta: LEAF,
                        left: 0,
                        category: 0,
                    },
                    Some((l, r)) => {
                        let left = nodes.len();
                        nodes.push(placeholder());
                        nodes.push(placeholder());
                        queue.push_back((l as usize, left));
                        queue.push_back((r as usize, left + 1));
                        let category = match &n.categories {
                            Some(set) => {
                                categories.push(set.clone());
                                categories.len() as u32
                            }
                            None => 0,
                        };
                        WalkNode {
                            value: n.value,
                            meta: n.feature | if n.default_left { DEFAULT_LEFT } else { 0 },
                            left: left as u32,
                            category,
                        }
                    }
                };
            }
        }
        Walk {
            nodes,
            roots,
            categories,
        }
    }

    fn margin(&self, row: &[f32], base: f32) -> f32 {
        let mut margin = base;
        for &root in &self.roots {
            let mut node = self.nodes[root as usize];
            while node.meta != LEAF {
                let x = row[(node.meta & FEATURE_BITS) as usize];
                let left = if x.is_nan() {
                    node.meta & DEFAULT_LEFT != 0
                } else if node.category != 0 {
                    !category_in_set(&self.categories[node.category as usize - 1], x)
                } else {
                    x < node.value
                };
                node = self.nodes[node.left as usize + usize::from(!left)];
            }
            margin += node.value;
        }
        margin
    }
}

fn placeholder() -> WalkNode {
    WalkNode {
        value: 0.0,
        meta: LEAF,
        left: 0,
        category: 0,
    }
}
