//! The cached read path of freshen, side by side with peers, in one run.
//!
//! A read is: get the cached token and drop the result. Every contender is
//! warmed first (its cache holds a fresh 1-hour token), then measured on one
//! thread, and on two threads reading the same cache at the same time (each
//! thread does `iters` reads; the time reported is the slower thread's wall
//! time, so the figure is ns per read per thread under contention).
//!
//! On a shared machine each benchmark first waits for the CPUs to go idle
//! (`FRESHEN_BENCH_IDLE_WAIT`, seconds, default 30, 0 to skip), and the share
//! of wall time the measuring threads spent off their CPU is printed at the
//! end (and written to `criterion/off-cpu.json`): a disturbed figure shows.
//!
//! Run: `cargo bench --manifest-path benches/Cargo.toml`
//! (a filter after `--` picks contenders, e.g. `-- freshen`), then
//! `python3 benches/summarize.py` for the table in BENCHMARKS.md.

use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant, SystemTime};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use futures::FutureExt;

use freshen_blocking::{BlockingCache, Mode};
use freshen_cache::driver::{Outcome, Shared, Step};
use freshen_cache::{Clock, MonotonicClock};
use freshen_core::{BlockingTokenSource, Error, Fetched, Phase, Policy, TokenSource};
use freshen_smol::{SmolCache, SmolRuntime};
use freshen_tokio::{TokioCache, TokioRuntime};

const LIFETIME: Duration = Duration::from_secs(3600);

// ---------------------------------------------------------------------------
// The harness.

/// The calling thread's CPU time: it stops while the thread is off its core.
fn thread_cpu() -> Duration {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// One timed run: wall time of the slowest thread, and for the quality
/// report, the summed wall and CPU time of the measuring threads.
struct Timed {
    wall: Duration,
    wall_sum: Duration,
    cpu_sum: Duration,
}

/// Reads on one thread: `iters` reads, timed.
fn one_thread<L>(
    iters: u64,
    local: &(dyn Fn() -> L + Sync),
    read: &(dyn Fn(&mut L) + Sync),
) -> Timed {
    let mut l = local();
    read(&mut l);
    let cpu = thread_cpu();
    let start = Instant::now();
    for _ in 0..iters {
        read(&mut l);
    }
    let wall = start.elapsed();
    let cpu = thread_cpu().saturating_sub(cpu);
    Timed {
        wall,
        wall_sum: wall,
        cpu_sum: cpu,
    }
}

/// Reads on two threads at once, `iters` reads each, both started by a
/// barrier; the time is the slower thread's (ns per read per thread).
fn two_threads<L>(
    iters: u64,
    rt: &tokio::runtime::Handle,
    local: &(dyn Fn() -> L + Sync),
    read: &(dyn Fn(&mut L) + Sync),
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
                    let cpu = thread_cpu();
                    let start = Instant::now();
                    for _ in 0..iters {
                        read(&mut l);
                    }
                    let wall = start.elapsed();
                    (wall, thread_cpu().saturating_sub(cpu))
                })
            })
            .collect();
        let times: Vec<(Duration, Duration)> = workers
            .into_iter()
            .map(|w| w.join().expect("bench thread"))
            .collect();
        Timed {
            wall: times.iter().map(|t| t.0).max().unwrap_or_default(),
            wall_sum: times.iter().map(|t| t.0).sum(),
            cpu_sum: times.iter().map(|t| t.1).sum(),
        }
    })
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
    rt: tokio::runtime::Handle,
}

impl Bench<'_> {
    /// Measures one contender on 1 and 2 threads, with per-thread state.
    fn local<L>(&mut self, name: &str, local: impl Fn() -> L + Sync, read: impl Fn(&mut L) + Sync) {
        let rt = self.rt.clone();
        let mut g = self.c.benchmark_group("read");
        let id = format!("read/{name}/1 thread");
        wait_idle(&id);
        g.bench_function(BenchmarkId::new(name, "1 thread"), |b| {
            b.iter_custom(|iters| record(&id, &one_thread(iters, &local, &read)))
        });
        let id = format!("read/{name}/2 threads");
        wait_idle(&id);
        g.bench_function(BenchmarkId::new(name, "2 threads"), |b| {
            b.iter_custom(|iters| record(&id, &two_threads(iters, &rt, &local, &read)))
        });
        g.finish();
    }

    /// Measures one contender on 1 and 2 threads.
    fn read(&mut self, name: &str, read: impl Fn() + Sync) {
        self.local(name, || (), |_: &mut ()| read());
    }

    /// A single-thread micro-benchmark (for finding where time goes).
    fn micro(&mut self, name: &str, read: impl Fn() + Sync) {
        let mut g = self.c.benchmark_group("micro");
        let id = format!("micro/{name}");
        wait_idle(&id);
        g.bench_function(name, |b| {
            b.iter_custom(|iters| record(&id, &one_thread(iters, &|| (), &|_: &mut ()| read())))
        });
        g.finish();
    }
}

/// Prints, and leaves beside criterion's output, the share of wall time the
/// measuring threads spent off their CPU (taken by other processes): a
/// figure with more than a few percent was disturbed.
fn report_quality() {
    let q = QUALITY.lock().unwrap_or_else(|e| e.into_inner());
    let mut json = String::from("{\n");
    println!("\noff-CPU share of the measuring threads (wall - cpu) / wall:");
    for (i, (id, wall, cpu)) in q.iter().enumerate() {
        let off = 1.0 - cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9);
        println!("  {:>6.2}%  {id}", off * 100.0);
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

// ---------------------------------------------------------------------------
// freshen.

struct Source;
impl TokenSource for Source {
    async fn fetch(&self) -> Result<Fetched, Error> {
        Ok(Fetched::new("bench-access-token").with_lifetime(LIFETIME))
    }
}

struct BlockingSource;
impl BlockingTokenSource for BlockingSource {
    fn fetch(&self) -> Result<Fetched, Error> {
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
        matches!(tokio_cache.token().now_or_never(), Some(Ok(_)))
    });
    // Its size is what every `token()` call writes and moves before the
    // first poll (printed for the report).
    println!(
        "freshen tokio token() future: {} bytes; smol: {} bytes",
        std::mem::size_of_val(&tokio_cache.token()),
        std::mem::size_of_val(&SmolCache::new(Source, SmolRuntime::new()).token()),
    );
    b.read("freshen tokio cached()", || {
        drop(black_box(tokio_cache.cached()))
    });
    b.read("freshen tokio token()", || {
        drop(black_box(tokio_cache.token().now_or_never()))
    });

    // smol, on smol's global executor.
    let smol_cache: SmolCache<Source> = SmolCache::new(Source, SmolRuntime::new());
    smol::block_on(smol_cache.token()).expect("warm smol cache");
    check("freshen smol cached", || smol_cache.cached().is_some());
    check("freshen smol token", || {
        matches!(smol_cache.token().now_or_never(), Some(Ok(_)))
    });
    b.read("freshen smol cached()", || {
        drop(black_box(smol_cache.cached()))
    });
    b.read("freshen smol token()", || {
        drop(black_box(smol_cache.token().now_or_never()))
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
    b.read("freshen blocking/threads cached()", || {
        drop(black_box(threads.cached()))
    });
    b.read("freshen blocking/threads token()", || {
        drop(black_box(threads.token()))
    });

    // blocking, inline (no threads: CLIs, WASI).
    let inline = BlockingCache::builder(BlockingSource)
        .mode(Mode::Inline)
        .build();
    inline.token().expect("warm inline cache");
    check("freshen blocking inline cached", || {
        inline.cached().is_some()
    });
    check("freshen blocking inline token", || inline.token().is_ok());
    b.read("freshen blocking/inline cached()", || {
        drop(black_box(inline.cached()))
    });
    b.read("freshen blocking/inline token()", || {
        drop(black_box(inline.token()))
    });
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

/// Controls for the machine: how two threads scale with no shared state.
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
    // The barriers of an arc-swap guard, each thread on its own cache line.
    b.local(
        "control: xchg + lock cmpxchg on a per-thread slot",
        || Box::new(Padded(AtomicUsize::new(0))),
        |slot: &mut Box<Padded>| {
            black_box(slot.0.swap(black_box(7), SeqCst));
            black_box(slot.0.compare_exchange(black_box(7), 0, SeqCst, SeqCst)).ok();
        },
    );
}

#[repr(align(128))]
struct Padded(AtomicUsize);

// ---------------------------------------------------------------------------
// Baselines: the simplest shared caches.

fn baselines(b: &mut Bench<'_>) {
    let mutex = Mutex::new(Arc::new(String::from("bench-access-token")));
    b.read("std Mutex<Arc<String>>", || {
        let token = Arc::clone(&mutex.lock().expect("lock"));
        drop(black_box(token));
    });
    let swap = arc_swap::ArcSwap::from_pointee(String::from("bench-access-token"));
    b.read("arc-swap ArcSwap::load()", || drop(black_box(swap.load())));
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

    pub(super) fn bench(b: &mut Bench<'_>, rt: &tokio::runtime::Runtime) {
        let cache = IdentityCache::lazy().build();
        let resolver = Arc::new(Resolver(AtomicU64::new(0)));
        let shared = SharedIdentityResolver::new(ResolverRef(Arc::clone(&resolver)));
        // What a real client has: the OS time source and tokio's sleep. The
        // rest are the crate's own test stand-ins, never called here.
        let components = RuntimeComponentsBuilder::for_tests()
            .with_time_source(Some(SystemTimeSource::new()))
            .with_sleep_impl(Some(TokioSleep::new()))
            .build()
            .expect("runtime components");
        let config = ConfigBag::base();
        rt.block_on(cache.resolve_cached_identity(shared.clone(), &components, &config))
            .expect("warm aws cache");
        let ready = || {
            matches!(
                cache
                    .resolve_cached_identity(shared.clone(), &components, &config)
                    .now_or_never(),
                Some(Ok(_))
            )
        };
        check("aws lazy identity cache", ready);
        b.local(
            "aws-smithy-runtime IdentityCache::lazy()",
            ConfigBag::base,
            |config: &mut ConfigBag| {
                drop(black_box(
                    cache
                        .resolve_cached_identity(shared.clone(), &components, config)
                        .now_or_never(),
                ))
            },
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
                    if let Some((k, v)) = l.split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            length = v.trim().parse().unwrap_or(0);
                        }
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
                creds.headers(http::Extensions::new()).now_or_never(),
                Some(Ok(_))
            )
        });
        check("gcloud access_token", || {
            matches!(access.access_token().now_or_never(), Some(Ok(_)))
        });
        b.read("google-cloud-auth Credentials::headers()", || {
            drop(black_box(
                creds.headers(http::Extensions::new()).now_or_never(),
            ))
        });
        b.read("google-cloud-auth access_token()", || {
            drop(black_box(access.access_token().now_or_never()))
        });
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

    pub(super) fn bench(b: &mut Bench<'_>) {
        let credential = Arc::new(Credential(AtomicU64::new(0)));
        let policy = BearerTokenAuthorizationPolicy::new(
            credential.clone(),
            ["https://bench.invalid/.default"],
        );
        let next: Vec<Arc<dyn Policy>> = vec![Arc::new(Noop)];
        let ctx = Context::default();
        let url: Url = "https://bench.invalid/resource".parse().expect("url");
        let request = || Request::new(url.clone(), Method::Get);
        futures::executor::block_on(policy.send(&ctx, &mut request(), &next))
            .expect("warm azure policy");
        check("azure policy", || {
            matches!(
                policy.send(&ctx, &mut request(), &next).now_or_never(),
                Some(Ok(_))
            )
        });
        // Each thread reuses one request: the policy only sets its header.
        b.local(
            "azure_core BearerTokenAuthorizationPolicy::send()",
            request,
            |req: &mut Request| drop(black_box(policy.send(&ctx, req, &next).now_or_never())),
        );
        // The no-op next policy alone, to subtract from the line above.
        b.local(
            "azure_core (no-op next policy alone)",
            request,
            |req: &mut Request| drop(black_box(next[0].send(&ctx, req, &[]).now_or_never())),
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
    // Every measuring thread is inside the tokio context (aws's read path
    // makes a tokio sleep; the others do not touch it).
    let _enter = rt.enter();
    let mut b = Bench {
        c,
        rt: rt.handle().clone(),
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
