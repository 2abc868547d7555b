//! Validation of guardians' delegations, minors' feeds and coming of age, endorsements,
//! revocations judged within one feed, undelegations, and `on_behalf` on the wire.

use super::*;

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
    let bad =
        |body: pb::Delegation| match Body::from_wire(&pb::entry_payload::Body::Delegation(body)) {
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
