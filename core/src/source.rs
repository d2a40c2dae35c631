//! Where tokens come from: the contract every source keeps.

use core::future::Future;

use crate::error::Error;
use crate::token::Fetched;

/// Fetches a new access token, asynchronously.
///
/// # Contract
///
/// **A source goes to the network on every call and never caches.** freshen
/// is the one cache layer: a source that returns a cached token makes every
/// early refresh a no-op, which is how a refresh-ahead cache ends up handing
/// out tokens with seconds to live. freshen detects such a source (the same
/// token back, or one expiring no later, is reported as
/// [`crate::Event::NoProgress`] and backed off), but cannot fix it.
///
/// A source need not time itself out (the cache applies the policy's attempt
/// timeout), and should not retry (the cache backs off between attempts).
pub trait TokenSource: Send + Sync + 'static {
    /// Requests a new token from the network.
    fn fetch(&self) -> impl Future<Output = Result<Fetched, Error>> + Send;
}

/// Fetches a new access token, blocking the calling thread.
///
/// Same contract as [`TokenSource`]: every call goes to the network.
pub trait BlockingTokenSource: Send + Sync + 'static {
    /// Requests a new token from the network.
    fn fetch(&self) -> Result<Fetched, Error>;
}
