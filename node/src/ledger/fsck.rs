//! The store check (`consentd check-store`; the Check RPC is `decisions`). [`prepare`] binds a
//! new store to its network, migrates a store of layout 3, 4, 5 or 6, and refuses a store of
//! another network or layout; [`structure`] runs at every start (heads match entries, the log is
//! contiguous, grant state points at real grants, a scoped grant's at a real policy, a grant on
//! a draft at a gated consultation, consultation rows at a stored Policy entry with a
//! consultation, and delegation rows at the entries they index);
//! [`full`] replays the whole log through the write path into memory, re-verifying every
//! signature, and compares every derived table.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use consent_proto::Entry;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::validate::{LedgerView, author_signed};

use super::tables::{
    self, AnswerRecord, ConsultationRecord, FeedRecord, GrantRecord, PendingRecord, ProofRecord,
    SCHEMA_VERSION, meta, prefix,
};
use super::tree::{Frontier, LogTree};
use super::writer::{Item, Outcome, Writer};
use super::{LedgerConfig, LedgerError, Stats};
use crate::store::memory::MemoryStore;
use crate::store::{KvStore, StoreError};

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

/// Consultation rows: each `C` row names a stored Policy entry with a consultation, of its
/// collector at its seq, with its window; each `T`, `H` and `B` row, and each `Y` and `J` row,
/// a `C` row.
fn consultations(store: &dyn KvStore, report: &mut Report) -> Result<(), StoreError> {
    let mut drafts: HashSet<[u8; 32]> = HashSet::new();
    for pair in store.scan_prefix(&[prefix::CONSULTATION]) {
        let (key, value) = pair?;
        let draft = EntryId(tables::bytes32(&key[1..])?);
        let record: ConsultationRecord = tables::decode(&value, "consultation")?;
        let matches = match store.get(&tables::entry_key(&draft))? {
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

/// What the start-up check knows of one delegation table's rows: the table, its name in the
/// report, its key length, where in the key an entry id (32 bytes) starts, and whether the
/// value is an entry id too.
struct RowCheck {
    table: u8,
    what: &'static str,
    length: usize,
    ids: &'static [usize],
    value_names: bool,
}

impl RowCheck {
    const fn new(
        table: u8,
        what: &'static str,
        length: usize,
        ids: &'static [usize],
        value_names: bool,
    ) -> Self {
        Self {
            table,
            what,
            length,
            ids,
            value_names,
        }
    }
}

/// Delegation rows: each has the length its table's keys have, decodes, and names entries that
/// are stored (a `t` row its `j` row); one read per row, no entry decoded (the full check
/// compares every row with the replay's).
fn delegations(store: &dyn KvStore, report: &mut Report) -> Result<(), StoreError> {
    let stored = |id: &[u8]| -> Result<bool, StoreError> {
        Ok(store
            .get(&tables::entry_key(&EntryId(tables::bytes32(id)?)))?
            .is_some())
    };
    let checks = [
        RowCheck::new(prefix::DELEGATION, "delegation", 65, &[33], false),
        RowCheck::new(
            prefix::DELEGATED_GRANT,
            "delegated grant",
            105,
            &[73],
            false,
        ),
        RowCheck::new(
            prefix::DELEGATION_COLLECTOR,
            "delegation collector",
            65,
            &[1],
            false,
        ),
        RowCheck::new(prefix::ENDORSEMENT, "endorsement", 97, &[1, 65], false),
        RowCheck::new(prefix::REVOCATION, "revocation", 65, &[1], false),
        RowCheck::new(
            prefix::DELEGATED_OPT_OUT,
            "delegated opt-out",
            105,
            &[73],
            true,
        ),
        RowCheck::new(prefix::DELEGATED_LOG, "delegated log", 41, &[], true),
    ];
    for RowCheck {
        table,
        what,
        length,
        ids,
        value_names,
    } in checks
    {
        for pair in store.scan_prefix(&[table]) {
            let (key, value) = pair?;
            let mut fine = key.len() == length;
            if fine {
                for &at in ids {
                    fine &= stored(&key[at..at + 32])?;
                }
            }
            if fine && value_names {
                fine = value.len() == 32 && stored(&value)?;
            }
            if fine {
                fine = match table {
                    prefix::DELEGATION => {
                        tables::decode::<tables::DelegationRecord>(&value, what).is_ok()
                    }
                    prefix::DELEGATED_GRANT => {
                        tables::decode::<tables::DelegatedGrantRecord>(&value, what)
                            .is_ok_and(|r| r.grant.id[..] == key[73..105])
                    }
                    prefix::ENDORSEMENT => {
                        tables::decode::<tables::EndorsementRecord>(&value, what).is_ok()
                    }
                    prefix::REVOCATION => {
                        match tables::decode::<tables::RevocationRecord>(&value, what) {
                            Ok(r) => stored(&r.revoke)?,
                            Err(_) => false,
                        }
                    }
                    _ => true,
                };
            }
            if !fine {
                report.add(format!(
                    "a {what} row (key {}) is malformed or names an entry not stored",
                    hex::encode(&key)
                ));
            }
        }
    }
    for pair in store.scan_prefix(&[prefix::DELEGATION_BY_DELEGATE]) {
        let (key, _) = pair?;
        let fine = key.len() == 97
            && store
                .get(&[&[prefix::DELEGATION][..], &key[33..97]].concat())?
                .is_some();
        if !fine {
            report.add(format!(
                "a delegation index row (key {}) names no delegation",
                hex::encode(&key)
            ));
        }
    }
    Ok(())
}

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
        prefix::DELEGATED_GRANT,
        prefix::DELEGATION_COLLECTOR,
        prefix::ENDORSEMENT,
        prefix::REVOCATION,
        prefix::DELEGATED_OPT_OUT,
        prefix::DELEGATION_BY_DELEGATE,
        prefix::DELEGATED_LOG,
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
            Some(prev) => super::staged::Staged::new(store).keys_after(&feed, prev)?,
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
    let expected = super::writer::expected_answers(store)?;
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
