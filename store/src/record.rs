//! The record's file format: one JSON object, versioned, read and written
//! without leaving copies of the secrets in freed memory where it can help
//! it (buffers of the exact size, wiped on drop).

use freshen_core::Secret;
use freshen_oauth::StoredToken;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

/// The format version written (and the only one read).
const VERSION: u64 = 1;

/// The record as the file's bytes.
pub(crate) fn encode(token: &StoredToken) -> Zeroizing<Vec<u8>> {
    let secret_len = |s: &Option<Secret>| s.as_ref().map_or(0, Secret::len);
    // JSON escapes at most 6 bytes per byte: reserve that, so the buffer
    // is never reallocated (a reallocation would leave a copy unwiped).
    let capacity = 6
        * (secret_len(&token.refresh_token)
            + secret_len(&token.access_token)
            + token.token_type.as_ref().map_or(0, String::len))
        + 160;
    let mut out = Zeroizing::new(Vec::with_capacity(capacity));
    out.extend_from_slice(b"{\"version\":");
    out.extend_from_slice(VERSION.to_string().as_bytes());
    let mut field = |name: &str, value: Option<&str>| {
        if let Some(value) = value {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
            // Writing a &str into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, value);
        }
    };
    field(
        "refresh_token",
        token.refresh_token.as_ref().map(Secret::expose),
    );
    field(
        "access_token",
        token.access_token.as_ref().map(Secret::expose),
    );
    field("token_type", token.token_type.as_deref());
    if let Some(at) = token.expires_at_unix {
        out.extend_from_slice(b",\"expires_at\":");
        out.extend_from_slice(at.to_string().as_bytes());
    }
    out.extend_from_slice(b"}\n");
    out
}

/// The record in `bytes`, or what is wrong with it (never its contents).
pub(crate) fn decode(bytes: &[u8]) -> Result<StoredToken, String> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not a token record ({e})"))?;
    let Value::Object(mut object) = value else {
        return Err("not a token record (not a JSON object)".into());
    };
    match object.get("version").and_then(Value::as_u64) {
        Some(VERSION) => {}
        Some(other) => return Err(format!("token record version {other}, expected {VERSION}")),
        None => return Err("token record has no version".into()),
    }
    let mut token = StoredToken::default();
    token.refresh_token = take_string(&mut object, "refresh_token")?.map(Secret::new);
    token.access_token = take_string(&mut object, "access_token")?.map(Secret::new);
    token.token_type = take_string(&mut object, "token_type")?;
    token.expires_at_unix = match object.get("expires_at") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or("token record's expires_at is not a number")?,
        ),
    };
    Ok(token)
}

/// Moves the string out of the object (no copy of a secret is made).
fn take_string(object: &mut Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match object.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("token record's {name} is not a string")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn a_record_reads_back_as_written() {
        let token = StoredToken::refresh_only("rt \"quoted\" \\ é").with_access_token(
            "at-1",
            Some("Bearer".into()),
            Some(1_900_000_000),
        );
        assert_eq!(decode(&encode(&token)).unwrap(), token);
        let empty = StoredToken::default();
        assert_eq!(decode(&encode(&empty)).unwrap(), empty);
    }

    #[test]
    fn a_damaged_record_is_an_error_that_shows_no_secret() {
        let full = encode(&StoredToken::refresh_only("rt-secret-value"));
        for cut in [1, full.len() / 2, full.len() - 3] {
            let error = decode(&full[..cut]).unwrap_err();
            assert!(!error.contains("secret-value"), "{error}");
        }
        assert!(decode(b"[]").unwrap_err().contains("not a JSON object"));
        assert!(
            decode(b"{\"version\":2}")
                .unwrap_err()
                .contains("version 2")
        );
        let wrong = decode(b"{\"version\":1,\"refresh_token\":5}").unwrap_err();
        assert!(wrong.contains("refresh_token is not a string"));
    }
}
