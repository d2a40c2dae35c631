//! Reading `WWW-Authenticate` (RFC 9110 §11.6.1, RFC 6750 §3) for the one
//! thing the request path needs: a Bearer challenge with
//! `error="invalid_token"`.

/// Whether `value` (one `WWW-Authenticate` field value, which may hold
/// several challenges) has a `Bearer` challenge whose `error` is
/// `invalid_token`. Schemes and parameter names are case-insensitive;
/// values may be quoted or bare. Anything unreadable counts as no.
pub(crate) fn bearer_invalid_token(value: &[u8]) -> bool {
    let Ok(value) = core::str::from_utf8(value) else {
        return false;
    };
    let mut in_bearer = false;
    for item in split_commas(value) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        // `scheme` or `scheme param=value` starts a challenge; a bare
        // `param=value` continues the current one.
        let param = match item.split_once([' ', '\t']) {
            Some((scheme, rest)) if !scheme.contains('=') => {
                in_bearer = scheme.eq_ignore_ascii_case("bearer");
                rest.trim()
            }
            _ if !item.contains('=') => {
                in_bearer = item.eq_ignore_ascii_case("bearer");
                continue;
            }
            _ => item,
        };
        if in_bearer && is_invalid_token_param(param) {
            return true;
        }
    }
    false
}

fn is_invalid_token_param(param: &str) -> bool {
    let Some((name, value)) = param.split_once('=') else {
        return false;
    };
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    name.trim().eq_ignore_ascii_case("error") && value == "invalid_token"
}

/// Splits on commas outside quoted strings (a quoted `error_description`
/// may hold commas and escaped quotes).
fn split_commas(value: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    let mut cuts = Vec::new();
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                cuts.push(value.get(start..i).unwrap_or(""));
                start = i + 1;
            }
            _ => {}
        }
    }
    cuts.push(value.get(start..).unwrap_or(""));
    cuts.into_iter()
}

#[cfg(test)]
mod tests {
    use super::bearer_invalid_token as f;

    #[test]
    fn the_rfc_6750_example_is_read() {
        assert!(f(
            br#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#
        ));
    }

    #[test]
    fn case_spacing_and_bare_values() {
        assert!(f(b"bearer error=invalid_token"));
        assert!(f(b"BEARER   Error = \"invalid_token\""));
        assert!(f(b"Bearer realm=\"a, b\", error=\"invalid_token\""));
    }

    #[test]
    fn only_the_bearer_challenge_counts() {
        assert!(!f(b"Basic realm=\"x\", error=\"invalid_token\""));
        assert!(f(b"Basic realm=\"x\", Bearer error=\"invalid_token\""));
        assert!(!f(b"Bearer realm=\"x\", Basic error=\"invalid_token\""));
    }

    #[test]
    fn other_errors_and_quoted_lookalikes_do_not() {
        assert!(!f(b"Bearer error=\"insufficient_scope\""));
        assert!(!f(b"Bearer realm=\"error=invalid_token\""));
        assert!(!f(
            b"Bearer error_description=\"error=\\\"invalid_token\\\"\""
        ));
        assert!(!f(b"Bearer"));
        assert!(!f(b""));
        assert!(!f(&[0xff, 0xfe]));
    }
}
