//! What the tier reports: where each token came from and how the store
//! behaves.

use std::time::Duration;

use crate::store::StoreError;

/// Where the token the tier last handed its cache came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// This node fetched it from the token endpoint.
    Endpoint,
    /// Another node fetched it; this one adopted it from the shared store.
    SharedStore,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::Endpoint => "endpoint",
            Origin::SharedStore => "shared store",
        })
    }
}

/// A tier event, for logs and metrics. No event carries a token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FleetEvent {
    /// A token another node stored was adopted, with this much life left.
    Adopted {
        /// The remaining life the store gave it.
        remaining: Duration,
    },
    /// This node won the lease: it fetches for the fleet.
    LeaseWon,
    /// Another node holds the lease: this one waits for its token.
    LeaseWaiting {
        /// Time left on the other node's lease.
        lease_remaining: Option<Duration>,
    },
    /// The wait for another node's token ran out of this attempt's budget;
    /// the next attempt picks the wait up (or fetches, once the lease ends).
    LeaseWaitGaveUp {
        /// How long this attempt waited.
        waited: Duration,
    },
    /// This node fetched a token from the endpoint.
    Fetched {
        /// Whether it was stored for the fleet.
        published: bool,
    },
    /// The store failed: this node fetches on its own until it is back.
    StoreUnavailable {
        /// What failed.
        error: StoreError,
    },
    /// The store answers again after [`FleetEvent::StoreUnavailable`].
    StoreRecovered,
    /// An entry did not open: tampered, sealed under another key, or
    /// plaintext where sealing is required. Read as a miss.
    Unreadable,
    /// An entry opened but was written for another configuration (its
    /// fingerprint differs). Read as a miss.
    Foreign,
    /// After a rejection (401) the shared entry was compare-and-deleted:
    /// `deleted` is false when it already held another token.
    RejectedDeleted {
        /// Whether the rejected token was still there and is gone now.
        deleted: bool,
    },
    /// After a rejection the delete failed; the rejected token is still
    /// never adopted by this node, and the refresh goes ahead.
    RejectDeleteFailed {
        /// What failed.
        error: StoreError,
    },
}
