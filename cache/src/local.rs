//! The read path's per-thread handles: a fresh token is handed out without a
//! single atomic read-modify-write.
//!
//! Returning an owned, `Send` token normally costs two locked instructions
//! per read (an `Arc` clone and its drop, or an `arc-swap` guard's debt slot
//! taken and paid), about 8 ns each on the machines freshen is measured on.
//! Instead each thread keeps a few `Arc` handles to each cache's current
//! token: a read moves one out (a plain move), and dropping the `TokenRef` on
//! the same thread moves it back. Handles are refilled from the published
//! cell only when the cache publishes a new token (its version changes) or
//! when a thread holds more tokens at once than it has handles.
//!
//! Cost: a thread keeps handles to the current token of at most
//! [`MAX_CACHES`] caches, released when it next reads that cache after a
//! rotation, when a newer cache evicts them, or when the thread ends. Until
//! then the token (expired or not) stays in memory and is zeroized later.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use freshen_core::Token;

/// Caches per thread that keep handles; a thread reading more evicts the
/// oldest (and pays the refill).
pub(crate) const MAX_CACHES: usize = 4;
/// Handles per cache per thread: how many tokens of one cache a thread may
/// hold at once before reads take the slow refill.
const MAX_HANDLES: usize = 16;

/// Gives each cache an id no later cache reuses (an address could be).
pub(crate) fn next_cache_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Where a pooled handle goes back to when it is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Home {
    pub(crate) cache: u64,
    pub(crate) version: u64,
}

struct Pool {
    home: Home,
    handles: Vec<Arc<Token>>,
}

thread_local! {
    static POOLS: RefCell<Vec<Pool>> = const { RefCell::new(Vec::new()) };
}

/// A handle to the token of `home`, from this thread's pool, or `refill()`
/// when the pool has none (or cannot be used: re-entry, thread teardown).
#[inline]
pub(crate) fn take(home: Home, refill: impl FnOnce() -> Arc<Token>) -> Arc<Token> {
    let pooled = POOLS
        .try_with(|pools| {
            let mut pools = pools.try_borrow_mut().ok()?;
            let pool = pools.iter_mut().find(|p| p.home.cache == home.cache)?;
            if pool.home.version != home.version {
                pool.handles.clear();
                pool.home.version = home.version;
                return None;
            }
            pool.handles.pop()
        })
        .ok()
        .flatten();
    match pooled {
        Some(handle) => handle,
        None => refill(),
    }
}

/// Puts a handle back into this thread's pool for `home`, if it still has
/// room and the cache has not published since; otherwise drops it.
#[inline]
pub(crate) fn give_back(home: Home, handle: Arc<Token>) {
    let kept = POOLS.try_with(|pools| {
        let Ok(mut pools) = pools.try_borrow_mut() else {
            return Some(handle);
        };
        let index = match pools.iter().position(|p| p.home.cache == home.cache) {
            Some(i) => i,
            None => {
                if pools.len() >= MAX_CACHES {
                    pools.remove(0);
                }
                pools.push(Pool {
                    home,
                    handles: Vec::with_capacity(MAX_HANDLES),
                });
                pools.len() - 1
            }
        };
        let pool = pools.get_mut(index)?;
        if home.version > pool.home.version {
            // The cache published since this pool was filled: start over.
            pool.handles.clear();
            pool.home.version = home.version;
        }
        if pool.home.version != home.version || pool.handles.len() >= MAX_HANDLES {
            return Some(handle);
        }
        pool.handles.push(handle);
        None
    });
    // Whatever was not kept (or a thread being torn down) is dropped here.
    drop(kept);
}
