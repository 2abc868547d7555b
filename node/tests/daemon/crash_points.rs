//! Crashes at the worst moments, with the real `consentd`: killed *inside* a store flush (by
//! `strace` attached at a random moment of ingest, answering the next `sync_file_range` (what
//! sled flushes with) or `fsync` (fjall's journal), or the next `pwrite64`, of any thread with SIGKILL, so the
//! process dies with a group half written) and killed while it catches up from a peer
//! (anti-entropy); flushes on both engines. After each: every acknowledged entry is present, every acknowledged grant
//! allows, and `check-store --full` passes. Skipped, with a message, where `strace` cannot
//! trace (scripts/test and scripts/faults install it).

use crate::common;

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use common::{Acks, Launch};
use consent_proto::fixtures::{self, T0};

/// One xorshift step: the kill points, reproducible from `CONSENT_CRASH_SEED`.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn seed() -> u64 {
    std::env::var("CONSENT_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(11)
}

/// Waits for a process to end and says whether SIGKILL ended it.
fn killed_by_sigkill(daemon: &mut common::Daemon, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        match daemon.child.try_wait() {
            Ok(Some(status)) => return status.signal() == Some(9) || status.code() == Some(137),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_entries_survive_a_kill_inside_a_fjall_flush() {
    kills_inside_flushes("fjall").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_entries_survive_a_kill_inside_a_sled_flush() {
    kills_inside_flushes("sled").await;
}

async fn kills_inside_flushes(engine: &str) {
    let launch = Launch {
        engine: engine.into(),
        ..Launch::default()
    };
    if !common::strace_works() {
        eprintln!("SKIPPED: strace is missing or cannot trace here (apt-get install strace)");
        return;
    }
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = temp.path().join("node");
    let genesis = temp.path().join("genesis.toml");
    common::genesis(&genesis, "crash-flush");
    let scene = fixtures::scene(T0);
    let mut seed = seed();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (grants_tx, mut grants_rx) = tokio::sync::mpsc::unbounded_channel();
    let acks = Acks {
        entries: tx,
        grants: grants_tx,
    };
    // Where each engine flushes and writes: sled syncs with sync_file_range and writes its
    // segments with pwrite; fjall appends its journal with write(2) and syncs it with fsync.
    let (sync, write) = match engine {
        "sled" => ("sync_file_range,fsync,fdatasync", "pwrite64,pwritev"),
        _ => ("fsync,fdatasync", "write,writev"),
    };
    let points = [sync, write, sync, write];
    for (round, calls) in points.into_iter().enumerate() {
        let (mut daemon, url) = common::start(&dir, &genesis, &launch);
        if round == 0 {
            common::submit_scene(&url, &scene).await;
        }
        let (tx, mut round_rx) = tokio::sync::mpsc::unbounded_channel();
        let round_acks = Acks {
            entries: tx,
            grants: acks.grants.clone(),
        };
        let writers = common::spawn_writers(&url, &scene, &format!("f{round}"), 8, &round_acks);
        drop(round_acks);
        // After a random number of acknowledgements, the next such call of any thread dies.
        let target = 100 + (next(&mut seed) % 500) as usize;
        let mut tracer = None;
        let mut seen = 0;
        let mut deadline = tokio::time::Instant::now() + Duration::from_secs(600);
        loop {
            let next = tokio::time::timeout_at(deadline, round_rx.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "round {round}: no SIGKILL in {calls} within 2 minutes of strace attaching"
                    )
                });
            let Some(id) = next else { break };
            let _ = acks.entries.send(id);
            seen += 1;
            if seen == target {
                tracer = Some(daemon.kill_at_next(calls));
                deadline = tokio::time::Instant::now() + Duration::from_secs(120);
            }
        }
        let mut endings = Vec::new();
        for w in writers {
            let ending = tokio::time::timeout(Duration::from_secs(120), w)
                .await
                .expect("the node was not killed within 2 minutes")
                .unwrap_or_else(|e| format!("writer panicked: {e}"));
            endings.push(ending);
        }
        assert!(
            killed_by_sigkill(&mut daemon, Duration::from_secs(10)),
            "round {round}: the node did not die of SIGKILL in {calls}: {endings:?}\n{}",
            daemon.log()
        );
        if let Some(mut t) = tracer {
            let _ = t.wait();
        }
        eprintln!("flush round {round}: SIGKILL inside {calls} after {target} acknowledgements");
    }
    drop(acks);
    let mut acknowledged = Vec::new();
    while let Some(id) = rx.recv().await {
        acknowledged.push(id);
    }
    let mut citizens = Vec::new();
    while let Some(c) = grants_rx.recv().await {
        citizens.push(c);
    }
    let (daemon, url) = common::start(&dir, &genesis, &launch);
    common::assert_survived(&url, &scene, &acknowledged, &citizens).await;
    drop(daemon);
    common::assert_store_checks(&dir, &genesis, engine);
    eprintln!(
        "{engine}: kills inside flushes: {} acknowledged entries all present, {} grants allow, store check passed",
        acknowledged.len(),
        citizens.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_during_anti_entropy_catches_up_intact() {
    let temp = tempfile::tempdir().expect("tempdir");
    let genesis = temp.path().join("genesis.toml");
    common::genesis(&genesis, "crash-sync");
    let scene = fixtures::scene(T0);
    let (a_dir, b_dir) = (temp.path().join("a"), temp.path().join("b"));

    // Node A holds a log of ~10,000 entries.
    let (a, a_url) = common::start(&a_dir, &genesis, &Launch::default());
    common::submit_scene(&a_url, &scene).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (grants_tx, mut grants_rx) = tokio::sync::mpsc::unbounded_channel();
    let acks = Acks {
        entries: tx,
        grants: grants_tx,
    };
    let writers = common::spawn_writers(&a_url, &scene, "sync", 8, &acks);
    drop(acks);
    let mut acknowledged = Vec::new();
    while let Some(id) = rx.recv().await {
        acknowledged.push(id);
        if acknowledged.len() == 10_000 {
            break;
        }
    }
    drop(rx);
    for w in writers {
        let _ = w.await;
    }
    let mut citizens = Vec::new();
    while let Ok(c) = grants_rx.try_recv() {
        citizens.push(c);
    }
    let total = common::status(&a_url).await.entries;
    let bootstrap = vec![a.p2p_addr()];

    // Node B joins and is killed twice while it catches up: once inside one of its first store
    // flushes (strace, where it works), once by kill -9 when it holds part of the log.
    let launch = Launch {
        bootstrap,
        ..Launch::default()
    };
    let kills = if common::strace_works() {
        vec![
            (total / 8, Some("sync_file_range,fsync,fdatasync")),
            (total / 2, None),
        ]
    } else {
        eprintln!("strace cannot trace here: the kill inside a flush during sync is skipped");
        vec![(total / 2, None)]
    };
    for (at, inside) in kills {
        let (mut b, b_url) = common::start(&b_dir, &genesis, &launch);
        let deadline = Instant::now() + Duration::from_secs(120);
        let held = loop {
            let held = common::status(&b_url).await.entries;
            if held >= at {
                break held;
            }
            assert!(Instant::now() < deadline, "B does not catch up: {held}");
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        match inside {
            Some(calls) => {
                let mut tracer = b.kill_at_next(calls);
                assert!(
                    killed_by_sigkill(&mut b, Duration::from_secs(60)),
                    "B did not die inside {calls}: {}",
                    b.log()
                );
                let _ = tracer.wait();
                eprintln!("anti-entropy: B killed inside {calls} holding >= {held} of {total}");
            }
            None => {
                b.kill_9();
                eprintln!("anti-entropy: B killed by kill -9 holding >= {held} of {total}");
            }
        }
    }

    // Restarted, B converges to A's log and holds everything A acknowledged, and neither node
    // banned the other: B once banned A, its only peer, on gossipsub's score alone (A had sent
    // B's own messages from before the kill back to it) and never caught up.
    let (b, b_url) = common::start(&b_dir, &genesis, &launch);
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (sa, sb) = (common::status(&a_url).await, common::status(&b_url).await);
        if sb.entries == sa.entries && sb.feeds == sa.feeds {
            assert!(
                sa.banned_peers == 0 && sb.banned_peers == 0,
                "an honest node restarted during anti-entropy was banned, or banned its peer: \
                 A banned {}, B banned {}\nB log: {}\nA log: {}",
                sa.banned_peers,
                sb.banned_peers,
                b.log(),
                a.log()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B did not converge: {} of {} entries; B {sb:?}\nA {sa:?}\nB log: {}\nA log: {}",
            sb.entries,
            sa.entries,
            b.log(),
            a.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    common::assert_survived(&b_url, &scene, &acknowledged, &citizens).await;
    drop(b);
    drop(a);
    common::assert_store_checks(&b_dir, &genesis, "");
    eprintln!("anti-entropy: B converged to {total} entries after two kills, store check passed");
}
