//! The pending space shared between sources: bounds per source, who gives way when it is full,
//! and parked entries after a restart.

use super::*;

fn orphan(n: u32) -> consent_proto::Entry {
    let feed = consent_proto::FeedId(*blake3::hash(&n.to_be_bytes()).as_bytes());
    consent_proto::Entry::sign(
        Some(feed),
        1,
        Some(consent_proto::EntryId([1; 32])),
        T0,
        &fixtures::request(feed, RequestKind::Access),
        &fixtures::key("flood"),
    )
    .expect("valid")
}

fn client(last: u8) -> Source {
    Source::client(std::net::IpAddr::from([127, 0, 0, last]))
}

/// `count` entries of a new feed `label` past a gap (seq 2 on, its seq 1 withheld), signed by its
/// key, and its inception: parked verified once the inception is held.
fn past_a_gap(label: &str, count: usize) -> (consent_proto::Entry, Vec<consent_proto::Entry>) {
    let (mut author, inception) = fixtures::author(Role::Citizen, label, T0);
    let body = fixtures::request(consent_proto::FeedId([2; 32]), RequestKind::Access);
    let chain: Vec<_> = (0..=count)
        .map(|_| fixtures::append(&mut author, T0, body.clone()))
        .collect();
    (inception, chain[1..].to_vec())
}

fn pending(outcomes: &[Outcome]) -> usize {
    outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Pending { .. }))
        .count()
}

/// One source holds at most its share (an eighth of `max_pending`, at least 64): past it, its
/// own oldest unverifiable entry gives way, and a source holding only verified entries is
/// refused. Evictions are counted.
#[tokio::test]
async fn a_source_at_its_bound_makes_room_from_its_own_entries_or_is_refused() {
    let (ledger, writer, _) = open(LedgerConfig {
        max_pending: 1_000,
        ..LedgerConfig::default()
    });
    assert_eq!(crate::ledger::per_source_bound(1_000), 125);
    let out = ledger
        .submit_from(client(1), (0..200).map(orphan).collect())
        .await
        .expect("submit");
    assert_eq!(
        pending(&out),
        200,
        "a flooder is never refused: it evicts itself"
    );
    assert_eq!(ledger.stats().pending, 125);
    assert_eq!(ledger.stats().pending_evicted, 75);
    // The newest were kept: the oldest gave way.
    assert!(
        ledger
            .submit_from(client(1), vec![orphan(199)])
            .await
            .expect("again")
            .iter()
            .all(|o| matches!(o, Outcome::Pending { .. }))
    );
    assert_eq!(ledger.stats().pending_evicted, 75, "parked already");
    // ...and the oldest is gone: sent again, it is parked anew, in place of another.
    ledger
        .submit_from(client(1), vec![orphan(0)])
        .await
        .expect("again");
    assert_eq!(ledger.stats().pending_evicted, 76);
    // A source of verified entries only: refused at its bound, nothing evicted for it.
    let (inception, chain) = past_a_gap("verified", 126);
    ledger
        .submit_from(client(2), vec![inception])
        .await
        .expect("inception");
    let out = ledger.submit_from(client(2), chain).await.expect("submit");
    assert_eq!(pending(&out), 125);
    assert!(
        matches!(out[125], Outcome::PendingFull { .. }),
        "{:?}",
        out[125]
    );
    assert_eq!(ledger.stats().pending, 250);
    assert_eq!(ledger.stats().pending_evicted, 76);
    ledger.shutdown().await;
    drop(ledger);
    writer.join();
}

/// When the whole space is full, the source holding the most gives way (its oldest unverifiable
/// entry first): a flood never costs an honest source with few entries its place, and that
/// source's waiting entries are accepted once what they wait for arrives.
#[tokio::test]
async fn when_the_pending_space_is_full_the_largest_source_gives_way() {
    let (ledger, writer, mut scene) = open(LedgerConfig {
        max_pending: 128,
        ..LedgerConfig::default()
    });
    ledger.submit(scene.entries.clone()).await.expect("scene");
    let collector = scene.collector.feed();
    // Two flooders fill the space (64 each: their bound).
    let out = ledger
        .submit_from(client(1), (0..200).map(orphan).collect())
        .await
        .expect("flood");
    assert_eq!(pending(&out), 200);
    let out = ledger
        .submit_from(client(3), (200..300).map(orphan).collect())
        .await
        .expect("flood");
    assert_eq!(pending(&out), 100);
    assert_eq!(ledger.stats().pending, 128);
    assert_eq!(ledger.stats().pending_evicted, 136 + 36);
    // An honest citizen sends an entry before its predecessor, and that predecessor, a grant
    // under a policy the node does not hold yet: both wait, each making room at a flooder's
    // expense.
    let (mut citizen, c0) = fixtures::author(Role::Citizen, "honest", T0);
    ledger.submit(vec![c0]).await.expect("inception");
    let policy = fixtures::append(&mut scene.collector, T0, fixtures::policy(2));
    let grant = fixtures::append(
        &mut citizen,
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
        &mut citizen,
        T0 + DAY,
        fixtures::request(collector, RequestKind::Access),
    );
    for entry in [&request, &grant] {
        let out = ledger
            .submit_from(client(2), vec![entry.clone()])
            .await
            .expect("honest");
        assert!(matches!(out[0], Outcome::Pending { .. }), "{:?}", out[0]);
    }
    assert_eq!(ledger.stats().pending, 128);
    assert_eq!(ledger.stats().pending_evicted, 174);
    // A third flooder, with verified entries of its own feed: it takes room from the largest
    // sources only while they hold more than it does (three sources of 42, and the honest 2),
    // then, holding only verified entries, it is refused.
    let (inception, chain) = past_a_gap("verified", 65);
    ledger
        .submit_from(client(4), vec![inception])
        .await
        .expect("inception");
    let out = ledger.submit_from(client(4), chain).await.expect("flood");
    assert_eq!(pending(&out), 42);
    assert!(
        out[42..]
            .iter()
            .all(|o| matches!(o, Outcome::PendingFull { .. }))
    );
    assert_eq!(ledger.stats().pending_evicted, 174 + 42);
    // The flooders keep flooding: they evict their own entries, never the honest ones.
    for (source, first) in [(client(1), 1_000), (client(3), 2_000)] {
        let out = ledger
            .submit_from(source, (first..first + 100).map(orphan).collect())
            .await
            .expect("flood");
        assert_eq!(pending(&out), 100);
    }
    // The policy arrives: the grant, then the entry after it, are accepted.
    let out = ledger.submit(vec![policy]).await.expect("policy");
    assert!(matches!(out[0], Outcome::Accepted { .. }), "{:?}", out[0]);
    assert!(ledger.entry(&grant.id).expect("read").is_some(), "grant");
    assert!(
        ledger.entry(&request.id).expect("read").is_some(),
        "request"
    );
    assert_eq!(ledger.stats().pending, 126);
    ledger.shutdown().await;
    drop(ledger);
    writer.join();
}

/// The sources are not stored: after a restart every parked entry counts for one source, as
/// unverifiable, and that source gives way first.
#[tokio::test]
async fn after_a_restart_parked_entries_count_for_one_source_that_gives_way_first() {
    let store: Arc<dyn KvStore> = Arc::new(MemoryStore::new());
    let open = || {
        Ledger::open(
            Arc::clone(&store),
            HashSet::new(),
            "test",
            LedgerConfig {
                max_pending: 128,
                ..LedgerConfig::default()
            },
        )
        .expect("open")
    };
    let (ledger, writer) = open();
    for (source, range) in [(client(1), 0..64), (client(3), 64..128)] {
        let out = ledger
            .submit_from(source, range.map(orphan).collect())
            .await
            .expect("flood");
        assert_eq!(pending(&out), 64);
    }
    ledger.shutdown().await;
    drop(ledger);
    writer.join();

    let (ledger, writer) = open();
    assert_eq!(ledger.stats().pending, 128);
    assert_eq!(ledger.stats().pending_evicted, 0, "counted since start");
    // The first parked gives way, though its sender held only 64 before the restart.
    let out = ledger
        .submit_from(client(1), vec![orphan(500)])
        .await
        .expect("one more");
    assert!(matches!(out[0], Outcome::Pending { .. }), "{:?}", out[0]);
    assert_eq!(ledger.stats().pending, 128);
    assert_eq!(ledger.stats().pending_evicted, 1);
    ledger.shutdown().await;
    drop(ledger);
    writer.join();
}
