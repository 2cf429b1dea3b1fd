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

use super::{
    category_in_set,
    model::{RawModel, RawTree},
};

/// Deepest model laid out completely: 2^8 leaves and 255 nodes (3 KB) per tree.
const MAX_COMPLETE_DEPTH: usize = 8;
/// Trees stepped together for one row.
const TREE_LANES: usize = 8;
/// Rows stepped together through one tree in a batch.
const ROW_LANES: usize = 16;

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
        let mut block = vec![0f32; ROW_LANES * width];
        for (chunk, out) in rows
            .chunks(ROW_LANES * width)
            .zip(out.chunks_mut(ROW_LANES))
        {
            for (b, v) in block.iter_mut().zip(chunk) {
                *b = *v as f32;
            }
            let block = &block[..chunk.len()];
            match self {
                Layout::Complete(c) if out.len() == ROW_LANES => {
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
    /// `2^depth` leaf values per tree.
    leaves: Vec<f32>,
    trees: usize,
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
            splits,
            leaves,
            trees: raw.trees.len(),
        }
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

    /// Margins of exactly `ROW_LANES` rows, stepped together through each tree.
    fn margins_block(&self, block: &[f32], width: usize, base: f32, out: &mut [f32]) {
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
