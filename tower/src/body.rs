//! The response body of a [`BearerService`](crate::BearerService) call: the
//! wrapped service's body, frame for frame, with its trailers judged on the
//! way (gRPC's status after a streamed body).

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use freshen_http::{BearerCache, Verdict};
use http::{HeaderMap, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::future::Stamp;

pin_project! {
    /// The body of a response through a [`BearerLayer`](crate::BearerLayer):
    /// the wrapped service's body, every frame passed on untouched (data,
    /// trailers, errors, the end, [`Body::is_end_stream`] and
    /// [`Body::size_hint`] as the body says).
    ///
    /// What it adds: when the trailers arrive (a gRPC server streaming its
    /// answer, or a unary one that sent its headers first, puts
    /// `grpc-status` there, after the messages), they are judged by
    /// [`Rules::trailers_verdict`](freshen_http::Rules::trailers_verdict);
    /// an `UNAUTHENTICATED` invalidates exactly the token the request
    /// carried, as a rejection in the headers does, so the next request
    /// takes a new one. Nothing is retried: by then the caller has the
    /// response and is reading it, and it still gets the status. Nothing is
    /// buffered, and a body without trailers costs nothing more to read.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use freshen_tower::{BearerBody, BearerLayer};
    /// use http::{HeaderMap, Request, Response};
    /// use http_body_util::{BodyExt, Full, StreamBody};
    /// use http_body::Frame;
    /// use tower::{Service, ServiceBuilder, ServiceExt};
    ///
    /// # use freshen_core::{Error, Fetched, TokenSource};
    /// # use std::sync::atomic::{AtomicUsize, Ordering};
    /// # static FETCHED: AtomicUsize = AtomicUsize::new(0);
    /// # struct Source;
    /// # impl TokenSource for Source {
    /// #     async fn fetch(&self) -> Result<Fetched, Error> {
    /// #         let n = FETCHED.fetch_add(1, Ordering::SeqCst);
    /// #         Ok(Fetched::new(format!("t0k-{n}")).with_lifetime(std::time::Duration::from_secs(3600)))
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// let cache = freshen_tokio::TokioCache::new(Source, freshen_tokio::TokioRuntime::current());
    /// // A gRPC server that streams one message, then refuses the token in
    /// // its trailers.
    /// let api = tower::service_fn(|req: Request<Full<Bytes>>| async move {
    ///     let mut trailers = HeaderMap::new();
    ///     trailers.insert("grpc-status", "16".parse().unwrap());
    ///     let frames = [Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from("message"))),
    ///                   Ok(Frame::trailers(trailers))];
    ///     let body = StreamBody::new(futures_lite::stream::iter(frames));
    ///     Ok::<_, std::convert::Infallible>(Response::new(body))
    /// });
    /// let mut client = ServiceBuilder::new().layer(BearerLayer::new(cache.clone())).service(api);
    /// let request = Request::get("https://api.example.com/v1/watch").body(Full::default())?;
    /// let response: Response<BearerBody<_>> = client.ready().await?.call(request).await?;
    /// let sent = cache.token().await?.secret().to_owned();
    /// // The caller reads the whole answer, status included...
    /// let answer = response.into_body().collect().await?;
    /// assert_eq!(answer.trailers().unwrap()["grpc-status"], "16");
    /// // ...and the token it was refused is gone: the next request takes a new one.
    /// assert_ne!(cache.token().await?.secret(), sent);
    /// # Ok(()) }
    /// ```
    pub struct BearerBody<B> {
        #[pin]
        inner: B,
        watch: Option<Watch>,
    }
}

/// What judges a response's trailers, kept by its body until they come.
pub(crate) struct Watch {
    /// The response's status (given to the 403 predicate).
    status: StatusCode,
    judge: Arc<dyn Judge>,
}

/// Judges trailers for the token a request carried: the [`Stamp`] it was
/// sent with, behind a trait object so the body's type does not name the
/// cache.
pub(crate) trait Judge: Send + Sync {
    /// Invalidates the token if `trailers` reject it.
    fn trailers(&self, status: StatusCode, trailers: &HeaderMap);
}

impl<C: BearerCache> Judge for Stamp<C> {
    fn trailers(&self, status: StatusCode, trailers: &HeaderMap) {
        if self.auth.trailers_verdict(status, trailers) == Verdict::Rejected {
            self.auth.invalidate(&self.bearer);
        }
    }
}

/// `response` with its body watched for trailers that reject `judge`'s
/// token (`None`: passed on, not watched).
#[inline]
pub(crate) fn watched<B>(
    response: Response<B>,
    judge: Option<Arc<dyn Judge>>,
) -> Response<BearerBody<B>> {
    let status = response.status();
    response.map(|inner| BearerBody {
        inner,
        watch: judge.map(|judge| Watch { status, judge }),
    })
}

impl<B> BearerBody<B> {
    /// `inner` as it is, watched by nothing: for a response of the layer's
    /// type made elsewhere (a fallback, a test double).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use freshen_tower::BearerBody;
    /// use http_body::Body;
    /// use http_body_util::Full;
    ///
    /// let body = BearerBody::new(Full::new(Bytes::from_static(b"ok")));
    /// assert_eq!(body.size_hint().exact(), Some(2));
    /// let inner: Full<Bytes> = body.into_inner();
    /// assert!(!inner.is_end_stream());
    /// ```
    pub fn new(inner: B) -> Self {
        BearerBody { inner, watch: None }
    }

    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }

    /// The wrapped body, mutably.
    pub fn get_mut(&mut self) -> &mut B {
        &mut self.inner
    }

    /// The wrapped body; its trailers, if read from it, are no longer
    /// judged.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B: Body> Body for BearerBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if let Some(Ok(frame)) = &frame {
            if let Some(trailers) = frame.trailers_ref() {
                // Judged once: the token is let go with it.
                if let Some(watch) = this.watch.take() {
                    watch.judge.trailers(watch.status, trailers);
                }
            }
        }
        Poll::Ready(frame)
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: fmt::Debug> fmt::Debug for BearerBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerBody")
            .field("inner", &self.inner)
            .field("watching", &self.watch.is_some())
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use std::convert::Infallible;
    use std::sync::Mutex;

    use bytes::Bytes;
    use http::HeaderValue;
    use http_body_util::{BodyExt, Full, StreamBody};

    use super::*;

    /// Records what it was asked to judge.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(StatusCode, HeaderMap)>>);

    impl Judge for Recorder {
        fn trailers(&self, status: StatusCode, trailers: &HeaderMap) {
            self.0.lock().unwrap().push((status, trailers.clone()));
        }
    }

    fn trailers(status: &'static str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert("grpc-status", HeaderValue::from_static(status));
        map.insert("grpc-message", HeaderValue::from_static("bye"));
        map
    }

    fn frames(parts: Vec<Frame<Bytes>>) -> impl Body<Data = Bytes, Error = Infallible> {
        let items: Vec<_> = parts.into_iter().map(Ok).collect();
        StreamBody::new(futures_lite::stream::iter(items))
    }

    fn watched_body<B>(inner: B, judge: &Arc<Recorder>, status: StatusCode) -> BearerBody<B> {
        let mut response = Response::new(inner);
        *response.status_mut() = status;
        let judge: Arc<dyn Judge> = Arc::clone(judge) as Arc<dyn Judge>;
        watched(response, Some(judge)).into_body()
    }

    #[tokio::test]
    async fn data_frames_and_trailers_pass_unchanged_and_trailers_are_judged_once() {
        let judge = Arc::new(Recorder::default());
        let sent = vec![
            Frame::data(Bytes::from_static(b"\0\0\0\0\x02hi")),
            Frame::data(Bytes::from_static(b"")),
            Frame::data(Bytes::from_static(b"\0\0\0\0\x03abc")),
            Frame::trailers(trailers("16")),
        ];
        let mut body = watched_body(frames(sent), &judge, StatusCode::OK);
        let mut got = Vec::new();
        while let Some(frame) = body.frame().await {
            got.push(frame.unwrap());
        }
        assert_eq!(got.len(), 4);
        let data: Vec<_> = got.iter().filter_map(|f| f.data_ref().cloned()).collect();
        assert_eq!(
            data,
            [
                Bytes::from_static(b"\0\0\0\0\x02hi"),
                Bytes::new(),
                Bytes::from_static(b"\0\0\0\0\x03abc")
            ]
        );
        assert_eq!(got[3].trailers_ref(), Some(&trailers("16")));
        assert!(body.frame().await.is_none());
        let judged = judge.0.lock().unwrap();
        assert_eq!(*judged, [(StatusCode::OK, trailers("16"))]);
    }

    #[tokio::test]
    async fn a_body_without_trailers_is_never_judged() {
        let judge = Arc::new(Recorder::default());
        let body = watched_body(
            Full::new(Bytes::from_static(b"plain")),
            &judge,
            StatusCode::OK,
        );
        assert_eq!(body.size_hint().exact(), Some(5));
        assert!(!body.is_end_stream());
        let collected = body.collect().await.unwrap();
        assert!(collected.trailers().is_none());
        assert_eq!(collected.to_bytes(), "plain");
        assert!(judge.0.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn end_and_size_are_the_inner_bodys_and_errors_pass() {
        let judge = Arc::new(Recorder::default());
        let empty = watched_body(Full::new(Bytes::new()), &judge, StatusCode::OK);
        assert!(empty.is_end_stream());
        assert_eq!(empty.size_hint().exact(), Some(0));

        let failing = StreamBody::new(futures_lite::stream::iter([
            Ok(Frame::data(Bytes::from_static(b"a"))),
            Err("reset"),
        ]));
        let mut body = watched_body(failing, &judge, StatusCode::OK);
        assert_eq!(
            body.frame().await.unwrap().unwrap().into_data().unwrap(),
            "a"
        );
        assert_eq!(body.frame().await.unwrap().unwrap_err(), "reset");
        assert!(judge.0.lock().unwrap().is_empty());
    }

    #[test]
    fn the_status_is_the_responses_and_debug_shows_no_judge() {
        let judge = Arc::new(Recorder::default());
        let body = watched_body(Full::new(Bytes::new()), &judge, StatusCode::FORBIDDEN);
        assert_eq!(body.watch.as_ref().unwrap().status, StatusCode::FORBIDDEN);
        let shown = format!("{body:?}");
        assert!(shown.contains("watching: true"), "{shown}");
        assert!(format!("{:?}", BearerBody::new(())).contains("watching: false"));
    }
}
