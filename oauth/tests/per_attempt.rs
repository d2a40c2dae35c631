//! Values made for each attempt: client assertions, the JWT-bearer grant's
//! assertion and a subject token read per attempt, in the one form builder,
//! and `OAuthSource` asking its `PerAttempt` anew before every attempt.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use freshen_core::ErrorKind;
use freshen_oauth::grant::{GRANT_TYPE_JWT_BEARER, TOKEN_TYPE_JWT};
use freshen_oauth::{
    AttemptCredentials, AuthMethod, ClientAuth, ConfigError, HttpRequest, TokenExchange,
    TokenRequest,
};

const URL: &str = "https://idp.example/oauth2/token";

fn pairs(req: &HttpRequest) -> Vec<(String, String)> {
    let body = std::str::from_utf8(&req.body).unwrap();
    body.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn missing(e: &freshen_core::Error) -> &'static str {
    assert!(e.is_permanent(), "{e:?}");
    match e.kind() {
        ErrorKind::Config(ConfigError::MissingPerAttempt { parameter }) => parameter,
        other => panic!("expected MissingPerAttempt, got {other:?}"),
    }
}

#[test]
fn a_jwt_client_sends_the_attempts_assertion_and_no_authorization_header() {
    for (client, method) in [
        (
            ClientAuth::private_key_jwt("svc"),
            AuthMethod::PrivateKeyJwt,
        ),
        (
            ClientAuth::client_secret_jwt("svc"),
            AuthMethod::ClientSecretJwt,
        ),
    ] {
        assert_eq!(client.method(), method);
        assert!(client.validate().is_ok());
        let request = TokenRequest::client_credentials(URL, client).scope("api:read");
        assert!(request.needs_per_attempt());
        assert_eq!(
            missing(&request.to_http_request().unwrap_err()),
            "client_assertion"
        );
        let attempt = AttemptCredentials::new().with_client_assertion("a.b.c");
        let http = request.to_http_request_with(&attempt).unwrap();
        assert_eq!(
            pairs(&http),
            [
                ("grant_type", "client_credentials"),
                ("scope", "api:read"),
                ("client_id", "svc"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                ),
                ("client_assertion", "a.b.c"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert!(http.headers.iter().all(|(n, _)| n != "Authorization"));
    }
}

#[test]
fn the_jwt_bearer_grant_sends_the_attempts_assertion() {
    let request = TokenRequest::jwt_bearer(URL).scope("cloud");
    assert!(request.needs_per_attempt());
    assert_eq!(
        missing(&request.to_http_request().unwrap_err()),
        "assertion"
    );
    let attempt = AttemptCredentials::new().with_grant_assertion("h.p.s");
    let got = pairs(&request.to_http_request_with(&attempt).unwrap());
    assert_eq!(got[0], ("grant_type".into(), GRANT_TYPE_JWT_BEARER.into()));
    assert_eq!(got[1], ("assertion".into(), "h.p.s".into()));
    assert_eq!(got[2], ("scope".into(), "cloud".into()));
}

#[test]
fn a_subject_token_per_attempt_replaces_any_given_at_build_time() {
    let per = TokenRequest::token_exchange(URL, TokenExchange::subject_per_attempt(TOKEN_TYPE_JWT));
    assert!(per.needs_per_attempt());
    assert_eq!(
        missing(&per.to_http_request().unwrap_err()),
        "subject_token"
    );
    let attempt = AttemptCredentials::new().with_subject_token("read-now");
    let got = pairs(&per.to_http_request_with(&attempt).unwrap());
    assert_eq!(got[1], ("subject_token".into(), "read-now".into()));
    assert_eq!(got[2], ("subject_token_type".into(), TOKEN_TYPE_JWT.into()));

    let fixed = TokenRequest::token_exchange(URL, TokenExchange::new("built-in", TOKEN_TYPE_JWT));
    assert!(!fixed.needs_per_attempt());
    let got = pairs(&fixed.to_http_request_with(&attempt).unwrap());
    assert_eq!(got[1], ("subject_token".into(), "read-now".into()));
}

#[test]
fn per_attempt_parameters_cannot_be_forged_as_extra_parameters() {
    for name in ["assertion", "client_assertion", "client_assertion_type"] {
        let request =
            TokenRequest::client_credentials(URL, ClientAuth::post("a", "b")).param(name, "x");
        match request.validate().unwrap_err().kind() {
            ErrorKind::Config(ConfigError::ReservedParameter { name: n }) => assert_eq!(n, name),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn merged_takes_the_newer_value_and_debug_shows_none() {
    let a = AttemptCredentials::new()
        .with_client_assertion("CA-SECRET-1")
        .with_subject_token("ST-SECRET-1");
    let b = AttemptCredentials::new().with_subject_token("ST-SECRET-2");
    let m = a.merged(b);
    assert_eq!(m.client_assertion().unwrap().expose(), "CA-SECRET-1");
    assert_eq!(m.subject_token().unwrap().expose(), "ST-SECRET-2");
    let shown = format!("{m:?} {m:#?}");
    assert!(!shown.contains("SECRET"), "{shown}");
}

#[cfg(feature = "std")]
mod source {
    use super::*;
    use freshen_core::{BlockingTokenSource, Error, TokenSource};
    use freshen_oauth::{AttemptTarget, HttpResponse, OAuthSource, PerAttempt, Transport};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Counts its calls and makes a new assertion for each.
    #[derive(Default)]
    struct Counter(AtomicU32);

    impl PerAttempt for Counter {
        fn make_blocking(&self, target: &AttemptTarget) -> Result<AttemptCredentials, Error> {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            assert_eq!(target.client_id.as_deref(), Some("svc"));
            assert_eq!(target.token_url, URL);
            Ok(AttemptCredentials::new().with_client_assertion(format!("ASSERTION-{n}")))
        }
    }

    /// Records the bodies and echoes the assertion in an error.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<Vec<(String, String)>>>);

    impl Transport for Recorder {
        fn send(&self, request: &HttpRequest) -> Result<HttpResponse, Error> {
            let body = pairs(request);
            let assertion = body
                .iter()
                .find(|(k, _)| k == "client_assertion")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            self.0.lock().unwrap().push(body);
            let text =
                format!(r#"{{"error":"invalid_client","error_description":"bad {assertion}"}}"#);
            Ok(HttpResponse::new(401, text.into_bytes()))
        }
    }

    impl freshen_oauth::AsyncTransport for Recorder {
        async fn send(&self, request: HttpRequest) -> Result<HttpResponse, Error> {
            Transport::send(self, &request)
        }
    }

    #[test]
    fn every_attempt_gets_its_own_values_and_their_echo_is_redacted() {
        let request = TokenRequest::client_credentials(URL, ClientAuth::private_key_jwt("svc"));
        let source =
            OAuthSource::new(request, Recorder::default()).with_per_attempt(Counter::default());
        let blocking = BlockingTokenSource::fetch(&source).unwrap_err();
        let asynchronous = futures_lite_block_on(TokenSource::fetch(&source)).unwrap_err();
        for e in [&blocking, &asynchronous] {
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("ASSERTION-"), "{shown}");
            assert!(shown.contains("invalid_client"), "{shown}");
        }
        let bodies = source.transport().0.lock().unwrap();
        let sent: Vec<&str> = bodies
            .iter()
            .map(|b| {
                b.iter()
                    .find(|(k, _)| k == "client_assertion")
                    .unwrap()
                    .1
                    .as_str()
            })
            .collect();
        assert_eq!(sent, ["ASSERTION-0", "ASSERTION-1"]);
    }

    #[test]
    fn a_pair_makes_what_each_makes() {
        struct Subject;
        impl PerAttempt for Subject {
            fn make_blocking(&self, _: &AttemptTarget) -> Result<AttemptCredentials, Error> {
                Ok(AttemptCredentials::new().with_subject_token("FROM-FILE"))
            }
        }
        let pair = (Counter::default(), Subject);
        let target = AttemptTarget {
            client_id: Some("svc".into()),
            token_url: URL.into(),
        };
        let made = futures_lite_block_on(pair.make(&target)).unwrap();
        assert_eq!(made.client_assertion().unwrap().expose(), "ASSERTION-0");
        assert_eq!(made.subject_token().unwrap().expose(), "FROM-FILE");
    }

    /// A minimal executor for futures that are ready or wake at once.
    fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
        use std::task::{Context, Poll, Waker};
        let mut f = std::pin::pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }
}
