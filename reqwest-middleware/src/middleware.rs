//! The middleware.

use std::fmt;

use freshen_http::{Authorizer, BearerCache, Rules, Verdict};
use http::Extensions;
use http::header::AUTHORIZATION;
use reqwest::{Request, Response};
use reqwest_middleware::{Error, Middleware, Next, Result};

/// Puts the cache's token on every request as a sensitive
/// `Authorization: Bearer …` header, and retries once with a newer token
/// when the server rejects it (see [`Rules`] for which responses do).
///
/// A request whose body cannot be replayed (`Request::try_clone` says
/// `None`: a `Body::wrap_stream`) is not retried: its token is invalidated
/// and the rejection goes back to the caller. Errors of its own (no token,
/// or plain `http` to a host that is not loopback) are
/// [`reqwest_middleware::Error::Middleware`] holding a
/// [`freshen_core::Error`] (downcast it to read its kind); nothing was
/// sent then.
///
/// ```
/// use freshen_reqwest_middleware::BearerMiddleware;
/// use reqwest_middleware::ClientBuilder;
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
/// let client = ClientBuilder::new(reqwest::Client::new())
///     .with(BearerMiddleware::new(cache))
///     .build();
/// // Plain http to a host that is not loopback: refused, nothing sent.
/// let refused = client.get("http://api.example.com/v1").send().await.unwrap_err();
/// let refused = match refused {
///     reqwest_middleware::Error::Middleware(e) => e.downcast::<freshen_core::Error>()?,
///     other => return Err(other.into()),
/// };
/// assert!(matches!(refused.kind(), freshen_core::ErrorKind::Config(_)));
/// # Ok(()) }
/// ```
pub struct BearerMiddleware<C> {
    auth: Authorizer<C>,
}

impl<C: BearerCache> BearerMiddleware<C> {
    /// A middleware over `cache` with the default [`Rules`].
    pub fn new(cache: C) -> Self {
        Self::with_rules(cache, Rules::default())
    }

    /// A middleware over `cache` with `rules` (the 403 opt-in, plain
    /// `http` to hosts that are not loopback).
    pub fn with_rules(cache: C, rules: Rules) -> Self {
        BearerMiddleware {
            auth: Authorizer::new(cache, rules),
        }
    }

    /// The rules and the cache this middleware uses.
    pub fn authorizer(&self) -> &Authorizer<C> {
        &self.auth
    }
}

impl<C> Clone for BearerMiddleware<C> {
    fn clone(&self) -> Self {
        BearerMiddleware {
            auth: self.auth.clone(),
        }
    }
}

impl<C> fmt::Debug for BearerMiddleware<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerMiddleware")
            .field("auth", &self.auth)
            .finish()
    }
}

#[async_trait::async_trait]
impl<C: BearerCache> Middleware for BearerMiddleware<C> {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        // Nothing is fetched, let alone sent, for a destination refused.
        let url = request.url();
        self.auth
            .rules()
            .check_destination(url.scheme(), url.host_str(), url)
            .map_err(Error::middleware)?;
        let bearer = match self.auth.bearer_now() {
            Some(bearer) => bearer,
            None => self.auth.bearer().await,
        }
        .map_err(Error::middleware)?;
        // reqwest decides what can be replayed: a buffered body can, a
        // stream cannot. No copy at all when the rules retry nothing.
        let copy = if self.auth.rules().retries_rejected() {
            request.try_clone()
        } else {
            None
        };
        request
            .headers_mut()
            .insert(AUTHORIZATION, bearer.header().clone());
        let response = next.clone().run(request, extensions).await?;
        if self.auth.verdict(response.status(), response.headers()) == Verdict::Accepted {
            return Ok(response);
        }
        let Some(mut again) = copy else {
            // Not replayable: the rejection goes back, and the token is gone.
            self.auth.invalidate(&bearer);
            return Ok(response);
        };
        let Some(newer) = self
            .auth
            .after_rejection(&bearer)
            .await
            .map_err(Error::middleware)?
        else {
            // The cache still holds the rejected token: never resent.
            return Ok(response);
        };
        drop(response);
        #[cfg(feature = "metrics")]
        metrics::counter!("freshen.http.auth_retry").increment(1);
        again
            .headers_mut()
            .insert(AUTHORIZATION, newer.header().clone());
        next.run(again, extensions).await
    }
}
