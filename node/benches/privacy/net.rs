//! The real nodes of the linkage benchmark: a throwaway network of in-process nodes
//! (`consent_node::Node`, started as the replication bench starts them) replicating over libp2p
//! on loopback, and the driver that submits the city's entries to them.
//!
//! The driver sends one entry at a time, in the order of the city time at which its wallet sends
//! it, to the node that wallet talks to, as fast as the nodes accept (unary `Submit`, as the CLI
//! does). So the node an entry is sent to logs it in exactly the city's order; another node logs
//! it when gossip brings it, which may be after an entry sent to that node a moment later: in the
//! compressed time of the run, entries seconds apart in the city are milliseconds apart. In a real
//! city, gossip (milliseconds) is far faster than the gaps between entries (seconds), so real
//! arrival orders follow the city's order more closely than here: the measured arrival signal is a
//! lower bound, if anything.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use consent_node::Node;
use consent_node::config::Config;
use consent_node::genesis::Genesis;
use consent_proto::Entry;
use consent_proto::ids::FeedId;
use consent_proto::pb;
use consent_proto::vocab::Role;
use tonic::transport::Channel;

use crate::city::Planned;

/// Running nodes, their data directories and a gRPC connection to each.
pub struct Net {
    temp: tempfile::TempDir,
    nodes: Vec<Node>,
    channels: Vec<Channel>,
}

/// How the submission went.
pub struct Submitted {
    /// Wall-clock time of the submission.
    pub elapsed: Duration,
    /// Entries a node held as pending at first (none expected: a feed's entries go to one node
    /// in order).
    pub pending: usize,
}

impl Net {
    /// Starts `count` nodes of a network whose genesis lists `registrar`, all dialling the first,
    /// and waits until each sees every other.
    pub async fn start(count: usize, registrar: FeedId) -> anyhow::Result<Net> {
        let temp = tempfile::tempdir()?;
        let genesis = temp.path().join("genesis.toml");
        let g = Genesis {
            network_id: "privacy-bench".into(),
            registrars: vec![registrar.typed(Role::Registrar).to_string()],
            bootstrap: vec![],
            nodes: vec![],
            members_only: false,
            names: Default::default(),
            consultation: None,
        };
        std::fs::write(&genesis, g.to_toml().map_err(anyhow::Error::msg)?)?;
        let mut nodes: Vec<Node> = Vec::new();
        for i in 0..count {
            let mut config = Config {
                data_dir: temp.path().join(format!("node{i}")),
                grpc_listen: "127.0.0.1:0".parse()?,
                genesis: Some(genesis.clone()),
                log_level: "warn".into(),
                ..Config::default()
            };
            config.p2p.listen = vec!["/ip4/127.0.0.1/tcp/0".into()];
            config.p2p.bootstrap = nodes
                .iter()
                .take(1)
                .filter_map(|p| p.p2p())
                .flat_map(|p| p.listen_addrs())
                .map(|a| a.to_string())
                .collect();
            nodes.push(Node::start(config).await?);
        }
        for node in &nodes {
            let p2p = node.p2p().ok_or_else(|| anyhow::anyhow!("p2p off"))?;
            wait_for(Duration::from_secs(60), "a full mesh", || async {
                p2p.peers().await.len() >= count - 1
            })
            .await?;
        }
        // Let gossipsub settle its mesh (heartbeats) before anything is sent.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut channels = Vec::new();
        for node in &nodes {
            channels.push(
                Channel::from_shared(format!("http://{}", node.grpc_addr()))?
                    .tcp_nodelay(true)
                    .connect()
                    .await?,
            );
        }
        Ok(Net {
            temp,
            nodes,
            channels,
        })
    }

    /// Submits the setup entries to the first node in order and waits until every node has them.
    pub async fn submit_setup(&self, entries: &[Entry]) -> anyhow::Result<()> {
        crate::common::submit_in_order(&self.channels[0], entries).await?;
        self.converged(entries.len() as u64, Duration::from_secs(60))
            .await
    }

    /// Submits `planned` one entry at a time, in order, each to its node.
    pub async fn submit(&self, planned: &[Planned]) -> anyhow::Result<Submitted> {
        let mut clients: Vec<pb::ledger_client::LedgerClient<Channel>> = self
            .channels
            .iter()
            .map(|c| pb::ledger_client::LedgerClient::new(c.clone()))
            .collect();
        let n = clients.len();
        let started = Instant::now();
        let mut pending = 0;
        for (i, p) in planned.iter().enumerate() {
            let r = clients[p.node % n]
                .submit(pb::SubmitRequest {
                    entry: Some(p.entry.to_signed()),
                })
                .await
                .with_context(|| format!("submitting entry {i} of the city"))?
                .into_inner();
            match r.status() {
                pb::SubmitStatus::Accepted => {}
                pb::SubmitStatus::Pending => pending += 1,
                other => anyhow::bail!("entry {i} of the city not accepted: {other:?}"),
            }
            if (i + 1) % 10_000 == 0 {
                eprintln!("  submitted {}/{}", i + 1, planned.len());
            }
        }
        Ok(Submitted {
            elapsed: started.elapsed(),
            pending,
        })
    }

    /// Waits until every node's log holds `total` entries.
    pub async fn converged(&self, total: u64, timeout: Duration) -> anyhow::Result<()> {
        for node in &self.nodes {
            wait_for(timeout, "every node to hold every entry", || async {
                node.ledger().stats().log_size >= total
            })
            .await?;
        }
        Ok(())
    }

    /// The nodes' gRPC addresses.
    pub fn grpc_addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(Node::grpc_addr).collect()
    }

    /// The address (`host:port`) of node `i`'s transparency site, from its address file.
    pub fn site(&self, i: usize) -> anyhow::Result<String> {
        let path = self
            .temp
            .path()
            .join(format!("node{i}"))
            .join(consent_node::node::SITE_ADDR_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(text.trim().to_string())
    }

    /// Stops every node and removes their data.
    pub async fn stop(self) -> anyhow::Result<()> {
        let Net {
            temp,
            nodes,
            channels,
        } = self;
        drop(channels);
        for node in &nodes {
            node.shutdown();
        }
        for node in nodes {
            node.join().await?;
        }
        drop(temp);
        Ok(())
    }
}

/// Polls `f` every 20 ms until it is true, or fails after `timeout`.
async fn wait_for<F, Fut>(timeout: Duration, what: &str, mut f: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !f().await {
        anyhow::ensure!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
