//! Validation of a feed's history: acks, pending entries, duplicates, equivocations and frozen
//! feeds, entries past the head, forks across a rotation, and the distinct rejection codes.

use super::*;

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
