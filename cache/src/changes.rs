//! A wake-up for timer loops: the machine's timers may have moved.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use event_listener::EventListener;
#[cfg(not(target_family = "wasm"))]
use event_listener::Listener;

/// Fires once when the machine's timers may have moved (a token arrived, an
/// attempt ended, the cache was closed). Take one with
/// [`Shared::listen_changes`](crate::driver::Shared::listen_changes)
/// *before* reading the next wake-up, then await it (async drivers) or
/// [`wait_until`](Changes::wait_until) a deadline (threads): a change in
/// between is not missed. Dropping it stops listening.
#[must_use = "a listener does nothing unless awaited or waited on"]
pub struct Changes(EventListener);

impl Changes {
    pub(crate) fn new(listener: EventListener) -> Self {
        Changes(listener)
    }

    /// Blocks the thread until the change fires or `deadline` passes;
    /// `true` if it fired. (On wasm, with no blocking wait, it sleeps to
    /// the deadline in short steps and returns `false`.)
    pub fn wait_until(self, deadline: std::time::Instant) -> bool {
        #[cfg(not(target_family = "wasm"))]
        return self.0.wait_deadline(deadline).is_some();
        #[cfg(target_family = "wasm")]
        {
            drop(self);
            while crate::slot::sleep_step(deadline) {}
            false
        }
    }
}

impl Future for Changes {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl fmt::Debug for Changes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Changes")
    }
}
