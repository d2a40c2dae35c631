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

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use freshen_cache::ManualClock;
use freshen_smol::{SmolCache, SmolRuntime};
use freshen_testkit::resource_server::Registry;
use freshen_tower::BearerLayer;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use metrics::{
    Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use tower::{Service, ServiceBuilder, ServiceExt};

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
    /// The retries counted. The cache's own counters (freshen-cache's
    /// `metrics` feature, on in a workspace build) are not this layer's.
    fn retries(&self) -> u64 {
        let counts = self.0.lock().unwrap();
        let retries: Vec<_> = counts
            .iter()
            .filter(|(key, _)| key.name() == "freshen.http.auth_retry")
            .collect();
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
    metrics::with_local_recorder(&counts, || {
        smol::block_on(async {
            let clock = ManualClock::new();
            let registry = Registry::new(clock.clone());
            let source = registry.source(Duration::from_secs(3600));
            let cache = SmolCache::new(source, SmolRuntime::new().with_clock(clock));
            // Rejects the first token; accepts every other.
            let first = Arc::new(Mutex::new(None::<String>));
            let api = tower::service_fn(move |request: Request<Full<Bytes>>| {
                let first = Arc::clone(&first);
                async move {
                    let token = request.headers()["authorization"]
                        .to_str()
                        .unwrap()
                        .to_owned();
                    let mut first = first.lock().unwrap();
                    let reject = first.get_or_insert_with(|| token.clone()) == &token;
                    let mut response = Response::new(());
                    if reject {
                        *response.status_mut() = StatusCode::UNAUTHORIZED;
                    }
                    Ok::<_, Infallible>(response)
                }
            });
            let mut client = ServiceBuilder::new()
                .layer(BearerLayer::new(cache))
                .service(api);
            for _ in 0..3 {
                let request = Request::get("https://api.example.com/")
                    .body(Full::new(Bytes::new()))
                    .unwrap();
                let response = client.ready().await.unwrap().call(request).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
            }
        });
    });
    assert_eq!(counts.retries(), 1);
}
