//! Prometheus metrics: what the node counts as it works (entries by outcome and rejection
//! reason, checks by decision and reason, check latency) and what it reads at scrape time
//! (log size, feeds, pending, store size, peers, sync lag, watch subscribers, and memory: the
//! process, the allocator's heap, the engine's caches, the ledger's caches), and the small
//! HTTP server that serves them at `/metrics` — on loopback by default (`[metrics] listen`) —
//! with the admin calls ([`crate::admin`]) beside them.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use consent_proto::pb;
use std::sync::OnceLock;

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::ledger::Ledger;
use crate::p2p::P2pHandle;

/// Labels of `consent_entries_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EntryLabels {
    outcome: &'static str,
    reason: &'static str,
}

/// Labels of `consent_checks_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    decision: &'static str,
    reason: &'static str,
}

/// Labels of `consent_memory_bytes`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartLabels {
    part: &'static str,
}

/// Labels of `consent_cached_items`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
}

/// What the process allocator reports of its heap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes in live allocations.
    pub allocated: u64,
    /// Bytes of the allocator's pages in memory: live allocations, freed memory not yet returned
    /// to the system, and its own metadata.
    pub resident: u64,
    /// Bytes of the allocator's own metadata.
    pub metadata: u64,
}

/// How to ask the process allocator, set by the binary that chose it.
static HEAP_PROBE: OnceLock<fn() -> Option<HeapStats>> = OnceLock::new();

/// Makes `/metrics` report the heap through `probe` (the binary that sets the global allocator
/// knows how to ask it; the library does not). The first call wins.
pub fn report_heap_with(probe: fn() -> Option<HeapStats>) {
    let _ = HEAP_PROBE.set(probe);
}

/// The resident set of process `pid`, from `/proc/<pid>/status` (Linux; `None` elsewhere). The
/// soak test and the storage bench read a node's this way from outside.
pub fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Upper bounds of the check latency buckets: 50 µs doubling to ~0.4 s.
const LATENCY_BUCKETS: usize = 14;
const FIRST_BOUND_NS: u64 = 50_000;

/// A latency histogram kept with atomics only: the check path takes no lock (the library's
/// histogram takes a mutex per observation, which cost a tenth of Check's throughput here).
#[derive(Debug, Default)]
struct Latency {
    /// Per bucket (not cumulative), the last one unbounded.
    buckets: [AtomicU64; LATENCY_BUCKETS + 1],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Latency {
    fn observe(&self, ns: u64) {
        let mut bound = FIRST_BOUND_NS;
        let mut i = 0;
        while i < LATENCY_BUCKETS && ns > bound {
            bound *= 2;
            i += 1;
        }
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }
}

/// The registered handle of a [`Latency`].
#[derive(Debug, Clone, Default)]
struct LatencyMetric(Arc<Latency>);

impl EncodeMetric for LatencyMetric {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let l = &self.0;
        let mut buckets = Vec::with_capacity(LATENCY_BUCKETS + 1);
        let mut bound = FIRST_BOUND_NS;
        for (i, b) in l.buckets.iter().enumerate() {
            let upper = if i < LATENCY_BUCKETS {
                bound as f64 / 1e9
            } else {
                f64::INFINITY
            };
            buckets.push((upper, b.load(Ordering::Relaxed)));
            bound *= 2;
        }
        encoder.encode_histogram::<NoLabelSet>(
            l.sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
            l.count.load(Ordering::Relaxed),
            &buckets,
            None,
        )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// Decision and reason values (proto enums) with a counter handle kept after first use.
const DECISIONS: usize = 4;
const REASONS: usize = 32;

/// Values read when scraped.
#[derive(Default)]
struct Gauges {
    log_size: Gauge,
    durable_size: Gauge,
    feeds: Gauge,
    frozen: Gauge,
    pending: Gauge,
    store_bytes: Gauge,
    peers: Gauge,
    banned_peers: Gauge,
    lag_feeds: Gauge,
    peer_contact_age_seconds: Gauge<f64, AtomicU64>,
    watch_subscribers: Gauge,
}

/// The node's metrics. One per node, shared by the writer, the API and the HTTP server.
pub struct Metrics {
    registry: Registry,
    entries: Family<EntryLabels, Counter>,
    checks: Family<CheckLabels, Counter>,
    /// `checks` children by (decision, reason), so a check increments an atomic and nothing
    /// else.
    check_counters: Vec<OnceLock<Counter>>,
    check_seconds: LatencyMetric,
    gauges: Gauges,
    memory: Family<PartLabels, Gauge>,
    cached: Family<CacheLabels, Gauge>,
    watchers: Arc<AtomicI64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("consent");
        let entries = Family::<EntryLabels, Counter>::default();
        registry.register(
            "entries",
            "Entries the writer processed, by outcome (accepted, duplicate, pending, rejected, equivocation, pending_full) and rejection reason",
            entries.clone(),
        );
        let checks = Family::<CheckLabels, Counter>::default();
        registry.register(
            "checks",
            "Consent checks answered (Check and each CheckBatch item), by decision and reason",
            checks.clone(),
        );
        let check_seconds = LatencyMetric::default();
        registry.register(
            "check_duration_seconds",
            "Time to decide one Check call (after authentication, before the reply is sent)",
            check_seconds.clone(),
        );
        let gauges = Gauges::default();
        let g = &gauges;
        for (name, help, gauge) in [
            (
                "log_entries",
                "Entries in the arrival log as checks see it",
                &g.log_size,
            ),
            (
                "log_durable_entries",
                "Entries in the arrival log known to be on disk",
                &g.durable_size,
            ),
            ("feeds", "Feeds known", &g.feeds),
            (
                "frozen_feeds",
                "Feeds frozen after an equivocation",
                &g.frozen,
            ),
            (
                "pending_entries",
                "Entries held until a predecessor or reference arrives",
                &g.pending,
            ),
            (
                "store_bytes",
                "Bytes the store occupies on disk",
                &g.store_bytes,
            ),
            ("peers", "Peers connected now", &g.peers),
            (
                "banned_peers",
                "Peers banned now for misbehaving",
                &g.banned_peers,
            ),
            (
                "sync_lag_feeds",
                "Feeds in which connected peers were found ahead at their last anti-entropy round (sum)",
                &g.lag_feeds,
            ),
            (
                "watch_subscribers",
                "Open collector watch streams",
                &g.watch_subscribers,
            ),
        ] {
            registry.register(name, help, gauge.clone());
        }
        registry.register(
            "peer_contact_age_seconds",
            "Seconds since the node last heard from any peer (-1: never)",
            gauges.peer_contact_age_seconds.clone(),
        );
        let memory = Family::<PartLabels, Gauge>::default();
        registry.register(
            "memory_bytes",
            "Memory by part: process_resident (RSS); heap_allocated, heap_resident, heap_metadata \
             (the allocator's figures, where it reports them); store_block_cache, \
             store_write_buffers (the storage engine's, where it reports them)",
            memory.clone(),
        );
        let cached = Family::<CacheLabels, Gauge>::default();
        registry.register(
            "cached_items",
            "Items in the node's bounded caches: decision_pairs (subject-collector pairs), \
             proof_blocks (Merkle tree blocks read back for proofs)",
            cached.clone(),
        );
        Self {
            registry,
            entries,
            checks,
            check_counters: (0..DECISIONS * REASONS).map(|_| OnceLock::new()).collect(),
            check_seconds,
            gauges,
            memory,
            cached,
            watchers: Arc::new(AtomicI64::new(0)),
        }
    }
}

impl Metrics {
    /// Counts what the writer did with one entry: its `outcome` (`accepted`, `duplicate`,
    /// `pending`, `rejected`, `equivocation`, `pending_full`) and, for a rejection, the
    /// `reason` code (empty otherwise).
    pub fn entry(&self, outcome: &'static str, reason: &'static str) {
        self.entries
            .get_or_create(&EntryLabels { outcome, reason })
            .inc();
    }

    /// Counts one decision.
    pub fn decision(&self, answer: &pb::CheckResponse) {
        let labels = || CheckLabels {
            decision: short(answer.decision().as_str_name(), "DECISION_"),
            reason: short(answer.reason().as_str_name(), "REASON_"),
        };
        let (d, r) = (answer.decision() as usize, answer.reason() as usize);
        match self.check_counters.get(d * REASONS + r) {
            Some(slot) if d < DECISIONS && r < REASONS => {
                slot.get_or_init(|| self.checks.get_or_create(&labels()).clone())
                    .inc();
            }
            _ => {
                self.checks.get_or_create(&labels()).inc();
            }
        }
    }

    /// Records how long one Check took.
    pub fn check_time(&self, elapsed: std::time::Duration) {
        self.check_seconds
            .0
            .observe(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
    }

    /// A guard that counts one open watch stream while it lives.
    pub fn watcher(&self) -> WatchGuard {
        self.watchers.fetch_add(1, Ordering::Relaxed);
        WatchGuard(Arc::clone(&self.watchers))
    }

    /// The text exposition, with the scrape-time values read now.
    pub async fn render(&self, ledger: &Ledger, p2p: Option<&P2pHandle>) -> String {
        let stats = ledger.counters();
        let g = &self.gauges;
        let load = |a: &AtomicU64| i64::try_from(a.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        g.log_size.set(load(&stats.log_size));
        g.durable_size.set(load(&stats.durable_size));
        g.feeds.set(load(&stats.feeds));
        g.frozen.set(load(&stats.frozen));
        g.pending.set(load(&stats.pending));
        g.store_bytes
            .set(i64::try_from(ledger.store_bytes()).unwrap_or(i64::MAX));
        g.watch_subscribers
            .set(self.watchers.load(Ordering::Relaxed));
        let contact = stats.peer_contact_ms.load(Ordering::Relaxed);
        g.peer_contact_age_seconds.set(if contact == 0 {
            -1.0
        } else {
            crate::ledger::now_ms().saturating_sub(contact) as f64 / 1000.0
        });
        self.read_memory(ledger);
        if let Some(p2p) = p2p {
            let status = p2p.status().await;
            g.peers.set(status.peers.len() as i64);
            g.banned_peers.set(status.banned as i64);
            g.lag_feeds
                .set(status.peers.iter().map(|p| p.lag_feeds as i64).sum());
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Metrics {
    /// Sets the memory gauges from what the process, the allocator, the engine and the ledger
    /// report now; a part nobody reports is left out rather than shown as 0.
    fn read_memory(&self, ledger: &Ledger) {
        let bytes = |part: &'static str, value: u64| {
            self.memory
                .get_or_create(&PartLabels { part })
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        };
        if let Some(rss) = resident_bytes(std::process::id()) {
            bytes("process_resident", rss);
        }
        if let Some(heap) = HEAP_PROBE.get().and_then(|probe| probe()) {
            bytes("heap_allocated", heap.allocated);
            bytes("heap_resident", heap.resident);
            bytes("heap_metadata", heap.metadata);
        }
        let ledger_memory = ledger.memory();
        if let Some(store) = ledger_memory.store {
            bytes("store_block_cache", store.block_cache);
            bytes("store_write_buffers", store.write_buffers);
        }
        let items = |cache: &'static str, value: usize| {
            self.cached
                .get_or_create(&CacheLabels { cache })
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        };
        items("decision_pairs", ledger_memory.decision_pairs);
        items("proof_blocks", ledger_memory.proof_blocks);
    }
}

/// "DECISION_ALLOW" -> "ALLOW", without allocating.
fn short(name: &'static str, prefix: &str) -> &'static str {
    name.strip_prefix(prefix).unwrap_or(name)
}

/// Counts an open watch stream until dropped.
pub struct WatchGuard(Arc<AtomicI64>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves `GET /metrics` (and the admin calls, if given) on `listener` until `cancel`.
pub async fn serve(
    listener: TcpListener,
    ledger: Ledger,
    p2p: Option<P2pHandle>,
    admin: Option<axum::Router>,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    use axum::http::header;
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let (ledger, p2p) = (ledger.clone(), p2p.clone());
            async move {
                let text = ledger.metrics().render(&ledger, p2p.as_ref()).await;
                (
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    text,
                )
            }
        }),
    );
    let app = match admin {
        Some(admin) => app.merge(admin),
        None => app,
    };
    crate::http::serve(listener, app, HTTP_LIMITS, cancel).await
}

/// Connections open at once on the metrics and admin listener (more wait unaccepted), and how
/// long a client has to send its request's headers: see [`crate::http`].
pub const HTTP_LIMITS: crate::http::Limits = crate::http::Limits {
    max_connections: 32,
    header_read_timeout: std::time::Duration::from_secs(10),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_land_in_their_buckets_and_encode_cumulatively() {
        let m = Metrics::default();
        for us in [10u64, 50, 60, 1_000, 10_000_000] {
            m.check_time(std::time::Duration::from_micros(us));
        }
        let b: Vec<u64> = m
            .check_seconds
            .0
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        // <= 50 µs: 10 and 50; <= 100 µs: 60; <= 1.6 ms: 1 ms; beyond 0.41 s: 10 s.
        assert_eq!((b[0], b[1], b[5], b[LATENCY_BUCKETS]), (2, 1, 1, 1));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &m.registry).expect("encodes");
        assert!(
            text.contains("consent_check_duration_seconds_count 5"),
            "{text}"
        );
        assert!(
            text.contains("consent_check_duration_seconds_bucket{le=\"+Inf\"} 5"),
            "{text}"
        );
    }
}
