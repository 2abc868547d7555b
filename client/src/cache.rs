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
//! [`Context`]: consent_proto::scope::Context
//! [`Collector::entry`]: crate::collector::Collector::entry
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
//!
//! # Layout
//! - `apply`: the watch stream's events (and fetched policies) applied to the cache's facts.
//! - `answer`: checks answered from those facts, or by the node when the cache cannot answer.
//! - `follow`: the task that follows the watch stream, reconnecting from its cursor.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use consent_proto::decide::{AccreditationFacts, GrantFacts};
use consent_proto::delegation::DelegationUsed;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::pb::{Decision, Reason, WatchKind};
use consent_proto::scope::PolicyScope;
use consent_proto::vocab::Form;
use prost::bytes::Bytes;
use tokio::sync::watch;

mod answer;
mod apply;
mod follow;

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
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod draft_tests;

#[cfg(test)]
mod delegation_tests;
