//! freshen-tower: freshen's token on every request of a tower service
//! (hyper-util clients, tonic channels, anything tower), retried once with a
//! new token when the server rejects it.
//!
//! [`BearerLayer`] wraps any `Service<http::Request<B>>`. Per request it
//! checks the destination (plain `http` only to loopback), takes a token
//! (the fresh path waits on nothing and formats no header: each token's
//! sensitive header is built once and shared by reference count), sends,
//! and reads the answer. What a request does pay on the fresh path, if its
//! body can be replayed: a copy of its head and body and a clone of the
//! inner service, for a possible retry. The response future is a state
//! machine that boxes nothing unless the token must be awaited or the
//! request retried (`benches/benches/request_path.rs` measures it against
//! the bare service). The response's body comes back as a [`BearerBody`]:
//! the service's body, untouched, holding the token it was sent with (the
//! reference count the future held, moved: nothing allocated) to judge its
//! trailers. The answers:
//!
//! | response | token invalidated | retried once |
//! |---|---|---|
//! | 401, or `WWW-Authenticate: Bearer error="invalid_token"`, or gRPC `UNAUTHENTICATED` | exactly the one the request carried | yes, with a newer token, if the body can be replayed ([`ReplayBody`]) |
//! | the same, body not replayable (a stream still being produced) | yes | no: the rejection goes back to the caller |
//! | gRPC `UNAUTHENTICATED` in the trailers (a server stream, or a unary answer whose headers came first) | yes, when the caller reads the trailers ([`BearerBody`]) | no: the response has already been streamed to the caller, who gets the status |
//! | 403, gRPC `PERMISSION_DENIED` (headers or trailers) | only with [`freshen_http::Rules::invalidate_on_forbidden`] | likewise |
//!
//! A retry never resends the rejected token, even when its invalidation
//! cannot be confirmed. Each request is retried at most once, and a burst
//! of rejections of one token causes one refresh (the cache's single
//! flight).
//!
//! With the `tonic` feature, [`BearerInterceptor`] is a tonic
//! `Interceptor` for the synchronous path: it never blocks and needs no
//! runtime, and with no usable token it answers `UNAVAILABLE` and starts
//! a refresh. The layer over a tonic `Channel` is the async path, with the
//! retry.
//!
//! The rules themselves (which response rejects, the 403 opt-in, the plain
//! `http` refusal, the per-token header, never resending a rejected token)
//! live in freshen-http, which knows nothing of tower: any other client's
//! middleware reuses them. This crate adds only what tower and tonic need
//! — a `Layer`, a `Service`, body replay — and tonic sits here behind a
//! feature rather than in a crate of its own because its `Channel` *is* a
//! tower service: the layer is the same, and the interceptor is a few
//! lines over the same [`freshen_http::Authorizer`].
//!
//! # Features
//!
//! - `tonic`: [`BearerInterceptor`], and [`ReplayBody`] for tonic's body.
//! - `metrics`: the counter `freshen.http.auth_retry` (no labels), one per
//!   request retried after a rejection. Off, it costs nothing.

mod body;
mod error;
mod future;
mod layer;
mod replay;
#[cfg(feature = "tonic")]
mod tonic;

pub use body::BearerBody;
pub use error::BearerError;
pub use future::ResponseFuture;
pub use layer::{BearerLayer, BearerService, DEFAULT_REPLAY_LIMIT};
pub use replay::ReplayBody;
#[cfg(feature = "tonic")]
pub use tonic::BearerInterceptor;
