//! freshen-tokio: freshen's token cache on tokio — a [`Runtime`] and nothing
//! else: spawn, timer and clock; no decisions, no network I/O.
//!
//! [`TokioRuntime`] spawns attempts with `tokio::spawn` and times them with
//! `tokio::time`, so tokio's paused clock drives them in tests.
//!
//! ```
//! use freshen_core::{Error, Fetched, TokenSource};
//! use freshen_tokio::{TokioCache, TokioRuntime};
//!
//! struct MySource;
//! impl TokenSource for MySource {
//!     async fn fetch(&self) -> Result<Fetched, Error> {
//!         // Go to the token endpoint here (see freshen-reqwest).
//!         Ok(Fetched::new("token").with_lifetime(std::time::Duration::from_secs(3600)))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let cache: TokioCache<MySource> = TokioCache::new(MySource, TokioRuntime::current());
//! let token = cache.token().await?;
//! assert_eq!(token.secret(), "token");
//! # Ok(()) }
//! ```

use core::time::Duration;

use freshen_cache::{BoxTask, Clock, MonotonicClock, Runtime};
use freshen_core::Instant;
use tokio::runtime::Handle;

/// A freshen cache on tokio.
pub type TokioCache<S> = freshen_cache::Cache<S, TokioRuntime>;

/// The tokio runtime for a freshen cache.
///
/// Where attempts run: built with [`TokioRuntime::current`], on the runtime
/// of the task that needs the refresh (like `tokio::spawn`), or on the
/// runtime the cache was built in when asked from outside any runtime. So a
/// cache kept in a `static` and used from one `#[tokio::test]` runtime after
/// another keeps working. Built with [`TokioRuntime::from_handle`], always on
/// that runtime; if it has shut down, attempts are lost and callers get
/// [`freshen_core::ErrorKind::AttemptLost`] at once — they never hang.
/// Deadlines are timed on the same runtime as the attempts. A prefetch timer
/// lost with its runtime is restarted by the next `token()` or `cached()`
/// made inside a runtime.
#[derive(Clone, Debug)]
pub struct TokioRuntime {
    handle: Handle,
    /// Spawn on `handle` even from inside another runtime.
    pinned: bool,
    clock: TokioClock,
}

#[derive(Clone, Debug)]
enum TokioClock {
    /// freshen's `MonotonicClock`: the coarse OS clock plus the time
    /// suspended, a few nanoseconds a read.
    Os(MonotonicClock),
    /// tokio's own clock, which stops when paused (`tokio::time::pause`).
    Runtime(tokio::time::Instant),
}

impl TokioRuntime {
    /// The runtime of the current tokio context.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, like `tokio::spawn`. Use
    /// [`TokioRuntime::from_handle`] to pass one explicitly.
    #[allow(clippy::panic)]
    pub fn current() -> Self {
        match Handle::try_current() {
            Ok(handle) => TokioRuntime {
                pinned: false,
                ..Self::from_handle(handle)
            },
            Err(e) => panic!("freshen-tokio: {e}"),
        }
    }

    /// The runtime behind `handle`: every attempt runs there.
    pub fn from_handle(handle: Handle) -> Self {
        TokioRuntime {
            handle,
            pinned: true,
            clock: TokioClock::Os(MonotonicClock::new()),
        }
    }

    /// The runtime to run on now (see the type's docs).
    fn handle(&self) -> Handle {
        if !self.pinned {
            if let Ok(current) = Handle::try_current() {
                return current;
            }
        }
        self.handle.clone()
    }

    /// Reads time from tokio's clock instead of the OS's coarse clock, so a
    /// paused clock (`#[tokio::test(start_paused = true)]`,
    /// `tokio::time::advance`) drives the cache's notion of time too. Costs
    /// more per read (tokio's clock takes a lock when test-util is on): use
    /// it in tests, not in production.
    pub fn with_runtime_clock(mut self) -> Self {
        self.clock = TokioClock::Runtime(tokio::time::Instant::now());
        self
    }
}

impl Clock for TokioRuntime {
    #[inline]
    fn now(&self) -> Instant {
        match &self.clock {
            TokioClock::Os(clock) => clock.now(),
            TokioClock::Runtime(origin) => runtime_clock_now(*origin),
        }
    }
}

/// tokio's clock since `origin`: kept out of line, so the OS clock's read,
/// which every cached read pays, inlines into it.
#[inline(never)]
fn runtime_clock_now(origin: tokio::time::Instant) -> Instant {
    Instant::ZERO.saturating_add(tokio::time::Instant::now().saturating_duration_since(origin))
}

impl Runtime for TokioRuntime {
    fn spawn(&self, task: BoxTask) {
        // On a runtime that has shut down the task is dropped at once, and
        // the cache reports the attempt as lost.
        drop(self.handle().spawn(task));
    }

    fn sleep(&self, duration: Duration) -> BoxTask {
        // On the timer of the runtime attempts run on (see the type's docs):
        // a waiter on a runtime without timers still has its deadline.
        let _context = (self.pinned || Handle::try_current().is_err()).then(|| self.handle.enter());
        Box::pin(tokio::time::sleep(duration))
    }
}
