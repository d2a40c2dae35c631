//! With the `metrics` feature: one `freshen.http.auth_retry` per request
//! retried after a rejection, and none otherwise.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]
#![cfg(feature = "metrics")]

use std::sync::Arc;
use std::time::Duration;

use freshen_cache::{Cache, ManualClock};
use freshen_reqwest_middleware::BearerMiddleware;
use freshen_testkit::counters::CountingRecorder;
use freshen_testkit::resource_server::{ManualTokio, Registry, ResourceServer};
use reqwest::StatusCode;
use reqwest_middleware::ClientBuilder;

/// What the layer counted: `freshen.http.auth_retry`, with no labels (the
/// cache's own counters, there when the workspace's features turn
/// freshen-cache's `metrics` on, report to the same recorder).
fn retries(counts: &CountingRecorder) -> u64 {
    assert!(
        counts
            .labels("freshen.http.auth_retry")
            .iter()
            .all(|&n| n == 0),
        "no labels"
    );
    counts.total("freshen.http.auth_retry").expect("registered")
}

#[test]
fn each_retry_after_a_rejection_is_counted_once() {
    let counts = CountingRecorder::new();
    // The recorder is this thread's: the middleware runs on it (a
    // current-thread runtime polls every task here).
    metrics::with_local_recorder(&counts, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let clock = ManualClock::new();
            let registry = Registry::new(clock.clone());
            let server = ResourceServer::start(Arc::clone(&registry)).await.unwrap();
            let source = registry.source(Duration::from_secs(3600));
            let cache = Cache::new(source, ManualTokio::new(clock));
            let client = ClientBuilder::new(reqwest::Client::new())
                .with(BearerMiddleware::new(cache))
                .build();
            let get = || client.get(format!("{}/x", server.url())).send();
            assert_eq!(get().await.unwrap().status(), StatusCode::OK);
            // Revoked: the next request is rejected once and retried.
            registry.revoke(&registry.newest().unwrap());
            for _ in 0..3 {
                assert_eq!(get().await.unwrap().status(), StatusCode::OK);
            }
            assert_eq!(registry.rejected(), 1);
        });
    });
    assert_eq!(retries(&counts), 1);
}
