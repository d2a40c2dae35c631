#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

pub use freshen_core as core;
pub use freshen_core::{
    AttemptId, Decision, Error, ErrorCode, ErrorKind, Event, Fetched, Generation, Instant, Machine,
    OAuthError, Phase, Policy, PolicyBuilder, PolicyError, RefreshReason, Retry, Schedule, Secret,
    Ticket, Token,
};
/// The OAuth2 wire: token requests, response parsing, transport rules.
pub use freshen_oauth as oauth;

/// The runtime-agnostic cache that every async driver shares.
#[cfg(any(feature = "tokio", feature = "smol", feature = "blocking"))]
pub use freshen_cache as cache;
#[cfg(any(feature = "tokio", feature = "smol", feature = "blocking"))]
pub use freshen_cache::{
    Cache, CacheBuilder, Clock, ManualClock, MonotonicClock, Runtime, TokenRef,
};

/// The tokio driver.
#[cfg(feature = "tokio")]
pub use freshen_tokio as tokio;

/// The smol driver.
#[cfg(feature = "smol")]
pub use freshen_smol as smol;

/// The synchronous drivers (a background thread, or inline).
#[cfg(feature = "blocking")]
pub use freshen_blocking as blocking;

/// The blocking HTTP transport over ureq (with `async` for smol).
#[cfg(feature = "ureq")]
pub use freshen_ureq as ureq;

/// The async HTTP transport over reqwest (tokio family).
#[cfg(feature = "reqwest")]
pub use freshen_reqwest as reqwest;

/// The async HTTP transport over surf. Opt-in: surf is unmaintained upstream.
#[cfg(feature = "surf")]
pub use freshen_surf as surf;
