//! With the `tracing` feature, every cache traces each refresh attempt as a
//! span (`freshen.refresh`) with its reason, outcome, duration and the life
//! left on the token it replaced, and logs its lifecycle events inside it —
//! and no access token appears anywhere in what it traces.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use freshen::{Error, ErrorKind, Fetched, Policy, TokenSource, TokioCache, TokioRuntime};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// A span as the subscriber saw it: its fields, and whether it closed.
#[derive(Debug, Clone, Default)]
struct SeenSpan {
    name: String,
    fields: HashMap<String, String>,
    closed: bool,
}

/// A log line: its message and fields, and the span it was logged in.
#[derive(Debug, Clone)]
struct SeenEvent {
    fields: HashMap<String, String>,
    span: Option<String>,
}

#[derive(Default, Clone)]
struct Seen {
    spans: Arc<Mutex<Vec<(Id, SeenSpan)>>>,
    events: Arc<Mutex<Vec<SeenEvent>>>,
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Seen {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut span = SeenSpan {
            name: attrs.metadata().name().to_string(),
            ..SeenSpan::default()
        };
        attrs.record(&mut Fields(&mut span.fields));
        self.spans.lock().unwrap().push((id.clone(), span));
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut spans = self.spans.lock().unwrap();
        if let Some((_, span)) = spans.iter_mut().rev().find(|(i, _)| i == id) {
            values.record(&mut Fields(&mut span.fields));
        }
    }
    fn on_close(&self, id: Id, _: Context<'_, S>) {
        let mut spans = self.spans.lock().unwrap();
        if let Some((_, span)) = spans.iter_mut().rev().find(|(i, _)| *i == id) {
            span.closed = true;
        }
    }
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        let span = ctx.event_span(event).map(|s| s.name().to_string());
        self.events.lock().unwrap().push(SeenEvent { fields, span });
    }
}

/// Tokens of a minute, each after two seconds; the third request fails
/// with a 503.
#[derive(Default)]
struct Endpoint {
    calls: AtomicU32,
}

impl TokenSource for Endpoint {
    async fn fetch(&self) -> Result<Fetched, Error> {
        tokio::time::sleep(Duration::from_secs(2)).await;
        tracing::info!("endpoint answers");
        match self.calls.fetch_add(1, Ordering::SeqCst) {
            2 => Err(Error::transient(ErrorKind::Status { status: 503 })),
            n => Ok(Fetched::new(format!("secret-access-{n}")).with_lifetime(MINUTE)),
        }
    }
}

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test(start_paused = true)]
async fn each_attempt_is_a_span_with_its_reason_outcome_duration_and_old_life() {
    let seen = Seen::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(seen.clone()));
    // Refresh 20 s before expiry, no jitter: a token got at 0 (sent at 0)
    // turns stale at 40.
    let policy = Policy::builder()
        .margin(Duration::from_secs(5))
        .max_lead(Duration::from_secs(20))
        .min_stale_window(Duration::from_secs(10))
        .jitter(0.0)
        .build()
        .unwrap();
    let runtime = TokioRuntime::current().with_runtime_clock();
    let cache = TokioCache::builder(Endpoint::default(), runtime)
        .policy(policy)
        .build();

    // Attempt 0: nothing held; the caller waits the 2 s.
    cache.token().await.unwrap();
    // Attempt 1 at 45 s: the token is stale, served while the refresh runs;
    // the new one arrives at 47 s, with 13 s left on the old one.
    tokio::time::sleep(Duration::from_secs(43)).await;
    cache.token().await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Attempt 2: the token is rejected; the refresh fails with a 503.
    let held = cache.token().await.unwrap();
    assert!(cache.invalidate(&held));
    drop(held);
    assert!(cache.token().await.is_err());

    let spans: Vec<SeenSpan> = seen
        .spans
        .lock()
        .unwrap()
        .iter()
        .map(|(_, s)| s.clone())
        .filter(|s| s.name == "freshen.refresh")
        .collect();
    assert_eq!(spans.len(), 3, "{spans:#?}");
    assert!(spans.iter().all(|s| s.closed), "every attempt's span ends");
    let field = |i: usize, name: &str| spans[i].fields.get(name).cloned();
    let all = |name: &str| (0..3).map(|i| field(i, name)).collect::<Vec<_>>();
    assert_eq!(
        all("attempt"),
        [Some("0".into()), Some("1".into()), Some("2".into())]
    );
    assert_eq!(
        all("reason"),
        [
            Some("no token yet".into()),
            Some("token stale".into()),
            Some("token invalidated".into())
        ]
    );
    assert_eq!(
        all("outcome"),
        [
            Some("success".into()),
            Some("success".into()),
            Some("transient_error".into())
        ]
    );
    assert_eq!(all("duration_s"), vec![Some("2.0".to_string()); 3]);
    assert_eq!(
        all("left_on_old_s"),
        [None, Some("13.0".into()), None],
        "life left on the token a success replaced"
    );
    assert_eq!(field(2, "failures"), Some("1".into()));
    assert!(
        field(2, "error").is_some_and(|e| e.contains("503")),
        "{:?}",
        field(2, "error")
    );

    // The lifecycle is logged, each attempt's events inside its span, and
    // so is what the source logs while the attempt runs.
    let events = seen.events.lock().unwrap().clone();
    let in_attempts = events
        .iter()
        .filter(|e| e.span.as_deref() == Some("freshen.refresh"))
        .count();
    assert_eq!(
        in_attempts, 9,
        "a start, the source's line and an end per attempt: {events:#?}"
    );
    assert!(
        events
            .iter()
            .filter(|e| e.fields.get("message").map(String::as_str) == Some("endpoint answers"))
            .all(|e| e.span.as_deref() == Some("freshen.refresh")),
        "{events:#?}"
    );
    assert!(
        events.iter().any(|e| e.span.is_none()
            && e.fields
                .get("message")
                .is_some_and(|m| m.contains("invalidated"))),
        "the invalidation is logged outside any attempt: {events:#?}"
    );

    // No access token in any span or log line.
    let everything = format!("{spans:?}{events:?}");
    assert!(!everything.contains("secret-access"), "{everything}");
}

/// A blocking source that logs while it runs.
struct BlockingEndpoint;

impl freshen::BlockingTokenSource for BlockingEndpoint {
    fn fetch(&self) -> Result<Fetched, Error> {
        tracing::info!("endpoint answers");
        Ok(Fetched::new("secret-access-blocking").with_lifetime(MINUTE))
    }
}

#[test]
fn a_blocking_attempt_runs_its_source_inside_its_span() {
    let seen = Seen::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(seen.clone()));
    let cache = freshen_blocking::BlockingCache::builder(BlockingEndpoint)
        .mode(freshen_blocking::Mode::Inline)
        .build();
    cache.token().unwrap();

    let spans = seen.spans.lock().unwrap().clone();
    let [(_, span)] = spans.as_slice() else {
        panic!("one span: {spans:#?}")
    };
    assert_eq!(span.name, "freshen.refresh");
    assert_eq!(
        span.fields.get("outcome").map(String::as_str),
        Some("success")
    );
    assert!(span.closed);
    let events = seen.events.lock().unwrap().clone();
    let source_line = events
        .iter()
        .find(|e| e.fields.get("message").map(String::as_str) == Some("endpoint answers"))
        .expect("the source's line");
    assert_eq!(source_line.span.as_deref(), Some("freshen.refresh"));
    assert!(!format!("{spans:?}{events:?}").contains("secret-access"));
}
