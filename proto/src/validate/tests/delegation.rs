//! Delegation (crate docs, "Delegation"): delegated statements in the delegate's own feed, the
//! delegation checks, guardians and minors' feeds, endorsements, undelegations.

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

mod guardians;
