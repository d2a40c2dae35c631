//! The metrics a cache reports through the `metrics` facade. The names and
//! labels here are the table in the README's "Observability" section.
//!
//! Every handle is registered once, when the cache is built, with the
//! recorder installed then (install yours first): the read path then costs
//! a counter increment and a gauge store, with no lookup by name.

use core::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use freshen_core::{Event, Instant, Phase, RefreshReason, Token};
use metrics::{Counter, Gauge, Histogram, Unit};

/// Attempts by how they ended (`outcome`).
pub(crate) const FETCH: &str = "freshen.token.fetch";
/// Tokens handed to callers, by their phase then (`state`).
pub(crate) const SERVED: &str = "freshen.token.served";
/// Invalidations asked for, by whether they took effect (`result`).
pub(crate) const INVALIDATE: &str = "freshen.token.invalidate";
/// How long each attempt took, on the cache's clock.
pub(crate) const FETCH_DURATION: &str = "freshen.token.fetch.duration";
/// Life left on the replaced token when a new one arrived (not counting
/// replacements of a rejected token).
pub(crate) const LIFE_LEFT_AT_REFRESH: &str = "freshen.token.life_left_at_refresh";
/// Life left on the held token, as of the last read or change.
pub(crate) const LIFE_LEFT: &str = "freshen.token.life_left";
/// When the held token expires, in seconds since the Unix epoch.
pub(crate) const EXPIRES_AT: &str = "freshen.token.expires_at";

/// The `outcome` labels of [`FETCH`] (see [`super::outcome`]).
const OUTCOMES: [&str; 6] = [
    "success",
    "reconfirmed",
    "no_progress",
    "timeout",
    "transient_error",
    "permanent_error",
];

/// A cache's metric handles.
pub(crate) struct Metrics {
    /// One per label of [`OUTCOMES`], in its order.
    fetch: [Counter; 6],
    served_fresh: Counter,
    served_stale: Counter,
    served_expired: Counter,
    invalidated: Counter,
    invalidate_ignored: Counter,
    fetch_duration: Histogram,
    life_left_at_refresh: Histogram,
    life_left: Gauge,
    expires_at: Gauge,
}

impl Metrics {
    /// Describes and registers every metric with the current recorder.
    pub(crate) fn register() -> Self {
        describe();
        Metrics {
            fetch: OUTCOMES.map(|outcome| metrics::counter!(FETCH, "outcome" => outcome)),
            served_fresh: metrics::counter!(SERVED, "state" => "fresh"),
            served_stale: metrics::counter!(SERVED, "state" => "stale"),
            served_expired: metrics::counter!(SERVED, "state" => "expired"),
            invalidated: metrics::counter!(INVALIDATE, "result" => "invalidated"),
            invalidate_ignored: metrics::counter!(INVALIDATE, "result" => "ignored"),
            fetch_duration: metrics::histogram!(FETCH_DURATION),
            life_left_at_refresh: metrics::histogram!(LIFE_LEFT_AT_REFRESH),
            life_left: metrics::gauge!(LIFE_LEFT),
            expires_at: metrics::gauge!(EXPIRES_AT),
        }
    }

    /// An attempt started for `reason` ended with `ended`, having taken
    /// `duration` (either `None` if its start was not seen).
    pub(crate) fn attempt_ended(
        &self,
        ended: &Event,
        reason: Option<RefreshReason>,
        duration: Option<Duration>,
    ) {
        let outcome = super::outcome(ended);
        if let Some(counter) = OUTCOMES
            .iter()
            .position(|o| *o == outcome)
            .and_then(|i| self.fetch.get(i))
        {
            counter.increment(1);
        }
        if let Some(duration) = duration {
            self.fetch_duration.record(duration.as_secs_f64());
        }
        // How early refreshes land: a token replaced because it was
        // rejected (a 401) says nothing about that, whatever life it had.
        match ended {
            Event::RefreshSucceeded {
                left_on_old: Some(left),
                ..
            } if reason != Some(RefreshReason::Invalidated) => {
                self.life_left_at_refresh.record(left.as_secs_f64());
            }
            _ => {}
        }
    }

    /// `token` was handed to a caller at `now`.
    #[inline]
    pub(crate) fn served(&self, token: &Token, now: Instant) {
        match token.phase(now) {
            Phase::Fresh => self.served_fresh.increment(1),
            Phase::Stale => self.served_stale.increment(1),
            Phase::Expired => self.served_expired.increment(1),
        }
        self.life_left.set(life_left(token, now).as_secs_f64());
    }

    /// The cache holds `held` at `now` (`None`: nothing usable).
    pub(crate) fn held(&self, held: Option<&Token>, now: Instant) {
        let left = held.map_or(Duration::ZERO, |t| life_left(t, now));
        self.life_left.set(left.as_secs_f64());
        // The wall-clock instant the held token expires: always true, so an
        // alarm on it needs no read to keep it current.
        let expires = match held {
            Some(_) => SystemTime::now()
                .checked_add(left)
                .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
                .map_or(0.0, |d| d.as_secs_f64()),
            None => 0.0,
        };
        self.expires_at.set(expires);
    }

    /// An invalidation was asked for; `done`: it took effect.
    pub(crate) fn invalidate(&self, done: bool) {
        if done {
            self.invalidated.increment(1);
            // Nothing usable is held until the next token arrives.
            self.held(None, Instant::ZERO);
        } else {
            self.invalidate_ignored.increment(1);
        }
    }
}

/// Life left on `token` at `now`: until it expires (not until it stops
/// being usable, which is earlier by the policy's margin).
fn life_left(token: &Token, now: Instant) -> Duration {
    token.expires_at().saturating_duration_since(now)
}

fn describe() {
    metrics::describe_counter!(FETCH, "Token fetch attempts, by how they ended.");
    metrics::describe_counter!(SERVED, "Tokens handed to callers, by their state then.");
    metrics::describe_counter!(
        INVALIDATE,
        "Invalidations asked for (a 401), by whether they evicted the held token."
    );
    metrics::describe_histogram!(
        FETCH_DURATION,
        Unit::Seconds,
        "How long each token fetch attempt took."
    );
    metrics::describe_histogram!(
        LIFE_LEFT_AT_REFRESH,
        Unit::Seconds,
        "Life left on the replaced token when its successor arrived."
    );
    metrics::describe_gauge!(
        LIFE_LEFT,
        Unit::Seconds,
        "Life left on the held token, as of the last read or change (0: none held)."
    );
    metrics::describe_gauge!(
        EXPIRES_AT,
        Unit::Seconds,
        "When the held token expires, in seconds since the Unix epoch (0: none held)."
    );
}
