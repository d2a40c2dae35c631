//! `ReadMode::Shared`: the read path with no per-thread spares serves the
//! same tokens as the default one — never a stale or invalidated one — and
//! keeps no handle behind when a token is dropped; `with_cached` lends the
//! fresh token in both modes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;

use freshen_cache::ReadMode;
use freshen_cache::driver::Shared;
use freshen_core::{Instant, Policy};

mod common;
use common::{HOUR, holding_with, refresh};

fn holding(secret: &str) -> Shared {
    holding_with(secret, ReadMode::Shared)
}

#[test]
fn a_read_takes_a_handle_and_its_drop_gives_it_up() {
    let shared = holding("a");
    let now = Instant::from_secs(1);
    // Handles to "a": the machine's and the published cell's, plus ours.
    let a = shared.cached(now).expect("fresh").into_arc();
    assert_eq!(Arc::strong_count(&a), 3);
    // Reads and their drops keep nothing: no spares anywhere.
    for _ in 0..100 {
        assert_eq!(shared.cached(now).expect("fresh").secret(), "a");
    }
    std::thread::scope(|s| {
        s.spawn(|| assert_eq!(shared.cached(now).expect("fresh").secret(), "a"));
    });
    assert_eq!(Arc::strong_count(&a), 3);
    // Many held at once are all the one token.
    let held: Vec<_> = (0..50).map(|_| shared.cached(now).unwrap()).collect();
    assert_eq!(Arc::strong_count(&a), 53);
    drop(held);
    assert_eq!(Arc::strong_count(&a), 3);
}

#[test]
fn invalidated_stale_and_replaced_tokens_are_never_served() {
    let shared = Arc::new(holding("a"));
    let now = Instant::from_secs(1);
    let a = shared.cached(now).unwrap();
    assert!(shared.invalidate(&a));
    drop(a);
    assert!(shared.cached(now).is_none());
    let other = Arc::clone(&shared);
    let seen = std::thread::spawn(move || other.cached(now).map(|t| t.secret().to_owned()));
    assert_eq!(
        seen.join().unwrap(),
        None,
        "another thread after invalidation"
    );

    refresh(&shared, "b", now);
    assert_eq!(shared.cached(now).unwrap().secret(), "b");
    let other = Arc::clone(&shared);
    let seen = std::thread::spawn(move || other.cached(now).map(|t| t.secret().to_owned()));
    assert_eq!(seen.join().unwrap().as_deref(), Some("b"));

    // Past its refresh point the token is no longer fresh: not served from
    // the read path (the driver's `decide` handles it).
    let later = now.saturating_add(HOUR);
    assert!(shared.cached(later).is_none());
}

#[test]
fn a_lent_token_is_the_fresh_one_in_both_modes() {
    for mode in [ReadMode::PerThread, ReadMode::Shared] {
        let shared = Shared::with_read_mode(Policy::default(), None, Some(1), mode);
        let now = Instant::from_secs(1);
        assert_eq!(
            shared.with_cached(now, |t| t.secret().len()),
            None,
            "{mode:?}"
        );
        refresh(&shared, "a", Instant::ZERO);
        let a = shared.cached(now).unwrap().into_arc();
        // A read's drop leaves a spare on this thread (per-thread mode).
        drop(shared.cached(now));
        let before = Arc::strong_count(&a);
        assert_eq!(
            shared
                .with_cached(now, |t| t.secret().to_owned())
                .as_deref(),
            Some("a"),
            "{mode:?}"
        );
        // Lent, not handed out: no new handle is left behind.
        assert_eq!(Arc::strong_count(&a), before, "{mode:?}");
        assert!(shared.invalidate(&a));
        assert_eq!(
            shared.with_cached(now, |t| t.secret().len()),
            None,
            "{mode:?}"
        );
        refresh(&shared, "b", now);
        assert_eq!(
            shared
                .with_cached(now, |t| t.secret().to_owned())
                .as_deref(),
            Some("b"),
            "{mode:?}"
        );
        let later = now.saturating_add(HOUR);
        assert_eq!(
            shared.with_cached(later, |t| t.secret().len()),
            None,
            "{mode:?}"
        );
    }
}
