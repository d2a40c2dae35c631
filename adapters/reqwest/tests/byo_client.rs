//! A caller's own reqwest Client: it is the one used (its default headers
//! reach the server), freshen's User-Agent and timeout go on each request,
//! and a response from another origin is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use freshen_core::ErrorKind;
use freshen_oauth::transport::TransportConfig;
use freshen_oauth::{AsyncTransport, HttpRequest, Method};
use freshen_reqwest::ReqwestTransport;
use freshen_testkit::{Fault, FaultServer};
use reqwest::header::{HeaderMap, HeaderValue};

fn token_request(url: &str) -> HttpRequest {
    HttpRequest::new(Method::Post, url)
        .with_header("Content-Type", "application/x-www-form-urlencoded")
        .with_body("grant_type=client_credentials")
}

fn client() -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert("x-client", HeaderValue::from_static("mine"));
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_client_passed_in_is_the_one_used() {
    let server = FaultServer::start(vec![Fault::token("t", 3600)]);
    let transport = ReqwestTransport::from_client(client(), TransportConfig::default());
    let response = transport
        .send(token_request(&server.token_url()))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    let seen = server.last_request().unwrap();
    assert_eq!(seen.header("x-client"), Some("mine"));
    assert!(seen.header("user-agent").unwrap().starts_with("freshen/"));
}

#[tokio::test]
async fn freshens_timeout_applies_to_the_clients_requests() {
    let server = FaultServer::start(vec![Fault::slow(
        Duration::from_secs(30),
        Fault::token("late", 3600),
    )]);
    let config = TransportConfig::default().with_timeout(Duration::from_millis(300));
    let transport = ReqwestTransport::from_client(client(), config);
    let error = transport
        .send(token_request(&server.token_url()))
        .await
        .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::Timeout { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_response_from_another_origin_is_refused() {
    // The client's default policy follows any redirect; the token it
    // brings back from elsewhere is not accepted.
    let elsewhere = FaultServer::start(vec![Fault::token("foreign", 3600)]);
    let server = FaultServer::start(vec![Fault::redirect(302, elsewhere.token_url())]);
    let transport = ReqwestTransport::from_client(client(), TransportConfig::default());
    let error = transport
        .send(token_request(&server.token_url()))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("another origin"), "{error}");
}
