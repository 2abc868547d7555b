//! A collector's watch stream on a real node: every kind of event in order, only its own,
//! expiry with no entry in flight, heartbeats with the node's position, and resumption after a
//! forced disconnect with nothing lost and nothing repeated.

use std::time::Duration;

use consent_client::collector::Collector;
use consent_node::clock::Clock;
use consent_proto::body::{Ack, AckAnswer, Body};
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, Purpose as P, RequestKind, Role};
use consent_tests::harness::{TestNode, fixture_genesis, submit_ok};
use prost::bytes::Bytes;
use tokio_stream::StreamExt;

const WAIT: Duration = Duration::from_secs(20);

/// The next non-heartbeat event, within `WAIT`.
async fn next(stream: &mut tonic::Streaming<pb::WatchEvent>) -> pb::WatchEvent {
    loop {
        let event = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("an event in time")
            .expect("stream open")
            .expect("no error");
        if event.kind() != pb::WatchKind::Heartbeat {
            return event;
        }
    }
}

fn summary(e: &pb::WatchEvent) -> (pb::WatchKind, u64, Vec<u8>, bool) {
    (e.kind(), e.index, e.grant.to_vec(), e.erase)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_streams_everything_in_order_and_resumes_exactly() {
    // The node's clock stands still until the test moves it (a grant's expiry, an answer's time).
    let clock = Clock::manual(Clock::system().now_ms());
    let node = TestNode::start_with_clock(&fixture_genesis(), clock.clone()).await;
    let scene = fixtures::scene(T0);
    let mut ledger = node.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    let (rival, rival0) = fixtures::author(Role::Collector, "rival", T0);
    submit_ok(&mut ledger, &rival0).await;
    let mut me = scene.collector;
    let mut sdk = Collector::connect(&node.url(), me.key().clone(), me.feed())
        .await
        .expect("session");
    let mut stream = sdk.watch(Bytes::new(), 100).await.expect("watch");
    // The accreditation made before the stream started comes first.
    let first = next(&mut stream).await;
    assert_eq!(first.kind(), pb::WatchKind::Accredited);

    // Alice grants until two seconds from now; Bob grants, revokes with erasure, asks for access;
    // a grant to another collector never shows.
    let now = clock.now_ms();
    let grant_to = |collector, until| {
        fixtures::grant(
            collector,
            scene.policy,
            &[P::ServiceProvision],
            &[C::Location],
            T0,
            until,
        )
    };
    let (mut alice, a0) = fixtures::author(Role::Citizen, "alice", T0);
    let (mut bob, b0) = fixtures::author(Role::Citizen, "bob", T0);
    let alice_grant =
        fixtures::append(&mut alice, T0 + DAY, grant_to(me.feed(), Some(now + 2_000)));
    let bob_grant = fixtures::append(&mut bob, T0 + DAY, grant_to(me.feed(), None));
    let (mut carol, c0) = fixtures::author(Role::Citizen, "carol", T0);
    let rival_grant = fixtures::append(
        &mut carol,
        T0 + DAY,
        fixtures::grant(
            rival.feed(),
            scene.policy,
            &[P::ServiceProvision],
            &[C::Location],
            T0,
            None,
        ),
    );
    let bob_revoke = fixtures::append(&mut bob, T0 + 2 * DAY, fixtures::revoke(bob_grant.id, true));
    let bob_access = fixtures::append(
        &mut bob,
        T0 + 2 * DAY,
        fixtures::request(me.feed(), RequestKind::Access),
    );
    for e in [&a0, &b0, &c0, &alice_grant, &bob_grant] {
        submit_ok(&mut ledger, e).await;
    }
    // The rival's grant is refused (its policy is not the rival's) or ignored; either way it is
    // not this collector's business.
    let _ = ledger
        .submit(pb::SubmitRequest {
            entry: Some(rival_grant.to_signed()),
        })
        .await;

    let e = next(&mut stream).await;
    assert_eq!(
        (e.kind(), e.grant.as_ref()),
        (pb::WatchKind::Grant, alice_grant.id.0.as_slice())
    );
    assert_eq!(e.subject.as_ref(), alice.feed().0.as_slice());
    assert_eq!(e.valid_until, now + 2_000);
    let signed = e.entry.clone().expect("the signed entry");
    assert_eq!(
        consent_proto::Entry::from_signed(&signed)
            .expect("valid")
            .id,
        alice_grant.id
    );
    let e = next(&mut stream).await;
    assert_eq!(
        (e.kind(), e.grant.as_ref()),
        (pb::WatchKind::Grant, bob_grant.id.0.as_slice())
    );
    // A forced disconnect here: keep the cursor, drop the stream, write while away.
    let cursor = e.cursor.clone();
    drop(stream);
    let asked_from = clock.now_ms();
    for e in [&bob_revoke, &bob_access] {
        submit_ok(&mut ledger, e).await;
    }
    let asked_to = clock.now_ms();
    let mut stream = sdk.watch(cursor, 100).await.expect("resume");
    let revoke = next(&mut stream).await;
    assert_eq!(
        summary(&revoke),
        (
            pb::WatchKind::Revoke,
            revoke.index,
            bob_grant.id.0.to_vec(),
            true
        )
    );
    let request = next(&mut stream).await;
    assert_eq!(request.kind(), pb::WatchKind::Request);
    assert_eq!(
        request.entry.as_ref().map(|s| s.payload.clone()),
        Some(bob_access.to_signed().payload)
    );
    // Nothing in flight: Alice's grant expires by the clock alone, once the node's clock
    // reaches its end.
    assert!(clock.advance(2_000));
    let expired = next(&mut stream).await;
    assert_eq!(
        (expired.kind(), expired.grant.as_ref(), expired.valid_until),
        (
            pb::WatchKind::Expired,
            alice_grant.id.0.as_slice(),
            now + 2_000
        )
    );

    // The collector acknowledges the erasure; its own ack is not an event for it.
    let ack = fixtures::append(
        &mut me,
        T0 + 3 * DAY,
        Body::Ack(Ack {
            request: bob_revoke.id,
            answer: AckAnswer::Done,
        }),
    );
    let answered_from = clock.now_ms();
    submit_ok(&mut ledger, &ack).await;
    let answered_to = clock.now_ms();
    // The node keeps the collector's answering record. The entries are signed in the past (the
    // ack a day after the erasure request), but the node times them by when they reached it, less
    // its 10-minute tolerance: the erasure was answered the seconds later the ack arrived, not a
    // day; the access request is still open, asked 10 minutes before it arrived.
    let record = node
        .status_client()
        .await
        .answer_times(pb::AnswerTimesRequest {
            collector: Bytes::copy_from_slice(&me.feed().0),
        })
        .await
        .expect("answer times")
        .into_inner();
    assert_eq!(
        (record.requests, record.answered, record.unanswered),
        (2, 1, 1)
    );
    use consent_node::ledger::answers::{TOLERANCE, reported_ms};
    let w = TOLERANCE.as_millis() as u64;
    let took = reported_ms(answered_from - asked_to)..=reported_ms(answered_to - asked_from);
    assert!(took.contains(&record.median_ms), "{took:?}: {record:?}");
    assert_eq!(record.p95_ms, record.median_ms);
    assert!(
        (asked_from - w..=asked_to - w).contains(&record.oldest_unanswered_ms),
        "{record:?}"
    );
    // Heartbeats carry the node's position: soon one shows the ack's commit.
    let size = node.status().await.entries;
    loop {
        let e = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("heartbeat in time")
            .expect("open")
            .expect("ok");
        assert_eq!(
            e.kind(),
            pb::WatchKind::Heartbeat,
            "nothing else concerns the collector"
        );
        assert!(e.time_ms >= now && e.log_size <= size);
        if e.log_size == size {
            break;
        }
    }

    // Resuming from the very beginning gives the same events, in the same order, once each.
    let mut all = sdk.watch(Bytes::new(), 100).await.expect("replay");
    let mut replay = Vec::new();
    for _ in 0..6 {
        replay.push(summary(&next(&mut all).await));
    }
    let kinds: Vec<pb::WatchKind> = replay.iter().map(|s| s.0).collect();
    assert_eq!(
        kinds,
        [
            pb::WatchKind::Accredited,
            pb::WatchKind::Grant,
            pb::WatchKind::Grant,
            pb::WatchKind::Revoke,
            pb::WatchKind::Request,
            pb::WatchKind::Expired,
        ]
    );
    assert_eq!(replay[3], summary(&revoke));
    // And then nothing but heartbeats.
    let beat = tokio::time::timeout(WAIT, all.next())
        .await
        .expect("in time")
        .expect("open")
        .expect("ok");
    assert_eq!(beat.kind(), pb::WatchKind::Heartbeat);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_needs_a_session_and_a_valid_cursor_and_ends_when_the_node_stops() {
    let mut node = TestNode::start(&fixture_genesis()).await;
    let scene = fixtures::scene(T0);
    let mut ledger = node.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    let err = node
        .consent_without_session()
        .await
        .watch(pb::WatchRequest::default())
        .await
        .expect_err("no session");
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let mut session = node.consent(&scene.collector).await;
    for (cursor, heartbeat) in [(Bytes::from_static(b"short"), 0), (Bytes::new(), 5)] {
        let err = session
            .watch(pb::WatchRequest {
                cursor,
                heartbeat_ms: heartbeat,
                consultations: false,
            })
            .await
            .expect_err("bad request");
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
    }
    // An open stream does not hold the node up: shutdown ends it.
    let mut open = session
        .watch(pb::WatchRequest::default())
        .await
        .expect("watch")
        .into_inner();
    assert_eq!(
        open.next().await.expect("event").expect("ok").kind(),
        pb::WatchKind::Accredited
    );
    tokio::time::timeout(WAIT, node.stop())
        .await
        .expect("the node stops with a watch open");
    let end = tokio::time::timeout(WAIT, async {
        loop {
            match open.next().await {
                Some(Ok(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the stream ends");
    assert!(end.is_none() || end.is_some_and(|r| r.is_err()));
}

/// An equivocation (a second entry at a seq already held) by `author`, whose latest entry is
/// `head`: the node freezes the feed.
async fn equivocate(
    ledger: &mut consent_proto::pb::ledger_client::LedgerClient<tonic::transport::Channel>,
    author: &consent_proto::entry::Author,
    head: &consent_proto::Entry,
    body: Body,
) {
    let fork = consent_proto::Entry::sign(
        Some(author.feed()),
        head.seq,
        head.prev,
        head.time_ms,
        &body,
        author.key(),
    )
    .expect("valid");
    let err = ledger
        .submit(pb::SubmitRequest {
            entry: Some(fork.to_signed()),
        })
        .await
        .expect_err("equivocation");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freezes_that_concern_the_collector_are_streamed_once_and_resume_exactly() {
    let node = TestNode::start(&fixture_genesis()).await;
    let scene = fixtures::scene(T0);
    let mut ledger = node.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    let me = scene.collector.feed();
    let grant = |purpose| fixtures::grant(me, scene.policy, &[purpose], &[C::Location], T0, None);
    // Alice grants to the collector; Bob only asks for access (no grant).
    let (mut alice, a0) = fixtures::author(Role::Citizen, "alice", T0);
    let a1 = fixtures::append(&mut alice, T0 + DAY, grant(P::Research));
    let (mut bob, b0) = fixtures::author(Role::Citizen, "bob", T0);
    let b1 = fixtures::append(
        &mut bob,
        T0 + DAY,
        fixtures::request(me, RequestKind::Access),
    );
    for e in [&a0, &a1, &b0, &b1] {
        submit_ok(&mut ledger, e).await;
    }
    let mut sdk = Collector::connect(&node.url(), scene.collector.key().clone(), me)
        .await
        .expect("session");
    let mut stream = sdk.watch(Bytes::new(), 100).await.expect("watch");
    let kinds = [
        next(&mut stream).await.kind(),
        next(&mut stream).await.kind(),
        next(&mut stream).await.kind(),
    ];
    assert_eq!(
        kinds,
        [
            pb::WatchKind::Accredited,
            pb::WatchKind::Grant,
            pb::WatchKind::Request
        ]
    );
    // Bob's freeze does not concern the collector (no grant); Alice's does.
    equivocate(
        &mut ledger,
        &bob,
        &b1,
        fixtures::request(me, RequestKind::Erasure),
    )
    .await;
    equivocate(&mut ledger, &alice, &a1, grant(P::ServiceProvision)).await;
    let frozen = next(&mut stream).await;
    assert_eq!(frozen.kind(), pb::WatchKind::Frozen);
    assert_eq!(frozen.feed.as_ref(), &alice.feed().0[..]);
    assert_eq!(frozen.cursor.len(), 24);

    // From the cursor before the freeze: the freeze once, then only heartbeats.
    let before = {
        let mut replay = sdk.watch(Bytes::new(), 100).await.expect("replay");
        let mut last = Bytes::new();
        for _ in 0..3 {
            last = next(&mut replay).await.cursor;
        }
        last
    };
    let mut resumed = sdk.watch(before, 100).await.expect("resume");
    let again = next(&mut resumed).await;
    assert_eq!(
        (again.kind(), again.feed.clone()),
        (pb::WatchKind::Frozen, frozen.feed.clone())
    );
    let mut after = sdk.watch(frozen.cursor.clone(), 100).await.expect("resume");
    let first = tokio::time::timeout(WAIT, after.next())
        .await
        .expect("in time")
        .expect("open")
        .expect("ok");
    assert_eq!(first.kind(), pb::WatchKind::Heartbeat);
    for stream in [&mut resumed, &mut after] {
        let beat = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("in time")
            .expect("open")
            .expect("ok");
        assert_eq!(beat.kind(), pb::WatchKind::Heartbeat, "nothing repeated");
    }
}

/// Many writers at once while a collector watches: every grant is streamed once, on each engine
/// (an engine whose writes become visible to readers a moment after the writer publishes the
/// log size must not make the stream skip them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_misses_nothing_under_concurrent_ingest_on_either_engine() {
    for engine in [
        consent_node::config::Engine::Sled,
        consent_node::config::Engine::Fjall,
    ] {
        let mut node = TestNode::start(&fixture_genesis()).await;
        node.stop().await;
        std::fs::remove_dir_all(&node.dir).expect("fresh dir");
        node.engine = Some(engine);
        node.restart().await;
        let scene = fixtures::scene(T0);
        let mut ledger = node.ledger().await;
        for e in &scene.entries {
            submit_ok(&mut ledger, e).await;
        }
        let me = scene.collector;
        let mut sdk = Collector::connect(&node.url(), me.key().clone(), me.feed())
            .await
            .expect("session");
        let mut stream = sdk.watch(Bytes::new(), 100).await.expect("watch");
        const WRITERS: usize = 8;
        const EACH: usize = 100;
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let (mut ledger, policy, collector) = (node.ledger().await, scene.policy, me.feed());
            writers.push(tokio::spawn(async move {
                for i in 0..EACH {
                    let (mut c, c0) = fixtures::author(Role::Citizen, &format!("w{w}-{i}"), T0);
                    let body = fixtures::grant(
                        collector,
                        policy,
                        &[P::ServiceProvision],
                        &[C::Location],
                        T0,
                        None,
                    );
                    let g = fixtures::append(&mut c, T0 + DAY, body);
                    submit_ok(&mut ledger, &c0).await;
                    submit_ok(&mut ledger, &g).await;
                }
            }));
        }
        let mut grants = std::collections::HashSet::new();
        while grants.len() < WRITERS * EACH {
            let e = next(&mut stream).await;
            if e.kind() == pb::WatchKind::Grant {
                assert!(
                    grants.insert(e.grant.to_vec()),
                    "{engine:?}: a grant streamed twice"
                );
            }
        }
        for w in writers {
            w.await.expect("writer");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_limited_per_collector_and_end_when_its_key_rotates() {
    use consent_node::api::{MAX_STREAMS_PER_COLLECTOR, TOO_MANY_STREAMS};
    let node = TestNode::start(&fixture_genesis()).await;
    let scene = fixtures::scene(T0);
    let mut ledger = node.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    let mut me = scene.collector;
    let session = node.consent(&me).await;
    let watch = |mut s: consent_client::collector::SessionClient| async move {
        s.watch(pb::WatchRequest::default())
            .await
            .map(|r| r.into_inner())
    };
    let mut open = Vec::new();
    for _ in 0..MAX_STREAMS_PER_COLLECTOR {
        open.push(watch(session.clone()).await.expect("watch"));
    }
    let refused = watch(session.clone())
        .await
        .expect_err("one stream too many");
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    assert_eq!(
        refused
            .metadata()
            .get("consent-reason")
            .and_then(|v| v.to_str().ok()),
        Some(TOO_MANY_STREAMS)
    );
    // Closing a stream frees its place, once the node sees it gone.
    drop(open.pop());
    let again = consent_tests::eventually(WAIT, "a freed place", || {
        let s = session.clone();
        async move { watch(s).await.ok() }
    })
    .await;
    open.push(again);

    // Rotating the collector's key ends every stream of the old session: UNAUTHENTICATED,
    // saying what to do.
    let rotation = me
        .rotate(T0 + 1, consent_proto::keys::SecretKey::from_seed(&[42; 32]))
        .expect("rotation");
    submit_ok(&mut ledger, &rotation).await;
    for mut stream in open {
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
        assert!(
            status.message().contains("key changed") && status.message().contains("cursor"),
            "{status}"
        );
        // A machine-readable reason in the trailers.
        assert_eq!(
            status
                .metadata()
                .get("consent-reason")
                .and_then(|v| v.to_str().ok()),
            Some(consent_node::api::KEY_CHANGED)
        );
    }
}
