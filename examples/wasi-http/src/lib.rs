//! The line protocol between the native conformance tests and the component
//! that runs `WasiHttpTransport` in a WASI host: one request per line on the
//! component's stdin, one outcome per line on its stdout. Every variable
//! field is hex, so a line never holds a space or a newline of its own.
//!
//! ```text
//! send <connect-ms> <timeout-ms> <max-body> <insecure 0|1> <user-agent> <GET|POST> <url> <headers> <body>
//! ok <status> <headers> <body>
//! err <permanent|transient> <transport|timeout|too-large|config|other> <ms|limit|-> <message> <cause|->
//! ```
//!
//! Headers are `name=value` pairs joined by `,` (each side hex), `-` when
//! there are none; an empty field is `-` too.

use std::fmt;
use std::time::Duration;

use freshen_core::{Error, ErrorKind};
use freshen_oauth::transport::TransportConfig;
use freshen_oauth::{HttpRequest, HttpResponse, Method};

/// Hex of `bytes`, or `-` when empty.
pub fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "-".into();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a [`hex`] field.
pub fn unhex(field: &str) -> Result<Vec<u8>, String> {
    if field == "-" {
        return Ok(Vec::new());
    }
    let digits = field.as_bytes();
    if digits.len() % 2 != 0 {
        return Err(format!("odd hex field of {} digits", digits.len()));
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| "a field is not hex".to_string())
        })
        .collect()
}

fn unhex_text(field: &str) -> Result<String, String> {
    String::from_utf8(unhex(field)?).map_err(|_| "a text field is not UTF-8".to_string())
}

fn headers_field<'a>(headers: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let pairs: Vec<String> = headers
        .map(|(n, v)| format!("{}={}", hex(n.as_bytes()), hex(v.as_bytes())))
        .collect();
    if pairs.is_empty() {
        "-".into()
    } else {
        pairs.join(",")
    }
}

fn parse_headers(field: &str) -> Result<Vec<(String, String)>, String> {
    if field == "-" {
        return Ok(Vec::new());
    }
    field
        .split(',')
        .map(|pair| {
            let (n, v) = pair.split_once('=').ok_or("a header has no '='")?;
            Ok((unhex_text(n)?, unhex_text(v)?))
        })
        .collect()
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn number<T: std::str::FromStr>(field: Option<&str>, what: &str) -> Result<T, String> {
    field
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| format!("no {what}"))
}

/// One `send` line: the transport's settings and the request.
pub fn encode_send(config: &TransportConfig, request: &HttpRequest) -> String {
    let method = match request.method {
        Method::Get => "GET",
        Method::Post => "POST",
    };
    format!(
        "send {} {} {} {} {} {method} {} {} {}",
        millis(config.connect_timeout()),
        millis(config.timeout()),
        config.max_body(),
        u8::from(config.allow_insecure_http()),
        hex(config.user_agent().as_bytes()),
        hex(request.url.as_bytes()),
        headers_field(
            request
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
        ),
        hex(&request.body),
    )
}

/// Reads a `send` line back.
pub fn decode_send(line: &str) -> Result<(TransportConfig, HttpRequest), String> {
    let mut f = line.split(' ');
    if f.next() != Some("send") {
        return Err("not a send line".into());
    }
    let connect: u64 = number(f.next(), "connect timeout")?;
    let timeout: u64 = number(f.next(), "timeout")?;
    let max_body: usize = number(f.next(), "body cap")?;
    let insecure = f.next() == Some("1");
    let agent = unhex_text(f.next().ok_or("no user agent")?)?;
    let method = match f.next() {
        Some("GET") => Method::Get,
        Some("POST") => Method::Post,
        _ => return Err("no method".into()),
    };
    let url = unhex_text(f.next().ok_or("no url")?)?;
    let headers = parse_headers(f.next().ok_or("no headers")?)?;
    let body = unhex(f.next().ok_or("no body")?)?;
    let config = TransportConfig::default()
        .with_connect_timeout(Duration::from_millis(connect))
        .with_timeout(Duration::from_millis(timeout))
        .with_max_body(max_body)
        .with_allow_insecure_http(insecure)
        .with_user_agent(agent);
    let mut request = HttpRequest::new(method, url).with_body(body);
    for (name, value) in headers {
        request = request.with_header(name, value);
    }
    Ok((config, request))
}

/// The outcome line of one request.
pub fn encode_outcome(outcome: &Result<HttpResponse, Error>) -> String {
    match outcome {
        Ok(r) => format!(
            "ok {} {} {}",
            r.status,
            headers_field(r.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))),
            hex(&r.body)
        ),
        Err(e) => {
            let retry = if e.is_permanent() {
                "permanent"
            } else {
                "transient"
            };
            let (kind, arg, message) = match e.kind() {
                ErrorKind::Transport(m) => ("transport", "-".into(), m.clone()),
                ErrorKind::Timeout { after } => {
                    ("timeout", millis(*after).to_string(), String::new())
                }
                ErrorKind::ResponseTooLarge { limit } => {
                    ("too-large", limit.to_string(), String::new())
                }
                ErrorKind::Config(c) => ("config", "-".into(), c.to_string()),
                other => ("other", "-".into(), format!("{other:?}")),
            };
            let mut cause = String::new();
            let mut next = std::error::Error::source(e);
            while let Some(c) = next {
                cause.push_str(&format!("{c} ({c:?}); "));
                next = c.source();
            }
            format!(
                "err {retry} {kind} {arg} {} {}",
                hex(message.as_bytes()),
                hex(cause.as_bytes())
            )
        }
    }
}

/// The cause a component reported, as text: what its error's
/// `source()` chain showed.
#[derive(Debug)]
pub struct ReportedCause(pub String);

impl fmt::Display for ReportedCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReportedCause {}

/// Reads an outcome line back into what the transport returned.
pub fn decode_outcome(line: &str) -> Result<Result<HttpResponse, Error>, String> {
    let mut f = line.split(' ');
    match f.next() {
        Some("ok") => {
            let status: u16 = number(f.next(), "status")?;
            let headers = parse_headers(f.next().ok_or("no headers")?)?;
            let body = unhex(f.next().ok_or("no body")?)?;
            let mut response = HttpResponse::new(status, body);
            response.headers = headers;
            Ok(Ok(response))
        }
        Some("err") => {
            let permanent = f.next() == Some("permanent");
            let kind = f.next().ok_or("no kind")?;
            let arg = f.next().ok_or("no argument")?;
            let message = unhex_text(f.next().ok_or("no message")?)?;
            let cause = unhex_text(f.next().ok_or("no cause")?)?;
            let kind = match kind {
                "transport" => ErrorKind::Transport(message),
                "timeout" => ErrorKind::Timeout {
                    after: Duration::from_millis(number(Some(arg), "timeout")?),
                },
                "too-large" => ErrorKind::ResponseTooLarge {
                    limit: number(Some(arg), "limit")?,
                },
                "config" => ErrorKind::Config(message.into()),
                _ => ErrorKind::InvalidResponse(format!("the component reported {message}")),
            };
            let error = if permanent {
                Error::permanent(kind)
            } else {
                Error::transient(kind)
            };
            Ok(Err(if cause.is_empty() {
                error
            } else {
                error.with_source(ReportedCause(cause))
            }))
        }
        _ => Err(format!("not an outcome line: {line:.80}")),
    }
}

/// FNV-1a of a token: the component prints this, never the token, and the
/// tests compare it with the tokens the server issued.
pub fn fingerprint(token: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for b in token.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{hash:08x}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn send_lines_round_trip() {
        let config = TransportConfig::default()
            .with_timeout(Duration::from_millis(300))
            .with_max_body(1000)
            .with_user_agent("a b/1");
        let request = HttpRequest::new(Method::Post, "http://127.0.0.1:1/t?x=1")
            .with_header("Authorization", "Basic eDp5")
            .with_body("a=1 2");
        let (c, r) = decode_send(&encode_send(&config, &request)).unwrap();
        assert_eq!(c, config);
        assert_eq!(r.url, request.url);
        assert_eq!(r.header("authorization"), Some("Basic eDp5"));
        assert_eq!(r.body.as_slice(), b"a=1 2");
    }

    #[test]
    fn outcomes_round_trip() {
        let error = Error::transient(ErrorKind::Timeout {
            after: Duration::from_millis(300),
        })
        .with_source(ReportedCause("host".into()));
        let back = decode_outcome(&encode_outcome(&Err(error)))
            .unwrap()
            .err()
            .unwrap();
        assert_eq!(
            back.kind(),
            &ErrorKind::Timeout {
                after: Duration::from_millis(300)
            }
        );
        assert!(!back.is_permanent());
        assert!(std::error::Error::source(&back).is_some());
        let ok = HttpResponse::new(200, b"{}".to_vec());
        let back = decode_outcome(&encode_outcome(&Ok(ok))).unwrap().unwrap();
        assert_eq!((back.status, back.body.as_slice()), (200, &b"{}"[..]));
    }
}
