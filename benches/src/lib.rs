//! Benchmarks only; what every bench shares.

use std::future::Future;
use std::task::{Context, Poll, Waker};

/// Polls a future once, where it stands, with a no-op waker: how an
/// executor polls a task, and how every contender's async call is polled
/// in `read_path` and `request_path`. Inlined into each call, so no contender's
/// future is moved through memory first (futures-util's `now_or_never`,
/// used before, is not inlined here, and copying a just-built future in
/// one wide load stalls the CPU for several ns: a cost of the harness,
/// not of the contender).
pub trait PollOnce: Future + Sized {
    /// Polls once: the output if the future is ready at once.
    #[inline(always)]
    fn poll_once(self) -> Option<Self::Output> {
        let mut future = std::pin::pin!(self);
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        }
    }

    /// Polls once and keeps the value of a ready `Ok`: what `fut.await?`
    /// leaves the caller (the error, which a read in this harness never
    /// gives, is dropped). What every contender's async read is measured
    /// as, so no contender pays for moving an `Option<Result<..>>`.
    #[inline(always)]
    fn poll_ok<T, E>(self) -> Option<T>
    where
        Self: Future<Output = Result<T, E>>,
    {
        self.poll_once().and_then(Result::ok)
    }
}

impl<F: Future> PollOnce for F {}
