//! A reference ledger held in memory: applies [`validate`] verdicts and answers checks by
//! scanning feeds (no materialised state). Pure and simple rather than fast; tests use it as an
//! independent oracle for the node's store, and clients can use it to replay a feed offline.
//! Delegated statements are found by scanning every entry, and read through the shared rules of
//! [`crate::delegation`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::body::{Body, Grant, Position};
use crate::consultation::{self, Counts, DraftFacts, OutcomeFacts, StanceFacts};
use crate::decide::{AccreditationFacts, Facts, GrantFacts, Outcome, Query, decide};
use crate::delegation::{
    self, DelegationState, Via, counting_endorsement, revocation_counts, withdrawal_counts,
};
use crate::entry::Entry;
use crate::ids::{EntryId, FeedId};
use crate::scope::ScopeFacts;
use crate::validate::{FeedState, KeyState, LedgerView, Rules, Verdict, validate};
use crate::vocab::{ConsultationResult, ObjectionSet, RequestKind, Role};

/// An in-memory ledger.
#[derive(Debug, Default, Clone)]
pub struct MemoryLedger {
    feeds: HashMap<FeedId, FeedState>,
    entries: HashMap<EntryId, Entry>,
    by_seq: HashMap<(FeedId, u64), EntryId>,
    keys: HashMap<(FeedId, u64), KeyState>,
    /// `(grant, revoking feed)` of every accepted revocation.
    revoked_by: HashSet<(EntryId, FeedId)>,
    registrars: HashSet<FeedId>,
    consultation: Option<consultation::Rules>,
    /// Policy entries accepted as drafts (widening, with a consultation).
    gated: HashSet<EntryId>,
}

impl LedgerView for MemoryLedger {
    type Error = std::convert::Infallible;
    fn feed(&self, feed: &FeedId) -> Result<Option<FeedState>, Self::Error> {
        Ok(self.feeds.get(feed).cloned())
    }
    fn entry(&self, id: &EntryId) -> Result<Option<Entry>, Self::Error> {
        Ok(self.entries.get(id).cloned())
    }
    fn entry_at(&self, feed: &FeedId, seq: u64) -> Result<Option<Entry>, Self::Error> {
        Ok(self
            .by_seq
            .get(&(*feed, seq))
            .and_then(|id| self.entries.get(id))
            .cloned())
    }
    fn keys_after(&self, feed: &FeedId, seq: u64) -> Result<Option<KeyState>, Self::Error> {
        Ok(self.keys.get(&(*feed, seq)).copied())
    }
    fn revoked_by(&self, grant: &EntryId, feed: &FeedId) -> Result<bool, Self::Error> {
        Ok(self.revoked_by.contains(&(*grant, *feed)))
    }
}

impl MemoryLedger {
    /// An empty ledger for a network with these registrars.
    pub fn new(registrars: impl IntoIterator<Item = FeedId>) -> Self {
        Self {
            registrars: registrars.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Counts `feed` as a registrar listed in the genesis (for auditors that learn the registrars
    /// from the log itself).
    pub fn trust_registrar(&mut self, feed: FeedId) {
        self.registrars.insert(feed);
    }

    /// Applies a genesis's `[consultation]` rules (default: none, no consultation required).
    pub fn require_consultations(&mut self, rules: Option<consultation::Rules>) {
        self.consultation = rules;
    }

    /// Every feed's state.
    pub fn heads(&self) -> impl Iterator<Item = (&FeedId, &FeedState)> {
        self.feeds.iter()
    }

    /// Validates and, if accepted, applies an entry. Equivocations freeze the feed.
    pub fn submit(&mut self, entry: &Entry, now_ms: u64) -> Verdict {
        let rules = Rules {
            registrars: &self.registrars,
            now_ms,
            consultation: self.consultation,
        };
        let verdict = match validate(entry, self, &rules) {
            Ok(v) => v,
            Err(never) => match never {},
        };
        match &verdict {
            Verdict::Accept { state } => {
                let since = match entry.key_in_body() {
                    Some(_) => entry.seq,
                    None => entry
                        .seq
                        .checked_sub(1)
                        .and_then(|prev| self.keys.get(&(entry.feed, prev)))
                        .map_or(0, |k| k.since),
                };
                let keys = KeyState {
                    signing_key: state.signing_key,
                    next_key_digest: state.next_key_digest,
                    since,
                };
                self.keys.insert((entry.feed, entry.seq), keys);
                self.by_seq.insert((entry.feed, entry.seq), entry.id);
                self.entries.insert(entry.id, entry.clone());
                self.feeds.insert(entry.feed, state.clone());
                if let Body::Revoke(r) = &entry.body {
                    self.revoked_by.insert((r.grant, entry.feed));
                }
                // A draft: validation kept the base at an earlier version.
                if let Body::Policy(p) = &entry.body
                    && p.consultation.is_some()
                    && state.policy_base != Some(entry.id)
                {
                    self.gated.insert(entry.id);
                }
            }
            Verdict::Equivocation { .. } => {
                if let Some(state) = self.feeds.get_mut(&entry.feed) {
                    state.frozen = true;
                }
            }
            _ => {}
        }
        verdict
    }

    /// The scope of the policy entry `id`, if it is a policy with one.
    fn policy_scope(&self, id: &EntryId) -> Option<Arc<crate::scope::PolicyScope>> {
        match self.entries.get(id).map(|e| &e.body) {
            Some(Body::Policy(p)) => p.scope.clone().map(Arc::new),
            _ => None,
        }
    }

    /// The entry at `(feed, seq)`, if held.
    fn at(&self, feed: &FeedId, seq: u64) -> Option<&Entry> {
        self.by_seq
            .get(&(*feed, seq))
            .and_then(|id| self.entries.get(id))
    }

    /// What this ledger holds about the consultation of the policy entry `draft` (`None`: not a
    /// policy with a consultation), found by scanning.
    pub fn draft_facts(&self, draft: &EntryId) -> Option<DraftFacts> {
        let entry = self.entries.get(draft)?;
        let Body::Policy(policy) = &entry.body else {
            return None;
        };
        let window = policy.consultation?;
        let head = self.feeds.get(&entry.feed).map_or(0, |s| s.head_seq);
        let superseded_ms = (entry.seq + 1..=head).find_map(|seq| {
            let next = self.at(&entry.feed, seq)?;
            matches!(next.body, Body::Policy(_)).then_some(next.time_ms)
        });
        let mut facts = DraftFacts {
            id: *draft,
            collector: entry.feed,
            version: policy.version,
            time_ms: entry.time_ms,
            closes_ms: window.closes_ms,
            gated: self.gated.contains(draft),
            superseded_ms,
            first_approval: None,
            first_changes_required: None,
        };
        // Outcomes of a frozen registrar (an equivocation) do not count.
        let frozen = |feed: &FeedId| self.feeds.get(feed).is_some_and(|s| s.frozen);
        for e in self.entries.values() {
            if let Body::Outcome(o) = &e.body
                && o.draft == *draft
                && !frozen(&e.feed)
            {
                facts.note_outcome(OutcomeFacts {
                    id: e.id,
                    time_ms: e.time_ms,
                    approved: o.result == ConsultationResult::Approved,
                });
            }
        }
        Some(facts)
    }

    /// The stances on `draft`, counted ([`consultation::count()`]), found by scanning.
    pub fn consultation_counts(&self, draft: &EntryId) -> Counts {
        let Some(collector) = self.entries.get(draft).map(|e| e.feed) else {
            return Counts::default();
        };
        // Affected: the feed granted to the collector before this stance (a lower seq).
        let granted_before = |feed: &FeedId, seq: u64| {
            self.entries.values().any(|e| {
                e.feed == *feed
                    && e.seq < seq
                    && matches!(&e.body, Body::Grant(g) if g.collector == collector)
            })
        };
        let stances: Vec<StanceFacts> = self
            .entries
            .values()
            .filter_map(|e| match &e.body {
                Body::Stance(s) if s.draft == *draft => Some(StanceFacts {
                    feed: e.feed,
                    seq: e.seq,
                    support: s.position == Position::Support,
                    reasons: match s.position {
                        Position::Object(reasons) => reasons,
                        Position::Support => ObjectionSet::EMPTY,
                    },
                    affected: granted_before(&e.feed, e.seq),
                }),
                _ => None,
            })
            .collect();
        consultation::count(&stances)
    }

    /// The delegation entry `id` as the rule reads it, ended by every undelegation held
    /// (`None`: not a delegation held).
    pub fn delegation_state(&self, id: &EntryId) -> Option<DelegationState> {
        let entry = self.entries.get(id)?;
        let Body::Delegation(d) = &entry.body else {
            return None;
        };
        let mut state = DelegationState::of(*id, entry.feed, entry.time_ms, d);
        for e in self.entries.values() {
            if let Body::Undelegation(u) = &e.body
                && u.delegation == *id
            {
                state.undelegated(delegation::void_from(u, e.time_ms), e.time_ms);
            }
        }
        Some(state)
    }

    /// The delegation of a delegated statement `e` (with `on_behalf`) and its signed time, for
    /// [`withdrawal_counts`]; `None` for the feed's own statement. A delegation not held reads
    /// as never counting (fail closed; validity makes it held).
    fn withdrawal_via(&self, e: &Entry) -> Option<(DelegationState, u64)> {
        let on_behalf = e.body.on_behalf()?;
        let state = self
            .delegation_state(&on_behalf.delegation)
            .unwrap_or(DelegationState {
                id: on_behalf.delegation,
                person: on_behalf.person,
                delegate: e.feed,
                kind: crate::vocab::DelegationKind::Assistant,
                from_ms: u64::MAX,
                end_ms: 0,
                withdrawals_end_ms: 0,
                co_signer: None,
            });
        Some((state, e.time_ms))
    }

    /// Whether a revocation held withdraws the grant `grant` (entry of feed `granter`):
    /// [`revocation_counts`].
    fn grant_revoked(&self, grant: &EntryId, granter: FeedId, g: &Grant) -> bool {
        let person = g.on_behalf.map(|o| o.person);
        self.entries.values().any(|e| match &e.body {
            // Nothing a frozen feed signed in someone's name is read.
            Body::Revoke(r) if r.on_behalf.is_some() && !self.read_in_someones_name(e) => false,
            Body::Revoke(r) if r.grant == *grant => {
                let via = self.withdrawal_via(e);
                revocation_counts(e.feed, granter, person, via.as_ref().map(|(d, t)| (d, *t)))
            }
            _ => false,
        })
    }

    /// Whether the rule reads `e`, signed in someone's name
    /// ([`delegation::read_in_someones_name`]).
    fn read_in_someones_name(&self, e: &Entry) -> bool {
        delegation::read_in_someones_name(self.feeds.get(&e.feed).is_some_and(|s| s.frozen))
    }

    /// The grants delegates signed in `subject`'s name naming `collector`, with their
    /// delegations, endorsements and revocations, and the signed time of the latest counting
    /// delegated opt-out of sale/sharing addressed to `collector`.
    pub fn delegated_facts(
        &self,
        subject: &FeedId,
        collector: &FeedId,
    ) -> (Vec<GrantFacts>, Option<u64>) {
        let mut grants = Vec::new();
        let mut opt_out_ms: Option<u64> = None;
        for e in self.entries.values() {
            match &e.body {
                Body::Grant(g)
                    if g.collector == *collector
                        && g.on_behalf.is_some_and(|o| o.person == *subject) =>
                {
                    let Some(on_behalf) = g.on_behalf else {
                        continue;
                    };
                    if !self.read_in_someones_name(e) {
                        continue;
                    }
                    let Some(state) = self.delegation_state(&on_behalf.delegation) else {
                        continue;
                    };
                    // Endorsements of this grant, each with its endorser's own delegation.
                    let endorsers: Vec<(EntryId, FeedId, u64, DelegationState)> = self
                        .entries
                        .values()
                        .filter_map(|x| match &x.body {
                            Body::Endorsement(n)
                                if n.grant == e.id && self.read_in_someones_name(x) =>
                            {
                                self.delegation_state(&n.on_behalf.delegation)
                                    .map(|d| (x.id, x.feed, x.time_ms, d))
                            }
                            _ => None,
                        })
                        .collect();
                    let list: Vec<(EntryId, FeedId, u64, &DelegationState)> = endorsers
                        .iter()
                        .map(|(id, feed, t, d)| (*id, *feed, *t, d))
                        .collect();
                    let endorsement = counting_endorsement(state.co_signer, &list);
                    grants.push(GrantFacts {
                        id: e.id,
                        seq: e.seq,
                        purposes: g.purposes,
                        categories: g.categories,
                        valid_from: g.valid_from,
                        valid_until: g.valid_until,
                        revoked: self.grant_revoked(&e.id, e.feed, g),
                        scope: ScopeFacts::resolve(self.policy_scope(&g.policy), g.scope.clone()),
                        in_effect_from: self
                            .draft_facts(&g.policy)
                            .map_or(consultation::ALWAYS, |d| consultation::in_effect_from(&d)),
                        time_ms: e.time_ms,
                        via: Some(Arc::new(Via {
                            delegation: state,
                            signed_ms: e.time_ms,
                            endorsement,
                        })),
                    });
                }
                Body::Request(r)
                    if r.collector == *collector
                        && r.kind == RequestKind::OptOutSale
                        && r.on_behalf.is_some_and(|o| o.person == *subject)
                        && self.read_in_someones_name(e) =>
                {
                    let via = self.withdrawal_via(e);
                    if withdrawal_counts(via.as_ref().map(|(d, t)| (d, *t))) {
                        opt_out_ms = opt_out_ms.max(Some(e.time_ms));
                    }
                }
                _ => {}
            }
        }
        (grants, opt_out_ms)
    }

    /// Answers a check by scanning the subject's and the registrars' feeds, and every delegated
    /// statement in the subject's name.
    pub fn check(&self, query: &Query) -> Outcome {
        let mut grants = Vec::new();
        let mut opt_out_seq = None;
        let mut opt_out_ms = None;
        if let Some(state) = self.feeds.get(&query.subject) {
            for seq in 0..=state.head_seq {
                let Some(entry) = self
                    .by_seq
                    .get(&(query.subject, seq))
                    .and_then(|id| self.entries.get(id))
                else {
                    continue;
                };
                match &entry.body {
                    // The subject's own grants: a grant it signed in someone else's name (as a
                    // delegate) is that person's, not its own.
                    Body::Grant(g) if g.collector == query.collector && g.on_behalf.is_none() => {
                        grants.push(GrantFacts {
                            id: entry.id,
                            seq,
                            purposes: g.purposes,
                            categories: g.categories,
                            valid_from: g.valid_from,
                            valid_until: g.valid_until,
                            revoked: self.grant_revoked(&entry.id, entry.feed, g),
                            scope: ScopeFacts::resolve(
                                self.policy_scope(&g.policy),
                                g.scope.clone(),
                            ),
                            in_effect_from: self
                                .draft_facts(&g.policy)
                                .map_or(consultation::ALWAYS, |d| consultation::in_effect_from(&d)),
                            time_ms: entry.time_ms,
                            via: None,
                        })
                    }
                    Body::Request(r)
                        if r.collector == query.collector
                            && r.kind == RequestKind::OptOutSale
                            && r.on_behalf.is_none() =>
                    {
                        opt_out_seq = Some(seq);
                        opt_out_ms = Some(entry.time_ms);
                    }
                    _ => {}
                }
            }
        }
        let mut accreditations = Vec::new();
        for (feed, state) in self.feeds.iter().filter(|(_, s)| s.role == Role::Registrar) {
            let mut latest = None;
            for seq in 0..=state.head_seq {
                let Some(entry) = self
                    .by_seq
                    .get(&(*feed, seq))
                    .and_then(|id| self.entries.get(id))
                else {
                    continue;
                };
                match &entry.body {
                    Body::Accreditation(a) if a.collector == query.collector => {
                        latest = Some(AccreditationFacts::Accredited {
                            registrar: *feed,
                            from_ms: entry.time_ms,
                            until_ms: a.valid_until,
                            registrar_frozen: state.frozen,
                        })
                    }
                    Body::Suspension(s) if s.collector == query.collector => {
                        latest = Some(AccreditationFacts::Suspended { registrar: *feed })
                    }
                    _ => {}
                }
            }
            accreditations.extend(latest);
        }
        let (delegated, delegated_opt_out_ms) = match self.feeds.get(&query.subject) {
            Some(_) => self.delegated_facts(&query.subject, &query.collector),
            None => (Vec::new(), None),
        };
        decide(
            query,
            &Facts {
                subject: self.feeds.get(&query.subject),
                collector: self.feeds.get(&query.collector),
                grants: &grants,
                opt_out_seq,
                delegated: &delegated,
                opt_out_ms,
                delegated_opt_out_ms,
                accreditations: &accreditations,
                registrars: &self.registrars,
            },
        )
    }
}
