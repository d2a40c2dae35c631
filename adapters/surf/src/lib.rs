//! freshen-surf: an async [`AsyncTransport`] for freshen over [surf] 2 — I/O
//! only: it parses no token and decides no rule (both are freshen-oauth's).
//! Opt-in, for the smol family.
//!
//! **surf is unmaintained upstream** (RUSTSEC-2025-0036; its stack also
//! pulls async-std, likewise unmaintained). The maintained default for smol
//! users is `freshen-ureq` with its `async` feature. This crate exists for
//! programs that already use surf.
//!
//! # Backend and TLS
//!
//! surf is built with `default-features = false, features = ["h1-client"]`:
//! async-h1 over async-std sockets, TLS by async-native-tls, which is
//! OpenSSL on Linux (system roots; needs `libssl`). surf's `curl-client`
//! default is not used, and its `h1-client-rustls` backend is avoided on
//! purpose: it pins rustls 0.19 and an old webpki/ring with known
//! advisories.
//!
//! # What the transport does
//!
//! [`SurfTransport`] applies the rules every freshen transport shares (see
//! [`freshen_oauth::transport`]):
//!
//! - error statuses come back as responses, bodies included;
//! - plain `http` only to loopback (and to the cloud metadata servers, as
//!   [`check_request`] allows) unless
//!   [`TransportConfig::with_allow_insecure_http`], checked before
//!   connecting;
//! - surf follows no redirect by itself (no redirect middleware is added);
//!   they are followed by hand, only within one scheme, host and port, at
//!   most 5 hops (307/308 keep the method and body); any other redirect is
//!   an error;
//! - the total timeout covers connecting, every hop and the body, with an
//!   [`async_io::Timer`]. async-h1 has no separate connect phase to bound,
//!   so [`TransportConfig::connect_timeout`] is applied as part of the
//!   total timeout only;
//! - the body is read up to the cap and no further
//!   ([`ErrorKind::ResponseTooLarge`]), in pieces, into a buffer wiped on
//!   drop and grown without leaving copies; the request body is streamed
//!   from a wiped copy of freshen's buffer;
//! - a `User-Agent` (`freshen/<version>` by default);
//! - every request gets a connection of its own (keep-alive off): the h1
//!   client's pool would hand out a connection whose previous body was
//!   left unread (a capped body, a redirect), and a token request every
//!   few minutes gains nothing from a pool;
//! - a failure to reach the server keeps surf's error (which names no URL)
//!   as its cause ([`std::error::Error::source`]).
//!
//! # `Send`
//!
//! surf 2.3's `Client::send` future is `Send` (its middleware and client
//! futures are boxed `Send` futures), so [`SurfTransport::send`] is a
//! plain `async` block, checked at compile time by this crate's tests; no
//! thread hop is needed.
//!
//! # Blocking parts
//!
//! async-h1's client resolves host names with the blocking system
//! resolver, on the executor thread. Token endpoints are few and their
//! addresses cached by the system, but a program that must never block an
//! executor thread should prefer `freshen-ureq` with `async`.
//!
//! ```no_run
//! use freshen_oauth::{AsyncTransport, HttpRequest, Method};
//! use freshen_surf::SurfTransport;
//!
//! smol::block_on(async {
//!     let transport = SurfTransport::new();
//!     let request = HttpRequest::new(Method::Post, "https://login.example.com/oauth2/token")
//!         .with_header("Content-Type", "application/x-www-form-urlencoded")
//!         .with_body("grant_type=client_credentials");
//!     let response = transport.send(request).await?;
//!     println!("HTTP {}", response.status);
//!     Ok::<(), freshen_core::Error>(())
//! })?;
//! # Ok::<(), freshen_core::Error>(())
//! ```
//!
//! [surf]: https://docs.rs/surf

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::time::Instant;

use async_io::Timer;
use freshen_core::{Error, ErrorKind};
use freshen_oauth::transport::{
    TransportConfig, check_request, display_url, is_transport_header, next_redirect,
};
use freshen_oauth::{AsyncTransport, HttpRequest, HttpResponse, Method, append_wiping};
use futures_lite::{AsyncReadExt, future};
use surf::http::headers::{HeaderName, HeaderValue};
use zeroize::Zeroizing;

/// An async HTTP transport over a [`surf::Client`] with the async-h1
/// backend. Cheap to clone: clones share the client.
#[derive(Clone)]
pub struct SurfTransport {
    client: surf::Client,
    config: TransportConfig,
}

impl fmt::Debug for SurfTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SurfTransport")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Default for SurfTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl SurfTransport {
    /// A transport with the default [`TransportConfig`].
    pub fn new() -> Self {
        Self::with_config(TransportConfig::default())
    }

    /// A transport with `config`.
    pub fn with_config(config: TransportConfig) -> Self {
        let surf_config = surf::Config::new()
            // A fresh connection per request: see the crate docs.
            .set_http_keep_alive(false)
            .set_tcp_no_delay(true)
            // The whole request is bounded by our own timer instead.
            .set_timeout(None);
        // Building the async-h1 client cannot fail (its error type is
        // `Infallible`).
        let Ok(client) = surf::Client::try_from(surf_config);
        SurfTransport { client, config }
    }

    /// The settings this transport applies.
    pub fn config(&self) -> &TransportConfig {
        &self.config
    }

    fn build(&self, request: &HttpRequest) -> Result<surf::Request, Error> {
        let url = surf::Url::parse(&request.url).map_err(|e| {
            Error::permanent(ErrorKind::Config(
                format!("cannot parse the URL {}: {e}", display_url(&request.url)).into(),
            ))
        })?;
        let method = match request.method {
            Method::Post => surf::http::Method::Post,
            Method::Get => surf::http::Method::Get,
        };
        let mut out = surf::Request::new(method, url);
        let mut user_agent = false;
        for (name, value) in &request.headers {
            if is_transport_header(name) {
                continue;
            }
            let (name, value) = header(name, value).ok_or_else(|| {
                // Names only: a value may be a credential.
                Error::permanent(ErrorKind::Config(
                    format!(
                        "invalid request header {name:?} for {}",
                        display_url(&request.url)
                    )
                    .into(),
                ))
            })?;
            user_agent |= name.as_str().eq_ignore_ascii_case("user-agent");
            out.append_header(name, value);
        }
        if !user_agent {
            let (name, value) =
                header("User-Agent", self.config.user_agent()).ok_or_else(|| {
                    Error::permanent(ErrorKind::Config(
                        "the configured User-Agent is not a valid header value".into(),
                    ))
                })?;
            out.insert_header(name, value);
        }
        if !(request.method == Method::Get && request.body.is_empty()) {
            // After the headers, so the caller's Content-Type stays. A
            // reader over a wiped buffer, not `from_bytes` (a plain Vec).
            let len = request.body.len();
            let reader = futures_lite::io::Cursor::new(request.body.clone());
            out.set_body(surf::Body::from_reader(reader, Some(len)));
        }
        Ok(out)
    }

    async fn send_all(&self, request: HttpRequest) -> Result<HttpResponse, Error> {
        let client = &self.client;
        let mut current = request;
        let mut hops = 0;
        loop {
            check_request(&current, &self.config)?;
            let mut response = client
                .send(self.build(&current)?)
                .await
                .map_err(|e| transport_error(&current.url, e))?;
            let status = u16::from(response.status());
            let location = response.header("location").map(|v| v.last().as_str());
            if let Some(next) = next_redirect(&current, status, location, hops)? {
                // The redirect's own body is dropped unread with its
                // connection (keep-alive is off).
                current = next;
                hops += 1;
                continue;
            }
            let mut headers = Vec::new();
            for (name, values) in response.iter() {
                for value in values.iter() {
                    headers.push((name.as_str().to_string(), value.as_str().to_string()));
                }
            }
            let limit = self.config.max_body();
            let declared = response.header("content-length").map(|v| v.last().as_str());
            if self.config.declared_too_large(declared) {
                return Err(self.config.too_large());
            }
            let declared = declared.and_then(|v| v.trim().parse::<usize>().ok());
            let mut body = Zeroizing::new(Vec::with_capacity(declared.unwrap_or(0).min(limit)));
            let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
            let mut reader = (&mut response).take(cap);
            let mut piece = Zeroizing::new([0u8; 8 * 1024]);
            loop {
                let n = reader.read(piece.as_mut_slice()).await.map_err(|e| {
                    Error::transient(ErrorKind::Transport(format!(
                        "{}: reading the body: {e}",
                        display_url(&current.url)
                    )))
                    .with_source(e)
                })?;
                if n == 0 {
                    break;
                }
                append_wiping(&mut body, piece.get(..n).unwrap_or_default());
                if body.len() > limit {
                    return Err(self.config.too_large());
                }
            }
            return Ok(HttpResponse {
                status,
                headers,
                body,
            });
        }
    }
}

impl AsyncTransport for SurfTransport {
    fn send(
        &self,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, Error>> + Send {
        let timeout = self.config.timeout();
        let deadline = Instant::now().checked_add(timeout);
        let work = self.send_all(request);
        async move {
            let expired = async {
                match deadline {
                    Some(at) => {
                        Timer::at(at).await;
                    }
                    None => future::pending::<()>().await,
                }
                Err(Error::transient(ErrorKind::Timeout { after: timeout }))
            };
            future::or(work, expired).await
        }
    }
}

/// A header checked the way http-types would otherwise check it by
/// panicking: an ASCII name, a value of visible ASCII, spaces and tabs.
fn header(name: &str, value: &str) -> Option<(HeaderName, HeaderValue)> {
    let visible = |b: u8| b == b'\t' || (b' '..=b'~').contains(&b);
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
        return None;
    }
    if !value.bytes().all(visible) {
        return None;
    }
    let name = HeaderName::from_str(name).ok()?;
    let value = HeaderValue::from_str(value).ok()?;
    Some((name, value))
}

fn transport_error(url: &str, error: surf::Error) -> Error {
    // async-h1 labels connection failures with made-up statuses (400, 500):
    // whatever the label, no response came. surf's error (which names no
    // URL) is the cause.
    Error::transient(ErrorKind::Transport(format!(
        "{}: {error}",
        display_url(url)
    )))
    .with_source(error)
}
