//! Node-signed receipts: `Receipt { payload, signature }` over a `ReceiptPayload`.

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
}
