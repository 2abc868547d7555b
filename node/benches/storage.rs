//! `scripts/bench --only storage`: what the node costs as its log grows. Runs the real
//! `consentd` (release) as its own process, ingests signed citizens and grants through
//! SubmitBatch up to each size (default 100,000 and 1,000,000 entries), and at each size
//! measures on-disk bytes per entry (against the raw signed bytes: the baseline), the node's
//! resident memory under load and after a restart, and the restart time (the start-up check
//! and Merkle tree rebuild read the whole log). The last rows are the growth of each figure
//! from the first size to the last.
//!
//! Options: `--sizes 100000,1000000`, `--engine fjall|sled` (default fjall), `--json PATH`.

#[path = "../tests/daemon/common/proc.rs"]
mod proc;
use std::time::{Duration, Instant};

use consent_proto::Entry;
use consent_proto::fixtures::{self, T0};
use consent_proto::vocab::{Purpose as P, Role};

mod common;
#[path = "common/daemon.rs"]
mod daemon;
use common::{Row, connect, print_table, submit_all, submit_in_order, to_json};
use daemon::{start, stop};

fn rss_mib(pid: u32) -> f64 {
    proc::rss_kib(pid) as f64 / 1024.0
}

/// Citizens `from..to` with an inception and a grant each, signed on every core.
fn citizens(setup: &fixtures::Scene, from: usize, to: usize) -> Vec<Entry> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per = (to - from).div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let (lo, hi) = (from + t * per, (from + (t + 1) * per).min(to));
                    let mut out = Vec::with_capacity(2 * (hi.saturating_sub(lo)));
                    for i in lo..hi {
                        let (_, c0, g) = fixtures::citizen_granting(
                            setup,
                            &format!("storage-{i}"),
                            P::ServiceProvision,
                        );
                        out.push(c0);
                        out.push(g);
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

struct Point {
    entries: u64,
    bytes_per_entry: f64,
    raw_per_entry: f64,
    rss_loaded: f64,
    rss_restarted: f64,
    restart: Duration,
    ingest_rate: f64,
}

fn main() -> anyhow::Result<()> {
    let mut sizes = vec![100_000u64, 1_000_000];
    let mut json = None;
    let mut engine = "fjall".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--sizes" => {
                let v = args.next().unwrap_or_default();
                sizes = v.split(',').filter_map(|s| s.trim().parse().ok()).collect();
                anyhow::ensure!(!sizes.is_empty(), "--sizes wants e.g. 100000,1000000");
            }
            "--json" => json = args.next(),
            "--engine" => {
                engine = args.next().unwrap_or_default();
                anyhow::ensure!(
                    engine == "sled" || engine == "fjall",
                    "--engine wants sled or fjall"
                );
            }
            "--bench" => {}
            other => anyhow::bail!(
                "unknown option {other}; use --sizes A,B --engine sled|fjall --json PATH"
            ),
        }
    }
    sizes.sort_unstable();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let temp = tempfile::tempdir()?;
    let dir = temp.path().join("node");
    let genesis = temp.path().join("genesis.toml");
    let (registrar, _) = fixtures::author(Role::Registrar, "registrar", T0);
    let g = consent_node::genesis::Genesis {
        network_id: "bench".into(),
        registrars: vec![registrar.feed().typed(Role::Registrar).to_string()],
        bootstrap: vec![],
        nodes: vec![],
        members_only: false,
        names: Default::default(),
        consultation: None,
    };
    std::fs::write(&genesis, g.to_toml().map_err(anyhow::Error::msg)?)?;
    let setup = fixtures::scene(T0);

    let (mut daemon, mut addr, _) = start(&dir, &genesis, &engine)?;
    let mut held = setup.entries.len() as u64;
    let mut raw_bytes: u64 = setup
        .entries
        .iter()
        .map(|e| e.payload.len() as u64 + 64)
        .sum();
    runtime.block_on(async {
        let clients = connect(addr).await?;
        submit_in_order(&clients[0], &setup.entries).await
    })?;
    let mut points = Vec::new();
    for &size in &sizes {
        let mut ingest = Duration::ZERO;
        let mut ingested = 0u64;
        while held < size {
            // Chunks of at most 200,000 entries: signing is not measured.
            let n = (size - held).min(200_000);
            let first = (held / 2) as usize;
            let work = citizens(&setup, first, first + (n as usize).div_ceil(2));
            raw_bytes += work
                .iter()
                .map(|e| e.payload.len() as u64 + 64)
                .sum::<u64>();
            eprintln!("ingesting {} entries (log at {held})...", work.len());
            let t = Instant::now();
            runtime.block_on(async {
                let clients = connect(addr).await?;
                submit_all(&clients, &work, 500).await
            })?;
            ingest += t.elapsed();
            ingested += work.len() as u64;
            held += work.len() as u64;
        }
        let rss_loaded = rss_mib(daemon.0.id());
        stop(daemon)?;
        let bytes = proc::dir_bytes(&dir);
        let (d, a, restart) = start(&dir, &genesis, &engine)?;
        (daemon, addr) = (d, a);
        // Settle: let the restarted node reach its idle footprint.
        std::thread::sleep(Duration::from_secs(2));
        let point = Point {
            entries: held,
            bytes_per_entry: bytes as f64 / held as f64,
            raw_per_entry: raw_bytes as f64 / held as f64,
            rss_loaded,
            rss_restarted: rss_mib(daemon.0.id()),
            restart,
            ingest_rate: ingested as f64 / ingest.as_secs_f64().max(1e-9),
        };
        eprintln!(
            "{held} entries: {:.0} B/entry on disk, RSS {:.0} MiB loaded, {:.0} MiB after a {:.2} s restart",
            point.bytes_per_entry,
            point.rss_loaded,
            point.rss_restarted,
            restart.as_secs_f64()
        );
        points.push(point);
    }
    drop(daemon);

    let mut rows = Vec::new();
    for p in &points {
        let at = format!("at {}k entries ({engine})", p.entries / 1000);
        rows.push(Row {
            name: format!("on-disk bytes per entry {at}"),
            value: p.bytes_per_entry,
            unit: "B/entry",
            baseline: Some(("raw signed entry".into(), p.raw_per_entry)),
            target: None,
            extra: String::new(),
        });
        rows.push(Row {
            name: format!("node RSS after ingest {at}"),
            value: p.rss_loaded,
            unit: "MiB",
            baseline: Some((
                "raw log".into(),
                p.raw_per_entry * p.entries as f64 / 1048576.0,
            )),
            target: None,
            extra: String::new(),
        });
        rows.push(Row {
            name: format!("node RSS after restart {at}"),
            value: p.rss_restarted,
            unit: "MiB",
            baseline: None,
            target: None,
            extra: String::new(),
        });
        rows.push(Row {
            name: format!("restart (check + tree rebuild) {at}"),
            value: p.restart.as_secs_f64(),
            unit: "s",
            baseline: None,
            target: None,
            extra: String::new(),
        });
        rows.push(Row {
            name: format!("SubmitBatch ingest up to {}k", p.entries / 1000),
            value: p.ingest_rate,
            unit: "entries/s",
            baseline: None,
            target: None,
            extra: String::new(),
        });
    }
    if let (Some(first), Some(last)) = (points.first(), points.last())
        && points.len() > 1
    {
        let growth = |name: &str, a: f64, b: f64, unit: &'static str| Row {
            name: format!(
                "growth {}k -> {}k: {name} ({engine})",
                first.entries / 1000,
                last.entries / 1000
            ),
            value: b,
            unit,
            baseline: Some((format!("at {}k", first.entries / 1000), a)),
            target: None,
            extra: String::new(),
        };
        rows.push(growth(
            "bytes per entry",
            first.bytes_per_entry,
            last.bytes_per_entry,
            "B/entry",
        ));
        rows.push(growth(
            "RSS after ingest",
            first.rss_loaded,
            last.rss_loaded,
            "MiB",
        ));
        rows.push(growth(
            "RSS after restart",
            first.rss_restarted,
            last.rss_restarted,
            "MiB",
        ));
        rows.push(growth(
            "restart time",
            first.restart.as_secs_f64(),
            last.restart.as_secs_f64(),
            "s",
        ));
        rows.push(growth(
            "ingest rate",
            first.ingest_rate,
            last.ingest_rate,
            "entries/s",
        ));
    }
    print_table(&rows);
    if let Some(path) = json {
        std::fs::write(&path, to_json(&rows))?;
    }
    Ok(())
}
