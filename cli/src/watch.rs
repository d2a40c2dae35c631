//! `freshen watch`: keep a cache and print its lifecycle as it happens.

use std::io::Write;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Args;
use freshen_blocking::BlockingCache;
use freshen_core::{Event, Phase, Policy};
use serde_json::{Value, json};

use crate::config::ClientArgs;
use crate::exit;

/// `freshen watch` arguments.
#[derive(Args, Debug)]
pub(crate) struct WatchArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Print JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long = "for", value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// Ask the cache for a token every this many seconds, as a client would.
    #[arg(long, default_value_t = 1, value_name = "SECONDS")]
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
            "event": "refresh_started", "attempt": attempt.0, "reason": reason.to_string(),
        }),
        Event::RefreshSucceeded {
            attempt,
            generation,
            lifetime,
            left_on_old,
        } => json!({
            "event": "refresh_succeeded", "attempt": attempt.0, "generation": generation.0,
            "lifetime_s": s(lifetime), "left_on_old_s": left_on_old.as_ref().map(s),
        }),
        Event::RefreshFailed {
            attempt,
            error,
            failures,
            retry_in,
        } => json!({
            "event": "refresh_failed", "attempt": attempt.0, "error": error.to_string(),
            "permanent": error.is_permanent(), "failures": failures, "retry_in_s": s(retry_in),
        }),
        Event::NoProgress {
            attempt,
            generation,
            retry_in,
        } => json!({
            "event": "no_progress", "attempt": attempt.0, "generation": generation.0,
            "retry_in_s": s(retry_in),
        }),
        Event::ServedStale {
            generation,
            usable_for,
        } => json!({
            "event": "served_stale", "generation": generation.0, "usable_for_s": s(usable_for),
        }),
        Event::ServedExpired { generation } => {
            json!({ "event": "served_expired", "generation": generation.0 })
        }
        Event::Invalidated { generation } => {
            json!({ "event": "invalidated", "generation": generation.0 })
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
    let source = match args.client.source() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("freshen: {e}");
            return exit::for_error(&e);
        }
    };
    let policy = match Policy::builder().prefetch(true).build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("freshen: {e}");
            return exit::CONFIG;
        }
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
    let interval = Duration::from_secs(args.interval.max(1));
    let mut last_code = exit::OK;
    let mut last_generation = None;
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return last_code;
        }
        let worker = {
            let cache = Arc::clone(&cache);
            thread::spawn(move || cache.token().map(|t| t.into_arc()))
        };
        let asked = Instant::now();
        let mut next_progress = asked + Duration::from_millis(500);
        while !worker.is_finished() {
            if Instant::now() >= next_progress {
                let waited = asked.elapsed().as_secs_f64();
                printer.line(
                    &format!("waiting for the token endpoint… {waited:.1}s"),
                    json!({ "event": "waiting", "waited_s": waited }),
                );
                next_progress += Duration::from_millis(500);
            }
            thread::sleep(Duration::from_millis(20));
        }
        match worker.join() {
            Ok(Ok(token)) => {
                last_code = exit::OK;
                if last_generation != Some(token.generation()) {
                    last_generation = Some(token.generation());
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
                            "serving token #{} ({phase}, expires in {expires_in:.0}s)",
                            token.generation().0
                        ),
                        json!({ "event": "serving", "generation": token.generation().0, "phase": phase, "expires_in_s": expires_in }),
                    );
                }
            }
            Ok(Err(e)) => {
                last_code = exit::for_error(&e);
                printer.line(
                    &format!("no token: {e}"),
                    json!({ "event": "error", "error": e.to_string(), "exit_code": last_code }),
                );
            }
            Err(_) => return exit::FAILURE,
        }
        thread::sleep(interval);
    }
}
