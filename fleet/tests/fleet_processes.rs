//! A fleet of OS processes sharing one Redis and one token endpoint, with
//! 4-second tokens, checked by a strict resource server (401 from the
//! instant a token expires by the server's own clock).
//!
//! This binary is its own node: run with `FRESHEN_FLEET_NODE` set it is one
//! process of the fleet (a blocking cache over a tier over the real OAuth
//! source and ureq); run by `cargo test` it starts the servers and 20 nodes
//! and checks, over several rotations:
//!
//! - Redis up: one token request per rotation, the first fill included;
//! - Redis killed: every node keeps serving, at most one request per node
//!   per rotation;
//! - Redis restarted: back to one per rotation;
//! - throughout: no rejected request, no caller error;
//!
//! and, against a server that rotates refresh tokens (and refuses a used
//! one with `invalid_grant`), with the fleet sharing one session: one grant
//! per rotation and no `invalid_grant`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use freshen_blocking::BlockingCache;
use freshen_core::Policy;
use freshen_fleet::{FleetEvent, RedisStore, Sealing, SharedTier};
use freshen_oauth::{ClientAuth, OAuthSource, TokenRequest};
use freshen_testkit::{Fault, FaultServer, RedisServer};
use freshen_ureq::UreqTransport;

const NODES: usize = 20;
const LIFETIME_SECS: u64 = 4;
const KEY: [u8; 32] = [5; 32];
/// Requests closer than this to the first of a rotation belong to it: the
/// refresh points of one rotation lie within the jitter (20 % of a 2 s lead)
/// plus a lease wait; two rotations are at least 2 s apart.
const SAME_ROTATION: Duration = Duration::from_millis(1_200);

fn policy() -> Policy {
    Policy::builder()
        .margin(Duration::from_secs(1))
        .min_stale_window(Duration::from_secs(1))
        .build()
        .unwrap()
}

fn main() {
    if std::env::var_os("FRESHEN_FLEET_NODE").is_some() {
        node();
        return;
    }
    let tests: [(&str, fn()); 2] = [
        ("fleet_of_20_processes", fleet_of_20_processes),
        (
            "fleet_sharing_a_rotating_refresh_token",
            fleet_sharing_a_rotating_refresh_token,
        ),
    ];
    if std::env::args().any(|a| a == "--list") {
        for (name, _) in tests {
            println!("{name}: test");
        }
        return;
    }
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut passed = 0;
    for (name, test) in tests {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let started = Instant::now();
        test();
        println!(
            "test {name} ... ok ({:.1} s)",
            started.elapsed().as_secs_f64()
        );
        passed += 1;
    }
    println!("{passed} passed, 0 failed");
}

// ---------------------------------------------------------------- the node

fn node() {
    let var = |name: &str| std::env::var(name).unwrap();
    let refresh = var("MODE") == "refresh";
    let request = if refresh {
        TokenRequest::refresh(var("TOKEN_URL"), ClientAuth::new("fleet", "s"), "rt-0")
    } else {
        TokenRequest::client_credentials(var("TOKEN_URL"), ClientAuth::new("fleet", "s"))
    }
    .scope("api");
    let source = OAuthSource::new(request.clone(), UreqTransport::new());
    let (adopted, fetched, store_down) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let counters = (adopted.clone(), fetched.clone(), store_down.clone());
    let builder = SharedTier::builder(
        source,
        // Wider than the 50 ms default: the test shares two cores with 20
        // nodes and its servers, and a store call that times out makes the
        // node fetch on its own (correct, but not what phase 1 measures).
        RedisStore::open(&var("REDIS_URL"))
            .unwrap()
            .with_timeout(Duration::from_millis(250)),
        request.shape_key(),
        Sealing::key(KEY),
    );
    let builder = if refresh {
        builder.share_refresh_token()
    } else {
        builder
    };
    let tier = Arc::new(
        builder
            .policy(policy())
            .namespace(var("NAMESPACE"))
            .on_event(move |e| match e {
                FleetEvent::Adopted { .. } => {
                    counters.0.fetch_add(1, Ordering::Relaxed);
                }
                FleetEvent::Fetched { .. } => {
                    counters.1.fetch_add(1, Ordering::Relaxed);
                }
                FleetEvent::StoreUnavailable { .. } => {
                    counters.2.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            })
            .build(),
    );
    let cache = BlockingCache::builder(Arc::clone(&tier))
        .policy(policy())
        .build();
    let stop = Arc::new(AtomicBool::new(false));
    let stop_reader = Arc::clone(&stop);
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        stop_reader.store(true, Ordering::SeqCst);
    });
    let resource = var("RESOURCE_ADDR");
    let (mut ok, mut rejected, mut errors) = (0u64, 0u64, 0u64);
    println!("READY");
    while !stop.load(Ordering::SeqCst) {
        match cache.token() {
            Ok(token) => {
                if get_resource(&resource, token.secret()) {
                    ok += 1;
                } else {
                    rejected += 1;
                    tier.reject(token.secret());
                    cache.invalidate(&token);
                }
            }
            Err(e) => {
                errors += 1;
                eprintln!("caller error: {e}");
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!(
        "RESULT ok={ok} rejected={rejected} errors={errors} adopted={} fetched={} store_down={}",
        adopted.load(Ordering::Relaxed),
        fetched.load(Ordering::Relaxed),
        store_down.load(Ordering::Relaxed)
    );
}

/// `GET /resource` with the token; whether the server accepted it.
fn get_resource(addr: &str, token: &str) -> bool {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /resource HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.1 200")
}

// ---------------------------------------------------------------- the test

struct Fleet {
    children: Vec<Child>,
}

impl Fleet {
    fn start(mode: &str, redis: &str, token_url: &str, resource: &str) -> Fleet {
        let exe = std::env::current_exe().unwrap();
        let namespace = format!("fleet:{}:", std::process::id());
        let mut children: Vec<Child> = (0..NODES)
            .map(|_| {
                Command::new(&exe)
                    .env("FRESHEN_FLEET_NODE", "1")
                    .env("MODE", mode)
                    .env("REDIS_URL", redis)
                    .env("TOKEN_URL", token_url)
                    .env("RESOURCE_ADDR", resource)
                    .env("NAMESPACE", &namespace)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in &mut children {
            let mut line = String::new();
            BufReader::new(child.stdout.as_mut().unwrap())
                .read_line(&mut line)
                .unwrap();
            assert_eq!(line.trim(), "READY");
        }
        Fleet { children }
    }

    /// Stops every node; their result lines.
    fn stop(mut self) -> Vec<String> {
        for child in &mut self.children {
            drop(child.stdin.take());
        }
        let results = self
            .children
            .iter_mut()
            .map(|child| {
                let mut out = String::new();
                child
                    .stdout
                    .take()
                    .unwrap()
                    .read_to_string(&mut out)
                    .unwrap();
                assert!(child.wait().unwrap().success());
                out.lines()
                    .find(|l| l.starts_with("RESULT"))
                    .unwrap()
                    .to_owned()
            })
            .collect();
        self.children.clear();
        results
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn field(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap()
        .parse()
        .unwrap()
}

/// Request instants grouped into rotations: sizes of each group.
fn rotations(times: &[Instant]) -> Vec<usize> {
    let mut groups: Vec<(Instant, usize)> = Vec::new();
    for &t in times {
        match groups.last_mut() {
            Some((first, n)) if t.duration_since(*first) < SAME_ROTATION => *n += 1,
            _ => groups.push((t, 1)),
        }
    }
    groups.into_iter().map(|(_, n)| n).collect()
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn fleet_of_20_processes() {
    let mut redis = RedisServer::start().expect("redis-server");
    // The token endpoint: a new token per request, remembered with its expiry.
    let issued: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let issued_by_endpoint = Arc::clone(&issued);
    let endpoint = FaultServer::with_fn(move |_| {
        let mut issued = issued_by_endpoint.lock().unwrap();
        let token = format!("fleet-token-{}", issued.len() + 1);
        issued.push((
            token.clone(),
            Instant::now() + Duration::from_secs(LIFETIME_SECS),
        ));
        Fault::token(token, LIFETIME_SECS as i64)
    });
    // The resource server: 401 for a token it did not issue or that expired.
    let resource = strict_resource(&issued);
    let token_times =
        || -> Vec<Instant> { endpoint.requests().iter().map(|r| r.received_at).collect() };

    let fleet = Fleet::start(
        "client",
        redis.url(),
        &endpoint.token_url(),
        &resource.addr().to_string(),
    );

    // Phase 1, Redis up: the first fill and three rotations.
    wait_until(
        "four rotations with Redis up",
        Duration::from_secs(30),
        || endpoint.request_count() >= 4,
    );
    let up = token_times();
    let up_rotations = rotations(&up);
    assert!(
        up_rotations.iter().all(|&n| n == 1),
        "Redis up, requests per rotation: {up_rotations:?}"
    );

    // Phase 2, Redis killed: every node fetches for itself, once per rotation at most.
    redis.kill();
    let killed_at = Instant::now();
    let before = up.len();
    wait_until(
        "three rotations without Redis",
        Duration::from_secs(30),
        || killed_at.elapsed() >= Duration::from_secs(3 * (LIFETIME_SECS / 2)),
    );
    let down: Vec<Instant> = token_times()[before..].to_vec();
    let window = killed_at.elapsed().as_secs_f64();
    // A node refreshes at most once per (lifetime - lead) = 2 s of its token.
    let per_node_max = (window / (LIFETIME_SECS as f64 / 2.0)).ceil() as usize + 1;
    assert!(
        down.len() > NODES / 2,
        "nodes did not fetch for themselves: {}",
        down.len()
    );
    assert!(
        down.len() <= NODES * per_node_max,
        "{} requests in {window:.1} s",
        down.len()
    );

    // Phase 3, Redis back: after the rotation that refills it, one per rotation.
    redis.restart().unwrap();
    let restarted_at = Instant::now();
    let before = token_times().len();
    wait_until(
        "four rotations after Redis returned",
        Duration::from_secs(40),
        || rotations(&token_times()[before..]).len() >= 5,
    );
    let back = token_times()[before..].to_vec();
    let back_rotations = rotations(&back);
    assert!(
        back_rotations.iter().skip(2).all(|&n| n == 1),
        "Redis back, requests per rotation: {back_rotations:?}"
    );

    let results = fleet.stop();
    let total = |name: &str| results.iter().map(|l| field(l, name)).sum::<u64>();
    println!(
        "fleet: up {up_rotations:?}, down {} requests in {window:.1} s, back {back_rotations:?} ({:.1} s); \
         requests ok {}, rejected {}, caller errors {}, adopted {}, fetched {}",
        down.len(),
        restarted_at.elapsed().as_secs_f64(),
        total("ok"),
        total("rejected"),
        total("errors"),
        total("adopted"),
        total("fetched"),
    );
    assert_eq!(total("rejected"), 0, "the resource server rejected tokens");
    assert_eq!(total("errors"), 0, "callers saw errors");
    assert!(results.iter().all(|l| field(l, "ok") > 0));
    assert!(
        results.iter().all(|l| field(l, "store_down") >= 1),
        "every node saw the outage"
    );
}

/// A resource server that accepts the tokens in `issued` until their expiry.
fn strict_resource(issued: &Arc<Mutex<Vec<(String, Instant)>>>) -> FaultServer {
    let issued = Arc::clone(issued);
    FaultServer::with_fn(move |req| {
        let now = Instant::now();
        let valid = req.bearer().is_some_and(|b| {
            issued
                .lock()
                .unwrap()
                .iter()
                .any(|(t, until)| t == b && now < *until)
        });
        if valid {
            Fault::token("ok", 1)
        } else {
            Fault::status(401)
        }
    })
}

fn fleet_sharing_a_rotating_refresh_token() {
    let redis = RedisServer::start().expect("redis-server");
    let issued: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let invalid_grants = Arc::new(AtomicUsize::new(0));
    // The server holds one live refresh token; using it retires it.
    let current = Arc::new(Mutex::new("rt-0".to_owned()));
    let (issued_e, invalid_e) = (Arc::clone(&issued), Arc::clone(&invalid_grants));
    let endpoint = FaultServer::with_fn(move |req| {
        let mut current = current.lock().unwrap();
        if req.form_value("refresh_token").as_deref() != Some(current.as_str()) {
            invalid_e.fetch_add(1, Ordering::SeqCst);
            return Fault::oauth_error("invalid_grant");
        }
        let mut issued = issued_e.lock().unwrap();
        let n = issued.len() + 1;
        let access = format!("session-token-{n}");
        *current = format!("rt-{n}");
        issued.push((
            access.clone(),
            Instant::now() + Duration::from_secs(LIFETIME_SECS),
        ));
        let body = format!(
            r#"{{"access_token":"{access}","token_type":"Bearer","expires_in":{LIFETIME_SECS},"refresh_token":"{}"}}"#,
            *current
        );
        Fault::Raw {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into_bytes(),
        }
    });
    let resource = strict_resource(&issued);
    let fleet = Fleet::start(
        "refresh",
        redis.url(),
        &endpoint.token_url(),
        &resource.addr().to_string(),
    );
    wait_until("four rotations", Duration::from_secs(30), || {
        endpoint.request_count() >= 5
    });
    let results = fleet.stop();
    let times: Vec<Instant> = endpoint.requests().iter().map(|r| r.received_at).collect();
    let per_rotation = rotations(&times);
    let total = |name: &str| results.iter().map(|l| field(l, name)).sum::<u64>();
    println!(
        "rotating refresh tokens: grants per rotation {per_rotation:?}, invalid_grant {}, \
         requests ok {}, rejected {}, caller errors {}",
        invalid_grants.load(Ordering::SeqCst),
        total("ok"),
        total("rejected"),
        total("errors"),
    );
    assert_eq!(
        invalid_grants.load(Ordering::SeqCst),
        0,
        "a node presented a retired refresh token"
    );
    assert!(
        per_rotation.iter().all(|&n| n == 1),
        "grants per rotation: {per_rotation:?}"
    );
    assert_eq!(total("rejected"), 0);
    assert_eq!(total("errors"), 0);
}
