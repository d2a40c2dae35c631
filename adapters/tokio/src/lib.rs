//! freshen's token cache on tokio.
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
#[derive(Clone, Debug)]
pub struct TokioRuntime {
    handle: Handle,
    clock: TokioClock,
}

#[derive(Clone, Debug)]
enum TokioClock {
    /// `CLOCK_MONOTONIC_COARSE`: a few nanoseconds a read.
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
            Ok(handle) => Self::from_handle(handle),
            Err(e) => panic!("freshen-tokio: {e}"),
        }
    }

    /// The runtime behind `handle`.
    pub fn from_handle(handle: Handle) -> Self {
        TokioRuntime {
            handle,
            clock: TokioClock::Os(MonotonicClock::new()),
        }
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
            TokioClock::Runtime(origin) => Instant::ZERO
                .saturating_add(tokio::time::Instant::now().saturating_duration_since(*origin)),
        }
    }
}

impl Runtime for TokioRuntime {
    fn spawn(&self, task: BoxTask) {
        drop(self.handle.spawn(task));
    }

    fn sleep(&self, duration: Duration) -> BoxTask {
        Box::pin(tokio::time::sleep(duration))
    }
}
