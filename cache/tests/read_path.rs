//! The read path's per-thread handles: never a wrong or stale token, no
//! cross-talk between caches, and handles that really are reused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;
use std::time::Duration;

use freshen_cache::driver::{POOL, SPARES, Shared, Step};
use freshen_core::{Instant, Policy};

mod common;
use common::{holding_with, refresh, refresh_for};

fn holding(secret: &str) -> Shared {
    holding_with(secret, freshen_cache::ReadMode::PerThread)
}

#[test]
fn reads_reuse_the_threads_handles_and_release_them_on_rotation() {
    let shared = holding("a");
    let now = Instant::from_secs(1);
    // Handles to "a": the machine's and the published cell's, plus ours.
    let a = shared.cached(now).expect("fresh").into_arc();
    assert_eq!(Arc::strong_count(&a), 3);
    // A read and its drop leave one handle in this thread's pool...
    drop(shared.cached(now));
    assert_eq!(Arc::strong_count(&a), 4);
    // ...which every later read reuses: no new handle, however many reads.
    for _ in 0..1000 {
        assert_eq!(shared.cached(now).expect("fresh").secret(), "a");
    }
    assert_eq!(Arc::strong_count(&a), 4);
    // A rotation: the machine and the cell let go of "a"; the pool does too
    // at this thread's next read.
    assert!(shared.invalidate(&a));
    refresh(&shared, "b", now);
    assert_eq!(Arc::strong_count(&a), 2, "ours and the pool's");
    assert_eq!(shared.cached(now).unwrap().secret(), "b");
    assert_eq!(Arc::strong_count(&a), 1, "the pool let go");
}

#[test]
fn many_tokens_held_at_once_are_all_right() {
    let shared = holding("a");
    let now = Instant::from_secs(1);
    let held: Vec<_> = (0..100)
        .map(|_| shared.cached(now).expect("fresh"))
        .collect();
    assert!(held.iter().all(|t| t.secret() == "a"));
    drop(held);
    assert_eq!(shared.cached(now).unwrap().secret(), "a");
}

#[test]
fn a_new_token_replaces_pooled_handles_on_every_thread() {
    let shared = Arc::new(holding("a"));
    let now = Instant::from_secs(1);
    // Warm the pools of this thread and of another one.
    drop(shared.cached(now));
    let other = {
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            drop(shared.cached(now));
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            (
                tx,
                std::thread::spawn(move || {
                    rx.recv().unwrap();
                    shared.cached(now).map(|t| t.secret().to_owned())
                }),
            )
        })
        .join()
        .unwrap()
    };
    // Invalidate: no thread may serve "a" afterwards.
    let a = shared.cached(now).unwrap();
    assert!(shared.invalidate(&a));
    drop(a);
    assert!(shared.cached(now).is_none());
    let (go, reader) = other;
    go.send(()).unwrap();
    assert_eq!(
        reader.join().unwrap(),
        None,
        "another thread after invalidation"
    );
    // A new token: served everywhere.
    refresh(&shared, "b", now);
    assert_eq!(shared.cached(now).unwrap().secret(), "b");
    let shared2 = Arc::clone(&shared);
    let seen = std::thread::spawn(move || shared2.cached(now).map(|t| t.secret().to_owned()));
    assert_eq!(seen.join().unwrap().as_deref(), Some("b"));
}

#[test]
fn caches_never_see_each_others_tokens() {
    // More caches than a thread keeps pools for, read in turns.
    let caches: Vec<Shared> = (0..10).map(|i| holding(&format!("token-{i}"))).collect();
    let now = Instant::from_secs(1);
    for _ in 0..5 {
        for (i, c) in caches.iter().enumerate() {
            assert_eq!(c.cached(now).unwrap().secret(), format!("token-{i}"));
        }
    }
    // A cache dropped and a new one made: the new one never serves the old
    // one's token, whatever the pools hold.
    drop(caches);
    let fresh = Shared::new(Policy::default(), None, Some(2));
    assert!(fresh.cached(now).is_none());
}

#[test]
fn a_token_dropped_on_another_thread_is_fine() {
    let shared = holding("a");
    let now = Instant::from_secs(1);
    let t = shared.cached(now).unwrap();
    std::thread::scope(|s| {
        s.spawn(move || assert_eq!(t.secret(), "a"));
    });
    assert_eq!(shared.cached(now).unwrap().secret(), "a");
}

#[test]
fn a_stale_token_is_not_served_from_the_pool() {
    let shared = holding("a");
    drop(shared.cached(Instant::from_secs(1)));
    // Past refresh_at (40–44 min for a 1 h token): the read path says no,
    // and the caller goes to the machine.
    assert!(shared.cached(Instant::from_secs(45 * 60)).is_none());
}

#[test]
fn expired_token_is_not_served_after_address_reuse() {
    // Issue 8, defect 1: the spares followed T1 with no handle left (it
    // left the thread), T1 and T2 were invalidated and a short-lived T3 was
    // allocated at T1's freed address; the spares took T3 for T1, kept T1's
    // fresh_until, and served T3 fifteen minutes after it expired.
    let shared = holding("t1");
    let t0 = Instant::ZERO;
    // This thread reads T1, and the handle leaves it.
    let t1 = shared.cached(t0).unwrap().into_arc();
    assert!(shared.invalidate(&t1));
    drop(t1);
    refresh(&shared, "t2", t0);
    // T2 is seen elsewhere (not through this thread's read path).
    let Step::Ready(t2) = shared.decide(t0) else {
        panic!("T2 is held")
    };
    assert!(shared.invalidate(&t2));
    drop(t2);
    // Five minutes of life: margin 60 s, refresh from about 2.5 min on.
    refresh_for(&shared, "t3", t0, Duration::from_secs(5 * 60));
    let at_20_min = Instant::from_secs(20 * 60);
    assert!(
        shared.cached(at_20_min).is_none(),
        "an expired token came out of the read path"
    );
    // And at every instant the read path agrees with the token's phase.
    for secs in (0..=20 * 60).step_by(7) {
        let now = Instant::from_secs(secs);
        if let Some(t) = shared.cached(now) {
            assert_eq!(t.secret(), "t3");
            assert!(now < t.fresh_until(), "served past fresh_until at {secs} s");
        }
    }
}

#[test]
fn a_cache_made_where_a_dropped_one_was_reads_its_own_token() {
    // A thread remembers the last cache it read and its spares there
    // (`per_thread.rs`), keyed by the cache's id: a cache freed and another
    // made in the same memory must never be taken for the first, whose
    // spares were freed with it.
    let now = Instant::from_secs(1);
    for i in 0..50 {
        let secret = format!("token-{i}");
        let shared = holding(&secret);
        for _ in 0..3 {
            assert_eq!(shared.cached(now).unwrap().secret(), secret);
        }
        drop(shared);
    }
}

#[test]
fn tokens_do_not_outlive_their_cache() {
    // Issue 8, defect 5: each thread's spares kept handles to the last
    // token it read after the cache was dropped, until the thread read
    // another cache or exited; a parked thread kept the secret for ever.
    let shared = holding("secret-a");
    let now = Instant::from_secs(1);
    let token = std::sync::Arc::downgrade(&shared.cached(now).unwrap().into_arc());
    let (parked, park) = std::sync::mpsc::channel::<()>();
    let (read, was_read) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let shared = &shared;
        s.spawn(move || {
            // Fill this thread's spares, then stay alive, reading nothing.
            for _ in 0..4 {
                drop(shared.cached(now));
            }
            read.send(()).unwrap();
            let _ = park.recv();
        });
        was_read.recv().unwrap();
        assert!(token.upgrade().is_some());
        drop(shared.cached(now));
        drop(parked);
    });
    // The reading thread has ended, but its spares were the cache's; this
    // thread's too. Dropping the cache frees every handle.
    drop(shared);
    assert!(token.upgrade().is_none(), "a handle outlived its cache");
}

#[test]
fn a_parked_threads_spares_are_freed_with_the_cache() {
    let shared = holding("secret-b");
    let now = Instant::from_secs(1);
    let token = std::sync::Arc::downgrade(&shared.cached(now).unwrap().into_arc());
    let (filled, was_filled) = std::sync::mpsc::channel::<()>();
    let (release, parked) = std::sync::mpsc::channel::<()>();
    let reader = {
        let shared = std::sync::Arc::new(shared);
        let mine = std::sync::Arc::clone(&shared);
        let t = std::thread::spawn(move || {
            drop(mine.cached(now));
            drop(mine);
            filled.send(()).unwrap();
            // Parked with its thread-locals alive.
            parked.recv().unwrap();
        });
        was_filled.recv().unwrap();
        drop(shared);
        t
    };
    assert!(
        token.upgrade().is_none(),
        "a parked thread's spares kept the token after the cache was dropped"
    );
    release.send(()).unwrap();
    reader.join().unwrap();
}

#[test]
fn a_thread_alternating_between_two_caches_keeps_its_spares() {
    // Issue 8, defect 5: one slot per thread meant every switch of cache
    // dropped the spares and refilled them from the published cell.
    let a = holding("a");
    let b = holding("b");
    let now = Instant::from_secs(1);
    let token_a = a.cached(now).unwrap().into_arc();
    let token_b = b.cached(now).unwrap().into_arc();
    drop(a.cached(now));
    drop(b.cached(now));
    let (count_a, count_b) = (Arc::strong_count(&token_a), Arc::strong_count(&token_b));
    for _ in 0..1000 {
        assert_eq!(a.cached(now).unwrap().secret(), "a");
        assert_eq!(
            Arc::strong_count(&token_b),
            count_b,
            "b's spares were dropped"
        );
        assert_eq!(b.cached(now).unwrap().secret(), "b");
        assert_eq!(
            Arc::strong_count(&token_a),
            count_a,
            "a's spares were dropped"
        );
    }
    assert_eq!(
        Arc::strong_count(&token_a),
        count_a,
        "a's spares were refilled"
    );
    assert_eq!(
        Arc::strong_count(&token_b),
        count_b,
        "b's spares were refilled"
    );
}

#[test]
fn invalidation_is_scoped_to_its_cache() {
    // Issue 8, defect 4: b.invalidate(token of a) evicted b's token.
    let a = holding("a");
    let b = holding("b");
    let now = Instant::from_secs(1);
    let token_a = a.cached(now).unwrap();
    assert!(!b.invalidate(&token_a));
    assert_eq!(b.cached(now).unwrap().secret(), "b");
    assert!(matches!(b.decide(now), Step::Ready(t) if t.secret() == "b"));
}

/// A thread that takes tokens and another that only drops them (a task
/// that moved between workers, every time): handles come back in batches
/// through the cache's pool instead of being made and let go one by one,
/// and none outlives a rotation.
#[test]
fn handles_dropped_on_a_thread_that_never_reads_come_back_to_the_reader() {
    let shared = holding("a");
    let now = Instant::from_secs(1);
    let a = shared.cached(now).expect("fresh").into_arc();
    let base = Arc::strong_count(&a);
    std::thread::scope(|s| {
        let (send, receive) = std::sync::mpsc::channel();
        let dropper = s.spawn(move || {
            for token in receive {
                drop(token);
            }
        });
        // 200 tokens taken here, held at once, then dropped over there.
        let taken: Vec<_> = (0..200).map(|_| shared.cached(now).unwrap()).collect();
        for token in taken {
            send.send(token).unwrap();
        }
        drop(send);
        dropper.join().unwrap();
    });
    // The dropping thread kept its spares full and handed the rest to the
    // pool, all of the current token: bounded, not one per token.
    let kept = Arc::strong_count(&a) - base;
    assert!(kept > 0 && kept <= SPARES + POOL, "{kept} handles kept");

    // This thread's next reads take them back: no new handle is made.
    let before = Arc::strong_count(&a);
    let again: Vec<_> = (0..SPARES).map(|_| shared.cached(now).unwrap()).collect();
    assert!(again.iter().all(|t| t.secret() == "a"));
    assert_eq!(Arc::strong_count(&a), before, "a read made a new handle");
    drop(again);

    // A rotation empties the pool at once, and this thread's spares go at
    // its next read. The ended thread's spares stay the cache's (freed with
    // it, see `tokens_do_not_outlive_their_cache`), as a reader's do.
    assert!(shared.invalidate(&a));
    refresh(&shared, "b", now);
    assert_eq!(shared.cached(now).unwrap().secret(), "b");
    let left = Arc::strong_count(&a) - 1;
    assert!(left <= SPARES, "{left} handles of a rotated-out token kept");
}

#[test]
fn a_thread_that_only_drops_lets_an_old_token_go_when_a_new_one_comes_back() {
    let shared = holding("a");
    let now = Instant::from_secs(1);
    let a = shared.cached(now).expect("fresh").into_arc();
    let (send, receive) = std::sync::mpsc::channel();
    let (dropped, all_dropped) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(move || {
            for batch in receive {
                drop::<Vec<_>>(batch);
                dropped.send(()).unwrap();
            }
        });
        send.send((0..8).map(|_| shared.cached(now).unwrap()).collect())
            .unwrap();
        all_dropped.recv().unwrap();
        // The dropping thread's spares adopted "a".
        assert!(Arc::strong_count(&a) > 3);
        assert!(shared.invalidate(&a));
        refresh(&shared, "b", now);
        drop(shared.cached(now));
        assert_eq!(
            Arc::strong_count(&a),
            1 + 8,
            "ours and the dropping thread's spares"
        );
        // One handle of "b" dropped there: its spares follow "b" now.
        send.send(vec![shared.cached(now).unwrap()]).unwrap();
        all_dropped.recv().unwrap();
        assert_eq!(Arc::strong_count(&a), 1, "the old token outlived a new one");
        drop(send);
    });
}

#[test]
fn the_pool_is_freed_with_the_cache() {
    let shared = holding("secret-c");
    let now = Instant::from_secs(1);
    let token = Arc::downgrade(&shared.cached(now).unwrap().into_arc());
    std::thread::scope(|s| {
        let taken: Vec<_> = (0..100).map(|_| shared.cached(now).unwrap()).collect();
        s.spawn(move || drop(taken)).join().unwrap();
    });
    drop(shared);
    assert!(token.upgrade().is_none(), "the pool kept the token");
}
