//! A token request, built as data ([`HttpRequest`]) for a transport to send.
//!
//! Every request is a `POST` with a form body, `Content-Type:
//! application/x-www-form-urlencoded` and `Accept: application/json` (without
//! it GitHub answers with a form). The body holds, in order: `grant_type`, the
//! grant's parameters, `scope` (space-joined), each `audience`, each
//! `resource` (RFC 8707 lets it repeat), the extra parameters, then the
//! client's `client_id`/`client_secret` when its method puts them there.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroizing;

use freshen_core::Secret;
use freshen_core::{Error, ErrorKind};

use crate::attempt::AttemptCredentials;
use crate::client_auth::ClientAuth;
use crate::form;
use crate::grant::{Grant, TokenExchange};
use crate::http::{HttpRequest, Method};
use crate::response::{ParseOptions, ParsedToken};
use crate::response_error::ResponseError;
use crate::transport::{display_url, url_shape};
use freshen_core::ConfigError;

/// Parameter names the builder writes itself; an extra parameter may not
/// override one (a second `grant_type` or `client_secret` would be read
/// differently by different servers).
const RESERVED: [&str; 15] = [
    "grant_type",
    "client_id",
    "client_secret",
    "scope",
    "audience",
    "resource",
    "refresh_token",
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "requested_token_type",
    "assertion",
    "client_assertion",
    "client_assertion_type",
];

/// A token request: endpoint, grant, client and parameters. Build one with
/// [`TokenRequest::client_credentials`], [`TokenRequest::refresh`] or
/// [`TokenRequest::token_exchange`], then turn it into an [`HttpRequest`]
/// with [`TokenRequest::to_http_request`] for every attempt. `Debug` redacts
/// secrets and extra parameter values.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRequest {
    token_url: String,
    grant: Grant,
    client: Option<ClientAuth>,
    scopes: Vec<String>,
    audiences: Vec<String>,
    resources: Vec<String>,
    extra: Vec<(String, String)>,
}

impl TokenRequest {
    /// A request for `grant` with no client authentication (add one with
    /// [`TokenRequest::with_client`]).
    pub fn new(token_url: impl Into<String>, grant: Grant) -> Self {
        TokenRequest {
            token_url: token_url.into(),
            grant,
            client: None,
            scopes: Vec::new(),
            audiences: Vec::new(),
            resources: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// Client credentials (RFC 6749 §4.4).
    pub fn client_credentials(token_url: impl Into<String>, client: ClientAuth) -> Self {
        Self::new(token_url, Grant::ClientCredentials).with_client(client)
    }

    /// Refresh token (RFC 6749 §6). Keep the request, and call
    /// [`TokenRequest::rotate_refresh_token`] with each response.
    pub fn refresh(
        token_url: impl Into<String>,
        client: ClientAuth,
        refresh_token: impl Into<Secret>,
    ) -> Self {
        let grant = Grant::RefreshToken {
            refresh_token: refresh_token.into(),
        };
        Self::new(token_url, grant).with_client(client)
    }

    /// The JWT-bearer grant (RFC 7523 §2.1), as service-account keys use it:
    /// the assertion is signed anew for every attempt (freshen-jwt's
    /// `JwtBearer`). Servers that want the client identified too take a
    /// [`TokenRequest::with_client`].
    pub fn jwt_bearer(token_url: impl Into<String>) -> Self {
        Self::new(token_url, Grant::JwtBearer)
    }

    /// Token exchange (RFC 8693). Servers may take it unauthenticated; add a
    /// client with [`TokenRequest::with_client`] when they do not.
    pub fn token_exchange(token_url: impl Into<String>, exchange: TokenExchange) -> Self {
        Self::new(token_url, Grant::TokenExchange(exchange))
    }

    /// Authenticates as `client`.
    #[must_use]
    pub fn with_client(mut self, client: ClientAuth) -> Self {
        self.client = Some(client);
        self
    }

    /// Adds one scope (joined with spaces into `scope`).
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Adds several scopes.
    #[must_use]
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Adds an `audience` (Auth0 requires one; RFC 8693 lets it repeat).
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Adds a `resource` (RFC 8707; may repeat).
    #[must_use]
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.push(resource.into());
        self
    }

    /// Adds a provider-specific body parameter. Names the builder writes
    /// itself are refused when the request is built.
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }

    /// The token endpoint.
    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// The grant.
    pub fn grant(&self) -> &Grant {
        &self.grant
    }

    /// The client, if any.
    pub fn client(&self) -> Option<&ClientAuth> {
        self.client.as_ref()
    }

    /// Scopes, audiences, resources and extra parameters as configured, for
    /// [`TokenRequest::shape_key`].
    #[allow(clippy::type_complexity)]
    pub(crate) fn shaping_lists(&self) -> (&[String], &[String], &[String], &[(String, String)]) {
        (&self.scopes, &self.audiences, &self.resources, &self.extra)
    }

    /// Keeps a rotated refresh token: when `response` carries a new
    /// `refresh_token` and this is a refresh-token request, it replaces the
    /// one held, so the next refresh does not present a token the server has
    /// already retired (which would be `invalid_grant`, or with reuse
    /// detection, a revoked session). Returns whether the token held changed.
    pub fn rotate_refresh_token(&mut self, response: &ParsedToken) -> bool {
        match &response.refresh_token {
            Some(new) => self.replace_refresh_token(new),
            None => false,
        }
    }

    /// The refresh token this request presents, when it is a refresh-token
    /// request.
    pub fn refresh_token(&self) -> Option<&Secret> {
        match &self.grant {
            Grant::RefreshToken { refresh_token } => Some(refresh_token),
            _ => None,
        }
    }

    /// Presents `new` from now on (a rotated token, or one read back from a
    /// [`TokenStore`](crate::store::TokenStore)). Only a refresh-token
    /// request has one to replace, and an empty token is ignored. Returns
    /// whether the token held changed.
    pub fn replace_refresh_token(&mut self, new: &Secret) -> bool {
        match &mut self.grant {
            Grant::RefreshToken { refresh_token } if !new.is_empty() && refresh_token != new => {
                *refresh_token = new.clone();
                true
            }
            _ => false,
        }
    }

    /// Removes from `error` every secret this request sends (client secret,
    /// refresh, subject and actor tokens, extra parameter values) that the
    /// server echoed back (see [`ResponseError::redact`]).
    pub fn redact(&self, error: &mut ResponseError) {
        self.redact_with(error, &AttemptCredentials::new());
    }

    /// [`TokenRequest::redact`], and also every value made for `attempt`
    /// (assertions, a subject token read from a file).
    pub fn redact_with(&self, error: &mut ResponseError, attempt: &AttemptCredentials) {
        let mut secrets: Vec<&str> = self.grant.secrets();
        secrets.extend(self.client.as_ref().and_then(ClientAuth::secret_str));
        secrets.extend(self.extra.iter().map(|(_, v)| v.as_str()));
        secrets.extend(attempt.secrets());
        error.redact(&secrets);
    }

    /// Whether building this request needs values made for each attempt
    /// ([`AttemptCredentials`]): a client assertion, a JWT-bearer
    /// assertion, or a token exchange's subject token read per attempt.
    pub fn needs_per_attempt(&self) -> bool {
        let empty = AttemptCredentials::new();
        self.client.as_ref().is_some_and(ClientAuth::uses_assertion)
            || self.grant.params(&empty).is_err()
    }

    /// How the response to this request is parsed: the defaults, with
    /// `token_type=N_A` accepted for a token exchange.
    pub fn parse_options(&self) -> ParseOptions {
        ParseOptions::default()
            .accepting_na_token_type(matches!(self.grant, Grant::TokenExchange(_)))
    }

    /// The HTTP request to send. Fails with [`ErrorKind::Config`] (permanent)
    /// when [`TokenRequest::validate`] does: a token URL that is empty,
    /// unreadable, or has a fragment or userinfo; an empty client id, a
    /// client id with `:` under HTTP Basic, an empty client secret; an empty
    /// scope or one containing whitespace (it would silently become
    /// several); an extra parameter that overrides one the builder writes.
    /// A request that needs values made per attempt
    /// ([`TokenRequest::needs_per_attempt`]) fails here with
    /// [`ConfigError::MissingPerAttempt`]: build it with
    /// [`TokenRequest::to_http_request_with`].
    pub fn to_http_request(&self) -> Result<HttpRequest, Error> {
        self.to_http_request_with(&AttemptCredentials::new())
    }

    /// The HTTP request to send for one attempt, with the values made for it
    /// (a signed client assertion, a JWT-bearer assertion, a subject token
    /// read just now): the one place the form is built. Fails like
    /// [`TokenRequest::to_http_request`], and with
    /// [`ConfigError::MissingPerAttempt`] when the client's method or the
    /// grant needs a value `attempt` does not have.
    pub fn to_http_request_with(&self, attempt: &AttemptCredentials) -> Result<HttpRequest, Error> {
        self.validate()?;
        let config = |e| Error::permanent(ErrorKind::Config(e));
        let scope = self.scopes.join(" ");
        let mut params: Vec<(&str, &str)> = alloc::vec![("grant_type", self.grant.grant_type())];
        params.extend(self.grant.params(attempt).map_err(config)?);
        if !scope.is_empty() {
            params.push(("scope", scope.as_str()));
        }
        params.extend(self.audiences.iter().map(|a| ("audience", a.as_str())));
        params.extend(self.resources.iter().map(|r| ("resource", r.as_str())));
        params.extend(self.extra.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        if let Some(client) = &self.client {
            params.extend(client.body_params(attempt).map_err(config)?);
        }

        // One allocation of the exact size, wiped on drop: a body holding a
        // secret leaves no copies behind in reallocated buffers.
        let len = params
            .iter()
            .map(|(n, v)| form::encoded_len(n) + 1 + form::encoded_len(v))
            .sum::<usize>()
            + params.len().saturating_sub(1);
        let mut body = Zeroizing::new(Vec::with_capacity(len));
        for (i, (name, value)) in params.iter().enumerate() {
            if i > 0 {
                body.push(b'&');
            }
            form::encode_into(&mut body, name);
            body.push(b'=');
            form::encode_into(&mut body, value);
        }

        let header = |name: &str, value: &str| (name.to_owned(), Zeroizing::new(value.to_owned()));
        let mut headers = alloc::vec![
            header("Content-Type", "application/x-www-form-urlencoded"),
            header("Accept", "application/json"),
        ];
        if let Some(basic) = self.client.as_ref().and_then(ClientAuth::basic_header) {
            // Moved, not copied: the credentials exist in one wiped buffer.
            headers.push(("Authorization".to_owned(), basic));
        }
        Ok(HttpRequest {
            method: Method::Post,
            url: self.token_url.clone(),
            headers,
            body,
        })
    }

    /// Checks what can be checked before anything is sent, in the order an
    /// operator would fix it: the token URL, the client, then the
    /// parameters. Every failure is a permanent [`ErrorKind::Config`].
    pub fn validate(&self) -> Result<(), Error> {
        self.check()
            .map_err(|e| Error::permanent(ErrorKind::Config(e)))
    }

    fn check(&self) -> Result<(), ConfigError> {
        check_token_url(&self.token_url)?;
        if let Some(client) = &self.client {
            client.validate()?;
        }
        if let Some(bad) = self
            .scopes
            .iter()
            .find(|s| s.is_empty() || s.chars().any(char::is_whitespace))
        {
            return Err(ConfigError::MalformedScope { scope: bad.clone() });
        }
        if let Some((name, _)) = self
            .extra
            .iter()
            .find(|(n, _)| n.is_empty() || RESERVED.contains(&n.as_str()))
        {
            return Err(ConfigError::ReservedParameter { name: name.clone() });
        }
        Ok(())
    }
}

/// The token endpoint's URL rules: an absolute `http`/`https` URL that a
/// transport reads unambiguously, with no fragment (RFC 6749 §3.2) and no
/// userinfo (RFC 9110 §4.2.4: credentials travel as client
/// authentication). Whether plain `http` may leave the machine is the
/// transport's rule ([`check_url`](crate::transport::check_url)).
fn check_token_url(url: &str) -> Result<(), ConfigError> {
    if url.trim().is_empty() {
        return Err(ConfigError::EmptyTokenUrl);
    }
    let shown = || display_url(url);
    let shape = url_shape(url).map_err(|reason| ConfigError::InvalidTokenUrl {
        url: shown(),
        reason,
    })?;
    if shape.userinfo {
        return Err(ConfigError::TokenUrlHasUserinfo { url: shown() });
    }
    if shape.fragment {
        return Err(ConfigError::TokenUrlHasFragment { url: shown() });
    }
    Ok(())
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let extra: Vec<&str> = self.extra.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("TokenRequest")
            // Without userinfo, query or fragment: any may hold a secret.
            .field("token_url", &display_url(&self.token_url))
            .field("grant", &self.grant)
            .field("client", &self.client)
            .field("scopes", &self.scopes)
            .field("audiences", &self.audiences)
            .field("resources", &self.resources)
            .field("extra_param_names", &extra)
            .finish()
    }
}
