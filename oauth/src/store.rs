//! Where a refresh token survives a restart: the [`TokenStore`] contract
//! that [`OAuthSource::with_store`](crate::OAuthSource::with_store) follows.
//!
//! A refresh-token grant whose server rotates refresh tokens spends the one
//! it holds on every refresh: a process that keeps the new one only in
//! memory starts its next run with a retired token (`invalid_grant`, or a
//! revoked session under reuse detection), and two processes sharing one
//! grant spend the same token twice. A store fixes both: the source takes
//! the store's lock, re-reads it, refreshes only if no one else already did,
//! and writes the rotated token before it lets go.
//!
//! This crate holds the contract only (it does no I/O); the file store is
//! freshen-store's `FileStore`.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Poll, Waker};

use freshen_core::{Error, Secret};

/// What a store keeps between runs: the refresh token, and the access token
/// with its wall-clock expiry so a restarted (or second) process can adopt a
/// token still good instead of fetching one. `Debug` shows no secret.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredToken {
    /// The refresh token to present next.
    pub refresh_token: Option<Secret>,
    /// The last access token fetched.
    pub access_token: Option<Secret>,
    /// Its `token_type`, as sent.
    pub token_type: Option<String>,
    /// When the access token expires, in whole seconds since the Unix
    /// epoch (wall time: monotonic instants do not survive a restart).
    pub expires_at_unix: Option<u64>,
}

impl StoredToken {
    /// A record holding only a refresh token.
    pub fn refresh_only(refresh_token: impl Into<Secret>) -> Self {
        StoredToken {
            refresh_token: Some(refresh_token.into()),
            ..StoredToken::default()
        }
    }

    /// The same record with its access token, type and absolute expiry set.
    #[must_use]
    pub fn with_access_token(
        mut self,
        access_token: impl Into<Secret>,
        token_type: Option<String>,
        expires_at_unix: Option<u64>,
    ) -> Self {
        self.access_token = Some(access_token.into());
        self.token_type = token_type;
        self.expires_at_unix = expires_at_unix;
        self
    }
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| ".."))
            .field("access_token", &self.access_token.as_ref().map(|_| ".."))
            .field("token_type", &self.token_type)
            .field("expires_at_unix", &self.expires_at_unix)
            .finish()
    }
}

/// A place where the refresh token survives a restart, shared by every
/// process that uses the same grant.
///
/// [`lock`](TokenStore::lock) must exclude every other holder of the same
/// store, in this process and in others, until the returned [`StoreLock`]
/// is dropped: the source holds it across read → refresh → write, so a
/// second process waits and then re-reads the rotated token instead of
/// spending the old one. Taking the lock may block the thread (a file lock
/// does) for as long as another holder's refresh, which its transport's
/// timeout bounds: blocking sources call [`lock`](TokenStore::lock).
/// Async sources call [`lock_async`](TokenStore::lock_async), which must
/// wait without blocking the thread: the holder may be another task on the
/// same thread (two caches of one single-threaded runtime sharing a store),
/// whose response can only be read if this thread stays free.
///
/// Errors are [`ErrorKind::Store`](freshen_core::ErrorKind::Store): transient
/// for I/O, permanent for a record that cannot be read. Their text names
/// the store, never a token.
pub trait TokenStore: Send + Sync {
    /// Takes the store's lock (blocking until it is free).
    fn lock(&self) -> Result<Box<dyn StoreLock + '_>, Error>;

    /// Takes the store's lock without blocking the calling thread: a future
    /// that is pending while another holder has it. Dropping the future
    /// gives up the wait (and a lock taken for it). A store whose lock is
    /// never held across an `.await` may return `lock`'s result as a ready
    /// future.
    fn lock_async(&self) -> LockFuture<'_>;
}

/// The future of [`TokenStore::lock_async`].
pub type LockFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Box<dyn StoreLock + 'a>, Error>> + Send + 'a>>;

/// The store, locked: read and write while no one else can.
pub trait StoreLock: Send {
    /// The record, or `None` when the store holds none yet.
    fn load(&mut self) -> Result<Option<StoredToken>, Error>;
    /// Replaces the record, durably and atomically: a reader (or a crash)
    /// sees the old record or the new one, never a mix.
    fn save(&mut self, token: &StoredToken) -> Result<(), Error>;
}

impl<S: TokenStore + ?Sized> TokenStore for alloc::sync::Arc<S> {
    fn lock(&self) -> Result<Box<dyn StoreLock + '_>, Error> {
        (**self).lock()
    }

    fn lock_async(&self) -> LockFuture<'_> {
        (**self).lock_async()
    }
}

/// A store in this process's memory: several sources of one process share
/// one grant through it (each refresh seen by all), and tests use it. It
/// does not survive a restart (freshen-store's `FileStore` does).
#[derive(Default)]
pub struct MemoryStore {
    state: std::sync::Mutex<MemoryState>,
    freed: std::sync::Condvar,
}

#[derive(Default)]
struct MemoryState {
    record: Option<StoredToken>,
    locked: bool,
    /// Async waiters for the lock, woken (all) when it is let go.
    waiting: Vec<Waker>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// A copy of the record held, without taking the lock.
    pub fn peek(&self) -> Option<StoredToken> {
        self.state().record.clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("record", &self.state().record)
            .finish()
    }
}

impl TokenStore for MemoryStore {
    fn lock(&self) -> Result<Box<dyn StoreLock + '_>, Error> {
        let mut state = self.state();
        while state.locked {
            state = self
                .freed
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        state.locked = true;
        Ok(Box::new(MemoryLock { store: self }))
    }

    fn lock_async(&self) -> LockFuture<'_> {
        Box::pin(core::future::poll_fn(move |cx| {
            let mut state = self.state();
            if state.locked {
                if !state.waiting.iter().any(|w| w.will_wake(cx.waker())) {
                    state.waiting.push(cx.waker().clone());
                }
                return Poll::Pending;
            }
            state.locked = true;
            Poll::Ready(Ok(
                Box::new(MemoryLock { store: self }) as Box<dyn StoreLock>
            ))
        }))
    }
}

/// [`MemoryStore`], locked until dropped.
struct MemoryLock<'a> {
    store: &'a MemoryStore,
}

impl StoreLock for MemoryLock<'_> {
    fn load(&mut self) -> Result<Option<StoredToken>, Error> {
        Ok(self.store.peek())
    }

    fn save(&mut self, token: &StoredToken) -> Result<(), Error> {
        self.store.state().record = Some(token.clone());
        Ok(())
    }
}

impl Drop for MemoryLock<'_> {
    fn drop(&mut self) {
        let waiting = {
            let mut state = self.store.state();
            state.locked = false;
            core::mem::take(&mut state.waiting)
        };
        // Every waiter re-checks; one takes the lock, the others wait again.
        self.store.freed.notify_one();
        for waker in waiting {
            waker.wake();
        }
    }
}
