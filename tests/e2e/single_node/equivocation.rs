//! An equivocation on one node: a second, different entry at a feed's position freezes the feed
//! and checks deny, and the evidence of it (both entries) is served and kept across a restart.

use consent_proto::Entry;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::ids::FeedId;
use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, Purpose as P};
use consent_tests::harness::{submit, submit_ok};
use consent_tests::single::setup;
use prost::bytes::Bytes;
use tonic::Code;

use super::{assert_store_consistent, decision};

#[tokio::test]
async fn an_equivocation_freezes_the_feed_and_checks_deny() {
    let mut s = setup().await;
    let mut ledger = s.node.ledger().await;
    let grant = s.grant();
    submit_ok(&mut ledger, &grant).await;
    let (d, _, _) = decision(&s.node, s.alice.feed(), s.scene.collector.feed()).await;
    assert_eq!(d, pb::Decision::Allow);
    // A second, different entry at seq 1 signed with Alice's key.
    let fork = Entry::sign(
        Some(s.alice.feed()),
        1,
        grant.prev,
        T0 + DAY,
        &fixtures::grant(
            s.scene.collector.feed(),
            s.scene.policy,
            &[P::Research],
            &[C::Location],
            T0,
            None,
        ),
        &fixtures::key("alice/0"),
    )
    .expect("valid");
    let err = submit(&mut ledger, &fork).await.expect_err("equivocation");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("frozen"), "{}", err.message());
    let (d, r, _) = decision(&s.node, s.alice.feed(), s.scene.collector.feed()).await;
    assert_eq!((d, r), (pb::Decision::Deny, pb::Reason::SubjectFrozen));
    let next = fixtures::append(
        &mut s.alice,
        T0 + 2 * DAY,
        fixtures::revoke(grant.id, false),
    );
    assert_eq!(
        submit(&mut ledger, &next).await.expect_err("frozen").code(),
        Code::FailedPrecondition
    );
    let head = s.node.head(&s.alice.feed()).await;
    assert!(head.frozen);
    let status = s.node.status().await;
    assert_eq!(status.frozen_feeds, 1);
    // The freeze and its proof survive a restart.
    s.node.stop().await;
    s.node.restart().await;
    let (d, r, _) = decision(&s.node, s.alice.feed(), s.scene.collector.feed()).await;
    assert_eq!((d, r), (pb::Decision::Deny, pb::Reason::SubjectFrozen));
    assert_store_consistent(&s.node).await;
}

/// `Ledger.GetEquivocation` for `feed`.
fn evidence_of(feed: FeedId) -> pb::GetEquivocationRequest {
    pb::GetEquivocationRequest {
        feed: Bytes::copy_from_slice(&feed.0),
    }
}

#[tokio::test]
async fn the_evidence_of_an_equivocation_is_served_with_both_entries() {
    let mut s = setup().await;
    let mut ledger = s.node.ledger().await;
    let err = ledger
        .get_equivocation(evidence_of(FeedId([9; 32])))
        .await
        .expect_err("an unknown feed");
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = ledger
        .get_equivocation(pb::GetEquivocationRequest {
            feed: Bytes::from_static(&[1; 5]),
        })
        .await
        .expect_err("not a feed id");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let grant = s.grant();
    submit_ok(&mut ledger, &grant).await;
    let none = ledger
        .get_equivocation(evidence_of(s.alice.feed()))
        .await
        .expect("a known feed")
        .into_inner();
    assert!(!none.frozen && none.equivocations.is_empty(), "{none:?}");

    // A second, different entry at seq 1 signed with Alice's key.
    let fork = Entry::sign(
        Some(s.alice.feed()),
        1,
        grant.prev,
        T0 + DAY,
        &fixtures::request(
            s.scene.collector.feed(),
            consent_proto::vocab::RequestKind::Access,
        ),
        &fixtures::key("alice/0"),
    )
    .expect("valid");
    submit(&mut ledger, &fork).await.expect_err("equivocation");
    // The feed and the entry reads show only the entry the node held...
    let err = ledger
        .get_entry(pb::GetEntryRequest {
            id: Bytes::copy_from_slice(&fork.id.0),
        })
        .await
        .expect_err("the fork is in no feed");
    assert_eq!(err.code(), Code::NotFound);
    // ...and the evidence holds both, the held entry first.
    let evidence = ledger
        .get_equivocation(evidence_of(s.alice.feed()))
        .await
        .expect("evidence")
        .into_inner();
    assert!(evidence.frozen);
    assert_eq!(evidence.feed.as_ref(), s.alice.feed().0.as_slice());
    let [equivocation] = &evidence.equivocations[..] else {
        panic!("one equivocation: {evidence:?}");
    };
    assert_eq!(equivocation.seq, 1);
    let held = Entry::from_signed(&equivocation.held.clone().unwrap_or_default()).expect("held");
    let conflicting = Entry::from_signed(&equivocation.conflicting.clone().unwrap_or_default())
        .expect("conflicting");
    assert_eq!((held.id, conflicting.id), (grant.id, fork.id));
    // Anyone can check it: one feed, one seq, two entries, both signed by the key in force.
    let key = fixtures::key("alice/0").public();
    assert_eq!((held.feed, held.seq), (conflicting.feed, conflicting.seq));
    assert!(held.verify(&key) && conflicting.verify(&key));
    // Kept across a restart.
    s.node.stop().await;
    s.node.restart().await;
    let again = s
        .node
        .ledger()
        .await
        .get_equivocation(evidence_of(s.alice.feed()))
        .await
        .expect("evidence after a restart")
        .into_inner();
    assert_eq!(again, evidence);
}
