//! The grants freshen requests tokens with, and the parameters each puts in
//! the body.
//!
//! - client credentials (RFC 6749 §4.4): a service acting as itself;
//! - refresh token (§6): a token held on someone's behalf, renewed; servers
//!   may rotate the refresh token with every use, so the new one must
//!   replace the old ([`crate::TokenRequest::rotate_refresh_token`]);
//! - token exchange (RFC 8693): one token traded for another (workload
//!   identity federation, delegation).

use alloc::string::String;
use alloc::vec::Vec;

use freshen_core::{ConfigError, Secret};

use crate::AttemptCredentials;

/// `grant_type` of RFC 8693 token exchange.
pub const GRANT_TYPE_TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// `grant_type` of the JWT-bearer grant (RFC 7523 §2.1).
pub const GRANT_TYPE_JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// RFC 8693 §3 token type: an OAuth 2.0 access token.
pub const TOKEN_TYPE_ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
/// RFC 8693 §3 token type: an OAuth 2.0 refresh token.
pub const TOKEN_TYPE_REFRESH_TOKEN: &str = "urn:ietf:params:oauth:token-type:refresh_token";
/// RFC 8693 §3 token type: an OpenID Connect ID token.
pub const TOKEN_TYPE_ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
/// RFC 8693 §3 token type: a JWT (RFC 7519).
pub const TOKEN_TYPE_JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
/// RFC 8693 §3 token type: a base64url-encoded SAML 1.1 assertion.
pub const TOKEN_TYPE_SAML1: &str = "urn:ietf:params:oauth:token-type:saml1";
/// RFC 8693 §3 token type: a base64url-encoded SAML 2.0 assertion.
pub const TOKEN_TYPE_SAML2: &str = "urn:ietf:params:oauth:token-type:saml2";

/// What the client presents to get a token. `Debug` redacts every token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Grant {
    /// RFC 6749 §4.4: the client's own credentials.
    ClientCredentials,
    /// RFC 6749 §6: a refresh token.
    RefreshToken {
        /// The refresh token currently held.
        refresh_token: Secret,
    },
    /// RFC 8693: a token exchange.
    TokenExchange(TokenExchange),
    /// RFC 7523 §2.1: a signed JWT as the grant (service-account keys). The
    /// `assertion` is made anew for every attempt and passed in
    /// [`AttemptCredentials`] (freshen-jwt signs one).
    JwtBearer,
}

impl Grant {
    /// The `grant_type` parameter.
    pub fn grant_type(&self) -> &'static str {
        match self {
            Grant::ClientCredentials => "client_credentials",
            Grant::RefreshToken { .. } => "refresh_token",
            Grant::TokenExchange(_) => GRANT_TYPE_TOKEN_EXCHANGE,
            Grant::JwtBearer => GRANT_TYPE_JWT_BEARER,
        }
    }

    /// The secrets this grant holds (those made per attempt are the
    /// attempt's to list).
    pub(crate) fn secrets(&self) -> Vec<&str> {
        match self {
            Grant::ClientCredentials | Grant::JwtBearer => Vec::new(),
            Grant::RefreshToken { refresh_token } => alloc::vec![refresh_token.expose()],
            Grant::TokenExchange(x) => x
                .subject_token
                .iter()
                .map(Secret::expose)
                .chain(x.actor.as_ref().map(|(t, _)| t.expose()))
                .collect(),
        }
    }

    /// The body parameters of this grant after `grant_type`, with what
    /// `attempt` made for it; fails when a value it needs was not made.
    pub(crate) fn params<'a>(
        &'a self,
        attempt: &'a AttemptCredentials,
    ) -> Result<Vec<(&'static str, &'a str)>, ConfigError> {
        let missing = |parameter| ConfigError::MissingPerAttempt { parameter };
        Ok(match self {
            Grant::ClientCredentials => Vec::new(),
            Grant::RefreshToken { refresh_token } => {
                alloc::vec![("refresh_token", refresh_token.expose())]
            }
            Grant::JwtBearer => {
                let assertion = attempt.grant_assertion().ok_or(missing("assertion"))?;
                alloc::vec![("assertion", assertion.expose())]
            }
            Grant::TokenExchange(x) => {
                let subject = attempt
                    .subject_token()
                    .or(x.subject_token.as_ref())
                    .ok_or(missing("subject_token"))?;
                let mut p = alloc::vec![
                    ("subject_token", subject.expose()),
                    ("subject_token_type", x.subject_token_type.as_str()),
                ];
                if let Some((token, token_type)) = &x.actor {
                    p.push(("actor_token", token.expose()));
                    p.push(("actor_token_type", token_type.as_str()));
                }
                if let Some(t) = &x.requested_token_type {
                    p.push(("requested_token_type", t.as_str()));
                }
                p
            }
        })
    }
}

/// The parameters of an RFC 8693 token exchange that are particular to it
/// (`audience`, `resource` and `scope` are set on the request, as for every
/// grant). `Debug` redacts the tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenExchange {
    subject_token: Option<Secret>,
    subject_token_type: String,
    actor: Option<(Secret, String)>,
    requested_token_type: Option<String>,
}

impl TokenExchange {
    /// An exchange of `subject_token`, of type `subject_token_type` (one of
    /// the `TOKEN_TYPE_*` URIs, or a provider's own).
    pub fn new(subject_token: impl Into<Secret>, subject_token_type: impl Into<String>) -> Self {
        TokenExchange {
            subject_token: Some(subject_token.into()),
            subject_token_type: subject_token_type.into(),
            actor: None,
            requested_token_type: None,
        }
    }

    /// An exchange whose subject token is supplied anew for every attempt
    /// ([`AttemptCredentials::with_subject_token`]): a Kubernetes projected
    /// service-account token, rotated in its file by the kubelet, must be
    /// read again each time (freshen-jwt's `TokenFile`), never kept.
    ///
    /// ```
    /// use freshen_oauth::grant::{TokenExchange, TOKEN_TYPE_JWT};
    /// use freshen_oauth::{AttemptCredentials, TokenRequest};
    ///
    /// let request = TokenRequest::token_exchange(
    ///     "https://sts.example.com/token",
    ///     TokenExchange::subject_per_attempt(TOKEN_TYPE_JWT),
    /// );
    /// let attempt = AttemptCredentials::new().with_subject_token("eyJ.read.now");
    /// let http = request.to_http_request_with(&attempt).unwrap();
    /// assert!(core::str::from_utf8(&http.body).unwrap().contains("subject_token=eyJ.read.now"));
    /// ```
    pub fn subject_per_attempt(subject_token_type: impl Into<String>) -> Self {
        TokenExchange {
            subject_token: None,
            subject_token_type: subject_token_type.into(),
            actor: None,
            requested_token_type: None,
        }
    }

    /// Adds the acting party's token (delegation, RFC 8693 §1.1). Its type is
    /// required with it (§2.1), so they are set together.
    #[must_use]
    pub fn with_actor(
        mut self,
        actor_token: impl Into<Secret>,
        actor_token_type: impl Into<String>,
    ) -> Self {
        self.actor = Some((actor_token.into(), actor_token_type.into()));
        self
    }

    /// Asks for a token of this type (`requested_token_type`).
    #[must_use]
    pub fn with_requested_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.requested_token_type = Some(token_type.into());
        self
    }

    /// The subject token, for [`crate::TokenRequest::shape_key`] (`None`:
    /// made per attempt).
    pub(crate) fn subject_token_expose(&self) -> Option<&str> {
        self.subject_token.as_ref().map(Secret::expose)
    }

    /// The actor token and its type, for [`crate::TokenRequest::shape_key`].
    pub(crate) fn actor_expose(&self) -> Option<(&str, &str)> {
        self.actor.as_ref().map(|(t, ty)| (t.expose(), ty.as_str()))
    }

    /// The subject token's type.
    pub fn subject_token_type(&self) -> &str {
        &self.subject_token_type
    }

    /// The requested token type, if any.
    pub fn requested_token_type(&self) -> Option<&str> {
        self.requested_token_type.as_deref()
    }
}
