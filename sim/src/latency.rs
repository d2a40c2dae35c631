//! The request-latency distribution: a log-normal body with a long tail.
//!
//! The quantile function is
//!
//! - `p ≤ 0.99`: log-normal, `median · exp(sigma · Φ⁻¹(p))`;
//! - `0.99 < p ≤ 0.999`: log-linear from the body's p99 up to `tail` (so
//!   p99.9 is `tail`);
//! - `0.999 < p ≤ 1`: log-linear from `tail` up to `max` (a client timeout:
//!   no request takes longer).
//!
//! It is discretised into 2,890 equal-probability cells per band (990 of
//! 0.1 % for the body, 900 of 0.001 % and 1,000 of 0.0001 % for the two tail
//! bands), each a point mass at its mid-quantile. On that table the two
//! functions the simulator needs are exact: the survival `S(x) = P(ℓ > x)` and
//! the mean excess `G(x) = E[(ℓ − x)⁺] = ∫ₓ^∞ S`, which integrates `S` over a
//! span of send times in closed form.

use core::time::Duration;

use crate::scenario::ScenarioError;

/// p at which the body hands over to the tail.
const BODY_END: f64 = 0.99;
/// p at which the tail reaches `tail`.
const TAIL_AT: f64 = 0.999;

/// A long-tailed request-latency distribution. See the module docs.
#[derive(Clone, Debug)]
pub struct LatencyModel {
    median: Duration,
    sigma: f64,
    tail: Duration,
    max: Duration,
    /// Cell latencies in seconds, ascending.
    values: Vec<f64>,
    /// `P(ℓ ≥ values[j])`: the weight of cells `j..`.
    tail_weight: Vec<f64>,
    /// `Σ_{k ≥ j} w_k · values[k]`.
    tail_moment: Vec<f64>,
}

impl Default for LatencyModel {
    /// Median 100 ms, sigma 0.5 (p99 ≈ 320 ms), p99.9 30 s, at most 60 s.
    fn default() -> Self {
        match LatencyModel::new(
            Duration::from_millis(100),
            0.5,
            Duration::from_secs(30),
            Duration::from_secs(60),
        ) {
            Ok(model) => model,
            // The defaults are valid; this arm is never taken.
            Err(_) => LatencyModel::from_parts(Duration::from_millis(100), 0.5, 30.0, 60.0),
        }
    }
}

impl LatencyModel {
    /// A model with a log-normal body of `median` and `sigma` (of the
    /// natural log), p99.9 at `tail`, and no latency above `max`.
    pub fn new(
        median: Duration,
        sigma: f64,
        tail: Duration,
        max: Duration,
    ) -> Result<Self, ScenarioError> {
        if median.is_zero() {
            return Err(ScenarioError::Latency("the median must be above zero"));
        }
        if !sigma.is_finite() || sigma < 0.0 {
            return Err(ScenarioError::Latency("sigma must be finite and >= 0"));
        }
        let p99 = median.as_secs_f64() * (sigma * inverse_normal(BODY_END)).exp();
        if tail.as_secs_f64() <= p99 {
            return Err(ScenarioError::Latency(
                "the p99.9 tail must be above the body's p99",
            ));
        }
        if max < tail {
            return Err(ScenarioError::Latency(
                "max must be at least the p99.9 tail",
            ));
        }
        if max > Duration::from_secs(86_400) {
            return Err(ScenarioError::Latency("max must be at most one day"));
        }
        Ok(Self::from_parts(
            median,
            sigma,
            tail.as_secs_f64(),
            max.as_secs_f64(),
        ))
    }

    fn from_parts(median: Duration, sigma: f64, tail: f64, max: f64) -> Self {
        let mut model = LatencyModel {
            median,
            sigma,
            tail: Duration::from_secs_f64(tail),
            max: Duration::from_secs_f64(max),
            values: Vec::new(),
            tail_weight: Vec::new(),
            tail_moment: Vec::new(),
        };
        let bands: [(f64, f64, u32); 3] = [
            (0.0, BODY_END, 990),
            (BODY_END, TAIL_AT, 900),
            (TAIL_AT, 1.0, 1000),
        ];
        let mut cells: Vec<(f64, f64)> = Vec::with_capacity(2890);
        for (lo, hi, n) in bands {
            let w = (hi - lo) / f64::from(n);
            for i in 0..n {
                let p = lo + (f64::from(i) + 0.5) * w;
                cells.push((model.quantile_secs(p), w));
            }
        }
        cells.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut weight = vec![0.0; cells.len() + 1];
        let mut moment = vec![0.0; cells.len() + 1];
        let (mut acc_w, mut acc_m) = (0.0, 0.0);
        for (j, (value, w)) in cells.iter().enumerate().rev() {
            acc_w += w;
            acc_m += w * value;
            if let Some(slot) = weight.get_mut(j) {
                *slot = acc_w;
            }
            if let Some(slot) = moment.get_mut(j) {
                *slot = acc_m;
            }
        }
        model.values = cells.into_iter().map(|(v, _)| v).collect();
        model.tail_weight = weight;
        model.tail_moment = moment;
        model
    }

    /// The body's median.
    pub fn median(&self) -> Duration {
        self.median
    }

    /// The body's sigma (of the natural log of the latency).
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// p99.9.
    pub fn tail(&self) -> Duration {
        self.tail
    }

    /// The longest latency.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The latency at quantile `p` (clamped to `[0, 1]`), before
    /// discretisation.
    pub fn quantile(&self, p: f64) -> Duration {
        Duration::from_secs_f64(self.quantile_secs(p).clamp(0.0, self.max.as_secs_f64()))
    }

    fn quantile_secs(&self, p: f64) -> f64 {
        let p = if p.is_nan() { 0.5 } else { p.clamp(0.0, 1.0) };
        let median = self.median.as_secs_f64();
        if p <= 0.0 {
            return 0.0;
        }
        if p <= BODY_END {
            return median * (self.sigma * inverse_normal(p)).exp();
        }
        let p99 = median * (self.sigma * inverse_normal(BODY_END)).exp();
        let tail = self.tail.as_secs_f64();
        if p <= TAIL_AT {
            let f = (p - BODY_END) / (TAIL_AT - BODY_END);
            return (p99.ln() + f * (tail.ln() - p99.ln())).exp();
        }
        let max = self.max.as_secs_f64();
        let f = (p - TAIL_AT) / (1.0 - TAIL_AT);
        (tail.ln() + f * (max.ln() - tail.ln())).exp()
    }

    /// `P(ℓ > x)` on the discretised table; `x` in seconds, may be negative.
    pub fn survival(&self, x: f64) -> f64 {
        let idx = self.values.partition_point(|v| *v <= x);
        self.tail_weight.get(idx).copied().unwrap_or(0.0)
    }

    /// `E[(ℓ − x)⁺]` on the discretised table, in seconds; `x` may be
    /// negative (then it is `E[ℓ] − x`).
    pub fn mean_excess(&self, x: f64) -> f64 {
        let idx = self.values.partition_point(|v| *v <= x);
        let w = self.tail_weight.get(idx).copied().unwrap_or(0.0);
        let m = self.tail_moment.get(idx).copied().unwrap_or(0.0);
        (m - x * w).max(0.0)
    }

    /// The mean latency, in seconds.
    pub fn mean(&self) -> f64 {
        self.tail_moment.first().copied().unwrap_or(0.0)
    }
}

/// Φ⁻¹, the standard normal quantile (Acklam's rational approximation,
/// relative error below 1.2e-9).
fn inverse_normal(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 6] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
        1.0,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 5] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
        1.0,
    ];
    const LOW: f64 = 0.02425;
    let horner = |coeffs: &[f64], x: f64| coeffs.iter().fold(0.0, |acc, c| acc * x + c);
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if p < LOW {
        let q = (-2.0 * p.ln()).sqrt();
        horner(&C, q) / horner(&D, q)
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        horner(&A, r) * q / horner(&B, r)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -horner(&C, q) / horner(&D, q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_normal_known_values() {
        assert!(inverse_normal(0.5).abs() < 1e-9);
        assert!((inverse_normal(0.99) - 2.326_347_874).abs() < 1e-6);
        assert!((inverse_normal(0.01) + 2.326_347_874).abs() < 1e-6);
        assert!((inverse_normal(0.841_344_746) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn quantiles_and_table_agree() {
        let m = LatencyModel::default();
        assert!((m.quantile(0.5).as_secs_f64() - 0.1).abs() < 1e-9);
        assert!((m.quantile(0.999).as_secs_f64() - 30.0).abs() < 1e-6);
        assert_eq!(m.quantile(1.0), Duration::from_secs(60));
        assert!((m.survival(-1.0) - 1.0).abs() < 1e-12);
        assert_eq!(m.survival(60.0), 0.0);
        // p99.9 at the tail: one in a thousand takes longer than 30 s.
        assert!((m.survival(29.99) - 0.001).abs() < 2e-5);
        assert!((m.survival(m.quantile(0.99).as_secs_f64() + 1e-9) - 0.01).abs() < 2e-3);
        // G(x) = E[(ℓ - x)+]: the mean for x = 0, zero at the max.
        assert!((m.mean_excess(0.0) - m.mean()).abs() < 1e-12);
        assert!((m.mean_excess(-2.0) - (m.mean() + 2.0)).abs() < 1e-12);
        assert_eq!(m.mean_excess(60.0), 0.0);
        // G' = -S: check a finite difference.
        let (x, h) = (9.5, 1e-4);
        let slope = (m.mean_excess(x + h) - m.mean_excess(x)) / h;
        assert!((slope + m.survival(x)).abs() < 1e-3, "{slope}");
    }

    #[test]
    fn rejects_a_tail_under_the_body() {
        assert!(
            LatencyModel::new(
                Duration::from_millis(100),
                0.5,
                Duration::from_millis(200),
                Duration::from_secs(1)
            )
            .is_err()
        );
    }
}
