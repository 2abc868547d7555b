//! The complete check of what start-up rebuilds the Merkle tree from: every block row (`k`) is
//! the hash of its 64 entries of the arrival log, and the start-up position (`Mstartup`), if there
//! is one, describes the log at its size.

use consent_proto::merkle::Hash;

use super::super::tables::{self, StartupPosition, meta, prefix};
use super::super::tree::{BLOCK, Frontier};
use super::Report;
use crate::store::{KvStore, StoreError};

/// The stored start-up position: `None` when there is none, `Some(Err(why))` when it is damaged
/// (its checksum does not match, or it does not decode).
pub(super) fn load_position(
    store: &dyn KvStore,
) -> Result<Option<Result<StartupPosition, String>>, StoreError> {
    Ok(store
        .get(meta::STARTUP)?
        .map(|value| StartupPosition::decode(&value)))
}

/// The block rows are exactly `0..tree.blocks()`, each the hash of its block of the log as the
/// tree built from the log has it.
pub(super) fn rows(
    store: &dyn KvStore,
    tree: &Frontier,
    report: &mut Report,
) -> Result<(), StoreError> {
    let mut expected = 0u64;
    for pair in store.scan_prefix(&[prefix::BLOCK]) {
        let (key, value) = pair?;
        let Some(number) = key.get(1..).and_then(|n| tables::be_u64(n).ok()) else {
            report.add(format!("malformed block row key {}", hex::encode(&key)));
            continue;
        };
        if number != expected {
            report.add(format!("block rows jump from {expected} to {number}"));
            expected = number;
        }
        expected = expected.saturating_add(1);
        if tree.block_hash(number).map(|h| h[..] == value[..]) != Some(true) {
            report.add(format!(
                "block row {number} is not the hash of arrival log entries {}..{}",
                number.saturating_mul(BLOCK),
                number.saturating_add(1).saturating_mul(BLOCK)
            ));
        }
    }
    if expected != tree.blocks() {
        report.add(format!(
            "{expected} block rows, but the arrival log holds {} whole blocks of {BLOCK}",
            tree.blocks()
        ));
    }
    Ok(())
}

/// The start-up position describes the log at its size: it is sound, its counters fit the
/// store's `(log size, feeds, frozen)`, and `at` (the log's root and last entry id at the
/// position's size, `None` if the log never reached it) is what it says.
pub(super) fn position(
    position: Result<StartupPosition, String>,
    counters: (u64, u64, u64),
    at: Option<(Hash, [u8; 32])>,
    report: &mut Report,
) {
    let next = "the next start checks the whole store and saves a new one";
    let position = match position {
        Ok(position) => position,
        Err(why) => {
            report.add(format!("the start-up position is damaged: {why} ({next})"));
            return;
        }
    };
    let size = position.log_size;
    if let Err(why) = position.consistent_with(counters) {
        report.add(format!(
            "the start-up position at {size} entries does not fit the store: {why} ({next})"
        ));
        return;
    }
    match at {
        Some((root, last)) if root == position.root && last == position.last => {}
        Some(_) => report.add(format!(
            "the start-up position at {size} entries names another log than the one stored \
             (its root or its last entry differ; {next})"
        )),
        None => report.add(format!(
            "the start-up position covers {size} entries, beyond the arrival log ({next})"
        )),
    }
}
