//! freshen-reqwest: an async [`AsyncTransport`] for freshen over [reqwest]
//! 0.12 — I/O only: it parses no token and decides no rule (both are
//! freshen-oauth's). The transport for the tokio family; TLS by rustls
//! (ring, webpki roots; with the `native-roots` feature the platform's
//! root store is trusted as well, through rustls-native-certs). Bring your
//! own client with [`ReqwestTransport::with_client_builder`] (freshen's
//! rules kept whole) or [`ReqwestTransport::from_client`].
//!
//! [`ReqwestTransport`] applies the rules every freshen transport shares
//! (see [`freshen_oauth::transport`]):
//!
//! - error statuses come back as responses, bodies included;
//! - plain `http` only to loopback (and to the cloud metadata servers, as
//!   [`check_request`] allows) unless
//!   [`TransportConfig::with_allow_insecure_http`], checked before
//!   connecting;
//! - redirects are followed only within one scheme, host and port, at most
//!   5 hops (a custom reqwest redirect policy over
//!   [`redirect_allowed`]); any other redirect is an error;
//! - a connect timeout and a total timeout that covers the body;
//! - the body is streamed chunk by chunk and reading stops at the cap
//!   ([`ErrorKind::ResponseTooLarge`]); it is gathered in a buffer wiped on
//!   drop and grown without leaving copies, and the request body is sent
//!   from freshen's own wiped buffer, not a copy;
//! - header values that carry credentials are marked sensitive;
//! - a `User-Agent` (`freshen/<version>` by default);
//! - a failure to reach the server keeps reqwest's error, without its URL,
//!   as its cause ([`std::error::Error::source`]).
//!
//! reqwest needs a tokio runtime: call it from within one.
//!
//! ```no_run
//! use freshen_oauth::{AsyncTransport, HttpRequest, Method};
//! use freshen_reqwest::ReqwestTransport;
//!
//! # async fn run() -> Result<(), freshen_core::Error> {
//! let transport = ReqwestTransport::new();
//! let request = HttpRequest::new(Method::Post, "https://login.example.com/oauth2/token")
//!     .with_header("Content-Type", "application/x-www-form-urlencoded")
//!     .with_body("grant_type=client_credentials");
//! let response = transport.send(request).await?;
//! println!("HTTP {}", response.status);
//! # Ok(())
//! # }
//! ```
//!
//! [reqwest]: https://docs.rs/reqwest

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;

use bytes::Bytes;
use freshen_core::{Error, ErrorKind};
use freshen_oauth::transport::{
    MAX_REDIRECTS, TransportConfig, check_request, display_url, is_sensitive_header,
    is_transport_header, redirect_allowed, refused_redirect,
};
use freshen_oauth::{AsyncTransport, HttpRequest, HttpResponse, Method, append_wiping};
use reqwest::header::HeaderValue;
use reqwest::redirect;
use zeroize::Zeroizing;

/// An async HTTP transport over a [`reqwest::Client`] (connection pool
/// included). Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct ReqwestTransport {
    client: Result<reqwest::Client, Error>,
    config: TransportConfig,
    /// The caller built the client ([`ReqwestTransport::from_client`]):
    /// freshen's timeout and `User-Agent` go on each request, and a
    /// response from another origin is refused.
    byo: bool,
}

impl fmt::Debug for ReqwestTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestTransport")
            .field("config", &self.config)
            .field("ready", &self.client.is_ok())
            .finish_non_exhaustive()
    }
}

impl Default for ReqwestTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl ReqwestTransport {
    /// A transport with the default [`TransportConfig`].
    ///
    /// If the client cannot be built (the TLS backend fails to start),
    /// every [`send`](AsyncTransport::send) returns that error; use
    /// [`try_with_config`](Self::try_with_config) to see it at once.
    pub fn new() -> Self {
        Self::with_config(TransportConfig::default())
    }

    /// A transport with `config`. Errors building the client surface on
    /// the first request, as with [`new`](Self::new).
    pub fn with_config(config: TransportConfig) -> Self {
        Self::with_client_builder(reqwest::Client::builder(), config)
    }

    /// A transport with `config`, failing now if the client cannot be
    /// built.
    pub fn try_with_config(config: TransportConfig) -> Result<Self, Error> {
        let transport = Self::with_config(config);
        transport.client.as_ref().map_err(Clone::clone)?;
        Ok(transport)
    }

    /// A transport from a client builder carrying the caller's own settings
    /// (extra root certificates, a proxy, a local address…). freshen's
    /// timeouts, `User-Agent` and redirect policy are applied on top and
    /// replace the builder's.
    pub fn with_client_builder(builder: reqwest::ClientBuilder, config: TransportConfig) -> Self {
        let policy = redirect::Policy::custom(|attempt| {
            let from = attempt.previous().last().map_or("", |u| u.as_str());
            if !redirect_allowed(from, attempt.url().as_str()) {
                let error = refused_redirect(from, attempt.url().as_str());
                return attempt.error(Refused(error));
            }
            // `previous` holds every URL requested so far, the first included.
            if attempt.previous().len() > MAX_REDIRECTS {
                let error = Error::permanent(ErrorKind::Config(
                    format!(
                        "more than {MAX_REDIRECTS} redirects from {}",
                        display_url(from)
                    )
                    .into(),
                ));
                return attempt.error(Refused(error));
            }
            attempt.follow()
        });
        let client = builder
            .connect_timeout(config.connect_timeout())
            .timeout(config.timeout())
            .user_agent(config.user_agent())
            .redirect(policy)
            .build()
            .map_err(|e| {
                Error::permanent(ErrorKind::Config(
                    format!("cannot build the HTTP client: {}", chain(&e)).into(),
                ))
            });
        ReqwestTransport {
            client,
            config,
            byo: false,
        }
    }

    /// A transport over a client you built and may share with the rest of
    /// your program (one connection pool): its proxy, its root
    /// certificates, its mTLS identity for RFC 8705 `tls_client_auth`
    /// (with [`ClientAuth::public`] naming the client in the body).
    /// freshen's total timeout and `User-Agent` are set on each request;
    /// error statuses come back as responses (reqwest's default).
    ///
    /// Redirects follow the client's own policy, which freshen cannot
    /// change: build the client with `redirect::Policy::none()` (a
    /// redirect then fails as a token response), or prefer
    /// [`with_client_builder`](Self::with_client_builder), which keeps
    /// freshen's same-origin rule. A response that arrives from another
    /// origin is refused here, but a 307/308 has by then resent the
    /// request body (the client's credentials) to that origin. The connect
    /// timeout is the client's.
    ///
    /// ```no_run
    /// use freshen_oauth::transport::TransportConfig;
    /// use freshen_reqwest::ReqwestTransport;
    ///
    /// # fn run(pem: &[u8]) -> Result<(), reqwest::Error> {
    /// let client = reqwest::Client::builder()
    ///     .identity(reqwest::Identity::from_pem(pem)?) // mTLS (RFC 8705)
    ///     .redirect(reqwest::redirect::Policy::none())
    ///     .build()?;
    /// let transport = ReqwestTransport::from_client(client, TransportConfig::default());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// [`ClientAuth::public`]: freshen_oauth::ClientAuth::public
    pub fn from_client(client: reqwest::Client, config: TransportConfig) -> Self {
        ReqwestTransport {
            client: Ok(client),
            config,
            byo: true,
        }
    }

    /// The settings this transport applies.
    pub fn config(&self) -> &TransportConfig {
        &self.config
    }

    async fn send_checked(&self, request: HttpRequest) -> Result<HttpResponse, Error> {
        check_request(&request, &self.config)?;
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let method = match request.method {
            Method::Post => reqwest::Method::POST,
            Method::Get => reqwest::Method::GET,
        };
        let mut builder = client.request(method, request.url.as_str());
        if self.byo {
            builder = builder
                .timeout(self.config.timeout())
                .header(reqwest::header::USER_AGENT, self.config.user_agent());
        }
        for (name, value) in &request.headers {
            if !is_transport_header(name) {
                let mut value = HeaderValue::from_str(value.as_str()).map_err(|_| {
                    // The name only: the value may be a credential.
                    Error::permanent(ErrorKind::Config(
                        format!(
                            "invalid value for request header {name:?} to {}",
                            display_url(&request.url)
                        )
                        .into(),
                    ))
                })?;
                value.set_sensitive(is_sensitive_header(name));
                builder = builder.header(name.as_str(), value);
            }
        }
        if !(request.method == Method::Get && request.body.is_empty()) {
            // reqwest sends (and, for a 307, resends) the body from our own
            // buffer, which is wiped when the last reference to it drops.
            builder = builder.body(Bytes::from_owner(request.body));
        }
        let url = request.url;
        let mut response = builder.send().await.map_err(|e| self.map_error(e, &url))?;
        if self.byo && !redirect_allowed(&url, response.url().as_str()) {
            // The caller's client followed a redirect freshen would not.
            return Err(refused_redirect(&url, response.url().as_str()));
        }
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let limit = self.config.max_body();
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(self.config.too_large());
        }
        let declared = response
            .content_length()
            .and_then(|n| usize::try_from(n).ok());
        let mut body = Zeroizing::new(Vec::with_capacity(declared.unwrap_or(0).min(limit)));
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.map_error(e, &url))?
        {
            if chunk.len() > limit.saturating_sub(body.len()) {
                // Dropping the response closes the connection: the rest is
                // never read.
                return Err(self.config.too_large());
            }
            append_wiping(&mut body, &chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }

    fn map_error(&self, error: reqwest::Error, url: &str) -> Error {
        if let Some(refused) = find_source::<Refused>(&error) {
            return refused.0.clone();
        }
        if error.is_timeout() {
            let after = if error.is_connect() {
                self.config.connect_timeout()
            } else {
                self.config.timeout()
            };
            return Error::transient(ErrorKind::Timeout { after });
        }
        if error.is_builder() {
            return Error::permanent(ErrorKind::Config(
                format!(
                    "cannot build a request to {}: {}",
                    display_url(url),
                    chain(&error)
                )
                .into(),
            ));
        }
        // reqwest's error is the cause, without its URL (a query may hold a
        // secret).
        Error::transient(ErrorKind::Transport(format!(
            "{}: {}",
            display_url(url),
            chain(&error)
        )))
        .with_source(error.without_url())
    }
}

impl AsyncTransport for ReqwestTransport {
    fn send(
        &self,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, Error>> + Send {
        self.send_checked(request)
    }
}

/// A freshen error carried through reqwest's redirect policy.
#[derive(Debug)]
struct Refused(Error);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl StdError for Refused {}

fn find_source<'a, T: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// The error and its causes, without the URL (which may hold a query).
fn chain(error: &reqwest::Error) -> String {
    let mut out = String::new();
    let mut current: Option<&(dyn StdError + 'static)> = error.source();
    let top = error.to_string();
    // reqwest's own message ends with " for url (…)": cut it.
    let top = top.split(" for url (").next().unwrap_or("request failed");
    out.push_str(top);
    while let Some(e) = current {
        out.push_str(": ");
        out.push_str(&e.to_string());
        current = e.source();
    }
    out
}
