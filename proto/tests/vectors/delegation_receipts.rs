//! Delegation: receipts, decision facts and seeded delegated decisions.

use super::*;

/// A decision receipt of the delegation network: a node holding the first `size` entries
/// decides `question` at `time_ms` and signs, with its checkpoint 10 minutes before.
pub(super) fn delegation_receipt_json(
    net: &DNet,
    name: &str,
    size: usize,
    time_ms: u64,
    question: pb::CheckRequest,
) -> Value {
    let at_ms = consent_proto::decide::asked_at(question.at_ms, time_ms);
    let outcome = net.ledger(size).check(&Query {
        subject: FeedId::from_slice(&question.subject).expect("a subject"),
        collector: FeedId::from_slice(&question.collector).expect("a collector"),
        purpose: question.purpose(),
        category: question.category(),
        at_ms,
        context: Context::NONE,
    });
    let (head_seq, head) = outcome.subject_head.expect("the subject is known");
    let grant_name = |id: EntryId| match net.history[..size].iter().find(|n| n.entry.id == id) {
        Some(n) => n.name,
        None => panic!("{name}: the grant named is in the log"),
    };
    let payload = pb::DecisionPayload {
        question: Some(receipt::signed_question(&question, time_ms)),
        decision: outcome.decision as i32,
        reason: outcome.reason as i32,
        grant: outcome
            .grant
            .map(|g| Bytes::copy_from_slice(&g.0))
            .unwrap_or_default(),
        subject_head: Bytes::copy_from_slice(&head.0),
        subject_head_seq: head_seq,
        log_size: size as u64,
        time_ms,
        at_ms,
        when: consent_proto::decide::question_time(at_ms, time_ms) as i32,
        delegated: outcome.delegated.map(|d| d.to_wire()),
        ..Default::default()
    };
    let node = key(NODE);
    let witness = key(WITNESS);
    let checkpoint = Checkpoint {
        origin: node.public().to_text("node"),
        size: size as u64,
        root: root(&net.tree(size), size as u64),
        time_ms: time_ms - 10 * MINUTE,
    };
    let mut note = SignedNote::sign(checkpoint, &node);
    let cosignature = note.cosignature(
        &witness.public().to_text("node"),
        &witness,
        (time_ms - 10 * MINUTE) / 1000 + 5,
    );
    assert!(note.add_cosignature(cosignature, &witness.public()));
    let mut r = receipt::sign_decision(&node, payload.clone());
    r.checkpoint = note.to_text();
    r.grant_inclusion = outcome.grant.map(|g| net.inclusion(grant_name(g), size));
    r.delegation_inclusion = outcome.delegated.map(|d| {
        let delegation = grant_name(d.delegation);
        net.inclusion(delegation, size)
    });
    let q = payload.question.as_ref().expect("a question");
    json!({
        "name": name,
        "node_key": hx(node.public().to_bytes()),
        "witness": witness.public().to_text("node"),
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
        "delegated": payload.delegated.as_ref().map_or(Value::Null, delegation_used_json),
        "subject_head": hx(&payload.subject_head),
        "subject_head_seq": payload.subject_head_seq,
        "log_size": payload.log_size,
        "time_ms": payload.time_ms,
        "at_ms": payload.at_ms,
        "when": payload.when().as_str_name(),
        "payload": hx(&r.payload),
        "signature": hx(&r.signature),
        "checkpoint": note_json(&note),
        "grant_inclusion": r.grant_inclusion.as_ref().map_or(Value::Null, inclusion_json),
        "delegation_inclusion": r.delegation_inclusion.as_ref().map_or(Value::Null, inclusion_json),
        "receipt": hx(r.encode_to_vec()),
    })
}

pub(super) fn delegation_used_json(d: &pb::DelegationUsed) -> Value {
    json!({
        "delegation": hx(&d.delegation),
        "delegate": hx(&d.delegate),
        "kind": pb::DelegationKind::try_from(d.kind).map_or("?", |k| k.as_str_name()),
        "endorsement": hx(&d.endorsement),
    })
}

/// `delegation_receipts`: an ALLOW under a guardian's grant with its co-guardian's endorsement,
/// and a DELEGATION_WITHDRAWN deny under a grant signed inside an undelegation's five minutes.
pub(super) fn delegation_receipts_json(net: &DNet) -> Vec<Value> {
    let question = |subject: FeedId, purpose: Purpose| pb::CheckRequest {
        subject: Bytes::copy_from_slice(&subject.0),
        collector: Bytes::copy_from_slice(&net.collector.0),
        purpose: purpose as i32,
        category: DataCategory::Location as i32,
        at_ms: 0,
        ..Default::default()
    };
    let upto = |name: &str| match net.history.iter().position(|n| n.name == name) {
        Some(i) => i + 1,
        None => panic!("no delegation entry {name}"),
    };
    vec![
        delegation_receipt_json(
            net,
            "allow-endorsed-guardian-grant",
            upto("endorsement"),
            T + 4 * HOUR + 30 * MINUTE,
            question(net.feed(D_CHILD), Purpose::ServiceProvision),
        ),
        delegation_receipt_json(
            net,
            "deny-delegation-withdrawn",
            net.history.len(),
            T + DAY + HOUR,
            question(net.feed(D_PERSON), Purpose::ThirdPartySharing),
        ),
    ]
}

/// One delegated grant of a `delegation_decisions` case, with what the rule reads of it: its
/// delegation, the undelegations of it, and the endorsements of it with the endorsers' own
/// delegations and their undelegations.
#[derive(Clone)]
pub(super) struct DGrantCase {
    pub(super) grant: GrantFacts,
    pub(super) delegation: DDelegation,
    /// `(time_ms, void_from_ms)` of each undelegation.
    pub(super) undelegations: Vec<(u64, Option<u64>)>,
    /// Its endorsements.
    pub(super) endorsements: Vec<DEndorsement>,
}

pub(super) const D_SUBJECT: FeedId = FeedId([0x5b; 32]);

/// The delegation state `(id, delegate, kind, from_ms, valid_until, co_signer)` ended by
/// `undelegations`, through the crate's rules.
pub(super) fn d_state(d: &DDelegation, undelegations: &[(u64, Option<u64>)]) -> DelegationState {
    let (id, delegate, kind, from_ms, valid_until, co_signer) = *d;
    let body = Delegation {
        delegate,
        powers: [DelegatedPower::Grant].into_iter().collect(),
        collectors: Vec::new(),
        purposes: PurposeSet::EMPTY,
        valid_until,
        kind,
        co_signer,
    };
    let mut state = DelegationState::of(id, D_SUBJECT, from_ms, &body);
    for (time_ms, void_from_ms) in undelegations {
        let u = Undelegation {
            delegation: id,
            void_from_ms: *void_from_ms,
        };
        state.undelegated(consent_proto::delegation::void_from(&u, *time_ms), *time_ms);
    }
    state
}

/// The grant facts of a case's delegated grant (its `via` computed from the raw facts).
pub(super) fn d_facts(g: &DGrantCase) -> GrantFacts {
    let state = d_state(&g.delegation, &g.undelegations);
    let endorsers: Vec<(EntryId, FeedId, u64, DelegationState)> = g
        .endorsements
        .iter()
        .map(|(id, feed, t, d, u)| (*id, *feed, *t, d_state(d, u)))
        .collect();
    let list: Vec<(EntryId, FeedId, u64, &DelegationState)> = endorsers
        .iter()
        .map(|(id, feed, t, d)| (*id, *feed, *t, d))
        .collect();
    let endorsement = consent_proto::delegation::counting_endorsement(state.co_signer, &list);
    GrantFacts {
        via: Some(Arc::new(Via {
            delegation: state,
            signed_ms: g.grant.time_ms,
            endorsement,
        })),
        ..g.grant.clone()
    }
}

pub(super) fn d_delegation_json(d: &DDelegation, undelegations: &[(u64, Option<u64>)]) -> Value {
    json!({
        "id": hx(d.0.0),
        "delegate": hx(d.1.0),
        "kind": d.2.as_str_name(),
        "time_ms": d.3,
        "valid_until": d.4.unwrap_or(0),
        "co_signer": d.5.map_or(String::new(), |f| hx(f.0)),
        "undelegations": undelegations.iter().map(|(t, v)| json!({"time_ms": t, "void_from_ms": v.unwrap_or(0)})).collect::<Vec<_>>(),
    })
}

pub(super) fn d_grant_json(g: &GrantFacts) -> Value {
    let purposes = wire_numbers(g.purposes.iter(), |p| p as i32);
    let categories = wire_numbers(g.categories.iter(), |x| x as i32);
    json!({
        "id": hx(g.id.0),
        "seq": g.seq,
        "time_ms": g.time_ms,
        "purposes": purpose_names(&purposes),
        "categories": category_names(&categories),
        "valid_from": g.valid_from,
        "valid_until": g.valid_until.unwrap_or(0),
        "revoked": g.revoked,
    })
}

/// A random grant fact (unscoped, its policy in effect) with id byte `n`.
pub(super) fn d_random_grant(rng: &mut cases::Rng, n: u8, seq: u64) -> GrantFacts {
    let purposes: PurposeSet = rng
        .some_of(&[
            Purpose::ServiceProvision,
            Purpose::Research,
            Purpose::ThirdPartySharing,
        ])
        .into_iter()
        .collect();
    let categories: CategorySet = rng
        .some_of(&[DataCategory::Location, DataCategory::Mobility])
        .into_iter()
        .collect();
    let valid_from = T + rng.below(4) * DAY;
    GrantFacts {
        id: EntryId([n; 32]),
        seq,
        purposes,
        categories,
        valid_from,
        valid_until: rng.chance(30).then(|| valid_from + 1 + rng.below(8) * DAY),
        revoked: rng.chance(15),
        scope: None,
        in_effect_from: consent_proto::consultation::ALWAYS,
        time_ms: T + rng.below(6 * DAY),
        via: None,
    }
}

pub(super) fn d_random_delegation(
    rng: &mut cases::Rng,
    n: u8,
    co_signer: Option<FeedId>,
    delegate: FeedId,
) -> DDelegation {
    let kind = if co_signer.is_some() || rng.chance(20) {
        DelegationKind::Guardian
    } else {
        DelegationKind::Assistant
    };
    let from = T + rng.below(2 * DAY);
    let valid_until = match kind {
        DelegationKind::Guardian => Some(T - T % DAY + (1 + rng.below(8)) * DAY),
        _ => rng.chance(40).then(|| from + 1 + rng.below(6 * DAY)),
    };
    (
        EntryId([n; 32]),
        delegate,
        kind,
        from,
        valid_until,
        co_signer,
    )
}

pub(super) fn d_random_undelegations(rng: &mut cases::Rng) -> Vec<(u64, Option<u64>)> {
    (0..rng.below(3))
        .map(|_| {
            let t = T + rng.below(8 * DAY);
            (
                t,
                rng.chance(50)
                    .then(|| t.saturating_sub(rng.below(2 * DAY)).max(T)),
            )
        })
        .collect()
}

/// `delegation_decisions`: steps 5 and 6 of the rule ([`consent_proto::decide::decide_subject`])
/// with own and delegated grants, 1,000 seeded cases.
pub(super) fn delegation_decisions_json() -> Value {
    let mut rng = cases::Rng::new(22);
    let mut out = Vec::new();
    for _ in 0..1_000 {
        let own: Vec<GrantFacts> = (0..rng.below(3))
            .map(|i| d_random_grant(&mut rng, 1 + i as u8, 1 + i))
            .collect();
        let mut delegated: Vec<DGrantCase> = Vec::new();
        for i in 0..rng.below(4) {
            let n = 10 + 10 * i as u8;
            let delegate = FeedId([n; 32]);
            let co = rng.chance(40).then_some(FeedId([n + 1; 32]));
            let d = d_random_delegation(&mut rng, n + 2, co, delegate);
            let mut endorsements = Vec::new();
            for j in 0..rng.below(3) {
                let endorser = match co {
                    Some(co) if rng.chance(80) => co,
                    _ => FeedId([n + 3; 32]),
                };
                let own_d = d_random_delegation(&mut rng, n + 4 + j as u8, None, endorser);
                endorsements.push((
                    EntryId([n + 6 + j as u8; 32]),
                    endorser,
                    T + rng.below(7 * DAY),
                    own_d,
                    d_random_undelegations(&mut rng),
                ));
            }
            delegated.push(DGrantCase {
                grant: d_random_grant(&mut rng, n + 9, 1),
                delegation: d,
                undelegations: d_random_undelegations(&mut rng),
                endorsements,
            });
        }
        let opt_out_seq = rng.chance(20).then(|| rng.below(4));
        let opt_out_ms = opt_out_seq.map(|_| T + rng.below(6 * DAY));
        let delegated_opt_out_ms = rng.chance(20).then(|| T + rng.below(6 * DAY));
        let purpose = rng.pick(&[
            Purpose::ServiceProvision,
            Purpose::Research,
            Purpose::ThirdPartySharing,
        ]);
        let category = rng.pick(&[DataCategory::Location, DataCategory::Mobility]);
        let at_ms = T + rng.below(10 * DAY);
        let facts: Vec<GrantFacts> = delegated.iter().map(d_facts).collect();
        let answer = decide_subject(
            &Query {
                subject: D_SUBJECT,
                collector: FeedId([0x5c; 32]),
                purpose,
                category,
                at_ms,
                context: Context::NONE,
            },
            &SubjectGrants {
                grants: &own,
                delegated: &facts,
                opt_out_seq,
                opt_out_ms,
                delegated_opt_out_ms,
            },
        );
        out.push(json!({
            "own": own.iter().map(d_grant_json).collect::<Vec<_>>(),
            "delegated": delegated.iter().map(|g| json!({
                "grant": d_grant_json(&g.grant),
                "delegation": d_delegation_json(&g.delegation, &g.undelegations),
                "endorsements": g.endorsements.iter().map(|(id, feed, t, d, u)| json!({
                    "id": hx(id.0),
                    "endorser": hx(feed.0),
                    "time_ms": t,
                    "delegation": d_delegation_json(d, u),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "opt_out_seq": opt_out_seq,
            "opt_out_ms": opt_out_ms,
            "delegated_opt_out_ms": delegated_opt_out_ms,
            "question": {
                "purpose": purpose_names(&[purpose as i32])[0],
                "category": category_names(&[category as i32])[0],
                "at_ms": at_ms,
            },
            "decision": answer.decision.as_str_name(),
            "reason": answer.reason.as_str_name(),
            "grant": answer.grant.map_or(String::new(), |g| hx(g.0)),
            "answer_delegated": answer.delegated.map_or(Value::Null, |d| delegation_used_json(&d.to_wire())),
        }));
    }
    json!({
        "subject": hx(D_SUBJECT.0),
        "cases": out,
    })
}
