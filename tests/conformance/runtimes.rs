//! Cases about tokio's runtimes themselves: tasks that move between the
//! workers of a multi-thread runtime while they hold tokens, and runtimes
//! that shut down under a cache or under an attempt. Every hang check is
//! bounded by a real-time guard, so a regression fails instead of hanging.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use freshen::{ErrorKind, Policy};
use freshen_cache::{Cache, ManualClock};
use freshen_tokio::{TokioCache, TokioRuntime};

use crate::drivers::{Got, TokioMulti};
use crate::guard::{HANG_GUARD, Herd, observed, within};
use crate::manual_tokio::TokioOnManualClock;
use crate::source::TestSource;

const HOUR: Duration = Duration::from_secs(3600);

/// "At once": far below an attempt's 30 s deadline, which is what a caller
/// would otherwise wait out, with room for a busy CI machine.
const PROMPTLY: Duration = Duration::from_secs(5);

/// Polls `done` on the real clock until it holds, for `limit` at most.
fn wait_for(limit: Duration, what: &str, done: impl Fn() -> bool) {
    let end = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < end, "{what}: not after {limit:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// 64 tasks on four workers each take a token, hold it across a few
/// `yield_now`s (so it is often dropped on another worker than the one it
/// was taken on, into that worker's spares), check it, and drop it, 200
/// times; now and then one invalidates its token. Time stands still, so
/// every rotation is an invalidation and a token's secret names its
/// generation (`token-n` is generation n-1): a handle mixed up between
/// spares would show. No read that began after an invalidation returned may
/// get that token or an older one.
pub fn tokens_held_across_awaits_on_moving_tasks_stay_correct() {
    const TASKS: usize = 64;
    const ROUNDS: usize = 200;
    let (moved, invalidations, fetches) =
        within(Duration::from_secs(60), "tokens held across awaits", || {
            let rt = TokioMulti::runtime(4);
            let (src, _) = TestSource::new(HOUR);
            let clock = ManualClock::new().with_tick(Duration::from_millis(5));
            let cache = {
                let _guard = rt.enter();
                Cache::builder(src.clone(), TokioOnManualClock::current(clock))
                    .seed(7)
                    .build()
            };
            // One more than the newest generation invalidated so far, raised
            // only after `invalidate` returned: a read that loaded it before
            // it began must get a token at least this new.
            let floor = Arc::new(AtomicU64::new(0));
            let moved = Arc::new(AtomicUsize::new(0));
            let invalidations = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..TASKS)
                .map(|task| {
                    let cache = cache.clone();
                    let (floor, moved, invalidations) = (
                        Arc::clone(&floor),
                        Arc::clone(&moved),
                        Arc::clone(&invalidations),
                    );
                    rt.spawn(async move {
                        for round in 0..ROUNDS {
                            let floor_before = floor.load(Ordering::SeqCst);
                            let token = cache.token().await.expect("a token");
                            let generation = token.generation();
                            let secret = token.secret().to_owned();
                            assert!(
                                generation.number() >= floor_before,
                                "served {generation} although #{floor_before} was already \
                                 invalidated when the read began"
                            );
                            assert_eq!(
                                secret,
                                format!("token-{}", generation.number() + 1),
                                "a token's secret and generation belong together"
                            );
                            let taken_on = std::thread::current().id();
                            for _ in 0..=(task + round) % 3 {
                                tokio::task::yield_now().await;
                            }
                            if std::thread::current().id() != taken_on {
                                moved.fetch_add(1, Ordering::Relaxed);
                            }
                            // Held across the awaits, on whatever worker it
                            // is now, it is still the token it was.
                            assert_eq!(token.secret(), secret);
                            assert_eq!(token.generation(), generation);
                            if (task * 7 + round) % 97 == 0 && cache.invalidate(&token) {
                                floor.fetch_max(generation.number() + 1, Ordering::SeqCst);
                                invalidations.fetch_add(1, Ordering::SeqCst);
                            }
                            drop(token);
                        }
                    })
                })
                .collect();
            rt.block_on(async {
                for t in tasks {
                    t.await
                        .expect("a task's checks failed (see its panic above)");
                }
            });
            let last = rt.block_on(cache.token()).expect("a token").into_arc();
            assert_eq!(last.secret(), format!("token-{}", src.calls()));
            (
                moved.load(Ordering::Relaxed),
                invalidations.load(Ordering::SeqCst),
                src.calls(),
            )
        });
    println!(
        "{} reads by {TASKS} tasks; {moved} tokens held across a move between workers; \
         {invalidations} invalidations; {fetches} fetches",
        TASKS * ROUNDS
    );
    assert!(
        moved > 0,
        "no task moved between workers: nothing was proven"
    );
    assert!(invalidations >= 10, "only {invalidations} invalidations");
    assert_eq!(fetches, invalidations + 1, "one fetch per invalidation");
}

/// A cache built inside one runtime (`TokioRuntime::current()`), that
/// runtime dropped, the cache then used from a second runtime: it serves the
/// token it holds, refreshes on the caller's runtime, and a cache that never
/// fetched in its first runtime fetches in the second. Nothing hangs.
pub fn cache_outlives_the_runtime_it_was_built_in() {
    within(HANG_GUARD, "a cache used after its runtime", || {
        let (src, _) = TestSource::new(HOUR);
        let (cold_src, _) = TestSource::new(HOUR);
        let first = TokioMulti::runtime(2);
        let (warm, cold) = {
            let _guard = first.enter();
            (
                TokioCache::new(src.clone(), TokioRuntime::current()),
                TokioCache::new(cold_src, TokioRuntime::current()),
            )
        };
        let t1 = first.block_on(warm.token()).expect("a token").into_arc();
        drop(first);

        let second = TokioMulti::runtime(2);
        let held = second.block_on(warm.token()).expect("the held token");
        assert_eq!(held.secret(), t1.secret());
        drop(held);
        assert!(warm.invalidate(&t1));
        let t2 = second
            .block_on(warm.token())
            .expect("a refresh on the caller's runtime");
        assert_eq!(t2.secret(), "token-2");
        drop(t2);
        let first_of_cold = second
            .block_on(cold.token())
            .expect("a first fetch on the caller's runtime");
        assert_eq!(first_of_cold.secret(), "token-1");
    });
}

/// `TokioRuntime::from_handle` of a runtime that has shut down: the attempt
/// cannot run, and a caller on another runtime gets `AttemptLost` at once,
/// not a timeout at the attempt's 30 s deadline.
pub fn lost_attempt_does_not_hang_callers() {
    let (got, took, calls) = within(HANG_GUARD, "a lost attempt", || {
        let (src, _) = TestSource::new(HOUR);
        let cache = TokioCache::new(src.clone(), TokioRuntime::from_handle(dead_runtime()));
        let callers = TokioMulti::runtime(2);
        let start = Instant::now();
        let got = callers.block_on(cache.token()).map(|t| t.into_arc());
        (got, start.elapsed(), src.calls())
    });
    let err = got.expect_err("no runtime to fetch on");
    assert_eq!(err.kind(), &ErrorKind::AttemptLost, "{err:?}");
    assert!(took < PROMPTLY, "took {took:?}");
    assert_eq!(calls, 0, "the source never ran");
}

/// The same from outside any runtime (another executor): `AttemptLost` at
/// once, and no panic.
pub fn lost_attempt_outside_any_runtime_does_not_panic() {
    let (got, took) = within(HANG_GUARD, "a lost attempt, outside tokio", || {
        let (src, _) = TestSource::new(HOUR);
        let cache = TokioCache::new(src, TokioRuntime::from_handle(dead_runtime()));
        let start = Instant::now();
        let got = smol::block_on(cache.token()).map(|t| t.into_arc());
        (got, start.elapsed())
    });
    let err = got.expect_err("no runtime to fetch on");
    assert_eq!(err.kind(), &ErrorKind::AttemptLost, "{err:?}");
    assert!(took < PROMPTLY, "took {took:?}");
}

/// The handle of a multi-thread runtime that has shut down.
fn dead_runtime() -> tokio::runtime::Handle {
    let dead = TokioMulti::runtime(2);
    let handle = dead.handle().clone();
    drop(dead);
    handle
}

/// The runtime running an attempt (its source held at a gate) shuts down:
/// every waiter, on another runtime, gets `AttemptLost` at once.
pub fn runtime_shutdown_mid_attempt_resolves_waiters() {
    const WAITERS: usize = 8;
    let guard = 2 * HANG_GUARD;
    let (results, shutdown) = within(guard, "a runtime shut down mid-attempt", || {
        let (src, _) = TestSource::new(HOUR);
        src.close_gate();
        let attempts = TokioMulti::runtime(2);
        let cache = TokioCache::new(
            src.clone(),
            TokioRuntime::from_handle(attempts.handle().clone()),
        );
        let callers = TokioMulti::runtime(2);
        let herd = Herd::new(WAITERS, || {});
        let (tx, rx) = mpsc::channel::<(Got, Instant)>();
        for _ in 0..WAITERS {
            let (cache, herd, tx) = (cache.clone(), Arc::clone(&herd), tx.clone());
            callers.spawn(async move {
                let got = observed(&herd, cache.token()).await.map(|t| t.into_arc());
                let _ = tx.send((got, Instant::now()));
            });
        }
        assert!(
            herd.release_when_all_waiting(),
            "only {} of {WAITERS} waited",
            herd.waiting()
        );
        wait_for(PROMPTLY, "the attempt reaches its source", || {
            src.calls() == 1
        });
        let shutdown = Instant::now();
        drop(attempts);
        let results: Vec<_> = (0..WAITERS)
            .map(|_| {
                rx.recv_timeout(HANG_GUARD)
                    .expect("a waiter hung after its attempt's runtime shut down")
            })
            .collect();
        (results, shutdown)
    });
    for (got, at) in results {
        let err = got.expect_err("the attempt was lost");
        assert_eq!(err.kind(), &ErrorKind::AttemptLost, "{err:?}");
        let took = at.saturating_duration_since(shutdown);
        assert!(took < PROMPTLY, "a waiter took {took:?}");
    }
}

/// The runtime an attempt was handed to shuts down before the attempt's
/// task first ran (a current-thread runtime nobody drives, dropped): the
/// waiter on another runtime gets `AttemptLost` at once.
pub fn runtime_shutdown_before_the_attempt_runs_resolves_waiters() {
    let (got, took, calls) = within(
        HANG_GUARD,
        "a runtime shut down before the attempt ran",
        || {
            let (src, _) = TestSource::new(HOUR);
            let idle = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            let cache = TokioCache::new(
                src.clone(),
                TokioRuntime::from_handle(idle.handle().clone()),
            );
            let callers = TokioMulti::runtime(2);
            let herd = Herd::new(1, || {});
            let waiter = {
                let (cache, herd) = (cache.clone(), Arc::clone(&herd));
                callers.spawn(
                    async move { observed(&herd, cache.token()).await.map(|t| t.into_arc()) },
                )
            };
            assert!(herd.release_when_all_waiting(), "the caller never waited");
            let shutdown = Instant::now();
            drop(idle);
            let got = callers.block_on(waiter).unwrap();
            (got, shutdown.elapsed(), src.calls())
        },
    );
    let err = got.expect_err("the attempt was lost");
    assert_eq!(err.kind(), &ErrorKind::AttemptLost, "{err:?}");
    assert!(took < PROMPTLY, "took {took:?}");
    assert_eq!(calls, 0, "the attempt never ran");
}

/// A cache with prefetch on, built inside one runtime that is then dropped,
/// used from a second runtime: with no traffic, the token is still
/// refreshed at `refresh_at` (the prefetch timer lives on).
pub fn prefetch_survives_the_runtime_it_was_built_in() {
    let refreshed = within(2 * HANG_GUARD, "prefetch after the runtime", || {
        let (src, _) = TestSource::new(HOUR);
        let clock = ManualClock::new().with_tick(Duration::from_millis(5));
        let policy = Policy::builder().prefetch(true).build().unwrap();
        let first = TokioMulti::runtime(2);
        let cache = {
            let _guard = first.enter();
            Cache::builder(src.clone(), TokioOnManualClock::current(clock.clone()))
                .policy(policy)
                .seed(7)
                .build()
        };
        wait_for(PROMPTLY, "the first token is prefetched", || {
            cache.cached().is_some()
        });
        drop(first);
        let second = TokioMulti::runtime(2);
        // A read made on the second runtime (inside it: a read made outside
        // every runtime has nowhere to start the timer) restarts the timer.
        let t1 = second
            .block_on(async { cache.token().await.map(|t| t.into_arc()) })
            .expect("the held token");
        assert_eq!(t1.secret(), "token-1");
        // No traffic from here on: only the prefetch timer can refresh.
        clock.advance(t1.refresh_at().since_origin() + Duration::from_secs(1));
        let end = Instant::now() + HANG_GUARD;
        while src.calls() < 2 && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(second);
        src.calls() == 2
    });
    assert!(
        refreshed,
        "no refresh at refresh_at: the prefetch timer died with its runtime"
    );
}

/// A caller whose runtime has no timer (built without `enable_time`) waits
/// for an attempt that runs on the cache's own runtime (`from_handle`, with
/// timers): it gets the token, and does not panic.
pub fn waiting_on_a_runtime_without_timers_does_not_panic() {
    let got = within(HANG_GUARD, "a caller on a runtime without timers", || {
        let (src, _) = TestSource::new(HOUR);
        let attempts = TokioMulti::runtime(2);
        let cache = TokioCache::new(src, TokioRuntime::from_handle(attempts.handle().clone()));
        let no_timers = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        no_timers.block_on(cache.token()).map(|t| t.into_arc())
    });
    assert_eq!(got.expect("a token").secret(), "token-1");
}
