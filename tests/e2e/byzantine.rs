//! Byzantine peers against three honest nodes on 127.0.0.1: bad signatures, garbage, oversized
//! messages, request floods, malformed requests, a peer of another network, and an
//! equivocation. Honest nodes store nothing invalid, freeze the equivocating feed everywhere, keep
//! answering checks throughout, and drop every misbehaving peer (which cannot come back).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use consent_node::p2p::protocol::SyncRequest;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::ids::FeedId;
use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, Purpose as P};
use consent_tests::eventually;
use consent_tests::harness::{TestNode, fixture_genesis, submit_ok};
use consent_tests::rogue::Rogue;
use prost::Message;
use prost::bytes::Bytes;

const WAIT: Duration = Duration::from_secs(20);

fn check_request(subject: FeedId, collector: FeedId) -> pb::CheckRequest {
    pb::CheckRequest {
        subject: Bytes::copy_from_slice(&subject.0),
        collector: Bytes::copy_from_slice(&collector.0),
        purpose: P::ServiceProvision as i32,
        category: C::Location as i32,
        at_ms: 0,
        ..Default::default()
    }
}

async fn known(node: &TestNode, feed: &FeedId) -> bool {
    consent_tests::net::head(node, feed).await.is_some()
}

/// A grant of location data for service provision, by a new citizen `label`.
fn citizen_grant(
    scene: &fixtures::Scene,
    label: &str,
) -> (consent_proto::entry::Author, Vec<consent_proto::Entry>) {
    let (c, c0, g) = fixtures::citizen_granting(scene, label, P::ServiceProvision);
    (c, vec![c0, g])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byzantine_peers_get_nothing_through_and_are_dropped() {
    let genesis = fixture_genesis();
    let a = TestNode::start(&genesis).await;
    let b = TestNode::start_with_peers(&genesis, &[&a]).await;
    let c = TestNode::start_with_peers(&genesis, &[&a, &b]).await;
    for node in [&a, &b, &c] {
        eventually(WAIT, "honest peers connected", || async {
            (node.status().await.peers >= 2).then_some(())
        })
        .await;
    }
    let scene = fixtures::scene(T0);
    let (alice, alice_entries) = citizen_grant(&scene, "alice");
    let mut ledger_a = a.ledger().await;
    for e in scene.entries.iter().chain(&alice_entries) {
        submit_ok(&mut ledger_a, e).await;
    }
    let honest_entries = (scene.entries.len() + alice_entries.len()) as u64;
    for node in [&b, &c] {
        eventually(WAIT, "honest entries replicated", || async {
            (node.status().await.entries == honest_entries).then_some(())
        })
        .await;
    }

    // Collectors keep checking at every node while the attacks run.
    let stop = Arc::new(AtomicBool::new(false));
    let (answered, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut checkers = Vec::new();
    for node in [&a, &b, &c] {
        let mut client = node
            .consent(&consent_tests::harness::scene_collector())
            .await;
        let request = check_request(alice.feed(), scene.collector.feed());
        let (stop, answered, failed) = (stop.clone(), answered.clone(), failed.clone());
        checkers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match client.check(request.clone()).await {
                    Ok(r) if r.get_ref().decision() == pb::Decision::Allow => {
                        answered.fetch_add(1, Ordering::Relaxed)
                    }
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }

    let digest = a.status().await.genesis_digest;
    let addr = a.tcp_addr();
    let mut tried = 0u64;
    let mut invalid_feeds = Vec::new();

    // 1. Bad signatures: valid entries of new citizens with one signature bit flipped.
    let mut rogue = Rogue::connect(&digest, &addr, WAIT).await;
    for i in 0..10 {
        let (author, entries) = citizen_grant(&scene, &format!("forged-{i}"));
        invalid_feeds.push(author.feed());
        let mut signed = entries[0].to_signed();
        let mut sig = signed.signature.to_vec();
        sig[7] ^= 0x20;
        signed.signature = Bytes::from(sig);
        rogue.publish(signed.encode_to_vec());
        tried += 1;
    }
    rogue.dropped(WAIT).await;
    assert!(!rogue.redial(&addr, WAIT).await, "a banned peer came back");

    // 2. Garbage: bytes that are no entry at all.
    let mut rogue = Rogue::connect(&digest, &addr, WAIT).await;
    for i in 0..10u8 {
        rogue.publish(vec![0xff, i, 0x13, 0x37, i, i]);
        tried += 1;
    }
    rogue.dropped(WAIT).await;

    // 2b. Valid entries wrapped another way (a field after the envelope's two): each wrapping
    // would be a new gossip message that every node forwards. Refused, the peer dropped, and
    // the entries never get in.
    let mut rogue = Rogue::connect(&digest, &addr, WAIT).await;
    for i in 0..10u8 {
        let (author, entries) = citizen_grant(&scene, &format!("rewrapped-{i}"));
        invalid_feeds.push(author.feed());
        let mut bytes = entries[0].encode();
        bytes.extend_from_slice(&[0x18, i + 1]); // field 3, a varint
        rogue.publish(bytes);
        tried += 1;
    }
    rogue.dropped(WAIT).await;

    // 3. Oversized messages (20 KiB, over the 9 KiB gossip limit for an entry; frames over
    // 256 KiB are not even read).
    let mut rogue = Rogue::connect(&digest, &addr, WAIT).await;
    for i in 0..10u8 {
        rogue.publish(vec![i; 20 * 1024]);
        tried += 1;
    }
    rogue.dropped(WAIT).await;

    // 4. A flood of sync requests (each asks for a scan of every head).
    let mut rogue = Rogue::connect(&digest, &addr, WAIT).await;
    let flood = std::iter::repeat_n(SyncRequest::Digests { prefix: vec![] }, 5000);
    let sent = rogue.flood(flood, 50, WAIT).await;
    assert!(sent < 5000, "the node never dropped the flooding peer");
    tried += sent as u64;

    // 5. Malformed sync requests: over the protocol's limits, and over the request size limit.
    let mut rogue = Rogue::connect(&digest, &addr, WAIT).await;
    for i in 0..10u8 {
        rogue.request(SyncRequest::Digests {
            prefix: vec![i, i, i],
        });
        rogue.request(SyncRequest::Entries {
            ids: vec![[i; 32]; 1000],
        });
        tried += 2;
    }
    rogue.dropped(WAIT).await;

    // 6. A peer of another network never stays connected.
    let other = Rogue::connect_unchecked(&"f".repeat(64), &addr).await;
    let mut other = other;
    other.dropped(WAIT).await;
    tried += 1;

    // 7. An equivocation relayed by a peer: valid signatures, so it travels, and every honest
    // node freezes the feed. Relaying it is no offence.
    let mut rogue = Rogue::connect(&digest, &addr, WAIT).await;
    let (eve, eve_entries) = citizen_grant(&scene, "eve");
    let fork = consent_proto::Entry::sign(
        Some(eve.feed()),
        1,
        eve_entries[1].prev,
        T0 + DAY,
        &fixtures::grant(
            scene.collector.feed(),
            scene.policy,
            &[P::Research],
            &[C::Location],
            T0,
            None,
        ),
        &fixtures::key("eve/0"),
    )
    .expect("valid");
    for e in eve_entries.iter().chain([&fork]) {
        rogue.publish(e.encode());
    }
    let relay = rogue.swarm.local_peer_id().to_string();
    let rogue = rogue.spawn();
    for node in [&a, &b, &c] {
        eventually(WAIT, "equivocating feed frozen everywhere", || async {
            let r = node
                .try_consent(&consent_tests::harness::scene_collector())
                .await
                .ok()?
                .check(check_request(eve.feed(), scene.collector.feed()))
                .await
                .ok()?
                .into_inner();
            (r.reason() == pb::Reason::SubjectFrozen).then_some(())
        })
        .await;
    }
    let status = a.status().await;
    let line = status.peer_status.iter().find(|p| p.peer_id == relay);
    assert_eq!(
        line.map(|p| p.offences),
        Some(0),
        "relaying an equivocation is no offence"
    );
    rogue.abort();

    stop.store(true, Ordering::Relaxed);
    for checker in checkers {
        checker.await.expect("checker");
    }
    let (answered, failed) = (
        answered.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
    );
    assert_eq!(failed, 0, "checks failed during the attacks");
    assert!(answered > 0);

    // Nothing invalid was stored or passed on: every node holds the honest entries, Eve's two
    // and the equivocation proof, no forged feed, and agrees with the others.
    // Status counters are published just after the commit that checks already see.
    let status = eventually(WAIT, "status counts the frozen feed", || async {
        let status = a.status().await;
        (status.frozen_feeds == 1).then_some(status)
    })
    .await;
    // The six misbehaving peers, and not the one that relayed an equivocation.
    assert_eq!(status.banned_peers, 6);
    let expected = status.entries;
    assert!(
        (honest_entries + 2..=honest_entries + 3).contains(&expected),
        "entries: {expected}"
    );
    for node in [&a, &b, &c] {
        eventually(WAIT, "same entries everywhere", || async {
            (node.status().await.entries == expected).then_some(())
        })
        .await;
        for feed in &invalid_feeds {
            assert!(!known(node, feed).await, "a forged feed was stored");
        }
    }
    eprintln!(
        "byzantine: {tried} attacks tried, 0 got through; {answered} checks answered during them"
    );
}
