//! One test (or a few) per rule of the design document (docs/design.md),
//! named after the rule.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use core::time::Duration;
use std::sync::Arc;

use freshen_core::{
    AttemptId, Decision, Error, ErrorCode, ErrorKind, Event, Fetched, Instant, Machine, OAuthError,
    Phase, Policy, PolicyError, RefreshReason, Ticket, Token,
};

const S: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);

fn at(secs: u64) -> Instant {
    Instant::from_secs(secs)
}

fn fetched(token: &str, lifetime: Duration) -> Fetched {
    Fetched::new(token).with_lifetime(lifetime)
}

fn start(machine: &mut Machine, now: Instant) -> Ticket {
    match machine.decide(now) {
        Decision::RefreshAndWait(t) => t,
        other => panic!("expected RefreshAndWait, got {other:?}"),
    }
}

/// An attempt this test's machines never started: another machine's.
fn foreign_attempt() -> AttemptId {
    start(&mut Machine::new(Policy::default()), at(0)).id()
}

/// A machine holding `token` (lifetime `lifetime`) received at `now`, with
/// the jitter drawn at its lowest (refresh at exactly `expires_at - lead`).
fn holding(policy: Policy, token: &str, lifetime: Duration, now: Instant) -> (Machine, Arc<Token>) {
    let mut m = Machine::new(policy);
    let t = start(&mut m, now);
    let tok = m
        .on_success(t.id(), fetched(token, lifetime), now, now, 0)
        .unwrap()
        .unwrap();
    drain(&mut m);
    (m, tok)
}

fn drain(m: &mut Machine) -> Vec<Event> {
    std::iter::from_fn(|| m.poll_event()).collect()
}

fn oauth(code: &str) -> Error {
    let code = ErrorCode::parse(code);
    let err = OAuthError {
        code: code.clone(),
        description: None,
        uri: None,
        status: 400,
    };
    if code.is_transient() {
        Error::transient(ErrorKind::OAuth(err))
    } else {
        Error::permanent(ErrorKind::OAuth(err))
    }
}

// ---------------------------------------------------------------- timeline

#[test]
fn timeline_of_a_one_hour_token_follows_the_defaults() {
    let p = Policy::default();
    let lo = p.schedule(at(0), HOUR, None, 0);
    let hi = p.schedule(at(0), HOUR, None, u64::MAX);
    assert_eq!(lo.expires_at, at(3600));
    assert_eq!(lo.usable_until, at(3600 - 60), "margin 60 s");
    assert_eq!(lo.lead, 20 * 60 * S, "lead min(L/2, 20 min)");
    assert_eq!(
        lo.refresh_at,
        at(3600 - 20 * 60),
        "jitter 0: expires_at - lead"
    );
    assert!(
        hi.refresh_at <= at(3600 - 16 * 60),
        "jitter max: expires_at - 0.8 lead"
    );
    assert!(hi.refresh_at > at(3600 - 17 * 60));
}

#[test]
fn timeline_margin_is_clamped_to_a_quarter_of_short_lifetimes() {
    let p = Policy::default();
    let s = p.schedule(at(0), 20 * S, None, 0);
    assert_eq!(s.usable_until, at(15), "margin min(60 s, L/4) = 5 s");
    assert!(s.refresh_at >= at(0) && s.refresh_at < s.usable_until);
}

#[test]
fn timeline_lead_is_at_least_margin_plus_30s_where_the_lifetime_allows() {
    let p = Policy::default();
    // L = 2 min: margin 30 s, L/2 = 60 s = margin + 30 s.
    assert_eq!(p.lead_for(120 * S), 60 * S);
    // L = 100 s: margin 25 s, L/2 = 50 s < margin + 30 s = 55 s.
    assert_eq!(p.lead_for(100 * S), 55 * S);
    // L = 10 min: margin 60 s, L/2 = 5 min already above 90 s.
    assert_eq!(p.lead_for(600 * S), 300 * S);
    // L = 20 s: margin 5 s; 35 s does not fit, so lead stops at L - margin.
    assert_eq!(p.lead_for(20 * S), 15 * S);
}

#[test]
fn timeline_round_trip_counts_against_the_token() {
    let (m, tok) = {
        let mut m = Machine::new(Policy::default());
        let t = start(&mut m, at(0));
        // Sent at 0, answered 5 s later: the token expires at 3600, not 3605.
        let tok = m
            .on_success(t.id(), fetched("a", HOUR), at(0), at(5), 0)
            .unwrap()
            .unwrap();
        (m, tok)
    };
    assert_eq!(tok.expires_at(), at(3600));
    drop(m);
}

#[test]
fn timeline_server_refresh_in_hint_wins_when_earlier() {
    let p = Policy::default();
    let s = p.schedule(at(0), 24 * HOUR, Some(HOUR), u64::MAX);
    assert_eq!(s.refresh_at, at(3600));
    let late_hint = p.schedule(at(0), HOUR, Some(HOUR), 0);
    assert_eq!(
        late_hint.refresh_at,
        at(2400),
        "a later hint does not delay refresh"
    );
}

#[test]
fn timeline_jitter_spreads_a_fleet_started_in_one_second() {
    let p = Policy::default();
    let mut points: Vec<u64> = (0..1000u64)
        .map(|i| {
            let r = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            p.schedule(at(0), HOUR, None, r).refresh_at.as_nanos()
        })
        .collect();
    points.sort_unstable();
    let spread = Duration::from_nanos(points[999] - points[0]);
    assert!(
        spread > 200 * S,
        "refreshes spread over minutes, got {spread:?}"
    );
}

#[test]
fn policy_refuses_configs_that_cannot_work() {
    assert!(matches!(
        Policy::builder().margin(30 * 60 * S).build(),
        Err(PolicyError::MarginNotBelowLead { .. })
    ));
    assert_eq!(
        Policy::builder().jitter(1.0).build(),
        Err(PolicyError::JitterOutOfRange)
    );
    assert_eq!(
        Policy::builder().attempt_timeout(Duration::ZERO).build(),
        Err(PolicyError::Zero("attempt_timeout"))
    );
    assert!(matches!(
        Policy::builder().backoff_initial(120 * S).build(),
        Err(PolicyError::BackoffInitialAboveCap { .. })
    ));
    let p = Policy::builder()
        .margin(10 * S)
        .jitter(0.5)
        .build()
        .unwrap();
    assert_eq!(p.margin(), 10 * S);
    assert!(!PolicyError::JitterOutOfRange.to_string().is_empty());
}

#[test]
fn policy_default_lifetime_applies_when_the_response_has_none() {
    let mut m = Machine::new(Policy::default());
    let t = start(&mut m, at(0));
    let tok = m
        .on_success(t.id(), Fetched::new("no-expiry"), at(0), at(0), 0)
        .unwrap()
        .unwrap();
    assert_eq!(tok.expires_at(), at(0) + freshen_core::DEFAULT_LIFETIME);
}

// ------------------------------------------------------- rule 1: one layer

#[test]
fn rule_1_same_token_back_is_no_progress_not_success() {
    let (mut m, old) = holding(Policy::default(), "cached", HOUR, at(0));
    let t = match m.decide(at(2500)) {
        Decision::ServeAndRefresh(_, t) => t,
        other => panic!("{other:?}"),
    };
    let got = m
        .on_success(t.id(), fetched("cached", 1100 * S), at(2500), at(2500), 7)
        .unwrap();
    // The waiters (none here) would still get the held token, and it keeps
    // its schedule: no new generation, same expiry.
    let served = got.unwrap();
    assert!(Arc::ptr_eq(&served, &old));
    assert_eq!(m.current().unwrap().expires_at(), at(3600));
    assert_eq!(m.failures(), 1);
    assert!(m.backoff_until().unwrap() <= at(2505));
    let events = drain(&mut m);
    assert!(
        events.iter().any(|e| matches!(e, Event::NoProgress { .. })),
        "{events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::RefreshSucceeded { .. }))
    );
}

#[test]
fn rule_1_new_token_expiring_no_later_is_no_progress() {
    let (mut m, old) = holding(Policy::default(), "a", HOUR, at(0));
    let Decision::ServeAndRefresh(_, t) = m.decide(at(2500)) else {
        panic!()
    };
    // A different string, but it dies at 3600 like the held one.
    m.on_success(t.id(), fetched("b", 1100 * S), at(2500), at(2500), 0)
        .unwrap()
        .unwrap();
    assert_eq!(m.current().unwrap().generation(), old.generation());
    assert!(
        drain(&mut m)
            .iter()
            .any(|e| matches!(e, Event::NoProgress { .. }))
    );
}

#[test]
fn rule_1_no_progress_when_nothing_usable_fails_the_waiters() {
    let (mut m, _) = holding(Policy::default(), "a", HOUR, at(0));
    let t = start(&mut m, at(3550)); // past usable_until (3540)
    let got = m
        .on_success(t.id(), fetched("a", 50 * S), at(3550), at(3550), 0)
        .unwrap();
    assert_eq!(got.unwrap_err().kind(), &ErrorKind::NoProgress);
}

// ------------------------------------------- rule 2: callers never block

#[test]
fn rule_2_callers_never_wait_while_a_usable_token_exists() {
    let (mut m, tok) = holding(Policy::default(), "a", HOUR, at(0));
    assert!(matches!(m.decide(at(10)), Decision::Serve(_)));
    let Decision::ServeAndRefresh(served, _ticket) = m.decide(at(2400)) else {
        panic!()
    };
    assert!(Arc::ptr_eq(&served, &tok));
    // The refresh is in flight and slow: every caller in the stale window
    // is still served at once.
    for s in 2400..3540 {
        match m.decide(at(s)) {
            Decision::Serve(t) => assert!(Arc::ptr_eq(&t, &tok)),
            other => panic!("caller at {s} s got {other:?}"),
        }
    }
    assert!(matches!(m.decide(at(3540)), Decision::Wait { .. }));
}

// ---------------------------------------------------- rule 3: single flight

#[test]
fn rule_3_single_flight_every_waiter_gets_the_same_outcome() {
    let mut m = Machine::new(Policy::default());
    let t = start(&mut m, at(0));
    for _ in 0..1000 {
        match m.decide(at(1)) {
            Decision::Wait { attempt, .. } => assert_eq!(attempt, t.id()),
            other => panic!("{other:?}"),
        }
    }
    let err = Error::transient(ErrorKind::Transport("connection refused".into()));
    let out = m.on_failure(t.id(), err.clone(), at(2), 0).unwrap();
    assert!(out.unwrap_err().same_as(&err), "waiters share one error");
}

#[test]
fn rule_3_late_and_duplicate_outcomes_are_ignored() {
    let mut m = Machine::new(Policy::default());
    let t = start(&mut m, at(0));
    let id = t.id();
    assert!(
        m.on_success(id, fetched("a", HOUR), at(0), at(1), 0)
            .is_some()
    );
    assert!(
        m.on_success(id, fetched("b", HOUR), at(0), at(2), 0)
            .is_none()
    );
    assert!(
        m.on_failure(id, oauth("invalid_client"), at(3), 0)
            .is_none()
    );
    assert!(m.on_timeout(id, at(4), 0).is_none());
    assert!(
        m.on_success(foreign_attempt(), fetched("c", HOUR), at(0), at(5), 0)
            .is_none()
    );
    assert_eq!(m.current().unwrap().secret(), "a");
}

// -------------------------------------------------------- rule 4: timeout

#[test]
fn rule_4_every_attempt_times_out_after_30s_by_default() {
    let mut m = Machine::new(Policy::default());
    let t = start(&mut m, at(0));
    assert_eq!(t.deadline(), at(30));
    assert_eq!(m.next_wakeup(), Some(at(30)));
    assert!(m.poll_timers(at(29), 0).timed_out.is_none());
    let timers = m.poll_timers(at(30), 0);
    let (id, res) = timers.timed_out.unwrap();
    assert_eq!(id, t.id());
    assert!(matches!(res.unwrap_err().kind(), ErrorKind::Timeout { .. }));
    // The hung attempt's late answer is ignored; the cache is not wedged.
    assert!(
        m.on_success(t.id(), fetched("late", HOUR), at(0), at(40), 0)
            .is_none()
    );
    let t2 = start(&mut m, at(40));
    assert_ne!(t2.id(), t.id());
}

#[test]
fn attempt_timeout_ignores_short_lifetimes() {
    // Issue 8, defect 9: with 15 s tokens a hung endpoint held callers for
    // the full 30 s. The timeout is a quarter of the lead (11.25 s here:
    // L/2 raised towards margin + 30 s as far as L - margin allows).
    let (mut m, tok) = holding(Policy::default(), "a", 15 * S, at(0));
    assert_eq!(tok.schedule().lead, Duration::from_millis(11_250));
    let now = tok.usable_until();
    let t = start(&mut m, now);
    assert_eq!(t.deadline(), now + Duration::from_micros(2_812_500));
    let (_, res) = m.poll_timers(t.deadline(), 0).timed_out.unwrap();
    match res.unwrap_err().kind() {
        ErrorKind::Timeout { after } => assert_eq!(*after, Duration::from_micros(2_812_500)),
        other => panic!("{other:?}"),
    }
    // Never below one second, never above the ceiling.
    let p = Policy::default();
    assert_eq!(p.attempt_timeout_for(Some(S)), S);
    assert_eq!(p.attempt_timeout_for(Some(20 * 60 * S)), 30 * S);
    assert_eq!(p.attempt_timeout_for(None), 30 * S);
    let tight = Policy::builder().attempt_timeout(S / 2).build().unwrap();
    assert_eq!(tight.attempt_timeout_for(Some(HOUR)), S / 2);
}

// -------------------------------------------------------- rule 5: failures

#[test]
fn rule_5_held_token_is_served_until_usable_until_through_failures() {
    let (mut m, tok) = holding(Policy::default(), "a", HOUR, at(0));
    let mut now = 2400;
    while now < 3540 {
        match m.decide(at(now)) {
            Decision::Serve(t) => assert!(Arc::ptr_eq(&t, &tok)),
            Decision::ServeAndRefresh(t, ticket) => {
                assert!(Arc::ptr_eq(&t, &tok));
                let res = m.on_failure(
                    ticket.id(),
                    Error::transient(ErrorKind::Status { status: 503 }),
                    at(now),
                    u64::MAX / 2,
                );
                assert!(
                    Arc::ptr_eq(&res.unwrap().unwrap(), &tok),
                    "waiters get the held token"
                );
            }
            other => panic!("at {now}: {other:?}"),
        }
        now += 1;
    }
    assert!(!matches!(
        m.decide(at(3540)),
        Decision::Serve(_) | Decision::ServeAndRefresh(..)
    ));
}

#[test]
fn rule_5_backoff_is_exponential_with_full_jitter_and_capped() {
    let p = Policy::default();
    let lead = Some(20 * 60 * S);
    assert_eq!(p.backoff_ceiling(1, lead, false, None), 5 * S);
    assert_eq!(p.backoff_ceiling(2, lead, false, None), 10 * S);
    assert_eq!(p.backoff_ceiling(4, lead, false, None), 40 * S);
    assert_eq!(p.backoff_ceiling(5, lead, false, None), 60 * S, "cap 60 s");
    assert_eq!(
        p.backoff_ceiling(u32::MAX, lead, false, None),
        60 * S,
        "saturates"
    );
    // Cap min(60 s, lead/10): a 60 s token has lead 45 s, so cap 4.5 s.
    assert_eq!(
        p.backoff_ceiling(9, Some(45 * S), false, None),
        4500 * Duration::from_millis(1)
    );
    // Full jitter: anywhere in [0, ceiling].
    assert_eq!(p.backoff_delay(3, lead, false, None, 0), Duration::ZERO);
    assert!(p.backoff_delay(3, lead, false, None, u64::MAX) <= 20 * S);
    assert!(p.backoff_delay(3, lead, false, None, u64::MAX) > 19 * S);
}

#[test]
fn rule_5_backoff_resets_on_success() {
    let mut m = Machine::new(Policy::default());
    for i in 0..4u64 {
        let now = at(i * 100);
        let t = start(&mut m, now);
        let _ = m.on_failure(
            t.id(),
            Error::transient(ErrorKind::Status { status: 502 }),
            now,
            u64::MAX,
        );
    }
    assert_eq!(m.failures(), 4);
    let t = start(&mut m, at(1000));
    m.on_success(t.id(), fetched("a", HOUR), at(1000), at(1000), 0)
        .unwrap()
        .unwrap();
    assert_eq!(m.failures(), 0);
    assert_eq!(m.backoff_until(), None);
}

#[test]
fn rule_5_while_expired_the_last_error_is_returned_at_once_during_backoff() {
    let mut m = Machine::new(Policy::default());
    let t = start(&mut m, at(0));
    let err = Error::transient(ErrorKind::Status { status: 503 });
    let _ = m.on_failure(t.id(), err.clone(), at(0), u64::MAX);
    let until = m.backoff_until().unwrap();
    assert!(until > at(0));
    // A request storm during the backoff: all fail fast, no new attempt.
    for _ in 0..10_000 {
        match m.decide(at(0)) {
            Decision::Fail(e) => assert!(e.same_as(&err)),
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(m.decide(until), Decision::RefreshAndWait(_)));
}

#[test]
fn rule_5_retry_after_from_the_server_is_honoured() {
    let mut m = Machine::new(Policy::default());
    let t = start(&mut m, at(0));
    let err = Error::transient(ErrorKind::Status { status: 429 }).with_retry_after(120 * S);
    let _ = m.on_failure(t.id(), err, at(0), 0);
    assert_eq!(m.backoff_until(), Some(at(120)));
}

#[test]
fn rule_5_permanent_errors_reach_callers_at_once_slow_retries_but_never_stop() {
    let (mut m, _) = holding(Policy::default(), "a", HOUR, at(0));
    let ok = m.invalidate(m.current().unwrap().generation());
    assert!(ok);
    let mut now = at(10);
    let mut attempts = 0;
    // An hour of invalid_client: every attempt fails at once for its
    // waiters; retries come no faster than half the cap, and keep coming.
    while now < at(3610) {
        match m.decide(now) {
            Decision::RefreshAndWait(t) => {
                attempts += 1;
                let res = m.on_failure(t.id(), oauth("invalid_client"), now, now.as_nanos());
                assert!(res.unwrap().unwrap_err().is_permanent());
                let wait = m.backoff_until().unwrap().saturating_duration_since(now);
                assert!(wait >= 30 * S && wait <= 60 * S, "{wait:?}");
            }
            Decision::Fail(e) => assert!(e.is_permanent()),
            other => panic!("{other:?}"),
        }
        now = now + S;
    }
    assert!(
        (60..=121).contains(&attempts),
        "{attempts} attempts in an hour"
    );
    // The operator fixes the secret: the next attempt after the backoff succeeds.
    let until = m.backoff_until().unwrap();
    let t = start(&mut m, until);
    assert!(
        m.on_success(t.id(), fetched("fixed", HOUR), until, until, 0)
            .unwrap()
            .is_ok()
    );
}

// ------------------------------------------- rule 6: past expiry, opt-in

#[test]
fn rule_6_serving_past_expiry_is_off_by_default() {
    let (mut m, _) = holding(Policy::default(), "a", HOUR, at(0));
    assert!(matches!(m.decide(at(3540)), Decision::RefreshAndWait(_)));
}

#[test]
fn rule_6_serving_past_expiry_when_opted_in_is_bounded_by_the_grace() {
    let p = Policy::builder()
        .serve_expired_for(120 * S)
        .build()
        .unwrap();
    let (mut m, tok) = holding(p, "a", HOUR, at(0));
    let Decision::ServeAndRefresh(t, ticket) = m.decide(at(3550)) else {
        panic!()
    };
    assert!(Arc::ptr_eq(&t, &tok));
    let _ = m.on_failure(
        ticket.id(),
        Error::transient(ErrorKind::Status { status: 503 }),
        at(3550),
        0,
    );
    assert!(matches!(
        m.decide(at(3600)),
        Decision::Serve(_) | Decision::ServeAndRefresh(..)
    ));
    assert!(
        drain(&mut m)
            .iter()
            .any(|e| matches!(e, Event::ServedExpired { .. }))
    );
    assert!(!matches!(
        m.decide(at(3660)),
        Decision::Serve(_) | Decision::ServeAndRefresh(..)
    ));
}

// --------------------------------------------- rule 7: invalidation by generation

#[test]
fn rule_7_invalidation_names_the_token_and_a_late_401_cannot_evict_a_newer_one() {
    let (mut m, old) = holding(Policy::default(), "a", HOUR, at(0));
    assert!(m.invalidate(old.generation()));
    assert!(
        !m.invalidate(old.generation()),
        "second invalidation of the same token"
    );
    assert!(
        m.current().is_none(),
        "an invalidated token is never served"
    );
    let t = start(&mut m, at(5));
    let new = m
        .on_success(t.id(), fetched("b", HOUR), at(5), at(5), 0)
        .unwrap()
        .unwrap();
    assert!(new.generation() > old.generation());
    // A request that used the old token comes back 401 late.
    assert!(!m.invalidate(old.generation()));
    assert!(matches!(m.decide(at(6)), Decision::Serve(t) if Arc::ptr_eq(&t, &new)));
}

#[test]
fn invalidation_is_scoped_to_its_cache() {
    // Issue 8, defect 4: generations restarted at 0 in every machine, so
    // b.invalidate(token of a) evicted b's token.
    let (mut a, tok_a) = holding(Policy::default(), "a", HOUR, at(0));
    let (mut b, tok_b) = holding(Policy::default(), "b", HOUR, at(0));
    assert_eq!(tok_a.generation().number(), tok_b.generation().number());
    assert_ne!(tok_a.generation(), tok_b.generation());
    assert!(!tok_a.generation().same_cache(tok_b.generation()));
    assert!(!b.invalidate(tok_a.generation()), "a's token evicted b's");
    assert!(matches!(b.decide(at(1)), Decision::Serve(t) if Arc::ptr_eq(&t, &tok_b)));
    assert!(drain(&mut b).is_empty());
    assert!(a.invalidate(tok_a.generation()));
}

#[test]
fn rule_7_invalidation_waits_for_a_different_token() {
    let (mut m, old) = holding(Policy::default(), "a", HOUR, at(0));
    assert!(m.invalidate(old.generation()));
    let t = start(&mut m, at(5));
    // The source hands the revoked token back: not progress.
    let res = m
        .on_success(t.id(), fetched("a", HOUR), at(5), at(5), 0)
        .unwrap();
    assert_eq!(res.unwrap_err().kind(), &ErrorKind::NoProgress);
    // A different token with an earlier expiry is progress after a 401.
    let until = m.backoff_until().unwrap();
    let t = start(&mut m, until);
    let got = m
        .on_success(t.id(), fetched("b", 1800 * S), until, until, 0)
        .unwrap();
    assert_eq!(got.unwrap().secret(), "b");
}

// ------------------------------------------------- rule 8: the read path

#[test]
fn rule_8_the_published_token_answers_fresh_by_itself() {
    let (mut m, _) = holding(Policy::default(), "a", HOUR, at(0));
    // What a driver publishes to its lock-free read path decides fresh
    // exactly as the machine does, with no call into the machine.
    let published = Arc::clone(m.current().unwrap());
    for s in (0..3600).step_by(7) {
        let fast = published.phase(at(s)) == Phase::Fresh;
        let slow = matches!(m.decide(at(s)), Decision::Serve(_));
        if fast {
            assert!(slow, "fast path served at {s} s but the machine would not");
        }
    }
}

// ----------------------------------------------------- rule 9: prefetch

#[test]
fn rule_9_prefetch_refreshes_at_refresh_at_with_no_traffic() {
    let p = Policy::builder().prefetch(true).build().unwrap();
    let (mut m, tok) = holding(p, "a", HOUR, at(0));
    assert_eq!(m.next_wakeup(), Some(tok.refresh_at()));
    assert!(m.poll_timers(tok.refresh_at() - S, 0).start.is_none());
    let ticket = m.poll_timers(tok.refresh_at(), 0).start.unwrap();
    assert_eq!(ticket.started(), tok.refresh_at());
    let events = drain(&mut m);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::RefreshStarted {
            reason: RefreshReason::Prefetch,
            ..
        }
    )));
}

#[test]
fn rule_9_without_prefetch_there_is_nothing_to_wake_for() {
    let (m, _) = holding(Policy::default(), "a", HOUR, at(0));
    assert_eq!(m.next_wakeup(), None);
}

// ------------------------------------------------ rule 10: observability

#[test]
fn rule_10_events_tell_the_story_of_a_rotation() {
    let (mut m, old) = holding(Policy::default(), "a", HOUR, at(0));
    let Decision::ServeAndRefresh(_, t) = m.decide(at(2400)) else {
        panic!()
    };
    let _ = m.on_failure(
        t.id(),
        Error::transient(ErrorKind::Status { status: 500 }),
        at(2401),
        0,
    );
    let Decision::ServeAndRefresh(_, t) = m.decide(at(2402)) else {
        panic!()
    };
    m.on_success(t.id(), fetched("b", HOUR), at(2402), at(2403), 0)
        .unwrap()
        .unwrap();
    m.invalidate(m.current().unwrap().generation());
    let events = drain(&mut m);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            Event::RefreshStarted { .. } => "started",
            Event::RefreshSucceeded { .. } => "succeeded",
            Event::RefreshFailed { .. } => "failed",
            Event::NoProgress { .. } => "no progress",
            Event::ServedStale { .. } => "served stale",
            Event::ServedExpired { .. } => "served expired",
            Event::Invalidated { .. } => "invalidated",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "served stale",
            "started",
            "failed",
            "started",
            "succeeded",
            "invalidated"
        ]
    );
    let left = events.iter().find_map(|e| match e {
        Event::RefreshSucceeded { left_on_old, .. } => *left_on_old,
        _ => None,
    });
    assert_eq!(
        left,
        Some(old.expires_at().saturating_duration_since(at(2403)))
    );
}

// ---------------------------------------------------- rule 11: secrets

#[test]
fn rule_11_secrets_never_appear_in_debug_or_display() {
    let secret = "eyJhbGciOi-super-secret-access-token";
    let mut m = Machine::new(Policy::default());
    let t = start(&mut m, at(0));
    let f = fetched(secret, HOUR);
    let shown_fetched = format!("{f:?}");
    let tok = m.on_success(t.id(), f, at(0), at(0), 0).unwrap().unwrap();
    let d = m.decide(at(1));
    let events = drain(&mut m);
    let everything = format!("{shown_fetched} {tok:?} {d:?} {events:?} {m:?}");
    assert!(!everything.contains(secret), "{everything}");
    assert!(!everything.contains("super-secret"));
    assert_eq!(tok.secret(), secret, "the wire still gets it");
}
