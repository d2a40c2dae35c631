//! Property tests over random sequences of calls, outcomes and time steps.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use core::time::Duration;

use freshen_core::{
    AttemptId, Decision, Error, ErrorKind, Fetched, Generation, Instant, Machine, Policy,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    /// Time moves on by this many nanoseconds (any u64).
    Advance(u64),
    /// A caller asks for a token.
    Call,
    /// The attempt in flight (or a stale one) succeeds.
    Succeed {
        stale_id: bool,
        same_token: bool,
        lifetime_secs: Option<u64>,
        refresh_in_secs: Option<u64>,
        sent_back_nanos: u64,
        random: u64,
    },
    /// The attempt in flight (or a stale one) fails.
    Fail {
        stale_id: bool,
        permanent: bool,
        retry_after_secs: Option<u64>,
        random: u64,
    },
    /// A driver's timer reports the attempt timed out.
    TimeOut { random: u64 },
    /// A driver wakes the machine for its timers.
    PollTimers { random: u64 },
    /// A 401 for the current generation or an older one.
    Invalidate { back: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    let advance = prop_oneof![
        (0u64..2_000_000_000).prop_map(Op::Advance),
        (0u64..4_000_000_000_000).prop_map(Op::Advance),
        any::<u64>().prop_map(Op::Advance),
    ];
    let lifetime = prop_oneof![
        Just(None),
        (0u64..7200).prop_map(Some),
        any::<u64>().prop_map(Some),
    ];
    prop_oneof![
        3 => advance,
        4 => Just(Op::Call),
        2 => (any::<bool>(), any::<bool>(), lifetime, proptest::option::of(any::<u64>()), 0u64..5_000_000_000, any::<u64>())
            .prop_map(|(s, same, l, r, back, random)| Op::Succeed {
                stale_id: s && same,
                same_token: same && random % 3 == 0,
                lifetime_secs: l,
                refresh_in_secs: r,
                sent_back_nanos: back,
                random,
            }),
        2 => (any::<bool>(), any::<bool>(), proptest::option::of(prop_oneof![0u64..600, any::<u64>()]), any::<u64>())
            .prop_map(|(s, p, ra, random)| Op::Fail { stale_id: s && p, permanent: p, retry_after_secs: ra, random }),
        1 => any::<u64>().prop_map(|random| Op::TimeOut { random }),
        1 => any::<u64>().prop_map(|random| Op::PollTimers { random }),
        1 => (0u64..3).prop_map(|back| Op::Invalidate { back }),
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    (any::<bool>(), proptest::option::of(0u64..300)).prop_map(|(prefetch, grace)| {
        let mut b = Policy::builder().prefetch(prefetch);
        if let Some(g) = grace {
            b = b.serve_expired_for(Duration::from_secs(g));
        }
        b.build().unwrap()
    })
}

/// The id of an attempt started by another machine.
fn foreign_attempt(policy: &Policy) -> AttemptId {
    let mut other = Machine::new(policy.clone());
    match other.decide(Instant::ZERO) {
        Decision::RefreshAndWait(ticket) => ticket.id(),
        d => panic!("an empty machine starts an attempt: {d:?}"),
    }
}

/// Runs the ops and checks the invariants after each one.
fn run(policy: Policy, ops: Vec<Op>) {
    let mut m = Machine::new(policy.clone());
    let mut now = Instant::ZERO;
    let mut outstanding: Option<AttemptId> = None;
    // An id this machine never issued: an attempt of another machine.
    let stale = foreign_attempt(&policy);
    // Every generation the machine has made, oldest first: invalidations
    // name one of them (the current one or an older one).
    let mut generations: Vec<Generation> = Vec::new();
    let mut token_counter = 0u64;

    let issued = |id: AttemptId, outstanding: &mut Option<AttemptId>| {
        assert!(
            outstanding.is_none(),
            "a second attempt {id:?} while {outstanding:?} is in flight"
        );
        *outstanding = Some(id);
    };

    for op in ops {
        match op {
            Op::Advance(n) => now = now + Duration::from_nanos(n),
            Op::Call => {
                let current = m.current().cloned();
                let backoff_holds = m.backoff_until().is_some_and(|u| now < u);
                let decision = m.decide(now);
                match &decision {
                    Decision::Serve(t) | Decision::ServeAndRefresh(t, _) => {
                        let limit = match policy.serve_expired_for() {
                            None => t.usable_until(),
                            Some(g) => t.usable_until() + g,
                        };
                        assert!(
                            now < limit,
                            "served at {now:?}, usable until {:?}",
                            t.usable_until()
                        );
                    }
                    _ => {}
                }
                // Once refresh_at has passed, the first call starts a refresh
                // unless one is running or a backoff holds.
                if let Some(t) = current {
                    if now >= t.refresh_at() && outstanding.is_none() && !backoff_holds {
                        assert!(
                            matches!(
                                decision,
                                Decision::ServeAndRefresh(..) | Decision::RefreshAndWait(_)
                            ),
                            "no refresh started at {now:?} past refresh_at {:?}: {decision:?}",
                            t.refresh_at()
                        );
                    }
                }
                match decision {
                    Decision::ServeAndRefresh(_, ticket) | Decision::RefreshAndWait(ticket) => {
                        issued(ticket.id(), &mut outstanding)
                    }
                    Decision::Wait { attempt, .. } => assert_eq!(Some(attempt), outstanding),
                    Decision::Fail(_) => assert!(backoff_holds),
                    Decision::Serve(_) => {}
                }
            }
            Op::Succeed {
                stale_id,
                same_token,
                lifetime_secs,
                refresh_in_secs,
                sent_back_nanos,
                random,
            } => {
                let Some(id) = outstanding else { continue };
                let id = if stale_id { stale } else { id };
                let secret = match (same_token, m.current()) {
                    (true, Some(t)) => t.secret().to_owned(),
                    _ => {
                        token_counter += 1;
                        format!("tok-{token_counter}")
                    }
                };
                let mut f = Fetched::new(secret);
                if let Some(l) = lifetime_secs {
                    f = f.with_lifetime(Duration::from_secs(l));
                }
                if let Some(r) = refresh_in_secs {
                    f = f.with_refresh_in(Duration::from_secs(r));
                }
                let failures_before = m.failures();
                let sent = now - Duration::from_nanos(sent_back_nanos);
                let res = m.on_success(id, f, sent, now, random);
                if stale_id {
                    assert!(res.is_none(), "a stale outcome was taken");
                    continue;
                }
                if let Some(Ok(token)) = &res {
                    if generations.last() != Some(&token.generation()) {
                        generations.push(token.generation());
                    }
                }
                assert!(res.is_some());
                outstanding = None;
                if m.failures() > failures_before {
                    check_backoff(&m, &policy, now, false, None);
                }
            }
            Op::Fail {
                stale_id,
                permanent,
                retry_after_secs,
                random,
            } => {
                let Some(id) = outstanding else { continue };
                let id = if stale_id { stale } else { id };
                let kind = ErrorKind::Status { status: 503 };
                let mut e = if permanent {
                    Error::permanent(kind)
                } else {
                    Error::transient(kind)
                };
                let ra = retry_after_secs.map(Duration::from_secs);
                if let Some(ra) = ra {
                    e = e.with_retry_after(ra);
                }
                let res = m.on_failure(id, e, now, random);
                if stale_id {
                    assert!(res.is_none());
                    continue;
                }
                assert!(res.is_some());
                outstanding = None;
                check_backoff(&m, &policy, now, permanent, ra);
            }
            Op::TimeOut { random } => {
                let Some(id) = outstanding else { continue };
                assert!(m.on_timeout(id, now, random).is_some());
                outstanding = None;
                check_backoff(&m, &policy, now, false, None);
            }
            Op::PollTimers { random } => {
                let timers = m.poll_timers(now, random);
                if let Some((id, _)) = timers.timed_out {
                    assert_eq!(Some(id), outstanding);
                    outstanding = None;
                }
                if let Some(ticket) = timers.start {
                    assert!(policy.prefetch());
                    issued(ticket.id(), &mut outstanding);
                }
            }
            Op::Invalidate { back } => {
                let back = usize::try_from(back).unwrap_or(usize::MAX);
                if let Some(g) = generations.iter().rev().nth(back) {
                    let _ = m.invalidate(*g);
                }
            }
        }
        assert_eq!(
            m.in_flight(),
            outstanding,
            "the machine and the model agree on the attempt in flight"
        );
        while m.poll_event().is_some() {}
    }
}

/// The wait the machine chose after a failure stays within the policy's
/// bounds: no longer than the exponential ceiling for this many failures (the
/// cap for permanent errors), and no shorter than the server's Retry-After
/// (up to max_retry_after).
fn check_backoff(
    m: &Machine,
    policy: &Policy,
    now: Instant,
    permanent: bool,
    retry_after: Option<Duration>,
) {
    let until = m.backoff_until().expect("a failure starts a backoff");
    let wait = until.saturating_duration_since(now);
    // With no lead the cap is the configured one: the largest any lead gives.
    let ceiling = policy.backoff_ceiling(m.failures(), None, permanent, retry_after);
    assert!(wait <= ceiling, "waited {wait:?}, ceiling {ceiling:?}");
    let floor = retry_after
        .unwrap_or(Duration::ZERO)
        .min(Duration::from_secs(5 * 60));
    assert!(
        wait >= floor || until == Instant::MAX,
        "waited {wait:?}, server asked {floor:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn invariants_hold_over_random_sequences(policy in policy(), ops in proptest::collection::vec(op(), 1..200)) {
        run(policy, ops);
    }

    #[test]
    fn schedules_never_overflow_or_misorder(sent in any::<u64>(), lifetime in any::<u64>(), hint in proptest::option::of(any::<u64>()), random in any::<u64>()) {
        let p = Policy::default();
        let s = p.schedule(Instant::from_nanos(sent), Duration::from_secs(lifetime), hint.map(Duration::from_secs), random);
        prop_assert!(s.sent_at <= s.usable_until);
        prop_assert!(s.usable_until <= s.expires_at);
        prop_assert!(s.refresh_at <= s.expires_at);
        prop_assert!(s.refresh_at >= s.sent_at || hint.is_some());
    }

    #[test]
    fn backoff_delays_stay_within_the_ceiling(failures in any::<u32>(), lead in proptest::option::of(any::<u64>()), permanent in any::<bool>(), ra in proptest::option::of(any::<u64>()), random in any::<u64>()) {
        let p = Policy::default();
        let lead = lead.map(Duration::from_nanos);
        let ra = ra.map(Duration::from_nanos);
        let d = p.backoff_delay(failures.max(1), lead, permanent, ra, random);
        prop_assert!(d <= p.backoff_ceiling(failures.max(1), lead, permanent, ra));
        prop_assert!(d <= Duration::from_secs(5 * 60));
        if permanent {
            prop_assert!(d >= p.backoff_cap_for(lead) / 2);
        }
    }
}
