//! The middleware's rules without a network: a scripted middleware below
//! it answers in place of the server.
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

use freshen_cache::{Cache, ManualClock};
use freshen_core::{Error, Fetched, TokenSource};
use freshen_http::Rules;
use freshen_reqwest_middleware::BearerMiddleware;
use freshen_testkit::resource_server::{Answer, ManualTokio, Registry, Script};
use http::Extensions;
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{ClientBuilder, Middleware, Next};

/// The script, as the last middleware: it answers, and never calls the
/// network.
#[derive(Clone, Default)]
struct Scripted(Script);

impl Scripted {
    fn new(answers: impl IntoIterator<Item = Answer>) -> Self {
        Scripted(Script::new(answers))
    }

    fn seen(&self) -> Vec<String> {
        self.0.seen()
    }
}

#[async_trait::async_trait]
impl Middleware for Scripted {
    async fn handle(
        &self,
        request: Request,
        _: &mut Extensions,
        _: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let (status, challenge) = self.0.answer(request.headers());
        let mut response = http::Response::builder().status(status);
        if let Some(challenge) = challenge {
            response = response.header("www-authenticate", challenge);
        }
        Ok(response.body("").unwrap().into())
    }
}

type TokenCache = Cache<freshen_testkit::resource_server::RegistrySource, ManualTokio>;

fn cache() -> (TokenCache, Arc<Registry>) {
    let clock = ManualClock::new();
    let registry = Registry::new(clock.clone());
    let source = registry.source(Duration::from_secs(3600));
    (Cache::new(source, ManualTokio::new(clock)), registry)
}

async fn call<C: freshen_http::BearerCache>(
    middleware: BearerMiddleware<C>,
    server: &Scripted,
) -> reqwest_middleware::Result<Response> {
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(middleware)
        .with(server.clone())
        .build();
    client
        .post("https://api.example.com/x")
        .body("body")
        .send()
        .await
}

#[tokio::test]
async fn a_401_is_retried_once_with_a_newer_token() {
    let (cache, registry) = cache();
    let server = Scripted::new([(StatusCode::UNAUTHORIZED, None)]);
    let response = call(BearerMiddleware::new(cache), &server).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_ne!(
        seen[0], seen[1],
        "the retry never resends the rejected token"
    );
    assert_eq!(registry.issued(), 2);
}

#[tokio::test]
async fn a_second_401_goes_back_to_the_caller() {
    let (cache, registry) = cache();
    let server = Scripted::new([
        (StatusCode::UNAUTHORIZED, None),
        (StatusCode::UNAUTHORIZED, None),
    ]);
    let response = call(BearerMiddleware::new(cache), &server).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.seen().len(), 2, "retried at most once");
    assert_eq!(registry.issued(), 2);
}

#[tokio::test]
async fn with_retry_off_a_401_goes_back_and_the_next_request_carries_a_newer_token() {
    let (cache, registry) = cache();
    let server = Scripted::new([(StatusCode::UNAUTHORIZED, None)]);
    let middleware = BearerMiddleware::with_rules(cache, Rules::new().retry_rejected(false));
    let first = call(middleware.clone(), &server).await.unwrap();
    assert_eq!(first.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        server.seen().len(),
        1,
        "not retried, replayable body or not"
    );
    let second = call(middleware, &server).await.unwrap();
    assert_eq!(second.status(), StatusCode::OK);
    let seen = server.seen();
    assert_ne!(seen[0], seen[1], "the rejected token was invalidated");
    assert_eq!(registry.issued(), 2);
}

#[tokio::test]
async fn invalid_token_in_the_challenge_rejects_whatever_the_status() {
    let (cache, _) = cache();
    let challenge = Some("Bearer realm=\"api\", error=\"invalid_token\"");
    let server = Scripted::new([(StatusCode::BAD_REQUEST, challenge)]);
    let response = call(BearerMiddleware::new(cache), &server).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn a_403_neither_invalidates_nor_retries_by_default() {
    let (cache, registry) = cache();
    let server = Scripted::new([(StatusCode::FORBIDDEN, None)]);
    let middleware = BearerMiddleware::new(cache);
    let response = call(middleware.clone(), &server).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(server.seen().len(), 1);
    // The token was kept: the next request carries it again.
    let response = call(middleware, &server).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = server.seen();
    assert_eq!(seen[0], seen[1]);
    assert_eq!(registry.issued(), 1);
}

#[tokio::test]
async fn a_403_invalidates_and_retries_where_the_predicate_says_so() {
    let (cache, registry) = cache();
    let server = Scripted::new([(StatusCode::FORBIDDEN, None)]);
    let rules = Rules::new().invalidate_on_forbidden(|status, _| status == StatusCode::FORBIDDEN);
    let response = call(BearerMiddleware::with_rules(cache, rules), &server)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_ne!(seen[0], seen[1]);
    assert_eq!(registry.issued(), 2);
}

/// A token endpoint that answers with the same secret every time.
struct SameSecret(Arc<AtomicUsize>);

impl TokenSource for SameSecret {
    async fn fetch(&self) -> Result<Fetched, Error> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(Fetched::new("same-secret").with_lifetime(Duration::from_secs(3600)))
    }
}

#[tokio::test]
async fn a_rejected_secret_is_never_resent_even_when_its_invalidation_cannot_be_confirmed() {
    // The cache refuses the endpoint's answer (the rejected secret again)
    // as no progress: the retry is called off rather than resending it.
    let fetches = Arc::new(AtomicUsize::new(0));
    let clock = ManualClock::new();
    let cache = Cache::new(SameSecret(Arc::clone(&fetches)), ManualTokio::new(clock));
    let server = Scripted::new([(StatusCode::UNAUTHORIZED, None)]);
    let answer = call(BearerMiddleware::new(cache), &server).await;
    // The caller is told why: the cache's error, as the tower layer's.
    let Err(reqwest_middleware::Error::Middleware(error)) = answer else {
        panic!("{answer:?}");
    };
    assert!(error.downcast_ref::<Error>().is_some(), "{error:?}");
    assert_eq!(
        server.seen(),
        ["Bearer same-secret"],
        "sent once, never resent"
    );
    assert!(
        fetches.load(Ordering::SeqCst) >= 2,
        "a newer token was asked for"
    );
}
