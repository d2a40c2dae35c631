//! The values a token request carries that are made anew for every attempt:
//! a signed client assertion (RFC 7523 §2.2, `private_key_jwt` /
//! `client_secret_jwt`), the assertion of the JWT-bearer grant (RFC 7523
//! §2.1), or a subject token read from a file that another party rotates
//! (workload identity: a Kubernetes projected service-account token).
//!
//! They are passed to [`TokenRequest::to_http_request_with`] rather than
//! stored in the request because each lives for one attempt only: an
//! assertion has its own `jti` and a few minutes of life, and a rotated file
//! must be read again. Making them needs a clock, randomness or a file
//! system, none of which this `no_std` crate touches; the `std` feature's
//! [`PerAttempt`](crate::source::PerAttempt) is the hook that makes them,
//! and the freshen-jwt crate implements it.
//!
//! [`TokenRequest::to_http_request_with`]: crate::TokenRequest::to_http_request_with

use core::fmt;

use freshen_core::Secret;

/// Values made for one attempt. `Debug` redacts every one.
///
/// ```
/// use freshen_oauth::{AttemptCredentials, ClientAuth, TokenRequest};
///
/// let request = TokenRequest::client_credentials(
///     "https://auth.example.com/token",
///     ClientAuth::private_key_jwt("my-service"),
/// );
/// // Without an assertion the request cannot be built…
/// assert!(request.to_http_request().is_err());
/// // …with one made for this attempt, it can.
/// let attempt = AttemptCredentials::new().with_client_assertion("eyJhbGciOi…");
/// let http = request.to_http_request_with(&attempt).unwrap();
/// let body = core::str::from_utf8(&http.body).unwrap();
/// assert!(body.contains("client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"));
/// assert!(!format!("{attempt:?}").contains("eyJ"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AttemptCredentials {
    client_assertion: Option<Secret>,
    grant_assertion: Option<Secret>,
    subject_token: Option<Secret>,
}

impl AttemptCredentials {
    /// Nothing made for this attempt.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `client_assertion` (RFC 7523 §2.2) of a client that
    /// authenticates with `private_key_jwt` or `client_secret_jwt`.
    #[must_use]
    pub fn with_client_assertion(mut self, assertion: impl Into<Secret>) -> Self {
        self.client_assertion = Some(assertion.into());
        self
    }

    /// The `assertion` of the JWT-bearer grant (RFC 7523 §2.1).
    #[must_use]
    pub fn with_grant_assertion(mut self, assertion: impl Into<Secret>) -> Self {
        self.grant_assertion = Some(assertion.into());
        self
    }

    /// The `subject_token` of a token exchange (RFC 8693), replacing any
    /// given when the exchange was built.
    #[must_use]
    pub fn with_subject_token(mut self, token: impl Into<Secret>) -> Self {
        self.subject_token = Some(token.into());
        self
    }

    /// Takes every value `other` has, keeping this one's where `other` has
    /// none: how two makers (a signed client assertion and a subject token
    /// file) combine for one attempt.
    #[must_use]
    pub fn merged(self, other: AttemptCredentials) -> Self {
        AttemptCredentials {
            client_assertion: other.client_assertion.or(self.client_assertion),
            grant_assertion: other.grant_assertion.or(self.grant_assertion),
            subject_token: other.subject_token.or(self.subject_token),
        }
    }

    /// The client assertion, if one was made.
    pub fn client_assertion(&self) -> Option<&Secret> {
        self.client_assertion.as_ref()
    }

    /// The JWT-bearer grant's assertion, if one was made.
    pub fn grant_assertion(&self) -> Option<&Secret> {
        self.grant_assertion.as_ref()
    }

    /// The subject token, if one was read.
    pub fn subject_token(&self) -> Option<&Secret> {
        self.subject_token.as_ref()
    }

    /// Every secret held, for redacting an echo of them from an error.
    pub(crate) fn secrets(&self) -> impl Iterator<Item = &str> {
        [
            &self.client_assertion,
            &self.grant_assertion,
            &self.subject_token,
        ]
        .into_iter()
        .flatten()
        .map(Secret::expose)
    }
}

impl fmt::Debug for AttemptCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |s: &Option<Secret>| s.as_ref().map(|s| s.len());
        f.debug_struct("AttemptCredentials")
            .field("client_assertion_len", &shown(&self.client_assertion))
            .field("grant_assertion_len", &shown(&self.grant_assertion))
            .field("subject_token_len", &shown(&self.subject_token))
            .finish()
    }
}
