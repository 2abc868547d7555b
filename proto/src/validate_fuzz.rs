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
        body in 0usize..9,
        ids in any::<[u8; 32]>(),
        ints in proptest::collection::vec(any::<i32>(), 0..20),
        n in any::<u32>(),
        text in ".{0,40}",
    ) {
        let w = world();
        let b = |v: &[u8]| Bytes::copy_from_slice(v);
        let wire = match body {
            0 => pb::entry_payload::Body::Inception(pb::Inception { role: ints.first().copied().unwrap_or(1), signing_key: b(&ids), next_key_digest: b(&ids) }),
            1 => pb::entry_payload::Body::Rotation(pb::Rotation { signing_key: b(&key("alice/1").public().to_bytes()), next_key_digest: b(&ids) }),
            2 => pb::entry_payload::Body::Policy(pb::Policy { version: n, name: text.clone(), purposes: ints.clone(), categories: ints.clone(), retention_days: n, recipients: vec![text.clone()], jurisdiction: text.clone(), document_digest: b(&ids), document_url: text.clone(), contact: text.clone(), scope: None }),
            3 => pb::entry_payload::Body::Accreditation(pb::Accreditation { collector: b(&ids), valid_until: u64::from(n) }),
            4 => pb::entry_payload::Body::Suspension(pb::Suspension { collector: b(&w.scene.collector.feed().0), reason: text.clone() }),
            5 => pb::entry_payload::Body::Grant(pb::Grant { collector: b(&w.scene.collector.feed().0), policy: b(&w.scene.policy.0), purposes: ints.clone(), categories: ints.clone(), retention_days: n, valid_from: u64::from(n), valid_until: time, scope: None }),
            6 => pb::entry_payload::Body::Revoke(pb::Revoke { grant: b(&ids), erase: n % 2 == 0 }),
            7 => pb::entry_payload::Body::Request(pb::Request { collector: b(&ids), kind: ints.first().copied().unwrap_or(0), details_digest: b(&ids[..(n % 33) as usize]) }),
            _ => pb::entry_payload::Body::Ack(pb::Ack { request: b(&ids), outcome: ints.first().copied().unwrap_or(0), reason: text.clone() }),
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
