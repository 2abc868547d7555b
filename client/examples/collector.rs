//! A sensor gateway that honours consent: `cargo run -p consent-client --example collector`.
//!
//! Self-contained: it starts a throwaway node (loopback, temporary directory) with a registrar, a
//! city parking operator (the collector) and three residents who consent to their vehicle data
//! being stored to provide the parking service. Then the gateway runs the loop a real one runs:
//!
//! 1. before storing each sensor record, it checks consent (SDK `DecisionCache::check_or_ask`:
//!    a local cache kept exact by the watch stream, or the node in an authenticated session) and
//!    stores the record only on ALLOW — and never when the check
//!    fails;
//! 2. meanwhile it watches (`Collector::watch`): when a resident revokes and asks for erasure,
//!    it deletes that resident's records at once and acknowledges with a signed Ack entry;
//! 3. it keeps the watch cursor, so a restart would resume exactly where it stopped.
//!
//! At the end it prints what it stored, what it erased, and the node's public answering record.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use consent_client::cache::{CacheConfig, DecisionCache, Source};
use consent_client::collector::Collector;
use consent_node::Node;
use consent_node::config::Config;
use consent_node::genesis::Genesis;
use consent_proto::EntryId;
use consent_proto::FeedId;
use consent_proto::body::AckAnswer;
use consent_proto::entry::Author;
use consent_proto::fixtures::{self, DAY, Scene, T0};
use consent_proto::pb;
use consent_proto::vocab::{DataCategory, Purpose, Role};
use prost::bytes::Bytes;
use tokio_stream::StreamExt;

/// The gateway's own database: records per resident (pseudonymous subject id).
#[derive(Default)]
struct Database {
    records: HashMap<FeedId, Vec<String>>,
}

/// A resident: a name, the wallet's author of their pairwise feed, and their grant.
type Resident = (&'static str, Author, EntryId);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // A throwaway network with one node.
    let dir = tempfile::tempdir()?;
    let scene = fixtures::scene(T0);
    let node = start_node(dir.path(), &scene).await?;
    let url = node.grpc_url();
    let mut ledger = pb::ledger_client::LedgerClient::connect(url.clone()).await?;
    for e in &scene.entries {
        ledger.submit(submit(e)).await?;
    }
    let mut residents = consenting_residents(&mut ledger, &scene).await?;
    println!("node at {url}; 3 residents consented to the parking operator");

    // The gateway: a session, a watch, and a database.
    let mut operator = scene.collector.clone();
    let mut gateway = Collector::connect(&url, operator.key().clone(), operator.feed()).await?;
    let mut watch = gateway.watch(Bytes::new(), 500).await?;
    // Checks are answered from a decision cache kept exact by a second watch stream; when it is
    // stale the node is asked, and when that fails too the answer is deny.
    let cache = DecisionCache::new(operator.feed(), CacheConfig::default());
    let _follow =
        cache.follow(Collector::connect(&url, operator.key().clone(), operator.feed()).await?);
    let mut status = pb::node_client::NodeClient::connect(url.clone()).await?;
    caught_up(&cache, &mut status).await?;
    let mut db = Database::default();
    let mut cursor = Bytes::new();

    // Sensor records arrive; each is stored only after an ALLOW.
    for round in 0..3 {
        store_round(&cache, &mut gateway, &residents, &mut db, round).await;
        if round == 0 {
            // Ben withdraws and asks for erasure, from his wallet.
            let (_, author, grant) = &mut residents[1];
            let revoke = fixtures::append(author, T0 + 2 * DAY, fixtures::revoke(*grant, true));
            ledger.submit(submit(&revoke)).await?;
            println!("ben revoked his consent and asked for erasure");
            // Like a consistency token: no check answered from before the revocation.
            caught_up(&cache, &mut status).await?;
            // The gateway reacts to its watch stream: erase, then acknowledge.
            cursor = erase_on_revocation(&mut watch, &mut db, &mut gateway, &mut operator).await?;
        }
    }

    report(&url, &db, &cursor, &operator).await?;
    node.shutdown();
    node.join().await?;
    Ok(())
}

/// Starts a node on loopback, in `dir`, for a network whose registrar is the scene's.
async fn start_node(dir: &Path, scene: &Scene) -> anyhow::Result<Node> {
    let genesis = Genesis {
        network_id: "example-city".into(),
        registrars: vec![scene.registrar.feed().typed(Role::Registrar).to_string()],
        bootstrap: vec![],
        nodes: vec![],
        members_only: false,
        names: Default::default(),
    };
    let genesis_path = dir.join("genesis.toml");
    std::fs::write(
        &genesis_path,
        genesis.to_toml().map_err(anyhow::Error::msg)?,
    )?;
    let mut config = Config {
        data_dir: dir.join("node"),
        grpc_listen: "127.0.0.1:0".parse()?,
        genesis: Some(genesis_path),
        log_level: "warn".into(),
        ..Config::default()
    };
    config.p2p.enabled = false;
    Ok(Node::start(config).await?)
}

/// The request that submits `entry`.
fn submit(entry: &consent_proto::Entry) -> pb::SubmitRequest {
    pb::SubmitRequest {
        entry: Some(entry.to_signed()),
    }
}

/// Three residents consent; their wallets sign, the gateway never sees who they are.
async fn consenting_residents(
    ledger: &mut pb::ledger_client::LedgerClient<tonic::transport::Channel>,
    scene: &Scene,
) -> anyhow::Result<Vec<Resident>> {
    let mut residents = Vec::new();
    for name in ["ana", "ben", "chloe"] {
        let (mut author, inception) = fixtures::author(Role::Citizen, name, T0);
        let grant = fixtures::append(
            &mut author,
            T0 + DAY,
            fixtures::grant(
                scene.collector.feed(),
                scene.policy,
                &[Purpose::ServiceProvision],
                &[DataCategory::Location],
                T0,
                None,
            ),
        );
        ledger.submit(submit(&inception)).await?;
        ledger.submit(submit(&grant)).await?;
        residents.push((name, author, grant.id));
    }
    Ok(residents)
}

/// One sensor record per resident, stored only after an ALLOW (and never when the check fails).
async fn store_round(
    cache: &DecisionCache,
    gateway: &mut Collector,
    residents: &[Resident],
    db: &mut Database,
    round: usize,
) {
    for (name, author, _) in residents {
        let subject = author.feed();
        let answer = cache
            .check_or_ask(
                gateway,
                subject,
                Purpose::ServiceProvision,
                DataCategory::Location,
            )
            .await;
        if let Source::FailedClosed(why) = &answer.source {
            eprintln!("  check failed, not storing ({why})");
        }
        let allowed = answer.allowed();
        if allowed {
            db.records
                .entry(subject)
                .or_default()
                .push(format!("{name}: parked in zone {round}"));
        } else {
            println!("  round {round}: no consent from {name}'s subject, record dropped");
        }
    }
}

/// Reads the watch stream up to a revocation with erasure, erases that resident's records and
/// acknowledges; returns the watch cursor to resume from.
async fn erase_on_revocation(
    watch: &mut tonic::Streaming<pb::WatchEvent>,
    db: &mut Database,
    gateway: &mut Collector,
    operator: &mut Author,
) -> anyhow::Result<Bytes> {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("watch ended"))??;
        if event.kind() == pb::WatchKind::Revoke {
            let subject = FeedId::from_slice(&event.subject)?;
            let erased = db.records.remove(&subject).map_or(0, |r| r.len());
            let signed = event
                .entry
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("no entry"))?;
            let revocation = consent_proto::Entry::from_signed(signed)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .id;
            let ack = gateway.ack(operator, revocation, AckAnswer::Done).await?;
            println!(
                "  watch: revocation with erasure -> erased {erased} record(s), acknowledged ({ack})"
            );
            return Ok(event.cursor);
        }
    }
}

/// Prints what the gateway stored, its watch cursor and the node's public answering record for
/// the operator; fails unless the withdrawal was honoured.
async fn report(url: &str, db: &Database, cursor: &[u8], operator: &Author) -> anyhow::Result<()> {
    println!("\nstored records:");
    for records in db.records.values() {
        for r in records {
            println!("  {r}");
        }
    }
    println!("watch cursor kept for a restart: {}", hex(cursor));
    let record = pb::node_client::NodeClient::connect(url.to_string())
        .await?
        .answer_times(pb::AnswerTimesRequest {
            collector: Bytes::copy_from_slice(&operator.feed().0),
        })
        .await?
        .into_inner();
    println!(
        "the node's public record for this operator: {} request(s), {} answered, {} open",
        record.requests, record.answered, record.unanswered
    );
    anyhow::ensure!(
        db.records.len() == 2 && record.answered == 1,
        "the gateway did not honour the withdrawal"
    );
    Ok(())
}

/// Waits until the cache reflects everything the node holds now.
async fn caught_up(
    cache: &DecisionCache,
    status: &mut pb::node_client::NodeClient<tonic::transport::Channel>,
) -> anyhow::Result<()> {
    let position = status
        .status(pb::StatusRequest {})
        .await?
        .into_inner()
        .entries;
    anyhow::ensure!(
        cache.reached(position, Duration::from_secs(10)).await,
        "the decision cache did not reach the node's position {position}"
    );
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
