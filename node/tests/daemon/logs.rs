//! What a lone node started from the command line leaves behind: a log file with no terminal
//! colour codes and no "no known peers" warning (a single node has no peers to bootstrap from),
//! and, once stopped with SIGTERM, none of the address files it wrote while running.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common;

#[test]
fn a_lone_node_logs_plain_text_without_peer_warnings_and_cleans_up_its_address_files() {
    let temp = tempfile::tempdir().expect("tempdir");
    let genesis = temp.path().join("genesis.toml");
    common::genesis(&genesis, "logs");
    let dir = temp.path().join("node");
    let log_path = temp.path().join("node.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut child = common::consentd()
        .args([
            "--grpc-listen",
            "127.0.0.1:0",
            "--log-level",
            "info",
            "--genesis",
        ])
        .arg(&genesis)
        .arg("--data-dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("consentd starts");
    let files = ["grpc.addr", "p2p.addr", "metrics.addr", "transparency.addr"];
    let deadline = Instant::now() + Duration::from_secs(60);
    while !files.iter().all(|f| dir.join(f).exists()) {
        assert!(Instant::now() < deadline, "the node did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Kademlia warned half a second after the node started listening: wait until the node says
    // it has been up for two seconds.
    let url = format!(
        "http://{}",
        std::fs::read_to_string(dir.join("grpc.addr"))
            .expect("grpc.addr")
            .trim()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        while common::status(&url).await.uptime_s < 2 {
            assert!(Instant::now() < deadline, "the node did not stay up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    // Our gRPC connection goes with its runtime, so the stop below does not wait for it.
    drop(runtime);
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(stopped.success());
    let status = child.wait().expect("the node exits");
    assert!(status.success(), "a SIGTERM stop exits 0: {status:?}");
    let text = std::fs::read_to_string(&log_path).expect("log");
    assert!(text.contains("INFO"), "the log holds info lines: {text}");
    assert!(
        !text.contains('\u{1b}'),
        "no colour codes in a log file: {text:?}"
    );
    assert!(
        !text.contains("Failed to trigger bootstrap"),
        "a lone node does not warn about peers: {text}"
    );
    for f in files {
        assert!(!dir.join(f).exists(), "{f} is left after the stop");
    }
}
