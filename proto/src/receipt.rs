//! Node-signed receipts: `Receipt { payload, signature }` over a `ReceiptPayload` (an entry was
//! accepted), and `DecisionReceipt` over a `DecisionPayload` (a check was answered so).
//!
//! A decision receipt's signature covers every field of its payload: the question (with the
//! observation's context, when given), the answer, the grant and (for `REVOKED`) the revocation
//! it names, the subject head, the log position, when it was decided, the time it is about, the
//! context digest ([`context_digest`]), and, for a grant a delegate signed, the delegation it
//! rests on (`delegated`). The log evidence beside the payload is not signed;
//! [`crate::evidence::verify_decision`] accepts a proof only of the entry the payload names, and
//! ignores a revocation or delegation proof beside a payload that names none.
//!
//! Either kind is signed alone (its `signature` over its domain and payload) or with others as a
//! group (its `group` names its place in a tree of receipts whose root the node signed once:
//! [`group`]); [`verify`] and [`verify_decision`] accept both forms.

pub mod group;

use prost::Message;
use prost::bytes::Bytes;

use crate::decide;
use crate::domain;
use crate::ids::EntryId;
use crate::keys::{PublicKey, SecretKey};
use crate::pb;

/// What a verified receipt says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptFacts {
    /// The node that signed it.
    pub node: PublicKey,
    /// The accepted entry.
    pub entry_id: EntryId,
    /// Its index in the node's arrival log.
    pub index: u64,
    /// When the node signed, Unix ms.
    pub time_ms: u64,
}

/// Why a receipt does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// Not a decodable receipt payload.
    #[error("receipt payload is malformed: {0}")]
    Malformed(String),
    /// Signature invalid.
    #[error("receipt signature does not verify under the node key it names")]
    BadSignature,
}

/// The payload of a receipt by `node` for the entry at `index` of its arrival log.
pub fn payload(node: &PublicKey, entry_id: EntryId, index: u64, time_ms: u64) -> Bytes {
    pb::ReceiptPayload {
        node: Bytes::copy_from_slice(&node.to_bytes()),
        entry_id: Bytes::copy_from_slice(&entry_id.0),
        index,
        time_ms,
    }
    .encode_to_vec()
    .into()
}

/// Signs a receipt alone.
pub fn sign(node: &SecretKey, entry_id: EntryId, index: u64, time_ms: u64) -> pb::Receipt {
    seal(node, payload(&node.public(), entry_id, index, time_ms))
}

/// Signs a receipt's `payload` (from [`payload`], by `node`'s key) alone.
pub fn seal(node: &SecretKey, payload: Bytes) -> pb::Receipt {
    let signature = node.sign(domain::RECEIPT_SIGNATURE, &payload);
    pb::Receipt {
        payload,
        signature: Bytes::copy_from_slice(&signature),
        group: None,
    }
}

/// The 64-byte signature of a receipt, either form.
fn signature_of(signature: &[u8]) -> Result<[u8; 64], ReceiptError> {
    signature
        .try_into()
        .map_err(|_| ReceiptError::Malformed("signature length".into()))
}

/// Verifies a receipt against the node key it names, and returns what it says. Callers decide
/// whether they trust that node key.
pub fn verify(receipt: &pb::Receipt) -> Result<ReceiptFacts, ReceiptError> {
    let payload = pb::ReceiptPayload::decode(receipt.payload.as_ref())
        .map_err(|e| ReceiptError::Malformed(e.to_string()))?;
    let node = PublicKey::from_slice(&payload.node)
        .map_err(|_| ReceiptError::Malformed("bad node key".into()))?;
    let entry_id = EntryId::from_slice(&payload.entry_id)
        .map_err(|_| ReceiptError::Malformed("bad entry id".into()))?;
    let signature = signature_of(&receipt.signature)?;
    match &receipt.group {
        Some(place) => {
            group::verify(
                &node,
                group::Kind::Entry,
                &receipt.payload,
                &signature,
                place,
            )?;
        }
        None if !node.verify(domain::RECEIPT_SIGNATURE, &receipt.payload, &signature) => {
            return Err(ReceiptError::BadSignature);
        }
        None => {}
    }
    Ok(ReceiptFacts {
        node,
        entry_id,
        index: payload.index,
        time_ms: payload.time_ms,
    })
}

/// The question a decision receipt signs: `asked` as the caller sent it, except that an `at_ms`
/// left 0 ("now") is set to `decided_ms`, the time the node decided, so the receipt states by
/// itself which time the answer is about (and stays consistent with its `at_ms` and `when`).
pub fn signed_question(asked: &pb::CheckRequest, decided_ms: u64) -> pb::CheckRequest {
    let mut question = asked.clone();
    question.at_ms = decide::asked_at(asked.at_ms, decided_ms);
    question
}

/// The digest of a check's observation context that a decision receipt carries
/// (`DecisionPayload.context_digest`): `BLAKE3("consent-ledger/context/v2" || sensor (u32 BE) ||
/// sensor_kind (1 byte) || cell (u64 BE) || observed_ms (u64 BE) || form (1 byte))` over its wire
/// fields, 0 where not given. The node sets it when the question has a context, and only then.
pub fn context_digest(context: &pb::ObservationContext) -> [u8; 32] {
    crate::scope::context_digest(
        context.sensor,
        context.sensor_kind,
        context.cell,
        context.observed_ms,
        context.form,
    )
}

/// A decision receipt by `node` not signed yet: its payload (with `node` set to that key), no
/// signature; sign it alone ([`sign_decision`]) or in a group ([`group`]).
pub fn unsigned_decision(
    node: &PublicKey,
    mut payload: pb::DecisionPayload,
) -> pb::DecisionReceipt {
    payload.node = Bytes::copy_from_slice(&node.to_bytes());
    pb::DecisionReceipt {
        payload: payload.encode_to_vec().into(),
        ..Default::default()
    }
}

/// Signs a decision alone (the payload's `node` is set to the signer's key).
pub fn sign_decision(node: &SecretKey, payload: pb::DecisionPayload) -> pb::DecisionReceipt {
    let mut receipt = unsigned_decision(&node.public(), payload);
    seal_decision(node, &mut receipt);
    receipt
}

/// Signs alone a decision receipt from [`unsigned_decision`] by `node`'s key.
pub fn seal_decision(node: &SecretKey, receipt: &mut pb::DecisionReceipt) {
    let signature = node.sign(domain::DECISION_SIGNATURE, &receipt.payload);
    receipt.signature = Bytes::copy_from_slice(&signature);
    receipt.group = None;
}

/// Verifies a decision receipt against the node key it names and returns what it says (and
/// that key). Callers decide whether they trust that node key.
pub fn verify_decision(
    receipt: &pb::DecisionReceipt,
) -> Result<(PublicKey, pb::DecisionPayload), ReceiptError> {
    let payload = pb::DecisionPayload::decode(receipt.payload.as_ref())
        .map_err(|e| ReceiptError::Malformed(e.to_string()))?;
    let node = PublicKey::from_slice(&payload.node)
        .map_err(|_| ReceiptError::Malformed("bad node key".into()))?;
    let signature = signature_of(&receipt.signature)?;
    match &receipt.group {
        Some(place) => {
            group::verify(
                &node,
                group::Kind::Decision,
                &receipt.payload,
                &signature,
                place,
            )?;
        }
        None if !node.verify(domain::DECISION_SIGNATURE, &receipt.payload, &signature) => {
            return Err(ReceiptError::BadSignature);
        }
        None => {}
    }
    let Some(question) = &payload.question else {
        return Err(ReceiptError::Malformed("no question".into()));
    };
    // The time fields, when stated (receipts before them leave both unset), follow from the
    // question and the decision time.
    if payload.at_ms != 0 || payload.when != 0 {
        let at = decide::asked_at(question.at_ms, payload.time_ms);
        if payload.at_ms != at || payload.when != decide::question_time(at, payload.time_ms) as i32
        {
            return Err(ReceiptError::Malformed(
                "the time the decision is about contradicts its question".into(),
            ));
        }
    }
    let digest_ok = match &question.context {
        None => payload.context_digest.is_empty(),
        Some(context) => payload.context_digest.as_ref() == context_digest(context).as_slice(),
    };
    if !digest_ok {
        return Err(ReceiptError::Malformed(
            "the context digest does not match the question's context (or there is none)".into(),
        ));
    }
    if !payload.revocation.is_empty()
        && (payload.revocation.len() != 32 || payload.reason() != pb::Reason::Revoked)
    {
        return Err(ReceiptError::Malformed(
            "a revocation is named only by a REVOKED deny, as a 32-byte entry id".into(),
        ));
    }
    if let Some(d) = &payload.delegated
        && (payload.grant.len() != 32 || crate::delegation::DelegationUsed::from_wire(d).is_none())
    {
        return Err(ReceiptError::Malformed(
            "a delegation is named only beside a grant, as two 32-byte ids, a known kind and an \
             endorsement of 0 or 32 bytes"
                .into(),
        ));
    }
    Ok((node, payload))
}

/// The time a verified decision is about, and how it relates to when the node decided: from the
/// signed fields (for a receipt signed before they existed, from the question and `time_ms`).
pub fn decided_about(payload: &pb::DecisionPayload) -> (u64, pb::QuestionTime) {
    let asked = payload.question.as_ref().map_or(0, |q| q.at_ms);
    let at = decide::asked_at(asked, payload.time_ms);
    (at, decide::question_time(at, payload.time_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_verify_and_tampering_is_caught() {
        let node = SecretKey::from_seed(&[4; 32]);
        let receipt = sign(&node, EntryId([1; 32]), 42, 1_700_000_000_000);
        let facts = verify(&receipt).expect("valid");
        assert_eq!(
            (facts.node, facts.index, facts.entry_id),
            (node.public(), 42, EntryId([1; 32]))
        );
        for i in 0..receipt.payload.len() {
            let mut bad = receipt.clone();
            let mut p = bad.payload.to_vec();
            p[i] ^= 1;
            bad.payload = p.into();
            assert!(
                verify(&bad).is_err(),
                "flipping payload byte {i} must be caught"
            );
        }
    }

    #[test]
    fn decision_receipts_verify_and_any_change_breaks_them() {
        let node = SecretKey::from_seed(&[5; 32]);
        let payload = pb::DecisionPayload {
            question: Some(pb::CheckRequest {
                subject: Bytes::from_static(&[1; 32]),
                collector: Bytes::from_static(&[2; 32]),
                ..Default::default()
            }),
            decision: pb::Decision::Deny as i32,
            reason: pb::Reason::Revoked as i32,
            grant: Bytes::from_static(&[3; 32]),
            log_size: 42,
            time_ms: 7,
            at_ms: 7,
            when: pb::QuestionTime::Current as i32,
            revocation: Bytes::from_static(&[4; 32]),
            ..Default::default()
        };
        let receipt = sign_decision(&node, payload.clone());
        let (key, said) = verify_decision(&receipt).expect("verifies");
        assert_eq!(key, node.public());
        assert_eq!(said.reason(), pb::Reason::Revoked);
        assert_eq!(said.log_size, 42);
        assert_eq!(said.revocation.as_ref(), [4u8; 32].as_slice());
        for i in 0..receipt.payload.len() {
            let mut bad = receipt.clone();
            let mut bytes = bad.payload.to_vec();
            bytes[i] ^= 1;
            bad.payload = bytes.into();
            assert!(verify_decision(&bad).is_err(), "byte {i}");
        }
        let mut bad = receipt.clone();
        let mut sig = bad.signature.to_vec();
        sig[0] ^= 1;
        bad.signature = sig.into();
        assert!(verify_decision(&bad).is_err());
        // A submit receipt's signature does not pass as a decision's (domains differ).
        let other = sign(&node, EntryId([9; 32]), 1, 2);
        let forged = pb::DecisionReceipt {
            payload: other.payload,
            signature: other.signature,
            ..Default::default()
        };
        assert!(verify_decision(&forged).is_err());
    }

    #[test]
    fn a_past_question_is_marked_and_a_contradicting_mark_is_refused() {
        let node = SecretKey::from_seed(&[6; 32]);
        let decided = 1_800_000_000_000;
        let day = 86_400_000;
        let payload = |asked: u64, at: u64, when: pb::QuestionTime| pb::DecisionPayload {
            question: Some(pb::CheckRequest {
                at_ms: asked,
                ..Default::default()
            }),
            decision: pb::Decision::Allow as i32,
            reason: pb::Reason::Granted as i32,
            time_ms: decided,
            at_ms: at,
            when: when as i32,
            ..Default::default()
        };
        let verified =
            |p: pb::DecisionPayload| verify_decision(&sign_decision(&node, p)).map(|(_, p)| p);
        // A year ago: marked past, and read so.
        let past = verified(payload(
            decided - 365 * day,
            decided - 365 * day,
            pb::QuestionTime::Past,
        ))
        .expect("past question");
        assert_eq!(
            decided_about(&past),
            (decided - 365 * day, pb::QuestionTime::Past)
        );
        // Now (at_ms 0, or a minute off): current.
        let now = verified(payload(0, decided, pb::QuestionTime::Current)).expect("now");
        assert_eq!(decided_about(&now), (decided, pb::QuestionTime::Current));
        let minute = 60_000;
        let current = pb::QuestionTime::Current;
        assert!(verified(payload(decided - minute, decided - minute, current)).is_ok());
        let future = pb::QuestionTime::Future;
        assert!(verified(payload(decided + day, decided + day, future)).is_ok());
        // A node cannot sign a past question as a current one, nor restate the time asked.
        assert!(verified(payload(decided - day, decided - day, current)).is_err());
        assert!(verified(payload(decided - day, decided, current)).is_err());
        // Receipts from before the fields existed still verify; the mark is computed.
        let unset = pb::QuestionTime::Unspecified;
        let old = verified(payload(decided - day, 0, unset)).expect("old");
        assert_eq!(decided_about(&old), (decided - day, pb::QuestionTime::Past));
    }

    #[test]
    fn a_context_digest_is_checked_against_the_question() {
        let node = SecretKey::from_seed(&[8; 32]);
        // A function, not a value: the message may or may not be `Copy`.
        let context = || pb::ObservationContext {
            sensor: 3,
            sensor_kind: pb::SensorKind::AirQuality as i32,
            cell: 0x8b1969a8c58cfff,
            observed_ms: 1_750_000_000_000,
            form: pb::Form::Binned as i32,
        };
        let payload =
            |context: Option<pb::ObservationContext>, digest: Vec<u8>| pb::DecisionPayload {
                question: Some(pb::CheckRequest {
                    context,
                    ..Default::default()
                }),
                decision: pb::Decision::Allow as i32,
                reason: pb::Reason::Granted as i32,
                context_digest: digest.into(),
                ..Default::default()
            };
        let verified =
            |p: pb::DecisionPayload| verify_decision(&sign_decision(&node, p)).map(|(_, p)| p);
        let digest = context_digest(&context()).to_vec();
        // The digest is the one the scope module computes from the domain context.
        let domain = crate::scope::Context::from_wire(Some(&context())).expect("a valid context");
        assert_eq!(domain.digest().to_vec(), digest);
        assert!(verified(payload(Some(context()), digest.clone())).is_ok());
        // Old receipts: no context, no digest.
        assert!(verified(payload(None, Vec::new())).is_ok());
        // A wrong digest, a digest without a context, a context without its digest.
        let mut wrong = digest.clone();
        wrong[0] ^= 1;
        assert!(verified(payload(Some(context()), wrong)).is_err());
        assert!(verified(payload(None, digest)).is_err());
        assert!(verified(payload(Some(context()), Vec::new())).is_err());
        // The digest binds the sensor's kind: the same context naming another kind has another
        // digest, and a receipt pairing the two does not verify.
        let camera = || pb::ObservationContext {
            sensor_kind: pb::SensorKind::Camera as i32,
            ..context()
        };
        let air = context_digest(&context()).to_vec();
        assert_ne!(context_digest(&camera()).to_vec(), air);
        assert!(verified(payload(Some(camera()), air)).is_err());
    }

    #[test]
    fn a_delegation_is_signed_and_checked_for_its_form() {
        let node = SecretKey::from_seed(&[9; 32]);
        let used = crate::delegation::DelegationUsed {
            delegation: EntryId([1; 32]),
            delegate: crate::ids::FeedId([2; 32]),
            kind: pb::DelegationKind::Guardian,
            endorsement: Some(EntryId([3; 32])),
        };
        let payload =
            |grant: &'static [u8], delegated: Option<pb::DelegationUsed>| pb::DecisionPayload {
                question: Some(pb::CheckRequest::default()),
                decision: pb::Decision::Allow as i32,
                reason: pb::Reason::Granted as i32,
                grant: Bytes::from_static(grant),
                delegated,
                ..Default::default()
            };
        let verified =
            |p: pb::DecisionPayload| verify_decision(&sign_decision(&node, p)).map(|(_, p)| p);
        let said = verified(payload(&[4; 32], Some(used.to_wire()))).expect("verifies");
        assert_eq!(
            said.delegated
                .as_ref()
                .and_then(crate::delegation::DelegationUsed::from_wire),
            Some(used)
        );
        // Signed: changing the delegation breaks the signature.
        let receipt = sign_decision(&node, payload(&[4; 32], Some(used.to_wire())));
        let plain = sign_decision(&node, payload(&[4; 32], None));
        assert_ne!(receipt.payload, plain.payload);
        // Without a grant, or malformed: refused.
        assert!(verified(payload(&[], Some(used.to_wire()))).is_err());
        let mut short = used.to_wire();
        short.delegate = Bytes::from_static(&[2; 31]);
        assert!(verified(payload(&[4; 32], Some(short))).is_err());
        let mut unknown = used.to_wire();
        unknown.kind = 0;
        assert!(verified(payload(&[4; 32], Some(unknown))).is_err());
        // A receipt without it (an own grant, or an older node's) verifies as before.
        assert!(verified(payload(&[4; 32], None)).is_ok());
    }

    #[test]
    fn a_question_about_now_is_signed_with_the_time_decided() {
        let node = SecretKey::from_seed(&[7; 32]);
        let decided = 1_800_000_000_000;
        let asked = pb::CheckRequest {
            subject: Bytes::from_static(&[1; 32]),
            receipt: true,
            ..Default::default()
        };
        let question = signed_question(&asked, decided);
        assert_eq!(question.at_ms, decided);
        assert_eq!(
            pb::CheckRequest {
                at_ms: 0,
                ..question.clone()
            },
            asked,
            "nothing else changes"
        );
        // A time given is kept, past or not.
        let past = pb::CheckRequest {
            at_ms: decided - 86_400_000,
            ..asked.clone()
        };
        assert_eq!(signed_question(&past, decided), past);
        // Signed so, the receipt verifies and reads as a current question about `decided`.
        let (at, when) = (decided, decide::question_time(decided, decided));
        let receipt = sign_decision(
            &node,
            pb::DecisionPayload {
                question: Some(question),
                decision: pb::Decision::Allow as i32,
                reason: pb::Reason::Granted as i32,
                time_ms: decided,
                at_ms: at,
                when: when as i32,
                ..Default::default()
            },
        );
        let (_, said) = verify_decision(&receipt).expect("verifies");
        assert_eq!(said.question.as_ref().map(|q| q.at_ms), Some(decided));
        assert_eq!(decided_about(&said), (decided, pb::QuestionTime::Current));
    }
}
