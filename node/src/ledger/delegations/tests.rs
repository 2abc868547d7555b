//! Delegations through the node's write path and checks: a delegate's grant is found under the
//! person, an undelegation reaches cached answers at its commit, 2-of-2 grants count once
//! endorsed, revocations are judged within the revoking feed, and the age check applies at
//! submission only. Each decision is also compared with the reference ledger
//! (`consent_proto::memory::MemoryLedger`), and each store passes the full check.

use std::collections::HashSet;
use std::sync::Arc;

use consent_proto::Entry;
use consent_proto::body::{Body, Delegation, Endorsement, OnBehalf, Undelegation};
use consent_proto::consultation::Refusal;
use consent_proto::decide::Query;
use consent_proto::delegation::{DelegationUsed, coming_of_age_ms};
use consent_proto::entry::Author;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::limits::DELEGATED_ENTRY_TOLERANCE_MS;
use consent_proto::memory::MemoryLedger;
use consent_proto::pb::{Decision, Reason};
use consent_proto::scope::Context;
use consent_proto::validate::{Rejection, Verdict};
use consent_proto::vocab::{
    DataCategory as C, DelegatedPower, DelegationKind, PowerSet, Purpose as P, PurposeSet,
    RequestKind, Role,
};

use crate::clock::Clock;
use crate::ledger::{Ledger, LedgerConfig, Outcome, Source, WriterThread};
use crate::store::memory::MemoryStore;

/// An assistant's delegation to `delegate` for `collector`: it may grant, revoke and ask, any
/// purpose, until undelegated.
pub(crate) fn assistant(delegate: FeedId, collector: FeedId) -> Body {
    Body::Delegation(Delegation {
        delegate,
        powers: [
            DelegatedPower::Grant,
            DelegatedPower::Revoke,
            DelegatedPower::Request,
        ]
        .into_iter()
        .collect::<PowerSet>(),
        collectors: vec![collector],
        purposes: PurposeSet::EMPTY,
        valid_until: None,
        kind: DelegationKind::Assistant,
        co_signer: None,
    })
}

/// `body` (a grant, revocation or request) signed in `person`'s name under `delegation`.
pub(crate) fn in_name_of(body: Body, person: FeedId, delegation: EntryId) -> Body {
    let on_behalf = Some(OnBehalf { person, delegation });
    match body {
        Body::Grant(mut g) => {
            g.on_behalf = on_behalf;
            Body::Grant(g)
        }
        Body::Revoke(mut r) => {
            r.on_behalf = on_behalf;
            Body::Revoke(r)
        }
        Body::Request(mut r) => {
            r.on_behalf = on_behalf;
            Body::Request(r)
        }
        other => other,
    }
}

/// The fixture scene, a person and an assistant (citizens incepted at `T0`), the person's
/// delegation to the assistant for the scene's collector (at `T0 + DAY`) and the assistant's
/// grant of location data for service provision in the person's name (at `T0 + 2 DAY`).
pub(crate) struct World {
    /// The registrar, the collector and its policy.
    pub scene: fixtures::Scene,
    /// The represented person.
    pub person: Author,
    /// The assistant.
    pub delegate: Author,
    /// The person's Delegation.
    pub delegation: Entry,
    /// The assistant's grant in the person's name.
    pub grant: Entry,
    /// Every entry above, in an order a node accepts.
    pub entries: Vec<Entry>,
}

/// Builds [`World`].
pub(crate) fn world() -> World {
    let scene = fixtures::scene(T0);
    let (mut person, p0) = fixtures::author(Role::Citizen, "person", T0);
    let (mut delegate, d0) = fixtures::author(Role::Citizen, "assistant", T0);
    let delegation = fixtures::append(
        &mut person,
        T0 + DAY,
        assistant(delegate.feed(), scene.collector.feed()),
    );
    let grant = fixtures::append(
        &mut delegate,
        T0 + 2 * DAY,
        in_name_of(
            fixtures::location_grant(&scene, P::ServiceProvision),
            person.feed(),
            delegation.id,
        ),
    );
    let mut entries = scene.entries.clone();
    entries.extend([p0, d0, delegation.clone(), grant.clone()]);
    World {
        scene,
        person,
        delegate,
        delegation,
        grant,
        entries,
    }
}

fn open(scene: &fixtures::Scene, clock: Clock) -> (Ledger, WriterThread) {
    let registrars: HashSet<_> = [scene.registrar.feed()].into_iter().collect();
    Ledger::open(
        Arc::new(MemoryStore::new()),
        registrars,
        "test",
        LedgerConfig {
            clock,
            ..LedgerConfig::default()
        },
    )
    .expect("open")
}

/// Submits `entries` (no admission: as a peer's) and expects each accepted; the reference
/// ledger takes them too.
async fn accept(ledger: &Ledger, reference: &mut MemoryLedger, entries: &[Entry]) {
    let outcomes = ledger.submit(entries.to_vec()).await.expect("submit");
    for (entry, outcome) in entries.iter().zip(&outcomes) {
        assert!(
            matches!(outcome, Outcome::Accepted { .. }),
            "{}: {outcome:?}",
            entry.id
        );
        let verdict = reference.submit(entry, ledger.now_ms());
        assert!(
            matches!(verdict, Verdict::Accept { .. }),
            "reference, {}: {verdict:?}",
            entry.id
        );
    }
}

fn query(subject: FeedId, collector: FeedId, purpose: P, at_ms: u64) -> Query {
    Query {
        subject,
        collector,
        purpose,
        category: C::Location,
        at_ms,
        context: Context::NONE,
    }
}

/// The node's decision, checked against the reference ledger's.
fn decided(ledger: &Ledger, reference: &MemoryLedger, q: &Query) -> consent_proto::decide::Outcome {
    let (outcome, _) = ledger.check(q).expect("check");
    assert_eq!(outcome, reference.check(q), "the node and the reference");
    outcome
}

async fn close(ledger: Ledger, writer: WriterThread) {
    ledger
        .full_check()
        .expect("the store passes the full check");
    ledger.shutdown().await;
    drop(ledger);
    writer.join();
}

#[tokio::test]
async fn delegated_grants_are_found_under_the_person() {
    let mut w = world();
    let (ledger, writer) = open(&w.scene, Clock::system());
    let mut reference = MemoryLedger::new([w.scene.registrar.feed()]);
    accept(&ledger, &mut reference, &w.entries).await;
    let collector = w.scene.collector.feed();
    let now = ledger.now_ms();
    let q = query(w.person.feed(), collector, P::ServiceProvision, now);

    let allowed = decided(&ledger, &reference, &q);
    assert_eq!(
        (allowed.decision, allowed.reason, allowed.grant),
        (Decision::Allow, Reason::Granted, Some(w.grant.id))
    );
    assert_eq!(
        allowed.delegated,
        Some(DelegationUsed {
            delegation: w.delegation.id,
            delegate: w.delegate.feed(),
            kind: DelegationKind::Assistant,
            endorsement: None,
        })
    );
    // The delegate granted nothing of its own.
    let own = decided(
        &ledger,
        &reference,
        &query(w.delegate.feed(), collector, P::ServiceProvision, now),
    );
    assert_eq!(own.reason, Reason::NoGrant);

    // Listed under the person and under the delegate; the grant in the person's delegated log.
    for feed in [w.person.feed(), w.delegate.feed()] {
        let listed = ledger.delegations(&feed).expect("delegations");
        assert_eq!(listed.len(), 1, "{feed:?}");
        assert_eq!(listed[0].entry.id, w.delegation.id);
        assert_eq!((listed[0].end_ms, listed[0].undelegations.len()), (0, 0));
    }
    let logged = ledger
        .delegated_entries(&w.person.feed(), 0, 10)
        .expect("delegated entries");
    assert_eq!(
        logged.iter().map(|(_, e)| e.id).collect::<Vec<_>>(),
        vec![w.grant.id]
    );
    assert!(
        ledger
            .delegated_entries(&w.person.feed(), logged[0].0, 10)
            .expect("after")
            .is_empty(),
        "after its index, nothing"
    );

    // The person revokes the delegate's grant: denied, and a receipt finds that revocation.
    let revoke = fixtures::append(
        &mut w.person,
        T0 + 3 * DAY,
        fixtures::revoke(w.grant.id, false),
    );
    accept(&ledger, &mut reference, std::slice::from_ref(&revoke)).await;
    let revoked = decided(&ledger, &reference, &q);
    assert_eq!(
        (revoked.decision, revoked.reason, revoked.grant),
        (Decision::Deny, Reason::Revoked, Some(w.grant.id))
    );
    assert_eq!(
        ledger
            .counting_revocation(&w.person.feed(), &w.grant.id)
            .expect("read")
            .map(|(_, id)| id),
        Some(revoke.id)
    );

    // Revocations are judged within the revoking feed: the delegate may still revoke the same
    // grant in the person's name, once.
    let by_delegate = in_name_of(
        fixtures::revoke(w.grant.id, false),
        w.person.feed(),
        w.delegation.id,
    );
    let first = fixtures::append(&mut w.delegate, T0 + 4 * DAY, by_delegate.clone());
    accept(&ledger, &mut reference, std::slice::from_ref(&first)).await;
    let again = fixtures::append(&mut w.delegate, T0 + 5 * DAY, by_delegate);
    let out = ledger.submit(vec![again]).await.expect("submit");
    assert!(
        matches!(
            out[0],
            Outcome::Rejected {
                rejection: Rejection::AlreadyRevoked,
                ..
            }
        ),
        "{out:?}"
    );
    assert_eq!(
        ledger
            .delegated_entries(&w.person.feed(), 0, 10)
            .expect("delegated entries")
            .len(),
        2,
        "the grant and the delegate's revocation"
    );
    close(ledger, writer).await;
}

#[tokio::test]
async fn an_undelegation_changes_cached_answers_at_once() {
    let mut w = world();
    let (ledger, writer) = open(&w.scene, Clock::system());
    let mut reference = MemoryLedger::new([w.scene.registrar.feed()]);
    accept(&ledger, &mut reference, &w.entries).await;
    let now = ledger.now_ms();
    let q = query(
        w.person.feed(),
        w.scene.collector.feed(),
        P::ServiceProvision,
        now,
    );
    assert_eq!(decided(&ledger, &reference, &q).decision, Decision::Allow);
    assert_eq!(
        ledger.check_cached(&q).map(|(o, _)| o.decision),
        Some(Decision::Allow),
        "the answer is cached"
    );

    // Withdrawn a day after the grant (void from 5 minutes before): the grant stays.
    let later = fixtures::append(
        &mut w.person,
        T0 + 3 * DAY,
        Body::Undelegation(Undelegation {
            delegation: w.delegation.id,
            void_from_ms: None,
        }),
    );
    accept(&ledger, &mut reference, std::slice::from_ref(&later)).await;
    let kept = decided(&ledger, &reference, &q);
    assert_eq!(
        (kept.decision, kept.grant),
        (Decision::Allow, Some(w.grant.id))
    );
    let listed = ledger.delegations(&w.person.feed()).expect("delegations");
    assert_eq!(
        (listed[0].end_ms, listed[0].undelegations.clone()),
        (T0 + 3 * DAY - DELEGATED_ENTRY_TOLERANCE_MS, vec![later.id])
    );
    assert_eq!(
        ledger.check_cached(&q).map(|(o, _)| o.decision),
        Some(Decision::Allow)
    );

    // A second undelegation voids it from the grant's own time: the cached allow is gone at
    // that commit, and the grant is withdrawn.
    let earlier = fixtures::append(
        &mut w.person,
        T0 + 4 * DAY,
        Body::Undelegation(Undelegation {
            delegation: w.delegation.id,
            void_from_ms: Some(T0 + 2 * DAY),
        }),
    );
    accept(&ledger, &mut reference, std::slice::from_ref(&earlier)).await;
    assert_ne!(
        ledger.check_cached(&q).map(|(o, _)| o.decision),
        Some(Decision::Allow),
        "no stale allow after the commit"
    );
    let withdrawn = decided(&ledger, &reference, &q);
    assert_eq!(
        (withdrawn.decision, withdrawn.reason, withdrawn.grant),
        (
            Decision::Deny,
            Reason::DelegationWithdrawn,
            Some(w.grant.id)
        )
    );
    assert_eq!(
        withdrawn.delegated.map(|d| d.delegation),
        Some(w.delegation.id)
    );
    let listed = ledger.delegations(&w.person.feed()).expect("delegations");
    assert_eq!(
        (listed[0].end_ms, listed[0].undelegations.clone()),
        (T0 + 2 * DAY, vec![later.id, earlier.id])
    );

    // The ex-delegate still signs valid grants; none counts.
    let after = fixtures::append(
        &mut w.delegate,
        T0 + 5 * DAY,
        in_name_of(
            fixtures::location_grant(&w.scene, P::ServiceProvision),
            w.person.feed(),
            w.delegation.id,
        ),
    );
    accept(&ledger, &mut reference, std::slice::from_ref(&after)).await;
    let still = decided(&ledger, &reference, &q);
    assert_eq!(
        (still.decision, still.reason),
        (Decision::Deny, Reason::DelegationWithdrawn)
    );
    // The person's watch on what delegates sign sees it.
    assert!(
        ledger
            .delegated_entries(&w.person.feed(), 0, 10)
            .expect("delegated entries")
            .iter()
            .any(|(_, e)| e.id == after.id)
    );
    close(ledger, writer).await;
}

#[tokio::test]
async fn two_of_two_counts_once_the_co_guardian_endorses_and_either_revokes_alone() {
    let scene = fixtures::scene(T0);
    let collector = scene.collector.feed();
    let (mut child, c0) = fixtures::author(Role::Citizen, "child", T0);
    let (mut mother, m0) = fixtures::author(Role::Citizen, "mother", T0);
    let (mut father, f0) = fixtures::author(Role::Citizen, "father", T0);
    let comes_of_age = coming_of_age_ms(2045, 5, 1).expect("a date");
    let guardian = |delegate: FeedId, co_signer: FeedId| {
        Body::Delegation(Delegation {
            delegate,
            powers: [DelegatedPower::Grant, DelegatedPower::Revoke]
                .into_iter()
                .collect::<PowerSet>(),
            collectors: Vec::new(),
            purposes: PurposeSet::EMPTY,
            valid_until: Some(comes_of_age),
            kind: DelegationKind::Guardian,
            co_signer: Some(co_signer),
        })
    };
    let to_mother = fixtures::append(&mut child, T0, guardian(mother.feed(), father.feed()));
    let to_father = fixtures::append(&mut child, T0, guardian(father.feed(), mother.feed()));
    let grant = fixtures::append(
        &mut mother,
        T0 + DAY,
        in_name_of(
            fixtures::location_grant(&scene, P::ServiceProvision),
            child.feed(),
            to_mother.id,
        ),
    );
    let (ledger, writer) = open(&scene, Clock::system());
    let mut reference = MemoryLedger::new([scene.registrar.feed()]);
    let mut entries = scene.entries.clone();
    entries.extend([
        c0,
        m0,
        f0,
        to_mother.clone(),
        to_father.clone(),
        grant.clone(),
    ]);
    accept(&ledger, &mut reference, &entries).await;
    let q = query(
        child.feed(),
        collector,
        P::ServiceProvision,
        ledger.now_ms(),
    );

    let missing = decided(&ledger, &reference, &q);
    assert_eq!(
        (missing.decision, missing.reason, missing.grant),
        (Decision::Deny, Reason::EndorsementMissing, Some(grant.id))
    );

    let endorsement = fixtures::append(
        &mut father,
        T0 + 2 * DAY,
        Body::Endorsement(Endorsement {
            grant: grant.id,
            on_behalf: OnBehalf {
                person: child.feed(),
                delegation: to_father.id,
            },
        }),
    );
    accept(&ledger, &mut reference, std::slice::from_ref(&endorsement)).await;
    let allowed = decided(&ledger, &reference, &q);
    assert_eq!(
        (allowed.decision, allowed.grant),
        (Decision::Allow, Some(grant.id))
    );
    assert_eq!(
        allowed.delegated,
        Some(DelegationUsed {
            delegation: to_mother.id,
            delegate: mother.feed(),
            kind: DelegationKind::Guardian,
            endorsement: Some(endorsement.id),
        })
    );

    // The father withdraws alone, in the child's name.
    let revoke = fixtures::append(
        &mut father,
        T0 + 3 * DAY,
        in_name_of(
            fixtures::revoke(grant.id, false),
            child.feed(),
            to_father.id,
        ),
    );
    accept(&ledger, &mut reference, std::slice::from_ref(&revoke)).await;
    let revoked = decided(&ledger, &reference, &q);
    assert_eq!(
        (revoked.decision, revoked.reason),
        (Decision::Deny, Reason::Revoked)
    );
    assert_eq!(
        ledger
            .counting_revocation(&child.feed(), &grant.id)
            .expect("read")
            .map(|(_, id)| id),
        Some(revoke.id)
    );
    close(ledger, writer).await;
}

mod withdrawals;
