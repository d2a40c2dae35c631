//! The request path's decisions, in the order a request meets them.

use std::fmt;
use std::sync::Arc;

use freshen_core::{Error, Generation};
use http::{HeaderMap, StatusCode, Uri};

use crate::bearer::{Bearer, BearerHeaders};
use crate::cache::BearerCache;
use crate::rules::{Rules, Verdict};

/// A token cache with the request path's rules: what every integration
/// asks, in order — may a token go to this URI ([`Authorizer::check_uri`]),
/// which header goes on the request ([`Authorizer::bearer_now`],
/// [`Authorizer::bearer`]), did the response reject it
/// ([`Authorizer::verdict`]; a streamed response's trailers:
/// [`Authorizer::trailers_verdict`]), and with what to retry
/// ([`Authorizer::after_rejection`]).
///
/// Cheap to clone: clones share the cache, the rules and the header cache.
pub struct Authorizer<C> {
    inner: Arc<Parts<C>>,
}

struct Parts<C> {
    cache: C,
    rules: Rules,
    headers: BearerHeaders,
}

impl<C> Clone for Authorizer<C> {
    fn clone(&self) -> Self {
        Authorizer {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C> Authorizer<C> {
    /// The cache.
    pub fn cache(&self) -> &C {
        &self.inner.cache
    }

    /// The rules.
    pub fn rules(&self) -> &Rules {
        &self.inner.rules
    }
}

impl<C: BearerCache> Authorizer<C> {
    /// The rules over `cache`.
    pub fn new(cache: C, rules: Rules) -> Self {
        Authorizer {
            inner: Arc::new(Parts {
                cache,
                rules,
                headers: BearerHeaders::new(),
            }),
        }
    }

    /// Whether a token may be sent to `uri` (see [`Rules::check_uri`]).
    #[inline]
    pub fn check_uri(&self, uri: &Uri) -> Result<(), Error> {
        self.inner.rules.check_uri(uri)
    }

    /// The header for a usable token, without waiting: the fresh path
    /// (a clone of the header kept for the token; nothing formatted or
    /// allocated). `None` when no token is usable now; a refresh has then
    /// been started (see [`BearerCache::token_now`]).
    #[inline]
    pub fn bearer_now(&self) -> Option<Result<Arc<Bearer>, Error>> {
        let token = self.inner.cache.token_now()?;
        Some(self.inner.headers.get(token, C::keep))
    }

    /// The generation of the token [`Authorizer::bearer_now`] would hand
    /// out now, read lock-free and touching no reference count: a caller
    /// that keeps the [`Bearer`] it got last compares it, and asks for a
    /// new one only when the token changed. `None` as for `bearer_now` (a
    /// refresh has been started).
    ///
    /// ```
    /// use freshen_http::{Authorizer, Rules};
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
    /// let auth = Authorizer::new(cache, Rules::default());
    /// let kept = auth.bearer().await?;
    /// // Still that token: the header kept can be sent again as it is.
    /// assert_eq!(auth.generation_now(), Some(kept.generation()));
    /// # Ok(()) }
    /// ```
    #[inline]
    pub fn generation_now(&self) -> Option<Generation> {
        self.inner.cache.token_now().map(|token| token.generation())
    }

    /// The header for a usable token, waiting for a refresh if none is.
    pub async fn bearer(&self) -> Result<Arc<Bearer>, Error> {
        let token = self.inner.cache.token().await?;
        self.inner.headers.get(token, C::keep)
    }

    /// What a response says about the token its request carried.
    #[inline]
    pub fn verdict(&self, status: StatusCode, headers: &HeaderMap) -> Verdict {
        self.inner.rules.verdict(status, headers)
    }

    /// What a response's trailers say about the token its request carried
    /// (see [`Rules::trailers_verdict`]: gRPC's status sent after the
    /// body). A rejection there calls for [`Authorizer::invalidate`], and
    /// no retry: the response has already reached the caller.
    #[inline]
    pub fn trailers_verdict(&self, status: StatusCode, trailers: &HeaderMap) -> Verdict {
        self.inner.rules.trailers_verdict(status, trailers)
    }

    /// Invalidates exactly the token `sent` carried; `false` if the cache
    /// had already replaced or invalidated it (a late rejection cannot
    /// evict a newer token).
    pub fn invalidate(&self, sent: &Bearer) -> bool {
        self.inner.cache.invalidate(sent.token())
    }

    /// After `sent` was rejected: invalidates its token and returns the
    /// header to retry with — never the rejected token. If the cache still
    /// hands out that token (the invalidation could not be confirmed: the
    /// token is another cache's, or the new token has the same secret),
    /// `None`: do not retry, hand the rejection to the caller.
    pub async fn after_rejection(&self, sent: &Bearer) -> Result<Option<Arc<Bearer>>, Error> {
        self.invalidate(sent);
        let next = self.bearer().await?;
        let same = next.generation() == sent.generation() || next.token().same_secret(sent.token());
        Ok((!same).then_some(next))
    }
}

impl<C> fmt::Debug for Authorizer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorizer")
            .field("rules", &self.inner.rules)
            .field("headers", &self.inner.headers)
            .finish_non_exhaustive()
    }
}
