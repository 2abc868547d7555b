//! The decision rule for a consent check, as a pure function of the facts a node holds.
//!
//! `Check(subject, collector, purpose, category, at)` is **allow** only if, in this order:
//! 1. the subject's feed is known and is a citizen feed (else `UNKNOWN_SUBJECT`);
//! 2. it is not frozen (else `SUBJECT_FROZEN`);
//! 3. the collector's feed is known and is a collector feed (else `COLLECTOR_NOT_ACCREDITED`),
//!    and not frozen (else `COLLECTOR_FROZEN`);
//! 4. a registrar listed in the genesis, whose feed is not frozen, has as its latest statement about
//!    the collector an accreditation with `entry time <= at < valid_until` (a later suspension
//!    replaces it) (else `COLLECTOR_NOT_ACCREDITED`);
//! 5. a grant of the subject names the collector, covers the purpose and the category, is not
//!    revoked, is not opted out of (an opt-out of sale/sharing later in the feed than the grant
//!    denies `sell-data` and `third-party-sharing`), `valid_from <= at < valid_until`, and its
//!    policy is in effect at `at` (a draft takes effect at its approving outcome's time, crate
//!    docs "Consultations"; else `POLICY_NOT_IN_EFFECT`);
//! 6. when the check gives an observation time, it too lies in `valid_from <= observed <
//!    valid_until` (else `TIME_NOT_COVERED`); and the observation lies in the grant's effective
//!    scope ([`scope::evaluate`]: the `CONTEXT_MISSING_*`, `*_NOT_COVERED` reasons), for a grant
//!    whose policy declares a scope or that narrows one. Only the subject's newest
//!    [`GRANTS_CONSIDERED`] grants naming the collector (highest seq) are read; older ones are
//!    ignored, as if absent. Ignoring a grant can only turn an allow into a deny, and only for a
//!    feed that signed more grants to one collector than that: it bounds the work of a check,
//!    whatever a feed holds.
//!
//! When several grants match, the newest (highest seq) is named. A deny names the newest grant
//! that covers purpose and category with the first reason it fails (`REVOKED`, `OPTED_OUT`,
//! `NOT_YET_VALID`, `EXPIRED`, `POLICY_NOT_IN_EFFECT`, then step 6); if none covers both, `CATEGORY_NOT_COVERED`
//! (naming the newest grant that covers the purpose) or `PURPOSE_NOT_COVERED` (naming the
//! newest grant to the collector); with no grant to the collector, `NO_GRANT`. The outcome's
//! `required_form` is [`scope::required_form`] of the named grant, when it covers the purpose
//! and is scoped.
//!
//! **Delegated grants** (crate docs, "Delegation"): the grants delegates signed in the subject's
//! name naming the collector ([`Facts::delegated`], each with its [`Via`]) are read beside the
//! subject's own, the newest [`GRANTS_CONSIDERED`] of them by `(signed time, id bytes)` (what a
//! frozen feed signed in someone's name is not among them:
//! [`crate::delegation::read_in_someones_name`]). After `REVOKED` and `OPTED_OUT`, a delegated
//! grant fails `DELEGATION_WITHDRAWN` when it was signed outside its delegation as the
//! undelegations present end it ([`crate::delegation::DelegationState::counts`]), then `ENDORSEMENT_MISSING` when its
//! delegation names a co-signer and no endorsement counts
//! ([`crate::delegation::counting_endorsement`]); then as any grant. At every tier (allowing,
//! covering, for the purpose, any) an own grant is named before a delegated one, so without
//! delegated grants every answer is what it was before delegation existed; a decision naming a
//! delegated grant reports its delegation ([`Outcome::delegated`]). Opt-outs across feeds
//! compare signed times, and the withdrawal wins a tie: an own grant is opted out by an own
//! opt-out at a higher seq, or by a counting delegated opt-out signed at or after it
//! ([`Facts::delegated_opt_out_ms`]); a delegated grant by an own or a counting delegated
//! opt-out signed at or after it. A grant is `revoked` by a revocation of its own feed (in
//! someone's name or not), of the person it names, or of a delegate signed before its delegation
//! ended for withdrawals: at or before the earliest undelegation of it was signed, whatever its
//! `void_from_ms` ([`crate::delegation::withdrawal_counts`]); never by what a frozen feed signed
//! in someone's name.
//!
//! The rule reads the state the node holds when it decides, whatever `at` is: a grant revoked
//! since is `REVOKED` for every `at`, and a grant still in force is judged by its own window. A
//! question about another time than the node's clock ([`question_time`]: past or future beyond
//! [`QUESTION_TIME_TOLERANCE_MS`]) says whether consent was (or will be) in force *then*, as far
//! as the node knows now; an allow for a past `at` is no consent to process data now, and the
//! decision receipt says which kind of question it answers.
//!
//! **Freshness** ([`fresh`]) is part of the rule: a caller may demand that the answering party
//! has heard from the network recently (`max_staleness_ms`) and knows the subject's feed up to a
//! seq it has seen elsewhere (`min_subject_seq`, a consistency token); an answer that does not
//! meet the demand is a deny, `NODE_NOT_FRESH` ([`with_freshness`]). A node applies it with its
//! last contact with a member node; the collector SDK's decision cache with the last event or
//! heartbeat of its watch stream. Both use these functions, so both fail closed alike.

use std::collections::HashSet;
use std::sync::Arc;

use crate::delegation::{DelegationUsed, Via};
use crate::ids::{EntryId, FeedId};
pub use crate::limits::{GRANTS_CONSIDERED, QUESTION_TIME_TOLERANCE_MS};
use crate::pb::{Decision, QuestionTime, Reason};
use crate::scope::{self, Context, ScopeFacts};
use crate::validate::FeedState;
use crate::vocab::{CategorySet, DataCategory, Form, Purpose, PurposeSet, Role};

/// A check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    /// The subject's feed.
    pub subject: FeedId,
    /// The collector's feed.
    pub collector: FeedId,
    /// The purpose.
    pub purpose: Purpose,
    /// The category.
    pub category: DataCategory,
    /// The time asked about, Unix ms.
    pub at_ms: u64,
    /// The observation the check is about ([`Context::NONE`]: none given).
    pub context: Context,
}

/// One grant of the subject to the collector, as materialised by a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantFacts {
    /// Grant entry id.
    pub id: EntryId,
    /// Its seq in the subject's feed.
    pub seq: u64,
    /// Purposes covered.
    pub purposes: PurposeSet,
    /// Categories covered.
    pub categories: CategorySet,
    /// Valid from (inclusive), Unix ms.
    pub valid_from: u64,
    /// Valid until (exclusive), Unix ms; `None`: until revoked.
    pub valid_until: Option<u64>,
    /// Whether a later entry revoked it.
    pub revoked: bool,
    /// Its effective scope ([`ScopeFacts::resolve`]); `None`: unscoped (its policy declares no
    /// scope and it narrows nothing).
    pub scope: Option<Arc<ScopeFacts>>,
    /// From when its policy version is in effect, Unix ms
    /// ([`crate::consultation::in_effect_from`]): [`crate::consultation::ALWAYS`] for a policy
    /// that is no draft; a draft's approving outcome's time; [`crate::consultation::NEVER`] for a
    /// draft not in effect.
    pub in_effect_from: u64,
    /// Its signed time, Unix ms. Read for a delegated grant, and for an own grant only when a
    /// delegated opt-out is present ([`Facts::delegated_opt_out_ms`]); 0 otherwise (then an own
    /// grant reads as opted out by any delegated opt-out: fail closed).
    pub time_ms: u64,
    /// For a grant a delegate signed in the subject's name: its delegation and endorsement
    /// ([`crate::delegation`]); `None` for the subject's own grant.
    pub via: Option<Arc<Via>>,
}

/// The latest statement of one registrar about the collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccreditationFacts {
    /// Accredited from `from_ms` (the entry's time) until `until_ms` (exclusive).
    Accredited {
        /// The registrar.
        registrar: FeedId,
        /// From, Unix ms.
        from_ms: u64,
        /// Until, Unix ms.
        until_ms: u64,
        /// Whether the registrar's own feed is frozen.
        registrar_frozen: bool,
    },
    /// Suspended.
    Suspended {
        /// The registrar.
        registrar: FeedId,
    },
}

/// Everything the rule reads.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// The subject's feed state, if known.
    pub subject: Option<&'a FeedState>,
    /// The collector's feed state, if known.
    pub collector: Option<&'a FeedState>,
    /// The subject's grants naming the collector, any order.
    pub grants: &'a [GrantFacts],
    /// Seq of the subject's latest opt-out of sale/sharing addressed to the collector.
    pub opt_out_seq: Option<u64>,
    /// Grants delegates signed in the subject's name naming the collector (each with `via`), any
    /// order.
    pub delegated: &'a [GrantFacts],
    /// Signed time of the subject's latest own opt-out of sale/sharing addressed to the
    /// collector (read only against delegated grants).
    pub opt_out_ms: Option<u64>,
    /// Signed time of the latest *counting* opt-out of sale/sharing a delegate signed in the
    /// subject's name addressed to the collector ([`crate::delegation::withdrawal_counts`]).
    pub delegated_opt_out_ms: Option<u64>,
    /// Every registrar's latest statement about the collector.
    pub accreditations: &'a [AccreditationFacts],
    /// Registrars listed in the genesis.
    pub registrars: &'a HashSet<FeedId>,
}

/// A decision and what it rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Allow or deny.
    pub decision: Decision,
    /// Why.
    pub reason: Reason,
    /// The grant named, if any.
    pub grant: Option<EntryId>,
    /// The subject's head `(seq, id)` the decision was based on, if the subject is known.
    pub subject_head: Option<(u64, EntryId)>,
    /// The form data must be kept in under the named grant for the purpose
    /// ([`scope::required_form`]); `None`: none required.
    pub required_form: Option<Form>,
    /// When the grant named is a delegate's: the delegation it rests on.
    pub delegated: Option<DelegationUsed>,
}

/// Applies the rule.
pub fn decide(query: &Query, facts: &Facts<'_>) -> Outcome {
    let head = facts.subject.map(|s| (s.head_seq, s.head_id));
    let deny = |reason, grant| Outcome {
        decision: Decision::Deny,
        reason,
        grant,
        subject_head: head,
        required_form: None,
        delegated: None,
    };

    let Some(subject) = facts.subject.filter(|s| s.role == Role::Citizen) else {
        return Outcome {
            subject_head: None,
            ..deny(Reason::UnknownSubject, None)
        };
    };
    if subject.frozen {
        return deny(Reason::SubjectFrozen, None);
    }
    let Some(collector) = facts.collector.filter(|c| c.role == Role::Collector) else {
        return deny(Reason::CollectorNotAccredited, None);
    };
    if collector.frozen {
        return deny(Reason::CollectorFrozen, None);
    }
    if !accredited(query.at_ms, facts.accreditations, facts.registrars) {
        return deny(Reason::CollectorNotAccredited, None);
    }
    let answer = decide_subject(
        query,
        &SubjectGrants {
            grants: facts.grants,
            delegated: facts.delegated,
            opt_out_seq: facts.opt_out_seq,
            opt_out_ms: facts.opt_out_ms,
            delegated_opt_out_ms: facts.delegated_opt_out_ms,
        },
    );
    Outcome {
        decision: answer.decision,
        reason: answer.reason,
        grant: answer.grant,
        subject_head: head,
        required_form: answer.required_form,
        delegated: answer.delegated,
    }
}

/// What steps 5 and 6 read of one subject and one collector (the fields of [`Facts`] that
/// concern grants).
#[derive(Debug, Clone, Copy, Default)]
pub struct SubjectGrants<'a> {
    /// The subject's own grants naming the collector, any order.
    pub grants: &'a [GrantFacts],
    /// Grants delegates signed in the subject's name naming the collector, any order, each with
    /// its [`GrantFacts::via`] (one without is read as withdrawn: fail closed).
    pub delegated: &'a [GrantFacts],
    /// Seq of the subject's latest own opt-out of sale/sharing addressed to the collector.
    pub opt_out_seq: Option<u64>,
    /// Signed time of that opt-out.
    pub opt_out_ms: Option<u64>,
    /// Signed time of the latest counting delegated opt-out addressed to the collector.
    pub delegated_opt_out_ms: Option<u64>,
}

/// The answer of steps 5 and 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantAnswer {
    /// Allow or deny.
    pub decision: Decision,
    /// Why.
    pub reason: Reason,
    /// The grant named, if any.
    pub grant: Option<EntryId>,
    /// The form required under it ([`scope::required_form`]), if any.
    pub required_form: Option<Form>,
    /// When the grant named is a delegate's: the delegation it rests on.
    pub delegated: Option<DelegationUsed>,
}

/// Steps 5 and 6 of the rule alone, for the subject's own grants only (no delegated grant, no
/// delegated opt-out): [`decide_subject`] with the rest empty. Returns the decision, its reason,
/// the grant named and the form required under it.
pub fn decide_grants(
    query: &Query,
    grants: &[GrantFacts],
    opt_out_seq: Option<u64>,
) -> (Decision, Reason, Option<EntryId>, Option<Form>) {
    let a = decide_subject(
        query,
        &SubjectGrants {
            grants,
            opt_out_seq,
            ..SubjectGrants::default()
        },
    );
    (a.decision, a.reason, a.grant, a.required_form)
}

/// Steps 5 and 6 of the rule alone. Own grants are read as before delegation existed (the
/// newest [`GRANTS_CONSIDERED`] by seq); delegated grants apart (the newest
/// [`GRANTS_CONSIDERED`] by `(time_ms, id bytes)`). At every tier (allowing; covering purpose
/// and category; covering the purpose; any) an own grant is named before a delegated one, and a
/// delegated one only when no own grant fills that tier: with no delegated grant, every answer
/// is the one of a subject without delegation. One pass over each list; it allocates only when a
/// list holds more than [`GRANTS_CONSIDERED`] grants (to find the newest of them).
pub fn decide_subject(query: &Query, s: &SubjectGrants<'_>) -> GrantAnswer {
    let own_floor = considered_from(s.grants);
    let own = tiers(
        query,
        s.grants.iter().filter(|g| g.seq >= own_floor),
        |a, b| a.seq >= b.seq,
        |g| failure(g, query, opted_out(g, s, false), false),
    );
    let delegated_floor = delegated_considered_from(s.delegated);
    let delegated = tiers(
        query,
        s.delegated
            .iter()
            .filter(|g| (g.time_ms, g.id.0) >= delegated_floor),
        |a, b| (a.time_ms, a.id.0) >= (b.time_ms, b.id.0),
        |g| failure(g, query, opted_out(g, s, true), true),
    );
    let form = |g: &GrantFacts| {
        g.scope
            .as_deref()
            .and_then(|s| scope::required_form(s, query.purpose))
    };
    let answer = |decision, reason, g: &GrantFacts, required_form| GrantAnswer {
        decision,
        reason,
        grant: Some(g.id),
        required_form,
        delegated: g.via.as_deref().map(Via::used),
    };
    if let Some((g, _)) = own_first(own.allowing, delegated.allowing) {
        return answer(Decision::Allow, Reason::Granted, g, form(g));
    }
    if let Some((g, by_delegate)) = own_first(own.covering, delegated.covering) {
        let reason =
            failure(g, query, opted_out(g, s, by_delegate), by_delegate).unwrap_or(Reason::NoGrant);
        return answer(Decision::Deny, reason, g, form(g));
    }
    if let Some((g, _)) = own_first(own.for_purpose, delegated.for_purpose) {
        return answer(Decision::Deny, Reason::CategoryNotCovered, g, form(g));
    }
    match own_first(own.any, delegated.any) {
        Some((g, _)) => answer(Decision::Deny, Reason::PurposeNotCovered, g, None),
        None => GrantAnswer {
            decision: Decision::Deny,
            reason: Reason::NoGrant,
            grant: None,
            required_form: None,
            delegated: None,
        },
    }
}

/// The own grant when there is one, else the delegated one, with whether it is delegated.
fn own_first<'a>(
    own: Option<&'a GrantFacts>,
    delegated: Option<&'a GrantFacts>,
) -> Option<(&'a GrantFacts, bool)> {
    own.map(|g| (g, false)).or(delegated.map(|g| (g, true)))
}

/// The newest grant at each tier of one list (see [`decide_subject`]).
struct Tiers<'a> {
    allowing: Option<&'a GrantFacts>,
    covering: Option<&'a GrantFacts>,
    for_purpose: Option<&'a GrantFacts>,
    any: Option<&'a GrantFacts>,
}

/// The tiers of `grants`, "newest" by `newer_or_same(a, b)` (a is at least as new as b), a
/// grant allowing when `fails` finds no reason.
fn tiers<'a>(
    query: &Query,
    grants: impl Iterator<Item = &'a GrantFacts>,
    newer_or_same: impl Fn(&GrantFacts, &GrantFacts) -> bool,
    fails: impl Fn(&GrantFacts) -> Option<Reason>,
) -> Tiers<'a> {
    let newest = |best: Option<&'a GrantFacts>, g: &'a GrantFacts| match best {
        Some(b) if newer_or_same(b, g) => Some(b),
        _ => Some(g),
    };
    let mut t = Tiers {
        allowing: None,
        covering: None,
        for_purpose: None,
        any: None,
    };
    for g in grants {
        t.any = newest(t.any, g);
        if !g.purposes.contains(query.purpose) {
            continue;
        }
        t.for_purpose = newest(t.for_purpose, g);
        if !g.categories.contains(query.category) {
            continue;
        }
        t.covering = newest(t.covering, g);
        if fails(g).is_none() {
            t.allowing = newest(t.allowing, g);
        }
    }
    t
}

/// The lowest seq among the newest [`GRANTS_CONSIDERED`] of `grants` (0 when there are no more
/// than that): the rule ignores grants below it. Seqs are distinct within a feed.
fn considered_from(grants: &[GrantFacts]) -> u64 {
    if grants.len() <= GRANTS_CONSIDERED {
        return 0;
    }
    let mut seqs: Vec<u64> = grants.iter().map(|g| g.seq).collect();
    let (_, nth, _) = seqs.select_nth_unstable_by(GRANTS_CONSIDERED - 1, |a, b| b.cmp(a));
    *nth
}

/// The lowest `(time_ms, id bytes)` among the newest [`GRANTS_CONSIDERED`] delegated grants (the
/// least key when there are no more than that). Ids are distinct.
fn delegated_considered_from(grants: &[GrantFacts]) -> (u64, [u8; 32]) {
    if grants.len() <= GRANTS_CONSIDERED {
        return (0, [0; 32]);
    }
    let mut keys: Vec<(u64, [u8; 32])> = grants.iter().map(|g| (g.time_ms, g.id.0)).collect();
    let (_, nth, _) = keys.select_nth_unstable_by(GRANTS_CONSIDERED - 1, |a, b| b.cmp(a));
    *nth
}

/// Whether the subject opted out of sale/sharing after `g`: an own grant, by an own opt-out at a
/// higher seq of its feed; a delegated grant, by an own opt-out signed at or after it; either, by
/// a counting delegated opt-out signed at or after it (across feeds, signed times compare, and
/// the withdrawal wins a tie).
fn opted_out(g: &GrantFacts, s: &SubjectGrants<'_>, delegated: bool) -> bool {
    let by_delegate = s.delegated_opt_out_ms.is_some_and(|t| t >= g.time_ms);
    let own = if delegated {
        s.opt_out_ms.is_some_and(|t| t >= g.time_ms)
    } else {
        s.opt_out_seq.is_some_and(|seq| seq > g.seq)
    };
    own || by_delegate
}

/// The time a check is about: the question's `at_ms`, or the node's clock when it is 0.
pub fn asked_at(at_ms: u64, now_ms: u64) -> u64 {
    if at_ms == 0 { now_ms } else { at_ms }
}

/// How the time a check is about relates to when the node decided it: `Current` within
/// [`QUESTION_TIME_TOLERANCE_MS`] of `decided_ms`, else `Past` or `Future`. Signed in every
/// decision receipt; a verifier reads an allow for a `Past` question as "consent was in force
/// then", never as consent to process data at the time the receipt was signed.
pub fn question_time(at_ms: u64, decided_ms: u64) -> QuestionTime {
    if at_ms.saturating_add(QUESTION_TIME_TOLERANCE_MS) < decided_ms {
        QuestionTime::Past
    } else if at_ms > decided_ms.saturating_add(QUESTION_TIME_TOLERANCE_MS) {
        QuestionTime::Future
    } else {
        QuestionTime::Current
    }
}

/// The first reason `grant` fails the question, in the rule's order: `REVOKED`, `OPTED_OUT`
/// (for sale/sharing, `opted_out` as [`opted_out`] computes it), for a delegated grant
/// `DELEGATION_WITHDRAWN` (signed outside its
/// delegation as ended now; a delegated grant without `via` too) and `ENDORSEMENT_MISSING` (a co-signer's endorsement is needed and none counts),
/// then `NOT_YET_VALID`, `EXPIRED`, `POLICY_NOT_IN_EFFECT` and step 6.
fn failure(grant: &GrantFacts, query: &Query, opted_out: bool, delegated: bool) -> Option<Reason> {
    if grant.revoked {
        return Some(Reason::Revoked);
    }
    if query.purpose.is_sale_or_sharing() && opted_out {
        return Some(Reason::OptedOut);
    }
    if delegated {
        match grant.via.as_deref() {
            None => return Some(Reason::DelegationWithdrawn),
            Some(via) if !via.counts() => return Some(Reason::DelegationWithdrawn),
            Some(via) if via.awaits_endorsement() => return Some(Reason::EndorsementMissing),
            Some(_) => {}
        }
    }
    if query.at_ms < grant.valid_from {
        return Some(Reason::NotYetValid);
    }
    if grant.valid_until.is_some_and(|until| query.at_ms >= until) {
        return Some(Reason::Expired);
    }
    if query.at_ms < grant.in_effect_from {
        return Some(Reason::PolicyNotInEffect);
    }
    // Step 6: the observation, when its time is given, was made while the grant held, and lies
    // in the grant's effective scope.
    if let Some(observed) = query.context.observed_ms
        && (observed < grant.valid_from || grant.valid_until.is_some_and(|u| observed >= u))
    {
        return Some(Reason::TimeNotCovered);
    }
    let scope = grant.scope.as_deref()?;
    scope::evaluate(scope, query.purpose, &query.context).err()
}

/// Step 4 of the rule alone: whether a registrar listed in the genesis, not frozen, accredits the
/// collector at `at_ms` by its latest statement.
pub fn accredited(
    at_ms: u64,
    accreditations: &[AccreditationFacts],
    registrars: &HashSet<FeedId>,
) -> bool {
    accreditations.iter().any(|a| match a {
        AccreditationFacts::Accredited {
            registrar,
            from_ms,
            until_ms,
            registrar_frozen,
        } => {
            !registrar_frozen
                && registrars.contains(registrar)
                && *from_ms <= at_ms
                && at_ms < *until_ms
        }
        AccreditationFacts::Suspended { .. } => false,
    })
}

/// What a caller demands of how current the answer is (0: no demand).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Demand {
    /// The answering party must have heard from the network at most this long ago, ms.
    pub max_staleness_ms: u64,
    /// The answer must be based on the subject's feed up to at least this seq.
    pub min_subject_seq: u64,
}

/// Whether an answer meets `demand`: based on the subject's head `subject_head_seq` (`None`:
/// subject unknown), by a party whose last contact with the network was at `last_contact_ms`
/// (Unix ms, 0: never), at `now_ms`. Times compare as integers (no wraparound).
pub fn fresh(
    demand: &Demand,
    subject_head_seq: Option<u64>,
    last_contact_ms: u64,
    now_ms: u64,
) -> bool {
    let behind = demand.min_subject_seq > 0
        && subject_head_seq.is_none_or(|seq| seq < demand.min_subject_seq);
    let stale = demand.max_staleness_ms > 0
        && (last_contact_ms == 0
            || now_ms.saturating_sub(last_contact_ms) > demand.max_staleness_ms);
    !behind && !stale
}

/// `outcome`, or a deny with reason `NODE_NOT_FRESH` (keeping the grant and head it named) when
/// the answer does not meet `demand` ([`fresh`]).
pub fn with_freshness(
    outcome: Outcome,
    demand: &Demand,
    last_contact_ms: u64,
    now_ms: u64,
) -> Outcome {
    let head = outcome.subject_head.map(|(seq, _)| seq);
    if fresh(demand, head, last_contact_ms, now_ms) {
        outcome
    } else {
        Outcome {
            decision: Decision::Deny,
            reason: Reason::NodeNotFresh,
            ..outcome
        }
    }
}

#[cfg(test)]
mod tests;
