//! Entries that must wait: parking them (their `P` rows, in step with the in-memory index of
//! [`pending`](super::pending)), waking them when what they await is accepted, parking them again,
//! evicting them to make room, and dropping them once they time out.

use std::collections::VecDeque;

use consent_proto::Entry;
use consent_proto::ids::EntryId;
use consent_proto::validate::{Missing, Rules, Verdict, validate};

use super::super::staged::Staged;
use super::super::tables::{self, Awaited, PendingRecord};
use super::pending::{Admission, Held};
use super::{Outcome, Source, Writer, per_source_bound};
use crate::store::{KvStore, StoreError};

impl Writer {
    /// Re-validates pending entries that waited for `accepted` (and, transitively, for what they unlock).
    pub(super) fn wake(
        &mut self,
        staged: &mut Staged<'_, dyn KvStore>,
        accepted: &Entry,
        rules: &Rules<'_>,
        now: u64,
    ) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut queue = VecDeque::from([(accepted.feed, accepted.seq, accepted.id)]);
        while let Some((feed, seq, id)) = queue.pop_front() {
            let mut keys = vec![Awaited::Seq(feed.0, seq), Awaited::Entry(id.0)];
            if seq == 0 {
                keys.push(Awaited::Feed(feed.0));
            }
            for key in keys {
                let woken = self.pending.take_waiting(&key);
                self.counters.pending = self.pending.len();
                for (pending_id, held) in woken {
                    let pkey = tables::pending_key(&pending_id);
                    let Some(value) = staged.get(&pkey)? else {
                        continue;
                    };
                    staged.delete(pkey);
                    let record: PendingRecord = tables::decode(&value, "pending")?;
                    let Ok(entry) = Entry::decode(&record.bytes) else {
                        continue;
                    };
                    match validate(&entry, &*staged, rules)? {
                        Verdict::Accept { state } => {
                            self.append(staged, &entry, &state, record.received_ms)?;
                            queue.push_back((entry.feed, entry.seq, entry.id));
                        }
                        Verdict::Pending { missing, verified } => {
                            self.repark(
                                staged,
                                &entry,
                                missing,
                                record.received_ms,
                                held,
                                verified,
                            )?;
                        }
                        Verdict::Equivocation { existing } => {
                            self.freeze(staged, &existing, &entry, now)?;
                        }
                        Verdict::Duplicate { .. } => {}
                        Verdict::Reject(r) => {
                            tracing::debug!(entry = %entry.id, reason = r.code(), "pending entry rejected once its dependency arrived");
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Parks a new entry from `source` until `missing` arrives, if the pending space has room
    /// for it, making room first if something gives way to it (the order in
    /// [`pending`](super::pending)); an entry parked already stays as it is.
    pub(super) fn park(
        &mut self,
        staged: &mut Staged<'_, dyn KvStore>,
        entry: &Entry,
        missing: Missing,
        received_ms: u64,
        source: Source,
        verified: bool,
    ) -> Result<Outcome, StoreError> {
        let id = entry.id;
        if self.pending.contains(&id) {
            return Ok(Outcome::Pending { id, missing });
        }
        let max = self.config.max_pending;
        match self.pending.admit(&source, max, per_source_bound(max)) {
            Admission::Room => {}
            Admission::Evict(victim) => self.evict(staged, &victim),
            Admission::Full => return Ok(Outcome::PendingFull { id }),
        }
        let awaited = Self::put_pending(staged, entry, missing, received_ms)?;
        self.pending.insert(id, awaited, source, verified, None);
        self.counters.pending = self.pending.len();
        Ok(Outcome::Pending { id, missing })
    }

    /// Parks again an entry woken up that now waits for something else: it was admitted
    /// already, so it takes no new room; it keeps its source and its place in arrival order.
    fn repark(
        &mut self,
        staged: &mut Staged<'_, dyn KvStore>,
        entry: &Entry,
        missing: Missing,
        received_ms: u64,
        held: Held,
        verified: bool,
    ) -> Result<(), StoreError> {
        let awaited = Self::put_pending(staged, entry, missing, received_ms)?;
        self.pending
            .insert(entry.id, awaited, held.source, verified, Some(held.order));
        self.counters.pending = self.pending.len();
        Ok(())
    }

    /// Stages the pending row of `entry`; what it waits for, in stored form.
    fn put_pending(
        staged: &mut Staged<'_, dyn KvStore>,
        entry: &Entry,
        missing: Missing,
        received_ms: u64,
    ) -> Result<Awaited, StoreError> {
        let awaited = Awaited::from(missing);
        let record = PendingRecord {
            bytes: entry.encode(),
            received_ms,
            awaited,
        };
        staged.put(tables::pending_key(&entry.id), tables::encode(&record)?);
        Ok(awaited)
    }

    /// Drops a parked entry to make room for another, and counts it.
    fn evict(&mut self, staged: &mut Staged<'_, dyn KvStore>, victim: &EntryId) {
        if let Some(held) = self.pending.remove(victim) {
            staged.delete(tables::pending_key(victim));
            self.counters.pending = self.pending.len();
            self.counters.evicted += 1;
            tracing::debug!(entry = %victim, source = ?held.source, verified = held.verified, "pending entry evicted to make room");
        }
    }

    pub(super) fn purge_expired(
        &mut self,
        staged: &mut Staged<'_, dyn KvStore>,
        now: u64,
    ) -> Result<(), StoreError> {
        let ttl = self.config.pending_ttl_ms;
        let mut expired = Vec::new();
        for pair in self.store.scan_prefix(&[tables::prefix::PENDING]) {
            let (key, value) = pair?;
            let record: PendingRecord = tables::decode(&value, "pending")?;
            if record.received_ms.saturating_add(ttl) < now {
                expired.push(EntryId(tables::bytes32(&key[1..])?));
            }
        }
        for id in expired {
            staged.delete(tables::pending_key(&id));
            // A row this group already woke or evicted is gone from the index.
            if self.pending.remove(&id).is_some() {
                tracing::debug!(entry = %id, "pending entry timed out");
            }
        }
        self.counters.pending = self.pending.len();
        Ok(())
    }
}
