//! tokio on virtual time, multi-thread runtime included.
//!
//! tokio pauses its clock only on a `current_thread` runtime
//! (`time::pause()` and `Builder::start_paused` refuse a multi-thread one),
//! so on a multi-thread runtime the cache reads a `ManualClock` instead. The
//! shipped `TokioRuntime` still does the spawning (on the caller's runtime,
//! as in production); sleeps follow the manual clock, waking on tokio's
//! timer every tick to re-read it, as the smol adapter does for a virtual
//! clock. Shared by the conformance suite and the torture test.

use std::time::Duration;

use freshen::Instant;
use freshen_cache::{BoxTask, Clock, ManualClock, Runtime};
use freshen_tokio::TokioRuntime;

/// See the module docs.
#[derive(Clone, Debug)]
pub struct TokioOnManualClock {
    tokio: TokioRuntime,
    clock: ManualClock,
}

impl TokioOnManualClock {
    /// The current tokio runtime (as `TokioRuntime::current`), on `clock`.
    pub fn current(clock: ManualClock) -> Self {
        TokioOnManualClock {
            tokio: TokioRuntime::current(),
            clock,
        }
    }
}

impl Clock for TokioOnManualClock {
    fn now(&self) -> Instant {
        self.clock.now()
    }

    fn virtual_tick(&self) -> Option<Duration> {
        self.clock.virtual_tick()
    }
}

impl Runtime for TokioOnManualClock {
    fn spawn(&self, task: BoxTask) {
        self.tokio.spawn(task);
    }

    fn sleep(&self, duration: Duration) -> BoxTask {
        let (tokio, clock) = (self.tokio.clone(), self.clock.clone());
        let deadline = clock.now().saturating_add(duration);
        let tick = clock.virtual_tick().unwrap_or(Duration::from_millis(5));
        Box::pin(async move {
            while clock.now() < deadline {
                tokio.sleep(tick).await;
            }
        })
    }
}
