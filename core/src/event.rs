//! What the machine reports, for logs and metrics.

use core::time::Duration;

use crate::error::Error;
use crate::time::Instant;
use crate::token::Generation;

/// Identifies one attempt to fetch a token: the machine (cache) that
/// started it, and a number that increases by one with every attempt that
/// machine starts.
///
/// Only a machine makes one, so an outcome reported under an id can only be
/// an attempt's own: an id of another machine, or of an attempt already
/// resolved, is refused by [`crate::Machine::on_success`] and the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttemptId {
    machine: u64,
    number: u64,
}

impl AttemptId {
    pub(crate) const fn new(machine: u64, number: u64) -> Self {
        AttemptId { machine, number }
    }

    /// The attempt's number within its cache: 0 for the first attempt, then
    /// one more for every attempt started. For logs and displays.
    pub const fn number(self) -> u64 {
        self.number
    }
}

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
    /// A source that renews its own tokens (a metadata server, see
    /// [`crate::Fetched::renewed_by_source`]) handed back the held token
    /// before its renewal window: kept under a new generation, with the
    /// next refresh after the source's renewal point. Not a failure.
    Reconfirmed {
        /// The attempt.
        attempt: AttemptId,
        /// The generation the token is held under from now on.
        generation: Generation,
        /// The lifetime the source stated for it now.
        lifetime: Duration,
        /// When the next refresh is due, from the attempt's request.
        refresh_in: Duration,
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

impl core::fmt::Display for RefreshReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            RefreshReason::Empty => "no token yet",
            RefreshReason::Stale => "token stale",
            RefreshReason::Expired => "token expired",
            RefreshReason::Invalidated => "token invalidated",
            RefreshReason::Prefetch => "prefetch timer",
        })
    }
}

/// One line for a log or a terminal. Never shows a token.
impl core::fmt::Display for Event {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let secs = |d: &Duration| d.as_secs_f64();
        match self {
            Event::RefreshStarted {
                attempt, reason, ..
            } => {
                write!(f, "refresh #{} started ({reason})", attempt.number())
            }
            Event::RefreshSucceeded {
                attempt,
                generation,
                lifetime,
                left_on_old,
            } => {
                write!(
                    f,
                    "refresh #{} succeeded: token #{} for {:.0}s",
                    attempt.number(),
                    generation.number(),
                    secs(lifetime)
                )?;
                match left_on_old {
                    Some(left) => write!(f, ", old token had {:.1}s left", secs(left)),
                    None => Ok(()),
                }
            }
            Event::Reconfirmed {
                attempt,
                generation,
                lifetime,
                refresh_in,
            } => write!(
                f,
                "refresh #{} got the source's own cached token again as token #{} \
                 ({:.0}s left; the source renews it later): next refresh in {:.0}s",
                attempt.number(),
                generation.number(),
                secs(lifetime),
                secs(refresh_in)
            ),
            Event::RefreshFailed {
                attempt,
                error,
                failures,
                retry_in,
            } => write!(
                f,
                "refresh #{} failed ({failures} in a row): {error}; next try in {:.1}s",
                attempt.number(),
                secs(retry_in)
            ),
            Event::NoProgress {
                attempt,
                generation,
                retry_in,
            } => write!(
                f,
                "refresh #{} made no progress: the source returned token #{} again \
                 (a cache upstream?); next try in {:.1}s",
                attempt.number(),
                generation.number(),
                secs(retry_in)
            ),
            Event::ServedStale {
                generation,
                usable_for,
            } => write!(
                f,
                "serving token #{} while it refreshes ({:.1}s of use left)",
                generation.number(),
                secs(usable_for)
            ),
            Event::ServedExpired { generation } => write!(
                f,
                "serving token #{} past its margin (opted in; refresh failing)",
                generation.number()
            ),
            Event::Invalidated { generation } => {
                write!(f, "token #{} invalidated", generation.number())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use alloc::string::ToString;

    #[test]
    fn events_read_as_one_line_each() {
        let ok = Event::RefreshSucceeded {
            attempt: AttemptId::new(0, 3),
            generation: Generation::new(0, 2),
            lifetime: Duration::from_secs(20),
            left_on_old: Some(Duration::from_millis(13_250)),
        };
        assert_eq!(
            ok.to_string(),
            "refresh #3 succeeded: token #2 for 20s, old token had 13.2s left"
        );
        let failed = Event::RefreshFailed {
            attempt: AttemptId::new(0, 4),
            error: Error::transient(ErrorKind::Status { status: 503 }),
            failures: 2,
            retry_in: Duration::from_millis(4_500),
        };
        let line = failed.to_string();
        assert!(
            line.starts_with("refresh #4 failed (2 in a row): "),
            "{line}"
        );
        assert!(line.ends_with("next try in 4.5s"), "{line}");
        assert!(!line.contains('\n'));
    }
}
