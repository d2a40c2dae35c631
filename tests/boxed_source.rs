//! Token sources as trait objects: a cache over a boxed source, over a
//! shared one, and over a chain of sources whose types are chosen at run
//! time (what chains and keyed caches are built from).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use freshen_blocking::{BlockingCache, Mode};
use freshen_core::{BlockingTokenSource, DynTokenSource, Error, ErrorKind, Fetched, TokenSource};
use freshen_smol::{SmolCache, SmolRuntime};
use freshen_tokio::{TokioCache, TokioRuntime};

const HOUR: Duration = Duration::from_secs(3600);

/// Mints `{prefix}-{n}`, counting its fetches.
struct Minter {
    prefix: &'static str,
    calls: Arc<AtomicUsize>,
}

impl Minter {
    fn new(prefix: &'static str) -> (Self, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let minter = Minter {
            prefix,
            calls: Arc::clone(&calls),
        };
        (minter, calls)
    }

    fn mint(&self) -> Fetched {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        Fetched::new(format!("{}-{n}", self.prefix)).with_lifetime(HOUR)
    }
}

impl TokenSource for Minter {
    async fn fetch(&self) -> Result<Fetched, Error> {
        Ok(self.mint())
    }
}

impl BlockingTokenSource for Minter {
    fn fetch(&self) -> Result<Fetched, Error> {
        Ok(self.mint())
    }
}

/// A source that is down.
struct Down;

impl TokenSource for Down {
    async fn fetch(&self) -> Result<Fetched, Error> {
        Err(Error::transient(ErrorKind::Status { status: 503 }))
    }
}

/// The first source that answers, of several of any type.
struct Chain(Vec<Box<dyn DynTokenSource>>);

impl TokenSource for Chain {
    async fn fetch(&self) -> Result<Fetched, Error> {
        let mut last = Error::transient(ErrorKind::Closed);
        for source in &self.0 {
            match source.fetch().await {
                Ok(fetched) => return Ok(fetched),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// A source picked at run time, as configuration would.
fn configured(name: &str) -> (Box<dyn DynTokenSource>, Arc<AtomicUsize>) {
    match name {
        "down" => (Box::new(Down), Arc::new(AtomicUsize::new(0))),
        _ => {
            let (minter, calls) = Minter::new("boxed");
            (Box::new(minter), calls)
        }
    }
}

#[tokio::test]
async fn a_tokio_cache_over_a_boxed_source() {
    let (source, calls) = configured("minter");
    let cache: TokioCache<Box<dyn DynTokenSource>> =
        TokioCache::new(source, TokioRuntime::current());
    let first = cache.token().await.unwrap();
    assert_eq!(first.secret(), "boxed-1");
    assert_eq!(cache.token().await.unwrap().secret(), "boxed-1");
    assert!(cache.invalidate(&first));
    drop(first);
    assert_eq!(cache.token().await.unwrap().secret(), "boxed-2");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one fetch per token");

    let (down, _) = configured("down");
    let cache = TokioCache::new(down, TokioRuntime::current());
    let e = cache.token().await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Status { status: 503 }), "{e}");
}

#[test]
fn a_smol_cache_over_a_shared_source() {
    let (minter, calls) = Minter::new("shared");
    let source: Arc<dyn DynTokenSource> = Arc::new(minter);
    smol::block_on(async {
        // Two caches (two scopes, say) over one source: each keeps its own token.
        let a = SmolCache::new(Arc::clone(&source), SmolRuntime::new());
        let b = SmolCache::new(Arc::clone(&source), SmolRuntime::new());
        assert_eq!(a.token().await.unwrap().secret(), "shared-1");
        assert_eq!(b.token().await.unwrap().secret(), "shared-2");
        assert_eq!(a.token().await.unwrap().secret(), "shared-1");
    });
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_cache_over_a_chain_of_boxed_sources() {
    let (minter, calls) = Minter::new("second");
    let chain = Chain(vec![Box::new(Down), Box::new(minter)]);
    let cache = TokioCache::new(chain, TokioRuntime::current());
    assert_eq!(cache.token().await.unwrap().secret(), "second-1");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn a_blocking_cache_over_a_boxed_source() {
    let (minter, calls) = Minter::new("blocking");
    let source: Box<dyn BlockingTokenSource> = Box::new(minter);
    let cache = BlockingCache::builder(source).mode(Mode::Inline).build();
    let first = cache.token().unwrap();
    assert_eq!(first.secret(), "blocking-1");
    assert!(cache.invalidate(&first));
    drop(first);
    assert_eq!(cache.token().unwrap().secret(), "blocking-2");
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let (minter, _) = Minter::new("arc");
    let shared: Arc<dyn BlockingTokenSource> = Arc::new(minter);
    let cache = BlockingCache::builder(shared).mode(Mode::Inline).build();
    assert_eq!(cache.token().unwrap().secret(), "arc-1");
}
