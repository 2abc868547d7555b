//! Receipts signed in groups (`consent-receipt-form: group`): the receipts of one call, and of
//! calls waiting together, share one signature over a Merkle root; each still verifies on its
//! own; a call that does not ask gets each receipt signed alone, as before.

use consent_client::node::grouped;
use consent_proto::evidence::{WitnessPolicy, verify_decision};
use consent_proto::fixtures::{self, T0};
use consent_proto::pb;
use consent_proto::receipt::{self, group};
use consent_proto::vocab::{DataCategory as C, Purpose as P, Role};
use consent_tests::harness::submit_ok;
use consent_tests::single::{check_request, setup};
use tonic::service::Interceptor;

#[tokio::test]
async fn a_batchs_receipts_share_one_signature_and_each_verifies_alone() {
    let s = setup().await;
    let mut ledger = s.node.ledger().await;
    let inceptions: Vec<_> = (0..50)
        .map(|i| fixtures::author(Role::Citizen, &format!("group/{i}"), T0).1)
        .collect();
    let signed = |entries: &[consent_proto::Entry]| pb::SubmitBatchRequest {
        entries: entries.iter().map(|e| e.to_signed()).collect(),
    };
    let answer = ledger
        .submit_batch(grouped(signed(&inceptions)))
        .await
        .expect("batch")
        .into_inner();
    let receipts: Vec<pb::Receipt> = answer
        .results
        .iter()
        .map(|r| {
            let response = r.response.as_ref().expect("accepted");
            assert_eq!(response.status(), pb::SubmitStatus::Accepted);
            response.receipt.clone().expect("a receipt")
        })
        .collect();
    // One call's receipts are never split between groups: one signature for all fifty.
    let first = receipts[0].group.clone().expect("signed in a group");
    assert!(first.size >= 50, "{}", first.size);
    let mut places = std::collections::HashSet::new();
    for (r, entry) in receipts.iter().zip(&inceptions) {
        assert_eq!(r.signature, receipts[0].signature, "one signature");
        let place = r.group.as_ref().expect("a place");
        assert_eq!(place.size, first.size);
        assert!(places.insert(place.index), "each receipt its own leaf");
        let facts = receipt::verify(r).expect("verifies alone");
        assert_eq!(facts.entry_id, entry.id);
        // Its payload at another place, or without its place, does not verify.
        let mut moved = r.clone();
        if let Some(p) = moved.group.as_mut() {
            p.index = (p.index + 1) % p.size;
        }
        assert!(receipt::verify(&moved).is_err());
        let alone = pb::Receipt {
            group: None,
            ..r.clone()
        };
        assert!(receipt::verify(&alone).is_err());
    }
    // Without the metadata (a client of before groups): each signed alone, as before.
    let again = ledger
        .submit_batch(signed(&inceptions[..3]))
        .await
        .expect("batch")
        .into_inner();
    for r in again.results {
        let response = r.response.expect("duplicate");
        assert_eq!(response.status(), pb::SubmitStatus::Duplicate);
        let receipt = response.receipt.expect("a receipt");
        assert!(receipt.group.is_none());
        receipt::verify(&receipt).expect("verifies");
    }
    // One entry, grouped: a group of its own when nothing else waits, and it verifies.
    let (_, lone) = fixtures::author(Role::Citizen, "group/lone", T0);
    let r = ledger
        .submit(grouped(pb::SubmitRequest {
            entry: Some(lone.to_signed()),
        }))
        .await
        .expect("submit")
        .into_inner();
    let receipt = r.receipt.expect("a receipt");
    assert!(receipt.group.is_some());
    assert_eq!(
        receipt::verify(&receipt).expect("verifies").entry_id,
        lone.id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_receipts_of_concurrent_checks_are_grouped_and_verify_offline() {
    let mut s = setup().await;
    let grant = s.grant();
    submit_ok(&mut s.node.ledger().await, &grant).await;
    // The SDK's session asks for groups.
    let consent = s
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
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let (mut consent, question) = (consent.clone(), question.clone());
            tokio::spawn(async move { consent.check(question).await })
        })
        .collect();
    for call in calls {
        let answer = call.await.expect("joined").expect("check").into_inner();
        let receipt = answer.receipt.expect("a receipt");
        assert!(receipt.group.is_some(), "grouped on request");
        let v = verify_decision(&receipt, &WitnessPolicy::default()).expect("verifies offline");
        assert_eq!(v.payload.decision(), pb::Decision::Allow);
    }
    // Once a checkpoint covers the grant, a check whose facts and proof are kept is answered
    // from memory: its receipt carries the same evidence and verifies offline.
    let first = consent_tests::eventually(
        std::time::Duration::from_secs(20),
        "a checkpoint covering the grant",
        || {
            let (mut consent, question) = (consent.clone(), question.clone());
            async move {
                let receipt = consent.check(question).await.ok()?.into_inner().receipt?;
                receipt.grant_inclusion.is_some().then_some(receipt)
            }
        },
    )
    .await;
    let mut again = consent.clone();
    let kept = again
        .check(question.clone())
        .await
        .expect("check")
        .into_inner()
        .receipt
        .expect("a receipt");
    assert_eq!(kept.grant_inclusion, first.grant_inclusion);
    assert_eq!(kept.checkpoint, first.checkpoint);
    let v = verify_decision(&kept, &WitnessPolicy::default()).expect("verifies offline");
    assert!(v.checkpoint.is_some());
    // A batch's receipts: one group, one signature, each verifies.
    let mut batch_client = consent.clone();
    let batch = batch_client
        .check_batch(pb::CheckBatchRequest {
            checks: vec![question.clone(); 20],
        })
        .await
        .expect("batch")
        .into_inner();
    let signature = batch.decisions[0]
        .receipt
        .as_ref()
        .expect("a receipt")
        .signature
        .clone();
    for d in &batch.decisions {
        let receipt = d.receipt.as_ref().expect("a receipt");
        assert_eq!(receipt.signature, signature);
        assert!(receipt.group.as_ref().is_some_and(|g| g.size >= 20));
        receipt::verify_decision(receipt).expect("verifies");
    }
    // A session that does not ask: signed alone.
    let channel = tonic::transport::Channel::from_shared(s.node.url())
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let (token, _) = consent_client::collector::authenticate(
        channel.clone(),
        consent_tests::harness::scene_collector().key(),
        s.scene.collector.feed(),
    )
    .await
    .expect("session");
    let mut bearer = consent_client::collector::Bearer::new(&token).expect("token");
    let mut alone = pb::consent_client::ConsentClient::with_interceptor(channel, move |r| {
        let mut r = bearer.call(r)?;
        r.metadata_mut().remove(group::FORM_KEY);
        Ok(r)
    });
    let answer = alone.check(question).await.expect("check").into_inner();
    let receipt = answer.receipt.expect("a receipt");
    assert!(receipt.group.is_none());
    receipt::verify_decision(&receipt).expect("verifies");
    // Signed alone on a blocking thread, or built from memory for a group: the same receipt
    // but for the times and the signature's form.
    let timeless = |r: &pb::DecisionReceipt| {
        let (_, mut p) = receipt::verify_decision(r).expect("verifies");
        (p.time_ms, p.at_ms) = (0, 0);
        if let Some(q) = p.question.as_mut() {
            q.at_ms = 0;
        }
        p
    };
    assert_eq!(timeless(&receipt), timeless(&kept));
    assert_eq!(
        (&receipt.checkpoint, &receipt.grant_inclusion),
        (&kept.checkpoint, &kept.grant_inclusion)
    );
}
