//! Exposes freshen's metrics to Prometheus with metrics-exporter-prometheus
//! (no HTTP listener of its own: its recorder and the handle that renders
//! the text format).
//!
//! It installs the recorder, builds a tokio cache whose demo source issues
//! 60-second tokens, reads a token every second for 100 seconds on tokio's
//! paused clock (two refreshes ahead of expiry, one 401 — over in a moment),
//! and prints what Prometheus would scrape. With an address it then serves
//! that text at `/metrics` there until stopped.
//!
//! `cargo run --example prometheus --features tokio,metrics [-- 127.0.0.1:9185]`
//!
//! The recorder must be installed before the cache is built: a cache
//! registers its metrics with the recorder installed then.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use freshen::{Error, Fetched, Policy, TokenSource, TokioCache, TokioRuntime};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

/// How long the demo's tokens live.
pub const LIFETIME: Duration = Duration::from_secs(60);
/// How long the demo's token endpoint takes to answer.
pub const FETCH_TAKES: Duration = Duration::from_millis(500);
/// How many seconds the demo reads for (one read a second).
pub const READS: u32 = 100;
/// The read after which the demo's API answers 401 (and a late 401 for the
/// same token follows).
pub const REJECTED_AT: u32 = 90;

/// A token endpoint stand-in: a new 60-second token per request, after
/// half a second.
#[derive(Debug, Default)]
pub struct DemoSource {
    issued: AtomicU32,
}

impl TokenSource for DemoSource {
    async fn fetch(&self) -> Result<Fetched, Error> {
        tokio::time::sleep(FETCH_TAKES).await;
        let n = self.issued.fetch_add(1, Ordering::SeqCst);
        Ok(Fetched::new(format!("demo-access-token-{n}")).with_lifetime(LIFETIME))
    }
}

/// A Prometheus builder with buckets for freshen's two histograms (without
/// buckets, the exporter renders histograms as summaries).
pub fn prometheus() -> PrometheusBuilder {
    let builder = PrometheusBuilder::new();
    let builder = builder
        .set_buckets_for_metric(
            Matcher::Full("freshen.token.fetch.duration".into()),
            &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("freshen.token.life_left_at_refresh".into()),
                &[1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 1200.0, 3600.0],
            )
        });
    builder.unwrap_or_else(|_| PrometheusBuilder::new())
}

/// The demo's cache, on tokio's clock: refreshes 20 s before expiry, keeps a 5 s margin, no
/// jitter (so the figures are the same on every run).
pub fn demo_cache() -> TokioCache<DemoSource> {
    let policy = Policy::builder()
        .margin(Duration::from_secs(5))
        .max_lead(Duration::from_secs(20))
        .min_stale_window(Duration::from_secs(10))
        .jitter(0.0)
        .build()
        .unwrap_or_default();
    // Tokio's clock, so that its paused time is the cache's time too.
    let runtime = TokioRuntime::current().with_runtime_clock();
    TokioCache::builder(DemoSource::default(), runtime)
        .policy(policy)
        .build()
}

/// One read a second for [`READS`] seconds; after read [`REJECTED_AT`] the
/// API rejects the token (a 401), twice.
pub async fn demo_traffic(cache: &TokioCache<DemoSource>) -> Result<(), Error> {
    let start = tokio::time::Instant::now();
    for second in 0..READS {
        let token = cache.token().await?;
        if second == REJECTED_AT {
            // The API said 401: evict the token. A second, late 401 for the
            // same token is ignored.
            cache.invalidate(&token);
            cache.invalidate(&token);
        }
        drop(token);
        tokio::time::sleep_until(start + Duration::from_secs(u64::from(second) + 1)).await;
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let handle = prometheus().install_recorder()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    runtime.block_on(async {
        let cache = demo_cache();
        demo_traffic(&cache).await
    })?;
    let text = handle.render();
    println!("{text}");

    if let Some(addr) = std::env::args().nth(1) {
        let listener = TcpListener::bind(&addr)?;
        println!("serving these figures at http://{addr}/metrics (Ctrl-C to stop)");
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request_line = String::new();
            let _ = BufReader::new(&stream).read_line(&mut request_line);
            let (status, body) = if request_line.starts_with("GET /metrics ") {
                ("200 OK", handle.render())
            } else {
                ("404 Not Found", String::new())
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            // A long-running exporter without its own listener should also
            // call `handle.run_upkeep()` now and then (it drains histograms).
            handle.run_upkeep();
        }
    }
    Ok(())
}
