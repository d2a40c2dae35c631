//! freshen-http: the rules of freshen on the request path, over `http` 1
//! types and nothing else — no tower, no client.
//!
//! Every integration (the tower layer of freshen-tower, its tonic support,
//! and any later middleware for another client) does the same few things,
//! and [`Authorizer`] is where each is decided once:
//!
//! - the `Authorization: Bearer …` header is a [`Bearer`]: a `HeaderValue`
//!   marked sensitive, built once per token (keyed by its
//!   [`Generation`](freshen_core::Generation)) and kept with it, so the
//!   fresh path formats and allocates nothing;
//! - which response means "token rejected" ([`Rules::verdict`]): a 401, a
//!   `WWW-Authenticate: Bearer error="invalid_token"`, or gRPC's
//!   `UNAUTHENTICATED`; a 403 (or gRPC's `PERMISSION_DENIED`) only where the
//!   user opts in with a predicate; and gRPC's status in a streamed
//!   response's trailers ([`Rules::trailers_verdict`]), which invalidates
//!   but cannot retry;
//! - plain `http` only to loopback unless allowed ([`Rules::check_uri`]),
//!   the same rule freshen-oauth's transports follow
//!   ([`freshen_oauth::transport::plain_http_allowed`]);
//! - after a rejection, exactly the token the request carried is
//!   invalidated, and the token for the retry is never the rejected one
//!   ([`Authorizer::after_rejection`]), even when the invalidation could not
//!   be confirmed.
//!
//! Whether a request *can* be retried (its body replayed) is the
//! integration's business: each client has its own body type.
//!
//! Why a crate of its own: the rules are the same for every client, and a
//! client's middleware crate (reqwest-middleware's, say) should not pull in
//! tower to reuse them; the `http` crate's types are what every Rust HTTP
//! client already speaks.
//!
//! ```
//! use freshen_http::{Authorizer, Rules, Verdict};
//! use http::{HeaderMap, StatusCode};
//!
//! # use freshen_core::{Error, Fetched, TokenSource};
//! # struct Source;
//! # impl TokenSource for Source {
//! #     async fn fetch(&self) -> Result<Fetched, Error> {
//! #         Ok(Fetched::new("t0k").with_lifetime(std::time::Duration::from_secs(3600)))
//! #     }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let cache = freshen_tokio::TokioCache::new(Source, freshen_tokio::TokioRuntime::current());
//! let auth = Authorizer::new(cache, Rules::default());
//! let bearer = auth.bearer().await?;
//! assert!(bearer.header().is_sensitive());
//! assert_eq!(bearer.header(), "Bearer t0k");
//! assert!(!format!("{bearer:?}").contains("t0k"));
//! // A 401 rejects the token; a 403 does not, unless opted in.
//! assert_eq!(auth.rules().verdict(StatusCode::UNAUTHORIZED, &HeaderMap::new()), Verdict::Rejected);
//! assert_eq!(auth.rules().verdict(StatusCode::FORBIDDEN, &HeaderMap::new()), Verdict::Accepted);
//! # Ok(()) }
//! ```

mod authorizer;
mod bearer;
mod cache;
mod challenge;
mod rules;

pub use authorizer::Authorizer;
pub use bearer::{Bearer, BearerHeaders};
pub use cache::BearerCache;
pub use rules::{Rules, Verdict};
