//! Collectors reading across several nodes: a consistency token from a revocation keeps a node
//! that has not received it from answering ALLOW, and a quorum outvotes a node that withholds it.

use consent_node::clock::Clock;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, Purpose as P};
use consent_tests::eventually;
use consent_tests::harness::{TestNode, citizen_granting, fixture_genesis, submit_ok};
use consent_tests::net::{WAIT, connected, decision, head_seq, same_entries};
use prost::bytes::Bytes;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consistency_token_from_a_revocation_prevents_a_stale_allow() {
    let genesis = fixture_genesis();
    let a = TestNode::start(&genesis).await;
    // B's clock stands still until the test moves it (how long it has been cut off).
    let clock = Clock::manual(Clock::system().now_ms());
    let mut b = TestNode::start_with_clock(&genesis, clock.clone()).await;
    b.stop().await;
    b.bootstrap = a.p2p_addrs();
    b.restart().await;
    connected(&[&a, &b], 1).await;
    let scene = fixtures::scene(T0);
    let (mut alice, a0, grant) =
        citizen_granting(&scene, "alice", T0, T0 + DAY, P::ServiceProvision);
    let mut ledger_a = a.ledger().await;
    for e in scene.entries.iter().chain([&a0, &grant]) {
        submit_ok(&mut ledger_a, e).await;
    }
    eventually(WAIT, "the grant at b", || async {
        (head_seq(&b, &alice.feed()).await == Some(1)).then_some(())
    })
    .await;
    // B is cut off; the citizen revokes at A and keeps the receipt's position in her feed.
    a.p2p().block(b.p2p().peer_id()).await;
    b.p2p().block(a.p2p().peer_id()).await;
    eventually(WAIT, "partitioned", || async {
        (b.status().await.peers == 0).then_some(())
    })
    .await;
    let revoke = fixtures::append(&mut alice, T0 + 2 * DAY, fixtures::revoke(grant.id, false));
    submit_ok(&mut ledger_a, &revoke).await;
    let token = revoke.seq;

    let mut question = pb::CheckRequest {
        subject: Bytes::copy_from_slice(&alice.feed().0),
        collector: Bytes::copy_from_slice(&scene.collector.feed().0),
        purpose: P::ServiceProvision as i32,
        category: C::Location as i32,
        ..Default::default()
    };
    let mut at_b = b.consent(&scene.collector).await;
    // Without the token B still allows (it cannot know); with it, B refuses to vouch.
    let stale = at_b
        .check(question.clone())
        .await
        .expect("check")
        .into_inner();
    assert_eq!(stale.decision(), pb::Decision::Allow);
    assert!(stale.peer_contact_ms > 0, "b heard from a before the split");
    question.min_subject_seq = token;
    let r = at_b
        .check(question.clone())
        .await
        .expect("check")
        .into_inner();
    assert_eq!(
        (r.decision(), r.reason()),
        (pb::Decision::Deny, pb::Reason::NodeNotFresh)
    );
    // A, which holds the revocation, answers the token with the real reason.
    let r = a
        .consent(&scene.collector)
        .await
        .check(question.clone())
        .await
        .expect("check")
        .into_inner();
    assert_eq!(
        (r.decision(), r.reason()),
        (pb::Decision::Deny, pb::Reason::Revoked)
    );
    // A freshness demand fails closed once B has been cut off for longer than it allows.
    question.min_subject_seq = 0;
    question.max_staleness_ms = 200;
    assert!(clock.advance(201));
    let r = at_b
        .check(question.clone())
        .await
        .expect("check")
        .into_inner();
    assert_eq!(
        (r.decision(), r.reason()),
        (pb::Decision::Deny, pb::Reason::NodeNotFresh),
        "b too stale to vouch"
    );
    // Healed, B catches up and the token is met.
    a.p2p().unblock(b.p2p().peer_id()).await;
    b.p2p().unblock(a.p2p().peer_id()).await;
    b.p2p().dial(a.tcp_addr().parse().expect("multiaddr")).await;
    question.max_staleness_ms = 0;
    question.min_subject_seq = token;
    eventually(WAIT, "b answers the token", || {
        let mut at_b = at_b.clone();
        let question = question.clone();
        async move {
            let r = at_b.check(question).await.ok()?.into_inner();
            (r.reason() == pb::Reason::Revoked).then_some(())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quorum_outvotes_a_node_that_withholds_a_revocation() {
    let genesis = fixture_genesis();
    let mut a = TestNode::start(&genesis).await;
    let mut b = TestNode::start_with_peers(&genesis, &[&a]).await;
    let c = TestNode::start_with_peers(&genesis, &[&a, &b]).await;
    connected(&[&a, &b, &c], 2).await;
    let scene = fixtures::scene(T0);
    let (mut alice, a0, grant) =
        citizen_granting(&scene, "alice", T0, T0 + DAY, P::ServiceProvision);
    let mut ledger_a = a.ledger().await;
    for e in scene.entries.iter().chain([&a0, &grant]) {
        submit_ok(&mut ledger_a, e).await;
    }
    same_entries(&[&a, &b, &c], 6).await;
    // C's operator withholds: it takes nothing more from its peers.
    for (x, y) in [(&c, &a), (&c, &b), (&a, &c), (&b, &c)] {
        x.p2p().block(y.p2p().peer_id()).await;
    }
    eventually(WAIT, "c cut off", || async {
        (c.status().await.peers == 0).then_some(())
    })
    .await;
    let revoke = fixtures::append(&mut alice, T0 + 2 * DAY, fixtures::revoke(grant.id, false));
    submit_ok(&mut ledger_a, &revoke).await;
    same_entries(&[&b], 7).await;

    let urls = vec![c.url(), a.url(), b.url()];
    let me = scene.collector;
    let mut quorum = consent_client::quorum::Quorum::connect(&urls, me.key().clone(), me.feed(), 2)
        .await
        .expect("quorum");
    // C alone would still allow; the quorum answers from the highest head it can prove.
    let alone = decision(&c, alice.feed(), me.feed()).await;
    assert_eq!(alone.decision(), pb::Decision::Allow);
    let answer = quorum
        .check(alice.feed(), P::ServiceProvision, C::Location)
        .await;
    assert_eq!(answer.decision, pb::Decision::Deny, "{}", answer.why);
    let response = answer.response.expect("an answer");
    assert_eq!(response.reason(), pb::Reason::Revoked);
    assert_eq!(response.subject_head_seq, revoke.seq);
    assert_eq!(answer.answered, 3);

    // A proof reads the subject's feed only up to the seq it verifies.
    let mut reads = consent_client::node::NodeConnection::connect(&a.url())
        .await
        .expect("reads");
    let upto = reads
        .feed_upto(&alice.feed(), grant.seq)
        .await
        .expect("feed");
    assert!(upto.len() == 2 && upto.last().map(|e| e.id) == Some(grant.id));
    let all = reads
        .feed_upto(&alice.feed(), u64::MAX)
        .await
        .expect("feed");
    assert!(all.len() == 3 && all.last().map(|e| e.id) == Some(revoke.id));

    // Fewer than k answers: deny, whatever the one node says.
    a.stop().await;
    b.stop().await;
    let answer = quorum
        .check(alice.feed(), P::ServiceProvision, C::Location)
        .await;
    assert_eq!(answer.decision, pb::Decision::Deny);
    assert!(
        answer.response.is_none() && answer.answered == 1,
        "{}",
        answer.why
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_session_fails_over_to_its_next_endpoint_and_denies_when_none_answers() {
    let genesis = fixture_genesis();
    let mut a = TestNode::start(&genesis).await;
    let mut b = TestNode::start_with_peers(&genesis, &[&a]).await;
    connected(&[&a, &b], 1).await;
    let scene = fixtures::scene(T0);
    let (alice, a0, grant) = citizen_granting(&scene, "alice", T0, T0 + DAY, P::ServiceProvision);
    let mut ledger_a = a.ledger().await;
    for e in scene.entries.iter().chain([&a0, &grant]) {
        submit_ok(&mut ledger_a, e).await;
    }
    eventually(WAIT, "the grant at b", || async {
        (head_seq(&b, &alice.feed()).await == Some(1)).then_some(())
    })
    .await;
    let (url_a, url_b) = (a.url(), b.url());
    let me = &scene.collector;
    let mut collector = consent_client::collector::Collector::connect_any(
        &["http://127.0.0.1:1", &url_a, &url_b],
        me.key().clone(),
        me.feed(),
    )
    .await
    .expect("an endpoint answers");
    assert_eq!(collector.url(), url_a, "the first endpoint that answers");
    assert_eq!(
        ask(&mut collector, alice.feed()).await.expect("a"),
        pb::Decision::Allow
    );
    a.stop().await;
    assert_eq!(
        ask(&mut collector, alice.feed()).await.expect("b answers"),
        pb::Decision::Allow
    );
    assert_eq!(collector.url(), url_b);
    b.stop().await;
    let err = ask(&mut collector, alice.feed())
        .await
        .expect_err("nobody answers");
    assert!(
        matches!(
            err,
            consent_client::collector::CollectorError::Refused {
                code: tonic::Code::Unavailable | tonic::Code::Cancelled | tonic::Code::Unknown,
                ..
            }
        ),
        "{err:?}"
    );
}

async fn ask(
    c: &mut consent_client::collector::Collector,
    subject: consent_proto::FeedId,
) -> Result<pb::Decision, consent_client::collector::CollectorError> {
    c.check(subject, P::ServiceProvision, C::Location)
        .await
        .map(|r| r.decision())
}
