//! Clocks: a cheap coarse OS clock for production, a manual one for tests and
//! simulations.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use core::time::Duration;
use freshen_core::Instant;

use crate::runtime::Clock;

/// The OS's monotonic clock at millisecond resolution.
///
/// On Linux it reads `CLOCK_MONOTONIC_COARSE` (about 5 ns, against about
/// 25 ns for `std::time::Instant::now()`), which is what keeps a cached read
/// in the low nanoseconds. Elsewhere it falls back to `std::time::Instant`.
#[derive(Clone, Debug)]
pub struct MonotonicClock {
    origin: Origin,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
type Origin = u64;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
type Origin = std::time::Instant;

impl MonotonicClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        MonotonicClock {
            origin: Self::raw(),
        }
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[inline]
    fn raw() -> u64 {
        let ts = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
        let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
        let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
        secs.saturating_mul(1_000_000_000).saturating_add(nanos)
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn raw() -> std::time::Instant {
        std::time::Instant::now()
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[inline]
    fn now(&self) -> Instant {
        Instant::from_nanos(Self::raw().saturating_sub(self.origin))
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn now(&self) -> Instant {
        Instant::ZERO.saturating_add(self.origin.elapsed())
    }
}

/// A clock that moves only when told to: virtual time for tests and
/// simulations. Clones share the same time. Drivers that wait in real time
/// re-read it every [`ManualClock::with_tick`] (default 50 ms).
#[derive(Clone, Debug)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
    tick: Duration,
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock {
            nanos: Arc::default(),
            tick: Duration::from_millis(50),
        }
    }
}

impl ManualClock {
    /// A clock at the origin.
    pub fn new() -> Self {
        Self::default()
    }

    /// How often waiting drivers re-read this clock.
    #[must_use]
    pub fn with_tick(mut self, tick: Duration) -> Self {
        self.tick = tick;
        self
    }

    /// Moves time forward by `by` (saturating).
    pub fn advance(&self, by: Duration) {
        let by = freshen_core::time::duration_nanos(by);
        let _ = self
            .nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_add(by))
            });
    }

    /// Sets the time to `at` if it is later than now.
    pub fn set(&self, at: Instant) {
        self.nanos.fetch_max(at.as_nanos(), Ordering::AcqRel);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        Instant::from_nanos(self.nanos.load(Ordering::Acquire))
    }

    fn virtual_tick(&self) -> Option<Duration> {
        Some(self.tick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_clock_tracks_real_time_within_milliseconds() {
        let clock = MonotonicClock::new();
        let start = std::time::Instant::now();
        let a = clock.now();
        std::thread::sleep(Duration::from_millis(30));
        let b = clock.now();
        let real = start.elapsed();
        let seen = b.saturating_duration_since(a);
        assert!(b >= a);
        assert!(
            seen + Duration::from_millis(10) >= Duration::from_millis(30),
            "{seen:?}"
        );
        assert!(
            seen <= real + Duration::from_millis(10),
            "{seen:?} vs {real:?}"
        );
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new();
        let other = clock.clone();
        assert_eq!(clock.now(), Instant::ZERO);
        other.advance(Duration::from_secs(5));
        assert_eq!(clock.now(), Instant::from_secs(5));
        clock.set(Instant::from_secs(3));
        assert_eq!(clock.now(), Instant::from_secs(5), "never backwards");
    }
}
