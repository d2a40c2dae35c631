//! The wire against a real OAuth2 server this project did not write: npm's
//! `oidc-provider` in `tests/oauth-server` (see its README).
//!
//! The server is the one at `OAUTH_SERVER_URL` when that is set (CI starts
//! it). Otherwise this test process starts its own, once, with
//! `tests/oauth-server/start.sh` (`PORT=0`, `TOKEN_TTL=6`), passing its pid
//! as `FRESHEN_PARENT_PID` so the server exits when the process is gone.
//! Without node and npm the tests fail and say so.
//!
//! Every case runs through every transport: ureq (blocking, with
//! `BlockingCache`), reqwest (on tokio with `TokioCache`), ureq `async` (on
//! smol with `SmolCache`) and surf (on smol with `SmolCache`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    unreachable_pub
)]

use std::fmt::Debug;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use freshen_blocking::BlockingCache;
use freshen_core::{BlockingTokenSource, Error, ErrorCode, ErrorKind, Event, Policy, TokenSource};
use freshen_jwt::{ClientAssertion, JwtBearer, SigningKey, TokenFile};
use freshen_oauth::transport::TransportConfig;
use freshen_oauth::{AsyncTransport, ClientAuth, OAuthSource, PerAttempt, TokenRequest, Transport};
use freshen_reqwest::ReqwestTransport;
use freshen_smol::{SmolCache, SmolRuntime};
use freshen_surf::SurfTransport;
use freshen_tokio::{TokioCache, TokioRuntime};
use freshen_ureq::UreqTransport;

const BASIC_ID: &str = "freshen-basic";
const BASIC_SECRET: &str = "s3cr3t:basic+/%";
/// `BASIC_SECRET` form-urlencoded, as it goes into the Basic header.
const BASIC_SECRET_FORM: &str = "s3cr3t%3Abasic%2B%2F%25";
const POST_ID: &str = "freshen-post";
const POST_SECRET: &str = "s3cr3t-post";
const WRONG_SECRET: &str = "s3cr3t-wrong-one";

/// `TOKEN_TTL` of a server this test starts itself.
const SELF_STARTED_TTL: u64 = 6;

// ---------------------------------------------------------------------------
// The server.
// ---------------------------------------------------------------------------

static SERVER: OnceLock<Result<String, String>> = OnceLock::new();

/// The server's base URL (`http://127.0.0.1:<port>`), starting it once per
/// test process if `OAUTH_SERVER_URL` is not set.
fn base_url() -> &'static str {
    let server = SERVER.get_or_init(|| {
        if let Ok(url) = std::env::var("OAUTH_SERVER_URL") {
            let url = url.trim().trim_end_matches('/');
            if !url.is_empty() {
                println!("using the OAuth2 server at OAUTH_SERVER_URL={url}");
                return Ok(url.to_string());
            }
        }
        start_server()
    });
    match server {
        Ok(url) => url,
        Err(why) => panic!("{why}"),
    }
}

fn token_url() -> String {
    format!("{}/token", base_url())
}

fn start_server() -> Result<String, String> {
    for tool in ["node", "npm"] {
        let found = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Err(format!(
                "tests/real_server.rs needs `{tool}` (Node.js 20 or later with npm) to start the \
                 oidc-provider test server in tests/oauth-server; install it, or start the \
                 server yourself and set OAUTH_SERVER_URL (see tests/oauth-server/README.md)"
            ));
        }
    }
    let server_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oauth-server");
    if !server_dir.join("node_modules/oidc-provider").is_dir() {
        // What start.sh would do, but here, in the one shared place.
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&server_dir)
            .output()
            .map_err(|e| format!("cannot run npm ci in {}: {e}", server_dir.display()))?;
        if !installed.status.success() {
            return Err(format!(
                "npm ci in {} failed: {}",
                server_dir.display(),
                String::from_utf8_lossy(&installed.stderr)
            ));
        }
    }
    let script = run_dir(&server_dir)?.join("start.sh");
    let started = Instant::now();
    let output = Command::new("bash")
        .arg(&script)
        .env("PORT", "0")
        .env("TOKEN_TTL", SELF_STARTED_TTL.to_string())
        .env("STRICT_AUTH_METHOD", "1")
        .env("START_TIMEOUT", "120")
        .env("FRESHEN_PARENT_PID", std::process::id().to_string())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let url = stdout
        .lines()
        .find_map(|l| l.strip_prefix("OAUTH_SERVER_URL="))
        .map(|u| u.trim().trim_end_matches('/').to_string());
    match url {
        Some(url) if output.status.success() && !url.is_empty() => {
            println!(
                "started the OAuth2 server at {url} (TOKEN_TTL={SELF_STARTED_TTL}) in {:?}",
                started.elapsed()
            );
            Ok(url)
        }
        _ => Err(format!(
            "{} failed ({}); stdout:\n{stdout}\nstderr:\n{stderr}",
            script.display(),
            output.status
        )),
    }
}

/// A directory of this process's own whose entries are symlinks to
/// `tests/oauth-server`'s files. start.sh works in the directory it is run
/// from and keeps one pid file, log and URL file there (and stops the server
/// of an earlier pid file first), so two test processes starting it from
/// `tests/oauth-server` itself (two `cargo test` runs at once) would stop
/// each other's server. Run from here, each has its own; the script, the
/// server and its `node_modules` are still the ones in `tests/oauth-server`
/// (node resolves the symlinked `server.mjs` to its real path).
fn run_dir(server_dir: &Path) -> Result<std::path::PathBuf, String> {
    let runs = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oauth-server");
    let own = std::process::id();
    // Leftovers of test processes that are gone.
    if let Ok(entries) = std::fs::read_dir(&runs) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix("pid-")
                .and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|p| p != own && !Path::new(&format!("/proc/{p}")).exists())
                && Path::new("/proc/self").exists()
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = runs.join(format!("pid-{own}"));
    let fail = |e: std::io::Error| format!("cannot prepare {}: {e}", dir.display());
    std::fs::create_dir_all(&dir).map_err(fail)?;
    for name in [
        "start.sh",
        "stop.sh",
        "test-only-keys",
        "server.mjs",
        "package.json",
        "package-lock.json",
        "node_modules",
    ] {
        let link = dir.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            #[cfg(unix)]
            std::os::unix::fs::symlink(server_dir.join(name), &link).map_err(fail)?;
            #[cfg(not(unix))]
            return Err(format!(
                "starting the server needs a unix host (bash, symlinks) to link {}; \
                 start it yourself and set OAUTH_SERVER_URL",
                link.display()
            ));
        }
    }
    Ok(dir)
}

// ---------------------------------------------------------------------------
// Every transport, each with its cache.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ureq,
    Reqwest,
    UreqAsync,
    Surf,
}

const KINDS: [Kind; 4] = [Kind::Ureq, Kind::Reqwest, Kind::UreqAsync, Kind::Surf];

/// What a test needs of a cache, whatever its driver: `token()` called from
/// a plain thread, and its `Debug`.
trait Driver: Send + Sync {
    /// The token's secret and `Debug`s of the `TokenRef` and the token, or
    /// the error.
    fn token(&self) -> Result<Served, Error>;
    /// `{:?}` of the cache.
    fn debug(&self) -> String;
}

/// One token handed out: its value and what it shows.
struct Served {
    secret: String,
    generation: u64,
    shown: String,
}

fn served(token: &freshen_cache::TokenRef<'_>) -> Served {
    let owned = Arc::new((**token).clone());
    Served {
        secret: token.secret().to_string(),
        generation: token.generation().number(),
        shown: format!(
            "{token:?} {owned:?} {:?} {:?} {:?}",
            **token,
            token.schedule(),
            token.token_type()
        ),
    }
}

struct BlockingDriver<P: PerAttempt = ()>(BlockingCache<OAuthSource<UreqTransport, P>>);

impl<P: PerAttempt> Driver for BlockingDriver<P> {
    fn token(&self) -> Result<Served, Error> {
        self.0.token().map(|t| served(&t))
    }
    fn debug(&self) -> String {
        format!("{:?}", self.0)
    }
}

struct TokioDriver<P: PerAttempt = ()> {
    cache: TokioCache<OAuthSource<ReqwestTransport, P>>,
    runtime: tokio::runtime::Runtime,
}

impl<P: PerAttempt> Driver for TokioDriver<P> {
    fn token(&self) -> Result<Served, Error> {
        self.runtime
            .block_on(self.cache.token())
            .map(|t| served(&t))
    }
    fn debug(&self) -> String {
        format!("{:?} {:?}", self.cache, self.runtime)
    }
}

struct SmolDriver<T: AsyncTransport, P: PerAttempt = ()>(SmolCache<OAuthSource<T, P>>);

impl<T: AsyncTransport, P: PerAttempt> Driver for SmolDriver<T, P> {
    fn token(&self) -> Result<Served, Error> {
        smol::block_on(self.0.token()).map(|t| served(&t))
    }
    fn debug(&self) -> String {
        format!("{:?}", self.0)
    }
}

type Events = Arc<Mutex<Vec<Event>>>;

fn record(events: &Events) -> impl Fn(&Event) + Send + Sync + 'static {
    let events = Arc::clone(events);
    move |e| events.lock().unwrap().push(e.clone())
}

/// A cache of transport `kind` for `client`, recording its events.
fn driver(kind: Kind, client: ClientAuth, events: &Events) -> Box<dyn Driver> {
    let request = TokenRequest::client_credentials(token_url(), client);
    driver_for(kind, request, (), events)
}

/// A cache of transport `kind` sending `request` with what `per_attempt`
/// makes for each attempt, recording its events.
fn driver_for<P: PerAttempt>(
    kind: Kind,
    request: TokenRequest,
    per_attempt: P,
    events: &Events,
) -> Box<dyn Driver> {
    let config = TransportConfig::new();
    match kind {
        Kind::Ureq => {
            let source = OAuthSource::new(request, UreqTransport::with_config(config))
                .with_per_attempt(per_attempt);
            Box::new(BlockingDriver(
                BlockingCache::builder(source)
                    .on_event(record(events))
                    .build(),
            ))
        }
        Kind::Reqwest => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let source =
                OAuthSource::new(request, ReqwestTransport::try_with_config(config).unwrap())
                    .with_per_attempt(per_attempt);
            let cache =
                TokioCache::builder(source, TokioRuntime::from_handle(runtime.handle().clone()))
                    .on_event(record(events))
                    .build();
            Box::new(TokioDriver { cache, runtime })
        }
        Kind::UreqAsync => {
            let source = OAuthSource::new(request, UreqTransport::with_config(config))
                .with_per_attempt(per_attempt);
            Box::new(SmolDriver(
                SmolCache::builder(source, SmolRuntime::new())
                    .on_event(record(events))
                    .build(),
            ))
        }
        Kind::Surf => {
            let source = OAuthSource::new(request, SurfTransport::with_config(config))
                .with_per_attempt(per_attempt);
            Box::new(SmolDriver(
                SmolCache::builder(source, SmolRuntime::new())
                    .on_event(record(events))
                    .build(),
            ))
        }
    }
}

fn basic() -> ClientAuth {
    ClientAuth::basic(BASIC_ID, BASIC_SECRET)
}

fn post() -> ClientAuth {
    ClientAuth::post(POST_ID, POST_SECRET)
}

/// The lifetimes of the `RefreshSucceeded` events so far.
fn successes(events: &Events) -> Vec<(Duration, Option<Duration>)> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::RefreshSucceeded {
                lifetime,
                left_on_old,
                ..
            } => Some((*lifetime, *left_on_old)),
            _ => None,
        })
        .collect()
}

/// Waits (up to 2 s) until the events recorded satisfy `done`: the cache
/// calls its event sink after it has woken the attempt's waiters, so a
/// caller may hold its token a moment before the event is seen.
fn wait_events(events: &Events, done: impl Fn(&[Event]) -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if done(&events.lock().unwrap()) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn has_success(events: &[Event]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, Event::RefreshSucceeded { .. }))
}

/// Runs `case` for every transport at once, one thread each.
fn each_transport(case: impl Fn(Kind) + Sync) {
    let case = &case;
    std::thread::scope(|scope| {
        let handles: Vec<_> = KINDS
            .iter()
            .map(|&kind| (kind, scope.spawn(move || case(kind))))
            .collect();
        let failed: Vec<Kind> = handles
            .into_iter()
            .filter_map(|(kind, h)| h.join().is_err().then_some(kind))
            .collect();
        assert!(failed.is_empty(), "failed for {failed:?} (see above)");
    });
}

// ---------------------------------------------------------------------------
// a. / b. Client credentials, both authentication methods.
// ---------------------------------------------------------------------------

fn gets_a_token(kind: Kind, client: ClientAuth) {
    let events = Events::default();
    let cache = driver(kind, client, &events);
    serves_one_token(kind, &*cache, &events);
}

/// One token from `cache`, with one success event, served again while fresh.
fn serves_one_token(kind: Kind, cache: &dyn Driver, events: &Events) {
    let events = Arc::clone(events);
    let started = Instant::now();
    let token = cache
        .token()
        .unwrap_or_else(|e| panic!("{kind:?}: no token: {e}"));
    assert!(token.secret.len() >= 16, "{kind:?}: a short token?");
    assert!(wait_events(&events, has_success), "{kind:?}: no event");
    let lifetimes = successes(&events);
    assert_eq!(lifetimes.len(), 1, "{kind:?}: {lifetimes:?}");
    let (lifetime, left_on_old) = lifetimes[0];
    assert!(
        (1..=3600).contains(&lifetime.as_secs()),
        "{kind:?}: lifetime {lifetime:?}"
    );
    assert_eq!(left_on_old, None);
    // A fresh token is served again from the cache.
    assert_eq!(cache.token().unwrap().secret, token.secret);
    println!(
        "{kind:?}: token in {:?}, lifetime {lifetime:?}",
        started.elapsed()
    );
}

#[test]
fn client_secret_basic_gets_a_token() {
    each_transport(|kind| gets_a_token(kind, basic()));
}

#[test]
fn client_secret_post_gets_a_token() {
    each_transport(|kind| gets_a_token(kind, post()));
}

// ---------------------------------------------------------------------------
// c. A wrong secret, and the right secret sent the wrong way.
// ---------------------------------------------------------------------------

fn is_invalid_client(kind: Kind, client: ClientAuth) -> Error {
    let events = Events::default();
    let cache = driver(kind, client, &events);
    refused_with(kind, &*cache, &events, ErrorCode::InvalidClient, 401)
}

/// `cache` gets no token but a permanent OAuth error `code` with `status`,
/// and reports it in a `RefreshFailed` event.
fn refused_with(
    kind: Kind,
    cache: &dyn Driver,
    events: &Events,
    code: ErrorCode,
    status: u16,
) -> Error {
    let events = Arc::clone(events);
    let error = match cache.token() {
        Ok(_) => panic!("{kind:?}: a token with bad credentials"),
        Err(e) => e,
    };
    match error.kind() {
        ErrorKind::OAuth(e) => {
            assert_eq!(e.code, code, "{kind:?}: {error}");
            assert_eq!(e.status, status, "{kind:?}: {error}");
        }
        other => panic!("{kind:?}: expected {code:?}, got {other:?}: {error}"),
    }
    assert!(error.is_permanent(), "{kind:?}: {error:?}");
    let failed = wait_events(&events, |events| {
        events
            .iter()
            .any(|e| matches!(e, Event::RefreshFailed { error: f, .. } if f == &error))
    });
    assert!(failed, "{kind:?}: no RefreshFailed event with the error");
    error
}

#[test]
fn wrong_secret_is_invalid_client_and_permanent() {
    each_transport(|kind| {
        is_invalid_client(kind, ClientAuth::basic(BASIC_ID, WRONG_SECRET));
        is_invalid_client(kind, ClientAuth::post(POST_ID, WRONG_SECRET));
    });
}

#[test]
fn the_registered_auth_method_is_the_one_used() {
    // The server's STRICT_AUTH_METHOD refuses a client that authenticates
    // with the method it is not registered with: proof that the two cases
    // above really used Basic and the body.
    each_transport(|kind| {
        is_invalid_client(kind, ClientAuth::post(BASIC_ID, BASIC_SECRET));
        is_invalid_client(kind, ClientAuth::basic(POST_ID, POST_SECRET));
    });
}

// ---------------------------------------------------------------------------
// d. Refresh-ahead, in real time, across short-lived tokens.
// ---------------------------------------------------------------------------

fn refreshes_ahead(kind: Kind) {
    let events = Events::default();
    let cache = driver(kind, basic(), &events);
    refreshes_ahead_with(kind, &*cache, &events);
}

/// Two lifetimes of calls to `cache`: several refreshes ahead of expiry,
/// no failure, distinct tokens served in order.
fn refreshes_ahead_with(kind: Kind, cache: &dyn Driver, events: &Events) {
    let events = Arc::clone(events);
    let started = Instant::now();
    let first = cache.token().unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    assert!(wait_events(&events, has_success), "{kind:?}: no event");
    let lifetime = successes(&events)[0].0;
    assert!(
        (2..=30).contains(&lifetime.as_secs()),
        "{kind:?}: a lifetime of {lifetime:?} is too long for this test (TOKEN_TTL 6–8 s)"
    );
    // Two lifetimes of calls, every 200 ms: well past the first token's
    // expiry, across several refreshes.
    let until = started + lifetime * 2;
    let mut served = vec![(first.generation, first.secret)];
    let mut calls = 1_u32;
    let mut slowest = Duration::ZERO;
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(200));
        let t0 = Instant::now();
        let token = cache
            .token()
            .unwrap_or_else(|e| panic!("{kind:?}: call {calls} failed: {e}"));
        let took = t0.elapsed();
        slowest = slowest.max(took);
        assert!(
            took < Duration::from_secs(1),
            "{kind:?}: call {calls} waited {took:?} for a token"
        );
        calls += 1;
        served.push((token.generation, token.secret));
    }
    let elapsed = started.elapsed();

    let succeeded = successes(&events);
    assert!(
        succeeded.len() >= 3,
        "{kind:?}: {} refreshes in {elapsed:?} with lifetime {lifetime:?}: {:?}",
        succeeded.len(),
        events.lock().unwrap()
    );
    assert_eq!(
        succeeded[0].1, None,
        "{kind:?}: the first had a predecessor"
    );
    for (i, (_, left)) in succeeded.iter().enumerate().skip(1) {
        let left = left.unwrap_or_else(|| panic!("{kind:?}: refresh {i} replaced nothing"));
        assert!(
            left > Duration::ZERO,
            "{kind:?}: refresh {i} came after the old token expired"
        );
    }
    let failures: Vec<Event> = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::RefreshFailed { .. } | Event::NoProgress { .. }))
        .cloned()
        .collect();
    assert!(failures.is_empty(), "{kind:?}: {failures:?}");

    // Distinct tokens, served in order: the generation never goes back, a
    // new generation is a new token, and no token comes back once replaced.
    let mut distinct: Vec<(u64, String)> = Vec::new();
    for (generation, secret) in &served {
        match distinct.last() {
            Some((g, s)) if g == generation => {
                assert_eq!(s, secret, "{kind:?}: one generation, two tokens");
            }
            Some((g, _)) if g > generation => {
                panic!("{kind:?}: generation {generation} served after {g}")
            }
            _ => {
                assert!(
                    distinct.iter().all(|(_, s)| s != secret),
                    "{kind:?}: a replaced token came back"
                );
                distinct.push((*generation, secret.clone()));
            }
        }
    }
    assert!(
        distinct.len() >= 3,
        "{kind:?}: only {} distinct tokens served",
        distinct.len()
    );
    let left: Vec<String> = succeeded
        .iter()
        .skip(1)
        .map(|(_, l)| format!("{:.1} s", l.unwrap_or_default().as_secs_f64()))
        .collect();
    println!(
        "{kind:?}: lifetime {lifetime:?}, {calls} calls in {elapsed:.1?} (slowest {slowest:.1?}), \
         {} tokens served in order, refreshed with {} left on the old token",
        distinct.len(),
        left.join(", ")
    );
}

#[test]
fn refresh_ahead_across_short_lived_tokens() {
    each_transport(refreshes_ahead);
}

// ---------------------------------------------------------------------------
// Secret hygiene.
// ---------------------------------------------------------------------------

fn base64(bytes: &[u8]) -> String {
    const SYMBOLS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        let sym = |shift: u32| char::from(SYMBOLS[((n >> shift) & 63) as usize]);
        out.push(sym(18));
        out.push(sym(12));
        out.push(if chunk.len() > 1 { sym(6) } else { '=' });
        out.push(if chunk.len() > 2 { sym(0) } else { '=' });
    }
    out
}

/// `{:?}` (and `{}` where there is one) of everything a session touches.
#[derive(Default)]
struct Shown {
    text: Vec<String>,
    tokens: Vec<String>,
}

impl Shown {
    fn debug(&mut self, value: &impl Debug) {
        self.text.push(format!("{value:?} {value:#?}"));
    }
    fn error(&mut self, error: &Error) {
        self.text
            .push(format!("{error} {error:?} {:?} {error:#}", error.kind()));
        if let ErrorKind::OAuth(e) = error.kind() {
            self.text.push(format!("{e} {e:?} {}", e.code));
        }
    }
}

/// The pieces of a token request that the cache hides, formatted.
fn twin_session(
    shown: &mut Shown,
    client: ClientAuth,
    transport: &impl Debug,
    config: &TransportConfig,
) {
    let request = TokenRequest::client_credentials(token_url(), client.clone());
    let http = request.to_http_request().unwrap();
    shown.debug(&client);
    shown.debug(&client.method());
    shown.debug(&request);
    shown.debug(request.grant());
    shown.debug(&http);
    shown.debug(transport);
    shown.debug(config);
    shown.debug(&request.parse_options());
}

fn hygiene(kind: Kind) -> Shown {
    let mut shown = Shown::default();
    let config = TransportConfig::new();
    for client in [basic(), post(), ClientAuth::basic(BASIC_ID, WRONG_SECRET)] {
        let events = Events::default();
        let cache = driver(kind, client.clone(), &events);
        match cache.token() {
            Ok(t) => {
                shown.text.push(t.shown.clone());
                shown.tokens.push(t.secret);
            }
            Err(e) => shown.error(&e),
        }
        shown.text.push(cache.debug());
        for e in events.lock().unwrap().iter() {
            shown.debug(e);
            shown.text.push(format!("{e} {e:#}"));
            match e {
                Event::RefreshFailed { error, .. } => shown.error(error),
                Event::RefreshStarted { reason, .. } => shown.text.push(format!("{reason}")),
                _ => {}
            }
        }

        // The source, transport and responses straight, without the cache.
        let request = TokenRequest::client_credentials(token_url(), client.clone());
        let fetched = match kind {
            Kind::Ureq | Kind::UreqAsync => {
                let transport = UreqTransport::with_config(config.clone());
                twin_session(&mut shown, client.clone(), &transport, &config);
                let response = Transport::send(&transport, &request.to_http_request().unwrap());
                shown.debug(&response);
                let source = OAuthSource::new(request, transport);
                let fetched = if kind == Kind::Ureq {
                    BlockingTokenSource::fetch(&source)
                } else {
                    smol::block_on(TokenSource::fetch(&source))
                };
                shown.debug(&source);
                fetched
            }
            Kind::Reqwest => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let transport = ReqwestTransport::try_with_config(config.clone()).unwrap();
                twin_session(&mut shown, client.clone(), &transport, &config);
                let http = request.to_http_request().unwrap();
                let response = runtime.block_on(AsyncTransport::send(&transport, http));
                shown.debug(&response);
                let source = OAuthSource::new(request, transport);
                let fetched = runtime.block_on(TokenSource::fetch(&source));
                shown.debug(&source);
                fetched
            }
            Kind::Surf => {
                let transport = SurfTransport::with_config(config.clone());
                twin_session(&mut shown, client.clone(), &transport, &config);
                let http = request.to_http_request().unwrap();
                let response = smol::block_on(AsyncTransport::send(&transport, http));
                shown.debug(&response);
                let source = OAuthSource::new(request, transport);
                let fetched = smol::block_on(TokenSource::fetch(&source));
                shown.debug(&source);
                fetched
            }
        };
        match &fetched {
            Ok(f) => {
                shown.tokens.push(f.access_token.expose().to_string());
                shown.debug(f);
                shown.debug(&f.access_token);
            }
            Err(e) => shown.error(e),
        }
    }
    shown.debug(&Policy::default());
    shown
}

#[test]
fn no_secret_or_token_in_any_debug_or_display() {
    let shown: Vec<Shown> = std::thread::scope(|scope| {
        let handles: Vec<_> = KINDS
            .iter()
            .map(|&kind| scope.spawn(move || hygiene(kind)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let basic_credentials = base64(format!("{BASIC_ID}:{BASIC_SECRET_FORM}").as_bytes());
    let mut forbidden: Vec<String> = vec![
        "s3cr3t".into(),
        BASIC_SECRET.into(),
        BASIC_SECRET_FORM.into(),
        POST_SECRET.into(),
        WRONG_SECRET.into(),
        basic_credentials,
    ];
    let mut tokens = 0;
    let mut texts = 0;
    for s in &shown {
        for t in &s.tokens {
            assert!(t.len() >= 16, "a short token?");
            forbidden.push(t.clone());
        }
        tokens += s.tokens.len();
        texts += s.text.len();
    }
    // Per transport: two tokens from the cache, two straight from a source.
    assert_eq!(
        tokens,
        KINDS.len() * 4,
        "every session should get its tokens"
    );
    for s in &shown {
        for text in &s.text {
            for secret in &forbidden {
                assert!(
                    !text.contains(secret.as_str()),
                    "a secret or token is shown: …{}…",
                    text.replace(secret.as_str(), "<<HERE>>")
                );
            }
        }
    }
    println!("{texts} formatted values, {tokens} tokens and 6 secret forms checked: nothing shown");
}

// ---------------------------------------------------------------------------
// e. Credentials made per attempt (freshen-jwt): private_key_jwt (RS256,
//    ES256), client_secret_jwt (HS256), the JWT-bearer grant, and tokens
//    read from a rotating file (workload identity). The server checks every
//    assertion's signature, iss/sub/aud, exp, and refuses a jti it has seen.
// ---------------------------------------------------------------------------

const SECRET_JWT: &str = "test-only-hs256-secret-0123456789abcdef";
const SERVICE_ACCOUNT: &str = "robot@freshen.test";

fn key_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/oauth-server/test-only-keys")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn rs256() -> SigningKey {
    SigningKey::from_pem(&key_file("rsa.pem")).unwrap()
}

fn es256() -> SigningKey {
    SigningKey::from_jwk(&key_file("ec.jwk.json")).unwrap()
}

fn hs256() -> SigningKey {
    SigningKey::hs256(SECRET_JWT).unwrap()
}

/// Client credentials as `client_id`, authenticated by `auth`'s assertion.
fn asserting(kind: Kind, client: ClientAuth, key: SigningKey, events: &Events) -> Box<dyn Driver> {
    let request = TokenRequest::client_credentials(token_url(), client);
    driver_for(kind, request, ClientAssertion::new(key), events)
}

fn assertion_clients() -> [(ClientAuth, fn() -> SigningKey); 3] {
    [
        (ClientAuth::private_key_jwt("freshen-pkjwt-rs"), rs256),
        (ClientAuth::private_key_jwt("freshen-pkjwt-es"), es256),
        (ClientAuth::client_secret_jwt("freshen-secret-jwt"), hs256),
    ]
}

#[test]
fn private_key_jwt_and_client_secret_jwt_get_tokens() {
    each_transport(|kind| {
        for (client, key) in assertion_clients() {
            let events = Events::default();
            serves_one_token(kind, &*asserting(kind, client, key(), &events), &events);
        }
    });
}

#[test]
fn a_fresh_assertion_for_every_refresh() {
    // The server refuses a jti it has already seen: several refreshes in a
    // row succeed only if each attempt signed its own assertion.
    each_transport(|kind| {
        let events = Events::default();
        let cache = asserting(
            kind,
            ClientAuth::private_key_jwt("freshen-pkjwt-es"),
            es256(),
            &events,
        );
        refreshes_ahead_with(kind, &*cache, &events);
    });
}

#[test]
fn a_wrong_key_is_a_permanent_invalid_client() {
    each_transport(|kind| {
        let wrong = [
            // A key the server does not know.
            (
                ClientAuth::private_key_jwt("freshen-pkjwt-rs"),
                SigningKey::from_pem(&key_file("rsa-wrong.pem")).unwrap(),
            ),
            // A known key, but another client's.
            (ClientAuth::private_key_jwt("freshen-pkjwt-rs"), es256()),
            // Another secret.
            (
                ClientAuth::client_secret_jwt("freshen-secret-jwt"),
                SigningKey::hs256("another-secret-of-at-least-32-bytes!").unwrap(),
            ),
        ];
        for (client, key) in wrong {
            let events = Events::default();
            refused_with(
                kind,
                &*asserting(kind, client, key, &events),
                &events,
                ErrorCode::InvalidClient,
                401,
            );
        }
    });
}

#[test]
fn the_jwt_bearer_grant_gets_a_token_and_a_wrong_key_is_invalid_grant() {
    each_transport(|kind| {
        let request = || {
            TokenRequest::jwt_bearer(token_url()).with_client(ClientAuth::public("freshen-grants"))
        };
        let events = Events::default();
        let bearer = JwtBearer::new(rs256(), SERVICE_ACCOUNT).with_claim("scope", "api:read");
        serves_one_token(
            kind,
            &*driver_for(kind, request(), bearer, &events),
            &events,
        );

        let events = Events::default();
        let wrong = JwtBearer::new(
            SigningKey::from_pem(&key_file("rsa-wrong.pem")).unwrap(),
            SERVICE_ACCOUNT,
        );
        refused_with(
            kind,
            &*driver_for(kind, request(), wrong, &events),
            &events,
            ErrorCode::InvalidGrant,
            400,
        );
    });
}

/// A token file rewritten by "the kubelet" (this test, signing as the
/// cluster with the test-only EC key).
struct ProjectedToken {
    dir: std::path::PathBuf,
}

impl ProjectedToken {
    fn new(kind: Kind, name: &str) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("projected-{}-{name}-{kind:?}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        ProjectedToken { dir }
    }

    fn path(&self) -> std::path::PathBuf {
        self.dir.join("token")
    }

    /// Writes a new token as the kubelet does: to a new file, renamed over.
    fn rotate(&self, token: &str) {
        let next = self.dir.join("token.next");
        std::fs::write(&next, token).unwrap();
        std::fs::rename(&next, self.path()).unwrap();
    }
}

impl Drop for ProjectedToken {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A JWT signed by `key` with `iss`, `sub` and `aud`, as a cluster issues
/// projected service-account tokens (made here with freshen-jwt's signer).
fn cluster_token(key: SigningKey, iss: &str, sub: &str, aud: &str) -> String {
    let bearer = JwtBearer::new(key, iss)
        .with_subject(sub)
        .with_audience(aud);
    let target = freshen_oauth::AttemptTarget {
        client_id: None,
        token_url: aud.into(),
    };
    bearer
        .make_blocking(&target)
        .unwrap()
        .grant_assertion()
        .unwrap()
        .expose()
        .to_string()
}

#[test]
fn a_client_assertion_file_is_read_at_every_attempt() {
    // Azure workload identity: AZURE_FEDERATED_TOKEN_FILE holds the client
    // assertion. Each attempt must send what the file holds then.
    each_transport(|kind| {
        let file = ProjectedToken::new(kind, "assertion");
        let id = "freshen-federated";
        let signed = |key: SigningKey| cluster_token(key, id, id, &token_url());
        file.rotate(&signed(es256()));
        let events = Events::default();
        let request =
            TokenRequest::client_credentials(token_url(), ClientAuth::private_key_jwt(id));
        let cache = driver_for(
            kind,
            request,
            TokenFile::client_assertion(file.path()),
            &events,
        );
        let first = cache.token().unwrap_or_else(|e| panic!("{kind:?}: {e}"));

        // A token file signed by a stranger: the next attempt reads it and
        // is refused, so the file really is read again.
        file.rotate(&signed(
            SigningKey::from_pem(&key_file("rsa-wrong.pem")).unwrap(),
        ));
        let events = Events::default();
        let request =
            TokenRequest::client_credentials(token_url(), ClientAuth::private_key_jwt(id));
        let cache2 = driver_for(
            kind,
            request,
            TokenFile::client_assertion(file.path()),
            &events,
        );
        refused_with(kind, &*cache2, &events, ErrorCode::InvalidClient, 401);

        // Rotated again, the first cache's next attempt uses the new file.
        file.rotate(&signed(es256()));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let t = cache.token().unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            if t.generation > first.generation {
                assert_ne!(t.secret, first.secret);
                break;
            }
            assert!(Instant::now() < deadline, "{kind:?}: no refresh in 30 s");
            std::thread::sleep(Duration::from_millis(200));
        }
    });
}

#[test]
fn a_subject_token_file_is_exchanged_at_every_attempt() {
    use freshen_oauth::TokenExchange;
    use freshen_oauth::grant::TOKEN_TYPE_JWT;
    each_transport(|kind| {
        let file = ProjectedToken::new(kind, "subject");
        let issue = |key: SigningKey, sub: &str| {
            cluster_token(
                key,
                "https://cluster.freshen.test",
                sub,
                "freshen-federated",
            )
        };
        let cache_for = |events: &Events| {
            let request = TokenRequest::token_exchange(
                token_url(),
                TokenExchange::subject_per_attempt(TOKEN_TYPE_JWT),
            )
            .with_client(ClientAuth::public("freshen-grants"));
            driver_for(kind, request, TokenFile::subject_token(file.path()), events)
        };
        file.rotate(&issue(es256(), "system:serviceaccount:default:one"));
        let events = Events::default();
        serves_one_token(kind, &*cache_for(&events), &events);

        file.rotate(&issue(rs256(), "system:serviceaccount:default:two"));
        let events = Events::default();
        refused_with(
            kind,
            &*cache_for(&events),
            &events,
            ErrorCode::InvalidGrant,
            400,
        );
    });
}

#[test]
fn no_key_or_assertion_in_any_debug_or_display() {
    let mut shown = Vec::new();
    let mut forbidden: Vec<String> = vec![SECRET_JWT.into()];
    for name in ["rsa.pem", "ec.pem", "rsa-wrong.pem"] {
        // Any 24-character run of the base64 body would give the key away.
        let pem = key_file(name);
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        forbidden.extend(
            body.as_bytes()
                .chunks(24)
                .map(|c| String::from_utf8_lossy(c).into_owned()),
        );
    }
    let jwk: serde_json::Value = serde_json::from_str(&key_file("ec.jwk.json")).unwrap();
    forbidden.push(jwk["d"].as_str().unwrap().to_string());
    let target = freshen_oauth::AttemptTarget {
        client_id: Some("freshen-pkjwt-rs".into()),
        token_url: token_url(),
    };
    for (client, key) in assertion_clients() {
        let key = key();
        shown.push(format!("{key:?} {key:#?} {client:?}"));
        let assertion = ClientAssertion::new(key);
        let made = assertion.make_blocking(&target).unwrap();
        forbidden.push(made.client_assertion().unwrap().expose().to_string());
        shown.push(format!("{assertion:?} {made:?} {made:#?}"));
        let request = TokenRequest::client_credentials(token_url(), client);
        let http = request.to_http_request_with(&made).unwrap();
        shown.push(format!("{request:?} {http:?}"));
        let source = OAuthSource::new(request, UreqTransport::with_config(TransportConfig::new()))
            .with_per_attempt(assertion);
        shown.push(format!("{source:?}"));
        if let Err(e) = BlockingTokenSource::fetch(&source) {
            shown.push(format!("{e} {e:?}"));
        }
    }
    let events = Events::default();
    let wrong = asserting(
        Kind::Ureq,
        ClientAuth::private_key_jwt("freshen-pkjwt-rs"),
        SigningKey::from_pem(&key_file("rsa-wrong.pem")).unwrap(),
        &events,
    );
    let e = wrong.token().err().unwrap();
    shown.push(format!("{e} {e:?} {}", wrong.debug()));
    for e in events.lock().unwrap().iter() {
        shown.push(format!("{e} {e:?}"));
    }
    for text in &shown {
        for secret in &forbidden {
            assert!(
                !text.contains(secret.as_str()),
                "shown: …{}…",
                text.replace(secret.as_str(), "<<HERE>>")
            );
        }
    }
}
