//! What a local miss served from the shared store costs (freshen-fleet):
//! one Redis round trip plus opening the sealed value, against the round
//! trip alone. Starts its own `redis-server` on a loopback port.
//!
//! - **adopt from Redis**: a node whose cache missed asks its tier, which
//!   reads the entry (one `EVALSHA`: value and `PTTL`), opens it
//!   (XChaCha20-Poly1305, the store key as associated data), checks its
//!   fingerprint and hands the token over. A fresh tier per iteration (built
//!   outside the timing, sharing one connection), since a tier never hands
//!   the same token twice.
//! - **round trip alone**: the same read script on a key that does not
//!   exist: the network and Redis, without the value or the AEAD.
//!
//! Run: `cargo bench --manifest-path benches/Cargo.toml --bench fleet`

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use freshen_core::{BlockingTokenSource, Error, Fetched};
use freshen_fleet::{RedisStore, Sealing, SharedStore, SharedTier};
use freshen_oauth::{ClientAuth, TokenRequest};
use freshen_testkit::RedisServer;

struct Endpoint;

impl BlockingTokenSource for Endpoint {
    fn fetch(&self) -> Result<Fetched, Error> {
        // A JWT-sized access token (about 1 KB), one hour.
        Ok(Fetched::new("x".repeat(1024)).with_lifetime(Duration::from_secs(3600)))
    }
}

fn fleet(c: &mut Criterion) {
    let redis = RedisServer::start().expect("redis-server on PATH");
    let store = Arc::new(RedisStore::open(redis.url()).expect("url"));
    let request =
        TokenRequest::client_credentials("https://idp.example/token", ClientAuth::new("svc", "s"));
    let tier = |source| {
        SharedTier::builder(
            source,
            Arc::clone(&store),
            request.shape_key(),
            Sealing::key([9; 32]),
        )
        .build()
    };
    // One node fetched and stored the token.
    BlockingTokenSource::fetch(&tier(Endpoint)).expect("fetch");

    let mut g = c.benchmark_group("shared store");
    g.bench_function("adopt from Redis (round trip + open + checks)", |b| {
        b.iter_batched(
            || tier(Endpoint),
            |node| black_box(BlockingTokenSource::fetch(&node).expect("adopted")),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("round trip alone (read script, missing key)", |b| {
        b.iter(|| black_box(store.read("freshen:bench:missing").expect("read")))
    });
    g.finish();
    drop(redis);
}

criterion_group!(benches, fleet);
criterion_main!(benches);
