//! `freshen simulate`: the fleet simulator (freshen-sim) from the command line.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use freshen_sim::{Scenario, ScenarioBuilder, Stack, plot_svg, run};

use crate::exit;

/// A scenario to start from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Preset {
    /// The seed incident: 20 instances, 10k req/s, 1 h tokens, 30 s latency tail.
    SeedIncident,
    /// 10,000 instances started within one second.
    ThunderingHerd,
    /// 1,000 instances sharing tokens through a store that is down for 20 min.
    SharedFleet,
}

/// `freshen simulate` arguments: a preset, with any number overridden.
#[derive(Args, Debug)]
pub(crate) struct SimulateArgs {
    /// The scenario to start from.
    #[arg(long, value_enum, default_value_t = Preset::SeedIncident)]
    pub preset: Preset,
    /// Instances in the fleet.
    #[arg(long)]
    pub instances: Option<u32>,
    /// Requests per second across the fleet.
    #[arg(long)]
    pub rps: Option<f64>,
    /// Token lifetime, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub lifetime: Option<u64>,
    /// The p99.9 request latency, in seconds (the long tail).
    #[arg(long, value_name = "SECONDS")]
    pub latency_tail: Option<f64>,
    /// Instances start uniformly within this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub start_spread: Option<f64>,
    /// Simulated hours.
    #[arg(long)]
    pub hours: Option<f64>,
    /// Seed of the simulation's random numbers.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Also run freshen with jitter off, to see what jitter buys.
    #[arg(long)]
    pub no_jitter_baseline: bool,
    /// Write an SVG plot of would-be 401s and endpoint calls over time here.
    #[arg(long, value_name = "PATH")]
    pub svg: Option<PathBuf>,
}

fn secs(s: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s).map_err(|e| format!("{s} seconds: {e}"))
}

impl SimulateArgs {
    fn scenario(&self) -> Result<Scenario, String> {
        let base = match self.preset {
            Preset::SeedIncident => Scenario::seed_incident(),
            Preset::ThunderingHerd => Scenario::thundering_herd(),
            Preset::SharedFleet => Scenario::shared_fleet(),
        };
        let mut b = ScenarioBuilder::from_scenario(base);
        if let Some(n) = self.instances {
            b = b.instances(n);
        }
        if let Some(r) = self.rps {
            b = b.requests_per_sec(r);
        }
        if let Some(l) = self.lifetime {
            b = b.lifetime(Duration::from_secs(l));
        }
        if let Some(t) = self.latency_tail {
            b = b.latency_tail(secs(t)?);
        }
        if let Some(s) = self.start_spread {
            b = b.start_spread(secs(s)?);
        }
        if let Some(h) = self.hours {
            b = b.duration(secs(h * 3600.0)?);
        }
        if let Some(s) = self.seed {
            b = b.seed(s);
        }
        if self.no_jitter_baseline {
            b = b.stacks([
                Stack::Lazy,
                Stack::DoubleCache,
                Stack::freshen(),
                Stack::freshen_no_jitter(),
            ]);
        }
        b.build().map_err(|e| e.to_string())
    }
}

/// Runs the simulation; prints the report as markdown. Returns the exit code.
pub(crate) fn run_cli(args: &SimulateArgs) -> u8 {
    let scenario = match args.scenario() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("freshen: invalid scenario: {e}");
            return exit::USAGE;
        }
    };
    let started = Instant::now();
    let report = run(&scenario);
    println!("{}", report.to_markdown());
    eprintln!("simulated in {:.2?}", started.elapsed());
    if let Some(path) = &args.svg {
        if let Err(e) = plot_svg(std::slice::from_ref(&report), path) {
            eprintln!("freshen: cannot write {}: {e}", path.display());
            return exit::CONFIG;
        }
        eprintln!("plot written to {}", path.display());
    }
    exit::OK
}
