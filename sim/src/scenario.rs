//! What to simulate: the fleet, its traffic, the token, and the stacks.

use core::fmt;
use core::time::Duration;

use freshen_core::Policy;

use crate::latency::LatencyModel;

/// A token-cache stack to simulate on every instance of the fleet.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Stack {
    /// (a) An x/oauth2-style lazy cache: on a request, if it has no token or
    /// the token expires within 10 s, it fetches synchronously (the caller
    /// waits; concurrent callers of the instance wait for the same fetch),
    /// else it hands out the token.
    Lazy,
    /// (b) The double cache of the seed: an outer refresh-ahead cache
    /// (refresh in the background when less than `min(L/2, 20 min)` is
    /// left, no jitter, no no-progress detection: it takes whatever comes
    /// back) over an inner cache of kind (a). The outer cache's early
    /// refreshes get the inner cache's old token back, so the real refresh
    /// happens ~10 s before expiry.
    DoubleCache,
    /// (c) freshen: one [`freshen_core::Machine`] per instance with this
    /// policy, driven as freshen's drivers drive it.
    Freshen {
        /// The name in reports and plots.
        label: String,
        /// The machine's policy.
        policy: Policy,
    },
    /// (d) freshen behind a shared store (freshen-fleet): each instance's
    /// machine as in (c), its source a tier over one store the whole fleet
    /// shares. A refresh adopts a newer stored token (one store round trip),
    /// else takes the lease and calls the endpoint (and stores the token),
    /// else waits for the lease holder's token. In `outage` (from, to) the
    /// store is down: every instance fetches alone, and the store comes back
    /// empty.
    SharedStore {
        /// The name in reports and plots.
        label: String,
        /// The machines' policy.
        policy: Policy,
        /// When the store is unreachable, from the start of the run.
        outage: Option<(Duration, Duration)>,
    },
}

impl Stack {
    /// freshen with [`Policy::default()`], labelled `freshen`.
    pub fn freshen() -> Self {
        Stack::Freshen {
            label: "freshen".into(),
            policy: Policy::default(),
        }
    }

    /// freshen with `policy`, labelled `label`.
    pub fn freshen_with(label: impl Into<String>, policy: Policy) -> Self {
        Stack::Freshen {
            label: label.into(),
            policy,
        }
    }

    /// freshen with the default policy but no jitter: the baseline for the
    /// fleet-wide refresh peak.
    pub fn freshen_no_jitter() -> Self {
        let policy = Policy::builder()
            .jitter(0.0)
            .build()
            .unwrap_or_else(|_| Policy::default());
        Stack::freshen_with("freshen, no jitter", policy)
    }

    /// freshen with the default policy behind a shared store that is down
    /// during `outage` (from, to), labelled `freshen + shared store`.
    pub fn shared_store(outage: Option<(Duration, Duration)>) -> Self {
        Stack::SharedStore {
            label: "freshen + shared store".into(),
            policy: Policy::default(),
            outage,
        }
    }

    /// The name in reports and plots.
    pub fn label(&self) -> &str {
        match self {
            Stack::Lazy => "lazy cache (x/oauth2)",
            Stack::DoubleCache => "double cache (seed)",
            Stack::Freshen { label, .. } | Stack::SharedStore { label, .. } => label,
        }
    }
}

/// Why a [`ScenarioBuilder`] refused its values.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The fleet has no instance.
    NoInstances,
    /// The request rate is not a finite number above zero.
    Rate,
    /// The token lifetime is under one minute.
    LifetimeTooShort,
    /// The duration is zero or longer than 30 days.
    Duration,
    /// The bucket is not a whole number of seconds from 1 s up to the
    /// duration.
    Bucket,
    /// The endpoint latency range is empty or longer than a minute.
    EndpointLatency,
    /// The latency distribution is invalid; the text says why.
    Latency(&'static str),
    /// No stack to simulate, or two with the same label.
    Stacks,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::NoInstances => f.write_str("the fleet needs at least one instance"),
            ScenarioError::Rate => {
                f.write_str("the request rate must be a finite number above zero")
            }
            ScenarioError::LifetimeTooShort => {
                f.write_str("the token lifetime must be at least 1 min")
            }
            ScenarioError::Duration => {
                f.write_str("the duration must be above zero and at most 30 days")
            }
            ScenarioError::Bucket => {
                f.write_str("the bucket must be whole seconds, at least 1 s, at most the duration")
            }
            ScenarioError::EndpointLatency => {
                f.write_str("the endpoint latency must be a range min <= max <= 60 s")
            }
            ScenarioError::Latency(why) => write!(f, "request latency: {why}"),
            ScenarioError::Stacks => f.write_str("at least one stack, each with its own label"),
        }
    }
}

impl std::error::Error for ScenarioError {}

/// A simulation: a fleet of instances, the traffic they serve, the token
/// lifetime, and the token-cache stacks compared side by side.
///
/// Build one with [`Scenario::builder`], or start from a preset
/// ([`Scenario::default`] = [`Scenario::seed_incident`],
/// [`Scenario::thundering_herd`]). Every value is checked when built, so a
/// `Scenario` is always valid.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub(crate) name: String,
    pub(crate) instances: u32,
    pub(crate) requests_per_sec: f64,
    pub(crate) latency: LatencyModel,
    pub(crate) lifetime: Duration,
    pub(crate) start_spread: Duration,
    pub(crate) duration: Duration,
    pub(crate) endpoint_latency: (Duration, Duration),
    pub(crate) bucket: Duration,
    pub(crate) seed: u64,
    pub(crate) stacks: Vec<Stack>,
}

impl Default for Scenario {
    /// [`Scenario::seed_incident`].
    fn default() -> Self {
        Scenario::seed_incident()
    }
}

impl Scenario {
    /// A builder starting from [`Scenario::default`]'s values, named
    /// `custom scenario`.
    pub fn builder() -> ScenarioBuilder {
        ScenarioBuilder {
            scenario: Scenario {
                name: "custom scenario".into(),
                ..Scenario::seed_incident()
            },
            latency: LatencyParts::default(),
        }
    }

    /// The seed incident: 20 instances started within a minute, 10,000
    /// requests/s across the fleet, 1 h tokens, request latency with a 30 s
    /// p99.9 (median 100 ms, at most 60 s), a token endpoint answering in
    /// 50–200 ms, 4 simulated hours in 10 s buckets, stacks (a), (b), (c).
    pub fn seed_incident() -> Self {
        Scenario {
            name: "seed incident: 20 instances, 10k req/s, 1 h tokens, 30 s tail".into(),
            instances: 20,
            requests_per_sec: 10_000.0,
            latency: LatencyModel::default(),
            lifetime: Duration::from_secs(3600),
            start_spread: Duration::from_secs(60),
            duration: Duration::from_secs(4 * 3600),
            endpoint_latency: (Duration::from_millis(50), Duration::from_millis(200)),
            bucket: Duration::from_secs(10),
            seed: 1,
            stacks: vec![Stack::Lazy, Stack::DoubleCache, Stack::freshen()],
        }
    }

    /// A thundering herd: 10,000 instances started within 1 s, otherwise as
    /// [`Scenario::seed_incident`] for 3 simulated hours, with freshen
    /// without jitter as a fourth stack (the "peak without jitter").
    pub fn thundering_herd() -> Self {
        Scenario {
            name: "thundering herd: 10,000 instances started within 1 s, 10k req/s, 1 h tokens"
                .into(),
            instances: 10_000,
            start_spread: Duration::from_secs(1),
            duration: Duration::from_secs(3 * 3600),
            stacks: vec![
                Stack::Lazy,
                Stack::DoubleCache,
                Stack::freshen(),
                Stack::freshen_no_jitter(),
            ],
            ..Scenario::seed_incident()
        }
    }

    /// A fleet sharing its tokens: 1,000 instances started within a minute,
    /// 10,000 requests/s, 1 h tokens, 4 simulated hours, the shared store
    /// down from 1:55 to 2:15; freshen per instance against freshen behind
    /// the shared store.
    pub fn shared_fleet() -> Self {
        let outage = (Duration::from_secs(115 * 60), Duration::from_secs(135 * 60));
        Scenario {
            name: "fleet of 1,000 sharing tokens: 1 h tokens, shared store down 1:55-2:15".into(),
            instances: 1_000,
            stacks: vec![Stack::freshen(), Stack::shared_store(Some(outage))],
            ..Scenario::seed_incident()
        }
    }

    /// The name in reports and plots.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Instances in the fleet.
    pub fn instances(&self) -> u32 {
        self.instances
    }
    /// Requests per second across the fleet, spread evenly over the
    /// instances (each gets `rate / instances` from its start on).
    pub fn requests_per_sec(&self) -> f64 {
        self.requests_per_sec
    }
    /// The request-latency distribution.
    pub fn latency(&self) -> &LatencyModel {
        &self.latency
    }
    /// The lifetime of every token the endpoint issues (`expires_in`).
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }
    /// Instance `i` starts at a uniform random offset in `[0, spread]`.
    pub fn start_spread(&self) -> Duration {
        self.start_spread
    }
    /// Simulated time.
    pub fn duration(&self) -> Duration {
        self.duration
    }
    /// The token endpoint answers after a latency uniform in this range.
    pub fn endpoint_latency(&self) -> (Duration, Duration) {
        self.endpoint_latency
    }
    /// The width of the time-series buckets.
    pub fn bucket(&self) -> Duration {
        self.bucket
    }
    /// The PRNG seed: the same scenario and seed give the same report.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// The stacks compared.
    pub fn stacks(&self) -> &[Stack] {
        &self.stacks
    }
}

#[derive(Clone, Debug, Default)]
struct LatencyParts {
    median: Option<Duration>,
    sigma: Option<f64>,
    tail: Option<Duration>,
    max: Option<Duration>,
}

/// Builds a [`Scenario`]; unset values keep [`Scenario::default`]'s.
#[derive(Clone, Debug)]
#[must_use]
pub struct ScenarioBuilder {
    scenario: Scenario,
    latency: LatencyParts,
}

impl ScenarioBuilder {
    /// Starts from `scenario`'s values instead of the defaults.
    pub fn from_scenario(scenario: Scenario) -> Self {
        ScenarioBuilder {
            scenario,
            latency: LatencyParts::default(),
        }
    }
    /// The name in reports and plots.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.scenario.name = name.into();
        self
    }
    /// Instances in the fleet (default 20).
    pub fn instances(mut self, n: u32) -> Self {
        self.scenario.instances = n;
        self
    }
    /// Requests per second across the fleet (default 10,000).
    pub fn requests_per_sec(mut self, rate: f64) -> Self {
        self.scenario.requests_per_sec = rate;
        self
    }
    /// The median request latency (default 100 ms).
    pub fn latency_median(mut self, median: Duration) -> Self {
        self.latency.median = Some(median);
        self
    }
    /// The spread of the log-normal body: sigma of `ln(latency)` (default
    /// 0.5, p99 ≈ 3.2 × the median).
    pub fn latency_sigma(mut self, sigma: f64) -> Self {
        self.latency.sigma = Some(sigma);
        self
    }
    /// The p99.9 request latency (default 30 s). Unless set with
    /// [`ScenarioBuilder::latency_max`], the longest latency is twice this.
    pub fn latency_tail(mut self, tail: Duration) -> Self {
        self.latency.tail = Some(tail);
        self
    }
    /// The longest request latency: a client timeout (default twice the
    /// tail).
    pub fn latency_max(mut self, max: Duration) -> Self {
        self.latency.max = Some(max);
        self
    }
    /// The token lifetime (default 1 h; at least 1 min).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.scenario.lifetime = lifetime;
        self
    }
    /// How far apart the instances start (default 60 s).
    pub fn start_spread(mut self, spread: Duration) -> Self {
        self.scenario.start_spread = spread;
        self
    }
    /// Simulated time (default 4 h).
    pub fn duration(mut self, duration: Duration) -> Self {
        self.scenario.duration = duration;
        self
    }
    /// The token endpoint's latency range (default 50–200 ms).
    pub fn endpoint_latency(mut self, min: Duration, max: Duration) -> Self {
        self.scenario.endpoint_latency = (min, max);
        self
    }
    /// The time-series bucket (default 10 s; whole seconds).
    pub fn bucket(mut self, bucket: Duration) -> Self {
        self.scenario.bucket = bucket;
        self
    }
    /// The PRNG seed (default 1).
    pub fn seed(mut self, seed: u64) -> Self {
        self.scenario.seed = seed;
        self
    }
    /// The stacks to compare (default (a), (b), (c)).
    pub fn stacks(mut self, stacks: impl IntoIterator<Item = Stack>) -> Self {
        self.scenario.stacks = stacks.into_iter().collect();
        self
    }

    /// Checks every value and builds the scenario.
    pub fn build(self) -> Result<Scenario, ScenarioError> {
        let mut s = self.scenario;
        let l = self.latency;
        if l.median.is_some() || l.sigma.is_some() || l.tail.is_some() || l.max.is_some() {
            let tail = l.tail.unwrap_or(s.latency.tail());
            let max = match (l.max, l.tail) {
                (Some(max), _) => max,
                (None, Some(tail)) => tail.saturating_mul(2),
                (None, None) => s.latency.max(),
            };
            s.latency = LatencyModel::new(
                l.median.unwrap_or(s.latency.median()),
                l.sigma.unwrap_or(s.latency.sigma()),
                tail,
                max,
            )?;
        }
        if s.instances == 0 {
            return Err(ScenarioError::NoInstances);
        }
        if !s.requests_per_sec.is_finite() || s.requests_per_sec <= 0.0 {
            return Err(ScenarioError::Rate);
        }
        if s.lifetime < Duration::from_secs(60) {
            return Err(ScenarioError::LifetimeTooShort);
        }
        if s.duration.is_zero() || s.duration > Duration::from_secs(30 * 86_400) {
            return Err(ScenarioError::Duration);
        }
        if s.bucket < Duration::from_secs(1)
            || s.bucket.subsec_nanos() != 0
            || s.bucket > s.duration
        {
            return Err(ScenarioError::Bucket);
        }
        let (lo, hi) = s.endpoint_latency;
        if lo > hi || hi > Duration::from_secs(60) {
            return Err(ScenarioError::EndpointLatency);
        }
        if s.start_spread > Duration::from_secs(30 * 86_400) {
            return Err(ScenarioError::Duration);
        }
        if s.stacks.is_empty() {
            return Err(ScenarioError::Stacks);
        }
        for (i, a) in s.stacks.iter().enumerate() {
            if s.stacks.iter().skip(i + 1).any(|b| b.label() == a.label()) {
                return Err(ScenarioError::Stacks);
            }
        }
        Ok(s)
    }
}
