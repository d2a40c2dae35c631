//! OAuthSource with a TokenStore: the rotated refresh token survives a
//! restart, processes sharing a store never spend a retired token, and a
//! store that cannot be written is a clear error.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use freshen_core::{BlockingTokenSource, Error, ErrorCode, ErrorKind};
use freshen_oauth::store::MemoryStore;
use freshen_oauth::{
    ClientAuth, HttpRequest, HttpResponse, LockFuture, OAuthSource, StoreLock, StoredToken,
    TokenRequest, TokenStore, Transport,
};

/// A token endpoint that rotates refresh tokens: each accepted token is
/// retired, a retired or unknown one gets `invalid_grant`.
#[derive(Clone)]
struct Rotating(Arc<Mutex<Server>>);

struct Server {
    current: String,
    issued: u32,
    refused: u32,
}

impl Rotating {
    fn new(first: &str) -> Self {
        Rotating(Arc::new(Mutex::new(Server {
            current: first.to_owned(),
            issued: 0,
            refused: 0,
        })))
    }
    fn issued(&self) -> u32 {
        self.0.lock().unwrap().issued
    }
    fn refused(&self) -> u32 {
        self.0.lock().unwrap().refused
    }
    fn current(&self) -> String {
        self.0.lock().unwrap().current.clone()
    }
}

impl Transport for Rotating {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, Error> {
        let body = String::from_utf8(request.body.to_vec()).unwrap();
        let presented = body
            .split('&')
            .find_map(|p| p.strip_prefix("refresh_token="))
            .unwrap_or_default()
            .to_owned();
        let mut s = self.0.lock().unwrap();
        let body = if presented == s.current {
            s.issued += 1;
            s.current = format!("rt-{}", s.issued + 1);
            format!(
                r#"{{"access_token":"at-{}","token_type":"Bearer","expires_in":3600,"refresh_token":"{}"}}"#,
                s.issued, s.current
            )
        } else {
            s.refused += 1;
            return Ok(json(400, r#"{"error":"invalid_grant"}"#.to_owned()));
        };
        Ok(json(200, body))
    }
}

fn json(status: u16, body: String) -> HttpResponse {
    HttpResponse::new(status, body).with_header("Content-Type", "application/json")
}

fn request(seed: &str) -> TokenRequest {
    TokenRequest::refresh(
        "https://auth.example.com/token",
        ClientAuth::basic("app", "client-secret"),
        seed,
    )
}

#[test]
fn the_rotated_refresh_token_survives_a_restart() {
    let server = Rotating::new("rt-1");
    let store = Arc::new(MemoryStore::new());
    let first = OAuthSource::new(request("rt-1"), server.clone()).with_store(store.clone());
    assert_eq!(first.fetch().unwrap().access_token.expose(), "at-1");
    drop(first);

    // The restarted process is configured with the seed it started from,
    // which the server has retired: the store's token wins, and the stored
    // access token (an hour left) is adopted without a request.
    let second = OAuthSource::new(request("rt-1"), server.clone()).with_store(store.clone());
    let adopted = second.fetch().unwrap();
    assert_eq!(adopted.access_token.expose(), "at-1");
    assert!(adopted.lifetime.unwrap().as_secs() > 3500);
    assert_eq!(server.issued(), 1);

    // Asked again (the cache wants a newer token), it refreshes with the
    // rotated token: no invalid_grant.
    assert_eq!(second.fetch().unwrap().access_token.expose(), "at-2");
    assert_eq!(server.refused(), 0);
    let saved = store.peek().unwrap();
    assert_eq!(saved.refresh_token.unwrap().expose(), server.current());
    assert_eq!(saved.access_token.unwrap().expose(), "at-2");
}

#[test]
fn sources_sharing_a_store_never_spend_a_retired_token() {
    let server = Rotating::new("rt-1");
    let store = Arc::new(MemoryStore::new());
    let sources: Vec<_> = (0..4)
        .map(|_| OAuthSource::new(request("rt-1"), server.clone()).with_store(store.clone()))
        .collect();
    std::thread::scope(|s| {
        for source in &sources {
            s.spawn(move || {
                for _ in 0..25 {
                    source.fetch().unwrap();
                }
            });
        }
    });
    assert_eq!(server.refused(), 0);
    // Adoption saved requests: fewer refreshes than fetches.
    assert!(server.issued() < 100, "issued {}", server.issued());
    assert_eq!(
        store.peek().unwrap().refresh_token.unwrap().expose(),
        server.current()
    );
}

#[test]
fn without_a_store_a_second_source_spends_a_retired_token() {
    // The failure the store prevents, shown: the test server is strict.
    let server = Rotating::new("rt-1");
    let a = OAuthSource::new(request("rt-1"), server.clone());
    let b = OAuthSource::new(request("rt-1"), server.clone());
    a.fetch().unwrap();
    let error = b.fetch().unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::OAuth(e) if e.code == ErrorCode::InvalidGrant));
}

/// A store whose record someone changes without taking the lock (an
/// operator pasting a new token), after its first read.
struct ChangedBehindBack {
    inner: MemoryStore,
    loads: Mutex<u32>,
    then: StoredToken,
}

struct ChangedLock<'a> {
    inner: Box<dyn StoreLock + 'a>,
    outer: &'a ChangedBehindBack,
}

impl TokenStore for ChangedBehindBack {
    fn lock(&self) -> Result<Box<dyn StoreLock + '_>, Error> {
        Ok(Box::new(ChangedLock {
            inner: self.inner.lock()?,
            outer: self,
        }))
    }
    fn lock_async(&self) -> LockFuture<'_> {
        // Only blocking sources use this store.
        Box::pin(std::future::ready(self.lock()))
    }
}

impl StoreLock for ChangedLock<'_> {
    fn load(&mut self) -> Result<Option<StoredToken>, Error> {
        let mut loads = self.outer.loads.lock().unwrap();
        *loads += 1;
        if *loads == 2 {
            self.inner.save(&self.outer.then)?;
        }
        self.inner.load()
    }
    fn save(&mut self, token: &StoredToken) -> Result<(), Error> {
        self.inner.save(token)
    }
}

#[test]
fn an_invalid_grant_rereads_the_store_and_retries_once_with_a_newer_token() {
    let server = Rotating::new("rt-from-operator");
    let store = ChangedBehindBack {
        inner: MemoryStore::new(),
        loads: Mutex::new(0),
        then: StoredToken::refresh_only("rt-from-operator"),
    };
    let source = OAuthSource::new(request("rt-stale"), server.clone()).with_store(store);
    assert_eq!(source.fetch().unwrap().access_token.expose(), "at-1");
    assert_eq!(server.refused(), 1);
    assert_eq!(server.issued(), 1);
}

#[test]
fn an_invalid_grant_with_nothing_new_in_the_store_is_returned_not_retried() {
    let server = Rotating::new("rt-other");
    let source =
        OAuthSource::new(request("rt-stale"), server.clone()).with_store(MemoryStore::new());
    let error = source.fetch().unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::OAuth(e) if e.code == ErrorCode::InvalidGrant));
    assert_eq!(server.refused(), 1);
}

/// A store that cannot be written.
struct ReadOnly;
struct ReadOnlyLock;
impl TokenStore for ReadOnly {
    fn lock(&self) -> Result<Box<dyn StoreLock + '_>, Error> {
        Ok(Box::new(ReadOnlyLock))
    }
    fn lock_async(&self) -> LockFuture<'_> {
        Box::pin(std::future::ready(self.lock()))
    }
}
impl StoreLock for ReadOnlyLock {
    fn load(&mut self) -> Result<Option<StoredToken>, Error> {
        Ok(None)
    }
    fn save(&mut self, _: &StoredToken) -> Result<(), Error> {
        Err(Error::transient(ErrorKind::Store(
            "cannot write tokens.json: read-only file system".into(),
        )))
    }
}

#[test]
fn a_store_that_cannot_be_written_fails_the_fetch_and_the_rotated_token_is_kept() {
    let server = Rotating::new("rt-1");
    let source = OAuthSource::new(request("rt-1"), server.clone()).with_store(ReadOnly);
    let error = source.fetch().unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::Store(_)));
    assert!(!error.is_permanent());
    assert!(error.to_string().contains("read-only"));
    // The next try presents the rotated token held in memory.
    assert!(source.fetch().is_err());
    assert_eq!(server.refused(), 0);
    assert_eq!(server.issued(), 2);
}

#[test]
fn an_expiring_stored_access_token_is_not_adopted() {
    let server = Rotating::new("rt-1");
    let store = MemoryStore::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // 30 s left: inside the adoption margin.
    let record =
        StoredToken::refresh_only("rt-1").with_access_token("at-old", None, Some(now + 30));
    store.lock().unwrap().save(&record).unwrap();
    let source = OAuthSource::new(request("rt-seed"), server.clone()).with_store(store);
    assert_eq!(source.fetch().unwrap().access_token.expose(), "at-1");
}

#[test]
fn debug_shows_no_secret() {
    let store = Arc::new(MemoryStore::new());
    let record = StoredToken::refresh_only("rt-secret-value").with_access_token(
        "at-secret-value",
        None,
        Some(1),
    );
    store.lock().unwrap().save(&record).unwrap();
    let source =
        OAuthSource::new(request("rt-seed-secret"), Rotating::new("x")).with_store(store.clone());
    for shown in [
        format!("{record:?}"),
        format!("{store:?}"),
        format!("{source:?}"),
    ] {
        assert!(!shown.contains("secret-value"), "{shown}");
        assert!(!shown.contains("seed-secret"), "{shown}");
    }
}

/// An async transport over [`Rotating`] that answers only once `open` is
/// set: a request in flight for as long as the test likes.
#[derive(Clone)]
struct Gated {
    server: Rotating,
    open: Arc<std::sync::atomic::AtomicBool>,
}

impl freshen_oauth::transport::AsyncTransport for Gated {
    fn send(
        &self,
        request: HttpRequest,
    ) -> impl std::future::Future<Output = Result<HttpResponse, Error>> + Send {
        let this = self.clone();
        std::future::poll_fn(move |cx| {
            if this.open.load(std::sync::atomic::Ordering::SeqCst) {
                std::task::Poll::Ready(this.server.send(&request))
            } else {
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
    }
}

#[test]
fn async_sources_wait_for_the_store_without_blocking_their_thread() {
    use freshen_core::TokenSource;
    use std::future::Future;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Context, Poll, Waker};

    // Both fetches are polled on one thread, as two tasks of a
    // single-threaded runtime are. The first takes the store's lock and
    // waits for its response; the second must wait for the lock as a
    // pending future, not by blocking the thread, or the first's response
    // is never read: a deadlock. The polls run on a thread of their own so
    // that a deadlock fails the test instead of hanging it.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let server = Rotating::new("rt-1");
        let open = Arc::new(AtomicBool::new(false));
        let transport = Gated {
            server: server.clone(),
            open: Arc::clone(&open),
        };
        let store = Arc::new(MemoryStore::new());
        let a = OAuthSource::new(request("rt-1"), transport.clone()).with_store(store.clone());
        let b = OAuthSource::new(request("rt-1"), transport).with_store(store.clone());
        let mut cx = Context::from_waker(Waker::noop());
        let mut first = std::pin::pin!(a.fetch());
        let mut second = std::pin::pin!(b.fetch());
        assert!(
            first.as_mut().poll(&mut cx).is_pending(),
            "a waits for its response"
        );
        assert!(
            second.as_mut().poll(&mut cx).is_pending(),
            "b waits for the lock"
        );
        open.store(true, Ordering::SeqCst);
        let Poll::Ready(got_a) = first.as_mut().poll(&mut cx) else {
            panic!("a's response is in")
        };
        let Poll::Ready(got_b) = second.as_mut().poll(&mut cx) else {
            panic!("the lock is free: b adopts what a stored")
        };
        done.send((
            got_a.unwrap().access_token.expose().to_owned(),
            got_b.unwrap().access_token.expose().to_owned(),
            server.issued(),
            server.refused(),
        ))
        .unwrap();
    });
    let (a, b, issued, refused) = finished
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the second fetch blocked the thread the first needs: deadlock");
    assert_eq!((a.as_str(), b.as_str()), ("at-1", "at-1"));
    assert_eq!((issued, refused), (1, 0));
}
