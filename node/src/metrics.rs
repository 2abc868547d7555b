//! Prometheus metrics: the registry of what the node counts as it works (entries by outcome and
//! rejection reason, checks by decision and reason, check latency, open watch streams, peers
//! refused for speaking another network or protocol version). A leaf:
//! it knows nothing of the node's parts. One [`Metrics`] is created at start-up and handed to
//! what records into it (the ledger's writer, the API); callers turn their own types into the
//! plain values recorded here. What is read at scrape time (log size, peers, memory...) and the
//! `/metrics` listener belong to the operations module, which renders this registry with its own.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use consent_proto::pb;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Labels of `consent_entries_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EntryLabels {
    outcome: &'static str,
    reason: &'static str,
}

/// Labels of `consent_peers_refused_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerRefusedLabels {
    reason: &'static str,
}

/// Labels of `consent_checks_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    decision: &'static str,
    reason: &'static str,
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

/// The node's metrics. One per node, shared by the writer, the API and the operations listener.
pub struct Metrics {
    registry: Registry,
    entries: Family<EntryLabels, Counter>,
    checks: Family<CheckLabels, Counter>,
    /// `checks` children by (decision, reason), so a check increments an atomic and nothing
    /// else.
    check_counters: Vec<OnceLock<Counter>>,
    check_seconds: LatencyMetric,
    watchers: Arc<AtomicI64>,
    peers_refused: Family<PeerRefusedLabels, Counter>,
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
        let peers_refused = Family::<PeerRefusedLabels, Counter>::default();
        registry.register(
            "peers_refused",
            "Peers disconnected because this node cannot speak with them, by reason (other-network, other-version, no-common-sync)",
            peers_refused.clone(),
        );
        Self {
            registry,
            entries,
            checks,
            check_counters: (0..DECISIONS * REASONS).map(|_| OnceLock::new()).collect(),
            check_seconds,
            watchers: Arc::new(AtomicI64::new(0)),
            peers_refused,
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

    /// Counts a peer disconnected because this node cannot speak with it, by `reason`.
    pub fn peer_refused(&self, reason: &'static str) {
        self.peers_refused
            .get_or_create(&PeerRefusedLabels { reason })
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

    /// Watch streams open now.
    pub fn watch_subscribers(&self) -> i64 {
        self.watchers.load(Ordering::Relaxed)
    }

    /// Writes this registry's metrics in the text exposition, without the closing `# EOF` (the
    /// caller appends what it reads at scrape time, then the marker).
    pub fn encode(&self, out: &mut String) -> std::fmt::Result {
        prometheus_client::encoding::text::encode_registry(out, &self.registry)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_peers_are_counted_by_reason() {
        let m = Metrics::default();
        m.peer_refused("other-version");
        m.peer_refused("other-version");
        m.peer_refused("no-common-sync");
        let mut text = String::new();
        m.encode(&mut text).expect("encodes");
        assert!(
            text.contains("consent_peers_refused_total{reason=\"other-version\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("consent_peers_refused_total{reason=\"no-common-sync\"} 1"),
            "{text}"
        );
    }

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
