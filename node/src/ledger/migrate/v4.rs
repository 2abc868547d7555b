//! Layout 3 → 4: feed records stop carrying their whole key history; the history moves to `R`
//! rows, one per rotation (the digest each older key committed to read from the entry that
//! introduced it). Then the answer figures are built, in the batch that sets the layout version.

use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::ids::FeedId;

use super::super::tables::{
    self, FeedRecordV3, FeedRecordV5, RotationRecord, StoredKeys, meta, prefix,
};
use super::{BATCH, CURSOR_V3, MIGRATING_3_TO_4};
use crate::store::{KvStore, StoreError};

/// Layout 3 to 4; the last batch sets version 4.
pub(super) fn from_3(store: &dyn KvStore) -> Result<(), StoreError> {
    tracing::info!(
        "migrating the store from layout 3 to 4: feed key histories move to their own table, answer figures are built"
    );
    store.apply(vec![(
        meta::SCHEMA.to_vec(),
        Some(MIGRATING_3_TO_4.to_be_bytes().to_vec()),
    )])?;
    store.flush()?;
    feed_records_from_3(store)?;
    // Sets the layout version (4) in the same batch.
    super::super::writer::migrate_from_3(store)?;
    store.apply(vec![(CURSOR_V3.to_vec(), None)])?;
    store.flush()
}

/// Rewrites every layout-3 feed record, in batches; the cursor (the last record done, or the end
/// of the table once all are) is written with each batch, so a second run never reads a record
/// it already rewrote.
pub(super) fn feed_records_from_3(store: &dyn KvStore) -> Result<(), StoreError> {
    let end = vec![prefix::FEED + 1];
    let mut from = match store.get(CURSOR_V3)? {
        Some(last) if last >= end => return Ok(()),
        // Resume just after the last record migrated.
        Some(mut last) => {
            last.push(0);
            last
        }
        None => vec![prefix::FEED],
    };
    loop {
        let mut writes = Vec::new();
        let mut last = None;
        for pair in store.scan_range(&from, &end).take(BATCH) {
            let (key, value) = pair?;
            let feed = FeedId(tables::bytes32(&key[1..])?);
            let old: FeedRecordV3 = tables::decode(&value, "feed (layout 3)")?;
            let (record, rows) = upgrade(store, &feed, old)?;
            writes.push((key.clone(), Some(tables::encode(&record)?)));
            for (seq, row) in rows {
                writes.push((
                    tables::rotation_key(&feed, seq),
                    Some(tables::encode(&row)?),
                ));
            }
            last = Some(key);
        }
        let done = last.is_none();
        let cursor = last.clone().unwrap_or_else(|| end.clone());
        writes.push((CURSOR_V3.to_vec(), Some(cursor)));
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

/// A layout-3 feed record as a layout-4 record and its rotation rows. The digest each older key
/// committed to is read from the inception or rotation entry that introduced it.
fn upgrade(
    store: &dyn KvStore,
    feed: &FeedId,
    old: FeedRecordV3,
) -> Result<(FeedRecordV5, Vec<(u64, RotationRecord)>), StoreError> {
    let corrupt = |why: String| StoreError::Corrupt(format!("feed {feed:?} (layout 3): {why}"));
    let Some(&(key_since, key)) = old.keys.last() else {
        return Err(corrupt("no key".into()));
    };
    let mut rows = Vec::new();
    for pair in old.keys.windows(2) {
        let ((since, key), (rotated_at, _)) = (pair[0], pair[1]);
        let next_key_digest = committed_digest(store, feed, since)?
            .ok_or_else(|| corrupt(format!("no inception or rotation stored at seq {since}")))?;
        rows.push((
            rotated_at,
            RotationRecord {
                previous: StoredKeys {
                    key,
                    next_key_digest,
                    since,
                },
            },
        ));
    }
    let record = FeedRecordV5 {
        role: old.role,
        head_seq: old.head_seq,
        head_id: old.head_id,
        head_time_ms: old.head_time_ms,
        key,
        key_since,
        next_key_digest: old.next_key_digest,
        frozen: old.frozen,
        policy_version: old.policy_version,
    };
    Ok((record, rows))
}

/// The next-key digest committed by the inception or rotation stored at `(feed, seq)`.
fn committed_digest(
    store: &dyn KvStore,
    feed: &FeedId,
    seq: u64,
) -> Result<Option<[u8; 32]>, StoreError> {
    let Some(id) = store.get(&tables::seq_key(feed, seq))? else {
        return Ok(None);
    };
    let id = tables::bytes32(&id)?;
    let Some(value) = store.get(&tables::entry_key(&consent_proto::ids::EntryId(id)))? else {
        return Ok(None);
    };
    let (_, bytes) = tables::split_entry_value(&value)?;
    let entry =
        Entry::decode(bytes).map_err(|e| StoreError::Corrupt(format!("stored entry: {e}")))?;
    Ok(match entry.body {
        Body::Inception(i) => Some(i.next_key_digest.0),
        Body::Rotation(r) => Some(r.next_key_digest.0),
        _ => None,
    })
}
