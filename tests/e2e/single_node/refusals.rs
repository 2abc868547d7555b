//! What one node refuses, and that it keeps serving: a bad signature, a wrong `prev`, malformed
//! check requests and batches, garbage bytes, oversized entries, messages and batches.

use consent_proto::Entry;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::pb;
use consent_proto::vocab::{DataCategory as C, Purpose as P, Role};
use consent_tests::harness::{raw_call, submit};
use consent_tests::single::{check_request, setup};
use prost::Message;
use prost::bytes::Bytes;
use tonic::Code;

use super::decision;

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
