//! Layout 4 → 5: grant records gain their scope (none for every grant of layout 4), re-encoded
//! in batches; the last batch sets the layout version.

use super::super::tables::{self, GrantRecordV4, GrantRecordV5, meta, prefix};
use super::{BATCH, CURSOR_V4, MIGRATING_4_TO_5};
use crate::store::{KvStore, StoreError};

/// Layout 4 to 5 (resuming one killed part-way); the last batch sets version 5.
pub(super) fn from_4(store: &dyn KvStore) -> Result<(), StoreError> {
    tracing::info!(
        "migrating the store from layout 4 to 5: grant records gain their scope (none for every grant stored so far)"
    );
    store.apply(vec![(
        meta::SCHEMA.to_vec(),
        Some(MIGRATING_4_TO_5.to_be_bytes().to_vec()),
    )])?;
    store.flush()?;
    grant_records_from_4(store)
}

/// Rewrites every layout-4 grant record with no scope, in batches, each with the cursor (the
/// last record done), so a second run never reads a record it already rewrote; the batch that
/// reaches the end of the table sets layout version 5 and drops the cursor.
fn grant_records_from_4(store: &dyn KvStore) -> Result<(), StoreError> {
    let end = vec![prefix::GRANT + 1];
    let mut from = match store.get(CURSOR_V4)? {
        // Resume just after the last record migrated.
        Some(mut last) => {
            last.push(0);
            last
        }
        None => vec![prefix::GRANT],
    };
    loop {
        let mut writes = Vec::new();
        let mut last = None;
        let mut rows = 0;
        for pair in store.scan_range(&from, &end).take(BATCH) {
            let (key, value) = pair?;
            let old: GrantRecordV4 = tables::decode(&value, "grant (layout 4)")?;
            writes.push((
                key.clone(),
                Some(tables::encode(&GrantRecordV5::from(old))?),
            ));
            last = Some(key);
            rows += 1;
        }
        // A short batch reached the end of the table.
        let done = rows < BATCH;
        match &last {
            Some(last) if !done => writes.push((CURSOR_V4.to_vec(), Some(last.clone()))),
            _ => {
                writes.push((CURSOR_V4.to_vec(), None));
                writes.push((meta::SCHEMA.to_vec(), Some(5u32.to_be_bytes().to_vec())));
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
