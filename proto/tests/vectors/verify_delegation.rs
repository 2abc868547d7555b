//! Every delegation and consultation vector checked through the crate's public API.

use super::*;

#[test]
pub(super) fn every_delegation_vector_in_the_file_verifies() {
    let file = read_file();
    let clock = num(&file["validation_clock_ms"]);
    let d = &file["delegations"];
    for k in list(&d["keys"]) {
        let label = text(&k["label"]);
        assert_eq!(
            bytes(&k["seed"]),
            blake3::hash(label.as_bytes()).as_bytes().to_vec(),
            "{label}"
        );
        assert_eq!(
            hx(key(label).public().to_bytes()),
            text(&k["public"]),
            "{label}"
        );
    }
    assert_eq!(
        consent_proto::delegation::coming_of_age_ms(2034, 5, 1),
        Some(num(&d["comes_of_age_ms"]))
    );

    // The history: each entry decodes to what it states, every delegation body and every
    // on_behalf is there, and a fresh node accepts them in order.
    let history: Vec<Entry> = list(&d["history"]).iter().map(check_entry).collect();
    let kinds: std::collections::HashSet<&str> =
        history.iter().map(|e| e.body.kind().name()).collect();
    for kind in [
        "delegation",
        "undelegation",
        "endorsement",
        "grant",
        "revoke",
        "request",
    ] {
        assert!(kinds.contains(kind), "{kind}");
    }
    for kind in ["grant", "revoke", "request"] {
        assert!(
            history
                .iter()
                .any(|e| e.body.kind().name() == kind && e.body.on_behalf().is_some()),
            "a {kind} in someone's name"
        );
    }
    let replay = |size: usize| {
        let mut ledger = MemoryLedger::new([history[0].feed]);
        for e in &history[..size] {
            let verdict = ledger.submit(e, clock);
            assert!(matches!(verdict, Verdict::Accept { .. }), "{verdict:?}");
        }
        ledger
    };
    replay(history.len());

    // Validation cases, each on a fresh node holding the history.
    for case in list(&d["validation"]) {
        let about = text(&case["about"]);
        let mut ledger = replay(history.len());
        let e = check_entry(&case["entry"]);
        assert_eq!(
            verdict_name(&ledger.submit(&e, clock)),
            text(&case["verdict"]),
            "{about}"
        );
    }

    // Receipts: signed, with their checkpoint and proofs; the decision is the rule's on the
    // history's first log_size entries, the delegation reported is the one proven.
    for v in list(&file["delegation_receipts"]) {
        let name = text(&v["name"]);
        let r = match pb::DecisionReceipt::decode(bytes(&v["receipt"]).as_slice()) {
            Ok(r) => r,
            Err(e) => panic!("{name}: {e}"),
        };
        let policy = match evidence::WitnessPolicy::new(&[text(&v["witness"]).to_string()], 1) {
            Ok(p) => p,
            Err(e) => panic!("{name}: {e}"),
        };
        let verified = match evidence::verify_decision(&r, &policy) {
            Ok(d) => d,
            Err(e) => panic!("{name}: {e}"),
        };
        let p = &verified.payload;
        assert!(verified.grant_included, "{name}");
        assert_eq!(
            verified.delegation_included,
            !v["delegation_inclusion"].is_null(),
            "{name}"
        );
        assert_eq!(
            p.delegated
                .as_ref()
                .map_or(Value::Null, delegation_used_json),
            v["delegated"],
            "{name}"
        );
        let question = p.question.as_ref().expect("a question");
        let outcome = replay(p.log_size as usize).check(&Query {
            subject: FeedId::from_slice(&question.subject).expect("a subject"),
            collector: FeedId::from_slice(&question.collector).expect("a collector"),
            purpose: question.purpose(),
            category: question.category(),
            at_ms: verified.at_ms,
            context: Context::NONE,
        });
        assert_eq!(outcome.decision, p.decision(), "{name}");
        assert_eq!(outcome.reason, p.reason(), "{name}");
        assert_eq!(
            outcome.grant.map(|g| hx(g.0)).unwrap_or_default(),
            hx(&p.grant),
            "{name}"
        );
        assert_eq!(
            outcome.delegated.map(|u| u.to_wire()),
            p.delegated,
            "{name}"
        );
    }

    // Decisions: each case, rebuilt from the JSON, gets the stated answer.
    let dd = &file["delegation_decisions"];
    let subject = FeedId(b32(&dd["subject"]));
    let cases = list(&dd["cases"]);
    assert!(cases.len() >= 1_000, "{} cases", cases.len());
    let mut reasons = std::collections::HashSet::new();
    for c in cases {
        let own: Vec<GrantFacts> = list(&c["own"]).iter().map(d_grant_from).collect();
        let delegated: Vec<GrantFacts> = list(&c["delegated"])
            .iter()
            .map(|g| {
                let (delegation, undelegations) = d_delegation_from(&g["delegation"]);
                let endorsements = list(&g["endorsements"])
                    .iter()
                    .map(|x| {
                        let (d, u) = d_delegation_from(&x["delegation"]);
                        (
                            EntryId(b32(&x["id"])),
                            FeedId(b32(&x["endorser"])),
                            num(&x["time_ms"]),
                            d,
                            u,
                        )
                    })
                    .collect();
                d_facts(&DGrantCase {
                    grant: d_grant_from(&g["grant"]),
                    delegation,
                    undelegations,
                    endorsements,
                })
            })
            .collect();
        let q = &c["question"];
        let answer = decide_subject(
            &Query {
                subject,
                collector: FeedId([0x5c; 32]),
                purpose: purpose_from(&q["purpose"]),
                category: category_from(&q["category"]),
                at_ms: num(&q["at_ms"]),
                context: Context::NONE,
            },
            &SubjectGrants {
                grants: &own,
                delegated: &delegated,
                opt_out_seq: c["opt_out_seq"].as_u64(),
                opt_out_ms: c["opt_out_ms"].as_u64(),
                delegated_opt_out_ms: c["delegated_opt_out_ms"].as_u64(),
            },
        );
        assert_eq!(answer.decision.as_str_name(), text(&c["decision"]));
        assert_eq!(answer.reason.as_str_name(), text(&c["reason"]));
        assert_eq!(
            answer.grant.map_or(String::new(), |g| hx(g.0)),
            text(&c["grant"])
        );
        assert_eq!(
            answer
                .delegated
                .map_or(Value::Null, |u| delegation_used_json(&u.to_wire())),
            c["answer_delegated"]
        );
        reasons.insert(answer.reason);
    }
    for reason in [
        pb::Reason::DelegationWithdrawn,
        pb::Reason::EndorsementMissing,
        pb::Reason::Granted,
        pb::Reason::OptedOut,
    ] {
        assert!(reasons.contains(&reason), "{reason:?} never reached");
    }
}

/// SHA-256 of the compact JSON of each section consultations added, as they were before
/// delegation: delegation added sections and changed none (nor any earlier one: the tests
/// above).
pub(super) const BEFORE_DELEGATION: [(&str, &str); 6] = [
    (
        "consultation_counts",
        "72d90ab681307e44299a51e5c0e33f63f1806a36c7ecc20e9117480d05af4baa",
    ),
    (
        "consultation_decisions",
        "0b9115a4b01b0c39086def338bb2a78554155c7b8cd7ffa52d7e3cb9cc1eb7f6",
    ),
    (
        "consultation_states",
        "0694806e0f40cd7eaabe02a3625bced0dc230e6b7704b1bc37bb583d5628f848",
    ),
    (
        "consultation_validation",
        "5f75671d36716fcffd31c179c8809403661a920073def9cb21a8036008030496",
    ),
    (
        "consultations",
        "d156ed3a717eedf47a5cffca8637c3fe51dcf478a5f1e44fcb39b05d7e6b403a",
    ),
    (
        "policy_changes",
        "3582de57673867ed5de899eb5ac8caae5c4f67096c691164b76a8ce76cb99759",
    ),
];

#[test]
pub(super) fn the_vectors_from_before_delegation_are_byte_identical() {
    let file = read_file();
    let digest = |v: &Value| match serde_json::to_string(v) {
        Ok(text) => {
            let d: [u8; 32] = Sha256::digest(text.as_bytes()).into();
            hx(d)
        }
        Err(e) => panic!("JSON: {e}"),
    };
    for (section, expected) in BEFORE_DELEGATION {
        assert_eq!(digest(&file[section]), expected, "{section} changed");
    }
}
