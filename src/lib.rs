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
//!
//! - `tokio`, `smol`, `blocking`: the caches. With `tokio` or `smol` on,
//!   `ureq`'s transport is also an async one (run on the `blocking` crate's
//!   thread pool), so it serves either async runtime.
//! - `reqwest` (tokio family), `ureq` (blocking, and async as above),
//!   `surf` (smol family; opt-in only: surf is unmaintained upstream).
//! - `tracing`: [`cache::tracing_events`], an event sink that logs through
//!   `tracing`.
//! - `tower`: the request path — [`BearerLayer`] puts the token on every
//!   request of a tower service (hyper-util clients, tonic channels) and
//!   retries once after a 401; its rules are [`request::Rules`]. `tonic`:
//!   also [`BearerInterceptor`], tonic's interceptor that never blocks.
//! - `std` (default): [`OAuthSource`]. Without it, the facade is `no_std`
//!   and holds the machine and the wire only.
//!
//! # The top level
//!
//! - Caches: [`TokioCache`] and [`TokioRuntime`], [`SmolCache`] and
//!   [`SmolRuntime`], [`BlockingCache`]; what they hand out, [`TokenRef`]
//!   (a [`Token`]).
//! - The OAuth request and source: [`TokenRequest`], [`ClientAuth`],
//!   [`OAuthSource`]; any other source implements [`TokenSource`] or
//!   [`BlockingTokenSource`] and returns a [`Fetched`] (boxed, a
//!   [`DynTokenSource`]).
//! - Transports: [`ReqwestTransport`], [`UreqTransport`], [`SurfTransport`],
//!   configured with a [`TransportConfig`].
//! - The request path: [`BearerLayer`] (tower), [`BearerInterceptor`]
//!   (tonic); the crates whole as [`request`] (freshen-http, the rules) and
//!   [`tower`] (freshen-tower).
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
        feature = "tracing",
        feature = "tonic"
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
    feature = "tonic"
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

// The OAuth request and source; the source contracts.
pub use freshen_core::{BlockingTokenSource, DynTokenSource, Fetched, TokenSource};
#[cfg(feature = "std")]
pub use freshen_oauth::OAuthSource;
pub use freshen_oauth::{ClientAuth, TokenRequest};

// Transports.
pub use freshen_oauth::transport::TransportConfig;
#[cfg(feature = "reqwest")]
pub use freshen_reqwest::ReqwestTransport;
#[cfg(feature = "surf")]
pub use freshen_surf::SurfTransport;
#[cfg(feature = "ureq")]
pub use freshen_ureq::UreqTransport;

// The request path.
/// freshen-http: the request path's rules over `http` types, for any client.
#[cfg(feature = "tower")]
pub use freshen_http as request;
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
#[cfg(any(feature = "ureq", feature = "reqwest", feature = "surf"))]
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
}
