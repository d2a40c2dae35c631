//! `freshen watch --shared-store redis://…`: the watch's cache behind
//! freshen-fleet's shared tier, so an operator sees where each token came
//! from (the endpoint, or the shared store another node filled) and how the
//! store behaves.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use freshen_core::{Error, ErrorKind};
use freshen_fleet::{FleetEvent, RedisStore, Sealing, SharedTier};
use freshen_oauth::{ConfigError, OAuthSource, ShapeKey};

use crate::assertion::Made;
use freshen_ureq::UreqTransport;
use zeroize::Zeroizing;

/// The tier the watch uses.
pub(crate) type Tier = SharedTier<OAuthSource<UreqTransport, Made>, RedisStore>;

/// Where the shared store is and how its values are sealed.
#[derive(Args, Debug)]
pub(crate) struct SharedStoreArgs {
    /// Share tokens through this Redis or Valkey (`redis://host:port/db`).
    #[arg(long, env = "FRESHEN_SHARED_STORE", value_name = "URL")]
    pub shared_store: Option<String>,
    /// A file holding the fleet's sealing key: 64 hex digits (32 bytes).
    /// Default: the environment variable FRESHEN_SHARED_STORE_KEY.
    #[arg(long, env = "FRESHEN_SHARED_STORE_KEY_FILE", value_name = "PATH")]
    pub shared_store_key_file: Option<PathBuf>,
    /// Store tokens in the clear (no key): whoever reads the store can use them.
    #[arg(long)]
    pub shared_store_plaintext_insecure: bool,
}

fn config_error(why: impl Into<String>) -> Error {
    Error::permanent(ErrorKind::Config(ConfigError::other(why)))
}

/// 64 hex digits as 32 bytes.
fn parse_key(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut key = [0u8; 32];
    for (byte, pair) in key.iter_mut().zip(hex.as_bytes().chunks(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(text, 16).ok()?;
    }
    Some(key)
}

impl SharedStoreArgs {
    fn sealing(&self) -> Result<Sealing, Error> {
        if self.shared_store_plaintext_insecure {
            return Ok(Sealing::plaintext_insecure());
        }
        let text = match &self.shared_store_key_file {
            Some(path) => Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                config_error(format!(
                    "cannot read the shared store key file {}: {e}",
                    path.display()
                ))
            })?),
            None => Zeroizing::new(std::env::var("FRESHEN_SHARED_STORE_KEY").map_err(|_| {
                config_error(
                    "no shared store key: set FRESHEN_SHARED_STORE_KEY or pass \
                     --shared-store-key-file (or --shared-store-plaintext-insecure)",
                )
            })?),
        };
        let key = Zeroizing::new(
            parse_key(&text)
                .ok_or_else(|| config_error("the shared store key must be 64 hex digits"))?,
        );
        Ok(Sealing::key(*key))
    }

    /// The tier over `source` on the store at `url`; its events go to `sink`.
    pub(crate) fn tier(
        &self,
        url: &str,
        source: OAuthSource<UreqTransport, Made>,
        shape: ShapeKey,
        policy: freshen_core::Policy,
        sink: impl Fn(&FleetEvent) + Send + Sync + 'static,
    ) -> Result<Arc<Tier>, Error> {
        let sealing = self.sealing()?;
        let store = RedisStore::open(url).map_err(|e| config_error(e.to_string()))?;
        Ok(Arc::new(
            SharedTier::builder(source, store, shape, sealing)
                .policy(policy)
                .on_event(sink)
                .build(),
        ))
    }
}

/// A line for a tier event, and its JSON name.
pub(crate) fn describe(e: &FleetEvent) -> (String, &'static str) {
    match e {
        FleetEvent::Adopted { remaining } => (
            format!(
                "adopted a token from the shared store ({:.0}s left)",
                remaining.as_secs_f64()
            ),
            "shared_adopted",
        ),
        FleetEvent::LeaseWon => (
            "took the shared lease: fetching for the fleet".into(),
            "shared_lease_won",
        ),
        FleetEvent::LeaseWaiting { .. } => (
            "another node is fetching: waiting for its token".into(),
            "shared_lease_waiting",
        ),
        FleetEvent::LeaseWaitGaveUp { waited } => (
            format!(
                "gave up waiting for another node after {:.1}s",
                waited.as_secs_f64()
            ),
            "shared_wait_gave_up",
        ),
        FleetEvent::Fetched { published } => (
            format!(
                "fetched from the endpoint{}",
                if *published {
                    ", stored for the fleet"
                } else {
                    " (not stored)"
                }
            ),
            "shared_fetched",
        ),
        FleetEvent::StoreUnavailable { error } => (
            format!("{error}: fetching alone until it is back"),
            "shared_store_unavailable",
        ),
        FleetEvent::StoreRecovered => ("shared store is back".into(), "shared_store_recovered"),
        FleetEvent::Unreadable => (
            "a shared entry did not open (tampered, or another key): ignored".into(),
            "shared_unreadable",
        ),
        FleetEvent::Foreign => (
            "a shared entry of another configuration: ignored".into(),
            "shared_foreign",
        ),
        FleetEvent::RejectedDeleted { deleted } => (
            format!(
                "rejected token {}",
                if *deleted {
                    "deleted from the store"
                } else {
                    "already replaced"
                }
            ),
            "shared_rejected",
        ),
        FleetEvent::RejectDeleteFailed { error } => (
            format!("could not delete a rejected token: {error}"),
            "shared_reject_failed",
        ),
        _ => ("shared store event".into(), "shared_other"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::parse_key;

    #[test]
    fn a_key_is_64_hex_digits() {
        let hex = "00ff".repeat(16);
        assert_eq!(parse_key(&hex).unwrap()[1], 0xff);
        assert_eq!(parse_key(&format!("{hex}\n")).unwrap()[0], 0);
        assert!(parse_key(&hex[..62]).is_none());
        assert!(parse_key(&"zz".repeat(32)).is_none());
    }
}
