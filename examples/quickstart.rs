//! Quickstart: a token cache on tokio with reqwest, against a token endpoint
//! embedded in this program that issues 20-second tokens. For about a minute
//! it prints what happens: each token served (fresh or stale), refreshes
//! starting ahead of expiry, and how much life the old token had left when
//! the new one arrived. Access tokens themselves are never printed.
//!
//! `cargo run --example quickstart` (set `QUICKSTART_SECONDS` to shorten it).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use freshen::{ClientAuth, OAuthSource, Phase, TokenRequest};
use freshen_cache::Clock;
use freshen_reqwest::ReqwestTransport;
use freshen_testkit::{Fault, FaultServer};
use freshen_tokio::{TokioCache, TokioRuntime};

const CLIENT_ID: &str = "quickstart";
const CLIENT_SECRET: &str = "quickstart-secret";
const LIFETIME_SECS: i64 = 20;

#[tokio::main]
async fn main() -> ExitCode {
    let seconds: u64 = std::env::var("QUICKSTART_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);

    // The embedded token endpoint: checks the client's Basic credentials and
    // issues a new token on every request, like a real authorization server.
    let issued = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&issued);
    let endpoint = FaultServer::with_fn(move |request| match request.basic_auth() {
        Some((id, secret)) if id == CLIENT_ID && secret == CLIENT_SECRET => {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            Fault::token(format!("quickstart-token-{n}"), LIFETIME_SECS)
        }
        _ => Fault::oauth_error("invalid_client"),
    });
    println!(
        "token endpoint on {} issues {LIFETIME_SECS}-second tokens; watching for {seconds}s\n",
        endpoint.token_url()
    );

    let request = TokenRequest::client_credentials(
        endpoint.token_url(),
        ClientAuth::basic(CLIENT_ID, CLIENT_SECRET),
    );
    let source = OAuthSource::new(request, ReqwestTransport::new());
    let runtime = TokioRuntime::current();
    let clock = runtime.clone();
    // Clones share the clock's origin, so instants compare across them.
    let reader = runtime.clone();
    let started = clock.now();
    let cache = TokioCache::builder(source, runtime)
        .on_event(move |event| {
            let at = clock.now().saturating_duration_since(started);
            println!("{:>5.1}s  * {event}", at.as_secs_f64());
        })
        .build();

    let mut failures = 0;
    for _ in 0..seconds {
        match cache.token().await {
            Ok(token) => {
                let now = reader.now();
                let at = now.saturating_duration_since(started);
                let phase = match token.phase(now) {
                    Phase::Fresh => format!(
                        "fresh, stale in {:.1}s",
                        token
                            .refresh_at()
                            .saturating_duration_since(now)
                            .as_secs_f64()
                    ),
                    Phase::Stale => format!(
                        "stale, usable for {:.1}s more",
                        token
                            .usable_until()
                            .saturating_duration_since(now)
                            .as_secs_f64()
                    ),
                    Phase::Expired => "expired (never served)".to_owned(),
                };
                println!(
                    "{:>5.1}s  served token #{} ({phase})",
                    at.as_secs_f64(),
                    token.generation().number()
                );
            }
            Err(error) => {
                failures += 1;
                println!("error: {error}");
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    println!(
        "\n{} tokens issued in {seconds}s; every call was served at once from the cache.",
        issued.load(Ordering::SeqCst)
    );
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
