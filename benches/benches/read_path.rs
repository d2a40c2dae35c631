//! The cached read path of freshen, side by side with peers, in one run.
//!
//! A read is: get the cached token and drop the result. Every contender is
//! warmed first (its cache holds a fresh 1-hour token) and checked (10,000
//! reads served from its cache), then measured in three groups, each with
//! every contender:
//!
//! - `read`: on one thread, and on two threads reading the same cache at the
//!   same time (each thread does `iters` reads; the time reported is the
//!   slower thread's wall time, so the figure is ns per read per thread).
//! - `handoff`: a token taken on one thread and dropped on another, as when a
//!   task moves to another worker while its request is in flight. The tokens
//!   go through the same preallocated ring for every contender ([`ring`]);
//!   the `control` row sends a plain integer through it, so what a contender
//!   adds to that row is its own cost. Every contender hands over what its
//!   read returns, owned: freshen's `TokenRef`, the peers' own token values
//!   (an `Identity`, an `AccessToken`, a `HeaderMap`, azure's response), the
//!   baselines' `Arc` clones (an `arc-swap` guard is not meant to move).
//!   - `one way`: thread A takes and sends, thread B receives and drops.
//!   - `both ways`: each thread takes and sends, and drops what it receives,
//!     with 16 tokens in flight each way.
//!   - `one way, batches of 64`: as `one way`, with the tokens sent 64 at a
//!     time, so the ring's per-token cost is out of the measurement.
//! - `tasks`: the async read awaited inside tasks on a tokio multi-thread
//!   runtime (2 workers, 8 tasks per worker), each task holding its token
//!   across a `yield_now().await` before dropping it; ns per read per
//!   worker. The `control` row yields with no token: the scheduler's share.
//!
//! On a shared machine each benchmark first waits for the CPUs to go idle
//! (`FRESHEN_BENCH_IDLE_WAIT`, seconds, default 30, 0 to skip; only for the
//! benchmarks a filter selects), and the share of wall time the measuring
//! threads spent off their CPU is printed at the end (and written to
//! `criterion/off-cpu.json`): a disturbed figure shows.
//!
//! Run: `cargo bench --manifest-path benches/Cargo.toml`, then
//! `python3 benches/summarize.py` for the tables in BENCHMARKS.md. A filter
//! after `--` picks benchmarks (a regex on `group/contender/case`): `--
//! --quick 'freshen|control'` runs freshen's rows and the controls quickly.

use std::future::Future;
use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::pin::Pin;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant, SystemTime};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use freshen_benches::PollOnce;

use freshen_blocking::{BlockingCache, Mode};
use freshen_cache::driver::{Outcome, Shared, Step};
use freshen_cache::{Clock, MonotonicClock, TokenFuture, TokenRef};
use freshen_core::{BlockingTokenSource, Error, Fetched, Phase, Policy, TokenSource};
use freshen_smol::{SmolCache, SmolRuntime};
use freshen_tokio::{TokioCache, TokioRuntime};

const LIFETIME: Duration = Duration::from_secs(3600);

/// Slots of the hand-off ring: more than the tokens in flight.
const RING: usize = 64;
/// Tokens in flight each way in the `both ways` hand-off.
const IN_FLIGHT: usize = 16;
/// Tokens per batch in the `one way, batches of 64` hand-off.
const BATCH: usize = 64;
/// Batches in flight (and batch buffers) in that hand-off.
const BATCHES: usize = 4;
/// Workers of the runtime the `tasks` group runs on (one per core here).
const WORKERS: usize = 2;
/// Tasks per worker in the `tasks` group, each holding a token at a time.
const TASKS_PER_WORKER: u64 = 8;

// ---------------------------------------------------------------------------
// The harness.

/// The calling thread's CPU time: it stops while the thread is off its core.
fn thread_cpu() -> Duration {
    cpu_clock(rustix::time::ClockId::ThreadCPUTime)
}

/// The whole process's CPU time (the `tasks` group: tasks move between
/// worker threads; the process's other threads are idle then).
fn process_cpu() -> Duration {
    cpu_clock(rustix::time::ClockId::ProcessCPUTime)
}

fn cpu_clock(id: rustix::time::ClockId) -> Duration {
    let ts = rustix::time::clock_gettime(id);
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// One timed run: the time criterion is given for `iters` reads, and for the
/// quality report, the summed wall and CPU time of the measuring threads.
struct Timed {
    wall: Duration,
    wall_sum: Duration,
    cpu_sum: Duration,
}

impl Timed {
    /// From each measuring thread's (wall, cpu): the slowest thread's wall.
    fn of(times: &[(Duration, Duration)]) -> Self {
        Timed {
            wall: times.iter().map(|t| t.0).max().unwrap_or_default(),
            wall_sum: times.iter().map(|t| t.0).sum(),
            cpu_sum: times.iter().map(|t| t.1).sum(),
        }
    }
}

/// Runs `work` timed on this thread: (wall, cpu).
fn timed(work: impl FnOnce()) -> (Duration, Duration) {
    let cpu = thread_cpu();
    let start = Instant::now();
    work();
    let wall = start.elapsed();
    (wall, thread_cpu().saturating_sub(cpu))
}

/// Per-thread state (`L`) and a read with it.
type Local<'a, L> = &'a (dyn Fn() -> L + Sync);
type ReadFn<'a, L> = &'a (dyn Fn(&mut L) + Sync);
type Take<'a, L, T> = &'a (dyn Fn(&mut L) -> T + Sync);

/// Reads on one thread: `iters` reads, timed.
fn one_thread<L>(iters: u64, local: Local<'_, L>, read: ReadFn<'_, L>) -> Timed {
    let mut l = local();
    read(&mut l);
    Timed::of(&[timed(|| {
        for _ in 0..iters {
            read(&mut l);
        }
    })])
}

/// Reads on two threads at once, `iters` reads each, both started by a
/// barrier; the time is the slower thread's (ns per read per thread).
fn two_threads<L>(
    iters: u64,
    rt: &tokio::runtime::Handle,
    local: Local<'_, L>,
    read: ReadFn<'_, L>,
) -> Timed {
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let _rt = rt.enter();
                    let mut l = local();
                    // First read off the clock (thread-local registrations).
                    read(&mut l);
                    barrier.wait();
                    timed(|| {
                        for _ in 0..iters {
                            read(&mut l);
                        }
                    })
                })
            })
            .collect();
        let times: Vec<_> = workers
            .into_iter()
            .map(|w| w.join().expect("bench thread"))
            .collect();
        Timed::of(&times)
    })
}

/// `iters` tokens taken on thread A, sent through the ring and dropped on
/// thread B; the time is the slower thread's (ns per token handed over).
fn one_way<L, T: Send>(
    iters: u64,
    rt: &tokio::runtime::Handle,
    local: Local<'_, L>,
    take: Take<'_, L, T>,
) -> Timed {
    let mut ring = ring::Ring::new(RING);
    let (mut tx, mut rx) = ring.split();
    let barrier = &Barrier::new(2);
    std::thread::scope(|s| {
        let a = s.spawn(move || {
            let _rt = rt.enter();
            let mut l = local();
            drop(take(&mut l));
            barrier.wait();
            timed(|| {
                for _ in 0..iters {
                    tx.push(take(&mut l));
                }
            })
        });
        let b = s.spawn(move || {
            let _rt = rt.enter();
            barrier.wait();
            timed(|| {
                for _ in 0..iters {
                    drop(rx.pop());
                }
            })
        });
        let times = [a, b].map(|t| t.join().expect("bench thread"));
        Timed::of(&times)
    })
}

/// Two threads, each taking `iters` tokens and sending them to the other,
/// which drops them; [`IN_FLIGHT`] tokens each way are sent before the
/// clock starts (and dropped after it stops), so neither thread waits for
/// the other's latest token. The time is the slower thread's (ns per token
/// taken, and per token dropped, on each thread).
fn both_ways<L, T: Send>(
    iters: u64,
    rt: &tokio::runtime::Handle,
    local: Local<'_, L>,
    take: Take<'_, L, T>,
) -> Timed {
    let (mut ab, mut ba) = (ring::Ring::new(RING), ring::Ring::new(RING));
    let (a_tx, b_rx) = ab.split();
    let (b_tx, a_rx) = ba.split();
    let barrier = &Barrier::new(2);
    std::thread::scope(|s| {
        let threads = [(a_tx, a_rx), (b_tx, b_rx)].map(|(mut tx, mut rx)| {
            s.spawn(move || {
                let _rt = rt.enter();
                let mut l = local();
                for _ in 0..IN_FLIGHT {
                    tx.push(take(&mut l));
                }
                barrier.wait();
                let t = timed(|| {
                    // Never waits for good: each ring holds fewer tokens
                    // than it has room for (IN_FLIGHT < RING).
                    for _ in 0..iters {
                        tx.push(take(&mut l));
                        drop(rx.pop());
                    }
                });
                for _ in 0..IN_FLIGHT {
                    drop(rx.pop());
                }
                t
            })
        });
        let times = threads.map(|t| t.join().expect("bench thread"));
        Timed::of(&times)
    })
}

/// `one way`, with the tokens moved in batches of [`BATCH`]: thread A takes
/// a batch and sends it, thread B receives it and drops every token in it,
/// and sends the emptied buffer back. The transport costs one ring
/// hand-over per [`BATCH`] tokens, so what is left is the contender's own
/// take on one thread and drop on the other: the ring's per-token cost,
/// which dominates `one way` on a machine where a cache line takes ~50 ns
/// between cores, is taken out of the measurement rather than subtracted.
fn one_way_batched<L, T: Send>(
    iters: u64,
    rt: &tokio::runtime::Handle,
    local: Local<'_, L>,
    take: Take<'_, L, T>,
) -> Timed {
    let (mut full, mut empty) = (ring::Ring::new(RING), ring::Ring::new(RING));
    let (mut full_tx, mut full_rx) = full.split();
    let (mut empty_tx, mut empty_rx) = empty.split();
    for _ in 0..BATCHES {
        empty_tx.push(Vec::<T>::with_capacity(BATCH));
    }
    let batches = iters.div_ceil(BATCH as u64);
    let barrier = &Barrier::new(2);
    let timed = std::thread::scope(|s| {
        let a = s.spawn(move || {
            let _rt = rt.enter();
            let mut l = local();
            drop(take(&mut l));
            barrier.wait();
            timed(|| {
                for _ in 0..batches {
                    let mut batch = empty_rx.pop();
                    for _ in 0..BATCH {
                        batch.push(take(&mut l));
                    }
                    full_tx.push(batch);
                }
            })
        });
        let b = s.spawn(move || {
            let _rt = rt.enter();
            barrier.wait();
            timed(|| {
                for _ in 0..batches {
                    let mut batch = full_rx.pop();
                    batch.clear();
                    empty_tx.push(batch);
                }
            })
        });
        let times = [a, b].map(|t| t.join().expect("bench thread"));
        Timed::of(&times)
    });
    // Scaled to `iters` tokens from the `batches * BATCH` moved.
    let scale = iters as f64 / (batches * BATCH as u64) as f64;
    Timed {
        wall: timed.wall.mul_f64(scale),
        ..timed
    }
}

/// A task of the `tasks` group, made by [`hold_across_yield!`].
type Task = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Tasks on `rt` ([`WORKERS`] workers, [`TASKS_PER_WORKER`] tasks each),
/// each made by `task(reads)`; the time is scaled to `iters` reads per
/// worker (ns per read per worker).
fn in_tasks(
    iters: u64,
    rt: &tokio::runtime::Runtime,
    task: &(dyn Fn(u64) -> Task + Sync),
) -> Timed {
    let reads = iters.div_ceil(TASKS_PER_WORKER);
    let tasks = WORKERS as u64 * TASKS_PER_WORKER;
    let cpu = process_cpu();
    let wall = rt.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks).map(|_| tokio::spawn(task(reads))).collect();
        for h in handles {
            h.await.expect("bench task");
        }
        start.elapsed()
    });
    let cpu = process_cpu().saturating_sub(cpu);
    let per_worker = reads * TASKS_PER_WORKER;
    Timed {
        wall: wall.mul_f64(iters as f64 / per_worker as f64),
        wall_sum: wall * WORKERS as u32,
        cpu_sum: cpu,
    }
}

/// A task body for [`Bench::tasks`]: `reads` times, awaits `$read`, holds
/// its result across a `yield_now().await`, then drops it. `$state` is
/// cloned into every task; `$local` (optional) is made once per task.
macro_rules! hold_across_yield {
    ($state:expr, |$s:ident| $read:expr) => {
        hold_across_yield!($state, |$s, _local| 0u8 => $read)
    };
    ($state:expr, |$s:ident, $l:ident| $local:expr => $read:expr) => {{
        let state = $state;
        move |reads: u64| -> Task {
            let $s = state.clone();
            Box::pin(async move {
                #[allow(unused_mut)]
                let mut $l = $local;
                for _ in 0..reads {
                    let token = black_box($read);
                    tokio::task::yield_now().await;
                    // Dropped after the yield (maybe on another worker).
                    release(token);
                }
            })
        }
    }};
}

/// Drops `token` (whatever its type: the control's holds no token).
fn release<T>(token: T) {
    drop(token);
}

/// Per benchmark: wall and CPU time of its measuring threads, summed.
static QUALITY: Mutex<Vec<(String, Duration, Duration)>> = Mutex::new(Vec::new());

fn record(id: &str, t: &Timed) -> Duration {
    let mut q = QUALITY.lock().unwrap_or_else(|e| e.into_inner());
    match q.iter_mut().find(|(n, ..)| n == id) {
        Some(entry) => {
            entry.1 += t.wall_sum;
            entry.2 += t.cpu_sum;
        }
        None => q.push((id.to_owned(), t.wall_sum, t.cpu_sum)),
    }
    t.wall
}

/// Busy share of all CPUs over `window`, from /proc/stat (None elsewhere).
fn busy(window: Duration) -> Option<f64> {
    fn sample() -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        let idle = cpu.get(3)? + cpu.get(4)?;
        let total: u64 = cpu.iter().take(8).sum();
        Some((total - idle, total))
    }
    let (b0, t0) = sample()?;
    std::thread::sleep(window);
    let (b1, t1) = sample()?;
    Some((b1 - b0) as f64 / (t1 - t0).max(1) as f64)
}

/// On a shared machine, waits (up to `FRESHEN_BENCH_IDLE_WAIT` seconds,
/// default 30, 0 to skip) for the other processes to leave the CPUs idle
/// before a benchmark starts. Nothing is waited for on an idle machine.
fn wait_idle(id: &str) {
    let max = std::env::var("FRESHEN_BENCH_IDLE_WAIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30u64);
    if max == 0 {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(max);
    let mut calm = 0;
    while calm < 2 {
        match busy(Duration::from_millis(250)) {
            None => return,
            Some(b) if b < 0.10 => calm += 1,
            Some(_) => calm = 0,
        }
        if Instant::now() >= deadline {
            eprintln!("note: {id}: the machine stayed busy for {max} s; measuring anyway");
            return;
        }
    }
}

struct Bench<'c> {
    c: &'c mut Criterion,
    /// The context every measuring thread enters (aws makes tokio sleeps).
    rt: tokio::runtime::Handle,
    /// The runtime of the `tasks` group.
    tasks_rt: &'c tokio::runtime::Runtime,
}

impl Bench<'_> {
    /// One benchmark, `group/name/case` (`group/name` without a case):
    /// `measure(iters)` times `iters` operations. Waits for an idle machine
    /// only if the benchmark runs (a filter may leave it out).
    fn bench(
        &mut self,
        group: &str,
        name: &str,
        case: Option<&str>,
        mut measure: impl FnMut(u64) -> Timed,
    ) {
        let id = match case {
            Some(case) => format!("{group}/{name}/{case}"),
            None => format!("{group}/{name}"),
        };
        let mut g = self.c.benchmark_group(group);
        let mut waited = false;
        let mut routine = |b: &mut criterion::Bencher<'_>| {
            if !waited {
                wait_idle(&id);
                waited = true;
            }
            b.iter_custom(|iters| record(&id, &measure(iters)))
        };
        match case {
            Some(case) => g.bench_function(BenchmarkId::new(name, case), &mut routine),
            None => g.bench_function(name, &mut routine),
        };
        g.finish();
    }

    /// `read`: one contender on 1 and 2 threads, with per-thread state.
    fn local<L>(&mut self, name: &str, local: impl Fn() -> L + Sync, read: impl Fn(&mut L) + Sync) {
        let rt = self.rt.clone();
        self.bench("read", name, Some("1 thread"), |iters| {
            one_thread(iters, &local, &read)
        });
        self.bench("read", name, Some("2 threads"), |iters| {
            two_threads(iters, &rt, &local, &read)
        });
    }

    /// `read`: one contender on 1 and 2 threads.
    fn read(&mut self, name: &str, read: impl Fn() + Sync) {
        self.local(name, || (), |_: &mut ()| read());
    }

    /// `handoff`: tokens taken on one thread and dropped on another, one way
    /// and both ways, with per-thread state for the taking.
    fn handoff_local<L, T: Send>(
        &mut self,
        name: &str,
        local: impl Fn() -> L + Sync,
        take: impl Fn(&mut L) -> T + Sync,
    ) {
        let rt = self.rt.clone();
        self.bench("handoff", name, Some("one way"), |iters| {
            one_way(iters, &rt, &local, &take)
        });
        self.bench("handoff", name, Some("both ways"), |iters| {
            both_ways(iters, &rt, &local, &take)
        });
        let batched = format!("one way, batches of {BATCH}");
        self.bench("handoff", name, Some(&batched), |iters| {
            one_way_batched(iters, &rt, &local, &take)
        });
    }

    /// `handoff`, with no per-thread state.
    fn handoff<T: Send>(&mut self, name: &str, take: impl Fn() -> T + Sync) {
        self.handoff_local(name, || (), |_: &mut ()| take());
    }

    /// `tasks`: reads awaited in tasks on the multi-thread runtime, each
    /// token held across a yield (`task` from [`hold_across_yield!`]).
    fn tasks(&mut self, name: &str, task: impl Fn(u64) -> Task + Sync) {
        let rt = self.tasks_rt;
        let case = format!("{WORKERS} workers x {TASKS_PER_WORKER} tasks");
        self.bench("tasks", name, Some(&case), |iters| {
            in_tasks(iters, rt, &task)
        });
    }

    /// A single-thread micro-benchmark (for finding where time goes).
    fn micro(&mut self, name: &str, read: impl Fn() + Sync) {
        self.bench("micro", name, None, |iters| {
            one_thread(iters, &|| (), &|_: &mut ()| read())
        });
    }
}

/// Prints, and leaves beside criterion's output, the share of wall time the
/// measuring threads spent off their CPU (taken by other processes): a
/// figure with more than a few percent was disturbed. Below 10 ms of wall
/// time in all (`--test` runs) the CPU clocks' resolution rules: marked so.
fn report_quality() {
    let q = QUALITY.lock().unwrap_or_else(|e| e.into_inner());
    let mut json = String::from("{\n");
    println!("\noff-CPU share of the measuring threads (wall - cpu) / wall:");
    for (i, (id, wall, cpu)) in q.iter().enumerate() {
        let off = 1.0 - cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9);
        let short = if *wall < Duration::from_millis(10) {
            "  (too short to judge)"
        } else {
            ""
        };
        println!("  {:>6.2}%  {id}{short}", off * 100.0);
        let sep = if i + 1 == q.len() { "" } else { "," };
        json.push_str(&format!("  {id:?}: {off:.5}{sep}\n"));
    }
    json.push('}');
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("target"))
        .join("criterion");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("off-cpu.json"), json);
}

/// Checks that a contender's read path serves from its cache right now: a
/// read that is not ready (or fails) would measure something else.
fn check(name: &str, ok: impl Fn() -> bool) {
    let misses = (0..10_000).filter(|_| !ok()).count();
    assert_eq!(
        misses, 0,
        "{name}: {misses} of 10000 reads were not served from the cache"
    );
}

/// The hand-off's transport: a bounded single-producer, single-consumer
/// ring, allocated once per measurement. Each side keeps its own index and
/// publishes it with one release store per token (no read-modify-write), so
/// the ring's own cost is small and the same for every contender. A side
/// that waits spins, and yields its core after about a thousand spins.
mod ring {
    use std::cell::UnsafeCell;
    use std::hint::spin_loop;
    use std::mem::MaybeUninit;
    use std::sync::atomic::AtomicUsize;
    use std::sync::atomic::Ordering::{Acquire, Release};

    /// Spins while the other side is running; gives the core away once the
    /// wait is far longer than any contender's read (then the other side is
    /// most likely off its core, and spinning would only keep it off).
    #[inline]
    fn wait(spins: &mut u32) {
        if *spins < 1 << 10 {
            *spins += 1;
            spin_loop();
        } else {
            std::thread::yield_now();
        }
    }

    /// An index on a cache line of its own.
    #[repr(align(128))]
    struct Index(AtomicUsize);

    pub(super) struct Ring<T> {
        slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
        /// Values pushed so far; stored by the producer only.
        head: Index,
        /// Values popped so far; stored by the consumer only.
        tail: Index,
    }

    // SAFETY: values of `T` move from the producer's thread to the
    // consumer's (hence `T: Send`); a slot is accessed by one side at a time,
    // as the head and tail indices hand it over (see `push` and `pop`).
    unsafe impl<T: Send> Sync for Ring<T> {}

    impl<T> Ring<T> {
        /// A ring of `capacity` slots (a power of two).
        pub(super) fn new(capacity: usize) -> Self {
            assert!(capacity.is_power_of_two());
            Ring {
                slots: (0..capacity)
                    .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
                    .collect(),
                head: Index(AtomicUsize::new(0)),
                tail: Index(AtomicUsize::new(0)),
            }
        }

        /// Its two ends; `&mut self` makes them the only ones.
        pub(super) fn split(&mut self) -> (Producer<'_, T>, Consumer<'_, T>) {
            let ring = &*self;
            (
                Producer {
                    ring,
                    head: 0,
                    tail: 0,
                },
                Consumer {
                    ring,
                    head: 0,
                    tail: 0,
                },
            )
        }

        fn slot(&self, index: usize) -> &UnsafeCell<MaybeUninit<T>> {
            &self.slots[index & (self.slots.len() - 1)]
        }
    }

    impl<T> Drop for Ring<T> {
        fn drop(&mut self) {
            let head = *self.head.0.get_mut();
            let mut tail = *self.tail.0.get_mut();
            while tail != head {
                // SAFETY: slots in tail..head were written and not read.
                unsafe { (*self.slot(tail).get()).assume_init_drop() };
                tail = tail.wrapping_add(1);
            }
        }
    }

    pub(super) struct Producer<'a, T> {
        ring: &'a Ring<T>,
        /// Values pushed (this side's copy of the ring's head).
        head: usize,
        /// The consumer's tail as last seen.
        tail: usize,
    }

    impl<T> Producer<'_, T> {
        /// Pushes `value`, spinning while the ring is full.
        #[inline]
        pub(super) fn push(&mut self, value: T) {
            let capacity = self.ring.slots.len();
            let mut spins = 0;
            while self.head.wrapping_sub(self.tail) == capacity {
                self.tail = self.ring.tail.0.load(Acquire);
                if self.head.wrapping_sub(self.tail) == capacity {
                    wait(&mut spins);
                }
            }
            // SAFETY: fewer than `capacity` values are in the ring, so slot
            // `head` is free: the consumer read it before it stored a tail
            // past it (acquired above), and reads no slot at or past `head`
            // until the release store below.
            unsafe { (*self.ring.slot(self.head).get()).write(value) };
            self.head = self.head.wrapping_add(1);
            self.ring.head.0.store(self.head, Release);
        }
    }

    pub(super) struct Consumer<'a, T> {
        ring: &'a Ring<T>,
        /// The producer's head as last seen.
        head: usize,
        /// Values popped (this side's copy of the ring's tail).
        tail: usize,
    }

    impl<T> Consumer<'_, T> {
        /// Pops the oldest value, spinning while the ring is empty.
        #[inline]
        pub(super) fn pop(&mut self) -> T {
            let mut spins = 0;
            while self.head == self.tail {
                self.head = self.ring.head.0.load(Acquire);
                if self.head == self.tail {
                    wait(&mut spins);
                }
            }
            // SAFETY: slot `tail` is before the producer's head (acquired
            // above), so it was written and is not written again until the
            // release store of the tail below.
            let value = unsafe { (*self.ring.slot(self.tail).get()).assume_init_read() };
            self.tail = self.tail.wrapping_add(1);
            self.ring.tail.0.store(self.tail, Release);
            value
        }
    }
}

// ---------------------------------------------------------------------------
// freshen.

/// Fetches by every freshen cache of the run: one each, to warm it.
static FETCHES: AtomicU64 = AtomicU64::new(0);

struct Source;
impl TokenSource for Source {
    async fn fetch(&self) -> Result<Fetched, Error> {
        FETCHES.fetch_add(1, Ordering::Relaxed);
        Ok(Fetched::new("bench-access-token").with_lifetime(LIFETIME))
    }
}

struct BlockingSource;
impl BlockingTokenSource for BlockingSource {
    fn fetch(&self) -> Result<Fetched, Error> {
        FETCHES.fetch_add(1, Ordering::Relaxed);
        Ok(Fetched::new("bench-access-token").with_lifetime(LIFETIME))
    }
}

fn freshen(b: &mut Bench<'_>, rt: &tokio::runtime::Runtime) {
    // tokio, with TokioRuntime's default clock (the OS coarse monotonic clock).
    let tokio_cache: TokioCache<Source> =
        TokioCache::new(Source, TokioRuntime::from_handle(rt.handle().clone()));
    rt.block_on(tokio_cache.token()).expect("warm tokio cache");
    check("freshen tokio cached", || tokio_cache.cached().is_some());
    check("freshen tokio token", || {
        matches!(tokio_cache.token().poll_once(), Some(Ok(_)))
    });
    // What every read returns, moves and drops (printed for the report).
    println!(
        "freshen sizes: TokenRef {} bytes, Option<TokenRef> {}, token() future {}",
        std::mem::size_of::<TokenRef<'_>>(),
        std::mem::size_of::<Option<TokenRef<'_>>>(),
        std::mem::size_of::<TokenFuture<'_>>(),
    );

    // smol, on smol's global executor.
    let smol_cache: SmolCache<Source> = SmolCache::new(Source, SmolRuntime::new());
    smol::block_on(smol_cache.token()).expect("warm smol cache");
    check("freshen smol cached", || smol_cache.cached().is_some());
    check("freshen smol token", || {
        matches!(smol_cache.token().poll_once(), Some(Ok(_)))
    });

    // blocking, refreshes on background threads.
    let threads = BlockingCache::builder(BlockingSource)
        .mode(Mode::Threads)
        .build();
    threads.token().expect("warm blocking cache");
    check("freshen blocking threads cached", || {
        threads.cached().is_some()
    });
    check("freshen blocking threads token", || threads.token().is_ok());

    // blocking, inline (no threads: CLIs, WASI).
    let inline = BlockingCache::builder(BlockingSource)
        .mode(Mode::Inline)
        .build();
    inline.token().expect("warm inline cache");
    check("freshen blocking inline cached", || {
        inline.cached().is_some()
    });
    check("freshen blocking inline token", || inline.token().is_ok());

    // read: cached() and token() on every driver; the async token() is
    // polled once with poll_once.
    b.read("freshen tokio cached()", || {
        drop(black_box(tokio_cache.cached()))
    });
    b.read("freshen tokio token()", || {
        drop(black_box(tokio_cache.token().poll_ok()))
    });
    b.read("freshen smol cached()", || {
        drop(black_box(smol_cache.cached()))
    });
    b.read("freshen smol token()", || {
        drop(black_box(smol_cache.token().poll_ok()))
    });
    b.read("freshen blocking/threads cached()", || {
        drop(black_box(threads.cached()))
    });
    b.read("freshen blocking/threads token()", || {
        drop(black_box(threads.token().ok()))
    });
    b.read("freshen blocking/inline cached()", || {
        drop(black_box(inline.cached()))
    });
    b.read("freshen blocking/inline token()", || {
        drop(black_box(inline.token().ok()))
    });

    // handoff: what a service calls, its result sent to the other thread.
    b.handoff("freshen tokio token()", || tokio_cache.token().poll_ok());
    b.handoff("freshen smol token()", || smol_cache.token().poll_ok());
    b.handoff("freshen blocking/threads token()", || threads.token().ok());
    b.handoff("freshen blocking/inline token()", || inline.token().ok());

    // tasks: `token().await` (the blocking driver's `token()` in a task).
    b.tasks(
        "freshen tokio token()",
        hold_across_yield!(tokio_cache.clone(), |c| c.token().await),
    );
    b.tasks(
        "freshen smol token()",
        hold_across_yield!(smol_cache.clone(), |c| c.token().await),
    );
    b.tasks(
        "freshen blocking/threads token()",
        hold_across_yield!(threads.clone(), |c| c.token()),
    );
    b.tasks(
        "freshen blocking/inline token()",
        hold_across_yield!(inline.clone(), |c| c.token()),
    );

    assert_eq!(
        FETCHES.load(Ordering::Relaxed),
        4,
        "freshen: a cache fetched again during the benchmark"
    );
}

/// Where the time of a freshen read goes: each part alone, on one thread.
fn freshen_parts(b: &mut Bench<'_>) {
    let clock = MonotonicClock::new();
    b.micro("MonotonicClock::now()", || {
        black_box(clock.now());
    });
    b.micro("clock_gettime(MONOTONIC_COARSE) raw", || {
        black_box(rustix::time::clock_gettime(
            rustix::time::ClockId::MonotonicCoarse,
        ));
    });
    b.micro("clock_gettime(MONOTONIC) raw", || {
        black_box(rustix::time::clock_gettime(
            rustix::time::ClockId::Monotonic,
        ));
    });
    b.micro("clock_gettime(BOOTTIME) raw", || {
        black_box(rustix::time::clock_gettime(rustix::time::ClockId::Boottime));
    });
    b.micro("std::time::Instant::now()", || {
        black_box(Instant::now());
    });

    // The shared state alone, at a fixed instant (no clock read).
    let shared = Shared::new(Policy::default(), None, Some(1));
    let t0 = freshen_core::Instant::from_secs(1);
    match shared.decide(t0) {
        Step::Run { attempt, .. } => shared.complete(
            &attempt,
            Outcome::Fetched(Ok(
                Fetched::new("bench-access-token").with_lifetime(LIFETIME)
            )),
            t0,
            t0,
        ),
        other => panic!("expected a first attempt, got {other:?}"),
    }
    let now = freshen_core::Instant::from_secs(2);
    check("Shared::cached", || shared.cached(now).is_some());
    b.micro("Shared::cached(fixed now) (no clock)", || {
        drop(black_box(shared.cached(black_box(now))))
    });
    // The taking side of a one-way hand-off, on one thread: no handle ever
    // comes back to this thread's spares, so every read takes a new one from
    // the published cell (and here drops it at once).
    b.micro(
        "Shared::cached(fixed now) + into_arc() (spares never refilled)",
        || {
            drop(black_box(
                shared.cached(black_box(now)).map(TokenRef::into_arc),
            ))
        },
    );
    // The per-cache, per-thread lookup every read and every drop makes.
    let per_thread: thread_local::ThreadLocal<std::cell::Cell<u64>> =
        thread_local::ThreadLocal::new();
    b.micro("ThreadLocal::get_or_default() alone", || {
        black_box(per_thread.get_or_default());
    });
    let token = shared.cached(now).expect("fresh").into_arc();
    b.micro("Token::phase() == Fresh alone", || {
        black_box(black_box(&token).phase(black_box(now)) == Phase::Fresh);
    });
    let swap = arc_swap::ArcSwap::new(Arc::clone(&token));
    b.micro("ArcSwap<Token>::load() alone", || {
        drop(black_box(swap.load()))
    });
    b.micro("ArcSwap<Token>::load_full() (refcount +1/-1)", || {
        drop(black_box(swap.load_full()))
    });

    // What an arc-swap guard does to its thread-local debt slot: one SeqCst
    // swap when taken (`xchg`), one SeqCst compare-exchange when dropped
    // (`lock cmpxchg`). Both are full barriers on x86.
    let slot = AtomicUsize::new(0);
    b.micro("atomic swap SeqCst (xchg) alone", || {
        black_box(slot.swap(black_box(1), SeqCst));
    });
    b.micro("atomic compare_exchange SeqCst alone", || {
        black_box(slot.compare_exchange(black_box(1), 1, SeqCst, SeqCst)).ok();
    });
    b.micro("xchg + lock cmpxchg (a guard's two RMWs)", || {
        black_box(slot.swap(black_box(7), SeqCst));
        black_box(slot.compare_exchange(black_box(7), 0, SeqCst, SeqCst)).ok();
    });
}

/// Controls for the machine: how two threads scale with no shared state,
/// and the transport of the hand-off and the scheduler of the tasks alone.
fn controls(b: &mut Bench<'_>) {
    // Pure ALU work, no memory traffic: shows what a second busy thread does
    // to per-thread time on this machine (vCPU sharing, other load).
    b.read(
        "control: 32 rounds of xorshift-multiply (no memory)",
        || {
            let mut x = black_box(0x9E37_79B9_7F4A_7C15_u64);
            for _ in 0..32 {
                x = (x ^ (x >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            }
            black_box(x);
        },
    );
    // The same ALU work as 8 independent chains: it fills the core's
    // execution ports where the chain above waits on each multiply. If the
    // two vCPUs share one physical core, this row slows on 2 threads and
    // the one above does not.
    b.read(
        "control: 8 independent xorshift-multiply chains, 4 rounds each (ALU throughput)",
        || {
            let mut x: [u64; 8] = black_box(core::array::from_fn(|i| 0x9E37_79B9 + i as u64));
            for _ in 0..4 {
                for v in &mut x {
                    *v = (*v ^ (*v >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                }
            }
            black_box(x);
        },
    );
    // Loads and stores a read path makes, on memory no other thread touches:
    // 32 dependent loads through a per-thread 4 KiB ring of indices (always
    // in L1), and a store. Slower on 2 threads only if the machine is.
    b.local(
        "control: 32 dependent loads and a store in a per-thread L1 buffer (nothing shared)",
        || {
            let next: Box<[usize; 512]> = Box::new(core::array::from_fn(|i| (i * 97 + 1) % 512));
            (next, 0_usize)
        },
        |(next, at): &mut (Box<[usize; 512]>, usize)| {
            let mut i = black_box(*at);
            for _ in 0..32 {
                i = next[i];
            }
            *at = i;
            black_box(i);
        },
    );
    // The barriers of an arc-swap guard, each thread on its own cache line.
    b.local(
        "control: xchg + lock cmpxchg on a per-thread slot",
        || Box::new(Padded(AtomicUsize::new(0))),
        |slot: &mut Box<Padded>| {
            black_box(slot.0.swap(black_box(7), SeqCst));
            black_box(slot.0.compare_exchange(black_box(7), 0, SeqCst, SeqCst)).ok();
        },
    );
    // The ring alone: what every hand-off row pays before its token's cost.
    // The receiver reads the word, as every contender's receiver reads what
    // it drops (a count to decrement, a pointer to free): a value dropped
    // unread lets the compiler skip the slot's load, and with it the cache
    // line the sender wrote.
    b.handoff("control: a word through the ring (no token)", || {
        Received(black_box(7_u64))
    });
    // The same with a value of a `TokenRef`'s size (16 bytes, where an
    // `Arc` is 8): information, not subtracted from any row.
    b.handoff("control: 16 bytes through the ring (no token)", || {
        Received(black_box([7_u64, 9]))
    });
    // The scheduler alone: spawn, and one yield per read, with no token.
    b.tasks(
        "control: yield_now() with no token",
        hold_across_yield!(Arc::new(()), |_unit| NoToken(7)),
    );
}

/// What a control task holds across its yield: a word, no token.
struct NoToken(#[allow(dead_code)] u64);

#[repr(align(128))]
struct Padded(AtomicUsize);

/// A value the receiving thread reads when it drops it.
struct Received<T: Copy>(T);

impl<T: Copy> Drop for Received<T> {
    #[inline]
    fn drop(&mut self) {
        black_box(self.0);
    }
}

// ---------------------------------------------------------------------------
// Baselines: the simplest shared caches. Where a token is held or moves
// (handoff, tasks), they hand out an owned `Arc` clone.

fn baselines(b: &mut Bench<'_>) {
    let mutex = Arc::new(Mutex::new(Arc::new(String::from("bench-access-token"))));
    let clone = |m: &Mutex<Arc<String>>| Arc::clone(&m.lock().expect("lock"));
    b.read("std Mutex<Arc<String>>", || drop(black_box(clone(&mutex))));
    b.handoff("std Mutex<Arc<String>>", || clone(&mutex));
    b.tasks(
        "std Mutex<Arc<String>>",
        hold_across_yield!(Arc::clone(&mutex), |m| clone(&m)),
    );

    let swap = Arc::new(arc_swap::ArcSwap::from_pointee(String::from(
        "bench-access-token",
    )));
    b.read("arc-swap ArcSwap::load()", || drop(black_box(swap.load())));
    b.handoff("arc-swap ArcSwap::load_full()", || swap.load_full());
    b.tasks(
        "arc-swap ArcSwap::load_full()",
        hold_across_yield!(Arc::clone(&swap), |s| s.load_full()),
    );
}

// ---------------------------------------------------------------------------
// aws-smithy-runtime: IdentityCache::lazy() over a custom ResolveIdentity.

mod aws {
    use super::*;
    use aws_smithy_async::rt::sleep::TokioSleep;
    use aws_smithy_async::time::SystemTimeSource;
    use aws_smithy_runtime::client::identity::IdentityCache;
    use aws_smithy_runtime_api::client::identity::{
        Identity, IdentityFuture, ResolveCachedIdentity, ResolveIdentity, SharedIdentityResolver,
    };
    use aws_smithy_runtime_api::client::runtime_components::{
        RuntimeComponents, RuntimeComponentsBuilder,
    };
    use aws_smithy_types::config_bag::ConfigBag;

    #[derive(Debug)]
    struct BenchToken(#[allow(dead_code)] String);

    #[derive(Debug)]
    struct Resolver(AtomicU64);

    impl ResolveIdentity for Resolver {
        fn resolve_identity<'a>(
            &'a self,
            _: &'a RuntimeComponents,
            _: &'a ConfigBag,
        ) -> IdentityFuture<'a> {
            self.0.fetch_add(1, Ordering::Relaxed);
            let expiration = SystemTime::now() + LIFETIME;
            IdentityFuture::ready(Ok(Identity::new(
                BenchToken("bench-access-token".into()),
                Some(expiration),
            )))
        }
    }

    const NAME: &str = "aws-smithy-runtime IdentityCache::lazy()";

    pub(super) fn bench(b: &mut Bench<'_>, rt: &tokio::runtime::Runtime) {
        let cache = IdentityCache::lazy().build();
        let resolver = Arc::new(Resolver(AtomicU64::new(0)));
        let shared = SharedIdentityResolver::new(ResolverRef(Arc::clone(&resolver)));
        // What a real client has: the OS time source and tokio's sleep. The
        // rest are the crate's own test stand-ins, never called here.
        let components = Arc::new(
            RuntimeComponentsBuilder::for_tests()
                .with_time_source(Some(SystemTimeSource::new()))
                .with_sleep_impl(Some(TokioSleep::new()))
                .build()
                .expect("runtime components"),
        );
        let config = ConfigBag::base();
        rt.block_on(cache.resolve_cached_identity(shared.clone(), &components, &config))
            .expect("warm aws cache");
        let ready = || {
            matches!(
                cache
                    .resolve_cached_identity(shared.clone(), &components, &config)
                    .poll_once(),
                Some(Ok(_))
            )
        };
        check("aws lazy identity cache", ready);
        // Each thread (and task) has its own config bag, as each request does.
        let resolve = |config: &mut ConfigBag| {
            cache
                .resolve_cached_identity(shared.clone(), &components, config)
                .poll_ok()
        };
        b.local(NAME, ConfigBag::base, |config: &mut ConfigBag| {
            drop(black_box(resolve(config)))
        });
        b.handoff_local(NAME, ConfigBag::base, resolve);
        b.tasks(
            NAME,
            hold_across_yield!(
                (cache.clone(), shared.clone(), Arc::clone(&components)),
                |s, config| ConfigBag::base() => s.0.resolve_cached_identity(s.1.clone(), &s.2, &config).await
            ),
        );
        assert_eq!(
            resolver.0.load(Ordering::Relaxed),
            1,
            "aws: the resolver ran again during the benchmark"
        );
    }

    #[derive(Debug)]
    struct ResolverRef(Arc<Resolver>);
    impl ResolveIdentity for ResolverRef {
        fn resolve_identity<'a>(
            &'a self,
            c: &'a RuntimeComponents,
            b: &'a ConfigBag,
        ) -> IdentityFuture<'a> {
            self.0.resolve_identity(c, b)
        }
    }
}

// ---------------------------------------------------------------------------
// google-cloud-auth: user_account credentials against a token endpoint on
// 127.0.0.1 (its cache wraps only its own credential types).

mod gcloud {
    use super::*;
    use google_cloud_auth::credentials::user_account::Builder;

    /// A token endpoint on 127.0.0.1 that answers every POST with a 1-hour
    /// token. Serves at most `limit` requests, then its thread ends.
    fn token_endpoint(limit: usize, served: Arc<AtomicU64>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        std::thread::spawn(move || {
            for stream in listener.incoming().take(limit) {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
                let mut length = 0usize;
                let mut line = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let l = line.trim_end();
                    if l.is_empty() {
                        break;
                    }
                    if let Some((k, v)) = l.split_once(':')
                        && k.eq_ignore_ascii_case("content-length")
                    {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let json = r#"{"access_token":"bench-access-token","expires_in":3600,"token_type":"Bearer"}"#;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{json}",
                    json.len()
                );
                let _ = stream.write_all(reply.as_bytes());
                served.fetch_add(1, Ordering::Relaxed);
            }
        });
        format!("http://{addr}/token")
    }

    pub(super) fn bench(b: &mut Bench<'_>, rt: &tokio::runtime::Runtime) {
        // Built without its aws-lc provider: reqwest wants a process default.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let served = Arc::new(AtomicU64::new(0));
        let uri = token_endpoint(16, Arc::clone(&served));
        let user = || {
            serde_json::json!({
                "client_id": "bench-client",
                "client_secret": "bench-secret",
                "refresh_token": "bench-refresh",
                "type": "authorized_user",
                "token_uri": uri,
            })
        };
        // Its token cache spawns its refresh task on the current tokio runtime.
        let _enter = rt.enter();
        let creds = Builder::new(user())
            .build()
            .expect("user_account credentials");
        let access = Builder::new(user())
            .build_access_token_credentials()
            .expect("user_account access-token credentials");
        rt.block_on(creds.headers(http::Extensions::new()))
            .expect("warm gcloud headers");
        rt.block_on(access.access_token())
            .expect("warm gcloud access_token");
        check("gcloud headers", || {
            matches!(
                creds.headers(http::Extensions::new()).poll_once(),
                Some(Ok(_))
            )
        });
        check("gcloud access_token", || {
            matches!(access.access_token().poll_once(), Some(Ok(_)))
        });
        const HEADERS: &str = "google-cloud-auth Credentials::headers()";
        const ACCESS: &str = "google-cloud-auth access_token()";
        let headers = || creds.headers(http::Extensions::new()).poll_ok();
        let access_token = || access.access_token().poll_ok();
        b.read(HEADERS, || drop(black_box(headers())));
        b.read(ACCESS, || drop(black_box(access_token())));
        b.handoff(HEADERS, headers);
        b.handoff(ACCESS, access_token);
        b.tasks(
            HEADERS,
            hold_across_yield!(creds.clone(), |c| c.headers(http::Extensions::new()).await),
        );
        b.tasks(
            ACCESS,
            hold_across_yield!(access.clone(), |c| c.access_token().await),
        );
        assert_eq!(
            served.load(Ordering::Relaxed),
            2,
            "gcloud: its caches went back to the endpoint during the benchmark"
        );
    }
}

// ---------------------------------------------------------------------------
// azure_core: BearerTokenAuthorizationPolicy over a custom TokenCredential,
// sending through the policy to a no-op next policy.

mod azure {
    use super::*;
    use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
    use azure_core::http::headers::Headers;
    use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
    use azure_core::http::policies::{Policy, PolicyResult};
    use azure_core::http::{AsyncRawResponse, Context, Method, Request, StatusCode, Url};
    use azure_core::time::OffsetDateTime;
    use azure_core::{Bytes, Result};

    #[derive(Debug)]
    struct Credential(AtomicU64);

    #[async_trait::async_trait]
    impl TokenCredential for Credential {
        async fn get_token(
            &self,
            _scopes: &[&str],
            _options: Option<TokenRequestOptions<'_>>,
        ) -> Result<AccessToken> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(AccessToken::new(
                "bench-access-token",
                OffsetDateTime::now_utc() + LIFETIME,
            ))
        }
    }

    /// Stands in for the rest of the pipeline: answers 200 at once.
    #[derive(Debug)]
    struct Noop;

    #[async_trait::async_trait]
    impl Policy for Noop {
        async fn send(
            &self,
            _ctx: &Context,
            _request: &mut Request,
            _next: &[Arc<dyn Policy>],
        ) -> PolicyResult {
            Ok(AsyncRawResponse::from_bytes(
                StatusCode::Ok,
                Headers::new(),
                Bytes::new(),
            ))
        }
    }

    const NAME: &str = "azure_core BearerTokenAuthorizationPolicy::send()";
    const NOOP: &str = "azure_core (no-op next policy alone)";

    pub(super) fn bench(b: &mut Bench<'_>) {
        let credential = Arc::new(Credential(AtomicU64::new(0)));
        let policy = Arc::new(BearerTokenAuthorizationPolicy::new(
            credential.clone(),
            ["https://bench.invalid/.default"],
        ));
        let next: Arc<[Arc<dyn Policy>]> = Arc::new([Arc::new(Noop) as Arc<dyn Policy>]);
        let ctx = Context::default();
        let url: Url = "https://bench.invalid/resource".parse().expect("url");
        let request = || Request::new(url.clone(), Method::Get);
        futures::executor::block_on(policy.send(&ctx, &mut request(), &next))
            .expect("warm azure policy");
        check("azure policy", || {
            matches!(
                policy.send(&ctx, &mut request(), &next).poll_once(),
                Some(Ok(_))
            )
        });
        // The token is reachable only through the policy: a read is one
        // request sent through it, which sets its Authorization header. Each
        // thread (and task) reuses one request; what it holds, or hands
        // over, is the response.
        let send = |req: &mut Request| policy.send(&ctx, req, &next).poll_ok();
        b.local(NAME, request, |req: &mut Request| {
            drop(black_box(send(req)))
        });
        b.handoff_local(NAME, request, send);
        b.tasks(
            NAME,
            hold_across_yield!(
                (Arc::clone(&policy), Arc::clone(&next), url.clone()),
                |s, l| (Request::new(s.2.clone(), Method::Get), Context::default())
                    => s.0.send(&l.1, &mut l.0, &s.1).await
            ),
        );
        // The no-op next policy alone, to subtract from the rows above.
        let noop = |req: &mut Request| next[0].send(&ctx, req, &[]).poll_ok();
        b.local(NOOP, request, |req: &mut Request| {
            drop(black_box(noop(req)))
        });
        b.handoff_local(NOOP, request, noop);
        b.tasks(
            NOOP,
            hold_across_yield!(
                (Arc::clone(&next), url.clone()),
                |s, l| (Request::new(s.1.clone(), Method::Get), Context::default())
                    => s.0[0].send(&l.1, &mut l.0, &[]).await
            ),
        );
        assert_eq!(
            credential.0.load(Ordering::Relaxed),
            1,
            "azure: the credential ran again during the benchmark"
        );
    }
}

// ---------------------------------------------------------------------------

fn read_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    // The `tasks` group's runtime: one worker per core.
    let tasks_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("tokio runtime for tasks");
    // Every measuring thread is inside the tokio context (aws's read path
    // makes a tokio sleep; the others do not touch it).
    let _enter = rt.enter();
    let mut b = Bench {
        c,
        rt: rt.handle().clone(),
        tasks_rt: &tasks_rt,
    };
    freshen(&mut b, &rt);
    baselines(&mut b);
    controls(&mut b);
    aws::bench(&mut b, &rt);
    gcloud::bench(&mut b, &rt);
    azure::bench(&mut b);
    freshen_parts(&mut b);
    report_quality();
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
    targets = read_path
}
criterion_main!(benches);
