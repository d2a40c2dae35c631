//! Monotonic instants that the driver supplies.
//!
//! The core never reads a clock. A driver picks an origin (process start, the
//! runtime's paused clock, a simulation's zero) and hands in nanoseconds since
//! it. Every operation saturates, so no input from a clock or a server can
//! overflow or panic.

use core::fmt;
use core::ops::{Add, Sub};
use core::time::Duration;

/// A point on a monotonic timeline: nanoseconds since an origin the driver
/// picks. Saturates at both ends instead of overflowing.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The origin.
    pub const ZERO: Instant = Instant(0);
    /// The far end of the timeline (about 584 years after the origin).
    pub const MAX: Instant = Instant(u64::MAX);

    /// An instant `nanos` nanoseconds after the origin.
    pub const fn from_nanos(nanos: u64) -> Self {
        Instant(nanos)
    }

    /// An instant `millis` milliseconds after the origin (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Instant(millis.saturating_mul(1_000_000))
    }

    /// An instant `secs` seconds after the origin (saturating).
    pub const fn from_secs(secs: u64) -> Self {
        Instant(secs.saturating_mul(1_000_000_000))
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// The span since the origin.
    pub const fn since_origin(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// `self + d`, stopping at [`Instant::MAX`].
    pub const fn saturating_add(self, d: Duration) -> Self {
        Instant(self.0.saturating_add(duration_nanos(d)))
    }

    /// `self - d`, stopping at [`Instant::ZERO`].
    pub const fn saturating_sub(self, d: Duration) -> Self {
        Instant(self.0.saturating_sub(duration_nanos(d)))
    }

    /// The span from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturating: never panics.
    fn add(self, rhs: Duration) -> Instant {
        self.saturating_add(rhs)
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    /// Saturating: never panics.
    fn sub(self, rhs: Duration) -> Instant {
        self.saturating_sub(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({:?})", self.since_origin())
    }
}

/// A duration in whole nanoseconds, saturating at `u64::MAX`.
pub const fn duration_nanos(d: Duration) -> u64 {
    let nanos = d.as_nanos();
    if nanos > u64::MAX as u128 {
        u64::MAX
    } else {
        nanos as u64
    }
}

/// `d * parts / 2^64`, i.e. a uniform fraction of `d` picked by a random
/// 64-bit value. Exact in integers, never overflows.
pub(crate) const fn scale_by_random(d: Duration, random: u64) -> Duration {
    let scaled = ((duration_nanos(d) as u128) * (random as u128)) >> 64;
    Duration::from_nanos(scaled as u64)
}

/// `d * ppm / 1_000_000`, never overflows.
pub(crate) const fn scale_by_ppm(d: Duration, ppm: u32) -> Duration {
    let scaled = (duration_nanos(d) as u128) * (ppm as u128) / 1_000_000;
    Duration::from_nanos(scaled as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_at_both_ends() {
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(Instant::ZERO - Duration::from_secs(1), Instant::ZERO);
        assert_eq!(Instant::from_secs(1) + Duration::MAX, Instant::MAX);
        assert_eq!(Instant::from_secs(u64::MAX), Instant::MAX);
        assert_eq!(
            Instant::ZERO.saturating_duration_since(Instant::from_secs(5)),
            Duration::ZERO
        );
    }

    #[test]
    fn random_scaling_stays_within_the_span() {
        let d = Duration::from_secs(10);
        assert_eq!(scale_by_random(d, 0), Duration::ZERO);
        assert!(scale_by_random(d, u64::MAX) < d);
        assert_eq!(scale_by_random(d, 1 << 63), Duration::from_secs(5));
        assert_eq!(scale_by_ppm(d, 200_000), Duration::from_secs(2));
        assert_eq!(
            scale_by_ppm(Duration::MAX, 1_000_000),
            Duration::from_nanos(u64::MAX)
        );
    }
}
