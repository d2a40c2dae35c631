//! Prints the life of a few one-hour tokens under the default policy, in
//! virtual time: when each is fresh, stale and expired, when refreshes start
//! and land, and how much life the old token had left. Runs instantly.
//!
//! `cargo run --example timeline`

use core::time::Duration;

use freshen::machine::{Decision, Event, Fetched, Instant, Machine, Policy};

fn clock(at: Instant) -> String {
    let s = at.since_origin().as_secs();
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn main() {
    let policy = Policy::default();
    let lifetime = Duration::from_secs(3600);
    let mut machine = Machine::new(policy.clone());
    let mut minted = 0u32;
    // Any random source will do; a fixed sequence keeps the output stable.
    let mut random = 0x2545_F491_4F6C_DD1Du64;

    println!("freshen timeline: tokens of {lifetime:?}, default policy, virtual time");
    println!(
        "margin {:?} (never handed out in the last {:?}), lead {:?}, jitter 20% of the lead\n",
        policy.margin_for(lifetime),
        policy.margin_for(lifetime),
        policy.lead_for(lifetime)
    );

    // One caller every 10 seconds for two and a half hours.
    for step in 0..(150 * 6) {
        let now = Instant::from_secs(step * 10);
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        let ticket = match machine.decide(now) {
            Decision::Serve(_) | Decision::Wait { .. } | Decision::Fail(_) => None,
            Decision::ServeAndRefresh(_, ticket) | Decision::RefreshAndWait(ticket) => Some(ticket),
        };
        if let Some(ticket) = ticket {
            minted += 1;
            let fetched = Fetched::new(format!("token-{minted}")).with_lifetime(lifetime);
            // The request takes 120 ms; it was sent at `now`.
            let _ = machine.on_success(
                ticket.id(),
                fetched,
                now,
                now + Duration::from_millis(120),
                random,
            );
        }
        while let Some(event) = machine.poll_event() {
            match event {
                Event::RefreshStarted { reason, at, .. } => {
                    println!("{}  refresh started ({reason:?})", clock(at));
                }
                Event::RefreshSucceeded {
                    generation,
                    left_on_old,
                    ..
                } => {
                    let Some(token) = machine.current() else {
                        continue;
                    };
                    let s = token.schedule();
                    let left = left_on_old
                        .map(|d| format!(", old token had {}s left", d.as_secs()))
                        .unwrap_or_default();
                    println!(
                        "{}  refresh succeeded: generation {}{left}",
                        clock(now),
                        generation.number()
                    );
                    println!(
                        "          fresh until {}, stale until {}, expires {}",
                        clock(s.refresh_at),
                        clock(s.usable_until),
                        clock(s.expires_at)
                    );
                }
                Event::ServedStale {
                    generation,
                    usable_for,
                } => println!(
                    "{}  served generation {} while stale ({}s of use left)",
                    clock(now),
                    generation.number(),
                    usable_for.as_secs()
                ),
                other => println!("{}  {other:?}", clock(now)),
            }
        }
    }
    println!("\n{minted} token requests in 2.5 h; no caller ever waited after the first.");
}
