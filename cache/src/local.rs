//! The read path's per-thread handles: a fresh token is handed out without a
//! single atomic read-modify-write.
//!
//! Returning an owned, `Send` token normally costs two locked instructions
//! per read (an `Arc` clone and its drop, or an `arc-swap` guard's debt slot
//! taken and paid), about 8 ns each on the machines freshen is measured on.
//! Instead each thread keeps a few spare `Arc` handles to the current token
//! of the cache it read last, with the cache's version when it looked and
//! the instant the token stops being fresh ([`Token::fresh_until`]). A read
//! checks the version and that instant and moves a spare out (a plain move);
//! dropping the `TokenRef` on the same thread moves it back if it is a handle
//! to that same token. Spares are refilled from the published cell when the
//! cache publishes (its version changes), when the thread reads another
//! cache, or when it holds more tokens at once than it has spares — correct
//! in every case, only slower.
//!
//! Cost: a thread keeps up to [`SPARES`] handles to one token, released when
//! it next reads that cache after a rotation, reads another cache, or ends.
//! Until then the token (expired or not) stays in memory and is zeroized
//! later.

use std::cell::Cell;
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

/// This thread's spares: handles to one token, of one cache at one version.
///
/// The version says the token is still the one the cache publishes: any
/// change of the published token bumps it. The token's address (identity
/// only, never dereferenced) says which handles may come back; an address
/// reused by another token after every handle is gone can only be a token
/// published since, so the version no longer matches and the spares are
/// refilled before they serve anything.
struct Spares {
    cache: Cell<u64>,
    version: Cell<u64>,
    token: Cell<*const Token>,
    fresh_until: Cell<Instant>,
    count: Cell<usize>,
    handles: [Cell<Option<Arc<Token>>>; SPARES],
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

/// A handle to the token `cache` publishes at `version`, if it is fresh at
/// `now`: one of this thread's spares, or `refill()` (the published cell),
/// which the spares then follow. `None` when the token is not fresh.
#[inline]
pub(crate) fn take_fresh(
    cache: u64,
    version: u64,
    now: Instant,
    refill: impl FnOnce() -> Arc<Token>,
) -> Option<Arc<Token>> {
    let spare = SPARE.try_with(|s| {
        if s.cache.get() != cache || s.version.get() != version {
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
            follow(cache, version, &token);
            (token.fresh_until() > now).then_some(token)
        }
    }
}

/// Points this thread's spares at `token` of `cache` at `version`, unless
/// they already hold it.
fn follow(cache: u64, version: u64, token: &Arc<Token>) {
    let _ = SPARE.try_with(|s| {
        if s.cache.get() == cache && s.token.get() == Arc::as_ptr(token) {
            s.version.set(s.version.get().max(version));
            return;
        }
        for cell in &s.handles {
            drop(cell.take());
        }
        s.count.set(0);
        s.cache.set(cache);
        s.version.set(version);
        s.token.set(Arc::as_ptr(token));
        s.fresh_until.set(token.fresh_until());
    });
}

/// Puts a handle back among this thread's spares if it is a handle to the
/// token they follow and there is room; otherwise drops it.
#[inline]
pub(crate) fn give_back(handle: Arc<Token>) {
    let refused = SPARE.try_with(|s| {
        if s.token.get() != Arc::as_ptr(&handle) {
            return Some(handle);
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
