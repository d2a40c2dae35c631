//! The hand-off from one attempt to all its waiters: set once, read by many.
//! A waiter that gives up just drops its listener; the attempt goes on.

use event_listener::Event;
#[cfg(not(target_family = "wasm"))]
use event_listener::Listener;
use freshen_core::machine::Resolution;

use crate::sync::OnceCell;

/// Where one attempt's outcome is left for its waiters.
#[derive(Debug)]
pub struct Slot {
    result: OnceCell<Resolution>,
    ready: Event,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            result: OnceCell::new(),
            ready: Event::new(),
        }
    }
}

impl Slot {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Leaves the outcome and wakes every waiter. Only the first call counts.
    pub fn resolve(&self, resolution: Resolution) {
        if self.result.set(resolution) {
            self.ready.notify(usize::MAX);
        }
    }

    /// The outcome, if it is there.
    pub fn get(&self) -> Option<Resolution> {
        self.result.get_cloned()
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

    /// Blocks the thread until the outcome is there. Only for a slot whose
    /// attempt has left the machine: its resolve is already under way.
    pub fn wait_resolved(&self) -> Resolution {
        loop {
            let soon = std::time::Instant::now() + std::time::Duration::from_secs(1);
            if let Some(r) = self.wait_blocking(soon) {
                return r;
            }
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
            #[cfg(not(target_family = "wasm"))]
            listener.wait_deadline(deadline)?;
            #[cfg(target_family = "wasm")]
            {
                drop(listener);
                if !sleep_step(deadline) {
                    return self.get();
                }
            }
        }
    }
}

/// `span` from now on the real clock (a day if that overflows).
pub fn real_deadline(span: std::time::Duration) -> std::time::Instant {
    let now = std::time::Instant::now();
    now.checked_add(span)
        .unwrap_or_else(|| now + std::time::Duration::from_secs(24 * 3600))
}

/// event-listener has no blocking wait on wasm: sleep towards `deadline` in
/// short steps; `false` once it has passed.
#[cfg(target_family = "wasm")]
pub(crate) fn sleep_step(deadline: std::time::Instant) -> bool {
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    if left.is_zero() {
        return false;
    }
    std::thread::sleep(left.min(std::time::Duration::from_millis(1)));
    true
}
