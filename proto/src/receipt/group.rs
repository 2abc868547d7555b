//! Receipts signed together: one Ed25519 signature over the root of a Merkle tree of receipts,
//! and each receipt's place and audit path in that tree (`ReceiptGroup`).
//!
//! A node that answers many calls at once signs their receipts as one group: the leaves are the
//! receipts' payloads, each behind the domain its single signature would use, so an entry
//! receipt's payload never passes as a decision's; the tree is the log's (RFC 9162, SHA-256,
//! [`crate::merkle`]); the signature covers `"consent-ledger/receipt-group/v1" ‖ root ‖ size`
//! (size as u64 big-endian). A verifier recomputes the root from the receipt's own payload and
//! path and checks that one signature: nothing else of the group is needed, and nothing of
//! another receipt of the group is revealed but hashes.

use prost::bytes::Bytes;

use crate::keys::{PublicKey, SecretKey};
use crate::merkle::{self, Hash, Tree};
use crate::pb;

use super::ReceiptError;

/// The request metadata key a call names the form of its receipts with.
pub const FORM_KEY: &str = "consent-receipt-form";
/// The value asking for receipts signed in groups (without the key, or with another value, each
/// receipt is signed alone, as nodes and clients of before groups do).
pub const FORM_GROUP: &str = "group";

/// What a receipt's payload says it is: its leaf is hashed behind that kind's signature domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An accepted entry (`ReceiptPayload`), behind `"consent-ledger/receipt/v1"`.
    Entry,
    /// A decision (`DecisionPayload`), behind `"consent-ledger/decision/v1"`.
    Decision,
}

impl Kind {
    fn domain(self) -> &'static [u8] {
        match self {
            Kind::Entry => crate::domain::RECEIPT_SIGNATURE,
            Kind::Decision => crate::domain::DECISION_SIGNATURE,
        }
    }
}

/// A receipt's leaf: `SHA-256(0x00 ‖ domain ‖ payload)`, the domain its kind's single signature
/// would cover.
pub fn leaf(kind: Kind, payload: &[u8]) -> Hash {
    let mut data = Vec::with_capacity(kind.domain().len() + payload.len());
    data.extend_from_slice(kind.domain());
    data.extend_from_slice(payload);
    merkle::leaf_hash(&data)
}

/// The bytes a group signature covers after its domain: the root, then the size (u64 BE).
pub fn signed_message(root: &Hash, size: u64) -> [u8; 40] {
    let mut message = [0u8; 40];
    message[..32].copy_from_slice(root);
    message[32..].copy_from_slice(&size.to_be_bytes());
    message
}

/// A signed group: the one signature and each leaf's place in the tree, in leaf order.
#[derive(Debug, Clone)]
pub struct Signed {
    /// Ed25519 over `"consent-ledger/receipt-group/v1" ‖ root ‖ size`.
    pub signature: Bytes,
    /// One per leaf, in the order given.
    pub places: Vec<pb::ReceiptGroup>,
}

/// Signs `leaves` (1..=[`crate::limits::MAX_RECEIPT_GROUP`]) as one group. `None` for an empty
/// group or one above the limit.
pub fn sign(node: &SecretKey, leaves: &[Hash]) -> Option<Signed> {
    let size = u64::try_from(leaves.len()).ok()?;
    if size == 0 || size > crate::limits::MAX_RECEIPT_GROUP {
        return None;
    }
    let mut tree = Tree::new();
    for leaf in leaves {
        tree.push_hash(*leaf);
    }
    let root = tree.root_at(size)?;
    let signature = node.sign(
        crate::domain::RECEIPT_GROUP_SIGNATURE,
        &signed_message(&root, size),
    );
    let places = (0..size)
        .map(|index| {
            // Every index is below the size: the proof exists (and `Tree` reads never fail).
            let path = match merkle::inclusion_proof(&tree, index, size) {
                Ok(path) => path.unwrap_or_default(),
                Err(never) => match never {},
            };
            pb::ReceiptGroup {
                size,
                index,
                path: path.iter().map(|h| Bytes::copy_from_slice(h)).collect(),
            }
        })
        .collect();
    Some(Signed {
        signature: Bytes::copy_from_slice(&signature),
        places,
    })
}

/// Checks that `payload` of `kind` is leaf `group.index` of a group of `group.size` leaves whose
/// root `node` signed with `signature`.
pub fn verify(
    node: &PublicKey,
    kind: Kind,
    payload: &[u8],
    signature: &[u8; 64],
    group: &pb::ReceiptGroup,
) -> Result<(), ReceiptError> {
    if group.size == 0 || group.size > crate::limits::MAX_RECEIPT_GROUP {
        return Err(ReceiptError::Malformed(format!(
            "a receipt group has 1 to {} receipts, not {}",
            crate::limits::MAX_RECEIPT_GROUP,
            group.size
        )));
    }
    let path = merkle::hashes_from(&group.path).ok_or_else(|| {
        ReceiptError::Malformed("a receipt group's path holds 32-byte hashes only".into())
    })?;
    let root = root_from_path(&leaf(kind, payload), group.index, group.size, &path)?;
    if !node.verify(
        crate::domain::RECEIPT_GROUP_SIGNATURE,
        &signed_message(&root, group.size),
        signature,
    ) {
        return Err(ReceiptError::BadSignature);
    }
    Ok(())
}

/// The root the path leads to from `leaf` at `index` of `size` leaves (RFC 9162 §2.1.3.2's walk),
/// refusing a path of the wrong length for that place.
fn root_from_path(leaf: &Hash, index: u64, size: u64, path: &[Hash]) -> Result<Hash, ReceiptError> {
    let wrong = |what: &str| ReceiptError::Malformed(format!("a receipt group's path {what}"));
    if index >= size {
        return Err(wrong("names a place outside its group"));
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if s == 0 {
            return Err(wrong("is longer than its place needs"));
        }
        if f & 1 == 1 || f == s {
            r = merkle::node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = merkle::node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(wrong("is shorter than its place needs"));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf(Kind::Entry, &(i as u64).to_be_bytes()))
            .collect()
    }

    #[test]
    fn every_place_of_every_group_size_verifies_and_no_other_does() {
        let node = SecretKey::from_seed(&[6; 32]);
        for n in [1usize, 2, 3, 5, 7, 8, 9, 31, 64, 100] {
            let signed = sign(&node, &leaves(n)).expect("signs");
            let sig: [u8; 64] = signed.signature.as_ref().try_into().expect("64");
            assert_eq!(signed.places.len(), n);
            for (i, place) in signed.places.iter().enumerate() {
                let payload = (i as u64).to_be_bytes();
                verify(&node.public(), Kind::Entry, &payload, &sig, place)
                    .unwrap_or_else(|e| panic!("{n} leaves, place {i}: {e}"));
                // The same payload as a decision's is another leaf.
                assert!(verify(&node.public(), Kind::Decision, &payload, &sig, place).is_err());
                // Another receipt's payload at this place does not verify.
                let other = ((i + 1) as u64).to_be_bytes();
                assert!(verify(&node.public(), Kind::Entry, &other, &sig, place).is_err());
                // Another place, size, or a path one hash longer or shorter: refused.
                let mut moved = place.clone();
                moved.index = (moved.index + 1) % n as u64;
                assert!(
                    n == 1 || verify(&node.public(), Kind::Entry, &payload, &sig, &moved).is_err()
                );
                let mut grown = place.clone();
                grown.size += 1;
                assert!(verify(&node.public(), Kind::Entry, &payload, &sig, &grown).is_err());
                let mut longer = place.clone();
                longer.path.push(Bytes::from_static(&[0; 32]));
                assert!(verify(&node.public(), Kind::Entry, &payload, &sig, &longer).is_err());
                if !place.path.is_empty() {
                    let mut shorter = place.clone();
                    shorter.path.pop();
                    assert!(verify(&node.public(), Kind::Entry, &payload, &sig, &shorter).is_err());
                }
            }
        }
    }

    #[test]
    fn the_root_is_the_logs_tree_over_the_leaves() {
        // The group's tree is RFC 9162's: its root from the paths equals the root computed
        // by the log's own functions over the same leaves.
        let node = SecretKey::from_seed(&[6; 32]);
        let l = leaves(13);
        let signed = sign(&node, &l).expect("signs");
        let mut tree = Tree::new();
        l.iter().for_each(|h| tree.push_hash(*h));
        let root = tree.root_at(13).expect("root");
        for (i, place) in signed.places.iter().enumerate() {
            let path = merkle::hashes_from(&place.path).expect("hashes");
            merkle::verify_inclusion(&l[i], i as u64, 13, &path, &root).expect("RFC proof");
        }
    }

    #[test]
    fn empty_and_oversized_groups_are_not_signed_or_accepted() {
        let node = SecretKey::from_seed(&[6; 32]);
        assert!(sign(&node, &[]).is_none());
        let place = pb::ReceiptGroup {
            size: crate::limits::MAX_RECEIPT_GROUP + 1,
            index: 0,
            path: vec![],
        };
        assert!(matches!(
            verify(&node.public(), Kind::Entry, b"x", &[0; 64], &place),
            Err(ReceiptError::Malformed(_))
        ));
        let place = pb::ReceiptGroup {
            size: 0,
            index: 0,
            path: vec![],
        };
        assert!(verify(&node.public(), Kind::Entry, b"x", &[0; 64], &place).is_err());
        let place = pb::ReceiptGroup {
            size: 2,
            index: 0,
            path: vec![Bytes::from_static(&[1; 31])],
        };
        assert!(verify(&node.public(), Kind::Entry, b"x", &[0; 64], &place).is_err());
    }
}
