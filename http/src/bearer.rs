//! The `Authorization` header of one token, built once and kept with it.

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwapOption;

use bytes::Bytes;
use freshen_core::{Error, ErrorKind, Generation, Token};
use http::HeaderValue;
use zeroize::Zeroizing;

/// One token and its `Authorization: Bearer …` header value, marked
/// sensitive (HTTP/2's HPACK never indexes it, and its `Debug` shows no
/// secret).
///
/// Built once per token: every request with that token clones the value,
/// which bumps a reference count and copies nothing. The bytes live in a
/// buffer freshen owns and wipes when the last clone is dropped. The token
/// is kept with it, so a rejection names exactly the token that was sent.
pub struct Bearer {
    token: Arc<Token>,
    header: HeaderValue,
}

impl Bearer {
    /// The header for `token`. A secret that an HTTP header cannot carry
    /// (a control character, say) is a permanent
    /// [`ErrorKind::InvalidResponse`]: the token endpoint sent it.
    pub fn new(token: Arc<Token>) -> Result<Self, Error> {
        let secret = token.secret();
        let mut bytes = Zeroizing::new(Vec::with_capacity(7 + secret.len()));
        bytes.extend_from_slice(b"Bearer ");
        bytes.extend_from_slice(secret.as_bytes());
        let mut header =
            HeaderValue::from_maybe_shared(Bytes::from_owner(bytes)).map_err(|_| {
                Error::permanent(ErrorKind::InvalidResponse(
                    "the access token holds characters an HTTP header cannot carry".into(),
                ))
            })?;
        header.set_sensitive(true);
        Ok(Bearer { token, header })
    }

    /// The header value: `Bearer <token>`, sensitive.
    pub fn header(&self) -> &HeaderValue {
        &self.header
    }

    /// The token this header carries.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// Which token this is (see [`Generation`]).
    pub fn generation(&self) -> Generation {
        self.token.generation()
    }
}

impl fmt::Debug for Bearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bearer")
            .field("generation", &self.token.generation())
            .finish_non_exhaustive()
    }
}

/// The [`Bearer`] of the newest token seen, keyed by its generation: the
/// per-token header cache.
///
/// Reading it takes no lock and never waits (an atomic pointer load and a
/// reference count, as freshen-cache's own published token). Only a newer
/// generation replaces the one held, so a slow reader cannot put an old
/// token back.
#[derive(Default)]
pub struct BearerHeaders {
    newest: ArcSwapOption<Bearer>,
}

impl BearerHeaders {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The [`Bearer`] for `token`: the one kept if it is that token's,
    /// otherwise built (with `keep` turning the borrowed token into a kept
    /// one) and kept if it is newer.
    pub fn get<T>(&self, token: T, keep: impl FnOnce(T) -> Arc<Token>) -> Result<Arc<Bearer>, Error>
    where
        T: core::ops::Deref<Target = Token>,
    {
        let generation = token.generation();
        let held = self.newest.load();
        if let Some(bearer) = held.as_ref().filter(|b| b.generation() == generation) {
            return Ok(Arc::clone(bearer));
        }
        drop(held);
        let bearer = Arc::new(Bearer::new(keep(token))?);
        self.newest.rcu(|held| match held {
            Some(held)
                if held.generation().same_cache(generation) && held.generation() >= generation =>
            {
                Some(Arc::clone(held))
            }
            _ => Some(Arc::clone(&bearer)),
        });
        Ok(bearer)
    }
}

impl fmt::Debug for BearerHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let generation = self.newest.load().as_ref().map(|b| b.generation());
        f.debug_struct("BearerHeaders")
            .field("generation", &generation)
            .finish()
    }
}
