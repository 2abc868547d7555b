//! Layout 7 → 8: the hash of each whole block of the arrival log (`k` rows), which start-up
//! rebuilds the Merkle tree from, is computed from the log, [`BATCH`] blocks per batch, each batch
//! written with the cursor (the next block), so a migration killed part-way resumes; the last
//! batch sets the layout version. The start-up position is not written here: the first start
//! finds none, checks the whole store, and the writer saves one.

use consent_proto::ids::EntryId;

use super::super::tables::{self, meta};
use super::super::tree::{BLOCK, Frontier};
use super::{BATCH, CURSOR_V7, LAYOUT_8, MIGRATING_7_TO_8};
use crate::store::{KvStore, StoreError, Write};

/// Layout 7 to 8 (resuming one killed part-way); the last batch sets version 8 (8 → 9 follows).
pub(super) fn from_7(store: &dyn KvStore) -> Result<(), StoreError> {
    tracing::info!(
        "migrating the store from layout 7 to 8: the hashes of the arrival log's blocks of {BLOCK} entries are computed from the log (start-up rebuilds the Merkle tree from them)"
    );
    store.apply(vec![(
        meta::SCHEMA.to_vec(),
        Some(MIGRATING_7_TO_8.to_be_bytes().to_vec()),
    )])?;
    store.flush()?;
    block_rows(store)
}

/// Writes the block rows from the cursor's block on, in batches of [`BATCH`] blocks, each with
/// the cursor; the batch that reaches the end of the log sets layout 8 and drops the cursor. An
/// unfinished last block gets no row (the writer writes it with the commit that completes it).
fn block_rows(store: &dyn KvStore) -> Result<(), StoreError> {
    let mut block = match store.get(CURSOR_V7)? {
        Some(cursor) => tables::be_u64(&cursor)?,
        None => 0,
    };
    let batch = BATCH as u64;
    loop {
        let from = block.saturating_mul(BLOCK);
        let to = block.saturating_add(batch).saturating_mul(BLOCK);
        // The batch starts at a block's edge: a frontier over its leaves holds its blocks.
        let mut leaves = Frontier::default();
        for pair in store.scan_range(&tables::log_key(from), &tables::log_key(to)) {
            let (_, id) = pair?;
            leaves.push(&EntryId(tables::bytes32(&id)?));
        }
        let mut writes: Vec<Write> = (0..leaves.blocks())
            .filter_map(|b| {
                let hash = leaves.block_hash(b)?;
                Some((tables::block_key(block + b), Some(hash.to_vec())))
            })
            .collect();
        // A short batch reached the end of the log.
        let done = leaves.blocks() < batch;
        block += leaves.blocks();
        if done {
            writes.push((CURSOR_V7.to_vec(), None));
            writes.push((meta::SCHEMA.to_vec(), Some(LAYOUT_8.to_be_bytes().to_vec())));
        } else {
            writes.push((CURSOR_V7.to_vec(), Some(block.to_be_bytes().to_vec())));
        }
        store.apply(writes)?;
        store.flush()?;
        if done {
            return Ok(());
        }
    }
}
