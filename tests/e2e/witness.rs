//! Witnessing on real nodes: peers cosign each other's checkpoints, and a node made to fork its
//! log (restored from an old backup, then fed other entries) is caught: a witness holds two
//! checkpoints it signed for one size with different roots, spreads them, and every node shows
//! them in Status. With a member list in the genesis, nodes outside it neither keep a node
//! looking fresh nor, with `members_only`, connect at all; `Node.NodeKey` answers the key alone.

use std::path::Path;

use consent_node::genesis::Genesis;
use consent_node::log::witness::prove_fork;
use consent_proto::fixtures::{self, T0};
use consent_proto::keys::SecretKey;
use consent_proto::note::{NODE_PREFIX, SignedNote, key_of};
use consent_proto::pb;
use consent_proto::vocab::Role;
use consent_tests::eventually;
use consent_tests::harness::{TestNode, fixture_genesis, submit_ok};
use consent_tests::net::{WAIT, connected};
use consent_tests::rogue::Rogue;
use libp2p::swarm::SwarmEvent;
use prost::Message;

/// The fixture genesis listing the nodes with these keys as the network's members.
fn members_genesis(keys: &[&SecretKey], members_only: bool) -> Genesis {
    Genesis {
        nodes: keys
            .iter()
            .map(|k| k.public().to_text(NODE_PREFIX))
            .collect(),
        members_only,
        ..fixture_genesis()
    }
}

/// Submits `n` new citizens' inceptions named `label-i` at `node`.
async fn citizens(node: &TestNode, label: &str, n: usize) {
    let mut ledger = node.ledger().await;
    for i in 0..n {
        let (_, e) = fixtures::author(Role::Citizen, &format!("{label}-{i}"), T0);
        submit_ok(&mut ledger, &e).await;
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_cosign_each_others_checkpoints() {
    let genesis = fixture_genesis();
    let a = TestNode::start(&genesis).await;
    let b = TestNode::start_with_peers(&genesis, &[&a]).await;
    let c = TestNode::start_with_peers(&genesis, &[&a]).await;
    connected(&[&a], 2).await;
    let mut ledger = a.ledger().await;
    for e in &fixtures::scene(T0).entries {
        submit_ok(&mut ledger, e).await;
    }
    let a_id = a.status().await.node_id;
    let (b_id, c_id) = (b.status().await.node_id, c.status().await.node_id);
    let status = eventually(WAIT, "A's checkpoint cosigned by B and C", || async {
        let s = a.status().await;
        (s.checkpoint_size >= 4 && s.checkpoint_cosignatures >= 2).then_some(s)
    })
    .await;
    let note = a
        .log()
        .await
        .get_checkpoint(pb::GetCheckpointRequest {})
        .await
        .expect("checkpoint")
        .into_inner()
        .note;
    let note = SignedNote::parse(&note).expect("note");
    assert_eq!(note.checkpoint.size, status.checkpoint_size);
    let policy: Vec<_> = [&b_id, &c_id]
        .iter()
        .map(|n| (n.to_string(), key_of(n).expect("a node id names its key")))
        .collect();
    assert_eq!(note.cosigned_by(&policy).len(), 2);
    let witnessed = b.status().await.witnessed;
    assert!(
        witnessed
            .iter()
            .any(|w| w.origin == a_id && w.tree_size >= 4)
    );
    assert!(a.status().await.forks.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_forks_its_log_is_caught_by_its_witnesses() {
    // The three are the network's members: W2 takes the evidence about F from W1 whether or not
    // it ever witnessed F itself.
    let keys = [fixtures::key("f"), fixtures::key("w1"), fixtures::key("w2")];
    let genesis = members_genesis(&[&keys[0], &keys[1], &keys[2]], false);
    let mut f = TestNode::start_as(&genesis, &keys[0], &[]).await;
    let w1 = TestNode::start_as(&genesis, &keys[1], &[&f]).await;
    let w2 = TestNode::start_as(&genesis, &keys[2], &[&w1]).await;
    connected(&[&w1], 2).await;
    let f_id = f.status().await.node_id;
    citizens(&f, "early", 5).await;
    // A backup of F taken now.
    let backup = tempfile::tempdir().expect("tempdir");
    f.stop().await;
    copy_dir(&f.config().data_dir, backup.path());
    f.bootstrap = w1.p2p_addrs();
    f.restart().await;
    citizens(&f, "late", 10).await;
    // W1 cosigns F's log with the late entries.
    let cosigned = eventually(WAIT, "W1 cosigned F's log", || async {
        let s = w1.status().await;
        s.witnessed
            .iter()
            .find(|w| w.origin == f_id && w.tree_size >= 15)
            .map(|w| w.tree_size)
    })
    .await;

    // F's operator restores the old backup and, cut off, takes other entries in their place.
    f.stop().await;
    let dir = f.config().data_dir;
    std::fs::remove_dir_all(&dir).expect("remove");
    copy_dir(backup.path(), &dir);
    f.bootstrap = Vec::new();
    f.restart().await;
    citizens(&f, "other", cosigned as usize + 2).await;
    eventually(WAIT, "F signed its rewritten log", || async {
        (f.status().await.checkpoint_size > cosigned).then_some(())
    })
    .await;
    // F reconnects: its witness asks, the proof fails, F signs its tree at the cosigned size.
    f.stop().await;
    f.bootstrap = w1.p2p_addrs();
    f.restart().await;
    for node in [&w1, &w2] {
        let forks = eventually(WAIT, "the fork is known", || async {
            let forks = node.status().await.forks;
            (!forks.is_empty()).then_some(forks)
        })
        .await;
        assert_eq!(forks.len(), 1);
        let fork = &forks[0];
        assert_eq!(fork.origin, f_id);
        let proven = prove_fork(&fork.first_note, &fork.second_note).expect("self-proving");
        assert_eq!(proven.origin, f_id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_key_call_answers_who_the_node_is() {
    let node = TestNode::start(&fixture_genesis()).await;
    let status = node.status().await;
    let key = node
        .status_client()
        .await
        .node_key(pb::NodeKeyRequest {})
        .await
        .expect("NodeKey")
        .into_inner();
    assert_eq!(key.node_key, status.node_key);
    assert_eq!(key.node_id, status.node_id);
    assert_eq!(key.network_id, status.network_id);
    assert_eq!(key.genesis_digest, status.genesis_digest);
    assert!(key.encoded_len() < 256, "a small answer");
    let channel = tonic::transport::Channel::from_shared(node.url())
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let fetched = consent_client::collector::fetch_node_key(channel)
        .await
        .expect("the SDK reads the key");
    assert_eq!(fetched, status.node_key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_member_list_only_members_keep_a_node_fresh() {
    let (a_key, b_key) = (fixtures::key("member-a"), fixtures::key("member-b"));
    let genesis = members_genesis(&[&a_key, &b_key], false);
    let a = TestNode::start_as(&genesis, &a_key, &[]).await;
    let contact = || a.node.as_ref().expect("running").ledger().peer_contact_ms();

    // A node outside the list connects and pushes a valid entry: A takes the entry, but the
    // traffic does not count as contact with the network.
    let mut rogue = Rogue::connect(&genesis.digest(), &a.tcp_addr(), WAIT).await;
    let (citizen, inception) = fixtures::author(Role::Citizen, "pushed", T0);
    rogue.publish(inception.to_signed().encode_to_vec());
    let rogue = rogue.spawn();
    eventually(WAIT, "A holds the pushed entry", || async {
        a.ledger()
            .await
            .get_head(pb::GetHeadRequest {
                feed: prost::bytes::Bytes::copy_from_slice(&citizen.feed().0),
                with_grants: false,
            })
            .await
            .ok()
    })
    .await;
    assert_eq!(
        contact(),
        0,
        "a non-member's traffic refreshed the freshness clock"
    );
    rogue.abort();

    // A member's does.
    let _b = TestNode::start_as(&genesis, &b_key, &[&a]).await;
    eventually(WAIT, "A heard from member B", || async {
        (contact() > 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_only_refuses_other_nodes() {
    let a_key = fixtures::key("only-a");
    let genesis = members_genesis(&[&a_key], true);
    let a = TestNode::start_as(&genesis, &a_key, &[]).await;
    let mut rogue = Rogue::connect_unchecked(&genesis.digest(), &a.tcp_addr()).await;
    let target = rogue.target;
    let kept = rogue
        .until(WAIT, "A decides on the connection", |e| match e {
            SwarmEvent::OutgoingConnectionError { .. } => Some(false),
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } if *peer_id == target => Some(false),
            // Identify answers only over a connection the node kept.
            SwarmEvent::Behaviour(consent_node::p2p::behaviour::BehaviourEvent::Identify(
                libp2p::identify::Event::Received { peer_id, .. },
            )) if *peer_id == target => Some(true),
            _ => None,
        })
        .await;
    assert!(!kept, "a node outside the member list was let in");
    assert_eq!(a.status().await.peers, 0);
}
