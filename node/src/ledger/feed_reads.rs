//! Reads of feeds and their entries: a feed's state, entries by id, by seq and by a
//! collector's watch stream, frozen feeds and their equivocation proofs, and the grants to a
//! collector that expire in a window.

use consent_proto::Entry;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::validate::FeedState;

use super::staged::Staged;
use super::tables;
use super::{Ledger, LedgerError};
use crate::store::StoreError;

impl Ledger {
    /// A feed's state.
    pub fn head(&self, feed: &FeedId) -> Result<Option<FeedState>, LedgerError> {
        Ok(Staged::new(&*self.store)
            .feed_record(feed)?
            .map(|r| r.state())
            .transpose()?)
    }

    /// An accepted entry and its arrival index.
    pub fn entry(&self, id: &EntryId) -> Result<Option<(u64, Entry)>, LedgerError> {
        Ok(Staged::new(&*self.store).entry_with_index(id)?)
    }

    /// The arrival index of an accepted entry, without decoding it.
    pub fn entry_index(&self, id: &EntryId) -> Result<Option<u64>, LedgerError> {
        let Some(value) = self.store.get(&tables::entry_key(id))? else {
            return Ok(None);
        };
        Ok(Some(tables::split_entry_value(&value)?.0))
    }

    /// Up to `limit` entries of a feed from `from_seq`, with their arrival indexes.
    pub fn feed_entries(
        &self,
        feed: &FeedId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Entry)>, LedgerError> {
        let from = tables::seq_key(feed, from_seq);
        let to = tables::seq_key(feed, u64::MAX);
        let view = Staged::new(&*self.store);
        let mut out = Vec::new();
        for pair in self.store.scan_range(&from, &to).take(limit) {
            let (_, id) = pair?;
            let id = EntryId(tables::bytes32(&id)?);
            match view.entry_with_index(&id)? {
                Some(found) => out.push(found),
                None => {
                    return Err(
                        StoreError::Corrupt(format!("seq index names missing entry {id}")).into(),
                    );
                }
            }
        }
        Ok(out)
    }

    /// The entries (with their arrival index) that the values of at most `limit` rows in
    /// `from..to` name, in key order: an index whose values are entry ids (`what` names it in
    /// the error when a row names an entry not stored).
    pub(super) fn entries_named(
        &self,
        from: &[u8],
        to: &[u8],
        limit: usize,
        what: &str,
    ) -> Result<Vec<(u64, Entry)>, LedgerError> {
        let view = Staged::new(&*self.store);
        let mut out = Vec::new();
        for pair in self.store.scan_range(from, to).take(limit) {
            let (_, id) = pair?;
            let id = EntryId(tables::bytes32(&id)?);
            match view.entry_with_index(&id)? {
                Some(found) => out.push(found),
                None => {
                    return Err(
                        StoreError::Corrupt(format!("{what} names missing entry {id}")).into(),
                    );
                }
            }
        }
        Ok(out)
    }

    /// Entries that concern `collector` (its watch stream) with arrival index `>= from_index`,
    /// at most `limit`, in arrival order.
    pub fn watch_entries(
        &self,
        collector: &FeedId,
        from_index: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Entry)>, LedgerError> {
        let from = tables::watch_key(collector, from_index);
        let to = tables::watch_key(collector, u64::MAX);
        self.entries_named(&from, &to, limit, "watch index")
    }

    /// Feeds frozen that concern `collector` (itself, a registrar, or a subject with a grant to
    /// it, its own or a delegate's), numbered in the order this node froze them, from number `from` on: at most `limit`
    /// `(number, feed)` pairs, and the number after the last one scanned.
    pub fn freezes(
        &self,
        collector: &FeedId,
        from: u64,
        limit: usize,
    ) -> Result<(Vec<(u64, FeedId)>, u64), LedgerError> {
        let start = tables::freeze_key(from);
        let end = tables::freeze_key(u64::MAX);
        let mut out = Vec::new();
        let mut next = from;
        for pair in self.store.scan_range(&start, &end).take(limit) {
            let (key, feed) = pair?;
            let number = tables::be_u64(&key[1..])?;
            let feed = FeedId(tables::bytes32(&feed)?);
            next = number + 1;
            let concerns = feed == *collector
                || self.registrars.contains(&feed)
                || self
                    .store
                    .scan_prefix(&tables::grant_prefix(&feed, collector))
                    .next()
                    .is_some()
                || self
                    .store
                    .scan_prefix(&tables::delegated_grant_prefix(&feed, collector))
                    .next()
                    .is_some();
            if concerns {
                out.push((number, feed));
            }
        }
        Ok((out, next))
    }

    /// Grants to `collector` with `after_ms < valid_until <= until_ms` that are not revoked:
    /// `(valid_until, grant, subject)` in time order, at most `limit`.
    pub fn expiries(
        &self,
        collector: &FeedId,
        after_ms: u64,
        until_ms: u64,
        limit: usize,
    ) -> Result<Vec<(u64, EntryId, FeedId)>, LedgerError> {
        if until_ms <= after_ms {
            return Ok(Vec::new());
        }
        let from = tables::expiry_key(collector, after_ms.saturating_add(1), &EntryId([0; 32]));
        let to = tables::expiry_key(collector, until_ms, &EntryId([0xff; 32]));
        let view = Staged::new(&*self.store);
        let mut out = Vec::new();
        for pair in self.store.scan_range(&from, &to) {
            if out.len() >= limit {
                break;
            }
            let (key, subject) = pair?;
            let at = 1 + 32;
            let valid_until = tables::be_u64(&key[at..at + 8])?;
            let grant = EntryId(tables::bytes32(&key[at + 8..])?);
            let subject = FeedId(tables::bytes32(&subject)?);
            let Some((_, entry)) = view.entry_with_index(&grant)? else {
                continue;
            };
            let consent_proto::body::Body::Grant(g) = &entry.body else {
                continue;
            };
            // An own grant's `G` row, or a delegated grant's `d` row (under the person, who is
            // the subject here).
            let row = tables::grant_row(&entry, g);
            let revoked = match &g.on_behalf {
                None => view.grant_record(&row)?.map(|r| r.revoked),
                Some(_) => view.delegated_grant_record(&row)?.map(|r| r.grant.revoked),
            }
            .unwrap_or(false);
            if !revoked {
                out.push((valid_until, grant, subject));
            }
        }
        Ok(out)
    }

    /// Feeds frozen after an equivocation, in the order this node froze them, at most `limit`.
    pub fn frozen_feeds(&self, limit: usize) -> Result<Vec<FeedId>, LedgerError> {
        let mut out = Vec::new();
        for pair in self
            .store
            .scan_prefix(&[tables::prefix::FREEZE])
            .take(limit)
        {
            let (_, feed) = pair?;
            out.push(FeedId(tables::bytes32(&feed)?));
        }
        Ok(out)
    }

    /// The equivocation proofs held for a feed: both entries of each, encoded.
    pub fn proofs(&self, feed: &FeedId) -> Result<Vec<[Vec<u8>; 2]>, LedgerError> {
        let scan = [&[tables::prefix::PROOF][..], &feed.0].concat();
        let mut out = Vec::new();
        for pair in self.store.scan_prefix(&scan) {
            let (_, value) = pair?;
            let proof: tables::ProofRecord = tables::decode(&value, "proof")?;
            out.push([proof.held, proof.conflicting]);
        }
        Ok(out)
    }
}
