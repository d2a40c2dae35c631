//! What the read-path tests share: a `Shared` cache driven by hand.
#![allow(clippy::panic, dead_code)]

use std::time::Duration;

use freshen_cache::ReadMode;
use freshen_cache::driver::{Outcome, Shared, Step};
use freshen_core::{Fetched, Instant, Policy};

pub(crate) const HOUR: Duration = Duration::from_secs(3600);

/// Fetches `secret` at `now` for an hour.
pub(crate) fn refresh(shared: &Shared, secret: &str, now: Instant) {
    refresh_for(shared, secret, now, HOUR);
}

/// Fetches `secret` at `now` for `lifetime`.
pub(crate) fn refresh_for(shared: &Shared, secret: &str, now: Instant, lifetime: Duration) {
    let Step::Run { attempt, .. } = shared.decide(now) else {
        panic!("expected an attempt")
    };
    let fetched = Fetched::new(secret).with_lifetime(lifetime);
    shared.complete(&attempt, Outcome::Fetched(Ok(fetched)), now, now);
}

/// A cache with `mode`'s read path, holding `secret` fetched at 0.
pub(crate) fn holding_with(secret: &str, mode: ReadMode) -> Shared {
    let shared = Shared::with_read_mode(Policy::default(), None, Some(1), mode);
    refresh(&shared, secret, Instant::ZERO);
    shared
}
