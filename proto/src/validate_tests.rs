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

/// A second ack of one request is no error (the spec, "Acceptance": the latest ack is the
/// answer); only the same entry again is a duplicate.
#[test]
fn a_request_acked_twice_keeps_both_acks() {
    let mut w = world();
    let collector = w.scene.collector.feed();
    let req = w
        .alice
        .append(T0 + DAY, request(collector, RequestKind::Erasure))
        .expect("valid");
    accept(&mut w.ledger, &req);
    let ack = |answer| {
        Body::Ack(Ack {
            request: req.id,
            answer,
        })
    };
    let refused = append(
        &mut w.scene.collector,
        T0 + DAY,
        ack(AckAnswer::Refused("legal hold".into())),
    );
    accept(&mut w.ledger, &refused);
    let done = append(&mut w.scene.collector, T0 + 2 * DAY, ack(AckAnswer::Done));
    accept(&mut w.ledger, &done);
    // The same answer again, in a later entry: accepted too.
    let again = append(&mut w.scene.collector, T0 + 2 * DAY, ack(AckAnswer::Done));
    accept(&mut w.ledger, &again);
    assert!(matches!(
        w.ledger.submit(&done, NOW),
        Verdict::Duplicate { .. }
    ));
}

#[test]
fn pending_duplicate_equivocation_frozen() {
    let mut w = world();
    let b1 = w.grant_body();
    let e1 = w.alice.append(T0 + DAY, b1).expect("valid");
    let b2 = revoke(e1.id, false);
    let e2 = w.alice.append(T0 + DAY, b2).expect("valid");
    // Gap: e2 before e1, signed by the feed's current key: verified.
    assert_eq!(
        w.ledger.submit(&e2, NOW),
        Verdict::Pending {
            missing: Missing::Seq(w.alice.feed(), 1),
            verified: true
        }
    );
    accept(&mut w.ledger, &e1);
    accept(&mut w.ledger, &e2);
    assert_eq!(
        w.ledger.submit(&e1, NOW),
        Verdict::Duplicate { existing: e1.id }
    );
    // Unknown feed: pending on its inception.
    let (mut bob, _) = author(Role::Citizen, "bob", T0);
    let b = append(
        &mut bob,
        T0,
        request(w.scene.collector.feed(), RequestKind::Access),
    );
    assert_eq!(
        w.ledger.submit(&b, NOW),
        Verdict::Pending {
            missing: Missing::Seq(bob.feed(), 0),
            verified: false
        }
    );
    // Cross-feed reference missing: pending, signature verified.
    let body = grant(
        FeedId([5; 32]),
        EntryId([6; 32]),
        &[P::Research],
        &[C::Location],
        T0,
        None,
    );
    let e3 = w.alice.sign_next(T0 + DAY, &body).expect("valid");
    assert_eq!(
        w.ledger.submit(&e3, NOW),
        Verdict::Pending {
            missing: Missing::Feed(FeedId([5; 32])),
            verified: true
        }
    );
    // Equivocation at seq 2, then the feed is frozen.
    let fork = Author::resume(
        Role::Citizen,
        key("alice/0"),
        key("alice/1"),
        w.alice.feed(),
        1,
        e1.id,
    )
    .sign_next(
        T0 + DAY,
        &request(w.scene.collector.feed(), RequestKind::Access),
    )
    .expect("valid");
    assert!(matches!(
        w.ledger.submit(&fork, NOW),
        Verdict::Equivocation { .. }
    ));
    let next = w
        .alice
        .sign_next(
            T0 + DAY,
            &request(w.scene.collector.feed(), RequestKind::Access),
        )
        .expect("valid");
    assert_eq!(rejected(w.ledger.submit(&next, NOW)), Rejection::FeedFrozen);
    // A fork signed by another key is no proof, and says nothing about who relayed it: it may be
    // the author's on a branch that rotated earlier (checked on a fresh feed).
    let mut w2 = world();
    let b = w2.grant_body();
    let g = w2.alice.append(T0 + DAY, b).expect("valid");
    accept(&mut w2.ledger, &g);
    let forged = Entry::sign(
        Some(w2.alice.feed()),
        1,
        Some(g.prev.expect("has prev")),
        T0 + DAY,
        &request(w2.scene.collector.feed(), RequestKind::Erasure),
        &key("mallory"),
    )
    .expect("valid");
    let refused = rejected(w2.ledger.submit(&forged, NOW));
    assert_eq!(
        refused,
        Rejection::UnprovenConflict {
            seq: 1,
            fetch_from: 0
        }
    );
    assert!(refused.blameless());
}

/// Past the head, a signature is checked where the key that must have signed is known: the
/// feed's current key makes an entry verified; another key leaves it unverifiable (a rotation may
/// lie in the gap), never refused; a `Rotation` not signed by the key it names is refused, and one
/// to the committed next key is verified. Of a feed the node does not know, nothing is verified.
#[test]
fn entries_past_the_head_are_verified_where_the_key_is_known() {
    let mut w = world();
    let feed = w.alice.feed();
    let body = request(w.scene.collector.feed(), RequestKind::Access);
    let at = |seq: u64, key_label: &str, body: &Body| {
        Entry::sign(
            Some(feed),
            seq,
            Some(EntryId([9; 32])),
            T0 + DAY,
            body,
            &key(key_label),
        )
        .expect("valid")
    };
    let pending = |verified| Verdict::Pending {
        missing: Missing::Seq(feed, 2),
        verified,
    };
    // The current key (alice/0) signed it.
    assert_eq!(
        w.ledger.submit(&at(3, "alice/0", &body), NOW),
        pending(true)
    );
    // Another key: unverifiable, kept pending.
    assert_eq!(
        w.ledger.submit(&at(3, "mallory", &body), NOW),
        pending(false)
    );
    // A rotation to the committed next key (alice/1), signed by it: verified.
    let committed = Body::Rotation(Rotation {
        signing_key: key("alice/1").public(),
        next_key_digest: key("alice/2").public().next_key_digest(),
    });
    assert_eq!(
        w.ledger.submit(&at(3, "alice/1", &committed), NOW),
        pending(true)
    );
    // A rotation to a key committed later: signed by it, but unverifiable.
    let later = Body::Rotation(Rotation {
        signing_key: key("alice/5").public(),
        next_key_digest: key("alice/6").public().next_key_digest(),
    });
    assert_eq!(
        w.ledger.submit(&at(3, "alice/5", &later), NOW),
        pending(false)
    );
    // A rotation not signed by the key it names: never valid anywhere, refused.
    assert_eq!(
        rejected(w.ledger.submit(&at(3, "mallory", &committed), NOW)),
        Rejection::BadSignature
    );
    // A feed the node does not know: unverifiable whoever signed, but a badly signed rotation is
    // refused there too.
    let unknown = FeedId([7; 32]);
    let of_unknown = |key_label: &str, body: &Body| {
        Entry::sign(
            Some(unknown),
            4,
            Some(EntryId([9; 32])),
            T0 + DAY,
            body,
            &key(key_label),
        )
        .expect("valid")
    };
    assert_eq!(
        w.ledger.submit(&of_unknown("alice/0", &body), NOW),
        Verdict::Pending {
            missing: Missing::Seq(unknown, 0),
            verified: false
        }
    );
    assert_eq!(
        w.ledger.submit(&of_unknown("alice/1", &committed), NOW),
        Verdict::Pending {
            missing: Missing::Seq(unknown, 0),
            verified: false
        }
    );
    assert_eq!(
        rejected(w.ledger.submit(&of_unknown("mallory", &committed), NOW)),
        Rejection::BadSignature
    );
}

/// The split the security review reproduced: one branch rotates at seq s, the other signs an
/// ordinary entry at s with the key in force before it. Each node must see the other branch's
/// entry as an equivocation (not a bad signature), whichever it holds; later entries of the other
/// branch are refused without blame and name where that branch can be fetched from.
#[test]
fn a_fork_where_one_branch_rotates_is_an_equivocation_on_both_sides() {
    let w = world();
    let feed = w.alice.feed();
    let a0 = w.alice.head();
    let fork =
        |key0: &str, key1: &str| Author::resume(Role::Citizen, key(key0), key(key1), feed, 0, a0);
    // Branch R: rotation to alice/1 at seq 1, then a request signed by alice/1.
    let mut branch_r = fork("alice/0", "alice/1");
    let rotation = branch_r.rotate(T0 + DAY, key("alice/2")).expect("valid");
    let r2 = branch_r
        .append(
            T0 + DAY,
            request(w.scene.collector.feed(), RequestKind::Access),
        )
        .expect("valid");
    // Branch G: a grant at seq 1 signed by alice/0, then a request.
    let mut branch_g = fork("alice/0", "alice/1");
    let grant1 = branch_g.append(T0 + DAY, w.grant_body()).expect("valid");
    let g2 = branch_g
        .append(
            T0 + DAY,
            request(w.scene.collector.feed(), RequestKind::Erasure),
        )
        .expect("valid");
    let g3 = branch_g
        .append(
            T0 + DAY,
            request(w.scene.collector.feed(), RequestKind::Access),
        )
        .expect("valid");

    // A node holding branch R.
    let mut holds_r = world().ledger;
    accept(&mut holds_r, &rotation);
    accept(&mut holds_r, &r2);
    // G's seq 2 is not signed by the key R has in force at seq 1: unproven, fetch from seq 1.
    let refused = rejected(holds_r.submit(&g2, NOW));
    assert_eq!(
        refused,
        Rejection::UnprovenConflict {
            seq: 2,
            fetch_from: 1
        }
    );
    assert!(refused.blameless());
    assert_eq!(refused.fetch_from(), Some(1));
    // G's seq 3 names G's seq 2 as prev: another branch, fetch from where R's key came in.
    let refused = rejected(holds_r.submit(&g3, NOW));
    assert_eq!(
        refused,
        Rejection::WrongPrev {
            head_seq: 2,
            fetch_from: 1
        }
    );
    assert!(refused.blameless());
    // Fetching from seq 1 brings G's grant: the keys as of seq 0 signed it.
    assert!(matches!(
        holds_r.submit(&grant1, NOW),
        Verdict::Equivocation { .. }
    ));
    assert_eq!(rejected(holds_r.submit(&g2, NOW)), Rejection::FeedFrozen);

    // A node holding branch G sees R's rotation (to the committed key) as an equivocation too.
    let mut holds_g = world().ledger;
    accept(&mut holds_g, &grant1);
    accept(&mut holds_g, &g2);
    assert!(matches!(
        holds_g.submit(&rotation, NOW),
        Verdict::Equivocation { .. }
    ));

    // A rotation to a key that was never committed proves nothing.
    let mut holds_g = world().ledger;
    accept(&mut holds_g, &grant1);
    let rogue = Author::resume(Role::Citizen, key("alice/0"), key("mallory"), feed, 0, a0)
        .rotate(T0 + DAY, key("mallory/next"))
        .expect("valid");
    assert!(matches!(
        rejected(holds_g.submit(&rogue, NOW)),
        Rejection::UnprovenConflict { seq: 1, .. }
    ));
}

#[test]
fn every_rejection_code_is_distinct() {
    let samples = [
        Rejection::TooLarge { size: 1, max: 0 },
        Rejection::Malformed(String::new()),
        Rejection::NonCanonical,
        Rejection::BadSignatureLength(0),
        Rejection::MissingBody,
        Rejection::BadField {
            field: "x",
            problem: String::new(),
        },
        Rejection::BadSeq(String::new()),
        Rejection::WrongPrev {
            head_seq: 0,
            fetch_from: 0,
        },
        Rejection::UnprovenConflict {
            seq: 0,
            fetch_from: 0,
        },
        Rejection::TimeBeforePrev {
            time_ms: 0,
            prev_ms: 0,
        },
        Rejection::TimeInFuture {
            time_ms: 0,
            now_ms: 0,
            skew_ms: 0,
        },
        Rejection::TimeTooOld(0),
        Rejection::BodyNotAllowed {
            role: Role::Citizen,
            body: crate::body::BodyKind::Ack,
        },
        Rejection::BadSignature,
        Rejection::RotationKeyNotCommitted,
        Rejection::RegistrarNotInGenesis,
        Rejection::NotACollector,
        Rejection::PolicyNotOfCollector,
        Rejection::PurposeNotInPolicy,
        Rejection::CategoryNotInPolicy,
        Rejection::RetentionExceedsPolicy(0),
        Rejection::PolicyVersionNotIncreasing {
            version: 0,
            previous: 0,
        },
        Rejection::AccreditationExpired,
        Rejection::UnknownGrant,
        Rejection::AlreadyRevoked,
        Rejection::AckNotForCollector,
        Rejection::FeedFrozen,
        Rejection::ZoneNotInPolicy(0),
        Rejection::SensorNotInPolicy {
            sensor: Some(0),
            kind: None,
        },
        Rejection::WindowNotInPolicy(TimeWindow {
            days: 1,
            start_minute: 0,
            end_minute: 1,
        }),
        Rejection::FormNotOffered {
            purpose: P::Billing,
            form: Form::Raw,
        },
        Rejection::NotDelegated,
        Rejection::PowerNotDelegated(crate::body::BodyKind::Grant),
        Rejection::CollectorNotDelegated(FeedId([1; 32])),
        Rejection::PurposeNotDelegated(P::Billing),
        Rejection::DelegationNotInForce {
            signed_ms: 0,
            from_ms: 1,
            until_ms: None,
        },
        Rejection::MinorFeed {
            body: crate::body::BodyKind::Grant,
            until_ms: 0,
        },
        Rejection::GuardianMisplaced,
        Rejection::NotEndorsable,
        Rejection::UnknownDelegation,
    ];
    let codes: HashSet<_> = samples.iter().map(Rejection::code).collect();
    assert_eq!(codes.len(), samples.len());
}

type GrantEdit = Box<dyn Fn(&mut pb::GrantScope)>;
type PolicyEdit = Box<dyn Fn(&mut pb::PolicyScope)>;

fn grant_edit(f: impl Fn(&mut pb::GrantScope) + 'static) -> GrantEdit {
    Box::new(f)
}

fn policy_edit(f: impl Fn(&mut pb::PolicyScope) + 'static) -> PolicyEdit {
    Box::new(f)
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

#[test]
fn a_grant_scope_is_checked_against_the_policy_scope_after_the_other_grant_rules() {
    let (mut ledger, street, bea) = street_world();
    let mut submit = |purposes: &[P], retention_days: u32, scope: GrantScope| {
        let mut body = scoped_grant(
            street.collector.feed(),
            street.policy,
            purposes,
            &[C::Location],
            scope,
        );
        if let Body::Grant(g) = &mut body {
            g.retention_days = retention_days;
        }
        let e = bea.sign_next(T0 + DAY, &body).expect("structurally valid");
        ledger.submit(&e, NOW)
    };
    let evening = TimeWindow {
        days: EVERY_DAY,
        start_minute: 18 * 60,
        end_minute: 24 * 60,
    };
    let early = TimeWindow {
        days: EVERY_DAY,
        start_minute: 5 * 60,
        end_minute: 7 * 60,
    };
    let bad = GrantScope {
        zones: vec![1, 7, 9],
        sensors: vec![2, 9],
        sensor_kinds: [SensorKind::Noise].into_iter().collect(),
        windows: vec![evening, early],
        forms: vec![(P::UrbanPlanning, Form::Raw)],
    };
    let planning = [P::UrbanPlanning];
    // The grant rules before the scope: purpose, then retention.
    let no_floors = GrantScope {
        forms: Vec::new(),
        ..bad.clone()
    };
    assert_eq!(
        rejected(submit(&[P::Research], 30, no_floors)),
        Rejection::PurposeNotInPolicy
    );
    assert_eq!(
        rejected(submit(&planning, 366, bad.clone())),
        Rejection::RetentionExceedsPolicy(365)
    );
    // Then zones, sensor ids, sensor kinds, windows, forms; the first offending item named.
    assert_eq!(
        rejected(submit(&planning, 30, bad.clone())),
        Rejection::ZoneNotInPolicy(7)
    );
    let bad = GrantScope {
        zones: vec![1, 2],
        ..bad
    };
    assert_eq!(
        rejected(submit(&planning, 30, bad.clone())),
        Rejection::SensorNotInPolicy {
            sensor: Some(9),
            kind: None
        }
    );
    let bad = GrantScope {
        sensors: vec![2],
        ..bad
    };
    assert_eq!(
        rejected(submit(&planning, 30, bad.clone())),
        Rejection::SensorNotInPolicy {
            sensor: None,
            kind: Some(SensorKind::Noise)
        }
    );
    let bad = GrantScope {
        sensor_kinds: [SensorKind::AirQuality].into_iter().collect(),
        ..bad
    };
    assert_eq!(
        rejected(submit(&planning, 30, bad.clone())),
        Rejection::WindowNotInPolicy(early)
    );
    let bad = GrantScope {
        windows: vec![evening],
        ..bad
    };
    assert_eq!(
        rejected(submit(&planning, 30, bad.clone())),
        Rejection::FormNotOffered {
            purpose: P::UrbanPlanning,
            form: Form::Raw
        }
    );
    let good = GrantScope {
        forms: vec![(P::UrbanPlanning, Form::Aggregated)],
        ..bad
    };
    assert!(matches!(
        submit(&planning, 30, good),
        Verdict::Accept { .. }
    ));
}

#[test]
fn under_a_policy_without_scope_a_grant_may_narrow_only_windows() {
    let mut w = world();
    let scoped = |w: &W, scope: GrantScope| {
        scoped_grant(
            w.scene.collector.feed(),
            w.scene.policy,
            &[P::Research],
            &[C::Location],
            scope,
        )
    };
    let office = TimeWindow {
        days: 0x1f,
        start_minute: 7 * 60,
        end_minute: 19 * 60,
    };
    let cases = [
        (
            GrantScope {
                zones: vec![1],
                ..GrantScope::default()
            },
            Rejection::ZoneNotInPolicy(1),
        ),
        (
            GrantScope {
                sensors: vec![1],
                ..GrantScope::default()
            },
            Rejection::SensorNotInPolicy {
                sensor: Some(1),
                kind: None,
            },
        ),
        (
            GrantScope {
                sensor_kinds: [SensorKind::Camera].into_iter().collect(),
                ..GrantScope::default()
            },
            Rejection::SensorNotInPolicy {
                sensor: None,
                kind: Some(SensorKind::Camera),
            },
        ),
        (
            GrantScope {
                forms: vec![(P::Research, Form::Aggregated)],
                ..GrantScope::default()
            },
            Rejection::FormNotOffered {
                purpose: P::Research,
                form: Form::Aggregated,
            },
        ),
    ];
    for (scope, why) in cases {
        let body = scoped(&w, scope);
        assert_eq!(rejected(w.submit_next(body)), why);
    }
    let body = scoped(
        &w,
        GrantScope {
            windows: vec![office],
            ..GrantScope::default()
        },
    );
    assert!(matches!(w.submit_next(body), Verdict::Accept { .. }));
}

#[test]
fn every_refused_scope_on_the_wire_is_a_bad_field_naming_it() {
    let w = world();
    // A grant's scope: each edit of a valid narrowing, and the field it is refused for.
    let valid = || GrantScope {
        windows: vec![TimeWindow {
            days: 1,
            start_minute: 0,
            end_minute: 60,
        }],
        forms: vec![(P::ServiceProvision, Form::Raw)],
        ..GrantScope::default()
    };
    let grant_cases: Vec<(GrantEdit, &str)> = vec![
        (grant_edit(|g| g.version = 2), "grant.scope.version"),
        (
            grant_edit(|g| {
                *g = pb::GrantScope {
                    version: 1,
                    ..Default::default()
                }
            }),
            "grant.scope",
        ),
        // An empty message: no version either.
        (
            grant_edit(|g| *g = pb::GrantScope::default()),
            "grant.scope.version",
        ),
        (grant_edit(|g| g.zones = vec![2, 1]), "grant.scope.zones"),
        (grant_edit(|g| g.sensors = vec![0]), "grant.scope.sensors"),
        (
            grant_edit(|g| g.sensor_kinds = vec![0]),
            "grant.scope.sensor_kinds",
        ),
        (
            grant_edit(|g| g.windows[0].end_minute = 1441),
            "grant.scope.windows",
        ),
        (
            grant_edit(|g| g.forms[0].purpose = P::Research as i32),
            "grant.scope.forms.purpose",
        ),
        (
            grant_edit(|g| g.forms[0].form = 0),
            "grant.scope.forms.form",
        ),
    ];
    for (edit, field) in grant_cases {
        let body = scoped_grant(
            w.scene.collector.feed(),
            w.scene.policy,
            &[P::ServiceProvision],
            &[C::Location],
            valid(),
        );
        let mut p = next_payload(&w, body);
        if let Some(pb::entry_payload::Body::Grant(g)) = &mut p.body
            && let Some(scope) = &mut g.scope
        {
            edit(scope);
        }
        match resigned(p, &key("alice/0")) {
            Err(Rejection::BadField { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected bad field {field}, got {other:?}"),
        }
    }
    // A policy's scope, on a collector's policy entry (decoding alone judges it).
    let policy_cases: Vec<(PolicyEdit, &str)> = vec![
        (
            policy_edit(|s| *s = pb::PolicyScope::default()),
            "policy.scope.version",
        ),
        (
            policy_edit(|s| s.utc_offset_minutes = 50),
            "policy.scope.utc_offset_minutes",
        ),
        (
            policy_edit(|s| s.zones[0].cells[0] ^= 1),
            "policy.scope.zones.cells",
        ),
        (
            policy_edit(|s| s.sensors[0].zone = 5),
            "policy.scope.sensors.zone",
        ),
        (
            policy_edit(|s| s.forms[0].purpose = P::Marketing as i32),
            "policy.scope.forms.purpose",
        ),
        (
            policy_edit(|s| s.forms[1].offers[0].interval_s = 7),
            "policy.scope.forms.offers",
        ),
    ];
    for (edit, field) in policy_cases {
        let mut p = next_payload(&w, street_policy());
        if let Some(pb::entry_payload::Body::Policy(policy)) = &mut p.body
            && let Some(scope) = &mut policy.scope
        {
            edit(scope);
        }
        match resigned(p, &key("alice/0")) {
            Err(Rejection::BadField { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected bad field {field}, got {other:?}"),
        }
    }
}

#[path = "validate_fuzz.rs"]
mod fuzz;

// ---- Consultations (step 8: policies, stances, responses, outcomes) ----

/// A network whose genesis asks 14 days for a widening's consultation.
const MIN_DAYS: u32 = 14;
/// When the consultation entries below are submitted: after every window.
const LATE: u64 = T0 + 60 * DAY;

fn consultation_world(rules: Option<u32>) -> W {
    let mut w = world();
    w.ledger.require_consultations(
        rules.map(|widening_min_days| crate::consultation::Rules { widening_min_days }),
    );
    w
}

fn policy_body(version: u32, edit: impl FnOnce(&mut crate::body::Policy)) -> Body {
    let Body::Policy(mut p) = policy(version) else {
        unreachable!("a policy")
    };
    edit(&mut p);
    Body::Policy(p)
}

fn with_window(closes_ms: u64) -> impl FnOnce(&mut crate::body::Policy) {
    move |p: &mut crate::body::Policy| {
        p.consultation = Some(crate::body::Consultation { closes_ms })
    }
}

/// The street policy `version`, edited.
fn street_version(version: u32, edit: impl FnOnce(&mut crate::body::Policy)) -> Body {
    let Body::Policy(mut p) = street_policy() else {
        unreachable!("a policy")
    };
    p.version = version;
    edit(&mut p);
    Body::Policy(p)
}

fn state_of(ledger: &MemoryLedger, feed: FeedId) -> crate::validate::FeedState {
    use crate::validate::LedgerView;
    match ledger.feed(&feed) {
        Ok(Some(s)) => s,
        _ => panic!("feed missing"),
    }
}

fn signed(author: &Author, time_ms: u64, body: &Body) -> Entry {
    author.sign_next(time_ms, body).expect("structurally valid")
}

fn submitted(ledger: &mut MemoryLedger, author: &mut Author, time_ms: u64, body: Body) -> Entry {
    let e = append(author, time_ms, body);
    let v = ledger.submit(&e, LATE);
    assert!(
        matches!(v, Verdict::Accept { .. }),
        "expected accept, got {v:?}"
    );
    e
}

#[test]
fn a_widening_needs_a_long_enough_consultation_where_the_genesis_asks_for_one() {
    let mut w = consultation_world(Some(MIN_DAYS));
    let t = T0 + DAY;
    let min_ms = u64::from(MIN_DAYS) * DAY;
    let marketing = |p: &mut crate::body::Policy| {
        p.purposes.insert(P::Marketing);
    };
    let col = &w.scene.collector;
    // No consultation.
    let e = signed(col, t, &policy_body(2, marketing));
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::WideningWithoutConsultation(vec!["purposes"])
    );
    // Too short, by a millisecond, or closing before it opens; too long.
    for closes_ms in [t + min_ms - 1, t, t - 1] {
        let e = signed(col, t, &draft_policy(2, closes_ms));
        assert_eq!(
            rejected(w.ledger.submit(&e, LATE)),
            Rejection::ConsultationTooShort { min_ms }
        );
    }
    let e = signed(col, t, &draft_policy(2, t + 365 * DAY + 1));
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::ConsultationTooLong
    );
    // A version that does not widen may have a short voluntary consultation, but not an empty one.
    let e = signed(col, t, &policy_body(2, with_window(t)));
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::ConsultationTooShort { min_ms: 1 }
    );
    let voluntary = signed(col, t, &policy_body(2, with_window(t + 1)));
    assert!(matches!(
        w.ledger.clone().submit(&voluntary, LATE),
        Verdict::Accept { .. }
    ));
    // A version that narrows needs none.
    let narrower = signed(col, t, &policy_body(2, |p| p.retention_days = 30));
    assert!(matches!(
        w.ledger.clone().submit(&narrower, LATE),
        Verdict::Accept { .. }
    ));
    // The exact minimum is enough: a draft. The base stays at version 1.
    let draft = submitted(
        &mut w.ledger,
        &mut w.scene.collector,
        t,
        draft_policy(2, t + min_ms),
    );
    let state = state_of(&w.ledger, w.scene.collector.feed());
    assert_eq!(state.policy_head, Some(draft.id));
    assert_eq!(state.policy_base, Some(w.scene.policy));
    assert_eq!(w.ledger.draft_facts(&draft.id).map(|d| d.gated), Some(true));
    // A voluntary consultation's version is the new base.
    let mut w2 = consultation_world(Some(MIN_DAYS));
    let v2 = submitted(
        &mut w2.ledger,
        &mut w2.scene.collector,
        t,
        policy_body(2, with_window(t + DAY)),
    );
    let state = state_of(&w2.ledger, w2.scene.collector.feed());
    assert_eq!(
        (state.policy_head, state.policy_base),
        (Some(v2.id), Some(v2.id))
    );
    assert_eq!(w2.ledger.draft_facts(&v2.id).map(|d| d.gated), Some(false));
}

#[test]
fn without_the_genesis_section_a_widening_needs_no_consultation_but_one_still_gates_it() {
    let mut w = consultation_world(None);
    let t = T0 + DAY;
    let e = signed(
        &w.scene.collector,
        t,
        &policy_body(2, |p| {
            p.purposes.insert(P::Marketing);
        }),
    );
    assert!(matches!(
        w.ledger.clone().submit(&e, LATE),
        Verdict::Accept { .. }
    ));
    // A one-millisecond window is long enough; the version is still a draft.
    let draft = submitted(
        &mut w.ledger,
        &mut w.scene.collector,
        t,
        draft_policy(2, t + 1),
    );
    let state = state_of(&w.ledger, w.scene.collector.feed());
    assert_eq!(state.policy_base, Some(w.scene.policy));
    assert_eq!(w.ledger.draft_facts(&draft.id).map(|d| d.gated), Some(true));
}

#[test]
fn a_version_is_compared_with_the_previous_one_and_with_the_last_that_is_no_draft() {
    let mut w = consultation_world(Some(MIN_DAYS));
    let t = T0 + DAY;
    let Body::Policy(drafted) = draft_policy(3, t + 15 * DAY) else {
        unreachable!("a policy")
    };
    submitted(
        &mut w.ledger,
        &mut w.scene.collector,
        t,
        draft_policy(2, t + 15 * DAY),
    );
    // Republishing the draft's content without a consultation: no change from the previous
    // version, but a widening from the base (version 1).
    let again = crate::body::Policy {
        consultation: None,
        ..drafted.clone()
    };
    let e = signed(&w.scene.collector, t + DAY, &Body::Policy(again));
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::WideningWithoutConsultation(vec!["purposes"])
    );
    // Going back to version 1's content withdraws the draft and needs no consultation.
    let back = submitted(&mut w.ledger, &mut w.scene.collector, t + DAY, policy(3));
    let state = state_of(&w.ledger, w.scene.collector.feed());
    assert_eq!(
        (state.policy_head, state.policy_base),
        (Some(back.id), Some(back.id))
    );
}

#[test]
fn an_id_kept_with_another_meaning_is_refused_against_the_previous_version_and_the_base() {
    let (mut ledger, mut street, _) = street_world();
    let t = T0 + DAY;
    let noise_at_2 = |p: &mut crate::body::Policy| {
        if let Some(s) = p.scope.as_mut() {
            s.sensors[1].kind = SensorKind::Noise;
        }
    };
    // Sensor 2, a camera, as a noise sensor.
    let e = signed(&street.collector, t, &street_version(2, noise_at_2));
    assert_eq!(
        rejected(ledger.submit(&e, LATE)),
        Rejection::IdRedefined(crate::policy_change::Redefined::Sensor {
            id: 2,
            was: SensorKind::Camera,
            now: SensorKind::Noise
        })
    );
    // A draft drops sensor 2 and adds a purpose; the next version gives id 2 to a noise sensor:
    // not a redefinition of the draft's ids, but of the base's.
    submitted(
        &mut ledger,
        &mut street.collector,
        t,
        street_version(2, |p| {
            p.purposes.insert(P::Marketing);
            if let Some(s) = p.scope.as_mut() {
                s.sensors.remove(1);
            }
            p.consultation = Some(crate::body::Consultation { closes_ms: t + DAY });
        }),
    );
    let e = signed(&street.collector, t + DAY, &street_version(3, noise_at_2));
    assert!(matches!(
        rejected(ledger.submit(&e, LATE)),
        Rejection::IdRedefined(crate::policy_change::Redefined::Sensor { id: 2, .. })
    ));
}

/// A world with a 14-day draft (version 2) signed at `T0 + DAY`, closing at `T0 + 15 * DAY`.
fn drafted() -> (W, Entry) {
    let mut w = consultation_world(Some(MIN_DAYS));
    let draft = submitted(
        &mut w.ledger,
        &mut w.scene.collector,
        T0 + DAY,
        draft_policy(2, T0 + 15 * DAY),
    );
    (w, draft)
}

#[test]
fn a_stance_names_a_consultation_and_is_signed_while_it_is_open() {
    let (mut w, draft) = drafted();
    let closes_ms = T0 + 15 * DAY;
    let object = [crate::vocab::ObjectionReason::RetentionTooLong];
    let unknown = EntryId([7; 32]);
    let e = signed(&w.alice, T0 + 2 * DAY, &stance(unknown, &[]));
    assert_eq!(
        w.ledger.submit(&e, LATE),
        Verdict::Pending {
            missing: Missing::Entry(unknown),
            verified: true
        }
    );
    for not_one in [w.scene.policy, w.scene.entries[3].id] {
        let e = signed(&w.alice, T0 + 2 * DAY, &stance(not_one, &object));
        assert_eq!(
            rejected(w.ledger.submit(&e, LATE)),
            Rejection::NotAConsultation
        );
    }
    for time in [T0 + DAY - 1, closes_ms] {
        let e = signed(&w.alice, time, &stance(draft.id, &object));
        assert_eq!(
            rejected(w.ledger.submit(&e, LATE)),
            Rejection::OutsideConsultationWindow {
                opened_ms: T0 + DAY,
                closes_ms
            }
        );
    }
    submitted(
        &mut w.ledger,
        &mut w.alice,
        T0 + DAY,
        stance(draft.id, &object),
    );
    submitted(
        &mut w.ledger,
        &mut w.alice,
        closes_ms - 1,
        stance(draft.id, &[]),
    );
    // The latest counts; alice holds no grant to the collector.
    let counts = w.ledger.consultation_counts(&draft.id);
    assert_eq!((counts.others.support, counts.others.object), (1, 0));
    assert_eq!(counts.affected, crate::consultation::Tally::default());
    // Only citizens take a stance.
    let e = signed(&w.scene.collector, T0 + 2 * DAY, &stance(draft.id, &[]));
    assert!(matches!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::BodyNotAllowed { .. }
    ));
}

#[test]
fn a_response_answers_the_collectors_own_consultation() {
    let (mut w, draft) = drafted();
    let reason = crate::vocab::ObjectionReason::RetentionTooLong;
    // Another collector's draft, an entry not held, its own policy without a consultation.
    let (other, o0) = author(Role::Collector, "other collector", T0);
    accept(&mut w.ledger, &o0);
    let e = signed(
        &other,
        T0 + 2 * DAY,
        &response(draft.id, reason, "We keep less."),
    );
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::NotOwnConsultation
    );
    let e = signed(
        &w.scene.collector,
        T0 + 2 * DAY,
        &response(EntryId([7; 32]), reason, "We keep less."),
    );
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::NotOwnConsultation
    );
    let e = signed(
        &w.scene.collector,
        T0 + 2 * DAY,
        &response(w.scene.policy, reason, "We keep less."),
    );
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::NotAConsultation
    );
    submitted(
        &mut w.ledger,
        &mut w.scene.collector,
        T0 + 2 * DAY,
        response(
            draft.id,
            reason,
            "We keep location data for 30 days at most.",
        ),
    );
    // Responses may come after the window.
    submitted(
        &mut w.ledger,
        &mut w.scene.collector,
        T0 + 20 * DAY,
        response(draft.id, reason, "Updated: 20 days."),
    );
}

#[test]
fn an_outcome_comes_after_the_window_when_it_approves_and_lists_responses_to_its_draft() {
    let (mut w, draft) = drafted();
    let closes_ms = T0 + 15 * DAY;
    let reason = crate::vocab::ObjectionReason::Other;
    let answer = submitted(
        &mut w.ledger,
        &mut w.scene.collector,
        T0 + 2 * DAY,
        response(draft.id, reason, "Marketing only with a separate consent."),
    );
    let a_stance = submitted(
        &mut w.ledger,
        &mut w.alice,
        T0 + 2 * DAY,
        stance(draft.id, &[]),
    );
    let reg = &w.scene.registrar;
    let unknown = EntryId([7; 32]);
    let e = signed(reg, closes_ms, &outcome(unknown, true, "Approved.", &[]));
    assert_eq!(
        w.ledger.submit(&e, LATE),
        Verdict::Pending {
            missing: Missing::Entry(unknown),
            verified: true
        }
    );
    let e = signed(
        reg,
        closes_ms,
        &outcome(w.scene.policy, true, "Approved.", &[]),
    );
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::NotAConsultation
    );
    let e = signed(
        reg,
        closes_ms - 1,
        &outcome(draft.id, true, "Approved.", &[]),
    );
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::OutcomeTooEarly {
            not_before: closes_ms
        }
    );
    let e = signed(
        reg,
        T0 + DAY - 1,
        &outcome(draft.id, false, "Changes.", &[]),
    );
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::OutcomeTooEarly {
            not_before: T0 + DAY
        }
    );
    // Listed responses: held (else pending), responses to this draft.
    let e = signed(
        reg,
        closes_ms,
        &outcome(draft.id, true, "Approved.", &[unknown]),
    );
    assert_eq!(
        w.ledger.submit(&e, LATE),
        Verdict::Pending {
            missing: Missing::Entry(unknown),
            verified: true
        }
    );
    let e = signed(
        reg,
        closes_ms,
        &outcome(draft.id, true, "Approved.", &[answer.id, a_stance.id]),
    );
    assert_eq!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::ResponseNotForDraft(a_stance.id)
    );
    // Changes may be required during the window; an approval after it. Validity does not look
    // at other outcomes (the state rule does: changes required wins).
    let mut w2_ledger = w.ledger.clone();
    let mut reg2 = w.scene.registrar.clone();
    let early = submitted(
        &mut w2_ledger,
        &mut reg2,
        T0 + 2 * DAY,
        outcome(draft.id, false, "Say how long data is kept.", &[]),
    );
    submitted(
        &mut w2_ledger,
        &mut reg2,
        closes_ms,
        outcome(draft.id, true, "Approved.", &[answer.id]),
    );
    assert_eq!(
        w2_ledger
            .draft_facts(&draft.id)
            .and_then(|d| d.first_changes_required)
            .map(|o| o.id),
        Some(early.id)
    );
    let approval = submitted(
        &mut w.ledger,
        &mut w.scene.registrar,
        closes_ms,
        outcome(draft.id, true, "Approved.", &[answer.id]),
    );
    let facts = w.ledger.draft_facts(&draft.id).expect("a consultation");
    assert_eq!(
        crate::consultation::in_effect_from(&facts),
        approval.time_ms
    );
    // Only registrars record outcomes.
    let e = signed(
        &w.alice,
        closes_ms,
        &outcome(draft.id, true, "Approved.", &[]),
    );
    assert!(matches!(
        rejected(w.ledger.submit(&e, LATE)),
        Rejection::BodyNotAllowed { .. }
    ));
}

#[test]
fn consultation_fields_are_checked_on_the_wire() {
    let w = world();
    let draft = Bytes::from(vec![1; 32]);
    let stance_with = |kind: i32, reasons: Vec<i32>, digest: usize| {
        pb::entry_payload::Body::Stance(pb::Stance {
            draft: draft.clone(),
            kind,
            reasons,
            details_digest: Bytes::from(vec![2; digest]),
        })
    };
    let cases = [
        (stance_with(0, vec![], 0), "stance.kind"),
        (stance_with(9, vec![], 0), "stance.kind"),
        (stance_with(2, vec![], 0), "stance.reasons"),
        (stance_with(2, vec![1, 1], 0), "stance.reasons"),
        (stance_with(2, vec![0], 0), "stance.reasons"),
        (stance_with(2, vec![7], 0), "stance.reasons"),
        (
            stance_with(2, vec![1, 2, 3, 4, 5, 6, 1], 0),
            "stance.reasons",
        ),
        (stance_with(1, vec![1], 0), "stance.reasons"),
        (stance_with(1, vec![], 31), "stance.details_digest"),
        (
            pb::entry_payload::Body::Stance(pb::Stance {
                draft: Bytes::from(vec![1; 31]),
                kind: 1,
                ..Default::default()
            }),
            "stance.draft",
        ),
        (
            pb::entry_payload::Body::Response(pb::ConsultationResponse {
                draft: draft.clone(),
                reason: 0,
                text: "x".into(),
                document_digest: Bytes::new(),
            }),
            "response.reason",
        ),
        (
            pb::entry_payload::Body::Response(pb::ConsultationResponse {
                draft: draft.clone(),
                reason: 1,
                text: " padded".into(),
                document_digest: Bytes::new(),
            }),
            "response.text",
        ),
        (
            pb::entry_payload::Body::Response(pb::ConsultationResponse {
                draft: draft.clone(),
                reason: 1,
                text: "x".repeat(281),
                document_digest: Bytes::new(),
            }),
            "response.text",
        ),
        (
            pb::entry_payload::Body::Outcome(pb::ConsultationOutcome {
                draft: draft.clone(),
                result: 3,
                text: "x".into(),
                responses: vec![],
            }),
            "outcome.result",
        ),
        (
            pb::entry_payload::Body::Outcome(pb::ConsultationOutcome {
                draft: draft.clone(),
                result: 1,
                text: String::new(),
                responses: vec![],
            }),
            "outcome.text",
        ),
        (
            pb::entry_payload::Body::Outcome(pb::ConsultationOutcome {
                draft: draft.clone(),
                result: 1,
                text: "x".into(),
                responses: vec![draft.clone(); 2],
            }),
            "outcome.responses",
        ),
        (
            pb::entry_payload::Body::Outcome(pb::ConsultationOutcome {
                draft: draft.clone(),
                result: 1,
                text: "x".into(),
                responses: (0..7u8).map(|i| Bytes::from(vec![i; 32])).collect(),
            }),
            "outcome.responses",
        ),
        (
            pb::entry_payload::Body::Outcome(pb::ConsultationOutcome {
                draft: draft.clone(),
                result: 1,
                text: "x".into(),
                responses: vec![Bytes::from(vec![1; 33])],
            }),
            "outcome.responses",
        ),
    ];
    for (body, field) in cases {
        let mut p = next_payload(&w, w.grant_body());
        p.body = Some(body);
        match resigned(p, &key("alice/0")) {
            Err(Rejection::BadField { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected bad field {field}, got {other:?}"),
        }
    }
    // A window of 0 is no window.
    let mut p = next_payload(&w, policy(2));
    if let Some(pb::entry_payload::Body::Policy(policy)) = &mut p.body {
        policy.consultation = Some(pb::PolicyConsultation { closes_ms: 0 });
    }
    assert!(matches!(
        resigned(p, &key("alice/0")),
        Err(Rejection::BadField {
            field: "policy.consultation.closes_ms",
            ..
        })
    ));
    // The domain round-trips.
    for body in [
        stance(EntryId([1; 32]), &[crate::vocab::ObjectionReason::Other]),
        stance(EntryId([1; 32]), &[]),
        response(EntryId([1; 32]), crate::vocab::ObjectionReason::Other, "x"),
        outcome(EntryId([1; 32]), false, "x", &[EntryId([2; 32])]),
        draft_policy(2, T0),
    ] {
        assert_eq!(Body::from_wire(&body.to_wire()), Ok(body));
    }
}

/// Delegation (crate docs, "Delegation"): delegated statements in the delegate's own feed, the
/// delegation checks, guardians and minors' feeds, endorsements, undelegations.
mod delegation {
    use super::*;
    use crate::body::{BodyKind, OnBehalf};
    use crate::limits::MIN_TIME_MS;
    use crate::vocab::{DelegatedPower as Power, DelegationKind as Kind};

    const HOUR: u64 = 3_600_000;

    /// The delegation scene's ledger, at `NOW`.
    fn delegation_world() -> (MemoryLedger, DelegationScene) {
        let d = delegation_scene(T0);
        let mut ledger = MemoryLedger::new([d.scene.registrar.feed()]);
        for e in &d.entries {
            accept(&mut ledger, e);
        }
        (ledger, d)
    }

    /// The verdict on `body` signed next by `author` at `time_ms`, judged at `now_ms`; the author
    /// does not advance.
    fn judged(
        ledger: &mut MemoryLedger,
        author: &Author,
        time_ms: u64,
        body: &Body,
        now_ms: u64,
    ) -> Verdict {
        let e = author.sign_next(time_ms, body).expect("structurally valid");
        ledger.submit(&e, now_ms)
    }

    /// `body` signed next by `author` at `time_ms`, accepted at `now_ms` (the author advances).
    fn accepted(
        ledger: &mut MemoryLedger,
        author: &mut Author,
        time_ms: u64,
        body: Body,
        now_ms: u64,
    ) -> Entry {
        let e = append(author, time_ms, body);
        let v = ledger.submit(&e, now_ms);
        assert!(
            matches!(v, Verdict::Accept { .. }),
            "expected accept, got {v:?}"
        );
        e
    }

    fn incepted(ledger: &mut MemoryLedger, label: &str) -> Author {
        let (a, a0) = author(Role::Citizen, label, T0);
        accept(ledger, &a0);
        a
    }

    #[test]
    fn a_delegate_acts_inside_its_delegation_and_is_refused_outside_it() {
        let (mut ledger, mut d) = delegation_world();
        let t = T0 + DAY;
        let person = d.for_person();
        // Inside: a grant and a request in the person's name.
        let g = d.grant(person, P::Research);
        accepted(&mut ledger, &mut d.delegate, t, g, NOW);
        let access = in_name_of(person, request(d.collector(), RequestKind::Access));
        accepted(&mut ledger, &mut d.delegate, t, access, NOW);
        // Another collector (the street's, on the same ledger).
        let street = street_scene(T0);
        ledger.trust_registrar(street.registrar.feed());
        for e in &street.entries {
            accept(&mut ledger, e);
        }
        let elsewhere = in_name_of(
            person,
            scoped_grant(
                street.collector.feed(),
                street.policy,
                &[P::ServiceProvision],
                &[C::Location],
                GrantScope::default(),
            ),
        );
        assert_eq!(
            rejected(judged(&mut ledger, &d.delegate, t, &elsewhere, NOW)),
            Rejection::CollectorNotDelegated(street.collector.feed())
        );
        // A second delegate: GRANT alone, research alone, for five days.
        let mut narrow = incepted(&mut ledger, "narrow delegate");
        let limited = accepted(
            &mut ledger,
            &mut d.person,
            T0 + 2 * HOUR,
            delegation(
                narrow.feed(),
                Kind::Assistant,
                &[Power::Grant],
                &[],
                &[P::Research],
                Some(T0 + 5 * DAY),
                None,
            ),
            NOW,
        );
        let under = on_behalf(d.person.feed(), limited.id);
        // Another kind of entry than its powers allow.
        let ask = in_name_of(under, request(d.collector(), RequestKind::Access));
        assert_eq!(
            rejected(judged(&mut ledger, &narrow, t, &ask, NOW)),
            Rejection::PowerNotDelegated(BodyKind::Request)
        );
        // Another purpose.
        assert_eq!(
            rejected(judged(
                &mut ledger,
                &narrow,
                t,
                &d.grant(under, P::ServiceProvision),
                NOW
            )),
            Rejection::PurposeNotDelegated(P::ServiceProvision)
        );
        // Before the delegation, and from its end on.
        let research = d.grant(under, P::Research);
        let not_in_force = |signed_ms| Rejection::DelegationNotInForce {
            signed_ms,
            from_ms: T0 + 2 * HOUR,
            until_ms: Some(T0 + 5 * DAY),
        };
        assert_eq!(
            rejected(judged(
                &mut ledger,
                &narrow,
                T0 + 2 * HOUR - 1,
                &research,
                NOW
            )),
            not_in_force(T0 + 2 * HOUR - 1)
        );
        assert_eq!(
            rejected(judged(&mut ledger, &narrow, T0 + 5 * DAY, &research, NOW)),
            not_in_force(T0 + 5 * DAY)
        );
        accepted(&mut ledger, &mut narrow, T0 + 5 * DAY - 1, research, NOW);
        // GRANT lets a delegate revoke, too (in the person's name, a grant of the person's).
        let own = accepted(
            &mut ledger,
            &mut d.person,
            t,
            location_grant(&d.scene, P::ServiceProvision),
            NOW,
        );
        let undo = in_name_of(person, revoke(own.id, false));
        accepted(&mut ledger, &mut d.delegate, t, undo, NOW);
        // A feed the delegation does not name, a delegation of another person, an entry that is
        // no delegation, the delegate's own feed as the person.
        let stranger = incepted(&mut ledger, "stranger");
        assert_eq!(
            rejected(judged(
                &mut ledger,
                &stranger,
                t,
                &d.grant(person, P::Research),
                NOW
            )),
            Rejection::NotDelegated
        );
        let wrong_person = on_behalf(d.child.feed(), d.delegation.id);
        assert_eq!(
            rejected(judged(
                &mut ledger,
                &d.delegate,
                t,
                &d.grant(wrong_person, P::Research),
                NOW
            )),
            Rejection::NotDelegated
        );
        let no_delegation = on_behalf(d.person.feed(), own.id);
        assert_eq!(
            rejected(judged(
                &mut ledger,
                &d.delegate,
                t,
                &d.grant(no_delegation, P::Research),
                NOW
            )),
            Rejection::NotDelegated
        );
        let itself = on_behalf(d.delegate.feed(), d.delegation.id);
        assert!(matches!(
            rejected(judged(
                &mut ledger,
                &d.delegate,
                t,
                &d.grant(itself, P::Research),
                NOW
            )),
            Rejection::BadField {
                field: "on_behalf.person",
                ..
            }
        ));
        // A delegation to oneself, or naming oneself as co-signer.
        let to_self = |co_signer| {
            delegation(
                d.person.feed(),
                Kind::Guardian,
                &[Power::Grant],
                &[],
                &[],
                Some(T0 - T0 % DAY + 400 * DAY),
                co_signer,
            )
        };
        assert!(matches!(
            rejected(judged(&mut ledger, &d.person, t, &to_self(None), NOW)),
            Rejection::BadField {
                field: "delegation.delegate",
                ..
            }
        ));
        let mut helper = to_self(Some(d.person.feed()));
        if let Body::Delegation(x) = &mut helper {
            x.delegate = narrow.feed();
        }
        assert!(matches!(
            rejected(judged(&mut ledger, &d.person, t, &helper, NOW)),
            Rejection::BadField {
                field: "delegation.co_signer",
                ..
            }
        ));
    }

    #[test]
    fn a_delegation_may_name_a_feed_not_yet_known() {
        let (mut ledger, mut d) = delegation_world();
        let (mut later, l0) = author(Role::Citizen, "later delegate", T0);
        let given = accepted(
            &mut ledger,
            &mut d.person,
            T0 + DAY,
            delegation(
                later.feed(),
                Kind::Assistant,
                &[Power::Grant],
                &[],
                &[],
                None,
                None,
            ),
            NOW,
        );
        accept(&mut ledger, &l0);
        let g = d.grant(on_behalf(d.person.feed(), given.id), P::Research);
        accepted(&mut ledger, &mut later, T0 + 2 * DAY, g, NOW);
    }

    #[test]
    fn a_delegated_entry_awaits_its_delegation() {
        let d = delegation_scene(T0);
        let mut ledger = MemoryLedger::new([d.scene.registrar.feed()]);
        // Everything but the person's feed and its delegation.
        let held: Vec<&Entry> = d
            .entries
            .iter()
            .filter(|e| e.feed != d.person.feed())
            .collect();
        for e in &held {
            accept(&mut ledger, e);
        }
        let g = d.grant(d.for_person(), P::Research);
        let e = d.delegate.sign_next(T0 + DAY, &g).expect("valid");
        assert_eq!(
            ledger.submit(&e, NOW),
            Verdict::Pending {
                missing: Missing::Entry(d.delegation.id),
                verified: true,
            }
        );
        // A delegate resigning a delegation not held yet, an endorsement of a grant not held.
        let resign = undelegate(d.delegation.id, None);
        assert_eq!(
            judged(&mut ledger, &d.delegate, T0 + DAY, &resign, NOW),
            Verdict::Pending {
                missing: Missing::Entry(d.delegation.id),
                verified: true,
            }
        );
        let absent = EntryId([9; 32]);
        let endorsement = endorse(absent, d.for_child_by_co_guardian());
        assert_eq!(
            judged(&mut ledger, &d.co_guardian, T0 + DAY, &endorsement, NOW),
            Verdict::Pending {
                missing: Missing::Entry(absent),
                verified: true,
            }
        );
        // Once the person's feed and delegation arrive, the same entry is accepted.
        for e in d.entries.iter().filter(|e| e.feed == d.person.feed()) {
            accept(&mut ledger, e);
        }
        assert!(matches!(ledger.submit(&e, NOW), Verdict::Accept { .. }));
    }

    #[test]
    fn guardian_delegations_sit_at_seq_1_and_2() {
        let (mut ledger, d) = delegation_world();
        let coming = d.comes_of_age_ms;
        let guardian = |to: FeedId, valid_until: u64| {
            delegation(
                to,
                Kind::Guardian,
                &[Power::Grant],
                &[],
                &[],
                Some(valid_until),
                None,
            )
        };
        // A third guardian of the child.
        let third = incepted(&mut ledger, "third guardian");
        assert_eq!(
            rejected(judged(
                &mut ledger,
                &d.child,
                T0 + DAY,
                &guardian(third.feed(), coming),
                NOW
            )),
            Rejection::GuardianMisplaced
        );
        // At seq 2 after an assistant's delegation; at seq 2 with another valid_until.
        let mut adult = incepted(&mut ledger, "adult");
        let assistant = delegation(
            third.feed(),
            Kind::Assistant,
            &[Power::Grant],
            &[],
            &[],
            None,
            None,
        );
        accepted(&mut ledger, &mut adult, T0 + DAY, assistant, NOW);
        assert_eq!(
            rejected(judged(
                &mut ledger,
                &adult,
                T0 + DAY,
                &guardian(d.guardian.feed(), coming),
                NOW
            )),
            Rejection::GuardianMisplaced
        );
        let mut kid = incepted(&mut ledger, "kid");
        accepted(
            &mut ledger,
            &mut kid,
            T0 + DAY,
            guardian(d.guardian.feed(), coming),
            NOW,
        );
        assert_eq!(
            rejected(judged(
                &mut ledger,
                &kid,
                T0 + DAY,
                &guardian(third.feed(), coming + DAY),
                NOW
            )),
            Rejection::GuardianMisplaced
        );
        accepted(
            &mut ledger,
            &mut kid,
            T0 + DAY,
            guardian(third.feed(), coming),
            NOW,
        );
        // 2 of 2 only both ways: the second guardian mirrors the first's co-signer.
        let two_of_two = |to: FeedId, co: Option<FeedId>| {
            delegation(
                to,
                Kind::Guardian,
                &[Power::Grant],
                &[],
                &[],
                Some(coming),
                co,
            )
        };
        let mut twins = incepted(&mut ledger, "twins");
        let (a, b) = (d.guardian.feed(), third.feed());
        accepted(
            &mut ledger,
            &mut twins,
            T0 + DAY,
            two_of_two(a, Some(b)),
            NOW,
        );
        for (second, why) in [
            (
                two_of_two(b, None),
                "the second alone while the first needs it",
            ),
            (
                two_of_two(b, Some(d.co_guardian.feed())),
                "a third feed as co-signer",
            ),
            (
                two_of_two(d.co_guardian.feed(), Some(a)),
                "a delegate the first does not name",
            ),
        ] {
            assert_eq!(
                rejected(judged(&mut ledger, &twins, T0 + DAY, &second, NOW)),
                Rejection::GuardianMisplaced,
                "{why}"
            );
        }
        accepted(
            &mut ledger,
            &mut twins,
            T0 + DAY,
            two_of_two(b, Some(a)),
            NOW,
        );
        let mut one_sided = incepted(&mut ledger, "one-sided");
        accepted(
            &mut ledger,
            &mut one_sided,
            T0 + DAY,
            two_of_two(a, None),
            NOW,
        );
        assert_eq!(
            rejected(judged(
                &mut ledger,
                &one_sided,
                T0 + DAY,
                &two_of_two(b, Some(a)),
                NOW
            )),
            Rejection::GuardianMisplaced
        );
        // Structure: a guardian's valid_until is required and a UTC midnight; only a guardian
        // delegation has a co-signer, and never its delegate.
        let bad = |body: pb::Delegation| match Body::from_wire(
            &pb::entry_payload::Body::Delegation(body),
        ) {
            Err(Rejection::BadField { field, .. }) => field,
            other => panic!("expected a bad field, got {other:?}"),
        };
        let Body::Delegation(base) = guardian(third.feed(), coming) else {
            unreachable!("a delegation")
        };
        let pb::entry_payload::Body::Delegation(wire) = Body::Delegation(base).to_wire() else {
            unreachable!("a delegation")
        };
        let b = |bytes: &[u8]| Bytes::copy_from_slice(bytes);
        let cases: Vec<(pb::Delegation, &str)> = vec![
            (
                pb::Delegation {
                    valid_until: 0,
                    ..wire.clone()
                },
                "delegation.valid_until",
            ),
            (
                pb::Delegation {
                    valid_until: coming + 1,
                    ..wire.clone()
                },
                "delegation.valid_until",
            ),
            (
                pb::Delegation {
                    kind: 0,
                    ..wire.clone()
                },
                "delegation.kind",
            ),
            (
                pb::Delegation {
                    kind: 3,
                    ..wire.clone()
                },
                "delegation.kind",
            ),
            (
                pb::Delegation {
                    powers: vec![],
                    ..wire.clone()
                },
                "delegation.powers",
            ),
            (
                pb::Delegation {
                    powers: vec![1, 1],
                    ..wire.clone()
                },
                "delegation.powers",
            ),
            (
                pb::Delegation {
                    powers: vec![0],
                    ..wire.clone()
                },
                "delegation.powers",
            ),
            (
                pb::Delegation {
                    powers: vec![4],
                    ..wire.clone()
                },
                "delegation.powers",
            ),
            (
                pb::Delegation {
                    purposes: vec![0],
                    ..wire.clone()
                },
                "delegation.purposes",
            ),
            (
                pb::Delegation {
                    delegate: b(&[1; 31]),
                    ..wire.clone()
                },
                "delegation.delegate",
            ),
            (
                pb::Delegation {
                    collectors: vec![b(&[2; 32]), b(&[1; 32])],
                    ..wire.clone()
                },
                "delegation.collectors",
            ),
            (
                pb::Delegation {
                    collectors: vec![b(&[2; 32]), b(&[2; 32])],
                    ..wire.clone()
                },
                "delegation.collectors",
            ),
            (
                pb::Delegation {
                    collectors: (0..17u8).map(|i| b(&[i; 32])).collect(),
                    ..wire.clone()
                },
                "delegation.collectors",
            ),
            (
                pb::Delegation {
                    co_signer: wire.delegate.clone(),
                    ..wire.clone()
                },
                "delegation.co_signer",
            ),
            (
                pb::Delegation {
                    co_signer: b(&[5; 31]),
                    ..wire.clone()
                },
                "delegation.co_signer",
            ),
            (
                pb::Delegation {
                    kind: Kind::Assistant as i32,
                    co_signer: b(&[5; 32]),
                    ..wire.clone()
                },
                "delegation.co_signer",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(bad(body), field);
        }
        // An assistant's delegation needs no valid_until; ascending collectors are fine.
        let assistant = pb::Delegation {
            kind: Kind::Assistant as i32,
            valid_until: 0,
            collectors: vec![b(&[1; 32]), b(&[2; 32])],
            ..wire.clone()
        };
        let body = Body::from_wire(&pb::entry_payload::Body::Delegation(assistant)).expect("valid");
        assert_eq!(Body::from_wire(&body.to_wire()), Ok(body));
        // Undelegations and endorsements.
        let undelegation = |void_from_ms| pb::Undelegation {
            delegation: b(&[1; 32]),
            void_from_ms,
        };
        assert!(Body::from_wire(&pb::entry_payload::Body::Undelegation(undelegation(0))).is_ok());
        assert!(matches!(
            Body::from_wire(&pb::entry_payload::Body::Undelegation(undelegation(
                MIN_TIME_MS - 1
            ))),
            Err(Rejection::BadField {
                field: "undelegation.void_from_ms",
                ..
            })
        ));
        assert!(matches!(
            Body::from_wire(&pb::entry_payload::Body::Endorsement(pb::Endorsement {
                grant: b(&[1; 32]),
                on_behalf: None,
            })),
            Err(Rejection::BadField {
                field: "endorsement.on_behalf",
                ..
            })
        ));
        assert!(matches!(
            Body::from_wire(&pb::entry_payload::Body::Endorsement(pb::Endorsement {
                grant: b(&[1; 32]),
                on_behalf: Some(pb::OnBehalf {
                    person: b(&[2; 32]),
                    delegation: b(&[3; 30])
                }),
            })),
            Err(Rejection::BadField {
                field: "endorsement.on_behalf.delegation",
                ..
            })
        ));
    }

    #[test]
    fn a_minor_feed_cannot_grant_until_it_comes_of_age() {
        let (mut ledger, mut d) = delegation_world();
        let coming = d.comes_of_age_ms;
        let minor = |body| Rejection::MinorFeed {
            body,
            until_ms: coming,
        };
        let own = location_grant(&d.scene, P::Research);
        assert_eq!(
            rejected(judged(&mut ledger, &d.child, T0 + DAY, &own, NOW)),
            minor(BodyKind::Grant)
        );
        let helper = incepted(&mut ledger, "helper");
        let assistant = delegation(
            helper.feed(),
            Kind::Assistant,
            &[Power::Grant],
            &[],
            &[],
            None,
            None,
        );
        assert_eq!(
            rejected(judged(&mut ledger, &d.child, T0 + DAY, &assistant, NOW)),
            minor(BodyKind::Delegation)
        );
        let end_guardian = undelegate(d.guardian_delegation.id, None);
        assert_eq!(
            rejected(judged(&mut ledger, &d.child, T0 + DAY, &end_guardian, NOW)),
            minor(BodyKind::Undelegation)
        );
        // Withdrawing is never harder: a request (an opt-out) and a revocation of a guardian's
        // grant in the child's name are the child's to sign.
        let opt_out = request(d.collector(), RequestKind::OptOutSale);
        accepted(&mut ledger, &mut d.child, T0 + DAY, opt_out, NOW);
        let by_guardian = d.grant(d.for_child_by_guardian(), P::Research);
        let g = accepted(&mut ledger, &mut d.guardian, T0 + DAY, by_guardian, NOW);
        accepted(
            &mut ledger,
            &mut d.child,
            T0 + DAY,
            revoke(g.id, false),
            NOW,
        );
        // A millisecond before coming of age: still a minor's feed; from the instant on, its own.
        let then = coming + HOUR;
        assert_eq!(
            rejected(judged(&mut ledger, &d.child, coming - 1, &own, then)),
            minor(BodyKind::Grant)
        );
        accepted(&mut ledger, &mut d.child, coming, own, then);
        accepted(&mut ledger, &mut d.child, coming, assistant, then);
        accepted(&mut ledger, &mut d.child, coming, end_guardian, then);
    }

    #[test]
    fn guardians_are_refused_from_the_coming_of_age_instant() {
        let (mut ledger, mut d) = delegation_world();
        let coming = d.comes_of_age_ms;
        let then = coming + HOUR;
        let g = d.grant(d.for_child_by_guardian(), P::Research);
        assert_eq!(
            rejected(judged(&mut ledger, &d.guardian, coming, &g, then)),
            Rejection::DelegationNotInForce {
                signed_ms: coming,
                from_ms: T0 + HOUR,
                until_ms: Some(coming),
            }
        );
        let last = accepted(&mut ledger, &mut d.guardian, coming - 1, g, then);
        // The co-guardian's endorsement too.
        let endorsement = endorse(last.id, d.for_child_by_co_guardian());
        assert!(matches!(
            rejected(judged(
                &mut ledger,
                &d.co_guardian,
                coming,
                &endorsement,
                then
            )),
            Rejection::DelegationNotInForce { .. }
        ));
        accepted(
            &mut ledger,
            &mut d.co_guardian,
            coming - 1,
            endorsement,
            then,
        );
    }

    #[test]
    fn an_endorsement_needs_the_co_signer_delegation() {
        let (mut ledger, mut d) = delegation_world();
        let t = T0 + DAY;
        let g = d.grant(d.for_child_by_guardian(), P::Research);
        let g = accepted(&mut ledger, &mut d.guardian, t, g, NOW);
        // The guardian cannot endorse its own grant: its delegation names the co-guardian.
        let by_itself = endorse(g.id, d.for_child_by_guardian());
        assert_eq!(
            rejected(judged(&mut ledger, &d.guardian, t, &by_itself, NOW)),
            Rejection::NotEndorsable
        );
        // Not a grant; a grant in another person's name; the person's own grant.
        let co = d.for_child_by_co_guardian();
        let not_grant = endorse(d.guardian_delegation.id, co);
        assert_eq!(
            rejected(judged(&mut ledger, &d.co_guardian, t, &not_grant, NOW)),
            Rejection::NotEndorsable
        );
        let assisted = d.grant(d.for_person(), P::Research);
        let assisted = accepted(&mut ledger, &mut d.delegate, t, assisted, NOW);
        assert_eq!(
            rejected(judged(
                &mut ledger,
                &d.co_guardian,
                t,
                &endorse(assisted.id, co),
                NOW
            )),
            Rejection::NotEndorsable
        );
        // The co-guardian endorsing under the other guardian's delegation: not delegated.
        let borrowed = endorse(g.id, d.for_child_by_guardian());
        assert_eq!(
            rejected(judged(&mut ledger, &d.co_guardian, t, &borrowed, NOW)),
            Rejection::NotDelegated
        );
        accepted(&mut ledger, &mut d.co_guardian, t, endorse(g.id, co), NOW);
        // A second endorsement is valid too (the rule counts the earliest).
        accepted(
            &mut ledger,
            &mut d.co_guardian,
            t + 1,
            endorse(g.id, co),
            NOW,
        );
    }

    #[test]
    fn already_revoked_is_judged_within_one_feed() {
        let (mut ledger, mut d) = delegation_world();
        let t = T0 + DAY;
        let person = d.for_person();
        let g = d.grant(person, P::Research);
        let g = accepted(&mut ledger, &mut d.delegate, t, g, NOW);
        // The person revokes the delegate's grant; the delegate may still revoke it too, once.
        accepted(&mut ledger, &mut d.person, t, revoke(g.id, false), NOW);
        let again = in_name_of(person, revoke(g.id, true));
        accepted(&mut ledger, &mut d.delegate, t, again.clone(), NOW);
        assert_eq!(
            rejected(judged(&mut ledger, &d.delegate, t, &again, NOW)),
            Rejection::AlreadyRevoked
        );
        assert_eq!(
            rejected(judged(&mut ledger, &d.person, t, &revoke(g.id, false), NOW)),
            Rejection::AlreadyRevoked
        );
        // A feed that neither made the grant nor is its person: unknown grant.
        assert_eq!(
            rejected(judged(&mut ledger, &d.child, t, &revoke(g.id, false), NOW)),
            Rejection::UnknownGrant
        );
        // Nor in the name of a person the grant is not about.
        let own = accepted(
            &mut ledger,
            &mut d.person,
            t,
            location_grant(&d.scene, P::Research),
            NOW,
        );
        let wrong = in_name_of(d.for_child_by_guardian(), revoke(own.id, false));
        assert_eq!(
            rejected(judged(&mut ledger, &d.guardian, t, &wrong, NOW)),
            Rejection::UnknownGrant
        );
        // Nor by a delegate of the delegate, in the delegate's name: the grant's subject is the
        // person, not the delegate that signed it.
        let deputy = incepted(&mut ledger, "the delegate's own assistant");
        let sub = accepted(
            &mut ledger,
            &mut d.delegate,
            t,
            delegation(
                deputy.feed(),
                Kind::Assistant,
                &[Power::Revoke],
                &[],
                &[],
                None,
                None,
            ),
            NOW,
        );
        let fresh = d.grant(person, P::Research);
        let fresh = accepted(&mut ledger, &mut d.delegate, t, fresh, NOW);
        let chained = in_name_of(
            on_behalf(d.delegate.feed(), sub.id),
            revoke(fresh.id, false),
        );
        assert_eq!(
            rejected(judged(&mut ledger, &deputy, t, &chained, NOW)),
            Rejection::UnknownGrant
        );
        // Either guardian revokes the other's grant in the child's name.
        let by_guardian = d.grant(d.for_child_by_guardian(), P::Research);
        let gg = accepted(&mut ledger, &mut d.guardian, t, by_guardian, NOW);
        let by_co = in_name_of(d.for_child_by_co_guardian(), revoke(gg.id, false));
        accepted(&mut ledger, &mut d.co_guardian, t, by_co, NOW);
    }

    #[test]
    fn undelegations_end_the_persons_or_the_delegates_own_delegations_only() {
        let (mut ledger, mut d) = delegation_world();
        let t = T0 + DAY;
        let id = d.delegation.id;
        // After the time of the entry: refused.
        assert!(matches!(
            rejected(judged(
                &mut ledger,
                &d.person,
                t,
                &undelegate(id, Some(t + 1)),
                NOW
            )),
            Rejection::BadField {
                field: "undelegation.void_from_ms",
                ..
            }
        ));
        // A feed the delegation neither comes from nor names; an entry that is no delegation.
        let stranger = incepted(&mut ledger, "stranger");
        assert_eq!(
            rejected(judged(
                &mut ledger,
                &stranger,
                t,
                &undelegate(id, None),
                NOW
            )),
            Rejection::UnknownDelegation
        );
        assert_eq!(
            rejected(judged(
                &mut ledger,
                &d.person,
                t,
                &undelegate(d.scene.policy, None),
                NOW
            )),
            Rejection::UnknownDelegation
        );
        accepted(&mut ledger, &mut d.person, t, undelegate(id, Some(t)), NOW);
        // The delegate resigns too (several undelegations: the earliest end counts).
        accepted(&mut ledger, &mut d.delegate, t, undelegate(id, None), NOW);
        // Validity reads signed times only: an entry signed inside the delegation as given is
        // still valid (whether it counts is the decision rule's).
        let g = d.grant(d.for_person(), P::Research);
        accepted(&mut ledger, &mut d.delegate, t + HOUR, g, NOW);
        // A guardian resigns from the child's delegation (the child could not end it).
        accepted(
            &mut ledger,
            &mut d.guardian,
            t,
            undelegate(d.guardian_delegation.id, None),
            NOW,
        );
    }

    #[test]
    fn an_on_behalf_round_trips_and_old_entries_encode_as_before() {
        let d = delegation_scene(T0);
        let g = d.grant(d.for_person(), P::Research);
        assert_eq!(Body::from_wire(&g.to_wire()), Ok(g.clone()));
        assert_eq!(g.on_behalf(), Some(&d.for_person()));
        // The same grant without on_behalf encodes as grants always did (field 9 absent).
        let own = location_grant(&d.scene, P::Research);
        let (with, without) = (g.to_wire(), own.to_wire());
        let pb::entry_payload::Body::Grant(with) = with else {
            unreachable!("a grant")
        };
        let pb::entry_payload::Body::Grant(without) = without else {
            unreachable!("a grant")
        };
        assert!(without.on_behalf.is_none());
        assert_eq!(
            pb::Grant {
                on_behalf: None,
                ..with
            },
            without
        );
        let bad = pb::OnBehalf {
            person: Bytes::from_static(&[1; 32]),
            delegation: Bytes::new(),
        };
        assert!(matches!(
            Body::from_wire(&pb::entry_payload::Body::Revoke(pb::Revoke {
                grant: Bytes::from_static(&[2; 32]),
                erase: false,
                on_behalf: Some(bad),
            })),
            Err(Rejection::BadField {
                field: "revoke.on_behalf.delegation",
                ..
            })
        ));
        let _: Option<&OnBehalf> = own.on_behalf();
    }
}
