//! Deciding checks from the materialised state: one consistent view per check or per batch, and
//! caches of the facts checks read (per collector, and per subject and collector), each entry
//! valid only while the generation it was read at is current.
//!
//! Consistency: the writer applies a group and bumps the generations while holding
//! [`Stats::view`] for writing; a [`View`] holds it for reading, so everything a view reads (the
//! store and the caches) is one state. Collectors with a session check the same subjects again
//! and again (every record of a sensor), so a hit saves a feed lookup and a grant scan.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use consent_proto::decide::{AccreditationFacts, Facts, GrantFacts, Outcome, Query, decide};
use consent_proto::ids::FeedId;
use consent_proto::validate::FeedState;

use super::staged::Staged;
use super::tables::{self, AccreditationRecord, GrantRecord};
use super::{Ledger, LedgerError, Stats};

/// Shards of subject generations.
const SHARDS: usize = 4096;
/// Cache partitions (each behind its own lock).
const PARTITIONS: usize = 16;
/// Subject facts cached per partition at most (a full partition is emptied): 32k
/// subject-collector pairs in all, ~12 MiB, so the cache cannot make memory creep with the log.
const SUBJECTS_PER_PARTITION: usize = 2_048;
/// Collectors whose facts are cached at most (the cache is emptied when full).
const COLLECTOR_CACHE_LIMIT: usize = 10_000;

/// The shard of a feed (feed ids are hashes: their first bytes are uniform).
pub fn shard(feed: &FeedId) -> usize {
    usize::from(u16::from_be_bytes([feed.0[0], feed.0[1]])) % SHARDS
}

/// One generation counter per shard of subject feeds.
#[derive(Debug)]
pub struct Generations(Box<[AtomicU64]>);

impl Default for Generations {
    fn default() -> Self {
        Self((0..SHARDS).map(|_| AtomicU64::new(0)).collect())
    }
}

impl Generations {
    /// The generation of `feed`'s shard.
    pub fn of(&self, feed: &FeedId) -> u64 {
        self.0[shard(feed)].load(Ordering::Acquire)
    }

    /// Marks the shards of `feeds` changed.
    pub fn bump(&self, feeds: impl IntoIterator<Item = FeedId>) {
        for feed in feeds {
            self.0[shard(&feed)].fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Marks every shard changed.
    pub fn bump_all(&self) {
        for g in self.0.iter() {
            g.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// A collector as checks see it.
#[derive(Debug)]
pub(super) struct CollectorFacts {
    pub(super) state: Option<FeedState>,
    accreditations: Vec<AccreditationFacts>,
}

/// A subject as checks about one collector see it.
#[derive(Debug)]
struct SubjectFacts {
    state: Option<FeedState>,
    grants: Vec<GrantFacts>,
    opt_out_seq: Option<u64>,
}

type SubjectCache = HashMap<(FeedId, FeedId), (u64, Arc<SubjectFacts>)>;

/// The caches of a ledger.
#[derive(Debug)]
pub(super) struct Caches {
    collectors: RwLock<HashMap<FeedId, (u64, Arc<CollectorFacts>)>>,
    subjects: Box<[RwLock<SubjectCache>]>,
}

impl Caches {
    /// Subject-collector pairs cached now (for metrics).
    pub(super) fn subject_pairs(&self) -> usize {
        self.subjects
            .iter()
            .map(|p| p.read().map(|c| c.len()).unwrap_or(0))
            .sum()
    }
}

impl Default for Caches {
    fn default() -> Self {
        Self {
            collectors: RwLock::default(),
            subjects: (0..PARTITIONS).map(|_| RwLock::default()).collect(),
        }
    }
}

/// One consistent state of the ledger for deciding checks.
pub struct View<'a> {
    ledger: &'a Ledger,
    _guard: Option<RwLockReadGuard<'a, ()>>,
    log_size: u64,
}

impl Ledger {
    /// A consistent view for deciding checks. Hold it only for synchronous work: the writer
    /// waits for it before applying its next group.
    pub fn view(&self) -> View<'_> {
        let guard = self.stats.view.read().ok();
        View {
            ledger: self,
            _guard: guard,
            log_size: self.stats.log_size.load(Ordering::Acquire),
        }
    }

    /// Decides one check from a view of its own: `(outcome, log size)`.
    pub fn check(&self, query: &Query) -> Result<(Outcome, u64), LedgerError> {
        let view = self.view();
        Ok((view.check(query)?, view.log_size()))
    }

    /// A feed's state as checks see it (cached like every collector fact): for authenticating
    /// collectors by their current key.
    pub fn collector_state(&self, feed: &FeedId) -> Result<Option<FeedState>, LedgerError> {
        Ok(self.view().collector(feed)?.state.clone())
    }
}

impl View<'_> {
    /// The arrival-log size published when the view was taken (its position).
    pub fn log_size(&self) -> u64 {
        self.log_size
    }

    /// Decides a check.
    pub fn check(&self, query: &Query) -> Result<Outcome, LedgerError> {
        let collector = self.collector(&query.collector)?;
        let subject = self.subject(&query.subject, &query.collector, collector.state.is_some())?;
        Ok(decide(
            query,
            &Facts {
                subject: subject.state.as_ref(),
                collector: collector.state.as_ref(),
                grants: &subject.grants,
                opt_out_seq: subject.opt_out_seq,
                accreditations: &collector.accreditations,
                registrars: &self.ledger.registrars,
            },
        ))
    }

    fn stats(&self) -> &Stats {
        &self.ledger.stats
    }

    /// What checks need to know about a collector (its feed and every registrar's latest
    /// statement about it).
    fn collector(&self, collector: &FeedId) -> Result<Arc<CollectorFacts>, LedgerError> {
        let generation = self.stats().collector_generation.load(Ordering::Acquire);
        let cache = &self.ledger.caches.collectors;
        if let Ok(cache) = cache.read()
            && let Some((cached_generation, facts)) = cache.get(collector)
            && *cached_generation == generation
        {
            return Ok(Arc::clone(facts));
        }
        let store = &*self.ledger.store;
        let view = Staged::new(store);
        let state = view
            .feed_record(collector)?
            .map(|r| r.state())
            .transpose()?;
        let mut accreditations = Vec::new();
        if state.is_some() {
            let prefix = tables::accreditation_prefix(collector);
            for pair in store.scan_prefix(&prefix) {
                let (key, value) = pair?;
                let registrar = FeedId(tables::bytes32(&key[prefix.len()..])?);
                let record: AccreditationRecord = tables::decode(&value, "accreditation")?;
                let frozen = view.feed_record(&registrar)?.is_none_or(|r| r.frozen);
                accreditations.push(record.facts(registrar, frozen));
            }
        }
        let facts = Arc::new(CollectorFacts {
            state,
            accreditations,
        });
        if let Ok(mut cache) = cache.write() {
            if cache.len() >= COLLECTOR_CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(*collector, (generation, Arc::clone(&facts)));
        }
        Ok(facts)
    }

    /// What checks need to know about `subject` for `collector`: its feed, its grants to the
    /// collector and its latest opt-out addressed to it (grants only if the collector is known).
    fn subject(
        &self,
        subject: &FeedId,
        collector: &FeedId,
        collector_known: bool,
    ) -> Result<Arc<SubjectFacts>, LedgerError> {
        let generation = self.stats().subject_generations.of(subject);
        let partition = &self.ledger.caches.subjects[shard(subject) % PARTITIONS];
        let key = (*subject, *collector);
        if let Ok(cache) = partition.read()
            && let Some((cached_generation, facts)) = cache.get(&key)
            && *cached_generation == generation
        {
            return Ok(Arc::clone(facts));
        }
        let store = &*self.ledger.store;
        let state = Staged::new(store)
            .feed_record(subject)?
            .map(|r| r.state())
            .transpose()?;
        let mut grants = Vec::new();
        let mut opt_out_seq = None;
        if state.is_some() && collector_known {
            let prefix = tables::grant_prefix(subject, collector);
            for pair in store.scan_prefix(&prefix) {
                let (key, value) = pair?;
                let seq = tables::be_u64(&key[prefix.len()..])?;
                let record: GrantRecord = tables::decode(&value, "grant")?;
                grants.push(record.facts(seq));
            }
            if !grants.is_empty() {
                opt_out_seq = store
                    .get(&tables::opt_out_key(subject, collector))?
                    .map(|v| tables::be_u64(&v))
                    .transpose()?;
            }
        }
        let facts = Arc::new(SubjectFacts {
            state,
            grants,
            opt_out_seq,
        });
        // Unknown feeds are not cached (anyone can ask about random ids).
        if facts.state.is_some()
            && collector_known
            && let Ok(mut cache) = partition.write()
        {
            if cache.len() >= SUBJECTS_PER_PARTITION {
                cache.clear();
            }
            cache.insert(key, (generation, Arc::clone(&facts)));
        }
        Ok(facts)
    }
}
