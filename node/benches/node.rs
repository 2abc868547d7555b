//! `scripts/bench` (or `cargo bench -p consent-node --bench node`): every figure of the node in
//! one run, each next to a baseline measured in the same run on the same machine, so that the
//! ratios stay meaningful on a shared, noisy machine.
//!
//! - verify ceiling: raw Ed25519 `verify_strict` on 2 threads;
//! - durable ingest through Submit (64 concurrent callers) and SubmitBatch (batches of 500),
//!   and SubmitBatch with the transparency site (and its log follower) off, against the default,
//!   as a ratio of that ceiling (every accepted entry is on disk before it is acknowledged);
//! - Check (64 concurrent callers, 4 HTTP/2 connections, in a collector session: the token is
//!   checked on every call) as a ratio of an empty tonic handler answering a message of the same
//!   size (sent the same token), with p50/p99/p999 latency;
//! - Check with a signed decision receipt, against plain Check;
//! - CheckBatch decisions/s;
//! - a second set of subjects holding grants to a street policy (zones, sensors, a time window,
//!   forms), each narrowed one of six ways, checked with an observation context: Check with
//!   context against plain Check (target >= 0.90), CheckBatch with contexts against CheckBatch;
//! - SDK cached checks/s (the collector's decision cache, fed by the watch stream), with
//!   latencies in nanoseconds; and the SDK's cached check with context, in ns per check (target
//!   p50 < 1,000 ns, printed as met or not met);
//! - on-disk bytes per entry;
//! - TLS on the gRPC listener against plain text (`common/tls.rs`): two nodes with the same
//!   config but for `[tls]`, each phase run on one then at once on the other: SubmitBatch, Check
//!   (target >= 0.85 of plain text), CheckBatch, and new connections each answering one Check
//!   (the handshake's cost);
//! - server CPU per 1,000 answers (`common/cpu.rs`): the release `consentd` as its own process
//!   under the unary Check and CheckBatch loads above, its CPU time read from `/proc`, against
//!   the PostgreSQL server's processes answering the same lookups (with `--postgres`; without
//!   it, the node's figures alone): target node/PostgreSQL <= 1.00; and the node's CPU per
//!   1,000 entries ingested by Submit and by SubmitBatch, beside 1,000 signature checks.
//!
//! Options: `--entries N` (ingest size, default 20000), `--seconds S` (per load phase, default 5),
//! `--json PATH` (write results as JSON), `--h2load` (also drive Check and the empty handler with
//! the independent load generator h2load, when installed), `--postgres CONNINFO` (also run the
//! same check as an indexed lookup in that PostgreSQL server: what users would pick instead),
//! `--cpu-only` (only the ceiling and the server CPU rows: a quick run to profile one change;
//! `scripts/bench --only node --cpu-only`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use consent_client::collector::Bearer;
use consent_node::Node;
use consent_node::config::Config;
use consent_node::genesis::Genesis;
use consent_proto::Entry;
use consent_proto::fixtures::{self, T0};
use consent_proto::pb;
use consent_proto::vocab::{Purpose as P, Role};
use prost::bytes::Bytes;
use tonic::transport::Channel;

mod common;
#[path = "common/cpu.rs"]
mod cpu;
#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/h2load.rs"]
mod h2load;
#[path = "common/load.rs"]
mod load;
#[path = "common/postgres.rs"]
mod postgres;
#[path = "common/sdk_cache.rs"]
mod sdk_cache;
#[path = "common/tls.rs"]
mod tls;
use common::{
    CALLERS, CONNECTIONS, Row, check_request, connect, percentiles, print_table, submit_all,
    submit_in_order, to_json,
};
use load::{
    EmptyServer, Receipts, run_check_batches, run_checks, run_request_batches, run_requests,
};

fn main() -> anyhow::Result<()> {
    let mut entries = 20_000usize;
    let mut seconds = 5u64;
    let mut json = None;
    let mut with_h2load = false;
    let mut postgres = None;
    let mut cpu_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--entries" => entries = args.next().and_then(|v| v.parse().ok()).unwrap_or(entries),
            "--seconds" => seconds = args.next().and_then(|v| v.parse().ok()).unwrap_or(seconds),
            "--json" => json = args.next(),
            "--h2load" => with_h2load = true,
            "--postgres" => postgres = args.next(),
            // Only the ceiling and the server CPU rows (quick, for profiling one change).
            "--cpu-only" => cpu_only = true,
            "--bench" => {}
            other => {
                anyhow::bail!(
                    "unknown option {other}; use --entries N --seconds S --json PATH --h2load --postgres CONNINFO --cpu-only"
                )
            }
        }
    }
    let phase = Duration::from_secs(seconds);
    let mut rows = Vec::new();

    eprintln!("signing {entries} entries...");
    let mut setup = fixtures::scene(T0);
    // Scoped grants to a street policy the collector publishes next (checked with context).
    let street = common::street(&mut setup, (entries / 10).max(1_000));
    let work = make_entries(&setup, entries, "bench");

    eprintln!("measuring the verify ceiling...");
    let ceiling = verify_ceiling(&work, 2);
    rows.push(Row {
        name: "signature checks, 2 threads (ceiling)".into(),
        value: ceiling,
        unit: "verifies/s",
        baseline: None,
        target: None,
        extra: String::new(),
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if !cpu_only {
        eprintln!("measuring the write path alone on each storage engine...");
        let (memory, sled_rate, sled_insert, fjall_rate) =
            runtime.block_on(engines(&setup, &work))?;
        rows.push(Row {
            name: "write path alone, memory engine (no gRPC)".into(),
            value: memory,
            unit: "entries/s",
            baseline: Some(("verify ceiling".into(), ceiling)),
            target: None,
            extra: String::new(),
        });
        rows.push(Row {
            name: "write path alone, sled engine (no gRPC)".into(),
            value: sled_rate,
            unit: "entries/s",
            baseline: Some(("memory engine".into(), memory)),
            target: None,
            extra: String::new(),
        });
        rows.push(Row {
            name: "write path alone, fjall engine (no gRPC)".into(),
            value: fjall_rate,
            unit: "entries/s",
            baseline: Some(("memory engine".into(), memory)),
            target: None,
            extra: String::new(),
        });
        rows.push(Row {
            name: "sled raw inserts, random 33-byte keys".into(),
            value: sled_insert,
            unit: "inserts/s",
            baseline: None,
            target: None,
            extra: String::new(),
        });
    }
    runtime.block_on(async {
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
        let config = |dir: &str| Config {
            data_dir: temp.path().join(dir),
            grpc_listen: "127.0.0.1:0".parse().expect("address"),
            genesis: Some(genesis.clone()),
            log_level: "warn".into(),
            ..Config::default()
        };

        if !cpu_only {
            // Durable ingest, one entry per call.
            let node = Node::start(config("submit")).await?;
            let clients = connect(node.grpc_addr()).await?;
            submit_in_order(&clients[0], &setup.entries).await?;
            let start = Instant::now();
            let lat = submit_all(&clients, &work, 1).await?;
            let rate = work.len() as f64 / start.elapsed().as_secs_f64();
            eprintln!(
                "Submit writer (commits, entries, stage ms, apply ms, flush ms): {:?} in {:?}",
                node.ledger().timings(),
                start.elapsed()
            );
            let bytes = node.ledger().store_bytes() as f64 / node.ledger().stats().log_size as f64;
            // The street policy and its scoped grants, for the checks with context (not timed).
            submit_in_order(&clients[0], std::slice::from_ref(&street.policy)).await?;
            submit_all(&clients, &street.entries, 500).await?;
            rows.push(Row {
                name: format!("durable ingest, Submit ({CALLERS} callers)"),
                value: rate,
                unit: "entries/s",
                baseline: Some(("verify ceiling".into(), ceiling)),
                target: Some(0.60),
                extra: percentiles(lat),
            });

            // Checks against that node, and the empty handler.
            let subjects: Vec<_> = work.iter().filter(|e| e.seq == 0).map(|e| e.feed).collect();
            let collector = setup.collector.feed();
            // A collector session (one signature); every check presents its token.
            let (token, _) = consent_client::collector::authenticate(
                clients[0].clone(),
                setup.collector.key(),
                collector,
            )
            .await?;
            let bearer = Bearer::new(&token)?;
            let check_lat;
            let check_rate;
            {
                let (rate, lat) =
                    run_checks(&clients, &subjects, collector, &bearer, Receipts::No, phase)
                        .await?;
                check_rate = rate;
                check_lat = lat;
            }
            let empty = EmptyServer::start().await?;
            let empty_clients = connect(empty.addr).await?;
            let (empty_rate, empty_lat) = run_checks(
                &empty_clients,
                &subjects,
                collector,
                &bearer,
                Receipts::No,
                phase,
            )
            .await?;
            rows.push(Row {
                name: "empty tonic handler, same message sizes (baseline)".into(),
                value: empty_rate,
                unit: "calls/s",
                baseline: None,
                target: None,
                extra: percentiles(empty_lat),
            });
            rows.push(Row {
                name: format!("Check ({CALLERS} callers, {CONNECTIONS} connections)"),
                value: check_rate,
                unit: "checks/s",
                baseline: Some(("empty handler".into(), empty_rate)),
                target: Some(0.70),
                extra: percentiles(check_lat),
            });
            if let Some(conninfo) = &postgres {
                let (pg_rate, pg_lat) =
                    postgres::checks(conninfo, &work, &subjects, collector, phase).await?;
                rows.push(Row {
                    name: format!("PostgreSQL indexed lookup, same grants ({CALLERS} callers)"),
                    value: pg_rate,
                    unit: "checks/s",
                    baseline: None,
                    target: None,
                    extra: percentiles(pg_lat),
                });
                rows.push(Row {
                    name: "Check, against PostgreSQL".into(),
                    value: check_rate,
                    unit: "checks/s",
                    baseline: Some(("PostgreSQL lookup".into(), pg_rate)),
                    target: None,
                    extra: String::new(),
                });
            }
            let (signed_rate, signed_lat) = run_checks(
                &clients,
                &subjects,
                collector,
                &bearer,
                Receipts::Grouped,
                phase,
            )
            .await?;
            rows.push(Row {
                name: "Check with a signed decision receipt (grouped, as the SDK asks)".into(),
                value: signed_rate,
                unit: "checks/s",
                baseline: Some(("unary Check".into(), check_rate)),
                target: Some(0.75),
                extra: percentiles(signed_lat),
            });
            let (alone_rate, alone_lat) = run_checks(
                &clients,
                &subjects,
                collector,
                &bearer,
                Receipts::Alone,
                phase,
            )
            .await?;
            rows.push(Row {
                name: "Check with a decision receipt signed alone".into(),
                value: alone_rate,
                unit: "checks/s",
                baseline: Some(("unary Check".into(), check_rate)),
                target: None,
                extra: percentiles(alone_lat),
            });
            let (batch_rate, batch_lat) =
                run_check_batches(&clients, &subjects, collector, &bearer, phase).await?;
            rows.push(Row {
                name: "CheckBatch (1000 per call, 4 callers)".into(),
                value: batch_rate,
                unit: "decisions/s",
                baseline: Some(("unary Check".into(), check_rate)),
                target: None,
                extra: percentiles(batch_lat),
            });
            // The same checks of subjects holding scoped grants, each with the context of its
            // observation (the rule then also judges sensor, cell, time and form).
            let (context_rate, context_lat) =
                run_requests(&clients, &street.checks, &bearer, phase).await?;
            rows.push(Row {
            name: format!(
                "Check with context (scoped grants, {CALLERS} callers, {CONNECTIONS} connections)"
            ),
            value: context_rate,
            unit: "checks/s",
            baseline: Some(("unary Check".into(), check_rate)),
            target: Some(0.90),
            extra: percentiles(context_lat),
        });
            let (context_batch_rate, context_batch_lat) =
                run_request_batches(&clients, &street.checks, &bearer, phase).await?;
            rows.push(Row {
                name: "CheckBatch with contexts (1000 per call, 4 callers)".into(),
                value: context_batch_rate,
                unit: "decisions/s",
                baseline: Some(("CheckBatch".into(), batch_rate)),
                target: None,
                extra: percentiles(context_batch_lat),
            });
            if with_h2load {
                if h2load::available() {
                    // The same message through both, checked first by a real client.
                    let request = check_request(&subjects[0], &collector);
                    let answer = pb::consent_client::ConsentClient::with_interceptor(
                        clients[0].clone(),
                        bearer.clone(),
                    )
                    .check(request.clone())
                    .await?
                    .into_inner();
                    anyhow::ensure!(answer.decision() == pb::Decision::Allow, "h2load's check");
                    let body = temp.path().join("check.grpc");
                    h2load::write_body(&body, &request)?;
                    let method = "/consent.v1.Consent/Check";
                    let base = h2load::run(empty.addr, method, &token, &body, phase)?;
                    let ours = h2load::run(node.grpc_addr(), method, &token, &body, phase)?;
                    rows.push(Row {
                        name: "h2load: empty tonic handler (baseline)".into(),
                        value: base.rate,
                        unit: "calls/s",
                        baseline: None,
                        target: None,
                        extra: base.times,
                    });
                    rows.push(Row {
                        name: "h2load: Check (4 connections x 16 streams)".into(),
                        value: ours.rate,
                        unit: "checks/s",
                        baseline: Some(("h2load empty handler".into(), base.rate)),
                        target: Some(0.70),
                        extra: ours.times,
                    });
                } else {
                    eprintln!("h2load is not installed (apt-get install nghttp2-client): skipped");
                }
            }
            let (cached_rate, cached_lat) =
                sdk_cache::checks(node.grpc_addr(), &setup, &subjects, phase).await?;
            rows.push(Row {
                name: "SDK cached checks (watch-fed, 2 threads, in process)".into(),
                value: cached_rate,
                unit: "checks/s",
                baseline: Some(("empty handler".into(), empty_rate)),
                target: None,
                extra: cached_lat,
            });
            let (context_ns, context_summary) =
                sdk_cache::context_checks(node.grpc_addr(), &setup, &street).await?;
            rows.push(Row {
                name: "SDK cached check with context (in process)".into(),
                value: context_ns,
                unit: "ns/check",
                baseline: None,
                target: None,
                extra: context_summary,
            });
            empty.stop();
            node.shutdown();
            node.join().await?;

            // Durable ingest in batches, on a fresh node.
            let node = Node::start(config("batch")).await?;
            let clients = connect(node.grpc_addr()).await?;
            submit_in_order(&clients[0], &setup.entries).await?;
            let start = Instant::now();
            let lat = submit_all(&clients, &work, 500).await?;
            let rate = work.len() as f64 / start.elapsed().as_secs_f64();
            eprintln!(
                "SubmitBatch writer (commits, entries, stage ms, apply ms, flush ms): {:?} in {:?}",
                node.ledger().timings(),
                start.elapsed()
            );
            rows.push(Row {
                name: "durable ingest, SubmitBatch (500 per call)".into(),
                value: rate,
                unit: "entries/s",
                baseline: Some(("verify ceiling".into(), ceiling)),
                target: Some(0.60),
                extra: percentiles(lat),
            });
            let batch_bytes =
                node.ledger().store_bytes() as f64 / node.ledger().stats().log_size as f64;
            rows.push(Row {
                name: "on-disk bytes per entry (fjall, after flush)".into(),
                value: bytes.max(batch_bytes),
                unit: "bytes",
                baseline: Some((
                    "encoded entry".into(),
                    work.iter().map(|e| e.encode().len()).sum::<usize>() as f64 / work.len() as f64,
                )),
                target: None,
                extra: String::new(),
            });
            node.shutdown();
            node.join().await?;

            // What the transparency site costs ingest: the same batches with the site (and the
            // task that follows the log for it) turned off.
            let mut cfg = config("batch-no-site");
            cfg.transparency.enabled = false;
            let node = Node::start(cfg).await?;
            let clients = connect(node.grpc_addr()).await?;
            submit_in_order(&clients[0], &setup.entries).await?;
            let start = Instant::now();
            let lat = submit_all(&clients, &work, 500).await?;
            rows.push(Row {
                name: "SubmitBatch with the transparency site off".into(),
                value: work.len() as f64 / start.elapsed().as_secs_f64(),
                unit: "entries/s",
                baseline: Some(("SubmitBatch, site on (default)".into(), rate)),
                target: None,
                extra: percentiles(lat),
            });
            node.shutdown();
            node.join().await?;

            // The same durable ingest on the sled engine (the default before fjall).
            for (batch, label) in [
                (1usize, "Submit (64 callers)"),
                (500, "SubmitBatch (500 per call)"),
            ] {
                let mut cfg = config(if batch == 1 {
                    "sled-submit"
                } else {
                    "sled-batch"
                });
                cfg.store.engine = Some(consent_node::config::Engine::Sled);
                let node = Node::start(cfg).await?;
                let clients = connect(node.grpc_addr()).await?;
                submit_in_order(&clients[0], &setup.entries).await?;
                let start = Instant::now();
                let lat = submit_all(&clients, &work, batch).await?;
                let rate = work.len() as f64 / start.elapsed().as_secs_f64();
                rows.push(Row {
                    name: format!("durable ingest on sled, {label}"),
                    value: rate,
                    unit: "entries/s",
                    baseline: Some(("verify ceiling".into(), ceiling)),
                    target: Some(0.60),
                    extra: percentiles(lat),
                });
                if batch > 1 {
                    rows.push(Row {
                        name: "on-disk bytes per entry (sled, after flush)".into(),
                        value: node.ledger().store_bytes() as f64
                            / node.ledger().stats().log_size as f64,
                        unit: "bytes",
                        baseline: Some((
                            "encoded entry".into(),
                            work.iter().map(|e| e.encode().len()).sum::<usize>() as f64
                                / work.len() as f64,
                        )),
                        target: None,
                        extra: String::new(),
                    });
                }
                node.shutdown();
                node.join().await?;
            }

            // TLS against plain text: two more nodes, the same config but for `[tls]`.
            eprintln!("measuring TLS against plain text...");
            rows.extend(tls::rows(config("tls-vs-plain"), &setup, &work, phase).await?);
        }

        // Server CPU per answer, measured from outside the servers: the node as its own
        // process, then PostgreSQL's server processes, under the same loads.
        eprintln!("measuring server CPU per 1,000 answers...");
        let dir = temp.path().join("cpu");
        // Citizens the node has not seen, for its ingest phases (half by Submit, half by batches).
        let fresh = make_entries(&setup, work.len(), "cpu");
        let ingest = cpu::Ingest {
            entries: &fresh,
            ceiling,
        };
        // Last in the run: a failure here loses these rows only, not the table.
        match cpu::rows(
            &dir,
            &genesis,
            &setup,
            &work,
            ingest,
            postgres.as_deref(),
            phase,
        )
        .await
        {
            Ok(cpu_rows) => rows.extend(cpu_rows),
            Err(e) => eprintln!("server CPU rows skipped: {e:#}"),
        }
        anyhow::Ok(())
    })?;

    print_table(&rows);
    if let Some(path) = json {
        std::fs::write(&path, to_json(&rows))?;
        eprintln!("wrote {path}");
    }
    Ok(())
}

/// Entries/s through the ledger (verification and write path, batches of 500, no gRPC) on the
/// memory engine and on sled, and raw sled inserts/s with random keys.
async fn engines(setup: &fixtures::Scene, work: &[Entry]) -> anyhow::Result<(f64, f64, f64, f64)> {
    use consent_node::ledger::{Ledger, LedgerConfig};
    use consent_node::store::{KvStore, fjall::FjallStore, memory::MemoryStore, sled::SledStore};
    let registrars: std::collections::HashSet<_> = [setup.registrar.feed()].into_iter().collect();
    let dir = tempfile::tempdir()?;
    let mut rates = Vec::new();
    let engines: [Arc<dyn KvStore>; 3] = [
        Arc::new(MemoryStore::new()),
        Arc::new(SledStore::open(&dir.path().join("a"))?),
        Arc::new(FjallStore::open(&dir.path().join("f"))?),
    ];
    for store in engines {
        let (ledger, writer) =
            Ledger::open(store, registrars.clone(), "bench", LedgerConfig::default())?;
        ledger.submit(setup.entries.clone()).await?;
        let start = Instant::now();
        for chunk in work.chunks(500) {
            ledger.submit(chunk.to_vec()).await?;
        }
        rates.push(work.len() as f64 / start.elapsed().as_secs_f64());
        ledger.shutdown().await;
        drop(ledger);
        tokio::task::spawn_blocking(move || writer.join()).await?;
    }
    let raw = SledStore::open(&dir.path().join("b"))?;
    let n = 100_000u64;
    let start = Instant::now();
    for chunk in 0..n / 500 {
        let writes = (chunk * 500..(chunk + 1) * 500)
            .map(|i| {
                let mut k = vec![b'E'];
                k.extend_from_slice(blake3::hash(&i.to_le_bytes()).as_bytes());
                (k, Some(vec![7u8; 220]))
            })
            .collect();
        raw.apply(writes)?;
    }
    raw.flush()?;
    let inserts = n as f64 / start.elapsed().as_secs_f64();
    Ok((rates[0], rates[1], inserts, rates[2]))
}

/// Citizens with an inception and a grant each, in an order a node accepts.
fn make_entries(setup: &fixtures::Scene, n: usize, prefix: &str) -> Vec<Entry> {
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while out.len() < n {
        let (_, c0, g) =
            fixtures::citizen_granting(setup, &format!("{prefix}-{i}"), P::ServiceProvision);
        out.push(c0);
        out.push(g);
        i += 1;
    }
    out.truncate(n);
    out
}

fn verify_ceiling(entries: &[Entry], threads: usize) -> f64 {
    // Keys as the node would have them: every entry of a feed is signed by its inception key.
    let keys: std::collections::HashMap<_, _> = entries
        .iter()
        .filter_map(|e| e.key_in_body().map(|k| (e.feed, k)))
        .collect();
    let work: Vec<_> = entries
        .iter()
        .filter_map(|e| keys.get(&e.feed).map(|k| (e, *k)))
        .collect();
    let start = Instant::now();
    std::thread::scope(|s| {
        for chunk in work.chunks(work.len().div_ceil(threads)) {
            s.spawn(move || {
                for (e, k) in chunk {
                    assert!(e.verify(k));
                }
            });
        }
    });
    work.len() as f64 / start.elapsed().as_secs_f64()
}
