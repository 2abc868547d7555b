//! A flood of entries that can only wait cannot starve honest clients. Entries of feeds that do
//! not exist, each signed by a fresh key, come from one client connection (`SubmitBatch`), from a
//! peer over gossip, and from a crowd of other addresses, until the pending space is full;
//! meanwhile an honest client on another address sends a grant before its policy and an entry
//! before its predecessor: both answer PENDING, never `pending-full`, and both are accepted once
//! what they wait for arrives. Checks are answered throughout, and the evictions are counted in
//! `Status` and `/metrics`.
//!
//! Every client of a test runs on this machine, and a node tells clients apart by IP address:
//! the honest client and the crowd connect from other loopback addresses (127.0.0.2, 127.0.0.10
//! to 127.0.0.17; Linux routes the whole of 127.0.0.0/8 to the loopback interface), the flooding
//! client from 127.0.0.1 like every other client.

use std::net::IpAddr;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use consent_proto::Entry;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::pb;
use consent_proto::pb::ledger_client::LedgerClient;
use consent_proto::vocab::{DataCategory as C, Purpose as P, RequestKind, Role};
use consent_tests::eventually;
use consent_tests::harness::{TestNode, fixture_genesis, scene_collector, submit, submit_ok};
use consent_tests::rogue::Rogue;
use consent_tests::single::check_request;
use prost::bytes::Bytes;
use tonic::transport::Channel;

const WAIT: Duration = Duration::from_secs(30);
/// A small pending space, so that a flood fills it quickly: 64 entries per source.
const MAX_PENDING: u64 = 512;
const PER_SOURCE: u64 = 64;

/// An entry of a feed that does not exist (`n` picks the feed), signed by a fresh key: nothing
/// ties it to any key the node knows, so it can only wait, unverifiable.
fn orphan(n: u32) -> Entry {
    let feed = FeedId(*blake3::hash(format!("no such feed {n}").as_bytes()).as_bytes());
    Entry::sign(
        Some(feed),
        1,
        Some(EntryId([1; 32])),
        T0,
        &fixtures::request(feed, RequestKind::Access),
        &fixtures::key(&format!("flood/{n}")),
    )
    .expect("valid")
}

/// Submits the orphans `range` in one `SubmitBatch`; how many answered PENDING (each one that
/// did not is printed).
async fn flood(client: &mut LedgerClient<Channel>, range: Range<u32>) -> usize {
    let request = pb::SubmitBatchRequest {
        entries: range.map(|n| orphan(n).to_signed()).collect(),
    };
    let results = client
        .submit_batch(request)
        .await
        .expect("a batch is answered")
        .into_inner()
        .results;
    let waiting = |r: &pb::SubmitResult| {
        r.response
            .as_ref()
            .is_some_and(|r| r.status == pb::SubmitStatus::Pending as i32)
    };
    for r in results.iter().filter(|r| !waiting(r)) {
        eprintln!("flood entry not pending: {r:?}");
    }
    results.iter().filter(|r| waiting(r)).count()
}

fn loopback(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

async fn held(node: &TestNode, id: &EntryId) -> bool {
    let request = pb::GetEntryRequest {
        id: Bytes::copy_from_slice(&id.0),
    };
    node.ledger().await.get_entry(request).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_waiting_entries_does_not_starve_honest_clients() {
    let mut node = TestNode::start(&fixture_genesis()).await;
    node.stop().await;
    node.max_pending = Some(MAX_PENDING);
    node.restart().await;
    let scene = fixtures::scene(T0);
    let mut ledger = node.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    let (alice, a0, granted) = fixtures::citizen_granting(&scene, "alice", P::ServiceProvision);
    submit_ok(&mut ledger, &a0).await;
    submit_ok(&mut ledger, &granted).await;
    let collector = scene.collector.feed();

    // A collector keeps checking while the floods run.
    let stop = Arc::new(AtomicBool::new(false));
    let (answered, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let checker = {
        let mut client = node.consent(&scene_collector()).await;
        let request = check_request(alice.feed(), collector, P::ServiceProvision, C::Location);
        let (stop, answered, failed) = (stop.clone(), answered.clone(), failed.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match client.check(request.clone()).await {
                    Ok(r) if r.get_ref().decision() == pb::Decision::Allow => {
                        answered.fetch_add(1, Ordering::Relaxed)
                    }
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    // 1. One client, one connection: 1,000 orphans. None is refused (the client's own oldest
    // give way to its newer ones), and it holds no more than its share.
    assert_eq!(flood(&mut ledger, 0..1_000).await, 1_000);
    let status = node.status().await;
    assert_eq!(status.pending, PER_SOURCE);
    assert_eq!(status.pending_evicted, 1_000 - PER_SOURCE);

    // 2. A peer pushes orphans over gossip: it too holds its share, no more.
    let digest = status.genesis_digest.clone();
    let mut rogue = Rogue::connect(&digest, &node.tcp_addr(), WAIT).await;
    let mut next = 100_000u32;
    for _ in 0..6 {
        for _ in 0..50 {
            rogue.try_publish(orphan(next).encode());
            next += 1;
        }
        rogue.drive(Duration::from_millis(100)).await;
    }
    eventually(WAIT, "the peer's share is parked", || async {
        (node.status().await.pending == 2 * PER_SOURCE).then_some(())
    })
    .await;

    // 3. A crowd of eight more addresses fills the pending space; none of them is refused
    // either: once it is full, the sources holding the most give way.
    for i in 0..8u8 {
        let mut client = node.ledger_from(loopback(10 + i)).await;
        let first = 10_000 + 1_000 * u32::from(i);
        assert_eq!(flood(&mut client, first..first + 100).await, 100);
    }
    eventually(WAIT, "the pending space is full", || async {
        (node.status().await.pending == MAX_PENDING).then_some(())
    })
    .await;

    // The client and the peer go on flooding meanwhile.
    let client_flood = {
        let (mut ledger, stop) = (ledger.clone(), stop.clone());
        tokio::spawn(async move {
            let mut from = 1_000u32;
            while !stop.load(Ordering::Relaxed) {
                flood(&mut ledger, from..from + 100).await;
                from += 100;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let peer_flood = tokio::spawn(async move {
        loop {
            for _ in 0..50 {
                rogue.try_publish(orphan(next).encode());
                next += 1;
            }
            rogue.drive(Duration::from_millis(50)).await;
        }
    });

    // 4. An honest citizen on another address: an entry before its predecessor, and that
    // predecessor, a grant under a policy the node does not hold yet. Both wait.
    let mut honest = node.ledger_from(loopback(2)).await;
    let (mut bob, b0) = fixtures::author(Role::Citizen, "bob", T0);
    submit_ok(&mut honest, &b0).await;
    let mut policy_author = scene.collector.clone();
    let policy = fixtures::append(&mut policy_author, T0 + DAY, fixtures::policy(2));
    let grant = fixtures::append(
        &mut bob,
        T0 + DAY,
        fixtures::grant(
            collector,
            policy.id,
            &[P::ServiceProvision],
            &[C::Location],
            T0,
            None,
        ),
    );
    let request = fixtures::append(
        &mut bob,
        T0 + DAY,
        fixtures::request(collector, RequestKind::Access),
    );
    for entry in [&request, &grant] {
        match submit(&mut honest, entry).await {
            Ok(r) => assert_eq!(r.status, pb::SubmitStatus::Pending as i32, "{r:?}"),
            Err(status) => panic!("an honest entry was refused during the flood: {status:?}"),
        }
    }
    // The policy arrives: the grant is accepted, then the entry after it.
    submit_ok(&mut honest, &policy).await;
    for id in [grant.id, request.id] {
        eventually(WAIT, "the waiting entries accepted", || async {
            held(&node, &id).await.then_some(())
        })
        .await;
    }
    let mut consent = node.consent(&scene_collector()).await;
    let answer = consent
        .check(check_request(
            bob.feed(),
            collector,
            P::ServiceProvision,
            C::Location,
        ))
        .await
        .expect("check")
        .into_inner();
    assert_eq!(answer.decision(), pb::Decision::Allow, "{answer:?}");

    stop.store(true, Ordering::Relaxed);
    client_flood.await.expect("client flood");
    peer_flood.abort();
    checker.await.expect("checker");
    let (answered, failed) = (
        answered.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
    );
    assert_eq!(failed, 0, "checks failed during the floods");
    assert!(answered > 0);

    // Evictions are counted, in Status and in /metrics.
    let status = node.status().await;
    assert!(status.pending <= MAX_PENDING);
    assert!(status.pending_evicted > 1_000, "{}", status.pending_evicted);
    let addr = std::fs::read_to_string(node.dir.join("metrics.addr")).expect("metrics.addr");
    let (_, body) = consent_tests::http::get(addr.trim(), "/metrics");
    let evicted: f64 = body
        .lines()
        .find_map(|l| l.strip_prefix("consent_pending_evicted_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no consent_pending_evicted_total in:\n{body}"));
    assert!(evicted >= 1_000.0, "{evicted}");
    eprintln!(
        "flood: {} evictions; {answered} checks answered during it",
        status.pending_evicted
    );
}
