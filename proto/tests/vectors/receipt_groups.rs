//! Receipt groups: receipts of both kinds signed together, one signature over a Merkle root
//! (`receipt_groups`); receipts in either form with whether a verifier accepts each
//! (`receipt_group_cases`); and their verification.

use super::*;
use consent_proto::receipt::group::{self, Kind};

/// The salt of receipt `i` of the vectors' groups (a node draws each at random).
fn salt(i: usize) -> [u8; 32] {
    *blake3::hash(format!("vectors/receipt-salt/{i}").as_bytes()).as_bytes()
}

/// One group signed over `items` (kind, payload), salted with `salt(first_salt + i)`: its
/// signature, root, leaf hashes and places (salts set).
fn signed_group(
    items: &[(Kind, Bytes)],
    first_salt: usize,
) -> (
    Bytes,
    merkle::Hash,
    Vec<merkle::Hash>,
    Vec<pb::ReceiptGroup>,
) {
    let leaves: Vec<merkle::Hash> = items
        .iter()
        .enumerate()
        .map(|(i, (kind, payload))| group::leaf(*kind, &salt(first_salt + i), payload))
        .collect();
    let signed = group::sign(&key(NODE), &leaves).expect("a group");
    let mut tree = Tree::new();
    leaves.iter().for_each(|h| tree.push_hash(*h));
    let root = tree.root_at(leaves.len() as u64).expect("the group's root");
    let places = signed
        .places
        .into_iter()
        .enumerate()
        .map(|(i, mut place)| {
            place.salt = Bytes::copy_from_slice(&salt(first_salt + i));
            place
        })
        .collect();
    (signed.signature, root, leaves, places)
}

fn place_json(place: &pb::ReceiptGroup) -> Value {
    json!({
        "size": place.size,
        "index": place.index,
        "path": place.path.iter().map(hx).collect::<Vec<_>>(),
        "salt": hx(&place.salt),
    })
}

fn place_of(v: &Value) -> pb::ReceiptGroup {
    let list_or_empty = |v: &Value| v.as_array().cloned().unwrap_or_default();
    pb::ReceiptGroup {
        size: v["size"].as_u64().unwrap_or_default(),
        index: v["index"].as_u64().unwrap_or_default(),
        path: list_or_empty(&v["path"])
            .iter()
            .map(|h| bytes(h).into())
            .collect(),
        salt: v["salt"]
            .as_str()
            .map(|_| bytes(&v["salt"]))
            .unwrap_or_default()
            .into(),
    }
}

/// The entry receipt payloads of `names` (their `time_ms` one ms after the entry's).
fn entry_payloads(s: &Scenario, names: &[&str]) -> Vec<(Kind, Bytes)> {
    names
        .iter()
        .map(|name| {
            let e = s.entry(name);
            let payload = receipt::payload(&key(NODE).public(), e.id, s.index(name), e.time_ms + 1);
            (Kind::Entry, payload)
        })
        .collect()
}

/// `receipt_groups`: one group of three receipts: the entry receipts of `grant` and
/// `revoke-erase` and the `allow` decision's receipt; each with its leaf hash, place, path and
/// salt, the group's root and the bytes its signature covers.
pub(super) fn receipt_groups(s: &Scenario) -> Value {
    let mut items = entry_payloads(s, &["grant", "revoke-erase"]);
    let allow = decisions(s)
        .into_iter()
        .find(|d| d.name == "allow")
        .expect("the allow decision");
    items.push((Kind::Decision, decision_receipt(s, &allow).0.payload));
    let (signature, root, leaves, places) = signed_group(&items, 0);
    let size = leaves.len() as u64;
    let names = ["grant", "revoke-erase", "allow"];
    json!({
        "domain": String::from_utf8_lossy(domain::RECEIPT_GROUP_SIGNATURE),
        "node_key": hx(key(NODE).public().to_bytes()),
        "size": size,
        "root": hx(root),
        "signed": hx([domain::RECEIPT_GROUP_SIGNATURE, &group::signed_message(&root, size)[..]].concat()),
        "signature": hx(&signature),
        "receipts": items
            .iter()
            .zip(names)
            .zip(&leaves)
            .zip(&places)
            .map(|((((kind, payload), name), leaf), place)| json!({
                "kind": if *kind == Kind::Entry { "entry" } else { "decision" },
                "of": name,
                "payload": hx(payload),
                "leaf": hx(leaf),
                "group": place_json(place),
            }))
            .collect::<Vec<_>>(),
    })
}

/// `receipt_group_cases`: receipts in either form (`group` null: absent), each with whether a
/// verifier accepts it: a group of one, the right edge of a group of seven, and each refusal.
pub(super) fn receipt_group_cases(s: &Scenario) -> Value {
    let names = [
        "registrar-inception",
        "collector-inception",
        "policy",
        "accreditation",
        "citizen-inception",
        "grant",
        "request-access",
    ];
    let seven = entry_payloads(s, &names);
    let (sig7, _, _, places7) = signed_group(&seven, 10);
    let (sig1, _, _, places1) = signed_group(&seven[..1], 20);
    let single = receipt::seal(&key(NODE), seven[0].1.clone());
    let mut cases = Vec::new();
    let mut case = |about: &str,
                    kind: &str,
                    payload: &Bytes,
                    signature: &Bytes,
                    place: Option<Value>,
                    valid: bool| {
        cases.push(json!({
            "about": about,
            "kind": kind,
            "payload": hx(payload),
            "signature": hx(signature),
            "group": place.unwrap_or(Value::Null),
            "valid": valid,
        }));
    };
    let edge = &places7[6];
    let p6 = &seven[6].1;
    let changed = |change: &dyn Fn(&mut Value)| {
        let mut v = place_json(edge);
        change(&mut v);
        Some(v)
    };
    case(
        "a group of one: size 1, index 0, no path; its root is its leaf hash",
        "entry",
        &seven[0].1,
        &sig1,
        Some(place_json(&places1[0])),
        true,
    );
    case(
        "the right edge of a group of seven (index 6: two hashes, the subtree over leaves 4 and 5, then over 0 to 3)",
        "entry",
        p6,
        &sig7,
        Some(place_json(edge)),
        true,
    );
    case(
        "the same receipt read as a decision receipt's",
        "decision",
        p6,
        &sig7,
        Some(place_json(edge)),
        false,
    );
    case(
        "the group's signature without the group",
        "entry",
        p6,
        &sig7,
        None,
        false,
    );
    case(
        "a receipt signed alone",
        "entry",
        &single.payload,
        &single.signature,
        None,
        true,
    );
    case(
        "a receipt signed alone, given a group of one",
        "entry",
        &single.payload,
        &single.signature,
        Some(place_json(&places1[0])),
        false,
    );
    case(
        "a group present but empty",
        "entry",
        p6,
        &sig7,
        Some(json!({})),
        false,
    );
    case(
        "size 0",
        "entry",
        p6,
        &sig7,
        changed(&|v| v["size"] = json!(0)),
        false,
    );
    case(
        "size 65,537",
        "entry",
        p6,
        &sig7,
        changed(&|v| v["size"] = json!(65_537)),
        false,
    );
    case(
        "index equal to size",
        "entry",
        p6,
        &sig7,
        changed(&|v| v["index"] = json!(7)),
        false,
    );
    case(
        "another index",
        "entry",
        p6,
        &sig7,
        changed(&|v| v["index"] = json!(5)),
        false,
    );
    let mut swapped = place_json(&places7[0]);
    swapped["index"] = json!(1);
    case(
        "another place whose path has the length the receipt's own has (receipt 0 at place 1): \
         the walk leads to another root",
        "entry",
        &seven[0].1,
        &sig7,
        Some(swapped),
        false,
    );
    case(
        "a path hash of 31 bytes",
        "entry",
        p6,
        &sig7,
        changed(&|v| v["path"][0] = json!(hx([7u8; 31]))),
        false,
    );
    case(
        "a path one hash longer",
        "entry",
        p6,
        &sig7,
        changed(&|v| {
            if let Some(p) = v["path"].as_array_mut() {
                p.push(json!(hx([7u8; 32])))
            }
        }),
        false,
    );
    case(
        "a path one hash shorter",
        "entry",
        p6,
        &sig7,
        changed(&|v| {
            if let Some(p) = v["path"].as_array_mut() {
                p.pop();
            }
        }),
        false,
    );
    case(
        "a salt of 31 bytes",
        "entry",
        p6,
        &sig7,
        changed(&|v| v["salt"] = json!(hx([7u8; 31]))),
        false,
    );
    case(
        "no salt",
        "entry",
        p6,
        &sig7,
        changed(&|v| v["salt"] = json!("")),
        false,
    );
    case(
        "another receipt's salt",
        "entry",
        p6,
        &sig7,
        changed(&|v| v["salt"] = json!(hx(salt(15)))),
        false,
    );
    json!(cases)
}

/// Every receipt of the file's group verifies with its kind's verifier, its leaf and root as
/// stated; as the other kind, at another place, or with the group's signature over its payload
/// alone, it does not. Every case of `receipt_group_cases` is judged as stated.
pub(super) fn verify_receipt_groups(file: &Value) {
    let g = &file["receipt_groups"];
    let node = PublicKey::from_slice(&bytes(&g["node_key"])).expect("a node key");
    let signature = Bytes::from(bytes(&g["signature"]));
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
        let place = place_of(&v["group"]);
        let kind = if text(&v["kind"]) == "entry" {
            Kind::Entry
        } else {
            Kind::Decision
        };
        let salt: [u8; 32] = place.salt.as_ref().try_into().expect("a 32-byte salt");
        let leaf = group::leaf(kind, &salt, &payload);
        assert_eq!(hx(leaf), text(&v["leaf"]));
        let path = merkle::hashes_from(&place.path).expect("hashes");
        merkle::verify_inclusion(&leaf, place.index, place.size, &path, &root)
            .expect("the path leads to the stated root");
        assert_eq!(
            judge(kind, &payload, &signature, Some(place.clone())),
            Ok(node)
        );
        let other = if kind == Kind::Entry {
            Kind::Decision
        } else {
            Kind::Entry
        };
        assert!(judge(other, &payload, &signature, Some(place.clone())).is_err());
        assert!(judge(kind, &payload, &signature, None).is_err());
    }
    for c in list(&file["receipt_group_cases"]) {
        let kind = if text(&c["kind"]) == "entry" {
            Kind::Entry
        } else {
            Kind::Decision
        };
        let place = (!c["group"].is_null()).then(|| place_of(&c["group"]));
        let verdict = judge(
            kind,
            &bytes(&c["payload"]).into(),
            &bytes(&c["signature"]).into(),
            place,
        );
        assert_eq!(
            verdict.is_ok(),
            c["valid"] == json!(true),
            "{}: {verdict:?}",
            text(&c["about"])
        );
    }
}

/// A receipt of `kind` in either form, through the crate's verifier: the signer's key.
fn judge(
    kind: Kind,
    payload: &Bytes,
    signature: &Bytes,
    group: Option<pb::ReceiptGroup>,
) -> Result<PublicKey, receipt::ReceiptError> {
    match kind {
        Kind::Entry => receipt::verify(&pb::Receipt {
            payload: payload.clone(),
            signature: signature.clone(),
            group,
        })
        .map(|facts| facts.node),
        Kind::Decision => receipt::verify_decision(&pb::DecisionReceipt {
            payload: payload.clone(),
            signature: signature.clone(),
            group,
            ..Default::default()
        })
        .map(|(node, _)| node),
    }
}
