//! A strict resource server for the request-path integrations: it knows
//! the tokens it issued and accepts only those unexpired and not revoked,
//! on a clock the test moves ([`freshen_cache::ManualClock`]) and the
//! client's cache reads too — so "expired" means the same instant on both
//! sides, rotations take no real time, and nothing flakes.
//!
//! [`Registry`] is the server's state: it issues tokens (its
//! [`RegistrySource`] is the token endpoint, in process), revokes them,
//! checks `Authorization` headers, counts what it accepted and rejected,
//! and can hold the next requests until the test releases them (to revoke
//! a token while they are in flight). [`ResourceServer`] serves it over
//! HTTP/1.1 (hyper) on `127.0.0.1:0`: 200 `ok` for a good token, 401 with
//! `WWW-Authenticate: Bearer error="invalid_token"` otherwise. Any other
//! server (tonic's) calls [`Registry::admit`] itself.
//!
//! [`ManualTokio`] is a freshen runtime that spawns and sleeps on tokio but
//! reads the same manual clock.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use freshen_cache::{BoxTask, Clock, ManualClock, Runtime};
use freshen_core::{Error, Fetched, Instant, TokenSource};
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

mod script;

pub use script::{Answer, Script};

/// Why the server refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization: Bearer` header.
    Missing,
    /// A token the server never issued.
    Unknown,
    /// A token past its expiry on the shared clock.
    Expired,
    /// A token the test revoked.
    Revoked,
}

struct Issued {
    expires_at: Instant,
    revoked: bool,
}

/// Requests held at the door until the test releases them.
struct Hold {
    remaining: usize,
    parked: usize,
    open: watch::Sender<bool>,
}

/// The server's state: see the module docs.
pub struct Registry {
    clock: ManualClock,
    tokens: Mutex<HashMap<String, Issued>>,
    issued: AtomicUsize,
    accepted: AtomicUsize,
    rejected: AtomicUsize,
    hold: Mutex<Option<Hold>>,
    parked: Notify,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("issued", &self.issued())
            .field("accepted", &self.accepted())
            .field("rejected", &self.rejected())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// A registry on `clock` (share it with the client's cache).
    pub fn new(clock: ManualClock) -> Arc<Self> {
        Arc::new(Registry {
            clock,
            tokens: Mutex::new(HashMap::new()),
            issued: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
            rejected: AtomicUsize::new(0),
            hold: Mutex::new(None),
            parked: Notify::new(),
        })
    }

    /// The shared clock.
    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }

    /// Issues a new token valid for `lifetime` from now.
    pub fn issue(&self, lifetime: Duration) -> String {
        let n = self.issued.fetch_add(1, Ordering::SeqCst);
        let token = format!("rs-token-{n}-{:x}", lifetime.as_millis());
        let expires_at = self.clock.now().saturating_add(lifetime);
        lock(&self.tokens).insert(
            token.clone(),
            Issued {
                expires_at,
                revoked: false,
            },
        );
        token
    }

    /// Revokes `token`; `false` if the server never issued it.
    pub fn revoke(&self, token: &str) -> bool {
        lock(&self.tokens)
            .get_mut(token)
            .map(|t| t.revoked = true)
            .is_some()
    }

    /// The newest token issued, if any (to revoke "the current token").
    pub fn newest(&self) -> Option<String> {
        let n = self.issued.load(Ordering::SeqCst).checked_sub(1)?;
        let prefix = format!("rs-token-{n}-");
        lock(&self.tokens)
            .keys()
            .find(|k| k.starts_with(&prefix))
            .cloned()
    }

    /// How many tokens were issued (token requests served).
    pub fn issued(&self) -> usize {
        self.issued.load(Ordering::SeqCst)
    }

    /// How many requests were accepted.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// How many requests were refused.
    pub fn rejected(&self) -> usize {
        self.rejected.load(Ordering::SeqCst)
    }

    /// Checks an `Authorization` header now, and counts the answer.
    pub fn check(&self, authorization: Option<&HeaderValue>) -> Result<(), Refusal> {
        let verdict = self.judge(authorization);
        let counter = if verdict.is_ok() {
            &self.accepted
        } else {
            &self.rejected
        };
        counter.fetch_add(1, Ordering::SeqCst);
        verdict
    }

    fn judge(&self, authorization: Option<&HeaderValue>) -> Result<(), Refusal> {
        let token = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Refusal::Missing)?;
        let tokens = lock(&self.tokens);
        let issued = tokens.get(token).ok_or(Refusal::Unknown)?;
        if issued.revoked {
            Err(Refusal::Revoked)
        } else if self.clock.now() >= issued.expires_at {
            Err(Refusal::Expired)
        } else {
            Ok(())
        }
    }

    /// Holds the next `n` requests at the door (before their token is
    /// checked) until [`Registry::release`].
    pub fn hold_next(&self, n: usize) {
        let (open, _) = watch::channel(false);
        *lock(&self.hold) = Some(Hold {
            remaining: n,
            parked: 0,
            open,
        });
    }

    /// Waits until `n` requests are held.
    pub async fn until_held(&self, n: usize) {
        loop {
            let notified = self.parked.notified();
            if lock(&self.hold).as_ref().is_some_and(|h| h.parked >= n) {
                return;
            }
            notified.await;
        }
    }

    /// Lets the held requests through (their tokens are checked then).
    pub fn release(&self) {
        if let Some(hold) = lock(&self.hold).take() {
            let _ = hold.open.send(true);
        }
    }

    /// What a server does with a request's headers: waits at the door if
    /// held, then checks the token.
    pub async fn admit(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let wait = {
            let mut hold = lock(&self.hold);
            match hold.as_mut() {
                Some(h) if h.remaining > 0 => {
                    h.remaining -= 1;
                    h.parked += 1;
                    Some(h.open.subscribe())
                }
                _ => None,
            }
        };
        if let Some(mut open) = wait {
            self.parked.notify_waiters();
            let _ = open.wait_for(|open| *open).await;
        }
        self.check(headers.get(AUTHORIZATION))
    }

    /// The in-process token endpoint: each fetch issues a token valid for
    /// `lifetime`.
    pub fn source(self: &Arc<Self>, lifetime: Duration) -> RegistrySource {
        RegistrySource {
            registry: Arc::clone(self),
            lifetime,
        }
    }
}

/// A [`TokenSource`] that issues tokens from a [`Registry`].
#[derive(Debug)]
pub struct RegistrySource {
    registry: Arc<Registry>,
    lifetime: Duration,
}

impl TokenSource for RegistrySource {
    async fn fetch(&self) -> Result<Fetched, Error> {
        let token = self.registry.issue(self.lifetime);
        Ok(Fetched::new(token).with_lifetime(self.lifetime))
    }
}

/// A freshen [`Runtime`]: tokio's spawn and timer, the test's clock.
#[derive(Clone, Debug)]
pub struct ManualTokio {
    clock: ManualClock,
    handle: tokio::runtime::Handle,
}

impl ManualTokio {
    /// Spawns on the tokio runtime it is made in (from any thread, as
    /// freshen-tokio's `TokioRuntime::from_handle`); reads `clock`.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn new(clock: ManualClock) -> Self {
        ManualTokio {
            clock,
            handle: tokio::runtime::Handle::current(),
        }
    }
}

impl Clock for ManualTokio {
    fn now(&self) -> Instant {
        self.clock.now()
    }
    fn virtual_tick(&self) -> Option<Duration> {
        self.clock.virtual_tick()
    }
}

impl Runtime for ManualTokio {
    fn spawn(&self, task: BoxTask) {
        drop(self.handle.spawn(task));
    }
    fn sleep(&self, duration: Duration) -> BoxTask {
        let _context = self.handle.enter();
        Box::pin(tokio::time::sleep(duration))
    }
}

/// The registry served over HTTP/1.1 on `127.0.0.1:0`. Dropping it stops
/// accepting; connections already open end with their client.
#[derive(Debug)]
pub struct ResourceServer {
    addr: SocketAddr,
    registry: Arc<Registry>,
    task: tokio::task::JoinHandle<()>,
}

impl ResourceServer {
    /// Starts serving `registry` (call inside a tokio runtime with IO on).
    pub async fn start(registry: Arc<Registry>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::clone(&registry);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let registry = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let registry = Arc::clone(&registry);
                        async move { Ok::<_, Infallible>(answer(&registry, request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(ResourceServer {
            addr,
            registry,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The registry it serves.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }
}

impl Drop for ResourceServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(registry: &Registry, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let mut response = match registry.admit(request.headers()).await {
        Ok(()) => Response::new(Full::new(Bytes::from_static(b"ok"))),
        Err(_) => {
            let mut r = Response::new(Full::new(Bytes::new()));
            r.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        }
    };
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("text/plain"));
    response
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
