//! `GET /metrics` on a real node: Prometheus text with entries by outcome and rejection reason,
//! checks by decision and reason, the check latency histogram, log and store gauges, and open
//! watch streams; served on loopback by default.

use std::time::Duration;

use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, Purpose as P};
use consent_tests::eventually;
use consent_tests::harness::submit_ok;
use consent_tests::http::get;
use consent_tests::single::{check_request, setup};

/// The value of the sample whose line starts with `prefix` (name and labels).
fn value(body: &str, prefix: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_entries_checks_and_watchers() {
    let mut s = setup().await;
    let addr = std::fs::read_to_string(s.node.dir.join("metrics.addr")).expect("metrics.addr");
    let addr = addr.trim().to_string();
    assert!(
        addr.starts_with("127.0.0.1:"),
        "metrics on loopback by default: {addr}"
    );

    let grant = s.grant();
    submit_ok(&mut s.node.ledger().await, &grant).await;
    // A rejected entry: the same grant with a broken signature.
    let mut bad = grant.to_signed();
    let mut sig = bad.signature.to_vec();
    sig[0] ^= 1;
    bad.signature = sig.into();
    let _ = s
        .node
        .ledger()
        .await
        .submit(pb::SubmitRequest { entry: Some(bad) })
        .await;
    let mut consent = s
        .node
        .consent(&consent_tests::harness::scene_collector())
        .await;
    let allowed = check_request(
        s.alice.feed(),
        s.scene.collector.feed(),
        P::ServiceProvision,
        C::Location,
    );
    let denied = check_request(
        s.alice.feed(),
        s.scene.collector.feed(),
        P::Marketing,
        C::Location,
    );
    for q in [&allowed, &allowed, &denied] {
        consent.check(q.clone()).await.expect("check");
    }
    let _watch = consent
        .watch(pb::WatchRequest {
            cursor: Default::default(),
            heartbeat_ms: 1000,
        })
        .await
        .expect("watch");

    let body = eventually(Duration::from_secs(10), "watch counted", || {
        let addr = addr.clone();
        async move {
            let (status, body) = get(&addr, "/metrics");
            assert!(status.contains("200"), "{status}");
            (value(&body, "consent_watch_subscribers ") == Some(1.0)).then_some(body)
        }
    })
    .await;
    let log = value(&body, "consent_log_entries ").expect("log gauge");
    assert!(log >= 6.0, "scene + alice + grant: {log}");
    assert!(
        value(
            &body,
            "consent_entries_total{outcome=\"accepted\",reason=\"\"}"
        )
        .expect("accepted")
            >= 6.0
    );
    let rejected: f64 = body
        .lines()
        .filter(|l| l.starts_with("consent_entries_total{outcome=\"rejected\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(rejected, 1.0, "{body}");
    assert_eq!(
        value(
            &body,
            "consent_checks_total{decision=\"ALLOW\",reason=\"GRANTED\"}"
        ),
        Some(2.0),
        "{body}"
    );
    assert!(
        body.contains("consent_checks_total{decision=\"DENY\""),
        "{body}"
    );
    assert_eq!(
        value(&body, "consent_check_duration_seconds_count "),
        Some(3.0),
        "{body}"
    );
    assert!(value(&body, "consent_store_bytes ").expect("store gauge") > 0.0);
    assert!(
        body.ends_with("# EOF\n"),
        "OpenMetrics text ends with # EOF"
    );
    let (status, _) = get(&addr, "/admin");
    assert!(status.contains("404"), "nothing else is served: {status}");
}
