//! The error every waiter of a failed attempt shares.
//!
//! One attempt can have thousands of waiters, and all of them must see the
//! same outcome, so [`Error`] is a cheap, cloneable handle. It never holds a
//! secret: transports and parsers put only codes, statuses and descriptions
//! from the server in it.
//!
//! [`ErrorKind`] names every way a fetch can fail, as plain data, so that
//! drivers and users can match on it without the wire crate. The values it
//! carries live here too: what a token endpoint said ([`ErrorCode`],
//! [`OAuthError`], [`ProviderError`], in `error/oauth.rs`) and what is wrong
//! with a request's configuration ([`ConfigError`], [`AuthMethod`], in
//! `error/config.rs`). They are enums and structs with a `Display` and
//! nothing else: reading them out of an HTTP response (RFC 6749 §5.2
//! bodies, provider envelopes, the retry classification) is freshen-oauth's
//! job, and needs serde, which this crate does not have.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;
use core::time::Duration;

mod config;
mod oauth;

pub use config::{AuthMethod, ConfigError};
pub use oauth::{ErrorCode, OAuthError, ProviderError};

/// Whether retrying can help.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Retry {
    /// A passing fault: the network, a 5xx, a 429, a timeout. Retried with
    /// exponential backoff and full jitter.
    Transient,
    /// Retrying the same request will fail the same way (`invalid_client`,
    /// `invalid_grant`, an unparseable response). Reaches callers at once and
    /// slows retries to the backoff cap, but never stops refresh for good:
    /// an operator may fix the secret without restarting the service.
    Permanent,
}

/// What went wrong with an attempt to fetch a token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The token endpoint answered with an OAuth2 error (RFC 6749 §5.2).
    OAuth(OAuthError),
    /// The token endpoint answered with an error status and no OAuth2 error
    /// code (a bare 429, a 502 page from a proxy).
    Status {
        /// The HTTP status code.
        status: u16,
    },
    /// The token endpoint refused the client with HTTP 401 or 403 and no
    /// OAuth2 error code (a bare status, or only a provider's own code such
    /// as Okta's `E0000011` or Google's `PERMISSION_DENIED`): the
    /// credentials, or the client's permissions, were refused. Permanent,
    /// like `invalid_client`.
    Refused(ProviderError),
    /// The token endpoint answered an error with no OAuth2 error code, in a
    /// provider's own envelope (Okta's `E0000047`, Auth0's
    /// `too_many_requests`, a Databricks `error_code` that is not an OAuth
    /// code, a message only). Classified by its status.
    Provider(ProviderError),
    /// The response could not be understood (HTML, truncated JSON, no
    /// `access_token`, an absurd lifetime, an unsupported `token_type`).
    InvalidResponse(String),
    /// The body was larger than the configured limit; it was not read.
    ResponseTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The request did not reach the server or the reply did not come back
    /// (refused, reset, DNS, TLS, a refused redirect). The text says where
    /// and what, for a log line; the transport's own error is kept as the
    /// [`Error`]'s [`source`](core::error::Error::source).
    Transport(String),
    /// The attempt took longer than the policy's attempt timeout.
    Timeout {
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The source brought back the token already held, or one that expires
    /// no later: a cache sits between freshen and the network.
    NoProgress,
    /// The token's usable life was already over when it arrived (a lifetime
    /// shorter than the round trip plus the safety margin).
    ExpiredOnArrival,
    /// The token source panicked.
    SourcePanicked,
    /// The attempt's task was dropped before it reported (its runtime shut
    /// down, or it was never run): its waiters are told instead of hanging.
    AttemptLost,
    /// The cache was shut down while the caller waited.
    Closed,
    /// The caller's request to the source was malformed or misconfigured
    /// (see [`ConfigError`]: it says what to fix).
    Config(ConfigError),
    /// A token store (where a refresh token survives a restart) could not
    /// be locked, read or written, or held something unreadable. The text
    /// says which file and what, never its contents.
    Store(String),
}

/// A shared, cloneable error from one attempt. Every waiter of the attempt
/// gets a clone of the same value.
///
/// It keeps its cause: a transport attaches the error its HTTP client
/// returned ([`Error::with_source`]), and
/// [`source`](core::error::Error::source) gives it back, so error reporters
/// can walk the chain down to the I/O error.
#[derive(Clone)]
pub struct Error(Arc<Inner>);

/// The cause an [`Error`] keeps: the error a transport or source saw.
pub type Cause = Arc<dyn core::error::Error + Send + Sync + 'static>;

struct Inner {
    kind: ErrorKind,
    retry: Retry,
    retry_after: Option<Duration>,
    source: Option<Cause>,
}

impl Error {
    /// An error with an explicit classification.
    pub fn new(kind: ErrorKind, retry: Retry) -> Self {
        Error(Arc::new(Inner {
            kind,
            retry,
            retry_after: None,
            source: None,
        }))
    }

    /// A transient error.
    pub fn transient(kind: ErrorKind) -> Self {
        Self::new(kind, Retry::Transient)
    }

    /// A permanent error.
    pub fn permanent(kind: ErrorKind) -> Self {
        Self::new(kind, Retry::Permanent)
    }

    /// Adds the server's `Retry-After` (or rate-limit reset) hint.
    pub fn with_retry_after(self, after: Duration) -> Self {
        let inner = Inner {
            kind: self.0.kind.clone(),
            retry: self.0.retry,
            retry_after: Some(after),
            source: self.0.source.clone(),
        };
        Error(Arc::new(inner))
    }

    /// Keeps `source` as this error's cause, returned by
    /// [`source`](core::error::Error::source): the error a transport's HTTP
    /// client returned, a boxed error, or a message.
    ///
    /// Every waiter, log line and event may show the cause, so it must hold
    /// no secret: no request body or header, and no URL with userinfo or a
    /// query that could carry one (freshen's transports strip URLs from the
    /// errors they attach).
    ///
    /// ```
    /// use freshen_core::{Error, ErrorKind};
    ///
    /// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
    /// let error = Error::transient(ErrorKind::Transport("idp.example: refused".into()))
    ///     .with_source(io);
    /// let cause = std::error::Error::source(&error).expect("the cause");
    /// assert!(cause.downcast_ref::<std::io::Error>().is_some());
    /// ```
    pub fn with_source(
        self,
        source: impl Into<Box<dyn core::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        let inner = Inner {
            kind: self.0.kind.clone(),
            retry: self.0.retry,
            retry_after: self.0.retry_after,
            source: Some(Cause::from(source.into())),
        };
        Error(Arc::new(inner))
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// Whether retrying can help.
    pub fn retry(&self) -> Retry {
        self.0.retry
    }

    /// Whether retrying the same request will fail the same way.
    pub fn is_permanent(&self) -> bool {
        self.0.retry == Retry::Permanent
    }

    /// How long the server asked us to wait before the next attempt.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// Whether two handles are clones of one error (the same attempt).
    pub fn same_as(&self, other: &Error) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Errors are equal when they say the same (kind, retry class, hint); their
/// causes are not compared.
impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.0.kind == other.0.kind
            && self.0.retry == other.0.retry
            && self.0.retry_after == other.0.retry_after
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("retry", &self.0.retry)
            .field("retry_after", &self.0.retry_after)
            .field("source", &self.0.source.as_ref().map(|s| Shown(&**s)))
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let transient = self.0.retry == Retry::Transient;
        match &self.0.kind {
            // A passing failure must not read as a verdict, nor a verdict as
            // something that will pass.
            ErrorKind::OAuth(e) if transient => {
                let state = passing_state(e.status, Some(&e.code));
                write!(f, "token endpoint {state} (HTTP {}, {}", e.status, e.code)?;
                if let Some(d) = &e.description {
                    write!(f, ": {d}")?;
                }
                f.write_str("); retrying later can help")?;
            }
            ErrorKind::OAuth(e) => write!(f, "token endpoint refused the request: {e}")?,
            ErrorKind::Status { status } if transient => write!(
                f,
                "token endpoint {} (HTTP {status}, no OAuth2 error); retrying later can help",
                passing_state(*status, None)
            )?,
            ErrorKind::Status { status } => write!(
                f,
                "token endpoint answered HTTP {status} with no OAuth2 error"
            )?,
            ErrorKind::Refused(p) => write!(
                f,
                "token endpoint refused the client ({p}); check the client id, its secret \
                 and what the client is allowed to request"
            )?,
            ErrorKind::Provider(p) if transient => write!(
                f,
                "token endpoint {} ({p}); retrying later can help",
                passing_state(p.status, None)
            )?,
            ErrorKind::Provider(p) => write!(f, "token endpoint refused the request ({p})")?,
            ErrorKind::InvalidResponse(why) => write!(f, "invalid token response: {why}")?,
            ErrorKind::ResponseTooLarge { limit } => {
                write!(f, "token response larger than the {limit}-byte limit")?
            }
            ErrorKind::Transport(why) => write!(f, "could not reach the token endpoint: {why}")?,
            ErrorKind::Timeout { after } => write!(f, "token request timed out after {after:?}")?,
            ErrorKind::NoProgress => f.write_str(
                "token source returned the token already held (or one expiring no later); \
                 is a cache wrapped around it?",
            )?,
            ErrorKind::ExpiredOnArrival => {
                f.write_str("token arrived with no usable lifetime left")?
            }
            ErrorKind::SourcePanicked => f.write_str("token source panicked")?,
            ErrorKind::AttemptLost => {
                f.write_str("refresh task was dropped before it finished (runtime shut down?)")?
            }
            ErrorKind::Closed => f.write_str("token cache was shut down")?,
            ErrorKind::Config(why) => write!(f, "token request misconfigured: {why}")?,
            ErrorKind::Store(why) => write!(f, "token store failed: {why}")?,
        }
        if let Some(after) = self.0.retry_after {
            write!(f, " (server asks to retry after {}s)", after.as_secs())?;
        }
        Ok(())
    }
}

/// What a passing failure is, in words: "token endpoint {state}".
fn passing_state(status: u16, code: Option<&ErrorCode>) -> &'static str {
    match (code, status) {
        (Some(ErrorCode::TemporarilyUnavailable), _) | (_, 503) => "is temporarily unavailable",
        (Some(ErrorCode::ServerError), _) => "failed with a server error",
        (Some(ErrorCode::SlowDown | ErrorCode::AuthorizationPending), _) => {
            "asks the client to wait"
        }
        (_, 429) => "is rate limiting requests",
        (_, 408) => "timed out the request",
        (_, 500..=599) => "failed with a server error",
        _ => "failed for now",
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        let source: &(dyn core::error::Error + 'static) = self.0.source.as_deref()?;
        Some(source)
    }
}

/// A cause in `Debug`: its `Display` (what it says), quoted.
struct Shown<'a>(&'a (dyn core::error::Error + Send + Sync));

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use alloc::format;
    use alloc::string::String;

    #[test]
    fn transient_and_permanent_errors_read_differently() {
        let oauth = |code: &str, status| {
            ErrorKind::OAuth(OAuthError {
                code: ErrorCode::parse(code),
                description: Some(String::from("try later")),
                uri: None,
                status,
            })
        };
        let passing = Error::transient(oauth("temporarily_unavailable", 503));
        assert_eq!(
            format!("{passing}"),
            "token endpoint is temporarily unavailable (HTTP 503, temporarily_unavailable: \
             try later); retrying later can help"
        );
        let verdict = Error::permanent(oauth("invalid_client", 401));
        assert_eq!(
            format!("{verdict}"),
            "token endpoint refused the request: invalid_client (HTTP 401): try later"
        );
        let limited = Error::transient(ErrorKind::Status { status: 429 })
            .with_retry_after(Duration::from_secs(7));
        assert_eq!(
            format!("{limited}"),
            "token endpoint is rate limiting requests (HTTP 429, no OAuth2 error); \
             retrying later can help (server asks to retry after 7s)"
        );
        let refused = Error::permanent(ErrorKind::Refused(ProviderError::new(401)));
        assert!(format!("{refused}").starts_with("token endpoint refused the client (HTTP 401)"));
        for e in [&passing, &limited] {
            assert!(!format!("{e}").contains("refused"), "{e}");
        }
    }

    #[derive(Debug)]
    struct Refused;

    impl fmt::Display for Refused {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("connection refused")
        }
    }

    impl core::error::Error for Refused {}

    #[test]
    #[allow(clippy::expect_used)]
    fn the_cause_is_kept_through_clones_and_hints() {
        use core::error::Error as _;

        let e = Error::transient(ErrorKind::Transport(String::from("idp: refused")))
            .with_source(Refused)
            .with_retry_after(Duration::from_secs(3));
        let clone = e.clone();
        let source = clone.source().expect("the cause");
        assert!(source.downcast_ref::<Refused>().is_some());
        assert_eq!(format!("{source}"), "connection refused");
        assert!(format!("{e:?}").contains("source: Some(\"connection refused\")"));
        // The summary stays as it was; equality ignores the cause.
        assert_eq!(
            format!("{e}"),
            "could not reach the token endpoint: idp: refused (server asks to retry after 3s)"
        );
        assert_eq!(
            e,
            Error::transient(ErrorKind::Transport(String::from("idp: refused")))
                .with_retry_after(Duration::from_secs(3))
        );
        assert!(Error::transient(ErrorKind::Closed).source().is_none());
        let message = Error::transient(ErrorKind::Closed).with_source("shut down");
        assert_eq!(
            format!("{}", message.source().expect("a message")),
            "shut down"
        );
    }

    #[test]
    fn clones_are_the_same_error() {
        let e = Error::transient(ErrorKind::NoProgress);
        let c = e.clone();
        assert!(e.same_as(&c));
        assert!(!e.same_as(&Error::transient(ErrorKind::NoProgress)));
        assert_eq!(e, Error::transient(ErrorKind::NoProgress));
    }
}
