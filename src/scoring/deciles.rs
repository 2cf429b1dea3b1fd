//! Decile edges and decile assignment, exactly as the notebook's
//! `pd.qcut(prob, 10, labels=[10, 9, ..., 1])`: decile 1 holds the highest scores.
//!
//! What pandas actually computes (read from pandas 3.1.1 / 2.2.3 and numpy 2.4 sources and
//! checked against them by the fixtures in `tests/fixtures/scoring/`):
//!
//! - **Quantile positions.** `qcut(x, 10)` builds `q = np.linspace(0, 1, 11)` (that is
//!   `i * 0.1` in f64, so `0.30000000000000004`, `0.6000000000000001`, `0.7000000000000001`).
//!   pandas >= 3.0 then nudges every `q` with `10 * q != i` up by one ulp (`np.nextafter(q, 1)`)
//!   and calls `np.quantile` directly. pandas 2.x passes the linspace as is, but through
//!   `np.percentile(values, q * 100)`, which divides by 100 again. The two conventions give
//!   edges that differ in the last bits, and rarely a different decile for a score that sits on
//!   an edge; see [`QuantileConvention`].
//! - **Interpolation** (numpy's `linear` method): `h = (n - 1) * q`, `lo = floor(h)`,
//!   `g = h - lo`, `a = x[lo]`, `b = x[lo + 1]`, and the value is `a + (b - a) * g` when
//!   `g < 0.5` but `b - (b - a) * (1 - g)` when `g >= 0.5` (numpy's `_lerp`); for `h >= n - 1`
//!   both neighbours are the maximum.
//! - **Assignment.** `_bins_to_cuts(right=True, include_lowest=True)` is
//!   `np.searchsorted(edges, p, side="left")` (the number of edges strictly below `p`) with
//!   `p == edges[0]` forced into the lowest bin. That is exactly the spec's
//!   `edge[i] < p <= edge[i+1]` rule. `include_lowest` does **not** widen the first edge by
//!   0.1 % of the range: that adjustment only happens in `pd.cut` when `bins` is an integer, and
//!   the `(-0.001, ...]` seen in qcut's interval labels is label formatting only.
//! - **Coinciding edges.** pandas raises; we keep the edges, apply the same rule (the bins
//!   between equal edges stay empty) and mark the edges `degenerate`.

use serde::{Deserialize, Serialize};

/// Which pandas release's quantile positions to reproduce (they differ in the last bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuantileConvention {
    /// pandas >= 3.0: `np.linspace(0, 1, 11)` with the inexact entries rounded up by one ulp,
    /// passed to `np.quantile`. The default; the fixtures are generated with pandas 3.1.1.
    #[default]
    Pandas3,
    /// pandas 2.x (checked against 2.2.3): `np.linspace(0, 1, 11) * 100` passed to
    /// `np.percentile`, which divides by 100 again (so the 0.7 quantile is exactly `0.7`).
    Pandas2,
}

impl QuantileConvention {
    /// The eleven quantile positions that reach numpy's interpolation, lowest first.
    #[must_use]
    pub fn positions(self) -> [f64; 11] {
        let mut q = [0.0; 11];
        for (i, slot) in q.iter_mut().enumerate() {
            let i = i as f64;
            // np.linspace(0, 1, 11): arange * step with step = 1 / 10; the last one is `stop`.
            let linspace = if i == 10.0 { 1.0 } else { i * 0.1 };
            *slot = match self {
                Self::Pandas3 if 10.0 * linspace != i => linspace.next_up(),
                Self::Pandas3 => linspace,
                Self::Pandas2 => (linspace * 100.0) / 100.0,
            };
        }
        q
    }
}

/// The 0, 0.1, ..., 1.0 quantiles of a population's probabilities: its decile reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DecileEdges {
    /// Edges, lowest first; `edges[0]` is the minimum and `edges[10]` the maximum score.
    pub edges: [f64; 11],
    /// True when two edges are equal (pandas' qcut would raise): some deciles are empty.
    pub degenerate: bool,
}

impl DecileEdges {
    /// Edges as pandas >= 3.0's `pd.qcut(scores, 10)` computes them.
    ///
    /// Returns `None` for an empty slice or when any score is NaN or infinite (pandas would
    /// drop NaN and produce infinite or NaN edges; the service never has such scores).
    /// Copies the scores once and selects the needed order statistics in O(n) expected time.
    #[must_use]
    pub fn from_scores(scores: &[f64]) -> Option<Self> {
        Self::from_scores_with(scores, QuantileConvention::Pandas3)
    }

    /// Edges with an explicit [`QuantileConvention`]; `None` as for [`Self::from_scores`].
    #[must_use]
    pub fn from_scores_with(scores: &[f64], convention: QuantileConvention) -> Option<Self> {
        if scores.is_empty() || scores.iter().any(|s| !s.is_finite()) {
            return None;
        }
        let last = scores.len() - 1;
        let last_f = last as f64;

        // Where each quantile falls: (index below, index above, interpolation weight).
        let mut plan = [(0usize, 0usize, 0.0f64); 11];
        for (slot, q) in plan.iter_mut().zip(convention.positions()) {
            let h = last_f * q;
            *slot = if h >= last_f {
                // numpy sets both neighbours to the last element and the weight to h - (-1).
                (last, last, h + 1.0)
            } else {
                let floor = h.floor();
                let lo = floor as usize;
                (lo, lo + 1, h - floor)
            };
        }

        let mut needed: Vec<usize> = plan.iter().flat_map(|&(lo, hi, _)| [lo, hi]).collect();
        needed.sort_unstable();
        needed.dedup();

        let mut values = scores.to_vec();
        select_positions(&mut values, &needed, 0);

        let mut edges = [0.0; 11];
        for (edge, &(lo, hi, gamma)) in edges.iter_mut().zip(&plan) {
            *edge = lerp(values[lo], values[hi], gamma);
        }
        Some(Self {
            edges,
            degenerate: has_equal_pair(&edges),
        })
    }

    /// Edges stored earlier (for example a run's decile reference read back from the
    /// database). `None` unless all are finite and non-decreasing.
    #[must_use]
    pub fn from_edges(edges: [f64; 11]) -> Option<Self> {
        let valid = edges.iter().all(|e| e.is_finite()) && edges.windows(2).all(|w| w[0] <= w[1]);
        valid.then(|| Self {
            edges,
            degenerate: has_equal_pair(&edges),
        })
    }

    /// The decile (1 = highest scores, 10 = lowest) of probability `p`.
    ///
    /// Bin `i` (0-based, lowest first) holds `edges[i] < p <= edges[i + 1]`, the lowest bin also
    /// `p == edges[0]`, and decile = 10 - i; this is pandas' own assignment. Scores below the
    /// lowest edge get 10, above the highest 1. A NaN `p` gets 10 (no edge is below it);
    /// callers should refuse non-finite scores before asking.
    #[must_use]
    pub fn decile(&self, p: f64) -> u8 {
        // np.searchsorted(edges, p, side="left"): edges strictly below p. Counting instead of
        // bisecting keeps the answer monotone in p even for edges that were never sorted.
        let below = self.edges.iter().filter(|&&e| e < p).count();
        // below == 0 is p <= edges[0] (include_lowest, or out of range low); 11 is above range.
        let bin = below.clamp(1, 10) - 1;
        (10 - bin) as u8
    }
}

/// Per-decile account counts and mean probability of a population, against given edges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecileSummary {
    /// Number of scores summarised.
    pub total: u64,
    /// One entry per decile, `deciles[d - 1]` for decile `d` (decile 1, the highest, first).
    pub deciles: [DecileCount; 10],
}

/// One decile of a [`DecileSummary`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DecileCount {
    /// 1 (highest scores) to 10.
    pub decile: u8,
    /// Scores that fall in this decile.
    pub count: u64,
    /// Their mean, summed like pandas' groupby mean (Kahan); `None` when the decile is empty.
    pub mean_probability: Option<f64>,
}

impl DecileSummary {
    /// Counts and means per decile in one pass over `scores`, assigned with `edges`
    /// (usually the population's own edges, or another run's reference).
    ///
    /// `None` when any score is NaN or infinite. An empty slice gives all counts zero.
    #[must_use]
    pub fn from_scores(edges: &DecileEdges, scores: &[f64]) -> Option<Self> {
        let mut counts = [0u64; 10];
        let mut sums = [KahanSum::default(); 10];
        for &p in scores {
            if !p.is_finite() {
                return None;
            }
            let k = usize::from(edges.decile(p)) - 1;
            counts[k] += 1;
            sums[k].add(p);
        }
        let deciles = std::array::from_fn(|k| DecileCount {
            decile: decile_number(k),
            count: counts[k],
            mean_probability: (counts[k] > 0).then(|| sums[k].sum / counts[k] as f64),
        });
        Some(Self {
            total: scores.len() as u64,
            deciles,
        })
    }

    /// Each decile's share of the population (`count / total`), `[d - 1]` for decile `d`;
    /// all zero for an empty population.
    #[must_use]
    pub fn shares(&self) -> [f64; 10] {
        std::array::from_fn(|k| {
            if self.total == 0 {
                0.0
            } else {
                self.deciles[k].count as f64 / self.total as f64
            }
        })
    }
}

/// Decile number for array index `k` (0 -> decile 1).
pub(crate) fn decile_number(k: usize) -> u8 {
    debug_assert!(k < 10);
    (k + 1) as u8
}

/// Kahan-compensated sum, written as pandas' Cython `group_mean` does, so per-decile means
/// match the notebook's `groupby(...).mean()` to the last bit when rows are in arbitrary order.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KahanSum {
    pub(crate) sum: f64,
    compensation: f64,
}

impl KahanSum {
    pub(crate) fn add(&mut self, value: f64) {
        let y = value - self.compensation;
        let t = self.sum + y;
        self.compensation = t - self.sum - y;
        self.sum = t;
    }
}

/// numpy's `_lerp`: the two branches keep the result exact at both ends.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

fn has_equal_pair(edges: &[f64; 11]) -> bool {
    edges
        .iter()
        .enumerate()
        .any(|(i, a)| edges[i + 1..].iter().any(|b| a == b))
}

/// Puts the order statistic of every index in `positions` (sorted, unique, relative to the
/// whole slice, shifted by `offset`) in place; O(n log k) for k positions.
fn select_positions(values: &mut [f64], positions: &[usize], offset: usize) {
    if positions.is_empty() {
        return;
    }
    let mid = positions.len() / 2;
    let k = positions[mid] - offset;
    let (below, _, above) = values.select_nth_unstable_by(k, f64::total_cmp);
    select_positions(below, &positions[..mid], offset);
    select_positions(above, &positions[mid + 1..], offset + k + 1);
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Loader for the JSON fixtures written by `tools/fixtures/make_scoring_fixtures.py`.

    use serde::Deserialize;
    use std::path::{Path, PathBuf};

    pub(crate) const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/scoring");

    /// Floats are stored as repr strings; std's parser is correctly rounded.
    pub(crate) fn f(s: &str) -> f64 {
        s.parse()
            .unwrap_or_else(|e| panic!("bad float {s:?} in fixture: {e}"))
    }

    pub(crate) fn fo(s: Option<&str>) -> Option<f64> {
        s.map(f)
    }

    pub(crate) fn fv(v: &[String]) -> Vec<f64> {
        v.iter().map(|s| f(s)).collect()
    }

    pub(crate) fn f11(v: &[String]) -> [f64; 11] {
        fv(v).try_into().expect("11 edges")
    }

    pub(crate) fn f10(v: &[String]) -> [f64; 10] {
        fv(v).try_into().expect("10 values")
    }

    /// `a` and `b` agree to `rel` relative (absolute near zero).
    pub(crate) fn close(a: f64, b: f64, rel: f64) -> bool {
        a == b || (a - b).abs() <= rel * a.abs().max(b.abs()).max(f64::MIN_POSITIVE)
    }

    #[derive(Debug, Deserialize)]
    pub(crate) struct Meta {
        pub(crate) pandas: String,
        pub(crate) qcut_quantiles: Vec<String>,
        pub(crate) pandas2_quantiles: Vec<String>,
        pub(crate) psi_epsilon: String,
    }

    #[derive(Debug, Deserialize)]
    pub(crate) struct Probe {
        pub(crate) p: String,
        pub(crate) decile: u8,
    }

    #[derive(Debug, Deserialize)]
    pub(crate) struct LiftRow {
        pub(crate) decile: u8,
        pub(crate) accounts: u64,
        pub(crate) positives: u64,
        pub(crate) mean_probability: Option<String>,
        pub(crate) actual_rate: Option<String>,
        pub(crate) lift: Option<String>,
        pub(crate) cumulative_accounts: u64,
        pub(crate) cumulative_positives: u64,
        pub(crate) cumulative_captured: Option<String>,
        pub(crate) cumulative_lift: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    pub(crate) struct Lift {
        pub(crate) accounts: u64,
        pub(crate) positives: u64,
        pub(crate) overall_rate: String,
        pub(crate) rows: Vec<LiftRow>,
    }

    #[derive(Debug, Deserialize)]
    pub(crate) struct Population {
        pub(crate) name: String,
        pub(crate) n: usize,
        pub(crate) degenerate: bool,
        pub(crate) scores: Vec<String>,
        pub(crate) outcomes: Vec<u8>,
        pub(crate) edges: Vec<String>,
        pub(crate) deciles: Vec<u8>,
        pub(crate) edges_pandas2: Vec<String>,
        pub(crate) deciles_pandas2: Vec<u8>,
        pub(crate) probes: Vec<Probe>,
        pub(crate) lift: Lift,
        pub(crate) roc_auc: Option<String>,
        pub(crate) generated_by: Meta,
    }

    impl Population {
        pub(crate) fn scores(&self) -> Vec<f64> {
            fv(&self.scores)
        }

        pub(crate) fn outcomes(&self) -> Vec<bool> {
            self.outcomes.iter().map(|&o| o == 1).collect()
        }
    }

    #[derive(Debug, Deserialize)]
    pub(crate) struct PsiCase {
        pub(crate) name: String,
        pub(crate) baseline_edges: Vec<String>,
        pub(crate) baseline_shares: Vec<String>,
        pub(crate) scores: Vec<String>,
        pub(crate) counts: Vec<u64>,
        pub(crate) shares: Vec<String>,
        pub(crate) terms: Vec<String>,
        pub(crate) psi: String,
    }

    #[derive(Debug, Deserialize)]
    pub(crate) struct PsiFile {
        pub(crate) generated_by: Meta,
        pub(crate) cases: Vec<PsiCase>,
    }

    fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> T {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
    }

    /// Every population fixture, sorted by file name.
    pub(crate) fn populations() -> Vec<Population> {
        let dir = PathBuf::from(DIR).join("populations");
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|entry| entry.expect("directory entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        let pops: Vec<Population> = paths.iter().map(|p| read(p)).collect();
        assert!(pops.len() >= 13, "expected the 13 population fixtures");
        pops
    }

    /// Tiny deterministic generator (`SplitMix64`) for property tests.
    pub(crate) struct Rng(pub(crate) u64);

    impl Rng {
        pub(crate) fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        pub(crate) fn unit(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
        }

        /// Scores with deliberate ties: `levels` distinct values when non-zero.
        pub(crate) fn scores(&mut self, n: usize, levels: u64) -> Vec<f64> {
            (0..n)
                .map(|_| {
                    let u = self.unit();
                    if levels == 0 {
                        u * u * 0.2
                    } else {
                        (u * levels as f64).floor() / levels as f64
                    }
                })
                .collect()
        }
    }

    pub(crate) fn psi_file() -> PsiFile {
        read(&PathBuf::from(DIR).join("psi.json"))
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{Rng, close, f, f11, fv, populations};
    use super::*;

    /// The same numpy arithmetic on a fully sorted copy: the reference for `from_scores`.
    fn edges_by_sorting(scores: &[f64], convention: QuantileConvention) -> [f64; 11] {
        let mut x = scores.to_vec();
        x.sort_by(f64::total_cmp);
        let last = (x.len() - 1) as f64;
        convention.positions().map(|q| {
            let h = last * q;
            if h >= last {
                lerp(x[x.len() - 1], x[x.len() - 1], h + 1.0)
            } else {
                let lo = h.floor();
                lerp(x[lo as usize], x[lo as usize + 1], h - lo)
            }
        })
    }

    fn bits(edges: &[f64; 11]) -> [u64; 11] {
        edges.map(f64::to_bits)
    }

    #[test]
    fn quantile_positions_match_pandas() {
        let pops = populations();
        let meta = &pops[0].generated_by;
        assert_eq!(
            QuantileConvention::Pandas3.positions().map(f64::to_bits),
            f11(&meta.qcut_quantiles).map(f64::to_bits),
            "pandas {}",
            meta.pandas
        );
        assert_eq!(
            QuantileConvention::Pandas2.positions().map(f64::to_bits),
            f11(&meta.pandas2_quantiles).map(f64::to_bits)
        );
    }

    #[test]
    fn edges_match_pandas_bit_for_bit() {
        for pop in populations() {
            let scores = pop.scores();
            assert_eq!(scores.len(), pop.n);
            let got = DecileEdges::from_scores(&scores).expect("finite scores");
            assert_eq!(bits(&got.edges), bits(&f11(&pop.edges)), "{}", pop.name);
            assert_eq!(got.degenerate, pop.degenerate, "{}", pop.name);

            let got2 = DecileEdges::from_scores_with(&scores, QuantileConvention::Pandas2)
                .expect("finite scores");
            assert_eq!(
                bits(&got2.edges),
                bits(&f11(&pop.edges_pandas2)),
                "{} (pandas 2)",
                pop.name
            );
        }
    }

    #[test]
    fn deciles_match_pandas_exactly() {
        for pop in populations() {
            let scores = pop.scores();
            let edges = DecileEdges::from_scores(&scores).expect("finite scores");
            let got: Vec<u8> = scores.iter().map(|&p| edges.decile(p)).collect();
            assert_eq!(got, pop.deciles, "{}", pop.name);
            for probe in &pop.probes {
                assert_eq!(
                    edges.decile(f(&probe.p)),
                    probe.decile,
                    "{} probe {}",
                    pop.name,
                    probe.p
                );
            }
            let edges2 = DecileEdges::from_scores_with(&scores, QuantileConvention::Pandas2)
                .expect("finite scores");
            let got2: Vec<u8> = scores.iter().map(|&p| edges2.decile(p)).collect();
            assert_eq!(got2, pop.deciles_pandas2, "{} (pandas 2)", pop.name);
        }
    }

    #[test]
    fn summary_matches_notebook_means() {
        for pop in populations() {
            let scores = pop.scores();
            let edges = DecileEdges::from_scores(&scores).expect("finite scores");
            let summary = DecileSummary::from_scores(&edges, &scores).expect("finite scores");
            assert_eq!(summary.total, pop.n as u64);
            for (got, want) in summary.deciles.iter().zip(&pop.lift.rows) {
                assert_eq!(got.decile, want.decile);
                assert_eq!(got.count, want.accounts, "{}", pop.name);
                match (
                    got.mean_probability,
                    want.mean_probability.as_deref().map(f),
                ) {
                    (Some(g), Some(w)) => assert!(close(g, w, 1e-12), "{}: {g} {w}", pop.name),
                    (None, None) => {}
                    other => panic!("{}: {other:?}", pop.name),
                }
            }
        }
    }

    #[test]
    fn rejects_empty_and_non_finite() {
        assert!(DecileEdges::from_scores(&[]).is_none());
        assert!(DecileEdges::from_scores(&[0.1, f64::NAN]).is_none());
        assert!(DecileEdges::from_scores(&[0.1, f64::INFINITY]).is_none());
        let edges = DecileEdges::from_scores(&[0.1, 0.2]).expect("finite");
        assert!(DecileSummary::from_scores(&edges, &[0.1, f64::NAN]).is_none());
        assert_eq!(edges.decile(f64::NAN), 10);
        let empty = DecileSummary::from_scores(&edges, &[]).expect("empty is fine");
        assert_eq!(empty.total, 0);
        assert_eq!(empty.shares(), [0.0; 10]);
    }

    #[test]
    fn from_edges_validates() {
        let edges = DecileEdges::from_scores(&fv(&populations()[0].scores)).expect("finite");
        assert_eq!(DecileEdges::from_edges(edges.edges), Some(edges));
        let mut unsorted = edges.edges;
        unsorted.swap(2, 3);
        assert!(DecileEdges::from_edges(unsorted).is_none());
        let mut nan = edges.edges;
        nan[4] = f64::NAN;
        assert!(DecileEdges::from_edges(nan).is_none());
        let flat = DecileEdges::from_edges([0.5; 11]).expect("valid");
        assert!(flat.degenerate);
        // Everything at or below the single value is decile 10, above it decile 1.
        assert_eq!(flat.decile(0.5), 10);
        assert_eq!(flat.decile(0.4), 10);
        assert_eq!(flat.decile(0.6), 1);
    }

    #[test]
    fn serde_round_trip() {
        let edges = DecileEdges::from_scores(&[0.3, 0.1, 0.2, 0.2]).expect("finite");
        let json = serde_json::to_string(&edges).expect("serialize");
        let back: DecileEdges = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back.degenerate, edges.degenerate);
        // serde_json writes the shortest round-trip digits, but without its `float_roundtrip`
        // feature it may parse them back one ulp off (0.19000000000000009 does): edges that
        // must survive bit for bit belong in a float8[] column, or that feature must be on.
        for (b, e) in back.edges.iter().zip(&edges.edges) {
            assert!(b.to_bits().abs_diff(e.to_bits()) <= 1, "{b} vs {e}");
        }
    }

    #[test]
    fn property_selection_equals_full_sort_and_deciles_are_monotone() {
        let mut rng = Rng(7);
        for round in 0..300 {
            let n = match round % 5 {
                0 => 1 + (rng.next_u64() % 15) as usize,
                1 => 1 + (rng.next_u64() % 200) as usize,
                _ => 1 + (rng.next_u64() % 3000) as usize,
            };
            let levels = [0, 2, 5, 17, 1000][round % 5];
            let scores = rng.scores(n, levels);
            for convention in [QuantileConvention::Pandas3, QuantileConvention::Pandas2] {
                let edges = DecileEdges::from_scores_with(&scores, convention).expect("finite");
                assert_eq!(
                    bits(&edges.edges),
                    bits(&edges_by_sorting(&scores, convention))
                );
                assert!(edges.edges.windows(2).all(|w| w[0] <= w[1]));
                assert_eq!(edges.edges[0], edges_by_sorting(&scores, convention)[0]);

                // Monotone: a higher score never gets a higher decile number.
                let mut sorted = scores.clone();
                sorted.sort_by(f64::total_cmp);
                let deciles: Vec<u8> = sorted.iter().map(|&p| edges.decile(p)).collect();
                assert!(deciles.windows(2).all(|w| w[0] >= w[1]));
                assert!(deciles.iter().all(|d| (1..=10).contains(d)));
                assert_eq!(deciles[0], 10);

                let summary = DecileSummary::from_scores(&edges, &scores).expect("finite");
                let counted: u64 = summary.deciles.iter().map(|d| d.count).sum();
                assert_eq!(counted, n as u64);
                let shares: f64 = summary.shares().iter().sum();
                assert!((shares - 1.0).abs() < 1e-12);
                for d in &summary.deciles {
                    assert_eq!(d.count == 0, d.mean_probability.is_none());
                }
                if levels == 0 && n >= 10 {
                    // Distinct scores and enough of them: every decile is populated.
                    assert!(summary.deciles.iter().all(|d| d.count > 0), "n={n}");
                }
            }
        }
    }

    #[test]
    fn handles_a_large_population() {
        let mut rng = Rng(11);
        let scores = rng.scores(300_000, 0);
        let edges = DecileEdges::from_scores(&scores).expect("finite");
        assert_eq!(
            bits(&edges.edges),
            bits(&edges_by_sorting(&scores, QuantileConvention::Pandas3))
        );
        let summary = DecileSummary::from_scores(&edges, &scores).expect("finite");
        for d in &summary.deciles {
            assert!(d.count.abs_diff(30_000) <= 1, "{d:?}");
        }
    }
}
