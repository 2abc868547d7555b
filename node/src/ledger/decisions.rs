//! Deciding checks from the materialised state: one consistent view per check, and caches of
//! the facts checks read (per collector, and per subject and collector), each entry valid only
//! while the generation it was read at is current.
//!
//! Consistency: the writer applies a group and bumps the generations while holding
//! [`Stats::view`] for writing; a [`View`] holds it for reading, so everything a view reads (the
//! store and the caches) is one state. Collectors with a session check the same subjects again
//! and again (every record of a sensor), so a hit saves a feed lookup and a grant scan.
//!
//! Bounded work under the lock: a view serves one check ([`Ledger::check_each`] takes a fresh
//! one for each check of a batch), and one check reads at most [`GRANTS_CONSIDERED`] grants of its
//! (subject, collector) pair — the newest, by a reverse scan; the rule ignores older ones — plus
//! the subject's feed record and opt-out, the collector's record and accreditations (one per
//! genesis registrar), and the policy of each scoped grant (cached apart: policies never
//! change, so that cache needs no generation). std's `RwLock` makes new readers queue behind a
//! waiting writer, so this bound is also the most one check waits for another's work, however
//! many grants a feed holds.
//! [`Stats::view_work_max`] records the most grant facts read or examined under one view.
//!
//! A grant whose policy is a draft under consultation counts from when the draft takes effect
//! (`consent_proto::consultation::in_effect_from`, read from the draft's `C` and `B` rows).
//! That changes with other feeds' entries (an outcome, the collector's next version), which the
//! subject's generation does not follow, so facts holding such a grant are never cached: they
//! are read anew for each check (admission refuses grants on drafts, so these are rare).
//!
//! Delegations (only for a subject that gave one: one seek on its `j` rows tells): the newest
//! [`GRANTS_CONSIDERED`] grants delegates signed on the subject's behalf naming the collector
//! (`d` rows, by signed time and id), each with its delegation as the rule reads it
//! (`j` row: its end by the Undelegations present) and, for a 2-of-2 delegation, the counting
//! endorsement (`b` rows, picked by `consent_proto::delegation::counting_endorsement`; a frozen
//! feed's are skipped); a frozen delegate's grants are skipped (its feed record, read once per
//! delegate per check); for each
//! candidate grant not revoked by its own feed, the revocations by other feeds (`h` rows:
//! usually none, one seek), each counting as `consent_proto::delegation::withdrawal_counts`
//! says; and the newest counting delegated opt-out (`i` rows, newest first: the rows an
//! ex-delegate signed after its delegation ended are read until one counts, since skipping any
//! could drop an opt-out that counts). Every one of those entries marks the subject's feed
//! changed, so these facts are cached like the rest.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use consent_proto::body::Body;
use consent_proto::decide::{
    AccreditationFacts, Facts, GRANTS_CONSIDERED, GrantFacts, Outcome, Query, decide,
};
use consent_proto::delegation::Via;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::scope::PolicyScope;
use consent_proto::validate::FeedState;

use super::delegations::Delegations;
use super::staged::Staged;
use super::tables::{self, AccreditationRecord, DelegatedGrantRecord, GrantRecord};
use super::{Ledger, LedgerError, Stats};
use crate::store::{KvStore, StoreError};

/// Shards of subject generations.
const SHARDS: usize = 4096;
/// Cache partitions (each behind its own lock).
const PARTITIONS: usize = 16;
/// Subject facts cached per partition at most (a full partition is emptied): 32k
/// subject-collector pairs in all, ~12 MiB, so the cache cannot make memory creep with the log.
const SUBJECTS_PER_PARTITION: usize = 2_048;
/// Grant facts cached per partition at most (a partition that would exceed it is emptied): 131k
/// in all, ~10 MiB, whatever the pairs hold (a pair holds up to [`GRANTS_CONSIDERED`]).
const GRANTS_PER_PARTITION: usize = 8_192;
/// Collectors whose facts are cached at most (the cache is emptied when full).
const COLLECTOR_CACHE_LIMIT: usize = 10_000;
/// Policies whose scope is cached at most (the least used give way first): a policy entry is at
/// most 8 KiB, so ~10 MiB at worst.
const POLICY_CACHE_LIMIT: usize = 1_024;

/// The shard of a feed (feed ids are hashes: their first bytes are uniform).
pub(super) fn shard(feed: &FeedId) -> usize {
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
    /// Grants delegates signed on the subject's behalf naming the collector (the newest
    /// [`GRANTS_CONSIDERED`] by signed time and id), each with its delegation.
    delegated: Vec<GrantFacts>,
    /// The signed time of the opt-out `opt_out_seq` names (read only when `delegated` holds a
    /// grant: own grants are judged by seq).
    opt_out_ms: Option<u64>,
    /// The signed time of the newest delegated opt-out whose delegation counted then.
    delegated_opt_out_ms: Option<u64>,
    /// What these facts count for in the subject cache ([`weight`]).
    weight: usize,
}

/// How much of the subject cache one grant's facts take, in grants: 1, plus an eighth per zone,
/// sensor, window and form its own narrowing lists (its policy's scope is shared, through the
/// policy cache).
fn weight(grant: &GrantFacts) -> usize {
    let narrowed = grant
        .scope
        .as_deref()
        .and_then(|s| s.grant.as_ref())
        .map_or(0, |g| {
            g.zones.len() + g.sensors.len() + g.windows.len() + g.forms.len()
        });
    1 + narrowed / 8
}

/// One partition of the subject cache.
#[derive(Debug, Default)]
struct SubjectCache {
    pairs: HashMap<(FeedId, FeedId), (u64, Arc<SubjectFacts>)>,
    /// Grant facts held by `pairs`.
    grants: usize,
}

impl SubjectCache {
    /// Caches `facts` for `key`, emptying the partition first if it is full (in pairs or grants).
    fn insert(&mut self, key: (FeedId, FeedId), generation: u64, facts: Arc<SubjectFacts>) {
        let weight = facts.weight;
        if self.pairs.len() >= SUBJECTS_PER_PARTITION
            || self.grants.saturating_add(weight) > GRANTS_PER_PARTITION
        {
            self.pairs.clear();
            self.grants = 0;
        }
        if let Some((_, old)) = self.pairs.insert(key, (generation, facts)) {
            self.grants = self.grants.saturating_sub(old.weight);
        }
        self.grants += weight;
    }
}

/// The caches of a ledger.
#[derive(Debug)]
pub(super) struct Caches {
    collectors: RwLock<HashMap<FeedId, (u64, Arc<CollectorFacts>)>>,
    subjects: Box<[RwLock<SubjectCache>]>,
    /// The scope of each policy a scoped grant names (`None`: it declares none). No generation:
    /// a policy entry never changes. At most [`POLICY_CACHE_LIMIT`] policies, the least used
    /// giving way first (quick_cache's S3-FIFO): a collector naming many policy versions in its
    /// grants evicts a few, never empties the cache for everyone.
    policies: quick_cache::sync::Cache<EntryId, Option<Arc<PolicyScope>>>,
}

impl Caches {
    /// Subject-collector pairs cached now (for metrics).
    pub(super) fn subject_pairs(&self) -> usize {
        self.subjects
            .iter()
            .map(|p| p.read().map(|c| c.pairs.len()).unwrap_or(0))
            .sum()
    }
}

impl Default for Caches {
    fn default() -> Self {
        Self {
            collectors: RwLock::default(),
            subjects: (0..PARTITIONS).map(|_| RwLock::default()).collect(),
            policies: quick_cache::sync::Cache::new(POLICY_CACHE_LIMIT),
        }
    }
}

/// One consistent state of the ledger for deciding checks.
pub struct View<'a> {
    ledger: &'a Ledger,
    _guard: Option<RwLockReadGuard<'a, ()>>,
    log_size: u64,
    /// Grant facts read from the store or handed to the rule under this view.
    work: Cell<u64>,
}

impl Drop for View<'_> {
    fn drop(&mut self) {
        self.ledger
            .stats
            .view_work_max
            .fetch_max(self.work.get(), Ordering::Relaxed);
    }
}

impl Ledger {
    /// A consistent view for deciding checks. Hold it only for synchronous work, off the async
    /// threads, and for one check: the writer, and every check queued behind it, waits for it.
    pub fn view(&self) -> View<'_> {
        let guard = self.stats.view.read().ok();
        self.view_with(guard)
    }

    /// A view, if one can be had without waiting (no writer holds the lock or waits for it).
    fn try_view(&self) -> Option<View<'_>> {
        let guard = self.stats.view.try_read().ok()?;
        Some(self.view_with(Some(guard)))
    }

    fn view_with<'a>(&'a self, guard: Option<RwLockReadGuard<'a, ()>>) -> View<'a> {
        View {
            ledger: self,
            _guard: guard,
            log_size: self.stats.log_size.load(Ordering::Acquire),
            work: Cell::new(0),
        }
    }

    /// Decides one check from a view of its own: `(outcome, log size)`. Reads the store on a
    /// cache miss: call it off the async threads.
    pub fn check(&self, query: &Query) -> Result<(Outcome, u64), LedgerError> {
        let view = self.view();
        Ok((view.check(query)?, view.log_size()))
    }

    /// Decides one check without reading the store or waiting for the lock: from cached facts
    /// only, when both the collector's and the pair's are cached at the current generation and no
    /// writer holds or waits for the view. `None` otherwise: decide it with [`Ledger::check`] on a
    /// blocking thread. Cheap enough (at most [`GRANTS_CONSIDERED`] grants examined) for an async
    /// thread. Same answer as [`Ledger::check`].
    pub fn check_cached(&self, query: &Query) -> Option<(Outcome, u64)> {
        let view = self.try_view()?;
        let outcome = view.check_cached(query)?;
        Some((outcome, view.log_size()))
    }

    /// Decides checks in order, each from a view of its own, so that the writer (and the checks
    /// queued behind it) waits for one check at most, never for a whole batch. Views follow each
    /// other: a commit may land between two checks, never go back. Call it off the async threads.
    pub fn check_each(&self, queries: &[Query]) -> Result<Vec<(Outcome, u64)>, LedgerError> {
        queries.iter().map(|q| self.check(q)).collect()
    }

    /// A feed's state as checks see it (cached like every collector fact): for authenticating
    /// collectors by their current key, on every call. A current cached answer is read without
    /// the view lock, so authentication (on an async thread) never waits for the writer: it is
    /// the feed as of the last commit that changed it (the writer bumps generations after it
    /// applies a group, and facts are cached only from within a view).
    pub fn collector_state(&self, feed: &FeedId) -> Result<Option<FeedState>, LedgerError> {
        if let Some(facts) = self.view_with(None).cached_collector(feed) {
            return Ok(facts.state.clone());
        }
        Ok(self.view().collector(feed)?.state.clone())
    }

    /// [`Ledger::collector_state`] from the cache only, never waiting for a lock: `None` when
    /// the feed's facts are not cached at the current generation (or the cache is being written
    /// this instant); read it with [`Ledger::collector_state`] on a blocking thread then. For
    /// session checks on async threads.
    pub fn cached_collector_state(&self, feed: &FeedId) -> Option<Option<FeedState>> {
        let generation = self.stats.collector_generation.load(Ordering::Acquire);
        let cache = self.caches.collectors.try_read().ok()?;
        let (cached_generation, facts) = cache.get(feed)?;
        (*cached_generation == generation).then(|| facts.state.clone())
    }

    /// A number that changes (lock-free, one atomic read) whenever a commit changes `feed`'s
    /// state, or that of another feed of its shard: while it stays the same, so does the feed.
    /// Read it *before* reading the feed, so a change that lands in between is seen next time.
    pub fn feed_generation(&self, feed: &FeedId) -> u64 {
        self.stats.subject_generations.of(feed)
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
        Ok(self.apply_rule(query, &collector, &subject))
    }

    /// Decides a check from cached facts only (`None` on any miss).
    fn check_cached(&self, query: &Query) -> Option<Outcome> {
        let collector = self.cached_collector(&query.collector)?;
        let subject = self.cached_subject(&query.subject, &query.collector)?;
        Some(self.apply_rule(query, &collector, &subject))
    }

    /// The decision rule over the facts read, counted as work done under this view.
    fn apply_rule(
        &self,
        query: &Query,
        collector: &CollectorFacts,
        subject: &SubjectFacts,
    ) -> Outcome {
        self.count(subject.grants.len() + subject.delegated.len());
        decide(
            query,
            &Facts {
                subject: subject.state.as_ref(),
                collector: collector.state.as_ref(),
                grants: &subject.grants,
                opt_out_seq: subject.opt_out_seq,
                delegated: &subject.delegated,
                opt_out_ms: subject.opt_out_ms,
                delegated_opt_out_ms: subject.delegated_opt_out_ms,
                accreditations: &collector.accreditations,
                registrars: &self.ledger.registrars,
            },
        )
    }

    /// Adds `grants` grant facts to the work done under this view.
    fn count(&self, grants: usize) {
        self.work.set(self.work.get().saturating_add(grants as u64));
    }

    fn stats(&self) -> &Stats {
        &self.ledger.stats
    }

    /// The collector's cached facts, if current.
    fn cached_collector(&self, collector: &FeedId) -> Option<Arc<CollectorFacts>> {
        let generation = self.stats().collector_generation.load(Ordering::Acquire);
        let cache = self.ledger.caches.collectors.read().ok()?;
        let (cached_generation, facts) = cache.get(collector)?;
        (*cached_generation == generation).then(|| Arc::clone(facts))
    }

    /// The pair's cached facts, if current.
    fn cached_subject(&self, subject: &FeedId, collector: &FeedId) -> Option<Arc<SubjectFacts>> {
        let generation = self.stats().subject_generations.of(subject);
        let partition = &self.ledger.caches.subjects[shard(subject) % PARTITIONS];
        let cache = partition.read().ok()?;
        let (cached_generation, facts) = cache.pairs.get(&(*subject, *collector))?;
        (*cached_generation == generation).then(|| Arc::clone(facts))
    }

    /// What checks need to know about a collector (its feed and every registrar's latest
    /// statement about it).
    fn collector(&self, collector: &FeedId) -> Result<Arc<CollectorFacts>, LedgerError> {
        // The generation is read before the store: facts read meanwhile by a newer commit are
        // cached under the older generation, so they are only ever dropped early.
        let generation = self.stats().collector_generation.load(Ordering::Acquire);
        if let Some(facts) = self.cached_collector(collector) {
            return Ok(facts);
        }
        let cache = &self.ledger.caches.collectors;
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

    /// What checks need to know about `subject` for `collector`: its feed, its newest
    /// [`GRANTS_CONSIDERED`] grants to the collector (all the rule reads) and its latest opt-out
    /// addressed to it (grants only if the collector is known).
    fn subject(
        &self,
        subject: &FeedId,
        collector: &FeedId,
        collector_known: bool,
    ) -> Result<Arc<SubjectFacts>, LedgerError> {
        let generation = self.stats().subject_generations.of(subject);
        if let Some(facts) = self.cached_subject(subject, collector) {
            return Ok(facts);
        }
        let partition = &self.ledger.caches.subjects[shard(subject) % PARTITIONS];
        let key = (*subject, *collector);
        let store = &*self.ledger.store;
        let state = Staged::new(store)
            .feed_record(subject)?
            .map(|r| r.state())
            .transpose()?;
        let mut grants = Vec::new();
        let mut opt_out_seq = None;
        let mut delegated = Vec::new();
        let (mut opt_out_ms, mut delegated_opt_out_ms) = (None, None);
        // Whether a grant names a draft (then the facts are not cached).
        let mut on_draft = false;
        if state.is_some() && collector_known {
            // Newest first (keys end in the seq, big-endian); the rule reads no older grants.
            let prefix = tables::grant_prefix(subject, collector);
            for pair in store.scan_prefix_rev(&prefix).take(GRANTS_CONSIDERED) {
                let (key, value) = pair?;
                let seq = tables::be_u64(&key[prefix.len()..])?;
                let record: GrantRecord = tables::decode(&value, "grant")?;
                grants.push(self.grant_facts(&record, seq, &mut on_draft)?);
            }
            self.count(grants.len());
            // Delegated statements about the subject all rest on a Delegation of its feed, which
            // marks the feed (a point read: almost no subject delegates).
            let delegating = store.get(&tables::delegating_key(subject))?.is_some();
            let mut delegations = Delegations::new(store, *subject);
            if delegating {
                for grant in grants.iter_mut().filter(|g| !g.revoked) {
                    grant.revoked = delegations.revoked_elsewhere(&grant.id)?;
                }
                // Newest first (keys end in the signed time and id): the rule reads no older.
                // (A frozen delegate's rows are skipped before the window is counted: a frozen
                // feed signs nothing more, so they are bounded by what it signed before.)
                let prefix = tables::delegated_grant_prefix(subject, collector);
                for pair in store.scan_prefix_rev(&prefix) {
                    if delegated.len() == GRANTS_CONSIDERED {
                        break;
                    }
                    let (key, value) = pair?;
                    let at = prefix.len();
                    let signed_ms = tables::be_u64(key.get(at..at + 8).unwrap_or_default())?;
                    let record: DelegatedGrantRecord = tables::decode(&value, "delegated grant")?;
                    let delegation = delegations.state(&EntryId(record.delegation))?;
                    // Nothing a frozen delegate signed in someone's name is read.
                    if delegations.frozen(&delegation.delegate)? {
                        continue;
                    }
                    let mut facts = self.grant_facts(&record.grant, record.seq, &mut on_draft)?;
                    let endorsement = match delegation.co_signer {
                        Some(_) => delegations.endorsement(&facts.id, &delegation)?,
                        None => None,
                    };
                    if !facts.revoked {
                        facts.revoked = delegations.revoked_elsewhere(&facts.id)?;
                    }
                    facts.time_ms = signed_ms;
                    facts.via = Some(Arc::new(Via {
                        delegation,
                        signed_ms,
                        endorsement,
                    }));
                    delegated.push(facts);
                }
                self.count(delegated.len());
            }
            if !grants.is_empty() || !delegated.is_empty() {
                opt_out_seq = store
                    .get(&tables::opt_out_key(subject, collector))?
                    .map(|v| tables::be_u64(&v))
                    .transpose()?;
            }
            if delegating && (!grants.is_empty() || !delegated.is_empty()) {
                let view = Staged::new(store);
                // A delegated grant is judged against the own opt-out by signed times.
                if let Some(seq) = opt_out_seq
                    && !delegated.is_empty()
                {
                    opt_out_ms = Some(signed_time(&view, subject, seq)?);
                }
                delegated_opt_out_ms = delegations.newest_opt_out(collector)?;
                // Own grants are judged against a delegated opt-out by signed times too.
                if delegated_opt_out_ms.is_some() {
                    for grant in &mut grants {
                        grant.time_ms = signed_time(&view, subject, grant.seq)?;
                    }
                }
            }
        }
        let facts = Arc::new(SubjectFacts {
            state,
            weight: grants.iter().chain(&delegated).map(weight).sum(),
            grants,
            opt_out_seq,
            delegated,
            opt_out_ms,
            delegated_opt_out_ms,
        });
        // Unknown feeds are not cached (anyone can ask about random ids), nor facts whose
        // grants on drafts may take effect without the subject's feed changing.
        if facts.state.is_some()
            && collector_known
            && !on_draft
            && let Ok(mut cache) = partition.write()
        {
            cache.insert(key, generation, Arc::clone(&facts));
        }
        Ok(facts)
    }

    /// The rule's view of a grant record at `seq` (an own grant's, or a delegated grant's as
    /// for an own one), its policy's scope read through the policy cache; `on_draft` is set when
    /// its policy is a draft (facts holding it are not cached).
    fn grant_facts(
        &self,
        record: &GrantRecord,
        seq: u64,
        on_draft: &mut bool,
    ) -> Result<GrantFacts, LedgerError> {
        let policy_scope = match &record.scope {
            Some(scope) => self.policy_scope(&EntryId(scope.policy))?,
            None => None,
        };
        let in_effect_from = match &record.draft {
            Some(draft) => {
                *on_draft = true;
                super::consultations::in_effect_from(
                    &Staged::new(&*self.ledger.store),
                    &EntryId(*draft),
                )?
            }
            None => consent_proto::consultation::ALWAYS,
        };
        Ok(record.facts(seq, policy_scope, in_effect_from)?)
    }

    /// The scope the policy entry `policy` declares (`None`: it declares none), from the policy
    /// cache or its `E` row. A scoped grant's record names its policy, which validation required.
    fn policy_scope(&self, policy: &EntryId) -> Result<Option<Arc<PolicyScope>>, LedgerError> {
        let cache = &self.ledger.caches.policies;
        if let Some(scope) = cache.get(policy) {
            return Ok(scope);
        }
        let Some((_, entry)) = Staged::new(&*self.ledger.store).entry_with_index(policy)? else {
            return Err(StoreError::Corrupt(format!(
                "a scoped grant names policy {policy}, which is not stored"
            ))
            .into());
        };
        let Body::Policy(body) = entry.body else {
            return Err(StoreError::Corrupt(format!(
                "a scoped grant names {policy}, which is not a policy"
            ))
            .into());
        };
        let scope = body.scope.map(Arc::new);
        cache.insert(*policy, scope.clone());
        Ok(scope)
    }
}

/// The signed time of `feed`'s entry at `seq` (an own grant or opt-out, when the rule compares
/// it with a delegate's statement).
fn signed_time(view: &Staged<'_, dyn KvStore>, feed: &FeedId, seq: u64) -> Result<u64, StoreError> {
    use consent_proto::validate::LedgerView;
    view.entry_at(feed, seq)?
        .map(|e| e.time_ms)
        .ok_or_else(|| StoreError::Corrupt(format!("{feed:?} has no entry at seq {seq}")))
}
