//! freshen-blocking's inline driver in a WASI module (wasm32-wasip1).
//!
//! wasip1 has no sockets and no threads, so the token source is in-process
//! (it mints `token-1`, `token-2`, … with a 60 s lifetime) and the cache runs
//! in [`Mode::Inline`]: the caller that needs a refresh runs it. Time is a
//! [`ManualClock`], advanced between calls, so the transcript is the same on
//! every run; one last call shows the default `MonotonicClock` (which is
//! `std::time::Instant` on WASI) works too.
//!
//! Every line of the transcript is checked against what the cache did (the
//! token it returned and the refresh it reported through `on_event`); on any
//! difference the program says so and exits with status 1.
//!
//! ```text
//! cargo build --manifest-path examples/wasi/Cargo.toml --target wasm32-wasip1 --release
//! node --no-warnings examples/wasi/run.mjs target/wasm32-wasip1/release/freshen-wasi-example.wasm
//! ```

use core::time::Duration;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, ThreadId};

use freshen_blocking::{BlockingCache, ManualClock, Mode};
use freshen_cache::Clock;
use freshen_core::{BlockingTokenSource, Error, Event, Fetched, Policy, RefreshReason};

/// The lifetime of every minted token.
const LIFETIME: Duration = Duration::from_secs(60);

/// An in-process token source: every fetch mints the next token.
struct Minter {
    minted: Arc<AtomicU32>,
    /// The threads fetches ran on.
    threads: Arc<Mutex<Vec<ThreadId>>>,
}

impl BlockingTokenSource for Minter {
    fn fetch(&self) -> Result<Fetched, Error> {
        let n = self.minted.fetch_add(1, Ordering::SeqCst) + 1;
        self.threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(thread::current().id());
        Ok(Fetched::new(format!("token-{n}")).with_lifetime(LIFETIME))
    }
}

/// Collects the reason of every refresh the cache starts.
#[derive(Clone, Default)]
struct Refreshes(Arc<Mutex<Vec<RefreshReason>>>);

impl Refreshes {
    fn record(&self, event: &Event) {
        if let Event::RefreshStarted { reason, .. } = event {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(*reason);
        }
    }

    /// What happened since the last call, in words.
    fn take(&self) -> String {
        let reasons = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        match reasons.as_slice() {
            [] => "cached".into(),
            [RefreshReason::Empty] => "fetched".into(),
            [RefreshReason::Stale] => "stale: refresh in caller".into(),
            [RefreshReason::Expired] => "expired: refresh in caller".into(),
            [RefreshReason::Invalidated] => "invalidated: refresh in caller".into(),
            other => format!("refreshes {other:?}"),
        }
    }
}

/// Counts mismatches between the transcript and what was expected.
#[derive(Default)]
struct Transcript {
    calls: u32,
    mismatches: u32,
}

impl Transcript {
    /// Prints one line and checks it against `expected`.
    fn line(&mut self, line: String, expected: &str) {
        println!("{line}");
        if line != expected {
            self.mismatches += 1;
            println!("  MISMATCH: expected {expected:?}");
        }
    }

    /// One call to `token()`, printed as `call N: <token> (<what happened>)`.
    fn call<C: Clock>(
        &mut self,
        prefix: &str,
        cache: &BlockingCache<Minter, C>,
        refreshes: &Refreshes,
        expected: &str,
    ) -> Option<Arc<freshen_core::Token>> {
        self.calls += 1;
        let n = self.calls;
        match cache.token() {
            Ok(token) => {
                let what = refreshes.take();
                self.line(
                    format!("{prefix}call {n}: {} ({what})", token.secret()),
                    expected,
                );
                Some(token.into_arc())
            }
            Err(error) => {
                self.line(format!("{prefix}call {n}: error: {error}"), expected);
                None
            }
        }
    }
}

fn at(clock: &ManualClock) -> String {
    format!("t={:>2}s  ", clock.now().since_origin().as_secs())
}

fn main() -> ExitCode {
    let policy = match Policy::builder().jitter(0.0).build() {
        Ok(policy) => policy,
        Err(error) => {
            eprintln!("policy: {error}");
            return ExitCode::FAILURE;
        }
    };
    let minted = Arc::new(AtomicU32::new(0));
    let threads = Arc::new(Mutex::new(Vec::new()));
    let minter = || Minter {
        minted: Arc::clone(&minted),
        threads: Arc::clone(&threads),
    };
    let margin = policy.margin_for(LIFETIME);
    let lead = policy.lead_for(LIFETIME);
    let mut out = Transcript::default();

    println!("freshen on WASI: BlockingCache in Mode::Inline (no threads, no sockets)");
    println!(
        "tokens of {}s: fresh for {}s, then stale (refreshed by the caller), never served in the last {}s",
        LIFETIME.as_secs(),
        LIFETIME.saturating_sub(lead).as_secs(),
        margin.as_secs(),
    );

    println!();
    println!("-- ManualClock (virtual time)");
    let clock = ManualClock::new();
    let refreshes = Refreshes::default();
    let sink = refreshes.clone();
    let cache = BlockingCache::builder(minter())
        .mode(Mode::Inline)
        .policy(policy.clone())
        .seed(1)
        .on_event(move |event| sink.record(event))
        .clock(clock.clone())
        .build();
    let step = Duration::from_secs(1);

    let p = at(&clock);
    out.call(&p, &cache, &refreshes, "t= 0s  call 1: token-1 (fetched)");
    clock.advance(10 * step);
    let p = at(&clock);
    out.call(&p, &cache, &refreshes, "t=10s  call 2: token-1 (cached)");
    clock.advance(10 * step);
    let p = at(&clock);
    out.call(
        &p,
        &cache,
        &refreshes,
        "t=20s  call 3: token-2 (stale: refresh in caller)",
    );
    clock.advance(5 * step);
    let p = at(&clock);
    let rejected = out.call(&p, &cache, &refreshes, "t=25s  call 4: token-2 (cached)");
    if let Some(rejected) = rejected {
        let done = cache.invalidate(&rejected);
        out.line(
            format!("{p}401 for {}: invalidate -> {done}", rejected.secret()),
            "t=25s  401 for token-2: invalidate -> true",
        );
        out.call(
            &p,
            &cache,
            &refreshes,
            "t=25s  call 5: token-3 (invalidated: refresh in caller)",
        );
        let again = cache.invalidate(&rejected);
        out.line(
            format!(
                "{p}late 401 for {}: invalidate -> {again} (already replaced)",
                rejected.secret()
            ),
            "t=25s  late 401 for token-2: invalidate -> false (already replaced)",
        );
    }
    clock.advance(50 * step);
    let p = at(&clock);
    out.call(
        &p,
        &cache,
        &refreshes,
        "t=75s  call 6: token-4 (expired: refresh in caller)",
    );
    let cached = cache.cached().map(|t| t.secret().to_owned());
    out.line(
        format!("{p}cached() -> {cached:?}"),
        "t=75s  cached() -> Some(\"token-4\")",
    );
    drop(cache);

    println!();
    println!("-- MonotonicClock (the default: std::time::Instant on WASI)");
    let refreshes = Refreshes::default();
    let sink = refreshes.clone();
    let cache = BlockingCache::builder(minter())
        .mode(Mode::Inline)
        .policy(policy)
        .on_event(move |event| sink.record(event))
        .build();
    out.call("", &cache, &refreshes, "call 7: token-5 (fetched)");
    drop(cache);

    let fetches = minted.load(Ordering::SeqCst);
    let main_thread = thread::current().id();
    let elsewhere = threads
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|&&id| id != main_thread)
        .count();
    println!();
    if out.mismatches == 0 && fetches == 5 && elsewhere == 0 {
        println!("wasi inline driver: OK ({fetches} fetches, {elsewhere} threads)");
        ExitCode::SUCCESS
    } else {
        println!(
            "wasi inline driver: FAILED ({} mismatches, {fetches} fetches, {elsewhere} fetches off the calling thread)",
            out.mismatches
        );
        ExitCode::FAILURE
    }
}
