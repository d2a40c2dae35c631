//! BearerMiddleware on a reqwest client against the strict resource
//! server: rotations without a rejection, a revocation under 100 requests
//! in flight, a streaming body that cannot be replayed, sensitive headers,
//! plain http refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use freshen_cache::{Cache, ManualClock};
use freshen_core::{ConfigError, ErrorKind};
use freshen_reqwest_middleware::BearerMiddleware;
use freshen_testkit::resource_server::{ManualTokio, Registry, RegistrySource, ResourceServer};
use http::Extensions;
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};

type TokenCache = Cache<RegistrySource, ManualTokio>;

struct Setup {
    server: ResourceServer,
    registry: Arc<Registry>,
    middleware: BearerMiddleware<TokenCache>,
    client: ClientWithMiddleware,
}

async fn setup(lifetime: Duration) -> Setup {
    let clock = ManualClock::new();
    let registry = Registry::new(clock.clone());
    let server = ResourceServer::start(Arc::clone(&registry)).await.unwrap();
    let cache = Cache::new(registry.source(lifetime), ManualTokio::new(clock));
    let middleware = BearerMiddleware::new(cache);
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(middleware.clone())
        .build();
    Setup {
        server,
        registry,
        middleware,
        client,
    }
}

impl Setup {
    async fn post(&self) -> StatusCode {
        self.client
            .post(format!("{}/things", self.server.url()))
            .body("payload")
            .send()
            .await
            .unwrap()
            .status()
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
                tokio::spawn(async move { s.post().await })
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
    assert_eq!(s.post().await, StatusCode::OK);
    assert_eq!(s.registry.issued(), 1);

    s.registry.hold_next(100);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.post().await })
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
    assert_eq!(s.post().await, StatusCode::OK);
    s.registry.revoke(&s.registry.newest().unwrap());

    // A stream: reqwest cannot copy it, so it cannot be replayed.
    let parts = [Ok::<_, std::io::Error>(Bytes::from_static(b"first part"))];
    let body = reqwest::Body::wrap_stream(futures_lite::stream::iter(parts));
    let response = s
        .client
        .post(format!("{}/upload", s.server.url()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.registry.rejected(), 1, "not retried");
    assert_eq!(s.registry.issued(), 1, "no token fetched for a retry");

    // The rejected token was invalidated: the next request gets a new one
    // at once, rather than being rejected and retried.
    assert_eq!(s.post().await, StatusCode::OK);
    assert_eq!(s.registry.issued(), 2);
    assert_eq!(s.registry.rejected(), 1);
}

/// Records, below the bearer middleware, what goes to the network.
struct Recorder(Arc<Mutex<Vec<(bool, String)>>>);

#[async_trait::async_trait]
impl Middleware for Recorder {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let sensitive = request.headers()["authorization"].is_sensitive();
        self.0
            .lock()
            .unwrap()
            .push((sensitive, format!("{request:?}")));
        next.run(request, extensions).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_is_sensitive_and_no_secret_reaches_debug() {
    let s = setup(Duration::from_secs(3600)).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(s.middleware.clone())
        .with(Recorder(Arc::clone(&seen)))
        .build();
    let response = client
        .get(format!("{}/things", s.server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let secret = s.registry.newest().unwrap();
    let (sensitive, request_debug) = seen.lock().unwrap().pop().unwrap();
    assert!(sensitive, "the Authorization header is marked sensitive");
    assert!(request_debug.contains("authorization"), "{request_debug}");
    let shown = [
        request_debug,
        format!("{response:?}"),
        format!("{client:?}"),
        format!("{:?}", s.middleware),
        format!("{:?}", s.middleware.authorizer()),
        format!("{:?}", s.middleware.authorizer().cache()),
    ];
    for text in shown {
        assert!(!text.contains(&secret), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_another_host_is_refused_before_anything_is_sent() {
    let s = setup(Duration::from_secs(3600)).await;
    let error = s
        .client
        .get("http://api.example.invalid/secret?key=1")
        .send()
        .await
        .unwrap_err();
    let shown = format!("{error} {error:?}");
    let reqwest_middleware::Error::Middleware(error) = error else {
        panic!("sent: {error}");
    };
    let error = error.downcast::<freshen_core::Error>().unwrap();
    assert!(matches!(
        error.kind(),
        ErrorKind::Config(ConfigError::InsecureHttp { .. })
    ));
    assert!(!shown.contains("key=1"), "{shown}");
    assert_eq!(s.registry.issued(), 0, "no token was even fetched");
}
