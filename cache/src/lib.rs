//! freshen-cache: the token cache over any runtime — it decides nothing (the
//! machine does), sends nothing (the source does), and spawns, sleeps and
//! reads time only through a [`Runtime`].
//!
//! [`Cache`] drives freshen-core's machine on any [`Runtime`] (a clock, a
//! spawner and a timer): the tokio and smol adapters are a few dozen lines
//! each. [`driver`] holds the state every driver shares, including the
//! synchronous ones of freshen-blocking; no driver re-decides a rule.
//!
//! The read path of a fresh token ([`Cache::cached`], and the first poll of
//! [`Cache::token`]) takes no lock, allocates nothing and does not wait: a
//! clock read, an atomic load, and a handle moved out of (and later back
//! into) a thread's spares, which the cache owns — no atomic
//! read-modify-write. Handed-out tokens ([`TokenRef`]) borrow the cache, so
//! none outlives it. A cache among thousands (a [`KeyedCache`]'s values)
//! is built with [`ReadMode::Shared`] instead: no per-thread spares, a few
//! atomic operations a read.
//!
//! # Observability
//!
//! With the `tracing` feature, every cache (whatever its driver) traces
//! each refresh attempt as a span, `freshen.refresh`, and logs its
//! lifecycle events ([`tracing_events`]); with the `metrics` feature, it
//! reports counters, histograms and gauges through the `metrics` facade,
//! registered with the recorder installed when the cache is built. Both
//! are made in one place, which [`driver::Shared`] calls; with both
//! features off none of it is compiled. The names, labels and fields are
//! in one table, in the "Observability" section of freshen's README:
//! <https://github.com/freshen-rs/freshen#observability>.

mod cache;
mod changes;
mod clock;
pub mod driver;
#[allow(unsafe_code)]
mod handles;
pub mod keyed;
#[cfg(any(feature = "tracing", feature = "metrics"))]
mod observe;
#[allow(unsafe_code)]
mod per_thread;
mod random;
mod read_mode;
mod read_path;
mod runtime;
mod shared;
mod slot;
mod sync;
mod token_ref;
#[cfg(feature = "tracing")]
mod tracing_events;

pub use cache::{Cache, CacheBuilder, TokenFuture, WeakCache};
pub use clock::{ManualClock, MonotonicClock};
pub use keyed::{KeyedCache, KeyedCacheBuilder, registry};
pub use read_mode::ReadMode;
pub use runtime::{BoxTask, Clock, Runtime};
pub use token_ref::TokenRef;
#[cfg(feature = "tracing")]
pub use tracing_events::tracing_events;
