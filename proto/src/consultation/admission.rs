//! Refusals only the node a client submits to applies (FAILED_PRECONDITION): checks of an entry
//! that validation accepted, against the state of its consultation when it arrives. Peers,
//! restored pending entries and entries woken by a dependency skip them: they are a courtesy
//! filter, and they are not part of validity (two nodes may hold different states). The decision
//! rule is what keeps consent safe (a grant under a draft denies `POLICY_NOT_IN_EFFECT`).

use std::fmt;

use super::State;
use crate::ids::EntryId;
use crate::pb;
use crate::vocab::ObjectionSet;

/// Why a node refused an entry at submission (the reasons 44 to 48, and 58 for delegation:
/// [`crate::delegation::admission`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A grant names a draft that is not in effect now.
    #[error(
        "grant.policy {policy} is a draft under consultation ({state}): it is not in effect; \
         grant under the version in effect, or wait for the registrar's outcome"
    )]
    PolicyDraft {
        /// The draft.
        policy: EntryId,
        /// Its state.
        state: StateText,
    },
    /// An approval that leaves objection reasons raised by many stances without a response.
    #[error(
        "objection reasons raised by at least {threshold} stances have no response listed: {reasons}"
    )]
    ConsultationUnanswered {
        /// The reasons without a response.
        reasons: ObjectionSet,
        /// The genesis's objection threshold.
        threshold: u64,
    },
    /// The consultation has an outcome already.
    #[error("the consultation already has an outcome ({first}); a registrar records one outcome")]
    OutcomeExists {
        /// The first outcome.
        first: EntryId,
    },
    /// The consultation takes no more stances (or, withdrawn, no outcome).
    #[error("the consultation is closed ({state})")]
    ConsultationClosed {
        /// Its state.
        state: StateText,
    },
    /// A policy version with a consultation signed long before it reached the node: its window
    /// would have run (in part or whole) before anyone could see it.
    #[error(
        "the version is signed at {} but this node's clock reads {}: a consultation window must          open when the draft is published; sign it now",
        rfc3339(*signed_ms),
        rfc3339(*now_ms)
    )]
    DraftBackdated {
        /// The entry's signed time, Unix ms.
        signed_ms: u64,
        /// The node's clock, Unix ms.
        now_ms: u64,
    },
    /// An entry signed in someone's name, an undelegation or an endorsement signed more than
    /// [`crate::limits::DELEGATED_ENTRY_TOLERANCE_MS`] before the node's clock
    /// ([`crate::delegation::admission`]).
    #[error(
        "the entry is signed at {} but this node's clock reads {}: an entry signed in someone's \
         name, an undelegation or an endorsement is taken only within 5 minutes of its signing; \
         sign it now",
        rfc3339(*signed_ms),
        rfc3339(*now_ms)
    )]
    DelegatedEntryTooOld {
        /// The entry's signed time, Unix ms.
        signed_ms: u64,
        /// The node's clock, Unix ms.
        now_ms: u64,
    },
}

/// How far before the node's clock a stance (after the window closed) or a draft may be signed
/// and still be taken at submission, ms (10 minutes).
pub const SUBMIT_TOLERANCE_MS: u64 = 600_000;

impl Refusal {
    /// The reason it carries (in status details and `SubmitResult.rejection_reason`).
    pub fn reason(&self) -> pb::RejectionReason {
        match self {
            Refusal::PolicyDraft { .. } => pb::RejectionReason::PolicyDraft,
            Refusal::ConsultationUnanswered { .. } => pb::RejectionReason::ConsultationUnanswered,
            Refusal::OutcomeExists { .. } => pb::RejectionReason::OutcomeExists,
            Refusal::ConsultationClosed { .. } => pb::RejectionReason::ConsultationClosed,
            Refusal::DraftBackdated { .. } => pb::RejectionReason::DraftBackdated,
            Refusal::DelegatedEntryTooOld { .. } => pb::RejectionReason::DelegatedEntryTooOld,
        }
    }

    /// Its stable name (`policy-draft`).
    pub fn code(&self) -> &'static str {
        crate::reasons::code(self.reason()).unwrap_or("unspecified")
    }
}

/// A consultation state in words, with its time in RFC 3339 UTC: `under consultation`,
/// `awaiting the registrar's outcome`, `approved, in effect from 2027-02-14T09:00:00Z`,
/// `changes required at …`, `withdrawn at …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateText(pub State);

impl fmt::Display for StateText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            State::Open => f.write_str("under consultation"),
            State::AwaitingOutcome => f.write_str("awaiting the registrar's outcome"),
            State::Approved { from_ms } => {
                write!(f, "approved, in effect from {}", rfc3339(from_ms))
            }
            State::ChangesRequired { at_ms } => {
                write!(f, "changes required at {}", rfc3339(at_ms))
            }
            State::Withdrawn { at_ms } => write!(f, "withdrawn at {}", rfc3339(at_ms)),
        }
    }
}

/// Unix ms as an RFC 3339 UTC time to the second (`2027-02-14T09:00:00Z`), up to year 9999.
pub fn rfc3339(ms: u64) -> String {
    let secs = ms.min(253_402_300_799_000) / 1000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}
