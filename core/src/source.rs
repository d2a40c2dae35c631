//! Where tokens come from: the contract every source keeps.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::future::Future;
use core::pin::Pin;

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
/// The one exception is a source that *is* a cache by nature and says so:
/// a metadata server (GCE's, Azure IMDS) serves its own token until a few
/// minutes before it expires. Such a source marks what it returns with
/// [`Fetched::renewed_by_source`]; the machine then accepts the same token
/// before that window and asks again once the window opens.
///
/// A source need not time itself out (the cache applies the policy's attempt
/// timeout), and should not retry (the cache backs off between attempts).
///
/// # As a trait object
///
/// `fetch` returns `impl Future`, so `dyn TokenSource` is not a type. Box
/// the source as a [`DynTokenSource`] instead, which every `TokenSource` is:
/// `Box<dyn DynTokenSource>` and `Arc<dyn DynTokenSource>` are token sources
/// again, at the cost of one allocation per fetch.
///
/// ```
/// use std::time::Duration;
/// use freshen_core::{DynTokenSource, Error, Fetched, TokenSource};
///
/// struct Minter(&'static str);
/// impl TokenSource for Minter {
///     async fn fetch(&self) -> Result<Fetched, Error> {
///         Ok(Fetched::new(self.0).with_lifetime(Duration::from_secs(3600)))
///     }
/// }
///
/// // Sources of different types, chosen at run time, behind one type.
/// let sources: Vec<Box<dyn DynTokenSource>> = vec![Box::new(Minter("a")), Box::new(Minter("b"))];
/// fn takes_a_source(_: impl TokenSource) {}
/// for source in sources {
///     takes_a_source(source);
/// }
/// ```
pub trait TokenSource: Send + Sync + 'static {
    /// Requests a new token from the network.
    fn fetch(&self) -> impl Future<Output = Result<Fetched, Error>> + Send;
}

/// The future of [`DynTokenSource::fetch_boxed`].
pub type BoxFetch<'a> = Pin<Box<dyn Future<Output = Result<Fetched, Error>> + Send + 'a>>;

/// A [`TokenSource`] that can be a trait object: its fetch returns a boxed
/// future. Every `TokenSource` is one; `Box<dyn DynTokenSource>` and
/// `Arc<dyn DynTokenSource>` are `TokenSource`s, so a cache (or a chain of
/// sources, or a cache per key) can hold sources whose type is chosen at
/// run time. Same contract as [`TokenSource`].
pub trait DynTokenSource: Send + Sync + 'static {
    /// [`TokenSource::fetch`], boxed.
    fn fetch_boxed(&self) -> BoxFetch<'_>;
}

impl<S: TokenSource> DynTokenSource for S {
    fn fetch_boxed(&self) -> BoxFetch<'_> {
        Box::pin(self.fetch())
    }
}

impl TokenSource for Box<dyn DynTokenSource> {
    fn fetch(&self) -> impl Future<Output = Result<Fetched, Error>> + Send {
        (**self).fetch_boxed()
    }
}

impl TokenSource for Arc<dyn DynTokenSource> {
    fn fetch(&self) -> impl Future<Output = Result<Fetched, Error>> + Send {
        (**self).fetch_boxed()
    }
}

/// Fetches a new access token, blocking the calling thread.
///
/// Same contract as [`TokenSource`]: every call goes to the network. It is
/// dyn-compatible as it is: `Box<dyn BlockingTokenSource>` and
/// `Arc<dyn BlockingTokenSource>` are blocking token sources too.
pub trait BlockingTokenSource: Send + Sync + 'static {
    /// Requests a new token from the network.
    fn fetch(&self) -> Result<Fetched, Error>;
}

impl<S: BlockingTokenSource + ?Sized> BlockingTokenSource for Box<S> {
    fn fetch(&self) -> Result<Fetched, Error> {
        (**self).fetch()
    }
}

impl<S: BlockingTokenSource + ?Sized> BlockingTokenSource for Arc<S> {
    fn fetch(&self) -> Result<Fetched, Error> {
        (**self).fetch()
    }
}
