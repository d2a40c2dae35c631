//! A token endpoint's refusal, with everything the server said about
//! retrying, and how it is classified.
//!
//! # Classification
//!
//! [`classify`] decides [`Retry`] from the status and the OAuth code, in
//! this order:
//!
//! 1. `invalid_client`, `invalid_grant`, `unauthorized_client`: permanent,
//!    whatever the status. The server has judged the credentials; retrying
//!    at full speed only burns quota (the cache still retries at its cap).
//! 2. HTTP 408, 429 and 5xx: transient.
//! 3. Otherwise the code decides ([`ErrorCode::is_transient`]:
//!    `server_error`, `temporarily_unavailable`, `authorization_pending`,
//!    `slow_down`); no code, or any other, is permanent.
//!
//! Unreadable successes (HTML, truncated JSON, no `access_token`, an
//! unsupported `token_type`) are permanent; an oversized body follows its
//! status. Codes are matched case-insensitively (Databricks sends
//! `TEMPORARILY_UNAVAILABLE`) but kept as sent.
//!
//! # What kind of error
//!
//! - [`ErrorKind::OAuth`] when the body carries an OAuth code;
//! - [`ErrorKind::Refused`] for a 401 or 403 without one (a bare status, an
//!   HTML page, or only a provider's own code such as Okta's `E0000011` or
//!   Google's `PERMISSION_DENIED`): the endpoint refused the client's
//!   credentials or permissions, permanent like `invalid_client`;
//! - [`ErrorKind::Provider`] for any other error with only a provider's own
//!   code or message (Okta's `E0000047` with 429);
//! - [`ErrorKind::Status`] when nothing in the body could be read.
//!
//! # Where the code comes from
//!
//! Providers answer errors in their own shapes; each shape's members are
//! read in general, not per provider. `error` (RFC 6749 §5.2) is the OAuth
//! code when it reads as one: a known code in any case, or an extension code
//! written like the registered ones, in lower case (`bad_verification_code`,
//! `invalid_resource`). An `error` that is prose (Auth0's reason phrase
//! `Too Many Requests`) leads the description instead. Otherwise a
//! provider's own code member is the OAuth code only when its value is one:
//! Okta's and Auth0's `errorCode`, Databricks' `error_code`, Google's and
//! Azure's `error.status` / `error.code` (when `error` is an object),
//! PingOne's `code`; else it is kept as [`ResponseError::provider_code`],
//! as is Entra's first `error_codes` entry (`AADSTS7000215`). Descriptions
//! come from `error_description`, else `message` (Databricks, Auth0,
//! PingOne), else Okta's `errorSummary`, else `error.message`, cut to 1 KiB.
//! A source removes any secret of its request that the server echoed back
//! ([`ResponseError`] never holds one).
//!
//! # Rate limiting
//!
//! A response is rate limited when its status is 429, or when its code, the
//! provider's code or the description says so ("rate limit", "too many
//! requests", "throttl", "limit exceeded", "resource_exhausted",
//! "request_limited", with `-`/`_` variants): Vertex reports a token-issuance cap as
//! `400 invalid_request`. Being rate limited does not make an error
//! transient (Vertex's cap lasts hours); it makes the rate-limit reset
//! headers count.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use core::fmt;
use core::time::Duration;

use freshen_core::{Error, ErrorKind, Retry};
use freshen_core::{ErrorCode, OAuthError, ProviderError};

use crate::fields::{Fields, Value};
use crate::hints::retry_hints;
use crate::http::HttpResponse;
use crate::number;
use crate::response::shorten;

/// The longest description kept, in bytes.
const MAX_DESCRIPTION: usize = 1024;
/// The longest code kept, in bytes.
const MAX_CODE: usize = 128;

/// Phrases that mark a rate limit in a code or a description
/// (compared case-insensitively).
const RATE_LIMIT_PHRASES: [&str; 11] = [
    "rate limit",
    "rate-limit",
    "ratelimit",
    "rate_limit",
    "too many requests",
    "too_many_requests",
    "throttl",
    "limit exceeded",
    "limit_exceeded",
    "resource_exhausted",
    "request_limited",
];

/// Why a token response gave no token, and what the server said about
/// retrying. Converts into [`freshen_core::Error`] (with `?` or
/// [`ResponseError::into_error`]). Holds no secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseError(Box<Inner>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Inner {
    kind: ErrorKind,
    retry: Retry,
    status: u16,
    code_as_sent: Option<String>,
    provider_code: Option<String>,
    rate_limited: bool,
    retry_after: Option<Duration>,
    retry_at_epoch: Option<u64>,
    min_poll_interval: Option<Duration>,
}

impl ResponseError {
    fn plain(kind: ErrorKind, retry: Retry, status: u16) -> Self {
        ResponseError(Box::new(Inner {
            kind,
            retry,
            status,
            code_as_sent: None,
            provider_code: None,
            rate_limited: false,
            retry_after: None,
            retry_at_epoch: None,
            min_poll_interval: None,
        }))
    }

    /// A body over the limit: classified by its status and headers alone.
    pub(crate) fn too_large(
        resp: &HttpResponse,
        limit: usize,
        now_epoch_secs: Option<u64>,
    ) -> Self {
        let status = resp.status;
        let retry = classify(status, None);
        let mut e = Self::plain(ErrorKind::ResponseTooLarge { limit }, retry, status);
        e.0.rate_limited = status == 429;
        let hints = retry_hints(resp, now_epoch_secs, e.0.rate_limited);
        e.0.retry_after = hints.after;
        e.0.retry_at_epoch = hints.at_epoch;
        e
    }

    /// A success status whose body is not a usable token.
    pub(crate) fn invalid(status: u16, why: String) -> Self {
        Self::plain(ErrorKind::InvalidResponse(why), Retry::Permanent, status)
    }

    /// An error status, or an error body sent with a success status.
    pub(crate) fn from_error_response(
        resp: &HttpResponse,
        fields: &Fields,
        now_epoch_secs: Option<u64>,
    ) -> Self {
        let status = resp.status;
        let object = fields.error_object.as_ref();
        let codes = Codes::read(fields);
        let code = codes.oauth.as_deref().map(normalize_code);
        let message = [
            fields.error_description.as_ref(),
            fields.message.as_ref(),
            fields.okta_error_summary.as_ref(),
            object.and_then(|o| o.message.as_ref()),
        ]
        .into_iter()
        .find_map(|v| text(v, MAX_DESCRIPTION));
        // An `error` that is prose (Auth0's "Too Many Requests") leads the
        // description instead of being taken for a code.
        let description = match (codes.prose, message) {
            (Some(prose), Some(m)) => Some(String::from(shorten(
                &format!("{prose}: {m}"),
                MAX_DESCRIPTION,
            ))),
            (prose, message) => message.or(prose),
        };
        let rate_limited = status == 429
            || [
                codes.oauth.as_deref(),
                codes.provider.as_deref(),
                description.as_deref(),
            ]
            .into_iter()
            .flatten()
            .any(mentions_rate_limit);
        let hints = retry_hints(resp, now_epoch_secs, rate_limited);
        let min_poll_interval = fields
            .interval
            .as_ref()
            .and_then(|v| number::non_negative(v).ok().flatten())
            .map(Duration::from_secs);
        let retry = classify(status, code.as_ref());
        let kind = match code {
            Some(code) => ErrorKind::OAuth(OAuthError {
                code,
                description,
                uri: text(fields.error_uri.as_ref(), MAX_DESCRIPTION),
                status,
            }),
            None => {
                let mut provider = ProviderError::new(status);
                provider.code = codes.provider.clone();
                provider.message = description;
                if status == 401 || status == 403 {
                    ErrorKind::Refused(provider)
                } else if provider.code.is_some() || provider.message.is_some() {
                    ErrorKind::Provider(provider)
                } else {
                    ErrorKind::Status { status }
                }
            }
        };
        ResponseError(Box::new(Inner {
            kind,
            retry,
            status,
            code_as_sent: codes.oauth,
            provider_code: codes.provider,
            rate_limited,
            retry_after: hints.after.or(min_poll_interval),
            retry_at_epoch: hints.at_epoch,
            min_poll_interval,
        }))
    }

    /// Replaces every occurrence of each secret in what the server said
    /// (descriptions, messages, codes, the error URI) with `<redacted>`: a
    /// server that echoes the request back must not put a secret into an
    /// error, a log line or an event. Secrets shorter than 4 bytes are
    /// ignored (they would blank out ordinary words).
    /// [`TokenRequest::redact`](crate::TokenRequest::redact) does this with
    /// the request's own secrets; [`OAuthSource`](crate::OAuthSource) calls
    /// it for every error.
    pub fn redact(&mut self, secrets: &[&str]) {
        let secrets: alloc::vec::Vec<&str> = secrets
            .iter()
            .copied()
            .filter(|s| s.len() >= MIN_REDACTED)
            .collect();
        if secrets.is_empty() {
            return;
        }
        let inner = &mut *self.0;
        let scrub_opt = |s: &mut Option<String>| {
            if let Some(s) = s.as_mut() {
                scrub(s, &secrets);
            }
        };
        match &mut inner.kind {
            ErrorKind::OAuth(e) => {
                if let ErrorCode::Other(code) = &mut e.code {
                    scrub(code, &secrets);
                }
                scrub_opt(&mut e.description);
                scrub_opt(&mut e.uri);
            }
            ErrorKind::Refused(p) | ErrorKind::Provider(p) => {
                scrub_opt(&mut p.code);
                scrub_opt(&mut p.message);
            }
            ErrorKind::InvalidResponse(why) => scrub(why, &secrets),
            _ => {}
        }
        scrub_opt(&mut inner.code_as_sent);
        scrub_opt(&mut inner.provider_code);
    }

    /// What went wrong: [`ErrorKind::OAuth`] when the body carries an OAuth
    /// code, [`ErrorKind::Status`] for an error status without one,
    /// [`ErrorKind::InvalidResponse`] or [`ErrorKind::ResponseTooLarge`].
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// Whether retrying can help (see the [module docs](self)).
    pub fn retry(&self) -> Retry {
        self.0.retry
    }

    /// Whether retrying can help: `retry() == Retry::Transient`.
    pub fn is_retryable(&self) -> bool {
        self.0.retry == Retry::Transient
    }

    /// The HTTP status of the response.
    pub fn status(&self) -> u16 {
        self.0.status
    }

    /// The OAuth error, when the body carried a code.
    pub fn oauth_error(&self) -> Option<&OAuthError> {
        match &self.0.kind {
            ErrorKind::OAuth(e) => Some(e),
            _ => None,
        }
    }

    /// The OAuth error code exactly as sent (`TEMPORARILY_UNAVAILABLE` from
    /// Databricks); `None` when the body had none.
    pub fn error_code(&self) -> Option<&str> {
        self.0.code_as_sent.as_deref()
    }

    /// The provider's own code, when it sent one that is not the OAuth
    /// code: Okta's or Auth0's `errorCode` (`E0000047`, `too_many_requests`),
    /// a Databricks `error_code` that is not an OAuth code
    /// (`PERMISSION_DENIED`), Google's or Azure's `error.status` /
    /// `error.code`, PingOne's `code` (`INVALID_DATA`), Entra's first
    /// `error_codes` entry as `AADSTS<n>`.
    pub fn provider_code(&self) -> Option<&str> {
        self.0.provider_code.as_deref()
    }

    /// Whether the server signalled a rate limit (a 429, or a code or
    /// description that says so).
    pub fn is_rate_limited(&self) -> bool {
        self.0.rate_limited
    }

    /// How long the server asked to wait: `Retry-After`, else a rate-limit
    /// reset (when rate limited), else a device-flow `interval`. An absolute
    /// time gives a delay only when "now" was known. Not capped here: the
    /// policy caps it.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// When to retry, as epoch seconds, when the server gave an absolute
    /// time (an HTTP-date `Retry-After`, `X-RateLimit-Reset`).
    pub fn retry_at_epoch(&self) -> Option<u64> {
        self.0.retry_at_epoch
    }

    /// The polling interval the server asked for (`interval`, sent with
    /// RFC 8628 `slow_down` by GitHub).
    pub fn min_poll_interval(&self) -> Option<Duration> {
        self.0.min_poll_interval
    }

    /// The error every waiter of the attempt gets.
    pub fn into_error(self) -> Error {
        let inner = *self.0;
        let error = Error::new(inner.kind, inner.retry);
        match inner.retry_after {
            Some(after) => error.with_retry_after(after),
            None => error,
        }
    }

    /// Like [`ResponseError::into_error`], keeping `self`.
    pub fn to_error(&self) -> Error {
        self.clone().into_error()
    }
}

impl From<ResponseError> for Error {
    fn from(e: ResponseError) -> Error {
        e.into_error()
    }
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_error(), f)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ResponseError {}

/// The shortest secret [`ResponseError::redact`] looks for.
const MIN_REDACTED: usize = 4;

/// Replaces each secret in `s` with `<redacted>`.
fn scrub(s: &mut String, secrets: &[&str]) {
    for secret in secrets {
        if s.contains(secret) {
            *s = s.replace(secret, "<redacted>");
        }
    }
}

/// A non-blank string member, trimmed and cut to `max` bytes. Numbers,
/// objects and arrays are not text (Databricks' legacy endpoints send the
/// HTTP status as a number in `error_code`).
fn text(v: Option<&Value>, max: usize) -> Option<String> {
    v.and_then(Value::non_empty_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| String::from(shorten(s, max)))
}

/// The codes an error body carries, sorted out.
#[derive(Debug, Default, PartialEq, Eq)]
struct Codes {
    /// The OAuth code, as sent.
    oauth: Option<String>,
    /// The provider's own code, when it is not the OAuth code.
    provider: Option<String>,
    /// `error` when it is prose, not a code ("Too Many Requests").
    prose: Option<String>,
}

impl Codes {
    /// `error` (RFC 6749) is the OAuth code when it reads as one: a known
    /// code in any case, or an extension code in lower case
    /// (`bad_verification_code`, `invalid_resource`). Otherwise each
    /// provider's own code member is the OAuth code if its value is a known
    /// one (Okta's `errorCode: invalid_client`, Databricks'
    /// `error_code: TEMPORARILY_UNAVAILABLE`), and the provider's code if
    /// not. An `error` in other words ("Unauthorized") is a provider code;
    /// one with spaces is prose.
    fn read(fields: &Fields) -> Codes {
        let object = fields.error_object.as_ref();
        let error = text(fields.error.as_ref(), MAX_DESCRIPTION);
        let mut codes = Codes::default();
        let mut members: alloc::vec::Vec<String> = [
            fields.camel_error_code.as_ref(),
            fields.error_code.as_ref(),
            object.and_then(|o| o.status.as_ref()),
            object.and_then(|o| o.code.as_ref()),
            fields.code.as_ref(),
        ]
        .into_iter()
        .filter_map(|v| text(v, MAX_CODE))
        .collect();
        match error {
            Some(e) if is_oauth_code(&e) => codes.oauth = Some(e),
            Some(e) if is_code_token(&e) => members.push(e),
            Some(e) => codes.prose = Some(e),
            None => {}
        }
        for member in members {
            if codes.oauth.is_none() && normalize_code(&member).is_known() {
                codes.oauth = Some(member);
            } else if codes.provider.is_none() && codes.oauth.as_ref() != Some(&member) {
                codes.provider = Some(member);
            }
        }
        if codes.provider.is_none() {
            codes.provider = entra_code(fields.error_codes.as_ref());
        }
        codes
    }
}

/// A single token with the characters RFC 6749 §5.2 allows in a code
/// (printable ASCII but `"` and `\\`), no spaces.
fn is_code_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_CODE
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

/// Whether `error` is an OAuth code: a known one in any case, or an
/// extension code written like the registered ones (lower case).
fn is_oauth_code(s: &str) -> bool {
    is_code_token(s) && (normalize_code(s).is_known() || !s.bytes().any(|b| b.is_ascii_uppercase()))
}

/// Entra's first numeric code as `AADSTS<n>` (its documented form).
fn entra_code(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::UInt(n) => Some(format!("AADSTS{n}")),
        other => text(Some(other), MAX_CODE),
    }
}

/// Whether an error with this status and OAuth code can go away on its own
/// (see the [module docs](self)). Public so that a transport or source that
/// sees a status without a body classifies it the same way.
pub fn classify(status: u16, code: Option<&ErrorCode>) -> Retry {
    let judged_credentials = matches!(
        code,
        Some(ErrorCode::InvalidClient | ErrorCode::InvalidGrant | ErrorCode::UnauthorizedClient)
    );
    if judged_credentials {
        Retry::Permanent
    } else if status == 408
        || status == 429
        || (500..600).contains(&status)
        || code.is_some_and(ErrorCode::is_transient)
    {
        Retry::Transient
    } else {
        Retry::Permanent
    }
}

/// A code as [`ErrorCode`], matching the known ones case-insensitively;
/// unknown codes are kept verbatim.
fn normalize_code(sent: &str) -> ErrorCode {
    match ErrorCode::parse(&sent.to_ascii_lowercase()) {
        ErrorCode::Other(_) => ErrorCode::Other(String::from(sent)),
        known => known,
    }
}

fn mentions_rate_limit(text: &str) -> bool {
    RATE_LIMIT_PHRASES
        .iter()
        .any(|phrase| contains_ignore_ascii_case(text, phrase))
}

fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    let needle = needle.as_bytes();
    needle.is_empty()
        || haystack
            .as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        use ErrorCode as C;
        let p = Retry::Permanent;
        let t = Retry::Transient;
        let cases = [
            (400, Some(C::InvalidClient), p),
            (503, Some(C::InvalidGrant), p),
            (500, Some(C::UnauthorizedClient), p),
            (400, Some(C::InvalidRequest), p),
            (400, Some(C::Other(String::from("invalid_resource"))), p),
            (503, None, t),
            (502, Some(C::InvalidRequest), t),
            (429, None, t),
            (408, None, t),
            (200, Some(C::SlowDown), t),
            (400, Some(C::AuthorizationPending), t),
            (400, Some(C::TemporarilyUnavailable), t),
            (401, None, p),
            (404, None, p),
            (302, None, p),
        ];
        for (status, code, want) in cases {
            assert_eq!(classify(status, code.as_ref()), want, "{status} {code:?}");
        }
    }

    #[test]
    fn codes_match_case_insensitively_but_unknown_ones_stay_verbatim() {
        assert_eq!(
            normalize_code("TEMPORARILY_UNAVAILABLE"),
            ErrorCode::TemporarilyUnavailable
        );
        assert_eq!(
            normalize_code("REQUEST_LIMIT_EXCEEDED"),
            ErrorCode::Other(String::from("REQUEST_LIMIT_EXCEEDED"))
        );
    }

    #[test]
    fn rate_limit_phrases() {
        assert!(mentions_rate_limit(
            "Client x has exceeded the rate limit of 10 tokens/28800 seconds"
        ));
        assert!(mentions_rate_limit("REQUEST_LIMIT_EXCEEDED"));
        assert!(mentions_rate_limit("Too Many Requests"));
        assert!(!mentions_rate_limit("Invalid client secret provided."));
    }
}
