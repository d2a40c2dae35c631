//! freshen-oauth: the OAuth2 wire as data — no I/O, no clock reads, `no_std` + `alloc`
//! (only the `std` feature's [`OAuthSource`] locks a mutex and reads the system clock).
//!
//! [`TokenRequest`] (RFC 6749 client credentials and refresh token, RFC 8693
//! token exchange, the RFC 7523 JWT-bearer grant; [`ClientAuth`] per RFC
//! 6749 §2.3, and `private_key_jwt`/`client_secret_jwt` per RFC 7523 §2.2),
//! with the [`AttemptCredentials`] made for that attempt, becomes an
//! [`HttpRequest`] that a [`Transport`] or [`AsyncTransport`] sends, and the
//! [`HttpResponse`] it brings back goes through [`parse_token_response`]
//! (with the wall-clock time, if the caller has one) to a [`ParsedToken`] or
//! a [`ResponseError`]: RFC 6749 §5.2 errors, providers' own envelopes, and
//! the real-world quirks of each (`tests/vectors/`). The rules every
//! transport follows — timeouts, the body cap, plain `http` only to loopback
//! (and the cloud metadata servers),
//! redirects within one origin — are pure functions in [`transport`], which
//! the transport crates (freshen-ureq, freshen-reqwest, freshen-surf) call
//! and add only the I/O to.
//!
//! What this crate produces, freshen-core defines: a parsed token is a
//! [`freshen_core::Fetched`], a failure a [`freshen_core::Error`] whose
//! [`ErrorKind`](freshen_core::ErrorKind) holds plain values
//! ([`ErrorCode`], [`OAuthError`], [`ProviderError`], [`ConfigError`],
//! re-exported here). The core names them so the machine and every driver
//! can match on a failure without this crate; reading them off the wire
//! (and serde with it) stays here.
//!
//! # Features
//!
//! - `std` (default): [`OAuthSource`], a [`TokenRequest`] and a transport as
//!   a [`freshen_core::TokenSource`] / [`freshen_core::BlockingTokenSource`].
//!   It is the one part of this crate that is not pure data: it keeps the
//!   request behind a `std::sync::Mutex` (a rotated refresh token replaces
//!   the old one) and reads `SystemTime` to turn wall-clock expiries
//!   (`expires_on`) into lifetimes. Everything else builds with
//!   `--no-default-features` for targets without std.
//!
//!   Why here, behind a feature, and not in freshen-cache or a crate of its
//!   own: it is this crate's request and parser joined to a transport, and
//!   nothing else; every user of a real token endpoint wants it next to
//!   [`TokenRequest`], the cache crates need not know the wire exists, and
//!   the feature keeps the promise above for a `no_std` build (rustls keeps
//!   its clock behind `std` the same way).
#![no_std]
#![forbid(unsafe_code)]
// Without `std` the docs' links to `OAuthSource` have nothing to point at.
#![cfg_attr(not(feature = "std"), allow(rustdoc::broken_intra_doc_links))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod attempt;
pub mod client_auth;
pub mod grant;
pub mod http;
pub mod request;
pub mod response;
pub mod response_error;
/// The key of a token's shape: what makes two requests' tokens
/// interchangeable (keyed caches, a fleet's shared store).
pub mod shape;
/// `std` only: the one module that locks and reads the system clock.
#[cfg(feature = "std")]
pub mod source;
/// `std` only: where a refresh token survives a restart (the contract).
#[cfg(feature = "std")]
pub mod store;
pub mod transport;

mod date;
mod fields;
mod form;
mod hints;
mod json;
mod number;

pub use attempt::AttemptCredentials;
pub use client_auth::ClientAuth;
pub use freshen_core::{AuthMethod, ConfigError, ErrorCode, OAuthError, ProviderError};
pub use grant::{Grant, TokenExchange};
pub use http::{HttpRequest, HttpResponse, Method, append_wiping};
pub use request::TokenRequest;
pub use response::{ParseOptions, ParsedToken, parse_token_response};
pub use response_error::{ResponseError, classify};
pub use shape::ShapeKey;
#[cfg(feature = "std")]
pub use source::{AttemptTarget, OAuthSource, PerAttempt};
#[cfg(feature = "std")]
pub use store::{LockFuture, MemoryStore, StoreLock, StoredToken, TokenStore};
pub use transport::{AsyncTransport, Transport};
