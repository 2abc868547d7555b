//! The node's clock, moved by the test: a grant's end, a session's lifetime, a pending entry's
//! time-out and a freshness demand all follow the node's clock, and nothing here waits for time
//! to pass. Each node starts on a manual clock standing at the present (so that the SDK's session
//! statements, signed with the system clock, fall within the node's window), and every time is
//! taken relative to where that clock starts.

use std::time::Duration;

use consent_client::collector::SessionClient;
use consent_node::api::{REASON_KEY, SESSION_EXPIRED};
use consent_node::clock::Clock;
use consent_proto::auth::TOKEN_TTL_MS;
use consent_proto::entry::Author;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, Purpose as P, Role};
use consent_tests::eventually;
use consent_tests::harness::{TestNode, fixture_genesis, submit, submit_ok};
use consent_tests::single::check_request;
use tokio_stream::StreamExt;

const MINUTE: u64 = 60_000;
/// How long what the node does on its own (a stream ending, peers connecting) may take.
const WAIT: Duration = Duration::from_secs(20);

/// A node on a manual clock standing at the present, holding the fixture scene and Alice's
/// inception.
async fn node_on_a_manual_clock() -> (TestNode, Clock, fixtures::Scene, Author) {
    let clock = Clock::manual(Clock::system().now_ms());
    let node = TestNode::start_with_clock(&fixture_genesis(), clock.clone()).await;
    let scene = fixtures::scene(T0);
    let mut ledger = node.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    let (alice, a0) = fixtures::author(Role::Citizen, "alice", T0);
    submit_ok(&mut ledger, &a0).await;
    (node, clock, scene, alice)
}

/// The scene collector's check of location data for service provision about `subject`, now.
fn question(scene: &fixtures::Scene, subject: &Author) -> pb::CheckRequest {
    check_request(
        subject.feed(),
        scene.collector.feed(),
        P::ServiceProvision,
        C::Location,
    )
}

async fn check(consent: &mut SessionClient, question: &pb::CheckRequest) -> pb::CheckResponse {
    consent
        .check(question.clone())
        .await
        .expect("check")
        .into_inner()
}

/// The `consent-reason` a status carries.
fn reason(status: &tonic::Status) -> Option<&str> {
    status
        .metadata()
        .get(REASON_KEY)
        .and_then(|v| v.to_str().ok())
}

/// Has the node's writer drop timed-out pending entries now (its own ticker runs only every
/// half minute), and waits until it has.
async fn tick(node: &TestNode) {
    let ledger = node.node.as_ref().expect("running").ledger();
    ledger.tick().await;
    // Jobs are processed in order: an empty submission after the tick sees its effect.
    ledger.submit(Vec::new()).await.expect("barrier");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_allows_until_its_end_and_is_expired_once_the_clock_passes_it() {
    let (node, clock, scene, mut alice) = node_on_a_manual_clock().await;
    // Well within a session's lifetime, so that one session serves every check.
    let until = clock.now_ms() + 5 * MINUTE;
    let grant = fixtures::append(
        &mut alice,
        T0 + DAY,
        fixtures::grant(
            scene.collector.feed(),
            scene.policy,
            &[P::ServiceProvision],
            &[C::Location],
            T0,
            Some(until),
        ),
    );
    submit_ok(&mut node.ledger().await, &grant).await;
    let mut consent = node.consent(&scene.collector).await;
    let question = question(&scene, &alice);

    let r = check(&mut consent, &question).await;
    assert_eq!(
        (r.decision(), r.reason()),
        (pb::Decision::Allow, pb::Reason::Granted)
    );
    assert_eq!(r.at_ms, clock.now_ms(), "a check is about the node's now");

    // The last millisecond of the grant still allows; its end does not.
    assert!(clock.set(until - 1));
    let r = check(&mut consent, &question).await;
    assert_eq!(
        (r.decision(), r.reason()),
        (pb::Decision::Allow, pb::Reason::Granted)
    );
    assert!(clock.advance(1));
    let r = check(&mut consent, &question).await;
    assert_eq!(
        (r.decision(), r.reason()),
        (pb::Decision::Deny, pb::Reason::Expired)
    );
    assert_eq!(r.at_ms, until);
    assert_eq!(
        r.grant.as_ref(),
        grant.id.0.as_slice(),
        "the grant that ended"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_and_its_watch_stream_end_once_the_clock_passes_its_lifetime() {
    let (node, clock, scene, alice) = node_on_a_manual_clock().await;
    // A token of a fixed lifetime, without the SDK's renewal: issued at the node's now.
    let started = clock.now_ms();
    let mut consent = node.consent(&scene.collector).await;
    let question = question(&scene, &alice);
    let mut stream = consent
        .watch(pb::WatchRequest {
            heartbeat_ms: 100,
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();

    // The last millisecond of the session still serves.
    assert!(clock.set(started + TOKEN_TTL_MS - 1));
    check(&mut consent, &question).await;
    assert!(clock.advance(1));
    let refused = consent
        .check(question.clone())
        .await
        .expect_err("the session has expired");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    assert_eq!(reason(&refused), Some(SESSION_EXPIRED));

    // The stream re-checks its session before every event (a heartbeat every 100 ms here) and
    // ends with the same reason.
    let end = tokio::time::timeout(WAIT, async {
        loop {
            match stream.next().await {
                Some(Ok(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the stream ends");
    let status = end.expect("with a status").expect_err("an error");
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert_eq!(reason(&status), Some(SESSION_EXPIRED));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_entry_is_dropped_once_the_clock_passes_its_time_out() {
    let (node, clock, scene, mut alice) = node_on_a_manual_clock().await;
    let ttl = u64::try_from(node.config().ledger.pending_ttl.as_millis()).expect("ms");
    let grant = fixtures::append(
        &mut alice,
        T0 + DAY,
        fixtures::location_grant(&scene, P::ServiceProvision),
    );
    let revoke = fixtures::append(&mut alice, T0 + 2 * DAY, fixtures::revoke(grant.id, false));
    // The revocation arrives before the grant it follows: held.
    let mut ledger = node.ledger().await;
    let held = submit(&mut ledger, &revoke)
        .await
        .expect("pending is not an error");
    assert_eq!(held.status(), pb::SubmitStatus::Pending);
    assert_eq!(node.status().await.pending, 1);

    // Kept for its whole time-out...
    assert!(clock.advance(ttl));
    tick(&node).await;
    assert_eq!(
        node.status().await.pending,
        1,
        "kept until its time-out is over"
    );
    // ...and dropped after it.
    assert!(clock.advance(1));
    tick(&node).await;
    assert_eq!(node.status().await.pending, 0);

    // The grant arrives alone: the revocation held for it is gone, and must be sent again.
    submit_ok(&mut ledger, &grant).await;
    assert_eq!(node.head(&alice.feed()).await.seq, 1);
    submit_ok(&mut ledger, &revoke).await;
    assert_eq!(node.head(&alice.feed()).await.seq, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freshness_demand_fails_once_the_clock_passes_it_since_the_last_peer_contact() {
    const STALENESS: u64 = MINUTE;
    let (a, clock, scene, mut alice) = node_on_a_manual_clock().await;
    let grant = fixtures::append(
        &mut alice,
        T0 + DAY,
        fixtures::location_grant(&scene, P::ServiceProvision),
    );
    submit_ok(&mut a.ledger().await, &grant).await;
    let consent = a.consent(&scene.collector).await;
    let mut question = question(&scene, &alice);
    question.max_staleness_ms = STALENESS;

    // A peer (on the system clock) connects; A dates what it hears from it by A's clock.
    let mut b = TestNode::start_with_peers(&fixture_genesis(), &[&a]).await;
    let heard = eventually(WAIT, "A hears from B", || {
        let (mut consent, question) = (consent.clone(), question.clone());
        async move {
            let r = consent.check(question).await.ok()?.into_inner();
            (r.peer_contact_ms > 0).then_some(r)
        }
    })
    .await;
    assert_eq!(heard.peer_contact_ms, clock.now_ms());
    assert_eq!(heard.decision(), pb::Decision::Allow);

    // B goes away: A hears from nobody any more.
    b.stop().await;
    eventually(WAIT, "A sees B gone", || async {
        (a.status().await.peers == 0).then_some(())
    })
    .await;
    let mut consent = consent;
    assert!(clock.advance(STALENESS));
    let r = check(&mut consent, &question).await;
    assert_eq!(
        (r.decision(), r.reason()),
        (pb::Decision::Allow, pb::Reason::Granted),
        "exactly as stale as demanded"
    );
    assert!(clock.advance(1));
    let r = check(&mut consent, &question).await;
    assert_eq!(
        (r.decision(), r.reason()),
        (pb::Decision::Deny, pb::Reason::NodeNotFresh)
    );
    assert_eq!(r.peer_contact_ms, heard.peer_contact_ms);
}
