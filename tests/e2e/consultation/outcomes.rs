//! How a consultation ends and what that does to the draft: it takes effect only after its
//! window, the collector's answers to the reasons raised, and a registrar's approval; changes
//! required keep it out of effect for good; a newer version withdraws an open draft.

use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::pb;
use consent_proto::vocab::{ObjectionReason as R, Purpose as P};
use consent_tests::consultation::{
    self as k, HOUR, THRESHOLD, WINDOW_DAYS, clock_days_ago, consultation_genesis, counts, outcome,
    reason_count, refused, response, stance, submit_all, summary, tally, to_present,
};
use consent_tests::harness::{TestNode, submit_ok};
use tonic::Code;

use super::{decide, grant_under, people};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_takes_effect_only_after_its_window_the_answers_and_the_registrars_approval() {
    let clock = clock_days_ago(20);
    let node = TestNode::start_with_clock(&consultation_genesis(), clock.clone()).await;
    let mut scene = fixtures::scene(T0);
    submit_all(&node, &scene.entries).await;
    let (mut affected, entries) = people(&scene, "objector", THRESHOLD as usize, true);
    submit_all(&node, &entries).await;

    let opened = clock.now_ms();
    let draft = k::draft(&mut scene.collector, 2, opened, WINDOW_DAYS);
    let closes = opened + WINDOW_DAYS * DAY;
    submit_ok(&mut node.ledger().await, &draft).await;
    // As many objections to the retention as the threshold: the reason is raised.
    assert!(clock.advance(HOUR));
    for citizen in &mut affected {
        let s = stance(citizen, &draft.id, clock.now_ms(), &[R::RetentionTooLong]);
        submit_ok(&mut node.ledger().await, &s).await;
    }
    let c = counts(&node, &draft.id).await;
    let objecting = tally(&c.affected);
    assert_eq!((objecting.support, objecting.object), (0, THRESHOLD));
    assert_eq!(reason_count(&objecting, R::RetentionTooLong), THRESHOLD);

    // Approved inside the window: too early.
    assert!(clock.advance(2 * DAY));
    let early = outcome(
        &mut scene.registrar.clone(),
        &draft.id,
        clock.now_ms(),
        true,
        &[],
    );
    refused(&node, &early, Code::InvalidArgument, "outcome-too-early").await;

    // The window closes: waiting for the registrar, the draft is still not in effect.
    assert!(clock.set(closes + HOUR));
    assert_eq!(
        k::state(&node, &draft.id).await,
        pb::ConsultationState::AwaitingOutcome
    );
    let (mut bob, b0) = fixtures::author(consent_proto::vocab::Role::Citizen, "bob", T0);
    submit_ok(&mut node.ledger().await, &b0).await;
    let on_draft = fixtures::append(
        &mut bob.clone(),
        clock.now_ms(),
        grant_under(&scene, draft.id, P::Marketing),
    );
    refused(&node, &on_draft, Code::FailedPrecondition, "policy-draft").await;
    // An approval that lists no answer to the raised reason: refused at admission.
    let unanswered = outcome(
        &mut scene.registrar.clone(),
        &draft.id,
        clock.now_ms(),
        true,
        &[],
    );
    let said = refused(
        &node,
        &unanswered,
        Code::FailedPrecondition,
        "consultation-unanswered",
    )
    .await;
    assert!(said.contains("retention-too-long"), "{said}");

    // The collector answers; the registrar approves relying on the answer.
    let answer = response(
        &mut scene.collector,
        &draft.id,
        clock.now_ms(),
        R::RetentionTooLong,
    );
    submit_ok(&mut node.ledger().await, &answer).await;
    assert!(clock.advance(HOUR));
    let approved_at = clock.now_ms();
    let approval = outcome(
        &mut scene.registrar,
        &draft.id,
        approved_at,
        true,
        &[answer.id],
    );
    submit_ok(&mut node.ledger().await, &approval).await;
    let s = summary(&node, &draft.id).await;
    assert_eq!(s.state(), pb::ConsultationState::Approved);
    assert_eq!(s.state_ms, approved_at, "in effect from the approval");

    // A grant under it is now accepted; it allows now, and a question about a time before the
    // approval is denied: the version was not in effect then.
    let grant = fixtures::append(
        &mut bob,
        clock.now_ms(),
        grant_under(&scene, draft.id, P::Marketing),
    );
    submit_ok(&mut node.ledger().await, &grant).await;
    to_present(&clock);
    let r = decide(&node, &scene, &bob, P::Marketing, 0).await;
    assert_eq!(
        (r.decision(), r.reason()),
        (pb::Decision::Allow, pb::Reason::Granted)
    );
    let r = decide(&node, &scene, &bob, P::Marketing, approved_at - 1).await;
    assert_eq!(
        (r.decision(), r.reason()),
        (pb::Decision::Deny, pb::Reason::PolicyNotInEffect)
    );
    let r = decide(&node, &scene, &bob, P::Marketing, approved_at).await;
    assert_eq!(r.decision(), pb::Decision::Allow, "from the approval on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_required_keeps_the_draft_out_of_effect_forever() {
    let clock = clock_days_ago(20);
    let node = TestNode::start_with_clock(&consultation_genesis(), clock.clone()).await;
    let mut scene = fixtures::scene(T0);
    submit_all(&node, &scene.entries).await;
    let (mut late, entries) = people(&scene, "late", 1, false);
    submit_all(&node, &entries).await;
    let draft = k::draft(&mut scene.collector, 2, clock.now_ms(), WINDOW_DAYS);
    submit_ok(&mut node.ledger().await, &draft).await;

    // Changes required may be decided inside the window.
    assert!(clock.advance(DAY));
    let decided_at = clock.now_ms();
    let decision = outcome(&mut scene.registrar, &draft.id, decided_at, false, &[]);
    submit_ok(&mut node.ledger().await, &decision).await;
    let s = summary(&node, &draft.id).await;
    assert_eq!(
        (s.state(), s.state_ms),
        (pb::ConsultationState::ChangesRequired, decided_at)
    );
    // Decided: no more stances, and no second outcome, even an approval after the window.
    let after = stance(&mut late[0], &draft.id, clock.now_ms(), &[]);
    refused(
        &node,
        &after,
        Code::FailedPrecondition,
        "consultation-closed",
    )
    .await;
    assert!(clock.advance(WINDOW_DAYS * DAY));
    let second = outcome(&mut scene.registrar, &draft.id, clock.now_ms(), true, &[]);
    refused(&node, &second, Code::FailedPrecondition, "outcome-exists").await;

    // Long after: still a draft nobody may grant under.
    to_present(&clock);
    assert_eq!(
        k::state(&node, &draft.id).await,
        pb::ConsultationState::ChangesRequired
    );
    let (mut alice, a0) = fixtures::author(consent_proto::vocab::Role::Citizen, "alice", T0);
    submit_ok(&mut node.ledger().await, &a0).await;
    let on_draft = fixtures::append(
        &mut alice,
        clock.now_ms(),
        grant_under(&scene, draft.id, P::Marketing),
    );
    refused(&node, &on_draft, Code::FailedPrecondition, "policy-draft").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_withdraws_the_open_draft() {
    let clock = clock_days_ago(0);
    let node = TestNode::start_with_clock(&consultation_genesis(), clock.clone()).await;
    let mut scene = fixtures::scene(T0);
    submit_all(&node, &scene.entries).await;
    let (mut citizens, entries) = people(&scene, "voice", 1, false);
    submit_all(&node, &entries).await;
    let now = clock.now_ms();
    let draft = k::draft(&mut scene.collector, 2, now, WINDOW_DAYS);
    submit_ok(&mut node.ledger().await, &draft).await;
    let s = stance(&mut citizens[0], &draft.id, now + 1, &[R::Other]);
    submit_ok(&mut node.ledger().await, &s).await;

    // Version 3 says what version 1 said: no widening against either, no consultation needed.
    let v3 = fixtures::append(&mut scene.collector, now + 2, fixtures::policy(3));
    submit_ok(&mut node.ledger().await, &v3).await;
    let s = summary(&node, &draft.id).await;
    assert_eq!(
        (s.state(), s.state_ms),
        (pb::ConsultationState::Withdrawn, now + 2)
    );
    // Withdrawn: no stance, no grant under it; version 3 takes consent at once.
    let late = stance(&mut citizens[0].clone(), &draft.id, now + 3, &[]);
    refused(
        &node,
        &late,
        Code::FailedPrecondition,
        "consultation-closed",
    )
    .await;
    let on_draft = fixtures::append(
        &mut citizens[0].clone(),
        now + 4,
        grant_under(&scene, draft.id, P::Marketing),
    );
    refused(&node, &on_draft, Code::FailedPrecondition, "policy-draft").await;
    let grant = fixtures::append(
        &mut citizens[0],
        now + 4,
        grant_under(&scene, v3.id, P::ServiceProvision),
    );
    submit_ok(&mut node.ledger().await, &grant).await;
    let r = decide(&node, &scene, &citizens[0], P::ServiceProvision, 0).await;
    assert_eq!(
        (r.decision(), r.reason()),
        (pb::Decision::Allow, pb::Reason::Granted)
    );
}
