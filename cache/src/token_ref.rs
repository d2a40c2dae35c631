//! A token handed to a caller.

use core::fmt;
use core::ops::Deref;
use std::sync::Arc;

use freshen_core::Token;

/// A token handed out by a cache. Derefs to [`Token`]; use
/// [`Token::secret`] for the `Authorization` header and pass it back to
/// `invalidate` after a 401.
///
/// From the lock-free read path it borrows the published token through an
/// `arc-swap` guard, which touches no shared reference count, so readers on
/// many threads do not contend. Hold it for a request, not for hours: call
/// the cache again for the next request.
pub struct TokenRef(Repr);

enum Repr {
    Guard(arc_swap::Guard<Arc<Token>>),
    Owned(Arc<Token>),
}

impl TokenRef {
    pub(crate) fn guard(guard: arc_swap::Guard<Arc<Token>>) -> Self {
        TokenRef(Repr::Guard(guard))
    }

    /// The token as a shared pointer (for keeping it beyond one request).
    pub fn into_arc(self) -> Arc<Token> {
        match self.0 {
            Repr::Guard(g) => arc_swap::Guard::into_inner(g),
            Repr::Owned(a) => a,
        }
    }
}

impl From<Arc<Token>> for TokenRef {
    fn from(token: Arc<Token>) -> Self {
        TokenRef(Repr::Owned(token))
    }
}

impl Deref for TokenRef {
    type Target = Token;
    #[inline]
    fn deref(&self) -> &Token {
        match &self.0 {
            Repr::Guard(g) => g,
            Repr::Owned(a) => a,
        }
    }
}

impl fmt::Debug for TokenRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
