//! What is wrong with a token request's configuration, found before anything
//! is sent: [`ErrorKind::Config`](crate::ErrorKind::Config) carries one.
//!
//! Every variant says what to fix. None holds a secret: URLs are shown
//! without userinfo, query or fragment (freshen-oauth's `display_url` makes
//! them so), and secrets are never quoted, only said to be empty.
//!
//! [`AuthMethod`] lives here because [`ConfigError::EmptyClientSecret`]
//! names one; freshen-oauth re-exports it beside `ClientAuth`, which uses it.

use alloc::string::String;
use core::fmt;

/// A client authentication method (the names are those of RFC 7591 §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// HTTP Basic with the form-encoded id and secret (the default).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the request body.
    ClientSecretPost,
    /// A public client: `client_id` in the body, no secret.
    None,
    /// A JWT signed with the client's private key, made for each attempt
    /// (RFC 7523 §2.2, OpenID Connect Core §9), or a signed token read from
    /// a file that another party keeps fresh (workload identity federation).
    PrivateKeyJwt,
    /// A JWT signed (HMAC) with the client secret, made for each attempt:
    /// the secret itself never crosses the wire (OpenID Connect Core §9).
    ClientSecretJwt,
}

impl AuthMethod {
    /// The method's registered name (`client_secret_basic`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::None => "none",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::ClientSecretJwt => "client_secret_jwt",
        }
    }
}

/// A configuration that cannot work. Always permanent: retrying the same
/// request fails the same way until someone changes the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The token URL is empty.
    EmptyTokenUrl,
    /// The token URL cannot be read as an absolute `http`/`https` URL.
    InvalidTokenUrl {
        /// The URL as it may be shown: no userinfo, query or fragment.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The token URL has a fragment (`#…`), which RFC 6749 §3.2 forbids.
    TokenUrlHasFragment {
        /// The URL as it may be shown.
        url: String,
    },
    /// The token URL carries userinfo (`user:password@`). RFC 9110 §4.2.4
    /// forbids sending it; client credentials go in the client
    /// authentication, not the URL.
    TokenUrlHasUserinfo {
        /// The URL as it may be shown (without the userinfo).
        url: String,
    },
    /// Plain `http` to a host that is not loopback, without
    /// freshen-oauth's `TransportConfig::with_allow_insecure_http`.
    InsecureHttp {
        /// The URL as it may be shown.
        url: String,
    },
    /// The client id is empty (or only whitespace).
    EmptyClientId,
    /// The client id contains `:` and the client authenticates with HTTP
    /// Basic: RFC 7617 §2 forbids a colon in the user-id, and servers that do
    /// not form-decode the credentials (as RFC 6749 §2.3.1 asks) would read
    /// another id. Use `client_secret_post`.
    ClientIdHasColon,
    /// The client secret is empty, and the authentication method sends one.
    EmptyClientSecret {
        /// The method that needs the secret.
        method: AuthMethod,
    },
    /// A scope is empty or contains whitespace (it would silently become
    /// several scopes).
    MalformedScope {
        /// The scope as given (scopes are not secrets).
        scope: String,
    },
    /// An extra parameter would override one the request writes itself
    /// (`grant_type`, `client_secret`, …), or has no name.
    ReservedParameter {
        /// The parameter's name (its value is never shown).
        name: String,
    },
    /// The request needs a value made for each attempt (a signed client
    /// assertion, a JWT-bearer grant's assertion, a subject token read from
    /// a file) and none was supplied: send it through a source that makes
    /// one (freshen-oauth's `OAuthSource::with_per_attempt`).
    MissingPerAttempt {
        /// The form parameter that has no value (`client_assertion`, …).
        parameter: &'static str,
    },
    /// Anything else: a refused redirect, an HTTP client that cannot be
    /// built, a custom source's own configuration problem.
    Other(String),
}

impl ConfigError {
    /// A configuration error described in words.
    pub fn other(why: impl Into<String>) -> Self {
        ConfigError::Other(why.into())
    }
}

impl From<String> for ConfigError {
    fn from(why: String) -> Self {
        ConfigError::Other(why)
    }
}

impl From<&str> for ConfigError {
    fn from(why: &str) -> Self {
        ConfigError::Other(String::from(why))
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::EmptyTokenUrl => f.write_str("the token URL is empty"),
            ConfigError::InvalidTokenUrl { url, reason } => {
                write!(f, "the token URL {url} {reason}")
            }
            ConfigError::TokenUrlHasFragment { url } => write!(
                f,
                "the token URL {url} has a fragment (#…); RFC 6749 §3.2 forbids one: remove it"
            ),
            ConfigError::TokenUrlHasUserinfo { url } => write!(
                f,
                "the token URL {url} carries a user name or password (user:password@); \
                 remove it and pass the client's credentials as its authentication"
            ),
            ConfigError::InsecureHttp { url } => write!(
                f,
                "refusing plain http to a non-loopback host ({url}); use https"
            ),
            ConfigError::EmptyClientId => f.write_str("the client id is empty"),
            ConfigError::ClientIdHasColon => f.write_str(
                "the client id contains ':', which HTTP Basic authentication cannot carry \
                 (RFC 7617 §2); use client_secret_post",
            ),
            ConfigError::EmptyClientSecret { method } => write!(
                f,
                "the client secret is empty ({} sends one)",
                method.as_str()
            ),
            ConfigError::MalformedScope { scope } => write!(
                f,
                "scope {scope:?} is empty or contains whitespace; pass each scope separately"
            ),
            ConfigError::ReservedParameter { name } if name.is_empty() => {
                f.write_str("an extra parameter has no name")
            }
            ConfigError::ReservedParameter { name } => write!(
                f,
                "extra parameter {name:?} would override one the request sets itself"
            ),
            ConfigError::MissingPerAttempt { parameter } => write!(
                f,
                "the request needs a {parameter} made for each attempt and none was supplied"
            ),
            ConfigError::Other(why) => f.write_str(why),
        }
    }
}
