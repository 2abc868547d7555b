//! Writes of one group commit, staged over the store so that later entries of the same group
//! see earlier ones (read-your-writes), then applied as one atomic batch.

use std::collections::HashMap;

use consent_proto::Entry;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::validate::{FeedState, KeyState, LedgerView};

use super::tables::{
    self, DelegatedGrantRecord, DelegationRecord, FeedRecord, GrantRecord, RotationRecord,
};
use crate::store::{KvStore, Pair, StoreError, Write};

/// The store plus the writes staged so far.
pub(crate) struct Staged<'a, S: KvStore + ?Sized> {
    store: &'a S,
    writes: HashMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a, S: KvStore + ?Sized> Staged<'a, S> {
    /// Nothing staged yet.
    pub(crate) fn new(store: &'a S) -> Self {
        Self {
            store,
            writes: HashMap::new(),
        }
    }

    /// Reads through the staged writes.
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.store.get(key),
        }
    }

    /// The first key in `[from, to)`, through the staged writes (a rotation staged earlier in
    /// the same group counts).
    pub(crate) fn first_in_range(
        &self,
        from: &[u8],
        to: &[u8],
    ) -> Result<Option<Pair>, StoreError> {
        let mut first = None;
        for pair in self.store.scan_range(from, to) {
            let (key, value) = pair?;
            // A key deleted in this group does not count; the next stored one might.
            match self.writes.get(&key) {
                Some(None) => continue,
                Some(Some(staged)) => first = Some((key, staged.clone())),
                None => first = Some((key, value)),
            }
            break;
        }
        for (key, value) in &self.writes {
            if let Some(value) = value
                && key.as_slice() >= from
                && key.as_slice() < to
                && first.as_ref().is_none_or(|(k, _)| key < k)
            {
                first = Some((key.clone(), value.clone()));
            }
        }
        Ok(first)
    }

    /// Every pair whose key starts with `prefix`, through the staged writes, in key order (a
    /// stance staged earlier in the same group counts). Reads the whole prefix: for short ones.
    pub(crate) fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Pair>, StoreError> {
        let mut rows = std::collections::BTreeMap::new();
        for pair in self.store.scan_prefix(prefix) {
            let (key, value) = pair?;
            rows.insert(key, value);
        }
        for (key, value) in &self.writes {
            if key.starts_with(prefix) {
                match value {
                    Some(value) => {
                        rows.insert(key.clone(), value.clone());
                    }
                    None => {
                        rows.remove(key);
                    }
                }
            }
        }
        Ok(rows.into_iter().collect())
    }

    /// Like [`Self::scan_prefix`], but `None` when more than `limit` stored rows start with
    /// `prefix` (reads at most `limit + 1` of them).
    pub(crate) fn scan_prefix_at_most(
        &self,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Option<Vec<Pair>>, StoreError> {
        let mut rows = std::collections::BTreeMap::new();
        for pair in self.store.scan_prefix(prefix).take(limit.saturating_add(1)) {
            let (key, value) = pair?;
            rows.insert(key, value);
        }
        if rows.len() > limit {
            return Ok(None);
        }
        for (key, value) in &self.writes {
            if key.starts_with(prefix) {
                match value {
                    Some(value) => {
                        rows.insert(key.clone(), value.clone());
                    }
                    None => {
                        rows.remove(key);
                    }
                }
            }
        }
        Ok(Some(rows.into_iter().collect()))
    }

    /// Stages a put.
    pub(crate) fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }

    /// Stages a delete.
    pub(crate) fn delete(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// Whether anything is staged.
    pub(crate) fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// The batch to apply.
    pub(crate) fn into_writes(self) -> Vec<Write> {
        self.writes.into_iter().collect()
    }

    /// A feed record.
    pub(crate) fn feed_record(&self, feed: &FeedId) -> Result<Option<FeedRecord>, StoreError> {
        self.get(&tables::feed_key(feed))?
            .map(|v| tables::decode(&v, "feed"))
            .transpose()
    }

    /// An accepted entry with its arrival index.
    pub(crate) fn entry_with_index(
        &self,
        id: &EntryId,
    ) -> Result<Option<(u64, Entry)>, StoreError> {
        let Some(value) = self.get(&tables::entry_key(id))? else {
            return Ok(None);
        };
        let (index, bytes) = tables::split_entry_value(&value)?;
        let entry = Entry::decode(bytes)
            .map_err(|e| StoreError::Corrupt(format!("stored entry {id}: {e}")))?;
        Ok(Some((index, entry)))
    }

    /// A grant record.
    pub(crate) fn grant_record(&self, key: &[u8]) -> Result<Option<GrantRecord>, StoreError> {
        self.get(key)?
            .map(|v| tables::decode(&v, "grant"))
            .transpose()
    }

    /// A delegated grant's record (`d` row).
    pub(crate) fn delegated_grant_record(
        &self,
        key: &[u8],
    ) -> Result<Option<DelegatedGrantRecord>, StoreError> {
        self.get(key)?
            .map(|v| tables::decode(&v, "delegated grant"))
            .transpose()
    }

    /// The `j` row of `person`'s Delegation `delegation`.
    pub(crate) fn delegation_record(
        &self,
        person: &FeedId,
        delegation: &EntryId,
    ) -> Result<Option<DelegationRecord>, StoreError> {
        self.get(&tables::delegation_key(person, delegation))?
            .map(|v| tables::decode(&v, "delegation"))
            .transpose()
    }
}

impl<S: KvStore + ?Sized> LedgerView for Staged<'_, S> {
    type Error = StoreError;

    fn feed(&self, feed: &FeedId) -> Result<Option<FeedState>, StoreError> {
        self.feed_record(feed)?.map(|r| r.state()).transpose()
    }

    fn entry(&self, id: &EntryId) -> Result<Option<Entry>, StoreError> {
        Ok(self.entry_with_index(id)?.map(|(_, e)| e))
    }

    fn entry_at(&self, feed: &FeedId, seq: u64) -> Result<Option<Entry>, StoreError> {
        let Some(id) = self.get(&tables::seq_key(feed, seq))? else {
            return Ok(None);
        };
        self.entry(&EntryId(tables::bytes32(&id)?))
    }

    fn keys_after(&self, feed: &FeedId, seq: u64) -> Result<Option<KeyState>, StoreError> {
        let Some(record) = self.feed_record(feed)? else {
            return Ok(None);
        };
        if seq > record.head_seq {
            return Ok(None);
        }
        let keys = record.keys();
        if keys.since <= seq {
            return Ok(Some(keys));
        }
        // The first rotation after `seq` names the keys it replaced: those in force at `seq`. One
        // range read, however often the feed rotated.
        let from = tables::rotation_key(feed, seq + 1);
        let to = tables::rotation_key(feed, keys.since.saturating_add(1));
        let Some((key, row)) = self.first_in_range(&from, &to)? else {
            return Err(StoreError::Corrupt(format!(
                "no rotation record for {feed:?} between seq {} and {}",
                seq + 1,
                keys.since
            )));
        };
        let row: RotationRecord = tables::decode(&row, "rotation")?;
        let at = tables::be_u64(&key[33..])?;
        if row.previous.since > seq || row.previous.since >= at {
            return Err(StoreError::Corrupt(format!(
                "rotation record for {feed:?} at seq {at} names keys from seq {}",
                row.previous.since
            )));
        }
        Ok(Some(row.previous.into()))
    }

    /// Whether `feed` revoked `grant` earlier: the grant's own feed's Revoke (in someone's name or
    /// not) marks its record; any other feed's revocation (a delegate's, or the person's of a
    /// delegate's grant) is an `h` row under its revoker. Never another feed's revocation: that
    /// would depend on the order other feeds' entries arrived in.
    fn revoked_by(&self, grant: &EntryId, feed: &FeedId) -> Result<bool, StoreError> {
        let Some(entry) = self.entry(grant)? else {
            return Ok(false);
        };
        let consent_proto::body::Body::Grant(g) = &entry.body else {
            return Ok(false);
        };
        if entry.feed == *feed {
            let row = tables::grant_row(&entry, g);
            let revoked = match &g.on_behalf {
                None => self.grant_record(&row)?.is_some_and(|r| r.revoked),
                Some(_) => self
                    .delegated_grant_record(&row)?
                    .is_some_and(|r| r.grant.revoked),
            };
            if revoked {
                return Ok(true);
            }
        }
        Ok(self.get(&tables::revocation_key(grant, feed))?.is_some())
    }
}
