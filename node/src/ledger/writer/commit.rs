//! Group commit: the writer's loop drains every queued job into one group, stages it, applies it
//! as one atomic batch with the counters (and the hashes of the log blocks it completes, and when
//! one is due the start-up position: `position`), makes it visible to checks together with the
//! cache invalidation, flushes once, and only then answers (or, if the commit failed, forgets the
//! group, re-reads the store and answers every submitter with the error; if that re-read fails
//! too, the writer stops rather than write counters of a group that was not committed).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{mpsc, oneshot};

use super::super::LedgerError;
use super::super::staged::Staged;
use super::super::tables::{self, meta};
use super::super::tree::Growth;
use super::{Job, Outcome, Writer};
use crate::store::{KvStore, StoreError};

/// Groups smaller than this (when more than one entry is waiting) wait [`GATHER_WAIT`] once.
const GATHER_BELOW: usize = 64;
/// How long a small group waits for more entries.
const GATHER_WAIT: std::time::Duration = std::time::Duration::from_micros(300);

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
    /// Runs until shutdown or until every sender is gone.
    pub(crate) fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        // The state the start-up check just passed (when the ledger saves positions).
        self.save_position();
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
            if self.failed {
                tracing::error!(
                    "the ledger's writer stops: a commit failed and the store could not be read \
                     again after it (see above); the node stops with it. Check the disk, then \
                     start the node again (`consentd check-store` first)"
                );
                break;
            }
        }
        self.save_position();
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
    pub(super) fn commit_at(&mut self, jobs: Vec<Job>, now: u64) {
        if self.failed {
            refuse(jobs);
            return;
        }
        let started = std::time::Instant::now();
        let store = Arc::clone(&self.store);
        let mut staged = Staged::new(&*store);
        let group = self.stage_jobs(&mut staged, jobs, now);
        let result = match group.failure {
            Some(e) => Err(e),
            // Nothing to write; entries whose flush failed earlier are made durable now.
            None if staged.is_empty() => match self.unflushed.is_empty() {
                true => Ok(()),
                false => store.flush(),
            },
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

    /// Writes a staged group (with the counters, the hashes of the log blocks it completes and,
    /// when one is due, the start-up position) as one atomic batch, makes it visible to checks
    /// together with the cache invalidation, flushes, and records how long each step took.
    fn write_group(
        &mut self,
        store: &dyn KvStore,
        mut staged: Staged<'_, dyn KvStore>,
        started: std::time::Instant,
        processed: u64,
    ) -> Result<(), StoreError> {
        let growth = match self.appended.is_empty() {
            true => None,
            false => self.tree.growth(&self.appended),
        };
        for (block, hash) in growth.iter().flat_map(Growth::blocks) {
            staged.put(tables::block_key(*block), hash.to_vec());
        }
        let position = self.stage_position(&mut staged);
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
                // Announced once durable: after this flush, or a later one if it fails.
                self.unflushed.append(&mut self.just_accepted);
                // Counters (Status, watch positions) and caches follow what checks see.
                self.counters.publish(&self.stats);
                self.committed = self.counters;
                if let Some(last) = self.appended.last() {
                    self.last_id = last.0;
                }
                if position.is_some() {
                    self.position_saved = position;
                }
                self.invalidate(growth);
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

    /// After a durable commit: publishes the counters, announces the accepted entries (with those
    /// of earlier groups whose flush had failed, which this one made durable) and answers every
    /// submitter of the group.
    fn acknowledge(
        &mut self,
        replies: Replies,
        saved: Vec<oneshot::Sender<Result<(), LedgerError>>>,
    ) {
        self.counters.publish(&self.stats);
        self.stats
            .durable_size
            .store(self.counters.log_size, Ordering::Release);
        let mut accepted = std::mem::take(&mut self.unflushed);
        accepted.append(&mut self.just_accepted);
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

    /// After a failed commit: forgets what the group staged (what it applied, if only its flush
    /// failed, waits to be announced: `unflushed`), invalidates every cached check, re-reads the
    /// store and answers every submitter of the group with the error.
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
            // The counters may still count the abandoned group: the next commit would write
            // them, and a start-up position would take them as checked.
            tracing::error!(error = %reload, "cannot re-read the store after a failed commit");
            self.failed = true;
        }
        for (reply, _) in replies {
            let _ = reply.send(Err(LedgerError::Store(e.clone())));
        }
        for reply in saved {
            let _ = reply.send(Err(LedgerError::Store(e.clone())));
        }
    }

    /// Marks what the staged group changed as stale in checks' caches, and grows the tree by
    /// the group's entries (by `growth`, computed before the group was applied).
    fn invalidate(&mut self, growth: Option<Growth>) {
        if std::mem::take(&mut self.subjects_changed) {
            self.stats.subject_generations.bump_all();
        }
        if std::mem::take(&mut self.collectors_changed) {
            self.stats
                .collector_generation
                .fetch_add(1, Ordering::AcqRel);
        }
        let appended = std::mem::take(&mut self.appended);
        if !growth.is_some_and(|g| self.tree.grow(g)) {
            // Growth not computed (or not from the tree as it is): push the entries one by one.
            self.tree.extend(&appended);
        }
        self.touched.sort_unstable_by_key(|f| f.0);
        self.touched.dedup();
        self.stats
            .subject_generations
            .bump(std::mem::take(&mut self.touched));
    }
}

/// Answers every job of a writer that stopped writing with the failure; nothing is staged.
fn refuse(jobs: Vec<Job>) {
    let stopped = || {
        LedgerError::Store(StoreError::Engine(
            "the writer stopped after a failed commit".into(),
        ))
    };
    for job in jobs {
        match job {
            Job::Submit { reply, .. } => {
                let _ = reply.send(Err(stopped()));
            }
            Job::Log { reply, .. } => {
                let _ = reply.send(Err(stopped()));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
