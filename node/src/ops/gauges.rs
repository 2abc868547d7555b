//! What `/metrics` reads at scrape time: the ledger's counters (log size, feeds, pending, pending
//! entries evicted), the store's size on disk, the peers from the p2p handle, the open watch
//! streams, when a peer was last heard from, and memory: the process, the allocator's heap, the
//! engine's caches, the ledger's caches. Registered in a registry of their own, encoded after [`Metrics`]'s.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::ledger::Ledger;
use crate::metrics::Metrics;
use crate::p2p::P2pHandle;

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

/// The values read when scraped, and the registry they are encoded from.
#[derive(Default)]
pub(super) struct Gauges {
    registry: Registry,
    log_size: Gauge,
    durable_size: Gauge,
    feeds: Gauge,
    frozen: Gauge,
    pending: Gauge,
    /// `consent_pending_evicted_total`: the ledger's count, brought up to date at each scrape.
    pending_evicted: Counter,
    /// The ledger's count as of the last scrape that raised `pending_evicted`.
    evicted_seen: AtomicU64,
    store_bytes: Gauge,
    peers: Gauge,
    banned_peers: Gauge,
    lag_feeds: Gauge,
    peer_contact_age_seconds: Gauge<f64, AtomicU64>,
    watch_subscribers: Gauge,
    memory: Family<PartLabels, Gauge>,
    cached: Family<CacheLabels, Gauge>,
}

impl Gauges {
    /// The gauges, registered under the names `/metrics` shows (prefix `consent_`).
    pub(super) fn new() -> Self {
        let mut g = Gauges {
            registry: Registry::with_prefix("consent"),
            ..Gauges::default()
        };
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
            g.registry.register(name, help, gauge.clone());
        }
        g.registry.register(
            "peer_contact_age_seconds",
            "Seconds since the node last heard from any peer (-1: never)",
            g.peer_contact_age_seconds.clone(),
        );
        g.registry.register(
            "pending_evicted",
            "Pending entries dropped to make room for others (the source holding the most gives \
             way, its unverifiable entries first) since the node started",
            g.pending_evicted.clone(),
        );
        g.registry.register(
            "memory_bytes",
            "Memory by part: process_resident (RSS); heap_allocated, heap_resident, heap_metadata \
             (the allocator's figures, where it reports them); store_block_cache, \
             store_write_buffers (the storage engine's, where it reports them)",
            g.memory.clone(),
        );
        g.registry.register(
            "cached_items",
            "Items in the node's bounded caches: decision_pairs (subject-collector pairs), \
             proof_blocks (Merkle tree blocks read back for proofs)",
            g.cached.clone(),
        );
        g
    }

    /// Reads the node's own scrape-time values now (the open watch streams from `metrics`):
    /// counters, the store's size on disk, memory. Blocking (the engine's size and /proc are
    /// file-system reads): call it on a blocking thread.
    pub(super) fn read_local(&self, ledger: &Ledger, metrics: &Metrics) {
        let stats = ledger.counters();
        let load = |a: &AtomicU64| i64::try_from(a.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        self.log_size.set(load(&stats.log_size));
        self.durable_size.set(load(&stats.durable_size));
        self.feeds.set(load(&stats.feeds));
        self.frozen.set(load(&stats.frozen));
        self.pending.set(load(&stats.pending));
        // A counter only goes up: add what the ledger counted since the last scrape (the one
        // scrape that raises `evicted_seen` adds the difference, so concurrent scrapes add it once).
        let evicted = stats.pending_evicted.load(Ordering::Relaxed);
        let seen = self.evicted_seen.fetch_max(evicted, Ordering::Relaxed);
        if evicted > seen {
            self.pending_evicted.inc_by(evicted - seen);
        }
        self.store_bytes
            .set(i64::try_from(ledger.store_bytes()).unwrap_or(i64::MAX));
        self.watch_subscribers.set(metrics.watch_subscribers());
        let contact = stats.peer_contact_ms.load(Ordering::Relaxed);
        self.peer_contact_age_seconds.set(if contact == 0 {
            -1.0
        } else {
            ledger.now_ms().saturating_sub(contact) as f64 / 1000.0
        });
        self.read_memory(ledger);
    }

    /// Reads the peers' figures from the p2p task.
    pub(super) async fn read_peers(&self, p2p: Option<&P2pHandle>) {
        if let Some(p2p) = p2p {
            let status = p2p.status().await;
            self.peers.set(status.peers.len() as i64);
            self.banned_peers.set(status.banned as i64);
            self.lag_feeds
                .set(status.peers.iter().map(|p| p.lag_feeds as i64).sum());
        }
    }

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

    /// Writes the gauges in the text exposition, without the closing `# EOF`.
    pub(super) fn encode(&self, out: &mut String) -> std::fmt::Result {
        prometheus_client::encoding::text::encode_registry(out, &self.registry)
    }
}
