//! ShapeKey: every token-shaping parameter tells keys apart; order and
//! repeats within a set do not; no secret is shown.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use freshen_oauth::{ClientAuth, TokenExchange, TokenRequest};

const URL: &str = "https://auth.example.com/token";

fn base() -> TokenRequest {
    TokenRequest::client_credentials(URL, ClientAuth::basic("app", "s3cret-value"))
        .scope("read")
        .audience("api")
}

#[test]
fn every_token_shaping_parameter_is_in_the_key() {
    let exchange = |subject: &str| {
        TokenRequest::token_exchange(URL, TokenExchange::new(subject, "urn:x:jwt"))
            .with_client(ClientAuth::basic("app", "s3cret-value"))
    };
    let variants = [
        base(),
        base().scope("write"),
        base().audience("other-api"),
        base().resource("https://api.example.com"),
        base().param("tenant", "a"),
        base().param("tenant", "b"),
        TokenRequest::client_credentials(
            "https://other.example.com/token",
            ClientAuth::basic("app", "s3cret-value"),
        )
        .scope("read")
        .audience("api"),
        TokenRequest::client_credentials(URL, ClientAuth::basic("other-app", "s3cret-value"))
            .scope("read")
            .audience("api"),
        // The same client id with another secret (or method): a caller with
        // wrong credentials must not be served the right ones' token.
        TokenRequest::client_credentials(URL, ClientAuth::basic("app", "wrong"))
            .scope("read")
            .audience("api"),
        TokenRequest::client_credentials(URL, ClientAuth::post("app", "s3cret-value"))
            .scope("read")
            .audience("api"),
        exchange("subject-a"),
        exchange("subject-b"),
        TokenRequest::refresh(URL, ClientAuth::basic("app", "s3cret-value"), "rt-a"),
        TokenRequest::refresh(URL, ClientAuth::basic("app", "s3cret-value"), "rt-b"),
    ];
    let keys: HashSet<_> = variants.iter().map(TokenRequest::shape_key).collect();
    assert_eq!(keys.len(), variants.len());
}

#[test]
fn sets_are_sets() {
    let a = base()
        .scope("write")
        .audience("b")
        .resource("r1")
        .resource("r2");
    let b = TokenRequest::client_credentials(URL, ClientAuth::basic("app", "s3cret-value"))
        .scopes(["write", "read", "write"])
        .audience("b")
        .audience("api")
        .resource("r2")
        .resource("r1");
    assert_eq!(a.shape_key(), b.shape_key());
    let set: HashSet<_> = [a.shape_key(), b.shape_key()].into_iter().collect();
    assert_eq!(set.len(), 1);
}

#[test]
fn the_key_shows_no_secret() {
    let request = TokenRequest::token_exchange(URL, TokenExchange::new("subject-secret", "urn:x"))
        .with_client(ClientAuth::basic("app", "s3cret-value"))
        .param("api_key", "param-secret");
    let shown = format!("{:?}", request.shape_key());
    for secret in ["s3cret-value", "subject-secret", "param-secret"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}
