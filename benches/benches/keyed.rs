//! The keyed cache with 100,000 keys: what a cached lookup costs, and how
//! many bytes each key takes beside its token.
//!
//! Each key is a `ShapeKey` of a client-credentials request (its own scope
//! and audience); each value an inline `BlockingCache` (no thread) holding a
//! fresh 1-hour token. A lookup is `KeyedCache::with(key, |c| c.cached())`,
//! the secret's length read and the token dropped. Two keyed caches of the
//! same keys: `shared`, whose caches are built with `ReadMode::Shared` (what
//! the README shows for keyed use), and `per-thread`, the default read mode:
//!
//! - `keyed/<mode>/hot`: one key, over and over (the CPU caches hold it);
//! - `keyed/<mode>/spread`: the 100,000 keys in a shuffled order, so most
//!   lookups miss the CPU caches, as in a process serving many tenants;
//! - `... with_cached`: the same lookups with the token lent to a closure
//!   (`with_cached`) rather than handed out as a `TokenRef` (`cached()`);
//! - `keyed/control/plain cached()`: one inline cache's `cached()` with no
//!   map around it, the control to compare the lookups with in the same run.
//!
//! Times are the bench thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), which
//! stops while the thread is off its core: on a machine shared with builds
//! they move far less than wall time.
//!
//! Memory is counted by a counting global allocator (bytes live after the
//! keys are built and read once, minus before), not computed from sizes.
//! The token's own part — its `Arc<Token>` and the secret's and the type's
//! strings — is computed from their sizes and taken off, to give the
//! bytes per key beside the token. Printed before the timings, with where
//! the bytes go: the cache as built, its first fetch and read, a second
//! read, and the map's entry (each stage's live bytes, on one thread).
//!
//! Run: `cargo bench --manifest-path benches/Cargo.toml --bench keyed`
//! (add `-- --quick` on a busy machine).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

use freshen_blocking::{BlockingCache, Mode, ReadMode};
use freshen_cache::{KeyedCache, KeyedCacheBuilder};
use freshen_core::{BlockingTokenSource, Error, Fetched, Token};
use freshen_oauth::{ClientAuth, ShapeKey, TokenRequest};

/// Live heap bytes, counted by [`Counting`].
static LIVE: AtomicIsize = AtomicIsize::new(0);

/// The system allocator, counting live bytes.
struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const KEYS: usize = 100_000;
/// The secret's length: a typical opaque token.
const SECRET: &str = "at-0123456789abcdef0123456789abcdef";

/// Mints one fresh 1-hour token.
struct Minter;

impl BlockingTokenSource for Minter {
    fn fetch(&self) -> Result<Fetched, Error> {
        Ok(Fetched::new(SECRET)
            .with_lifetime(Duration::from_secs(3600))
            .with_token_type("Bearer"))
    }
}

type Value = BlockingCache<Minter>;

fn key(i: usize) -> ShapeKey {
    TokenRequest::client_credentials(
        "https://auth.example.com/oauth2/token",
        ClientAuth::basic("app", "secret"),
    )
    .scope(format!("tenant-{i}.read"))
    .audience("https://api.example.com")
    .shape_key()
}

fn read(keyed: &KeyedCache<ShapeKey, Value>, key: &ShapeKey) -> usize {
    keyed
        .with(key, |cache| cache.cached().map_or(0, |t| t.secret().len()))
        .unwrap_or(0)
}

/// The lookup with the token lent for the call (`with_cached`), not handed
/// out as a `TokenRef`.
fn read_lent(keyed: &KeyedCache<ShapeKey, Value>, key: &ShapeKey) -> usize {
    keyed
        .with(key, |cache| cache.with_cached(|t| t.secret().len()))
        .flatten()
        .unwrap_or(0)
}

/// A shuffled order of `0..n` (a fixed xorshift, so runs compare).
fn shuffled(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    order
}

/// The CPU time this thread spends in `work`: it stops while the thread is
/// off its core, so other processes on a shared machine do not count.
fn on_cpu(work: impl FnOnce()) -> Duration {
    let cpu = || {
        let ts = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        Duration::new(
            u64::try_from(ts.tv_sec).unwrap_or(0),
            u32::try_from(ts.tv_nsec).unwrap_or(0),
        )
    };
    let start = cpu();
    work();
    cpu().saturating_sub(start)
}

/// Live bytes now.
fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// The bytes of one token: its Arc (two counts and the Token), the secret's
/// and the token type's heap strings.
fn token_bytes() -> f64 {
    (2 * size_of::<usize>() + size_of::<Token>() + SECRET.len() + "Bearer".len()) as f64
}

/// A keyed cache of `keys`, each value an inline cache read as `mode` says,
/// each fetched and read once; prints the bytes per key and where they go.
fn fill(keys: &[ShapeKey], mode: ReadMode, name: &str) -> KeyedCache<ShapeKey, Value> {
    let before = live();
    let keyed: KeyedCache<ShapeKey, Value> = KeyedCacheBuilder::new().max_keys(2 * KEYS).build();
    // Where the bytes go, stage by stage (one thread: the deltas are exact).
    let (mut built, mut fetched, mut first_read, mut entry) = (0, 0, 0, 0);
    for k in keys {
        let at = live();
        let cache = BlockingCache::builder(Minter)
            .mode(Mode::Inline)
            .read_mode(mode)
            .build();
        let at_built = live();
        assert_eq!(cache.token().unwrap().secret(), SECRET);
        let at_fetched = live();
        assert_eq!(cache.cached().unwrap().secret(), SECRET);
        let at_read = live();
        keyed.get_or_insert_with(k, || cache);
        assert_eq!(read(&keyed, k), SECRET.len());
        let at_entry = live();
        built += at_built - at;
        fetched += at_fetched - at_built;
        first_read += at_read - at_fetched;
        entry += at_entry - at_read;
    }
    let after = live();
    assert_eq!(keyed.len(), keys.len());
    let n = keys.len() as f64;
    let per_key = (after - before) as f64 / n;
    let token = token_bytes();
    println!(
        "keyed/{name}: {} keys: {per_key:.0} bytes per key in all, the token {token:.0}, \
         {:.0} beside the token (counting allocator; the token from sizes)",
        keys.len(),
        per_key - token
    );
    // `token()` reads the cache first: a per-thread read path makes the
    // thread's spares there, so they count in the first fetch.
    let per = |bytes: isize| bytes as f64 / n;
    println!(
        "keyed/{name}: per key: the cache built {:.0}; its first fetch and read {:.0} (the \
         token {token:.0} and {:.0} more); a second read {:.0}; the map's entry {:.0} (a \
         ShapeKey is {} bytes inline)",
        per(built),
        per(fetched),
        per(fetched) - token,
        per(first_read),
        per(entry),
        size_of::<ShapeKey>(),
    );
    keyed
}

type Lookup = fn(&KeyedCache<ShapeKey, Value>, &ShapeKey) -> usize;

fn lookups(c: &mut Criterion, keyed: &KeyedCache<ShapeKey, Value>, keys: &[ShapeKey], name: &str) {
    let mut group = c.benchmark_group(format!("keyed/{name}"));
    let hot = &keys[KEYS / 2];
    let order = shuffled(KEYS);
    let ways: [(&str, Lookup); 2] = [("", read), (" with_cached", read_lent)];
    for (way, lookup) in ways {
        assert_eq!(lookup(keyed, hot), SECRET.len());
        group.bench_function(format!("hot{way}"), |b| {
            b.iter_custom(|iters| {
                on_cpu(|| {
                    for _ in 0..iters {
                        black_box(lookup(keyed, black_box(hot)));
                    }
                })
            })
        });
        let mut next = 0;
        group.bench_function(format!("spread{way}"), |b| {
            b.iter_custom(|iters| {
                on_cpu(|| {
                    for _ in 0..iters {
                        next = (next + 1) % KEYS;
                        black_box(lookup(keyed, black_box(&keys[order[next]])));
                    }
                })
            })
        });
    }
    group.finish();
}

fn keyed(c: &mut Criterion) {
    // The keys are the caller's (a client keeps its request's key); only
    // what the keyed cache adds per key is counted.
    let keys: Vec<ShapeKey> = (0..KEYS).map(key).collect();
    let shared = fill(&keys, ReadMode::Shared, "shared");
    let per_thread = fill(&keys, ReadMode::PerThread, "per-thread");

    // The control: one plain inline cache's `cached()`, no map around it.
    let plain = BlockingCache::builder(Minter).mode(Mode::Inline).build();
    assert!(plain.token().is_ok());
    c.bench_function("keyed/control/plain cached()", |b| {
        b.iter_custom(|iters| {
            on_cpu(|| {
                for _ in 0..iters {
                    black_box(black_box(&plain).cached().map_or(0, |t| t.secret().len()));
                }
            })
        })
    });
    lookups(c, &shared, &keys, "shared");
    lookups(c, &per_thread, &keys, "per-thread");
}

criterion_group!(benches, keyed);
criterion_main!(benches);
