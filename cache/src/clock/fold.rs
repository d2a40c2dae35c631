//! Folding the time a fast clock missed (suspend, a paused VM) into `now()`.
//!
//! The fast clock (`CLOCK_MONOTONIC_COARSE` on Linux) is read on every call.
//! Whenever it shows a value it has not shown before (a new tick), one caller
//! takes a [`Sample`] of the slow clocks and folds what the fast clock missed
//! into a published offset, `slept`; every other read is the fast clock plus
//! that offset: two plain atomic loads on top of the clock read.
//!
//! What `slept` is made of:
//!
//! - **Suspend**, from a clock that counts it (`CLOCK_BOOTTIME`): the largest
//!   `boot - mono` seen. The kernel moves that gap only forward (by the time
//!   slept), a wall clock has no say in it, and since `mono` is read after
//!   `boot` every sample is a lower bound: the maximum never overshoots.
//! - **Forward jumps of the wall clock** against that suspend-aware time
//!   (`wall - boot`, or `wall - mono` where there is no boot clock). A paused
//!   VM or a restored snapshot stops even `CLOCK_BOOTTIME` in the guest; only
//!   its wall clock, once NTP or a guest agent steps it, shows the time that
//!   passed. Each rise of `wall - boot` of at least [`WALL_STEP`] above its
//!   lowest value since the last fold is added. A wall clock stepped back
//!   only lowers that floor: it never moves `now()` back, never slows it, and
//!   never hides a later suspend or pause. A wall clock stepped forward is
//!   believed: tokens look older than they are and are refreshed early,
//!   which is the safe direction (a clock set back and then forward again
//!   counts the forward step once).
//!
//! Both parts only grow, so `now()` = fast clock + `slept` never goes back.
//!
//! Why a new tick is enough: a read takes the fast path only if its fast
//! clock is below `due`, which a caller published after sampling, having read
//! the fast clock at that value or above before sampling. Had a suspend come
//! between that sample and the read, the read would have seen a larger
//! value and sampled itself: on Linux the coarse clock read after a resume
//! is always past any value read before the suspend (the kernel keeps
//! ticking while it freezes tasks and suspends devices, then brings its time
//! forward to the moment of suspend). So the first read after a resume takes
//! a fresh sample. Sources whose fast clock is fine-grained re-check at most
//! once per [`RawClocks::recheck`] of fast-clock time instead, and may miss a
//! suspend for that long. Several callers may sample at the same tick; that
//! is harmless, as each only raises maxima.
//!
//! Cost: two atomic loads and a compare on every read; once per tick a
//! sample (four precise clock reads, about 100 ns) and a few atomic writes.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};
use std::sync::{Mutex, TryLockError};

/// A rise of `wall - boot` smaller than this is read noise or a small
/// correction of a drifting wall clock, not time the boot clock missed. Far
/// above the spread of an accepted sample, far below any token's margin.
pub(crate) const WALL_STEP: u64 = 100_000_000;

/// A sample whose readings lie further apart than this (the thread was
/// descheduled between them) is not trusted to compare the wall clock.
pub(crate) const MAX_SPREAD: u64 = 1_000_000;

/// One reading of the slow clocks, in nanoseconds, taken as close together as
/// the platform allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sample {
    /// The monotonic clock that [`RawClocks::fast`] reads (at full
    /// precision), read after `boot` and `wall`.
    pub(crate) mono: u64,
    /// A clock on the same scale as `mono` that keeps counting through
    /// suspend (Linux `CLOCK_BOOTTIME`), where the platform has one. A source
    /// either always has it or never.
    pub(crate) boot: Option<u64>,
    /// The wall clock, nanoseconds since the Unix epoch, if it is readable.
    pub(crate) wall: Option<u64>,
    /// How far apart the first and last reading of the sample were: a bound
    /// on how much the readings disagree about "now".
    pub(crate) spread: u64,
}

/// The raw clocks of a platform (or a test's fake ones).
pub(crate) trait RawClocks: Send + Sync + 'static {
    /// The clock read on every `now()`: monotonic nanoseconds on the scale of
    /// [`Sample::mono`], allowed to stop during suspend. Must be cheap.
    fn fast(&self) -> u64;

    /// How far the fast clock may move past the last check before the next
    /// read checks again: zero for a coarse clock, whose value changes only
    /// once per tick.
    fn recheck(&self) -> u64;

    /// Reads the slow clocks: `boot` and `wall` first, `mono` last.
    fn sample(&self) -> Sample;
}

/// The read-path state: alone on its cache lines, so that nothing written
/// more often than once per tick shares them.
#[repr(align(128))]
#[derive(Debug)]
struct Hot {
    /// A read whose fast clock is below this needs no check.
    due: AtomicU64,
    /// Time the fast clock missed, added to every read.
    slept: AtomicU64,
}

/// The lowest `wall - anchor` seen since the last fold, and which anchor
/// (`true`: the boot clock; `false`: the monotonic clock) it was taken on.
#[derive(Clone, Copy, Debug, Default)]
struct WallFloor(Option<(bool, i128)>);

/// A clock that is [`RawClocks::fast`] plus the time it missed.
#[derive(Debug)]
pub(crate) struct Fold<C> {
    hot: Hot,
    /// The largest `boot - mono` seen: time suspended since boot.
    boot_gap: AtomicU64,
    /// The forward wall-clock jumps folded in so far.
    wall_ahead: AtomicU64,
    /// Held only by the caller that folds the wall clock (`try_lock`: no
    /// caller ever waits for it).
    wall_floor: Mutex<WallFloor>,
    clocks: C,
}

impl<C: RawClocks> Fold<C> {
    /// A fold over `clocks`; its first read takes a sample.
    pub(crate) const fn new(clocks: C) -> Self {
        Fold {
            hot: Hot {
                due: AtomicU64::new(0),
                slept: AtomicU64::new(0),
            },
            boot_gap: AtomicU64::new(0),
            wall_ahead: AtomicU64::new(0),
            wall_floor: Mutex::new(WallFloor(None)),
            clocks,
        }
    }

    /// The raw clocks.
    #[cfg(test)]
    pub(crate) fn clocks(&self) -> &C {
        &self.clocks
    }

    /// Now: the fast clock plus the time it missed, in nanoseconds. Never
    /// less than a value any earlier call returned.
    #[inline]
    pub(crate) fn now_nanos(&self) -> u64 {
        let fast = self.clocks.fast();
        // Acquire: pairs with `check`'s release of `due`, so `slept` is at
        // least what the caller that checked at or after `fast` published.
        if fast < self.hot.due.load(Acquire) {
            return fast.saturating_add(self.hot.slept.load(Acquire));
        }
        self.check(fast)
    }

    /// The slow path, once per tick: sample, fold, publish.
    #[cold]
    #[inline(never)]
    fn check(&self, fast: u64) -> u64 {
        let sample = self.clocks.sample();
        let boot_gap = self.fold_boot(&sample);
        let wall_ahead = self.fold_wall(&sample);
        let slept = boot_gap.saturating_add(wall_ahead);
        let slept = self.hot.slept.fetch_max(slept, AcqRel).max(slept);
        // Published after `slept`: a reader that sees this `due` sees it.
        let due = fast.saturating_add(self.clocks.recheck()).saturating_add(1);
        self.hot.due.fetch_max(due, Release);
        fast.saturating_add(slept)
    }

    /// Time suspended: the largest `boot - mono` seen.
    fn fold_boot(&self, sample: &Sample) -> u64 {
        let seen = self.boot_gap.load(Acquire);
        let Some(boot) = sample.boot else {
            return seen;
        };
        // `mono` was read after `boot`: this is at most the real gap.
        let gap = boot.saturating_sub(sample.mono);
        if gap <= seen {
            return seen;
        }
        self.boot_gap.fetch_max(gap, AcqRel).max(gap)
    }

    /// Forward jumps of the wall clock against the boot (or else monotonic)
    /// clock.
    fn fold_wall(&self, sample: &Sample) -> u64 {
        let ahead = self.wall_ahead.load(Acquire);
        let Some(wall) = sample.wall else {
            return ahead;
        };
        if sample.spread > MAX_SPREAD {
            return ahead;
        }
        let (on_boot, anchor) = match sample.boot {
            Some(boot) => (true, boot),
            None => (false, sample.mono),
        };
        let offset = i128::from(wall) - i128::from(anchor);
        let mut floor = match self.wall_floor.try_lock() {
            Ok(floor) => floor,
            // Another caller is folding the same jump right now.
            Err(TryLockError::WouldBlock) => return ahead,
            // Nothing in here panics; a poisoned floor is still a floor.
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        };
        match floor.0 {
            Some((was_on_boot, low)) if was_on_boot == on_boot => {
                let rise = offset.saturating_sub(low);
                if rise < 0 {
                    floor.0 = Some((on_boot, offset));
                } else if rise >= i128::from(WALL_STEP) {
                    let rise = u64::try_from(rise).unwrap_or(u64::MAX);
                    // Written only under the lock.
                    let ahead = self.wall_ahead.load(Acquire).saturating_add(rise);
                    self.wall_ahead.store(ahead, Release);
                    floor.0 = Some((on_boot, offset));
                    return ahead;
                }
            }
            // First sample, or the anchor changed: a new floor, nothing to fold.
            _ => floor.0 = Some((on_boot, offset)),
        }
        self.wall_ahead.load(Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;
    use freshen_core::Instant;
    use std::sync::atomic::Ordering::SeqCst;

    const HOUR: Duration = Duration::from_secs(3600);
    /// What the fake's fast clock moves across a suspend: the kernel brings
    /// its time forward to the moment of suspend, at least a tick after the
    /// last read.
    const TICK: Duration = Duration::from_millis(4);

    fn ns(d: Duration) -> u64 {
        freshen_core::time::duration_nanos(d)
    }

    /// The three clocks of a fake machine, moved together under a lock so
    /// that every sample is consistent (as the kernel's are).
    #[derive(Clone, Copy, Debug)]
    struct Raw {
        mono: u64,
        boot: u64,
        wall: u64,
    }

    /// Fake raw clocks, moved by the test. The fast clock is `mono` itself
    /// (a coarse clock's value at a tick).
    #[derive(Debug)]
    struct Fake {
        raw: Mutex<Raw>,
        has_boot: bool,
        /// How far the fast clock moves across a suspend.
        resume: Duration,
        recheck: u64,
        spread: AtomicU64,
        samples: AtomicU64,
    }

    impl Fake {
        /// Linux-like: a boot clock, a coarse fast clock.
        fn linux() -> Self {
            Fake {
                // Booted 1000 s ago, of which 40 s asleep; the wall clock
                // says late 2025.
                raw: Mutex::new(Raw {
                    mono: ns(Duration::from_secs(960)),
                    boot: ns(Duration::from_secs(1000)),
                    wall: ns(Duration::from_secs(1_764_000_000)),
                }),
                has_boot: true,
                resume: TICK,
                recheck: 0,
                spread: AtomicU64::new(0),
                samples: AtomicU64::new(0),
            }
        }

        /// Like other platforms: no boot clock; a fine fast clock, which
        /// moves only a little across a suspend, re-checked once per
        /// millisecond.
        fn without_boot() -> Self {
            Fake {
                has_boot: false,
                resume: Duration::from_micros(1),
                recheck: ns(Duration::from_millis(1)),
                ..Fake::linux()
            }
        }

        fn with(&self, f: impl FnOnce(&mut Raw)) {
            let mut raw = self.raw.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut raw);
        }

        fn raw(&self) -> Raw {
            *self.raw.lock().unwrap_or_else(|e| e.into_inner())
        }

        /// Time passes while the machine runs.
        fn run(&self, d: Duration) {
            self.with(|r| {
                r.mono += ns(d);
                r.boot += ns(d);
                r.wall += ns(d);
            });
        }

        /// The machine sleeps for `d` (the monotonic clock stops), then
        /// resumes; the fast clock has moved by `resume`.
        fn suspend(&self, d: Duration) {
            self.with(|r| {
                r.boot += ns(d);
                r.wall += ns(d);
            });
            self.run(self.resume);
        }

        /// Someone (NTP, an admin, a guest agent) steps the wall clock.
        fn step_wall(&self, by: i128) {
            self.with(|r| {
                r.wall = u64::try_from((i128::from(r.wall) + by).max(0)).unwrap_or(u64::MAX);
            });
        }

        fn samples(&self) -> u64 {
            self.samples.load(SeqCst)
        }
    }

    impl RawClocks for Fake {
        fn fast(&self) -> u64 {
            self.raw().mono
        }
        fn recheck(&self) -> u64 {
            self.recheck
        }
        fn sample(&self) -> Sample {
            self.samples.fetch_add(1, SeqCst);
            let raw = self.raw();
            Sample {
                mono: raw.mono,
                boot: self.has_boot.then_some(raw.boot),
                wall: Some(raw.wall),
                spread: self.spread.load(SeqCst),
            }
        }
    }

    /// A fold over fake clocks, read as instants from its first reading.
    struct Clock {
        fold: Fold<Fake>,
        origin: u64,
    }

    impl Clock {
        fn new(fake: Fake) -> Self {
            let fold = Fold::new(fake);
            let origin = fold.now_nanos();
            Clock { fold, origin }
        }
        fn now(&self) -> Instant {
            Instant::from_nanos(self.fold.now_nanos().saturating_sub(self.origin))
        }
        fn fake(&self) -> &Fake {
            self.fold.clocks()
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_suspend_shows_up_in_now() {
        let clock = Clock::new(Fake::linux());
        clock.fake().run(secs(10));
        let before = clock.now();
        assert_eq!(before, Instant::from_secs(10));
        clock.fake().suspend(2 * HOUR);
        assert_eq!(clock.now(), before + 2 * HOUR + TICK);
    }

    #[test]
    fn suspend_does_not_extend_a_token() {
        let clock = Clock::new(Fake::linux());
        clock.fake().run(secs(5));
        // A token received now, valid for an hour.
        let expires_at = clock.now() + HOUR;
        assert!(clock.now() < expires_at);
        // The lid closes for two hours; the first read after waking...
        clock.fake().suspend(2 * HOUR);
        let now = clock.now();
        // ...sees the token an hour past its expiry, not fresh.
        assert!(now > expires_at, "{now:?} vs {expires_at:?}");
        assert!(now.saturating_duration_since(expires_at) >= HOUR);
    }

    #[test]
    fn a_wall_clock_stepped_back_never_moves_now_back_nor_slows_it() {
        let clock = Clock::new(Fake::linux());
        clock.fake().run(secs(30));
        let before = clock.now();
        clock.fake().step_wall(-i128::from(ns(HOUR)));
        clock.fake().run(TICK);
        assert_eq!(clock.now(), before + TICK, "not back");
        clock.fake().run(secs(10));
        assert_eq!(clock.now(), before + TICK + secs(10), "not slower");
        // A suspend after the step is counted in full.
        clock.fake().suspend(2 * HOUR);
        assert_eq!(clock.now(), before + 2 * TICK + secs(10) + 2 * HOUR);
    }

    #[test]
    fn a_suspend_and_a_backward_step_between_two_reads_still_count_the_suspend() {
        let clock = Clock::new(Fake::linux());
        let before = clock.now();
        clock.fake().step_wall(-i128::from(ns(HOUR)));
        clock.fake().suspend(2 * HOUR);
        assert_eq!(clock.now(), before + 2 * HOUR + TICK);
    }

    #[test]
    fn a_wall_clock_stepped_forward_makes_tokens_look_older_never_younger() {
        let clock = Clock::new(Fake::linux());
        let before = clock.now();
        // The safe direction: believed, so tokens expire early.
        clock.fake().step_wall(i128::from(ns(HOUR)));
        clock.fake().run(TICK);
        assert_eq!(clock.now(), before + HOUR + TICK);
        // Set back again: the hour already counted stays, time runs on.
        clock.fake().step_wall(-i128::from(ns(HOUR)));
        clock.fake().run(TICK);
        assert_eq!(clock.now(), before + HOUR + 2 * TICK);
        // Small corrections are not taken for missed time...
        clock
            .fake()
            .step_wall(i128::from(ns(Duration::from_millis(60))));
        clock.fake().run(TICK);
        assert_eq!(clock.now(), before + HOUR + 3 * TICK);
        // ...unless they add up to a real jump.
        clock
            .fake()
            .step_wall(i128::from(ns(Duration::from_millis(60))));
        clock.fake().run(TICK);
        assert_eq!(
            clock.now(),
            before + HOUR + 4 * TICK + Duration::from_millis(120)
        );
    }

    #[test]
    fn a_paused_vm_counts_once_its_wall_clock_is_corrected() {
        let clock = Clock::new(Fake::linux());
        let expires_at = clock.now() + HOUR;
        // Paused for two hours: in the guest, no clock moved, not even the
        // boot clock. It resumes where it stopped...
        clock.fake().run(TICK);
        assert!(clock.now() < expires_at);
        // ...until NTP (or the guest agent) steps the wall clock.
        clock.fake().step_wall(i128::from(ns(2 * HOUR)));
        clock.fake().run(TICK);
        assert!(clock.now() > expires_at + HOUR);
    }

    #[test]
    fn a_pause_after_the_wall_clock_was_set_back_still_counts_in_full() {
        let clock = Clock::new(Fake::linux());
        let before = clock.now();
        clock.fake().step_wall(-i128::from(ns(HOUR)));
        clock.fake().run(TICK);
        assert_eq!(clock.now(), before + TICK);
        // Paused for two hours, then the wall clock is corrected: it rises
        // two hours from where it was set back to, all of it counted.
        clock.fake().step_wall(i128::from(ns(2 * HOUR)));
        clock.fake().run(TICK);
        assert_eq!(clock.now(), before + 2 * HOUR + 2 * TICK);
    }

    #[test]
    fn without_a_boot_clock_the_wall_clock_carries_a_suspend() {
        let clock = Clock::new(Fake::without_boot());
        let before = clock.now();
        clock.fake().run(Duration::from_micros(500));
        let _ = clock.now();
        // The fine fast clock is re-checked once per millisecond, and moves
        // only a microsecond across the suspend: the first reads after the
        // resume may still miss the sleep...
        clock.fake().suspend(2 * HOUR);
        let early = clock.now();
        assert_eq!(early, before + Duration::from_micros(501));
        clock.fake().run(Duration::from_millis(1));
        // ...none a millisecond later.
        let later = clock.now();
        assert_eq!(
            later,
            before + 2 * HOUR + Duration::from_micros(1501),
            "{later:?}"
        );
    }

    #[test]
    fn a_sample_read_far_apart_never_folds_the_wall_clock_but_still_counts_a_suspend() {
        let clock = Clock::new(Fake::linux());
        let before = clock.now();
        clock.fake().spread.store(MAX_SPREAD + 1, SeqCst);
        clock.fake().step_wall(i128::from(ns(HOUR)));
        clock.fake().suspend(2 * HOUR);
        assert_eq!(clock.now(), before + 2 * HOUR + TICK);
        // A good sample later folds the step.
        clock.fake().spread.store(0, SeqCst);
        clock.fake().run(TICK);
        assert_eq!(clock.now(), before + 3 * HOUR + 2 * TICK);
    }

    #[test]
    fn a_boot_clock_that_comes_and_goes_is_not_taken_for_a_wall_clock_jump() {
        let clock = Clock::new(Fake::linux());
        // `wall - mono` is 40 s above `wall - boot` (the fake slept 40 s
        // before): a sample without its boot clock must not fold that.
        let with_boot = clock.fake().sample();
        let without = Sample {
            boot: None,
            ..with_boot
        };
        assert_eq!(clock.fold.fold_wall(&without), 0);
        assert_eq!(clock.fold.fold_wall(&with_boot), 0);
        assert_eq!(clock.fold.fold_wall(&without), 0);
        clock.fake().run(TICK);
        assert_eq!(clock.now(), Instant::ZERO + TICK);
    }

    #[test]
    fn reads_within_a_tick_take_no_sample() {
        let clock = Clock::new(Fake::linux());
        let taken = clock.fake().samples();
        for _ in 0..1000 {
            let _ = clock.now();
        }
        assert_eq!(clock.fake().samples(), taken, "one tick, no new sample");
        clock.fake().run(TICK);
        let _ = clock.now();
        let _ = clock.now();
        assert_eq!(clock.fake().samples(), taken + 1, "one sample per tick");
    }

    #[test]
    fn a_suspend_the_fast_clock_did_not_see_waits_for_its_next_tick() {
        // Not what Linux does (its coarse clock always moves across a
        // suspend), but it bounds what trusting a tick costs: one tick.
        let clock = Clock::new(Fake::linux());
        let before = clock.now();
        clock.fake().with(|r| {
            r.boot += ns(2 * HOUR);
            r.wall += ns(2 * HOUR);
        });
        assert_eq!(clock.now(), before);
        clock.fake().run(TICK);
        assert_eq!(clock.now(), before + 2 * HOUR + TICK);
    }

    #[test]
    fn readers_on_many_threads_never_see_time_go_back() {
        let clock = Clock::new(Fake::linux());
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    let mut last = Instant::ZERO;
                    for _ in 0..20_000 {
                        let now = clock.now();
                        assert!(now >= last, "{now:?} < {last:?}");
                        last = now;
                    }
                });
            }
            for i in 0..2_000u64 {
                match i % 4 {
                    0 => clock.fake().suspend(secs(60)),
                    1 => clock.fake().step_wall(-i128::from(ns(secs(30)))),
                    2 => clock.fake().step_wall(i128::from(ns(secs(1)))),
                    _ => clock.fake().run(TICK),
                }
            }
        });
        // 500 suspends of a minute each, all counted.
        assert!(clock.now() >= Instant::ZERO + 500 * secs(60));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        #[derive(Clone, Debug)]
        enum Op {
            Run(u64),
            Suspend(u64),
            StepWall(i64),
            Read,
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => (1u64..10_000_000_000).prop_map(Op::Run),
                1 => (0u64..100_000_000_000_000).prop_map(Op::Suspend),
                1 => (-10_000_000_000_000i64..10_000_000_000_000).prop_map(Op::StepWall),
                4 => Just(Op::Read),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

            /// Over any run, suspends and wall-clock steps: `now()` never
            /// goes back; it has counted every nanosecond the boot clock
            /// has (so never less than awake time plus suspend); beyond
            /// that it only ever adds forward wall steps.
            #[test]
            fn now_is_monotonic_counts_suspend_and_only_adds_forward_steps(
                ops in proptest::collection::vec(op(), 1..100),
                boot in any::<bool>(),
            ) {
                let fake = if boot { Fake::linux() } else { Fake::without_boot() };
                let clock = Clock::new(fake);
                let boot0 = clock.fake().raw().boot;
                let mut forward = 0u64;
                let mut backward = 0u64;
                let mut last = clock.now();
                for op in ops {
                    match op {
                        Op::Run(n) => clock.fake().run(Duration::from_nanos(n)),
                        Op::Suspend(n) => clock.fake().suspend(Duration::from_nanos(n)),
                        Op::StepWall(by) => {
                            let wall = clock.fake().raw().wall;
                            clock.fake().step_wall(i128::from(by));
                            let moved = i128::from(clock.fake().raw().wall) - i128::from(wall);
                            let size = u64::try_from(moved.unsigned_abs()).unwrap_or(u64::MAX);
                            if moved > 0 {
                                forward += size;
                            } else {
                                backward += size;
                            }
                        }
                        Op::Read => {}
                    }
                    let samples = clock.fake().samples();
                    let now = clock.now();
                    let sampled = clock.fake().samples() > samples;
                    prop_assert!(now >= last, "{:?} < {:?}", now, last);
                    last = now;
                    // Awake time plus suspend: what the boot clock counts.
                    let real = clock.fake().raw().boot - boot0;
                    let seen = now.as_nanos();
                    prop_assert!(seen <= real + forward, "{} > {} + {}", seen, real, forward);
                    if boot {
                        // Exact readings, and the coarse fast clock moves
                        // across every suspend: counted at once, in full.
                        prop_assert!(seen >= real, "{} < {}", seen, real);
                        if forward == 0 {
                            prop_assert_eq!(seen, real);
                        }
                    } else if sampled {
                        // Only the wall clock tells of a suspend: one hidden
                        // by a backward step, or below the step threshold,
                        // is missed by at most that much.
                        prop_assert!(
                            seen + backward + WALL_STEP >= real,
                            "{} + {} < {}", seen, backward, real
                        );
                    }
                }
            }
        }
    }
}
