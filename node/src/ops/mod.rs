//! Operations: the node's operations HTTP listener — on loopback by default (`[metrics] listen`)
//! — serving `GET /metrics` and, beside it, the admin calls under `/admin/` ([`admin`]).
//!
//! `/metrics` is the registry of what the node counts ([`crate::metrics::Metrics`], handed here
//! by `node.rs`) followed by what is read at scrape time from the ledger, the p2p handle, the
//! store and the process (`gauges`). This module depends on the ledger and p2p; nothing but the
//! node handle depends on it.

pub(crate) mod admin;
pub use self::admin::TokenFileError;
mod gauges;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use self::gauges::Gauges;
pub use self::gauges::{HeapStats, report_heap_with, resident_bytes};
use crate::ledger::Ledger;
use crate::metrics::Metrics;
use crate::p2p::P2pHandle;

/// Connections open at once on the metrics and admin listener (more wait unaccepted), and how
/// long a client has to send its request's headers: see [`crate::http`].
pub const HTTP_LIMITS: crate::http::Limits = crate::http::Limits {
    max_connections: 32,
    header_read_timeout: std::time::Duration::from_secs(10),
};

/// Serves `GET /metrics` (and the admin calls, if `access` says who may make them) on
/// `listener` until `cancel`.
pub async fn serve(
    listener: TcpListener,
    ledger: Ledger,
    p2p: Option<P2pHandle>,
    metrics: Arc<Metrics>,
    access: Option<admin::Access>,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    use axum::http::header;
    use axum::routing::get;
    let gauges = Arc::new(Gauges::new());
    let admin = access.map(|access| admin::routes(p2p.clone(), access));
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let (ledger, p2p) = (ledger.clone(), p2p.clone());
            let (metrics, gauges) = (Arc::clone(&metrics), Arc::clone(&gauges));
            async move {
                let local = {
                    let (gauges, metrics) = (Arc::clone(&gauges), Arc::clone(&metrics));
                    tokio::task::spawn_blocking(move || gauges.read_local(&ledger, &metrics))
                };
                if let Err(e) = local.await {
                    tracing::warn!(error = %e, "metrics: reading the node's figures failed");
                }
                gauges.read_peers(p2p.as_ref()).await;
                (
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    render(&metrics, &gauges),
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

/// The text exposition: what the node counts, then the gauges as last read, then `# EOF`
/// (empty if encoding fails).
fn render(metrics: &Metrics, gauges: &Gauges) -> String {
    encode(metrics, gauges).unwrap_or_default()
}

fn encode(metrics: &Metrics, gauges: &Gauges) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    metrics.encode(&mut out)?;
    gauges.encode(&mut out)?;
    prometheus_client::encoding::text::encode_eof(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counters first, then the gauges, as when one registry held both (families without
    /// a value yet, such as `consent_memory_bytes` before a scrape, are left out by the encoder).
    #[test]
    fn the_exposition_keeps_its_names_and_order_and_ends_once() {
        let metrics = Metrics::default();
        metrics.entry("rejected", "BAD_SIGNATURE");
        metrics.decision(&consent_proto::pb::CheckResponse::default());
        let gauges = Gauges::new();
        let text = render(&metrics, &gauges);
        let names = [
            "# TYPE consent_entries counter",
            "# TYPE consent_checks counter",
            "# TYPE consent_check_duration_seconds histogram",
            "# TYPE consent_log_entries gauge",
            "# TYPE consent_log_durable_entries gauge",
            "# TYPE consent_feeds gauge",
            "# TYPE consent_frozen_feeds gauge",
            "# TYPE consent_pending_entries gauge",
            "# TYPE consent_store_bytes gauge",
            "# TYPE consent_peers gauge",
            "# TYPE consent_banned_peers gauge",
            "# TYPE consent_sync_lag_feeds gauge",
            "# TYPE consent_watch_subscribers gauge",
            "# TYPE consent_peer_contact_age_seconds gauge",
            "# TYPE consent_pending_evicted counter",
        ];
        let mut at = 0;
        for name in names {
            let found = text[at..].find(name).map(|i| at + i);
            assert!(found.is_some(), "{name} missing or out of order:\n{text}");
            at = found.unwrap_or(at);
        }
        assert!(
            text.contains("consent_entries_total{outcome=\"rejected\",reason=\"BAD_SIGNATURE\"} 1"),
            "{text}"
        );
        assert!(text.contains("consent_pending_evicted_total 0"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert_eq!(text.matches("# EOF").count(), 1, "{text}");
    }
}
