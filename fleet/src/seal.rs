//! What goes into the store: a token record, sealed with
//! XChaCha20-Poly1305 under the fleet's key, the store key bound as
//! associated data (a value copied to another key does not open).
//!
//! Sealed value: `0x01 | nonce (24) | ciphertext+tag`. Plaintext value (only
//! with [`Sealing::plaintext_insecure`]): `0x00 | record`. A sealing reader
//! never accepts a plaintext value (anyone who can write to the store could
//! plant a token), nor a plaintext reader a sealed one.
//!
//! Record: `version (1) | fingerprint (32) | id (16) | lifetime ms (8) |
//! refresh_in ms (8, u64::MAX for none) | token_type length (2, 0xFFFF for
//! none) | token_type | access token`. No wall-clock time: a reader takes
//! the remaining life from the store.

use std::fmt;
use std::time::Duration;

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

const SEALED: u8 = 1;
const PLAIN: u8 = 0;
const RECORD_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const NO_TYPE: u16 = u16::MAX;

/// How values are protected in the store. There is no default: a fleet
/// picks a key, or says by name that it stores tokens in the clear.
#[derive(Clone)]
pub struct Sealing(Mode);

#[derive(Clone)]
enum Mode {
    Sealed(Box<XChaCha20Poly1305>),
    Plain,
}

impl Sealing {
    /// Seals values with XChaCha20-Poly1305 under this 32-byte key. Every
    /// node of the fleet needs the same key; keep it where the client
    /// secret is kept.
    ///
    /// ```
    /// use freshen_fleet::Sealing;
    ///
    /// let sealing = Sealing::key([7; 32]); // from your secret store
    /// assert!(sealing.is_sealed());
    /// assert_eq!(format!("{sealing:?}"), "Sealing(XChaCha20-Poly1305)"); // never the key
    /// assert!(!Sealing::plaintext_insecure().is_sealed());
    /// ```
    pub fn key(key: [u8; 32]) -> Self {
        let key = Zeroizing::new(key);
        Sealing(Mode::Sealed(Box::new(XChaCha20Poly1305::new(
            (&*key).into(),
        ))))
    }

    /// Stores tokens in the clear: whoever can read the store can use
    /// them. For a store that is itself the secret boundary, chosen by name.
    pub fn plaintext_insecure() -> Self {
        Sealing(Mode::Plain)
    }

    /// Whether values are sealed.
    pub fn is_sealed(&self) -> bool {
        matches!(self.0, Mode::Sealed(_))
    }

    pub(crate) fn seal(&self, store_key: &str, record: &[u8]) -> Option<Vec<u8>> {
        match &self.0 {
            Mode::Plain => {
                let mut out = Vec::with_capacity(record.len() + 1);
                out.push(PLAIN);
                out.extend_from_slice(record);
                Some(out)
            }
            Mode::Sealed(cipher) => {
                let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
                let payload = Payload {
                    msg: record,
                    aad: store_key.as_bytes(),
                };
                let sealed = cipher.encrypt(&nonce, payload).ok()?;
                let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
                out.push(SEALED);
                out.extend_from_slice(&nonce);
                out.extend_from_slice(&sealed);
                Some(out)
            }
        }
    }

    /// The record inside `value`, or `None` if it was not sealed by this
    /// fleet's key for this store key (tampered, foreign, copied).
    pub(crate) fn open(&self, store_key: &str, value: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let (&tag, rest) = value.split_first()?;
        match (&self.0, tag) {
            (Mode::Plain, PLAIN) => Some(Zeroizing::new(rest.to_vec())),
            (Mode::Sealed(cipher), SEALED) => {
                let nonce: [u8; NONCE_LEN] = rest.get(..NONCE_LEN)?.try_into().ok()?;
                let sealed = rest.get(NONCE_LEN..)?;
                let payload = Payload {
                    msg: sealed,
                    aad: store_key.as_bytes(),
                };
                cipher
                    .decrypt(&XNonce::from(nonce), payload)
                    .ok()
                    .map(Zeroizing::new)
            }
            _ => None,
        }
    }
}

impl fmt::Debug for Sealing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Mode::Sealed(_) => "Sealing(XChaCha20-Poly1305)",
            Mode::Plain => "Sealing(plaintext)",
        })
    }
}

/// A token as the fleet shares it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) fingerprint: [u8; 32],
    pub(crate) id: [u8; 16],
    pub(crate) lifetime: Duration,
    pub(crate) refresh_in: Option<Duration>,
    pub(crate) token_type: Option<String>,
    pub(crate) access: Zeroizing<String>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX - 1)
}

impl Record {
    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let token_type = self.token_type.as_deref().unwrap_or("");
        let mut out = Zeroizing::new(Vec::with_capacity(
            1 + 32 + 16 + 8 + 8 + 2 + token_type.len() + self.access.len(),
        ));
        out.push(RECORD_VERSION);
        out.extend_from_slice(&self.fingerprint);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&ms(self.lifetime).to_be_bytes());
        let refresh_in = self.refresh_in.map_or(u64::MAX, ms);
        out.extend_from_slice(&refresh_in.to_be_bytes());
        let type_len = match &self.token_type {
            Some(t) => u16::try_from(t.len()).unwrap_or(0),
            None => NO_TYPE,
        };
        out.extend_from_slice(&type_len.to_be_bytes());
        if type_len != NO_TYPE {
            out.extend_from_slice(
                token_type
                    .get(..usize::from(type_len))
                    .unwrap_or("")
                    .as_bytes(),
            );
        }
        out.extend_from_slice(self.access.as_bytes());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Record> {
        let mut r = Reader(bytes);
        if r.take(1)? != [RECORD_VERSION] {
            return None;
        }
        let fingerprint = r.take(32)?.try_into().ok()?;
        let id = r.take(16)?.try_into().ok()?;
        let lifetime = Duration::from_millis(r.u64()?);
        let refresh_in = Some(r.u64()?)
            .filter(|&v| v != u64::MAX)
            .map(Duration::from_millis);
        let type_len = u16::from_be_bytes(r.take(2)?.try_into().ok()?);
        let token_type = if type_len == NO_TYPE {
            None
        } else {
            Some(
                std::str::from_utf8(r.take(usize::from(type_len))?)
                    .ok()?
                    .to_owned(),
            )
        };
        let access = Zeroizing::new(std::str::from_utf8(r.0).ok()?.to_owned());
        if access.is_empty() {
            return None;
        }
        Some(Record {
            fingerprint,
            id,
            lifetime,
            refresh_in,
            token_type,
            access,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn record() -> Record {
        Record {
            fingerprint: [7; 32],
            id: [9; 16],
            lifetime: Duration::from_secs(3600),
            refresh_in: Some(Duration::from_secs(60)),
            token_type: Some("Bearer".into()),
            access: Zeroizing::new("tok-secret-123".into()),
        }
    }

    #[test]
    fn a_sealed_record_opens_only_with_its_key_under_its_store_key() {
        let sealing = Sealing::key([1; 32]);
        let value = sealing.seal("k1", &record().encode()).unwrap();
        let opened = sealing.open("k1", &value).unwrap();
        assert!(Record::decode(&opened).unwrap() == record());
        // The token never appears in the stored bytes.
        assert!(!value.windows(14).any(|w| w == b"tok-secret-123"));
        // Another key, another store key, one flipped bit: nothing.
        assert!(Sealing::key([2; 32]).open("k1", &value).is_none());
        assert!(sealing.open("k2", &value).is_none());
        for i in 0..value.len() {
            let mut bad = value.clone();
            bad[i] ^= 1;
            assert!(
                sealing.open("k1", &bad).is_none(),
                "bit flip at {i} accepted"
            );
        }
    }

    #[test]
    fn sealed_and_plaintext_readers_refuse_each_other() {
        let plain = Sealing::plaintext_insecure();
        let sealed = Sealing::key([1; 32]);
        let p = plain.seal("k", &record().encode()).unwrap();
        let s = sealed.seal("k", &record().encode()).unwrap();
        assert!(sealed.open("k", &p).is_none());
        assert!(plain.open("k", &s).is_none());
        assert!(plain.open("k", &p).is_some());
        assert!(!format!("{sealed:?}").contains("1, 1"));
    }

    #[test]
    fn truncated_or_garbled_records_are_refused() {
        let bytes = record().encode();
        for n in 0..bytes.len() - "tok-secret-123".len() {
            assert!(Record::decode(&bytes[..n]).is_none(), "prefix {n} accepted");
        }
        let mut wrong_version = bytes.to_vec();
        wrong_version[0] = 2;
        assert!(Record::decode(&wrong_version).is_none());
        let none = Record {
            refresh_in: None,
            token_type: None,
            ..record()
        };
        assert!(Record::decode(&none.encode()).unwrap() == none);
    }
}
