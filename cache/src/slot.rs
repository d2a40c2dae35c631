//! The hand-off from one attempt to all its waiters: set once, read by many.
//! A waiter that gives up just drops its listener; the attempt goes on.

use std::sync::OnceLock;

use event_listener::{Event, Listener};
use freshen_core::machine::Resolution;

/// Where one attempt's outcome is left for its waiters.
#[derive(Debug, Default)]
pub struct Slot {
    result: OnceLock<Resolution>,
    ready: Event,
}

impl Slot {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Leaves the outcome and wakes every waiter. Only the first call counts.
    pub fn resolve(&self, resolution: Resolution) {
        if self.result.set(resolution).is_ok() {
            self.ready.notify(usize::MAX);
        }
    }

    /// The outcome, if it is there.
    pub fn get(&self) -> Option<Resolution> {
        self.result.get().cloned()
    }

    /// Waits for the outcome.
    pub async fn wait(&self) -> Resolution {
        loop {
            if let Some(r) = self.get() {
                return r;
            }
            let listener = self.ready.listen();
            // Checked again after registering, so a resolve in between is not missed.
            if let Some(r) = self.get() {
                return r;
            }
            listener.await;
        }
    }

    /// Blocks the thread until the outcome is there or `deadline` passes.
    pub fn wait_blocking(&self, deadline: std::time::Instant) -> Option<Resolution> {
        loop {
            if let Some(r) = self.get() {
                return Some(r);
            }
            let listener = self.ready.listen();
            if let Some(r) = self.get() {
                return Some(r);
            }
            listener.wait_deadline(deadline)?;
        }
    }
}

/// Blocks on `listener` until it fires or `deadline` passes; `true` if it
/// fired. For drivers that wait on [`crate::Shared::listen_changes`].
pub fn wait_listener(
    listener: event_listener::EventListener,
    deadline: std::time::Instant,
) -> bool {
    listener.wait_deadline(deadline).is_some()
}
