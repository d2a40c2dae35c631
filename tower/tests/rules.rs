//! The layer's rules without a network: a scripted service answers, on a
//! smol cache (the layer takes any async freshen cache).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use freshen_cache::ManualClock;
use freshen_http::Rules;
use freshen_smol::{SmolCache, SmolRuntime};
use freshen_testkit::resource_server::{Answer, Registry, RegistrySource, Script};
use freshen_tower::{BearerBody, BearerError, BearerLayer};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use tower::{Service, ServiceBuilder, ServiceExt};

type Cache = SmolCache<RegistrySource, ManualClock>;

/// The script, as a tower service.
#[derive(Clone)]
struct Scripted(Script);

impl Scripted {
    fn new(answers: impl IntoIterator<Item = Answer>) -> Self {
        Scripted(Script::new(answers))
    }

    fn seen(&self) -> Vec<String> {
        self.0.seen()
    }

    fn service(
        &self,
    ) -> impl Service<
        Request<Full<Bytes>>,
        Response = Response<()>,
        Error = Infallible,
        Future: Send,
    > + Clone
    + Send
    + 'static {
        let this = self.clone();
        tower::service_fn(move |request: Request<Full<Bytes>>| {
            let (status, challenge) = this.0.answer(request.headers());
            async move {
                let mut response = Response::new(());
                *response.status_mut() = status;
                if let Some(challenge) = challenge {
                    response
                        .headers_mut()
                        .insert("www-authenticate", HeaderValue::from_static(challenge));
                }
                Ok::<_, Infallible>(response)
            }
        })
    }
}

fn cache() -> (Cache, Arc<Registry>) {
    let clock = ManualClock::new();
    let registry = Registry::new(clock.clone());
    let source = registry.source(Duration::from_secs(3600));
    (
        SmolCache::new(source, SmolRuntime::new().with_clock(clock)),
        registry,
    )
}

fn request() -> Request<Full<Bytes>> {
    Request::get("https://api.example.com/x")
        .body(Full::new(Bytes::from_static(b"body")))
        .unwrap()
}

async fn call(
    layer: BearerLayer<Cache>,
    server: &Scripted,
) -> Result<Response<BearerBody<()>>, BearerError<Infallible>> {
    let mut service = ServiceBuilder::new().layer(layer).service(server.service());
    service.ready().await?.call(request()).await
}

#[test]
fn a_401_is_retried_once_with_a_newer_token() {
    smol::block_on(async {
        let (cache, registry) = cache();
        let server = Scripted::new([(StatusCode::UNAUTHORIZED, None)]);
        let response = call(BearerLayer::new(cache), &server).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let seen = server.seen();
        assert_eq!(seen.len(), 2);
        assert_ne!(
            seen[0], seen[1],
            "the retry never resends the rejected token"
        );
        assert_eq!(registry.issued(), 2);
    });
}

#[test]
fn one_service_follows_the_cache_to_each_new_token() {
    smol::block_on(async {
        let (cache, registry) = cache();
        let server = Scripted::new([]);
        let mut service = ServiceBuilder::new()
            .layer(BearerLayer::new(cache))
            .service(server.service());
        for _ in 0..3 {
            for _ in 0..2 {
                let response = service.ready().await.unwrap().call(request()).await;
                assert_eq!(response.unwrap().status(), StatusCode::OK);
            }
            // Past the token's lifetime: the next request waits for a new
            // one, and the one after it takes the new one at once.
            registry.clock().advance(Duration::from_secs(3601));
        }
        let seen = server.seen();
        assert_eq!(seen.len(), 6);
        for pair in seen.chunks(2) {
            assert_eq!(pair[0], pair[1], "one token, two requests");
        }
        assert_ne!(seen[1], seen[2], "the service kept no old token");
        assert_ne!(seen[3], seen[4], "the service kept no old token");
        assert_eq!(registry.issued(), 3);
        assert_eq!(registry.rejected(), 0);
    });
}

#[test]
fn a_second_401_goes_back_to_the_caller() {
    smol::block_on(async {
        let (cache, registry) = cache();
        let server = Scripted::new([
            (StatusCode::UNAUTHORIZED, None),
            (StatusCode::UNAUTHORIZED, None),
        ]);
        let response = call(BearerLayer::new(cache), &server).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(server.seen().len(), 2, "retried at most once");
        assert_eq!(registry.issued(), 2);
    });
}

#[test]
fn with_retry_off_a_401_goes_back_and_the_next_request_carries_a_newer_token() {
    smol::block_on(async {
        let (cache, registry) = cache();
        let server = Scripted::new([(StatusCode::UNAUTHORIZED, None)]);
        let layer = BearerLayer::with_rules(cache, Rules::new().retry_rejected(false));
        let mut service = ServiceBuilder::new().layer(layer).service(server.service());
        let first = service.ready().await.unwrap().call(request()).await;
        assert_eq!(first.unwrap().status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            server.seen().len(),
            1,
            "not retried, replayable body or not"
        );
        let second = service.ready().await.unwrap().call(request()).await;
        assert_eq!(second.unwrap().status(), StatusCode::OK);
        let seen = server.seen();
        assert_ne!(seen[0], seen[1], "the rejected token was invalidated");
        assert_eq!(registry.issued(), 2);
    });
}

#[test]
fn invalid_token_in_the_challenge_rejects_whatever_the_status() {
    smol::block_on(async {
        let (cache, _) = cache();
        let challenge = Some("Bearer realm=\"api\", error=\"invalid_token\"");
        let server = Scripted::new([(StatusCode::BAD_REQUEST, challenge)]);
        let response = call(BearerLayer::new(cache), &server).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(server.seen().len(), 2);
    });
}

#[test]
fn a_403_neither_invalidates_nor_retries_by_default() {
    smol::block_on(async {
        let (cache, registry) = cache();
        let server = Scripted::new([(StatusCode::FORBIDDEN, None)]);
        let layer = BearerLayer::new(cache);
        let response = call(layer.clone(), &server).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(server.seen().len(), 1);
        // The token was kept: the next request carries it again.
        assert_eq!(call(layer, &server).await.unwrap().status(), StatusCode::OK);
        let seen = server.seen();
        assert_eq!(seen[0], seen[1]);
        assert_eq!(registry.issued(), 1);
    });
}

#[test]
fn a_403_invalidates_and_retries_where_the_predicate_says_so() {
    smol::block_on(async {
        let (cache, registry) = cache();
        let server = Scripted::new([(StatusCode::FORBIDDEN, None)]);
        let rules =
            Rules::new().invalidate_on_forbidden(|status, _| status == StatusCode::FORBIDDEN);
        let response = call(BearerLayer::with_rules(cache, rules), &server)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let seen = server.seen();
        assert_eq!(seen.len(), 2);
        assert_ne!(seen[0], seen[1]);
        assert_eq!(registry.issued(), 2);
    });
}
