//! freshen-fleet: a fleet shares its tokens. A tier between freshen's
//! local cache and the token source turns N token requests per rotation
//! into one, through Redis (or Valkey), and falls back to each node
//! fetching its own when the store goes away.
//!
//! ```text
//! callers ─▶ local cache (unchanged: lock-free reads)
//!              └─ on refresh ─▶ SharedTier ─▶ shared store (Redis)
//!                                   └─ on miss, with the lease ─▶ token source
//! ```
//!
//! # The protocol, per refresh of one node
//!
//! 1. Read the entry (value and `PTTL`, one script). If it holds a token
//!    newer than the one this node last handed its cache, adopt it.
//! 2. Otherwise take the lease (`SET NX PX`, for the attempt timeout plus
//!    [`LEASE_SLACK`], with a random owner token) and re-read the entry in
//!    the same step. The winner fetches, stores the token with a TTL equal
//!    to its remaining life and releases the lease in one step
//!    (compare-and-set on the owner token); on a failure it only releases
//!    the lease: failures are never stored.
//! 3. A loser keeps serving its usable token (the cache does: the refresh
//!    runs in the background) and polls for the winner's token. It waits
//!    for as long as the lease lives, which is at least the winner's
//!    attempt timeout; a wait longer than three quarters of its own attempt
//!    ends the attempt with a transient error, and the next attempt takes
//!    the wait up (the lease's life, not the loser's, bounds the total).
//!    If the lease ends without a token, the next poll takes it and fetches.
//!
//! Refresh points stay jittered per node (the cache draws them), so in the
//! steady state the first node to reach its point fetches and every other
//! one adopts with one read: one token request per rotation, one store
//! command for most nodes and three for the one that fetched.
//!
//! # Newer than last time
//!
//! freshen's machine reports a source that returns the token it holds, or
//! one expiring no later, as `NoProgress` and backs off (a cache between
//! freshen and the network). The tier therefore hands its cache a shared
//! token only when it is not the one it last handed out (ids compared) and
//! expires later by the cache's own reckoning; otherwise it goes on to the
//! lease, exactly as if the store were empty.
//!
//! # Time
//!
//! No wall clock is shared: the record holds the token's full lifetime, and
//! the remaining life comes from the store's own `PTTL`. A reader turns it
//! into a lifetime from the start of its attempt on its monotonic clock
//! (the round trip counts against the token), never adopts an entry with
//! no more than the margin left, and shortens the lifetime so that its
//! cache stops using the token when the fetching node's does (see
//! `adopt.rs`): nodes with skewed clocks agree.
//!
//! # Sealing
//!
//! Values are sealed with XChaCha20-Poly1305 under a key every node holds
//! ([`Sealing::key`]), the store key bound as associated data; plaintext
//! only by [`Sealing::plaintext_insecure`]. An entry that does not open, or
//! that a different configuration wrote (the value's fingerprint is the
//! full [`freshen_oauth::ShapeKey`]), is a miss and an event.
//!
//! # Faults
//!
//! Every store call has a short timeout ([`DEFAULT_TIMEOUT`]). A failure
//! degrades the node to fetching on its own (today's behaviour) with a
//! [`FleetEvent::StoreUnavailable`]; the next refresh tries the store
//! again and reports [`FleetEvent::StoreRecovered`]. No store error reaches
//! a caller.
//!
//! # Rejected tokens
//!
//! On a 401, call [`SharedTier::reject`] with the token, then the cache's
//! `invalidate`. The next fetch deletes the entry only if it still holds
//! that exact value (a newer token is never deleted), and this node never
//! adopts the rejected token again even if the delete fails.
//!
//! # Runtimes
//!
//! The store is blocking, with timeouts of tens of milliseconds. In
//! blocking code the tier calls it on the refreshing thread; as an async
//! [`freshen_core::TokenSource`] it runs the store's steps on the
//! `blocking` crate's thread pool, which serves tokio and smol alike. The
//! cache's read path never touches the tier.
#![forbid(unsafe_code)]

mod adopt;
mod event;
mod redis_store;
mod seal;
mod store;
mod tier;

pub use event::{FleetEvent, Origin};
pub use redis_store::{DEFAULT_TIMEOUT, RedisStore};
pub use seal::Sealing;
pub use store::{Acquired, Entry, SharedStore, StoreError};
pub use tier::{
    DEFAULT_POLL, KEY_PREFIX, LEASE_SLACK, SESSION_TTL, SharedRefreshToken, SharedTier,
    SharedTierBuilder,
};
