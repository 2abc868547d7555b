//! The operations listener of a real node. `GET /metrics`: Prometheus text with entries by
//! outcome and rejection reason, checks by decision and reason, the check latency histogram, log
//! and store gauges, memory by part, cache sizes, and open watch streams; served on loopback by default. `/admin/`: peers,
//! block and unblock, answered on loopback only (with the configured token, when set).

use std::time::Duration;

use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, Purpose as P};
use consent_tests::eventually;
use consent_tests::harness::submit_ok;
use consent_tests::harness::{TestNode, fixture_genesis};
use consent_tests::http::{get, request, request_as, status};
use consent_tests::net::{WAIT, connected};
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
            consultations: false,
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
    // Memory by part: the process's RSS, and the default engine's (fjall's) cache and write
    // buffers; the heap figures come from the allocator `consentd` installs (tested there) and
    // are left out here, where the test binary's allocator reports nothing.
    let rss = value(&body, "consent_memory_bytes{part=\"process_resident\"} ").expect("rss");
    assert!(rss > 1e6, "{body}");
    for part in ["store_block_cache", "store_write_buffers"] {
        let v = value(&body, &format!("consent_memory_bytes{{part=\"{part}\"}} "));
        assert!(v.is_some_and(|v| v >= 0.0), "{part}: {body}");
    }
    assert!(!body.contains("part=\"heap_allocated\""), "{body}");
    // The allowed check cached alice's facts for the collector.
    assert!(
        value(&body, "consent_cached_items{cache=\"decision_pairs\"} ").is_some_and(|v| v >= 1.0),
        "{body}"
    );
    assert!(value(&body, "consent_cached_items{cache=\"proof_blocks\"} ").is_some());
    assert!(
        body.ends_with("# EOF\n"),
        "OpenMetrics text ends with # EOF"
    );
    let (status, _) = get(&addr, "/nothing");
    assert!(status.contains("404"), "nothing else is served: {status}");
}

fn metrics_addr(node: &TestNode) -> String {
    let addr = std::fs::read_to_string(node.dir.join("metrics.addr")).expect("metrics.addr");
    addr.trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_lists_blocks_and_unblocks_peers_on_loopback() {
    let genesis = fixture_genesis();
    let a = TestNode::start(&genesis).await;
    let b = TestNode::start_with_peers(&genesis, &[&a]).await;
    connected(&[&a, &b], 1).await;
    let admin = metrics_addr(&a);
    let b_peer = b.p2p().peer_id().to_string();
    let (head, body) = get(&admin, "/admin/peers");
    assert_eq!(status(&head), 200, "{head}");
    let peers: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(peers["peers"][0]["peer_id"], b_peer.as_str(), "{body}");
    assert!(
        peers["peers"][0]["address"]
            .as_str()
            .is_some_and(|a| a.contains("127.0.0.1"))
    );

    let (head, body) = request(&admin, "POST", &format!("/admin/peers/{b_peer}/block"), &[]);
    assert_eq!(status(&head), 200, "{head} {body}");
    eventually(WAIT, "B cut off", || async {
        (a.status().await.peers == 0).then_some(())
    })
    .await;
    let (_, body) = get(&admin, "/admin/peers");
    assert!(body.contains(&b_peer), "listed as blocked here: {body}");
    let (head, _) = request(
        &admin,
        "POST",
        &format!("/admin/peers/{b_peer}/unblock"),
        &[],
    );
    assert_eq!(status(&head), 200, "{head}");
    a.p2p().dial(b.tcp_addr().parse().expect("multiaddr")).await;
    connected(&[&a], 1).await;

    for (method, path, code) in [
        ("POST", "/admin/peers/not-a-peer/block", 400),
        ("GET", "/admin/peers/x/block", 405),
        (
            "POST",
            &format!("/admin/peers/{}/block", "1".repeat(500)) as &str,
            400,
        ),
    ] {
        let (head, body) = request(&admin, method, path, &[]);
        assert_eq!(status(&head), code, "{method} {path}: {head} {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_configured_admin_calls_need_it_and_a_bad_token_file_stops_the_start() {
    let mut t = TestNode::start(&fixture_genesis()).await;
    t.stop().await;
    let token = "0123456789abcdef".repeat(4);
    let token_file = t.dir.join("admin.token");
    std::fs::write(&token_file, format!("{token}\n")).expect("token");
    let mut config = t.config();
    config.admin.token_file = Some(token_file.clone());
    let node = consent_node::Node::start(config.clone())
        .await
        .expect("starts");
    let admin = metrics_addr(&t);
    let (head, body) = get(&admin, "/admin/peers");
    assert_eq!(status(&head), 401, "{head}");
    assert!(body.contains("Authorization: Bearer"), "{body}");
    let (head, _) = request(
        &admin,
        "GET",
        "/admin/peers",
        &["Authorization: Bearer wrong"],
    );
    assert_eq!(status(&head), 401, "{head}");
    let bearer = format!("Authorization: Bearer {token}");
    let (head, body) = request(&admin, "GET", "/admin/peers", &[&bearer]);
    assert_eq!(status(&head), 200, "{head} {body}");
    let (head, _) = get(&admin, "/metrics");
    assert_eq!(status(&head), 200, "metrics need no token: {head}");
    node.shutdown();
    node.join().await.expect("stops");

    std::fs::write(&token_file, "short\n").expect("token");
    let err = consent_node::Node::start(config)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("at least 32 characters"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_calls_refuse_other_hosts_and_posts_from_other_origins() {
    let node = TestNode::start(&fixture_genesis()).await;
    let admin = metrics_addr(&node);
    // DNS rebinding: a page whose name resolves to this host calls with its own name as Host.
    let (head, body) = request_as(&admin, "evil.example", "GET", "/admin/peers", &[]);
    assert_eq!(status(&head), 403, "{head}");
    assert!(body.contains("Host"), "{body}");
    let (head, _) = request_as(&admin, "localhost", "GET", "/admin/peers", &[]);
    assert_eq!(status(&head), 200, "{head}");
    // Metrics are not admin calls.
    let (head, _) = request_as(&admin, "evil.example", "GET", "/metrics", &[]);
    assert_eq!(status(&head), 200, "{head}");
    // Cross-site request forgery: a page of another origin posting here. (A bad peer id: the
    // calls that pass the guard answer 400.)
    let same_origin = format!("Origin: http://{admin}");
    for (header, code) in [
        ("Origin: http://evil.example", 403),
        ("Origin: null", 403),
        ("Referer: http://evil.example/form", 403),
        ("Sec-Fetch-Site: cross-site", 403),
        (same_origin.as_str(), 400),
        ("Sec-Fetch-Site: same-origin", 400),
    ] {
        let (head, body) = request(&admin, "POST", "/admin/peers/not-a-peer/block", &[header]);
        assert_eq!(status(&head), code, "{header}: {head} {body}");
    }
}
