//! tonic: an interceptor that never blocks, and replay for tonic's body.

use std::fmt;

use freshen_http::{Authorizer, BearerCache, Rules};
use http::Uri;
use http::header::AUTHORIZATION;
use tonic::metadata::MetadataMap;
use tonic::service::Interceptor;
use tonic::{Request, Status};

use crate::replay::{ReplayBody, buffer_ready};

/// A tonic [`Interceptor`] that puts the cache's token on every call as
/// sensitive `authorization` metadata.
///
/// It never blocks and needs no runtime: a fresh (or stale) token comes
/// from the cache's lock-free read path; with none usable it starts a
/// refresh in the background (on the cache's runtime) and fails the call
/// at once with `UNAVAILABLE`, which callers retry. It has no response to
/// read, so it cannot retry after a rejection: for that, put a
/// [`BearerLayer`](crate::BearerLayer) on the `Channel`.
///
/// ```
/// use freshen_tower::BearerInterceptor;
/// use tonic::service::Interceptor;
///
/// # use freshen_core::{Error, Fetched, TokenSource};
/// # struct Source;
/// # impl TokenSource for Source {
/// #     async fn fetch(&self) -> Result<Fetched, Error> {
/// #         Ok(Fetched::new("t0k").with_lifetime(std::time::Duration::from_secs(3600)))
/// #     }
/// # }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Error> {
/// let cache = freshen_tokio::TokioCache::new(Source, freshen_tokio::TokioRuntime::current());
/// cache.token().await?;
/// let endpoint = "https://grpc.example.com".parse().unwrap();
/// let mut interceptor = BearerInterceptor::new(cache, &endpoint)?;
/// // e.g. `HealthClient::with_interceptor(channel, interceptor)`
/// let request = interceptor.call(tonic::Request::new(())).unwrap();
/// assert!(request.metadata().get("authorization").unwrap().is_sensitive());
/// # Ok(()) }
/// ```
pub struct BearerInterceptor<C> {
    auth: Authorizer<C>,
}

impl<C: BearerCache> BearerInterceptor<C> {
    /// An interceptor for calls to `endpoint` (the channel's URI: the token
    /// goes over plain `http` only to loopback), with the default rules.
    pub fn new(cache: C, endpoint: &Uri) -> Result<Self, freshen_core::Error> {
        Self::with_rules(cache, endpoint, Rules::default())
    }

    /// Likewise, with `rules` (to allow plain `http`).
    pub fn with_rules(cache: C, endpoint: &Uri, rules: Rules) -> Result<Self, freshen_core::Error> {
        rules.check_uri(endpoint)?;
        Ok(BearerInterceptor {
            auth: Authorizer::new(cache, rules),
        })
    }
}

impl<C: BearerCache> Interceptor for BearerInterceptor<C> {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let bearer = match self.auth.bearer_now() {
            Some(Ok(bearer)) => bearer,
            Some(Err(e)) => return Err(Status::unauthenticated(e.to_string())),
            None => return Err(Status::unavailable("no usable token yet: refreshing")),
        };
        let (metadata, extensions, message) = request.into_parts();
        let mut headers = metadata.into_headers();
        headers.insert(AUTHORIZATION, bearer.header().clone());
        Ok(Request::from_parts(
            MetadataMap::from_headers(headers),
            extensions,
            message,
        ))
    }
}

impl<C> Clone for BearerInterceptor<C> {
    fn clone(&self) -> Self {
        BearerInterceptor {
            auth: self.auth.clone(),
        }
    }
}

impl<C> fmt::Debug for BearerInterceptor<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerInterceptor")
            .field("auth", &self.auth)
            .finish()
    }
}

/// A unary call's body is ready at once (one encoded message): it is
/// buffered and replayed. A client stream that is still being produced
/// is sent as it is and not retried.
impl ReplayBody for tonic::body::Body {
    fn replay(&mut self, limit: usize) -> Option<Self> {
        let (now, copy) = buffer_ready(std::mem::take(self), limit);
        *self = tonic::body::Body::new(now);
        copy.map(tonic::body::Body::new)
    }
}
