#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

pub use freshen_core as core;
pub use freshen_core::{
    AttemptId, Decision, Error, ErrorCode, ErrorKind, Event, Fetched, Generation, Instant, Machine,
    OAuthError, Phase, Policy, PolicyBuilder, PolicyError, RefreshReason, Retry, Schedule, Secret,
    Ticket, Token,
};
