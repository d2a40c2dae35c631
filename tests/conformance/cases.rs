//! The cases, written once for every driver.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use freshen::{ErrorKind, Event, Policy};

use crate::drivers::{Driver, Got};
use crate::guard::{HANG_GUARD, Herd, within};
use crate::source::{Behaviour, TestSource};

const HOUR: Duration = Duration::from_secs(3600);

fn policy() -> Policy {
    Policy::default()
}

/// Settles until `done` holds, at most 50 times: background work on the
/// real-time drivers can take a few settles on a busy machine.
fn eventually<D: Driver>(d: &D, mut done: impl FnMut() -> bool) -> bool {
    (0..50).any(|_| {
        d.settle();
        done()
    })
}

fn secret(got: &crate::drivers::Got) -> String {
    got.as_ref().expect("a token").secret().to_owned()
}

/// `n` callers on `cache`, held until all of them wait inside `token()` on
/// the source's first call, which is held at its gate until then. A driver
/// that ran the callers one after another would never have them all waiting
/// at once, so the gate would open only when the guard gives up, and this
/// fails (see [`Herd`] for why).
fn overlapping_herd<D: Driver>(d: &D, cache: &D::Cache, src: &TestSource, n: usize) -> Vec<Got> {
    src.close_gate();
    let gate = src.clone();
    let herd = Herd::new(n, move || gate.open_gate());
    let results = d.herd(cache, &herd);
    assert!(
        herd.overlapped(),
        "{}: only {} of {n} callers were waiting inside token() at once",
        D::NAME,
        herd.waiting()
    );
    assert_eq!(results.len(), n);
    results
}

/// 10,000 concurrent callers on an empty cache cause exactly one fetch, and
/// all get the same token. All of them wait on that one fetch at once: it
/// is held until they do.
pub fn herd_on_empty_cache_causes_one_fetch<D: Driver>() {
    let d = D::new();
    let (src, _) = TestSource::new(HOUR);
    let cache = d.build(src.clone(), policy());
    let results = overlapping_herd(&d, &cache, &src, 10_000);
    assert_eq!(src.calls(), 1, "{}: fetches", D::NAME);
    let first = secret(&results[0]);
    for r in &results {
        assert_eq!(secret(r), first);
    }
}

/// ... or all get the same error (again all waiting on the one fetch at once).
pub fn herd_on_failing_source_shares_one_error<D: Driver>() {
    let d = D::new();
    let (src, _) = TestSource::new(HOUR);
    src.set(Behaviour::Fail);
    let cache = d.build(src.clone(), policy());
    let results = overlapping_herd(&d, &cache, &src, 10_000);
    assert_eq!(src.calls(), 1, "{}: fetches", D::NAME);
    let first = results[0].as_ref().expect_err("an error");
    assert_eq!(first.kind(), &ErrorKind::Status { status: 503 });
    for r in &results {
        assert!(
            r.as_ref().expect_err("an error").same_as(first),
            "{}",
            D::NAME
        );
    }
}

/// While the refresh of a stale token takes 5 s, no caller waits: all get the
/// held token at once.
pub fn slow_refresh_of_a_stale_token_blocks_no_caller<D: Driver>() {
    let d = D::new();
    let (src, _) = TestSource::new(HOUR);
    let cache = d.build(src.clone(), policy());
    let t1 = d.token(&cache).expect("first token");
    d.advance(t1.refresh_at().since_origin() + Duration::from_secs(1));
    src.close_gate();
    // The first caller to see the token stale starts the refresh (inline:
    // runs it, so it goes on its own thread here).
    let first = d.spawn_call(&cache);
    // Until the spawned call is inside the source: were this thread's call
    // the first to see the token stale, it would run the refresh itself
    // (inline) and block on the closed gate.
    assert!(
        eventually(&d, || src.calls() == 2),
        "{}: the spawned call started the refresh",
        D::NAME
    );
    d.advance(Duration::from_secs(5));
    for _ in 0..100 {
        let t = d.token(&cache).expect("the held token");
        assert_eq!(t.secret(), t1.secret(), "{}", D::NAME);
    }
    assert_eq!(src.calls(), 2, "{}: one refresh", D::NAME);
    src.open_gate();
    assert!(first().is_ok());
    // The refresh lands in the background: on a busy machine that can take
    // a few settles for the real-time drivers.
    let landed = eventually(&d, || {
        d.cached(&cache).is_some_and(|t| t.secret() == "token-2")
    });
    assert!(landed, "{}: the new token is cached", D::NAME);
}

/// Dropping every waiting caller does not cancel the attempt, and the token
/// it brings is cached.
pub fn dropped_waiters_do_not_cancel_the_attempt<D: Driver>() {
    let d = D::new();
    let (src, _) = TestSource::new(HOUR);
    src.close_gate();
    let cache = d.build(src.clone(), policy());
    d.abandon_waiters(&cache, 100);
    // The attempt's task may not have reached the source yet (smol's
    // executor threads poll it when they get to it).
    assert!(
        eventually(&d, || src.calls() == 1),
        "{}: the attempt started",
        D::NAME
    );
    src.open_gate();
    let landed = eventually(&d, || {
        d.cached(&cache).is_some_and(|t| t.secret() == "token-1")
    });
    assert!(landed, "{}: cached although nobody waited", D::NAME);
    assert_eq!(src.calls(), 1);
}

/// A source that panics does not wedge the cache.
pub fn panicking_source_fails_the_attempt_and_the_cache_recovers<D: Driver>() {
    let d = D::new();
    let (src, _) = TestSource::new(HOUR);
    src.set(Behaviour::Panic);
    let cache = d.build(src.clone(), policy());
    let err = d.token(&cache).expect_err("the attempt failed");
    assert_eq!(err.kind(), &ErrorKind::SourcePanicked, "{}", D::NAME);
    src.set(Behaviour::Succeed);
    d.advance(Duration::from_secs(6)); // past the first backoff (at most 5 s)
    let t = d.token(&cache).expect("recovered");
    assert_eq!(t.secret(), "token-2");
}

/// A source that hangs does not wedge the cache: the attempt times out, and
/// its late answer is ignored.
pub fn hanging_source_times_out_and_the_cache_recovers<D: Driver>() {
    let d = D::new();
    let (src, _) = TestSource::new(HOUR);
    src.close_gate();
    let cache = d.build(src.clone(), policy());
    let first = d.spawn_call(&cache);
    assert!(
        eventually(&d, || src.calls() == 1),
        "{}: the spawned call started the attempt",
        D::NAME
    );
    d.advance(Duration::from_secs(31)); // past the 30 s attempt timeout
    let err = d.token(&cache).expect_err("timed out");
    assert!(
        matches!(err.kind(), ErrorKind::Timeout { .. }),
        "{}: {err:?}",
        D::NAME
    );
    // The hung request finally answers: too late, ignored.
    src.open_gate();
    let late = first();
    assert!(late.is_err(), "{}: the first caller got {late:?}", D::NAME);
    d.advance(Duration::from_secs(6));
    let t = d.token(&cache).expect("recovered");
    assert_eq!(
        t.secret(),
        "token-2",
        "{}: a fresh attempt, not the late answer",
        D::NAME
    );
}

/// `invalidate(token)` causes exactly one refresh.
pub fn invalidate_causes_exactly_one_refresh<D: Driver>() {
    let d = D::new();
    let (src, _) = TestSource::new(HOUR);
    let cache = d.build(src.clone(), policy());
    let t1 = d.token(&cache).unwrap();
    assert!(d.invalidate(&cache, &t1));
    let t2 = d.token(&cache).unwrap();
    assert_ne!(t2.secret(), t1.secret());
    assert_eq!(d.token(&cache).unwrap().secret(), t2.secret());
    d.settle();
    assert_eq!(src.calls(), 2, "{}", D::NAME);
}

/// Invalidating a token that was already replaced does nothing.
pub fn invalidating_a_replaced_token_does_nothing<D: Driver>() {
    let d = D::new();
    let (src, _) = TestSource::new(HOUR);
    let cache = d.build(src.clone(), policy());
    let t1 = d.token(&cache).unwrap();
    assert!(d.invalidate(&cache, &t1));
    let t2 = d.token(&cache).unwrap();
    assert!(!d.invalidate(&cache, &t1), "a late 401 for the old token");
    assert_eq!(
        d.cached(&cache).expect("still cached").secret(),
        t2.secret()
    );
    assert_eq!(d.token(&cache).unwrap().secret(), t2.secret());
    assert_eq!(src.calls(), 2);
}

/// 1,000 concurrent invalidations of one token cause one fetch.
pub fn thousand_invalidations_of_one_token_cause_one_fetch<D: Driver>() {
    let d = D::new();
    let (src, _) = TestSource::new(HOUR);
    let cache = d.build(src.clone(), policy());
    let t1 = d.token(&cache).unwrap();
    let results = d.invalidate_herd(&cache, &t1, 1000);
    assert_eq!(src.calls(), 2, "{}", D::NAME);
    for r in &results {
        assert_eq!(secret(r), "token-2");
    }
}

/// Dropping the last handle stops all background work: nothing is left
/// holding the cache (and so its source), and nothing fetches any more.
pub fn dropping_the_last_handle_stops_background_work<D: Driver>() {
    let d = D::new();
    let (src, alive) = TestSource::new(HOUR);
    let policy = Policy::builder().prefetch(D::BACKGROUND).build().unwrap();
    let cache = d.build(src.clone(), policy);
    let _ = d.token(&cache).unwrap();
    let other = cache.clone();
    drop(cache);
    assert!(d.cached(&other).is_some(), "a clone keeps the cache alive");
    drop(other);
    drop(src);
    assert!(
        eventually(&d, || alive.upgrade().is_none()),
        "{}: a task or thread still holds the cache",
        D::NAME
    );
}

/// With prefetch on and no traffic, the token is refreshed at `refresh_at`.
pub fn prefetch_refreshes_at_refresh_at_without_traffic<D: Driver>() {
    let d = D::new();
    let (src, _) = TestSource::new(HOUR);
    let policy = Policy::builder().prefetch(true).build().unwrap();
    let cache = d.build(src.clone(), policy);
    assert!(
        eventually(&d, || d.cached(&cache).is_some()),
        "{}: the first token is prefetched",
        D::NAME
    );
    assert_eq!(src.calls(), 1);
    let t1 = d.cached(&cache).expect("prefetched");
    d.advance(t1.refresh_at().since_origin() - Duration::from_secs(2));
    assert_eq!(src.calls(), 1, "{}: not before refresh_at", D::NAME);
    d.advance(Duration::from_secs(3));
    assert!(
        eventually(&d, || d
            .cached(&cache)
            .is_some_and(|t| t.secret() == "token-2")),
        "{}: refreshed at refresh_at",
        D::NAME
    );
    assert_eq!(src.calls(), 2);
}

/// An event sink that panics (here on `RefreshSucceeded`, which comes just
/// before the waiters are woken) loses its event, nothing else: every waiter
/// of the attempt still gets the token, and the next refresh works too.
/// Bounded: a regression fails here instead of hanging.
pub fn panicking_sink_does_not_hang_waiters<D: Driver>() {
    let panics = within(HANG_GUARD, D::NAME, || {
        let d = D::new();
        let (src, _) = TestSource::new(HOUR);
        let panics = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&panics);
        let sink = Arc::new(move |e: &Event| {
            if matches!(e, Event::RefreshSucceeded { .. }) {
                seen.fetch_add(1, Ordering::SeqCst);
                panic!("the event sink panics on purpose");
            }
        });
        let cache = d.build_with_sink(src.clone(), policy(), Some(sink));
        let results = overlapping_herd(&d, &cache, &src, 100);
        for r in &results {
            assert_eq!(secret(r), "token-1", "{}", D::NAME);
        }
        let t1 = d.token(&cache).expect("the token, cached");
        assert!(d.invalidate(&cache, &t1));
        let t2 = d.token(&cache).expect("a refresh after the sink panicked");
        assert_eq!(t2.secret(), "token-2", "{}", D::NAME);
        assert_eq!(src.calls(), 2, "{}", D::NAME);
        panics.load(Ordering::SeqCst)
    });
    assert_eq!(panics, 2, "{}: the sink saw both successes", D::NAME);
}
