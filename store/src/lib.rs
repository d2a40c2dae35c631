//! freshen-store: a [`TokenStore`](freshen_oauth::TokenStore) in a file, so
//! that a rotated refresh token survives a restart and several processes can
//! share one grant without spending a retired token.
//!
//! [`FileStore`] keeps one record (the refresh token, the last access token
//! and its wall-clock expiry) as a small JSON file:
//!
//! - **Atomic replace**: a save writes a temporary file beside it, `fsync`s
//!   it, renames it over the record and `fsync`s the directory. A process
//!   killed during a save leaves the old record or the new one, never a mix.
//! - **Mode 0600** on Unix: the file holds secrets, readable by its owner
//!   only. Its contents never appear in an error, `Debug` or a log.
//! - **A lock across processes**: an advisory lock (`flock`, `LockFileEx`)
//!   on a sibling `.lock` file that is never replaced, held by
//!   [`OAuthSource`](freshen_oauth::OAuthSource) across read → refresh →
//!   write, so a second process waits, re-reads the rotated token and
//!   presents that one.
//!
//! ```no_run
//! use freshen_oauth::{ClientAuth, OAuthSource, TokenRequest};
//! use freshen_store::FileStore;
//! # struct Http;
//! # impl freshen_oauth::Transport for Http {
//! #     fn send(&self, _: &freshen_oauth::HttpRequest)
//! #         -> Result<freshen_oauth::HttpResponse, freshen_core::Error> { unimplemented!() }
//! # }
//!
//! // The refresh token from the login is a seed: once the store holds one,
//! // the stored (rotated) token wins.
//! let request = TokenRequest::refresh(
//!     "https://auth.example.com/token",
//!     ClientAuth::basic("app", "secret"),
//!     "rt-from-login",
//! );
//! let source = OAuthSource::new(request, Http)
//!     .with_store(FileStore::new("/var/lib/myapp/tokens.json"));
//! ```
//!
//! Why a crate of its own: freshen-oauth does no I/O (the contract,
//! [`TokenStore`](freshen_oauth::TokenStore), lives there beside
//! `OAuthSource`, which follows it), and a file lock needs a platform crate
//! that users without a store need not build.

mod file_store;
mod record;

pub use file_store::FileStore;
