//! freshen keeps OAuth2 access tokens fresh; this facade only re-exports,
//! it has no code of its own.
//!
//! One cache layer, refresh-ahead in the background, never a token handed
//! out that will die in flight, and the same behaviour on tokio, smol,
//! plain threads and WASI hosts. The top level is what a user writes: a
//! cache for the runtime, a token request and the source that sends it, a
//! transport, the policy, and the errors.
//!
//! # Features: a runtime and a transport
//!
//! A runtime feature brings the cache for that runtime and **no**
//! transport; a transport feature brings one transport and no runtime. Turn
//! on one of each:
//!
//! | runtime | `Cargo.toml` features | cache | transport |
//! |---|---|---|---|
//! | tokio | `tokio`, `reqwest` | [`TokioCache`] on a [`TokioRuntime`] | [`ReqwestTransport`] |
//! | smol | `smol`, `ureq` | [`SmolCache`] on a [`SmolRuntime`] | [`UreqTransport`] (async, on the `blocking` crate's thread pool) |
//! | threads, or inline (CLIs, WASI) | `blocking`, `ureq` | [`BlockingCache`] | [`UreqTransport`] |
//! | inline in a WASI 0.2 component (`wasm32-wasip2`) | `blocking`, `wasi-http` | [`BlockingCache`] | [`WasiHttpTransport`] (the host's `wasi:http`) |
//!
//! - `tokio`, `smol`, `blocking`: the caches. With `tokio` or `smol` on,
//!   `ureq`'s transport is also an async one (run on the `blocking` crate's
//!   thread pool), so it serves either async runtime.
//! - `reqwest` (tokio family), `ureq` (blocking, and async as above),
//!   `surf` (smol family; opt-in only: surf is unmaintained upstream),
//!   `wasi-http` (blocking, over the host's `wasi:http`; only
//!   `wasm32-wasip2` sends: elsewhere each request is a configuration
//!   error).
//! - `metadata`: [`MetadataSource`] for GCE's metadata server ([`Gce`]),
//!   Azure IMDS ([`AzureImds`]) and the identity endpoint of Azure App
//!   Service and Functions ([`AzureAppService`]), over any transport.
//! - `tracing`: every cache traces each refresh attempt as a span and logs
//!   its lifecycle through `tracing` (the sink it logs with is
//!   [`cache::tracing_events`]).
//! - `metrics`: every cache reports counters, histograms and gauges through
//!   the `metrics` facade. Their names and labels, and the span's fields,
//!   are in one table: the README's "Observability" section (below, and on
//!   the repository's front page).
//! - `tower`: the request path — [`BearerLayer`] puts the token on every
//!   request of a tower service (hyper-util clients, tonic channels) and
//!   retries once after a 401; its rules are [`request::Rules`]. `tonic`:
//!   also [`BearerInterceptor`], tonic's interceptor that never blocks.
//! - `reqwest-middleware`: the same request path on reqwest —
//!   [`BearerMiddleware`], a reqwest-middleware `Middleware` with the same
//!   rules ([`request::Rules`]).
//! - `jwt`: [`jwt`] (freshen-jwt): credentials made for every attempt —
//!   `private_key_jwt` and `client_secret_jwt` client assertions, the
//!   JWT-bearer grant, tokens read from rotating files (workload identity).
//! - `std` (default): [`OAuthSource`], [`ShapeKey`], the [`TokenStore`]
//!   contract and [`MemoryStore`]. Without it, the facade is `no_std` and
//!   holds the machine and the wire only.
//! - `file-store`: [`FileStore`] (freshen-store), where a rotated refresh
//!   token survives a restart and is shared safely between processes.
//! - `ureq-platform-roots`, `reqwest-native-roots`: the platform's root
//!   store for the transport's TLS (see each transport's docs; bring your
//!   own client with `UreqTransport::from_agent` or
//!   `ReqwestTransport::from_client`).
//!
//! # The top level
//!
//! - Caches: [`TokioCache`] and [`TokioRuntime`], [`SmolCache`] and
//!   [`SmolRuntime`], [`BlockingCache`]; what they hand out, [`TokenRef`]
//!   (a [`Token`]). Many tokens per process: [`KeyedCache`] of caches,
//!   keyed by [`ShapeKey`], each built with [`ReadMode::Shared`], and the
//!   opt-in process-wide [`registry`].
//! - Refresh tokens that survive a restart: [`TokenStore`],
//!   [`FileStore`], [`MemoryStore`] ([`OAuthSource::with_store`]).
//! - The OAuth request and source: [`TokenRequest`], [`ClientAuth`],
//!   [`OAuthSource`]; any other source implements [`TokenSource`] or
//!   [`BlockingTokenSource`] and returns a [`Fetched`] (boxed, a
//!   [`DynTokenSource`]).
//! - Transports: [`ReqwestTransport`], [`UreqTransport`], [`SurfTransport`],
//!   configured with a [`TransportConfig`].
//! - The request path: [`BearerLayer`] (tower), [`BearerInterceptor`]
//!   (tonic), [`BearerMiddleware`] (reqwest-middleware); the crates whole
//!   as [`request`] (freshen-http, the rules), [`tower`] (freshen-tower)
//!   and [`reqwest_middleware`] (freshen-reqwest-middleware).
//! - The policy: [`Policy`], [`PolicyBuilder`], [`PolicyError`].
//! - The errors: [`Error`], [`ErrorKind`], [`Retry`], and the values a kind
//!   carries: [`OAuthError`], [`ErrorCode`], [`ProviderError`],
//!   [`ConfigError`].
//! - What a token and an event say: [`Token`], [`Generation`], [`Phase`],
//!   [`Instant`], [`Event`], [`RefreshReason`], [`Secret`].
//!
//! Everything else is one module down, whole crates for those who build on
//! freshen: [`machine`] (freshen-core: the state machine itself, for
//! driver authors and tests), [`oauth`] (freshen-oauth: the wire),
//! [`cache`] (freshen-cache: the cache over any runtime, and its
//! [`driver`](cache::driver) plumbing), [`drivers`] and [`transports`] (the
//! adapter crates).
//!
//! ```no_run
//! # #[cfg(all(feature = "tokio", feature = "reqwest"))]
//! # async fn example() -> Result<(), freshen::Error> {
//! use freshen::{ClientAuth, OAuthSource, ReqwestTransport, TokenRequest, TokioCache, TokioRuntime};
//!
//! let request = TokenRequest::client_credentials(
//!     "https://idp.example.com/oauth2/token",
//!     ClientAuth::basic("my-client", std::env::var("CLIENT_SECRET").unwrap_or_default()),
//! )
//! .scope("api:read");
//! let source = OAuthSource::new(request, ReqwestTransport::new());
//! let cache = TokioCache::new(source, TokioRuntime::current());
//! let token = cache.token().await?; // fresh: no lock, no wait
//! println!("Authorization: Bearer <{} bytes>", token.secret().len());
//! # Ok(()) }
//! ```
//!
//! A token request is data until a transport sends it, and shows no secret:
//!
//! ```
//! use freshen::{ClientAuth, TokenRequest};
//!
//! let request = TokenRequest::client_credentials(
//!     "https://idp.example.com/oauth2/token",
//!     ClientAuth::basic("my-client", "s3cret"),
//! )
//! .scope("api:read");
//! let http = request.to_http_request()?;
//! assert_eq!(http.url, "https://idp.example.com/oauth2/token");
//! assert!(http.header("Authorization").is_some_and(|v| v.starts_with("Basic ")));
//! assert!(!format!("{request:?} {http:?}").contains("s3cret"));
//! # Ok::<(), freshen::Error>(())
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
// The docs above link every feature's items; with some features off those
// links have nothing to point at (docs.rs builds with all of them).
#![cfg_attr(
    not(all(
        feature = "tokio",
        feature = "smol",
        feature = "blocking",
        feature = "ureq",
        feature = "reqwest",
        feature = "surf",
        feature = "wasi-http",
        feature = "tracing",
        feature = "metadata",
        feature = "jwt",
        feature = "file-store",
        feature = "tonic",
        feature = "reqwest-middleware"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]

// The README's examples, run as doc-tests when the features they use are on
// (`cargo test --workspace --all-features`, as the README says).
#[cfg(all(
    doctest,
    feature = "tokio",
    feature = "smol",
    feature = "blocking",
    feature = "ureq",
    feature = "reqwest",
    feature = "metadata",
    feature = "wasi-http",
    feature = "jwt",
    feature = "file-store",
    feature = "tonic",
    feature = "reqwest-middleware"
))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

// ---------------------------------------------------------------------------
// The top level: what users write.
// ---------------------------------------------------------------------------

// Caches, per runtime.
#[cfg(feature = "blocking")]
pub use freshen_blocking::BlockingCache;
#[cfg(any(feature = "tokio", feature = "smol", feature = "blocking"))]
pub use freshen_cache::TokenRef;
#[cfg(feature = "smol")]
pub use freshen_smol::{SmolCache, SmolRuntime};
#[cfg(feature = "tokio")]
pub use freshen_tokio::{TokioCache, TokioRuntime};
// Many tokens per process.
#[cfg(any(feature = "tokio", feature = "smol", feature = "blocking"))]
pub use freshen_cache::{KeyedCache, ReadMode, registry};
#[cfg(feature = "std")]
pub use freshen_oauth::ShapeKey;
// Refresh tokens that survive a restart.
#[cfg(feature = "std")]
pub use freshen_oauth::{MemoryStore, StoredToken, TokenStore};
#[cfg(feature = "file-store")]
pub use freshen_store::FileStore;

// The OAuth request and source; the source contracts.
pub use freshen_core::{BlockingTokenSource, DynTokenSource, Fetched, TokenSource};
#[cfg(feature = "std")]
pub use freshen_oauth::OAuthSource;
pub use freshen_oauth::{ClientAuth, TokenRequest};

// The cloud metadata servers' sources.
#[cfg(feature = "metadata")]
pub use freshen_metadata::{AzureAppService, AzureImds, Gce, MetadataSource};

// Transports.
pub use freshen_oauth::transport::TransportConfig;
#[cfg(feature = "reqwest")]
pub use freshen_reqwest::ReqwestTransport;
#[cfg(feature = "surf")]
pub use freshen_surf::SurfTransport;
#[cfg(feature = "ureq")]
pub use freshen_ureq::UreqTransport;
#[cfg(feature = "wasi-http")]
pub use freshen_wasi_http::WasiHttpTransport;

// The request path.
/// freshen-http: the request path's rules over `http` types, for any client.
#[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
pub use freshen_http as request;
/// freshen-reqwest-middleware: the request path on reqwest-middleware.
#[cfg(feature = "reqwest-middleware")]
pub use freshen_reqwest_middleware as reqwest_middleware;
#[cfg(feature = "reqwest-middleware")]
pub use freshen_reqwest_middleware::BearerMiddleware;
/// freshen-tower: the tower layer and tonic's interceptor.
#[cfg(feature = "tower")]
pub use freshen_tower as tower;
#[cfg(feature = "tonic")]
pub use freshen_tower::BearerInterceptor;
#[cfg(feature = "tower")]
pub use freshen_tower::BearerLayer;

// The policy.
pub use freshen_core::{Policy, PolicyBuilder, PolicyError};

// The errors.
pub use freshen_core::{
    ConfigError, Error, ErrorCode, ErrorKind, OAuthError, ProviderError, Retry,
};

// Tokens and events.
pub use freshen_core::{Event, Generation, Instant, Phase, RefreshReason, Secret, Token};

// ---------------------------------------------------------------------------
// One level down: whole crates, for those who build on freshen.
// ---------------------------------------------------------------------------

/// freshen-core: the state machine ([`Machine`](machine::Machine),
/// [`Decision`](machine::Decision), [`Ticket`](machine::Ticket),
/// [`AttemptId`](machine::AttemptId), [`Timers`](machine::Timers)…), for
/// driver authors and tests. Named `machine`, not `core`, so that it never
/// shadows the `core` crate.
pub use freshen_core as machine;

/// freshen-oauth: the OAuth2 wire as data (grants, client authentication,
/// response parsing, the rules every transport follows).
pub use freshen_oauth as oauth;

/// freshen-metadata: the cloud metadata servers' sources, whole (their
/// documented constants, the provider modules).
#[cfg(feature = "metadata")]
pub use freshen_metadata as metadata;

/// freshen-jwt: credentials made for every attempt (signed client
/// assertions, the JWT-bearer grant, rotating token files), given to
/// [`OAuthSource::with_per_attempt`](oauth::OAuthSource::with_per_attempt).
#[cfg(feature = "jwt")]
pub use freshen_jwt as jwt;

/// freshen-cache: the cache over any [`Runtime`](cache::Runtime), test
/// clocks ([`ManualClock`](cache::ManualClock)), event sinks, and the
/// [`driver`](cache::driver) plumbing for adapter authors.
#[cfg(any(feature = "tokio", feature = "smol", feature = "blocking"))]
pub use freshen_cache as cache;

/// The runtime adapters, whole: tokio, smol, and the synchronous drivers.
#[cfg(any(feature = "tokio", feature = "smol", feature = "blocking"))]
pub mod drivers {
    /// freshen-blocking: a background thread, or inline
    /// ([`Mode`](blocking::Mode)).
    #[cfg(feature = "blocking")]
    pub use freshen_blocking as blocking;
    /// freshen-smol.
    #[cfg(feature = "smol")]
    pub use freshen_smol as smol;
    /// freshen-tokio.
    #[cfg(feature = "tokio")]
    pub use freshen_tokio as tokio;
}

/// The transport adapters, whole.
#[cfg(any(
    feature = "ureq",
    feature = "reqwest",
    feature = "surf",
    feature = "wasi-http"
))]
pub mod transports {
    /// freshen-reqwest (tokio family).
    #[cfg(feature = "reqwest")]
    pub use freshen_reqwest as reqwest;
    /// freshen-surf (smol family; opt-in: surf is unmaintained upstream).
    #[cfg(feature = "surf")]
    pub use freshen_surf as surf;
    /// freshen-ureq (blocking; async with an async runtime feature on).
    #[cfg(feature = "ureq")]
    pub use freshen_ureq as ureq;
    /// freshen-wasi-http (blocking, a `wasm32-wasip2` component's
    /// `wasi:http`).
    #[cfg(feature = "wasi-http")]
    pub use freshen_wasi_http as wasi_http;
}
