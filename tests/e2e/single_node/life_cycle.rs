//! The consent life cycle on one node: a grant allows and its revocation denies, with the reads
//! (head, entry, feed, status) that show it; a gap held pending until it is filled, and the
//! bound on what waits pending; a duplicate answered as one.

use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::ids::FeedId;
use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, Purpose as P, Role};
use consent_tests::harness::{TestNode, fixture_genesis, submit, submit_ok};
use consent_tests::single::setup;
use prost::bytes::Bytes;
use tonic::Code;

use super::decision;

#[tokio::test]
async fn grant_allows_revoke_denies_and_reads_work() {
    let mut s = setup().await;
    let collector = s.scene.collector.feed();
    let subject = s.alice.feed();
    let (d, r, _) = decision(&s.node, subject, collector).await;
    assert_eq!((d, r), (pb::Decision::Deny, pb::Reason::NoGrant));

    let mut ledger = s.node.ledger().await;
    let grant = s.grant();
    let receipt = submit_ok(&mut ledger, &grant).await;
    // The receipt is signed by the node and names the entry and its log index.
    let facts = consent_proto::receipt::verify(&receipt.receipt.clone().unwrap_or_default())
        .expect("receipt verifies");
    assert_eq!(facts.entry_id, grant.id);
    assert_eq!(facts.index, 5);
    assert_eq!(
        facts.node,
        s.node.node.as_ref().map(|n| n.key()).expect("running")
    );

    let (d, r, resp) = decision(&s.node, subject, collector).await;
    assert_eq!((d, r), (pb::Decision::Allow, pb::Reason::Granted));
    assert_eq!(resp.grant.as_ref(), grant.id.0.as_slice());
    assert_eq!(resp.subject_head.as_ref(), grant.id.0.as_slice());
    assert_eq!(resp.subject_head_seq, 1);
    assert_eq!(resp.log_size, 6);

    let revoke = fixtures::append(&mut s.alice, T0 + 2 * DAY, fixtures::revoke(grant.id, true));
    submit_ok(&mut ledger, &revoke).await;
    let (d, r, resp) = decision(&s.node, subject, collector).await;
    assert_eq!((d, r), (pb::Decision::Deny, pb::Reason::Revoked));
    assert_eq!(resp.grant.as_ref(), grant.id.0.as_slice());

    // Reads: head, entry, feed stream, status.
    let head = s.node.head(&subject).await;
    assert_eq!(
        (head.seq, head.role(), head.frozen),
        (2, pb::Role::Citizen, false)
    );
    let got = ledger
        .get_entry(pb::GetEntryRequest {
            id: Bytes::copy_from_slice(&grant.id.0),
        })
        .await
        .expect("entry")
        .into_inner()
        .entry
        .expect("present");
    assert_eq!(got.entry.expect("signed").payload, grant.payload);
    let mut stream = ledger
        .get_feed(pb::GetFeedRequest {
            feed: Bytes::copy_from_slice(&subject.0),
            from_seq: 1,
            limit: 0,
        })
        .await
        .expect("feed")
        .into_inner();
    let mut seqs = Vec::new();
    while let Some(item) = stream.message().await.expect("stream") {
        seqs.push(item.seq);
    }
    assert_eq!(seqs, vec![1, 2]);
    let missing = ledger
        .get_entry(pb::GetEntryRequest {
            id: Bytes::from(vec![9; 32]),
        })
        .await
        .expect_err("absent");
    assert_eq!(missing.code(), Code::NotFound);
    let status = s.node.status().await;
    assert_eq!(
        (status.entries, status.feeds, status.network_id.as_str()),
        (7, 3, "test")
    );
    assert!(status.node_id.starts_with("node1"));
}

#[tokio::test]
async fn a_gap_is_held_pending_and_accepted_once_filled() {
    let mut s = setup().await;
    let mut ledger = s.node.ledger().await;
    let grant = s.grant();
    let revoke = fixtures::append(
        &mut s.alice,
        T0 + 2 * DAY,
        fixtures::revoke(grant.id, false),
    );
    let pending = submit(&mut ledger, &revoke)
        .await
        .expect("pending is not an error");
    assert_eq!(pending.status(), pb::SubmitStatus::Pending);
    assert_eq!(pending.missing.as_ref(), s.alice.feed().0.as_slice());
    assert!(pending.receipt.is_none());
    let status = s.node.status().await;
    assert_eq!(status.pending, 1);

    submit_ok(&mut ledger, &grant).await;
    // The held revocation was accepted in the same commit as its predecessor.
    let head = s.node.head(&s.alice.feed()).await;
    assert_eq!(head.seq, 2);
    let (d, r, _) = decision(&s.node, s.alice.feed(), s.scene.collector.feed()).await;
    assert_eq!((d, r), (pb::Decision::Deny, pb::Reason::Revoked));
    // A cross-feed reference that arrives later: Bob's grant before the collector exists on a fresh node.
    let fresh = TestNode::start(&fixture_genesis()).await;
    let mut l2 = fresh.ledger().await;
    let (mut bob, b0) = fixtures::author(Role::Citizen, "bob", T0);
    submit_ok(&mut l2, &b0).await;
    let g = fixtures::append(
        &mut bob,
        T0 + DAY,
        fixtures::grant(
            s.scene.collector.feed(),
            s.scene.policy,
            &[P::ServiceProvision],
            &[C::Location],
            T0,
            None,
        ),
    );
    assert_eq!(
        submit(&mut l2, &g).await.expect("pending").status(),
        pb::SubmitStatus::Pending
    );
    for e in &s.scene.entries {
        submit_ok(&mut l2, e).await;
    }
    let head = fresh.head(&bob.feed()).await;
    assert_eq!(
        head.seq, 1,
        "bob's grant was accepted once the collector and its policy arrived"
    );
}

#[tokio::test]
async fn a_duplicate_is_idempotent() {
    let mut s = setup().await;
    let mut ledger = s.node.ledger().await;
    let grant = s.grant();
    let first = submit_ok(&mut ledger, &grant).await;
    let again = submit(&mut ledger, &grant)
        .await
        .expect("duplicate is fine");
    assert_eq!(again.status(), pb::SubmitStatus::Duplicate);
    let a = consent_proto::receipt::verify(&first.receipt.unwrap_or_default()).expect("receipt");
    let b = consent_proto::receipt::verify(&again.receipt.unwrap_or_default()).expect("receipt");
    assert_eq!(a.index, b.index);
    let status = s.node.status().await;
    assert_eq!(status.entries, 6);
}

#[tokio::test]
async fn the_pending_store_is_bounded() {
    let genesis = fixture_genesis();
    let mut node = TestNode::start(&genesis).await;
    node.stop().await;
    let mut config = node.config();
    config.ledger.max_pending = 2;
    node.node = Some(consent_node::Node::start(config).await.expect("start"));
    let mut ledger = node.ledger().await;
    let request = || fixtures::request(FeedId([1; 32]), consent_proto::vocab::RequestKind::Access);
    // Entries of feeds whose inception never arrives (unverifiable) wait pending, up to the
    // bound; past it, this client's own oldest one gives way.
    for i in 0..3 {
        let (mut c, _) = fixtures::author(Role::Citizen, &format!("orphan-{i}"), T0);
        let e = fixtures::append(&mut c, T0, request());
        let got = submit(&mut ledger, &e)
            .await
            .map(|r| r.status())
            .map_err(|s| s.code());
        assert_eq!(got, Ok(pb::SubmitStatus::Pending), "orphan {i}");
    }
    let status = node.status().await;
    assert_eq!((status.pending, status.pending_evicted), (2, 1));
    // Entries signed by a known feed's key past a gap (verified) take the place of this client's
    // unverifiable ones; once it holds only verified entries, one more is refused.
    let (mut bob, b0) = fixtures::author(Role::Citizen, "bob", T0);
    submit_ok(&mut ledger, &b0).await;
    let _withheld = fixtures::append(&mut bob, T0, request());
    for (seq, expected) in [
        (2, Ok(pb::SubmitStatus::Pending)),
        (3, Ok(pb::SubmitStatus::Pending)),
        (4, Err(Code::ResourceExhausted)),
    ] {
        let e = fixtures::append(&mut bob, T0, request());
        let got = submit(&mut ledger, &e)
            .await
            .map(|r| r.status())
            .map_err(|s| s.code());
        assert_eq!(got, expected, "seq {seq}");
    }
    let status = node.status().await;
    assert_eq!((status.pending, status.pending_evicted), (2, 3));
}
