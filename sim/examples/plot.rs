//! Runs the two scenarios of the README — the seed incident and a
//! thundering herd — writes `docs/simulation.svg`, and prints a markdown
//! table per scenario.
//!
//! ```sh
//! cargo run --release -p freshen-sim --example plot [-- OUT.svg]
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use freshen_sim::{Scenario, plot_svg, run};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."));
    let out = std::env::args_os()
        .nth(1)
        .map_or_else(|| root.join("docs").join("simulation.svg"), PathBuf::from);
    let mut reports = Vec::new();
    for scenario in [Scenario::seed_incident(), Scenario::thundering_herd()] {
        let started = Instant::now();
        let report = run(&scenario);
        let took = started.elapsed();
        println!("{}", report.to_markdown());
        println!(
            "_Simulated in {:.0} ms (this machine, release build)._\n",
            took.as_secs_f64() * 1000.0
        );
        reports.push(report);
    }
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    plot_svg(&reports, &out)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}
