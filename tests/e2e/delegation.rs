//! Delegation across nodes: a delegate signs in a person's name from its own feed, only inside
//! the delegation the person signed; every node refuses the same entries and gives the same
//! answers, 2-of-2 grants count once the co-guardian endorses, an undelegation replicates and
//! ends the delegation everywhere, a delegate's fork freezes only its own feed, and receipts
//! name (and prove) the delegation a grant rests on.

use std::time::Duration;

use consent_node::clock::Clock;
use consent_proto::delegation::{DelegationUsed, coming_of_age_ms};
use consent_proto::entry::Author;
use consent_proto::fixtures::{self, T0};
use consent_proto::ids::FeedId;
use consent_proto::pb::{self, Decision, Reason, RejectionReason};
use consent_proto::reasons;
use consent_proto::vocab::{
    DataCategory as C, DelegatedPower, DelegationKind, Purpose as P, RequestKind, Role,
};
use consent_tests::consultation::cluster;
use consent_tests::delegation::{
    People, delegated, delegation, delegations, endorsement, guardian, in_name_of, now,
    undelegation, used,
};
use consent_tests::eventually;
use consent_tests::harness::{TestNode, fixture_genesis, submit, submit_ok};
use consent_tests::net::{WAIT, decision_once_known, head, same_entries};
use consent_tests::single::check_request;

/// Submits `entries` in order at `node`, each accepted.
async fn submit_all(node: &TestNode, entries: &[consent_proto::Entry]) {
    let mut ledger = node.ledger().await;
    for e in entries {
        submit_ok(&mut ledger, e).await;
    }
}

/// Waits until `node` answers the scene collector's check about `subject` with `reason`.
async fn answers(
    node: &TestNode,
    subject: FeedId,
    collector: FeedId,
    reason: Reason,
) -> pb::CheckResponse {
    eventually(WAIT, &format!("{reason:?} at a node"), || async {
        let r = decision_once_known(node, subject, collector).await?;
        (r.reason() == reason).then_some(r)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegate_is_refused_outside_its_delegation_on_every_node() {
    let genesis = fixture_genesis();
    let nodes = cluster(&genesis, &Clock::system(), 3).await;
    // A delegation to grant service provision to the scene's collector only.
    let mut people = People::with(|delegate, collector| {
        delegation(
            delegate,
            DelegationKind::Assistant,
            &[DelegatedPower::Grant],
            &[collector],
            &[P::ServiceProvision],
            None,
            None,
        )
    });
    let (mut other, o0) = fixtures::author(Role::Collector, "other collector", T0);
    let other_policy = fixtures::append(&mut other, T0, fixtures::policy(1));
    let (stranger, s0) = fixtures::author(Role::Citizen, "stranger", T0);
    let mut entries = people.entries.clone();
    entries.extend([o0, other_policy.clone(), s0]);
    submit_all(&nodes[0], &entries).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    same_entries(&all, entries.len() as u64).await;

    let person = people.person.feed();
    let d = people.delegation.id;
    let collector = people.scene.collector.feed();
    let grant_to = |collector: FeedId, policy, purpose: P| {
        in_name_of(
            fixtures::grant(
                collector,
                policy,
                &[purpose],
                &[consent_proto::vocab::DataCategory::Location],
                T0,
                None,
            ),
            person,
            d,
        )
    };
    let sign = |author: &Author, time_ms: u64, body| match author.sign_next(time_ms, &body) {
        Ok(e) => e,
        Err(e) => panic!("structurally valid: {e}"),
    };
    let refused = [
        (
            sign(
                &people.delegate,
                now(),
                grant_to(other.feed(), other_policy.id, P::ServiceProvision),
            ),
            RejectionReason::CollectorNotDelegated,
        ),
        (
            sign(
                &people.delegate,
                now(),
                grant_to(collector, people.scene.policy, P::Research),
            ),
            RejectionReason::PurposeNotDelegated,
        ),
        (
            sign(
                &people.delegate,
                now(),
                in_name_of(fixtures::request(collector, RequestKind::Access), person, d),
            ),
            RejectionReason::PowerNotDelegated,
        ),
        (
            sign(
                &stranger,
                now(),
                grant_to(collector, people.scene.policy, P::ServiceProvision),
            ),
            RejectionReason::NotDelegated,
        ),
        (
            sign(
                &people.delegate,
                people.delegation.time_ms - 1,
                grant_to(collector, people.scene.policy, P::ServiceProvision),
            ),
            RejectionReason::DelegationNotInForce,
        ),
    ];
    for node in &nodes {
        let mut ledger = node.ledger().await;
        for (entry, reason) in &refused {
            let err = submit(&mut ledger, entry)
                .await
                .expect_err("outside the delegation");
            assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
            assert_eq!(reasons::from_status(&err), *reason, "{err:?}");
        }
    }

    // Inside it, accepted at one node and allowed at every node, naming the delegation.
    let grant = people.grant(P::ServiceProvision);
    submit_ok(&mut nodes[1].ledger().await, &grant).await;
    for node in &nodes {
        let r = answers(node, person, collector, Reason::Granted).await;
        assert_eq!(r.grant.as_ref(), grant.id.0.as_slice());
        assert_eq!(
            used(&r),
            Some(DelegationUsed {
                delegation: d,
                delegate: people.delegate.feed(),
                kind: DelegationKind::Assistant,
                endorsement: None,
            })
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_two_and_either_guardian_revokes() {
    let genesis = fixture_genesis();
    let nodes = cluster(&genesis, &Clock::system(), 3).await;
    let scene = fixtures::scene(T0);
    let collector = scene.collector.feed();
    let (mut child, c0) = fixtures::author(Role::Citizen, "child", T0);
    let (mut mother, m0) = fixtures::author(Role::Citizen, "mother", T0);
    let (mut father, f0) = fixtures::author(Role::Citizen, "father", T0);
    let comes_of_age = coming_of_age_ms(2045, 5, 1).expect("a date");
    let to_mother = fixtures::append(
        &mut child,
        T0,
        guardian(mother.feed(), father.feed(), comes_of_age),
    );
    let to_father = fixtures::append(
        &mut child,
        T0,
        guardian(father.feed(), mother.feed(), comes_of_age),
    );
    let mut entries = scene.entries.clone();
    entries.extend([c0, m0, f0, to_mother.clone(), to_father.clone()]);
    submit_all(&nodes[0], &entries).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    same_entries(&all, entries.len() as u64).await;

    // The mother grants in the child's name: not yet, on every node.
    let grant = fixtures::append(
        &mut mother,
        now(),
        in_name_of(
            fixtures::location_grant(&scene, P::ServiceProvision),
            child.feed(),
            to_mother.id,
        ),
    );
    submit_ok(&mut nodes[0].ledger().await, &grant).await;
    for node in &nodes {
        answers(node, child.feed(), collector, Reason::EndorsementMissing).await;
    }
    // The father endorses at another node: allowed everywhere, naming his endorsement.
    let endorsed = fixtures::append(
        &mut father,
        now(),
        endorsement(grant.id, child.feed(), to_father.id),
    );
    submit_ok(&mut nodes[1].ledger().await, &endorsed).await;
    for node in &nodes {
        let r = answers(node, child.feed(), collector, Reason::Granted).await;
        assert_eq!(
            used(&r),
            Some(DelegationUsed {
                delegation: to_mother.id,
                delegate: mother.feed(),
                kind: DelegationKind::Guardian,
                endorsement: Some(endorsed.id),
            })
        );
    }
    // Either guardian withdraws alone: the mother, at the third node.
    let revoke = fixtures::append(
        &mut mother,
        now(),
        in_name_of(
            fixtures::revoke(grant.id, false),
            child.feed(),
            to_mother.id,
        ),
    );
    submit_ok(&mut nodes[2].ledger().await, &revoke).await;
    for node in &nodes {
        answers(node, child.feed(), collector, Reason::Revoked).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undelegation_replicates_and_the_answer_is_the_same_everywhere() {
    let genesis = fixture_genesis();
    let nodes = cluster(&genesis, &Clock::system(), 3).await;
    let mut people = People::new();
    let person = people.person.feed();
    let collector = people.scene.collector.feed();
    let grant = people.grant(P::ServiceProvision);
    let mut entries = people.entries.clone();
    entries.push(grant.clone());
    submit_all(&nodes[0], &entries).await;
    for node in &nodes {
        answers(node, person, collector, Reason::Granted).await;
    }

    // Withdrawn at the third node, void from the grant's own signed time.
    let undelegated = fixtures::append(
        &mut people.person,
        now(),
        undelegation(people.delegation.id, Some(grant.time_ms)),
    );
    submit_ok(&mut nodes[2].ledger().await, &undelegated).await;
    for node in &nodes {
        let r = answers(node, person, collector, Reason::DelegationWithdrawn).await;
        assert_eq!(r.decision(), Decision::Deny);
        assert_eq!(r.grant.as_ref(), grant.id.0.as_slice());
    }
    // The ex-delegate's later grant is valid everywhere, and counts nowhere.
    let later = people.grant(P::ServiceProvision);
    submit_ok(&mut nodes[1].ledger().await, &later).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    same_entries(&all, entries.len() as u64 + 2).await;
    for node in &nodes {
        let r = answers(node, person, collector, Reason::DelegationWithdrawn).await;
        assert_eq!(
            r.grant.as_ref(),
            later.id.0.as_slice(),
            "the newest is named"
        );
        let listed = delegations(node, &person).await.delegations;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].end_ms, grant.time_ms);
        assert_eq!(
            listed[0].undelegations,
            vec![prost::bytes::Bytes::copy_from_slice(&undelegated.id.0)]
        );
        let mut signed = delegated(node, &person).await;
        signed.sort();
        let mut expected = vec![grant.id, later.id];
        expected.sort();
        assert_eq!(
            signed, expected,
            "what delegates signed in the person's name"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delegates_never_freeze_the_persons_feed() {
    let genesis = fixture_genesis();
    let nodes = cluster(&genesis, &Clock::system(), 3).await;
    let mut people = People::new();
    let person = people.person.feed();
    let collector = people.scene.collector.feed();
    // The person's own grant.
    let own = fixtures::append(
        &mut people.person,
        now(),
        fixtures::location_grant(&people.scene, P::ServiceProvision),
    );
    let mut entries = people.entries.clone();
    entries.push(own.clone());
    submit_all(&nodes[0], &entries).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    same_entries(&all, entries.len() as u64).await;

    // Before the fork: the assistant's grant for research in the person's name, on every node.
    let early = people.grant(P::Research);
    submit_ok(&mut nodes[0].ledger().await, &early).await;
    same_entries(&all, entries.len() as u64 + 1).await;
    // Every node allows research under it (and caches what it read about the person).
    for node in &nodes {
        let research = purpose_answer(node, person, collector, P::Research).await;
        assert_eq!(
            (research.reason(), research.grant.as_ref()),
            (Reason::Granted, early.id.0.as_slice())
        );
    }

    // The delegate signs two different entries at one seq of its own feed, each sent to a node:
    // a second research grant, and a revocation of the person's own grant in its name.
    let on_behalf = |body| in_name_of(body, person, people.delegation.id);
    let one = people
        .delegate
        .sign_next(
            now(),
            &on_behalf(fixtures::location_grant(&people.scene, P::Research)),
        )
        .expect("valid");
    let two = people
        .delegate
        .sign_next(now() + 1, &on_behalf(fixtures::revoke(own.id, false)))
        .expect("valid");
    assert_eq!(one.seq, two.seq);
    submit_ok(&mut nodes[0].ledger().await, &one).await;
    // Node 1 may hold `one` already (gossip): then it finds the fork at submission.
    match submit(&mut nodes[1].ledger().await, &two).await {
        Ok(r) => assert_eq!(r.status, pb::SubmitStatus::Accepted as i32, "{r:?}"),
        Err(status) => assert!(status.message().starts_with("equivocation"), "{status:?}"),
    }
    let delegate = people.delegate.feed();
    for node in &nodes {
        eventually(
            Duration::from_secs(30),
            "the delegate's feed frozen",
            || async {
                head(node, &delegate)
                    .await
                    .is_some_and(|h| h.frozen)
                    .then_some(())
            },
        )
        .await;
    }
    // Every node answers alike whichever branch it holds: nothing the frozen delegate signed in
    // the person's name is read (the revocation on one branch withdraws nothing, the grants on
    // either side of the fork are as if absent).
    for node in &nodes {
        assert!(!node.head(&person).await.frozen);
        let r = answers(node, person, collector, Reason::Granted).await;
        assert_eq!(
            r.grant.as_ref(),
            own.id.0.as_slice(),
            "the person's own grant is named"
        );
        let research = purpose_answer(node, person, collector, P::Research).await;
        assert_eq!(
            (research.reason(), research.grant.as_ref()),
            (Reason::PurposeNotCovered, own.id.0.as_slice()),
            "research at {}",
            node.url()
        );
    }
    let request = fixtures::append(
        &mut people.person,
        now(),
        fixtures::request(collector, RequestKind::Access),
    );
    submit_ok(&mut nodes[2].ledger().await, &request).await;
}

/// The check of `subject` at `collector` for `purpose` (location data) at `node`.
async fn purpose_answer(
    node: &TestNode,
    subject: FeedId,
    collector: FeedId,
    purpose: P,
) -> pb::CheckResponse {
    let mut client = node
        .try_consent(&consent_tests::harness::scene_collector())
        .await
        .expect("a collector session");
    client
        .check(check_request(subject, collector, purpose, C::Location))
        .await
        .expect("check")
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_survives_restart() {
    let genesis = fixture_genesis();
    let mut node = TestNode::start(&genesis).await;
    let mut people = People::new();
    let person = people.person.feed();
    let collector = people.scene.collector.feed();
    let grant = people.grant(P::ServiceProvision);
    let opt_out = fixtures::append(
        &mut people.delegate,
        now(),
        in_name_of(
            fixtures::request(collector, RequestKind::OptOutSale),
            person,
            people.delegation.id,
        ),
    );
    // Withdrawn from its own time, after the grant and the opt-out: both stay.
    let withdrawn = now() + 2;
    let undelegated = fixtures::append(
        &mut people.person,
        withdrawn,
        undelegation(people.delegation.id, Some(withdrawn)),
    );
    let mut entries = people.entries.clone();
    entries.extend([grant.clone(), opt_out.clone(), undelegated]);
    submit_all(&node, &entries).await;

    let before = answers(&node, person, collector, Reason::Granted).await;
    let listed = delegations(&node, &person).await;
    let by_delegate = delegations(&node, &people.delegate.feed()).await;
    let signed = delegated(&node, &person).await;
    assert_eq!(signed, vec![grant.id, opt_out.id]);
    node.stop().await;
    node.restart().await;
    let after = answers(&node, person, collector, Reason::Granted).await;
    assert_eq!(
        (after.decision, after.grant.clone(), after.delegated.clone()),
        (
            before.decision,
            before.grant.clone(),
            before.delegated.clone()
        )
    );
    assert_eq!(delegations(&node, &person).await, listed);
    assert_eq!(
        delegations(&node, &people.delegate.feed()).await,
        by_delegate
    );
    assert_eq!(delegated(&node, &person).await, signed);
    assert_eq!(node.status().await.entries, entries.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_name_the_delegation() {
    use consent_proto::evidence::{WitnessPolicy, verify_decision};
    let genesis = fixture_genesis();
    let node = TestNode::start(&genesis).await;
    let mut people = People::new();
    let person = people.person.feed();
    let collector = people.scene.collector.feed();
    let grant = people.grant(P::ServiceProvision);
    let mut entries = people.entries.clone();
    entries.push(grant.clone());
    submit_all(&node, &entries).await;

    let consent = node
        .consent(&consent_tests::harness::scene_collector())
        .await;
    let mut question = check_request(
        person,
        collector,
        P::ServiceProvision,
        consent_proto::vocab::DataCategory::Location,
    );
    question.receipt = true;
    // Once a checkpoint covers the delegation and the grant, the receipt proves both.
    let receipt = eventually(WAIT, "a checkpoint covering the grant", || {
        let mut consent = consent.clone();
        let question = question.clone();
        async move {
            let r = consent.check(question).await.ok()?.into_inner();
            let receipt = r.receipt?;
            (receipt.delegation_inclusion.is_some() && receipt.grant_inclusion.is_some())
                .then_some(receipt)
        }
    })
    .await;
    let v = verify_decision(&receipt, &WitnessPolicy::default()).expect("verifies offline");
    assert_eq!(v.payload.reason(), Reason::Granted);
    assert!(v.grant_included && v.delegation_included);
    let signed = v
        .payload
        .delegated
        .as_ref()
        .expect("the payload names the delegation");
    assert_eq!(
        signed.delegation.as_ref(),
        people.delegation.id.0.as_slice()
    );
    assert_eq!(
        signed.delegate.as_ref(),
        people.delegate.feed().0.as_slice()
    );
    assert_eq!(signed.kind(), pb::DelegationKind::Assistant);
    // A proof of another entry in the delegation's place makes the receipt invalid.
    let mut swapped = receipt.clone();
    swapped.delegation_inclusion = swapped.grant_inclusion.clone();
    assert!(verify_decision(&swapped, &WitnessPolicy::default()).is_err());

    // The person revokes the delegate's grant: the REVOKED receipt names the person's revocation.
    let revoke = fixtures::append(&mut people.person, now(), fixtures::revoke(grant.id, false));
    submit_ok(&mut node.ledger().await, &revoke).await;
    let receipt = eventually(WAIT, "a checkpoint covering the revocation", || {
        let mut consent = consent.clone();
        let question = question.clone();
        async move {
            let r = consent.check(question).await.ok()?.into_inner();
            let receipt = r.receipt?;
            receipt.revocation_inclusion.is_some().then_some(receipt)
        }
    })
    .await;
    let v = verify_decision(&receipt, &WitnessPolicy::default()).expect("verifies offline");
    assert_eq!(v.payload.reason(), Reason::Revoked);
    assert_eq!(v.payload.revocation.as_ref(), revoke.id.0.as_slice());
    assert!(v.revocation_included && v.delegation_included);
}
