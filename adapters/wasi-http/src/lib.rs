//! freshen-wasi-http: a blocking [`Transport`] for freshen over WASI 0.2's
//! outgoing HTTP (`wasi:http/outgoing-handler`), for components built for
//! `wasm32-wasip2` — I/O only: it parses no token and decides no rule (both
//! are freshen-oauth's). The host makes the connection (and TLS), so the
//! component carries no HTTP client and no TLS stack of its own.
//!
//! [`WasiHttpTransport`] applies the rules every freshen transport shares
//! (see [`freshen_oauth::transport`]):
//!
//! - error statuses come back as responses, bodies included;
//! - plain `http` only to loopback unless
//!   [`TransportConfig::with_allow_insecure_http`], checked before the
//!   request is handed to the host;
//! - redirects are followed by hand (wasi:http never follows one), only
//!   within one scheme, host and port, at most 5 hops (307/308 keep the
//!   method and body);
//! - a connect timeout (the host's `connect-timeout` option) and a total
//!   timeout over all hops and the body, kept by the component itself with
//!   a monotonic-clock pollable beside the response's;
//! - the body is read up to the cap and no further
//!   ([`ErrorKind::ResponseTooLarge`]), into a buffer wiped on drop;
//! - a `User-Agent` (`freshen/<version>` by default) and an exact
//!   `Content-Length`;
//! - a failure keeps the host's `error-code` as its cause.
//!
//! Pair it with freshen-blocking's inline driver (no threads on
//! `wasm32-wasip2`): `BlockingCache::inline(OAuthSource::new(request,
//! WasiHttpTransport::new()))`.
//!
//! Only `wasm32-wasip2` has the transport. On every other target the type
//! still exists, so code that names it builds and is checked on the
//! development machine, but each request fails at once with a permanent
//! [`ErrorKind::Config`] error saying so.
//!
//! ```no_run
//! use std::time::Duration;
//! use freshen_oauth::{HttpRequest, Method, Transport};
//! use freshen_oauth::transport::TransportConfig;
//! use freshen_wasi_http::WasiHttpTransport;
//!
//! let transport = WasiHttpTransport::with_config(
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
//! [`ErrorKind::ResponseTooLarge`]: freshen_core::ErrorKind::ResponseTooLarge
//! [`ErrorKind::Config`]: freshen_core::ErrorKind::Config

use freshen_oauth::Transport;
use freshen_oauth::transport::TransportConfig;

#[cfg(all(target_os = "wasi", target_env = "p2"))]
mod wasi_http;

#[cfg(not(all(target_os = "wasi", target_env = "p2")))]
mod elsewhere;

/// A blocking HTTP transport over the host's `wasi:http/outgoing-handler`.
/// Holds only its settings: every request is its own `outgoing-request`
/// (the host pools connections, if it does).
#[derive(Clone, Debug, Default)]
pub struct WasiHttpTransport {
    config: TransportConfig,
}

impl WasiHttpTransport {
    /// A transport with the default [`TransportConfig`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A transport with `config`.
    pub fn with_config(config: TransportConfig) -> Self {
        WasiHttpTransport { config }
    }

    /// The settings this transport applies.
    pub fn config(&self) -> &TransportConfig {
        &self.config
    }
}

impl Transport for WasiHttpTransport {
    fn send(
        &self,
        request: &freshen_oauth::HttpRequest,
    ) -> Result<freshen_oauth::HttpResponse, freshen_core::Error> {
        #[cfg(all(target_os = "wasi", target_env = "p2"))]
        return wasi_http::send(&self.config, request);
        #[cfg(not(all(target_os = "wasi", target_env = "p2")))]
        return elsewhere::send(request);
    }
}
