//! The five drivers behind one interface, so every case is written once.
//! Virtual time everywhere: tokio's paused clock on its current-thread
//! runtime, and a `ManualClock` for tokio's multi-thread runtime (which
//! cannot pause), smol and the blocking drivers.

use std::sync::Arc;
use std::time::Duration;

use freshen::{Error, Event, Policy, Token};
use freshen_blocking::{BlockingCache, Mode};
use freshen_cache::{Cache, Clock, ManualClock};
use freshen_smol::{SmolCache, SmolRuntime};
use freshen_tokio::{TokioCache, TokioRuntime};

use crate::guard::{Herd, observed};
use crate::manual_tokio::TokioOnManualClock;
use crate::source::TestSource;

pub type Got = Result<Arc<Token>, Error>;

/// An event sink, as the cases hand it to a driver.
pub type Sink = Arc<dyn Fn(&Event) + Send + Sync>;

/// A call running in the background: join it for its result.
pub type Pending = Box<dyn FnOnce() -> Got + Send>;

pub trait Driver: Sized + Send + Sync + 'static {
    type Cache: Clone + Send + Sync + 'static;
    const NAME: &'static str;
    /// Whether anything runs between calls (prefetch, timers).
    const BACKGROUND: bool;

    fn new() -> Self;
    fn build_with_sink(
        &self,
        source: TestSource,
        policy: Policy,
        sink: Option<Sink>,
    ) -> Self::Cache;
    fn build(&self, source: TestSource, policy: Policy) -> Self::Cache {
        self.build_with_sink(source, policy, None)
    }
    /// One call, on the test's thread, to completion.
    fn token(&self, cache: &Self::Cache) -> Got;
    /// One call started in the background.
    fn spawn_call(&self, cache: &Self::Cache) -> Pending;
    /// `herd.len()` concurrent callers, each counted by `herd` once it waits
    /// inside `token()`; the herd releases them (opens the source's gate)
    /// once all wait ([`Herd::release_when_all_waiting`]). Returns every
    /// caller's result.
    fn herd(&self, cache: &Self::Cache, herd: &Arc<Herd>) -> Vec<Got>;
    /// `n` callers that all start waiting and are then dropped mid-wait.
    fn abandon_waiters(&self, cache: &Self::Cache, n: usize);
    fn cached(&self, cache: &Self::Cache) -> Option<Arc<Token>>;
    fn invalidate(&self, cache: &Self::Cache, token: &Token) -> bool;
    /// `n` concurrent callers each invalidating `token`, then asking again.
    fn invalidate_herd(&self, cache: &Self::Cache, token: &Token, n: usize) -> Vec<Got>;
    /// Moves virtual time on.
    fn advance(&self, by: Duration);
    /// Lets background work run to quiescence.
    fn settle(&self);
}

fn settle_real() {
    std::thread::sleep(Duration::from_millis(120));
}

/// `builder.on_event(sink)` where there is a sink.
macro_rules! with_sink {
    ($builder:expr, $sink:expr) => {
        match $sink {
            Some(sink) => $builder.on_event(move |e| sink(e)),
            None => $builder,
        }
    };
}

// ------------------------------------------------------------------ tokio

pub struct Tokio {
    rt: tokio::runtime::Runtime,
}

impl Driver for Tokio {
    type Cache = TokioCache<TestSource>;
    const NAME: &'static str = "tokio";
    const BACKGROUND: bool = true;

    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        Tokio { rt }
    }
    fn build_with_sink(
        &self,
        source: TestSource,
        policy: Policy,
        sink: Option<Sink>,
    ) -> Self::Cache {
        let _guard = self.rt.enter();
        let runtime = TokioRuntime::current().with_runtime_clock();
        let builder = TokioCache::builder(source, runtime).policy(policy).seed(7);
        with_sink!(builder, sink).build()
    }
    fn token(&self, cache: &Self::Cache) -> Got {
        self.rt.block_on(cache.token()).map(|t| t.into_arc())
    }
    fn spawn_call(&self, cache: &Self::Cache) -> Pending {
        let cache = cache.clone();
        let task = self
            .rt
            .spawn(async move { cache.token().await.map(|t| t.into_arc()) });
        self.settle();
        let handle = self.rt.handle().clone();
        Box::new(move || handle.block_on(task).unwrap())
    }
    fn herd(&self, cache: &Self::Cache, herd: &Arc<Herd>) -> Vec<Got> {
        self.rt.block_on(async {
            let tasks = spawn_herd(cache, herd);
            // The herd is released from a blocking task: while one runs,
            // tokio's paused clock does not auto-advance, so the waiters'
            // deadlines stay ahead however long the herd takes to gather.
            let gate = Arc::clone(herd);
            tokio::task::spawn_blocking(move || gate.release_when_all_waiting())
                .await
                .unwrap();
            let mut out = Vec::with_capacity(tasks.len());
            for t in tasks {
                out.push(t.await.unwrap());
            }
            out
        })
    }
    fn abandon_waiters(&self, cache: &Self::Cache, n: usize) {
        self.rt.block_on(async {
            let herd = Herd::new(n, || {});
            let tasks = spawn_herd(cache, &herd);
            let gate = Arc::clone(&herd);
            let all = tokio::task::spawn_blocking(move || gate.release_when_all_waiting())
                .await
                .unwrap();
            assert!(all, "only {} of {n} waiters waited", herd.waiting());
            for t in &tasks {
                t.abort();
            }
            for t in tasks {
                assert!(t.await.unwrap_err().is_cancelled());
            }
        });
    }
    fn cached(&self, cache: &Self::Cache) -> Option<Arc<Token>> {
        let _guard = self.rt.enter();
        cache.cached().map(|t| t.into_arc())
    }
    fn invalidate(&self, cache: &Self::Cache, token: &Token) -> bool {
        cache.invalidate(token)
    }
    fn invalidate_herd(&self, cache: &Self::Cache, token: &Token, n: usize) -> Vec<Got> {
        self.rt.block_on(invalidate_herd_on_tokio(cache, token, n))
    }
    fn advance(&self, by: Duration) {
        self.rt.block_on(tokio::time::advance(by));
        self.settle();
    }
    fn settle(&self) {
        self.rt.block_on(async {
            for _ in 0..16 {
                tokio::task::yield_now().await;
            }
        });
    }
}

/// One tokio task per caller of `herd`, on the current runtime.
fn spawn_herd<R: freshen_cache::Runtime + Clone>(
    cache: &Cache<TestSource, R>,
    herd: &Arc<Herd>,
) -> Vec<tokio::task::JoinHandle<Got>> {
    (0..herd.len())
        .map(|_| {
            let (cache, herd) = (cache.clone(), Arc::clone(herd));
            tokio::spawn(async move { observed(&herd, cache.token()).await.map(|t| t.into_arc()) })
        })
        .collect()
}

async fn invalidate_herd_on_tokio<R: freshen_cache::Runtime + Clone>(
    cache: &Cache<TestSource, R>,
    token: &Token,
    n: usize,
) -> Vec<Got> {
    let token = Arc::new(token.clone());
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (cache, token) = (cache.clone(), Arc::clone(&token));
            tokio::spawn(async move {
                cache.invalidate(&token);
                cache.token().await.map(|t| t.into_arc())
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

// ------------------------------------------------------ tokio multi-thread

/// tokio's multi-thread runtime: tasks move between its workers, and tokens
/// are taken on one worker and dropped on another. Its clock cannot pause,
/// so the cache reads a `ManualClock` (see `manual_tokio.rs`).
pub struct TokioMulti {
    rt: tokio::runtime::Runtime,
    clock: ManualClock,
}

pub type TokioMultiCache = Cache<TestSource, TokioOnManualClock>;

impl TokioMulti {
    pub fn runtime(workers: usize) -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_time()
            .build()
            .unwrap()
    }
}

impl Driver for TokioMulti {
    type Cache = TokioMultiCache;
    const NAME: &'static str = "tokio-multi";
    const BACKGROUND: bool = true;

    fn new() -> Self {
        TokioMulti {
            rt: Self::runtime(2),
            clock: ManualClock::new().with_tick(Duration::from_millis(5)),
        }
    }
    fn build_with_sink(
        &self,
        source: TestSource,
        policy: Policy,
        sink: Option<Sink>,
    ) -> Self::Cache {
        let _guard = self.rt.enter();
        let runtime = TokioOnManualClock::current(self.clock.clone());
        let builder = Cache::builder(source, runtime).policy(policy).seed(7);
        with_sink!(builder, sink).build()
    }
    fn token(&self, cache: &Self::Cache) -> Got {
        self.rt.block_on(cache.token()).map(|t| t.into_arc())
    }
    fn spawn_call(&self, cache: &Self::Cache) -> Pending {
        let cache = cache.clone();
        let task = self
            .rt
            .spawn(async move { cache.token().await.map(|t| t.into_arc()) });
        settle_real();
        let handle = self.rt.handle().clone();
        Box::new(move || handle.block_on(task).unwrap())
    }
    fn herd(&self, cache: &Self::Cache, herd: &Arc<Herd>) -> Vec<Got> {
        let tasks = {
            let _guard = self.rt.enter();
            spawn_herd(cache, herd)
        };
        herd.release_when_all_waiting();
        self.rt.block_on(async {
            let mut out = Vec::with_capacity(tasks.len());
            for t in tasks {
                out.push(t.await.unwrap());
            }
            out
        })
    }
    fn abandon_waiters(&self, cache: &Self::Cache, n: usize) {
        let herd = Herd::new(n, || {});
        let tasks = {
            let _guard = self.rt.enter();
            spawn_herd(cache, &herd)
        };
        assert!(
            herd.release_when_all_waiting(),
            "only {} of {n} waiters waited",
            herd.waiting()
        );
        for t in &tasks {
            t.abort();
        }
        self.rt.block_on(async {
            for t in tasks {
                assert!(t.await.unwrap_err().is_cancelled());
            }
        });
    }
    fn cached(&self, cache: &Self::Cache) -> Option<Arc<Token>> {
        cache.cached().map(|t| t.into_arc())
    }
    fn invalidate(&self, cache: &Self::Cache, token: &Token) -> bool {
        cache.invalidate(token)
    }
    fn invalidate_herd(&self, cache: &Self::Cache, token: &Token, n: usize) -> Vec<Got> {
        self.rt.block_on(invalidate_herd_on_tokio(cache, token, n))
    }
    fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.settle();
    }
    fn settle(&self) {
        settle_real();
    }
}

// ------------------------------------------------------------------- smol

pub struct Smol {
    clock: ManualClock,
}

impl Driver for Smol {
    type Cache = SmolCache<TestSource, ManualClock>;
    const NAME: &'static str = "smol";
    const BACKGROUND: bool = true;

    fn new() -> Self {
        Smol {
            clock: ManualClock::new().with_tick(Duration::from_millis(5)),
        }
    }
    fn build_with_sink(
        &self,
        source: TestSource,
        policy: Policy,
        sink: Option<Sink>,
    ) -> Self::Cache {
        let runtime = SmolRuntime::new().with_clock(self.clock.clone());
        let builder = SmolCache::builder(source, runtime).policy(policy).seed(7);
        with_sink!(builder, sink).build()
    }
    fn token(&self, cache: &Self::Cache) -> Got {
        smol::block_on(cache.token()).map(|t| t.into_arc())
    }
    fn spawn_call(&self, cache: &Self::Cache) -> Pending {
        let cache = cache.clone();
        let task = smol::spawn(async move { cache.token().await.map(|t| t.into_arc()) });
        settle_real();
        Box::new(move || smol::block_on(task))
    }
    fn herd(&self, cache: &Self::Cache, herd: &Arc<Herd>) -> Vec<Got> {
        let tasks = spawn_smol_herd(cache, herd);
        herd.release_when_all_waiting();
        smol::block_on(async {
            let mut out = Vec::with_capacity(tasks.len());
            for t in tasks {
                out.push(t.await);
            }
            out
        })
    }
    fn abandon_waiters(&self, cache: &Self::Cache, n: usize) {
        let herd = Herd::new(n, || {});
        let tasks = spawn_smol_herd(cache, &herd);
        assert!(
            herd.release_when_all_waiting(),
            "only {} of {n} waiters waited",
            herd.waiting()
        );
        // Dropping a smol task cancels it.
        drop(tasks);
    }
    fn cached(&self, cache: &Self::Cache) -> Option<Arc<Token>> {
        cache.cached().map(|t| t.into_arc())
    }
    fn invalidate(&self, cache: &Self::Cache, token: &Token) -> bool {
        cache.invalidate(token)
    }
    fn invalidate_herd(&self, cache: &Self::Cache, token: &Token, n: usize) -> Vec<Got> {
        let token = Arc::new(token.clone());
        smol::block_on(async {
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    let (cache, token) = (cache.clone(), Arc::clone(&token));
                    smol::spawn(async move {
                        cache.invalidate(&token);
                        cache.token().await.map(|t| t.into_arc())
                    })
                })
                .collect();
            let mut out = Vec::with_capacity(n);
            for t in tasks {
                out.push(t.await);
            }
            out
        })
    }
    fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.settle();
    }
    fn settle(&self) {
        settle_real();
    }
}

fn spawn_smol_herd(
    cache: &SmolCache<TestSource, ManualClock>,
    herd: &Arc<Herd>,
) -> Vec<smol::Task<Got>> {
    (0..herd.len())
        .map(|_| {
            let (cache, herd) = (cache.clone(), Arc::clone(herd));
            smol::spawn(async move { observed(&herd, cache.token()).await.map(|t| t.into_arc()) })
        })
        .collect()
}

// ------------------------------------------------------- threads & inline

/// The blocking drivers' `ManualClock`, which also tells a herd when one of
/// its callers starts to wait: the blocking cache asks a clock for its
/// `virtual_tick` only in its wait loop (and its prefetch timer thread, which
/// is no herd caller), right before the caller parks on the attempt.
#[derive(Clone, Debug)]
pub struct WaitClock(ManualClock);

impl Clock for WaitClock {
    fn now(&self) -> freshen::Instant {
        self.0.now()
    }
    fn virtual_tick(&self) -> Option<Duration> {
        crate::guard::this_thread_waits();
        self.0.virtual_tick()
    }
}

pub struct Blocking<const INLINE: bool> {
    clock: ManualClock,
}

impl<const INLINE: bool> Driver for Blocking<INLINE> {
    type Cache = BlockingCache<TestSource, WaitClock>;
    const NAME: &'static str = if INLINE { "inline" } else { "threads" };
    const BACKGROUND: bool = !INLINE;

    fn new() -> Self {
        Blocking {
            clock: ManualClock::new().with_tick(Duration::from_millis(20)),
        }
    }
    fn build_with_sink(
        &self,
        source: TestSource,
        policy: Policy,
        sink: Option<Sink>,
    ) -> Self::Cache {
        let mode = if INLINE { Mode::Inline } else { Mode::Threads };
        let builder = BlockingCache::builder(source)
            .mode(mode)
            .clock(WaitClock(self.clock.clone()))
            .policy(policy)
            .seed(7);
        with_sink!(builder, sink).build()
    }
    fn token(&self, cache: &Self::Cache) -> Got {
        cache.token().map(|t| t.into_arc())
    }
    fn spawn_call(&self, cache: &Self::Cache) -> Pending {
        let cache = cache.clone();
        let thread = std::thread::spawn(move || cache.token().map(|t| t.into_arc()));
        settle_real();
        Box::new(move || thread.join().unwrap())
    }
    fn herd(&self, cache: &Self::Cache, herd: &Arc<Herd>) -> Vec<Got> {
        // Thousands of threads at once: one big herd at a time in this
        // process, or the tests running in parallel exhaust the memory maps.
        // Small herds take no turn, so a case hung under a guard (its
        // threads left behind, holding their turn) cannot block the others.
        static ONE_HERD_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _herd = (herd.len() > 1000)
            .then(|| ONE_HERD_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner()));
        std::thread::scope(|s| {
            // Started first, so the callers are released (at the latest when
            // the guard passes) even if starting them fails half way.
            let release = s.spawn(|| herd.release_when_all_waiting());
            let threads: Vec<_> = (0..herd.len())
                .map(|_| {
                    std::thread::Builder::new()
                        .stack_size(128 * 1024)
                        .spawn_scoped(s, || herd.as_caller(|| cache.token().map(|t| t.into_arc())))
                        .unwrap()
                })
                .collect();
            release.join().unwrap();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        })
    }
    fn abandon_waiters(&self, _cache: &Self::Cache, _n: usize) {
        unreachable!("a thread blocked in a call cannot be dropped mid-wait")
    }
    fn cached(&self, cache: &Self::Cache) -> Option<Arc<Token>> {
        cache.cached().map(|t| t.into_arc())
    }
    fn invalidate(&self, cache: &Self::Cache, token: &Token) -> bool {
        cache.invalidate(token)
    }
    fn invalidate_herd(&self, cache: &Self::Cache, token: &Token, n: usize) -> Vec<Got> {
        std::thread::scope(|s| {
            let threads: Vec<_> = (0..n)
                .map(|_| {
                    std::thread::Builder::new()
                        .stack_size(128 * 1024)
                        .spawn_scoped(s, || {
                            cache.invalidate(token);
                            cache.token().map(|t| t.into_arc())
                        })
                        .unwrap()
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        })
    }
    fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.settle();
    }
    fn settle(&self) {
        settle_real();
    }
}
