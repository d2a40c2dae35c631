//! Every driver reports the same metrics, from the one place that makes
//! them (freshen-cache's `Shared`): smol, and freshen-blocking in both
//! modes, run the same rotation on a manual clock and render the same
//! figures (tokio's are in tests/prometheus.rs).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use freshen::{
    BlockingTokenSource, Error, Fetched, Policy, SmolCache, SmolRuntime, Token, TokenSource,
};
use freshen_blocking::{BlockingCache, Mode};
use freshen_cache::{Clock, ManualClock};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// Minute tokens; each request takes half a second of the manual clock.
struct Endpoint {
    clock: ManualClock,
    calls: AtomicU32,
}

impl Endpoint {
    fn issue(&self) -> Result<Fetched, Error> {
        self.clock.advance(Duration::from_millis(500));
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Fetched::new(format!("secret-access-{n}")).with_lifetime(Duration::from_secs(60)))
    }
}

impl TokenSource for Endpoint {
    async fn fetch(&self) -> Result<Fetched, Error> {
        self.issue()
    }
}

impl BlockingTokenSource for Endpoint {
    fn fetch(&self) -> Result<Fetched, Error> {
        self.issue()
    }
}

/// Refresh 20 s before expiry, no jitter: a token sent at 0 is stale at 40.
fn policy() -> Policy {
    Policy::builder()
        .margin(Duration::from_secs(5))
        .max_lead(Duration::from_secs(20))
        .min_stale_window(Duration::from_secs(10))
        .jitter(0.0)
        .build()
        .unwrap()
}

fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            (key == name).then(|| value.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no sample {name} in:\n{text}"))
}

/// Waits (really) until `handle` has counted `n` successful fetches: a
/// background refresh ends on another thread.
fn until_fetched(handle: &PrometheusHandle, n: f64) {
    for _ in 0..5_000 {
        if sample(
            &handle.render(),
            r#"freshen_token_fetch{outcome="success"}"#,
        ) >= n
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("no {n} fetches in 5 s:\n{}", handle.render());
}

/// The rotation every driver runs: a read at 0 (fetch), at 10 (fresh),
/// at 45 (stale: refresh), and once the new token is in; then a late 401
/// for the old token. Returns the rendered figures.
fn rotation(
    clock: &ManualClock,
    handle: &PrometheusHandle,
    read: impl Fn() -> Arc<Token>,
    invalidate: impl Fn(&Token) -> bool,
) -> String {
    let first = read();
    clock.advance(Duration::from_millis(9_500));
    read();
    clock.advance(Duration::from_secs(35));
    read();
    until_fetched(handle, 2.0);
    let last = read();
    assert_ne!(first.generation(), last.generation(), "rotated");
    assert!(!invalidate(&first), "a late 401 for a replaced token");
    handle.render()
}

/// The figures of [`rotation`]; `stale_read_refreshes`: the read that found
/// the token stale ran the refresh and returned the new token (inline), so
/// the new token was handed out to it as well.
fn assert_figures(driver: &str, text: &str, stale_read_refreshes: bool) {
    let is = |name: &str, want: f64| {
        assert_eq!(sample(text, name), want, "{driver}: {name} in\n{text}");
    };
    is(r#"freshen_token_fetch{outcome="success"}"#, 2.0);
    is(r#"freshen_token_fetch{outcome="transient_error"}"#, 0.0);
    is(r#"freshen_token_served{state="stale"}"#, 1.0);
    is(
        r#"freshen_token_served{state="fresh"}"#,
        if stale_read_refreshes { 4.0 } else { 3.0 },
    );
    is(r#"freshen_token_invalidate{result="ignored"}"#, 1.0);
    is(r#"freshen_token_invalidate{result="invalidated"}"#, 0.0);
    is("freshen_token_fetch_duration_count", 2.0);
    is("freshen_token_fetch_duration_sum", 1.0);
    // Sent at 45, in at 45.5: the old token (expiring at 60) had 14.5 s.
    is("freshen_token_life_left_at_refresh_count", 1.0);
    is("freshen_token_life_left_at_refresh_sum", 14.5);
    // The new token expires at 105; the last read was at 45.5.
    is("freshen_token_life_left", 59.5);
    assert!(!text.contains("secret-access"), "{driver}: {text}");
}

fn recorder() -> (PrometheusRecorder, PrometheusHandle) {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    (recorder, handle)
}

#[test]
fn smol_reports_the_rotation() {
    let (recorder, handle) = recorder();
    let clock = ManualClock::new();
    let source = Endpoint {
        clock: clock.clone(),
        calls: AtomicU32::new(0),
    };
    let cache = metrics::with_local_recorder(&recorder, || {
        let runtime = SmolRuntime::new().with_clock(clock.clone());
        SmolCache::builder(source, runtime).policy(policy()).build()
    });
    let text = rotation(
        &clock,
        &handle,
        || smol::block_on(cache.token()).unwrap().into_arc(),
        |t| cache.invalidate(t),
    );
    assert_figures("smol", &text, false);
}

fn blocking(mode: Mode) -> String {
    let (recorder, handle) = recorder();
    let clock = ManualClock::new();
    let source = Endpoint {
        clock: clock.clone(),
        calls: AtomicU32::new(0),
    };
    let cache = metrics::with_local_recorder(&recorder, || {
        BlockingCache::builder(source)
            .mode(mode)
            .clock(clock.clone())
            .policy(policy())
            .build()
    });
    rotation(
        &clock,
        &handle,
        || cache.token().unwrap().into_arc(),
        |t| cache.invalidate(t),
    )
}

#[test]
fn blocking_threads_reports_the_rotation() {
    assert_figures("threads", &blocking(Mode::Threads), false);
}

#[test]
fn blocking_inline_reports_the_rotation() {
    assert_figures("inline", &blocking(Mode::Inline), true);
}

/// A metadata server's way: it hands back its own token until 10 s before
/// that token expires, and says so.
struct RenewingEndpoint {
    clock: ManualClock,
    calls: AtomicU32,
}

impl BlockingTokenSource for RenewingEndpoint {
    fn fetch(&self) -> Result<Fetched, Error> {
        self.clock.advance(Duration::from_millis(500));
        self.calls.fetch_add(1, Ordering::SeqCst);
        // The same token every time: sent at 0, it expires at 60.
        let left = Duration::from_secs(60).saturating_sub(self.clock.now().since_origin());
        Ok(Fetched::new("secret-access-0")
            .with_lifetime(left)
            .renewed_by_source(Duration::from_secs(10)))
    }
}

/// The token handed back early ends its attempt like any other: counted
/// under its own outcome, with its duration, never as a failure.
#[test]
fn a_reconfirmed_token_ends_its_attempt() {
    let (recorder, handle) = recorder();
    let clock = ManualClock::new();
    let source = RenewingEndpoint {
        clock: clock.clone(),
        calls: AtomicU32::new(0),
    };
    let cache = metrics::with_local_recorder(&recorder, || {
        BlockingCache::builder(source)
            .mode(Mode::Inline)
            .clock(clock.clone())
            .policy(policy())
            .build()
    });
    let first = cache.token().unwrap().into_arc();
    // Stale at 40, before the source's own window (50): the refresh gets
    // the same token back.
    clock.advance(Duration::from_secs(45));
    let again = cache.token().unwrap().into_arc();
    assert!(again.same_secret(&first));
    assert_ne!(again.generation(), first.generation(), "kept anew");
    let text = handle.render();
    let is = |name: &str, want: f64| assert_eq!(sample(&text, name), want, "{name} in\n{text}");
    is(r#"freshen_token_fetch{outcome="success"}"#, 1.0);
    is(r#"freshen_token_fetch{outcome="reconfirmed"}"#, 1.0);
    is(r#"freshen_token_fetch{outcome="no_progress"}"#, 0.0);
    is(r#"freshen_token_fetch{outcome="transient_error"}"#, 0.0);
    is("freshen_token_fetch_duration_count", 2.0);
}
