//! What the request path needs from a token cache.

use core::future::Future;
use core::ops::Deref;
use std::sync::Arc;

use freshen_cache::{Cache, Runtime, TokenRef};
use freshen_core::{Error, Token, TokenSource};

/// The token cache behind an [`Authorizer`](crate::Authorizer): freshen's
/// async [`Cache`] on any runtime (tokio, smol, your own), or anything else
/// a test wants to drive.
pub trait BearerCache: Send + Sync + 'static {
    /// A token handed out, borrowed from the cache.
    type Token<'a>: Deref<Target = Token> + Send
    where
        Self: 'a;

    /// A usable token without waiting (see [`Cache::token_now`]): `None`
    /// when there is none, with a refresh started.
    fn token_now(&self) -> Option<Self::Token<'_>>;

    /// A usable token, waiting for the refresh if there is none.
    fn token(&self) -> impl Future<Output = Result<Self::Token<'_>, Error>> + Send;

    /// Invalidates `token` after a rejection; `false` if it was already
    /// replaced or invalidated.
    fn invalidate(&self, token: &Token) -> bool;

    /// Keeps a handed-out token beyond its borrow (once per token: the
    /// [`Bearer`](crate::Bearer) holds it).
    fn keep(token: Self::Token<'_>) -> Arc<Token>;
}

impl<S: TokenSource, R: Runtime> BearerCache for Cache<S, R> {
    type Token<'a>
        = TokenRef<'a>
    where
        Self: 'a;

    #[inline]
    fn token_now(&self) -> Option<TokenRef<'_>> {
        Cache::token_now(self)
    }

    #[inline]
    fn token(&self) -> impl Future<Output = Result<TokenRef<'_>, Error>> + Send {
        Cache::token(self)
    }

    fn invalidate(&self, token: &Token) -> bool {
        Cache::invalidate(self, token)
    }

    fn keep(token: TokenRef<'_>) -> Arc<Token> {
        token.into_arc()
    }
}
