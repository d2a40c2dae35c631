//! Wall-clock times in the forms token endpoints use, turned into epoch
//! seconds (the core reads no clock; callers pass "now" in).
//!
//! - HTTP dates (`Retry-After`): IMF-fixdate `Wed, 21 Oct 2015 07:28:00 GMT`,
//!   and the obsolete RFC 850 and asctime forms RFC 9110 §5.6.7 says a
//!   recipient must still accept.
//! - Azure App Service's `expires_on`: `MM/dd/yyyy HH:mm:ss +00:00` (Linux)
//!   and `M/d/yyyy h:mm:ss AM +00:00` (Windows).
//! - RFC 3339 (`2019-06-19T23:42:01Z`), for `expires_at` members that carry one.
//!
//! Parsers return `None` for anything malformed or before 1970; they never
//! panic and never allocate.

/// Epoch seconds of an absolute time in any of the non-HTTP forms above, or
/// an HTTP date.
pub(crate) fn parse_date_time(s: &str) -> Option<u64> {
    parse_azure(s)
        .or_else(|| parse_rfc3339(s))
        .or_else(|| parse_http_date(s))
}

/// Epoch seconds of an HTTP date (RFC 9110 §5.6.7, all three forms). The
/// weekday is not checked.
pub(crate) fn parse_http_date(s: &str) -> Option<u64> {
    let mut t = s.split_whitespace();
    let first = t.next()?;
    let second = t.next()?;
    if first.ends_with(',') && second.contains('-') {
        // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        let mut dmy = second.split('-');
        let day = digits(dmy.next()?, 1, 2)?;
        let month = month(dmy.next()?)?;
        let yy = digits(dmy.next()?, 2, 2)?;
        let year = if yy < 70 { 2000 + yy } else { 1900 + yy };
        let (h, m, sec) = hms(t.next()?)?;
        gmt(t.next()?)?;
        end(t)?;
        epoch(i64::from(year), month, day, h, m, sec, 0)
    } else if first.ends_with(',') {
        // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        let day = digits(second, 1, 2)?;
        let month = month(t.next()?)?;
        let year = digits(t.next()?, 4, 4)?;
        let (h, m, sec) = hms(t.next()?)?;
        gmt(t.next()?)?;
        end(t)?;
        epoch(i64::from(year), month, day, h, m, sec, 0)
    } else {
        // asctime: Sun Nov  6 08:49:37 1994
        let month = month(second)?;
        let day = digits(t.next()?, 1, 2)?;
        let (h, m, sec) = hms(t.next()?)?;
        let year = digits(t.next()?, 4, 4)?;
        end(t)?;
        epoch(i64::from(year), month, day, h, m, sec, 0)
    }
}

/// Azure App Service: `M/d/yyyy h:mm:ss [AM|PM] [±hh:mm]`, UTC when the
/// offset is missing.
fn parse_azure(s: &str) -> Option<u64> {
    let mut t = s.split_whitespace();
    let mut mdy = t.next()?.split('/');
    let month = digits(mdy.next()?, 1, 2)?;
    let day = digits(mdy.next()?, 1, 2)?;
    let year = digits(mdy.next()?, 4, 4)?;
    if mdy.next().is_some() {
        return None;
    }
    let (mut h, m, sec) = hms(t.next()?)?;
    let mut next = t.next();
    if let Some(meridiem) =
        next.filter(|w| w.eq_ignore_ascii_case("AM") || w.eq_ignore_ascii_case("PM"))
    {
        if !(1..=12).contains(&h) {
            return None;
        }
        h %= 12;
        if meridiem.eq_ignore_ascii_case("PM") {
            h += 12;
        }
        next = t.next();
    }
    let offset = match next {
        Some(zone) => offset(zone)?,
        None => 0,
    };
    end(t)?;
    epoch(i64::from(year), month, day, h, m, sec, offset)
}

/// RFC 3339: `yyyy-mm-ddThh:mm:ss[.frac](Z|±hh:mm)`; a space may stand for
/// the `T`. Fractions are dropped.
fn parse_rfc3339(s: &str) -> Option<u64> {
    let split = s.find(['T', 't', ' '])?;
    let date = s.get(..split)?;
    let rest = s.get(split + 1..)?.trim_start();
    let mut ymd = date.split('-');
    let year = digits(ymd.next()?, 4, 4)?;
    let month = digits(ymd.next()?, 2, 2)?;
    let day = digits(ymd.next()?, 2, 2)?;
    if ymd.next().is_some() {
        return None;
    }
    let zone_at = rest.find(['Z', 'z', '+', '-'])?;
    let time = rest.get(..zone_at)?;
    let zone = rest.get(zone_at..)?;
    let time = match time.split_once('.') {
        Some((t, frac)) if !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()) => t,
        Some(_) => return None,
        None => time,
    };
    let (h, m, sec) = hms(time)?;
    epoch(i64::from(year), month, day, h, m, sec, offset(zone)?)
}

/// `hh:mm:ss` (the hour may have one digit).
fn hms(s: &str) -> Option<(u32, u32, u32)> {
    let mut p = s.split(':');
    let h = digits(p.next()?, 1, 2)?;
    let m = digits(p.next()?, 2, 2)?;
    let sec = digits(p.next()?, 2, 2)?;
    if p.next().is_some() || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some((h, m, sec))
}

/// A UTC offset in seconds east: `Z`, `GMT`, `UTC`, `±hh:mm`, `±hhmm`.
fn offset(s: &str) -> Option<i64> {
    if ["Z", "GMT", "UTC", "UT"]
        .iter()
        .any(|z| s.eq_ignore_ascii_case(z))
    {
        return Some(0);
    }
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = s.get(1..)?;
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None => (rest.get(..2)?, rest.get(2..)?),
    };
    let h = digits(h, 2, 2)?;
    let m = digits(m, 2, 2)?;
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * i64::from(h * 3600 + m * 60))
}

fn gmt(s: &str) -> Option<()> {
    (s == "GMT").then_some(())
}

fn end<'a>(mut rest: impl Iterator<Item = &'a str>) -> Option<()> {
    rest.next().is_none().then_some(())
}

fn month(s: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(s))
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// Between `min` and `max` ASCII digits, as a number.
fn digits(s: &str, min: usize, max: usize) -> Option<u32> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Epoch seconds of a UTC civil time minus `offset` (seconds east of UTC),
/// `None` for an impossible date or one before 1970.
fn epoch(year: i64, month: u32, day: u32, h: u32, m: u32, s: u32, offset: i64) -> Option<u64> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(h * 3600 + m * 60 + s) - offset;
    u64::try_from(secs).ok()
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`). Years here have at most four digits, so nothing
/// overflows.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_in_all_three_forms() {
        let want = Some(784_111_777);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), want);
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), want);
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), want);
        assert_eq!(
            parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(1_445_412_480)
        );
        for bad in [
            "",
            "Wed, 21 Oct 2015 07:28:00",
            "Wed, 21 Oct 2015 07:28:00 PST",
            "Wed, 32 Oct 2015 07:28:00 GMT",
            "Wed, 29 Feb 2015 07:28:00 GMT",
            "Wed, 21 Foo 2015 07:28:00 GMT",
            "Wed, 21 Oct 2015 24:00:00 GMT",
            "Wed, 21 Oct 2015 07:28:00 GMT extra",
            "Thu, 01 Jan 1960 00:00:00 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn azure_app_service_forms() {
        assert_eq!(
            parse_date_time("06/19/2019 23:42:01 +00:00"),
            Some(1_560_987_721)
        );
        assert_eq!(
            parse_date_time("6/19/2019 11:42:01 PM +00:00"),
            Some(1_560_987_721)
        );
        assert_eq!(
            parse_date_time("6/19/2019 12:00:00 AM +00:00"),
            Some(1_560_902_400)
        );
        assert_eq!(
            parse_date_time("6/19/2019 12:00:00 PM +00:00"),
            Some(1_560_945_600)
        );
        assert_eq!(
            parse_date_time("6/20/2019 1:42:01 AM +02:00"),
            Some(1_560_987_721)
        );
        assert_eq!(parse_date_time("6/19/2019 13:00:00 PM +00:00"), None);
        assert_eq!(parse_date_time("13/19/2019 11:42:01 +00:00"), None);
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_date_time("2019-06-19T23:42:01Z"), Some(1_560_987_721));
        assert_eq!(
            parse_date_time("2019-06-20T01:42:01.5+02:00"),
            Some(1_560_987_721)
        );
        assert_eq!(parse_date_time("2019-06-19 23:42:01z"), Some(1_560_987_721));
        assert_eq!(parse_date_time("2019-06-19T23:42:01"), None);
        assert_eq!(parse_date_time("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(parse_date_time("1900-02-29T00:00:00Z"), None);
    }
}
