//! The one write path. A single thread owns every write: it drains all queued submissions
//! (group commit), validates each entry against the store plus what this group staged, stages
//! the entry and its effects, applies the group as one atomic batch, flushes once, and only then
//! answers. Entries from clients and from peers take exactly this path; what one
//! accepted entry writes is in `append`. The node's log module saves its rows (checkpoint,
//! witnessed notes, fork proofs: `M` rows) through the same thread ([`Job::Log`]), in the next
//! group commit, answered once that commit is durable. Entries that must wait are parked in the
//! pending space, shared fairly between the sources that send them ([`pending`]). Entries
//! submitted through the API ([`Item::admit`]) also pass admission (`super::admission`) once
//! valid, before anything of theirs is staged. The group commit itself is in `commit`; parking,
//! waking and timing out pending entries in `park`; freezing an equivocating feed in `freeze`;
//! the start-up position (saved with a group commit every `position::POSITION_EVERY` entries, at
//! start once the store was checked, and at a clean stop) in `position`.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use consent_proto::Entry;
use consent_proto::consultation::Refusal;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::validate::{Missing, Rejection, Rules, Verdict, validate_preverified};
use tokio::sync::oneshot;

use super::staged::Staged;
use super::tables::{self, PendingRecord, meta};
use super::tree::LogTree;
use super::{LedgerConfig, LedgerError, Stats};

mod answers;
mod append;
mod commit;
mod delegations;
mod freeze;
mod park;
mod pending;
mod position;
pub(crate) use self::answers::{expected as expected_answers, migrate_from_3};
use self::pending::PendingIndex;
pub use self::pending::{Source, per_source_bound};
use crate::store::{KvStore, StoreError, Write};

/// An entry to write, with the key its signature was already verified under, if any, and who
/// sent it.
#[derive(Debug, Clone)]
pub struct Item {
    /// The entry.
    pub entry: Entry,
    /// Encoded key the caller verified the signature under.
    pub verified_under: Option<[u8; 32]>,
    /// Who sent it: if it must wait, it counts against this source's share of the pending space.
    pub source: Source,
    /// Submitted through the API: once valid, it must also pass admission (refusals only the
    /// node it is submitted to applies; never for entries from peers, restored pending ones or
    /// the node's own).
    pub admit: bool,
}

/// An entry the writer made durable, as it announces it to the node's tasks once the commit that
/// holds it is flushed ([`super::Ledger::accepted`]): the p2p task publishes its encoding, the
/// transparency register applies it, watch streams wake. The writer has it decoded already, so
/// nobody re-reads or re-decodes it from the store.
#[derive(Debug)]
pub struct Accepted {
    /// Its arrival index; `None` for the conflicting entry of a feed the commit froze (kept as a
    /// proof and spread to peers, not in the arrival log).
    pub index: Option<u64>,
    /// The entry.
    pub entry: Entry,
    /// Its encoding (a `SignedEntry`), as stored and as peers receive it.
    pub encoded: Vec<u8>,
}

/// What became of one submitted entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Durably appended at `index`.
    Accepted {
        /// Entry id.
        id: EntryId,
        /// Arrival index.
        index: u64,
    },
    /// Already held at `index`.
    Duplicate {
        /// Entry id (of the entry held).
        id: EntryId,
        /// Arrival index.
        index: u64,
    },
    /// Held until `missing` arrives.
    Pending {
        /// Entry id.
        id: EntryId,
        /// What is awaited.
        missing: Missing,
    },
    /// Refused.
    Rejected {
        /// Entry id.
        id: EntryId,
        /// Why.
        rejection: Rejection,
    },
    /// A second valid entry at `(feed, seq)`: proof kept, feed frozen.
    Equivocation {
        /// Entry id of the conflicting entry.
        id: EntryId,
        /// The feed.
        feed: FeedId,
        /// The seq.
        seq: u64,
    },
    /// No room in the pending space for it: the sender's share, or the whole space, is full of
    /// entries that do not give way to it (the order is in the writer's `pending` module).
    PendingFull {
        /// Entry id.
        id: EntryId,
    },
    /// Valid, but refused at admission ([`Item::admit`]): not stored.
    Refused {
        /// Entry id.
        id: EntryId,
        /// Why.
        refusal: Refusal,
    },
}

impl Outcome {
    /// How metrics count it: `(outcome, reason)`, the reason being the rejection code of a
    /// rejected entry and empty otherwise.
    pub fn label(&self) -> (&'static str, &'static str) {
        match self {
            Outcome::Accepted { .. } => ("accepted", ""),
            Outcome::Duplicate { .. } => ("duplicate", ""),
            Outcome::Pending { .. } => ("pending", ""),
            Outcome::Rejected { rejection, .. } => ("rejected", rejection.code()),
            Outcome::Equivocation { .. } => ("equivocation", ""),
            Outcome::PendingFull { .. } => ("pending_full", ""),
            Outcome::Refused { refusal, .. } => ("refused", refusal.code()),
        }
    }
}

/// Messages to the writer.
pub(crate) enum Job {
    /// Write these entries and answer.
    Submit {
        items: Vec<Item>,
        reply: oneshot::Sender<Result<Vec<Outcome>, LedgerError>>,
    },
    /// Write rows of the node's log state (its checkpoint, witnessed notes, fork proofs; keys
    /// from [`tables::meta`]) with the group, and answer once they are durable.
    Log {
        writes: Vec<Write>,
        reply: oneshot::Sender<Result<(), LedgerError>>,
    },
    /// Drop pending entries older than the configured time-out.
    Tick,
    /// Flush and stop (after everything queued before it).
    Shutdown,
    /// Panic, as a bug would (tests of the node's supervision; test builds only).
    #[cfg(feature = "fault-injection")]
    Fault,
}

impl Job {
    fn len(&self) -> usize {
        match self {
            Job::Submit { items, .. } => items.len(),
            _ => 1,
        }
    }
}

pub(crate) struct Writer {
    /// Whether the group being staged changes what checks cache about collectors.
    collectors_changed: bool,
    /// Whether every cached subject goes stale at this group's commit (a frozen feed named as
    /// delegate by more persons than a freeze reads one by one).
    subjects_changed: bool,
    /// Feeds the group being staged changed (their cached subject facts go stale).
    touched: Vec<FeedId>,
    /// Entries the group being staged appends to the arrival log, in order (for the tree).
    appended: Vec<EntryId>,
    tree: Arc<LogTree>,
    /// Entries accepted in the group being staged, and conflicting entries of feeds it froze,
    /// announced once durable.
    just_accepted: Vec<Arc<Accepted>>,
    /// Entries of groups applied but not yet known durable (their flush failed): announced,
    /// in order, once a later flush succeeds (a later group's, or one of their own when the
    /// next group writes nothing), never before.
    unflushed: Vec<Arc<Accepted>>,
    announce: Option<tokio::sync::broadcast::Sender<Arc<Accepted>>>,
    store: Arc<dyn KvStore>,
    stats: Arc<Stats>,
    registrars: Arc<HashSet<FeedId>>,
    config: LedgerConfig,
    /// The parked entries, by what they wait for and by source (their rows are `P` rows).
    pending: PendingIndex,
    counters: Counters,
    /// The counters as the last commit applied left them (what a start-up position saved now
    /// describes).
    committed: Counters,
    /// The id of the last entry in the arrival log (zeros while it is empty).
    last_id: [u8; 32],
    /// The log size of the last start-up position saved; `None`: this writer saves none (it was
    /// not opened by a start whose check passed: a replay).
    position_saved: Option<u64>,
    /// Entries appended between two positions saved with group commits
    /// (`position::POSITION_EVERY`; tests lower it).
    position_every: u64,
    /// A commit failed and re-reading the store after it failed too: the counters may still
    /// hold the abandoned group's, so nothing more is written (no group, no position) and the
    /// writer stops, and with it the node.
    failed: bool,
}

/// Counters kept in the store (one meta key) and published to readers; `pending` and `evicted`
/// are not stored (the pending rows are counted at start; evictions count since start).
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    log_size: u64,
    feeds: u64,
    frozen: u64,
    pending: u64,
    evicted: u64,
}

impl Counters {
    fn encode(&self) -> Vec<u8> {
        [self.log_size, self.feeds, self.frozen]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect()
    }

    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        if bytes.len() != 24 {
            return Err(StoreError::Corrupt(
                "counters record is not 24 bytes".into(),
            ));
        }
        Ok(Counters {
            log_size: tables::be_u64(&bytes[0..8])?,
            feeds: tables::be_u64(&bytes[8..16])?,
            frozen: tables::be_u64(&bytes[16..24])?,
            pending: 0,
            evicted: 0,
        })
    }

    fn publish(&self, stats: &Stats) {
        stats.log_size.store(self.log_size, Ordering::Release);
        stats.feeds.store(self.feeds, Ordering::Release);
        stats.frozen.store(self.frozen, Ordering::Release);
        stats.pending.store(self.pending, Ordering::Release);
        stats.pending_evicted.store(self.evicted, Ordering::Release);
    }
}

/// Reads the stored counters (zero for a new store).
pub(crate) fn stored_counters(store: &dyn KvStore) -> Result<(u64, u64, u64), StoreError> {
    let c = store
        .get(meta::COUNTERS)?
        .map(|v| Counters::decode(&v))
        .transpose()?
        .unwrap_or_default();
    Ok((c.log_size, c.feeds, c.frozen))
}

impl Writer {
    /// Opens the writer on `store`, reading its counters and pending entries.
    pub(crate) fn open(
        store: Arc<dyn KvStore>,
        stats: Arc<Stats>,
        registrars: Arc<HashSet<FeedId>>,
        tree: Arc<LogTree>,
        config: LedgerConfig,
    ) -> Result<Self, StoreError> {
        let mut w = Writer {
            collectors_changed: false,
            subjects_changed: false,
            touched: Vec::new(),
            appended: Vec::new(),
            tree,
            just_accepted: Vec::new(),
            unflushed: Vec::new(),
            announce: None,
            store,
            stats,
            registrars,
            config,
            pending: PendingIndex::default(),
            counters: Counters::default(),
            committed: Counters::default(),
            last_id: [0; 32],
            position_saved: None,
            position_every: position::POSITION_EVERY,
            failed: false,
        };
        w.reload()?;
        // What the store holds when it is opened is on disk; after a failed commit, what the
        // re-read finds may not be (a group applied whose flush failed), so only here.
        w.stats
            .durable_size
            .store(w.committed.log_size, Ordering::Release);
        Ok(w)
    }

    /// Announces every durably accepted entry on `sender`.
    pub(crate) fn announcing(
        mut self,
        sender: tokio::sync::broadcast::Sender<Arc<Accepted>>,
    ) -> Self {
        self.announce = Some(sender);
        self
    }

    /// Re-reads counters and the pending index from the store (at start and after a failed
    /// commit). A parked entry the index knew keeps its source and class; any other (at start:
    /// all of them) counts for [`Source::Restored`], unverifiable, in order of arrival.
    fn reload(&mut self) -> Result<(), StoreError> {
        let (log_size, feeds, frozen) = stored_counters(&*self.store)?;
        let known = std::mem::take(&mut self.pending);
        let mut rows = Vec::new();
        for pair in self.store.scan_prefix(&[tables::prefix::PENDING]) {
            let (key, value) = pair?;
            let record: PendingRecord = tables::decode(&value, "pending")?;
            let id = EntryId(tables::bytes32(&key[1..])?);
            rows.push((record.received_ms, id, record.awaited));
        }
        rows.sort_unstable_by_key(|(received_ms, id, _)| (*received_ms, id.0));
        for (_, id, awaited) in rows {
            let (source, verified) = known
                .get(&id)
                .map_or((Source::Restored, false), |h| (h.source, h.verified));
            self.pending.insert(id, awaited, source, verified, None);
        }
        self.counters = Counters {
            log_size,
            feeds,
            frozen,
            pending: self.pending.len(),
            // Evictions of a failed commit did not happen: back to the last published count.
            evicted: self.stats.pending_evicted.load(Ordering::Acquire),
        };
        self.counters.publish(&self.stats);
        self.committed = self.counters;
        self.last_id = match log_size.checked_sub(1) {
            Some(last) => self
                .store
                .get(&tables::log_key(last))?
                .map(|id| tables::bytes32(&id))
                .transpose()?
                .unwrap_or([0; 32]),
            None => [0; 32],
        };
        Ok(())
    }

    fn process(
        &mut self,
        staged: &mut Staged<'_, dyn KvStore>,
        item: Item,
        now: u64,
    ) -> Result<Outcome, StoreError> {
        let registrars = Arc::clone(&self.registrars);
        let rules = Rules {
            registrars: &registrars,
            now_ms: now,
            consultation: self
                .config
                .consultation
                .map(|c| consent_proto::consultation::Rules {
                    widening_min_days: c.widening_min_days,
                }),
        };
        let entry = item.entry;
        let id = entry.id;
        let verdict = validate_preverified(&entry, item.verified_under.as_ref(), &*staged, &rules)?;
        match verdict {
            Verdict::Accept { state } => {
                // Admission reads what this group staged too, before the entry stages anything.
                if item.admit
                    && let Some(refusal) = super::admission::check(
                        staged,
                        &entry,
                        now,
                        self.config.consultation.map(|c| c.objection_threshold),
                    )?
                {
                    return Ok(Outcome::Refused { id, refusal });
                }
                let index = self.append(staged, &entry, &state, now)?;
                self.wake(staged, &entry, &rules, now)?;
                Ok(Outcome::Accepted { id, index })
            }
            Verdict::Duplicate { existing } => {
                let index = staged
                    .entry_with_index(&existing)?
                    .map(|(i, _)| i)
                    .unwrap_or_default();
                Ok(Outcome::Duplicate {
                    id: existing,
                    index,
                })
            }
            Verdict::Pending { missing, verified } => {
                // Woken entries skip admission: what depends only on the entry and the clock is
                // refused before it waits.
                if item.admit
                    && let Some(refusal) = super::admission::signed_too_early(&entry, now)
                {
                    return Ok(Outcome::Refused { id, refusal });
                }
                self.park(staged, &entry, missing, now, item.source, verified)
            }
            Verdict::Equivocation { existing } => self.freeze(staged, &existing, &entry, now),
            Verdict::Reject(rejection) => Ok(Outcome::Rejected { id, rejection }),
        }
    }
}

impl Writer {
    /// Processes and commits items synchronously (store replays and checks).
    pub(crate) fn replay(&mut self, items: Vec<Item>) -> Result<Vec<Outcome>, StoreError> {
        let now = self.config.clock.now_ms();
        self.replay_at(items, now)
    }

    /// [`Self::replay`] with the node's clock reading `now` (tests of what arrival times change).
    pub(crate) fn replay_at(
        &mut self,
        items: Vec<Item>,
        now: u64,
    ) -> Result<Vec<Outcome>, StoreError> {
        let (reply, mut rx) = oneshot::channel();
        self.commit_at(vec![Job::Submit { items, reply }], now);
        match rx.try_recv() {
            Ok(Ok(outcomes)) => Ok(outcomes),
            Ok(Err(LedgerError::Store(e))) => Err(e),
            Ok(Err(e)) => Err(StoreError::Engine(e.to_string())),
            Err(_) => Err(StoreError::Engine("replay produced no answer".into())),
        }
    }
}
