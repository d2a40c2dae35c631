//! The transport conformance suite, for `SurfTransport` on smol.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use freshen_oauth::AsyncTransport;
use freshen_oauth::transport::TransportConfig;
use freshen_surf::SurfTransport;
use freshen_testkit::suite;

fn make(config: TransportConfig) -> SurfTransport {
    SurfTransport::with_config(config)
}

freshen_testkit::transport_suite!(|case| smol::block_on(case), make);

/// surf's future is `Send`: the transport's future can be spawned on a
/// multi-threaded executor.
#[test]
fn future_is_send_and_spawnable() {
    fn assert_send<F: std::future::Future + Send>(f: F) -> F {
        f
    }
    let server = freshen_testkit::FaultServer::start(freshen_testkit::Fault::token("spawned", 60));
    let t = make(TransportConfig::default());
    let f = assert_send(t.send(suite::token_request(&server.token_url())));
    let ex = smol::Executor::new();
    let task = ex.spawn(f);
    let response = std::thread::scope(|s| s.spawn(|| smol::block_on(ex.run(task))).join().unwrap());
    assert_eq!(response.unwrap().status, 200);
}

/// A caller-set `User-Agent` wins over the configured one, sent once.
#[test]
fn request_user_agent_wins() {
    let server = freshen_testkit::FaultServer::start(freshen_testkit::Fault::token("ua", 60));
    let t = make(TransportConfig::default());
    let mut request = suite::token_request(&server.token_url());
    request
        .headers
        .push(("User-Agent".into(), String::from("caller/1").into()));
    smol::block_on(t.send(request)).unwrap();
    let got = server.last_request().unwrap();
    assert_eq!(got.header("user-agent"), Some("caller/1"));
}

/// A header value with a line break is refused, not sent (and not a panic).
#[test]
fn invalid_header_is_config_error() {
    let t = make(TransportConfig::default());
    let mut request = suite::token_request("http://127.0.0.1:1/token");
    request
        .headers
        .push(("X-Bad".into(), String::from("a\r\nInjected: yes").into()));
    let e = smol::block_on(t.send(request)).unwrap_err();
    assert!(
        matches!(e.kind(), freshen_core::ErrorKind::Config(_)),
        "{e:?}"
    );
}
