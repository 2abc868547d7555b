//! Migrations of older store layouts to [`SCHEMA_VERSION`], run at open before anything reads
//! the store. Each works in bounded batches and records how far it got in the same batch, so a
//! migration killed part-way resumes where it stopped.
//!
//! - **3 → 4**: feed records stop carrying their whole key history (which made every append to a
//!   feed that rotated often re-encode it); the history moves to `R` rows, one per rotation. Then
//!   the answer figures (tables `N`, `U`, `V`) are built from the stored requests, in the one
//!   batch that also sets the layout version.

use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::ids::FeedId;

use super::tables::{
    self, FeedRecord, FeedRecordV3, RotationRecord, SCHEMA_VERSION, StoredKeys, prefix,
};
use crate::store::{KvStore, StoreError};

/// Feed records rewritten per batch.
const BATCH: usize = 4_096;
/// Meta key holding the last feed record key migrated from layout 3 (while a migration runs).
const CURSOR_V3: &[u8] = b"Mmigrate3";

/// The layout version a store carries while it migrates from 3 to 4: no release reads it, so a
/// release older than the migration refuses the half-migrated store instead of misreading it,
/// and this one resumes.
pub(super) const MIGRATING_3_TO_4: u32 = 0x8000_0004;

/// Migrates a store of layout `version` to [`SCHEMA_VERSION`]; `Ok(false)` if there is no
/// migration from that version.
pub(super) fn migrate(store: &dyn KvStore, version: u32) -> Result<bool, StoreError> {
    if version != 3 && version != MIGRATING_3_TO_4 {
        return Ok(false);
    }
    tracing::info!(
        "migrating the store from layout 3 to {SCHEMA_VERSION}: feed key histories move to their own table, answer figures are built"
    );
    store.apply(vec![(
        super::tables::meta::SCHEMA.to_vec(),
        Some(MIGRATING_3_TO_4.to_be_bytes().to_vec()),
    )])?;
    store.flush()?;
    feed_records_from_3(store)?;
    // Sets the layout version in the same batch.
    super::writer::migrate_from_3(store)?;
    store.apply(vec![(CURSOR_V3.to_vec(), None)])?;
    store.flush()?;
    tracing::info!("store migrated to layout {SCHEMA_VERSION}");
    Ok(true)
}

/// Rewrites every layout-3 feed record, in batches; the cursor (the last record done, or the end
/// of the table once all are) is written with each batch, so a second run never reads a record
/// it already rewrote.
fn feed_records_from_3(store: &dyn KvStore) -> Result<(), StoreError> {
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
) -> Result<(FeedRecord, Vec<(u64, RotationRecord)>), StoreError> {
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
    let record = FeedRecord {
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

/// Turns this layout's feed records back into layout 3 (every key inline, no `R` rows): how the
/// build before layout 4 wrote them. For tests of the migration.
#[cfg(test)]
pub(crate) fn feeds_back_to_3(store: &dyn KvStore) -> Result<(), StoreError> {
    use consent_proto::validate::LedgerView;

    let mut writes = Vec::new();
    for pair in store.scan_prefix(&[prefix::FEED]) {
        let (key, value) = pair?;
        let feed = FeedId(tables::bytes32(&key[1..])?);
        let record: FeedRecord = tables::decode(&value, "feed")?;
        let mut keys: Vec<(u64, [u8; 32])> = Vec::new();
        for seq in 0..=record.head_seq {
            let Some(k) = super::staged::Staged::new(store).keys_after(&feed, seq)? else {
                continue;
            };
            if keys.last().is_none_or(|(since, _)| *since != k.since) {
                keys.push((k.since, k.signing_key));
            }
        }
        let old = FeedRecordV3 {
            role: record.role,
            head_seq: record.head_seq,
            head_id: record.head_id,
            head_time_ms: record.head_time_ms,
            keys,
            next_key_digest: record.next_key_digest,
            frozen: record.frozen,
            policy_version: record.policy_version,
        };
        writes.push((key, Some(tables::encode(&old)?)));
    }
    for pair in store.scan_prefix(&[prefix::ROTATION]) {
        writes.push((pair?.0, None));
    }
    store.apply(writes)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use consent_proto::fixtures::{self, T0};
    use consent_proto::vocab::Role;

    use super::*;
    use crate::ledger::tables::meta;
    use crate::ledger::{Ledger, LedgerConfig, fsck};
    use crate::store::memory::MemoryStore;

    /// A feed that rotated twice, written by this build, turned back into layout 3 (as the build
    /// before it wrote it), migrates to the same records and rows, and passes the full check.
    #[tokio::test]
    async fn a_layout_3_store_migrates_to_the_same_state() {
        let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
        let registrars: HashSet<FeedId> = HashSet::new();
        let (ledger, writer) = Ledger::open(
            Arc::clone(&store),
            registrars.clone(),
            "test",
            LedgerConfig::default(),
        )
        .expect("open");
        let (mut author, inception) = fixtures::author(Role::Collector, "rotating", T0);
        let mut entries = vec![inception];
        for i in 0..5u64 {
            if i % 2 == 1 {
                let next = fixtures::key(&format!("rotating/next/{i}"));
                entries.push(author.rotate(T0 + i + 1, next).expect("rotation"));
            } else {
                entries.push(fixtures::append(
                    &mut author,
                    T0 + i + 1,
                    fixtures::policy(i as u32 + 1),
                ));
            }
        }
        let feed = author.feed();
        ledger.submit(entries).await.expect("submit");
        ledger.shutdown().await;
        drop(ledger);
        writer.join();

        let current: FeedRecord = tables::decode(
            &store
                .get(&tables::feed_key(&feed))
                .expect("get")
                .expect("record"),
            "feed",
        )
        .expect("decode");
        let rows: Vec<_> = store
            .scan_prefix(&[prefix::ROTATION])
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(rows.len(), 2, "two rotations, two rows");
        feeds_back_to_3(&*store).expect("back to layout 3");
        store
            .apply(vec![(
                meta::SCHEMA.to_vec(),
                Some(3u32.to_be_bytes().to_vec()),
            )])
            .expect("downgrade");

        // A version without a migration is refused, naming what to do.
        let migrated = fsck::prepare(&*store, "test");
        assert!(migrated.is_ok(), "layout 3 migrates: {migrated:?}");
        let migrated: FeedRecord = tables::decode(
            &store
                .get(&tables::feed_key(&feed))
                .expect("get")
                .expect("record"),
            "feed",
        )
        .expect("decode");
        assert_eq!(migrated, current);
        let again: Vec<_> = store
            .scan_prefix(&[prefix::ROTATION])
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(again, rows);
        assert!(store.get(CURSOR_V3).expect("get").is_none());
        assert_eq!(
            store.get(meta::SCHEMA).expect("get"),
            Some(SCHEMA_VERSION.to_be_bytes().to_vec())
        );
        fsck::full(&*store, &registrars).expect("the migrated store passes the full check");

        // Killed between the feed records and the answer figures: the store says it is
        // migrating (an older release refuses it), and the next start finishes the job.
        feeds_back_to_3(&*store).expect("back to layout 3");
        store
            .apply(vec![(
                meta::SCHEMA.to_vec(),
                Some(MIGRATING_3_TO_4.to_be_bytes().to_vec()),
            )])
            .expect("mark");
        feed_records_from_3(&*store).expect("first phase");
        fsck::prepare(&*store, "test").expect("resumes");
        assert_eq!(
            store.get(meta::SCHEMA).expect("get"),
            Some(SCHEMA_VERSION.to_be_bytes().to_vec())
        );
        fsck::full(&*store, &registrars).expect("the resumed migration passes the full check");

        store
            .apply(vec![(
                meta::SCHEMA.to_vec(),
                Some(2u32.to_be_bytes().to_vec()),
            )])
            .expect("write");
        let err = fsck::prepare(&*store, "test").expect_err("layout 2 is refused");
        assert!(err.to_string().contains("layout version 2"), "{err}");
    }
}
