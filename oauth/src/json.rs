//! A JSON object read into [`Fields`] with serde_json, keeping only the
//! members freshen knows.
//!
//! Member names are matched while they are read (no allocation per name);
//! unknown members and nested values are skipped with `IgnoredAny`, so the
//! memory used is bounded by the known members' strings, and nesting by
//! serde_json's recursion limit. Error messages never quote the body: a
//! serde message can contain a token.

use alloc::string::String;
use core::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::fields::{ErrorObject, FieldId, Fields, Value};

/// Reads `body`, which must be exactly one JSON object.
pub(crate) fn read_object(body: &[u8]) -> Result<Fields, &'static str> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let fields = de.deserialize_map(FieldsVisitor).map_err(describe)?;
    de.end().map_err(describe)?;
    Ok(fields)
}

fn describe(e: serde_json::Error) -> &'static str {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => "the JSON body is truncated",
        Category::Syntax => "the JSON body is malformed",
        Category::Data => "the JSON body is not an object of the expected shape",
        Category::Io => "the JSON body could not be read",
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        let mut fields = Fields::default();
        while let Some(Key(id)) = map.next_key::<Key>()? {
            match id {
                Some(FieldId::error) => match map.next_value::<ErrorMember>()? {
                    ErrorMember::Value(v) => {
                        fields.error = Some(v);
                        fields.error_object = None;
                    }
                    ErrorMember::Object(o) => {
                        fields.error = Some(Value::Compound);
                        fields.error_object = Some(o);
                    }
                },
                Some(FieldId::error_codes) => {
                    fields.set(FieldId::error_codes, map.next_value::<First>()?.0);
                }
                Some(id) => fields.set(id, map.next_value::<Scalar>()?.0),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(fields)
    }
}

/// A member name, resolved to its slot while it is read.
struct Key(Option<FieldId>);

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Key, E> {
        Ok(Key(FieldId::from_name(name)))
    }
}

/// A member's value: scalars kept, objects and arrays skipped.
struct Scalar(Value);

impl<'de> de::Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar(Value::Bool(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar(Value::UInt(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar(match u64::try_from(v) {
            Ok(u) => Value::UInt(u),
            Err(_) => Value::Neg(v),
        }))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar(Value::Float(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar(Value::string(String::from(v))))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar(Value::string(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar(Value::Null))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar(Value::Compound))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar(Value::Compound))
    }
}

/// The `error` member: a scalar (RFC 6749), or an object whose `status`,
/// `message` and `code` are kept (Google's and Azure's API envelopes).
enum ErrorMember {
    Value(Value),
    Object(ErrorObject),
}

impl<'de> de::Deserialize<'de> for ErrorMember {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ErrorMemberVisitor)
    }
}

struct ErrorMemberVisitor;

impl<'de> Visitor<'de> for ErrorMemberVisitor {
    type Value = ErrorMember;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an error code or an error object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ErrorMember, A::Error> {
        let mut object = ErrorObject::default();
        while let Some(ObjectKey(name)) = map.next_key::<ObjectKey>()? {
            let slot = match name {
                Some(ErrorObjectKey::Status) => &mut object.status,
                Some(ErrorObjectKey::Message) => &mut object.message,
                Some(ErrorObjectKey::Code) => &mut object.code,
                None => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = Some(map.next_value::<Scalar>()?.0);
        }
        Ok(ErrorMember::Object(object))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ErrorMember, A::Error> {
        ScalarVisitor
            .visit_seq(seq)
            .map(|s| ErrorMember::Value(s.0))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<ErrorMember, E> {
        Ok(ErrorMember::Value(Value::Bool(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ErrorMember, E> {
        ScalarVisitor.visit_u64(v).map(|s| ErrorMember::Value(s.0))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ErrorMember, E> {
        ScalarVisitor.visit_i64(v).map(|s| ErrorMember::Value(s.0))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<ErrorMember, E> {
        Ok(ErrorMember::Value(Value::Float(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ErrorMember, E> {
        Ok(ErrorMember::Value(Value::string(String::from(v))))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<ErrorMember, E> {
        Ok(ErrorMember::Value(Value::string(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<ErrorMember, E> {
        Ok(ErrorMember::Value(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<ErrorMember, E> {
        Ok(ErrorMember::Value(Value::Null))
    }
}

/// The members of an `error` object that are kept.
#[derive(Clone, Copy)]
enum ErrorObjectKey {
    Status,
    Message,
    Code,
}

struct ObjectKey(Option<ErrorObjectKey>);

impl<'de> de::Deserialize<'de> for ObjectKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(ObjectKeyVisitor)
    }
}

struct ObjectKeyVisitor;

impl Visitor<'_> for ObjectKeyVisitor {
    type Value = ObjectKey;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<ObjectKey, E> {
        Ok(ObjectKey(match name {
            "status" => Some(ErrorObjectKey::Status),
            "message" => Some(ErrorObjectKey::Message),
            "code" => Some(ErrorObjectKey::Code),
            _ => None,
        }))
    }
}

/// An array's first element, if it is a scalar (Entra's `error_codes`);
/// a lone scalar is taken as it is.
struct First(Value);

impl<'de> de::Deserialize<'de> for First {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FirstVisitor)
    }
}

struct FirstVisitor;

impl<'de> Visitor<'de> for FirstVisitor {
    type Value = First;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of codes")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<First, A::Error> {
        let first = seq.next_element::<Scalar>()?.map_or(Value::Null, |s| s.0);
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(First(first))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<First, A::Error> {
        ScalarVisitor.visit_map(map).map(|s| First(s.0))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<First, E> {
        Ok(First(Value::Bool(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<First, E> {
        Ok(First(Value::UInt(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<First, E> {
        ScalarVisitor.visit_i64(v).map(|s| First(s.0))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<First, E> {
        Ok(First(Value::Float(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<First, E> {
        Ok(First(Value::string(String::from(v))))
    }

    fn visit_unit<E: de::Error>(self) -> Result<First, E> {
        Ok(First(Value::Null))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use alloc::string::ToString;
    use alloc::vec::Vec;

    #[test]
    fn keeps_known_scalars_and_skips_the_rest() {
        let f = read_object(
            br#"{"access_token":"t","expires_in":3600.5,"refresh_in":-1,"x":{"a":[1,2]},
                "error_codes":[1],"token_type":null,"scope":true,"access\u005ftoken":"u"}"#,
        )
        .unwrap();
        assert_eq!(f.access_token, Some(Value::string("u".to_string())));
        assert_eq!(f.expires_in, Some(Value::Float(3600.5)));
        assert_eq!(f.refresh_in, Some(Value::Neg(-1)));
        assert_eq!(f.token_type, Some(Value::Null));
        assert_eq!(f.scope, Some(Value::Bool(true)));
    }

    #[test]
    fn reads_error_objects_and_the_first_of_an_array() {
        let f = read_object(
            br#"{"error":{"code":403,"message":"denied","status":"PERMISSION_DENIED",
                "details":[{"reason":"X"}]},"error_codes":[7000215,50011]}"#,
        )
        .unwrap();
        assert_eq!(f.error, Some(Value::Compound));
        let o = f.error_object.unwrap();
        assert_eq!(
            o.status,
            Some(Value::string("PERMISSION_DENIED".to_string()))
        );
        assert_eq!(o.message, Some(Value::string("denied".to_string())));
        assert_eq!(o.code, Some(Value::UInt(403)));
        assert_eq!(f.error_codes, Some(Value::UInt(7000215)));
        // The last `error` wins, whatever its shape.
        let f = read_object(br#"{"error":{"status":"X"},"error":"invalid_client"}"#).unwrap();
        assert_eq!(f.error, Some(Value::string("invalid_client".to_string())));
        assert_eq!(f.error_object, None);
        assert_eq!(
            read_object(br#"{"error_codes":[]}"#).unwrap().error_codes,
            Some(Value::Null)
        );
    }

    #[test]
    fn reports_without_quoting_the_body() {
        assert_eq!(
            read_object(br#"{"access_token":"secret"#),
            Err("the JSON body is truncated")
        );
        assert_eq!(
            read_object(br#"{"a":1} x"#),
            Err("the JSON body is malformed")
        );
        assert!(read_object(br#""secret""#).is_err());
    }

    #[test]
    fn deep_nesting_neither_overflows_nor_panics() {
        for member in ["x", "scope"] {
            for close in [false, true] {
                let mut body: Vec<u8> = alloc::format!("{{\"{member}\":").into_bytes();
                body.extend(core::iter::repeat_n(b'[', 100_000));
                if close {
                    body.extend(core::iter::repeat_n(b']', 100_000));
                    body.push(b'}');
                }
                // Nested values are skipped by serde_json without recursion
                // (its stack is bytes, bounded by the body).
                let got = read_object(&body);
                assert_eq!(got.is_ok(), close, "{member} {close}");
            }
        }
    }
}
