//! The collector's local decision cache: the facts the decision rule reads about one collector,
//! kept exact by applying its watch stream in order, so that checks are answered in memory in
//! well under a microsecond.
//!
//! What it holds: the subjects' grants to the collector (with revocations), their opt-outs of
//! sale/sharing, the registrars' latest statements about the collector, and the feeds frozen
//! after an equivocation. Decisions use the protocol's own rule ([`consent_proto::decide`]) with
//! the collector's clock, so a grant stops allowing at its `valid_until` whether or not an
//! `EXPIRED` event has arrived. A subject the cache has never heard of is denied (the node would
//! deny it too: it has no grant to this collector).
//!
//! When it answers: only while the stream is live (the node's first heartbeat has arrived, so the
//! catch-up is complete) and something (an event or a heartbeat) arrived within
//! [`CacheConfig::max_stream_age`]. Otherwise it answers [`Stale`], and
//! [`DecisionCache::check_or_ask`] asks the node instead, denying when that fails too.
//!
//! The cache trusts the node it watches as much as a check answered by that node; entries in
//! events are decoded but their signatures are not verified (that needs the feeds' key history).
//!
//! **Scopes.** A grant is judged against its policy's scope (zones, sensors, time windows, forms)
//! and its own narrowing, by the same rule as the node's ([`consent_proto::scope`]): a check
//! carries the observation's [`Context`] ([`DecisionCache::check_with`]). So the cache must know
//! the policy of every grant it applies. The watch stream carries grants, not the collector's
//! policies: [`DecisionCache::follow`] fetches a policy it lacks from the node
//! ([`Collector::entry`], checked against its id) before it applies the grant; a caller that
//! applies events itself adds them with [`DecisionCache::add_policy`]
//! ([`DecisionCache::missing_policy`] says which one an event needs). A grant whose policy is
//! not known is a [`BadEvent`]: nothing is guessed.
//!
//! **Consultations.** A policy version that widens what is collected is a *draft*: it takes
//! effect only when a registrar approves it after its public consultation.
//! [`DecisionCache::follow`] asks for the collector's consultation events, and each `POLICY`
//! event says whether the version is a draft (`gated`). The cache does not follow
//! consultations to their outcome: a subject holding a grant under a draft is answered
//! [`Stale::Draft`], and the node decides ([`DecisionCache::check_or_ask`]). (Nodes refuse such
//! grants until the draft is approved.) A policy fetched for a grant rather than seen in a
//! `POLICY` event counts as a draft when it carries a consultation. A cache resumed from a
//! stored cursor does not know the drafts before it: start a cache from the beginning (an
//! empty cursor).
//!
//! ```no_run
//! # async fn demo(watcher: consent_client::collector::Collector,
//! #               mut asker: consent_client::collector::Collector,
//! #               subject: consent_proto::FeedId) {
//! use consent_client::cache::{CacheConfig, DecisionCache};
//! use consent_proto::vocab::{DataCategory, Purpose};
//! let cache = DecisionCache::new(watcher.me(), CacheConfig::default());
//! let _task = cache.follow(watcher); // applies the watch stream, reconnecting from its cursor
//! let answer = cache
//!     .check_or_ask(&mut asker, subject, Purpose::ServiceProvision, DataCategory::Vehicle)
//!     .await;
//! if answer.allowed() { /* store the record */ }
//! # }
//! ```
//!
//! **Delegation.** A grant, a revocation or an opt-out a delegate (an assistant, a guardian)
//! signed in a subject's name counts only when signed inside its delegation as the
//! undelegations present end it, and a guardian's 2-of-2 grant only with the co-guardian's
//! endorsement (crate docs of consent-proto, "Delegation"). The watch stream carries such
//! statements under the represented person, but not the delegations, undelegations and
//! endorsements they depend on. So the cache keeps no delegated facts: a subject with any
//! statement a delegate signed in its name is answered [`Stale::Delegated`], and the node
//! decides ([`DecisionCache::check_or_ask`] then reports the delegation in
//! [`Answer::delegated`]). Subjects without delegates are answered from memory as before.
//!
//! With a scoped policy, the gateway says which sensor (its id and kind) saw what, where, when, and
//! the form it would like to keep it in; after a `FORM_NOT_COVERED` deny it checks again with the
//! form the answer requires, and keeps the record in that form ([`crate::transforms`]):
//!
//! ```no_run
//! # async fn demo(cache: consent_client::cache::DecisionCache,
//! #               mut asker: consent_client::collector::Collector,
//! #               subject: consent_proto::FeedId, context: consent_proto::scope::Context) {
//! use consent_proto::pb::Reason;
//! use consent_proto::scope::Context;
//! use consent_proto::vocab::{DataCategory, Form, Purpose};
//! let (p, c) = (Purpose::UrbanPlanning, DataCategory::Location);
//! let wanted = Context { form: Some(Form::Raw), ..context };
//! let mut answer = cache.check_or_ask_with(&mut asker, subject, p, c, &wanted).await;
//! if answer.reason == Reason::FormNotCovered && answer.required_form.is_some() {
//!     let again = Context { form: answer.required_form, ..wanted };
//!     answer = cache.check_or_ask_with(&mut asker, subject, p, c, &again).await;
//! }
//! if answer.allowed() { /* transform to the form checked, then store */ }
//! # }
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::decide::{self, AccreditationFacts, GrantFacts, Query};
use consent_proto::delegation::DelegationUsed;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::pb::{self, Decision, Reason, WatchKind};
use consent_proto::scope::{Context, PolicyScope, ScopeFacts};
use consent_proto::vocab::{DataCategory, Form, Purpose, RequestKind};
use prost::bytes::Bytes;
use tokio::sync::watch;

use crate::collector::Collector;

/// How the cache follows its stream.
#[derive(Debug, Clone, Copy)]
pub struct CacheConfig {
    /// The cache answers only if it heard from the node at most this long ago.
    pub max_stream_age: Duration,
    /// Heartbeat interval asked of the node (keep it well below `max_stream_age`).
    pub heartbeat: Duration,
    /// Longest wait between reconnection attempts.
    pub max_backoff: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_stream_age: Duration::from_secs(3),
            heartbeat: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// Why the cache did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Stale {
    /// The stream has not (yet, or since the last disconnect) caught up with the node.
    #[error("the watch stream is not live (catching up or disconnected)")]
    NotLive,
    /// Nothing arrived for longer than the configured bound.
    #[error("the watch stream was last heard from {0:?} ago")]
    TooOld(Duration),
    /// The subject holds a grant under a policy version that is a draft under consultation (in
    /// effect only from a registrar's approval, which the cache does not follow): ask the node.
    #[error("the subject holds a grant under policy {0}, a draft under consultation")]
    Draft(EntryId),
    /// A delegate signed this entry (a grant, a revocation, an opt-out) in the subject's name:
    /// whether it counts depends on its delegation's end and endorsements, which the watch
    /// stream does not carry: ask the node.
    #[error("a delegate signed {0} in the subject's name: the node decides")]
    Delegated(EntryId),
}

/// An event the cache could not apply: the stream is dropped and resumed from the last cursor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("watch event {kind:?} cannot be applied: {why}")]
pub struct BadEvent {
    /// The event's kind.
    pub kind: WatchKind,
    /// What is wrong.
    pub why: String,
}

/// A decision from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cached {
    /// Allow or deny.
    pub decision: Decision,
    /// Why.
    pub reason: Reason,
    /// The grant named, if any.
    pub grant: Option<EntryId>,
    /// The form data must be kept in under the grant named, for the purpose asked (`None`: no
    /// form required). After a `FORM_NOT_COVERED` deny, check again with this form.
    pub required_form: Option<Form>,
    /// The node's log position the cache reflects (everything below it is applied).
    pub position: u64,
}

/// A policy entry the cache cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy entry {id} cannot be added: {why}")]
pub struct BadPolicy {
    /// The entry.
    pub id: EntryId,
    /// What is wrong.
    pub why: &'static str,
}

/// Where an answer of [`DecisionCache::check_or_ask`] came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The cache, reflecting the node's log below this position.
    Cache {
        /// Position.
        position: u64,
    },
    /// The node (the cache was stale for the given reason).
    Node {
        /// Why the cache did not answer.
        stale: Stale,
    },
    /// Neither could answer: denied. The reason, for the caller's log.
    FailedClosed(String),
}

/// An answer that is always usable: deny unless something fresh said allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Allow or deny.
    pub decision: Decision,
    /// Why (`REASON_NODE_NOT_FRESH` when it failed closed).
    pub reason: Reason,
    /// The grant named, if any.
    pub grant: Option<EntryId>,
    /// The form data must be kept in under the grant named (see [`Cached::required_form`]).
    pub required_form: Option<Form>,
    /// When the grant named was signed by a delegate in the subject's name: the delegation it
    /// rests on (from the node's answer; the cache answers only subjects without delegates).
    pub delegated: Option<DelegationUsed>,
    /// Where it came from.
    pub source: Source,
}

impl Answer {
    /// Whether the collector may store the data.
    pub fn allowed(&self) -> bool {
        self.decision == Decision::Allow
    }
}

/// One subject's facts.
#[derive(Debug, Default)]
struct Subject {
    grants: Vec<GrantFacts>,
    opt_out_seq: Option<u64>,
    /// A grant of the subject names this draft (see [`Stale::Draft`]).
    draft: Option<EntryId>,
    /// The first statement a delegate signed in the subject's name (see [`Stale::Delegated`]).
    delegated: Option<EntryId>,
}

/// Everything the cache knows.
#[derive(Debug, Default)]
struct Facts {
    subjects: HashMap<FeedId, Subject>,
    /// The collector's policies by entry id, with their scope (`None`: the policy declares
    /// none). Policies are immutable: never replaced, never evicted.
    policies: HashMap<EntryId, Option<Arc<PolicyScope>>>,
    /// The collector's policy versions that are drafts (`POLICY` events with `gated`, and
    /// fetched policies with a consultation).
    drafts: HashSet<EntryId>,
    /// Every registrar's latest statement about the collector.
    accreditations: Vec<AccreditationFacts>,
    /// The registrars that made them (the node accepts such entries only from the genesis's).
    registrars: HashSet<FeedId>,
    /// Feeds frozen after an equivocation (subjects, registrars, the collector itself).
    frozen: HashSet<FeedId>,
    /// Resume here.
    cursor: Bytes,
    /// Everything below this arrival index is applied.
    position: u64,
    /// A heartbeat arrived since the stream (re)started.
    live: bool,
    /// When the last event arrived.
    heard: Option<Instant>,
}

struct Inner {
    me: FeedId,
    config: CacheConfig,
    facts: RwLock<Facts>,
    /// `(position, live)`, for waiters.
    position: watch::Sender<(u64, bool)>,
}

/// A decision cache for one collector; clones share it.
#[derive(Clone)]
pub struct DecisionCache(Arc<Inner>);

impl DecisionCache {
    /// An empty cache for collector `me`: it answers once it follows a stream that caught up.
    pub fn new(me: FeedId, config: CacheConfig) -> Self {
        Self(Arc::new(Inner {
            me,
            config,
            facts: RwLock::new(Facts::default()),
            position: watch::channel((0, false)).0,
        }))
    }

    /// The node's log position the cache reflects.
    pub fn position(&self) -> u64 {
        self.0.position.borrow().0
    }

    /// Waits until the cache reflects the node's log below `position` (e.g. the index of a
    /// revocation's receipt) and is live; false after `timeout`.
    pub async fn reached(&self, position: u64, timeout: Duration) -> bool {
        let mut rx = self.0.position.subscribe();
        let wait = rx.wait_for(|&(p, live)| live && p >= position);
        matches!(tokio::time::timeout(timeout, wait).await, Ok(Ok(_)))
    }

    /// Decides now, from memory. A subject never heard of is denied.
    pub fn check(
        &self,
        subject: FeedId,
        purpose: Purpose,
        category: DataCategory,
    ) -> Result<Cached, Stale> {
        self.check_at(subject, purpose, category, crate::time::now_ms())
    }

    /// Decides for time `at_ms` (Unix ms), from memory, with no observation context (a grant
    /// whose scope needs some is denied with the `CONTEXT_MISSING_*` reason).
    pub fn check_at(
        &self,
        subject: FeedId,
        purpose: Purpose,
        category: DataCategory,
        at_ms: u64,
    ) -> Result<Cached, Stale> {
        self.check_with(subject, purpose, category, &Context::NONE, at_ms)
    }

    /// Decides for time `at_ms` (Unix ms), from memory, about the observation `context` (its
    /// sensor with the sensor's kind, cell, time and the form it would be kept in): the node's
    /// rule, scopes included. Build it with a sensor kind only beside a sensor id: the node
    /// refuses a kind alone (INVALID_ARGUMENT), and the rule reads it as no sensor.
    pub fn check_with(
        &self,
        subject: FeedId,
        purpose: Purpose,
        category: DataCategory,
        context: &Context,
        at_ms: u64,
    ) -> Result<Cached, Stale> {
        let facts = self.read().map_err(|_| Stale::NotLive)?;
        if !facts.live {
            return Err(Stale::NotLive);
        }
        // The protocol's freshness rule, with the stream's last event or heartbeat as the last
        // contact; counted on the monotonic clock (a wall clock can jump): the last contact at
        // 1 ms, now at 1 ms plus its age (0: never heard).
        let age = facts.heard.map(|t| t.elapsed());
        let demand = decide::Demand {
            // At least 1 ms: to the rule 0 means no demand, to the cache it means never answer.
            max_staleness_ms: u64::try_from(self.0.config.max_stream_age.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
            min_subject_seq: 0,
        };
        let age_ms = age.map_or(u64::MAX, |a| {
            u64::try_from(a.as_millis()).unwrap_or(u64::MAX)
        });
        let last_contact_ms = u64::from(age.is_some());
        if !decide::fresh(&demand, None, last_contact_ms, age_ms.saturating_add(1)) {
            return Err(Stale::TooOld(age.unwrap_or(Duration::MAX)));
        }
        let deny = |reason| Cached {
            decision: Decision::Deny,
            reason,
            grant: None,
            required_form: None,
            position: facts.position,
        };
        if !facts.frozen.is_empty() {
            if facts.frozen.contains(&subject) {
                return Ok(deny(Reason::SubjectFrozen));
            }
            if facts.frozen.contains(&self.0.me) {
                return Ok(deny(Reason::CollectorFrozen));
            }
        }
        if !decide::accredited(at_ms, &facts.accreditations, &facts.registrars) {
            return Ok(deny(Reason::CollectorNotAccredited));
        }
        let query = Query {
            subject,
            collector: self.0.me,
            purpose,
            category,
            at_ms,
            context: *context,
        };
        if let Some(draft) = facts.subjects.get(&subject).and_then(|s| s.draft) {
            return Err(Stale::Draft(draft));
        }
        if let Some(signed) = facts.subjects.get(&subject).and_then(|s| s.delegated) {
            return Err(Stale::Delegated(signed));
        }
        let (decision, reason, grant, required_form) = match facts.subjects.get(&subject) {
            Some(s) => decide::decide_grants(&query, &s.grants, s.opt_out_seq),
            None => (Decision::Deny, Reason::NoGrant, None, None),
        };
        Ok(Cached {
            decision,
            reason,
            grant,
            required_form,
            position: facts.position,
        })
    }

    /// Decides from the cache if it is fresh, else asks the node through `collector`; denies
    /// (with the reason in [`Source::FailedClosed`]) when neither can answer.
    pub async fn check_or_ask(
        &self,
        collector: &mut Collector,
        subject: FeedId,
        purpose: Purpose,
        category: DataCategory,
    ) -> Answer {
        self.check_or_ask_with(collector, subject, purpose, category, &Context::NONE)
            .await
    }

    /// [`DecisionCache::check_or_ask`] about the observation `context`, now: from the cache
    /// ([`DecisionCache::check_with`]) if it is fresh, else from the node with the same context.
    pub async fn check_or_ask_with(
        &self,
        collector: &mut Collector,
        subject: FeedId,
        purpose: Purpose,
        category: DataCategory,
        context: &Context,
    ) -> Answer {
        let now = crate::time::now_ms();
        let stale = match self.check_with(subject, purpose, category, context, now) {
            Ok(c) => {
                return Answer {
                    decision: c.decision,
                    reason: c.reason,
                    grant: c.grant,
                    required_form: c.required_form,
                    delegated: None,
                    source: Source::Cache {
                        position: c.position,
                    },
                };
            }
            Err(stale) => stale,
        };
        match collector
            .check_with(subject, purpose, category, context)
            .await
        {
            Ok(r) => Answer {
                decision: r.decision(),
                reason: r.reason(),
                grant: r.grant.as_ref().try_into().ok().map(EntryId),
                required_form: Form::from_wire(r.required_form),
                delegated: r.delegated.as_ref().and_then(DelegationUsed::from_wire),
                source: Source::Node { stale },
            },
            Err(e) => Answer {
                decision: Decision::Deny,
                reason: Reason::NodeNotFresh,
                grant: None,
                required_form: None,
                delegated: None,
                source: Source::FailedClosed(format!("{stale}; asking the node failed: {e}")),
            },
        }
    }

    /// Adds one of the collector's policy entries, so that grants under it can be applied (and
    /// judged against its scope). Adding it again changes nothing.
    pub fn add_policy(&self, entry: &Entry) -> Result<(), BadPolicy> {
        let bad = |why| BadPolicy { id: entry.id, why };
        let Body::Policy(policy) = &entry.body else {
            return Err(bad("it is not a policy"));
        };
        if entry.feed != self.0.me {
            return Err(bad("it is not this collector's"));
        }
        let mut facts = self.0.facts.write().map_err(|_| bad("cache poisoned"))?;
        if let std::collections::hash_map::Entry::Vacant(slot) = facts.policies.entry(entry.id) {
            slot.insert(policy.scope.clone().map(Arc::new));
            // Without the node's word (a POLICY event), a version with a consultation may be a
            // draft: the node decides for its grants.
            if policy.consultation.is_some() {
                facts.drafts.insert(entry.id);
            }
        }
        Ok(())
    }

    /// The policy a GRANT `event` needs and the cache does not know (add it with
    /// [`DecisionCache::add_policy`] before applying the event); `None` for any other event, and
    /// for one that does not decode (applying it says why).
    pub fn missing_policy(&self, event: &pb::WatchEvent) -> Option<EntryId> {
        if event.kind() != WatchKind::Grant {
            return None;
        }
        let entry = Entry::from_signed(event.entry.as_ref()?).ok()?;
        let Body::Grant(grant) = &entry.body else {
            return None;
        };
        if grant.collector != self.0.me {
            return None;
        }
        let facts = self.read().ok()?;
        (!facts.policies.contains_key(&grant.policy)).then_some(grant.policy)
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, Facts>, Stale> {
        self.0.facts.read().map_err(|_| Stale::NotLive)
    }

    /// Marks the stream as ended: no answers until a new one catches up.
    pub fn disconnected(&self) {
        if let Ok(mut f) = self.0.facts.write() {
            f.live = false;
            self.0.position.send_replace((f.position, false));
        }
    }

    /// The cursor to resume from.
    pub fn cursor(&self) -> Bytes {
        self.read().map(|f| f.cursor.clone()).unwrap_or_default()
    }

    /// Applies one event of this collector's watch stream (in stream order).
    pub fn apply(&self, event: &pb::WatchEvent) -> Result<(), BadEvent> {
        let kind = event.kind();
        let bad = |why: &str| BadEvent {
            kind,
            why: why.to_string(),
        };
        if event.cursor.len() != 24 {
            return Err(bad("cursor is not 24 bytes"));
        }
        let entry = match kind {
            WatchKind::Heartbeat | WatchKind::Expired | WatchKind::Frozen => None,
            WatchKind::Unspecified => return Err(bad("unknown kind")),
            _ => {
                let signed = event.entry.as_ref().ok_or_else(|| bad("no entry"))?;
                Some(Entry::from_signed(signed).map_err(|e| bad(&e.to_string()))?)
            }
        };
        let mut facts = self.0.facts.write().map_err(|_| bad("cache poisoned"))?;
        match (kind, entry) {
            (WatchKind::Policy, Some(entry)) => {
                apply_policy(&mut facts, self.0.me, &entry, event.gated).map_err(&bad)?
            }
            // Counts and outcomes: the node decides for grants under drafts.
            (WatchKind::Stances | WatchKind::Outcome, Some(_)) => {}
            (WatchKind::Frozen, _) => {
                let feed: [u8; 32] = event
                    .feed
                    .as_ref()
                    .try_into()
                    .map_err(|_| bad("feed is not 32 bytes"))?;
                let feed = FeedId(feed);
                facts.frozen.insert(feed);
                for a in &mut facts.accreditations {
                    if let AccreditationFacts::Accredited {
                        registrar,
                        registrar_frozen,
                        ..
                    } = a
                        && *registrar == feed
                    {
                        *registrar_frozen = true;
                    }
                }
            }
            (_, Some(entry)) => {
                apply_entry(&mut facts, self.0.me, &entry).map_err(|e| bad(e.as_str()))?
            }
            _ => {}
        }
        facts.cursor = event.cursor.clone();
        let mut index = [0u8; 8];
        index.copy_from_slice(&event.cursor[..8]);
        facts.position = u64::from_be_bytes(index);
        facts.heard = Some(Instant::now());
        if kind == WatchKind::Heartbeat {
            facts.live = true;
        }
        let now = (facts.position, facts.live);
        drop(facts);
        self.0.position.send_replace(now);
        Ok(())
    }

    /// Follows `collector`'s watch stream on a task until every other handle to the cache is
    /// dropped, resuming from the cursor after any disconnect (backing off up to
    /// [`CacheConfig::max_backoff`]).
    pub fn follow(&self, collector: Collector) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.0);
        tokio::spawn(follow(weak, collector))
    }
}

async fn follow(weak: Weak<Inner>, mut collector: Collector) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(cache) = weak.upgrade().map(DecisionCache) else {
            return;
        };
        let config = cache.0.config;
        let heartbeat = u32::try_from(config.heartbeat.as_millis()).unwrap_or(60_000);
        let cursor = cache.cursor();
        drop(cache);
        match collector
            .watch_with(cursor, heartbeat.clamp(100, 60_000), true)
            .await
        {
            Ok(mut stream) => loop {
                // Time out if even heartbeats stop: the connection is dead.
                let next = tokio::time::timeout(config.max_stream_age * 2, stream.message()).await;
                let Some(cache) = weak.upgrade().map(DecisionCache) else {
                    return;
                };
                match next {
                    Ok(Ok(Some(event))) => {
                        // A grant under a policy the cache has not seen: fetch it first.
                        if let Some(policy) = cache.missing_policy(&event) {
                            let wait = config.max_stream_age * 2;
                            if let Err(why) =
                                fetch_policy(&cache, &mut collector, policy, wait).await
                            {
                                tracing::warn!(
                                    %policy,
                                    error = %why,
                                    "decision cache: cannot fetch a grant's policy"
                                );
                                break;
                            }
                        }
                        match cache.apply(&event) {
                            Ok(()) => backoff = Duration::from_millis(100),
                            Err(e) => {
                                tracing::warn!(error = %e, "decision cache: bad watch event");
                                break;
                            }
                        }
                    }
                    Ok(Ok(None)) => break,
                    Ok(Err(status)) => {
                        tracing::warn!(%status, "decision cache: watch ended");
                        break;
                    }
                    Err(_) => {
                        tracing::warn!("decision cache: watch stream silent, reconnecting");
                        break;
                    }
                }
            },
            Err(e) => tracing::warn!(error = %e, "decision cache: cannot watch"),
        }
        match weak.upgrade() {
            Some(inner) => DecisionCache(inner).disconnected(),
            None => return,
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(config.max_backoff);
    }
}

/// Fetches the collector's policy `id` from the node behind `collector` and adds it to `cache`.
async fn fetch_policy(
    cache: &DecisionCache,
    collector: &mut Collector,
    id: EntryId,
    timeout: Duration,
) -> Result<(), String> {
    let entry = match tokio::time::timeout(timeout, collector.entry(id)).await {
        Err(_) => return Err(format!("no answer within {timeout:?}")),
        Ok(Err(e)) => return Err(e.to_string()),
        Ok(Ok(None)) => return Err("the node does not hold it".to_string()),
        Ok(Ok(Some(entry))) => entry,
    };
    cache.add_policy(&entry).map_err(|e| e.to_string())
}

/// Marks `person` as having a statement a delegate signed in its name ([`Stale::Delegated`]).
fn delegated(facts: &mut Facts, person: FeedId, entry: &Entry) {
    facts
        .subjects
        .entry(person)
        .or_default()
        .delegated
        .get_or_insert(entry.id);
}

/// Applies a log event's entry; changes nothing when it fails.
fn apply_entry(facts: &mut Facts, me: FeedId, entry: &Entry) -> Result<(), String> {
    match &entry.body {
        // Statements a delegate signed in someone's name: the node decides for that person.
        Body::Grant(g) if g.collector == me && g.on_behalf.is_some() => {
            if let Some(ob) = g.on_behalf {
                delegated(facts, ob.person, entry);
            }
        }
        Body::Revoke(r) if r.on_behalf.is_some() => {
            if let Some(ob) = r.on_behalf {
                delegated(facts, ob.person, entry);
            }
        }
        Body::Request(r) if r.collector == me && r.on_behalf.is_some() => {
            if let (RequestKind::OptOutSale, Some(ob)) = (r.kind, r.on_behalf) {
                delegated(facts, ob.person, entry);
            }
        }
        Body::Grant(g) if g.collector == me => {
            // The one constructor the node uses too: the policy's declaration and the grant's
            // narrowing (None when neither constrains anything).
            let Some(policy) = facts.policies.get(&g.policy) else {
                return Err(format!("policy {} not known: add_policy first", g.policy));
            };
            let scope = ScopeFacts::resolve(policy.clone(), g.scope.clone());
            if facts.drafts.contains(&g.policy) {
                facts.subjects.entry(entry.feed).or_default().draft = Some(g.policy);
            }
            let grants = &mut facts.subjects.entry(entry.feed).or_default().grants;
            if !grants.iter().any(|x| x.id == entry.id) {
                grants.push(GrantFacts {
                    id: entry.id,
                    seq: entry.seq,
                    purposes: g.purposes,
                    categories: g.categories,
                    valid_from: g.valid_from,
                    valid_until: g.valid_until,
                    revoked: false,
                    scope,
                    // The node decides drafts; a grant under a draft the cache knows of is stale
                    // (client part of issue 21).
                    in_effect_from: consent_proto::consultation::ALWAYS,
                    time_ms: entry.time_ms,
                    via: None,
                });
            }
        }
        Body::Revoke(r) => {
            if let Some(g) = facts
                .subjects
                .get_mut(&entry.feed)
                .and_then(|s| s.grants.iter_mut().find(|g| g.id == r.grant))
            {
                g.revoked = true;
            }
        }
        Body::Request(r) if r.collector == me => {
            if r.kind == RequestKind::OptOutSale {
                let s = facts.subjects.entry(entry.feed).or_default();
                s.opt_out_seq = s.opt_out_seq.max(Some(entry.seq));
            }
        }
        Body::Accreditation(a) if a.collector == me => {
            let registrar_frozen = facts.frozen.contains(&entry.feed);
            set_statement(
                facts,
                AccreditationFacts::Accredited {
                    registrar: entry.feed,
                    from_ms: entry.time_ms,
                    until_ms: a.valid_until,
                    registrar_frozen,
                },
            );
        }
        Body::Suspension(s) if s.collector == me => {
            set_statement(
                facts,
                AccreditationFacts::Suspended {
                    registrar: entry.feed,
                },
            );
        }
        _ => return Err("the entry does not concern this collector".to_string()),
    }
    Ok(())
}

/// Applies a `POLICY` event: one of the collector's own versions, a draft when `gated`.
fn apply_policy(
    facts: &mut Facts,
    me: FeedId,
    entry: &Entry,
    gated: bool,
) -> Result<(), &'static str> {
    let Body::Policy(policy) = &entry.body else {
        return Err("a POLICY event that carries no policy");
    };
    if entry.feed != me {
        return Err("a POLICY event with another collector's policy");
    }
    facts
        .policies
        .entry(entry.id)
        .or_insert_with(|| policy.scope.clone().map(Arc::new));
    if gated {
        facts.drafts.insert(entry.id);
    } else {
        facts.drafts.remove(&entry.id);
    }
    Ok(())
}

/// Replaces the registrar's statement.
fn set_statement(facts: &mut Facts, statement: AccreditationFacts) {
    let registrar = match &statement {
        AccreditationFacts::Accredited { registrar, .. }
        | AccreditationFacts::Suspended { registrar } => *registrar,
    };
    facts.registrars.insert(registrar);
    facts.accreditations.retain(|a| match a {
        AccreditationFacts::Accredited { registrar: r, .. }
        | AccreditationFacts::Suspended { registrar: r } => *r != registrar,
    });
    facts.accreditations.push(statement);
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod draft_tests;

#[cfg(test)]
mod delegation_tests;
