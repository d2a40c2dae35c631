//! freshen-sim: a fleet on virtual time — no network, no real clock: three
//! token-cache stacks side by side, and what a user would see.
//!
//! Each instance of the fleet serves its share of the traffic and keeps a
//! token with one of these stacks ([`Stack`]):
//!
//! - (a) an x/oauth2-style lazy cache ([`Stack::Lazy`]);
//! - (b) the double cache of the seed incident ([`Stack::DoubleCache`]);
//! - (c) freshen: the real [`freshen_core::Machine`], driven as freshen's
//!   drivers drive it ([`Stack::Freshen`]);
//! - (d) freshen behind a shared store, as freshen-fleet shares tokens
//!   across a fleet, with an optional store outage ([`Stack::SharedStore`]).
//!
//! The token endpoint is well-behaved: every call, after 50–200 ms, brings a
//! new token of the full lifetime. For each stack the [`Report`] gives the
//! would-be 401s (requests whose token expired before they completed), the
//! endpoint calls and their peak per second, the longest wait for a token,
//! and time series for plotting ([`plot_svg`]).
//!
//! ```
//! use core::time::Duration;
//! use freshen_sim::{Scenario, Stack, run};
//!
//! let scenario = Scenario::builder()
//!     .instances(4)
//!     .requests_per_sec(200.0)
//!     .duration(Duration::from_secs(3 * 3600))
//!     .stacks([Stack::DoubleCache, Stack::freshen()])
//!     .build()
//!     .expect("a valid scenario");
//! let report = run(&scenario);
//! assert_eq!(report.stack("freshen").map(|s| s.would_be_401s), Some(0));
//! println!("{}", report.to_markdown());
//! ```
//!
//! # Method and resolution
//!
//! Event-driven per instance, not per tick. Requests of an instance arrive
//! as a Poisson process of rate `requests_per_sec / instances`, from the
//! instance's start (uniform in `[0, start_spread]`) to the end of the run.
//! Time is kept in nanoseconds, as `freshen_core::Instant`s.
//!
//! - While a stack answers every arrival alike (a cached token, no state
//!   change: freshen's lock-free read path of a fresh token, the lazy cache
//!   before its 10 s expiry delta, the double cache before its inner cache
//!   lets go), the whole span is integrated: its requests and its would-be
//!   401s are Poisson with means `r·(b − a)` and `r·∫ₐᵇ P(ℓ > E − s) ds`
//!   (`ℓ` the request latency, `E` the token's real expiry), computed in
//!   closed form from the latency table ([`LatencyModel`]). The means are
//!   summed per bucket over the fleet and drawn once per bucket.
//! - Otherwise the next arrival is drawn (`Exp(r)` after now) and handled on
//!   its own: freshen's `decide`, a synchronous fetch, joining a fetch in
//!   flight; its would-be 401 is a Bernoulli draw.
//! - Callers that wait are sent when the token arrives; a request sent at
//!   `s` with a token the server accepts until `E` is a would-be 401 if
//!   `s + ℓ > E`. The server mints a token half-way through the endpoint's
//!   round trip; freshen counts the lifetime from the send, x/oauth2 from
//!   the receipt (so it believes its token lives half a round trip longer).
//!
//! So the counts are exact for the model up to the latency table's
//! discretisation (2,890 quantile cells; tail cells of 10⁻⁵ and 10⁻⁶ in
//! probability). Series are per bucket (default 10 s, by send time); peaks
//! of endpoint calls are per whole second of simulated time. Work is
//! proportional to the number of state changes, not of requests: hours of
//! 10,000 requests/s take milliseconds per stack.

mod latency;
mod plot;
mod record;
mod report;
mod rng;
mod scenario;
mod stacks;

pub use latency::LatencyModel;
pub use plot::{PlotError, plot_svg};
pub use report::{Report, Series, StackReport};
pub use scenario::{Scenario, ScenarioBuilder, ScenarioError, Stack};

use record::Recorder;
use rng::Rng;
use stacks::Ctx;

fn nanos(d: core::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Runs `scenario`: every stack on the same fleet (same start offsets, same
/// traffic model), each with its own deterministic random streams.
pub fn run(scenario: &Scenario) -> Report {
    let end = nanos(scenario.duration());
    let rate = scenario.requests_per_sec() / f64::from(scenario.instances().max(1));
    let (lo, hi) = scenario.endpoint_latency();
    let ctx = Ctx {
        end,
        rate,
        lifetime: nanos(scenario.lifetime()),
        endpoint: (nanos(lo), nanos(hi).max(nanos(lo))),
    };
    let spread = nanos(scenario.start_spread()) as f64;
    let mut starts_rng = Rng::stream(scenario.seed(), 0, 0);
    let starts: Vec<u64> = (0..scenario.instances())
        .map(|_| (starts_rng.uniform() * spread) as u64)
        .collect();
    let stacks = scenario
        .stacks()
        .iter()
        .zip(1u64..)
        .map(|(stack, k)| {
            let mut rec = Recorder::new(scenario.latency(), rate, scenario.bucket(), end);
            if let Stack::SharedStore { policy, outage, .. } = stack {
                let mut rngs: Vec<Rng> = (0..scenario.instances())
                    .map(|i| Rng::stream(scenario.seed(), k, u64::from(i)))
                    .collect();
                let outage = outage.map(|(from, to)| (nanos(from), nanos(to)));
                stacks::shared_store(&mut rec, &ctx, &mut rngs, &starts, policy, outage);
            }
            for (start, i) in starts.iter().zip(0u32..) {
                let mut rng = Rng::stream(scenario.seed(), k, u64::from(i));
                match stack {
                    Stack::Lazy => stacks::lazy(&mut rec, &ctx, &mut rng, *start),
                    Stack::DoubleCache => stacks::double_cache(&mut rec, &ctx, &mut rng, *start),
                    Stack::Freshen { policy, .. } => {
                        stacks::freshen(&mut rec, &ctx, &mut rng, *start, policy, i);
                    }
                    // Run above, the whole fleet at once.
                    Stack::SharedStore { .. } => {}
                }
            }
            rec.finish(
                stack.label().to_string(),
                &mut Rng::stream(scenario.seed(), k, u64::MAX),
            )
        })
        .collect();
    Report {
        scenario: scenario.clone(),
        stacks,
    }
}
