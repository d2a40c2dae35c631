//! FileStore across processes: a process killed during a save leaves the
//! old record or the new one; two processes sharing a store against a
//! server that rotates refresh tokens never get `invalid_grant`.
//!
//! The child processes are this test binary run again on one ignored test
//! (`child_*`), told what to do by environment variables.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use freshen_core::{BlockingTokenSource, ErrorCode, ErrorKind};
use freshen_oauth::{ClientAuth, OAuthSource, StoredToken, TokenRequest, TokenStore};
use freshen_store::FileStore;
use freshen_testkit::{Fault, FaultServer, RecordedRequest};
use freshen_ureq::UreqTransport;

const STORE: &str = "FRESHEN_STORE_TEST_PATH";
const URL: &str = "FRESHEN_STORE_TEST_URL";

/// A fresh directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("freshen-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// This test binary, running only the ignored test `name`.
fn child(name: &str, envs: &[(&str, &str)]) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "--nocapture",
            "--test-threads=1",
            name,
        ])
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Record `n`: every field says `n`, and the refresh token is large, so a
/// save takes a while and a kill often lands inside one.
fn record(n: u64) -> StoredToken {
    let refresh = format!("rt-{n}-{}", "x".repeat(256 * 1024));
    StoredToken::refresh_only(refresh).with_access_token(
        format!("at-{n}"),
        Some("Bearer".into()),
        Some(n),
    )
}

/// Which `n` a record was written as, checking that all its fields agree.
fn record_number(token: &StoredToken) -> u64 {
    let n = token.expires_at_unix.expect("an expiry");
    assert_eq!(token, &record(n), "a record mixing two saves");
    n
}

#[test]
#[ignore = "child process of a_process_killed_during_a_save_leaves_the_old_or_the_new_record"]
fn child_saves_forever() {
    let path = std::env::var(STORE).unwrap();
    let store = FileStore::new(path);
    for n in 1.. {
        store.lock().unwrap().save(&record(n)).unwrap();
        println!("saved {n}");
    }
}

#[test]
fn a_process_killed_during_a_save_leaves_the_old_or_the_new_record() {
    let dir = temp_dir("killed");
    let path = dir.join("tokens.json");
    let store = FileStore::new(&path);
    let mut leftovers = 0;
    for round in 0..12u64 {
        let mut saver = child("child_saves_forever", &[(STORE, path.to_str().unwrap())]);
        let mut lines = BufReader::new(saver.stdout.take().unwrap()).lines();
        let mut next_save = || loop {
            let line = lines.next().expect("the child saving").unwrap();
            // libtest's "test child_saves_forever ... " may start the line.
            if let Some((_, n)) = line.split_once("saved ") {
                break (n.parse::<u64>().unwrap(), Instant::now());
            }
        };
        // Time one save, then kill at a different point of the next ones
        // each round (0 to 11/12 of a save later): the kill lands anywhere
        // in a save — before the temporary file, in its write or fsync, at
        // the rename.
        let (_, first) = next_save();
        let (confirmed, second) = next_save();
        std::thread::sleep((second - first) * round as u32 / 12);
        saver.kill().unwrap(); // SIGKILL on Unix: no destructor runs.
        saver.wait().unwrap();
        if dir.join("tokens.json.tmp").exists() {
            leftovers += 1;
        }

        // The lock died with its holder, and the record is whole: the last
        // save confirmed, or one after it.
        let mut locked = store.lock().unwrap();
        let n = record_number(&locked.load().unwrap().expect("a record"));
        assert!(
            n >= confirmed,
            "record {n} older than the confirmed {confirmed}"
        );
    }
    eprintln!("kills that left a half-written temporary file: {leftovers} of 12");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A token endpoint that rotates refresh tokens and answers `invalid_grant`
/// to a retired (or unknown) one.
struct Rotating {
    current: String,
    issued: u64,
    refused: u64,
}

fn rotating_server(first: &str) -> (FaultServer, Arc<Mutex<Rotating>>) {
    let state = Arc::new(Mutex::new(Rotating {
        current: first.to_owned(),
        issued: 0,
        refused: 0,
    }));
    let shared = state.clone();
    let server = FaultServer::with_fn(move |request: &RecordedRequest| {
        let mut s = shared.lock().unwrap();
        if request.form_value("refresh_token").as_deref() != Some(s.current.as_str()) {
            s.refused += 1;
            return Fault::oauth_error("invalid_grant");
        }
        s.issued += 1;
        s.current = format!("rt-{}", s.issued + 1);
        let body = format!(
            r#"{{"access_token":"at-{}","token_type":"Bearer","expires_in":3600,"refresh_token":"{}"}}"#,
            s.issued, s.current
        );
        Fault::Raw {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into_bytes(),
        }
    });
    (server, state)
}

fn source(url: &str, store: &Path) -> OAuthSource<UreqTransport> {
    let request = TokenRequest::refresh(url, ClientAuth::basic("app", "secret"), "rt-1");
    OAuthSource::new(request, UreqTransport::new()).with_store(FileStore::new(store))
}

const FETCHES: usize = 15;

#[test]
#[ignore = "child process of two_processes_sharing_a_store_never_get_invalid_grant"]
fn child_fetches() {
    let source = source(
        &std::env::var(URL).unwrap(),
        Path::new(&std::env::var(STORE).unwrap()),
    );
    for _ in 0..FETCHES {
        let fetched = source.fetch().unwrap();
        println!("fetched {}", fetched.access_token.expose());
    }
}

#[test]
fn two_processes_sharing_a_store_never_get_invalid_grant() {
    let dir = temp_dir("shared");
    let path = dir.join("tokens.json");
    let (server, state) = rotating_server("rt-1");
    let url = server.token_url();
    let envs = [(STORE, path.to_str().unwrap()), (URL, url.as_str())];
    let children = [child("child_fetches", &envs), child("child_fetches", &envs)];
    for mut c in children {
        let out = BufReader::new(c.stdout.take().unwrap());
        let fetched = out
            .lines()
            .filter(|l| l.as_ref().unwrap().contains("fetched at-"))
            .count();
        assert!(c.wait().unwrap().success(), "a child failed");
        assert_eq!(fetched, FETCHES);
    }
    let s = state.lock().unwrap();
    assert_eq!(s.refused, 0, "invalid_grant answered {} times", s.refused);
    // Each process's fetches alternate at worst with adoptions of the
    // other's token: at least one refresh per two fetches happened.
    assert!(s.issued >= FETCHES as u64, "only {} refreshes", s.issued);
    let current = s.current.clone();
    drop(s);

    // The store holds the token the server expects next ...
    let store = FileStore::new(&path);
    let mut locked = store.lock().unwrap();
    let stored = locked.load().unwrap().unwrap();
    assert_eq!(stored.refresh_token.unwrap().expose(), current);
    drop(locked);
    // ... and the server is strict: without the store, the seed is refused.
    let request = TokenRequest::refresh(url, ClientAuth::basic("app", "secret"), "rt-1");
    let error = OAuthSource::new(request, UreqTransport::new())
        .fetch()
        .unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::OAuth(e) if e.code == ErrorCode::InvalidGrant));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_restarted_process_presents_the_rotated_token() {
    let dir = temp_dir("restart");
    let path = dir.join("tokens.json");
    let (server, state) = rotating_server("rt-1");
    assert_eq!(
        source(&server.token_url(), &path)
            .fetch()
            .unwrap()
            .access_token
            .expose(),
        "at-1"
    );
    // A new source (a restart) with the same seed: the stored access token
    // is adopted; the next refresh presents the rotated refresh token.
    let restarted = source(&server.token_url(), &path);
    assert_eq!(restarted.fetch().unwrap().access_token.expose(), "at-1");
    assert_eq!(restarted.fetch().unwrap().access_token.expose(), "at-2");
    assert_eq!(state.lock().unwrap().refused, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn the_record_and_the_lock_file_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("mode");
    let store = FileStore::new(dir.join("tokens.json"));
    store
        .lock()
        .unwrap()
        .save(&StoredToken::refresh_only("rt"))
        .unwrap();
    for path in [store.path(), store.lock_path()] {
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_lock_excludes_others_until_dropped() {
    let dir = temp_dir("lock");
    let store = FileStore::new(dir.join("tokens.json"));
    let locked = store.lock().unwrap();
    let other = std::fs::File::open(store.lock_path()).unwrap();
    assert!(fs4::FileExt::try_lock(&other).is_err());
    drop(locked);
    fs4::FileExt::try_lock(&other).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Polls `future` until it is ready (a no-op waker; the lock's thread
/// makes progress on its own), for at most 10 s.
fn wait_for<F: std::future::Future>(future: std::pin::Pin<&mut F>) -> F::Output {
    let mut future = future;
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        assert!(Instant::now() < deadline, "the lock never came");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn an_async_wait_for_the_lock_leaves_the_thread_free() {
    // Two stores of one file in one process, both used from one thread, as
    // two async caches of a single-threaded runtime are: the second waits
    // for the lock as a pending future while the first holds it.
    let dir = temp_dir("async-lock");
    let (a, b) = (
        FileStore::new(dir.join("tokens.json")),
        FileStore::new(dir.join("tokens.json")),
    );
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut first = std::pin::pin!(a.lock_async());
    let std::task::Poll::Ready(held) = first.as_mut().poll(&mut cx) else {
        panic!("a free lock is taken at once")
    };
    let mut held = held.unwrap();
    held.save(&record(1)).unwrap();
    let mut second = std::pin::pin!(b.lock_async());
    for _ in 0..3 {
        assert!(second.as_mut().poll(&mut cx).is_pending(), "held by a");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(held);
    let mut theirs = wait_for(second.as_mut()).unwrap();
    assert_eq!(record_number(&theirs.load().unwrap().unwrap()), 1);

    // A wait given up (its future dropped) lets the lock go once it gets
    // it: the next taker is not blocked for good.
    let mut given_up = Box::pin(a.lock_async());
    assert!(given_up.as_mut().poll(&mut cx).is_pending(), "held by b");
    drop(given_up);
    drop(theirs);
    let mut third = std::pin::pin!(a.lock_async());
    let mut again = wait_for(third.as_mut()).unwrap();
    again.save(&record(2)).unwrap();
    drop(again);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_damaged_record_is_a_permanent_error_that_shows_no_secret() {
    let dir = temp_dir("damaged");
    let path = dir.join("tokens.json");
    std::fs::write(&path, br#"{"version":1,"refresh_token":"rt-secret-val"#).unwrap();
    let store = FileStore::new(&path);
    let error = store.lock().unwrap().load().unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::Store(_)));
    assert!(error.is_permanent());
    let shown = format!("{error} {error:?} {store:?}");
    assert!(shown.contains("tokens.json"), "{shown}");
    assert!(!shown.contains("secret-val"), "{shown}");
    std::fs::remove_dir_all(&dir).unwrap();
}
