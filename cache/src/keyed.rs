//! Many tokens per process: one cache per key, built on first use, idle
//! keys evicted, the number of keys bounded — and an opt-in process-wide
//! registry of them.
//!
//! A key is everything that shapes a token (freshen-oauth's `ShapeKey`:
//! endpoint, client, scope set, audience, resource, extra parameters), and
//! each key's value is a whole cache ([`Cache`](crate::Cache), or
//! freshen-blocking's `BlockingCache`) with its own single flight: the
//! machine is not rewritten per key, it is instantiated per key.
//!
//! Build those caches with [`ReadMode::Shared`](crate::ReadMode::Shared):
//! the default read path keeps spare token handles for every thread that
//! reads a cache (about 1.5 KB a cache read by one thread), the shared one
//! none (a cache is then about 450 bytes), for a few atomic operations
//! more a read. Read a key's
//! token for a header with `with(key, |cache| cache.with_cached(..))`,
//! which lends the token rather than handing it out (half those
//! operations). `BENCHMARKS.md` has both modes measured with 100,000 keys.
//!
//! The map is split into shards, each a `RwLock` over a hash table: a
//! lookup hashes the key once, takes one shard's read lock, and compares.
//! The hash is foldhash's, keyed per map from the OS's randomness (keys a
//! tenant picks are hard to aim at one bucket): for a key that hashes one
//! word, as `ShapeKey` does (eight bytes of its digest), that is one
//! multiply, where SipHash took a fifth of a hot lookup (profiled). Inserts
//! take the shard's write lock and build the value under it, so concurrent
//! first uses of a key build one cache (and so fetch once).

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use foldhash::SharedSeed;
use foldhash::fast::SeedableRandomState;
use hashbrown::HashTable;

use crate::clock::MonotonicClock;
use crate::runtime::Clock;

/// Default [`KeyedCacheBuilder::max_keys`].
pub const DEFAULT_MAX_KEYS: usize = 10_000;
/// Default [`KeyedCacheBuilder::idle_after`].
pub const DEFAULT_IDLE_AFTER: Duration = Duration::from_secs(60 * 60);

/// A key's last use is written at most this often: a hot key's entry stays
/// read-only between writes, so readers on several cores share its line.
const TOUCH_EVERY_NANOS: u64 = 1_000_000_000;
/// Shards at most; fewer for small bounds, so the bound stays exact.
const MAX_SHARDS: usize = 64;
/// Keys per shard before a bound is split across shards.
const KEYS_PER_SHARD: usize = 256;

/// One value (a cache) per key: see the [module docs](self).
///
/// Values are cheap handles (`Clone`); the map holds one, callers get
/// clones or borrow it in [`with`](KeyedCache::with). Evicting a key drops
/// the map's handle: a cache whose last handle goes stops its background
/// work, and a later use of the key builds a new one.
///
/// ```
/// use freshen_cache::{KeyedCache, KeyedCacheBuilder};
///
/// // Values here are plain strings; in real use, caches (see the README).
/// let keyed: KeyedCache<String, String> = KeyedCacheBuilder::new().max_keys(1_000).build();
/// let built = keyed.get_or_insert_with(&"read".to_owned(), || "cache for read".to_owned());
/// assert_eq!(built, "cache for read");
/// // The second use of the key finds it: the builder is not called.
/// let again = keyed.get_or_insert_with(&"read".to_owned(), || unreachable!());
/// assert_eq!(again, "cache for read");
/// assert_eq!(keyed.with(&"read".to_owned(), |v| v.len()), Some(14));
/// assert_eq!(keyed.with(&"write".to_owned(), |v| v.len()), None);
/// ```
pub struct KeyedCache<K, C, Clk = MonotonicClock> {
    shards: Box<[Shard<K, C>]>,
    /// `shards.len() - 1` (a power of two minus one).
    shard_mask: u64,
    hasher: SeedableRandomState,
    clock: Clk,
    /// Keys per shard at most.
    shard_cap: usize,
    idle_after_nanos: u64,
    len: AtomicUsize,
    /// When the next sweep of idle keys is due, in the clock's nanoseconds.
    next_sweep: AtomicU64,
}

/// One shard: a table of entries behind a read-mostly lock.
type Shard<K, C> = RwLock<HashTable<Entry<K, C>>>;

/// Its hash is not kept: the table rehashes a key when it grows, which the
/// keyed hasher does in a multiply (and 8 bytes a key are a tenth of it).
struct Entry<K, C> {
    key: K,
    value: C,
    last_used: AtomicU64,
}

/// Builds a [`KeyedCache`]: its bounds, and its clock.
#[derive(Clone, Debug)]
#[must_use]
pub struct KeyedCacheBuilder {
    max_keys: usize,
    idle_after: Duration,
}

impl Default for KeyedCacheBuilder {
    fn default() -> Self {
        KeyedCacheBuilder {
            max_keys: DEFAULT_MAX_KEYS,
            idle_after: DEFAULT_IDLE_AFTER,
        }
    }
}

impl KeyedCacheBuilder {
    /// The default bounds: 10,000 keys, 1 h idle.
    pub fn new() -> Self {
        Self::default()
    }

    /// At most this many keys (default 10,000): inserting past it evicts
    /// idle keys, then the least recently used. Large bounds are split
    /// across up to 64 shards, each evicting on its own, so the bound is
    /// kept to within the rounding up to a multiple of the shard count.
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys.max(1);
        self
    }

    /// A key unused for this long is evicted (default 1 h): its cache
    /// stops refreshing a token no one asks for. Sweeps run during lookups
    /// and inserts, at most once per half of this.
    pub fn idle_after(mut self, idle_after: Duration) -> Self {
        self.idle_after = idle_after;
        self
    }

    /// The keyed cache, on the real monotonic clock.
    pub fn build<K: Hash + Eq, C>(self) -> KeyedCache<K, C> {
        self.build_with_clock(MonotonicClock::new())
    }

    /// The keyed cache, on `clock` (a [`ManualClock`](crate::ManualClock)
    /// in tests) for idle times.
    pub fn build_with_clock<K: Hash + Eq, C, Clk: Clock>(
        self,
        clock: Clk,
    ) -> KeyedCache<K, C, Clk> {
        let shards = (self.max_keys / KEYS_PER_SHARD)
            .clamp(1, MAX_SHARDS)
            .next_power_of_two()
            .min(MAX_SHARDS);
        let idle_after_nanos = freshen_core::time::duration_nanos(self.idle_after);
        let now = clock.now().as_nanos();
        KeyedCache {
            shards: (0..shards).map(|_| RwLock::new(HashTable::new())).collect(),
            shard_mask: (shards - 1) as u64,
            hasher: keyed_hasher(),
            clock,
            shard_cap: self.max_keys.div_ceil(shards),
            idle_after_nanos,
            len: AtomicUsize::new(0),
            next_sweep: AtomicU64::new(now.saturating_add(idle_after_nanos / 2)),
        }
    }
}

impl<K: Hash + Eq, C> KeyedCache<K, C> {
    /// A builder (default bounds: 10,000 keys, 1 h idle).
    pub fn builder() -> KeyedCacheBuilder {
        KeyedCacheBuilder::default()
    }

    /// A keyed cache with the default bounds.
    pub fn new() -> Self {
        KeyedCacheBuilder::default().build()
    }
}

impl<K: Hash + Eq, C> Default for KeyedCache<K, C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Hash + Eq, C, Clk: Clock> KeyedCache<K, C, Clk> {
    /// Calls `f` with `key`'s value, if the key is held (and marks it used).
    /// The read path: one shard's read lock, no allocation, no clone. Use
    /// it for a cache's `cached()` read; use
    /// [`get_or_insert_with`](Self::get_or_insert_with) to build on a miss.
    #[inline]
    pub fn with<T>(&self, key: &K, f: impl FnOnce(&C) -> T) -> Option<T> {
        let now = self.clock.now().as_nanos();
        let hash = self.hasher.hash_one(key);
        let found = {
            let shard = self.read(hash);
            shard.find(hash, |e| e.key == *key).map(|entry| {
                touch(entry, now);
                f(&entry.value)
            })
        };
        self.sweep_if_due(now);
        found
    }

    /// A clone of `key`'s value, if held.
    pub fn get(&self, key: &K) -> Option<C>
    where
        C: Clone,
    {
        self.with(key, C::clone)
    }

    /// `key`'s value, built with `build` on the key's first use. Concurrent
    /// first uses of one key call `build` once (under the shard's write
    /// lock: keep it short — building a cache is — and do not use this
    /// keyed cache from it, which would wait on that lock for ever).
    /// Inserting into a full shard evicts its idle keys, then its least
    /// recently used one.
    pub fn get_or_insert_with(&self, key: &K, build: impl FnOnce() -> C) -> C
    where
        K: Clone,
        C: Clone,
    {
        if let Some(value) = self.get(key) {
            return value;
        }
        let now = self.clock.now().as_nanos();
        let hash = self.hasher.hash_one(key);
        let mut evicted = Vec::new();
        let value = {
            let mut shard = self.write(hash);
            if let Some(entry) = shard.find(hash, |e| e.key == *key) {
                touch(entry, now);
                entry.value.clone()
            } else {
                if shard.len() >= self.shard_cap {
                    self.evict_idle(&mut shard, now, &mut evicted);
                }
                if shard.len() >= self.shard_cap {
                    self.evict_oldest(&mut shard, &mut evicted);
                }
                let value = build();
                shard.insert_unique(
                    hash,
                    Entry {
                        key: key.clone(),
                        value: value.clone(),
                        last_used: AtomicU64::new(now),
                    },
                    |e| self.hasher.hash_one(&e.key),
                );
                self.len.fetch_add(1, Ordering::Relaxed);
                value
            }
        };
        // Evicted caches are dropped outside every lock.
        drop(evicted);
        self.sweep_if_due(now);
        value
    }

    /// Removes `key`, returning its value.
    pub fn remove(&self, key: &K) -> Option<C> {
        let hash = self.hasher.hash_one(key);
        let mut shard = self.write(hash);
        let entry = shard.find_entry(hash, |e| e.key == *key).ok()?;
        let (entry, _) = entry.remove();
        self.len.fetch_sub(1, Ordering::Relaxed);
        Some(entry.value)
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Evicts every key unused for the idle bound now, returning how many.
    /// Lookups and inserts call it on their own, at most once per half the
    /// idle bound; call it yourself if the keyed cache may go unused while
    /// its caches keep refreshing.
    pub fn sweep(&self) -> usize {
        let now = self.clock.now().as_nanos();
        let mut evicted = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.write().unwrap_or_else(PoisonError::into_inner);
            self.evict_idle(&mut shard, now, &mut evicted);
        }
        // Evicted caches are dropped outside every lock.
        evicted.len()
    }

    fn sweep_if_due(&self, now: u64) {
        let due = self.next_sweep.load(Ordering::Relaxed);
        if now < due {
            return;
        }
        let next = now.saturating_add(self.idle_after_nanos / 2);
        // One caller sweeps; the others go on.
        if self
            .next_sweep
            .compare_exchange(due, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.sweep();
        }
    }

    /// Moves every key of `shard` idle at `now` into `evicted`.
    fn evict_idle(&self, shard: &mut HashTable<Entry<K, C>>, now: u64, evicted: &mut Vec<C>) {
        let idle_after = self.idle_after_nanos;
        let before = evicted.len();
        evicted.extend(
            shard
                .extract_if(|e| {
                    now.saturating_sub(e.last_used.load(Ordering::Relaxed)) >= idle_after
                })
                .map(|e| e.value),
        );
        self.len
            .fetch_sub(evicted.len() - before, Ordering::Relaxed);
    }

    /// Moves `shard`'s least recently used key into `evicted`.
    fn evict_oldest(&self, shard: &mut HashTable<Entry<K, C>>, evicted: &mut Vec<C>) {
        let Some(oldest) = shard
            .iter()
            .map(|e| e.last_used.load(Ordering::Relaxed))
            .min()
        else {
            return;
        };
        // The first key last used then (under the write lock: no mark moves).
        let mut found = false;
        let before = evicted.len();
        evicted.extend(
            shard
                .extract_if(|e| {
                    let hit = !found && e.last_used.load(Ordering::Relaxed) == oldest;
                    found |= hit;
                    hit
                })
                .map(|e| e.value),
        );
        self.len
            .fetch_sub(evicted.len() - before, Ordering::Relaxed);
    }

    fn shard_index(&self, hash: u64) -> usize {
        // The table uses the low bits; shards the high ones.
        ((hash >> 48) & self.shard_mask) as usize
    }

    fn read(&self, hash: u64) -> RwLockReadGuard<'_, HashTable<Entry<K, C>>> {
        let shard = self
            .shards
            .get(self.shard_index(hash))
            .unwrap_or_else(|| unreachable!());
        shard.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self, hash: u64) -> RwLockWriteGuard<'_, HashTable<Entry<K, C>>> {
        let shard = self
            .shards
            .get(self.shard_index(hash))
            .unwrap_or_else(|| unreachable!());
        shard.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A hasher keyed from the OS's randomness: std's `RandomState` draws its
/// keys from it, and hashing a constant with them gives foldhash's seed.
fn keyed_hasher() -> SeedableRandomState {
    let seed = std::collections::hash_map::RandomState::new().hash_one(0x006B_6579_6564_u64);
    SeedableRandomState::with_seed(seed, SharedSeed::global_random())
}

/// Marks `entry` used at `now`, writing only when its mark is a second old.
#[inline]
fn touch<K, C>(entry: &Entry<K, C>, now: u64) {
    if now.saturating_sub(entry.last_used.load(Ordering::Relaxed)) >= TOUCH_EVERY_NANOS {
        entry.last_used.store(now, Ordering::Relaxed);
    }
}

impl<K, C, Clk> fmt::Debug for KeyedCache<K, C, Clk> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCache")
            .field("len", &self.len.load(Ordering::Relaxed))
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

/// The process-wide [`KeyedCache`] for keys `K` and values `C`: opt-in
/// sharing between clients built independently (50 clients for the same
/// endpoint, client and scopes fetch once). One per pair of types, created
/// on first use with the default bounds, never dropped.
///
/// Keep the reference: this call takes a process-wide lock; lookups on
/// the keyed cache it returns do not.
///
/// ```
/// use freshen_cache::registry;
///
/// // Two parts of a program that never see each other share one value.
/// let a = registry::<String, u32>().get_or_insert_with(&"k".to_owned(), || 7);
/// let b = registry::<String, u32>().get_or_insert_with(&"k".to_owned(), || unreachable!());
/// assert_eq!((a, b), (7, 7));
/// ```
pub fn registry<K, C>() -> &'static KeyedCache<K, C>
where
    K: Hash + Eq + Send + Sync + 'static,
    C: Send + Sync + 'static,
{
    type Registries = Mutex<HashMap<TypeId, &'static (dyn Any + Send + Sync)>>;
    static REGISTRIES: OnceLock<Registries> = OnceLock::new();
    let mut registries = REGISTRIES
        .get_or_init(Registries::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let registry: &'static (dyn Any + Send + Sync) = *registries
        .entry(TypeId::of::<KeyedCache<K, C>>())
        .or_insert_with(|| Box::leak(Box::new(KeyedCache::<K, C>::new())));
    match registry.downcast_ref::<KeyedCache<K, C>>() {
        Some(keyed) => keyed,
        None => unreachable!("registries are filed under their own type"),
    }
}
