//! `application/x-www-form-urlencoded`, both ways.
//!
//! Requests: every grant's body is form-encoded (RFC 6749 Appendix B), and
//! so are the client id and secret inside HTTP Basic (§2.3.1). Responses:
//! GitHub and others answer in this encoding whatever their `Content-Type`
//! says, so the parser reads it too.

use alloc::string::String;
use alloc::vec::Vec;

use zeroize::{Zeroize, Zeroizing};

/// Bytes kept as they are; everything else is `%XX` (space is `+`). This is
/// the WHATWG `application/x-www-form-urlencoded` byte serializer.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_')
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// The length of `s` once encoded, so a body holding a secret can be
/// allocated once (no stray copies left behind by reallocation).
pub(crate) fn encoded_len(s: &str) -> usize {
    s.bytes()
        .map(|b| if is_unreserved(b) || b == b' ' { 1 } else { 3 })
        .sum()
}

/// Appends `s`, form-encoded, to `out`.
pub(crate) fn encode_into(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        if is_unreserved(b) {
            out.push(b);
        } else if b == b' ' {
            out.push(b'+');
        } else {
            out.push(b'%');
            out.extend_from_slice(hex_pair(b).as_slice());
        }
    }
}

fn hex_pair(b: u8) -> [u8; 2] {
    let hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
    let lo = HEX.get(usize::from(b & 0x0f)).copied().unwrap_or(b'0');
    [hi, lo]
}

/// Decodes one form component (`+` is a space, `%XX` a byte). Invalid
/// escapes are kept literally, as browsers do; bytes that are not UTF-8
/// make the whole component unreadable (`None`). The value may be a token:
/// it is built in one allocation of the final size (decoding only shrinks)
/// and comes back in a buffer wiped on drop; a value that is not UTF-8 is
/// wiped before it is dropped.
pub(crate) fn decode(component: &[u8]) -> Option<Zeroizing<String>> {
    let mut out = Vec::with_capacity(component.len());
    let mut rest = component;
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'+' => out.push(b' '),
            b'%' => match (
                rest.first().and_then(|&h| hex_value(h)),
                rest.get(1).and_then(|&l| hex_value(l)),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    rest = rest.get(2..).unwrap_or_default();
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
    }
    match String::from_utf8(out) {
        Ok(s) => Some(Zeroizing::new(s)),
        Err(e) => {
            e.into_bytes().zeroize();
            None
        }
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The raw `name=value` pairs of a form body, not yet decoded. Empty pieces
/// (`a=1&&b=2`) are skipped; a piece with no `=` has an empty value.
pub(crate) fn raw_pairs(body: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    body.split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| match piece.iter().position(|&b| b == b'=') {
            Some(eq) => (
                piece.get(..eq).unwrap_or_default(),
                piece.get(eq + 1..).unwrap_or_default(),
            ),
            None => (piece, &[][..]),
        })
}

/// Whether a (trimmed) body has the shape of a form: at least one
/// `name=value`, no control characters, and none of the characters that
/// start JSON or markup. HTML error pages and plain-text messages fail this
/// test. Spaces and raw UTF-8 are tolerated: some servers do not encode them.
pub(crate) fn looks_like_form(body: &[u8]) -> bool {
    body.contains(&b'=')
        && !body
            .iter()
            .any(|&b| b.is_ascii_control() || matches!(b, b'<' | b'>' | b'{' | b'}' | b'"'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn enc(s: &str) -> String {
        let mut v = Vec::new();
        encode_into(&mut v, s);
        assert_eq!(v.len(), encoded_len(s));
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn encodes_like_a_browser_form() {
        assert_eq!(enc("a b+c:d%e/é~"), "a+b%2Bc%3Ad%25e%2F%C3%A9%7E");
        assert_eq!(enc("AZaz09*-._"), "AZaz09*-._");
    }

    #[test]
    fn decodes_and_round_trips() {
        let dec = |b: &[u8]| decode(b).map(|s| String::from(s.as_str()));
        for s in ["", "a b", "x+y=z&w", "é%:", "100%"] {
            assert_eq!(dec(enc(s).as_bytes()).as_deref(), Some(s));
        }
        assert_eq!(dec(b"%zz%4").as_deref(), Some("%zz%4"));
        assert_eq!(dec(b"%ff"), None);
    }

    #[test]
    fn splits_pairs() {
        let pairs: Vec<_> = raw_pairs(b"a=1&&b&c==2").collect();
        assert_eq!(
            pairs,
            [
                (&b"a"[..], &b"1"[..]),
                (&b"b"[..], &b""[..]),
                (&b"c"[..], &b"=2"[..])
            ]
        );
    }

    #[test]
    fn tells_forms_from_other_text() {
        assert!(looks_like_form(b"access_token=x&scope=repo%2Cgist"));
        assert!(looks_like_form(
            "error_description=Ungültig: a b".as_bytes()
        ));
        assert!(!looks_like_form(
            b"<html><body>502 Bad Gateway</body></html>"
        ));
        assert!(!looks_like_form(b"Too many requests"));
        assert!(!looks_like_form(b"plain"));
    }
}
