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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use freshen_cache::{Cache, ManualClock};
use freshen_reqwest_middleware::BearerMiddleware;
use freshen_testkit::resource_server::{ManualTokio, Registry, ResourceServer};
use metrics::{
    Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use reqwest::StatusCode;
use reqwest_middleware::ClientBuilder;

/// Counts increments of each counter, by name and labels.
#[derive(Default)]
struct Counts(Mutex<Vec<(Key, Arc<Count>)>>);

#[derive(Default)]
struct Count(AtomicU64);

impl CounterFn for Count {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::SeqCst);
    }
    fn absolute(&self, value: u64) {
        self.0.store(value, Ordering::SeqCst);
    }
}

impl Recorder for Counts {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let count = Arc::new(Count::default());
        self.0
            .lock()
            .unwrap()
            .push((key.clone(), Arc::clone(&count)));
        Counter::from_arc(count)
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

impl Counts {
    /// The retries counted (the cache's own counters, there when the
    /// workspace's features turn freshen-cache's `metrics` on, are not).
    fn retries(&self) -> u64 {
        let counts = self.0.lock().unwrap();
        let retries: Vec<_> = counts
            .iter()
            .filter(|(key, _)| key.name() == "freshen.http.auth_retry")
            .collect();
        assert!(!retries.is_empty(), "registered");
        for (key, _) in &retries {
            assert_eq!(key.labels().count(), 0, "no labels");
        }
        retries
            .iter()
            .map(|(_, c)| c.0.load(Ordering::SeqCst))
            .sum()
    }
}

#[test]
fn each_retry_after_a_rejection_is_counted_once() {
    let counts = Counts::default();
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
    assert_eq!(counts.retries(), 1);
}
