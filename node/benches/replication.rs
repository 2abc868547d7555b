//! `cargo bench -p consent-node --bench replication` (run by `scripts/bench`): replication
//! figures with real nodes talking libp2p over loopback, each next to a baseline measured in the
//! same run.
//!
//! - revocation propagation across 3 and 10 nodes: from Submit at one node until Check at every
//!   other node answers deny (p50/p99); baseline: Submit then Check at the same node;
//! - catch-up: a fresh node syncs `--catchup N` entries (default 100,000), as a ratio of the
//!   first node's own durable ingest rate (SubmitBatch) measured on the same entries;
//! - anti-entropy cost: sync bytes two nodes with those feeds exchange to reconcile 10 feeds one
//!   of them lacks, against the encoded size of all heads.
//!
//! Options: `--catchup N`, `--samples S` (propagation samples per network size, default 50),
//! `--json PATH`.

use std::time::{Duration, Instant};

use consent_node::Node;
use consent_node::config::Config;
use consent_node::genesis::Genesis;
use consent_proto::Entry;
use consent_proto::entry::Author;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::pb;
use consent_proto::vocab::{Purpose as P, Role};

mod common;
use common::{Row, check_request, connect, print_table, submit_all, submit_in_order, to_json};

fn main() -> anyhow::Result<()> {
    let mut catchup = 100_000usize;
    let mut samples = 50usize;
    let mut json = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--catchup" => catchup = args.next().and_then(|v| v.parse().ok()).unwrap_or(catchup),
            "--samples" => samples = args.next().and_then(|v| v.parse().ok()).unwrap_or(samples),
            "--json" => json = args.next(),
            "--bench" => {}
            other => {
                anyhow::bail!("unknown option {other}; use --catchup N --samples S --json PATH")
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let rows = runtime.block_on(async {
        let net = Network::new()?;
        let mut rows = Vec::new();
        for n in [3, 10] {
            eprintln!("revocation propagation across {n} nodes ({samples} samples)...");
            rows.extend(propagation(&net, n, samples).await?);
        }
        eprintln!("catch-up of {catchup} entries and anti-entropy cost...");
        rows.extend(catch_up_and_anti_entropy(&net, catchup).await?);
        anyhow::Ok(rows)
    })?;
    print_table(&rows);
    if let Some(path) = json {
        std::fs::write(&path, to_json(&rows))?;
        eprintln!("wrote {path}");
    }
    Ok(())
}

/// A throwaway network: a genesis and a temporary directory for the nodes' data.
struct Network {
    temp: tempfile::TempDir,
    genesis: std::path::PathBuf,
    next: std::sync::atomic::AtomicUsize,
}

impl Network {
    fn new() -> anyhow::Result<Self> {
        let temp = tempfile::tempdir()?;
        let genesis = temp.path().join("genesis.toml");
        let (registrar, _) = fixtures::author(Role::Registrar, "registrar", T0);
        let g = Genesis {
            network_id: "bench".into(),
            registrars: vec![registrar.feed().typed(Role::Registrar).to_string()],
            bootstrap: vec![],
            nodes: vec![],
            members_only: false,
            names: Default::default(),
            consultation: None,
        };
        std::fs::write(&genesis, g.to_toml().map_err(anyhow::Error::msg)?)?;
        Ok(Self {
            temp,
            genesis,
            next: Default::default(),
        })
    }

    /// Starts a node with a fresh data directory that dials `peers`.
    async fn node(&self, peers: &[&Node]) -> anyhow::Result<Node> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut config = Config {
            data_dir: self.temp.path().join(format!("node{n}")),
            grpc_listen: "127.0.0.1:0".parse()?,
            genesis: Some(self.genesis.clone()),
            log_level: "warn".into(),
            ..Config::default()
        };
        config.p2p.listen = vec!["/ip4/127.0.0.1/tcp/0".into()];
        config.p2p.bootstrap = peers
            .iter()
            .filter_map(|p| p.p2p())
            .flat_map(|p| p.listen_addrs())
            .map(|a| a.to_string())
            .collect();
        Ok(Node::start(config).await?)
    }
}

/// Polls `f` every `every` until it is true, or fails after `timeout`.
async fn wait_for<F, Fut>(
    timeout: Duration,
    every: Duration,
    what: &str,
    mut f: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !f().await {
        anyhow::ensure!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(every).await;
    }
    Ok(())
}

async fn entries(node: &Node) -> u64 {
    node.ledger().stats().log_size
}

/// Waits until every node holds `n` entries.
async fn converged(nodes: &[Node], n: u64, timeout: Duration) -> anyhow::Result<()> {
    for node in nodes {
        wait_for(
            timeout,
            Duration::from_millis(20),
            "convergence",
            || async { entries(node).await == n },
        )
        .await?;
    }
    Ok(())
}

/// A citizen with a grant to the scene's collector.
fn citizen(scene: &fixtures::Scene, label: &str) -> (Author, Vec<Entry>) {
    let (c, c0, g) = fixtures::citizen_granting(scene, label, P::ServiceProvision);
    (c, vec![c0, g])
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

async fn propagation(net: &Network, n: usize, samples: usize) -> anyhow::Result<Vec<Row>> {
    let first = net.node(&[]).await?;
    let mut nodes = vec![first];
    for _ in 1..n {
        let node = net.node(&[&nodes[0]]).await?;
        nodes.push(node);
    }
    for node in &nodes {
        let p2p = node.p2p().ok_or_else(|| anyhow::anyhow!("p2p off"))?;
        wait_for(
            Duration::from_secs(60),
            Duration::from_millis(50),
            "a full mesh",
            || async { p2p.peers().await.len() >= n - 1 },
        )
        .await?;
    }
    let scene = fixtures::scene(T0);
    let mut citizens = Vec::new();
    let mut setup: Vec<Entry> = scene.entries.clone();
    for i in 0..samples {
        let (author, entries) = citizen(&scene, &format!("prop-{n}-{i}"));
        citizens.push((author, entries[1].id));
        setup.extend(entries);
    }
    let channels = connect(nodes[0].grpc_addr()).await?;
    submit_in_order(&channels[0], &scene.entries).await?;
    submit_all(&channels, &setup[scene.entries.len()..], 100).await?;
    converged(&nodes, setup.len() as u64, Duration::from_secs(60)).await?;
    // Let gossipsub settle its mesh (heartbeats) before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut clients = Vec::new();
    for node in &nodes {
        let channel = connect(node.grpc_addr()).await?.remove(0);
        let (token, _) = consent_client::collector::authenticate(
            channel.clone(),
            scene.collector.key(),
            scene.collector.feed(),
        )
        .await?;
        clients.push((
            pb::ledger_client::LedgerClient::new(channel.clone()),
            pb::consent_client::ConsentClient::with_interceptor(
                channel,
                consent_client::collector::Bearer::new(&token)?,
            ),
        ));
    }
    let collector = scene.collector.feed();
    let (mut remote, mut local) = (Vec::new(), Vec::new());
    for (i, (author, grant)) in citizens.iter_mut().enumerate() {
        let at = i % n;
        let revoke = fixtures::append(author, T0 + 2 * DAY, fixtures::revoke(*grant, false));
        let subject = author.feed();
        let start = Instant::now();
        let (mut ledger, mut consent) = clients[at].clone();
        ledger
            .submit(pb::SubmitRequest {
                entry: Some(revoke.to_signed()),
            })
            .await?;
        let check = check_request(&subject, &collector);
        let r = consent.check(check.clone()).await?.into_inner();
        anyhow::ensure!(r.decision() == pb::Decision::Deny, "local check not deny");
        local.push(start.elapsed().as_secs_f64() * 1000.0);
        let mut waits = Vec::new();
        for (j, (_, consent)) in clients.iter().enumerate() {
            if j == at {
                continue;
            }
            let mut consent = consent.clone();
            let check = check.clone();
            waits.push(tokio::spawn(async move {
                loop {
                    let r = consent.check(check.clone()).await?.into_inner();
                    if r.decision() == pb::Decision::Deny {
                        return anyhow::Ok(start.elapsed());
                    }
                    anyhow::ensure!(start.elapsed() < Duration::from_secs(30), "never denied");
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }));
        }
        let mut last = Duration::ZERO;
        for w in waits {
            last = last.max(w.await??);
        }
        remote.push(last.as_secs_f64() * 1000.0);
    }
    for node in &nodes {
        node.shutdown();
    }
    for node in nodes {
        node.join().await?;
    }
    remote.sort_by(f64::total_cmp);
    local.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&remote, 0.5), percentile(&remote, 0.99));
    let (l50, l99) = (percentile(&local, 0.5), percentile(&local, 0.99));
    Ok(vec![
        Row {
            name: format!("revocation propagation p50, {n} nodes"),
            value: p50,
            unit: "ms",
            baseline: Some(("same-node submit+check".into(), l50)),
            target: None,
            extra: String::new(),
        },
        Row {
            name: format!("revocation propagation p99, {n} nodes"),
            value: p99,
            unit: "ms",
            baseline: Some(("same-node submit+check".into(), l99)),
            target: None,
            extra: "target p99 < 100 ms".into(),
        },
    ])
}

async fn catch_up_and_anti_entropy(net: &Network, count: usize) -> anyhow::Result<Vec<Row>> {
    let scene = fixtures::scene(T0);
    eprintln!("  signing {count} inceptions (one feed each)...");
    let feeds: Vec<Entry> = (0..count)
        .map(|i| fixtures::author(Role::Citizen, &format!("feed-{i}"), T0).1)
        .collect();
    let a = net.node(&[]).await?;
    let channels = connect(a.grpc_addr()).await?;
    submit_in_order(&channels[0], &scene.entries).await?;
    let start = Instant::now();
    submit_all(&channels, &feeds, 500).await?;
    let ingest = count as f64 / start.elapsed().as_secs_f64();
    let total = entries(&a).await;

    eprintln!("  a fresh node joins...");
    let start = Instant::now();
    let b = net.node(&[&a]).await?;
    wait_for(
        Duration::from_secs(600),
        Duration::from_millis(20),
        "catch-up",
        || async { entries(&b).await == total },
    )
    .await?;
    let catchup = count as f64 / start.elapsed().as_secs_f64();

    eprintln!("  partition, 10 new feeds on one side, heal...");
    let (pa, pb) = match (a.p2p(), b.p2p()) {
        (Some(pa), Some(pb)) => (pa.clone(), pb.clone()),
        _ => anyhow::bail!("p2p off"),
    };
    pa.block(pb.peer_id()).await;
    pb.block(pa.peer_id()).await;
    wait_for(
        Duration::from_secs(10),
        Duration::from_millis(20),
        "the split",
        || async { pa.peers().await.is_empty() && pb.peers().await.is_empty() },
    )
    .await?;
    let extra: Vec<Entry> = (0..10)
        .map(|i| fixtures::author(Role::Citizen, &format!("extra-{i}"), T0).1)
        .collect();
    submit_all(&channels[..1], &extra, 10).await?;
    let (a0, b0) = (pa.status().await, pb.status().await);
    let healed_ms = consent_node::clock::Clock::system().now_ms();
    pa.unblock(pb.peer_id()).await;
    pb.unblock(pa.peer_id()).await;
    for addr in pa.listen_addrs() {
        pb.dial(addr).await;
    }
    wait_for(
        Duration::from_secs(60),
        Duration::from_millis(20),
        "reconciliation",
        || async {
            if entries(&b).await != total + 10 {
                return false;
            }
            // Both sides have run a round that found nothing left to fetch.
            let (sa, sb) = (pa.status().await, pb.status().await);
            let synced = |s: &consent_node::p2p::P2pStatus| {
                s.peers.iter().any(|p| p.in_sync_ms >= healed_ms)
            };
            synced(&sa) && synced(&sb)
        },
    )
    .await?;
    let (a1, b1) = (pa.status().await, pb.status().await);
    let exchanged = (a1.bytes_sent - a0.bytes_sent) + (b1.bytes_sent - b0.bytes_sent);
    let heads = a.ledger().heads_with_prefix(&[], None, usize::MAX)?;
    let all_heads = cbor4ii::serde::to_vec(
        Vec::new(),
        &consent_node::p2p::protocol::SyncResponse::Heads(
            consent_node::p2p::protocol::heads_to_wire(&heads),
        ),
    )?
    .len() as f64;
    let store_a = a.ledger().store_bytes();
    for node in [&a, &b] {
        node.shutdown();
    }
    a.join().await?;
    b.join().await?;
    Ok(vec![
        Row {
            name: "durable ingest, SubmitBatch, single-entry feeds".into(),
            value: ingest,
            unit: "entries/s",
            baseline: None,
            target: None,
            extra: format!("{count} entries, store {} MB", store_a / 1_000_000),
        },
        Row {
            name: "catch-up of a fresh node".into(),
            value: catchup,
            unit: "entries/s",
            baseline: Some(("local ingest".into(), ingest)),
            target: Some(0.5),
            extra: String::new(),
        },
        Row {
            name: format!("anti-entropy, {} feeds differing in 10", heads.len()),
            value: exchanged as f64,
            unit: "bytes",
            baseline: Some(("all heads encoded".into(), all_heads)),
            target: None,
            extra: "target ratio < 0.01".into(),
        },
    ])
}
