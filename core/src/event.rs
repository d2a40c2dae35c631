//! What the machine reports, for logs and metrics.

use core::time::Duration;

use crate::error::Error;
use crate::time::Instant;
use crate::token::Generation;

/// Identifies one attempt to fetch a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttemptId(pub u64);

/// Why an attempt was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefreshReason {
    /// No token was ever held.
    Empty,
    /// The held token reached `refresh_at`.
    Stale,
    /// The held token is past `usable_until`.
    Expired,
    /// The held token was invalidated (a 401).
    Invalidated,
    /// The prefetch timer fired with no traffic.
    Prefetch,
}

/// A lifecycle event. Drain them with [`crate::Machine::poll_event`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// An attempt started.
    RefreshStarted {
        /// The attempt.
        attempt: AttemptId,
        /// Why.
        reason: RefreshReason,
        /// When.
        at: Instant,
    },
    /// An attempt brought a new token.
    RefreshSucceeded {
        /// The attempt.
        attempt: AttemptId,
        /// The new token's generation.
        generation: Generation,
        /// The new token's lifetime.
        lifetime: Duration,
        /// Life left on the replaced token when the new one arrived (`None`
        /// if none was held). Seconds here mean a cache upstream.
        left_on_old: Option<Duration>,
    },
    /// An attempt failed; the next one waits `retry_in`.
    RefreshFailed {
        /// The attempt.
        attempt: AttemptId,
        /// The shared error.
        error: Error,
        /// Consecutive failures so far.
        failures: u32,
        /// Backoff before the next attempt.
        retry_in: Duration,
    },
    /// An attempt brought back the held token (or one expiring no later):
    /// counted as a failure. A cache sits between freshen and the network.
    NoProgress {
        /// The attempt.
        attempt: AttemptId,
        /// The held token's generation.
        generation: Generation,
        /// Backoff before the next attempt.
        retry_in: Duration,
    },
    /// A token was served in its stale window (reported once per token).
    ServedStale {
        /// The token's generation.
        generation: Generation,
        /// Time left until `usable_until`.
        usable_for: Duration,
    },
    /// A token was served past `usable_until` because serving past expiry is
    /// opted in and no refresh has succeeded (reported once per token).
    ServedExpired {
        /// The token's generation.
        generation: Generation,
    },
    /// A token was invalidated.
    Invalidated {
        /// The token's generation.
        generation: Generation,
    },
}
