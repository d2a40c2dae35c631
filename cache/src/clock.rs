//! Clocks: the OS's, cheap and counting suspend, for production; a manual one
//! for tests and simulations.
//!
//! The cache reads the clock on every read of a token, so the OS clock must
//! cost a few nanoseconds; and a token's expiry must hold while the machine
//! sleeps (rule 13 of docs/design.md), which the cheap clocks alone do not give. See
//! [`MonotonicClock`] for how both are had at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use core::time::Duration;
use freshen_core::Instant;

use crate::runtime::Clock;

mod fold;
mod os;

use fold::Fold;
use os::OsClocks;

/// The process's one fold of the OS clocks: what the fast clock missed is a
/// fact about the machine, not about one clock, so every [`MonotonicClock`]
/// shares it (and stays a plain integer to clone).
static OS: Fold<OsClocks> = Fold::new(OsClocks {});

/// The OS's monotonic clock at tick resolution (1–4 ms), with the time the
/// machine spent suspended counted in.
///
/// # What stops while the machine sleeps
///
/// Linux's `CLOCK_MONOTONIC` and its cheap `CLOCK_MONOTONIC_COARSE` stop
/// during suspend (a closed laptop lid, a suspended host), and so does
/// `std::time::Instant`, which reads `CLOCK_MONOTONIC`: a token that expired
/// during two hours asleep would look fresh on waking. `CLOCK_BOOTTIME`
/// counts suspend, but it has no coarse form and costs as much as any
/// precise read. Measured on the reference machine (x86-64 KVM guest, 2
/// vCPUs, `tsc` clocksource, Linux 6.18, HZ=250) with
/// `cargo bench --manifest-path benches/Cargo.toml --bench clocks`, six
/// runs in two quiet spells:
///
/// | one read | ns |
/// |---|---:|
/// | `clock_gettime(CLOCK_MONOTONIC_COARSE)` | 3.9–6.2 |
/// | `clock_gettime(CLOCK_REALTIME_COARSE)` | 4.1–5.8 |
/// | `clock_gettime(CLOCK_BOOTTIME)` | 24–29 |
/// | `clock_gettime(CLOCK_MONOTONIC)` | 25–29.5 |
/// | `std::time::Instant::now()` | 23.5–32 |
///
/// Reading `CLOCK_BOOTTIME` on every call would add about 20 ns to a cached
/// read whose whole budget is 15 ns. A paused VM or a restored snapshot is
/// worse still: in the guest even `CLOCK_BOOTTIME` stops, and only the wall
/// clock, once NTP or a guest agent steps it, shows the time that passed.
///
/// # What this clock does
///
/// Every read is `CLOCK_MONOTONIC_COARSE` plus an offset, `slept`, loaded
/// from an atomic (one more load and a compare decide whether it is due for
/// a check). Once per tick, the first read that sees a new coarse value
/// samples `CLOCK_BOOTTIME`, `CLOCK_REALTIME` and `CLOCK_MONOTONIC` (about
/// 100 ns, so some 25 µs of CPU a second at HZ=250) and folds into `slept`:
///
/// - the time suspended: the largest `CLOCK_BOOTTIME - CLOCK_MONOTONIC` seen,
///   which only the kernel moves, and only forward;
/// - forward jumps of the wall clock against `CLOCK_BOOTTIME` of 100 ms or
///   more (a paused VM whose wall clock was corrected, or a wall clock set
///   forward). Believing a wall clock set forward only makes tokens look
///   older, so they are refreshed early: the safe direction.
///
/// A wall clock set back is never believed: it cannot move this clock back,
/// slow it down, or hide a later suspend, so it never extends a token. The
/// clock never goes backwards. The first read after a resume already counts
/// the time slept: the coarse clock then shows a value no read showed before
/// the suspend, which triggers a sample.
///
/// Cost on the reference machine, in the same runs: 5.0–7.0 ns a read, about
/// 1 ns above the bare coarse read (timed interleaved with it: +0.5 ns at
/// the fastest, +0.9 ns at the median); on two threads at once 7.4–7.5 ns a
/// read per thread, against 5.8–6.3 for the bare coarse read.
///
/// # Other platforms
///
/// Elsewhere it reads `std::time::Instant`, which counts suspend on Windows
/// (`QueryPerformanceCounter` does) but not on Apple platforms (it stops
/// while the machine sleeps), and checks it against `std::time::SystemTime`
/// at most once per millisecond. With no boot clock there, a suspend is
/// counted once the wall clock is right again after the resume, and a read
/// in the first millisecond after the resume may still miss it.
///
/// Cheap to clone (an integer), `Send + Sync`, no background thread.
#[derive(Clone, Debug)]
pub struct MonotonicClock {
    origin: u64,
}

impl MonotonicClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        MonotonicClock {
            origin: OS.now_nanos(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    #[inline]
    fn now(&self) -> Instant {
        Instant::from_nanos(OS.now_nanos().saturating_sub(self.origin))
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
    fn monotonic_clocks_start_at_their_origin_and_share_the_fold() {
        let a = MonotonicClock::new();
        let b = a.clone();
        let c = MonotonicClock::new();
        let (ta, tb, tc) = (a.now(), b.now(), c.now());
        assert!(ta < Instant::from_secs(5), "{ta:?}");
        assert!(tb >= ta && tc <= tb, "{ta:?} {tb:?} {tc:?}");
    }

    #[test]
    fn monotonic_clock_never_goes_back_across_threads() {
        let clock = MonotonicClock::new();
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    let mut last = clock.now();
                    for _ in 0..200_000 {
                        let now = clock.now();
                        assert!(now >= last, "{now:?} < {last:?}");
                        last = now;
                    }
                });
            }
        });
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
