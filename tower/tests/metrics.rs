//! With the `metrics` feature: one `freshen.http.auth_retry` per request
//! retried after a rejection, and none otherwise (a rejection in the
//! trailers invalidates, but retries nothing).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]
#![cfg(feature = "metrics")]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use freshen_cache::ManualClock;
use freshen_smol::{SmolCache, SmolRuntime};
use freshen_testkit::counters::CountingRecorder;
use freshen_testkit::resource_server::Registry;
use freshen_tower::BearerLayer;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use tower::{Service, ServiceBuilder, ServiceExt};

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
    assert_eq!(retries(&counts), 1);
}

#[test]
fn a_rejection_in_the_trailers_is_not_a_retry() {
    let counts = CountingRecorder::new();
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    metrics::with_local_recorder(&counts, || {
        smol::block_on(async {
            let clock = ManualClock::new();
            let registry = Registry::new(clock.clone());
            let source = registry.source(Duration::from_secs(3600));
            let cache = SmolCache::new(source, SmolRuntime::new().with_clock(clock));
            // Streams a message, then refuses the first token in the
            // trailers; every later one ends with OK.
            let record = Arc::clone(&seen);
            let api = tower::service_fn(move |request: Request<Full<Bytes>>| {
                let token = request.headers()["authorization"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let mut seen = record.lock().unwrap();
                let status = if seen.first().is_none_or(|first| *first == token) {
                    "16"
                } else {
                    "0"
                };
                seen.push(token);
                let mut trailers = HeaderMap::new();
                trailers.insert("grpc-status", status.parse().unwrap());
                let frames = [
                    Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"message"))),
                    Ok(Frame::trailers(trailers)),
                ];
                let body = StreamBody::new(futures_lite::stream::iter(frames));
                async move { Ok::<_, Infallible>(Response::new(body)) }
            });
            let mut client = ServiceBuilder::new()
                .layer(BearerLayer::new(cache))
                .service(api);
            for status in ["16", "0", "0"] {
                let request = Request::get("https://api.example.com/")
                    .body(Full::new(Bytes::new()))
                    .unwrap();
                let response = client.ready().await.unwrap().call(request).await.unwrap();
                let body = response.into_body().collect().await.unwrap();
                assert_eq!(body.trailers().unwrap()["grpc-status"], status);
            }
        });
    });
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "one call each: nothing retried");
    assert_ne!(seen[0], seen[1], "the refused token was not sent again");
    assert_eq!(seen[1], seen[2]);
    // Never counted (the first test shows the counter is wired).
    assert_eq!(counts.total("freshen.http.auth_retry").unwrap_or(0), 0);
}
