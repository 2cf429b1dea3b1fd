//! Judging a model once outcomes are known: the notebook's lift table (`get_lift`), ROC AUC as
//! scikit-learn's `roc_auc_score`, and the population stability index (PSI) of a run against
//! another run's decile reference. All functions are pure; callers pass only the labelled
//! accounts (the notebook's `dropna`, last outcome per account already applied).

use serde::{Deserialize, Serialize};

use super::deciles::{DecileEdges, DecileSummary, KahanSum, decile_number};

/// The notebook's `get_lift(prob, y, 10)` plus the columns campaign planners read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiftTable {
    /// Deciles cut on the labelled accounts' own probabilities (qcut rule).
    pub edges: DecileEdges,
    /// Labelled accounts.
    pub accounts: u64,
    /// Labelled accounts with outcome 1.
    pub positives: u64,
    /// `positives / accounts` (the notebook's `df['y'].mean()`).
    pub overall_rate: f64,
    /// Deciles 1 (highest scores) to 10, `rows[d - 1]` for decile `d`.
    pub rows: [LiftRow; 10],
}

/// One decile of a [`LiftTable`]. Rates are fractions in 0..=1, not percentages.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LiftRow {
    /// 1 (highest scores) to 10.
    pub decile: u8,
    /// Accounts in the decile.
    pub accounts: u64,
    /// Of which positive.
    pub positives: u64,
    /// Mean predicted probability (`mean_prob`); `None` for an empty decile.
    pub mean_probability: Option<f64>,
    /// `positives / accounts` (`actual_rate`); `None` for an empty decile.
    pub actual_rate: Option<f64>,
    /// The table's overall positive rate, repeated per row as in the notebook.
    pub overall_rate: f64,
    /// `actual_rate / overall_rate`; `None` for an empty decile or when there is no positive.
    pub lift: Option<f64>,
    /// Accounts in deciles 1..=d.
    pub cumulative_accounts: u64,
    /// Positives in deciles 1..=d.
    pub cumulative_positives: u64,
    /// Share of all positives captured by deciles 1..=d, as a fraction 0..=1
    /// (`cumulative_positives / positives`); `None` when there is no positive.
    pub cumulative_captured: Option<f64>,
    /// Positive rate of deciles 1..=d over the overall rate
    /// (`(cumulative_positives / cumulative_accounts) / overall_rate`); `None` when deciles
    /// 1..=d are all empty or there is no positive.
    pub cumulative_lift: Option<f64>,
}

/// The lift table of labelled accounts: `probs[i]` is account i's predicted probability,
/// `outcomes[i]` whether it took the product.
///
/// Deciles are cut on these probabilities themselves with [`DecileEdges::from_scores`]
/// (degenerate edges are kept, as the spec says, where the notebook's qcut would raise).
/// Means are Kahan sums in input order like pandas' groupby mean, so they match the notebook to
/// the last bit except when rows arrive already sorted by decile (pandas >= 3.1 then sums with
/// `np.add.reduceat`; the difference is a few ulps).
///
/// `None` when there is no account, the slices differ in length or a probability is NaN or
/// infinite.
#[must_use]
pub fn lift_table(probs: &[f64], outcomes: &[bool]) -> Option<LiftTable> {
    if probs.len() != outcomes.len() {
        return None;
    }
    let edges = DecileEdges::from_scores(probs)?;

    let mut accounts = [0u64; 10];
    let mut positives = [0u64; 10];
    let mut sums = [KahanSum::default(); 10];
    for (&p, &y) in probs.iter().zip(outcomes) {
        let k = usize::from(edges.decile(p)) - 1;
        accounts[k] += 1;
        positives[k] += u64::from(y);
        sums[k].add(p);
    }

    let total = probs.len() as u64;
    let total_positives: u64 = positives.iter().sum();
    let overall_rate = total_positives as f64 / total as f64;
    let has_positives = total_positives > 0;

    let mut cumulative_accounts = 0;
    let mut cumulative_positives = 0;
    let rows = std::array::from_fn(|k| {
        cumulative_accounts += accounts[k];
        cumulative_positives += positives[k];
        let populated = accounts[k] > 0;
        let actual_rate = populated.then(|| positives[k] as f64 / accounts[k] as f64);
        LiftRow {
            decile: decile_number(k),
            accounts: accounts[k],
            positives: positives[k],
            mean_probability: populated.then(|| sums[k].sum / accounts[k] as f64),
            actual_rate,
            overall_rate,
            lift: actual_rate
                .filter(|_| has_positives)
                .map(|r| r / overall_rate),
            cumulative_accounts,
            cumulative_positives,
            cumulative_captured: has_positives
                .then(|| cumulative_positives as f64 / total_positives as f64),
            cumulative_lift: (has_positives && cumulative_accounts > 0)
                .then(|| (cumulative_positives as f64 / cumulative_accounts as f64) / overall_rate),
        }
    });

    Some(LiftTable {
        edges,
        accounts: total,
        positives: total_positives,
        overall_rate,
        rows,
    })
}

/// Area under the ROC curve, equal to scikit-learn's `roc_auc_score(outcomes, probs)`.
///
/// Computed as the Mann-Whitney statistic with average ranks for ties: the share of
/// (positive, negative) pairs where the positive scores higher, a tie counting one half. The
/// pair count is exact in integers, so the only rounding is the final division. O(n log n),
/// one copy of the input.
///
/// `None` when the slices differ in length, a probability is NaN or infinite, or only one class
/// is present (scikit-learn raises there).
#[must_use]
pub fn roc_auc(probs: &[f64], outcomes: &[bool]) -> Option<f64> {
    if probs.len() != outcomes.len() || probs.iter().any(|p| !p.is_finite()) {
        return None;
    }
    let positives = outcomes.iter().filter(|&&y| y).count() as u128;
    let negatives = outcomes.len() as u128 - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }

    let mut pairs: Vec<(f64, bool)> = probs
        .iter()
        .copied()
        .zip(outcomes.iter().copied())
        .collect();
    pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));

    // Twice the number of correctly ordered pairs, ties counted once (so halves stay integral).
    let mut twice_u: u128 = 0;
    let mut negatives_below: u128 = 0;
    let mut start = 0;
    while start < pairs.len() {
        let score = pairs[start].0;
        // `==` (not total order) so -0.0 and 0.0 form one tie group, as in numpy.
        let len = pairs[start..]
            .iter()
            .take_while(|(p, _)| *p == score)
            .count();
        let group_positives = pairs[start..start + len].iter().filter(|(_, y)| *y).count() as u128;
        let group_negatives = len as u128 - group_positives;
        twice_u += 2 * negatives_below * group_positives + group_positives * group_negatives;
        negatives_below += group_negatives;
        start += len;
    }
    Some(twice_u as f64 / (2 * positives * negatives) as f64)
}

/// Shares below this are raised to it before a PSI term is computed, so an empty decile on
/// either side gives a large but finite term instead of an infinite one (and a decile empty on
/// both sides gives 0).
pub const PSI_EPSILON: f64 = 1e-4;

/// Population stability index of a run's scores against a reference run's deciles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Psi {
    /// Sum of the per-decile terms, deciles 1 to 10 in that order.
    pub psi: f64,
    /// Scores compared.
    pub total: u64,
    /// `deciles[d - 1]` for decile `d` (1 = highest scores).
    pub deciles: [PsiDecile; 10],
}

/// One decile of a [`Psi`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PsiDecile {
    /// 1 (highest scores) to 10.
    pub decile: u8,
    /// The reference run's share of accounts in this decile (as given).
    pub reference_share: f64,
    /// This run's scores that fall in the decile under the reference's edges.
    pub count: u64,
    /// `count / total`.
    pub share: f64,
    /// `(s - r) * ln(s / r)` with `s = max(share, PSI_EPSILON)` and
    /// `r = max(reference_share, PSI_EPSILON)`.
    pub term: f64,
}

/// PSI of `scores` against a reference: the reference run's decile edges and its share of
/// accounts per decile (`reference_shares[d - 1]` for decile `d`, as
/// [`DecileSummary::shares`] gives them for the reference run's own scores).
///
/// Each score is placed with `reference_edges.decile` (so scores outside the reference's range
/// land in decile 1 or 10). PSI = sum over deciles of `(s - r) * ln(s / r)`, `s` this run's share,
/// `r` the reference's, both raised to at least [`PSI_EPSILON`] first.
///
/// `None` when `scores` is empty or holds NaN or infinity, or a reference share is negative or
/// not finite.
#[must_use]
pub fn psi(
    reference_edges: &DecileEdges,
    reference_shares: &[f64; 10],
    scores: &[f64],
) -> Option<Psi> {
    if scores.is_empty()
        || reference_shares
            .iter()
            .any(|r| !(r.is_finite() && *r >= 0.0))
    {
        return None;
    }
    let summary = DecileSummary::from_scores(reference_edges, scores)?;
    let shares = summary.shares();

    let mut total = 0.0;
    let deciles = std::array::from_fn(|k| {
        let s = shares[k].max(PSI_EPSILON);
        let r = reference_shares[k].max(PSI_EPSILON);
        let term = (s - r) * (s / r).ln();
        total += term;
        PsiDecile {
            decile: decile_number(k),
            reference_share: reference_shares[k],
            count: summary.deciles[k].count,
            share: shares[k],
            term,
        }
    });
    Some(Psi {
        psi: total,
        total: summary.total,
        deciles,
    })
}

#[cfg(test)]
mod tests {
    use super::super::deciles::fixtures::{Rng, close, f, f10, f11, fo, fv, populations, psi_file};
    use super::*;

    const REL: f64 = 1e-12;

    fn assert_opt(got: Option<f64>, want: Option<f64>, what: &str) {
        match (got, want) {
            (Some(g), Some(w)) => assert!(close(g, w, REL), "{what}: got {g:e}, want {w:e}"),
            (None, None) => {}
            other => panic!("{what}: {other:?}"),
        }
    }

    #[test]
    fn lift_table_matches_notebook() {
        for pop in populations() {
            let (probs, outcomes) = (pop.scores(), pop.outcomes());
            let table = lift_table(&probs, &outcomes).expect("valid population");
            let name = &pop.name;
            assert_eq!(table.accounts, pop.lift.accounts, "{name}");
            assert_eq!(table.positives, pop.lift.positives, "{name}");
            assert!(close(table.overall_rate, f(&pop.lift.overall_rate), REL));
            assert_eq!(
                table.edges.edges.map(f64::to_bits),
                f11(&pop.edges).map(f64::to_bits)
            );
            assert_eq!(table.edges.degenerate, pop.degenerate);
            for (got, want) in table.rows.iter().zip(&pop.lift.rows) {
                let at = format!("{name} decile {}", want.decile);
                assert_eq!(got.decile, want.decile, "{at}");
                assert_eq!(got.accounts, want.accounts, "{at}");
                assert_eq!(got.positives, want.positives, "{at}");
                assert_eq!(got.cumulative_accounts, want.cumulative_accounts, "{at}");
                assert_eq!(got.cumulative_positives, want.cumulative_positives, "{at}");
                assert_eq!(got.overall_rate, table.overall_rate);
                assert_opt(
                    got.mean_probability,
                    fo(want.mean_probability.as_deref()),
                    &at,
                );
                assert_opt(got.actual_rate, fo(want.actual_rate.as_deref()), &at);
                assert_opt(got.lift, fo(want.lift.as_deref()), &at);
                assert_opt(
                    got.cumulative_captured,
                    fo(want.cumulative_captured.as_deref()),
                    &at,
                );
                assert_opt(
                    got.cumulative_lift,
                    fo(want.cumulative_lift.as_deref()),
                    &at,
                );
            }
        }
    }

    #[test]
    fn roc_auc_matches_sklearn() {
        for pop in populations() {
            let got = roc_auc(&pop.scores(), &pop.outcomes());
            assert_opt(got, fo(pop.roc_auc.as_deref()), &pop.name);
        }
    }

    #[test]
    fn psi_matches_script() {
        let file = psi_file();
        assert_eq!(PSI_EPSILON, f(&file.generated_by.psi_epsilon));
        assert!(file.cases.len() >= 4);
        for case in &file.cases {
            let edges = DecileEdges::from_edges(f11(&case.baseline_edges)).expect("edges");
            let reference = f10(&case.baseline_shares);
            let got = psi(&edges, &reference, &fv(&case.scores)).expect("valid case");
            assert!(
                close(got.psi, f(&case.psi), REL),
                "{}: {}",
                case.name,
                got.psi
            );
            for (k, d) in got.deciles.iter().enumerate() {
                assert_eq!(d.decile as usize, k + 1);
                assert_eq!(d.count, case.counts[k], "{}", case.name);
                assert_eq!(d.share, f(&case.shares[k]), "{}", case.name);
                assert_eq!(d.reference_share, reference[k]);
                assert!(close(d.term, f(&case.terms[k]), REL), "{}", case.name);
            }
        }
    }

    #[test]
    fn psi_of_a_population_against_itself_is_zero() {
        let mut rng = Rng(3);
        let scores = rng.scores(5000, 0);
        let edges = DecileEdges::from_scores(&scores).expect("finite");
        let shares = DecileSummary::from_scores(&edges, &scores)
            .expect("finite")
            .shares();
        let same = psi(&edges, &shares, &scores).expect("valid");
        assert_eq!(same.psi, 0.0);
        let shifted: Vec<f64> = scores.iter().map(|s| s * 1.3).collect();
        assert!(psi(&edges, &shares, &shifted).expect("valid").psi > 0.01);
        assert!(psi(&edges, &shares, &[]).is_none());
        assert!(psi(&edges, &shares, &[f64::NAN]).is_none());
        let mut bad = shares;
        bad[3] = -0.1;
        assert!(psi(&edges, &bad, &scores).is_none());
    }

    /// O(n^2) reference: every (positive, negative) pair, ties count one half.
    fn auc_by_pairs(probs: &[f64], outcomes: &[bool]) -> f64 {
        let (mut twice, mut pairs) = (0u64, 0u64);
        for (i, &pi) in probs.iter().enumerate() {
            for (j, &pj) in probs.iter().enumerate() {
                if outcomes[i] && !outcomes[j] {
                    pairs += 1;
                    twice += if pi > pj {
                        2
                    } else if pi == pj {
                        1
                    } else {
                        0
                    };
                }
            }
        }
        twice as f64 / (2 * pairs) as f64
    }

    #[test]
    fn property_auc_equals_pair_count_and_lift_adds_up() {
        let mut rng = Rng(5);
        for round in 0..200 {
            let n = 2 + (rng.next_u64() % 400) as usize;
            let levels = [0, 3, 10, 50][round % 4];
            let probs = rng.scores(n, levels);
            let outcomes: Vec<bool> = probs.iter().map(|&p| rng.unit() < p + 0.05).collect();
            let positives = outcomes.iter().filter(|&&y| y).count();

            let auc = roc_auc(&probs, &outcomes);
            if positives == 0 || positives == n {
                assert!(auc.is_none());
            } else {
                let want = auc_by_pairs(&probs, &outcomes);
                assert_eq!(auc, Some(want), "n={n} levels={levels}");
            }

            let table = lift_table(&probs, &outcomes).expect("valid");
            assert_eq!(table.rows.iter().map(|r| r.accounts).sum::<u64>(), n as u64);
            assert_eq!(
                table.rows.iter().map(|r| r.positives).sum::<u64>(),
                positives as u64
            );
            let last = table.rows[9];
            assert_eq!(last.cumulative_accounts, n as u64);
            if positives > 0 {
                assert_eq!(last.cumulative_captured, Some(1.0));
                let cumulative_lift = last.cumulative_lift.expect("populated");
                assert!((cumulative_lift - 1.0).abs() < 1e-12);
                let captured: Vec<f64> = table
                    .rows
                    .iter()
                    .filter_map(|r| r.cumulative_captured)
                    .collect();
                assert!(captured.windows(2).all(|w| w[0] <= w[1]));
            }
        }
    }

    #[test]
    fn auc_edge_cases() {
        assert_eq!(roc_auc(&[0.1, 0.9], &[false, true]), Some(1.0));
        assert_eq!(roc_auc(&[0.9, 0.1], &[false, true]), Some(0.0));
        assert_eq!(roc_auc(&[0.5, 0.5], &[false, true]), Some(0.5));
        assert_eq!(roc_auc(&[0.0, -0.0], &[false, true]), Some(0.5));
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
        assert_eq!(roc_auc(&[0.1, 0.2], &[true]), None);
        assert_eq!(roc_auc(&[0.1, f64::NAN], &[true, false]), None);
        assert_eq!(roc_auc(&[], &[]), None);
    }

    #[test]
    fn lift_table_rejects_bad_input() {
        assert!(lift_table(&[], &[]).is_none());
        assert!(lift_table(&[0.1, 0.2], &[true]).is_none());
        assert!(lift_table(&[0.1, f64::INFINITY], &[true, false]).is_none());
    }

    #[test]
    fn lift_table_serializes_empty_deciles_as_null() {
        let table = lift_table(&[0.2, 0.2, 0.2, 0.7], &[false, true, false, true]).expect("ok");
        assert!(table.edges.degenerate);
        let json = serde_json::to_value(&table).expect("serialize");
        let rows = json["rows"].as_array().expect("rows");
        assert_eq!(rows.len(), 10);
        let empty = rows
            .iter()
            .find(|r| r["accounts"] == 0)
            .expect("an empty decile");
        assert!(empty["mean_probability"].is_null());
        assert!(empty["actual_rate"].is_null());
        assert!(empty["lift"].is_null());
    }
}
