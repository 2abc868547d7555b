//! The full check ([`full`]): replays the arrival log through the write path into memory,
//! re-verifying every signature, and compares every derived table (the log's block rows too),
//! the feed records, the answer figures and the equivocation proofs with the store.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use consent_proto::Entry;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::validate::{LedgerView, author_signed};

use super::super::tables::{self, AnswerRecord, FeedRecord, ProofRecord, prefix};
use super::super::tree::{Frontier, LogTree};
use super::super::writer::{Item, Outcome, Writer};
use super::super::{LedgerConfig, Stats};
use super::{Report, structure};
use crate::store::memory::MemoryStore;
use crate::store::{KvStore, StoreError};

/// Replays the arrival log into memory through the write path (re-validating every entry and
/// signature) and compares every derived table with the store. Also checks equivocation proofs.
pub fn full(store: &dyn KvStore, registrars: &HashSet<FeedId>) -> Result<(), Report> {
    structure(store)?;
    let mut report = Report::default();
    let replica = replay(store, registrars, &mut report)?;
    for table in [
        prefix::ENTRY,
        prefix::SEQ,
        prefix::ROTATION,
        prefix::LOG,
        prefix::GRANT,
        prefix::OPT_OUT,
        prefix::ACCREDITATION,
        prefix::WATCH,
        prefix::EXPIRY,
        prefix::CONSULTATION,
        prefix::STANCE,
        prefix::STANCE_COUNTS,
        prefix::RESPONSE,
        prefix::OUTCOME,
        prefix::CONSULTATION_BY_COLLECTOR,
        prefix::CONSULTATION_BY_CLOSING,
        prefix::UNDECIDED_BY_CLOSING,
        prefix::DELEGATION,
        prefix::DELEGATING,
        prefix::DELEGATED_GRANT,
        prefix::DELEGATION_COLLECTOR,
        prefix::ENDORSEMENT,
        prefix::REVOCATION,
        prefix::DELEGATED_OPT_OUT,
        prefix::DELEGATION_BY_DELEGATE,
        prefix::DELEGATED_LOG,
        prefix::BLOCK,
    ] {
        compare(store, &*replica, table, &mut report)?;
    }
    answers(store, &*replica, &mut report)?;
    feed_records(store, &*replica, &mut report)?;
    proofs(store, &mut report)?;
    report.result()
}

/// Replays every logged entry of `store`, in log order, into a fresh in-memory store through the
/// write path, reporting entries that do not decode or are not accepted again; returns the replica.
fn replay(
    store: &dyn KvStore,
    registrars: &HashSet<FeedId>,
    report: &mut Report,
) -> Result<Arc<dyn KvStore>, StoreError> {
    let replica: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
    let mut writer = Writer::open(
        Arc::clone(&replica),
        Arc::new(Stats::default()),
        Arc::new(registrars.clone()),
        Arc::new(LogTree::new(Frontier::default(), Arc::clone(&replica))),
        LedgerConfig {
            max_pending: u64::MAX,
            ..LedgerConfig::default()
        },
    )?;
    let mut batch = Vec::new();
    let flush = |writer: &mut Writer,
                 batch: &mut Vec<Item>,
                 report: &mut Report|
     -> Result<(), StoreError> {
        for outcome in writer.replay(std::mem::take(batch))? {
            if !matches!(outcome, Outcome::Accepted { .. }) {
                report.add(format!("stored entry does not replay: {outcome:?}"));
            }
        }
        Ok(())
    };
    for pair in store.scan_prefix(&[prefix::LOG]) {
        let (_, id) = pair?;
        let id = EntryId(tables::bytes32(&id)?);
        let Some(value) = store.get(&tables::entry_key(&id))? else {
            continue;
        };
        let (_, bytes) = tables::split_entry_value(&value)?;
        match Entry::decode(bytes) {
            Ok(entry) => batch.push(Item {
                entry,
                verified_under: None,
                source: crate::ledger::Source::Local,
                admit: false,
            }),
            Err(e) => report.add(format!("stored entry {id} does not decode: {e}")),
        }
        if batch.len() >= 4096 {
            flush(&mut writer, &mut batch, &mut *report)?;
        }
    }
    flush(&mut writer, &mut batch, &mut *report)?;
    Ok(replica)
}

/// Feed records match the replay's except for frozen flags, which come from equivocation proofs;
/// a frozen feed has a proof.
fn feed_records(
    store: &dyn KvStore,
    replica: &dyn KvStore,
    report: &mut Report,
) -> Result<(), StoreError> {
    let unfreeze = |mut r: FeedRecord| {
        r.frozen = false;
        r
    };
    let ours: BTreeMap<Vec<u8>, Vec<u8>> = store
        .scan_prefix(&[prefix::FEED])
        .collect::<Result<_, _>>()?;
    let theirs: BTreeMap<Vec<u8>, Vec<u8>> = replica
        .scan_prefix(&[prefix::FEED])
        .collect::<Result<_, _>>()?;
    if ours.len() != theirs.len() {
        report.add(format!(
            "{} feed records stored, replay gives {}",
            ours.len(),
            theirs.len()
        ));
    }
    for (key, value) in &ours {
        let stored: FeedRecord = tables::decode(value, "feed")?;
        let frozen = stored.frozen;
        match theirs.get(key) {
            Some(v) if unfreeze(tables::decode(v, "feed")?) == unfreeze(stored) => {}
            _ => report.add(format!(
                "feed record {:?} differs from the replay",
                FeedId(tables::bytes32(&key[1..])?)
            )),
        }
        if frozen
            && store
                .scan_prefix(&[&[prefix::PROOF][..], &key[1..]].concat())
                .next()
                .is_none()
        {
            report.add(format!(
                "feed {:?} is frozen without an equivocation proof",
                FeedId(tables::bytes32(&key[1..])?)
            ));
        }
    }
    Ok(())
}

/// Every equivocation proof holds two distinct entries its feed's author signed at one seq.
fn proofs(store: &dyn KvStore, report: &mut Report) -> Result<(), StoreError> {
    for pair in store.scan_prefix(&[prefix::PROOF]) {
        let (key, value) = pair?;
        let proof: ProofRecord = tables::decode(&value, "proof")?;
        let (Ok(a), Ok(b)) = (
            Entry::decode(&proof.held),
            Entry::decode(&proof.conflicting),
        ) else {
            report.add("equivocation proof does not decode".into());
            continue;
        };
        let feed = FeedId(tables::bytes32(&key[1..33])?);
        // Both must be the author's at that seq, judged by the keys as of the seq before it.
        let before = match a.seq.checked_sub(1) {
            None => None,
            Some(prev) => super::super::staged::Staged::new(store).keys_after(&feed, prev)?,
        };
        let valid = a.feed == feed
            && b.feed == feed
            && a.seq == b.seq
            && a.id != b.id
            && (a.seq == 0 || before.is_some())
            && author_signed(&a, before.as_ref())
            && author_signed(&b, before.as_ref());
        if !valid {
            report.add(format!(
                "equivocation proof for {feed:?} does not prove anything"
            ));
        }
    }
    Ok(())
}

/// Answer records: the same requests as the replay, answered or not alike (their times come from
/// when entries reached this node, which a replay cannot know); and the answer figures (tables
/// `N`, `U`, `V`) exactly what the records give.
fn answers(
    store: &dyn KvStore,
    replica: &dyn KvStore,
    report: &mut Report,
) -> Result<(), StoreError> {
    let answered = |s: &dyn KvStore| -> Result<BTreeMap<Vec<u8>, bool>, StoreError> {
        s.scan_prefix(&[prefix::ANSWER])
            .map(|pair| {
                let (key, value) = pair?;
                let record: AnswerRecord = tables::decode(&value, "answer")?;
                Ok((key, record.answered_ms.is_some()))
            })
            .collect()
    };
    if answered(store)? != answered(replica)? {
        report.add(
            "table K (answers) differs from the replay in its requests or which are answered"
                .into(),
        );
    }
    let expected = super::super::writer::expected_answers(store)?;
    if !expected.fixes.is_empty() {
        report.add(format!(
            "{} answer record(s) answered before they were asked",
            expected.fixes.len()
        ));
    }
    let mut stored = BTreeMap::new();
    for table in [
        prefix::ANSWER_SUMMARY,
        prefix::UNANSWERED,
        prefix::UNANSWERED_DAYS,
    ] {
        for pair in store.scan_prefix(&[table]) {
            let (key, value) = pair?;
            stored.insert(key, value);
        }
    }
    if stored != expected.aggregates {
        let differing = stored
            .iter()
            .find(|(k, v)| expected.aggregates.get(*k) != Some(*v))
            .map(|(k, _)| k)
            .or_else(|| {
                expected
                    .aggregates
                    .keys()
                    .find(|k| !stored.contains_key(*k))
            });
        report.add(format!(
            "answer figures differ from what the answer records give, at key {}",
            hex::encode(differing.cloned().unwrap_or_default())
        ));
    }
    Ok(())
}

/// A finding at the first key where `table` differs between the store and the replay.
fn compare(
    store: &dyn KvStore,
    replica: &dyn KvStore,
    table: u8,
    report: &mut Report,
) -> Result<(), StoreError> {
    let mut ours = store.scan_prefix(&[table]);
    let mut theirs = replica.scan_prefix(&[table]);
    loop {
        match (ours.next().transpose()?, theirs.next().transpose()?) {
            (None, None) => return Ok(()),
            (Some((k, v)), Some((k2, v2))) if k == k2 && v == v2 => {}
            (a, b) => {
                report.add(format!(
                    "table {} differs from the replay at key {}",
                    table as char,
                    hex::encode(a.or(b).map(|(k, _)| k).unwrap_or_default())
                ));
                return Ok(());
            }
        }
    }
}
