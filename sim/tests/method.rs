//! The method, checked against brute force: the same stacks simulated one
//! request at a time (every request drawn, every latency sampled, freshen's
//! machine asked on every request) must give the same would-be 401s and
//! request counts as the simulator's integrated spans, within sampling
//! noise. Plus determinism, validation and the outputs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use core::time::Duration;

use freshen_core::{Decision, Fetched, Generation, Instant, Machine, Policy};
use freshen_sim::{LatencyModel, Scenario, ScenarioError, Stack, plot_svg, run};

/// An independent PRNG for the brute force (xorshift64*).
struct Xs(u64);
impl Xs {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn exp(&mut self, rate: f64) -> f64 {
        -(1.0 - self.uniform()).ln() / rate
    }
}

struct World<'a> {
    rate: f64,
    lifetime: f64,
    end: f64,
    latency: &'a LatencyModel,
    rng: Xs,
    requests: u64,
    would_be_401s: u64,
}

impl World<'_> {
    /// One request sent at `at` with a token the server accepts until
    /// `real`.
    fn send(&mut self, at: f64, real: f64) {
        self.requests += 1;
        let latency = self.latency.quantile(self.rng.uniform()).as_secs_f64();
        if at + latency > real {
            self.would_be_401s += 1;
        }
    }
    /// A token-endpoint call sent at `at`: (answer at, real expiry).
    fn call(&mut self, at: f64) -> (f64, f64) {
        let d = 0.05 + 0.15 * self.rng.uniform();
        (at + d, at + d / 2.0 + self.lifetime)
    }
}

#[derive(Clone, Copy)]
struct Tok {
    believed: f64,
    real: f64,
}

struct Pending {
    done: f64,
    real: f64,
    waiters: u64,
}

fn brute_lazy(w: &mut World<'_>) {
    let (mut held, mut fetch): (Option<Tok>, Option<Pending>) = (None, None);
    let mut t = 0.0;
    loop {
        t += w.rng.exp(w.rate);
        if t >= w.end {
            return;
        }
        if let Some(f) = fetch.take_if(|f| f.done <= t) {
            held = Some(Tok {
                believed: f.done + w.lifetime,
                real: f.real,
            });
            for _ in 0..f.waiters {
                w.send(f.done, f.real);
            }
        }
        if let Some(f) = &mut fetch {
            f.waiters += 1;
            continue;
        }
        match held {
            Some(k) if t < k.believed - 10.0 => w.send(t, k.real),
            _ => {
                let (done, real) = w.call(t);
                fetch = Some(Pending {
                    done,
                    real,
                    waiters: 1,
                });
            }
        }
    }
}

fn brute_double(w: &mut World<'_>) {
    let lead = (w.lifetime / 2.0).min(1200.0);
    let (mut inner, mut outer, mut fetch): (Option<Tok>, Option<Tok>, Option<Pending>) =
        (None, None, None);
    let mut t = 0.0;
    loop {
        t += w.rng.exp(w.rate);
        if t >= w.end {
            return;
        }
        if let Some(f) = fetch.take_if(|f| f.done <= t) {
            let new = Tok {
                believed: f.done + w.lifetime,
                real: f.real,
            };
            inner = Some(new);
            outer = Some(new);
            for _ in 0..f.waiters {
                w.send(f.done, f.real);
            }
        }
        match outer {
            Some(o) if t < o.believed => {
                w.send(t, o.real);
                if t >= o.believed - lead && fetch.is_none() {
                    // Background refresh through the inner cache.
                    match inner {
                        Some(i) if t < i.believed - 10.0 => outer = Some(i),
                        _ => {
                            let (done, real) = w.call(t);
                            fetch = Some(Pending {
                                done,
                                real,
                                waiters: 0,
                            });
                        }
                    }
                }
            }
            _ => match &mut fetch {
                Some(f) => f.waiters += 1,
                None => {
                    let (done, real) = w.call(t);
                    fetch = Some(Pending {
                        done,
                        real,
                        waiters: 1,
                    });
                }
            },
        }
    }
}

/// freshen with the machine asked on every single request (no read path).
fn brute_freshen(w: &mut World<'_>) {
    let ns = |s: f64| Instant::from_nanos((s * 1e9) as u64);
    let mut m = Machine::new(Policy::default());
    let mut fetch: Option<(freshen_core::AttemptId, f64, Pending)> = None;
    let mut newest: Option<(Generation, f64)> = None;
    let mut minted = 0;
    let mut t = 0.0;
    loop {
        t += w.rng.exp(w.rate);
        if t >= w.end {
            return;
        }
        if let Some((id, sent, f)) = fetch.take_if(|f| f.2.done <= t) {
            minted += 1;
            let fetched = Fetched::new(format!("b-{minted}"))
                .with_lifetime(Duration::from_secs_f64(w.lifetime));
            let random = w.rng.next();
            let tok = m
                .on_success(id, fetched, ns(sent), ns(f.done), random)
                .unwrap()
                .unwrap();
            newest = Some((tok.generation(), f.real));
            for _ in 0..f.waiters {
                w.send(f.done, f.real);
            }
        }
        let real = |g: Generation| newest.filter(|n| n.0 == g).unwrap().1;
        match m.decide(ns(t)) {
            Decision::Serve(tok) => w.send(t, real(tok.generation())),
            Decision::ServeAndRefresh(tok, ticket) => {
                w.send(t, real(tok.generation()));
                let (done, r) = w.call(t);
                let p = Pending {
                    done,
                    real: r,
                    waiters: 0,
                };
                fetch = Some((ticket.id(), t, p));
            }
            Decision::Wait { .. } => fetch.as_mut().unwrap().2.waiters += 1,
            Decision::RefreshAndWait(ticket) => {
                let (done, r) = w.call(t);
                let p = Pending {
                    done,
                    real: r,
                    waiters: 1,
                };
                fetch = Some((ticket.id(), t, p));
            }
            Decision::Fail(e) => panic!("{e}"),
        }
        while m.poll_event().is_some() {}
    }
}

/// One instance, started at 0, short tokens so that many rotations fit.
fn small(stack: Stack, tail: Duration, seed: u64) -> Scenario {
    Scenario::builder()
        .name("brute force")
        .instances(1)
        .requests_per_sec(150.0)
        .lifetime(Duration::from_secs(300))
        .latency_tail(tail)
        .start_spread(Duration::ZERO)
        .duration(Duration::from_secs(2 * 3600))
        .seed(seed)
        .stacks([stack])
        .build()
        .unwrap()
}

fn compare(stack: Stack, tail: Duration, brute: fn(&mut World<'_>)) {
    let seeds = 6;
    let (mut sim_401, mut sim_req, mut bf_401, mut bf_req) = (0.0, 0.0, 0.0, 0.0);
    for seed in 0..seeds {
        let scenario = small(stack.clone(), tail, seed + 1);
        let report = run(&scenario);
        let r = &report.stacks[0];
        sim_401 += r.expected_would_be_401s;
        sim_req += r.requests as f64;
        let mut w = World {
            rate: scenario.requests_per_sec(),
            lifetime: scenario.lifetime().as_secs_f64(),
            end: scenario.duration().as_secs_f64(),
            latency: scenario.latency(),
            rng: Xs(0x9E37_79B9_7F4A_7C15 ^ (seed + 1).wrapping_mul(0x1234_5678_9ABC_DEF1)),
            requests: 0,
            would_be_401s: 0,
        };
        brute(&mut w);
        bf_401 += w.would_be_401s as f64;
        bf_req += w.requests as f64;
    }
    eprintln!(
        "{}: would-be 401s sim {sim_401:.1} vs brute force {bf_401}; requests {sim_req} vs {bf_req}",
        stack.label()
    );
    // Brute-force counts are Poisson-like: allow 4 sigma plus 3 % for the
    // latency table's discretisation.
    let tolerance = 4.0 * bf_401.sqrt() + 0.03 * bf_401;
    assert!(bf_401 > 300.0, "too few to compare: {bf_401}");
    assert!(
        (sim_401 - bf_401).abs() <= tolerance,
        "{}: sim {sim_401} vs brute force {bf_401} (± {tolerance})",
        stack.label()
    );
    let req_tolerance = 4.0 * bf_req.sqrt() + 0.001 * bf_req;
    assert!((sim_req - bf_req).abs() <= req_tolerance);
}

#[test]
fn lazy_cache_matches_brute_force() {
    compare(Stack::Lazy, Duration::from_secs(30), brute_lazy);
}

#[test]
fn double_cache_matches_brute_force() {
    compare(Stack::DoubleCache, Duration::from_secs(30), brute_double);
}

#[test]
fn freshen_matches_brute_force_when_the_tail_outlasts_its_lead() {
    // 5 min tokens refresh 120–150 s before expiry; a tail of 150 s (max
    // 300 s) reaches past that, so freshen has would-be 401s to count too.
    compare(Stack::freshen(), Duration::from_secs(150), brute_freshen);
}

#[test]
fn a_seed_gives_the_same_report_and_another_seed_a_different_one() {
    let a = run(&Scenario::seed_incident());
    let b = run(&Scenario::seed_incident());
    assert_eq!(a.to_markdown(), b.to_markdown());
    let c = run(&Scenario::builder().seed(2).build().unwrap());
    assert_ne!(a.to_markdown(), c.to_markdown());
}

#[test]
fn builder_checks_its_values() {
    let e = |b: freshen_sim::ScenarioBuilder| b.build().unwrap_err();
    assert_eq!(
        e(Scenario::builder().instances(0)),
        ScenarioError::NoInstances
    );
    assert_eq!(
        e(Scenario::builder().requests_per_sec(f64::NAN)),
        ScenarioError::Rate
    );
    assert_eq!(
        e(Scenario::builder().lifetime(Duration::from_secs(5))),
        ScenarioError::LifetimeTooShort
    );
    assert_eq!(
        e(Scenario::builder().bucket(Duration::from_millis(1500))),
        ScenarioError::Bucket
    );
    assert_eq!(e(Scenario::builder().stacks([])), ScenarioError::Stacks);
    assert_eq!(
        e(Scenario::builder().stacks([Stack::Lazy, Stack::Lazy])),
        ScenarioError::Stacks
    );
    assert!(matches!(
        e(Scenario::builder().latency_tail(Duration::from_millis(200))),
        ScenarioError::Latency(_)
    ));
    let s = Scenario::builder()
        .latency_tail(Duration::from_secs(10))
        .build()
        .unwrap();
    assert_eq!(s.latency().max(), Duration::from_secs(20));
    assert!((s.latency().quantile(0.999).as_secs_f64() - 10.0).abs() < 1e-6);
}

#[test]
fn prefetch_policy_is_driven_by_the_timer() {
    // With prefetch on and traffic too thin to catch the stale window (one
    // request per instance every ~80 min), the timer refreshes anyway: no
    // caller waits after start-up.
    let policy = Policy::builder().prefetch(true).build().unwrap();
    let scenario = Scenario::builder()
        .instances(50)
        .requests_per_sec(0.01)
        .duration(Duration::from_secs(8 * 3600))
        .stacks([Stack::freshen(), Stack::freshen_with("prefetch", policy)])
        .build()
        .unwrap();
    let report = run(&scenario);
    eprintln!("{}", report.to_markdown());
    let plain = report.stack("freshen").unwrap();
    let prefetch = report.stack("prefetch").unwrap();
    assert!(
        plain.waited_at_rotation > 0,
        "thin traffic finds expired tokens"
    );
    assert_eq!(prefetch.waited_at_rotation, 0);
    assert!(prefetch.rotations > 50 * 10, "{}", prefetch.rotations);
    assert_eq!(prefetch.would_be_401s + plain.would_be_401s, 0);
}

#[test]
fn markdown_and_svg() {
    let scenario = Scenario::builder()
        .instances(3)
        .requests_per_sec(30.0)
        .duration(Duration::from_secs(2 * 3600))
        .build()
        .unwrap();
    let report = run(&scenario);
    let md = report.to_markdown();
    for label in ["lazy cache (x/oauth2)", "double cache (seed)", "freshen"] {
        assert!(md.contains(&format!("| {label} |")), "{md}");
    }
    assert_eq!(report.stacks[0].series.would_be_401s.len(), 720);
    let path = std::env::temp_dir().join(format!("freshen-sim-{}.svg", std::process::id()));
    plot_svg(&[report.clone(), report], &path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(svg.starts_with("<svg"));
    assert!(svg.contains("would-be 401s") && svg.contains("token-endpoint calls"));
    assert!(plot_svg(&[], &path).is_err());
}
