//! The shared-store stack (freshen-fleet's protocol in the simulator): one
//! token-endpoint call per rotation for the whole fleet, every instance on
//! its own while the store is down, and back to one after.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Duration;

use freshen_sim::{Scenario, Stack, run};

const HOUR: u64 = 3600;

fn scenario(outage: Option<(Duration, Duration)>) -> Scenario {
    Scenario::builder()
        .instances(300)
        .requests_per_sec(3_000.0)
        .duration(Duration::from_secs(3 * HOUR))
        .stacks([Stack::freshen(), Stack::shared_store(outage)])
        .build()
        .unwrap()
}

/// Endpoint calls per rotation: calls less than 5 min apart are one rotation.
fn per_rotation(calls_per_sec: &[u32]) -> Vec<u32> {
    let mut rotations: Vec<u32> = Vec::new();
    let mut last: Option<usize> = None;
    for (sec, &n) in calls_per_sec.iter().enumerate().filter(|(_, n)| **n > 0) {
        match (last, rotations.last_mut()) {
            (Some(prev), Some(total)) if sec - prev < 300 => *total += n,
            _ => rotations.push(n),
        }
        last = Some(sec);
    }
    rotations
}

#[test]
fn a_fleet_behind_a_shared_store_makes_one_call_per_rotation() {
    let report = run(&scenario(None));
    let alone = report.stack("freshen").unwrap();
    let shared = report.stack("freshen + shared store").unwrap();
    assert_eq!(
        per_rotation(&alone.series.endpoint_calls_per_sec),
        vec![300; 5]
    );
    assert_eq!(
        per_rotation(&shared.series.endpoint_calls_per_sec),
        vec![1; 5]
    );
    assert_eq!((shared.would_be_401s, shared.errors), (0, 0));
}

#[test]
fn an_outage_puts_every_instance_on_its_own_for_one_rotation_only() {
    // The second rotation falls at about 1:20.
    let outage = (Duration::from_secs(75 * 60), Duration::from_secs(95 * 60));
    let report = run(&scenario(Some(outage)));
    let shared = report.stack("freshen + shared store").unwrap();
    assert_eq!(
        per_rotation(&shared.series.endpoint_calls_per_sec),
        vec![1, 1, 300, 1, 1]
    );
    assert_eq!((shared.would_be_401s, shared.errors), (0, 0));
}
