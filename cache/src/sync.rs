//! The synchronisation primitives the cache is built on, in one place, so
//! that `--cfg loom` swaps them for loom's and the model checker explores
//! the code that ships (`tests/loom.rs`, run by `.ci/loom.sh`).
//!
//! Two primitives have no loom build, and are replaced under loom by a
//! stand-in with the same contract, built on loom's own primitives:
//! - the published token cell ([`Published`]): `arc-swap` in production, a
//!   loom `RwLock` under loom. Both are linearizable registers: a load that
//!   happens after a store sees that store or a later one.
//! - a slot's outcome ([`OnceCell`]): `std::sync::OnceLock` in production,
//!   a loom `Mutex<Option<T>>` under loom. Both: set at most once, and the
//!   set happens before every get that sees it.
//!
//! The per-thread spares of the read path have their own loom stand-in in
//! `read_path.rs`. Everything else (`Shared`, `Slot`, the read path's logic)
//! is the same code under loom and in production.

use std::sync::Arc;

/// The shared pointer for values that hold primitives of this module (an
/// attempt's slot): loom must see their reference counts to know when the
/// last holder's drop is ordered after the other holders' uses.
#[cfg(loom)]
pub use loom::sync::Arc as SyncArc;
#[cfg(not(loom))]
pub use std::sync::Arc as SyncArc;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

use freshen_core::Token;

/// Locks `mutex`, taking over a poisoned lock: what it guards is left
/// consistent by every holder, and a panic elsewhere must not wedge the cache.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The cell the read path loads the published token from.
#[cfg(not(loom))]
#[derive(Debug, Default)]
pub(crate) struct Published(arc_swap::ArcSwapOption<Token>);

#[cfg(not(loom))]
impl Published {
    #[inline]
    pub(crate) fn load(&self) -> Option<Arc<Token>> {
        self.0.load_full()
    }

    pub(crate) fn store(&self, token: Option<Arc<Token>>) {
        self.0.store(token);
    }

    /// Calls `f` with the current token, lent for the call: no count taken
    /// (an `arc-swap` guard, where `load` clones the `Arc`).
    #[inline]
    pub(crate) fn with<T>(&self, f: impl FnOnce(Option<&Arc<Token>>) -> T) -> T {
        f(self.0.load().as_ref())
    }
}

/// Loom's stand-in for the published cell (see the module docs).
#[cfg(loom)]
#[derive(Debug, Default)]
pub(crate) struct Published(loom::sync::RwLock<Option<Arc<Token>>>);

#[cfg(loom)]
impl Published {
    pub(crate) fn load(&self) -> Option<Arc<Token>> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn store(&self, token: Option<Arc<Token>>) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = token;
    }

    pub(crate) fn with<T>(&self, f: impl FnOnce(Option<&Arc<Token>>) -> T) -> T {
        f(self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref())
    }
}

/// A value set at most once, read by many.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct OnceCell<T>(std::sync::OnceLock<T>);

#[cfg(not(loom))]
impl<T> OnceCell<T> {
    pub(crate) fn new() -> Self {
        OnceCell(std::sync::OnceLock::new())
    }
    pub(crate) fn get(&self) -> Option<&T> {
        self.0.get()
    }
    /// `false` if a value was already set (this one is dropped).
    pub(crate) fn set(&self, value: T) -> bool {
        self.0.set(value).is_ok()
    }
}

/// Loom's stand-in for `OnceLock` (see the module docs).
#[cfg(loom)]
#[derive(Debug)]
pub(crate) struct OnceCell<T>(Mutex<Option<T>>);

#[cfg(loom)]
impl<T: Clone> OnceCell<T> {
    pub(crate) fn new() -> Self {
        OnceCell(Mutex::new(None))
    }
    pub(crate) fn get_cloned(&self) -> Option<T> {
        lock(&self.0).clone()
    }
    pub(crate) fn set(&self, value: T) -> bool {
        let mut slot = lock(&self.0);
        if slot.is_some() {
            return false;
        }
        *slot = Some(value);
        true
    }
}

#[cfg(not(loom))]
impl<T: Clone> OnceCell<T> {
    pub(crate) fn get_cloned(&self) -> Option<T> {
        self.get().cloned()
    }
}
