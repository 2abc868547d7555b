//! Delegated entries at the edges: backdated ones refused at submit, withdrawals that outlive
//! the delegation, an ex-delegate's entries kept but not delivered, and the listing order.

use super::*;

#[tokio::test]
async fn a_backdated_delegated_entry_is_refused_at_submit_only() {
    let mut w = world();
    let now = T0 + 10 * DAY;
    let (ledger, writer) = open(&w.scene, Clock::manual(now));
    // The history arrives from a peer (no admission): the delegate's old grant is taken.
    let out = ledger.submit(w.entries.clone()).await.expect("submit");
    assert!(
        out.iter().all(|o| matches!(o, Outcome::Accepted { .. })),
        "{out:?}"
    );
    // A backdated entry submitted ahead of the entry it waits for is refused, not parked: once
    // woken it would skip admission.
    let mut ahead = w.delegate.clone();
    let _gap = fixtures::append(
        &mut ahead,
        now,
        in_name_of(
            fixtures::location_grant(&w.scene, P::Research),
            w.person.feed(),
            w.delegation.id,
        ),
    );
    let skipped = fixtures::append(
        &mut ahead,
        now - DELEGATED_ENTRY_TOLERANCE_MS - 1,
        in_name_of(
            fixtures::location_grant(&w.scene, P::Marketing),
            w.person.feed(),
            w.delegation.id,
        ),
    );
    let out = ledger
        .submit_admitted(Source::Local, vec![skipped.clone()])
        .await
        .expect("submit");
    assert!(
        matches!(
            out[0],
            Outcome::Refused {
                refusal: Refusal::DelegatedEntryTooOld { .. },
                ..
            }
        ),
        "{out:?}"
    );
    assert_eq!(ledger.stats().pending, 0);

    // A grant in the person's name signed just over the tolerance before the node's clock.
    let signed = now - DELEGATED_ENTRY_TOLERANCE_MS - 1;
    let backdated = fixtures::append(
        &mut w.delegate,
        signed,
        in_name_of(
            fixtures::location_grant(&w.scene, P::ServiceProvision),
            w.person.feed(),
            w.delegation.id,
        ),
    );
    let out = ledger
        .submit_admitted(Source::Local, vec![backdated.clone()])
        .await
        .expect("submit");
    assert_eq!(
        out,
        vec![Outcome::Refused {
            id: backdated.id,
            refusal: Refusal::DelegatedEntryTooOld {
                signed_ms: signed,
                now_ms: now,
            },
        }]
    );
    assert!(ledger.entry(&backdated.id).expect("read").is_none());
    // From a peer (no admission), the same entry is taken.
    let out = ledger.submit(vec![backdated]).await.expect("submit");
    assert!(matches!(out[0], Outcome::Accepted { .. }), "{out:?}");

    // Exactly at the tolerance: taken at submission.
    let in_time = fixtures::append(
        &mut w.delegate,
        now - DELEGATED_ENTRY_TOLERANCE_MS,
        in_name_of(
            fixtures::location_grant(&w.scene, P::Research),
            w.person.feed(),
            w.delegation.id,
        ),
    );
    let out = ledger
        .submit_admitted(Source::Local, vec![in_time])
        .await
        .expect("submit");
    assert!(matches!(out[0], Outcome::Accepted { .. }), "{out:?}");

    // An undelegation is checked too.
    let old_undelegation = fixtures::append(
        &mut w.person,
        now - DELEGATED_ENTRY_TOLERANCE_MS - 1,
        Body::Undelegation(Undelegation {
            delegation: w.delegation.id,
            void_from_ms: None,
        }),
    );
    let out = ledger
        .submit_admitted(Source::Local, vec![old_undelegation])
        .await
        .expect("submit");
    assert!(
        matches!(
            out[0],
            Outcome::Refused {
                refusal: Refusal::DelegatedEntryTooOld { .. },
                ..
            }
        ),
        "{out:?}"
    );
    close(ledger, writer).await;
}

#[tokio::test]
async fn withdrawing_a_delegate_never_undoes_what_it_withdrew_and_it_can_take_back_its_own_grant() {
    let mut w = world();
    let (ledger, writer) = open(&w.scene, Clock::manual(T0 + 10 * DAY));
    let mut reference = MemoryLedger::new([w.scene.registrar.feed()]);
    accept(&ledger, &mut reference, &w.entries).await;
    let (person, collector) = (w.person.feed(), w.scene.collector.feed());
    let on_behalf = OnBehalf {
        person,
        delegation: w.delegation.id,
    };
    // The person's own grant, which the assistant withdraws in the person's name on day 4.
    let own = fixtures::append(
        &mut w.person,
        T0 + 3 * DAY,
        fixtures::location_grant(&w.scene, P::Research),
    );
    let withdrawn = fixtures::append(
        &mut w.delegate,
        T0 + 4 * DAY,
        fixtures::in_name_of(on_behalf, fixtures::revoke(own.id, false)),
    );
    // On day 5 the person ends the delegation, voiding it from day 1 (before both the
    // assistant's grant of day 2 and its revocation of day 4).
    let undelegation = fixtures::append(
        &mut w.person,
        T0 + 5 * DAY,
        fixtures::undelegate(w.delegation.id, Some(T0 + DAY)),
    );
    accept(&ledger, &mut reference, &[own, withdrawn, undelegation]).await;
    let now = ledger.now_ms();
    let research = decided(
        &ledger,
        &reference,
        &query(person, collector, P::Research, now),
    );
    assert_eq!(
        (research.decision, research.reason),
        (Decision::Deny, Reason::Revoked),
        "the revocation signed before the undelegation still counts"
    );
    let service = query(person, collector, P::ServiceProvision, now);
    let voided = decided(&ledger, &reference, &service);
    assert_eq!(
        (voided.reason, voided.grant),
        (Reason::DelegationWithdrawn, Some(w.grant.id))
    );
    // The ex-assistant takes its own grant back, in the person's name: it counts.
    let taken_back = fixtures::append(
        &mut w.delegate,
        T0 + 6 * DAY,
        fixtures::in_name_of(on_behalf, fixtures::revoke(w.grant.id, false)),
    );
    accept(&ledger, &mut reference, &[taken_back]).await;
    let revoked = decided(&ledger, &reference, &service);
    assert_eq!(
        (revoked.reason, revoked.grant),
        (Reason::Revoked, Some(w.grant.id))
    );
    close(ledger, writer).await;
}

#[tokio::test]
async fn an_ex_delegates_requests_and_revocations_are_kept_but_not_delivered_to_the_collector() {
    let mut w = world();
    let (ledger, writer) = open(&w.scene, Clock::manual(T0 + 10 * DAY));
    let mut reference = MemoryLedger::new([w.scene.registrar.feed()]);
    accept(&ledger, &mut reference, &w.entries).await;
    let (person, collector) = (w.person.feed(), w.scene.collector.feed());
    let on_behalf = OnBehalf {
        person,
        delegation: w.delegation.id,
    };
    let own = fixtures::append(
        &mut w.person,
        T0 + 3 * DAY,
        fixtures::location_grant(&w.scene, P::Research),
    );
    // While the delegation holds: an access request in the person's name is delivered.
    let in_time = fixtures::append(
        &mut w.delegate,
        T0 + 3 * DAY,
        fixtures::in_name_of(on_behalf, fixtures::request(collector, RequestKind::Access)),
    );
    let undelegation = fixtures::append(
        &mut w.person,
        T0 + 4 * DAY,
        fixtures::undelegate(w.delegation.id, None),
    );
    accept(
        &ledger,
        &mut reference,
        &[own.clone(), in_time.clone(), undelegation],
    )
    .await;
    // After it: a request and an erasing revocation of the person's grant, both valid.
    let late_request = fixtures::append(
        &mut w.delegate,
        T0 + 5 * DAY,
        fixtures::in_name_of(
            on_behalf,
            fixtures::request(collector, RequestKind::Erasure),
        ),
    );
    let late_revoke = fixtures::append(
        &mut w.delegate,
        T0 + 5 * DAY,
        fixtures::in_name_of(on_behalf, fixtures::revoke(own.id, true)),
    );
    accept(
        &ledger,
        &mut reference,
        &[late_request.clone(), late_revoke.clone()],
    )
    .await;
    let watched: Vec<EntryId> = ledger
        .watch_entries(&collector, 0, 10_000)
        .expect("watch")
        .into_iter()
        .map(|(_, e)| e.id)
        .collect();
    assert!(watched.contains(&in_time.id));
    assert!(!watched.contains(&late_request.id));
    assert!(!watched.contains(&late_revoke.id));
    // Both stay in the log and in what delegates signed in the person's name.
    assert!(ledger.entry(&late_request.id).expect("read").is_some());
    let listed: Vec<EntryId> = ledger
        .delegated_entries(&person, 0, 100)
        .expect("listed")
        .into_iter()
        .map(|(_, e)| e.id)
        .collect();
    assert!(listed.contains(&late_request.id) && listed.contains(&late_revoke.id));
    // And the revocation withdraws nothing.
    let now = ledger.now_ms();
    let research = decided(
        &ledger,
        &reference,
        &query(person, collector, P::Research, now),
    );
    assert_eq!(research.reason, Reason::Granted);
    close(ledger, writer).await;
}

#[tokio::test]
async fn a_feeds_own_delegations_are_listed_before_those_strangers_wrote_naming_it() {
    let w = world();
    let (ledger, writer) = open(&w.scene, Clock::system());
    let mut reference = MemoryLedger::new([w.scene.registrar.feed()]);
    let person = w.person.feed();
    // Strangers name the person as their delegate before the person delegates anything.
    let mut early = w.scene.entries.clone();
    let mut strangers = Vec::new();
    for i in 0..3 {
        let (mut stranger, s0) = fixtures::author(Role::Citizen, &format!("stranger {i}"), T0);
        let named = fixtures::append(
            &mut stranger,
            T0 + DAY,
            assistant(person, w.scene.collector.feed()),
        );
        strangers.push(named.id);
        early.extend([s0, named]);
    }
    accept(&ledger, &mut reference, &early).await;
    let rest: Vec<Entry> = w.entries[w.scene.entries.len()..].to_vec();
    accept(&ledger, &mut reference, &rest).await;
    let listed: Vec<EntryId> = ledger
        .delegations(&person)
        .expect("delegations")
        .into_iter()
        .map(|d| d.entry.id)
        .collect();
    let mut expected = vec![w.delegation.id];
    expected.extend(strangers);
    assert_eq!(listed, expected);
    close(ledger, writer).await;
}
