//! What happens around an attempt's end and a cache's end: a response in
//! flight at the timeout is still read (a rotated refresh token is kept),
//! and an event sink that reaches its cache does not keep it alive.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use freshen::{Error, ErrorKind, Event, Fetched, Policy};
use freshen_blocking::{BlockingCache, ManualClock, WeakBlockingCache};
use freshen_core::{BlockingTokenSource, TokenSource};
use freshen_tokio::{TokioCache, TokioRuntime};

const HOUR: Duration = Duration::from_secs(3600);

/// A source whose server answers at once (rotating its refresh token) and
/// whose body takes `body` to arrive; `kept` says the source read it.
struct SlowBody {
    body: Duration,
    answered: Arc<AtomicUsize>,
    kept: Arc<AtomicUsize>,
}

impl TokenSource for SlowBody {
    async fn fetch(&self) -> Result<Fetched, Error> {
        let n = self.answered.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.body).await;
        // What OAuthSource does once the body is in hand: keep the rotated
        // refresh token.
        self.kept.fetch_max(n + 1, Ordering::SeqCst);
        Ok(Fetched::new(format!("token-{n}")).with_lifetime(HOUR))
    }
}

#[tokio::test(start_paused = true)]
async fn rotated_refresh_token_survives_a_timed_out_attempt() {
    // Issue 8, defect 7: the attempt was dropped at its deadline with the
    // server's answer half read, and the refresh token the server rotated
    // to was lost with it.
    let answered = Arc::new(AtomicUsize::new(0));
    let kept = Arc::new(AtomicUsize::new(0));
    let source = SlowBody {
        body: Duration::from_secs(3),
        answered: Arc::clone(&answered),
        kept: Arc::clone(&kept),
    };
    let policy = Policy::builder()
        .attempt_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let runtime = TokioRuntime::current().with_runtime_clock();
    let cache = TokioCache::builder(source, runtime).policy(policy).build();
    let err = cache.token().await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Timeout { .. }),
        "{err}: the caller is told at the deadline"
    );
    assert_eq!(answered.load(Ordering::SeqCst), 1);
    assert_eq!(
        kept.load(Ordering::SeqCst),
        0,
        "the body is still on its way"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        kept.load(Ordering::SeqCst),
        1,
        "the response in hand was read after the timeout"
    );
}

#[tokio::test(start_paused = true)]
async fn a_response_that_never_comes_is_dropped_after_the_grace() {
    let kept = Arc::new(AtomicUsize::new(0));
    let source = SlowBody {
        body: Duration::from_secs(3600),
        answered: Arc::default(),
        kept: Arc::clone(&kept),
    };
    let dropped = Arc::new(AtomicBool::new(false));
    let policy = Policy::builder()
        .attempt_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let runtime = TokioRuntime::current().with_runtime_clock();
    let flag = Arc::clone(&dropped);
    let cache = TokioCache::builder(DropFlag(source, flag), runtime)
        .policy(policy)
        .build();
    assert!(cache.token().await.is_err());
    drop(cache);
    // The attempt's task holds the source until its grace (one more
    // timeout) ends, then lets go: background work is bounded.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!dropped.load(Ordering::SeqCst));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        dropped.load(Ordering::SeqCst),
        "the source outlived the grace"
    );
    assert_eq!(kept.load(Ordering::SeqCst), 0);
}

/// A source that says when it is dropped.
struct DropFlag<S>(S, Arc<AtomicBool>);

impl<S> Drop for DropFlag<S> {
    fn drop(&mut self) {
        self.1.store(true, Ordering::SeqCst);
    }
}

impl<S: TokenSource> TokenSource for DropFlag<S> {
    async fn fetch(&self) -> Result<Fetched, Error> {
        self.0.fetch().await
    }
}

impl<S: BlockingTokenSource> BlockingTokenSource for DropFlag<S> {
    fn fetch(&self) -> Result<Fetched, Error> {
        self.0.fetch()
    }
}

struct Quick;

impl TokenSource for Quick {
    async fn fetch(&self) -> Result<Fetched, Error> {
        Ok(Fetched::new("quick").with_lifetime(HOUR))
    }
}

impl BlockingTokenSource for Quick {
    fn fetch(&self) -> Result<Fetched, Error> {
        Ok(Fetched::new("quick").with_lifetime(HOUR))
    }
}

#[tokio::test(start_paused = true)]
async fn sink_with_a_weak_handle_lets_the_cache_stop() {
    // Issue 8, defect 10: a sink holding a clone of its cache made a cycle,
    // and the prefetch timer never stopped. A sink handed a weak handle
    // reaches the cache while it lives, and lets it go.
    let dropped = Arc::new(AtomicBool::new(false));
    let reached = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&reached);
    let policy = Policy::builder().prefetch(true).build().unwrap();
    let runtime = TokioRuntime::current().with_runtime_clock();
    let cache = TokioCache::builder(DropFlag(Quick, Arc::clone(&dropped)), runtime)
        .policy(policy)
        .on_event_with_cache(move |weak, event| {
            if matches!(event, Event::RefreshSucceeded { .. }) {
                if let Some(cache) = weak.upgrade() {
                    assert_eq!(cache.cached().unwrap().secret(), "quick");
                    seen.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
        .build();
    // The prefetch timer fetches the first token with no caller.
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(
        reached.load(Ordering::SeqCst),
        1,
        "the sink reached its cache"
    );
    drop(cache);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(
        dropped.load(Ordering::SeqCst),
        "the timer kept the cache alive after its last handle was dropped"
    );
}

#[test]
fn blocking_sink_with_a_weak_handle_lets_the_timer_stop() {
    let dropped = Arc::new(AtomicBool::new(false));
    let weak: Arc<OnceLock<WeakBlockingCache<DropFlag<Quick>, ManualClock>>> = Arc::default();
    let seen = Arc::clone(&weak);
    let reached = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&reached);
    let policy = Policy::builder().prefetch(true).build().unwrap();
    let cache = BlockingCache::builder(DropFlag(Quick, Arc::clone(&dropped)))
        .clock(ManualClock::new().with_tick(Duration::from_millis(5)))
        .policy(policy)
        .on_event(move |_| {
            if seen.get().and_then(WeakBlockingCache::upgrade).is_some() {
                count.fetch_add(1, Ordering::SeqCst);
            }
        })
        .build();
    let _ = weak.set(cache.downgrade());
    assert_eq!(cache.token().unwrap().secret(), "quick");
    // Dropping the last handle joins the timer thread and frees the source.
    drop(cache);
    assert!(dropped.load(Ordering::SeqCst));
    assert!(weak.get().unwrap().upgrade().is_none());
}

/// Serves one 15 s token, then hangs for ever.
struct ShortThenHung {
    calls: AtomicUsize,
}

impl TokenSource for ShortThenHung {
    async fn fetch(&self) -> Result<Fetched, Error> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            return Ok(Fetched::new("short").with_lifetime(Duration::from_secs(15)));
        }
        std::future::pending().await
    }
}

#[tokio::test(start_paused = true)]
async fn attempt_timeout_ignores_short_lifetimes() {
    // Issue 8, defect 9: with 15 s tokens and a hung endpoint, callers
    // waited for the full 30 s timeout (22.5 s measured past expiry). The
    // timeout is now a quarter of the token's lead: 2.8 s here.
    let source = ShortThenHung {
        calls: AtomicUsize::new(0),
    };
    let runtime = TokioRuntime::current().with_runtime_clock();
    let cache = TokioCache::builder(source, runtime).build();
    let token = cache.token().await.unwrap().into_arc();
    // Past usable_until: the caller must wait for a new token.
    tokio::time::sleep(token.usable_until().saturating_duration_since(cache.now())).await;
    let asked = tokio::time::Instant::now();
    let err = cache.token().await.unwrap_err();
    let waited = asked.elapsed();
    assert!(matches!(err.kind(), ErrorKind::Timeout { .. }), "{err}");
    assert!(
        waited <= Duration::from_secs(3),
        "a caller waited {waited:?} on a hung endpoint with 15 s tokens"
    );
    assert!(waited >= Duration::from_secs(2), "{waited:?}");
}
