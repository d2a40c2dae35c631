//! The replies a [`FaultServer`](crate::FaultServer) can give: every bad
//! answer a token endpoint has been seen to give, and a good one.

use std::time::Duration;

/// 64 MiB: the size of [`Fault::huge`].
pub const HUGE: u64 = 64 * 1024 * 1024;

/// A host name that never resolves (RFC 6761), for redirect and URL tests.
/// Nothing ever connects to it: transports must refuse it first.
pub const INVALID_HOST: &str = "example.invalid";

/// How the server answers one request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// `200` with a good token: `{"access_token": …, "token_type": "Bearer",
    /// "expires_in": …}`.
    Token {
        /// The access token.
        access_token: String,
        /// Its lifetime in seconds (may be zero or negative on purpose).
        expires_in: i64,
    },
    /// The last [`Fault::Token`] this server gave, again (or `same-token`,
    /// 3600 s if none yet): an inner cache that swallows the refresh.
    SameToken,
    /// `200` with a token whose `expires_in` is the raw JSON text `raw`
    /// (`"-1"`, `"0"`, `"1e300"`, `"\"3600\""`, `"null"`…).
    ExpiresIn {
        /// The access token.
        access_token: String,
        /// The JSON value written after `"expires_in":`, verbatim.
        raw: String,
    },
    /// `200` with a token of an unsupported `token_type` (`mac`, `pop`…).
    TokenType {
        /// The access token.
        access_token: String,
        /// The token type.
        token_type: String,
    },
    /// `200` with JSON lacking `access_token`.
    MissingAccessToken,
    /// An RFC 6749 §5.2 error: `{"error": …, "error_description": …}`.
    OAuthError {
        /// The status (400 or 401 for the standard codes).
        status: u16,
        /// The `error` code (`invalid_grant`, `invalid_client`…).
        error: String,
        /// The `error_description`, if any.
        description: Option<String>,
    },
    /// A bare status with a short plain-text body (500, 502, 503…).
    Status(u16),
    /// `429` with `Retry-After` (seconds, or an HTTP date, verbatim).
    RateLimited {
        /// The `Retry-After` value.
        retry_after: String,
    },
    /// `200` with an HTML page (a captive portal, a login page).
    Html,
    /// `200` with JSON cut off in the middle.
    TruncatedJson,
    /// `200` with a body of `bytes` bytes, written in 64 KiB pieces until
    /// the client hangs up. With `chunked` the length is not declared, so
    /// the client cannot refuse it from the headers.
    Huge {
        /// The body length.
        bytes: u64,
        /// Whether to use `Transfer-Encoding: chunked`.
        chunked: bool,
    },
    /// A redirect (`301`, `302`, `303`, `307`, `308`) to `location`.
    Redirect {
        /// The status.
        status: u16,
        /// The `Location` header, verbatim.
        location: String,
    },
    /// Waits `delay` (longer than the client's timeout) and then answers
    /// `then`, closing the connection. Stops waiting when the server is
    /// dropped.
    Slow {
        /// How long to wait before answering.
        delay: Duration,
        /// The answer after the wait.
        then: Box<Fault>,
    },
    /// Closes the connection without answering.
    Hangup,
    /// Anything else, verbatim (`Content-Length` is added).
    Raw {
        /// The status.
        status: u16,
        /// The headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
}

impl Fault {
    /// A good token.
    pub fn token(access_token: impl Into<String>, expires_in: i64) -> Self {
        Fault::Token {
            access_token: access_token.into(),
            expires_in,
        }
    }

    /// A token whose `expires_in` is the raw JSON text `raw`.
    pub fn expires_in_raw(access_token: impl Into<String>, raw: impl Into<String>) -> Self {
        Fault::ExpiresIn {
            access_token: access_token.into(),
            raw: raw.into(),
        }
    }

    /// A token of type `token_type`.
    pub fn token_type(access_token: impl Into<String>, token_type: impl Into<String>) -> Self {
        Fault::TokenType {
            access_token: access_token.into(),
            token_type: token_type.into(),
        }
    }

    /// An OAuth2 error with status 400 and no description.
    pub fn oauth_error(error: impl Into<String>) -> Self {
        Fault::OAuthError {
            status: 400,
            error: error.into(),
            description: None,
        }
    }

    /// A bare status.
    pub fn status(status: u16) -> Self {
        Fault::Status(status)
    }

    /// `429` with `Retry-After: <seconds>`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Fault::RateLimited {
            retry_after: retry_after_secs.to_string(),
        }
    }

    /// A 64 MiB body with a declared `Content-Length`.
    pub fn huge() -> Self {
        Fault::Huge {
            bytes: HUGE,
            chunked: false,
        }
    }

    /// A 64 MiB chunked body (no declared length).
    pub fn huge_chunked() -> Self {
        Fault::Huge {
            bytes: HUGE,
            chunked: true,
        }
    }

    /// A redirect with `status` to `location`.
    pub fn redirect(status: u16, location: impl Into<String>) -> Self {
        Fault::Redirect {
            status,
            location: location.into(),
        }
    }

    /// A `307` to `http://example.invalid/token`: plain http, another host.
    pub fn redirect_to_http() -> Self {
        Self::redirect(307, format!("http://{INVALID_HOST}/token"))
    }

    /// Waits `delay`, then answers `then`.
    pub fn slow(delay: Duration, then: Fault) -> Self {
        Fault::Slow {
            delay,
            then: Box::new(then),
        }
    }

    /// The status, headers and body of a reply written in one piece.
    /// (`Slow`, `Hangup`, `Huge` and `SameToken` are handled by the server.)
    pub(crate) fn into_parts(self) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let json = |status: u16, body: String| {
            (
                status,
                vec![
                    ("Content-Type".to_string(), "application/json".to_string()),
                    ("Cache-Control".to_string(), "no-store".to_string()),
                ],
                body.into_bytes(),
            )
        };
        match self {
            Fault::Token {
                access_token,
                expires_in,
            } => json(
                200,
                format!(
                    r#"{{"access_token":"{access_token}","token_type":"Bearer","expires_in":{expires_in}}}"#
                ),
            ),
            Fault::ExpiresIn { access_token, raw } => json(
                200,
                format!(r#"{{"access_token":"{access_token}","token_type":"Bearer","expires_in":{raw}}}"#),
            ),
            Fault::TokenType {
                access_token,
                token_type,
            } => json(
                200,
                format!(
                    r#"{{"access_token":"{access_token}","token_type":"{token_type}","expires_in":3600}}"#
                ),
            ),
            Fault::MissingAccessToken => {
                json(200, r#"{"token_type":"Bearer","expires_in":3600}"#.to_string())
            }
            Fault::OAuthError {
                status,
                error,
                description,
            } => {
                let body = match description {
                    Some(d) => format!(r#"{{"error":"{error}","error_description":"{d}"}}"#),
                    None => format!(r#"{{"error":"{error}"}}"#),
                };
                json(status, body)
            }
            Fault::Status(status) => (
                status,
                vec![("Content-Type".to_string(), "text/plain".to_string())],
                format!("upstream said {status}").into_bytes(),
            ),
            Fault::RateLimited { retry_after } => (
                429,
                vec![
                    ("Content-Type".to_string(), "text/plain".to_string()),
                    ("Retry-After".to_string(), retry_after),
                ],
                b"slow down".to_vec(),
            ),
            Fault::Html => (
                200,
                vec![("Content-Type".to_string(), "text/html; charset=utf-8".to_string())],
                b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Please sign in</body></html>"
                    .to_vec(),
            ),
            Fault::TruncatedJson => json(
                200,
                r#"{"access_token":"trunc","token_type":"Bearer","expi"#.to_string(),
            ),
            Fault::Redirect { status, location } => (
                status,
                vec![
                    ("Location".to_string(), location),
                    ("Content-Type".to_string(), "text/plain".to_string()),
                ],
                b"moved".to_vec(),
            ),
            Fault::Raw {
                status,
                headers,
                body,
            } => (status, headers, body),
            // Handled by the server; never written in one piece.
            Fault::SameToken | Fault::Slow { .. } | Fault::Hangup | Fault::Huge { .. } => {
                (500, Vec::new(), Vec::new())
            }
        }
    }
}
