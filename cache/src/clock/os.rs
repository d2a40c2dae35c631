//! The platform's raw clocks for [`MonotonicClock`](super::MonotonicClock).

use super::fold::{RawClocks, Sample};

/// Linux and Android: the coarse monotonic clock on every read; `CLOCK_BOOTTIME`
/// and the wall clock, at full precision, once per tick.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) type OsClocks = LinuxClocks;

/// Elsewhere: `std::time::Instant` and `std::time::SystemTime`.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) type OsClocks = StdClocks;

/// The clocks of Linux, through the vDSO (rustix, no libc).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct LinuxClocks;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux {
    use super::{LinuxClocks, RawClocks, Sample};
    use rustix::time::{ClockId, DynamicClockId, Timespec, clock_gettime, clock_gettime_dynamic};

    #[inline]
    fn nanos(ts: Timespec) -> Option<u64> {
        let secs = u64::try_from(ts.tv_sec).ok()?;
        let nanos = u64::try_from(ts.tv_nsec).ok()?;
        Some(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
    }

    impl RawClocks for LinuxClocks {
        /// `CLOCK_MONOTONIC_COARSE`: the kernel's time at the last tick, read
        /// without touching the hardware counter. Stops during suspend.
        #[inline]
        fn fast(&self) -> u64 {
            nanos(clock_gettime(ClockId::MonotonicCoarse)).unwrap_or(0)
        }

        /// The coarse clock changes only once per tick: check at each new
        /// value.
        #[inline]
        fn recheck(&self) -> u64 {
            0
        }

        fn sample(&self) -> Sample {
            let first = nanos(clock_gettime(ClockId::Monotonic)).unwrap_or(0);
            // The kernel answers EINVAL only before 2.6.39; then there is no
            // boot clock, and the wall clock alone tells of a suspend.
            let boot = clock_gettime_dynamic(DynamicClockId::Boottime)
                .ok()
                .and_then(nanos);
            let wall = nanos(clock_gettime(ClockId::Realtime));
            let mono = nanos(clock_gettime(ClockId::Monotonic)).unwrap_or(0);
            Sample {
                mono,
                boot,
                wall,
                spread: mono.saturating_sub(first),
            }
        }
    }
}

/// The standard library's clocks, for platforms without a cheaper one.
///
/// `std::time::Instant` counts suspend on some (Windows'
/// `QueryPerformanceCounter` does) and not on others (Apple's
/// `mach_absolute_time` and `CLOCK_UPTIME_RAW` stop while the machine
/// sleeps); there is no boot clock here, so the wall clock alone tells of a
/// suspend, once it is right again after the resume.
#[cfg(any(test, not(any(target_os = "linux", target_os = "android"))))]
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct StdClocks;

#[cfg(any(test, not(any(target_os = "linux", target_os = "android"))))]
mod std_clocks {
    use super::{RawClocks, Sample, StdClocks};
    use freshen_core::time::duration_nanos;
    use std::sync::OnceLock;
    use std::time::{Instant, SystemTime, UNIX_EPOCH};

    /// The process's origin for the fast clock, taken on first use.
    static BASE: OnceLock<Instant> = OnceLock::new();

    impl RawClocks for StdClocks {
        #[inline]
        fn fast(&self) -> u64 {
            duration_nanos(BASE.get_or_init(Instant::now).elapsed())
        }

        /// `Instant` is fine-grained: sample at most once per millisecond
        /// of it, so a read in the first millisecond after a resume may
        /// still miss the sleep.
        #[inline]
        fn recheck(&self) -> u64 {
            1_000_000
        }

        fn sample(&self) -> Sample {
            let first = self.fast();
            let wall = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .ok()
                .map(duration_nanos);
            let mono = self.fast();
            Sample {
                mono,
                boot: None,
                wall,
                spread: mono.saturating_sub(first),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Readings in (late) 2020 or after: the wall clock is the real one.
    const AFTER_2020: u64 = 1_600_000_000_000_000_000;

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn linux_clocks_read_what_the_kernel_has() {
        let clocks = LinuxClocks;
        let fast = clocks.fast();
        let sample = clocks.sample();
        // The coarse clock lags the precise one it is a tick of.
        assert!(fast <= sample.mono);
        let boot = sample.boot.unwrap_or(0);
        assert!(
            boot > 0,
            "CLOCK_BOOTTIME is there on any kernel since 2.6.39"
        );
        // Read before `mono`, and never behind it.
        assert!(boot + sample.spread >= sample.mono, "{sample:?}");
        assert!(sample.wall.unwrap_or(0) > AFTER_2020, "{sample:?}");
        assert!(sample.spread < 1_000_000_000, "{sample:?}");
    }

    /// The slow path's cost rests on this: readers on two threads take
    /// about one sample per tick of the real coarse clock, not one per read.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn the_real_coarse_clock_is_sampled_about_once_per_tick() {
        use super::super::fold::Fold;
        use rustix::time::{ClockId, clock_getres};
        use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

        #[derive(Debug, Default)]
        struct Counting(AtomicU64);
        impl RawClocks for Counting {
            fn fast(&self) -> u64 {
                LinuxClocks.fast()
            }
            fn recheck(&self) -> u64 {
                LinuxClocks.recheck()
            }
            fn sample(&self) -> Sample {
                self.0.fetch_add(1, Relaxed);
                LinuxClocks.sample()
            }
        }

        let res = clock_getres(ClockId::MonotonicCoarse);
        let tick = u64::try_from(res.tv_nsec).unwrap_or(1).max(1);
        let fold = Fold::new(Counting::default());
        let start = LinuxClocks.sample().mono;
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for _ in 0..200_000 {
                        let _ = fold.now_nanos();
                    }
                });
            }
        });
        let ticks = (LinuxClocks.sample().mono - start) / tick + 2;
        let samples = fold.clocks().0.load(Relaxed);
        assert!(samples <= 2 * ticks, "{samples} samples in {ticks} ticks");
    }

    #[test]
    fn std_clocks_read_instant_and_system_time() {
        let clocks = StdClocks;
        let a = clocks.fast();
        let sample = clocks.sample();
        let b = clocks.fast();
        assert!(a <= sample.mono && sample.mono <= b);
        assert_eq!(sample.boot, None);
        assert!(sample.wall.unwrap_or(0) > AFTER_2020, "{sample:?}");
    }
}
