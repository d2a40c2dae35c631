//! The state every driver shares: the machine behind a short lock, the
//! published token for the lock-free read path, the hand-off slot of the
//! attempt in flight, events and randomness. Drivers decide nothing: they
//! read their clock, call in here, and run the attempts they are handed.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use event_listener::Event as Notify;
use freshen_core::machine::Resolution;
use freshen_core::{
    AttemptId, Decision, Error, ErrorKind, Event, Fetched, Instant, Machine, Policy, Ticket, Token,
};

use crate::changes::Changes;
use crate::random::Random;
use crate::read_mode::ReadMode;
use crate::read_path::ReadPath;
use crate::runtime::Clock;
use crate::slot::Slot;
use crate::sync::{AtomicBool, Mutex, MutexGuard, Ordering, SyncArc, lock};
use crate::token_ref::TokenRef;

/// Where lifecycle events go (a log, metrics). Called outside every lock.
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

/// A sink that is handed a weak handle `W` to its cache with each event.
pub(crate) type SinkWithCache<W> = Box<dyn Fn(&W, &Event) + Send + Sync>;

/// The event sink a builder was given: none, plain, or one that is handed a
/// weak handle `W` to the cache it is built into (so it can reach the cache
/// without keeping it alive).
pub(crate) enum Events<W> {
    /// No sink.
    None,
    /// A sink of events only.
    Plain(EventSink),
    /// A sink that is handed a weak handle to its cache.
    WithCache(SinkWithCache<W>),
}

impl<W: Send + Sync + 'static> Events<W> {
    /// The sink for a cache whose weak handle is `weak`.
    pub(crate) fn into_sink(self, weak: W) -> Option<EventSink> {
        match self {
            Events::None => None,
            Events::Plain(sink) => Some(sink),
            Events::WithCache(sink) => Some(Arc::new(move |event: &Event| sink(&weak, event))),
        }
    }
}

/// What a driver should do for a caller, from [`Shared::decide`].
#[derive(Debug)]
pub enum Step<'a> {
    /// Hand this token to the caller.
    Ready(TokenRef<'a>),
    /// Fail the caller at once with this error (a backoff holds).
    Fail(Error),
    /// Wait for the attempt in flight; time it out at `deadline` (drivers
    /// without a timer of their own report that with [`Shared::time_out`]).
    Wait {
        /// The attempt.
        attempt: AttemptId,
        /// Its outcome will be left here.
        slot: SyncArc<Slot>,
        /// When it times out.
        deadline: Instant,
    },
    /// Run this attempt. With `serve`, hand that token to the caller at once
    /// and run the attempt in the background; without, the caller waits on
    /// the attempt's slot.
    Run {
        /// The attempt to run.
        attempt: Attempt,
        /// The token to hand out meanwhile, if one is usable.
        serve: Option<TokenRef<'a>>,
    },
}

/// One attempt to run: report it with [`Shared::complete`].
#[derive(Debug)]
pub struct Attempt {
    ticket: Ticket,
    slot: SyncArc<Slot>,
}

impl Attempt {
    /// The attempt's ticket (id, start, deadline).
    pub fn ticket(&self) -> &Ticket {
        &self.ticket
    }
    /// Where its outcome will be left for waiters.
    pub fn slot(&self) -> &SyncArc<Slot> {
        &self.slot
    }
}

/// How an attempt ended.
#[derive(Debug)]
pub enum Outcome {
    /// The source answered.
    Fetched(Result<Fetched, Error>),
    /// The source panicked.
    Panicked,
    /// The attempt ran past its deadline.
    TimedOut,
    /// The cache shut down while it ran.
    Closed,
    /// The attempt's task was dropped before it could report (its runtime
    /// shut down, or never ran it).
    Lost,
}

struct State {
    machine: Machine,
    attempt: Option<(AttemptId, SyncArc<Slot>)>,
    /// The number of the token the read path serves, as last published
    /// (its generation's machine is this cache's: a number is 8 bytes less).
    published: Option<u64>,
}

/// See the module docs.
pub struct Shared {
    /// The token the read path serves while it is fresh, and every
    /// thread's spare handles to it.
    read_path: ReadPath,
    state: Mutex<State>,
    random: Random,
    events: Option<EventSink>,
    /// Spans, logs and metrics (the `tracing` and `metrics` features).
    #[cfg(any(feature = "tracing", feature = "metrics"))]
    observer: crate::observe::Observer,
    changed: Notify,
    closed: AtomicBool,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("read_path", &self.read_path)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Shared state for a cache with `policy`, read through per-thread
    /// spares ([`ReadMode::PerThread`]).
    pub fn new(policy: Policy, events: Option<EventSink>, seed: Option<u64>) -> Self {
        Self::with_read_mode(policy, events, seed, ReadMode::PerThread)
    }

    /// Shared state for a cache with `policy`, read as `mode` says.
    ///
    /// ```
    /// use freshen_cache::ReadMode;
    /// use freshen_cache::driver::Shared;
    /// use freshen_core::{Instant, Policy};
    ///
    /// let shared = Shared::with_read_mode(Policy::default(), None, None, ReadMode::Shared);
    /// // Nothing fetched yet: nothing to read.
    /// assert!(shared.cached(Instant::ZERO).is_none());
    /// ```
    pub fn with_read_mode(
        policy: Policy,
        events: Option<EventSink>,
        seed: Option<u64>,
        mode: ReadMode,
    ) -> Self {
        Shared {
            read_path: ReadPath::new(mode),
            state: Mutex::new(State {
                machine: Machine::new(policy),
                attempt: None,
                published: None,
            }),
            random: seed.map_or_else(Random::new, Random::with_seed),
            events,
            #[cfg(any(feature = "tracing", feature = "metrics"))]
            observer: crate::observe::Observer::new(),
            changed: Notify::new(),
            closed: AtomicBool::new(false),
        }
    }

    /// The lock-free read path: the published token if it is fresh at
    /// `now`. No lock, no allocation, no waiting — and in the steady state
    /// no atomic read-modify-write either: the handle comes from this
    /// thread's spares and goes back to a thread's spares when dropped.
    #[inline(always)]
    pub fn cached(&self, now: Instant) -> Option<TokenRef<'_>> {
        let token = self.read_path.take_fresh(now);
        // The one addition of the `metrics` feature to the read path.
        #[cfg(feature = "metrics")]
        if let Some(token) = &token {
            self.observer.served(token, now);
        }
        token.map(|token| TokenRef::new(token, &self.read_path))
    }

    /// Calls `f` with the token if it is fresh at `now`, lent for the call:
    /// [`cached`](Self::cached) for a caller that only reads the token
    /// (its secret into a header). With [`ReadMode::Shared`] it takes no
    /// count on the token, so it costs half the atomic operations.
    #[inline]
    pub fn with_cached<T>(&self, now: Instant, f: impl FnOnce(&Token) -> T) -> Option<T> {
        self.read_path.with_fresh(now, |token| {
            #[cfg(feature = "metrics")]
            self.observer.served(token, now);
            f(token)
        })
    }

    /// Turns an attempt's resolution into what a caller gets. `clock` is
    /// the driver's, read only with the `metrics` feature (to count the
    /// token by its phase).
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub fn hand_out(
        &self,
        resolution: Resolution,
        clock: &impl Clock,
    ) -> Result<TokenRef<'_>, Error> {
        #[cfg(feature = "metrics")]
        if let Ok(token) = &resolution {
            self.observer.served(token, clock.now());
        }
        resolution.map(|token| TokenRef::new(token, &self.read_path))
    }

    /// A caller wants a token at `now` and the read path had none.
    pub fn decide(&self, now: Instant) -> Step<'_> {
        let (step, events) = {
            let mut state = self.lock();
            let step = match state.machine.decide(now) {
                Decision::Serve(token) => Step::Ready(TokenRef::new(token, &self.read_path)),
                Decision::Fail(error) => Step::Fail(error),
                Decision::Wait { attempt, deadline } => match &state.attempt {
                    Some((id, slot)) if *id == attempt => Step::Wait {
                        attempt,
                        slot: SyncArc::clone(slot),
                        deadline,
                    },
                    // The machine and the slot agree by construction; if not,
                    // fail rather than wait on nothing.
                    _ => Step::Fail(Error::transient(ErrorKind::Closed)),
                },
                Decision::ServeAndRefresh(token, ticket) => Step::Run {
                    attempt: Self::open(&mut state, ticket),
                    serve: Some(TokenRef::new(token, &self.read_path)),
                },
                Decision::RefreshAndWait(ticket) => Step::Run {
                    attempt: Self::open(&mut state, ticket),
                    serve: None,
                },
            };
            let started = matches!(step, Step::Run { .. });
            (step, self.sync(&mut state, started))
        };
        self.emit(events, Some(now));
        #[cfg(feature = "metrics")]
        if let Step::Ready(token)
        | Step::Run {
            serve: Some(token), ..
        } = &step
        {
            self.observer.served(token, now);
        }
        step
    }

    /// Reports how `attempt` ended; its request was sent at `sent_at`. Wakes
    /// its waiters with the machine's resolution.
    pub fn complete(&self, attempt: &Attempt, outcome: Outcome, sent_at: Instant, now: Instant) {
        let id = attempt.ticket.id();
        let random = self.random.next();
        let (resolution, events) = {
            let mut state = self.lock();
            let m = &mut state.machine;
            let resolution = match outcome {
                Outcome::Fetched(Ok(fetched)) => m.on_success(id, fetched, sent_at, now, random),
                Outcome::Fetched(Err(error)) => m.on_failure(id, error, now, random),
                Outcome::Panicked => {
                    m.on_failure(id, Error::transient(ErrorKind::SourcePanicked), now, random)
                }
                Outcome::TimedOut => m.on_timeout(id, now, random),
                Outcome::Closed => m
                    .on_failure(id, Error::transient(ErrorKind::Closed), now, random)
                    .map(|_| Err(Error::transient(ErrorKind::Closed))),
                Outcome::Lost => {
                    m.on_failure(id, Error::transient(ErrorKind::AttemptLost), now, random)
                }
            };
            if state.attempt.as_ref().is_some_and(|(a, _)| *a == id) {
                state.attempt = None;
            }
            (resolution, self.sync(&mut state, true))
        };
        // Events first, so a sink has seen the outcome before any waiter
        // acts on it; a sink that panics loses its event, never the waiters.
        self.emit(events, Some(now));
        if let Some(resolution) = resolution {
            attempt.slot.resolve(resolution);
        }
    }

    /// Runs `fetch` (a synchronous driver's call of its source for
    /// `attempt`) inside the attempt's span, with the `tracing` feature, so
    /// what the source logs belongs to the attempt.
    ///
    /// ```
    /// use freshen_cache::driver::{Outcome, Shared, Step};
    /// use freshen_core::{Fetched, Instant, Policy};
    ///
    /// let shared = Shared::new(Policy::default(), None, Some(7));
    /// let now = Instant::ZERO;
    /// let Step::Run { attempt, .. } = shared.decide(now) else { unreachable!() };
    /// // The driver's call of its source, inside the attempt's span.
    /// let result = shared.in_attempt_span(&attempt, || Ok(Fetched::new("t")));
    /// shared.complete(&attempt, Outcome::Fetched(result), now, now);
    /// assert!(shared.cached(now).is_some());
    /// ```
    pub fn in_attempt_span<T>(&self, attempt: &Attempt, fetch: impl FnOnce() -> T) -> T {
        #[cfg(feature = "tracing")]
        let _entered = self.attempt_span(attempt).entered();
        #[cfg(not(feature = "tracing"))]
        let _ = attempt;
        fetch()
    }

    /// The span of `attempt` (the `tracing` feature): an async driver
    /// instruments its fetch with it, so what the source logs belongs to
    /// the attempt.
    #[cfg(feature = "tracing")]
    pub fn attempt_span(&self, attempt: &Attempt) -> tracing::Span {
        self.observer.span_of(attempt.ticket.id())
    }

    /// A waiter saw `attempt` pass its deadline (drivers with no timer task).
    pub fn time_out(&self, attempt: AttemptId, now: Instant) {
        let random = self.random.next();
        let (done, events) = {
            let mut state = self.lock();
            let done = state
                .machine
                .on_timeout(attempt, now, random)
                .and_then(|r| Some((r, state.attempt.take()?.1)));
            (done, self.sync(&mut state, true))
        };
        self.emit(events, Some(now));
        if let Some((resolution, slot)) = done {
            slot.resolve(resolution);
        }
    }

    /// Handles what is due at `now` (attempt deadlines, prefetch); returns
    /// an attempt to run in the background, if the prefetch timer wants one.
    pub fn poll_timers(&self, now: Instant) -> Option<Attempt> {
        let random = self.random.next();
        let (timed_out, start, events) = {
            let mut state = self.lock();
            let timers = state.machine.poll_timers(now, random);
            let timed_out = timers
                .timed_out
                .and_then(|(id, r)| match state.attempt.take() {
                    Some((a, slot)) if a == id => Some((r, slot)),
                    other => {
                        state.attempt = other;
                        None
                    }
                });
            let start = timers.start.map(|t| Self::open(&mut state, t));
            let changed = timed_out.is_some() || start.is_some();
            (timed_out, start, self.sync(&mut state, changed))
        };
        self.emit(events, Some(now));
        if let Some((resolution, slot)) = timed_out {
            slot.resolve(resolution);
        }
        start
    }

    /// When the driver's timer should next call [`Shared::poll_timers`].
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.lock().machine.next_wakeup()
    }

    /// When the next attempt may start after a failure: the end of the
    /// current backoff, or `now` if none holds. A driver's `ready` waits
    /// until then (or its deadline) before it asks again.
    pub fn retry_at(&self, now: Instant) -> Instant {
        self.lock()
            .machine
            .backoff_until()
            .map_or(now, |b| b.max(now))
    }

    /// Invalidates `token` (after a 401). Ignored if it was already
    /// replaced or invalidated.
    pub fn invalidate(&self, token: &Token) -> bool {
        let (done, events) = {
            let mut state = self.lock();
            let done = state.machine.invalidate(token.generation());
            (done, self.sync(&mut state, done))
        };
        #[cfg(any(feature = "tracing", feature = "metrics"))]
        self.observer.invalidate(done);
        self.emit(events, None);
        done
    }

    /// Waits on this thread for `attempt` to leave its outcome in `slot`,
    /// timing it out at `deadline` on `clock`: the deadline binds every
    /// waiter, not only the task that runs the attempt, so a lost attempt
    /// cannot hang anyone. For synchronous drivers.
    pub fn wait_blocking(
        &self,
        clock: &impl Clock,
        attempt: AttemptId,
        slot: &Slot,
        deadline: Instant,
    ) -> Resolution {
        loop {
            let now = clock.now();
            if now >= deadline {
                self.time_out(attempt, now);
                // Whoever took the attempt out of the machine (this timeout,
                // or its completion racing it) resolves the slot, so every
                // waiter gets the attempt's one outcome; it is moments away.
                return slot.wait_resolved();
            }
            let mut span = deadline.saturating_duration_since(now);
            if let Some(tick) = clock.virtual_tick() {
                span = span.min(tick);
            }
            if let Some(resolution) = slot.wait_blocking(crate::slot::real_deadline(span)) {
                return resolution;
            }
        }
    }

    /// Shuts the cache down when its last handle is dropped: background
    /// work sees [`Shared::is_closed`], and the attempt in flight, if any, is
    /// resolved with [`ErrorKind::Closed`].
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let slot = self.lock().attempt.take();
        if let Some((_, slot)) = slot {
            slot.resolve(Err(Error::transient(ErrorKind::Closed)));
        }
        self.changed.notify(usize::MAX);
    }

    /// Whether the last handle is gone: background work ends.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Completes when the cache is closed.
    pub async fn until_closed(&self) {
        loop {
            if self.is_closed() {
                return;
            }
            let listener = self.changed.listen();
            if self.is_closed() {
                return;
            }
            listener.await;
        }
    }

    /// A listener that fires when the machine's timers may have moved.
    pub fn listen_changes(&self) -> Changes {
        Changes::new(self.changed.listen())
    }

    fn open(state: &mut State, ticket: Ticket) -> Attempt {
        let slot = SyncArc::new(Slot::new());
        state.attempt = Some((ticket.id(), SyncArc::clone(&slot)));
        Attempt { ticket, slot }
    }

    /// Publishes the machine's current token to the read path and collects
    /// events, under the lock; `changed` wakes timer tasks.
    fn sync(&self, state: &mut State, changed: bool) -> Vec<Event> {
        let current = state.machine.current();
        let generation = current.map(|t| t.generation().number());
        if generation != state.published {
            state.published = generation;
            self.read_path.publish(current.cloned());
        }
        // Only timer tasks listen, and an inline cache has none: an event
        // notified with no listener allocates its list for nothing (72
        // bytes a cache). A listener registers before it takes the state
        // lock held here, so one that could miss this change is counted.
        if changed && self.changed.total_listeners() > 0 {
            self.changed.notify(usize::MAX);
        }
        // The machine's queue itself, so no cache keeps an event buffer
        // between refreshes.
        state.machine.take_events()
    }

    /// Hands `events`, emitted at `now` (`None`: by a call that reads no
    /// clock), to the observer and the sink, outside every lock. A sink that
    /// panics loses that event and nothing else: the panic is caught here,
    /// so no attempt is left unresolved and no caller is hung by it.
    #[cfg_attr(
        not(any(feature = "tracing", feature = "metrics")),
        allow(unused_variables)
    )]
    fn emit(&self, events: Vec<Event>, now: Option<Instant>) {
        #[cfg(any(feature = "tracing", feature = "metrics"))]
        {
            for e in &events {
                self.observer.event(e, now);
            }
            if let Some(now) = now {
                self.observer.held(self.read_path.held().as_deref(), now);
            }
        }
        if let Some(sink) = &self.events {
            for e in &events {
                let _ = catch_unwind(AssertUnwindSafe(|| sink(e)));
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The machine never panics; a poisoned lock can only come from a
        // panic elsewhere under it, and its state is still consistent.
        lock(&self.state)
    }
}
