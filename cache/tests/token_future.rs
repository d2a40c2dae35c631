//! `Cache::token`'s future: the fresh path ready at once, the slow path
//! waiting for the attempt, a second poll after the token was handed out
//! told as an error, never a panic, and a waiting future's drop freeing
//! what it waited with (its slow path is dropped by hand, out of line).
#![allow(clippy::panic, missing_docs)]

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use freshen_cache::{BoxTask, Cache, Clock, Runtime};
use freshen_core::{Error, ErrorKind, Fetched, Instant, TokenSource};

/// Counts its fetches; each hands out a one-hour token.
#[derive(Clone, Default)]
struct Source(Arc<AtomicUsize>);

impl TokenSource for Source {
    async fn fetch(&self) -> Result<Fetched, Error> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Fetched::new(format!("t{n}")).with_lifetime(Duration::from_secs(3600)))
    }
}

/// Runs each spawned task to its end on the spot; time stands still.
struct Inline;

impl Clock for Inline {
    fn now(&self) -> Instant {
        Instant::ZERO
    }
}

impl Runtime for Inline {
    fn spawn(&self, task: BoxTask) {
        let mut task = task;
        let _ = task.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    }
    fn sleep(&self, _: Duration) -> BoxTask {
        Box::pin(std::future::pending())
    }
}

fn poll<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn an_empty_cache_waits_on_the_slow_path_then_serves_from_the_read_path() {
    let source = Source::default();
    let cache = Cache::new(source.clone(), Inline);

    // Empty: the future takes the slow path, which starts the attempt; this
    // runtime runs it to its end, so the first poll is ready.
    let mut first = pin!(cache.token());
    assert_eq!(format!("{first:?}"), "TokenFuture(waiting)");
    match poll(first.as_mut()) {
        Poll::Ready(Ok(token)) => assert_eq!(token.secret(), "t1"),
        other => panic!("expected the fetched token, got {other:?}"),
    }

    // Fresh now: ready at the first poll, and nothing fetched again.
    let mut second = pin!(cache.token());
    assert_eq!(format!("{second:?}"), "TokenFuture(ready)");
    match poll(second.as_mut()) {
        Poll::Ready(Ok(token)) => assert_eq!(token.secret(), "t1"),
        other => panic!("expected the cached token, got {other:?}"),
    }
    assert_eq!(source.0.load(Ordering::SeqCst), 1);
}

#[test]
fn polling_again_after_the_token_was_handed_out_is_an_error_not_a_panic() {
    let cache = Cache::new(Source::default(), Inline);
    assert!(cache.token_now().is_none(), "the refresh starts");
    let mut future = pin!(cache.token());
    let token = match poll(future.as_mut()) {
        Poll::Ready(Ok(token)) => token,
        other => panic!("expected a token, got {other:?}"),
    };
    match poll(future.as_mut()) {
        Poll::Ready(Err(e)) => assert_eq!(e.kind(), &ErrorKind::Closed),
        other => panic!("expected a Closed error, got {other:?}"),
    }
    // The token handed out first is untouched by the misuse.
    assert_eq!(token.secret(), "t1");
}

/// Never answers: the attempt stays in flight.
struct Silent;

impl TokenSource for Silent {
    async fn fetch(&self) -> Result<Fetched, Error> {
        std::future::pending().await
    }
}

/// Keeps every spawned task (so an attempt stays in flight) and counts the
/// sleeps it made and the ones dropped since. A kept attempt holds the
/// cache, whose runtime holds the task: the test lets the tasks go at its
/// end.
#[derive(Default)]
struct Keeping {
    tasks: Arc<std::sync::Mutex<Vec<BoxTask>>>,
    sleeps: Arc<AtomicUsize>,
    sleeps_dropped: Arc<AtomicUsize>,
}

/// Bumps its counter when dropped.
struct CountDrop(Arc<AtomicUsize>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Clock for Keeping {
    fn now(&self) -> Instant {
        Instant::ZERO
    }
}

impl Runtime for Keeping {
    fn spawn(&self, mut task: BoxTask) {
        let _ = task.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
    }
    fn sleep(&self, _: Duration) -> BoxTask {
        self.sleeps.fetch_add(1, Ordering::SeqCst);
        let dropped = CountDrop(Arc::clone(&self.sleeps_dropped));
        Box::pin(async move {
            let _dropped = dropped;
            std::future::pending::<()>().await;
        })
    }
}

#[test]
fn a_future_dropped_while_it_waits_frees_its_wait() {
    let runtime = Keeping::default();
    let tasks = Arc::clone(&runtime.tasks);
    let dropped = Arc::clone(&runtime.sleeps_dropped);
    let made = Arc::clone(&runtime.sleeps);
    let cache = Cache::new(Silent, runtime);
    let mut future = Box::pin(cache.token());
    assert!(
        poll(future.as_mut()).is_pending(),
        "the source never answers"
    );
    let (made_by_poll, dropped_before) =
        (made.load(Ordering::SeqCst), dropped.load(Ordering::SeqCst));
    assert!(made_by_poll >= 1, "the waiter's timer");
    drop(future);
    // The waiter's timer went with the future: a slow path left behind
    // would keep it (and the attempt's slot) alive for ever. The attempt,
    // still in flight, keeps its own.
    assert_eq!(dropped.load(Ordering::SeqCst), dropped_before + 1);
    assert_eq!(
        made.load(Ordering::SeqCst),
        made_by_poll,
        "nothing new made"
    );
    drop(cache);
    let kept = std::mem::take(&mut *tasks.lock().unwrap_or_else(|e| e.into_inner()));
    drop(kept);
}
