//! Bounded guards, so a regression fails a case instead of hanging CI, and
//! the herd gate, which proves that a herd's callers really overlap.
//!
//! Both wait on the real clock, and only as a bound: a passing case never
//! waits them out.

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a hang check waits before it calls the code under test hung.
pub const HANG_GUARD: Duration = Duration::from_secs(10);

/// How long a herd may take to gather before the gate opens anyway. Large
/// herds of threads take a few seconds to start on a busy two-core machine.
pub const HERD_GUARD: Duration = Duration::from_secs(60);

/// Runs `f` on a thread of its own and returns its result, re-raising its
/// panic; fails the calling test if `f` is still running after `limit` (the
/// hung thread is left behind; the test has failed).
pub fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(format!("guarded: {what}"))
        .spawn(move || {
            let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
        })
        .expect("a thread for the guarded call");
    match rx.recv_timeout(limit) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => resume_unwind(panic),
        Err(_) => panic!("{what}: still running after {limit:?}: it hangs"),
    }
}

/// A herd of `n` callers and the gate their source's first call is held at.
///
/// Each caller is counted once it is inside `token()` waiting on the
/// attempt: an async caller the first time its `token()` future is pending
/// ([`observed`]); a blocking caller when it enters the cache's wait loop
/// (the clock's `virtual_tick`, read only there) or, inline, when it runs
/// the source itself ([`this_thread_waits`]). The gate opens when all `n`
/// are counted, or when [`HERD_GUARD`] passes — then [`Herd::overlapped`]
/// is false and the case fails.
///
/// Why a serial run fails: with the gate closed, no caller can leave
/// `token()` (there is no token, and the one attempt is held at the gate).
/// Callers run one after another would have at most one caller inside
/// `token()` at a time, so the count stays at 1 and the gate only opens
/// when the guard gives up. Only callers that all wait on the same held
/// call at once can open it; then "one fetch" means they shared it.
pub struct Herd {
    n: usize,
    waiting: AtomicUsize,
    overlapped: AtomicBool,
    release: Box<dyn Fn() + Send + Sync>,
}

impl Herd {
    /// A herd of `n`; `release` opens the source's gate.
    pub fn new(n: usize, release: impl Fn() + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Herd {
            n,
            waiting: AtomicUsize::new(0),
            overlapped: AtomicBool::new(false),
            release: Box::new(release),
        })
    }

    pub fn len(&self) -> usize {
        self.n
    }

    /// Callers counted as waiting so far.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    fn mark_waiting(&self) {
        self.waiting.fetch_add(1, Ordering::SeqCst);
    }

    /// Blocks this thread until all `n` callers wait (or the guard passes),
    /// then releases them. Whether they all waited at once.
    pub fn release_when_all_waiting(&self) -> bool {
        let end = Instant::now() + HERD_GUARD;
        while self.waiting() < self.n && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(1));
        }
        let all = self.waiting() == self.n;
        self.overlapped.store(all, Ordering::SeqCst);
        (self.release)();
        all
    }

    /// Whether all `n` callers were waiting at once when the gate opened.
    pub fn overlapped(&self) -> bool {
        self.overlapped.load(Ordering::SeqCst)
    }

    /// Runs `call` on this thread as one of the herd's blocking callers.
    pub fn as_caller<T>(self: &Arc<Self>, call: impl FnOnce() -> T) -> T {
        CALLER.with(|c| *c.borrow_mut() = Some(Arc::clone(self)));
        let out = call();
        CALLER.with(|c| c.borrow_mut().take());
        out
    }
}

thread_local! {
    /// The herd this thread calls for, until it is counted.
    static CALLER: RefCell<Option<Arc<Herd>>> = const { RefCell::new(None) };
}

/// A blocking caller commits to waiting here: counted once if this thread is
/// one of a herd's callers ([`Herd::as_caller`]); nothing otherwise.
pub fn this_thread_waits() {
    let herd = CALLER.with(|c| c.borrow_mut().take());
    if let Some(herd) = herd {
        herd.mark_waiting();
    }
}

/// Polls `call` as one of `herd`'s async callers: counted the first time it
/// is pending, that is, waiting inside `token()`.
pub async fn observed<F: Future>(herd: &Herd, call: F) -> F::Output {
    let mut call = pin!(call);
    let mut counted = false;
    poll_fn(|cx| {
        let poll = call.as_mut().poll(cx);
        if poll.is_pending() && !counted {
            counted = true;
            herd.mark_waiting();
        }
        poll
    })
    .await
}
