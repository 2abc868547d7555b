//! One test per rejection reason, plus pending, duplicate, equivocation and rotation paths.

use std::collections::HashSet;

use prost::Message;
use prost::bytes::Bytes;

use crate::body::{Ack, AckAnswer, Body, Rotation};
use crate::entry::{Author, Entry};
use crate::fixtures::*;
use crate::ids::{EntryId, FeedId};
use crate::limits::MAX_ENTRY_BYTES;
use crate::memory::MemoryLedger;
use crate::pb;
use crate::scope::{EVERY_DAY, GrantScope, TimeWindow};
use crate::validate::{Missing, Rejection, Verdict};
use crate::vocab::{DataCategory as C, Form, Purpose as P, RequestKind, Role, SensorKind};

const NOW: u64 = T0 + 10 * DAY;

struct W {
    ledger: MemoryLedger,
    scene: Scene,
    alice: Author,
}

fn accept(ledger: &mut MemoryLedger, e: &Entry) {
    let v = ledger.submit(e, NOW);
    assert!(
        matches!(v, Verdict::Accept { .. }),
        "expected accept, got {v:?}"
    );
}

fn world() -> W {
    let scene = scene(T0);
    let mut ledger = MemoryLedger::new([scene.registrar.feed()]);
    for e in &scene.entries {
        accept(&mut ledger, e);
    }
    let (alice, a0) = author(Role::Citizen, "alice", T0);
    accept(&mut ledger, &a0);
    W {
        ledger,
        scene,
        alice,
    }
}

fn rejected(v: Verdict) -> Rejection {
    match v {
        Verdict::Reject(r) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

impl W {
    fn grant_body(&self) -> Body {
        grant(
            self.scene.collector.feed(),
            self.scene.policy,
            &[P::ServiceProvision],
            &[C::Location],
            T0,
            None,
        )
    }
    fn submit_next(&mut self, body: Body) -> Verdict {
        let e = self
            .alice
            .sign_next(T0 + DAY, &body)
            .expect("structurally valid");
        self.ledger.submit(&e, NOW)
    }
}

fn resigned(payload: pb::EntryPayload, key: &crate::keys::SecretKey) -> Result<Entry, Rejection> {
    let bytes = payload.encode_to_vec();
    let sig = key.sign(crate::domain::ENTRY_SIGNATURE, &bytes);
    Entry::from_signed(&pb::SignedEntry {
        payload: bytes.into(),
        signature: Bytes::copy_from_slice(&sig),
    })
}

fn next_payload(w: &W, body: Body) -> pb::EntryPayload {
    pb::EntryPayload {
        feed: Bytes::copy_from_slice(&w.alice.feed().0),
        seq: w.alice.seq() + 1,
        prev: Bytes::copy_from_slice(&w.alice.head().0),
        time_ms: T0 + DAY,
        body: Some(body.to_wire()),
    }
}

#[test]
fn too_large() {
    assert!(matches!(
        Entry::decode(&vec![1u8; MAX_ENTRY_BYTES + 1]),
        Err(Rejection::TooLarge { .. })
    ));
    let w = world();
    let mut p = next_payload(&w, w.grant_body());
    if let Some(pb::entry_payload::Body::Grant(g)) = &mut p.body {
        g.purposes = vec![1; 9000];
    }
    assert!(matches!(
        resigned(p, &key("alice/0")),
        Err(Rejection::TooLarge { .. })
    ));
}

#[test]
fn malformed_noncanonical_missing_body_bad_sig_len() {
    assert!(matches!(
        Entry::decode(b"\xff\xff"),
        Err(Rejection::Malformed(_))
    ));
    let w = world();
    let mut p = next_payload(&w, w.grant_body());
    p.body = None;
    assert_eq!(resigned(p, &key("alice/0")), Err(Rejection::MissingBody));
    let e = w.alice.sign_next(T0, &w.grant_body()).expect("valid");
    let mut short = e.to_signed();
    short.signature = Bytes::from_static(&[0; 63]);
    assert_eq!(
        Entry::from_signed(&short),
        Err(Rejection::BadSignatureLength(63))
    );
    let mut payload = e.payload.to_vec();
    payload.extend_from_slice(&[0x10, 0x00]); // seq again, explicit default: not canonical
    let sig = key("alice/0").sign(crate::domain::ENTRY_SIGNATURE, &payload);
    let signed = pb::SignedEntry {
        payload: payload.into(),
        signature: Bytes::copy_from_slice(&sig),
    };
    assert_eq!(Entry::from_signed(&signed), Err(Rejection::NonCanonical));
}

#[test]
fn bad_fields() {
    let w = world();
    let cases: Vec<(Body, &str)> = vec![
        (
            grant(
                w.scene.collector.feed(),
                w.scene.policy,
                &[],
                &[C::Location],
                T0,
                None,
            ),
            "grant.purposes",
        ),
        (
            grant(
                w.scene.collector.feed(),
                w.scene.policy,
                &[P::Research],
                &[C::Location],
                T0 + 5,
                Some(T0 + 5),
            ),
            "grant.valid_until",
        ),
    ];
    for (body, field) in cases {
        match w.alice.sign_next(T0, &body) {
            Err(Rejection::BadField { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected bad field {field}, got {other:?}"),
        }
    }
    // Duplicates and unspecified enum values, straight on the wire.
    let mut p = next_payload(&w, w.grant_body());
    if let Some(pb::entry_payload::Body::Grant(g)) = &mut p.body {
        g.purposes = vec![1, 1];
    }
    assert!(matches!(
        resigned(p, &key("alice/0")),
        Err(Rejection::BadField {
            field: "grant.purposes",
            ..
        })
    ));
    let mut p = next_payload(&w, w.grant_body());
    if let Some(pb::entry_payload::Body::Grant(g)) = &mut p.body {
        g.collector = Bytes::from_static(&[1, 2, 3]);
    }
    assert!(matches!(
        resigned(p, &key("alice/0")),
        Err(Rejection::BadField {
            field: "grant.collector",
            ..
        })
    ));
    let mut p = next_payload(&w, w.grant_body());
    p.body = Some(pb::entry_payload::Body::Ack(pb::Ack {
        request: Bytes::from(vec![0; 32]),
        outcome: 2,
        reason: String::new(),
    }));
    assert!(matches!(
        resigned(p, &key("alice/0")),
        Err(Rejection::BadField {
            field: "ack.reason",
            ..
        })
    ));
    let mut p = next_payload(&w, w.grant_body());
    p.body = Some(pb::entry_payload::Body::Suspension(pb::Suspension {
        collector: Bytes::from(vec![0; 32]),
        reason: "a\u{7}b".into(),
    }));
    assert!(matches!(
        resigned(p, &key("alice/0")),
        Err(Rejection::BadField {
            field: "suspension.reason",
            ..
        })
    ));
}

#[test]
fn bad_seq() {
    let w = world();
    let mut p = next_payload(&w, w.grant_body());
    p.seq = 0;
    assert!(matches!(
        resigned(p, &key("alice/0")),
        Err(Rejection::BadSeq(_))
    ));
    let (_, inception) = author(Role::Citizen, "bob", T0);
    let mut p = pb::EntryPayload::decode(inception.payload.as_ref()).expect("decodes");
    p.seq = 3;
    assert!(matches!(
        resigned(p, &key("bob/0")),
        Err(Rejection::BadSeq(_))
    ));
}

#[test]
fn wrong_prev() {
    let mut w = world();
    let mut p = next_payload(&w, w.grant_body());
    p.prev = Bytes::from(vec![7; 32]);
    let e = resigned(p, &key("alice/0")).expect("structurally valid");
    assert_eq!(
        rejected(w.ledger.submit(&e, NOW)),
        Rejection::WrongPrev {
            head_seq: 0,
            fetch_from: 0
        }
    );
}

#[test]
fn times() {
    let mut w = world();
    let body = w.grant_body();
    let e = w.alice.sign_next(T0 - 1, &body).expect("valid");
    assert!(matches!(
        rejected(w.ledger.submit(&e, NOW)),
        Rejection::TimeBeforePrev { .. }
    ));
    let e = w
        .alice
        .sign_next(NOW + 10 * 60 * 1000, &body)
        .expect("valid");
    assert!(matches!(
        rejected(w.ledger.submit(&e, NOW)),
        Rejection::TimeInFuture { .. }
    ));
    let (_, old) = author(Role::Citizen, "carol", 1_000);
    assert_eq!(
        rejected(w.ledger.submit(&old, NOW)),
        Rejection::TimeTooOld(1_000)
    );
}

#[test]
fn body_not_allowed_for_role() {
    let mut w = world();
    let body = policy(1);
    assert!(matches!(
        rejected(w.submit_next(body)),
        Rejection::BodyNotAllowed {
            role: Role::Citizen,
            body: crate::body::BodyKind::Policy
        }
    ));
}

#[test]
fn bad_signature() {
    let mut w = world();
    let e =
        resigned(next_payload(&w, w.grant_body()), &key("mallory")).expect("structurally valid");
    assert_eq!(rejected(w.ledger.submit(&e, NOW)), Rejection::BadSignature);
    // A flipped signature bit on an inception.
    let (_, bob) = author(Role::Citizen, "bob", T0);
    let mut signed = bob.to_signed();
    let mut sig = signed.signature.to_vec();
    sig[0] ^= 1;
    signed.signature = sig.into();
    let tampered = Entry::from_signed(&signed).expect("structurally valid");
    assert_eq!(
        rejected(w.ledger.submit(&tampered, NOW)),
        Rejection::BadSignature
    );
}

#[test]
fn rotation_with_committed_key_and_without() {
    let mut w = world();
    let uncommitted = Body::Rotation(Rotation {
        signing_key: key("other").public(),
        next_key_digest: key("x").public().next_key_digest(),
    });
    let e = crate::entry::Entry::sign(
        Some(w.alice.feed()),
        1,
        Some(w.alice.head()),
        T0 + DAY,
        &uncommitted,
        &key("other"),
    )
    .expect("valid");
    assert_eq!(
        rejected(w.ledger.submit(&e, NOW)),
        Rejection::RotationKeyNotCommitted
    );
    let rot = w.alice.rotate(T0 + DAY, key("alice/2")).expect("valid");
    accept(&mut w.ledger, &rot);
    // The old key no longer signs; the new one does.
    let body = w.grant_body();
    let old = Entry::sign(
        Some(w.alice.feed()),
        2,
        Some(rot.id),
        T0 + DAY,
        &body,
        &key("alice/0"),
    )
    .expect("valid");
    assert_eq!(
        rejected(w.ledger.submit(&old, NOW)),
        Rejection::BadSignature
    );
    let new = w.alice.append(T0 + DAY, body).expect("valid");
    accept(&mut w.ledger, &new);
}

#[test]
fn registrar_not_in_genesis() {
    let mut w = world();
    let (_, rogue) = author(Role::Registrar, "rogue-registrar", T0);
    assert_eq!(
        rejected(w.ledger.submit(&rogue, NOW)),
        Rejection::RegistrarNotInGenesis
    );
}

#[test]
fn references() {
    let mut w = world();
    // Grant naming a citizen as collector.
    let alice = w.alice.feed();
    let body = grant(
        alice,
        w.scene.policy,
        &[P::Research],
        &[C::Location],
        T0,
        None,
    );
    assert_eq!(rejected(w.submit_next(body)), Rejection::NotACollector);
    // Grant naming an entry that is not the collector's policy.
    let not_policy = w.scene.entries[3].id; // the accreditation
    let body = grant(
        w.scene.collector.feed(),
        not_policy,
        &[P::Research],
        &[C::Location],
        T0,
        None,
    );
    assert_eq!(
        rejected(w.submit_next(body)),
        Rejection::PolicyNotOfCollector
    );
    let body = grant(
        w.scene.collector.feed(),
        w.scene.policy,
        &[P::Marketing],
        &[C::Location],
        T0,
        None,
    );
    assert_eq!(rejected(w.submit_next(body)), Rejection::PurposeNotInPolicy);
    let body = grant(
        w.scene.collector.feed(),
        w.scene.policy,
        &[P::Research],
        &[C::Health],
        T0,
        None,
    );
    assert_eq!(
        rejected(w.submit_next(body)),
        Rejection::CategoryNotInPolicy
    );
    let mut body = w.grant_body();
    if let Body::Grant(g) = &mut body {
        g.retention_days = 366;
    }
    assert_eq!(
        rejected(w.submit_next(body)),
        Rejection::RetentionExceedsPolicy(365)
    );
    // Revoke of something that is not a grant; of an entry not held (it may be a delegate's
    // grant in this feed's name, from another feed): pending; double revoke.
    assert_eq!(
        rejected(w.submit_next(revoke(w.scene.policy, false))),
        Rejection::UnknownGrant
    );
    assert_eq!(
        w.submit_next(revoke(EntryId([3; 32]), false)),
        Verdict::Pending {
            missing: Missing::Entry(EntryId([3; 32])),
            verified: true,
        }
    );
    let body = w.grant_body();
    let g = w.alice.append(T0 + DAY, body).expect("valid");
    accept(&mut w.ledger, &g);
    let r = w.alice.append(T0 + DAY, revoke(g.id, true)).expect("valid");
    accept(&mut w.ledger, &r);
    assert_eq!(
        rejected(w.submit_next(revoke(g.id, false))),
        Rejection::AlreadyRevoked
    );
}

#[test]
fn collector_and_registrar_rules() {
    let mut w = world();
    let p = append(&mut w.scene.collector, T0 + DAY, policy(1));
    assert_eq!(
        rejected(w.ledger.submit(&p, NOW)),
        Rejection::PolicyVersionNotIncreasing {
            version: 1,
            previous: 1
        }
    );
    let collector = w.scene.collector.feed();
    let a = w
        .scene
        .registrar
        .sign_next(T0 + DAY, &accredit(collector, T0 + DAY))
        .expect("valid");
    assert_eq!(
        rejected(w.ledger.submit(&a, NOW)),
        Rejection::AccreditationExpired
    );
    let alice = w.alice.feed();
    let a = w
        .scene
        .registrar
        .sign_next(T0 + DAY, &accredit(alice, NOW))
        .expect("valid");
    assert_eq!(rejected(w.ledger.submit(&a, NOW)), Rejection::NotACollector);
}

#[test]
fn acks() {
    let mut w = world();
    let collector = w.scene.collector.feed();
    let req = w
        .alice
        .append(T0 + DAY, request(collector, RequestKind::Erasure))
        .expect("valid");
    accept(&mut w.ledger, &req);
    let ack = |request| {
        Body::Ack(Ack {
            request,
            answer: AckAnswer::Done,
        })
    };
    // A collector cannot ack something not addressed to it.
    let body = w.grant_body();
    let g = w.alice.append(T0 + DAY, body).expect("valid");
    accept(&mut w.ledger, &g);
    let plain = w
        .alice
        .append(T0 + DAY, revoke(g.id, false))
        .expect("valid");
    accept(&mut w.ledger, &plain);
    let bad = w
        .scene
        .collector
        .sign_next(T0 + DAY, &ack(plain.id))
        .expect("valid");
    assert_eq!(
        rejected(w.ledger.submit(&bad, NOW)),
        Rejection::AckNotForCollector
    );
    let good = append(&mut w.scene.collector, T0 + DAY, ack(req.id));
    accept(&mut w.ledger, &good);
    // Unknown target: pending, since it may be in flight from another feed.
    let later = w
        .scene
        .collector
        .sign_next(T0 + DAY, &ack(EntryId([8; 32])))
        .expect("valid");
    assert_eq!(
        w.ledger.submit(&later, NOW),
        Verdict::Pending {
            missing: Missing::Entry(EntryId([8; 32])),
            verified: true
        }
    );
}

/// The street scene's ledger and a citizen, Bea, in it.
fn street_world() -> (MemoryLedger, Scene, Author) {
    let street = street_scene(T0);
    let mut ledger = MemoryLedger::new([street.registrar.feed()]);
    for e in &street.entries {
        accept(&mut ledger, e);
    }
    let (bea, b0) = author(Role::Citizen, "bea", T0);
    accept(&mut ledger, &b0);
    (ledger, street, bea)
}

mod consultations;
mod delegation;
mod feeds;
mod fuzz;
mod scope;
