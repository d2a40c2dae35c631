//! What a token is *for*: the parameters that shape the token a server
//! issues, hashed into one stable key.
//!
//! Two requests with the same [`ShapeKey`] get interchangeable tokens, so a
//! cache may hand the token fetched for one to the other: a fleet sharing
//! tokens through a store (freshen-fleet keys its entries by it), or one
//! process keeping a token per request shape.
//!
//! What goes in, each length-prefixed after a versioned domain tag so no two
//! different inputs encode alike:
//!
//! - the token endpoint, exactly as configured;
//! - the client id, its authentication method and its secret (two callers
//!   of one client id with different secrets must not be served each other's
//!   token: a wrong secret fails at the endpoint, never in a cache);
//! - the grant type and the grant's token-shaping parameters: for a token
//!   exchange the subject and actor tokens (they name *whose* token it is: two
//!   users must never share a key) and the token types; for a refresh-token
//!   grant the refresh token as configured (it names the session; the key is
//!   taken once, from the request as built, since servers rotate it);
//! - the scopes, sorted and deduplicated (`"a b"` and `"b a a"` ask for the
//!   same token);
//! - the audiences and the resources, each sorted;
//! - the extra parameters, sorted by name then value.
//!
//! The key is a SHA-256 over that encoding: it reveals none of its inputs
//! (an extra parameter may hold a secret), and 256 bits make a collision
//! between two configurations out of reach.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use sha2::{Digest, Sha256};

use crate::grant::Grant;
use crate::request::TokenRequest;

/// The domain tag that starts every encoding: a change to what goes in
/// bumps it, so keys of two encodings never meet.
const DOMAIN: &[u8] = b"freshen-request-shape-v2";

/// A stable digest of a token request's token-shaping parameters: equal for
/// two requests whose tokens are interchangeable. See the module docs for
/// what goes in. Made by [`TokenRequest::shape_key`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ShapeKey([u8; 32]);

/// A SHA-256 digest is already uniform: eight of its bytes are as good a
/// hash as all 32, and a keyed cache's lookup hashes a quarter as much.
/// Equality still compares all 32.
impl core::hash::Hash for ShapeKey {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        let [a, b, c, d, e, f, g, h, ..] = self.0;
        state.write_u64(u64::from_le_bytes([a, b, c, d, e, f, g, h]));
    }
}

impl ShapeKey {
    /// The 32 bytes of the digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// This key, further shaped by `part`: what a request cannot show
    /// because it is made per attempt — the key id of a signed client
    /// assertion or JWT-bearer grant, the issuer and subject it names, the
    /// path of a token file. Requests whose credentials come from
    /// [`OAuthSource::with_per_attempt`](crate::OAuthSource::with_per_attempt)
    /// must be named this way, or two of them that differ only in what is
    /// made per attempt would share a key.
    ///
    /// ```
    /// use freshen_oauth::{ClientAuth, TokenRequest};
    ///
    /// let request = TokenRequest::jwt_bearer("https://idp.example/token");
    /// let robot = request.shape_key().naming("kid=2025-01;sub=robot@example");
    /// let other = request.shape_key().naming("kid=2025-01;sub=other@example");
    /// assert_ne!(robot, other);
    /// assert_ne!(robot, request.shape_key());
    /// ```
    #[must_use]
    pub fn naming(&self, part: &str) -> ShapeKey {
        let mut e = Encoder(Sha256::new());
        e.field(b"freshen-request-shape-v2/named");
        e.field(&self.0);
        e.field(part.as_bytes());
        ShapeKey(e.0.finalize().into())
    }

    /// The digest as 64 lowercase hex digits, for a store's key.
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(64);
        for b in self.0 {
            for nibble in [b >> 4, b & 0xf] {
                out.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
            }
        }
        out
    }
}

impl fmt::Debug for ShapeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShapeKey({})", self.to_hex())
    }
}

impl fmt::Display for ShapeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Feeds length-prefixed fields to the hash.
struct Encoder(Sha256);

impl Encoder {
    fn field(&mut self, bytes: &[u8]) {
        self.0.update((bytes.len() as u64).to_be_bytes());
        self.0.update(bytes);
    }

    fn list<'a>(&mut self, items: impl IntoIterator<Item = &'a str>) {
        let mut sorted: Vec<&str> = items.into_iter().collect();
        sorted.sort_unstable();
        sorted.dedup();
        self.0.update((sorted.len() as u64).to_be_bytes());
        for item in sorted {
            self.field(item.as_bytes());
        }
    }
}

impl TokenRequest {
    /// The [`ShapeKey`] of this request: equal for requests whose tokens are
    /// interchangeable (same endpoint, client, grant, scopes in any order,
    /// audiences, resources and extra parameters), different otherwise.
    ///
    /// ```
    /// use freshen_oauth::{ClientAuth, TokenRequest};
    ///
    /// let url = "https://idp.example/token";
    /// let a = TokenRequest::client_credentials(url, ClientAuth::new("svc", "s1")).scopes(["read", "write"]);
    /// let b = TokenRequest::client_credentials(url, ClientAuth::new("svc", "s1")).scopes(["write", "read"]);
    /// let c = TokenRequest::client_credentials(url, ClientAuth::new("svc", "s1")).scope("read");
    /// assert_eq!(a.shape_key(), b.shape_key()); // scope order does not shape a token
    /// assert_ne!(a.shape_key(), c.shape_key());
    /// assert_eq!(a.shape_key().to_hex().len(), 64);
    /// ```
    pub fn shape_key(&self) -> ShapeKey {
        let mut e = Encoder(Sha256::new());
        e.field(DOMAIN);
        e.field(self.token_url().as_bytes());
        match self.client() {
            Some(client) => {
                e.field(b"client");
                e.field(client.client_id().as_bytes());
                e.field(client.method().as_str().as_bytes());
                e.field(client.secret_str().unwrap_or("").as_bytes());
            }
            None => e.field(b"no-client"),
        }
        let grant = self.grant();
        e.field(grant.grant_type().as_bytes());
        match grant {
            // The JWT-bearer grant's assertion is made per attempt: who it
            // names is the maker's, added with [`ShapeKey::naming`].
            Grant::ClientCredentials | Grant::JwtBearer => {}
            Grant::RefreshToken { refresh_token } => e.field(refresh_token.expose().as_bytes()),
            Grant::TokenExchange(x) => {
                match x.subject_token_expose() {
                    Some(subject) => e.field(subject.as_bytes()),
                    // Read per attempt (a file): named with `naming`.
                    None => e.field(b"subject-per-attempt"),
                }
                e.field(x.subject_token_type().as_bytes());
                match x.actor_expose() {
                    Some((token, token_type)) => {
                        e.field(b"actor");
                        e.field(token.as_bytes());
                        e.field(token_type.as_bytes());
                    }
                    None => e.field(b"no-actor"),
                }
                e.field(x.requested_token_type().unwrap_or("").as_bytes());
            }
        }
        let (scopes, audiences, resources, extra) = self.shaping_lists();
        e.list(scopes.iter().map(String::as_str));
        e.list(audiences.iter().map(String::as_str));
        e.list(resources.iter().map(String::as_str));
        let mut params: Vec<(&str, &str)> = extra
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        params.sort_unstable();
        e.0.update((params.len() as u64).to_be_bytes());
        for (name, value) in params {
            e.field(name.as_bytes());
            e.field(value.as_bytes());
        }
        ShapeKey(e.0.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use alloc::format;

    use crate::{ClientAuth, TokenExchange, TokenRequest};

    const URL: &str = "https://idp.example/token";

    fn base() -> TokenRequest {
        TokenRequest::client_credentials(URL, ClientAuth::new("svc", "secret"))
    }

    #[test]
    fn every_token_shaping_parameter_changes_the_key() {
        let key = base().shape_key();
        let variants = [
            TokenRequest::client_credentials(
                "https://idp.example/other",
                ClientAuth::new("svc", "secret"),
            ),
            TokenRequest::client_credentials(URL, ClientAuth::new("svc2", "secret")),
            TokenRequest::client_credentials(URL, ClientAuth::post("svc", "secret")),
            TokenRequest::refresh(URL, ClientAuth::new("svc", "secret"), "rt"),
            base().scope("read"),
            base().audience("api"),
            base().resource("https://api.example"),
            base().param("tenant", "a"),
        ];
        for v in variants {
            assert_ne!(v.shape_key(), key, "{v:?}");
        }
        assert_ne!(
            base().param("tenant", "a").shape_key(),
            base().param("tenant", "b").shape_key()
        );
        // An audience is not a resource: the lists are kept apart.
        assert_ne!(
            base().audience("x").shape_key(),
            base().resource("x").shape_key()
        );
    }

    #[test]
    fn order_and_duplicates_do_not() {
        let a = base()
            .scopes(["b", "a"])
            .audience("y")
            .audience("x")
            .param("p", "1")
            .param("q", "2");
        let b = TokenRequest::client_credentials(URL, ClientAuth::new("svc", "secret"))
            .scopes(["a", "b", "a"])
            .audience("x")
            .audience("y")
            .param("q", "2")
            .param("p", "1");
        assert_eq!(a.shape_key(), b.shape_key());
    }

    #[test]
    fn two_subjects_of_an_exchange_never_share_a_key() {
        let ex = |subject: &str| {
            TokenRequest::token_exchange(
                URL,
                TokenExchange::new(subject, crate::grant::TOKEN_TYPE_JWT),
            )
        };
        assert_ne!(ex("alice").shape_key(), ex("bob").shape_key());
        assert_eq!(ex("alice").shape_key(), ex("alice").shape_key());
    }

    #[test]
    fn the_key_is_stable_across_releases() {
        // A changed encoding must bump the domain tag: fleets mixing two
        // versions would otherwise read each other's entries.
        assert_eq!(
            base().scope("read").shape_key().to_hex(),
            "9f3670ca02f6650ed4cbc70dbce48f46b769548e4e722c0349c193f0afaafefd"
        );
        let hex = base().shape_key().to_hex();
        assert!(
            hex.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert!(!format!("{:?}", base().shape_key()).contains("secret"));
    }
}
