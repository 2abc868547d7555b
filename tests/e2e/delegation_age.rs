//! A child's coming of age on three nodes sharing a manual clock: guardians sign for the child
//! until the instant its GUARDIAN delegation names (UTC midnight of the date), and from that
//! instant on only the child signs. Both rules compare signed times with the delegation, never a
//! node's clock, so every node draws the line at the same millisecond, even while their clocks
//! still stand before it. The child's wallet then takes its feed over (two rotations, the second
//! to keys the guardian's machine never saw) and the keys the guardian held sign nothing more.

use consent_node::clock::Clock;
use consent_proto::body::{Body, Delegation, OnBehalf, Undelegation};
use consent_proto::delegation::coming_of_age_ms;
use consent_proto::entry::{Author, Entry};
use consent_proto::fixtures::{self, T0};
use consent_proto::ids::FeedId;
use consent_proto::vocab::{DelegatedPower, DelegationKind, Purpose as P, PurposeSet, Role};
use consent_tests::consultation::{cluster, refused};
use consent_tests::eventually;
use consent_tests::harness::{TestNode, fixture_genesis, submit_ok};
use consent_tests::net::{WAIT, head_seq};
use tonic::Code;

const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;

/// Waits until every node holds `feed` up to `seq`.
async fn everywhere(nodes: &[TestNode], feed: &FeedId, seq: u64) {
    for node in nodes {
        eventually(WAIT, "the feed replicated", || async {
            (head_seq(node, feed).await >= Some(seq)).then_some(())
        })
        .await;
    }
}

/// Submits `entry` to every node and expects each to refuse it with `reason` (INVALID_ARGUMENT:
/// the entry is invalid, whoever holds it).
async fn refused_everywhere(nodes: &[TestNode], entry: &Entry, reason: &str) {
    for node in nodes {
        refused(node, entry, Code::InvalidArgument, reason).await;
    }
}

/// A grant of location data for research to the scene's collector; in `person`'s name under
/// `delegation` when given.
fn grant(scene: &fixtures::Scene, on_behalf: Option<(&Author, &Entry)>) -> Body {
    let Body::Grant(mut g) = fixtures::location_grant(scene, P::Research) else {
        panic!("fixtures::location_grant is a grant");
    };
    g.on_behalf = on_behalf.map(|(person, delegation)| OnBehalf {
        person: person.feed(),
        delegation: delegation.id,
    });
    Body::Grant(g)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coming_of_age_ends_guardians_on_every_node_at_the_same_instant() {
    // Lea comes of age on 2034-05-01: the instant is that day's UTC midnight.
    let of_age = coming_of_age_ms(2034, 5, 1).expect("a date");
    assert_eq!(of_age % fixtures::DAY, 0);
    let clock = Clock::manual(of_age - HOUR);
    let nodes = cluster(&fixture_genesis(), &clock, 3).await;

    let scene = fixtures::scene(T0);
    let (mut lea, lea0) = fixtures::author(Role::Citizen, "lea", T0);
    let (mut guardian, guardian0) = fixtures::author(Role::Citizen, "lea's guardian", T0);
    // The guardian's wallet writes Lea's pairwise feed: its inception, then the GUARDIAN
    // delegation at seq 1.
    let delegation = fixtures::append(
        &mut lea,
        of_age - HOUR,
        Body::Delegation(Delegation {
            delegate: guardian.feed(),
            powers: [DelegatedPower::Grant].into_iter().collect(),
            collectors: vec![scene.collector.feed()],
            purposes: PurposeSet::EMPTY,
            valid_until: Some(of_age),
            kind: DelegationKind::Guardian,
            co_signer: None,
        }),
    );
    let mut ledger = nodes[0].ledger().await;
    for e in scene.entries.iter().chain([&lea0, &guardian0, &delegation]) {
        submit_ok(&mut ledger, e).await;
    }
    everywhere(&nodes, &lea.feed(), 1).await;
    everywhere(&nodes, &scene.collector.feed(), 1).await;
    everywhere(&nodes, &guardian.feed(), 0).await;

    // A minute before the instant. Delegated entries are admitted only when signed within 5
    // minutes of the node's clock.
    assert!(clock.set(of_age - MINUTE));

    // Before it, Lea's feed is a minor's: it may neither grant nor end the guardian's delegation.
    let early = lea
        .sign_next(of_age - 1, &grant(&scene, None))
        .expect("signs");
    refused_everywhere(&nodes, &early, "minor-feed").await;
    let undelegate = Body::Undelegation(Undelegation {
        delegation: delegation.id,
        void_from_ms: None,
    });
    let early = lea.sign_next(of_age - 1, &undelegate).expect("signs");
    refused_everywhere(&nodes, &early, "minor-feed").await;

    // The guardian's grant signed 1 ms before the instant is accepted, and replicates.
    let last = fixtures::append(
        &mut guardian,
        of_age - 1,
        grant(&scene, Some((&lea, &delegation))),
    );
    submit_ok(&mut nodes[0].ledger().await, &last).await;
    everywhere(&nodes, &guardian.feed(), 1).await;

    // One signed at the instant is refused by every node, although every node's clock still
    // stands a minute before it.
    let late = guardian
        .sign_next(of_age, &grant(&scene, Some((&lea, &delegation))))
        .expect("signs");
    refused_everywhere(&nodes, &late, "delegation-not-in-force").await;
    assert!(clock.now_ms() < of_age);

    // From the instant on Lea grants herself (through another node).
    let own = fixtures::append(&mut lea, of_age, grant(&scene, None));
    submit_ok(&mut nodes[1].ledger().await, &own).await;
    everywhere(&nodes, &lea.feed(), 2).await;

    // `consent wallet takeover`: two rotations, the second to a key from the successor master.
    // The first is signed with the next key the guardian's machine held; the second with a key
    // it never saw, which then signs everything after.
    assert!(clock.set(of_age + MINUTE));
    let first = lea
        .rotate(of_age + MINUTE, fixtures::key("lea successor/0"))
        .expect("rotates");
    let second = lea
        .rotate(of_age + MINUTE, fixtures::key("lea successor/1"))
        .expect("rotates");
    let mut ledger = nodes[2].ledger().await;
    submit_ok(&mut ledger, &first).await;
    submit_ok(&mut ledger, &second).await;
    everywhere(&nodes, &lea.feed(), 4).await;

    // The keys the guardian's machine held sign nothing more, on any node.
    for held in ["lea/0", "lea/1"] {
        let stale = Author::resume(
            Role::Citizen,
            fixtures::key(held),
            fixtures::key("unused"),
            lea.feed(),
            lea.seq(),
            lea.head(),
        )
        .sign_next(of_age + 2 * MINUTE, &grant(&scene, None))
        .expect("signs");
        refused_everywhere(&nodes, &stale, "bad-signature").await;
    }

    // Lea's own key does: she withdraws what her guardian signed for her.
    let withdraw = fixtures::append(
        &mut lea,
        of_age + 2 * MINUTE,
        fixtures::revoke(last.id, false),
    );
    submit_ok(&mut nodes[0].ledger().await, &withdraw).await;
    everywhere(&nodes, &lea.feed(), 5).await;
}
