//! Test helpers that turn this layout's rows back into older layouts (as the builds before each
//! migration wrote them), for the migration tests here and elsewhere.

use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::ids::FeedId;

use super::super::tables::{
    self, FeedRecordV3, FeedRecordV5, GrantRecord, GrantRecordV4, GrantRecordV5, prefix,
};
use crate::store::{KvStore, StoreError};

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
            let Some(k) = super::super::staged::Staged::new(store).keys_after(&feed, seq)? else {
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
