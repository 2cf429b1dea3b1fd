//! What the load-time check against LightGBM evaluates: decision paths, split coverage, probe
//! values per feature and the verification rows built from them.

use std::collections::{HashMap, HashSet};

use super::{parse::split_nonempty, *};

impl NativeModel {
    /// Calls `f(node, went_left)` for each decision on the path of `row` from `root`.
    pub(super) fn walk(&self, root: u32, row: &[f64], mut f: impl FnMut(usize, bool)) {
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
    pub(super) fn categories(&self, n: &Node) -> Vec<u32> {
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
    pub(super) fn probe_values(&self, i: usize) -> Vec<f64> {
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
    pub(super) fn path_assignment(
        &self,
        path: &[(usize, bool)],
        skip: usize,
    ) -> Option<Vec<(usize, f64)>> {
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
    pub(super) fn value_pools(&self) -> Vec<Vec<f64>> {
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
pub(super) type DfsEntry = (usize, usize, Option<(usize, bool)>);

/// A partly filled verification row.
pub(super) struct PackedRow {
    values: Vec<f64>,
    set: Vec<bool>,
}

/// First-fit packing of verification targets into rows.
pub(super) struct Packer {
    rows: Vec<PackedRow>,
    /// Per feature, a row before which every row has the feature set.
    unset_from: Vec<usize>,
    /// Rows holding a (feature, value bits) pair.
    by_value: HashMap<(usize, u64), Vec<usize>>,
}

impl Packer {
    /// Candidate rows examined per target and per kind (same value, feature unset).
    const SCAN: usize = 1024;

    pub(super) fn new(num_features: usize) -> Self {
        Packer {
            rows: Vec::new(),
            unset_from: vec![0; num_features],
            by_value: HashMap::new(),
        }
    }

    /// Puts `feature = v` plus the path values `assign` in the first row that can take
    /// them (`fits` checks the row's values on the path), or in a new row.
    pub(super) fn place(
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
pub(super) struct SplitMix64(u64);

impl SplitMix64 {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
