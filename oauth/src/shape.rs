//! The key of a token: every parameter that shapes what the server issues.
//!
//! Two requests with equal [`ShapeKey`]s get interchangeable tokens, so a
//! keyed cache (freshen-cache's `KeyedCache`) or the process-wide registry
//! can serve one fetch to both; two that differ in anything the server sees
//! never share a token (a cache keyed without its scopes serving the wrong
//! token is a peer's bug, Duende.AccessTokenManagement #1396).
//!
//! The key is the whole request, normalized: the token URL, the grant and
//! its parameters, the client (with its credentials: a caller with a wrong
//! secret must not be handed a token fetched with the right one), the
//! scope, audience and resource sets (order and repeats do not matter), and
//! every extra parameter (in order). Equality compares all of them, so a
//! field added to [`TokenRequest`] later is in the key without a change
//! here. A refresh-token grant's key holds the refresh token it was built
//! with: build the request from the same seed each time (the source keeps
//! the rotated one), or key the cache yourself.
//!
//! In-process only: the hash is computed once, with this process's random
//! hasher, and is not stable across processes (a shared tier needs its own,
//! stable digest).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::hash::{BuildHasher, Hash, Hasher};
use std::collections::hash_map::RandomState;
use std::sync::OnceLock;

use crate::request::TokenRequest;

/// The token-shaping parameters of a [`TokenRequest`], normalized, with
/// their hash computed once: cheap to clone, hash and compare. `Debug`
/// shows no secret.
///
/// ```
/// use freshen_oauth::{ClientAuth, TokenRequest};
///
/// let client = || ClientAuth::basic("app", "secret");
/// let url = "https://auth.example.com/token";
/// let a = TokenRequest::client_credentials(url, client()).scope("read").scope("write");
/// let b = TokenRequest::client_credentials(url, client()).scope("write").scope("read");
/// let c = TokenRequest::client_credentials(url, client()).scope("read");
/// assert_eq!(a.shape_key(), b.shape_key()); // a scope set: order does not matter
/// assert_ne!(a.shape_key(), c.shape_key()); // another scope set, another token
/// ```
#[derive(Clone)]
pub struct ShapeKey {
    hash: u64,
    request: Arc<TokenRequest>,
}

impl TokenRequest {
    /// The key of the token this request gets: see [`ShapeKey`].
    pub fn shape_key(&self) -> ShapeKey {
        let request = self.normalized();
        let hash = hasher().hash_one(HashedParts(&request));
        ShapeKey {
            hash,
            request: Arc::new(request),
        }
    }
}

impl ShapeKey {
    /// The request, normalized (scope, audience and resource sets sorted
    /// and without repeats).
    pub fn request(&self) -> &TokenRequest {
        &self.request
    }
}

/// The process's hasher for keys: random per process, so a caller cannot
/// choose parameters that collide.
fn hasher() -> &'static RandomState {
    static HASHER: OnceLock<RandomState> = OnceLock::new();
    HASHER.get_or_init(RandomState::new)
}

/// What the hash covers: the request as it would be sent (URL, body and
/// `Authorization` header), which holds every parameter; a request that
/// cannot be built hashes its URL only (equality still tells keys apart).
struct HashedParts<'a>(&'a TokenRequest);

impl Hash for HashedParts<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let request = self.0;
        request.token_url().hash(state);
        if let Ok(http) = request.to_http_request() {
            http.body.as_slice().hash(state);
            for (name, value) in &http.headers {
                name.hash(state);
                value.as_str().hash(state);
            }
        }
    }
}

impl PartialEq for ShapeKey {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
            && (Arc::ptr_eq(&self.request, &other.request) || self.request == other.request)
    }
}

impl Eq for ShapeKey {}

impl Hash for ShapeKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl fmt::Debug for ShapeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ShapeKey").field(&self.request).finish()
    }
}

/// Sorts and removes repeats: a set, whatever order it was given in.
pub(crate) fn as_set(values: &mut Vec<alloc::string::String>) {
    values.sort_unstable();
    values.dedup();
}
