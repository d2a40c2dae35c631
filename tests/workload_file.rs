//! Workload identity in virtual time: a subject token file that "the
//! kubelet" rewrites every 10 minutes, exchanged (RFC 8693) by a tokio
//! cache for hours. Every request to the token endpoint must carry the
//! file's content at that moment; the refresh schedule must follow the
//! access token's lifetime, not the file's rewrites; and the read must run
//! off the async worker, so a file system that hangs does not hold up a
//! cached read.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    unreachable_pub
)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use freshen_core::Error;
use freshen_jwt::TokenFile;
use freshen_oauth::grant::{TOKEN_TYPE_JWT, TokenExchange};
use freshen_oauth::{AsyncTransport, HttpRequest, HttpResponse, OAuthSource, TokenRequest};
use freshen_tokio::{TokioCache, TokioRuntime};

const URL: &str = "https://sts.example.test/token";

/// The token endpoint: notes the subject token of every request, and what
/// the file held at that moment.
#[derive(Clone, Default)]
struct Sts {
    /// What "the kubelet" last wrote.
    current: Arc<Mutex<String>>,
    /// (sent, current) per request.
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

fn subject_of(request: &HttpRequest) -> String {
    let body = std::str::from_utf8(&request.body).unwrap();
    body.split('&')
        .find_map(|kv| kv.strip_prefix("subject_token="))
        .unwrap()
        .to_string()
}

impl AsyncTransport for Sts {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, Error> {
        let sent = subject_of(&request);
        let current = self.current.lock().unwrap().clone();
        let mut seen = self.seen.lock().unwrap();
        seen.push((sent, current));
        let body = format!(
            r#"{{"access_token":"access-{}","token_type":"Bearer","expires_in":3600,"issued_token_type":"urn:ietf:params:oauth:token-type:access_token"}}"#,
            seen.len()
        );
        Ok(HttpResponse::new(200, body.into_bytes()))
    }
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("workload-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }
    fn token(&self) -> PathBuf {
        self.0.join("token")
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `content` as the kubelet does (a new file renamed over the old),
/// and tells the endpoint what is current.
fn rotate(dir: &Dir, sts: &Sts, content: &str) {
    let next = dir.0.join("token.next");
    std::fs::write(&next, content).unwrap();
    std::fs::rename(&next, dir.token()).unwrap();
    *sts.current.lock().unwrap() = content.to_string();
}

fn cache_for(dir: &Dir, sts: &Sts) -> TokioCache<OAuthSource<Sts, TokenFile>> {
    let request =
        TokenRequest::token_exchange(URL, TokenExchange::subject_per_attempt(TOKEN_TYPE_JWT));
    let source = OAuthSource::new(request, sts.clone())
        .with_per_attempt(TokenFile::subject_token(dir.token()));
    TokioCache::builder(source, TokioRuntime::current().with_runtime_clock()).build()
}

#[tokio::test(start_paused = true)]
async fn a_file_rewritten_every_10_minutes_is_read_fresh_for_hours() {
    let dir = Dir::new("rotation");
    let sts = Sts::default();
    rotate(&dir, &sts, "sa-token-0");
    let cache = cache_for(&dir, &sts);

    // Six hours of traffic, a request a minute; the file is rewritten every
    // ten minutes, as the kubelet does with a short-lived projected token.
    let hours = 6;
    for minute in 0..hours * 60 {
        if minute > 0 && minute % 10 == 0 {
            rotate(&dir, &sts, &format!("sa-token-{}", minute / 10));
        }
        let token = cache.token().await.unwrap();
        assert!(token.secret().starts_with("access-"));
        tokio::time::sleep(Duration::from_secs(60)).await;
    }

    let seen = sts.seen.lock().unwrap().clone();
    for (i, (sent, current)) in seen.iter().enumerate() {
        assert_eq!(sent, current, "request {i} sent an old subject token");
    }
    // One request per access token (an hour, refreshed some 40 minutes in),
    // never one per rewrite of the file (36 of them).
    assert!(
        (hours as usize..=hours as usize * 60 / 35).contains(&seen.len()),
        "{} requests in {hours} h: {seen:?}",
        seen.len()
    );
    let distinct: std::collections::BTreeSet<_> = seen.iter().map(|(s, _)| s).collect();
    assert_eq!(
        distinct.len(),
        seen.len(),
        "a file content sent twice: {seen:?}"
    );
    println!(
        "{} requests in {hours} h, each with the file's latest content",
        seen.len()
    );
}

/// `O_NONBLOCK` on Linux: opening a FIFO's write end with it fails at once
/// (ENXIO) while no reader has it open, which tells whether the read began.
#[cfg(target_os = "linux")]
const O_NONBLOCK: i32 = 0o4000;

/// Lets the runtime's other tasks run, then waits a real millisecond: with
/// a blocking read in flight tokio does not move its paused clock, so a
/// `tokio::time::sleep` would wait for the read itself.
#[cfg(target_os = "linux")]
async fn real_pause() {
    tokio::task::yield_now().await;
    std::thread::sleep(Duration::from_millis(1));
}

#[cfg(target_os = "linux")]
#[tokio::test(start_paused = true)]
async fn a_hung_file_read_does_not_hold_up_a_cached_read() {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicBool, Ordering};

    let dir = Dir::new("hung");
    let sts = Sts::default();
    rotate(&dir, &sts, "sa-token-0");
    let cache = cache_for(&dir, &sts);
    let first = cache.token().await.unwrap().secret().to_string();

    // The token file becomes a FIFO: a read of it hangs until someone
    // writes, like a stuck network file system.
    let fifo = dir.0.join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::rename(&fifo, dir.token()).unwrap();
    *sts.current.lock().unwrap() = "sa-token-from-the-slow-disk".into();

    // A watchdog unblocks the read if the test itself cannot (a read on the
    // runtime's only worker would stop this task for good).
    let released_by_watchdog = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let (path, released, done) = (dir.token(), released_by_watchdog.clone(), done.clone());
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while std::time::Instant::now() < deadline {
                if done.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            released.store(true, Ordering::SeqCst);
            let mut w = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            w.write_all(b"watchdog").unwrap();
        })
    };

    // Into the stale window: the next read starts a refresh, and is served
    // the held token.
    tokio::time::advance(Duration::from_secs(50 * 60)).await;
    assert_eq!(cache.token().await.unwrap().secret(), first);

    // Wait until the refresh is blocked reading the FIFO.
    let writer = loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(O_NONBLOCK)
            .open(dir.token())
        {
            Ok(w) => break w,
            Err(_) => {
                let released = released_by_watchdog.load(Ordering::SeqCst);
                assert!(
                    !released,
                    "the read blocked the runtime: the watchdog released it"
                );
                real_pause().await;
            }
        }
    };
    // The read is in flight; cached reads on this runtime go on.
    for _ in 0..100 {
        assert_eq!(cache.token().await.unwrap().secret(), first);
        tokio::task::yield_now().await;
    }
    assert_eq!(
        sts.seen.lock().unwrap().len(),
        1,
        "the refresh went on without the file"
    );

    // The disk answers: the refresh completes with what it read.
    let mut writer = writer;
    writer.write_all(b"sa-token-from-the-slow-disk").unwrap();
    drop(writer);
    while sts.seen.lock().unwrap().len() < 2 {
        real_pause().await;
    }
    done.store(true, Ordering::SeqCst);
    watchdog.join().unwrap();
    assert!(
        !released_by_watchdog.load(Ordering::SeqCst),
        "the read blocked the runtime"
    );
    let seen = sts.seen.lock().unwrap().clone();
    assert_eq!(seen[1].0, "sa-token-from-the-slow-disk");
}
