//! The members of a token response that freshen reads, whatever the body's
//! encoding.
//!
//! JSON and form bodies are both reduced to [`Fields`]: a fixed set of
//! slots for the members we know, each holding a scalar. Every other member
//! is skipped without being stored, so a hostile body cannot make the parser
//! allocate more than the members it keeps. The interpretation (what counts
//! as a lifetime, an error, a token) lives in `response.rs`, once for both
//! encodings.

use alloc::string::String;
use core::fmt;

use zeroize::Zeroizing;

use crate::{form, json};

/// A member's value, as the body carried it. Strings may be tokens, so they
/// are zeroized on drop and `Debug` shows only their length.
#[derive(Clone, PartialEq)]
pub(crate) enum Value {
    /// A string (every form value is one).
    Str(Zeroizing<String>),
    /// A non-negative integer.
    UInt(u64),
    /// A negative integer.
    Neg(i64),
    /// A number with a fraction or an exponent, or an integer too large for
    /// `u64`.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An object or an array (skipped, only its presence is kept).
    Compound,
}

impl Value {
    /// A string value.
    pub(crate) fn string(s: String) -> Value {
        Value::Str(Zeroizing::new(s))
    }

    /// Moves a non-empty string out (for a token, without copying it).
    pub(crate) fn take_non_empty_str(&mut self) -> Option<String> {
        match self {
            Value::Str(s) if !s.is_empty() => Some(core::mem::take(&mut **s)),
            _ => None,
        }
    }

    /// The string, if this is a non-empty one. Providers send `""` for
    /// "none" (Azure IMDS's `refresh_token`), so empty means absent.
    pub(crate) fn non_empty_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    /// Whether the value says "nothing here": `null` or an empty or blank
    /// string.
    pub(crate) fn is_blank(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Str(s) => s.trim().is_empty(),
            _ => false,
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => write!(f, "Str(<{} bytes>)", s.len()),
            Value::UInt(n) => write!(f, "UInt({n})"),
            Value::Neg(n) => write!(f, "Neg({n})"),
            Value::Float(x) => write!(f, "Float({x})"),
            Value::Bool(b) => write!(f, "Bool({b})"),
            Value::Null => f.write_str("Null"),
            Value::Compound => f.write_str("Compound"),
        }
    }
}

macro_rules! fields {
    ($( $(#[$doc:meta])* $field:ident => [$($name:literal),+] ),+ $(,)?) => {
        /// The known members of a token response. Duplicates: the last one
        /// wins, as in most JSON parsers.
        #[derive(Clone, Debug, Default, PartialEq)]
        pub(crate) struct Fields {
            $( $(#[$doc])* pub(crate) $field: Option<Value>, )+
            /// `error` when it is an object (Google's API envelope
            /// `{"error": {"code", "message", "status"}}`, Azure's
            /// `{"error": {"code", "message"}}`): its members. `error`
            /// itself is then [`Value::Compound`].
            pub(crate) error_object: Option<ErrorObject>,
        }

        /// Which slot of [`Fields`] a member name fills.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[allow(non_camel_case_types)]
        pub(crate) enum FieldId { $( $field, )+ }

        impl FieldId {
            /// The slot for a member name (case-sensitive, as the RFCs are).
            pub(crate) fn from_name(name: &str) -> Option<FieldId> {
                match name {
                    $( $($name)|+ => Some(FieldId::$field), )+
                    _ => None,
                }
            }
        }

        impl Fields {
            /// Stores a member's value in its slot.
            pub(crate) fn set(&mut self, id: FieldId, value: Value) {
                match id {
                    $( FieldId::$field => self.$field = Some(value), )+
                }
            }
        }
    };
}

fields! {
    /// RFC 6749 §5.1.
    access_token => ["access_token"],
    /// RFC 6749 §5.1.
    token_type => ["token_type"],
    /// RFC 6749 §5.1.
    expires_in => ["expires_in"],
    /// Facebook's legacy form-encoded responses: relative seconds.
    expires => ["expires"],
    /// Azure (IMDS, App Service, Entra v1): an absolute expiry.
    expires_on => ["expires_on"],
    /// An absolute expiry under another name.
    expires_at => ["expires_at"],
    /// Entra's hint to refresh early.
    refresh_in => ["refresh_in"],
    /// RFC 6749 §5.1.
    refresh_token => ["refresh_token"],
    /// RFC 6749 §5.1.
    scope => ["scope"],
    /// Salesforce: epoch milliseconds.
    issued_at => ["issued_at"],
    /// RFC 8693 §2.2.1.
    issued_token_type => ["issued_token_type"],
    /// RFC 6749 §5.2.
    error => ["error"],
    /// RFC 6749 §5.2.
    error_description => ["error_description"],
    /// RFC 6749 §5.2.
    error_uri => ["error_uri"],
    /// Databricks' platform envelope: an upper-case OAuth-like code.
    error_code => ["error_code"],
    /// Databricks' and Auth0's message.
    message => ["message"],
    /// Okta's API envelope (`E0000047`, or an OAuth code such as
    /// `invalid_client`) and Auth0's Management API envelope
    /// (`too_many_requests`).
    camel_error_code => ["errorCode"],
    /// Okta's message.
    okta_error_summary => ["errorSummary"],
    /// Entra's numeric AADSTS codes (`[7000215]`): the first one is kept.
    error_codes => ["error_codes"],
    /// PingOne's platform envelope: `{"id", "code", "message"}`
    /// (`INVALID_DATA`). Read only in error responses.
    code => ["code"],
    /// RFC 8628 / GitHub: the polling interval to adopt.
    interval => ["interval"],
}

/// The members of an `error` object that freshen reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ErrorObject {
    /// Google's canonical code (`PERMISSION_DENIED`).
    pub(crate) status: Option<Value>,
    /// The message.
    pub(crate) message: Option<Value>,
    /// Azure's code (`AuthorizationFailed`); Google's is the HTTP status as
    /// a number (ignored).
    pub(crate) code: Option<Value>,
}

/// How a body was read. (Not boxed: it lives for one parse and is
/// destructured at once.)
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Body {
    /// Nothing but whitespace.
    Empty,
    /// A JSON object or a form, reduced to its known members.
    Fields(Fields),
    /// Not understood; the reason is safe to show (it never quotes the body).
    Unreadable(&'static str),
}

/// Reads a body by its shape, not its `Content-Type` (GitHub sends forms
/// labelled `application/json`): an object is JSON when its first
/// non-blank byte is `{`; otherwise a body shaped like a form is read as a
/// form; anything else (HTML, plain text, a JSON array) is unreadable.
pub(crate) fn read_body(body: &[u8]) -> Body {
    let trimmed = trim(body);
    match trimmed.first() {
        None => Body::Empty,
        Some(b'{') => match json::read_object(trimmed) {
            Ok(fields) => Body::Fields(fields),
            Err(why) => Body::Unreadable(why),
        },
        Some(_) if form::looks_like_form(trimmed) => read_form(trimmed),
        Some(b'<') => Body::Unreadable("the body is markup (HTML or XML), not JSON or a form"),
        Some(b'[' | b'"') => Body::Unreadable("the body is JSON but not an object"),
        Some(_) => Body::Unreadable("the body is neither a JSON object nor form-encoded"),
    }
}

fn read_form(body: &[u8]) -> Body {
    let mut fields = Fields::default();
    for (raw_name, raw_value) in form::raw_pairs(body) {
        let Some(name) = form::decode(raw_name) else {
            continue;
        };
        let Some(id) = FieldId::from_name(&name) else {
            continue;
        };
        match form::decode(raw_value) {
            Some(value) => fields.set(id, Value::Str(value)),
            None => return Body::Unreadable("a form value is not UTF-8"),
        }
    }
    Body::Fields(fields)
}

/// Strips ASCII whitespace and a UTF-8 byte-order mark.
fn trim(body: &[u8]) -> &[u8] {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let end = body
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    body.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::*;

    fn fields(body: &str) -> Fields {
        match read_body(body.as_bytes()) {
            Body::Fields(f) => f,
            other => panic!("{body:?} gave {other:?}"),
        }
    }

    #[test]
    fn reads_json_and_forms_alike() {
        let j = fields(r#" {"access_token":"a b","expires_in":"60","x":[1,{"y":2}]} "#);
        let f = fields("access_token=a+b&expires_in=60&x=1\n");
        assert_eq!(j.access_token, f.access_token);
        assert_eq!(j.expires_in, f.expires_in);
        assert_eq!(j.expires_in, Some(Value::string("60".into())));
    }

    #[test]
    fn last_duplicate_wins() {
        assert_eq!(
            fields("scope=a&scope=b").scope,
            Some(Value::string("b".into()))
        );
    }

    #[test]
    fn other_shapes_are_unreadable_or_empty() {
        assert_eq!(read_body(b" \r\n"), Body::Empty);
        assert!(matches!(read_body(b"<html>"), Body::Unreadable(_)));
        assert!(matches!(read_body(b"[1]"), Body::Unreadable(_)));
        assert!(matches!(read_body(b"{\"a\":"), Body::Unreadable(_)));
        assert!(matches!(read_body(b"Bad Gateway"), Body::Unreadable(_)));
    }
}
