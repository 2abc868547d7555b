//! The store check (`consentd check-store`; the Check RPC is `decisions`). [`prepare`] binds a
//! new store to its network, migrates a store of layout 3, 4, 5 or 6, and refuses a store of
//! another network or layout; [`structure`] runs at every start (heads match entries, the log is
//! contiguous, grant state points at real grants, a scoped grant's at a real policy, a grant on
//! a draft at a gated consultation, consultation rows at a stored Policy entry with a
//! consultation, and delegation rows at the entries they index);
//! [`full`] replays the whole log through the write path into memory, re-verifying every
//! signature, and compares every derived table.
//!
//! The consultation and delegation row checks of [`structure`] are in `consultations` and
//! `delegations`; the full check is in `replay`.

use std::collections::{HashMap, HashSet};
use std::fmt;

use consent_proto::Entry;
use consent_proto::ids::{EntryId, FeedId};

use super::LedgerError;
use super::tables::{
    self, ConsultationRecord, FeedRecord, GrantRecord, PendingRecord, SCHEMA_VERSION, meta, prefix,
};
use super::tree::Frontier;
use crate::store::{KvStore, StoreError};

mod consultations;
mod delegations;
mod replay;

use self::consultations::consultations;
use self::delegations::delegations;
pub use self::replay::full;

/// Findings of a store check (at most [`Report::LIMIT`] are listed).
#[derive(Debug, Default)]
pub struct Report {
    /// What is wrong.
    pub findings: Vec<String>,
    /// How many findings there were in all.
    pub total: usize,
}

impl Report {
    /// Findings listed at most.
    pub const LIMIT: usize = 20;

    fn add(&mut self, finding: String) {
        self.total += 1;
        if self.findings.len() < Self::LIMIT {
            self.findings.push(finding);
        }
    }

    fn result(self) -> Result<(), Report> {
        if self.total == 0 { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the store is inconsistent ({} finding(s)); the node will not serve it:",
            self.total
        )?;
        for finding in &self.findings {
            writeln!(f, "  - {finding}")?;
        }
        write!(
            f,
            "Restore the data directory from a backup, or move it aside and let the node start empty \
             (it will then hold only what is submitted again). `consentd check-store --full` lists every finding."
        )
    }
}

impl From<StoreError> for Report {
    fn from(e: StoreError) -> Self {
        let mut r = Report::default();
        r.add(e.to_string());
        r
    }
}

/// Initialises an empty store, or checks that a used one has this layout and this network.
pub fn prepare(store: &dyn KvStore, genesis_digest: &str) -> Result<(), LedgerError> {
    match store.get(meta::SCHEMA)? {
        None => {
            if store.scan_prefix(&[]).next().is_some() {
                return Err(LedgerError::CorruptStore(
                    "the data directory holds data but no schema version: it is not a consentd store".into(),
                ));
            }
            store.apply(vec![
                (
                    meta::SCHEMA.to_vec(),
                    Some(SCHEMA_VERSION.to_be_bytes().to_vec()),
                ),
                (
                    meta::GENESIS.to_vec(),
                    Some(genesis_digest.as_bytes().to_vec()),
                ),
            ])?;
            store.flush()?;
            Ok(())
        }
        Some(v) => {
            let version = <[u8; 4]>::try_from(v.as_slice())
                .map(u32::from_be_bytes)
                .unwrap_or(0);
            let stored = store
                .get(meta::GENESIS)?
                .map(|v| String::from_utf8_lossy(&v).into_owned());
            if stored.as_deref() != Some(genesis_digest) {
                return Err(LedgerError::CorruptStore(format!(
                    "the store belongs to the network with genesis digest {}, but this node was started with \
                     genesis digest {genesis_digest}; use the matching genesis file or another data directory",
                    stored.unwrap_or_else(|| "(none)".into())
                )));
            }
            if super::migrate::migrates_from(version) {
                super::migrate::migrate(store, version).map_err(|e| {
                    LedgerError::CorruptStore(format!(
                        "cannot migrate the store from layout {}: {e}; start the node (or run \
                         `consentd check-store`) again to resume, or move the data directory aside \
                         and let the node sync anew from its peers",
                        super::migrate::from_layout(version)
                    ))
                })?;
            } else if version != SCHEMA_VERSION {
                return Err(LedgerError::CorruptStore(format!(
                    "the store has layout version {version}, this consentd reads version \
                     {SCHEMA_VERSION} and migrates only from versions 3, 4, 5 and 6; run the consentd \
                     release that wrote it, or move the data directory aside and let the node \
                     sync anew from its peers"
                )));
            }
            Ok(())
        }
    }
}

/// The check run at every start.
pub fn structure(store: &dyn KvStore) -> Result<(), Report> {
    structure_and_tree(store).map(|_| ())
}

/// [`structure`], also returning the in-memory part of the Merkle tree over the arrival log,
/// built in the same pass over the log (the node needs both at start).
pub fn structure_and_tree(store: &dyn KvStore) -> Result<Frontier, Report> {
    let mut report = Report::default();
    let (log_size, stored_feeds, stored_frozen) = super::writer::stored_counters(store)?;
    let tree = arrival_log(store, log_size, &mut report)?;
    feed_heads(store, stored_feeds, stored_frozen, &mut report)?;
    freezes(store, stored_frozen, &mut report)?;
    grants_and_pending(store, &mut report)?;
    consultations(store, &mut report)?;
    delegations(store, &mut report)?;
    report.result().map(|()| tree)
}

/// The log is exactly `0..log_size` and each index names an entry stored with that index; returns
/// the tree frontier over the log.
fn arrival_log(
    store: &dyn KvStore,
    log_size: u64,
    report: &mut Report,
) -> Result<Frontier, StoreError> {
    let mut tree = Frontier::default();
    let mut expected = 0u64;
    for pair in store.scan_prefix(&[prefix::LOG]) {
        let (key, id) = pair?;
        let index = tables::be_u64(&key[1..])?;
        if index != expected {
            report.add(format!(
                "arrival log jumps from index {expected} to {index}"
            ));
            expected = index;
        }
        expected += 1;
        let id = EntryId(tables::bytes32(&id)?);
        tree.push(&id);
        match store.get(&tables::entry_key(&id))? {
            None => report.add(format!(
                "log index {index} names entry {id}, which is not stored"
            )),
            Some(v) => {
                let (stored_index, _) = tables::split_entry_value(&v)?;
                if stored_index != index {
                    report.add(format!(
                        "entry {id} is stored with index {stored_index} but logged at {index}"
                    ));
                }
            }
        }
    }
    if expected != log_size {
        report.add(format!(
            "arrival log holds {expected} entries, its counter says {log_size}"
        ));
    }
    let entries = store.scan_prefix(&[prefix::ENTRY]).count() as u64;
    if entries != log_size {
        report.add(format!(
            "{entries} entries stored, but the arrival log holds {log_size}"
        ));
    }
    Ok(tree)
}

/// Every feed's seq index is exactly `0..=head`, the head matches its feed record, and the feed
/// and frozen counters match the records.
fn feed_heads(
    store: &dyn KvStore,
    stored_feeds: u64,
    stored_frozen: u64,
    report: &mut Report,
) -> Result<(), StoreError> {
    let mut seqs = seq_index(store, report)?;
    let (mut feeds, mut frozen) = (0u64, 0u64);
    for pair in store.scan_prefix(&[prefix::FEED]) {
        let (key, value) = pair?;
        let feed = tables::bytes32(&key[1..])?;
        feeds += 1;
        let record: FeedRecord = tables::decode(&value, "feed")?;
        frozen += u64::from(record.frozen);
        match seqs.remove(&feed) {
            Some((next, Some(last))) if next == record.head_seq + 1 && last == record.head_id => {}
            Some((next, _)) => report.add(format!(
                "feed {:?}: head is seq {} but the stored entries end at seq {}",
                FeedId(feed),
                record.head_seq,
                next.saturating_sub(1)
            )),
            None => report.add(format!(
                "feed {:?} has a record but no entries",
                FeedId(feed)
            )),
        }
        if let Err(e) = record.state() {
            report.add(format!("feed {:?}: {e}", FeedId(feed)));
        }
    }
    for feed in seqs.keys() {
        report.add(format!(
            "entries of feed {:?} are stored without a feed record",
            FeedId(*feed)
        ));
    }
    if feeds != stored_feeds {
        report.add(format!(
            "{feeds} feed records, but the counter says {stored_feeds}"
        ));
    }
    if frozen != stored_frozen {
        report.add(format!(
            "{frozen} frozen feeds, but the counter says {stored_frozen}"
        ));
    }
    Ok(())
}

/// Each feed's next seq and last entry id, by feed id.
type SeqHeads = HashMap<[u8; 32], (u64, Option<[u8; 32]>)>;

/// Each feed's next seq and last entry id as its seq index gives them, reporting gaps.
fn seq_index(store: &dyn KvStore, report: &mut Report) -> Result<SeqHeads, StoreError> {
    let mut seqs: SeqHeads = HashMap::new();
    for pair in store.scan_prefix(&[prefix::SEQ]) {
        let (key, id) = pair?;
        if key.len() != 41 {
            report.add("malformed seq index key".into());
            continue;
        }
        let feed = tables::bytes32(&key[1..33])?;
        let seq = tables::be_u64(&key[33..])?;
        let slot = seqs.entry(feed).or_insert((0, None));
        if seq != slot.0 {
            report.add(format!(
                "feed {:?} has a gap before seq {seq}",
                FeedId(feed)
            ));
        }
        *slot = (seq + 1, Some(tables::bytes32(&id)?));
    }
    Ok(seqs)
}

/// Grant state names real grants at the position it claims (a scoped grant's record, a stored
/// policy), and pending records decode.
fn grants_and_pending(store: &dyn KvStore, report: &mut Report) -> Result<(), StoreError> {
    // Policies already found to be stored policies (a collector's grants share a few).
    let mut policies: HashSet<[u8; 32]> = HashSet::new();
    for pair in store.scan_prefix(&[prefix::GRANT]) {
        let (key, value) = pair?;
        if key.len() != 73 {
            report.add("malformed grant key".into());
            continue;
        }
        let subject = FeedId(tables::bytes32(&key[1..33])?);
        let seq = tables::be_u64(&key[65..])?;
        let record: GrantRecord = tables::decode(&value, "grant")?;
        match store.get(&tables::seq_key(&subject, seq))? {
            Some(id) if id.as_slice() == record.id.as_slice() => {}
            _ => report.add(format!(
                "grant state of {:?} seq {seq} names no such grant",
                subject
            )),
        }
        if let Some(draft) = &record.draft {
            let gated = store
                .get(&tables::consultation_key(&EntryId(*draft)))?
                .map(|v| tables::decode::<ConsultationRecord>(&v, "consultation"))
                .transpose()?
                .is_some_and(|c| c.gated);
            if !gated {
                report.add(format!(
                    "grant state of {subject:?} seq {seq} names draft {}, which is no gated \
                     consultation",
                    EntryId(*draft)
                ));
            }
        }
        if let Some(scope) = &record.scope
            && !policies.contains(&scope.policy)
        {
            let policy = EntryId(scope.policy);
            let is_policy = match store.get(&tables::entry_key(&policy))? {
                Some(value) => {
                    let (_, bytes) = tables::split_entry_value(&value)?;
                    Entry::decode(bytes)
                        .is_ok_and(|e| matches!(e.body, consent_proto::body::Body::Policy(_)))
                }
                None => false,
            };
            if is_policy {
                policies.insert(scope.policy);
            } else {
                report.add(format!(
                    "grant state of {subject:?} seq {seq} is scoped by {policy}, which is not a \
                     stored policy"
                ));
            }
        }
    }
    for pair in store.scan_prefix(&[prefix::PENDING]) {
        let (_, value) = pair?;
        if let Err(e) = tables::decode::<PendingRecord>(&value, "pending") {
            report.add(e.to_string());
        }
    }
    Ok(())
}

/// The freeze list is exactly `0..frozen`, each naming a distinct frozen feed.
fn freezes(store: &dyn KvStore, frozen: u64, report: &mut Report) -> Result<(), StoreError> {
    let mut expected = 0u64;
    let mut seen = std::collections::HashSet::new();
    for pair in store.scan_prefix(&[prefix::FREEZE]) {
        let (key, feed) = pair?;
        let number = tables::be_u64(&key[1..])?;
        if number != expected {
            report.add(format!("freeze list jumps from {expected} to {number}"));
            expected = number;
        }
        expected += 1;
        let feed = FeedId(tables::bytes32(&feed)?);
        let is_frozen = store
            .get(&tables::feed_key(&feed))?
            .map(|v| tables::decode::<FeedRecord>(&v, "feed"))
            .transpose()?
            .is_some_and(|r| r.frozen);
        if !is_frozen || !seen.insert(feed) {
            report.add(format!(
                "freeze {number} names {feed:?}, which is not frozen or is listed twice"
            ));
        }
    }
    if expected != frozen {
        report.add(format!(
            "{expected} freezes listed, but the counter says {frozen} frozen feeds"
        ));
    }
    Ok(())
}
