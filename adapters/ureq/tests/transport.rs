//! The transport conformance suite, for the blocking `UreqTransport`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use freshen_oauth::transport::TransportConfig;
use freshen_testkit::suite::Blocking;
use freshen_ureq::UreqTransport;

fn make(config: TransportConfig) -> Blocking<UreqTransport> {
    Blocking(UreqTransport::with_config(config))
}

freshen_testkit::transport_suite!(|case| smol::block_on(case), make);
