//! The one line `consent` prints for a failure: the error, and for an entry the node refused for
//! a reason a person can act on, what to do next (on the same line).

use consent_client::node::{ClientError, RejectionReason};

/// What to do about an entry refused for `reason`, when there is more to say than the node's
/// explanation.
fn hint(reason: RejectionReason) -> Option<&'static str> {
    use RejectionReason as R;
    Some(match reason {
        R::WideningWithoutConsultation => {
            "this version widens what is collected: publish it as a draft under public \
             consultation: consent collector policy draft --policy FILE --days N (without \
             --days, the network's minimum)"
        }
        R::ConsultationTooShort => {
            "a widening is put to consultation for at least the network's minimum (consent \
             collector policy draft without --days uses it)"
        }
        R::ConsultationTooLong => "a consultation lasts at most 365 days",
        R::IdRedefined => {
            "a new version may not give a sensor id another kind, or a zone id an area apart \
             from the old one: give them new ids"
        }
        R::PolicyDraft => {
            "grant under the version in effect (consent policy COLLECTOR shows it), or wait for \
             the registrar's outcome"
        }
        R::ConsultationUnanswered => {
            "the collector answers each of those reasons (consent collector respond DRAFT \
             --reason REASON --text TEXT); then decide again (by default every latest response \
             is listed)"
        }
        R::OutcomeExists => "consent consult show DRAFT shows it",
        R::ConsultationClosed | R::OutsideConsultationWindow => {
            "a stance is taken only while its consultation is open (consent consult show DRAFT \
             shows its state)"
        }
        R::OutcomeTooEarly => {
            "a registrar approves a draft only after its consultation has closed (consent \
             consult show DRAFT shows when)"
        }
        R::NotAConsultation => {
            "that id is no policy version under consultation (consent consult list --all lists \
             them)"
        }
        R::NotOwnConsultation => "a collector answers only consultations on its own policy",
        R::ResponseNotForDraft => {
            "list only responses to this consultation (consent consult show DRAFT shows them)"
        }
        R::NotDelegated
        | R::PowerNotDelegated
        | R::CollectorNotDelegated
        | R::PurposeNotDelegated
        | R::DelegationNotInForce => {
            "you act in someone's name only inside the delegation they gave you: consent wallet \
             delegations shows what each allows, and until when"
        }
        R::MinorFeed => {
            "a minor's feed neither grants nor delegates until it comes of age: its guardians act \
             for it (consent --as NAME grant ...)"
        }
        R::NotEndorsable => {
            "a guardian endorses only the other guardian's grant under a delegation naming them as \
             co-signer (consent wallet delegations --awaiting lists those)"
        }
        R::UnknownDelegation => {
            "end a delegation you gave or one you hold (consent wallet delegations lists them)"
        }
        R::DelegatedEntryTooOld => {
            "an entry in someone's name is taken only when signed within 5 minutes of the node's \
             clock: check this machine's clock and sign it again"
        }
        _ => return None,
    })
}

/// The failure as one line: `{e:#}`, then the hint for a refused entry.
pub fn explain(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    let reason = e
        .chain()
        .find_map(|c| c.downcast_ref::<ClientError>())
        .map(ClientError::rejection_reason);
    match reason.and_then(hint) {
        Some(h) => format!("{text}; {h}"),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    fn refused(reason: RejectionReason, message: &str) -> anyhow::Error {
        anyhow::Error::new(ClientError::Refused {
            what: "the outcome".into(),
            code: Code::FailedPrecondition,
            message: message.into(),
            reason,
        })
    }

    #[test]
    fn an_unanswered_consultation_names_the_reasons_and_what_to_do() {
        let e = refused(
            RejectionReason::ConsultationUnanswered,
            "entry refused (consultation-unanswered): objection reasons raised by at least 3 \
             stances have no response listed: retention-too-long, other",
        );
        let line = explain(&e);
        assert!(line.contains("retention-too-long, other"), "{line}");
        assert!(line.contains("consent collector respond DRAFT"), "{line}");
        assert_eq!(line.lines().count(), 1, "{line}");
    }

    #[test]
    fn every_consultation_refusal_says_what_to_do_and_others_stay_as_they_were() {
        for (reason, expected) in [
            (
                RejectionReason::WideningWithoutConsultation,
                "consent collector policy draft",
            ),
            (RejectionReason::PolicyDraft, "version in effect"),
            (RejectionReason::OutcomeExists, "consent consult show"),
            (RejectionReason::ConsultationClosed, "only while"),
            (
                RejectionReason::OutcomeTooEarly,
                "after its consultation has closed",
            ),
        ] {
            let line = explain(&refused(reason, "entry refused"));
            assert!(line.contains(expected), "{reason:?}: {line}");
        }
        for (reason, expected) in [
            (
                RejectionReason::PurposeNotDelegated,
                "consent wallet delegations",
            ),
            (RejectionReason::MinorFeed, "its guardians act"),
            (RejectionReason::NotEndorsable, "--awaiting"),
            (RejectionReason::DelegatedEntryTooOld, "within 5 minutes"),
        ] {
            let line = explain(&refused(reason, "entry refused"));
            assert!(line.contains(expected), "{reason:?}: {line}");
        }
        let plain = explain(&refused(
            RejectionReason::WrongPrev,
            "entry rejected (wrong-prev)",
        ));
        assert_eq!(
            plain,
            "the node refused the outcome: entry rejected (wrong-prev)"
        );
        // Wrapped in context, the reason is still found.
        let wrapped = refused(RejectionReason::PolicyDraft, "entry refused (policy-draft)")
            .context("the grant");
        assert!(explain(&wrapped).contains("version in effect"));
        assert_eq!(explain(&anyhow::anyhow!("no keystore")), "no keystore");
    }
}
