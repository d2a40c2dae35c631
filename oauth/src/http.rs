//! HTTP requests and responses as plain data, so the core can build and
//! parse them without doing I/O. Transports move them over the wire.
//!
//! Every buffer here that can hold a secret is wiped when it is dropped
//! ([`Zeroizing`]): a request's body (client secret, refresh token) and
//! header values (`Authorization`), a response's body (access and refresh
//! tokens). A transport that reads a body in pieces grows it with
//! [`append_wiping`], so no copy is left behind in a freed allocation.
//! `Debug` shows no secret.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use zeroize::{Zeroize, Zeroizing};

use crate::transport::display_url;

/// The HTTP method of a token request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `POST` (every OAuth2 grant).
    Post,
    /// `GET` (metadata servers such as GCE's and Azure IMDS).
    Get,
}

/// A request to a token endpoint, ready for a transport to send.
///
/// The body and the header values are wiped on drop. `Debug` shows the URL
/// without userinfo, query or fragment, the header names, and the body's
/// length: the body and the `Authorization` header carry the client secret
/// or a refresh token.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The absolute URL.
    pub url: String,
    /// Header names and values, in order. Values are wiped on drop.
    pub headers: Vec<(String, Zeroizing<String>)>,
    /// The body (form-urlencoded for every grant), wiped on drop.
    pub body: Zeroizing<Vec<u8>>,
}

impl HttpRequest {
    /// A request with no headers and an empty body.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        HttpRequest {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Zeroizing::new(Vec::new()),
        }
    }

    /// Adds a header. The value is moved, not copied, into a buffer that
    /// is wiped on drop.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers
            .push((name.into(), Zeroizing::new(value.into())));
        self
    }

    /// Sets the body. A `Vec<u8>` is moved, not copied, into a buffer that
    /// is wiped on drop.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Zeroizing::new(body.into());
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &display_url(&self.url))
            .field("header_names", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// A response from a token endpoint, as a transport received it. The body
/// may hold an access token: it is wiped on drop, and `Debug` shows its
/// length and the header names only (headers may hold cookies).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, already capped by the transport; wiped on drop.
    pub body: Zeroizing<Vec<u8>>,
}

impl HttpResponse {
    /// A response with `status`, no headers and `body` (moved, not copied,
    /// into a buffer that is wiped on drop).
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: Zeroizing::new(body.into()),
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("header_names", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

fn find_header<'a, V: AsRef<str>>(headers: &'a [(String, V)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref())
}

/// Appends `bytes` to a body being read in pieces. When the buffer must
/// grow, its contents move to a larger allocation and the old one is wiped
/// before it is freed: `Vec`'s own growth would leave a copy of every token
/// read so far in freed memory.
pub fn append_wiping(body: &mut Zeroizing<Vec<u8>>, bytes: &[u8]) {
    let needed = body.len().saturating_add(bytes.len());
    if needed > body.capacity() {
        drop(move_to_larger(body, needed));
    }
    body.extend_from_slice(bytes);
}

/// Moves `buf` into an allocation of at least `needed` bytes (doubling, so
/// appends stay amortized) and returns the old allocation with its bytes
/// already wiped (its length kept, so a test can look).
fn move_to_larger(buf: &mut Vec<u8>, needed: usize) -> Vec<u8> {
    let capacity = needed.max(buf.capacity().saturating_mul(2)).max(256);
    let mut grown = Vec::with_capacity(capacity);
    grown.extend_from_slice(buf);
    let mut old = core::mem::replace(buf, grown);
    old.as_mut_slice().zeroize();
    old
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::vec;

    #[test]
    fn growing_a_body_wipes_the_old_allocation() {
        let mut body = Zeroizing::new(Vec::with_capacity(8));
        body.extend_from_slice(b"tok-SECR");
        let old = move_to_larger(&mut body, 9);
        assert_eq!(old, vec![0u8; 8], "the old allocation still held the token");
        assert_eq!(body.as_slice(), b"tok-SECR");
        assert!(body.capacity() >= 256);
    }

    #[test]
    fn append_wiping_keeps_every_byte() {
        let mut body = Zeroizing::new(Vec::new());
        let mut want = Vec::new();
        for i in 0..2000u32 {
            let piece = format!("{i},");
            append_wiping(&mut body, piece.as_bytes());
            want.extend_from_slice(piece.as_bytes());
        }
        assert_eq!(body.as_slice(), want.as_slice());
    }

    #[test]
    fn debug_shows_no_secret() {
        let request = HttpRequest::new(Method::Post, "https://u:PASSWORD@idp.example/t?code=Q")
            .with_header("Authorization", "Basic SECRET-HEADER")
            .with_body(&b"client_secret=SECRET-BODY"[..]);
        let response = HttpResponse::new(200, &br#"{"access_token":"SECRET-TOKEN"}"#[..])
            .with_header("Set-Cookie", "session=SECRET-COOKIE");
        let shown = format!("{request:?} {response:?}");
        for secret in ["PASSWORD", "SECRET", "code=Q"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("Authorization") && shown.contains("idp.example"));
        assert_eq!(request.header("authorization"), Some("Basic SECRET-HEADER"));
        assert_eq!(response.header("set-cookie"), Some("session=SECRET-COOKIE"));
    }
}
