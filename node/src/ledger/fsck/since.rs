//! The start-up check from a start-up position `P` (`fsck::at_start`): what came before `P` was
//! checked by an earlier start or written by a writer whose start passed its check, so only what
//! came after it is checked, and the Merkle tree is rebuilt from the block rows before `P`.
//!
//! First the position must describe the store, or it is *unusable* and the start runs the
//! complete check instead: its counters fit the store's, the arrival log's entry at `P - 1` is the
//! one it names, and the tree rebuilt from the block rows `0..P/64` and the log's entries from the
//! last block edge to `P` has its root. Then, for the log after `P` (each finding is a damaged
//! store: the node refuses it):
//! - the log is exactly `P..log size`, each index naming an entry stored with that index that
//!   decodes to itself, and each block it completes has its block row; no block row lies past
//!   the log;
//! - the feeds those entries belong to: their seq indexes from the first such entry on are
//!   exactly those entries, the seq before is stored, their records' heads are the last, and as
//!   many feeds were incepted as the feed counter moved;
//! - the rows each entry wrote name what they must (a grant's record, a revocation's mark or
//!   row, a consultation's record, a stance, response or outcome row and its consultation, a
//!   delegation's rows, an endorsement's, the person's delegated-log row of a statement made in
//!   someone's name), with the row checks of the complete check;
//! - the whole freeze list (before `P` too: a frozen flag lost to damage would turn a feed's
//!   checks from deny to allow) names distinct frozen feeds, as many as the frozen counter says;
//! - pending records decode (bounded by `max_pending`, not by the log).
//!
//! The work is the entries after `P` (a few reads each), `P / 64` block rows and one read per
//! frozen feed: never the whole log. What lies before `P` is otherwise left to `consentd
//! check-store`: among it, stray entry rows (`E`) outside the log (entry rows are keyed by id,
//! so only a scan of them all finds one), feed records without entries and seq rows of feeds
//! untouched since `P`.

use std::collections::{BTreeMap, HashSet};

use consent_proto::Entry;
use consent_proto::body::{Body, Revoke};
use consent_proto::ids::{EntryId, FeedId};

use super::super::tables::{
    self, DelegatedGrantRecord, FeedRecord, GrantRecord, ResponseRecord, StanceRecord,
    StartupPosition, prefix,
};
use super::super::tree::{BLOCK, Frontier};
use super::Report;
use crate::store::{KvStore, StoreError};

/// What the check from a position found.
pub(super) enum Since {
    /// Everything after the position holds: the tree frontier over the whole log, and how many
    /// entries came after the position.
    Checked {
        /// The frontier over the whole log.
        tree: Frontier,
        /// Entries after the position.
        after: u64,
    },
    /// The position does not describe this store (why): the complete check must run.
    Unusable(String),
}

/// Checks what came after `position` in a store whose counters are `(log size, feeds,
/// frozen)`; `Err` with the findings when the store is damaged after it.
pub(super) fn since(
    store: &dyn KvStore,
    position: &StartupPosition,
    counters: (u64, u64, u64),
) -> Result<Since, Report> {
    let (log_size, feeds, frozen) = counters;
    if let Err(why) = position.consistent_with(counters) {
        return Ok(Since::Unusable(why));
    }
    let p = position.log_size;
    if let Some(last) = p.checked_sub(1)
        && store.get(&tables::log_key(last))?.as_deref() != Some(&position.last[..])
    {
        return Ok(Since::Unusable(format!(
            "the arrival log's entry at {last} is not the one it names"
        )));
    }
    let mut tree = match frontier_at(store, p)? {
        Ok(tree) => tree,
        Err(why) => return Ok(Since::Unusable(why)),
    };
    if tree.root() != position.root {
        return Ok(Since::Unusable(format!(
            "the root of the log's first {p} entries (from the block rows and the log) is not \
             its root"
        )));
    }

    let mut report = Report::default();
    let mut appended: BTreeMap<[u8; 32], Vec<(u64, EntryId)>> = BTreeMap::new();
    let mut expected = p;
    for pair in store.scan_range(&tables::log_key(p), &[prefix::LOG + 1]) {
        let (key, id) = pair?;
        let index = tables::be_u64(&key[1..])?;
        if index != expected {
            report.add(format!(
                "arrival log jumps from index {expected} to {index} (after the start-up \
                 position at {p})"
            ));
            expected = index;
        }
        expected = expected.saturating_add(1);
        let id = EntryId(tables::bytes32(&id)?);
        let blocks = tree.blocks();
        tree.push(&id);
        if tree.blocks() > blocks {
            block_row(store, &tree, blocks, &mut report)?;
        }
        if let Some(entry) = logged(store, index, &id, &mut report)? {
            appended
                .entry(entry.feed.0)
                .or_default()
                .push((entry.seq, entry.id));
            effects(store, &entry, index, &mut report)?;
        }
    }
    if expected != log_size {
        report.add(format!(
            "arrival log holds {expected} entries, its counter says {log_size}"
        ));
    }
    if let Some((key, _)) = store.last_with_prefix(&[prefix::BLOCK])?
        && key
            .get(1..)
            .and_then(|n| tables::be_u64(n).ok())
            .is_none_or(|n| n >= tree.blocks())
    {
        report.add(format!(
            "block row (key {}) past the arrival log's {} whole blocks",
            hex::encode(&key),
            tree.blocks()
        ));
    }
    let incepted = feed_heads(store, appended, &mut report)?;
    if feeds - position.feeds != incepted {
        report.add(format!(
            "the feed counter moved from {} to {feeds} since the start-up position, but {incepted} \
             feeds were incepted after it",
            position.feeds
        ));
    }
    // Every freeze, not only those after the position: one read per frozen feed.
    super::freezes(store, 0, frozen, &mut report)?;
    super::pending(store, &mut report)?;
    report.result().map(|()| Since::Checked {
        tree,
        after: log_size - p,
    })
}

/// The frontier over the log's first `p` entries, from the block rows before `p` and the log
/// from the last block edge to `p`; why not, when those rows are not all there.
fn frontier_at(store: &dyn KvStore, p: u64) -> Result<Result<Frontier, String>, StoreError> {
    let whole = p / BLOCK;
    let mut tree = Frontier::default();
    for pair in store.scan_range(&tables::block_key(0), &tables::block_key(whole)) {
        let (key, value) = pair?;
        let number = key.get(1..).and_then(|n| tables::be_u64(n).ok());
        match (number, <[u8; 32]>::try_from(value.as_slice())) {
            // Only blocks so far: a whole block always goes on.
            (Some(n), Ok(hash)) if n == tree.blocks() => {
                tree.push_block(hash);
            }
            _ => {
                return Ok(Err(format!(
                    "the block rows before it are not the {whole} of its whole blocks"
                )));
            }
        }
    }
    if tree.blocks() != whole {
        return Ok(Err(format!(
            "{} of the {whole} block rows before it are stored",
            tree.blocks()
        )));
    }
    for pair in store.scan_range(&tables::log_key(whole * BLOCK), &tables::log_key(p)) {
        let (key, id) = pair?;
        let index = key.get(1..).and_then(|i| tables::be_u64(i).ok());
        match (index, <[u8; 32]>::try_from(id.as_slice())) {
            (Some(i), Ok(id)) if i == tree.size() => tree.push(&EntryId(id)),
            _ => {
                return Ok(Err(
                    "the arrival log before it is not contiguous".to_string()
                ));
            }
        }
    }
    if tree.size() != p {
        return Ok(Err(format!(
            "the arrival log before it holds {} of its {p} entries",
            tree.size()
        )));
    }
    Ok(Ok(tree))
}

/// Block `block`, just completed in `tree`, has its row.
fn block_row(
    store: &dyn KvStore,
    tree: &Frontier,
    block: u64,
    report: &mut Report,
) -> Result<(), StoreError> {
    let stored = store.get(&tables::block_key(block))?;
    if stored.as_deref() != tree.block_hash(block).as_ref().map(|h| &h[..]) {
        report.add(format!(
            "block row {block} is missing or not the hash of arrival log entries {}..{}",
            block * BLOCK,
            (block + 1) * BLOCK
        ));
    }
    Ok(())
}

/// The entry log index `index` names: stored with that index, decoding to itself.
fn logged(
    store: &dyn KvStore,
    index: u64,
    id: &EntryId,
    report: &mut Report,
) -> Result<Option<Entry>, StoreError> {
    let Some(value) = store.get(&tables::entry_key(id))? else {
        report.add(format!(
            "log index {index} names entry {id}, which is not stored"
        ));
        return Ok(None);
    };
    let (stored_index, bytes) = tables::split_entry_value(&value)?;
    if stored_index != index {
        report.add(format!(
            "entry {id} is stored with index {stored_index} but logged at {index}"
        ));
    }
    match Entry::decode(bytes) {
        Ok(entry) if entry.id == *id => Ok(Some(entry)),
        _ => {
            report.add(format!(
                "entry {id} (log index {index}) does not decode to itself"
            ));
            Ok(None)
        }
    }
}

/// The feeds entries were appended to after the position (`appended`: their `(seq, id)`s in log
/// order, by feed): each one's seq index from the first of them on is exactly them, the seq
/// before is stored, and its record's head is the last. Returns how many were incepted.
fn feed_heads(
    store: &dyn KvStore,
    appended: BTreeMap<[u8; 32], Vec<(u64, EntryId)>>,
    report: &mut Report,
) -> Result<u64, StoreError> {
    let mut incepted = 0;
    for (feed, entries) in appended {
        let feed = FeedId(feed);
        let (Some(&(first, _)), Some(&(head_seq, head_id))) = (entries.first(), entries.last())
        else {
            continue;
        };
        if first == 0 {
            incepted += 1;
        } else if store.get(&tables::seq_key(&feed, first - 1))?.is_none() {
            report.add(format!(
                "feed {feed:?} has a gap before seq {first}, its first entry after the start-up \
                 position"
            ));
        }
        let seq_prefix = tables::seq_prefix(&feed);
        let end = super::super::prefix_end(&seq_prefix).unwrap_or_else(|| vec![prefix::SEQ + 1]);
        let mut stored = Vec::with_capacity(entries.len());
        for pair in store.scan_range(&tables::seq_key(&feed, first), &end) {
            let (key, id) = pair?;
            match (key.get(33..).map(tables::be_u64), tables::bytes32(&id)) {
                (Some(Ok(seq)), Ok(id)) if key.len() == 41 => stored.push((seq, EntryId(id))),
                _ => report.add(format!("malformed seq index row of feed {feed:?}")),
            }
        }
        let contiguous = entries
            .iter()
            .zip(first..)
            .all(|((seq, _), expected)| *seq == expected);
        if !contiguous || stored != entries {
            report.add(format!(
                "feed {feed:?}: its seq index from seq {first} on is not the entries logged \
                 after the start-up position"
            ));
        }
        match store.get(&tables::feed_key(&feed))? {
            None => report.add(format!(
                "feed {feed:?} has entries after the start-up position but no record"
            )),
            Some(value) => {
                let record: FeedRecord = tables::decode(&value, "feed")?;
                if record.head_seq != head_seq || record.head_id != head_id.0 {
                    report.add(format!(
                        "feed {feed:?}: head is seq {} but its last entry is seq {head_seq}",
                        record.head_seq
                    ));
                }
                if let Err(e) = record.state() {
                    report.add(format!("feed {feed:?}: {e}"));
                }
            }
        }
    }
    Ok(incepted)
}

/// The rows `entry` (at log index `index`) wrote when it was appended name what they must (see
/// `writer::append`, whose keys this follows).
fn effects(
    store: &dyn KvStore,
    entry: &Entry,
    index: u64,
    report: &mut Report,
) -> Result<(), StoreError> {
    let missing = |report: &mut Report, what: &str| {
        report.add(format!(
            "entry {} (log index {index}) has no {what} row",
            entry.id
        ));
    };
    match &entry.body {
        Body::Grant(g) => {
            let row = tables::grant_row(entry, g);
            match (store.get(&row)?, &g.on_behalf) {
                (None, None) => missing(report, "grant"),
                (None, Some(_)) => missing(report, "delegated grant"),
                (Some(value), None) => {
                    super::grant_row(store, &row, &value, &mut HashSet::new(), report)?;
                }
                (Some(value), Some(on_behalf)) => {
                    super::delegations::row(store, prefix::DELEGATED_GRANT, &row, &value, report)?;
                    statement(store, entry, &on_behalf.person, index, report)?;
                }
            }
        }
        Body::Request(r) => {
            if let Some(on_behalf) = &r.on_behalf {
                statement(store, entry, &on_behalf.person, index, report)?;
            }
        }
        Body::Revoke(r) => revoke(store, entry, r, index, report)?,
        Body::Policy(p) if p.consultation.is_some() => {
            match store.get(&tables::consultation_key(&entry.id))? {
                None => missing(report, "consultation"),
                Some(value) => {
                    super::consultations::consultation_row(store, &entry.id, &value, report)?;
                }
            }
        }
        Body::Stance(s) => {
            let row = store.get(&tables::stance_key(&s.draft, &entry.feed))?;
            let kept = row
                .map(|v| tables::decode::<StanceRecord>(&v, "stance"))
                .transpose()?
                .is_some_and(|r| r.seq >= entry.seq);
            if !kept {
                missing(report, "stance");
            }
            consultation(store, entry, &s.draft, index, report)?;
        }
        Body::Response(r) => {
            let row = store.get(&tables::response_key(&r.draft, r.reason as i32 as u8))?;
            let kept = row
                .map(|v| tables::decode::<ResponseRecord>(&v, "response"))
                .transpose()?
                .is_some_and(|r| r.seq >= entry.seq);
            if !kept {
                missing(report, "response");
            }
            consultation(store, entry, &r.draft, index, report)?;
        }
        Body::Outcome(o) => {
            let key = tables::outcome_key(&o.draft, entry.time_ms, &entry.id);
            if store.get(&key)?.is_none() {
                missing(report, "outcome");
            }
            consultation(store, entry, &o.draft, index, report)?;
        }
        Body::Delegation(d) => {
            let key = tables::delegation_key(&entry.feed, &entry.id);
            match store.get(&key)? {
                None => missing(report, "delegation"),
                Some(value) => {
                    super::delegations::row(store, prefix::DELEGATION, &key, &value, report)?;
                }
            }
            super::delegations::marked(store, &entry.feed.0, report)?;
            let by_delegate =
                tables::delegation_by_delegate_key(&d.delegate, &entry.feed, &entry.id);
            if store.get(&by_delegate)?.is_none() {
                missing(report, "delegation-by-delegate");
            }
        }
        Body::Undelegation(u) => {
            let Some(delegation) = stored_entry(store, &u.delegation)? else {
                report.add(format!(
                    "undelegation {} (log index {index}) names delegation {}, which is not stored",
                    entry.id, u.delegation
                ));
                return Ok(());
            };
            let person = delegation.feed;
            let key = tables::delegation_key(&person, &u.delegation);
            match store.get(&key)? {
                None => missing(report, "delegation"),
                Some(value) => {
                    super::delegations::row(store, prefix::DELEGATION, &key, &value, report)?;
                }
            }
            if entry.feed != person {
                statement(store, entry, &person, index, report)?;
            }
        }
        Body::Endorsement(e) => {
            let key = tables::endorsement_key(&e.grant, &entry.feed, &entry.id);
            match store.get(&key)? {
                None => missing(report, "endorsement"),
                Some(value) => {
                    super::delegations::row(store, prefix::ENDORSEMENT, &key, &value, report)?;
                }
            }
            statement(store, entry, &e.on_behalf.person, index, report)?;
        }
        _ => {}
    }
    Ok(())
}

/// A Revoke: a feed's revocation of its own grant marks the grant's record revoked; any other
/// feed's is a revocation row. With `on_behalf`, the person's delegated-log row names it.
fn revoke(
    store: &dyn KvStore,
    entry: &Entry,
    r: &Revoke,
    index: u64,
    report: &mut Report,
) -> Result<(), StoreError> {
    let Some(granted) = stored_entry(store, &r.grant)? else {
        report.add(format!(
            "revocation {} (log index {index}) names grant {}, which is not stored",
            entry.id, r.grant
        ));
        return Ok(());
    };
    // The write path stages nothing for a Revoke of an entry that is no grant.
    let Body::Grant(g) = &granted.body else {
        return Ok(());
    };
    if entry.feed == granted.feed {
        let key = tables::grant_row(&granted, g);
        let revoked = match (store.get(&key)?, &g.on_behalf) {
            (None, _) => false,
            (Some(value), None) => tables::decode::<GrantRecord>(&value, "grant")?.revoked,
            (Some(value), Some(_)) => {
                tables::decode::<DelegatedGrantRecord>(&value, "delegated grant")?
                    .grant
                    .revoked
            }
        };
        if !revoked {
            report.add(format!(
                "revocation {} (log index {index}) of its own grant {}: the grant's record is \
                 missing or not revoked",
                entry.id, r.grant
            ));
        }
    } else {
        let key = tables::revocation_key(&r.grant, &entry.feed);
        match store.get(&key)? {
            None => report.add(format!(
                "revocation {} (log index {index}) has no revocation row",
                entry.id
            )),
            Some(value) => {
                super::delegations::row(store, prefix::REVOCATION, &key, &value, report)?;
            }
        }
    }
    if let Some(on_behalf) = &r.on_behalf {
        statement(store, entry, &on_behalf.person, index, report)?;
    }
    Ok(())
}

/// A statement made in `person`'s name: the person's delegated-log row at `index` names it.
fn statement(
    store: &dyn KvStore,
    entry: &Entry,
    person: &FeedId,
    index: u64,
    report: &mut Report,
) -> Result<(), StoreError> {
    let row = store.get(&tables::delegated_log_key(person, index))?;
    if row.as_deref() != Some(&entry.id.0[..]) {
        report.add(format!(
            "entry {} (log index {index}), signed in {person:?}'s name, has no delegated-log row",
            entry.id
        ));
    }
    Ok(())
}

/// The consultation `draft` a stance, response or outcome is about has its record.
fn consultation(
    store: &dyn KvStore,
    entry: &Entry,
    draft: &EntryId,
    index: u64,
    report: &mut Report,
) -> Result<(), StoreError> {
    if store.get(&tables::consultation_key(draft))?.is_none() {
        report.add(format!(
            "entry {} (log index {index}) is about consultation {draft}, which has no record",
            entry.id
        ));
    }
    Ok(())
}

/// A stored entry, decoded (`None` when it is not stored or does not decode).
fn stored_entry(store: &dyn KvStore, id: &EntryId) -> Result<Option<Entry>, StoreError> {
    let Some(value) = store.get(&tables::entry_key(id))? else {
        return Ok(None);
    };
    let (_, bytes) = tables::split_entry_value(&value)?;
    Ok(Entry::decode(bytes).ok())
}
