//! The node under measurement as a process: started and timed to its first answer ([`boot`]),
//! crashed ([`kill`]), and killed with the bench's store removed on Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use consent_proto::pb;
use tokio::runtime::Runtime;
use tonic::transport::Channel;

use crate::common::connect;
use crate::daemon::{Daemon, start};

/// On Ctrl-C: kills the node being measured (`running`: its pid, 0 for none) and removes the
/// bench's temp directory (a city-sized store is gigabytes), then exits.
pub async fn remove_on_interrupt(temp: PathBuf, running: Arc<AtomicU32>) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    let pid = running.load(Ordering::Relaxed);
    if pid != 0 {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    eprintln!("interrupted: removing {}", temp.display());
    let _ = std::fs::remove_dir_all(&temp);
    std::process::exit(130);
}

/// Where the node under measurement keeps its files, and its engine.
pub struct NodeFiles {
    pub dir: PathBuf,
    pub genesis: PathBuf,
    pub engine: String,
}

/// Waits for the first answer to `Node.Status` at `addr`: the time since `spawned`.
async fn first_answer(addr: SocketAddr, spawned: Instant) -> anyhow::Result<Duration> {
    loop {
        let attempt = async {
            let mut client = pb::node_client::NodeClient::connect(format!("http://{addr}")).await?;
            client.status(pb::StatusRequest {}).await?;
            anyhow::Ok(())
        };
        if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(5), attempt).await {
            return Ok(spawned.elapsed());
        }
        anyhow::ensure!(
            spawned.elapsed() < Duration::from_secs(600),
            "consentd did not answer Status within 600 s of its start"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Starts the node (its pid goes to `running`), waits for its first Status answer and
/// connects: the node, its connections, and the time from spawning it to that answer.
pub fn boot(
    files: &NodeFiles,
    runtime: &Runtime,
    running: &AtomicU32,
) -> anyhow::Result<(Daemon, Vec<Channel>, Duration)> {
    let spawned = Instant::now();
    let (daemon, addr, _) = start(&files.dir, &files.genesis, &files.engine)?;
    running.store(daemon.0.id(), Ordering::Relaxed);
    let answered = runtime.block_on(first_answer(addr, spawned))?;
    let clients = runtime.block_on(connect(addr))?;
    Ok((daemon, clients, answered))
}

/// A crash: SIGKILL, waited for.
pub fn kill(mut daemon: Daemon) -> anyhow::Result<()> {
    daemon.0.kill()?;
    daemon.0.wait()?;
    Ok(())
}
