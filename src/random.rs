//! Deterministic random draws shared by the synthetic data generators (accounts for scoring,
//! case event logs): seeded xoshiro256++ streams and the distributions they need.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The 64-bit finaliser of SplitMix64: a bijective, well-mixing hash.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Portable random draws: the same numbers on every platform (libm, not the platform's
/// libm), from one xoshiro256++ stream.
pub(crate) struct Draw {
    rng: Xoshiro256PlusPlus,
    spare_normal: Option<f64>,
}

impl Draw {
    pub(crate) fn new(key: u64) -> Self {
        Self {
            rng: Xoshiro256PlusPlus::seed_from_u64(key),
            spare_normal: None,
        }
    }

    /// Uniform on [0, 1) with 53 random bits.
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 * (1.0 / (1_u64 << 53) as f64)
    }

    /// Uniform on (0, 1], safe to take the logarithm of.
    pub(crate) fn uniform_open0(&mut self) -> f64 {
        ((self.rng.next_u64() >> 11) + 1) as f64 * (1.0 / (1_u64 << 53) as f64)
    }

    pub(crate) fn bernoulli(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Standard normal by Box-Muller (two values per pair of uniforms).
    pub(crate) fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        let radius = libm::sqrt(-2.0 * libm::log(self.uniform_open0()));
        let angle = std::f64::consts::TAU * self.uniform();
        self.spare_normal = Some(radius * libm::sin(angle));
        radius * libm::cos(angle)
    }

    pub(crate) fn lognormal(&mut self, mu: f64, sigma: f64) -> f64 {
        libm::exp(mu + sigma * self.normal())
    }

    /// Poisson count: Knuth's product method for small means, a rounded normal above 30.
    pub(crate) fn poisson(&mut self, mean: f64) -> f64 {
        if mean.is_nan() || mean <= 0.0 {
            return 0.0;
        }
        if mean >= 30.0 {
            return (mean + libm::sqrt(mean) * self.normal()).round().max(0.0);
        }
        let limit = libm::exp(-mean);
        let mut product = self.uniform();
        let mut k = 0.0;
        while product > limit {
            k += 1.0;
            product *= self.uniform();
        }
        k
    }

    pub(crate) fn binomial(&mut self, n: f64, p: f64) -> f64 {
        let mut k = 0.0;
        let mut i = 0.0;
        while i < n {
            if self.bernoulli(p) {
                k += 1.0;
            }
            i += 1.0;
        }
        k
    }

    /// Index drawn with probability proportional to `weights`.
    pub(crate) fn choose(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut target = self.uniform() * total;
        for (i, &weight) in weights.iter().enumerate() {
            if target < weight {
                return i;
            }
            target -= weight;
        }
        weights.len().saturating_sub(1)
    }
}
