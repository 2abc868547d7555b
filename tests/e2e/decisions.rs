//! Decisions beyond allow and deny on one node: freshness demands, consistency tokens and
//! signed decision receipts.

use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, Purpose as P};
use consent_tests::harness::submit_ok;
use consent_tests::single::{check_request, setup};

#[tokio::test]
async fn a_node_without_peers_never_meets_a_freshness_demand() {
    let mut s = setup().await;
    let grant = s.grant();
    submit_ok(&mut s.node.ledger().await, &grant).await;
    let mut consent = s
        .node
        .consent(&consent_tests::harness::scene_collector())
        .await;
    let mut question = check_request(
        s.alice.feed(),
        s.scene.collector.feed(),
        P::ServiceProvision,
        C::Location,
    );
    let r = consent
        .check(question.clone())
        .await
        .expect("check")
        .into_inner();
    assert_eq!(r.decision(), pb::Decision::Allow);
    assert_eq!(r.peer_contact_ms, 0, "no peer ever heard from");
    question.max_staleness_ms = 60_000;
    let r = consent
        .check(question.clone())
        .await
        .expect("check")
        .into_inner();
    assert_eq!(
        (r.decision(), r.reason()),
        (pb::Decision::Deny, pb::Reason::NodeNotFresh)
    );
    // The consistency token of an entry the node holds is met.
    question.max_staleness_ms = 0;
    question.min_subject_seq = grant.seq;
    let r = consent
        .check(question.clone())
        .await
        .expect("check")
        .into_inner();
    assert_eq!(r.decision(), pb::Decision::Allow);
    question.min_subject_seq = grant.seq + 1;
    let r = consent.check(question).await.expect("check").into_inner();
    assert_eq!(r.reason(), pb::Reason::NodeNotFresh);
}

#[tokio::test]
async fn decision_receipts_are_signed_by_the_node_and_verify_offline() {
    let mut s = setup().await;
    let grant = s.grant();
    submit_ok(&mut s.node.ledger().await, &grant).await;
    let mut consent = s
        .node
        .consent(&consent_tests::harness::scene_collector())
        .await;
    let mut question = check_request(
        s.alice.feed(),
        s.scene.collector.feed(),
        P::ServiceProvision,
        C::Location,
    );
    let plain = consent
        .check(question.clone())
        .await
        .expect("check")
        .into_inner();
    assert!(plain.receipt.is_none(), "only on request");
    question.receipt = true;
    let r = consent
        .check(question.clone())
        .await
        .expect("check")
        .into_inner();
    let receipt = r.receipt.clone().expect("a receipt");
    let (node, said) = consent_proto::receipt::verify_decision(&receipt).expect("verifies");
    assert_eq!(
        node.to_bytes().as_slice(),
        s.node.status().await.node_key.as_ref()
    );
    // The question as asked, its at_ms (0: now) set to the time the node decided.
    let mut asked = question.clone();
    asked.at_ms = said.time_ms;
    assert_eq!(said.question.as_ref(), Some(&asked));
    assert_eq!(said.at_ms, said.time_ms);
    assert_eq!(
        (said.decision(), said.reason()),
        (pb::Decision::Allow, pb::Reason::Granted)
    );
    assert_eq!(said.grant.as_ref(), grant.id.0.as_slice());
    assert_eq!(said.subject_head_seq, r.subject_head_seq);
    assert_eq!(said.log_size, r.log_size);
    // In a batch, each decision carries its own receipt.
    let batch = consent
        .check_batch(pb::CheckBatchRequest {
            checks: vec![question.clone(), question],
        })
        .await
        .expect("batch")
        .into_inner();
    for d in batch.decisions {
        let receipt = d.receipt.expect("receipt");
        assert!(consent_proto::receipt::verify_decision(&receipt).is_ok());
    }
}

#[tokio::test]
async fn decision_receipts_carry_the_checkpoint_and_prove_the_grant_and_its_revocation() {
    use consent_proto::evidence::{WitnessPolicy, verify_decision};
    let mut s = setup().await;
    let grant = s.grant();
    submit_ok(&mut s.node.ledger().await, &grant).await;
    let revoke = consent_proto::fixtures::append(
        &mut s.alice,
        consent_proto::fixtures::T0 + 3 * consent_proto::fixtures::DAY,
        consent_proto::fixtures::revoke(grant.id, true),
    );
    submit_ok(&mut s.node.ledger().await, &revoke).await;
    let size = s.node.status().await.entries;
    let mut consent = s
        .node
        .consent(&consent_tests::harness::scene_collector())
        .await;
    let mut question = check_request(
        s.alice.feed(),
        s.scene.collector.feed(),
        P::ServiceProvision,
        C::Location,
    );
    question.receipt = true;
    // Once a checkpoint covers the revocation, the receipt proves both entries in it.
    let receipt = consent_tests::eventually(
        std::time::Duration::from_secs(20),
        "a checkpoint covering the revocation",
        || {
            let mut consent = consent.clone();
            let question = question.clone();
            async move {
                let r = consent.check(question).await.ok()?.into_inner();
                let receipt = r.receipt?;
                receipt.revocation_inclusion.is_some().then_some(receipt)
            }
        },
    )
    .await;
    let v = verify_decision(&receipt, &WitnessPolicy::default()).expect("verifies offline");
    assert_eq!(v.payload.reason(), pb::Reason::Revoked);
    assert!(v.grant_included && v.revocation_included);
    assert!(v.checkpoint.expect("checkpoint").size >= size);
    // The signed payload names the revocation, so a proof of another entry in its place (here
    // the grant's, valid in itself) makes the receipt invalid.
    assert_eq!(v.payload.revocation.as_ref(), revoke.id.0.as_slice());
    assert_eq!(v.when, pb::QuestionTime::Current);
    let mut swapped = receipt.clone();
    swapped.revocation_inclusion = swapped.grant_inclusion.clone();
    assert!(verify_decision(&swapped, &WitnessPolicy::default()).is_err());
    let p = receipt.revocation_inclusion.expect("proof");
    assert_eq!(p.entry_id.as_ref(), revoke.id.0.as_slice());
    // A single node has no witnesses: a policy that asks for one refuses the receipt.
    let strangers = vec![s.node.status().await.node_id];
    let policy = WitnessPolicy::new(&strangers, 1).expect("policy");
    let mut again = consent.check(question).await.expect("check").into_inner();
    assert!(verify_decision(&again.receipt.take().expect("receipt"), &policy).is_err());
}

#[tokio::test]
async fn a_question_about_the_past_is_marked_so_in_the_answer_and_its_signed_receipt() {
    use consent_proto::evidence::{WitnessPolicy, verify_decision};
    use consent_proto::fixtures::{self, DAY, T0};
    let mut s = setup().await;
    // A grant that lapsed long ago: allowed then, expired now.
    let body = fixtures::grant(
        s.scene.collector.feed(),
        s.scene.policy,
        &[P::ServiceProvision],
        &[C::Location],
        T0,
        Some(T0 + 2 * DAY),
    );
    let grant = fixtures::append(&mut s.alice, T0 + DAY, body);
    submit_ok(&mut s.node.ledger().await, &grant).await;
    let mut consent = s
        .node
        .consent(&consent_tests::harness::scene_collector())
        .await;
    let mut question = check_request(
        s.alice.feed(),
        s.scene.collector.feed(),
        P::ServiceProvision,
        C::Location,
    );
    question.receipt = true;
    let now = consent
        .check(question.clone())
        .await
        .expect("check")
        .into_inner();
    assert_eq!(
        (now.decision(), now.reason(), now.when()),
        (
            pb::Decision::Deny,
            pb::Reason::Expired,
            pb::QuestionTime::Current
        )
    );
    // Asked about a day when the grant was in force: allow, marked as a past question, in the
    // answer and in the signed payload a verifier reads.
    question.at_ms = T0 + DAY;
    let then = consent.check(question).await.expect("check").into_inner();
    assert_eq!(
        (then.decision(), then.reason(), then.when()),
        (
            pb::Decision::Allow,
            pb::Reason::Granted,
            pb::QuestionTime::Past
        )
    );
    assert_eq!(then.at_ms, T0 + DAY);
    let v = verify_decision(&then.receipt.expect("receipt"), &WitnessPolicy::default())
        .expect("verifies offline");
    assert_eq!((v.at_ms, v.when), (T0 + DAY, pb::QuestionTime::Past));
    assert_eq!(
        (v.payload.at_ms, v.payload.when()),
        (T0 + DAY, pb::QuestionTime::Past)
    );
    assert!(v.payload.time_ms > v.at_ms + DAY);
}
