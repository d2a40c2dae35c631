//! The shared store's contract: the few atomic steps the tier needs.
//!
//! Every step is one round trip and atomic on the store, so the protocol
//! holds with any number of nodes: a reader sees a whole entry and its
//! remaining life together; a lease is taken and the entry re-read in one
//! step; an entry is written only by the lease holder (or when no one holds
//! the lease), and the lease released with it; a delete names the exact
//! value it deletes.

use std::fmt;
use std::time::Duration;

/// One entry as the store holds it: the sealed value and the life the
/// store gives it (Redis's `PTTL`), measured by the store, not by a node's
/// wall clock.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// The sealed value.
    pub value: Vec<u8>,
    /// Time left before the store drops the entry.
    pub remaining: Duration,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("value_len", &self.value.len())
            .field("remaining", &self.remaining)
            .finish()
    }
}

/// What [`SharedStore::acquire`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acquired {
    /// Whether this caller now holds the lease.
    pub won: bool,
    /// The entry at the time of the attempt (a winner of a lease released
    /// a moment ago finds the token its holder just stored).
    pub entry: Option<Entry>,
    /// Time left on the lease, whoever holds it (`None` when none is held).
    pub lease_remaining: Option<Duration>,
}

/// A store failure: unreachable, slow past its timeout, or an answer it
/// could not read. Never reaches a caller of the cache: the tier degrades
/// to fetching on its own and reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(String);

impl StoreError {
    /// A failure described by `what` (no secret, no URL with credentials).
    pub fn new(what: impl Into<String>) -> Self {
        StoreError(what.into())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shared store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// A store shared by every node of a fleet. Blocking calls with short,
/// bounded timeouts (tens of milliseconds): the tier runs them on the
/// caller's thread in blocking code and on the `blocking` crate's thread
/// pool from async code, so one store serves tokio, smol and threads.
///
/// [`crate::RedisStore`] implements it over Redis or Valkey.
pub trait SharedStore: Send + Sync + 'static {
    /// The entry under `key` with its remaining life, if any.
    fn read(&self, key: &str) -> Result<Option<Entry>, StoreError>;

    /// Takes the lease `lease_key` for `ttl` if no one holds it (owner
    /// `owner`), and reads `key`, in one atomic step.
    fn acquire(
        &self,
        key: &str,
        lease_key: &str,
        owner: &[u8],
        ttl: Duration,
    ) -> Result<Acquired, StoreError>;

    /// Stores `value` under `key` for `ttl` (and `session`, a key, a
    /// value and its own time to live, when given) and releases the lease, if
    /// `owner` holds it or no one does; returns `false` (and writes
    /// nothing) when someone else holds the lease.
    fn publish(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        lease_key: &str,
        owner: &[u8],
        session: Option<(&str, &[u8], Duration)>,
    ) -> Result<bool, StoreError>;

    /// Deletes `key` only if it still holds exactly `value`
    /// (compare-and-delete): a lease by its owner token, a rejected token
    /// by its sealed bytes. Returns whether it deleted.
    fn delete_if(&self, key: &str, value: &[u8]) -> Result<bool, StoreError>;
}

impl<T: SharedStore + ?Sized> SharedStore for std::sync::Arc<T> {
    fn read(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        (**self).read(key)
    }
    fn acquire(
        &self,
        key: &str,
        lease_key: &str,
        owner: &[u8],
        ttl: Duration,
    ) -> Result<Acquired, StoreError> {
        (**self).acquire(key, lease_key, owner, ttl)
    }
    fn publish(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        lease_key: &str,
        owner: &[u8],
        session: Option<(&str, &[u8], Duration)>,
    ) -> Result<bool, StoreError> {
        (**self).publish(key, value, ttl, lease_key, owner, session)
    }
    fn delete_if(&self, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        (**self).delete_if(key, value)
    }
}
