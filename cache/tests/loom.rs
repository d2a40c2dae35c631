//! A loom model of freshen-cache's concurrency: the published token cell
//! (the lock-free read path), the hand-off of an attempt's outcome to its
//! waiters (`Slot`), and single flight through the state lock, driven by the
//! real `freshen_core::Machine`.
//!
//! arc-swap does not run under loom, and `Shared` keeps its machine behind a
//! `std::sync::Mutex` that loom cannot see, so both are modelled here with
//! loom's primitives, one to one with `cache/src/shared.rs`, `slot.rs` and
//! the drivers' `token()`:
//!
//! | real code                                   | model here                                   |
//! | ------------------------------------------- | -------------------------------------------- |
//! | `ArcSwap<Token>` (`Shared::published`)      | [`Published`]: an atomic index (the pointer) into token boxes whose fields the writer fills before it publishes |
//! | `Shared::cached`                            | [`Shared::cached`]: one load, then `Token::phase` |
//! | `Mutex<State>` + `Shared::{decide, complete, time_out, invalidate, close, sync}` | the same code over a loom `Mutex` |
//! | `std::sync::OnceLock<Resolution>`           | [`OnceLock`]                                 |
//! | `event_listener::Event` / `EventListener`   | [`Event`] / [`EventListener`]: a locked list of entries, park/unpark |
//! | `Slot::{resolve, get, wait}`                | [`Slot`], the same lines; `wait_blocking` with its deadline passed, and `wait` dropped after one poll |
//! | `BlockingCache::token` (inline, threads), `Cache::token` | [`token_inline`], [`token_threads`] |
//! | `freshen_blocking`'s `Inner::wait` past the deadline | [`wait_past_deadline`]            |
//!
//! The real [`freshen_cache::slot::Slot`] is checked too: under `--cfg loom`
//! event-listener runs on loom's primitives (its `loom` feature), so its
//! async `wait` runs as written (its `OnceLock` is std's, which loom sees as
//! one indivisible step).
//!
//! Not modelled: arc-swap's reclamation (boxes here are never freed during a
//! run), the passage of time (a deadline has passed or not), `poll_timers`,
//! events and the `changed` notifier.
//!
//! Every model also names situations it must reach in at least one
//! interleaving, so none passes vacuously, and two broken variants (the
//! `mutant_` tests) must be caught. One ignored test,
//! [`timed_out_waiter_gets_the_attempts_outcome`], shows a divergence loom
//! found in the blocking driver.
//!
//! Compiled only with `--cfg loom`; run it with `.ci/loom.sh`. Each model
//! runs with a preemption bound (`LOOM_MAX_PREEMPTIONS`, default
//! [`PREEMPTIONS`]) and prints how many interleavings it explored.

// `cfg(loom)` is set only by .ci/loom.sh; declaring it for check-cfg would
// take a lints table (this crate inherits the workspace's) or a build script.
#![allow(unexpected_cfgs)]
#![cfg(loom)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

// Plumbing between model threads: loom need not see these reference counts.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};
use std::time::Duration;

use freshen_core::machine::Resolution;
use freshen_core::policy::Schedule;
use freshen_core::{
    AttemptId, Decision, Error, ErrorKind, Fetched, Generation, Instant, Machine, Phase, Policy,
    Secret, Ticket, Token,
};
use loom::sync::Mutex;
use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use loom::thread::{self, Thread};

// ---------------------------------------------------------------------------
// Budget
// ---------------------------------------------------------------------------

/// Preemptions explored per model, unless `LOOM_MAX_PREEMPTIONS` says otherwise.
const PREEMPTIONS: usize = 3;
/// Interleavings per model at most (a budget; the models finish well within it).
const MAX_PERMUTATIONS: usize = 500_000;
/// Wall time per model at most (a last resort; reported if reached).
const MAX_DURATION: Duration = Duration::from_secs(60);
/// Thread switches per interleaving at most.
const MAX_BRANCHES: usize = 2_000;

/// Runs `model` in every interleaving within the budget and reports how many.
fn check(name: &str, model: impl Fn() + Sync + Send + 'static) {
    check_covers(name, &[], move || {
        model();
        Vec::new()
    });
}

/// [`check`], where `model` also tells which of the situations `what` it
/// reached; fails unless each was reached in at least one interleaving, so
/// the model cannot pass vacuously.
fn check_covers(name: &str, what: &[&str], model: impl Fn() -> Vec<bool> + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    let bound = *builder.preemption_bound.get_or_insert(PREEMPTIONS);
    let cap = *builder.max_permutations.get_or_insert(MAX_PERMUTATIONS);
    let max_duration = *builder.max_duration.get_or_insert(MAX_DURATION);
    builder.max_branches = MAX_BRANCHES;
    // Loom looks at the permutation and time budgets only this often.
    builder.checkpoint_interval = 1_000;
    let runs = Arc::new(StdAtomicUsize::new(0));
    let covered: Arc<Vec<StdAtomicUsize>> =
        Arc::new(what.iter().map(|_| StdAtomicUsize::new(0)).collect());
    let (runs_in, covered_in) = (Arc::clone(&runs), Arc::clone(&covered));
    let started = std::time::Instant::now();
    builder.check(move || {
        runs_in.fetch_add(1, StdOrdering::Relaxed);
        for (count, reached) in covered_in.iter().zip(model()) {
            if reached {
                count.fetch_add(1, StdOrdering::Relaxed);
            }
        }
    });
    let elapsed = started.elapsed();
    let runs = runs.load(StdOrdering::Relaxed);
    let scope = if runs + 1 >= cap || elapsed >= max_duration {
        "budget reached, NOT exhaustive"
    } else {
        "exhaustive"
    };
    println!(
        "loom {name}: {runs} interleavings ({scope} within {bound} preemptions) in {elapsed:.1?}"
    );
    for (what, count) in what.iter().zip(covered.iter()) {
        let count = count.load(StdOrdering::Relaxed);
        println!("loom {name}:   {what}: in {count}");
        assert!(count > 0, "{name}: no interleaving reached: {what}");
    }
}

// ---------------------------------------------------------------------------
// std::sync::OnceLock
// ---------------------------------------------------------------------------

/// `std::sync::OnceLock`: `get` is an Acquire load of the state and, once
/// complete, a read of the value; `set` initialises at most once (a second
/// `set` waits for the first, then fails) and ends with a Release store.
struct OnceLock<T> {
    complete: AtomicBool,
    value: Mutex<Option<T>>,
}

impl<T: Clone> OnceLock<T> {
    fn new() -> Self {
        OnceLock {
            complete: AtomicBool::new(false),
            value: Mutex::new(None),
        }
    }

    fn get(&self) -> Option<T> {
        if !self.complete.load(Ordering::Acquire) {
            return None;
        }
        self.value.lock().unwrap().clone()
    }

    fn set(&self, value: T) -> Result<(), T> {
        let mut cell = self.value.lock().unwrap();
        if cell.is_some() {
            return Err(value);
        }
        *cell = Some(value);
        drop(cell);
        self.complete.store(true, Ordering::Release);
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// event_listener::Event
// ---------------------------------------------------------------------------

/// `event_listener::Event` (v5, std): listeners are entries in a list behind
/// a lock; `notify(n)` is a SeqCst fence, then, under the lock, marks the
/// first unnotified entries until `n` are notified and wakes the task of each.
struct Event {
    list: Mutex<List>,
    /// Instrumentation, not part of the protocol: a listener parked and was
    /// then woken with its notification.
    woke: std::sync::atomic::AtomicBool,
    /// Instrumentation: a listener was dropped holding a notification it
    /// had not taken, and passed it on.
    passed_on: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct List {
    entries: Vec<Entry>,
    next_id: usize,
}

struct Entry {
    id: usize,
    state: EntryState,
}

enum EntryState {
    /// Listening, no task registered yet.
    Created,
    /// Notified; the listener has not taken it yet.
    Notified,
    /// A thread waits on it.
    Task(Thread),
}

impl List {
    fn notify(&mut self, n: usize) {
        let mut notified = self
            .entries
            .iter()
            .filter(|e| matches!(e.state, EntryState::Notified))
            .count();
        for entry in &mut self.entries {
            if notified >= n {
                break;
            }
            if matches!(entry.state, EntryState::Notified) {
                continue;
            }
            if let EntryState::Task(thread) =
                std::mem::replace(&mut entry.state, EntryState::Notified)
            {
                thread.unpark();
            }
            notified += 1;
        }
    }

    fn remove(&mut self, id: usize) -> Option<EntryState> {
        let at = self.entries.iter().position(|e| e.id == id)?;
        Some(self.entries.remove(at).state)
    }

    fn entry(&mut self, id: usize) -> &mut Entry {
        self.entries
            .iter_mut()
            .find(|e| e.id == id)
            .expect("a listener stays listed until it is waited on or dropped")
    }
}

impl Event {
    fn new() -> Self {
        Event {
            list: Mutex::new(List::default()),
            woke: std::sync::atomic::AtomicBool::new(false),
            passed_on: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// `Event::listen`: an entry at the tail of the list.
    fn listen(&self) -> EventListener<'_> {
        let mut list = self.list.lock().unwrap();
        let id = list.next_id;
        list.next_id += 1;
        list.entries.push(Entry {
            id,
            state: EntryState::Created,
        });
        EventListener { event: self, id }
    }

    /// `Event::notify(n)`.
    fn notify(&self, n: usize) {
        // Make sure the notification comes after whatever triggered it.
        fence(Ordering::SeqCst);
        self.list.lock().unwrap().notify(n);
    }
}

/// `event_listener::EventListener`.
struct EventListener<'a> {
    event: &'a Event,
    id: usize,
}

impl EventListener<'_> {
    /// `Listener::wait`: take the notification if it is there, otherwise
    /// register this thread and park until notified.
    fn wait(self) {
        let mut parked = false;
        loop {
            {
                let mut list = self.event.list.lock().unwrap();
                let entry = list.entry(self.id);
                if matches!(entry.state, EntryState::Notified) {
                    list.remove(self.id);
                    if parked {
                        self.event.woke.store(true, StdOrdering::Relaxed);
                    }
                    return;
                }
                entry.state = EntryState::Task(thread::current());
            }
            thread::park();
            parked = true;
        }
    }

    /// `Listener::wait_deadline` with a deadline that has already passed:
    /// register, find the deadline gone, leave the list (passing nothing
    /// on); `true` if it was notified meanwhile.
    fn wait_expired(self) -> bool {
        {
            let mut list = self.event.list.lock().unwrap();
            let entry = list.entry(self.id);
            if matches!(entry.state, EntryState::Notified) {
                list.remove(self.id);
                return true;
            }
            entry.state = EntryState::Task(thread::current());
        }
        let mut list = self.event.list.lock().unwrap();
        matches!(list.remove(self.id), Some(EntryState::Notified))
    }
}

impl Drop for EventListener<'_> {
    /// Leaves the list; a notification it had not taken goes to the next
    /// listener, as event-listener does.
    fn drop(&mut self) {
        // Unwinding out of a failed model: loom's state is gone.
        if std::thread::panicking() {
            return;
        }
        let mut list = self.event.list.lock().unwrap();
        if let Some(EntryState::Notified) = list.remove(self.id) {
            self.event.passed_on.store(true, StdOrdering::Relaxed);
            list.notify(1);
        }
    }
}

// ---------------------------------------------------------------------------
// Slot (cache/src/slot.rs)
// ---------------------------------------------------------------------------

/// `freshen_cache::slot::Slot`, line for line.
struct Slot {
    result: OnceLock<Resolution>,
    ready: Event,
}

impl Slot {
    fn new() -> Self {
        Slot {
            result: OnceLock::new(),
            ready: Event::new(),
        }
    }

    /// `Slot::resolve`.
    fn resolve(&self, resolution: Resolution) {
        if self.result.set(resolution).is_ok() {
            self.ready.notify(usize::MAX);
        }
    }

    /// `Slot::get`.
    fn get(&self) -> Option<Resolution> {
        self.result.get()
    }

    /// `Slot::wait` (and `wait_blocking` with no deadline).
    fn wait(&self) -> Resolution {
        loop {
            if let Some(r) = self.get() {
                return r;
            }
            let listener = self.ready.listen();
            // Checked again after registering, so a resolve in between is not missed.
            if let Some(r) = self.get() {
                return r;
            }
            listener.wait();
        }
    }

    /// `Slot::wait_blocking` whose deadline has passed by the time it waits:
    /// the caller gives up, unless the outcome is already there.
    fn wait_blocking_expired(&self) -> Option<Resolution> {
        loop {
            if let Some(r) = self.get() {
                return Some(r);
            }
            let listener = self.ready.listen();
            if let Some(r) = self.get() {
                return Some(r);
            }
            // `listener.wait_deadline(deadline)?`
            if !listener.wait_expired() {
                return None;
            }
        }
    }

    /// `Slot::wait` whose future is dropped after its first poll: the caller
    /// gives up and its listener is dropped.
    fn wait_dropped(&self) -> Option<Resolution> {
        if let Some(r) = self.get() {
            return Some(r);
        }
        let listener = self.ready.listen();
        if let Some(r) = self.get() {
            return Some(r);
        }
        drop(listener);
        None
    }

    /// MUTANT, for [`mutant_slot_without_second_check_loses_a_wakeup`]:
    /// `wait` without the second check.
    fn wait_without_second_check(&self) -> Resolution {
        loop {
            if let Some(r) = self.get() {
                return r;
            }
            let listener = self.ready.listen();
            listener.wait();
        }
    }
}

// ---------------------------------------------------------------------------
// The published cell: ArcSwap<Token>
// ---------------------------------------------------------------------------

/// What a token box holds before the writer fills it: a reader that sees it
/// has seen a half-published token.
const UNWRITTEN: u64 = u64::MAX - 1;
/// Token boxes per model: the empty token and the tokens the machine makes.
const BOXES: usize = 4;

/// The memory of one `Arc<Token>` as a reader sees it through the cell: the
/// fields `Token::phase` and the checks need, written by the publisher with
/// plain (Relaxed) stores before the pointer is published.
struct TokenBox {
    generation: AtomicU64,
    refresh_at: AtomicU64,
    usable_until: AtomicU64,
}

impl TokenBox {
    fn unwritten() -> Self {
        TokenBox {
            generation: AtomicU64::new(UNWRITTEN),
            refresh_at: AtomicU64::new(UNWRITTEN),
            usable_until: AtomicU64::new(UNWRITTEN),
        }
    }

    /// A box written before any model thread starts (the empty token).
    fn holding(token: &Token) -> Self {
        TokenBox {
            generation: AtomicU64::new(token.generation().0),
            refresh_at: AtomicU64::new(token.refresh_at().as_nanos()),
            usable_until: AtomicU64::new(token.usable_until().as_nanos()),
        }
    }

    fn write(&self, token: &Token) {
        self.generation
            .store(token.generation().0, Ordering::Relaxed);
        self.refresh_at
            .store(token.refresh_at().as_nanos(), Ordering::Relaxed);
        self.usable_until
            .store(token.usable_until().as_nanos(), Ordering::Relaxed);
    }

    /// The token as the reader sees it; panics on a half-published one.
    fn read(&self) -> Token {
        let generation = self.generation.load(Ordering::Relaxed);
        let refresh_at = self.refresh_at.load(Ordering::Relaxed);
        let usable_until = self.usable_until.load(Ordering::Relaxed);
        assert!(
            generation != UNWRITTEN && refresh_at != UNWRITTEN && usable_until != UNWRITTEN,
            "a reader saw a half-published token"
        );
        let usable_until = Instant::from_nanos(usable_until);
        Token::new(
            Secret::new(""),
            None,
            Generation(generation),
            Schedule {
                sent_at: Instant::ZERO,
                expires_at: usable_until,
                usable_until,
                refresh_at: Instant::from_nanos(refresh_at),
                lead: Duration::ZERO,
            },
        )
    }
}

/// `ArcSwap<Token>`: an atomic pointer to a token. Modelled with the
/// weakest orderings the protocol relies on (arc-swap's are at least as
/// strong): a Release store of the pointer after the token is written, an
/// Acquire load before it is read.
struct Published {
    current: AtomicUsize,
    boxes: Vec<TokenBox>,
}

impl Published {
    fn new(empty: &Token) -> Self {
        let mut boxes = vec![TokenBox::holding(empty)];
        boxes.extend((1..BOXES).map(|_| TokenBox::unwritten()));
        Published {
            current: AtomicUsize::new(0),
            boxes,
        }
    }

    /// `ArcSwap::load` and the deref of the guard.
    fn load(&self) -> Token {
        let index = self.current.load(Ordering::Acquire);
        self.boxes[index].read()
    }

    /// `ArcSwap::store` of a token the machine just made (a new `Arc`):
    /// its memory is written, then the pointer, with `order`.
    fn store_new(&self, index: usize, token: &Token, order: Ordering) {
        self.boxes[index].write(token);
        self.current.store(index, order);
    }

    /// `ArcSwap::store` of a token already in a box (the empty token).
    fn store_existing(&self, index: usize) {
        self.current.store(index, Ordering::Release);
    }
}

// ---------------------------------------------------------------------------
// Shared (cache/src/shared.rs)
// ---------------------------------------------------------------------------

/// Any fixed draw: the model does not depend on jitter.
const RANDOM: u64 = 0x5eed;
/// The lifetime of every fetched token.
const LIFETIME: Duration = Duration::from_secs(3600);

struct State {
    machine: Machine,
    attempt: Option<(AttemptId, Arc<Slot>)>,
    /// What each token box holds (writer side, under the lock): `boxed[0]`
    /// is the empty token; stands in for comparing `Arc`s by pointer.
    boxed: Vec<Arc<Token>>,
}

/// `freshen_cache::Shared`.
struct Shared {
    published: Published,
    state: Mutex<State>,
}

/// `freshen_cache::shared::Attempt`.
struct Attempt {
    ticket: Ticket,
    slot: Arc<Slot>,
}

/// `freshen_cache::shared::Step` (no deadlines: timers are not modelled).
enum Step {
    Ready(Arc<Token>),
    Fail(Error),
    Wait {
        slot: Arc<Slot>,
    },
    Run {
        attempt: Attempt,
        serve: Option<Arc<Token>>,
    },
}

/// `nothing()`: the token published when there is none to serve.
fn nothing() -> Arc<Token> {
    let never = Schedule {
        sent_at: Instant::ZERO,
        expires_at: Instant::ZERO,
        usable_until: Instant::ZERO,
        refresh_at: Instant::ZERO,
        lead: Duration::ZERO,
    };
    Arc::new(Token::new(
        Secret::new(""),
        None,
        Generation(u64::MAX),
        never,
    ))
}

impl Shared {
    fn new() -> Self {
        let empty = nothing();
        Shared {
            published: Published::new(&empty),
            state: Mutex::new(State {
                machine: Machine::new(Policy::default()),
                attempt: None,
                boxed: vec![empty],
            }),
        }
    }

    /// `Shared::cached`: the lock-free read path.
    fn cached(&self, now: Instant) -> Option<Token> {
        let token = self.published.load();
        (token.phase(now) == Phase::Fresh).then_some(token)
    }

    /// `Shared::decide`.
    fn decide(&self, now: Instant) -> Step {
        let mut state = self.state.lock().unwrap();
        let step = match state.machine.decide(now) {
            Decision::Serve(token) => Step::Ready(token),
            Decision::Fail(error) => Step::Fail(error),
            Decision::Wait { attempt, .. } => match &state.attempt {
                Some((id, slot)) if *id == attempt => Step::Wait {
                    slot: Arc::clone(slot),
                },
                _ => Step::Fail(Error::transient(ErrorKind::Closed)),
            },
            Decision::ServeAndRefresh(token, ticket) => Step::Run {
                attempt: Self::open(&mut state, ticket),
                serve: Some(token),
            },
            Decision::RefreshAndWait(ticket) => Step::Run {
                attempt: Self::open(&mut state, ticket),
                serve: None,
            },
        };
        self.sync(&mut state);
        step
    }

    /// `Shared::complete` with `Outcome::Fetched`.
    fn complete(
        &self,
        attempt: &Attempt,
        fetched: Result<Fetched, Error>,
        sent_at: Instant,
        now: Instant,
    ) {
        let id = attempt.ticket.id();
        let resolution = {
            let mut state = self.state.lock().unwrap();
            let m = &mut state.machine;
            let resolution = match fetched {
                Ok(fetched) => m.on_success(id, fetched, sent_at, now, RANDOM),
                Err(error) => m.on_failure(id, error, now, RANDOM),
            };
            if state.attempt.as_ref().is_some_and(|(a, _)| *a == id) {
                state.attempt = None;
            }
            self.sync(&mut state);
            resolution
        };
        if let Some(resolution) = resolution {
            attempt.slot.resolve(resolution);
        }
    }

    /// `Shared::invalidate`.
    fn invalidate(&self, generation: Generation) -> bool {
        let mut state = self.state.lock().unwrap();
        let done = state.machine.invalidate(generation);
        self.sync(&mut state);
        done
    }

    /// `Shared::time_out`.
    fn time_out(&self, attempt: AttemptId, now: Instant) {
        let done = {
            let mut state = self.state.lock().unwrap();
            let done = state
                .machine
                .on_timeout(attempt, now, RANDOM)
                .and_then(|r| Some((r, state.attempt.take()?.1)));
            self.sync(&mut state);
            done
        };
        if let Some((resolution, slot)) = done {
            slot.resolve(resolution);
        }
    }

    /// `Shared::close`.
    fn close(&self) {
        let slot = self.state.lock().unwrap().attempt.take();
        if let Some((_, slot)) = slot {
            slot.resolve(Err(Error::transient(ErrorKind::Closed)));
        }
    }

    fn open(state: &mut State, ticket: Ticket) -> Attempt {
        let slot = Arc::new(Slot::new());
        state.attempt = Some((ticket.id(), Arc::clone(&slot)));
        Attempt { ticket, slot }
    }

    /// `Shared::sync`: publishes the machine's current token, under the lock.
    fn sync(&self, state: &mut State) {
        let published = Arc::clone(&state.boxed[self.published.current.load(Ordering::Acquire)]);
        match state.machine.current().cloned() {
            Some(token) if !Arc::ptr_eq(&token, &published) => {
                let index = state.boxed.len();
                assert!(index < BOXES, "the model ran out of token boxes");
                state.boxed.push(Arc::clone(&token));
                self.published.store_new(index, &token, Ordering::Release);
            }
            None if !Arc::ptr_eq(&published, &state.boxed[0]) => self.published.store_existing(0),
            _ => {}
        }
    }

    /// After every writer is done: the cell shows what the machine holds.
    fn assert_cell_matches_machine(&self) {
        let state = self.state.lock().unwrap();
        let expected = state
            .machine
            .current()
            .map_or(Generation(u64::MAX), |t| t.generation());
        assert_eq!(self.published.load().generation(), expected);
    }
}

// ---------------------------------------------------------------------------
// Callers (the drivers' `token()`)
// ---------------------------------------------------------------------------

/// What a caller got: the token's generation, or the error's kind.
type Got = Result<Generation, ErrorKind>;

fn got(resolution: &Resolution) -> Got {
    match resolution {
        Ok(token) => Ok(token.generation()),
        Err(error) => Err(error.kind().clone()),
    }
}

/// What one caller did.
struct Call {
    got: Got,
    /// The slot it waited on or whose attempt it ran.
    slot: Option<Arc<Slot>>,
    /// Whether it ran the attempt (a fetch).
    ran: bool,
}

fn fetched(secret: &str) -> Fetched {
    Fetched::new(secret).with_lifetime(LIFETIME)
}

/// What a caller does before any attempt runs, the same in every mode: the
/// read path, then the machine. Returns the call, or the attempt to run (and
/// the token to hand out meanwhile) when the machine opens one.
fn ask(shared: &Shared, now: Instant) -> Result<Call, (Attempt, Option<Arc<Token>>)> {
    let answered = |got| Call {
        got,
        slot: None,
        ran: false,
    };
    if let Some(token) = shared.cached(now) {
        return Ok(answered(Ok(token.generation())));
    }
    match shared.decide(now) {
        Step::Ready(token) => Ok(answered(Ok(token.generation()))),
        Step::Fail(error) => Ok(answered(Err(error.kind().clone()))),
        Step::Wait { slot } => Ok(Call {
            got: got(&slot.wait()),
            slot: Some(slot),
            ran: false,
        }),
        Step::Run { attempt, serve } => Err((attempt, serve)),
    }
}

/// `BlockingCache::token` in `Mode::Inline`: the caller that opens the
/// attempt runs it on its own thread.
fn token_inline(shared: &Shared, now: Instant, secret: &str) -> Call {
    let (attempt, serve) = match ask(shared, now) {
        Ok(call) => return call,
        Err(run) => run,
    };
    let slot = Arc::clone(&attempt.slot);
    shared.complete(&attempt, Ok(fetched(secret)), now, now);
    let got = match (slot.get(), serve) {
        (Some(Ok(fresh)), _) => Ok(fresh.generation()),
        (_, Some(held)) => Ok(held.generation()),
        (Some(Err(error)), None) => Err(error.kind().clone()),
        (None, None) => got(&slot.wait()),
    };
    Call {
        got,
        slot: Some(slot),
        ran: true,
    }
}

/// `BlockingCache::token` in `Mode::Threads` (and `Cache::token`): the
/// attempt runs on a thread of its own; the caller waits on its slot.
fn token_threads(shared: &Arc<Shared>, now: Instant, secret: &'static str) -> Call {
    let (attempt, serve) = match ask(shared, now) {
        Ok(call) => return call,
        Err(run) => run,
    };
    let slot = Arc::clone(&attempt.slot);
    let runner = {
        let shared = Arc::clone(shared);
        thread::spawn(move || shared.complete(&attempt, Ok(fetched(secret)), now, now))
    };
    let got = match serve {
        Some(token) => Ok(token.generation()),
        None => got(&slot.wait()),
    };
    // The real thread is detached; joining it here, after the caller has
    // its answer, only lets the model end cleanly.
    runner.join().unwrap();
    Call {
        got,
        slot: Some(slot),
        ran: true,
    }
}

/// `freshen_blocking::Inner::wait` once the attempt's deadline has passed:
/// report the timeout, then wait for the slot — whoever took the attempt
/// out of the machine (this timeout, or the completion racing it) resolves
/// it, so every waiter gets the attempt's one outcome.
fn wait_past_deadline(shared: &Shared, attempt: AttemptId, slot: &Slot, now: Instant) -> Got {
    shared.time_out(attempt, now);
    got(&slot.wait())
}

/// Single flight: exactly one fetch, every caller got its token, and every
/// caller that waited held the slot of that one attempt.
/// Returns whether a caller waited on the slot.
fn assert_single_flight(shared: &Shared, calls: &[Call]) -> bool {
    let runs: Vec<&Call> = calls.iter().filter(|c| c.ran).collect();
    assert_eq!(runs.len(), 1, "exactly one attempt is opened");
    let attempt_slot = runs[0].slot.as_ref().unwrap();
    for call in calls {
        assert_eq!(
            call.got,
            Ok(Generation(0)),
            "every caller gets the one token"
        );
        if let Some(slot) = &call.slot {
            assert!(
                Arc::ptr_eq(slot, attempt_slot),
                "waiters hold the attempt's slot"
            );
        }
    }
    let state = shared.state.lock().unwrap();
    assert!(state.attempt.is_none() && state.machine.in_flight().is_none());
    drop(state);
    shared.assert_cell_matches_machine();
    calls.iter().any(|c| !c.ran && c.slot.is_some())
}

/// A token for the hand-off models.
fn a_token(generation: u64) -> Arc<Token> {
    let at = Instant::from_secs(3000);
    Arc::new(Token::new(
        Secret::new("t"),
        None,
        Generation(generation),
        Schedule {
            sent_at: Instant::ZERO,
            expires_at: at,
            usable_until: at,
            refresh_at: at,
            lead: Duration::ZERO,
        },
    ))
}

fn t(secs: u64) -> Instant {
    Instant::from_secs(secs)
}

// ---------------------------------------------------------------------------
// The published cell
// ---------------------------------------------------------------------------

/// A cell holding token 0 (fetched at `t(10)`, fresh until 40–44 min later).
fn with_first_token() -> Shared {
    let shared = Shared::new();
    let Step::Run { attempt, .. } = shared.decide(t(10)) else {
        panic!("an empty cache opens an attempt")
    };
    shared.complete(&attempt, Ok(fetched("token-0")), t(10), t(10));
    shared
}

/// An invalidation (a 401 naming token 0) races the refresh that replaces
/// token 0 and a reader: once `invalidate` has returned, no reader sees
/// token 0 (it was unpublished, or already replaced, before it returned);
/// no reader sees a half-published token; and the late 401 never evicts
/// the newer token.
#[test]
fn cell_invalidation_races_refresh_and_reader() {
    check_covers(
        "cell_invalidation_races_refresh_and_reader",
        &[
            "the reader saw token 0",
            "the reader saw token 1",
            "the reader read after the invalidation was done",
        ],
        || {
            let shared = Arc::new(with_first_token());
            // 50 min on, token 0 is stale: a refresh is opened (it serves token 0 meanwhile).
            let stale = t(10 + 50 * 60);
            let Step::Run {
                attempt: refresh,
                serve: Some(_),
            } = shared.decide(stale)
            else {
                panic!("a stale token opens a background refresh")
            };
            let invalidated = Arc::new(AtomicBool::new(false));

            let refresher = {
                let shared = Arc::clone(&shared);
                thread::spawn(move || {
                    shared.complete(&refresh, Ok(fetched("token-1")), stale, stale)
                })
            };
            let invalidator = {
                let (shared, invalidated) = (Arc::clone(&shared), Arc::clone(&invalidated));
                thread::spawn(move || {
                    let done = shared.invalidate(Generation(0));
                    invalidated.store(true, Ordering::Release);
                    done
                })
            };
            // The reader read its clock when token 0 was still fresh.
            let read_at = t(11);
            let mut reached = vec![false; 3];
            for _ in 0..2 {
                let after = invalidated.load(Ordering::Acquire);
                let seen = shared.cached(read_at).map(|token| token.generation());
                if after {
                    assert_ne!(seen, Some(Generation(0)), "an invalidated token was served");
                    reached[2] = true;
                }
                reached[0] |= seen == Some(Generation(0));
                reached[1] |= seen == Some(Generation(1));
            }
            refresher.join().unwrap();
            invalidator.join().unwrap();

            shared.assert_cell_matches_machine();
            assert_eq!(
                shared.cached(read_at).map(|token| token.generation()),
                Some(Generation(1)),
                "the late 401 did not evict the newer token"
            );
            reached
        },
    );
}

/// A reader completes while the state lock is held for its whole run: the
/// read path takes no lock and waits on nothing.
#[test]
fn cell_readers_never_block() {
    check("cell_readers_never_block", || {
        let shared = Arc::new(with_first_token());
        let held = shared.state.lock().unwrap();
        let reader = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || shared.cached(t(11)).map(|token| token.generation()))
        };
        assert_eq!(reader.join().unwrap(), Some(Generation(0)));
        drop(held);
    });
}

// ---------------------------------------------------------------------------
// The hand-off to waiters (modelled Slot)
// ---------------------------------------------------------------------------

/// Two waiters and a resolver in every order (including waiters that come
/// after the resolve): every waiter returns, with the one outcome.
#[test]
fn slot_every_waiter_returns_with_the_one_outcome() {
    check_covers(
        "slot_every_waiter_returns_with_the_one_outcome",
        &["a waiter parked and was woken"],
        || {
            let slot = Arc::new(Slot::new());
            let waiters: Vec<_> = (0..2)
                .map(|_| {
                    let slot = Arc::clone(&slot);
                    thread::spawn(move || got(&slot.wait()))
                })
                .collect();
            slot.resolve(Ok(a_token(7)));
            for waiter in waiters {
                assert_eq!(waiter.join().unwrap(), Ok(Generation(7)));
            }
            // A waiter that arrives after the resolve returns at once.
            assert_eq!(got(&slot.wait()), Ok(Generation(7)));
            vec![slot.ready.woke.load(StdOrdering::Relaxed)]
        },
    );
}

/// Two resolvers race (an attempt completing, and `close` on the last
/// handle's drop), with two waiters: only the first resolve counts, and
/// both waiters get that one.
#[test]
fn slot_racing_resolvers_first_one_counts() {
    check_covers(
        "slot_racing_resolvers_first_one_counts",
        &["close won", "the completion won"],
        || {
            let shared = Arc::new(Shared::new());
            let Step::Run { attempt, .. } = shared.decide(t(10)) else {
                panic!("an empty cache opens an attempt")
            };
            let Step::Wait { slot } = shared.decide(t(10)) else {
                panic!("a second caller waits")
            };
            let waiter = {
                let slot = Arc::clone(&slot);
                thread::spawn(move || got(&slot.wait()))
            };
            let closer = {
                let shared = Arc::clone(&shared);
                thread::spawn(move || shared.close())
            };
            shared.complete(&attempt, Ok(fetched("token-0")), t(10), t(10));
            let mine = got(&attempt.slot.wait());
            closer.join().unwrap();
            let theirs = waiter.join().unwrap();
            let outcome = got(&slot.get().unwrap());
            assert_eq!(mine, outcome);
            assert_eq!(theirs, outcome);
            vec![outcome == Err(ErrorKind::Closed), outcome.is_ok()]
        },
    );
}

/// One waiter gives up by `quit` while another waits and the slot is
/// resolved: the resolver and the other waiter are never blocked. Returns
/// whether the quitter left without the outcome, and the slot.
fn a_quitting_waiter_blocks_no_one(quit: fn(&Slot) -> Option<Resolution>) -> (bool, Arc<Slot>) {
    let slot = Arc::new(Slot::new());
    let quitter = {
        let slot = Arc::clone(&slot);
        thread::spawn(move || quit(&slot).map(|r| got(&r)))
    };
    let waiter = {
        let slot = Arc::clone(&slot);
        thread::spawn(move || got(&slot.wait()))
    };
    slot.resolve(Ok(a_token(7)));
    assert_eq!(waiter.join().unwrap(), Ok(Generation(7)));
    let quit = quitter.join().unwrap();
    assert!(quit.is_none() || quit == Some(Ok(Generation(7))));
    (quit.is_none(), slot)
}

/// A waiter whose deadline passes (it drops its listener, passing nothing
/// on) blocks neither the resolver nor the other waiter.
#[test]
fn slot_waiter_timing_out_blocks_no_one() {
    check_covers(
        "slot_waiter_timing_out_blocks_no_one",
        &["a waiter gave up"],
        || vec![a_quitting_waiter_blocks_no_one(Slot::wait_blocking_expired).0],
    );
}

/// A waiter whose future is dropped (its listener is dropped, passing on a
/// notification it had not taken) blocks neither the resolver nor the
/// other waiter.
#[test]
fn slot_waiter_dropped_blocks_no_one() {
    check_covers(
        "slot_waiter_dropped_blocks_no_one",
        &["a dropped listener passed its notification on"],
        || {
            let (_, slot) = a_quitting_waiter_blocks_no_one(Slot::wait_dropped);
            vec![slot.ready.passed_on.load(StdOrdering::Relaxed)]
        },
    );
}

// ---------------------------------------------------------------------------
// Single flight
// ---------------------------------------------------------------------------

/// A waiter past the attempt's deadline (the blocking driver) reports the
/// timeout while the attempt completes and another caller waits on the
/// slot. Returns (what the slot-waiter got, what the timed-out waiter got).
fn timeout_races_completion() -> (Got, Got) {
    let shared = Arc::new(Shared::new());
    let Step::Run { attempt, .. } = shared.decide(t(10)) else {
        panic!("an empty cache opens an attempt")
    };
    let Step::Wait { slot } = shared.decide(t(10)) else {
        panic!("a second caller waits")
    };
    let (id, deadline) = (attempt.ticket.id(), attempt.ticket.deadline());
    let timer = {
        let shared = Arc::clone(&shared);
        thread::spawn(move || wait_past_deadline(&shared, id, &slot, deadline))
    };
    let slot = Arc::clone(&attempt.slot);
    let runner = {
        let shared = Arc::clone(&shared);
        thread::spawn(move || shared.complete(&attempt, Ok(fetched("token-0")), t(10), t(10)))
    };
    let waited = got(&slot.wait());
    runner.join().unwrap();
    let timed_out = timer.join().unwrap();
    assert_eq!(waited, got(&slot.get().unwrap()));
    shared.assert_cell_matches_machine();
    (waited, timed_out)
}

fn is_timeout(got: &Got) -> bool {
    matches!(got, Err(ErrorKind::Timeout { .. }))
}

/// The machine lets the timeout or the completion win and the slot is
/// resolved once with it; the waiter that timed out gets that outcome too.
#[test]
fn single_flight_timeout_races_completion() {
    check_covers(
        "single_flight_timeout_races_completion",
        &["the timeout won", "the completion won"],
        || {
            let (waited, timed_out) = timeout_races_completion();
            assert_eq!(
                timed_out, waited,
                "every waiter gets the attempt's one outcome"
            );
            vec![is_timeout(&waited), waited.is_ok()]
        },
    );
}

/// Rule 3 for a waiter that passes its deadline just as the attempt
/// succeeds: `complete` takes the attempt out of the machine under the lock
/// and resolves the slot after unlocking; a `time_out` in between finds
/// nothing in flight, so the waiter must wait for the slot rather than report
/// a timeout of its own (loom found this in an earlier `Inner::wait`).
#[test]
fn timed_out_waiter_gets_the_attempts_outcome() {
    check("timed_out_waiter_gets_the_attempts_outcome", || {
        let (waited, timed_out) = timeout_races_completion();
        assert_eq!(
            timed_out, waited,
            "every waiter gets the attempt's one outcome"
        );
    });
}

/// Three callers on an empty cache, inline refresh (`Mode::Inline`, WASI).
#[test]
fn single_flight_three_callers_inline() {
    check_covers(
        "single_flight_three_callers_inline",
        &["a caller waited on the slot"],
        || {
            let shared = Arc::new(Shared::new());
            let others: Vec<_> = ["token-a", "token-b"]
                .into_iter()
                .map(|secret| {
                    let shared = Arc::clone(&shared);
                    thread::spawn(move || token_inline(&shared, t(10), secret))
                })
                .collect();
            let mut calls = vec![token_inline(&shared, t(10), "token-c")];
            calls.extend(others.into_iter().map(|h| h.join().unwrap()));
            vec![assert_single_flight(&shared, &calls)]
        },
    );
}

/// Three callers on an empty cache, the attempt on a thread of its own
/// (`Mode::Threads`, and the async `Cache` with a spawned task).
#[test]
fn single_flight_three_callers_attempt_thread() {
    check_covers(
        "single_flight_three_callers_attempt_thread",
        &["a caller waited on the slot"],
        || {
            let shared = Arc::new(Shared::new());
            let others: Vec<_> = ["token-a", "token-b"]
                .into_iter()
                .map(|secret| {
                    let shared = Arc::clone(&shared);
                    thread::spawn(move || token_threads(&shared, t(10), secret))
                })
                .collect();
            let mut calls = vec![token_threads(&shared, t(10), "token-c")];
            calls.extend(others.into_iter().map(|h| h.join().unwrap()));
            vec![assert_single_flight(&shared, &calls)]
        },
    );
}

// ---------------------------------------------------------------------------
// The real Slot (event-listener on loom, std OnceLock)
// ---------------------------------------------------------------------------

/// Drives `future` to its end on this loom thread; also tells whether it
/// was pending and then woken (the waiter really waited).
fn block_on_woken<F: std::future::Future>(future: F) -> (F::Output, bool) {
    let mut future = std::pin::pin!(future);
    let mut polls = 0;
    let output = loom::future::block_on(std::future::poll_fn(|cx| {
        polls += 1;
        future.as_mut().poll(cx)
    }));
    (output, polls > 1)
}

/// `freshen_cache::slot::Slot` as written: two async waiters and a resolver
/// on a thread of its own; both get the one outcome.
#[test]
fn real_slot_two_waiters() {
    use freshen_cache::slot::Slot;

    check_covers(
        "real_slot_two_waiters",
        &["a waiter parked and was woken"],
        || {
            let slot = Arc::new(Slot::new());
            let resolver = {
                let slot = Arc::clone(&slot);
                thread::spawn(move || slot.resolve(Ok(a_token(7))))
            };
            let waiter = {
                let slot = Arc::clone(&slot);
                thread::spawn(move || block_on_woken(slot.wait()))
            };
            let (mine, mine_woken) = block_on_woken(slot.wait());
            let (theirs, theirs_woken) = waiter.join().unwrap();
            resolver.join().unwrap();
            assert_eq!(got(&mine), Ok(Generation(7)));
            assert_eq!(got(&theirs), Ok(Generation(7)));
            vec![mine_woken || theirs_woken]
        },
    );
}

/// `freshen_cache::slot::Slot` as written: a waiter gives up after its
/// first poll (its future is dropped, listener and all); the resolver and
/// the other waiter carry on.
#[test]
fn real_slot_waiter_gives_up() {
    use freshen_cache::slot::Slot;
    use futures_util::FutureExt;

    check_covers(
        "real_slot_waiter_gives_up",
        &["a waiter parked and was woken", "a waiter gave up"],
        || {
            let slot = Arc::new(Slot::new());
            let resolver = {
                let slot = Arc::clone(&slot);
                thread::spawn(move || slot.resolve(Ok(a_token(7))))
            };
            let quitter = {
                let slot = Arc::clone(&slot);
                thread::spawn(move || slot.wait().now_or_never().map(|r| got(&r)))
            };
            let (mine, woken) = block_on_woken(slot.wait());
            resolver.join().unwrap();
            let quit = quitter.join().unwrap();
            assert_eq!(got(&mine), Ok(Generation(7)));
            assert!(quit.is_none() || quit == Some(Ok(Generation(7))));
            vec![woken, quit.is_none()]
        },
    );
}

// ---------------------------------------------------------------------------
// The model can fail: broken variants that loom must catch
// ---------------------------------------------------------------------------

/// Without the second check a resolve between the first check and
/// `listen` is missed: the waiter sleeps forever (loom: deadlock).
#[test]
#[should_panic(expected = "deadlock")]
fn mutant_slot_without_second_check_loses_a_wakeup() {
    check("mutant_slot_without_second_check_loses_a_wakeup", || {
        let slot = Arc::new(Slot::new());
        let waiter = {
            let slot = Arc::clone(&slot);
            thread::spawn(move || got(&slot.wait_without_second_check()))
        };
        slot.resolve(Ok(a_token(7)));
        let _ = waiter.join();
    });
}

/// Publishing the pointer with a Relaxed store lets a reader follow it to
/// memory it cannot see written yet.
#[test]
#[should_panic(expected = "half-published")]
fn mutant_relaxed_publication_is_seen_half_published() {
    check("mutant_relaxed_publication_is_seen_half_published", || {
        let published = Arc::new(Published::new(&nothing()));
        let reader = {
            let published = Arc::clone(&published);
            thread::spawn(move || published.load().generation())
        };
        published.store_new(1, &a_token(7), Ordering::Relaxed);
        reader.join().unwrap();
    });
}

// ---------------------------------------------------------------------------
// The read path's per-thread spares (cache/src/local.rs)
// ---------------------------------------------------------------------------

/// `Shared::sync` then `Shared::cached` with a thread's spares: the writer
/// stores the new published token (an invalidation publishes "none", here 1)
/// and then bumps the version with Release; a reader loads the version with
/// Acquire and serves its spares (token 0, filled at version 1) only while
/// the version is unchanged, else refills from the cell. Once the reader can
/// see that the invalidation returned, it never serves token 0; and a reader
/// that sees the new version always finds the new token when it refills (its
/// spares are never labelled newer than what they hold).
#[test]
fn spares_never_serve_an_invalidated_token() {
    check_covers(
        "spares_never_serve_an_invalidated_token",
        &[
            "a reader served its spares",
            "a reader refilled",
            "a reader saw the invalidation return",
        ],
        || {
            let published = Arc::new(AtomicUsize::new(0));
            let version = Arc::new(AtomicU64::new(1));
            let returned = Arc::new(AtomicBool::new(false));
            let writer = {
                let (published, version, returned) = (
                    Arc::clone(&published),
                    Arc::clone(&version),
                    Arc::clone(&returned),
                );
                thread::spawn(move || {
                    // ArcSwap::store is SeqCst; the version bump comes after it.
                    published.store(1, Ordering::SeqCst);
                    version.fetch_add(1, Ordering::Release);
                    returned.store(true, Ordering::Release);
                })
            };
            let saw_return = returned.load(Ordering::Acquire);
            let seen = version.load(Ordering::Acquire);
            let (served, refilled) = if seen == 1 {
                (0, false)
            } else {
                (published.load(Ordering::SeqCst), true)
            };
            if saw_return {
                assert_eq!(
                    served, 1,
                    "an invalidated token served after invalidate returned"
                );
            }
            if refilled {
                assert_eq!(
                    served, 1,
                    "spares labelled with a version newer than their token"
                );
            }
            writer.join().unwrap();
            vec![!refilled, refilled, saw_return]
        },
    );
}

/// The same protocol with the bump mutated to Relaxed: loom must find a
/// reader that sees the new version but refills the old token.
#[test]
#[should_panic]
fn mutant_relaxed_version_bump_serves_a_stale_token() {
    check("mutant_relaxed_version_bump_serves_a_stale_token", || {
        let published = Arc::new(AtomicUsize::new(0));
        let version = Arc::new(AtomicU64::new(1));
        let writer = {
            let (published, version) = (Arc::clone(&published), Arc::clone(&version));
            thread::spawn(move || {
                published.store(1, Ordering::Relaxed);
                version.fetch_add(1, Ordering::Relaxed);
            })
        };
        if version.load(Ordering::Relaxed) != 1 {
            assert_eq!(
                published.load(Ordering::Relaxed),
                1,
                "refilled a stale token"
            );
        }
        writer.join().unwrap();
    });
}
