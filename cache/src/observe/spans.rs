//! The span of one attempt: `freshen.refresh` under the target `freshen`,
//! at INFO, opened when the attempt starts and closed when its outcome is
//! known. A root span (an attempt is shared by every caller waiting on it,
//! so it belongs to none of them) that follows from the span of the caller
//! whose read started it.
//!
//! Fields: `attempt` (its number in the cache), `reason` (why it started),
//! and when it ends `outcome` (as in the `freshen.token.fetch` metric),
//! `duration_s` (on the cache's clock), `left_on_old_s` (life left on the
//! replaced token, on success), `generation` (the token it brought, or the
//! one it brought back), `failures` and `retry_in_s` (on failure), and
//! `error` (the error's one-line display, which never shows a secret).

use core::time::Duration;

use freshen_core::Event;
use tracing::field::Empty;

/// A span for the attempt `started` (a [`Event::RefreshStarted`]).
pub(super) fn started(started: &Event) -> tracing::Span {
    let Event::RefreshStarted {
        attempt, reason, ..
    } = started
    else {
        return tracing::Span::none();
    };
    let span = tracing::info_span!(
        target: "freshen",
        parent: None,
        "freshen.refresh",
        attempt = attempt.number(),
        reason = %reason,
        outcome = Empty,
        duration_s = Empty,
        left_on_old_s = Empty,
        generation = Empty,
        failures = Empty,
        retry_in_s = Empty,
        error = Empty,
    );
    span.follows_from(tracing::Span::current().id());
    span
}

/// Records how the attempt of `span` ended (`ended`: its last event) and
/// how long it took, if known.
pub(super) fn ended(span: &tracing::Span, ended: &Event, duration: Option<Duration>) {
    span.record("outcome", super::outcome(ended));
    if let Some(duration) = duration {
        span.record("duration_s", duration.as_secs_f64());
    }
    match ended {
        Event::RefreshSucceeded {
            generation,
            left_on_old,
            ..
        } => {
            span.record("generation", generation.number());
            if let Some(left) = left_on_old {
                span.record("left_on_old_s", left.as_secs_f64());
            }
        }
        Event::RefreshFailed {
            error,
            failures,
            retry_in,
            ..
        } => {
            span.record("failures", failures);
            span.record("retry_in_s", retry_in.as_secs_f64());
            span.record("error", tracing::field::display(error));
        }
        Event::NoProgress {
            generation,
            retry_in,
            ..
        } => {
            span.record("generation", generation.number());
            span.record("retry_in_s", retry_in.as_secs_f64());
        }
        Event::Reconfirmed { generation, .. } => {
            span.record("generation", generation.number());
        }
        _ => {}
    }
}
