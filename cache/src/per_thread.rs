//! A value per thread, owned by one cache: the read path's spares.
//!
//! A `thread_local::ThreadLocal` owned by the cache, so each thread's value
//! is freed with the cache (not with the thread, nor never). Finding this
//! thread's entry there costs a lookup through the crate's thread id on
//! every read and every drop; a thread-local memo of the last table used
//! and its entry makes the common case (a thread reading one cache again
//! and again) one thread-local load and a compare.
//!
//! The memo is keyed by the table's id, unique for the life of the process
//! and never reused, never by address: a table freed and another made at
//! the same address is never taken for the old one. When the ids match,
//! the table asking is the one the entry came from, alive (it is
//! borrowed), and the entry, which a `ThreadLocal` never moves or frees
//! before it is dropped, is alive too.

#[cfg(not(loom))]
use std::cell::Cell;
#[cfg(not(loom))]
use std::sync::atomic::{AtomicU64, Ordering};

/// Each thread's `T`, owned by the table.
#[cfg(not(loom))]
pub(crate) struct PerThread<T: Send> {
    values: thread_local::ThreadLocal<T>,
    /// Unique among every table of the process, never 0.
    id: u64,
}

#[cfg(not(loom))]
thread_local! {
    /// This thread's last table and its entry there (a `*const T` of that
    /// table's `T`), or (0, null). No destructor: reading it never fails,
    /// even while the thread's other locals are destroyed.
    static LAST: Cell<(u64, *const ())> = const { Cell::new((0, std::ptr::null())) };
}

#[cfg(not(loom))]
impl<T: Send + Default> PerThread<T> {
    pub(crate) fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        PerThread {
            values: thread_local::ThreadLocal::new(),
            id: NEXT.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Calls `f` with this thread's value, made with `T::default()` on
    /// the thread's first use.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let (id, entry) = LAST.get();
        if id == self.id {
            // SAFETY: the memo holds this table's id, so `entry` is the
            // entry this thread got from `self.values` (set below, on this
            // thread: the memo is thread-local). Ids are never reused, so
            // `self` is that table; it is borrowed, so alive, and a
            // `ThreadLocal` frees no entry before it is dropped.
            return f(unsafe { &*entry.cast::<T>() });
        }
        f(self.lookup())
    }

    /// This thread's entry, from the table: remembered for the next call.
    /// Out of line: the first use builds the value, and building it inline
    /// would give every read a large, realigned stack frame.
    #[cold]
    #[inline(never)]
    fn lookup(&self) -> &T {
        let entry = self.values.get_or_default();
        LAST.set((self.id, std::ptr::from_ref(entry).cast::<()>()));
        entry
    }
}

/// Loom's stand-in for `ThreadLocal` (whose thread ids loom's threads
/// share): a loom thread-local map from a table's id to its value.
#[cfg(loom)]
pub(crate) struct PerThread<T> {
    id: u64,
    /// Values live in each loom thread's map, not here: the table is `Sync`.
    _values: std::marker::PhantomData<fn() -> T>,
}

#[cfg(loom)]
loom::thread_local! {
    static VALUES: std::cell::RefCell<Vec<(u64, std::rc::Rc<dyn std::any::Any>)>> =
        std::cell::RefCell::new(Vec::new());
}

#[cfg(loom)]
impl<T: Default + 'static> PerThread<T> {
    pub(crate) fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        PerThread {
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            _values: std::marker::PhantomData,
        }
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let value = VALUES.with(|map| {
            let mut map = map.borrow_mut();
            match map.iter().find(|(id, _)| *id == self.id) {
                Some((_, value)) => std::rc::Rc::clone(value),
                None => {
                    let value: std::rc::Rc<dyn std::any::Any> = std::rc::Rc::new(T::default());
                    map.push((self.id, std::rc::Rc::clone(&value)));
                    value
                }
            }
        });
        match value.downcast_ref::<T>() {
            Some(value) => f(value),
            None => unreachable!("a table's values are of its type"),
        }
    }
}
