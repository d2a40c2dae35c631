//! Assertions signed anew for every attempt: a client's (`private_key_jwt`,
//! `client_secret_jwt`) and the JWT-bearer grant's.

use std::time::Duration;

use freshen_core::Error;
use freshen_oauth::{AttemptCredentials, AttemptTarget, PerAttempt};
use serde_json::{Map, Value};

use crate::jwt::{Claims, sign};
use crate::key::{SigningKey, config};

/// How long an assertion lives unless told otherwise: a few minutes, enough
/// for a slow round trip and modest clock skew, short enough that one seen
/// in a log is soon useless.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// A client assertion (RFC 7523 §2.2, OpenID Connect Core §9) signed for
/// every attempt: `iss` = `sub` = the client id, `aud` = the token
/// endpoint, a unique `jti`, `iat` now, `exp` [`DEFAULT_LIFETIME`] ahead,
/// and the key's `kid`. Both come from the request ([`AttemptTarget`]), so
/// the assertion cannot name another client or endpoint than the request
/// is sent as and to. Pair it with [`freshen_oauth::ClientAuth::private_key_jwt`]
/// (an RS256/ES256 key) or [`freshen_oauth::ClientAuth::client_secret_jwt`]
/// (an HS256 key).
///
/// ```
/// use freshen_jwt::{ClientAssertion, SigningKey};
/// use freshen_oauth::{ClientAuth, OAuthSource, PerAttempt, TokenRequest};
///
/// let key = SigningKey::hs256("a client secret of at least 32 bytes!")?;
/// let request = TokenRequest::client_credentials(
///     "https://auth.example.com/token",
///     ClientAuth::client_secret_jwt("my-service"),
/// );
/// let transport = (); // a Transport: freshen-ureq's, freshen-reqwest's, …
/// let source = OAuthSource::new(request, transport);
/// let assertion = ClientAssertion::new(key);
/// // Each attempt signs its own: two attempts, two assertions.
/// let one = assertion.make_blocking(source.attempt_target())?;
/// let two = assertion.make_blocking(source.attempt_target())?;
/// assert_ne!(one.client_assertion(), two.client_assertion());
/// let source = source.with_per_attempt(assertion);
/// # Ok::<(), freshen_core::Error>(())
/// ```
#[derive(Debug)]
pub struct ClientAssertion {
    key: SigningKey,
    lifetime: Duration,
}

impl ClientAssertion {
    /// Signs with `key`.
    pub fn new(key: SigningKey) -> Self {
        ClientAssertion {
            key,
            lifetime: DEFAULT_LIFETIME,
        }
    }

    /// Sets how long each assertion is valid (`exp` − `iat`).
    #[must_use]
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }
}

impl PerAttempt for ClientAssertion {
    fn make_blocking(&self, target: &AttemptTarget) -> Result<AttemptCredentials, Error> {
        let client_id = target.client_id.as_deref().ok_or_else(|| {
            config("a client assertion needs a client: add ClientAuth::private_key_jwt or client_secret_jwt to the request")
        })?;
        let claims = Claims {
            issuer: client_id,
            subject: Some(client_id),
            audience: &target.token_url,
            lifetime: self.lifetime,
            extra: &Map::new(),
        };
        Ok(AttemptCredentials::new().with_client_assertion(sign(&self.key, &claims)?))
    }
}

/// The assertion of the JWT-bearer grant (RFC 7523 §2.1) signed for every
/// attempt, as service-account keys use it: `iss` the account (a service
/// account's e-mail, say), `sub` whom the token is for when it differs,
/// `aud` the token endpoint unless told otherwise, a unique `jti`, `iat`
/// and `exp`, the key's `kid`, and any claims the provider wants (Google's
/// `scope`). Pair it with [`freshen_oauth::TokenRequest::jwt_bearer`].
///
/// ```
/// use freshen_jwt::{JwtBearer, SigningKey};
/// use freshen_oauth::{AttemptTarget, PerAttempt, TokenRequest};
///
/// let key = SigningKey::hs256("a shared key of at least 32 bytes!!")?.with_kid("k1");
/// let bearer = JwtBearer::new(key, "robot@project.example")
///     .with_claim("scope", "https://www.example.com/auth/cloud");
/// let target = AttemptTarget { client_id: None, token_url: "https://oauth2.example.com/token".into() };
/// let made = bearer.make_blocking(&target)?;
/// assert_eq!(made.grant_assertion().unwrap().expose().split('.').count(), 3);
/// # Ok::<(), freshen_core::Error>(())
/// ```
#[derive(Debug)]
pub struct JwtBearer {
    key: SigningKey,
    issuer: String,
    subject: Option<String>,
    audience: Option<String>,
    lifetime: Duration,
    claims: Map<String, Value>,
}

impl JwtBearer {
    /// Signs with `key` as `issuer`.
    pub fn new(key: SigningKey, issuer: impl Into<String>) -> Self {
        JwtBearer {
            key,
            issuer: issuer.into(),
            subject: None,
            audience: None,
            lifetime: DEFAULT_LIFETIME,
            claims: Map::new(),
        }
    }

    /// Sets `sub` (for domain-wide delegation, the user acted for).
    #[must_use]
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sets `aud` when the provider wants another value than the token
    /// endpoint's URL.
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Sets how long each assertion is valid (`exp` − `iat`).
    #[must_use]
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Adds a claim (`scope`, …). The registered claims this type writes
    /// itself (`iss`, `sub`, `aud`, `jti`, `iat`, `exp`) always win.
    #[must_use]
    pub fn with_claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }
}

impl PerAttempt for JwtBearer {
    fn make_blocking(&self, target: &AttemptTarget) -> Result<AttemptCredentials, Error> {
        let claims = Claims {
            issuer: &self.issuer,
            subject: self.subject.as_deref(),
            audience: self.audience.as_deref().unwrap_or(&target.token_url),
            lifetime: self.lifetime,
            extra: &self.claims,
        };
        Ok(AttemptCredentials::new().with_grant_assertion(sign(&self.key, &claims)?))
    }
}
