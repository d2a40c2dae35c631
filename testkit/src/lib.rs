//! freshen-testkit: test helpers for freshen, never for production — a
//! fault-injecting token endpoint and one conformance suite for every
//! transport.
//!
//! [`FaultServer`] is a tiny HTTP/1.1 server on std threads, bound to
//! `127.0.0.1:0`. It answers each request as its [`Script`] says (a queue
//! of [`Fault`]s, one fault for all, or a closure of the
//! [`RecordedRequest`]) and records every request, so a test can assert how
//! many token requests were made and with what credentials. It never
//! connects anywhere; dropping it stops it.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use freshen_testkit::{Fault, FaultServer};
//!
//! let server = FaultServer::start(vec![Fault::status(503), Fault::token("tok-1", 3600)]);
//! for _ in 0..2 {
//!     let mut s = TcpStream::connect(server.addr()).unwrap();
//!     s.write_all(b"POST /token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
//!                   Content-Length: 29\r\n\r\ngrant_type=client_credentials").unwrap();
//!     let mut reply = String::new();
//!     s.read_to_string(&mut reply).unwrap();
//! }
//! let requests = server.requests();
//! assert_eq!(requests.len(), 2);
//! assert_eq!(requests[1].form_value("grant_type").as_deref(), Some("client_credentials"));
//! ```
//!
//! [`metadata`] holds fakes of GCE's metadata server and Azure IMDS that
//! behave as their providers document.
//!
//! [`suite`] holds the transport conformance cases that every transport
//! crate runs against the server.
//!
//! With the `resource-server` feature, `resource_server` is a strict API
//! server for the request-path integrations (freshen-tower and the like):
//! it accepts only tokens it issued, unexpired on a clock shared with the
//! client's cache, and can revoke one while requests are in flight.

#[cfg(feature = "metrics")]
pub mod counters;
mod fault;
pub mod metadata;
mod redis;
mod request;
#[cfg(feature = "resource-server")]
pub mod resource_server;
mod server;
pub mod suite;

pub use fault::{Fault, HUGE, INVALID_HOST};
pub use redis::RedisServer;
pub use request::{RecordedRequest, base64_decode, percent_decode};
pub use server::{FaultServer, Script, closed_port, refused_url};
