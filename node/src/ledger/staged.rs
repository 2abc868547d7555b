//! Writes of one group commit, staged over the store so that later entries of the same group
//! see earlier ones (read-your-writes), then applied as one atomic batch.

use std::collections::HashMap;

use consent_proto::Entry;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::validate::{FeedState, KeyState, LedgerView};

use super::tables::{self, FeedRecord, GrantRecord, RotationRecord};
use crate::store::{KvStore, StoreError, Write};

/// The store plus the writes staged so far.
pub struct Staged<'a, S: KvStore + ?Sized> {
    store: &'a S,
    writes: HashMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a, S: KvStore + ?Sized> Staged<'a, S> {
    /// Nothing staged yet.
    pub fn new(store: &'a S) -> Self {
        Self {
            store,
            writes: HashMap::new(),
        }
    }

    /// Reads through the staged writes.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.store.get(key),
        }
    }

    /// Stages a put.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }

    /// Stages a delete.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// Whether anything is staged.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// The batch to apply.
    pub fn into_writes(self) -> Vec<Write> {
        self.writes.into_iter().collect()
    }

    /// A feed record.
    pub fn feed_record(&self, feed: &FeedId) -> Result<Option<FeedRecord>, StoreError> {
        self.get(&tables::feed_key(feed))?
            .map(|v| tables::decode(&v, "feed"))
            .transpose()
    }

    /// An accepted entry with its arrival index.
    pub fn entry_with_index(&self, id: &EntryId) -> Result<Option<(u64, Entry)>, StoreError> {
        let Some(value) = self.get(&tables::entry_key(id))? else {
            return Ok(None);
        };
        let (index, bytes) = tables::split_entry_value(&value)?;
        let entry = Entry::decode(bytes)
            .map_err(|e| StoreError::Corrupt(format!("stored entry {id}: {e}")))?;
        Ok(Some((index, entry)))
    }

    /// A grant record.
    pub fn grant_record(&self, key: &[u8]) -> Result<Option<GrantRecord>, StoreError> {
        self.get(key)?
            .map(|v| tables::decode(&v, "grant"))
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
        // Walk back through the rotations after `seq` (each row names the keys it replaced).
        let mut keys = record.keys();
        while keys.since > seq {
            let row = self
                .get(&tables::rotation_key(feed, keys.since))?
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "rotation record missing for {feed:?} at seq {}",
                        keys.since
                    ))
                })?;
            let row: RotationRecord = tables::decode(&row, "rotation")?;
            if row.previous.since >= keys.since {
                return Err(StoreError::Corrupt(format!(
                    "rotation record for {feed:?} at seq {} points forward",
                    keys.since
                )));
            }
            keys = row.previous.into();
        }
        Ok(Some(keys))
    }

    fn is_revoked(&self, grant: &EntryId) -> Result<bool, StoreError> {
        let Some(entry) = self.entry(grant)? else {
            return Ok(false);
        };
        let consent_proto::body::Body::Grant(g) = &entry.body else {
            return Ok(false);
        };
        let record = self.grant_record(&tables::grant_key(&entry.feed, &g.collector, entry.seq))?;
        Ok(record.is_some_and(|r| r.revoked))
    }
}
