//! Every vector of the file checked through the crate's public API.

use super::*;

#[test]
pub(super) fn every_vector_in_the_file_verifies() {
    let file = read_file();

    // Keys: seed = BLAKE3(label).
    for k in list(&file["keys"]) {
        let label = text(&k["label"]);
        assert_eq!(
            bytes(&k["seed"]),
            blake3::hash(label.as_bytes()).as_bytes().to_vec(),
            "{label}"
        );
        let public = key(label).public();
        assert_eq!(hx(public.to_bytes()), text(&k["public"]), "{label}");
        assert_eq!(public.to_string(), text(&k["text"]), "{label}");
    }

    // Entries: each decodes to what it states, and a node accepts them in order.
    let entries: Vec<Entry> = list(&file["entries"]).iter().map(check_entry).collect();
    let kinds: std::collections::HashSet<&str> =
        entries.iter().map(|e| e.body.kind().name()).collect();
    assert_eq!(kinds.len(), 9, "every body kind: {kinds:?}");
    let mut ledger = MemoryLedger::new([entries[0].feed]);
    for (e, v) in entries.iter().zip(list(&file["entries"])) {
        let verdict = ledger.submit(e, num(&file["validation_clock_ms"]));
        assert!(
            matches!(verdict, Verdict::Accept { .. }),
            "{}: {verdict:?}",
            text(&v["name"])
        );
    }

    // The dev registrar is the first entry, and what consent_proto::dev derives.
    let (registrar, inception) = signed("the dev registrar", dev::registrar());
    let d = &file["dev_registrar"];
    assert_eq!(text(&d["network_id"]), dev::NETWORK_ID);
    assert_eq!(num(&d["inception_ms"]), dev::REGISTRAR_INCEPTION_MS);
    assert_eq!(entries[0], inception);
    assert_eq!(hx(registrar.feed().0), text(&d["feed"]));
    assert_eq!(
        registrar.feed().typed(Role::Registrar).to_string(),
        text(&d["feed_text"])
    );
    for (n, label) in list(&d["key_labels"]).iter().enumerate() {
        let derived = dev::registrar_key(n as u32).map(|k| k.public());
        assert_eq!(derived, Some(key(text(label)).public()));
    }

    // Encodings: canonical ones decode, refused ones are refused with the stated reason.
    for v in list(&file["encodings"]) {
        let name = text(&v["name"]);
        let signed = bytes(&v["signed_entry"]);
        let envelope = match pb::SignedEntry::decode(signed.as_slice()) {
            Ok(e) => e,
            Err(e) => panic!("{name}: the envelope decodes: {e}"),
        };
        assert_eq!(envelope.payload.to_vec(), bytes(&v["payload"]), "{name}");
        let signature: [u8; 64] = match envelope.signature.as_ref().try_into() {
            Ok(s) => s,
            Err(_) => panic!("{name}: a 64-byte signature"),
        };
        assert!(
            key(text(&v["signer"])).public().verify(
                domain::ENTRY_SIGNATURE,
                &envelope.payload,
                &signature
            ),
            "{name}: only the encoding is wrong"
        );
        match (Entry::decode(&signed), v["reason"].as_str()) {
            (Ok(e), None) => assert_eq!(e.payload.to_vec(), bytes(&v["payload"]), "{name}"),
            (Err(r), Some(reason)) => assert_eq!(r.code(), reason, "{name}: {r}"),
            (got, want) => panic!("{name}: expected {want:?}, got {got:?}"),
        }
    }

    // The signature rule, and where the cofactorless equation disagrees.
    let sigs = list(&file["signatures"]);
    for v in sigs {
        let name = text(&v["name"]);
        assert_eq!(
            text(&v["domain"]).as_bytes(),
            domain::ENTRY_SIGNATURE,
            "{name}"
        );
        let (k, m, s) = (b32(&v["key"]), bytes(&v["message"]), b64(&v["signature"]));
        assert_eq!(
            Some(protocol_rule(&k, &m, &s)),
            v["valid"].as_bool(),
            "{name}"
        );
        assert_eq!(
            Some(cofactorless(&k, &m, &s)),
            v["cofactorless"].as_bool(),
            "{name}"
        );
        // A single check and a batch agree.
        if let Ok(pk) = PublicKey::from_bytes(&k) {
            let item = consent_proto::sig::Item {
                key: &pk,
                domain: domain::ENTRY_SIGNATURE,
                message: &m,
                signature: &s,
            };
            let honest = key(SIGNER).sign(domain::ENTRY_SIGNATURE, b"another");
            let signer = key(SIGNER).public();
            let other = consent_proto::sig::Item {
                key: &signer,
                domain: domain::ENTRY_SIGNATURE,
                message: b"another",
                signature: &honest,
            };
            assert_eq!(
                consent_proto::sig::verify_all(&[other, item]),
                vec![true, consent_proto::sig::verify(&item)],
                "{name}"
            );
        }
    }
    assert!(
        sigs.iter()
            .any(|v| v["valid"] == true && v["cofactorless"] == false)
            && sigs
                .iter()
                .any(|v| v["valid"] == false && v["cofactorless"] == true),
        "the vectors show where the rules differ, both ways"
    );

    // Text forms round-trip.
    for v in list(&file["text_forms"]) {
        let (prefix, raw, shown) = (text(&v["prefix"]), b32(&v["bytes"]), text(&v["text"]));
        assert_eq!(encode_text(prefix, &raw), shown);
        let parsed = match prefix {
            "cit" | "col" | "reg" => shown.parse::<TypedFeedId>().map(|t| t.id.0),
            "ent" => shown.parse::<EntryId>().map(|e| e.0),
            "dig" => shown.parse::<consent_proto::ids::Digest>().map(|d| d.0),
            "node" => PublicKey::from_text(shown, "node").map(|k| k.to_bytes()),
            "key" => PublicKey::from_text(shown, "key").map(|k| k.to_bytes()),
            "feed" => decode_text(shown, "feed"),
            other => panic!("unexpected prefix {other}"),
        };
        assert_eq!(parsed, Ok(raw), "{shown}");
    }

    // The pairwise feed: its inception is key 0's, commits to key 1, at the stated time.
    let p = &file["pairwise"];
    let inception = check_entry(&p["inception"]);
    let keys = list(&p["keys"]);
    let public = |n: usize| match PublicKey::from_bytes(&b32(&keys[n]["public"])) {
        Ok(k) => k,
        Err(e) => panic!("pairwise key {n}: {e}"),
    };
    for k in keys {
        let seed = b32(&k["seed"]);
        assert_eq!(
            hx(SecretKey::from_seed(&seed).public().to_bytes()),
            text(&k["public"])
        );
    }
    let Body::Inception(i) = &inception.body else {
        panic!("an inception")
    };
    assert_eq!(i.role, Role::Citizen);
    assert_eq!(i.signing_key, public(0));
    assert_eq!(i.next_key_digest, public(1).next_key_digest());
    assert_eq!(inception.time_ms, num(&p["inception_ms"]));
    assert!((MIN_TIME_MS..MIN_TIME_MS + 365 * DAY).contains(&inception.time_ms));

    // The collector's authentication statement.
    let a = &file["auth"];
    let node = PublicKey::from_bytes(&b32(&a["node_key"])).expect("a node key");
    let collector = FeedId(b32(&a["collector"]));
    let time_ms = num(&a["time_ms"]);
    assert_eq!(
        hx(auth::statement(&node, &collector, time_ms)),
        text(&a["statement"])
    );
    assert_eq!(text(&a["domain"]).as_bytes(), domain::AUTH);
    assert_eq!(
        auth::verify(
            &key(text(&a["signer"])).public(),
            &node,
            &collector,
            time_ms,
            &b64(&a["signature"]),
            time_ms
        ),
        Ok(())
    );

    // Receipts, alone and signed as a group.
    verify_receipt_groups(&file);
    for v in list(&file["receipts"]) {
        let r = pb::Receipt {
            payload: bytes(&v["payload"]).into(),
            signature: bytes(&v["signature"]).into(),
            group: None,
        };
        let facts = match receipt::verify(&r) {
            Ok(f) => f,
            Err(e) => panic!("{}: {e}", text(&v["entry"])),
        };
        assert_eq!(hx(facts.node.to_bytes()), text(&v["node_key"]));
        assert_eq!(hx(facts.entry_id.0), text(&v["entry_id"]));
        assert_eq!(facts.index, num(&v["index"]));
        assert_eq!(facts.time_ms, num(&v["time_ms"]));
        assert_eq!(entries[facts.index as usize].id, facts.entry_id);
    }

    // The Merkle tree over the entries in arrival order, and its proofs.
    let m = &file["merkle"];
    let leaves: Vec<[u8; 32]> = list(&m["leaves"]).iter().map(b32).collect();
    assert_eq!(
        leaves,
        entries.iter().map(|e| e.id.0).collect::<Vec<_>>(),
        "leaf i is the id of the entry at arrival index i"
    );
    let mut tree = Tree::new();
    for leaf in &leaves {
        tree.push(leaf);
    }
    let roots: Vec<[u8; 32]> = list(&m["roots"]).iter().map(b32).collect();
    assert_eq!(roots.len(), leaves.len() + 1);
    assert_eq!(roots[0], merkle::empty_root());
    for (size, r) in roots.iter().enumerate() {
        assert_eq!(tree.root_at(size as u64), Some(*r), "root of {size}");
    }
    for (leaf, h) in leaves.iter().zip(list(&m["leaf_hashes"])) {
        assert_eq!(merkle::leaf_hash(leaf), b32(h));
    }
    for v in list(&m["inclusion"]) {
        let (index, size) = (num(&v["index"]), num(&v["size"]));
        let proof: Vec<[u8; 32]> = list(&v["hashes"]).iter().map(b32).collect();
        assert_eq!(
            merkle::verify_inclusion(
                &merkle::leaf_hash(&leaves[index as usize]),
                index,
                size,
                &proof,
                &roots[size as usize]
            ),
            Ok(()),
            "inclusion of {index} in {size}"
        );
    }
    for v in list(&m["consistency"]) {
        let (old, new) = (num(&v["old"]), num(&v["new"]));
        let proof: Vec<[u8; 32]> = list(&v["hashes"]).iter().map(b32).collect();
        assert_eq!(
            merkle::verify_consistency(
                old,
                new,
                &roots[old as usize],
                &roots[new as usize],
                &proof
            ),
            Ok(()),
            "{old} to {new}"
        );
    }

    // Decision receipts, with their checkpoint, cosignature and inclusion proofs; the decision
    // is the rule's for a ledger holding the first log_size entries.
    for v in list(&file["decision_receipts"]) {
        let name = text(&v["name"]);
        let r = match pb::DecisionReceipt::decode(bytes(&v["receipt"]).as_slice()) {
            Ok(r) => r,
            Err(e) => panic!("{name}: {e}"),
        };
        assert_eq!(hx(&r.payload), text(&v["payload"]), "{name}");
        assert_eq!(hx(&r.signature), text(&v["signature"]), "{name}");
        let witness = text(&v["witness"]).to_string();
        let policy = match evidence::WitnessPolicy::new(&[witness], 1) {
            Ok(p) => p,
            Err(e) => panic!("{name}: {e}"),
        };
        let verified = match evidence::verify_decision(&r, &policy) {
            Ok(d) => d,
            Err(e) => panic!("{name}: {e}"),
        };
        let p = &verified.payload;
        assert_eq!(hx(verified.node.to_bytes()), text(&v["node_key"]), "{name}");
        assert_eq!(p.decision().as_str_name(), text(&v["decision"]), "{name}");
        assert_eq!(p.reason().as_str_name(), text(&v["reason"]), "{name}");
        assert_eq!(verified.when.as_str_name(), text(&v["when"]), "{name}");
        assert_eq!(verified.at_ms, num(&v["at_ms"]), "{name}");
        assert!(verified.grant_included, "{name}");
        assert_eq!(
            verified.revocation_included,
            !v["revocation_inclusion"].is_null(),
            "{name}"
        );
        assert_eq!(hx(&p.revocation), text(&v["revocation"]), "{name}");
        let checkpoint = verified.checkpoint.as_ref().expect("a checkpoint");
        assert_eq!(checkpoint.size, p.log_size, "{name}");
        let question = p.question.as_ref().expect("a question");
        let size = p.log_size as usize;
        let mut replay = MemoryLedger::new([entries[0].feed]);
        for e in &entries[..size] {
            replay.submit(e, num(&file["validation_clock_ms"]));
        }
        let outcome = replay.check(&Query {
            subject: FeedId::from_slice(&question.subject).expect("a subject"),
            collector: FeedId::from_slice(&question.collector).expect("a collector"),
            purpose: question.purpose(),
            category: question.category(),
            at_ms: verified.at_ms,
            context: Context::from_wire(question.context.as_ref()).expect("a valid context"),
        });
        assert_eq!(outcome.decision, p.decision(), "{name}");
        assert_eq!(outcome.reason, p.reason(), "{name}");
        assert_eq!(
            outcome.grant.map(|g| hx(g.0)).unwrap_or_default(),
            hx(&p.grant),
            "{name}"
        );
        assert_eq!(
            outcome.subject_head.map(|(seq, id)| (seq, hx(id.0))),
            Some((p.subject_head_seq, hx(&p.subject_head))),
            "{name}"
        );
        // The note, line by line.
        let n = &v["checkpoint"];
        let note = match SignedNote::parse(text(&n["text"])) {
            Ok(note) => note,
            Err(e) => panic!("{name}: {e}"),
        };
        assert_eq!(note.to_text(), text(&n["text"]), "{name}");
        assert_eq!(note.checkpoint.body(), text(&n["body"]), "{name}");
        assert_eq!(&note.checkpoint, checkpoint, "{name}");
        let origin = match note.verify_by_origin() {
            Ok(k) => k,
            Err(e) => panic!("{name}: {e}"),
        };
        assert_eq!(origin, verified.node, "{name}");
        for (line, sig) in list(&n["signatures"]).iter().zip(&note.signatures) {
            let key = match PublicKey::from_bytes(&b32(&line["key"])) {
                Ok(k) => k,
                Err(e) => panic!("{name}: {e}"),
            };
            let alg = if sig.cosigned_at.is_some() {
                0x04
            } else {
                0x01
            };
            assert_eq!(
                key_id(&sig.name, alg, &key).to_vec(),
                bytes(&line["key_id"])
            );
            assert_eq!(sig.key_id.to_vec(), bytes(&line["key_id"]));
            assert_eq!(sig.cosigned_at, line["time_s"].as_u64(), "{name}");
            assert!(
                key.verify(b"", text(&line["signed"]).as_bytes(), &sig.signature),
                "{name}: {}",
                sig.name
            );
        }
    }

    // The equivocation: two entries at seq 1, both signed by the feed's key.
    let q = &file["equivocation"];
    let (inception, first, second) = (
        check_entry(&q["inception"]),
        check_entry(&q["first"]),
        check_entry(&q["second"]),
    );
    assert_eq!((first.feed, first.seq), (second.feed, num(&q["seq"])));
    assert_eq!(first.seq, second.seq);
    assert_ne!(first.id, second.id);
    let mut ledger = MemoryLedger::new([entries[0].feed]);
    for e in entries[..4].iter().chain([&inception, &first]) {
        assert!(matches!(
            ledger.submit(e, num(&file["validation_clock_ms"])),
            Verdict::Accept { .. }
        ));
    }
    match ledger.submit(&second, num(&file["validation_clock_ms"])) {
        Verdict::Equivocation { existing } => assert_eq!(existing.id, first.id),
        other => panic!("an equivocation, got {other:?}"),
    }
    // The wallet rule for signed times (informative): every number from the spec's formulas.
    let ct = &file["coarse_times"];
    for v in list(&ct["granularities"]) {
        assert_eq!(
            v["allowed"].as_bool(),
            Some(ct_allowed(num(&v["g"]))),
            "{v}"
        );
    }
    for v in list(&ct["times"]) {
        let time = ct_time(
            v["g"].as_u64(),
            text(&v["exactness"]),
            num(&v["now_ms"]),
            num(&v["floor_ms"]),
        );
        assert_eq!(num(&v["time_ms"]), time, "{}", text(&v["about"]));
        assert!(time <= num(&v["now_ms"]).max(num(&v["floor_ms"])).max(MIN_TIME_MS));
    }
    for v in list(&ct["valid_from"]) {
        let from = ct_valid_from(
            v["g"].as_u64(),
            num(&v["now_ms"]),
            num(&v["due_ms"]),
            num(&v["time_ms"]),
        );
        assert_eq!(num(&v["valid_from"]), from, "{}", text(&v["about"]));
        assert!(from >= num(&v["due_ms"]) && from >= num(&v["now_ms"]));
    }
    for v in list(&ct["valid_until"]) {
        let until = ct_floor(v["g"].as_u64(), num(&v["end_ms"]));
        assert_eq!(num(&v["valid_until"]), until, "{}", text(&v["about"]));
        assert!(until <= num(&v["end_ms"]));
    }
    // Which own grants a delegate's opt-out raises: the purposes read through the crate's
    // vocabulary (an opt-out denies exactly `is_sale_or_sharing`).
    for v in list(&ct["own_grants"]) {
        let now = num(&v["now_ms"]);
        let purposes: PurposeSet = list(&v["purposes"]).iter().map(purpose_from).collect();
        let opt_out = v["opt_out_ms"].as_u64();
        let after_opt_out = match opt_out {
            Some(t) if purposes.iter().any(|p| p.is_sale_or_sharing()) && t < now => t + 1,
            _ => 0,
        };
        let time = ct_time(
            v["g"].as_u64(),
            "coarse",
            now,
            num(&v["prev_ms"]).max(after_opt_out),
        );
        assert_eq!(num(&v["time_ms"]), time, "{}", text(&v["about"]));
        // Never after the moment of signing (with no previous entry after it), and never at or
        // before an opt-out signed before it that denies what it allows.
        assert!(time <= now.max(num(&v["prev_ms"])));
        if let Some(t) = opt_out
            && t < now
            && purposes.iter().any(|p| p.is_sale_or_sharing())
        {
            assert!(time > t, "{}", text(&v["about"]));
        }
    }
}

pub(super) fn purpose_from(v: &Value) -> Purpose {
    match pb::Purpose::from_str_name(text(v)) {
        Some(p) => p,
        None => panic!("{v} is not a purpose"),
    }
}

pub(super) fn category_from(v: &Value) -> DataCategory {
    match pb::DataCategory::from_str_name(text(v)) {
        Some(c) => c,
        None => panic!("{v} is not a category"),
    }
}

/// The wire context a JSON context states (and it states exactly that one).
pub(super) fn context_from_json(v: &Value) -> pb::ObservationContext {
    let cell = match v["cell"].as_str() {
        None => 0,
        Some(hex) => match u64::from_str_radix(hex, 16) {
            Ok(c) => c,
            Err(e) => panic!("{hex}: {e}"),
        },
    };
    let c = pb::ObservationContext {
        sensor: num(&v["sensor"]) as u32,
        sensor_kind: pb::SensorKind::from_str_name(text(&v["sensor_kind"]))
            .map_or(-1, |k| k as i32),
        cell,
        observed_ms: num(&v["observed_ms"]),
        form: pb::Form::from_str_name(text(&v["form"])).map_or(-1, |f| f as i32),
    };
    assert_eq!(context_json(&c), *v, "the JSON states its context exactly");
    c
}

/// A wire scope from its `encoding`, checked against the JSON that describes it.
pub(super) fn policy_scope_from_json(v: &Value) -> pb::PolicyScope {
    let w = match pb::PolicyScope::decode(bytes(&v["encoding"]).as_slice()) {
        Ok(w) => w,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(policy_scope_json(&w), *v);
    w
}

pub(super) fn grant_scope_from_json(v: &Value) -> pb::GrantScope {
    let w = match pb::GrantScope::decode(bytes(&v["encoding"]).as_slice()) {
        Ok(w) => w,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(grant_scope_json(&w), *v);
    w
}
