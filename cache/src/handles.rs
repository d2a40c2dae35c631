//! Handles to one token, kept as their number: every `Arc` handle to a
//! token is the same pointer, so `n` of them are the pointer once and `n`.
//!
//! The read path moves handles in bulk, between a thread's spares and the
//! cache's pool, whenever one thread drops what another took (a task that
//! moved to another worker with its request in flight). Kept as `Arc`s, a
//! batch of 32 is 256 bytes written on one core and read on the other,
//! four or five cache lines carried across at every batch; kept as a
//! count, the batch is two words, and moving it touches no handle.
//!
//! One of the crate's two modules with `unsafe` (the other is
//! `per_thread`): `Arc::into_raw` when a handle comes in, `Arc::from_raw`
//! when one goes out or is let go, with one invariant between them (see
//! [`Handles`]).

use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::Arc;

use freshen_core::Token;

/// `count` handles to one token. Owns `count` strong references to `token`,
/// each from an `Arc::into_raw`; while `count` is 0 it owns none, and
/// `token` means nothing (that token may be gone, its memory reused).
///
/// Two handles are of one token when their pointers are equal while a
/// handle to it is held, since a live allocation's address is its own; a
/// token's identity across time is its generation, which the read path
/// checks before it puts a handle here.
#[derive(Default)]
pub(crate) struct Handles {
    token: Cell<Option<NonNull<Token>>>,
    count: Cell<usize>,
}

// SAFETY: `Handles` owns strong references to a `Token`, as `Arc<Token>`
// does, and `Arc<Token>` is `Send` (`Token` is `Send + Sync`). It is not
// `Sync` (its `Cell`s): one thread at a time, as a thread's spares, or
// behind the pool's lock.
unsafe impl Send for Handles {}

impl Handles {
    /// Handles held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.count.get()
    }

    /// Takes one handle out.
    #[inline]
    pub(crate) fn pop(&self) -> Option<Arc<Token>> {
        let n = self.count.get().checked_sub(1)?;
        let token = self.token.get()?;
        self.count.set(n);
        // SAFETY: `n + 1` strong references to `token` were owned here (the
        // invariant); one moves out to the `Arc` made here.
        Some(unsafe { Arc::from_raw(token.as_ptr().cast_const()) })
    }

    /// Keeps `handle` if fewer than `room` are held and it is of the token
    /// they are of (or none is held); otherwise gives it back.
    #[inline]
    pub(crate) fn push(&self, handle: Arc<Token>, room: usize) -> Option<Arc<Token>> {
        let n = self.count.get();
        if n >= room || (n > 0 && !self.holds(&handle)) {
            return Some(handle);
        }
        // The strong reference `handle` owned is now owned here, through a
        // pointer from `into_raw` (one `from_raw` may take back).
        let token = NonNull::new(Arc::into_raw(handle).cast_mut());
        self.token.set(token);
        self.count.set(n + 1);
        None
    }

    /// Whether the handles held are of `handle`'s token (false with none).
    #[inline]
    fn holds(&self, handle: &Arc<Token>) -> bool {
        self.count.get() > 0
            && self
                .token
                .get()
                .is_some_and(|t| std::ptr::eq(t.as_ptr(), Arc::as_ptr(handle)))
    }

    /// Moves `from`'s handles here, as many as fit below `room`, if they are
    /// of the token held here (or none is held). Returns how many moved.
    pub(crate) fn take_from(&self, from: &Handles, room: usize) -> usize {
        let (here, there) = (self.count.get(), from.count.get());
        if there == 0 || (here > 0 && self.token.get() != from.token.get()) {
            return 0;
        }
        let moved = there.min(room.saturating_sub(here));
        if moved > 0 {
            // The strong references move with the count: `from` owns
            // `there - moved`, this `here + moved`, all to the same token.
            self.token.set(from.token.get());
            self.count.set(here + moved);
            from.count.set(there - moved);
        }
        moved
    }

    /// Lets every handle go (the token is freed with the last).
    pub(crate) fn clear(&self) {
        let n = self.count.replace(0);
        if n == 0 {
            return;
        }
        if let Some(token) = self.token.get() {
            for _ in 0..n {
                // SAFETY: `n` strong references to `token` were owned here
                // (the invariant), and `count` is 0 now: each is let go once.
                drop(unsafe { Arc::from_raw(token.as_ptr().cast_const()) });
            }
        }
    }
}

impl Drop for Handles {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::ReadMode;
    use crate::driver::{Outcome, Shared, Step};
    use freshen_core::{Fetched, Instant, Policy};

    /// A token made by a cache's machine, outliving the cache: the one
    /// strong reference is the test's.
    fn token(secret: &str) -> Arc<Token> {
        let shared = Shared::with_read_mode(Policy::default(), None, Some(1), ReadMode::Shared);
        let now = Instant::ZERO;
        let Step::Run { attempt, .. } = shared.decide(now) else {
            unreachable!("a new cache starts an attempt")
        };
        let fetched = Fetched::new(secret).with_lifetime(std::time::Duration::from_secs(3600));
        shared.complete(&attempt, Outcome::Fetched(Ok(fetched)), now, now);
        shared.cached(now).unwrap().into_arc()
    }

    #[test]
    fn handles_keep_their_token_alive_and_give_it_back_counted() {
        let a = token("a");
        let handles = Handles::default();
        for _ in 0..3 {
            assert!(handles.push(Arc::clone(&a), 8).is_none());
        }
        assert_eq!((handles.len(), Arc::strong_count(&a)), (3, 4));
        let out = handles.pop().unwrap();
        assert!(Arc::ptr_eq(&out, &a));
        assert_eq!((handles.len(), Arc::strong_count(&a)), (2, 4));
        drop(out);
        drop(handles);
        assert_eq!(Arc::strong_count(&a), 1, "the drop let every handle go");
    }

    #[test]
    fn a_handle_of_another_token_or_past_the_room_is_refused() {
        let (a, b) = (token("a"), token("b"));
        let handles = Handles::default();
        assert!(handles.push(Arc::clone(&a), 2).is_none());
        let refused = handles.push(Arc::clone(&b), 2).unwrap();
        assert!(Arc::ptr_eq(&refused, &b));
        assert!(handles.push(Arc::clone(&a), 2).is_none());
        assert!(handles.push(Arc::clone(&a), 2).is_some(), "no room");
        assert_eq!(Arc::strong_count(&b), 2, "b was not kept");
        handles.clear();
        assert_eq!((handles.len(), Arc::strong_count(&a)), (0, 1));
        // Empty, it takes any token again.
        assert!(handles.push(Arc::clone(&b), 2).is_none());
        assert!(Arc::ptr_eq(&handles.pop().unwrap(), &b));
        assert!(handles.pop().is_none());
    }

    #[test]
    fn a_batch_moves_as_a_count_within_the_room() {
        let (a, b) = (token("a"), token("b"));
        let (from, to) = (Handles::default(), Handles::default());
        for _ in 0..5 {
            assert!(from.push(Arc::clone(&a), 8).is_none());
        }
        assert_eq!(to.take_from(&from, 3), 3);
        assert_eq!((from.len(), to.len(), Arc::strong_count(&a)), (2, 3, 6));
        assert_eq!(to.take_from(&from, 3), 0, "no room");
        let other = Handles::default();
        assert!(other.push(Arc::clone(&b), 8).is_none());
        assert_eq!(other.take_from(&from, 8), 0, "another token's");
        assert!(Arc::ptr_eq(&to.pop().unwrap(), &a));
        drop((from, to, other));
        assert_eq!((Arc::strong_count(&a), Arc::strong_count(&b)), (1, 1));
    }
}
