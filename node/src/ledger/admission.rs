//! Admission: what the node an entry is submitted to refuses although the entry is valid
//! (FAILED_PRECONDITION, `Outcome::Refused`). The writer runs it for entries submitted through
//! the API only (`Item::admit`), after validation accepted them and before anything of theirs is
//! staged, against the same staged view (so it sees what the group staged before). Entries from
//! peers, restored pending ones, and one accepted later because what it waited for arrived,
//! skip it: admission is a courtesy to the submitter, never what keeps consent safe (the
//! decision rule is: a grant on a draft not in effect is denied).
//!
//! - A policy version with a consultation signed more than
//!   [`consultation::admission::SUBMIT_TOLERANCE_MS`] before the node's clock: `draft-backdated`
//!   (its window would have run before anyone could see it).
//! - A grant naming a draft that is not in effect now: `policy-draft`.
//! - A stance on a consultation withdrawn or decided, or submitted more than
//!   [`consultation::admission::SUBMIT_TOLERANCE_MS`] after its window closed:
//!   `consultation-closed`.
//! - An outcome of a consultation that has one already: `outcome-exists`; of a withdrawn one:
//!   `consultation-closed`; an approval while an objection reason raised by at least the
//!   genesis's `objection_threshold` stances (both groups together) has no response listed:
//!   `consultation-unanswered`.
//! - An entry signed in someone's name (`on_behalf`, an endorsement) or an undelegation signed
//!   more than `consent_proto::limits::DELEGATED_ENTRY_TOLERANCE_MS` (5 minutes) before the
//!   node's clock: `delegated-entry-too-old` ([`consent_proto::delegation::admission`], checked
//!   first). With an undelegation's default `void_from_ms`, this voids what a delegate backdates
//!   after it learnt of its withdrawal, on every node, wherever it is submitted.
//!
//! The two refusals that read only the entry and the clock (`delegated-entry-too-old`,
//! `draft-backdated`: [`signed_too_early`]) are also asked of a submitted entry that would wait
//! as pending, since an entry woken later skips admission.

use consent_proto::Entry;
use consent_proto::body::Body;
use consent_proto::consultation::{self, Refusal, State, StateText};
use consent_proto::vocab::{ConsultationResult, ObjectionSet};

use super::consultations;
use super::staged::Staged;
use crate::store::{KvStore, StoreError};

/// The refusals that depend on the entry and the node's clock alone: `delegated-entry-too-old`
/// and `draft-backdated`. The writer also asks this of a submitted entry that would be parked
/// (pending), so that submitting the backdated entry ahead of what it waits for (it would then be
/// accepted when woken, without admission) does not get round the bound.
pub(super) fn signed_too_early(entry: &Entry, now: u64) -> Option<Refusal> {
    if let Some(refusal) = consent_proto::delegation::admission(entry, now) {
        return Some(refusal);
    }
    match &entry.body {
        Body::Policy(p)
            if p.consultation.is_some()
                && entry
                    .time_ms
                    .saturating_add(consultation::admission::SUBMIT_TOLERANCE_MS)
                    < now =>
        {
            Some(Refusal::DraftBackdated {
                signed_ms: entry.time_ms,
                now_ms: now,
            })
        }
        _ => None,
    }
}

/// The refusal of a valid `entry` submitted at `now` (node clock), if any; `threshold` is the
/// genesis's `objection_threshold` (`None`: the network requires no consultation).
pub(super) fn check(
    staged: &Staged<'_, dyn KvStore>,
    entry: &Entry,
    now: u64,
    threshold: Option<u64>,
) -> Result<Option<Refusal>, StoreError> {
    if let Some(refusal) = signed_too_early(entry, now) {
        return Ok(Some(refusal));
    }
    let tolerance = consultation::admission::SUBMIT_TOLERANCE_MS;
    match &entry.body {
        Body::Grant(g) => {
            let Some(facts) = consultations::facts(staged, &g.policy)? else {
                return Ok(None);
            };
            if consultation::in_effect_from(&facts) > now {
                return Ok(Some(Refusal::PolicyDraft {
                    policy: g.policy,
                    state: StateText(consultation::state(&facts, now)),
                }));
            }
            Ok(None)
        }
        Body::Stance(s) => {
            let Some(facts) = consultations::facts(staged, &s.draft)? else {
                return Ok(None);
            };
            let state = consultation::state(&facts, now);
            let late = now >= facts.closes_ms.saturating_add(tolerance);
            match state {
                State::Open | State::AwaitingOutcome if !late => Ok(None),
                _ => Ok(Some(Refusal::ConsultationClosed {
                    state: StateText(state),
                })),
            }
        }
        Body::Outcome(o) => {
            let Some(facts) = consultations::facts(staged, &o.draft)? else {
                return Ok(None);
            };
            let first = [facts.first_approval, facts.first_changes_required]
                .into_iter()
                .flatten()
                .min_by_key(|o| (o.time_ms, o.id.0));
            if let Some(first) = first {
                return Ok(Some(Refusal::OutcomeExists { first: first.id }));
            }
            let state = consultation::state(&facts, now);
            if matches!(state, State::Withdrawn { .. }) {
                return Ok(Some(Refusal::ConsultationClosed {
                    state: StateText(state),
                }));
            }
            if o.result == ConsultationResult::Approved
                && let Some(threshold) = threshold
            {
                let counts = consultations::counts(staged, &o.draft)?;
                let mut answered = ObjectionSet::EMPTY;
                for id in &o.responses {
                    // Validation required each to be a response naming this draft.
                    if let Some((_, listed)) = staged.entry_with_index(id)?
                        && let Body::Response(r) = &listed.body
                    {
                        answered.insert(r.reason);
                    }
                }
                let reasons = consultation::unanswered(&counts, threshold, answered);
                if !reasons.is_empty() {
                    return Ok(Some(Refusal::ConsultationUnanswered { reasons, threshold }));
                }
            }
            Ok(None)
        }
        _ => Ok(None),
    }
}
