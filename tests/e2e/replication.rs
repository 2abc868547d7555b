//! Several real nodes on 127.0.0.1 replicating over libp2p: an entry submitted anywhere becomes
//! visible everywhere, and a revocation at one node turns checks at every other node to deny.

use std::time::Duration;

use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::ids::FeedId;
use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, Purpose as P, Role};
use consent_tests::harness::{TestNode, citizen_granting, fixture_genesis, submit_ok};
use consent_tests::net::{WAIT, connected, decision, decision_once_known, head_seq, same_entries};
use consent_tests::{eventually, within};

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
    let (mut alice, a0, grant) =
        citizen_granting(&scene, "alice", T0, T0 + DAY, P::ServiceProvision);
    let mut ledger_a = a.ledger().await;
    for e in scene.entries.iter().chain([&a0, &grant]) {
        submit_ok(&mut ledger_a, e).await;
    }
    for node in [&b, &c] {
        eventually(WAIT, "grant replicated", || async {
            let r = decision_once_known(node, alice.feed(), scene.collector.feed()).await?;
            (r.decision() == pb::Decision::Allow).then_some(())
        })
        .await;
    }
    // Revoke at B (a leaf): it travels B -> A -> C.
    let revoke = fixtures::append(&mut alice, T0 + 2 * DAY, fixtures::revoke(grant.id, true));
    submit_ok(&mut b.ledger().await, &revoke).await;
    for node in [&a, &c] {
        let r = eventually(WAIT, "revocation replicated", || async {
            let r = decision_once_known(node, alice.feed(), scene.collector.feed()).await?;
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
async fn five_nodes_in_a_chain_converge_across_four_hops() {
    let genesis = fixture_genesis();
    let mut nodes = vec![TestNode::start(&genesis).await];
    for _ in 1..5 {
        let previous = nodes.last().expect("a node");
        let next = TestNode::start_with_peers(&genesis, &[previous]).await;
        nodes.push(next);
    }
    let refs: Vec<&TestNode> = nodes.iter().collect();
    connected(&refs, 1).await;
    let scene = fixtures::scene(T0);
    let (mut alice, a0, grant) =
        citizen_granting(&scene, "alice", T0, T0 + DAY, P::ServiceProvision);
    let mut first = nodes[0].ledger().await;
    for e in scene.entries.iter().chain([&a0, &grant]) {
        submit_ok(&mut first, e).await;
    }
    for node in &nodes[1..] {
        eventually(WAIT, "grant at every node", || async {
            let r = decision_once_known(node, alice.feed(), scene.collector.feed()).await?;
            (r.decision() == pb::Decision::Allow).then_some(())
        })
        .await;
    }
    // Revoke at the far end; it must reach the first node four hops away.
    let revoke = fixtures::append(&mut alice, T0 + 2 * DAY, fixtures::revoke(grant.id, false));
    submit_ok(&mut nodes[4].ledger().await, &revoke).await;
    for node in &nodes[..4] {
        eventually(WAIT, "revocation at every node", || async {
            let r = decision_once_known(node, alice.feed(), scene.collector.feed()).await?;
            (r.reason() == pb::Reason::Revoked).then_some(())
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_is_pulled_from_the_peer_that_pushed() {
    let genesis = fixture_genesis();
    let a = TestNode::start(&genesis).await;
    // Alice's history exists only at A before B joins.
    let scene = fixtures::scene(T0);
    let (mut alice, a0, grant) =
        citizen_granting(&scene, "alice", T0, T0 + DAY, P::ServiceProvision);
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
    // B ends up with Alice's feed, the collector's, and the registrar's accreditation (anti-entropy
    // pulls the feeds in parallel, so the decision settles a moment after Alice's head arrives).
    let r = eventually(WAIT, "B decides on complete state", || async {
        let r = decision_once_known(&b, alice.feed(), scene.collector.feed()).await?;
        (r.reason() == pb::Reason::Revoked).then_some(r)
    })
    .await;
    assert_eq!(r.decision(), pb::Decision::Deny);
    assert_eq!(head_seq(&b, &scene.collector.feed()).await, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_equivocation_seen_at_one_node_freezes_the_feed_everywhere() {
    let genesis = fixture_genesis();
    let a = TestNode::start(&genesis).await;
    let b = TestNode::start_with_peers(&genesis, &[&a]).await;
    let c = TestNode::start_with_peers(&genesis, &[&a]).await;
    connected(&[&a], 2).await;
    let scene = fixtures::scene(T0);
    let (alice, a0, grant) = citizen_granting(&scene, "alice", T0, T0 + DAY, P::ServiceProvision);
    let mut ledger_a = a.ledger().await;
    for e in scene.entries.iter().chain([&a0, &grant]) {
        submit_ok(&mut ledger_a, e).await;
    }
    for node in [&b, &c] {
        eventually(WAIT, "grant replicated", || async {
            (head_seq(node, &alice.feed()).await == Some(1)).then_some(())
        })
        .await;
    }
    // Alice's key signs a second, different entry at seq 1, handed to C only.
    let fork = consent_proto::Entry::sign(
        Some(alice.feed()),
        1,
        grant.prev,
        T0 + DAY,
        &fixtures::grant(
            scene.collector.feed(),
            scene.policy,
            &[P::Research],
            &[C::Location],
            T0,
            None,
        ),
        &fixtures::key("alice/0"),
    )
    .expect("valid");
    let err = c
        .ledger()
        .await
        .submit(pb::SubmitRequest {
            entry: Some(fork.to_signed()),
        })
        .await
        .expect_err("equivocation");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    for node in [&a, &b, &c] {
        eventually(WAIT, "feed frozen everywhere", || async {
            let r = decision_once_known(node, alice.feed(), scene.collector.feed()).await?;
            (r.reason() == pb::Reason::SubjectFrozen).then_some(())
        })
        .await;
    }
}

/// Submits `n` citizens (an inception and a grant each) to `node` in batches; returns the feeds.
async fn populate(node: &TestNode, scene: &fixtures::Scene, label: &str, n: usize) -> Vec<FeedId> {
    let mut ledger = node.ledger().await;
    let mut feeds = Vec::new();
    let mut batch = Vec::new();
    for i in 0..n {
        let (mut c, c0) = fixtures::author(Role::Citizen, &format!("{label}-{i}"), T0);
        let g = fixtures::append(
            &mut c,
            T0 + DAY,
            fixtures::location_grant(scene, P::ServiceProvision),
        );
        feeds.push(c.feed());
        batch.push(c0.to_signed());
        batch.push(g.to_signed());
        if batch.len() >= 1000 || i + 1 == n {
            let results = ledger
                .submit_batch(pb::SubmitBatchRequest {
                    entries: std::mem::take(&mut batch),
                })
                .await
                .expect("batch")
                .into_inner()
                .results;
            assert!(
                results.iter().all(|r| r.response.is_some()),
                "batch refused: {:?}",
                results.first()
            );
        }
    }
    feeds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_catches_up_on_ten_thousand_entries() {
    let genesis = fixture_genesis();
    let a = TestNode::start(&genesis).await;
    let scene = fixtures::scene(T0);
    let mut ledger = a.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    let feeds = populate(&a, &scene, "early", 5_000).await;
    let total = a.status().await.entries;
    assert_eq!(total, 4 + 10_000);
    let b = TestNode::start_with_peers(&genesis, &[&a]).await;
    same_entries(&[&b], total).await;
    let r = decision(&b, feeds[4_999], scene.collector.feed()).await;
    assert_eq!(r.decision(), pb::Decision::Allow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_was_away_converges_after_restart() {
    let genesis = fixture_genesis();
    let a = TestNode::start(&genesis).await;
    let b = TestNode::start_with_peers(&genesis, &[&a]).await;
    let mut c = TestNode::start_with_peers(&genesis, &[&a]).await;
    connected(&[&a], 2).await;
    let scene = fixtures::scene(T0);
    let mut ledger = a.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    populate(&a, &scene, "before", 50).await;
    same_entries(&[&b, &c], 104).await;
    c.stop().await;
    populate(&b, &scene, "while-away", 200).await;
    same_entries(&[&a], 504).await;
    c.restart().await;
    same_entries(&[&c], 504).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_two_partition_heals_to_identical_heads_and_decisions() {
    let genesis = fixture_genesis();
    let a = TestNode::start(&genesis).await;
    let b = TestNode::start_with_peers(&genesis, &[&a]).await;
    let c = TestNode::start_with_peers(&genesis, &[&b]).await;
    let d = TestNode::start_with_peers(&genesis, &[&c]).await;
    let scene = fixtures::scene(T0);
    let mut ledger = a.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    same_entries(&[&a, &b, &c, &d], 4).await;
    // Split {a, b} | {c, d}: every node cuts off the other side and refuses its redials (and
    // Kademlia's), so the sides stay apart.
    let (left, right) = ([&a, &b], [&c, &d]);
    for (side, other) in [(left, right), (right, left)] {
        for node in side {
            for peer in other {
                node.p2p().block(peer.p2p().peer_id()).await;
            }
        }
    }
    for node in [&a, &b, &c, &d] {
        eventually(WAIT, "partitioned", || async {
            (node.status().await.peers == 1).then_some(())
        })
        .await;
    }
    let left_feeds = populate(&a, &scene, "left", 100).await;
    let right_feeds = populate(&d, &scene, "right", 120).await;
    same_entries(&[&a, &b], 4 + 200).await;
    same_entries(&[&c, &d], 4 + 240).await;
    // Heal: lift the blocks, and b dials c. Anti-entropy runs on the new connection, both
    // ways, and gossip spreads.
    for (side, other) in [(left, right), (right, left)] {
        for node in side {
            for peer in other {
                node.p2p().unblock(peer.p2p().peer_id()).await;
            }
        }
    }
    let addr = c.tcp_addr().parse().expect("multiaddr");
    b.p2p().dial(addr).await;
    same_entries(&[&a, &b, &c, &d], 4 + 200 + 240).await;
    let mut heads = Vec::new();
    for node in [&a, &b, &c, &d] {
        let mut node_heads = Vec::new();
        for feed in left_feeds.iter().chain(&right_feeds) {
            node_heads.push(node.head(feed).await.head);
        }
        heads.push(node_heads);
        for feed in [left_feeds[99], right_feeds[119]] {
            assert_eq!(head_seq(node, &feed).await, Some(1));
            assert_eq!(
                decision(node, feed, scene.collector.feed())
                    .await
                    .decision(),
                pb::Decision::Allow
            );
        }
    }
    assert!(heads.windows(2).all(|w| w[0] == w[1]), "identical heads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_link_converges_and_bans_no_one() {
    let genesis = fixture_genesis();
    let a = TestNode::start(&genesis).await;
    let b = TestNode::start_with_peers(&genesis, &[&a]).await;
    connected(&[&a, &b], 1).await;
    let scene = fixtures::scene(T0);
    let mut ledger = a.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    same_entries(&[&b], 4).await;
    // Ten times: the link goes down (both sides cut it and refuse redials), each side takes
    // writes, the link comes back (unblock, redial) while both keep writing.
    let (mut on_a, mut on_b) = (Vec::new(), Vec::new());
    for flap in 0..10 {
        a.p2p().block(b.p2p().peer_id()).await;
        b.p2p().block(a.p2p().peer_id()).await;
        eventually(WAIT, "link down", || async {
            (a.status().await.peers == 0 && b.status().await.peers == 0).then_some(())
        })
        .await;
        on_a.extend(populate(&a, &scene, &format!("down-a{flap}"), 20).await);
        on_b.extend(populate(&b, &scene, &format!("down-b{flap}"), 30).await);
        a.p2p().unblock(b.p2p().peer_id()).await;
        b.p2p().unblock(a.p2p().peer_id()).await;
        b.p2p().dial(a.tcp_addr().parse().expect("multiaddr")).await;
        on_a.extend(populate(&a, &scene, &format!("up-a{flap}"), 10).await);
        on_b.extend(populate(&b, &scene, &format!("up-b{flap}"), 10).await);
    }
    connected(&[&a, &b], 1).await;
    let total = 4 + 2 * (on_a.len() + on_b.len()) as u64;
    same_entries(&[&a, &b], total).await;
    for feed in on_a.iter().chain(&on_b) {
        assert_eq!(a.head(feed).await.head, b.head(feed).await.head);
    }
    for node in [&a, &b] {
        assert_eq!(
            node.status().await.banned_peers,
            0,
            "a flapping link is no offence"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_missed_an_equivocation_learns_it_by_anti_entropy() {
    let genesis = fixture_genesis();
    let a = TestNode::start(&genesis).await;
    let scene = fixtures::scene(T0);
    let (mallory, m0, grant) =
        citizen_granting(&scene, "mallory", T0, T0 + DAY, P::ServiceProvision);
    let fork = consent_proto::Entry::sign(
        Some(mallory.feed()),
        1,
        grant.prev,
        T0 + DAY,
        &fixtures::grant(
            scene.collector.feed(),
            scene.policy,
            &[P::Research],
            &[C::Location],
            T0,
            None,
        ),
        &fixtures::key("mallory/0"),
    )
    .expect("valid");
    let mut ledger_a = a.ledger().await;
    for e in scene.entries.iter().chain([&m0, &grant]) {
        submit_ok(&mut ledger_a, e).await;
    }
    let frozen = ledger_a
        .submit(pb::SubmitRequest {
            entry: Some(fork.to_signed()),
        })
        .await
        .expect_err("equivocation");
    assert_eq!(frozen.code(), tonic::Code::FailedPrecondition);
    // B was not there when it happened: gossip never carried the proof to it.
    let b = TestNode::start_with_peers(&genesis, &[&a]).await;
    eventually(
        WAIT,
        "the collector replicated (its session needs it)",
        || async { head_seq(&b, &scene.collector.feed()).await.map(|_| ()) },
    )
    .await;
    eventually(WAIT, "the proof pulled and the feed frozen", || async {
        let r = decision(&b, mallory.feed(), scene.collector.feed()).await;
        (r.reason() == pb::Reason::SubjectFrozen).then_some(())
    })
    .await;
    // B serves the evidence it pulled, as A does: the entry both held, then the fork.
    for node in [&a, &b] {
        let evidence = node
            .ledger()
            .await
            .get_equivocation(pb::GetEquivocationRequest {
                feed: prost::bytes::Bytes::copy_from_slice(&mallory.feed().0),
            })
            .await
            .expect("evidence")
            .into_inner();
        let pairs: Vec<_> = evidence
            .equivocations
            .iter()
            .map(|e| {
                let id = |s: &Option<pb::SignedEntry>| {
                    consent_proto::Entry::from_signed(&s.clone().unwrap_or_default()).map(|e| e.id)
                };
                (e.seq, id(&e.held), id(&e.conflicting))
            })
            .collect();
        assert_eq!(pairs, vec![(1, Ok(grant.id), Ok(fork.id))]);
    }
    // The counters in Status are published right after the commit that the check already sees.
    eventually(WAIT, "status counts the frozen feed", || async {
        (b.status().await.frozen_feeds == 1).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_find_each_other_through_kademlia_from_one_bootstrap_peer() {
    let genesis = fixture_genesis();
    let a = TestNode::start(&genesis).await;
    let b = TestNode::start_with_peers(&genesis, &[&a]).await;
    let c = TestNode::start_with_peers(&genesis, &[&a]).await;
    let d = TestNode::start_with_peers(&genesis, &[&c]).await;
    // Nobody was told about more than one peer; everyone ends up connected to everyone.
    connected(&[&a, &b, &c, &d], 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_replicate_over_quic_alone() {
    let genesis = fixture_genesis();
    let a = TestNode::start(&genesis).await;
    let mut b = TestNode::start(&genesis).await;
    b.stop().await;
    b.bootstrap = a
        .p2p_addrs()
        .into_iter()
        .filter(|addr| addr.contains("/quic-v1/"))
        .collect();
    assert_eq!(b.bootstrap.len(), 1, "a listens on QUIC");
    b.restart().await;
    connected(&[&a, &b], 1).await;
    let status = b.status().await;
    assert!(
        status.peer_status[0].address.contains("/quic-v1"),
        "{:?}",
        status.peer_status
    );
    let scene = fixtures::scene(T0);
    let mut ledger = a.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    same_entries(&[&b], scene.entries.len() as u64).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_each_peer_its_lag_and_the_last_round() {
    let genesis = fixture_genesis();
    let a = TestNode::start(&genesis).await;
    let scene = fixtures::scene(T0);
    let mut ledger = a.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    populate(&a, &scene, "status", 50).await;
    let b = TestNode::start_with_peers(&genesis, &[&a]).await;
    let expected = scene.entries.len() as u64 + 100;
    same_entries(&[&b], expected).await;
    let a_id = a.p2p().peer_id().to_string();
    let line = eventually(WAIT, "b reports a in sync", || async {
        let status = b.status().await;
        let line = status.peer_status.into_iter().find(|p| p.peer_id == a_id)?;
        (line.in_sync_ms > 0 && line.lag_feeds == 0).then_some(line)
    })
    .await;
    // Entries accepted straight from a pull (those that first waited for a predecessor are
    // accepted later, by that predecessor's commit).
    assert!((1..=expected).contains(&line.entries_pulled));
    assert!(line.last_round_ms > 0 && line.connected_ms > 0);
    assert_eq!(line.offences, 0);
    assert!(line.address.starts_with("/ip4/127.0.0.1/"));
    let status = b.status().await;
    assert!(status.last_round_ms > 0);
    assert!(status.sync_bytes_received > 0 && status.sync_bytes_sent > 0);
    assert_eq!(status.banned_peers, 0);
}
