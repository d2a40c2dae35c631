//! The fleet sharing its tokens: 1,000 instances with 1 h tokens, freshen
//! per instance against freshen behind a shared store that is down from
//! 1:55 to 2:15. Prints the table and the token-endpoint calls per
//! rotation, and writes `docs/shared-store.svg`.
//!
//! ```sh
//! cargo run --release -p freshen-sim --example shared_fleet [-- OUT.svg]
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
        .map_or_else(|| root.join("docs").join("shared-store.svg"), PathBuf::from);
    let scenario = Scenario::shared_fleet();
    let started = Instant::now();
    let report = run(&scenario);
    let took = started.elapsed();
    println!("{}", report.to_markdown());
    println!(
        "_Simulated in {:.0} ms (this machine, release build)._\n",
        took.as_secs_f64() * 1000.0
    );
    // Calls per rotation: the fleet's calls grouped into rotations (calls
    // less than 5 min apart belong to one), outside and inside the outage.
    for stack in &report.stacks {
        let per_sec = &stack.series.endpoint_calls_per_sec;
        let mut rotations: Vec<(usize, u32)> = Vec::new();
        let mut last_call: Option<usize> = None;
        for (sec, &n) in per_sec.iter().enumerate() {
            if n == 0 {
                continue;
            }
            match (last_call, rotations.last_mut()) {
                (Some(prev), Some((_, total))) if sec - prev < 300 => *total += n,
                _ => rotations.push((sec, n)),
            }
            last_call = Some(sec);
        }
        let shown: Vec<String> = rotations
            .iter()
            .map(|(at, n)| format!("{}:{:02} {n}", at / 3600, at % 3600 / 60))
            .collect();
        println!(
            "{}: token-endpoint calls per rotation (h:mm calls): {}",
            stack.label,
            shown.join(", ")
        );
    }
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    plot_svg(&[report], &out)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}
