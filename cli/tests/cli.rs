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

/// `freshen token` against `server` as client `cli`, with `extra` flags.
fn token_for(server: &FaultServer, extra: &[&str], secret: Option<&str>) -> Output {
    let url = server.token_url();
    let mut args = vec!["token", "--token-url", url.as_str(), "--client-id", "cli"];
    args.extend_from_slice(extra);
    freshen(&args, secret)
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
    let out = token_for(
        &server,
        &["--client-secret-file", file.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert_eq!(text(&out).0, "cli-access-token\n");
}

#[test]
fn wrong_secret_exits_4_without_echoing_it() {
    let server = endpoint();
    let out = token_for(&server, &[], Some("wrong-secret-value"));
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr.contains("invalid_client"), "{stderr}");
    assert!(!stdout.contains("wrong-secret-value") && !stderr.contains("wrong-secret-value"));
}

#[test]
fn bare_401_without_body_exits_4() {
    for status in [401, 403] {
        let server = FaultServer::start(Fault::status(status));
        let out = token_for(&server, &[], Some(SECRET));
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
    let out = token_for(&server, &[], Some(SECRET));
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
    let out = token_for(&server, &[], Some(SECRET));
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

/// `freshen token` against `url` with the usual client, and the output.
fn token_from(url: &str) -> Output {
    freshen(
        &["token", "--token-url", url, "--client-id", "cli"],
        Some(SECRET),
    )
}

#[test]
fn cli_token_refuses_expires_in_zero() {
    let server = FaultServer::start(Fault::token("zero-lifetime-token", 0));
    let out = token_from(&server.token_url());
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(stdout.is_empty(), "printed an unusable token: {stdout}");
    assert!(stderr.contains("no usable lifetime"), "{stderr}");
    assert!(!stderr.contains("zero-lifetime-token"), "{stderr}");
    // A short but usable lifetime is still printed.
    let server = FaultServer::start(Fault::token("short-token", 5));
    let out = token_from(&server.token_url());
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert_eq!(text(&out).0, "short-token\n");
}

#[test]
fn timeout_zero_is_rejected() {
    for args in [
        &["token", "--timeout", "0"][..],
        &["watch", "--timeout", "0"][..],
        &["watch", "--interval", "0"][..],
        &["watch", "--for", "0"][..],
    ] {
        let mut all = args.to_vec();
        all.extend([
            "--token-url",
            "https://idp.example/token",
            "--client-id",
            "cli",
        ]);
        let out = freshen(&all, Some(SECRET));
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("must be at least 1 second"), "{stderr}");
    }
    let out = freshen(&["token", "--timeout", "soon"], Some(SECRET));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("whole number of seconds"));
}

#[test]
fn token_url_with_fragment_is_rejected() {
    let server = endpoint();
    let out = token_from(&format!("{}#fragment", server.token_url()));
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("fragment"), "{stderr}");
    assert!(server.requests().is_empty(), "nothing may be sent");
}

#[test]
fn bad_token_url_reports_what_is_wrong_without_the_password() {
    for (url, why) in [
        ("https://admin:PW-9f8e7d@idp example/token", "whitespace"),
        (
            "https://admin:PW-9f8e7d@idp.example:99999/token",
            "above 65535",
        ),
        ("idp.example/token", "not an absolute URL"),
        ("https://admin:PW-9f8e7d@idp.example/token", "password"),
    ] {
        let out = token_from(url);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(3), "{url}: {stderr}");
        assert!(stderr.contains(why), "{url}: {stderr}");
        assert!(!stderr.contains("unparseable"), "{stderr}");
        assert!(
            !stderr.contains("PW-9f8e7d") && !stdout.contains("PW-9f8e7d"),
            "{stderr}"
        );
    }
}

#[test]
fn empty_client_id_is_a_config_error() {
    let server = endpoint();
    let out = freshen(
        &[
            "token",
            "--token-url",
            &server.token_url(),
            "--client-id",
            "",
        ],
        Some(SECRET),
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("client id is empty"), "{stderr}");
    assert!(server.requests().is_empty(), "nothing may be sent");
}

#[test]
fn client_id_with_colon_under_basic_is_a_config_error() {
    let server = FaultServer::with_fn(|r| match r.form_value("client_id") {
        Some(id) if id == "tenant:app" => Fault::token("post-token", 60),
        _ => Fault::oauth_error("invalid_client"),
    });
    let url = server.token_url();
    let basic = freshen(
        &["token", "--token-url", &url, "--client-id", "tenant:app"],
        Some(SECRET),
    );
    let (_, stderr) = text(&basic);
    assert_eq!(basic.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("client_secret_post"), "{stderr}");
    assert!(server.requests().is_empty(), "nothing may be sent");
    // In the body the id is unambiguous.
    let post = freshen(
        &[
            "token",
            "--token-url",
            &url,
            "--client-id",
            "tenant:app",
            "--auth",
            "post",
        ],
        Some(SECRET),
    );
    assert_eq!(post.status.code(), Some(0), "{:?}", text(&post));
    assert_eq!(text(&post).0, "post-token\n");
}

#[test]
fn empty_client_secret_is_a_config_error() {
    let server = endpoint();
    let out = token_for(&server, &[], Some(""));
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("client secret is empty"), "{stderr}");
    assert!(server.requests().is_empty(), "nothing may be sent");
}

/// `freshen watch` with `args` against `url`; the output and how long it ran.
fn watch(url: &str, args: &[&str]) -> (Output, Duration) {
    let mut all = vec!["watch", "--json", "--token-url", url, "--client-id", "cli"];
    all.extend_from_slice(args);
    let started = std::time::Instant::now();
    let out = freshen(&all, Some(SECRET));
    (out, started.elapsed())
}

fn events(out: &Output) -> Vec<serde_json::Value> {
    text(out)
        .0
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

#[test]
fn watch_for_is_honoured_while_the_endpoint_hangs() {
    // The endpoint answers after 10 s; the transport would wait 30 s.
    let server = FaultServer::start(Fault::slow(
        Duration::from_secs(10),
        Fault::token("late-token", 60),
    ));
    let (out, took) = watch(&server.token_url(), &["--for", "2", "--timeout", "30"]);
    assert!(
        took < Duration::from_millis(3500),
        "--for 2 ran {took:?}: {:?}",
        text(&out)
    );
    // No token at the end: the endpoint had not answered (a passing state).
    assert_eq!(out.status.code(), Some(5), "{:?}", text(&out));
    let end = events(&out).pop().unwrap();
    assert_eq!(end["event"], "end");
    assert_eq!(end["usable"], false);
}

#[test]
fn watch_for_caps_the_wait_between_asks() {
    let server = FaultServer::start(Fault::token("steady-token", 3600));
    let (out, took) = watch(&server.token_url(), &["--for", "2", "--interval", "30"]);
    assert!(took < Duration::from_millis(3500), "--for 2 ran {took:?}");
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
}

#[test]
fn watch_exit_code_is_the_state_at_the_end() {
    // A 503 first (retry after 3 s), then tokens: the cache's prefetch timer
    // recovers on its own between two asks of the watch.
    let server = FaultServer::start(vec![
        Fault::Raw {
            status: 503,
            headers: vec![
                ("Content-Type".into(), "text/plain".into()),
                ("Retry-After".into(), "3".into()),
            ],
            body: b"maintenance".to_vec(),
        },
        Fault::token("recovered-token-1", 3600),
        Fault::token("recovered-token-2", 3600),
    ]);
    let (out, took) = watch(&server.token_url(), &["--for", "7", "--interval", "30"]);
    let events = events(&out);
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert!(took < Duration::from_millis(8500), "--for 7 ran {took:?}");
    assert!(kinds.contains(&"error"), "{kinds:?}");
    assert!(kinds.contains(&"refresh_succeeded"), "{kinds:?}");
    assert_eq!(out.status.code(), Some(0), "recovered = success: {kinds:?}");
    let end = events.last().unwrap();
    assert_eq!(
        (end["event"].as_str(), end["usable"].as_bool()),
        (Some("end"), Some(true))
    );
}

#[test]
fn watch_exits_with_the_last_failure_when_it_never_recovers() {
    for (fault, code) in [(Fault::status(401), 4), (Fault::Html, 6)] {
        let server = FaultServer::start(fault);
        let (out, took) = watch(&server.token_url(), &["--for", "2"]);
        assert!(took < Duration::from_millis(3500), "ran {took:?}");
        assert_eq!(out.status.code(), Some(code), "{:?}", text(&out));
        assert_eq!(events(&out).pop().unwrap()["exit_code"], code);
    }
}

#[test]
fn watch_help_documents_its_exit_codes() {
    let out = freshen(&["watch", "--help"], None);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0));
    for needle in [
        "Exit codes",
        "the state when the watch ends",
        "0  the cache held a usable token at the end, including after recovering",
        "4  the token endpoint refused",
        "5  a passing failure",
    ] {
        assert!(stdout.contains(needle), "{needle}: {stdout}");
    }
    let out = freshen(&["token", "--help"], None);
    assert!(text(&out).0.contains("expires_in 0"), "{}", text(&out).0);
}

#[test]
fn token_from_a_metadata_server() {
    use freshen_testkit::metadata::MetadataFake;
    let gce = MetadataFake::gce();
    let host = gce.host();
    let out = freshen(
        &[
            "token",
            "--metadata",
            "gce",
            "--metadata-endpoint",
            &host,
            "--scope",
            "openid",
        ],
        None,
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "fake-metadata-token-1\n");
    let request = gce.server().last_request().unwrap();
    assert_eq!(request.query_value("scopes").as_deref(), Some("openid"));

    let imds = MetadataFake::azure();
    let url = imds.base_url();
    let resource = "https://vault.azure.net";
    let azure = |extra: &[&str]| {
        let mut args = vec!["token", "--metadata", "azure", "--metadata-endpoint", &url];
        args.extend_from_slice(extra);
        freshen(&args, None)
    };
    let out = azure(&["--resource", resource, "--client-id", "uai-1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    assert_eq!(text(&out).0, "fake-metadata-token-1\n");
    let request = imds.server().last_request().unwrap();
    assert_eq!(request.query_value("resource").as_deref(), Some(resource));
    assert_eq!(request.query_value("client_id").as_deref(), Some("uai-1"));
    // IMDS needs a resource: a configuration error (3), before any request.
    let before = imds.server().request_count();
    let out = azure(&[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out).1);
    assert!(text(&out).1.contains("--resource"));
    assert_eq!(imds.server().request_count(), before);
    // A token URL and a metadata server at once is a flag error (2).
    let out = freshen(
        &[
            "token",
            "--metadata",
            "gce",
            "--token-url",
            "http://127.0.0.1:1/t",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn token_from_azure_app_service_with_the_platforms_variables() {
    use freshen_testkit::metadata::{APP_SERVICE_SECRET, MetadataFake};
    let fake = MetadataFake::app_service();
    let resource = "https://vault.azure.net";
    let run = |endpoint: Option<&str>, secret: Option<&str>, extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_freshen"));
        cmd.args([
            "token",
            "--metadata",
            "azure-app-service",
            "--resource",
            resource,
        ])
        .args(extra)
        .env_remove("FRESHEN_CLIENT_SECRET")
        .env_remove("IDENTITY_ENDPOINT")
        .env_remove("IDENTITY_HEADER");
        if let Some(endpoint) = endpoint {
            cmd.env("IDENTITY_ENDPOINT", endpoint);
        }
        if let Some(secret) = secret {
            cmd.env("IDENTITY_HEADER", secret);
        }
        cmd.output().unwrap()
    };
    let endpoint = fake.identity_endpoint();
    let out = run(
        Some(&endpoint),
        Some(APP_SERVICE_SECRET),
        &["--client-id", "uai-1"],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "fake-metadata-token-1\n");
    let request = fake.server().last_request().unwrap();
    assert_eq!(
        request.header("X-IDENTITY-HEADER"),
        Some(APP_SERVICE_SECRET)
    );
    assert_eq!(request.query_value("client_id").as_deref(), Some("uai-1"));
    assert_eq!(request.query_value("resource").as_deref(), Some(resource));
    assert!(!stderr.contains(APP_SERVICE_SECRET));

    // Outside App Service (no variables): a configuration error (3), no request.
    let before = fake.server().request_count();
    let out = run(None, None, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out).1);
    assert!(
        text(&out).1.contains("IDENTITY_ENDPOINT"),
        "{}",
        text(&out).1
    );
    // A wrong secret: the endpoint refuses the credentials (4); the secret
    // is not echoed.
    let out = run(Some(&endpoint), Some("wrong-secret"), &[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out).1);
    assert!(!text(&out).1.contains("wrong-secret"));
    assert_eq!(fake.server().request_count(), before + 1);
    // --metadata-endpoint stands in for IDENTITY_ENDPOINT.
    let out = run(
        None,
        Some(APP_SERVICE_SECRET),
        &["--metadata-endpoint", &endpoint],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
}

/// `freshen watch --shared-store` as client `cli`, sealing with `key`.
fn watch_shared(url: &str, redis: &str, key: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_freshen"))
        .args([
            "watch",
            "--json",
            "--for",
            "1",
            "--token-url",
            url,
            "--client-id",
            "cli",
        ])
        .args(["--shared-store", redis])
        .env("FRESHEN_CLIENT_SECRET", SECRET)
        .env("FRESHEN_SHARED_STORE_KEY", key)
        .env_remove("FRESHEN_SHARED_STORE_KEY_FILE")
        .output()
        .unwrap()
}

#[test]
fn watch_with_a_shared_store_shows_where_each_token_came_from() {
    let redis = freshen_testkit::RedisServer::shared_or_start().unwrap();
    let server = endpoint();
    let key = "5a".repeat(32);
    let from = |out: &Output| {
        events(out)
            .iter()
            .filter(|e| e["event"] == "serving")
            .map(|e| e["from"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    // The first node fetches from the endpoint and stores the token.
    let first = watch_shared(&server.token_url(), redis.url(), &key);
    assert_eq!(first.status.code(), Some(0), "{:?}", text(&first));
    assert_eq!(from(&first), vec!["endpoint"]);
    assert!(
        events(&first)
            .iter()
            .any(|e| e["event"] == "shared_fetched")
    );
    // The next one takes it from the shared store: no second token request.
    let second = watch_shared(&server.token_url(), redis.url(), &key);
    assert_eq!(from(&second), vec!["shared store"]);
    assert_eq!(server.request_count(), 1);
    // What is stored is sealed: the token is not in Redis in the clear.
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS")
        .arg("freshen:v1:tok:*")
        .query(&mut conn)
        .unwrap();
    let values: Vec<Vec<u8>> = keys
        .iter()
        .map(|k| redis::cmd("GET").arg(k).query(&mut conn).unwrap())
        .collect();
    assert!(!values.is_empty());
    assert!(
        values
            .iter()
            .all(|v| !v.windows(16).any(|w| w == b"cli-access-token"))
    );
    let (stdout, stderr) = text(&second);
    assert!(
        !stdout.contains(&key) && !stderr.contains(&key),
        "the key was echoed"
    );
}

#[test]
fn watch_with_a_shared_store_needs_a_key_or_says_plaintext() {
    let server = endpoint();
    let out = Command::new(env!("CARGO_BIN_EXE_freshen"))
        .args([
            "watch",
            "--for",
            "1",
            "--token-url",
            &server.token_url(),
            "--client-id",
            "cli",
        ])
        .args(["--shared-store", "redis://127.0.0.1:1/0"])
        .env("FRESHEN_CLIENT_SECRET", SECRET)
        .env_remove("FRESHEN_SHARED_STORE_KEY")
        .env_remove("FRESHEN_SHARED_STORE_KEY_FILE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out).1.contains("FRESHEN_SHARED_STORE_KEY"));
    assert!(server.requests().is_empty());
}
