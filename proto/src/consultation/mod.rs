//! Consultations (crate docs, "Consultations"): the state of a policy version put to public
//! consultation and when a draft takes effect ([`state`], [`in_effect_from`]), the counting of
//! citizens' stances ([`count()`]), and the refusals only the node a client submits to applies
//! ([`admission`]). Pure functions of facts a node materialises from signed entries, so every
//! node, cache and client computes the same.
//!
//! A **draft** (a *gated* version) is a Policy entry with a consultation whose change widens what
//! is collected, compared with the collector's previous version and with its last version that is
//! no draft (validation fixes this when it accepts the entry). A consultation on any other version
//! is voluntary: the version is in effect at once.

pub mod admission;
pub mod count;

#[cfg(test)]
mod tests;

use crate::ids::{EntryId, FeedId};
use crate::pb;

pub use self::admission::{Refusal, StateText};
pub use self::count::{Counts, StanceFacts, Tally, count, unanswered};

/// [`GrantFacts::in_effect_from`](crate::decide::GrantFacts::in_effect_from) of a grant whose
/// policy is no draft: in effect from its own signing on, as before consultations existed.
pub const ALWAYS: u64 = 0;
/// ... of a draft not (yet) in effect: never.
pub const NEVER: u64 = u64::MAX;

/// The genesis's `[consultation]` rules that validity reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rules {
    /// A widening version's consultation lasts at least this many days.
    pub widening_min_days: u32,
}

/// One counted outcome of a consultation (valid, its registrar's feed not frozen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutcomeFacts {
    /// The outcome entry.
    pub id: EntryId,
    /// Its signed time, Unix ms.
    pub time_ms: u64,
    /// Approved (else changes required).
    pub approved: bool,
}

/// What a node holds about one policy version with a consultation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DraftFacts {
    /// The Policy entry.
    pub id: EntryId,
    /// Its collector.
    pub collector: FeedId,
    /// Its policy version.
    pub version: u32,
    /// Its signed time: the window opens, Unix ms.
    pub time_ms: u64,
    /// The window closes (exclusive), Unix ms.
    pub closes_ms: u64,
    /// A widening (a draft): in effect only once approved. `false`: a voluntary consultation.
    pub gated: bool,
    /// The time of the collector's next Policy entry, if any (it withdraws an undecided draft).
    pub superseded_ms: Option<u64>,
    /// The smallest `(time_ms, id)` of the counted APPROVED outcomes held ([`first`]).
    pub first_approval: Option<OutcomeFacts>,
    /// The smallest `(time_ms, id)` of the counted CHANGES_REQUIRED outcomes held.
    pub first_changes_required: Option<OutcomeFacts>,
}

impl DraftFacts {
    /// Takes one counted outcome into account (any order gives the same facts).
    pub fn note_outcome(&mut self, o: OutcomeFacts) {
        if o.approved {
            self.first_approval = first(self.first_approval, o);
        } else {
            self.first_changes_required = first(self.first_changes_required, o);
        }
    }
}

/// Where a consultation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// The window is open.
    Open,
    /// The window has closed; no outcome yet.
    AwaitingOutcome,
    /// Approved: a draft is in effect from `from_ms`.
    Approved {
        /// The approving outcome's time, Unix ms.
        from_ms: u64,
    },
    /// Changes required: a draft never takes effect.
    ChangesRequired {
        /// The outcome's time, Unix ms.
        at_ms: u64,
    },
    /// A newer version came before any outcome.
    Withdrawn {
        /// The newer version's time, Unix ms.
        at_ms: u64,
    },
}

impl State {
    /// `open`, `awaiting-outcome`, `approved`, `changes-required`, `withdrawn`.
    pub fn name(&self) -> &'static str {
        match self {
            State::Open => "open",
            State::AwaitingOutcome => "awaiting-outcome",
            State::Approved { .. } => "approved",
            State::ChangesRequired { .. } => "changes-required",
            State::Withdrawn { .. } => "withdrawn",
        }
    }

    /// The time the state names (approved from, decided at, withdrawn at); 0 for open and
    /// awaiting.
    pub fn at_ms(&self) -> u64 {
        match *self {
            State::Open | State::AwaitingOutcome => 0,
            State::Approved { from_ms } => from_ms,
            State::ChangesRequired { at_ms } | State::Withdrawn { at_ms } => at_ms,
        }
    }

    /// The wire form.
    pub fn to_wire(&self) -> pb::ConsultationState {
        match self {
            State::Open => pb::ConsultationState::Open,
            State::AwaitingOutcome => pb::ConsultationState::AwaitingOutcome,
            State::Approved { .. } => pb::ConsultationState::Approved,
            State::ChangesRequired { .. } => pb::ConsultationState::ChangesRequired,
            State::Withdrawn { .. } => pb::ConsultationState::Withdrawn,
        }
    }

    /// From the wire form and its time (`None` for UNSPECIFIED or an unknown value).
    pub fn from_wire(state: i32, at_ms: u64) -> Option<State> {
        Some(match pb::ConsultationState::try_from(state).ok()? {
            pb::ConsultationState::Unspecified => return None,
            pb::ConsultationState::Open => State::Open,
            pb::ConsultationState::AwaitingOutcome => State::AwaitingOutcome,
            pb::ConsultationState::Approved => State::Approved { from_ms: at_ms },
            pb::ConsultationState::ChangesRequired => State::ChangesRequired { at_ms },
            pb::ConsultationState::Withdrawn => State::Withdrawn { at_ms },
        })
    }
}

/// The state of `d` at `now_ms`, failing closed: changes required if any counted outcome
/// before a newer version requires changes (at the first such outcome), whatever approvals
/// exist; else approved from the first approving outcome before a newer version; else withdrawn
/// by a newer version; else open before `closes_ms` and awaiting an outcome from then on.
pub fn state(d: &DraftFacts, now_ms: u64) -> State {
    let before_newer = |o: &OutcomeFacts| d.superseded_ms.is_none_or(|s| o.time_ms < s);
    if let Some(o) = d.first_changes_required.filter(before_newer) {
        return State::ChangesRequired { at_ms: o.time_ms };
    }
    if let Some(o) = d.first_approval.filter(before_newer) {
        return State::Approved { from_ms: o.time_ms };
    }
    if let Some(at_ms) = d.superseded_ms {
        return State::Withdrawn { at_ms };
    }
    if now_ms < d.closes_ms {
        State::Open
    } else {
        State::AwaitingOutcome
    }
}

/// From when grants under `d` count: [`ALWAYS`] for a version that is no draft; for a draft, its
/// approving outcome's time, or [`NEVER`]. Does not depend on the clock.
pub fn in_effect_from(d: &DraftFacts) -> u64 {
    if !d.gated {
        return ALWAYS;
    }
    match state(d, 0) {
        State::Approved { from_ms } => from_ms,
        _ => NEVER,
    }
}

/// The first of `a` and `b` by `(time_ms, id bytes)`: keeping only this minimum over every valid
/// outcome of a draft is exact, whatever order they arrive in.
pub fn first(a: Option<OutcomeFacts>, b: OutcomeFacts) -> Option<OutcomeFacts> {
    match a {
        Some(a) if (a.time_ms, a.id.0) <= (b.time_ms, b.id.0) => Some(a),
        _ => Some(b),
    }
}
