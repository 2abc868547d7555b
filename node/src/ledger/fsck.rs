//! The store check (`consentd check-store`; the Check RPC is `decisions`). [`prepare`] binds a
//! new store to its network, migrates a store of layout 3, 4, 5, 6 or 7, and refuses a store of
//! another network or layout. [`at_start`] runs at every start: from the store's start-up
//! position ([`StartupPosition`](super::tables::StartupPosition), saved by the writer) it checks
//! only what came after it (`since`), and when there is none or it does not match the store, it
//! warns and runs the complete check. [`structure`] is the complete check (`consentd
//! check-store`): heads match entries, the log is contiguous, the block rows are the log's, the
//! start-up position describes the log at its size, grant state points at real grants, a scoped
//! grant's at a real policy, a grant on a draft at a gated consultation, consultation rows at a
//! stored Policy entry with a consultation, and delegation rows at the entries they index.
//! [`full`] replays the whole log through the write path into memory, re-verifying every
//! signature, and compares every derived table. [`offline`] is `consentd check-store` itself:
//! when it finds anything it deletes the start-up position, so that the next start runs the
//! complete check (and refuses what it finds) instead of checking only what came after the
//! position and saving a new one over the damage.
//!
//! The consultation and delegation row checks are in `consultations` and `delegations`, the
//! block rows' and the start-up position's in `blocks`, the check from a position in `since`; the
//! full check is in `replay`.

use std::collections::{HashMap, HashSet};
use std::fmt;

use consent_proto::Entry;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::merkle::Hash;

use super::LedgerError;
use super::tables::{
    self, ConsultationRecord, FeedRecord, GrantRecord, PendingRecord, SCHEMA_VERSION, meta, prefix,
};
use super::tree::Frontier;
use crate::store::{KvStore, StoreError};

mod blocks;
mod consultations;
mod delegations;
mod replay;
mod since;
#[cfg(test)]
mod tests;

use self::consultations::consultations;
use self::delegations::delegations;
pub use self::replay::full;
use self::since::Since;

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

/// What `consentd check-store` found in a store, and what it did about it.
#[derive(Debug)]
pub struct Offline {
    /// The findings.
    pub report: Report,
    /// Whether the check replayed the log (`--full`).
    pub replayed: bool,
    /// Whether the start-up position was deleted ([`forget_position`]).
    pub forgotten: Result<(), StoreError>,
}

impl fmt::Display for Offline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the store is inconsistent ({} finding(s)):",
            self.report.total
        )?;
        for finding in &self.report.findings {
            writeln!(f, "  - {finding}")?;
        }
        match (&self.forgotten, self.replayed) {
            (Ok(()), false) => write!(
                f,
                "Its start-up position was deleted: the next start checks the whole store, as \
                 this check did, and refuses to serve it for any of these but a finding about the \
                 position itself. "
            )?,
            (Ok(()), true) => write!(
                f,
                "Its start-up position was deleted: the next start checks the whole store, but \
                 without replaying the log, so a finding only the replay makes (a table that \
                 differs from what the log gives) does not stop it from serving this store. "
            )?,
            (Err(e), _) => write!(
                f,
                "Its start-up position could not be deleted ({e}): the next start may check only \
                 what came after the position and serve this store. "
            )?,
        }
        write!(
            f,
            "Do not start the node on it: restore the data directory from a backup, or move it \
             aside and let the node start empty (it will then hold only what is submitted again)."
        )?;
        if !self.replayed {
            write!(
                f,
                " `consentd check-store --full` also replays every entry."
            )?;
        }
        Ok(())
    }
}

/// `consentd check-store`: the complete check ([`structure`]), and with `replay` the replay
/// of the log ([`full`]). When either finds anything the start-up position is deleted
/// ([`forget_position`]), so that the next start runs the complete check rather than checking
/// only what came after the position and then saving a new one over the damage.
pub fn offline(
    store: &dyn KvStore,
    registrars: &HashSet<FeedId>,
    replay: bool,
) -> Result<(), Offline> {
    let checked = match replay {
        true => self::replay::full(store, registrars),
        false => structure(store),
    };
    checked.map_err(|report| Offline {
        forgotten: forget_position(store),
        report,
        replayed: replay,
    })
}

/// Deletes the start-up position, durably: the next start checks the whole store.
pub fn forget_position(store: &dyn KvStore) -> Result<(), StoreError> {
    store.apply(vec![(meta::STARTUP.to_vec(), None)])?;
    store.flush()
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
                     {SCHEMA_VERSION} and migrates only from versions 3, 4, 5, 6, 7 and 8; run the \
                     consentd release that wrote it, or move the data directory aside and let the \
                     node sync anew from its peers"
                )));
            }
            Ok(())
        }
    }
}

/// What the start-up check gives the node.
#[derive(Debug)]
pub struct Started {
    /// The in-memory part of the Merkle tree over the whole arrival log.
    pub tree: Frontier,
    /// The log size of the start-up position the check started from (`None`: it checked the
    /// whole store).
    pub from: Option<u64>,
}

/// The check run at every start. From the store's start-up position, when there is one and it
/// describes the store (its checksum, its counters, the entry at its size - 1 and the log's root
/// at its size, rebuilt from the block rows), it checks only what came after it (`since`): its
/// work grows with the entries since the position and the log's size / 64, not the log. Without
/// a usable position it logs a warning saying why and runs the complete check
/// ([`structure_and_tree`]). Either way the writer saves a new position once the ledger is open.
pub fn at_start(store: &dyn KvStore) -> Result<Started, Report> {
    let started = std::time::Instant::now();
    let counters = super::writer::stored_counters(store)?;
    let unusable = match blocks::load_position(store)? {
        // A new store: nothing to check.
        None if counters.0 == 0 => None,
        None => Some(
            "the store has no start-up position (a store migrated from layout 7 starts so once, \
             or a node that died before it saved its first)"
                .to_string(),
        ),
        Some(Err(why)) => Some(format!("the store's start-up position is damaged: {why}")),
        Some(Ok(position)) => match since::since(store, &position, counters)? {
            Since::Checked { tree, after } => {
                tracing::info!(
                    position = position.log_size,
                    after,
                    ms = started.elapsed().as_millis() as u64,
                    "store checked from its start-up position (the entries after it)"
                );
                return Ok(Started {
                    tree,
                    from: Some(position.log_size),
                });
            }
            Since::Unusable(why) => Some(format!(
                "the store's start-up position at {} entries does not match the store: {why}",
                position.log_size
            )),
        },
    };
    if let Some(why) = unusable {
        tracing::warn!(
            entries = counters.0,
            "{why}; checking the whole store instead (this takes longer as the log grows; the \
             node saves a new position once it starts)"
        );
    }
    let tree = structure_and_tree(store)?;
    tracing::info!(
        entries = counters.0,
        ms = started.elapsed().as_millis() as u64,
        "store checked whole"
    );
    Ok(Started { tree, from: None })
}

/// The complete structure check (`consentd check-store`): the whole of every table, the block
/// rows against the log, and the start-up position, if there is one, against the log at its
/// size.
pub fn structure(store: &dyn KvStore) -> Result<(), Report> {
    complete(store, true).map(|_| ())
}

/// The complete structure check but for the start-up position (the start runs it when the
/// position cannot be used), also returning the in-memory part of the Merkle tree over the
/// arrival log, built in the same pass over the log.
pub fn structure_and_tree(store: &dyn KvStore) -> Result<Frontier, Report> {
    complete(store, false)
}

/// The complete structure check; with `position`, the start-up position too.
fn complete(store: &dyn KvStore, position: bool) -> Result<Frontier, Report> {
    let mut report = Report::default();
    let counters = super::writer::stored_counters(store)?;
    let (log_size, stored_feeds, stored_frozen) = counters;
    let position = match position {
        true => blocks::load_position(store)?,
        false => None,
    };
    let at = position
        .as_ref()
        .and_then(|p| p.as_ref().ok())
        .map(|p| p.log_size);
    let (tree, at_position) = arrival_log(store, log_size, at, &mut report)?;
    blocks::rows(store, &tree, &mut report)?;
    if let Some(position) = position {
        blocks::position(position, counters, at_position, &mut report);
    }
    feed_heads(store, stored_feeds, stored_frozen, &mut report)?;
    freezes(store, 0, stored_frozen, &mut report)?;
    grants(store, &mut report)?;
    pending(store, &mut report)?;
    consultations(store, &mut report)?;
    delegations(store, &mut report)?;
    report.result().map(|()| tree)
}

/// The tree's root and the id of the last entry when the log held some number of entries.
type RootAt = (Hash, [u8; 32]);

/// The log is exactly `0..log_size` and each index names an entry stored with that index; returns
/// the tree frontier over the log, and the root and the last entry id when the log reached `at`
/// entries (`at` 0: the empty tree's root, zeros).
fn arrival_log(
    store: &dyn KvStore,
    log_size: u64,
    at: Option<u64>,
    report: &mut Report,
) -> Result<(Frontier, Option<RootAt>), StoreError> {
    let mut tree = Frontier::default();
    let mut at_position = (at == Some(0)).then(|| (tree.root(), [0; 32]));
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
        if at.is_some_and(|at| at > 0 && at == tree.size()) {
            at_position = Some((tree.root(), id.0));
        }
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
    Ok((tree, at_position))
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
/// policy).
fn grants(store: &dyn KvStore, report: &mut Report) -> Result<(), StoreError> {
    // Policies already found to be stored policies (a collector's grants share a few).
    let mut policies: HashSet<[u8; 32]> = HashSet::new();
    for pair in store.scan_prefix(&[prefix::GRANT]) {
        let (key, value) = pair?;
        grant_row(store, &key, &value, &mut policies, report)?;
    }
    Ok(())
}

/// One `G` row: its record names the grant stored at its subject's seq, a draft it names is a
/// gated consultation and a policy its scope names a stored Policy entry (`policies`: those
/// already found to be).
fn grant_row(
    store: &dyn KvStore,
    key: &[u8],
    value: &[u8],
    policies: &mut HashSet<[u8; 32]>,
    report: &mut Report,
) -> Result<(), StoreError> {
    if key.len() != 73 {
        report.add("malformed grant key".into());
        return Ok(());
    }
    let subject = FeedId(tables::bytes32(&key[1..33])?);
    let seq = tables::be_u64(&key[65..])?;
    let record: GrantRecord = tables::decode(value, "grant")?;
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
    Ok(())
}

/// Pending records decode (at most `[ledger] max_pending` of them: not the log's size).
fn pending(store: &dyn KvStore, report: &mut Report) -> Result<(), StoreError> {
    for pair in store.scan_prefix(&[prefix::PENDING]) {
        let (_, value) = pair?;
        if let Err(e) = tables::decode::<PendingRecord>(&value, "pending") {
            report.add(e.to_string());
        }
    }
    Ok(())
}

/// The freeze list from number `from` on is exactly `from..frozen`, each naming a distinct
/// frozen feed (`from` 0: the whole list, which both the complete check and the check from a
/// start-up position read: one read per frozen feed).
fn freezes(
    store: &dyn KvStore,
    from: u64,
    frozen: u64,
    report: &mut Report,
) -> Result<(), StoreError> {
    let mut expected = from;
    let mut seen = std::collections::HashSet::new();
    let list = match from {
        0 => store.scan_prefix(&[prefix::FREEZE]),
        _ => store.scan_range(&tables::freeze_key(from), &[prefix::FREEZE + 1]),
    };
    for pair in list {
        let (key, feed) = pair?;
        let number = tables::be_u64(&key[1..])?;
        if number != expected {
            report.add(format!("freeze list jumps from {expected} to {number}"));
            expected = number;
        }
        expected = expected.saturating_add(1);
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
