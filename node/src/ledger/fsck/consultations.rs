//! The structure check of the consultation tables: each `C` row names a stored Policy entry with
//! that consultation; each stance, count, response, outcome and index row names a `C` row. The
//! check from a start-up position checks the `C` row of each Policy entry after it
//! ([`consultation_row`]).

use std::collections::HashSet;

use consent_proto::Entry;
use consent_proto::ids::EntryId;

use super::super::tables::{self, ConsultationRecord, prefix};
use super::Report;
use crate::store::{KvStore, StoreError};

/// Consultation rows: each `C` row names a stored Policy entry with a consultation, of its
/// collector at its seq, with its window; each `T`, `H` and `B` row, and each `Y` and `J` row,
/// a `C` row.
pub(super) fn consultations(store: &dyn KvStore, report: &mut Report) -> Result<(), StoreError> {
    let mut drafts: HashSet<[u8; 32]> = HashSet::new();
    for pair in store.scan_prefix(&[prefix::CONSULTATION]) {
        let (key, value) = pair?;
        let draft = EntryId(tables::bytes32(&key[1..])?);
        consultation_row(store, &draft, &value, report)?;
        drafts.insert(draft.0);
    }
    for (table, what) in [
        (prefix::STANCE, "stance"),
        (prefix::STANCE_COUNTS, "stance counts"),
        (prefix::RESPONSE, "response"),
        (prefix::OUTCOME, "outcome"),
    ] {
        for pair in store.scan_prefix(&[table]) {
            let (key, _) = pair?;
            let draft = key.get(1..33).map(tables::bytes32).transpose()?;
            if !draft.is_some_and(|d| drafts.contains(&d)) {
                report.add(format!(
                    "a {what} row (key {}) names no consultation",
                    hex::encode(&key)
                ));
            }
        }
    }
    for pair in store.scan_prefix(&[prefix::CONSULTATION_BY_COLLECTOR]) {
        let (key, draft) = pair?;
        if !drafts.contains(&tables::bytes32(&draft)?) {
            report.add(format!(
                "consultation index row (key {}) names no consultation",
                hex::encode(&key)
            ));
        }
    }
    for table in [
        prefix::CONSULTATION_BY_CLOSING,
        prefix::UNDECIDED_BY_CLOSING,
    ] {
        for pair in store.scan_prefix(&[table]) {
            let (key, _) = pair?;
            let draft = key.get(9..41).map(tables::bytes32).transpose()?;
            if !draft.is_some_and(|d| drafts.contains(&d)) {
                report.add(format!(
                    "consultation closing row (key {}) names no consultation",
                    hex::encode(&key)
                ));
            }
        }
    }
    Ok(())
}

/// One `C` row (`value`, of `draft`): it names a stored Policy entry with a consultation, of its
/// collector at its seq, with its window.
pub(super) fn consultation_row(
    store: &dyn KvStore,
    draft: &EntryId,
    value: &[u8],
    report: &mut Report,
) -> Result<(), StoreError> {
    let record: ConsultationRecord = tables::decode(value, "consultation")?;
    let matches = match store.get(&tables::entry_key(draft))? {
        Some(value) => {
            let (_, bytes) = tables::split_entry_value(&value)?;
            Entry::decode(bytes).is_ok_and(|e| match &e.body {
                consent_proto::body::Body::Policy(p) => {
                    e.feed.0 == record.collector
                        && e.seq == record.seq
                        && e.time_ms == record.time_ms
                        && p.version == record.version
                        && p.consultation.map(|c| c.closes_ms) == Some(record.closes_ms)
                }
                _ => false,
            })
        }
        None => false,
    };
    if !matches {
        report.add(format!(
            "consultation {draft} names no stored Policy entry with that consultation"
        ));
    }
    Ok(())
}
