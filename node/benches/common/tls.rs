//! TLS on the gRPC listener against plain text, in the same run: two nodes with the same config
//! but for `[tls]` (the certificates of `consentd tls dev-certs`), both up at once so that each
//! plain-text phase is followed at once by its TLS twin, driven by the same clients (the SDK's
//! transport, `consent_client::transport`: the `http://` or `https://` URL decides) with the same
//! concurrency: SubmitBatch, Check, CheckBatch, and new connections each answering one Check.

use std::time::{Duration, Instant};

use consent_client::collector::Bearer;
use consent_client::transport::{self, TlsOptions};
use consent_node::Node;
use consent_node::config::{Config, TlsSection};
use consent_proto::Entry;
use consent_proto::fixtures;
use consent_proto::pb;
use tonic::transport::Channel;

use crate::common::{
    CALLERS, CONNECTIONS, Row, check_request, percentiles, submit_all, submit_in_order,
};

/// New connections measured per side, at most: each leaves a socket in TIME_WAIT behind it.
const MAX_NEW_CONNECTIONS: usize = 2_000;

/// One node and how its clients reach it.
struct Side {
    node: Node,
    url: String,
    tls: TlsOptions,
    channels: Vec<Channel>,
}

impl Side {
    async fn start(config: Config, tls: TlsOptions) -> anyhow::Result<Side> {
        let node = Node::start(config).await?;
        let url = node.grpc_url();
        let mut channels = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            channels.push(transport::channel(&url, &tls).await?);
        }
        Ok(Side {
            node,
            url,
            tls,
            channels,
        })
    }

    async fn stop(self) -> anyhow::Result<()> {
        let Side { node, channels, .. } = self;
        drop(channels);
        node.shutdown();
        node.join().await
    }
}

/// The TLS rows, each against its plain-text twin. `base` is the node config both sides share;
/// their data directories (and the certificates) go under its `data_dir`.
pub async fn rows(
    base: Config,
    setup: &fixtures::Scene,
    work: &[Entry],
    phase: Duration,
) -> anyhow::Result<Vec<Row>> {
    let certs = consent_node::devcerts::generate()?;
    let files = base.data_dir.join("certs");
    std::fs::create_dir_all(&files)?;
    let (ca, cert, key) = (
        files.join("ca.pem"),
        files.join("node.pem"),
        files.join("node.key"),
    );
    for (path, text) in [
        (&ca, &certs.ca_cert),
        (&cert, &certs.node_cert),
        (&key, &certs.node_key),
    ] {
        std::fs::write(path, text)?;
    }
    let mut plain_config = Config {
        data_dir: base.data_dir.join("plain"),
        ..base.clone()
    };
    // The new-connection phase opens one connection after another, faster than the node may
    // see each one close: room for them, on both sides alike.
    plain_config.grpc.max_connections_per_address = plain_config.grpc.max_connections;
    let tls_config = Config {
        data_dir: base.data_dir.join("tls"),
        tls: TlsSection {
            cert: Some(cert),
            key: Some(key),
            ..TlsSection::default()
        },
        ..plain_config.clone()
    };
    let plain = Side::start(plain_config, TlsOptions::default()).await?;
    let tls = Side::start(
        tls_config,
        TlsOptions {
            ca_cert: Some(ca),
            ..TlsOptions::default()
        },
    )
    .await?;
    anyhow::ensure!(
        plain.url.starts_with("http://") && tls.url.starts_with("https://"),
        "one node in plain text, one over TLS: {} and {}",
        plain.url,
        tls.url
    );
    let mut rows = Vec::new();

    // The same entries into each, so that the checks below read the same state.
    let (plain_ingest, _) = ingest(&plain, setup, work).await?;
    let (tls_ingest, tls_ingest_lat) = ingest(&tls, setup, work).await?;
    rows.push(Row {
        name: "durable ingest, SubmitBatch over TLS (500 per call)".into(),
        value: tls_ingest,
        unit: "entries/s",
        baseline: Some(("plain SubmitBatch".into(), plain_ingest)),
        target: None,
        extra: percentiles(tls_ingest_lat),
    });

    // A collector session on each node.
    let collector = setup.collector.feed();
    let subjects: Vec<_> = work.iter().filter(|e| e.seq == 0).map(|e| e.feed).collect();
    anyhow::ensure!(!subjects.is_empty(), "no subjects to check");
    let mut bearers = Vec::new();
    for side in [&plain, &tls] {
        let (token, _) = consent_client::collector::authenticate(
            side.channels[0].clone(),
            setup.collector.key(),
            collector,
        )
        .await?;
        bearers.push(Bearer::new(&token)?);
    }
    let (plain_bearer, tls_bearer) = (&bearers[0], &bearers[1]);

    let (plain_check, _) = super::run_checks(
        &plain.channels,
        &subjects,
        collector,
        plain_bearer,
        super::Receipts::No,
        phase,
    )
    .await?;
    let (tls_check, tls_check_lat) = super::run_checks(
        &tls.channels,
        &subjects,
        collector,
        tls_bearer,
        super::Receipts::No,
        phase,
    )
    .await?;
    rows.push(Row {
        name: format!("Check over TLS ({CALLERS} callers, {CONNECTIONS} connections)"),
        value: tls_check,
        unit: "checks/s",
        baseline: Some(("plain Check".into(), plain_check)),
        target: Some(0.85),
        extra: percentiles(tls_check_lat),
    });

    let (plain_batch, _) =
        super::run_check_batches(&plain.channels, &subjects, collector, plain_bearer, phase)
            .await?;
    let (tls_batch, tls_batch_lat) =
        super::run_check_batches(&tls.channels, &subjects, collector, tls_bearer, phase).await?;
    rows.push(Row {
        name: "CheckBatch over TLS (1000 per call, 4 callers)".into(),
        value: tls_batch,
        unit: "decisions/s",
        baseline: Some(("plain CheckBatch".into(), plain_batch)),
        target: None,
        extra: percentiles(tls_batch_lat),
    });

    let request = check_request(&subjects[0], &collector);
    let (plain_new, plain_new_lat) = new_connections(&plain, &request, plain_bearer, phase).await?;
    let (tls_new, tls_new_lat) = new_connections(&tls, &request, tls_bearer, phase).await?;
    rows.push(Row {
        name: "new connection + first Check, plain (baseline)".into(),
        value: plain_new,
        unit: "connections/s",
        baseline: None,
        target: None,
        extra: percentiles(plain_new_lat),
    });
    rows.push(Row {
        name: "new connection + first Check, TLS (full handshake)".into(),
        value: tls_new,
        unit: "connections/s",
        baseline: Some(("plain connections".into(), plain_new)),
        target: None,
        extra: percentiles(tls_new_lat),
    });

    plain.stop().await?;
    tls.stop().await?;
    Ok(rows)
}

/// The scene's entries in order, then `work` in SubmitBatch calls of 500 (as the plain-text
/// SubmitBatch row): entries/s and each call's latency in µs.
async fn ingest(
    side: &Side,
    setup: &fixtures::Scene,
    work: &[Entry],
) -> anyhow::Result<(f64, Vec<u32>)> {
    submit_in_order(&side.channels[0], &setup.entries).await?;
    let start = Instant::now();
    let lat = submit_all(&side.channels, work, 500).await?;
    Ok((work.len() as f64 / start.elapsed().as_secs_f64(), lat))
}

/// New connections to `side`'s node one after another, for `phase` or [`MAX_NEW_CONNECTIONS`],
/// each opened as the SDK opens one (`transport::channel`: TLS settings built anew, so a full
/// handshake with nothing resumed), asked `request`, and closed once answered: connections/s,
/// and the time of each from the connect to the answer, in µs.
async fn new_connections(
    side: &Side,
    request: &pb::CheckRequest,
    bearer: &Bearer,
    phase: Duration,
) -> anyhow::Result<(f64, Vec<u32>)> {
    let start = Instant::now();
    let mut lat = Vec::new();
    while start.elapsed() < phase && lat.len() < MAX_NEW_CONNECTIONS {
        let t = Instant::now();
        let channel = transport::channel(&side.url, &side.tls).await?;
        let answer = pb::consent_client::ConsentClient::with_interceptor(channel, bearer.clone())
            .check(request.clone())
            .await?
            .into_inner();
        lat.push(t.elapsed().as_micros() as u32);
        anyhow::ensure!(
            answer.decision() == pb::Decision::Allow,
            "unexpected deny on a new connection: {:?}",
            answer.reason()
        );
    }
    Ok((lat.len() as f64 / start.elapsed().as_secs_f64(), lat))
}
