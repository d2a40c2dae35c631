//! The error of a [`BearerService`](crate::BearerService).

use std::error::Error as StdError;
use std::fmt;

/// Why a request through the layer failed: no token could be had (or it
/// may not be sent there), or the service below failed.
#[derive(Debug)]
pub enum BearerError<E> {
    /// No token: the cache's error (the refresh failed, a backoff holds),
    /// or the token may not go to the request's destination (plain `http`
    /// to a host that is not loopback). Nothing was sent.
    Token(freshen_core::Error),
    /// The wrapped service's own error.
    Service(E),
}

impl<E: fmt::Display> fmt::Display for BearerError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BearerError::Token(e) => write!(f, "no bearer token for the request: {e}"),
            BearerError::Service(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl<E: StdError + 'static> StdError for BearerError<E> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            BearerError::Token(e) => Some(e),
            BearerError::Service(e) => e.source(),
        }
    }
}
