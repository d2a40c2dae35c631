//! The two targets of the simulator: the seed incident (freshen has no
//! would-be 401s; the double cache bursts once per rotation, lined up with
//! its rotations) and the thundering herd (jitter cuts the fleet's peak
//! endpoint load at rotation at least twentyfold).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use freshen_sim::{Report, Scenario, StackReport, run};

fn stack<'a>(r: &'a Report, label: &str) -> &'a StackReport {
    r.stack(label).unwrap_or_else(|| panic!("no stack {label}"))
}

/// Groups the instants (seconds) at which `counts` is non-zero into
/// clusters separated by more than `gap` seconds: `(first, last, sum)`.
fn clusters(counts: impl Iterator<Item = (f64, u64)>, gap: f64) -> Vec<(f64, f64, u64)> {
    let mut out: Vec<(f64, f64, u64)> = Vec::new();
    for (t, n) in counts.filter(|(_, n)| *n > 0) {
        match out.last_mut() {
            Some(c) if t - c.1 <= gap => {
                c.1 = t;
                c.2 += n;
            }
            _ => out.push((t, t, n)),
        }
    }
    out
}

#[test]
fn seed_incident_freshen_has_no_401s_and_the_double_cache_bursts_at_its_rotations() {
    let scenario = Scenario::seed_incident();
    let report = run(&scenario);
    eprintln!("{}", report.to_markdown());
    let lifetime = scenario.lifetime().as_secs_f64();
    let max_latency = scenario.latency().max().as_secs_f64();
    let bucket = scenario.bucket().as_secs_f64();

    // (c) freshen: not one would-be 401 — not even in expectation — and no
    // caller waits at rotation; it rotates with 16+ min left.
    let c = stack(&report, "freshen");
    assert_eq!(c.would_be_401s, 0);
    assert_eq!(c.expected_would_be_401s, 0.0);
    assert_eq!(c.errors, 0);
    assert_eq!(c.waited_at_rotation, 0);
    assert!(c.min_left_at_rotation.unwrap() > 15.0 * 60.0);
    assert!(c.rotations >= 20 * 5, "{} rotations", c.rotations);

    // (a) and (b): bursts of would-be 401s; the real refresh happens ~10 s
    // before expiry.
    let b = stack(&report, "double cache (seed)");
    let a = stack(&report, "lazy cache (x/oauth2)");
    for s in [a, b] {
        assert!(s.would_be_401s > 100, "{}: {}", s.label, s.would_be_401s);
        let left = s.min_left_at_rotation.unwrap();
        assert!(left > 0.0 && left < 10.0, "{}: {left}", s.label);
    }
    // The double cache hides the wait of the lazy cache, not its 401s.
    assert!(a.waited_at_rotation > 0);
    assert_eq!(b.waited_at_rotation, 0);
    let ratio = b.expected_would_be_401s / a.expected_would_be_401s;
    assert!((0.8..1.25).contains(&ratio), "(b)/(a) = {ratio}");

    // Rotations of (b): refresh calls per second, clustered.
    let rotations = clusters(
        b.series
            .refresh_calls_per_sec
            .iter()
            .enumerate()
            .map(|(s, n)| (s as f64, u64::from(*n))),
        300.0,
    );
    // Bursts of would-be 401s of (b), by bucket.
    let bursts = clusters(
        b.series
            .would_be_401s
            .iter()
            .enumerate()
            .map(|(i, n)| (i as f64 * bucket, *n)),
        300.0,
    );
    eprintln!("rotations {rotations:?}\nbursts {bursts:?}");
    let hours = (scenario.duration().as_secs_f64() / lifetime).floor() as usize;
    assert!(rotations.len() >= hours, "{rotations:?}");
    // One burst per rotation, and each burst within the rotation's window:
    // requests sent up to one longest latency before the new token lands.
    assert_eq!(bursts.len(), rotations.len(), "{bursts:?} vs {rotations:?}");
    for (burst, rot) in bursts.iter().zip(&rotations) {
        assert!(burst.0 >= rot.0 - max_latency - bucket, "{burst:?} {rot:?}");
        assert!(burst.1 <= rot.1 + bucket, "{burst:?} {rot:?}");
        assert!(burst.2 > 0);
        // Every instance rotates in each cluster (the last may be cut off
        // by the end of the run): the cluster is the fleet.
        assert!(rot.2 <= u64::from(scenario.instances()), "{rot:?}");
    }
    for rot in &rotations[..rotations.len() - 1] {
        assert_eq!(rot.2, u64::from(scenario.instances()), "{rot:?}");
    }
    // The rotations are once per lifetime (minus the 10 s expiry delta) from
    // the instances' start, within the start spread.
    let spread = scenario.start_spread().as_secs_f64();
    for (k, rot) in rotations.iter().enumerate() {
        let n = (k + 1) as f64;
        let due = n * (lifetime - 10.0);
        assert!(rot.0 >= due - 5.0, "rotation {k} at {rot:?}, due {due}");
        assert!(rot.1 <= due + spread + 5.0, "rotation {k} at {rot:?}");
    }
    assert_eq!(
        bursts.iter().map(|c| c.2).sum::<u64>(),
        b.would_be_401s,
        "every would-be 401 is in a burst"
    );
}

#[test]
fn thundering_herd_jitter_cuts_the_peak_at_rotation_twentyfold() {
    let scenario = Scenario::thundering_herd();
    let report = run(&scenario);
    eprintln!("{}", report.to_markdown());
    let jittered = stack(&report, "freshen");
    let unjittered = stack(&report, "freshen, no jitter");
    // The baseline is freshen itself with `Policy::builder().jitter(0.0)`:
    // the same machine, only the jitter differs.
    assert!(
        jittered.peak_refresh_calls_per_sec * 20 <= unjittered.peak_refresh_calls_per_sec,
        "peak at rotation {} with jitter vs {} without",
        jittered.peak_refresh_calls_per_sec,
        unjittered.peak_refresh_calls_per_sec
    );
    // ...and against the baselines, which have no jitter either.
    for label in ["lazy cache (x/oauth2)", "double cache (seed)"] {
        let s = stack(&report, label);
        assert!(jittered.peak_refresh_calls_per_sec * 20 <= s.peak_refresh_calls_per_sec);
    }
    // Without jitter the herd stays a herd: over a quarter of the fleet in
    // one second.
    assert!(unjittered.peak_refresh_calls_per_sec > scenario.instances() / 4);
    // The start-up burst is the same for everyone (one fetch per instance).
    assert!(jittered.peak_calls_per_sec > scenario.instances() / 4);
    // Jitter costs no 401s and no waits.
    for s in [jittered, unjittered] {
        assert_eq!(s.would_be_401s, 0);
        assert_eq!(s.waited_at_rotation, 0);
        assert_eq!(s.errors, 0);
    }
}
