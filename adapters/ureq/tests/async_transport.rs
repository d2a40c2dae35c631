//! The transport conformance suite, for `UreqTransport` as an
//! `AsyncTransport` (the `async` feature) on smol.
#![cfg(feature = "async")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use freshen_oauth::transport::TransportConfig;
use freshen_testkit::suite;
use freshen_ureq::UreqTransport;

fn make(config: TransportConfig) -> UreqTransport {
    UreqTransport::with_config(config)
}

freshen_testkit::transport_suite!(|case| smol::block_on(case), make);

/// The future is `Send`: it can be spawned on a multi-threaded executor.
#[test]
fn future_is_send() {
    fn assert_send<F: std::future::Future + Send>(_: &F) {}
    let t = make(TransportConfig::default());
    let f = freshen_oauth::AsyncTransport::send(
        &t,
        suite::token_request(&freshen_testkit::refused_url()),
    );
    assert_send(&f);
    let result = smol::block_on(f);
    assert!(result.is_err());
}
