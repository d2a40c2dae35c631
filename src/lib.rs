//! freshen keeps OAuth2 access tokens fresh.
//!
//! This is the facade crate: it re-exports the sans-I/O core
//! ([`freshen_core`]) and, behind features, the drivers and transports.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

pub use freshen_core as core;
pub use freshen_core::{
    AttemptId, Decision, Error, ErrorCode, ErrorKind, Event, Fetched, Generation, Instant, Machine,
    OAuthError, Phase, Policy, PolicyBuilder, PolicyError, RefreshReason, Retry, Schedule, Secret,
    Ticket, Token,
};
