//! `freshen token` with credentials made per attempt: a private key
//! (private_key_jwt, the JWT-bearer grant), the client secret signing
//! client_secret_jwt, and token files (workload identity). Keys come from
//! files only and never show in the output.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use freshen_testkit::{Fault, FaultServer};

const HS_SECRET: &str = "cli-hs256-secret-of-at-least-32-bytes";

fn key(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/oauth-server/test-only-keys")
        .join(name)
}

fn freshen(server: &FaultServer, extra: &[&str], secret: Option<&str>) -> Output {
    let url = server.token_url();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_freshen"));
    cmd.args(["token", "--token-url", url.as_str(), "--client-id", "cli"])
        .args(extra);
    for var in [
        "FRESHEN_TOKEN_URL",
        "FRESHEN_CLIENT_ID",
        "FRESHEN_CLIENT_SECRET_FILE",
        "FRESHEN_SCOPE",
        "FRESHEN_PRIVATE_KEY_FILE",
        "FRESHEN_ASSERTION_FILE",
        "FRESHEN_SUBJECT_TOKEN_FILE",
        "FRESHEN_CLIENT_SECRET",
    ] {
        cmd.env_remove(var);
    }
    if let Some(s) = secret {
        cmd.env("FRESHEN_CLIENT_SECRET", s);
    }
    cmd.output().unwrap()
}

fn ok() -> FaultServer {
    FaultServer::with_fn(|_| Fault::token("cli-access-token", 60))
}

/// The claims of a compact JWT (not verified: the real-server tests do that).
fn claims(jwt: &str) -> serde_json::Value {
    let part = jwt.split('.').nth(1).unwrap();
    let mut bits = 0_u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in part.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => panic!("not base64url"),
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    serde_json::from_slice(&out).unwrap()
}

fn succeeded(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "cli-access-token\n");
}

#[test]
fn private_key_signs_a_client_assertion() {
    for file in [
        "rsa.pem",
        "ec.pem",
        "ec-sec1.pem",
        "rsa-pkcs1.pem",
        "ec.jwk.json",
    ] {
        let server = ok();
        let path = key(file);
        let out = freshen(
            &server,
            &["--private-key", path.to_str().unwrap(), "--key-id", "k7"],
            None,
        );
        succeeded(&out);
        let req = server.last_request().unwrap();
        assert_eq!(
            req.form_value("grant_type").as_deref(),
            Some("client_credentials")
        );
        assert_eq!(
            req.form_value("client_assertion_type").as_deref(),
            Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        );
        let c = claims(&req.form_value("client_assertion").unwrap());
        assert_eq!(c["iss"], "cli", "{file}");
        assert_eq!(c["sub"], "cli");
        assert_eq!(c["aud"], server.token_url().as_str());
        assert!(req.basic_auth().is_none());
        assert!(req.form_value("client_secret").is_none());
    }
}

#[test]
fn client_secret_jwt_keeps_the_secret_off_the_wire() {
    let server = ok();
    let out = freshen(&server, &["--auth", "client-secret-jwt"], Some(HS_SECRET));
    succeeded(&out);
    let req = server.last_request().unwrap();
    let body = String::from_utf8_lossy(&req.body).into_owned();
    assert!(!body.contains(HS_SECRET) && req.basic_auth().is_none());
    let assertion = req.form_value("client_assertion").unwrap();
    let header = claims(&format!("x.{}", assertion.split('.').next().unwrap()));
    assert_eq!(header["alg"], "HS256");
}

#[test]
fn assertion_and_subject_token_files_are_sent_as_read() {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    std::fs::write(&file, "eyJ.projected.token\n").unwrap();

    let server = ok();
    succeeded(&freshen(
        &server,
        &["--assertion-file", file.to_str().unwrap()],
        None,
    ));
    let req = server.last_request().unwrap();
    assert_eq!(
        req.form_value("client_assertion").as_deref(),
        Some("eyJ.projected.token")
    );

    let server = ok();
    succeeded(&freshen(
        &server,
        &["--subject-token-file", file.to_str().unwrap()],
        None,
    ));
    let req = server.last_request().unwrap();
    assert_eq!(
        req.form_value("grant_type").as_deref(),
        Some("urn:ietf:params:oauth:grant-type:token-exchange")
    );
    assert_eq!(
        req.form_value("subject_token").as_deref(),
        Some("eyJ.projected.token")
    );
    assert_eq!(
        req.form_value("subject_token_type").as_deref(),
        Some("urn:ietf:params:oauth:token-type:jwt")
    );
    assert_eq!(req.form_value("client_id").as_deref(), Some("cli"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn jwt_bearer_signs_the_grant() {
    let server = ok();
    let path = key("rsa.pem");
    let out = freshen(
        &server,
        &[
            "--private-key",
            path.to_str().unwrap(),
            "--jwt-bearer-issuer",
            "robot@example.test",
            "--scope",
            "cloud",
        ],
        None,
    );
    succeeded(&out);
    let req = server.last_request().unwrap();
    assert_eq!(
        req.form_value("grant_type").as_deref(),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    let c = claims(&req.form_value("assertion").unwrap());
    assert_eq!(c["iss"], "robot@example.test");
    assert_eq!(c["aud"], server.token_url().as_str());
    assert!(req.form_value("client_assertion").is_none());
}

#[test]
fn a_bad_or_missing_key_file_exits_3_and_shows_no_key() {
    let server = ok();
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-badkey-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.pem");
    let pem = std::fs::read_to_string(key("ec.pem")).unwrap();
    let broken = pem.replace(
        "-----BEGIN PRIVATE KEY-----\n",
        "-----BEGIN PRIVATE KEY-----\nAAAA",
    );
    std::fs::write(&bad, &broken).unwrap();
    for path in [bad.clone(), dir.join("missing.pem")] {
        let out = freshen(&server, &["--private-key", path.to_str().unwrap()], None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert!(stderr.contains("private key"), "{stderr}");
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(!stderr.contains(&body[..20]), "{stderr}");
    }
    // A key flag takes a file, never the key itself.
    let out = freshen(&server, &["--private-key"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(server.requests().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_secret_and_no_key_still_exits_3() {
    let server = ok();
    let out = freshen(&server, &[], None);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no client secret"));
}
