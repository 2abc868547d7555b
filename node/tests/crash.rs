//! `kill -9` during concurrent ingest: every acknowledged entry survives, every acknowledged
//! grant still allows, and the store passes the full replay check. Runs the real `consentd`
//! binary. Rounds and kill moments: `CONSENT_CRASH_ROUNDS` (default 3) kills, each after a
//! random number of acknowledgements drawn from `CONSENT_CRASH_SEED` (scripts/faults runs 20).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::pb;
use consent_proto::vocab::Role;
use prost::bytes::Bytes;
use tonic::transport::Channel;

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn consentd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_consentd"))
}

fn start(dir: &Path, genesis: &Path, engine: &str) -> (Daemon, String) {
    let _ = std::fs::remove_file(dir.join("grpc.addr"));
    let log_path = dir.with_extension("log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let child = consentd()
        .args([
            "--grpc-listen",
            "127.0.0.1:0",
            "--log-level",
            "warn",
            "--store-engine",
            engine,
            "--genesis",
        ])
        .arg(genesis)
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("consentd starts");
    let daemon = Daemon(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(addr) = std::fs::read_to_string(dir.join("grpc.addr")) {
            return (daemon, format!("http://{}", addr.trim()));
        }
        assert!(
            Instant::now() < deadline,
            "consentd did not come up: {}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn client(url: &str) -> pb::ledger_client::LedgerClient<Channel> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Channel::from_shared(url.to_string())
            .expect("url")
            .connect()
            .await
        {
            Ok(c) => return pb::ledger_client::LedgerClient::new(c),
            Err(e) => {
                assert!(Instant::now() < deadline, "cannot connect to {url}: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_entries_survive_kill_9_on_sled() {
    kill_9_rounds("sled").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_entries_survive_kill_9_on_fjall() {
    kill_9_rounds("fjall").await;
}

async fn kill_9_rounds(engine: &str) {
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = temp.path().join("node");
    let genesis = temp.path().join("genesis.toml");
    let status = consentd()
        .args(["genesis", "--network-id", "crash", "--registrar"])
        .arg(
            fixtures::author(Role::Registrar, "registrar", T0)
                .0
                .feed()
                .typed(Role::Registrar)
                .to_string(),
        )
        .arg("--out")
        .arg(&genesis)
        .status()
        .expect("genesis");
    assert!(status.success());

    let scene = fixtures::scene(T0);
    let rounds: u32 = std::env::var("CONSENT_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut seed: u64 = std::env::var("CONSENT_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let mut acknowledged: Vec<consent_proto::EntryId> = Vec::new();
    // Citizens whose grant was acknowledged: every one must still be allowed after the crashes.
    let (grants_tx, mut grants_rx) = tokio::sync::mpsc::unbounded_channel();
    for round in 0..rounds {
        let (mut daemon, url) = start(&dir, &genesis, engine);
        let mut ledger = client(&url).await;
        if round == 0 {
            for e in &scene.entries {
                ledger
                    .submit(pb::SubmitRequest {
                        entry: Some(e.to_signed()),
                    })
                    .await
                    .expect("scene");
            }
        }
        // Eight writers submit citizens and grants until the process dies under them.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut writers = Vec::new();
        for w in 0..8u32 {
            let url = url.clone();
            let tx = tx.clone();
            let grants_tx = grants_tx.clone();
            let (collector, policy) = (scene.collector.feed(), scene.policy);
            writers.push(tokio::spawn(async move {
                let mut ledger = client(&url).await;
                for i in 0u64.. {
                    let (mut c, c0) =
                        fixtures::author(Role::Citizen, &format!("r{round}-w{w}-{i}"), T0);
                    let g = fixtures::append(
                        &mut c,
                        T0 + DAY,
                        fixtures::grant(
                            collector,
                            policy,
                            &[consent_proto::vocab::Purpose::Research],
                            &[consent_proto::vocab::DataCategory::Location],
                            T0,
                            None,
                        ),
                    );
                    let citizen = c.feed();
                    for e in [c0, g] {
                        let is_grant = e.seq == 1;
                        match ledger
                            .submit(pb::SubmitRequest {
                                entry: Some(e.to_signed()),
                            })
                            .await
                        {
                            Ok(r) if r.get_ref().status() == pb::SubmitStatus::Accepted => {
                                if is_grant {
                                    let _ = grants_tx.send(citizen);
                                }
                                if tx.send(e.id).is_err() {
                                    return String::from("stopped by the test");
                                }
                            }
                            Ok(r) => return format!("not accepted: {:?}", r.get_ref()),
                            Err(status) => return format!("submit failed: {status}"),
                        }
                    }
                }
                String::from("ran out of citizens")
            }));
        }
        drop(tx);
        // Kill after a random number of acknowledgements (at least 100).
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let target = 100 + (seed % 900) as usize;
        eprintln!("{engine} round {round}: kill -9 after {target} acknowledgements");
        let mut seen = 0;
        while let Some(id) = rx.recv().await {
            acknowledged.push(id);
            seen += 1;
            if seen == target {
                daemon.0.kill().expect("kill -9");
                break;
            }
        }
        while let Ok(id) = rx.try_recv() {
            acknowledged.push(id);
        }
        let _ = daemon.0.wait();
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
        drop(daemon);
    }

    // Restart: every acknowledged entry is there, every acknowledged grant allows, and the full
    // check passes.
    drop(grants_tx);
    let (daemon, url) = start(&dir, &genesis, engine);
    let mut ledger = client(&url).await;
    for id in &acknowledged {
        ledger
            .get_entry(pb::GetEntryRequest {
                id: Bytes::copy_from_slice(&id.0),
            })
            .await
            .unwrap_or_else(|e| panic!("acknowledged entry {id} was lost: {e}"));
    }
    let mut citizens = Vec::new();
    while let Ok(c) = grants_rx.try_recv() {
        citizens.push(c);
    }
    let mut collector = consent_client::collector::Collector::connect(
        &url,
        scene.collector.key().clone(),
        scene.collector.feed(),
    )
    .await
    .expect("collector session");
    for chunk in citizens.chunks(1_000) {
        let checks = chunk
            .iter()
            .map(|c| {
                collector.request(
                    *c,
                    consent_proto::vocab::Purpose::Research,
                    consent_proto::vocab::DataCategory::Location,
                )
            })
            .collect();
        let answers = collector.check_batch(checks).await.expect("checks");
        for (c, a) in chunk.iter().zip(answers) {
            assert_eq!(
                a.decision(),
                pb::Decision::Allow,
                "acknowledged grant of {c:?} no longer allows: {:?}",
                a.reason()
            );
        }
    }
    drop(daemon);
    let out = consentd()
        .args([
            "check-store",
            "--full",
            "--store-engine",
            engine,
            "--genesis",
        ])
        .arg(&genesis)
        .arg("--data-dir")
        .arg(&dir)
        .output()
        .expect("check-store");
    let listing: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    let engine_dir = if engine == "sled" { "store" } else { engine };
    assert!(
        listing.iter().any(|n| n == engine_dir),
        "the node did not run on {engine}: {listing:?}"
    );
    assert!(
        out.status.success(),
        "store check failed: {} (data dir holds {listing:?})",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(acknowledged.len() >= 100 * rounds as usize);
    eprintln!(
        "{engine}: {rounds} kill -9s, {} acknowledged entries all present, {} grants all allow, store check passed",
        acknowledged.len(),
        citizens.len()
    );
}
