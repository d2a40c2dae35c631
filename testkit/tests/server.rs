//! The fault server itself, spoken to over raw TCP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use freshen_testkit::{Fault, FaultServer, Script, closed_port, refused_url};

/// Sends one request with `Connection: close` and returns the raw reply.
fn exchange(server: &FaultServer, request: &str) -> String {
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply).into_owned()
}

fn post(body: &str) -> String {
    format!(
        "POST /token HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn body_of(reply: &str) -> &str {
    reply.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

#[test]
fn records_requests_and_answers_in_order() {
    let server = FaultServer::start(vec![
        Fault::token("tok-1", 3600),
        Fault::SameToken,
        Fault::expires_in_raw("neg", "-5"),
        Fault::token_type("mac-1", "mac"),
        Fault::MissingAccessToken,
        Fault::rate_limited(3),
        Fault::status(502),
        Fault::Html,
        Fault::TruncatedJson,
        Fault::redirect_to_http(),
    ]);
    let replies: Vec<String> = (0..11)
        .map(|i| {
            exchange(
                &server,
                &post(&format!("grant_type=client_credentials&n={i}")),
            )
        })
        .collect();
    assert!(replies[0].starts_with("HTTP/1.1 200 OK\r\n"));
    assert_eq!(
        body_of(&replies[0]),
        r#"{"access_token":"tok-1","token_type":"Bearer","expires_in":3600}"#
    );
    assert_eq!(
        body_of(&replies[1]),
        body_of(&replies[0]),
        "the same token again"
    );
    assert!(body_of(&replies[2]).contains(r#""expires_in":-5"#));
    assert!(body_of(&replies[3]).contains(r#""token_type":"mac""#));
    assert!(!body_of(&replies[4]).contains("access_token"));
    assert!(replies[5].starts_with("HTTP/1.1 429 "));
    assert!(replies[5].contains("Retry-After: 3\r\n"));
    assert!(replies[6].starts_with("HTTP/1.1 502 "));
    assert!(replies[7].contains("text/html"));
    assert!(body_of(&replies[8]).ends_with(r#""expi"#));
    assert!(replies[9].starts_with("HTTP/1.1 307 "));
    assert!(replies[9].contains("Location: http://example.invalid/token\r\n"));
    assert!(replies[10].starts_with("HTTP/1.1 500 "), "script exhausted");

    let requests = server.requests();
    assert_eq!(requests.len(), 11);
    assert_eq!(requests[3].method, "POST");
    assert_eq!(requests[3].path, "/token");
    assert_eq!(requests[3].form_value("n").as_deref(), Some("3"));
    assert_eq!(
        requests[3].basic_auth(),
        Some(("user".into(), "pass".into()))
    );
}

#[test]
fn keep_alive_and_chunked_requests() {
    let server = FaultServer::with_fn(|r| Fault::token(format!("for-{}", r.path), 60));
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(
        b"POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n\
          GET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    assert!(reply.contains("for-/a"), "{reply}");
    assert!(reply.contains("for-/b"), "{reply}");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, b"hello");
    assert_eq!(requests[1].method, "GET");
}

#[test]
fn huge_body_stops_when_the_client_hangs_up() {
    let server = FaultServer::start(Script::always(Fault::huge_chunked()));
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.write_all(post("x").as_bytes()).unwrap();
    let mut buf = vec![0_u8; 256 * 1024];
    let mut read = 0;
    while read < buf.len() {
        let n = s.read(&mut buf[read..]).unwrap();
        assert!(n > 0);
        read += n;
    }
    drop(s);
    let started = Instant::now();
    drop(server);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "drop took {:?}",
        started.elapsed()
    );
}

#[test]
fn drop_stops_a_slow_reply_and_the_listener() {
    let server = FaultServer::start(Fault::slow(
        Duration::from_secs(60),
        Fault::token("late", 1),
    ));
    let addr = server.addr();
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(post("x").as_bytes()).unwrap();
    assert!(server.wait_for_requests(1, Duration::from_secs(5)));
    let started = Instant::now();
    drop(server);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "drop took {:?}",
        started.elapsed()
    );
    assert!(
        TcpStream::connect(addr).is_err(),
        "the port is closed after drop"
    );
}

#[test]
fn closed_port_refuses() {
    assert!(TcpStream::connect(("127.0.0.1", closed_port())).is_err());
    assert!(refused_url().starts_with("http://127.0.0.1:"));
}
