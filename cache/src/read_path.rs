//! The lock-free read path: the token a cache publishes, and each thread's
//! spare handles to it, owned by the cache.
//!
//! Handing out an owned, `Send` token normally costs two locked
//! instructions per read (an `Arc` clone and its drop), about 8 ns each, and
//! far more when threads contend for the count. Instead each thread that
//! reads a cache keeps a few spare `Arc` handles to that cache's current
//! token, with the cache's publish version when it looked and the instant
//! the token stops being fresh ([`Token::fresh_until`]). A read checks the
//! version and that instant and moves a spare out; dropping the
//! [`crate::TokenRef`] moves it back into the spares of the thread that drops
//! it, if they follow the same token. No atomic read-modify-write in the
//! steady state, whichever thread a handle ends on.
//!
//! Identity is the token's [`Generation`] (its cache and number), never its
//! address: a freed token's memory reused by a newer token is never taken
//! for the old one.
//!
//! Threads that drop more handles than they take (a task that moved to
//! another worker while its request was in flight, every time) would
//! otherwise pay a shared count on every token: their own spares adopt the
//! current token, and when full they hand them back in one batch to a pool
//! the cache keeps, where threads whose spares ran out take a batch again.
//! Two lock operations per [`SPARES`] tokens each way, instead of two
//! contended atomic operations per token; and a batch moves as a number
//! ([`Handles`]), so no handle crosses between cores one by one.
//!
//! Lifetime: the spares live in the cache (a `thread_local::ThreadLocal`),
//! so they are freed, and their tokens zeroized, when the cache is dropped.
//! Until then a thread keeps at most [`SPARES`] handles, all to the one
//! token it saw last; it lets them go when it next reads, or gives back a
//! handle of the current token, after a rotation. The pool holds at most
//! [`POOL`] handles, only ever of the current token, and is emptied by
//! every publish.
//!
//! A cache built with [`ReadMode::Shared`] keeps no spares: a read clones
//! the published handle and the drop of its `TokenRef` drops it. The
//! per-thread table is boxed so that such a cache does not carry it.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use freshen_core::{Generation, Instant, Token};

use crate::handles::Handles;
use crate::per_thread::PerThread;
use crate::read_mode::ReadMode;
use crate::sync::{AtomicU64, Mutex, Ordering, Published, lock};

/// Spare handles a thread keeps per cache: as many tokens as it may hold at
/// once (tasks with a request in flight) before reads take a new handle
/// from the published cell.
pub const SPARES: usize = 32;

/// Handles the cache's pool of returned spares holds at most.
pub const POOL: usize = 4 * SPARES;

/// `Spared::current` when nothing is published.
const NONE: u64 = u64::MAX;

/// A spares' version that no publish has: they follow a token adopted on a
/// drop, and the next read checks it against the published cell.
const UNKNOWN: u64 = u64::MAX;

/// The published token and every thread's spares. See the module docs.
pub(crate) struct ReadPath {
    published: Published,
    /// Bumped after every publish: a thread's spares are of the version
    /// they were filled at.
    version: AtomicU64,
    /// `None`: [`ReadMode::Shared`], no spares.
    spares: Option<Box<Spared>>,
}

/// What a read path with spares keeps beyond the published cell: boxed, so
/// a cache built with [`ReadMode::Shared`] does not carry it.
struct Spared {
    threads: PerThread<Spares>,
    /// The number of the published token ([`NONE`]: none): the one token
    /// whose handles a thread may adopt on a drop, and the pool may hold.
    current: AtomicU64,
    pool: Mutex<Pool>,
}

/// Handles given back in batches by threads whose spares were full.
#[derive(Default)]
struct Pool {
    generation: Option<Generation>,
    handles: Handles,
}

impl fmt::Debug for ReadPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadPath")
            .field("published", &self.published.load())
            .finish_non_exhaustive()
    }
}

impl ReadPath {
    pub(crate) fn new(mode: ReadMode) -> Self {
        ReadPath {
            published: Published::default(),
            version: AtomicU64::new(0),
            spares: match mode {
                ReadMode::PerThread => Some(Box::new(Spared {
                    threads: PerThread::new(),
                    current: AtomicU64::new(NONE),
                    pool: Mutex::new(Pool::default()),
                })),
                ReadMode::Shared => None,
            },
        }
    }

    /// A handle to the published token if it is fresh at `now`: one of
    /// this thread's spares, or a new handle from the cell, which the
    /// spares then follow.
    #[inline(always)]
    pub(crate) fn take_fresh(&self, now: Instant) -> Option<Arc<Token>> {
        let Some(spares) = &self.spares else {
            return self.take_shared(now);
        };
        let version = self.version.load(Ordering::Acquire);
        spares.threads.with(|s| {
            if s.version.get() == version {
                if now >= s.fresh_until.get() {
                    return None;
                }
                if let Some(handle) = s.pop() {
                    return Some(handle);
                }
            }
            self.refill(s, version, now)
        })
    }

    /// Calls `f` with the published token if it is fresh at `now`, lent
    /// for the call: a spare lent and put back, or with
    /// [`ReadMode::Shared`] the published cell's own handle under an
    /// `arc-swap` guard (two atomic operations, not four: no count).
    #[inline]
    pub(crate) fn with_fresh<T>(&self, now: Instant, f: impl FnOnce(&Token) -> T) -> Option<T> {
        if self.spares.is_some() {
            let handle = self.take_fresh(now)?;
            let out = f(&handle);
            self.give_back(handle);
            return Some(out);
        }
        self.published
            .with(|token| token.filter(|t| now < t.fresh_until()).map(|t| f(t)))
    }

    /// [`ReadMode::Shared`]: a new handle from the published cell.
    #[inline]
    fn take_shared(&self, now: Instant) -> Option<Arc<Token>> {
        self.published.load().filter(|t| now < t.fresh_until())
    }

    /// A new handle from the published cell, which `spares` then follow:
    /// after a publish, or with every spare out. Kept out of the inlined
    /// read.
    #[cold]
    #[inline(never)]
    fn refill(&self, spares: &Spares, version: u64, now: Instant) -> Option<Arc<Token>> {
        // Every spare is out, and the token they follow is the published
        // one and fresh (the caller checked): a batch from the pool, if it
        // has one of that token.
        if spares.version.get() == version {
            if let (Some(spared), Some(generation)) = (&self.spares, spares.generation.get()) {
                if let Some(handle) = spared.take_batch(spares, generation) {
                    return Some(handle);
                }
            }
        }
        // Loaded after `version`: at least as new as its publish.
        let token = self.published.load();
        spares.follow(version, token.as_ref());
        token.filter(|t| now < t.fresh_until())
    }

    /// Puts `handle` among this thread's spares if they follow its token
    /// and have room; otherwise see [`Spared::returned`].
    #[inline(never)]
    pub(crate) fn give_back(&self, handle: Arc<Token>) {
        let Some(spared) = &self.spares else {
            release(handle);
            return;
        };
        let refused = spared.threads.with(|s| {
            if s.generation.get() == Some(handle.generation()) {
                s.push(handle)
            } else {
                Some(handle)
            }
        });
        if let Some(handle) = refused {
            spared.returned(handle);
        }
    }

    /// The published token, fresh or not (`None`: none, or invalidated).
    #[cfg(any(feature = "tracing", feature = "metrics"))]
    pub(crate) fn held(&self) -> Option<Arc<Token>> {
        self.published.load()
    }

    /// Publishes `token` (`None`: nothing may be served from the read
    /// path). Called under the cache's state lock, so publishes are ordered.
    pub(crate) fn publish(&self, token: Option<Arc<Token>>) {
        let number = token.as_ref().map_or(NONE, |t| t.generation().number());
        self.published.store(token);
        // After the store: a reader that sees the new version loads the new
        // token (or a newer one) when it refills.
        self.version.fetch_add(1, Ordering::Release);
        if let Some(spared) = &self.spares {
            spared.current.store(number, Ordering::Release);
            // Emptied after `current` moved on, under the pool's lock: a
            // batch put in before this is let go here, one put in after it
            // sees the new number and is refused.
            let stale = std::mem::take(&mut *lock(&spared.pool));
            drop(stale);
        }
    }
}

impl Spared {
    /// A handle this thread's spares refused: they are full, or follow
    /// another token (or none: a thread that only drops). A handle of the
    /// current token is kept: the spares follow it, and when full are
    /// handed to the pool with it in one batch. Any other is let go.
    #[cold]
    #[inline(never)]
    fn returned(&self, handle: Arc<Token>) {
        if self.current.load(Ordering::Acquire) != handle.generation().number() {
            release(handle);
            return;
        }
        self.threads.with(|s| {
            if s.generation.get() == Some(handle.generation()) {
                self.spill(s, handle);
            } else {
                s.adopt(&handle);
                if let Some(refused) = s.push(handle) {
                    release(refused);
                }
            }
        });
    }

    /// Moves `handle` and this thread's spares (all of its token) into the
    /// pool, as far as it has room; the rest is let go.
    fn spill(&self, spares: &Spares, handle: Arc<Token>) {
        let generation = handle.generation();
        let mut pool = lock(&self.pool);
        // Checked under the lock: see `publish`.
        if self.current.load(Ordering::Acquire) != generation.number() {
            drop(pool);
            release(handle);
            return;
        }
        if pool.generation != Some(generation) {
            pool.handles.clear();
            pool.generation = Some(generation);
        }
        if let Some(refused) = pool.handles.push(handle, POOL) {
            drop(pool);
            release(refused);
            return;
        }
        pool.handles.take_from(&spares.handles, POOL);
    }

    /// A handle from the pool if it holds `generation`'s, and up to
    /// [`SPARES`] more moved into `spares`.
    fn take_batch(&self, spares: &Spares, generation: Generation) -> Option<Arc<Token>> {
        let pool = lock(&self.pool);
        if pool.generation != Some(generation) {
            return None;
        }
        let first = pool.handles.pop()?;
        spares.handles.take_from(&pool.handles, SPARES);
        Some(first)
    }
}

/// Drops a handle the spares had no place for (an atomic decrement, and the
/// token itself if it was the last): out of line, so the read path's drop
/// stays small enough to inline.
#[inline(never)]
fn release(handle: Arc<Token>) {
    drop(handle);
}

/// One thread's spares for one cache, on cache lines of its own: the
/// entries of two threads sit side by side in the cache's `ThreadLocal`,
/// and a shared line would make every read on one thread miss on the
/// other's (measured: 28–31 ns a read on 2 threads, 9–11 ns padded).
#[derive(Default)]
#[repr(align(128))]
struct Spares {
    version: Cell<u64>,
    /// The token the handles are of (`None`: nothing published).
    generation: Cell<Option<Generation>>,
    fresh_until: Cell<Instant>,
    handles: Handles,
}

impl Spares {
    #[inline]
    fn pop(&self) -> Option<Arc<Token>> {
        self.handles.pop()
    }

    /// Keeps `handle`, or gives it back if there is no room.
    #[inline]
    fn push(&self, handle: Arc<Token>) -> Option<Arc<Token>> {
        self.handles.push(handle, SPARES)
    }

    /// Follows the token of `handle`, given back on this thread, whose
    /// version is not known yet (the next read checks it): the handles
    /// held for another token are let go.
    fn adopt(&self, handle: &Token) {
        if self.generation.get() != Some(handle.generation()) {
            self.handles.clear();
            self.generation.set(Some(handle.generation()));
            self.fresh_until.set(handle.fresh_until());
        }
        self.version.set(UNKNOWN);
    }

    /// Follows `token`, published at `version` or later.
    fn follow(&self, version: u64, token: Option<&Arc<Token>>) {
        let generation = token.map(|t| t.generation());
        self.version.set(version);
        if generation.is_some() && self.generation.get() == generation {
            return;
        }
        self.handles.clear();
        self.generation.set(generation);
        self.fresh_until
            .set(token.map_or(Instant::ZERO, |t| t.fresh_until()));
    }
}
