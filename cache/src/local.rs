//! The read path's per-thread handles: a fresh token is handed out without a
//! single atomic read-modify-write.
//!
//! Returning an owned, `Send` token normally costs two locked instructions
//! per read (an `Arc` clone and its drop, or an `arc-swap` guard's debt slot
//! taken and paid), about 8 ns each on the machines freshen is measured on.
//! Instead each thread keeps a few spare `Arc` handles to the current token
//! of the cache it read last, with the instant that token stops being fresh
//! ([`Token::fresh_until`]): a read checks the cache's version and that
//! instant and moves a spare out (a plain move); dropping the `TokenRef` on
//! the same thread moves it back. Spares are refilled from the published
//! cell when the cache publishes a new token (its version changes), when the
//! thread reads another cache, or when it holds more tokens at once than it
//! has spares — correct in every case, only slower.
//!
//! Cost: a thread keeps up to [`SPARES`] handles to one token, released when
//! it next reads that cache after a rotation, reads another cache, or ends.
//! Until then the token (expired or not) stays in memory and is zeroized
//! later.

use std::cell::Cell;
use std::num::NonZeroU64;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use freshen_core::{Instant, Token};

/// Spare handles a thread keeps: how many tokens it may hold at once before
/// reads take the refill.
pub(crate) const SPARES: usize = 8;

/// Gives each cache an id no later cache reuses (an address could be).
/// Starts at 1: 0 is "no cache".
pub(crate) fn next_cache_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Which cache a handle belongs to, and the cache's version when the reader
/// looked, in one word so that a `TokenRef` (and the future that carries
/// it) stays two words and moves in registers. Caches past the 2^24th and
/// versions past the 2^40th are simply not pooled (`Home::NONE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Home(NonZeroU64);

const VERSION_BITS: u32 = 40;
const VERSION_MASK: u64 = (1 << VERSION_BITS) - 1;

impl Home {
    /// A handle that never goes back to a thread.
    pub(crate) const NONE: Home = Home(NonZeroU64::MAX);

    pub(crate) fn new(cache: u64, version: u64) -> Home {
        if cache == 0 || cache >= (1 << (64 - VERSION_BITS)) - 1 || version > VERSION_MASK {
            return Home::NONE;
        }
        match NonZeroU64::new((cache << VERSION_BITS) | version) {
            Some(word) => Home(word),
            None => Home::NONE,
        }
    }

    pub(crate) fn is_pooled(self) -> bool {
        self != Home::NONE
    }

    fn cache(self) -> u64 {
        self.0.get() >> VERSION_BITS
    }

    fn version(self) -> u64 {
        self.0.get() & VERSION_MASK
    }
}

/// This thread's spares, all handles to one token of one cache.
struct Spares {
    cache: Cell<u64>,
    version: Cell<u64>,
    /// The token the spares point to (identity only, never dereferenced).
    token: Cell<*const Token>,
    fresh_until: Cell<Instant>,
    count: Cell<usize>,
    handles: [Cell<Option<Arc<Token>>>; SPARES],
}

impl Spares {
    /// Makes the spares hold handles to `token` of `home` from now on.
    fn reset(&self, home: Home, token: &Arc<Token>) {
        for cell in &self.handles {
            drop(cell.take());
        }
        self.count.set(0);
        self.cache.set(home.cache());
        self.version.set(home.version());
        self.token.set(Arc::as_ptr(token));
        self.fresh_until.set(token.fresh_until());
    }
}

thread_local! {
    static SPARE: Spares = const {
        Spares {
            cache: Cell::new(0),
            version: Cell::new(0),
            token: Cell::new(std::ptr::null()),
            fresh_until: Cell::new(Instant::ZERO),
            count: Cell::new(0),
            handles: [const { Cell::new(None) }; SPARES],
        }
    };
}

/// A handle to the token of `home` if it is fresh at `now`: one of this
/// thread's spares, or `refill()` (the published cell) when there is none.
/// `None` when the token is not fresh.
#[inline]
pub(crate) fn take_fresh(
    home: Home,
    now: Instant,
    refill: impl FnOnce() -> Arc<Token>,
) -> Option<Arc<Token>> {
    let spare = SPARE.try_with(|s| {
        if s.cache.get() != home.cache() || s.version.get() != home.version() {
            return None;
        }
        if now >= s.fresh_until.get() {
            return Some(None);
        }
        let n = s.count.get().checked_sub(1)?;
        let handle = s.handles.get(n)?.take()?;
        s.count.set(n);
        Some(Some(handle))
    });
    match spare {
        Ok(Some(fresh)) => fresh,
        _ => {
            let token = refill();
            (token.fresh_until() > now).then_some(token)
        }
    }
}

/// Puts a handle back among this thread's spares, if it is of the token
/// they hold (or they may start over with it) and there is room; otherwise
/// drops it.
#[inline]
pub(crate) fn give_back(home: Home, handle: Arc<Token>) {
    let refused = SPARE.try_with(|s| {
        let (cache, version) = (home.cache(), home.version());
        if s.cache.get() == cache && s.token.get() == Arc::as_ptr(&handle) {
            // The token the spares hold (alive: we hold a handle to it).
            // Its version may be newer than the spares knew (a refill that
            // raced a publish), and its instants are read afresh, since an
            // address can be reused once every handle is gone.
            s.version.set(s.version.get().max(version));
            s.fresh_until.set(handle.fresh_until());
        } else if s.cache.get() == cache && version <= s.version.get() {
            // A handle of an older version: dropped.
            return Some(handle);
        } else {
            // A newer version, or another cache: the spares start over.
            s.reset(home, &handle);
        }
        let n = s.count.get();
        match s.handles.get(n) {
            Some(cell) => {
                s.count.set(n + 1);
                cell.replace(Some(handle))
            }
            None => Some(handle),
        }
    });
    // What was not kept (or a thread being torn down) is dropped here.
    drop(refused);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homes_pack_cache_and_version_and_refuse_what_does_not_fit() {
        let home = Home::new(7, 12_345);
        assert!(home.is_pooled());
        assert_eq!((home.cache(), home.version()), (7, 12_345));
        assert_eq!(Home::new(0, 1), Home::NONE, "no cache");
        assert_eq!(Home::new(1 << 24, 1), Home::NONE, "cache id past 2^24");
        assert_eq!(Home::new((1 << 24) - 1, 1), Home::NONE, "the id NONE uses");
        assert_eq!(Home::new(3, 1 << 40), Home::NONE, "version past 2^40");
        assert!(Home::new((1 << 24) - 2, (1 << 40) - 1).is_pooled());
    }
}
