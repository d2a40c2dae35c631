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
    /// `invalid_token` (RFC 6750 §3.1; some servers use it for a rejected
    /// subject or refresh token).
    InvalidToken,
    /// `unsupported_token_type` (RFC 7009 §2.2.1, RFC 8693).
    UnsupportedTokenType,
    /// `invalid_dpop_proof` (RFC 9449 §5).
    InvalidDpopProof,
    /// `use_dpop_nonce` (RFC 9449 §8).
    UseDpopNonce,
    /// `invalid_authorization_details` (RFC 9396 §5).
    InvalidAuthorizationDetails,
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
            "invalid_token" => Self::InvalidToken,
            "unsupported_token_type" => Self::UnsupportedTokenType,
            "invalid_dpop_proof" => Self::InvalidDpopProof,
            "use_dpop_nonce" => Self::UseDpopNonce,
            "invalid_authorization_details" => Self::InvalidAuthorizationDetails,
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
            Self::InvalidToken => "invalid_token",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::InvalidAuthorizationDetails => "invalid_authorization_details",
            Self::Other(code) => code,
        }
    }

    /// Whether this is a code freshen knows (RFC 6749 §5.2 and the
    /// extensions above), as opposed to [`ErrorCode::Other`].
    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Other(_))
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

/// An error response with no OAuth2 error code: what the provider said in
/// its own terms, if anything (Okta's `errorCode`/`errorSummary`, Google's
/// `error.status`/`error.message`, Databricks' `error_code`/`message`,
/// PingOne's `code`/`message`, Entra's first AADSTS code). Servers do not
/// put secrets here; freshen also removes any secret of the request that a
/// server echoes back.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderError {
    /// The HTTP status.
    pub status: u16,
    /// The provider's own code (`E0000047`, `PERMISSION_DENIED`,
    /// `AADSTS7000215`), if it sent one.
    pub code: Option<String>,
    /// The provider's message or summary, if it sent one.
    pub message: Option<String>,
}

impl ProviderError {
    /// An error with `status` and nothing else.
    pub fn new(status: u16) -> Self {
        ProviderError {
            status,
            code: None,
            message: None,
        }
    }

    /// Sets the provider's own code.
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the provider's message.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, ", {code}")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}
