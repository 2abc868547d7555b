//! Start-up from the store's start-up position, with the real `consentd`: a node stopped with
//! SIGTERM starts again from the position the stop saved; killed with `kill -9` during ingest, it
//! starts from the position saved when it started (checking only the entries after it) and
//! serves every acknowledged entry and grant; a position damaged on disk makes the next start
//! warn, check the whole store and serve all the same; and the store passes `check-store` and
//! `check-store --full` after.

use crate::common;

use std::time::Duration;

use common::{Acks, Launch};
use consent_proto::fixtures::{self, T0};

/// What a start logs (at WARN) when it cannot use the start-up position (`fsck::at_start`).
const WHOLE_STORE: &str = "checking the whole store instead";

/// Acknowledgements per round of ingest.
const ACKS: usize = 600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_kill_9_starts_from_the_position_and_a_damaged_one_falls_back() {
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = temp.path().join("node");
    let genesis = temp.path().join("genesis.toml");
    common::genesis(&genesis, "startup");
    let launch = Launch::default();
    let scene = fixtures::scene(T0);
    let mut acknowledged = Vec::new();
    let (grants_tx, mut grants_rx) = tokio::sync::mpsc::unbounded_channel();

    // Round 0 ends with SIGTERM (the stop saves a position at the end of the log), round 1 with
    // kill -9 in the middle of an ingest (the position is the one saved when it started).
    for (round, clean) in [(0, true), (1, false)] {
        let (mut daemon, url) = common::start(&dir, &genesis, &launch);
        if round == 0 {
            common::submit_scene(&url, &scene).await;
        } else {
            assert!(
                !daemon.log().contains(WHOLE_STORE),
                "a start after a clean stop starts from its position: {}",
                daemon.log()
            );
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let acks = Acks {
            entries: tx,
            grants: grants_tx.clone(),
        };
        let writers = common::spawn_writers(&url, &scene, &format!("s{round}"), 4, &acks);
        drop(acks);
        let mut seen = 0;
        while let Some(id) = rx.recv().await {
            acknowledged.push(id);
            seen += 1;
            if seen == ACKS {
                break;
            }
        }
        assert_eq!(seen, ACKS, "round {round}: the writers stopped early");
        if clean {
            let (status, _) = daemon.terminate(Duration::from_secs(60));
            assert!(status.success(), "a SIGTERM stop exits 0: {status:?}");
        } else {
            daemon.kill_9();
        }
        for w in writers {
            let _ = w.await;
        }
        // Anything acknowledged before the process ended counts.
        while let Ok(id) = rx.try_recv() {
            acknowledged.push(id);
        }
    }
    drop(grants_tx);
    let mut citizens = Vec::new();
    while let Ok(c) = grants_rx.try_recv() {
        citizens.push(c);
    }

    // After kill -9: the start uses the position saved when round 1 started.
    let (mut daemon, url) = common::start(&dir, &genesis, &launch);
    assert!(
        !daemon.log().contains(WHOLE_STORE),
        "a start after kill -9 starts from the position: {}",
        daemon.log()
    );
    common::assert_survived(&url, &scene, &acknowledged, &citizens).await;
    daemon.kill_9();

    // A byte of the position flipped on disk: the next start says why, checks the whole store,
    // serves it, and saves a sound position again.
    {
        let store = consent_node::node::open_store(&dir, None).expect("open the store");
        let key = consent_node::ledger::tables::meta::STARTUP;
        let mut value = store.get(key).expect("read").expect("a start-up position");
        value[0] ^= 0x01;
        store
            .apply(vec![(key.to_vec(), Some(value))])
            .expect("damage the position");
        store.flush().expect("flush");
    }
    let (mut daemon, url) = common::start(&dir, &genesis, &launch);
    let log = daemon.log();
    assert!(
        log.contains(WHOLE_STORE) && log.contains("damaged"),
        "a damaged position is named and the whole store checked: {log}"
    );
    common::assert_survived(&url, &scene, &acknowledged, &citizens).await;
    let (status, _) = daemon.terminate(Duration::from_secs(60));
    assert!(status.success(), "a SIGTERM stop exits 0: {status:?}");
    drop(daemon);

    // The complete check (with the block rows and the new position) and the replay pass.
    let out = common::consentd()
        .arg("check-store")
        .arg("--genesis")
        .arg(&genesis)
        .arg("--data-dir")
        .arg(&dir)
        .output()
        .expect("check-store");
    assert!(
        out.status.success(),
        "check-store failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::assert_store_checks(&dir, &genesis, "");
    let (daemon, _) = common::start(&dir, &genesis, &launch);
    assert!(
        !daemon.log().contains(WHOLE_STORE),
        "the position saved by the last start is used: {}",
        daemon.log()
    );
}
