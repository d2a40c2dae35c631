//! Sources that renew their own tokens (metadata servers): the same token
//! handed back before the source's own window is accepted, not a
//! NoProgress storm; an ordinary source doing the same is still caught.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use core::time::Duration;
use std::sync::Arc;

use freshen_core::{Decision, Event, Fetched, Instant, Machine, Phase, Policy, Ticket, Token};

const S: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);
/// GCE's documented window: its metadata server caches a token until it
/// has 5 minutes left.
const WINDOW: Duration = Duration::from_secs(300);

fn at(secs: u64) -> Instant {
    Instant::from_secs(secs)
}

fn from_metadata(token: &str, lifetime: Duration) -> Fetched {
    Fetched::new(token)
        .with_lifetime(lifetime)
        .renewed_by_source(WINDOW)
}

fn drain(m: &mut Machine) -> Vec<Event> {
    std::iter::from_fn(|| m.poll_event()).collect()
}

fn first_token(m: &mut Machine, fetched: Fetched) -> Arc<Token> {
    let Decision::RefreshAndWait(t) = m.decide(at(0)) else {
        panic!("an empty machine starts an attempt")
    };
    let token = m.on_success(t.id(), fetched, at(0), at(0), 0);
    drain(m);
    token.unwrap().unwrap()
}

fn refresh_due(m: &mut Machine, now: Instant) -> Ticket {
    match m.decide(now) {
        Decision::ServeAndRefresh(_, t) => t,
        other => panic!("expected a background refresh at {now:?}, got {other:?}"),
    }
}

#[test]
fn same_token_before_the_sources_window_is_kept_and_rescheduled() {
    let mut m = Machine::new(Policy::default());
    let first = first_token(&mut m, from_metadata("ya29.one", HOUR));
    let t = refresh_due(&mut m, first.refresh_at());
    let now = first.refresh_at();
    let left = at(3600).saturating_duration_since(now);
    let kept = m
        .on_success(t.id(), from_metadata("ya29.one", left), now, now, 7)
        .unwrap()
        .expect("the source's answer is a token, not an error");

    assert_eq!(kept.secret(), "ya29.one");
    assert_ne!(kept.generation(), first.generation(), "a new timeline");
    assert_eq!(kept.expires_at(), at(3600));
    assert_eq!(m.failures(), 0);
    assert_eq!(m.backoff_until(), None);
    // Next refresh once the source has renewed (5 min before expiry), and
    // still before the token stops being usable.
    assert!(kept.refresh_at() >= at(3600 - 300), "{:?}", kept.schedule());
    assert!(kept.refresh_at() < kept.usable_until());
    assert_eq!(kept.phase(now), Phase::Fresh);
    assert!(matches!(m.decide(now + S), Decision::Serve(_)));
    let events = drain(&mut m);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Reconfirmed { .. })),
        "{events:?}"
    );
    assert!(!events.iter().any(|e| matches!(e, Event::NoProgress { .. })));
}

#[test]
fn an_ordinary_source_handing_back_the_same_token_is_still_no_progress() {
    let mut m = Machine::new(Policy::default());
    let first = first_token(&mut m, Fetched::new("cached").with_lifetime(HOUR));
    let now = first.refresh_at();
    let t = refresh_due(&mut m, now);
    let left = at(3600).saturating_duration_since(now);
    let served = m
        .on_success(
            t.id(),
            Fetched::new("cached").with_lifetime(left),
            now,
            now,
            7,
        )
        .unwrap()
        .unwrap();
    assert!(Arc::ptr_eq(&served, &first), "nothing new accepted");
    assert_eq!(m.failures(), 1);
    assert!(
        drain(&mut m)
            .iter()
            .any(|e| matches!(e, Event::NoProgress { .. }))
    );
}

#[test]
fn same_token_inside_the_sources_own_window_is_no_progress() {
    // The source said it renews 5 minutes before expiry; handing back a
    // token with 4 minutes left means it failed to.
    let mut m = Machine::new(Policy::default());
    let first = first_token(&mut m, from_metadata("ya29.one", 600 * S));
    let now = at(360);
    let t = refresh_due(&mut m, now);
    m.on_success(t.id(), from_metadata("ya29.one", 240 * S), now, now, 0)
        .unwrap()
        .unwrap();
    assert_eq!(m.current().unwrap().generation(), first.generation());
    assert_eq!(m.failures(), 1);
    assert!(
        drain(&mut m)
            .iter()
            .any(|e| matches!(e, Event::NoProgress { .. }))
    );
}

#[test]
fn a_401_evicts_the_token_under_any_generation_it_was_handed_back_under() {
    let mut m = Machine::new(Policy::default());
    let first = first_token(&mut m, from_metadata("ya29.one", HOUR));
    let now = first.refresh_at();
    let t = refresh_due(&mut m, now);
    let left = at(3600).saturating_duration_since(now);
    let kept = m
        .on_success(t.id(), from_metadata("ya29.one", left), now, now, 0)
        .unwrap()
        .unwrap();
    assert_ne!(kept.generation(), first.generation());
    // A caller still holding the first handle got the 401: same secret.
    assert!(m.invalidate(first.generation()));
    assert!(m.current().is_none());
    assert!(!m.invalidate(kept.generation()), "already invalidated");
    // The metadata server hands the rejected token back: that is no
    // progress, not a token to serve again.
    let Decision::RefreshAndWait(t) = m.decide(now + S) else {
        panic!()
    };
    let got = m.on_success(
        t.id(),
        from_metadata("ya29.one", left - S),
        now + S,
        now + S,
        0,
    );
    assert!(got.unwrap().is_err());
    assert!(m.current().is_none());
}

/// A metadata server as GCE documents it (Azure IMDS behaves alike): it
/// mints a token of `lifetime` and hands it back, with its remaining
/// lifetime, until `WINDOW` before expiry.
struct CachingServer {
    lifetime: Duration,
    minted: u32,
    current: Option<(String, Instant)>,
    requests: u32,
    declares: bool,
}

impl CachingServer {
    fn new(lifetime: Duration, declares: bool) -> Self {
        CachingServer {
            lifetime,
            minted: 0,
            current: None,
            requests: 0,
            declares,
        }
    }

    fn answer(&mut self, now: Instant) -> Fetched {
        self.requests += 1;
        let renew = match &self.current {
            Some((_, expires)) => expires.saturating_duration_since(now) <= WINDOW,
            None => true,
        };
        if renew {
            self.minted += 1;
            self.current = Some((format!("tok-{}", self.minted), now + self.lifetime));
        }
        let (token, expires) = self.current.clone().unwrap();
        let fetched = Fetched::new(token).with_lifetime(expires.saturating_duration_since(now));
        if self.declares {
            fetched.renewed_by_source(WINDOW)
        } else {
            fetched
        }
    }
}

/// Asks for a token every second for `hours` of virtual time; returns the
/// server and the NoProgress events seen. Every call must be served.
fn run(server: &mut CachingServer, hours: u64) -> usize {
    let mut m = Machine::new(Policy::default());
    let mut no_progress = 0;
    let mut random = 0x9e37_79b9_7f4a_7c15_u64;
    for second in 0..hours * 3600 {
        let now = at(second);
        random = random
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let (ticket, served) = match m.decide(now) {
            Decision::Serve(t) => (None, Some(t)),
            Decision::ServeAndRefresh(t, ticket) => (Some(ticket), Some(t)),
            Decision::RefreshAndWait(ticket) => (Some(ticket), None),
            other => panic!("at {second}s: {other:?}"),
        };
        if let Some(ticket) = ticket {
            let fetched = server.answer(now);
            let got = m
                .on_success(ticket.id(), fetched, now, now, random)
                .unwrap();
            assert!(got.is_ok(), "at {second}s a caller got {got:?}");
        }
        if let Some(t) = served {
            assert_ne!(t.phase(now), Phase::Expired, "at {second}s");
        }
        no_progress += drain(&mut m)
            .iter()
            .filter(|e| matches!(e, Event::NoProgress { .. }))
            .count();
    }
    no_progress
}

#[test]
fn a_day_against_a_caching_metadata_server_costs_two_requests_per_token() {
    for lifetime in [HOUR, 24 * HOUR] {
        let mut server = CachingServer::new(lifetime, true);
        let no_progress = run(&mut server, 48);
        assert_eq!(no_progress, 0, "lifetime {lifetime:?}");
        // Each token: the request that minted it, and at most one more that
        // found the server's cached copy; never a storm.
        assert!(
            server.requests <= 2 * server.minted,
            "lifetime {lifetime:?}: {} requests for {} tokens",
            server.requests,
            server.minted
        );
        // And a token is minted about once per (lifetime - window).
        let per_token = lifetime.saturating_sub(WINDOW).as_secs();
        assert!(u64::from(server.minted) <= 48 * 3600 / per_token + 2);
    }
}

#[test]
fn the_same_server_without_the_declaration_is_flagged_and_costs_more() {
    let mut declared = CachingServer::new(HOUR, true);
    run(&mut declared, 24);
    let mut silent = CachingServer::new(HOUR, false);
    let no_progress = run(&mut silent, 24);
    assert!(no_progress > 24, "{no_progress} NoProgress in 24 h");
    assert!(
        silent.requests > 3 * declared.requests,
        "{} vs {}",
        silent.requests,
        declared.requests
    );
}
