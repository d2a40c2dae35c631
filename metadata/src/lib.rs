//! freshen-metadata: token sources for the cloud metadata servers — GCE's
//! metadata server ([`Gce`]), Azure IMDS ([`AzureImds`]) and the identity
//! endpoint of Azure App Service, Functions and Container Apps
//! ([`AzureAppService`]) — over any freshen transport.
//!
//! A workload on a VM, in GKE or on Azure asks a server on the host for its
//! identity's token instead of holding a secret. [`MetadataSource`] sends
//! each provider's documented request (see [`gce`], [`azure`] and
//! [`app_service`] for the
//! documents and what is taken from them) over a blocking [`Transport`] or
//! an [`AsyncTransport`], and is a [`BlockingTokenSource`] or
//! [`TokenSource`] for a freshen cache:
//!
//! ```no_run
//! use freshen_metadata::{Gce, MetadataSource};
//! use freshen_ureq::UreqTransport;
//!
//! let source = MetadataSource::gce(Gce::new(), UreqTransport::new());
//! // BlockingCache::new(source), then cache.ready(deadline) at startup.
//! # let _ = source;
//! ```
//!
//! What the cache does for them, and why:
//!
//! - **They cache.** Both servers hand back their own token until a few
//!   minutes before it expires. Each answer is marked
//!   [`Fetched::renewed_by_source`], so the cache takes the same token
//!   back as the source's honest answer and asks again once the server has
//!   renewed, rather than reporting [`freshen_core::Event::NoProgress`] and
//!   backing off; an ordinary source hiding a cache is still caught.
//! - **Not ready at start.** At pod or VM start the server may refuse
//!   connections, answer 200 with an empty token, or IMDS answer 404 while
//!   the identity is assigned. Those are transient: the cache backs off and retries, and never keeps a
//!   failure. Wait for the first token with the caches' `ready(deadline)`.
//! - **Throttling.** IMDS answers 429 past about 5 requests a second, and
//!   both servers 5xx under load. Those are transient too, with
//!   `Retry-After` honoured; one cache per identity (not one per client
//!   object) keeps a process well under the limit.
//! - **Plain `http`.** The servers speak only `http`, on addresses that
//!   never leave the host. Transports allow exactly that through
//!   [`freshen_oauth::transport::check_request`]: a bodiless `GET` with the
//!   provider's header to one of the documented hosts; everything else is
//!   still `https` or loopback only.
//!
//! Why a crate of its own rather than part of freshen-oauth: freshen-oauth
//! is the OAuth2 wire as `no_std` data; these are not OAuth2 endpoints (no
//! grant, no client, a `GET`), they read the environment
//! (`GCE_METADATA_HOST`), and only cloud workloads need them.
#![forbid(unsafe_code)]

pub mod app_service;
pub mod azure;
pub mod gce;
mod identity;
mod query;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use freshen_core::{BlockingTokenSource, Error, ErrorKind, Fetched, Retry, TokenSource};
use freshen_oauth::http::{HttpRequest, HttpResponse};
use freshen_oauth::response::{ParseOptions, parse_token_response};
use freshen_oauth::transport::{AsyncTransport, Transport};

pub use app_service::AzureAppService;
pub use azure::AzureImds;
pub use gce::Gce;

/// Which metadata server a [`MetadataSource`] asks.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Server {
    Gce(Gce),
    Azure(AzureImds),
    AppService(AzureAppService),
}

/// A token source asking a cloud metadata server, over transport `T`: a
/// [`BlockingTokenSource`] with a [`Transport`], a [`TokenSource`] with an
/// [`AsyncTransport`]. See the [crate docs](crate).
///
/// Every fetch is one request; the cache around it retries and backs off.
/// `Debug` shows the server and the account asked for (nothing here is
/// secret but the token, which it never shows).
pub struct MetadataSource<T> {
    server: Server,
    transport: T,
    options: ParseOptions,
}

impl<T> MetadataSource<T> {
    /// A source asking GCE's metadata server.
    ///
    /// ```
    /// use freshen_metadata::{Gce, MetadataSource};
    /// use freshen_ureq::UreqTransport;
    ///
    /// let source = MetadataSource::gce(Gce::new().with_host("127.0.0.1:1"), UreqTransport::new());
    /// assert!(format!("{source:?}").contains("127.0.0.1:1"));
    /// ```
    pub fn gce(gce: Gce, transport: T) -> Self {
        Self::new(Server::Gce(gce), transport)
    }

    /// A source asking Azure IMDS.
    ///
    /// ```
    /// use freshen_metadata::{AzureImds, MetadataSource};
    /// use freshen_ureq::UreqTransport;
    ///
    /// let imds = AzureImds::new("https://management.azure.com/");
    /// let source = MetadataSource::azure(imds, UreqTransport::new());
    /// assert!(format!("{source:?}").contains("management.azure.com"));
    /// ```
    pub fn azure(imds: AzureImds, transport: T) -> Self {
        Self::new(Server::Azure(imds), transport)
    }

    /// A source asking the identity endpoint of Azure App Service,
    /// Functions or Container Apps.
    ///
    /// ```
    /// use freshen_metadata::{AzureAppService, MetadataSource};
    /// use freshen_ureq::UreqTransport;
    ///
    /// let app = AzureAppService::new("http://127.0.0.1:41741/MSI/token/", "secret", "https://vault.azure.net");
    /// // In the app itself: AzureAppService::from_env("https://vault.azure.net")?
    /// let source = MetadataSource::azure_app_service(app, UreqTransport::new());
    /// assert!(format!("{source:?}").contains("vault.azure.net"));
    /// assert!(!format!("{source:?}").contains("secret"));
    /// ```
    pub fn azure_app_service(app: AzureAppService, transport: T) -> Self {
        Self::new(Server::AppService(app), transport)
    }

    fn new(server: Server, transport: T) -> Self {
        MetadataSource {
            server,
            transport,
            options: ParseOptions::default(),
        }
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// How long before expiry the server renews the token it caches.
    pub fn renewal_window(&self) -> Duration {
        match &self.server {
            Server::Gce(_) => gce::GCE_RENEWAL_WINDOW,
            Server::Azure(_) | Server::AppService(_) => azure::AZURE_RENEWAL_WINDOW,
        }
    }

    fn request(&self) -> HttpRequest {
        match &self.server {
            Server::Gce(gce) => gce.request(),
            Server::Azure(imds) => imds.request(),
            Server::AppService(app) => app.request(),
        }
    }

    /// The server's answer as a token the cache may keep, or a classified
    /// error.
    fn accept(&self, response: &HttpResponse) -> Result<Fetched, Error> {
        if let Server::Gce(_) = &self.server {
            Gce::check(response)?;
        }
        match parse_token_response(response, now_epoch_secs(), &self.options) {
            Ok(parsed) => Ok(parsed
                .into_fetched()
                .renewed_by_source(self.renewal_window())),
            Err(e) => {
                let error = match &self.server {
                    Server::Azure(_) => AzureImds::classify(response.status, e.into_error()),
                    Server::Gce(_) | Server::AppService(_) => e.into_error(),
                };
                Err(not_ready_yet(error))
            }
        }
    }
}

/// A success whose body is no usable token (an empty `access_token`, a
/// truncated body) is, from a metadata server on the host, a server not
/// ready yet rather than a configuration to fix: transient, so the cache
/// retries it with backoff and `ready` keeps waiting (openxla/xla #42361
/// cached such an empty token for good).
fn not_ready_yet(error: Error) -> Error {
    if matches!(error.kind(), ErrorKind::InvalidResponse(_)) && error.is_permanent() {
        return Error::new(error.kind().clone(), Retry::Transient);
    }
    error
}

fn now_epoch_secs() -> Option<u64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

impl<T: Transport> BlockingTokenSource for MetadataSource<T> {
    fn fetch(&self) -> Result<Fetched, Error> {
        let response = self.transport.send(&self.request())?;
        self.accept(&response)
    }
}

impl<T: AsyncTransport> TokenSource for MetadataSource<T> {
    async fn fetch(&self) -> Result<Fetched, Error> {
        let response = self.transport.send(self.request()).await?;
        self.accept(&response)
    }
}

impl<T> fmt::Debug for MetadataSource<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetadataSource")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}
