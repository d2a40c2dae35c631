//! The one place that turns a cache's lifecycle into spans, logs and
//! metrics, for every driver: [`crate::driver::Shared`] calls it after each
//! call into the machine (outside the lock), on each token it serves and on
//! each invalidation. Built only with the `tracing` or `metrics` feature;
//! without both, none of it exists and no call to it is compiled.
//!
//! - `tracing`: a span per attempt (`freshen.refresh`, see [`spans`]) that
//!   is opened when the attempt starts and closed when its outcome is
//!   known, with the outcome, duration and the old token's life left as
//!   fields; each lifecycle event is logged by
//!   [`tracing_events`](crate::tracing_events), inside its attempt's span
//!   when it has one.
//! - `metrics`: counters, histograms and gauges through the `metrics`
//!   facade ([`metrics`] lists them); their handles are registered with the
//!   recorder installed when the cache is built.

#[cfg(feature = "metrics")]
pub(crate) mod metrics;
#[cfg(feature = "tracing")]
mod spans;

use std::sync::Mutex;

use freshen_core::{AttemptId, ErrorKind, Event, Instant, Token};

/// An attempt started and not yet ended: when, and its span.
struct InFlight {
    id: AttemptId,
    #[cfg(feature = "metrics")]
    reason: freshen_core::RefreshReason,
    started: Instant,
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

/// See the module docs. One per cache.
pub(crate) struct Observer {
    /// Attempts started and not yet ended. One at most in the machine, but
    /// events reach here outside the lock, so an attempt's end and the next
    /// one's start may arrive in either order.
    in_flight: Mutex<Vec<InFlight>>,
    #[cfg(feature = "metrics")]
    metrics: metrics::Metrics,
}

impl Observer {
    /// An observer whose metric handles belong to the recorder installed now.
    pub(crate) fn new() -> Self {
        Observer {
            in_flight: Mutex::new(Vec::new()),
            #[cfg(feature = "metrics")]
            metrics: metrics::Metrics::register(),
        }
    }

    /// Reports `event`, emitted at `now` (`None`: a call that reads no
    /// clock, an invalidation).
    pub(crate) fn event(&self, event: &Event, now: Option<Instant>) {
        match event {
            #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
            Event::RefreshStarted {
                attempt,
                reason,
                at,
            } => {
                #[cfg(feature = "tracing")]
                let span = spans::started(event);
                #[cfg(feature = "tracing")]
                span.in_scope(|| crate::tracing_events(event));
                self.in_flight_mut().push(InFlight {
                    id: *attempt,
                    #[cfg(feature = "metrics")]
                    reason: *reason,
                    started: *at,
                    #[cfg(feature = "tracing")]
                    span,
                });
            }
            Event::RefreshSucceeded { attempt, .. }
            | Event::RefreshFailed { attempt, .. }
            | Event::NoProgress { attempt, .. }
            | Event::Reconfirmed { attempt, .. } => {
                let ended = self.take_in_flight(*attempt);
                let duration = ended
                    .as_ref()
                    .zip(now)
                    .map(|(f, now)| now.saturating_duration_since(f.started));
                #[cfg(feature = "metrics")]
                self.metrics
                    .attempt_ended(event, ended.as_ref().map(|f| f.reason), duration);
                #[cfg(feature = "tracing")]
                match ended {
                    Some(f) => {
                        spans::ended(&f.span, event, duration);
                        f.span.in_scope(|| crate::tracing_events(event));
                    }
                    None => crate::tracing_events(event),
                }
                #[cfg(not(feature = "tracing"))]
                let _ = (ended, duration);
            }
            _ => {
                #[cfg(feature = "tracing")]
                crate::tracing_events(event);
            }
        }
    }

    /// The cache's state may have changed at `now`; `held` is the token it
    /// holds now (`None`: none, or invalidated).
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn held(&self, held: Option<&Token>, now: Instant) {
        #[cfg(feature = "metrics")]
        self.metrics.held(held, now);
    }

    /// A token was handed to a caller at `now`.
    #[cfg(feature = "metrics")]
    #[inline]
    pub(crate) fn served(&self, token: &Token, now: Instant) {
        self.metrics.served(token, now);
    }

    /// An invalidation was asked for; `done`: it took effect.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn invalidate(&self, done: bool) {
        #[cfg(feature = "metrics")]
        self.metrics.invalidate(done);
    }

    /// The span of attempt `id` while it runs (none if its start was not
    /// seen): a driver enters it around the fetch, so what the source logs
    /// is inside it.
    #[cfg(feature = "tracing")]
    pub(crate) fn span_of(&self, id: AttemptId) -> tracing::Span {
        self.in_flight_mut()
            .iter()
            .find(|f| f.id == id)
            .map_or_else(tracing::Span::none, |f| f.span.clone())
    }

    fn take_in_flight(&self, id: AttemptId) -> Option<InFlight> {
        let mut in_flight = self.in_flight_mut();
        let at = in_flight.iter().position(|f| f.id == id)?;
        Some(in_flight.swap_remove(at))
    }

    fn in_flight_mut(&self) -> std::sync::MutexGuard<'_, Vec<InFlight>> {
        // Nothing panics under this lock; a poisoned one is still consistent.
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// How an attempt ended, from its last event: the `outcome` label of the
/// `freshen.token.fetch` counter and field of the attempt's span.
pub(crate) fn outcome(ended: &Event) -> &'static str {
    match ended {
        Event::RefreshSucceeded { .. } => "success",
        Event::NoProgress { .. } => "no_progress",
        // A source that renews its own tokens handed the held one back,
        // early by its own rules: kept, not a failure.
        Event::Reconfirmed { .. } => "reconfirmed",
        Event::RefreshFailed { error, .. } if matches!(error.kind(), ErrorKind::Timeout { .. }) => {
            "timeout"
        }
        Event::RefreshFailed { error, .. } if error.is_permanent() => "permanent_error",
        _ => "transient_error",
    }
}
