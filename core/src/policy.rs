//! When to refresh, how long to trust a token, how to back off.
//!
//! Everything here is a pure function of a token's lifetime, the instant its
//! request was sent and a random value the caller passes in. The defaults are
//! those of the design document (`docs/design.md`); every number can be
//! changed through [`PolicyBuilder`], which refuses a combination that cannot
//! work.

use core::fmt;
use core::time::Duration;

use crate::time::{Instant, scale_by_ppm, scale_by_random};

/// A span of a policy, kept in 8 bytes rather than a `Duration`'s 16: a
/// policy is part of every cache's machine, and a keyed cache holds
/// thousands. Spans past `u64::MAX` nanoseconds (584 years) saturate.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Nanos(u64);

impl Nanos {
    fn get(self) -> Duration {
        Duration::from_nanos(self.0)
    }
}

impl From<Duration> for Nanos {
    fn from(d: Duration) -> Self {
        Nanos(crate::time::duration_nanos(d))
    }
}

impl fmt::Debug for Nanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.get(), f)
    }
}

/// The refresh policy. Build one with [`Policy::builder`], or use
/// [`Policy::default`] for the defaults of the design document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    margin: Nanos,
    max_lead: Nanos,
    min_stale_window: Nanos,
    jitter_ppm: u32,
    backoff_initial: Nanos,
    backoff_cap: Nanos,
    max_retry_after: Nanos,
    attempt_timeout: Nanos,
    default_lifetime: Nanos,
    serve_expired_for: Option<Nanos>,
    prefetch: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            margin: Nanos::from(Duration::from_secs(60)),
            max_lead: Nanos::from(Duration::from_secs(20 * 60)),
            min_stale_window: Nanos::from(Duration::from_secs(30)),
            jitter_ppm: 200_000,
            backoff_initial: Nanos::from(Duration::from_secs(5)),
            backoff_cap: Nanos::from(Duration::from_secs(60)),
            max_retry_after: Nanos::from(Duration::from_secs(5 * 60)),
            attempt_timeout: Nanos::from(Duration::from_secs(30)),
            default_lifetime: Nanos::from(DEFAULT_LIFETIME),
            serve_expired_for: None,
            prefetch: false,
        }
    }
}

/// The lifetime assumed for a token whose response states none (Salesforce,
/// classic GitHub OAuth apps).
///
/// 15 minutes: no lifetime means "until the server says otherwise", so the
/// guess only decides how often freshen re-asks. 15 minutes is the shortest
/// session timeout the common providers let an administrator set (Salesforce's
/// minimum), so a token is renewed before any such policy can end it, while a
/// fleet costs the endpoint only a handful of calls an hour. A 401 still
/// evicts such a token at once through invalidation.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// The shortest timeout [`Policy::attempt_timeout_for`] scales an attempt
/// down to (unless the configured ceiling is shorter): one slow round trip
/// to a distant identity provider.
pub const MIN_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);

/// A policy that cannot work.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// The safety margin is not shorter than the longest refresh lead, so a
    /// long-lived token would become unusable before its refresh was due.
    MarginNotBelowLead {
        /// The configured margin.
        margin: Duration,
        /// The configured longest lead.
        max_lead: Duration,
    },
    /// Jitter must be a fraction in `[0, 1)`.
    JitterOutOfRange,
    /// A duration that must be positive is zero.
    Zero(&'static str),
    /// The first backoff step is longer than the backoff cap.
    BackoffInitialAboveCap {
        /// The first step.
        initial: Duration,
        /// The cap.
        cap: Duration,
    },
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::MarginNotBelowLead { margin, max_lead } => write!(
                f,
                "margin ({margin:?}) must be shorter than the longest refresh lead ({max_lead:?})"
            ),
            PolicyError::JitterOutOfRange => f.write_str("jitter must be in [0, 1)"),
            PolicyError::Zero(what) => write!(f, "{what} must be longer than zero"),
            PolicyError::BackoffInitialAboveCap { initial, cap } => write!(
                f,
                "first backoff step ({initial:?}) must not exceed the backoff cap ({cap:?})"
            ),
        }
    }
}

impl core::error::Error for PolicyError {}

/// The timeline of one token, computed once when it arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// When the request that brought the token was sent: the round trip
    /// counts against the token.
    pub sent_at: Instant,
    /// `sent_at + lifetime`.
    pub expires_at: Instant,
    /// `expires_at - margin`: never handed out at or after this.
    pub usable_until: Instant,
    /// The jittered point from which a call starts a background refresh.
    pub refresh_at: Instant,
    /// The refresh lead this token got (before jitter).
    pub lead: Duration,
}

impl Policy {
    /// A builder starting from the defaults.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder(Policy::default())
    }

    /// The safety margin for a token of lifetime `lifetime`: the configured
    /// margin, clamped to a quarter of the lifetime for short-lived tokens.
    pub fn margin_for(&self, lifetime: Duration) -> Duration {
        self.margin.get().min(lifetime / 4)
    }

    /// The refresh lead for a token of lifetime `lifetime`:
    /// `min(L/2, max_lead)`, raised to `margin + min_stale_window` where the
    /// lifetime allows (the stale window, in which a refresh runs while the
    /// held token is still served, never closes before it opens).
    pub fn lead_for(&self, lifetime: Duration) -> Duration {
        let margin = self.margin_for(lifetime);
        let base = (lifetime / 2).min(self.max_lead.get());
        let floor = margin
            .saturating_add(self.min_stale_window.get())
            .min(lifetime.saturating_sub(margin));
        base.max(floor)
    }

    /// The timeline of a token whose request was sent at `sent_at`, with
    /// lifetime `lifetime` and an optional server hint `refresh_in`.
    /// `random` places the refresh point uniformly in
    /// `[expires_at - lead, expires_at - (1 - jitter) * lead]`, so a fleet
    /// started in one second spreads its refreshes out. A hint earlier than
    /// that wins.
    pub fn schedule(
        &self,
        sent_at: Instant,
        lifetime: Duration,
        refresh_in: Option<Duration>,
        random: u64,
    ) -> Schedule {
        let margin = self.margin_for(lifetime);
        let lead = self.lead_for(lifetime);
        let expires_at = sent_at.saturating_add(lifetime);
        let jitter = scale_by_random(scale_by_ppm(lead, self.jitter_ppm), random);
        let mut refresh_at = expires_at.saturating_sub(lead).saturating_add(jitter);
        if let Some(hint) = refresh_in {
            refresh_at = refresh_at.min(sent_at.saturating_add(hint));
        }
        Schedule {
            sent_at,
            expires_at,
            usable_until: expires_at.saturating_sub(margin),
            refresh_at,
            lead,
        }
    }

    /// The timeline of a token handed back unchanged by a source that
    /// renews its own tokens `window` before they expire (see
    /// [`crate::Fetched::renewed_by_source`]): `schedule`, computed as usual
    /// for the token's remaining lifetime, with the refresh moved to when
    /// the source will have a new token, `expires_at - window`, plus jitter
    /// over part of what is left of the stale window so a fleet does not
    /// ask in the same second. `schedule` is kept when its refresh already
    /// comes after that point, or when the source renews too late for it
    /// (its window is not longer than the margin).
    pub fn reschedule_for_source(
        &self,
        schedule: Schedule,
        window: Duration,
        random: u64,
    ) -> Schedule {
        let renews_at = schedule.expires_at.saturating_sub(window);
        if renews_at <= schedule.refresh_at || renews_at >= schedule.usable_until {
            return schedule;
        }
        let room = schedule.usable_until.saturating_duration_since(renews_at);
        let jitter = scale_by_random(scale_by_ppm(room, self.jitter_ppm), random);
        Schedule {
            refresh_at: renews_at.saturating_add(jitter),
            ..schedule
        }
    }

    /// The backoff cap when the current token's lead is `lead`:
    /// `min(backoff_cap, lead / 10)`, or the configured cap when no token was
    /// ever held.
    pub fn backoff_cap_for(&self, lead: Option<Duration>) -> Duration {
        match lead {
            Some(lead) => self.backoff_cap.get().min(lead / 10),
            None => self.backoff_cap.get(),
        }
    }

    /// The largest delay [`Policy::backoff_delay`] can return after
    /// `failures` consecutive failures: the exponential ceiling
    /// `min(cap, initial * 2^(failures-1))`, or the cap for a permanent error,
    /// raised to the server's `retry_after` up to `max_retry_after`.
    pub fn backoff_ceiling(
        &self,
        failures: u32,
        lead: Option<Duration>,
        permanent: bool,
        retry_after: Option<Duration>,
    ) -> Duration {
        let cap = self.backoff_cap_for(lead);
        let exp = if permanent {
            cap
        } else {
            let doublings = failures.saturating_sub(1).min(63);
            let factor = 1u64 << doublings;
            let step = self
                .backoff_initial
                .get()
                .checked_mul(u32::try_from(factor).unwrap_or(u32::MAX))
                .unwrap_or(Duration::MAX);
            step.min(cap)
        };
        exp.max(self.clamped_retry_after(retry_after))
    }

    /// The wait before the next attempt after `failures` consecutive failures
    /// (at least 1). Transient errors get full jitter: uniform in
    /// `[0, min(cap, initial * 2^(failures-1))]`. Permanent errors slow
    /// retries to the cap, with equal jitter (`[cap/2, cap]`) so a fleet whose
    /// secret was revoked does not retry in step. A server's `Retry-After` is
    /// honoured as a lower bound, up to `max_retry_after`.
    pub fn backoff_delay(
        &self,
        failures: u32,
        lead: Option<Duration>,
        permanent: bool,
        retry_after: Option<Duration>,
        random: u64,
    ) -> Duration {
        let ceiling = self.backoff_ceiling(failures, lead, false, None);
        let drawn = if permanent {
            let cap = self.backoff_cap_for(lead);
            let half = cap / 2;
            half.saturating_add(scale_by_random(cap.saturating_sub(half), random))
        } else {
            scale_by_random(ceiling, random)
        };
        drawn.max(self.clamped_retry_after(retry_after))
    }

    fn clamped_retry_after(&self, retry_after: Option<Duration>) -> Duration {
        retry_after
            .unwrap_or(Duration::ZERO)
            .min(self.max_retry_after.get())
    }

    /// The configured safety margin (before clamping to `L/4`).
    pub fn margin(&self) -> Duration {
        self.margin.get()
    }
    /// The longest refresh lead.
    pub fn max_lead(&self) -> Duration {
        self.max_lead.get()
    }
    /// The longest an attempt may take before it counts as failed (the
    /// ceiling of [`Policy::attempt_timeout_for`]).
    pub fn attempt_timeout(&self) -> Duration {
        self.attempt_timeout.get()
    }

    /// The timeout of an attempt made for a token whose refresh lead is
    /// `lead` (the held token's, or the last one's; `None` before the first
    /// token): a quarter of the lead, at least [`MIN_ATTEMPT_TIMEOUT`] and at
    /// most [`Policy::attempt_timeout`].
    ///
    /// Why: a 15 s token has a 7.5 s lead and about 2 s between its refresh
    /// point and `usable_until`; a 30 s timeout there lets a hung endpoint
    /// hold callers for many lifetimes and picks up its recovery late. A
    /// quarter of the lead leaves room for a retry inside the stale window.
    /// Long-lived tokens (a lead of 2 min or more) keep the full ceiling.
    pub fn attempt_timeout_for(&self, lead: Option<Duration>) -> Duration {
        match lead {
            Some(lead) => (lead / 4)
                .max(MIN_ATTEMPT_TIMEOUT)
                .min(self.attempt_timeout.get()),
            None => self.attempt_timeout.get(),
        }
    }
    /// The lifetime to give a token of full lifetime `full` that another
    /// holder fetched and that has `remaining` left (a fleet sharing
    /// tokens), so that this holder stops using it when the fetcher does;
    /// `None` when no more than the margin is left (never adopt it).
    ///
    /// A machine computes `usable_until = sent + lifetime - margin_for(lifetime)`,
    /// and `margin_for` shrinks with the lifetime: passing `remaining` as is
    /// would give the adopter a smaller margin than the fetcher's
    /// `margin_for(full)`, so it would serve the token later (a 401 window
    /// near expiry). This returns the `x <= remaining` with
    /// `x - margin_for(x) = remaining - margin_for(full)`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use freshen_core::Policy;
    ///
    /// let policy = Policy::default();
    /// let (full, left) = (Duration::from_secs(200), Duration::from_secs(120));
    /// let x = policy.adopted_lifetime(full, left).unwrap();
    /// // The fetcher stops 50 s (a quarter of 200 s) before expiry; so does the adopter.
    /// assert_eq!(x - policy.margin_for(x), left - policy.margin_for(full));
    /// assert!(x <= left);
    /// assert_eq!(policy.adopted_lifetime(full, Duration::from_secs(50)), None);
    /// ```
    pub fn adopted_lifetime(&self, full: Duration, remaining: Duration) -> Option<Duration> {
        let remaining = remaining.min(full);
        let usable = remaining.checked_sub(self.margin_for(full))?;
        if usable.is_zero() {
            return None;
        }
        // Solve x - min(margin, x/4) = usable.
        let x = if usable >= self.margin.get().saturating_mul(3) {
            usable.saturating_add(self.margin.get())
        } else {
            usable.saturating_mul(4) / 3
        };
        Some(x.min(remaining))
    }

    /// The lifetime assumed when a response states none.
    pub fn default_lifetime(&self) -> Duration {
        self.default_lifetime.get()
    }
    /// How long past `usable_until` a held token may still be served while
    /// no refresh succeeds; `None` (the default) means never.
    pub fn serve_expired_for(&self) -> Option<Duration> {
        self.serve_expired_for.map(Nanos::get)
    }
    /// Whether drivers refresh at `refresh_at` even with no traffic.
    pub fn prefetch(&self) -> bool {
        self.prefetch
    }
    /// The first backoff step.
    pub fn backoff_initial(&self) -> Duration {
        self.backoff_initial.get()
    }
}

/// Builds a [`Policy`]; [`PolicyBuilder::build`] validates it.
#[derive(Clone, Debug)]
#[must_use]
pub struct PolicyBuilder(Policy);

impl PolicyBuilder {
    /// Safety margin before expiry (default 60 s, clamped to `L/4`).
    pub fn margin(mut self, margin: Duration) -> Self {
        self.0.margin = Nanos::from(margin);
        self
    }
    /// Longest refresh lead (default 20 min; the lead is `min(L/2, this)`).
    pub fn max_lead(mut self, max_lead: Duration) -> Self {
        self.0.max_lead = Nanos::from(max_lead);
        self
    }
    /// Shortest stale window (refresh point to `usable_until`) where the
    /// lifetime allows (default 30 s).
    pub fn min_stale_window(mut self, window: Duration) -> Self {
        self.0.min_stale_window = Nanos::from(window);
        self
    }
    /// Fraction of the lead over which refresh points are spread
    /// (default 0.2). Must be in `[0, 1)`.
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.0.jitter_ppm = if (0.0..1.0).contains(&fraction) {
            // In range, so the product is below 1e6 and the cast is exact enough.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let ppm = (fraction * 1_000_000.0) as u32;
            ppm
        } else {
            u32::MAX
        };
        self
    }
    /// First backoff step (default 5 s).
    pub fn backoff_initial(mut self, initial: Duration) -> Self {
        self.0.backoff_initial = Nanos::from(initial);
        self
    }
    /// Backoff cap (default 60 s; the cap in force is `min(this, lead/10)`).
    pub fn backoff_cap(mut self, cap: Duration) -> Self {
        self.0.backoff_cap = Nanos::from(cap);
        self
    }
    /// Longest server `Retry-After` honoured (default 5 min).
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.0.max_retry_after = Nanos::from(max);
        self
    }
    /// Ceiling of every attempt's timeout (default 30 s); attempts for
    /// short-lived tokens get less (see [`Policy::attempt_timeout_for`]).
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.0.attempt_timeout = Nanos::from(timeout);
        self
    }
    /// Lifetime assumed when a response states none (default
    /// [`DEFAULT_LIFETIME`]).
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        self.0.default_lifetime = Nanos::from(lifetime);
        self
    }
    /// Opt in to serving a held token up to `grace` past `usable_until`
    /// while no refresh succeeds. Off by default: a token past its margin may
    /// die in flight.
    pub fn serve_expired_for(mut self, grace: Duration) -> Self {
        self.0.serve_expired_for = Some(Nanos::from(grace));
        self
    }
    /// Opt in to refreshing at `refresh_at` even with no traffic (and
    /// retrying failed refreshes when their backoff ends).
    pub fn prefetch(mut self, on: bool) -> Self {
        self.0.prefetch = on;
        self
    }

    /// Checks the policy and returns it.
    pub fn build(self) -> Result<Policy, PolicyError> {
        let p = self.0;
        if p.jitter_ppm >= 1_000_000 {
            return Err(PolicyError::JitterOutOfRange);
        }
        for (value, name) in [
            (p.max_lead.get(), "max_lead"),
            (p.backoff_initial.get(), "backoff_initial"),
            (p.backoff_cap.get(), "backoff_cap"),
            (p.attempt_timeout.get(), "attempt_timeout"),
            (p.default_lifetime.get(), "default_lifetime"),
        ] {
            if value.is_zero() {
                return Err(PolicyError::Zero(name));
            }
        }
        if p.margin.get() >= p.max_lead.get() {
            return Err(PolicyError::MarginNotBelowLead {
                margin: p.margin.get(),
                max_lead: p.max_lead.get(),
            });
        }
        if p.backoff_initial.get() > p.backoff_cap.get() {
            return Err(PolicyError::BackoffInitialAboveCap {
                initial: p.backoff_initial.get(),
                cap: p.backoff_cap.get(),
            });
        }
        Ok(p)
    }
}
