//! What the register knows of one collector: its latest policy versions (and the consultation
//! facts of those put to one, to know which is in effect), each genesis registrar's standing,
//! and counts of the grants, revocations and requests that concern it (grants in force counted
//! to the minute).

use std::collections::{BTreeMap, HashMap, VecDeque};

use consent_proto::body::Policy;
use consent_proto::consultation::{self, DraftFacts};
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::vocab::RequestKind;

use super::MINUTE_MS;
use super::scope_counts::ScopeCounts;

/// One version of a collector's policy, as signed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PolicyVersion {
    /// The policy entry.
    pub id: EntryId,
    /// Its signed time, Unix ms.
    pub at_ms: u64,
    /// What it says.
    pub policy: Policy,
}

/// What one registrar says of a collector, by its latest statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Accredited until (exclusive), Unix ms.
    Accredited {
        /// When the accreditation lapses.
        valid_until: u64,
        /// When it was signed.
        at_ms: u64,
    },
    /// Suspended, with the registrar's public reason.
    Suspended {
        /// Why.
        reason: String,
        /// When it was signed.
        at_ms: u64,
    },
}

/// Everything the register knows of one collector.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Collector {
    /// When its feed was created (signed time), Unix ms.
    pub since_ms: u64,
    /// Its latest policy versions in full, oldest first (at most [`super::POLICIES_IN_MEMORY`]).
    pub recent: VecDeque<PolicyVersion>,
    /// Entry ids of its latest policy versions, oldest first (at most `HISTORY_SHOWN + 2`).
    pub policy_ids: VecDeque<EntryId>,
    /// Policy versions it has published in all.
    pub versions: u64,
    /// Each genesis registrar's latest statement about it.
    pub standing: BTreeMap<FeedId, Standing>,
    /// Grants ever made to it.
    pub grants: u64,
    /// Grants not revoked.
    pub(super) unrevoked: u64,
    /// Unrevoked grants by the minute they start, for those signed to start later.
    pub(super) starts: BTreeMap<u64, u64>,
    /// Unrevoked grants by the minute they end, for those with an end.
    pub(super) ends: BTreeMap<u64, u64>,
    /// Revocations of grants to it.
    pub revocations: u64,
    /// Of which asked for erasure.
    pub erase_revocations: u64,
    /// Requests to it, by kind (index: position in [`RequestKind::ALL`]).
    pub requests: [u64; RequestKind::ALL.len()],
    /// Consents by zone and form, for each of its kept policy versions that declares a scope.
    pub scope_counts: HashMap<EntryId, ScopeCounts>,
    /// The consultation facts of each of its kept policy versions that carries a consultation.
    pub consultations: HashMap<EntryId, DraftFacts>,
}

impl Collector {
    /// Grants in force at `now_ms` (to the minute): not revoked, started, not ended.
    pub(crate) fn grants_in_force(&self, now_ms: u64) -> u64 {
        let minute = now_ms / MINUTE_MS;
        let not_started: u64 = self.starts.range(minute + 1..).map(|(_, n)| n).sum();
        let ended: u64 = self.ends.range(..=minute).map(|(_, n)| n).sum();
        self.unrevoked.saturating_sub(not_started + ended)
    }

    /// Its newest policy version, if it published one (a draft under consultation, maybe: see
    /// [`super::current_policy`] for the version in effect).
    pub(crate) fn policy(&self) -> Option<&PolicyVersion> {
        self.recent.back()
    }

    /// Whether its kept policy version `id` is in effect at `now_ms`: a version is from its
    /// signing, except a draft (a widening put to consultation), which is only from its
    /// approving outcome ([`consultation::in_effect_from`]).
    pub(crate) fn in_effect(&self, id: &EntryId, now_ms: u64) -> bool {
        self.consultations
            .get(id)
            .is_none_or(|facts| consultation::in_effect_from(facts) <= now_ms)
    }

    /// The newest of its kept policy versions in effect at `now_ms`.
    pub(crate) fn current_id(&self, now_ms: u64) -> Option<EntryId> {
        self.policy_ids
            .iter()
            .rev()
            .find(|id| self.in_effect(id, now_ms))
            .copied()
    }

    /// The consultation facts of its kept policy version `id`, if it carries a consultation.
    pub(crate) fn consultation(&self, id: &EntryId) -> Option<&DraftFacts> {
        self.consultations.get(id)
    }

    /// The policy version before its newest one, if kept.
    #[cfg(test)]
    pub(crate) fn previous(&self) -> Option<&PolicyVersion> {
        self.recent
            .len()
            .checked_sub(2)
            .and_then(|i| self.recent.get(i))
    }

    /// Where the register lists it: named ones first, by name, then by id.
    pub(super) fn order(&self, feed: &FeedId) -> Order {
        match self.policy() {
            Some(p) => (false, p.policy.name.clone(), *feed),
            None => (true, String::new(), *feed),
        }
    }

    pub(super) fn add_grant(
        &mut self,
        signed_ms: u64,
        valid_from: u64,
        valid_until: Option<u64>,
        sign: i64,
    ) {
        let bump = |map: &mut BTreeMap<u64, u64>, minute: u64| {
            let n = map.entry(minute).or_default();
            *n = n.saturating_add_signed(sign);
            if *n == 0 {
                map.remove(&minute);
            }
        };
        self.unrevoked = self.unrevoked.saturating_add_signed(sign);
        if valid_from > signed_ms {
            // Counted as started from the minute after the one it starts in (never early).
            bump(&mut self.starts, valid_from.div_ceil(MINUTE_MS));
        }
        if let Some(until) = valid_until {
            bump(&mut self.ends, until / MINUTE_MS);
        }
    }
}

/// A collector's place in the list: `(unnamed, name, feed)`.
pub(super) type Order = (bool, String, FeedId);
