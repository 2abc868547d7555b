//! Every scope vector of the file checked through the crate's public API.

use super::*;

#[test]
pub(super) fn every_scope_vector_in_the_file_verifies() {
    let file = read_file();

    // H3: which indexes are cells, and parents.
    let h = &file["h3"];
    for v in list(&h["indexes"]) {
        let index = match u64::from_str_radix(text(&v["index"]), 16) {
            Ok(i) => i,
            Err(e) => panic!("{v}: {e}"),
        };
        let valid = v["valid"].as_bool().expect("a bool");
        assert_eq!(h3::is_cell(index), valid, "{}", text(&v["about"]));
        assert_eq!(text(&v["index"]).parse::<Cell>().is_ok(), valid, "{v}");
    }
    for v in list(&h["parents"]) {
        let cell: Cell = text(&v["cell"]).parse().expect("a cell");
        let r = u8::try_from(num(&v["resolution"])).expect("a resolution");
        assert_eq!(
            cell.parent(r).map(|p| p.to_string()),
            v["parent"].as_str().map(String::from),
            "{v}"
        );
    }

    // Local time.
    for v in list(&file["local_time"]) {
        let offset = v["utc_offset_minutes"].as_i64().expect("an offset");
        let offset = i16::try_from(offset).expect("an offset");
        assert_eq!(
            local_time(num(&v["observed_ms"]), offset),
            (num(&v["weekday"]) as u8, num(&v["minute"]) as u16),
            "{v}"
        );
    }

    // Scoped entries: they decode to what they state, and a node holding the history accepts
    // them; the worked bytes of the specification.
    let entries: Vec<Entry> = list(&file["entries"]).iter().map(check_entry).collect();
    let scoped: Vec<Entry> = list(&file["scopes"]).iter().map(check_entry).collect();
    let mut ledger = MemoryLedger::new([entries[0].feed]);
    for e in entries.iter().chain(&scoped) {
        let verdict = ledger.submit(e, num(&file["validation_clock_ms"]));
        assert!(matches!(verdict, Verdict::Accept { .. }), "{verdict:?}");
    }
    assert!(
        scoped[2]
            .payload
            .ends_with(&[0x42, 0x05, 0x08, 0x01, 0x12, 0x01, 0x01]),
        "a grant narrowing zone 1 ends with its scope"
    );
    let Body::Policy(policy) = &scoped[0].body else {
        panic!("a policy");
    };
    let scope = policy
        .scope
        .as_ref()
        .expect("a scope")
        .to_wire()
        .encode_to_vec();
    assert_eq!(
        &scope[..4],
        &[0x08, 0x01, 0x10, 0x78],
        "version 1, offset +60"
    );
    let mut field = vec![0x5a];
    field.extend(varint(scope.len() as u64));
    field.extend(&scope);
    assert!(
        scoped[0].payload.windows(field.len()).any(|w| w == field),
        "the policy's scope is field 11"
    );

    // Consultations: they decode to what they state, and a node holding the history accepts
    // them; the draft is gated, in effect from its approval; the worked bytes.
    let clock = num(&file["validation_clock_ms"]);
    let consulted: Vec<Entry> = list(&file["consultations"])
        .iter()
        .map(check_entry)
        .collect();
    for e in &consulted {
        let verdict = ledger.submit(e, clock);
        assert!(matches!(verdict, Verdict::Accept { .. }), "{verdict:?}");
    }
    let kinds: Vec<&str> = consulted.iter().map(|e| e.body.kind().name()).collect();
    assert_eq!(kinds, ["policy", "stance", "stance", "response", "outcome"]);
    let facts = ledger
        .draft_facts(&consulted[0].id)
        .expect("a consultation");
    assert!(facts.gated, "the draft widens");
    assert_eq!(consultation::in_effect_from(&facts), consulted[4].time_ms);
    let counts = ledger.consultation_counts(&consulted[0].id);
    assert_eq!((counts.affected.support, counts.affected.object), (1, 0));
    let Body::Policy(drafted) = &consulted[0].body else {
        panic!("a policy");
    };
    let closes = drafted.consultation.expect("a consultation").closes_ms;
    let mut field = vec![0x62, 0];
    field.push(0x08);
    field.extend(varint(closes));
    field[1] = (field.len() - 2) as u8;
    assert!(
        consulted[0].payload.ends_with(&field),
        "the policy's consultation is field 12, last"
    );
    let keys = [[0x9au8, 0x01], [0x9a, 0x01], [0xa2, 0x01], [0xaa, 0x01]];
    for (e, key) in consulted[1..].iter().zip(keys) {
        let header = pb::EntryPayload {
            body: None,
            ..wire(e)
        }
        .encode_to_vec();
        assert_eq!(
            &e.payload[header.len()..header.len() + 2],
            &key,
            "{:?}",
            e.body.kind()
        );
    }

    // Consultation validation: each case's entries, after the history, get their verdicts.
    let cv = &file["consultation_validation"];
    let history: Vec<Entry> = list(&cv["history"]).iter().map(check_entry).collect();
    for case in list(&cv["cases"]) {
        let about = text(&case["about"]);
        let min_days = case["widening_min_days"]
            .as_u64()
            .map(|d| u32::try_from(d).expect("days fit u32"));
        let mut ledger = v_ledger(&history, min_days);
        let (entries, verdicts) = (list(&case["entries"]), list(&case["verdicts"]));
        assert_eq!(entries.len(), verdicts.len(), "{about}");
        for (v, expected) in entries.iter().zip(verdicts) {
            let e = check_entry(v);
            let verdict = ledger.submit(&e, clock);
            assert_eq!(
                verdict_name(&verdict),
                text(expected),
                "{about}: {}",
                text(&v["name"])
            );
        }
    }

    // Policy changes: what compare says of each pair.
    for pair in list(&file["policy_changes"]) {
        let about = text(&pair["about"]);
        let policy = |field: &str| -> Policy {
            let w = match pb::Policy::decode(bytes(&pair[field]).as_slice()) {
                Ok(w) => w,
                Err(e) => panic!("{about}: {e}"),
            };
            match Body::from_wire(&WireBody::Policy(w)) {
                Ok(Body::Policy(p)) => p,
                other => panic!("{about}: {other:?}"),
            }
        };
        let (old, new) = (policy("old_encoding"), policy("new_encoding"));
        assert_eq!(
            body_json(&WireBody::Policy(policy_wire(&old))),
            pair["old"],
            "{about}"
        );
        assert_eq!(
            body_json(&WireBody::Policy(policy_wire(&new))),
            pair["new"],
            "{about}"
        );
        let change = consent_proto::policy_change::compare(&old, &new);
        assert_eq!(change.kind().name(), text(&pair["kind"]), "{about}");
        let items = list(&pair["items"]);
        assert_eq!(items.len(), change.items.len(), "{about}");
        for (i, v) in change.items.iter().zip(items) {
            assert_eq!(i.direction.name(), text(&v["direction"]), "{about}");
            assert_eq!(i.code, text(&v["code"]), "{about}");
            assert_eq!(i.sentence, text(&v["sentence"]), "{about}");
        }
        assert_eq!(json!(change.sentences()), pair["sentences"], "{about}");
    }

    // Consultation states: from the facts and the clock.
    for c in list(&file["consultation_states"]) {
        let about = text(&c["about"]);
        let outcomes: Vec<(OutcomeFacts, bool)> = list(&c["outcomes"])
            .iter()
            .map(|o| {
                (
                    OutcomeFacts {
                        id: EntryId(b32(&o["id"])),
                        time_ms: num(&o["time_ms"]),
                        approved: o["approved"].as_bool().expect("a bool"),
                    },
                    o["frozen"].as_bool().expect("a bool"),
                )
            })
            .collect();
        let superseded_ms = c["superseded_ms"].as_u64();
        let (first_approval, first_changes_required) = firsts(&outcomes, superseded_ms);
        let facts = DraftFacts {
            id: EntryId([1; 32]),
            collector: FeedId([2; 32]),
            version: 2,
            time_ms: num(&c["time_ms"]),
            closes_ms: num(&c["closes_ms"]),
            gated: c["gated"].as_bool() == Some(true),
            superseded_ms,
            first_approval,
            first_changes_required,
        };
        let state = consultation::state(&facts, num(&c["now_ms"]));
        assert_eq!(state.name(), text(&c["state"]), "{about}");
        assert_eq!(
            state.to_wire().as_str_name(),
            text(&c["state_wire"]),
            "{about}"
        );
        assert_eq!(state.at_ms(), num(&c["state_ms"]), "{about}");
        assert_eq!(
            consultation::in_effect_from(&facts),
            num(&c["in_effect_from"]),
            "{about}"
        );
    }

    // Consultation decisions: POLICY_NOT_IN_EFFECT and its place among the denials.
    let in_effect = list(&file["consultation_decisions"]["cases"]);
    assert!(
        in_effect
            .iter()
            .any(|c| text(&c["reason"]) == "REASON_POLICY_NOT_IN_EFFECT")
    );
    for c in in_effect {
        let g = &c["grant"];
        let q = &c["question"];
        assert!(c["policy"].is_null() && g["scope"].is_null(), "{c}");
        let context = if q["context"].is_null() {
            Context::NONE
        } else {
            Context::from_wire(Some(&context_from_json(&q["context"]))).expect("valid")
        };
        let case = DecisionCase {
            about: None,
            policy: None,
            grant: GrantCase {
                purposes: list(&g["purposes"]).iter().map(purpose_from).collect(),
                categories: list(&g["categories"]).iter().map(category_from).collect(),
                valid_from: num(&g["valid_from"]),
                valid_until: Some(num(&g["valid_until"])).filter(|u| *u != 0),
                revoked: g["revoked"].as_bool().expect("a bool"),
                scope: None,
            },
            opt_out_seq: c["opt_out_seq"].as_u64(),
            purpose: purpose_from(&q["purpose"]),
            category: category_from(&q["category"]),
            at_ms: num(&q["at_ms"]),
            context,
        };
        let (decision, reason, _) = decide_case_in(&[], &case, num(&c["in_effect_from"]));
        assert_eq!(
            (decision.as_str_name(), reason.as_str_name()),
            (text(&c["decision"]), text(&c["reason"])),
            "{c}"
        );
    }

    // Consultation counts: the latest stance per feed, by group; the reasons raised.
    for c in list(&file["consultation_counts"]) {
        let about = text(&c["about"]);
        let stances: Vec<StanceFacts> = list(&c["stances"])
            .iter()
            .map(|s| StanceFacts {
                feed: FeedId(b32(&s["feed"])),
                seq: num(&s["seq"]),
                support: text(&s["kind"]) == "STANCE_KIND_SUPPORT",
                reasons: list(&s["reasons"])
                    .iter()
                    .filter_map(|r| ObjectionReason::from_str_name(text(r)))
                    .collect(),
                affected: s["affected"].as_bool() == Some(true),
            })
            .collect();
        let counts = consultation::count(&stances);
        assert_eq!(tally_json(&counts.affected), c["affected"], "{about}");
        assert_eq!(tally_json(&counts.others), c["others"], "{about}");
        let raised: Vec<&str> = counts
            .raised(num(&c["threshold"]))
            .iter()
            .map(|r| r.as_str_name())
            .collect();
        assert_eq!(json!(raised), c["raised"], "{about}");
    }

    // Context digests.
    let digests = &file["context_digests"];
    assert_eq!(text(&digests["domain"]).as_bytes(), domain::CONTEXT);
    for item in list(&digests["items"]) {
        let c = context_from_json(&item["context"]);
        let input = context_input(&c);
        assert_eq!(hx(&input), text(&item["input"]));
        assert_eq!(hx(blake3::hash(&input).as_bytes()), text(&item["digest"]));
        assert_eq!(hx(receipt::context_digest(&c)), text(&item["digest"]));
    }
    for v in list(&file["decision_receipts"]) {
        if let Some(context) = v["question"].get("context") {
            let c = context_from_json(context);
            assert_eq!(hx(receipt::context_digest(&c)), text(&v["context_digest"]));
        }
    }

    // Scope decisions: each case, rebuilt from the JSON, gets the stated answer.
    let sd = &file["scope_decisions"];
    let purposes: PurposeSet = list(&sd["purposes"]).iter().map(purpose_from).collect();
    let policies: Vec<Option<PolicyScope>> = list(&sd["policies"])
        .iter()
        .map(|v| {
            (!v.is_null()).then(|| {
                PolicyScope::from_wire(&policy_scope_from_json(v), purposes).expect("valid")
            })
        })
        .collect();
    let cases = list(&sd["cases"]);
    assert!(cases.len() >= 2_000, "{} cases", cases.len());
    let none = PolicyScope::default();
    for c in cases {
        let g = &c["grant"];
        let grant_purposes: PurposeSet = list(&g["purposes"]).iter().map(purpose_from).collect();
        let scope = (!g["scope"].is_null()).then(|| {
            GrantScope::from_wire(&grant_scope_from_json(&g["scope"]), grant_purposes)
                .expect("valid")
        });
        let policy = c["policy"].as_u64().map(|i| i as usize);
        if let Some(s) = &scope {
            let p = policy.and_then(|i| policies[i].as_ref()).unwrap_or(&none);
            assert_eq!(s.within(p), Ok(()), "{c}");
        }
        let q = &c["question"];
        let context = if q["context"].is_null() {
            Context::NONE
        } else {
            Context::from_wire(Some(&context_from_json(&q["context"]))).expect("valid")
        };
        let case = DecisionCase {
            about: None,
            policy,
            grant: GrantCase {
                purposes: grant_purposes,
                categories: list(&g["categories"]).iter().map(category_from).collect(),
                valid_from: num(&g["valid_from"]),
                valid_until: Some(num(&g["valid_until"])).filter(|u| *u != 0),
                revoked: g["revoked"].as_bool().expect("a bool"),
                scope,
            },
            opt_out_seq: c["opt_out_seq"].as_u64(),
            purpose: purpose_from(&q["purpose"]),
            category: category_from(&q["category"]),
            at_ms: num(&q["at_ms"]),
            context,
        };
        let (decision, reason, form) = decide_case(&policies, &case);
        assert_eq!(
            (
                decision.as_str_name(),
                reason.as_str_name(),
                form.unwrap_or(Form::Unspecified).as_str_name()
            ),
            (
                text(&c["decision"]),
                text(&c["reason"]),
                text(&c["required_form"])
            ),
            "{c}"
        );
    }
}

/// SHA-256 of the compact JSON of every section of the file from before scopes existed, and of
/// the first two decision receipts: scopes added vectors and changed none.
pub(super) const BEFORE_SCOPES: [(&str, &str); 15] = [
    (
        "about",
        "bb00c3b4c332f9747b75f6c6837e15e5c91c080741c34c6c669fff0faff2ec2a",
    ),
    (
        "auth",
        "cda1d12f5a7bd9716fc9087509a503ce650ced15e68ffa1315d82527e8e0750a",
    ),
    (
        "dev_registrar",
        "6cbba5c96c24be594a4bf0e2b8364d75264f2842e613dce0ddaee11e76834f34",
    ),
    (
        "domains",
        "7d2410a3d9cf63bcde82d6ffe81c836c7656b116994f71fee55625d54b2d701b",
    ),
    (
        "encodings",
        "1b614069dde5210b403f66b67be0372da5db66fdc7bdacb026d114c2ba2be5d0",
    ),
    (
        "entries",
        "600323132f544e08baf6752c9a66fa7755ed31ba1c739fe7a48637eef11bb347",
    ),
    (
        "equivocation",
        "d17bb9352af2f7b94f780c57673deb6ba2daba0153d816409e43c1a7cea660c5",
    ),
    (
        "keys",
        "26e364343c4441e10b15724af40ae51184e4579920e0f5889cd34ce58da7ff3e",
    ),
    (
        "merkle",
        "82ad0ed3e66909128bd1e124ae1e96dab85a79c2bf360b160b211370cff0ce0a",
    ),
    (
        "pairwise",
        "3cd515d56e018a1ea1c934b9d3117692475b147faa5d51f713770dbe322fe871",
    ),
    (
        "receipts",
        "3915f6c8dedbf599ce8541b5a95cd0f310986782b18175adc5fb2c3dfe615308",
    ),
    (
        "signatures",
        "e4682c4581c37ad1eab8e87a6b27c029eb8386412804a390179e991235bb9b93",
    ),
    (
        "text_forms",
        "030aed14b5b72f1708ce4837418b40ed2b1afde3c858ca8c8baa3c2048336f52",
    ),
    (
        "validation_clock_ms",
        "423ac555b1eeaeeee404e30080bbf3fc3fac1bb4b1a16324664a1f3395894024",
    ),
    (
        "version",
        "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b",
    ),
];

/// The two decision receipts from before scopes, in order.
pub(super) const RECEIPTS_BEFORE_SCOPES: [&str; 2] = [
    "a53d5d93d5f8efba7ad6b270a6918505eaaadb9443c0d4a9f72d7f4f801be04e",
    "c08b61f2393ec001106095340e144b256ae8023af0c468a300ed975106fb22eb",
];

/// SHA-256 of the compact JSON of each section the scopes added (and of each decision receipt),
/// as they were before consultations: consultations added sections and changed none.
pub(super) const BEFORE_CONSULTATIONS: [(&str, &str); 5] = [
    (
        "context_digests",
        "05dc14b7444ef3adf7b95c62b67bb20767adb0db42e3df31611cb8fd01a8c173",
    ),
    (
        "h3",
        "3703e357ad9f0be1e4e4370ecd45e9af85ac544c89029a3743626c2a5d38fd00",
    ),
    (
        "local_time",
        "7723b770d617af17ab48c98711a26d39e79b6071723e160bf06c0d0a17745c25",
    ),
    (
        "scope_decisions",
        "8ffcd4d0fae8ecf537c0d2babb1466ad1ee89df4cf4d7301167b203d81b3929a",
    ),
    (
        "scopes",
        "12421d4bb19f8b3bec6340e15c0fd16662b4648424c5331099316b0cd38d2d2c",
    ),
];
pub(super) const RECEIPTS_BEFORE_CONSULTATIONS: [&str; 3] = [
    "a53d5d93d5f8efba7ad6b270a6918505eaaadb9443c0d4a9f72d7f4f801be04e",
    "c08b61f2393ec001106095340e144b256ae8023af0c468a300ed975106fb22eb",
    "002e38185616b5eb7951986550e7c2851a3a21e0ca12b5e852e4897a1705c47b",
];

#[test]
pub(super) fn the_vectors_from_before_consultations_are_byte_identical() {
    let file = read_file();
    let digest = |v: &Value| match serde_json::to_string(v) {
        Ok(text) => {
            let d: [u8; 32] = Sha256::digest(text.as_bytes()).into();
            hx(d)
        }
        Err(e) => panic!("JSON: {e}"),
    };
    for (section, expected) in BEFORE_SCOPES.iter().chain(&BEFORE_CONSULTATIONS) {
        assert_eq!(digest(&file[*section]), *expected, "{section} changed");
    }
    let receipts = list(&file["decision_receipts"]);
    assert_eq!(receipts.len(), RECEIPTS_BEFORE_CONSULTATIONS.len());
    for (v, expected) in receipts.iter().zip(RECEIPTS_BEFORE_CONSULTATIONS) {
        assert_eq!(digest(v), expected, "{} changed", text(&v["name"]));
    }
}

#[test]
pub(super) fn the_vectors_from_before_scopes_are_byte_identical() {
    let file = read_file();
    let digest = |v: &Value| match serde_json::to_string(v) {
        Ok(text) => {
            let d: [u8; 32] = Sha256::digest(text.as_bytes()).into();
            hx(d)
        }
        Err(e) => panic!("JSON: {e}"),
    };
    for (section, expected) in BEFORE_SCOPES {
        assert_eq!(digest(&file[section]), expected, "{section} changed");
    }
    for (v, expected) in list(&file["decision_receipts"])
        .iter()
        .zip(RECEIPTS_BEFORE_SCOPES)
    {
        assert_eq!(digest(v), expected, "{} changed", text(&v["name"]));
    }
}

/// A grant fact as `delegation_decisions` states it.
pub(super) fn d_grant_from(v: &Value) -> GrantFacts {
    GrantFacts {
        id: EntryId(b32(&v["id"])),
        seq: num(&v["seq"]),
        purposes: list(&v["purposes"]).iter().map(purpose_from).collect(),
        categories: list(&v["categories"]).iter().map(category_from).collect(),
        valid_from: num(&v["valid_from"]),
        valid_until: Some(num(&v["valid_until"])).filter(|u| *u != 0),
        revoked: v["revoked"].as_bool() == Some(true),
        scope: None,
        in_effect_from: consent_proto::consultation::ALWAYS,
        time_ms: num(&v["time_ms"]),
        via: None,
    }
}

/// A delegation as `delegation_decisions` states it: id, delegate, kind, signed time,
/// valid_until, co-signer.
pub(super) type DDelegation = (
    EntryId,
    FeedId,
    DelegationKind,
    u64,
    Option<u64>,
    Option<FeedId>,
);
/// An endorsement: id, endorser, signed time, the endorser's delegation and its undelegations.
pub(super) type DEndorsement = (EntryId, FeedId, u64, DDelegation, Vec<(u64, Option<u64>)>);

/// A delegation and its undelegations as `delegation_decisions` states them.
pub(super) fn d_delegation_from(v: &Value) -> (DDelegation, Vec<(u64, Option<u64>)>) {
    let kind = match pb::DelegationKind::from_str_name(text(&v["kind"])) {
        Some(k) => k,
        None => panic!("{v} names no delegation kind"),
    };
    let co_signer = match text(&v["co_signer"]) {
        "" => None,
        _ => Some(FeedId(b32(&v["co_signer"]))),
    };
    let d = (
        EntryId(b32(&v["id"])),
        FeedId(b32(&v["delegate"])),
        kind,
        num(&v["time_ms"]),
        Some(num(&v["valid_until"])).filter(|u| *u != 0),
        co_signer,
    );
    let undelegations = list(&v["undelegations"])
        .iter()
        .map(|u| {
            (
                num(&u["time_ms"]),
                Some(num(&u["void_from_ms"])).filter(|t| *t != 0),
            )
        })
        .collect();
    (d, undelegations)
}
