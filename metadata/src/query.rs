//! Percent-encoding for the query and path parts these sources build.

/// Appends `s` percent-encoded (RFC 3986: everything but the unreserved
/// characters), so a scope URL or a resource URI stays one component.
pub(crate) fn encode_into(out: &mut String, s: &str) {
    use std::fmt::Write;
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// `s` percent-encoded.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    encode_into(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn reserved_characters_are_encoded() {
        assert_eq!(
            encode("https://management.azure.com/"),
            "https%3A%2F%2Fmanagement.azure.com%2F"
        );
        assert_eq!(encode("a b&c=d,é"), "a%20b%26c%3Dd%2C%C3%A9");
        assert_eq!(
            encode("sa@p.iam.gserviceaccount.com"),
            "sa%40p.iam.gserviceaccount.com"
        );
    }
}
