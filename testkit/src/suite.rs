//! One conformance suite for every transport, run against a
//! [`FaultServer`].
//!
//! Each case is an `async fn` taking a constructor `make(config) -> T` for
//! the transport under test, so a transport crate's tests are one line per
//! case, on whatever executor fits it. A blocking [`Transport`] runs through
//! [`Blocking`].
//!
//! [`transport_suite!`](crate::transport_suite) writes one `#[test]` per
//! case, so every transport runs the whole list:
//!
//! ```ignore
//! // In a transport crate's tests/transport.rs:
//! fn make(config: TransportConfig) -> MyTransport {
//!     MyTransport::with_config(config)
//! }
//! freshen_testkit::transport_suite!(|case| smol::block_on(case), make);
//! ```
// The suite is test code: a failed check panics with a message.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

/// One `#[test]` per case of the suite, each running
/// `$run(suite::case($make))`: `$run` drives a future to completion on the
/// transport's executor (`|case| smol::block_on(case)`, a tokio runtime's
/// `block_on`), `$make` builds the transport from a `TransportConfig`.
#[macro_export]
macro_rules! transport_suite {
    ($run:expr, $make:expr) => {
        $crate::transport_suite!(@cases $run, $make;
            ok_response_intact,
            token_and_get,
            error_statuses_are_responses,
            connection_refused,
            hangup_is_transport_error,
            slow_times_out,
            huge_body_refused,
            huge_chunked_body_refused,
            body_cap_is_exact,
            redirect_to_http_refused,
            redirect_to_other_origin_refused,
            same_origin_307_followed,
            same_origin_303_becomes_get,
            redirect_limit,
            insecure_http_refused,
            user_agent_sent,
            sequential_requests,
        );
    };
    (@cases $run:expr, $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let run = $run;
                run($crate::suite::$case($make));
            }
        )*
    };
}

use std::future::Future;
use std::time::{Duration, Instant};

use freshen_core::{Error, ErrorKind};
use freshen_oauth::transport::{DEFAULT_USER_AGENT, MAX_REDIRECTS, TransportConfig};
use freshen_oauth::{AsyncTransport, HttpRequest, HttpResponse, Method, Transport};

use crate::fault::{Fault, INVALID_HOST};
use crate::server::{FaultServer, Script, closed_port, refused_url};

/// The client secret every suite request carries (Basic auth and body):
/// no error message may contain it.
pub const SECRET: &str = "s3cr3t-never-shown";

/// A blocking [`Transport`] seen as an [`AsyncTransport`]: `send` runs the
/// whole request when the future is created (fine for tests, not for an
/// executor).
#[derive(Debug, Clone)]
pub struct Blocking<T>(pub T);

impl<T: Transport> AsyncTransport for Blocking<T> {
    fn send(
        &self,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, Error>> + Send {
        std::future::ready(self.0.send(&request))
    }
}

/// A token request as the core builds one: a form `POST` with Basic auth.
pub fn token_request(url: &str) -> HttpRequest {
    HttpRequest::new(Method::Post, url)
        .with_header("Content-Type", "application/x-www-form-urlencoded")
        .with_header("Accept", "application/json")
        // client:s3cr3t-never-shown
        .with_header(
            "Authorization",
            "Basic Y2xpZW50OnMzY3IzdC1uZXZlci1zaG93bg==",
        )
        .with_header("X-Request-Id", "suite-1")
        .with_body(format!(
            "grant_type=client_credentials&client_secret={SECRET}"
        ))
}

/// A query parameter the suite puts on URLs that cannot be reached: a URL's
/// query may carry a secret, so no error (nor its causes) may quote it.
pub const QUERY_SECRET: &str = "q-s3cr3t-in-the-query";

/// The error and every cause below it, as `Display` and `Debug`.
fn shown_with_causes(e: &Error) -> String {
    let mut shown = format!("{e} {e:?}");
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        shown.push_str(&format!(" / {c} {c:?}"));
        cause = c.source();
    }
    shown
}

fn assert_no_secret(e: &Error) {
    let shown = shown_with_causes(e);
    assert!(!shown.contains(SECRET), "error shows the secret: {shown}");
    assert!(
        !shown.contains("Y2xpZW50OnMzY3IzdC1uZXZlci1zaG93bg"),
        "error shows the Authorization header: {shown}"
    );
    assert!(
        !shown.contains(QUERY_SECRET),
        "error shows the URL's query: {shown}"
    );
}

/// A transport failure keeps the HTTP client's own error as its cause.
fn assert_has_cause(e: &Error, what: &str) {
    assert!(
        std::error::Error::source(e).is_some(),
        "{what}: the transport's error is not kept as the cause: {e:?}"
    );
}

fn expect_err(result: Result<HttpResponse, Error>, what: &str) -> Error {
    match result {
        Ok(r) => panic!("{what}: expected an error, got {r:?}"),
        Err(e) => {
            assert_no_secret(&e);
            e
        }
    }
}

fn expect_ok(result: Result<HttpResponse, Error>, what: &str) -> HttpResponse {
    match result {
        Ok(r) => r,
        Err(e) => panic!("{what}: expected a response, got {e:?} ({e})"),
    }
}

fn assert_config_error(e: &Error, what: &str) {
    assert!(
        matches!(e.kind(), ErrorKind::Config(_)) && e.is_permanent(),
        "{what}: expected a permanent Config error, got {e:?}"
    );
}

/// A `200` comes back with its status, headers and body intact (binary
/// body, custom headers), and the request arrives intact: method, path,
/// headers, body and auth.
pub async fn ok_response_intact<T: AsyncTransport>(make: impl Fn(TransportConfig) -> T) {
    let body: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let server = FaultServer::start(Fault::Raw {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "application/octet-stream".into()),
            ("X-Fault".into(), "intact".into()),
        ],
        body: body.clone(),
    });
    let t = make(TransportConfig::default());
    let request = token_request(&server.url("/token?x=1"));
    let response = expect_ok(t.send(request.clone()).await, "200");
    assert_eq!(response.status, 200);
    assert_eq!(response.body.as_slice(), body.as_slice());
    assert_eq!(response.header("x-fault"), Some("intact"));
    assert_eq!(
        response.header("content-type"),
        Some("application/octet-stream")
    );

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let got = &requests[0];
    assert_eq!(got.method, "POST");
    assert_eq!(got.path, "/token?x=1");
    assert_eq!(got.body.as_slice(), request.body.as_slice());
    assert_eq!(
        got.basic_auth(),
        Some(("client".to_string(), SECRET.to_string()))
    );
    assert_eq!(got.header("x-request-id"), Some("suite-1"));
    assert_eq!(
        got.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        got.form_value("grant_type").as_deref(),
        Some("client_credentials")
    );
}

/// A token response (JSON) comes back byte for byte, and a `GET` (metadata
/// servers) goes out without a body.
pub async fn token_and_get<T: AsyncTransport>(make: impl Fn(TransportConfig) -> T) {
    let server = FaultServer::start(Fault::token("tok-1", 3600));
    let t = make(TransportConfig::default());
    let response = expect_ok(t.send(token_request(&server.token_url())).await, "token");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.body.as_slice(),
        br#"{"access_token":"tok-1","token_type":"Bearer","expires_in":3600}"#
    );
    let get = HttpRequest::new(Method::Get, server.url("/metadata/token"))
        .with_header("Metadata-Flavor", "Google");
    let response = expect_ok(t.send(get).await, "GET");
    assert_eq!(response.status, 200);
    let last = server.last_request().unwrap();
    assert_eq!(last.method, "GET");
    assert_eq!(last.path, "/metadata/token");
    assert!(last.body.is_empty());
    assert_eq!(last.header("metadata-flavor"), Some("Google"));
}

/// 4xx and 5xx come back as responses with their bodies and headers, not
/// as errors: the OAuth2 error is in the body.
pub async fn error_statuses_are_responses<T: AsyncTransport>(make: impl Fn(TransportConfig) -> T) {
    let faults = vec![
        (Fault::oauth_error("invalid_grant"), 400, "invalid_grant"),
        (
            Fault::OAuthError {
                status: 401,
                error: "invalid_client".into(),
                description: Some("bad secret".into()),
            },
            401,
            "invalid_client",
        ),
        (Fault::rate_limited(7), 429, "slow down"),
        (Fault::status(500), 500, "upstream said 500"),
        (Fault::status(502), 502, "upstream said 502"),
        (Fault::status(503), 503, "upstream said 503"),
        (Fault::Html, 200, "<html>"),
        (Fault::TruncatedJson, 200, r#""expi"#),
    ];
    let server = FaultServer::start(Script::queue(faults.iter().map(|(f, _, _)| f.clone())));
    let t = make(TransportConfig::default());
    for (fault, status, needle) in faults {
        let response = expect_ok(
            t.send(token_request(&server.token_url())).await,
            &format!("{fault:?}"),
        );
        assert_eq!(response.status, status, "{fault:?}");
        let text = String::from_utf8_lossy(&response.body);
        assert!(text.contains(needle), "{fault:?}: body {text:?}");
        if status == 429 {
            assert_eq!(response.header("retry-after"), Some("7"));
        }
    }
}

/// Nothing listening: a transient `Transport` error, whose cause is the
/// HTTP client's error, and which quotes neither the secret nor the URL's
/// query.
pub async fn connection_refused<T: AsyncTransport>(make: impl Fn(TransportConfig) -> T) {
    let t = make(TransportConfig::default().with_connect_timeout(Duration::from_secs(2)));
    let url = format!("{}?audience={QUERY_SECRET}", refused_url());
    let e = expect_err(t.send(token_request(&url)).await, "refused");
    assert!(
        matches!(e.kind(), ErrorKind::Transport(_)) && !e.is_permanent(),
        "refused: expected a transient Transport error, got {e:?}"
    );
    assert_has_cause(&e, "refused");
}

/// The server closes the connection without answering: a transient
/// `Transport` error.
pub async fn hangup_is_transport_error<T: AsyncTransport>(make: impl Fn(TransportConfig) -> T) {
    let server = FaultServer::start(Fault::Hangup);
    let t = make(TransportConfig::default());
    let url = format!("{}?audience={QUERY_SECRET}", server.token_url());
    let e = expect_err(t.send(token_request(&url)).await, "hangup");
    assert!(
        matches!(e.kind(), ErrorKind::Transport(_)) && !e.is_permanent(),
        "hangup: expected a transient Transport error, got {e:?}"
    );
    assert_has_cause(&e, "hangup");
}

/// A server slower than the client's total timeout (300 ms against 3 s):
/// a transient `Timeout` error, within about the timeout.
pub async fn slow_times_out<T: AsyncTransport>(make: impl Fn(TransportConfig) -> T) {
    let timeout = Duration::from_millis(300);
    let server = FaultServer::start(Fault::slow(
        Duration::from_secs(3),
        Fault::token("late", 3600),
    ));
    let t = make(
        TransportConfig::default()
            .with_timeout(timeout)
            .with_connect_timeout(timeout),
    );
    let started = Instant::now();
    let e = expect_err(t.send(token_request(&server.token_url())).await, "slow");
    let took = started.elapsed();
    assert!(
        matches!(e.kind(), ErrorKind::Timeout { .. }) && !e.is_permanent(),
        "slow: expected a transient Timeout error, got {e:?}"
    );
    assert!(
        took >= Duration::from_millis(250),
        "slow: gave up after {took:?}"
    );
    assert!(took < Duration::from_millis(2500), "slow: took {took:?}");
}

async fn huge<T: AsyncTransport>(make: impl Fn(TransportConfig) -> T, fault: Fault) {
    let server = FaultServer::start(fault.clone());
    let config = TransportConfig::default();
    let limit = config.max_body();
    let t = make(config);
    let started = Instant::now();
    let e = expect_err(t.send(token_request(&server.token_url())).await, "64 MiB");
    let took = started.elapsed();
    assert_eq!(
        e.kind(),
        &ErrorKind::ResponseTooLarge { limit },
        "{fault:?}: got {e:?}"
    );
    assert!(took < Duration::from_secs(5), "{fault:?}: took {took:?}");
}

/// A 64 MiB body with a declared length: `ResponseTooLarge`, fast.
pub async fn huge_body_refused<T: AsyncTransport>(make: impl Fn(TransportConfig) -> T) {
    huge(make, Fault::huge()).await;
}

/// A 64 MiB chunked body (no declared length): `ResponseTooLarge` after
/// reading about the cap, fast.
pub async fn huge_chunked_body_refused<T: AsyncTransport>(make: impl Fn(TransportConfig) -> T) {
    huge(make, Fault::huge_chunked()).await;
}

/// A body of exactly the cap is accepted; one byte more is not.
pub async fn body_cap_is_exact<T: AsyncTransport>(make: impl Fn(TransportConfig) -> T) {
    let cap = 1000;
    let reply = |len: usize, chunked: bool| {
        if chunked {
            Fault::Huge {
                bytes: len as u64,
                chunked: true,
            }
        } else {
            Fault::Raw {
                status: 200,
                headers: Vec::new(),
                body: vec![b'a'; len],
            }
        }
    };
    for chunked in [false, true] {
        let server = FaultServer::start(vec![reply(cap, chunked), reply(cap + 1, chunked)]);
        let t = make(TransportConfig::default().with_max_body(cap));
        let ok = expect_ok(
            t.send(token_request(&server.token_url())).await,
            "at the cap",
        );
        assert_eq!(ok.body.len(), cap, "chunked: {chunked}");
        let e = expect_err(
            t.send(token_request(&server.token_url())).await,
            "over the cap",
        );
        assert_eq!(
            e.kind(),
            &ErrorKind::ResponseTooLarge { limit: cap },
            "chunked: {chunked}"
        );
    }
}

/// A redirect to plain http on another host is refused (a permanent
/// `Config` error) without a second request.
pub async fn redirect_to_http_refused<T: AsyncTransport>(make: impl Fn(TransportConfig) -> T) {
    let server = FaultServer::start(Fault::redirect_to_http());
    let t = make(TransportConfig::default());
    let e = expect_err(
        t.send(token_request(&server.token_url())).await,
        "redirect to http",
    );
    assert_config_error(&e, "redirect to http");
    assert_eq!(server.request_count(), 1);
}

/// Redirects to another origin (https elsewhere, another loopback name,
/// another port, scheme-relative elsewhere) are refused, with any status.
pub async fn redirect_to_other_origin_refused<T: AsyncTransport>(
    make: impl Fn(TransportConfig) -> T,
) {
    let port = closed_port();
    let locations = [
        (307, format!("https://{INVALID_HOST}/token")),
        (308, format!("//{INVALID_HOST}/token")),
        (302, "http://localhost:1/token".to_string()),
        (301, format!("http://127.0.0.1:{port}/token")),
        (303, format!("http://{INVALID_HOST}/token")),
    ];
    for (status, location) in locations {
        let server = FaultServer::start(Fault::redirect(status, location.clone()));
        let t = make(TransportConfig::default());
        let e = expect_err(t.send(token_request(&server.token_url())).await, &location);
        assert_config_error(&e, &location);
        assert_eq!(server.request_count(), 1, "{location}");
    }
}

/// A same-origin `307` is followed, keeping the method, the body and the
/// credentials.
pub async fn same_origin_307_followed<T: AsyncTransport>(make: impl Fn(TransportConfig) -> T) {
    for (status, location) in [(307, "/token2".to_string()), (308, "token2".to_string())] {
        let server = FaultServer::start(vec![
            Fault::redirect(status, location.clone()),
            Fault::token("moved", 3600),
        ]);
        let t = make(TransportConfig::default());
        let request = token_request(&server.token_url());
        let response = expect_ok(t.send(request.clone()).await, &location);
        assert_eq!(response.status, 200);
        assert!(String::from_utf8_lossy(&response.body).contains("moved"));
        let requests = server.requests();
        assert_eq!(requests.len(), 2, "{location}");
        let second = &requests[1];
        assert_eq!(second.method, "POST");
        assert_eq!(second.path, "/token2");
        assert_eq!(second.body.as_slice(), request.body.as_slice());
        assert_eq!(second.basic_auth(), requests[0].basic_auth());
    }
}

/// A same-origin `303` is followed with a body-less `GET`.
pub async fn same_origin_303_becomes_get<T: AsyncTransport>(make: impl Fn(TransportConfig) -> T) {
    let server = FaultServer::start(vec![
        Fault::redirect(303, "/result"),
        Fault::token("after-303", 3600),
    ]);
    let t = make(TransportConfig::default());
    let response = expect_ok(t.send(token_request(&server.token_url())).await, "303");
    assert_eq!(response.status, 200);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].method, "GET");
    assert_eq!(requests[1].path, "/result");
    assert!(requests[1].body.is_empty());
}

/// At most [`MAX_REDIRECTS`] redirects are followed; then a permanent
/// `Config` error.
pub async fn redirect_limit<T: AsyncTransport>(make: impl Fn(TransportConfig) -> T) {
    let server = FaultServer::start(Fault::redirect(307, "/again"));
    let t = make(TransportConfig::default());
    let e = expect_err(
        t.send(token_request(&server.token_url())).await,
        "redirect loop",
    );
    assert_config_error(&e, "redirect loop");
    assert_eq!(server.request_count(), MAX_REDIRECTS + 1);
}

/// Plain `http` to a non-loopback host is refused before any connection
/// or DNS look-up (`example.invalid` would fail DNS with a `Transport`
/// error instead).
pub async fn insecure_http_refused<T: AsyncTransport>(make: impl Fn(TransportConfig) -> T) {
    let t = make(TransportConfig::default());
    for url in [
        format!("http://{INVALID_HOST}/token"),
        format!("http://user:{SECRET}@{INVALID_HOST}/token?client_secret={SECRET}"),
        "http://10.0.0.1/token".to_string(),
        format!("ftp://{INVALID_HOST}/token"),
    ] {
        let started = Instant::now();
        let e = expect_err(t.send(token_request(&url)).await, &url);
        assert_config_error(&e, &url);
        assert!(started.elapsed() < Duration::from_secs(1), "{url}");
    }
}

/// The configured `User-Agent` (by default [`DEFAULT_USER_AGENT`]) is sent.
pub async fn user_agent_sent<T: AsyncTransport>(make: impl Fn(TransportConfig) -> T) {
    let server = FaultServer::start(Fault::token("ua", 60));
    let t = make(TransportConfig::default());
    expect_ok(
        t.send(token_request(&server.token_url())).await,
        "default UA",
    );
    let got = server.last_request().unwrap();
    assert_eq!(got.header("user-agent"), Some(DEFAULT_USER_AGENT));

    let t = make(TransportConfig::default().with_user_agent("suite-agent/9"));
    expect_ok(
        t.send(token_request(&server.token_url())).await,
        "custom UA",
    );
    let got = server.last_request().unwrap();
    assert_eq!(got.header("user-agent"), Some("suite-agent/9"));
    let agents = got
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("user-agent"))
        .count();
    assert_eq!(agents, 1, "one User-Agent header");
}

/// Several requests in a row on one transport (a pooled, kept-alive
/// connection) all arrive and are answered in order.
pub async fn sequential_requests<T: AsyncTransport>(make: impl Fn(TransportConfig) -> T) {
    let server = FaultServer::start(Script::queue(
        (0..5).map(|i| Fault::token(format!("tok-{i}"), 60)),
    ));
    let t = make(TransportConfig::default());
    for i in 0..5 {
        let response = expect_ok(
            t.send(token_request(&server.token_url())).await,
            "sequential",
        );
        assert!(String::from_utf8_lossy(&response.body).contains(&format!("tok-{i}")));
    }
    assert_eq!(server.request_count(), 5);
}
