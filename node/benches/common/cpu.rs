//! Server CPU per 1,000 answers, the node against PostgreSQL (issue 23): the CPU time the
//! SERVER processes spent under the same load, read from outside them in `/proc/<pid>/stat`
//! (utime + stime: every thread of a process, running or ended) before and after each phase,
//! divided by the answers the load generator counted. The load generator's own CPU is not in
//! it, so the figure does not depend on how heavy the client is.
//!
//! - The node: the release `consentd` as its own process (`daemon.rs`; the in-process node of
//!   the other rows shares its process with the load generator), the same settings as the node
//!   of the Check row, the same grants PostgreSQL holds, a collector session, then unary Check
//!   (64 callers, 4 connections) and CheckBatch (1,000 per call, 4 callers), as in those rows.
//! - PostgreSQL: every process of the server: the postmaster (the parent of the backends named
//!   by `pg_backend_pid()` on the bench's connections) and every process it started (those
//!   backends, the checkpointer, the WAL writer, autovacuum...), sampled again at the end of the
//!   phase so a process started during it counts whole. The same lookups, one per query from
//!   64 callers over 4 connections (pipelined), and 1,000 per query (`= ANY`) from 4 callers.
//!
//! - Ingest, the node alone: the CPU `consentd` spends per 1,000 accepted entries (fresh
//!   citizens: an inception and a grant each), by unary Submit (64 callers) and by SubmitBatch
//!   (500 per call, 4 callers), beside the CPU of the signature checks alone (the ceiling row's
//!   rate on 2 threads, turned into CPU ms per 1,000 checks): the ratio says how many signature
//!   checks' worth of CPU the node spends to take one entry durably.
//!
//! Each server is left to go idle before its phases (compactions, the checkpoint after the
//! load). The times are in clock ticks (`getconf CLK_TCK`, 100 per second on Linux), truncated
//! per process: a few ticks per busy process per phase, about 1% of a 5-second phase.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use consent_client::collector::Bearer;
use consent_proto::Entry;
use consent_proto::fixtures;
use consent_proto::ids::FeedId;

use crate::common::{CALLERS, CONNECTIONS, Row, at_most, connect, submit_all, submit_in_order};

/// What the ingest phases submit, and the signature ceiling they are compared with.
pub struct Ingest<'a> {
    /// Entries the node has not seen, in an order it accepts (a citizen's inception before its
    /// grant); the first half is submitted one per call, the rest 500 per call.
    pub entries: &'a [Entry],
    /// Signature checks per second on 2 threads (the ceiling row).
    pub ceiling: f64,
}
use crate::load::{run_check_batches, run_checks};

/// Subjects per CheckBatch call and per `= ANY` query.
const BATCH: usize = 1000;

/// What `/proc/<pid>/stat` says of one process.
struct Stat {
    /// The executable's name (at most 15 bytes).
    comm: String,
    ppid: u32,
    /// Start time after boot, in ticks: with the pid it names the process (pids are reused).
    start: u64,
    /// User + system CPU of all its threads, in ticks.
    ticks: u64,
}

fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses; it ends at the last ')'.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // proc(5) numbers the fields from 1; `fields` starts at field 3 (state).
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    Some(Stat {
        comm,
        ppid: u32::try_from(field(4)?).ok()?,
        start: field(22)?,
        ticks: field(14)? + field(15)?,
    })
}

/// Clock ticks per second of `/proc`'s CPU times (`getconf CLK_TCK`; 100, Linux's value, if it
/// will not say). The bench forbids `unsafe`, so no `sysconf` call.
fn ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t: &u64| t > 0)
        .unwrap_or(100)
}

/// The CPU ticks of a set of processes at one moment, by (pid, start time).
struct Sample(HashMap<(u32, u64), u64>);

/// Samples the processes `pids` (those that no longer exist are left out).
fn sample(pids: &[u32]) -> Sample {
    Sample(
        pids.iter()
            .filter_map(|&pid| stat(pid).map(|s| ((pid, s.start), s.ticks)))
            .collect(),
    )
}

/// What a set of processes spent from one sample to the next.
struct Spent {
    ms: f64,
    /// Processes of the first sample gone from the second: they ended during the phase, and
    /// what they spent in it is lost (it moves to their parent's children's time).
    ended: usize,
}

/// CPU ms from `before` to `after` at `hz` ticks per second; a process only in `after` started
/// in between and counts whole.
fn spent(before: &Sample, after: &Sample, hz: u64) -> Spent {
    let ticks: u64 = after
        .0
        .iter()
        .map(|(k, t)| t.saturating_sub(before.0.get(k).copied().unwrap_or(0)))
        .sum();
    Spent {
        ms: ticks as f64 * 1000.0 / hz as f64,
        ended: before.0.keys().filter(|k| !after.0.contains_key(k)).count(),
    }
}

/// The processes whose parent is `parent`.
fn children(parent: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| stat(pid).is_some_and(|s| s.ppid == parent))
        .collect()
}

/// Every process of the PostgreSQL server whose backends are `backends`, when it runs on this
/// machine: the postmaster (their common parent) and every process it started. `None` when it
/// is not visible here (another host, another pid namespace: a pid that is not a `postgres`).
fn postgres_processes(backends: &[u32]) -> Option<Vec<u32>> {
    let mut postmaster = None;
    for &pid in backends {
        let s = stat(pid).filter(|s| s.comm == "postgres")?;
        if postmaster.replace(s.ppid).is_some_and(|p| p != s.ppid) {
            return None;
        }
    }
    let postmaster = postmaster?;
    if stat(postmaster).is_none_or(|s| s.comm != "postgres") {
        return None;
    }
    let mut pids = vec![postmaster];
    pids.extend(children(postmaster));
    backends.iter().all(|b| pids.contains(b)).then_some(pids)
}

/// Waits until the processes `pids()` names are idle together (at most 20 ms of CPU in half a
/// second), so background work left by loading (compactions, flushes, the checkpoint) does not
/// count as the phase's; gives up after 30 s, saying so.
async fn quiet(what: &str, pids: impl Fn() -> Vec<u32>, hz: u64) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        let before = sample(&pids());
        tokio::time::sleep(Duration::from_millis(500)).await;
        if spent(&before, &sample(&pids()), hz).ms <= 20.0 {
            return;
        }
    }
    eprintln!("{what} did not go idle within 30 s: its CPU figures include background work");
}

/// One phase's figures.
struct Phase {
    /// Answers the load generator counted.
    answers: usize,
    /// Answers per second, as the load generator saw them.
    rate: f64,
    /// Server CPU spent in the phase.
    cpu: Spent,
}

impl Phase {
    /// Server CPU ms per 1,000 answers.
    fn per_thousand(&self) -> f64 {
        self.cpu.ms * 1000.0 / self.answers.max(1) as f64
    }

    /// The load generator's figures, and a warning if some process ended in the phase.
    fn context(&self, answers: &str) -> String {
        let mut s = format!(
            "{} {answers} at {:.0}/s (load generator), server CPU {:.0} ms",
            self.answers, self.rate, self.cpu.ms
        );
        if self.cpu.ended > 0 {
            s += &format!(
                "; {} server processes ended in the phase, their last CPU not counted",
                self.cpu.ended
            );
        }
        s
    }
}

/// The rows "server CPU per 1,000 answers": the node's for unary Check and for CheckBatch, and
/// with `postgres` (a connection string) PostgreSQL's for the same lookups, each node row with
/// PostgreSQL's as its baseline and the target node/PostgreSQL <= 1.00. `dir` is a new data
/// directory for the node; `genesis` the network file of the bench's other nodes.
pub async fn rows(
    dir: &Path,
    genesis: &Path,
    setup: &fixtures::Scene,
    work: &[Entry],
    ingest: Ingest<'_>,
    postgres: Option<&str>,
    phase: Duration,
) -> anyhow::Result<Vec<Row>> {
    let hz = ticks_per_second();
    // The reader checked on a process that surely exists: this one.
    anyhow::ensure!(
        stat(std::process::id()).is_some_and(|s| s.ppid > 0),
        "cannot read /proc/<pid>/stat here: the server CPU rows need Linux's /proc"
    );
    let subjects: Vec<FeedId> = work.iter().filter(|e| e.seq == 0).map(|e| e.feed).collect();
    let batch = subjects.len().min(BATCH);
    let collector = setup.collector.feed();

    // The node as its own process, with the grants PostgreSQL holds.
    let (daemon, addr, _) = crate::daemon::start(dir, genesis, "fjall")?;
    let pid = daemon.0.id();
    let clients = connect(addr).await?;
    submit_in_order(&clients[0], &setup.entries).await?;
    submit_all(&clients, work, 500).await?;
    let (token, _) = consent_client::collector::authenticate(
        clients[0].clone(),
        setup.collector.key(),
        collector,
    )
    .await?;
    let bearer = Bearer::new(&token)?;
    quiet("consentd", || vec![pid], hz).await;
    let before = sample(&[pid]);
    let (rate, lat) = run_checks(
        &clients,
        &subjects,
        collector,
        &bearer,
        crate::Receipts::No,
        phase,
    )
    .await?;
    let node_checks = Phase {
        answers: lat.len(),
        rate,
        cpu: spent(&before, &sample(&[pid]), hz),
    };
    let before = sample(&[pid]);
    let (rate, lat) = run_check_batches(&clients, &subjects, collector, &bearer, phase).await?;
    let node_batches = Phase {
        answers: lat.len() * batch,
        rate,
        cpu: spent(&before, &sample(&[pid]), hz),
    };
    // Ingest: whole citizens per half (a citizen's two entries stay on one side).
    let half = ingest.entries.len() / 4 * 2;
    let (unary, batched) = ingest.entries.split_at(half);
    let mut ingested = Vec::new();
    for (entries, batch) in [(unary, 1), (batched, 500)] {
        quiet("consentd", || vec![pid], hz).await;
        let before = sample(&[pid]);
        let started = Instant::now();
        submit_all(&clients, entries, batch).await?;
        let elapsed = started.elapsed().as_secs_f64();
        ingested.push(Phase {
            answers: entries.len(),
            rate: entries.len() as f64 / elapsed,
            cpu: spent(&before, &sample(&[pid]), hz),
        });
    }
    drop(clients);
    crate::daemon::stop(daemon)?;

    // PostgreSQL, alone on the machine with the same load generator.
    let mut pg = None;
    if let Some(conninfo) = postgres {
        let pool = crate::postgres::Pool::open(conninfo, work, collector).await?;
        let processes = || postgres_processes(pool.backends()).unwrap_or_default();
        if processes().is_empty() {
            eprintln!(
                "PostgreSQL's processes are not visible from here (another host or pid \
                 namespace?): its CPU rows are skipped"
            );
        } else {
            quiet("PostgreSQL", &processes, hz).await;
            let before = sample(&processes());
            let (rate, lat) = pool.checks(&subjects, collector, phase).await?;
            let lookups = Phase {
                answers: lat.len(),
                rate,
                cpu: spent(&before, &sample(&processes()), hz),
            };
            let before = sample(&processes());
            let (rate, lat) = pool.batches(&subjects, collector, phase).await?;
            let batches = Phase {
                answers: lat.len() * batch,
                rate,
                cpu: spent(&before, &sample(&processes()), hz),
            };
            pg = Some((lookups, batches, processes().len()));
        }
    }

    let mut rows = Vec::new();
    let unit = "CPU ms/1k";
    // CPU ms per 1,000 signature checks: two threads check `ceiling` a second.
    let verify_ms = 2.0 * 1e6 / ingest.ceiling.max(1.0);
    for (phase, what) in ingested.iter().zip([
        format!("Submit ({CALLERS} callers)"),
        String::from("SubmitBatch (500 per call, 4 callers)"),
    ]) {
        rows.push(Row {
            name: format!("node CPU per 1,000 entries ingested, {what}"),
            value: phase.per_thousand(),
            unit,
            baseline: Some((String::from("1,000 signature checks"), verify_ms)),
            target: None,
            extra: phase.context("entries"),
        });
    }
    if let Some((lookups, _, processes)) = &pg {
        rows.push(Row {
            name: format!(
                "PostgreSQL server CPU per 1,000 lookups ({CALLERS} callers, {CONNECTIONS} connections)"
            ),
            value: lookups.per_thousand(),
            unit,
            baseline: None,
            target: None,
            extra: format!("{}; {processes} processes", lookups.context("lookups")),
        });
    }
    rows.push(Row {
        name: format!(
            "node CPU per 1,000 Checks (consentd, {CALLERS} callers, {CONNECTIONS} connections)"
        ),
        value: node_checks.per_thousand(),
        unit,
        baseline: pg.as_ref().map(|(l, _, _)| {
            (
                String::from("PostgreSQL per 1,000 lookups"),
                l.per_thousand(),
            )
        }),
        target: pg.as_ref().and(at_most(1.0)),
        extra: node_checks.context("checks"),
    });
    if let Some((_, batches, processes)) = &pg {
        rows.push(Row {
            name: format!(
                "PostgreSQL server CPU per 1,000 lookups, {BATCH} per query (= ANY, 4 callers)"
            ),
            value: batches.per_thousand(),
            unit,
            baseline: None,
            target: None,
            extra: format!("{}; {processes} processes", batches.context("lookups")),
        });
    }
    rows.push(Row {
        name: format!("node CPU per 1,000 decisions, CheckBatch ({BATCH} per call, 4 callers)"),
        value: node_batches.per_thousand(),
        unit,
        baseline: pg
            .as_ref()
            .map(|(_, b, _)| (String::from("PostgreSQL, = ANY queries"), b.per_thousand())),
        target: pg.as_ref().and(at_most(1.0)),
        extra: node_batches.context("decisions"),
    });
    Ok(rows)
}
