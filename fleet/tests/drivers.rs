//! The tier under each driver (tokio, smol, threads) against a real Redis:
//! caches of several nodes share one token, and agree on when it stops
//! being usable.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Events, Mint, namespace, node, policy};
use freshen_blocking::BlockingCache;
use freshen_smol::{SmolCache, SmolRuntime};
use freshen_testkit::RedisServer;
use freshen_tokio::{TokioCache, TokioRuntime};

fn server() -> RedisServer {
    RedisServer::shared_or_start().expect("a Redis server")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_caches_of_three_nodes_share_one_token_request() {
    let redis = server();
    let ns = namespace("tokio");
    let mints: Vec<Mint> = (0..3)
        .map(|_| Mint::new("t", Duration::from_secs(30)))
        .collect();
    let caches: Vec<_> = mints
        .iter()
        .map(|m| {
            let tier = node(redis.url(), &ns, m.clone(), &Events::default());
            TokioCache::builder(tier, TokioRuntime::current())
                .policy(policy())
                .build()
        })
        .collect();
    let mut secrets = Vec::new();
    for cache in &caches {
        secrets.push(cache.token().await.unwrap().secret().to_owned());
    }
    assert_eq!(secrets, vec!["t-1"; 3]);
    assert_eq!(mints.iter().map(Mint::calls).sum::<usize>(), 1);
}

#[test]
fn smol_caches_of_three_nodes_share_one_token_request() {
    let redis = server();
    let ns = namespace("smol");
    let mints: Vec<Mint> = (0..3)
        .map(|_| Mint::new("s", Duration::from_secs(30)))
        .collect();
    smol::block_on(async {
        let caches: Vec<SmolCache<_>> = mints
            .iter()
            .map(|m| {
                let tier = node(redis.url(), &ns, m.clone(), &Events::default());
                SmolCache::builder(tier, SmolRuntime::new())
                    .policy(policy())
                    .build()
            })
            .collect();
        for cache in &caches {
            assert_eq!(cache.token().await.unwrap().secret(), "s-1");
        }
    });
    assert_eq!(mints.iter().map(Mint::calls).sum::<usize>(), 1);
}

#[test]
fn a_node_adopting_late_stops_using_the_token_when_the_fetcher_does() {
    let redis = server();
    let ns = namespace("agree");
    let life = Duration::from_secs(4);
    let (ma, mb) = (Mint::new("a", life), Mint::new("b", life));
    let a_tier = node(redis.url(), &ns, ma.clone(), &Events::default());
    let b_tier = node(redis.url(), &ns, mb.clone(), &Events::default());
    let a = BlockingCache::builder(a_tier).policy(policy()).build();
    let b = BlockingCache::builder(b_tier).policy(policy()).build();
    let ta = a.token().unwrap().into_arc();
    // Adopt with 2.5 s of the 4 s left: a node that passed the remaining life
    // as is would get a smaller margin (0.625 s, not 1 s) and serve 375 ms longer.
    std::thread::sleep(Duration::from_millis(1_500));
    let tb = b.token().unwrap().into_arc();
    assert_eq!(tb.secret(), ta.secret());
    let a_left = ta.usable_until().saturating_duration_since(a.now());
    let b_left = tb.usable_until().saturating_duration_since(b.now());
    let diff = a_left.abs_diff(b_left);
    assert!(
        diff < Duration::from_millis(100),
        "a {a_left:?}, b {b_left:?}"
    );
    // Each node reads its own coarse clock (a tick of 1-4 ms on this kernel,
    // 10 ms where HZ=100), and Redis's PTTL is in whole milliseconds: two
    // ticks and a millisecond of slack, far below the 375 ms an adopter
    // that took the remaining life as is would serve too long.
    assert!(
        b_left <= a_left + Duration::from_millis(21),
        "the adopter must not outlast the fetcher: a {a_left:?}, b {b_left:?}"
    );
    assert_eq!((ma.calls(), mb.calls()), (1, 0));
}
