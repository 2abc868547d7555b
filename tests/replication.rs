//! Several real nodes on 127.0.0.1 replicating over libp2p: an entry submitted anywhere becomes
//! visible everywhere, and a revocation at one node turns checks at every other node to deny.

use std::time::Duration;

use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::ids::FeedId;
use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, Purpose as P, Role};
use consent_tests::harness::{TestNode, fixture_genesis, submit_ok};
use consent_tests::{eventually, within};
use prost::bytes::Bytes;

const WAIT: Duration = Duration::from_secs(20);

async fn decision(node: &TestNode, subject: FeedId, collector: FeedId) -> pb::CheckResponse {
    let request = pb::CheckRequest {
        subject: Bytes::copy_from_slice(&subject.0),
        collector: Bytes::copy_from_slice(&collector.0),
        purpose: P::ServiceProvision as i32,
        category: C::Location as i32,
        at_ms: 0,
    };
    node.consent()
        .await
        .check(request)
        .await
        .expect("check")
        .into_inner()
}

async fn head_seq(node: &TestNode, feed: &FeedId) -> Option<u64> {
    let request = pb::GetHeadRequest {
        feed: Bytes::copy_from_slice(&feed.0),
    };
    node.ledger()
        .await
        .get_head(request)
        .await
        .ok()
        .map(|r| r.into_inner().seq)
}

/// Waits until every node has at least `n` peers.
async fn connected(nodes: &[&TestNode], n: u32) {
    for node in nodes {
        eventually(WAIT, "peers connected", || async {
            (node.status().await.peers >= n).then_some(())
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_converge_and_a_revocation_anywhere_denies_everywhere() {
    let genesis = fixture_genesis();
    let a = TestNode::start(&genesis).await;
    let b = TestNode::start_with_peers(&genesis, &[&a]).await;
    let c = TestNode::start_with_peers(&genesis, &[&a]).await;
    connected(&[&a], 2).await;
    connected(&[&b, &c], 1).await;
    // Gossipsub needs a heartbeat to build its mesh after the subscriptions are exchanged.
    let scene = fixtures::scene(T0);
    let (mut alice, a0) = fixtures::author(Role::Citizen, "alice", T0);
    let grant = fixtures::append(
        &mut alice,
        T0 + DAY,
        fixtures::grant(
            scene.collector.feed(),
            scene.policy,
            &[P::ServiceProvision],
            &[C::Location],
            T0,
            None,
        ),
    );
    let mut ledger_a = a.ledger().await;
    for e in scene.entries.iter().chain([&a0, &grant]) {
        submit_ok(&mut ledger_a, e).await;
    }
    for node in [&b, &c] {
        eventually(WAIT, "grant replicated", || async {
            let r = decision(node, alice.feed(), scene.collector.feed()).await;
            (r.decision() == pb::Decision::Allow).then_some(())
        })
        .await;
    }
    // Revoke at B (a leaf): it travels B -> A -> C.
    let revoke = fixtures::append(&mut alice, T0 + 2 * DAY, fixtures::revoke(grant.id, true));
    submit_ok(&mut b.ledger().await, &revoke).await;
    for node in [&a, &c] {
        let r = eventually(WAIT, "revocation replicated", || async {
            let r = decision(node, alice.feed(), scene.collector.feed()).await;
            (r.decision() == pb::Decision::Deny).then_some(r)
        })
        .await;
        assert_eq!(r.reason(), pb::Reason::Revoked);
    }
    // Every node holds the same heads.
    for node in [&a, &b, &c] {
        assert_eq!(head_seq(node, &alice.feed()).await, Some(2));
        assert_eq!(node.status().await.entries, 7);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_is_pulled_from_the_peer_that_pushed() {
    let genesis = fixture_genesis();
    let a = TestNode::start(&genesis).await;
    // Alice's history exists only at A before B joins.
    let scene = fixtures::scene(T0);
    let (mut alice, a0) = fixtures::author(Role::Citizen, "alice", T0);
    let grant = fixtures::append(
        &mut alice,
        T0 + DAY,
        fixtures::grant(
            scene.collector.feed(),
            scene.policy,
            &[P::ServiceProvision],
            &[C::Location],
            T0,
            None,
        ),
    );
    let mut ledger_a = a.ledger().await;
    for e in scene.entries.iter().chain([&a0, &grant]) {
        submit_ok(&mut ledger_a, e).await;
    }
    let b = TestNode::start_with_peers(&genesis, &[&a]).await;
    connected(&[&a, &b], 1).await;
    // A new entry of Alice's is pushed to B, which lacks its predecessors and the collector's
    // feed: B holds it pending, pulls what is missing from A, and then accepts it.
    let revoke = fixtures::append(&mut alice, T0 + 2 * DAY, fixtures::revoke(grant.id, false));
    // First make sure A's pushes reach B (B has joined A's topic): probe with fresh feeds.
    let (a_ref, b_ref) = (&a, &b);
    let mut n = 0u32;
    eventually(WAIT, "gossip from A reaches B", || {
        n += 1;
        let (_, probe) = fixtures::author(Role::Citizen, &format!("probe-{n}"), T0);
        async move {
            submit_ok(&mut a_ref.ledger().await, &probe).await;
            // Give the push a moment before probing again with a new feed.
            within(Duration::from_millis(500), || async {
                head_seq(b_ref, &probe.feed).await
            })
            .await
        }
    })
    .await;
    submit_ok(&mut a.ledger().await, &revoke).await;
    eventually(WAIT, "B pulled the gap", || async {
        (head_seq(&b, &alice.feed()).await == Some(2)).then_some(())
    })
    .await;
    // B pulled Alice's whole feed and the collector's feed that her grant references.
    assert_eq!(head_seq(&b, &scene.collector.feed()).await, Some(1));
    // Nothing Alice signed points at the registrar's feed, so its accreditation reaches B only
    // with anti-entropy (not built yet): until then B fails closed.
    let r = decision(&b, alice.feed(), scene.collector.feed()).await;
    assert_eq!(
        (r.decision(), r.reason()),
        (pb::Decision::Deny, pb::Reason::CollectorNotAccredited)
    );
}
