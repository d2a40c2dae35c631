//! testkit's transport conformance suite, every case, for
//! `WasiHttpTransport` running inside the wasm32-wasip2 component in a real
//! host (Node with jco + preview2-shim, or Wasmtime: see common/mod.rs):
//! the FaultServers run here, on 127.0.0.1, and each
//! request crosses the real host's `wasi:http/outgoing-handler`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::{InHost, block_on};
use freshen_oauth::transport::TransportConfig;
use freshen_testkit::suite::Blocking;

fn make(config: TransportConfig) -> Blocking<InHost> {
    Blocking(InHost::start(config))
}

freshen_testkit::transport_suite!(block_on, make);
