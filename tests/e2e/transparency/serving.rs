//! How the site serves: clear answers to bad addresses (and raw garbage on its socket), a port in
//! use that stops the start, the register read a page at a time, and the register saved at a stop
//! and loaded at the next start (or read again from the log when the saved file is damaged).

use std::time::Duration;

use consent_proto::fixtures::{self, T0};
use consent_proto::vocab::{Purpose as P, Role};
use consent_tests::eventually;
use consent_tests::harness::{TestNode, fixture_genesis, submit_ok};
use consent_tests::http::{get, status};
use consent_tests::net::WAIT;

use super::{policy, site_addr};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_addresses_get_clear_answers_and_the_site_keeps_serving() {
    let scene = fixtures::scene(T0);
    let node = TestNode::start(&fixture_genesis()).await;
    let mut ledger = node.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    let site = site_addr(&node);
    let registrar = scene.registrar.feed().typed(Role::Registrar).to_string();
    let unknown = fixtures::author(Role::Collector, "nobody", T0)
        .0
        .feed()
        .typed(Role::Collector)
        .to_string();
    let long = "c".repeat(5000);
    for (path, code, says) in [
        ("/collectors/garbage", 400, "not a collector id"),
        (
            &format!("/collectors/{registrar}") as &str,
            400,
            "not a collector",
        ),
        (
            &format!("/collectors/{unknown}"),
            404,
            "No collector with this id",
        ),
        (&format!("/collectors/{long}"), 400, "too long"),
        ("/nowhere", 404, "There is no page at this address."),
        ("/api/v1/collectors/garbage", 400, "\"error\""),
        (
            &format!("/api/v1/collectors/{unknown}"),
            404,
            "no collector with this id",
        ),
        ("/api/v2/anything", 404, "see /api"),
    ] {
        let (head, body) = get(&site, path);
        assert_eq!(status(&head), code, "{path}: {head}");
        assert!(body.contains(says), "{path} should say {says:?}: {body}");
    }
    // Raw garbage on the socket does not stop the site.
    {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(&site).expect("connect");
        let _ = s.write_all(&[0xff; 70_000]);
    }
    eventually(Duration::from_secs(10), "the site still answers", || {
        let site = site.clone();
        async move { (status(&get(&site, "/").0) == 200).then_some(()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_port_in_use_stops_the_start_with_what_to_change() {
    let mut node = TestNode::start(&fixture_genesis()).await;
    node.stop().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut config = node.config();
    config.transparency.listen = taken.local_addr().expect("addr");
    let err = consent_node::Node::start(config)
        .await
        .err()
        .expect("refused");
    let said = err.to_string();
    assert!(
        said.contains("transparency site") && said.contains("[transparency] listen"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_register_is_read_a_page_at_a_time() {
    let node = TestNode::start(&fixture_genesis()).await;
    let mut ledger = node.ledger().await;
    for i in 0..60 {
        let (mut c, c0) = fixtures::author(Role::Collector, &format!("col{i}"), T0);
        let p = fixtures::append(&mut c, T0, policy(1, &format!("Collector {i:02}"), |_| {}));
        submit_ok(&mut ledger, &c0).await;
        submit_ok(&mut ledger, &p).await;
    }
    let site = site_addr(&node);
    let first = eventually(WAIT, "the register read every entry", || {
        let site = site.clone();
        async move {
            let (_, body) = get(&site, "/api/v1/collectors");
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            (v["complete"] == true && v["collectors_total"] == 60).then_some(v)
        }
    })
    .await;
    assert_eq!(first["collectors"].as_array().map(Vec::len), Some(50));
    assert_eq!(
        (&first["page"], &first["pages"]),
        (&serde_json::json!(1), &serde_json::json!(2))
    );
    assert_eq!(first["collectors"][0]["name"], "Collector 00");
    let (_, second) = get(&site, "/api/v1/collectors?page=2");
    let second: serde_json::Value = serde_json::from_str(&second).expect("json");
    assert_eq!(second["collectors"].as_array().map(Vec::len), Some(10));
    assert_eq!(second["collectors"][0]["name"], "Collector 50");

    let (head, html) = get(&site, "/");
    assert_eq!(status(&head), 200, "{head}");
    assert!(html.contains("Page 1 of 2 (60 collectors)"), "{html}");
    assert!(html.contains("href=\"/?page=2\""), "{html}");
    assert!(
        html.contains("Collector 49") && !html.contains("Collector 50"),
        "one page only"
    );
    let (_, html) = get(&site, "/?page=2");
    assert!(
        html.contains("Collector 50") && html.contains("href=\"/?page=1\""),
        "{html}"
    );
    let (head, html) = get(&site, "/?page=3");
    assert_eq!(status(&head), 200, "{head}");
    assert!(html.contains("There is no such page"), "{html}");
}

/// The register's collectors (first page) once the node has read its whole log into it.
async fn read_register(node: &TestNode) -> serde_json::Value {
    let site = site_addr(node);
    eventually(WAIT, "the register read every entry", || {
        let site = site.clone();
        async move {
            let (_, body) = get(&site, "/api/v1/collectors");
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            (v["complete"] == true).then(|| v["collectors"].clone())
        }
    })
    .await
}

/// A node that stops saves its register in its data directory and the next start loads it
/// (reading only the log after it): the same figures, and new entries are followed. A damaged
/// file is not used: the register is read from the whole log, with the same figures again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_register_is_saved_at_a_stop_and_a_damaged_one_is_read_again_from_the_log() {
    let mut node = TestNode::start(&fixture_genesis()).await;
    let scene = fixtures::scene(T0);
    let mut ledger = node.ledger().await;
    for entry in &scene.entries {
        submit_ok(&mut ledger, entry).await;
    }
    for i in 0..6 {
        let (_, inception, grant) =
            fixtures::citizen_granting(&scene, &format!("saved-{i}"), P::ServiceProvision);
        submit_ok(&mut ledger, &inception).await;
        submit_ok(&mut ledger, &grant).await;
    }
    let before = read_register(&node).await;
    assert_eq!(before.as_array().map(Vec::len), Some(1), "{before}");

    node.stop().await;
    let file = node.dir.join("transparency-register");
    assert!(file.exists(), "saved when the node stopped");
    node.restart().await;
    assert_eq!(read_register(&node).await, before, "loaded");

    node.stop().await;
    let mut bytes = std::fs::read(&file).expect("read the saved register");
    if let Some(last) = bytes.last_mut() {
        *last ^= 0x55;
    }
    std::fs::write(&file, &bytes).expect("damage it");
    node.restart().await;
    assert_eq!(
        read_register(&node).await,
        before,
        "read again from the log"
    );

    let mut ledger = node.ledger().await;
    let (mut bikes, bikes0) = fixtures::author(Role::Collector, "bikes", T0);
    submit_ok(&mut ledger, &bikes0).await;
    submit_ok(
        &mut ledger,
        &fixtures::append(&mut bikes, T0, policy(1, "Bikes", |_| {})),
    )
    .await;
    let site = site_addr(&node);
    eventually(WAIT, "the new collector in the register", || {
        let site = site.clone();
        async move {
            let (_, body) = get(&site, "/api/v1/collectors");
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            (v["collectors_total"] == 2).then_some(())
        }
    })
    .await;
    node.stop().await;
}
