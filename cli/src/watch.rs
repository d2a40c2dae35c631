//! `freshen watch`: keep a cache and print its lifecycle as it happens.
//!
//! `--for` is a deadline, not a number of rounds: every wait (for the token
//! endpoint, and between asks) is capped by the time left, so the watch ends
//! within a few tens of milliseconds of it, whatever the endpoint is doing.
//! The exit code is the state at the end ([`EXIT_CODES`]).

use std::io::Write;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Args;
use freshen_blocking::BlockingCache;
use freshen_core::{BlockingTokenSource, Event, Phase, Policy, Token};
use freshen_fleet::FleetEvent;
use serde_json::{Value, json};

use crate::config::{ClientArgs, seconds_at_least_one};
use crate::exit;
use crate::shared::{SharedStoreArgs, describe};

/// `freshen watch --help`'s exit codes (also in README.md).
pub(crate) const EXIT_CODES: &str = "\
Exit codes: the state when the watch ends (after --for; without --for it runs until interrupted)
  0  the cache held a usable token at the end, including after recovering from failures
  1  output could not be written
  2  bad flags or arguments
  3  the configuration cannot work (checked before watching)
  otherwise no usable token was held at the end; the code is that of the last failure:
  4  the token endpoint refused the credentials or the request
  5  a passing failure (unreachable, timeout, 5xx, rate limited), or no answer yet
  6  an unusable response (including a token already expired on arrival)";

/// `freshen watch` arguments.
#[derive(Args, Debug)]
pub(crate) struct WatchArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub shared: SharedStoreArgs,
    /// Print JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
    /// Stop after this many seconds, to within a few tens of milliseconds
    /// (default: run until interrupted).
    #[arg(long = "for", value_name = "SECONDS", value_parser = seconds_at_least_one)]
    pub duration: Option<u64>,
    /// Ask the cache for a token every this many seconds, as a client would.
    #[arg(long, default_value_t = 1, value_name = "SECONDS", value_parser = seconds_at_least_one)]
    pub interval: u64,
}

/// Renders lines for a terminal or as JSON lines; shares the start instant.
#[derive(Clone, Copy)]
struct Printer {
    json: bool,
    start: Instant,
}

impl Printer {
    fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn line(&self, text: &str, fields: Value) {
        let out = if self.json {
            let mut obj = json!({ "t": (self.elapsed() * 1000.0).round() / 1000.0 });
            if let (Some(o), Value::Object(f)) = (obj.as_object_mut(), fields) {
                o.extend(f);
            }
            obj.to_string()
        } else {
            format!("{:>8.1}s  {text}", self.elapsed())
        };
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{out}");
        let _ = stdout.flush();
    }

    fn event(&self, e: &Event) {
        self.line(&e.to_string(), event_fields(e));
    }
}

fn event_fields(e: &Event) -> Value {
    let s = |d: &Duration| d.as_secs_f64();
    match e {
        Event::RefreshStarted {
            attempt, reason, ..
        } => json!({
            "event": "refresh_started", "attempt": attempt.number(), "reason": reason.to_string(),
        }),
        Event::RefreshSucceeded {
            attempt,
            generation,
            lifetime,
            left_on_old,
        } => json!({
            "event": "refresh_succeeded", "attempt": attempt.number(), "generation": generation.number(),
            "lifetime_s": s(lifetime), "left_on_old_s": left_on_old.as_ref().map(s),
        }),
        Event::RefreshFailed {
            attempt,
            error,
            failures,
            retry_in,
        } => json!({
            "event": "refresh_failed", "attempt": attempt.number(), "error": error.to_string(),
            "permanent": error.is_permanent(), "failures": failures, "retry_in_s": s(retry_in),
        }),
        Event::Reconfirmed {
            attempt,
            generation,
            lifetime,
            refresh_in,
        } => json!({
            "event": "reconfirmed", "attempt": attempt.number(), "generation": generation.number(),
            "lifetime_s": s(lifetime), "refresh_in_s": s(refresh_in),
        }),
        Event::NoProgress {
            attempt,
            generation,
            retry_in,
        } => json!({
            "event": "no_progress", "attempt": attempt.number(), "generation": generation.number(),
            "retry_in_s": s(retry_in),
        }),
        Event::ServedStale {
            generation,
            usable_for,
        } => json!({
            "event": "served_stale", "generation": generation.number(), "usable_for_s": s(usable_for),
        }),
        Event::ServedExpired { generation } => {
            json!({ "event": "served_expired", "generation": generation.number() })
        }
        Event::Invalidated { generation } => {
            json!({ "event": "invalidated", "generation": generation.number() })
        }
        _ => json!({ "event": "other" }),
    }
}

/// Runs the watch; returns the exit code.
pub(crate) fn run(args: &WatchArgs) -> u8 {
    let printer = Printer {
        json: args.json,
        start: Instant::now(),
    };
    let policy = match Policy::builder().prefetch(true).build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("freshen: {e}");
            return exit::CONFIG;
        }
    };
    // The cache's source: the tier in front of the endpoint, or the endpoint.
    let (source, tier): (Box<dyn BlockingTokenSource>, _) = match &args.shared.shared_store {
        Some(url) => {
            let (source, shape) = match args.client.source_and_shape() {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("freshen: {e}");
                    return exit::for_error(&e);
                }
            };
            let sink = move |e: &FleetEvent| {
                let (text, name) = describe(e);
                printer.line(&text, json!({ "event": name }));
            };
            match args.shared.tier(url, source, shape, policy.clone(), sink) {
                Ok(tier) => (Box::new(Arc::clone(&tier)), Some(tier)),
                Err(e) => {
                    eprintln!("freshen: {e}");
                    return exit::for_error(&e);
                }
            }
        }
        None => match args.client.source() {
            Ok(source) => (source, None),
            Err(e) => {
                eprintln!("freshen: {e}");
                return exit::for_error(&e);
            }
        },
    };
    let cache = Arc::new(
        BlockingCache::builder(source)
            .policy(policy)
            .on_event(move |e| printer.event(e))
            .build(),
    );
    let deadline = args
        .duration
        .map(|secs| printer.start + Duration::from_secs(secs));
    // How long until the deadline (`None`: no deadline).
    let time_left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
    let over = || time_left().is_some_and(|left| left.is_zero());
    let interval = Duration::from_secs(args.interval);
    let mut state = EndState::default();
    let mut last_generation = None;
    let mut served_locally = 0u64;
    'watch: loop {
        if over() {
            break;
        }
        let worker = {
            let cache = Arc::clone(&cache);
            thread::spawn(move || cache.token().map(|t| t.into_arc()))
        };
        let asked = Instant::now();
        let mut next_progress = asked + Duration::from_millis(500);
        while !worker.is_finished() {
            if over() {
                // The deadline binds the watch, not the endpoint: the ask
                // still in flight is left behind.
                break 'watch;
            }
            if Instant::now() >= next_progress {
                let waited = asked.elapsed().as_secs_f64();
                printer.line(
                    &format!("waiting for the token endpoint… {waited:.1}s"),
                    json!({ "event": "waiting", "waited_s": waited }),
                );
                next_progress += Duration::from_millis(500);
            }
            thread::sleep(capped(Duration::from_millis(20), time_left()));
        }
        match worker.join() {
            Ok(Ok(token)) => {
                if last_generation == Some(token.generation()) {
                    served_locally += 1;
                } else {
                    last_generation = Some(token.generation());
                    // A new token came from the cache's source: the tier
                    // says which side of it, else it is the endpoint's.
                    let origin = tier
                        .as_ref()
                        .and_then(|t| t.last_origin())
                        .map_or_else(|| String::from("endpoint"), |o| o.to_string());
                    let now = cache.now();
                    let phase = match token.phase(now) {
                        Phase::Fresh => "fresh",
                        Phase::Stale => "stale",
                        Phase::Expired => "expired",
                    };
                    let expires_in = token
                        .expires_at()
                        .saturating_duration_since(now)
                        .as_secs_f64();
                    printer.line(
                        &format!(
                            "serving token #{} from the {origin} ({phase}, expires in {expires_in:.0}s)",
                            token.generation().number()
                        ),
                        json!({ "event": "serving", "generation": token.generation().number(), "from": origin, "phase": phase, "expires_in_s": expires_in }),
                    );
                }
                state.served(token);
            }
            Ok(Err(e)) => {
                let code = exit::for_error(&e);
                state.failed(code);
                printer.line(
                    &format!("no token: {e}"),
                    json!({ "event": "error", "error": e.to_string(), "exit_code": code }),
                );
            }
            Err(_) => return exit::FAILURE,
        }
        thread::sleep(capped(interval, time_left()));
    }
    let usable = cache.cached().is_some() || state.still_usable(cache.now());
    let code = if usable {
        exit::OK
    } else {
        state.last_failure.unwrap_or(exit::UNAVAILABLE)
    };
    let text = if usable {
        String::from("watch ended holding a usable token")
    } else if state.last_failure.is_some() {
        String::from("watch ended with no usable token")
    } else {
        String::from("watch ended before the token endpoint answered")
    };
    printer.line(
        &format!("{text}; {served_locally} asks served locally (exit {code})"),
        json!({ "event": "end", "usable": usable, "exit_code": code, "served_locally": served_locally }),
    );
    code
}

/// `wait`, but no longer than the time left.
fn capped(wait: Duration, left: Option<Duration>) -> Duration {
    left.map_or(wait, |left| wait.min(left))
}

/// What the watch saw last, for its exit code.
#[derive(Default)]
struct EndState {
    /// The last token served.
    token: Option<Arc<Token>>,
    /// The exit code of the last failure, if the last ask failed.
    last_failure: Option<u8>,
}

impl EndState {
    fn served(&mut self, token: Arc<Token>) {
        self.token = Some(token);
        self.last_failure = None;
    }

    fn failed(&mut self, code: u8) {
        self.last_failure = Some(code);
    }

    /// Whether the last token served can still be handed out at `now`.
    fn still_usable(&self, now: freshen_core::Instant) -> bool {
        self.token
            .as_ref()
            .is_some_and(|t| t.phase(now) != Phase::Expired)
    }
}
