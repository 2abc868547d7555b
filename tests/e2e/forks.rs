//! A citizen who forks its own feed must not split the network (security review, finding 1).
//!
//! Three nodes; each citizen feed is created and replicated everywhere, then, at the same moment,
//! one branch is sent to one node (a rotation to the committed next key, sometimes followed by an
//! entry signed with the new key) and another branch to another node (an ordinary grant signed by
//! the key in force, sometimes followed by a request). Before the fix, the rotation made each
//! node see the other branch as a bad signature and blame, then ban, the peer that relayed it.
//! Now: every forked feed is frozen on every node, nobody is banned, and replication continues.

use std::time::Duration;

use consent_proto::entry::{Author, Entry};
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::ids::FeedId;
use consent_proto::vocab::{Purpose as P, RequestKind, Role};
use consent_tests::eventually;
use consent_tests::harness::{TestNode, fixture_genesis, submit, submit_ok};
use consent_tests::net::{connected, head, head_seq};

const WAIT: Duration = Duration::from_secs(30);
const ROUNDS: usize = 5;
const FORKS_PER_ROUND: usize = 10;

/// The two branches of one forked feed, each as the entries sent to one node.
struct Fork {
    feed: FeedId,
    inception: Entry,
    rotating: Vec<Entry>,
    granting: Vec<Entry>,
}

fn fork(scene: &fixtures::Scene, label: &str, deep: bool) -> Fork {
    let (_, inception) = fixtures::author(Role::Citizen, label, T0);
    let feed = inception.feed;
    let resume = || {
        Author::resume(
            Role::Citizen,
            fixtures::key(&format!("{label}/0")),
            fixtures::key(&format!("{label}/1")),
            feed,
            0,
            inception.id,
        )
    };
    let mut r = resume();
    let mut rotating = vec![
        r.rotate(T0 + DAY, fixtures::key(&format!("{label}/2")))
            .expect("rotation"),
    ];
    let mut g = resume();
    let mut granting = vec![fixtures::append(
        &mut g,
        T0 + DAY,
        fixtures::location_grant(scene, P::ServiceProvision),
    )];
    if deep {
        let request = || fixtures::request(scene.collector.feed(), RequestKind::Access);
        rotating.push(fixtures::append(&mut r, T0 + DAY, request()));
        granting.push(fixtures::append(&mut g, T0 + DAY, request()));
    }
    Fork {
        feed,
        inception,
        rotating,
        granting,
    }
}

async fn frozen(node: &TestNode, feed: &FeedId) -> bool {
    head(node, feed).await.is_some_and(|h| h.frozen)
}

/// Sends a branch entry by entry (a refusal is fine: the node may already hold the other branch).
async fn send(node: &TestNode, entries: &[Entry]) {
    let mut ledger = node.ledger().await;
    for e in entries {
        let _ = submit(&mut ledger, e).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_forking_its_feed_around_a_rotation_is_frozen_everywhere_and_splits_nothing() {
    let genesis = fixture_genesis();
    let a = TestNode::start(&genesis).await;
    let b = TestNode::start_with_peers(&genesis, &[&a]).await;
    let c = TestNode::start_with_peers(&genesis, &[&a, &b]).await;
    let nodes = [&a, &b, &c];
    connected(&nodes, 2).await;
    let scene = fixtures::scene(T0);
    let mut ledger_a = a.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger_a, e).await;
    }

    for round in 0..ROUNDS {
        let forks: Vec<Fork> = (0..FORKS_PER_ROUND)
            .map(|i| fork(&scene, &format!("forker-{round}-{i}"), i % 2 == 1))
            .collect();
        // Each feed is created at one node and replicated to all before it forks.
        for f in &forks {
            submit_ok(&mut ledger_a, &f.inception).await;
        }
        for node in nodes {
            for f in &forks {
                eventually(WAIT, "inception replicated", || async {
                    head_seq(node, &f.feed).await.map(|_| ())
                })
                .await;
            }
        }
        // The two branches reach two different nodes at the same moment (pairs rotate by round).
        let (to_r, to_g) = [(&a, &b), (&b, &c), (&c, &a)][round % 3];
        futures::future::join_all(forks.iter().map(|f| async {
            tokio::join!(send(to_r, &f.rotating), send(to_g, &f.granting));
        }))
        .await;
        for node in nodes {
            for f in &forks {
                eventually(WAIT, "forked feed frozen on every node", || async {
                    frozen(node, &f.feed).await.then_some(())
                })
                .await;
            }
        }
        for node in nodes {
            let status = node.status().await;
            assert_eq!(
                status.banned_peers, 0,
                "round {round}: a node banned an honest peer"
            );
            assert!(status.peers >= 2, "round {round}: a node lost its peers");
            for peer in &status.peer_status {
                assert_eq!(peer.offences, 0, "round {round}: an honest peer was blamed");
            }
        }
    }

    // Replication goes on: a new citizen's grant made at C reaches A and B.
    let (_, c0, grant) = fixtures::citizen_granting(&scene, "after-the-forks", P::ServiceProvision);
    let mut ledger_c = c.ledger().await;
    submit_ok(&mut ledger_c, &c0).await;
    submit_ok(&mut ledger_c, &grant).await;
    for node in [&a, &b] {
        eventually(WAIT, "replication continues after the forks", || async {
            (head_seq(node, &grant.feed).await == Some(1)).then_some(())
        })
        .await;
    }
}
