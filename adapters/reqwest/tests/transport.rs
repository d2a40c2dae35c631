//! The transport conformance suite, for `ReqwestTransport` on tokio.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use freshen_core::oauth::transport::TransportConfig;
use freshen_reqwest::ReqwestTransport;
use freshen_testkit::suite;

fn make(config: TransportConfig) -> ReqwestTransport {
    ReqwestTransport::try_with_config(config).unwrap()
}

macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                suite::$case(make).await;
            }
        )*
    };
}

cases!(
    ok_response_intact,
    token_and_get,
    error_statuses_are_responses,
    connection_refused,
    hangup_is_transport_error,
    slow_times_out,
    huge_body_refused,
    huge_chunked_body_refused,
    body_cap_is_exact,
    redirect_to_http_refused,
    redirect_to_other_origin_refused,
    same_origin_307_followed,
    same_origin_303_becomes_get,
    redirect_limit,
    insecure_http_refused,
    user_agent_sent,
    sequential_requests,
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
