//! A held token, its phase, and what a source brings back.

use alloc::string::String;
use core::fmt;
use core::time::Duration;

use crate::policy::Schedule;
use crate::secret::Secret;
use crate::time::Instant;

/// Which token a caller saw: the machine (cache) that accepted it, and a
/// number that increases by one with every token that machine accepts.
///
/// [`crate::Machine::invalidate`] names one, so a late 401 for an old token
/// cannot evict a newer one, and a token of another cache evicts nothing.
/// Only a machine makes one: a token's identity is never its address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Generation {
    machine: u64,
    number: u64,
}

impl Generation {
    pub(crate) const fn new(machine: u64, number: u64) -> Self {
        Generation { machine, number }
    }

    /// The token's number within its cache: 0 for the first token, then
    /// one more for every token accepted. For logs and displays.
    pub const fn number(self) -> u64 {
        self.number
    }

    /// Whether `self` and `other` come from the same machine (cache).
    pub const fn same_cache(self, other: Generation) -> bool {
        self.machine == other.machine
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.number)
    }
}

/// Where a token is on its timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Before `refresh_at`: serve.
    Fresh,
    /// From `refresh_at` to `usable_until`: serve, and make sure a refresh runs.
    Stale,
    /// From `usable_until` on: never handed out (unless serving past expiry
    /// is opted in).
    Expired,
}

/// An access token accepted by the cache, with its timeline.
#[derive(Clone)]
pub struct Token {
    access: Secret,
    token_type: Option<String>,
    generation: Generation,
    schedule: Schedule,
}

impl Token {
    /// A token with a computed schedule: only the machine makes one.
    pub(crate) fn new(
        access: Secret,
        token_type: Option<String>,
        generation: Generation,
        schedule: Schedule,
    ) -> Self {
        Token {
            access,
            token_type,
            generation,
            schedule,
        }
    }

    /// The phase of the token at `now`. The one place that tells fresh from
    /// stale from expired: the machine and every driver's lock-free read
    /// path ask this.
    #[inline]
    pub fn phase(&self, now: Instant) -> Phase {
        if now < self.fresh_until() {
            Phase::Fresh
        } else if now < self.schedule.usable_until {
            Phase::Stale
        } else {
            Phase::Expired
        }
    }

    /// The instant the token stops being [`Phase::Fresh`]: `refresh_at`, or
    /// `usable_until` if that comes first. A read path may remember it.
    #[inline]
    pub fn fresh_until(&self) -> Instant {
        self.schedule.refresh_at.min(self.schedule.usable_until)
    }

    /// The access token, for the `Authorization` header. Do not log it.
    pub fn secret(&self) -> &str {
        self.access.expose()
    }

    /// The token type as the server sent it (`None` when it sent none;
    /// treat that as `Bearer`).
    pub fn token_type(&self) -> Option<&str> {
        self.token_type.as_deref()
    }

    /// The generation of this token, to name it in an invalidation.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// The token's timeline.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// `expires_at`.
    pub fn expires_at(&self) -> Instant {
        self.schedule.expires_at
    }

    /// `usable_until`: the token is never handed out at or after this.
    pub fn usable_until(&self) -> Instant {
        self.schedule.usable_until
    }

    /// `refresh_at`: the jittered point from which a refresh starts.
    pub fn refresh_at(&self) -> Instant {
        self.schedule.refresh_at
    }

    /// Whether this token has the same access token as `other`.
    pub fn same_secret(&self, other: &Token) -> bool {
        self.access == other.access
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("access", &self.access)
            .field("token_type", &self.token_type)
            .field("generation", &self.generation)
            .field("schedule", &self.schedule)
            .finish()
    }
}

/// What a token source brings back from one successful request.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Fetched {
    /// The access token.
    pub access_token: Secret,
    /// `token_type` as sent, if any.
    pub token_type: Option<String>,
    /// The lifetime (`expires_in`, or an absolute expiry turned into a
    /// lifetime at receipt); `None` when the response states none.
    pub lifetime: Option<Duration>,
    /// A server hint to refresh earlier (`refresh_in`).
    pub refresh_in: Option<Duration>,
    /// Set by a source that keeps its own cache, as a metadata server does:
    /// it hands back the same token until this long before that token's
    /// expiry, and a new one from then on. See [`Fetched::renewed_by_source`].
    pub source_renews_within: Option<Duration>,
}

impl Fetched {
    /// A fetched token with no stated lifetime.
    pub fn new(access_token: impl Into<Secret>) -> Self {
        Fetched {
            access_token: access_token.into(),
            token_type: None,
            lifetime: None,
            refresh_in: None,
            source_renews_within: None,
        }
    }

    /// Sets the lifetime.
    #[must_use]
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// Sets the token type.
    #[must_use]
    pub fn with_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.token_type = Some(token_type.into());
        self
    }

    /// Sets the `refresh_in` hint.
    #[must_use]
    pub fn with_refresh_in(mut self, refresh_in: Duration) -> Self {
        self.refresh_in = Some(refresh_in);
        self
    }

    /// Declares that the source manages this token's lifetime itself: it
    /// serves its own cached token until `window` before the token expires
    /// and a new one from then on (GCE's metadata server documents a window
    /// of 5 minutes; Azure IMDS behaves the same).
    ///
    /// The machine then takes the same token back, before that window, as
    /// the source's honest answer rather than a cache swallowing a refresh:
    /// it keeps serving it and asks again once the source's window has
    /// opened, instead of reporting [`crate::Event::NoProgress`] and backing
    /// off. An ordinary source never sets this, so a cache hidden behind it
    /// is still caught.
    ///
    /// ```
    /// use core::time::Duration;
    /// use freshen_core::Fetched;
    ///
    /// let fetched = Fetched::new("ya29.from-the-metadata-server")
    ///     .with_lifetime(Duration::from_secs(1800))
    ///     .renewed_by_source(Duration::from_secs(300));
    /// assert_eq!(fetched.source_renews_within, Some(Duration::from_secs(300)));
    /// ```
    #[must_use]
    pub fn renewed_by_source(mut self, window: Duration) -> Self {
        self.source_renews_within = Some(window);
        self
    }
}
