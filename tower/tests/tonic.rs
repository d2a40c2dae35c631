//! freshen-tower with tonic against a real tonic server (tonic-health's
//! service, no protoc) that checks the bearer with the strict resource
//! server's registry: the layer on a `Channel` (async path, with the retry)
//! and the interceptor (sync path, never blocks). A second server streams
//! `Watch` and re-checks the token mid-stream, so `UNAUTHENTICATED` comes
//! in the trailers, after the headers and a message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]
#![cfg(feature = "tonic")]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use freshen_cache::{Cache, ManualClock};
use freshen_http::Rules;
use freshen_testkit::resource_server::{ManualTokio, Registry, RegistrySource};
use freshen_tower::{BearerInterceptor, BearerLayer, BearerService};
use futures_lite::{Stream, StreamExt, stream};
use http::Uri;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tonic::Code;
use tonic::transport::{Channel, Server};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tower::{Service, ServiceBuilder, ServiceExt};

type TokenCache = Cache<RegistrySource, ManualTokio>;

/// The server side: checks every call's bearer with the registry before
/// tonic-health's service sees it; a refusal is gRPC `UNAUTHENTICATED`.
#[derive(Clone)]
struct Guard<S> {
    inner: S,
    registry: Arc<Registry>,
}

impl<S, B> Service<http::Request<B>> for Guard<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let registry = Arc::clone(&self.registry);
        Box::pin(async move {
            match registry.admit(request.headers()).await {
                Ok(()) => inner.call(request).await,
                Err(refusal) => {
                    Ok(tonic::Status::unauthenticated(format!("{refusal:?}")).into_http())
                }
            }
        })
    }
}

struct Setup {
    registry: Arc<Registry>,
    cache: TokenCache,
    channel: Channel,
    uri: Uri,
    _server: tokio::task::JoinHandle<()>,
}

async fn setup(lifetime: Duration) -> Setup {
    let clock = ManualClock::new();
    let registry = Registry::new(clock.clone());
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri: Uri = format!("http://{}", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    let guard_registry = Arc::clone(&registry);
    let server = tokio::spawn(async move {
        let _keep = reporter;
        let guard = tower::layer::layer_fn(move |inner| Guard {
            inner,
            registry: Arc::clone(&guard_registry),
        });
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let _ = Server::builder()
            .layer(guard)
            .add_service(health)
            .serve_with_incoming(incoming)
            .await;
    });
    let channel = Channel::builder(uri.clone()).connect().await.unwrap();
    let cache = Cache::new(registry.source(lifetime), ManualTokio::new(clock));
    Setup {
        registry,
        cache,
        channel,
        uri,
        _server: server,
    }
}

impl Setup {
    /// The async path: the layer on the channel, with the retry.
    fn layered(&self) -> HealthClient<BearerService<Channel, TokenCache>> {
        let rules = Rules::new().origin(self.uri.clone());
        let layer = BearerLayer::with_rules(self.cache.clone(), rules);
        HealthClient::new(
            ServiceBuilder::new()
                .layer(layer)
                .service(self.channel.clone()),
        )
    }

    fn interceptor(&self) -> BearerInterceptor<TokenCache> {
        BearerInterceptor::new(self.cache.clone(), &self.uri).unwrap()
    }
}

async fn check<T>(client: &mut HealthClient<T>) -> Result<ServingStatus, tonic::Status>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: http_body::Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let response = client
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?;
    Ok(response.into_inner().status())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layer_many_calls_across_rotations_are_never_rejected() {
    let s = setup(Duration::from_secs(60)).await;
    let (rounds, width) = (18, 32);
    for _ in 0..rounds {
        let tasks: Vec<_> = (0..width)
            .map(|_| {
                let mut client = s.layered();
                tokio::spawn(async move { check(&mut client).await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), ServingStatus::Serving);
        }
        s.registry.clock().advance(Duration::from_secs(10));
    }
    assert_eq!(s.registry.rejected(), 0);
    assert_eq!(s.registry.accepted(), rounds * width);
    assert!(
        s.registry.issued() >= 4,
        "rotations: {}",
        s.registry.issued()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interceptor_many_calls_across_rotations_are_never_rejected() {
    let s = setup(Duration::from_secs(60)).await;
    s.cache.token().await.unwrap();
    let (rounds, width) = (18, 32);
    for _ in 0..rounds {
        let tasks: Vec<_> = (0..width)
            .map(|_| {
                let mut client = HealthClient::with_interceptor(s.channel.clone(), s.interceptor());
                tokio::spawn(async move { check(&mut client).await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), ServingStatus::Serving);
        }
        s.registry.clock().advance(Duration::from_secs(10));
    }
    assert_eq!(s.registry.rejected(), 0);
    assert_eq!(s.registry.accepted(), rounds * width);
    assert!(
        s.registry.issued() >= 4,
        "rotations: {}",
        s.registry.issued()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_under_100_calls_in_flight_costs_one_refresh() {
    let s = setup(Duration::from_secs(3600)).await;
    assert_eq!(
        check(&mut s.layered()).await.unwrap(),
        ServingStatus::Serving
    );
    assert_eq!(s.registry.issued(), 1);

    s.registry.hold_next(100);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let mut client = s.layered();
            tokio::spawn(async move { check(&mut client).await })
        })
        .collect();
    s.registry.until_held(100).await;
    assert!(s.registry.revoke(&s.registry.newest().unwrap()));
    s.registry.release();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), ServingStatus::Serving);
    }
    assert_eq!(s.registry.rejected(), 100);
    assert_eq!(s.registry.accepted(), 1 + 100);
    assert_eq!(s.registry.issued(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_body_is_not_retried_and_its_token_is_still_invalidated() {
    let s = setup(Duration::from_secs(3600)).await;
    assert_eq!(
        check(&mut s.layered()).await.unwrap(),
        ServingStatus::Serving
    );
    s.registry.revoke(&s.registry.newest().unwrap());

    // A client stream still being produced: it cannot be replayed.
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(1);
    tx.send_data(Bytes::from_static(b"\0\0\0\0\0"))
        .await
        .unwrap();
    let request = http::Request::post("/grpc.health.v1.Health/Check")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(tonic::body::Body::new(body))
        .unwrap();
    let rules = Rules::new().origin(s.uri.clone());
    let mut service = ServiceBuilder::new()
        .layer(BearerLayer::with_rules(s.cache.clone(), rules))
        .service(s.channel.clone());
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    assert_eq!(response.headers()["grpc-status"], "16", "UNAUTHENTICATED");
    assert_eq!(s.registry.rejected(), 1, "not retried");
    drop(tx);

    assert_eq!(
        check(&mut s.layered()).await.unwrap(),
        ServingStatus::Serving
    );
    assert_eq!(s.registry.issued(), 2);
    assert_eq!(s.registry.rejected(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_interceptor_never_blocks_and_needs_no_runtime() {
    let s = setup(Duration::from_secs(3600)).await;
    let interceptor = s.interceptor();

    // Empty cache, called from a plain thread: UNAVAILABLE at once, and a
    // refresh started on the cache's runtime.
    let mut empty = interceptor.clone();
    let status = std::thread::spawn(move || {
        use tonic::service::Interceptor;
        empty.call(tonic::Request::new(())).unwrap_err()
    })
    .join()
    .unwrap();
    assert_eq!(status.code(), Code::Unavailable);
    // Nobody waits on the cache: the refresh the interceptor started runs
    // by itself.
    tokio::time::timeout(Duration::from_secs(10), async {
        while s.registry.issued() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the interceptor started a refresh");
    assert_eq!(s.registry.issued(), 1);

    // Fresh cache, plain thread: the metadata is set, and sensitive.
    let mut fresh = interceptor.clone();
    let request = std::thread::spawn(move || {
        use tonic::service::Interceptor;
        fresh.call(tonic::Request::new(())).unwrap()
    })
    .join()
    .unwrap();
    let secret = s.registry.newest().unwrap();
    let value = request.metadata().get("authorization").unwrap();
    assert!(value.is_sensitive());
    assert_eq!(value.to_str().unwrap(), format!("Bearer {secret}"));
    for text in [
        format!("{request:?}"),
        format!("{interceptor:?}"),
        format!("{:?}", s.cache),
    ] {
        assert!(!text.contains(&secret), "{text}");
    }

    // And the server takes it.
    let mut client = HealthClient::with_interceptor(s.channel.clone(), interceptor.clone());
    assert_eq!(check(&mut client).await.unwrap(), ServingStatus::Serving);
    assert_eq!(s.registry.issued(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layer_sends_a_sensitive_header_and_no_secret_reaches_debug() {
    let s = setup(Duration::from_secs(3600)).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let rules = Rules::new().origin(s.uri.clone());
    let layer = BearerLayer::with_rules(s.cache.clone(), rules);
    let service = ServiceBuilder::new()
        .layer(layer.clone())
        .map_request(move |request: http::Request<tonic::body::Body>| {
            let header = request.headers()["authorization"].clone();
            record
                .lock()
                .unwrap()
                .push((header.is_sensitive(), format!("{request:?}")));
            request
        })
        .service(s.channel.clone());
    let mut client = HealthClient::new(service);
    assert_eq!(check(&mut client).await.unwrap(), ServingStatus::Serving);
    let secret = s.registry.newest().unwrap();
    let (sensitive, shown) = seen.lock().unwrap().pop().unwrap();
    assert!(sensitive);
    for text in [shown, format!("{layer:?}"), format!("{client:?}")] {
        assert!(!text.contains(&secret), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_another_host_is_refused() {
    let s = setup(Duration::from_secs(3600)).await;
    let far: Uri = "http://grpc.example.invalid:50051".parse().unwrap();
    assert!(BearerInterceptor::new(s.cache.clone(), &far).is_err());
    let layer = BearerLayer::with_rules(s.cache.clone(), Rules::new().origin(far));
    let mut client = HealthClient::new(
        ServiceBuilder::new()
            .layer(layer)
            .service(s.channel.clone()),
    );
    let status = check(&mut client).await.unwrap_err();
    assert!(status.message().contains("plain http"), "{status:?}");
    assert_eq!(
        s.registry.accepted() + s.registry.rejected(),
        0,
        "nothing sent"
    );
    assert_eq!(s.registry.issued(), 0, "no token fetched");
}

/// A health service that checks the caller's token at the start of each
/// call, and a `Watch` stream that, after its first message, checks it
/// again when the test cues it: a token refused then ends the stream with
/// `UNAUTHENTICATED` in the trailers (tonic's server sends the headers and
/// the message first); one still good ends it with `OK` (`grpc-status: 0`
/// in the trailers).
struct Rechecking {
    registry: Arc<Registry>,
    cue: Arc<Notify>,
    watches: Arc<AtomicUsize>,
}

fn serving() -> HealthCheckResponse {
    HealthCheckResponse {
        status: ServingStatus::Serving as i32,
    }
}

fn unauthenticated(refusal: impl std::fmt::Debug) -> tonic::Status {
    tonic::Status::unauthenticated(format!("{refusal:?}"))
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl Health for Rechecking {
    async fn check(
        &self,
        request: tonic::Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<HealthCheckResponse>, tonic::Status> {
        let headers = request.metadata().clone().into_headers();
        self.registry
            .admit(&headers)
            .await
            .map_err(unauthenticated)?;
        Ok(tonic::Response::new(serving()))
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: tonic::Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<WatchStream>, tonic::Status> {
        self.watches.fetch_add(1, Ordering::SeqCst);
        let headers = request.metadata().clone().into_headers();
        self.registry
            .admit(&headers)
            .await
            .map_err(unauthenticated)?;
        let (registry, cue) = (Arc::clone(&self.registry), Arc::clone(&self.cue));
        let recheck = async move {
            cue.notified().await;
            registry
                .admit(&headers)
                .await
                .err()
                .map(|r| Err(unauthenticated(r)))
        };
        let messages = stream::once(Some(Ok(serving())))
            .chain(stream::once_future(recheck))
            .filter_map(|message| message);
        Ok(tonic::Response::new(Box::pin(messages)))
    }
}

struct Streaming {
    registry: Arc<Registry>,
    cache: TokenCache,
    cue: Arc<Notify>,
    watches: Arc<AtomicUsize>,
    client: HealthClient<BearerService<Channel, TokenCache>>,
    _server: tokio::task::JoinHandle<()>,
}

async fn streaming() -> Streaming {
    let clock = ManualClock::new();
    let registry = Registry::new(clock.clone());
    let (cue, watches) = (Arc::new(Notify::new()), Arc::new(AtomicUsize::new(0)));
    let service = HealthServer::new(Rechecking {
        registry: Arc::clone(&registry),
        cue: Arc::clone(&cue),
        watches: Arc::clone(&watches),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri: Uri = format!("http://{}", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    let server = tokio::spawn(async move {
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let _ = Server::builder()
            .add_service(service)
            .serve_with_incoming(incoming)
            .await;
    });
    let channel = Channel::builder(uri.clone()).connect().await.unwrap();
    let cache = Cache::new(
        registry.source(Duration::from_secs(3600)),
        ManualTokio::new(clock),
    );
    let layer = BearerLayer::with_rules(cache.clone(), Rules::new().origin(uri));
    let client = HealthClient::new(ServiceBuilder::new().layer(layer).service(channel));
    Streaming {
        registry,
        cache,
        cue,
        watches,
        client,
        _server: server,
    }
}

impl Streaming {
    /// A `Watch` through the layer, its first message read.
    async fn watch(&mut self) -> tonic::codec::Streaming<HealthCheckResponse> {
        let mut stream = self
            .client
            .watch(HealthCheckRequest::default())
            .await
            .unwrap()
            .into_inner();
        let first = stream.message().await.unwrap().unwrap();
        assert_eq!(first.status(), ServingStatus::Serving);
        stream
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_in_a_streams_trailers_invalidates_its_token_without_a_retry() {
    let mut s = streaming().await;
    let mut stream = s.watch().await;
    assert_eq!(s.registry.issued(), 1);
    let refused = s.registry.newest().unwrap();
    assert_eq!(s.cache.token().await.unwrap().secret(), refused);

    // The server stops taking the token mid-stream, and says so in the
    // trailers: the caller gets the status, as it would without the layer.
    s.registry.revoke(&refused);
    s.cue.notify_one();
    let status = stream.message().await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(s.registry.rejected(), 1);
    assert_eq!(s.watches.load(Ordering::SeqCst), 1, "not retried");

    // The refused token is gone from the cache: the next call carries a
    // new one (one fetch), and the server takes it at once.
    assert_eq!(check(&mut s.client).await.unwrap(), ServingStatus::Serving);
    assert_eq!(s.registry.issued(), 2, "exactly one new fetch");
    assert_eq!(
        s.registry.rejected(),
        1,
        "the refused token was not sent again"
    );
    assert_eq!(s.registry.accepted(), 2);
    assert_ne!(s.cache.token().await.unwrap().secret(), refused);
    assert_eq!(s.watches.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ok_in_a_streams_trailers_invalidates_nothing() {
    let mut s = streaming().await;
    let mut stream = s.watch().await;
    let token = s.registry.newest().unwrap();

    // The token is still good: the stream ends with `grpc-status: 0` in
    // its trailers, read through the layer's body.
    s.cue.notify_one();
    assert!(stream.message().await.unwrap().is_none());
    let trailers = stream.trailers().await.unwrap().expect("trailers");
    assert_eq!(trailers.get("grpc-status").unwrap(), "0");

    // Unary calls end with the same trailers (after the headers and the
    // message): none of them invalidates the token either.
    for _ in 0..3 {
        assert_eq!(check(&mut s.client).await.unwrap(), ServingStatus::Serving);
    }
    assert_eq!(s.cache.token().await.unwrap().secret(), token);
    assert_eq!(s.registry.issued(), 1);
    assert_eq!(s.registry.rejected(), 0);
    // The watch's start and its recheck, and the three calls.
    assert_eq!(s.registry.accepted(), 5);
}
