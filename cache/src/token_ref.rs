//! A token handed to a caller.

use core::fmt;
use core::ops::Deref;
use std::sync::{Arc, LazyLock};

use freshen_core::policy::Schedule;
use freshen_core::{Generation, Instant, Secret, Token};

use crate::local;

/// A token handed out by a cache. Derefs to [`Token`]; use
/// [`Token::secret`] for the `Authorization` header and pass it back to
/// `invalidate` after a 401. `Send`, so it can be held across an `.await`.
///
/// From the read path it is one of a few handles the calling thread keeps to
/// the cache's current token: taking one and dropping it on the same thread
/// touches no shared reference count, so reads on many threads do not
/// contend. Hold it for a request, not for hours: ask the cache again for
/// the next request.
pub struct TokenRef {
    /// `None` only once the handle was taken out (dropped, `into_arc`, or
    /// moved into a new `TokenRef` by a future's poll).
    token: Option<Arc<Token>>,
}

/// Never seen: `token` is `None` only while a `TokenRef` is being taken apart.
static NO_TOKEN: LazyLock<Token> = LazyLock::new(|| {
    let never = Schedule {
        sent_at: Instant::ZERO,
        expires_at: Instant::ZERO,
        usable_until: Instant::ZERO,
        refresh_at: Instant::ZERO,
        lead: core::time::Duration::ZERO,
    };
    Token::new(Secret::new(""), None, Generation(u64::MAX), never)
});

impl TokenRef {
    /// Moves the handle into a new `TokenRef`, leaving this one empty
    /// (`None` if it already was): how a ready future hands out its token
    /// without cloning it.
    pub(crate) fn take(&mut self) -> Option<TokenRef> {
        self.token.take().map(TokenRef::from)
    }

    /// The token as a shared pointer (for keeping it beyond one request).
    pub fn into_arc(mut self) -> Arc<Token> {
        match self.token.take() {
            Some(token) => token,
            None => Arc::new(NO_TOKEN.clone()),
        }
    }
}

impl Drop for TokenRef {
    /// A handle to the token this thread's spares follow goes back there.
    #[inline]
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            local::give_back(token);
        }
    }
}

impl From<Arc<Token>> for TokenRef {
    fn from(token: Arc<Token>) -> Self {
        TokenRef { token: Some(token) }
    }
}

impl Deref for TokenRef {
    type Target = Token;
    #[inline]
    fn deref(&self) -> &Token {
        match &self.token {
            Some(token) => token,
            None => &NO_TOKEN,
        }
    }
}

impl fmt::Debug for TokenRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
