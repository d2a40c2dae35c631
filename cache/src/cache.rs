//! The async cache, generic over a [`TokenSource`] and a [`Runtime`].

use core::fmt;
use core::future::Future;
use core::mem::ManuallyDrop;
use core::panic::AssertUnwindSafe;
use core::pin::{Pin, pin};
use core::task::{Context, Poll};
use core::time::Duration;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use freshen_core::{AttemptId, Error, ErrorKind, Event, Instant, Policy, Token, TokenSource};
use futures_util::FutureExt;
use futures_util::future::{Either, select};

use crate::read_mode::ReadMode;
use crate::runtime::Runtime;
use crate::shared::{Attempt, Events, Outcome, Shared, Step};
use crate::slot::Slot;
use crate::sync::SyncArc;
use crate::token_ref::TokenRef;

/// A token cache that refreshes ahead in the background on runtime `R`.
///
/// Cheap to clone: clones share one cache. Dropping the last clone stops all
/// background work (the attempt in flight and the prefetch timer).
pub struct Cache<S, R> {
    handle: Arc<Handle<S, R>>,
}

impl<S, R> Clone for Cache<S, R> {
    fn clone(&self) -> Self {
        Cache {
            handle: Arc::clone(&self.handle),
        }
    }
}

impl<S, R> fmt::Debug for Cache<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("shared", &self.handle.inner.shared)
            .finish_non_exhaustive()
    }
}

/// A handle that does not keep the cache alive: for an event sink, or
/// anything the cache owns, that needs to reach the cache. A sink holding a
/// [`Cache`] clone would keep the cache (and its prefetch timer) alive for
/// ever; a `WeakCache` cannot.
pub struct WeakCache<S, R> {
    handle: Weak<Handle<S, R>>,
}

impl<S, R> WeakCache<S, R> {
    /// The cache, if a [`Cache`] handle to it is still alive.
    pub fn upgrade(&self) -> Option<Cache<S, R>> {
        self.handle.upgrade().map(|handle| Cache { handle })
    }
}

impl<S, R> Clone for WeakCache<S, R> {
    fn clone(&self) -> Self {
        WeakCache {
            handle: Weak::clone(&self.handle),
        }
    }
}

impl<S, R> fmt::Debug for WeakCache<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WeakCache")
    }
}

/// Owned by user handles only; its drop is the shutdown signal.
struct Handle<S, R> {
    inner: Arc<Inner<S, R>>,
}

impl<S, R> Drop for Handle<S, R> {
    fn drop(&mut self) {
        self.inner.shared.close();
    }
}

struct Inner<S, R> {
    shared: Shared,
    source: S,
    runtime: R,
    /// The prefetch timer task was dropped with its runtime: the next read
    /// starts another (on the runtime the read runs on).
    timer_lost: AtomicBool,
}

/// Builds a [`Cache`].
#[must_use]
pub struct CacheBuilder<S, R> {
    source: S,
    runtime: R,
    policy: Policy,
    events: Events<WeakCache<S, R>>,
    seed: Option<u64>,
    read_mode: ReadMode,
}

impl<S: TokenSource, R: Runtime> CacheBuilder<S, R> {
    /// The refresh policy (default: [`Policy::default`]).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Calls `sink` with every lifecycle event, outside every lock. A sink
    /// that panics loses that event, nothing else. A sink must not hold a
    /// [`Cache`] clone (the cache would never stop): to reach the cache, use
    /// [`CacheBuilder::on_event_with_cache`].
    pub fn on_event(mut self, sink: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.events = Events::Plain(Arc::new(sink));
        self
    }

    /// Like [`CacheBuilder::on_event`], and the sink is handed a
    /// [`WeakCache`] to the cache being built: it can reach the cache without
    /// keeping it alive, so dropping the last handle still stops everything.
    pub fn on_event_with_cache(
        mut self,
        sink: impl Fn(&WeakCache<S, R>, &Event) + Send + Sync + 'static,
    ) -> Self {
        self.events = Events::WithCache(Box::new(sink));
        self
    }

    /// Seeds the jitter and backoff randomness (for reproducible tests; by
    /// default each process draws its own seed).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// How the read path hands out a fresh token (default
    /// [`ReadMode::PerThread`]): [`ReadMode::Shared`] for a cache among
    /// thousands (the values of a [`KeyedCache`](crate::KeyedCache)).
    ///
    /// ```
    /// # use freshen_cache::{BoxTask, Cache, Clock, ReadMode, Runtime};
    /// # use freshen_core::{Error, Fetched, Instant, TokenSource};
    /// # use std::time::Duration;
    /// # struct Source;
    /// # impl TokenSource for Source {
    /// #     async fn fetch(&self) -> Result<Fetched, Error> {
    /// #         Ok(Fetched::new("t").with_lifetime(Duration::from_secs(3600)))
    /// #     }
    /// # }
    /// # struct Inline;
    /// # impl Clock for Inline { fn now(&self) -> Instant { Instant::ZERO } }
    /// # impl Runtime for Inline {
    /// #     fn spawn(&self, task: BoxTask) { let _ = futures_util::FutureExt::now_or_never(task); }
    /// #     fn sleep(&self, _: Duration) -> BoxTask { Box::pin(std::future::pending()) }
    /// # }
    /// let cache = Cache::builder(Source, Inline).read_mode(ReadMode::Shared).build();
    /// assert!(cache.token_now().is_none()); // starts the fetch, which this runtime runs at once
    /// assert_eq!(cache.cached().map(|t| t.secret().to_owned()).as_deref(), Some("t"));
    /// ```
    pub fn read_mode(mut self, mode: ReadMode) -> Self {
        self.read_mode = mode;
        self
    }

    /// Builds the cache. With prefetch on, starts its timer task (which
    /// fetches the first token at once).
    pub fn build(self) -> Cache<S, R> {
        let prefetch = self.policy.prefetch();
        let handle = Arc::new_cyclic(|weak| {
            let weak = WeakCache {
                handle: Weak::clone(weak),
            };
            Handle {
                inner: Arc::new(Inner {
                    shared: Shared::with_read_mode(
                        self.policy,
                        self.events.into_sink(weak),
                        self.seed,
                        self.read_mode,
                    ),
                    source: self.source,
                    runtime: self.runtime,
                    timer_lost: AtomicBool::new(false),
                }),
            }
        });
        if prefetch {
            spawn_timer(&handle.inner);
        }
        Cache { handle }
    }
}

impl<S: TokenSource, R: Runtime> Cache<S, R> {
    /// A builder for a cache over `source` on `runtime`.
    pub fn builder(source: S, runtime: R) -> CacheBuilder<S, R> {
        CacheBuilder {
            source,
            runtime,
            policy: Policy::default(),
            events: Events::None,
            seed: None,
            read_mode: ReadMode::PerThread,
        }
    }

    /// A cache with the default policy.
    pub fn new(source: S, runtime: R) -> Self {
        Self::builder(source, runtime).build()
    }

    /// A usable token.
    ///
    /// A fresh token is returned at once with no lock, allocation or wait
    /// (the future is ready on its first poll). A stale one is returned at
    /// once too, and a background refresh is started. Only when no usable
    /// token exists does the caller wait — for the single attempt in
    /// flight, shared with every other waiter, and never past that
    /// attempt's deadline. Dropping this future never cancels the attempt.
    #[inline(always)]
    pub fn token(&self) -> TokenFuture<'_> {
        match self.cached() {
            Some(token) => TokenFuture(Ok(token)),
            None => TokenFuture(Err(Some(ManuallyDrop::new(self.slow_path())))),
        }
    }

    /// The boxed wait for a token, out of line: so `token()` is only the
    /// read path and a branch, and inlines into its caller.
    #[inline(never)]
    fn slow_path(&self) -> Box<SlowPath<'_>> {
        Box::new(Box::pin(self.token_slow()))
    }

    /// The token if it is fresh now: the lock-free read path, with no await.
    #[inline(always)]
    pub fn cached(&self) -> Option<TokenRef<'_>> {
        self.revive_timer();
        let inner = &self.handle.inner;
        inner.shared.cached(inner.runtime.now())
    }

    /// Calls `f` with the token if it is fresh now, lent for the call: the
    /// read path of [`cached`](Self::cached) for a caller that only reads
    /// the token (its secret into a header). With [`ReadMode::Shared`] it
    /// takes no count on the token: two atomic operations, not four.
    ///
    /// ```
    /// # use freshen_cache::{BoxTask, Cache, Clock, ReadMode, Runtime};
    /// # use freshen_core::{Error, Fetched, Instant, TokenSource};
    /// # use std::time::Duration;
    /// # struct Source;
    /// # impl TokenSource for Source {
    /// #     async fn fetch(&self) -> Result<Fetched, Error> {
    /// #         Ok(Fetched::new("t").with_lifetime(Duration::from_secs(3600)))
    /// #     }
    /// # }
    /// # struct Inline;
    /// # impl Clock for Inline { fn now(&self) -> Instant { Instant::ZERO } }
    /// # impl Runtime for Inline {
    /// #     fn spawn(&self, task: BoxTask) { let _ = futures_util::FutureExt::now_or_never(task); }
    /// #     fn sleep(&self, _: Duration) -> BoxTask { Box::pin(std::future::pending()) }
    /// # }
    /// let cache = Cache::builder(Source, Inline).read_mode(ReadMode::Shared).build();
    /// assert_eq!(cache.with_cached(|t| t.secret().len()), None); // nothing fetched yet
    /// let _ = cache.token_now(); // this runtime runs the fetch at once
    /// let header = cache.with_cached(|t| format!("Bearer {}", t.secret()));
    /// assert_eq!(header.as_deref(), Some("Bearer t"));
    /// ```
    #[inline]
    pub fn with_cached<T>(&self, f: impl FnOnce(&Token) -> T) -> Option<T> {
        self.revive_timer();
        let inner = &self.handle.inner;
        inner.shared.with_cached(inner.runtime.now(), f)
    }

    /// A usable token now, without waiting and without an executor at hand:
    /// for synchronous hooks on the request path (tonic's `Interceptor`).
    ///
    /// A fresh token comes from the lock-free read path. A stale one is
    /// handed out and a background refresh is started, as [`Cache::token`]
    /// would. With no usable token, a refresh is started in the background
    /// (unless one is in flight or a backoff holds) and `None` is returned at
    /// once: the caller answers "unavailable" and the next call finds the
    /// new token. The refresh is spawned on the cache's [`Runtime`], which
    /// may be another thread's (a `TokioRuntime` built in a runtime spawns
    /// there when called from a plain thread).
    ///
    /// ```
    /// # use freshen_cache::{BoxTask, Cache, Clock, Runtime};
    /// # use freshen_core::{Error, Fetched, Instant, TokenSource};
    /// # use std::time::Duration;
    /// # struct Source;
    /// # impl TokenSource for Source {
    /// #     async fn fetch(&self) -> Result<Fetched, Error> {
    /// #         Ok(Fetched::new("t").with_lifetime(Duration::from_secs(3600)))
    /// #     }
    /// # }
    /// # // A runtime that runs each task to its end on the spot.
    /// # struct Inline;
    /// # impl Clock for Inline { fn now(&self) -> Instant { Instant::ZERO } }
    /// # impl Runtime for Inline {
    /// #     fn spawn(&self, task: BoxTask) { let _ = futures_util::FutureExt::now_or_never(task); }
    /// #     fn sleep(&self, _: Duration) -> BoxTask { Box::pin(std::future::pending()) }
    /// # }
    /// let cache = Cache::new(Source, Inline);
    /// // Empty: the refresh is started, nothing waits for it.
    /// assert!(cache.token_now().is_none());
    /// // This runtime ran it to its end at once: the token is there.
    /// assert_eq!(cache.token_now().map(|t| t.secret().to_owned()).as_deref(), Some("t"));
    /// ```
    pub fn token_now(&self) -> Option<TokenRef<'_>> {
        if let Some(token) = self.cached() {
            return Some(token);
        }
        let inner = &self.handle.inner;
        match inner.shared.decide(inner.runtime.now()) {
            Step::Ready(token) => Some(token),
            Step::Run { attempt, serve } => {
                spawn_attempt(inner, attempt);
                serve
            }
            // An attempt is in flight, or a backoff holds: nothing to start.
            Step::Wait { .. } | Step::Fail(_) => None,
        }
    }

    /// Restarts the prefetch timer if its task was lost with its runtime:
    /// one relaxed load of a flag that is written only then; the swap lets
    /// one reader of many restart it.
    #[inline(always)]
    fn revive_timer(&self) {
        let inner = &self.handle.inner;
        if inner.timer_lost.load(Ordering::Relaxed)
            && inner.timer_lost.swap(false, Ordering::AcqRel)
        {
            spawn_timer(inner);
        }
    }

    async fn token_slow(&self) -> Result<TokenRef<'_>, Error> {
        let inner = &self.handle.inner;
        match inner.shared.decide(inner.runtime.now()) {
            Step::Ready(token) => Ok(token),
            Step::Fail(error) => Err(error),
            Step::Wait {
                attempt,
                slot,
                deadline,
            } => inner.wait(attempt, &slot, deadline).await,
            Step::Run { attempt, serve } => {
                let id = attempt.ticket().id();
                let deadline = attempt.ticket().deadline();
                let slot = SyncArc::clone(attempt.slot());
                spawn_attempt(inner, attempt);
                match serve {
                    Some(token) => Ok(token),
                    None => inner.wait(id, &slot, deadline).await,
                }
            }
        }
    }

    /// Waits until the cache holds a token, for at most `timeout` on the
    /// runtime's clock: for startup, when the source may not answer yet (a
    /// metadata server refusing connections for its first seconds, an
    /// identity still being assigned).
    ///
    /// Each try is an ordinary [`token`](Self::token) call, so failures
    /// back off as the policy says (this waits out each backoff rather than
    /// hammering the source) and none is kept once a token arrives. Returns
    /// `Ok` as soon as a token is held; a permanent error at once, since
    /// waiting does not fix a configuration; and at the deadline the last
    /// error. An attempt in flight at the deadline is waited for (up to the
    /// policy's attempt timeout).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use freshen_core::{Error, Fetched, TokenSource};
    /// # struct MySource;
    /// # impl TokenSource for MySource {
    /// #     async fn fetch(&self) -> Result<Fetched, Error> {
    /// #         Ok(Fetched::new("t").with_lifetime(Duration::from_secs(3600)))
    /// #     }
    /// # }
    /// # async fn startup<R: freshen_cache::Runtime>(runtime: R) -> Result<(), Error> {
    /// let cache = freshen_cache::Cache::new(MySource, runtime);
    /// cache.ready(Duration::from_secs(30)).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn ready(&self, timeout: Duration) -> Result<(), Error> {
        let inner = &self.handle.inner;
        let deadline = inner.runtime.now().saturating_add(timeout);
        loop {
            let error = match self.token().await {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            let now = inner.runtime.now();
            if error.is_permanent() || now >= deadline {
                return Err(error);
            }
            let retry_at = inner.shared.retry_at(now).min(deadline);
            inner
                .runtime
                .sleep(retry_at.saturating_duration_since(now))
                .await;
        }
    }

    /// A handle that does not keep the cache alive (see [`WeakCache`]).
    pub fn downgrade(&self) -> WeakCache<S, R> {
        WeakCache {
            handle: Arc::downgrade(&self.handle),
        }
    }

    /// Now on this cache's clock: the timeline a token's instants are on
    /// (compare with [`Token::phase`], [`Token::expires_at`]).
    pub fn now(&self) -> freshen_core::Instant {
        self.handle.inner.runtime.now()
    }

    /// Invalidates `token` after the server rejected it (a 401): the next
    /// call waits for a new one. Ignored — `false` — if that token was
    /// already replaced, so a late 401 cannot evict a newer token, or if it
    /// is another cache's.
    pub fn invalidate(&self, token: &Token) -> bool {
        self.handle.inner.shared.invalidate(token)
    }
}

/// The future of [`Cache::token`]: the token itself when it is fresh (ready
/// on the first poll, nothing boxed), the boxed slow path otherwise.
///
/// Two words, so it is returned in registers and moved without a copy
/// through memory: the slow path is boxed twice (a thin pointer to the
/// boxed `async` block), which costs one small allocation on a path that
/// waits for the network anyway.
///
/// The slow path is kept out of the future's drop glue (an `Option` that
/// [`Drop`] takes, in `ManuallyDrop`) and dropped out of line: the glue is
/// then a branch and the ready token's check, small enough to inline into
/// every caller. It is `None` only inside that drop.
#[must_use = "a future does nothing unless polled"]
pub struct TokenFuture<'a>(Result<TokenRef<'a>, Option<ManuallyDrop<Box<SlowPath<'a>>>>>);

type SlowPath<'a> = Pin<Box<dyn Future<Output = Result<TokenRef<'a>, Error>> + Send + 'a>>;

impl<'a> Future for TokenFuture<'a> {
    type Output = Result<TokenRef<'a>, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().0 {
            Ok(token) => Poll::Ready(match token.take() {
                Some(token) => Ok(token),
                None => Err(polled_after_ready()),
            }),
            Err(Some(slow)) => poll_slow(slow, cx),
            // Only `drop` takes the slow path out, so never seen here.
            Err(None) => Poll::Ready(Err(polled_after_ready())),
        }
    }
}

impl Drop for TokenFuture<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        if let Err(slow) = &mut self.0 {
            drop_slow(slow.take().map(ManuallyDrop::into_inner));
        }
    }
}

/// Drops a waiting future's boxed slow path: out of line, see [`TokenFuture`].
#[inline(never)]
fn drop_slow(slow: Option<Box<SlowPath<'_>>>) {
    drop(slow);
}

/// Polled again after it was ready: a misuse of the future, told as an
/// error rather than a panic. Out of line, like [`poll_slow`], so the ready
/// path inlines into the caller's poll.
#[cold]
#[inline(never)]
fn polled_after_ready() -> Error {
    Error::transient(ErrorKind::Closed)
}

#[inline(never)]
fn poll_slow<'a>(
    slow: &mut SlowPath<'a>,
    cx: &mut Context<'_>,
) -> Poll<Result<TokenRef<'a>, Error>> {
    slow.as_mut().poll(cx)
}

impl<S: TokenSource, R: Runtime> Inner<S, R> {
    /// Waits for `attempt` to leave its outcome in `slot`, and times it out
    /// at `deadline` if no one else has: the deadline binds every waiter,
    /// so an attempt whose task was lost (its runtime shut down) cannot
    /// hang anyone.
    async fn wait(
        &self,
        attempt: AttemptId,
        slot: &Slot,
        deadline: Instant,
    ) -> Result<TokenRef<'_>, Error> {
        let left = deadline.saturating_duration_since(self.runtime.now());
        // The timer is made only if the outcome is not there at the first
        // poll (an attempt lost at spawn has already resolved its slot).
        let timer = pin!(async { self.runtime.sleep(left).await });
        let resolution = match select(pin!(slot.wait()), timer).await {
            Either::Left((resolution, _)) => resolution,
            Either::Right(_) => {
                self.shared.time_out(attempt, self.runtime.now());
                // Resolved by this timeout, or by the completion that beat it.
                slot.wait().await
            }
        };
        self.shared.hand_out(resolution, &self.runtime)
    }
}

impl fmt::Debug for TokenFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Ok(_) => "TokenFuture(ready)",
            Err(_) => "TokenFuture(waiting)",
        })
    }
}

fn spawn_attempt<S: TokenSource, R: Runtime>(inner: &Arc<Inner<S, R>>, attempt: Attempt) {
    // The report is made here and moved into the task: a task dropped
    // before its first poll (its runtime has shut down, or shuts down with
    // the task queued) still reports the attempt as lost.
    let report = Report {
        inner: Arc::clone(inner),
        attempt: Some(attempt),
    };
    inner.runtime.spawn(Box::pin(run_attempt(report)));
}

/// Runs one attempt to the end: the fetch, raced against the attempt's
/// deadline and the cache's shutdown. No caller's cancellation reaches it,
/// and if the task itself is dropped (its runtime shuts down), the attempt
/// is reported as lost rather than left hanging.
async fn run_attempt<S: TokenSource, R: Runtime>(mut report: Report<S, R>) {
    let inner = Arc::clone(&report.inner);
    let sent_at = inner.runtime.now();
    let timeout = report.ticket_deadline().saturating_duration_since(sent_at);
    // Inside the attempt's span (the `tracing` feature): what the source
    // logs belongs to the attempt.
    #[cfg(feature = "tracing")]
    let fetch = tracing::Instrument::instrument(inner.source.fetch(), report.span());
    #[cfg(not(feature = "tracing"))]
    let fetch = inner.source.fetch();
    let mut fetch = pin!(AssertUnwindSafe(fetch).catch_unwind());
    let sleep = inner.runtime.sleep(timeout);
    let closed = pin!(inner.shared.until_closed());
    let outcome = match select(fetch.as_mut(), select(sleep, closed)).await {
        Either::Left((Ok(result), _)) => Outcome::Fetched(result),
        Either::Left((Err(_panic), _)) => Outcome::Panicked,
        Either::Right((Either::Left(_), _)) => Outcome::TimedOut,
        Either::Right((Either::Right(_), _)) => Outcome::Closed,
    };
    let finished = matches!(outcome, Outcome::Fetched(_) | Outcome::Panicked);
    report.send(outcome, sent_at);
    if !finished {
        // The waiters have their answer. A response already on its way is
        // still read, for one more attempt timeout at most, so the source
        // keeps what it carries (a rotated refresh token the server has
        // already retired the old one for). Its token is not adopted.
        let grace = inner.runtime.sleep(timeout);
        let _ = select(fetch, grace).await;
    }
}

/// Reports an attempt's outcome exactly once: when told to, or as
/// [`Outcome::Lost`] if dropped before.
struct Report<S, R: Runtime> {
    inner: Arc<Inner<S, R>>,
    attempt: Option<Attempt>,
}

impl<S, R: Runtime> Report<S, R> {
    fn ticket_deadline(&self) -> Instant {
        self.attempt
            .as_ref()
            .map_or(Instant::ZERO, |a| a.ticket().deadline())
    }

    #[cfg(feature = "tracing")]
    fn span(&self) -> tracing::Span {
        self.attempt
            .as_ref()
            .map_or_else(tracing::Span::none, |a| self.inner.shared.attempt_span(a))
    }

    fn send(&mut self, outcome: Outcome, sent_at: Instant) {
        if let Some(attempt) = self.attempt.take() {
            let now = self.inner.runtime.now();
            self.inner.shared.complete(&attempt, outcome, sent_at, now);
        }
    }
}

impl<S, R: Runtime> Drop for Report<S, R> {
    fn drop(&mut self) {
        let now = self.inner.runtime.now();
        self.send(Outcome::Lost, now);
    }
}

/// Starts the prefetch timer task.
fn spawn_timer<S: TokenSource, R: Runtime>(inner: &Arc<Inner<S, R>>) {
    let guard = TimerGuard(Arc::clone(inner));
    inner.runtime.spawn(Box::pin(timer_loop(guard)));
}

/// Owned by the timer task: if the task is dropped while the cache is open
/// (its runtime shut down), the next read starts a new one.
struct TimerGuard<S, R>(Arc<Inner<S, R>>);

impl<S, R> Drop for TimerGuard<S, R> {
    fn drop(&mut self) {
        if !self.0.shared.is_closed() {
            self.0.timer_lost.store(true, Ordering::Relaxed);
        }
    }
}

/// The prefetch timer: sleeps until the machine's next wake-up (or a change),
/// then lets it start what is due. Ends when the last handle is dropped.
async fn timer_loop<S: TokenSource, R: Runtime>(guard: TimerGuard<S, R>) {
    let inner = &guard.0;
    loop {
        if inner.shared.is_closed() {
            return;
        }
        let changed = inner.shared.listen_changes();
        let now = inner.runtime.now();
        if let Some(attempt) = inner.shared.poll_timers(now) {
            spawn_attempt(inner, attempt);
            continue;
        }
        let wake = inner.shared.next_wakeup();
        let closed = pin!(inner.shared.until_closed());
        match wake {
            Some(at) => {
                let sleep = inner.runtime.sleep(at.saturating_duration_since(now));
                let _ = select(select(sleep, changed), closed).await;
            }
            None => {
                let _ = select(changed, closed).await;
            }
        }
    }
}
