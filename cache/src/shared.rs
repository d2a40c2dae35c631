//! The state every driver shares: the machine behind a short lock, the
//! published token for the lock-free read path, the hand-off slot of the
//! attempt in flight, events and randomness. Drivers decide nothing: they
//! read their clock, call in here, and run the attempts they are handed.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::ArcSwap;
use event_listener::Event as Notify;
use freshen_core::machine::Resolution;
use freshen_core::policy::Schedule;
use freshen_core::{
    AttemptId, Decision, Error, ErrorKind, Event, Fetched, Generation, Instant, Machine, Policy,
    Secret, Ticket, Token,
};

use crate::local;
use crate::random::Random;
use crate::slot::Slot;
use crate::token_ref::TokenRef;

/// Where lifecycle events go (a log, metrics). Called outside every lock.
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

/// What a driver should do for a caller, from [`Shared::decide`].
#[derive(Debug)]
pub enum Step {
    /// Hand this token to the caller.
    Ready(TokenRef),
    /// Fail the caller at once with this error (a backoff holds).
    Fail(Error),
    /// Wait for the attempt in flight; time it out at `deadline` (drivers
    /// without a timer of their own report that with [`Shared::time_out`]).
    Wait {
        /// The attempt.
        attempt: AttemptId,
        /// Its outcome will be left here.
        slot: Arc<Slot>,
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
        serve: Option<TokenRef>,
    },
}

/// One attempt to run: report it with [`Shared::complete`].
#[derive(Debug)]
pub struct Attempt {
    ticket: Ticket,
    slot: Arc<Slot>,
}

impl Attempt {
    /// The attempt's ticket (id, start, deadline).
    pub fn ticket(&self) -> &Ticket {
        &self.ticket
    }
    /// Where its outcome will be left for waiters.
    pub fn slot(&self) -> &Arc<Slot> {
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
}

struct State {
    machine: Machine,
    attempt: Option<(AttemptId, Arc<Slot>)>,
}

/// See the module docs.
pub struct Shared {
    /// The token the read path serves while it is fresh.
    published: ArcSwap<Token>,
    /// Bumped after every publish: threads' pooled handles are of the
    /// version they were filled at (see `local`).
    version: AtomicU64,
    /// Names this cache in the threads' pools.
    id: u64,
    empty: Arc<Token>,
    state: Mutex<State>,
    random: Random,
    events: Option<EventSink>,
    changed: Notify,
    closed: AtomicBool,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("published", &self.published.load())
            .finish_non_exhaustive()
    }
}

/// What is published when there is no token to serve: a token that is never
/// fresh, so the read path always falls through to the machine.
fn nothing() -> Arc<Token> {
    let never = Schedule {
        sent_at: Instant::ZERO,
        expires_at: Instant::ZERO,
        usable_until: Instant::ZERO,
        refresh_at: Instant::ZERO,
        lead: core::time::Duration::ZERO,
    };
    Arc::new(Token::new(
        Secret::new(""),
        None,
        Generation(u64::MAX),
        never,
    ))
}

impl Shared {
    /// Shared state for a cache with `policy`.
    pub fn new(policy: Policy, events: Option<EventSink>, seed: Option<u64>) -> Self {
        let empty = nothing();
        Shared {
            published: ArcSwap::new(Arc::clone(&empty)),
            version: AtomicU64::new(0),
            id: local::next_cache_id(),
            empty,
            state: Mutex::new(State {
                machine: Machine::new(policy),
                attempt: None,
            }),
            random: seed.map_or_else(Random::new, Random::with_seed),
            events,
            changed: Notify::new(),
            closed: AtomicBool::new(false),
        }
    }

    /// The lock-free read path: the published token if it is fresh at
    /// `now`. No lock, no allocation, no waiting — and in the steady state
    /// no atomic read-modify-write either: the handle comes from this
    /// thread's pool and goes back there when dropped.
    #[inline]
    pub fn cached(&self, now: Instant) -> Option<TokenRef> {
        let version = self.version.load(Ordering::Acquire);
        local::take_fresh(self.id, version, now, || self.published.load_full()).map(TokenRef::from)
    }

    /// A caller wants a token at `now` and the read path had none.
    pub fn decide(&self, now: Instant) -> Step {
        let (step, events) = {
            let mut state = self.lock();
            let step = match state.machine.decide(now) {
                Decision::Serve(token) => Step::Ready(token.into()),
                Decision::Fail(error) => Step::Fail(error),
                Decision::Wait { attempt, deadline } => match &state.attempt {
                    Some((id, slot)) if *id == attempt => Step::Wait {
                        attempt,
                        slot: Arc::clone(slot),
                        deadline,
                    },
                    // The machine and the slot agree by construction; if not,
                    // fail rather than wait on nothing.
                    _ => Step::Fail(Error::transient(ErrorKind::Closed)),
                },
                Decision::ServeAndRefresh(token, ticket) => Step::Run {
                    attempt: Self::open(&mut state, ticket),
                    serve: Some(token.into()),
                },
                Decision::RefreshAndWait(ticket) => Step::Run {
                    attempt: Self::open(&mut state, ticket),
                    serve: None,
                },
            };
            let started = matches!(step, Step::Run { .. });
            (step, self.sync(&mut state, started))
        };
        self.emit(events);
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
            };
            if state.attempt.as_ref().is_some_and(|(a, _)| *a == id) {
                state.attempt = None;
            }
            (resolution, self.sync(&mut state, true))
        };
        // Events first, so a sink has seen the outcome before any waiter acts on it.
        self.emit(events);
        if let Some(resolution) = resolution {
            attempt.slot.resolve(resolution);
        }
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
        self.emit(events);
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
        self.emit(events);
        if let Some((resolution, slot)) = timed_out {
            slot.resolve(resolution);
        }
        start
    }

    /// When the driver's timer should next call [`Shared::poll_timers`].
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.lock().machine.next_wakeup()
    }

    /// Invalidates `token` (after a 401). Ignored if it was already
    /// replaced or invalidated.
    pub fn invalidate(&self, token: &Token) -> bool {
        let (done, events) = {
            let mut state = self.lock();
            let done = state.machine.invalidate(token.generation());
            (done, self.sync(&mut state, done))
        };
        self.emit(events);
        done
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
    pub fn listen_changes(&self) -> event_listener::EventListener {
        self.changed.listen()
    }

    fn open(state: &mut State, ticket: Ticket) -> Attempt {
        let slot = Arc::new(Slot::new());
        state.attempt = Some((ticket.id(), Arc::clone(&slot)));
        Attempt { ticket, slot }
    }

    /// Publishes the machine's current token to the read path and collects
    /// events, under the lock; `changed` wakes timer tasks.
    fn sync(&self, state: &mut State, changed: bool) -> Vec<Event> {
        let current = state.machine.current();
        let published = self.published.load();
        let next = match current {
            Some(token) if !Arc::ptr_eq(token, &published) => Some(Arc::clone(token)),
            None if !Arc::ptr_eq(&published, &self.empty) => Some(Arc::clone(&self.empty)),
            _ => None,
        };
        if let Some(next) = next {
            self.published.store(next);
            // After the store: a reader that sees the new version finds the
            // new token (or a newer one) when it refills.
            self.version.fetch_add(1, Ordering::Release);
        }
        if changed {
            self.changed.notify(usize::MAX);
        }
        let mut events = Vec::new();
        while let Some(e) = state.machine.poll_event() {
            events.push(e);
        }
        events
    }

    fn emit(&self, events: Vec<Event>) {
        if let Some(sink) = &self.events {
            for e in &events {
                sink(e);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The machine never panics; a poisoned lock can only come from a
        // panic elsewhere under it, and its state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Turns an attempt's resolution into what a caller gets.
pub fn into_result(resolution: Resolution) -> Result<TokenRef, Error> {
    resolution.map(TokenRef::from)
}
