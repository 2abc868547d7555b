//! `kill -9` during concurrent ingest: every acknowledged entry survives, every acknowledged
//! grant still allows, and the store passes the full replay check. Runs the real `consentd`
//! binary. Rounds and kill moments: `CONSENT_CRASH_ROUNDS` (default 3) rounds of a 10,000-entry
//! concurrent ingest, each killed after a random number of acknowledgements (100..10,000) drawn
//! from `CONSENT_CRASH_SEED` (scripts/faults runs 20).

use crate::common;

use common::{Acks, Launch};
use consent_proto::fixtures::{self, T0};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_entries_survive_kill_9_on_sled() {
    kill_9_rounds("sled").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_entries_survive_kill_9_on_fjall() {
    kill_9_rounds("fjall").await;
}

/// Entries of one round's ingest; the kill comes at a random point of it.
const INGEST: u64 = 10_000;

async fn kill_9_rounds(engine: &str) {
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = temp.path().join("node");
    let genesis = temp.path().join("genesis.toml");
    common::genesis(&genesis, "crash");
    let launch = Launch {
        engine: engine.into(),
        ..Launch::default()
    };

    let scene = fixtures::scene(T0);
    let rounds: u32 = std::env::var("CONSENT_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut seed: u64 = std::env::var("CONSENT_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let mut acknowledged = Vec::new();
    // Citizens whose grant was acknowledged: every one must still be allowed after the crashes.
    let (grants_tx, mut grants_rx) = tokio::sync::mpsc::unbounded_channel();
    for round in 0..rounds {
        let (mut daemon, url) = common::start(&dir, &genesis, &launch);
        if round == 0 {
            common::submit_scene(&url, &scene).await;
        }
        // Eight writers submit citizens and grants until the process dies under them.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let acks = Acks {
            entries: tx,
            grants: grants_tx.clone(),
        };
        let writers = common::spawn_writers(&url, &scene, &format!("r{round}"), 8, &acks);
        drop(acks);
        // Each round is a 10,000-entry concurrent ingest killed at a random moment of it: after
        // a random number of acknowledgements in 100..10,000.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let target = 100 + (seed % (INGEST - 100)) as usize;
        eprintln!("{engine} round {round}: kill -9 after {target} acknowledgements");
        let mut seen = 0;
        while let Some(id) = rx.recv().await {
            acknowledged.push(id);
            seen += 1;
            if seen == target {
                daemon.kill_9();
                break;
            }
        }
        let mut endings = Vec::new();
        for w in writers {
            endings.push(w.await.unwrap_or_else(|e| format!("writer panicked: {e}")));
        }
        assert_eq!(
            seen, target,
            "round {round}: writers stopped before the kill: {endings:?}"
        );
        // Anything acknowledged after the kill signal was sent still counts.
        while let Ok(id) = rx.try_recv() {
            acknowledged.push(id);
        }
    }

    // Restart: every acknowledged entry is there, every acknowledged grant allows, and the full
    // check passes.
    drop(grants_tx);
    let (daemon, url) = common::start(&dir, &genesis, &launch);
    let mut citizens = Vec::new();
    while let Ok(c) = grants_rx.try_recv() {
        citizens.push(c);
    }
    common::assert_survived(&url, &scene, &acknowledged, &citizens).await;
    drop(daemon);
    let listing: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    let engine_dir = if engine == "sled" { "store" } else { engine };
    assert!(
        listing.iter().any(|n| n == engine_dir),
        "the node did not run on {engine}: {listing:?}"
    );
    common::assert_store_checks(&dir, &genesis, engine);
    assert!(acknowledged.len() >= 100 * rounds as usize);
    eprintln!(
        "{engine}: {rounds} kill -9s, {} acknowledged entries all present, {} grants all allow, store check passed",
        acknowledged.len(),
        citizens.len()
    );
}

/// The bound on a stop asked by SIGTERM during ingest: the drain time (`[grpc] drain`, 10 s by
/// default) and a few seconds for the writer to flush and the store to close.
const STOP_BOUND: std::time::Duration = std::time::Duration::from_secs(15);

/// SIGTERM in the middle of a concurrent ingest: the node stops by itself within
/// [`STOP_BOUND`], exits 0, and on restart holds every entry it acknowledged (the staged stop:
/// stop accepting, drain, stop p2p, flush the writer, close the store).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_ingest_loses_nothing_acknowledged_and_exits_within_the_bound() {
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = temp.path().join("node");
    let genesis = temp.path().join("genesis.toml");
    common::genesis(&genesis, "sigterm");
    let launch = Launch::default();
    let scene = fixtures::scene(T0);
    let (mut daemon, url) = common::start(&dir, &genesis, &launch);
    common::submit_scene(&url, &scene).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (grants_tx, mut grants_rx) = tokio::sync::mpsc::unbounded_channel();
    let acks = Acks {
        entries: tx,
        grants: grants_tx,
    };
    let writers = common::spawn_writers(&url, &scene, "term", 8, &acks);
    drop(acks);
    let mut acknowledged = Vec::new();
    while let Some(id) = rx.recv().await {
        acknowledged.push(id);
        if acknowledged.len() == 2_000 {
            break;
        }
    }
    // The writers keep submitting while the node stops.
    let (status, took) = tokio::task::block_in_place(|| daemon.terminate(STOP_BOUND));
    assert!(
        status.success(),
        "a SIGTERM stop exits 0: {status:?}; log:\n{}",
        daemon.log()
    );
    for w in writers {
        let _ = w.await;
    }
    while let Ok(id) = rx.try_recv() {
        acknowledged.push(id);
    }
    let mut citizens = Vec::new();
    while let Ok(c) = grants_rx.try_recv() {
        citizens.push(c);
    }
    drop(daemon);
    let (daemon, url) = common::start(&dir, &genesis, &launch);
    common::assert_survived(&url, &scene, &acknowledged, &citizens).await;
    drop(daemon);
    common::assert_store_checks(&dir, &genesis, "");
    eprintln!(
        "SIGTERM during ingest: stopped in {took:?}, {} acknowledged entries all present",
        acknowledged.len()
    );
}
