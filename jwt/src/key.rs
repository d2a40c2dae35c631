//! The keys a JWT is signed with, read from PEM or a JWK, and the one
//! function that signs. `Debug` shows the algorithm and `kid`, never key
//! material; every key type here wipes itself on drop (rsa's
//! `RsaPrivateKey` and p256's `SigningKey` zeroize on drop, the HMAC secret
//! is held in `Zeroizing`).

use core::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use freshen_core::{ConfigError, Error, ErrorKind};
use hmac::{Hmac, Mac};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPrivateKey};
use serde::Deserialize;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

/// The smallest RSA modulus accepted, in bits (RFC 7518 §3.3 asks for 2048).
const MIN_RSA_BITS: usize = 2048;

/// The shortest HMAC secret accepted for HS256, in bytes: RFC 7518 §3.2
/// asks for a key at least as long as the hash (256 bits).
const MIN_HMAC_BYTES: usize = 32;

/// A JWS signing algorithm (RFC 7518 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// HMAC with SHA-256 (`client_secret_jwt`).
    Hs256,
}

impl Algorithm {
    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Es256 => "ES256",
            Algorithm::Hs256 => "HS256",
        }
    }
}

enum Material {
    Rsa(Box<rsa::pkcs1v15::SigningKey<Sha256>>),
    Ec(Box<p256::ecdsa::SigningKey>),
    Hmac(Zeroizing<Vec<u8>>),
}

/// A key that signs JWTs: RS256 or ES256 (`private_key_jwt`, the JWT-bearer
/// grant) or HS256 (`client_secret_jwt`), with the `kid` to put in the
/// header when the server holds several keys. `Debug` shows the algorithm
/// and `kid` only.
///
/// ```
/// use freshen_jwt::{Algorithm, SigningKey};
///
/// let key = SigningKey::hs256("a client secret of at least 32 bytes!").unwrap();
/// assert_eq!(key.algorithm(), Algorithm::Hs256);
/// assert!(!format!("{key:?}").contains("client secret"));
/// assert!(SigningKey::hs256("short").is_err());
/// ```
pub struct SigningKey {
    material: Material,
    kid: Option<String>,
}

impl SigningKey {
    /// Reads a private key from PEM: PKCS#8 (`BEGIN PRIVATE KEY`, RSA or
    /// P-256), PKCS#1 (`BEGIN RSA PRIVATE KEY`) or SEC1 (`BEGIN EC PRIVATE
    /// KEY`). The algorithm follows from the key: RS256 or ES256. The error
    /// says what was wrong, never what the key holds.
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let pem = pem.trim();
        let material = if pem.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
            rsa_material(RsaPrivateKey::from_pkcs1_pem(pem).map_err(|_| bad("PKCS#1 RSA key"))?)?
        } else if pem.starts_with("-----BEGIN EC PRIVATE KEY-----") {
            let secret = p256::SecretKey::from_sec1_pem(pem)
                .map_err(|_| bad("SEC1 EC key (only P-256 is supported)"))?;
            Material::Ec(Box::new(secret.into()))
        } else if pem.starts_with("-----BEGIN PRIVATE KEY-----") {
            if let Ok(key) = RsaPrivateKey::from_pkcs8_pem(pem) {
                rsa_material(key)?
            } else {
                let ec = p256::ecdsa::SigningKey::from_pkcs8_pem(pem)
                    .map_err(|_| bad("PKCS#8 key (RSA or P-256)"))?;
                Material::Ec(Box::new(ec))
            }
        } else {
            return Err(config(
                "the private key is not PEM (BEGIN PRIVATE KEY, BEGIN RSA PRIVATE KEY or \
                 BEGIN EC PRIVATE KEY)",
            ));
        };
        Ok(SigningKey {
            material,
            kid: None,
        })
    }

    /// Reads a private key from a JWK (RFC 7517): `kty` `RSA` (with `n`,
    /// `e`, `d`, and `p`, `q` when present), `EC` on `P-256` (with `d`), or
    /// `oct` (with `k`, for HS256). Its `kid`, if any, is kept for the
    /// header. A JWK whose `alg` names another algorithm is refused.
    pub fn from_jwk(jwk: &str) -> Result<Self, Error> {
        let jwk: Jwk = serde_json::from_str(jwk).map_err(|e| {
            config(format!(
                "the JWK is not a JSON key object (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let material = match jwk.kty.as_str() {
            "RSA" => {
                let int = |name: &str, v: &Option<String>| -> Result<BigUint, Error> {
                    let v = v
                        .as_deref()
                        .ok_or_else(|| config(format!("the RSA JWK has no {name:?}")))?;
                    let bytes =
                        Zeroizing::new(Base64UrlUnpadded::decode_vec(v).map_err(|_| {
                            config(format!("the RSA JWK's {name:?} is not base64url"))
                        })?);
                    Ok(BigUint::from_bytes_be(&bytes))
                };
                let mut primes = Vec::new();
                if jwk.p.is_some() && jwk.q.is_some() {
                    primes.push(int("p", &jwk.p)?);
                    primes.push(int("q", &jwk.q)?);
                }
                let key = RsaPrivateKey::from_components(
                    int("n", &jwk.n)?,
                    int("e", &jwk.e)?,
                    int("d", &jwk.d)?,
                    primes,
                )
                .map_err(|_| bad("RSA JWK"))?;
                rsa_material(key)?
            }
            "EC" => {
                if jwk.crv.as_deref() != Some("P-256") {
                    return Err(config(
                        "the EC JWK is not on P-256 (crv), the one curve supported",
                    ));
                }
                let d = jwk
                    .d
                    .as_deref()
                    .ok_or_else(|| config("the EC JWK has no \"d\": a public key cannot sign"))?;
                let d = Zeroizing::new(
                    Base64UrlUnpadded::decode_vec(d)
                        .map_err(|_| config("the EC JWK's \"d\" is not base64url"))?,
                );
                let key = p256::ecdsa::SigningKey::from_slice(&d).map_err(|_| bad("P-256 JWK"))?;
                Material::Ec(Box::new(key))
            }
            "oct" => {
                let k = jwk
                    .k
                    .as_deref()
                    .ok_or_else(|| config("the oct JWK has no \"k\""))?;
                let k = Zeroizing::new(
                    Base64UrlUnpadded::decode_vec(k)
                        .map_err(|_| config("the oct JWK's \"k\" is not base64url"))?,
                );
                hmac_material(k)?
            }
            other => {
                return Err(config(format!(
                    "JWK kty {other:?} is not supported (RSA, EC on P-256, oct)"
                )));
            }
        };
        let key = SigningKey {
            material,
            kid: jwk.kid.clone(),
        };
        if let Some(alg) = jwk.alg.as_deref() {
            if alg != key.algorithm().as_str() {
                return Err(config(format!(
                    "the JWK's alg {alg:?} does not match its key ({})",
                    key.algorithm().as_str()
                )));
            }
        }
        Ok(key)
    }

    /// An HS256 key over a client secret (`client_secret_jwt`): at least 32
    /// bytes, as RFC 7518 §3.2 asks.
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self, Error> {
        Ok(SigningKey {
            material: hmac_material(Zeroizing::new(secret.as_ref().to_vec()))?,
            kid: None,
        })
    }

    /// Sets the `kid` header (the key's id at the server), replacing one a
    /// JWK carried.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The `kid` put in the header, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match self.material {
            Material::Rsa(_) => Algorithm::Rs256,
            Material::Ec(_) => Algorithm::Es256,
            Material::Hmac(_) => Algorithm::Hs256,
        }
    }

    /// The signature of `message` (the JWS signing input), as the JWS wants
    /// it: PKCS#1 v1.5 bytes, ECDSA's fixed `r‖s`, or the HMAC tag.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        match &self.material {
            // Blinded (a fresh random blinding factor per signature).
            Material::Rsa(key) => Ok(key.sign_with_rng(&mut rand_core::OsRng, message).to_vec()),
            Material::Ec(key) => {
                let signature: p256::ecdsa::Signature = key.sign(message);
                Ok(signature.to_bytes().to_vec())
            }
            Material::Hmac(secret) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(secret)
                    .map_err(|_| config("the HMAC key cannot be used"))?;
                mac.update(message);
                Ok(mac.finalize().into_bytes().to_vec())
            }
        }
    }
}

fn rsa_material(key: RsaPrivateKey) -> Result<Material, Error> {
    key.validate()
        .map_err(|_| bad("RSA key (it fails its consistency checks)"))?;
    let bits = key.size() * 8;
    if bits < MIN_RSA_BITS {
        return Err(config(format!(
            "the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required (RFC 7518 §3.3)"
        )));
    }
    debug_assert!(key.n().bits() >= MIN_RSA_BITS);
    Ok(Material::Rsa(Box::new(rsa::pkcs1v15::SigningKey::new(key))))
}

fn hmac_material(secret: Zeroizing<Vec<u8>>) -> Result<Material, Error> {
    if secret.len() < MIN_HMAC_BYTES {
        return Err(config(format!(
            "the HS256 secret has {} bytes; at least {MIN_HMAC_BYTES} are required (RFC 7518 §3.2)",
            secret.len()
        )));
    }
    Ok(Material::Hmac(secret))
}

fn bad(what: &str) -> Error {
    config(format!("the private key is not a valid {what}"))
}

pub(crate) fn config(why: impl Into<String>) -> Error {
    Error::permanent(ErrorKind::Config(ConfigError::other(why)))
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm())
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The members of a JWK this crate reads. The private ones are wiped when
/// it is dropped.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    d: Option<String>,
    p: Option<String>,
    q: Option<String>,
    k: Option<String>,
}

impl Drop for Jwk {
    fn drop(&mut self) {
        for private in [&mut self.d, &mut self.p, &mut self.q, &mut self.k] {
            private.zeroize();
        }
    }
}
