//! [`SharedStore`] over Redis 7 or Valkey, with redis-rs's blocking
//! connection and socket timeouts.
//!
//! Each step is one Lua script (`EVALSHA`, loaded on first use), so it is
//! atomic on the server and costs one round trip; Valkey accepts the same
//! scripts (not run in CI: Debian ships no Valkey). One connection per store, reopened after any failure: the tier
//! touches the store a few times per token rotation, never on the cache's
//! read path, so a pool would buy nothing.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use redis::{Client, Connection, Script};

use crate::store::{Acquired, Entry, SharedStore, StoreError};

/// The store's default timeout for connecting and for each round trip:
/// long enough for a loaded server on the same network, short enough that
/// a dead one costs a refresh only tens of milliseconds before the tier
/// falls back to fetching on its own.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);

const READ: &str = r"
local v = redis.call('GET', KEYS[1])
if not v then return false end
return {v, redis.call('PTTL', KEYS[1])}
";

const ACQUIRE: &str = r"
local won = redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2])
local v = redis.call('GET', KEYS[1])
return {won and 1 or 0, v or '', redis.call('PTTL', KEYS[1]), redis.call('PTTL', KEYS[2])}
";

const PUBLISH: &str = r"
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if #KEYS >= 3 then redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5]) end
if holder then redis.call('DEL', KEYS[2]) end
return 1
";

const DELETE_IF: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// A [`SharedStore`] on one Redis (or Valkey) server.
///
/// ```no_run
/// use std::time::Duration;
/// use freshen_fleet::RedisStore;
///
/// let store = RedisStore::open("redis://127.0.0.1:6379/0")?
///     .with_timeout(Duration::from_millis(30));
/// # Ok::<(), freshen_fleet::StoreError>(())
/// ```
pub struct RedisStore {
    client: Client,
    conn: Mutex<Option<Connection>>,
    timeout: Duration,
    read: Script,
    acquire: Script,
    publish: Script,
    delete_if: Script,
}

impl RedisStore {
    /// A store for the server at `url` (`redis://[user:password@]host:port/db`,
    /// or `rediss://` is refused: this build has no TLS). Nothing is
    /// connected until first use, so a fleet starts while Redis is down.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let client = Client::open(url)
            .map_err(|e| StoreError::new(format!("bad Redis URL: {:?}", e.kind())))?;
        Ok(RedisStore {
            client,
            conn: Mutex::new(None),
            timeout: DEFAULT_TIMEOUT,
            read: Script::new(READ),
            acquire: Script::new(ACQUIRE),
            publish: Script::new(PUBLISH),
            delete_if: Script::new(DELETE_IF),
        })
    }

    /// Sets the timeout for connecting and for each round trip.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs `op` on the connection, opening it first if needed; any failure
    /// drops the connection so the next call starts afresh.
    fn with_conn<T>(
        &self,
        op: impl FnOnce(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let conn = self
                .client
                .get_connection_with_timeout(self.timeout)
                .map_err(describe)?;
            conn.set_read_timeout(Some(self.timeout))
                .map_err(describe)?;
            conn.set_write_timeout(Some(self.timeout))
                .map_err(describe)?;
            *guard = Some(conn);
        }
        let Some(conn) = guard.as_mut() else {
            return Err(StoreError::new("no connection"));
        };
        match op(conn) {
            Ok(v) => Ok(v),
            Err(e) => {
                *guard = None;
                Err(describe(e))
            }
        }
    }
}

/// Redis errors without the URL (it may hold a password).
fn describe(e: redis::RedisError) -> StoreError {
    let what = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connection_refusal() {
        "connection refused".to_owned()
    } else if e.is_io_error() || e.is_connection_dropped() {
        "connection lost".to_owned()
    } else {
        format!("error {:?}", e.kind())
    };
    StoreError::new(what)
}

/// A `PTTL` in milliseconds as a remaining life; `None` for no key (-2),
/// a key without expiry (-1: never written by the tier, so not trusted),
/// or an expiry already reached.
fn remaining(pttl: i64) -> Option<Duration> {
    u64::try_from(pttl)
        .ok()
        .filter(|&ms| ms > 0)
        .map(Duration::from_millis)
}

/// Milliseconds for `PX`, at least 1 (Redis refuses 0).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl SharedStore for RedisStore {
    fn read(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        let found: Option<(Vec<u8>, i64)> = self.with_conn(|c| self.read.key(key).invoke(c))?;
        Ok(found
            .and_then(|(value, pttl)| remaining(pttl).map(|remaining| Entry { value, remaining })))
    }

    fn acquire(
        &self,
        key: &str,
        lease_key: &str,
        owner: &[u8],
        ttl: Duration,
    ) -> Result<Acquired, StoreError> {
        let (won, value, pttl, lease_pttl): (i64, Vec<u8>, i64, i64) = self.with_conn(|c| {
            self.acquire
                .key(key)
                .key(lease_key)
                .arg(owner)
                .arg(millis(ttl))
                .invoke(c)
        })?;
        let entry = remaining(pttl)
            .filter(|_| !value.is_empty())
            .map(|remaining| Entry { value, remaining });
        Ok(Acquired {
            won: won == 1,
            entry,
            lease_remaining: remaining(lease_pttl),
        })
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
        let stored: i64 = self.with_conn(|c| {
            let mut invocation = self.publish.key(key);
            invocation
                .key(lease_key)
                .arg(owner)
                .arg(value)
                .arg(millis(ttl));
            if let Some((session_key, session_value, session_ttl)) = session {
                invocation
                    .key(session_key)
                    .arg(session_value)
                    .arg(millis(session_ttl));
            }
            invocation.invoke(c)
        })?;
        Ok(stored == 1)
    }

    fn delete_if(&self, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        let deleted: i64 = self.with_conn(|c| self.delete_if.key(key).arg(value).invoke(c))?;
        Ok(deleted == 1)
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the URL: it may carry a password.
        f.debug_struct("RedisStore")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
