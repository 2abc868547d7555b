//! The start-up position (`Mstartup`): what the start-up check and the Merkle tree need at a log
//! size the writer itself reached, so that a start checks only what came after it
//! (`fsck::at_start`). The writer saves it (`writer::position`); the stored value carries a BLAKE3
//! checksum, so a damaged one is told from a sound one and the start falls back to the complete
//! check.

use serde::{Deserialize, Serialize};

use crate::store::StoreError;

/// Domain of the checksum: `BLAKE3(CHECKSUM_DOMAIN ‖ record)`.
const CHECKSUM_DOMAIN: &[u8] = b"consent-ledger/startup-position/v1";

/// The state of the store at log size `log_size` (`P`): its counters, the entry at `P - 1` and
/// the root of the Merkle tree over the first `P` entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartupPosition {
    /// Entries in the arrival log (`P`).
    pub log_size: u64,
    /// Feeds known at `P`.
    pub feeds: u64,
    /// Feeds frozen at `P`.
    pub frozen: u64,
    /// The id of the entry at arrival index `P - 1` (zeros when `P` is 0).
    pub last: [u8; 32],
    /// The root of the Merkle tree over the first `P` entries.
    pub root: [u8; 32],
}

impl StartupPosition {
    /// The stored value: the postcard-encoded record, then its 32-byte checksum.
    pub fn encode(&self) -> Result<Vec<u8>, StoreError> {
        let mut bytes = super::encode(self)?;
        let sum = checksum(&bytes);
        bytes.extend_from_slice(&sum);
        Ok(bytes)
    }

    /// Reads a stored value; says why not when its checksum does not match or it does not
    /// decode.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let Some(split) = bytes.len().checked_sub(32) else {
            return Err(format!(
                "it is {} bytes, shorter than its checksum",
                bytes.len()
            ));
        };
        let (record, sum) = bytes.split_at(split);
        if checksum(record)[..] != *sum {
            return Err("its checksum does not match".into());
        }
        postcard::from_bytes(record).map_err(|e| format!("it does not decode: {e}"))
    }

    /// Whether this position can describe an earlier state of a store whose counters are
    /// `(log size, feeds, frozen)` (each only grows; every feed has an entry, every frozen feed
    /// is a feed); says why not.
    pub fn consistent_with(&self, counters: (u64, u64, u64)) -> Result<(), String> {
        let (log_size, feeds, frozen) = counters;
        if self.log_size > log_size {
            return Err(format!(
                "it covers {} entries, but the arrival log holds {log_size}",
                self.log_size
            ));
        }
        if self.feeds > feeds || self.frozen > frozen {
            return Err(format!(
                "its counters ({} feeds, {} frozen) are above the store's ({feeds}, {frozen})",
                self.feeds, self.frozen
            ));
        }
        if self.feeds > self.log_size || self.frozen > self.feeds {
            return Err(format!(
                "its counters are impossible ({} entries, {} feeds, {} frozen)",
                self.log_size, self.feeds, self.frozen
            ));
        }
        Ok(())
    }
}

fn checksum(record: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(CHECKSUM_DOMAIN);
    h.update(record);
    *h.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position() -> StartupPosition {
        StartupPosition {
            log_size: 70_000,
            feeds: 30_000,
            frozen: 2,
            last: [7; 32],
            root: [9; 32],
        }
    }

    #[test]
    fn round_trips_and_any_flipped_byte_is_told() {
        let bytes = position().encode().expect("encode");
        assert_eq!(StartupPosition::decode(&bytes), Ok(position()));
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x01;
            assert!(
                StartupPosition::decode(&damaged).is_err(),
                "byte {i} flipped"
            );
        }
        assert!(StartupPosition::decode(&bytes[..20]).is_err());
        assert!(StartupPosition::decode(&[]).is_err());
    }

    #[test]
    fn counters_it_cannot_describe_are_told() {
        let p = position();
        assert_eq!(p.consistent_with((70_000, 30_000, 2)), Ok(()));
        assert_eq!(p.consistent_with((80_000, 31_000, 3)), Ok(()));
        assert!(
            p.consistent_with((69_999, 30_000, 2)).is_err(),
            "beyond the log"
        );
        assert!(p.consistent_with((70_000, 29_999, 2)).is_err());
        assert!(p.consistent_with((70_000, 30_000, 1)).is_err());
        let impossible = StartupPosition {
            feeds: 70_001,
            ..position()
        };
        assert!(impossible.consistent_with((80_000, 80_000, 2)).is_err());
    }
}
