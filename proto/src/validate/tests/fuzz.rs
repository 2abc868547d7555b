//! The decoder and validator never panic, whatever a signed payload holds.

use super::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    /// Arbitrary well-formed-or-not payloads, signed by a known key, never panic the decoder or
    /// the validator, whatever the ledger holds.
    #[test]
    fn validator_never_panics(
        feed in proptest::option::of(any::<[u8; 32]>()),
        seq in 0u64..4,
        prev in any::<[u8; 32]>(),
        time in prop_oneof![Just(T0), Just(0u64), Just(u64::MAX), any::<u64>()],
        body in 0usize..15,
        ids in any::<[u8; 32]>(),
        ints in proptest::collection::vec(any::<i32>(), 0..20),
        n in any::<u32>(),
        text in ".{0,40}",
        cells in proptest::collection::vec(prop_oneof![any::<u64>(), Just(0x8c19690822801ffu64), Just(0x8b1969082282fffu64)], 0..6),
        scoped in 0u32..4,
    ) {
        let w = world();
        let b = |v: &[u8]| Bytes::copy_from_slice(v);
        let u = |i: usize| ints.get(i).copied().unwrap_or(1).unsigned_abs();
        // Scopes with arbitrary numbers: versions, ids, cells, kinds, windows, forms.
        let window = || pb::TimeWindow { days: u(0) % 200, start_minute: u(1) % 1500, end_minute: u(2) % 1500 };
        let policy_scope = (scoped > 0).then(|| pb::PolicyScope {
            version: scoped % 3,
            utc_offset_minutes: ints.first().copied().unwrap_or(0) % 1000,
            zones: vec![pb::Zone { id: n % 3, name: text.clone(), resolution: u(3) % 17, cells: cells.clone() }],
            sensors: vec![pb::Sensor { id: n % 5, kind: ints.first().copied().unwrap_or(1), zone: u(4) % 3 }],
            windows: vec![window()],
            forms: vec![pb::PurposeForms { purpose: ints.first().copied().unwrap_or(1), offers: vec![pb::FormSpec { form: u(5) as i32 % 6, interval_s: u(6), resolution: u(7) % 17, min_group: u(8) % 1100 }] }],
        });
        let grant_scope = (scoped > 0).then(|| pb::GrantScope {
            version: scoped % 3,
            zones: ints.iter().map(|i| i.unsigned_abs() % 4).collect(),
            sensors: ints.iter().map(|i| i.unsigned_abs() % 6).collect(),
            sensor_kinds: ints.clone(),
            windows: vec![window()],
            forms: vec![pb::PurposeForm { purpose: ints.first().copied().unwrap_or(1), form: u(1) as i32 % 6 }],
        });
        // A delegate's statement in someone's name: the person, a delegation (arbitrary ids).
        let on_behalf = (scoped % 2 == 1).then(|| pb::OnBehalf { person: b(&ids), delegation: b(&ids[..(n % 33) as usize]) });
        let wire = match body {
            0 => pb::entry_payload::Body::Inception(pb::Inception { role: ints.first().copied().unwrap_or(1), signing_key: b(&ids), next_key_digest: b(&ids) }),
            1 => pb::entry_payload::Body::Rotation(pb::Rotation { signing_key: b(&key("alice/1").public().to_bytes()), next_key_digest: b(&ids) }),
            2 => pb::entry_payload::Body::Policy(pb::Policy { version: n, name: text.clone(), purposes: ints.clone(), categories: ints.clone(), retention_days: n, recipients: vec![text.clone()], jurisdiction: text.clone(), document_digest: b(&ids), document_url: text.clone(), contact: text.clone(), scope: policy_scope, consultation: (n % 2 == 0).then_some(pb::PolicyConsultation { closes_ms: time }) }),
            3 => pb::entry_payload::Body::Accreditation(pb::Accreditation { collector: b(&ids), valid_until: u64::from(n) }),
            4 => pb::entry_payload::Body::Suspension(pb::Suspension { collector: b(&w.scene.collector.feed().0), reason: text.clone() }),
            5 => pb::entry_payload::Body::Grant(pb::Grant { collector: b(&w.scene.collector.feed().0), policy: b(&w.scene.policy.0), purposes: ints.clone(), categories: ints.clone(), retention_days: n, valid_from: u64::from(n), valid_until: time, scope: grant_scope, on_behalf: on_behalf.clone() }),
            6 => pb::entry_payload::Body::Revoke(pb::Revoke { grant: b(&ids), erase: n % 2 == 0, on_behalf: on_behalf.clone() }),
            7 => pb::entry_payload::Body::Request(pb::Request { collector: b(&ids), kind: ints.first().copied().unwrap_or(0), details_digest: b(&ids[..(n % 33) as usize]), on_behalf: on_behalf.clone() }),
            8 => pb::entry_payload::Body::Ack(pb::Ack { request: b(&ids), outcome: ints.first().copied().unwrap_or(0), reason: text.clone() }),
            9 => pb::entry_payload::Body::Stance(pb::Stance { draft: b(&ids), kind: ints.first().copied().unwrap_or(0), reasons: ints.iter().skip(1).copied().collect(), details_digest: b(&ids[..(n % 33) as usize]) }),
            10 => pb::entry_payload::Body::Response(pb::ConsultationResponse { draft: b(&ids), reason: ints.first().copied().unwrap_or(0), text: text.clone(), document_digest: b(&ids[..(n % 33) as usize]) }),
            12 => pb::entry_payload::Body::Delegation(pb::Delegation { delegate: b(&ids), powers: ints.clone(), collectors: ints.iter().map(|_| b(&ids)).collect(), purposes: ints.iter().skip(1).copied().collect(), valid_until: time, kind: ints.first().copied().unwrap_or(0), co_signer: b(&ids[..(n % 33) as usize]) }),
            13 => pb::entry_payload::Body::Undelegation(pb::Undelegation { delegation: b(&ids), void_from_ms: time }),
            14 => pb::entry_payload::Body::Endorsement(pb::Endorsement { grant: b(&ids), on_behalf: on_behalf.clone() }),
            _ => pb::entry_payload::Body::Outcome(pb::ConsultationOutcome { draft: b(&ids), result: ints.first().copied().unwrap_or(0), text: text.clone(), responses: ints.iter().map(|_| b(&ids)).collect() }),
        };
        let payload = pb::EntryPayload {
            feed: feed.map(|f| b(&f)).unwrap_or_else(|| b(&w.alice.feed().0)),
            seq,
            prev: b(&prev),
            time_ms: time,
            body: Some(wire),
        };
        let mut ledger = w.ledger.clone();
        if let Ok(entry) = resigned(payload, &key("alice/0")) {
            let _ = ledger.submit(&entry, NOW);
        }
    }
}
