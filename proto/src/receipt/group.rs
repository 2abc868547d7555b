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
/// The value asking for receipts signed in groups (exactly; without the key, or with another
/// value, each receipt is signed alone, as nodes and clients of before groups do).
pub const FORM_GROUP: &str = "group";
/// The value a client sends to have receipts signed alone where it would otherwise ask for
/// groups (any value but [`FORM_GROUP`] does the same).
pub const FORM_ALONE: &str = "alone";

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

/// A receipt's leaf hash: `SHA-256(0x00 ‖ domain ‖ salt ‖ payload)`, `domain` the prefix its
/// kind's single signature would cover, `salt` the 32 random bytes drawn for this receipt alone
/// (so that the other receipts of its group, which see this hash in their paths, cannot test
/// guesses of its payload against it).
pub fn leaf(kind: Kind, salt: &[u8; 32], payload: &[u8]) -> Hash {
    let mut data = Vec::with_capacity(kind.domain().len() + salt.len() + payload.len());
    data.extend_from_slice(kind.domain());
    data.extend_from_slice(salt);
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
    /// One per leaf, in the order given, without its salt (the signer sees leaf hashes only:
    /// whoever drew the salt sets it).
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
                salt: Bytes::new(),
            }
        })
        .collect();
    Some(Signed {
        signature: Bytes::copy_from_slice(&signature),
        places,
    })
}

/// Checks that `payload` of `kind`, with the group's `salt`, is leaf `group.index` of a group
/// of `group.size` leaves whose root `node` signed with `signature`.
pub fn verify(
    node: &PublicKey,
    kind: Kind,
    payload: &[u8],
    signature: &[u8; 64],
    group: &pb::ReceiptGroup,
) -> Result<(), ReceiptError> {
    let malformed = |why: String| Err(ReceiptError::Malformed(format!("receipt group: {why}")));
    if group.size == 0 || group.size > crate::limits::MAX_RECEIPT_GROUP {
        return malformed(format!(
            "a group has 1 to {} receipts, not {}",
            crate::limits::MAX_RECEIPT_GROUP,
            group.size
        ));
    }
    if group.index >= group.size {
        return malformed("the place is outside the group".into());
    }
    let Ok(salt) = <[u8; 32]>::try_from(group.salt.as_ref()) else {
        return malformed(format!("the salt is 32 bytes, not {}", group.salt.len()));
    };
    if group.path.len() > merkle::MAX_PROOF_HASHES {
        return malformed("the path is longer than its place needs".into());
    }
    let Some(path) = merkle::hashes_from(&group.path) else {
        return malformed("the path holds 32-byte hashes only".into());
    };
    let root = match merkle::root_from_inclusion(
        &leaf(kind, &salt, payload),
        group.index,
        group.size,
        &path,
    ) {
        Ok(root) => root,
        Err(e) => return malformed(format!("the path: {e}")),
    };
    if !node.verify(
        crate::domain::RECEIPT_GROUP_SIGNATURE,
        &signed_message(&root, group.size),
        signature,
    ) {
        return Err(ReceiptError::BadSignature);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn salt(i: usize) -> [u8; 32] {
        *blake3::hash(&(i as u64).to_be_bytes()).as_bytes()
    }

    fn payload(i: usize) -> [u8; 8] {
        (i as u64).to_be_bytes()
    }

    /// A signed group of `n` entry receipts, each place with its salt set.
    fn group_of(node: &SecretKey, n: usize) -> ([u8; 64], Vec<pb::ReceiptGroup>) {
        let leaves: Vec<Hash> = (0..n)
            .map(|i| leaf(Kind::Entry, &salt(i), &payload(i)))
            .collect();
        let signed = sign(node, &leaves).expect("signs");
        let sig: [u8; 64] = signed.signature.as_ref().try_into().expect("64");
        let places = signed
            .places
            .into_iter()
            .enumerate()
            .map(|(i, mut p)| {
                p.salt = Bytes::copy_from_slice(&salt(i));
                p
            })
            .collect();
        (sig, places)
    }

    #[test]
    fn every_place_of_every_group_size_verifies_and_no_other_does() {
        let node = SecretKey::from_seed(&[6; 32]);
        let key = node.public();
        for n in [1usize, 2, 3, 5, 7, 8, 9, 31, 64, 100] {
            let (sig, places) = group_of(&node, n);
            assert_eq!(places.len(), n);
            for (i, place) in places.iter().enumerate() {
                let payload = payload(i);
                verify(&key, Kind::Entry, &payload, &sig, place)
                    .unwrap_or_else(|e| panic!("{n} leaves, place {i}: {e}"));
                // The same payload as a decision's is another leaf.
                assert!(verify(&key, Kind::Decision, &payload, &sig, place).is_err());
                // Another receipt's payload at this place does not verify.
                let other = ((i + 1) as u64).to_be_bytes();
                assert!(verify(&key, Kind::Entry, &other, &sig, place).is_err());
                // Another place, size, salt, or a path one hash longer or shorter: refused.
                let mut moved = place.clone();
                moved.index = (moved.index + 1) % n as u64;
                assert!(n == 1 || verify(&key, Kind::Entry, &payload, &sig, &moved).is_err());
                let mut grown = place.clone();
                grown.size += 1;
                assert!(verify(&key, Kind::Entry, &payload, &sig, &grown).is_err());
                let mut salted = place.clone();
                salted.salt = Bytes::copy_from_slice(&salt(i + 1));
                assert!(verify(&key, Kind::Entry, &payload, &sig, &salted).is_err());
                let mut longer = place.clone();
                longer.path.push(Bytes::from_static(&[0; 32]));
                assert!(verify(&key, Kind::Entry, &payload, &sig, &longer).is_err());
                if !place.path.is_empty() {
                    let mut shorter = place.clone();
                    shorter.path.pop();
                    assert!(verify(&key, Kind::Entry, &payload, &sig, &shorter).is_err());
                }
            }
        }
    }

    #[test]
    fn the_root_is_the_logs_tree_over_the_leaves() {
        // The group's tree is RFC 9162's: its root from the paths equals the root computed
        // by the log's own functions over the same leaves.
        let node = SecretKey::from_seed(&[6; 32]);
        let l: Vec<Hash> = (0..13)
            .map(|i| leaf(Kind::Entry, &salt(i), &payload(i)))
            .collect();
        let signed = sign(&node, &l).expect("signs");
        let mut tree = Tree::new();
        l.iter().for_each(|h| tree.push_hash(*h));
        let root = tree.root_at(13).expect("root");
        for (i, place) in signed.places.iter().enumerate() {
            let path = merkle::hashes_from(&place.path).expect("hashes");
            merkle::verify_inclusion(&l[i], i as u64, 13, &path, &root).expect("RFC proof");
        }
        let message = signed_message(&root, 13);
        let sig: [u8; 64] = signed.signature.as_ref().try_into().expect("64");
        assert!(
            node.public()
                .verify(crate::domain::RECEIPT_GROUP_SIGNATURE, &message, &sig)
        );
    }

    #[test]
    fn malformed_groups_are_refused_before_any_hashing() {
        let node = SecretKey::from_seed(&[6; 32]);
        let (sig, places) = group_of(&node, 3);
        let key = node.public();
        assert!(sign(&node, &[]).is_none());
        let bad = |change: &dyn Fn(&mut pb::ReceiptGroup)| {
            let mut place = places[2].clone();
            change(&mut place);
            verify(&key, Kind::Entry, &payload(2), &sig, &place)
        };
        assert!(bad(&|_| {}).is_ok());
        for (what, change) in [
            (
                "no size",
                &(|p: &mut pb::ReceiptGroup| p.size = 0) as &dyn Fn(&mut pb::ReceiptGroup),
            ),
            ("too big", &|p| {
                p.size = crate::limits::MAX_RECEIPT_GROUP + 1
            }),
            ("outside", &|p| p.index = p.size),
            ("short salt", &|p| p.salt = Bytes::from_static(&[1; 31])),
            ("no salt", &|p| p.salt = Bytes::new()),
            ("short hash", &|p| p.path[0] = Bytes::from_static(&[1; 31])),
            ("65 hashes", &|p| {
                p.path = vec![Bytes::from_static(&[1; 32]); 65]
            }),
            ("empty", &|p| *p = pb::ReceiptGroup::default()),
        ] {
            assert!(
                matches!(bad(change), Err(ReceiptError::Malformed(_))),
                "{what}"
            );
        }
    }
}
