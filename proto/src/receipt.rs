//! Node-signed receipts: `Receipt { payload, signature }` over a `ReceiptPayload` (an entry was
//! accepted), and `DecisionReceipt` over a `DecisionPayload` (a check was answered so).

use prost::Message;
use prost::bytes::Bytes;

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

/// Signs a receipt.
pub fn sign(node: &SecretKey, entry_id: EntryId, index: u64, time_ms: u64) -> pb::Receipt {
    let payload = pb::ReceiptPayload {
        node: Bytes::copy_from_slice(&node.public().to_bytes()),
        entry_id: Bytes::copy_from_slice(&entry_id.0),
        index,
        time_ms,
    }
    .encode_to_vec();
    let signature = node.sign(domain::RECEIPT_SIGNATURE, &payload);
    pb::Receipt {
        payload: payload.into(),
        signature: Bytes::copy_from_slice(&signature),
    }
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
    let signature: [u8; 64] = receipt
        .signature
        .as_ref()
        .try_into()
        .map_err(|_| ReceiptError::Malformed("signature length".into()))?;
    if !node.verify(domain::RECEIPT_SIGNATURE, &receipt.payload, &signature) {
        return Err(ReceiptError::BadSignature);
    }
    Ok(ReceiptFacts {
        node,
        entry_id,
        index: payload.index,
        time_ms: payload.time_ms,
    })
}

/// Signs a decision (the payload's `node` is set to the signer's key).
pub fn sign_decision(node: &SecretKey, mut payload: pb::DecisionPayload) -> pb::DecisionReceipt {
    payload.node = Bytes::copy_from_slice(&node.public().to_bytes());
    let payload = payload.encode_to_vec();
    let signature = node.sign(domain::DECISION_SIGNATURE, &payload);
    pb::DecisionReceipt {
        payload: payload.into(),
        signature: Bytes::copy_from_slice(&signature),
        ..Default::default()
    }
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
    let signature: [u8; 64] = receipt
        .signature
        .as_ref()
        .try_into()
        .map_err(|_| ReceiptError::Malformed("signature length".into()))?;
    if !node.verify(domain::DECISION_SIGNATURE, &receipt.payload, &signature) {
        return Err(ReceiptError::BadSignature);
    }
    if payload.question.is_none() {
        return Err(ReceiptError::Malformed("no question".into()));
    }
    Ok((node, payload))
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
            ..Default::default()
        };
        let receipt = sign_decision(&node, payload.clone());
        let (key, said) = verify_decision(&receipt).expect("verifies");
        assert_eq!(key, node.public());
        assert_eq!(said.reason(), pb::Reason::Revoked);
        assert_eq!(said.log_size, 42);
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
}
