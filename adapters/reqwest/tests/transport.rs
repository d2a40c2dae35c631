//! The transport conformance suite, for `ReqwestTransport` on tokio.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use freshen_oauth::transport::TransportConfig;
use freshen_reqwest::ReqwestTransport;
use freshen_testkit::suite;

fn make(config: TransportConfig) -> ReqwestTransport {
    ReqwestTransport::try_with_config(config).unwrap()
}

freshen_testkit::transport_suite!(
    |case| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(case)
    },
    make
);

/// On the multi-threaded runtime too, from a spawned task (the future is
/// `Send`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_on_multi_thread_runtime() {
    let task = tokio::spawn(suite::same_origin_307_followed(make));
    task.await.unwrap();
    let task = tokio::spawn(suite::huge_chunked_body_refused(make));
    task.await.unwrap();
}
