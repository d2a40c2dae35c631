//! The Authorizer over a real cache: one header per token, the rejected
//! token invalidated and never resent.
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

use freshen_core::{Error, Fetched, TokenSource};
use freshen_http::{Authorizer, Rules};
use freshen_tokio::{TokioCache, TokioRuntime};

/// `tok-0`, `tok-1`, …; or the same secret every time.
struct Counting {
    fetches: Arc<AtomicUsize>,
    same_secret: bool,
}

impl TokenSource for Counting {
    async fn fetch(&self) -> Result<Fetched, Error> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst);
        let secret = if self.same_secret {
            "same".to_owned()
        } else {
            format!("tok-{n}")
        };
        Ok(Fetched::new(secret).with_lifetime(Duration::from_secs(3600)))
    }
}

fn authorizer(same_secret: bool) -> (Authorizer<TokioCache<Counting>>, Arc<AtomicUsize>) {
    let fetches = Arc::new(AtomicUsize::new(0));
    let source = Counting {
        fetches: Arc::clone(&fetches),
        same_secret,
    };
    let cache = TokioCache::new(source, TokioRuntime::current().with_runtime_clock());
    (Authorizer::new(cache, Rules::new()), fetches)
}

#[tokio::test(start_paused = true)]
async fn one_header_per_token_shared_by_every_request() {
    let (auth, _) = authorizer(false);
    let first = auth.bearer().await.unwrap();
    let again = auth.bearer_now().unwrap().unwrap();
    assert!(
        Arc::ptr_eq(&first, &again),
        "the fresh path reuses the header built for the token"
    );
    assert!(again.header().is_sensitive());
    assert_eq!(again.header(), "Bearer tok-0");
    for shown in [
        format!("{first:?}"),
        format!("{auth:?}"),
        format!("{:?}", first.header()),
    ] {
        assert!(!shown.contains("tok-0"), "{shown}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_rejection_invalidates_that_token_and_retries_with_a_newer_one() {
    let (auth, fetches) = authorizer(false);
    let sent = auth.bearer().await.unwrap();
    let next = auth
        .after_rejection(&sent)
        .await
        .unwrap()
        .expect("a newer token");
    assert_eq!(next.header(), "Bearer tok-1");
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    // A late rejection of the old token evicts nothing and costs no fetch.
    let late = auth
        .after_rejection(&sent)
        .await
        .unwrap()
        .expect("the newer token");
    assert!(Arc::ptr_eq(&late, &next));
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn the_rejected_secret_is_never_resent() {
    // The token endpoint keeps answering with the rejected secret: the
    // cache refuses it as no progress, and the retry is called off rather
    // than resending it.
    let (auth, _) = authorizer(true);
    let sent = auth.bearer().await.unwrap();
    if let Ok(Some(next)) = auth.after_rejection(&sent).await {
        panic!("retried with {:?}", next.generation());
    }
}

#[tokio::test(start_paused = true)]
async fn a_token_of_another_cache_is_not_retried_with_itself() {
    let (auth, _) = authorizer(false);
    let (other, _) = authorizer(false);
    let foreign = other.bearer().await.unwrap();
    let _ = auth.bearer().await.unwrap();
    // Invalidation of another cache's token cannot be confirmed, and this
    // cache holds the same secret (`tok-0`): it is not resent.
    assert!(!auth.invalidate(&foreign));
    assert!(auth.after_rejection(&foreign).await.unwrap().is_none());
}
