//! A token endpoint's response, parsed: a token, or a [`ResponseError`].
//!
//! One parser for every provider, handling each *class* of deviation from
//! RFC 6749 §5.1/§5.2 rather than each provider:
//!
//! - **Encoding by shape**: a body whose first non-blank byte is `{` is JSON;
//!   otherwise a body shaped like a form is read as
//!   `application/x-www-form-urlencoded`, whatever `Content-Type` says
//!   (GitHub labels forms as JSON).
//! - **Numbers** may be integers, floats (`3600.0`, floored) or strings
//!   (`"3599"`). A negative or non-numeric lifetime is
//!   [`ErrorKind::InvalidResponse`](freshen_core::ErrorKind::InvalidResponse).
//!   Lifetimes above [`ParseOptions::max_lifetime`] (default 10 years) are
//!   clamped to it: providers do issue "never-expiring" tokens, and a bound
//!   keeps the schedule meaningful. A zero lifetime parses; the machine
//!   rejects the token as expired on arrival.
//! - **Lifetime sources**, first that applies: `expires_in` (or Facebook's
//!   `expires`), relative seconds; else an absolute `expires_on` /
//!   `expires_at` (epoch seconds or milliseconds, number or string, Azure
//!   App Service's `M/d/yyyy h:mm:ss [AM|PM] +00:00`, RFC 3339) minus
//!   `now_epoch_secs` (an expiry already past gives zero; with no `now`,
//!   no lifetime). When `expires_in` is given, a bad absolute member is
//!   ignored; when it is the only source, it must parse.
//! - **Hints are lenient**: `refresh_in`, `issued_at`, `interval` and
//!   rate-limit headers that do not parse are dropped, never fatal.
//! - **Empty strings mean absent** (`"refresh_token": ""` from Azure IMDS).
//! - **`token_type`**: absent means Bearer; compared case-insensitively;
//!   `N_A` accepted only when [`ParseOptions::accepting_na_token_type`]
//!   (RFC 8693 token exchange); anything else, DPoP included, is refused.
//! - **Errors**: any non-2xx status, or any body with an `error` (RFC 6749;
//!   a string or, for Google's and Azure's APIs, an object), `error_code`
//!   (Databricks) or `errorCode` (Okta, Auth0) member, even with HTTP 200
//!   (GitHub). A 401 or 403 without an OAuth code is a refusal. See
//!   [`ResponseError`] for classification and the provider envelopes.
//! - **Bounded**: a body over [`ParseOptions::max_body_bytes`] (default
//!   1 MiB) is refused unread; unknown members are skipped without being
//!   stored; nesting is bounded; nothing panics.

use alloc::format;
use alloc::string::String;
use core::time::Duration;

use freshen_core::Fetched;
use freshen_core::Secret;

use crate::fields::{Body, Fields, Value, read_body};
use crate::http::HttpResponse;
use crate::number::{self, NumberError};
use crate::response_error::ResponseError;

/// The default cap on a response body: 1 MiB. Real token responses are a
/// few kilobytes (a JWT with many claims stays well under 64 KiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// The default cap on a lifetime: 10 years (3650 days).
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(3650 * 24 * 60 * 60);

/// Issued-at values below this are taken as epoch seconds, not
/// milliseconds (as milliseconds they would fall in 1973).
const ISSUED_AT_SECONDS_BELOW: u64 = 100_000_000_000;

/// Limits and choices for [`parse_token_response`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseOptions {
    max_body_bytes: usize,
    max_lifetime: Duration,
    accept_na_token_type: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_lifetime: DEFAULT_MAX_LIFETIME,
            accept_na_token_type: false,
        }
    }
}

impl ParseOptions {
    /// The defaults: 1 MiB bodies, lifetimes clamped to 10 years, Bearer only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the largest body parsed; larger ones are
    /// [`ErrorKind::ResponseTooLarge`](freshen_core::ErrorKind::ResponseTooLarge).
    #[must_use]
    pub fn with_max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Sets the longest lifetime believed; longer ones are clamped to it.
    #[must_use]
    pub fn with_max_lifetime(mut self, max: Duration) -> Self {
        self.max_lifetime = max;
        self
    }

    /// Whether `token_type=N_A` is accepted: RFC 8693 §2.2.1 lets a token
    /// exchange issue a token that is not an OAuth access token.
    #[must_use]
    pub fn accepting_na_token_type(mut self, accept: bool) -> Self {
        self.accept_na_token_type = accept;
        self
    }

    /// The largest body parsed, in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// The longest lifetime believed.
    pub fn max_lifetime(&self) -> Duration {
        self.max_lifetime
    }

    /// Whether `token_type=N_A` is accepted.
    pub fn accepts_na_token_type(&self) -> bool {
        self.accept_na_token_type
    }
}

/// A successful token response. `Debug` redacts both tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParsedToken {
    /// The access token.
    pub access_token: Secret,
    /// `token_type` as sent (`None` when absent: Bearer).
    pub token_type: Option<String>,
    /// The lifetime at receipt, clamped to the configured maximum; `None`
    /// when the response states none (the policy's default applies).
    pub lifetime: Option<Duration>,
    /// The absolute expiry as sent (`expires_on` / `expires_at`), in epoch
    /// seconds; `None` when the response gives only `expires_in`.
    pub expires_at_epoch: Option<u64>,
    /// Entra's `refresh_in`: refresh after this long, whatever the lifetime.
    pub refresh_in: Option<Duration>,
    /// A new refresh token, when the server rotated it: it replaces the one
    /// held (see [`TokenRequest::rotate_refresh_token`](crate::TokenRequest::rotate_refresh_token)).
    /// Empty strings are taken as absent.
    pub refresh_token: Option<Secret>,
    /// `scope` as sent (space-separated per RFC 6749; GitHub uses commas).
    pub scope: Option<String>,
    /// When the token was issued, in epoch milliseconds (Salesforce's
    /// `issued_at`; values small enough to be seconds are converted).
    pub issued_at_epoch_ms: Option<u64>,
    /// RFC 8693 `issued_token_type`, for a token exchange.
    pub issued_token_type: Option<String>,
}

impl ParsedToken {
    /// Whether the token is used as a Bearer token (`token_type` absent or
    /// `Bearer` in any case).
    pub fn is_bearer(&self) -> bool {
        self.token_type
            .as_deref()
            .is_none_or(|t| t.trim().eq_ignore_ascii_case("bearer"))
    }

    /// What the cache needs from this response. The refresh token is not
    /// part of it: a source keeps that itself.
    pub fn to_fetched(&self) -> Fetched {
        self.clone().into_fetched()
    }

    /// Like [`ParsedToken::to_fetched`], without copying the access token.
    pub fn into_fetched(self) -> Fetched {
        let mut fetched = Fetched::new(self.access_token);
        fetched.token_type = self.token_type;
        fetched.lifetime = self.lifetime;
        fetched.refresh_in = self.refresh_in;
        fetched
    }
}

impl From<ParsedToken> for Fetched {
    fn from(token: ParsedToken) -> Fetched {
        token.into_fetched()
    }
}

/// Parses a token endpoint's response.
///
/// `now_epoch_secs` is the wall-clock time at receipt, used only to turn an
/// absolute expiry or an HTTP-date `Retry-After` into a duration; pass `None`
/// when no wall clock is available (such values are then reported but give
/// no lifetime or delay). The error converts into [`freshen_core::Error`] with `?`.
pub fn parse_token_response(
    resp: &HttpResponse,
    now_epoch_secs: Option<u64>,
    options: &ParseOptions,
) -> Result<ParsedToken, ResponseError> {
    let status = resp.status;
    let success = (200..300).contains(&status);
    if resp.body.len() > options.max_body_bytes {
        return Err(ResponseError::too_large(
            resp,
            options.max_body_bytes,
            now_epoch_secs,
        ));
    }
    let mut fields = match read_body(&resp.body) {
        Body::Fields(fields) => fields,
        Body::Empty => Fields::default(),
        Body::Unreadable(why) if success => {
            return Err(ResponseError::invalid(status, String::from(why)));
        }
        // An error status says more than an unreadable body (a proxy's HTML
        // page, a truncated JSON error): classify by the status alone.
        Body::Unreadable(_) => Fields::default(),
    };
    if !success || has_error_code(&fields) {
        return Err(ResponseError::from_error_response(
            resp,
            &fields,
            now_epoch_secs,
        ));
    }
    token(&mut fields, now_epoch_secs, options).map_err(|why| ResponseError::invalid(status, why))
}

/// An `error` (RFC 6749), `error_code` (Databricks) or `errorCode` (Okta,
/// Auth0) member with a value, or an `error` object (Google, Azure).
fn has_error_code(fields: &Fields) -> bool {
    fields.error_object.is_some()
        || [&fields.error, &fields.error_code, &fields.camel_error_code]
            .into_iter()
            .flatten()
            .any(|v| v.non_empty_str().is_some_and(|s| !s.trim().is_empty()))
}

fn token(
    fields: &mut Fields,
    now: Option<u64>,
    options: &ParseOptions,
) -> Result<ParsedToken, String> {
    let access_token = match fields.access_token.as_mut() {
        Some(v @ Value::Str(_)) => v.take_non_empty_str(),
        Some(Value::Null) | None => None,
        Some(_) => return Err(String::from("access_token is not a string")),
    }
    .filter(|t| !t.trim().is_empty())
    .map(Secret::new)
    .ok_or_else(|| String::from("no access_token"))?;
    if access_token.expose().bytes().any(|b| b.is_ascii_control()) {
        return Err(String::from("access_token contains control characters"));
    }
    let token_type = token_type(fields.token_type.as_ref(), options)?;
    let clamp = |secs: u64| Duration::from_secs(secs).min(options.max_lifetime);

    let relative = first_present([
        ("expires_in", &fields.expires_in),
        ("expires", &fields.expires),
    ])
    .map(|(name, v)| number::non_negative(v).map_err(|e| format!("{name} {}", e.as_str())))
    .transpose()?
    .flatten();
    let absolute = match first_present([
        ("expires_on", &fields.expires_on),
        ("expires_at", &fields.expires_at),
    ]) {
        None => None,
        Some((name, v)) => match number::epoch_seconds(v) {
            Ok(at) => at,
            Err(_) if relative.is_some() => None,
            Err(NumberError::Negative) => return Err(format!("{name} is negative")),
            Err(NumberError::NotANumber) => {
                return Err(format!("{name} is neither epoch seconds nor a date"));
            }
        },
    };
    let lifetime = match (relative, absolute, now) {
        (Some(secs), _, _) => Some(clamp(secs)),
        (None, Some(at), Some(now)) => Some(clamp(at.saturating_sub(now))),
        _ => None,
    };

    let lenient = |v: &Option<Value>| {
        v.as_ref()
            .and_then(|v| number::non_negative(v).ok().flatten())
    };
    let refresh_in = lenient(&fields.refresh_in).map(clamp);
    let issued_at_epoch_ms = lenient(&fields.issued_at).map(|n| {
        if n < ISSUED_AT_SECONDS_BELOW {
            n.saturating_mul(1000)
        } else {
            n
        }
    });
    let refresh_token = fields
        .refresh_token
        .as_mut()
        .and_then(Value::take_non_empty_str)
        .map(Secret::new);
    let scope = match &fields.scope {
        Some(Value::Str(s)) => Some(String::from(s.as_str())),
        _ => None,
    };
    let issued_token_type = fields
        .issued_token_type
        .as_ref()
        .and_then(Value::non_empty_str)
        .map(String::from);

    Ok(ParsedToken {
        access_token,
        token_type,
        lifetime,
        expires_at_epoch: absolute,
        refresh_in,
        refresh_token,
        scope,
        issued_at_epoch_ms,
        issued_token_type,
    })
}

/// The first member that is present and not blank, with its name for
/// error messages.
fn first_present<'a, const N: usize>(
    members: [(&'static str, &'a Option<Value>); N],
) -> Option<(&'static str, &'a Value)> {
    members
        .into_iter()
        .find_map(|(name, v)| v.as_ref().filter(|v| !v.is_blank()).map(|v| (name, v)))
}

fn token_type(value: Option<&Value>, options: &ParseOptions) -> Result<Option<String>, String> {
    let sent = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Str(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::Str(s)) => s.as_str(),
        Some(_) => return Err(String::from("token_type is not a string")),
    };
    let t = sent.trim();
    if t.eq_ignore_ascii_case("bearer")
        || (options.accept_na_token_type && t.eq_ignore_ascii_case("N_A"))
    {
        Ok(Some(String::from(sent)))
    } else if t.eq_ignore_ascii_case("dpop") {
        Err(String::from(
            "unsupported token_type DPoP: a DPoP-bound token needs a proof per request, which freshen does not make",
        ))
    } else {
        Err(format!("unsupported token_type {:?}", shorten(t, 40)))
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub(crate) fn shorten(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use alloc::borrow::ToOwned;
    use freshen_core::{ErrorCode, ProviderError};
    use freshen_core::{ErrorKind, Retry};

    const NOW: u64 = 1_700_000_000;

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        let mut r = HttpResponse::new(status, body.as_bytes());
        r.headers = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        r
    }

    fn ok(body: &str) -> ParsedToken {
        parse_token_response(&resp(200, &[], body), Some(NOW), &ParseOptions::default())
            .unwrap_or_else(|e| panic!("{body}: {e}"))
    }

    fn err(status: u16, headers: &[(&str, &str)], body: &str) -> ResponseError {
        match parse_token_response(
            &resp(status, headers, body),
            Some(NOW),
            &ParseOptions::default(),
        ) {
            Ok(t) => panic!("{body}: parsed {t:?}"),
            Err(e) => e,
        }
    }

    fn invalid(body: &str) -> String {
        let e = err(200, &[], body);
        assert_eq!(e.retry(), Retry::Permanent, "{body}");
        match e.kind() {
            ErrorKind::InvalidResponse(why) => why.clone(),
            other => panic!("{body}: {other:?}"),
        }
    }

    fn lifetime(body: &str) -> Option<u64> {
        ok(body).lifetime.map(|d| d.as_secs())
    }

    #[test]
    fn numbers_in_every_spelling() {
        for v in [
            "3600",
            "\"3600\"",
            "3600.0",
            "\"3600.9\"",
            "\" 3600 \"",
            "3.6e3",
        ] {
            let body = alloc::format!(r#"{{"access_token":"t","expires_in":{v}}}"#);
            assert_eq!(lifetime(&body), Some(3600), "{v}");
        }
        assert_eq!(lifetime(r#"{"access_token":"t","expires_in":0}"#), Some(0));
        assert_eq!(lifetime(r#"{"access_token":"t","expires_in":null}"#), None);
        assert_eq!(lifetime(r#"{"access_token":"t","expires_in":""}"#), None);
        assert_eq!(lifetime("access_token=t&expires=60"), Some(60));
    }

    #[test]
    fn bad_and_absurd_lifetimes() {
        for v in [
            "-1", "\"-5\"", "\"NaN\"", "\"inf\"", "\"soon\"", "true", "{}", "[]",
        ] {
            let body = alloc::format!(r#"{{"access_token":"t","expires_in":{v}}}"#);
            let why = invalid(&body);
            assert!(why.starts_with("expires_in "), "{v}: {why}");
        }
        let ten_years = DEFAULT_MAX_LIFETIME.as_secs();
        assert_eq!(
            lifetime(r#"{"access_token":"t","expires_in":1e300}"#),
            Some(ten_years)
        );
        assert_eq!(
            lifetime(r#"{"access_token":"t","expires_in":"99999999999999999999999"}"#),
            Some(ten_years)
        );
        let opts = ParseOptions::new().with_max_lifetime(Duration::from_secs(100));
        let t = parse_token_response(
            &resp(
                200,
                &[],
                r#"{"access_token":"t","expires_in":3600,"refresh_in":1800}"#,
            ),
            None,
            &opts,
        )
        .unwrap();
        assert_eq!(t.lifetime, Some(Duration::from_secs(100)));
        assert_eq!(t.refresh_in, Some(Duration::from_secs(100)));
    }

    #[test]
    fn lifetime_from_an_absolute_expiry() {
        let at = NOW + 600;
        for v in [
            alloc::format!("{at}"),
            alloc::format!("\"{at}\""),
            alloc::format!("{}", at * 1000),
            "\"11/14/2023 22:23:20 +00:00\"".to_owned(),
            "\"11/14/2023 10:23:20 PM +00:00\"".to_owned(),
            "\"2023-11-14T22:23:20Z\"".to_owned(),
        ] {
            for member in ["expires_on", "expires_at"] {
                let body = alloc::format!(r#"{{"access_token":"t","{member}":{v}}}"#);
                let t = ok(&body);
                assert_eq!(t.lifetime, Some(Duration::from_secs(600)), "{body}");
                assert_eq!(t.expires_at_epoch, Some(at), "{body}");
            }
        }
        // Already past: zero, for the machine to reject as expired on arrival.
        assert_eq!(
            lifetime(r#"{"access_token":"t","expires_on":"1000"}"#),
            Some(0)
        );
        // No wall clock: the expiry is reported, the lifetime is unknown.
        let t = parse_token_response(
            &resp(
                200,
                &[],
                r#"{"access_token":"t","expires_on":"1700000600"}"#,
            ),
            None,
            &ParseOptions::default(),
        )
        .unwrap();
        assert_eq!((t.lifetime, t.expires_at_epoch), (None, Some(NOW + 600)));
        // expires_in wins, and a bad expires_on beside it is ignored.
        let t = ok(r#"{"access_token":"t","expires_in":60,"expires_on":"1700000600"}"#);
        assert_eq!(t.lifetime, Some(Duration::from_secs(60)));
        assert_eq!(
            ok(r#"{"access_token":"t","expires_in":60,"expires_on":"x"}"#).lifetime,
            Some(Duration::from_secs(60))
        );
        assert!(
            invalid(r#"{"access_token":"t","expires_on":"next tuesday"}"#).contains("expires_on")
        );
        assert!(invalid(r#"{"access_token":"t","expires_at":-5}"#).contains("negative"));
    }

    #[test]
    fn hints_are_lenient() {
        let t = ok(r#"{"access_token":"t","refresh_in":"abc","issued_at":"x"}"#);
        assert_eq!((t.refresh_in, t.issued_at_epoch_ms), (None, None));
        let t = ok(r#"{"access_token":"t","refresh_in":"1800","issued_at":"1700000000000"}"#);
        assert_eq!(t.refresh_in, Some(Duration::from_secs(1800)));
        assert_eq!(t.issued_at_epoch_ms, Some(1_700_000_000_000));
        assert_eq!(
            ok(r#"{"access_token":"t","issued_at":1700000000}"#).issued_at_epoch_ms,
            Some(1_700_000_000_000)
        );
    }

    #[test]
    fn form_bodies_whatever_the_content_type() {
        let body = "access_token=gho_x&scope=repo%2Cgist&token_type=bearer&refresh_token=r+1";
        for ct in [
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
        ] {
            let t = parse_token_response(
                &resp(200, &[("Content-Type", ct)], body),
                None,
                &ParseOptions::default(),
            )
            .unwrap();
            assert_eq!(t.access_token.expose(), "gho_x");
            assert_eq!(t.scope.as_deref(), Some("repo,gist"));
            assert_eq!(t.refresh_token.as_ref().map(Secret::expose), Some("r 1"));
        }
        // A JSON body labelled as a form.
        let r = resp(
            200,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            r#"{"access_token":"j"}"#,
        );
        assert_eq!(
            parse_token_response(&r, None, &ParseOptions::default())
                .unwrap()
                .access_token
                .expose(),
            "j"
        );
    }

    #[test]
    fn token_type_rules() {
        for tt in ["Bearer", "bearer", "BEARER", " Bearer "] {
            let body = alloc::format!(r#"{{"access_token":"t","token_type":"{tt}"}}"#);
            let t = ok(&body);
            assert_eq!(t.token_type.as_deref(), Some(tt));
            assert!(t.is_bearer());
        }
        assert_eq!(ok(r#"{"access_token":"t"}"#).token_type, None);
        assert_eq!(
            ok(r#"{"access_token":"t","token_type":""}"#).token_type,
            None
        );
        assert!(invalid(r#"{"access_token":"t","token_type":"DPoP"}"#).contains("DPoP"));
        assert!(
            invalid(r#"{"access_token":"t","token_type":"mac"}"#)
                .contains("unsupported token_type")
        );
        assert!(invalid(r#"{"access_token":"t","token_type":"N_A"}"#).contains("N_A"));
        assert!(invalid(r#"{"access_token":"t","token_type":1}"#).contains("not a string"));
        let exchange = ParseOptions::new().accepting_na_token_type(true);
        let r = resp(
            200,
            &[],
            r#"{"access_token":"t","token_type":"N_A","issued_token_type":"urn:x"}"#,
        );
        let t = parse_token_response(&r, None, &exchange).unwrap();
        assert_eq!(t.token_type.as_deref(), Some("N_A"));
        assert_eq!(t.issued_token_type.as_deref(), Some("urn:x"));
    }

    #[test]
    fn unusable_successes_are_invalid() {
        for (body, why) in [
            ("", "no access_token"),
            ("{}", "no access_token"),
            (r#"{"access_token":""}"#, "no access_token"),
            (r#"{"access_token":null}"#, "no access_token"),
            (r#"{"access_token":"  "}"#, "no access_token"),
            (r#"{"access_token":42}"#, "not a string"),
            (
                "{\"access_token\":\"a\\r\\nX-Evil: 1\"}",
                "control characters",
            ),
            ("<html><body>Gateway</body></html>", "markup"),
            (r#"{"access_token":"eyJhbGciOi"#, "truncated"),
            (r#"{"access_token":"t",}"#, "malformed"),
            (r#"["access_token"]"#, "not an object"),
            ("Service Unavailable", "neither"),
        ] {
            let got = invalid(body);
            assert!(got.contains(why), "{body:?}: {got}");
            assert!(!got.contains("eyJ"), "the message quotes the body: {got}");
        }
    }

    #[test]
    fn oversized_bodies_are_refused_unread() {
        let big = alloc::format!(r#"{{"access_token":"{}"}}"#, "a".repeat(2000));
        let opts = ParseOptions::new().with_max_body_bytes(1000);
        let e = parse_token_response(&resp(200, &[], &big), None, &opts).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::ResponseTooLarge { limit: 1000 });
        assert_eq!(e.retry(), Retry::Permanent);
        let e = parse_token_response(&resp(503, &[("Retry-After", "7")], &big), None, &opts)
            .unwrap_err();
        assert_eq!(e.retry(), Retry::Transient);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert!(
            parse_token_response(&resp(200, &[], &big), None, &ParseOptions::default()).is_ok()
        );
    }

    #[test]
    fn errors_with_http_200_and_odd_envelopes() {
        let e = err(
            200,
            &[],
            r#"{"error":"authorization_pending","access_token":"t"}"#,
        );
        assert_eq!(e.error_code(), Some("authorization_pending"));
        assert_eq!(e.status(), 200);
        assert!(e.is_retryable());
        let e = err(
            200,
            &[],
            "error=bad_verification_code&error_description=The+code+is+wrong",
        );
        assert_eq!(
            e.oauth_error().unwrap().description.as_deref(),
            Some("The code is wrong")
        );
        assert!(!e.is_retryable());

        let e = err(
            400,
            &[],
            r#"{"error_code":"TEMPORARILY_UNAVAILABLE","message":"later"}"#,
        );
        assert_eq!(e.error_code(), Some("TEMPORARILY_UNAVAILABLE"));
        assert_eq!(
            e.oauth_error().unwrap().code,
            ErrorCode::TemporarilyUnavailable
        );
        assert_eq!(
            e.oauth_error().unwrap().description.as_deref(),
            Some("later")
        );
        assert!(e.is_retryable());

        let e = err(
            403,
            &[],
            r#"{"errorCode":"E0000011","errorSummary":"Invalid token provided"}"#,
        );
        assert_eq!(
            (e.error_code(), e.provider_code()),
            (None, Some("E0000011"))
        );
        assert_eq!(
            e.kind(),
            &ErrorKind::Refused(
                ProviderError::new(403)
                    .with_code("E0000011")
                    .with_message("Invalid token provided")
            )
        );
        assert!(!e.is_retryable());

        // An object where a code should be is no code; its message is kept.
        let e = err(500, &[], r#"{"error":{"code":500,"message":"boom"}}"#);
        assert_eq!((e.error_code(), e.retry()), (None, Retry::Transient));
        assert_eq!(
            e.kind(),
            &ErrorKind::Provider(ProviderError::new(500).with_message("boom"))
        );
    }

    #[test]
    fn bare_401_without_body_is_a_refusal() {
        for status in [401, 403] {
            for body in ["", "Unauthorized", "<html>Forbidden</html>", "{}"] {
                let e = err(status, &[], body);
                assert_eq!(
                    e.kind(),
                    &ErrorKind::Refused(ProviderError::new(status)),
                    "{status} {body:?}"
                );
                assert_eq!(e.retry(), Retry::Permanent);
                assert_eq!(e.error_code(), None);
                let shown = alloc::format!("{e}");
                assert!(shown.contains("refused the client"), "{shown}");
            }
        }
        // A 401 that carries an OAuth code stays that OAuth error.
        let e = err(401, &[], r#"{"error":"invalid_client"}"#);
        assert_eq!(e.oauth_error().unwrap().code, ErrorCode::InvalidClient);
    }

    #[test]
    fn provider_codes_map_to_oauth_codes_only_where_they_are_one() {
        // (status, body, OAuth code as sent, provider code, kind tag)
        let cases = [
            // Okta's envelope carrying an OAuth code.
            (
                401,
                r#"{"errorCode":"invalid_client","errorSummary":"Invalid value for 'client_id' parameter.","errorLink":"invalid_client","errorId":"oae1","errorCauses":[]}"#,
                Some("invalid_client"),
                None,
                "oauth",
            ),
            // Okta's own code.
            (
                429,
                r#"{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}"#,
                None,
                Some("E0000047"),
                "provider",
            ),
            // Entra: the OAuth code, and the first AADSTS code.
            (
                401,
                r#"{"error":"invalid_client","error_codes":[7000215,1],"error_description":"AADSTS7000215: Invalid client secret provided."}"#,
                Some("invalid_client"),
                Some("AADSTS7000215"),
                "oauth",
            ),
            // Google's API envelope.
            (
                403,
                r#"{"error":{"code":403,"message":"Permission 'iam.serviceAccounts.getAccessToken' denied","status":"PERMISSION_DENIED"}}"#,
                None,
                Some("PERMISSION_DENIED"),
                "refused",
            ),
            // Azure's ARM envelope.
            (
                400,
                r#"{"error":{"code":"InvalidAuthenticationToken","message":"bad"}}"#,
                None,
                Some("InvalidAuthenticationToken"),
                "provider",
            ),
            // Databricks: an OAuth code in upper case, or its own.
            (
                503,
                r#"{"error_code":"TEMPORARILY_UNAVAILABLE","message":"later"}"#,
                Some("TEMPORARILY_UNAVAILABLE"),
                None,
                "oauth",
            ),
            (
                403,
                r#"{"error_code":"PERMISSION_DENIED","message":"no"}"#,
                None,
                Some("PERMISSION_DENIED"),
                "refused",
            ),
            (
                500,
                r#"{"error_code":500,"message":"legacy"}"#,
                None,
                None,
                "provider",
            ),
            // PingOne's platform envelope.
            (
                400,
                r#"{"id":"6c79","code":"INVALID_DATA","message":"One or more validation errors"}"#,
                None,
                Some("INVALID_DATA"),
                "provider",
            ),
            (
                400,
                r#"{"id":"6c79","code":"INVALID_REQUEST","message":"x"}"#,
                Some("INVALID_REQUEST"),
                None,
                "oauth",
            ),
            // Auth0's Management API envelope: `error` is the reason phrase.
            (
                429,
                r#"{"statusCode":429,"error":"Too Many Requests","message":"Global limit has been reached","errorCode":"too_many_requests"}"#,
                None,
                Some("too_many_requests"),
                "provider",
            ),
            // A one-word reason phrase is no OAuth code either.
            (
                400,
                r#"{"statusCode":400,"error":"Bad Request","message":"x"}"#,
                None,
                None,
                "provider",
            ),
            (
                401,
                r#"{"error":"Unauthorized","message":"Invalid token"}"#,
                None,
                Some("Unauthorized"),
                "refused",
            ),
            // Extension codes in lower case are OAuth codes (GitHub, Salesforce).
            (
                200,
                r#"{"error":"incorrect_client_credentials","error_description":"The client_id and/or client_secret passed are incorrect."}"#,
                Some("incorrect_client_credentials"),
                None,
                "oauth",
            ),
            (
                400,
                "error=invalid_client_id&error_description=client+identifier+invalid",
                Some("invalid_client_id"),
                None,
                "oauth",
            ),
        ];
        for (status, body, oauth, provider, tag) in cases {
            let e = err(status, &[], body);
            assert_eq!(e.error_code(), oauth, "{body}");
            assert_eq!(e.provider_code(), provider, "{body}");
            let got = match e.kind() {
                ErrorKind::OAuth(_) => "oauth",
                ErrorKind::Refused(_) => "refused",
                ErrorKind::Provider(_) => "provider",
                ErrorKind::Status { .. } => "status",
                _ => "other",
            };
            assert_eq!(got, tag, "{body}");
        }
        // The summary and the reason phrase are kept for the operator.
        let e = err(
            429,
            &[],
            r#"{"statusCode":429,"error":"Too Many Requests","message":"Global limit has been reached","errorCode":"too_many_requests"}"#,
        );
        assert!(e.is_rate_limited() && e.is_retryable());
        let shown = alloc::format!("{e}");
        assert!(
            shown.contains("too_many_requests")
                && shown.contains("Too Many Requests: Global limit has been reached"),
            "{shown}"
        );
    }

    #[test]
    fn echoed_secrets_are_redacted() {
        let mut e = err(
            400,
            &[],
            r#"{"error":"invalid_grant","error_description":"refresh token rt-SECRET-123 is revoked"}"#,
        );
        e.redact(&["rt-SECRET-123", "abc"]);
        let d = e.oauth_error().unwrap().description.as_deref().unwrap();
        assert_eq!(d, "refresh token <redacted> is revoked");
        let mut e = err(
            403,
            &[],
            r#"{"errorCode":"E1","errorSummary":"client s3cr3t-x denied"}"#,
        );
        e.redact(&["s3cr3t-x"]);
        assert!(!alloc::format!("{e} {e:?}").contains("s3cr3t-x"));
    }

    #[test]
    fn unreadable_error_bodies_fall_back_to_the_status() {
        for (status, retry) in [
            (502, Retry::Transient),
            (400, Retry::Permanent),
            (429, Retry::Transient),
        ] {
            for body in [
                "<html>Bad Gateway</html>",
                r#"{"error":"invalid_cl"#,
                "",
                "oops",
            ] {
                let e = err(status, &[], body);
                assert_eq!(e.kind(), &ErrorKind::Status { status }, "{status} {body}");
                assert_eq!(e.retry(), retry);
            }
        }
    }

    #[test]
    fn credential_errors_are_permanent_even_on_5xx() {
        for code in ["invalid_client", "invalid_grant", "unauthorized_client"] {
            let body = alloc::format!(r#"{{"error":"{code}"}}"#);
            for status in [400, 401, 500, 503] {
                assert_eq!(
                    err(status, &[], &body).retry(),
                    Retry::Permanent,
                    "{code} {status}"
                );
            }
        }
    }

    #[test]
    fn retry_hints_reach_the_error() {
        let e = err(503, &[("Retry-After", "Tue, 14 Nov 2023 22:15:00 GMT")], "");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(100)));
        assert_eq!(e.retry_at_epoch(), Some(NOW + 100));
        let error = e.into_error();
        assert_eq!(error.retry_after(), Some(Duration::from_secs(100)));
        assert!(!error.is_permanent());

        let e = err(200, &[], r#"{"error":"slow_down","interval":"10"}"#);
        assert_eq!(e.min_poll_interval(), Some(Duration::from_secs(10)));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(10)));
        assert!(!e.is_rate_limited());

        // Reset headers on a non-rate-limited error are not retry hints.
        let e = err(
            401,
            &[("X-RateLimit-Reset", "1700000060")],
            r#"{"error":"invalid_client"}"#,
        );
        assert_eq!((e.retry_after(), e.retry_at_epoch()), (None, None));
        let e = err(
            400,
            &[("X-RateLimit-Reset", "1700000060")],
            r#"{"error":"invalid_request","error_description":"Rate limit exceeded"}"#,
        );
        assert!(e.is_rate_limited());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(60)));
        assert_eq!(e.retry(), Retry::Permanent);
    }

    #[test]
    fn descriptions_are_bounded() {
        let long = "é".repeat(5000);
        let body = alloc::format!(r#"{{"error":"invalid_request","error_description":"{long}"}}"#);
        let e = err(400, &[], &body);
        let d = e.oauth_error().unwrap().description.as_deref().unwrap();
        assert!(d.len() <= 1024 && d.len() > 1000);
    }

    #[test]
    fn refresh_tokens_and_redaction() {
        let t = ok(r#"{"access_token":"acc-SECRET","refresh_token":"ref-SECRET","expires_in":60}"#);
        assert_eq!(
            t.refresh_token.as_ref().map(Secret::expose),
            Some("ref-SECRET")
        );
        assert_eq!(
            ok(r#"{"access_token":"t","refresh_token":""}"#).refresh_token,
            None
        );
        let shown = alloc::format!("{t:?} {:?}", t.to_fetched());
        assert!(!shown.contains("SECRET"), "{shown}");
        let fetched = t.into_fetched();
        assert_eq!(fetched.access_token.expose(), "acc-SECRET");
        assert_eq!(fetched.lifetime, Some(Duration::from_secs(60)));
    }

    #[test]
    fn never_panics_on_prefixes_of_real_bodies() {
        let bodies = [
            r#"{"access_token":"eyJ0eXAi...fake","expires_on":"06/19/2019 23:42:01 +00:00","token_type":"Bearer","refresh_in":43199,"issued_at":"1700000000000"}"#,
            "access_token=ghu_x&expires_in=28800&refresh_token=ghr_y&scope=&token_type=bearer",
            r#"{"error":"slow_down","interval":10,"error_codes":[1,2],"x":{"y":[{"z":null}]}}"#,
        ];
        for body in bodies {
            for end in 0..=body.len() {
                let Some(prefix) = body.get(..end) else {
                    continue;
                };
                for status in [200, 400, 429, 503] {
                    let r = resp(status, &[("Retry-After", prefix)], prefix);
                    let out = parse_token_response(&r, Some(NOW), &ParseOptions::default());
                    if let Err(e) = out {
                        let _ = alloc::format!("{e} {e:?}");
                    }
                }
            }
        }
    }
}
