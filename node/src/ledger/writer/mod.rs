//! The one write path. A single thread owns every write: it drains all queued submissions
//! (group commit), validates each entry against the store plus what this group staged, stages
//! the entry and its effects, applies the group as one atomic batch, flushes once, and only then
//! answers. Entries from clients and from peers take exactly this path; what one
//! accepted entry writes is in `append`. The node's log module saves its rows (checkpoint,
//! witnessed notes, fork proofs: `M` rows) through the same thread ([`Job::Log`]), in the next
//! group commit, answered once that commit is durable. Entries that must wait are parked in the
//! pending space, shared fairly between the sources that send them ([`pending`]). Entries
//! submitted through the API ([`Item::admit`]) also pass admission (`super::admission`) once
//! valid, before anything of theirs is staged.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use consent_proto::Entry;
use consent_proto::consultation::Refusal;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::validate::{Missing, Rejection, Rules, Verdict, validate, validate_preverified};
use tokio::sync::{mpsc, oneshot};

use super::staged::Staged;
use super::tables::{self, Awaited, PendingRecord, ProofRecord, meta};
use super::tree::LogTree;
use super::{LedgerConfig, LedgerError, Stats};

mod answers;
mod append;
mod delegations;
mod pending;
pub(crate) use self::answers::{expected as expected_answers, migrate_from_3};
use self::pending::{Admission, Held, PendingIndex};
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

/// Groups smaller than this (when more than one entry is waiting) wait [`GATHER_WAIT`] once.
const GATHER_BELOW: usize = 64;
/// Delegations naming a frozen feed as delegate whose persons' cached checks are dropped one by
/// one; past it, every cached subject is.
const FROZEN_DELEGATE_ROWS: usize = 1_024;
/// How long a small group waits for more entries.
const GATHER_WAIT: std::time::Duration = std::time::Duration::from_micros(300);

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
    /// Entries accepted in the group being staged (encoded), and conflicting entries of feeds it
    /// froze, announced once durable.
    just_accepted: Vec<Arc<Vec<u8>>>,
    announce: Option<tokio::sync::broadcast::Sender<Arc<Vec<u8>>>>,
    store: Arc<dyn KvStore>,
    stats: Arc<Stats>,
    registrars: Arc<HashSet<FeedId>>,
    config: LedgerConfig,
    /// The parked entries, by what they wait for and by source (their rows are `P` rows).
    pending: PendingIndex,
    counters: Counters,
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

type Replies = Vec<(
    oneshot::Sender<Result<Vec<Outcome>, LedgerError>>,
    Vec<Outcome>,
)>;

/// What staging a group of jobs gave: the replies owed, how many entries were processed, and the
/// store error that ended the staging, if one did.
struct Group {
    replies: Replies,
    /// Callers of [`Job::Log`], answered once the group is durable.
    saved: Vec<oneshot::Sender<Result<(), LedgerError>>>,
    processed: u64,
    failure: Option<StoreError>,
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
            announce: None,
            store,
            stats,
            registrars,
            config,
            pending: PendingIndex::default(),
            counters: Counters::default(),
        };
        w.reload()?;
        Ok(w)
    }

    /// Announces every durably accepted entry on `sender`.
    pub(crate) fn announcing(
        mut self,
        sender: tokio::sync::broadcast::Sender<Arc<Vec<u8>>>,
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
        self.stats.durable_size.store(log_size, Ordering::Release);
        Ok(())
    }

    /// Runs until shutdown or until every sender is gone.
    pub(crate) fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        while let Some(first) = rx.blocking_recv() {
            let mut stop = matches!(first, Job::Shutdown);
            let mut size = first.len();
            let mut jobs = vec![first];
            let mut waited = false;
            while !stop && size < self.config.max_group_entries {
                match rx.try_recv() {
                    Ok(job) => {
                        stop = matches!(job, Job::Shutdown);
                        size += job.len();
                        jobs.push(job);
                    }
                    // A small group under load waits once, briefly, for company: every commit
                    // pays a fixed apply and fsync cost, and the pause leaves the CPU to callers.
                    Err(_) if !waited && size > 1 && size < GATHER_BELOW => {
                        waited = true;
                        std::thread::sleep(GATHER_WAIT);
                    }
                    Err(_) => break,
                }
            }
            self.commit(jobs);
            if stop {
                break;
            }
        }
        if let Err(e) = self.store.flush() {
            tracing::error!(error = %e, "final flush failed");
        }
        tracing::debug!("writer stopped");
    }

    fn commit(&mut self, jobs: Vec<Job>) {
        let now = self.config.clock.now_ms();
        self.commit_at(jobs, now);
    }

    /// Commits `jobs` as if the node's clock read `now` (the time entries arrive at, and that
    /// validation and pending time-outs use).
    fn commit_at(&mut self, jobs: Vec<Job>, now: u64) {
        let started = std::time::Instant::now();
        let store = Arc::clone(&self.store);
        let mut staged = Staged::new(&*store);
        let group = self.stage_jobs(&mut staged, jobs, now);
        let result = match group.failure {
            Some(e) => Err(e),
            None if staged.is_empty() => Ok(()),
            None => self.write_group(&*store, staged, started, group.processed),
        };
        match result {
            Ok(()) => self.acknowledge(group.replies, group.saved),
            Err(e) => self.abandon(e, group.replies, group.saved),
        }
    }

    /// Stages every job of a group in order (and, if a tick is among them, drops expired pending
    /// entries), stopping at the first store error.
    fn stage_jobs(
        &mut self,
        staged: &mut Staged<'_, dyn KvStore>,
        jobs: Vec<Job>,
        now: u64,
    ) -> Group {
        let mut group = Group {
            replies: Vec::new(),
            saved: Vec::new(),
            processed: 0,
            failure: None,
        };
        let mut tick = false;
        for job in jobs {
            match job {
                Job::Submit { reply, .. } if self.stats.stopping.load(Ordering::Acquire) => {
                    // Never acknowledged: the submitter is told to retry elsewhere.
                    let _ = reply.send(Err(LedgerError::ShuttingDown));
                }
                Job::Submit { items, reply } => {
                    let mut outcomes = Vec::with_capacity(items.len());
                    for item in items {
                        if group.failure.is_some() {
                            break;
                        }
                        group.processed += 1;
                        match self.process(staged, item, now) {
                            Ok(o) => outcomes.push(o),
                            Err(e) => group.failure = Some(e),
                        }
                    }
                    group.replies.push((reply, outcomes));
                }
                Job::Log { writes, reply } => {
                    for (key, value) in writes {
                        match value {
                            Some(value) => staged.put(key, value),
                            None => staged.delete(key),
                        }
                    }
                    group.saved.push(reply);
                }
                Job::Tick => tick = true,
                Job::Shutdown => {}
                #[cfg(feature = "fault-injection")]
                Job::Fault => {
                    panic!("a fault injected into the ledger's writer (test builds only)")
                }
            }
        }
        if tick
            && group.failure.is_none()
            && let Err(e) = self.purge_expired(staged, now)
        {
            group.failure = Some(e);
        }
        group
    }

    /// Writes a staged group (with the counters) as one atomic batch, makes it visible to checks
    /// together with the cache invalidation, flushes, and records how long each step took.
    fn write_group(
        &mut self,
        store: &dyn KvStore,
        mut staged: Staged<'_, dyn KvStore>,
        started: std::time::Instant,
        processed: u64,
    ) -> Result<(), StoreError> {
        staged.put(meta::COUNTERS.to_vec(), self.counters.encode());
        let writes = staged.into_writes();
        let staged_at = std::time::Instant::now();
        // Checks see the group and the generations that invalidate what they cached
        // change together (see `decisions`).
        let applied = {
            let stats = Arc::clone(&self.stats);
            let _view = stats.view.write();
            let applied = store.apply(writes);
            if applied.is_ok() {
                // Counters (Status, watch positions) and caches follow what checks see.
                self.counters.publish(&self.stats);
                self.invalidate();
            }
            applied
        };
        let applied_at = std::time::Instant::now();
        let flushed = applied.and_then(|()| store.flush());
        let ns = |d: std::time::Duration| d.as_nanos() as u64;
        self.stats
            .stage_ns
            .fetch_add(ns(staged_at - started), Ordering::Relaxed);
        self.stats
            .apply_ns
            .fetch_add(ns(applied_at - staged_at), Ordering::Relaxed);
        self.stats
            .flush_ns
            .fetch_add(ns(applied_at.elapsed()), Ordering::Relaxed);
        self.stats.commits.fetch_add(1, Ordering::Relaxed);
        self.stats.processed.fetch_add(processed, Ordering::Relaxed);
        flushed
    }

    /// After a durable commit: publishes the counters, announces the accepted entries and answers
    /// every submitter of the group.
    fn acknowledge(
        &mut self,
        replies: Replies,
        saved: Vec<oneshot::Sender<Result<(), LedgerError>>>,
    ) {
        self.counters.publish(&self.stats);
        self.stats
            .durable_size
            .store(self.counters.log_size, Ordering::Release);
        let accepted = std::mem::take(&mut self.just_accepted);
        if let Some(announce) = &self.announce {
            for entry in accepted {
                // No receiver (p2p off) is fine.
                let _ = announce.send(entry);
            }
        }
        for (reply, outcomes) in replies {
            for outcome in &outcomes {
                let (outcome, reason) = outcome.label();
                self.config.metrics.entry(outcome, reason);
            }
            let _ = reply.send(Ok(outcomes));
        }
        for reply in saved {
            let _ = reply.send(Ok(()));
        }
    }

    /// After a failed commit: forgets what the group staged, invalidates every cached check,
    /// re-reads the store and answers every submitter of the group with the error.
    fn abandon(
        &mut self,
        e: StoreError,
        replies: Replies,
        saved: Vec<oneshot::Sender<Result<(), LedgerError>>>,
    ) {
        // Conservative: the failed group may have been partly visible.
        self.collectors_changed = false;
        self.subjects_changed = false;
        self.touched.clear();
        self.appended.clear();
        self.just_accepted.clear();
        {
            let _view = self.stats.view.write();
            self.stats
                .collector_generation
                .fetch_add(1, Ordering::AcqRel);
            self.stats.subject_generations.bump_all();
        }
        tracing::error!(error = %e, "group commit failed; nothing in it was acknowledged");
        if let Err(reload) = self.reload() {
            tracing::error!(error = %reload, "cannot re-read the store after a failed commit");
        }
        for (reply, _) in replies {
            let _ = reply.send(Err(LedgerError::Store(e.clone())));
        }
        for reply in saved {
            let _ = reply.send(Err(LedgerError::Store(e.clone())));
        }
    }

    /// Marks what the staged group changed as stale in checks' caches.
    fn invalidate(&mut self) {
        if std::mem::take(&mut self.subjects_changed) {
            self.stats.subject_generations.bump_all();
        }
        if std::mem::take(&mut self.collectors_changed) {
            self.stats
                .collector_generation
                .fetch_add(1, Ordering::AcqRel);
        }
        self.tree.extend(&std::mem::take(&mut self.appended));
        self.touched.sort_unstable_by_key(|f| f.0);
        self.touched.dedup();
        self.stats
            .subject_generations
            .bump(std::mem::take(&mut self.touched));
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

    /// Re-validates pending entries that waited for `accepted` (and, transitively, for what they unlock).
    fn wake(
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
    /// for it, making room first if something gives way to it (the order in [`pending`]); an
    /// entry parked already stays as it is.
    fn park(
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

    fn freeze(
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
                self.just_accepted.push(Arc::new(conflicting.encode()));
            }
        }
        Ok(Outcome::Equivocation {
            id: conflicting.id,
            feed: held.feed,
            seq: held.seq,
        })
    }

    fn purge_expired(
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
