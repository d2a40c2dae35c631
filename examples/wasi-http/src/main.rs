//! A wasm32-wasip2 component: freshen over `wasi:http`, in a real WASI 0.2
//! host (jco's transpiler and the preview2 shim in Node: host/run.mjs).
//!
//! - `rotate <token-url> <client-id> <client-secret> <rotations>`: a
//!   [`BlockingCache`] in [`Mode::Inline`] over an [`OAuthSource`] with
//!   [`WasiHttpTransport`] fetches a token from the endpoint, then keeps
//!   asking for one every 200 ms until it has seen `rotations` refreshes,
//!   printing each token it is handed (as a fingerprint, never the token)
//!   and each lifecycle event. Time is the host's monotonic clock, so the
//!   endpoint's tokens must be short (a few seconds). Exits with 1 on any
//!   error, on a token handed out past its usable time, or when the
//!   rotations do not come within 60 s.
//! - `serve`: prints `ready`, then reads one request per line on stdin and sends it with
//!   [`WasiHttpTransport`], printing the outcome on stdout (the protocol in
//!   the crate's library), so the native tests run testkit's transport
//!   conformance suite through the real host.
//!
//! ```text
//! bash .ci/wasip2.sh   # builds, transpiles and runs all of it
//! ```

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use freshen_blocking::{BlockingCache, Mode};
use freshen_core::{Phase, Policy};
use freshen_oauth::{ClientAuth, OAuthSource, TokenRequest, Transport};
use freshen_wasi_http::WasiHttpTransport;
use freshen_wasi_http_example::{decode_send, encode_outcome, fingerprint};

/// How often the loop asks the cache for a token.
const EVERY: Duration = Duration::from_millis(200);
/// How long `rotate` waits for its rotations at most.
const GIVE_UP: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [_, "serve"] => serve(),
        [_, "rotate", url, id, secret, rotations] => match rotations.parse() {
            Ok(rotations) => rotate(url, id, secret, rotations),
            Err(_) => usage(),
        },
        _ => usage(),
    }
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: freshen-wasi-http-example serve | rotate <token-url> <client-id> <client-secret> <rotations>"
    );
    ExitCode::from(2)
}

/// One request per stdin line, one outcome per stdout line, until EOF.
fn serve() -> ExitCode {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    // Up and reading: the tests time requests from here, not from the
    // host's start.
    if writeln!(stdout, "ready")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let reply = match decode_send(line.trim_end()) {
            Ok((config, request)) => {
                encode_outcome(&WasiHttpTransport::with_config(config).send(&request))
            }
            Err(reason) => format!("bad {reason}"),
        };
        if writeln!(stdout, "{reply}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn rotate(url: &str, id: &str, secret: &str, rotations: u64) -> ExitCode {
    let policy = match Policy::builder().jitter(0.0).build() {
        Ok(policy) => policy,
        Err(e) => {
            println!("policy: {e}");
            return ExitCode::FAILURE;
        }
    };
    let request = TokenRequest::client_credentials(url, ClientAuth::basic(id, secret));
    let source = OAuthSource::new(request, WasiHttpTransport::new());
    let started = std::time::Instant::now();
    let at = move || started.elapsed().as_secs_f64();
    let cache = BlockingCache::builder(source)
        .mode(Mode::Inline)
        .policy(policy)
        .on_event(move |event| println!("{:>5.1}s  * {event}", at()))
        .build();
    println!("freshen on wasm32-wasip2: BlockingCache in Mode::Inline, OAuthSource over wasi:http");

    let mut last = None;
    let mut seen: u64 = 0;
    let mut errors = 0;
    let mut late = 0;
    while seen <= rotations && started.elapsed() < GIVE_UP {
        match cache.token() {
            Ok(token) => {
                let now = cache.now();
                let generation = token.generation().number();
                if last != Some(generation) {
                    last = Some(generation);
                    seen += 1;
                    let lifetime = token.expires_at().saturating_duration_since(now);
                    println!(
                        "{:>5.1}s  token #{generation}: {} (expires in {:.1}s)",
                        at(),
                        fingerprint(token.secret()),
                        lifetime.as_secs_f64()
                    );
                }
                if token.phase(now) == Phase::Expired {
                    late += 1;
                    println!(
                        "{:>5.1}s  token #{generation} handed out past its usable time",
                        at()
                    );
                }
            }
            Err(error) => {
                errors += 1;
                println!("{:>5.1}s  error: {error}", at());
            }
        }
        std::thread::sleep(EVERY);
    }
    let rotated = seen.saturating_sub(1);
    println!(
        "{} tokens over wasi:http, {rotated} rotations in {:.1}s, {errors} errors, {late} late",
        seen,
        at()
    );
    if rotated >= rotations && errors == 0 && late == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
