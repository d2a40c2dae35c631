//! Random values for jitter and backoff: SplitMix64 over an atomic counter,
//! seeded per process. Not for secrets, only for spreading a fleet.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// A lock-free source of well-mixed 64-bit values.
#[derive(Debug)]
pub(crate) struct Random(AtomicU64);

impl Random {
    /// Seeded from the process's random hasher keys, so two instances of a
    /// fleet started in the same second draw different values.
    pub(crate) fn new() -> Self {
        Random(AtomicU64::new(RandomState::new().hash_one(0x5EED_u64)))
    }

    /// Seeded explicitly, for reproducible tests.
    pub(crate) fn with_seed(seed: u64) -> Self {
        Random(AtomicU64::new(seed))
    }

    pub(crate) fn next(&self) -> u64 {
        let mut z = self
            .0
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
