//! The tower layer and its service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use freshen_core::Error;
use freshen_http::{Authorizer, BearerCache, Rules};
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::body::BearerBody;
use crate::error::BearerError;
use crate::future::{ResponseFuture, Stamp};
use crate::replay::ReplayBody;

/// How much of a streaming body is buffered, at most, to replay it.
pub const DEFAULT_REPLAY_LIMIT: usize = 64 * 1024;

/// Puts the cache's token on every request as a sensitive
/// `Authorization: Bearer …` header, and retries once with a newer token
/// when the server rejects it (see [`Rules`] for which responses do).
///
/// The service's response comes back with its body wrapped in a
/// [`BearerBody`], which passes every frame on and judges the trailers:
/// gRPC's `UNAUTHENTICATED` sent after a stream invalidates the token the
/// request carried (no retry: the caller already has the response).
///
/// ```
/// use freshen_tower::BearerLayer;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use bytes::Bytes;
/// use tower::{Service, ServiceBuilder, ServiceExt};
///
/// # use freshen_core::{Error, Fetched, TokenSource};
/// # struct Source;
/// # impl TokenSource for Source {
/// #     async fn fetch(&self) -> Result<Fetched, Error> {
/// #         Ok(Fetched::new("t0k").with_lifetime(std::time::Duration::from_secs(3600)))
/// #     }
/// # }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let cache = freshen_tokio::TokioCache::new(Source, freshen_tokio::TokioRuntime::current());
/// // Any tower service of http requests: a hyper-util client, a tonic channel.
/// let api = tower::service_fn(|req: Request<Full<Bytes>>| async move {
///     let auth = req.headers()["authorization"].clone();
///     assert!(auth.is_sensitive());
///     Ok::<_, std::convert::Infallible>(Response::new(auth))
/// });
/// let mut client = ServiceBuilder::new().layer(BearerLayer::new(cache)).service(api);
/// let request = Request::get("https://api.example.com/v1/things").body(Full::default())?;
/// let response = client.ready().await?.call(request).await?;
/// // The body is the service's, wrapped to read its trailers (gRPC's
/// // status after a stream: see `BearerBody`).
/// assert_eq!(response.body().get_ref(), "Bearer t0k");
/// # Ok(()) }
/// ```
pub struct BearerLayer<C> {
    auth: Authorizer<C>,
    replay_limit: usize,
}

impl<C: BearerCache> BearerLayer<C> {
    /// A layer over `cache` with the default [`Rules`].
    pub fn new(cache: C) -> Self {
        Self::with_rules(cache, Rules::default())
    }

    /// A layer over `cache` with `rules` (the 403 opt-in, plain `http`,
    /// the origin of path-only requests).
    pub fn with_rules(cache: C, rules: Rules) -> Self {
        BearerLayer {
            auth: Authorizer::new(cache, rules),
            replay_limit: DEFAULT_REPLAY_LIMIT,
        }
    }

    /// How many bytes of a streaming body are buffered to replay it
    /// (default [`DEFAULT_REPLAY_LIMIT`]); see [`ReplayBody`].
    #[must_use]
    pub fn replay_limit(mut self, bytes: usize) -> Self {
        self.replay_limit = bytes;
        self
    }

    /// The rules and the cache this layer uses.
    pub fn authorizer(&self) -> &Authorizer<C> {
        &self.auth
    }
}

impl<C> Clone for BearerLayer<C> {
    fn clone(&self) -> Self {
        BearerLayer {
            auth: self.auth.clone(),
            replay_limit: self.replay_limit,
        }
    }
}

impl<C> fmt::Debug for BearerLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerLayer")
            .field("auth", &self.auth)
            .field("replay_limit", &self.replay_limit)
            .finish()
    }
}

impl<S, C> Layer<S> for BearerLayer<C> {
    type Service = BearerService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerService {
            inner,
            auth: self.auth.clone(),
            replay_limit: self.replay_limit,
            stamp: None,
        }
    }
}

/// The service of a [`BearerLayer`]: a `Service<Request<B>>` over a
/// service answering `Response<RB>`, answering `Response<BearerBody<RB>>`.
pub struct BearerService<S, C> {
    inner: S,
    auth: Authorizer<C>,
    replay_limit: usize,
    /// The last token's stamp: reused while the cache hands out that token.
    stamp: Option<Arc<Stamp<C>>>,
}

impl<S, C: BearerCache> BearerService<S, C> {
    /// The stamp of a token usable now, without waiting: the one kept if
    /// the cache still hands out its token (a generation compared, one
    /// reference count), otherwise a new one from the authorizer's header
    /// cache, kept for the next request. `None` as
    /// [`Authorizer::bearer_now`].
    #[inline]
    fn stamp_now(&mut self) -> Option<Result<Arc<Stamp<C>>, Error>> {
        let generation = self.auth.generation_now()?;
        if let Some(stamp) = self
            .stamp
            .as_ref()
            .filter(|stamp| stamp.bearer.generation() == generation)
        {
            return Some(Ok(Arc::clone(stamp)));
        }
        let stamp = match self.auth.bearer_now()? {
            Ok(bearer) => Arc::new(Stamp {
                auth: self.auth.clone(),
                bearer,
            }),
            Err(error) => return Some(Err(error)),
        };
        self.stamp = Some(Arc::clone(&stamp));
        Some(Ok(stamp))
    }
}

impl<S: Clone, C> Clone for BearerService<S, C> {
    fn clone(&self) -> Self {
        BearerService {
            inner: self.inner.clone(),
            auth: self.auth.clone(),
            replay_limit: self.replay_limit,
            stamp: self.stamp.clone(),
        }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for BearerService<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerService")
            .field("inner", &self.inner)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl<S, C, B, RB> Service<Request<B>> for BearerService<S, C>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send + 'static,
    B: ReplayBody + Send + 'static,
    RB: Send + 'static,
    C: BearerCache,
{
    type Response = Response<BearerBody<RB>>;
    type Error = BearerError<S::Error>;
    type Future = ResponseFuture<S, C, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(BearerError::Service)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // Nothing is fetched, let alone sent, for a destination refused.
        if let Err(error) = self.auth.check_uri(request.uri()) {
            return ResponseFuture::failed(error);
        }
        match self.stamp_now() {
            // The fresh path: sent now by the service polled ready; a clone
            // of it sends the retry, if the body can be replayed.
            Some(Ok(stamp)) => {
                ResponseFuture::send(&mut self.inner, request, stamp, self.replay_limit)
            }
            Some(Err(error)) => ResponseFuture::failed(error),
            // No usable token now: the service polled ready waits with the
            // request (tower's readiness contract), a clone takes its place.
            None => {
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::waiting(self.auth.clone(), ready, request, self.replay_limit)
            }
        }
    }
}
