//! The tier: a token source in front of the real one, behind the local
//! cache. See the crate docs for the protocol.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use freshen_core::{BlockingTokenSource, Error, ErrorKind, Fetched, Policy, Secret, TokenSource};
use freshen_oauth::{OAuthSource, ShapeKey};
use zeroize::Zeroizing;

use crate::adopt::adopted_lifetime;
use crate::event::{FleetEvent, Origin};
use crate::seal::{Record, Sealing};
use crate::store::{Entry, SharedStore, StoreError};

/// The store keys' prefix: a new record format gets a new version here, so
/// two versions of a fleet never read each other's entries.
pub const KEY_PREFIX: &str = "freshen:v1:";

/// How often a node waiting for another node's lease looks for its token.
pub const DEFAULT_POLL: Duration = Duration::from_millis(50);

/// Slack added to the lease beyond the attempt timeout: the winner's
/// attempt ends (success, failure or timeout) before its lease does.
pub const LEASE_SLACK: Duration = Duration::from_millis(500);

/// How long the fleet's refresh token stays in the store after the last
/// refresh stored it: longer than any refresh token's idle life, so a fleet
/// that sleeps for a while finds it again.
pub const SESSION_TTL: Duration = Duration::from_secs(90 * 24 * 3600);

/// Rejected token ids remembered (a few rotations' worth).
const REJECTED_KEPT: usize = 8;

type Sink = Arc<dyn Fn(&FleetEvent) + Send + Sync>;

/// A [`TokenSource`] (and [`BlockingTokenSource`]) that shares tokens
/// through a [`SharedStore`]: put it between a cache and the real source.
///
/// ```no_run
/// use freshen_fleet::{RedisStore, Sealing, SharedTier};
/// use freshen_oauth::{ClientAuth, TokenRequest};
/// # use freshen_core::{BlockingTokenSource, Error, Fetched};
/// # struct Endpoint;
/// # impl BlockingTokenSource for Endpoint {
/// #     fn fetch(&self) -> Result<Fetched, Error> { unimplemented!() }
/// # }
///
/// let request = TokenRequest::client_credentials("https://idp.example/token", ClientAuth::new("svc", "s"));
/// let store = RedisStore::open("redis://127.0.0.1:6379")?;
/// let tier = SharedTier::builder(Endpoint, store, request.shape_key(), Sealing::key([7; 32])).build();
/// let cache = freshen_blocking::BlockingCache::new(tier);
/// # Ok::<(), freshen_fleet::StoreError>(())
/// ```
pub struct SharedTier<S, St> {
    source: S,
    core: Arc<Core<St>>,
    session: Option<SessionHooks<S>>,
}

/// A source whose refresh token a fleet shares: the server rotates it with
/// every use, so the node that refreshes next must present the one the
/// last refresh brought, whichever node made it.
pub trait SharedRefreshToken {
    /// The refresh token the source will present next.
    fn refresh_token(&self) -> Option<Secret>;
    /// Makes the source present `token` from now on.
    fn set_refresh_token(&self, token: Secret) -> bool;
}

impl<T, P> SharedRefreshToken for OAuthSource<T, P> {
    fn refresh_token(&self) -> Option<Secret> {
        OAuthSource::refresh_token(self)
    }
    fn set_refresh_token(&self, token: Secret) -> bool {
        OAuthSource::set_refresh_token(self, token)
    }
}

struct SessionHooks<S> {
    get: fn(&S) -> Option<Secret>,
    set: fn(&S, Secret) -> bool,
}

/// Builds a [`SharedTier`].
#[must_use]
pub struct SharedTierBuilder<S, St> {
    source: S,
    store: St,
    shape: ShapeKey,
    sealing: Sealing,
    policy: Policy,
    namespace: String,
    sink: Option<Sink>,
    poll: Duration,
    session: Option<SessionHooks<S>>,
}

impl<S, St: SharedStore> SharedTier<S, St> {
    /// A tier over `source`, sharing through `store` the tokens of requests
    /// shaped as `shape` ([`freshen_oauth::TokenRequest::shape_key`]),
    /// sealed as `sealing` says.
    pub fn builder(
        source: S,
        store: St,
        shape: ShapeKey,
        sealing: Sealing,
    ) -> SharedTierBuilder<S, St> {
        SharedTierBuilder {
            source,
            store,
            shape,
            sealing,
            policy: Policy::default(),
            namespace: String::new(),
            sink: None,
            poll: DEFAULT_POLL,
            session: None,
        }
    }

    /// Marks `secret` as rejected by a resource server (a 401). Call it with
    /// the cache's `invalidate`: the next fetch deletes the shared entry if
    /// it still holds exactly this token (compare-and-delete, never a newer
    /// one), and this node never adopts it again, whether or not the delete
    /// succeeds. Returns whether `secret` is the token this tier last handed
    /// out (an older token's rejection changes nothing).
    pub fn reject(&self, secret: &str) -> bool {
        let mut state = self.core.state();
        let State {
            last,
            rejected,
            pending_delete,
            ..
        } = &mut *state;
        match last {
            Some(handed) if handed.access.as_str() == secret => {
                if rejected.len() >= REJECTED_KEPT {
                    rejected.pop_front();
                }
                rejected.push_back(handed.id);
                *pending_delete = handed.value.clone();
                true
            }
            _ => false,
        }
    }

    /// Where the token last handed to the cache came from.
    pub fn last_origin(&self) -> Option<Origin> {
        self.core.state().last.as_ref().map(|h| h.origin)
    }

    /// The store key of this tier's entry.
    pub fn store_key(&self) -> &str {
        &self.core.key
    }
}

impl<S, St: SharedStore> SharedTierBuilder<S, St> {
    /// The cache's policy (default: [`Policy::default`]). The tier needs
    /// the same one: its margin decides which entries may be adopted and
    /// with what lifetime, its attempt timeout the lease and the wait.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Puts this tier's keys under `namespace` (before [`KEY_PREFIX`]), to
    /// keep several fleets apart on one store.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Receives every [`FleetEvent`] (on whichever thread the tier runs).
    pub fn on_event(mut self, sink: impl Fn(&FleetEvent) + Send + Sync + 'static) -> Self {
        self.sink = Some(Arc::new(sink));
        self
    }

    /// How often a node waiting for another's lease re-reads the store.
    pub fn poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll.max(Duration::from_millis(1));
        self
    }

    /// Shares the source's rotating refresh token through the store (a
    /// fleet acting as one session): the lease holder presents the refresh
    /// token the last refresh brought, and stores the one its refresh
    /// brings, sealed, for [`SESSION_TTL`]. While the store is down each node
    /// refreshes with the refresh token it holds, and a server that
    /// retires used refresh tokens will refuse all but one of them.
    pub fn share_refresh_token(mut self) -> Self
    where
        S: SharedRefreshToken,
    {
        self.session = Some(SessionHooks {
            get: <S as SharedRefreshToken>::refresh_token,
            set: <S as SharedRefreshToken>::set_refresh_token,
        });
        self
    }

    /// The tier.
    pub fn build(self) -> SharedTier<S, St> {
        let hex = self.shape.to_hex();
        let short = hex.get(..32).unwrap_or(&hex);
        let base = format!("{}{KEY_PREFIX}", self.namespace);
        SharedTier {
            source: self.source,
            core: Arc::new(Core {
                shares_session: self.session.is_some(),
                session_key: format!("{base}session:{short}"),
                store: self.store,
                sealing: self.sealing,
                key: format!("{base}tok:{short}"),
                lease_key: format!("{base}lease:{short}"),
                fingerprint: *self.shape.as_bytes(),
                policy: self.policy,
                sink: self.sink,
                poll: self.poll,
                state: Mutex::new(State::default()),
            }),
            session: self.session,
        }
    }
}

struct Core<St> {
    shares_session: bool,
    session_key: String,
    store: St,
    sealing: Sealing,
    key: String,
    lease_key: String,
    fingerprint: [u8; 32],
    policy: Policy,
    sink: Option<Sink>,
    poll: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    last: Option<Handed>,
    rejected: VecDeque<[u8; 16]>,
    pending_delete: Option<Vec<u8>>,
    store_down: bool,
}

/// The token last handed to this node's cache.
struct Handed {
    id: [u8; 16],
    /// Its sealed bytes in the store, if it went there (for compare-and-delete).
    value: Option<Vec<u8>>,
    access: Zeroizing<String>,
    /// Its expiry as the cache computed it (attempt start + lifetime handed).
    expires: Instant,
    /// The refresh lead the cache gave it: the cache's next attempt timeout
    /// is derived from it.
    lead: Duration,
    origin: Origin,
}

/// What the store said to do before the source is asked.
enum Step {
    /// A newer token from the store.
    Adopt(Fetched),
    /// Fetch from the source; with a lease (publish after) or without one
    /// (the store is down: per-instance behaviour).
    Fetch(Option<Lease>),
    /// Another node's fetch outlasted this attempt's wait budget.
    GaveUp(Error),
}

/// A lease this node holds, and the fleet's refresh token read under it.
struct Lease {
    owner: [u8; 16],
    refresh_token: Option<Secret>,
}

fn random_id() -> [u8; 16] {
    let mut id = [0; 16];
    OsRng.fill_bytes(&mut id);
    id
}

impl<St: SharedStore> Core<St> {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn emit(&self, event: FleetEvent) {
        if let Some(sink) = &self.sink {
            sink(&event);
        }
    }

    fn store_failed(&self, error: StoreError) {
        let newly = !std::mem::replace(&mut self.state().store_down, true);
        if newly {
            self.emit(FleetEvent::StoreUnavailable { error });
        }
    }

    fn store_answered(&self) {
        if std::mem::replace(&mut self.state().store_down, false) {
            self.emit(FleetEvent::StoreRecovered);
        }
    }

    /// The cache's attempt timeout for the next attempt: derived from the
    /// lead of the token it last accepted, as the machine does.
    fn attempt_timeout(&self) -> Duration {
        let lead = self.state().last.as_ref().map(|h| h.lead);
        self.policy.attempt_timeout_for(lead)
    }

    /// Everything before the source is asked. Runs on a blocking thread.
    fn plan(&self, started: Instant) -> Step {
        let timeout = self.attempt_timeout();
        // Waiting may use three quarters of the attempt: if the lease frees
        // up late, a quarter is left to fetch in. Past that, the wait is
        // handed to the next attempt (the cache keeps serving the held token).
        let wait_until = started + timeout * 3 / 4;
        let lease_ttl = timeout + LEASE_SLACK;

        if let Some(value) = self.state().pending_delete.take() {
            match self.store.delete_if(&self.key, &value) {
                Ok(deleted) => self.emit(FleetEvent::RejectedDeleted { deleted }),
                Err(error) => self.emit(FleetEvent::RejectDeleteFailed { error }),
            }
        }
        match self.store.read(&self.key) {
            Err(e) => {
                self.store_failed(e);
                return Step::Fetch(None);
            }
            Ok(entry) => {
                self.store_answered();
                if let Some(fetched) = entry.and_then(|e| self.adopt(e, started)) {
                    return Step::Adopt(fetched);
                }
            }
        }
        let owner = random_id();
        let mut waiting = false;
        loop {
            let acquired = match self
                .store
                .acquire(&self.key, &self.lease_key, &owner, lease_ttl)
            {
                Ok(a) => a,
                Err(e) => {
                    self.store_failed(e);
                    return Step::Fetch(None);
                }
            };
            if let Some(fetched) = acquired.entry.and_then(|e| self.adopt(e, started)) {
                if acquired.won {
                    // Not needed after all: free it for no one to wait on.
                    let _ = self.store.delete_if(&self.lease_key, &owner);
                }
                return Step::Adopt(fetched);
            }
            if acquired.won {
                self.emit(FleetEvent::LeaseWon);
                let refresh_token = self.shares_session.then(|| self.read_session()).flatten();
                return Step::Fetch(Some(Lease {
                    owner,
                    refresh_token,
                }));
            }
            if !waiting {
                waiting = true;
                self.emit(FleetEvent::LeaseWaiting {
                    lease_remaining: acquired.lease_remaining,
                });
            }
            let now = Instant::now();
            if now + self.poll >= wait_until {
                let waited = now.saturating_duration_since(started);
                self.emit(FleetEvent::LeaseWaitGaveUp { waited });
                let error = Error::transient(ErrorKind::Timeout { after: waited })
                    .with_source(StoreError::new("another node's refresh is still in flight"));
                return Step::GaveUp(error);
            }
            std::thread::sleep(self.poll);
        }
    }

    /// The fleet's current refresh token, if one was stored and opens.
    fn read_session(&self) -> Option<Secret> {
        let entry = match self.store.read(&self.session_key) {
            Ok(entry) => entry?,
            Err(e) => {
                self.store_failed(e);
                return None;
            }
        };
        let record = self
            .sealing
            .open(&self.session_key, &entry.value)
            .and_then(|plain| Record::decode(&plain));
        match record {
            Some(r) if r.fingerprint == self.fingerprint => Some(Secret::from(r.access.as_str())),
            Some(_) => {
                self.emit(FleetEvent::Foreign);
                None
            }
            None => {
                self.emit(FleetEvent::Unreadable);
                None
            }
        }
    }

    /// `entry` as a token for this node's cache, if it opens, is this
    /// configuration's, is newer than the token last handed out, was not
    /// rejected here, and has more than the margin left.
    fn adopt(&self, entry: Entry, started: Instant) -> Option<Fetched> {
        let Some(record) = self
            .sealing
            .open(&self.key, &entry.value)
            .and_then(|plain| Record::decode(&plain))
        else {
            self.emit(FleetEvent::Unreadable);
            return None;
        };
        if record.fingerprint != self.fingerprint {
            self.emit(FleetEvent::Foreign);
            return None;
        }
        let lifetime = adopted_lifetime(&self.policy, record.lifetime, entry.remaining)?;
        let expires = started + lifetime;
        let mut state = self.state();
        if state.rejected.contains(&record.id) {
            return None;
        }
        if let Some(last) = &state.last {
            // The machine counts the same token, or one expiring no later,
            // as no progress: hand it only what it would accept.
            if last.id == record.id || expires <= last.expires {
                return None;
            }
        }
        let age = record.lifetime.saturating_sub(entry.remaining);
        let mut fetched = Fetched::new(record.access.as_str()).with_lifetime(lifetime);
        if let Some(t) = &record.token_type {
            fetched = fetched.with_token_type(t.clone());
        }
        if let Some(hint) = record.refresh_in.and_then(|r| r.checked_sub(age)) {
            fetched = fetched.with_refresh_in(hint);
        }
        state.last = Some(Handed {
            id: record.id,
            value: Some(entry.value),
            access: record.access,
            expires,
            lead: self.policy.lead_for(lifetime),
            origin: Origin::SharedStore,
        });
        drop(state);
        self.emit(FleetEvent::Adopted {
            remaining: entry.remaining,
        });
        Some(fetched)
    }

    /// After the source answered: store a token for the fleet (only with
    /// the lease, only a token), release the lease on a failure.
    fn finish(
        &self,
        result: Result<Fetched, Error>,
        lease: Option<[u8; 16]>,
        started: Instant,
        rotated: Option<Secret>,
    ) -> Result<Fetched, Error> {
        let fetched = match result {
            Ok(f) => f,
            Err(e) => {
                if let Some(owner) = lease {
                    if let Err(error) = self.store.delete_if(&self.lease_key, &owner) {
                        self.store_failed(error);
                    }
                }
                return Err(e);
            }
        };
        let lifetime = fetched.lifetime.unwrap_or(self.policy.default_lifetime());
        let id = random_id();
        let mut value = None;
        if let Some(owner) = lease {
            let left = lifetime.saturating_sub(started.elapsed());
            let record = Record {
                fingerprint: self.fingerprint,
                id,
                lifetime,
                refresh_in: fetched.refresh_in,
                token_type: fetched.token_type.clone(),
                access: Zeroizing::new(fetched.access_token.expose().to_owned()),
            };
            let sealed = (left > self.policy.margin_for(lifetime))
                .then(|| self.sealing.seal(&self.key, &record.encode()))
                .flatten();
            // The session record reuses the token record: the refresh token
            // in place of the access token, no lifetime.
            let session = rotated.and_then(|rt| {
                let record = Record {
                    fingerprint: self.fingerprint,
                    id: random_id(),
                    lifetime: Duration::ZERO,
                    refresh_in: None,
                    token_type: None,
                    access: Zeroizing::new(rt.expose().to_owned()),
                };
                self.sealing.seal(&self.session_key, &record.encode())
            });
            let session = session
                .as_deref()
                .map(|v| (self.session_key.as_str(), v, SESSION_TTL));
            if let Some(sealed) = sealed {
                match self
                    .store
                    .publish(&self.key, &sealed, left, &self.lease_key, &owner, session)
                {
                    Ok(true) => value = Some(sealed),
                    Ok(false) => {}
                    Err(e) => self.store_failed(e),
                }
            } else if let Err(e) = self.store.delete_if(&self.lease_key, &owner) {
                self.store_failed(e);
            }
        }
        self.emit(FleetEvent::Fetched {
            published: value.is_some(),
        });
        self.state().last = Some(Handed {
            id,
            value,
            access: Zeroizing::new(fetched.access_token.expose().to_owned()),
            expires: started + lifetime,
            lead: self.policy.lead_for(lifetime),
            origin: Origin::Endpoint,
        });
        Ok(fetched)
    }
}

impl<S, St> SharedTier<S, St> {
    /// Before the source is asked under a lease: take up the fleet's
    /// refresh token. Returns the lease's owner token.
    fn before_fetch(&self, lease: Option<Lease>) -> Option<[u8; 16]> {
        let lease = lease?;
        if let (Some(hooks), Some(token)) = (&self.session, lease.refresh_token) {
            (hooks.set)(&self.source, token);
        }
        Some(lease.owner)
    }

    /// After the source answered: the refresh token to share, if any.
    fn rotated(&self, result: &Result<Fetched, Error>) -> Option<Secret> {
        let hooks = self.session.as_ref()?;
        result.as_ref().ok()?;
        (hooks.get)(&self.source)
    }
}

impl<S: TokenSource, St: SharedStore> TokenSource for SharedTier<S, St> {
    async fn fetch(&self) -> Result<Fetched, Error> {
        let started = Instant::now();
        let core = Arc::clone(&self.core);
        match blocking::unblock(move || core.plan(started)).await {
            Step::Adopt(fetched) => Ok(fetched),
            Step::GaveUp(error) => Err(error),
            Step::Fetch(lease) => {
                let owner = self.before_fetch(lease);
                let result = self.source.fetch().await;
                let rotated = self.rotated(&result);
                let core = Arc::clone(&self.core);
                blocking::unblock(move || core.finish(result, owner, started, rotated)).await
            }
        }
    }
}

impl<S: BlockingTokenSource, St: SharedStore> BlockingTokenSource for SharedTier<S, St> {
    fn fetch(&self) -> Result<Fetched, Error> {
        let started = Instant::now();
        match self.core.plan(started) {
            Step::Adopt(fetched) => Ok(fetched),
            Step::GaveUp(error) => Err(error),
            Step::Fetch(lease) => {
                let owner = self.before_fetch(lease);
                let result = self.source.fetch();
                let rotated = self.rotated(&result);
                self.core.finish(result, owner, started, rotated)
            }
        }
    }
}

impl<S, St> fmt::Debug for SharedTier<S, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTier")
            .field("key", &self.core.key)
            .field("sealing", &self.core.sealing)
            .finish_non_exhaustive()
    }
}
