//! KeyedCache as a map: one build per key under contention, idle keys
//! evicted on the (virtual) clock, the number of keys bounded with the
//! least recently used evicted first, evicted values dropped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use freshen_cache::{KeyedCache, KeyedCacheBuilder, ManualClock, registry};

#[test]
fn concurrent_first_uses_of_a_key_build_once() {
    let keyed: KeyedCache<u32, Arc<u32>> = KeyedCache::new();
    let builds = AtomicUsize::new(0);
    let barrier = std::sync::Barrier::new(16);
    std::thread::scope(|s| {
        for _ in 0..16 {
            s.spawn(|| {
                barrier.wait();
                for key in 0..50 {
                    let v = keyed.get_or_insert_with(&key, || {
                        builds.fetch_add(1, Ordering::SeqCst);
                        Arc::new(key)
                    });
                    assert_eq!(*v, key);
                }
            });
        }
    });
    assert_eq!(builds.load(Ordering::SeqCst), 50);
    assert_eq!(keyed.len(), 50);
}

#[test]
fn idle_keys_are_evicted_and_their_values_dropped() {
    let clock = ManualClock::new();
    let keyed: KeyedCache<&str, Arc<()>, _> = KeyedCacheBuilder::new()
        .idle_after(Duration::from_secs(600))
        .build_with_clock(clock.clone());
    let idle = Arc::new(());
    keyed.get_or_insert_with(&"idle", || idle.clone());
    keyed.get_or_insert_with(&"busy", || Arc::new(()));
    assert_eq!(Arc::strong_count(&idle), 2);

    // "busy" is read every minute, "idle" never; the sweeps run during
    // those reads, with no call to `sweep`.
    for _ in 0..11 {
        clock.advance(Duration::from_secs(60));
        assert!(keyed.with(&"busy", |_| ()).is_some());
    }
    assert!(
        keyed.get(&"idle").is_none(),
        "idle for 11 min of a 10 min bound"
    );
    assert_eq!(Arc::strong_count(&idle), 1, "the evicted value was dropped");
    assert_eq!(keyed.len(), 1);

    // Back after eviction: built anew.
    let again = keyed.get_or_insert_with(&"idle", || Arc::new(()));
    assert!(!Arc::ptr_eq(&again, &idle));
}

#[test]
fn a_key_used_within_the_bound_is_not_evicted() {
    let clock = ManualClock::new();
    let keyed: KeyedCache<u8, u8, _> = KeyedCacheBuilder::new()
        .idle_after(Duration::from_secs(600))
        .build_with_clock(clock.clone());
    keyed.get_or_insert_with(&1, || 1);
    clock.advance(Duration::from_secs(599));
    assert_eq!(keyed.sweep(), 0);
    assert_eq!(keyed.get(&1), Some(1));
    clock.advance(Duration::from_secs(599));
    assert_eq!(keyed.sweep(), 0, "the read above renewed it");
    clock.advance(Duration::from_secs(2));
    assert_eq!(keyed.sweep(), 1);
}

#[test]
fn the_number_of_keys_is_bounded_and_the_least_recently_used_goes_first() {
    let clock = ManualClock::new();
    let keyed: KeyedCache<u32, u32, _> = KeyedCacheBuilder::new()
        .max_keys(100)
        .build_with_clock(clock.clone());
    for key in 0..300 {
        clock.advance(Duration::from_secs(2));
        // Key 0 stays in use.
        assert_eq!(keyed.with(&0, |v| *v), (key > 0).then_some(0));
        keyed.get_or_insert_with(&key, || key);
        assert!(keyed.len() <= 100, "{} keys", keyed.len());
    }
    assert_eq!(keyed.len(), 100);
    assert_eq!(keyed.get(&0), Some(0), "the key in use was kept");
    assert_eq!(keyed.get(&299), Some(299));
    assert_eq!(keyed.get(&150), None, "an old key was evicted");
}

#[test]
fn a_large_bound_split_across_shards_stays_within_rounding() {
    let keyed: KeyedCache<u32, u32> = KeyedCacheBuilder::new().max_keys(10_000).build();
    for key in 0..30_000 {
        keyed.get_or_insert_with(&key, || key);
    }
    let len = keyed.len();
    assert!(len <= 10_000 + 64, "{len} keys");
    assert!(len >= 9_000, "{len} keys: shards evicted far too early");
}

#[test]
fn remove_gives_the_value_back() {
    let keyed: KeyedCache<u8, u8> = KeyedCache::new();
    keyed.get_or_insert_with(&1, || 10);
    assert_eq!(keyed.remove(&1), Some(10));
    assert_eq!(keyed.remove(&1), None);
    assert!(keyed.is_empty());
}

#[test]
fn the_registry_is_one_per_pair_of_types() {
    struct Marker;
    let a = registry::<u64, Arc<Marker>>().get_or_insert_with(&7, || Arc::new(Marker));
    let b = registry::<u64, Arc<Marker>>().get_or_insert_with(&7, || Arc::new(Marker));
    assert!(Arc::ptr_eq(&a, &b));
    // Another value type: another registry.
    assert!(registry::<u64, Arc<u8>>().get(&7).is_none());
}
