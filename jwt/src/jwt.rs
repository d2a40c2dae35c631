//! A compact JWS (RFC 7515 §7.1) over a claims set: the one place a JWT is
//! put together and signed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding};
use freshen_core::{Error, ErrorKind, Secret};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::key::{SigningKey, config};

/// The registered claims every assertion here carries (RFC 7523 §3), and
/// any others a caller adds.
pub(crate) struct Claims<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) subject: Option<&'a str>,
    pub(crate) audience: &'a str,
    pub(crate) lifetime: Duration,
    pub(crate) extra: &'a Map<String, Value>,
}

/// Signs `claims` with `key` now: `iat` is the wall clock's current second,
/// `exp` that plus the lifetime, and `jti` 128 random bits from the
/// operating system, so no two assertions are alike (servers refuse a
/// replayed `jti`).
pub(crate) fn sign(key: &SigningKey, claims: &Claims<'_>) -> Result<Secret, Error> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| config("the system clock is set before 1970: no iat/exp can be signed"))?
        .as_secs();
    let mut body = claims.extra.clone();
    body.insert("iss".into(), claims.issuer.into());
    if let Some(sub) = claims.subject {
        body.insert("sub".into(), sub.into());
    }
    body.insert("aud".into(), claims.audience.into());
    body.insert("jti".into(), jti()?.into());
    body.insert("iat".into(), now.into());
    body.insert(
        "exp".into(),
        now.saturating_add(claims.lifetime.as_secs().max(1)).into(),
    );

    let mut header = Map::new();
    header.insert("alg".into(), key.algorithm().as_str().into());
    header.insert("typ".into(), "JWT".into());
    if let Some(kid) = key.kid() {
        header.insert("kid".into(), kid.into());
    }
    let json = |m: Map<String, Value>| serde_json::to_vec(&Value::Object(m));
    let header = json(header).map_err(|_| config("the JWT header cannot be written"))?;
    let body = json(body).map_err(|_| config("the JWT claims cannot be written"))?;

    let mut token = Zeroizing::new(String::with_capacity(
        (header.len() + body.len()) * 4 / 3 + 700,
    ));
    token.push_str(&Base64UrlUnpadded::encode_string(&header));
    token.push('.');
    token.push_str(&Base64UrlUnpadded::encode_string(&body));
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&Base64UrlUnpadded::encode_string(&signature));
    Ok(Secret::new(std::mem::take(&mut *token)))
}

/// A unique JWT id: 16 bytes from the OS, base64url.
fn jti() -> Result<String, Error> {
    let mut bytes = [0_u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|e| {
        Error::transient(ErrorKind::Transport(format!(
            "the operating system gave no randomness for a JWT id: {e}"
        )))
    })?;
    Ok(Base64UrlUnpadded::encode_string(&bytes))
}
