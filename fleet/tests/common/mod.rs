//! Shared pieces of the tier's tests: a counting token source, a tier
//! builder, an event log.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use freshen_core::{BlockingTokenSource, Error, ErrorKind, Fetched, Policy, TokenSource};
use freshen_fleet::{FleetEvent, RedisStore, Sealing, SharedTier};
use freshen_oauth::{ClientAuth, TokenRequest};

/// A token endpoint stand-in: counts calls, mints `prefix-N`, may sleep or fail.
#[derive(Clone)]
pub(crate) struct Mint {
    pub(crate) prefix: &'static str,
    pub(crate) calls: Arc<AtomicUsize>,
    pub(crate) lifetime: Duration,
    pub(crate) delay: Duration,
    pub(crate) fail: Arc<std::sync::atomic::AtomicBool>,
}

impl Mint {
    pub(crate) fn new(prefix: &'static str, lifetime: Duration) -> Self {
        Mint {
            prefix,
            calls: Arc::new(AtomicUsize::new(0)),
            lifetime,
            delay: Duration::ZERO,
            fail: Arc::default(),
        }
    }
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    fn mint(&self) -> Result<Fetched, Error> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        if self.fail.load(Ordering::SeqCst) {
            return Err(Error::transient(ErrorKind::Status { status: 503 }));
        }
        Ok(Fetched::new(format!("{}-{n}", self.prefix))
            .with_lifetime(self.lifetime)
            .with_token_type("Bearer"))
    }
}

impl BlockingTokenSource for Mint {
    fn fetch(&self) -> Result<Fetched, Error> {
        self.mint()
    }
}

impl TokenSource for Mint {
    async fn fetch(&self) -> Result<Fetched, Error> {
        let me = self.clone();
        blocking::unblock(move || me.mint()).await
    }
}

/// Events a tier reported.
#[derive(Clone, Default)]
pub(crate) struct Events(pub(crate) Arc<Mutex<Vec<FleetEvent>>>);

impl Events {
    pub(crate) fn all(&self) -> Vec<FleetEvent> {
        self.0.lock().unwrap().clone()
    }
    pub(crate) fn count(&self, f: impl Fn(&FleetEvent) -> bool) -> usize {
        self.all().iter().filter(|e| f(e)).count()
    }
}

pub(crate) const KEY: [u8; 32] = [42; 32];

pub(crate) fn request() -> TokenRequest {
    TokenRequest::client_credentials("http://127.0.0.1:1/token", ClientAuth::new("svc", "s"))
        .scope("read")
}

/// A policy for short test tokens: 1 s margin, 1 s stale window.
pub(crate) fn policy() -> Policy {
    Policy::builder()
        .margin(Duration::from_secs(1))
        .min_stale_window(Duration::from_secs(1))
        .attempt_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// A node: a tier over `mint` on the store at `url`, under `namespace`.
pub(crate) fn node(
    url: &str,
    namespace: &str,
    mint: Mint,
    events: &Events,
) -> SharedTier<Mint, RedisStore> {
    node_with(url, namespace, mint, events, Sealing::key(KEY))
}

/// The store timeout of a node on a healthy Redis: wider than the default
/// (50 ms), so a store read slowed by the rest of the test suite running
/// beside it is not taken for an outage, which would make the node fetch
/// alone (correctly) and the test see another token than it expects.
pub(crate) const HEALTHY_STORE_TIMEOUT: Duration = Duration::from_millis(250);

pub(crate) fn node_with(
    url: &str,
    namespace: &str,
    mint: Mint,
    events: &Events,
    sealing: Sealing,
) -> SharedTier<Mint, RedisStore> {
    node_timed(url, namespace, mint, events, sealing, HEALTHY_STORE_TIMEOUT)
}

/// A node whose store calls give up after `timeout`: the tests that freeze
/// Redis measure what the default costs.
pub(crate) fn node_timed(
    url: &str,
    namespace: &str,
    mint: Mint,
    events: &Events,
    sealing: Sealing,
    timeout: Duration,
) -> SharedTier<Mint, RedisStore> {
    let sink = events.0.clone();
    SharedTier::builder(
        mint,
        RedisStore::open(url).unwrap().with_timeout(timeout),
        request().shape_key(),
        sealing,
    )
    .policy(policy())
    .namespace(namespace.to_owned())
    .poll_interval(Duration::from_millis(10))
    .on_event(move |e| sink.lock().unwrap().push(e.clone()))
    .build()
}

/// A raw connection for looking at what the tier stored.
pub(crate) fn raw(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

/// A namespace of its own for each test (they may share one Redis).
pub(crate) fn namespace(test: &str) -> String {
    format!("test:{}:{test}:", std::process::id())
}
