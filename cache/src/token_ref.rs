//! A token handed to a caller.

use core::fmt;
use core::ops::Deref;
use std::sync::Arc;

use freshen_core::Token;

use crate::read_path::ReadPath;

/// A token handed out by a cache, borrowed from it. Derefs to [`Token`]; use
/// [`Token::secret`] for the `Authorization` header and pass it back to
/// `invalidate` after a 401.
///
/// It borrows the cache handle it came from, so it cannot outlive the cache:
/// when the last handle is dropped, nothing the cache handed out through a
/// `TokenRef` is left behind (see [`TokenRef::into_arc`] for the one way to
/// keep a token longer). It is `Send`: hold it across an `.await`, and drop
/// it on any thread.
///
/// Taking one from the read path and dropping it touches no shared
/// reference count: the handle is one of the spares the cache keeps for the
/// thread, and goes back to the spares of the thread that drops it. Hold it
/// for a request, not for hours: ask the cache again for the next request.
pub struct TokenRef<'a> {
    /// `Some` for the whole life of a value handed to a caller; taken by
    /// `drop` and `into_arc`, which consume it, and by `take`, which only
    /// [`crate::TokenFuture`] calls on the value it keeps.
    token: Option<Arc<Token>>,
    home: &'a ReadPath,
}

impl<'a> TokenRef<'a> {
    pub(crate) fn new(token: Arc<Token>, home: &'a ReadPath) -> Self {
        TokenRef {
            token: Some(token),
            home,
        }
    }

    /// Moves the token out into a new `TokenRef`, leaving this one empty
    /// (its drop then does nothing): for a future that hands out the token
    /// it holds once.
    #[inline]
    pub(crate) fn take(&mut self) -> Option<TokenRef<'a>> {
        let token = self.token.take()?;
        Some(TokenRef::new(token, self.home))
    }

    /// The token as a shared pointer that does not borrow the cache: for
    /// keeping it beyond the cache handle it came from. The token then lives
    /// (secret included) until the last such pointer is dropped.
    pub fn into_arc(mut self) -> Arc<Token> {
        match self.token.take() {
            Some(token) => token,
            None => unreachable!("a TokenRef holds its token until it is consumed"),
        }
    }
}

impl Drop for TokenRef<'_> {
    /// The handle goes back among this thread's spares for the cache. Only
    /// the check is inlined: the drop glue of a value that holds a
    /// `TokenRef` (a ready `TokenFuture`) stays small enough to inline, and
    /// its check folds away once the token was taken out.
    #[inline(always)]
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            self.home.give_back(token);
        }
    }
}

impl Deref for TokenRef<'_> {
    type Target = Token;
    #[inline]
    fn deref(&self) -> &Token {
        match &self.token {
            Some(token) => token,
            None => unreachable!("a TokenRef holds its token until it is consumed"),
        }
    }
}

impl fmt::Debug for TokenRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
