//! Witnessing on real nodes: peers cosign each other's checkpoints, and a node made to fork its
//! log (restored from an old backup, then fed other entries) is caught: a witness holds two
//! checkpoints it signed for one size with different roots, spreads them, and every node shows
//! them in Status.

use std::path::Path;

use consent_node::witness::prove_fork;
use consent_proto::fixtures::{self, T0};
use consent_proto::note::{SignedNote, key_of};
use consent_proto::pb;
use consent_proto::vocab::Role;
use consent_tests::eventually;
use consent_tests::harness::{TestNode, fixture_genesis, submit_ok};
use consent_tests::net::{WAIT, connected};

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
    let genesis = fixture_genesis();
    let mut f = TestNode::start(&genesis).await;
    let w1 = TestNode::start_with_peers(&genesis, &[&f]).await;
    let w2 = TestNode::start_with_peers(&genesis, &[&w1]).await;
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
