//! Lifecycle events through `tracing`, for services that already log with it.

use freshen_core::Event;

/// Logs one lifecycle event through `tracing` under the target `freshen`,
/// with structured fields and no secret. Failures and no progress are
/// warnings (errors when permanent), rotations and invalidations are info,
/// the rest debug.
///
/// With the `tracing` feature on, every cache already logs each of its
/// events with this (inside the attempt's span, when the event is an
/// attempt's): do not also pass it to `on_event`, or each line appears
/// twice. It is public for events a program gets elsewhere (replayed, or
/// from a machine it drives itself).
///
/// ```
/// let log: fn(&freshen_core::Event) = freshen_cache::tracing_events;
/// # let _ = log;
/// ```
pub fn tracing_events(event: &Event) {
    match event {
        Event::RefreshStarted {
            attempt, reason, ..
        } => tracing::debug!(target: "freshen", attempt = attempt.number(), %reason, "{event}"),
        Event::RefreshSucceeded {
            attempt,
            generation,
            lifetime,
            left_on_old,
        } => tracing::info!(
            target: "freshen",
            attempt = attempt.number(),
            generation = generation.number(),
            lifetime_s = lifetime.as_secs_f64(),
            left_on_old_s = left_on_old.map(|d| d.as_secs_f64()),
            "{event}"
        ),
        Event::Reconfirmed {
            attempt,
            generation,
            lifetime,
            refresh_in,
        } => tracing::info!(
            target: "freshen",
            attempt = attempt.number(),
            generation = generation.number(),
            lifetime_s = lifetime.as_secs_f64(),
            refresh_in_s = refresh_in.as_secs_f64(),
            "{event}"
        ),
        Event::RefreshFailed {
            attempt,
            error,
            failures,
            retry_in,
        } if error.is_permanent() => tracing::error!(
            target: "freshen",
            attempt = attempt.number(),
            failures,
            retry_in_s = retry_in.as_secs_f64(),
            "{event}"
        ),
        Event::RefreshFailed {
            attempt,
            failures,
            retry_in,
            ..
        } => tracing::warn!(
            target: "freshen",
            attempt = attempt.number(),
            failures,
            retry_in_s = retry_in.as_secs_f64(),
            "{event}"
        ),
        Event::NoProgress {
            attempt,
            generation,
            retry_in,
        } => tracing::warn!(
            target: "freshen",
            attempt = attempt.number(),
            generation = generation.number(),
            retry_in_s = retry_in.as_secs_f64(),
            "{event}"
        ),
        Event::ServedExpired { generation } => {
            tracing::warn!(target: "freshen", generation = generation.number(), "{event}")
        }
        Event::Invalidated { generation } => {
            tracing::info!(target: "freshen", generation = generation.number(), "{event}")
        }
        _ => tracing::debug!(target: "freshen", "{event}"),
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::panic, clippy::expect_used)]
mod tests {
    use super::*;
    use core::time::Duration;
    use freshen_core::{AttemptId, Error, ErrorCode, ErrorKind, Generation, OAuthError};
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A real attempt and the generation of the token it brought (only a
    /// machine makes either).
    fn an_attempt_and_its_token() -> (AttemptId, Generation) {
        let mut m = freshen_core::Machine::new(freshen_core::Policy::default());
        let freshen_core::Decision::RefreshAndWait(t) = m.decide(freshen_core::Instant::ZERO)
        else {
            panic!("an empty machine starts an attempt")
        };
        let fetched = freshen_core::Fetched::new("x").with_lifetime(Duration::from_secs(60));
        let now = freshen_core::Instant::ZERO;
        m.on_success(t.id(), fetched, now, now, 0)
            .and_then(Result::ok)
            .map(|token| (t.id(), token.generation()))
            .expect("a token")
    }

    #[test]
    fn events_are_logged_at_their_level_without_secrets() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let (attempt, generation) = an_attempt_and_its_token();
        tracing::subscriber::with_default(subscriber, || {
            tracing_events(&Event::RefreshSucceeded {
                attempt,
                generation,
                lifetime: Duration::from_secs(3600),
                left_on_old: Some(Duration::from_secs(1100)),
            });
            tracing_events(&Event::RefreshFailed {
                attempt,
                error: Error::permanent(ErrorKind::OAuth(OAuthError {
                    code: ErrorCode::InvalidClient,
                    description: Some("bad client".into()),
                    uri: None,
                    status: 401,
                })),
                failures: 1,
                retry_in: Duration::from_secs(45),
            });
        });
        let out = String::from_utf8(buffer.0.lock().map(|b| b.clone()).unwrap_or_default())
            .unwrap_or_default();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(
            lines[0].contains("INFO") && lines[0].contains("left_on_old_s=1100"),
            "{out}"
        );
        assert!(
            lines[1].contains("ERROR") && lines[1].contains("invalid_client"),
            "{out}"
        );
    }
}
