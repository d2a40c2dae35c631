//! freshen-smol: freshen's token cache on smol — a [`Runtime`] and nothing
//! else: spawn, timer and clock; no decisions, no network I/O.
//!
//! [`SmolRuntime`] spawns attempts on smol's global executor (or one you
//! pass) and times them with smol's `Timer`.
//!
//! ```
//! use freshen_core::{Error, Fetched, TokenSource};
//! use freshen_smol::{SmolCache, SmolRuntime};
//!
//! struct MySource;
//! impl TokenSource for MySource {
//!     async fn fetch(&self) -> Result<Fetched, Error> {
//!         // Go to the token endpoint here (see freshen-ureq's async transport).
//!         Ok(Fetched::new("token").with_lifetime(std::time::Duration::from_secs(3600)))
//!     }
//! }
//!
//! smol::block_on(async {
//!     let cache: SmolCache<MySource> = SmolCache::new(MySource, SmolRuntime::new());
//!     let token = cache.token().await?;
//!     assert_eq!(token.secret(), "token");
//!     Ok::<_, Error>(())
//! })?;
//! # Ok::<_, Error>(())
//! ```

use core::time::Duration;
use std::sync::Arc;

use freshen_cache::{BoxTask, Clock, MonotonicClock, Runtime};
use freshen_core::Instant;
use smol::Executor;

/// A freshen cache on smol.
pub type SmolCache<S, C = MonotonicClock> = freshen_cache::Cache<S, SmolRuntime<C>>;

/// The smol runtime for a freshen cache.
#[derive(Clone, Debug)]
pub struct SmolRuntime<C = MonotonicClock> {
    executor: Option<Arc<Executor<'static>>>,
    clock: C,
}

impl SmolRuntime {
    /// Spawns on smol's global executor (the one `smol::spawn` uses).
    pub fn new() -> Self {
        SmolRuntime {
            executor: None,
            clock: MonotonicClock::new(),
        }
    }

    /// Spawns on `executor`, which the caller must keep running.
    pub fn with_executor(executor: Arc<Executor<'static>>) -> Self {
        SmolRuntime {
            executor: Some(executor),
            clock: MonotonicClock::new(),
        }
    }
}

impl Default for SmolRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock> SmolRuntime<C> {
    /// Reads time from `clock` (a `ManualClock` in tests; timers then wake
    /// every [`Clock::virtual_tick`] to follow it).
    pub fn with_clock<D: Clock>(self, clock: D) -> SmolRuntime<D> {
        SmolRuntime {
            executor: self.executor,
            clock,
        }
    }
}

impl<C: Clock> Clock for SmolRuntime<C> {
    #[inline]
    fn now(&self) -> Instant {
        self.clock.now()
    }

    fn virtual_tick(&self) -> Option<Duration> {
        self.clock.virtual_tick()
    }
}

impl<C: Clock + Clone> Runtime for SmolRuntime<C> {
    fn spawn(&self, task: BoxTask) {
        match &self.executor {
            Some(executor) => executor.spawn(task).detach(),
            None => smol::spawn(task).detach(),
        }
    }

    fn sleep(&self, duration: Duration) -> BoxTask {
        let clock = self.clock.clone();
        Box::pin(async move {
            match clock.virtual_tick() {
                None => {
                    smol::Timer::after(duration).await;
                }
                // A virtual clock: wake every tick until it reaches the deadline.
                Some(tick) => {
                    let deadline = clock.now().saturating_add(duration);
                    while clock.now() < deadline {
                        smol::Timer::after(tick).await;
                    }
                }
            }
        })
    }
}
