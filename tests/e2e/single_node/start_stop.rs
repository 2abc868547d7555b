//! Starting and stopping one node over its store: a restart keeps every acknowledged entry and
//! decision (also after a thousand concurrent submits), a corrupt store or one of another network
//! is refused, the sled engine serves the same and a data directory keeps its engine, a clean
//! stop removes the address files, a client that stops reading does not hold up a stop, and a
//! dead writer stops the node without losing anything acknowledged.

use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, Purpose as P, Role};
use consent_tests::harness::{TestNode, fixture_genesis, submit, submit_ok};
use consent_tests::single::setup;
use prost::bytes::Bytes;

use super::{assert_store_consistent, decision};

#[tokio::test]
async fn restart_keeps_every_acknowledged_entry_and_decision() {
    let mut s = setup().await;
    let mut ledger = s.node.ledger().await;
    let grant = s.grant();
    submit_ok(&mut ledger, &grant).await;
    let (bob, b0) = fixtures::author(Role::Citizen, "bob", T0);
    submit_ok(&mut ledger, &b0).await;
    let before_alice = decision(&s.node, s.alice.feed(), s.scene.collector.feed()).await;
    let before_bob = decision(&s.node, bob.feed(), s.scene.collector.feed()).await;
    s.node.stop().await;
    s.node.restart().await;
    let after_alice = decision(&s.node, s.alice.feed(), s.scene.collector.feed()).await;
    let after_bob = decision(&s.node, bob.feed(), s.scene.collector.feed()).await;
    assert_eq!(
        (before_alice.0, before_alice.1),
        (after_alice.0, after_alice.1)
    );
    assert_eq!((before_bob.0, before_bob.1), (after_bob.0, after_bob.1));
    assert_eq!(after_alice.0, pb::Decision::Allow);
    let mut ledger = s.node.ledger().await;
    assert_eq!(
        submit(&mut ledger, &grant).await.expect("dup").status(),
        pb::SubmitStatus::Duplicate
    );
    assert_store_consistent(&s.node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_submits_are_all_acknowledged_and_survive_restart() {
    let mut s = setup().await;
    let url = s.node.url();
    // 1,000 citizens, each submitting its inception and a grant, from 50 tasks.
    let mut tasks = Vec::new();
    for t in 0..50 {
        let url = url.clone();
        let collector = s.scene.collector.feed();
        let policy = s.scene.policy;
        tasks.push(tokio::spawn(async move {
            let channel = tonic::transport::Channel::from_shared(url)
                .expect("url")
                .connect()
                .await
                .expect("connect");
            let mut client = pb::ledger_client::LedgerClient::new(channel);
            let mut acknowledged = Vec::new();
            for i in 0..10 {
                let (mut c, c0) = fixtures::author(Role::Citizen, &format!("c-{t}-{i}"), T0);
                let g = fixtures::append(
                    &mut c,
                    T0 + DAY,
                    fixtures::grant(
                        collector,
                        policy,
                        &[P::ServiceProvision],
                        &[C::Location],
                        T0,
                        None,
                    ),
                );
                for e in [c0, g] {
                    let r = submit(&mut client, &e).await.expect("submit");
                    assert_eq!(r.status(), pb::SubmitStatus::Accepted);
                    acknowledged.push((c.feed(), e.id));
                }
            }
            acknowledged
        }));
    }
    let mut acknowledged = Vec::new();
    for t in tasks {
        acknowledged.extend(t.await.expect("task"));
    }
    assert_eq!(acknowledged.len(), 1_000);
    s.node.stop().await;
    s.node.restart().await;
    let mut ledger = s.node.ledger().await;
    for (_, id) in &acknowledged {
        ledger
            .get_entry(pb::GetEntryRequest {
                id: Bytes::copy_from_slice(&id.0),
            })
            .await
            .unwrap_or_else(|e| panic!("acknowledged entry {id} lost: {e}"));
    }
    let (feed, _) = acknowledged[999];
    let (d, _, _) = decision(&s.node, feed, s.scene.collector.feed()).await;
    assert_eq!(d, pb::Decision::Allow);
    let status = s.node.status().await;
    assert_eq!(status.entries, 5 + 1_000);
    assert_store_consistent(&s.node).await;
}

#[tokio::test]
async fn a_corrupt_store_is_refused_with_a_clear_message() {
    let mut s = setup().await;
    let mut ledger = s.node.ledger().await;
    let grant = s.grant();
    submit_ok(&mut ledger, &grant).await;
    s.node.stop().await;
    {
        // Remove Alice's head entry from the seq index behind the node's back, and the
        // start-up position the stop saved after it: without one the start checks the whole
        // store (damage before a sound position is left to `consentd check-store`).
        let store = consent_node::node::open_store(&s.node.dir, None).expect("open");
        store
            .apply(vec![
                (
                    consent_node::ledger::tables::seq_key(&s.alice.feed(), 1),
                    None,
                ),
                (consent_node::ledger::tables::meta::STARTUP.to_vec(), None),
            ])
            .expect("tamper");
        store.flush().expect("flush");
    }
    let err = match consent_node::Node::start(s.node.config()).await {
        Ok(_) => panic!("a corrupt store was served"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("inconsistent") && err.contains("seq 1"),
        "{err}"
    );
    assert!(err.contains("backup"), "the message says what to do: {err}");
}

#[tokio::test]
async fn a_store_of_another_network_is_refused() {
    let mut s = setup().await;
    s.node.stop().await;
    let mut config = s.node.config();
    let other = consent_tests::harness::write_genesis(
        s.node.dir.parent().expect("parent"),
        &consent_node::genesis::Genesis {
            network_id: "elsewhere".into(),
            ..fixture_genesis()
        },
    );
    config.genesis = Some(other);
    let err = match consent_node::Node::start(config).await {
        Ok(_) => panic!("a store of another network was served"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("genesis digest"), "{err}");
}

#[tokio::test]
async fn the_sled_engine_serves_the_same_and_a_data_dir_keeps_its_engine() {
    let mut s = setup().await;
    // Move the same scenario onto a sled node (fjall is the default for a new directory).
    s.node.stop().await;
    let mut node = TestNode::start(&fixture_genesis()).await;
    node.stop().await;
    assert!(node.dir.join("fjall").exists(), "a new node is on fjall");
    node.engine = Some(consent_node::config::Engine::Sled);
    let _ = std::fs::remove_dir_all(node.dir.join("fjall"));
    node.restart().await;
    let mut ledger = node.ledger().await;
    for e in &s.scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    let (_, a0) = fixtures::author(Role::Citizen, "alice", T0);
    submit_ok(&mut ledger, &a0).await;
    let grant = s.grant();
    submit_ok(&mut ledger, &grant).await;
    let (d, _, _) = decision(&node, s.alice.feed(), s.scene.collector.feed()).await;
    assert_eq!(d, pb::Decision::Allow);
    // With no engine configured, the node opens the store the directory holds.
    node.stop().await;
    node.engine = None;
    node.restart().await;
    assert!(!node.dir.join("fjall").exists(), "no second store was made");
    let (d, _, _) = decision(&node, s.alice.feed(), s.scene.collector.feed()).await;
    assert_eq!(d, pb::Decision::Allow);
    assert_store_consistent(&node).await;
    // The same data directory under the other engine, asked for, is refused.
    node.stop().await;
    let mut config = node.config();
    config.store.engine = Some(consent_node::config::Engine::Fjall);
    let err = match consent_node::Node::start(config).await {
        Ok(_) => panic!("a sled data directory was opened as fjall"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("engine = \"sled\""), "{err}");
}

/// The address files say where a running node listens; a clean stop removes every one of them.
#[tokio::test]
async fn a_clean_stop_removes_every_address_file() {
    use consent_node::node::{ADDR_FILE, METRICS_ADDR_FILE, P2P_ADDR_FILE, SITE_ADDR_FILE};
    let mut node = TestNode::start(&fixture_genesis()).await;
    let files = [ADDR_FILE, P2P_ADDR_FILE, METRICS_ADDR_FILE, SITE_ADDR_FILE];
    for name in files {
        assert!(node.dir.join(name).exists(), "{name} while running");
    }
    node.stop().await;
    for name in files {
        assert!(!node.dir.join(name).exists(), "{name} after a clean stop");
    }
}

/// A client that stops polling its connection (a suspended process) cannot hold up a node's
/// stop beyond the drain time: without the bound, the stop waited for HTTP/2 keepalive to give
/// up on it, close to a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_does_not_hold_up_a_stop() {
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().expect("tempdir");
    let config = consent_node::config::Config {
        data_dir: dir.path().join("node"),
        grpc_listen: "127.0.0.1:0".parse().expect("addr"),
        grpc: consent_node::config::GrpcSection {
            drain: Duration::from_millis(300),
            ..Default::default()
        },
        ..consent_node::config::Config::default()
    };
    let node = consent_node::Node::start(config).await.expect("node");
    let url = node.grpc_url();
    // A client on a runtime of its own that answers one call, then is never polled again.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let frozen = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let channel = runtime.block_on(async {
            let channel = tonic::transport::Channel::from_shared(url)
                .expect("url")
                .connect()
                .await
                .expect("connect");
            pb::node_client::NodeClient::new(channel.clone())
                .status(pb::StatusRequest {})
                .await
                .expect("status");
            channel
        });
        ready_tx.send(()).expect("ready");
        let _ = release_rx.recv();
        drop((channel, runtime));
    });
    ready_rx.recv().expect("the client made its call");
    let started = Instant::now();
    node.shutdown();
    tokio::time::timeout(Duration::from_secs(15), node.join())
        .await
        .expect("the stop is not held up by the frozen client")
        .expect("stops cleanly");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    drop(release_tx);
    frozen.join().expect("client thread");
}

/// Supervision: when the ledger's writer thread dies (an injected panic, as a bug would), the
/// node stops by itself with an error that names it, within the drain bound, and nothing it
/// acknowledged is lost: started again on the same data directory, it holds every entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_writer_stops_the_node_with_a_clear_error_and_loses_nothing_acknowledged() {
    use std::time::Duration;

    let mut node = TestNode::start(&fixture_genesis()).await;
    let scene = fixtures::scene(T0);
    let mut ledger = node.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    let acknowledged = scene.entries.len() as u64;
    let running = node.node.take().expect("running");
    running.ledger().inject_writer_fault().await;
    let ended = tokio::time::timeout(Duration::from_secs(30), running.join())
        .await
        .expect("the node stops by itself");
    let error = ended.expect_err("a dead writer is an error, not a clean stop");
    assert!(error.to_string().contains("writer"), "{error}");
    node.restart().await;
    assert_eq!(node.status().await.entries, acknowledged);
}
