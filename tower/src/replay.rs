//! Request bodies that can be sent again after a rejected token.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{Empty, Full};

/// A request body that may be replayed: the retry after a rejected token
/// sends the same body again, so the layer asks for a copy *before* the
/// request goes out.
///
/// A whole buffer ([`Full`], [`Empty`], `String`, `Vec<u8>`, [`Bytes`],
/// `()`) is copied (a reference count for `Full<Bytes>` and `Bytes`). A
/// boxed or streaming body ([`http_body_util::combinators::BoxBody`],
/// [`UnsyncBoxBody`](http_body_util::combinators::UnsyncBoxBody), tonic's
/// `Body` with the `tonic` feature) is buffered only as far as it is ready
/// *now*, up to `limit` bytes: if it ends there, it was buffered and can be
/// replayed; if not (it waits on its producer, or is larger), it is sent as
/// it is — what was read first, then the rest — and is not retried. Nothing
/// here ever waits on a body, so a stream that needs the response before it
/// can go on cannot deadlock.
pub trait ReplayBody: Sized {
    /// A copy to send again, or `None` if this body cannot be replayed.
    /// May replace `self` with a body that sends the same bytes.
    fn replay(&mut self, limit: usize) -> Option<Self>;
}

macro_rules! cloned {
    ($($t:ty),*) => {$(
        impl ReplayBody for $t {
            #[inline]
            fn replay(&mut self, _limit: usize) -> Option<Self> {
                Some(self.clone())
            }
        }
    )*};
}

cloned!(String, Vec<u8>, Bytes, ());

impl<D: Clone> ReplayBody for Full<D> {
    #[inline]
    fn replay(&mut self, _limit: usize) -> Option<Self> {
        Some(self.clone())
    }
}

impl<D> ReplayBody for Empty<D> {
    #[inline]
    fn replay(&mut self, _limit: usize) -> Option<Self> {
        Some(Empty::new())
    }
}

impl<E: Send + Sync + 'static> ReplayBody for http_body_util::combinators::BoxBody<Bytes, E> {
    fn replay(&mut self, limit: usize) -> Option<Self> {
        let (now, copy) = buffer_ready(std::mem::take(self), limit);
        *self = Self::new(now);
        copy.map(Self::new)
    }
}

impl<E: Send + 'static> ReplayBody for http_body_util::combinators::UnsyncBoxBody<Bytes, E> {
    fn replay(&mut self, limit: usize) -> Option<Self> {
        let (now, copy) = buffer_ready(std::mem::take(self), limit);
        *self = Self::new(now);
        copy.map(Self::new)
    }
}

/// Reads what `body` has ready now, up to `limit` bytes, and returns the
/// body to send (those frames, then the rest) and, if `body` ended within
/// them, a copy of it for a retry.
pub(crate) fn buffer_ready<B>(mut body: B, limit: usize) -> (Spliced<B>, Option<Spliced<B>>)
where
    B: Body<Data = Bytes> + Unpin,
{
    let mut cx = Context::from_waker(Waker::noop());
    let mut frames = VecDeque::new();
    let mut size = 0usize;
    loop {
        if body.is_end_stream() {
            let copy = Spliced::done(copy_frames(&frames));
            return (Spliced::done(frames), Some(copy));
        }
        if size > limit {
            break;
        }
        match Pin::new(&mut body).poll_frame(&mut cx) {
            Poll::Ready(None) => {
                let copy = Spliced::done(copy_frames(&frames));
                return (Spliced::done(frames), Some(copy));
            }
            Poll::Ready(Some(Ok(frame))) => {
                size = size.saturating_add(frame.data_ref().map_or(0, Bytes::len));
                frames.push_back(frame);
            }
            Poll::Ready(Some(Err(error))) => {
                let sent = Spliced {
                    frames,
                    error: Some(error),
                    rest: None,
                };
                return (sent, None);
            }
            // Waiting on its producer: sent as it is, never waited on here.
            Poll::Pending => break,
        }
    }
    let sent = Spliced {
        frames,
        error: None,
        rest: Some(body),
    };
    (sent, None)
}

fn copy_frames(frames: &VecDeque<Frame<Bytes>>) -> VecDeque<Frame<Bytes>> {
    frames
        .iter()
        .filter_map(|f| match (f.data_ref(), f.trailers_ref()) {
            (Some(data), _) => Some(Frame::data(data.clone())),
            (None, Some(trailers)) => Some(Frame::trailers(trailers.clone())),
            (None, None) => None,
        })
        .collect()
}

/// Frames read ahead, then (if the body did not end within them) an error
/// it gave or the rest of the body.
pub(crate) struct Spliced<B: Body> {
    frames: VecDeque<Frame<Bytes>>,
    error: Option<B::Error>,
    rest: Option<B>,
}

impl<B: Body> Spliced<B> {
    fn done(frames: VecDeque<Frame<Bytes>>) -> Self {
        Spliced {
            frames,
            error: None,
            rest: None,
        }
    }
}

impl<B> Body for Spliced<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        if let Some(frame) = this.frames.pop_front() {
            return Poll::Ready(Some(Ok(frame)));
        }
        if let Some(error) = this.error.take() {
            return Poll::Ready(Some(Err(error)));
        }
        match &mut this.rest {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty()
            && self.error.is_none()
            && self.rest.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let read: u64 = self
            .frames
            .iter()
            .filter_map(|f| f.data_ref().map(|d| d.len() as u64))
            .sum();
        let rest = self
            .rest
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint);
        let mut hint = SizeHint::new();
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper.saturating_add(read));
        }
        hint.set_lower(rest.lower().saturating_add(read));
        hint
    }
}

impl<B: Body> Unpin for Spliced<B> {}
