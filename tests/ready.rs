//! `ready(timeout)` at startup: a source that is not up for its first
//! seconds (a metadata server at pod start) is waited for with the
//! policy's backoff, no failure is kept, a permanent error ends the wait at
//! once, and the deadline is honoured. Virtual time (tokio's paused clock,
//! a ManualClock).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use freshen::{Error, ErrorKind, Fetched};
use freshen_blocking::{BlockingCache, ManualClock, Mode};
use freshen_core::{BlockingTokenSource, ProviderError, TokenSource};
use freshen_tokio::{TokioCache, TokioRuntime};

const HOUR: Duration = Duration::from_secs(3600);

/// Refuses connections until `up_after` on tokio's clock, then serves.
struct StartsLate {
    up_at: tokio::time::Instant,
    calls: Arc<AtomicUsize>,
}

fn refused() -> Error {
    Error::transient(ErrorKind::Transport(
        "connection refused (os error 111)".into(),
    ))
}

impl TokenSource for StartsLate {
    async fn fetch(&self) -> Result<Fetched, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if tokio::time::Instant::now() < self.up_at {
            return Err(refused());
        }
        Ok(Fetched::new("metadata-token").with_lifetime(HOUR))
    }
}

fn late(up_after: Duration) -> (StartsLate, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let source = StartsLate {
        up_at: tokio::time::Instant::now() + up_after,
        calls: Arc::clone(&calls),
    };
    (source, calls)
}

#[tokio::test(start_paused = true)]
async fn ready_waits_out_a_source_that_refuses_for_its_first_seconds() {
    let (source, calls) = late(Duration::from_secs(20));
    let runtime = TokioRuntime::current().with_runtime_clock();
    let cache = TokioCache::new(source, runtime);
    let started = tokio::time::Instant::now();
    cache.ready(Duration::from_secs(120)).await.unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(20), "{waited:?}");
    // Backed off (5 s doubling to the 60 s cap, full jitter): a handful of
    // tries in 20 s, and the token came within one backoff of the source
    // being up.
    let tries = calls.load(Ordering::SeqCst);
    assert!((2..=12).contains(&tries), "{tries} tries");
    assert!(waited <= Duration::from_secs(20 + 60), "{waited:?}");
    // No failure was kept: the token is served without another request.
    assert_eq!(cache.cached().unwrap().secret(), "metadata-token");
    assert_eq!(calls.load(Ordering::SeqCst), tries);
}

#[tokio::test(start_paused = true)]
async fn ready_gives_the_last_error_at_its_deadline() {
    let (source, calls) = late(Duration::from_secs(3600));
    let runtime = TokioRuntime::current().with_runtime_clock();
    let cache = TokioCache::new(source, runtime);
    let started = tokio::time::Instant::now();
    let error = cache.ready(Duration::from_secs(30)).await.unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::Transport(_)), "{error}");
    assert!(!error.is_permanent());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(30) && waited < Duration::from_secs(31),
        "{waited:?}"
    );
    assert!(calls.load(Ordering::SeqCst) <= 8);
}

struct Forbidden(Arc<AtomicUsize>);

impl BlockingTokenSource for Forbidden {
    fn fetch(&self) -> Result<Fetched, Error> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(Error::permanent(ErrorKind::Refused(ProviderError::new(
            403,
        ))))
    }
}

#[test]
fn ready_ends_at_once_on_a_permanent_error() {
    let calls = Arc::new(AtomicUsize::new(0));
    let clock = ManualClock::new();
    let cache = BlockingCache::builder(Forbidden(Arc::clone(&calls)))
        .mode(Mode::Inline)
        .clock(clock.clone())
        .build();
    let error = cache.ready(Duration::from_secs(60)).unwrap_err();
    assert!(error.is_permanent(), "{error}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// Refuses until the ManualClock reaches `up_at`.
struct StartsLateBlocking {
    clock: ManualClock,
    up_at: freshen::Instant,
    calls: Arc<AtomicUsize>,
}

impl BlockingTokenSource for StartsLateBlocking {
    fn fetch(&self) -> Result<Fetched, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if freshen_cache::Clock::now(&self.clock) < self.up_at {
            return Err(refused());
        }
        Ok(Fetched::new("metadata-token").with_lifetime(HOUR))
    }
}

#[test]
fn blocking_ready_waits_on_the_caches_clock() {
    let clock = ManualClock::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let up_at = freshen_cache::Clock::now(&clock) + Duration::from_secs(20);
    let source = StartsLateBlocking {
        clock: clock.clone(),
        up_at,
        calls: Arc::clone(&calls),
    };
    let cache = BlockingCache::builder(source)
        .mode(Mode::Inline)
        .clock(clock.clone())
        .build();
    // Another thread moves virtual time on while ready() waits.
    let ticking = clock.clone();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = Arc::clone(&done);
    let ticker = std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            ticking.advance(Duration::from_millis(500));
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let result = cache.ready(Duration::from_secs(600));
    done.store(true, Ordering::SeqCst);
    ticker.join().unwrap();
    result.unwrap();
    assert!(freshen_cache::Clock::now(&clock) >= up_at);
    let tries = calls.load(Ordering::SeqCst);
    assert!((2..=15).contains(&tries), "{tries} tries");
    assert_eq!(cache.cached().unwrap().secret(), "metadata-token");
}
