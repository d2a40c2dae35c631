//! A token source made of a token request and a transport: the one every
//! user of a real token endpoint needs. **`std` only**: it locks a mutex and
//! reads the system clock, the only place in this crate that does either. It goes to the network on every call
//! (the [`freshen_core::TokenSource`] contract) and keeps a rotated refresh token.

use core::fmt;
use core::future::Future;
use std::string::String;
use std::sync::{Mutex, PoisonError};

use freshen_core::{BlockingTokenSource, Error, Fetched, TokenSource};

use crate::attempt::AttemptCredentials;
use crate::http::HttpRequest;
use crate::request::TokenRequest;
use crate::response::{ParseOptions, ParsedToken, parse_token_response};
use crate::transport::{AsyncTransport, Transport};

/// Who the values made per attempt are for: the client id (a client
/// assertion's `iss` and `sub`) and the token endpoint (its `aud`, RFC 7523
/// §3). Taken from the request once, so a signer cannot disagree with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptTarget {
    /// The client id, if the request authenticates a client.
    pub client_id: Option<String>,
    /// The token endpoint's URL.
    pub token_url: String,
}

/// Makes the values a request carries for one attempt
/// ([`AttemptCredentials`]): a freshly signed assertion, a token read from a
/// file just now. [`OAuthSource`] calls it before every attempt, never
/// reusing what an earlier attempt got. freshen-jwt implements it; `()`
/// makes nothing, and a pair makes what each of its two makes.
pub trait PerAttempt: Send + Sync + 'static {
    /// The values for one attempt, on the caller's thread (a blocking
    /// source).
    fn make_blocking(&self, target: &AttemptTarget) -> Result<AttemptCredentials, Error>;

    /// The values for one attempt, from async code. The default calls
    /// [`PerAttempt::make_blocking`] at once: right for work that does not
    /// block (signing); a file read overrides it to run off the async
    /// worker.
    fn make(
        &self,
        target: &AttemptTarget,
    ) -> impl Future<Output = Result<AttemptCredentials, Error>> + Send {
        core::future::ready(self.make_blocking(target))
    }
}

impl PerAttempt for () {
    fn make_blocking(&self, _: &AttemptTarget) -> Result<AttemptCredentials, Error> {
        Ok(AttemptCredentials::new())
    }
}

impl<A: PerAttempt, B: PerAttempt> PerAttempt for (A, B) {
    fn make_blocking(&self, target: &AttemptTarget) -> Result<AttemptCredentials, Error> {
        Ok(self
            .0
            .make_blocking(target)?
            .merged(self.1.make_blocking(target)?))
    }

    async fn make(&self, target: &AttemptTarget) -> Result<AttemptCredentials, Error> {
        Ok(self
            .0
            .make(target)
            .await?
            .merged(self.1.make(target).await?))
    }
}

/// A [`TokenSource`] (with an [`AsyncTransport`]) or [`BlockingTokenSource`]
/// (with a blocking [`Transport`]) that sends `request` for every fetch,
/// with the values `P` makes for each attempt
/// ([`OAuthSource::with_per_attempt`]).
///
/// Wall-clock expiries (`expires_on`) are turned into lifetimes with the
/// system clock at receipt. `Debug` shows no secret.
pub struct OAuthSource<T, P = ()> {
    request: Mutex<TokenRequest>,
    transport: T,
    options: ParseOptions,
    per_attempt: P,
    target: AttemptTarget,
}

impl<T> OAuthSource<T> {
    /// A source sending `request` over `transport`.
    pub fn new(request: TokenRequest, transport: T) -> Self {
        let options = request.parse_options();
        let target = AttemptTarget {
            client_id: request.client().map(|c| c.client_id().into()),
            token_url: request.token_url().into(),
        };
        OAuthSource {
            request: Mutex::new(request),
            transport,
            options,
            per_attempt: (),
            target,
        }
    }
}

impl<T, P> OAuthSource<T, P> {
    /// The same source, with `per_attempt` making the values each attempt
    /// carries: a client assertion signed for it, a subject token read from
    /// a rotating file. Nothing it makes outlives its attempt.
    pub fn with_per_attempt<Q: PerAttempt>(self, per_attempt: Q) -> OAuthSource<T, Q> {
        OAuthSource {
            request: self.request,
            transport: self.transport,
            options: self.options,
            per_attempt,
            target: self.target,
        }
    }

    /// Who the values made per attempt are for.
    pub fn attempt_target(&self) -> &AttemptTarget {
        &self.target
    }

    /// Limits for parsing responses (default: 1 MiB bodies, 10-year lifetimes).
    #[must_use]
    pub fn with_parse_options(mut self, options: ParseOptions) -> Self {
        self.options = options;
        self
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    fn http_request(&self, attempt: &AttemptCredentials) -> Result<HttpRequest, Error> {
        self.request
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .to_http_request_with(attempt)
    }

    fn accept(
        &self,
        response: &crate::http::HttpResponse,
        attempt: &AttemptCredentials,
    ) -> Result<Fetched, Error> {
        let parsed = parse_token_response(response, now_epoch_secs(), &self.options);
        let mut request = self.request.lock().unwrap_or_else(PoisonError::into_inner);
        let parsed: ParsedToken = parsed.map_err(|mut e| {
            // A server that echoes the request must not put a secret into
            // an error that every waiter, log line and event will show.
            request.redact_with(&mut e, attempt);
            e
        })?;
        request.rotate_refresh_token(&parsed);
        Ok(parsed.into_fetched())
    }
}

fn now_epoch_secs() -> Option<u64> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

impl<T: Transport, P: PerAttempt> BlockingTokenSource for OAuthSource<T, P> {
    fn fetch(&self) -> Result<Fetched, Error> {
        let attempt = self.per_attempt.make_blocking(&self.target)?;
        let request = self.http_request(&attempt)?;
        let response = self.transport.send(&request)?;
        self.accept(&response, &attempt)
    }
}

impl<T: AsyncTransport, P: PerAttempt> TokenSource for OAuthSource<T, P> {
    async fn fetch(&self) -> Result<Fetched, Error> {
        let attempt = self.per_attempt.make(&self.target).await?;
        let request = self.http_request(&attempt)?;
        let response = self.transport.send(request).await?;
        self.accept(&response, &attempt)
    }
}

impl<T, P> fmt::Debug for OAuthSource<T, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthSource")
            .field(
                "request",
                &*self.request.lock().unwrap_or_else(PoisonError::into_inner),
            )
            .finish_non_exhaustive()
    }
}
