//! The transport conformance suite, for the blocking `UreqTransport`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use freshen_core::oauth::transport::TransportConfig;
use freshen_testkit::suite::{self, Blocking};
use freshen_ureq::UreqTransport;

fn make(config: TransportConfig) -> Blocking<UreqTransport> {
    Blocking(UreqTransport::with_config(config))
}

macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                smol::block_on(suite::$case(make));
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
