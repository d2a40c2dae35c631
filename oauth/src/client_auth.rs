//! How the client proves who it is to the token endpoint (RFC 6749 §2.3).
//!
//! `client_secret_basic` is the default: RFC 6749 §2.3.1 requires servers to
//! support it, and it keeps the secret out of bodies that proxies log. Its
//! id and secret are form-urlencoded *before* base64, as §2.3.1 says; a
//! secret with `:`, `+`, `%` or non-ASCII characters would otherwise be
//! misread by a conforming server.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroizing;

use freshen_core::{AuthMethod, ConfigError, Secret};

use crate::AttemptCredentials;
use crate::form;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE_JWT_BEARER: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client's identity and how it is sent. `Debug` redacts the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientAuth {
    client_id: String,
    secret: Option<Secret>,
    method: AuthMethod,
}

impl ClientAuth {
    /// A confidential client using `client_secret_basic`, the default.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<Secret>) -> Self {
        Self::basic(client_id, client_secret)
    }

    /// `client_secret_basic`: `Authorization: Basic` with the form-encoded
    /// id and secret.
    pub fn basic(client_id: impl Into<String>, client_secret: impl Into<Secret>) -> Self {
        ClientAuth {
            client_id: client_id.into(),
            secret: Some(client_secret.into()),
            method: AuthMethod::ClientSecretBasic,
        }
    }

    /// `client_secret_post`: id and secret in the body, for servers that do
    /// not take Basic.
    pub fn post(client_id: impl Into<String>, client_secret: impl Into<Secret>) -> Self {
        ClientAuth {
            client_id: client_id.into(),
            secret: Some(client_secret.into()),
            method: AuthMethod::ClientSecretPost,
        }
    }

    /// A public client (`none`): only `client_id`, in the body.
    pub fn public(client_id: impl Into<String>) -> Self {
        ClientAuth {
            client_id: client_id.into(),
            secret: None,
            method: AuthMethod::None,
        }
    }

    /// `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): the client
    /// proves itself with a JWT signed by its private key, made anew for
    /// every attempt and passed in
    /// [`AttemptCredentials`] (freshen-jwt signs
    /// one). Also the method of a client whose assertion is a token another
    /// party issues and rotates in a file (workload identity federation).
    /// No secret is held here: the key stays with the signer.
    pub fn private_key_jwt(client_id: impl Into<String>) -> Self {
        ClientAuth {
            client_id: client_id.into(),
            secret: None,
            method: AuthMethod::PrivateKeyJwt,
        }
    }

    /// `client_secret_jwt` (OpenID Connect Core §9): a JWT signed with HMAC
    /// over the client secret, made for every attempt like
    /// [`ClientAuth::private_key_jwt`]'s; the secret stays with the signer
    /// and never crosses the wire.
    pub fn client_secret_jwt(client_id: impl Into<String>) -> Self {
        ClientAuth {
            client_id: client_id.into(),
            secret: None,
            method: AuthMethod::ClientSecretJwt,
        }
    }

    /// Whether this method sends a `client_assertion` made per attempt.
    pub fn uses_assertion(&self) -> bool {
        matches!(
            self.method,
            AuthMethod::PrivateKeyJwt | AuthMethod::ClientSecretJwt
        )
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The authentication method.
    pub fn method(&self) -> AuthMethod {
        self.method
    }

    /// Checks what a server would refuse, or misread, before anything is
    /// sent: an empty client id (always); a client id containing `:` under
    /// `client_secret_basic` (RFC 7617 §2 allows no colon in the user-id, and
    /// servers that do not form-decode the credentials, as RFC 6749 §2.3.1
    /// asks, would read another id: use `client_secret_post`); an empty
    /// secret under a method that sends one.
    ///
    /// ```
    /// use freshen_oauth::{ClientAuth, ConfigError};
    ///
    /// assert_eq!(ClientAuth::basic("", "s3cret").validate(), Err(ConfigError::EmptyClientId));
    /// assert_eq!(ClientAuth::basic("a:b", "s3cret").validate(), Err(ConfigError::ClientIdHasColon));
    /// assert!(ClientAuth::post("a:b", "s3cret").validate().is_ok());
    /// assert!(ClientAuth::public("app").validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.client_id.trim().is_empty() {
            return Err(ConfigError::EmptyClientId);
        }
        if self.method == AuthMethod::ClientSecretBasic && self.client_id.contains(':') {
            return Err(ConfigError::ClientIdHasColon);
        }
        let sends_secret = matches!(
            self.method,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
        );
        if sends_secret && self.secret.as_ref().is_none_or(Secret::is_empty) {
            return Err(ConfigError::EmptyClientSecret {
                method: self.method,
            });
        }
        Ok(())
    }

    /// The secret, for scrubbing it from what a server echoes back.
    pub(crate) fn secret_str(&self) -> Option<&str> {
        self.secret.as_ref().map(Secret::expose)
    }

    /// The `Authorization` header value for `client_secret_basic`.
    pub(crate) fn basic_header(&self) -> Option<Zeroizing<String>> {
        let secret = self.secret.as_ref()?;
        if self.method != AuthMethod::ClientSecretBasic {
            return None;
        }
        let id = self.client_id.as_str();
        let secret = secret.expose();
        let mut credentials = Zeroizing::new(Vec::with_capacity(
            form::encoded_len(id) + 1 + form::encoded_len(secret),
        ));
        form::encode_into(&mut credentials, id);
        credentials.push(b':');
        form::encode_into(&mut credentials, secret);
        let mut header = Zeroizing::new(String::with_capacity(6 + base64_len(credentials.len())));
        header.push_str("Basic ");
        base64_into(&mut header, &credentials);
        Some(header)
    }

    /// The body parameters this method adds. An assertion method takes its
    /// `client_assertion` from `attempt`, and fails without one.
    pub(crate) fn body_params<'a>(
        &'a self,
        attempt: &'a AttemptCredentials,
    ) -> Result<Vec<(&'static str, &'a str)>, ConfigError> {
        let id = ("client_id", self.client_id.as_str());
        Ok(match self.method {
            AuthMethod::ClientSecretBasic => Vec::new(),
            AuthMethod::ClientSecretPost => core::iter::once(id)
                .chain(self.secret.as_ref().map(|s| ("client_secret", s.expose())))
                .collect(),
            AuthMethod::None => alloc::vec![id],
            AuthMethod::PrivateKeyJwt | AuthMethod::ClientSecretJwt => {
                let assertion =
                    attempt
                        .client_assertion()
                        .ok_or(ConfigError::MissingPerAttempt {
                            parameter: "client_assertion",
                        })?;
                alloc::vec![
                    id,
                    ("client_assertion_type", CLIENT_ASSERTION_TYPE_JWT_BEARER),
                    ("client_assertion", assertion.expose()),
                ]
            }
        })
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAuth")
            .field("client_id", &self.client_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("method", &self.method)
            .finish()
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Standard base64 with padding (RFC 4648 §4), appended to `out`.
fn base64_into(out: &mut String, bytes: &[u8]) {
    let sym = |i: u32| char::from(BASE64.get((i & 63) as usize).copied().unwrap_or(b'A'));
    for chunk in bytes.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = b(0) << 16 | b(1) << 8 | b(2);
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        out.push(if chunk.len() > 1 { sym(n >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { sym(n) } else { '=' });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &[u8]) -> String {
        let mut out = String::new();
        base64_into(&mut out, s);
        assert_eq!(out.len(), base64_len(s.len()));
        out
    }

    #[test]
    fn base64_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(b64(plain.as_bytes()), encoded);
        }
        assert_eq!(b64(&[0xff, 0xfe, 0xfd]), "//79");
    }
}
