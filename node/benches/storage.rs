//! `scripts/bench --only storage`: what the node costs as its log grows, up to a city-sized store
//! (issue 23: `--sizes 100000,1000000,10000000`; 10M entries is about a city of 3-5 million
//! residents with a few grants each). Runs the real `consentd` (release) as its own process and
//! grows one store through the sizes. Citizens (an inception and a grant each) are signed
//! 100,000 entries at a time on every core, off the clock (on 2 cores a signer running beside
//! the node would take the node's CPU), then submitted by SubmitBatch (500 per call, 4 callers):
//! the bench holds one chunk of signed entries at a time and, of the rest, only the citizens'
//! feed ids (32 bytes each). A line on stderr about every tenth of the way says the entries
//! stored, the ingest rate since the last line and the time elapsed. At each size:
//!
//! - ingest, entries/s: from the previous size (with the time spent signing between chunks and
//!   the node's CPU meanwhile: background work, such as compaction, that no rate counts), and
//!   over the last 500,000 entries before the size (the rate *at* that size);
//! - the node's resident memory right after ingest;
//! - restart after `kill -9` right after ingest (the store's start-up position is then up to
//!   65,536 entries behind the log: the start checks what came after it), then after a clean
//!   stop (SIGTERM: drain, flush, position saved): each from spawning `consentd` to its first
//!   answer to `Node.Status`; target at most 3 s;
//! - on-disk bytes per entry after the clean stop, against the raw signed bytes (the entries'
//!   payloads and signatures; target at most 3x);
//! - the node's resident memory after that restart, once it is idle (at most 20 ms of CPU in
//!   half a second, as the CPU rows wait for: background work after a start, such as the
//!   transparency register catching up with the log, is done by then);
//! - then, with the node's caches cold (the OS page cache is not emptied), unary Check (64
//!   callers) and CheckBatch (1,000 per call, 4 callers) in a collector session, `--seconds`
//!   each, of subjects drawn uniformly at random from every citizen stored
//!   (`common/population.rs`): checks/s and decisions/s.
//!
//! The last rows are the growth of each figure from the first size to the last, with the
//! issue's targets (last / first): ingest rate at the size >= 0.7, Check and CheckBatch >= 0.8.
//!
//! Disk: the store takes ~600 B per entry on fjall (~2,800 on sled), so the bench refuses to
//! start unless 700 B (3,000 on sled) per entry of the largest size, plus 1 GiB, are free under
//! its temp directory (`TMPDIR`); it removes the store once the last size is measured, on an
//! error, and on Ctrl-C (killing the node first).
//!
//! Options: `--sizes 100000,1000000` (the default), `--engine fjall|sled` (default fjall),
//! `--seconds S` (each check phase, default 5), `--json PATH`.
//!
//! Modules, one job each: `host` (the node's memory and CPU from `/proc`, the disk), `lifecycle`
//! (starting, crashing and stopping the node), `measure` (signing, ingest steps, check phases,
//! what a size measured), `table` (the rows).

#[path = "../tests/daemon/common/proc.rs"]
mod proc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use consent_proto::fixtures::{self, T0};
use consent_proto::ids::FeedId;
use consent_proto::vocab::Role;

mod common;
#[path = "common/daemon.rs"]
mod daemon;
#[path = "storage/host.rs"]
mod host;
#[path = "storage/lifecycle.rs"]
mod lifecycle;
#[path = "storage/measure.rs"]
mod measure;
#[path = "common/population.rs"]
mod population;
#[path = "storage/table.rs"]
mod table;
use common::{percentiles, print_table, submit_all, submit_in_order, to_json};
use daemon::stop;
use host::{IDLE_LIMIT, check_disk, cpu_seconds, idle, rss_mib, ticks_per_second};
use lifecycle::{NodeFiles, boot, kill, remove_on_interrupt};
use measure::{Point, Progress, Step, check_phases, citizens};
use table::rows;

/// Entries signed, then submitted, at a time: the most signed entries the bench holds.
const CHUNK: u64 = 100_000;

/// The ingest rate at a size is the rate of the last this many entries before it (or of the
/// whole step from the previous size, when shorter).
const WINDOW: u64 = 500_000;

struct Options {
    sizes: Vec<u64>,
    json: Option<String>,
    engine: String,
    phase: Duration,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        sizes: vec![100_000, 1_000_000],
        json: None,
        engine: "fjall".into(),
        phase: Duration::from_secs(5),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--sizes" => {
                let v = args.next().unwrap_or_default();
                o.sizes = v.split(',').filter_map(|s| s.trim().parse().ok()).collect();
                anyhow::ensure!(!o.sizes.is_empty(), "--sizes wants e.g. 100000,1000000");
            }
            "--json" => o.json = args.next(),
            "--engine" => {
                o.engine = args.next().unwrap_or_default();
                anyhow::ensure!(
                    o.engine == "sled" || o.engine == "fjall",
                    "--engine wants sled or fjall"
                );
            }
            "--seconds" => {
                let s: u64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(0);
                anyhow::ensure!(s > 0, "--seconds wants a whole number of seconds above 0");
                o.phase = Duration::from_secs(s);
            }
            "--bench" => {}
            other => anyhow::bail!(
                "unknown option {other}; use --sizes A,B --engine sled|fjall --seconds S \
                 --json PATH"
            ),
        }
    }
    o.sizes.sort_unstable();
    o.sizes.dedup();
    anyhow::ensure!(
        o.sizes[0] >= 1000,
        "--sizes: each size is at least 1000 entries"
    );
    Ok(o)
}

fn main() -> anyhow::Result<()> {
    let Options {
        sizes,
        json,
        engine,
        phase,
    } = options()?;
    let largest = *sizes.last().expect("--sizes is never empty");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let temp = tempfile::Builder::new()
        .prefix("consent-bench-storage-")
        .tempdir()?;
    check_disk(temp.path(), largest, &engine)?;
    let running = Arc::new(AtomicU32::new(0));
    runtime.spawn(remove_on_interrupt(
        temp.path().to_path_buf(),
        Arc::clone(&running),
    ));
    eprintln!(
        "store in {} (removed at the end, on an error and on Ctrl-C)",
        temp.path().display()
    );
    let files = NodeFiles {
        dir: temp.path().join("node"),
        genesis: temp.path().join("genesis.toml"),
        engine: engine.clone(),
    };
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
    std::fs::write(&files.genesis, g.to_toml().map_err(anyhow::Error::msg)?)?;
    let setup = fixtures::scene(T0);
    let hz = ticks_per_second();

    let (mut daemon, mut clients, _) = boot(&files, &runtime, &running)?;
    let mut held = setup.entries.len() as u64;
    let mut raw_bytes: u64 = setup
        .entries
        .iter()
        .map(|e| e.payload.len() as u64 + 64)
        .sum();
    runtime.block_on(submit_in_order(&clients[0], &setup.entries))?;
    // Every citizen's feed id: the subjects of the checks.
    let mut subjects: Vec<FeedId> = Vec::with_capacity((largest / 2) as usize);
    eprintln!(
        "signing and submitting up to {largest} entries, {CHUNK} at a time (signing is not timed)"
    );
    let mut progress = Progress::new(largest);
    let mut points = Vec::new();
    for &size in &sizes {
        let mut step = Step::default();
        while held < size {
            let n = (size - held).min(CHUNK);
            // Citizen i's entries are the log's 2i and 2i + 1 (the scene's are 0..4): no
            // label repeats.
            let first = (held / 2) as usize;
            let cpu = cpu_seconds(daemon.0.id(), hz);
            let t = Instant::now();
            let work = citizens(&setup, first, first + (n as usize).div_ceil(2));
            let signing = t.elapsed();
            step.signing += signing;
            step.node_cpu += cpu_seconds(daemon.0.id(), hz) - cpu;
            raw_bytes += work
                .iter()
                .map(|e| e.payload.len() as u64 + 64)
                .sum::<u64>();
            subjects.extend(work.iter().filter(|e| e.seq == 0).map(|e| e.feed));
            let t = Instant::now();
            runtime.block_on(submit_all(&clients, &work, 500))?;
            let took = t.elapsed();
            held += work.len() as u64;
            step.chunks.push((work.len() as u64, took));
            progress.chunk(held, work.len() as u64, signing, took);
        }
        let rss_loaded = rss_mib(daemon.0.id());
        // A crash right after ingest: the start-up position is up to 65,536 entries behind.
        drop(clients);
        running.store(0, Ordering::Relaxed);
        kill(daemon)?;
        let (d, c, restart_killed) = boot(&files, &runtime, &running)?;
        // A clean stop: drain, flush, start-up position saved.
        drop(c);
        running.store(0, Ordering::Relaxed);
        stop(d)?;
        let bytes = proc::dir_bytes(&files.dir);
        let (d, c, restart) = boot(&files, &runtime, &running)?;
        (daemon, clients) = (d, c);
        let idle_after = idle(daemon.0.id(), hz);
        if idle_after.is_none() {
            eprintln!(
                "the restarted node did not go idle within {} s: its memory is read anyway",
                IDLE_LIMIT.as_secs()
            );
        }
        let rss_restarted = rss_mib(daemon.0.id());
        eprintln!(
            "{held} entries: checking subjects drawn from {} citizens for {} s, then in batches...",
            subjects.len(),
            phase.as_secs()
        );
        let ((checks, check_lat), (batches, batch_lat)) =
            check_phases(&runtime, &clients, &mut subjects, &setup, phase)?;
        let point = Point {
            entries: held,
            citizens: subjects.len(),
            bytes_per_entry: bytes as f64 / held as f64,
            raw_per_entry: raw_bytes as f64 / held as f64,
            rss_loaded,
            rss_restarted,
            idle_after,
            restart,
            restart_killed,
            ingest_rate: step.rate(),
            ingest_at: step.last(WINDOW),
            off_clock: step.off_clock(),
            checks,
            checks_latency: percentiles(check_lat),
            batches,
            batches_latency: percentiles(batch_lat),
        };
        eprintln!(
            "{held} entries: {:.0} B/entry on disk, RSS {:.0} MiB loaded, {:.0} MiB after a \
             restart ({:.2} s; {:.2} s after kill -9), {:.0} checks/s, {:.0} decisions/s in \
             batches",
            point.bytes_per_entry,
            point.rss_loaded,
            point.rss_restarted,
            restart.as_secs_f64(),
            restart_killed.as_secs_f64(),
            point.checks,
            point.batches
        );
        points.push(point);
    }
    drop(clients);
    running.store(0, Ordering::Relaxed);
    stop(daemon)?;
    // The store is gigabytes at a city's size: gone before the tables are written.
    if let Err(e) = std::fs::remove_dir_all(&files.dir) {
        eprintln!("cannot remove {}: {e}", files.dir.display());
    }

    let rows = rows(&points, &engine);
    print_table(&rows);
    if let Some(path) = json {
        std::fs::write(&path, to_json(&rows))?;
    }
    Ok(())
}
