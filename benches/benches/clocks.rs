//! What one clock read costs on this machine: the raw OS clocks a token
//! cache could use, `std::time::Instant`, and freshen's `MonotonicClock`.
//!
//! `MonotonicClock::now()` runs on every cached read, so its cost is part of
//! the read path's budget (see `cache/src/clock.rs` for the design these
//! numbers chose): it reads `CLOCK_MONOTONIC_COARSE` on every call, and once
//! per tick the four precise clocks of the "per-tick sample" row.
//!
//! Every raw read is turned into nanoseconds (as a clock would use it) before
//! `black_box`: handing the `Timespec` itself to `black_box` costs several
//! nanoseconds more on this machine and would blur the comparison.
//!
//! Run: `cargo bench --manifest-path benches/Cargo.toml --bench clocks`

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use freshen_cache::{Clock, MonotonicClock};
use rustix::time::{ClockId, Timespec, clock_gettime};

#[inline(always)]
fn nanos(ts: Timespec) -> u64 {
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.wrapping_mul(1_000_000_000).wrapping_add(nanos)
}

fn clocks(c: &mut Criterion) {
    let mut g = c.benchmark_group("clock");
    // One closure per clock, so each id is a constant, as it is in freshen.
    g.bench_function("clock_gettime(MONOTONIC_COARSE)", |b| {
        b.iter(|| black_box(nanos(clock_gettime(ClockId::MonotonicCoarse))))
    });
    g.bench_function("clock_gettime(REALTIME_COARSE)", |b| {
        b.iter(|| black_box(nanos(clock_gettime(ClockId::RealtimeCoarse))))
    });
    g.bench_function("clock_gettime(BOOTTIME)", |b| {
        b.iter(|| black_box(nanos(clock_gettime(ClockId::Boottime))))
    });
    g.bench_function("clock_gettime(MONOTONIC)", |b| {
        b.iter(|| black_box(nanos(clock_gettime(ClockId::Monotonic))))
    });
    g.bench_function("clock_gettime(REALTIME)", |b| {
        b.iter(|| black_box(nanos(clock_gettime(ClockId::Realtime))))
    });
    g.bench_function("std::time::Instant::now()", |b| {
        b.iter(|| black_box(Instant::now()))
    });
    g.bench_function("std::time::SystemTime::now()", |b| {
        b.iter(|| black_box(SystemTime::now().duration_since(UNIX_EPOCH).ok()))
    });
    // What MonotonicClock's once-per-tick sample reads (cache/src/clock/os.rs).
    g.bench_function(
        "per-tick sample: MONOTONIC+BOOTTIME+REALTIME+MONOTONIC",
        |b| {
            b.iter(|| {
                let first = nanos(clock_gettime(ClockId::Monotonic));
                let boot = nanos(clock_gettime(ClockId::Boottime));
                let wall = nanos(clock_gettime(ClockId::Realtime));
                let mono = nanos(clock_gettime(ClockId::Monotonic));
                black_box((first, boot, wall, mono))
            })
        },
    );
    let clock = MonotonicClock::new();
    g.bench_function("MonotonicClock::now()", |b| {
        b.iter(|| black_box(clock.now()))
    });
    g.finish();

    // The same reads on two threads at once (ns per read per thread, the
    // slower thread's wall time): what is shared between readers (the vDSO
    // data page; MonotonicClock's published offset) must not slow them.
    let mut g = c.benchmark_group("clock, 2 threads");
    g.bench_function("clock_gettime(MONOTONIC_COARSE)", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, || {
                black_box(nanos(clock_gettime(ClockId::MonotonicCoarse)));
            })
        })
    });
    g.bench_function("MonotonicClock::now()", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, || {
                black_box(clock.now());
            })
        })
    });
    g.finish();
}

/// `iters` calls of `read` on each of two threads started together; the
/// slower thread's time.
fn two_threads(iters: u64, read: impl Fn() + Sync) -> Duration {
    let start = Barrier::new(2);
    std::thread::scope(|s| {
        let run = || {
            start.wait();
            let t = Instant::now();
            for _ in 0..iters {
                read();
            }
            t.elapsed()
        };
        let other = s.spawn(run);
        let mine = run();
        other.join().map_or(mine, |theirs| mine.max(theirs))
    })
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40)
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = clocks
}
criterion_main!(benches);
