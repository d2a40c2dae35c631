//! Every token-response vector in `oauth/tests/vectors/` (the format is in
//! that directory's README.md) is parsed and checked against its `expect`.
//! New files are picked up with no code change; an `expect` key this test
//! does not know fails it, so a new kind of expectation cannot be skipped
//! silently.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use freshen_core::{ErrorKind, Fetched, Retry};
use freshen_oauth::{HttpResponse, ParseOptions, parse_token_response};
use serde_json::{Map, Value};

/// "Now" for vectors that do not name one: 2023-11-14T22:13:20Z.
const DEFAULT_NOW: u64 = 1_700_000_000;

const KNOWN_KEYS: &[&str] = &[
    "access_token",
    "token_type",
    "lifetime_seconds",
    "expires_at_epoch",
    "assume_now_epoch",
    "refresh_after_seconds",
    "issued_at_epoch_ms",
    "error",
    "retryable",
    "rate_limited",
    "retry_after_seconds",
    "retry_at_epoch",
    "min_poll_interval_seconds",
    "provider_code",
    "kind",
];

/// The vectors live in the repository, next to this test.
fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn response(v: &Value) -> Result<HttpResponse, String> {
    let status = v["http_status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .ok_or("http_status is not a status code")?;
    let mut headers = Vec::new();
    if let Some(ct) = v["content_type"].as_str() {
        headers.push(("Content-Type".to_owned(), ct.to_owned()));
    }
    if let Some(h) = v.get("headers") {
        for (name, value) in h.as_object().ok_or("headers is not an object")? {
            let value = value.as_str().ok_or("a header value is not a string")?;
            headers.push((name.clone(), value.to_owned()));
        }
    }
    let body = match &v["body"] {
        Value::String(s) => s.clone().into_bytes(),
        Value::Null => Vec::new(),
        other => serde_json::to_vec(other).unwrap(),
    };
    let mut response = HttpResponse::new(status, body);
    response.headers = headers;
    Ok(response)
}

fn secs(v: &Value, key: &str) -> Result<Option<Duration>, String> {
    match v {
        Value::Null => Ok(None),
        v => v
            .as_u64()
            .map(|s| Some(Duration::from_secs(s)))
            .ok_or(format!("expect.{key} is not a whole number or null")),
    }
}

fn check_eq<T: PartialEq + std::fmt::Debug>(key: &str, got: T, want: T, errs: &mut Vec<String>) {
    if got != want {
        errs.push(format!("{key}: got {got:?}, want {want:?}"));
    }
}

/// Checks one vector; returns what did not match.
fn check(v: &Value) -> Result<(), Vec<String>> {
    let expect = v["expect"]
        .as_object()
        .ok_or_else(|| vec!["no expect object".to_owned()])?;
    let mut errs: Vec<String> = expect
        .keys()
        .filter(|k| !KNOWN_KEYS.contains(&k.as_str()))
        .map(|k| format!("unknown expect key {k:?}: teach tests/vectors.rs about it"))
        .collect();
    let resp = response(v).map_err(|e| vec![e])?;
    let now = expect
        .get("assume_now_epoch")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_NOW);
    let parsed = parse_token_response(&resp, Some(now), &ParseOptions::default());

    if expect.contains_key("access_token") {
        match parsed {
            Ok(token) => check_success(expect, &token, &mut errs),
            Err(e) => errs.push(format!("expected a token, got error: {e} ({e:?})")),
        }
    } else if expect.contains_key("error") {
        match parsed {
            Ok(token) => errs.push(format!("expected an error, got a token: {token:?}")),
            Err(e) => check_error(expect, &e, &mut errs),
        }
    } else {
        errs.push("expect has neither access_token nor error".to_owned());
    }
    if errs.is_empty() { Ok(()) } else { Err(errs) }
}

fn check_success(
    expect: &Map<String, Value>,
    token: &freshen_oauth::ParsedToken,
    errs: &mut Vec<String>,
) {
    for (key, want) in expect {
        match key.as_str() {
            "access_token" => check_eq(key, Some(token.access_token.expose()), want.as_str(), errs),
            "token_type" => {
                let got = token.token_type.as_deref().map(str::to_ascii_lowercase);
                let want = want.as_str().map(str::to_ascii_lowercase);
                check_eq(key, got, want, errs);
            }
            "lifetime_seconds" => match secs(want, key) {
                Ok(want) => check_eq(key, token.lifetime, want, errs),
                Err(e) => errs.push(e),
            },
            "refresh_after_seconds" => match secs(want, key) {
                Ok(want) => check_eq(key, token.refresh_in, want, errs),
                Err(e) => errs.push(e),
            },
            "expires_at_epoch" => check_eq(key, token.expires_at_epoch, want.as_u64(), errs),
            "issued_at_epoch_ms" => check_eq(key, token.issued_at_epoch_ms, want.as_u64(), errs),
            "assume_now_epoch" => {}
            other if KNOWN_KEYS.contains(&other) => {
                errs.push(format!("expect.{other} does not apply to a success"));
            }
            _ => {}
        }
    }
    // What the cache receives matches what was parsed.
    let fetched: Fetched = token.clone().into();
    check_eq(
        "fetched.access_token",
        &fetched.access_token,
        &token.access_token,
        errs,
    );
    check_eq("fetched.lifetime", fetched.lifetime, token.lifetime, errs);
    check_eq(
        "fetched.refresh_in",
        fetched.refresh_in,
        token.refresh_in,
        errs,
    );
    check_eq(
        "fetched.token_type",
        &fetched.token_type,
        &token.token_type,
        errs,
    );
}

fn check_error(
    expect: &Map<String, Value>,
    e: &freshen_oauth::ResponseError,
    errs: &mut Vec<String>,
) {
    for (key, want) in expect {
        match key.as_str() {
            "error" => check_eq(key, e.error_code(), want.as_str(), errs),
            "retryable" => check_eq(key, Some(e.is_retryable()), want.as_bool(), errs),
            "rate_limited" => check_eq(key, Some(e.is_rate_limited()), want.as_bool(), errs),
            "retry_after_seconds" => match secs(want, key) {
                Ok(want) => check_eq(key, e.retry_after(), want, errs),
                Err(err) => errs.push(err),
            },
            "retry_at_epoch" => check_eq(key, e.retry_at_epoch(), want.as_u64(), errs),
            "min_poll_interval_seconds" => match secs(want, key) {
                Ok(want) => check_eq(key, e.min_poll_interval(), want, errs),
                Err(err) => errs.push(err),
            },
            "provider_code" => check_eq(key, e.provider_code(), want.as_str(), errs),
            "kind" => check_eq(key, Some(kind_tag(e.kind())), want.as_str(), errs),
            "assume_now_epoch" => {}
            other if KNOWN_KEYS.contains(&other) => {
                errs.push(format!("expect.{other} does not apply to an error"));
            }
            _ => {}
        }
    }
    // What every waiter receives agrees with the parsed error.
    let error = e.to_error();
    let want_retry = if e.is_retryable() {
        Retry::Transient
    } else {
        Retry::Permanent
    };
    check_eq("error.retry", error.retry(), want_retry, errs);
    check_eq(
        "error.retry_after",
        error.retry_after(),
        e.retry_after(),
        errs,
    );
    match (error.kind(), e.error_code()) {
        (ErrorKind::OAuth(o), Some(code)) => {
            if !o.code.as_str().eq_ignore_ascii_case(code) {
                errs.push(format!("error.kind code {} != {code}", o.code));
            }
            check_eq("error.kind status", o.status, e.status(), errs);
        }
        (ErrorKind::Status { status }, None) => {
            check_eq("error.kind status", *status, e.status(), errs)
        }
        (ErrorKind::Refused(p) | ErrorKind::Provider(p), None) => {
            check_eq("error.kind status", p.status, e.status(), errs);
            check_eq(
                "error.kind provider code",
                p.code.as_deref(),
                e.provider_code(),
                errs,
            );
        }
        (kind, code) => errs.push(format!("error.kind {kind:?} does not match code {code:?}")),
    }
    // A 401 or 403 without an OAuth code is a refusal, whatever the body.
    if matches!(e.status(), 401 | 403) && e.error_code().is_none() {
        check_eq("kind of a 401/403", kind_tag(e.kind()), "refused", errs);
    }
}

/// The name of an error kind in the vectors' `expect.kind`.
fn kind_tag(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::OAuth(_) => "oauth",
        ErrorKind::Refused(_) => "refused",
        ErrorKind::Provider(_) => "provider",
        ErrorKind::Status { .. } => "status",
        ErrorKind::InvalidResponse(_) => "invalid_response",
        ErrorKind::ResponseTooLarge { .. } => "too_large",
        _ => "other",
    }
}

#[test]
fn every_vector_parses_as_expected() {
    let dir = vectors_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the vectors in {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.json vectors in {}", dir.display());

    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        let result = serde_json::from_str::<Value>(&text)
            .map_err(|e| vec![format!("not JSON: {e}")])
            .and_then(|v| check(&v));
        if let Err(errs) = result {
            failures.push(format!("{name}:\n  - {}", errs.join("\n  - ")));
        }
    }
    println!(
        "checked {} token-response vectors in {}",
        files.len(),
        dir.display()
    );
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// A stable-toolchain stand-in for the fuzz target: every vector, cut and
/// corrupted many ways, under every kind of status, never panics and never
/// yields a token from an error status.
#[test]
fn corrupted_vectors_never_panic() {
    let dir = vectors_dir();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut cases = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let base = response(&v).unwrap();
        for _ in 0..200 {
            let mut resp = base.clone();
            let len = resp.body.len();
            match next() % 4 {
                0 if len > 0 => resp.body.truncate((next() as usize) % len),
                1 if len > 0 => {
                    let i = (next() as usize) % len;
                    resp.body[i] = next() as u8;
                }
                2 => {
                    let i = (next() as usize) % (len + 1);
                    let junk = [b'"', b'{', b'}', b'\\', b'=', b'&', b'%', 0xff, b'-', b'9'];
                    resp.body.insert(i, junk[(next() as usize) % junk.len()]);
                }
                _ => resp.status = [200, 201, 302, 400, 401, 429, 500, 503][(next() as usize) % 8],
            }
            if next() % 3 == 0 {
                let hint = [
                    "30",
                    "-1",
                    "Wed, 21 Oct 2015 07:28:00 GMT",
                    "soon",
                    "1700000060",
                ];
                resp.headers.push((
                    "Retry-After".into(),
                    hint[(next() as usize) % hint.len()].into(),
                ));
            }
            let now = (next() % 2 == 0).then(|| next() % 4_000_000_000);
            match parse_token_response(&resp, now, &ParseOptions::default()) {
                Ok(token) => {
                    assert!((200..300).contains(&resp.status), "{}", path.display());
                    assert!(!token.access_token.is_empty());
                }
                Err(e) => {
                    let _ = format!("{e} {e:?}");
                }
            }
            cases += 1;
        }
    }
    assert!(cases > 0);
}
