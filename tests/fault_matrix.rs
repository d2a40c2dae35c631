//! Every bad response, through every transport, with the cache.
//!
//! For each transport (ureq blocking, ureq `async` on smol, reqwest on tokio,
//! surf on smol) and each bad answer a token endpoint has been seen to give,
//! a `BlockingCache` in [`Mode::Inline`] on a [`ManualClock`] (virtual time,
//! so nothing here waits for a token to age):
//!
//! 1. fetches a good token (lifetime 3600 s) from a [`FaultServer`];
//! 2. moves its clock into the token's stale window;
//! 3. the server now answers with the fault;
//! 4. `token()` runs the refresh inline: the caller still gets the held
//!    token, and the refresh's error (from the `RefreshFailed` / `NoProgress`
//!    event) is the one expected for the case;
//! 5. `token()` again still serves the held token (the backoff holds: no
//!    second request), and nothing panicked.
//!
//! The async transports run behind a test-only [`BlockingTokenSource`]
//! adapter that drives the async source's fetch on its own executor
//! (`tokio::runtime::Runtime::block_on` for reqwest, `smol::block_on` for
//! ureq `async` and surf), so the one inline cache drives them all in
//! virtual time.
//!
//! The observed outcomes form a markdown table, compared with the block
//! between `<!-- fault-matrix:begin -->` and `<!-- fault-matrix:end -->` in
//! README.md; `FRESHEN_BLESS=1` rewrites that block instead.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    unreachable_pub
)]

use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use freshen_blocking::{BlockingCache, ManualClock, Mode};
use freshen_core::{BlockingTokenSource, Error, ErrorKind, Event, Fetched, Retry, TokenSource};
use freshen_oauth::transport::TransportConfig;
use freshen_oauth::{ClientAuth, OAuthSource, TokenRequest};
use freshen_reqwest::ReqwestTransport;
use freshen_surf::SurfTransport;
use freshen_testkit::{Fault, FaultServer, refused_url};
use freshen_ureq::UreqTransport;

/// The client secret of every request: no error may show it.
const SECRET: &str = "matrix-s3cr3t-never-shown";
/// The token the cache holds when the fault comes.
const HELD: &str = "held-token-0123456789";
/// The token a fault case that is accepted brings.
const NEW: &str = "new-token-9876543210";
/// The default lifetime cap of the parser (10 years).
const TEN_YEARS: Duration = Duration::from_secs(3650 * 24 * 3600);

// ---------------------------------------------------------------------------
// Transports, seen as blocking sources.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ureq,
    UreqAsync,
    Reqwest,
    Surf,
}

const KINDS: [Kind; 4] = [Kind::Ureq, Kind::UreqAsync, Kind::Reqwest, Kind::Surf];

impl Kind {
    fn column(self) -> &'static str {
        match self {
            Kind::Ureq => "ureq",
            Kind::UreqAsync => "ureq `async` (smol)",
            Kind::Reqwest => "reqwest (tokio)",
            Kind::Surf => "surf (smol)",
        }
    }
}

/// An async source driven by `smol::block_on` (ureq `async`, surf).
struct OnSmol<S>(S);

impl<S: TokenSource> BlockingTokenSource for OnSmol<S> {
    fn fetch(&self) -> Result<Fetched, Error> {
        smol::block_on(TokenSource::fetch(&self.0))
    }
}

/// An async source driven by a tokio runtime of its own (reqwest).
struct OnTokio<S> {
    source: S,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl<S: TokenSource> BlockingTokenSource for OnTokio<S> {
    fn fetch(&self) -> Result<Fetched, Error> {
        self.runtime.block_on(TokenSource::fetch(&self.source))
    }
}

/// Several real sources over one transport: the first fetch goes to the
/// first, every later one to the last. Used to point the refresh at a closed
/// port with the same transport (client, pool) that got the held token.
struct Phased {
    sources: Vec<Box<dyn BlockingTokenSource>>,
    fetches: AtomicUsize,
}

impl BlockingTokenSource for Phased {
    fn fetch(&self) -> Result<Fetched, Error> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst);
        let i = n.min(self.sources.len() - 1);
        self.sources[i].fetch()
    }
}

fn request(url: &str) -> TokenRequest {
    TokenRequest::client_credentials(url, ClientAuth::basic("matrix-client", SECRET))
}

/// A source of transport `kind` sending to `urls` in turn (see [`Phased`]).
fn source(kind: Kind, urls: &[String], config: TransportConfig) -> Phased {
    let sources: Vec<Box<dyn BlockingTokenSource>> = match kind {
        Kind::Ureq => {
            let transport = UreqTransport::with_config(config);
            urls.iter()
                .map(|u| {
                    Box::new(OAuthSource::new(request(u), transport.clone()))
                        as Box<dyn BlockingTokenSource>
                })
                .collect()
        }
        Kind::UreqAsync => {
            let transport = UreqTransport::with_config(config);
            urls.iter()
                .map(|u| {
                    Box::new(OnSmol(OAuthSource::new(request(u), transport.clone())))
                        as Box<dyn BlockingTokenSource>
                })
                .collect()
        }
        Kind::Reqwest => {
            let runtime = Arc::new(
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap(),
            );
            let transport = ReqwestTransport::try_with_config(config).unwrap();
            urls.iter()
                .map(|u| {
                    Box::new(OnTokio {
                        source: OAuthSource::new(request(u), transport.clone()),
                        runtime: Arc::clone(&runtime),
                    }) as Box<dyn BlockingTokenSource>
                })
                .collect()
        }
        Kind::Surf => {
            let transport = SurfTransport::with_config(config);
            urls.iter()
                .map(|u| {
                    Box::new(OnSmol(OAuthSource::new(request(u), transport.clone())))
                        as Box<dyn BlockingTokenSource>
                })
                .collect()
        }
    };
    Phased {
        sources,
        fetches: AtomicUsize::new(0),
    }
}

// ---------------------------------------------------------------------------
// The cases and what each must give.
// ---------------------------------------------------------------------------

/// What the refresh in step 4 must end with.
#[derive(Clone, Debug)]
enum Expect {
    /// A failed attempt (`RefreshFailed`) with this kind and class; the held
    /// token is served.
    Failed {
        kind: fn(&ErrorKind) -> bool,
        retry: Retry,
        retry_after: Option<Duration>,
    },
    /// A `NoProgress` event; the held token is served.
    NoProgress,
    /// A new token is accepted with this lifetime (and served).
    Accepted { lifetime: Duration },
}

struct Case {
    name: &'static str,
    /// What the server answers the refresh with (`None`: the refresh goes to
    /// a closed port instead).
    fault: Option<Fault>,
    /// The transport's total timeout.
    timeout: Duration,
    expect: Expect,
}

fn failed(kind: fn(&ErrorKind) -> bool, retry: Retry) -> Expect {
    Expect::Failed {
        kind,
        retry,
        retry_after: None,
    }
}

fn cases() -> Vec<Case> {
    let normal = Duration::from_secs(10);
    let invalid = |k: &ErrorKind| matches!(k, ErrorKind::InvalidResponse(_));
    let status = |n: u16| -> fn(&ErrorKind) -> bool {
        match n {
            500 => |k| matches!(k, ErrorKind::Status { status: 500 }),
            502 => |k| matches!(k, ErrorKind::Status { status: 502 }),
            503 => |k| matches!(k, ErrorKind::Status { status: 503 }),
            _ => |k| matches!(k, ErrorKind::Status { status: 429 }),
        }
    };
    vec![
        Case {
            name: "connection refused (closed port)",
            fault: None,
            timeout: normal,
            expect: failed(|k| matches!(k, ErrorKind::Transport(_)), Retry::Transient),
        },
        Case {
            name: "slow: answers after 2 s, transport timeout 300 ms",
            fault: Some(Fault::slow(
                Duration::from_secs(2),
                Fault::token("late-token-0000", 3600),
            )),
            timeout: Duration::from_millis(300),
            expect: failed(
                |k| matches!(k, ErrorKind::Timeout { after } if *after == Duration::from_millis(300)),
                Retry::Transient,
            ),
        },
        Case {
            name: "500",
            fault: Some(Fault::status(500)),
            timeout: normal,
            expect: failed(status(500), Retry::Transient),
        },
        Case {
            name: "502",
            fault: Some(Fault::status(502)),
            timeout: normal,
            expect: failed(status(502), Retry::Transient),
        },
        Case {
            name: "503",
            fault: Some(Fault::status(503)),
            timeout: normal,
            expect: failed(status(503), Retry::Transient),
        },
        Case {
            name: "429 with `Retry-After: 7`",
            fault: Some(Fault::rate_limited(7)),
            timeout: normal,
            expect: Expect::Failed {
                kind: status(429),
                retry: Retry::Transient,
                retry_after: Some(Duration::from_secs(7)),
            },
        },
        Case {
            name: "401 with no OAuth error (bare status)",
            fault: Some(Fault::status(401)),
            timeout: normal,
            // The endpoint refused the client: permanent, like invalid_client.
            expect: failed(
                |k| matches!(k, ErrorKind::Refused(p) if p.status == 401 && p.code.is_none()),
                Retry::Permanent,
            ),
        },
        Case {
            name: "403 in Google's error envelope (`PERMISSION_DENIED`)",
            fault: Some(Fault::Raw {
                status: 403,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: br#"{"error":{"code":403,"message":"Permission denied","status":"PERMISSION_DENIED"}}"#
                    .to_vec(),
            }),
            timeout: normal,
            expect: failed(
                |k| {
                    matches!(k, ErrorKind::Refused(p)
                        if p.status == 403 && p.code.as_deref() == Some("PERMISSION_DENIED"))
                },
                Retry::Permanent,
            ),
        },
        Case {
            name: "503 `temporarily_unavailable`",
            fault: Some(Fault::OAuthError {
                status: 503,
                error: "temporarily_unavailable".into(),
                description: Some("maintenance".into()),
            }),
            timeout: normal,
            expect: failed(
                |k| {
                    matches!(k, ErrorKind::OAuth(e)
                        if e.code == freshen_core::ErrorCode::TemporarilyUnavailable)
                },
                Retry::Transient,
            ),
        },
        Case {
            name: "HTML page with 200",
            fault: Some(Fault::Html),
            timeout: normal,
            expect: failed(invalid, Retry::Permanent),
        },
        Case {
            name: "truncated JSON",
            fault: Some(Fault::TruncatedJson),
            timeout: normal,
            expect: failed(invalid, Retry::Permanent),
        },
        Case {
            name: "64 MiB body, `Content-Length` declared",
            fault: Some(Fault::huge()),
            timeout: normal,
            // The transports refuse it unread (TransportConfig::too_large):
            // an unusable response, permanent like the parser's verdict.
            expect: failed(
                |k| matches!(k, ErrorKind::ResponseTooLarge { limit: 1_048_576 }),
                Retry::Permanent,
            ),
        },
        Case {
            name: "64 MiB body, chunked (no length)",
            fault: Some(Fault::huge_chunked()),
            timeout: normal,
            expect: failed(
                |k| matches!(k, ErrorKind::ResponseTooLarge { limit: 1_048_576 }),
                Retry::Permanent,
            ),
        },
        Case {
            name: "no `access_token`",
            fault: Some(Fault::MissingAccessToken),
            timeout: normal,
            expect: failed(invalid, Retry::Permanent),
        },
        Case {
            name: "`expires_in: -1`",
            fault: Some(Fault::token(NEW, -1)),
            timeout: normal,
            expect: failed(invalid, Retry::Permanent),
        },
        Case {
            name: "`expires_in: 0`",
            fault: Some(Fault::token(NEW, 0)),
            timeout: normal,
            // Unusable on arrival: the machine says so (before its
            // no-progress rule), and keeps serving the held token.
            expect: failed(
                |k| matches!(k, ErrorKind::ExpiredOnArrival),
                Retry::Transient,
            ),
        },
        Case {
            name: "`expires_in: 10000000000000` (absurd)",
            fault: Some(Fault::expires_in_raw(NEW, "10000000000000")),
            timeout: normal,
            // By design the parser clamps lifetimes to 10 years; the token is
            // new and expires later than the held one, so it is accepted.
            expect: Expect::Accepted {
                lifetime: TEN_YEARS,
            },
        },
        Case {
            name: "`token_type: mac`",
            fault: Some(Fault::token_type(NEW, "mac")),
            timeout: normal,
            expect: failed(invalid, Retry::Permanent),
        },
        Case {
            name: "307 to plain http on another host",
            fault: Some(Fault::redirect_to_http()),
            timeout: normal,
            expect: failed(|k| matches!(k, ErrorKind::Config(_)), Retry::Permanent),
        },
        Case {
            name: "the same token again",
            fault: Some(Fault::SameToken),
            timeout: normal,
            expect: Expect::NoProgress,
        },
    ]
}

// ---------------------------------------------------------------------------
// One run: one case through one transport.
// ---------------------------------------------------------------------------

/// What step 4 ended with.
#[derive(Debug)]
enum Outcome {
    Failed(Error),
    NoProgress,
    Accepted(Duration),
}

struct Observation {
    cell: String,
    problems: Vec<String>,
}

fn kind_name(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::OAuth(e) => format!("OAuth `{}`", e.code),
        ErrorKind::Status { status } => format!("Status {status}"),
        ErrorKind::Refused(p) => match &p.code {
            Some(code) => format!("Refused {} `{code}`", p.status),
            None => format!("Refused {}", p.status),
        },
        ErrorKind::Provider(p) => format!("Provider {}", p.status),
        ErrorKind::InvalidResponse(_) => "InvalidResponse".into(),
        ErrorKind::ResponseTooLarge { .. } => "ResponseTooLarge".into(),
        ErrorKind::Transport(_) => "Transport".into(),
        ErrorKind::Timeout { .. } => "Timeout".into(),
        ErrorKind::NoProgress => "NoProgress".into(),
        ErrorKind::ExpiredOnArrival => "ExpiredOnArrival".into(),
        ErrorKind::SourcePanicked => "SourcePanicked".into(),
        ErrorKind::Closed => "Closed".into(),
        ErrorKind::Config(_) => "Config".into(),
        other => format!("{other:?}"),
    }
}

fn class(retry: Retry) -> &'static str {
    match retry {
        Retry::Transient => "transient",
        Retry::Permanent => "permanent",
    }
}

fn run(kind: Kind, case: &Case) -> Observation {
    let mut problems = Vec::new();
    let answers = Arc::new(AtomicUsize::new(0));
    let fault = case.fault.clone();
    let counter = Arc::clone(&answers);
    let server = FaultServer::with_fn(move |_| {
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            return Fault::token(HELD, 3600);
        }
        fault
            .clone()
            .unwrap_or_else(|| Fault::token("unexpected-request-0000", 3600))
    });
    let mut urls = vec![server.token_url()];
    if case.fault.is_none() {
        urls.push(refused_url());
    }
    let config = TransportConfig::new()
        .with_timeout(case.timeout)
        .with_connect_timeout(case.timeout);
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let sink = Arc::clone(&events);
    let clock = ManualClock::new();
    let cache = BlockingCache::builder(source(kind, &urls, config))
        .mode(Mode::Inline)
        .clock(clock.clone())
        .seed(7)
        .on_event(move |e| sink.lock().unwrap().push(e.clone()))
        .build();

    // 1. A good token.
    let first = cache.token().expect("the first fetch gets the good token");
    assert_eq!(first.secret(), HELD);
    let (refresh_at, usable_until) = (first.refresh_at(), first.usable_until());
    drop(first);
    // 2. Into the stale window.
    let stale_at = refresh_at.saturating_add(Duration::from_secs(60));
    assert!(stale_at < usable_until);
    clock.set(stale_at);
    let before = events.lock().unwrap().len();

    // 3 + 4. The server answers the refresh with the fault; the refresh runs
    // inline in this call.
    let second = cache.token();
    let refresh_events: Vec<Event> = events.lock().unwrap()[before..].to_vec();
    let outcome = refresh_events.iter().find_map(|e| match e {
        Event::RefreshFailed { error, .. } => Some(Outcome::Failed(error.clone())),
        Event::NoProgress { .. } => Some(Outcome::NoProgress),
        Event::RefreshSucceeded { lifetime, .. } => Some(Outcome::Accepted(*lifetime)),
        _ => None,
    });
    let Some(outcome) = outcome else {
        return Observation {
            cell: "no refresh outcome".into(),
            problems: vec![format!("no refresh outcome event: {refresh_events:?}")],
        };
    };
    let served_now = match &second {
        Ok(t) => Some(t.secret().to_string()),
        Err(e) => {
            problems.push(format!("step 4: the caller got an error: {e}"));
            None
        }
    };
    drop(second);
    // 5. Again: the held (or accepted) token, with no further request.
    let third = cache.token();
    let served_again = match &third {
        Ok(t) => Some(t.secret().to_string()),
        Err(e) => {
            problems.push(format!("step 5: the caller got an error: {e}"));
            None
        }
    };
    drop(third);
    let expected_requests = if case.fault.is_none() { 1 } else { 2 };
    if server.request_count() != expected_requests {
        problems.push(format!(
            "the server got {} requests, expected {expected_requests}",
            server.request_count()
        ));
    }
    let all_events = format!("{:?}", events.lock().unwrap());
    if all_events.contains("SourcePanicked") {
        problems.push("the source panicked".into());
    }

    let want_served = match &case.expect {
        Expect::Accepted { .. } => NEW,
        _ => HELD,
    };
    let served_ok =
        served_now.as_deref() == Some(want_served) && served_again.as_deref() == Some(want_served);
    if !served_ok {
        problems.push(format!(
            "served {served_now:?} then {served_again:?}, expected {want_served:?} both times"
        ));
    }
    let tick = if served_ok { " ✓" } else { " ✗" };

    let cell = match &outcome {
        Outcome::Failed(error) => {
            let shown = format!("{error} {error:?}");
            if shown.contains(SECRET) || shown.contains(HELD) {
                problems.push(format!("the error shows a secret: {shown}"));
            }
            let mut cell = format!("{}, {}", kind_name(error.kind()), class(error.retry()));
            if let Some(after) = error.retry_after() {
                let _ = write!(cell, ", retry after {} s", after.as_secs());
            }
            cell + ", held" + tick
        }
        Outcome::NoProgress => format!("NoProgress, transient, held{tick}"),
        Outcome::Accepted(lifetime) => {
            let years = lifetime.as_secs() / (365 * 24 * 3600);
            format!("accepted, lifetime clamped to {years} y, new token{tick}")
        }
    };

    match (&case.expect, &outcome) {
        (
            Expect::Failed {
                kind: want_kind,
                retry,
                retry_after,
            },
            Outcome::Failed(error),
        ) => {
            if !want_kind(error.kind()) || error.retry() != *retry {
                problems.push(format!(
                    "got {:?} ({:?}), expected {retry:?} of another kind: {error}",
                    error.kind(),
                    error.retry()
                ));
            }
            if error.retry_after() != *retry_after {
                problems.push(format!(
                    "retry_after {:?}, expected {retry_after:?}",
                    error.retry_after()
                ));
            }
            // Through the cache, a failure to reach the server still has
            // the transport's own error as its cause.
            if matches!(error.kind(), ErrorKind::Transport(_))
                && std::error::Error::source(error).is_none()
            {
                problems.push(format!("no cause kept under {error:?}"));
            }
        }
        (Expect::NoProgress, Outcome::NoProgress) => {}
        (Expect::Accepted { lifetime }, Outcome::Accepted(got)) if lifetime == got => {}
        (want, got) => problems.push(format!("expected {want:?}, got {got:?}")),
    }
    drop(cache);
    drop(server);
    Observation { cell, problems }
}

// ---------------------------------------------------------------------------
// The matrix.
// ---------------------------------------------------------------------------

const BEGIN: &str = "<!-- fault-matrix:begin -->";
const END: &str = "<!-- fault-matrix:end -->";

fn table(cases: &[Case], cells: &[Vec<String>]) -> String {
    let mut out = String::from("| bad response |");
    for kind in KINDS {
        let _ = write!(out, " {} |", kind.column());
    }
    out.push_str("\n|---|");
    for _ in KINDS {
        out.push_str("---|");
    }
    out.push('\n');
    for (case, row) in cases.iter().zip(cells) {
        let _ = write!(out, "| {} |", case.name);
        for cell in row {
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out
}

#[test]
fn every_bad_response_through_every_transport() {
    let cases = cases();
    // One thread per transport; the cases of one transport run in order.
    let columns: Vec<Vec<Observation>> = std::thread::scope(|scope| {
        let handles: Vec<_> = KINDS
            .iter()
            .map(|&kind| {
                let cases = &cases;
                scope.spawn(move || {
                    cases
                        .iter()
                        .map(|case| {
                            catch_unwind(AssertUnwindSafe(|| run(kind, case))).unwrap_or_else(
                                |panic| {
                                    let why = panic
                                        .downcast_ref::<String>()
                                        .cloned()
                                        .or_else(|| {
                                            panic.downcast_ref::<&str>().map(|s| s.to_string())
                                        })
                                        .unwrap_or_default();
                                    Observation {
                                        cell: "panicked".into(),
                                        problems: vec![format!("panicked: {why}")],
                                    }
                                },
                            )
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let mut problems = Vec::new();
    let mut cells = vec![Vec::new(); cases.len()];
    for (kind, column) in KINDS.iter().zip(&columns) {
        for ((case, observation), row) in cases.iter().zip(column).zip(cells.iter_mut()) {
            for p in &observation.problems {
                problems.push(format!("{} / {}: {p}", kind.column(), case.name));
            }
            row.push(observation.cell.clone());
        }
    }
    let table = table(&cases, &cells);
    println!("{table}");
    assert!(problems.is_empty(), "{}\n\n{table}", problems.join("\n"));

    let readme_path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(readme_path).unwrap();
    let (Some(begin), Some(end)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!("README.md has no {BEGIN} … {END} block");
    };
    let inner_start = begin + BEGIN.len();
    assert!(inner_start <= end, "README.md: {END} before {BEGIN}");
    let recorded = &readme[inner_start..end];
    let want = format!("\n{table}");
    if std::env::var_os("FRESHEN_BLESS").is_some_and(|v| v == "1") {
        let updated = format!("{}{want}{}", &readme[..inner_start], &readme[end..]);
        std::fs::write(readme_path, updated).unwrap();
    } else {
        assert_eq!(
            recorded, want,
            "README.md's fault matrix differs from what was observed; \
             rerun with FRESHEN_BLESS=1 to rewrite it"
        );
    }
}
