//! The ledger: the node's validated, materialised view of every feed. [`Ledger`] is a cheap,
//! clonable handle. Writes go to the single writer thread ([`writer`]), the log module's rows
//! included (`log_rows`); reads (checks, heads, entries) go straight to the store, which applies
//! each group commit atomically. Nothing outside the ledger reaches the store.

mod admission;
pub mod answers;
pub mod consultations;
mod decisions;
mod delegations;
mod engine;
mod feed_reads;
pub mod fsck;
mod log_reads;
mod log_rows;
mod migrate;
mod preverify;
pub(crate) mod staged;
mod stats;
mod sync_reads;
pub mod tables;
#[cfg(test)]
mod tests;
pub(crate) mod tree;
pub(crate) mod writer;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use consent_proto::Entry;
use consent_proto::ids::FeedId;
use tokio::sync::{mpsc, oneshot};

pub use self::answers::{ANSWER_DEADLINE, AnswerStats};
pub use self::consultations::{ConsultationFilter, ConsultationRead, ConsultationSummary};
pub use self::decisions::View;
pub use self::delegations::DelegationListing;
pub use self::engine::{OpenError, open_store, open_store_with};
pub use self::stats::{DelegatedCounts, Memory, Stats, StatsSnapshot};
use self::tables::meta;
pub use self::writer::{Accepted, Item, Outcome, Source, per_source_bound};
use self::writer::{Job, Writer};
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::{KvStore, StoreError};

/// A feed's head as peers compare it: `(feed id, head seq, head entry id, frozen)`.
pub type FeedHead = ([u8; 32], u64, [u8; 32], bool);

/// One feed's contribution to an anti-entropy digest: `BLAKE3(feed || seq (8, BE) || head id ||
/// 0x00)[..16]`, or for a frozen feed `BLAKE3(feed || 0x01)[..16]`. The frozen flag is in it so
/// that a node that missed an equivocation finds the feed differing and pulls the proof; a frozen
/// feed leaves its head out, so that nodes holding different branches of it agree once both
/// froze it (they would otherwise pull each other's refused branch every round).
pub fn head_digest(feed: &[u8; 32], seq: u64, head: &[u8; 32], frozen: bool) -> [u8; 16] {
    let mut h = blake3::Hasher::new();
    h.update(feed);
    if frozen {
        h.update(&[1]);
    } else {
        h.update(&seq.to_be_bytes());
        h.update(head);
        h.update(&[0]);
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize().as_bytes()[..16]);
    out
}

/// Ledger failures. Their text is for the node's log and its operator; the API maps them to a
/// status (`api::error`) without sending a storage engine's text to clients.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LedgerError {
    /// The store failed; nothing in the failed commit was acknowledged.
    #[error("storage failure: {0}")]
    Store(#[from] StoreError),
    /// The writer thread could not be started.
    #[error("storage failure: cannot start the writer thread: {0}")]
    WriterThread(#[source] Arc<std::io::Error>),
    /// A state the ledger's own invariants rule out (a poisoned lock, a tree behind its log).
    #[error("internal error: {0}")]
    Internal(&'static str),
    /// The node is shutting down.
    #[error("the node is shutting down")]
    ShuttingDown,
    /// The store on disk is inconsistent; the node refuses to serve it.
    #[error("{0}")]
    CorruptStore(String),
}

/// Tunables of the write path.
#[derive(Debug, Clone)]
pub struct LedgerConfig {
    /// Most entries held pending at once; one source (a gRPC client address, a p2p peer) may
    /// hold at most [`per_source_bound`] of them.
    pub max_pending: u64,
    /// How long a pending entry is kept, ms.
    pub pending_ttl_ms: u64,
    /// Most entries in one group commit.
    pub max_group_entries: usize,
    /// Submissions queued for the writer before callers wait.
    pub queue_depth: usize,
    /// Where the writer counts entries by outcome, and the API its checks (created by the
    /// node, which also serves it; a fresh registry by default).
    pub metrics: Arc<Metrics>,
    /// The node's clock: arrival times, validation against the future, pending time-outs, and
    /// every "now" read through [`Ledger::now_ms`] (the system clock by default; tests move a
    /// manual one).
    pub clock: Clock,
    /// The genesis's `[consultation]` section: the window validity requires of a widening, and
    /// the objection threshold admission applies to an approval (`None`: the network requires
    /// no consultation).
    pub consultation: Option<crate::genesis::ConsultationSection>,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        Self {
            max_pending: 10_000,
            pending_ttl_ms: 10 * 60 * 1000,
            max_group_entries: 8_192,
            queue_depth: 1_024,
            metrics: Arc::default(),
            clock: Clock::system(),
            consultation: None,
        }
    }
}

/// The writer thread; join it after [`Ledger::shutdown`].
pub struct WriterThread(JoinHandle<()>);

impl WriterThread {
    /// Waits for the writer to flush and stop.
    pub fn join(self) {
        if self.0.join().is_err() {
            tracing::error!("writer thread panicked");
        }
    }
}

/// Handle to the ledger.
#[derive(Clone)]
pub struct Ledger {
    store: Arc<dyn KvStore>,
    stats: Arc<Stats>,
    metrics: Arc<Metrics>,
    clock: Clock,
    registrars: Arc<HashSet<FeedId>>,
    tx: mpsc::Sender<Job>,
    caches: Arc<decisions::Caches>,
    tree: Arc<tree::LogTree>,
    accepted: tokio::sync::broadcast::Sender<Arc<Accepted>>,
    /// Single entries waiting for a batch signature check, and decoded feed keys.
    preverify: Arc<preverify::Shared>,
    /// Cancelled when the last handle is gone, and with it the store (the last field: dropped
    /// after the store's and the tree's handles).
    _closing: Arc<tokio_util::sync::DropGuard>,
    closed: tokio_util::sync::CancellationToken,
}

impl Ledger {
    /// Opens the ledger on `store`: checks the store (refusing a corrupt one: from its start-up
    /// position, [`fsck::at_start`]), then starts the writer, which saves start-up positions.
    /// `genesis_digest` binds the store to one network: a store of another network is refused.
    pub fn open(
        store: Arc<dyn KvStore>,
        registrars: HashSet<FeedId>,
        genesis_digest: &str,
        config: LedgerConfig,
    ) -> Result<(Ledger, WriterThread), LedgerError> {
        fsck::prepare(&*store, genesis_digest)?;
        let tree = fsck::at_start(&*store)
            .map_err(|report| LedgerError::CorruptStore(report.to_string()))?
            .tree;
        let stats = Arc::new(Stats::default());
        let metrics = Arc::clone(&config.metrics);
        let clock = config.clock.clone();
        let registrars = Arc::new(registrars);
        let tree = Arc::new(tree::LogTree::new(tree, Arc::clone(&store)));
        let (tx, rx) = mpsc::channel(config.queue_depth);
        let (accepted, _) =
            tokio::sync::broadcast::channel(announced_capacity(config.max_group_entries));
        let closed = tokio_util::sync::CancellationToken::new();
        let writer = Writer::open(
            Arc::clone(&store),
            Arc::clone(&stats),
            Arc::clone(&registrars),
            Arc::clone(&tree),
            config,
        )?
        .announcing(accepted.clone())
        .saving_positions();
        let thread = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| LedgerError::WriterThread(Arc::new(e)))?;
        Ok((
            Ledger {
                store,
                stats,
                metrics,
                clock,
                registrars,
                tx,
                caches: Arc::default(),
                tree,
                accepted,
                preverify: Arc::default(),
                _closing: Arc::new(closed.clone().drop_guard()),
                closed,
            },
            WriterThread(thread),
        ))
    }

    /// Verifies signatures (in parallel with other callers), then writes through the writer and
    /// returns once every accepted entry is durable. Entries that must wait count for
    /// [`Source::Local`]; [`Self::submit_from`] names who sent them.
    pub async fn submit(&self, entries: Vec<Entry>) -> Result<Vec<Outcome>, LedgerError> {
        self.submit_from(Source::Local, entries).await
    }

    /// [`Self::submit`] for entries sent by `source` (a gRPC client, a p2p peer): those that must
    /// wait count against its share of the pending space, and when space runs out, what gives
    /// way depends on how much each source holds ([`Source`], [`per_source_bound`]).
    pub async fn submit_from(
        &self,
        source: Source,
        entries: Vec<Entry>,
    ) -> Result<Vec<Outcome>, LedgerError> {
        let items = self.preverified(source, entries).await?;
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Submit { items, reply })
            .await
            .map_err(|_| LedgerError::ShuttingDown)?;
        rx.await.map_err(|_| LedgerError::ShuttingDown)?
    }

    /// [`Self::submit_from`] for entries submitted through the API: a valid entry must also
    /// pass admission (refusals only the node it is submitted to applies, such as a grant on a
    /// draft under consultation: [`Outcome::Refused`]). Peers' entries never go through it.
    pub async fn submit_admitted(
        &self,
        source: Source,
        entries: Vec<Entry>,
    ) -> Result<Vec<Outcome>, LedgerError> {
        let mut items = self.preverified(source, entries).await?;
        for item in &mut items {
            item.admit = true;
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Submit { items, reply })
            .await
            .map_err(|_| LedgerError::ShuttingDown)?;
        rx.await.map_err(|_| LedgerError::ShuttingDown)?
    }

    /// Every entry accepted from now on, decoded and encoded, with its arrival index (and the
    /// conflicting entry of each feed frozen, without one), in commit order, once durable. A slow
    /// receiver misses entries (`Lagged`) rather than slowing the writer: it reads what it missed
    /// from the store ([`Self::log_range`]). The one way the node's tasks learn of new entries.
    pub fn accepted(&self) -> tokio::sync::broadcast::Receiver<Arc<Accepted>> {
        self.accepted.subscribe()
    }

    /// Asks the writer to drop timed-out pending entries.
    pub async fn tick(&self) {
        let _ = self.tx.send(Job::Tick).await;
    }

    /// Asks the writer to finish what is queued, flush and stop.
    pub async fn shutdown(&self) {
        self.stats.stopping.store(true, Ordering::Release);
        let _ = self.tx.send(Job::Shutdown).await;
    }

    /// Cancelled once every handle on this ledger is dropped and the store is closed (the node's
    /// stop waits for it before it reports the store flushed and closed).
    pub fn closed(&self) -> tokio_util::sync::CancellationToken {
        self.closed.clone()
    }

    /// Completes when the writer thread has stopped (after a shutdown, or because it failed):
    /// its end of the job queue is gone.
    pub async fn writer_stopped(&self) {
        self.tx.closed().await;
    }

    /// Makes the writer thread panic, as a bug would (tests of the node's supervision).
    #[cfg(feature = "fault-injection")]
    pub async fn inject_writer_fault(&self) {
        let _ = self.tx.send(Job::Fault).await;
    }

    /// Writer timings: `(commits, entries, stage ms, apply ms, flush ms)`.
    pub fn timings(&self) -> (u64, u64, u64, u64, u64) {
        self.stats.timings()
    }

    /// Entries in the arrival log known to be on disk.
    pub fn durable_size(&self) -> u64 {
        self.stats.durable_size.load(Ordering::Acquire)
    }

    /// Counters.
    pub fn stats(&self) -> StatsSnapshot {
        StatsSnapshot {
            log_size: self.stats.log_size.load(Ordering::Acquire),
            feeds: self.stats.feeds.load(Ordering::Acquire),
            frozen: self.stats.frozen.load(Ordering::Acquire),
            pending: self.stats.pending.load(Ordering::Acquire),
            pending_evicted: self.stats.pending_evicted.load(Ordering::Acquire),
        }
    }

    /// The node's Prometheus metrics (the registry it was opened with).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The node's clock (the one the ledger was opened with).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The node's time now, Unix ms (its clock's).
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The live counters (for metrics read at scrape time).
    pub fn counters(&self) -> &Stats {
        &self.stats
    }

    /// Bytes on disk.
    pub fn store_bytes(&self) -> u64 {
        self.store.size_on_disk().unwrap_or(0)
    }

    /// What the ledger's bounded parts hold in memory now (for metrics).
    pub fn memory(&self) -> Memory {
        Memory {
            store: self.store.memory(),
            decision_pairs: self.caches.subject_pairs(),
            proof_blocks: self.tree.cached_blocks(),
        }
    }

    /// The registrars of the genesis.
    pub fn registrars(&self) -> &HashSet<FeedId> {
        &self.registrars
    }

    /// How `collector` answers citizens' requests and erasure demands as of `now_ms` (public
    /// figures, as this node can vouch for their times: see [`answers`]). Reads a few keys from
    /// the figures the writer keeps, in one consistent view; blocking: call it off the async
    /// threads.
    pub fn answer_stats(
        &self,
        collector: &FeedId,
        now_ms: u64,
    ) -> Result<AnswerStats, LedgerError> {
        let _view = self.stats.view.read().ok();
        Ok(answers::read(&*self.store, collector, now_ms)?)
    }

    /// Records that a peer was heard from now (a pushed entry, a sync answer).
    pub fn heard_from_peer(&self) {
        self.stats
            .peer_contact_ms
            .fetch_max(self.now_ms(), Ordering::Relaxed);
    }

    /// When the node last heard from a peer, Unix ms (0: never).
    pub fn peer_contact_ms(&self) -> u64 {
        self.stats.peer_contact_ms.load(Ordering::Relaxed)
    }

    /// The Merkle tree over the arrival log.
    pub fn tree(&self) -> &tree::LogTree {
        &self.tree
    }

    /// Runs the full store check on this ledger's store ([`fsck::full`]: the arrival log
    /// replayed through the write path and compared with every table). Blocking.
    pub fn full_check(&self) -> Result<(), fsck::Report> {
        fsck::full(&*self.store, &self.registrars)
    }

    /// Meta value: the genesis digest the store belongs to.
    pub fn genesis_digest(&self) -> Result<Option<String>, LedgerError> {
        Ok(self
            .store
            .get(meta::GENESIS)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Interval at which [`Ledger::tick`] should be called.
    pub const TICK: Duration = Duration::from_secs(30);
}

/// Announcements [`Ledger::accepted`]'s channel holds: two of the largest group commits (at least
/// 4,096), so that a receiver keeping up never misses part of one group's announcements.
fn announced_capacity(max_group_entries: usize) -> usize {
    max_group_entries.saturating_mul(2).clamp(4096, 1 << 20)
}

/// Opens a ledger on a memory store, as often as called, on the same store (tests of what is kept
/// across restarts, outside the ledger: they get no store).
#[cfg(test)]
pub(crate) fn in_memory(registrars: HashSet<FeedId>) -> impl Fn() -> (Ledger, WriterThread) {
    let store: Arc<dyn KvStore> = Arc::new(crate::store::memory::MemoryStore::new());
    move || {
        Ledger::open(
            Arc::clone(&store),
            registrars.clone(),
            "test",
            LedgerConfig::default(),
        )
        .expect("open")
    }
}

/// The first key after every key that starts with `prefix` (`None`: no such key, the prefix is
/// all 0xff).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}
