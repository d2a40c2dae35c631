//! A token source made of a token request and a transport: the one every
//! user of a real token endpoint needs. **`std` only**: it locks a mutex and
//! reads the system clock, the only place in this crate that does either. It goes to the network on every call
//! (the [`freshen_core::TokenSource`] contract) and keeps a rotated refresh
//! token — in memory, and in a [`TokenStore`] when given one
//! ([`OAuthSource::with_store`]).

use core::fmt;
use core::future::Future;
use core::time::Duration;
use std::boxed::Box;
use std::string::String;
use std::sync::{Mutex, MutexGuard, PoisonError};

use freshen_core::{
    BlockingTokenSource, Error, ErrorCode, ErrorKind, Fetched, Secret, TokenSource,
};

use crate::attempt::AttemptCredentials;
use crate::http::{HttpRequest, HttpResponse};
use crate::request::TokenRequest;
use crate::response::{ParseOptions, ParsedToken, parse_token_response};
use crate::store::{StoreLock, StoredToken, TokenStore};
use crate::transport::{AsyncTransport, Transport};

/// A stored access token is adopted only with at least this much of its
/// life left by the wall clock (the policy's default safety margin): wall
/// clocks of two processes, or of one before and after a restart, agree
/// only roughly.
pub const ADOPT_MARGIN: Duration = Duration::from_secs(60);

/// Who the values made per attempt are for: the client id (a client
/// assertion's `iss` and `sub`) and the token endpoint (its `aud`, RFC 7523
/// §3). Taken from the request once, so a signer cannot disagree with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptTarget {
    /// The client id, if the request authenticates a client.
    pub client_id: Option<String>,
    /// The token endpoint's URL.
    pub token_url: String,
}

/// Makes the values a request carries for one attempt
/// ([`AttemptCredentials`]): a freshly signed assertion, a token read from a
/// file just now. [`OAuthSource`] calls it before every attempt, never
/// reusing what an earlier attempt got. freshen-jwt implements it; `()`
/// makes nothing, and a pair makes what each of its two makes.
pub trait PerAttempt: Send + Sync + 'static {
    /// The values for one attempt, on the caller's thread (a blocking
    /// source).
    fn make_blocking(&self, target: &AttemptTarget) -> Result<AttemptCredentials, Error>;

    /// The values for one attempt, from async code. The default calls
    /// [`PerAttempt::make_blocking`] at once: right for work that does not
    /// block (signing); a file read overrides it to run off the async
    /// worker.
    fn make(
        &self,
        target: &AttemptTarget,
    ) -> impl Future<Output = Result<AttemptCredentials, Error>> + Send {
        core::future::ready(self.make_blocking(target))
    }
}

impl PerAttempt for () {
    fn make_blocking(&self, _: &AttemptTarget) -> Result<AttemptCredentials, Error> {
        Ok(AttemptCredentials::new())
    }
}

impl<A: PerAttempt, B: PerAttempt> PerAttempt for (A, B) {
    fn make_blocking(&self, target: &AttemptTarget) -> Result<AttemptCredentials, Error> {
        Ok(self
            .0
            .make_blocking(target)?
            .merged(self.1.make_blocking(target)?))
    }

    async fn make(&self, target: &AttemptTarget) -> Result<AttemptCredentials, Error> {
        Ok(self
            .0
            .make(target)
            .await?
            .merged(self.1.make(target).await?))
    }
}

/// A [`TokenSource`] (with an [`AsyncTransport`]) or [`BlockingTokenSource`]
/// (with a blocking [`Transport`]) that sends `request` for every fetch,
/// with the values `P` makes for each attempt
/// ([`OAuthSource::with_per_attempt`]).
///
/// Wall-clock expiries (`expires_on`) are turned into lifetimes with the
/// system clock at receipt. `Debug` shows no secret.
pub struct OAuthSource<T, P = ()> {
    held: Mutex<Held>,
    transport: T,
    options: ParseOptions,
    store: Option<Box<dyn TokenStore>>,
    per_attempt: P,
    target: AttemptTarget,
}

/// What the source holds between fetches.
struct Held {
    request: TokenRequest,
    /// The store's record as this source last read or wrote it: a record
    /// that differs was written by someone else (or before a restart).
    seen: Option<StoredToken>,
    /// The access token this source last returned: its stored copy is
    /// never adopted again (the cache asks because it needs a newer one).
    handed: Option<Secret>,
}

/// What a locked store says before a request.
enum Next {
    /// Another process's token, still good: no request needed.
    Adopt(Fetched),
    /// Send a request.
    Send,
}

impl<T> OAuthSource<T> {
    /// A source sending `request` over `transport`.
    pub fn new(request: TokenRequest, transport: T) -> Self {
        let options = request.parse_options();
        let target = AttemptTarget {
            client_id: request.client().map(|c| c.client_id().into()),
            token_url: request.token_url().into(),
        };
        OAuthSource {
            held: Mutex::new(Held {
                request,
                seen: None,
                handed: None,
            }),
            transport,
            options,
            store: None,
            per_attempt: (),
            target,
        }
    }
}

impl<T, P> OAuthSource<T, P> {
    /// The same source, with `per_attempt` making the values each attempt
    /// carries: a client assertion signed for it, a subject token read from
    /// a rotating file. Nothing it makes outlives its attempt.
    pub fn with_per_attempt<Q: PerAttempt>(self, per_attempt: Q) -> OAuthSource<T, Q> {
        OAuthSource {
            held: self.held,
            transport: self.transport,
            options: self.options,
            store: self.store,
            per_attempt,
            target: self.target,
        }
    }

    /// Who the values made per attempt are for.
    pub fn attempt_target(&self) -> &AttemptTarget {
        &self.target
    }

    /// Limits for parsing responses (default: 1 MiB bodies, 10-year lifetimes).
    #[must_use]
    pub fn with_parse_options(mut self, options: ParseOptions) -> Self {
        self.options = options;
        self
    }

    /// Keeps the refresh token (and the last access token, with its
    /// wall-clock expiry) in `store`, so that it survives a restart and
    /// several processes can share one grant whose server rotates refresh
    /// tokens.
    ///
    /// Every fetch takes the store's lock, then re-reads it: a record
    /// written by someone else (another process, or this one before a
    /// restart) wins over the token held — its refresh token is presented
    /// from then on, and its access token is returned without a request
    /// when it has [`ADOPT_MARGIN`] of life left and is not the one this
    /// source returned last. Otherwise the source refreshes and writes the
    /// rotated token before it lets go of the lock. An `invalid_grant`
    /// re-reads the store once more, and retries once if the store holds a
    /// refresh token other than the one just refused.
    ///
    /// So the refresh token given to the request is a seed, used only while
    /// the store holds none. A store that cannot be written fails the fetch
    /// (transiently): the token endpoint has already rotated the token, and
    /// a restart would present the retired one. A response that arrives
    /// after the cache's attempt timeout is still read and written. Taking
    /// the lock may block the thread while another process refreshes.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use freshen_core::{BlockingTokenSource, Error};
    /// use freshen_oauth::store::MemoryStore;
    /// use freshen_oauth::{ClientAuth, HttpRequest, HttpResponse, OAuthSource, TokenRequest, Transport};
    ///
    /// /// A token endpoint that rotates the refresh token on every call.
    /// struct Rotating;
    /// impl Transport for Rotating {
    ///     fn send(&self, _: &HttpRequest) -> Result<HttpResponse, Error> {
    ///         Ok(HttpResponse::new(200, r#"{"access_token":"at-2","token_type":"Bearer",
    ///             "expires_in":3600,"refresh_token":"rt-2"}"#)
    ///             .with_header("Content-Type", "application/json"))
    ///     }
    /// }
    ///
    /// // freshen-store's `FileStore` keeps the record in a file instead.
    /// let store = Arc::new(MemoryStore::new());
    /// let request = TokenRequest::refresh(
    ///     "https://auth.example.com/token",
    ///     ClientAuth::basic("app", "secret"),
    ///     "rt-1",
    /// );
    /// let source = OAuthSource::new(request, Rotating).with_store(store.clone());
    /// assert_eq!(source.fetch()?.access_token.expose(), "at-2");
    /// let saved = store.peek().unwrap();
    /// assert_eq!(saved.refresh_token.unwrap().expose(), "rt-2");
    /// # Ok::<(), Error>(())
    /// ```
    #[must_use]
    pub fn with_store(mut self, store: impl TokenStore + 'static) -> Self {
        self.store = Some(Box::new(store));
        self
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The refresh token this source will present next (a refresh-token
    /// request only): after a rotation, the one the server sent last.
    pub fn refresh_token(&self) -> Option<Secret> {
        self.held().request.refresh_token().cloned()
    }

    /// Makes this source present `token` from now on, for a session that
    /// several holders share and another holder rotated. Returns whether
    /// the token held changed (never for a request that is not a
    /// refresh-token request, nor for an empty token).
    ///
    /// ```
    /// use freshen_oauth::{ClientAuth, OAuthSource, TokenRequest};
    ///
    /// let request = TokenRequest::refresh("https://idp.example/token", ClientAuth::new("app", "s"), "rt-1");
    /// let source = OAuthSource::new(request, ()); // any transport
    /// assert!(source.set_refresh_token("rt-2".into()));
    /// assert_eq!(source.refresh_token().unwrap().expose(), "rt-2");
    /// ```
    pub fn set_refresh_token(&self, token: Secret) -> bool {
        self.held().request.replace_refresh_token(&token)
    }

    fn held(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn http_request(&self, attempt: &AttemptCredentials) -> Result<HttpRequest, Error> {
        self.held().request.to_http_request_with(attempt)
    }

    fn parse(
        &self,
        held: &Held,
        response: &HttpResponse,
        attempt: &AttemptCredentials,
    ) -> Result<ParsedToken, Error> {
        parse_token_response(response, now_epoch_secs(), &self.options).map_err(|mut e| {
            // A server that echoes the request must not put a secret into
            // an error that every waiter, log line and event will show.
            held.request.redact_with(&mut e, attempt);
            e.into()
        })
    }

    fn accept(
        &self,
        response: &HttpResponse,
        attempt: &AttemptCredentials,
    ) -> Result<Fetched, Error> {
        let mut held = self.held();
        let parsed = self.parse(&held, response, attempt)?;
        held.request.rotate_refresh_token(&parsed);
        Ok(parsed.into_fetched())
    }

    /// Under the store's lock, before a request: adopt what someone else
    /// wrote, or say a request is needed.
    fn next(&self, lock: &mut dyn StoreLock) -> Result<Next, Error> {
        let stored = lock.load()?;
        let mut held = self.held();
        if let Some(stored) = stored.filter(|s| held.seen.as_ref() != Some(s)) {
            if let Some(refresh_token) = &stored.refresh_token {
                held.request.replace_refresh_token(refresh_token);
            }
            let adopted = adoptable(&stored, held.handed.as_ref(), now_epoch_secs());
            held.seen = Some(stored);
            if let Some(fetched) = adopted {
                held.handed = Some(fetched.access_token.clone());
                return Ok(Next::Adopt(fetched));
            }
        }
        Ok(Next::Send)
    }

    /// Under the store's lock, after a response: keep the rotated token and
    /// write it before anyone else may read the store.
    fn accept_stored(
        &self,
        lock: &mut dyn StoreLock,
        response: &HttpResponse,
        attempt: &AttemptCredentials,
    ) -> Result<Fetched, Error> {
        let now = now_epoch_secs();
        let mut held = self.held();
        let parsed = self.parse(&held, response, attempt)?;
        held.request.rotate_refresh_token(&parsed);
        let fetched = parsed.into_fetched();
        let expires_at_unix = now
            .zip(fetched.lifetime)
            .map(|(now, lifetime)| now.saturating_add(lifetime.as_secs()));
        let record = StoredToken {
            refresh_token: held.request.refresh_token().cloned(),
            access_token: Some(fetched.access_token.clone()),
            token_type: fetched.token_type.clone(),
            expires_at_unix,
        };
        lock.save(&record)?;
        held.seen = Some(record);
        held.handed = Some(fetched.access_token.clone());
        Ok(fetched)
    }

    /// After an `invalid_grant`: whether the store now holds a refresh
    /// token other than the one refused (written by a process that did not
    /// take the lock, or by hand), worth one more try.
    fn store_moved_on(&self, lock: &mut dyn StoreLock, error: &Error) -> Result<bool, Error> {
        let refused =
            matches!(error.kind(), ErrorKind::OAuth(e) if e.code == ErrorCode::InvalidGrant);
        if !refused {
            return Ok(false);
        }
        let stored = lock.load()?;
        let held = self.held();
        Ok(stored.is_some_and(|s| {
            s.refresh_token.is_some()
                && s.refresh_token.as_ref() != held.request.refresh_token()
                && held.seen.as_ref() != Some(&s)
        }))
    }
}

/// A stored access token that may be handed out instead of fetching one:
/// not the one this source handed out last, with a known wall-clock expiry
/// at least [`ADOPT_MARGIN`] away.
fn adoptable(stored: &StoredToken, handed: Option<&Secret>, now: Option<u64>) -> Option<Fetched> {
    let access_token = stored.access_token.as_ref()?;
    if access_token.is_empty() || handed == Some(access_token) {
        return None;
    }
    let left = stored.expires_at_unix?.checked_sub(now?)?;
    if left < ADOPT_MARGIN.as_secs() {
        return None;
    }
    let mut fetched = Fetched::new(access_token.clone()).with_lifetime(Duration::from_secs(left));
    fetched.token_type = stored.token_type.clone();
    Some(fetched)
}

fn now_epoch_secs() -> Option<u64> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

impl<T: Transport, P: PerAttempt> BlockingTokenSource for OAuthSource<T, P> {
    fn fetch(&self) -> Result<Fetched, Error> {
        let Some(store) = &self.store else {
            let attempt = self.per_attempt.make_blocking(&self.target)?;
            let request = self.http_request(&attempt)?;
            let response = self.transport.send(&request)?;
            return self.accept(&response, &attempt);
        };
        let mut lock = store.lock()?;
        let mut retried = false;
        loop {
            if let Next::Adopt(fetched) = self.next(&mut *lock)? {
                return Ok(fetched);
            }
            // Made for this request only: a retry after `invalid_grant`
            // gets its own.
            let attempt = self.per_attempt.make_blocking(&self.target)?;
            let request = self.http_request(&attempt)?;
            let response = self.transport.send(&request)?;
            match self.accept_stored(&mut *lock, &response, &attempt) {
                Err(e) if !retried && self.store_moved_on(&mut *lock, &e)? => retried = true,
                result => return result,
            }
        }
    }
}

impl<T: AsyncTransport, P: PerAttempt> TokenSource for OAuthSource<T, P> {
    async fn fetch(&self) -> Result<Fetched, Error> {
        let Some(store) = &self.store else {
            let attempt = self.per_attempt.make(&self.target).await?;
            let request = self.http_request(&attempt)?;
            let response = self.transport.send(request).await?;
            return self.accept(&response, &attempt);
        };
        // Never `lock()` here: the holder may be a task on this thread.
        let mut lock = store.lock_async().await?;
        let mut retried = false;
        loop {
            if let Next::Adopt(fetched) = self.next(&mut *lock)? {
                return Ok(fetched);
            }
            let attempt = self.per_attempt.make(&self.target).await?;
            let request = self.http_request(&attempt)?;
            let response = self.transport.send(request).await?;
            match self.accept_stored(&mut *lock, &response, &attempt) {
                Err(e) if !retried && self.store_moved_on(&mut *lock, &e)? => retried = true,
                result => return result,
            }
        }
    }
}

impl<T, P> fmt::Debug for OAuthSource<T, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthSource")
            .field("request", &self.held().request)
            .field("store", &self.store.is_some())
            .finish_non_exhaustive()
    }
}
