//! The component in a real WASI 0.2 host (Node: jco + preview2-shim; or
//! Wasmtime, see common/mod.rs)
//! fetches short-lived tokens over `wasi:http` from a token endpoint on
//! 127.0.0.1 and keeps a `BlockingCache` in `Mode::Inline` fresh across
//! rotations, on the host's real clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use freshen_testkit::{Fault, FaultServer};
use freshen_wasi_http_example::fingerprint;

const CLIENT_ID: &str = "wasip2-client";
const CLIENT_SECRET: &str = "wasip2-s3cret-never-printed";
/// Seconds: short, so two rotations take a few seconds of real time.
const LIFETIME_SECS: i64 = 4;
const ROTATIONS: usize = 2;

#[test]
fn rotates_short_tokens_over_wasi_http() {
    let issued: Arc<Mutex<Vec<String>>> = Arc::default();
    let minted = Arc::clone(&issued);
    let server = FaultServer::with_fn(move |request| {
        let form_ok = request.form_value("grant_type").as_deref() == Some("client_credentials");
        match request.basic_auth() {
            Some((id, secret)) if form_ok && id == CLIENT_ID && secret == CLIENT_SECRET => {
                let mut minted = minted.lock().unwrap();
                let token = format!("wasip2-token-{}-{}", minted.len() + 1, std::process::id());
                minted.push(token.clone());
                Fault::token(token, LIFETIME_SECS)
            }
            _ => Fault::oauth_error("invalid_client"),
        }
    });

    let started = Instant::now();
    let rotations = ROTATIONS.to_string();
    let url = server.token_url();
    let output = common::run(&["rotate", &url, CLIENT_ID, CLIENT_SECRET, &rotations]);
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The transcript, for the CI log (`--nocapture`).
    println!("{stdout}");
    println!("(the host ran for {:.1}s)", took.as_secs_f64());
    assert!(output.status.success(), "the component failed: {stderr}");

    let issued = issued.lock().unwrap().clone();
    assert_eq!(
        issued.len(),
        ROTATIONS + 1,
        "the endpoint issued {issued:?}"
    );
    // Every token the endpoint issued reached the component, in order,
    // and was handed out: its fingerprint is on its generation's line
    // (generations count from 0).
    for (generation, token) in issued.iter().enumerate() {
        let line = format!("token #{generation}: {}", fingerprint(token));
        assert!(stdout.contains(&line), "no {line:?} in the transcript");
    }
    // The refreshes ran ahead of expiry, in the caller (inline), while the
    // held token was still served.
    let stale_refreshes = stdout.matches("started (token stale)").count();
    assert_eq!(stale_refreshes, ROTATIONS, "{stdout}");
    assert!(stdout.contains(&format!(
        "{} tokens over wasi:http, {ROTATIONS} rotations",
        ROTATIONS + 1
    )));
    assert!(stdout.contains(", 0 errors, 0 late"));
    // Every request carried the client's credentials, over the host's HTTP.
    let requests = server.requests();
    assert_eq!(requests.len(), ROTATIONS + 1);
    for r in &requests {
        assert_eq!(r.method, "POST");
        assert!(
            r.header("user-agent")
                .is_some_and(|ua| ua.starts_with("freshen/"))
        );
    }
    // No token and no secret in what the component printed.
    for secret in issued.iter().map(String::as_str).chain([CLIENT_SECRET]) {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} was printed"
        );
    }
}
