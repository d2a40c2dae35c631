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

use freshen_cache::Shared;
use freshen_cache::shared::{Outcome, Step};
use freshen_core::{Fetched, Instant, Policy};

const HOUR: Duration = Duration::from_secs(3600);

/// A shared cache holding `secret`, fetched at `now`.
fn refresh(shared: &Shared, secret: &str, now: Instant) {
    let Step::Run { attempt, .. } = shared.decide(now) else {
        panic!("expected an attempt")
    };
    let fetched = Fetched::new(secret).with_lifetime(HOUR);
    shared.complete(&attempt, Outcome::Fetched(Ok(fetched)), now, now);
}

fn holding(secret: &str) -> Shared {
    let shared = Shared::new(Policy::default(), None, Some(1));
    refresh(&shared, secret, Instant::ZERO);
    shared
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
    std::thread::spawn(move || assert_eq!(t.secret(), "a"))
        .join()
        .unwrap();
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
