//! Reading delegations: the delegations of one person as the decision rule reads them
//! ([`Delegations`], for checks and for the transparency counts), the delegations that concern
//! a feed (`Ledger.ListDelegations`), what delegates signed in a person's name
//! (`Ledger.ListDelegated`, from the person's `l` rows), and the revocation by another feed a
//! decision receipt names.
//!
//! Reads only: the writer keeps these rows (`writer::delegations`). Listing a feed's
//! delegations reads at most [`ROWS_SCANNED`] rows of each of its two indexes (`j` for a person,
//! `t` for a delegate) and answers the oldest [`MAX_DELEGATIONS_LISTED`] of them.

use std::collections::HashMap;

use consent_proto::Entry;
use consent_proto::delegation::{DelegationState, counting_endorsement, withdrawal_counts};
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::limits::MAX_DELEGATIONS_LISTED;

use super::staged::Staged;
use super::tables::{self, DelegationRecord, EndorsementRecord, RevocationRecord};
use super::{Ledger, LedgerError};
use crate::store::{KvStore, StoreError};

/// Rows of one index a delegation listing reads at most (a delegate feed anyone can name in a
/// Delegation, so its `t` rows are not bounded by what it signed).
pub(super) const ROWS_SCANNED: usize = 4_096;

/// One delegation as `Ledger.ListDelegations` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegationListing {
    /// The Delegation entry's arrival index.
    pub index: u64,
    /// The Delegation entry.
    pub entry: Entry,
    /// The earliest `void_from_ms` of the Undelegations held, if it ends the delegation before
    /// its `valid_until` (0: none does).
    pub end_ms: u64,
    /// The Undelegations held, in arrival order (at most
    /// [`tables::UNDELEGATIONS_LISTED`]).
    pub undelegations: Vec<EntryId>,
}

impl Ledger {
    /// The delegations that concern `feed`, at most [`MAX_DELEGATIONS_LISTED`]: those it gave (as
    /// a person) first, then those naming it as delegate, each part oldest first (by the
    /// Delegation's arrival index). Anyone can name a feed as delegate, so strangers cannot push
    /// the feed's own delegations out of the listing. Blocking: call it off the async threads.
    pub fn delegations(&self, feed: &FeedId) -> Result<Vec<DelegationListing>, LedgerError> {
        let view = Staged::new(&*self.store);
        let mut found: Vec<(FeedId, EntryId, DelegationRecord)> = Vec::new();
        let given = tables::delegation_prefix(feed);
        for pair in self.store.scan_prefix(&given).take(ROWS_SCANNED) {
            let (key, value) = pair?;
            let id = EntryId(tables::bytes32(&key[given.len()..])?);
            found.push((*feed, id, tables::decode(&value, "delegation")?));
        }
        let named = tables::delegation_by_delegate_prefix(feed);
        for pair in self.store.scan_prefix(&named).take(ROWS_SCANNED) {
            let (key, _) = pair?;
            let at = named.len();
            let person = FeedId(tables::bytes32(key.get(at..at + 32).unwrap_or_default())?);
            let id = EntryId(tables::bytes32(key.get(at + 32..).unwrap_or_default())?);
            let record = view.delegation_record(&person, &id)?.ok_or_else(|| {
                StoreError::Corrupt(format!("delegation index names {id}, which has no record"))
            })?;
            found.push((person, id, record));
        }
        let mut out = Vec::with_capacity(found.len());
        for (person, id, record) in found {
            let (index, entry) = view.entry_with_index(&id)?.ok_or_else(|| {
                StoreError::Corrupt(format!("delegation {id} has a record but no entry"))
            })?;
            out.push((
                person != *feed,
                DelegationListing {
                    index,
                    entry,
                    end_ms: record.ended_early_ms(),
                    undelegations: record.undelegations.iter().map(|u| EntryId(*u)).collect(),
                },
            ));
        }
        // Given first (a feed naming itself is refused by validity, so the parts are disjoint).
        out.sort_by_key(|(named, d)| (*named, d.index));
        let mut out: Vec<DelegationListing> = out.into_iter().map(|(_, d)| d).collect();
        out.truncate(MAX_DELEGATIONS_LISTED);
        Ok(out)
    }

    /// Entries delegates signed in `person`'s name (statements with `on_behalf`, endorsements,
    /// resignations of its delegations) with an arrival index above `after`, in arrival order,
    /// at most `limit`. Blocking: call it off the async threads.
    pub fn delegated_entries(
        &self,
        person: &FeedId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Entry)>, LedgerError> {
        let Some(first) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        let from = tables::delegated_log_key(person, first);
        let to = tables::delegated_log_key(person, u64::MAX);
        self.entries_named(&from, &to, limit, "delegated log")
    }

    /// A revocation of `grant` (a grant in `person`'s name) by another feed than the grant's own
    /// that counts (the person's of a delegate's grant, or a delegate's whose delegation counted
    /// when it signed), with its arrival index: what a `REVOKED` receipt names when the grant's
    /// own feed did not revoke it. Blocking.
    pub fn counting_revocation(
        &self,
        person: &FeedId,
        grant: &EntryId,
    ) -> Result<Option<(u64, EntryId)>, LedgerError> {
        let mut delegations = Delegations::new(&*self.store, *person);
        let rows: Vec<_> = self
            .store
            .scan_prefix(&tables::revocation_prefix(grant))
            .collect::<Result<_, _>>()?;
        let prefix = tables::revocation_prefix(grant);
        for (key, value) in rows {
            let revoker = FeedId(tables::bytes32(
                key.get(prefix.len()..).unwrap_or_default(),
            )?);
            let record: RevocationRecord = tables::decode(&value, "revocation")?;
            if delegations.counts(&revoker, &record)? {
                let id = EntryId(record.revoke);
                let index = Staged::new(&*self.store)
                    .entry_with_index(&id)?
                    .map(|(index, _)| index)
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("revocation {id} has a row but no entry"))
                    })?;
                return Ok(Some((index, id)));
            }
        }
        Ok(None)
    }
}

/// The delegations of one subject as the rule reads them, each read from its `j` row once per
/// check.
pub(super) struct Delegations<'a> {
    store: &'a dyn KvStore,
    person: FeedId,
    read: HashMap<EntryId, DelegationState>,
    /// Whether each signing feed read so far is frozen.
    frozen: HashMap<FeedId, bool>,
}

impl<'a> Delegations<'a> {
    pub(super) fn new(store: &'a dyn KvStore, person: FeedId) -> Self {
        Self {
            store,
            person,
            read: HashMap::new(),
            frozen: HashMap::new(),
        }
    }

    /// Whether `feed` is frozen: then nothing it signed in someone's name is read
    /// ([`consent_proto::delegation::read_in_someones_name`]). Read once per feed per check.
    pub(super) fn frozen(&mut self, feed: &FeedId) -> Result<bool, StoreError> {
        if let Some(frozen) = self.frozen.get(feed) {
            return Ok(*frozen);
        }
        let frozen = Staged::new(self.store)
            .feed_record(feed)?
            .is_some_and(|r| r.frozen);
        self.frozen.insert(*feed, frozen);
        Ok(frozen)
    }

    /// The person's delegation `id` (every delegated statement about the person names one of
    /// the person's Delegations, which validity required present).
    pub(super) fn state(&mut self, id: &EntryId) -> Result<DelegationState, StoreError> {
        if let Some(state) = self.read.get(id) {
            return Ok(*state);
        }
        let record = Staged::new(self.store)
            .delegation_record(&self.person, id)?
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "a delegated statement names delegation {id}, which has no record"
                ))
            })?;
        let state = record.state(*id, self.person)?;
        self.read.insert(*id, state);
        Ok(state)
    }

    /// Whether a revocation of `grant` by another feed than the grant's own (its `h` rows)
    /// counts: the person's own always, a delegate's if its delegation counted when it signed.
    pub(super) fn revoked_elsewhere(&mut self, grant: &EntryId) -> Result<bool, StoreError> {
        let rows: Vec<_> = self
            .store
            .scan_prefix(&tables::revocation_prefix(grant))
            .collect::<Result<_, _>>()?;
        let prefix = tables::revocation_prefix(grant);
        for (key, value) in rows {
            let revoker = FeedId(tables::bytes32(
                key.get(prefix.len()..).unwrap_or_default(),
            )?);
            let record: RevocationRecord = tables::decode(&value, "revocation")?;
            if self.counts(&revoker, &record)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether a revocation by another feed (`revoker`) counts: the person's own always, a
    /// delegate's if signed before its delegation ended for withdrawals, and never a frozen
    /// feed's in someone's name.
    pub(super) fn counts(
        &mut self,
        revoker: &FeedId,
        record: &RevocationRecord,
    ) -> Result<bool, StoreError> {
        if record.delegation.is_some() && self.frozen(revoker)? {
            return Ok(false);
        }
        Ok(match record.delegation {
            None => withdrawal_counts(None),
            Some(delegation) => {
                let state = self.state(&EntryId(delegation))?;
                withdrawal_counts(Some((&state, record.signed_ms)))
            }
        })
    }

    /// The endorsement that counts for the 2-of-2 grant `grant` under `delegation` (its `b`
    /// rows), as `counting_endorsement` picks it.
    pub(super) fn endorsement(
        &mut self,
        grant: &EntryId,
        delegation: &DelegationState,
    ) -> Result<Option<EntryId>, StoreError> {
        let prefix = tables::endorsement_prefix(grant);
        let rows: Vec<_> = self.store.scan_prefix(&prefix).collect::<Result<_, _>>()?;
        let mut endorsements = Vec::with_capacity(rows.len());
        for (key, value) in rows {
            let at = prefix.len();
            let endorser = FeedId(tables::bytes32(key.get(at..at + 32).unwrap_or_default())?);
            let id = EntryId(tables::bytes32(key.get(at + 32..).unwrap_or_default())?);
            // A frozen feed's endorsements never count.
            if self.frozen(&endorser)? {
                continue;
            }
            let record: EndorsementRecord = tables::decode(&value, "endorsement")?;
            let state = self.state(&EntryId(record.delegation))?;
            endorsements.push((id, endorser, record.signed_ms, state));
        }
        let endorsements: Vec<_> = endorsements
            .iter()
            .map(|(id, endorser, signed_ms, state)| (*id, *endorser, *signed_ms, state))
            .collect();
        Ok(counting_endorsement(delegation.co_signer, &endorsements))
    }

    /// The signed time of the newest opt-out of sale/sharing a delegate signed on the person's
    /// behalf, addressed to `collector`, whose delegation counted then (`i` rows, newest first:
    /// the first that counts).
    pub(super) fn newest_opt_out(&mut self, collector: &FeedId) -> Result<Option<u64>, StoreError> {
        let prefix = tables::delegated_opt_out_prefix(&self.person, collector);
        let store = self.store;
        for pair in store.scan_prefix_rev(&prefix) {
            let (key, value) = pair?;
            let at = prefix.len();
            let signed_ms = tables::be_u64(key.get(at..at + 8).unwrap_or_default())?;
            let state = self.state(&EntryId(tables::bytes32(&value)?))?;
            if withdrawal_counts(Some((&state, signed_ms))) && !self.frozen(&state.delegate)? {
                return Ok(Some(signed_ms));
            }
        }
        Ok(None)
    }
}

/// Every person with a Delegation (a `j` row), once each, in key order: what the `g` marks
/// must name (the migration to layout 9 writes them, the complete check compares them).
pub(super) fn delegating_persons(
    store: &dyn KvStore,
) -> impl Iterator<Item = Result<[u8; 32], StoreError>> + '_ {
    let mut last: Option<[u8; 32]> = None;
    store
        .scan_prefix(&[tables::prefix::DELEGATION])
        .filter_map(move |pair| {
            let person =
                pair.and_then(|(key, _)| tables::bytes32(key.get(1..33).unwrap_or_default()));
            match person {
                Ok(p) if last == Some(p) => None,
                Ok(p) => {
                    last = Some(p);
                    Some(Ok(p))
                }
                Err(e) => Some(Err(e)),
            }
        })
}

#[cfg(test)]
pub(crate) mod tests;
