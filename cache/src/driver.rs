//! For adapter authors: the plumbing every driver of freshen shares.
//!
//! A cache user never needs this module: [`Cache`](crate::Cache) (with a
//! [`Runtime`](crate::Runtime)) and freshen-blocking's `BlockingCache` are
//! built on it. Write a driver with it only when neither fits — a new kind
//! of executor that the `Runtime` trait cannot express, or a synchronous
//! driver of your own.
//!
//! [`Shared`] is the state of one cache: the machine behind a short lock,
//! the lock-free read path, the hand-off [`Slot`] of the attempt in flight,
//! the event sink. A driver decides nothing; it reads its clock and:
//!
//! 1. serves from [`Shared::cached`] (the read path) when it can;
//! 2. otherwise asks [`Shared::decide`] and carries out the [`Step`]: hand
//!    out the token, fail, wait on the attempt's [`Slot`] (bounded by the
//!    attempt's deadline: [`Shared::time_out`] at the deadline), or run the
//!    [`Attempt`] it is handed;
//! 3. runs each attempt outside every caller's cancellation and reports how
//!    it ended, exactly once, with [`Shared::complete`] and an [`Outcome`]
//!    (a task dropped before it reports must report [`Outcome::Lost`]);
//! 4. with prefetch on, keeps a timer: [`Shared::listen_changes`], then
//!    [`Shared::poll_timers`], then sleep until [`Shared::next_wakeup`] or
//!    the [`Changes`] fire, until [`Shared::is_closed`];
//! 5. calls [`Shared::close`] when its last handle is dropped.
//!
//! `cache/src/cache.rs` (async, any `Runtime`) and freshen-blocking's
//! `cache.rs` (threads, inline) are the two drivers built this way.

pub use crate::changes::Changes;
pub use crate::read_path::{POOL, SPARES};
pub use crate::shared::{Attempt, EventSink, Outcome, Shared, Step};
pub use crate::slot::{Slot, real_deadline};
pub use crate::sync::SyncArc;
