//! The runtime a cache runs on: a clock, a spawner and a timer. Kept as small
//! as hyper 1.x's `rt` traits, so a new runtime is an adapter of a few lines.

use core::future::Future;
use core::pin::Pin;
use core::time::Duration;

use freshen_core::Instant;

/// A boxed, sendable unit of background work.
pub type BoxTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A monotonic clock. The cache asks it on every read, so it must be cheap:
/// the timeline needs nothing finer than milliseconds.
pub trait Clock: Send + Sync + 'static {
    /// Now, as an instant from this clock's origin.
    fn now(&self) -> Instant;

    /// `Some(tick)` for a clock that does not follow real time (a test's
    /// manual clock): drivers that wait in real time re-read it every tick
    /// to notice its deadlines. `None` (the default) for real clocks.
    fn virtual_tick(&self) -> Option<Duration> {
        None
    }
}

/// What the async cache needs from an executor.
pub trait Runtime: Clock {
    /// Runs `task` in the background, detached. The cache never relies on
    /// the returned task being awaited: attempts are not tied to any caller.
    fn spawn(&self, task: BoxTask);

    /// A future that completes after `duration` on this runtime's timer
    /// (virtual time where the runtime has it, like tokio's paused clock).
    fn sleep(&self, duration: Duration) -> BoxTask;
}
