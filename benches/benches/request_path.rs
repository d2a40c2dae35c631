//! The request path's cost per request on the fresh path: freshen-tower's
//! `BearerLayer` over a bare tower service, against the bare service alone.
//!
//! The service answers 200 at once; each iteration builds a request with a
//! `Full<Bytes>` body (a reference count to copy), calls the service, and
//! polls its future once (it is ready). The layer's row adds what a request
//! pays: the destination check, the cache's lock-free read, the token's
//! prebuilt sensitive header (a reference count), the replay copy of the
//! request (its head and body), the clone of the service for a retry, the
//! verdict on the response, and its body wrapped in a `BearerBody` that
//! keeps the token for the trailers (the body here is `()`, never polled).
//!
//! Two requests, each measured bare and under the layer:
//!
//! - *minimal*: a static URI and no header at all. The layer's header is
//!   then the map's first entry, and pays its first allocation.
//! - *realistic*: what a client sends: the URI parsed from a string, and
//!   `content-type`, `accept` and `user-agent` already set (their values
//!   kept by the client and cloned, as a client's default headers are). The
//!   map is already allocated; the replay copy clones it.
//!
//! Each is also measured under the layer with `Rules::retry_rejected(false)`,
//! which keeps no replay copy and clones no service.
//!
//! Run: `cargo bench --manifest-path benches/Cargo.toml --bench request_path`

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use freshen_benches::PollOnce;
use freshen_core::{Error, Fetched, TokenSource};
use freshen_http::Rules;
use freshen_tokio::{TokioCache, TokioRuntime};
use freshen_tower::BearerLayer;
use http::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use http::{HeaderValue, Method, Request, Response};
use http_body_util::Full;
use tower::{Service, ServiceBuilder};

struct Source;

impl TokenSource for Source {
    async fn fetch(&self) -> Result<Fetched, Error> {
        Ok(Fetched::new("bench-token-0123456789abcdef").with_lifetime(Duration::from_secs(3600)))
    }
}

fn bare()
-> impl Service<Request<Full<Bytes>>, Response = Response<()>, Error = Infallible, Future: Send>
+ Clone
+ Send
+ 'static {
    tower::service_fn(|_: Request<Full<Bytes>>| async { Ok::<_, Infallible>(Response::new(())) })
}

fn request(body: &Full<Bytes>) -> Request<Full<Bytes>> {
    let mut request = Request::new(body.clone());
    *request.uri_mut() = http::Uri::from_static("https://api.example.com/v1/things");
    request
}

/// The header values a client keeps and sets on each request.
struct Defaults {
    json: HeaderValue,
    agent: HeaderValue,
}

impl Defaults {
    fn new() -> Self {
        Defaults {
            json: HeaderValue::from_str("application/json").expect("value"),
            agent: HeaderValue::from_str("example-client/1.4.2").expect("value"),
        }
    }
}

fn realistic(body: &Full<Bytes>, defaults: &Defaults) -> Request<Full<Bytes>> {
    let uri: http::Uri = black_box("https://api.example.com/v1/things?page=2")
        .parse()
        .expect("uri");
    let mut request = Request::new(body.clone());
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.insert(CONTENT_TYPE, defaults.json.clone());
    headers.insert(ACCEPT, defaults.json.clone());
    headers.insert(USER_AGENT, defaults.agent.clone());
    request
}

fn request_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let cache = TokioCache::new(Source, TokioRuntime::from_handle(runtime.handle().clone()));
    runtime.block_on(async {
        cache.token().await.expect("warm");
    });
    let body = Full::new(Bytes::from_static(b"{\"query\":1}"));

    let mut group = c.benchmark_group("request_path");
    let mut service = bare();
    group.bench_function("bare tower service", |b| {
        b.iter(|| {
            let response = service.call(request(&body)).poll_once();
            black_box(response.expect("ready").expect("ok"));
        })
    });
    let mut layered = ServiceBuilder::new()
        .layer(BearerLayer::new(cache.clone()))
        .service(bare());
    // Checked once: the fresh path is served, with the header set.
    let response = layered.call(request(&body)).poll_once();
    assert!(
        matches!(response, Some(Ok(_))),
        "the fresh path is ready at once"
    );
    group.bench_function("BearerLayer over it (fresh token)", |b| {
        b.iter(|| {
            let response = layered.call(request(&body)).poll_once();
            black_box(response.expect("ready").expect("ok"));
        })
    });
    let defaults = Defaults::new();
    group.bench_function("bare tower service, realistic request", |b| {
        b.iter(|| {
            let response = service.call(realistic(&body, &defaults)).poll_once();
            black_box(response.expect("ready").expect("ok"));
        })
    });
    group.bench_function(
        "BearerLayer over it (fresh token), realistic request",
        |b| {
            b.iter(|| {
                let response = layered.call(realistic(&body, &defaults)).poll_once();
                black_box(response.expect("ready").expect("ok"));
            })
        },
    );
    // The same layer with `Rules::retry_rejected(false)`: no replay copy
    // of the request, no clone of the service (a rejection goes back).
    let mut no_retry = ServiceBuilder::new()
        .layer(BearerLayer::with_rules(
            cache.clone(),
            Rules::new().retry_rejected(false),
        ))
        .service(bare());
    group.bench_function("BearerLayer, retry off (fresh token)", |b| {
        b.iter(|| {
            let response = no_retry.call(request(&body)).poll_once();
            black_box(response.expect("ready").expect("ok"));
        })
    });
    group.bench_function(
        "BearerLayer, retry off (fresh token), realistic request",
        |b| {
            b.iter(|| {
                let response = no_retry.call(realistic(&body, &defaults)).poll_once();
                black_box(response.expect("ready").expect("ok"));
            })
        },
    );
    group.finish();
}

criterion_group!(benches, request_path);
criterion_main!(benches);
