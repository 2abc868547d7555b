//! What the writer stores for answer times (see [`crate::ledger::answers`]): when a request or a
//! revocation asking for erasure is accepted, its record and the collector's figures; when the
//! collector's first acknowledgement of it is accepted, their update; and, for a store of
//! layout 3, the figures rebuilt from the stored records.

use std::collections::BTreeMap;

use consent_proto::ids::{EntryId, FeedId};

use super::super::answers::{self, AnswerSummary, DAY_MS};
use super::super::staged::Staged;
use super::super::tables::{self, AnswerRecord, meta, prefix};
use crate::store::{KvStore, StoreError, Write};

/// Value of a `U` key (the key says everything).
const MARK: &[u8] = &[1];

/// A request (or a revocation asking for erasure) to `collector`, signed at `signed_ms`, reached
/// this node at `arrived_ms`.
pub(super) fn asked(
    staged: &mut Staged<'_, dyn KvStore>,
    collector: &FeedId,
    request: &EntryId,
    signed_ms: u64,
    arrived_ms: u64,
) -> Result<(), StoreError> {
    let key = tables::answer_key(collector, request);
    if staged.get(&key)?.is_some() {
        return Ok(());
    }
    let asked_ms = answers::asked_ms(signed_ms, arrived_ms);
    let record = AnswerRecord {
        asked_ms,
        answered_ms: None,
    };
    staged.put(key, tables::encode(&record)?);
    let mut summary = answers::summary(|k| staged.get(k), collector)?;
    summary.ask();
    staged.put(
        tables::answer_summary_key(collector),
        tables::encode(&summary)?,
    );
    staged.put(
        tables::unanswered_key(collector, asked_ms, request),
        MARK.to_vec(),
    );
    count_day(staged, collector, asked_ms / DAY_MS, true)
}

/// `collector`'s acknowledgement of `request`, signed at `signed_ms`, reached this node at
/// `arrived_ms`. Only the first acknowledgement of a request counts.
pub(super) fn answered(
    staged: &mut Staged<'_, dyn KvStore>,
    collector: &FeedId,
    request: &EntryId,
    signed_ms: u64,
    arrived_ms: u64,
) -> Result<(), StoreError> {
    let key = tables::answer_key(collector, request);
    let Some(value) = staged.get(&key)? else {
        return Ok(());
    };
    let mut record: AnswerRecord = tables::decode(&value, "answer")?;
    if record.answered_ms.is_some() {
        return Ok(());
    }
    let at = answers::answered_ms(signed_ms, arrived_ms, record.asked_ms);
    record.answered_ms = Some(at);
    staged.put(key, tables::encode(&record)?);
    let mut summary = answers::summary(|k| staged.get(k), collector)?;
    summary.answer(at.saturating_sub(record.asked_ms));
    staged.put(
        tables::answer_summary_key(collector),
        tables::encode(&summary)?,
    );
    staged.delete(tables::unanswered_key(collector, record.asked_ms, request));
    count_day(staged, collector, record.asked_ms / DAY_MS, false)
}

/// Counts one more (or one fewer) unanswered request asked on `day`.
fn count_day(
    staged: &mut Staged<'_, dyn KvStore>,
    collector: &FeedId,
    day: u64,
    more: bool,
) -> Result<(), StoreError> {
    let key = tables::unanswered_day_key(collector, day);
    let n = staged
        .get(&key)?
        .map(|v| tables::be_u64(&v))
        .transpose()?
        .unwrap_or(0);
    let n = if more {
        n.saturating_add(1)
    } else {
        n.saturating_sub(1)
    };
    if n == 0 {
        staged.delete(key);
    } else {
        staged.put(key, n.to_be_bytes().to_vec());
    }
    Ok(())
}

/// What the answer tables should hold, computed from the `K` records alone: every `N`, `U` and
/// `V` pair, and the `K` records whose answered time must be raised to their asked time (only a
/// store of layout 3 has such records).
pub(crate) struct Expected {
    /// Every `N`, `U` and `V` pair, by key.
    pub aggregates: BTreeMap<Vec<u8>, Vec<u8>>,
    /// `K` records to rewrite.
    pub fixes: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Computes [`Expected`] from the stored `K` records (one pass over them).
pub(crate) fn expected(store: &dyn KvStore) -> Result<Expected, StoreError> {
    let mut summaries: BTreeMap<[u8; 32], AnswerSummary> = BTreeMap::new();
    let mut days: BTreeMap<([u8; 32], u64), u64> = BTreeMap::new();
    let mut aggregates = BTreeMap::new();
    let mut fixes = Vec::new();
    for pair in store.scan_prefix(&[prefix::ANSWER]) {
        let (key, value) = pair?;
        if key.len() != 65 {
            return Err(StoreError::Corrupt("malformed answer key".into()));
        }
        let collector = tables::bytes32(&key[1..33])?;
        let request = EntryId(tables::bytes32(&key[33..])?);
        let mut record: AnswerRecord = tables::decode(&value, "answer")?;
        let summary = summaries.entry(collector).or_default();
        summary.ask();
        match record.answered_ms {
            Some(at) => {
                if at < record.asked_ms {
                    record.answered_ms = Some(record.asked_ms);
                    fixes.push((key.clone(), tables::encode(&record)?));
                }
                summary.answer(at.saturating_sub(record.asked_ms));
            }
            None => {
                aggregates.insert(
                    tables::unanswered_key(&FeedId(collector), record.asked_ms, &request),
                    MARK.to_vec(),
                );
                let n = days
                    .entry((collector, record.asked_ms / DAY_MS))
                    .or_default();
                *n = n.saturating_add(1);
            }
        }
    }
    for (collector, summary) in summaries {
        aggregates.insert(
            tables::answer_summary_key(&FeedId(collector)),
            tables::encode(&summary)?,
        );
    }
    for ((collector, day), n) in days {
        aggregates.insert(
            tables::unanswered_day_key(&FeedId(collector), day),
            n.to_be_bytes().to_vec(),
        );
    }
    Ok(Expected { aggregates, fixes })
}

/// Migrates a store of layout 3 to layout 4: builds the answer figures from the stored requests
/// (which keep their signed times: layout 3 recorded no arrival) and sets the layout version (4:
/// `migrate` then goes on to 5), in one atomic batch, then flushes. Run before the writer starts.
pub(crate) fn migrate_from_3(store: &dyn KvStore) -> Result<(), StoreError> {
    let expected = expected(store)?;
    let mut writes: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    // Layout 3 has none of these tables; clear them anyway so the result is exactly `expected`.
    for table in [
        prefix::ANSWER_SUMMARY,
        prefix::UNANSWERED,
        prefix::UNANSWERED_DAYS,
    ] {
        for pair in store.scan_prefix(&[table]) {
            let (key, _) = pair?;
            writes.insert(key, None);
        }
    }
    for (key, value) in expected.aggregates {
        writes.insert(key, Some(value));
    }
    for (key, value) in expected.fixes {
        writes.insert(key, Some(value));
    }
    writes.insert(meta::SCHEMA.to_vec(), Some(4u32.to_be_bytes().to_vec()));
    let writes: Vec<Write> = writes.into_iter().collect();
    store.apply(writes)?;
    store.flush()
}
