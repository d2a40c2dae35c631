//! Fleet-wide accounting for one stack: requests, would-be 401s, endpoint
//! calls and waits, per bucket.
//!
//! Requests of an instance arrive as a Poisson process. Spans in which every
//! arrival is handled alike (a token served from the cache with no state
//! change) are integrated: their request count and their would-be 401 count
//! are Poisson with means `r·(b − a)` and `r·∫ₐᵇ S(E − s) ds =
//! r·(G(E − b) − G(E − a))` (`S`, `G` from [`LatencyModel`], `E` the token's
//! real expiry). Those means are summed per bucket over the fleet and drawn
//! once per bucket at the end (a sum of independent Poisson counts is
//! Poisson). Arrivals that meet a decision are handled one by one, each a
//! Bernoulli draw.

use core::time::Duration;

use crate::latency::LatencyModel;
use crate::report::{Series, StackReport};
use crate::rng::Rng;

const NANOS: f64 = 1e9;

fn secs(ns: u64) -> f64 {
    ns as f64 / NANOS
}

/// Seconds from `a` to `b`, negative if `b` is earlier.
fn signed_secs(b: u64, a: u64) -> f64 {
    if b >= a { secs(b - a) } else { -secs(a - b) }
}

fn bump<T: core::ops::AddAssign + Copy>(v: &mut [T], i: usize, by: T) {
    if let Some(slot) = v.get_mut(i) {
        *slot += by;
    }
}

/// What one stack did, summed over the fleet.
#[derive(Debug)]
pub(crate) struct Recorder<'a> {
    latency: &'a LatencyModel,
    max_latency_ns: u64,
    /// Requests per second of one instance.
    rate: f64,
    bucket_ns: u64,
    /// Rate added to every bucket from `i` on (a difference array).
    rate_diff: Vec<f64>,
    req_mean: Vec<f64>,
    e401_mean: Vec<f64>,
    req_n: Vec<u64>,
    e401_n: Vec<u64>,
    errors: Vec<u64>,
    calls: Vec<u64>,
    calls_sec: Vec<u32>,
    refresh_calls_sec: Vec<u32>,
    longest_wait_ns: u64,
    waited: u64,
    longest_rotation_wait_ns: u64,
    waited_at_rotation: u64,
    min_left: Option<f64>,
    rotations: u64,
}

impl<'a> Recorder<'a> {
    pub(crate) fn new(latency: &'a LatencyModel, rate: f64, bucket: Duration, end_ns: u64) -> Self {
        let bucket_ns = u64::try_from(bucket.as_nanos()).unwrap_or(u64::MAX).max(1);
        let n = usize::try_from(end_ns.div_ceil(bucket_ns)).unwrap_or(0);
        let seconds = usize::try_from(end_ns.div_ceil(1_000_000_000)).unwrap_or(0);
        Recorder {
            latency,
            max_latency_ns: u64::try_from(latency.max().as_nanos()).unwrap_or(u64::MAX),
            rate,
            bucket_ns,
            rate_diff: vec![0.0; n + 1],
            req_mean: vec![0.0; n],
            e401_mean: vec![0.0; n],
            req_n: vec![0; n],
            e401_n: vec![0; n],
            errors: vec![0; n],
            calls: vec![0; n],
            calls_sec: vec![0; seconds],
            refresh_calls_sec: vec![0; seconds],
            longest_wait_ns: 0,
            waited: 0,
            longest_rotation_wait_ns: 0,
            waited_at_rotation: 0,
            min_left: None,
            rotations: 0,
        }
    }

    fn bucket(&self, t: u64) -> usize {
        usize::try_from(t / self.bucket_ns).unwrap_or(usize::MAX)
    }

    /// Arrivals in `[from, to)` are all served at once with a token that
    /// really expires at `expiry`.
    pub(crate) fn served_span(&mut self, from: u64, to: u64, expiry: u64) {
        if to <= from {
            return;
        }
        // Requests: partial buckets directly, whole buckets by the
        // difference array.
        let (fb, lb) = (self.bucket(from), self.bucket(to - 1));
        let per_ns = self.rate / NANOS;
        if fb == lb {
            bump(&mut self.req_mean, fb, per_ns * (to - from) as f64);
        } else {
            let first_end = (from / self.bucket_ns + 1) * self.bucket_ns;
            let last_start = ((to - 1) / self.bucket_ns) * self.bucket_ns;
            bump(&mut self.req_mean, fb, per_ns * (first_end - from) as f64);
            bump(&mut self.req_mean, lb, per_ns * (to - last_start) as f64);
            if lb > fb + 1 {
                bump(&mut self.rate_diff, fb + 1, self.rate);
                bump(&mut self.rate_diff, lb, -self.rate);
            }
        }
        // Would-be 401s: only sends within the longest latency of the
        // expiry can be caught by it.
        let risk_from = from.max(expiry.saturating_sub(self.max_latency_ns));
        let mut x = risk_from;
        while x < to {
            let y = ((x / self.bucket_ns + 1) * self.bucket_ns).min(to);
            let mean = self.rate
                * (self.latency.mean_excess(signed_secs(expiry, y))
                    - self.latency.mean_excess(signed_secs(expiry, x)));
            let b = self.bucket(x);
            bump(&mut self.e401_mean, b, mean.max(0.0));
            x = y;
        }
    }

    /// `count` requests sent at `at` with a token that really expires at
    /// `expiry`.
    pub(crate) fn sent(&mut self, at: u64, count: u64, expiry: u64, rng: &mut Rng) {
        let b = self.bucket(at);
        bump(&mut self.req_n, b, count);
        let p = self.latency.survival(signed_secs(expiry, at));
        if p > 0.0 {
            let hits = (0..count).filter(|_| rng.bernoulli(p)).count() as u64;
            bump(&mut self.e401_n, b, hits);
        }
    }

    /// `count` callers, the first of whom arrived at `first`, waited until
    /// `at` and were then sent with a token that really expires at `expiry`.
    /// `refresh`: the instance already held a token (a wait at rotation).
    pub(crate) fn waited(
        &mut self,
        first: u64,
        at: u64,
        count: u64,
        refresh: bool,
        expiry: u64,
        rng: &mut Rng,
    ) {
        if count == 0 {
            return;
        }
        self.note_wait(first, at, count, refresh);
        self.sent(at, count, expiry, rng);
    }

    /// `count` callers, the first of whom arrived at `first`, waited until
    /// `at` and then got an error.
    pub(crate) fn waited_and_failed(&mut self, first: u64, at: u64, count: u64, refresh: bool) {
        if count == 0 {
            return;
        }
        self.note_wait(first, at, count, refresh);
        self.failed(at, count);
    }

    fn note_wait(&mut self, first: u64, at: u64, count: u64, refresh: bool) {
        let wait = at.saturating_sub(first);
        self.waited += count;
        self.longest_wait_ns = self.longest_wait_ns.max(wait);
        if refresh {
            self.waited_at_rotation += count;
            self.longest_rotation_wait_ns = self.longest_rotation_wait_ns.max(wait);
        }
    }

    /// `count` callers got an error instead of a token at `at`.
    pub(crate) fn failed(&mut self, at: u64, count: u64) {
        let b = self.bucket(at);
        bump(&mut self.req_n, b, count);
        bump(&mut self.errors, b, count);
    }

    /// A call to the token endpoint at `at`; `refresh` if the instance
    /// already held a token (not its first fetch).
    pub(crate) fn endpoint_call(&mut self, at: u64, refresh: bool) {
        let b = self.bucket(at);
        bump(&mut self.calls, b, 1);
        let s = usize::try_from(at / 1_000_000_000).unwrap_or(usize::MAX);
        bump(&mut self.calls_sec, s, 1);
        if refresh {
            bump(&mut self.refresh_calls_sec, s, 1);
        }
    }

    /// A new token replaced one that really expires at `old_expiry`, at
    /// `at`.
    pub(crate) fn rotated(&mut self, at: u64, old_expiry: u64) {
        let left = signed_secs(old_expiry, at);
        self.rotations += 1;
        self.min_left = Some(self.min_left.map_or(left, |m| m.min(left)));
    }

    /// Draws the integrated counts and sums everything up.
    pub(crate) fn finish(mut self, label: String, rng: &mut Rng) -> StackReport {
        let bucket_secs = secs(self.bucket_ns);
        let mut rate = 0.0;
        for (i, mean) in self.req_mean.iter_mut().enumerate() {
            rate += self.rate_diff.get(i).copied().unwrap_or(0.0);
            *mean += rate * bucket_secs;
        }
        let requests: Vec<u64> = self
            .req_mean
            .iter()
            .zip(&self.req_n)
            .map(|(mean, n)| rng.poisson(*mean) + n)
            .collect();
        let would_be_401s: Vec<u64> = self
            .e401_mean
            .iter()
            .zip(&self.e401_n)
            .map(|(mean, n)| rng.poisson(*mean) + n)
            .collect();
        StackReport {
            label,
            requests: requests.iter().sum(),
            would_be_401s: would_be_401s.iter().sum(),
            expected_would_be_401s: self.e401_mean.iter().sum::<f64>()
                + self.e401_n.iter().sum::<u64>() as f64,
            endpoint_calls: self.calls.iter().sum(),
            peak_calls_per_sec: self.calls_sec.iter().copied().max().unwrap_or(0),
            peak_refresh_calls_per_sec: self.refresh_calls_sec.iter().copied().max().unwrap_or(0),
            longest_wait: Duration::from_nanos(self.longest_wait_ns),
            waited: self.waited,
            longest_wait_at_rotation: Duration::from_nanos(self.longest_rotation_wait_ns),
            waited_at_rotation: self.waited_at_rotation,
            errors: self.errors.iter().sum(),
            rotations: self.rotations,
            min_left_at_rotation: self.min_left,
            series: Series {
                bucket: Duration::from_nanos(self.bucket_ns),
                requests,
                would_be_401s,
                endpoint_calls: self.calls,
                errors: self.errors,
                endpoint_calls_per_sec: self.calls_sec,
                refresh_calls_per_sec: self.refresh_calls_sec,
            },
        }
    }
}
