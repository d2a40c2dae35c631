//! The `freshen` binary against a token endpoint on 127.0.0.1: what an
//! operator sees, and the exit codes the docs promise.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::process::{Command, Output};
use std::time::Duration;

use freshen_testkit::{Fault, FaultServer, refused_url};

const SECRET: &str = "cli-s3cret:+/%";

fn freshen(args: &[&str], secret: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_freshen"));
    cmd.args(args)
        .env_remove("FRESHEN_TOKEN_URL")
        .env_remove("FRESHEN_CLIENT_ID")
        .env_remove("FRESHEN_CLIENT_SECRET_FILE")
        .env_remove("FRESHEN_SCOPE");
    match secret {
        Some(s) => cmd.env("FRESHEN_CLIENT_SECRET", s),
        None => cmd.env_remove("FRESHEN_CLIENT_SECRET"),
    };
    cmd.output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A server that checks Basic credentials like a real one.
fn endpoint() -> FaultServer {
    FaultServer::with_fn(|r| match r.basic_auth() {
        Some((id, secret)) if id == "cli" && secret == SECRET => {
            Fault::token("cli-access-token", 60)
        }
        _ => Fault::oauth_error("invalid_client"),
    })
}

#[test]
fn token_prints_the_access_token_and_nothing_else() {
    let server = endpoint();
    let url = server.token_url();
    let out = freshen(
        &[
            "token",
            "--token-url",
            &url,
            "--client-id",
            "cli",
            "--scope",
            "a b",
        ],
        Some(SECRET),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "cli-access-token\n");
    assert!(!stderr.contains(SECRET));
    let req = server.last_request().unwrap();
    assert_eq!(
        req.form_value("grant_type").as_deref(),
        Some("client_credentials")
    );
    assert_eq!(req.form_value("scope").as_deref(), Some("a b"));
}

#[test]
fn token_reads_the_secret_from_a_file() {
    let server = endpoint();
    let dir = std::env::temp_dir().join(format!("freshen-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("secret");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let out = freshen(
        &[
            "token",
            "--token-url",
            &server.token_url(),
            "--client-id",
            "cli",
            "--client-secret-file",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert_eq!(text(&out).0, "cli-access-token\n");
}

#[test]
fn wrong_secret_exits_4_without_echoing_it() {
    let server = endpoint();
    let out = freshen(
        &[
            "token",
            "--token-url",
            &server.token_url(),
            "--client-id",
            "cli",
        ],
        Some("wrong-secret-value"),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr.contains("invalid_client"), "{stderr}");
    assert!(!stdout.contains("wrong-secret-value") && !stderr.contains("wrong-secret-value"));
}

#[test]
fn bare_401_without_body_exits_4() {
    for status in [401, 403] {
        let server = FaultServer::start(Fault::status(status));
        let out = freshen(
            &[
                "token",
                "--token-url",
                &server.token_url(),
                "--client-id",
                "cli",
            ],
            Some(SECRET),
        );
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(4), "{status}: {stderr}");
        assert!(stdout.is_empty());
        assert!(stderr.contains("refused the client"), "{stderr}");
        assert!(stderr.contains(&format!("HTTP {status}")), "{stderr}");
        assert!(!stderr.contains(SECRET));
    }
}

#[test]
fn transient_failure_reads_as_passing() {
    let server = FaultServer::start(Fault::OAuthError {
        status: 503,
        error: "temporarily_unavailable".into(),
        description: Some("maintenance".into()),
    });
    let out = freshen(
        &[
            "token",
            "--token-url",
            &server.token_url(),
            "--client-id",
            "cli",
        ],
        Some(SECRET),
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("temporarily unavailable (HTTP 503"),
        "{stderr}"
    );
    assert!(stderr.contains("retrying later can help"), "{stderr}");
    assert!(!stderr.contains("refused"), "{stderr}");
}

#[test]
fn unreachable_endpoint_exits_5() {
    let out = freshen(
        &["token", "--token-url", &refused_url(), "--client-id", "cli"],
        Some(SECRET),
    );
    assert_eq!(out.status.code(), Some(5), "{:?}", text(&out));
    assert!(text(&out).1.contains("could not reach"));
}

#[test]
fn bad_response_exits_6() {
    let server = FaultServer::start(Fault::Html);
    let out = freshen(
        &[
            "token",
            "--token-url",
            &server.token_url(),
            "--client-id",
            "cli",
        ],
        Some(SECRET),
    );
    assert_eq!(out.status.code(), Some(6), "{:?}", text(&out));
}

#[test]
fn configuration_errors_exit_3() {
    let missing = freshen(
        &[
            "token",
            "--token-url",
            "https://idp.example/token",
            "--client-id",
            "cli",
        ],
        None,
    );
    assert_eq!(missing.status.code(), Some(3));
    assert!(text(&missing).1.contains("FRESHEN_CLIENT_SECRET"));
    let http = freshen(
        &[
            "token",
            "--token-url",
            "http://idp.example/token",
            "--client-id",
            "cli",
        ],
        Some(SECRET),
    );
    assert_eq!(http.status.code(), Some(3));
    assert!(text(&http).1.contains("plain http"));
}

#[test]
fn bad_flags_exit_2() {
    let out = freshen(&["token", "--no-such-flag"], Some(SECRET));
    assert_eq!(out.status.code(), Some(2));
    let out = freshen(&["token", "--client-id", "cli"], Some(SECRET));
    assert_eq!(out.status.code(), Some(2), "missing --token-url");
}

#[test]
fn watch_prints_lifecycle_events_as_json_lines() {
    let server = FaultServer::with_fn({
        let n = std::sync::atomic::AtomicU32::new(0);
        move |_| {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Fault::token(format!("watch-token-{i}"), 8)
        }
    });
    let out = freshen(
        &[
            "watch",
            "--json",
            "--for",
            "5",
            "--token-url",
            &server.token_url(),
            "--client-id",
            "cli",
        ],
        Some(SECRET),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert!(kinds.contains(&"refresh_started"), "{kinds:?}");
    // 8 s tokens: refreshed ahead (prefetch) within 5 s, with life left.
    let rotations: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "refresh_succeeded" && !e["left_on_old_s"].is_null())
        .collect();
    assert!(!rotations.is_empty(), "{stdout}");
    assert!(rotations[0]["left_on_old_s"].as_f64().unwrap() > 1.0);
    assert!(
        !stdout.contains("watch-token") && !stdout.contains(SECRET),
        "no secret in the output"
    );
}

#[test]
fn watch_shows_progress_while_waiting() {
    let server = FaultServer::start(Fault::slow(
        Duration::from_millis(1600),
        Fault::token("slow-token", 60),
    ));
    let out = freshen(
        &[
            "watch",
            "--for",
            "2",
            "--token-url",
            &server.token_url(),
            "--client-id",
            "cli",
        ],
        Some(SECRET),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("waiting for the token endpoint"),
        "{stdout}"
    );
    assert!(stdout.contains("serving token #0"), "{stdout}");
}

#[test]
fn simulate_prints_the_stacks_side_by_side_and_writes_a_plot() {
    let svg = std::env::temp_dir().join(format!("freshen-sim-{}.svg", std::process::id()));
    let out = freshen(
        &[
            "simulate",
            "--instances",
            "4",
            "--rps",
            "100",
            "--hours",
            "3",
            "--svg",
            svg.to_str().unwrap(),
        ],
        None,
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for stack in ["lazy cache", "double cache", "freshen"] {
        assert!(stdout.contains(stack), "{stdout}");
    }
    let freshen_row = stdout.lines().find(|l| l.starts_with("| freshen")).unwrap();
    let cells: Vec<&str> = freshen_row.split('|').map(str::trim).collect();
    assert_eq!(cells[3], "0", "freshen: no would-be 401s: {freshen_row}");
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    let bad = freshen(&["simulate", "--instances", "0"], None);
    assert_eq!(bad.status.code(), Some(2), "{:?}", text(&bad));
}
