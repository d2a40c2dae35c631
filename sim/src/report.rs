//! What a run found, per stack, and its markdown form.

use core::fmt::Write as _;
use core::time::Duration;

use crate::scenario::Scenario;

/// Time series of one stack, fleet-wide.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Series {
    /// The width of each bucket of `requests`, `would_be_401s`,
    /// `endpoint_calls` and `errors`; bucket `i` covers
    /// `[i·bucket, (i+1)·bucket)` from the start of the run.
    pub bucket: Duration,
    /// Requests per bucket, by the instant they were sent (or failed).
    pub requests: Vec<u64>,
    /// Would-be 401s per bucket, by the instant the doomed request was sent.
    pub would_be_401s: Vec<u64>,
    /// Token-endpoint calls per bucket.
    pub endpoint_calls: Vec<u64>,
    /// Requests that got an error instead of a token, per bucket.
    pub errors: Vec<u64>,
    /// Token-endpoint calls per second.
    pub endpoint_calls_per_sec: Vec<u32>,
    /// Token-endpoint calls per second by instances that already held a
    /// token (refreshes: every call but each instance's first).
    pub refresh_calls_per_sec: Vec<u32>,
}

/// What one stack did over the fleet.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StackReport {
    /// The stack's label.
    pub label: String,
    /// Requests that arrived.
    pub requests: u64,
    /// Requests whose token expired before they completed: send time +
    /// request latency > the token's real expiry at the server.
    pub would_be_401s: u64,
    /// The expected number of would-be 401s (the integrated means before
    /// the Poisson draw, plus the requests decided one by one): the number
    /// without sampling noise.
    pub expected_would_be_401s: f64,
    /// Calls to the token endpoint.
    pub endpoint_calls: u64,
    /// The most endpoint calls in one second, fleet-wide (start-up
    /// included).
    pub peak_calls_per_sec: u32,
    /// The most refresh calls in one second, fleet-wide: the load at
    /// rotation, without each instance's first fetch.
    pub peak_refresh_calls_per_sec: u32,
    /// The longest any caller waited for a token.
    pub longest_wait: Duration,
    /// Callers that waited for a token at all.
    pub waited: u64,
    /// The longest any caller waited while its instance refreshed a token
    /// it held (start-up waits left out).
    pub longest_wait_at_rotation: Duration,
    /// Callers that waited while their instance refreshed a token it held.
    pub waited_at_rotation: u64,
    /// Requests that got an error instead of a token.
    pub errors: u64,
    /// Tokens replaced by a newer one.
    pub rotations: u64,
    /// The least life the old token had left at the server when its
    /// replacement arrived, in seconds (negative: it had already expired).
    pub min_left_at_rotation: Option<f64>,
    /// Time series for plotting.
    pub series: Series,
}

/// The outcome of [`crate::run`]: the scenario and one [`StackReport`] per
/// stack, in the scenario's order.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Report {
    /// What was simulated.
    pub scenario: Scenario,
    /// Per stack, in the scenario's order.
    pub stacks: Vec<StackReport>,
}

impl Report {
    /// The stack labelled `label`.
    pub fn stack(&self, label: &str) -> Option<&StackReport> {
        self.stacks.iter().find(|s| s.label == label)
    }

    /// A markdown paragraph describing the scenario and a table of the
    /// per-stack results.
    pub fn to_markdown(&self) -> String {
        let s = &self.scenario;
        let lat = s.latency();
        let (lo, hi) = s.endpoint_latency();
        let mut out = String::new();
        let _ = writeln!(out, "**{}**", s.name());
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{} instances started within {}, {} requests/s across the fleet, token lifetime {}, \
             request latency p50 {} / p99 {} / p99.9 {} / max {}, token endpoint {}–{}, \
             {} simulated, seed {}.",
            group(u64::from(s.instances())),
            human(s.start_spread().as_secs_f64()),
            group_f(s.requests_per_sec()),
            human(s.lifetime().as_secs_f64()),
            human(lat.quantile(0.5).as_secs_f64()),
            human(lat.quantile(0.99).as_secs_f64()),
            human(lat.quantile(0.999).as_secs_f64()),
            human(lat.max().as_secs_f64()),
            human(lo.as_secs_f64()),
            human(hi.as_secs_f64()),
            human(s.duration().as_secs_f64()),
            s.seed(),
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| stack | requests | would-be 401s | endpoint calls | peak calls/s | peak calls/s at rotation | longest wait | longest wait at rotation | callers that waited at rotation | errors | least life left at rotation |"
        );
        let _ = writeln!(
            out,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for r in &self.stacks {
            let left = match r.min_left_at_rotation {
                None => "–".to_string(),
                Some(l) if l < 0.0 => format!("expired {} before", human(-l)),
                Some(l) => human(l),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.label,
                group(r.requests),
                group(r.would_be_401s),
                group(r.endpoint_calls),
                group(u64::from(r.peak_calls_per_sec)),
                group(u64::from(r.peak_refresh_calls_per_sec)),
                human(r.longest_wait.as_secs_f64()),
                human(r.longest_wait_at_rotation.as_secs_f64()),
                group(r.waited_at_rotation),
                group(r.errors),
                left,
            );
        }
        out
    }
}

/// `1234567` as `1,234,567`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn group_f(x: f64) -> String {
    if x.fract() == 0.0 && (0.0..1e15).contains(&x) {
        group(x as u64)
    } else {
        format!("{x}")
    }
}

/// A span in seconds, for people: `180 ms`, `9.8 s`, `16 min 40 s`, `4 h`.
pub(crate) fn human(secs: f64) -> String {
    if !secs.is_finite() {
        return "–".into();
    }
    if secs < 1.0 {
        return format!("{} ms", (secs * 1000.0).round());
    }
    if secs < 60.0 {
        let r = (secs * 10.0).round() / 10.0;
        return if r.fract() == 0.0 {
            format!("{r:.0} s")
        } else {
            format!("{r:.1} s")
        };
    }
    let whole = secs.round() as u64;
    let (h, m, s) = (whole / 3600, (whole % 3600) / 60, whole % 60);
    match (h, m, s) {
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(143_990_120), "143,990,120");
        assert_eq!(human(0.1804), "180 ms");
        assert_eq!(human(9.84), "9.8 s");
        assert_eq!(human(30.0), "30 s");
        assert_eq!(human(1000.0), "16 min 40 s");
        assert_eq!(human(3600.0), "1 h");
        assert_eq!(human(4.0 * 3600.0 + 120.0), "4 h 2 min");
    }
}
