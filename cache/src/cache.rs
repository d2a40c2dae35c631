//! The async cache, generic over a [`TokenSource`] and a [`Runtime`].

use core::fmt;
use core::future::Future;
use core::panic::AssertUnwindSafe;
use core::pin::{Pin, pin};
use core::task::{Context, Poll};
use std::sync::Arc;

use freshen_core::{Error, ErrorKind, Event, Policy, Token, TokenSource};
use futures_util::FutureExt;
use futures_util::future::{Either, select};

use crate::rt::Runtime;
use crate::shared::{Attempt, EventSink, Outcome, Shared, Step, into_result};
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
}

/// Builds a [`Cache`].
#[must_use]
pub struct CacheBuilder<S, R> {
    source: S,
    runtime: R,
    policy: Policy,
    events: Option<EventSink>,
    seed: Option<u64>,
}

impl<S: TokenSource, R: Runtime> CacheBuilder<S, R> {
    /// The refresh policy (default: [`Policy::default`]).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Calls `sink` with every lifecycle event, outside every lock.
    pub fn on_event(mut self, sink: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.events = Some(Arc::new(sink));
        self
    }

    /// Seeds the jitter and backoff randomness (for reproducible tests; by
    /// default each process draws its own seed).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Builds the cache. With prefetch on, starts its timer task (which
    /// fetches the first token at once).
    pub fn build(self) -> Cache<S, R> {
        let prefetch = self.policy.prefetch();
        let inner = Arc::new(Inner {
            shared: Shared::new(self.policy, self.events, self.seed),
            source: self.source,
            runtime: self.runtime,
        });
        if prefetch {
            let task = timer_loop(Arc::clone(&inner));
            inner.runtime.spawn(Box::pin(task));
        }
        Cache {
            handle: Arc::new(Handle { inner }),
        }
    }
}

impl<S: TokenSource, R: Runtime> Cache<S, R> {
    /// A builder for a cache over `source` on `runtime`.
    pub fn builder(source: S, runtime: R) -> CacheBuilder<S, R> {
        CacheBuilder {
            source,
            runtime,
            policy: Policy::default(),
            events: None,
            seed: None,
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
    /// flight, shared with every other waiter. Dropping this future never
    /// cancels that attempt.
    #[inline]
    pub fn token(&self) -> TokenFuture<'_> {
        match self.cached() {
            Some(token) => TokenFuture(Ok(token)),
            None => TokenFuture(Err(Box::new(Box::pin(self.token_slow())))),
        }
    }

    /// The token if it is fresh now: the lock-free read path, with no await.
    #[inline]
    pub fn cached(&self) -> Option<TokenRef> {
        let inner = &self.handle.inner;
        inner.shared.cached(inner.runtime.now())
    }

    async fn token_slow(&self) -> Result<TokenRef, Error> {
        let inner = &self.handle.inner;
        match inner.shared.decide(inner.runtime.now()) {
            Step::Ready(token) => Ok(token),
            Step::Fail(error) => Err(error),
            Step::Wait { slot, .. } => into_result(slot.wait().await),
            Step::Run { attempt, serve } => {
                let slot = Arc::clone(attempt.slot());
                spawn_attempt(inner, attempt);
                match serve {
                    Some(token) => Ok(token),
                    None => into_result(slot.wait().await),
                }
            }
        }
    }

    /// Now on this cache's clock: the timeline a token's instants are on
    /// (compare with [`Token::phase`], [`Token::expires_at`]).
    pub fn now(&self) -> freshen_core::Instant {
        self.handle.inner.runtime.now()
    }

    /// Invalidates `token` after the server rejected it (a 401): the next
    /// call waits for a new one. Ignored — `false` — if that token was
    /// already replaced, so a late 401 cannot evict a newer token.
    pub fn invalidate(&self, token: &Token) -> bool {
        self.handle.inner.shared.invalidate(token)
    }
}

/// The future of [`Cache::token`]: two words, so that creating and moving
/// it costs nothing on the fast path — the token itself when it is fresh,
/// the boxed slow path otherwise.
#[must_use = "a future does nothing unless polled"]
pub struct TokenFuture<'a>(Result<TokenRef, Box<SlowPath<'a>>>);

type SlowPath<'a> = Pin<Box<dyn Future<Output = Result<TokenRef, Error>> + Send + 'a>>;

impl Future for TokenFuture<'_> {
    type Output = Result<TokenRef, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().0 {
            Ok(token) => Poll::Ready(
                token
                    .take()
                    .ok_or_else(|| Error::transient(ErrorKind::Closed)),
            ),
            Err(slow) => slow.as_mut().as_mut().poll(cx),
        }
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
    let task = run_attempt(Arc::clone(inner), attempt);
    inner.runtime.spawn(Box::pin(task));
}

/// Runs one attempt to the end: the fetch, raced against the attempt
/// timeout and the cache's shutdown. No caller's cancellation reaches it.
async fn run_attempt<S: TokenSource, R: Runtime>(inner: Arc<Inner<S, R>>, attempt: Attempt) {
    let sent_at = inner.runtime.now();
    let timeout = attempt
        .ticket()
        .deadline()
        .saturating_duration_since(sent_at);
    let fetch = pin!(AssertUnwindSafe(inner.source.fetch()).catch_unwind());
    let sleep = inner.runtime.sleep(timeout);
    let closed = pin!(inner.shared.until_closed());
    let outcome = match select(fetch, select(sleep, closed)).await {
        Either::Left((Ok(result), _)) => Outcome::Fetched(result),
        Either::Left((Err(_panic), _)) => Outcome::Panicked,
        Either::Right((Either::Left(_), _)) => Outcome::TimedOut,
        Either::Right((Either::Right(_), _)) => Outcome::Closed,
    };
    inner
        .shared
        .complete(&attempt, outcome, sent_at, inner.runtime.now());
}

/// The prefetch timer: sleeps until the machine's next wake-up (or a change),
/// then lets it start what is due. Ends when the last handle is dropped.
async fn timer_loop<S: TokenSource, R: Runtime>(inner: Arc<Inner<S, R>>) {
    loop {
        if inner.shared.is_closed() {
            return;
        }
        let changed = inner.shared.listen_changes();
        let now = inner.runtime.now();
        if let Some(attempt) = inner.shared.poll_timers(now) {
            spawn_attempt(&inner, attempt);
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
