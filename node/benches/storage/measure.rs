//! What is measured, and how: citizens signed on every core, the ingest of each step between two
//! sizes ([`Step`]) and its progress on stderr ([`Progress`]), the Check and CheckBatch phases
//! ([`check_phases`]), and all that was measured at one size ([`Point`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use consent_client::collector::Bearer;
use consent_proto::Entry;
use consent_proto::fixtures;
use consent_proto::ids::FeedId;
use consent_proto::vocab::Purpose as P;
use tokio::runtime::Runtime;
use tonic::transport::Channel;

use crate::population;

/// Citizens `from..to` with an inception and a grant each, signed on every core.
pub fn citizens(setup: &fixtures::Scene, from: usize, to: usize) -> Vec<Entry> {
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

/// Answers per second and the latencies (µs) of the calls.
type Rate = (f64, Vec<u32>);

/// Unary Check then CheckBatch phases over `subjects` (every citizen stored) in a new collector
/// session: `((checks/s, latencies), (decisions/s, call latencies))`. `subjects` is shared with
/// the callers for the phases and handed back.
pub fn check_phases(
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
pub struct Step {
    /// Entries and submit time of each chunk, in order.
    pub chunks: Vec<(u64, Duration)>,
    /// Time spent signing between chunks (not on the ingest clock).
    pub signing: Duration,
    /// The node's CPU seconds meanwhile: background work no ingest rate counts.
    pub node_cpu: f64,
}

impl Step {
    /// Entries/s over the whole step.
    pub fn rate(&self) -> f64 {
        let (mut n, mut t) = (0u64, Duration::ZERO);
        for (e, d) in &self.chunks {
            n += *e;
            t += *d;
        }
        n as f64 / t.as_secs_f64().max(1e-9)
    }

    /// `(entries, entries/s)` over the last chunks holding at least `window` entries (or all).
    pub fn last(&self, window: u64) -> (u64, f64) {
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
    pub fn off_clock(&self) -> String {
        format!(
            "off the clock: {:.0} s signing, node CPU meanwhile {:.1} s",
            self.signing.as_secs_f64(),
            self.node_cpu
        )
    }
}

/// Progress lines on stderr, about every tenth of the largest size.
pub struct Progress {
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
    pub fn new(total: u64) -> Self {
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
    pub fn chunk(&mut self, held: u64, n: u64, signing: Duration, took: Duration) {
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
pub struct Point {
    pub entries: u64,
    pub citizens: usize,
    pub bytes_per_entry: f64,
    pub raw_per_entry: f64,
    pub rss_loaded: f64,
    pub rss_restarted: f64,
    /// How long the restarted node took to go idle before its memory was read.
    pub idle_after: Option<Duration>,
    pub restart: Duration,
    pub restart_killed: Duration,
    pub ingest_rate: f64,
    /// `(entries, entries/s)` of the last [`WINDOW`](crate::WINDOW) entries before the size.
    pub ingest_at: (u64, f64),
    pub off_clock: String,
    pub checks: f64,
    pub checks_latency: String,
    pub batches: f64,
    pub batches_latency: String,
}
