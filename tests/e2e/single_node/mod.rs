//! One real node on 127.0.0.1: the full consent life cycle and every submit path.

use consent_proto::Entry;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::ids::FeedId;
use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, Purpose as P, Role};
use consent_tests::harness::{TestNode, fixture_genesis, raw_call, submit, submit_ok};
use consent_tests::single::{check_request, setup};
use prost::Message;
use prost::bytes::Bytes;
use tonic::Code;

async fn decision(
    node: &TestNode,
    subject: FeedId,
    collector: FeedId,
) -> (pb::Decision, pb::Reason, pb::CheckResponse) {
    let mut consent = node
        .consent(&consent_tests::harness::scene_collector())
        .await;
    let r = match consent
        .check(check_request(
            subject,
            collector,
            P::ServiceProvision,
            C::Location,
        ))
        .await
    {
        Ok(r) => r.into_inner(),
        Err(e) => panic!("check failed: {e}"),
    };
    (r.decision(), r.reason(), r)
}

#[tokio::test]
async fn grant_allows_revoke_denies_and_reads_work() {
    let mut s = setup().await;
    let collector = s.scene.collector.feed();
    let subject = s.alice.feed();
    let (d, r, _) = decision(&s.node, subject, collector).await;
    assert_eq!((d, r), (pb::Decision::Deny, pb::Reason::NoGrant));

    let mut ledger = s.node.ledger().await;
    let grant = s.grant();
    let receipt = submit_ok(&mut ledger, &grant).await;
    // The receipt is signed by the node and names the entry and its log index.
    let facts = consent_proto::receipt::verify(&receipt.receipt.clone().unwrap_or_default())
        .expect("receipt verifies");
    assert_eq!(facts.entry_id, grant.id);
    assert_eq!(facts.index, 5);
    assert_eq!(
        facts.node,
        s.node.node.as_ref().map(|n| n.key()).expect("running")
    );

    let (d, r, resp) = decision(&s.node, subject, collector).await;
    assert_eq!((d, r), (pb::Decision::Allow, pb::Reason::Granted));
    assert_eq!(resp.grant.as_ref(), grant.id.0.as_slice());
    assert_eq!(resp.subject_head.as_ref(), grant.id.0.as_slice());
    assert_eq!(resp.subject_head_seq, 1);
    assert_eq!(resp.log_size, 6);

    let revoke = fixtures::append(&mut s.alice, T0 + 2 * DAY, fixtures::revoke(grant.id, true));
    submit_ok(&mut ledger, &revoke).await;
    let (d, r, resp) = decision(&s.node, subject, collector).await;
    assert_eq!((d, r), (pb::Decision::Deny, pb::Reason::Revoked));
    assert_eq!(resp.grant.as_ref(), grant.id.0.as_slice());

    // Reads: head, entry, feed stream, status.
    let head = s.node.head(&subject).await;
    assert_eq!(
        (head.seq, head.role(), head.frozen),
        (2, pb::Role::Citizen, false)
    );
    let got = ledger
        .get_entry(pb::GetEntryRequest {
            id: Bytes::copy_from_slice(&grant.id.0),
        })
        .await
        .expect("entry")
        .into_inner()
        .entry
        .expect("present");
    assert_eq!(got.entry.expect("signed").payload, grant.payload);
    let mut stream = ledger
        .get_feed(pb::GetFeedRequest {
            feed: Bytes::copy_from_slice(&subject.0),
            from_seq: 1,
            limit: 0,
        })
        .await
        .expect("feed")
        .into_inner();
    let mut seqs = Vec::new();
    while let Some(item) = stream.message().await.expect("stream") {
        seqs.push(item.seq);
    }
    assert_eq!(seqs, vec![1, 2]);
    let missing = ledger
        .get_entry(pb::GetEntryRequest {
            id: Bytes::from(vec![9; 32]),
        })
        .await
        .expect_err("absent");
    assert_eq!(missing.code(), Code::NotFound);
    let status = s.node.status().await;
    assert_eq!(
        (status.entries, status.feeds, status.network_id.as_str()),
        (7, 3, "test")
    );
    assert!(status.node_id.starts_with("node1"));
}

#[tokio::test]
async fn bad_signature_wrong_prev_and_bad_requests_are_invalid_argument() {
    let mut s = setup().await;
    let mut ledger = s.node.ledger().await;
    let grant = s.grant();
    let mut signed = grant.to_signed();
    let mut sig = signed.signature.to_vec();
    sig[10] ^= 0x40;
    signed.signature = sig.into();
    let err = ledger
        .submit(pb::SubmitRequest {
            entry: Some(signed),
        })
        .await
        .expect_err("bad signature");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("bad-signature"), "{}", err.message());

    let wrong_prev = Entry::sign(
        Some(s.alice.feed()),
        1,
        Some(consent_proto::EntryId([1; 32])),
        T0 + DAY,
        &fixtures::request(
            s.scene.collector.feed(),
            consent_proto::vocab::RequestKind::Access,
        ),
        &fixtures::key("alice/0"),
    )
    .expect("structurally valid");
    let err = submit(&mut ledger, &wrong_prev)
        .await
        .expect_err("wrong prev");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("wrong-prev"), "{}", err.message());

    let err = ledger
        .submit(pb::SubmitRequest { entry: None })
        .await
        .expect_err("missing entry");
    assert_eq!(err.code(), Code::InvalidArgument);
    let mut consent = s
        .node
        .consent(&consent_tests::harness::scene_collector())
        .await;
    let mut bad = check_request(
        s.alice.feed(),
        s.scene.collector.feed(),
        P::Research,
        C::Location,
    );
    bad.subject = Bytes::from_static(b"short");
    assert_eq!(
        consent.check(bad).await.expect_err("short id").code(),
        Code::InvalidArgument
    );
    let mut bad = check_request(
        s.alice.feed(),
        s.scene.collector.feed(),
        P::Research,
        C::Location,
    );
    bad.purpose = 999;
    assert_eq!(
        consent.check(bad).await.expect_err("bad purpose").code(),
        Code::InvalidArgument
    );
    let err = consent
        .check_batch(pb::CheckBatchRequest { checks: vec![] })
        .await
        .expect_err("empty batch");
    assert_eq!(err.code(), Code::InvalidArgument);
    let many = vec![
        check_request(
            s.alice.feed(),
            s.scene.collector.feed(),
            P::Research,
            C::Location
        );
        1001
    ];
    assert_eq!(
        consent
            .check_batch(pb::CheckBatchRequest { checks: many })
            .await
            .expect_err("too many")
            .code(),
        Code::ResourceExhausted
    );
    // Nothing of that was stored.
    let (d, r, _) = decision(&s.node, s.alice.feed(), s.scene.collector.feed()).await;
    assert_eq!((d, r), (pb::Decision::Deny, pb::Reason::NoGrant));
}

#[tokio::test]
async fn a_gap_is_held_pending_and_accepted_once_filled() {
    let mut s = setup().await;
    let mut ledger = s.node.ledger().await;
    let grant = s.grant();
    let revoke = fixtures::append(
        &mut s.alice,
        T0 + 2 * DAY,
        fixtures::revoke(grant.id, false),
    );
    let pending = submit(&mut ledger, &revoke)
        .await
        .expect("pending is not an error");
    assert_eq!(pending.status(), pb::SubmitStatus::Pending);
    assert_eq!(pending.missing.as_ref(), s.alice.feed().0.as_slice());
    assert!(pending.receipt.is_none());
    let status = s.node.status().await;
    assert_eq!(status.pending, 1);

    submit_ok(&mut ledger, &grant).await;
    // The held revocation was accepted in the same commit as its predecessor.
    let head = s.node.head(&s.alice.feed()).await;
    assert_eq!(head.seq, 2);
    let (d, r, _) = decision(&s.node, s.alice.feed(), s.scene.collector.feed()).await;
    assert_eq!((d, r), (pb::Decision::Deny, pb::Reason::Revoked));
    // A cross-feed reference that arrives later: Bob's grant before the collector exists on a fresh node.
    let fresh = TestNode::start(&fixture_genesis()).await;
    let mut l2 = fresh.ledger().await;
    let (mut bob, b0) = fixtures::author(Role::Citizen, "bob", T0);
    submit_ok(&mut l2, &b0).await;
    let g = fixtures::append(
        &mut bob,
        T0 + DAY,
        fixtures::grant(
            s.scene.collector.feed(),
            s.scene.policy,
            &[P::ServiceProvision],
            &[C::Location],
            T0,
            None,
        ),
    );
    assert_eq!(
        submit(&mut l2, &g).await.expect("pending").status(),
        pb::SubmitStatus::Pending
    );
    for e in &s.scene.entries {
        submit_ok(&mut l2, e).await;
    }
    let head = fresh.head(&bob.feed()).await;
    assert_eq!(
        head.seq, 1,
        "bob's grant was accepted once the collector and its policy arrived"
    );
}

#[tokio::test]
async fn a_duplicate_is_idempotent() {
    let mut s = setup().await;
    let mut ledger = s.node.ledger().await;
    let grant = s.grant();
    let first = submit_ok(&mut ledger, &grant).await;
    let again = submit(&mut ledger, &grant)
        .await
        .expect("duplicate is fine");
    assert_eq!(again.status(), pb::SubmitStatus::Duplicate);
    let a = consent_proto::receipt::verify(&first.receipt.unwrap_or_default()).expect("receipt");
    let b = consent_proto::receipt::verify(&again.receipt.unwrap_or_default()).expect("receipt");
    assert_eq!(a.index, b.index);
    let status = s.node.status().await;
    assert_eq!(status.entries, 6);
}

#[tokio::test]
async fn an_equivocation_freezes_the_feed_and_checks_deny() {
    let mut s = setup().await;
    let mut ledger = s.node.ledger().await;
    let grant = s.grant();
    submit_ok(&mut ledger, &grant).await;
    let (d, _, _) = decision(&s.node, s.alice.feed(), s.scene.collector.feed()).await;
    assert_eq!(d, pb::Decision::Allow);
    // A second, different entry at seq 1 signed with Alice's key.
    let fork = Entry::sign(
        Some(s.alice.feed()),
        1,
        grant.prev,
        T0 + DAY,
        &fixtures::grant(
            s.scene.collector.feed(),
            s.scene.policy,
            &[P::Research],
            &[C::Location],
            T0,
            None,
        ),
        &fixtures::key("alice/0"),
    )
    .expect("valid");
    let err = submit(&mut ledger, &fork).await.expect_err("equivocation");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("frozen"), "{}", err.message());
    let (d, r, _) = decision(&s.node, s.alice.feed(), s.scene.collector.feed()).await;
    assert_eq!((d, r), (pb::Decision::Deny, pb::Reason::SubjectFrozen));
    let next = fixtures::append(
        &mut s.alice,
        T0 + 2 * DAY,
        fixtures::revoke(grant.id, false),
    );
    assert_eq!(
        submit(&mut ledger, &next).await.expect_err("frozen").code(),
        Code::FailedPrecondition
    );
    let head = s.node.head(&s.alice.feed()).await;
    assert!(head.frozen);
    let status = s.node.status().await;
    assert_eq!(status.frozen_feeds, 1);
    // The freeze and its proof survive a restart.
    s.node.stop().await;
    s.node.restart().await;
    let (d, r, _) = decision(&s.node, s.alice.feed(), s.scene.collector.feed()).await;
    assert_eq!((d, r), (pb::Decision::Deny, pb::Reason::SubjectFrozen));
    assert_store_consistent(&s.node).await;
}

/// `Ledger.GetEquivocation` for `feed`.
fn evidence_of(feed: FeedId) -> pb::GetEquivocationRequest {
    pb::GetEquivocationRequest {
        feed: Bytes::copy_from_slice(&feed.0),
    }
}

#[tokio::test]
async fn the_evidence_of_an_equivocation_is_served_with_both_entries() {
    let mut s = setup().await;
    let mut ledger = s.node.ledger().await;
    let err = ledger
        .get_equivocation(evidence_of(FeedId([9; 32])))
        .await
        .expect_err("an unknown feed");
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = ledger
        .get_equivocation(pb::GetEquivocationRequest {
            feed: Bytes::from_static(&[1; 5]),
        })
        .await
        .expect_err("not a feed id");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let grant = s.grant();
    submit_ok(&mut ledger, &grant).await;
    let none = ledger
        .get_equivocation(evidence_of(s.alice.feed()))
        .await
        .expect("a known feed")
        .into_inner();
    assert!(!none.frozen && none.equivocations.is_empty(), "{none:?}");

    // A second, different entry at seq 1 signed with Alice's key.
    let fork = Entry::sign(
        Some(s.alice.feed()),
        1,
        grant.prev,
        T0 + DAY,
        &fixtures::request(
            s.scene.collector.feed(),
            consent_proto::vocab::RequestKind::Access,
        ),
        &fixtures::key("alice/0"),
    )
    .expect("valid");
    submit(&mut ledger, &fork).await.expect_err("equivocation");
    // The feed and the entry reads show only the entry the node held...
    let err = ledger
        .get_entry(pb::GetEntryRequest {
            id: Bytes::copy_from_slice(&fork.id.0),
        })
        .await
        .expect_err("the fork is in no feed");
    assert_eq!(err.code(), Code::NotFound);
    // ...and the evidence holds both, the held entry first.
    let evidence = ledger
        .get_equivocation(evidence_of(s.alice.feed()))
        .await
        .expect("evidence")
        .into_inner();
    assert!(evidence.frozen);
    assert_eq!(evidence.feed.as_ref(), s.alice.feed().0.as_slice());
    let [equivocation] = &evidence.equivocations[..] else {
        panic!("one equivocation: {evidence:?}");
    };
    assert_eq!(equivocation.seq, 1);
    let held = Entry::from_signed(&equivocation.held.clone().unwrap_or_default()).expect("held");
    let conflicting = Entry::from_signed(&equivocation.conflicting.clone().unwrap_or_default())
        .expect("conflicting");
    assert_eq!((held.id, conflicting.id), (grant.id, fork.id));
    // Anyone can check it: one feed, one seq, two entries, both signed by the key in force.
    let key = fixtures::key("alice/0").public();
    assert_eq!((held.feed, held.seq), (conflicting.feed, conflicting.seq));
    assert!(held.verify(&key) && conflicting.verify(&key));
    // Kept across a restart.
    s.node.stop().await;
    s.node.restart().await;
    let again = s
        .node
        .ledger()
        .await
        .get_equivocation(evidence_of(s.alice.feed()))
        .await
        .expect("evidence after a restart")
        .into_inner();
    assert_eq!(again, evidence);
}

#[tokio::test]
async fn oversized_and_garbage_input_is_refused_and_the_node_keeps_serving() {
    let s = setup().await;
    let url = s.node.url();
    // Garbage bytes as a SubmitRequest.
    let err = raw_call(&url, "/consent.v1.Ledger/Submit", vec![0xFF; 64])
        .await
        .expect_err("garbage");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    // A well-formed request whose entry is garbage.
    let garbage_entry = pb::SubmitRequest {
        entry: Some(pb::SignedEntry {
            payload: Bytes::from(vec![0xAB; 200]),
            signature: Bytes::from(vec![1; 64]),
        }),
    };
    let err = raw_call(
        &url,
        "/consent.v1.Ledger/Submit",
        garbage_entry.encode_to_vec(),
    )
    .await
    .expect_err("bad entry");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    // An entry over the 8 KiB limit.
    let big = pb::SubmitRequest {
        entry: Some(pb::SignedEntry {
            payload: Bytes::from(vec![0; 9000]),
            signature: Bytes::from(vec![1; 64]),
        }),
    };
    let err = raw_call(&url, "/consent.v1.Ledger/Submit", big.encode_to_vec())
        .await
        .expect_err("too large");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    // A message over the 4 MiB gRPC limit is refused by the transport before it is buffered
    // (tonic answers OUT_OF_RANGE for this one limit).
    let err = raw_call(
        &url,
        "/consent.v1.Ledger/SubmitBatch",
        vec![0; 5 * 1024 * 1024],
    )
    .await
    .expect_err("huge");
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    // A batch over 1,000 entries, and a batch with one bad entry among good ones.
    let mut ledger = s.node.ledger().await;
    let err = ledger
        .submit_batch(pb::SubmitBatchRequest {
            entries: vec![pb::SignedEntry::default(); 1001],
        })
        .await
        .expect_err("batch too large");
    assert_eq!(err.code(), Code::ResourceExhausted);
    let (_, carol) = fixtures::author(Role::Citizen, "carol", T0);
    let results = ledger
        .submit_batch(pb::SubmitBatchRequest {
            entries: vec![pb::SignedEntry::default(), carol.to_signed()],
        })
        .await
        .expect("batch")
        .into_inner()
        .results;
    assert_eq!(results[0].error_code, Code::InvalidArgument as u32);
    assert_eq!(results[0].error_reason, "bad-signature-length");
    assert_eq!(
        results[1].response.as_ref().map(|r| r.status()),
        Some(pb::SubmitStatus::Accepted)
    );
    // Still serving.
    let status = s.node.status().await;
    assert_eq!(status.entries, 6);
}

#[tokio::test]
async fn restart_keeps_every_acknowledged_entry_and_decision() {
    let mut s = setup().await;
    let mut ledger = s.node.ledger().await;
    let grant = s.grant();
    submit_ok(&mut ledger, &grant).await;
    let (bob, b0) = fixtures::author(Role::Citizen, "bob", T0);
    submit_ok(&mut ledger, &b0).await;
    let before_alice = decision(&s.node, s.alice.feed(), s.scene.collector.feed()).await;
    let before_bob = decision(&s.node, bob.feed(), s.scene.collector.feed()).await;
    s.node.stop().await;
    s.node.restart().await;
    let after_alice = decision(&s.node, s.alice.feed(), s.scene.collector.feed()).await;
    let after_bob = decision(&s.node, bob.feed(), s.scene.collector.feed()).await;
    assert_eq!(
        (before_alice.0, before_alice.1),
        (after_alice.0, after_alice.1)
    );
    assert_eq!((before_bob.0, before_bob.1), (after_bob.0, after_bob.1));
    assert_eq!(after_alice.0, pb::Decision::Allow);
    let mut ledger = s.node.ledger().await;
    assert_eq!(
        submit(&mut ledger, &grant).await.expect("dup").status(),
        pb::SubmitStatus::Duplicate
    );
    assert_store_consistent(&s.node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_submits_are_all_acknowledged_and_survive_restart() {
    let mut s = setup().await;
    let url = s.node.url();
    // 1,000 citizens, each submitting its inception and a grant, from 50 tasks.
    let mut tasks = Vec::new();
    for t in 0..50 {
        let url = url.clone();
        let collector = s.scene.collector.feed();
        let policy = s.scene.policy;
        tasks.push(tokio::spawn(async move {
            let channel = tonic::transport::Channel::from_shared(url)
                .expect("url")
                .connect()
                .await
                .expect("connect");
            let mut client = pb::ledger_client::LedgerClient::new(channel);
            let mut acknowledged = Vec::new();
            for i in 0..10 {
                let (mut c, c0) = fixtures::author(Role::Citizen, &format!("c-{t}-{i}"), T0);
                let g = fixtures::append(
                    &mut c,
                    T0 + DAY,
                    fixtures::grant(
                        collector,
                        policy,
                        &[P::ServiceProvision],
                        &[C::Location],
                        T0,
                        None,
                    ),
                );
                for e in [c0, g] {
                    let r = submit(&mut client, &e).await.expect("submit");
                    assert_eq!(r.status(), pb::SubmitStatus::Accepted);
                    acknowledged.push((c.feed(), e.id));
                }
            }
            acknowledged
        }));
    }
    let mut acknowledged = Vec::new();
    for t in tasks {
        acknowledged.extend(t.await.expect("task"));
    }
    assert_eq!(acknowledged.len(), 1_000);
    s.node.stop().await;
    s.node.restart().await;
    let mut ledger = s.node.ledger().await;
    for (_, id) in &acknowledged {
        ledger
            .get_entry(pb::GetEntryRequest {
                id: Bytes::copy_from_slice(&id.0),
            })
            .await
            .unwrap_or_else(|e| panic!("acknowledged entry {id} lost: {e}"));
    }
    let (feed, _) = acknowledged[999];
    let (d, _, _) = decision(&s.node, feed, s.scene.collector.feed()).await;
    assert_eq!(d, pb::Decision::Allow);
    let status = s.node.status().await;
    assert_eq!(status.entries, 5 + 1_000);
    assert_store_consistent(&s.node).await;
}

/// Runs the full store check (replay of every entry) on a running node's store.
async fn assert_store_consistent(node: &TestNode) {
    let ledger = node.node.as_ref().expect("running").ledger().clone();
    let result = tokio::task::spawn_blocking(move || ledger.full_check())
        .await
        .expect("join");
    if let Err(report) = result {
        panic!("store check failed: {report}");
    }
}

#[tokio::test]
async fn a_corrupt_store_is_refused_with_a_clear_message() {
    let mut s = setup().await;
    let mut ledger = s.node.ledger().await;
    let grant = s.grant();
    submit_ok(&mut ledger, &grant).await;
    s.node.stop().await;
    {
        // Remove Alice's head entry from the seq index behind the node's back, and the
        // start-up position the stop saved after it: without one the start checks the whole
        // store (damage before a sound position is left to `consentd check-store`).
        let store = consent_node::node::open_store(&s.node.dir, None).expect("open");
        store
            .apply(vec![
                (
                    consent_node::ledger::tables::seq_key(&s.alice.feed(), 1),
                    None,
                ),
                (consent_node::ledger::tables::meta::STARTUP.to_vec(), None),
            ])
            .expect("tamper");
        store.flush().expect("flush");
    }
    let err = match consent_node::Node::start(s.node.config()).await {
        Ok(_) => panic!("a corrupt store was served"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("inconsistent") && err.contains("seq 1"),
        "{err}"
    );
    assert!(err.contains("backup"), "the message says what to do: {err}");
}

#[tokio::test]
async fn a_store_of_another_network_is_refused() {
    let mut s = setup().await;
    s.node.stop().await;
    let mut config = s.node.config();
    let other = consent_tests::harness::write_genesis(
        s.node.dir.parent().expect("parent"),
        &consent_node::genesis::Genesis {
            network_id: "elsewhere".into(),
            ..fixture_genesis()
        },
    );
    config.genesis = Some(other);
    let err = match consent_node::Node::start(config).await {
        Ok(_) => panic!("a store of another network was served"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("genesis digest"), "{err}");
}

#[tokio::test]
async fn the_pending_store_is_bounded() {
    let genesis = fixture_genesis();
    let mut node = TestNode::start(&genesis).await;
    node.stop().await;
    let mut config = node.config();
    config.ledger.max_pending = 2;
    node.node = Some(consent_node::Node::start(config).await.expect("start"));
    let mut ledger = node.ledger().await;
    let request = || fixtures::request(FeedId([1; 32]), consent_proto::vocab::RequestKind::Access);
    // Entries of feeds whose inception never arrives (unverifiable) wait pending, up to the
    // bound; past it, this client's own oldest one gives way.
    for i in 0..3 {
        let (mut c, _) = fixtures::author(Role::Citizen, &format!("orphan-{i}"), T0);
        let e = fixtures::append(&mut c, T0, request());
        let got = submit(&mut ledger, &e)
            .await
            .map(|r| r.status())
            .map_err(|s| s.code());
        assert_eq!(got, Ok(pb::SubmitStatus::Pending), "orphan {i}");
    }
    let status = node.status().await;
    assert_eq!((status.pending, status.pending_evicted), (2, 1));
    // Entries signed by a known feed's key past a gap (verified) take the place of this client's
    // unverifiable ones; once it holds only verified entries, one more is refused.
    let (mut bob, b0) = fixtures::author(Role::Citizen, "bob", T0);
    submit_ok(&mut ledger, &b0).await;
    let _withheld = fixtures::append(&mut bob, T0, request());
    for (seq, expected) in [
        (2, Ok(pb::SubmitStatus::Pending)),
        (3, Ok(pb::SubmitStatus::Pending)),
        (4, Err(Code::ResourceExhausted)),
    ] {
        let e = fixtures::append(&mut bob, T0, request());
        let got = submit(&mut ledger, &e)
            .await
            .map(|r| r.status())
            .map_err(|s| s.code());
        assert_eq!(got, expected, "seq {seq}");
    }
    let status = node.status().await;
    assert_eq!((status.pending, status.pending_evicted), (2, 3));
}

#[tokio::test]
async fn the_sled_engine_serves_the_same_and_a_data_dir_keeps_its_engine() {
    let mut s = setup().await;
    // Move the same scenario onto a sled node (fjall is the default for a new directory).
    s.node.stop().await;
    let mut node = TestNode::start(&fixture_genesis()).await;
    node.stop().await;
    assert!(node.dir.join("fjall").exists(), "a new node is on fjall");
    node.engine = Some(consent_node::config::Engine::Sled);
    let _ = std::fs::remove_dir_all(node.dir.join("fjall"));
    node.restart().await;
    let mut ledger = node.ledger().await;
    for e in &s.scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    let (_, a0) = fixtures::author(Role::Citizen, "alice", T0);
    submit_ok(&mut ledger, &a0).await;
    let grant = s.grant();
    submit_ok(&mut ledger, &grant).await;
    let (d, _, _) = decision(&node, s.alice.feed(), s.scene.collector.feed()).await;
    assert_eq!(d, pb::Decision::Allow);
    // With no engine configured, the node opens the store the directory holds.
    node.stop().await;
    node.engine = None;
    node.restart().await;
    assert!(!node.dir.join("fjall").exists(), "no second store was made");
    let (d, _, _) = decision(&node, s.alice.feed(), s.scene.collector.feed()).await;
    assert_eq!(d, pb::Decision::Allow);
    assert_store_consistent(&node).await;
    // The same data directory under the other engine, asked for, is refused.
    node.stop().await;
    let mut config = node.config();
    config.store.engine = Some(consent_node::config::Engine::Fjall);
    let err = match consent_node::Node::start(config).await {
        Ok(_) => panic!("a sled data directory was opened as fjall"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("engine = \"sled\""), "{err}");
}

/// The address files say where a running node listens; a clean stop removes every one of them.
#[tokio::test]
async fn a_clean_stop_removes_every_address_file() {
    use consent_node::node::{ADDR_FILE, METRICS_ADDR_FILE, P2P_ADDR_FILE, SITE_ADDR_FILE};
    let mut node = TestNode::start(&fixture_genesis()).await;
    let files = [ADDR_FILE, P2P_ADDR_FILE, METRICS_ADDR_FILE, SITE_ADDR_FILE];
    for name in files {
        assert!(node.dir.join(name).exists(), "{name} while running");
    }
    node.stop().await;
    for name in files {
        assert!(!node.dir.join(name).exists(), "{name} after a clean stop");
    }
}

/// A client that stops polling its connection (a suspended process) cannot hold up a node's
/// stop beyond the drain time: without the bound, the stop waited for HTTP/2 keepalive to give
/// up on it, close to a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_does_not_hold_up_a_stop() {
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().expect("tempdir");
    let config = consent_node::config::Config {
        data_dir: dir.path().join("node"),
        grpc_listen: "127.0.0.1:0".parse().expect("addr"),
        grpc: consent_node::config::GrpcSection {
            drain: Duration::from_millis(300),
            ..Default::default()
        },
        ..consent_node::config::Config::default()
    };
    let node = consent_node::Node::start(config).await.expect("node");
    let url = node.grpc_url();
    // A client on a runtime of its own that answers one call, then is never polled again.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let frozen = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let channel = runtime.block_on(async {
            let channel = tonic::transport::Channel::from_shared(url)
                .expect("url")
                .connect()
                .await
                .expect("connect");
            pb::node_client::NodeClient::new(channel.clone())
                .status(pb::StatusRequest {})
                .await
                .expect("status");
            channel
        });
        ready_tx.send(()).expect("ready");
        let _ = release_rx.recv();
        drop((channel, runtime));
    });
    ready_rx.recv().expect("the client made its call");
    let started = Instant::now();
    node.shutdown();
    tokio::time::timeout(Duration::from_secs(15), node.join())
        .await
        .expect("the stop is not held up by the frozen client")
        .expect("stops cleanly");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    drop(release_tx);
    frozen.join().expect("client thread");
}

/// Supervision: when the ledger's writer thread dies (an injected panic, as a bug would), the
/// node stops by itself with an error that names it, within the drain bound, and nothing it
/// acknowledged is lost: started again on the same data directory, it holds every entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_writer_stops_the_node_with_a_clear_error_and_loses_nothing_acknowledged() {
    use std::time::Duration;

    let mut node = TestNode::start(&fixture_genesis()).await;
    let scene = fixtures::scene(T0);
    let mut ledger = node.ledger().await;
    for e in &scene.entries {
        submit_ok(&mut ledger, e).await;
    }
    let acknowledged = scene.entries.len() as u64;
    let running = node.node.take().expect("running");
    running.ledger().inject_writer_fault().await;
    let ended = tokio::time::timeout(Duration::from_secs(30), running.join())
        .await
        .expect("the node stops by itself");
    let error = ended.expect_err("a dead writer is an error, not a clean stop");
    assert!(error.to_string().contains("writer"), "{error}");
    node.restart().await;
    assert_eq!(node.status().await.entries, acknowledged);
}
