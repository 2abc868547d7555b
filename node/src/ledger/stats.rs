//! What the ledger counts and holds, read by status calls and metrics: the counters the writer
//! publishes after each commit ([`Stats`]), a snapshot of them, and what the bounded in-memory
//! parts hold ([`Memory`]); and a collector's consents signed by delegates
//! ([`Ledger::delegated_counts`], for the transparency page).

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use consent_proto::ids::{EntryId, FeedId};
use consent_proto::vocab::DelegationKind;

use super::delegations::Delegations;
use super::staged::Staged;
use super::tables::{self, DelegatedGrantRecord};
use super::{Ledger, LedgerError, decisions};

/// Counters the writer publishes after each commit.
#[derive(Debug, Default)]
pub struct Stats {
    /// Set when the node stops: the writer answers submissions still queued "shutting down".
    pub stopping: std::sync::atomic::AtomicBool,
    /// Entries in the arrival log, as checks see it (published when a group is applied).
    pub log_size: AtomicU64,
    /// Entries in the arrival log known to be on disk (published after the group's fsync).
    pub durable_size: AtomicU64,
    /// Feeds known.
    pub feeds: AtomicU64,
    /// Feeds frozen.
    pub frozen: AtomicU64,
    /// Entries pending.
    pub pending: AtomicU64,
    /// Pending entries dropped to make room for others since the node started (the writer's
    /// `pending` module says which give way).
    pub pending_evicted: AtomicU64,
    /// Group commits done.
    pub commits: AtomicU64,
    /// Entries processed by the writer (any outcome).
    pub processed: AtomicU64,
    /// Nanoseconds spent validating and staging.
    pub stage_ns: AtomicU64,
    /// Nanoseconds spent applying batches to the store.
    pub apply_ns: AtomicU64,
    /// Nanoseconds spent flushing (fsync).
    pub flush_ns: AtomicU64,
    /// Bumped by every commit that changed a collector's or registrar's feed state or an
    /// accreditation: cached collector facts older than this are stale.
    pub collector_generation: AtomicU64,
    /// Per shard of subject feeds (see [`decisions::shard`]): bumped by every commit that
    /// changed a feed of the shard; cached subject facts older than this are stale.
    pub subject_generations: decisions::Generations,
    /// Held for writing while the writer applies a group and bumps the generations, and for
    /// reading while a check reads the store: a check sees one state. Held for one check at a
    /// time (see `decisions`), never for a whole batch.
    pub view: RwLock<()>,
    /// The most grant facts read from the store or examined by the rule under one view so far:
    /// bounded by twice [`consent_proto::limits::GRANTS_CONSIDERED`] whatever the feeds hold,
    /// and by four times that for a subject with delegated grants (its own and the delegates',
    /// each read and examined) (for tests and diagnostics).
    pub view_work_max: AtomicU64,
    /// When the node last heard from a peer, Unix ms (0: never).
    pub peer_contact_ms: AtomicU64,
}

impl Stats {
    /// `(commits, entries, stage ms, apply ms, flush ms)` so far.
    pub fn timings(&self) -> (u64, u64, u64, u64, u64) {
        let ms = |a: &AtomicU64| a.load(Ordering::Relaxed) / 1_000_000;
        (
            self.commits.load(Ordering::Relaxed),
            self.processed.load(Ordering::Relaxed),
            ms(&self.stage_ns),
            ms(&self.apply_ns),
            ms(&self.flush_ns),
        )
    }
}

/// What the ledger's bounded in-memory parts hold, read for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// The storage engine's caches and write buffers, where the engine reports them.
    pub store: Option<crate::store::EngineMemory>,
    /// Subject-collector pairs in the decision cache.
    pub decision_pairs: usize,
    /// Older Merkle tree blocks cached for proofs.
    pub proof_blocks: usize,
}

/// A snapshot of [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Entries in the arrival log.
    pub log_size: u64,
    /// Feeds known.
    pub feeds: u64,
    /// Feeds frozen.
    pub frozen: u64,
    /// Entries pending.
    pub pending: u64,
    /// Pending entries dropped to make room for others since the node started.
    pub pending_evicted: u64,
}

/// A collector's grants signed by delegates in a person's name, by kind of delegation:
/// `(in force now, ever given)` each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DelegatedCounts {
    /// Signed by assistants.
    pub assistant: (u64, u64),
    /// Signed by guardians (also those signed before the child came of age).
    pub guardian: (u64, u64),
}

impl Ledger {
    /// The grants to `collector` that delegates signed in a person's name (`d` rows), counted
    /// by kind of delegation: all of them, and those in force at `now_ms` as the decision rule
    /// reads them: not revoked (by the delegate's own feed, or by another feed whose revocation
    /// counts), its delegate's feed not frozen, signed inside its delegation as the
    /// Undelegations present end it, endorsed by
    /// the co-guardian when it needs that, `valid_from <= now_ms < valid_until`, and its policy
    /// in effect. Reads every delegated grant the store holds (any collector's): blocking, call
    /// it off the async threads, and keep the answer a while.
    pub fn delegated_counts(
        &self,
        collector: &FeedId,
        now_ms: u64,
    ) -> Result<DelegatedCounts, LedgerError> {
        let store = &*self.store;
        let mut counts = DelegatedCounts::default();
        for pair in store.scan_prefix(&[tables::prefix::DELEGATED_GRANT]) {
            let (key, value) = pair?;
            if key.len() != 105 || key[33..65] != collector.0[..] {
                continue;
            }
            let person = FeedId(tables::bytes32(&key[1..33])?);
            let signed_ms = tables::be_u64(&key[65..73])?;
            let record: DelegatedGrantRecord = tables::decode(&value, "delegated grant")?;
            let grant = EntryId(record.grant.id);
            let mut delegations = Delegations::new(store, person);
            let delegation = delegations.state(&EntryId(record.delegation))?;
            let g = &record.grant;
            let in_effect = match &g.draft {
                Some(draft) => {
                    super::consultations::in_effect_from(&Staged::new(store), &EntryId(*draft))?
                        <= now_ms
                }
                None => true,
            };
            // A frozen delegate's grants are not read by the rule.
            let in_force = !delegations.frozen(&delegation.delegate)?
                && !g.revoked
                && delegation.counts(signed_ms)
                && g.valid_from <= now_ms
                && (g.valid_until == 0 || now_ms < g.valid_until)
                && in_effect
                && (delegation.co_signer.is_none()
                    || delegations.endorsement(&grant, &delegation)?.is_some())
                && !delegations.revoked_elsewhere(&grant)?;
            let slot = match delegation.kind {
                DelegationKind::Guardian => &mut counts.guardian,
                _ => &mut counts.assistant,
            };
            slot.1 += 1;
            slot.0 += u64::from(in_force);
        }
        Ok(counts)
    }
}
