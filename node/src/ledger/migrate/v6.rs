//! Layout 5 → 6: feed records gain their latest and base Policy entries, each Policy entry its
//! row in its collector's watch index, and grant records their draft (none), in batches; the
//! last batch sets the layout version.

use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::ids::FeedId;

use super::super::tables::{self, FeedRecordV5, GrantRecord, GrantRecordV5, meta, prefix};
use super::{BATCH, CURSOR_V5, LAYOUT_6, MIGRATING_5_TO_6};
use crate::store::{KvStore, StoreError};

/// Layout 5 to 6 (resuming one killed part-way); the last batch sets version 6.
pub(super) fn from_5(store: &dyn KvStore) -> Result<(), StoreError> {
    tracing::info!(
        "migrating the store from layout 5 to 6: feed records gain their policy entries, grant records their draft (none)"
    );
    store.apply(vec![(
        meta::SCHEMA.to_vec(),
        Some(MIGRATING_5_TO_6.to_be_bytes().to_vec()),
    )])?;
    store.flush()?;
    records_from_5(store)
}

/// Rewrites every layout-5 feed record, then every grant record, in batches of [`BATCH`], each
/// with the cursor (the last key done), so a second run never reads a record it already
/// rewrote; the batch that reaches the end of the grants sets layout version 6 and drops the
/// cursor.
fn records_from_5(store: &dyn KvStore) -> Result<(), StoreError> {
    let end = vec![prefix::GRANT + 1];
    let mut from = match store.get(CURSOR_V5)? {
        Some(mut last) => {
            last.push(0);
            last
        }
        None => vec![prefix::FEED],
    };
    loop {
        let mut writes = Vec::new();
        let mut last = None;
        let mut rows = 0;
        for pair in store.scan_range(&from, &end) {
            if rows == BATCH {
                break;
            }
            let (key, value) = pair?;
            match key.first() {
                Some(&prefix::FEED) => {
                    let feed = FeedId(tables::bytes32(&key[1..])?);
                    let old: FeedRecordV5 = tables::decode(&value, "feed (layout 5)")?;
                    let mut policy = None;
                    if old.policy_version > 0 {
                        // Each policy version joins its collector's watch stream (POLICY
                        // events), as this layout's writer stages it.
                        for (index, id) in policies(store, &feed)? {
                            writes.push((tables::watch_key(&feed, index), Some(id.to_vec())));
                            policy = Some(id);
                        }
                    }
                    writes.push((key.clone(), Some(tables::encode(&old.upgrade(policy))?)));
                }
                Some(&prefix::GRANT) => {
                    let old: GrantRecordV5 = tables::decode(&value, "grant (layout 5)")?;
                    writes.push((key.clone(), Some(tables::encode(&GrantRecord::from(old))?)));
                }
                // The tables between F and G (`G` follows `F`): nothing else to rewrite.
                _ => continue,
            }
            last = Some(key);
            rows += 1;
        }
        let done = rows < BATCH;
        match &last {
            Some(last) if !done => writes.push((CURSOR_V5.to_vec(), Some(last.clone()))),
            _ => {
                writes.push((CURSOR_V5.to_vec(), None));
                writes.push((meta::SCHEMA.to_vec(), Some(LAYOUT_6.to_be_bytes().to_vec())));
            }
        }
        store.apply(writes)?;
        store.flush()?;
        match last {
            Some(mut last) if !done => {
                last.push(0);
                from = last;
            }
            _ => return Ok(()),
        }
    }
}

/// `feed`'s Policy entries in seq order, with their arrival indexes: one walk over its seq
/// index (a collector's feed: its policy versions and its answers).
fn policies(store: &dyn KvStore, feed: &FeedId) -> Result<Vec<(u64, [u8; 32])>, StoreError> {
    let mut out = Vec::new();
    for pair in store.scan_prefix(&tables::seq_prefix(feed)) {
        let (_, id) = pair?;
        let id = tables::bytes32(&id)?;
        let Some(value) = store.get(&tables::entry_key(&consent_proto::ids::EntryId(id)))? else {
            return Err(StoreError::Corrupt(format!(
                "the seq index of {feed:?} names a missing entry"
            )));
        };
        let (index, bytes) = tables::split_entry_value(&value)?;
        let entry =
            Entry::decode(bytes).map_err(|e| StoreError::Corrupt(format!("stored entry: {e}")))?;
        if matches!(entry.body, Body::Policy(_)) {
            out.push((index, id));
        }
    }
    Ok(out)
}
