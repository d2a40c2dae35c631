//! A small deterministic PRNG (SplitMix64) with the draws the simulator
//! needs: uniforms, exponential inter-arrival times, Bernoulli and Poisson
//! counts. No dependency, reproducible from one seed.

/// SplitMix64: one 64-bit state word, good statistical quality for
/// simulation, and cheap to split into independent streams.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// The stream `(a, b)` of `seed`: distinct pairs give unrelated streams.
    pub(crate) fn stream(seed: u64, a: u64, b: u64) -> Self {
        let s = mix(seed ^ mix(a.wrapping_mul(GOLDEN) ^ mix(b.wrapping_add(GOLDEN))));
        Rng(s)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Exponential with the given rate (mean `1 / rate`).
    pub(crate) fn exponential(&mut self, rate: f64) -> f64 {
        -(1.0 - self.uniform()).ln() / rate
    }

    /// `true` with probability `p`.
    pub(crate) fn bernoulli(&mut self, p: f64) -> bool {
        p > 0.0 && self.uniform() < p
    }

    /// Poisson with mean `lambda`: Knuth's product method below 10, PTRS
    /// (Hörmann 1993, transformed rejection with squeeze) above.
    pub(crate) fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda.is_nan() || lambda <= 0.0 {
            return 0;
        }
        if lambda < 10.0 {
            let limit = (-lambda).exp();
            let mut k = 0u64;
            let mut p = self.uniform();
            while p > limit {
                k += 1;
                p *= self.uniform();
            }
            return k;
        }
        let slam = lambda.sqrt();
        let loglam = lambda.ln();
        let b = 0.931 + 2.53 * slam;
        let a = -0.059 + 0.02483 * b;
        let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
        let vr = 0.9277 - 3.6224 / (b - 2.0);
        loop {
            let u = self.uniform() - 0.5;
            let v = self.uniform();
            let us = 0.5 - u.abs();
            let k = ((2.0 * a / us + b) * u + lambda + 0.43).floor();
            if us >= 0.07 && v <= vr {
                return k.max(0.0) as u64;
            }
            if k < 0.0 || (us < 0.013 && v > us) {
                continue;
            }
            if v.ln() + inv_alpha.ln() - (a / (us * us) + b).ln()
                <= -lambda + k * loglam - ln_factorial(k)
            {
                return k as u64;
            }
        }
    }
}

/// `ln(k!)` for a whole `k >= 0`: exact sums below 16, Stirling's series
/// (error below 1e-12) above.
fn ln_factorial(k: f64) -> f64 {
    if k < 16.0 {
        let mut sum = 0.0;
        let mut i = 2.0;
        while i <= k {
            sum += f64::ln(i);
            i += 1.0;
        }
        return sum;
    }
    let inv = 1.0 / k;
    let inv2 = inv * inv;
    k * k.ln() - k
        + 0.5 * (2.0 * core::f64::consts::PI * k).ln()
        + inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 / 1260.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_means_and_variances_match() {
        let mut rng = Rng::stream(7, 1, 2);
        for lambda in [0.3, 4.0, 12.0, 80.0, 5_000.0, 2.0e6] {
            let n = 20_000;
            let draws: Vec<f64> = (0..n).map(|_| rng.poisson(lambda) as f64).collect();
            let mean = draws.iter().sum::<f64>() / n as f64;
            let var = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n as f64;
            let se = (lambda / n as f64).sqrt();
            assert!(
                (mean - lambda).abs() < 5.0 * se,
                "lambda {lambda}: mean {mean}"
            );
            assert!(
                (var / lambda - 1.0).abs() < 0.06,
                "lambda {lambda}: var {var}"
            );
        }
    }

    #[test]
    fn ln_factorial_is_continuous_across_the_switch() {
        let exact: f64 = (2..=20).map(|i| f64::ln(i as f64)).sum();
        assert!((ln_factorial(20.0) - exact).abs() < 1e-10);
        let exact15: f64 = (2..=15).map(|i| f64::ln(i as f64)).sum();
        assert!((ln_factorial(15.0) - exact15).abs() < 1e-12);
    }

    #[test]
    fn exponential_mean() {
        let mut rng = Rng::stream(1, 0, 0);
        let n = 50_000;
        let mean = (0..n).map(|_| rng.exponential(4.0)).sum::<f64>() / n as f64;
        assert!((mean - 0.25).abs() < 0.01, "{mean}");
    }
}
