//! BearerLayer on a hyper-util client against the strict resource server:
//! rotations without a rejection, a revocation under 100 requests in
//! flight, a streaming body that cannot be replayed, sensitive headers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use freshen_cache::{Cache, ManualClock};
use freshen_core::{ConfigError, ErrorKind};
use freshen_testkit::resource_server::{ManualTokio, Registry, RegistrySource, ResourceServer};
use freshen_tower::{BearerBody, BearerError, BearerLayer, BearerService};
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::{Service, ServiceBuilder, ServiceExt};

type Body = BoxBody<Bytes, Infallible>;
type TokenCache = Cache<RegistrySource, ManualTokio>;
type Api = BearerService<Client<HttpConnector, Body>, TokenCache>;

struct Setup {
    server: ResourceServer,
    registry: Arc<Registry>,
    client: Api,
}

async fn setup(lifetime: Duration) -> Setup {
    let clock = ManualClock::new();
    let registry = Registry::new(clock.clone());
    let server = ResourceServer::start(Arc::clone(&registry)).await.unwrap();
    let cache = Cache::new(registry.source(lifetime), ManualTokio::new(clock));
    let http = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let client = ServiceBuilder::new()
        .layer(BearerLayer::new(cache))
        .service(http);
    Setup {
        server,
        registry,
        client,
    }
}

fn full(text: &'static str) -> Body {
    Full::new(Bytes::from_static(text.as_bytes())).boxed()
}

impl Setup {
    fn get(&self) -> Request<Body> {
        Request::post(format!("{}/things", self.server.url()))
            .body(full("payload"))
            .unwrap()
    }

    async fn send(&self, request: Request<Body>) -> Response<BearerBody<hyper::body::Incoming>> {
        let mut client = self.client.clone();
        client.ready().await.unwrap().call(request).await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_requests_across_rotations_are_never_rejected() {
    let s = Arc::new(setup(Duration::from_secs(60)).await);
    let rounds = 18;
    let width = 32;
    for _ in 0..rounds {
        let tasks: Vec<_> = (0..width)
            .map(|_| {
                let s = Arc::clone(&s);
                tokio::spawn(async move { s.send(s.get()).await.status() })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), StatusCode::OK);
        }
        // 10 s of a 60 s token a round: 180 s, three lifetimes.
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
async fn a_token_revoked_under_100_requests_in_flight_costs_one_refresh() {
    let s = Arc::new(setup(Duration::from_secs(3600)).await);
    assert_eq!(s.send(s.get()).await.status(), StatusCode::OK);
    assert_eq!(s.registry.issued(), 1);

    s.registry.hold_next(100);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.send(s.get()).await.status() })
        })
        .collect();
    s.registry.until_held(100).await;
    assert!(s.registry.revoke(&s.registry.newest().unwrap()));
    s.registry.release();
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    // Every request was rejected once and retried once; one refresh.
    assert_eq!(s.registry.rejected(), 100);
    assert_eq!(s.registry.accepted(), 1 + 100);
    assert_eq!(s.registry.issued(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_body_is_not_retried_and_its_token_is_still_invalidated() {
    let s = setup(Duration::from_secs(3600)).await;
    assert_eq!(s.send(s.get()).await.status(), StatusCode::OK);
    s.registry.revoke(&s.registry.newest().unwrap());

    // A body still being produced: it cannot be replayed.
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(1);
    tx.send_data(Bytes::from_static(b"first part"))
        .await
        .unwrap();
    let request = Request::post(format!("{}/upload", s.server.url()))
        .body(body.boxed())
        .unwrap();
    let response = s.send(request).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.registry.rejected(), 1, "not retried");
    drop(tx);

    // The rejected token was invalidated: the next request gets a new one
    // at once, rather than being rejected and retried.
    assert_eq!(s.send(s.get()).await.status(), StatusCode::OK);
    assert_eq!(s.registry.issued(), 2);
    assert_eq!(s.registry.rejected(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_is_sensitive_and_no_secret_reaches_debug() {
    let s = setup(Duration::from_secs(3600)).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    // A recorder below the layer sees what goes on the wire.
    let clock = ManualClock::new();
    let cache = Cache::new(
        s.registry.source(Duration::from_secs(3600)),
        ManualTokio::new(clock),
    );
    let http = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let layer = BearerLayer::new(cache);
    let mut client = ServiceBuilder::new()
        .layer(layer.clone())
        .map_request(move |request: Request<Body>| {
            let header = request.headers()["authorization"].clone();
            record
                .lock()
                .unwrap()
                .push((header.is_sensitive(), format!("{request:?}")));
            request
        })
        .service(http);
    let response = client.ready().await.unwrap().call(s.get()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let secret = s.registry.newest().unwrap();
    let (sensitive, request_debug) = seen.lock().unwrap().pop().unwrap();
    assert!(sensitive, "the Authorization header is marked sensitive");
    let shown = [
        request_debug,
        format!("{client:?}"),
        format!("{layer:?}"),
        format!("{:?}", layer.authorizer()),
        format!("{:?}", layer.authorizer().cache()),
    ];
    for text in shown {
        assert!(!text.contains(&secret), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_another_host_is_refused_before_anything_is_sent() {
    let s = setup(Duration::from_secs(3600)).await;
    let request = Request::get("http://api.example.invalid/secret?key=1")
        .body(full(""))
        .unwrap();
    let mut client = s.client.clone();
    let error = client
        .ready()
        .await
        .unwrap()
        .call(request)
        .await
        .unwrap_err();
    match &error {
        BearerError::Token(e) => {
            assert!(matches!(
                e.kind(),
                ErrorKind::Config(ConfigError::InsecureHttp { .. })
            ));
        }
        BearerError::Service(e) => panic!("sent: {e}"),
    }
    assert!(!error.to_string().contains("key=1"), "{error}");
    assert_eq!(s.registry.issued(), 0, "no token was even fetched");
}
