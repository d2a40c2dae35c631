//! OAuth2 error codes (RFC 6749 §5.2 and the extensions seen in the wild).

use alloc::string::String;
use core::fmt;

/// An OAuth2 error code. Unknown codes are kept verbatim in
/// [`ErrorCode::Other`], so nothing a provider says is lost.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `invalid_request` (RFC 6749 §5.2).
    InvalidRequest,
    /// `invalid_client`: wrong client id or secret.
    InvalidClient,
    /// `invalid_grant`: the grant (refresh token, assertion) is invalid, expired or revoked.
    InvalidGrant,
    /// `unauthorized_client`: this client may not use this grant type.
    UnauthorizedClient,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `invalid_scope`.
    InvalidScope,
    /// `invalid_target` (RFC 8693 token exchange).
    InvalidTarget,
    /// `access_denied` (RFC 6749 §4.1.2.1; some providers use it at the token endpoint).
    AccessDenied,
    /// `server_error`.
    ServerError,
    /// `temporarily_unavailable`.
    TemporarilyUnavailable,
    /// `authorization_pending` (RFC 8628 device flow).
    AuthorizationPending,
    /// `slow_down` (RFC 8628 device flow).
    SlowDown,
    /// `expired_token` (RFC 8628 device flow).
    ExpiredToken,
    /// Any other code, as the server sent it.
    Other(String),
}

impl ErrorCode {
    /// Parses a code; anything unknown is kept as [`ErrorCode::Other`].
    pub fn parse(code: &str) -> Self {
        match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            "invalid_target" => Self::InvalidTarget,
            "access_denied" => Self::AccessDenied,
            "server_error" => Self::ServerError,
            "temporarily_unavailable" => Self::TemporarilyUnavailable,
            "authorization_pending" => Self::AuthorizationPending,
            "slow_down" => Self::SlowDown,
            "expired_token" => Self::ExpiredToken,
            other => Self::Other(String::from(other)),
        }
    }

    /// The code as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::Other(code) => code,
        }
    }

    /// Whether a retry can succeed without someone changing the
    /// configuration. Codes that describe the request or the client
    /// (`invalid_client`, `invalid_grant`, `unauthorized_client`, …) are
    /// permanent; server trouble and device-flow pacing are transient.
    /// Unknown codes are treated as permanent: retrying them at full speed
    /// helps nobody, and the cache still retries at the backoff cap.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::ServerError
                | Self::TemporarilyUnavailable
                | Self::AuthorizationPending
                | Self::SlowDown
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth2 error response from the token endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    /// The error code.
    pub code: ErrorCode,
    /// `error_description`, if the server sent one. Servers do not put
    /// secrets here; it is shown to help an operator.
    pub description: Option<String>,
    /// `error_uri`, if the server sent one.
    pub uri: Option<String>,
    /// The HTTP status the error came with (200 for providers that send
    /// errors with success statuses).
    pub status: u16,
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {})", self.code, self.status)?;
        if let Some(d) = &self.description {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}
