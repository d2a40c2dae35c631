//! How a node turns a shared entry's remaining life into the lifetime it
//! hands its own cache, so every node stops using the token at the same
//! moment.
//!
//! The cache computes `usable_until = sent + lifetime - margin_for(lifetime)`
//! where `margin_for(l) = min(margin, l / 4)`. The node that fetched the
//! token used its full lifetime `L`, so it stops at `expiry - margin_for(L)`.
//! An adopter that passed the raw remaining life `R` would get the smaller
//! margin `margin_for(R)` and serve the token *later* than the fetcher (a
//! 401 window near expiry). So the adopter passes the `x <= R` for which
//! `x - margin_for(x) = R - margin_for(L)`: both stop at the same instant.
//! `x <= R` also keeps the adopter's idea of the expiry on the safe side.

use std::time::Duration;

use freshen_core::Policy;

/// The lifetime to hand the cache for a token of full lifetime `full` with
/// `remaining` left, or `None` when no more than the margin is left (such
/// an entry is never adopted): [`Policy::adopted_lifetime`], the one place
/// this is decided (the simulator uses it too).
pub(crate) fn adopted_lifetime(
    policy: &Policy,
    full: Duration,
    remaining: Duration,
) -> Option<Duration> {
    policy.adopted_lifetime(full, remaining)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn usable_for(policy: &Policy, lifetime: Duration) -> Duration {
        lifetime - policy.margin_for(lifetime)
    }

    #[test]
    fn an_adopter_stops_when_the_fetcher_stops() {
        let policy = Policy::default();
        for (full, remaining) in [
            (3600, 3000),
            (3600, 100),
            (3600, 61),
            (300, 250),
            (300, 70),
            (8, 7),
            (8, 3),
        ] {
            let (full, remaining) = (Duration::from_secs(full), Duration::from_secs(remaining));
            let fetcher_left = remaining - policy.margin_for(full);
            let x = adopted_lifetime(&policy, full, remaining).unwrap();
            let adopter_left = usable_for(&policy, x);
            let diff = adopter_left.abs_diff(fetcher_left);
            assert!(
                diff <= Duration::from_millis(1),
                "{full:?}/{remaining:?}: {diff:?}"
            );
            assert!(x <= remaining);
        }
    }

    #[test]
    fn an_entry_with_no_more_than_the_margin_left_is_never_adopted() {
        let policy = Policy::default();
        let hour = Duration::from_secs(3600);
        assert_eq!(
            adopted_lifetime(&policy, hour, Duration::from_secs(60)),
            None
        );
        assert_eq!(
            adopted_lifetime(&policy, hour, Duration::from_secs(59)),
            None
        );
        assert!(adopted_lifetime(&policy, hour, Duration::from_secs(61)).is_some());
        // A short token's margin is a quarter of its lifetime.
        let eight = Duration::from_secs(8);
        assert_eq!(
            adopted_lifetime(&policy, eight, Duration::from_secs(2)),
            None
        );
    }
}
