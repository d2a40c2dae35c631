//! The synchronous cache.

use core::fmt;
use core::time::Duration;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use freshen_cache::driver::{Attempt, EventSink, Outcome, Shared, Slot, Step, real_deadline};
use freshen_cache::{Clock, MonotonicClock, ReadMode, TokenRef};
use freshen_core::{
    AttemptId, BlockingTokenSource, Error, ErrorKind, Event, Instant, Policy, Token,
};

/// Where refreshes run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// On a background thread per attempt (and a timer thread with
    /// prefetch on). Callers never run a fetch themselves. Waiters time an
    /// attempt out after the policy's attempt timeout, but a blocking fetch
    /// cannot be interrupted: give the source its own timeouts (the
    /// transports have them), or a hung fetch keeps its thread.
    #[default]
    Threads,
    /// On the calling thread, with no thread at all: the first caller that
    /// needs a refresh runs it. Prefetch does not apply (nothing runs
    /// between calls).
    Inline,
}

/// A synchronous token cache. Cheap to clone; dropping the last clone stops
/// the timer thread (and joins it).
pub struct BlockingCache<S, C = MonotonicClock> {
    handle: Arc<Handle<S, C>>,
}

impl<S, C> Clone for BlockingCache<S, C> {
    fn clone(&self) -> Self {
        BlockingCache {
            handle: Arc::clone(&self.handle),
        }
    }
}

impl<S, C> fmt::Debug for BlockingCache<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingCache")
            .field("mode", &self.handle.inner.mode)
            .field("shared", &self.handle.inner.shared)
            .finish_non_exhaustive()
    }
}

/// A handle that does not keep the cache alive: for an event sink, or
/// anything the cache owns, that needs to reach the cache. A sink holding a
/// [`BlockingCache`] clone would keep the cache (and its timer thread) alive
/// for ever; a weak handle cannot.
pub struct WeakBlockingCache<S, C = MonotonicClock> {
    handle: std::sync::Weak<Handle<S, C>>,
}

impl<S, C> WeakBlockingCache<S, C> {
    /// The cache, if a [`BlockingCache`] handle to it is still alive.
    pub fn upgrade(&self) -> Option<BlockingCache<S, C>> {
        self.handle.upgrade().map(|handle| BlockingCache { handle })
    }
}

impl<S, C> Clone for WeakBlockingCache<S, C> {
    fn clone(&self) -> Self {
        WeakBlockingCache {
            handle: std::sync::Weak::clone(&self.handle),
        }
    }
}

impl<S, C> fmt::Debug for WeakBlockingCache<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WeakBlockingCache")
    }
}

struct Handle<S, C> {
    inner: Arc<Inner<S, C>>,
    /// Boxed: most caches have no timer thread (inline ones, those without
    /// prefetch), and a keyed cache holds thousands (16 bytes each).
    timer: Mutex<Option<Box<JoinHandle<()>>>>,
}

impl<S, C> Drop for Handle<S, C> {
    fn drop(&mut self) {
        self.inner.shared.close();
        let timer = self
            .timer
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(timer) = timer {
            let _ = timer.join();
        }
    }
}

struct Inner<S, C> {
    shared: Shared,
    source: S,
    clock: C,
    mode: Mode,
}

/// Builds a [`BlockingCache`].
#[must_use]
pub struct BlockingCacheBuilder<S, C = MonotonicClock> {
    source: S,
    clock: C,
    mode: Mode,
    policy: Policy,
    events: Option<EventSink>,
    seed: Option<u64>,
    read_mode: ReadMode,
}

impl<S: BlockingTokenSource, C: Clock> BlockingCacheBuilder<S, C> {
    /// Where refreshes run (default [`Mode::Threads`]).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
    /// The refresh policy (default [`Policy::default`]).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }
    /// Calls `sink` with every lifecycle event, outside every lock. A sink
    /// that panics loses that event, nothing else. A sink must not hold a
    /// [`BlockingCache`] clone (the cache and its timer thread would never
    /// stop): give it a [`BlockingCache::downgrade`] handle, set once the
    /// cache is built.
    ///
    /// ```
    /// use std::sync::{Arc, OnceLock};
    /// use freshen_blocking::{BlockingCache, WeakBlockingCache};
    /// # use freshen_core::{BlockingTokenSource, Error, Fetched};
    /// # struct MySource;
    /// # impl BlockingTokenSource for MySource {
    /// #     fn fetch(&self) -> Result<Fetched, Error> {
    /// #         Ok(Fetched::new("t").with_lifetime(std::time::Duration::from_secs(3600)))
    /// #     }
    /// # }
    /// let weak: Arc<OnceLock<WeakBlockingCache<MySource>>> = Arc::default();
    /// let seen = Arc::clone(&weak);
    /// let cache = BlockingCache::builder(MySource)
    ///     .on_event(move |_event| {
    ///         if let Some(cache) = seen.get().and_then(WeakBlockingCache::upgrade) {
    ///             let _ = cache.now();
    ///         }
    ///     })
    ///     .build();
    /// let _ = weak.set(cache.downgrade());
    /// ```
    pub fn on_event(mut self, sink: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.events = Some(Arc::new(sink));
        self
    }
    /// Seeds jitter and backoff (for reproducible tests).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
    /// How the read path hands out a fresh token (default
    /// [`ReadMode::PerThread`]): [`ReadMode::Shared`] for a cache among
    /// thousands, such as the values of a `KeyedCache` (about 450 bytes a
    /// cache rather than 1.5 KB, for 25–30 ns more a read).
    ///
    /// ```
    /// use freshen_blocking::{BlockingCache, Mode, ReadMode};
    /// # use freshen_core::{BlockingTokenSource, Error, Fetched};
    /// # struct MySource;
    /// # impl BlockingTokenSource for MySource {
    /// #     fn fetch(&self) -> Result<Fetched, Error> {
    /// #         Ok(Fetched::new("t").with_lifetime(std::time::Duration::from_secs(3600)))
    /// #     }
    /// # }
    /// let cache = BlockingCache::builder(MySource)
    ///     .mode(Mode::Inline)
    ///     .read_mode(ReadMode::Shared)
    ///     .build();
    /// assert_eq!(cache.token()?.secret(), "t");
    /// assert_eq!(cache.cached().map(|t| t.secret().to_owned()).as_deref(), Some("t"));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn read_mode(mut self, mode: ReadMode) -> Self {
        self.read_mode = mode;
        self
    }
    /// Reads time from `clock` instead of the OS (a `ManualClock` in tests;
    /// waiting threads re-read it every [`Clock::virtual_tick`]).
    pub fn clock<D: Clock>(self, clock: D) -> BlockingCacheBuilder<S, D> {
        BlockingCacheBuilder {
            source: self.source,
            clock,
            mode: self.mode,
            policy: self.policy,
            events: self.events,
            seed: self.seed,
            read_mode: self.read_mode,
        }
    }

    /// Builds the cache; in [`Mode::Threads`] with prefetch on, starts the
    /// timer thread, which fetches the first token at once.
    pub fn build(self) -> BlockingCache<S, C> {
        let prefetch = self.policy.prefetch() && self.mode == Mode::Threads;
        let inner = Arc::new(Inner {
            shared: Shared::with_read_mode(self.policy, self.events, self.seed, self.read_mode),
            source: self.source,
            clock: self.clock,
            mode: self.mode,
        });
        let timer = prefetch
            .then(|| {
                let inner = Arc::clone(&inner);
                std::thread::Builder::new()
                    .name("freshen-timer".into())
                    .spawn(move || timer_loop(&inner))
                    .ok()
                    .map(Box::new)
            })
            .flatten();
        BlockingCache {
            handle: Arc::new(Handle {
                inner,
                timer: Mutex::new(timer),
            }),
        }
    }
}

impl<S: BlockingTokenSource> BlockingCache<S> {
    /// A builder for a cache over `source` (threads, OS clock, default policy).
    pub fn builder(source: S) -> BlockingCacheBuilder<S> {
        BlockingCacheBuilder {
            source,
            clock: MonotonicClock::new(),
            mode: Mode::Threads,
            policy: Policy::default(),
            events: None,
            seed: None,
            read_mode: ReadMode::PerThread,
        }
    }

    /// A cache with the defaults.
    pub fn new(source: S) -> Self {
        Self::builder(source).build()
    }
}

impl<S: BlockingTokenSource, C: Clock> BlockingCache<S, C> {
    /// A usable token. A fresh one is returned at once with no lock; a stale
    /// one at once too, with a refresh started (in [`Mode::Inline`] the first
    /// caller to see it stale runs the refresh and returns the new token).
    /// Only with no usable token does the caller wait for the one attempt in
    /// flight, up to its timeout.
    pub fn token(&self) -> Result<TokenRef<'_>, Error> {
        let inner = &self.handle.inner;
        let now = inner.clock.now();
        if let Some(token) = inner.shared.cached(now) {
            return Ok(token);
        }
        match inner.shared.decide(now) {
            Step::Ready(token) => Ok(token),
            Step::Fail(error) => Err(error),
            Step::Wait {
                attempt,
                slot,
                deadline,
            } => inner.wait(attempt, &slot, deadline),
            Step::Run { attempt, serve } => {
                let id = attempt.ticket().id();
                let deadline = attempt.ticket().deadline();
                let slot = Arc::clone(attempt.slot());
                match inner.mode {
                    Mode::Threads => {
                        spawn_attempt(inner, attempt);
                        match serve {
                            Some(token) => Ok(token),
                            None => inner.wait(id, &slot, deadline),
                        }
                    }
                    Mode::Inline => {
                        inner.run(&attempt);
                        match (slot.get(), serve) {
                            (Some(Ok(fresh)), _) => inner.shared.hand_out(Ok(fresh), &inner.clock),
                            (_, Some(held)) => Ok(held),
                            (Some(Err(error)), None) => Err(error),
                            (None, None) => inner.wait(id, &slot, deadline),
                        }
                    }
                }
            }
        }
    }

    /// Waits until the cache holds a token, for at most `timeout` on this
    /// cache's clock: for startup, when the source may not answer yet (a
    /// metadata server refusing connections for its first seconds, an
    /// identity still being assigned).
    ///
    /// Each try is an ordinary [`token`](Self::token) call, so failures
    /// back off as the policy says (this sleeps out each backoff rather
    /// than hammering the source) and none is kept once a token arrives.
    /// Returns `Ok` as soon as a token is held; a permanent error at once,
    /// since waiting does not fix a configuration; and at the deadline the
    /// last error. An attempt in flight at the deadline is waited for (up
    /// to the policy's attempt timeout).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use freshen_core::{BlockingTokenSource, Error, Fetched};
    /// # struct MySource;
    /// # impl BlockingTokenSource for MySource {
    /// #     fn fetch(&self) -> Result<Fetched, Error> {
    /// #         Ok(Fetched::new("t").with_lifetime(Duration::from_secs(3600)))
    /// #     }
    /// # }
    /// let cache = freshen_blocking::BlockingCache::new(MySource);
    /// cache.ready(Duration::from_secs(30))?;
    /// assert!(cache.cached().is_some());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn ready(&self, timeout: Duration) -> Result<(), Error> {
        let inner = &self.handle.inner;
        let deadline = inner.clock.now().saturating_add(timeout);
        loop {
            let error = match self.token() {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            let now = inner.clock.now();
            if error.is_permanent() || now >= deadline {
                return Err(error);
            }
            let retry_at = inner.shared.retry_at(now).min(deadline);
            let mut span = retry_at.saturating_duration_since(now);
            if let Some(tick) = inner.clock.virtual_tick() {
                span = span.min(tick);
            }
            std::thread::sleep(span);
        }
    }

    /// The token if it is fresh now: the lock-free read path.
    #[inline]
    pub fn cached(&self) -> Option<TokenRef<'_>> {
        let inner = &self.handle.inner;
        inner.shared.cached(inner.clock.now())
    }

    /// Calls `f` with the token if it is fresh now, lent for the call: the
    /// read path of [`cached`](Self::cached) for a caller that only reads
    /// the token (its secret into a header). With [`ReadMode::Shared`] it
    /// takes no count on the token: two atomic operations, not four.
    ///
    /// ```
    /// use freshen_blocking::{BlockingCache, Mode, ReadMode};
    /// # use freshen_core::{BlockingTokenSource, Error, Fetched};
    /// # struct MySource;
    /// # impl BlockingTokenSource for MySource {
    /// #     fn fetch(&self) -> Result<Fetched, Error> {
    /// #         Ok(Fetched::new("t").with_lifetime(std::time::Duration::from_secs(3600)))
    /// #     }
    /// # }
    /// let cache = BlockingCache::builder(MySource)
    ///     .mode(Mode::Inline)
    ///     .read_mode(ReadMode::Shared)
    ///     .build();
    /// assert_eq!(cache.with_cached(|t| t.secret().len()), None); // nothing fetched yet
    /// cache.token()?;
    /// let header = cache.with_cached(|t| format!("Bearer {}", t.secret()));
    /// assert_eq!(header.as_deref(), Some("Bearer t"));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn with_cached<T>(&self, f: impl FnOnce(&Token) -> T) -> Option<T> {
        let inner = &self.handle.inner;
        inner.shared.with_cached(inner.clock.now(), f)
    }

    /// Invalidates `token` after the server rejected it (a 401). Ignored —
    /// `false` — if that token was already replaced, or is another cache's.
    pub fn invalidate(&self, token: &Token) -> bool {
        self.handle.inner.shared.invalidate(token)
    }

    /// A handle that does not keep the cache alive (see [`WeakBlockingCache`]).
    pub fn downgrade(&self) -> WeakBlockingCache<S, C> {
        WeakBlockingCache {
            handle: Arc::downgrade(&self.handle),
        }
    }

    /// Now on this cache's clock: the timeline a token's instants are on
    /// (compare with [`Token::phase`], [`Token::expires_at`]).
    pub fn now(&self) -> Instant {
        self.handle.inner.clock.now()
    }
}

impl<S: BlockingTokenSource, C: Clock> Inner<S, C> {
    /// Runs one attempt on this thread and reports it.
    fn run(&self, attempt: &Attempt) {
        let sent_at = self.clock.now();
        let fetch = || {
            self.shared.in_attempt_span(attempt, || {
                catch_unwind(AssertUnwindSafe(|| self.source.fetch()))
            })
        };
        let outcome = match fetch() {
            Ok(result) => Outcome::Fetched(result),
            Err(_panic) => Outcome::Panicked,
        };
        self.shared
            .complete(attempt, outcome, sent_at, self.clock.now());
    }

    /// Waits for attempt `id` to leave its outcome in `slot`, timing it out
    /// at `deadline` on this cache's clock.
    fn wait(&self, id: AttemptId, slot: &Slot, deadline: Instant) -> Result<TokenRef<'_>, Error> {
        let resolution = self.shared.wait_blocking(&self.clock, id, slot, deadline);
        self.shared.hand_out(resolution, &self.clock)
    }
}

/// Runs `attempt` on a thread of its own; if no thread can be had, fails it.
fn spawn_attempt<S: BlockingTokenSource, C: Clock>(inner: &Arc<Inner<S, C>>, attempt: Attempt) {
    let attempt = Arc::new(attempt);
    let (task_inner, task_attempt) = (Arc::clone(inner), Arc::clone(&attempt));
    let spawned = std::thread::Builder::new()
        .name("freshen-refresh".into())
        .spawn(move || task_inner.run(&task_attempt));
    if let Err(e) = spawned {
        let error = Error::transient(ErrorKind::Transport(format!(
            "could not start a refresh thread: {e}"
        )))
        .with_source(e);
        let now = inner.clock.now();
        inner
            .shared
            .complete(&attempt, Outcome::Fetched(Err(error)), now, now);
    }
}

/// The prefetch timer thread: sleeps until the machine's next wake-up or a
/// change, and starts what is due. Ends when the last handle is dropped.
fn timer_loop<S: BlockingTokenSource, C: Clock>(inner: &Arc<Inner<S, C>>) {
    loop {
        if inner.shared.is_closed() {
            return;
        }
        let changed = inner.shared.listen_changes();
        let now = inner.clock.now();
        if let Some(attempt) = inner.shared.poll_timers(now) {
            spawn_attempt(inner, attempt);
            continue;
        }
        let mut span = match inner.shared.next_wakeup() {
            Some(at) => at.saturating_duration_since(now),
            None => Duration::from_secs(3600),
        };
        if let Some(tick) = inner.clock.virtual_tick() {
            span = span.min(tick);
        }
        if inner.shared.is_closed() {
            return;
        }
        let _ = changed.wait_until(real_deadline(span));
    }
}
