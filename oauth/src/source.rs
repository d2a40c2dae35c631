//! A token source made of a token request and a transport: the one every
//! user of a real token endpoint needs. **`std` only**: it locks a mutex and
//! reads the system clock, the only place in this crate that does either. It goes to the network on every call
//! (the [`freshen_core::TokenSource`] contract) and keeps a rotated refresh token.

use core::fmt;
use std::sync::{Mutex, PoisonError};

use freshen_core::{BlockingTokenSource, Error, Fetched, Secret, TokenSource};

use crate::grant::Grant;

use crate::request::TokenRequest;
use crate::response::{ParseOptions, ParsedToken, parse_token_response};
use crate::transport::{AsyncTransport, Transport};

/// A [`TokenSource`] (with an [`AsyncTransport`]) or [`BlockingTokenSource`]
/// (with a blocking [`Transport`]) that sends `request` for every fetch.
///
/// Wall-clock expiries (`expires_on`) are turned into lifetimes with the
/// system clock at receipt. `Debug` shows no secret.
pub struct OAuthSource<T> {
    request: Mutex<TokenRequest>,
    transport: T,
    options: ParseOptions,
}

impl<T> OAuthSource<T> {
    /// A source sending `request` over `transport`.
    pub fn new(request: TokenRequest, transport: T) -> Self {
        let options = request.parse_options();
        OAuthSource {
            request: Mutex::new(request),
            transport,
            options,
        }
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

    /// The refresh token this source will present next (a refresh-token
    /// request only): after a rotation, the one the server sent last.
    pub fn refresh_token(&self) -> Option<Secret> {
        match self
            .request
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .grant()
        {
            Grant::RefreshToken { refresh_token } => Some(refresh_token.clone()),
            _ => None,
        }
    }

    /// Makes this source present `token` from now on, for a session that
    /// several holders share and another holder rotated. Returns whether
    /// the request is a refresh-token request (otherwise nothing changes).
    ///
    /// ```
    /// use freshen_oauth::{ClientAuth, OAuthSource, TokenRequest};
    ///
    /// let request = TokenRequest::refresh("https://idp.example/token", ClientAuth::new("app", "s"), "rt-1");
    /// let source = OAuthSource::new(request, ()); // any transport
    /// assert!(source.set_refresh_token("rt-2".into()));
    /// assert_eq!(source.refresh_token().unwrap().expose(), "rt-2");
    /// ```
    pub fn set_refresh_token(&self, token: Secret) -> bool {
        self.request
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .set_refresh_token(token)
    }

    fn http_request(&self) -> Result<crate::http::HttpRequest, Error> {
        self.request
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .to_http_request()
    }

    fn accept(&self, response: &crate::http::HttpResponse) -> Result<Fetched, Error> {
        let parsed = parse_token_response(response, now_epoch_secs(), &self.options);
        let mut request = self.request.lock().unwrap_or_else(PoisonError::into_inner);
        let parsed: ParsedToken = parsed.map_err(|mut e| {
            // A server that echoes the request must not put a secret into
            // an error that every waiter, log line and event will show.
            request.redact(&mut e);
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

impl<T: Transport> BlockingTokenSource for OAuthSource<T> {
    fn fetch(&self) -> Result<Fetched, Error> {
        let request = self.http_request()?;
        let response = self.transport.send(&request)?;
        self.accept(&response)
    }
}

impl<T: AsyncTransport> TokenSource for OAuthSource<T> {
    async fn fetch(&self) -> Result<Fetched, Error> {
        let request = self.http_request()?;
        let response = self.transport.send(request).await?;
        self.accept(&response)
    }
}

impl<T> fmt::Debug for OAuthSource<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthSource")
            .field(
                "request",
                &*self.request.lock().unwrap_or_else(PoisonError::into_inner),
            )
            .finish_non_exhaustive()
    }
}
