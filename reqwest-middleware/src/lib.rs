//! freshen-reqwest-middleware: freshen's token on every request of a
//! [`reqwest_middleware::ClientWithMiddleware`], retried once with a new
//! token when the server rejects it.
//!
//! [`BearerMiddleware`] is a [`reqwest_middleware::Middleware`] (the 0.4
//! line, on reqwest 0.12). Per request it checks the destination (plain
//! `http` only to loopback), takes a token (the fresh path waits on nothing
//! and formats no header: each token's sensitive header is built once and
//! shared by reference count), sends, and reads the answer:
//!
//! | response | token invalidated | retried once |
//! |---|---|---|
//! | 401, or `WWW-Authenticate: Bearer error="invalid_token"` | exactly the one the request carried | yes, with a newer token, if `Request::try_clone` can copy the request |
//! | the same, body not replayable (`Body::wrap_stream`) | yes | no: the rejection goes back to the caller |
//! | 403 | only with [`freshen_http::Rules::invalidate_on_forbidden`] | likewise |
//! | any rejection, with [`freshen_http::Rules::retry_rejected`]`(false)` | yes | no: no copy of the request is made |
//!
//! A retry never resends the rejected token, even when its invalidation
//! cannot be confirmed. Each request is retried at most once, and a burst
//! of rejections of one token causes one refresh (the cache's single
//! flight).
//!
//! The rules themselves live in freshen-http, shared with the tower layer
//! of freshen-tower; this crate adds only reqwest-middleware's plumbing.
//!
//! # Features
//!
//! - `metrics`: the counter `freshen.http.auth_retry` (no labels), one per
//!   request retried after a rejection. Off, it costs nothing.

mod middleware;

pub use middleware::BearerMiddleware;
