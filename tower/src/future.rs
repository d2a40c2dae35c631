//! The response future of a [`BearerService`](crate::BearerService) call: a
//! hand-written state machine, so the fresh path (a token at hand, a
//! response that does not reject it) boxes and allocates nothing. The
//! response's body is handed on watched ([`BearerBody`]): the token it was
//! sent with goes with it, for its trailers.

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

use crate::body::{BearerBody, Judge, watched};
use crate::error::BearerError;
use crate::replay::ReplayBody;

/// A boxed future: the slow paths only (waiting for a token, the retry).
type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The result of a call through the layer: the response with its body
/// watched.
type Answer<RB, E> = Result<Response<BearerBody<RB>>, BearerError<E>>;

/// What the retry answers: the wrapped service's response, and the token
/// its trailers are judged for (none if it was not resent).
type Retried<S, B> = Result<
    (<S as Service<Request<B>>>::Response, Option<Arc<dyn Judge>>),
    BearerError<<S as Service<Request<B>>>::Error>,
>;

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
        /// Sent: the wrapped service's future, then the verdict. `stamp`
        /// is the token sent (exactly it is invalidated after a
        /// rejection); `retry` a service and the request's copy to resend
        /// it with, if its body could be replayed.
        Sent {
            #[pin]
            future: S::Future,
            stamp: Option<Arc<Stamp<C>>>,
            retry: Option<(S, Replay<B>)>,
        },
        /// Rejected and replayable: invalidate, take a newer token, resend.
        Retry { retry: Boxed<Retried<S, B>> },
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
        // No copy at all when the rules retry nothing.
        let retry = if stamp.auth.rules().retries_rejected() {
            request
                .body_mut()
                .replay(limit)
                .map(|body| (service.clone(), Replay::of(&request, body)))
        } else {
            None
        };
        request
            .headers_mut()
            .insert(AUTHORIZATION, stamp.bearer.header().clone());
        ResponseFuture {
            state: State::Sent {
                future: service.call(request),
                stamp: Some(stamp),
                retry,
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
    type Output = Answer<RB, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            let next = match state.as_mut().project() {
                StateProj::Sent {
                    future,
                    stamp,
                    retry,
                } => {
                    let response = match ready!(future.poll(cx)) {
                        Ok(response) => response,
                        Err(error) => {
                            state.set(State::Done);
                            break Poll::Ready(Err(BearerError::Service(error)));
                        }
                    };
                    let Some(stamp) = stamp.take() else {
                        break Poll::Ready(Err(polled_after_ready()));
                    };
                    // Judged in place: the copy is moved only for a retry.
                    if accepts(&stamp, &response) {
                        state.set(State::Done);
                        // The token goes with the body, for its trailers.
                        break Poll::Ready(Ok(watched(response, Some(stamp))));
                    }
                    match rejected(stamp, retry.take(), response) {
                        Ok(response) => {
                            state.set(State::Done);
                            break Poll::Ready(Ok(watched(response, None)));
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
                    break Poll::Ready(answer.map(|(response, judge)| watched(response, judge)));
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

/// Whether `response`'s head leaves `stamp`'s token alone (see
/// [`freshen_http::Rules`]; its trailers are judged by its body).
#[inline]
fn accepts<C: BearerCache, RB>(stamp: &Stamp<C>, response: &Response<RB>) -> bool {
    stamp.auth.verdict(response.status(), response.headers()) == Verdict::Accepted
}

/// After `response` rejected `stamp`'s token: the response back to the
/// caller (the body cannot be replayed: the token is invalidated), or the
/// retry to run.
fn rejected<S, C, B, RB>(
    stamp: Arc<Stamp<C>>,
    retry_with: Option<(S, Replay<B>)>,
    response: Response<RB>,
) -> Result<Response<RB>, Boxed<Retried<S, B>>>
where
    S: Service<Request<B>, Response = Response<RB>> + Send + 'static,
    S::Future: Send,
    S::Error: Send + 'static,
    B: ReplayBody + Send + 'static,
    RB: Send + 'static,
    C: BearerCache,
{
    let Some((service, copy)) = retry_with else {
        // Not replayable: the rejection goes back, and the token is gone.
        stamp.auth.invalidate(&stamp.bearer);
        return Ok(response);
    };
    Err(Box::pin(retry(stamp, service, copy, response)))
}

/// After `response` rejected `sent`'s token: invalidates it, and resends `copy`
/// once with a newer token — or hands the rejection back if the cache
/// still holds the rejected token (it is never resent). The resent
/// request's answer comes with its token, for its trailers.
async fn retry<S, C, B, RB>(
    sent: Arc<Stamp<C>>,
    mut service: S,
    copy: Replay<B>,
    response: Response<RB>,
) -> Retried<S, B>
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
        return Ok((response, None));
    };
    drop(response);
    #[cfg(feature = "metrics")]
    metrics::counter!("freshen.http.auth_retry").increment(1);
    poll_fn(|cx| service.poll_ready(cx))
        .await
        .map_err(BearerError::Service)?;
    let request = copy.into_request(next.header().clone());
    let response = service.call(request).await.map_err(BearerError::Service)?;
    let stamp: Arc<dyn Judge> = Arc::new(Stamp {
        auth: sent.auth.clone(),
        bearer: next,
    });
    Ok((response, Some(stamp)))
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
