//! 95 % intervals for conversion rates and for the difference between treated and holdout
//! conversion: Wilson score intervals, and Newcombe's hybrid score interval for a difference
//! of independent proportions (Newcombe 1998, method 10), which combines the two Wilson
//! intervals. Both behave at 0 % and 100 % and on small groups, where the Wald interval fails.
//! Checked against statsmodels (`tools/fixtures/campaign_intervals.py`).

use serde::Serialize;
use utoipa::ToSchema;

/// The standard normal quantile of 0.975 (scipy's `norm.ppf(0.975)`).
pub const Z_95: f64 = 1.959_963_984_540_054;

/// A two-sided interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
#[schema(as = ProportionInterval)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

/// The Wilson score interval of `successes` out of `trials`; `None` without trials.
pub fn wilson(successes: u64, trials: u64, z: f64) -> Option<Interval> {
    if trials == 0 || successes > trials {
        return None;
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    Some(Interval {
        lower: (centre - half).max(0.0),
        upper: (centre + half).min(1.0),
    })
}

/// A difference of two proportions with its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
#[schema(as = ConversionDifference)]
pub struct Difference {
    /// `p1 - p2`.
    pub difference: f64,
    pub lower: f64,
    pub upper: f64,
}

/// Newcombe's hybrid score interval of `x1/n1 - x2/n2`; `None` when a group is empty.
pub fn newcombe_difference(x1: u64, n1: u64, x2: u64, n2: u64, z: f64) -> Option<Difference> {
    let w1 = wilson(x1, n1, z)?;
    let w2 = wilson(x2, n2, z)?;
    let p1 = x1 as f64 / n1 as f64;
    let p2 = x2 as f64 / n2 as f64;
    let difference = p1 - p2;
    Some(Difference {
        difference,
        lower: difference - ((p1 - w1.lower).powi(2) + (w2.upper - p2).powi(2)).sqrt(),
        upper: difference + ((w1.upper - p1).powi(2) + (p2 - w2.lower).powi(2)).sqrt(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64) {
        assert!((got - want).abs() < 1e-12, "got {got:e}, want {want:e}");
    }

    /// Printed by tools/fixtures/campaign_intervals.py (statsmodels 0.15.0):
    /// (x1, n1, x2, n2), Wilson 1, Wilson 2, Newcombe.
    #[allow(clippy::type_complexity)]
    const STATSMODELS: [((u64, u64, u64, u64), (f64, f64), (f64, f64), (f64, f64)); 5] = [
        (
            (56, 70, 48, 80),
            (0.6918335550374695, 0.8769526075163705),
            (0.4904546500516038, 0.7003817240412906),
            (0.05243147240236498, 0.33387265403690614),
        ),
        (
            (9, 10, 3, 10),
            (0.5958499732047614, 0.982123786904927),
            (0.10779126740630104, 0.6032218525388546),
            (0.1705227239345029, 0.809017973535488),
        ),
        (
            (0, 25, 2, 30),
            (0.0, 0.13319225093904855),
            (0.018477023791270378, 0.21323458362616926),
            (-0.21323458362616926, 0.07497519646238397),
        ),
        (
            (120, 1000, 80, 1000),
            (0.10129926060130912, 0.14160907584771276),
            (0.06474803809836388, 0.09846643902950242),
            (0.013718313895640565, 0.0664494707100381),
        ),
        (
            (5, 5, 0, 7),
            (0.5655175352168252, 1.0),
            (2.7755575615628914e-17, 0.3543304350666875),
            (0.4393529903596999, 1.0),
        ),
    ];

    #[test]
    fn wilson_and_newcombe_match_statsmodels() {
        for ((x1, n1, x2, n2), w1, w2, d) in STATSMODELS {
            let got1 = wilson(x1, n1, Z_95).unwrap();
            close(got1.lower, w1.0);
            close(got1.upper, w1.1);
            let got2 = wilson(x2, n2, Z_95).unwrap();
            close(got2.lower, w2.0);
            close(got2.upper, w2.1);
            let diff = newcombe_difference(x1, n1, x2, n2, Z_95).unwrap();
            close(
                diff.difference,
                x1 as f64 / n1 as f64 - x2 as f64 / n2 as f64,
            );
            close(diff.lower, d.0);
            close(diff.upper, d.1);
        }
    }

    #[test]
    fn empty_groups_have_no_interval() {
        assert_eq!(wilson(0, 0, Z_95), None);
        assert_eq!(newcombe_difference(1, 2, 0, 0, Z_95), None);
        assert_eq!(newcombe_difference(0, 0, 1, 2, Z_95), None);
    }
}
