//! Torture: several threads × several caches × hundreds of rotations of
//! short tokens, with random invalidations and failures, on one shared
//! virtual clock that a ticker thread keeps moving. Every token handed out is
//! checked as it is read:
//!
//! - never past its `usable_until` when the read began (the clock is read
//!   before and after each read; the instant of the read lies between);
//! - never another cache's token (each cache's source mints secrets with a
//!   prefix of its own, and a token's generation names its cache);
//! - never a token invalidated before the read began, nor an older one;
//! - never older than a token the same thread already got from that cache;
//! - a token held while its thread reads on never changes.
//!
//! Bounded for CI: each test runs for a few seconds of real time. The totals
//! are printed (`--nocapture`) and must be far from trivial.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    unreachable_pub
)]

#[path = "conformance/manual_tokio.rs"]
mod manual_tokio;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use freshen::{Error, ErrorKind, Fetched, Generation, Instant, Token};
use freshen_blocking::{BlockingCache, Mode};
use freshen_cache::{Cache, Clock, ManualClock};
use freshen_core::{BlockingTokenSource, TokenSource};

use manual_tokio::TokioOnManualClock;

/// Real time each test runs for.
const RUN_FOR: Duration = Duration::from_secs(4);

// ------------------------------------------------------------- the source

/// Mints `"{prefix}-{n}"` for its n-th call, with a lifetime drawn from
/// `lifetimes` (seconds); one call in 64 fails with a 503.
///
/// Each range `[a, b]` has `3b/4 < a`: a refresh starts at the earliest
/// `3L/4` before the held token expires (the lead of a short token), so a
/// new token always expires later than the one it replaces and no refresh
/// is taken for "no progress" by chance.
struct Mint {
    prefix: String,
    lifetimes: (u64, u64),
    calls: AtomicU64,
    minted: AtomicU64,
}

impl Mint {
    fn new(prefix: &str, lifetimes: (u64, u64)) -> Self {
        Mint {
            prefix: prefix.to_owned(),
            lifetimes,
            calls: AtomicU64::new(0),
            minted: AtomicU64::new(0),
        }
    }

    fn mint(&self) -> Result<Fetched, Error> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let draw = mix(n ^ mix(self.prefix.len() as u64 + self.lifetimes.0));
        if draw % 64 == 7 {
            return Err(Error::transient(ErrorKind::Status { status: 503 }));
        }
        let (a, b) = self.lifetimes;
        let lifetime = Duration::from_secs(a + (draw >> 8) % (b - a + 1));
        self.minted.fetch_add(1, Ordering::SeqCst);
        Ok(Fetched::new(format!("{}-{n}", self.prefix)).with_lifetime(lifetime))
    }
}

/// The cache's handle to a [`Mint`] the books also hold.
struct Source(Arc<Mint>);

impl BlockingTokenSource for Source {
    fn fetch(&self) -> Result<Fetched, Error> {
        self.0.mint()
    }
}

impl TokenSource for Source {
    async fn fetch(&self) -> Result<Fetched, Error> {
        // Pending once now and then, like a request on the wire.
        if self.0.calls.load(Ordering::Relaxed) % 2 == 0 {
            smol::future::yield_now().await;
        }
        self.0.mint()
    }
}

/// splitmix64's finaliser: the test's own randomness, reproducible.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = mix(self.0);
        self.0 % n
    }
}

// -------------------------------------------------------------- the books

/// What is known of one cache, shared by every reader.
struct Books {
    name: String,
    /// The prefix of this cache's secrets (`"c2-"`).
    dash: String,
    source: Arc<Mint>,
    /// The generations invalidated so far, each recorded after its
    /// `invalidate()` returned `true`, never before: a read that overlaps an
    /// invalidation may still get that token (the invalidation has not
    /// happened yet when the read takes it), so a record made before the
    /// call returns would flag reads the cache is allowed to serve. Recorded
    /// after, anything a reader saw recorded before its read began was
    /// invalidated strictly before that read began.
    invalidated: Mutex<BTreeSet<u64>>,
    /// One more than the newest generation in `invalidated`, raised (SeqCst)
    /// after the record: every token older than an invalidated one had been
    /// replaced by it, so no read that loaded the floor before it began may
    /// return a generation below it.
    floor: AtomicU64,
    /// The generation of the first token seen: all of this cache's tokens
    /// share its cache.
    first: OnceLock<Generation>,
}

impl Books {
    fn new(name: &str, lifetimes: (u64, u64)) -> Self {
        Books {
            name: name.to_owned(),
            dash: format!("{name}-"),
            source: Arc::new(Mint::new(name, lifetimes)),
            invalidated: Mutex::new(BTreeSet::new()),
            floor: AtomicU64::new(0),
            first: OnceLock::new(),
        }
    }

    /// Taken before a read.
    fn floor(&self) -> u64 {
        self.floor.load(Ordering::SeqCst)
    }

    /// After `invalidate(token)` returned `true`.
    fn record_invalidation(&self, generation: Generation) {
        self.invalidated.lock().unwrap().insert(generation.number());
        self.floor
            .fetch_max(generation.number() + 1, Ordering::SeqCst);
    }

    /// The checks on one token, read between `before` and `after` by a
    /// reader that took `floor` before the read; `fresh` for a read of the
    /// read path alone (`cached()`), which serves fresh tokens only.
    fn check(
        &self,
        token: &Token,
        fresh: bool,
        floor: u64,
        (before, after): (Instant, Instant),
        tally: &mut Tally,
    ) {
        let generation = token.generation();
        assert!(
            token.secret().starts_with(&self.dash),
            "cache {} handed out another cache's token ({})",
            self.name,
            token.secret()
        );
        let first = *self.first.get_or_init(|| generation);
        assert!(
            generation.same_cache(first),
            "cache {}: a token of another cache's generation ({generation:?})",
            self.name
        );
        assert!(
            before < token.usable_until(),
            "cache {}: {} served at or after its usable_until {:?} (the read began at {before:?})",
            self.name,
            generation,
            token.usable_until()
        );
        assert!(
            !fresh || before < token.fresh_until(),
            "cache {}: the read path served {} at or after its fresh_until {:?} (the read \
             began at {before:?})",
            self.name,
            generation,
            token.fresh_until()
        );
        assert!(
            generation.number() >= floor,
            "cache {}: {generation} served, though #{} was invalidated before the read began",
            self.name,
            floor - 1
        );
        let last = tally.last.entry(self.name.clone()).or_insert(0);
        assert!(
            generation.number() >= *last,
            "cache {}: this thread got #{last}, then the older {generation}",
            self.name
        );
        *last = generation.number();
        tally.reads += 1;
        if before == after {
            tally.exact += 1;
        }
        tally
            .seen
            .entry(self.name.clone())
            .or_default()
            .insert(generation.number());
    }

    /// An error a read may end in: a failed, timed-out or lost-to-a-jump
    /// refresh while no usable token is held. Anything else fails the test.
    fn allowed(&self, error: &Error, tally: &mut Tally) {
        let kind = match error.kind() {
            ErrorKind::Status { status: 503 } => "503 (injected)",
            ErrorKind::Timeout { .. } => "attempt timeout",
            ErrorKind::ExpiredOnArrival => "expired on arrival",
            ErrorKind::NoProgress => "no progress",
            other => panic!("cache {}: a read failed with {other:?}", self.name),
        };
        *tally.errors.entry(kind).or_insert(0) += 1;
    }
}

/// One reader's counts, merged at the end.
#[derive(Default)]
struct Tally {
    reads: u64,
    /// Reads during which the clock did not move: `usable_until` was checked
    /// at the exact instant of the read.
    exact: u64,
    /// Tokens checked again after they were held (across later reads, or
    /// across yields), unchanged.
    held: u64,
    invalidations: u64,
    errors: BTreeMap<&'static str, u64>,
    /// Per cache: the newest generation this reader got.
    last: BTreeMap<String, u64>,
    /// Per cache: every generation seen.
    seen: BTreeMap<String, BTreeSet<u64>>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.reads += other.reads;
        self.exact += other.exact;
        self.held += other.held;
        self.invalidations += other.invalidations;
        for (k, v) in other.errors {
            *self.errors.entry(k).or_insert(0) += v;
        }
        for (k, v) in other.seen {
            self.seen.entry(k).or_default().extend(v);
        }
    }

    fn report(&self, what: &str, books: &[&Books], clock: &ManualClock) {
        let errors: u64 = self.errors.values().sum();
        println!(
            "{what}: {} reads checked ({} at an exact instant), {} tokens checked again after \
             being held, {} invalidations, {errors} failed reads {:?}, {:.0} s of virtual time",
            self.reads,
            self.exact,
            self.held,
            self.invalidations,
            self.errors,
            clock.now().since_origin().as_secs_f64()
        );
        for b in books {
            println!(
                "  {}: {} rotations seen ({} tokens minted in {} calls), {} invalidated",
                b.name,
                self.seen.get(&b.name).map_or(0, BTreeSet::len),
                b.source.minted.load(Ordering::SeqCst),
                b.source.calls.load(Ordering::SeqCst),
                b.invalidated.lock().unwrap().len()
            );
        }
    }

    /// The run did real work: many reads, many rotations of every cache,
    /// invalidations, and most reads successful (failures are allowed: on a
    /// busy machine a refresh thread can miss an attempt timeout of a few
    /// virtual seconds, a few real milliseconds here).
    fn assert_did_work(&self, books: &[&Books]) {
        assert!(self.reads >= 10_000, "only {} reads", self.reads);
        assert!(
            self.invalidations >= 10,
            "only {} invalidations",
            self.invalidations
        );
        let errors: u64 = self.errors.values().sum();
        assert!(
            errors * 4 < self.reads,
            "{errors} failed reads against {} good ones",
            self.reads
        );
        for b in books {
            let rotations = self.seen.get(&b.name).map_or(0, BTreeSet::len);
            assert!(rotations >= 20, "{}: only {rotations} rotations", b.name);
        }
    }
}

/// Moves `clock` on by 50 ms to 2 s every half millisecond of real time
/// until `stop`: most reads (a microsecond or two) see it stand still.
fn tick(clock: &ManualClock, stop: &AtomicBool) {
    let mut rng = Rng(99);
    while !stop.load(Ordering::SeqCst) {
        clock.advance(Duration::from_millis(50 + rng.below(1950)));
        std::thread::sleep(Duration::from_micros(500));
    }
}

// --------------------------------------------------------- blocking torture

type Blocking = BlockingCache<Source, ManualClock>;

/// One reader thread: until `stop`, reads a random cache (by `token()`, or
/// the read path alone by `cached()`), checks the token, holds a few tokens
/// while it reads on, and now and then invalidates the token it got.
fn blocking_reader(
    id: u64,
    caches: &[(Blocking, &Books)],
    clock: &ManualClock,
    stop: &AtomicBool,
) -> Tally {
    let mut rng = Rng(id);
    let mut tally = Tally::default();
    let mut held = VecDeque::new();
    while !stop.load(Ordering::SeqCst) {
        let (cache, books) = &caches[rng.below(caches.len() as u64) as usize];
        let floor = books.floor();
        let before = clock.now();
        let fresh = rng.below(4) == 0;
        let got = if fresh {
            match cache.cached() {
                Some(token) => Ok(token),
                None => continue,
            }
        } else {
            cache.token()
        };
        let after = clock.now();
        let token = match got {
            Ok(token) => token,
            Err(error) => {
                books.allowed(&error, &mut tally);
                continue;
            }
        };
        books.check(&token, fresh, floor, (before, after), &mut tally);
        if rng.below(2000) == 0 && cache.invalidate(&token) {
            books.record_invalidation(token.generation());
            tally.invalidations += 1;
        }
        let secret = token.secret().to_owned();
        held.push_back((token, secret));
        if held.len() > 4 {
            let (token, secret) = held.pop_front().unwrap();
            assert_eq!(token.secret(), secret, "a held token changed");
            tally.held += 1;
        }
    }
    tally
}

#[test]
fn torture_blocking_threads_and_inline() {
    let clock = ManualClock::new().with_tick(Duration::from_millis(1));
    let books = [
        Books::new("c0", (20, 26)),
        Books::new("c1", (30, 39)),
        Books::new("c2", (40, 52)),
        Books::new("c3", (56, 60)),
    ];
    let modes = [Mode::Threads, Mode::Inline, Mode::Threads, Mode::Inline];
    let caches: Vec<(Blocking, &Books)> = books
        .iter()
        .zip(modes)
        .enumerate()
        .map(|(i, (b, mode))| {
            let cache = BlockingCache::builder(Source(Arc::clone(&b.source)))
                .mode(mode)
                .clock(clock.clone())
                .seed(i as u64)
                .build();
            (cache, b)
        })
        .collect();
    let stop = AtomicBool::new(false);
    let tally = std::thread::scope(|s| {
        let ticker = s.spawn(|| tick(&clock, &stop));
        let readers: Vec<_> = (0..4)
            .map(|id| {
                let (caches, clock, stop) = (&caches, &clock, &stop);
                s.spawn(move || blocking_reader(id, caches, clock, stop))
            })
            .collect();
        std::thread::sleep(RUN_FOR);
        stop.store(true, Ordering::SeqCst);
        ticker.join().unwrap();
        let mut tally = Tally::default();
        for r in readers {
            tally.merge(r.join().unwrap());
        }
        tally
    });
    let books: Vec<&Books> = books.iter().collect();
    tally.report(
        "blocking (threads and inline, 4 readers, 4 caches)",
        &books,
        &clock,
    );
    tally.assert_did_work(&books);
}

// ------------------------------------------------------------ tokio torture

type Tokio = Cache<Source, TokioOnManualClock>;

/// One task: as [`blocking_reader`], but it holds each token across a few
/// yields (so it often ends on another worker than it was taken on) and
/// tallies into its own [`Tally`], returned at the end.
async fn tokio_reader(
    id: u64,
    caches: Arc<Vec<(Tokio, Arc<Books>)>>,
    clock: ManualClock,
    stop: Arc<AtomicBool>,
) -> Tally {
    let mut rng = Rng(id);
    let mut tally = Tally::default();
    while !stop.load(Ordering::SeqCst) {
        let (cache, books) = &caches[rng.below(caches.len() as u64) as usize];
        let floor = books.floor();
        let before = clock.now();
        let got = cache.token().await;
        let after = clock.now();
        let token = match got {
            Ok(token) => token,
            Err(error) => {
                books.allowed(&error, &mut tally);
                continue;
            }
        };
        books.check(&token, false, floor, (before, after), &mut tally);
        let secret = token.secret().to_owned();
        for _ in 0..rng.below(3) {
            tokio::task::yield_now().await;
        }
        assert_eq!(token.secret(), secret, "a held token changed");
        tally.held += 1;
        if rng.below(2000) == 0 && cache.invalidate(&token) {
            books.record_invalidation(token.generation());
            tally.invalidations += 1;
        }
    }
    tally
}

#[test]
fn torture_tokio_multi_thread() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap();
    let clock = ManualClock::new().with_tick(Duration::from_millis(1));
    let books: Vec<Arc<Books>> = [("t0", (20, 26)), ("t1", (30, 39)), ("t2", (40, 52))]
        .into_iter()
        .map(|(name, lifetimes)| Arc::new(Books::new(name, lifetimes)))
        .collect();
    let caches: Arc<Vec<(Tokio, Arc<Books>)>> = {
        let _guard = rt.enter();
        Arc::new(
            books
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    let runtime = TokioOnManualClock::current(clock.clone());
                    let cache = Cache::builder(Source(Arc::clone(&b.source)), runtime)
                        .seed(i as u64)
                        .build();
                    (cache, Arc::clone(b))
                })
                .collect(),
        )
    };
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (clock, stop) = (clock.clone(), Arc::clone(&stop));
        std::thread::spawn(move || tick(&clock, &stop))
    };
    let tasks: Vec<_> = (0..32)
        .map(|id| {
            let (caches, clock, stop) = (Arc::clone(&caches), clock.clone(), Arc::clone(&stop));
            rt.spawn(tokio_reader(id, caches, clock, stop))
        })
        .collect();
    std::thread::sleep(RUN_FOR);
    stop.store(true, Ordering::SeqCst);
    ticker.join().unwrap();
    let mut tally = Tally::default();
    rt.block_on(async {
        for t in tasks {
            tally.merge(t.await.expect("a reader's checks failed (see its panic)"));
        }
    });
    let books: Vec<&Books> = books.iter().map(|b| &**b).collect();
    tally.report(
        "tokio multi-thread (4 workers, 32 tasks, 3 caches)",
        &books,
        &clock,
    );
    tally.assert_did_work(&books);
}
