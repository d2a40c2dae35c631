//! freshen-jwt: the credentials a token request carries that are made anew
//! for every attempt, as freshen-oauth's [`PerAttempt`] hook asks.
//!
//! - [`ClientAssertion`]: `private_key_jwt` (RS256, ES256) and
//!   `client_secret_jwt` (HS256) client authentication (RFC 7523 §2.2,
//!   OpenID Connect Core §9).
//! - [`JwtBearer`]: the JWT-bearer grant (RFC 7523 §2.1), as service-account
//!   keys use it.
//! - [`TokenFile`]: a token another party rotates in a file (Kubernetes
//!   projected service-account tokens: workload identity), read at every
//!   attempt, off the async worker, as a client assertion, a token
//!   exchange's subject token or a JWT-bearer assertion.
//!
//! Each is given to [`freshen_oauth::OAuthSource::with_per_attempt`]; a
//! pair `(a, b)` combines two (a signed client assertion and a subject
//! token file). Nothing made for one attempt is reused by another: each
//! assertion has its own `jti`, `iat` and `exp`, and each file read is new.
//!
//! ```
//! use freshen_jwt::{ClientAssertion, SigningKey};
//! use freshen_oauth::{ClientAuth, OAuthSource, TokenRequest};
//!
//! // A test-only key (tests/oauth-server/test-only-keys); read yours from a file.
//! let jwk = r#"{"kty":"EC","crv":"P-256","kid":"test-ec",
//!     "x":"I1t-dESTUOx51t2qH9OWuExFyMU9T-nuUaK2ZYhguWM",
//!     "y":"ZhavhKv60nTMA6Xoh5Q0GVwMfSQJ5ikfruoGW3uQ0Mg",
//!     "d":"UXmQtcqOGu0L1NiTijD_ZFXagcfpjIkJOGkfRIYCpeI"}"#;
//! let key = SigningKey::from_jwk(jwk)?;
//! assert_eq!(key.kid(), Some("test-ec"));
//! let request = TokenRequest::client_credentials(
//!     "https://auth.example.com/oauth2/token",
//!     ClientAuth::private_key_jwt("my-service"),
//! );
//! let transport = (); // freshen-ureq's or freshen-reqwest's transport
//! let source = OAuthSource::new(request, transport).with_per_attempt(ClientAssertion::new(key));
//! # Ok::<(), freshen_core::Error>(())
//! ```
//!
//! # Cryptography
//!
//! No cryptography is written here: signatures come from RustCrypto's
//! crates — `rsa` (RS256, PKCS#1 v1.5 with SHA-256), `p256`/`ecdsa`
//! (ES256, deterministic nonces per RFC 6979) and `hmac`/`sha2` (HS256) —
//! and randomness (`jti`, RSA blinding) from the operating system through
//! `getrandom`. Keys never show in `Debug` and are zeroized on drop (the
//! RSA and P-256 keys by their crates, the HMAC secret and the private
//! members of a parsed JWK here).
//!
//! **The `rsa` crate and RUSTSEC-2023-0071 (Marvin).** `rsa` 0.9's big
//! integer arithmetic is not constant-time, and the advisory has no patched
//! version. Marvin is a padding-oracle attack on RSA *decryption*, which
//! this crate never performs: it only signs. For signing, the exposure is
//! the general one of non-constant-time modular exponentiation, which `rsa`
//! mitigates with blinding; this crate always signs through
//! `sign_with_rng` with the OS RNG, so every signature uses a fresh
//! blinding factor, and an attacker would have to time signatures that a
//! client makes a few times an hour on its own schedule, not on request.
//! We judged that acceptable and list the advisory in `.cargo/audit.toml`
//! with this reason; the alternatives were worse for this project — `ring`
//! and `aws-lc-rs` carry C and assembly (against the pure-Rust rule), and
//! `rsa` 0.10 (constant-time `crypto-bigint`) is still a pre-release. Users
//! who want no RSA at all use ES256 or HS256, whose crates have no such
//! advisory. When `rsa` 0.10 is released this crate moves to it.
#![forbid(unsafe_code)]

mod assertion;
mod file;
mod jwt;
mod key;

pub use assertion::{ClientAssertion, DEFAULT_LIFETIME, JwtBearer};
pub use file::TokenFile;
pub use freshen_oauth::PerAttempt;
pub use key::{Algorithm, SigningKey};
