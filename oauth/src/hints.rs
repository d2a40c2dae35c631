//! When the server says to come back: `Retry-After` and rate-limit reset
//! headers.
//!
//! - `Retry-After` (RFC 9110 §10.2.3) is delta-seconds or an HTTP date; a
//!   date becomes a delay only when the caller passed "now".
//! - `X-RateLimit-Reset` (Auth0, GitHub), `X-Rate-Limit-Reset` (Okta) and
//!   `RateLimit-Reset` (the IETF draft) say when a quota refills. Values from
//!   1e9 up are epoch seconds (2001 on); smaller ones are delta-seconds, as
//!   the IETF draft and some gateways send. They are read only on a
//!   rate-limited response: Auth0 and Okta send them on every response, and
//!   on a `400 invalid_client` they mean nothing about when to retry.
//!
//! Values that do not parse are ignored: a hint must never turn a readable
//! error into an unreadable one.

use core::time::Duration;

use crate::date;
use crate::http::HttpResponse;

/// Reset values from here up are absolute epoch seconds.
const EPOCH_FROM: u64 = 1_000_000_000;

/// The headers that carry a rate-limit reset, in order of preference.
const RESET_HEADERS: [&str; 3] = ["X-RateLimit-Reset", "X-Rate-Limit-Reset", "RateLimit-Reset"];

/// What the headers say about retrying.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RetryHints {
    /// How long to wait, when it is known as a delay.
    pub(crate) after: Option<Duration>,
    /// When to retry, when the server gave an absolute time.
    pub(crate) at_epoch: Option<u64>,
}

/// Reads `Retry-After`, and the rate-limit reset headers when
/// `rate_limited`.
pub(crate) fn retry_hints(
    resp: &HttpResponse,
    now_epoch_secs: Option<u64>,
    rate_limited: bool,
) -> RetryHints {
    let mut hints = RetryHints::default();
    if let Some(value) = resp.header("Retry-After") {
        apply(&mut hints, retry_after(value), now_epoch_secs);
    }
    if rate_limited {
        for name in RESET_HEADERS {
            if let Some(reset) = resp.header(name).and_then(rate_limit_reset) {
                let mut from_reset = RetryHints::default();
                apply(&mut from_reset, Some(reset), now_epoch_secs);
                // Retry-After, when readable, is the more specific answer.
                hints.after = hints.after.or(from_reset.after);
                hints.at_epoch = hints.at_epoch.or(from_reset.at_epoch);
                break;
            }
        }
    }
    hints
}

/// A hint as sent: a delay, or an absolute epoch time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum When {
    In(u64),
    At(u64),
}

fn apply(hints: &mut RetryHints, when: Option<When>, now: Option<u64>) {
    match when {
        Some(When::In(secs)) => hints.after = Some(Duration::from_secs(secs)),
        Some(When::At(at)) => {
            hints.at_epoch = Some(at);
            if let Some(now) = now {
                hints.after = Some(Duration::from_secs(at.saturating_sub(now)));
            }
        }
        None => {}
    }
}

fn retry_after(value: &str) -> Option<When> {
    let value = value.trim();
    match delta_seconds(value) {
        Some(secs) => Some(When::In(secs)),
        None => date::parse_http_date(value).map(When::At),
    }
}

fn rate_limit_reset(value: &str) -> Option<When> {
    let n = delta_seconds(value.trim())?;
    Some(if n >= EPOCH_FROM {
        When::At(n)
    } else {
        When::In(n)
    })
}

/// `1*DIGIT`, saturating at `u64::MAX` (the policy caps it later).
fn delta_seconds(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(value.parse().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec;

    fn resp(headers: &[(&str, &str)]) -> HttpResponse {
        let mut r = HttpResponse::new(429, vec![]);
        r.headers = headers
            .iter()
            .map(|(n, v)| (String::from(*n), String::from(*v)))
            .collect();
        r
    }

    const NOW: u64 = 1_445_412_000;

    #[test]
    fn retry_after_as_seconds_or_date() {
        let h = retry_hints(&resp(&[("retry-after", " 30 ")]), None, false);
        assert_eq!(h.after, Some(Duration::from_secs(30)));
        let date = [("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")];
        let h = retry_hints(&resp(&date), Some(NOW), false);
        assert_eq!(h.after, Some(Duration::from_secs(480)));
        assert_eq!(h.at_epoch, Some(1_445_412_480));
        let h = retry_hints(&resp(&date), None, false);
        assert_eq!((h.after, h.at_epoch), (None, Some(1_445_412_480)));
        let h = retry_hints(&resp(&date), Some(NOW + 10_000), false);
        assert_eq!(h.after, Some(Duration::ZERO));
        let h = retry_hints(&resp(&[("Retry-After", "-5")]), Some(NOW), true);
        assert_eq!(h, RetryHints::default());
        let h = retry_hints(
            &resp(&[("Retry-After", "99999999999999999999999")]),
            None,
            false,
        );
        assert_eq!(h.after, Some(Duration::from_secs(u64::MAX)));
    }

    #[test]
    fn reset_headers_only_when_rate_limited() {
        let r = resp(&[("X-Rate-Limit-Reset", "1445412060")]);
        assert_eq!(retry_hints(&r, Some(NOW), false), RetryHints::default());
        let h = retry_hints(&r, Some(NOW), true);
        assert_eq!(h.at_epoch, Some(1_445_412_060));
        assert_eq!(h.after, Some(Duration::from_secs(60)));
        let h = retry_hints(&resp(&[("RateLimit-Reset", "12")]), None, true);
        assert_eq!(h.after, Some(Duration::from_secs(12)));
    }

    #[test]
    fn retry_after_beats_a_reset() {
        let r = resp(&[("Retry-After", "5"), ("X-RateLimit-Reset", "1445412060")]);
        let h = retry_hints(&r, Some(NOW), true);
        assert_eq!(h.after, Some(Duration::from_secs(5)));
        assert_eq!(h.at_epoch, Some(1_445_412_060));
    }
}
