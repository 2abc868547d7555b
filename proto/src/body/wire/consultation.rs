//! The structural checks of the consultation bodies' wire forms: a citizen's stance, a
//! collector's response, a registrar's outcome.

use crate::body::fields::{bad, digest_opt, id32, text};
use crate::body::{ConsultationOutcome, ConsultationResponse, Position, Stance};
use crate::ids::EntryId;
use crate::limits::{MAX_OUTCOME_RESPONSES, MAX_REASON_BYTES};
use crate::pb;
use crate::validate::Rejection;
use crate::vocab::{ConsultationResult, ObjectionReason, ObjectionSet};

/// Checks and converts a wire stance.
pub(super) fn stance_from_wire(b: &pb::Stance) -> Result<Stance, Rejection> {
    let draft = EntryId(id32("stance.draft", &b.draft)?);
    let kind = pb::StanceKind::try_from(b.kind)
        .ok()
        .filter(|k| *k != pb::StanceKind::Unspecified)
        .ok_or_else(|| bad("stance.kind", "unknown or unspecified kind"))?;
    let position = match kind {
        pb::StanceKind::Object => {
            if b.reasons.is_empty() || b.reasons.len() > ObjectionReason::ALL.len() {
                return Err(bad(
                    "stance.reasons",
                    format!(
                        "an objection gives 1..={} reasons, got {}",
                        ObjectionReason::ALL.len(),
                        b.reasons.len()
                    ),
                ));
            }
            let mut set = ObjectionSet::EMPTY;
            for v in &b.reasons {
                let r = ObjectionReason::from_wire(*v).ok_or_else(|| {
                    bad(
                        "stance.reasons",
                        format!("unknown or unspecified reason {v}"),
                    )
                })?;
                if !set.insert(r) {
                    return Err(bad("stance.reasons", format!("reason {r} listed twice")));
                }
            }
            Position::Object(set)
        }
        _ => {
            if !b.reasons.is_empty() {
                return Err(bad("stance.reasons", "must be empty when supporting"));
            }
            Position::Support
        }
    };
    Ok(Stance {
        draft,
        position,
        details_digest: digest_opt("stance.details_digest", &b.details_digest)?,
    })
}

/// Checks and converts a wire consultation response.
pub(super) fn response_from_wire(
    b: &pb::ConsultationResponse,
) -> Result<ConsultationResponse, Rejection> {
    Ok(ConsultationResponse {
        draft: EntryId(id32("response.draft", &b.draft)?),
        reason: ObjectionReason::from_wire(b.reason)
            .ok_or_else(|| bad("response.reason", "unknown or unspecified reason"))?,
        text: text("response.text", &b.text, MAX_REASON_BYTES)?,
        document_digest: digest_opt("response.document_digest", &b.document_digest)?,
    })
}

/// Checks and converts a wire consultation outcome.
pub(super) fn outcome_from_wire(
    b: &pb::ConsultationOutcome,
) -> Result<ConsultationOutcome, Rejection> {
    let draft = EntryId(id32("outcome.draft", &b.draft)?);
    let result = ConsultationResult::from_wire(b.result)
        .ok_or_else(|| bad("outcome.result", "unknown or unspecified result"))?;
    let text = text("outcome.text", &b.text, MAX_REASON_BYTES)?;
    if b.responses.len() > MAX_OUTCOME_RESPONSES {
        return Err(bad(
            "outcome.responses",
            format!("at most {MAX_OUTCOME_RESPONSES}, got {}", b.responses.len()),
        ));
    }
    let mut responses = Vec::with_capacity(b.responses.len());
    for r in &b.responses {
        let id = EntryId(id32("outcome.responses", r)?);
        if responses.contains(&id) {
            return Err(bad("outcome.responses", format!("{id} listed twice")));
        }
        responses.push(id);
    }
    Ok(ConsultationOutcome {
        draft,
        result,
        text,
        responses,
    })
}
