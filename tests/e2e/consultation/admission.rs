//! What a node admits while a policy changes: a widening needs a consultation of at least the
//! genesis's window (and at most a year) while a narrowing or a voluntary consultation applies at
//! once, a grant against a draft is refused while the version in effect still takes consent, and
//! a draft signed long before it is submitted is refused.

use consent_proto::body::Body;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::pb;
use consent_proto::vocab::{Purpose as P, PurposeSet};
use consent_tests::consultation::{
    self as k, WINDOW_DAYS, clock_days_ago, consultation_genesis, refused, submit_all, summary,
};
use consent_tests::harness::{TestNode, submit_ok};
use tonic::Code;

use super::{decide, grant_under};

/// The scene's collector's version 1 with `edit` applied, as version `version`.
fn policy(version: u32, edit: impl FnOnce(&mut consent_proto::body::Policy)) -> Body {
    let Body::Policy(mut p) = fixtures::policy(version) else {
        panic!("fixtures::policy is a policy");
    };
    edit(&mut p);
    Body::Policy(p)
}

/// `set` without `removed`.
fn without(set: PurposeSet, removed: &[P]) -> PurposeSet {
    set.iter().filter(|p| !removed.contains(p)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_widening_needs_a_consultation_and_a_narrowing_applies_at_once() {
    let clock = clock_days_ago(0);
    let node = TestNode::start_with_clock(&consultation_genesis(), clock.clone()).await;
    let mut scene = fixtures::scene(T0);
    submit_all(&node, &scene.entries).await;
    let now = clock.now_ms();

    // Marketing added, no consultation: refused, naming what widens.
    let widening = fixtures::append(
        &mut scene.collector.clone(),
        now,
        policy(2, |p| {
            p.purposes.insert(P::Marketing);
        }),
    );
    refused(
        &node,
        &widening,
        Code::InvalidArgument,
        "widening-without-consultation",
    )
    .await;
    // A consultation one day shorter than the genesis's window: refused.
    let short = k::draft(&mut scene.collector.clone(), 2, now, WINDOW_DAYS - 1);
    refused(
        &node,
        &short,
        Code::InvalidArgument,
        "consultation-too-short",
    )
    .await;
    // Longer than a year: refused.
    let long = k::draft(&mut scene.collector.clone(), 2, now, 366);
    refused(&node, &long, Code::InvalidArgument, "consultation-too-long").await;

    // A narrowing (third-party sharing dropped, shorter retention) applies at once, without a
    // consultation: a grant under it allows.
    let narrowing = fixtures::append(
        &mut scene.collector,
        now,
        policy(2, |p| {
            p.purposes = without(p.purposes, &[P::ThirdPartySharing]);
            p.retention_days = 90;
        }),
    );
    submit_ok(&mut node.ledger().await, &narrowing).await;
    let (mut alice, a0) = fixtures::author(consent_proto::vocab::Role::Citizen, "alice", T0);
    let grant = fixtures::append(
        &mut alice,
        now,
        grant_under(&scene, narrowing.id, P::ServiceProvision),
    );
    submit_all(&node, &[a0, grant]).await;
    let r = decide(&node, &scene, &alice, P::ServiceProvision, 0).await;
    assert_eq!(
        (r.decision(), r.reason()),
        (pb::Decision::Allow, pb::Reason::Granted)
    );

    // The widening, put to a consultation of the genesis's window: accepted, as a draft.
    let draft = k::draft(&mut scene.collector, 3, now + 1, WINDOW_DAYS);
    submit_ok(&mut node.ledger().await, &draft).await;
    let s = summary(&node, &draft.id).await;
    assert!(s.widening, "marketing widens: a draft");
    assert_eq!(s.state(), pb::ConsultationState::Open);
    assert_eq!(s.version, 3);
    assert_eq!(s.closes_ms, now + 1 + WINDOW_DAYS * DAY);
    // A voluntary consultation on a version that widens nothing applies at once.
    let voluntary = fixtures::append(&mut scene.collector, now + 2, {
        let Body::Policy(mut p) = fixtures::draft_policy(4, now + 2 + DAY) else {
            panic!("a policy");
        };
        p.purposes = without(p.purposes, &[P::Marketing, P::ThirdPartySharing]);
        p.retention_days = 90;
        Body::Policy(p)
    });
    submit_ok(&mut node.ledger().await, &voluntary).await;
    assert!(!summary(&node, &voluntary.id).await.widening);
    assert_eq!(
        k::state(&node, &draft.id).await,
        pb::ConsultationState::Withdrawn,
        "the newer version withdrew the draft"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_against_a_draft_is_refused() {
    let clock = clock_days_ago(0);
    let node = TestNode::start_with_clock(&consultation_genesis(), clock.clone()).await;
    let mut scene = fixtures::scene(T0);
    submit_all(&node, &scene.entries).await;
    let now = clock.now_ms();
    let draft = k::draft(&mut scene.collector, 2, now, WINDOW_DAYS);
    submit_ok(&mut node.ledger().await, &draft).await;

    let (mut alice, a0) = fixtures::author(consent_proto::vocab::Role::Citizen, "alice", T0);
    submit_ok(&mut node.ledger().await, &a0).await;
    let on_draft = fixtures::append(
        &mut alice.clone(),
        now,
        grant_under(&scene, draft.id, P::Marketing),
    );
    let said = refused(&node, &on_draft, Code::FailedPrecondition, "policy-draft").await;
    assert!(said.contains("draft under consultation"), "{said}");
    // The version in effect still takes consent, and decides as before.
    let grant = fixtures::append(
        &mut alice,
        now,
        grant_under(&scene, scene.policy, P::ServiceProvision),
    );
    submit_ok(&mut node.ledger().await, &grant).await;
    let r = decide(&node, &scene, &alice, P::ServiceProvision, 0).await;
    assert_eq!(
        (r.decision(), r.reason()),
        (pb::Decision::Allow, pb::Reason::Granted)
    );
    assert_eq!(r.grant.as_ref(), grant.id.0.as_slice());
}

/// A draft signed long before it is published would open its window before anyone could see
/// it (attacker review H2): the node it is submitted to refuses it, by its clock; ten minutes of
/// slack are allowed, and a peer's copy is not checked (admission is for submissions).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_signed_long_before_it_is_submitted_is_refused() {
    let clock = clock_days_ago(0);
    let node = TestNode::start_with_clock(&consultation_genesis(), clock.clone()).await;
    let mut scene = fixtures::scene(T0);
    submit_all(&node, &scene.entries).await;
    let now = clock.now_ms();
    let backdated = k::draft(
        &mut scene.collector.clone(),
        2,
        now - WINDOW_DAYS * DAY,
        WINDOW_DAYS,
    );
    let said = refused(
        &node,
        &backdated,
        Code::FailedPrecondition,
        "draft-backdated",
    )
    .await;
    assert!(said.contains("sign it now"), "{said}");
    let slack = k::draft(&mut scene.collector, 2, now - 9 * 60_000, WINDOW_DAYS);
    submit_ok(&mut node.ledger().await, &slack).await;
}
