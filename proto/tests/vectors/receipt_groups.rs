//! Receipt groups: receipts of both kinds signed together, one signature over a Merkle root
//! (`receipt_groups`), and their verification.

use super::*;
use consent_proto::receipt::group::{self, Kind};

/// `receipt_groups`: one group of three receipts as a node signs what concurrent calls asked
/// for: the entry receipts of `grant` and `revoke-erase` and the `allow` decision's receipt;
/// each with its leaf, place and path, the group's root and the bytes its signature covers.
pub(super) fn receipt_groups(s: &Scenario) -> Value {
    let node = key(NODE);
    let mut items: Vec<(&str, &str, Kind, Bytes)> = ["grant", "revoke-erase"]
        .into_iter()
        .map(|name| {
            let e = s.entry(name);
            let payload = receipt::payload(&node.public(), e.id, s.index(name), e.time_ms + 1);
            ("entry", name, Kind::Entry, payload)
        })
        .collect();
    let allow = decisions(s)
        .into_iter()
        .find(|d| d.name == "allow")
        .expect("the allow decision");
    let (decided, _) = decision_receipt(s, &allow);
    items.push(("decision", "allow", Kind::Decision, decided.payload));
    let leaves: Vec<merkle::Hash> = items
        .iter()
        .map(|(_, _, kind, payload)| group::leaf(*kind, payload))
        .collect();
    let signed = group::sign(&node, &leaves).expect("a group of three");
    let size = leaves.len() as u64;
    let mut tree = Tree::new();
    leaves.iter().for_each(|h| tree.push_hash(*h));
    let root = tree.root_at(size).expect("the group's root");
    json!({
        "domain": String::from_utf8_lossy(domain::RECEIPT_GROUP_SIGNATURE),
        "node_key": hx(node.public().to_bytes()),
        "size": size,
        "root": hx(root),
        "signed": hx([domain::RECEIPT_GROUP_SIGNATURE, &group::signed_message(&root, size)[..]].concat()),
        "signature": hx(&signed.signature),
        "receipts": items
            .iter()
            .zip(&leaves)
            .zip(&signed.places)
            .map(|(((kind, name, _, payload), leaf), place)| json!({
                "kind": kind,
                "of": name,
                "payload": hx(payload),
                "leaf": hx(leaf),
                "group": {
                    "size": place.size,
                    "index": place.index,
                    "path": place.path.iter().map(hx).collect::<Vec<_>>(),
                },
            }))
            .collect::<Vec<_>>(),
    })
}

/// Every receipt of the file's group verifies with its kind's verifier, its leaf and root as
/// stated; as the other kind, at another place, or with the group's signature over its payload
/// alone, it does not.
pub(super) fn verify_receipt_groups(file: &Value) {
    let g = &file["receipt_groups"];
    let node = PublicKey::from_slice(&bytes(&g["node_key"])).expect("a node key");
    let signature: [u8; 64] = bytes(&g["signature"]).try_into().expect("64 bytes");
    let root: [u8; 32] = bytes(&g["root"]).try_into().expect("32 bytes");
    assert_eq!(
        bytes(&g["signed"]),
        [
            domain::RECEIPT_GROUP_SIGNATURE,
            &group::signed_message(&root, num(&g["size"]))[..]
        ]
        .concat()
    );
    for v in list(&g["receipts"]) {
        let payload = Bytes::from(bytes(&v["payload"]));
        let place = pb::ReceiptGroup {
            size: num(&v["group"]["size"]),
            index: num(&v["group"]["index"]),
            path: list(&v["group"]["path"])
                .iter()
                .map(|h| bytes(h).into())
                .collect(),
        };
        let kind = match text(&v["kind"]) {
            "entry" => Kind::Entry,
            _ => Kind::Decision,
        };
        assert_eq!(hx(group::leaf(kind, &payload)), text(&v["leaf"]));
        let path = merkle::hashes_from(&place.path).expect("hashes");
        merkle::verify_inclusion(
            &group::leaf(kind, &payload),
            place.index,
            place.size,
            &path,
            &root,
        )
        .expect("the path leads to the stated root");
        let entry = pb::Receipt {
            payload: payload.clone(),
            signature: Bytes::copy_from_slice(&signature),
            group: Some(place.clone()),
        };
        let decision = pb::DecisionReceipt {
            payload: payload.clone(),
            signature: Bytes::copy_from_slice(&signature),
            group: Some(place.clone()),
            ..Default::default()
        };
        match kind {
            Kind::Entry => {
                let facts = receipt::verify(&entry).expect("an entry receipt of the group");
                assert_eq!(facts.node, node);
                assert!(receipt::verify_decision(&decision).is_err());
            }
            Kind::Decision => {
                let (signer, _) =
                    receipt::verify_decision(&decision).expect("a decision of the group");
                assert_eq!(signer, node);
                assert!(receipt::verify(&entry).is_err());
            }
        }
        // Without its place the group's signature is no single receipt's.
        let alone = pb::Receipt {
            group: None,
            ..entry
        };
        assert!(receipt::verify(&alone).is_err());
        let mut moved = place;
        moved.index = (moved.index + 1) % moved.size;
        let moved = pb::Receipt {
            payload,
            signature: Bytes::copy_from_slice(&signature),
            group: Some(moved),
        };
        assert!(receipt::verify(&moved).is_err());
    }
}
