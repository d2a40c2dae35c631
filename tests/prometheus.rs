//! The Prometheus example, scraped: its cache runs on tokio's paused clock
//! through two refreshes ahead of expiry and one 401, and the text its
//! recorder renders carries exactly the figures that run makes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/prometheus.rs"]
mod example;

/// The value of the sample `name` (with its labels, as rendered) in `text`.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            (key == name).then(|| value.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no sample {name} in:\n{text}"))
}

#[tokio::test(start_paused = true)]
async fn the_example_exposes_the_figures_of_its_run() {
    // A recorder of this test's own (the example installs its recorder
    // globally): the cache's metrics are registered with it at build.
    let recorder = example::prometheus().build_recorder();
    let handle = recorder.handle();
    let cache = metrics::with_local_recorder(&recorder, example::demo_cache);
    example::demo_traffic(&cache).await.unwrap();
    let text = handle.render();
    eprintln!("{text}");

    // Tokens live 60 s, refresh 20 s before expiry: reads at 0..99 s fetch
    // at 0 (none held), at 40 and 80 (stale, served while the refresh
    // runs), and at 91 (the token was rejected at 90).
    assert_eq!(
        sample(&text, r#"freshen_token_fetch{outcome="success"}"#),
        4.0
    );
    for outcome in [
        "no_progress",
        "timeout",
        "transient_error",
        "permanent_error",
    ] {
        assert_eq!(
            sample(
                &text,
                &format!(r#"freshen_token_fetch{{outcome="{outcome}"}}"#)
            ),
            0.0,
            "{outcome}"
        );
    }
    // One token per read: the two stale ones at 40 and 80, fresh otherwise.
    assert_eq!(
        sample(&text, r#"freshen_token_served{state="fresh"}"#),
        98.0
    );
    assert_eq!(sample(&text, r#"freshen_token_served{state="stale"}"#), 2.0);
    assert_eq!(
        sample(&text, r#"freshen_token_served{state="expired"}"#),
        0.0
    );
    assert_eq!(
        sample(&text, r#"freshen_token_invalidate{result="invalidated"}"#),
        1.0
    );
    assert_eq!(
        sample(&text, r#"freshen_token_invalidate{result="ignored"}"#),
        1.0
    );
    // Each fetch took 0.5 s on the paused clock.
    assert_eq!(sample(&text, "freshen_token_fetch_duration_count"), 4.0);
    assert_eq!(sample(&text, "freshen_token_fetch_duration_sum"), 2.0);
    assert_eq!(
        sample(&text, r#"freshen_token_fetch_duration_bucket{le="0.25"}"#),
        0.0
    );
    assert_eq!(
        sample(&text, r#"freshen_token_fetch_duration_bucket{le="0.5"}"#),
        4.0
    );
    // The refreshes at 40 and 80 replaced tokens with 19.5 s left (issued
    // 40 s earlier, 60 s lifetime, the new one arriving 0.5 s later).
    assert_eq!(
        sample(&text, "freshen_token_life_left_at_refresh_count"),
        2.0
    );
    assert_eq!(
        sample(&text, "freshen_token_life_left_at_refresh_sum"),
        39.0
    );
    // The last read, at 99 s, was of the token requested at 91 s.
    assert_eq!(sample(&text, "freshen_token_life_left"), 52.0);
    // The wall-clock expiry: about a minute from now, in Unix seconds.
    let expires_at = sample(&text, "freshen_token_expires_at");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (now + 40.0..now + 60.0).contains(&expires_at),
        "{expires_at} vs now {now}"
    );
    // The help text is there; no token is.
    assert!(
        text.contains("# HELP freshen_token_fetch Token fetch attempts"),
        "{text}"
    );
    assert!(!text.contains("demo-access-token"), "{text}");
}
