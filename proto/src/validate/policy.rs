//! Step 8 for a collector's policy versions and their consultations: a `Policy` (its version,
//! the ids it keeps, its consultation window), a citizen's `Stance`, the collector's
//! `ConsultationResponse`, the registrar's `ConsultationOutcome`.

use super::{FeedState, LedgerView, Missing, Rejection, Rules, Verdict};
use super::{pending, reject};
use crate::body::{Body, Consultation, ConsultationOutcome, ConsultationResponse, Policy, Stance};
use crate::entry::Entry;
use crate::ids::EntryId;
use crate::limits::{DAY_MS, MAX_CONSULTATION_DAYS};
use crate::policy_change::{compare, redefined};

/// A `Policy`: its version, the ids it keeps, its consultation window.
pub(super) fn policy<V: LedgerView>(
    view: &V,
    rules: &Rules<'_>,
    entry: &Entry,
    state: &FeedState,
    policy: &Policy,
    mut next: FeedState,
) -> Result<Verdict, V::Error> {
    if policy.version <= state.policy_version {
        return reject(Rejection::PolicyVersionNotIncreasing {
            version: policy.version,
            previous: state.policy_version,
        });
    }
    next.policy_version = policy.version;
    let prev = policy_at(view, state.policy_head)?;
    let base = match state.policy_base {
        b if b == state.policy_head => None,
        b => policy_at(view, b)?,
    };
    let earlier = [prev.as_ref(), base.as_ref()];
    for old in earlier.into_iter().flatten() {
        if let Some(r) = redefined(old, policy) {
            return reject(Rejection::IdRedefined(r));
        }
    }
    let mut widening: Vec<&'static str> = Vec::new();
    for old in earlier.into_iter().flatten() {
        for item in compare(old, policy).widening_items() {
            if !widening.contains(&item.code) {
                widening.push(item.code);
            }
        }
    }
    let widens = !widening.is_empty();
    match policy.consultation {
        Some(c) => {
            let min_ms = match rules.consultation {
                Some(r) if widens => u64::from(r.widening_min_days) * DAY_MS,
                _ => 1,
            };
            let window = c.closes_ms.saturating_sub(entry.time_ms);
            if c.closes_ms <= entry.time_ms || window < min_ms {
                return reject(Rejection::ConsultationTooShort { min_ms });
            }
            if window > MAX_CONSULTATION_DAYS * DAY_MS {
                return reject(Rejection::ConsultationTooLong);
            }
        }
        None if widens && rules.consultation.is_some() => {
            return reject(Rejection::WideningWithoutConsultation(widening));
        }
        None => {}
    }
    next.policy_head = Some(entry.id);
    next.policy_base = if policy.consultation.is_some() && widens {
        state.policy_base
    } else {
        Some(entry.id)
    };
    Ok(Verdict::Accept { state: next })
}

/// A `Stance`: on a policy with a consultation, signed while it is open.
pub(super) fn stance<V: LedgerView>(
    view: &V,
    entry: &Entry,
    stance: &Stance,
    next: FeedState,
) -> Result<Verdict, V::Error> {
    let Some(draft) = view.entry(&stance.draft)? else {
        return pending(Missing::Entry(stance.draft));
    };
    let Some(c) = consultation_of(&draft) else {
        return reject(Rejection::NotAConsultation);
    };
    if entry.time_ms < draft.time_ms || entry.time_ms >= c.closes_ms {
        return reject(Rejection::OutsideConsultationWindow {
            opened_ms: draft.time_ms,
            closes_ms: c.closes_ms,
        });
    }
    Ok(Verdict::Accept { state: next })
}

/// A `ConsultationResponse`: in the responding feed's own consultation.
pub(super) fn response<V: LedgerView>(
    view: &V,
    entry: &Entry,
    response: &ConsultationResponse,
    next: FeedState,
) -> Result<Verdict, V::Error> {
    // An own entry comes earlier in the feed: never pending.
    let draft = match view.entry(&response.draft)? {
        Some(draft) if draft.feed == entry.feed => draft,
        _ => return reject(Rejection::NotOwnConsultation),
    };
    if consultation_of(&draft).is_none() {
        return reject(Rejection::NotAConsultation);
    }
    Ok(Verdict::Accept { state: next })
}

/// A `ConsultationOutcome`: of a consultation, not too early, listing responses to its draft.
pub(super) fn outcome<V: LedgerView>(
    view: &V,
    entry: &Entry,
    outcome: &ConsultationOutcome,
    next: FeedState,
) -> Result<Verdict, V::Error> {
    let Some(draft) = view.entry(&outcome.draft)? else {
        return pending(Missing::Entry(outcome.draft));
    };
    let Some(c) = consultation_of(&draft) else {
        return reject(Rejection::NotAConsultation);
    };
    if entry.time_ms < draft.time_ms {
        return reject(Rejection::OutcomeTooEarly {
            not_before: draft.time_ms,
        });
    }
    if outcome.result == crate::vocab::ConsultationResult::Approved && entry.time_ms < c.closes_ms {
        return reject(Rejection::OutcomeTooEarly {
            not_before: c.closes_ms,
        });
    }
    for id in &outcome.responses {
        let Some(listed) = view.entry(id)? else {
            return pending(Missing::Entry(*id));
        };
        match &listed.body {
            Body::Response(r) if r.draft == outcome.draft => {}
            _ => return reject(Rejection::ResponseNotForDraft(*id)),
        }
    }
    Ok(Verdict::Accept { state: next })
}

/// The policy of the entry `id` names (`None` for `None`, or for an entry that is not held or
/// not a policy: validity then has nothing to compare with).
fn policy_at<V: LedgerView>(view: &V, id: Option<EntryId>) -> Result<Option<Policy>, V::Error> {
    let Some(id) = id else {
        return Ok(None);
    };
    Ok(match view.entry(&id)? {
        Some(Entry {
            body: Body::Policy(p),
            ..
        }) => Some(p),
        _ => None,
    })
}

/// The consultation of a policy entry, if it is one with a consultation.
fn consultation_of(entry: &Entry) -> Option<Consultation> {
    match &entry.body {
        Body::Policy(p) => p.consultation,
        _ => None,
    }
}
