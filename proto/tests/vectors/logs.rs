//! Logs, notes, receipts: Merkle proofs, checkpoint notes, decision receipts, text forms, pairwise feeds, equivocation.

use super::*;

// ---- Logs, notes, receipts ----

pub(super) fn hashes_json(hashes: &[merkle::Hash]) -> Vec<String> {
    hashes.iter().map(hx).collect()
}

pub(super) fn inclusion(tree: &Tree, index: u64, size: u64) -> Vec<merkle::Hash> {
    match merkle::inclusion_proof(tree, index, size) {
        Ok(Some(proof)) => proof,
        Ok(None) => panic!("{index} is not below {size}"),
        Err(never) => match never {},
    }
}

pub(super) fn consistency(tree: &Tree, old: u64, new: u64) -> Vec<merkle::Hash> {
    match merkle::consistency_proof(tree, old, new) {
        Ok(Some(proof)) => proof,
        Ok(None) => panic!("{old} is above {new}"),
        Err(never) => match never {},
    }
}

pub(super) fn root(tree: &Tree, size: u64) -> merkle::Hash {
    match tree.root_at(size) {
        Some(root) => root,
        None => panic!("{size} is beyond the tree"),
    }
}

pub(super) const INCLUSIONS: &[(u64, u64)] = &[
    (0, 1),
    (2, 3),
    (4, 7),
    (5, 6),
    (5, 8),
    (6, 8),
    (5, 12),
    (8, 12),
];
pub(super) const CONSISTENCIES: &[(u64, u64)] = &[
    (0, 13),
    (1, 2),
    (3, 7),
    (4, 8),
    (6, 8),
    (6, 12),
    (1, 13),
    (2, 13),
    (3, 13),
    (4, 13),
    (5, 13),
    (6, 13),
    (7, 13),
    (8, 13),
    (12, 13),
    (13, 13),
];

pub(super) fn merkle_json(s: &Scenario) -> Value {
    let n = s.entries.len() as u64;
    let tree = s.tree(s.entries.len());
    let mut inclusions: Vec<(u64, u64)> = (0..n).map(|i| (i, n)).collect();
    inclusions.extend_from_slice(INCLUSIONS);
    json!({
        "leaves": s.entries.iter().map(|e| hx(e.entry.id.0)).collect::<Vec<_>>(),
        "leaf_hashes": s.entries.iter().map(|e| hx(merkle::leaf_hash(&e.entry.id.0))).collect::<Vec<_>>(),
        "roots": (0..=n).map(|size| hx(root(&tree, size))).collect::<Vec<_>>(),
        "inclusion": inclusions.iter().map(|(index, size)| json!({
            "index": index,
            "size": size,
            "hashes": hashes_json(&inclusion(&tree, *index, *size)),
        })).collect::<Vec<_>>(),
        "consistency": CONSISTENCIES.iter().map(|(old, new)| json!({
            "old": old,
            "new": new,
            "hashes": hashes_json(&consistency(&tree, *old, *new)),
        })).collect::<Vec<_>>(),
    })
}

/// The node's checkpoint of the first `size` entries at `time_ms`, cosigned by the witness 5 s
/// later.
pub(super) fn note(s: &Scenario, size: usize, time_ms: u64) -> SignedNote {
    let node = key(NODE);
    let witness = key(WITNESS);
    let checkpoint = Checkpoint {
        origin: node.public().to_text("node"),
        size: size as u64,
        root: root(&s.tree(size), size as u64),
        time_ms,
    };
    let mut note = SignedNote::sign(checkpoint, &node);
    let name = witness.public().to_text("node");
    let cosignature = note.cosignature(&name, &witness, time_ms / 1000 + 5);
    assert!(note.add_cosignature(cosignature, &witness.public()));
    note
}

pub(super) fn note_json(note: &SignedNote) -> Value {
    let body = note.checkpoint.body();
    let signatures: Vec<Value> = note
        .signatures
        .iter()
        .map(|sig| {
            let key = match PublicKey::from_text(&sig.name, "node") {
                Ok(key) => key,
                Err(e) => panic!("signers are node ids: {e}"),
            };
            match sig.cosigned_at {
                None => json!({
                    "kind": "signature",
                    "name": sig.name,
                    "key": hx(key.to_bytes()),
                    "key_id": hx(sig.key_id),
                    "signed": body,
                    "signature": hx(sig.signature),
                }),
                Some(time_s) => json!({
                    "kind": "cosignature",
                    "name": sig.name,
                    "key": hx(key.to_bytes()),
                    "key_id": hx(sig.key_id),
                    "time_s": time_s,
                    "signed": format!("cosignature/v1\ntime {time_s}\n{body}"),
                    "signature": hx(sig.signature),
                }),
            }
        })
        .collect();
    json!({
        "origin": note.checkpoint.origin,
        "size": note.checkpoint.size,
        "root": hx(note.checkpoint.root),
        "root_base64": base64::engine::general_purpose::STANDARD.encode(note.checkpoint.root),
        "time_ms": note.checkpoint.time_ms,
        "body": body,
        "signatures": signatures,
        "text": note.to_text(),
    })
}

pub(super) fn inclusion_pb(s: &Scenario, name: &str, size: usize) -> pb::InclusionProof {
    let index = s.index(name);
    pb::InclusionProof {
        index,
        tree_size: size as u64,
        entry_id: Bytes::copy_from_slice(&s.entry(name).id.0),
        hashes: inclusion(&s.tree(size), index, size as u64)
            .iter()
            .map(|h| Bytes::copy_from_slice(h))
            .collect(),
    }
}

pub(super) fn inclusion_json(proof: &pb::InclusionProof) -> Value {
    json!({
        "index": proof.index,
        "tree_size": proof.tree_size,
        "entry_id": hx(&proof.entry_id),
        "hashes": proof.hashes.iter().map(hx).collect::<Vec<_>>(),
    })
}

/// A decision receipt as a node holding the first `size` entries signs it at `time_ms`, with
/// its checkpoint signed 10 minutes before.
pub(super) struct Decided {
    pub(super) name: &'static str,
    pub(super) size: usize,
    pub(super) time_ms: u64,
    pub(super) question: pb::CheckRequest,
    pub(super) revocation: Option<&'static str>,
}

pub(super) fn decisions(s: &Scenario) -> Vec<Decided> {
    let question = |at_ms| pb::CheckRequest {
        subject: Bytes::copy_from_slice(&s.citizen.0),
        collector: Bytes::copy_from_slice(&s.collector.0),
        purpose: Purpose::Research as i32,
        category: DataCategory::Mobility as i32,
        at_ms,
        ..Default::default()
    };
    vec![
        Decided {
            name: "allow",
            size: 6,
            time_ms: T + HOUR + 30 * MINUTE,
            question: question(0),
            revocation: None,
        },
        Decided {
            name: "deny-revoked-past",
            size: 12,
            time_ms: T + 7 * HOUR + 30 * MINUTE,
            question: question(T + 5 * HOUR + 30 * MINUTE),
            revocation: Some("revoke-erase"),
        },
        // A question with the observation's context: the payload carries its digest.
        Decided {
            name: "allow-with-context",
            size: 6,
            time_ms: T + HOUR + 45 * MINUTE,
            question: pb::CheckRequest {
                context: Some(pb::ObservationContext {
                    sensor: 3,
                    sensor_kind: SensorKind::WifiCounter as i32,
                    cell: IN_QUAY,
                    observed_ms: T + HOUR + 40 * MINUTE,
                    form: Form::Pseudonymised as i32,
                }),
                ..question(0)
            },
            revocation: None,
        },
    ]
}

pub(super) fn decision_receipt(s: &Scenario, d: &Decided) -> (pb::DecisionReceipt, SignedNote) {
    let at_ms = consent_proto::decide::asked_at(d.question.at_ms, d.time_ms);
    let outcome = s.ledger(d.size).check(&Query {
        subject: s.citizen,
        collector: s.collector,
        purpose: Purpose::Research,
        category: DataCategory::Mobility,
        at_ms,
        context: match Context::from_wire(d.question.context.as_ref()) {
            Ok(c) => c,
            Err(e) => panic!("{}: {e}", d.name),
        },
    });
    let (head_seq, head) = outcome.subject_head.expect("the subject is known");
    let payload = pb::DecisionPayload {
        // As a node signs it: a question left at 0 states the time decided.
        question: Some(receipt::signed_question(&d.question, d.time_ms)),
        decision: outcome.decision as i32,
        reason: outcome.reason as i32,
        grant: outcome
            .grant
            .map(|g| Bytes::copy_from_slice(&g.0))
            .unwrap_or_default(),
        subject_head: Bytes::copy_from_slice(&head.0),
        subject_head_seq: head_seq,
        log_size: d.size as u64,
        time_ms: d.time_ms,
        at_ms,
        when: consent_proto::decide::question_time(at_ms, d.time_ms) as i32,
        revocation: d
            .revocation
            .map(|r| Bytes::copy_from_slice(&s.entry(r).id.0))
            .unwrap_or_default(),
        context_digest: d
            .question
            .context
            .as_ref()
            .map(|c| Bytes::copy_from_slice(&receipt::context_digest(c)))
            .unwrap_or_default(),
        ..Default::default()
    };
    let note = note(s, d.size, d.time_ms - 10 * MINUTE);
    let mut receipt = receipt::sign_decision(&key(NODE), payload);
    receipt.checkpoint = note.to_text();
    receipt.grant_inclusion = Some(inclusion_pb(s, "grant", d.size));
    receipt.revocation_inclusion = d.revocation.map(|r| inclusion_pb(s, r, d.size));
    (receipt, note)
}

pub(super) fn decision_json(s: &Scenario, d: &Decided) -> Value {
    let (receipt, note) = decision_receipt(s, d);
    let payload = match pb::DecisionPayload::decode(receipt.payload.as_ref()) {
        Ok(p) => p,
        Err(e) => panic!("a signed payload decodes: {e}"),
    };
    let q = &receipt::signed_question(&d.question, d.time_ms);
    let mut v = json!({
        "name": d.name,
        "node_key": hx(&payload.node),
        "witness": key(WITNESS).public().to_text("node"),
        "question": {
            "subject": hx(&q.subject),
            "collector": hx(&q.collector),
            "purpose": purpose_names(&[q.purpose])[0],
            "category": category_names(&[q.category])[0],
            "at_ms": q.at_ms,
        },
        "decision": payload.decision().as_str_name(),
        "reason": payload.reason().as_str_name(),
        "grant": hx(&payload.grant),
        "subject_head": hx(&payload.subject_head),
        "subject_head_seq": payload.subject_head_seq,
        "log_size": payload.log_size,
        "time_ms": payload.time_ms,
        "at_ms": payload.at_ms,
        "when": payload.when().as_str_name(),
        "revocation": hx(&payload.revocation),
        "payload": hx(&receipt.payload),
        "signature": hx(&receipt.signature),
        "checkpoint": note_json(&note),
        "grant_inclusion": receipt.grant_inclusion.as_ref().map_or(Value::Null, inclusion_json),
        "revocation_inclusion": receipt.revocation_inclusion.as_ref().map_or(Value::Null, inclusion_json),
        "receipt": hx(receipt.encode_to_vec()),
    });
    // Only with a context (the items before contexts existed keep their keys).
    if let Some(context) = &q.context {
        v["question"]["context"] = context_json(context);
        v["context_digest"] = json!(hx(&payload.context_digest));
    }
    v
}

pub(super) fn receipts(s: &Scenario) -> Vec<Value> {
    ["grant", "revoke-erase"]
        .into_iter()
        .map(|name| {
            let e = s.entry(name);
            let index = s.index(name);
            let time_ms = e.time_ms + 1;
            let r = receipt::sign(&key(NODE), e.id, index, time_ms);
            json!({
                "entry": name,
                "node_key": hx(key(NODE).public().to_bytes()),
                "entry_id": hx(e.id.0),
                "index": index,
                "time_ms": time_ms,
                "payload": hx(&r.payload),
                "signature": hx(&r.signature),
            })
        })
        .collect()
}

pub(super) fn auth_json(s: &Scenario) -> Value {
    let node = key(NODE).public();
    let time_ms = T + HOUR;
    let signature = auth::sign(&key(COLLECTOR_0), &node, &s.collector, time_ms);
    json!({
        "signer": COLLECTOR_0,
        "collector": hx(s.collector.0),
        "node_key": hx(node.to_bytes()),
        "time_ms": time_ms,
        "domain": String::from_utf8_lossy(domain::AUTH),
        "statement": hx(auth::statement(&node, &s.collector, time_ms)),
        "signature": hx(signature),
    })
}

pub(super) fn text_forms(s: &Scenario) -> Vec<Value> {
    let form = |prefix: &str, bytes: [u8; 32]| json!({"prefix": prefix, "bytes": hx(bytes), "text": encode_text(prefix, &bytes)});
    let policy = match wire(s.entry("policy")).body {
        Some(WireBody::Policy(p)) => p.document_digest,
        _ => panic!("a policy"),
    };
    let mut digest = [0u8; 32];
    digest.copy_from_slice(&policy);
    vec![
        form("cit", s.citizen.0),
        form("col", s.collector.0),
        form("reg", s.entries[0].entry.feed.0),
        form("feed", s.citizen.0),
        form("ent", s.entry("grant").id.0),
        form("dig", digest),
        form("node", key(NODE).public().to_bytes()),
        form("key", key(CITIZEN_0).public().to_bytes()),
    ]
}

pub(super) fn pairwise(s: &Scenario) -> Value {
    let master = *blake3::hash(b"vectors/wallet master").as_bytes();
    let seed = |n: u32| {
        blake3::derive_key(
            PAIRWISE_KEY,
            &[&master[..], &s.collector.0[..], &n.to_le_bytes()[..]].concat(),
        )
    };
    let time = blake3::derive_key(PAIRWISE_TIME, &[&master[..], &s.collector.0[..]].concat());
    let mut eight = [0u8; 8];
    eight.copy_from_slice(&time[..8]);
    let inception_ms = MIN_TIME_MS + u64::from_le_bytes(eight) % (365 * DAY);
    let key0 = SecretKey::from_seed(&seed(0));
    let (_, inception) = signed(
        "the pairwise inception",
        Author::incept(
            Role::Citizen,
            key0.clone(),
            SecretKey::from_seed(&seed(1)),
            inception_ms,
        ),
    );
    json!({
        "master": hx(master),
        "collector": hx(s.collector.0),
        "keys": (0..3u32).map(|n| json!({
            "n": n,
            "seed": hx(seed(n)),
            "public": hx(SecretKey::from_seed(&seed(n)).public().to_bytes()),
        })).collect::<Vec<_>>(),
        "inception_ms": inception_ms,
        "inception": entry_json("pairwise-inception", "pairwise key 0", &key0.public(), Role::Citizen, &inception),
    })
}

pub(super) fn equivocation(s: &Scenario) -> Value {
    let (mut mallory, m0) = signed(
        "mallory's inception",
        Author::incept(Role::Citizen, key(MALLORY_0), key(MALLORY_1), T),
    );
    let request = |kind| {
        Body::Request(Request {
            collector: s.collector,
            kind,
            details_digest: None,
            on_behalf: None,
        })
    };
    let first = signed(
        "the first entry",
        mallory.append(T + HOUR, request(RequestKind::Access)),
    );
    let second = signed(
        "the second entry",
        Entry::sign(
            Some(m0.feed),
            1,
            Some(m0.id),
            T + HOUR,
            &request(RequestKind::Erasure),
            &key(MALLORY_0),
        ),
    );
    let json =
        |name, e: &Entry| entry_json(name, MALLORY_0, &key(MALLORY_0).public(), Role::Citizen, e);
    json!({
        "feed": hx(m0.feed.0),
        "seq": 1,
        "inception": json("mallory-inception", &m0),
        "first": json("mallory-first", &first),
        "second": json("mallory-second", &second),
    })
}
