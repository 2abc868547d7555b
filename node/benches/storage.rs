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

#[path = "../tests/daemon/common/proc.rs"]
mod proc;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use consent_client::collector::Bearer;
use consent_proto::Entry;
use consent_proto::fixtures::{self, T0};
use consent_proto::ids::FeedId;
use consent_proto::pb;
use consent_proto::vocab::{Purpose as P, Role};
use tokio::runtime::Runtime;
use tonic::transport::Channel;

mod common;
#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/population.rs"]
mod population;
use common::{
    Row, at_most, connect, percentiles, print_table, submit_all, submit_in_order, to_json,
};
use daemon::{Daemon, start, stop};

/// Entries signed, then submitted, at a time: the most signed entries the bench holds.
const CHUNK: u64 = 100_000;

/// The ingest rate at a size is the rate of the last this many entries before it (or of the
/// whole step from the previous size, when shorter).
const WINDOW: u64 = 500_000;

/// Free disk asked for beyond the per-entry estimate (journals, compaction's new tables).
const DISK_SPARE: u64 = 1 << 30;

/// How long a restarted node may take to go idle before its memory is read anyway.
const IDLE_LIMIT: Duration = Duration::from_secs(300);

/// Restart targets, seconds (issue 23: at most 3 s at 10M entries).
const RESTART_TARGET: f64 = 3.0;

/// Free disk asked for per entry of the largest size: the store's measured footprint (605 B
/// per entry at 1M on fjall, 2,752 on sled) with some room.
fn disk_per_entry(engine: &str) -> u64 {
    if engine == "sled" { 3_000 } else { 700 }
}

fn rss_mib(pid: u32) -> f64 {
    proc::rss_kib(pid) as f64 / 1024.0
}

/// Clock ticks per second of `/proc`'s CPU times (`getconf CLK_TCK`; Linux's 100 if it will
/// not say).
fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|&t| t > 0.0)
        .unwrap_or(100.0)
}

/// CPU seconds process `pid` has spent so far, all its threads (utime + stime of
/// `/proc/<pid>/stat`); 0 when it cannot be read.
fn cpu_seconds(pid: u32, hz: f64) -> f64 {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // "pid (comm) state ...": comm may hold spaces; it ends at the last ')'.
    let Some(rest) = text.rfind(')').and_then(|i| text.get(i + 1..)) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // proc(5) numbers the fields from 1; `fields` starts at field 3 (state).
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field(14) + field(15)) as f64 / hz
}

/// Waits until `pid` is idle (at most 20 ms of CPU in half a second), at most [`IDLE_LIMIT`]:
/// how long that took, `None` if it did not go idle.
fn idle(pid: u32, hz: f64) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < IDLE_LIMIT {
        let before = cpu_seconds(pid, hz);
        std::thread::sleep(Duration::from_millis(500));
        if cpu_seconds(pid, hz) - before <= 0.020 {
            return Some(started.elapsed());
        }
    }
    None
}

/// Bytes free to this user on the filesystem holding `dir` (`df -Pk`), if `df` answers.
fn free_bytes(dir: &Path) -> Option<u64> {
    let out = Command::new("df").arg("-Pk").arg(dir).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let kib: u64 = text
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Refuses to start when the store of `largest` entries on `engine` would not fit under `dir`.
fn check_disk(dir: &Path, largest: u64, engine: &str) -> anyhow::Result<()> {
    let per = disk_per_entry(engine);
    let need = largest.saturating_mul(per).saturating_add(DISK_SPARE);
    let gb = |b: u64| b as f64 / 1e9;
    let Some(free) = free_bytes(dir) else {
        eprintln!(
            "cannot read the free space under {} (df): not checked; this run needs about {:.1} GB",
            dir.display(),
            gb(need)
        );
        return Ok(());
    };
    anyhow::ensure!(
        free >= need,
        "the storage bench needs about {:.1} GB free under {} for {largest} entries on {engine} \
         (~{per} B per entry, plus 1 GiB) and {:.1} GB are free: free some space, set TMPDIR to \
         a larger filesystem, or measure smaller --sizes",
        gb(need),
        dir.display(),
        gb(free)
    );
    Ok(())
}

/// On Ctrl-C: kills the node being measured (`running`: its pid, 0 for none) and removes the
/// bench's temp directory (a city-sized store is gigabytes), then exits.
async fn remove_on_interrupt(temp: PathBuf, running: Arc<AtomicU32>) {
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

/// Where the node under measurement keeps its files, and its engine.
struct NodeFiles {
    dir: PathBuf,
    genesis: PathBuf,
    engine: String,
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
fn boot(
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
fn kill(mut daemon: Daemon) -> anyhow::Result<()> {
    daemon.0.kill()?;
    daemon.0.wait()?;
    Ok(())
}

/// Answers per second and the latencies (µs) of the calls.
type Rate = (f64, Vec<u32>);

/// Unary Check then CheckBatch phases over `subjects` (every citizen stored) in a new collector
/// session: `((checks/s, latencies), (decisions/s, call latencies))`. `subjects` is shared with
/// the callers for the phases and handed back.
fn check_phases(
    runtime: &Runtime,
    clients: &[Channel],
    subjects: &mut Vec<FeedId>,
    setup: &fixtures::Scene,
    phase: Duration,
) -> anyhow::Result<(Rate, Rate)> {
    let shared = Arc::new(std::mem::take(subjects));
    let result = runtime.block_on(async {
        let collector = setup.collector.feed();
        let (token, _) = consent_client::collector::authenticate(
            clients[0].clone(),
            setup.collector.key(),
            collector,
        )
        .await?;
        let bearer = Bearer::new(&token)?;
        let checks = population::checks(clients, &shared, collector, &bearer, phase).await?;
        let batches = population::batches(clients, &shared, collector, &bearer, phase).await?;
        anyhow::Ok((checks, batches))
    });
    // Every caller has ended (a failed phase returns before the others are awaited: then copy).
    *subjects = Arc::try_unwrap(shared).unwrap_or_else(|still| still.as_ref().clone());
    result
}

/// The ingest from one size to the next.
#[derive(Default)]
struct Step {
    /// Entries and submit time of each chunk, in order.
    chunks: Vec<(u64, Duration)>,
    /// Time spent signing between chunks (not on the ingest clock).
    signing: Duration,
    /// The node's CPU seconds meanwhile: background work no ingest rate counts.
    node_cpu: f64,
}

impl Step {
    /// Entries/s over the whole step.
    fn rate(&self) -> f64 {
        let (mut n, mut t) = (0u64, Duration::ZERO);
        for (e, d) in &self.chunks {
            n += *e;
            t += *d;
        }
        n as f64 / t.as_secs_f64().max(1e-9)
    }

    /// `(entries, entries/s)` over the last chunks holding at least `window` entries (or all).
    fn last(&self, window: u64) -> (u64, f64) {
        let (mut n, mut t) = (0u64, Duration::ZERO);
        for (e, d) in self.chunks.iter().rev() {
            if n >= window {
                break;
            }
            n += *e;
            t += *d;
        }
        (n, n as f64 / t.as_secs_f64().max(1e-9))
    }

    /// What the step did off the ingest clock.
    fn off_clock(&self) -> String {
        format!(
            "off the clock: {:.0} s signing, node CPU meanwhile {:.1} s",
            self.signing.as_secs_f64(),
            self.node_cpu
        )
    }
}

/// Progress lines on stderr, about every tenth of the largest size.
struct Progress {
    total: u64,
    every: u64,
    next: u64,
    started: Instant,
    /// Entries and submit time since the last line.
    entries: u64,
    submitting: Duration,
    /// Signing time since the start.
    signing: Duration,
}

impl Progress {
    fn new(total: u64) -> Self {
        let every = (total / 10).max(1);
        Self {
            total,
            every,
            next: every,
            started: Instant::now(),
            entries: 0,
            submitting: Duration::ZERO,
            signing: Duration::ZERO,
        }
    }

    /// After a chunk of `n` entries signed in `signing` and submitted in `took`; the log now
    /// holds `held` entries.
    fn chunk(&mut self, held: u64, n: u64, signing: Duration, took: Duration) {
        self.entries += n;
        self.submitting += took;
        self.signing += signing;
        if held < self.next && held < self.total {
            return;
        }
        eprintln!(
            "{held} of {} entries ({:.0}%): {:.0} entries/s since the last line, {:.0} s elapsed \
             ({:.0} s of it signing)",
            self.total,
            held as f64 * 100.0 / self.total as f64,
            self.entries as f64 / self.submitting.as_secs_f64().max(1e-9),
            self.started.elapsed().as_secs_f64(),
            self.signing.as_secs_f64()
        );
        self.entries = 0;
        self.submitting = Duration::ZERO;
        self.next = (held / self.every + 1) * self.every;
    }
}

/// What was measured at one size.
struct Point {
    entries: u64,
    citizens: usize,
    bytes_per_entry: f64,
    raw_per_entry: f64,
    rss_loaded: f64,
    rss_restarted: f64,
    /// How long the restarted node took to go idle before its memory was read.
    idle_after: Option<Duration>,
    restart: Duration,
    restart_killed: Duration,
    ingest_rate: f64,
    /// `(entries, entries/s)` of the last [`WINDOW`] entries before the size.
    ingest_at: (u64, f64),
    off_clock: String,
    checks: f64,
    checks_latency: String,
    batches: f64,
    batches_latency: String,
}

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

/// The table: each size's rows, then the growth from the first size to the last.
fn rows(points: &[Point], engine: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    for p in points {
        let at = format!("at {}k entries ({engine})", p.entries / 1000);
        rows.push(Row {
            name: format!("on-disk bytes per entry {at}"),
            value: p.bytes_per_entry,
            unit: "B/entry",
            baseline: Some(("raw signed entry".into(), p.raw_per_entry)),
            target: at_most(3.0),
            extra: "after a clean stop".into(),
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
            extra: match p.idle_after {
                Some(t) => format!("idle {:.1} s after its first answer", t.as_secs_f64()),
                None => format!("not idle {} s after its first answer", IDLE_LIMIT.as_secs()),
            },
        });
        rows.push(Row {
            name: format!("restart after kill -9 {at}"),
            value: p.restart_killed.as_secs_f64(),
            unit: "s",
            baseline: None,
            target: at_most(RESTART_TARGET),
            extra: "SIGKILL right after ingest; spawn to first Status answer".into(),
        });
        rows.push(Row {
            name: format!("restart after a clean stop {at}"),
            value: p.restart.as_secs_f64(),
            unit: "s",
            baseline: None,
            target: at_most(RESTART_TARGET),
            extra: "SIGTERM; spawn to first Status answer".into(),
        });
        rows.push(Row {
            name: format!("SubmitBatch ingest up to {}k", p.entries / 1000),
            value: p.ingest_rate,
            unit: "entries/s",
            baseline: None,
            target: None,
            extra: p.off_clock.clone(),
        });
        rows.push(Row {
            name: format!(
                "SubmitBatch ingest, last {}k entries up to {}k",
                p.ingest_at.0 / 1000,
                p.entries / 1000
            ),
            value: p.ingest_at.1,
            unit: "entries/s",
            baseline: None,
            target: None,
            extra: String::new(),
        });
        rows.push(Row {
            name: format!("Check after restart {at}"),
            value: p.checks,
            unit: "checks/s",
            baseline: None,
            target: None,
            extra: format!(
                "{}; 64 callers, subjects uniform over {} citizens",
                p.checks_latency, p.citizens
            ),
        });
        rows.push(Row {
            name: format!("CheckBatch after restart {at}"),
            value: p.batches,
            unit: "decisions/s",
            baseline: None,
            target: None,
            extra: format!(
                "calls {}; {} checks per call, 4 callers, subjects uniform over {} citizens",
                p.batches_latency,
                population::BATCH,
                p.citizens
            ),
        });
    }
    if let (Some(first), Some(last)) = (points.first(), points.last())
        && points.len() > 1
    {
        let growth = |name: &str, a: f64, b: f64, unit: &'static str, target: Option<f64>| Row {
            name: format!(
                "growth {}k -> {}k: {name} ({engine})",
                first.entries / 1000,
                last.entries / 1000
            ),
            value: b,
            unit,
            baseline: Some((format!("at {}k", first.entries / 1000), a)),
            target,
            extra: String::new(),
        };
        rows.push(growth(
            "bytes per entry",
            first.bytes_per_entry,
            last.bytes_per_entry,
            "B/entry",
            None,
        ));
        rows.push(growth(
            "RSS after ingest",
            first.rss_loaded,
            last.rss_loaded,
            "MiB",
            None,
        ));
        rows.push(growth(
            "RSS after restart",
            first.rss_restarted,
            last.rss_restarted,
            "MiB",
            None,
        ));
        rows.push(growth(
            "restart time after kill -9",
            first.restart_killed.as_secs_f64(),
            last.restart_killed.as_secs_f64(),
            "s",
            None,
        ));
        rows.push(growth(
            "restart time",
            first.restart.as_secs_f64(),
            last.restart.as_secs_f64(),
            "s",
            None,
        ));
        rows.push(growth(
            "ingest rate",
            first.ingest_rate,
            last.ingest_rate,
            "entries/s",
            None,
        ));
        rows.push(growth(
            "ingest rate at the size (last entries)",
            first.ingest_at.1,
            last.ingest_at.1,
            "entries/s",
            Some(0.7),
        ));
        rows.push(growth(
            "Check rate",
            first.checks,
            last.checks,
            "checks/s",
            Some(0.8),
        ));
        rows.push(growth(
            "CheckBatch rate",
            first.batches,
            last.batches,
            "decisions/s",
            Some(0.8),
        ));
    }
    rows
}
