//! freshen-core: the part of freshen that decides — no I/O, no clock reads,
//! `no_std` + `alloc`, no serde (its one dependency is `zeroize`).
//!
//! A driver (tokio, smol, threads, inline) asks the [`Machine`] with the
//! current [`Instant`] and carries out its [`Decision`]: serve a token, start
//! a refresh, wait for the one in flight, or fail fast during a backoff. The
//! [`Policy`] turns a token's lifetime into its timeline:
//!
//! ```text
//! t0 ─────────── fresh ───────────┬──── stale ────┬── expired ──┬
//!                             refresh_at     usable_until   expires_at = t0 + L
//! ```
//!
//! Also here, because every other crate of freshen speaks them: [`Token`]
//! and what a source brings back ([`Fetched`]), the source contracts
//! ([`TokenSource`], [`BlockingTokenSource`]), lifecycle [`Event`]s,
//! [`Secret`], and the [`Error`] every waiter of an attempt shares. Its
//! [`ErrorKind`] names every failure as plain data, OAuth2 codes and
//! configuration errors included (see [`error`] for why those values live
//! here); building requests and reading responses is freshen-oauth's.
//!
//! ```
//! use core::time::Duration;
//! use freshen_core::{Decision, Fetched, Instant, Machine, Policy};
//!
//! let mut machine = Machine::new(Policy::default());
//! let t0 = Instant::ZERO;
//! // An empty cache: the first caller starts the one attempt and waits.
//! let Decision::RefreshAndWait(ticket) = machine.decide(t0) else { unreachable!() };
//! let fetched = Fetched::new("token-1").with_lifetime(Duration::from_secs(3600));
//! let token = machine
//!     .on_success(ticket.id(), fetched, t0, t0 + Duration::from_millis(80), 42)
//!     .expect("the attempt in flight")
//!     .expect("a usable token");
//! // A 1 h token: refresh between 40 and 44 min, never served after 59 min.
//! assert!(token.refresh_at() >= t0 + Duration::from_secs(40 * 60));
//! assert!(token.refresh_at() <= t0 + Duration::from_secs(44 * 60));
//! assert_eq!(token.usable_until(), t0 + Duration::from_secs(59 * 60));
//! assert!(matches!(machine.decide(t0 + Duration::from_secs(60)), Decision::Serve(_)));
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod error;
pub mod event;
pub mod machine;
pub mod policy;
pub mod secret;
pub mod source;
pub mod time;
pub mod token;

pub use error::{
    AuthMethod, Cause, ConfigError, Error, ErrorCode, ErrorKind, OAuthError, ProviderError, Retry,
};
pub use event::{AttemptId, Event, RefreshReason};
pub use machine::{Decision, Machine, Resolution, Ticket, Timers};
pub use policy::{DEFAULT_LIFETIME, Policy, PolicyBuilder, PolicyError, Schedule};
pub use secret::Secret;
pub use source::{BlockingTokenSource, BoxFetch, DynTokenSource, TokenSource};
pub use time::Instant;
pub use token::{Fetched, Generation, Phase, Token};
