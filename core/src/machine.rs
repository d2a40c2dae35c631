//! The state machine: the one place in freshen that decides.
//!
//! A driver asks [`Machine::decide`] with the current instant and carries out
//! the answer; it reports each attempt's outcome by [`AttemptId`] and wakes
//! the machine at [`Machine::next_wakeup`]. The machine reads no clock, does
//! no I/O and never blocks, like quinn-proto's `Connection` or rustls's
//! connection state.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::time::Duration;

use crate::error::{Error, ErrorKind};
use crate::event::{AttemptId, Event, RefreshReason};
use crate::policy::Policy;
use crate::time::Instant;
use crate::token::{Fetched, Generation, Phase, Token};

/// Events kept when no one drains them; older ones are dropped first.
const EVENT_QUEUE_LIMIT: usize = 256;

/// What a caller asking for a token should do.
#[derive(Debug)]
#[must_use]
pub enum Decision {
    /// Hand out this token.
    Serve(Arc<Token>),
    /// Hand out this token, and run the attempt the ticket stands for in the
    /// background. The caller must not wait for it.
    ServeAndRefresh(Arc<Token>, Ticket),
    /// No usable token: wait for the attempt in flight to resolve. Its
    /// outcome is what the driver gets back from `on_success`/`on_failure`/
    /// `on_timeout` for that attempt.
    Wait {
        /// The attempt to wait for.
        attempt: AttemptId,
        /// When it times out; report it with [`Machine::on_timeout`] then.
        deadline: Instant,
    },
    /// No usable token, and the last attempt failed with this error whose
    /// backoff has not ended: fail at once rather than hammer the endpoint.
    Fail(Error),
    /// No usable token and nothing in flight: run the attempt the ticket
    /// stands for and wait for it, along with anyone else who asks.
    RefreshAndWait(Ticket),
}

/// Leave to run one attempt. Report its outcome with
/// [`Machine::on_success`], [`Machine::on_failure`] or
/// [`Machine::on_timeout`], giving [`Ticket::id`].
#[derive(Debug, PartialEq, Eq)]
#[must_use = "an attempt that is never reported holds the cache until its deadline"]
pub struct Ticket {
    id: AttemptId,
    started: Instant,
    deadline: Instant,
}

impl Ticket {
    /// The attempt this ticket stands for.
    pub fn id(&self) -> AttemptId {
        self.id
    }
    /// When the attempt started.
    pub fn started(&self) -> Instant {
        self.started
    }
    /// When the attempt times out.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

/// What the waiters of an attempt get: the same token or the same error.
pub type Resolution = Result<Arc<Token>, Error>;

/// The result of [`Machine::poll_timers`].
#[derive(Debug, Default)]
#[must_use]
pub struct Timers {
    /// An attempt that passed its deadline, and what its waiters get.
    pub timed_out: Option<(AttemptId, Resolution)>,
    /// An attempt the prefetch timer wants started.
    pub start: Option<Ticket>,
}

#[derive(Debug)]
struct Held {
    token: Arc<Token>,
    /// The first generation this access token was accepted under: a source
    /// that renews its own tokens hands the same one back under new
    /// generations (new timelines), and a 401 on any of them evicts it.
    secret_since: Generation,
    invalidated: bool,
    stale_reported: bool,
    expired_reported: bool,
}

impl Held {
    /// Whether `generation` names the held access token: its own, or one
    /// it was handed back under earlier by a source that renews its own.
    fn names(&self, generation: Generation) -> bool {
        let current = self.token.generation();
        generation.same_cache(current)
            && (self.secret_since.number()..=current.number()).contains(&generation.number())
    }
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    id: AttemptId,
    deadline: Instant,
    timeout: Duration,
}

#[derive(Debug)]
struct Backoff {
    until: Instant,
    error: Error,
}

/// The token state machine. See the module docs.
#[derive(Debug)]
pub struct Machine {
    /// Names this machine in every [`Generation`] it makes.
    id: u64,
    policy: Policy,
    held: Option<Held>,
    in_flight: Option<InFlight>,
    backoff: Option<Backoff>,
    failures: u32,
    last_lead: Option<Duration>,
    next_attempt: u64,
    next_generation: u64,
    events: VecDeque<Event>,
    dropped_events: u64,
}

impl Machine {
    /// A machine with no token.
    pub fn new(policy: Policy) -> Self {
        Machine {
            id: next_machine_id(),
            policy,
            held: None,
            in_flight: None,
            backoff: None,
            failures: 0,
            last_lead: None,
            next_attempt: 0,
            next_generation: 0,
            events: VecDeque::new(),
            dropped_events: 0,
        }
    }

    /// The identity this machine gives its tokens ([`Generation`]): no two
    /// machines of one process share it.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// A caller wants a token at `now`.
    pub fn decide(&mut self, now: Instant) -> Decision {
        if let Some(token) = self.servable(now) {
            if token.phase(now) == Phase::Fresh {
                return Decision::Serve(token);
            }
            self.report_served(&token, now);
            return match self.try_start(now, RefreshReason::Stale, &token) {
                Some(ticket) => Decision::ServeAndRefresh(token, ticket),
                None => Decision::Serve(token),
            };
        }
        if let Some(f) = self.in_flight {
            return Decision::Wait {
                attempt: f.id,
                deadline: f.deadline,
            };
        }
        if let Some(b) = &self.backoff {
            if now < b.until {
                return Decision::Fail(b.error.clone());
            }
        }
        let reason = self.empty_reason();
        Decision::RefreshAndWait(self.start(now, reason))
    }

    /// The token that may be served without asking the machine while it is
    /// [`Phase::Fresh`]; drivers publish it to their lock-free read path
    /// after every call into the machine. `None` when invalidated or empty.
    pub fn current(&self) -> Option<&Arc<Token>> {
        self.held
            .as_ref()
            .filter(|h| !h.invalidated)
            .map(|h| &h.token)
    }

    /// Whether an attempt is in flight.
    pub fn in_flight(&self) -> Option<AttemptId> {
        self.in_flight.map(|f| f.id)
    }

    /// Consecutive failed attempts (reset by a success).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// When the current backoff ends, if one holds.
    pub fn backoff_until(&self) -> Option<Instant> {
        self.backoff.as_ref().map(|b| b.until)
    }

    /// The attempt `attempt` succeeded with `fetched`; its request was sent
    /// at `sent_at` (the round trip counts against the token). `random`
    /// draws the token's jitter (or the backoff, if this is no progress).
    /// Returns what the attempt's waiters get, or `None` if the attempt was
    /// not the one in flight (late, duplicate, already timed out).
    pub fn on_success(
        &mut self,
        attempt: AttemptId,
        fetched: Fetched,
        sent_at: Instant,
        now: Instant,
        random: u64,
    ) -> Option<Resolution> {
        self.take_in_flight(attempt)?;
        let lifetime = fetched.lifetime.unwrap_or(self.policy.default_lifetime());
        let schedule = self
            .policy
            .schedule(sent_at.min(now), lifetime, fetched.refresh_in, random);

        // Unusable on arrival (a zero lifetime, a round trip longer than the
        // token's life) says more than "no progress", so it is told first.
        if now >= schedule.usable_until {
            let error = Error::transient(ErrorKind::ExpiredOnArrival);
            return Some(self.failed(attempt, error, now, random));
        }
        if let Some(held) = &self.held {
            let same = fetched.access_token.expose() == held.token.secret();
            let no_later = schedule.expires_at <= held.token.expires_at();
            if same && !held.invalidated {
                if let Some(window) = fetched.source_renews_within.filter(|w| lifetime > *w) {
                    // The source's own cached token, asked for before the
                    // source renews it: its honest answer, not no progress.
                    let schedule = self.policy.reschedule_for_source(schedule, window, random);
                    return Some(Ok(self.reconfirm(attempt, fetched, schedule, lifetime)));
                }
            }
            if same || (no_later && !held.invalidated) {
                let generation = held.token.generation();
                let error = Error::transient(ErrorKind::NoProgress);
                let retry_in = self.fail(error.clone(), now, random);
                self.push(Event::NoProgress {
                    attempt,
                    generation,
                    retry_in,
                });
                return Some(self.resolve_waiters(now, error));
            }
        }

        let generation = Generation::new(self.id, self.next_generation);
        self.next_generation = self.next_generation.saturating_add(1);
        let left_on_old = self
            .held
            .as_ref()
            .map(|h| h.token.expires_at().saturating_duration_since(now));
        let token = Arc::new(Token::new(
            fetched.access_token,
            fetched.token_type,
            generation,
            schedule,
        ));
        self.held = Some(Held {
            token: Arc::clone(&token),
            secret_since: generation,
            invalidated: false,
            stale_reported: false,
            expired_reported: false,
        });
        self.failures = 0;
        self.backoff = None;
        self.last_lead = Some(schedule.lead);
        self.push(Event::RefreshSucceeded {
            attempt,
            generation,
            lifetime,
            left_on_old,
        });
        Some(Ok(token))
    }

    /// Takes the held token back from a source that renews its own tokens,
    /// under a new generation (so every read path picks up its new
    /// timeline) that a 401 still evicts like the first.
    fn reconfirm(
        &mut self,
        attempt: AttemptId,
        fetched: Fetched,
        schedule: crate::policy::Schedule,
        lifetime: Duration,
    ) -> Arc<Token> {
        let generation = Generation::new(self.id, self.next_generation);
        self.next_generation = self.next_generation.saturating_add(1);
        let secret_since = self.held.as_ref().map_or(generation, |h| h.secret_since);
        let token = Arc::new(Token::new(
            fetched.access_token,
            fetched.token_type,
            generation,
            schedule,
        ));
        self.held = Some(Held {
            token: Arc::clone(&token),
            secret_since,
            invalidated: false,
            stale_reported: false,
            expired_reported: false,
        });
        self.failures = 0;
        self.backoff = None;
        self.last_lead = Some(schedule.lead);
        self.push(Event::Reconfirmed {
            attempt,
            generation,
            lifetime,
            refresh_in: schedule
                .refresh_at
                .saturating_duration_since(schedule.sent_at),
        });
        token
    }

    /// The attempt `attempt` failed with `error`. `random` draws the
    /// backoff. Returns what its waiters get (the held token if it is still
    /// usable, otherwise the error), or `None` for a stale attempt.
    pub fn on_failure(
        &mut self,
        attempt: AttemptId,
        error: Error,
        now: Instant,
        random: u64,
    ) -> Option<Resolution> {
        self.take_in_flight(attempt)?;
        Some(self.failed(attempt, error, now, random))
    }

    /// The attempt `attempt` ran past its deadline. Its eventual outcome will
    /// be ignored. Returns what its waiters get, or `None` for a stale
    /// attempt.
    pub fn on_timeout(
        &mut self,
        attempt: AttemptId,
        now: Instant,
        random: u64,
    ) -> Option<Resolution> {
        let timeout = self.take_in_flight(attempt)?;
        let error = Error::transient(ErrorKind::Timeout { after: timeout });
        Some(self.failed(attempt, error, now, random))
    }

    /// Invalidates the token of `generation` (after a 401). Ignored — and
    /// `false` returned — if that token was already replaced or invalidated,
    /// so a late 401 cannot evict a newer token. The next call waits for a
    /// fresh token.
    pub fn invalidate(&mut self, generation: Generation) -> bool {
        let Some(held) = self.held.as_mut() else {
            return false;
        };
        // A generation names its machine too: a token of another cache
        // never matches.
        if held.invalidated || !held.names(generation) {
            return false;
        }
        held.invalidated = true;
        self.push(Event::Invalidated { generation });
        true
    }

    /// When a driver should call [`Machine::poll_timers`] next: the deadline
    /// of the attempt in flight, and with prefetch on, the refresh point of
    /// the held token or the end of a backoff.
    pub fn next_wakeup(&self) -> Option<Instant> {
        if let Some(f) = self.in_flight {
            return Some(f.deadline);
        }
        if !self.policy.prefetch() {
            return None;
        }
        let due = match self.current() {
            Some(token) => token.refresh_at(),
            None => Instant::ZERO,
        };
        Some(match &self.backoff {
            Some(b) => due.max(b.until),
            None => due,
        })
    }

    /// Handles what is due at `now`: times out an overdue attempt, and with
    /// prefetch on starts a refresh that is due even with no traffic.
    pub fn poll_timers(&mut self, now: Instant, random: u64) -> Timers {
        let mut timers = Timers::default();
        if let Some(f) = self.in_flight {
            if now >= f.deadline {
                if let Some(resolution) = self.on_timeout(f.id, now, random) {
                    timers.timed_out = Some((f.id, resolution));
                }
            }
        }
        if self.policy.prefetch() {
            let due = match self.current() {
                Some(token) => token.phase(now) != Phase::Fresh,
                None => true,
            };
            if due && self.can_start(now) {
                let reason = match self.current() {
                    Some(_) => RefreshReason::Prefetch,
                    None => self.empty_reason(),
                };
                timers.start = Some(self.start(now, reason));
            }
        }
        timers
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Every queued event, oldest first, with the queue's memory: a driver
    /// that drains after each call this way keeps no event buffer per
    /// machine between calls (a keyed cache holds thousands of machines;
    /// [`poll_event`](Self::poll_event) leaves the emptied buffer in place).
    ///
    /// ```
    /// use freshen_core::{Decision, Instant, Machine, Policy};
    ///
    /// let mut machine = Machine::new(Policy::default());
    /// // No token: the first caller starts an attempt, which is an event.
    /// assert!(matches!(machine.decide(Instant::ZERO), Decision::RefreshAndWait(_)));
    /// let events = machine.take_events();
    /// assert!(!events.is_empty());
    /// assert!(machine.poll_event().is_none());
    /// ```
    pub fn take_events(&mut self) -> alloc::vec::Vec<Event> {
        core::mem::take(&mut self.events).into()
    }

    /// Events dropped because no one drained the queue.
    pub fn dropped_events(&self) -> u64 {
        self.dropped_events
    }

    /// The token a caller may be handed at `now`, if any: not invalidated
    /// and before `usable_until` — or, with serving past expiry opted in,
    /// within the grace and only while no refresh has succeeded.
    fn servable(&self, now: Instant) -> Option<Arc<Token>> {
        let held = self.held.as_ref().filter(|h| !h.invalidated)?;
        if held.token.phase(now) != Phase::Expired {
            return Some(Arc::clone(&held.token));
        }
        let grace = self.policy.serve_expired_for()?;
        (now < held.token.usable_until().saturating_add(grace)).then(|| Arc::clone(&held.token))
    }

    fn report_served(&mut self, token: &Arc<Token>, now: Instant) {
        let generation = token.generation();
        let Some(held) = self.held.as_mut() else {
            return;
        };
        let event = match token.phase(now) {
            Phase::Stale if !held.stale_reported => {
                held.stale_reported = true;
                Event::ServedStale {
                    generation,
                    usable_for: token.usable_until().saturating_duration_since(now),
                }
            }
            Phase::Expired if !held.expired_reported => {
                held.expired_reported = true;
                Event::ServedExpired { generation }
            }
            _ => return,
        };
        self.push(event);
    }

    fn try_start(
        &mut self,
        now: Instant,
        stale_reason: RefreshReason,
        token: &Token,
    ) -> Option<Ticket> {
        if !self.can_start(now) {
            return None;
        }
        let reason = match token.phase(now) {
            Phase::Expired => RefreshReason::Expired,
            _ => stale_reason,
        };
        Some(self.start(now, reason))
    }

    fn can_start(&self, now: Instant) -> bool {
        self.in_flight.is_none() && self.backoff.as_ref().is_none_or(|b| now >= b.until)
    }

    fn empty_reason(&self) -> RefreshReason {
        match &self.held {
            None => RefreshReason::Empty,
            Some(h) if h.invalidated => RefreshReason::Invalidated,
            Some(_) => RefreshReason::Expired,
        }
    }

    fn start(&mut self, now: Instant, reason: RefreshReason) -> Ticket {
        let id = AttemptId::new(self.id, self.next_attempt);
        self.next_attempt = self.next_attempt.saturating_add(1);
        let timeout = self.policy.attempt_timeout_for(self.lead());
        let deadline = now.saturating_add(timeout);
        self.in_flight = Some(InFlight {
            id,
            deadline,
            timeout,
        });
        self.push(Event::RefreshStarted {
            attempt: id,
            reason,
            at: now,
        });
        Ticket {
            id,
            started: now,
            deadline,
        }
    }

    /// Takes `attempt` out of flight; its timeout, or `None` if it was not
    /// the attempt in flight.
    fn take_in_flight(&mut self, attempt: AttemptId) -> Option<Duration> {
        match self.in_flight {
            Some(f) if f.id == attempt => {
                self.in_flight = None;
                Some(f.timeout)
            }
            _ => None,
        }
    }

    /// The refresh lead of the held token, or of the last one held.
    fn lead(&self) -> Option<Duration> {
        self.held
            .as_ref()
            .map(|h| h.token.schedule().lead)
            .or(self.last_lead)
    }

    fn failed(
        &mut self,
        attempt: AttemptId,
        error: Error,
        now: Instant,
        random: u64,
    ) -> Resolution {
        let retry_in = self.fail(error.clone(), now, random);
        self.push(Event::RefreshFailed {
            attempt,
            error: error.clone(),
            failures: self.failures,
            retry_in,
        });
        self.resolve_waiters(now, error)
    }

    /// Counts a failure and starts its backoff; the held token and its
    /// schedule stay as they are.
    fn fail(&mut self, error: Error, now: Instant, random: u64) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let lead = self.lead();
        let delay = self.policy.backoff_delay(
            self.failures,
            lead,
            error.is_permanent(),
            error.retry_after(),
            random,
        );
        self.backoff = Some(Backoff {
            until: now.saturating_add(delay),
            error,
        });
        delay
    }

    fn resolve_waiters(&self, now: Instant, error: Error) -> Resolution {
        self.servable(now).ok_or(error)
    }

    fn push(&mut self, event: Event) {
        if self.events.len() >= EVENT_QUEUE_LIMIT {
            self.events.pop_front();
            self.dropped_events = self.dropped_events.saturating_add(1);
        }
        self.events.push_back(event);
    }
}

/// A process-wide id for each new machine. Where the target has no atomic
/// counter every machine gets 0, and tokens of two caches are told apart only
/// by their numbers.
fn next_machine_id() -> u64 {
    #[cfg(target_has_atomic = "64")]
    {
        use core::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }
    #[cfg(all(not(target_has_atomic = "64"), target_has_atomic = "ptr"))]
    {
        use core::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        NEXT.fetch_add(1, Ordering::Relaxed) as u64
    }
    #[cfg(not(target_has_atomic = "ptr"))]
    {
        0
    }
}
