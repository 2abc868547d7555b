//! Equivocations: keeping the proof of a second valid entry at one `(feed, seq)`, freezing the
//! feed, and marking stale what checks cached about it and about the persons it is a delegate of.

use std::sync::Arc;

use consent_proto::Entry;
use consent_proto::ids::FeedId;

use super::super::staged::Staged;
use super::super::tables::{self, ProofRecord};
use super::{Accepted, Outcome, Writer};
use crate::store::{KvStore, StoreError};

/// Delegations naming a frozen feed as delegate whose persons' cached checks are dropped one by
/// one; past it, every cached subject is.
const FROZEN_DELEGATE_ROWS: usize = 1_024;

impl Writer {
    /// A feed just frozen may be a delegate: nothing it signed in someone's name is read any
    /// more, so the checks cached about each person whose Delegation names it go stale (its `t`
    /// rows; past [`FROZEN_DELEGATE_ROWS`] of them, every cached subject).
    fn frozen_delegate(
        &mut self,
        staged: &Staged<'_, dyn KvStore>,
        feed: &FeedId,
    ) -> Result<(), StoreError> {
        let prefix = tables::delegation_by_delegate_prefix(feed);
        let Some(rows) = staged.scan_prefix_at_most(&prefix, FROZEN_DELEGATE_ROWS)? else {
            self.subjects_changed = true;
            return Ok(());
        };
        let at = prefix.len();
        for (key, _) in rows {
            self.touched.push(FeedId(tables::bytes32(
                key.get(at..at + 32).unwrap_or_default(),
            )?));
        }
        Ok(())
    }

    pub(super) fn freeze(
        &mut self,
        staged: &mut Staged<'_, dyn KvStore>,
        held: &Entry,
        conflicting: &Entry,
        now: u64,
    ) -> Result<Outcome, StoreError> {
        let key = tables::proof_key(&held.feed, held.seq);
        if staged.get(&key)?.is_none() {
            let proof = ProofRecord {
                held: held.encode(),
                conflicting: conflicting.encode(),
                detected_ms: now,
            };
            staged.put(key, tables::encode(&proof)?);
        }
        let mut record = staged
            .feed_record(&held.feed)?
            .ok_or_else(|| StoreError::Corrupt("equivocating feed has no record".into()))?;
        if !record.frozen {
            self.collectors_changed = true;
            self.frozen_delegate(staged, &held.feed)?;
            self.touched.push(held.feed);
            record.frozen = true;
            staged.put(
                tables::freeze_key(self.counters.frozen),
                held.feed.0.to_vec(),
            );
            self.counters.frozen += 1;
            staged.put(tables::feed_key(&held.feed), tables::encode(&record)?);
            tracing::warn!(feed = ?held.feed, seq = held.seq, "equivocation: feed frozen, proof kept");
            // Spread the proof: peers holding the other entry detect the equivocation themselves.
            if self.announce.is_some() {
                self.just_accepted.push(Arc::new(Accepted {
                    index: None,
                    entry: conflicting.clone(),
                    encoded: conflicting.encode(),
                }));
            }
        }
        Ok(Outcome::Equivocation {
            id: conflicting.id,
            feed: held.feed,
            seq: held.seq,
        })
    }
}
