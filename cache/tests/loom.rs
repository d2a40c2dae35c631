//! Loom models of freshen-cache's concurrency, run on the code that ships.
//!
//! Under `--cfg loom` the cache's own primitives are loom's (`src/sync.rs`):
//! the state lock, the publish version, the closed flag, the notifiers
//! (event-listener's `loom` feature), each thread's spares (a loom
//! thread-local), and two stand-ins with the same contract for the crates
//! loom cannot build (the published cell, `arc-swap` in production, and a
//! slot's `OnceLock`). Everything else — [`Shared`] with the real machine,
//! the read path with its version check and spares keyed by generation,
//! [`Slot`] and its async wait — is the shipped code, and so are the steps
//! a driver takes for a caller (the same calls as `Cache::token` and the
//! blocking drivers, with loom threads for tasks).
//!
//! Tokens are real `Arc<Token>`s, freed when their last handle goes: a
//! token's memory may be reused by a newer one, and no model may be fooled
//! by it.
//!
//! Every model names situations it must reach in at least one
//! interleaving, so none passes vacuously. Run with `.ci/loom.sh`; each
//! model runs with a preemption bound (`LOOM_MAX_PREEMPTIONS`, default
//! [`PREEMPTIONS`]) and prints how many interleavings it explored.
#![cfg(loom)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    unreachable_pub
)]

// Plumbing between model threads and the checker: loom need not see these.
use std::future::Future as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};
use std::time::Duration;

use freshen_cache::driver::{Attempt, Outcome, Shared, Slot, Step, SyncArc};
use freshen_cache::{Clock, ReadMode};
use freshen_core::{ErrorKind, Fetched, Instant, Policy};
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;

// ---------------------------------------------------------------------------
// Budget
// ---------------------------------------------------------------------------

/// Preemptions explored per model, unless `LOOM_MAX_PREEMPTIONS` says otherwise.
const PREEMPTIONS: usize = 3;
/// Interleavings per model at most (a budget; the models finish well within it).
const MAX_PERMUTATIONS: usize = 500_000;
/// Wall time per model at most (a last resort; reported if reached).
const MAX_DURATION: Duration = Duration::from_secs(90);

/// Runs `model` in every interleaving within the budget and reports how
/// many; `model` tells which of the situations `what` it reached, and the
/// check fails unless each was reached in at least one interleaving.
fn check(name: &str, what: &[&str], model: impl Fn() -> Vec<bool> + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    let bound = *builder.preemption_bound.get_or_insert(PREEMPTIONS);
    let cap = *builder.max_permutations.get_or_insert(MAX_PERMUTATIONS);
    let max_duration = *builder.max_duration.get_or_insert(MAX_DURATION);
    builder.checkpoint_interval = 1_000;
    let runs = Arc::new(StdAtomicUsize::new(0));
    let covered: Arc<Vec<StdAtomicUsize>> =
        Arc::new(what.iter().map(|_| StdAtomicUsize::new(0)).collect());
    let (runs_in, covered_in) = (Arc::clone(&runs), Arc::clone(&covered));
    let started = std::time::Instant::now();
    builder.check(move || {
        runs_in.fetch_add(1, StdOrdering::Relaxed);
        for (count, reached) in covered_in.iter().zip(model()) {
            if reached {
                count.fetch_add(1, StdOrdering::Relaxed);
            }
        }
    });
    let elapsed = started.elapsed();
    let runs = runs.load(StdOrdering::Relaxed);
    let scope = if runs + 1 >= cap || elapsed >= max_duration {
        "budget reached, NOT exhaustive"
    } else {
        "exhaustive"
    };
    println!(
        "loom {name}: {runs} interleavings ({scope} within {bound} preemptions) in {:.1}s",
        elapsed.as_secs_f64()
    );
    for (situation, count) in what.iter().zip(covered.iter()) {
        let count = count.load(StdOrdering::Relaxed);
        println!("  {situation}: {count}");
        assert!(count > 0, "{name}: never reached \"{situation}\"");
    }
}

// ---------------------------------------------------------------------------
// Steps a driver takes, on the shipped Shared
// ---------------------------------------------------------------------------

const HOUR: Duration = Duration::from_secs(3600);

fn t(secs: u64) -> Instant {
    Instant::from_secs(secs)
}

fn new_shared() -> SyncArc<Shared> {
    SyncArc::new(Shared::new(Policy::default(), None, Some(1)))
}

fn fetched(secret: &str, lifetime: Duration) -> Outcome {
    Outcome::Fetched(Ok(Fetched::new(secret).with_lifetime(lifetime)))
}

/// Runs one refresh to the end on this thread: `secret` for `lifetime`.
fn refresh(shared: &Shared, secret: &str, now: Instant, lifetime: Duration) {
    match shared.decide(now) {
        Step::Run { attempt, .. } => shared.complete(&attempt, fetched(secret, lifetime), now, now),
        other => panic!("expected to run an attempt, got {other:?}"),
    }
}

/// What a caller got: the token's secret, or the error's kind.
type Got = Result<String, ErrorKind>;

/// One caller of the async `Cache::token` (or `Mode::Threads`): the read
/// path, then the machine; a started attempt runs on a thread of its own
/// (the spawned task) and the caller waits on its slot with the real
/// `Slot::wait`. Returns what it got and whether it started the attempt.
fn token(shared: &SyncArc<Shared>, now: Instant, secret: &'static str) -> (Got, bool) {
    if let Some(t) = shared.cached(now) {
        return (Ok(t.secret().to_owned()), false);
    }
    let (slot, started) = match shared.decide(now) {
        Step::Ready(t) => return (Ok(t.secret().to_owned()), false),
        Step::Fail(e) => return (Err(e.kind().clone()), false),
        Step::Wait { slot, .. } => (slot, false),
        Step::Run { attempt, serve } => {
            let slot = SyncArc::clone(attempt.slot());
            run_on_thread(shared, attempt, fetched(secret, HOUR), now);
            if let Some(t) = serve {
                return (Ok(t.secret().to_owned()), true);
            }
            (slot, true)
        }
    };
    let got = shared
        .hand_out(loom::future::block_on(slot.wait()), &At(now))
        .map(|t| t.secret().to_owned())
        .map_err(|e| e.kind().clone());
    (got, started)
}

fn run_on_thread(shared: &SyncArc<Shared>, attempt: Attempt, outcome: Outcome, now: Instant) {
    let shared = SyncArc::clone(shared);
    thread::spawn(move || shared.complete(&attempt, outcome, now, now));
}

/// An empty cache's first caller opens an attempt; a second one waits on
/// it. Returns the attempt, and the id and slot the waiter holds.
fn attempt_and_a_waiter(shared: &Shared) -> (Attempt, freshen_core::AttemptId, SyncArc<Slot>) {
    let Step::Run { attempt, .. } = shared.decide(t(10)) else {
        panic!("an empty cache opens an attempt")
    };
    let Step::Wait {
        attempt: id, slot, ..
    } = shared.decide(t(10))
    else {
        panic!("a second caller waits")
    };
    (attempt, id, slot)
}

fn got(resolution: &freshen_core::Resolution) -> Got {
    match resolution {
        Ok(t) => Ok(t.secret().to_owned()),
        Err(e) => Err(e.kind().clone()),
    }
}

// ---------------------------------------------------------------------------
// The read path
// ---------------------------------------------------------------------------

/// Rule 7 on the lock-free read: once `invalidate` has returned, no read
/// that begins after it (here: after seeing the writer's flag) serves the
/// invalidated token, whichever of this thread's spares it kept, while the
/// writer goes on to publish a new token.
#[test]
fn read_path_never_serves_an_invalidated_token() {
    check(
        "read_path_never_serves_an_invalidated_token",
        &[
            "a read served A from the spares",
            "a read saw the invalidation",
            "a read served B",
        ],
        || {
            let shared = new_shared();
            refresh(&shared, "A", t(0), HOUR);
            // This thread's spares follow A, with a handle in them.
            drop(shared.cached(t(1)));
            let a = shared.cached(t(1)).unwrap().into_arc();
            let invalidated = SyncArc::new(AtomicBool::new(false));
            let writer = {
                let (shared, invalidated) = (SyncArc::clone(&shared), SyncArc::clone(&invalidated));
                thread::spawn(move || {
                    assert!(shared.invalidate(&a));
                    invalidated.store(true, Ordering::Release);
                    drop(a);
                    refresh(&shared, "B", t(1), HOUR);
                })
            };
            let mut reached = vec![false; 3];
            for _ in 0..2 {
                let after = invalidated.load(Ordering::Acquire);
                let seen = shared.cached(t(1)).map(|t| t.secret().to_owned());
                match seen.as_deref() {
                    Some("A") => {
                        assert!(!after, "A served after its invalidation returned");
                        reached[0] = true;
                    }
                    Some("B") => reached[2] = true,
                    None => reached[1] = after,
                    Some(other) => panic!("served {other}"),
                }
            }
            writer.join().unwrap();
            assert_eq!(shared.cached(t(1)).unwrap().secret(), "B");
            reached
        },
    );
}

/// The same for a cache read with `ReadMode::Shared` (no spares: each read
/// takes a handle from the published cell, or borrows it in `with_cached`).
#[test]
fn shared_read_mode_never_serves_an_invalidated_token() {
    check(
        "shared_read_mode_never_serves_an_invalidated_token",
        &[
            "a read served A",
            "a read saw the invalidation",
            "a read served B",
        ],
        || {
            let shared = SyncArc::new(Shared::with_read_mode(
                Policy::default(),
                None,
                Some(1),
                ReadMode::Shared,
            ));
            refresh(&shared, "A", t(0), HOUR);
            let a = shared.cached(t(1)).unwrap().into_arc();
            let invalidated = SyncArc::new(AtomicBool::new(false));
            let writer = {
                let (shared, invalidated) = (SyncArc::clone(&shared), SyncArc::clone(&invalidated));
                thread::spawn(move || {
                    assert!(shared.invalidate(&a));
                    invalidated.store(true, Ordering::Release);
                    drop(a);
                    refresh(&shared, "B", t(1), HOUR);
                })
            };
            let mut reached = vec![false; 3];
            for lent in [false, true] {
                let after = invalidated.load(Ordering::Acquire);
                let seen = if lent {
                    shared.with_cached(t(1), |t| t.secret().to_owned())
                } else {
                    shared.cached(t(1)).map(|t| t.secret().to_owned())
                };
                match seen.as_deref() {
                    Some("A") => {
                        assert!(!after, "A served after its invalidation returned");
                        reached[0] = true;
                    }
                    Some("B") => reached[2] = true,
                    None => reached[1] = after,
                    Some(other) => panic!("served {other}"),
                }
            }
            writer.join().unwrap();
            assert_eq!(
                shared
                    .with_cached(t(1), |t| t.secret().to_owned())
                    .as_deref(),
                Some("B")
            );
            reached
        },
    );
}

/// Issue 8, defect 1, under every interleaving: a reader whose spares
/// follow T1 (with no handle left) never takes a newer token for T1 — even
/// one allocated at T1's freed address — and never serves a token past its
/// fresh point.
#[test]
fn read_path_is_not_fooled_by_a_reused_address() {
    let reused = Arc::new(StdAtomicUsize::new(0));
    let reused_in = Arc::clone(&reused);
    check(
        "read_path_is_not_fooled_by_a_reused_address",
        &[
            "the reader ran before the rotations",
            "the reader ran after them",
        ],
        move || {
            let shared = new_shared();
            refresh(&shared, "T1", t(0), HOUR);
            let t1 = shared.cached(t(0)).unwrap().into_arc();
            let t1_addr = Arc::as_ptr(&t1) as usize;
            let rotations = {
                let (shared, reused) = (SyncArc::clone(&shared), Arc::clone(&reused_in));
                thread::spawn(move || {
                    assert!(shared.invalidate(&t1));
                    drop(t1);
                    refresh(&shared, "T2", t(0), HOUR);
                    let Step::Ready(t2) = shared.decide(t(0)) else {
                        panic!("T2 is held")
                    };
                    assert!(shared.invalidate(&t2));
                    drop(t2);
                    // Five minutes: fresh for about 2.5 min only.
                    refresh(&shared, "T3", t(0), Duration::from_secs(300));
                    let Step::Ready(t3) = shared.decide(t(0)) else {
                        panic!("T3 is held")
                    };
                    if Arc::as_ptr(&t3.into_arc()) as usize == t1_addr {
                        reused.fetch_add(1, StdOrdering::Relaxed);
                    }
                })
            };
            // Twenty minutes on: T1 would still be fresh, T3 is expired.
            let at_20_min = t(20 * 60);
            // T1 and T2 are one-hour tokens, fresh until they are
            // invalidated; T3 is long past its fresh point.
            let early = shared.cached(at_20_min).map(|t| t.secret().to_owned());
            assert!(
                matches!(early.as_deref(), None | Some("T1" | "T2")),
                "served {early:?}"
            );
            rotations.join().unwrap();
            assert!(
                shared.cached(at_20_min).is_none(),
                "served an expired token"
            );
            vec![early.is_some(), early.is_none()]
        },
    );
    println!(
        "  (T3 was allocated at T1's address in {} interleavings)",
        reused.load(StdOrdering::Relaxed)
    );
}

/// Reads on one thread, while another rotates the token, never go back to
/// an older token: the spares follow the published cell forward only.
#[test]
fn read_path_never_goes_back_to_an_older_token() {
    check(
        "read_path_never_goes_back_to_an_older_token",
        &["a read saw A, a later one B"],
        || {
            let shared = new_shared();
            refresh(&shared, "A", t(0), HOUR);
            let reader = {
                let shared = SyncArc::clone(&shared);
                thread::spawn(move || {
                    let seen: Vec<Option<String>> = (0..3)
                        .map(|_| shared.cached(t(1)).map(|t| t.secret().to_owned()))
                        .collect();
                    seen
                })
            };
            let a = shared.cached(t(1)).unwrap().into_arc();
            assert!(shared.invalidate(&a));
            drop(a);
            refresh(&shared, "B", t(1), HOUR);
            let seen = reader.join().unwrap();
            let order = |s: &Option<String>| match s.as_deref() {
                Some("A") => 0,
                None => 1,
                Some("B") => 2,
                Some(other) => panic!("served {other}"),
            };
            assert!(
                seen.windows(2).all(|w| order(&w[0]) <= order(&w[1])),
                "went back: {seen:?}"
            );
            let forward = seen.first().is_some_and(|s| s.as_deref() == Some("A"))
                && seen.last().is_some_and(|s| s.as_deref() == Some("B"));
            vec![forward]
        },
    );
}

// ---------------------------------------------------------------------------
// Single flight and the hand-off to waiters
// ---------------------------------------------------------------------------

/// Rule 3: two callers of an empty cache, and the attempt's own thread;
/// exactly one caller starts the attempt and both get its one outcome.
#[test]
fn single_flight_two_callers() {
    check(
        "single_flight_two_callers",
        &["a caller waited on the slot", "a caller read the new token"],
        || {
            let shared = new_shared();
            let others: Vec<_> = ["token-a"]
                .into_iter()
                .map(|secret| {
                    let shared = SyncArc::clone(&shared);
                    thread::spawn(move || token(&shared, t(10), secret))
                })
                .collect();
            let mut calls = vec![token(&shared, t(10), "token-c")];
            calls.extend(others.into_iter().map(|h| h.join().unwrap()));
            let starters: Vec<_> = calls.iter().filter(|(_, started)| *started).collect();
            assert_eq!(starters.len(), 1, "one attempt: {calls:?}");
            let outcome = &starters[0].0;
            assert!(outcome.is_ok());
            assert!(calls.iter().all(|(got, _)| got == outcome), "{calls:?}");
            let waited = calls.iter().any(|(_, started)| !started);
            vec![waited, waited]
        },
    );
}

/// A waiter's deadline passes just as the attempt completes: the machine
/// lets one of them win, the slot is resolved once, and every waiter —
/// including the one that timed the attempt out — gets that one outcome.
#[test]
fn deadline_races_completion() {
    check(
        "deadline_races_completion",
        &["the timeout won", "the completion won"],
        || {
            let shared = new_shared();
            let (attempt, id, slot) = attempt_and_a_waiter(&shared);
            let timer = {
                let (shared, slot) = (SyncArc::clone(&shared), SyncArc::clone(&slot));
                // What every driver's waiter does at its deadline.
                thread::spawn(move || {
                    shared.time_out(id, t(40));
                    got(&loom::future::block_on(slot.wait()))
                })
            };
            run_on_thread(&shared, attempt, fetched("token-0", HOUR), t(10));
            let waited = got(&loom::future::block_on(slot.wait()));
            let timed_out = timer.join().unwrap();
            assert_eq!(timed_out, waited, "every waiter gets the one outcome");
            let timeout_won = matches!(waited, Err(ErrorKind::Timeout { .. }));
            // The cache is not wedged either way.
            let next = token(&shared, t(41), "token-1").0;
            assert!(next.is_ok() || timeout_won, "{next:?}");
            vec![timeout_won, waited.is_ok()]
        },
    );
}

/// The last handle is dropped while an attempt runs: its waiters are told
/// (closed, or the token if the attempt won), never left waiting.
#[test]
fn close_races_an_attempt() {
    check(
        "close_races_an_attempt",
        &["the close won", "the attempt won"],
        || {
            let shared = new_shared();
            let Step::Run { attempt, .. } = shared.decide(t(10)) else {
                panic!("an empty cache opens an attempt")
            };
            let slot = SyncArc::clone(attempt.slot());
            let closer = {
                let shared = SyncArc::clone(&shared);
                thread::spawn(move || shared.close())
            };
            run_on_thread(&shared, attempt, fetched("token-0", HOUR), t(10));
            let waited = got(&loom::future::block_on(slot.wait()));
            closer.join().unwrap();
            assert!(shared.is_closed());
            vec![
                waited == Err(ErrorKind::Closed),
                waited == Ok("token-0".to_owned()),
            ]
        },
    );
}

/// An attempt whose task is lost reports itself lost (the drivers' drop
/// guard), racing a waiter that gives up at its deadline: both see the one
/// outcome, and the next caller starts a new attempt.
#[test]
fn lost_attempt_races_the_deadline() {
    check(
        "lost_attempt_races_the_deadline",
        &["lost won", "the deadline won"],
        || {
            let shared = new_shared();
            let (attempt, id, slot) = attempt_and_a_waiter(&shared);
            run_on_thread(&shared, attempt, Outcome::Lost, t(10));
            shared.time_out(id, t(40));
            let waited = got(&loom::future::block_on(slot.wait()));
            assert!(
                matches!(
                    waited,
                    Err(ErrorKind::AttemptLost | ErrorKind::Timeout { .. })
                ),
                "{waited:?}"
            );
            vec![
                waited == Err(ErrorKind::AttemptLost),
                matches!(waited, Err(ErrorKind::Timeout { .. })),
            ]
        },
    );
}

/// A waiter that gives up (its future dropped after one poll) blocks no
/// one: the attempt goes on and the other waiter gets its outcome.
#[test]
fn a_waiter_that_gives_up_blocks_no_one() {
    check(
        "a_waiter_that_gives_up_blocks_no_one",
        &["the quitter had registered before the resolve"],
        || {
            let slot = SyncArc::new(Slot::new());
            let quitter = {
                let slot = SyncArc::clone(&slot);
                thread::spawn(move || {
                    let mut wait = Box::pin(slot.wait());
                    let waker = futures_util::task::noop_waker();
                    let mut cx = std::task::Context::from_waker(&waker);
                    wait.as_mut().poll(&mut cx).is_pending()
                })
            };
            let resolver = {
                let slot = SyncArc::clone(&slot);
                thread::spawn(move || {
                    slot.resolve(Err(freshen_core::Error::transient(ErrorKind::Closed)))
                })
            };
            let got = got(&loom::future::block_on(slot.wait()));
            let registered = quitter.join().unwrap();
            resolver.join().unwrap();
            assert_eq!(got, Err(ErrorKind::Closed));
            vec![registered]
        },
    );
}

/// A model's instant as a driver's clock (for `Shared::hand_out`).
struct At(Instant);

impl Clock for At {
    fn now(&self) -> Instant {
        self.0
    }
}
