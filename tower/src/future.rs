//! The response future of a [`BearerService`](crate::BearerService) call: a
//! hand-written state machine, so the fresh path (a token at hand, a
//! response that does not reject it) boxes and allocates nothing.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use freshen_core::{Error, ErrorKind};
use freshen_http::{Authorizer, Bearer, BearerCache, Verdict};
use http::header::AUTHORIZATION;
use http::{Extensions, HeaderMap, HeaderValue, Method, Request, Response, Uri, Version};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::error::BearerError;
use crate::replay::ReplayBody;

/// A boxed future: the slow paths only (waiting for a token, the retry).
type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The result of a call through the layer.
type Answer<S, B> =
    Result<<S as Service<Request<B>>>::Response, BearerError<<S as Service<Request<B>>>::Error>>;

pin_project! {
    /// The future of a [`BearerService`](crate::BearerService) call.
    ///
    /// On the fresh path it holds the wrapped service's own future and what
    /// the answer needs (the token sent, and the request's copy if it can
    /// be replayed): nothing boxed. Waiting for a token (none usable now)
    /// and the retry after a rejection are boxed; both are rare.
    #[must_use = "a future does nothing unless polled"]
    pub struct ResponseFuture<S, C, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<S, C, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, C, B>
    where
        S: Service<Request<B>>,
    {
        /// Refused before anything was sent.
        Failed { error: Option<BearerError<S::Error>> },
        /// No usable token now: the cache's refresh is awaited, with the
        /// service (polled ready) and the request held until then.
        Token {
            token: Boxed<Result<Arc<Bearer>, Error>>,
            pending: Option<Pending<S, C, B>>,
        },
        /// Sent: the wrapped service's future, then the verdict.
        Sent {
            #[pin]
            future: S::Future,
            sent: Option<Sent<S, C, B>>,
        },
        /// Rejected and replayable: invalidate, take a newer token, resend.
        Retry { retry: Boxed<Answer<S, B>> },
        /// Answered.
        Done,
    }
}

/// What a request waiting for a token holds.
struct Pending<S, C, B> {
    auth: Authorizer<C>,
    service: S,
    request: Request<B>,
    limit: usize,
}

/// The token a request is sent with, and the rules and cache that answer
/// for it: built once per token and kept by the service, so a request pays
/// one reference count for both.
pub(crate) struct Stamp<C> {
    pub(crate) auth: Authorizer<C>,
    pub(crate) bearer: Arc<Bearer>,
}

/// What the verdict on the response needs: the token sent (exactly it is
/// invalidated after a rejection), and a service and the request's copy to
/// retry with if its body could be replayed.
struct Sent<S, C, B> {
    stamp: Arc<Stamp<C>>,
    retry: Option<(S, Replay<B>)>,
}

/// A request's copy for a retry, field by field (assembled into a
/// request only if it is resent).
struct Replay<B> {
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    extensions: Extensions,
    body: B,
}

impl<B> Replay<B> {
    /// The head of `request` (its `Authorization` not yet set) with `body`.
    #[inline]
    fn of<A>(request: &Request<A>, body: B) -> Self {
        Replay {
            method: request.method().clone(),
            uri: request.uri().clone(),
            version: request.version(),
            headers: request.headers().clone(),
            extensions: request.extensions().clone(),
            body,
        }
    }

    /// The request to resend, carrying `header`.
    fn into_request(self, header: HeaderValue) -> Request<B> {
        let mut request = Request::new(self.body);
        *request.method_mut() = self.method;
        *request.uri_mut() = self.uri;
        *request.version_mut() = self.version;
        *request.headers_mut() = self.headers;
        *request.extensions_mut() = self.extensions;
        request.headers_mut().insert(AUTHORIZATION, header);
        request
    }
}

impl<S, C, B> ResponseFuture<S, C, B>
where
    S: Service<Request<B>>,
{
    /// Answers `error` at once: nothing was sent.
    pub(crate) fn failed(error: Error) -> Self {
        Self::from(State::Failed {
            error: Some(BearerError::Token(error)),
        })
    }

    /// Sends `request` through `service` (polled ready) with `stamp`'s
    /// header, keeping a clone of `service` and the request's copy for a
    /// retry if its body can be replayed. One function building the state
    /// in place: the copy is moved as little as can be.
    #[inline]
    pub(crate) fn send(
        service: &mut S,
        mut request: Request<B>,
        stamp: Arc<Stamp<C>>,
        limit: usize,
    ) -> Self
    where
        S: Clone,
        B: ReplayBody,
    {
        let retry = match request.body_mut().replay(limit) {
            Some(body) => Some((service.clone(), Replay::of(&request, body))),
            None => None,
        };
        request
            .headers_mut()
            .insert(AUTHORIZATION, stamp.bearer.header().clone());
        ResponseFuture {
            state: State::Sent {
                future: service.call(request),
                sent: Some(Sent { stamp, retry }),
            },
        }
    }

    #[inline]
    fn from(state: State<S, C, B>) -> Self {
        ResponseFuture { state }
    }
}

impl<S, C, B, RB> ResponseFuture<S, C, B>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send + 'static,
    B: ReplayBody + Send + 'static,
    RB: Send + 'static,
    C: BearerCache,
{
    /// Waits for a token, then sends `request` through `service` (polled
    /// ready).
    pub(crate) fn waiting(
        auth: Authorizer<C>,
        service: S,
        request: Request<B>,
        limit: usize,
    ) -> Self {
        let cache = auth.clone();
        Self::from(State::Token {
            token: Box::pin(async move { cache.bearer().await }),
            pending: Some(Pending {
                auth,
                service,
                request,
                limit,
            }),
        })
    }
}

impl<S, C, B, RB> Future for ResponseFuture<S, C, B>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send + 'static,
    B: ReplayBody + Send + 'static,
    RB: Send + 'static,
    C: BearerCache,
{
    type Output = Answer<S, B>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            let next = match state.as_mut().project() {
                StateProj::Sent { future, sent } => {
                    let response = match ready!(future.poll(cx)) {
                        Ok(response) => response,
                        Err(error) => {
                            state.set(State::Done);
                            break Poll::Ready(Err(BearerError::Service(error)));
                        }
                    };
                    // Judged in place: the copy is moved only for a retry.
                    let accepted = match sent {
                        Some(sent) => sent.accepts(&response),
                        None => break Poll::Ready(Err(polled_after_ready())),
                    };
                    if accepted {
                        state.set(State::Done);
                        break Poll::Ready(Ok(response));
                    }
                    let Some(sent) = sent.take() else {
                        break Poll::Ready(Err(polled_after_ready()));
                    };
                    match sent.rejected(response) {
                        Ok(response) => {
                            state.set(State::Done);
                            break Poll::Ready(Ok(response));
                        }
                        Err(retry) => State::Retry { retry },
                    }
                }
                StateProj::Token { token, pending } => {
                    let bearer = ready!(token.as_mut().poll(cx));
                    let Some(mut pending) = pending.take() else {
                        break Poll::Ready(Err(polled_after_ready()));
                    };
                    match bearer {
                        Ok(bearer) => {
                            let stamp = Arc::new(Stamp {
                                auth: pending.auth,
                                bearer,
                            });
                            // A clone of the service sends the retry (the
                            // slow path: one clone more than the fresh one).
                            Self::send(&mut pending.service, pending.request, stamp, pending.limit)
                                .state
                        }
                        Err(error) => {
                            state.set(State::Done);
                            break Poll::Ready(Err(BearerError::Token(error)));
                        }
                    }
                }
                StateProj::Retry { retry } => {
                    let answer = ready!(retry.as_mut().poll(cx));
                    state.set(State::Done);
                    break Poll::Ready(answer);
                }
                StateProj::Failed { error } => {
                    let error = error.take().unwrap_or_else(polled_after_ready);
                    state.set(State::Done);
                    break Poll::Ready(Err(error));
                }
                StateProj::Done => break Poll::Ready(Err(polled_after_ready())),
            };
            state.set(next);
        }
    }
}

impl<S, C: BearerCache, B> Sent<S, C, B> {
    /// Whether `response` leaves the token alone (see
    /// [`freshen_http::Rules`]).
    #[inline]
    fn accepts<RB>(&self, response: &Response<RB>) -> bool {
        let auth = &self.stamp.auth;
        auth.verdict(response.status(), response.headers()) == Verdict::Accepted
    }

    /// After `response` rejected the token: the response back to the
    /// caller (the body cannot be replayed: the token is invalidated), or
    /// the retry to run.
    fn rejected<RB>(self, response: Response<RB>) -> Result<Response<RB>, Boxed<Answer<S, B>>>
    where
        S: Service<Request<B>, Response = Response<RB>> + Send + 'static,
        S::Future: Send,
        S::Error: Send + 'static,
        B: ReplayBody + Send + 'static,
        RB: Send + 'static,
    {
        let Some((service, copy)) = self.retry else {
            // Not replayable: the rejection goes back, and the token is gone.
            self.stamp.auth.invalidate(&self.stamp.bearer);
            return Ok(response);
        };
        Err(Box::pin(retry(self.stamp, service, copy, response)))
    }
}

/// After `response` rejected `sent`'s token: invalidates it, and resends `copy`
/// once with a newer token — or hands the rejection back if the cache
/// still holds the rejected token (it is never resent).
async fn retry<S, C, B, RB>(
    sent: Arc<Stamp<C>>,
    mut service: S,
    copy: Replay<B>,
    response: Response<RB>,
) -> Answer<S, B>
where
    S: Service<Request<B>, Response = Response<RB>>,
    C: BearerCache,
{
    let Some(next) = sent
        .auth
        .after_rejection(&sent.bearer)
        .await
        .map_err(BearerError::Token)?
    else {
        return Ok(response);
    };
    drop(response);
    #[cfg(feature = "metrics")]
    metrics::counter!("freshen.http.auth_retry").increment(1);
    poll_fn(|cx| service.poll_ready(cx))
        .await
        .map_err(BearerError::Service)?;
    let request = copy.into_request(next.header().clone());
    service.call(request).await.map_err(BearerError::Service)
}

/// The answer to a future polled again after it answered.
fn polled_after_ready<E>() -> BearerError<E> {
    BearerError::Token(Error::transient(ErrorKind::Closed))
}

impl<S, C, B> fmt::Debug for ResponseFuture<S, C, B>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Failed { .. } => "failed",
            State::Token { .. } => "waiting for a token",
            State::Sent { .. } => "sent",
            State::Retry { .. } => "retrying",
            State::Done => "done",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
