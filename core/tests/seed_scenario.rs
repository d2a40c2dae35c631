//! The seed, reproduced: a refresh-ahead cache wrapped around a source that
//! caches too (it hands back its previous token until 10 s before that token
//! expires), beside a well-behaved source. Virtual time, one call a second,
//! three simulated hours.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use core::time::Duration;

use freshen_core::{Decision, Event, Fetched, Instant, Machine, Policy, Ticket};

const LIFETIME: Duration = Duration::from_secs(3600);
const RTT: Duration = Duration::from_millis(150);

/// A token source in virtual time.
trait Source {
    fn fetch(&mut self, now: Instant) -> Fetched;
}

/// Goes to the network every time: a new token with the full lifetime.
struct WellBehaved {
    minted: u64,
}

impl Source for WellBehaved {
    fn fetch(&mut self, _now: Instant) -> Fetched {
        self.minted += 1;
        Fetched::new(format!("tok-{}", self.minted)).with_lifetime(LIFETIME)
    }
}

/// An inner cache (like x/oauth2's ReuseTokenSource): returns its token
/// until `let_go` before it expires, reporting the lifetime left.
struct InnerCache {
    let_go: Duration,
    held: Option<(String, Instant)>,
    minted: u64,
}

impl Source for InnerCache {
    fn fetch(&mut self, now: Instant) -> Fetched {
        match &self.held {
            Some((tok, exp)) if now < *exp - self.let_go => {
                Fetched::new(tok.clone()).with_lifetime(exp.saturating_duration_since(now))
            }
            _ => {
                self.minted += 1;
                let tok = format!("inner-{}", self.minted);
                self.held = Some((tok.clone(), now + LIFETIME));
                Fetched::new(tok).with_lifetime(LIFETIME)
            }
        }
    }
}

#[derive(Debug, Default)]
struct Report {
    /// Every attempt, with the instant it started.
    attempts: Vec<Instant>,
    no_progress: usize,
    /// Calls that got an error instead of a token.
    failed_calls: usize,
    /// Calls handed a token with less than the margin left (would-be 401s
    /// for a request in flight).
    dying_tokens_served: usize,
    /// Life left on the old token at each successful rotation.
    left_at_rotation: Vec<Duration>,
    /// (backoff ceiling, actual gap) between consecutive failed attempts.
    gaps: Vec<(Duration, Duration)>,
}

fn simulate(source: &mut dyn Source, hours: u64, seed: u64) -> Report {
    let policy = Policy::default();
    let mut m = Machine::new(policy.clone());
    let mut report = Report::default();
    let mut rng = seed;
    let mut next_random = move || {
        rng = rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut run = |m: &mut Machine, ticket: Ticket, report: &mut Report, random: u64| {
        let now = ticket.started();
        report.attempts.push(now);
        let fetched = source.fetch(now + RTT / 2);
        let _ = m.on_success(ticket.id(), fetched, now, now + RTT, random);
    };
    let mut last_failed_attempt: Option<(Instant, u32)> = None;
    for s in 0..hours * 3600 {
        let now = Instant::from_secs(s);
        match m.decide(now) {
            Decision::Serve(t) => {
                if t.expires_at().saturating_duration_since(now) < Duration::from_secs(60) {
                    report.dying_tokens_served += 1;
                }
            }
            Decision::ServeAndRefresh(t, ticket) => {
                if t.expires_at().saturating_duration_since(now) < Duration::from_secs(60) {
                    report.dying_tokens_served += 1;
                }
                run(&mut m, ticket, &mut report, next_random());
            }
            Decision::RefreshAndWait(ticket) => {
                run(&mut m, ticket, &mut report, next_random());
                // The caller waits for the attempt (instant here) and gets its outcome.
                if !matches!(
                    m.decide(now + RTT),
                    Decision::Serve(_) | Decision::ServeAndRefresh(..)
                ) {
                    report.failed_calls += 1;
                }
            }
            Decision::Wait { .. } => unreachable!("attempts resolve within the call"),
            Decision::Fail(_) => report.failed_calls += 1,
        }
        while let Some(e) = m.poll_event() {
            match e {
                Event::NoProgress { .. } => {
                    report.no_progress += 1;
                    let at = *report.attempts.last().unwrap();
                    if let Some((prev, failures)) = last_failed_attempt {
                        let ceiling = policy.backoff_ceiling(
                            failures,
                            Some(Duration::from_secs(1200)),
                            false,
                            None,
                        );
                        report
                            .gaps
                            .push((ceiling, at.saturating_duration_since(prev)));
                    }
                    last_failed_attempt = Some((at, m.failures()));
                }
                Event::RefreshSucceeded {
                    left_on_old: Some(left),
                    ..
                } => {
                    report.left_at_rotation.push(left);
                    last_failed_attempt = None;
                }
                _ => {}
            }
        }
    }
    eprintln!(
        "attempts {}, no progress {}, failed calls {}, dying tokens served {}, left at rotation {:?}",
        report.attempts.len(),
        report.no_progress,
        report.failed_calls,
        report.dying_tokens_served,
        report.left_at_rotation
    );
    report
}

#[test]
fn well_behaved_source_one_attempt_per_rotation_and_never_a_dying_token() {
    let r = simulate(&mut WellBehaved { minted: 0 }, 3, 1);
    assert_eq!(r.no_progress, 0);
    assert_eq!(r.failed_calls, 0);
    assert_eq!(r.dying_tokens_served, 0);
    // Lifetime 1 h, refresh 40–44 min in: 1 initial fetch + 4 rotations in 3 h.
    assert_eq!(r.attempts.len(), 5, "{:?}", r.attempts);
    for left in &r.left_at_rotation {
        assert!(
            *left >= Duration::from_secs(16 * 60),
            "rotated with only {left:?} left"
        );
    }
}

#[test]
fn seed_inner_cache_is_reported_as_no_progress_and_attempts_follow_the_backoff() {
    let mut inner = InnerCache {
        let_go: Duration::from_secs(10),
        held: None,
        minted: 0,
    };
    let r = simulate(&mut inner, 3, 1);

    // freshen notices the inner cache instead of counting its echoes as
    // successes, and never hands out a token that would die in flight.
    assert!(r.no_progress > 0);
    assert_eq!(
        r.dying_tokens_served, 0,
        "no token with < 60 s left is ever served"
    );

    // Attempts stay within the backoff schedule: no gap between two failed
    // attempts exceeds its ceiling (plus the 1 s between calls)...
    for (ceiling, gap) in &r.gaps {
        assert!(
            *gap <= *ceiling + Duration::from_secs(1),
            "gap {gap:?} > ceiling {ceiling:?}"
        );
    }
    // ...and the attempts in the first simulated hour are bounded: from the
    // refresh point (~40 min) to the let-go (59:50) at most one per second of
    // full-jitter luck, and in practice one per ~30 s (the mean at the cap).
    let first_hour = r
        .attempts
        .iter()
        .filter(|a| **a < Instant::from_secs(3600))
        .count();
    let window = 20 * 60;
    assert!(
        first_hour <= window / 10,
        "{first_hour} attempts in the first hour"
    );
    assert!(
        first_hour >= window / 61,
        "{first_hour} attempts: refresh gave up?"
    );

    // Once the inner cache lets go (10 s before expiry), the new token is
    // picked up within one backoff cap; the rotation happened with seconds
    // left, which is what the left-at-rotation metric exposes.
    assert!(!r.left_at_rotation.is_empty());
    for left in &r.left_at_rotation {
        assert!(
            *left <= Duration::from_secs(10),
            "left {left:?}: the inner cache decides"
        );
    }
    // Between usable_until (expiry - 60 s) and the let-go, callers fail fast
    // with NoProgress rather than carry a dying token: at most ~50 s (+ one
    // cap) of errors per rotation, each one returned at once.
    let rotations = r.left_at_rotation.len();
    assert!(
        r.failed_calls <= rotations * (50 + 61),
        "{} failed calls",
        r.failed_calls
    );
}

#[test]
fn seed_inner_cache_that_lets_go_before_usable_until_is_picked_up_in_time() {
    // The same wrapped stack, but the inner cache lets go 5 min before
    // expiry: freshen's retries (capped at 60 s) land the real refresh before
    // usable_until, so no caller ever waits or fails.
    let mut inner = InnerCache {
        let_go: Duration::from_secs(300),
        held: None,
        minted: 0,
    };
    let r = simulate(&mut inner, 3, 7);
    assert!(r.no_progress > 0);
    assert_eq!(r.failed_calls, 0);
    assert_eq!(r.dying_tokens_served, 0);
    for left in &r.left_at_rotation {
        assert!(
            *left > Duration::from_secs(60),
            "landed after usable_until: {left:?} left"
        );
        assert!(*left <= Duration::from_secs(300));
    }
}
