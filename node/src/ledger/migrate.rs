//! Migrations of older store layouts to [`SCHEMA_VERSION`], run at open before anything reads
//! the store. Each works in bounded batches and records how far it got in the same batch, so a
//! migration killed part-way resumes where it stopped.
//!
//! - **3 → 4**: feed records stop carrying their whole key history (which made every append to a
//!   feed that rotated often re-encode it); the history moves to `R` rows, one per rotation. Then
//!   the answer figures (tables `N`, `U`, `V`) are built from the stored requests, in the one
//!   batch that also sets the layout version.
//! - **4 → 5**: grant records gain their scope ([`tables::ScopeRecord`]); no grant of layout 4
//!   has one, so each `G` row is re-encoded with none (postcard: its old bytes and a `0`). The
//!   last batch sets the layout version.
//! - **5 → 6**: feed records gain their latest and base Policy entries (for a collector, its
//!   last Policy entry, found by walking its seq index; no entry stored before layout 6 can
//!   hold a consultation, so the base is the same entry), each Policy entry its row in its
//!   collector's watch index (`W`, as this layout's writer stages it), and grant records their
//!   draft (none). The consultation tables start empty. The last batch sets the layout version.
//! - **6 → 7**: the delegation tables (`j`, `d`, `y`, `b`, `h`, `i`, `t`, `l`) start empty: no
//!   entry stored before layout 7 is a delegation or names one (an older release refuses them
//!   as non-canonical), and no other row changes. One write sets the layout version.
//!
//! A store of layout 3, 4 or 5 goes through each step after it, in order.

use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::ids::FeedId;

use super::tables::{
    self, FeedRecordV3, FeedRecordV5, GrantRecord, GrantRecordV4, GrantRecordV5, RotationRecord,
    SCHEMA_VERSION, StoredKeys, meta, prefix,
};
use crate::store::{KvStore, StoreError};

/// Feed (or grant) records rewritten per batch.
const BATCH: usize = 4_096;
/// Meta key holding the last feed record key migrated from layout 3 (while a migration runs).
const CURSOR_V3: &[u8] = b"Mmigrate3";
/// Meta key holding the last grant record key migrated from layout 4 (while a migration runs).
const CURSOR_V4: &[u8] = b"Mmigrate4";
/// Meta key holding the last feed or grant record key migrated from layout 5 (while a
/// migration runs): `F` keys first, then `G` keys.
const CURSOR_V5: &[u8] = b"Mmigrate5";

/// The layout version a store carries while it migrates from 3 to 4: no release reads it, so a
/// release older than the migration refuses the half-migrated store instead of misreading it,
/// and this one resumes.
pub(super) const MIGRATING_3_TO_4: u32 = 0x8000_0004;
/// The layout version a store carries while it migrates from 4 to 5 (as [`MIGRATING_3_TO_4`]).
pub(super) const MIGRATING_4_TO_5: u32 = 0x8000_0005;
/// The layout version a store carries while it migrates from 5 to 6 (as [`MIGRATING_3_TO_4`]).
pub(super) const MIGRATING_5_TO_6: u32 = 0x8000_0006;

/// The layout the 5 → 6 step ends at (6 → 7 follows it).
const LAYOUT_6: u32 = 6;

/// Whether a store of layout `version` (or half-way through a migration) is migrated at open.
pub(super) fn migrates_from(version: u32) -> bool {
    matches!(
        version,
        3 | 4 | 5 | 6 | MIGRATING_3_TO_4 | MIGRATING_4_TO_5 | MIGRATING_5_TO_6
    )
}

/// The layout a store of `version` is being migrated from (for messages).
pub(super) fn from_layout(version: u32) -> u32 {
    match version {
        MIGRATING_3_TO_4 => 3,
        MIGRATING_4_TO_5 => 4,
        MIGRATING_5_TO_6 => 5,
        v => v,
    }
}

/// Migrates a store of layout `version` to [`SCHEMA_VERSION`], one layout after the other;
/// `Ok(false)` if there is no migration from that version.
pub(super) fn migrate(store: &dyn KvStore, version: u32) -> Result<bool, StoreError> {
    if !migrates_from(version) {
        return Ok(false);
    }
    if version == 3 || version == MIGRATING_3_TO_4 {
        from_3(store)?;
    }
    if matches!(version, 3 | 4 | MIGRATING_3_TO_4 | MIGRATING_4_TO_5) {
        from_4(store)?;
    }
    if version != LAYOUT_6 {
        from_5(store)?;
    }
    from_6(store)?;
    tracing::info!("store migrated to layout {SCHEMA_VERSION}");
    Ok(true)
}

/// Layout 6 to 7: the new tables start empty, so the one write sets the version.
fn from_6(store: &dyn KvStore) -> Result<(), StoreError> {
    tracing::info!(
        "migrating the store from layout 6 to 7: the delegation tables start empty (no stored entry is a delegation)"
    );
    store.apply(vec![(
        meta::SCHEMA.to_vec(),
        Some(SCHEMA_VERSION.to_be_bytes().to_vec()),
    )])?;
    store.flush()
}

/// Layout 3 to 4; the last batch sets version 4.
fn from_3(store: &dyn KvStore) -> Result<(), StoreError> {
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
    super::writer::migrate_from_3(store)?;
    store.apply(vec![(CURSOR_V3.to_vec(), None)])?;
    store.flush()
}

/// Layout 4 to 5 (resuming one killed part-way); the last batch sets version 5.
fn from_4(store: &dyn KvStore) -> Result<(), StoreError> {
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

/// Layout 5 to 6 (resuming one killed part-way); the last batch sets version 6.
fn from_5(store: &dyn KvStore) -> Result<(), StoreError> {
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

/// Turns this layout's feed records back into layout 3 (every key inline, no `R` rows): how the
/// build before layout 4 wrote them. For tests of the migration.
#[cfg(test)]
pub(crate) fn feeds_back_to_3(store: &dyn KvStore) -> Result<(), StoreError> {
    use consent_proto::validate::LedgerView;

    let mut writes = Vec::new();
    for pair in store.scan_prefix(&[prefix::FEED]) {
        let (key, value) = pair?;
        let feed = FeedId(tables::bytes32(&key[1..])?);
        let record: tables::FeedRecord = tables::decode(&value, "feed")?;
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

/// Turns this layout's grant records back into layout 4 (no scope): how the build before layout
/// 5 wrote them. For tests of the migration; every grant must be unscoped.
#[cfg(test)]
pub(crate) fn grants_back_to_4(store: &dyn KvStore) -> Result<(), StoreError> {
    let mut writes = Vec::new();
    for pair in store.scan_prefix(&[prefix::GRANT]) {
        let (key, value) = pair?;
        let record: GrantRecord = tables::decode(&value, "grant")?;
        assert!(
            record.scope.is_none() && record.draft.is_none(),
            "a layout-4 store holds no scoped grant"
        );
        let old = GrantRecordV4 {
            id: record.id,
            purposes: record.purposes,
            categories: record.categories,
            valid_from: record.valid_from,
            valid_until: record.valid_until,
            revoked: record.revoked,
        };
        writes.push((key, Some(tables::encode(&old)?)));
    }
    store.apply(writes)
}

/// A grant record as layout 5 wrote it (no draft). For tests of the migration.
#[cfg(test)]
fn grant_v5(r: GrantRecord) -> GrantRecordV5 {
    assert!(
        r.draft.is_none(),
        "a layout-5 store holds no grant on a draft"
    );
    GrantRecordV5 {
        id: r.id,
        purposes: r.purposes,
        categories: r.categories,
        valid_from: r.valid_from,
        valid_until: r.valid_until,
        revoked: r.revoked,
        scope: r.scope,
    }
}

/// Turns this layout's feed records back into layout 5 (no policy entries). For tests of the
/// migration.
#[cfg(test)]
pub(crate) fn feeds_back_to_5(store: &dyn KvStore) -> Result<(), StoreError> {
    let mut writes = Vec::new();
    for pair in store.scan_prefix(&[prefix::FEED]) {
        let (key, value) = pair?;
        let r: tables::FeedRecord = tables::decode(&value, "feed")?;
        let old = FeedRecordV5 {
            role: r.role,
            head_seq: r.head_seq,
            head_id: r.head_id,
            head_time_ms: r.head_time_ms,
            key: r.key,
            key_since: r.key_since,
            next_key_digest: r.next_key_digest,
            frozen: r.frozen,
            policy_version: r.policy_version,
        };
        writes.push((key, Some(tables::encode(&old)?)));
    }
    store.apply(writes)
}

/// A stored row: key and value.
#[cfg(test)]
type Row = (Vec<u8>, Vec<u8>);

/// This layout's grant rows as layout 5 wrote them (no draft). For tests of the migration.
#[cfg(test)]
pub(crate) fn grant_rows_as_5(rows: &[Row]) -> Result<Vec<Row>, StoreError> {
    rows.iter()
        .map(|(key, value)| {
            let r: GrantRecord = tables::decode(value, "grant")?;
            Ok((key.clone(), tables::encode(&grant_v5(r))?))
        })
        .collect()
}

/// Turns this layout's feed and grant records back into layout 5 (no policy entries, no draft)
/// and drops the consultation tables: how the build before layout 6 wrote them. For tests of
/// the migration; no grant may name a draft.
#[cfg(test)]
pub(crate) fn back_to_5(store: &dyn KvStore) -> Result<(), StoreError> {
    feeds_back_to_5(store)?;
    let grants: Vec<_> = store
        .scan_prefix(&[prefix::GRANT])
        .collect::<Result<_, _>>()?;
    let mut writes: Vec<_> = grant_rows_as_5(&grants)?
        .into_iter()
        .map(|(k, v)| (k, Some(v)))
        .collect();
    for table in [
        prefix::CONSULTATION,
        prefix::STANCE,
        prefix::STANCE_COUNTS,
        prefix::RESPONSE,
        prefix::OUTCOME,
        prefix::CONSULTATION_BY_COLLECTOR,
        prefix::CONSULTATION_BY_CLOSING,
        prefix::UNDECIDED_BY_CLOSING,
    ] {
        for pair in store.scan_prefix(&[table]) {
            writes.push((pair?.0, None));
        }
    }
    // Layout 5 watched no policy versions.
    for pair in store.scan_prefix(&[prefix::WATCH]) {
        let (key, id) = pair?;
        let id = consent_proto::ids::EntryId(tables::bytes32(&id)?);
        let value = store
            .get(&tables::entry_key(&id))?
            .ok_or_else(|| StoreError::Corrupt(format!("watched entry {id} missing")))?;
        let (_, bytes) = tables::split_entry_value(&value)?;
        let entry =
            Entry::decode(bytes).map_err(|e| StoreError::Corrupt(format!("stored entry: {e}")))?;
        if matches!(entry.body, Body::Policy(_)) {
            writes.push((key, None));
        }
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
    use crate::ledger::tables::{FeedRecord, meta};
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

    fn layout(store: &dyn KvStore) -> Vec<u8> {
        store.get(meta::SCHEMA).expect("get").expect("a layout")
    }

    fn set_layout(store: &dyn KvStore, version: u32) {
        store
            .apply(vec![(
                meta::SCHEMA.to_vec(),
                Some(version.to_be_bytes().to_vec()),
            )])
            .expect("write");
    }

    fn grant_rows(store: &dyn KvStore) -> Vec<(Vec<u8>, Vec<u8>)> {
        store
            .scan_prefix(&[prefix::GRANT])
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    /// Grants written by this build (some revoked), turned back into layout 4 (no scope, as the
    /// build before wrote them), migrate to the same rows and pass the full check; a migration
    /// killed half-way resumes; a layout-3 store goes through 4 to 5; layout 2 is refused.
    #[tokio::test]
    async fn a_layout_4_store_migrates_to_the_same_state() {
        use consent_proto::vocab::Purpose;

        let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
        let scene = fixtures::scene(T0);
        let registrars: HashSet<FeedId> = [scene.registrar.feed()].into_iter().collect();
        let (ledger, writer) = Ledger::open(
            Arc::clone(&store),
            registrars.clone(),
            "test",
            LedgerConfig::default(),
        )
        .expect("open");
        let mut entries = scene.entries.clone();
        for i in 0..6 {
            let (mut citizen, inception, grant) =
                fixtures::citizen_granting(&scene, &format!("c{i}"), Purpose::ServiceProvision);
            let id = grant.id;
            entries.extend([inception, grant]);
            if i % 2 == 0 {
                entries.push(fixtures::append(
                    &mut citizen,
                    T0 + 2 * fixtures::DAY,
                    fixtures::revoke(id, false),
                ));
            }
        }
        ledger.submit(entries).await.expect("submit");
        ledger.shutdown().await;
        drop(ledger);
        writer.join();

        let current = grant_rows(&*store);
        assert_eq!(current.len(), 6);
        // The layout a migration ends at (this build's).
        let v5 = SCHEMA_VERSION.to_be_bytes().to_vec();

        // Layout 4: every row migrates to the same bytes.
        feeds_back_to_5(&*store).expect("feeds back to layout 5");
        grants_back_to_4(&*store).expect("back to layout 4");
        assert_ne!(
            grant_rows(&*store),
            current,
            "layout 4 encodes grants without a scope"
        );
        set_layout(&*store, 4);
        fsck::prepare(&*store, "test").expect("layout 4 migrates");
        assert_eq!(grant_rows(&*store), current);
        assert_eq!(layout(&*store), v5);
        assert!(store.get(CURSOR_V4).expect("get").is_none());
        fsck::full(&*store, &registrars).expect("the migrated store passes the full check");

        // Killed after the first half of the rows: the store says it is migrating (the release
        // before refuses it), the cursor names the last row done, and the next start finishes.
        feeds_back_to_5(&*store).expect("feeds back to layout 5");
        let current_5 = grant_rows_as_5(&current).expect("as layout 5");
        grants_back_to_4(&*store).expect("back to layout 4");
        let half = &current_5[..3];
        let mut writes: Vec<_> = half
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        writes.push((CURSOR_V4.to_vec(), Some(half[2].0.clone())));
        store.apply(writes).expect("first half");
        set_layout(&*store, MIGRATING_4_TO_5);
        fsck::prepare(&*store, "test").expect("resumes");
        assert_eq!(grant_rows(&*store), current);
        assert_eq!(layout(&*store), v5);
        assert!(store.get(CURSOR_V4).expect("get").is_none());
        fsck::full(&*store, &registrars).expect("the resumed migration passes the full check");

        // Layout 3 (feed records with their keys inline, grants without a scope): 3 to 4 to 5
        // to 6.
        grants_back_to_4(&*store).expect("back to layout 4");
        feeds_back_to_3(&*store).expect("back to layout 3");
        set_layout(&*store, 3);
        fsck::prepare(&*store, "test").expect("layout 3 migrates through 4");
        assert_eq!(grant_rows(&*store), current);
        assert_eq!(layout(&*store), v5);
        fsck::full(&*store, &registrars).expect("3 to 5 passes the full check");

        // Another layout is refused, saying what to do.
        set_layout(&*store, 2);
        let err = fsck::prepare(&*store, "test").expect_err("layout 2 is refused");
        let err = err.to_string();
        assert!(err.contains("layout version 2"), "{err}");
        assert!(err.contains("versions 3, 4, 5 and 6"), "{err}");
        assert!(err.contains("move the data directory aside"), "{err}");
    }

    fn feed_rows(store: &dyn KvStore) -> Vec<(Vec<u8>, Vec<u8>)> {
        store
            .scan_prefix(&[prefix::FEED])
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    fn watch_rows(store: &dyn KvStore) -> Vec<(Vec<u8>, Vec<u8>)> {
        store
            .scan_prefix(&[prefix::WATCH])
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    /// A store written by this build (a collector whose last entry, after its second policy,
    /// is a rotation; citizens with grants), turned back into layout 5, migrates to the same
    /// feed, grant and watch rows: the collector's head and base are its last Policy entry,
    /// citizens and the registrar have none, each policy version is in the collector's watch
    /// index. Killed half-way, it resumes; layout 2 is refused.
    #[tokio::test]
    async fn a_layout_5_store_migrates_to_6_with_policy_heads() {
        use consent_proto::vocab::Purpose;

        let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
        let mut scene = fixtures::scene(T0);
        let registrars: HashSet<FeedId> = [scene.registrar.feed()].into_iter().collect();
        let (ledger, writer) = Ledger::open(
            Arc::clone(&store),
            registrars.clone(),
            "test",
            LedgerConfig::default(),
        )
        .expect("open");
        let mut entries = scene.entries.clone();
        let v2 = fixtures::append(&mut scene.collector, T0 + 1, fixtures::policy(2));
        let v2_id = v2.id;
        entries.push(v2);
        entries.push(
            scene
                .collector
                .rotate(T0 + 2, fixtures::key("collector/next/2"))
                .expect("rotation"),
        );
        for i in 0..5 {
            let (_, inception, grant) =
                fixtures::citizen_granting(&scene, &format!("c{i}"), Purpose::ServiceProvision);
            entries.extend([inception, grant]);
        }
        let outcomes = ledger.submit(entries).await.expect("submit");
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, crate::ledger::Outcome::Accepted { .. })),
            "{outcomes:?}"
        );
        ledger.shutdown().await;
        drop(ledger);
        writer.join();

        let feeds = feed_rows(&*store);
        let grants = grant_rows(&*store);
        let watch = watch_rows(&*store);
        let collector: FeedRecord = tables::decode(
            &store
                .get(&tables::feed_key(&scene.collector.feed()))
                .expect("get")
                .expect("record"),
            "feed",
        )
        .expect("decode");
        assert_eq!(collector.policy_head, Some(v2_id.0));
        assert_eq!(collector.policy_base, Some(v2_id.0));

        back_to_5(&*store).expect("back to layout 5");
        assert_ne!(feed_rows(&*store), feeds, "layout 5 has no policy entries");
        assert_ne!(
            watch_rows(&*store),
            watch,
            "layout 5 watched no policy versions"
        );
        set_layout(&*store, 5);
        fsck::prepare(&*store, "test").expect("layout 5 migrates");
        assert_eq!(feed_rows(&*store), feeds);
        assert_eq!(grant_rows(&*store), grants);
        assert_eq!(watch_rows(&*store), watch);
        assert_eq!(layout(&*store), SCHEMA_VERSION.to_be_bytes().to_vec());
        assert!(store.get(CURSOR_V5).expect("get").is_none());
        fsck::full(&*store, &registrars).expect("the migrated store passes the full check");

        // Killed after the feed records and two grants: the store says it is migrating (the
        // release before refuses it), and the next start finishes from the cursor.
        back_to_5(&*store).expect("back to layout 5");
        let mut writes: Vec<_> = feeds
            .iter()
            .chain(&watch)
            .chain(&grants[..2])
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        writes.push((CURSOR_V5.to_vec(), Some(grants[1].0.clone())));
        store.apply(writes).expect("first part");
        set_layout(&*store, MIGRATING_5_TO_6);
        fsck::prepare(&*store, "test").expect("resumes");
        assert_eq!(feed_rows(&*store), feeds);
        assert_eq!(grant_rows(&*store), grants);
        assert_eq!(watch_rows(&*store), watch);
        assert_eq!(layout(&*store), SCHEMA_VERSION.to_be_bytes().to_vec());
        fsck::full(&*store, &registrars).expect("the resumed migration passes the full check");

        set_layout(&*store, 2);
        let err = fsck::prepare(&*store, "test")
            .expect_err("layout 2 is refused")
            .to_string();
        assert!(err.contains("versions 3, 4, 5 and 6"), "{err}");
    }

    /// Every row but the layout version, in key order.
    fn rows(store: &dyn KvStore) -> Vec<(Vec<u8>, Vec<u8>)> {
        store
            .scan_prefix(&[])
            .filter(|pair| {
                pair.as_ref()
                    .map_or(true, |(k, _)| k.as_slice() != meta::SCHEMA)
            })
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    /// A store of layout 6 (consultations, no delegation: no such entry could be stored) is
    /// stamped layout 7 with every row unchanged, passes the full check, and takes delegations
    /// afterwards; a layout-5 store goes through 6 to 7.
    #[tokio::test]
    async fn a_layout_6_store_migrates() {
        use consent_proto::vocab::Purpose;

        let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
        let scene = fixtures::scene(T0);
        let registrars: HashSet<FeedId> = [scene.registrar.feed()].into_iter().collect();
        let open = || {
            Ledger::open(
                Arc::clone(&store),
                registrars.clone(),
                "test",
                LedgerConfig::default(),
            )
            .expect("open")
        };
        let (ledger, writer) = open();
        let mut entries = scene.entries.clone();
        for i in 0..3 {
            let (_, inception, grant) =
                fixtures::citizen_granting(&scene, &format!("c{i}"), Purpose::ServiceProvision);
            entries.extend([inception, grant]);
        }
        ledger.submit(entries).await.expect("submit");
        ledger.shutdown().await;
        drop(ledger);
        writer.join();
        let before = rows(&*store);

        set_layout(&*store, 6);
        fsck::prepare(&*store, "test").expect("layout 6 migrates");
        assert_eq!(layout(&*store), SCHEMA_VERSION.to_be_bytes().to_vec());
        assert_eq!(SCHEMA_VERSION, 7);
        assert_eq!(rows(&*store), before, "6 to 7 changes no row");
        fsck::full(&*store, &registrars).expect("the migrated store passes the full check");

        // Layout 5 (no policy entries in feed records, no consultation tables): 5 to 6 to 7.
        back_to_5(&*store).expect("back to layout 5");
        set_layout(&*store, 5);
        fsck::prepare(&*store, "test").expect("layout 5 migrates through 6");
        assert_eq!(layout(&*store), SCHEMA_VERSION.to_be_bytes().to_vec());
        assert_eq!(rows(&*store), before);

        // The migrated store takes a delegation and a grant under it.
        let (ledger, writer) = open();
        let w = crate::ledger::delegations::tests::world();
        let outcomes = ledger
            .submit(w.entries[w.scene.entries.len()..].to_vec())
            .await
            .expect("submit");
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, crate::ledger::Outcome::Accepted { .. })),
            "{outcomes:?}"
        );
        ledger.shutdown().await;
        drop(ledger);
        writer.join();
        fsck::full(&*store, &registrars).expect("with delegations, the full check passes");
    }
}
