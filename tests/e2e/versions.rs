//! What a client can rely on across versions: `Status` names the protocol versions a node
//! speaks, every refusal of an entry carries its `RejectionReason` (status details, metadata,
//! batch results, and the SDK's types), and input the node would otherwise drop unseen (an
//! unknown field in a `SignedEntry`) or an empty batch is refused with INVALID_ARGUMENT.

use consent_proto::pb::{self, RejectionReason};
use consent_proto::reasons;
use consent_tests::harness::raw_call;
use consent_tests::single::setup;
use prost::Message;
use prost::bytes::Bytes;
use tonic::Code;

/// A `SignedEntry` with a third field, which the real one does not have.
#[derive(Clone, PartialEq, Message)]
struct WideEntry {
    #[prost(bytes = "bytes", tag = "1")]
    payload: Bytes,
    #[prost(bytes = "bytes", tag = "2")]
    signature: Bytes,
    #[prost(uint64, tag = "3")]
    extra: u64,
}

/// `SubmitRequest` holding a [`WideEntry`].
#[derive(Clone, PartialEq, Message)]
struct WideRequest {
    #[prost(message, optional, tag = "1")]
    entry: Option<WideEntry>,
}

/// `SubmitBatchRequest` holding [`WideEntry`]s.
#[derive(Clone, PartialEq, Message)]
struct WideBatch {
    #[prost(message, repeated, tag = "1")]
    entries: Vec<WideEntry>,
}

fn wide(entry: &consent_proto::Entry, extra: u64) -> WideEntry {
    WideEntry {
        payload: entry.payload.clone(),
        signature: Bytes::copy_from_slice(&entry.signature),
        extra,
    }
}

fn consent_reason(status: &tonic::Status) -> Option<&str> {
    status
        .metadata()
        .get(reasons::REASON_METADATA_KEY)
        .and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn status_reports_the_protocol_versions_the_node_speaks() {
    let s = setup().await;
    let status = s.node.status().await;
    let digest = &status.genesis_digest;
    assert_eq!(
        status.sync_protocols,
        vec![consent_node::p2p::protocol::sync_protocol(digest)]
    );
    // Entries may carry delegations, undelegations, endorsements and on_behalf (issue 22): a
    // node of /sync/4 would find them non-canonical.
    assert!(status.sync_protocols[0].ends_with("/sync/5"), "{status:?}");
    assert_eq!(
        status.identify_version,
        consent_node::p2p::protocol::identify_version(digest)
    );
    assert!(status.identify_version.ends_with("/5.0.0"), "{status:?}");
    assert_eq!(
        status.rejection_reasons_version,
        reasons::REJECTION_REASONS_VERSION
    );
    // Reasons 49-58 (delegation; 58, delegated-entry-too-old, refused at admission) are
    // version 4.
    assert_eq!(status.rejection_reasons_version, 4);
    assert_eq!(
        status.store_layout_version,
        consent_node::ledger::tables::SCHEMA_VERSION
    );
    // Block rows and the start-up position (issue 23): layout 8; delegating marks: 9.
    assert_eq!(status.store_layout_version, 9);
    // The fixture genesis requires no consultation.
    assert_eq!(status.consultation, None);
}

#[tokio::test]
async fn refusals_carry_the_rejection_reason_everywhere() {
    let mut s = setup().await;
    let grant = s.grant();
    let mut forged = grant.to_signed();
    let mut signature = forged.signature.to_vec();
    signature[0] ^= 1;
    forged.signature = signature.into();
    let mut ledger = s.node.ledger().await;

    // Submit: the status details and the metadata.
    let err = ledger
        .submit(pb::SubmitRequest {
            entry: Some(forged.clone()),
        })
        .await
        .expect_err("forged");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(reasons::from_status(&err), RejectionReason::BadSignature);
    let detail = reasons::from_details(err.details()).expect("details");
    assert_eq!(
        (detail.reason(), detail.code.as_str()),
        (RejectionReason::BadSignature, "bad-signature")
    );
    assert_eq!(consent_reason(&err), Some("bad-signature"));

    // SubmitBatch: each result.
    let results = ledger
        .submit_batch(pb::SubmitBatchRequest {
            entries: vec![forged.clone(), pb::SignedEntry::default()],
        })
        .await
        .expect("batch")
        .into_inner()
        .results;
    assert_eq!(
        results
            .iter()
            .map(|r| (r.rejection_reason(), r.error_reason.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (RejectionReason::BadSignature, "bad-signature"),
            (RejectionReason::BadSignatureLength, "bad-signature-length"),
        ]
    );

    // The SDK: typed results a client matches on.
    let mut client = consent_client::node::NodeConnection::connect(&s.node.url())
        .await
        .expect("connect");
    let forged_entry = consent_proto::Entry::from_signed(&forged).expect("well formed");
    let typed = client
        .submit_batch(&[forged_entry.clone(), grant.clone()])
        .await
        .expect("batch");
    match &typed[..] {
        [Err(rejected), Ok(accepted)] => {
            assert_eq!(rejected.reason, RejectionReason::BadSignature);
            assert_eq!(rejected.code, Code::InvalidArgument);
            assert_eq!(accepted.status(), pb::SubmitStatus::Accepted);
        }
        other => panic!("{other:?}"),
    }
    let err = client
        .submit(&forged_entry, "the forged grant")
        .await
        .expect_err("forged");
    // The same seq now holds the grant: the forged copy conflicts with it, unproven.
    assert_eq!(err.rejection_reason(), RejectionReason::UnprovenConflict);
}

#[tokio::test]
async fn an_unknown_field_in_a_signed_entry_is_refused_not_dropped() {
    let mut s = setup().await;
    let grant = s.grant();
    let url = s.node.url();
    let before = s.node.status().await.entries;

    let request = WideRequest {
        entry: Some(wide(&grant, 7)),
    };
    let err = raw_call(&url, "/consent.v1.Ledger/Submit", request.encode_to_vec())
        .await
        .expect_err("unknown field");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(reasons::from_status(&err), RejectionReason::UnknownField);
    assert_eq!(consent_reason(&err), Some("unknown-field"));
    assert!(err.message().contains("field 3"), "{}", err.message());

    // In a batch, the whole call, naming the entry.
    let batch = WideBatch {
        entries: vec![wide(&grant, 0), wide(&grant, 1)],
    };
    let err = raw_call(
        &url,
        "/consent.v1.Ledger/SubmitBatch",
        batch.encode_to_vec(),
    )
    .await
    .expect_err("unknown field");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(reasons::from_status(&err), RejectionReason::UnknownField);
    assert!(err.message().starts_with("entry 1: "), "{}", err.message());
    assert_eq!(s.node.status().await.entries, before, "nothing stored");

    // Without it (a zero is not encoded), the same entry is accepted.
    let plain = WideRequest {
        entry: Some(wide(&grant, 0)),
    };
    let response = raw_call(&url, "/consent.v1.Ledger/Submit", plain.encode_to_vec())
        .await
        .expect("accepted");
    let response = pb::SubmitResponse::decode(response.as_slice()).expect("a response");
    assert_eq!(response.status(), pb::SubmitStatus::Accepted);
}

#[tokio::test]
async fn an_empty_batch_is_invalid() {
    let s = setup().await;
    let err = s
        .node
        .ledger()
        .await
        .submit_batch(pb::SubmitBatchRequest { entries: vec![] })
        .await
        .expect_err("empty");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(reasons::from_status(&err), RejectionReason::Unspecified);
}
