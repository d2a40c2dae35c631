//! Numbers as providers send them: integers, floats (`3600.0`), strings
//! (`"3599"`, Azure and every form body), with whitespace.
//!
//! One reader for every numeric member, so each quirk is handled once:
//! fractions are floored (a lifetime is never rounded up), integers too
//! large for `u64` saturate (the caller clamps), and negative, non-finite
//! (`NaN`, `inf`) or non-numeric values are errors the caller turns into
//! `InvalidResponse` or drops, depending on how much the member matters.

use crate::date;
use crate::fields::Value;

/// Why a value is not a usable count of seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NumberError {
    /// Below zero.
    Negative,
    /// Not a number at all (`"abc"`, `"NaN"`, `true`, an object).
    NotANumber,
}

impl NumberError {
    /// Why, for an error message.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NumberError::Negative => "is negative",
            NumberError::NotANumber => "is not a number",
        }
    }
}

/// A non-negative whole number: `Ok(None)` when the value is blank (`null`,
/// `""`), which providers use for "not given".
pub(crate) fn non_negative(value: &Value) -> Result<Option<u64>, NumberError> {
    match value {
        Value::Null => Ok(None),
        Value::UInt(n) => Ok(Some(*n)),
        Value::Neg(_) => Err(NumberError::Negative),
        Value::Float(f) => float(*f).map(Some),
        Value::Str(s) => {
            let s = s.trim();
            if s.is_empty() {
                Ok(None)
            } else {
                numeric_str(s).map(Some)
            }
        }
        Value::Bool(_) | Value::Compound => Err(NumberError::NotANumber),
    }
}

fn float(f: f64) -> Result<u64, NumberError> {
    if f.is_nan() {
        Err(NumberError::NotANumber)
    } else if f < 0.0 {
        Err(NumberError::Negative)
    } else {
        // `as` floors and saturates (infinity becomes u64::MAX).
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(f as u64)
    }
}

/// A decimal number in a string: `[+-]digits[.digits][e[+-]digits]`.
/// Rust's float parser also takes `inf` and `NaN`; those are refused here by
/// checking the shape first.
fn numeric_str(s: &str) -> Result<u64, NumberError> {
    let (negative, unsigned) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..).unwrap_or_default()),
        Some(b'+') => (false, s.get(1..).unwrap_or_default()),
        _ => (false, s),
    };
    if !is_decimal(unsigned) {
        return Err(NumberError::NotANumber);
    }
    if let Ok(n) = unsigned.parse::<u64>() {
        return if negative && n > 0 {
            Err(NumberError::Negative)
        } else {
            Ok(n)
        };
    }
    match unsigned.parse::<f64>() {
        Ok(f) if negative && f > 0.0 => Err(NumberError::Negative),
        Ok(f) => float(f),
        Err(_) => Err(NumberError::NotANumber),
    }
}

fn is_decimal(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (
            s.get(..i).unwrap_or_default(),
            Some(s.get(i + 1..).unwrap_or_default()),
        ),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(int)
        && frac.is_none_or(digits)
        && (!int.is_empty() || frac.is_some_and(|f| !f.is_empty()));
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

/// Epoch values from this size up are taken as milliseconds: as seconds they
/// would be past the year 33,000.
const EPOCH_MILLIS_FROM: u64 = 1_000_000_000_000;

/// An absolute time as epoch seconds: a number or numeric string (seconds,
/// or milliseconds when implausibly large as seconds), or a date-time string
/// (Azure App Service's `M/d/yyyy h:mm:ss [AM|PM] +00:00`, RFC 3339, an HTTP
/// date). `Ok(None)` when blank.
pub(crate) fn epoch_seconds(value: &Value) -> Result<Option<u64>, NumberError> {
    let from_number = |n: u64| {
        if n >= EPOCH_MILLIS_FROM { n / 1000 } else { n }
    };
    match value {
        Value::Str(s) => {
            let s = s.trim();
            if s.is_empty() {
                Ok(None)
            } else if let Ok(n) = numeric_str(s) {
                Ok(Some(from_number(n)))
            } else {
                date::parse_date_time(s)
                    .map(Some)
                    .ok_or(NumberError::NotANumber)
            }
        }
        other => Ok(non_negative(other)?.map(from_number)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn s(v: &str) -> Result<Option<u64>, NumberError> {
        non_negative(&Value::string(String::from(v)))
    }

    #[test]
    fn reads_every_numeric_spelling() {
        assert_eq!(s("3600"), Ok(Some(3600)));
        assert_eq!(s(" 3600 "), Ok(Some(3600)));
        assert_eq!(s("+3600"), Ok(Some(3600)));
        assert_eq!(s("3600.0"), Ok(Some(3600)));
        assert_eq!(s("3599.9"), Ok(Some(3599)));
        assert_eq!(s("3.6e3"), Ok(Some(3600)));
        assert_eq!(s(".5"), Ok(Some(0)));
        assert_eq!(s("-0"), Ok(Some(0)));
        assert_eq!(s("99999999999999999999999"), Ok(Some(u64::MAX)));
        assert_eq!(s("1e400"), Ok(Some(u64::MAX)));
        assert_eq!(s(""), Ok(None));
        assert_eq!(non_negative(&Value::Float(3600.0)), Ok(Some(3600)));
        assert_eq!(non_negative(&Value::UInt(0)), Ok(Some(0)));
        assert_eq!(non_negative(&Value::Null), Ok(None));
    }

    #[test]
    fn refuses_negative_and_non_numbers() {
        for v in ["-1", "-0.5", "-1e3"] {
            assert_eq!(s(v), Err(NumberError::Negative), "{v}");
        }
        for v in [
            "NaN", "nan", "inf", "-inf", "infinity", "abc", "1h", "0x10", "e5", ".",
        ] {
            assert!(s(v).is_err(), "{v}");
        }
        assert_eq!(non_negative(&Value::Neg(-5)), Err(NumberError::Negative));
        assert_eq!(
            non_negative(&Value::Float(-0.1)),
            Err(NumberError::Negative)
        );
        assert_eq!(
            non_negative(&Value::Float(f64::NAN)),
            Err(NumberError::NotANumber)
        );
        assert_eq!(
            non_negative(&Value::Bool(true)),
            Err(NumberError::NotANumber)
        );
    }

    #[test]
    fn reads_absolute_times() {
        let e = |v: &str| epoch_seconds(&Value::string(String::from(v)));
        assert_eq!(e("1586984735"), Ok(Some(1586984735)));
        assert_eq!(e("1700000000000"), Ok(Some(1700000000)));
        assert_eq!(e("06/19/2019 23:42:01 +00:00"), Ok(Some(1560987721)));
        assert_eq!(e("soon"), Err(NumberError::NotANumber));
        assert_eq!(
            epoch_seconds(&Value::UInt(1506484173)),
            Ok(Some(1506484173))
        );
    }
}
