//! The tier against a real Redis: sharing, the lease, rejection, sealing,
//! and Redis going away. `REDIS_URL` names one; otherwise each test starts
//! its own `redis-server`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{Events, KEY, Mint, namespace, node, node_timed, node_with, raw};
use freshen_core::BlockingTokenSource;
use freshen_fleet::{DEFAULT_TIMEOUT, FleetEvent, Origin, Sealing};
use freshen_testkit::RedisServer;
use redis::Commands;

const LIFE: Duration = Duration::from_secs(10);

fn server() -> RedisServer {
    RedisServer::shared_or_start().expect("a Redis server")
}

#[test]
fn a_second_node_adopts_the_first_nodes_token_without_asking_the_endpoint() {
    let redis = server();
    let ns = namespace("adopt");
    let (ea, eb) = (Events::default(), Events::default());
    let (ma, mb) = (Mint::new("a", LIFE), Mint::new("b", LIFE));
    let a = node(redis.url(), &ns, ma.clone(), &ea);
    let b = node(redis.url(), &ns, mb.clone(), &eb);

    let first = BlockingTokenSource::fetch(&a).unwrap();
    assert_eq!(first.access_token.expose(), "a-1");
    assert_eq!(a.last_origin(), Some(Origin::Endpoint));
    let adopted = BlockingTokenSource::fetch(&b).unwrap();
    assert_eq!(adopted.access_token.expose(), "a-1");
    assert_eq!(adopted.token_type.as_deref(), Some("Bearer"));
    assert_eq!(b.last_origin(), Some(Origin::SharedStore));
    assert_eq!((ma.calls(), mb.calls()), (1, 0));
    // The lifetime handed over never exceeds what Redis says is left.
    let pttl: i64 = raw(redis.url()).pttl(a.store_key()).unwrap();
    assert!(adopted.lifetime.unwrap() <= Duration::from_millis(pttl as u64 + 50));
    assert!(adopted.lifetime.unwrap() > Duration::from_secs(8));
    assert_eq!(eb.count(|e| matches!(e, FleetEvent::Adopted { .. })), 1);
}

#[test]
fn values_in_redis_are_sealed_with_a_ttl_and_a_foreign_key_cannot_read_them() {
    let redis = server();
    let ns = namespace("sealed");
    let (ea, eb) = (Events::default(), Events::default());
    let ma = Mint::new("secret-token", LIFE);
    let a = node(redis.url(), &ns, ma.clone(), &ea);
    BlockingTokenSource::fetch(&a).unwrap();
    let mut conn = raw(redis.url());
    let stored: Vec<u8> = conn.get(a.store_key()).unwrap();
    assert!(
        !stored.windows(12).any(|w| w == b"secret-token"),
        "token stored in the clear"
    );
    let pttl: i64 = conn.pttl(a.store_key()).unwrap();
    assert!(pttl > 8_000 && pttl <= 10_000, "TTL {pttl} ms");

    // A node with another key reads a miss (and says so), then fetches itself.
    let mb = Mint::new("b", LIFE);
    let b = node_with(redis.url(), &ns, mb.clone(), &eb, Sealing::key([1; 32]));
    assert_eq!(
        BlockingTokenSource::fetch(&b)
            .unwrap()
            .access_token
            .expose(),
        "b-1"
    );
    assert!(eb.count(|e| *e == FleetEvent::Unreadable) >= 1);

    // Tampered bytes: a miss and an event, never a token.
    let ec = Events::default();
    let mc = Mint::new("c", LIFE);
    let c = node(redis.url(), &ns, mc.clone(), &ec);
    let mut bad: Vec<u8> = conn.get(c.store_key()).unwrap();
    let last = bad.len() - 1;
    bad[last] ^= 0x40;
    let _: () = conn.pset_ex(c.store_key(), bad, 5_000).unwrap();
    assert_eq!(
        BlockingTokenSource::fetch(&c)
            .unwrap()
            .access_token
            .expose(),
        "c-1"
    );
    assert!(ec.count(|e| *e == FleetEvent::Unreadable) >= 1);
    // Plaintext written by a node that opted out of sealing is refused by a sealing node.
    let ep = Events::default();
    let p = node_with(
        redis.url(),
        &ns,
        Mint::new("p", LIFE),
        &ep,
        Sealing::plaintext_insecure(),
    );
    let _: () = conn.del(p.store_key()).unwrap();
    BlockingTokenSource::fetch(&p).unwrap();
    let plain: Vec<u8> = conn.get(p.store_key()).unwrap();
    assert!(plain.windows(3).any(|w| w == b"p-1"));
    let ed = Events::default();
    let d = node(redis.url(), &ns, Mint::new("d", LIFE), &ed);
    assert_eq!(
        BlockingTokenSource::fetch(&d)
            .unwrap()
            .access_token
            .expose(),
        "d-1"
    );
    assert!(ed.count(|e| *e == FleetEvent::Unreadable) >= 1);
    let _ = KEY;
}

#[test]
fn a_node_never_hands_its_cache_the_token_it_already_holds() {
    let redis = server();
    let ns = namespace("newer");
    let e = Events::default();
    let m = Mint::new("a", LIFE);
    let a = node(redis.url(), &ns, m.clone(), &e);
    assert_eq!(
        BlockingTokenSource::fetch(&a)
            .unwrap()
            .access_token
            .expose(),
        "a-1"
    );
    // The store holds a-1, which this node handed out: not progress, so it fetches.
    assert_eq!(
        BlockingTokenSource::fetch(&a)
            .unwrap()
            .access_token
            .expose(),
        "a-2"
    );
    assert_eq!(m.calls(), 2);
}

#[test]
fn failures_are_never_stored_and_the_lease_is_released() {
    let redis = server();
    let ns = namespace("failures");
    let e = Events::default();
    let m = Mint::new("a", LIFE);
    m.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let a = node(redis.url(), &ns, m.clone(), &e);
    assert!(BlockingTokenSource::fetch(&a).is_err());
    let mut conn = raw(redis.url());
    let keys: Vec<String> = conn.keys(format!("{ns}*")).unwrap();
    assert!(keys.is_empty(), "left behind: {keys:?}");
    // The next node is not kept waiting by a dead lease.
    let mb = Mint::new("b", LIFE);
    let b = node(redis.url(), &ns, mb.clone(), &Events::default());
    let started = Instant::now();
    assert_eq!(
        BlockingTokenSource::fetch(&b)
            .unwrap()
            .access_token
            .expose(),
        "b-1"
    );
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[test]
fn a_lease_loser_waits_for_the_winners_token_instead_of_fetching() {
    let redis = server();
    let ns = namespace("lease");
    let (ea, eb) = (Events::default(), Events::default());
    let mut ma = Mint::new("a", LIFE);
    ma.delay = Duration::from_millis(400);
    let mb = Mint::new("b", LIFE);
    let a = node(redis.url(), &ns, ma.clone(), &ea);
    let b = node(redis.url(), &ns, mb.clone(), &eb);
    thread::scope(|s| {
        let winner = s.spawn(|| BlockingTokenSource::fetch(&a).unwrap());
        // Wait until a holds the lease (it is inside its slow fetch).
        while ma.calls() == 0 {
            thread::sleep(Duration::from_millis(2));
        }
        let loser = BlockingTokenSource::fetch(&b).unwrap();
        assert_eq!(loser.access_token.expose(), "a-1");
        assert_eq!(winner.join().unwrap().access_token.expose(), "a-1");
    });
    assert_eq!((ma.calls(), mb.calls()), (1, 0));
    assert_eq!(
        eb.count(|e| matches!(e, FleetEvent::LeaseWaiting { .. })),
        1
    );
}

#[test]
fn a_loser_hands_a_long_wait_to_its_next_attempt_and_fetches_once_the_lease_ends() {
    let redis = server();
    let ns = namespace("handover");
    let eb = Events::default();
    let mb = Mint::new("b", LIFE);
    let b = node(redis.url(), &ns, mb.clone(), &eb);
    // A winner that vanished mid-fetch: its lease stays until it expires.
    let mut conn = raw(redis.url());
    let lease = b.store_key().replace(":tok:", ":lease:");
    let _: () = conn.pset_ex(&lease, "someone-else", 2_500).unwrap();
    let started = Instant::now();
    let err = BlockingTokenSource::fetch(&b).unwrap_err();
    // The wait fits in the cache's attempt timeout (2 s with this policy).
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(!err.is_permanent());
    assert_eq!(mb.calls(), 0);
    assert_eq!(
        eb.count(|e| matches!(e, FleetEvent::LeaseWaitGaveUp { .. })),
        1
    );
    // The next attempt finds the lease gone and fetches.
    let next = BlockingTokenSource::fetch(&b).unwrap();
    assert_eq!(next.access_token.expose(), "b-1");
    assert!(started.elapsed() >= Duration::from_millis(2_500));
}

#[test]
fn a_rejected_token_is_deleted_only_while_the_store_still_holds_it() {
    let redis = server();
    let ns = namespace("reject");
    let (ea, eb) = (Events::default(), Events::default());
    let (ma, mb) = (Mint::new("a", LIFE), Mint::new("b", LIFE));
    let a = node(redis.url(), &ns, ma.clone(), &ea);
    let b = node(redis.url(), &ns, mb.clone(), &eb);
    BlockingTokenSource::fetch(&a).unwrap(); // a-1 stored
    BlockingTokenSource::fetch(&b).unwrap(); // b adopts a-1
    assert!(b.reject("a-1"));
    assert!(!b.reject("not-the-token"));
    // b's refresh deletes a-1 and fetches b-1 (never re-adopts a-1).
    assert_eq!(
        BlockingTokenSource::fetch(&b)
            .unwrap()
            .access_token
            .expose(),
        "b-1"
    );
    assert_eq!(
        eb.count(|e| *e == FleetEvent::RejectedDeleted { deleted: true }),
        1
    );

    // a holds a-1 still; the store now holds b-1. a's late 401 for a-1 must not delete b-1.
    assert!(a.reject("a-1"));
    assert_eq!(
        BlockingTokenSource::fetch(&a)
            .unwrap()
            .access_token
            .expose(),
        "b-1"
    );
    assert_eq!(
        ea.count(|e| *e == FleetEvent::RejectedDeleted { deleted: false }),
        1
    );
    assert_eq!(ma.calls(), 1);
}

#[test]
fn a_failed_delete_after_a_rejection_still_refreshes_and_never_resends_the_token() {
    let redis = RedisServer::start().unwrap();
    let ns = namespace("reject-down");
    let (ea, eb) = (Events::default(), Events::default());
    let (ma, mb) = (Mint::new("a", LIFE), Mint::new("b", LIFE));
    let a = node(redis.url(), &ns, ma.clone(), &ea);
    let b = node_timed(
        redis.url(),
        &ns,
        mb.clone(),
        &eb,
        Sealing::key(KEY),
        DEFAULT_TIMEOUT,
    );
    BlockingTokenSource::fetch(&a).unwrap();
    BlockingTokenSource::fetch(&b).unwrap();
    assert!(b.reject("a-1"));
    redis.pause().unwrap();
    let started = Instant::now();
    let fresh = BlockingTokenSource::fetch(&b).unwrap();
    assert_eq!(fresh.access_token.expose(), "b-1");
    assert!(
        started.elapsed() < Duration::from_millis(1_000),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        eb.count(|e| matches!(e, FleetEvent::RejectDeleteFailed { .. })),
        1
    );
    redis.resume().unwrap();
    // Redis back, a-1 still in it: b never adopts it again.
    let again = BlockingTokenSource::fetch(&b).unwrap();
    assert_ne!(again.access_token.expose(), "a-1");
}

#[test]
fn redis_going_away_degrades_to_fetching_alone_and_recovers_when_it_returns() {
    let mut redis = RedisServer::start().unwrap();
    let ns = namespace("outage");
    let e = Events::default();
    let m = Mint::new("a", LIFE);
    let a = node(redis.url(), &ns, m.clone(), &e);
    BlockingTokenSource::fetch(&a).unwrap();

    redis.kill();
    for n in 2..=3 {
        let started = Instant::now();
        let t = BlockingTokenSource::fetch(&a).unwrap();
        assert_eq!(t.access_token.expose(), format!("a-{n}"));
        assert!(started.elapsed() < Duration::from_millis(500));
    }
    assert_eq!(
        e.count(|x| matches!(x, FleetEvent::StoreUnavailable { .. })),
        1
    );

    redis.restart().unwrap();
    BlockingTokenSource::fetch(&a).unwrap();
    assert_eq!(e.count(|x| *x == FleetEvent::StoreRecovered), 1);
    assert_eq!(
        e.all().last(),
        Some(&FleetEvent::Fetched { published: true })
    );
    // A new node shares again.
    let mb = Mint::new("b", LIFE);
    let b = node(redis.url(), &ns, mb.clone(), &Events::default());
    assert_eq!(
        BlockingTokenSource::fetch(&b)
            .unwrap()
            .access_token
            .expose(),
        "a-4"
    );
}

#[test]
fn a_frozen_redis_costs_a_refresh_tens_of_milliseconds_not_a_caller_error() {
    let redis = RedisServer::start().unwrap();
    let ns = namespace("frozen");
    let e = Events::default();
    let m = Mint::new("a", LIFE);
    let a = node_timed(
        redis.url(),
        &ns,
        m.clone(),
        &e,
        Sealing::key(KEY),
        DEFAULT_TIMEOUT,
    );
    BlockingTokenSource::fetch(&a).unwrap();
    redis.pause().unwrap();
    let started = Instant::now();
    assert_eq!(
        BlockingTokenSource::fetch(&a)
            .unwrap()
            .access_token
            .expose(),
        "a-2"
    );
    let took = started.elapsed();
    redis.resume().unwrap();
    assert!(took < Duration::from_millis(300), "{took:?}");
    assert_eq!(
        e.count(|x| matches!(x, FleetEvent::StoreUnavailable { .. })),
        1
    );
}

/// Commands clients sent since the last `CONFIG RESETSTAT`: the reset and
/// the INFO left out, and the commands the tier's scripts run inside
/// (counted by Redis too, but not round trips; RedisStore sends none of
/// them on its own).
fn commands_since_reset(conn: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(conn).unwrap();
    let inside_scripts = ["get:", "pttl:", "set:", "del:"];
    info.lines()
        .filter_map(|l| l.strip_prefix("cmdstat_"))
        .filter(|l| !l.starts_with("config") && !l.starts_with("info"))
        .filter(|l| !inside_scripts.iter().any(|c| l.starts_with(c)))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

#[test]
fn a_steady_rotation_costs_the_fetching_node_three_commands_and_an_adopter_one() {
    let redis = RedisServer::start().unwrap();
    let ns = namespace("commands");
    let (ma, mb) = (Mint::new("a", LIFE), Mint::new("b", LIFE));
    let a = node(redis.url(), &ns, ma.clone(), &Events::default());
    let b = node(redis.url(), &ns, mb.clone(), &Events::default());
    // A first rotation loads the scripts (EVALSHA, NOSCRIPT, EVAL).
    BlockingTokenSource::fetch(&a).unwrap();
    BlockingTokenSource::fetch(&b).unwrap();
    let mut conn = raw(redis.url());
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut conn)
        .unwrap();
    // The next rotation: b's refresh point comes first, then a's.
    BlockingTokenSource::fetch(&b).unwrap();
    assert_eq!(
        commands_since_reset(&mut conn),
        3,
        "the fetching node: read, lease, publish"
    );
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut conn)
        .unwrap();
    assert_eq!(
        BlockingTokenSource::fetch(&a)
            .unwrap()
            .access_token
            .expose(),
        "b-1"
    );
    assert_eq!(
        commands_since_reset(&mut conn),
        1,
        "an adopting node: one read"
    );
}

#[test]
fn no_secret_reaches_debug_errors_or_events() {
    // A password in the URL stays out of the store's Debug and its errors.
    let store = freshen_fleet::RedisStore::open("redis://:hunter2@127.0.0.1:1/0").unwrap();
    assert!(!format!("{store:?}").contains("hunter2"));
    let e = Events::default();
    let tier = freshen_fleet::SharedTier::builder(
        Mint::new("token-secret", LIFE),
        store,
        common::request().shape_key(),
        Sealing::key(KEY),
    )
    .on_event({
        let sink = e.0.clone();
        move |x| sink.lock().unwrap().push(x.clone())
    })
    .build();
    assert_eq!(
        BlockingTokenSource::fetch(&tier)
            .unwrap()
            .access_token
            .expose(),
        "token-secret-1"
    );
    let shown = format!("{tier:?} {:?}", e.all());
    assert!(e.count(|x| matches!(x, FleetEvent::StoreUnavailable { .. })) == 1);
    for secret in ["hunter2", "token-secret", "42, 42"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}
