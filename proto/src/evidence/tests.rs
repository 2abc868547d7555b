//! A decision receipt with its evidence verifies offline with and without enough cosignatures,
//! and any change to the checkpoint, the proofs or the decision is caught.

use prost::bytes::Bytes;

use super::*;
use crate::fixtures;
use crate::keys::SecretKey;
use crate::merkle::Tree;
use crate::note::Checkpoint;

struct Setup {
    receipt: pb::DecisionReceipt,
    entry: pb::EntryReceipt,
    witnesses: Vec<(String, SecretKey)>,
}

fn name(key: &SecretKey) -> String {
    key.public().to_text(NODE_PREFIX)
}

/// A node's log of 23 entries, a decision naming entry 11, the checkpoint cosigned by two of
/// three witnesses, and the proofs.
fn setup() -> Setup {
    let node = fixtures::key("node");
    let ids: Vec<[u8; 32]> = (0..23u8).map(|i| *blake3::hash(&[i]).as_bytes()).collect();
    let mut tree = Tree::new();
    for id in &ids {
        tree.push(id);
    }
    let checkpoint = Checkpoint {
        origin: name(&node),
        size: 23,
        root: tree.root_at(23).expect("root"),
        time_ms: 1_795_959_010_768,
    };
    let mut note = SignedNote::sign(checkpoint, &node);
    let witnesses: Vec<(String, SecretKey)> = (0..3)
        .map(|i| {
            let k = fixtures::key(&format!("witness-{i}"));
            (name(&k), k)
        })
        .collect();
    for (n, k) in &witnesses[..2] {
        let c = note.cosignature(n, k, 1_795_959_011);
        assert!(note.add_cosignature(c, &k.public()));
    }
    let proof = |index: usize| pb::InclusionProof {
        index: index as u64,
        tree_size: 23,
        entry_id: Bytes::copy_from_slice(&ids[index]),
        hashes: match merkle::inclusion_proof(&tree, index as u64, 23) {
            Ok(p) => p.expect("in range"),
            Err(never) => match never {},
        }
        .iter()
        .map(|h| Bytes::copy_from_slice(h))
        .collect(),
    };
    let mut receipt = crate::receipt::sign_decision(
        &node,
        pb::DecisionPayload {
            question: Some(pb::CheckRequest::default()),
            decision: pb::Decision::Deny as i32,
            reason: pb::Reason::Revoked as i32,
            grant: Bytes::copy_from_slice(&ids[11]),
            revocation: Bytes::copy_from_slice(&ids[17]),
            log_size: 23,
            time_ms: 1_795_959_012_000,
            ..Default::default()
        },
    );
    receipt.checkpoint = note.to_text();
    receipt.grant_inclusion = Some(proof(11));
    receipt.revocation_inclusion = Some(proof(17));
    let entry = pb::EntryReceipt {
        receipt: Some(crate::receipt::sign(
            &node,
            crate::ids::EntryId(ids[5]),
            5,
            1,
        )),
        checkpoint: note.to_text(),
        inclusion: Some(proof(5)),
    };
    Setup {
        receipt,
        entry,
        witnesses,
    }
}

fn policy(s: &Setup, k: usize) -> WitnessPolicy {
    let names: Vec<String> = s.witnesses.iter().map(|(n, _)| n.clone()).collect();
    WitnessPolicy::new(&names, k).expect("policy")
}

#[test]
fn a_receipt_with_enough_cosignatures_verifies() {
    let s = setup();
    let v = verify_decision(&s.receipt, &policy(&s, 2)).expect("verifies");
    assert!(v.grant_included && v.revocation_included);
    assert_eq!(v.cosigned_by.len(), 2);
    assert_eq!(v.checkpoint.expect("checkpoint").size, 23);
    assert_eq!(
        verify_decision(&s.receipt, &policy(&s, 3)),
        Err(EvidenceError::TooFewWitnesses { have: 2, need: 3 })
    );
    let mut bare = s.receipt.clone();
    bare.checkpoint.clear();
    assert_eq!(
        verify_decision(&bare, &policy(&s, 1)),
        Err(EvidenceError::NoCheckpoint)
    );
    assert!(verify_decision(&bare, &WitnessPolicy::default()).is_ok());
    assert!(WitnessPolicy::new(&["not-a-node".into()], 1).is_err());
    assert!(WitnessPolicy::new(&[], 1).is_err());
}

#[test]
fn any_change_to_the_evidence_is_caught() {
    let s = setup();
    let p = policy(&s, 2);
    // Every byte of the checkpoint note.
    let text = s.receipt.checkpoint.clone().into_bytes();
    for i in 0..text.len() {
        let mut bad = text.clone();
        bad[i] ^= 0x01;
        let Ok(bad) = String::from_utf8(bad) else {
            continue;
        };
        let mut r = s.receipt.clone();
        r.checkpoint = bad;
        assert!(verify_decision(&r, &p).is_err(), "note byte {i}");
    }
    // Every byte of every proof hash, the index, the entry, the size.
    for which in 0..2 {
        let n = get(which, &mut s.receipt.clone()).hashes.len();
        for h in 0..n {
            for byte in 0..32 {
                let mut r = s.receipt.clone();
                let mut hash = get(which, &mut r).hashes[h].to_vec();
                hash[byte] ^= 0x80;
                get(which, &mut r).hashes[h] = hash.into();
                assert!(
                    verify_decision(&r, &p).is_err(),
                    "proof {which} hash {h} byte {byte}"
                );
            }
        }
        let mut r = s.receipt.clone();
        get(which, &mut r).index += 1;
        assert!(verify_decision(&r, &p).is_err());
        let mut r = s.receipt.clone();
        get(which, &mut r).tree_size -= 1;
        assert!(verify_decision(&r, &p).is_err());
        let mut r = s.receipt.clone();
        let mut id = get(which, &mut r).entry_id.to_vec();
        id[0] ^= 1;
        get(which, &mut r).entry_id = id.into();
        assert!(verify_decision(&r, &p).is_err());
    }
    // A checkpoint signed by another node.
    let other = fixtures::key("other");
    let mut note = SignedNote::parse(&s.receipt.checkpoint).expect("parses");
    note.checkpoint.origin = name(&other);
    let mut r = s.receipt.clone();
    r.checkpoint = SignedNote::sign(note.checkpoint, &other).to_text();
    assert_eq!(
        verify_decision(&r, &WitnessPolicy::default()),
        Err(EvidenceError::NotTheNodesCheckpoint)
    );
}

#[test]
fn a_revocation_proof_the_node_did_not_sign_for_is_refused() {
    // The proof of another entry of the same log (valid in itself) in place of the revocation's:
    // the signed payload names the revocation, so the swap is caught.
    let s = setup();
    let p = policy(&s, 2);
    let mut swapped = s.receipt.clone();
    swapped.revocation_inclusion = s.entry.inclusion.clone();
    assert_eq!(
        verify_decision(&swapped, &p),
        Err(EvidenceError::WrongProof("revocation"))
    );
    let mut swapped = s.receipt.clone();
    swapped.revocation_inclusion = s.receipt.grant_inclusion.clone();
    assert_eq!(
        verify_decision(&swapped, &p),
        Err(EvidenceError::WrongProof("revocation"))
    );
}

#[test]
fn a_revocation_proof_beside_a_payload_naming_none_is_ignored() {
    // A REVOKED receipt signed before DecisionPayload named the revocation carries the proof but
    // an empty `revocation`: collectors' stored evidence must keep verifying (it failed with
    // WrongProof("revocation") before), yet the unbound proof proves nothing.
    let s = setup();
    let p = policy(&s, 2);
    let node = fixtures::key("node");
    let (_, mut payload) = crate::receipt::verify_decision(&s.receipt).expect("verifies");
    payload.revocation = Bytes::new();
    let mut old = crate::receipt::sign_decision(&node, payload);
    old.checkpoint = s.receipt.checkpoint.clone();
    old.grant_inclusion = s.receipt.grant_inclusion.clone();
    old.revocation_inclusion = s.receipt.revocation_inclusion.clone();
    let v = verify_decision(&old, &p).expect("an older receipt still verifies");
    assert!(v.grant_included && !v.revocation_included);
    assert_eq!(v.payload.reason(), pb::Reason::Revoked);
    // Whatever the proof is about, even a broken one: not checked, not counted.
    for proof in [s.entry.inclusion.clone(), s.receipt.grant_inclusion.clone()] {
        old.revocation_inclusion = proof;
        let v = verify_decision(&old, &p).expect("ignored");
        assert!(!v.revocation_included);
    }
    get(1, &mut old).index += 1;
    assert!(
        !verify_decision(&old, &p)
            .expect("ignored")
            .revocation_included
    );
    old.revocation_inclusion = None;
    let v = verify_decision(&old, &p).expect("verifies without the proof");
    assert!(v.grant_included && !v.revocation_included);
    // The grant proof stays bound: a swapped one is still refused.
    old.grant_inclusion = s.entry.inclusion.clone();
    assert_eq!(
        verify_decision(&old, &p),
        Err(EvidenceError::WrongProof("grant"))
    );
}

fn get(which: usize, r: &mut pb::DecisionReceipt) -> &mut pb::InclusionProof {
    let p = if which == 0 {
        &mut r.grant_inclusion
    } else {
        &mut r.revocation_inclusion
    };
    p.as_mut().expect("proof")
}

#[test]
fn an_entry_receipt_completed_with_its_inclusion_verifies_and_tampering_is_caught() {
    let s = setup();
    let v = verify_entry(&s.entry, &policy(&s, 2)).expect("verifies");
    assert_eq!((v.facts.index, v.checkpoint.size), (5, 23));
    assert_eq!(
        verify_entry(&s.entry, &policy(&s, 3)),
        Err(EvidenceError::TooFewWitnesses { have: 2, need: 3 })
    );
    // The proof of another entry, or another index, does not complete this receipt.
    let mut other = s.entry.clone();
    other.inclusion = s.receipt.grant_inclusion.clone();
    assert_eq!(
        verify_entry(&other, &WitnessPolicy::default()),
        Err(EvidenceError::WrongProof("entry"))
    );
    let mut bare = s.entry.clone();
    bare.checkpoint.clear();
    assert_eq!(
        verify_entry(&bare, &WitnessPolicy::default()),
        Err(EvidenceError::NoCheckpoint)
    );
    let mut bad = s.entry.clone();
    if let Some(p) = bad.inclusion.as_mut() {
        let mut h = p.hashes[0].to_vec();
        h[3] ^= 4;
        p.hashes[0] = h.into();
    }
    assert!(verify_entry(&bad, &WitnessPolicy::default()).is_err());
    let mut forged = s.entry.clone();
    if let Some(r) = forged.receipt.as_mut() {
        let mut p = r.payload.to_vec();
        p[5] ^= 1;
        r.payload = p.into();
    }
    assert!(verify_entry(&forged, &WitnessPolicy::default()).is_err());
}

#[test]
fn a_delegation_proof_must_be_of_the_delegation_the_payload_names() {
    let s = setup();
    let p = policy(&s, 2);
    let node = fixtures::key("node");
    let (_, payload) = crate::receipt::verify_decision(&s.receipt).expect("verifies");
    let proof = s.entry.inclusion.clone().expect("a proof");
    let delegated = |delegation: Bytes| pb::DelegationUsed {
        delegation,
        delegate: Bytes::from_static(&[7; 32]),
        kind: pb::DelegationKind::Assistant as i32,
        endorsement: Bytes::new(),
    };
    let signed = |d: Option<pb::DelegationUsed>, proof: Option<pb::InclusionProof>| {
        let mut r = crate::receipt::sign_decision(
            &node,
            pb::DecisionPayload {
                delegated: d,
                ..payload.clone()
            },
        );
        r.checkpoint = s.receipt.checkpoint.clone();
        r.grant_inclusion = s.receipt.grant_inclusion.clone();
        r.revocation_inclusion = s.receipt.revocation_inclusion.clone();
        r.delegation_inclusion = proof;
        r
    };
    // Named and proven.
    let named = Some(delegated(proof.entry_id.clone()));
    let v = verify_decision(&signed(named.clone(), Some(proof.clone())), &p).expect("verifies");
    assert!(v.delegation_included && v.grant_included && v.revocation_included);
    // Named, without a proof (it arrived after the checkpoint): verifies, not proven.
    let v = verify_decision(&signed(named.clone(), None), &p).expect("verifies");
    assert!(!v.delegation_included);
    // A proof of another entry than the one named: the receipt is invalid.
    let other = Some(delegated(payload.grant.clone()));
    assert_eq!(
        verify_decision(&signed(other, Some(proof.clone())), &p),
        Err(EvidenceError::WrongProof("delegation"))
    );
    // A proof beside a payload naming none (an own grant): ignored.
    let v = verify_decision(&signed(None, Some(proof.clone())), &p).expect("verifies");
    assert!(!v.delegation_included);
    // A proof that does not prove: refused.
    let mut broken = proof.clone();
    let mut first = broken.hashes[0].to_vec();
    first[0] ^= 1;
    broken.hashes[0] = first.into();
    assert!(matches!(
        verify_decision(&signed(named, Some(broken)), &p),
        Err(EvidenceError::Inclusion {
            what: "delegation",
            ..
        })
    ));
}
