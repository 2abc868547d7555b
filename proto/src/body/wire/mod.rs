//! The protobuf form of every body: [`Body::from_wire`], with every structural check that needs
//! no other entry, and [`Body::to_wire`]. The checks of the consultation bodies are in
//! `consultation.rs`, of the delegation bodies (and of `on_behalf`) in `delegation.rs`.

use crate::body::fields::{bad, categories, id32, key, purposes, retention, text};
use crate::body::{
    Accreditation, Ack, AckAnswer, Body, Consultation, Grant, Inception, Policy, Position, Request,
    Revoke, Rotation, Suspension,
};
use crate::ids::{Digest, EntryId, FeedId};
use crate::limits::{
    MAX_CONTACT_BYTES, MAX_JURISDICTION_BYTES, MAX_NAME_BYTES, MAX_REASON_BYTES, MAX_RECIPIENTS,
    MAX_URL_BYTES,
};
use crate::pb;
use crate::pb::entry_payload::Body as WireBody;
use crate::scope::{GrantScope, PolicyScope};
use crate::validate::Rejection;
use crate::vocab::{AckOutcome, CategorySet, PurposeSet, RequestKind, Role};

mod consultation;
mod delegation;

use self::consultation::{outcome_from_wire, response_from_wire, stance_from_wire};
use self::delegation::{
    delegation_from_wire, endorsement_from_wire, on_behalf_from_wire, on_behalf_to_wire,
    undelegation_from_wire,
};

/// Checks and converts a wire policy.
fn policy_from_wire(b: &pb::Policy) -> Result<Policy, Rejection> {
    if b.version == 0 {
        return Err(bad("policy.version", "must be >= 1"));
    }
    if b.recipients.len() > MAX_RECIPIENTS {
        return Err(bad(
            "policy.recipients",
            format!("at most {MAX_RECIPIENTS}"),
        ));
    }
    let recipients = b
        .recipients
        .iter()
        .map(|r| text("policy.recipients", r, MAX_NAME_BYTES))
        .collect::<Result<Vec<_>, _>>()?;
    let url = text("policy.document_url", &b.document_url, MAX_URL_BYTES)?;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(bad("policy.document_url", "must be an http(s) URL"));
    }
    let name = text("policy.name", &b.name, MAX_NAME_BYTES)?;
    let purpose_set = purposes("policy.purposes", &b.purposes)?;
    Ok(Policy {
        version: b.version,
        name,
        purposes: purpose_set,
        categories: categories("policy.categories", &b.categories)?,
        retention_days: retention("policy.retention_days", b.retention_days)?,
        recipients,
        jurisdiction: text(
            "policy.jurisdiction",
            &b.jurisdiction,
            MAX_JURISDICTION_BYTES,
        )?,
        document_digest: Digest(id32("policy.document_digest", &b.document_digest)?),
        document_url: url,
        contact: text("policy.contact", &b.contact, MAX_CONTACT_BYTES)?,
        scope: b
            .scope
            .as_ref()
            .map(|s| PolicyScope::from_wire(s, purpose_set))
            .transpose()?,
        consultation: match &b.consultation {
            None => None,
            Some(c) if c.closes_ms == 0 => {
                return Err(bad("policy.consultation.closes_ms", "required"));
            }
            Some(c) => Some(Consultation {
                closes_ms: c.closes_ms,
            }),
        },
    })
}

/// Checks and converts a wire grant.
fn grant_from_wire(b: &pb::Grant) -> Result<Grant, Rejection> {
    let valid_until = match b.valid_until {
        0 => None,
        t if t <= b.valid_from => {
            return Err(bad(
                "grant.valid_until",
                "must be after valid_from (or 0 for until revoked)",
            ));
        }
        t => Some(t),
    };
    let collector = FeedId(id32("grant.collector", &b.collector)?);
    let policy = EntryId(id32("grant.policy", &b.policy)?);
    let purpose_set = purposes("grant.purposes", &b.purposes)?;
    Ok(Grant {
        collector,
        policy,
        purposes: purpose_set,
        categories: categories("grant.categories", &b.categories)?,
        retention_days: retention("grant.retention_days", b.retention_days)?,
        valid_from: b.valid_from,
        valid_until,
        scope: b
            .scope
            .as_ref()
            .map(|s| GrantScope::from_wire(s, purpose_set))
            .transpose()?,
        on_behalf: b
            .on_behalf
            .as_ref()
            .map(|o| on_behalf_from_wire(o, "grant.on_behalf.person", "grant.on_behalf.delegation"))
            .transpose()?,
    })
}

/// Checks and converts a wire acknowledgement.
fn ack_from_wire(b: &pb::Ack) -> Result<Ack, Rejection> {
    let outcome = AckOutcome::from_wire(b.outcome)
        .ok_or_else(|| bad("ack.outcome", "unknown or unspecified outcome"))?;
    let answer = match outcome {
        AckOutcome::Done if b.reason.is_empty() => AckAnswer::Done,
        AckOutcome::Done => {
            return Err(bad("ack.reason", "must be empty when the outcome is done"));
        }
        _ => AckAnswer::Refused(text("ack.reason", &b.reason, MAX_REASON_BYTES)?),
    };
    Ok(Ack {
        request: EntryId(id32("ack.request", &b.request)?),
        answer,
    })
}

impl Body {
    /// Checks and converts a wire body.
    pub fn from_wire(body: &WireBody) -> Result<Body, Rejection> {
        Ok(match body {
            WireBody::Inception(b) => Body::Inception(Inception {
                role: Role::from_wire(b.role)
                    .ok_or_else(|| bad("inception.role", "unknown or unspecified role"))?,
                signing_key: key("inception.signing_key", &b.signing_key)?,
                next_key_digest: Digest(id32("inception.next_key_digest", &b.next_key_digest)?),
            }),
            WireBody::Rotation(b) => Body::Rotation(Rotation {
                signing_key: key("rotation.signing_key", &b.signing_key)?,
                next_key_digest: Digest(id32("rotation.next_key_digest", &b.next_key_digest)?),
            }),
            WireBody::Policy(b) => Body::Policy(policy_from_wire(b)?),
            WireBody::Accreditation(b) => Body::Accreditation(Accreditation {
                collector: FeedId(id32("accreditation.collector", &b.collector)?),
                valid_until: b.valid_until,
            }),
            WireBody::Suspension(b) => Body::Suspension(Suspension {
                collector: FeedId(id32("suspension.collector", &b.collector)?),
                reason: text("suspension.reason", &b.reason, MAX_REASON_BYTES)?,
            }),
            WireBody::Grant(b) => Body::Grant(grant_from_wire(b)?),
            WireBody::Revoke(b) => Body::Revoke(Revoke {
                grant: EntryId(id32("revoke.grant", &b.grant)?),
                erase: b.erase,
                on_behalf: b
                    .on_behalf
                    .as_ref()
                    .map(|o| {
                        on_behalf_from_wire(
                            o,
                            "revoke.on_behalf.person",
                            "revoke.on_behalf.delegation",
                        )
                    })
                    .transpose()?,
            }),
            WireBody::Request(b) => Body::Request(Request {
                collector: FeedId(id32("request.collector", &b.collector)?),
                kind: RequestKind::from_wire(b.kind)
                    .ok_or_else(|| bad("request.kind", "unknown or unspecified kind"))?,
                details_digest: match b.details_digest.len() {
                    0 => None,
                    _ => Some(Digest(id32("request.details_digest", &b.details_digest)?)),
                },
                on_behalf: b
                    .on_behalf
                    .as_ref()
                    .map(|o| {
                        on_behalf_from_wire(
                            o,
                            "request.on_behalf.person",
                            "request.on_behalf.delegation",
                        )
                    })
                    .transpose()?,
            }),
            WireBody::Ack(b) => Body::Ack(ack_from_wire(b)?),
            WireBody::Stance(b) => Body::Stance(stance_from_wire(b)?),
            WireBody::Response(b) => Body::Response(response_from_wire(b)?),
            WireBody::Outcome(b) => Body::Outcome(outcome_from_wire(b)?),
            WireBody::Delegation(b) => Body::Delegation(delegation_from_wire(b)?),
            WireBody::Undelegation(b) => Body::Undelegation(undelegation_from_wire(b)?),
            WireBody::Endorsement(b) => Body::Endorsement(endorsement_from_wire(b)?),
        })
    }

    /// The wire form.
    pub fn to_wire(&self) -> WireBody {
        fn ps(set: PurposeSet) -> Vec<i32> {
            set.iter().map(|p| p as i32).collect()
        }
        fn cs(set: CategorySet) -> Vec<i32> {
            set.iter().map(|c| c as i32).collect()
        }
        fn b(bytes: &[u8]) -> prost::bytes::Bytes {
            prost::bytes::Bytes::copy_from_slice(bytes)
        }
        match self {
            Body::Inception(x) => WireBody::Inception(pb::Inception {
                role: x.role as i32,
                signing_key: b(&x.signing_key.to_bytes()),
                next_key_digest: b(&x.next_key_digest.0),
            }),
            Body::Rotation(x) => WireBody::Rotation(pb::Rotation {
                signing_key: b(&x.signing_key.to_bytes()),
                next_key_digest: b(&x.next_key_digest.0),
            }),
            Body::Policy(x) => WireBody::Policy(pb::Policy {
                version: x.version,
                name: x.name.clone(),
                purposes: ps(x.purposes),
                categories: cs(x.categories),
                retention_days: x.retention_days,
                recipients: x.recipients.clone(),
                jurisdiction: x.jurisdiction.clone(),
                document_digest: b(&x.document_digest.0),
                document_url: x.document_url.clone(),
                contact: x.contact.clone(),
                scope: x.scope.as_ref().map(PolicyScope::to_wire),
                consultation: x.consultation.map(|c| pb::PolicyConsultation {
                    closes_ms: c.closes_ms,
                }),
            }),
            Body::Accreditation(x) => WireBody::Accreditation(pb::Accreditation {
                collector: b(&x.collector.0),
                valid_until: x.valid_until,
            }),
            Body::Suspension(x) => WireBody::Suspension(pb::Suspension {
                collector: b(&x.collector.0),
                reason: x.reason.clone(),
            }),
            Body::Grant(x) => WireBody::Grant(pb::Grant {
                collector: b(&x.collector.0),
                policy: b(&x.policy.0),
                purposes: ps(x.purposes),
                categories: cs(x.categories),
                retention_days: x.retention_days,
                valid_from: x.valid_from,
                valid_until: x.valid_until.unwrap_or(0),
                scope: x.scope.as_ref().map(GrantScope::to_wire),
                on_behalf: x.on_behalf.as_ref().map(on_behalf_to_wire),
            }),
            Body::Revoke(x) => WireBody::Revoke(pb::Revoke {
                grant: b(&x.grant.0),
                erase: x.erase,
                on_behalf: x.on_behalf.as_ref().map(on_behalf_to_wire),
            }),
            Body::Request(x) => WireBody::Request(pb::Request {
                collector: b(&x.collector.0),
                kind: x.kind as i32,
                details_digest: x.details_digest.map(|d| b(&d.0)).unwrap_or_default(),
                on_behalf: x.on_behalf.as_ref().map(on_behalf_to_wire),
            }),
            Body::Ack(x) => {
                let (outcome, reason) = match &x.answer {
                    AckAnswer::Done => (AckOutcome::Done, String::new()),
                    AckAnswer::Refused(r) => (AckOutcome::Refused, r.clone()),
                };
                WireBody::Ack(pb::Ack {
                    request: b(&x.request.0),
                    outcome: outcome as i32,
                    reason,
                })
            }
            Body::Stance(x) => {
                let (kind, reasons) = match x.position {
                    Position::Support => (pb::StanceKind::Support, Vec::new()),
                    Position::Object(set) => (
                        pb::StanceKind::Object,
                        set.iter().map(|r| r as i32).collect(),
                    ),
                };
                WireBody::Stance(pb::Stance {
                    draft: b(&x.draft.0),
                    kind: kind as i32,
                    reasons,
                    details_digest: x.details_digest.map(|d| b(&d.0)).unwrap_or_default(),
                })
            }
            Body::Response(x) => WireBody::Response(pb::ConsultationResponse {
                draft: b(&x.draft.0),
                reason: x.reason as i32,
                text: x.text.clone(),
                document_digest: x.document_digest.map(|d| b(&d.0)).unwrap_or_default(),
            }),
            Body::Outcome(x) => WireBody::Outcome(pb::ConsultationOutcome {
                draft: b(&x.draft.0),
                result: x.result as i32,
                text: x.text.clone(),
                responses: x.responses.iter().map(|r| b(&r.0)).collect(),
            }),
            Body::Delegation(x) => WireBody::Delegation(pb::Delegation {
                delegate: b(&x.delegate.0),
                powers: x.powers.iter().map(|p| p as i32).collect(),
                collectors: x.collectors.iter().map(|c| b(&c.0)).collect(),
                purposes: ps(x.purposes),
                valid_until: x.valid_until.unwrap_or(0),
                kind: x.kind as i32,
                co_signer: x.co_signer.map(|c| b(&c.0)).unwrap_or_default(),
            }),
            Body::Undelegation(x) => WireBody::Undelegation(pb::Undelegation {
                delegation: b(&x.delegation.0),
                void_from_ms: x.void_from_ms.unwrap_or(0),
            }),
            Body::Endorsement(x) => WireBody::Endorsement(pb::Endorsement {
                grant: b(&x.grant.0),
                on_behalf: Some(on_behalf_to_wire(&x.on_behalf)),
            }),
        }
    }
}
