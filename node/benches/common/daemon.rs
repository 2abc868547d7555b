//! The release `consentd` run as its own process, for the benches that measure the node from
//! outside (its disk, memory and restart in `storage.rs`; its CPU per answer in `node.rs`):
//! started on a free loopback gRPC port, stopped gracefully, killed if dropped.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `consentd`, killed (and waited for) when dropped.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `consentd` on `dir` with the network in `genesis` and the storage engine `engine`
/// (otherwise the defaults, as `Config::default()`), and waits until it has written its gRPC
/// address. Returns it, that address and how long the start took.
pub fn start(
    dir: &Path,
    genesis: &Path,
    engine: &str,
) -> anyhow::Result<(Daemon, SocketAddr, Duration)> {
    let _ = std::fs::remove_file(dir.join("grpc.addr"));
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_consentd"))
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
        .stderr(Stdio::inherit())
        .spawn()?;
    let daemon = Daemon(child);
    loop {
        if let Ok(addr) = std::fs::read_to_string(dir.join("grpc.addr"))
            && addr.ends_with('\n')
        {
            return Ok((daemon, addr.trim().parse()?, started.elapsed()));
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "consentd did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Graceful stop (SIGTERM: drain, flush), waited for.
pub fn stop(mut daemon: Daemon) -> anyhow::Result<()> {
    Command::new("kill")
        .args(["-TERM", &daemon.0.id().to_string()])
        .status()?;
    daemon.0.wait()?;
    Ok(())
}
