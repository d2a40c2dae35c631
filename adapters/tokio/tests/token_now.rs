//! `Cache::token_now` from a plain thread: it never waits, starts at most one
//! refresh, and the refresh runs on the runtime the cache was given.
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

use freshen_core::{Error, Fetched, TokenSource};
use freshen_tokio::{TokioCache, TokioRuntime};
use tokio::sync::Semaphore;

/// Hands out `tok-N` once the test lets it (one permit per fetch).
struct Gated {
    fetches: Arc<AtomicUsize>,
    gate: Arc<Semaphore>,
}

impl TokenSource for Gated {
    async fn fetch(&self) -> Result<Fetched, Error> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst);
        if let Ok(permit) = self.gate.acquire().await {
            permit.forget();
        }
        Ok(Fetched::new(format!("tok-{n}")).with_lifetime(Duration::from_secs(3600)))
    }
}

#[test]
fn from_a_plain_thread_it_starts_one_refresh_and_never_waits() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    let fetches = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(0));
    let source = Gated {
        fetches: Arc::clone(&fetches),
        gate: Arc::clone(&gate),
    };
    let cache: TokioCache<Gated> =
        TokioCache::new(source, TokioRuntime::from_handle(runtime.handle().clone()));

    std::thread::scope(|s| {
        s.spawn(|| {
            // Empty: nothing to hand out, and the call does not wait for the
            // refresh it starts (the source is held at its gate).
            assert!(cache.token_now().is_none());
            assert!(cache.token_now().is_none());
        })
        .join()
        .unwrap();
    });
    // The refresh runs on the runtime, and only one was started.
    while fetches.load(Ordering::SeqCst) == 0 {
        std::thread::yield_now();
    }
    assert!(cache.token_now().is_none());
    assert_eq!(fetches.load(Ordering::SeqCst), 1);

    gate.add_permits(1);
    let token = loop {
        if let Some(token) = cache.token_now() {
            break token.secret().to_owned();
        }
        std::thread::yield_now();
    };
    assert_eq!(token, "tok-0");
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_stale_token_is_served_and_its_refresh_started() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(1));
    let source = Gated {
        fetches: Arc::clone(&fetches),
        gate: Arc::clone(&gate),
    };
    let cache: TokioCache<Gated> =
        TokioCache::new(source, TokioRuntime::current().with_runtime_clock());
    assert_eq!(cache.token().await.unwrap().secret(), "tok-0");
    // Past refresh_at (at most an hour's lead) but well before usable_until.
    tokio::time::advance(Duration::from_secs(3600 - 200)).await;
    assert!(cache.cached().is_none(), "the token is stale now");
    let stale = cache.token_now().map(|t| t.secret().to_owned());
    assert_eq!(stale.as_deref(), Some("tok-0"));
    while fetches.load(Ordering::SeqCst) < 2 {
        tokio::task::yield_now().await;
    }
    gate.add_permits(1);
    let fresh = loop {
        if let Some(t) = cache.cached() {
            break t.secret().to_owned();
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(fresh, "tok-1");
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}
