//! freshen-ureq: a blocking [`Transport`] for freshen over [ureq] 3 — I/O
//! only: it parses no token and decides no rule (both are freshen-oauth's).
//! TLS by rustls (ring, webpki roots; the platform's verifier and root
//! store with the `platform-roots` feature). Bring your own [`Agent`]
//! (a proxy, custom roots, an mTLS client certificate) with
//! [`UreqTransport::from_agent`].
//!
//! [`UreqTransport`] applies the rules every freshen transport shares
//! (see [`freshen_oauth::transport`]):
//!
//! - error statuses come back as responses, bodies included (ureq's
//!   `http_status_as_error` is off), since the OAuth2 error is in the body;
//! - plain `http` only to loopback (and to the cloud metadata servers, as
//!   [`check_request`] allows) unless
//!   [`TransportConfig::with_allow_insecure_http`], checked before
//!   connecting;
//! - redirects are followed by hand, only within one scheme, host and port,
//!   at most 5 hops (307/308 keep the method and body); any other redirect
//!   is an error;
//! - a connect timeout and a total timeout over all hops and the body;
//! - the body is read up to the cap and no further
//!   ([`ErrorKind::ResponseTooLarge`]), in pieces, into a buffer that is
//!   wiped on drop and grown without leaving copies
//!   ([`append_wiping`]);
//! - header values that carry credentials are marked sensitive (kept out of
//!   HTTP/2 header compression tables and `Debug`);
//! - a `User-Agent` (`freshen/<version>` by default);
//! - a failure keeps ureq's error as its cause
//!   ([`std::error::Error::source`]), unless it could quote a URL.
//!
//! With the `async` feature it is also an [`AsyncTransport`] that runs the
//! blocking call on the [`blocking`](https://docs.rs/blocking) thread pool:
//! the default transport for smol users.
//!
//! ```no_run
//! use std::time::Duration;
//! use freshen_oauth::{HttpRequest, Method, Transport};
//! use freshen_oauth::transport::TransportConfig;
//! use freshen_ureq::UreqTransport;
//!
//! let transport = UreqTransport::with_config(
//!     TransportConfig::default().with_timeout(Duration::from_secs(10)),
//! );
//! let request = HttpRequest::new(Method::Post, "https://login.example.com/oauth2/token")
//!     .with_header("Content-Type", "application/x-www-form-urlencoded")
//!     .with_body("grant_type=client_credentials");
//! let response = transport.send(&request)?;
//! println!("HTTP {}", response.status);
//! # Ok::<(), freshen_core::Error>(())
//! ```
//!
//! [ureq]: https://docs.rs/ureq

use std::fmt;
use std::io::Read;
use std::time::{Duration, Instant};

use freshen_core::{Error, ErrorKind};
use freshen_oauth::transport::{
    TransportConfig, check_request, display_url, is_sensitive_header, is_transport_header,
    next_redirect,
};
use freshen_oauth::{HttpRequest, HttpResponse, Method, Transport, append_wiping};
use ureq::Agent;
use ureq::http;
use zeroize::Zeroizing;

#[cfg(feature = "async")]
use freshen_oauth::AsyncTransport;

/// A blocking HTTP transport over a ureq [`Agent`] (connection pool
/// included). Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct UreqTransport {
    agent: Agent,
    config: TransportConfig,
}

impl fmt::Debug for UreqTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UreqTransport")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Default for UreqTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl UreqTransport {
    /// A transport with the default [`TransportConfig`].
    pub fn new() -> Self {
        Self::with_config(TransportConfig::default())
    }

    /// A transport with `config`.
    pub fn with_config(config: TransportConfig) -> Self {
        Self::from_agent(Agent::config_builder().build().into(), config)
    }

    /// A transport over your own [`Agent`]: its proxy, its TLS settings
    /// (extra or custom root certificates, or an mTLS client certificate
    /// for RFC 8705 `tls_client_auth`, with [`ClientAuth::public`] naming
    /// the client in the body), its connection pool shared with the rest of
    /// your program. freshen's rules still hold for every token request:
    /// its timeouts, `User-Agent`, error statuses returned as responses,
    /// redirects followed by hand within one origin (the agent's own
    /// redirect and status settings are overridden per request).
    ///
    /// ```no_run
    /// use freshen_oauth::transport::TransportConfig;
    /// use freshen_ureq::UreqTransport;
    /// use ureq::{Agent, Proxy};
    ///
    /// let agent: Agent = Agent::config_builder()
    ///     .proxy(Some(Proxy::new("http://proxy.internal:3128")?))
    ///     .build()
    ///     .into();
    /// let transport = UreqTransport::from_agent(agent, TransportConfig::default());
    /// # Ok::<(), ureq::Error>(())
    /// ```
    ///
    /// [`ClientAuth::public`]: freshen_oauth::ClientAuth::public
    pub fn from_agent(agent: Agent, config: TransportConfig) -> Self {
        UreqTransport { agent, config }
    }

    /// A transport that trusts the platform's certificate verifier and
    /// root store (the OS trust settings, a corporate root included)
    /// instead of the bundled webpki roots.
    #[cfg(feature = "platform-roots")]
    pub fn with_platform_roots(config: TransportConfig) -> Self {
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build();
        let agent: Agent = Agent::config_builder().tls_config(tls).build().into();
        Self::from_agent(agent, config)
    }

    /// The settings this transport applies.
    pub fn config(&self) -> &TransportConfig {
        &self.config
    }

    fn send_one(
        &self,
        request: &HttpRequest,
        remaining: Duration,
    ) -> Result<http::Response<ureq::Body>, Error> {
        let method = match request.method {
            Method::Post => http::Method::POST,
            Method::Get => http::Method::GET,
        };
        let mut builder = http::Request::builder()
            .method(method)
            .uri(request.url.as_str());
        for (name, value) in &request.headers {
            if !is_transport_header(name) {
                let mut value = http::HeaderValue::from_str(value.as_str())
                    .map_err(|_| bad_header(request, name))?;
                value.set_sensitive(is_sensitive_header(name));
                builder = builder.header(name.as_str(), value);
            }
        }
        let result = if request.method == Method::Get && request.body.is_empty() {
            let http_request = builder.body(()).map_err(|e| bad_request(request, &e))?;
            let http_request = self.configure(http_request, remaining);
            self.agent.run(http_request)
        } else {
            let http_request = builder
                .body(request.body.as_slice())
                .map_err(|e| bad_request(request, &e))?;
            let http_request = self.configure(http_request, remaining);
            self.agent.run(http_request)
        };
        result.map_err(|e| self.map_error(e, &request.url))
    }

    /// freshen's rules for one request, over whatever the agent says: the
    /// agent may be the caller's ([`UreqTransport::from_agent`]).
    fn configure<B: ureq::AsSendBody>(
        &self,
        request: http::Request<B>,
        remaining: Duration,
    ) -> http::Request<B> {
        self.agent
            .configure_request(request)
            // The OAuth2 error is in the body of a 400/401: keep it.
            .http_status_as_error(false)
            // Redirects are followed by hand, under `redirect_target`'s rule.
            .max_redirects(0)
            .timeout_connect(Some(self.config.connect_timeout()))
            .timeout_global(Some(remaining))
            .user_agent(self.config.user_agent())
            .build()
    }

    fn map_error(&self, error: ureq::Error, url: &str) -> Error {
        match error {
            ureq::Error::Timeout(ureq::Timeout::Connect) => Error::transient(ErrorKind::Timeout {
                after: self.config.connect_timeout(),
            }),
            ureq::Error::Timeout(_) => self.config.timed_out(),
            ureq::Error::BodyExceedsLimit(_) => self.config.too_large(),
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                self.config.timed_out()
            }
            ureq::Error::BadUri(_) | ureq::Error::Http(_) => Error::permanent(ErrorKind::Config(
                format!("cannot build a request to {}: {error}", display_url(url)).into(),
            )),
            other => {
                let error = Error::transient(ErrorKind::Transport(format!(
                    "{}: {other}",
                    display_url(url)
                )));
                // ureq's own error is the cause, unless it could quote a
                // URL: the request's (a query may hold a secret) or a
                // proxy's (its userinfo is one).
                match other {
                    ureq::Error::RequireHttpsOnly(_)
                    | ureq::Error::ConnectProxyFailed(_)
                    | ureq::Error::BadUri(_) => error,
                    other => error.with_source(other),
                }
            }
        }
    }

    /// Reads the body up to the cap, in pieces, into a buffer wiped on drop
    /// (sized from `Content-Length` when it is declared, so it usually
    /// never grows).
    fn read_body(
        &self,
        response: http::Response<ureq::Body>,
        declared: Option<usize>,
        url: &str,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let limit = self.config.max_body();
        // The reader stops after `limit` bytes and fails if one more byte
        // is there, without reading the rest.
        let mut reader = response
            .into_body()
            .into_with_config()
            .limit(u64::try_from(limit).unwrap_or(u64::MAX))
            .reader();
        let mut body = Zeroizing::new(Vec::with_capacity(declared.unwrap_or(0).min(limit)));
        let mut piece = Zeroizing::new([0u8; 8 * 1024]);
        loop {
            match reader.read(piece.as_mut_slice()) {
                Ok(0) => return Ok(body),
                Ok(n) => append_wiping(&mut body, piece.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.map_error(ureq::Error::from(e), url)),
            }
        }
    }
}

fn bad_header(request: &HttpRequest, name: &str) -> Error {
    // The name only: the value may be a credential.
    Error::permanent(ErrorKind::Config(
        format!(
            "invalid value for request header {name:?} to {}",
            display_url(&request.url)
        )
        .into(),
    ))
}

fn bad_request(request: &HttpRequest, error: &http::Error) -> Error {
    // http::Error names the part that was wrong, never a header's value.
    Error::permanent(ErrorKind::Config(
        format!(
            "cannot build a request to {}: {error}",
            display_url(&request.url)
        )
        .into(),
    ))
}

fn headers_of(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

impl Transport for UreqTransport {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, Error> {
        let deadline = Instant::now() + self.config.timeout();
        let mut current = request.clone();
        let mut hops = 0;
        loop {
            check_request(&current, &self.config)?;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.config.timed_out());
            }
            let response = self.send_one(&current, remaining)?;
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok());
            if let Some(next) = next_redirect(&current, status, location, hops)? {
                // The redirect's own body is dropped unread.
                current = next;
                hops += 1;
                continue;
            }
            let headers = headers_of(response.headers());
            let declared = response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok());
            if self.config.declared_too_large(declared) {
                return Err(self.config.too_large());
            }
            let declared = declared.and_then(|v| v.trim().parse::<usize>().ok());
            let body = self.read_body(response, declared, &current.url)?;
            return Ok(HttpResponse {
                status,
                headers,
                body,
            });
        }
    }
}

/// Runs the blocking request on the [`blocking`] crate's thread pool, so
/// an async caller's executor thread is never blocked.
#[cfg(feature = "async")]
impl AsyncTransport for UreqTransport {
    fn send(
        &self,
        request: HttpRequest,
    ) -> impl std::future::Future<Output = Result<HttpResponse, Error>> + Send {
        let transport = self.clone();
        blocking::unblock(move || Transport::send(&transport, &request))
    }
}
